/*
 * driver.c - the methods table of the hypervisor drivers, in the style of
 * pciutils' lib/ (one entry per backend, one file per backend), and the
 * choice of one.
 *
 * cfg.driver names one (front ends have already folded GPUPOOL_DRIVER into
 * cfg); NULL means auto: the first entry whose probe answers, in the order
 * xapi (xapi's socket is there: XCP-ng), xen (built with libxl and a
 * hypervisor answers), sim.
 */
#include "drivers/drivers.h"
#include "rpc/rpc.h"
#ifdef GPUPOOL_WITH_XEN
#include "xenlight/xenlight.h"
#endif

#include <stdlib.h>
#include <string.h>

#ifdef GPUPOOL_WITH_XEN
static bool xen_probe(const gp_config *cfg)
{
    (void)cfg;
    return gp_xen_present();
}
#define XEN_OPS (&gp_driver_xen)
#define libxl_answers xen_probe
#else
#define libxl_answers(cfg) false
#define xen_probe NULL
#define XEN_OPS NULL
#endif

const gp_driver_entry gp_drivers[GP_DRIVER_LAST] = {
    [GP_DRIVER_SIM] = { GP_DRIVER_SIM, NULL, &gp_driver_sim, true, false, false },
    [GP_DRIVER_XEN] = { GP_DRIVER_XEN, xen_probe, XEN_OPS, false, true, true },
    [GP_DRIVER_XAPI] = { GP_DRIVER_XAPI, gp_xapi_present, &gp_driver_xapi, false, true, false },
};

/* Probe order of the automatic choice: the last is the fallback. */
static const gp_driver_kind probe_order[] = { GP_DRIVER_XAPI, GP_DRIVER_XEN, GP_DRIVER_SIM };

static const gp_driver_entry *choose(gp_drv *d)
{
    const char *name = d->cfg->driver;
    int kind;

    if (name) {
        kind = gp_driver_kind_from_string(name);
        if (kind < 0) {
            gp_enum_invalid(d->err, "driver", "the driver", gp_driver_kind_names,
                            gp_driver_kind_count, name);
            return NULL;
        }
        if (!gp_drivers[kind].ops) {
            gp_err_set(d->err, GP_ERR_NOT_SUPPORTED,
                       "driver '%s' is not available: libgpupool was built without it", name);
            gp_err_param(d->err, "driver", "%s", name);
            return NULL;
        }
        return &gp_drivers[kind];
    }
    for (size_t i = 0; i < GP_ARRAY_SIZE(probe_order); i++) {
        const gp_driver_entry *e = &gp_drivers[probe_order[i]];
        if (e->ops && (!e->probe || e->probe(d->cfg)))
            return e;
    }
    return &gp_drivers[GP_DRIVER_SIM];
}

int gp_driver_open(gp_drv *d, const gp_driver_entry **entry)
{
    const gp_driver_entry *e = choose(d);
    int rc;

    *entry = NULL;
    if (!e)
        return d->err->code;
    d->ops = e->ops;
    d->priv = NULL;
    if (e->ops->open) {
        rc = e->ops->open(d);
        if (rc) {
            d->ops = NULL;
            return rc;
        }
    }
    /* The xen driver answers for libxl itself (tests replace libxl). */
    d->libxl_topology = e->topology_from_libxl &&
                        (e->kind == GP_DRIVER_XEN || libxl_answers(d->cfg));
    *entry = e;
    return GP_OK;
}

void gp_driver_close(gp_drv *d)
{
    if (d->ops && d->ops->close)
        d->ops->close(d);
    d->ops = NULL;
    d->priv = NULL;
}
