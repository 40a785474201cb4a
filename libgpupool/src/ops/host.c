/*
 * host.c - the context's host model: discovered once per context
 * (discover/), from the sources the configuration and the driver name.
 */
#include "ops/ops.h"

#include <stdlib.h>
#include <string.h>

int gp_host_get(gp_ctx *ctx, const gp_host **out)
{
    bool use_libxl = false;
    int rc;

    if (ctx->host_loaded) {
        *out = &ctx->host;
        return GP_OK;
    }
    *out = NULL;
    gp_err_clear(ctx->err);
    /* Only a live host asks the driver (and through it libxl); a file
     * source never opens one. */
    if (!ctx->cfg.topology_file && !ctx->cfg.sysfs_root) {
        rc = gp_ctx_driver(ctx, NULL);
        if (rc)
            return rc;
        use_libxl = ctx->drv.libxl_topology;
    }
    rc = gp_discover_host(&ctx->cfg, use_libxl, &ctx->host_cache, &ctx->host, ctx->err);
    if (rc)
        return rc;
    ctx->host_loaded = true;
    *out = &ctx->host;
    return GP_OK;
}
