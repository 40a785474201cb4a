/*
 * xen_ops.c - plain Xen (xl, no xapi) operations of the public API:
 * gp_vm_xl_config() (xl config lines of an assignment), gp_vm_boot_prepare()
 * (apply it to a domain created paused) and gp_host_reconcile() (database
 * against what Xen reports).  Always compiled: without libxl the last two
 * answer GP_ERR_NOT_SUPPORTED.  The libxl side is in driver_xen.c.
 */
#include "ops/ops.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- vm-xl-config ------------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} sbuf;

static void GP_PRINTF(2, 3) sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (b->oom)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->buf ? b->buf + b->len : NULL, b->buf ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if (b->buf && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = (b->cap ? b->cap : 128);
        while (ncap < b->len + (size_t)n + 1)
            ncap *= 2;
        char *nb = realloc(b->buf, ncap);
        if (!nb) {
            b->oom = true;
            return;
        }
        b->buf = nb;
        b->cap = ncap;
    }
}

int gp_vm_xl_config(gp_ctx *ctx, const char *vm, char **text_out)
{
    gp_assignment a;
    sbuf b = { 0 };
    char *cpus = NULL, *cpupool = NULL;
    int rc;

    *text_out = NULL;
    gp_err_clear(ctx->err);
    gp_assignment_init(&a);
    rc = gp_assignment_get(ctx, vm, &a);
    if (rc)
        goto out;
    sb_printf(&b, "# gpupool: VM %s: GPU %s, node %d, %d vCPUs, %llu MiB, pin-mode %s\n",
              a.vm_uuid, a.pci_id, a.numa_node, a.vcpus, (unsigned long long)a.memory_mib,
              gp_pin_mode_name(a.pin_mode));
    sb_printf(&b, "uuid = \"%s\"\n", a.vm_uuid);
    sb_printf(&b, "pci = [ \"%s\"", a.pci_id);
    for (size_t i = 0; i < a.n_companions; i++)
        sb_printf(&b, ", \"%s\"", a.companions[i]);
    sb_printf(&b, " ]\n");
    /* The pool's cpupool (its pCPUs were chosen inside it); Pool-0 is xl's
     * default and needs no line. */
    rc = gp_store_query_text(&ctx->store, "reading the pool's cpupool",
                             "SELECT cpupool FROM pools WHERE uuid = ?1", a.pool_uuid, &cpupool);
    if (rc)
        goto out;
    if (cpupool && strcmp(cpupool, GP_CPUPOOL_DEFAULT))
        sb_printf(&b, "pool = \"%s\"\n", cpupool);
    /*
     * Memory.  libxl 4.17 (libxl__build_pre) runs its automatic NUMA
     * placement unless the config gives a soft affinity (xl: cpus_soft, or
     * cpus as a list); numa_place_domain() ignores the hard affinity (it
     * passes the cpupool's cpumap, not hard & cpupool, to
     * libxl__get_numa_candidate) and sets the domain's node affinity to the
     * node it picks (fewest vCPUs, then most free memory), which is where
     * Xen then allocates the memory.  A cpus_soft line turns that off; Xen's
     * automatic node affinity then is the node of hard & soft affinity,
     * set before the memory is populated.  So every pin mode gets cpus_soft:
     * hard = the pin set twice (hard and soft), soft = the pin set, none =
     * every pCPU of the memory node in the pool's cpupool.
     */
    if (a.pin_mode != GP_PIN_NONE && a.n_pcpus) {
        cpus = gp_cpulist_ranges(a.pcpus, a.n_pcpus);
    } else if (a.memory_node >= 0) {
        const gp_host *host = NULL;
        const gp_numa_node *nd;
        const gp_cpupool *cp = NULL;
        int *ids = NULL;
        size_t nids = 0;
        rc = gp_host_get(ctx, &host);
        if (rc)
            goto out;
        nd = gp_host_find_node(host, a.memory_node);
        for (size_t i = 0; i < host->n_cpupools && !cp; i++)
            if (cpupool && host->cpupools[i].name && !strcmp(host->cpupools[i].name, cpupool))
                cp = &host->cpupools[i];
        if (nd && nd->n_cpus && (ids = malloc(nd->n_cpus * sizeof(int)))) {
            for (size_t i = 0; i < nd->n_cpus; i++) {
                bool in = !host->n_cpupools;
                for (size_t j = 0; cp && j < cp->n_cpus && !in; j++)
                    in = cp->cpus[j] == nd->cpus[i];
                if (in)
                    ids[nids++] = nd->cpus[i];
            }
            if (nids)
                cpus = gp_cpulist_ranges(ids, nids);
            else
                sb_printf(&b, "# gpupool: node %d has no pCPU in cpupool %s: memory placement "
                              "left to libxl\n", a.memory_node, cpupool ? cpupool : "?");
            free(ids);
            if (nids && !cpus) {
                rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
                goto out;
            }
        } else if (nd && nd->n_cpus) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        } else {
            sb_printf(&b, "# gpupool: node %d has no known pCPU: memory placement left to "
                          "libxl\n", a.memory_node);
        }
    }
    if ((a.pin_mode != GP_PIN_NONE && a.n_pcpus) && !cpus) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (cpus && a.pin_mode == GP_PIN_HARD)
        sb_printf(&b, "cpus = \"%s\"\n", cpus);
    if (cpus)
        sb_printf(&b, "cpus_soft = \"%s\"\n", cpus);
    if (b.oom) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    *text_out = b.buf;
    b.buf = NULL;
