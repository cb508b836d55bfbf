/*
 * fault.h - fault injection, compiled in only with -DJOBRUN_FAULT=ON
 * (test builds).  JOBRUN_FAULT="ACTION@POINT[:task=N][:attempt=N]" makes
 * a worker misbehave at a named point: kill (SIGKILL itself), segv,
 * stop (SIGSTOP itself), spin (loop forever), exit (exit 1), or hold
 * (die while holding the control lock, at flush).  Release builds carry
 * no trace of it: the macro expands to nothing.
 */
#ifndef JR_FAULT_H
#define JR_FAULT_H

#include <stdint.h>

#ifdef JR_FAULT
void jr_fault_point(const char *point, uint64_t task, uint32_t attempt);
#define JR_FAULT_POINT(p, t, a) jr_fault_point((p), (t), (a))
#else
#define JR_FAULT_POINT(p, t, a) ((void)0)
#endif

#endif /* JR_FAULT_H */
