/*
 * xenlight.c - libxenlight for libgpupool: loaded with dlopen on first use,
 * called through a seam tests can replace (gp_xen_set_libxl), and a
 * session type (gp_xl: a libxl context with a logger that keeps libxl's
 * messages, so that a failure carries them and nothing is printed).  Used
 * by the libxl discovery source (discover/libxl_topo.c) and the xen driver
 * (drivers/xen.c), each with its own session.
 */
#define GP_XENLIGHT_IMPL
#include "xenlight/xenlight.h"  /* first: pins LIBXL_API_VERSION before libxl.h */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gp_xl_syms gp_xl_sym;

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
    if (!(*(void **)&gp_xl_sym.n = dlsym(h, #n))) {                                     \
        snprintf(why, sizeof(why), "%s lacks %s", GP_XL_SONAME, #n);              \
        state = -1;                                                              \
        return why;                                                              \
    }
    GP_XL_SYMS(X)
#undef X
    state = 1;
    return NULL;
}

#define GP_XENLIGHT_CALLS
#include "xenlight/xenlight.h"

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
    real_libxl.get_physinfo = gp_xl_sym.libxl_get_physinfo;
    real_libxl.get_cpu_topology = gp_xl_sym.libxl_get_cpu_topology;
    real_libxl.cputopology_list_free = gp_xl_sym.libxl_cputopology_list_free;
    real_libxl.get_numainfo = gp_xl_sym.libxl_get_numainfo;
    real_libxl.numainfo_list_free = gp_xl_sym.libxl_numainfo_list_free;
    real_libxl.get_pci_topology = gp_xl_sym.libxl_get_pci_topology;
    real_libxl.pcitopology_list_free = gp_xl_sym.libxl_pcitopology_list_free;
    real_libxl.list_cpupool = gp_xl_sym.libxl_list_cpupool;
    real_libxl.cpupoolinfo_list_free = gp_xl_sym.libxl_cpupoolinfo_list_free;
    real_libxl.list_domain = gp_xl_sym.libxl_list_domain;
    real_libxl.dominfo_list_free = gp_xl_sym.libxl_dominfo_list_free;
    real_libxl.domid_to_name = gp_xl_sym.libxl_domid_to_name;
    real_libxl.list_vcpu = gp_xl_sym.libxl_list_vcpu;
    real_libxl.vcpuinfo_list_free = gp_xl_sym.libxl_vcpuinfo_list_free;
    real_libxl.pci_assignable_add = gp_xl_sym.libxl_device_pci_assignable_add;
    real_libxl.pci_assignable_remove = gp_xl_sym.libxl_device_pci_assignable_remove;
    real_libxl.pci_assignable_list = gp_xl_sym.libxl_device_pci_assignable_list;
    real_libxl.pci_assignable_list_free = gp_xl_sym.libxl_device_pci_assignable_list_free;
    real_libxl.pci_list = gp_xl_sym.libxl_device_pci_list;
    real_libxl.pci_list_free = gp_xl_sym.libxl_device_pci_list_free;
    real_libxl.get_nodeaffinity = gp_xl_sym.libxl_domain_get_nodeaffinity;
    return NULL;
}

const struct gp_xen_libxl *gp_xl_LX = &real_libxl;

void gp_xen_set_libxl(const struct gp_xen_libxl *ops)
{
    gp_xl_LX = ops ? ops : &real_libxl;
}

/* ---- the logger: keeps libxl's last error in the driver state ------------------ */


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

void gp_xl_logger_init(gp_xtl *x)
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

/* ---- a libxl session: a libxl context and its logger ------------------------------ */

libxl_ctx *gp_xl_ctx(gp_xl *s)
{
    gpx_reset(&s->log);
    return s->lx;
}

int gp_xl_fail(gp_xl *s, gp_error_info *err, int lrc, const char *fmt, ...)
{
    char what[512], all[2048] = "";
    const char *name = lrc < 0 ? libxl_error_to_string((libxl_error)lrc) : NULL;
    int n = s ? (s->log.n_errors < GPX_MAX_ERRORS ? s->log.n_errors : GPX_MAX_ERRORS) : 0;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(all);
        snprintf(all + len, sizeof(all) - len, "%s%s", i ? "; " : "", s->log.errors[i]);
    }
    if (n)
        rc = gp_err_set(err, GP_ERR_DRIVER, "%s: libxl: %s", what, all);
    else
        rc = gp_err_set(err, GP_ERR_DRIVER, "%s: libxl error %d (%s)", what, lrc,
                        name ? name : "no message");
    for (int i = 0; i < n; i++)
        gp_err_param(err, "libxl-error", "%s", s->log.errors[i]);
    gp_err_param(err, "libxl-rc", "%d", lrc);
    return rc;
}

