/*
 * xapi_ops.c - XCP-ng operations of the public API: dom0 access of a PCI
 * function and drift between gpupool's database and xapi's VM records.
 * xapi itself is reached through the xapi driver (drivers/xapi.c).
 */
#include "ops/ops.h"
#include "rpc/rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XAPI_NULL_REF "OpaqueRef:NULL"



static int need_xapi(gp_ctx *ctx)
{
    const gp_driver_entry *e;
    int rc = gp_ctx_driver(ctx, &e);
    if (rc)
        return rc;
    if (e->ops != &gp_driver_xapi) {
        rc = GP_ERR(ctx, GP_ERR_NOT_SUPPORTED,
                    "only the xapi driver (XCP-ng) can do this; the driver in use is %s",
                    GP_CTX_DRIVER_NAME(ctx));
        GP_PARAM(ctx, "driver", "%s", GP_CTX_DRIVER_NAME(ctx));
        return rc;
    }
    return GP_OK;
}

int gp_xapi_dom0_access(gp_ctx *ctx, const char *pci_id, char **status_out)
{
    int rc;

    *status_out = NULL;
    gp_err_clear(ctx->err);
    rc = need_xapi(ctx);
    if (rc == GP_OK)
        rc = gp_xapi_drv_dom0_status(&ctx->drv, pci_id, status_out);
    return rc;
}

void gp_drift_list_free(gp_drift *d, size_t n)
{
    if (!d)
        return;
    for (size_t i = 0; i < n; i++) {
        free(d[i].kind);
        free(d[i].vm_name_label);
        free(d[i].other_config_pci);
        free(d[i].detail);
    }
    free(d);
}

typedef struct {
    gp_drift *v;
    size_t n;
} drift_list;

static int drift_add(gp_ctx *ctx, drift_list *l, const char *kind, const char *vm_uuid,
                     const char *vm_name, const char *pci_id, const char *oc_pci,
                     char *detail /* taken */)
{
    gp_drift *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv) {
        free(detail);
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    l->v = nv;
    gp_drift *d = &nv[l->n];
    memset(d, 0, sizeof(*d));
    snprintf(d->vm_uuid, sizeof(d->vm_uuid), "%s", vm_uuid ? vm_uuid : "");
    snprintf(d->pci_id, sizeof(d->pci_id), "%s", pci_id ? pci_id : "");
    d->kind = strdup(kind);
    d->vm_name_label = gp_strdup(vm_name);
    d->other_config_pci = gp_strdup(oc_pci);
    d->detail = detail;
    l->n++;
    if (!d->kind || !d->detail || (vm_name && !d->vm_name_label) ||
        (oc_pci && !d->other_config_pci))
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    return GP_OK;
}

/* Does the xapi VM record belong on another host (resident there, or
 * affinity to another host)? */
static bool rec_other_host(const gp_xr_value *rec, const char *host)
{
    const char *res = gp_xr_struct_get_string(rec, "resident_on");
    const char *aff = gp_xr_struct_get_string(rec, "affinity");
    if (res && strcmp(res, XAPI_NULL_REF) && *res)
        return strcmp(res, host) != 0;
    if (aff && strcmp(aff, XAPI_NULL_REF) && *aff)
        return strcmp(aff, host) != 0;
    return false;
}

/* Does other-config:pci (oc_pci) name the canonical pci-id? */
static bool oc_pci_names(const char *oc_pci, const char *canon)
{
    bool found = false;
    char *copy = strdup(oc_pci ? oc_pci : ""), *save = NULL;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && !found;
         tok = strtok_r(NULL, ",", &save)) {
        char *slash = strchr(tok, '/');
        gp_pci_addr a;
        char c[GP_PCI_ID_LEN];
        while (*tok == ' ')
            tok++;
        if (gp_pci_addr_parse(slash ? slash + 1 : tok, &a, NULL) == GP_OK &&
            !strcmp(gp_pci_addr_format(&a, c), canon))
            found = true;
    }
    free(copy);
    return found;
}

