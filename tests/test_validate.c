/*
 * test_validate.c - host-validate (ops/validate.c): the verdicts on every
 * real-machine fixture (../shared/fixtures: two hwloc files, two sysfs
 * trees, an lspci dump) and on the embedded host, with exact evidence; the
 * judging itself on hand-built hosts (each status a fact can give); the
 * CLI's exit status (0, 2 when a check fails) and --format=json.
 */
#include "gptest.h"
#include "ops/ops.h"

#include <json.h>

#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    gp_check *c;
    size_t n, n_fail;
} run;

static void run_ctx(gp_ctx *ctx, run *r)
{
    int rc = gp_host_validate(ctx, &r->c, &r->n, &r->n_fail);
    if (rc)
        fail_msg("gp_host_validate: %s", gp_ctx_last_error(ctx)->message);
}

static void run_free(run *r)
{
    gp_check_list_free(r->c, r->n);
}

static const gp_check *find(const run *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->c[i].id, id))
            return &r->c[i];
    fail_msg("no check %s", id);
    return NULL;
}

/* Check id has this status and its evidence this exact text (or, when
 * evidence starts with '~', contains the rest). */
static void expect(const run *r, const char *id, gp_check_status st, const char *evidence)
{
    const gp_check *c = find(r, id);
    if (c->status != st)
        fail_msg("%s: status %s, expected %s (evidence: %s)", id,
                 gp_check_status_name(c->status), gp_check_status_name(st), c->evidence);
    if (!evidence)
        return;
    if (evidence[0] == '~') {
        if (!strstr(c->evidence, evidence + 1))
            fail_msg("%s: evidence '%s' lacks '%s'", id, c->evidence, evidence + 1);
    } else {
        assert_string_equal(c->evidence, evidence);
    }
}

static gp_ctx *ctx_for(const char *tag, gt_ctx_spec spec)
{
    char *dir = tu_scratch_dir(tag), *db = NULL;
    assert_non_null(dir);
    assert_true(asprintf(&db, "%s/state.db", dir) > 0);
    spec.db = db;
    spec.driver = "sim";
    gp_ctx *ctx = gt_ctx_new(&spec);
    free(db);
    free(dir);
    return ctx;
}

/* ---- the embedded host ------------------------------------------------------ */

static void test_embedded(void **state)
{
    (void)state;
    gp_ctx *ctx = ctx_for("validate-embedded", (gt_ctx_spec){ .topology = GP_TOPOLOGY_EMBEDDED });
    run r;
    run_ctx(ctx, &r);
    /* 2 host checks, 10 per GPU (8), 2 nodes, 4 manual */
    assert_int_equal(r.n, 2 + 10 * 8 + 2 + 4);
    assert_int_equal(r.n_fail, 0);
    assert_string_equal(r.c[0].id, "iommu");
    assert_string_equal(r.c[1].id, "interrupt-remapping");
    assert_string_equal(r.c[2].id, "gpu-link:0000:18:00.0");
    assert_string_equal(r.c[r.n - 1].id, "network-throughput");
    expect(&r, "iommu", GP_CHECK_UNKNOWN,
           "the source (embedded) carries no IOMMU facts: no libxl physinfo, no sysfs "
           "kernel/iommu_groups");
    expect(&r, "gpu-link:0000:18:00.0", GP_CHECK_UNKNOWN,
           "~capable unknown speed unknown width, negotiated unknown speed unknown width");
    expect(&r, "gpu-path:0000:18:00.0", GP_CHECK_PASS,
           "direct: root port 0000:17:01.0 of root complex 0000:[17-18] (hwloc Bridge objects "
           "of the embedded host)");
    expect(&r, "gpu-numa:0000:18:00.0", GP_CHECK_PASS,
           "node 0 (hwloc locality (nodeset of the nearest non-I/O ancestor))");
    expect(&r, "gpu-boot-vga:0000:18:00.0", GP_CHECK_PASS,
           "class 0302 is not VGA: never the boot VGA");
    expect(&r, "gpu-driver:0000:18:00.0", GP_CHECK_UNKNOWN,
           "no driver link in the source (hwloc XML)");
    expect(&r, "power", GP_CHECK_MANUAL, "not measurable from the host's configuration");
    const gp_check *p = find(&r, "power");
    assert_non_null(strstr(p->remedy, "ipmitool dcmi power reading"));
    run_free(&r);
    gp_ctx_free(ctx);
}

