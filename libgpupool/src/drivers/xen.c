/*
 * driver_xen.c - the "xen" driver: plain Xen 4.17 through libxl (xl
 * toolstack, no xapi).
 *
 *  - topology: libxl_get_cpu_topology, libxl_get_numainfo (size / free per
 *    node, distances), libxl_list_cpupool, libxl_get_physinfo (IOMMU:
 *    cap_hvm_directio); PCI locality: libxl_get_pci_topology (applied after
 *    the core's libpci discovery; a device without a node stays unknown);
 *  - devices: libxl_device_pci_assignable_add / _remove (rebind=1),
 *    _assignable_list; a function attached to a live domain is never made
 *    unassignable;
 *  - VMs: live domains by uuid (libxl_list_domain); a VM without a live
 *    domain is halted, known by uuid only (the operations add what
 *    gpupool's assignments know of it: halted_by_uuid in the table);
 *  - affinity: libxl_set_vcpuaffinity per vCPU (hard and/or soft), read back
 *    with libxl_list_vcpu, a mismatch is an error.
 *
 * The boot-time record of an assignment is gpupool's own assignments table:
 * vm-xl-config prints it as xl config lines, vm-boot-prepare applies it to a
 * paused domain (xen_ops.c).  Every libxl error becomes GP_ERR_DRIVER with
 * libxl's own message, captured by a xentoollog logger kept in the driver
 * state; nothing is printed.
 *
 * Every libxl call goes through struct gp_xen_libxl so that the unit tests
 * (tests/test_driver_xen.c) can replace libxl.
 */
#include "xenlight/xenlight.h"  /* first: pins LIBXL_API_VERSION before libxl.h */
#include "drivers/drivers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- driver state ---------------------------------------------------------------- */

typedef struct {
    gp_xl xs;          /* the driver's libxl session */
    int directio;      /* -1 not asked yet, 0 / 1 */
} xen_priv;

static xen_priv *PRIV(gp_drv *ctx)
{
    return ctx->priv;
}

/* Before each libxl call: forget earlier messages. */
static libxl_ctx *LXC(gp_drv *ctx)
{
    return gp_xl_ctx(&PRIV(ctx)->xs);
}

/* libxl failed with lrc: GP_ERR_DRIVER with libxl's own messages. */
#define lx_fail(ctx, lrc, ...) gp_xl_fail(&PRIV(ctx)->xs, (ctx)->err, (lrc), __VA_ARGS__)

static int xen_open(gp_drv *ctx)
{
    xen_priv *p = calloc(1, sizeof(*p));
    int rc;
    if (!p)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    p->directio = -1;
    rc = gp_xl_open(&p->xs, "xen driver", ctx->err);
    if (rc) {
        free(p);
        return rc;
    }
    ctx->priv = p;
    return GP_OK;
}

static void xen_close(gp_drv *ctx)
{
    xen_priv *p = PRIV(ctx);
    if (!p)
        return;
    gp_xl_close(&p->xs);
    free(p);
    ctx->priv = NULL;
}

/* ---- small helpers ---------------------------------------------------------------- */

/* Does physinfo report IOMMU / directio?  Cached per context. */
static int passthrough_check(gp_drv *ctx, const char *pci_id)
{
    xen_priv *p = PRIV(ctx);
    if (p->directio < 0) {
        libxl_physinfo pi;
        int lrc;
        libxl_physinfo_init(&pi);
        lrc = LX->get_physinfo(LXC(ctx), &pi);
        if (lrc) {
            libxl_physinfo_dispose(&pi);
            return lx_fail(ctx, lrc, "libxl_get_physinfo failed");
        }
        p->directio = pi.cap_hvm_directio ? 1 : 0;
        libxl_physinfo_dispose(&pi);
    }
    if (p->directio)
        return GP_OK;
    GP_ERR(ctx, GP_ERR_NO_PASSTHROUGH,
           "Xen reports no IOMMU (virt_caps lacks hvm_directio / pv_directio): "
           "PCI passthrough is impossible on this host%s%s",
           pci_id ? ", cannot pass through " : "", pci_id ? pci_id : "");
    if (pci_id)
        GP_PARAM(ctx, "pci-id", "%s", pci_id);
    return GP_ERR_NO_PASSTHROUGH;
}