/* The state of one gp_drift_check between its steps. */
typedef struct {
    const gp_host *hostm;
    const char *host;             /* this host's xapi ref */
    gp_pool *pools;
    size_t n_pools;
    gp_assignment *as;
    size_t n_as;
    gp_xr_value all;              /* every xapi VM record */
    drift_list l;                 /* the drift found */
} drift_op;

static void drift_op_init(drift_op *op)
{
    memset(op, 0, sizeof(*op));
    gp_xr_value_init(&op->all);
}

static void drift_op_dispose(drift_op *op)
{
    gp_drift_list_free(op->l.v, op->l.n);
    gp_pool_list_free(op->pools, op->n_pools);
    gp_assignment_list_free(op->as, op->n_as);
    gp_xr_value_dispose(&op->all);
}

/* Read the host, the pools, the assignments and xapi's VM records into op;
 * leaves what was read for op's dispose. */
static int drift_load(gp_ctx *ctx, drift_op *op)
{
    int rc = need_xapi(ctx);
    if (rc == GP_OK)
        rc = gp_host_get(ctx, &op->hostm);
    if (rc == GP_OK)
        rc = gp_pool_list(ctx, &op->pools, &op->n_pools);
    if (rc == GP_OK)
        rc = gp_assignment_list(ctx, &op->as, &op->n_as);
    if (rc == GP_OK)
        rc = gp_xapi_drv_vm_records(&ctx->drv, &op->all, &op->host);
    return rc;
}

/* Is rec a guest of this host whose other-config:pci names gpu? */
static bool drift_rec_names(const drift_op *op, const gp_xr_value *rec, const char *gpu)
{
    const gp_xr_value *oc = gp_xr_struct_get(rec, "other_config");
    return gp_xapi_rec_is_guest(rec) && !rec_other_host(rec, op->host) &&
           oc_pci_names(gp_xr_struct_get_string(oc, "pci"), gpu);
}

/* Items "shared-gpu" (named by more than one VM) and "foreign-pci" (a pool
 * GPU named by a VM gpupool did not assign it to) for one host GPU. */
static int drift_gpu(gp_ctx *ctx, drift_op *op, const char *gpu)
{
    const gp_xr_value *all = &op->all;
    const gp_pool *in_pool = NULL;
    const gp_assignment *holder = NULL;
    size_t naming = 0;
    int rc;

    for (size_t p = 0; p < op->n_pools && !in_pool; p++)
        for (size_t k = 0; k < op->pools[p].n_gpus; k++)
            if (!strcmp(op->pools[p].gpus[k], gpu))
                in_pool = &op->pools[p];
    for (size_t a = 0; a < op->n_as; a++)
        if (!strcmp(op->as[a].pci_id, gpu))
            holder = &op->as[a];
    for (size_t i = 0; all->type == GP_XR_STRUCT && i < all->n; i++)
        naming += drift_rec_names(op, &all->items[i], gpu);
    for (size_t i = 0; all->type == GP_XR_STRUCT && i < all->n; i++) {
        const gp_xr_value *rec = &all->items[i];
        const gp_xr_value *oc = gp_xr_struct_get(rec, "other_config");
        const char *oc_pci = gp_xr_struct_get_string(oc, "pci");
        const char *uuid = gp_xr_struct_get_string(rec, "uuid");
        const char *name = gp_xr_struct_get_string(rec, "name_label");
        if (!gp_xapi_rec_is_guest(rec) || rec_other_host(rec, op->host) ||
            !oc_pci_names(oc_pci, gpu))
            continue;
        if (naming > 1) {
            rc = drift_add(ctx, &op->l, "shared-gpu", uuid, name, gpu, oc_pci,
                           gp_asprintf("GPU %s is named by the other-config:pci of %zu "
                                       "VMs, including %s", gpu, naming,
                                       uuid ? uuid : "?"));
            if (rc)
                return rc;
        }
        if (in_pool && (!holder || !uuid || strcmp(holder->vm_uuid, uuid))) {
            rc = drift_add(ctx, &op->l, "foreign-pci", uuid, name, gpu, oc_pci,
                           holder ? gp_asprintf("VM %s names GPU %s of pool %s in "
                                                "other-config:pci, but gpupool assigned "
                                                "it to VM %s", uuid ? uuid : "?", gpu,
                                                in_pool->name_label, holder->vm_uuid)
                                  : gp_asprintf("VM %s names GPU %s of pool %s in "
                                                "other-config:pci, but gpupool has not "
                                                "assigned it", uuid ? uuid : "?", gpu,
                                                in_pool->name_label));
            if (rc)
                return rc;
        }
    }
    return GP_OK;
}

