/*
 * fuzz_methodcall.c - libFuzzer target for the XML-RPC methodCall parser
 * (gp_xr_parse_call, what the plugin runs on argv[1]) and, for inputs that
 * parse, the reply builder on everything the parse produced.
 * Built and run by `make fuzz` (xapi-plugin/fuzz.mk), never by `make check`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const gp_xr_value *v, const char **strs, size_t *n, size_t max)
{
    if (v->type == GP_XR_STRING && *n < max)
        strs[(*n)++] = v->str;
    for (size_t i = 0; i < v->n; i++) {
        if (v->type == GP_XR_STRUCT && *n < max)
            strs[(*n)++] = v->keys[i];
        walk(&v->items[i], strs, n, max);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *method = NULL, *out = NULL;
    gp_xr_value params;
    gp_error_info err;
    size_t len;

    gp_error_info_init(&err);
    if (gp_xr_parse_call((const char *)data, size, &method, &params, &err) == GP_OK) {
        const char *strs[64];
        size_t n = 0;
        strs[n++] = method;
        walk(&params, strs, &n, 64);
        /* Whatever came in must go back out as a well-formed reply. */
        if (gp_xr_build_plugin_failure(strs, n, &out, &len) == GP_OK) {
            gp_xr_value back;
            bool fault;
            if (gp_xr_parse_response(out, len, &back, &fault, NULL) != GP_OK)
                abort();
            gp_xr_value_dispose(&back);
        }
        free(out);
        out = NULL;
        if (gp_xr_build_response(&params, &out, &len) == GP_OK) {
            gp_xr_value back;
            bool fault;
            if (gp_xr_parse_response(out, len, &back, &fault, NULL) != GP_OK)
                abort();
            gp_xr_value_dispose(&back);
        }
        free(out);
        free(method);
        gp_xr_value_dispose(&params);
    }
    gp_error_info_dispose(&err);
    return 0;
}
