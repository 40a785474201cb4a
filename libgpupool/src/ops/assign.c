/*
 * assign.c - assignments: one GPU per VM, a GPU held by at most one VM,
 * changes only while the VM is halted.
 *
 * gp_vm_gpu_assign makes one decision (gp_place: GPU, pCPUs, memory node)
 * and records it in the database and through the driver ("record the
 * boot-time GPU and affinity") in one BEGIN IMMEDIATE transaction.  For the
 * sim driver the VM is resolved and the boot record written inside the
 * transaction; a non-transactional driver is asked first (VM state) and
 * acts last, undone if COMMIT fails.
 */
#include "ops/ops.h"

#include <ctype.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int fill_vm_names(gp_ctx *ctx, const gp_driver_ops *drv, gp_assignment *as, size_t n)
{
    gp_error_info saved;
    int rc = GP_OK;

    if (!n)
        return GP_OK;
    for (size_t i = 0; i < n; i++)
        gp_assignment_memory_certainty(drv, &as[i]);
    gp_error_info_init(&saved);
    gp_err_copy(&saved, ctx->err);
    if (drv->vm_get) {
        for (size_t i = 0; i < n; i++) {
            gp_vm v;
            gp_vm_init(&v);
            if (gp_ctx_vm_get(ctx, as[i].vm_uuid, &v) == GP_OK) {
                as[i].vm_name_label = v.name_label;
                v.name_label = NULL;
            }
            gp_vm_dispose(&v);
        }
    } else {
        gp_vm *vms = NULL;
        size_t nv = 0;
        if (gp_ctx_vm_list(ctx, &vms, &nv) == GP_OK)
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < nv; j++)
                    if (!strcasecmp(vms[j].uuid, as[i].vm_uuid)) {
                        as[i].vm_name_label = vms[j].name_label;
                        vms[j].name_label = NULL;
                        break;
                    }
        gp_vm_list_free(vms, nv);
    }
    /* A VM the driver cannot name is not an error of the read. */
    gp_err_copy(ctx->err, &saved);
    gp_error_info_dispose(&saved);
    return rc;
}

int gp_assignment_list(gp_ctx *ctx, gp_assignment **out, size_t *n_out)
{
    const gp_driver_ops *drv;
    int rc;

    *out = NULL;
    *n_out = 0;
    gp_err_clear(ctx->err);
    rc = gp_ctx_drv_ops(ctx, &drv);
    if (rc)
        return rc;
    rc = gp_assignments_read(ctx, NULL, out, n_out);
    if (rc)
        return rc;
    return fill_vm_names(ctx, drv, *out, *n_out);
}

/* Move the single assignment of as (n <= 1) into out. */
static void take_one(gp_assignment *as, size_t n, gp_assignment *out)
{
    if (out && n) {
        gp_assignment_dispose(out);
        *out = as[0];
        gp_assignment_init(&as[0]);
    }
    gp_assignment_list_free(as, n);
}

int gp_assignment_get(gp_ctx *ctx, const char *vm, gp_assignment *out)
{
    const gp_driver_ops *drv;
    gp_assignment *as = NULL;
    size_t n = 0;
    gp_vm v;
    int rc;

    gp_vm_init(&v);
    gp_err_clear(ctx->err);
    rc = gp_ctx_drv_ops(ctx, &drv);
    if (rc)
        return rc;
    if (!vm || !*vm) {
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_VM, "no VM given");
        GP_PARAM(ctx, "vm", "%s", "");
        return rc;
    }
    /* A uuid with an assignment needs no driver lookup. */
    if (gp_uuid_valid(vm)) {
        char lower[37];
        for (int i = 0; i < 37; i++)
            lower[i] = (char)tolower((unsigned char)vm[i]);
        rc = gp_assignments_read(ctx, lower, &as, &n);
        if (rc)
            return rc;
    }
    if (!n) {
        rc = gp_vm_get(ctx, vm, &v);
        if (rc)
            goto out;
        rc = gp_assignments_read(ctx, v.uuid, &as, &n);
        if (rc)
            goto out;
        if (!n) {
            char lb[320];
            rc = GP_ERR(ctx, GP_ERR_VM_NO_GPU, "VM %s has no GPU",
                        gp_vm_label(v.name_label, v.uuid, lb, sizeof(lb)));
            GP_PARAM(ctx, "vm", "%s", v.uuid);
            goto out;
        }
    }
    rc = fill_vm_names(ctx, drv, as, n);
    if (rc)
        goto out;
    take_one(as, n, out);
    as = NULL;
    n = 0;
out:
    gp_assignment_list_free(as, n);
    gp_vm_dispose(&v);
    return rc;
}

/* ---- JSON for the audit log ----------------------------------------------- */

static char *assignment_json(const gp_assignment *a)
{
    json_object *o = json_object_new_object(), *c = json_object_new_array();
    char *pcpus = gp_cpulist_join(a->pcpus, a->n_pcpus);

    if (!o || !c || !pcpus) {
        json_object_put(o);
        json_object_put(c);
        free(pcpus);
        return NULL;
    }
    json_object_object_add(o, "vm_uuid", json_object_new_string(a->vm_uuid));
    json_object_object_add(o, "vm_name_label",
                           a->vm_name_label ? json_object_new_string(a->vm_name_label) : NULL);
    json_object_object_add(o, "pci_id", json_object_new_string(a->pci_id));
    for (size_t i = 0; i < a->n_companions; i++)
        json_object_array_add(c, json_object_new_string(a->companions[i]));
    json_object_object_add(o, "companions", c);
    json_object_object_add(o, "pool_uuid", json_object_new_string(a->pool_uuid));
    json_object_object_add(o, "pool_name_label",
                           json_object_new_string(a->pool_name_label ? a->pool_name_label : ""));
    json_object_object_add(o, "numa_node", json_object_new_int(a->numa_node));
    json_object_object_add(o, "pcpus", json_object_new_string(pcpus));
    json_object_object_add(o, "memory_node", json_object_new_int(a->memory_node));
    json_object_object_add(o, "pin_mode", json_object_new_string(gp_pin_mode_name(a->pin_mode)));
    json_object_object_add(o, "vcpus", json_object_new_int(a->vcpus));
    json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)a->memory_mib));
    json_object_object_add(o, "reason", a->reason ? json_object_new_string(a->reason) : NULL);
    free(pcpus);
    return gp_json_take_text(o);
}


/* ---- assign / release ------------------------------------------------------- */

/* Resolve the VM through the driver. */
static int vm_resolve(gp_ctx *ctx, const gp_driver_ops *drv, const char *vm, gp_vm *out)
{
    if (!vm || !*vm) {
        int rc = GP_ERR(ctx, GP_ERR_UNKNOWN_VM, "no VM given");
        GP_PARAM(ctx, "vm", "%s", "");
        return rc;
    }
    (void)drv;
    return gp_ctx_vm_get(ctx, vm, out);
}

static int require_halted(gp_ctx *ctx, const gp_vm *v, const char *op)
{
    if (v->state == GP_VM_HALTED)
        return GP_OK;
    char lb[320];
    GP_ERR(ctx, GP_ERR_VM_NOT_HALTED,
           "VM %s is %s: %s is only possible while it is halted",
           gp_vm_label(v->name_label, v->uuid, lb, sizeof(lb)), gp_vm_state_name(v->state), op);
    GP_PARAM(ctx, "vm", "%s", v->uuid);
    GP_PARAM(ctx, "power-state", "%s", gp_vm_state_name(v->state));
    return GP_ERR_VM_NOT_HALTED;
}

/*
 * Open the write transaction on a halted VM: resolve vm (uuid or name-label)
 * inside the transaction for a transactional driver (sim: its power state
 * cannot change before COMMIT), before it for the others (the hypervisor is
 * not in the database), then apply the halted-only rule for op.  On error
 * the transaction, if opened, is left for the caller's rollback.
 */