/* Items "vm-missing" (xapi no longer knows the VM) and "missing-pci" (its
 * other-config:pci does not name the GPU) for one gpupool assignment. */
static int drift_assignment(gp_ctx *ctx, drift_op *op, const gp_assignment *a)
{
    const gp_xr_value *all = &op->all, *rec = NULL;

    for (size_t i = 0; all->type == GP_XR_STRUCT && i < all->n && !rec; i++) {
        const char *uuid = gp_xr_struct_get_string(&all->items[i], "uuid");
        if (uuid && !strcmp(uuid, a->vm_uuid))
            rec = &all->items[i];
    }
    if (!rec)
        return drift_add(ctx, &op->l, "vm-missing", a->vm_uuid, a->vm_name_label,
                         a->pci_id, NULL,
                         gp_asprintf("gpupool assigned GPU %s to VM %s, which xapi no "
                                     "longer knows", a->pci_id, a->vm_uuid));
    const gp_xr_value *oc = gp_xr_struct_get(rec, "other_config");
    const char *oc_pci = gp_xr_struct_get_string(oc, "pci");
    if (oc_pci_names(oc_pci, a->pci_id))
        return GP_OK;
    return drift_add(ctx, &op->l, "missing-pci", a->vm_uuid,
                     gp_xr_struct_get_string(rec, "name_label"), a->pci_id, oc_pci,
                     gp_asprintf("gpupool assigned GPU %s to VM %s, but its "
                                 "other-config:pci is %s", a->pci_id, a->vm_uuid,
                                 oc_pci ? oc_pci : "unset"));
}

static const gp_assignment *drift_assignment_of(const drift_op *op, const char *vm)
{
    for (size_t a = 0; a < op->n_as; a++)
        if (!strcasecmp(op->as[a].vm_uuid, vm))
            return &op->as[a];
    return NULL;
}

/* Per assignment: the VM's mask, affinity and host marker as written
 * (mask-changed, affinity); per VM record: gpupool's markers without an
 * assignment (stray-marker), copied by VM.clone (clone), a start left
 * blocked (blocked-start); dead calls' intents (intent-pending); pool
 * functions dom0 can use again (dom0-access); pool GPUs under a VGPU
 * (vgpu). */
