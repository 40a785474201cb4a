/*
 * test_host.c - the host model: the embedded dual-socket 8-GPU server,
 * lookups, ordering (gp_host_finish), lifetimes, and the live machine.
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

static gp_ctx *embedded_ctx(const char *classes)
{
    return gt_ctx_new(&(gt_ctx_spec){ .topology = GP_TOPOLOGY_EMBEDDED, .driver = "sim",
                                      .classes = classes });
}

static void test_embedded(void **state)
{
    (void)state;
    gp_ctx *ctx = embedded_ctx(NULL);
    const gp_host *h;
    assert_int_equal(gp_host_get(ctx, &h), GP_OK);
    assert_string_equal(h->topology_source, "embedded");
    assert_string_equal(h->pci_source, "embedded");

    assert_int_equal(h->n_nodes, 2);
    assert_int_equal(h->n_cpus, 96);
    for (int n = 0; n < 2; n++) {
        const gp_numa_node *nd = gp_host_find_node(h, n);
        assert_non_null(nd);
        assert_int_equal(nd->id, n);
        assert_int_equal(nd->socket, n);
        assert_int_equal(gp_host_node_socket(h, n), n);
        assert_int_equal(nd->mem_total_bytes, 512ull << 30);
        assert_int_equal(nd->mem_free_bytes, 512ull << 30);
        assert_int_equal(nd->n_cpus, 48);
        /* Intel numbering: node 0 = 0-23,48-71; node 1 = 24-47,72-95. */
        for (int i = 0; i < 24; i++) {
            assert_int_equal(nd->cpus[i], n * 24 + i);
            assert_int_equal(nd->cpus[24 + i], 48 + n * 24 + i);
        }
        assert_int_equal(nd->distances[n], 10);
        assert_int_equal(nd->distances[1 - n], 21);
    }
    assert_int_equal(gp_host_node_socket(h, 7), -1);

    /* 48 cores of two threads each: cpu i and i+48 share a core. */
    for (size_t i = 0; i < 96; i++) {
        const gp_pcpu *c = &h->cpus[i];
        assert_int_equal(c->id, (int)i);
        assert_int_equal(c->socket, (int)((i % 48) / 24));
        assert_int_equal(c->node, c->socket);
        assert_int_equal(c->core, h->cpus[i % 48].core);
        for (size_t j = 0; j < 48; j++)
            if (j != i % 48)
                assert_int_not_equal(h->cpus[j].core, c->core);
    }

    static const char *const ids[] = { "0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0",
                                       "0000:5d:00.0", "0000:9a:00.0", "0000:ab:00.0",
                                       "0000:ba:00.0", "0000:db:00.0" };
    assert_int_equal(h->n_gpus, 8);
    int per_node[2] = { 0, 0 };
    for (size_t i = 0; i < 8; i++) {
        const gp_gpu *g = &h->gpus[i];
        assert_string_equal(g->pci_id, ids[i]);
        assert_int_equal(g->class_code, 0x0302);
        assert_int_equal(g->vendor_id, 0x10de);
        assert_int_equal(g->device_id, 0x2331);
        assert_int_equal(g->subsys_vendor_id, 0x10de);
        assert_int_equal(g->subsys_device_id, 0x1626);
        assert_string_equal(g->vendor_name, "NVIDIA Corporation");
        assert_string_equal(g->device_name, "GH100 [H100 PCIe]");
        assert_int_equal(g->numa_node, i < 4 ? 0 : 1);
        assert_int_equal(g->boot_vga, GP_NO);
        assert_int_equal(g->n_companions, 0);
        per_node[g->numa_node]++;
    }
    assert_int_equal(per_node[0], 4);
    assert_int_equal(per_node[1], 4);
    /* The NICs are functions, not GPUs. */
    assert_null(gp_host_find_gpu(h, "0000:4b:00.0"));
    int nics = 0, bridges = 0;
    for (size_t i = 0; i < h->n_functions; i++) {
        if (h->functions[i].class_code == 0x0200)
            nics++;
        if (h->functions[i].header_type == 1)
            bridges++;
    }
    assert_int_equal(nics, 4);
    assert_int_equal(bridges, 10);
    gp_ctx_free(ctx);

    /* Class filter with the vendor: AMD only, none here. */
    ctx = embedded_ctx("0302:1002");
    assert_int_equal(gp_host_get(ctx, &h), GP_OK);
    assert_int_equal(h->n_gpus, 0);
    gp_ctx_free(ctx);
}

static void test_find_gpu_spellings(void **state)
{
    (void)state;
    gp_ctx *ctx = embedded_ctx(NULL);
    const gp_host *h;
    assert_int_equal(gp_host_get(ctx, &h), GP_OK);
    const gp_gpu *g = gp_host_find_gpu(h, "0000:ab:00.0");
    assert_non_null(g);
    assert_ptr_equal(gp_host_find_gpu(h, "ab:00.0"), g);
    assert_ptr_equal(gp_host_find_gpu(h, "0000:AB:00.0"), g);
    assert_ptr_equal(gp_host_find_gpu(h, "0:ab:0.0"), g);
    assert_null(gp_host_find_gpu(h, "0000:ab:00.1"));
    assert_null(gp_host_find_gpu(h, "0001:ab:00.0"));
    assert_null(gp_host_find_gpu(h, "not-a-pci-id"));
    assert_null(gp_host_find_gpu(h, NULL));
    assert_null(gp_host_find_gpu(NULL, "ab:00.0"));
    assert_null(gp_host_find_node(NULL, 0));
    gp_ctx_free(ctx);
}

