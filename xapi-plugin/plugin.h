/*
 * plugin.h - the gpupool XAPI plugin's parts (main.c: the XenAPIPlugin
 * protocol, time limit and logging; functions.c: the functions and their
 * JSON results).
 */
#ifndef GPUPOOL_PLUGIN_H
#define GPUPOOL_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "gpupool.h"

/* The string arguments of a call (param 2 of the methodCall), borrowed. */
typedef struct {
    const char *const *keys;
    const char *const *values;
    size_t n;
} plugin_args;

/* Outcome of a function: on success *result is a JSON object (caller puts);
 * on failure the code and description to send back. */
typedef struct {
    char *code;          /* "GPUPOOL_VM_NOT_HALTED", "UNKNOWN_XENAPI_PLUGIN_FUNCTION" */
    char **params;       /* positional parameters, then the message last */
    size_t n_params;
} plugin_failure;

void plugin_failure_init(plugin_failure *f);
void plugin_failure_dispose(plugin_failure *f);
/* Fill f from a library error: "GPUPOOL_<NAME>", the values of its params in
 * order, then its message. */
int plugin_failure_from_error(plugin_failure *f, const gp_error_info *e);
/* Fill f with code and one or more strings (NULL-terminated). */
int plugin_failure_set(plugin_failure *f, const char *code, ...);

/* Run function fn with args on ctx.  Returns 0 with *result set, or -1 with
 * f filled (unknown function, bad arguments, library errors).  *mutating
 * tells whether fn changes state (for the log). */
int plugin_dispatch(gp_ctx *ctx, const char *fn, const plugin_args *args,
                    json_object **result, plugin_failure *f, bool *mutating);

/* Names of the functions, NULL-terminated (docs and tests). */
extern const char *const plugin_function_names[];

#endif