typedef int (*before_lock_fn)(gp_ctx *ctx, const gp_vm *v, void *arg);

static int begin_on_halted_vm(gp_ctx *ctx, const gp_driver_ops *drv, const char *vm,
                              const char *op, gp_vm *v, before_lock_fn pre, void *arg)
{
    int rc;
    if (!ctx->drv_entry->transactional) {
        rc = vm_resolve(ctx, drv, vm, v);
        if (rc)
            return rc;
        if (pre) {
            rc = require_halted(ctx, v, op);
            if (rc == GP_OK)
                rc = pre(ctx, v, arg);
            if (rc)
                return rc;
        }
    }
    rc = gp_store_begin(&ctx->store);
    if (rc)
        return rc;
    if (ctx->drv_entry->transactional) {
        rc = vm_resolve(ctx, drv, vm, v);
        if (rc)
            return rc;
    }
    return require_halted(ctx, v, op);
}

/* The host's cpupool names, "Pool-0, gpu" (malloc'ed; NULL on ENOMEM). */
static char *cpupool_names(const gp_host *host)
{
    char *s = gp_strdup("");
    for (size_t i = 0; s && i < host->n_cpupools; i++) {
        char *n = gp_asprintf("%s%s%s", s, i ? ", " : "",
                              host->cpupools[i].name ? host->cpupools[i].name : "?");
        free(s);
        s = n;
    }
    return s;
}

void gp_place_inputs_dispose(gp_place_inputs *pi)
{
    free(pi->name_label);
    free(pi->cpupool);
    gp_strv_free(pi->gpus, pi->n_gpus);
    for (size_t i = 0; i < pi->n_existing; i++) {
        free(pi->existing_pcpus[i]);
        free(pi->existing_pci[i]);
        free(pi->existing_vm[i]);
        free(pi->existing_pool[i]);
    }
    free(pi->existing_pcpus);
    free(pi->existing_pci);
    free(pi->existing_vm);
    free(pi->existing_pool);
    free(pi->existing);
    memset(pi, 0, sizeof(*pi));
}

/* The pool's row: policy, pin-mode, overcommit, name and cpupool into pi. */
static int place_inputs_load_pool(gp_ctx *ctx, const char *pool_uuid, gp_place_inputs *pi)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = gp_store_prepare(&ctx->store, "SELECT numa_policy, pin_mode, cpu_overcommit, name_label,"
                          " cpupool, placement FROM pools WHERE uuid = ?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, pool_uuid, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = rc == SQLITE_DONE ? GP_ERR(ctx, GP_ERR_UNKNOWN_POOL, "no pool %s", pool_uuid)
                               : gp_store_error(&ctx->store, rc, "reading a pool");
        goto out;
    }
    if (gp_numa_policy_parse((const char *)sqlite3_column_text(st, 0), &pi->policy) ||
        gp_pin_mode_parse((const char *)sqlite3_column_text(st, 1), &pi->pin) ||
        gp_placement_strategy_parse((const char *)sqlite3_column_text(st, 5), &pi->strategy)) {
        rc = GP_ERR(ctx, GP_ERR_DB, "pool %s has an unreadable policy, pin-mode or placement",
                    pool_uuid);
        goto out;
    }
    pi->overcommit = sqlite3_column_double(st, 2);
    pi->name_label = gp_strdup((const char *)sqlite3_column_text(st, 3));
    pi->cpupool = gp_strdup((const char *)sqlite3_column_text(st, 4));
    rc = pi->name_label && pi->cpupool ? GP_OK : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
out:
    sqlite3_finalize(st);
    return rc;
}

/* The pool's members present on the host into pi->gpus (a GPU_MISSING
 * member is not offered to placement). */
static int place_inputs_load_members(gp_ctx *ctx, const gp_host *host, const char *pool_uuid,
                                     gp_place_inputs *pi)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = gp_store_prepare(&ctx->store, "SELECT pci_id FROM pool_members WHERE pool_uuid = ?1"
                          " ORDER BY pci_id", &st);
    if (rc)
        goto out;
    sqlite3_bind_text(st, 1, pool_uuid, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *pci = (const char *)sqlite3_column_text(st, 0);
        if (!gp_host_find_gpu(host, pci))
            continue;  /* GPU_MISSING: not offered to placement */
        char **ng = realloc(pi->gpus, (pi->n_gpus + 1) * sizeof(*ng));
        if (!ng)
            goto nomem;
        pi->gpus = ng;
        if (!(pi->gpus[pi->n_gpus] = gp_strdup(pci)))
            goto nomem;
        pi->n_gpus++;
    }
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(&ctx->store, rc, "reading pool members");
    goto out;
nomem:
    rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
out:
    sqlite3_finalize(st);
    return rc;
}

/* One assignment row (vm_uuid, pci_id, numa_node, pcpus, vcpus,
 * memory_mib, memory_node, pool_uuid) appended to pi->existing; whatever was
 * allocated stays in pi for gp_place_inputs_dispose. */
static int place_inputs_add_existing(gp_ctx *ctx, sqlite3_stmt *st, const gp_vm *live,
                                     size_t n_live, gp_place_inputs *pi)
{
    size_t k = pi->n_existing, np_n = 0;
    gp_place_existing *ne = realloc(pi->existing, (k + 1) * sizeof(*ne));
    if (ne)
        pi->existing = ne;
    int **np = realloc(pi->existing_pcpus, (k + 1) * sizeof(*np));
    if (np)
        pi->existing_pcpus = np;
    char **nc = realloc(pi->existing_pci, (k + 1) * sizeof(*nc));
    if (nc)
        pi->existing_pci = nc;
    char **nv = realloc(pi->existing_vm, (k + 1) * sizeof(*nv));
    if (nv)
        pi->existing_vm = nv;
    char **nq = realloc(pi->existing_pool, (k + 1) * sizeof(*nq));
    if (nq)
        pi->existing_pool = nq;
    if (!ne || !np || !nc || !nv || !nq)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    gp_place_existing *e = &pi->existing[k];
    memset(e, 0, sizeof(*e));
    pi->existing_pcpus[k] = NULL;
    pi->existing_pci[k] = gp_strdup((const char *)sqlite3_column_text(st, 1));
    pi->existing_vm[k] = gp_strdup((const char *)sqlite3_column_text(st, 0));
    pi->existing_pool[k] = gp_strdup((const char *)sqlite3_column_text(st, 7));
    pi->n_existing++;
    if (!pi->existing_pci[k] || !pi->existing_vm[k] || !pi->existing_pool[k])
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    if (gp_cpulist_parse((const char *)sqlite3_column_text(st, 3), &pi->existing_pcpus[k],
                         &np_n))
        return GP_ERR(ctx, GP_ERR_DB, "assignment of GPU %s has unreadable pCPUs",
                      pi->existing_pci[k]);
    e->pci_id = pi->existing_pci[k];
    e->node = sqlite3_column_int(st, 2);
    e->pcpus = pi->existing_pcpus[k];
    e->n_pcpus = np_n;
    e->vcpus = sqlite3_column_int(st, 4);
    e->memory_mib = (uint64_t)sqlite3_column_int64(st, 5);
    e->memory_node = sqlite3_column_int(st, 6);
    /* A live domain's memory is already out of the hypervisor's free
     * figure; the sim host's figure is static. */
    const char *vu = (const char *)sqlite3_column_text(st, 0);
    for (size_t j = 0; j < n_live; j++)
        if (!strcasecmp(live[j].uuid, vu)) {
            e->memory_in_free = live[j].domid >= 0 && live[j].state != GP_VM_HALTED;
            break;
        }
    return GP_OK;
}

