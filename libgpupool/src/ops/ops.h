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
    char *host_name;            /* XCP-ng: this host's name-label once the pool-wide
                                   view was read (cluster.c); reasons name it */
};

/* The context's driver, chosen and opened on first use; *entry (may be
 * NULL) receives its methods-table entry.  Errors: those of
 * gp_driver_open(). */
GP_HIDDEN int gp_ctx_driver(gp_ctx *ctx, const gp_driver_entry **entry);
/* Which driver the context uses, without opening it when it is not open
 * yet.  Errors: as gp_ctx_driver()'s choice. */
GP_HIDDEN int gp_ctx_driver_entry(gp_ctx *ctx, const gp_driver_entry **entry);
/* gp_ctx_driver(), returning the driver's ops (call them with &ctx->drv). */
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

/* The assignment rows of vm_uuid (NULL: every row), read in the caller's
 * transaction or none; *out caller frees.  Errors: GP_ERR_DB*, GP_ERR_NOMEM. */
GP_HIDDEN int gp_assignments_read(gp_ctx *ctx, const char *vm_uuid, gp_assignment **out,
                                  size_t *n_out);
/* Insert the row of a (its vm_uuid, pci_id, pool_uuid, node, pCPUs, memory
 * node, pin-mode, size, reason, created) in the caller's transaction.
 * Errors: GP_ERR_DB* (a rule the schema enforces: one GPU per VM, one VM
 * per GPU, the GPU a member of the pool), GP_ERR_NOMEM. */
GP_HIDDEN int gp_assignment_insert(gp_ctx *ctx, const gp_assignment *a);
/* The boot configuration an assignment stands for (pointers into a). */
GP_HIDDEN void gp_assignment_boot_config(const gp_assignment *a, gp_boot_config *bc);
/* memory_node_certainty / _basis of an assignment from its driver. */
GP_HIDDEN void gp_assignment_memory_certainty(const gp_driver_ops *drv, gp_assignment *a);

/* Everything placement needs from the database for one pool (assign.c;
 * capacity.c probes placement with the same inputs). */
typedef struct {
    gp_numa_policy policy;
    gp_pin_mode pin;
    double overcommit;
    gp_placement_strategy strategy;  /* the pool's placement */
    char *name_label;
    char *cpupool;               /* Xen cpupool of the pool's VMs */
    char **gpus;                 /* members present on the host */
    size_t n_gpus;
    gp_place_existing *existing; /* every assignment on the host */
    int **existing_pcpus;
    char **existing_pci;
    char **existing_vm;          /* vm_uuid of each existing assignment */
    char **existing_pool;        /* pool_uuid of each */
    size_t n_existing;
} gp_place_inputs;
/* The pool's row, its members present on host and every assignment on the
 * host (memory_in_free from live, the driver's VM list) into pi (zeroed by
 * the caller); what was read stays for gp_place_inputs_dispose() also on
 * error.  Errors: GP_ERR_UNKNOWN_POOL, GP_ERR_DB*, GP_ERR_NOMEM. */
GP_HIDDEN int gp_place_inputs_load(gp_ctx *ctx, const gp_host *host, const char *pool_uuid,
                                   const gp_vm *live, size_t n_live, gp_place_inputs *pi);
GP_HIDDEN void gp_place_inputs_dispose(gp_place_inputs *pi);

/* The operations on this host only (assign.c, pool.c): the public ones
 * (ops/cluster.c) send a change for another host of an XCP-ng pool to that
 * host's plugin, and run these for this host's GPUs. */
GP_HIDDEN int gp_vm_gpu_assign_local(gp_ctx *ctx, const char *vm, const gp_assign_args *args,
                                     gp_assignment *out, gp_assignment **moved_out,
                                     size_t *n_moved_out);
GP_HIDDEN int gp_vm_gpu_release_local(gp_ctx *ctx, const char *vm);
GP_HIDDEN int gp_pool_gpu_add_local(gp_ctx *ctx, const char *pool, const char *pci_id);
GP_HIDDEN int gp_pool_gpu_remove_local(gp_ctx *ctx, const char *pool, const char *pci_id);

/* ---- the XCP-ng pool (cluster.c) ------------------------------------------------ */

/* True when the context's driver writes into xapi (an XCP-ng host, alone or
 * in a pool): pool-wide state lives in xapi's database.  Opens the driver;
 * false when it cannot be opened (its error is then ignored). */
