/*
 * vm.c - VMs as the driver reports them, and the simulated driver's VM
 * lifecycle (create, start, pause, shutdown, destroy).
 */
#include "ops/ops.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Halted VMs the driver knows only by uuid (plain Xen): what gpupool's
 * assignments know of them. */
typedef struct {
    char uuid[37];
    int vcpus;
    uint64_t memory_mib;
} known_vm;

static int known_vms(gp_ctx *ctx, known_vm **out, size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    known_vm *v = NULL;
    size_t n = 0, cap = 0;
    int rc, s;

    *out = NULL;
    *n_out = 0;
    rc = gp_store_prepare(&ctx->store, "SELECT vm_uuid, vcpus, memory_mib FROM assignments"
                                       " ORDER BY vm_uuid", &st);
    if (rc)
        return rc;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (gp_array_reserve((void **)&v, &cap, n, sizeof(*v))) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        snprintf(v[n].uuid, sizeof(v[n].uuid), "%s", (const char *)sqlite3_column_text(st, 0));
        v[n].vcpus = sqlite3_column_int(st, 1);
        v[n].memory_mib = (uint64_t)sqlite3_column_int64(st, 2);
        n++;
    }
    if (s != SQLITE_DONE)
        rc = gp_store_error(&ctx->store, s, "reading assignments");
out:
    sqlite3_finalize(st);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n_out = n;
    return GP_OK;
}

static int vm_cmp(const void *a, const void *b)
{
    const gp_vm *x = a, *y = b;
    int c = strcmp(x->name_label ? x->name_label : "", y->name_label ? y->name_label : "");
    return c ? c : strcmp(x->uuid, y->uuid);
}

/* Add the assigned VMs the driver does not list (no live domain) as halted. */
static int add_known_halted(gp_ctx *ctx, gp_vm **vms, size_t *n)
{
    known_vm *k = NULL;
    size_t nk = 0, added = 0;
    int rc = known_vms(ctx, &k, &nk);
    if (rc || nk == 0)
        goto out;
    gp_vm *nv = realloc(*vms, (*n + nk + 1) * sizeof(*nv));
    if (!nv) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    *vms = nv;
    for (size_t i = 0; i < nk; i++) {
        bool live = false;
        for (size_t j = 0; j < *n && !live; j++)
            live = !strcasecmp(nv[j].uuid, k[i].uuid);
        if (live)
            continue;
        gp_vm *v = &nv[*n + added];
        gp_vm_init(v);
        snprintf(v->uuid, sizeof(v->uuid), "%s", k[i].uuid);
        v->name_label = gp_strdup("");
        if (!v->name_label) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        v->state = GP_VM_HALTED;
        v->vcpus = k[i].vcpus;
        v->memory_mib = k[i].memory_mib;
        added++;
    }
out:
    if (added) {
        *n += added;
        qsort(*vms, *n, sizeof(**vms), vm_cmp);
    }
    free(k);
    return rc;
}

int gp_ctx_vm_list(gp_ctx *ctx, gp_vm **out, size_t *n_out)
{
    const gp_driver_ops *drv;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_ctx_drv_ops(ctx, &drv);
    if (rc == GP_OK)
        rc = drv->vm_list(&ctx->drv, out, n_out);
    if (rc == GP_OK && ctx->drv_entry->halted_by_uuid)
        rc = add_known_halted(ctx, out, n_out);
    if (rc) {
        gp_vm_list_free(*out, *n_out);
        *out = NULL;
        *n_out = 0;
    }
    return rc;
}

int gp_vm_list(gp_ctx *ctx, gp_vm **out, size_t *n_out)
{
    gp_err_clear(ctx->err);
    return gp_ctx_vm_list(ctx, out, n_out);
}