static int drift_binding(gp_ctx *ctx, drift_op *op)
{
    gp_intent *in = NULL;
    size_t n_in = 0;
    gp_xapi_held *held = NULL;
    size_t n_held = 0;
    int rc;

    rc = gp_journal_list(ctx, &in, &n_in);
    if (rc)
        goto out;
    for (size_t i = 0; i < n_in; i++) {
        if (in[i].owner_alive)
            continue;
        for (size_t k = 0; k < in[i].n_items; k++) {
            const gp_intent_item *it = &in[i].items[k];
            bool vm = !strcmp(it->kind, "vm");
            if (strcmp(it->kind, "gpu") == 0)
                continue;
            rc = drift_add(ctx, &op->l, "intent-pending", vm ? it->key : NULL, NULL,
                           vm ? NULL : it->key, NULL,
                           gp_asprintf("%s by pid %ld (gone) since %s left %s %s to settle",
                                       in[i].operation, in[i].owner_pid, in[i].created,
                                       vm ? "VM" : "function", it->key));
            if (rc)
                goto out;
        }
    }
    for (size_t a = 0; a < op->n_as; a++) {
        const gp_assignment *as = &op->as[a];
        gp_xapi_binding b;
        rc = gp_xapi_drv_vm_binding(&ctx->drv, as->vm_uuid, &b);
        if (rc == GP_ERR_UNKNOWN_VM) {
            gp_err_clear(ctx->err);
            rc = GP_OK;
            continue;          /* vm-missing, reported above */
        }
        if (rc)
            goto out;
        if (as->pin_mode == GP_PIN_HARD && as->n_pcpus) {
            char *want = gp_cpulist_join(as->pcpus, as->n_pcpus);
            if (!want || !b.mask || strcmp(b.mask, want))
                rc = drift_add(ctx, &op->l, "mask-changed", as->vm_uuid, as->vm_name_label,
                               as->pci_id, b.pci,
                               gp_asprintf("VM %s has VCPUs-params:mask=%s, gpupool placed it "
                                           "on pCPUs %s", as->vm_uuid,
                                           b.mask ? b.mask : "unset", want ? want : "?"));
            free(want);
        }
        if (rc == GP_OK && (!b.affinity_ours || !b.ours || !b.bound_host ||
                            !b.this_host || strcmp(b.bound_host, b.this_host)))
            rc = drift_add(ctx, &op->l, "affinity", as->vm_uuid, as->vm_name_label, as->pci_id,
                           b.pci,
                           gp_asprintf("VM %s holds GPU %s of this host, but its VM.affinity "
                                       "or gpupool:host no longer binds it here",
                                       as->vm_uuid, as->pci_id));
        gp_xapi_binding_dispose(&b);
        if (rc)
            goto out;
    }
    for (size_t i = 0; op->all.type == GP_XR_STRUCT && i < op->all.n; i++) {
        const gp_xr_value *rec = &op->all.items[i];
        const gp_xr_value *oc = gp_xr_struct_get(rec, "other_config");
        const gp_xr_value *bo = gp_xr_struct_get(rec, "blocked_operations");
        const char *uuid = gp_xr_struct_get_string(rec, "uuid");
        const char *name = gp_xr_struct_get_string(rec, "name_label");
        const char *owner = gp_xr_struct_get_string(oc, GP_XAPI_MARK_VM);
        const char *mark_pci = gp_xr_struct_get_string(oc, GP_XAPI_MARK_PCI);
        const char *bs = gp_xr_struct_get_string(bo, "start");
        const char *bso = gp_xr_struct_get_string(bo, "start_on");
        bool live_intent = false;
        if (!uuid)
            continue;
        for (size_t k = 0; k < n_in && !live_intent; k++)
            for (size_t j = 0; in[k].owner_alive && j < in[k].n_items; j++)
                if (!strcmp(in[k].items[j].kind, "vm") &&
                    !strcasecmp(in[k].items[j].key, uuid))
                    live_intent = true;
        if (live_intent)
            continue;
        if (owner && strcasecmp(owner, uuid))
            rc = drift_add(ctx, &op->l, "clone", uuid, name, NULL,
                           gp_xr_struct_get_string(oc, "pci"),
                           gp_asprintf("VM %s carries gpupool's markers of VM %s (copied by "
                                       "VM.clone): other-config:pci entries %s are not its own",
                                       uuid, owner, mark_pci ? mark_pci : "(none)"));
        else if (owner && mark_pci && !drift_assignment_of(op, uuid))
            rc = drift_add(ctx, &op->l, "stray-marker", uuid, name, NULL,
                           gp_xr_struct_get_string(oc, "pci"),
                           gp_asprintf("VM %s carries gpupool's write %s, but gpupool assigns "
                                       "it no GPU", uuid, mark_pci));
        if (rc == GP_OK && ((bs && !strcmp(bs, GP_XAPI_BLOCK_REASON)) ||
                            (bso && !strcmp(bso, GP_XAPI_BLOCK_REASON))))
            rc = drift_add(ctx, &op->l, "blocked-start", uuid, name, NULL,
                           gp_xr_struct_get_string(oc, "pci"),
                           gp_asprintf("VM %s cannot start: a gpupool write left "
                                       "blocked_operations start/start_on set", uuid));
        if (rc)
            goto out;
    }
    for (size_t p = 0; p < op->n_pools; p++)
        for (size_t k = 0; k < op->pools[p].n_gpus; k++) {
            const char *g = op->pools[p].gpus[k];
            char *status = NULL;
            rc = gp_xapi_dom0_status_of(ctx, g, &status);
            if (rc == GP_OK && gp_xapi_status_visible(status))
                rc = drift_add(ctx, &op->l, "dom0-access", NULL, NULL, g, NULL,
                               gp_asprintf("GPU %s of pool %s is visible to dom0 again "
                                           "(dom0 access %s)", g, op->pools[p].name_label,
                                           status));
            free(status);
            if (rc)
                goto out;
        }
    rc = gp_xapi_drv_held(&ctx->drv, &held, &n_held);
    for (size_t i = 0; rc == GP_OK && i < n_held; i++) {
        if (!held[i].vgpu)
            continue;
        for (size_t p = 0; rc == GP_OK && p < op->n_pools; p++)
            for (size_t k = 0; rc == GP_OK && k < op->pools[p].n_gpus; k++)
                if (!strcmp(op->pools[p].gpus[k], held[i].pci_id))
                    rc = drift_add(ctx, &op->l, "vgpu", held[i].vm_uuid, NULL, held[i].pci_id,
                                   NULL, gp_asprintf("GPU %s of pool %s is %s",
                                                     held[i].pci_id, op->pools[p].name_label,
                                                     held[i].how));
    }
out:
    gp_xapi_held_free(held, n_held);
    gp_intent_list_free(in, n_in);
    return rc;
}