GP_HIDDEN bool gp_cluster_on(gp_ctx *ctx);
/* Bring sqlite's pools in line with xapi's (pool.other_config
 * "gpupool:pool:<uuid>"): add and update the pools xapi has, drop the ones
 * destroyed elsewhere (published once, gone from xapi, no member here),
 * publish the ones xapi never had (made before pool-wide state).  Also
 * publishes this host's facts when they changed.  Errors: the driver's,
 * GP_ERR_DB*, GP_ERR_NOMEM. */
GP_HIDDEN int gp_cluster_pull(gp_ctx *ctx);
/* Publish pool uuid as sqlite has it (NULL-safe: nothing when not
 * cluster_on) / remove it from xapi.  Errors: the driver's, GP_ERR_DB*. */
GP_HIDDEN int gp_cluster_pool_publish(gp_ctx *ctx, const char *uuid);
GP_HIDDEN int gp_cluster_pool_unpublish(gp_ctx *ctx, const char *uuid);
/* Members of pool uuid on hosts other than this one, per xapi (PCI
 * other_config "gpupool:pool"): the first as "pci-id@host" in *first
 * (caller frees), the count in *n.  Errors: the driver's, GP_ERR_NOMEM. */
GP_HIDDEN int gp_cluster_pool_remote_members(gp_ctx *ctx, const char *uuid, size_t *n,
                                             char **first);
/* Make PCI.other_config["gpupool:pool"] of this host's function pci_id say
 * pool_uuid (NULL: absent).  No PCI object: nothing.  Errors: the driver's. */
GP_HIDDEN int gp_cluster_member_mark(gp_ctx *ctx, const char *pci_id, const char *pool_uuid);

/* The operations that free GPUs, without serving the queue afterwards
 * (cluster.c, gov.c); the public ones (requests.c) serve it. */
GP_HIDDEN int gp_vm_gpu_release_any(gp_ctx *ctx, const char *vm);
GP_HIDDEN int gp_pool_gpu_add_any(gp_ctx *ctx, const char *pool, const char *pci_id,
                                  const char *host);
GP_HIDDEN int gp_quota_set_local(gp_ctx *ctx, const char *tenant, const char *pool, int gpus);

/* ---- governance (gov.c) ----------------------------------------------------------- */

/* The section "gov" (quotas, gov_inflight).  Errors: GP_ERR_DB*. */
GP_HIDDEN int gp_gov_ensure(gp_ctx *ctx);
/* GP_OK when t is a tenant name, else GP_ERR_INVALID_ARGUMENT on err (may be
 * NULL) with param tenant. */
GP_HIDDEN int gp_gov_tenant_check(gp_error_info *err, const char *t);
/* The tenant of vm_uuid: given (checked), else its tag "<prefix><tenant>"
 * (xapi driver), else GP_TENANT_DEFAULT.  *out caller frees.  Errors:
 * GP_ERR_INVALID_ARGUMENT, the driver's, GP_ERR_NOMEM. */
GP_HIDDEN int gp_gov_tenant_of(gp_ctx *ctx, const char *vm_uuid, const char *given, char **out);
/* In the caller's transaction: GP_ERR_QUOTA_EXCEEDED (params tenant, pool,
 * used, limit) when one more GPU of pool_uuid would put tenant over its
 * quota, counting assignment rows and assignments being written
 * (gov_inflight).  Errors also GP_ERR_DB*. */
GP_HIDDEN int gp_gov_quota_check(gp_ctx *ctx, const char *tenant, const char *pool_uuid,
                                 const char *pool_name);
/* Check a pool parameter allowed-tenants: "" or tenants (gp_gov_tenant_check)
 * separated by commas, none twice.  GP_ERR_INVALID_ARGUMENT (param
 * allowed-tenants). */
GP_HIDDEN int gp_gov_tenant_list_check(gp_error_info *err, const char *list);
/* In the caller's transaction: GP_ERR_TENANT_NOT_ALLOWED (params tenant,
 * pool, allowed) when pool_uuid's allowed-tenants is set and does not name
 * tenant.  Errors also GP_ERR_DB*. */
GP_HIDDEN int gp_gov_access_check(gp_ctx *ctx, const char *tenant, const char *pool_uuid,
                                  const char *pool_name);
/* In step 1's transaction of a journaled assignment: it counts against
 * tenant's quota of pool_uuid until intent is gone. */
GP_HIDDEN int gp_gov_inflight_add(gp_ctx *ctx, int64_t intent, const char *tenant,
                                  const char *pool_uuid);
/* In the caller's transaction: a's GPU is held from now (gp_now()) / the
 * VM's open interval ends now.  Errors: GP_ERR_DB*. */
