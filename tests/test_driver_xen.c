/*
 * test_driver_xen.c - the xen driver (driver_xen.c, xen_ops.c) with libxl
 * replaced by fakes through the seam (struct gp_xen_libxl).  Runs anywhere;
 * the real hypervisor is tested by tests/xen/ (make check-xen).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#ifdef GPUPOOL_WITH_XEN

#include "xenlight/xenlight.h"
#include "ops/ops.h"
#include "rpc/rpc.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the fake hypervisor ---------------------------------------------------------- */

#define UUID_A "11111111-2222-3333-4444-555555555555"
#define UUID_B "66666666-7777-8888-9999-aaaaaaaaaaaa"

typedef struct {
    int domid;
    const char *uuid, *name;
    bool paused;
    uint64_t cpu_time;
    int nvcpus;
    uint8_t hard[4], soft[4];   /* per vCPU affinity bitmaps (4 pCPUs) */
    char pci[4][GP_PCI_ID_LEN];
    int npci;
    int cpupool;                /* cpupool id of the domain (0 = Pool-0) */
} fake_dom;

static struct {
    xentoollog_logger *lg;
    bool directio;
    fake_dom doms[4];
    int ndoms;
    char assignable[8][GP_PCI_ID_LEN];
    int nassignable;
    int assignable_add_calls, assignable_remove_calls;
    int fail_assignable_add;          /* libxl rc to return, logging an error */
    int fail_pci_add_after;           /* pci_add fails once this many succeeded (-1 never) */
    int pci_add_ok;
    bool affinity_ignored;            /* set_vcpuaffinity "succeeds" but changes nothing */
    char driver[GP_PCI_ID_LEN];       /* function bound to "nvidia" in dom0 */
    bool accel_cpupool;               /* a second cpupool "accel" (id 3, pCPUs 2-3) */
    bool cores_unknown;               /* online pCPUs with core ~0 (QEMU sockets=N,cores=1) */
    uint8_t node_aff;                 /* node affinity libxl reports for every domain */
} F;

static void fake_reset(void)
{
    memset(&F, 0, sizeof(F));
    F.directio = true;
    F.fail_pci_add_after = -1;
}

static void lx_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    F.lg->vmessage(F.lg, XTL_ERROR, -1, "libxl", fmt, ap);
    va_end(ap);
}

static int f_ctx_alloc(libxl_ctx **lx, xentoollog_logger *lg)
{
    F.lg = lg;
    *lx = (libxl_ctx *)&F;   /* opaque: never dereferenced by the driver */
    return 0;
}
static void f_ctx_free(libxl_ctx *lx) { (void)lx; }

static int f_physinfo(libxl_ctx *lx, libxl_physinfo *pi)
{
    (void)lx;
    pi->nr_cpus = 4;
    pi->nr_nodes = 2;
    pi->cap_hvm_directio = F.directio;
    return 0;
}

static libxl_cputopology *f_cputopo(libxl_ctx *lx, int *n)
{
    libxl_cputopology *t = calloc(5, sizeof(*t));
    (void)lx;
    for (int i = 0; i < 4; i++) {
        t[i].core = F.cores_unknown ? LIBXL_CPUTOPOLOGY_INVALID_ENTRY : (uint32_t)(i % 2);
        t[i].socket = (uint32_t)(i / 2);
        t[i].node = (uint32_t)(i / 2);
    }
    /* an offline pCPU */
    t[4].core = t[4].socket = t[4].node = LIBXL_CPUTOPOLOGY_INVALID_ENTRY;
    *n = 5;
    return t;
}
static void f_cputopo_free(libxl_cputopology *l, int n) { (void)n; free(l); }

static libxl_numainfo *f_numainfo(libxl_ctx *lx, int *n)
{
    libxl_numainfo *ni = calloc(2, sizeof(*ni));
    (void)lx;
    for (int i = 0; i < 2; i++) {
        ni[i].size = 1024ull << 20;
        ni[i].free = (uint64_t)(512 + i) << 20;
        ni[i].num_dists = 2;
        ni[i].dists = calloc(2, sizeof(uint32_t));
        ni[i].dists[0] = i == 0 ? 10 : 20;
        ni[i].dists[1] = i == 0 ? 20 : 10;
    }
    *n = 2;
    return ni;
}
static void f_numainfo_free(libxl_numainfo *l, int n)
{
    for (int i = 0; i < n; i++)
        free(l[i].dists);
    free(l);
}

static libxl_pcitopology *f_pcitopo(libxl_ctx *lx, int *n)
{
    libxl_pcitopology *p = calloc(2, sizeof(*p));
    (void)lx;
    p[0].seg = 0; p[0].bus = 0x41; p[0].devfn = 0; p[0].node = 1;
    p[1].seg = 0; p[1].bus = 0x21; p[1].devfn = 0; p[1].node = LIBXL_PCITOPOLOGY_INVALID_ENTRY;
    *n = 2;
    return p;
}
static void f_pcitopo_free(libxl_pcitopology *l, int n) { (void)n; free(l); }

static libxl_cpupoolinfo *f_cpupools(libxl_ctx *lx, int *n)
{
    libxl_cpupoolinfo *c = calloc(2, sizeof(*c));
    (void)lx;
    c[0].poolid = 0;
    c[0].pool_name = strdup("Pool-0");
    c[0].cpumap.size = 1;
    c[0].cpumap.map = calloc(1, 1);
    c[0].cpumap.map[0] = F.accel_cpupool ? 0x03 : 0x0f;
    *n = 1;
    if (F.accel_cpupool) {
        c[1].poolid = 3;
        c[1].pool_name = strdup("accel");
        c[1].cpumap.size = 1;
        c[1].cpumap.map = calloc(1, 1);
        c[1].cpumap.map[0] = 0x0c;
        *n = 2;
    }
    return c;
}
static void f_cpupools_free(libxl_cpupoolinfo *l, int n)
{
    for (int i = 0; i < n; i++) {
        free(l[i].pool_name);
        free(l[i].cpumap.map);
    }
    free(l);
}

