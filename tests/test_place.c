/*
 * test_place.c - gp_place(): policies, tie-breaks, overcommit, memory,
 * cpupools, interleaved CPU numbering, spreading over cores, forced GPUs,
 * purity.  Hosts are synthetic (tests/helpers/synthhost.h) except one that
 * loads the 24em64t hwloc fixture through gp_hwloc_load().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "rpc/rpc.h"
#include "synthhost.h"
#include "testutil.h"

#define GIB (1ULL << 30)

/* A synthetic host, its pool (every GPU unless told) and a request. */
typedef struct {
    synth_spec spec;
    gp_host host;
    char ids[64][GP_PCI_ID_LEN];
    const char *pool[64];
    gp_place_existing ex[64];
    size_t n_ex;
    gp_place_request req;
    gp_placement pl;
    gp_error_info err;
} fx;

static void fx_build(fx *f)
{
    assert_int_equal(synth_host_build(&f->spec, &f->host), 0);
    for (int i = 0; i < f->spec.n_gpus && i < 64; i++) {
        synth_gpu_pci_id(i, f->ids[i]);
        f->pool[i] = f->ids[i];
    }
    memset(&f->req, 0, sizeof(f->req));
    f->req.policy = GP_NUMA_REQUIRED;
    f->req.pin_mode = GP_PIN_HARD;
    f->req.cpu_overcommit = 1.0;
    f->req.pool_gpus = f->pool;
    f->req.n_pool_gpus = (size_t)f->spec.n_gpus;
    f->req.existing = f->ex;
    f->req.n_existing = 0;
    f->req.vm_vcpus = 4;
    f->req.vm_memory_mib = 8192;
    gp_placement_init(&f->pl);
    gp_error_info_init(&f->err);
}

/* fx_build() with n GPUs, GPU i on node gpu_nodes[i] (-1: locality unknown). */
static void fx_build_on(fx *f, const int *gpu_nodes, int n)
{
    f->spec.n_gpus = n;
    f->spec.gpu_nodes = gpu_nodes;
    fx_build(f);
}

/* 2 nodes x 4 cores x 2 threads, contiguous, GPU 0 on node 0, GPU 1 on node 1. */
static fx *fx_new(void)
{
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    synth_spec_init(&f->spec);
    return f;
}

static void fx_free(fx *f)
{
    gp_placement_dispose(&f->pl);
    gp_error_info_dispose(&f->err);
    synth_host_free(&f->host);
    free(f);
}

/* Record an existing assignment of vcpus on node (pcpus may be NULL). */
static void fx_existing(fx *f, const char *pci_id, int node, const int *pcpus, size_t n,
                        int vcpus, uint64_t mem_mib, bool in_free)
{
    gp_place_existing *e = &f->ex[f->n_ex++];
    memset(e, 0, sizeof(*e));
    e->pci_id = pci_id;
    e->node = node;
    e->pcpus = pcpus;
    e->n_pcpus = n;
    e->vcpus = vcpus;
    e->memory_mib = mem_mib;
    e->memory_node = node;
    e->memory_in_free = in_free;
    f->req.n_existing = f->n_ex;
}

static int fx_place(fx *f)
{
    gp_placement_dispose(&f->pl);
    return gp_place(&f->host, &f->req, &f->pl, &f->err);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, hay ? hay : "(null)");
}

static bool all_on_node(const gp_host *h, const gp_placement *p, int node)
{
    for (size_t i = 0; i < p->n_pcpus; i++)
        if (h->cpus[p->pcpus[i]].node != node)
            return false;
    return true;
}

/* ---- choice of node and GPU ---------------------------------------------- */

static void test_required_local_lowest_node(void **state)
{
    fx *f = fx_new();
    fx_build(f);
    assert_int_equal(fx_place(f), GP_OK);
    assert_string_equal(f->pl.pci_id, "0000:01:00.0");
    assert_int_equal(f->pl.node, 0);
    assert_int_equal(f->pl.memory_node, 0);
    assert_int_equal(f->pl.locality, GP_LOCALITY_LOCAL);
    assert_int_equal(f->pl.n_pcpus, 4);
    assert_true(all_on_node(&f->host, &f->pl, 0));
    assert_string_equal(f->pl.reason, "node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    assert_int_equal(f->err.code, GP_OK);
    fx_free(f);
}

static void test_fewest_pinned_wins(void **state)
{
    fx *f = fx_new();
    f->spec.n_gpus = 4;   /* 2 per node */
    fx_build(f);
    f->req.strategy = GP_PLACE_SPREAD;   /* asserts spread's order */
    static const int pc[] = { 0, 2 };
    fx_existing(f, "0000:01:00.0", 0, pc, 2, 2, 1024, true);
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 1);
    assert_string_equal(f->pl.pci_id, "0000:03:00.0");
    assert_string_equal(f->pl.reason, "node 1: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    fx_free(f);
}

static void test_most_free_memory_wins(void **state)
{
    fx *f = fx_new();
    fx_build(f);
    f->req.strategy = GP_PLACE_SPREAD;   /* asserts spread's order */
    f->host.nodes[0].mem_free_bytes = 10 * GIB;
    f->host.nodes[1].mem_free_bytes = 20 * GIB;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 1);
    assert_string_equal(f->pl.reason, "node 1: GPU local, 8 of 8 pCPUs free, 20 GiB free");
    /* Pinned vCPUs come before memory. */
    static const int pc[] = { 8 };
    fx_existing(f, "0000:99:00.0", 1, pc, 1, 1, 0, true);
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 0);
    fx_free(f);
}

static void test_lowest_pci_id_on_ties(void **state)
{
    fx *f = fx_new();
    static const int nodes[] = { 0, 0, 0 };
    fx_build_on(f, nodes, 3);
    /* Pool listed in reverse order and in other spellings. */
    f->pool[0] = "03:00.0";
    f->pool[1] = "0000:02:00.0";
    f->pool[2] = "0:01:0.0";
    assert_int_equal(fx_place(f), GP_OK);
    assert_string_equal(f->pl.pci_id, "0000:01:00.0");
    fx_existing(f, "0000:01:00.0", 0, NULL, 0, 0, 0, true);
    assert_int_equal(fx_place(f), GP_OK);
    assert_string_equal(f->pl.pci_id, "0000:02:00.0");
    fx_free(f);
}