/* ---- the lspci dump: GT218 without FLR ---------------------------------------- */

static void test_lspci_gt218(void **state)
{
    (void)state;
    char *dump = tu_fixture("lspci/tree-asus-p6t6");
    if (!dump)
        gt_skip_fixture("lspci/tree-asus-p6t6");
    dump = strdup(dump);
    gp_ctx *ctx = ctx_for("validate-lspci", (gt_ctx_spec){ .topology = GP_TOPOLOGY_EMBEDDED,
                                                           .pci_dump = dump });
    run r;
    run_ctx(ctx, &r);
    assert_int_equal(r.n_fail, 0);
    expect(&r, "gpu-reset:0000:06:00.0", GP_CHECK_WARN,
           "no FLR: DevCap FLR bit / AF capability (libpci, lspci dump); [10de:0a65] NVIDIA "
           "Tesla architecture (G8x/G9x/GT2xx), before Kepler: no FLR");
    expect(&r, "gpu-link:0000:06:00.0", GP_CHECK_PASS,
           "negotiated 2.5 GT/s x16 = capable 2.5 GT/s x16: LnkCap / LnkSta of the PCIe "
           "capability (libpci, lspci dump)");
    expect(&r, "gpu-boot-vga:0000:06:00.0", GP_CHECK_UNKNOWN,
           "VGA class, no boot_vga attribute in the source (lspci dump)");
    expect(&r, "gpu-iommu-group:0000:06:00.0", GP_CHECK_UNKNOWN, NULL);
    expect(&r, "gpu-driver:0000:06:00.0", GP_CHECK_UNKNOWN, NULL);
    expect(&r, "gpu-bar:0000:06:00.0", GP_CHECK_UNKNOWN, NULL);
    char *ev = NULL;
    assert_true(asprintf(&ev, "direct: root port 0000:00:07.0 of root complex 0000:00 (libpci "
                              "bridge secondary bus numbers of %s)", dump) > 0);
    expect(&r, "gpu-path:0000:06:00.0", GP_CHECK_PASS, ev);
    free(ev);
    expect(&r, "gpu-nic:0000:06:00.0", GP_CHECK_PASS,
           "~same root complex 0000:00: 0000:08:00.0 (class 0200, node unknown), 0000:07:00.0 "
           "(class 0200, node unknown)");
    expect(&r, "iommu", GP_CHECK_UNKNOWN, NULL);
    /* the embedded host's hwloc locality has no 0000:06:00.0 */
    assert_true(asprintf(&ev, "node unknown: hwloc locality (nodeset of the nearest non-I/O "
                              "ancestor) gives none (pci source dump:%s)", dump) > 0);
    expect(&r, "gpu-numa:0000:06:00.0", GP_CHECK_WARN, ev);
    free(ev);
    run_free(&r);
    gp_ctx_free(ctx);
    free(dump);
}

/* ---- sysfs: 8 Vector Engines behind PCIe switches, with InfiniBand beside ---- */

