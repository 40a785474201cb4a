/*
 * pci.c - PCI functions and GPUs through libpci.
 *
 * One scan of the configured source (an lspci -xxx dump, a captured sysfs
 * tree, or the live sysfs) gives every function; the functions the class
 * filter calls GPUs get the full fact sheet:
 *  - ids, class, prog-if, revision, subsystem: libpci (config header);
 *  - NUMA node, IOMMU group: libpci's sysfs properties (unknown in a dump);
 *  - LnkCap / LnkSta, DevCap FLR, AF FLR, SR-IOV TotalVFs: the capability
 *    lists, read only when the source holds 256 (4096 for extended caps)
 *    bytes of config space; a 64-byte unprivileged view has none;
 *  - the same facts from sysfs attributes (max_link_speed, reset_method,
 *    sriov_totalvfs, boot_vga, driver) when the device has a sysfs dir;
 *  - names from pci.ids, looked up once per process (the load of pci.ids
 *    costs ~5 ms, so only when a source did not carry names).
 *
 * libpci reports fatal problems through pci_access->error, whose default
 * prints and exits; the library never does either, so every libpci call
 * runs under a setjmp guard and the handler longjmps back with the message.
 */
#include "discover/discover.h"

#include <pci/pci.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PCI_EXT_CAP_ID_SRIOV
#define PCI_EXT_CAP_ID_SRIOV 0x10
#endif
#ifndef PCI_CAP_ID_AF
#define PCI_CAP_ID_AF 0x13
#endif
#define GP_PCI_EXP_DEVCAP_FLR 0x10000000u
#define GP_PCI_AF_CAP 3          /* byte: bit 0 TP, bit 1 FLR */
#define GP_PCI_AF_CAP_FLR 0x02
#define GP_PCI_SRIOV_TOTALVFS 0x0e

/* libpci before 3.8 (XCP-ng 8.3 has pciutils 3.5.1): no PCI_NONRET, no
 * PCI_FILL_CLASS_EXT / PCI_FILL_SUBSYS / PCI_FILL_IOMMU_GROUP, no prog_if,
 * rev_id, subsys_* fields, no pci_get_string_property.  pci_fill_ext() gives
 * scan_device the same facts with either. */
#if PCI_LIB_VERSION >= 0x030800
#define GP_PCI_NATIVE_EXT 1
#else
#define GP_PCI_NATIVE_EXT 0
#ifndef PCI_NONRET
#define PCI_NONRET __attribute__((noreturn))
#endif
#ifndef PCI_FILL_IOMMU_GROUP
#define PCI_FILL_IOMMU_GROUP 0x4000
#endif
#define PCI_FILL_CLASS_EXT 0x00020000
#define PCI_FILL_SUBSYS 0x00040000
#endif

/* ---- libpci error trap -------------------------------------------------------- */

static __thread jmp_buf *pci_trap;
static __thread char pci_trap_msg[256];

static void PCI_NONRET pci_error_cb(char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    vsnprintf(pci_trap_msg, sizeof(pci_trap_msg), msg, ap);
    va_end(ap);
    if (pci_trap)
        longjmp(*pci_trap, 1);
    /* Every libpci call below runs under a trap; reaching here is a bug. */
    abort();
}

static void pci_quiet_cb(char *msg, ...)
{
    (void)msg;
}

static void pci_hook(struct pci_access *a)
{
    a->error = pci_error_cb;
    a->warning = pci_quiet_cb;
    a->debug = pci_quiet_cb;
}

/* ---- names (pci.ids), once per process ------------------------------------------ */

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pci_access *names_acc;
static bool names_broken;

__attribute__((destructor)) static void names_fini(void)
{
    if (names_acc) {
        pci_cleanup(names_acc);
        names_acc = NULL;
    }
}

static char *lookup_dup(struct pci_access *a, int flags, int v, int d, int sv, int sd)
{
    char buf[512];
    /* pci.ids only: no udev hwdb (libpci leaks a udev handle per miss). */
    char *n = pci_lookup_name(a, buf, sizeof(buf),
                              flags | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB,
                              v, d, sv, sd);
    return n && *n ? strdup(n) : NULL;
}

/* Lookups under the libpci trap; false when pci.ids turned out broken. */
static bool names_lookup(gp_gpu *g)
{
    jmp_buf jb;

    if (setjmp(jb)) {
        pci_trap = NULL;
        return false;
    }
    pci_trap = &jb;
    if (!g->vendor_name)
        g->vendor_name = lookup_dup(names_acc, PCI_LOOKUP_VENDOR, g->vendor_id, 0, 0, 0);
    if (!g->device_name)
        g->device_name = lookup_dup(names_acc, PCI_LOOKUP_DEVICE, g->vendor_id,
                                    g->device_id, 0, 0);
    if (!g->subsys_name && (g->subsys_vendor_id || g->subsys_device_id))
        g->subsys_name = lookup_dup(names_acc, PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE,
                                    g->vendor_id, g->device_id,
                                    g->subsys_vendor_id, g->subsys_device_id);
    pci_trap = NULL;
    return true;
}