/* gp_vm_get for a driver without vm_get: search its list. */
static int vm_search_list(gp_ctx *ctx, const gp_driver_ops *drv, const char *vm, gp_vm *out)
{
    gp_vm *vms = NULL;
    size_t n = 0, found = SIZE_MAX, matches = 0;
    int rc = drv->vm_list(&ctx->drv, &vms, &n);

    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(vms[i].uuid, vm)) {
            found = i;
            matches = 1;
            break;
        }
    for (size_t i = 0; found == SIZE_MAX && i < n; i++)
        if (vms[i].name_label && !strcmp(vms[i].name_label, vm)) {
            if (!matches)
                found = i;
            matches++;
        }
    if (!matches) {
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_VM, "no VM with uuid or name-label '%s'", vm);
        GP_PARAM(ctx, "vm", "%s", vm);
    } else if (matches > 1) {
        rc = GP_ERR(ctx, GP_ERR_VM_AMBIGUOUS,
                    "name-label '%s' matches %zu VMs: use the uuid", vm, matches);
        GP_PARAM(ctx, "vm", "%s", vm);
    } else {
        gp_vm_dispose(out);
        *out = vms[found];
        gp_vm_init(&vms[found]);
    }
    gp_vm_list_free(vms, n);
    return rc;
}

int gp_ctx_vm_get(gp_ctx *ctx, const char *vm, gp_vm *out)
{
    const gp_driver_ops *drv;
    int rc = gp_ctx_drv_ops(ctx, &drv);
    if (rc)
        return rc;
    rc = drv->vm_get ? drv->vm_get(&ctx->drv, vm, out) : vm_search_list(ctx, drv, vm, out);
    /* A halted VM known only by uuid: its vCPUs and memory from its
     * assignment, if it has one. */
    if (rc == GP_OK && out->state == GP_VM_HALTED && out->vcpus == 0 &&
        ctx->drv_entry->halted_by_uuid) {
        sqlite3_stmt *st = NULL;
        rc = gp_store_prepare(&ctx->store, "SELECT vcpus, memory_mib FROM assignments"
                                           " WHERE lower(vm_uuid) = lower(?1)", &st);
        if (rc == GP_OK) {
            sqlite3_bind_text(st, 1, out->uuid, -1, SQLITE_STATIC);
            int s = sqlite3_step(st);
            if (s == SQLITE_ROW) {
                out->vcpus = sqlite3_column_int(st, 0);
                out->memory_mib = (uint64_t)sqlite3_column_int64(st, 1);
            } else if (s != SQLITE_DONE) {
                rc = gp_store_error(&ctx->store, s, "reading assignments");
            }
        }
        sqlite3_finalize(st);
    }
    return rc;
}

int gp_vm_get(gp_ctx *ctx, const char *vm, gp_vm *out)
{
    const gp_driver_ops *drv;
    int rc;

    gp_err_clear(ctx->err);
    rc = gp_ctx_drv_ops(ctx, &drv);
    if (rc)
        return rc;
    if (!vm || !*vm) {
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_VM, "no VM given");
        GP_PARAM(ctx, "vm", "%s", "");
        return rc;
    }
    return gp_ctx_vm_get(ctx, vm, out);
}

/* ---- the simulated driver's VM lifecycle ---------------------------------- */

static int sim_only(gp_ctx *ctx, const char *what)
{
    const gp_driver_entry *e;
    int rc = gp_ctx_driver(ctx, &e);
    if (rc)
        return rc;
    if (e->ops != &gp_driver_sim) {
        rc = GP_ERR(ctx, GP_ERR_NOT_SUPPORTED, "%s is only possible with the sim driver, not %s",
                    what, GP_CTX_DRIVER_NAME(ctx));
        GP_PARAM(ctx, "driver", "%s", GP_CTX_DRIVER_NAME(ctx));
        return rc;
    }
    return GP_OK;
}