/* Every assignment on the host (all pools) into pi->existing. */
static int place_inputs_load_existing(gp_ctx *ctx, const gp_vm *live, size_t n_live,
                                      gp_place_inputs *pi)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = gp_store_prepare(&ctx->store, "SELECT vm_uuid, pci_id, numa_node, pcpus, vcpus, memory_mib,"
                          " memory_node, pool_uuid FROM assignments ORDER BY pci_id", &st);
    if (rc)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rc = place_inputs_add_existing(ctx, st, live, n_live, pi);
        if (rc)
            goto out;
    }
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(&ctx->store, rc, "reading assignments");
out:
    sqlite3_finalize(st);
    return rc;
}

/* Everything placement needs from the database for one pool, into pi;
 * leaves what was read for gp_place_inputs_dispose. */
int gp_place_inputs_load(gp_ctx *ctx, const gp_host *host, const char *pool_uuid,
                         const gp_vm *live, size_t n_live, gp_place_inputs *pi)
{
    int rc = place_inputs_load_pool(ctx, pool_uuid, pi);
    if (rc)
        return rc;
    rc = place_inputs_load_members(ctx, host, pool_uuid, pi);
    if (rc)
        return rc;
    return place_inputs_load_existing(ctx, live, n_live, pi);
}


/* Companion pci-ids of a member GPU, ascending. */
static int load_companions(gp_ctx *ctx, const char *pci_id, char ***out, size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    int rc = gp_store_prepare(&ctx->store, "SELECT pci_id FROM pool_companions WHERE gpu_pci_id = ?1"
                              " ORDER BY pci_id", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, pci_id, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char **nv = realloc(*out, (*n_out + 1) * sizeof(*nv));
        if (!nv) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        *out = nv;
        if (!(nv[*n_out] = gp_strdup((const char *)sqlite3_column_text(st, 0)))) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        (*n_out)++;
    }
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(&ctx->store, rc, "reading companion functions");
out:
    sqlite3_finalize(st);
    return rc;
}

/* Restore ctx->err after a best-effort undo. */
static void undo_record_boot(gp_ctx *ctx, const gp_driver_ops *drv, const char *vm_uuid,
                             const gp_boot_config *bc)
{
    gp_error_info saved;
    gp_error_info_init(&saved);
    gp_err_copy(&saved, ctx->err);
    drv->vm_record_boot(&ctx->drv, vm_uuid, bc);
    gp_err_copy(ctx->err, &saved);
    gp_error_info_dispose(&saved);
}

/* ---- vm-gpu-assign: the steps ------------------------------------------------ */

/* The state of one gp_vm_gpu_assign between its steps. */
typedef struct {
    const gp_assign_args *args;
    const gp_driver_ops *drv;
    const gp_host *host;
    gp_vm v;                      /* the VM, resolved under the write lock */
    gp_vm *live;                  /* live domains (non-transactional driver) */
    size_t n_live;
    char canon[GP_PCI_ID_LEN];    /* args->pci_id in canonical form, "" without */
    gp_place_inputs pi;
    gp_place_request req;
    gp_placement pl;
    gp_assignment a;              /* the decision, as recorded */
    bool rollback;                /* a failure rolls the transaction back */
    bool need_undo;               /* ... and undoes the driver's boot record */
    /* Re-plan (numa-policy required, no room without moving halted VMs). */
    bool *movable;                /* pi.n_existing flags for gp_place_replan */
    char **movable_names;         /* name-label of each movable VM (or NULL) */
    gp_replan rp;                 /* the moves; rp.vm moved into pl */
    gp_assignment *moved_old;     /* moved VMs' assignments before, n_moved */
    gp_assignment *moved;         /* ... and after */
    size_t n_moved;
    size_t n_moved_recorded;      /* boot records re-written: undone on failure */
    /* Journaled driver (xapi): facts read before the lock, the intent. */
    gp_xapi_held *held;           /* functions xapi gives to other VMs */
    size_t n_held;
    char *host_mask;              /* Host.guest_VCPUs_params:mask, NULL */
    int *allowed;                 /* cpupool pCPUs within host_mask */
    int64_t intent;               /* 0: none */
    char *tenant;                 /* who it counts against (gov.c) */
    char *slot;                   /* the pool-wide quota slot claimed (govcl.c); NULL */
} assign_op;

static void assign_op_init(assign_op *op, const gp_assign_args *args)
{
    memset(op, 0, sizeof(*op));
    op->args = args;
    gp_vm_init(&op->v);
    gp_assignment_init(&op->a);
    gp_placement_init(&op->pl);
    gp_replan_init(&op->rp);
}

static void assign_op_dispose(assign_op *op)
{
    free(op->slot);
    if (op->movable_names)
        gp_strv_free(op->movable_names, op->pi.n_existing);
    free(op->movable);
    gp_replan_dispose(&op->rp);
    gp_assignment_list_free(op->moved_old, op->n_moved);
    gp_assignment_list_free(op->moved, op->n_moved);
    gp_place_inputs_dispose(&op->pi);
    gp_placement_dispose(&op->pl);
    gp_assignment_dispose(&op->a);
    gp_vm_list_free(op->live, op->n_live);
    gp_vm_dispose(&op->v);
    gp_xapi_held_free(op->held, op->n_held);
    free(op->host_mask);
    free(op->allowed);
    free(op->tenant);
}

/* Check the arguments, canonicalise the pci-id into op->canon; leaves nothing. */
/* Whether this host's quota slot for vm is stale (govcl.c): no assignment
 * row of the VM in the pool and no intent holding it.  Under the lock. */
static bool slot_stale(gp_ctx *ctx, const char *vm, const char *pool_uuid)
{
    char *row = NULL;
    bool stale;
    if (gp_store_query_text(&ctx->store, "reading assignments",
                            "SELECT pool_uuid FROM assignments WHERE vm_uuid = ?1", vm,
                            &row) != GP_OK) {
        gp_err_clear(ctx->err);
        return false;
    }
    stale = !(row && !strcmp(row, pool_uuid));
    free(row);
    if (stale && gp_journal_busy(ctx, "vm", vm) != GP_OK) {
        gp_err_clear(ctx->err);
        stale = false;
    }
    return stale;
}

static int assign_check_args(gp_ctx *ctx, const char *vm, assign_op *op)
{
    const gp_assign_args *args = op->args;
    int rc;

    if (args->vcpus < 0 || args->vcpus > 4096) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "vcpus must be 1..4096 (0 = the VM's), not %d",
                    args->vcpus);
        GP_PARAM(ctx, "vcpus", "%d", args->vcpus);
        return rc;
    }
    if (args->lease_seconds < 0 || args->lease_seconds > GP_LEASE_MAX) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT,
                    "a lease is a duration such as 90m, 12h or 7d, at most 366d (0: none)");
        GP_PARAM(ctx, "lease", "%lld", (long long)args->lease_seconds);
        return rc;
    }
    if (args->pci_id) {
        gp_pci_addr addr;
        rc = gp_pci_addr_parse(args->pci_id, &addr, ctx->err);
        if (rc)
            return rc;
        gp_pci_addr_format(&addr, op->canon);
    }
    if (!args->pool && !args->pci_id) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "assigning a GPU needs a pool or a pci-id");
        GP_PARAM(ctx, "vm", "%s", vm ? vm : "");
        return rc;
    }
    return GP_OK;
}

/* Live domains count their memory in the host's free figure: list them
 * (non-transactional driver only) into op->live; leaves no lock. */
static int assign_list_live(gp_ctx *ctx, assign_op *op)
{
    if (ctx->drv_entry->transactional)
        return GP_OK;
    return gp_ctx_vm_list(ctx, &op->live, &op->n_live);
}

