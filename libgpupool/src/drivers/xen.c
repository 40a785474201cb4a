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
 *    domain is halted (known by uuid, from gpupool's assignments);
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
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <dlfcn.h>

/* ---- libxl, loaded on first use -------------------------------------------------- *
 *
 * libxenlight and its dependencies are loaded (dlopen) when the xen driver is
 * first opened, not at process start: a read command on a planning host, the
 * sim or xapi driver, and the XAPI plugin do not pay for them.  The headers
 * still come from libxen-dev 4.17, so every type and signature is checked at
 * compile time; the soname pins the ABI. */
#define GP_XL_SONAME "libxenlight.so.4.17"
#define GP_XL_SYMS(X)                                                                    \
    X(libxl_ctx_alloc) X(libxl_ctx_free) X(libxl_get_physinfo) X(libxl_physinfo_init)     \
    X(libxl_physinfo_dispose) X(libxl_get_cpu_topology) X(libxl_cputopology_list_free)    \
    X(libxl_get_numainfo) X(libxl_numainfo_list_free) X(libxl_get_pci_topology)         \
    X(libxl_pcitopology_list_free) X(libxl_list_cpupool) X(libxl_cpupoolinfo_list_free)  \
    X(libxl_list_domain) X(libxl_dominfo_list_free) X(libxl_domid_to_name)              \
    X(libxl_list_vcpu) X(libxl_vcpuinfo_list_free) X(libxl_set_vcpuaffinity)            \
    X(libxl_device_pci_assignable_add) X(libxl_device_pci_assignable_remove)            \
    X(libxl_device_pci_assignable_list) X(libxl_device_pci_assignable_list_free)        \
    X(libxl_device_pci_add) X(libxl_device_pci_remove) X(libxl_device_pci_destroy)      \
    X(libxl_device_pci_list) X(libxl_device_pci_list_free) X(libxl_device_pci_init)     \
    X(libxl_device_pci_dispose) X(libxl_error_to_string) X(libxl_bitmap_init)             \
    X(libxl_domain_get_nodeaffinity)

static struct {
#define X(n) __typeof__(n) *n;
    GP_XL_SYMS(X)
#undef X
} xl;

/* Load libxenlight once.  NULL on success, else a static message. */
static const char *xl_load(void)
{
    static int state;  /* 0 not tried, 1 loaded, -1 failed */
    static char why[256];
    if (state)
        return state > 0 ? NULL : why;
    void *h = dlopen(GP_XL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, sizeof(why), "cannot load %s: %s", GP_XL_SONAME, dlerror());
        state = -1;
        return why;
    }
#define X(n)                                                                     \
    if (!(*(void **)&xl.n = dlsym(h, #n))) {                                     \
        snprintf(why, sizeof(why), "%s lacks %s", GP_XL_SONAME, #n);              \
        state = -1;                                                              \
        return why;                                                              \
    }
    GP_XL_SYMS(X)
#undef X
    state = 1;
    return NULL;
}

/* From here on every libxl function is called through the loaded table. */
#define libxl_ctx_alloc (*xl.libxl_ctx_alloc)
#define libxl_ctx_free (*xl.libxl_ctx_free)
#define libxl_physinfo_init (*xl.libxl_physinfo_init)
#define libxl_physinfo_dispose (*xl.libxl_physinfo_dispose)
#define libxl_set_vcpuaffinity (*xl.libxl_set_vcpuaffinity)
#define libxl_device_pci_add (*xl.libxl_device_pci_add)
#define libxl_device_pci_remove (*xl.libxl_device_pci_remove)
#define libxl_device_pci_destroy (*xl.libxl_device_pci_destroy)
#define libxl_device_pci_init (*xl.libxl_device_pci_init)
#define libxl_device_pci_dispose (*xl.libxl_device_pci_dispose)
#define libxl_error_to_string (*xl.libxl_error_to_string)
#define libxl_bitmap_init (*xl.libxl_bitmap_init)

/* ---- the libxl seam ------------------------------------------------------------ */

static int real_ctx_alloc(libxl_ctx **lx, xentoollog_logger *lg)
{
    return libxl_ctx_alloc(lx, LIBXL_VERSION, 0, lg);
}

static void real_ctx_free(libxl_ctx *lx)
{
    libxl_ctx_free(lx);
}

static int real_pci_add(libxl_ctx *lx, uint32_t domid, libxl_device_pci *pci)
{
    return libxl_device_pci_add(lx, domid, pci, NULL);
}

static int real_pci_remove(libxl_ctx *lx, uint32_t domid, libxl_device_pci *pci)
{
    return libxl_device_pci_remove(lx, domid, pci, NULL);
}

static int real_pci_destroy(libxl_ctx *lx, uint32_t domid, libxl_device_pci *pci)
{
    return libxl_device_pci_destroy(lx, domid, pci, NULL);
}

static int real_set_vcpuaffinity(libxl_ctx *lx, uint32_t domid, uint32_t vcpu,
                                 const libxl_bitmap *hard, const libxl_bitmap *soft)
{
    return libxl_set_vcpuaffinity(lx, domid, vcpu, hard, soft);
}

/* Driver bound to a PCI function in dom0: basename of the sysfs driver
 * link, NULL when unbound.  Caller frees. */
static char *real_pci_driver(const char *pci_id)
{
    char path[PATH_MAX], link[PATH_MAX];
    ssize_t n;
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", pci_id);
    n = readlink(path, link, sizeof(link) - 1);
    if (n <= 0)
        return NULL;
    link[n] = '\0';
    const char *b = strrchr(link, '/');
    return gp_strdup(b ? b + 1 : link);
}

/* Bind a function to a dom0 driver (sysfs bind).  0 or -errno. */
static int real_pci_bind(const char *pci_id, const char *driver)
{
    char path[PATH_MAX];
    int fd, e = 0;
    snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind", driver);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (write(fd, pci_id, strlen(pci_id)) < 0)
        e = -errno;
    close(fd);
    return e;
}

static struct gp_xen_libxl real_libxl = {
    .ctx_alloc = real_ctx_alloc,
    .ctx_free = real_ctx_free,
    .set_vcpuaffinity = real_set_vcpuaffinity,
    .pci_add = real_pci_add,
    .pci_remove = real_pci_remove,
    .pci_destroy = real_pci_destroy,
    .pci_driver = real_pci_driver,
    .pci_bind = real_pci_bind,
};

/* Point the seam at the loaded libxenlight.  NULL or why it failed. */
static const char *real_libxl_load(void)
{
    const char *why = xl_load();
    if (why)
        return why;
    real_libxl.get_physinfo = xl.libxl_get_physinfo;
    real_libxl.get_cpu_topology = xl.libxl_get_cpu_topology;
    real_libxl.cputopology_list_free = xl.libxl_cputopology_list_free;
    real_libxl.get_numainfo = xl.libxl_get_numainfo;
    real_libxl.numainfo_list_free = xl.libxl_numainfo_list_free;
    real_libxl.get_pci_topology = xl.libxl_get_pci_topology;
    real_libxl.pcitopology_list_free = xl.libxl_pcitopology_list_free;
    real_libxl.list_cpupool = xl.libxl_list_cpupool;
    real_libxl.cpupoolinfo_list_free = xl.libxl_cpupoolinfo_list_free;
    real_libxl.list_domain = xl.libxl_list_domain;
    real_libxl.dominfo_list_free = xl.libxl_dominfo_list_free;
    real_libxl.domid_to_name = xl.libxl_domid_to_name;
    real_libxl.list_vcpu = xl.libxl_list_vcpu;
    real_libxl.vcpuinfo_list_free = xl.libxl_vcpuinfo_list_free;
    real_libxl.pci_assignable_add = xl.libxl_device_pci_assignable_add;
    real_libxl.pci_assignable_remove = xl.libxl_device_pci_assignable_remove;
    real_libxl.pci_assignable_list = xl.libxl_device_pci_assignable_list;
    real_libxl.pci_assignable_list_free = xl.libxl_device_pci_assignable_list_free;
    real_libxl.pci_list = xl.libxl_device_pci_list;
    real_libxl.pci_list_free = xl.libxl_device_pci_list_free;
    real_libxl.get_nodeaffinity = xl.libxl_domain_get_nodeaffinity;
    return NULL;
}

static const struct gp_xen_libxl *LX = &real_libxl;

void gp_xen_set_libxl(const struct gp_xen_libxl *ops)
{
    LX = ops ? ops : &real_libxl;
}

/* ---- the logger: keeps libxl's last error in the driver state ------------------ */

#define GPX_MAX_ERRORS 8

typedef struct {
    xentoollog_logger vtable;      /* first: libxl sees a xentoollog_logger */
    char errors[GPX_MAX_ERRORS][512]; /* messages at XTL_ERROR or above, in order */
    int n_errors;                  /* how many were logged (may exceed the array) */
    char last_warning[512];        /* last XTL_WARN message */
} gp_xtl;

static void gpx_vmessage(xentoollog_logger *lg, xentoollog_level level, int errnoval,
                         const char *context, const char *format, va_list al)
{
    gp_xtl *x = (gp_xtl *)lg;
    char *dst;
    size_t cap = sizeof(x->errors[0]), len;
    (void)context;
    if (level < XTL_WARN)
        return;
    if (level >= XTL_ERROR) {
        /* keep the first ones and the very last */
        int slot = x->n_errors < GPX_MAX_ERRORS ? x->n_errors : GPX_MAX_ERRORS - 1;
        dst = x->errors[slot];
        x->n_errors++;
    } else {
        dst = x->last_warning;
    }
    vsnprintf(dst, cap, format, al);
    len = strlen(dst);
    while (len && dst[len - 1] == '\n')
        dst[--len] = '\0';
    /* As xl's stdio logger writes it: the message, then ": strerror". */
    if (errnoval >= 0 && len < cap)
        snprintf(dst + len, cap - len, ": %s", strerror(errnoval));
}

static void gpx_progress(xentoollog_logger *lg, const char *context, const char *doing,
                         int percent, unsigned long done, unsigned long total)
{
    (void)lg; (void)context; (void)doing; (void)percent; (void)done; (void)total;
}

static void gpx_destroy(xentoollog_logger *lg)
{
    (void)lg;
}

static void gpx_init(gp_xtl *x)
{
    memset(x, 0, sizeof(*x));
    x->vtable.vmessage = gpx_vmessage;
    x->vtable.progress = gpx_progress;
    x->vtable.destroy = gpx_destroy;
}

static void gpx_reset(gp_xtl *x)
{
    x->n_errors = 0;
    x->last_warning[0] = '\0';
}

/* ---- driver state ---------------------------------------------------------------- */

typedef struct {
    libxl_ctx *lx;
    gp_xtl log;
    int directio;      /* -1 not asked yet, 0 / 1 */
} xen_priv;

static xen_priv *PRIV(gp_ctx *ctx)
{
    return ctx->drv_priv;
}

/* Before each libxl call: forget earlier messages. */
static libxl_ctx *LXC(gp_ctx *ctx)
{
    xen_priv *p = PRIV(ctx);
    gpx_reset(&p->log);
    return p->lx;
}

/* libxl failed with lrc: GP_ERR_DRIVER with libxl's own messages (every
 * error it logged during the call, in order, as xl would print them after
 * "libxl: error: "), each also as a "libxl-error" param. */
static int GP_PRINTF(3, 4) lx_fail(gp_ctx *ctx, int lrc, const char *fmt, ...)
{
    xen_priv *p = PRIV(ctx);
    char what[512], all[2048] = "";
    const char *name = lrc < 0 ? libxl_error_to_string((libxl_error)lrc) : NULL;
    int n = p ? (p->log.n_errors < GPX_MAX_ERRORS ? p->log.n_errors : GPX_MAX_ERRORS) : 0;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(all);
        snprintf(all + len, sizeof(all) - len, "%s%s", i ? "; " : "", p->log.errors[i]);
    }
    if (n)
        rc = GP_ERR(ctx, GP_ERR_DRIVER, "%s: libxl: %s", what, all);
    else
        rc = GP_ERR(ctx, GP_ERR_DRIVER, "%s: libxl error %d (%s)", what, lrc,
                    name ? name : "no message");
    for (int i = 0; i < n; i++)
        GP_PARAM(ctx, "libxl-error", "%s", p->log.errors[i]);
    GP_PARAM(ctx, "libxl-rc", "%d", lrc);
    return rc;
}

static int xen_open(gp_ctx *ctx)
{
    xen_priv *p = calloc(1, sizeof(*p));
    int lrc;
    if (!p)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    gpx_init(&p->log);
    p->directio = -1;
    /* libxenlight itself (also for a test's fake seam: the _init/_dispose
     * helpers are libxl's own). */
    const char *why = real_libxl_load();
    if (why) {
        free(p);
        GP_ERR(ctx, GP_ERR_DRIVER, "xen driver unavailable: %s", why);
        GP_PARAM(ctx, "driver", "xen");
        return GP_ERR_DRIVER;
    }
    ctx->drv_priv = p;
    lrc = LX->ctx_alloc(&p->lx, &p->log.vtable);
    if (lrc || !p->lx) {
        int rc = lx_fail(ctx, lrc ? lrc : ERROR_FAIL, "cannot open a libxl context");
        free(p);
        ctx->drv_priv = NULL;
        return rc;
    }
    return GP_OK;
}

static void xen_close(gp_ctx *ctx)
{
    xen_priv *p = PRIV(ctx);
    if (!p)
        return;
    if (p->lx)
        LX->ctx_free(p->lx);
    free(p);
    ctx->drv_priv = NULL;
}

static bool xen_present_probe(void);

bool gp_xen_present(void)
{
    static int known = -1;  /* the hypervisor does not come and go */
    if (LX != &real_libxl)
        return xen_present_probe();  /* tests swap the seam */
    if (known < 0)
        known = xen_present_probe() ? 1 : 0;
    return known == 1;
}

static bool xen_present_probe(void)
{
    gp_xtl log;
    libxl_ctx *lx = NULL;
    libxl_physinfo pi;
    bool ok;

    /* Cheap first: no privcmd, no hypervisor to talk to. */
    if (LX == &real_libxl &&
        (access("/proc/xen/capabilities", F_OK) || access("/dev/xen/privcmd", F_OK)))
        return false;
    if (real_libxl_load())
        return false;
    gpx_init(&log);
    if (LX->ctx_alloc(&lx, &log.vtable) || !lx)
        return false;
    libxl_physinfo_init(&pi);
    ok = LX->get_physinfo(lx, &pi) == 0;
    libxl_physinfo_dispose(&pi);
    LX->ctx_free(lx);
    return ok;
}

/* ---- small helpers ---------------------------------------------------------------- */

static void uuid_format(const libxl_uuid *u, char out[37])
{
    snprintf(out, 37, LIBXL_UUID_FMT, LIBXL_UUID_BYTES(*u));
}

static int pci_from_id(gp_ctx *ctx, const char *pci_id, libxl_device_pci *pci)
{
    gp_pci_addr a;
    int rc = gp_pci_addr_parse(pci_id, &a, &ctx->err);
    if (rc)
        return rc;
    libxl_device_pci_init(pci);
    pci->domain = (int)a.domain;
    pci->bus = a.bus;
    pci->dev = a.dev;
    pci->func = a.func;
    return GP_OK;
}

static void pci_to_id(const libxl_device_pci *pci, char out[GP_PCI_ID_LEN])
{
    gp_pci_addr a = { (uint32_t)pci->domain, pci->bus, pci->dev, pci->func };
    gp_pci_addr_format(&a, out);
}

static bool bitmap_test(const libxl_bitmap *b, unsigned bit)
{
    return b->map && bit / 8 < b->size && (b->map[bit / 8] & (1u << (bit & 7)));
}

/* Cpulist "2,3" of the set bits of b below nr_cpus (caller frees). */
static char *bitmap_join(const libxl_bitmap *b, int nr_cpus)
{
    int *ids = calloc((size_t)(nr_cpus > 0 ? nr_cpus : 1), sizeof(int));
    size_t n = 0;
    char *s;
    if (!ids)
        return NULL;
    for (int i = 0; i < nr_cpus; i++)
        if (bitmap_test(b, (unsigned)i))
            ids[n++] = i;
    s = gp_cpulist_join(ids, n);
    free(ids);
    return s;
}

/* Does physinfo report IOMMU / directio?  Cached per context. */
static int passthrough_check(gp_ctx *ctx, const char *pci_id)
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

/* ---- topology ---------------------------------------------------------------------- */

static int xen_host_topology(gp_ctx *ctx, gp_host *h)
{
    libxl_physinfo pi;
    libxl_cputopology *ct = NULL;
    libxl_numainfo *ni = NULL;
    libxl_cpupoolinfo *cp = NULL;
    int nct = 0, nni = 0, ncp = 0, lrc, rc = GP_OK;
    int *node_index = NULL;

    libxl_physinfo_init(&pi);
    lrc = LX->get_physinfo(LXC(ctx), &pi);
    if (lrc) {
        rc = lx_fail(ctx, lrc, "libxl_get_physinfo failed");
        goto out;
    }
    h->passthrough = pi.cap_hvm_directio ? GP_YES : GP_NO;
    PRIV(ctx)->directio = pi.cap_hvm_directio ? 1 : 0;

    ct = LX->get_cpu_topology(LXC(ctx), &nct);
    if (!ct) {
        rc = lx_fail(ctx, ERROR_FAIL, "libxl_get_cpu_topology failed");
        goto out;
    }
    ni = LX->get_numainfo(LXC(ctx), &nni);
    if (!ni) {
        rc = lx_fail(ctx, ERROR_FAIL, "libxl_get_numainfo failed");
        goto out;
    }

    /* pCPUs: an offline one is the entry Xen leaves wholly invalid (core,
     * socket and node all LIBXL_CPUTOPOLOGY_INVALID_ENTRY, as
     * XEN_SYSCTL_cputopo reports a CPU that is not online).  A single
     * invalid field is an unknown fact, not an absent CPU: e.g. with QEMU
     * -smp N,sockets=N,cores=1 Xen 4.17 reports core ~0 for online CPUs. */
    h->cpus = calloc((size_t)(nct > 0 ? nct : 1), sizeof(*h->cpus));
    if (!h->cpus)
        goto nomem;
    for (int i = 0; i < nct; i++) {
        if (ct[i].core == LIBXL_CPUTOPOLOGY_INVALID_ENTRY &&
            ct[i].socket == LIBXL_CPUTOPOLOGY_INVALID_ENTRY &&
            ct[i].node == LIBXL_CPUTOPOLOGY_INVALID_ENTRY)
            continue;
        gp_pcpu *c = &h->cpus[h->n_cpus++];
        c->id = i;
        c->socket = ct[i].socket == LIBXL_CPUTOPOLOGY_INVALID_ENTRY ? -1 : (int)ct[i].socket;
        /* Xen's core id is per socket: make it host-wide unique (as sysfs.c);
         * an unknown core stays -1 (placement: its own core). */
        if (ct[i].core == LIBXL_CPUTOPOLOGY_INVALID_ENTRY)
            c->core = -1;
        else
            c->core = c->socket >= 0 ? c->socket * 1000 + (int)ct[i].core : (int)ct[i].core;
        c->node = ct[i].node == LIBXL_CPUTOPOLOGY_INVALID_ENTRY ? -1 : (int)ct[i].node;
    }

    /* Nodes: those with memory or pCPUs. */
    node_index = malloc((size_t)(nni > 0 ? nni : 1) * sizeof(int));
    h->nodes = calloc((size_t)(nni > 0 ? nni : 1), sizeof(*h->nodes));
    if (!node_index || !h->nodes)
        goto nomem;
    for (int i = 0; i < nni; i++) {
        size_t ncpu = 0;
        node_index[i] = -1;
        for (size_t c = 0; c < h->n_cpus; c++)
            ncpu += h->cpus[c].node == i;
        if (ni[i].size == LIBXL_NUMAINFO_INVALID_ENTRY || (ni[i].size == 0 && ncpu == 0))
            continue;
        gp_numa_node *nd = &h->nodes[h->n_nodes];
        node_index[i] = (int)h->n_nodes++;
        nd->id = i;
        nd->socket = -1;
        nd->mem_total_bytes = ni[i].size == LIBXL_NUMAINFO_INVALID_ENTRY ? 0 : ni[i].size;
        nd->mem_free_bytes = ni[i].free == LIBXL_NUMAINFO_INVALID_ENTRY ? 0 : ni[i].free;
        nd->cpus = calloc(ncpu ? ncpu : 1, sizeof(int));
        if (!nd->cpus)
            goto nomem;
        for (size_t c = 0; c < h->n_cpus; c++) {
            if (h->cpus[c].node != i)
                continue;
            nd->cpus[nd->n_cpus++] = h->cpus[c].id;
            if (nd->socket < 0)
                nd->socket = h->cpus[c].socket;
        }
    }
    for (int i = 0; i < nni; i++) {
        if (node_index[i] < 0 || !ni[i].dists || ni[i].num_dists <= 0)
            continue;
        gp_numa_node *nd = &h->nodes[node_index[i]];
        nd->distances = calloc(h->n_nodes, sizeof(int));
        if (!nd->distances)
            goto nomem;
        for (int j = 0; j < nni; j++) {
            if (node_index[j] < 0)
                continue;
            nd->distances[node_index[j]] =
                j < ni[i].num_dists && ni[i].dists[j] != LIBXL_NUMAINFO_INVALID_ENTRY
                    ? (int)ni[i].dists[j] : -1;
        }
    }

    /* cpupools */
    cp = LX->list_cpupool(LXC(ctx), &ncp);
    if (!cp && ncp != 0) {
        rc = lx_fail(ctx, ERROR_FAIL, "libxl_list_cpupool failed");
        goto out;
    }
    if (ncp > 0) {
        h->cpupools = calloc((size_t)ncp, sizeof(*h->cpupools));
        if (!h->cpupools)
            goto nomem;
        for (int i = 0; i < ncp; i++) {
            gp_cpupool *p = &h->cpupools[h->n_cpupools++];
            p->id = (int)cp[i].poolid;
            p->name = gp_strdup(cp[i].pool_name ? cp[i].pool_name : "");
            p->cpus = calloc((size_t)(cp[i].cpumap.size * 8 + 1), sizeof(int));
            if (!p->name || !p->cpus)
                goto nomem;
            for (unsigned b = 0; b < cp[i].cpumap.size * 8u; b++)
                if (bitmap_test(&cp[i].cpumap, b))
                    p->cpus[p->n_cpus++] = (int)b;
        }
    }
    if (!h->topology_source && !(h->topology_source = gp_strdup("libxl")))
        goto nomem;
    goto out;
nomem:
    rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
out:
    free(node_index);
    if (ct)
        LX->cputopology_list_free(ct, nct);
    if (ni)
        LX->numainfo_list_free(ni, nni);
    if (cp)
        LX->cpupoolinfo_list_free(cp, ncp);
    libxl_physinfo_dispose(&pi);
    return rc;
}

static int xen_host_pci_locality(gp_ctx *ctx, gp_host *h)
{
    libxl_pcitopology *pt;
    int n = 0;

    pt = LX->get_pci_topology(LXC(ctx), &n);
    if (!pt)
        return lx_fail(ctx, ERROR_FAIL, "libxl_get_pci_topology failed");
    for (size_t g = 0; g < h->n_gpus; g++) {
        gp_gpu *gpu = &h->gpus[g];
        for (int i = 0; i < n; i++) {
            if (pt[i].seg != gpu->addr.domain || pt[i].bus != gpu->addr.bus ||
                pt[i].devfn != ((gpu->addr.dev << 3) | gpu->addr.func))
                continue;
            if (pt[i].node != LIBXL_PCITOPOLOGY_INVALID_ENTRY)
                gpu->numa_node = (int)pt[i].node;
            break;
        }
    }
    LX->pcitopology_list_free(pt, n);
    return GP_OK;
}

/* The same facts for another driver (xapi on XCP-ng, whose dom0 sysfs does
 * not show the host's NUMA layout either): run the hook with a short-lived
 * xen driver state, keeping the other driver's state aside. */
static int with_xen_state(gp_ctx *ctx, int (*fn)(gp_ctx *, gp_host *), gp_host *h)
{
    void *saved = ctx->drv_priv;
    int rc;
    ctx->drv_priv = NULL;
    rc = xen_open(ctx);
    if (!rc) {
        rc = fn(ctx, h);
        xen_close(ctx);
    }
    ctx->drv_priv = saved;
    return rc;
}

int gp_xen_host_topology(gp_ctx *ctx, gp_host *h)
{
    return with_xen_state(ctx, xen_host_topology, h);
}

int gp_xen_host_pci_locality(gp_ctx *ctx, gp_host *h)
{
    return with_xen_state(ctx, xen_host_pci_locality, h);
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

static int dom_to_vm(gp_ctx *ctx, const libxl_dominfo *d, gp_vm *v)
{
    char *name = LX->domid_to_name(PRIV(ctx)->lx, d->domid);
    gp_vm_init(v);
    uuid_format(&d->uuid, v->uuid);
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
static int domains(gp_ctx *ctx, libxl_dominfo **out, int *n_out)
{
    *out = LX->list_domain(LXC(ctx), n_out);
    if (!*out && *n_out != 0) {
        *n_out = 0;
        return lx_fail(ctx, ERROR_FAIL, "libxl_list_domain failed");
    }
    return GP_OK;
}

int gp_xen_domain_find(gp_ctx *ctx, const char *vm_uuid, gp_xen_dom *out)
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
        uuid_format(&d[i].uuid, u);
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

int gp_xen_cpupool_name(gp_ctx *ctx, int poolid, char **name_out)
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

/* Halted VMs gpupool knows: assigned VMs without a live domain. */
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
    rc = gp_store_prepare(ctx, "SELECT vm_uuid, vcpus, memory_mib FROM assignments"
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
        rc = gp_store_error(ctx, s, "reading assignments");
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

static int xen_vm_list(gp_ctx *ctx, gp_vm **out, size_t *n_out)
{
    libxl_dominfo *d = NULL;
    known_vm *k = NULL;
    size_t nk = 0, n = 0;
    int nd = 0, rc;
    gp_vm *v = NULL;

    *out = NULL;
    *n_out = 0;
    rc = domains(ctx, &d, &nd);
    if (rc)
        return rc;
    rc = known_vms(ctx, &k, &nk);
    if (rc)
        goto out;
    v = calloc((size_t)nd + nk + 1, sizeof(*v));
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
    for (size_t i = 0; i < nk; i++) {
        bool live = false;
        for (size_t j = 0; j < n && !live; j++)
            live = !strcasecmp(v[j].uuid, k[i].uuid);
        if (live)
            continue;
        gp_vm_init(&v[n]);
        snprintf(v[n].uuid, sizeof(v[n].uuid), "%s", k[i].uuid);
        v[n].name_label = gp_strdup("");
        if (!v[n].name_label) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        v[n].state = GP_VM_HALTED;
        v[n].vcpus = k[i].vcpus;
        v[n].memory_mib = k[i].memory_mib;
        n++;
    }
    qsort(v, n, sizeof(*v), vm_cmp);
    *out = v;
    *n_out = n;
    v = NULL;
out:
    if (v)
        gp_vm_list_free(v, n);
    free(k);
    if (d)
        LX->dominfo_list_free(d, nd);
    return rc;
}

/*
 * A VM by uuid or name-label: a live domain (uuid, then unique name), else a
 * halted VM: any well-formed uuid without a live domain is a halted VM (its
 * vCPUs and memory from its assignment when it has one, else unknown).
 */
static int xen_vm_get(gp_ctx *ctx, const char *vm, gp_vm *out)
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
        uuid_format(&d[i].uuid, u);
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
        name = LX->domid_to_name(PRIV(ctx)->lx, d[i].domid);
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
        known_vm *k = NULL;
        size_t nk = 0;
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
        rc = known_vms(ctx, &k, &nk);
        if (rc)
            goto out;
        for (size_t i = 0; i < nk; i++) {
            if (!strcasecmp(k[i].uuid, out->uuid)) {
                out->vcpus = k[i].vcpus;
                out->memory_mib = k[i].memory_mib;
            }
        }
        free(k);
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

static int assignable_list(gp_ctx *ctx, char ***out, size_t *n_out)
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
        pci_to_id(&l[i], id);
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

int gp_xen_state_get(gp_ctx *ctx, gp_xen_state *st)
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
            pci_to_id(&l[j], a->pci_id);
            a->domid = (int)d[i].domid;
            uuid_format(&d[i].uuid, a->vm_uuid);
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

static int xen_device_driver(gp_ctx *ctx, const char *pci_id, char **driver)
{
    char *d = LX->pci_driver(pci_id);
    *driver = d ? d : gp_strdup("none");
    if (!*driver)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    return GP_OK;
}

static int xen_device_assignable_add(gp_ctx *ctx, const char *pci_id, char **orig_driver)
{
    libxl_device_pci pci;
    char canon[GP_PCI_ID_LEN], *cur = NULL;
    int rc, lrc;

    *orig_driver = NULL;
    rc = pci_from_id(ctx, pci_id, &pci);
    if (rc)
        return rc;
    pci_to_id(&pci, canon);
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

static int xen_device_assignable_remove(gp_ctx *ctx, const char *pci_id, const char *orig)
{
    libxl_device_pci pci;
    gp_xen_state st;
    char canon[GP_PCI_ID_LEN], *cur = NULL;
    int rc, lrc;

    rc = pci_from_id(ctx, pci_id, &pci);
    if (rc)
        return rc;
    pci_to_id(&pci, canon);
    rc = gp_xen_state_get(ctx, &st);
    if (rc)
        goto out;
    for (size_t i = 0; i < st.n_attached; i++) {
        if (strcmp(st.attached[i].pci_id, canon))
            continue;
        char *name = LX->domid_to_name(PRIV(ctx)->lx, (uint32_t)st.attached[i].domid);
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

int gp_xen_pci_attach(gp_ctx *ctx, int domid, const char *const *ids, size_t n, bool *attached_out)
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

        rc = pci_from_id(ctx, ids[i], &pci);
        if (rc)
            break;
        pci_to_id(&pci, canon);
        for (int j = 0; have && j < nh && !attached; j++) {
            char h[GP_PCI_ID_LEN];
            pci_to_id(&have[j], h);
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
        gp_err_copy(&saved, &ctx->err);
        for (size_t i = n; i-- > 0;) {
            libxl_device_pci pci;
            if (!done[i] || pci_from_id(ctx, ids[i], &pci))
                continue;
            /* A PV domain that never ran cannot answer an orderly removal
             * (its pcifront is not connected): force it then. */
            if (LX->pci_remove(LXC(ctx), (uint32_t)domid, &pci))
                LX->pci_destroy(LXC(ctx), (uint32_t)domid, &pci);
            libxl_device_pci_dispose(&pci);
        }
        gp_err_copy(&ctx->err, &saved);
        gp_error_info_dispose(&saved);
    }
    if (have)
        LX->pci_list_free(have, nh);
    for (size_t i = 0; attached_out && i < n; i++)
        attached_out[i] = !rc && done[i];
    free(done);
    return rc;
}

int gp_xen_pci_detach(gp_ctx *ctx, int domid, const char *const *ids, size_t n)
{
    int rc = GP_OK;
    for (size_t i = n; i-- > 0;) {
        libxl_device_pci pci;
        char canon[GP_PCI_ID_LEN];
        int lrc;
        if (pci_from_id(ctx, ids[i], &pci))
            continue;
        pci_to_id(&pci, canon);
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

int gp_xen_affinity_get(gp_ctx *ctx, int domid, gp_pin_mode mode, char ***out, size_t *n_out)
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
        v[i] = bitmap_join(mode == GP_PIN_SOFT ? &vi[i].cpumap_soft : &vi[i].cpumap, ncpu);
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

int gp_xen_pin(gp_ctx *ctx, int domid, const int *pcpus, size_t n, gp_pin_mode mode)
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

/* ---- node affinity ---------------------------------------------------------------- */

int gp_xen_node_affinity(gp_ctx *ctx, int domid, char *out, size_t len)
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
        if (bitmap_test(&bm, b))
            ids[n++] = (int)b;
    free(bm.map);
    s = gp_cpulist_ranges(ids, n);
    if (!s)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    snprintf(out, len, "%s", s);
    free(s);
    return GP_OK;
}

/* ---- boot record, running VMs ------------------------------------------------------- */

/* The assignment itself (gpupool's database) is the boot record on plain
 * Xen: vm-xl-config prints it, vm-boot-prepare applies it.  Nothing to keep
 * in Xen, which knows no halted VM. */
static int xen_vm_record_boot(gp_ctx *ctx, const char *vm_uuid, const gp_boot_config *bc)
{
    (void)ctx; (void)vm_uuid; (void)bc;
    return GP_OK;
}

static int xen_vm_apply_affinity(gp_ctx *ctx, const char *vm_uuid, const int *pcpus,
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

const gp_driver_ops gp_driver_xen = {
    .name = "xen",
    .open = xen_open,
    .close = xen_close,
    .host_topology = xen_host_topology,
    .vm_list = xen_vm_list,
    .device_assignable_add = xen_device_assignable_add,
    .device_assignable_remove = xen_device_assignable_remove,
    .device_driver = xen_device_driver,
    .vm_record_boot = xen_vm_record_boot,
    .vm_apply_affinity = xen_vm_apply_affinity,
    .transactional = false,
    .vm_get = xen_vm_get,
    .host_pci_locality = xen_host_pci_locality,
    /* docs/xen.md "Memory": a plan, kept only if the domain is created with
     * vm-xl-config's cpus / cpus_soft lines; nothing reads per-node pages. */
    .memory_certainty = GP_MEMNODE_BEST_EFFORT,
    .memory_basis = "xen driver: libxl 4.17 populates the memory from the node of the "
                    "vCPUs' hard & soft affinity when the domain is created with the cpus / "
                    "cpus_soft lines of vm-xl-config; Xen falls back to other nodes when "
                    "that node is short of free memory",
};