/* ---- domains --------------------------------------------------------------------- */

static gp_vm_state dom_state(const libxl_dominfo *d)
{
    if (d->dying)
        return GP_VM_DYING;
    if (d->shutdown)
        return GP_VM_SHUTDOWN;
    if (d->paused)
        return GP_VM_PAUSED;
    return GP_VM_RUNNING;
}

static int dom_to_vm(gp_drv *ctx, const libxl_dominfo *d, gp_vm *v)
{
    char *name = LX->domid_to_name(PRIV(ctx)->xs.lx, d->domid);
    gp_vm_init(v);
    gp_xl_uuid_format(&d->uuid, v->uuid);
    v->name_label = name ? name : gp_strdup("");
    if (!v->name_label)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    v->state = dom_state(d);
    v->domid = (int)d->domid;
    v->vcpus = (int)d->vcpu_max_id + 1;
    v->memory_mib = d->current_memkb / 1024;
    return GP_OK;
}

/* Every live domain but dom0. */
static int domains(gp_drv *ctx, libxl_dominfo **out, int *n_out)
{
    *out = LX->list_domain(LXC(ctx), n_out);
    if (!*out && *n_out != 0) {
        *n_out = 0;
        return lx_fail(ctx, ERROR_FAIL, "libxl_list_domain failed");
    }
    return GP_OK;
}

int gp_xen_domain_find(gp_drv *ctx, const char *vm_uuid, gp_xen_dom *out)
{
    libxl_dominfo *d = NULL;
    int n = 0, rc;
    memset(out, 0, sizeof(*out));
    out->domid = -1;
    rc = domains(ctx, &d, &n);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++) {
        char u[37];
        if (d[i].domid == 0)
            continue;
        gp_xl_uuid_format(&d[i].uuid, u);
        if (strcasecmp(u, vm_uuid))
            continue;
        out->domid = (int)d[i].domid;
        out->paused = d[i].paused;
        out->running = d[i].running;
        out->shutdown = d[i].shutdown;
        out->dying = d[i].dying;
        out->cpu_time_ns = d[i].cpu_time;
        out->vcpus = (int)d[i].vcpu_max_id + 1;
        out->cpupool = (int)d[i].cpupool;
        out->pv = d[i].domain_type == LIBXL_DOMAIN_TYPE_PV;
        break;
    }
    if (d)
        LX->dominfo_list_free(d, n);
    return GP_OK;
}

int gp_xen_cpupool_name(gp_drv *ctx, int poolid, char **name_out)
{
    libxl_cpupoolinfo *cp;
    int ncp = 0, rc = GP_OK;

    *name_out = NULL;
    cp = LX->list_cpupool(LXC(ctx), &ncp);
    if (!cp && ncp != 0)
        return lx_fail(ctx, ERROR_FAIL, "libxl_list_cpupool failed");
    for (int i = 0; i < ncp; i++) {
        if ((int)cp[i].poolid != poolid)
            continue;
        *name_out = gp_strdup(cp[i].pool_name ? cp[i].pool_name : "");
        if (!*name_out)
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        break;
    }
    if (cp)
        LX->cpupoolinfo_list_free(cp, ncp);
    return rc;
}

static int vm_cmp(const void *a, const void *b)
{
    const gp_vm *x = a, *y = b;
    int c = strcmp(x->name_label ? x->name_label : "", y->name_label ? y->name_label : "");
    return c ? c : strcmp(x->uuid, y->uuid);
}

static int xen_vm_list(gp_drv *ctx, gp_vm **out, size_t *n_out)
{
    libxl_dominfo *d = NULL;
    size_t n = 0;
    int nd = 0, rc;
    gp_vm *v = NULL;

    *out = NULL;
    *n_out = 0;
    rc = domains(ctx, &d, &nd);
    if (rc)
        return rc;
    v = calloc((size_t)nd + 1, sizeof(*v));
    if (!v) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < nd; i++) {
        if (d[i].domid == 0)
            continue;
        rc = dom_to_vm(ctx, &d[i], &v[n]);
        if (rc)
            goto out;
        n++;
    }
    qsort(v, n, sizeof(*v), vm_cmp);
    *out = v;
    *n_out = n;
    v = NULL;