/* Refuse a VM that already holds a GPU (one GPU per VM); leaves the lock held. */
static int assign_check_vm_has_none(gp_ctx *ctx, const gp_vm *v)
{
    char *held = NULL;
    int rc = gp_store_query_text(&ctx->store, "reading the state",
                                 "SELECT pci_id FROM assignments WHERE vm_uuid = ?1", v->uuid,
                                 &held);
    if (!rc && held) {
        char lb[320];
        rc = GP_ERR(ctx, GP_ERR_VM_HAS_GPU,
                    "VM %s already holds GPU %s: one GPU per VM (release it first)",
                    gp_vm_label(v->name_label, v->uuid, lb, sizeof(lb)), held);
        GP_PARAM(ctx, "vm", "%s", v->uuid);
        GP_PARAM(ctx, "pci-id", "%s", held);
    }
    free(held);
    return rc;
}

/* The named GPU: on the host, a member of the pool (args->pool if given),
 * held by no VM; sets op->a.pool_uuid to its pool; leaves the lock held. */
static int assign_check_gpu(gp_ctx *ctx, assign_op *op)
{
    const char *canon = op->canon, *pool = op->args->pool;
    char *holder = NULL, *holder_vm = NULL;
    int rc;

    rc = gp_store_query_text(&ctx->store, "reading the state",
                             "SELECT pool_uuid FROM pool_members WHERE pci_id = ?1", canon,
                             &holder);
    if (rc)
        goto out;
    if (!holder && !gp_host_find_gpu(op->host, canon)) {
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_GPU, "no GPU %s on this host", canon);
        GP_PARAM(ctx, "pci-id", "%s", canon);
        goto out;
    }
    if (!holder || (pool && strcmp(holder, op->a.pool_uuid))) {
        if (pool)
            rc = GP_ERR(ctx, GP_ERR_GPU_NOT_IN_POOL, "GPU %s is not in pool %s", canon, pool);
        else
            rc = GP_ERR(ctx, GP_ERR_GPU_NOT_IN_POOL, "GPU %s is not in any pool", canon);
        GP_PARAM(ctx, "pci-id", "%s", canon);
        if (pool)
            GP_PARAM(ctx, "pool", "%s", pool);
        goto out;
    }
    snprintf(op->a.pool_uuid, sizeof(op->a.pool_uuid), "%s", holder);
    if (!gp_host_find_gpu(op->host, canon)) {
        rc = GP_ERR(ctx, GP_ERR_GPU_MISSING,
                    "GPU %s is in a pool but no longer on this host", canon);
        GP_PARAM(ctx, "pci-id", "%s", canon);
        goto out;
    }
    rc = gp_store_query_text(&ctx->store, "reading the state",
                             "SELECT vm_uuid FROM assignments WHERE pci_id = ?1", canon,
                             &holder_vm);
    if (rc)
        goto out;
    if (holder_vm) {
        rc = GP_ERR(ctx, GP_ERR_GPU_ASSIGNED,
                    "GPU %s is held by VM %s: a GPU is held by at most one VM", canon,
                    holder_vm);
        GP_PARAM(ctx, "pci-id", "%s", canon);
        GP_PARAM(ctx, "vm", "%s", holder_vm);
    }
out:
    free(holder);
    free(holder_vm);
    return rc;
}

/* Find the pool: by args->pool, then checked against the named GPU's;
 * sets op->a.pool_uuid; leaves the lock held. */
static int assign_resolve_pool(gp_ctx *ctx, assign_op *op)
{
    int rc;

    if (op->args->pool) {
        rc = gp_store_pool_find(&ctx->store, op->args->pool, op->a.pool_uuid, NULL);
        if (rc)
            return rc;
    }
    if (op->args->pci_id)
        return assign_check_gpu(ctx, op);
    return GP_OK;
}

/* xapi intersects every vCPU mask with Host.guest_VCPUs_params:mask
 * (xapi_xenops.ml): plan inside it, so the mask written is the mask
 * applied.  Narrows op->req's allowed pCPUs to it (op->allowed). */
static int assign_limit_to_host_mask(gp_ctx *ctx, assign_op *op)
{
    int *mask = NULL;
    size_t n_mask = 0, k = 0;

    if (!op->host_mask)
        return GP_OK;
    if (gp_cpulist_parse(op->host_mask, &mask, &n_mask)) {
        int rc = GP_ERR(ctx, GP_ERR_DRIVER, "this host's guest_VCPUs_params:mask '%s' is "
                        "not a pCPU list", op->host_mask);
        GP_PARAM(ctx, "guest-VCPUs-params:mask", "%s", op->host_mask);
        return rc;
    }
    bool all = !op->req.allowed_cpus;   /* no cpupools reported: every pCPU */
    size_t n_base = all ? op->host->n_cpus : op->req.n_allowed_cpus;
    op->allowed = calloc(n_base ? n_base : 1, sizeof(int));
    if (!op->allowed) {
        free(mask);
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_base; i++) {
        int id = all ? op->host->cpus[i].id : op->req.allowed_cpus[i];
        for (size_t j = 0; j < n_mask; j++)
            if (id == mask[j]) {
                op->allowed[k++] = id;
                break;
            }
    }
    free(mask);
    op->req.allowed_cpus = op->allowed;
    op->req.n_allowed_cpus = k;
    if (!k) {
        int rc = GP_ERR(ctx, GP_ERR_NO_PLACEMENT,
                        "no pCPU of cpupool %s is inside this host's guest_VCPUs_params:mask "
                        "'%s', which xapi applies to every guest vCPU", op->pi.cpupool,
                        op->host_mask);
        GP_PARAM(ctx, "vm", "%s", op->v.uuid);
        GP_PARAM(ctx, "guest-VCPUs-params:mask", "%s", op->host_mask);
        return rc;
    }
    return GP_OK;
}

/* On Xen a VM's pin set stays inside its cpupool: the pool's cpupool
 * (Pool-0 unless set), by name, when the hypervisor reports cpupools.
 * Without them (sim, planning) the name is recorded, not enforced.
 * Sets op->req's allowed pCPUs; refuses a missing or empty cpupool. */
static int assign_limit_to_cpupool(gp_ctx *ctx, assign_op *op)
{
    const gp_host *host = op->host;
    const gp_cpupool *cp = NULL;
    char *names;
    int rc;

    if (!host->n_cpupools)
        return assign_limit_to_host_mask(ctx, op);
    for (size_t i = 0; i < host->n_cpupools && !cp; i++)
        if (host->cpupools[i].name && !strcmp(host->cpupools[i].name, op->pi.cpupool))
            cp = &host->cpupools[i];
    if (cp && cp->n_cpus) {
        op->req.allowed_cpus = cp->cpus;
        op->req.n_allowed_cpus = cp->n_cpus;
        return assign_limit_to_host_mask(ctx, op);
    }
    names = cpupool_names(host);
    if (!names)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    if (!cp)
        rc = GP_ERR(ctx, GP_ERR_NO_PLACEMENT,
                    "pool %s (%s) places its VMs in Xen cpupool '%s', which this host "
                    "does not have (cpupools: %s): create it (xl cpupool-create) or "
                    "set the pool's cpupool", op->pi.name_label, op->a.pool_uuid,
                    op->pi.cpupool, names);
    else
        rc = GP_ERR(ctx, GP_ERR_NO_PLACEMENT,
                    "pool %s (%s) places its VMs in Xen cpupool '%s', which holds no "
                    "pCPU", op->pi.name_label, op->a.pool_uuid, op->pi.cpupool);
    free(names);
    GP_PARAM(ctx, "pool", "%s", op->a.pool_uuid);
    GP_PARAM(ctx, "cpupool", "%s", op->pi.cpupool);
    GP_PARAM(ctx, "vm", "%s", op->v.uuid);
    return rc;
}