int gp_drift_check(gp_ctx *ctx, gp_drift **out, size_t *n_out)
{
    drift_op op;
    int rc;

    *out = NULL;
    *n_out = 0;
    drift_op_init(&op);
    gp_err_clear(ctx->err);
    rc = drift_load(ctx, &op);
    if (rc)
        goto out;
    /* 1. Each host GPU named by VMs' other-config:pci. */
    for (size_t g = 0; g < op.hostm->n_gpus; g++) {
        rc = drift_gpu(ctx, &op, op.hostm->gpus[g].pci_id);
        if (rc)
            goto out;
    }
    /* 2. Each gpupool assignment must be in its VM's other-config:pci. */
    for (size_t a = 0; a < op.n_as; a++) {
        rc = drift_assignment(ctx, &op, &op.as[a]);
        if (rc)
            goto out;
    }
    /* 3. What only the XCP-ng binding shows. */
    rc = drift_binding(ctx, &op);
    if (rc)
        goto out;
    *out = op.l.v;
    *n_out = op.l.n;
    op.l.v = NULL;
    op.l.n = 0;
out:
    drift_op_dispose(&op);
    return rc;
}

/* ---- host-reconcile under xapi ------------------------------------------------------ */

static bool drift_same(const gp_drift *a, const gp_drift *b)
{
    return !strcmp(a->kind, b->kind) && !strcasecmp(a->vm_uuid, b->vm_uuid) &&
           !strcmp(a->pci_id, b->pci_id);
}

/* Repair what fix=true may: settle dead intents; make every assigned VM's
 * xapi record say its assignment; clear gpupool's stray or copied writes
 * (halted VMs only); hide pool functions from dom0 again.  Failures of
 * single items are left for the second drift check to report. */