GP_HIDDEN int gp_gov_usage_open(gp_ctx *ctx, const gp_assignment *a);
GP_HIDDEN int gp_gov_usage_close(gp_ctx *ctx, const char *vm_uuid);
/* In the caller's transaction: the VM runs from now (running) / stopped
 * now; nothing when it already was so.  Errors: GP_ERR_DB*. */
GP_HIDDEN int gp_gov_power(gp_ctx *ctx, const char *vm_uuid, bool running);
/* Each tenant's decayed GPU use at time at, GPU-seconds (gp_usage_decayed
 * over its usage intervals, half-life GP_FAIR_SHARE_HALF_LIFE), ascending
 * tenant; *held (may be NULL) a parallel array: the GPUs each tenant holds
 * (intervals still open).  The caller frees *out (its tenant strings too)
 * and *held.  Errors: GP_ERR_DB*, GP_ERR_NOMEM. */
GP_HIDDEN int gp_gov_tenant_usage(gp_ctx *ctx, int64_t at, gp_tenant_usage **out, int **held,
                                  size_t *n_out);
/* Who asks (a request's requested-by): the xapi user under the xapi
 * driver (session.get_auth_user_name), else the configured caller; *out
 * the caller frees.  Errors: the driver's opening, GP_ERR_NOMEM. */
GP_HIDDEN int gp_gov_requester(gp_ctx *ctx, char **out);
/* Tell the VM's owner what governance did (a request served, a GPU taken
 * back by a lease): on XCP-ng a xapi message on the VM (name, priority
 * 5 served / 4 released, body "<what>: GPU <pci_id> <detail>"), which Xen
 * Orchestra shows; other drivers have no such channel and the audit row
 * stands alone.  Best effort: a failure is recorded in the audit log
 * ("message-failed") and never undoes what was done. */
GP_HIDDEN void gp_gov_message(gp_ctx *ctx, const char *vm_uuid, const char *name,
                              const char *what, const char *pci_id, const char *detail);
/* Quotas pool-wide on an XCP-ng pool (govcl.c; nothing without the
 * cluster).  Publish a quota into pool.other_config (gpus < 0: remove it).
 * Errors: the driver's. */
GP_HIDDEN int gp_govcl_quota_publish(gp_ctx *ctx, const char *pool_uuid, const char *tenant,
                                     int gpus);
/* tenant's quota of pool_uuid in xapi into *gpus (-1 none).  Errors: the
 * driver's. */
GP_HIDDEN int gp_govcl_quota_get(gp_ctx *ctx, const char *pool_uuid, const char *tenant,
                                 int *gpus);
/* The quotas in xapi with what each tenant holds across the XCP-ng pool
 * (the VMs' gpupool:placement), by pool name then tenant; *out caller
 * frees (gp_quota_list_free).  Errors: the driver's, GP_ERR_NOMEM. */
GP_HIDDEN int gp_govcl_quota_list(gp_ctx *ctx, gp_quota **out, size_t *n_out);
/* Under the caller's lock: claim a slot of tenant's pool-wide quota of
 * pool_uuid for vm_uuid (pool.add_to_other_config, atomic); *slot_out its
 * key (caller frees), NULL when there is no quota or no cluster.  Collects
 * this host's own slots for which stale(vm, pool) says so on the way (the
 * caller knows its rows and intents).  Errors: GP_ERR_QUOTA_EXCEEDED
 * (params tenant, pool, used, limit), the driver's, GP_ERR_NOMEM. */
GP_HIDDEN int gp_govcl_quota_claim(gp_ctx *ctx, const char *vm_uuid, const char *tenant,
                                   const char *pool_uuid, const char *pool_name,
                                   bool (*stale)(gp_ctx *ctx, const char *vm,
                                                 const char *pool_uuid),
                                   char **slot_out);
/* Drop this host's slot(s) of vm_uuid (only key when not NULL).  Errors:
 * the driver's. */
GP_HIDDEN int gp_govcl_slot_drop(gp_ctx *ctx, const char *vm_uuid, const char *key);
/* The request queue pool-wide on an XCP-ng pool (reqcl.c).  Requests
 * from the VMs' gpupool:request markers (VM.get_all_records), ids by age;
 * *out caller frees (gp_request_list_free).  Errors: the driver's,
 * GP_ERR_NOMEM. */
GP_HIDDEN int gp_reqcl_read(gp_ctx *ctx, gp_request **out, size_t *n_out);
/* A request as JSON: xapi's marker and the audit rows (malloc'ed; NULL on ENOMEM). */
GP_HIDDEN char *gp_reqcl_json(const gp_request *r);
/* Queue r in xapi (VM.add_to_other_config, atomic): GP_ERR_INVALID_ARGUMENT
 * (param vm) when the VM has a request already; the driver's. */