/* Fill op->req from the pool's inputs, the VM and the arguments; refuses
 * an unknown vCPU count or memory size; leaves op->req pointing into op. */
static int assign_build_request(gp_ctx *ctx, assign_op *op)
{
    gp_place_request *req = &op->req;
    int rc;

    memset(req, 0, sizeof(*req));
    req->policy = op->pi.policy;
    req->pin_mode = op->pi.pin;
    req->cpu_overcommit = op->pi.overcommit;
    req->pool_gpus = (const char *const *)op->pi.gpus;
    req->n_pool_gpus = op->pi.n_gpus;
    req->existing = op->pi.existing;
    req->n_existing = op->pi.n_existing;
    req->vm_vcpus = op->args->vcpus ? op->args->vcpus : op->v.vcpus;
    req->vm_memory_mib = op->args->memory_mib ? op->args->memory_mib : op->v.memory_mib;
    req->force_pci_id = op->args->pci_id ? op->canon : NULL;
    req->strategy = op->pi.strategy;
    rc = assign_limit_to_cpupool(ctx, op);
    if (rc)
        return rc;
    if (req->vm_vcpus <= 0 || req->vm_memory_mib == 0) {
        char lb[320];
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT,
                    "the %s of VM %s is unknown: give it explicitly",
                    req->vm_vcpus <= 0 ? "vCPU count" : "memory size",
                    gp_vm_label(op->v.name_label, op->v.uuid, lb, sizeof(lb)));
        GP_PARAM(ctx, "vm", "%s", op->v.uuid);
        return rc;
    }
    return GP_OK;
}

/* Place the VM (gp_place) into op->pl; on failure placement's error with
 * the VM and pool as params; leaves op->pl for op's dispose. */
static int assign_place_once(gp_ctx *ctx, assign_op *op)
{
    gp_error_info perr;
    int rc;

    gp_error_info_init(&perr);
    rc = gp_place(op->host, &op->req, &op->pl, &perr);
    if (rc) {
        gp_err_copy(ctx->err, &perr);
        if (ctx->err->code == GP_OK)
            GP_ERR(ctx, rc, "placement failed");
        GP_PARAM(ctx, "vm", "%s", op->v.uuid);
        GP_PARAM(ctx, "pool", "%s", op->a.pool_uuid);
    }
    gp_error_info_dispose(&perr);
    return rc;
}

/* Mark the assignments of this pool whose VM the driver reports halted as
 * movable (op->movable, op->movable_names); *n counts them.  A VM the
 * driver cannot find, or that is running, paused or in any other state,
 * stays put.  Keeps ctx->err as it was; fails only for lack of memory. */
static int assign_find_movable(gp_ctx *ctx, assign_op *op, size_t *n)
{
    const gp_place_inputs *pi = &op->pi;
    gp_error_info saved;

    *n = 0;
    if (!pi->n_existing)
        return GP_OK;
    op->movable = calloc(pi->n_existing, sizeof(*op->movable));
    op->movable_names = calloc(pi->n_existing, sizeof(*op->movable_names));
    if (!op->movable || !op->movable_names)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    gp_error_info_init(&saved);
    gp_err_copy(&saved, ctx->err);
    for (size_t i = 0; i < pi->n_existing; i++) {
        gp_vm v;
        if (strcmp(pi->existing_pool[i], op->a.pool_uuid) || pi->existing[i].memory_in_free)
            continue;
        gp_vm_init(&v);
        if (op->live) {
            /* Non-transactional driver: the states read before the lock
             * (no hypervisor round trip while it is held). */
            for (size_t j = 0; j < op->n_live; j++)
                if (!strcasecmp(op->live[j].uuid, pi->existing_vm[i]) &&
                    op->live[j].state == GP_VM_HALTED) {
                    op->movable[i] = true;
                    op->movable_names[i] = gp_strdup(op->live[j].name_label);
                    (*n)++;
                }
        } else if (gp_ctx_vm_get(ctx, pi->existing_vm[i], &v) == GP_OK &&
                   v.state == GP_VM_HALTED) {
            op->movable[i] = true;
            op->movable_names[i] = v.name_label;
            v.name_label = NULL;
            (*n)++;
        }
        gp_vm_dispose(&v);
    }
    gp_err_copy(ctx->err, &saved);
    gp_error_info_dispose(&saved);
    return GP_OK;
}

/* gp_place() found no room: under numa-policy required, without a forced
 * GPU, ask gp_place_replan() to move halted VMs of the pool.  Success
 * leaves the moves in op->rp and the new VM's placement in op->pl; a
 * refusal keeps placement's error when nothing could move, else re-plan's
 * ("... even by moving the N halted VMs"), with the VM and pool as params. */
static int assign_replan(gp_ctx *ctx, assign_op *op)
{
    gp_error_info perr;
    size_t n_movable;
    int rc;

    if (op->pi.policy != GP_NUMA_REQUIRED || op->req.force_pci_id)
        return GP_ERR_NO_PLACEMENT;
    rc = assign_find_movable(ctx, op, &n_movable);
    if (rc)
        return rc;
    if (!n_movable)
        return GP_ERR_NO_PLACEMENT;
    gp_error_info_init(&perr);
    rc = gp_place_replan(op->host, &op->req, op->movable, 0, &op->rp, &perr);
    if (rc) {
        gp_err_copy(ctx->err, &perr);
        if (ctx->err->code == GP_OK)
            GP_ERR(ctx, rc, "placement failed");
        GP_PARAM(ctx, "vm", "%s", op->v.uuid);
        GP_PARAM(ctx, "pool", "%s", op->a.pool_uuid);
    } else {
        gp_err_clear(ctx->err);
        gp_placement_dispose(&op->pl);
        op->pl = op->rp.vm;
        gp_placement_init(&op->rp.vm);
    }
    gp_error_info_dispose(&perr);
    return rc;
}

/* Place the VM into op->pl, re-planning halted VMs of the pool when there is
 * no room otherwise (assign_replan); leaves op->pl and op->rp for op's
 * dispose. */
static int assign_place(gp_ctx *ctx, assign_op *op)
{
    int rc = assign_place_once(ctx, op);
    if (rc != GP_ERR_NO_PLACEMENT)
        return rc;
    return assign_replan(ctx, op);
}

/* The assignment of a moved VM: old with the GPU, node, pCPUs, memory node
 * and reason of its new placement pl (pCPUs and reason moved out of pl),
 * the companions of its new GPU, created kept. */
static int moved_assignment(gp_ctx *ctx, const gp_assignment *old, gp_placement *pl,
                            gp_assignment *a)
{
    snprintf(a->vm_uuid, sizeof(a->vm_uuid), "%s", old->vm_uuid);
    snprintf(a->pool_uuid, sizeof(a->pool_uuid), "%s", old->pool_uuid);
    snprintf(a->pci_id, sizeof(a->pci_id), "%s", pl->pci_id);
    a->vm_name_label = old->vm_name_label ? gp_strdup(old->vm_name_label) : NULL;
    a->pool_name_label = gp_strdup(old->pool_name_label ? old->pool_name_label : "");
    a->created = gp_strdup(old->created);
    a->numa_node = pl->node;
    a->pcpus = pl->pcpus;
    a->n_pcpus = pl->n_pcpus;
    pl->pcpus = NULL;
    pl->n_pcpus = 0;
    a->memory_node = pl->memory_node;
    a->reason = pl->reason;
    pl->reason = NULL;
    a->pin_mode = old->pin_mode;
    a->vcpus = old->vcpus;
    a->memory_mib = old->memory_mib;
    a->tenant = gp_strdup(old->tenant ? old->tenant : GP_TENANT_DEFAULT);
    a->lease_until = old->lease_until ? gp_strdup(old->lease_until) : NULL;
    gp_assignment_memory_certainty(ctx->drv.ops, a);
    if ((old->vm_name_label && !a->vm_name_label) || !a->pool_name_label || !a->created ||
        !a->tenant || (old->lease_until && !a->lease_until))
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    return load_companions(ctx, a->pci_id, &a->companions, &a->n_companions);
}

