/*
 * driver.c - choose and open the hypervisor driver of a context.
 *
 * cfg.driver "sim", "xen" or "xapi" selects one (front ends have already folded
 * GPUPOOL_DRIVER into cfg); NULL means auto: "xapi" when xapi's socket is
 * there (XCP-ng), else "xen" when the library was
 * built with libxl and a hypervisor answers, else "sim".  The choice is made
 * once per context.
 */
#include "internal.h"

#include <string.h>

int gp_driver_get(gp_ctx *ctx, const gp_driver_ops **out)
{
    const gp_driver_ops *d = NULL;
    const char *name = ctx->cfg.driver;
    int rc;

    if (ctx->drv) {
        *out = ctx->drv;
        return GP_OK;
    }
    *out = NULL;
    if (!name && gp_xapi_present(&ctx->cfg)) {
        d = &gp_driver_xapi;  /* XCP-ng: xapi owns the VMs */
    } else if (!name) {
#ifdef GPUPOOL_WITH_XEN
        d = gp_xen_present() ? &gp_driver_xen : &gp_driver_sim;
#else
        d = &gp_driver_sim;
#endif
    } else if (!strcmp(name, "sim")) {
        d = &gp_driver_sim;
    } else if (!strcmp(name, "xapi")) {
        d = &gp_driver_xapi;
    } else if (!strcmp(name, "xen")) {
#ifdef GPUPOOL_WITH_XEN
        d = &gp_driver_xen;
#else
        rc = GP_ERR(ctx, GP_ERR_NOT_SUPPORTED,
                    "driver 'xen' is not available: libgpupool was built without libxl");
        GP_PARAM(ctx, "driver", "%s", name);
        return rc;
#endif
    } else {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "unknown driver '%s' (sim, xen or xapi)", name);
        GP_PARAM(ctx, "driver", "%s", name);
        return rc;
    }
    if (d->open) {
        rc = d->open(ctx);
        if (rc)
            return rc;
    }
    ctx->drv = d;
    *out = d;
    return GP_OK;
}