GP_HIDDEN int gp_reqcl_add(gp_ctx *ctx, const gp_request *r);
/* Remove the VM's request marker.  Errors: the driver's. */
GP_HIDDEN int gp_reqcl_remove(gp_ctx *ctx, const char *vm_uuid);
/* Publish this host's share of the tenants' decayed use (from its usage
 * intervals) in host.other_config["gpupool:usage"], when it changed.
 * Errors: the driver's, GP_ERR_DB*, GP_ERR_NOMEM. */
GP_HIDDEN int gp_reqcl_usage_publish(gp_ctx *ctx);
/* The other hosts' published shares, decayed to now (exact between their
 * changes); *out caller frees (tenant strings and array).  Errors: the
 * driver's, GP_ERR_NOMEM. */
GP_HIDDEN int gp_reqcl_usage_others(gp_ctx *ctx, int64_t now, gp_tenant_usage **out,
                                    size_t *n_out);
/* Sample the power state of the VMs holding GPUs here (and of VMs whose
 * run is still open) from the driver, and record starts and stops in
 * vm_runs (gp_gov_power): a run starts when first seen running and ends
 * when first seen halted.  *vms_out / *n_vms_out: the driver's VM list it
 * read (gp_vm_list_free), NULL / 0 when no VM needed sampling.
 * Errors: the driver's, GP_ERR_DB*, GP_ERR_NOMEM. */
GP_HIDDEN int gp_gov_sample(gp_ctx *ctx, gp_vm **vms_out, size_t *n_vms_out);
/* SQL expressions over the usage and vm_runs tables for the VM whose uuid
 * is the SQL expression vm (e.g. "a.vm_uuid"): since when it is known
 * halted (Unix seconds: the end of its last recorded run, else when it got
 * its GPU, 0 when neither is known) / whether a run is open.  Used by the
 * leases (requests.c) and capacity (capacity.c). */
#define GP_GOV_HALTED_SINCE_SQL(vm)                                                   \
    " max(coalesce((SELECT max(r.run_until) FROM vm_runs r"                          \
    "   WHERE r.vm_uuid = " vm "), 0),"                                               \
    "   coalesce((SELECT max(u.held_from) FROM usage u"                               \
    "   WHERE u.vm_uuid = " vm " AND u.held_until IS NULL), 0))"
#define GP_GOV_RUNNING_SQL(vm)                                                        \
    " EXISTS (SELECT 1 FROM vm_runs r WHERE r.vm_uuid = " vm " AND r.run_until IS NULL)"
/* Insert / delete an assignment row with its usage interval (asgrows.c). */
GP_HIDDEN int gp_assignment_delete(gp_ctx *ctx, const char *vm_uuid);

/* ---- capacity (capacity.c) ------------------------------------------------------- */

/* gp_capacity_get() of this host only, also on an XCP-ng pool (metrics.c:
 * each host exports its own GPUs). */
GP_HIDDEN int gp_capacity_get_self(gp_ctx *ctx, gp_capacity **out);

/* ---- the intent journal (journal.c) -------------------------------------------- */

typedef struct {
    char *kind;     /* "vm": its xapi record follows its assignment row;
                       "gpu": reserved (placement skips it);
                       "pci": a function whose dom0 access changes */
    char *key;      /* VM uuid or canonical pci-id */
    char *value;    /* "pci": dom0 access status before ("enabled", ...) */
} gp_intent_item;
typedef struct {
    int64_t id;
    char *operation;            /* "vm-gpu-assign", ... */
    long owner_pid;
    char *owner_start;          /* /proc/<pid>/stat starttime */
    char *created;              /* ISO 8601 UTC */
    bool owner_alive;           /* the owner still runs (read at listing) */
    gp_intent_item *items;
    size_t n_items;
} gp_intent;

/* Create the journal's tables when missing (schema section "journal"). */
GP_HIDDEN int gp_journal_ensure(gp_ctx *ctx);
/* Inside an open transaction: a new intent owned by this process (*id). */
GP_HIDDEN int gp_journal_begin(gp_ctx *ctx, const char *operation, int64_t *id);
GP_HIDDEN int gp_journal_add(gp_ctx *ctx, int64_t id, const char *kind, const char *key,
                             const char *value);
/* Inside an open transaction: delete the intent and its items. */
GP_HIDDEN int gp_journal_end(gp_ctx *ctx, int64_t id);
/* GP_ERR_IN_PROGRESS (params vm or pci-id, operation) when an intent holds
 * the VM (kind "vm") or the function (kind "gpu"/"pci"). */