static void test_sysfs_ve(void **state)
{
    (void)state;
    char *top = tu_unpack_fixture("sysfs/32intel64-2p8co2t+8ve.tar.bz2");
    if (!top)
        gt_skip_fixture("sysfs/32intel64-2p8co2t+8ve.tar.bz2");
    char *root = NULL, *ev = NULL;
    assert_true(asprintf(&root, "%s/sys", top) > 0);
    gp_ctx *ctx = ctx_for("validate-ve", (gt_ctx_spec){ .sysfs_root = root,
                                                        .classes = "0b40,0200" });
    run r;
    run_ctx(ctx, &r);
    assert_int_equal(r.n_fail, 0);
    assert_true(asprintf(&ev, "%s/kernel/iommu_groups is not in the captured tree", root) > 0);
    expect(&r, "iommu", GP_CHECK_UNKNOWN, ev);
    free(ev);
    /* current = max link: 8 GT/s x16 */
    assert_true(asprintf(&ev, "negotiated 8 GT/s x16 = capable 8 GT/s x16: LnkCap / LnkSta of "
                              "the PCIe capability (libpci), else sysfs max_link_speed/"
                              "max_link_width and current_link_speed/current_link_width of "
                              "%s/bus/pci/devices/0000:1b:00.0", root) > 0);
    expect(&r, "gpu-link:0000:1b:00.0", GP_CHECK_PASS, ev);
    free(ev);
    /* the i40e port (class 0200 asked for): 2.5 GT/s x1 of 8 GT/s x1 */
    expect(&r, "gpu-link:0000:60:00.0", GP_CHECK_WARN,
           "~negotiated 2.5 GT/s x1 below capable 8 GT/s x1 (speed downgraded)");
    assert_true(asprintf(&ev, "behind a PCIe switch: 3 bridges, root complex pci0000:17 > "
                              "0000:17:00.0 > 0000:18:00.0 > 0000:19:08.0 (sysfs device paths "
                              "under %s/devices)", root) > 0);
    expect(&r, "gpu-path:0000:1b:00.0", GP_CHECK_WARN, ev);
    free(ev);
    expect(&r, "gpu-path:0000:41:00.0", GP_CHECK_WARN,
           "~root complex pci0000:3a > 0000:3a:00.0 > 0000:3b:00.0 > 0000:3c:14.0 (");
    assert_true(asprintf(&ev, "same root complex pci0000:17: 0000:1a:00.0 (class 0207, node 0, "
                              "shares bridge 0000:18:00.0) (sysfs device paths under "
                              "%s/devices)", root) > 0);
    expect(&r, "gpu-nic:0000:1b:00.0", GP_CHECK_PASS, ev);
    free(ev);
    expect(&r, "gpu-nic:0000:41:00.0", GP_CHECK_PASS,
           "~same root complex pci0000:3a: 0000:3e:00.0 (class 0207, node 0, shares bridge "
           "0000:3b:00.0)");
    expect(&r, "gpu-numa:0000:1b:00.0", GP_CHECK_PASS, "~node 0 (sysfs numa_node");
    expect(&r, "gpu-bar:0000:1b:00.0", GP_CHECK_WARN,
           "largest BAR 64 GiB (libpci BAR sizes, sysfs resource)");
    expect(&r, "gpu-driver:0000:1b:00.0", GP_CHECK_WARN,
           "sysfs driver link: ve_drv (in no pool)");
    /* 64-byte config views, no reset_method: FLR unknown */
    expect(&r, "gpu-reset:0000:1b:00.0", GP_CHECK_UNKNOWN,
           "the config space has no capability list (a 64-byte unprivileged view) and sysfs "
           "has no reset_method");
    expect(&r, "gpu-iommu-group:0000:1b:00.0", GP_CHECK_UNKNOWN,
           "sysfs has no iommu_group link for it (no IOMMU in use)");
    expect(&r, "gpu-boot-vga:0000:1b:00.0", GP_CHECK_PASS,
           "class 0b40 is not VGA: never the boot VGA");
    expect(&r, "node:0", GP_CHECK_PASS, "~10 GPUs, 16 pCPUs (1.6 per GPU)");
    expect(&r, "node:1", GP_CHECK_PASS, "~no GPU; 16 pCPUs");
    run_free(&r);
    gp_ctx_free(ctx);
    free(root);
    free(top);
}

/* ---- sysfs: 32-bit PCI domains, a cirrus boot VGA ------------------------------ */

