/*
 * test_hwloc.c - topology and PCI devices from hwloc XML: the real fixtures
 * (HP SL390s, Supermicro X9DRG), crafted files for the edge cases (bitmaps
 * of several words, multi-node locality, hwloc 1 distances, bad input), and
 * an hwloc file combined with a libpci source.
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

static bool have_pci_ids(void)
{
    return access("/usr/share/misc/pci.ids", R_OK) == 0;
}

/* Host of an hwloc file through a context (no PCI source). */
static gp_ctx *ctx_for(const char *topology, const char *classes, const char *pci_dump)
{
    return gt_ctx_new(&(gt_ctx_spec){ .topology = topology, .driver = "sim",
                                      .pci_dump = pci_dump, .classes = classes });
}

static const char *need(const char *rel)
{
    const char *p = tu_fixture(rel);
    return p ? strdup(p) : NULL;
}

static void assert_cpus(const gp_numa_node *n, const int *want, size_t n_want)
{
    assert_int_equal(n->n_cpus, n_want);
    for (size_t i = 0; i < n_want; i++)
        assert_int_equal(n->cpus[i], want[i]);
}

/* ---- 24em64t-2n6c2t-pci.xml ------------------------------------------------ */

static void test_24em64t(void **state)
{
    (void)state;
    char *path = (char *)need("hwloc/24em64t-2n6c2t-pci.xml");
    if (!path)
        gt_skip_fixture("hwloc/24em64t-2n6c2t-pci.xml");
    gp_ctx *ctx = ctx_for(path, NULL, NULL);
    const gp_host *h;
    assert_int_equal(gp_host_get(ctx, &h), GP_OK);

    /* Nodes: interleaved PUs, node 0 = even, node 1 = odd. */
    assert_int_equal(h->n_nodes, 2);
    int even[12], odd[12];
    for (int i = 0; i < 12; i++) {
        even[i] = 2 * i;
        odd[i] = 2 * i + 1;
    }
    assert_int_equal(h->nodes[0].id, 0);
    assert_cpus(&h->nodes[0], even, 12);
    assert_int_equal(h->nodes[1].id, 1);
    assert_cpus(&h->nodes[1], odd, 12);
    assert_int_equal(h->nodes[0].mem_total_bytes, 19316633600ull);
    assert_int_equal(h->nodes[1].mem_total_bytes, 19327348736ull);
    assert_int_equal(h->nodes[0].mem_free_bytes, h->nodes[0].mem_total_bytes);
    assert_int_equal(h->nodes[0].socket, 0);
    assert_int_equal(h->nodes[1].socket, 1);
    assert_int_equal(gp_host_node_socket(h, 1), 1);
    assert_non_null(h->nodes[0].distances);
    assert_int_equal(h->nodes[0].distances[0], 10);
    assert_int_equal(h->nodes[0].distances[1], 20);
    assert_int_equal(h->nodes[1].distances[0], 20);

    /* pCPUs: 24, ascending, PU 0 and PU 12 are the two threads of one core. */
    assert_int_equal(h->n_cpus, 24);
    for (size_t i = 0; i < h->n_cpus; i++) {
        assert_int_equal(h->cpus[i].id, (int)i);
        assert_int_equal(h->cpus[i].node, (int)(i % 2));
        assert_int_equal(h->cpus[i].socket, (int)(i % 2));
        assert_true(h->cpus[i].core >= 0);
    }
    assert_int_equal(h->cpus[0].core, h->cpus[12].core);
    assert_int_not_equal(h->cpus[0].core, h->cpus[2].core);
    /* Core os_index 0 exists in both packages: ids must still differ. */
    assert_int_not_equal(h->cpus[0].core, h->cpus[1].core);

    /* GPUs: the three Teslas and the ES1000 console VGA. */
    assert_int_equal(h->n_gpus, 4);
    assert_string_equal(h->gpus[0].pci_id, "0000:01:03.0");
    assert_string_equal(h->gpus[1].pci_id, "0000:06:00.0");
    assert_string_equal(h->gpus[2].pci_id, "0000:11:00.0");
    assert_string_equal(h->gpus[3].pci_id, "0000:14:00.0");

    const gp_gpu *es = &h->gpus[0];
    assert_int_equal(es->class_code, 0x0300);
    assert_int_equal(es->vendor_id, 0x1002);
    assert_int_equal(es->device_id, 0x515e);
    assert_int_equal(es->numa_node, 0);
    assert_string_equal(es->device_name, "ES1000");
    assert_int_equal(es->boot_vga, GP_UNKNOWN);  /* hwloc does not say */

    const gp_gpu *t = gp_host_find_gpu(h, "06:00.0");
    assert_ptr_equal(t, &h->gpus[1]);
    assert_int_equal(t->class_code, 0x0302);
    assert_int_equal(t->vendor_id, 0x10de);
    assert_int_equal(t->device_id, 0x06d2);
    assert_int_equal(t->subsys_vendor_id, 0x00de);
    assert_int_equal(t->subsys_device_id, 0x0030);
    assert_int_equal(t->revision, 0xa3);
    assert_int_equal(t->prog_if, 0);
    assert_int_equal(t->numa_node, 0);
    assert_string_equal(t->vendor_name, "nVidia Corporation");  /* the file's name */
    if (have_pci_ids())
        assert_non_null(t->device_name);  /* not in the file: pci.ids */
    assert_string_equal(t->source, "hwloc");
    /* hwloc carries none of these: unknown, not guessed. */
    assert_int_equal(t->iommu_group, -1);
    assert_null(t->driver);
    assert_int_equal(t->flr, GP_UNKNOWN);
    assert_int_equal(t->sriov_totalvfs, -1);
    assert_true(t->link_cap.speed_gts == 0 && t->link_cap.width == 0);
    assert_int_equal(t->link_downgraded, GP_UNKNOWN);
    assert_int_equal(t->boot_vga, GP_NO);  /* a 3D controller is never the boot VGA */
    assert_int_equal(t->n_companions, 0);

    assert_int_equal(gp_host_find_gpu(h, "0000:11:00.0")->numa_node, 1);
    assert_int_equal(gp_host_find_gpu(h, "0000:14:00.0")->numa_node, 1);

    /* Functions: bridges (header type 1) and the NICs are there too. */
    bool saw_bridge = false, saw_nic = false;
    for (size_t i = 0; i < h->n_functions; i++) {
        if (!strcmp(h->functions[i].pci_id, "0000:00:07.0")) {
            saw_bridge = true;
            assert_int_equal(h->functions[i].header_type, 1);
            assert_int_equal(h->functions[i].class_code, 0x0604);
        }
        if (!strcmp(h->functions[i].pci_id, "0000:04:00.1")) {
            saw_nic = true;
            assert_int_equal(h->functions[i].class_code, 0x0200);
            assert_int_equal(h->functions[i].header_type, 0);
        }
    }
    assert_true(saw_bridge && saw_nic);
    assert_string_equal(h->pci_source + strlen(h->pci_source) - 4, ".xml");
    assert_int_equal(strncmp(h->topology_source, "hwloc:", 6), 0);

    /* Cached: the same host again. */
    const gp_host *h2;
    assert_int_equal(gp_host_get(ctx, &h2), GP_OK);
    assert_ptr_equal(h, h2);
    gp_ctx_free(ctx);
    free(path);
}