/* Audit row "vm-gpu-replan" of one moved VM (before and after as JSON). */
static int replan_audit(gp_ctx *ctx, const gp_assignment *before, const gp_assignment *after)
{
    char *b = assignment_json(before), *a = assignment_json(after);
    int rc = b && a ? gp_store_audit(&ctx->store, "vm-gpu-replan", after->vm_uuid, b, a)
                    : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    free(b);
    free(a);
    return rc;
}

/* Compute op->rp's moves inside the transaction: read each moved VM's row
 * into op->moved_old and make op->moved.  Nothing when nothing moves. */
static int assign_compute_moves(gp_ctx *ctx, assign_op *op)
{
    size_t n = op->rp.n_moves;
    int rc;

    if (!n)
        return GP_OK;
    op->moved_old = calloc(n, sizeof(*op->moved_old));
    op->moved = calloc(n, sizeof(*op->moved));
    if (!op->moved_old || !op->moved)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        gp_assignment_init(&op->moved_old[k]);
        gp_assignment_init(&op->moved[k]);
    }
    op->n_moved = n;
    for (size_t k = 0; k < n; k++) {
        size_t idx = op->rp.moves[k].existing;
        const char *vm = op->pi.existing_vm[idx];
        gp_assignment *as = NULL;
        size_t na = 0;
        rc = gp_assignments_read(ctx, vm, &as, &na);
        if (rc)
            return rc;
        if (na != 1) {
            gp_assignment_list_free(as, na);
            rc = GP_ERR(ctx, GP_ERR_DB, "the assignment of VM %s to move is gone", vm);
            GP_PARAM(ctx, "vm", "%s", vm);
            return rc;
        }
        take_one(as, na, &op->moved_old[k]);
        if (op->movable_names[idx]) {
            op->moved_old[k].vm_name_label = op->movable_names[idx];
            op->movable_names[idx] = NULL;
        }
        rc = moved_assignment(ctx, &op->moved_old[k], &op->rp.moves[k].placement,
                              &op->moved[k]);
        if (rc)
            return rc;
    }
    return GP_OK;
}

/* Write op->moved into the database, inside the transaction (all rows
 * deleted first, then inserted: moved VMs may swap GPUs, and pci_id is
 * UNIQUE), one audit row per move. */
static int assign_write_moves(gp_ctx *ctx, assign_op *op)
{
    size_t n = op->n_moved;
    int rc;

    for (size_t k = 0; k < n; k++) {
        rc = gp_assignment_delete(ctx, op->moved[k].vm_uuid);
        if (rc)
            return rc;
    }
    for (size_t k = 0; k < n; k++) {
        rc = gp_assignment_insert(ctx, &op->moved[k]);
        if (rc)
            return rc;
        rc = replan_audit(ctx, &op->moved_old[k], &op->moved[k]);
        if (rc)
            return rc;
    }
    return GP_OK;
}

/* Driver: record each moved VM's new boot-time GPU and affinity; for a
 * non-transactional driver each attempted record is undone on failure
 * (op->n_moved_recorded). */
static int assign_record_moves(gp_ctx *ctx, assign_op *op)
{
    for (size_t k = 0; k < op->n_moved; k++) {
        gp_boot_config bc;
        int rc;
        gp_assignment_boot_config(&op->moved[k], &bc);
        rc = op->drv->vm_record_boot(&ctx->drv, op->moved[k].vm_uuid, &bc);
        if (!ctx->drv_entry->transactional)
            op->n_moved_recorded = k + 1;
        if (rc) {
            if (ctx->err->code == GP_OK)
                GP_ERR(ctx, rc, "driver %s could not record the boot configuration of VM %s",
                       GP_CTX_DRIVER_NAME(ctx), op->moved[k].vm_uuid);
            return rc;
        }
    }
    return GP_OK;
}

/* Make op->a from the decision (moving names, pCPUs and reason out of op),
 * stamped now, with the GPU's companions; leaves op->a for op's dispose. */
