/*
 * testutil.h - helpers shared by the cmocka tests (not part of the library).
 */
#ifndef GPUPOOL_TESTUTIL_H
#define GPUPOOL_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Directory of the real-machine fixtures: $GPUPOOL_FIXTURES, else
 * ../shared/fixtures relative to the repository root (the tests run from the
 * root).  NULL when absent: tests then call skip() with a clear message. */
const char *tu_fixtures_dir(void);

/* "<fixtures>/<rel>" if it exists, else NULL (static buffer per call: copy it). */
char *tu_fixture(const char *rel);

/* Make a fresh scratch directory under tests/tmp/ named after tag; returns a
 * malloc'ed absolute path. */
char *tu_scratch_dir(const char *tag);

/* Unpack a fixture tarball (relative to the fixtures dir) once into
 * tests/tmp/fixtures/ and return the malloc'ed path of its top directory
 * (e.g. ".../32intel64-2p8co2t+8ve"), or NULL if the fixture is absent. */
char *tu_unpack_fixture(const char *rel_tarball);

/* Result of running a command. */
typedef struct {
    int status;      /* exit status, or 128+signal */
    char *out;       /* whole stdout, NUL-terminated */
    char *err;       /* whole stderr */
} tu_run_result;

/* Run argv (argv[0] a path) with extra environment entries "K=V" (NULL-ended,
 * may be NULL) added to the current environment; stdin is /dev/null. */
int tu_run(tu_run_result *r, const char *const *argv, const char *const *env);
/* Run a shell command line with /bin/sh -c. */
int tu_sh(tu_run_result *r, const char *cmdline);
void tu_run_free(tu_run_result *r);

/* Whole file into a malloc'ed string, NULL if unreadable. */
char *tu_slurp(const char *path);
/* sqlite3 .dump-like stable text of a database: its schema (sqlite_master)
 * and every table, rows ordered by all columns (for "a refusal changes
 * nothing" checks).  Caller frees. */
char *tu_db_dump(const char *db_path);

#endif
