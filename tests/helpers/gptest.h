/*
 * gptest.h - cmocka helpers shared by the library tests: a context built
 * from a few config fields, a scratch database with a context on it, "the
 * database is unchanged" checks and error-code / error-param checks.
 *
 * Header-only (static inline) on purpose: every .c file of tests/helpers is
 * also linked into the bench programs, which do not link cmocka, so helpers
 * that assert must live where only the tests compile them.  The header pulls
 * in <cmocka.h> and its prerequisites itself.
 */
#ifndef GPUPOOL_GPTEST_H
#define GPUPOOL_GPTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpupool.h"
#include "testutil.h"

/* The config fields a test context is built from; NULL / 0 leaves the
 * library default (gp_config_init).  Strings are copied. */
typedef struct {
    const char *db;         /* db_path */
    const char *driver;     /* "sim", "xen", "xapi"; NULL = auto */
    const char *topology;   /* topology_file: hwloc XML or GP_TOPOLOGY_EMBEDDED */
    const char *sysfs_root; /* captured sysfs tree */
    const char *pci_dump;   /* lspci -xxx dump for libpci's dump method */
    const char *classes;    /* GPU class filter, gp_config_set_classes() syntax */
    const char *caller;     /* audit caller */
    unsigned busy_ms;       /* busy_timeout_ms */
} gt_ctx_spec;

/* A context from *s; asserts gp_config_set_classes() and gp_ctx_alloc()
 * succeed.  Caller frees with gp_ctx_free(). */
static inline gp_ctx *gt_ctx_new(const gt_ctx_spec *s)
{
    gp_config cfg;
    gp_ctx *ctx = NULL;
    gp_config_init(&cfg);
    cfg.db_path = s->db ? strdup(s->db) : NULL;
    cfg.driver = s->driver ? strdup(s->driver) : NULL;
    cfg.topology_file = s->topology ? strdup(s->topology) : NULL;
    cfg.sysfs_root = s->sysfs_root ? strdup(s->sysfs_root) : NULL;
    cfg.pci_dump = s->pci_dump ? strdup(s->pci_dump) : NULL;
    cfg.caller = s->caller ? strdup(s->caller) : NULL;
    cfg.busy_timeout_ms = s->busy_ms;
    if (s->classes)
        assert_int_equal(gp_config_set_classes(&cfg, s->classes, NULL), GP_OK);
    assert_int_equal(gp_ctx_alloc(&ctx, &cfg, NULL), GP_OK);
    gp_config_dispose(&cfg);
    return ctx;
}

/* A context on database db with the given driver (NULL = auto) on the
 * embedded dual-socket 8-GPU host; caller and busy_ms as in gt_ctx_spec. */
static inline gp_ctx *gt_ctx_embedded(const char *db, const char *driver, const char *caller,
                                      unsigned busy_ms)
{
    return gt_ctx_new(&(gt_ctx_spec){ .db = db, .driver = driver,
                                      .topology = GP_TOPOLOGY_EMBEDDED, .caller = caller,
                                      .busy_ms = busy_ms });
}

/* A scratch directory, a state database in it and a context on that. */
typedef struct {
    char *dir;    /* tests/tmp/<tag>, fresh (tu_scratch_dir) */
    char *db;     /* <dir>/<db_rel> */
    gp_ctx *ctx;  /* on db */
    char *dump;   /* tu_db_dump() taken by gt_snap(), NULL before */
} gt_env;

/* Fresh scratch dir tests/tmp/<tag> and a context (spec) on <dir>/<db_rel>:
 * spec->db is replaced by that path.  Free with gt_env_free(). */
static inline gt_env *gt_env_new(const char *tag, const char *db_rel, gt_ctx_spec spec)
{
    gt_env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    e->dir = tu_scratch_dir(tag);
    assert_non_null(e->dir);
    assert_true(asprintf(&e->db, "%s/%s", e->dir, db_rel) > 0);
    spec.db = e->db;
    e->ctx = gt_ctx_new(&spec);
    return e;
}