out:
    if (v)
        gp_vm_list_free(v, n);
    if (d)
        LX->dominfo_list_free(d, nd);
    return rc;
}

/*
 * A VM by uuid or name-label: a live domain (uuid, then unique name), else a
 * halted VM: any well-formed uuid without a live domain is a halted VM (its
 * vCPUs and memory from its assignment when it has one, else unknown).
 */
static int xen_vm_get(gp_drv *ctx, const char *vm, gp_vm *out)
{
    libxl_dominfo *d = NULL;
    int nd = 0, rc, by_name = -1, n_name = 0;

    rc = domains(ctx, &d, &nd);
    if (rc)
        return rc;
    for (int i = 0; i < nd; i++) {
        char u[37];
        if (d[i].domid == 0)
            continue;
        gp_xl_uuid_format(&d[i].uuid, u);
        if (!strcasecmp(u, vm)) {
            gp_vm_dispose(out);
            rc = dom_to_vm(ctx, &d[i], out);
            goto out;
        }
    }
    for (int i = 0; i < nd; i++) {
        char *name;
        if (d[i].domid == 0)
            continue;
        name = LX->domid_to_name(PRIV(ctx)->xs.lx, d[i].domid);
        if (name && !strcmp(name, vm)) {
            n_name++;
            by_name = i;
        }
        free(name);
    }
    if (n_name > 1) {
        rc = GP_ERR(ctx, GP_ERR_VM_AMBIGUOUS, "%d live domains are named '%s': use the uuid",
                    n_name, vm);
        GP_PARAM(ctx, "vm", "%s", vm);
        goto out;
    }
    if (n_name == 1) {
        gp_vm_dispose(out);
        rc = dom_to_vm(ctx, &d[by_name], out);
        goto out;
    }
    if (gp_uuid_valid(vm)) {
        gp_vm_dispose(out);
        for (size_t i = 0; vm[i] && i < 36; i++)
            out->uuid[i] = (char)(vm[i] >= 'A' && vm[i] <= 'F' ? vm[i] - 'A' + 'a' : vm[i]);
        out->uuid[36] = '\0';
        out->state = GP_VM_HALTED;
        out->domid = -1;
        out->name_label = gp_strdup("");
        if (!out->name_label) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        /* vCPUs and memory unknown here: gpupool's assignment has them
         * (ops/vm.c, halted_by_uuid). */
        goto out;
    }
    rc = GP_ERR(ctx, GP_ERR_UNKNOWN_VM,
                "no live domain named or with uuid '%s' (on plain Xen a halted VM is named by its uuid)",
                vm);
    GP_PARAM(ctx, "vm", "%s", vm);
out:
    if (d)
        LX->dominfo_list_free(d, nd);
    return rc;
}

/* ---- PCI devices ------------------------------------------------------------------ */

static int assignable_list(gp_drv *ctx, char ***out, size_t *n_out)
{
    libxl_device_pci *l;
    int n = 0;
    char **v;

    *out = NULL;
    *n_out = 0;
    l = LX->pci_assignable_list(LXC(ctx), &n);
    if (!l && n != 0)
        return lx_fail(ctx, ERROR_FAIL, "libxl_device_pci_assignable_list failed");
    v = calloc((size_t)n + 1, sizeof(char *));
    if (!v) {
        if (l)
            LX->pci_assignable_list_free(l, n);
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        char id[GP_PCI_ID_LEN];
        gp_xl_pci_to_id(&l[i], id);
        if (!(v[i] = gp_strdup(id))) {
            gp_strv_free(v, (size_t)i);
            LX->pci_assignable_list_free(l, n);
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        }
    }
    if (l)
        LX->pci_assignable_list_free(l, n);
    *out = v;
    *n_out = (size_t)n;
    return GP_OK;
}

static bool strv_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return true;
    return false;
}