int gp_xl_open(gp_xl *s, const char *who, gp_error_info *err)
{
    int lrc;
    memset(s, 0, sizeof(*s));
    gp_xl_logger_init(&s->log);
    /* libxenlight itself (also for a test's fake seam: the _init/_dispose
     * helpers are libxl's own). */
    const char *why = real_libxl_load();
    if (why) {
        gp_err_set(err, GP_ERR_DRIVER, "%s unavailable: %s", who, why);
        gp_err_param(err, "driver", "xen");
        return GP_ERR_DRIVER;
    }
    lrc = gp_xl_LX->ctx_alloc(&s->lx, &s->log.vtable);
    if (lrc || !s->lx) {
        int rc = gp_xl_fail(s, err, lrc ? lrc : ERROR_FAIL, "cannot open a libxl context");
        s->lx = NULL;
        return rc;
    }
    return GP_OK;
}

void gp_xl_close(gp_xl *s)
{
    if (s->lx)
        gp_xl_LX->ctx_free(s->lx);
    s->lx = NULL;
}

static bool xen_present_probe(void);

bool gp_xen_present(void)
{
    static int known = -1;  /* the hypervisor does not come and go */
    if (gp_xl_LX != &real_libxl)
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
    if (gp_xl_LX == &real_libxl &&
        (access("/proc/xen/capabilities", F_OK) || access("/dev/xen/privcmd", F_OK)))
        return false;
    if (real_libxl_load())
        return false;
    gp_xl_logger_init(&log);
    if (gp_xl_LX->ctx_alloc(&lx, &log.vtable) || !lx)
        return false;
    libxl_physinfo_init(&pi);
    ok = gp_xl_LX->get_physinfo(lx, &pi) == 0;
    libxl_physinfo_dispose(&pi);
    gp_xl_LX->ctx_free(lx);
    return ok;
}

/* ---- small helpers ---------------------------------------------------------------- */

void gp_xl_uuid_format(const libxl_uuid *u, char out[37])
{
    snprintf(out, 37, LIBXL_UUID_FMT, LIBXL_UUID_BYTES(*u));
}

int gp_xl_pci_from_id(const char *pci_id, libxl_device_pci *pci, gp_error_info *err)
{
    gp_pci_addr a;
    int rc = gp_pci_addr_parse(pci_id, &a, err);
    if (rc)
        return rc;
    libxl_device_pci_init(pci);
    pci->domain = (int)a.domain;
    pci->bus = a.bus;
    pci->dev = a.dev;
    pci->func = a.func;
    return GP_OK;
}

void gp_xl_pci_to_id(const libxl_device_pci *pci, char out[GP_PCI_ID_LEN])
{
    gp_pci_addr a = { (uint32_t)pci->domain, pci->bus, pci->dev, pci->func };
    gp_pci_addr_format(&a, out);
}

bool gp_xl_bitmap_test(const libxl_bitmap *b, unsigned bit)
{
    return b->map && bit / 8 < b->size && (b->map[bit / 8] & (1u << (bit & 7)));
}

/* Cpulist "2,3" of the set bits of b below nr_cpus (caller frees). */
char *gp_xl_bitmap_join(const libxl_bitmap *b, int nr_cpus)
{
    int *ids = calloc((size_t)(nr_cpus > 0 ? nr_cpus : 1), sizeof(int));
    size_t n = 0;
    char *s;
    if (!ids)
        return NULL;
    for (int i = 0; i < nr_cpus; i++)
        if (gp_xl_bitmap_test(b, (unsigned)i))
            ids[n++] = i;
    s = gp_cpulist_join(ids, n);
    free(ids);
    return s;
}