/* gt_env_new() with the sim driver on the embedded host, db "state.db". */
static inline gt_env *gt_env_sim(const char *tag, const char *caller, unsigned busy_ms)
{
    return gt_env_new(tag, "state.db", (gt_ctx_spec){ .driver = "sim",
                                                       .topology = GP_TOPOLOGY_EMBEDDED,
                                                       .caller = caller, .busy_ms = busy_ms });
}

static inline void gt_env_free(gt_env *e)
{
    if (!e)
        return;
    gp_ctx_free(e->ctx);
    free(e->dump);
    free(e->db);
    free(e->dir);
    free(e);
}

/* cmocka teardown for a *state holding a gt_env. */
static inline int gt_env_teardown(void **state)
{
    gt_env_free(*state);
    return 0;
}

/* Remember the database (tu_db_dump), to check a refusal changed nothing. */
static inline void gt_snap(gt_env *e)
{
    free(e->dump);
    e->dump = tu_db_dump(e->db);
}

/* Assert the database is what gt_snap() saw, every table and row. */
static inline void gt_assert_unchanged(const gt_env *e)
{
    char *now = tu_db_dump(e->db);
    assert_non_null(e->dump);
    assert_string_equal(e->dump, now);
    free(now);
}

/* Value of param key of the env context's last error; fails the test when
 * absent. */
static inline const char *gt_err_param(const gt_env *env, const char *key)
{
    const gp_error_info *e = gp_ctx_last_error(env->ctx);
    for (size_t i = 0; i < e->n_params; i++)
        if (!strcmp(e->params[i].key, key))
            return e->params[i].value;
    fail_msg("no param %s in error %s: %s", key, gp_error_name(e->code), e->message);
    return NULL;
}

/* Assert a call on env->ctx returned rc == code, that the context's last
 * error carries code and a non-empty message, and, when param is given, that
 * the error names param (with this value when value is not NULL). */
static inline void gt_assert_err(const gt_env *env, int rc, int code, const char *param,
                                 const char *value)
{
    const gp_error_info *e = gp_ctx_last_error(env->ctx);
    assert_int_equal(rc, code);
    assert_int_equal(e->code, code);
    assert_non_null(e->message);
    assert_true(e->message[0] != '\0');
    if (!param)
        return;
    for (size_t i = 0; i < e->n_params; i++)
        if (!strcmp(e->params[i].key, param)) {
            if (value)
                assert_string_equal(e->params[i].value, value);
            return;
        }
    fail_msg("error %s has no param %s (message: %s)", gp_error_name(code), param, e->message);
}

/* Skip the running test for want of a real-machine fixture, saying why on
 * stderr first: rel is the fixture's path under the fixtures directory
 * (tu_fixtures_dir).  Absent directory, absent file, or a tarball that could
 * not be unpacked each get their own line. */
static inline void gt_skip_fixture(const char *rel)
{
    const char *d = tu_fixtures_dir();
    if (!d)
        fprintf(stderr, "skipped: ../shared/fixtures/%s absent (no fixtures directory;"
                " set GPUPOOL_FIXTURES)\n", rel);
    else if (!tu_fixture(rel))
        fprintf(stderr, "skipped: %s/%s absent\n", d, rel);
    else
        fprintf(stderr, "skipped: %s/%s could not be unpacked into tests/tmp/fixtures\n", d, rel);
    skip();
}

/* Write text to <fresh tests/tmp/<tag>>/<name> (tu_scratch_dir, so an
 * earlier directory of that tag is replaced); asserts the file could be
 * written.  Returns the malloc'ed path. */
static inline char *gt_write_scratch(const char *tag, const char *name, const char *text)
{
    char *dir = tu_scratch_dir(tag);
    char *path = NULL;
    assert_non_null(dir);
    assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    free(dir);
    return path;
}

#endif