static void test_required_refuses_remote(void **state)
{
    fx *f = fx_new();
    f->spec.cores_per_node = 12;   /* 24 pCPUs per node */
    static const int nodes[] = { 0 };
    fx_build_on(f, nodes, 1);
    fx_existing(f, "0000:77:00.0", 0, NULL, 0, 22, 1024, true);
    f->req.vm_vcpus = 8;
    assert_int_equal(fx_place(f), GP_ERR_NO_PLACEMENT);
    assert_int_equal(f->err.code, GP_ERR_NO_PLACEMENT);
    assert_contains(f->err.message, "node 0: 2 of 24 pCPUs free, need 8; node 1: no free GPU of the pool");
    assert_null(f->pl.reason);
    /* The same host under preferred goes remote. */
    f->req.policy = GP_NUMA_PREFERRED;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 1);
    assert_int_equal(f->pl.locality, GP_LOCALITY_REMOTE);
    assert_string_equal(f->pl.reason,
                        "node 1: GPU on node 0 (remote, distance 21), 24 of 24 pCPUs free, 64 GiB free");
    fx_free(f);
}

static void test_unknown_locality_by_policy(void **state)
{
    fx *f = fx_new();
    static const int nodes[] = { -1 };
    fx_build_on(f, nodes, 1);
    f->req.strategy = GP_PLACE_SPREAD;   /* asserts spread's order */
    assert_int_equal(fx_place(f), GP_ERR_NO_PLACEMENT);
    assert_contains(f->err.message, ": node 0: no free GPU of the pool; node 1: no free GPU of the pool");
    f->req.policy = GP_NUMA_SOCKET;
    assert_int_equal(fx_place(f), GP_ERR_NO_PLACEMENT);
    f->req.policy = GP_NUMA_LEGACY;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.locality, GP_LOCALITY_UNKNOWN);
    assert_int_equal(f->pl.node, 0);
    assert_string_equal(f->pl.reason, "node 0: GPU locality unknown, 8 of 8 pCPUs free, 64 GiB free");
    /* Any node: the less pinned one. */
    fx_existing(f, "0000:55:00.0", 0, NULL, 0, 2, 0, true);
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 1);
    f->req.policy = GP_NUMA_PREFERRED;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.locality, GP_LOCALITY_UNKNOWN);
    assert_int_equal(f->pl.node, 1);
    fx_free(f);
}

static void test_preferred_local_unknown_remote(void **state)
{
    fx *f = fx_new();
    /* GPU 0 on node 0, GPU 1 of unknown locality. */
    static const int nodes[] = { 0, -1 };
    fx_build_on(f, nodes, 2);
    f->req.policy = GP_NUMA_PREFERRED;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.locality, GP_LOCALITY_LOCAL);
    assert_string_equal(f->pl.pci_id, "0000:01:00.0");
    /* Node 0 full: the unknown-locality GPU beats the remote tier. */
    fx_existing(f, "0000:55:00.0", 0, NULL, 0, 8, 0, true);
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.locality, GP_LOCALITY_UNKNOWN);
    assert_string_equal(f->pl.pci_id, "0000:02:00.0");
    assert_int_equal(f->pl.node, 1);
    /* The unknown GPU taken: remote. */
    fx_existing(f, "0000:02:00.0", 1, NULL, 0, 1, 0, true);
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.locality, GP_LOCALITY_REMOTE);
    assert_string_equal(f->pl.pci_id, "0000:01:00.0");
    assert_int_equal(f->pl.node, 1);
    fx_free(f);
}

static void test_preferred_remote_nearest_first(void **state)
{
    fx *f = fx_new();
    /* 4 nodes, 2 per socket: distances 10 / 11 same socket / 21. */
    f->spec.n_nodes = 4;
    f->spec.nodes_per_socket = 2;
    static const int nodes[] = { 0 };
    fx_build_on(f, nodes, 1);
    f->req.strategy = GP_PLACE_SPREAD;   /* asserts spread's order */
    f->req.policy = GP_NUMA_PREFERRED;
    fx_existing(f, "0000:55:00.0", 0, NULL, 0, 8, 0, true);   /* node 0 full */
    fx_existing(f, "0000:56:00.0", 1, NULL, 0, 3, 0, true);   /* node 1 busier than 2, 3 */
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 1);
    assert_int_equal(f->pl.locality, GP_LOCALITY_REMOTE);
    assert_string_equal(f->pl.reason,
                        "node 1: GPU on node 0 (remote, distance 11), 5 of 8 pCPUs free, 64 GiB free");
    /* Node 1 cannot take 6 vCPUs: the next distance, then fewest pinned. */
    f->req.vm_vcpus = 6;
    fx_existing(f, "0000:57:00.0", 2, NULL, 0, 1, 0, true);
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 3);
    assert_contains(f->pl.reason, "(remote, distance 21)");
    /* Unknown distances: after known ones; the message says so. */
    for (size_t i = 0; i < f->host.n_nodes; i++) {
        free(f->host.nodes[i].distances);
        f->host.nodes[i].distances = NULL;
    }
    assert_int_equal(fx_place(f), GP_OK);
    assert_contains(f->pl.reason, "(remote, distance unknown)");
    assert_int_equal(f->pl.node, 3);
    fx_free(f);
}

static void test_socket_policy(void **state)
{
    fx *f = fx_new();
    f->spec.n_nodes = 4;
    f->spec.nodes_per_socket = 2;
    static const int nodes[] = { 0 };
    fx_build_on(f, nodes, 1);
    f->req.policy = GP_NUMA_SOCKET;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 0);
    assert_int_equal(f->pl.locality, GP_LOCALITY_LOCAL);
    fx_existing(f, "0000:55:00.0", 0, NULL, 0, 6, 0, true);
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 1);
    assert_int_equal(f->pl.locality, GP_LOCALITY_SOCKET);
    assert_string_equal(f->pl.reason,
                        "node 1: GPU on node 0 (same socket), 8 of 8 pCPUs free, 64 GiB free");
    /* Both nodes of socket 0 full: nodes 2 and 3 are not allowed. */
    fx_existing(f, "0000:56:00.0", 1, NULL, 0, 6, 0, true);
    assert_int_equal(fx_place(f), GP_ERR_NO_PLACEMENT);
    assert_contains(f->err.message, "node 0: 2 of 8 pCPUs free, need 4; node 1: 2 of 8 pCPUs free, "
                                    "need 4; node 2: no free GPU of the pool on its socket");
    /* Unknown socket: only the GPU's own node. */
    for (size_t i = 0; i < f->host.n_nodes; i++)
        f->host.nodes[i].socket = -1;
    f->n_ex = 1;
    f->req.n_existing = 1;
    assert_int_equal(fx_place(f), GP_ERR_NO_PLACEMENT);
    fx_free(f);
}

static void test_legacy_never_remote(void **state)
{
    fx *f = fx_new();
    static const int nodes[] = { 0 };
    fx_build_on(f, nodes, 1);
    f->req.policy = GP_NUMA_LEGACY;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 0);
    fx_existing(f, "0000:55:00.0", 0, NULL, 0, 8, 0, true);
    assert_int_equal(fx_place(f), GP_ERR_NO_PLACEMENT);
    assert_contains(f->err.message, "node 0: 0 of 8 pCPUs free, need 4; node 1: no free GPU of the pool");
    fx_free(f);
}