int gp_xen_state_get(gp_drv *ctx, gp_xen_state *st)
{
    libxl_dominfo *d = NULL;
    int nd = 0, rc;
    size_t cap = 0;

    memset(st, 0, sizeof(*st));
    rc = assignable_list(ctx, &st->assignable, &st->n_assignable);
    if (rc)
        return rc;
    rc = domains(ctx, &d, &nd);
    if (rc)
        goto fail;
    for (int i = 0; i < nd; i++) {
        libxl_device_pci *l;
        int n = 0;
        if (d[i].domid == 0)
            continue;
        l = LX->pci_list(LXC(ctx), d[i].domid, &n);
        for (int j = 0; l && j < n; j++) {
            if (gp_array_reserve((void **)&st->attached, &cap, st->n_attached,
                                 sizeof(*st->attached))) {
                LX->pci_list_free(l, n);
                rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
                goto fail;
            }
            gp_xen_attached *a = &st->attached[st->n_attached++];
            gp_xl_pci_to_id(&l[j], a->pci_id);
            a->domid = (int)d[i].domid;
            gp_xl_uuid_format(&d[i].uuid, a->vm_uuid);
        }
        if (l)
            LX->pci_list_free(l, n);
    }
    LX->dominfo_list_free(d, nd);
    return GP_OK;
fail:
    if (d)
        LX->dominfo_list_free(d, nd);
    gp_xen_state_dispose(st);
    return rc;
}

void gp_xen_state_dispose(gp_xen_state *st)
{
    if (!st)
        return;
    gp_strv_free(st->assignable, st->n_assignable);
    free(st->attached);
    memset(st, 0, sizeof(*st));
}

static int xen_device_driver(gp_drv *ctx, const char *pci_id, char **driver)
{
    char *d = LX->pci_driver(pci_id);
    *driver = d ? d : gp_strdup("none");
    if (!*driver)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    return GP_OK;
}

static int xen_device_assignable_add(gp_drv *ctx, const char *pci_id, char **orig_driver)
{
    libxl_device_pci pci;
    char canon[GP_PCI_ID_LEN], *cur = NULL;
    int rc, lrc;

    *orig_driver = NULL;
    rc = gp_xl_pci_from_id(pci_id, &pci, ctx->err);
    if (rc)
        return rc;
    gp_xl_pci_to_id(&pci, canon);
    rc = passthrough_check(ctx, canon);
    if (rc)
        goto out;
    rc = xen_device_driver(ctx, canon, &cur);
    if (rc)
        goto out;
    lrc = LX->pci_assignable_add(LXC(ctx), &pci, 1);
    if (lrc) {
        rc = lx_fail(ctx, lrc, "cannot make %s assignable", canon);
        GP_PARAM(ctx, "pci-id", "%s", canon);
        goto out;
    }
    *orig_driver = cur;
    cur = NULL;
out:
    free(cur);
    libxl_device_pci_dispose(&pci);
    return rc;
}

static int xen_device_assignable_remove(gp_drv *ctx, const char *pci_id, const char *orig)
{
    libxl_device_pci pci;
    gp_xen_state st;
    char canon[GP_PCI_ID_LEN], *cur = NULL;
    int rc, lrc;

    rc = gp_xl_pci_from_id(pci_id, &pci, ctx->err);
    if (rc)
        return rc;
    gp_xl_pci_to_id(&pci, canon);
    rc = gp_xen_state_get(ctx, &st);
    if (rc)
        goto out;
    for (size_t i = 0; i < st.n_attached; i++) {
        if (strcmp(st.attached[i].pci_id, canon))
            continue;
        char *name = LX->domid_to_name(PRIV(ctx)->xs.lx, (uint32_t)st.attached[i].domid);
        rc = GP_ERR(ctx, GP_ERR_GPU_ASSIGNED,
                    "%s is attached to live domain %d (%s): a device a domain holds is never "
                    "made unassignable", canon, st.attached[i].domid, name ? name : "?");
        GP_PARAM(ctx, "pci-id", "%s", canon);
        GP_PARAM(ctx, "vm", "%s", st.attached[i].vm_uuid);
        free(name);
        goto out_st;
    }
    /* It was assignable before gpupool took it: it stays so. */
    if (orig && !strcmp(orig, "pciback"))
        goto out_st;
    if (strv_has(st.assignable, st.n_assignable, canon)) {
        lrc = LX->pci_assignable_remove(LXC(ctx), &pci, 1);
        if (lrc) {
            rc = lx_fail(ctx, lrc, "cannot give %s back to dom0", canon);
            GP_PARAM(ctx, "pci-id", "%s", canon);
            goto out_st;
        }
    }
    /* libxl rebinds to the driver it recorded in xenstore; when that record
     * is gone (dom0 rebooted), bind the original driver ourselves. */
    if (orig && *orig && strcmp(orig, "none")) {
        cur = LX->pci_driver(canon);
        if (!cur || strcmp(cur, orig)) {
            int e = LX->pci_bind(canon, orig);
            if (e) {
                rc = GP_ERR(ctx, GP_ERR_DRIVER, "cannot bind %s back to %s: %s", canon, orig,
                            strerror(-e));
                GP_PARAM(ctx, "pci-id", "%s", canon);
                GP_PARAM(ctx, "driver", "%s", orig);
            }
        }
    }
out_st:
    gp_xen_state_dispose(&st);
out:
    free(cur);
    libxl_device_pci_dispose(&pci);
    return rc;
}