/* ---- the name memo: names known without loading pci.ids ----------------------------- *
 *
 * Seeded from the host cache (gp_pci_names_seed, names looked up by an
 * earlier process against the same pci.ids) and grown by every pci.ids
 * lookup of this process; gp_pci_names_fresh() hands the grown part to the
 * cache.  A real host has a handful of distinct GPU ids, so a list is enough. */
static gp_pci_name *memo;
static size_t n_memo, cap_memo, n_seeded;

__attribute__((destructor)) static void memo_fini(void)
{
    for (size_t i = 0; i < n_memo; i++) {
        free(memo[i].vendor_name);
        free(memo[i].device_name);
        free(memo[i].subsys_name);
    }
    free(memo);
    memo = NULL;
    n_memo = cap_memo = n_seeded = 0;
}

static gp_pci_name *memo_find(uint16_t v, uint16_t d, uint16_t sv, uint16_t sd)
{
    for (size_t i = 0; i < n_memo; i++)
        if (memo[i].vendor_id == v && memo[i].device_id == d &&
            memo[i].subsys_vendor_id == sv && memo[i].subsys_device_id == sd)
            return &memo[i];
    return NULL;
}

/* Add an entry (names copied); caller holds names_lock. */
static void memo_add(uint16_t v, uint16_t d, uint16_t sv, uint16_t sd, const char *vn,
                     const char *dn, const char *sn)
{
    if (memo_find(v, d, sv, sd))
        return;
    if (gp_array_reserve((void **)&memo, &cap_memo, n_memo, sizeof(*memo)))
        return;  /* only a memo */
    gp_pci_name *e = &memo[n_memo++];
    *e = (gp_pci_name){ v, d, sv, sd, gp_strdup(vn), gp_strdup(dn), gp_strdup(sn) };
}

/* Called once, on the first name the memo lacks (discover.c: seed it from
 * the host cache), so that a source whose names are all known never opens
 * the cache. */
static void (*names_miss_hook)(void *arg);
static void *names_miss_arg;

void gp_pci_names_on_miss(void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&names_lock);
    names_miss_hook = fn;
    names_miss_arg = arg;
    pthread_mutex_unlock(&names_lock);
}

void gp_pci_names_seed(const gp_pci_name *names, size_t n)
{
    pthread_mutex_lock(&names_lock);
    for (size_t i = 0; i < n; i++)
        memo_add(names[i].vendor_id, names[i].device_id, names[i].subsys_vendor_id,
                 names[i].subsys_device_id, names[i].vendor_name, names[i].device_name,
                 names[i].subsys_name);
    n_seeded = n_memo;
    pthread_mutex_unlock(&names_lock);
}

size_t gp_pci_names_fresh(const gp_pci_name **out)
{
    pthread_mutex_lock(&names_lock);
    *out = memo + n_seeded;
    size_t n = n_memo - n_seeded;
    pthread_mutex_unlock(&names_lock);
    return n;
}

void gp_pci_names_mark_saved(void)
{
    pthread_mutex_lock(&names_lock);
    n_seeded = n_memo;
    pthread_mutex_unlock(&names_lock);
}