out:
    free(b.buf);
    free(cpus);
    free(cpupool);
    gp_assignment_dispose(&a);
    return rc;
}

/* ---- reconcile items ---------------------------------------------------------------- */

void gp_reconcile_list_free(gp_reconcile_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].kind);
        free(items[i].object);
        free(items[i].expected);
        free(items[i].actual);
        free(items[i].detail);
    }
    free(items);
}

#ifndef GPUPOOL_WITH_XEN

int gp_vm_boot_prepare(gp_ctx *ctx, const char *vm)
{
    return gp_vm_boot_prepare_ex(ctx, vm, NULL);
}

int gp_vm_boot_prepare_ex(gp_ctx *ctx, const char *vm, gp_boot_prepare_result *out)
{
    if (out)
        memset(out, 0, sizeof(*out));
    int rc = GP_ERR(ctx, GP_ERR_NOT_SUPPORTED,
                    "vm-boot-prepare needs the xen driver: libgpupool was built without libxl");
    GP_PARAM(ctx, "vm", "%s", vm ? vm : "");
    return rc;
}

int gp_host_reconcile(gp_ctx *ctx, bool fix, gp_reconcile_item **out, size_t *n_out)
{
    const gp_driver_entry *e;
    *out = NULL;
    *n_out = 0;
    gp_err_clear(ctx->err);
    if (gp_ctx_driver(ctx, &e) == GP_OK && e->journaled)
        return gp_xapi_reconcile(ctx, fix, out, n_out);
    return GP_ERR(ctx, GP_ERR_NOT_SUPPORTED,
                  "host-reconcile needs the xen driver: libgpupool was built without libxl");
}

#else /* GPUPOOL_WITH_XEN */

static int need_xen(gp_ctx *ctx, const char *op)
{
    const gp_driver_entry *e;
    int rc = gp_ctx_driver(ctx, &e);
    if (rc)
        return rc;
    if (e->ops != &gp_driver_xen) {
        rc = GP_ERR(ctx, GP_ERR_NOT_SUPPORTED, "%s needs the xen driver (this context uses %s)",
                    op, GP_CTX_DRIVER_NAME(ctx));
        GP_PARAM(ctx, "driver", "%s", GP_CTX_DRIVER_NAME(ctx));
        return rc;
    }
    return GP_OK;
}

/* ---- vm-boot-prepare ----------------------------------------------------------------- */

/* The state of one gp_vm_boot_prepare between its steps. */
typedef struct {
    gp_assignment a;
    gp_xen_dom d;                 /* the VM's live domain */
    const char **ids;             /* the GPU, then its companions (into a) */
    bool *attached;               /* ids[i] attached by this call */
    size_t n;
    char node_aff[128];           /* the domain's node affinity before pinning */
    gp_memnode_certainty cert;    /* what the memory node is worth */
    char note[512];               /* why, when not best-effort */
} boot_op;

static void boot_op_init(boot_op *op)
{
    memset(op, 0, sizeof(*op));
    gp_assignment_init(&op->a);
}

static void boot_op_dispose(boot_op *op)
{
    free(op->ids);
    free(op->attached);
    gp_assignment_dispose(&op->a);
}