int gp_xen_pci_attach(gp_drv *ctx, int domid, const char *const *ids, size_t n, bool *attached_out)
{
    libxl_device_pci *have;
    int nh = 0, rc = GP_OK;
    bool *done = calloc(n ? n : 1, sizeof(bool));

    if (!done)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    have = LX->pci_list(LXC(ctx), (uint32_t)domid, &nh);
    for (size_t i = 0; i < n; i++) {
        libxl_device_pci pci;
        char canon[GP_PCI_ID_LEN];
        bool attached = false;
        int lrc;

        rc = gp_xl_pci_from_id(ids[i], &pci, ctx->err);
        if (rc)
            break;
        gp_xl_pci_to_id(&pci, canon);
        for (int j = 0; have && j < nh && !attached; j++) {
            char h[GP_PCI_ID_LEN];
            gp_xl_pci_to_id(&have[j], h);
            attached = !strcmp(h, canon);
        }
        if (!attached) {
            lrc = LX->pci_add(LXC(ctx), (uint32_t)domid, &pci);
            if (lrc) {
                rc = lx_fail(ctx, lrc, "cannot attach %s to domain %d", canon, domid);
                GP_PARAM(ctx, "pci-id", "%s", canon);
                GP_PARAM(ctx, "domid", "%d", domid);
                libxl_device_pci_dispose(&pci);
                break;
            }
            done[i] = true;
        }
        libxl_device_pci_dispose(&pci);
    }
    if (rc) {
        /* Leave the domain as it was: detach what this call attached,
         * keeping the error that stopped us. */
        gp_error_info saved;
        gp_error_info_init(&saved);
        gp_err_copy(&saved, ctx->err);
        for (size_t i = n; i-- > 0;) {
            libxl_device_pci pci;
            if (!done[i] || gp_xl_pci_from_id(ids[i], &pci, ctx->err))
                continue;
            /* A PV domain that never ran cannot answer an orderly removal
             * (its pcifront is not connected): force it then. */
            if (LX->pci_remove(LXC(ctx), (uint32_t)domid, &pci))
                LX->pci_destroy(LXC(ctx), (uint32_t)domid, &pci);
            libxl_device_pci_dispose(&pci);
        }
        gp_err_copy(ctx->err, &saved);
        gp_error_info_dispose(&saved);
    }
    if (have)
        LX->pci_list_free(have, nh);
    for (size_t i = 0; attached_out && i < n; i++)
        attached_out[i] = !rc && done[i];
    free(done);
    return rc;
}