char *gp_pci_ids_stamp(void)
{
    struct pci_access *a = pci_alloc();
    char *stamp = NULL;
    struct stat st;
    if (!a)
        return NULL;
    /* libpci names "pci.ids.gz" and falls back to "pci.ids" without it. */
    char *path = a->id_file_name ? strdup(a->id_file_name) : NULL;
    if (path && stat(path, &st) != 0) {
        size_t l = strlen(path);
        if (l > 3 && !strcmp(path + l - 3, ".gz"))
            path[l - 3] = '\0';
        if (stat(path, &st) != 0) {
            free(path);
            path = NULL;
        }
    }
    if (path)
        stamp = gp_asprintf("%s:%lld:%lld.%09ld", path, (long long)st.st_size,
                            (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    free(path);
    pci_cleanup(a);
    return stamp;
}

int gp_pci_fill_names(gp_gpu *g, gp_error_info *err)
{
    int rc = GP_OK;

    if (g->vendor_name && g->device_name)
        return GP_OK;
    /* First miss: let the owner seed the memo (outside the lock: seeding
     * takes it). */
    void (*hook)(void *) = NULL;
    void *hook_arg = NULL;
    pthread_mutex_lock(&names_lock);
    if (names_miss_hook && !memo_find(g->vendor_id, g->device_id, g->subsys_vendor_id,
                                      g->subsys_device_id)) {
        hook = names_miss_hook;
        hook_arg = names_miss_arg;
        names_miss_hook = NULL;
    }
    pthread_mutex_unlock(&names_lock);
    if (hook)
        hook(hook_arg);
    pthread_mutex_lock(&names_lock);
    gp_pci_name *m = memo_find(g->vendor_id, g->device_id, g->subsys_vendor_id,
                               g->subsys_device_id);
    if (m) {
        if (!g->vendor_name)
            g->vendor_name = gp_strdup(m->vendor_name);
        if (!g->device_name)
            g->device_name = gp_strdup(m->device_name);
        if (!g->subsys_name)
            g->subsys_name = gp_strdup(m->subsys_name);
        goto out;
    }
    if (names_broken)
        goto out;
    if (!names_acc) {
        names_acc = pci_alloc();
        if (!names_acc) {
            rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        pci_hook(names_acc);
    }
    /* A broken pci.ids: names stay unknown, discovery goes on. */
    if (!names_lookup(g))
        names_broken = true;
    else
        memo_add(g->vendor_id, g->device_id, g->subsys_vendor_id, g->subsys_device_id,
                 g->vendor_name, g->device_name, g->subsys_name);
out:
    pthread_mutex_unlock(&names_lock);
    return rc;
}

/* ---- small decoders --------------------------------------------------------------- */

/* PCIe Link Speed field (LnkCap bits 3:0, LnkSta bits 3:0) to GT/s. */
static double pcie_speed_gts(unsigned code)
{
    static const double gts[] = { 0, 2.5, 5.0, 8.0, 16.0, 32.0, 64.0 };
    return code < GP_ARRAY_SIZE(gts) ? gts[code] : 0;
}

/* sysfs "8.0 GT/s PCIe", "8 GT/s", "2.5 GT/s", "Unknown" -> GT/s, 0 unknown. */
static double sysfs_speed_gts(const char *s)
{
    char *end;
    double v;
    if (!s)
        return 0;
    v = strtod(s, &end);
    if (end == s || v <= 0 || v > 1000)
        return 0;
    return v;
}

static int sysfs_int(const char *dir, const char *attr, int base, long *out)
{
    char path[4096];
    char *s, *end;
    long v;

    snprintf(path, sizeof(path), "%s/%s", dir, attr);
    s = gp_read_file_trim(path);
    if (!s)
        return -1;
    v = strtol(s, &end, base);
    if (end == s || *end) {
        free(s);
        return -1;
    }
    free(s);
    *out = v;
    return 0;
}

/* Basename of <dir>/<link>, NULL if no such link. */
static char *sysfs_link_base(const char *dir, const char *link)
{
    char path[4096], target[4096];
    ssize_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, link);
    n = readlink(path, target, sizeof(target) - 1);
    if (n <= 0)
        return NULL;
    target[n] = '\0';
    while (n > 1 && target[n - 1] == '/')
        target[--n] = '\0';
    const char *b = strrchr(target, '/');
    return strdup(b ? b + 1 : target);
}

/* ---- one scan --------------------------------------------------------------------- */

typedef struct {
    gp_pci_addr addr;
    char pci_id[GP_PCI_ID_LEN];
    uint16_t class_code, vendor_id, device_id;
    uint8_t header_type;
    int iommu_group;
    char *driver;          /* NULL unknown */
    ssize_t gpu;           /* index in host->gpus, -1 not a GPU */
} pci_fn;

typedef struct {
    struct pci_access *acc;
    const char *sys_root;  /* sysfs root holding bus/pci, NULL for a dump */
    pci_fn *fns;
    size_t n_fns, cap_fns;
    gp_gpu *gpus;
    size_t n_gpus, cap_gpus;
    int rc;
} pci_scan;


/* Capabilities: LnkCap/LnkSta, FLR, SR-IOV. */
static void gpu_read_caps(struct pci_dev *d, gp_gpu *g)
{
    u8 probe;
    bool cfg256 = pci_read_block(d, 0xff, &probe, 1);
    bool cfg4k = cfg256 && pci_read_block(d, 0xfff, &probe, 1);
    struct pci_cap *cap;
    bool flr = false;

    if (!cfg256)
        return;  /* header only: no capability list to read */
    pci_fill_info(d, PCI_FILL_CAPS | (cfg4k ? PCI_FILL_EXT_CAPS : 0));

    cap = pci_find_cap(d, PCI_CAP_ID_EXP, PCI_CAP_NORMAL);
    if (cap) {
        u32 devcap = pci_read_long(d, (int)cap->addr + PCI_EXP_DEVCAP);
        u32 lnkcap = pci_read_long(d, (int)cap->addr + PCI_EXP_LNKCAP);
        u16 lnksta = pci_read_word(d, (int)cap->addr + PCI_EXP_LNKSTA);
        if (devcap & GP_PCI_EXP_DEVCAP_FLR)
            flr = true;
        g->link_cap.speed_gts = pcie_speed_gts(lnkcap & PCI_EXP_LNKCAP_SPEED);
        g->link_cap.width = (int)((lnkcap & PCI_EXP_LNKCAP_WIDTH) >> 4);
        g->link_sta.speed_gts = pcie_speed_gts(lnksta & PCI_EXP_LNKSTA_SPEED);
        g->link_sta.width = (int)((lnksta & PCI_EXP_LNKSTA_WIDTH) >> 4);
    }
    cap = pci_find_cap(d, PCI_CAP_ID_AF, PCI_CAP_NORMAL);
    if (cap && (pci_read_byte(d, (int)cap->addr + GP_PCI_AF_CAP) & GP_PCI_AF_CAP_FLR))
        flr = true;
    g->flr = flr ? GP_YES : GP_NO;

    if (cfg4k) {
        cap = pci_find_cap(d, PCI_EXT_CAP_ID_SRIOV, PCI_CAP_EXTENDED);
        g->sriov_totalvfs = cap ? pci_read_word(d, (int)cap->addr + GP_PCI_SRIOV_TOTALVFS) : 0;
    }
}

/* sysfs attributes of a device dir: whatever the config space did not give. */
static void gpu_read_sysfs(const char *dir, gp_gpu *g)
{
    char path[4096];
    char *s;
    long v;

    if (g->link_cap.speed_gts <= 0) {
        snprintf(path, sizeof(path), "%s/max_link_speed", dir);
        s = gp_read_file_trim(path);
        g->link_cap.speed_gts = sysfs_speed_gts(s);
        free(s);
    }
    if (g->link_cap.width <= 0 && !sysfs_int(dir, "max_link_width", 10, &v) && v > 0 && v <= 32)
        g->link_cap.width = (int)v;
    if (g->link_sta.speed_gts <= 0) {
        snprintf(path, sizeof(path), "%s/current_link_speed", dir);
        s = gp_read_file_trim(path);
        g->link_sta.speed_gts = sysfs_speed_gts(s);
        free(s);
    }
    if (g->link_sta.width <= 0 && !sysfs_int(dir, "current_link_width", 10, &v) && v > 0 && v <= 32)
        g->link_sta.width = (int)v;

    snprintf(path, sizeof(path), "%s/reset_method", dir);
    g->reset_method = gp_read_file_trim(path);
    if (g->reset_method && g->flr == GP_UNKNOWN)
        /* The kernel lists "flr" (DevCap) and "af_flr" when it probed them. */
        g->flr = strstr(g->reset_method, "flr") ? GP_YES : GP_NO;

    if (g->sriov_totalvfs < 0 && !sysfs_int(dir, "sriov_totalvfs", 10, &v) && v >= 0)
        g->sriov_totalvfs = (int)v;

    if (!sysfs_int(dir, "boot_vga", 10, &v))
        g->boot_vga = v ? GP_YES : GP_NO;
}

/* pci_fill_info, plus prog-if, revision, subsystem ids and IOMMU group in *x.
 * Before libpci 3.8 these are read the way 3.8's back ends read them: from
 * the sysfs attributes (class, revision, subsystem_vendor, subsystem_device,
 * the iommu_group link) when the device has a sysfs dir, else from config
 * space (a dump has no IOMMU group either way). */
typedef struct {
    int known;
    unsigned prog_if, rev_id, subsys_vendor_id, subsys_id;
    int iommu_group;  /* -1: unknown */
} pci_ext;

static int pci_fill_ext(struct pci_dev *d, int flags, const char *dir, pci_ext *x)
{
    memset(x, 0, sizeof(*x));
    x->iommu_group = -1;
#if GP_PCI_NATIVE_EXT
    (void)dir;
    x->known = pci_fill_info(d, flags);
    x->prog_if = d->prog_if;
    x->rev_id = d->rev_id;
    x->subsys_vendor_id = d->subsys_vendor_id;
    x->subsys_id = d->subsys_id;
    if (x->known & PCI_FILL_IOMMU_GROUP) {
        const char *grp = pci_get_string_property(d, PCI_FILL_IOMMU_GROUP);
        if (grp && *grp)
            x->iommu_group = atoi(grp);
    }
#else
    long v;
    x->known = pci_fill_info(d, flags & ~(PCI_FILL_CLASS_EXT | PCI_FILL_SUBSYS |
                                          PCI_FILL_IOMMU_GROUP));
    if (flags & PCI_FILL_CLASS_EXT) {
        x->prog_if = dir && !sysfs_int(dir, "class", 16, &v) ? (unsigned)v & 0xff
                                                             : pci_read_byte(d, PCI_CLASS_PROG);
        x->rev_id = dir && !sysfs_int(dir, "revision", 16, &v) ? (unsigned)v & 0xff
                                                               : pci_read_byte(d, PCI_REVISION_ID);
        x->known |= PCI_FILL_CLASS_EXT;
    }
    if (flags & PCI_FILL_SUBSYS) {
        if (dir && !sysfs_int(dir, "subsystem_vendor", 16, &v)) {
            x->subsys_vendor_id = (unsigned)v & 0xffff;
            if (!sysfs_int(dir, "subsystem_device", 16, &v))
                x->subsys_id = (unsigned)v & 0xffff;
            x->known |= PCI_FILL_SUBSYS;
        } else if ((pci_read_byte(d, PCI_HEADER_TYPE) & 0x7f) == PCI_HEADER_TYPE_NORMAL) {
            x->subsys_vendor_id = pci_read_word(d, PCI_SUBSYSTEM_VENDOR_ID);
            x->subsys_id = pci_read_word(d, PCI_SUBSYSTEM_ID);
            x->known |= PCI_FILL_SUBSYS;
        }
    }
    if ((flags & PCI_FILL_IOMMU_GROUP) && dir) {
        char *grp = sysfs_link_base(dir, "iommu_group");
        if (grp && *grp)
            x->iommu_group = atoi(grp);
        free(grp);
        x->known |= PCI_FILL_IOMMU_GROUP;
    }
#endif
    return x->known;
}

static int scan_device(pci_scan *s, const gp_config *cfg, struct pci_dev *d)
{
    char dir[4096];
    pci_fn *f;
    u8 hdr = 0;
    int flags = PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_CLASS_EXT | PCI_FILL_SUBSYS |
                PCI_FILL_NUMA_NODE | PCI_FILL_IOMMU_GROUP;
    bool has_dir = false;

    if (gp_array_reserve((void **)&s->fns, &s->cap_fns, s->n_fns, sizeof(*s->fns)))
        return GP_ERR_NOMEM;
    f = &s->fns[s->n_fns];
    memset(f, 0, sizeof(*f));
    f->gpu = -1;
    f->iommu_group = -1;
    f->addr.domain = (uint32_t)d->domain;
    f->addr.bus = d->bus;
    f->addr.dev = d->dev;
    f->addr.func = d->func;
    gp_pci_addr_format(&f->addr, f->pci_id);
    for (size_t i = 0; i < s->n_fns; i++)
        if (!strcmp(s->fns[i].pci_id, f->pci_id))
            return GP_OK;  /* listed twice: keep the first */

    if (s->sys_root) {
        snprintf(dir, sizeof(dir), "%s/bus/pci/devices/%s", s->sys_root, f->pci_id);
        has_dir = access(dir, F_OK) == 0;
        /* libpci's resource parser treats a missing file as fatal. */
        snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/resource");
        if (access(dir, R_OK) == 0)
            flags |= PCI_FILL_SIZES;
        dir[strlen(dir) - strlen("/resource")] = '\0';
    }
    pci_ext x;
    int known = pci_fill_ext(d, flags, has_dir ? dir : NULL, &x);

    f->class_code = d->device_class;
    f->vendor_id = d->vendor_id;
    f->device_id = d->device_id;
    if (pci_read_block(d, PCI_HEADER_TYPE, &hdr, 1))
        f->header_type = hdr & 0x7f;
    else
        f->header_type = (d->device_class == PCI_CLASS_BRIDGE_PCI) ? 1 : 0;
    if (known & PCI_FILL_IOMMU_GROUP)
        f->iommu_group = x.iommu_group;
    if (has_dir) {
        f->driver = sysfs_link_base(dir, "driver");
        if (!f->driver)
            f->driver = strdup("none");
        if (!f->driver)
            return GP_ERR_NOMEM;
    }
    s->n_fns++;

    if (!gp_class_is_gpu(cfg, f->class_code, f->vendor_id))
        return GP_OK;

    if (gp_array_reserve((void **)&s->gpus, &s->cap_gpus, s->n_gpus, sizeof(*s->gpus)))
        return GP_ERR_NOMEM;
    gp_gpu *g = &s->gpus[s->n_gpus];
    gp_gpu_init(g);
    f->gpu = (ssize_t)s->n_gpus;
    s->n_gpus++;
    memcpy(g->pci_id, f->pci_id, sizeof(g->pci_id));
    g->addr = f->addr;
    g->vendor_id = d->vendor_id;
    g->device_id = d->device_id;
    if (known & PCI_FILL_SUBSYS) {
        g->subsys_vendor_id = x.subsys_vendor_id;
        g->subsys_device_id = x.subsys_id;
    }
    g->class_code = d->device_class;
    if (known & PCI_FILL_CLASS_EXT) {
        g->prog_if = x.prog_if;
        g->revision = x.rev_id;
    }
    g->numa_node = (known & PCI_FILL_NUMA_NODE) && d->numa_node >= 0 ? d->numa_node : -1;
    g->iommu_group = f->iommu_group;
    if (known & PCI_FILL_SIZES)
        for (int i = 0; i < 6; i++)
            if ((uint64_t)d->size[i] > g->max_bar_bytes)
                g->max_bar_bytes = (uint64_t)d->size[i];
    g->source = strdup(s->sys_root ? "sysfs" : "dump");
    if (!g->source)
        return GP_ERR_NOMEM;
    if (f->driver && !(g->driver = strdup(f->driver)))
        return GP_ERR_NOMEM;

    gpu_read_caps(d, g);
    if (has_dir)
        gpu_read_sysfs(dir, g);
    /* Only VGA-class functions can be the boot VGA (the kernel's vgaarb and
     * boot_vga attribute know no others). */
    if (g->boot_vga == GP_UNKNOWN && g->class_code != PCI_CLASS_DISPLAY_VGA)
        g->boot_vga = GP_NO;
    gp_gpu_update_link_state(g);
    return GP_OK;
}

/* Companions and IOMMU group members from the whole function list. */
static int link_functions(pci_scan *s)
{
    for (size_t i = 0; i < s->n_fns; i++) {
        pci_fn *f = &s->fns[i];
        if (f->gpu < 0)
            continue;
        gp_gpu *g = &s->gpus[f->gpu];
        for (size_t j = 0; j < s->n_fns; j++) {
            pci_fn *o = &s->fns[j];
            if (j == i)
                continue;
            if (o->addr.domain == f->addr.domain && o->addr.bus == f->addr.bus &&
                o->addr.dev == f->addr.dev) {
                gp_companion *nc = realloc(g->companions,
                                           (g->n_companions + 1) * sizeof(*nc));
                if (!nc)
                    return GP_ERR_NOMEM;
                g->companions = nc;
                gp_companion *c = &nc[g->n_companions++];
                memset(c, 0, sizeof(*c));
                memcpy(c->pci_id, o->pci_id, sizeof(c->pci_id));
                c->class_code = o->class_code;
                c->vendor_id = o->vendor_id;
                c->device_id = o->device_id;
                if (o->driver && !(c->driver = strdup(o->driver)))
                    return GP_ERR_NOMEM;
            }
            if (f->iommu_group >= 0 && o->iommu_group == f->iommu_group) {
                char **nm = realloc(g->iommu_group_members,
                                    (g->n_iommu_group_members + 1) * sizeof(*nm));
                if (!nm)
                    return GP_ERR_NOMEM;
                g->iommu_group_members = nm;
                if (!(nm[g->n_iommu_group_members] = strdup(o->pci_id)))
                    return GP_ERR_NOMEM;
                g->n_iommu_group_members++;
            }
        }
    }
    return GP_OK;
}

static void scan_free(pci_scan *s)
{
    for (size_t i = 0; i < s->n_fns; i++)
        free(s->fns[i].driver);
    free(s->fns);
    for (size_t i = 0; i < s->n_gpus; i++)
        gp_gpu_dispose(&s->gpus[i]);
    free(s->gpus);
    if (s->acc)
        pci_cleanup(s->acc);
    free(s);
}

/* pci_init, scan, per-device facts, under the libpci trap.  False when
 * libpci gave up (message in pci_trap_msg); s->rc holds our own errors. */
static bool scan_run(pci_scan *s, const gp_config *cfg)
{
    jmp_buf jb;

    if (setjmp(jb)) {
        pci_trap = NULL;
        return false;
    }
    pci_trap = &jb;
    pci_init(s->acc);
    pci_scan_bus(s->acc);
    for (struct pci_dev *d = s->acc->devices; d; d = d->next)
        if ((s->rc = scan_device(s, cfg, d)))
            break;
    pci_trap = NULL;
    return true;
}

/* Point acc at cfg's source: libpci's dump method on cfg->pci_dump, else
 * its sysfs method on <sysfs_root or /sys>/bus/pci.  *sys_root: the sysfs
 * root (NULL for a dump); *path: the string handed to pci_set_param (the
 * caller frees it after pci_cleanup); *source: "dump:FILE", "sysfs:DIR" or
 * "libpci" (caller frees).  Errors: GP_ERR_IO, GP_ERR_PCI, GP_ERR_NOMEM. */
static int pci_source_open(const gp_config *cfg, struct pci_access *acc,
                           const char **sys_root, char **path, char **source,
                           gp_error_info *err)
{
    const char *root = cfg->sysfs_root ? cfg->sysfs_root : "/sys";

    *sys_root = NULL;
    if (cfg->pci_dump) {
        if (access(cfg->pci_dump, R_OK)) {
            gp_err_set(err, GP_ERR_IO, "cannot read PCI dump %s", cfg->pci_dump);
            gp_err_param(err, "file", "%s", cfg->pci_dump);
            return GP_ERR_IO;
        }
        acc->method = PCI_ACCESS_DUMP;
        *path = gp_strdup(cfg->pci_dump);
        *source = gp_asprintf("dump:%s", cfg->pci_dump);
        if (!*path || !*source || pci_set_param(acc, "dump.name", *path))
            return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        return GP_OK;
    }
    /* libpci's sysfs method wants the directory that holds "devices". */
    *sys_root = root;
    acc->method = PCI_ACCESS_SYS_BUS_PCI;
    *path = gp_asprintf("%s/bus/pci", root);
    *source = cfg->sysfs_root ? gp_asprintf("sysfs:%s", root) : gp_strdup("libpci");
    if (!*path || !*source)
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    char *devs = gp_asprintf("%s/devices", *path);
    bool ok = devs && access(devs, R_OK | X_OK) == 0;
    free(devs);
    if (!ok) {
        gp_err_set(err, GP_ERR_IO, "cannot read PCI devices under %s/devices", *path);
        gp_err_param(err, "sysfs-root", "%s", root);
        return GP_ERR_IO;
    }
    if (pci_set_param(acc, "sysfs.path", *path))
        return gp_err_set(err, GP_ERR_PCI, "libpci has no sysfs method");
    return GP_OK;
}

int gp_pci_discover(const gp_config *cfg, gp_host *host, gp_error_info *err)
{
    char *path = NULL, *source = NULL;
    pci_scan *s;
    int rc;

    s = calloc(1, sizeof(*s));
    if (!s)
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    s->acc = pci_alloc();
    if (!s->acc) {
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    pci_hook(s->acc);
    rc = pci_source_open(cfg, s->acc, &s->sys_root, &path, &source, err);
    if (rc)
        goto out;

    if (!scan_run(s, cfg)) {
        rc = gp_err_set(err, GP_ERR_PCI, "libpci could not scan %s: %s",
                        source, pci_trap_msg);
        gp_err_param(err, "source", "%s", source);
        goto out;
    }
    if (s->rc || (s->rc = link_functions(s))) {
        rc = gp_err_set(err, s->rc, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s->n_gpus; i++)
        if ((rc = gp_pci_fill_names(&s->gpus[i], err)))
            goto out;

    /* Hand over: functions, then GPUs. */
    gp_pci_function *fv = calloc(s->n_fns ? s->n_fns : 1, sizeof(*fv));
    if (!fv) {
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s->n_fns; i++) {
        memcpy(fv[i].pci_id, s->fns[i].pci_id, sizeof(fv[i].pci_id));
        fv[i].class_code = s->fns[i].class_code;
        fv[i].header_type = s->fns[i].header_type;
        fv[i].iommu_group = s->fns[i].iommu_group;
    }
    free(host->functions);
    host->functions = fv;
    host->n_functions = s->n_fns;
    for (size_t i = 0; i < host->n_gpus; i++)
        gp_gpu_dispose(&host->gpus[i]);
    free(host->gpus);
    host->gpus = s->gpus;
    host->n_gpus = s->n_gpus;
    s->gpus = NULL;
    s->n_gpus = 0;
    free(host->pci_source);
    host->pci_source = source;
    source = NULL;
    rc = GP_OK;
out:
    scan_free(s);
    free(path);
    free(source);
    return rc;
}

/* ---- the PCI hierarchy (host-validate) ------------------------------------------- */

/* One function as the hierarchy scan sees it. */
typedef struct {
    gp_pci_node n;
    uint32_t domain;
    uint8_t bus, secondary;   /* secondary: bus below a bridge (header type 1) */
    char *link;               /* sysfs: target of bus/pci/devices/<id>, NULL for a dump */
} tree_fn;

typedef struct {
    struct pci_access *acc;
    const char *sys_root;
    tree_fn *fns;
    size_t n_fns, cap_fns;
    int rc;
} tree_scan;

static int tree_device(tree_scan *s, struct pci_dev *d)
{
    char dir[4096], target[4096];
    u8 hdr = 0;
    int known;

    if (gp_array_reserve((void **)&s->fns, &s->cap_fns, s->n_fns, sizeof(*s->fns)))
        return GP_ERR_NOMEM;
    tree_fn *f = &s->fns[s->n_fns];
    memset(f, 0, sizeof(*f));
    f->n.numa_node = -1;
    f->domain = (uint32_t)d->domain;
    f->bus = d->bus;
    gp_pci_addr a = { (uint32_t)d->domain, d->bus, d->dev, d->func };
    gp_pci_addr_format(&a, f->n.pci_id);
    for (size_t i = 0; i < s->n_fns; i++)
        if (!strcmp(s->fns[i].n.pci_id, f->n.pci_id))
            return GP_OK;
    known = pci_fill_info(d, PCI_FILL_IDENT | PCI_FILL_CLASS |
                             (s->sys_root ? PCI_FILL_NUMA_NODE : 0));
    f->n.class_code = d->device_class;
    f->n.vendor_id = d->vendor_id;
    f->n.device_id = d->device_id;
    if ((known & PCI_FILL_NUMA_NODE) && d->numa_node >= 0)
        f->n.numa_node = d->numa_node;
    if (pci_read_block(d, PCI_HEADER_TYPE, &hdr, 1))
        f->n.bridge = (hdr & 0x7f) == PCI_HEADER_TYPE_BRIDGE;
    else
        f->n.bridge = d->device_class == PCI_CLASS_BRIDGE_PCI;
    if (f->n.bridge)
        f->secondary = pci_read_byte(d, PCI_SECONDARY_BUS);
    if (s->sys_root) {
        snprintf(dir, sizeof(dir), "%s/bus/pci/devices/%s", s->sys_root, f->n.pci_id);
        ssize_t n = readlink(dir, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = '\0';
            if (!(f->link = strdup(target)))
                return GP_ERR_NOMEM;
        }
    }
    s->n_fns++;
    return GP_OK;
}

static bool tree_run(tree_scan *s)
{
    jmp_buf jb;

    if (setjmp(jb)) {
        pci_trap = NULL;
        return false;
    }
    pci_trap = &jb;
    pci_init(s->acc);
    pci_scan_bus(s->acc);
    for (struct pci_dev *d = s->acc->devices; d; d = d->next)
        if ((s->rc = tree_device(s, d)))
            break;
    pci_trap = NULL;
    return true;
}

static int chain_push(gp_pci_node *n, const char *id)
{
    char **v = realloc(n->chain, (n->n_chain + 1) * sizeof(*v));
    if (!v)
        return GP_ERR_NOMEM;
    n->chain = v;
    if (!(v[n->n_chain] = strdup(id)))
        return GP_ERR_NOMEM;
    n->n_chain++;
    return GP_OK;
}

/* sysfs: ".../devices/pci0000:17/0000:17:00.0/0000:18:00.0/0000:19:08.0/0000:1b:00.0"
 * names the root complex and every bridge above the device, as the kernel
 * enumerated them. */
static int tree_from_link(gp_pci_node *n, const char *link)
{
    const char *p = strstr(link, "/pci");
    gp_pci_addr a;

    if (!p)
        return GP_OK;  /* not under a PCI root: unknown */
    p++;
    const char *e = strchr(p, '/');
    if (!e)
        return GP_OK;
    if (!(n->root = strndup(p, (size_t)(e - p))))
        return GP_ERR_NOMEM;
    for (p = e + 1; *p; p = e + 1) {
        char comp[64];
        e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= sizeof(comp))
            break;
        memcpy(comp, p, len);
        comp[len] = '\0';
        if (gp_pci_addr_parse(comp, &a, NULL))
            break;
        char id[GP_PCI_ID_LEN];
        gp_pci_addr_format(&a, id);
        if (!strcmp(id, n->pci_id))
            break;
        if (chain_push(n, id))
            return GP_ERR_NOMEM;
        if (!e)
            break;
    }
    return GP_OK;
}

/* A dump: the bridge whose secondary bus is a function's bus is its parent;
 * a bus no bridge leads to is a root bus. */
static int tree_from_buses(tree_fn *fns, size_t n_fns, size_t i)
{
    gp_pci_node *n = &fns[i].n;
    uint32_t dom = fns[i].domain;
    unsigned bus = fns[i].bus;
    /* Bounded: a bus number can be walked through once (256 buses). */
    for (int hops = 0; hops < 256; hops++) {
        size_t up = n_fns;
        for (size_t j = 0; j < n_fns; j++)
            if (fns[j].n.bridge && fns[j].domain == dom && fns[j].secondary == bus &&
                fns[j].secondary != 0 && fns[j].secondary != fns[j].bus && j != i) {
                up = j;
                break;
            }
        if (up == n_fns)
            break;
        /* Walked device-side first; the root port goes to the front. */
        if (chain_push(n, fns[up].n.pci_id))
            return GP_ERR_NOMEM;
        char *last = n->chain[n->n_chain - 1];
        memmove(n->chain + 1, n->chain, (n->n_chain - 1) * sizeof(*n->chain));
        n->chain[0] = last;
        bus = fns[up].bus;
    }
    n->root = gp_asprintf("%04x:%02x", dom, bus);
    return n->root ? GP_OK : GP_ERR_NOMEM;
}

int gp_pci_tree_libpci(const gp_config *cfg, gp_pci_tree *out, gp_error_info *err)
{
    char *path = NULL, *source = NULL;
    tree_scan s;
    int rc;

    gp_pci_tree_init(out);
    memset(&s, 0, sizeof(s));
    s.acc = pci_alloc();
    if (!s.acc)
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    pci_hook(s.acc);
    rc = pci_source_open(cfg, s.acc, &s.sys_root, &path, &source, err);
    if (rc)
        goto out;
    if (!tree_run(&s)) {
        rc = gp_err_set(err, GP_ERR_PCI, "libpci could not scan %s: %s", source, pci_trap_msg);
        gp_err_param(err, "source", "%s", source);
        goto out;
    }
    if (s.rc)
        goto nomem;
    for (size_t i = 0; i < s.n_fns; i++) {
        if (s.sys_root)
            rc = s.fns[i].link ? tree_from_link(&s.fns[i].n, s.fns[i].link) : GP_OK;
        else
            rc = tree_from_buses(s.fns, s.n_fns, i);
        if (rc)
            goto nomem;
    }
    out->how = s.sys_root
        ? gp_asprintf("sysfs device paths under %s/devices", s.sys_root)
        : gp_asprintf("libpci bridge secondary bus numbers of %s", cfg->pci_dump);
    out->nodes = calloc(s.n_fns ? s.n_fns : 1, sizeof(*out->nodes));
    if (!out->how || !out->nodes)
        goto nomem;
    for (size_t i = 0; i < s.n_fns; i++) {
        out->nodes[i] = s.fns[i].n;
        memset(&s.fns[i].n, 0, sizeof(s.fns[i].n));
    }
    out->n_nodes = s.n_fns;
    rc = GP_OK;
    goto out;
nomem:
    rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    gp_pci_tree_dispose(out);
out:
    for (size_t i = 0; i < s.n_fns; i++) {
        gp_strv_free(s.fns[i].n.chain, s.fns[i].n.n_chain);
        free(s.fns[i].n.root);
        free(s.fns[i].link);
    }
    free(s.fns);
    pci_cleanup(s.acc);
    free(path);
    free(source);
    return rc;
}