/* Audit JSON of a VM (a const gp_vm *). */
static char *vm_json(const void *obj)
{
    const gp_vm *v = obj;
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "uuid", json_object_new_string(v->uuid));
    json_object_object_add(o, "name_label", json_object_new_string(v->name_label ? v->name_label : ""));
    json_object_object_add(o, "power_state", json_object_new_string(gp_vm_state_name(v->state)));
    json_object_object_add(o, "domid", json_object_new_int(v->domid));
    json_object_object_add(o, "vcpus", json_object_new_int(v->vcpus));
    json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)v->memory_mib));
    return gp_json_take_text(o);
}

int gp_sim_vm_create(gp_ctx *ctx, const char *name_label, int vcpus,
                     uint64_t memory_mib, char uuid_out[37])
{
    gp_vm v;
    int rc;

    gp_vm_init(&v);
    gp_err_clear(ctx->err);
    rc = sim_only(ctx, "vm-create");
    if (rc)
        return rc;
    if (!name_label || !*name_label) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "a VM needs a non-empty name-label");
        GP_PARAM(ctx, "name-label", "%s", "");
        return rc;
    }
    if (vcpus < 1 || vcpus > 4096) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "vcpus must be 1..4096, not %d", vcpus);
        GP_PARAM(ctx, "vcpus", "%d", vcpus);
        return rc;
    }
    if (memory_mib == 0 || memory_mib > (UINT64_C(1) << 40)) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT,
                    "memory must be 1..%llu MiB, not %llu", 1ULL << 40,
                    (unsigned long long)memory_mib);
        GP_PARAM(ctx, "memory-mib", "%llu", (unsigned long long)memory_mib);
        return rc;
    }
    gp_uuid_generate(v.uuid);
    v.name_label = gp_strdup(name_label);
    if (!v.name_label)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    v.state = GP_VM_HALTED;
    v.vcpus = vcpus;
    v.memory_mib = memory_mib;
    rc = gp_store_begin(&ctx->store);
    if (rc)
        goto out;
    rc = gp_sim_vm_insert(&ctx->drv, &v);
    if (rc)
        goto out;
    rc = gp_store_audit_change(&ctx->store, "vm-create", v.uuid, vm_json, NULL, &v);
    if (rc)
        goto out;
    rc = gp_store_commit(&ctx->store);
    if (rc)
        goto out;
    if (uuid_out)
        snprintf(uuid_out, 37, "%s", v.uuid);
out:
    if (rc)
        gp_store_rollback(&ctx->store);
    gp_vm_dispose(&v);
    return rc;
}

enum sim_action { SIM_START, SIM_PAUSE, SIM_SHUTDOWN, SIM_DESTROY };

static int wrong_state(gp_ctx *ctx, int code, const gp_vm *v, const char *op,
                       const char *needed)
{
    char lb[320];
    GP_ERR(ctx, code, "VM %s is %s; %s needs it %s",
           gp_vm_label(v->name_label, v->uuid, lb, sizeof(lb)), gp_vm_state_name(v->state), op,
           needed);
    GP_PARAM(ctx, "vm", "%s", v->uuid);
    GP_PARAM(ctx, "power-state", "%s", gp_vm_state_name(v->state));
    return code;
}

/* vm-destroy of a halted VM holding no GPU: delete it from the sim
 * driver, inside the transaction. */
static int sim_vm_destroy(gp_ctx *ctx, const gp_vm *before)
{
    char *gpu = NULL;
    int rc;

    if (before->state != GP_VM_HALTED)
        return wrong_state(ctx, GP_ERR_VM_NOT_HALTED, before, "vm-destroy", "halted");
    rc = gp_store_query_text(&ctx->store, "reading assignments",
                             "SELECT pci_id FROM assignments WHERE vm_uuid = ?1",
                             before->uuid, &gpu);
    if (rc)
        goto out;
    if (gpu) {
        char lb[320];
        rc = GP_ERR(ctx, GP_ERR_VM_HAS_GPU,
                    "VM %s holds GPU %s: release it before destroying the VM",
                    gp_vm_label(before->name_label, before->uuid, lb, sizeof(lb)), gpu);
        GP_PARAM(ctx, "vm", "%s", before->uuid);
        GP_PARAM(ctx, "pci-id", "%s", gpu);
        goto out;
    }
    rc = gp_sim_vm_delete(&ctx->drv, before->uuid);
out:
    free(gpu);
    return rc;
}