GP_HIDDEN int gp_journal_busy(gp_ctx *ctx, const char *kind, const char *key);
/* Every pci-id an intent reserves or changes; caller frees (gp_strv_free). */
GP_HIDDEN int gp_journal_reserved(gp_ctx *ctx, char ***ids, size_t *n);
GP_HIDDEN int gp_journal_list(gp_ctx *ctx, gp_intent **out, size_t *n_out);
GP_HIDDEN void gp_intent_list_free(gp_intent *v, size_t n);
/* Make xapi match sqlite for each item of intent id, then delete it (its
 * own short transaction).  On failure the intent stays and ctx->err tells
 * the first item that could not be settled. */
GP_HIDDEN int gp_journal_settle(gp_ctx *ctx, int64_t id);
/* Step 3's end: with rc == GP_OK (the change written in the open
 * transaction), delete the intent and commit; otherwise, or if that fails,
 * roll back and settle the intent, keeping the error on ctx.  Returns the
 * outcome. */
GP_HIDDEN int gp_journal_close(gp_ctx *ctx, int64_t id, int rc);
/* Settle every intent whose owner is gone; *n_left (may be NULL) counts
 * those left (owner alive, or not settled).  Errors: GP_ERR_DB* only. */
GP_HIDDEN int gp_journal_recover(gp_ctx *ctx, size_t *n_left);

/* ---- XCP-ng convergence (xapi_ops.c) ---------------------------------------------- */

/* Make the VM's xapi record say what its assignment row says (none: clear
 * gpupool's writes).  A VM xapi no longer knows is settled (drift reports
 * it).  Errors: the driver's (GP_ERR_VM_NOT_HALTED when it runs), GP_ERR_DB*. */
GP_HIDDEN int gp_xapi_converge_vm(gp_ctx *ctx, const char *vm_uuid);
/* Make a function's dom0 access match membership: hidden while it is a pool
 * member (or companion), else back to before ("enabled", ... or NULL:
 * leave).  Errors: the driver's, GP_ERR_DB*. */
GP_HIDDEN int gp_xapi_converge_pci(gp_ctx *ctx, const char *pci_id, const char *before);
/* The facts a journaled assign needs before its transaction: the VM may
 * take a GPU of this host (gp_xapi_drv_vm_suitable), the functions xapi
 * gives to other VMs (*held), the host's guest vCPU mask (*host_mask, NULL
 * when unset).  Also names the xapi user in the audit's caller. */
GP_HIDDEN int gp_xapi_assign_facts(gp_ctx *ctx, const char *vm_uuid, gp_xapi_held **held,
                                   size_t *n_held, char **host_mask);
/* Can dom0 use the function (now or after the next boot)?  status as
 * PCI.get_dom0_access_status says: "enabled" or "enable_on_reboot". */
GP_HIDDEN bool gp_xapi_status_visible(const char *status);
/* dom0 access status of a function (PCI.get_dom0_access_status), NULL when
 * xapi has no PCI object for it.  *status caller frees. */
GP_HIDDEN int gp_xapi_dom0_status_of(gp_ctx *ctx, const char *pci_id, char **status);
/* host-reconcile under the xapi driver: the drift (gp_drift_check) as
 * reconcile items; fix settles dead intents, makes every assigned VM's
 * record say its assignment, clears stray and copied writes of halted VMs
 * and hides pool functions from dom0 again, then marks the items gone from
 * a second drift check as fixed. */
GP_HIDDEN int gp_xapi_reconcile(gp_ctx *ctx, bool fix, gp_reconcile_item **out, size_t *n_out);
/* Name the xapi user behind this call in the audit log's caller (once). */
GP_HIDDEN void gp_xapi_audit_caller(gp_ctx *ctx);

/* ---- host-validate (validate.c) -------------------------------------------- */

/* What the checks need beside the host model and the PCI hierarchy. */
typedef struct {
    const char *sysfs_root;  /* sysfs the PCI side came from ("/sys" live); NULL: none */
    bool captured;           /* sysfs_root is a captured tree, not this host */
    char **pool_gpus;        /* pci-ids of every pool's members (borrowed) */
    size_t n_pool_gpus;
} gp_validate_env;

/* The checks of gp_host_validate() judged from these facts alone (no
 * context: tests feed built hosts).  *out as gp_host_validate's.
 * Errors: GP_ERR_NOMEM. */
GP_HIDDEN int gp_validate_facts(const gp_host *h, const gp_pci_tree *tree,
                                const gp_validate_env *env, gp_check **out, size_t *n_out,
                                gp_error_info *err);

#endif /* GPUPOOL_OPS_H */