/* ---- capacity ------------------------------------------------------------- */

static void test_overcommit(void **state)
{
    fx *f = fx_new();
    static const int nodes[] = { 0 };
    fx_build_on(f, nodes, 1);
    fx_existing(f, "0000:55:00.0", 0, NULL, 0, 8, 0, true);
    assert_int_equal(fx_place(f), GP_ERR_NO_PLACEMENT);
    f->req.cpu_overcommit = 1.5;   /* capacity 12 */
    assert_int_equal(fx_place(f), GP_OK);
    assert_string_equal(f->pl.reason, "node 0: GPU local, 4 of 12 pCPUs free, 64 GiB free");
    f->req.vm_vcpus = 5;
    assert_int_equal(fx_place(f), GP_ERR_NO_PLACEMENT);
    assert_contains(f->err.message, "node 0: 4 of 12 pCPUs free, need 5");
    /* floor(0.29 * 100) is 29, not 28. */
    fx_free(f);

    f = fx_new();
    f->spec.n_nodes = 1;
    f->spec.cores_per_node = 50;
    f->spec.n_gpus = 1;
    fx_build(f);
    f->req.cpu_overcommit = 0.29;
    f->req.vm_vcpus = 29;
    assert_int_equal(fx_place(f), GP_OK);
    assert_contains(f->pl.reason, "29 of 29 pCPUs free");
    /* More vCPUs than pCPUs (overcommit): every pCPU, once. */
    fx_free(f);

    f = fx_new();
    f->spec.n_gpus = 1;
    fx_build(f);
    f->req.cpu_overcommit = 2.0;
    f->req.vm_vcpus = 12;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.n_pcpus, 8);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(f->pl.pcpus[i], (int)i);
    fx_free(f);
}

static void test_memory(void **state)
{
    fx *f = fx_new();
    f->spec.n_gpus = 2;
    fx_build(f);
    f->req.vm_memory_mib = 8192;
    /* 60 GiB of a halted VM's memory on node 0 (not in mem_free): 4 GiB left. */
    fx_existing(f, "0000:55:00.0", 0, NULL, 0, 0, 60 * 1024, false);
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 1);
    f->req.policy = GP_NUMA_REQUIRED;
    f->pool[0] = f->ids[0];
    f->req.n_pool_gpus = 1;   /* only node 0's GPU */
    assert_int_equal(fx_place(f), GP_ERR_NO_PLACEMENT);
    assert_contains(f->err.message, "node 0: 4096 MiB free, need 8192 MiB");
    /* A live domain's memory is already out of mem_free: not counted twice. */
    f->ex[0].memory_in_free = true;
    assert_int_equal(fx_place(f), GP_OK);
    assert_string_equal(f->pl.reason, "node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    /* Exactly enough memory fits; both shortages are reported together. */
    f->ex[0].memory_in_free = false;
    f->req.vm_memory_mib = 4096;
    assert_int_equal(fx_place(f), GP_OK);
    assert_contains(f->pl.reason, "4 GiB free");
    f->req.vm_memory_mib = 4097;
    f->req.vm_vcpus = 9;
    assert_int_equal(fx_place(f), GP_ERR_NO_PLACEMENT);
    assert_contains(f->err.message, "node 0: 8 of 8 pCPUs free, need 9, 4096 MiB free, need 4097 MiB");
    /* Unknown memory is not a reason to refuse. */
    f->req.vm_vcpus = 4;
    f->host.nodes[0].mem_total_bytes = 0;
    f->host.nodes[0].mem_free_bytes = 0;
    assert_int_equal(fx_place(f), GP_OK);
    assert_contains(f->pl.reason, "memory unknown");
    fx_free(f);
}

static void test_cpupool_restriction(void **state)
{
    fx *f = fx_new();
    fx_build(f);
    /* cpupool: cores 1 and 3 of node 0 (pCPUs 2,3,6,7) and all of node 1. */
    static const int allowed[] = { 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    f->req.allowed_cpus = allowed;
    f->req.n_allowed_cpus = 12;
    f->req.vm_vcpus = 3;
    f->pool[1] = f->ids[0];
    f->req.n_pool_gpus = 1;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 0);
    assert_int_equal(f->pl.n_pcpus, 3);
    assert_int_equal(f->pl.pcpus[0], 2);
    assert_int_equal(f->pl.pcpus[1], 3);
    assert_int_equal(f->pl.pcpus[2], 6);
    assert_string_equal(f->pl.reason, "node 0: GPU local, 4 of 4 pCPUs free, 64 GiB free");
    f->req.vm_vcpus = 5;
    assert_int_equal(fx_place(f), GP_ERR_NO_PLACEMENT);
    assert_contains(f->err.message, "node 0: 4 of 4 pCPUs free, need 5");
    /* A cpupool without pCPUs of the GPU's node. */
    f->req.allowed_cpus = allowed + 4;
    f->req.n_allowed_cpus = 8;
    f->req.vm_vcpus = 1;
    assert_int_equal(fx_place(f), GP_ERR_NO_PLACEMENT);
    assert_contains(f->err.message, "node 0: no pCPU in the VM's cpupool");
    fx_free(f);
}

static void test_existing_without_node_counts_by_pcpus(void **state)
{
    fx *f = fx_new();
    f->spec.n_gpus = 4;
    fx_build(f);
    f->req.strategy = GP_PLACE_SPREAD;   /* asserts spread's order */
    static const int pc[] = { 1, 3 };
    fx_existing(f, "0000:55:00.0", -1, pc, 2, 2, 0, true);
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 1);
    fx_free(f);
}

/* ---- pCPU choice ------------------------------------------------------------ */

static void test_spread_over_cores(void **state)
{
    fx *f = fx_new();
    f->spec.n_gpus = 1;
    fx_build(f);   /* node 0: cores {0,1} {2,3} {4,5} {6,7} */
    f->req.vm_vcpus = 2;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.n_pcpus, 2);
    assert_int_not_equal(f->host.cpus[f->pl.pcpus[0]].core, f->host.cpus[f->pl.pcpus[1]].core);
    assert_int_equal(f->pl.pcpus[0], 0);
    assert_int_equal(f->pl.pcpus[1], 2);
    f->req.vm_vcpus = 5;
    assert_int_equal(fx_place(f), GP_OK);
    static const int want5[] = { 0, 1, 2, 4, 6 };
    assert_int_equal(f->pl.n_pcpus, 5);
    assert_memory_equal(f->pl.pcpus, want5, sizeof(want5));
    fx_free(f);
}

