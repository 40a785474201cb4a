/*
 * plugin_proto.c - the XAPI plugin protocol of the public API (gpupool.h):
 * a host.call_plugin methodCall in, a XenAPIPlugin-shaped reply out, on the
 * XML-RPC codec of xmlrpc.c.
 */
#include "rpc/rpc.h"

#include <stdlib.h>
#include <string.h>

void gp_plugin_call_init(gp_plugin_call *c)
{
    memset(c, 0, sizeof(*c));
}

void gp_plugin_call_dispose(gp_plugin_call *c)
{
    if (!c)
        return;
    free(c->method);
    free(c->session);
    gp_strv_free(c->keys, c->n_args);
    gp_strv_free(c->values, c->n_args);
    gp_plugin_call_init(c);
}

int gp_plugin_call_parse(const char *buf, size_t len, gp_plugin_call *out, gp_error_info *err)
{
    gp_xr_value params;
    const gp_xr_value *st;
    int rc;

    gp_plugin_call_init(out);
    gp_xr_value_init(&params);
    rc = gp_xr_parse_call(buf, len, &out->method, &params, err);
    if (rc)
        goto out;
    if (params.n < 1 || params.n > 2 || params.items[0].type != GP_XR_STRING ||
        (params.n == 2 && params.items[1].type != GP_XR_STRUCT)) {
        rc = gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                        "expected the params (session ref, struct of string arguments)");
        gp_err_param(err, "argument", "methodCall");
        goto out;
    }
    out->session = gp_strdup(params.items[0].str ? params.items[0].str : "");
    st = params.n == 2 ? &params.items[1] : NULL;
    if (st && st->n) {
        out->keys = calloc(st->n + 1, sizeof(*out->keys));
        out->values = calloc(st->n + 1, sizeof(*out->values));
    }
    if (!out->session || (st && st->n && (!out->keys || !out->values))) {
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; st && i < st->n; i++) {
        if (st->items[i].type != GP_XR_STRING) {
            rc = gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "every argument must be a string");
            gp_err_param(err, "argument", "%s", st->keys[i]);
            goto out;
        }
        out->keys[i] = gp_strdup(st->keys[i]);
        out->values[i] = gp_strdup(st->items[i].str ? st->items[i].str : "");
        out->n_args = i + 1;
        if (!out->keys[i] || !out->values[i]) {
            rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
out:
    gp_xr_value_dispose(&params);
    if (rc)
        gp_plugin_call_dispose(out);
    return rc;
}

int gp_plugin_reply_success(const char *value, char **out, size_t *len)
{
    return gp_xr_build_plugin_success(value, out, len);
}

int gp_plugin_reply_failure(const char *const *desc, size_t n, char **out, size_t *len)
{
    return gp_xr_build_plugin_failure(desc, n, out, len);
}
