/*
 * test_sysfs.c - discovery from captured sysfs trees: topology from
 * devices/system/{node,cpu}, PCI through libpci's sysfs method plus the
 * sysfs attributes (link, driver, SR-IOV, boot_vga).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpupool.h"
#include "ops/ops.h"
#include "rpc/rpc.h"
#include "gptest.h"

static gp_ctx *ctx_for_root(const char *root, const char *classes)
{
    return gt_ctx_new(&(gt_ctx_spec){ .sysfs_root = root, .driver = "sim", .classes = classes });
}

/* "<dir>/sys" of an unpacked fixture, or NULL (then the test skips). */
static char *fixture_root(const char *tarball)
{
    char *top = tu_unpack_fixture(tarball);
    if (!top)
        return NULL;
    char *root = malloc(strlen(top) + 5);
    sprintf(root, "%s/sys", top);
    free(top);
    return root;
}

static void test_ve_topology(void **state)
{
    (void)state;
    char *root = fixture_root("sysfs/32intel64-2p8co2t+8ve.tar.bz2");
    if (!root)
        gt_skip_fixture("sysfs/32intel64-2p8co2t+8ve.tar.bz2");
    gp_host h;
    gp_error_info err;
    gp_host_init(&h);
    gp_error_info_init(&err);
    assert_int_equal(gp_sysfs_topology(root, &h, &err), GP_OK);
    gp_host_finish(&h);
    assert_int_equal(h.n_nodes, 2);
    assert_int_equal(h.n_cpus, 32);
    /* node 0 = 0-7,16-23 */
    assert_int_equal(h.nodes[0].n_cpus, 16);
    assert_int_equal(h.nodes[0].cpus[7], 7);
    assert_int_equal(h.nodes[0].cpus[8], 16);
    assert_int_equal(h.nodes[1].cpus[0], 8);
    assert_int_equal(h.nodes[0].mem_total_bytes, 47925628ull * 1024);
    assert_int_equal(h.nodes[0].mem_free_bytes, 24465948ull * 1024);
    assert_int_equal(h.nodes[0].distances[0], 10);
    assert_int_equal(h.nodes[0].distances[1], 21);
    assert_int_equal(h.nodes[0].socket, 0);
    assert_int_equal(h.nodes[1].socket, 1);
    /* cpu5: core_id 5, package 0; cpu 16 is its sibling thread. */
    assert_int_equal(h.cpus[5].id, 5);
    assert_int_equal(h.cpus[5].socket, 0);
    assert_int_equal(h.cpus[5].node, 0);
    assert_int_equal(h.cpus[16].node, 0);
    assert_true(h.cpus[8].core != h.cpus[0].core);
    assert_non_null(strstr(h.topology_source, "sysfs:"));
    gp_host_dispose(&h);
    gp_error_info_dispose(&err);
    free(root);
}

static void test_ve_gpus(void **state)
{
    (void)state;
    char *root = fixture_root("sysfs/32intel64-2p8co2t+8ve.tar.bz2");
    if (!root)
        gt_skip_fixture("sysfs/32intel64-2p8co2t+8ve.tar.bz2");

    /* Default classes: no VGA/3D in this machine, 0b40 not a GPU. */
    gp_ctx *ctx = ctx_for_root(root, NULL);
    const gp_host *h;
    assert_int_equal(gp_host_get(ctx, &h), GP_OK);
    assert_int_equal(h->n_gpus, 0);
    assert_int_equal(h->n_functions, 28);
    gp_ctx_free(ctx);

    ctx = ctx_for_root(root, "0300,0302,0b40");
    assert_int_equal(gp_host_get(ctx, &h), GP_OK);
    assert_int_equal(h->n_gpus, 8);
    assert_int_equal(h->n_nodes, 2);
    static const char *const ids[] = { "0000:1b:00.0", "0000:1c:00.0", "0000:1d:00.0",
                                       "0000:1e:00.0", "0000:3d:00.0", "0000:3f:00.0",
                                       "0000:40:00.0", "0000:41:00.0" };
    for (size_t i = 0; i < 8; i++) {
        const gp_gpu *g = &h->gpus[i];
        assert_string_equal(g->pci_id, ids[i]);
        assert_int_equal(g->class_code, 0x0b40);
        assert_int_equal(g->vendor_id, 0x1bcf);
        assert_int_equal(g->device_id, 0x001c);
        assert_int_equal(g->numa_node, 0);
        assert_string_equal(g->driver, "ve_drv");
        assert_string_equal(g->source, "sysfs");
        /* sysfs max_link_* / current_link_*: 8 GT/s x16 both. */
        assert_true(g->link_cap.speed_gts == 8.0);
        assert_int_equal(g->link_cap.width, 16);
        assert_true(g->link_sta.speed_gts == 8.0);
        assert_int_equal(g->link_sta.width, 16);
        assert_int_equal(g->link_downgraded, GP_NO);
        /* 64-byte config views, no reset_method: FLR unknown. */
        assert_int_equal(g->flr, GP_UNKNOWN);
        assert_null(g->reset_method);
        assert_int_equal(g->sriov_totalvfs, -1);
        assert_int_equal(g->iommu_group, -1);
        assert_int_equal(g->boot_vga, GP_NO);
        assert_int_equal(g->max_bar_bytes, 64ull << 30);  /* BAR0 of resource */
    }
    /* Bridges are functions with header type 1 (read from the 64-byte view). */
    bool saw = false;
    for (size_t i = 0; i < h->n_functions; i++)
        if (!strcmp(h->functions[i].pci_id, "0000:19:04.0")) {
            saw = true;
            assert_int_equal(h->functions[i].header_type, 1);
            assert_int_equal(h->functions[i].class_code, 0x0604);
        }
    assert_true(saw);
    gp_ctx_free(ctx);
    free(root);
}