static libxl_dominfo *f_list_domain(libxl_ctx *lx, int *n)
{
    libxl_dominfo *d = calloc((size_t)F.ndoms + 1, sizeof(*d));
    (void)lx;
    d[0].domid = 0;  /* dom0 */
    for (int i = 0; i < F.ndoms; i++) {
        libxl_dominfo *x = &d[i + 1];
        x->domid = (uint32_t)F.doms[i].domid;
        libxl_uuid_from_string(&x->uuid, F.doms[i].uuid);
        x->paused = F.doms[i].paused;
        x->running = !F.doms[i].paused;
        x->cpu_time = F.doms[i].cpu_time;
        x->vcpu_max_id = (uint32_t)F.doms[i].nvcpus - 1;
        x->current_memkb = 128 * 1024;
        x->cpupool = (uint32_t)F.doms[i].cpupool;
    }
    *n = F.ndoms + 1;
    return d;
}
static void f_dominfo_free(libxl_dominfo *l, int n) { (void)n; free(l); }

static fake_dom *dom_by_id(uint32_t domid)
{
    for (int i = 0; i < F.ndoms; i++)
        if ((uint32_t)F.doms[i].domid == domid)
            return &F.doms[i];
    return NULL;
}

static char *f_domid_to_name(libxl_ctx *lx, uint32_t domid)
{
    fake_dom *d = dom_by_id(domid);
    (void)lx;
    return d ? strdup(d->name) : NULL;
}

static libxl_vcpuinfo *f_list_vcpu(libxl_ctx *lx, uint32_t domid, int *nv, int *ncpus)
{
    fake_dom *d = dom_by_id(domid);
    libxl_vcpuinfo *v;
    (void)lx;
    if (!d)
        return NULL;
    v = calloc((size_t)d->nvcpus, sizeof(*v));
    for (int i = 0; i < d->nvcpus; i++) {
        v[i].vcpuid = (uint32_t)i;
        v[i].cpumap.size = v[i].cpumap_soft.size = 1;
        v[i].cpumap.map = calloc(1, 1);
        v[i].cpumap_soft.map = calloc(1, 1);
        v[i].cpumap.map[0] = d->hard[i];
        v[i].cpumap_soft.map[0] = d->soft[i];
    }
    *nv = d->nvcpus;
    *ncpus = 4;
    return v;
}
static void f_vcpu_free(libxl_vcpuinfo *l, int n)
{
    for (int i = 0; i < n; i++) {
        free(l[i].cpumap.map);
        free(l[i].cpumap_soft.map);
    }
    free(l);
}

static int f_set_aff(libxl_ctx *lx, uint32_t domid, uint32_t vcpu, const libxl_bitmap *hard,
                     const libxl_bitmap *soft)
{
    fake_dom *d = dom_by_id(domid);
    (void)lx;
    if (!d || (int)vcpu >= d->nvcpus)
        return ERROR_INVAL;
    if (F.affinity_ignored)
        return 0;
    if (hard)
        d->hard[vcpu] = hard->map[0];
    if (soft)
        d->soft[vcpu] = soft->map[0];
    return 0;
}

static void id_of(const libxl_device_pci *p, char out[GP_PCI_ID_LEN])
{
    snprintf(out, GP_PCI_ID_LEN, "%04x:%02x:%02x.%x", (unsigned)p->domain, p->bus, p->dev, p->func);
}

static int f_assignable_add(libxl_ctx *lx, libxl_device_pci *p, int rebind)
{
    (void)lx;
    assert_int_equal(rebind, 1);
    F.assignable_add_calls++;
    if (F.fail_assignable_add) {
        lx_log_error("libxl_pci.c:774:libxl__device_pci_assignable_add: failed to quarantine %04x:%02x:%02x.%x",
                     (unsigned)p->domain, p->bus, p->dev, p->func);
        return F.fail_assignable_add;
    }
    id_of(p, F.assignable[F.nassignable++]);
    return 0;
}

static int f_assignable_remove(libxl_ctx *lx, libxl_device_pci *p, int rebind)
{
    char id[GP_PCI_ID_LEN];
    (void)lx;
    assert_int_equal(rebind, 1);
    F.assignable_remove_calls++;
    id_of(p, id);
    for (int i = 0; i < F.nassignable; i++)
        if (!strcmp(F.assignable[i], id)) {
            memmove(F.assignable[i], F.assignable[i + 1],
                    (size_t)(F.nassignable - i - 1) * GP_PCI_ID_LEN);
            F.nassignable--;
            return 0;
        }
    return ERROR_FAIL;
}

static libxl_device_pci *list_of(char ids[][GP_PCI_ID_LEN], int n)
{
    libxl_device_pci *l = calloc((size_t)n + 1, sizeof(*l));
    for (int i = 0; i < n; i++) {
        unsigned dom, bus, dev, fn;
        sscanf(ids[i], "%x:%x:%x.%x", &dom, &bus, &dev, &fn);
        l[i].domain = (int)dom;
        l[i].bus = (uint8_t)bus;
        l[i].dev = (uint8_t)dev;
        l[i].func = (uint8_t)fn;
    }
    return l;
}

static libxl_device_pci *f_assignable_list(libxl_ctx *lx, int *n)
{
    (void)lx;
    *n = F.nassignable;
    return list_of(F.assignable, F.nassignable);
}
static void f_pci_list_free(libxl_device_pci *l, int n) { (void)n; free(l); }

