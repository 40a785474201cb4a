/*
 * ops/ops.h - the operations of the public API (gpupool.h) and the context
 * they share: pools (pool.c), assignments (assign.c), VMs (vm.c), records
 * (records.c), the audit log (audit.c), plain Xen operations (xen_ops.c)
 * and XCP-ng operations (xapi_ops.c).  The top layer: it may call every
 * folder below, nothing calls it.  Not installed.
 */
#ifndef GPUPOOL_OPS_H
#define GPUPOOL_OPS_H

#include "core/core.h"
#include "store/store.h"
#include "place/place.h"
#include "discover/discover.h"
#include "drivers/drivers.h"

struct gp_ctx {
    gp_config cfg;
    gp_error_info err_info;
    gp_error_info *err;         /* &err_info: GP_ERR(ctx, ...) */
    gp_store store;             /* the state database, opened on first use */
    gp_host host;
    bool host_loaded;
    gp_host_cache host_cache;   /* "<db>.hostcache", opened on first use */
    gp_drv drv;                 /* the driver, opened on first use */
    const gp_driver_entry *drv_entry;  /* NULL until opened */
};

/* The context's driver, chosen and opened on first use; *entry (may be
 * NULL) receives its methods-table entry.  Errors: those of
 * gp_driver_open(). */
GP_HIDDEN int gp_ctx_driver(gp_ctx *ctx, const gp_driver_entry **entry);
/* The same, returning the driver's ops (call them with &ctx->drv). */
GP_HIDDEN int gp_ctx_drv_ops(gp_ctx *ctx, const gp_driver_ops **ops);
/* GP_OK when name is in the drivers' table, else GP_ERR_INVALID_ARGUMENT
 * "unknown driver 'x' (xapi, xen, sim or auto)" with param driver. */
GP_HIDDEN int gp_driver_check(const char *name, gp_error_info *err);
/* The name of the context's driver (after gp_ctx_driver succeeded). */
#define GP_CTX_DRIVER_NAME(ctx) ((ctx)->drv_entry->name)

/* VMs through the driver, with what gpupool's assignments know of halted
 * VMs the driver knows only by uuid (halted_by_uuid: plain Xen); the
 * public gp_vm_list / gp_vm_get without clearing ctx->err first.  Errors:
 * the driver's, GP_ERR_DB*, GP_ERR_NOMEM. */
GP_HIDDEN int gp_ctx_vm_list(gp_ctx *ctx, gp_vm **out, size_t *n_out);
GP_HIDDEN int gp_ctx_vm_get(gp_ctx *ctx, const char *vm, gp_vm *out);

/* memory_node_certainty / _basis of an assignment from its driver. */
GP_HIDDEN void gp_assignment_memory_certainty(const gp_driver_ops *drv, gp_assignment *a);

#endif /* GPUPOOL_OPS_H */