/* Refuse a VM without a live domain or whose domain has run; leaves nothing. */
static int boot_check_never_ran(gp_ctx *ctx, const boot_op *op)
{
    const gp_xen_dom *d = &op->d;
    int rc;

    if (d->domid < 0) {
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_VM,
                    "VM %s has no live domain: create it paused first (xl create -p, with "
                    "uuid = \"%s\" and passthrough = \"enabled\" in its config)",
                    op->a.vm_uuid, op->a.vm_uuid);
        GP_PARAM(ctx, "vm", "%s", op->a.vm_uuid);
        return rc;
    }
    if (!d->paused || d->cpu_time_ns != 0 || d->shutdown || d->dying) {
        rc = GP_ERR(ctx, GP_ERR_VM_STARTED,
                    "domain %d of VM %s has already run (%s, cpu time %.3f s): vm-boot-prepare "
                    "is only for a domain created paused that never ran",
                    d->domid, op->a.vm_uuid,
                    d->dying ? "dying" : d->shutdown ? "shut down"
                                       : d->paused ? "paused" : "running",
                    (double)d->cpu_time_ns / 1e9);
        GP_PARAM(ctx, "vm", "%s", op->a.vm_uuid);
        GP_PARAM(ctx, "domid", "%d", d->domid);
        return rc;
    }
    return GP_OK;
}

/* The pool's cpupool: the assignment's pCPUs were chosen inside it, and
 * Xen keeps a domain's affinity inside the domain's cpupool.  A domain
 * created in another cpupool (pool = "..." missing from its config) is
 * refused before anything is attached; leaves nothing. */
static int boot_check_cpupool(gp_ctx *ctx, const boot_op *op)
{
    const gp_assignment *a = &op->a;
    const gp_xen_dom *d = &op->d;
    char *pool_cpupool = NULL, *dom_cpupool = NULL;
    int rc;

    rc = gp_store_query_text(&ctx->store, "reading the pool's cpupool",
                             "SELECT cpupool FROM pools WHERE uuid = ?1", a->pool_uuid,
                             &pool_cpupool);
    if (rc)
        goto out;
    rc = gp_xen_cpupool_name(&ctx->drv, d->cpupool, &dom_cpupool);
    if (rc)
        goto out;
    if (!pool_cpupool || !dom_cpupool || strcmp(pool_cpupool, dom_cpupool)) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT,
                    "domain %d of VM %s is in Xen cpupool '%s' (id %d) but pool %s (%s) "
                    "places its VMs in cpupool '%s': create the domain with pool = \"%s\" "
                    "(vm-xl-config prints it); nothing was changed",
                    d->domid, a->vm_uuid, dom_cpupool ? dom_cpupool : "unknown", d->cpupool,
                    a->pool_name_label ? a->pool_name_label : "?", a->pool_uuid,
                    pool_cpupool ? pool_cpupool : "unknown", pool_cpupool ? pool_cpupool : "");
        GP_PARAM(ctx, "vm", "%s", a->vm_uuid);
        GP_PARAM(ctx, "domid", "%d", d->domid);
        GP_PARAM(ctx, "pool", "%s", a->pool_uuid);
        GP_PARAM(ctx, "cpupool", "%s", pool_cpupool ? pool_cpupool : "");
        GP_PARAM(ctx, "domain-cpupool", "%s", dom_cpupool ? dom_cpupool : "unknown");
    }
out:
    free(pool_cpupool);
    free(dom_cpupool);
    return rc;
}

/* List the functions to attach (the GPU, then its companions) in op->ids;
 * leaves op->ids and op->attached for op's dispose. */
static int boot_list_functions(gp_ctx *ctx, boot_op *op)
{
    op->n = 1 + op->a.n_companions;
    op->ids = calloc(op->n, sizeof(*op->ids));
    op->attached = calloc(op->n, sizeof(*op->attached));
    if (!op->ids || !op->attached)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    op->ids[0] = op->a.pci_id;
    for (size_t i = 0; i < op->a.n_companions; i++)
        op->ids[1 + i] = op->a.companions[i];
    return GP_OK;
}

/* libxl 4.17 hot-adds the first PCI function of a PV domain by creating
 * its pciback backend; every further one waits for the guest's pcifront
 * to connect, which a domain that never ran cannot do: libxl fails
 * after 10 s with "libxl__wait_for_backend: Backend ... not ready" and
 * cannot detach the first one either (same wait).  Refuse before
 * touching the domain; leaves nothing. */