static void test_sysfs_domain32(void **state)
{
    (void)state;
    char *top = tu_unpack_fixture("sysfs/2pa-pcidomain32bits.tar.bz2");
    if (!top)
        gt_skip_fixture("sysfs/2pa-pcidomain32bits.tar.bz2");
    char *root = NULL;
    assert_true(asprintf(&root, "%s/sys", top) > 0);
    gp_ctx *ctx = ctx_for("validate-dom32", (gt_ctx_spec){ .sysfs_root = root });
    run r;
    run_ctx(ctx, &r);
    assert_int_equal(r.n_fail, 0);
    expect(&r, "gpu-boot-vga:0000:00:02.0", GP_CHECK_WARN, "sysfs boot_vga = 1");
    expect(&r, "gpu-driver:0000:00:02.0", GP_CHECK_WARN, "sysfs driver link: cirrus (in no pool)");
    expect(&r, "gpu-bar:0000:00:02.0", GP_CHECK_PASS,
           "largest BAR 32 MiB (libpci BAR sizes, sysfs resource)");
    expect(&r, "gpu-path:0000:00:02.0", GP_CHECK_PASS,
           "~on the root bus of root complex pci0000:00, no bridge between");
    expect(&r, "gpu-numa:0000:00:02.0", GP_CHECK_WARN, NULL);
    expect(&r, "gpu-link:0000:00:02.0", GP_CHECK_UNKNOWN, NULL);
    expect(&r, "gpu-nic:0000:00:02.0", GP_CHECK_PASS,
           "~same root complex pci0000:00: 0000:00:03.0 (class 0200, node unknown)");
    run_free(&r);
    gp_ctx_free(ctx);
    free(root);
    free(top);
}

/* ---- hwloc files ------------------------------------------------------------- */

static void test_hwloc_24em64t(void **state)
{
    (void)state;
    char *f = tu_fixture("hwloc/24em64t-2n6c2t-pci.xml");
    if (!f)
        gt_skip_fixture("hwloc/24em64t-2n6c2t-pci.xml");
    f = strdup(f);
    gp_ctx *ctx = ctx_for("validate-24em64t", (gt_ctx_spec){ .topology = f });
    run r;
    run_ctx(ctx, &r);
    assert_int_equal(r.n_fail, 0);
    expect(&r, "gpu-numa:0000:06:00.0", GP_CHECK_PASS, "~node 0 (hwloc locality");
    expect(&r, "gpu-numa:0000:11:00.0", GP_CHECK_PASS, "~node 1 (hwloc locality");
    expect(&r, "gpu-numa:0000:14:00.0", GP_CHECK_PASS, "~node 1 (hwloc locality");
    expect(&r, "gpu-link:0000:06:00.0", GP_CHECK_UNKNOWN, NULL);
    expect(&r, "gpu-path:0000:11:00.0", GP_CHECK_PASS,
           "~direct: root port 0000:10:07.0 of root complex 0000:[10-1f]");
    /* the NICs (0000:04:00.x) are on node 0 */
    expect(&r, "gpu-nic:0000:06:00.0", GP_CHECK_PASS,
           "~same root complex 0000:[00-0f]: 0000:04:00.0 (class 0200, node 0), 0000:04:00.1");
    expect(&r, "gpu-nic:0000:11:00.0", GP_CHECK_WARN,
           "~no NIC on node 1; NICs: 0000:04:00.0 (class 0200, node 0)");
    /* the ES1000 console: VGA class, hwloc has no boot_vga */
    expect(&r, "gpu-boot-vga:0000:01:03.0", GP_CHECK_UNKNOWN, NULL);
    expect(&r, "node:1", GP_CHECK_PASS, "~2 GPUs, 12 pCPUs (6.0 per GPU)");
    run_free(&r);
    gp_ctx_free(ctx);
    free(f);
}

static void test_hwloc_32em64t(void **state)
{
    (void)state;
    char *f = tu_fixture("hwloc/32em64t-2n8c2t-pci-normalio.xml");
    if (!f)
        gt_skip_fixture("hwloc/32em64t-2n8c2t-pci-normalio.xml");
    f = strdup(f);
    gp_ctx *ctx = ctx_for("validate-32em64t", (gt_ctx_spec){ .topology = f });
    run r;
    run_ctx(ctx, &r);
    assert_int_equal(r.n_fail, 0);
    /* pci_link_speed="0.000000": the link is unknown, never guessed */
    expect(&r, "gpu-link:0000:03:00.0", GP_CHECK_UNKNOWN,
           "capable unknown speed unknown width, negotiated unknown speed unknown width: hwloc "
           "XML: a PCIDev has no LnkCap / LnkSta (pci_link_speed is a bandwidth, 0 when "
           "unknown)");
    expect(&r, "gpu-numa:0000:83:00.0", GP_CHECK_PASS, "~node 1");
    expect(&r, "gpu-nic:0000:83:00.0", GP_CHECK_PASS,
           "~same root complex 0000:[80-84]: 0000:81:00.0 (class 0200, node 1)");
    expect(&r, "gpu-nic:0000:03:00.0", GP_CHECK_WARN, "~no NIC on node 0");
    expect(&r, "node:1", GP_CHECK_PASS, "~3 GPUs, 16 pCPUs (5.3 per GPU)");
    run_free(&r);
    gp_ctx_free(ctx);
    free(f);
}

