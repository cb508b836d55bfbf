/*
 * api.c - the public entry points that run work: jr_pool_run(),
 * jr_pool_map(), jr_pool_stats(), and the table of built-in jobs.
 */
#include <string.h>

#include "jobs/jobs.h"
#include "runner/runner.h"

JR_API int jr_pool_run(jr_pool *pool, const jr_job *job, const jr_input *in,
                       const jr_run_opts *ro, jr_result **out)
{
    if (out)
        *out = NULL;
    if (!pool || !job || !job->map || !in || job->lookback > 64 ||
        (job->order != JR_ORDER_CMP && job->order != JR_ORDER_VALUE_DESC) ||
        (ro && ro->params_len > (64u << 10)))
        return JR_EINVAL;
    return jr_engine_run(pool, job, NULL, in, NULL, 0, 0, NULL, ro, out);
}

JR_API int jr_pool_map(jr_pool *pool, jr_map_one_fn fn, const jr_blob *in,
                       size_t n, size_t batch, jr_blob *out)
{
    if (!pool || !fn || (n && (!in || !out)))
        return JR_EINVAL;
    for (size_t i = 0; i < n; i++)
        out[i] = (jr_blob){NULL, 0};
    if (n == 0)
        return 0;
    if (batch == 0) {
        /* Enough tasks for balance (16 per worker), few enough messages
         * that tiny items do not drown in per-message costs. */
        batch = n / (16 * (size_t)pool->nworkers);
        batch = batch < 1 ? 1 : batch > 4096 ? 4096 : batch;
    }
    int rc = jr_engine_run(pool, NULL, fn, NULL, in, n, batch, out, NULL,
                           NULL);
    if (rc < 0)
        for (size_t i = 0; i < n; i++) {
            jr_free(out[i].data);
            out[i] = (jr_blob){NULL, 0};
        }
    return rc;
}

JR_API void jr_pool_stats(const jr_pool *pool, jr_stats *st)
{
    *st = pool->stats;
}

/* Built-in jobs: data, like czmq's all_tests[]. */
static const jr_job *const builtins[] = {
    &jr_job_wordcount,
    &jr_job_factor,
};

JR_API const jr_job *jr_job_find(const char *name)
{
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        if (strcmp(builtins[i]->name, name) == 0)
            return builtins[i];
    return NULL;
}