static void test_least_loaded_first(void **state)
{
    fx *f = fx_new();
    f->spec.n_gpus = 2;
    fx_build(f);
    f->pool[0] = f->ids[0];
    f->req.n_pool_gpus = 1;
    f->req.vm_vcpus = 2;
    f->req.cpu_overcommit = 4.0;
    /* Another pool's VM on pCPUs 0 and 2 (cores 0, 1). */
    static const int pc[] = { 0, 2 };
    fx_existing(f, "0000:02:00.0", 0, pc, 2, 2, 0, true);
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.pcpus[0], 4);
    assert_int_equal(f->pl.pcpus[1], 6);
    /* 4 vCPUs: the idle cores, then the idle siblings of busy cores
     * (pCPUs 1, 3 carry no load; 0, 2 carry 1 each). */
    f->req.vm_vcpus = 4;
    assert_int_equal(fx_place(f), GP_OK);
    static const int want4[] = { 1, 3, 4, 6 };
    assert_memory_equal(f->pl.pcpus, want4, sizeof(want4));
    /* 8 vCPUs over 4 pCPUs load each of them 2: the rest go first. */
    static const int pc2[] = { 4, 5, 6, 7 };
    fx_existing(f, "0000:03:00.0", 0, pc2, 4, 8, 0, true);
    f->req.vm_vcpus = 3;
    assert_int_equal(fx_place(f), GP_OK);
    static const int want3[] = { 0, 1, 3 };
    assert_memory_equal(f->pl.pcpus, want3, sizeof(want3));
    fx_free(f);
}

static void test_interleaved_synthetic(void **state)
{
    fx *f = fx_new();
    /* The 24em64t layout: 2 nodes x 6 cores x 2 threads, node 0 = even PUs,
     * siblings 12 apart; GPUs 06:00.0-like on node 0, two on node 1. */
    f->spec.cores_per_node = 6;
    f->spec.interleaved = true;
    static const int nodes[] = { 0, 1, 1 };
    fx_build_on(f, nodes, 3);
    assert_int_equal(f->host.nodes[0].cpus[1], 2);
    f->pool[0] = f->ids[0];
    f->req.n_pool_gpus = 1;
    f->req.vm_vcpus = 6;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 0);
    static const int want[] = { 0, 2, 4, 6, 8, 10 };   /* one thread per core */
    assert_int_equal(f->pl.n_pcpus, 6);
    assert_memory_equal(f->pl.pcpus, want, sizeof(want));
    f->req.vm_vcpus = 12;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.n_pcpus, 12);
    for (size_t i = 0; i < 12; i++)
        assert_int_equal(f->pl.pcpus[i] % 2, 0);
    /* Node 1's GPU: odd pCPUs. */
    f->pool[0] = f->ids[2];
    f->req.vm_vcpus = 4;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 1);
    static const int want1[] = { 1, 3, 5, 7 };
    assert_memory_equal(f->pl.pcpus, want1, sizeof(want1));
    fx_free(f);
}

static void test_interleaved_hwloc_fixture(void **state)
{
    const char *fix = tu_fixture("hwloc/24em64t-2n6c2t-pci.xml");
    if (!fix) {
        fprintf(stderr, "fixture hwloc/24em64t-2n6c2t-pci.xml absent: skipped\n");
        skip();
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s", fix);
    gp_config cfg;
    gp_config_init(&cfg);
    gp_host host;
    gp_host_init(&host);
    gp_error_info err;
    gp_error_info_init(&err);
    int rc = gp_hwloc_load(path, NULL, 0, &cfg, true, &host, &err);
    if (rc != GP_OK) {
        fprintf(stderr, "gp_hwloc_load: %s\n", err.message ? err.message : "?");
        fail();
    }
    gp_host_finish(&host);
    const gp_gpu *g = gp_host_find_gpu(&host, "0000:06:00.0");
    assert_non_null(g);
    assert_int_equal(g->numa_node, 0);

    const char *pool[] = { "0000:06:00.0", "0000:11:00.0", "0000:14:00.0" };
    gp_place_request req;
    memset(&req, 0, sizeof(req));
    req.policy = GP_NUMA_REQUIRED;
    req.pin_mode = GP_PIN_HARD;
    req.cpu_overcommit = 1.0;
    req.pool_gpus = pool;
    req.n_pool_gpus = 3;
    req.vm_vcpus = 12;
    req.vm_memory_mib = 4096;
    req.force_pci_id = "0000:06:00.0";
    gp_placement pl;
    gp_placement_init(&pl);
    assert_int_equal(gp_place(&host, &req, &pl, &err), GP_OK);
    assert_int_equal(pl.node, 0);
    assert_int_equal(pl.n_pcpus, 12);
    for (size_t i = 0; i < pl.n_pcpus; i++)
        assert_int_equal(pl.pcpus[i] % 2, 0);
    gp_placement_dispose(&pl);
    /* 6 vCPUs: one per core (PU 0 and 12 are siblings of core 0). */
    req.vm_vcpus = 6;
    assert_int_equal(gp_place(&host, &req, &pl, &err), GP_OK);
    static const int want[] = { 0, 2, 4, 6, 8, 10 };
    assert_int_equal(pl.n_pcpus, 6);
    assert_memory_equal(pl.pcpus, want, sizeof(want));
    gp_placement_dispose(&pl);
    /* A node-1 GPU: odd PUs. */
    req.force_pci_id = "0000:14:00.0";
    assert_int_equal(gp_place(&host, &req, &pl, &err), GP_OK);
    assert_int_equal(pl.node, 1);
    for (size_t i = 0; i < pl.n_pcpus; i++)
        assert_int_equal(pl.pcpus[i] % 2, 1);
    gp_placement_dispose(&pl);
    gp_error_info_dispose(&err);
    gp_host_dispose(&host);
    gp_config_dispose(&cfg);
}

static void test_pin_none(void **state)
{
    fx *f = fx_new();
    fx_build(f);
    f->req.strategy = GP_PLACE_SPREAD;   /* asserts spread's order */
    f->req.pin_mode = GP_PIN_NONE;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 0);
    assert_int_equal(f->pl.memory_node, 0);
    assert_int_equal(f->pl.n_pcpus, 0);
    assert_null(f->pl.pcpus);
    assert_non_null(f->pl.reason);
    /* A pin-mode none VM still counts on its node. */
    fx_existing(f, "0000:55:00.0", 0, NULL, 0, 4, 0, true);
    f->req.pin_mode = GP_PIN_SOFT;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 1);
    assert_int_equal(f->pl.n_pcpus, 4);
    fx_free(f);
}

/* ---- forced GPU and errors ------------------------------------------------- */