static int boot_check_pv_hotadd(gp_ctx *ctx, const boot_op *op)
{
    const gp_xen_dom *d = &op->d;
    gp_xen_state xs;
    size_t have = 0, todo = 0;
    int rc;

    if (!d->pv)
        return GP_OK;
    rc = gp_xen_state_get(&ctx->drv, &xs);
    if (rc)
        return rc;
    for (size_t j = 0; j < xs.n_attached; j++)
        have += xs.attached[j].domid == d->domid;
    for (size_t i = 0; i < op->n; i++) {
        bool att = false;
        for (size_t j = 0; j < xs.n_attached && !att; j++)
            att = xs.attached[j].domid == d->domid && !strcmp(xs.attached[j].pci_id, op->ids[i]);
        todo += !att;
    }
    gp_xen_state_dispose(&xs);
    if (have + todo > 1 && todo > 0) {
        rc = GP_ERR(ctx, GP_ERR_DRIVER,
                    "libxl cannot hot-add %zu PCI functions (%s and %zu companion%s) to PV "
                    "domain %d that never ran: after the first, libxl_device_pci_add waits "
                    "for the guest's pcifront (libxl__wait_for_backend: Backend "
                    "/local/domain/0/backend/pci/%d/0 not ready); nothing was changed: "
                    "start the domain with the vm-xl-config lines instead",
                    todo, op->a.pci_id, op->a.n_companions, op->a.n_companions == 1 ? "" : "s",
                    d->domid, d->domid);
        GP_PARAM(ctx, "vm", "%s", op->a.vm_uuid);
        GP_PARAM(ctx, "domid", "%d", d->domid);
        GP_PARAM(ctx, "libxl-limitation",
                 "libxl__wait_for_backend: Backend /local/domain/0/backend/pci/%d/0 "
                 "not ready", d->domid);
        return rc;
    }
    return GP_OK;
}

/* Where xl create put the memory: it populated it already, under the node
 * affinity the domain had then; pinning does not move it.  That affinity is
 * read before pinning (an explicit one, set by libxl's own NUMA placement,
 * stays; Xen's automatic one is recomputed by the pinning).  Exactly the
 * memory node: best-effort (Xen allocates there first, falls back when
 * short); anything else: unknown, and why.  Leaves ctx->err as it was. */
static void boot_read_memory(gp_ctx *ctx, boot_op *op)
{
    char want[16];
    gp_error_info saved;
    gp_error_info_init(&saved);
    gp_err_copy(&saved, ctx->err);
    if (gp_xen_node_affinity(&ctx->drv, op->d.domid, op->node_aff, sizeof(op->node_aff)))
        op->node_aff[0] = '\0';
    gp_err_copy(ctx->err, &saved);
    gp_error_info_dispose(&saved);
    snprintf(want, sizeof(want), "%d", op->a.memory_node);
    op->cert = GP_MEMNODE_UNKNOWN;
    if (op->a.memory_node >= 0 && !strcmp(op->node_aff, want))
        op->cert = GP_MEMNODE_BEST_EFFORT;
    else if (!op->node_aff[0])
        snprintf(op->note, sizeof(op->note), "libxl did not give domain %d's node affinity: "
                 "where xl create put its memory is unknown", op->d.domid);
    else
        snprintf(op->note, sizeof(op->note), "domain %d's memory was populated by xl create "
                 "under node affinity %s, not memory node %d; pinning does not move it: "
                 "create the paused domain with the cpus / cpus_soft lines of vm-xl-config",
                 op->d.domid, op->node_aff, op->a.memory_node);
}

/* Attach the functions (op->attached says which this call attached); on
 * failure the driver has detached them again. */
static int boot_attach(gp_ctx *ctx, boot_op *op)
{
    int rc = gp_xen_pci_attach(&ctx->drv, op->d.domid, op->ids, op->n, op->attached);
    if (rc)
        GP_PARAM(ctx, "vm", "%s", op->a.vm_uuid);
    return rc;
}

/* Pin the vCPUs to the assignment's pCPUs; on failure detach what
 * boot_attach attached, leaving the domain as it was (and ctx->err). */
