/*
 * test_pci.c - libpci discovery from an lspci -xxxx dump (pciutils'
 * tree-asus-p6t6), the libpci error trap, pci-id parsing and link state.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpupool.h"
#include "ops/ops.h"
#include "rpc/rpc.h"
#include "gptest.h"

static int discover_dump(const char *dump, const char *classes, gp_host *h, gp_error_info *err)
{
    gp_config cfg;
    gp_config_init(&cfg);
    cfg.pci_dump = strdup(dump);
    if (classes)
        assert_int_equal(gp_config_set_classes(&cfg, classes, NULL), GP_OK);
    int rc = gp_pci_discover(&cfg, h, err);
    if (!rc)
        gp_host_finish(h);
    gp_config_dispose(&cfg);
    return rc;
}

static void test_dump_gt218(void **state)
{
    (void)state;
    const char *p = tu_fixture("lspci/tree-asus-p6t6");
    if (!p)
        gt_skip_fixture("lspci/tree-asus-p6t6");
    char *dump = strdup(p);
    gp_host h;
    gp_error_info err;
    gp_host_init(&h);
    gp_error_info_init(&err);
    assert_int_equal(discover_dump(dump, NULL, &h, &err), GP_OK);

    assert_int_equal(h.n_gpus, 1);
    const gp_gpu *g = &h.gpus[0];
    assert_string_equal(g->pci_id, "0000:06:00.0");
    assert_int_equal(g->vendor_id, 0x10de);
    assert_int_equal(g->device_id, 0x0a65);
    assert_int_equal(g->subsys_vendor_id, 0x3842);
    assert_int_equal(g->subsys_device_id, 0x1312);
    assert_int_equal(g->class_code, 0x0300);
    assert_int_equal(g->prog_if, 0x00);
    assert_int_equal(g->revision, 0xa2);
    assert_string_equal(g->source, "dump");
    if (access("/usr/share/misc/pci.ids", R_OK) == 0) {
        assert_string_equal(g->vendor_name, "NVIDIA Corporation");
        assert_string_equal(g->device_name, "GT218 [GeForce 210]");
    }
    /* The HDMI audio function of the slot travels with it. */
    assert_int_equal(g->n_companions, 1);
    assert_string_equal(g->companions[0].pci_id, "0000:06:00.1");
    assert_int_equal(g->companions[0].class_code, 0x0403);
    assert_int_equal(g->companions[0].vendor_id, 0x10de);
    assert_null(g->companions[0].driver);  /* a dump knows no drivers */

    /* Express cap at 0x78: LnkCap 2.5GT/s x16, LnkSta 2.5GT/s x16,
     * DevCap FLReset-; no AF cap; extended caps (VC, power budgeting,
     * vendor) but no SR-IOV. */
    assert_true(g->link_cap.speed_gts == 2.5);
    assert_int_equal(g->link_cap.width, 16);
    assert_true(g->link_sta.speed_gts == 2.5);
    assert_int_equal(g->link_sta.width, 16);
    assert_int_equal(g->link_downgraded, GP_NO);
    assert_int_equal(g->flr, GP_NO);
    assert_int_equal(g->sriov_totalvfs, 0);

    /* What a dump cannot say stays unknown. */
    assert_int_equal(g->numa_node, -1);
    assert_int_equal(g->iommu_group, -1);
    assert_null(g->driver);
    assert_null(g->reset_method);
    assert_int_equal(g->boot_vga, GP_UNKNOWN);
    assert_int_equal(g->max_bar_bytes, 0);
    assert_int_equal(g->n_iommu_group_members, 0);

    /* Every function is listed; bridges have header type 1. */
    assert_true(h.n_functions > 40);
    bool bridge = false, audio = false;
    for (size_t i = 0; i < h.n_functions; i++) {
        if (!strcmp(h.functions[i].pci_id, "0000:00:07.0")) {
            bridge = true;
            assert_int_equal(h.functions[i].header_type, 1);
        }
        if (!strcmp(h.functions[i].pci_id, "0000:06:00.1")) {
            audio = true;
            assert_int_equal(h.functions[i].header_type, 0);
            assert_int_equal(h.functions[i].class_code, 0x0403);
        }
        if (i)
            assert_true(strcmp(h.functions[i - 1].pci_id, h.functions[i].pci_id) < 0);
    }
    assert_true(bridge && audio);
    assert_int_equal(strncmp(h.pci_source, "dump:", 5), 0);
    gp_host_dispose(&h);

    /* Class filter with a vendor: no Intel VGA here. */
    gp_host_init(&h);
    assert_int_equal(discover_dump(dump, "0300:8086", &h, &err), GP_OK);
    assert_int_equal(h.n_gpus, 0);
    gp_host_dispose(&h);
    gp_error_info_dispose(&err);
    free(dump);
}