static int f_pci_add(libxl_ctx *lx, uint32_t domid, libxl_device_pci *p)
{
    fake_dom *d = dom_by_id(domid);
    (void)lx;
    if (F.fail_pci_add_after >= 0 && F.pci_add_ok >= F.fail_pci_add_after) {
        lx_log_error("libxl_device.c:1470:libxl__wait_for_backend: Backend /local/domain/0/backend/pci/%u/0 not ready",
                     domid);
        return ERROR_FAIL;
    }
    F.pci_add_ok++;
    id_of(p, d->pci[d->npci++]);
    return 0;
}

static int f_pci_remove(libxl_ctx *lx, uint32_t domid, libxl_device_pci *p)
{
    fake_dom *d = dom_by_id(domid);
    char id[GP_PCI_ID_LEN];
    (void)lx;
    id_of(p, id);
    for (int i = 0; i < d->npci; i++)
        if (!strcmp(d->pci[i], id)) {
            memmove(d->pci[i], d->pci[i + 1], (size_t)(d->npci - i - 1) * GP_PCI_ID_LEN);
            d->npci--;
            return 0;
        }
    return ERROR_FAIL;
}

static libxl_device_pci *f_pci_list(libxl_ctx *lx, uint32_t domid, int *n)
{
    fake_dom *d = dom_by_id(domid);
    (void)lx;
    *n = d ? d->npci : 0;
    return d ? list_of(d->pci, d->npci) : NULL;
}

static int f_nodeaff(libxl_ctx *lx, uint32_t domid, libxl_bitmap *nodemap)
{
    (void)lx;
    if (!dom_by_id(domid))
        return ERROR_FAIL;
    nodemap->map[0] = F.node_aff;
    return 0;
}

static char *f_pci_driver(const char *pci_id)
{
    for (int i = 0; i < F.nassignable; i++)
        if (!strcmp(F.assignable[i], pci_id))
            return strdup("pciback");
    return !strcmp(F.driver, pci_id) ? strdup("nvidia") : NULL;
}

static int f_pci_bind(const char *pci_id, const char *driver)
{
    (void)pci_id; (void)driver;
    return 0;
}

static const struct gp_xen_libxl fake = {
    .ctx_alloc = f_ctx_alloc, .ctx_free = f_ctx_free, .get_physinfo = f_physinfo,
    .get_cpu_topology = f_cputopo, .cputopology_list_free = f_cputopo_free,
    .get_numainfo = f_numainfo, .numainfo_list_free = f_numainfo_free,
    .get_pci_topology = f_pcitopo, .pcitopology_list_free = f_pcitopo_free,
    .list_cpupool = f_cpupools, .cpupoolinfo_list_free = f_cpupools_free,
    .list_domain = f_list_domain, .dominfo_list_free = f_dominfo_free,
    .domid_to_name = f_domid_to_name, .list_vcpu = f_list_vcpu,
    .vcpuinfo_list_free = f_vcpu_free, .set_vcpuaffinity = f_set_aff,
    .pci_assignable_add = f_assignable_add, .pci_assignable_remove = f_assignable_remove,
    .pci_assignable_list = f_assignable_list, .pci_assignable_list_free = f_pci_list_free,
    .pci_add = f_pci_add, .pci_remove = f_pci_remove, .pci_destroy = f_pci_remove,
    .pci_list = f_pci_list, .pci_list_free = f_pci_list_free,
    .pci_driver = f_pci_driver, .pci_bind = f_pci_bind,
    .get_nodeaffinity = f_nodeaff,
};

/* ---- fixtures -------------------------------------------------------------------- */

static gp_ctx *open_ctx(void)
{
    gp_config cfg;
    gp_ctx *ctx = NULL;
    const gp_driver_entry *d;
    char *dir = tu_scratch_dir("driver_xen");
    gp_config_init(&cfg);
    cfg.driver = strdup("xen");
    cfg.db_path = gp_asprintf("%s/state.db", dir);
    assert_int_equal(gp_ctx_alloc(&ctx, &cfg, NULL), GP_OK);
    gp_config_dispose(&cfg);
    free(dir);
    assert_int_equal(gp_ctx_driver(ctx, &d), GP_OK);
    assert_ptr_equal(d->ops, &gp_driver_xen);
    return ctx;
}

static int setup(void **state)
{
    fake_reset();
    gp_xen_set_libxl(&fake);
    *state = open_ctx();
    return 0;
}

static int teardown(void **state)
{
    gp_ctx_free(*state);
    gp_xen_set_libxl(NULL);
    return 0;
}

