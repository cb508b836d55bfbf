/*
 * jobs.h - the built-in jobs, each written against the public API only
 * (jobrun.h): no back doors.
 */
#ifndef JR_JOBS_H
#define JR_JOBS_H

#include "jobrun.h"

extern const jr_job jr_job_wordcount; /* jobs/wordcount */
extern const jr_job jr_job_factor;    /* jobs/factor */

#endif /* JR_JOBS_H */