/* ---- 32em64t-2n8c2t-pci-normalio.xml -------------------------------------- */

static void test_32em64t(void **state)
{
    (void)state;
    char *path = (char *)need("hwloc/32em64t-2n8c2t-pci-normalio.xml");
    if (!path)
        gt_skip_fixture("hwloc/32em64t-2n8c2t-pci-normalio.xml");
    gp_ctx *ctx = ctx_for(path, NULL, NULL);
    const gp_host *h;
    assert_int_equal(gp_host_get(ctx, &h), GP_OK);
    assert_int_equal(h->n_nodes, 2);
    assert_int_equal(h->n_cpus, 32);
    /* node 0 = PUs 0-7,16-23 (cpuset 0x00ff00ff). */
    int n0[16];
    for (int i = 0; i < 8; i++) {
        n0[i] = i;
        n0[8 + i] = 16 + i;
    }
    assert_cpus(&h->nodes[0], n0, 16);

    /* Default classes: 3 Teslas, the Radeon, and the MGA BMC VGA. */
    assert_int_equal(h->n_gpus, 5);
    int nv = 0;
    for (size_t i = 0; i < h->n_gpus; i++) {
        const gp_gpu *g = &h->gpus[i];
        if (g->vendor_id == 0x10de) {
            nv++;
            assert_int_equal(g->device_id, 0x1094);
            assert_int_equal(g->class_code, 0x0302);
        }
        /* pci_link_speed="0.000000": the link is unknown. */
        assert_true(g->link_cap.speed_gts == 0);
        assert_true(g->link_sta.speed_gts == 0);
    }
    assert_int_equal(nv, 3);
    assert_int_equal(gp_host_find_gpu(h, "0000:03:00.0")->numa_node, 0);
    assert_int_equal(gp_host_find_gpu(h, "0000:83:00.0")->numa_node, 1);
    const gp_gpu *amd = gp_host_find_gpu(h, "0000:84:00.1");
    assert_non_null(amd);
    assert_int_equal(amd->vendor_id, 0x1002);
    assert_int_equal(amd->device_id, 0x6798);
    assert_int_equal(amd->class_code, 0x0300);
    assert_int_equal(amd->numa_node, 1);
    /* 84:00.0 and 84:00.1 share a slot: each travels with the other. */
    const gp_gpu *k40 = gp_host_find_gpu(h, "0000:84:00.0");
    assert_int_equal(k40->n_companions, 1);
    assert_string_equal(k40->companions[0].pci_id, "0000:84:00.1");
    assert_int_equal(k40->companions[0].class_code, 0x0300);
    assert_null(k40->companions[0].driver);

    /* The file lists 0000:04:00.0 twice; the model holds it once. */
    int seen = 0;
    for (size_t i = 0; i < h->n_functions; i++)
        if (!strcmp(h->functions[i].pci_id, "0000:04:00.0"))
            seen++;
    assert_int_equal(seen, 1);
    gp_ctx_free(ctx);

    /* Class filter: only 3D controllers. */
    ctx = ctx_for(path, "0302", NULL);
    assert_int_equal(gp_host_get(ctx, &h), GP_OK);
    assert_int_equal(h->n_gpus, 3);
    gp_ctx_free(ctx);
    free(path);
}