static void xapi_repair(gp_ctx *ctx, const gp_drift *d, size_t n)
{
    gp_assignment *as = NULL;
    size_t n_as = 0;
    gp_pool *pools = NULL;
    size_t n_pools = 0;
    gp_error_info saved;

    gp_error_info_init(&saved);
    gp_err_copy(&saved, ctx->err);
    gp_journal_recover(ctx, NULL);
    if (gp_assignments_read(ctx, NULL, &as, &n_as) == GP_OK)
        for (size_t i = 0; i < n_as; i++)
            if (!i || strcmp(as[i].vm_uuid, as[i - 1].vm_uuid))
                gp_xapi_converge_vm(ctx, as[i].vm_uuid);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(d[i].kind, "stray-marker") || !strcmp(d[i].kind, "blocked-start"))
            gp_xapi_converge_vm(ctx, d[i].vm_uuid);
        else if (!strcmp(d[i].kind, "clone"))
            gp_xapi_drv_clear_copied(&ctx->drv, d[i].vm_uuid);
    }
    {
        sqlite3_stmt *st = NULL;
        char **fns = NULL;
        size_t n_fns = 0;
        if (gp_store_prepare(&ctx->store, "SELECT pci_id FROM pool_members UNION ALL"
                             " SELECT pci_id FROM pool_companions", &st) == GP_OK) {
            while (sqlite3_step(st) == SQLITE_ROW) {
                char **nf = realloc(fns, (n_fns + 1) * sizeof(*nf));
                if (!nf)
                    break;
                fns = nf;
                if (!(fns[n_fns] = gp_strdup((const char *)sqlite3_column_text(st, 0))))
                    break;
                n_fns++;
            }
            sqlite3_finalize(st);
        }
        /* Read first, then write: no statement stays open across xapi calls. */
        for (size_t i = 0; i < n_fns; i++)
            gp_xapi_converge_pci(ctx, fns[i], NULL);
        gp_strv_free(fns, n_fns);
    }
    gp_pool_list_free(pools, n_pools);
    gp_assignment_list_free(as, n_as);
    gp_err_copy(ctx->err, &saved);
    gp_error_info_dispose(&saved);
}

int gp_xapi_reconcile(gp_ctx *ctx, bool fix, gp_reconcile_item **out, size_t *n_out)
{
    gp_drift *d1 = NULL, *d2 = NULL;
    size_t n1 = 0, n2 = 0;
    gp_reconcile_item *items = NULL;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_drift_check(ctx, &d1, &n1);
    if (rc)
        goto out;
    if (fix && n1) {
        xapi_repair(ctx, d1, n1);
        rc = gp_drift_check(ctx, &d2, &n2);
        if (rc)
            goto out;
    }
    items = calloc(n1 + n2 ? n1 + n2 : 1, sizeof(*items));
    if (!items) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n1; i++) {
        gp_reconcile_item *it = &items[i];
        bool still = !fix;
        for (size_t j = 0; fix && j < n2 && !still; j++)
            still = drift_same(&d1[i], &d2[j]);
        it->kind = strdup(d1[i].kind);
        it->object = strdup(d1[i].pci_id[0] ? d1[i].pci_id : d1[i].vm_uuid);
        it->expected = strdup("");
        it->actual = gp_strdup(d1[i].other_config_pci ? d1[i].other_config_pci : "");
        it->detail = gp_strdup(d1[i].detail);
        it->fixable = strcmp(d1[i].kind, "vm-missing") && strcmp(d1[i].kind, "shared-gpu") &&
                      strcmp(d1[i].kind, "foreign-pci") && strcmp(d1[i].kind, "vgpu");
        it->fixed = fix && !still;
        if (!it->kind || !it->object || !it->expected || !it->actual || !it->detail) {
            /* gp_reconcile_list_free is xen_ops.c's, which calls this file */
            for (size_t k = 0; k <= i; k++) {
                free(items[k].kind);
                free(items[k].object);
                free(items[k].expected);
                free(items[k].actual);
                free(items[k].detail);
            }
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    *out = items;
    *n_out = n1;
    items = NULL;
out:
    gp_drift_list_free(d1, n1);
    gp_drift_list_free(d2, n2);
    free(items);
    return rc;
}

/* ---- vm-pre-start ---------------------------------------------------------------- */

int gp_vm_stopped(gp_ctx *ctx, const char *vm_uuid)
{
    gp_err_clear(ctx->err);
    if (!vm_uuid || !*vm_uuid)
        return GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "no VM uuid");
    return gp_gov_power(ctx, vm_uuid, false);   /* closes an open run, if any */
}