static void test_force_pci_id(void **state)
{
    fx *f = fx_new();
    f->spec.n_gpus = 3;    /* nodes 0, 0, 1 */
    fx_build(f);
    f->req.n_pool_gpus = 2; /* GPU 2 on the host, not in the pool */

    f->req.force_pci_id = "zz:00.0";
    assert_int_equal(fx_place(f), GP_ERR_PCI_ID_INVALID);
    assert_int_equal(f->err.code, GP_ERR_PCI_ID_INVALID);
    f->req.force_pci_id = "0000:99:00.0";
    assert_int_equal(fx_place(f), GP_ERR_UNKNOWN_GPU);
    assert_contains(f->err.message, "0000:99:00.0");
    f->req.force_pci_id = "0000:03:00.0";
    assert_int_equal(fx_place(f), GP_ERR_GPU_NOT_IN_POOL);
    assert_int_equal(f->err.n_params, 1);
    assert_string_equal(f->err.params[0].key, "pci-id");
    assert_string_equal(f->err.params[0].value, "0000:03:00.0");
    fx_existing(f, "0000:02:00.0", 0, NULL, 0, 1, 0, true);
    f->req.force_pci_id = "2:00.0";
    assert_int_equal(fx_place(f), GP_ERR_GPU_ASSIGNED);
    /* Forcing a GPU that is not the best still uses it. */
    f->req.n_pool_gpus = 3;
    f->req.force_pci_id = "0000:03:00.0";
    f->req.policy = GP_NUMA_PREFERRED;
    assert_int_equal(fx_place(f), GP_OK);
    assert_string_equal(f->pl.pci_id, "0000:03:00.0");
    assert_int_equal(f->pl.node, 1);
    /* A forced GPU and a full node under required: NO_PLACEMENT, and the
     * message names the GPU for the other node. */
    f->req.policy = GP_NUMA_REQUIRED;
    fx_existing(f, "0000:55:00.0", 1, NULL, 0, 7, 0, true);
    assert_int_equal(fx_place(f), GP_ERR_NO_PLACEMENT);
    assert_contains(f->err.message, "node 0: GPU 0000:03:00.0 not allowed here by the policy; "
                                    "node 1: 1 of 8 pCPUs free, need 4");
    fx_free(f);
}

static void test_pool_empty(void **state)
{
    fx *f = fx_new();
    fx_build(f);
    fx_existing(f, "0000:01:00.0", 0, NULL, 0, 1, 0, true);
    fx_existing(f, "0000:02:00.0", 1, NULL, 0, 1, 0, true);
    assert_int_equal(fx_place(f), GP_ERR_POOL_EMPTY);
    assert_int_equal(f->err.code, GP_ERR_POOL_EMPTY);
    /* A pool GPU missing from the host is not free either. */
    f->n_ex = 0;
    f->req.n_existing = 0;
    f->pool[0] = "0000:99:00.0";
    f->req.n_pool_gpus = 1;
    assert_int_equal(fx_place(f), GP_ERR_POOL_EMPTY);
    assert_contains(f->err.message, "1 not on this host");
    f->req.n_pool_gpus = 0;
    assert_int_equal(fx_place(f), GP_ERR_POOL_EMPTY);
    fx_free(f);
}

static void test_invalid_arguments(void **state)
{
    fx *f = fx_new();
    fx_build(f);
    f->req.vm_vcpus = 0;
    assert_int_equal(fx_place(f), GP_ERR_INVALID_ARGUMENT);
    f->req.vm_vcpus = 2;
    f->req.vm_memory_mib = 0;
    assert_int_equal(fx_place(f), GP_ERR_INVALID_ARGUMENT);
    f->req.vm_memory_mib = 1;
    f->req.cpu_overcommit = 0;
    assert_int_equal(fx_place(f), GP_ERR_INVALID_ARGUMENT);
    f->req.cpu_overcommit = NAN;
    assert_int_equal(fx_place(f), GP_ERR_INVALID_ARGUMENT);
    f->req.cpu_overcommit = 1;
    f->req.policy = (gp_numa_policy)42;
    assert_int_equal(fx_place(f), GP_ERR_INVALID_ARGUMENT);
    f->req.policy = GP_NUMA_REQUIRED;
    assert_int_equal(gp_place(NULL, &f->req, &f->pl, &f->err), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_place(&f->host, NULL, &f->pl, &f->err), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_place(&f->host, &f->req, NULL, NULL), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(fx_place(f), GP_OK);
    fx_free(f);
}

/* ---- strategies ------------------------------------------------------------- */

static void test_strategy_names_and_default(void **state)
{
    gp_placement_strategy st = GP_PLACE_SPREAD;
    assert_int_equal(GP_PLACE_PACK, 0);
    assert_string_equal(gp_placement_strategy_name(GP_PLACE_PACK), "pack");
    assert_string_equal(gp_placement_strategy_name(GP_PLACE_SPREAD), "spread");
    assert_string_equal(gp_placement_strategy_name((gp_placement_strategy)7), "unknown");
    assert_int_equal(gp_placement_strategy_parse("pack", &st), GP_OK);
    assert_int_equal(st, GP_PLACE_PACK);
    assert_int_equal(gp_placement_strategy_parse("spread", &st), GP_OK);
    assert_int_equal(st, GP_PLACE_SPREAD);
    assert_int_equal(gp_placement_strategy_parse("Spread", &st), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_placement_strategy_parse(NULL, &st), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(st, GP_PLACE_SPREAD);

    fx *f = fx_new();
    fx_build(f);
    f->req.strategy = (gp_placement_strategy)2;
    assert_int_equal(fx_place(f), GP_ERR_INVALID_ARGUMENT);
    assert_contains(f->err.message, "unknown placement strategy 2");
    fx_free(f);
}

/* Pack: a small VM joins the busier node that still fits it; spread takes
 * the idle one.  Ties (empty host) go to the lowest node id. */
static void test_pack_best_fit(void **state)
{
    fx *f = fx_new();
    f->spec.n_gpus = 8;   /* 4 per node */
    fx_build(f);
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 0);
    static const int pc[] = { 0, 2 };
    fx_existing(f, "0000:01:00.0", 0, pc, 2, 2, 1024, true);
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 0);
    assert_string_equal(f->pl.pci_id, "0000:02:00.0");
    assert_string_equal(f->pl.reason, "node 0: GPU local, 6 of 8 pCPUs free, 64 GiB free");
    /* pCPUs still spread over the node's cores, least loaded first */
    static const int want[] = { 1, 3, 4, 6 };
    assert_int_equal(f->pl.n_pcpus, 4);
    assert_memory_equal(f->pl.pcpus, want, sizeof(want));
    f->req.strategy = GP_PLACE_SPREAD;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 1);
    /* Too big for what is left on node 0: node 1 for both. */
    f->req.strategy = GP_PLACE_PACK;
    f->req.vm_vcpus = 7;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 1);
    fx_free(f);
}