/* ---- crafted files ----------------------------------------------------------- */

/* Two nodes whose PUs sit past bit 31 (two-word bitmaps), a GPU under the
 * Machine (both nodes: unknown locality), one under a Group of node 1, and
 * hwloc 1 style <distances>. */
static const char crafted_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<topology>\n"
    " <object type=\"Machine\" os_index=\"0\" cpuset=\"0x0000000f,0x00000000\" nodeset=\"0x00000006\">\n"
    "  <object type=\"NUMANode\" os_index=\"1\" cpuset=\"0x00000003,0x0\" nodeset=\"0x00000002\" local_memory=\"1073741824\">\n"
    "   <object type=\"Socket\" os_index=\"3\" cpuset=\"0x00000003,0x0\">\n"
    "    <object type=\"Core\" os_index=\"7\" cpuset=\"0x00000003,0x0\">\n"
    "     <object type=\"PU\" os_index=\"32\" cpuset=\"0x00000001,0x0\"/>\n"
    "     <object type=\"PU\" os_index=\"33\" cpuset=\"0x00000002,0x0\"/>\n"
    "    </object>\n"
    "   </object>\n"
    "   <object type=\"Bridge\" bridge_type=\"0-1\" depth=\"0\" bridge_pci=\"0000:[40-41]\">\n"
    "    <object type=\"Bridge\" bridge_type=\"1-1\" pci_busid=\"0000:40:01.0\" pci_type=\"0604 [8086:1234] [0000:0000] 01 00\">\n"
    "     <object type=\"PCIDev\" pci_busid=\"0000:41:00.0\" pci_type=\"0300 [10de:1db6] [10de:124a] a1 00\">\n"
    "      <info name=\"PCIVendor\" value=\"V\"/><info name=\"PCIDevice\" value=\"D\"/>\n"
    "     </object>\n"
    "     <object type=\"PCIDev\" pci_busid=\"0000:41:00.1\" pci_type=\"0403 [10de:10f2] [10de:124a] a1 00\"/>\n"
    "    </object>\n"
    "   </object>\n"
    "  </object>\n"
    "  <object type=\"NUMANode\" os_index=\"2\" cpuset=\"0x0000000c,0x0\" nodeset=\"0x00000004\" local_memory=\"2147483648\">\n"
    "   <object type=\"Socket\" os_index=\"4\" cpuset=\"0x0000000c,0x0\">\n"
    "    <object type=\"Core\" os_index=\"7\" cpuset=\"0x0000000c,0x0\">\n"
    "     <object type=\"PU\" os_index=\"34\" cpuset=\"0x00000004,0x0\"/>\n"
    "     <object type=\"PU\" os_index=\"35\" cpuset=\"0x00000008,0x0\"/>\n"
    "    </object>\n"
    "   </object>\n"
    "  </object>\n"
    "  <object type=\"PCIDev\" pci_busid=\"0000:80:00.0\" pci_type=\"0302 [10de:20b0] [10de:1450] a1 00\">\n"
    "   <info name=\"PCIVendor\" value=\"V\"/><info name=\"PCIDevice\" value=\"D2\"/>\n"
    "  </object>\n"
    " </object>\n"
    " <distances nbobjs=\"2\" relative_depth=\"1\" latency_base=\"10.000000\">\n"
    "  <latency value=\"1.000000\"/><latency value=\"3.200000\"/>\n"
    "  <latency value=\"3.200000\"/><latency value=\"1.000000\"/>\n"
    " </distances>\n"
    "</topology>\n";

