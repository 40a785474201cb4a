/*
 * cli.h - what the files of xe-gpupool share.
 *
 * xe-gpupool only parses arguments and prints: every fact and every rule is
 * libgpupool's.  Commands live in tables (struct xe_cmd_table); main.c knows
 * the core table (cmd_gpupool.c) and, through a weak reference, the optional
 * xe_cmds_xen table that a cmd_xen.c may define (see main.c).
 */
#ifndef XE_GPUPOOL_CLI_H
#define XE_GPUPOOL_CLI_H

#include <gpupool.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* ---- errors as xe prints them ------------------------------------------- */

/*
 * An error to print: the code name (a gp_error_name() or a usage code such
 * as UNKNOWN_COMMAND, MISSING_PARAMETER, UNKNOWN_PARAMETER, INVALID_ARGUMENT,
 * UNKNOWN_OPTION), the objects it names and a message.
 */
typedef struct {
    const char *code;            /* static string; NULL = no error */
    char *message;
    gp_error_param *params;
    size_t n_params;
} xe_error;

void xe_error_init(xe_error *e);
void xe_error_dispose(xe_error *e);
/* Set code and message (replacing any earlier error).  Returns 1, the exit
 * status of a failed command, so handlers can `return xe_error_set(...)`. */
int xe_error_set(xe_error *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Append one "key: value" parameter. */
void xe_error_param(xe_error *e, const char *key, const char *value);
/* Copy the context's last error.  Returns 1. */
int xe_error_from_info(xe_error *e, const gp_error_info *gi);
/* "CODE\nkey: value\n...\nmessage: text\n" */
void xe_error_print(FILE *f, const xe_error *e);

/* ---- record output -------------------------------------------------------- */

/* How a list of records is printed. */
typedef struct {
    const char *params;              /* "a,b", "all", or NULL for defaults */
    const char *const *defaults;     /* NULL-ended default fields; NULL = all */
    const char *const *rw_keys;      /* NULL-ended keys shown ( RW); NULL = none */
    bool minimal;                    /* first chosen field of each record, comma-joined */
} xe_print_opts;

/* Print one record in xe's format with the given fields (n keys; all of the
 * record's fields when keys is NULL): the first key left-justified, the
 * others right-justified to the widest "key ( RO)" plus 4, each line
 * "key ( RO): value", and a blank line after the record. */
void xe_print_record(FILE *f, const gp_record *r, const char *const *keys, size_t n,
                     const char *const *rw_keys);

/* Print records (all of them, in order) as opts says.  A params= field that
 * no record has is an UNKNOWN_PARAMETER error (nothing printed).  Returns 0
 * or 1 (err set). */
int xe_print_records(FILE *f, const gp_record *rs, size_t n, const xe_print_opts *opts,
                     xe_error *err);

/* Append s to f with xe's --minimal escaping (',' -> "\,", '\' -> "\\"). */
void xe_print_minimal_value(FILE *f, const char *s);

/* Keep the records whose fields equal every filter (key[i] = value[i]);
 * the others are disposed.  A filter key that the (first) record lacks is an
 * UNKNOWN_PARAMETER error.  Returns 0 or 1 (err set). */
int xe_records_filter(gp_record *rs, size_t *n, const char *const *keys,
                      const char *const *values, size_t n_filters, xe_error *err);

/* ---- arguments and calls -------------------------------------------------- */

typedef struct {
    char *key;
    char *value;
} xe_arg;

struct xe_cmd;

/* One invocation. */
typedef struct {
    const struct xe_cmd *cmd;
    xe_arg *args;                /* key=value arguments, in order */
    size_t n_args;
    char **words;                /* arguments without '=' (help's topic) */
    size_t n_words;
    bool minimal;
    gp_config cfg;
    gp_ctx *ctx;                 /* NULL for commands flagged XE_CMD_NO_CTX */
    FILE *out;
    xe_error err;
} xe_call;

/* The command accepts key=value field filters and params= (a list command);
 * keys outside required/optional are filters. */
#define XE_CMD_LIST    0x1u
/* The command checks its own keys (pool-param-set). */
#define XE_CMD_ANYKEYS 0x2u
/* No library context is needed (help, version). */
#define XE_CMD_NO_CTX  0x4u

struct xe_cmd {
    const char *name;
    const char *usage;              /* "pool= param-name=" style synopsis */
    const char *summary;            /* one line */
    /* NULL-ended; "a|b" means one of a or b is required. */
    const char *const *required;
    const char *const *optional;
    unsigned flags;
    int (*run)(xe_call *c);         /* 0 or 1 (c->err set) */
};

struct xe_cmd_table {
    const struct xe_cmd *cmds;
    size_t n;
};

/* What a command's run() returns, besides 0 and 1 (an error, c->err set):
 * it ran and printed its result, and that result is a failure the exit
 * status reports (host-validate: a check failed).  main() exits 2 for it,
 * printing no error. */
#define XE_EXIT_FAILED_CHECKS 2

/* The core commands (cmd_gpupool.c). */
extern const struct xe_cmd_table xe_cmds_core;
/* Commands a cmd_xen.c may add (weak: absent when no such file is built). */
extern const struct xe_cmd_table xe_cmds_xen __attribute__((weak));

/* Value of key (or NULL); the first of several keys separated by '|'. */
const char *xe_arg_get(const xe_call *c, const char *keys);
/* Integer argument in [min, max]; *out untouched and 0 returned when absent.
 * Returns 1 (INVALID_ARGUMENT set) for a malformed value. */
int xe_arg_long(xe_call *c, const char *key, long long min, long long max,
                long long *out);
/* True when key is one of the NULL-ended list. */
bool xe_key_in(const char *key, const char *const *list);

/* Fail with the context's last error.  Returns 1. */
int xe_fail_ctx(xe_call *c);

/* Print records for a list command: apply the call's filters (every key=value
 * that is not a declared key and not params=), then print with params= /
 * --minimal.  Returns 0 or 1. */
int xe_list_records(xe_call *c, gp_record *rs, size_t n, const char *const *defaults,
                    const char *const *rw_keys);

/* Every command of every table (for help and lookups): iterate with i from 0
 * until NULL. */
const struct xe_cmd *xe_cmd_at(size_t i);
const struct xe_cmd *xe_cmd_find(const char *name);

#endif /* XE_GPUPOOL_CLI_H */