/* Apply action to the VM (before: its state now) if its state allows it,
 * inside the transaction. */
static int sim_vm_apply(gp_ctx *ctx, enum sim_action action, const gp_vm *before)
{
    switch (action) {
    case SIM_START:
        if (before->state != GP_VM_HALTED)
            return wrong_state(ctx, GP_ERR_VM_NOT_HALTED, before, "vm-start", "halted");
        /* Live domains get the next free domid, like Xen (dom0 is 0). */
        return gp_sim_vm_set_state(&ctx->drv, before->uuid, GP_VM_RUNNING);
    case SIM_PAUSE:
        if (before->state != GP_VM_RUNNING)
            return wrong_state(ctx, GP_ERR_INVALID_ARGUMENT, before, "vm-pause", "running");
        return gp_sim_vm_set_state(&ctx->drv, before->uuid, GP_VM_PAUSED);
    case SIM_SHUTDOWN:
        if (before->state != GP_VM_RUNNING && before->state != GP_VM_PAUSED)
            return wrong_state(ctx, GP_ERR_INVALID_ARGUMENT, before, "vm-shutdown",
                               "running or paused");
        return gp_sim_vm_set_state(&ctx->drv, before->uuid, GP_VM_HALTED);
    case SIM_DESTROY:
        return sim_vm_destroy(ctx, before);
    }
    return GP_OK;
}

static int sim_vm_change(gp_ctx *ctx, const char *vm, enum sim_action action)
{
    static const char *const ops[] = { "vm-start", "vm-pause", "vm-shutdown", "vm-destroy" };
    gp_vm before, after;
    bool rollback = false;
    int rc;

    gp_vm_init(&before);
    gp_vm_init(&after);
    gp_err_clear(ctx->err);
    rc = sim_only(ctx, ops[action]);
    if (rc)
        goto out;
    rc = gp_store_begin(&ctx->store);
    if (rc)
        goto out;
    rollback = true;
    rc = gp_driver_sim.vm_get(&ctx->drv, vm, &before);
    if (rc)
        goto out;
    rc = sim_vm_apply(ctx, action, &before);
    if (rc)
        goto out;
    /* The sim driver's power changes are gpupool's own: its run intervals
     * are exact (governance: GPU-hours running). */
    if (action != SIM_DESTROY)
        rc = gp_gov_power(ctx, before.uuid, action == SIM_START);
    if (rc)
        goto out;
    if (action != SIM_DESTROY) {
        rc = gp_driver_sim.vm_get(&ctx->drv, before.uuid, &after);
        if (rc)
            goto out;
    }
    rc = gp_store_audit_change(&ctx->store, ops[action], before.uuid, vm_json, &before,
                               action == SIM_DESTROY ? NULL : &after);
    if (rc)
        goto out;
    rc = gp_store_commit(&ctx->store);
out:
    if (rc && rollback)
        gp_store_rollback(&ctx->store);
    gp_vm_dispose(&before);
    gp_vm_dispose(&after);
    return rc;
}

int gp_sim_vm_start(gp_ctx *ctx, const char *vm)
{
    return sim_vm_change(ctx, vm, SIM_START);
}

int gp_sim_vm_pause(gp_ctx *ctx, const char *vm)
{
    return sim_vm_change(ctx, vm, SIM_PAUSE);
}

int gp_sim_vm_shutdown(gp_ctx *ctx, const char *vm)
{
    return sim_vm_change(ctx, vm, SIM_SHUTDOWN);
}

int gp_sim_vm_destroy(gp_ctx *ctx, const char *vm)
{
    return sim_vm_change(ctx, vm, SIM_DESTROY);
}