static void test_crafted(void **state)
{
    (void)state;
    char *path = gt_write_scratch("hwloc-crafted", "crafted.xml", crafted_xml);
    gp_ctx *ctx = ctx_for(path, NULL, NULL);
    const gp_host *h;
    assert_int_equal(gp_host_get(ctx, &h), GP_OK);

    assert_int_equal(h->n_nodes, 2);
    assert_int_equal(h->nodes[0].id, 1);
    assert_int_equal(h->nodes[1].id, 2);
    int n1[] = { 32, 33 }, n2[] = { 34, 35 };
    assert_cpus(&h->nodes[0], n1, 2);
    assert_cpus(&h->nodes[1], n2, 2);
    assert_int_equal(h->nodes[0].socket, 3);
    assert_int_equal(h->nodes[1].socket, 4);
    assert_null(gp_host_find_node(h, 0));
    assert_ptr_equal(gp_host_find_node(h, 2), &h->nodes[1]);
    assert_int_equal(gp_host_node_socket(h, 0), -1);
    assert_int_equal(h->nodes[0].distances[1], 32);
    assert_int_equal(h->nodes[1].distances[1], 10);
    /* Same Core os_index in two sockets: different host-wide cores. */
    assert_int_equal(h->cpus[0].core, h->cpus[1].core);
    assert_int_not_equal(h->cpus[0].core, h->cpus[2].core);

    assert_int_equal(h->n_gpus, 2);
    const gp_gpu *g = gp_host_find_gpu(h, "0000:41:00.0");
    assert_non_null(g);
    assert_int_equal(g->numa_node, 1);
    assert_int_equal(g->n_companions, 1);
    assert_string_equal(g->companions[0].pci_id, "0000:41:00.1");
    assert_int_equal(g->companions[0].class_code, 0x0403);
    assert_string_equal(g->device_name, "D");
    /* Under the Machine: two nodes, so unknown, never guessed. */
    g = gp_host_find_gpu(h, "0000:80:00.0");
    assert_non_null(g);
    assert_int_equal(g->numa_node, -1);
    gp_ctx_free(ctx);
    free(path);
}