/* ---- the judging on built hosts --------------------------------------------- */

typedef struct {
    gp_host h;
    gp_pci_tree t;
    gp_validate_env env;
    run r;
} built;

static void built_init(built *b)
{
    memset(b, 0, sizeof(*b));
    gp_host_init(&b->h);
    gp_pci_tree_init(&b->t);
    b->h.n_nodes = 1;
    b->h.nodes = calloc(1, sizeof(gp_numa_node));
    b->h.nodes[0].id = 0;
    b->h.nodes[0].mem_total_bytes = 64ull << 30;
    b->h.n_gpus = 1;
    b->h.gpus = calloc(1, sizeof(gp_gpu));
    gp_gpu *g = &b->h.gpus[0];
    gp_gpu_init(g);
    strcpy(g->pci_id, "0000:41:00.0");
    g->vendor_id = 0x10de;
    g->device_id = 0x2331;
    g->class_code = 0x0302;
    g->numa_node = 0;
    g->source = strdup("sysfs");
    g->link_cap = (gp_pcie_link){ 16, 16 };
    g->link_sta = (gp_pcie_link){ 16, 16 };
    g->flr = GP_YES;
    g->boot_vga = GP_NO;
    g->driver = strdup("pciback");
    g->max_bar_bytes = 256ull << 20;
    g->sriov_totalvfs = 0;
    g->iommu_group = 7;
}

static void built_run(built *b)
{
    assert_int_equal(gp_validate_facts(&b->h, &b->t, &b->env, &b->r.c, &b->r.n, NULL), GP_OK);
}

static void built_free(built *b)
{
    run_free(&b->r);
    gp_host_dispose(&b->h);
    gp_pci_tree_dispose(&b->t);
}

static void test_built_all_pass(void **state)
{
    (void)state;
    built b;
    built_init(&b);
    b.h.passthrough = GP_YES;
    b.h.nodes[0].n_cpus = 2;
    b.h.nodes[0].cpus = calloc(2, sizeof(int));
    built_run(&b);
    expect(&b.r, "iommu", GP_CHECK_PASS,
           "libxl_get_physinfo cap_hvm_directio=1 (xl info virt_caps lists hvm_directio / "
           "pv_directio)");
    expect(&b.r, "gpu-link:0000:41:00.0", GP_CHECK_PASS, "~negotiated 16 GT/s x16 = capable 16 GT/s x16");
    expect(&b.r, "gpu-reset:0000:41:00.0", GP_CHECK_PASS, NULL);
    expect(&b.r, "gpu-driver:0000:41:00.0", GP_CHECK_PASS, "sysfs driver link: pciback (in no pool)");
    expect(&b.r, "gpu-iommu-group:0000:41:00.0", GP_CHECK_PASS,
           "sysfs iommu_group 7 holds this GPU alone");
    expect(&b.r, "gpu-bar:0000:41:00.0", GP_CHECK_PASS, "~largest BAR 256 MiB");
    expect(&b.r, "node:0", GP_CHECK_PASS, "~1 GPUs, 2 pCPUs (2.0 per GPU), 65536 MiB");
    built_free(&b);
}

