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

#include <pthread.h>
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

/* A new driver: its file in drivers/ and one line here (its ops declared
 * here too when nothing else names them). */
const gp_driver_entry gp_drivers[] = {
    /* name    probe            ops              transactional libxl  by uuid journaled */
    { "xapi", gp_xapi_present, &gp_driver_xapi, false,        true,  false,  true },
    { "xen",  xen_probe,       XEN_OPS,         false,        true,  true,   false },
    { "sim",  NULL,            &gp_driver_sim,  true,         false, false,  false },
};
const size_t gp_drivers_count = GP_ARRAY_SIZE(gp_drivers);

const gp_driver_entry *gp_driver_find(const char *name)
{
    for (size_t i = 0; name && i < gp_drivers_count; i++)
        if (!strcmp(name, gp_drivers[i].name))
            return &gp_drivers[i];
    return NULL;
}

static const char *driver_names[GP_ARRAY_SIZE(gp_drivers) + 1];
static pthread_once_t driver_names_once = PTHREAD_ONCE_INIT;

static void driver_names_fill(void)
{
    for (size_t i = 0; i < gp_drivers_count; i++)
        driver_names[i] = gp_drivers[i].name;
}

const char *const *gp_driver_names(size_t *n)
{
    pthread_once(&driver_names_once, driver_names_fill);
    *n = gp_drivers_count;
    return driver_names;
}

static const gp_driver_entry *choose(gp_drv *d)
{
    const char *name = d->cfg->driver;
    const gp_driver_entry *e;

    if (name) {
        size_t n;
        const char *const *names = gp_driver_names(&n);
        e = gp_driver_find(name);
        if (!e) {
            gp_enum_invalid(d->err, "driver", "the driver", names, n, name);
            return NULL;
        }
        if (!e->ops) {
            gp_err_set(d->err, GP_ERR_NOT_SUPPORTED,
                       "driver '%s' is not available: libgpupool was built without it", name);
            gp_err_param(d->err, "driver", "%s", name);
            return NULL;
        }
        return e;
    }
    for (size_t i = 0; i < gp_drivers_count; i++) {
        e = &gp_drivers[i];
        if (e->ops && (!e->probe || e->probe(d->cfg)))
            return e;
    }
    return &gp_drivers[gp_drivers_count - 1];
}

int gp_driver_choose(gp_drv *d, const gp_driver_entry **entry)
{
    *entry = choose(d);
    return *entry ? GP_OK : d->err->code;
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
                        (e->ops == XEN_OPS || libxl_answers(d->cfg));
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