/* The X722 NIC: a downgraded link, SR-IOV from sysfs, a companion with its
 * own driver. */
static void test_ve_nic_facts(void **state)
{
    (void)state;
    char *root = fixture_root("sysfs/32intel64-2p8co2t+8ve.tar.bz2");
    if (!root)
        gt_skip_fixture("sysfs/32intel64-2p8co2t+8ve.tar.bz2");
    gp_ctx *ctx = ctx_for_root(root, "0200:8086");
    const gp_host *h;
    assert_int_equal(gp_host_get(ctx, &h), GP_OK);
    assert_int_equal(h->n_gpus, 2);
    const gp_gpu *g = gp_host_find_gpu(h, "60:00.0");
    assert_non_null(g);
    assert_true(g->link_cap.speed_gts == 8.0);
    assert_int_equal(g->link_cap.width, 1);
    assert_true(g->link_sta.speed_gts == 2.5);
    assert_int_equal(g->link_downgraded, GP_YES);
    assert_int_equal(g->sriov_totalvfs, 64);
    assert_int_equal(g->n_companions, 1);
    assert_string_equal(g->companions[0].pci_id, "0000:60:00.1");
    assert_int_equal(g->companions[0].class_code, 0x0200);
    assert_string_equal(g->companions[0].driver, "i40e");
    gp_ctx_free(ctx);
    free(root);
}

static void test_pcidomain32(void **state)
{
    (void)state;
    char *root = fixture_root("sysfs/2pa-pcidomain32bits.tar.bz2");
    if (!root)
        gt_skip_fixture("sysfs/2pa-pcidomain32bits.tar.bz2");
    gp_ctx *ctx = ctx_for_root(root, NULL);
    const gp_host *h;
    assert_int_equal(gp_host_get(ctx, &h), GP_OK);
    assert_int_equal(h->n_nodes, 1);
    assert_int_equal(h->n_cpus, 2);
    assert_int_equal(h->nodes[0].mem_total_bytes, 2052540ull * 1024);
    assert_int_equal(h->n_functions, 9);
    /* Ascending pci-id: segment 0x10000 sorts after segment 0. */
    assert_string_equal(h->functions[7].pci_id, "10000:00:00.0");
    assert_string_equal(h->functions[8].pci_id, "10000:00:04.0");
    /* The Cirrus VGA is the console: sysfs boot_vga = 1. */
    assert_int_equal(h->n_gpus, 1);
    assert_string_equal(h->gpus[0].pci_id, "0000:00:02.0");
    assert_int_equal(h->gpus[0].boot_vga, GP_YES);
    assert_string_equal(h->gpus[0].driver, "cirrus");
    assert_int_equal(h->gpus[0].numa_node, -1);  /* numa_node file says -1 */
    gp_ctx_free(ctx);

    /* A function of segment 0x10000 chosen as "GPU" by class. */
    ctx = ctx_for_root(root, "0100");
    assert_int_equal(gp_host_get(ctx, &h), GP_OK);
    assert_int_equal(h->n_gpus, 1);
    const gp_gpu *g = &h->gpus[0];
    assert_string_equal(g->pci_id, "10000:00:04.0");
    assert_int_equal(g->addr.domain, 0x10000);
    assert_int_equal(g->addr.dev, 4);
    assert_ptr_equal(gp_host_find_gpu(h, "10000:00:04.0"), g);
    assert_ptr_equal(gp_host_find_gpu(h, "00010000:00:04.0"), g);
    assert_null(gp_host_find_gpu(h, "0000:00:04.0"));
    assert_string_equal(g->driver, "virtio-pci");
    assert_int_equal(g->boot_vga, GP_NO);
    gp_ctx_free(ctx);
    free(root);
}

static void test_missing_root(void **state)
{
    (void)state;
    gp_ctx *ctx = ctx_for_root("tests/tmp/no-such-sysfs", NULL);
    const gp_host *h;
    int rc = gp_host_get(ctx, &h);
    assert_int_equal(rc, GP_ERR_TOPOLOGY);
    assert_non_null(strstr(gp_ctx_last_error(ctx)->message, "no-such-sysfs"));
    gp_ctx_free(ctx);

    /* Topology present but no bus/pci: the PCI scan reports IO_ERROR. */
    char *dir = tu_scratch_dir("sysfs-nopci");
    char cmd[8192];
    snprintf(cmd, sizeof(cmd),
             "mkdir -p '%s/devices/system/node/node0' '%s/devices/system/cpu/cpu0/topology' && "
             "echo 0 > '%s/devices/system/node/node0/cpulist'", dir, dir, dir);
    tu_run_result r;
    assert_int_equal(tu_sh(&r, cmd), 0);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    ctx = ctx_for_root(dir, NULL);
    assert_int_equal(gp_host_get(ctx, &h), GP_ERR_IO);
    gp_ctx_free(ctx);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ve_topology),
        cmocka_unit_test(test_ve_gpus),
        cmocka_unit_test(test_ve_nic_facts),
        cmocka_unit_test(test_pcidomain32),
        cmocka_unit_test(test_missing_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
