/*
 * fault.h - fault injection, compiled in only with -DJOBRUN_FAULT=ON
 * (test builds).  JOBRUN_FAULT="ACTION@POINT[:task=N][:attempt=N]" makes
 * a worker misbehave at a named point: kill (SIGKILL itself), segv,
 * stop (SIGSTOP itself), spin (loop forever), exit (exit 1), or hold
 * (die while holding the control lock, at flush); or, at done, send its
 * DONE as a corrupt LZ4 block (corrupt) or as one that announces more
 * than the size cap (bomb); or, at index, write a sorted run's index
 * backwards (corrupt; task is the partition); or, at order, write a
 * partition of a map output out of tag order, its first record after its
 * second, or at count, say it holds one record more than it does
 * (corrupt; task is the partition).  Points are named where
 * they are; "born"
 * is a new worker's first step after the fork server's fork, with the
 * worker's slot as task and its generation as attempt.  Release builds
 * carry no trace of it: the macros expand to nothing and to 0.
 */
#ifndef JR_FAULT_H
#define JR_FAULT_H

#include <stdint.h>

#ifdef JR_FAULT
void jr_fault_point(const char *point, uint64_t task, uint32_t attempt);
/* 1 when the rule names this action at this point for this task. */
int jr_fault_match(const char *action, const char *point, uint64_t task,
                   uint32_t attempt);
#define JR_FAULT_POINT(p, t, a) jr_fault_point((p), (t), (a))
#define JR_FAULT_MATCH(act, p, t, a) jr_fault_match((act), (p), (t), (a))
#else
#define JR_FAULT_POINT(p, t, a) ((void)0)
#define JR_FAULT_MATCH(act, p, t, a) 0
#endif

#endif /* JR_FAULT_H */