int gp_xen_pci_detach(gp_drv *ctx, int domid, const char *const *ids, size_t n)
{
    int rc = GP_OK;
    for (size_t i = n; i-- > 0;) {
        libxl_device_pci pci;
        char canon[GP_PCI_ID_LEN];
        int lrc;
        if (gp_xl_pci_from_id(ids[i], &pci, ctx->err))
            continue;
        gp_xl_pci_to_id(&pci, canon);
        lrc = LX->pci_remove(LXC(ctx), (uint32_t)domid, &pci);
        if (lrc)
            lrc = LX->pci_destroy(LXC(ctx), (uint32_t)domid, &pci);
        if (lrc && !rc) {
            rc = lx_fail(ctx, lrc, "cannot detach %s from domain %d", canon, domid);
            GP_PARAM(ctx, "pci-id", "%s", canon);
        }
        libxl_device_pci_dispose(&pci);
    }
    return rc;
}

/* ---- affinity --------------------------------------------------------------------- */

int gp_xen_affinity_get(gp_drv *ctx, int domid, gp_pin_mode mode, char ***out, size_t *n_out)
{
    libxl_vcpuinfo *vi;
    int nv = 0, ncpu = 0;
    char **v;

    *out = NULL;
    *n_out = 0;
    vi = LX->list_vcpu(LXC(ctx), (uint32_t)domid, &nv, &ncpu);
    if (!vi)
        return lx_fail(ctx, ERROR_FAIL, "libxl_list_vcpu failed for domain %d", domid);
    v = calloc((size_t)nv + 1, sizeof(char *));
    if (!v) {
        LX->vcpuinfo_list_free(vi, nv);
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < nv; i++) {
        v[i] = gp_xl_bitmap_join(mode == GP_PIN_SOFT ? &vi[i].cpumap_soft : &vi[i].cpumap, ncpu);
        if (!v[i]) {
            gp_strv_free(v, (size_t)i);
            LX->vcpuinfo_list_free(vi, nv);
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        }
    }
    LX->vcpuinfo_list_free(vi, nv);
    *out = v;
    *n_out = (size_t)nv;
    return GP_OK;
}

int gp_xen_pin(gp_drv *ctx, int domid, const int *pcpus, size_t n, gp_pin_mode mode)
{
    libxl_bitmap bm;
    libxl_vcpuinfo *vi;
    int nv = 0, ncpu = 0, maxid = 0, rc = GP_OK;
    char *want = NULL, **got = NULL;
    size_t ngot = 0;

    if (mode == GP_PIN_NONE)
        return GP_OK;
    if (!n)
        return GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "no pCPUs to pin domain %d to", domid);
    for (size_t i = 0; i < n; i++)
        if (pcpus[i] > maxid)
            maxid = pcpus[i];
    libxl_bitmap_init(&bm);
    bm.size = (uint32_t)(maxid / 8 + 1);
    bm.map = calloc(bm.size, 1);
    if (!bm.map)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (pcpus[i] >= 0)
            bm.map[pcpus[i] / 8] |= (uint8_t)(1u << (pcpus[i] & 7));

    vi = LX->list_vcpu(LXC(ctx), (uint32_t)domid, &nv, &ncpu);
    if (!vi) {
        rc = lx_fail(ctx, ERROR_FAIL, "libxl_list_vcpu failed for domain %d", domid);
        goto out;
    }
    for (int i = 0; i < nv; i++) {
        int lrc = LX->set_vcpuaffinity(LXC(ctx), (uint32_t)domid, vi[i].vcpuid,
                                       mode == GP_PIN_HARD ? &bm : NULL,
                                       mode == GP_PIN_SOFT ? &bm : NULL);
        if (lrc) {
            rc = lx_fail(ctx, lrc, "cannot set the %s affinity of vCPU %u of domain %d",
                         gp_pin_mode_name(mode), vi[i].vcpuid, domid);
            GP_PARAM(ctx, "domid", "%d", domid);
            break;
        }
    }
    LX->vcpuinfo_list_free(vi, nv);
    if (rc)
        goto out;

    /* Read back: Xen may have narrowed the set (cpupool, offline pCPUs). */
    {
        int *sorted = malloc(n * sizeof(int));
        if (!sorted) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        memcpy(sorted, pcpus, n * sizeof(int));
        qsort(sorted, n, sizeof(int), gp_cmp_int);
        want = gp_cpulist_join(sorted, n);
        free(sorted);
    }
    if (!want) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = gp_xen_affinity_get(ctx, domid, mode, &got, &ngot);
    if (rc)
        goto out;
    for (size_t i = 0; i < ngot; i++) {
        if (strcmp(got[i], want)) {
            rc = GP_ERR(ctx, GP_ERR_DRIVER,
                        "vCPU %zu of domain %d has %s affinity %s after pinning to %s",
                        i, domid, gp_pin_mode_name(mode), got[i], want);
            GP_PARAM(ctx, "domid", "%d", domid);
            GP_PARAM(ctx, "vcpu", "%zu", i);
            GP_PARAM(ctx, "expected", "%s", want);
            GP_PARAM(ctx, "actual", "%s", got[i]);
            break;
        }
    }