static void test_bad_input(void **state)
{
    (void)state;
    gp_ctx *ctx = ctx_for("tests/tmp/no-such-topology.xml", NULL, NULL);
    const gp_host *h = (const gp_host *)1;
    assert_int_equal(gp_host_get(ctx, &h), GP_ERR_IO);
    assert_null(h);
    assert_int_equal(gp_ctx_last_error(ctx)->code, GP_ERR_IO);
    assert_non_null(strstr(gp_ctx_last_error(ctx)->message, "no-such-topology.xml"));
    gp_ctx_free(ctx);

    char *path = gt_write_scratch("hwloc-bad", "garbage.xml", "<topology><object type=\"PU\"");
    ctx = ctx_for(path, NULL, NULL);
    assert_int_equal(gp_host_get(ctx, &h), GP_ERR_TOPOLOGY);
    gp_ctx_free(ctx);
    free(path);

    path = gt_write_scratch("hwloc-bad", "other.xml", "<?xml version=\"1.0\"?><html/>\n");
    ctx = ctx_for(path, NULL, NULL);
    assert_int_equal(gp_host_get(ctx, &h), GP_ERR_TOPOLOGY);
    assert_non_null(strstr(gp_ctx_last_error(ctx)->message, "not an hwloc topology"));
    gp_ctx_free(ctx);
    free(path);

    path = gt_write_scratch("hwloc-bad", "nopu.xml",
                            "<topology><object type=\"Machine\"/></topology>\n");
    ctx = ctx_for(path, NULL, NULL);
    assert_int_equal(gp_host_get(ctx, &h), GP_ERR_TOPOLOGY);
    gp_ctx_free(ctx);
    free(path);
}

/* hwloc file + libpci dump: GPUs from the dump, locality from hwloc. */
static void test_hwloc_with_dump(void **state)
{
    (void)state;
    char *xml = (char *)need("hwloc/24em64t-2n6c2t-pci.xml");
    char *dump = (char *)need("lspci/tree-asus-p6t6");
    if (!xml || !dump) {
        const char *absent = !xml ? "hwloc/24em64t-2n6c2t-pci.xml" : "lspci/tree-asus-p6t6";
        free(xml);
        free(dump);
        gt_skip_fixture(absent);
    }
    gp_ctx *ctx = ctx_for(xml, NULL, dump);
    const gp_host *h;
    assert_int_equal(gp_host_get(ctx, &h), GP_OK);
    assert_int_equal(strncmp(h->pci_source, "dump:", 5), 0);
    assert_int_equal(strncmp(h->topology_source, "hwloc:", 6), 0);
    assert_int_equal(h->n_nodes, 2);
    /* The dump's GT218 sits at 06:00.0, where the hwloc file has a GPU on
     * node 0; the dump knows no NUMA node, hwloc fills it. */
    const gp_gpu *g = gp_host_find_gpu(h, "0000:06:00.0");
    assert_non_null(g);
    assert_int_equal(g->device_id, 0x0a65);
    assert_string_equal(g->source, "dump");
    assert_int_equal(g->numa_node, 0);
    /* Functions come from the dump, not from the hwloc file. */
    for (size_t i = 0; i < h->n_functions; i++)
        assert_string_not_equal(h->functions[i].pci_id, "0000:14:00.0");
    gp_ctx_free(ctx);
    free(xml);
    free(dump);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_24em64t),
        cmocka_unit_test(test_32em64t),
        cmocka_unit_test(test_crafted),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_hwloc_with_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
