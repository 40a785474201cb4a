/*
 * context.c - gp_ctx lifetime: configuration, error, state database, host
 * model cache and driver, each opened on first use.
 */
#include "ops/ops.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The context's host model, discovered once (discover/) from the sources
 * the configuration names; a live host asks the driver whether libxl
 * describes it. */
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

/* The driver's view of the host model: the context's, loaded on first use. */
static int drv_host_get(gp_drv *d, const gp_host **out)
{
    gp_ctx *ctx = (gp_ctx *)((char *)d - offsetof(gp_ctx, drv));
    return gp_host_get(ctx, out);
}

int gp_ctx_alloc(gp_ctx **out, const gp_config *cfg, gp_error_info *err)
{
    gp_ctx *ctx;

    *out = NULL;
    if (cfg && cfg->driver && gp_driver_check(cfg->driver, err))
        return GP_ERR_INVALID_ARGUMENT;
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    if (gp_config_copy(&ctx->cfg, cfg)) {
        free(ctx);
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    }
    gp_error_info_init(&ctx->err_info);
    ctx->err = &ctx->err_info;
    gp_store_init(&ctx->store, &ctx->cfg, ctx->err);
    gp_host_init(&ctx->host);
    ctx->host_cache.db_path = ctx->cfg.db_path;
    ctx->drv.cfg = &ctx->cfg;
    ctx->drv.err = ctx->err;
    ctx->drv.store = &ctx->store;
    ctx->drv.host_get = drv_host_get;
    *out = ctx;
    return GP_OK;
}

void gp_ctx_free(gp_ctx *ctx)
{
    if (!ctx)
        return;
    gp_driver_close(&ctx->drv);
    gp_store_dispose(&ctx->store);
    gp_host_cache_close(&ctx->host_cache);
    gp_host_dispose(&ctx->host);
    gp_error_info_dispose(&ctx->err_info);
    gp_config_dispose(&ctx->cfg);
    free(ctx->host_name);
    free(ctx);
}

const gp_error_info *gp_ctx_last_error(const gp_ctx *ctx)
{
    return ctx->err;
}

const char *gp_ctx_driver_name(gp_ctx *ctx)
{
    const gp_driver_entry *e;
    if (gp_ctx_driver(ctx, &e))
        return NULL;
    return e->name;
}

int gp_ctx_driver_entry(gp_ctx *ctx, const gp_driver_entry **entry)
{
    if (ctx->drv_entry) {
        *entry = ctx->drv_entry;
        return GP_OK;
    }
    return gp_driver_choose(&ctx->drv, entry);
}

int gp_ctx_driver(gp_ctx *ctx, const gp_driver_entry **entry)
{
    int rc = GP_OK;
    if (!ctx->drv_entry)
        rc = gp_driver_open(&ctx->drv, &ctx->drv_entry);
    if (entry)
        *entry = ctx->drv_entry;
    return rc;
}

int gp_ctx_drv_ops(gp_ctx *ctx, const gp_driver_ops **ops)
{
    int rc = gp_ctx_driver(ctx, NULL);
    *ops = rc ? NULL : ctx->drv.ops;
    return rc;
}