static int boot_pin(gp_ctx *ctx, boot_op *op)
{
    int rc = gp_xen_pin(&ctx->drv, op->d.domid, op->a.pcpus, op->a.n_pcpus, op->a.pin_mode);
    if (rc) {
        gp_error_info saved;
        gp_error_info_init(&saved);
        gp_err_copy(&saved, ctx->err);
        for (size_t i = op->n; i-- > 0;)
            if (op->attached[i])
                gp_xen_pci_detach(&ctx->drv, op->d.domid, &op->ids[i], 1);
        gp_err_copy(ctx->err, &saved);
        gp_error_info_dispose(&saved);
        GP_PARAM(ctx, "vm", "%s", op->a.vm_uuid);
    }
    return rc;
}

/* Audit row "vm-boot-prepare": what was applied to which domain, in a
 * transaction of its own; leaves the domain prepared either way. */
static int boot_audit(gp_ctx *ctx, const boot_op *op)
{
    char *pcpus = gp_cpulist_join(op->a.pcpus, op->a.n_pcpus), *after;
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    int rc;

    json_object_object_add(o, "domid", json_object_new_int(op->d.domid));
    for (size_t i = 0; i < op->n; i++)
        json_object_array_add(arr, json_object_new_string(op->ids[i]));
    json_object_object_add(o, "pci_ids", arr);
    json_object_object_add(o, "pcpus", json_object_new_string(pcpus ? pcpus : ""));
    json_object_object_add(o, "pin_mode",
                           json_object_new_string(gp_pin_mode_name(op->a.pin_mode)));
    json_object_object_add(o, "node_affinity", json_object_new_string(op->node_aff));
    json_object_object_add(o, "memory_node_certainty",
                           json_object_new_string(gp_memnode_certainty_name(op->cert)));
    after = gp_json_take_text(o);
    rc = gp_store_begin(&ctx->store);
    if (!rc) {
        rc = gp_store_audit(&ctx->store, "vm-boot-prepare", op->a.vm_uuid, NULL, after);
        if (!rc)
            rc = gp_store_commit(&ctx->store);
        else
            gp_store_rollback(&ctx->store);
    }
    free(pcpus);
    free(after);
    return rc;
}

int gp_vm_boot_prepare(gp_ctx *ctx, const char *vm)
{
    return gp_vm_boot_prepare_ex(ctx, vm, NULL);
}

int gp_vm_boot_prepare_ex(gp_ctx *ctx, const char *vm, gp_boot_prepare_result *out)
{
    boot_op op;
    int rc;

    gp_err_clear(ctx->err);
    boot_op_init(&op);
    if (out)
        memset(out, 0, sizeof(*out));
    rc = need_xen(ctx, "vm-boot-prepare");
    if (rc)
        goto out;
    rc = gp_assignment_get(ctx, vm, &op.a);
    if (rc)
        goto out;
    rc = gp_xen_domain_find(&ctx->drv, op.a.vm_uuid, &op.d);
    if (rc)
        goto out;
    rc = boot_check_never_ran(ctx, &op);
    if (rc)
        goto out;
    rc = boot_check_cpupool(ctx, &op);
    if (rc)
        goto out;
    rc = boot_list_functions(ctx, &op);
    if (rc)
        goto out;
    rc = boot_check_pv_hotadd(ctx, &op);
    if (rc)
        goto out;
    boot_read_memory(ctx, &op);
    rc = boot_attach(ctx, &op);
    if (rc)
        goto out;
    rc = boot_pin(ctx, &op);
    if (rc)
        goto out;
    rc = boot_audit(ctx, &op);
    if (!rc && out) {
        out->domid = op.d.domid;
        out->memory_node = op.a.memory_node;
        out->memory_node_certainty = op.cert;
        snprintf(out->node_affinity, sizeof(out->node_affinity), "%s", op.node_aff);
        snprintf(out->note, sizeof(out->note), "%s", op.note);
    }
out:
    boot_op_dispose(&op);
    return rc;
}

/* ---- host-reconcile ------------------------------------------------------------------ */

typedef struct {
    gp_reconcile_item *v;
    size_t n, cap;
    bool oom;
} items;

static const char *const kind_order[] = {
    "not-assignable", "foreign-assignable", "gpu-missing", "pci-missing",
    "foreign-attachment", "affinity-mismatch",
};