/* libpci's fatal errors come back as PCI_ACCESS_ERROR, the process lives. */
static void test_dump_errors(void **state)
{
    (void)state;
    gp_host h;
    gp_error_info err;
    gp_host_init(&h);
    gp_error_info_init(&err);

    assert_int_equal(discover_dump("tests/tmp/no-such-dump", NULL, &h, &err), GP_ERR_IO);
    assert_int_equal(err.code, GP_ERR_IO);

    char *bad = gt_write_scratch("pci", "malformed", "00:01.0 VGA\n00: 86 80 zz\n");
    assert_int_equal(discover_dump(bad, NULL, &h, &err), GP_ERR_PCI);
    assert_non_null(strstr(err.message, "Malformed"));
    assert_int_equal(h.n_gpus, 0);
    free(bad);

    /* And a later scan still works (trap state reset). */
    char *one = gt_write_scratch("pci", "one",
        "00:02.0 VGA\n"
        "00: 34 12 11 11 07 00 10 00 02 00 00 03 00 00 00 00\n"
        "10: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n"
        "20: 00 00 00 00 00 00 00 00 00 00 00 00 f4 1a 00 11\n"
        "30: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n");
    assert_int_equal(discover_dump(one, NULL, &h, &err), GP_OK);
    assert_int_equal(h.n_gpus, 1);
    assert_string_equal(h.gpus[0].pci_id, "0000:00:02.0");
    assert_int_equal(h.gpus[0].vendor_id, 0x1234);
    assert_int_equal(h.gpus[0].device_id, 0x1111);
    /* 64 bytes of config space: no capability list, so unknown. */
    assert_int_equal(h.gpus[0].flr, GP_UNKNOWN);
    assert_int_equal(h.gpus[0].sriov_totalvfs, -1);
    assert_true(h.gpus[0].link_cap.speed_gts == 0);
    free(one);
    gp_host_dispose(&h);
    gp_error_info_dispose(&err);
}

static void test_addr_parse(void **state)
{
    (void)state;
    gp_pci_addr a;
    char buf[GP_PCI_ID_LEN];
    gp_error_info err;
    gp_error_info_init(&err);

    assert_int_equal(gp_pci_addr_parse("0000:41:00.0", &a, NULL), GP_OK);
    assert_int_equal(a.domain, 0);
    assert_int_equal(a.bus, 0x41);
    assert_string_equal(gp_pci_addr_format(&a, buf), "0000:41:00.0");
    assert_int_equal(gp_pci_addr_parse("41:00.0", &a, NULL), GP_OK);
    assert_string_equal(gp_pci_addr_format(&a, buf), "0000:41:00.0");
    assert_int_equal(gp_pci_addr_parse("0000:AB:1F.7", &a, NULL), GP_OK);
    assert_string_equal(gp_pci_addr_format(&a, buf), "0000:ab:1f.7");
    assert_int_equal(gp_pci_addr_parse("ffffffff:ff:1f.7", &a, NULL), GP_OK);
    assert_int_equal(a.domain, 0xffffffffu);
    assert_string_equal(gp_pci_addr_format(&a, buf), "ffffffff:ff:1f.7");
    assert_int_equal(gp_pci_addr_parse("10000:00:04.0", &a, NULL), GP_OK);
    assert_string_equal(gp_pci_addr_format(&a, buf), "10000:00:04.0");

    static const char *const bad[] = {
        "", "0000:41:00", "0000:41:20.0", "0000:41:00.8", "100000000:00:00.0",
        "0000:041:00.0", "0000:41:00.0 ", "g0:00.0", "0000-41-00.0", ":41:00.0",
        "0000::00.0", "41.00.0",
    };
    for (size_t i = 0; i < GP_ARRAY_SIZE(bad); i++) {
        assert_int_equal(gp_pci_addr_parse(bad[i], &a, &err), GP_ERR_PCI_ID_INVALID);
        assert_int_equal(err.code, GP_ERR_PCI_ID_INVALID);
    }
    assert_int_equal(gp_pci_addr_parse(NULL, &a, NULL), GP_ERR_PCI_ID_INVALID);
    gp_error_info_dispose(&err);
}

static void test_link_state(void **state)
{
    (void)state;
    gp_gpu g;
    gp_gpu_init(&g);
    assert_int_equal(g.numa_node, -1);
    assert_int_equal(g.iommu_group, -1);
    assert_int_equal(g.sriov_totalvfs, -1);
    assert_int_equal(g.flr, GP_UNKNOWN);
    assert_int_equal(g.boot_vga, GP_UNKNOWN);
    gp_gpu_update_link_state(&g);
    assert_int_equal(g.link_downgraded, GP_UNKNOWN);

    g.link_cap = (gp_pcie_link){ 16.0, 16 };
    g.link_sta = (gp_pcie_link){ 16.0, 16 };
    gp_gpu_update_link_state(&g);
    assert_int_equal(g.link_downgraded, GP_NO);
    g.link_sta.width = 8;
    gp_gpu_update_link_state(&g);
    assert_int_equal(g.link_downgraded, GP_YES);
    g.link_sta = (gp_pcie_link){ 2.5, 16 };
    gp_gpu_update_link_state(&g);
    assert_int_equal(g.link_downgraded, GP_YES);
    g.link_sta = (gp_pcie_link){ 0, 16 };  /* speed unknown */
    gp_gpu_update_link_state(&g);
    assert_int_equal(g.link_downgraded, GP_UNKNOWN);
    gp_gpu_dispose(&g);
    gp_gpu_dispose(&g);  /* twice is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_gt218),
        cmocka_unit_test(test_dump_errors),
        cmocka_unit_test(test_addr_parse),
        cmocka_unit_test(test_link_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