out:
    gp_strv_free(got, ngot);
    free(want);
    free(bm.map);
    return rc;
}

/* ---- boot record, running VMs ------------------------------------------------------- */

/* The assignment itself (gpupool's database) is the boot record on plain
 * Xen: vm-xl-config prints it, vm-boot-prepare applies it.  Nothing to keep
 * in Xen, which knows no halted VM. */
static int xen_vm_record_boot(gp_drv *ctx, const char *vm_uuid, const gp_boot_config *bc)
{
    (void)ctx; (void)vm_uuid; (void)bc;
    return GP_OK;
}

static int xen_vm_apply_affinity(gp_drv *ctx, const char *vm_uuid, const int *pcpus,
                                 size_t n_pcpus, gp_pin_mode mode)
{
    gp_xen_dom d;
    int rc = gp_xen_domain_find(ctx, vm_uuid, &d);
    if (rc)
        return rc;
    if (d.domid < 0)
        return GP_OK;  /* halted: applied at boot */
    return gp_xen_pin(ctx, d.domid, pcpus, n_pcpus, mode);
}

/* ---- node affinity ---------------------------------------------------------------- */

int gp_xen_node_affinity(gp_drv *ctx, int domid, char *out, size_t len)
{
    libxl_bitmap bm;
    int ids[1024], lrc;
    size_t n = 0;
    char *s;

    out[0] = '\0';
    if (!LX->get_nodeaffinity)
        return GP_OK;
    libxl_bitmap_init(&bm);
    /* xc_domain_node_getaffinity writes xc_get_nodemap_size() bytes: room
     * for 1024 nodes. */
    bm.size = 128;
    bm.map = calloc(bm.size, 1);
    if (!bm.map)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    lrc = LX->get_nodeaffinity(LXC(ctx), (uint32_t)domid, &bm);
    if (lrc) {
        free(bm.map);
        lrc = lx_fail(ctx, lrc, "libxl_domain_get_nodeaffinity failed for domain %d", domid);
        GP_PARAM(ctx, "domid", "%d", domid);
        return lrc;
    }
    for (unsigned b = 0; b < bm.size * 8u && n < GP_ARRAY_SIZE(ids); b++)
        if (gp_xl_bitmap_test(&bm, b))
            ids[n++] = (int)b;
    free(bm.map);
    s = gp_cpulist_ranges(ids, n);
    if (!s)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    snprintf(out, len, "%s", s);
    free(s);
    return GP_OK;
}

const gp_driver_ops gp_driver_xen = {
    .open = xen_open,
    .close = xen_close,
    .vm_list = xen_vm_list,
    .device_assignable_add = xen_device_assignable_add,
    .device_assignable_remove = xen_device_assignable_remove,
    .device_driver = xen_device_driver,
    .vm_record_boot = xen_vm_record_boot,
    .vm_apply_affinity = xen_vm_apply_affinity,
    .vm_get = xen_vm_get,
    /* docs/xen.md "Memory": a plan, kept only if the domain is created with
     * vm-xl-config's cpus / cpus_soft lines; nothing reads per-node pages. */
    .memory_certainty = GP_MEMNODE_BEST_EFFORT,
    .memory_basis = "xen driver: libxl 4.17 populates the memory from the node of the "
                    "vCPUs' hard & soft affinity when the domain is created with the cpus / "
                    "cpus_soft lines of vm-xl-config; Xen falls back to other nodes when "
                    "that node is short of free memory",
};