/* Pack looks ahead: a node that would lose its last free GPU loses its
 * room, so a small VM goes where GPUs remain. */
static void test_pack_keeps_room(void **state)
{
    fx *f = fx_new();
    static const int nodes[] = { 0, 1, 1, 1 };   /* node 0: 1 GPU, node 1: 3 */
    fx_build_on(f, nodes, 4);
    f->req.vm_vcpus = 2;
    f->req.vm_memory_mib = 8192;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 1);
    assert_string_equal(f->pl.pci_id, "0000:02:00.0");
    assert_string_equal(f->pl.reason, "node 1: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    /* spread: equal nodes, lowest id */
    f->req.strategy = GP_PLACE_SPREAD;
    assert_int_equal(fx_place(f), GP_OK);
    assert_int_equal(f->pl.node, 0);
    /* A VM only node 0 can hold still gets it. */
    f->req.strategy = GP_PLACE_PACK;
    f->host.nodes[1].mem_free_bytes = 4 * GIB;
    assert_int_equal(f->pl.node, 0);
    fx_free(f);
}

/* Issue 8's stream on a host shaped like the embedded one (2 nodes x 24
 * cores x 2 threads, 512 GiB and 4 GPUs per node): spread refuses the fifth
 * VM, pack admits all five. */
static int issue8_stream(gp_placement_strategy strategy, gp_placement out[5])
{
    static const int vcpus[] = { 12, 20, 12, 16, 16 };
    static const int gib[] = { 256, 32, 256, 256, 32 };
    fx *f = fx_new();
    f->spec.cores_per_node = 24;
    f->spec.n_gpus = 8;
    f->spec.mem_bytes_per_node = 512 * GIB;
    fx_build(f);
    f->req.strategy = strategy;
    int placed = 0;
    for (int i = 0; i < 5; i++) {
        f->req.vm_vcpus = vcpus[i];
        f->req.vm_memory_mib = (uint64_t)gib[i] << 10;
        gp_placement_init(&out[i]);
        if (gp_place(&f->host, &f->req, &out[i], &f->err) != GP_OK)
            break;
        placed++;
        gp_place_existing *e = &f->ex[f->n_ex++];
        *e = (gp_place_existing){ out[i].pci_id, out[i].node, out[i].pcpus, out[i].n_pcpus,
                                  vcpus[i], (uint64_t)gib[i] << 10, out[i].memory_node, false };
        f->req.n_existing = f->n_ex;
    }
    if (placed < 5)
        assert_int_equal(f->err.code, GP_ERR_NO_PLACEMENT);
    fx_free(f);
    return placed;
}

static void test_pack_issue8_example(void **state)
{
    gp_placement p[5];
    assert_int_equal(issue8_stream(GP_PLACE_SPREAD, p), 4);
    for (int i = 0; i < 5; i++)
        gp_placement_dispose(&p[i]);
    assert_int_equal(issue8_stream(GP_PLACE_PACK, p), 5);
    static const int nodes[] = { 0, 0, 1, 1, 0 };
    for (int i = 0; i < 5; i++)
        assert_int_equal(p[i].node, nodes[i]);
    /* one thread per core first: 12 vCPUs on 12 distinct cores of node 0 */
    assert_int_equal(p[0].n_pcpus, 12);
    for (size_t k = 0; k < p[0].n_pcpus; k++)
        assert_int_equal(p[0].pcpus[k] % 2, 0);
    assert_string_equal(p[4].reason, "node 0: GPU local, 16 of 48 pCPUs free, 224 GiB free");
    for (int i = 0; i < 5; i++)
        gp_placement_dispose(&p[i]);
}

/* ---- re-plan ------------------------------------------------------------------ */

/* 2 nodes x 8 pCPUs, 64 GiB, GPUs 01, 02 on node 0 and 03, 04 on node 1;
 * VM A (4 vCPUs, 16 GiB) on node 0 with GPU 01, VM B (4, 16) on node 1 with
 * GPU 03.  An 8-vCPU VM fits nowhere until one of them moves. */
static const int rp_pc_a[] = { 0, 2, 4, 6 };
static const int rp_pc_b[] = { 8, 10, 12, 14 };

static fx *rp_fixture(bool a_running, bool b_running)
{
    fx *f = fx_new();
    f->spec.n_gpus = 4;
    fx_build(f);
    fx_existing(f, "0000:01:00.0", 0, rp_pc_a, 4, 4, 16384, a_running);
    fx_existing(f, "0000:03:00.0", 1, rp_pc_b, 4, 4, 16384, b_running);
    f->req.vm_vcpus = 8;
    f->req.vm_memory_mib = 16384;
    return f;
}

static void test_replan_no_move_needed(void **state)
{
    fx *f = rp_fixture(false, false);
    static const bool mov[] = { true, true };
    gp_replan r;
    gp_replan_init(&r);
    f->req.vm_vcpus = 4;
    assert_int_equal(gp_place_replan(&f->host, &f->req, mov, 0, &r, &f->err), GP_OK);
    assert_int_equal(r.n_moves, 0);
    assert_null(r.moves);
    assert_int_equal(fx_place(f), GP_OK);
    assert_string_equal(r.vm.pci_id, f->pl.pci_id);
    assert_int_equal(r.vm.node, f->pl.node);
    assert_string_equal(r.vm.reason, f->pl.reason);
    gp_replan_dispose(&r);
    gp_replan_dispose(&r);
    gp_replan_dispose(NULL);
    fx_free(f);
}