static int assign_fill(gp_ctx *ctx, assign_op *op)
{
    gp_assignment *a = &op->a;
    char now[32];

    snprintf(a->vm_uuid, sizeof(a->vm_uuid), "%s", op->v.uuid);
    a->vm_name_label = op->v.name_label;
    op->v.name_label = NULL;
    snprintf(a->pci_id, sizeof(a->pci_id), "%s", op->pl.pci_id);
    a->pool_name_label = op->pi.name_label;
    op->pi.name_label = NULL;
    a->numa_node = op->pl.node;
    a->pcpus = op->pl.pcpus;
    a->n_pcpus = op->pl.n_pcpus;
    op->pl.pcpus = NULL;
    op->pl.n_pcpus = 0;
    a->memory_node = op->pl.memory_node;
    a->pin_mode = op->pi.pin;
    gp_assignment_memory_certainty(ctx->drv.ops, a);
    a->vcpus = op->req.vm_vcpus;
    a->memory_mib = op->req.vm_memory_mib;
    a->reason = op->pl.reason;
    op->pl.reason = NULL;
    if (ctx->host_name && a->reason) {
        /* On an XCP-ng pool the reason names the host. */
        char *r = gp_asprintf("host %s, %s", ctx->host_name, a->reason);
        if (!r)
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        free(a->reason);
        a->reason = r;
    }
    gp_now_iso(now);
    a->created = gp_strdup(now);
    a->tenant = gp_strdup(op->tenant ? op->tenant : GP_TENANT_DEFAULT);
    if (!a->created || !a->tenant)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    if (op->args->lease_seconds > 0) {
        char until[32];
        gp_time_iso(gp_now() + op->args->lease_seconds, until);
        if (!(a->lease_until = gp_strdup(until)))
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    return load_companions(ctx, a->pci_id, &a->companions, &a->n_companions);
}

/* Audit row "vm-gpu-assign" (after = the assignment as JSON), inside the
 * transaction; leaves nothing else. */
static int assign_audit(gp_ctx *ctx, const gp_assignment *a)
{
    char *after = assignment_json(a);
    int rc;

    if (!after)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    rc = gp_store_audit(&ctx->store, "vm-gpu-assign", a->vm_uuid, NULL, after);
    free(after);
    return rc;
}

/* Driver last: record the boot-time GPU and affinity; a non-transactional
 * driver is marked for undo (op->need_undo), whether or not it failed. */
static int assign_record_boot(gp_ctx *ctx, assign_op *op)
{
    gp_boot_config bc;
    int rc;

    gp_assignment_boot_config(&op->a, &bc);
    rc = op->drv->vm_record_boot(&ctx->drv, op->a.vm_uuid, &bc);
    if (rc && ctx->err->code == GP_OK)
        GP_ERR(ctx, rc, "driver %s could not record the boot configuration of VM %s",
               GP_CTX_DRIVER_NAME(ctx), op->a.vm_uuid);
    op->need_undo = !ctx->drv_entry->transactional;
    return rc;
}

/* After a failure: roll the transaction back and, if the driver recorded
 * the boot configuration, clear it again (keeping ctx->err). */
static void assign_undo(gp_ctx *ctx, assign_op *op)
{
    gp_store_rollback(&ctx->store);
    if (op->need_undo)
        undo_record_boot(ctx, op->drv, op->a.vm_uuid, NULL);
    for (size_t k = 0; k < op->n_moved_recorded; k++) {
        gp_boot_config bc;
        gp_assignment_boot_config(&op->moved_old[k], &bc);
        undo_record_boot(ctx, op->drv, op->moved_old[k].vm_uuid, &bc);
    }
}

/* ---- vm-gpu-assign under a journaled driver (xapi) ------------------------------ */

/* Before the lock: settle intents left by dead calls, then read what xapi
 * says of the VM and of the host's functions. */
static int assign_before_lock(gp_ctx *ctx, const gp_vm *v, void *arg)
{
    assign_op *op = arg;
    int rc = gp_journal_recover(ctx, NULL);
    if (rc == GP_OK)
        rc = gp_xapi_assign_facts(ctx, v->uuid, &op->held, &op->n_held, &op->host_mask);
    if (rc == GP_OK)   /* the VM's tags: an xapi round trip, so before the lock */
        rc = gp_gov_tenant_of(ctx, v->uuid, op->args->tenant, &op->tenant);
    return rc;
}

static const gp_xapi_held *held_find(const assign_op *op, const char *pci_id)
{
    for (size_t i = 0; i < op->n_held; i++)
        if (!strcmp(op->held[i].pci_id, pci_id) && strcasecmp(op->held[i].vm_uuid, op->v.uuid))
            return &op->held[i];
    return NULL;
}

/* Inside the lock, after the pool's inputs are read: what only xapi
 * knows.  The VM is in no other call's intent; the pool's cpupool is
 * Pool-0 (xenopsd creates every domain in cpupool 0); numa-policy required
 * gets pin-mode hard (only a VCPUs_params:mask reaches xenopsd); GPUs an
 * intent reserves or xapi gives to another VM (other-config:pci, VGPU) are
 * not offered to placement. */
static int assign_journal_checks(gp_ctx *ctx, assign_op *op)
{
    char **reserved = NULL;
    size_t n_reserved = 0, k = 0;
    int rc;

    rc = gp_journal_busy(ctx, "vm", op->v.uuid);
    if (rc)
        return rc;
    if (strcmp(op->pi.cpupool, "Pool-0")) {
        rc = GP_ERR(ctx, GP_ERR_NOT_SUPPORTED,
                    "pool %s places its VMs in cpupool '%s', but xenopsd creates every "
                    "domain in cpupool 0 (Pool-0): set the pool's cpupool to Pool-0",
                    op->pi.name_label, op->pi.cpupool);
        GP_PARAM(ctx, "pool", "%s", op->a.pool_uuid);
        GP_PARAM(ctx, "cpupool", "%s", op->pi.cpupool);
        return rc;
    }
    if (op->pi.policy == GP_NUMA_REQUIRED)
        op->pi.pin = GP_PIN_HARD;
    rc = gp_journal_reserved(ctx, &reserved, &n_reserved);
    if (rc)
        return rc;
    for (size_t i = 0; i < op->pi.n_gpus; i++) {
        const char *g = op->pi.gpus[i];
        bool res = false;
        for (size_t j = 0; j < n_reserved && !res; j++)
            res = !strcmp(reserved[j], g);
        const gp_xapi_held *h = held_find(op, g);
        if (op->args->pci_id && !strcmp(g, op->canon) && (res || h)) {
            if (h) {
                rc = GP_ERR(ctx, GP_ERR_GPU_ASSIGNED,
                            "GPU %s is %s: a GPU is held by at most one VM", g, h->how);
                GP_PARAM(ctx, "pci-id", "%s", g);
                GP_PARAM(ctx, "vm", "%s", h->vm_uuid);
            } else {
                rc = gp_journal_busy(ctx, "gpu", g);
            }
        }
        if (res || h) {
            free(op->pi.gpus[i]);
            continue;
        }
        op->pi.gpus[k++] = op->pi.gpus[i];
    }
    /* Freed entries were skipped; the tail holds moved-from pointers. */
    for (size_t i = k; i < op->pi.n_gpus; i++)
        op->pi.gpus[i] = NULL;
    op->pi.n_gpus = k;
    gp_strv_free(reserved, n_reserved);
    return rc;
}

/* Step 1's end: the intent (the VM and every moved VM, the GPUs they will
 * hold), committed; the lock is released. */
static int assign_journal_open(gp_ctx *ctx, assign_op *op)
{
    int rc = gp_journal_begin(ctx, "vm-gpu-assign", &op->intent);
    if (rc == GP_OK)
        rc = gp_journal_add(ctx, op->intent, "vm", op->a.vm_uuid, NULL);
    if (rc == GP_OK)
        rc = gp_journal_add(ctx, op->intent, "gpu", op->a.pci_id, NULL);
    for (size_t k = 0; rc == GP_OK && k < op->n_moved; k++) {
        rc = gp_journal_add(ctx, op->intent, "vm", op->moved[k].vm_uuid, NULL);
        if (rc == GP_OK)
            rc = gp_journal_add(ctx, op->intent, "gpu", op->moved[k].pci_id, NULL);
    }
    if (rc == GP_OK)   /* counts against the quota until the intent closes */
        rc = gp_gov_inflight_add(ctx, op->intent, op->a.tenant, op->a.pool_uuid);
    if (rc == GP_OK)
        rc = gp_store_commit(&ctx->store);
    return rc;
}

/* Steps 2 and 3: write xapi without the lock, then record the assignment
 * (and moves) and close the intent in one short transaction.  Any failure
 * settles the intent: xapi is made to say what sqlite (unchanged) says. */
static int assign_journal_finish(gp_ctx *ctx, assign_op *op)
{
    gp_boot_config bc;
    int rc;

    gp_assignment_boot_config(&op->a, &bc);
    rc = op->drv->vm_record_boot(&ctx->drv, op->a.vm_uuid, &bc);
    for (size_t k = 0; rc == GP_OK && k < op->n_moved; k++) {
        gp_assignment_boot_config(&op->moved[k], &bc);
        rc = op->drv->vm_record_boot(&ctx->drv, op->moved[k].vm_uuid, &bc);
    }
    if (rc == GP_OK)
        rc = gp_store_begin(&ctx->store);
    if (rc == GP_OK)
        rc = assign_write_moves(ctx, op);
    if (rc == GP_OK)
        rc = gp_assignment_insert(ctx, &op->a);
    if (rc == GP_OK)
        rc = assign_audit(ctx, &op->a);
    rc = gp_journal_close(ctx, op->intent, rc);
    return rc;
}

int gp_vm_gpu_assign_local(gp_ctx *ctx, const char *vm, const gp_assign_args *args,
                           gp_assignment *out, gp_assignment **moved_out, size_t *n_moved_out)
{
    static const gp_assign_args no_args;
    assign_op op;
    bool journaled;
    int rc;

    if (moved_out)
        *moved_out = NULL;
    if (n_moved_out)
        *n_moved_out = 0;
    assign_op_init(&op, args ? args : &no_args);
    gp_err_clear(ctx->err);
    rc = assign_check_args(ctx, vm, &op);
    if (rc)
        goto out;
    /* Facts and driver before the write lock. */
    rc = gp_ctx_drv_ops(ctx, &op.drv);
    if (rc)
        goto out;
    rc = gp_host_get(ctx, &op.host);
    if (rc)
        goto out;
    op.rollback = true;
    journaled = ctx->drv_entry->journaled;
    rc = assign_list_live(ctx, &op);
    if (rc)
        goto out;
    rc = begin_on_halted_vm(ctx, op.drv, vm, "vm-gpu-assign", &op.v,
                            journaled ? assign_before_lock : NULL, &op);
    if (rc)
        goto out;
    rc = assign_check_vm_has_none(ctx, &op.v);
    if (rc)
        goto out;
    rc = assign_resolve_pool(ctx, &op);
    if (rc)
        goto out;
    rc = gp_place_inputs_load(ctx, op.host, op.a.pool_uuid, op.live, op.n_live, &op.pi);
    if (rc)
        goto out;
    /* The tenant's quota, in this transaction (gov.c). */
    if (!op.tenant)
        rc = gp_gov_tenant_of(ctx, op.v.uuid, op.args->tenant, &op.tenant);
    if (rc == GP_OK)
        rc = gp_gov_access_check(ctx, op.tenant, op.a.pool_uuid, op.pi.name_label);
    if (rc == GP_OK)
        rc = gp_gov_quota_check(ctx, op.tenant, op.a.pool_uuid, op.pi.name_label);
    /* On an XCP-ng pool the quota counts every host's GPUs: a slot in
     * xapi, claimed atomically (govcl.c). */
    if (rc == GP_OK)
        rc = gp_govcl_quota_claim(ctx, op.v.uuid, op.tenant, op.a.pool_uuid, op.pi.name_label,
                                  slot_stale, &op.slot);
    if (rc)
        goto out;
    if (journaled) {
        rc = assign_journal_checks(ctx, &op);
        if (rc)
            goto out;
    }
    rc = assign_build_request(ctx, &op);
    if (rc)
        goto out;
    rc = assign_place(ctx, &op);
    if (rc)
        goto out;
    rc = assign_compute_moves(ctx, &op);
    if (rc)
        goto out;
    rc = assign_fill(ctx, &op);
    if (rc)
        goto out;
    if (journaled) {
        rc = assign_journal_open(ctx, &op);
        if (rc)
            goto out;
        op.rollback = false;   /* committed: failures settle the intent */
        rc = assign_journal_finish(ctx, &op);
        if (rc)
            goto out;
        goto done;
    }
    rc = assign_write_moves(ctx, &op);
    if (rc)
        goto out;
    rc = gp_assignment_insert(ctx, &op.a);
    if (rc)
        goto out;
    rc = assign_audit(ctx, &op.a);
    if (rc)
        goto out;
    rc = assign_record_moves(ctx, &op);
    if (rc)
        goto out;
    rc = assign_record_boot(ctx, &op);
    if (rc)
        goto out;
    rc = gp_store_commit(&ctx->store);
    if (rc)
        goto out;
    op.need_undo = false;
    op.n_moved_recorded = 0;
done:
    /* Fair share pool-wide: this host's share of the use changed (reqcl.c). */
    if (gp_cluster_on(ctx) && gp_reqcl_usage_publish(ctx) != GP_OK)
        gp_err_clear(ctx->err);
    if (out) {
        gp_assignment_dispose(out);
        *out = op.a;
        gp_assignment_init(&op.a);
    }
    if (moved_out && n_moved_out) {
        *moved_out = op.moved;
        *n_moved_out = op.n_moved;
        op.moved = NULL;
    }
out:
    if (rc && op.rollback)
        assign_undo(ctx, &op);
    if (rc && op.slot) {
        /* Not assigned: the slot goes (after the rollback, so the lock is
         * free; a crash before this leaves it for the next claim here). */
        gp_error_info saved;
        gp_error_info_init(&saved);
        gp_err_copy(&saved, ctx->err);
        gp_govcl_slot_drop(ctx, op.v.uuid, op.slot);
        gp_err_copy(ctx->err, &saved);
        gp_error_info_dispose(&saved);
    }
    assign_op_dispose(&op);
    return rc;
}

/* Journaled release, before the lock: settle what dead calls left, and
 * name the xapi user in the audit log. */
static int release_before_lock(gp_ctx *ctx, const gp_vm *v, void *arg)
{
    (void)v;
    (void)arg;
    gp_xapi_audit_caller(ctx);
    return gp_journal_recover(ctx, NULL);
}

int gp_vm_gpu_release_local(gp_ctx *ctx, const char *vm)
{
    const gp_driver_ops *drv;
    gp_assignment *as = NULL;
    size_t n = 0;
    gp_vm v;
    gp_boot_config bc;
    char *before = NULL;
    bool need_undo = false;
    int64_t intent = 0;
    int rc;

    gp_vm_init(&v);
    gp_err_clear(ctx->err);
    rc = gp_ctx_drv_ops(ctx, &drv);
    if (rc)
        return rc;
    rc = begin_on_halted_vm(ctx, drv, vm, "vm-gpu-release", &v,
                            ctx->drv_entry->journaled ? release_before_lock : NULL, NULL);
    if (rc)
        goto out;
    if (ctx->drv_entry->journaled) {
        rc = gp_journal_busy(ctx, "vm", v.uuid);
        if (rc)
            goto out;
    }
    rc = gp_assignments_read(ctx, v.uuid, &as, &n);
    if (rc)
        goto out;
    if (!n) {
        char lb[320];
        rc = GP_ERR(ctx, GP_ERR_VM_NO_GPU, "VM %s has no GPU to release",
                    gp_vm_label(v.name_label, v.uuid, lb, sizeof(lb)));
        GP_PARAM(ctx, "vm", "%s", v.uuid);
        goto out;
    }
    as[0].vm_name_label = gp_strdup(v.name_label);
    before = assignment_json(&as[0]);
    if (!before) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (ctx->drv_entry->journaled) {
        /* Step 1: the intent; 2: xapi; 3: the row goes, the intent closes. */
        rc = gp_journal_begin(ctx, "vm-gpu-release", &intent);
        if (rc == GP_OK)
            rc = gp_journal_add(ctx, intent, "vm", v.uuid, NULL);
        if (rc == GP_OK)
            rc = gp_journal_add(ctx, intent, "gpu", as[0].pci_id, NULL);
        if (rc == GP_OK)
            rc = gp_store_commit(&ctx->store);
        if (rc)
            goto out;
        rc = drv->vm_record_boot(&ctx->drv, v.uuid, NULL);
        if (rc == GP_OK)
            rc = gp_store_begin(&ctx->store);
        if (rc == GP_OK)
            rc = gp_assignment_delete(ctx, v.uuid);
        if (rc == GP_OK)
            rc = gp_store_audit(&ctx->store, "vm-gpu-release", v.uuid, before, NULL);
        rc = gp_journal_close(ctx, intent, rc);
        if (rc == GP_OK && gp_govcl_slot_drop(ctx, v.uuid, NULL) != GP_OK)
            gp_err_clear(ctx->err);   /* collected by this host's next claim */
        if (rc == GP_OK && gp_reqcl_usage_publish(ctx) != GP_OK)
            gp_err_clear(ctx->err);   /* republished at the next change */
        goto out;
    }
    rc = gp_assignment_delete(ctx, v.uuid);
    if (rc)
        goto out;
    rc = gp_store_audit(&ctx->store, "vm-gpu-release", v.uuid, before, NULL);
    if (rc)
        goto out;
    rc = drv->vm_record_boot(&ctx->drv, v.uuid, NULL);
    if (rc) {
        if (ctx->err->code == GP_OK)
            GP_ERR(ctx, rc, "driver %s could not clear the boot configuration of VM %s",
                   GP_CTX_DRIVER_NAME(ctx), v.uuid);
        need_undo = !ctx->drv_entry->transactional;
        goto out;
    }
    need_undo = !ctx->drv_entry->transactional;
    rc = gp_store_commit(&ctx->store);
    if (!rc)
        need_undo = false;
out:
    if (rc) {
        gp_store_rollback(&ctx->store);
        if (need_undo && n) {
            gp_assignment_boot_config(&as[0], &bc);
            undo_record_boot(ctx, drv, v.uuid, &bc);
        }
    }
    free(before);
    gp_assignment_list_free(as, n);
    gp_vm_dispose(&v);
    return rc;
}