static gp_reconcile_item *GP_PRINTF(6, 7) item_add(items *it, const char *kind, const char *object,
                                               const char *expected, const char *actual,
                                               const char *fmt, ...)
{
    va_list ap;
    char line[512];
    gp_reconcile_item *r;
    if (gp_array_reserve((void **)&it->v, &it->cap, it->n, sizeof(*it->v))) {
        it->oom = true;
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    r = &it->v[it->n];
    memset(r, 0, sizeof(*r));
    r->kind = gp_strdup(kind);
    r->object = gp_strdup(object);
    r->expected = gp_strdup(expected ? expected : "");
    r->actual = gp_strdup(actual ? actual : "");
    r->detail = gp_strdup(line);
    if (!r->kind || !r->object || !r->expected || !r->actual || !r->detail) {
        free(r->kind); free(r->object); free(r->expected); free(r->actual); free(r->detail);
        it->oom = true;
        return NULL;
    }
    it->n++;
    return r;
}

static int kind_rank(const char *k)
{
    for (size_t i = 0; i < GP_ARRAY_SIZE(kind_order); i++)
        if (!strcmp(k, kind_order[i]))
            return (int)i;
    return (int)GP_ARRAY_SIZE(kind_order);
}

static int item_cmp(const void *x, const void *y)
{
    const gp_reconcile_item *a = x, *b = y;
    int c = kind_rank(a->kind) - kind_rank(b->kind);
    return c ? c : strcmp(a->object, b->object);
}

/* A pool function: a member GPU or a companion (gpu = its GPU). */
typedef struct {
    char pci_id[GP_PCI_ID_LEN];
    char gpu[GP_PCI_ID_LEN];
} pool_fn;

static int pool_functions(gp_ctx *ctx, pool_fn **out, size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    pool_fn *v = NULL;
    size_t n = 0, cap = 0;
    int rc, s;
    *out = NULL;
    *n_out = 0;
    rc = gp_store_prepare(&ctx->store, "SELECT pci_id, pci_id FROM pool_members UNION ALL "
                               "SELECT pci_id, gpu_pci_id FROM pool_companions ORDER BY 1", &st);
    if (rc)
        return rc;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (gp_array_reserve((void **)&v, &cap, n, sizeof(*v))) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        snprintf(v[n].pci_id, sizeof(v[n].pci_id), "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(v[n].gpu, sizeof(v[n].gpu), "%s", (const char *)sqlite3_column_text(st, 1));
        n++;
    }
    if (s != SQLITE_DONE)
        rc = gp_store_error(&ctx->store, s, "reading pool members");
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

/* The state of one gp_host_reconcile between its steps. */
typedef struct {
    bool fix;
    const gp_host *host;
    pool_fn *fns;                 /* every pool function */
    size_t nf;
    gp_assignment *as;            /* every assignment */
    size_t na;
    gp_xen_state st;              /* what Xen reports */
    items it;                     /* the differences found */
} reconcile_op;

static void reconcile_op_init(reconcile_op *op, bool fix)
{
    memset(op, 0, sizeof(*op));
    op->fix = fix;
}

static void reconcile_op_dispose(reconcile_op *op)
{
    gp_reconcile_list_free(op->it.v, op->it.n);
    gp_xen_state_dispose(&op->st);
    gp_assignment_list_free(op->as, op->na);
    free(op->fns);
}

/* Read the pool functions, the assignments and Xen's state into op;
 * leaves what was read for op's dispose. */
static int reconcile_load(gp_ctx *ctx, reconcile_op *op)
{
    int rc = pool_functions(ctx, &op->fns, &op->nf);
    if (rc)
        return rc;
    rc = gp_assignment_list(ctx, &op->as, &op->na);
    if (rc)
        return rc;
    return gp_xen_state_get(&ctx->drv, &op->st);
}

/* Item "not-assignable" for a pool function nobody holds; with fix, make
 * it assignable again (failures only leave the item unfixed, ctx->err kept). */
static void reconcile_not_assignable(gp_ctx *ctx, reconcile_op *op, const pool_fn *fn,
                                     bool is_gpu)
{
    const char *id = fn->pci_id;
    char *drv = NULL;
    if (ctx->drv.ops->device_driver(&ctx->drv, id, &drv))
        drv = NULL;
    gp_reconcile_item *r = item_add(&op->it, "not-assignable", id, "pciback",
                                    drv ? drv : "unknown",
                                    "%s %s%s%s is not assignable in Xen (bound to %s)",
                                    is_gpu ? "pool GPU" : "companion", id,
                                    is_gpu ? "" : " of GPU ", is_gpu ? "" : fn->gpu,
                                    drv ? drv : "unknown");
    free(drv);
    if (!r)
        return;
    r->fixable = true;
    if (op->fix) {
        char *orig = NULL;
        gp_error_info saved;
        gp_error_info_init(&saved);
        gp_err_copy(&saved, ctx->err);
        if (ctx->drv.ops->device_assignable_add(&ctx->drv, id, &orig) == GP_OK)
            r->fixed = true;
        gp_err_copy(ctx->err, &saved);
        gp_error_info_dispose(&saved);
        free(orig);
    }
}

/* Pool functions: on the host, assignable or held by a domain; items
 * "gpu-missing" and "not-assignable" (the latter fixed with fix). */
static void reconcile_pool_functions(gp_ctx *ctx, reconcile_op *op)
{
    const gp_xen_state *st = &op->st;

    for (size_t i = 0; i < op->nf; i++) {
        const char *id = op->fns[i].pci_id;
        bool is_gpu = !strcmp(id, op->fns[i].gpu), held = false, assignable = false;
        for (size_t j = 0; j < st->n_attached && !held; j++)
            held = !strcmp(st->attached[j].pci_id, id);
        for (size_t j = 0; j < st->n_assignable && !assignable; j++)
            assignable = !strcmp(st->assignable[j], id);
        if (is_gpu && !gp_host_find_gpu(op->host, id)) {
            item_add(&op->it, "gpu-missing", id, "present", "absent",
                     "pool GPU %s is no longer on this host", id);
            continue;
        }
        if (held || assignable)
            continue;
        reconcile_not_assignable(ctx, op, &op->fns[i], is_gpu);
    }
}

/* Items "foreign-assignable": assignable in Xen but in no pool. */
static void reconcile_foreign_assignable(reconcile_op *op)
{
    const gp_xen_state *st = &op->st;

    for (size_t j = 0; j < st->n_assignable; j++) {
        bool mine = false;
        for (size_t i = 0; i < op->nf && !mine; i++)
            mine = !strcmp(op->fns[i].pci_id, st->assignable[j]);
        if (!mine)
            item_add(&op->it, "foreign-assignable", st->assignable[j], "", "pciback",
                     "%s is assignable in Xen but in no gpupool pool", st->assignable[j]);
    }
}

/* Items "foreign-attachment": a pool function attached to a domain other
 * than its GPU's assigned VM. */
static void reconcile_attachments(reconcile_op *op)
{
    const gp_xen_state *st = &op->st;

    for (size_t j = 0; j < st->n_attached; j++) {
        const char *gpu = NULL;
        const gp_assignment *owner = NULL;
        for (size_t i = 0; i < op->nf && !gpu; i++)
            if (!strcmp(op->fns[i].pci_id, st->attached[j].pci_id))
                gpu = op->fns[i].gpu;
        if (!gpu)
            continue;
        for (size_t k = 0; k < op->na && !owner; k++)
            if (!strcmp(op->as[k].pci_id, gpu))
                owner = &op->as[k];
        if (owner && !strcasecmp(owner->vm_uuid, st->attached[j].vm_uuid))
            continue;
        item_add(&op->it, "foreign-attachment", st->attached[j].pci_id,
                 owner ? owner->vm_uuid : "", st->attached[j].vm_uuid,
                 "%s is attached to domain %d (VM %s) but %s%s", st->attached[j].pci_id,
                 st->attached[j].domid, st->attached[j].vm_uuid,
                 owner ? "gpupool assigned it to VM " : "gpupool assigned it to no VM",
                 owner ? owner->vm_uuid : "");
    }
}

/* Items "pci-missing": the GPU or a companion not attached to the live
 * domain d of assignment a. */
static void reconcile_domain_devices(reconcile_op *op, const gp_assignment *a,
                                     const gp_xen_dom *d)
{
    const gp_xen_state *st = &op->st;

    for (size_t c = 0; c <= a->n_companions; c++) {
        const char *id = c == 0 ? a->pci_id : a->companions[c - 1];
        bool ok = false;
        for (size_t j = 0; j < st->n_attached && !ok; j++)
            ok = st->attached[j].domid == d->domid && !strcmp(st->attached[j].pci_id, id);
        if (!ok)
            item_add(&op->it, "pci-missing", id, a->vm_uuid, "",
                     "domain %d of VM %s does not have %s attached", d->domid, a->vm_uuid, id);
    }
}

/* Items "affinity-mismatch": vCPUs of the live domain d whose affinity is
 * not a's pCPUs; with fix, re-pin the domain (failures only leave the
 * items unfixed, ctx->err kept). */
static void reconcile_domain_affinity(gp_ctx *ctx, reconcile_op *op, const gp_assignment *a,
                                      const gp_xen_dom *d)
{
    char **aff = NULL;
    size_t nv = 0;
    char *want;

    if (a->pin_mode == GP_PIN_NONE || !a->n_pcpus)
        return;
    want = gp_cpulist_join(a->pcpus, a->n_pcpus);
    if (!want || gp_xen_affinity_get(&ctx->drv, d->domid, a->pin_mode, &aff, &nv)) {
        free(want);
        return;
    }
    size_t first = op->it.n;
    for (size_t v = 0; v < nv; v++) {
        if (!strcmp(aff[v], want))
            continue;
        char obj[64];
        snprintf(obj, sizeof(obj), "%s/%zu", a->vm_uuid, v);
        gp_reconcile_item *r = item_add(&op->it, "affinity-mismatch", obj, want, aff[v],
                                        "vCPU %zu of domain %d (VM %s) has %s affinity %s, "
                                        "assignment says %s", v, d->domid, a->vm_uuid,
                                        gp_pin_mode_name(a->pin_mode), aff[v], want);
        if (r)
            r->fixable = true;
    }
    if (op->fix && op->it.n > first) {
        gp_error_info saved;
        gp_error_info_init(&saved);
        gp_err_copy(&saved, ctx->err);
        if (gp_xen_pin(&ctx->drv, d->domid, a->pcpus, a->n_pcpus, a->pin_mode) == GP_OK)
            for (size_t r = first; r < op->it.n; r++)
                op->it.v[r].fixed = true;
        gp_err_copy(ctx->err, &saved);
        gp_error_info_dispose(&saved);
    }
    gp_strv_free(aff, nv);
    free(want);
}

/* Live domains of assigned VMs: their devices and affinity. */
static void reconcile_domains(gp_ctx *ctx, reconcile_op *op)
{
    for (size_t k = 0; k < op->na; k++) {
        const gp_assignment *a = &op->as[k];
        gp_xen_dom d;
        if (gp_xen_domain_find(&ctx->drv, a->vm_uuid, &d) || d.domid < 0)
            continue;
        reconcile_domain_devices(op, a, &d);
        reconcile_domain_affinity(ctx, op, a, &d);
    }
}

/* Hand the items out sorted (kind, then object); leaves op->it empty. */
static int reconcile_finish(gp_ctx *ctx, reconcile_op *op, gp_reconcile_item **out,
                            size_t *n_out)
{
    if (op->it.oom)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    if (op->it.n)
        qsort(op->it.v, op->it.n, sizeof(*op->it.v), item_cmp);
    *out = op->it.v;
    *n_out = op->it.n;
    op->it.v = NULL;
    op->it.n = 0;
    return GP_OK;
}

int gp_host_reconcile(gp_ctx *ctx, bool fix, gp_reconcile_item **out, size_t *n_out)
{
    reconcile_op op;
    int rc;

    *out = NULL;
    *n_out = 0;
    gp_err_clear(ctx->err);
    {
        const gp_driver_entry *e;
        if (gp_ctx_driver(ctx, &e) == GP_OK && e->journaled)
            return gp_xapi_reconcile(ctx, fix, out, n_out);
        gp_err_clear(ctx->err);
    }
    reconcile_op_init(&op, fix);
    rc = need_xen(ctx, "host-reconcile");
    if (rc)
        goto out;
    rc = gp_host_get(ctx, &op.host);
    if (rc)
        goto out;
    rc = reconcile_load(ctx, &op);
    if (rc)
        goto out;
    reconcile_pool_functions(ctx, &op);
    reconcile_foreign_assignable(&op);
    reconcile_attachments(&op);
    reconcile_domains(ctx, &op);
    rc = reconcile_finish(ctx, &op, out, n_out);
out:
    reconcile_op_dispose(&op);
    return rc;
}

#endif /* GPUPOOL_WITH_XEN */