static void test_replan_moves_halted(void **state)
{
    fx *f = rp_fixture(false, false);
    static const bool both[] = { true, true };
    gp_replan r;
    gp_replan_init(&r);
    assert_int_equal(fx_place(f), GP_ERR_NO_PLACEMENT);
    assert_int_equal(gp_place_replan(&f->host, &f->req, both, 0, &r, &f->err), GP_OK);
    /* one move: A joins B on node 1 (GPU 04), the new VM takes node 0 */
    assert_int_equal(r.n_moves, 1);
    assert_int_equal(r.moves[0].existing, 0);
    assert_int_equal(r.moves[0].placement.node, 1);
    assert_int_equal(r.moves[0].placement.memory_node, 1);
    assert_string_equal(r.moves[0].placement.pci_id, "0000:04:00.0");
    static const int a_pins[] = { 9, 11, 13, 15 };   /* B holds 8,10,12,14 */
    assert_int_equal(r.moves[0].placement.n_pcpus, 4);
    assert_memory_equal(r.moves[0].placement.pcpus, a_pins, sizeof(a_pins));
    assert_int_equal(r.vm.node, 0);
    assert_string_equal(r.vm.pci_id, "0000:01:00.0");
    assert_int_equal(r.vm.n_pcpus, 8);
    assert_int_equal(r.vm.locality, GP_LOCALITY_LOCAL);
    assert_string_equal(r.vm.reason, "node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    /* Same input, same answer; the request is untouched. */
    gp_replan r2;
    gp_replan_init(&r2);
    assert_int_equal(gp_place_replan(&f->host, &f->req, both, 0, &r2, NULL), GP_OK);
    assert_int_equal(r2.n_moves, 1);
    assert_string_equal(r2.moves[0].placement.pci_id, r.moves[0].placement.pci_id);
    assert_string_equal(r2.vm.pci_id, r.vm.pci_id);
    assert_int_equal(f->ex[0].node, 0);
    assert_string_equal(f->ex[0].pci_id, "0000:01:00.0");
    gp_replan_dispose(&r2);
    gp_replan_dispose(&r);
    fx_free(f);

    /* A running (fixed): B moves to node 0 next to A, the new VM gets node 1. */
    f = rp_fixture(true, false);
    static const bool only_b[] = { false, true };
    gp_replan_init(&r);
    assert_int_equal(gp_place_replan(&f->host, &f->req, only_b, 0, &r, &f->err), GP_OK);
    assert_int_equal(r.n_moves, 1);
    assert_int_equal(r.moves[0].existing, 1);
    assert_int_equal(r.moves[0].placement.node, 0);
    assert_string_equal(r.moves[0].placement.pci_id, "0000:02:00.0");
    assert_int_equal(r.vm.node, 1);
    assert_string_equal(r.vm.pci_id, "0000:03:00.0");
    gp_replan_dispose(&r);
    fx_free(f);
}

static void test_replan_refusals(void **state)
{
    fx *f = rp_fixture(true, false);
    static const bool both[] = { true, true };
    static const bool none[] = { false, false };
    gp_replan r;
    gp_replan_init(&r);
    /* a running VM cannot move */
    assert_int_equal(gp_place_replan(&f->host, &f->req, both, 0, &r, &f->err),
                     GP_ERR_INVALID_ARGUMENT);
    assert_contains(f->err.message, "assignment 0 (GPU 0000:01:00.0) is marked movable");
    assert_int_equal(gp_place_replan(&f->host, &f->req, both, 0, NULL, &f->err),
                     GP_ERR_INVALID_ARGUMENT);
    /* nothing movable: gp_place's own refusal */
    assert_int_equal(gp_place_replan(&f->host, &f->req, none, 0, &r, &f->err),
                     GP_ERR_NO_PLACEMENT);
    assert_contains(f->err.message, "no NUMA node can take 8 vCPUs");
    assert_int_equal(gp_place_replan(&f->host, &f->req, NULL, 0, &r, &f->err),
                     GP_ERR_NO_PLACEMENT);
    fx_free(f);

    /* no assignment exists: 12 vCPUs never fit an 8-pCPU node */
    f = rp_fixture(false, false);
    f->req.vm_vcpus = 12;
    assert_int_equal(gp_place_replan(&f->host, &f->req, both, 0, &r, &f->err),
                     GP_ERR_NO_PLACEMENT);
    assert_contains(f->err.message, "even by moving the 2 halted VMs");
    /* the bound cuts the search */
    f->req.vm_vcpus = 8;
    assert_int_equal(gp_place_replan(&f->host, &f->req, both, 1, &r, &f->err),
                     GP_ERR_NO_PLACEMENT);
    assert_contains(f->err.message, "within 1 search steps");
    /* out untouched by the refusals */
    assert_int_equal(r.n_moves, 0);
    assert_int_equal(r.vm.node, -1);
    assert_null(r.vm.reason);
    /* a forced GPU is never re-planned */
    f->req.force_pci_id = "0000:02:00.0";
    assert_int_equal(gp_place_replan(&f->host, &f->req, both, 0, &r, &f->err),
                     GP_ERR_NO_PLACEMENT);
    gp_replan_dispose(&r);
    fx_free(f);
}

/* ---- purity and scale ------------------------------------------------------- */

static void test_pure_and_deterministic(void **state)
{
    fx *f = fx_new();
    f->spec.n_nodes = 4;
    f->spec.nodes_per_socket = 2;
    f->spec.n_gpus = 8;
    fx_build(f);
    f->req.policy = GP_NUMA_PREFERRED;
    static const int pc[] = { 0, 2, 4 };
    fx_existing(f, "0000:01:00.0", 0, pc, 3, 3, 4096, false);
    gp_host copy;
    assert_int_equal(synth_host_build(&f->spec, &copy), 0);

    gp_placement a, b;
    gp_placement_init(&a);
    gp_placement_init(&b);
    assert_int_equal(gp_place(&f->host, &f->req, &a, NULL), GP_OK);
    assert_int_equal(gp_place(&f->host, &f->req, &b, NULL), GP_OK);
    assert_string_equal(a.pci_id, b.pci_id);
    assert_int_equal(a.node, b.node);
    assert_int_equal(a.memory_node, b.memory_node);
    assert_int_equal(a.locality, b.locality);
    assert_int_equal(a.n_pcpus, b.n_pcpus);
    assert_memory_equal(a.pcpus, b.pcpus, a.n_pcpus * sizeof(int));
    assert_string_equal(a.reason, b.reason);
    /* The host model is untouched. */
    for (size_t i = 0; i < copy.n_nodes; i++) {
        assert_int_equal(f->host.nodes[i].mem_free_bytes, copy.nodes[i].mem_free_bytes);
        assert_memory_equal(f->host.nodes[i].cpus, copy.nodes[i].cpus, copy.nodes[i].n_cpus * sizeof(int));
    }
    assert_int_equal(f->n_ex, 1);
    /* Reusing an output: the old result is replaced, not leaked. */
    assert_int_equal(gp_place(&f->host, &f->req, &a, NULL), GP_OK);
    assert_string_equal(a.reason, b.reason);
    gp_placement_dispose(&a);
    gp_placement_dispose(&a);
    gp_placement_dispose(&b);
    synth_host_free(&copy);
    fx_free(f);
}

static void test_successive_placements_respect_capacity(void **state)
{
    synth_spec s;
    synth_spec_init(&s);
    s.n_nodes = 32;
    s.nodes_per_socket = 4;
    s.cores_per_node = 10;
    s.n_gpus = 256;
    s.mem_bytes_per_node = 256 * GIB;
    gp_host h;
    assert_int_equal(synth_host_build(&s, &h), 0);
    char (*ids)[GP_PCI_ID_LEN] = calloc(256, GP_PCI_ID_LEN);
    const char **pool = calloc(256, sizeof(*pool));
    gp_place_existing *ex = calloc(256, sizeof(*ex));
    gp_placement *res = calloc(256, sizeof(*res));
    for (int i = 0; i < 256; i++) {
        synth_gpu_pci_id(i, ids[i]);
        pool[i] = ids[i];
    }
    gp_place_request req;
    memset(&req, 0, sizeof(req));
    req.policy = GP_NUMA_PREFERRED;
    req.pin_mode = GP_PIN_HARD;
    req.cpu_overcommit = 1.0;
    req.pool_gpus = pool;
    req.n_pool_gpus = 256;
    req.existing = ex;
    req.vm_memory_mib = 16384;
    gp_error_info err;
    gp_error_info_init(&err);
    long pinned[32] = { 0 };
    int tiers[4] = { 0 };
    size_t n = 0;
    for (int i = 0; i < 256; i++) {
        req.vm_vcpus = 1 + i % 3;   /* 1..3: 511 vCPUs on 640 pCPUs */
        gp_placement_init(&res[n]);
        int rc = gp_place(&h, &req, &res[n], &err);
        assert_int_equal(rc, GP_OK);
        gp_placement *p = &res[n];
        ex[n] = (gp_place_existing){ p->pci_id, p->node, p->pcpus, p->n_pcpus, req.vm_vcpus,
                                     req.vm_memory_mib, p->memory_node, false };
        req.n_existing = ++n;
        pinned[p->node] += req.vm_vcpus;
        assert_true(pinned[p->node] <= 20);
        assert_true(all_on_node(&h, p, p->node));
        tiers[p->locality]++;
    }
    /* Every GPU used once. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(res[i].pci_id, res[j].pci_id);
    assert_true(tiers[GP_LOCALITY_LOCAL] > 200);
    assert_int_equal(gp_place(&h, &req, &res[0], &err) == GP_ERR_POOL_EMPTY, 1);
    for (size_t i = 0; i < n; i++)
        gp_placement_dispose(&res[i]);
    gp_error_info_dispose(&err);
    free(res);
    free(ex);
    free(pool);
    free(ids);
    synth_host_free(&h);
}

/* The synthetic hwloc XML the benchmarks use loads into the same model. */
static void check_hwloc_roundtrip(const synth_spec *sp)
{
    synth_spec s = *sp;
    char *dir = tu_scratch_dir("place-synth");
    assert_non_null(dir);
    char path[4096];
    snprintf(path, sizeof(path), "%s/host.xml", dir);
    assert_int_equal(synth_host_write_hwloc(&s, path), 0);

    gp_config cfg;
    gp_config_init(&cfg);
    gp_host a, b;
    gp_host_init(&a);
    gp_error_info err;
    gp_error_info_init(&err);
    int rc = gp_hwloc_load(path, NULL, 0, &cfg, true, &a, &err);
    if (rc != GP_OK)
        fail_msg("gp_hwloc_load(%s): %s", path, err.message ? err.message : "?");
    gp_host_finish(&a);
    assert_int_equal(synth_host_build(&s, &b), 0);
    assert_int_equal(a.n_nodes, b.n_nodes);
    assert_int_equal(a.n_cpus, b.n_cpus);
    assert_int_equal(a.n_gpus, b.n_gpus);
    for (size_t i = 0; i < b.n_nodes; i++) {
        assert_int_equal(a.nodes[i].id, b.nodes[i].id);
        assert_int_equal(a.nodes[i].socket, b.nodes[i].socket);
        assert_int_equal(a.nodes[i].n_cpus, b.nodes[i].n_cpus);
        assert_memory_equal(a.nodes[i].cpus, b.nodes[i].cpus, b.nodes[i].n_cpus * sizeof(int));
        assert_int_equal(a.nodes[i].mem_total_bytes, b.nodes[i].mem_total_bytes);
        if (a.nodes[i].distances)
            assert_memory_equal(a.nodes[i].distances, b.nodes[i].distances, b.n_nodes * sizeof(int));
    }
    for (size_t i = 0; i < b.n_gpus; i++) {
        assert_string_equal(a.gpus[i].pci_id, b.gpus[i].pci_id);
        assert_int_equal(a.gpus[i].numa_node, b.gpus[i].numa_node);
    }
    gp_error_info_dispose(&err);
    gp_host_dispose(&a);
    synth_host_free(&b);
    gp_config_dispose(&cfg);
    free(dir);
}

static void test_synth_hwloc_roundtrip_interleaved(void **state)
{
    synth_spec s;
    synth_spec_init(&s);
    s.n_nodes = 4;
    s.nodes_per_socket = 2;
    s.cores_per_node = 10;
    s.interleaved = true;
    s.n_gpus = 6;
    check_hwloc_roundtrip(&s);
}

static void test_synth_hwloc_roundtrip_contiguous(void **state)
{
    /* 128 PUs, node n = 32-bit word n: cpusets such as "0xffffffff,,,0x0"
     * (hwloc's own spelling of words that are zero). */
    synth_spec s;
    synth_spec_init(&s);
    s.n_nodes = 4;
    s.nodes_per_socket = 1;
    s.cores_per_node = 16;
    s.n_gpus = 8;
    check_hwloc_roundtrip(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_local_lowest_node),
        cmocka_unit_test(test_fewest_pinned_wins),
        cmocka_unit_test(test_most_free_memory_wins),
        cmocka_unit_test(test_lowest_pci_id_on_ties),
        cmocka_unit_test(test_required_refuses_remote),
        cmocka_unit_test(test_unknown_locality_by_policy),
        cmocka_unit_test(test_preferred_local_unknown_remote),
        cmocka_unit_test(test_preferred_remote_nearest_first),
        cmocka_unit_test(test_socket_policy),
        cmocka_unit_test(test_legacy_never_remote),
        cmocka_unit_test(test_overcommit),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_cpupool_restriction),
        cmocka_unit_test(test_existing_without_node_counts_by_pcpus),
        cmocka_unit_test(test_spread_over_cores),
        cmocka_unit_test(test_least_loaded_first),
        cmocka_unit_test(test_interleaved_synthetic),
        cmocka_unit_test(test_interleaved_hwloc_fixture),
        cmocka_unit_test(test_pin_none),
        cmocka_unit_test(test_force_pci_id),
        cmocka_unit_test(test_pool_empty),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_strategy_names_and_default),
        cmocka_unit_test(test_pack_best_fit),
        cmocka_unit_test(test_pack_keeps_room),
        cmocka_unit_test(test_pack_issue8_example),
        cmocka_unit_test(test_replan_no_move_needed),
        cmocka_unit_test(test_replan_moves_halted),
        cmocka_unit_test(test_replan_refusals),
        cmocka_unit_test(test_pure_and_deterministic),
        cmocka_unit_test(test_successive_placements_respect_capacity),
        cmocka_unit_test(test_synth_hwloc_roundtrip_interleaved),
        cmocka_unit_test(test_synth_hwloc_roundtrip_contiguous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