static void test_built_failures(void **state)
{
    (void)state;
    built b;
    built_init(&b);
    gp_gpu *g = &b.h.gpus[0];
    b.h.passthrough = GP_NO;
    g->link_sta = (gp_pcie_link){ 16, 8 };            /* x8 of x16 */
    free(g->driver);
    g->driver = strdup("nvidia");
    g->max_bar_bytes = 64ull << 30;
    g->flr = GP_NO;
    g->vendor_id = 0x1002;
    g->device_id = 0x687f;                             /* Vega 10 */
    g->n_iommu_group_members = 1;
    g->iommu_group_members = calloc(1, sizeof(char *));
    g->iommu_group_members[0] = strdup("0000:42:00.0");
    b.h.n_functions = 1;
    b.h.functions = calloc(1, sizeof(gp_pci_function));
    strcpy(b.h.functions[0].pci_id, "0000:42:00.0");
    b.h.functions[0].class_code = 0x0108;
    char *pool[] = { "0000:41:00.0" };
    b.env.pool_gpus = pool;
    b.env.n_pool_gpus = 1;
    built_run(&b);
    expect(&b.r, "iommu", GP_CHECK_FAIL,
           "libxl_get_physinfo cap_hvm_directio=0 (xl info virt_caps lacks hvm_directio / "
           "pv_directio)");
    expect(&b.r, "gpu-link:0000:41:00.0", GP_CHECK_FAIL,
           "~negotiated 16 GT/s x8 below capable 16 GT/s x16 (width downgraded)");
    expect(&b.r, "gpu-driver:0000:41:00.0", GP_CHECK_FAIL, "sysfs driver link: nvidia (in a pool)");
    expect(&b.r, "gpu-iommu-group:0000:41:00.0", GP_CHECK_FAIL,
           "sysfs iommu_group 7 also holds 0000:42:00.0 (class 0108)");
    expect(&b.r, "gpu-bar:0000:41:00.0", GP_CHECK_WARN, "~largest BAR 64 GiB");
    expect(&b.r, "gpu-reset:0000:41:00.0", GP_CHECK_WARN,
           "~[1002:687f] AMD Vega 10 (reset bug; vendor-reset)");
    /* the node has GPUs and no pCPU */
    expect(&b.r, "node:0", GP_CHECK_FAIL, "~1 GPUs but no pCPU");
    /* path and NIC: the GPU is in no hierarchy */
    expect(&b.r, "gpu-path:0000:41:00.0", GP_CHECK_UNKNOWN, NULL);
    expect(&b.r, "gpu-nic:0000:41:00.0", GP_CHECK_UNKNOWN, NULL);
    /* not in a pool: a bound driver is a warning only */
    run_free(&b.r);
    b.env.n_pool_gpus = 0;
    g->link_sta = (gp_pcie_link){ 2.5, 16 };          /* idle speed */
    built_run(&b);
    expect(&b.r, "gpu-driver:0000:41:00.0", GP_CHECK_WARN, "sysfs driver link: nvidia (in no pool)");
    expect(&b.r, "gpu-link:0000:41:00.0", GP_CHECK_WARN,
           "~negotiated 2.5 GT/s x16 below capable 16 GT/s x16 (speed downgraded)");
    built_free(&b);
}

/* ---- the CLI: exit status and --format=json ---------------------------------- */

