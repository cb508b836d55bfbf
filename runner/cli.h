/*
 * cli.h - private to the jobrun command (runner/cli*.c), which uses only
 * the public API in <jobrun.h>: what the per-job command files share.
 */
#ifndef JR_CLI_H
#define JR_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <jobrun.h>

/* Exit statuses, as documented in the README and the spec. */
#define EXIT_INPUT 1    /* some input could not be read or parsed */
#define EXIT_USAGE 2
#define EXIT_FAILED 3   /* a task used up its attempts, resources ran out */
#define EXIT_INTERNAL 4

typedef struct cli {
    const char *job;      /* "wordcount" */
    jr_opts opts;
    jr_run_opts ro;
    int progress;         /* -1: auto (a terminal), 0 off, 1 on */
    int stats;
    jr_pool *pool;
    const char *tmp_path; /* -o: the temporary file being written */
    char *out_target;     /* -o: what it replaces, links followed; owned */
    unsigned out_mode;    /* -o: the mode to give it (umask applied) */
    int stdin_closed;     /* fd 0 was closed at start (now /dev/null) */
    int stdout_closed;    /* fd 1 likewise */
    /* Progress bar state. */
    uint64_t t0_ms;
    int bar_shown;
} cli;

/* Start the pool (honouring a signal that came first). @return 0 or an
 * exit status, with the message printed. */
int cli_pool(cli *c);
/* Print "jobrun: JOB: ..." for a failed library call and return the
 * exit status that goes with rc. */
int cli_fail(cli *c, int rc);
/* The exit status for rc (0, 1, 3, 4, or 128+signal). */
int cli_status(int rc);
/* The standard on_diag / on_progress callbacks (ctx is the cli). */
void cli_diag(void *ctx, int kind, const char *name, uint64_t line,
              const char *msg);
void cli_progress(void *ctx, uint64_t done, uint64_t total);
void cli_progress_end(cli *c);
/* Parse "123", "4k", "8M", "1G".  @return 0 or -1. */
int cli_size(const char *s, uint64_t *out);
int cli_uint(const char *s, uint64_t *out);

/* "-" when standard input was closed at start: say so (exit 1 later).
 * @return 1 if the path is that, 0 otherwise. */
int cli_closed_stdin(cli *c, const char *path);
/* Standard output was closed at start: say so.  @return 1 if it was. */
int cli_closed_stdout(cli *c);
/* The signal that asked us to stop (SIGINT, SIGTERM, SIGHUP), or 0. */
int cli_signal(void);

/* Output: stdout; for -o FILE, a temporary file renamed over FILE at the
 * end (over the file FILE links to, when it is a link), or FILE itself
 * when it is a device or a FIFO, which a rename would replace. */
FILE *cli_out_open(cli *c, const char *path);
/* Close; rename into place when ok, else remove.  @return 0 or -1. */
int cli_out_close(cli *c, FILE *f, const char *path, int ok);

/* Write a key-count result to f as TSV lines or a JSON array: the first
 * top records (0: all), merged and formatted by up to nthreads threads.
 * *words: the sum of the counts written, or of every count when all is
 * set.  @return 0, or -1 on a write error or a signal. */
int cli_write_result(jr_result *res, FILE *f, int json, uint64_t top, int all,
                     unsigned nthreads, uint64_t *words);

int cli_wordcount(cli *c, int argc, char **argv);
int cli_factor(cli *c, int argc, char **argv);

#endif /* JR_CLI_H */