int gp_vm_start_check(gp_ctx *ctx, const char *vm_uuid)
{
    gp_xapi_binding b;
    gp_xapi_held *held = NULL;
    size_t n_held = 0, n_ids = 0;
    char **ids = NULL;
    int rc;

    memset(&b, 0, sizeof(b));
    gp_err_clear(ctx->err);
    rc = need_xapi(ctx);
    if (rc == GP_OK)
        rc = gp_xapi_drv_vm_binding(&ctx->drv, vm_uuid, &b);
    if (rc || !b.pci)
        goto out;
    if (b.ours && b.bound_host && b.this_host && strcmp(b.bound_host, b.this_host)) {
        rc = GP_ERR(ctx, GP_ERR_WRONG_HOST,
                    "VM %s holds a GPU of host %s (gpupool:host), not of this host %s: "
                    "start it there; here it would get whatever device sits at %s",
                    vm_uuid, b.bound_host, b.this_host, b.mark_pci ? b.mark_pci : b.pci);
        GP_PARAM(ctx, "vm", "%s", vm_uuid);
        GP_PARAM(ctx, "host", "%s", b.bound_host);
        goto out;
    }
    rc = gp_journal_busy(ctx, "vm", vm_uuid);
    if (rc)
        goto out;
    if (gp_xapi_drv_pci_names(b.pci, &ids, &n_ids)) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = gp_xapi_drv_held(&ctx->drv, &held, &n_held);
    for (size_t i = 0; rc == GP_OK && i < n_ids; i++) {
        char *holder = NULL;
        for (size_t h = 0; rc == GP_OK && h < n_held; h++)
            if (held[h].running && !strcmp(held[h].pci_id, ids[i]) &&
                strcasecmp(held[h].vm_uuid, vm_uuid)) {
                rc = GP_ERR(ctx, GP_ERR_GPU_ASSIGNED,
                            "VM %s names %s, which is %s and running on this host: "
                            "starting it would reset the device under that VM",
                            vm_uuid, ids[i], held[h].how);
                GP_PARAM(ctx, "vm", "%s", vm_uuid);
                GP_PARAM(ctx, "pci-id", "%s", ids[i]);
                GP_PARAM(ctx, "holder", "%s", held[h].vm_uuid);
            }
        if (rc)
            break;
        rc = gp_store_query_text(&ctx->store, "reading assignments",
                                 "SELECT a.vm_uuid FROM assignments a WHERE a.pci_id = ?1"
                                 " UNION ALL SELECT a.vm_uuid FROM assignments a"
                                 " JOIN pool_companions c ON c.gpu_pci_id = a.pci_id"
                                 " WHERE c.pci_id = ?1", ids[i], &holder);
        if (rc == GP_OK && holder && strcasecmp(holder, vm_uuid)) {
            rc = GP_ERR(ctx, GP_ERR_GPU_ASSIGNED,
                        "VM %s names %s in other-config:pci, but gpupool assigned it to VM "
                        "%s%s", vm_uuid, ids[i], holder,
                        b.clone_of ? " (this VM's entry was copied by VM.clone)" : "");
            GP_PARAM(ctx, "vm", "%s", vm_uuid);
            GP_PARAM(ctx, "pci-id", "%s", ids[i]);
            GP_PARAM(ctx, "holder", "%s", holder);
        }
        free(holder);
    }
    if (rc == GP_OK) {
        /* The start goes ahead: a VM holding a GPU here starts running now,
         * to the second (usage-report's running time; a start that fails
         * later is closed by the next command's sampling). */
        char *mine = NULL;
        if (gp_store_query_text(&ctx->store, "reading assignments",
                                "SELECT pci_id FROM assignments WHERE vm_uuid = ?1", vm_uuid,
                                &mine) == GP_OK && mine)
            gp_gov_power(ctx, vm_uuid, true);
        gp_err_clear(ctx->err);
        free(mine);
    }
out:
    gp_strv_free(ids, n_ids);
    gp_xapi_held_free(held, n_held);
    gp_xapi_binding_dispose(&b);
    return rc;
}