static void test_cli_exit(void **state)
{
    (void)state;
    char *top = tu_unpack_fixture("sysfs/32intel64-2p8co2t+8ve.tar.bz2");
    if (!top)
        gt_skip_fixture("sysfs/32intel64-2p8co2t+8ve.tar.bz2");
    /* A tree whose kernel/iommu_groups is empty: the fixture's bus and
     * devices, an empty groups dir of our own -> iommu fails. */
    char *dir = tu_scratch_dir("validate-cli"), *cmd = NULL;
    assert_true(asprintf(&cmd, "mkdir -p %s/sys/kernel/iommu_groups && ln -s %s/sys/bus "
                               "%s/sys/bus && ln -s %s/sys/devices %s/sys/devices",
                         dir, top, dir, top, dir) > 0);
    tu_run_result r;
    assert_int_equal(tu_sh(&r, cmd), 0);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    free(cmd);

    /* the fixture itself: nothing fails -> 0; JSON parses with 2+10*8+2+4 checks */
    assert_true(asprintf(&cmd, "GPUPOOL_DB=%s/a.db xe-cli/xe-gpupool --driver=sim "
                               "--sysfs-root=%s/sys --gpu-classes=0b40 host-validate "
                               "--format=json", dir, top) > 0);
    assert_int_equal(tu_sh(&r, cmd), 0);
    assert_int_equal(r.status, 0);
    json_object *j = json_tokener_parse(r.out);
    assert_non_null(j);
    assert_int_equal(json_object_array_length(j), 2 + 10 * 8 + 2 + 4);
    json_object *first = json_object_array_get_idx(j, 0), *v;
    assert_true(json_object_object_get_ex(first, "id", &v));
    assert_string_equal(json_object_get_string(v), "iommu");
    assert_true(json_object_object_get_ex(first, "status", &v));
    assert_string_equal(json_object_get_string(v), "unknown");
    json_object_put(j);
    tu_run_free(&r);
    free(cmd);

    /* empty iommu_groups: iommu fails -> exit 2, no error text */
    assert_true(asprintf(&cmd, "GPUPOOL_DB=%s/a.db xe-cli/xe-gpupool --driver=sim "
                               "--sysfs-root=%s/sys --gpu-classes=0b40 host-validate "
                               "status=fail --minimal", dir, dir) > 0);
    assert_int_equal(tu_sh(&r, cmd), 0);
    assert_int_equal(r.status, 2);
    assert_string_equal(r.out, "iommu\n");
    assert_string_equal(r.err, "");
    tu_run_free(&r);
    free(cmd);

    /* a bad format is an error: exit 1 */
    assert_true(asprintf(&cmd, "GPUPOOL_DB=%s/a.db xe-cli/xe-gpupool --driver=sim "
                               "--topology=embedded host-validate format=xml", dir) > 0);
    assert_int_equal(tu_sh(&r, cmd), 0);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "INVALID_ARGUMENT"));
    tu_run_free(&r);
    free(cmd);
    free(dir);
    free(top);
}

/* ---- the XAPI plugin: validate_host ------------------------------------------ */

static void test_plugin_validate_host(void **state)
{
    (void)state;
    char *dir = tu_scratch_dir("validate-plugin"), *conf = NULL, *cmd = NULL;
    assert_non_null(dir);
    assert_true(asprintf(&conf, "%s/gpupool.conf", dir) > 0);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "db = %s/state.db\ndriver = sim\ntopology = embedded\n", dir);
    assert_int_equal(fclose(f), 0);
    assert_true(asprintf(&cmd, "python3 tests/plugin_call.py xapi-plugin/gpupool %s "
                               "validate_host", conf) > 0);
    tu_run_result r;
    assert_int_equal(tu_sh(&r, cmd), 0);
    if (r.status)
        fail_msg("plugin_call.py: %s", r.err);
    json_object *sum = json_tokener_parse(r.out), *v, *checks, *c0;
    assert_non_null(sum);
    assert_true(json_object_object_get_ex(sum, "status", &v));
    assert_string_equal(json_object_get_string(v), "Success");
    assert_true(json_object_object_get_ex(sum, "value", &v));
    assert_true(json_object_object_get_ex(v, "failed", &c0));
    assert_int_equal(json_object_get_int(c0), 0);
    assert_true(json_object_object_get_ex(v, "checks", &checks));
    assert_int_equal(json_object_array_length(checks), 2 + 10 * 8 + 2 + 4);
    c0 = json_object_array_get_idx(checks, 3);   /* gpu-path of the first GPU */
    assert_true(json_object_object_get_ex(c0, "id", &v));
    assert_string_equal(json_object_get_string(v), "gpu-path:0000:18:00.0");
    assert_true(json_object_object_get_ex(c0, "status", &v));
    assert_string_equal(json_object_get_string(v), "pass");
    assert_true(json_object_object_get_ex(c0, "evidence", &v));
    assert_string_equal(json_object_get_string(v),
                        "direct: root port 0000:17:01.0 of root complex 0000:[17-18] (hwloc "
                        "Bridge objects of the embedded host)");
    json_object_put(sum);
    tu_run_free(&r);
    free(cmd);
    free(conf);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded),
        cmocka_unit_test(test_lspci_gt218),
        cmocka_unit_test(test_sysfs_ve),
        cmocka_unit_test(test_sysfs_domain32),
        cmocka_unit_test(test_hwloc_24em64t),
        cmocka_unit_test(test_hwloc_32em64t),
        cmocka_unit_test(test_built_all_pass),
        cmocka_unit_test(test_built_failures),
        cmocka_unit_test(test_cli_exit),
        cmocka_unit_test(test_plugin_validate_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