static fake_dom *add_dom(int domid, const char *uuid, const char *name, bool paused, int nvcpus)
{
    fake_dom *d = &F.doms[F.ndoms++];
    memset(d, 0, sizeof(*d));
    d->domid = domid;
    d->uuid = uuid;
    d->name = name;
    d->paused = paused;
    d->nvcpus = nvcpus;
    for (int i = 0; i < nvcpus; i++)
        d->hard[i] = d->soft[i] = 0x0f;
    return d;
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_topology(void **state)
{
    gp_ctx *ctx = *state;
    const gp_host *hp = NULL;
    /* The whole discovery of a live Xen host: topology from libxl. */
    assert_int_equal(gp_host_get(ctx, &hp), GP_OK);
    gp_host h = *hp;
    assert_int_equal(h.n_cpus, 4);          /* the offline pCPU is left out */
    assert_int_equal(h.n_nodes, 2);
    assert_int_equal(h.nodes[1].n_cpus, 2);
    assert_int_equal(h.nodes[1].cpus[0], 2);
    assert_int_equal(h.nodes[1].cpus[1], 3);
    assert_int_equal(h.nodes[0].mem_total_bytes, 1024ull << 20);
    assert_int_equal(h.nodes[1].mem_free_bytes, 513ull << 20);
    assert_non_null(h.nodes[0].distances);
    assert_int_equal(h.nodes[0].distances[1], 20);
    assert_int_equal(h.cpus[3].node, 1);
    assert_int_equal(h.cpus[3].socket, 1);
    assert_int_not_equal(h.cpus[1].core, h.cpus[3].core);  /* host-wide unique */
    assert_int_equal(h.n_cpupools, 1);
    assert_string_equal(h.cpupools[0].name, "Pool-0");
    assert_int_equal(h.cpupools[0].n_cpus, 4);
    assert_int_equal(h.passthrough, GP_YES);
    assert_string_equal(h.topology_source, "libxl");
}

/* Xen 4.17 under QEMU -smp 4,sockets=4,cores=1 reports core ~0
 * (LIBXL_CPUTOPOLOGY_INVALID_ENTRY) for online pCPUs: the core is unknown,
 * the pCPU is not offline (only a wholly invalid entry is).  Placement still
 * finds the node's pCPUs and spreads over them, each its own core. */
static void test_topology_unknown_core(void **state)
{
    gp_ctx *ctx = *state;
    gp_host h;
    gp_placement pl;
    gp_error_info err;
    const char *pool[] = { "0000:41:00.0" };
    gp_place_request req;

    F.cores_unknown = true;
    gp_host_init(&h);
    assert_int_equal(gp_libxl_discover_topology(&h, ctx->err), GP_OK);
    assert_int_equal(h.n_cpus, 4);          /* online, core unknown; the offline one left out */
    for (size_t i = 0; i < h.n_cpus; i++) {
        assert_int_equal(h.cpus[i].id, (int)i);
        assert_int_equal(h.cpus[i].core, -1);
        assert_int_equal(h.cpus[i].node, (int)i / 2);
        assert_int_equal(h.cpus[i].socket, (int)i / 2);
    }
    assert_int_equal(h.n_nodes, 2);
    assert_int_equal(h.nodes[1].n_cpus, 2);
    assert_int_equal(h.nodes[1].cpus[0], 2);
    assert_int_equal(h.nodes[1].cpus[1], 3);

    /* a GPU on node 1: 2 vCPUs spread over both pCPUs of node 1 */
    h.gpus = calloc(1, sizeof(*h.gpus));
    h.n_gpus = 1;
    gp_gpu_init(&h.gpus[0]);
    h.gpus[0].addr = (gp_pci_addr){ 0, 0x41, 0, 0 };
    snprintf(h.gpus[0].pci_id, sizeof(h.gpus[0].pci_id), "0000:41:00.0");
    h.gpus[0].numa_node = 1;
    memset(&req, 0, sizeof(req));
    req.policy = GP_NUMA_REQUIRED;
    req.pin_mode = GP_PIN_HARD;
    req.cpu_overcommit = 1;
    req.pool_gpus = pool;
    req.n_pool_gpus = 1;
    req.vm_vcpus = 2;
    req.vm_memory_mib = 128;
    gp_placement_init(&pl);
    gp_error_info_init(&err);
    assert_int_equal(gp_place(&h, &req, &pl, &err), GP_OK);
    assert_int_equal(pl.node, 1);
    assert_int_equal(pl.memory_node, 1);
    assert_int_equal(pl.n_pcpus, 2);
    assert_int_equal(pl.pcpus[0], 2);
    assert_int_equal(pl.pcpus[1], 3);
    gp_placement_dispose(&pl);

    /* 1 vCPU with pCPU 2 already loaded: the other pCPU of the node. */
    const int busy[] = { 2 };
    gp_place_existing ex = { "0000:99:00.0", 1, busy, 1, 1, 64, 1, false };
    req.vm_vcpus = 1;
    req.existing = &ex;
    req.n_existing = 1;
    req.cpu_overcommit = 2;
    gp_placement_init(&pl);
    assert_int_equal(gp_place(&h, &req, &pl, &err), GP_OK);
    assert_int_equal(pl.n_pcpus, 1);
    assert_int_equal(pl.pcpus[0], 3);
    gp_placement_dispose(&pl);
    gp_error_info_dispose(&err);
    gp_host_dispose(&h);
}

/* On XCP-ng the same facts come from libxl (dom0's sysfs shows neither the
 * host's NUMA layout nor device locality): the libxl source has a session of
 * its own and leaves the driver's state alone. */
static void test_xapi_driver_uses_libxl_facts(void **state)
{
    gp_ctx *ctx = *state;
    gp_host h;
    gp_host_init(&h);
    void *priv = ctx->drv.priv;
    assert_non_null(priv);
    assert_int_equal(gp_libxl_discover_topology(&h, ctx->err), GP_OK);
    assert_ptr_equal(ctx->drv.priv, priv);
    assert_int_equal(h.n_nodes, 2);
    assert_int_equal(h.n_cpus, 4);
    assert_int_equal(h.nodes[1].cpus[0], 2);
    assert_null(h.topology_source);  /* discover.c names the source it chose */
    h.gpus = calloc(1, sizeof(*h.gpus));
    h.n_gpus = 1;
    gp_gpu_init(&h.gpus[0]);
    h.gpus[0].addr = (gp_pci_addr){ 0, 0x41, 0, 0 };
    assert_int_equal(gp_libxl_discover_pci_locality(&h, ctx->err), GP_OK);
    assert_ptr_equal(ctx->drv.priv, priv);
    assert_int_equal(h.gpus[0].numa_node, 1);
    gp_host_dispose(&h);
}

static void test_pci_locality(void **state)
{
    gp_ctx *ctx = *state;
    gp_host h;
    gp_host_init(&h);
    h.gpus = calloc(2, sizeof(*h.gpus));
    h.n_gpus = 2;
    gp_gpu_init(&h.gpus[0]);
    gp_gpu_init(&h.gpus[1]);
    h.gpus[0].addr = (gp_pci_addr){ 0, 0x21, 0, 0 };
    h.gpus[1].addr = (gp_pci_addr){ 0, 0x41, 0, 0 };
    assert_int_equal(gp_libxl_discover_pci_locality(&h, ctx->err), GP_OK);
    assert_int_equal(h.gpus[0].numa_node, -1);   /* no node from Xen: unknown */
    assert_int_equal(h.gpus[1].numa_node, 1);
    gp_host_dispose(&h);
}

static void test_no_iommu(void **state)
{
    gp_ctx *ctx = *state;
    char *orig = NULL;
    F.directio = false;
    assert_int_equal(gp_driver_xen.device_assignable_add(&ctx->drv, "41:00.0", &orig),
                     GP_ERR_NO_PASSTHROUGH);
    assert_int_equal(F.assignable_add_calls, 0);
    assert_null(orig);
    assert_non_null(strstr(gp_ctx_last_error(ctx)->message, "IOMMU"));
}

static void test_assignable_add_remove(void **state)
{
    gp_ctx *ctx = *state;
    char *orig = NULL;
    snprintf(F.driver, sizeof(F.driver), "0000:41:00.0");
    assert_int_equal(gp_driver_xen.device_assignable_add(&ctx->drv, "0000:41:00.0", &orig), GP_OK);
    assert_string_equal(orig, "nvidia");
    assert_int_equal(F.nassignable, 1);
    assert_int_equal(gp_driver_xen.device_assignable_remove(&ctx->drv, "0000:41:00.0", orig), GP_OK);
    assert_int_equal(F.nassignable, 0);
    assert_int_equal(F.assignable_remove_calls, 1);
    free(orig);
}

static void test_libxl_error_captured(void **state)
{
    gp_ctx *ctx = *state;
    const gp_error_info *e;
    char *orig = NULL;
    bool found = false;
    F.fail_assignable_add = ERROR_FAIL;
    assert_int_equal(gp_driver_xen.device_assignable_add(&ctx->drv, "0000:41:00.0", &orig),
                     GP_ERR_DRIVER);
    e = gp_ctx_last_error(ctx);
    assert_non_null(strstr(e->message, "failed to quarantine 0000:41:00.0"));
    for (size_t i = 0; i < e->n_params; i++)
        if (!strcmp(e->params[i].key, "libxl-error")) {
            found = true;
            assert_string_equal(e->params[i].value,
                                "libxl_pci.c:774:libxl__device_pci_assignable_add: failed to "
                                "quarantine 0000:41:00.0");
        }
    assert_true(found);
    assert_null(orig);
}

static void test_never_unassign_attached(void **state)
{
    gp_ctx *ctx = *state;
    fake_dom *d = add_dom(3, UUID_A, "g1", false, 2);
    snprintf(d->pci[d->npci++], GP_PCI_ID_LEN, "0000:41:00.0");
    assert_int_equal(gp_driver_xen.device_assignable_remove(&ctx->drv, "0000:41:00.0", "none"),
                     GP_ERR_GPU_ASSIGNED);
    assert_int_equal(F.assignable_remove_calls, 0);
}

static void test_vm_get_and_list(void **state)
{
    gp_ctx *ctx = *state;
    gp_vm v;
    gp_vm *vs = NULL;
    size_t n = 0;
    add_dom(3, UUID_A, "g1", true, 2);
    gp_vm_init(&v);
    assert_int_equal(gp_driver_xen.vm_get(&ctx->drv, UUID_A, &v), GP_OK);
    assert_int_equal(v.state, GP_VM_PAUSED);
    assert_int_equal(v.domid, 3);
    assert_int_equal(v.vcpus, 2);
    assert_string_equal(v.name_label, "g1");
    assert_int_equal(gp_driver_xen.vm_get(&ctx->drv, "g1", &v), GP_OK);
    assert_string_equal(v.uuid, UUID_A);
    /* a uuid without a live domain is a halted VM */
    assert_int_equal(gp_driver_xen.vm_get(&ctx->drv, UUID_B, &v), GP_OK);
    assert_int_equal(v.state, GP_VM_HALTED);
    assert_int_equal(v.domid, -1);
    assert_int_equal(gp_driver_xen.vm_get(&ctx->drv, "nope", &v), GP_ERR_UNKNOWN_VM);
    gp_vm_dispose(&v);
    add_dom(4, UUID_B, "g1", false, 1);
    gp_vm_init(&v);
    assert_int_equal(gp_driver_xen.vm_get(&ctx->drv, "g1", &v), GP_ERR_VM_AMBIGUOUS);
    gp_vm_dispose(&v);
    assert_int_equal(gp_driver_xen.vm_list(&ctx->drv, &vs, &n), GP_OK);
    assert_int_equal(n, 2);                  /* dom0 is not a VM */
    assert_int_equal(vs[1].state, GP_VM_RUNNING);
    gp_vm_list_free(vs, n);
}

static void test_pin_hard_soft(void **state)
{
    gp_ctx *ctx = *state;
    fake_dom *d = add_dom(5, UUID_A, "g1", true, 2);
    const int cpus[] = { 3, 2 };
    assert_int_equal(gp_xen_pin(&ctx->drv, 5, cpus, 2, GP_PIN_HARD), GP_OK);
    assert_int_equal(d->hard[0], 0x0c);
    assert_int_equal(d->hard[1], 0x0c);
    assert_int_equal(d->soft[0], 0x0f);
    assert_int_equal(gp_xen_pin(&ctx->drv, 5, cpus, 2, GP_PIN_SOFT), GP_OK);
    assert_int_equal(d->soft[0], 0x0c);
    assert_int_equal(d->soft[1], 0x0c);
    assert_int_equal(d->hard[0], 0x0c);      /* soft leaves hard alone */
    assert_int_equal(d->hard[1], 0x0c);
    /* NONE pins nothing: other pCPUs (0,1 = 0x03) leave both maps as they were. */
    const int others[] = { 0, 1 };
    assert_int_equal(gp_xen_pin(&ctx->drv, 5, others, 2, GP_PIN_NONE), GP_OK);
    assert_int_equal(d->hard[0], 0x0c);
    assert_int_equal(d->hard[1], 0x0c);
    assert_int_equal(d->soft[0], 0x0c);
    assert_int_equal(d->soft[1], 0x0c);
    /* No pCPUs: refused with its code and message, nothing changed. */
    assert_int_equal(gp_xen_pin(&ctx->drv, 5, cpus, 0, GP_PIN_HARD), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_ctx_last_error(ctx)->code, GP_ERR_INVALID_ARGUMENT);
    assert_string_equal(gp_ctx_last_error(ctx)->message, "no pCPUs to pin domain 5 to");
    assert_int_equal(d->hard[0], 0x0c);
    assert_int_equal(d->soft[0], 0x0c);
}

static void test_pin_readback_mismatch(void **state)
{
    gp_ctx *ctx = *state;
    const int cpus[] = { 2, 3 };
    add_dom(5, UUID_A, "g1", true, 2);
    F.affinity_ignored = true;
    assert_int_equal(gp_xen_pin(&ctx->drv, 5, cpus, 2, GP_PIN_HARD), GP_ERR_DRIVER);
    assert_non_null(strstr(gp_ctx_last_error(ctx)->message, "affinity 0,1,2,3 after pinning to 2,3"));
}

static void test_attach_rollback(void **state)
{
    gp_ctx *ctx = *state;
    fake_dom *d = add_dom(6, UUID_A, "g1", true, 1);
    const char *ids[] = { "0000:41:00.0", "0000:41:00.1" };
    bool att[2];
    F.fail_pci_add_after = 1;
    assert_int_equal(gp_xen_pci_attach(&ctx->drv, 6, ids, 2, att), GP_ERR_DRIVER);
    assert_int_equal(d->npci, 0);            /* the first function was detached again */
    assert_false(att[0]);
    assert_non_null(strstr(gp_ctx_last_error(ctx)->message,
                           "Backend /local/domain/0/backend/pci/6/0 not ready"));
    /* without the failure both are attached; a second call changes nothing */
    F.fail_pci_add_after = -1;
    assert_int_equal(gp_xen_pci_attach(&ctx->drv, 6, ids, 2, att), GP_OK);
    assert_true(att[0] && att[1]);
    assert_int_equal(gp_xen_pci_attach(&ctx->drv, 6, ids, 2, att), GP_OK);
    assert_false(att[0] || att[1]);
    assert_int_equal(d->npci, 2);
}

/* Put GPU 0000:41:00.0 in pool "train" (cpupool cp) and record its
 * assignment to VM UUID_A on pCPUs 2,3 (node 1), hard pinning, as
 * gp_vm_gpu_assign would have: the state boot-prepare reads. */
static void seed_assignment(gp_ctx *ctx, const char *cp)
{
    char *sql = NULL;
    assert_int_equal(gp_store_open(&ctx->store), GP_OK);
    assert_true(asprintf(&sql,
        "INSERT INTO pools(uuid, name_label, numa_policy, pin_mode, cpu_overcommit, created,"
        " cpupool) VALUES ('" UUID_B "', 'train', 'required', 'hard', 1, 'now', '%s');"
        "INSERT INTO pool_members(pci_id, pool_uuid, original_driver, added)"
        " VALUES ('0000:41:00.0', '" UUID_B "', 'nvidia', 'now');"
        "INSERT INTO assignments(vm_uuid, pci_id, pool_uuid, numa_node, pcpus, memory_node,"
        " pin_mode, vcpus, memory_mib, created) VALUES ('" UUID_A "', '0000:41:00.0', '"
        UUID_B "', 1, '2,3', 1, 'hard', 2, 128, 'now');", cp) > 0);
    assert_int_equal(sqlite3_exec(ctx->store.db, sql, NULL, NULL, NULL), SQLITE_OK);
    free(sql);
}

static const char *err_param(gp_ctx *ctx, const char *key)
{
    const gp_error_info *e = gp_ctx_last_error(ctx);
    for (size_t i = 0; i < e->n_params; i++)
        if (!strcmp(e->params[i].key, key))
            return e->params[i].value;
    fail_msg("no param %s in %s: %s", key, gp_error_name(e->code), e->message);
    return NULL;
}

static void test_boot_prepare_cpupool(void **state)
{
    gp_ctx *ctx = *state;
    F.accel_cpupool = true;
    seed_assignment(ctx, "accel");
    fake_dom *d = add_dom(7, UUID_A, "g1", true, 2);

    /* Created in Pool-0 (no pool = line): refused before attaching anything. */
    assert_int_equal(gp_vm_boot_prepare(ctx, UUID_A), GP_ERR_INVALID_ARGUMENT);
    const gp_error_info *e = gp_ctx_last_error(ctx);
    assert_non_null(strstr(e->message, "cpupool 'Pool-0'"));
    assert_non_null(strstr(e->message, "cpupool 'accel'"));
    assert_non_null(strstr(e->message, "pool = \"accel\""));
    assert_string_equal(err_param(ctx, "cpupool"), "accel");
    assert_string_equal(err_param(ctx, "domain-cpupool"), "Pool-0");
    assert_string_equal(err_param(ctx, "domid"), "7");
    assert_int_equal(d->npci, 0);
    assert_int_equal(F.pci_add_ok, 0);
    assert_int_equal(d->hard[0], 0x0f);
    assert_int_equal(d->hard[1], 0x0f);

    /* In the pool's cpupool: attached and pinned.  Created with node
     * affinity 1 (the memory node): memory best-effort on node 1. */
    d->cpupool = 3;
    F.node_aff = 0x02;
    gp_boot_prepare_result r;
    assert_int_equal(gp_vm_boot_prepare_ex(ctx, UUID_A, &r), GP_OK);
    assert_int_equal(r.domid, 7);
    assert_int_equal(r.memory_node, 1);
    assert_int_equal(r.memory_node_certainty, GP_MEMNODE_BEST_EFFORT);
    assert_string_equal(r.node_affinity, "1");
    assert_string_equal(r.note, "");
    assert_int_equal(d->npci, 1);
    assert_string_equal(d->pci[0], "0000:41:00.0");
    assert_int_equal(d->hard[0], 0x0c);
    assert_int_equal(d->hard[1], 0x0c);

    /* The audit row says what was applied to which domain, as JSON. */
    gp_audit_entry *au = NULL;
    size_t nau = 0;
    assert_int_equal(gp_audit_list(ctx, 0, 0, &au, &nau), GP_OK);
    assert_true(nau > 0);
    assert_string_equal(au[nau - 1].operation, "vm-boot-prepare");
    assert_string_equal(au[nau - 1].object, UUID_A);
    assert_string_equal(au[nau - 1].after,
                        "{\"domid\":7,\"pci_ids\":[\"0000:41:00.0\"],\"pcpus\":\"2,3\","
                        "\"pin_mode\":\"hard\",\"node_affinity\":\"1\","
                        "\"memory_node_certainty\":\"best-effort\"}");
    gp_audit_list_free(au, nau);
}

static void test_boot_prepare_default_cpupool(void **state)
{
    gp_ctx *ctx = *state;
    /* A pool in Pool-0 and a domain in Pool-0: the default works as before. */
    seed_assignment(ctx, "Pool-0");
    fake_dom *d = add_dom(8, UUID_A, "g1", true, 2);
    /* Created without gpupool's lines: libxl's own placement gave node
     * affinity 0, so the memory is not known to be on node 1.  Prepared
     * anyway, and said so. */
    F.node_aff = 0x01;
    gp_boot_prepare_result r;
    assert_int_equal(gp_vm_boot_prepare_ex(ctx, UUID_A, &r), GP_OK);
    assert_int_equal(r.memory_node_certainty, GP_MEMNODE_UNKNOWN);
    assert_string_equal(r.node_affinity, "0");
    assert_non_null(strstr(r.note, "node affinity 0, not memory node 1"));
    assert_non_null(strstr(r.note, "cpus_soft"));
    assert_int_equal(d->npci, 1);
    assert_int_equal(d->hard[0], 0x0c);
    /* xl config lines: no pool = line for Pool-0. */
    char *text = NULL;
    assert_int_equal(gp_vm_xl_config(ctx, UUID_A, &text), GP_OK);
    assert_null(strstr(text, "pool ="));
    assert_non_null(strstr(text, "cpus = \"2-3\"\ncpus_soft = \"2-3\"\n"));
    free(text);
    /* The assignment's memory node: best-effort with the xen driver. */
    gp_assignment a;
    gp_assignment_init(&a);
    assert_int_equal(gp_assignment_get(ctx, UUID_A, &a), GP_OK);
    assert_int_equal(a.memory_node_certainty, GP_MEMNODE_BEST_EFFORT);
    assert_non_null(strstr(a.memory_node_basis, "cpus_soft"));
    gp_assignment_dispose(&a);
}

/* boot-prepare refusals and the undo of a failed pin, with their codes,
 * params and what is left on the domain. */
static void test_boot_prepare_refusals(void **state)
{
    gp_ctx *ctx = *state;
    seed_assignment(ctx, "Pool-0");

    assert_int_equal(gp_vm_boot_prepare(ctx, UUID_A), GP_ERR_UNKNOWN_VM);
    assert_non_null(strstr(gp_ctx_last_error(ctx)->message, "has no live domain"));
    assert_string_equal(err_param(ctx, "vm"), UUID_A);

    fake_dom *d = add_dom(9, UUID_A, "g1", true, 2);
    d->cpu_time = 5;
    assert_int_equal(gp_vm_boot_prepare(ctx, UUID_A), GP_ERR_VM_STARTED);
    assert_non_null(strstr(gp_ctx_last_error(ctx)->message, "domain 9 of VM " UUID_A
                           " has already run (paused, cpu time 0.000 s)"));
    assert_string_equal(err_param(ctx, "domid"), "9");
    assert_int_equal(d->npci, 0);

    /* Pinning fails (read-back differs): the GPU is detached again. */
    d->cpu_time = 0;
    F.affinity_ignored = true;
    assert_int_equal(gp_vm_boot_prepare(ctx, UUID_A), GP_ERR_DRIVER);
    assert_non_null(strstr(gp_ctx_last_error(ctx)->message, "after pinning to 2,3"));
    assert_string_equal(err_param(ctx, "vm"), UUID_A);
    assert_int_equal(F.pci_add_ok, 1);
    assert_int_equal(d->npci, 0);
    gp_audit_entry *au = NULL;
    size_t nau = 0;
    assert_int_equal(gp_audit_list(ctx, 0, 0, &au, &nau), GP_OK);
    for (size_t i = 0; i < nau; i++)
        assert_string_not_equal(au[i].operation, "vm-boot-prepare");
    gp_audit_list_free(au, nau);
}

/* host-reconcile, every kind of item, before and after fix: pool "train"
 * holds 41:00.0 (companion 41:00.1, assigned to UUID_A on pCPUs 2,3 hard),
 * 42:00.0 (bound to nvidia), 43:00.0 (attached to UUID_B's domain) and
 * 21:00.0 (gone from the host); 99:00.0 is assignable but in no pool. */
static void seed_reconcile(gp_ctx *ctx)
{
    const char *present[] = { "0000:41:00.0", "0000:42:00.0", "0000:43:00.0" };
    seed_assignment(ctx, "Pool-0");
    assert_int_equal(sqlite3_exec(ctx->store.db,
        "INSERT INTO pool_companions(pci_id, gpu_pci_id) VALUES ('0000:41:00.1', '0000:41:00.0');"
        "INSERT INTO pool_members(pci_id, pool_uuid, added) VALUES"
        " ('0000:42:00.0', '" UUID_B "', 'now'), ('0000:43:00.0', '" UUID_B "', 'now'),"
        " ('0000:21:00.0', '" UUID_B "', 'now');", NULL, NULL, NULL), SQLITE_OK);
    ctx->host.gpus = calloc(3, sizeof(*ctx->host.gpus));
    ctx->host.n_gpus = 3;
    for (size_t i = 0; i < 3; i++) {
        gp_gpu_init(&ctx->host.gpus[i]);
        assert_int_equal(gp_pci_addr_parse(present[i], &ctx->host.gpus[i].addr, NULL), GP_OK);
    }
    ctx->host_loaded = true;
    snprintf(F.assignable[F.nassignable++], GP_PCI_ID_LEN, "0000:41:00.0");
    snprintf(F.assignable[F.nassignable++], GP_PCI_ID_LEN, "0000:99:00.0");
    snprintf(F.driver, sizeof(F.driver), "0000:42:00.0");
    fake_dom *a = add_dom(7, UUID_A, "g1", false, 2);
    snprintf(a->pci[a->npci++], GP_PCI_ID_LEN, "0000:41:00.0");
    fake_dom *b = add_dom(8, UUID_B, "g2", false, 1);
    snprintf(b->pci[b->npci++], GP_PCI_ID_LEN, "0000:43:00.0");
}

/* The items of one gp_host_reconcile call, one line each. */
static char *reconcile_text(gp_ctx *ctx, bool fix)
{
    gp_reconcile_item *it = NULL;
    size_t n = 0;
    char *s = strdup("");
    assert_int_equal(gp_host_reconcile(ctx, fix, &it, &n), GP_OK);
    for (size_t i = 0; i < n; i++) {
        char *t = gp_asprintf("%s%s|%s|%s|%s|%d%d|%s\n", s, it[i].kind, it[i].object,
                              it[i].expected, it[i].actual, it[i].fixable, it[i].fixed,
                              it[i].detail);
        free(s);
        s = t;
    }
    gp_reconcile_list_free(it, n);
    return s;
}

static void test_reconcile(void **state)
{
    gp_ctx *ctx = *state;
    char *text;
    seed_reconcile(ctx);
    static const char found[] =
        "not-assignable|0000:41:00.1|pciback|none|10|companion 0000:41:00.1 of GPU "
        "0000:41:00.0 is not assignable in Xen (bound to none)\n"
        "not-assignable|0000:42:00.0|pciback|nvidia|10|pool GPU 0000:42:00.0 is not "
        "assignable in Xen (bound to nvidia)\n"
        "foreign-assignable|0000:99:00.0||pciback|00|0000:99:00.0 is assignable in Xen but "
        "in no gpupool pool\n"
        "gpu-missing|0000:21:00.0|present|absent|00|pool GPU 0000:21:00.0 is no longer on "
        "this host\n"
        "pci-missing|0000:41:00.1|" UUID_A "||00|domain 7 of VM " UUID_A " does not have "
        "0000:41:00.1 attached\n"
        "foreign-attachment|0000:43:00.0||" UUID_B "|00|0000:43:00.0 is attached to domain 8 "
        "(VM " UUID_B ") but gpupool assigned it to no VM\n"
        "affinity-mismatch|" UUID_A "/0|2,3|0,1,2,3|10|vCPU 0 of domain 7 (VM " UUID_A ") has "
        "hard affinity 0,1,2,3, assignment says 2,3\n"
        "affinity-mismatch|" UUID_A "/1|2,3|0,1,2,3|10|vCPU 1 of domain 7 (VM " UUID_A ") has "
        "hard affinity 0,1,2,3, assignment says 2,3\n";
    text = reconcile_text(ctx, false);
    assert_string_equal(text, found);
    free(text);
    assert_int_equal(F.assignable_add_calls, 0);
    assert_int_equal(F.doms[0].hard[0], 0x0f);

    /* fix: the two functions made assignable, the domain re-pinned. */
    text = reconcile_text(ctx, true);
    char *fixed = strdup(found);
    for (char *l = fixed; (l = strstr(l, "|10|")); l += 4)
        l[2] = '1';
    assert_string_equal(text, fixed);
    free(fixed);
    free(text);
    assert_int_equal(F.assignable_add_calls, 2);
    assert_int_equal(F.doms[0].hard[0], 0x0c);
    assert_int_equal(F.doms[0].hard[1], 0x0c);

    /* What fix repaired is gone; the rest stays. */
    char *rest = calloc(1, sizeof(found));
    for (const char *l = found, *e; *l; l = e + 1) {
        e = strchr(l, '\n');
        if (!memmem(l, (size_t)(e - l), "|10|", 4))
            strncat(rest, l, (size_t)(e - l + 1));
    }
    text = reconcile_text(ctx, false);
    assert_string_equal(text, rest);
    assert_int_equal(F.assignable_add_calls, 2);
    free(rest);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_topology, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topology_unknown_core, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pci_locality, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xapi_driver_uses_libxl_facts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_iommu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assignable_add_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_libxl_error_captured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_unassign_attached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_get_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pin_hard_soft, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pin_readback_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attach_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boot_prepare_cpupool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boot_prepare_default_cpupool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boot_prepare_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile, setup, teardown),
    };
    return cmocka_run_group_tests_name("driver_xen", tests, NULL, NULL);
}

#else /* !GPUPOOL_WITH_XEN */

#include <stdio.h>

static void test_skipped(void **state)
{
    (void)state;
    fprintf(stderr, "skipped: libgpupool built without libxl (libxen-dev missing)\n");
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_skipped) };
    return cmocka_run_group_tests_name("driver_xen", tests, NULL, NULL);
}

#endif