/* gp_host_finish: everything ascending, distances follow their nodes,
 * node sockets from their CPUs. */
static void test_finish_ordering(void **state)
{
    (void)state;
    gp_host h;
    gp_host_init(&h);
    assert_int_equal(h.passthrough, GP_UNKNOWN);
    h.n_nodes = 2;
    h.nodes = calloc(2, sizeof(*h.nodes));
    h.nodes[0].id = 3;
    h.nodes[0].socket = -1;
    h.nodes[0].n_cpus = 2;
    h.nodes[0].cpus = malloc(2 * sizeof(int));
    h.nodes[0].cpus[0] = 9;
    h.nodes[0].cpus[1] = 1;
    h.nodes[0].distances = malloc(2 * sizeof(int));
    h.nodes[0].distances[0] = 10;  /* to node 3 */
    h.nodes[0].distances[1] = 31;  /* to node 1 */
    h.nodes[1].id = 1;
    h.nodes[1].socket = -1;
    h.nodes[1].n_cpus = 2;
    h.nodes[1].cpus = malloc(2 * sizeof(int));
    h.nodes[1].cpus[0] = 0;
    h.nodes[1].cpus[1] = 5;
    h.nodes[1].distances = malloc(2 * sizeof(int));
    h.nodes[1].distances[0] = 31;
    h.nodes[1].distances[1] = 10;
    h.n_cpus = 4;
    h.cpus = calloc(4, sizeof(*h.cpus));
    int ids[] = { 9, 5, 1, 0 }, sockets[] = { 1, 0, 1, 7 };
    for (int i = 0; i < 4; i++) {
        h.cpus[i].id = ids[i];
        h.cpus[i].socket = sockets[i];
        h.cpus[i].core = ids[i];
        h.cpus[i].node = -1;
    }
    h.n_gpus = 2;
    h.gpus = calloc(2, sizeof(*h.gpus));
    gp_gpu_init(&h.gpus[0]);
    gp_gpu_init(&h.gpus[1]);
    assert_int_equal(gp_pci_addr_parse("10000:00:01.0", &h.gpus[0].addr, NULL), GP_OK);
    gp_pci_addr_format(&h.gpus[0].addr, h.gpus[0].pci_id);
    assert_int_equal(gp_pci_addr_parse("0000:ff:00.0", &h.gpus[1].addr, NULL), GP_OK);
    gp_pci_addr_format(&h.gpus[1].addr, h.gpus[1].pci_id);
    h.gpus[0].vendor_name = strdup("x");

    gp_host_finish(&h);
    assert_int_equal(h.nodes[0].id, 1);
    assert_int_equal(h.nodes[1].id, 3);
    assert_int_equal(h.nodes[0].distances[0], 10);
    assert_int_equal(h.nodes[0].distances[1], 31);
    assert_int_equal(h.nodes[1].distances[0], 31);
    assert_int_equal(h.nodes[1].distances[1], 10);
    assert_int_equal(h.nodes[1].cpus[0], 1);
    assert_int_equal(h.nodes[1].cpus[1], 9);
    assert_int_equal(h.nodes[1].socket, 1);   /* cpus 1 and 9: socket 1 */
    assert_int_equal(h.nodes[0].socket, -1);  /* cpus 0 (7) and 5 (0): no single socket */
    for (int i = 0; i < 4; i++)
        assert_true(i == 0 || h.cpus[i - 1].id < h.cpus[i].id);
    assert_int_equal(h.cpus[0].node, 1);
    assert_int_equal(h.cpus[3].node, 3);
    assert_string_equal(h.gpus[0].pci_id, "0000:ff:00.0");
    assert_string_equal(h.gpus[1].pci_id, "10000:00:01.0");
    gp_host_dispose(&h);
    assert_null(h.nodes);
    gp_host_dispose(&h);  /* twice is fine */
}

/* The machine the tests run on: sysfs topology, libpci over /sys. */
static void test_live(void **state)
{
    (void)state;
    if (access("/sys/devices/system/cpu", R_OK) || access("/sys/bus/pci/devices", R_OK)) {
        fprintf(stderr, "skipped: /sys/devices/system/cpu or /sys/bus/pci/devices unreadable\n");
        skip();
    }
    char *dir = tu_scratch_dir("host-live");
    char db[4096];
    snprintf(db, sizeof(db), "%s/state.db", dir);
    gp_ctx *ctx = gt_ctx_new(&(gt_ctx_spec){ .driver = "sim", .db = db });
    const gp_host *h;
    int rc = gp_host_get(ctx, &h);
    assert_int_equal(rc, GP_OK);
    assert_true(h->n_cpus > 0);
    assert_true(h->n_nodes > 0);
    assert_string_equal(h->pci_source, "libpci");
    assert_string_equal(h->topology_source, "sysfs:/sys");
    gp_ctx_free(ctx);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded),
        cmocka_unit_test(test_find_gpu_spellings),
        cmocka_unit_test(test_finish_ordering),
        cmocka_unit_test(test_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
