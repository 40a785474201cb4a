/*
 * test_capacity.c - gp_capacity_get() (ops/capacity.c) with the sim driver
 * on the embedded dual-socket host (2 nodes of 48 pCPUs and 512 GiB, GPUs
 * 18/2a/3a/5d on node 0, 9a/ab/ba/db on node 1) and the clock set through
 * GPUPOOL_NOW: stranded GPUs and their reasons (no-pcpus, no-memory), the
 * seconds a halted VM holds its GPU, the largest VM still placeable
 * NUMA-local, the smallest recent VM (30-day window, then current, then the
 * default), records and JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json.h>

#include "gpupool.h"
#include "testutil.h"
#include "gptest.h"

#define T0 1796000000LL

typedef struct {
    char dir[256];
    gp_ctx *ctx;
} fx;

#define OK(ctx, call) do { int rc_ = (call); \
        if (rc_) fail_msg("%s: %s (%s)", #call, gp_error_name(rc_), \
                          gp_ctx_last_error(ctx)->message); } while (0)

static void at(int64_t t)
{
    char b[24];
    snprintf(b, sizeof(b), "%lld", (long long)t);
    setenv("GPUPOOL_NOW", b, 1);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    char db[320];
    assert_non_null(f);
    char *d = tu_scratch_dir("capacity");
    assert_non_null(d);
    snprintf(f->dir, sizeof(f->dir), "%s", d);
    free(d);
    snprintf(db, sizeof(db), "%s/state.db", f->dir);
    f->ctx = gt_ctx_embedded(db, "sim", NULL, 0);
    at(T0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tu_run_result r;
    char cmd[320];
    gp_ctx_free(f->ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    tu_sh(&r, cmd);
    tu_run_free(&r);
    unsetenv("GPUPOOL_NOW");
    free(f);
    return 0;
}

static void assign(gp_ctx *ctx, const char *vm, const char *pool, const char *pci,
                   const char *tenant)
{
    gp_assign_args aa;
    memset(&aa, 0, sizeof(aa));
    aa.pool = pool;
    aa.pci_id = pci;
    aa.tenant = tenant;
    OK(ctx, gp_vm_gpu_assign(ctx, vm, &aa, NULL));
}

/* Pool "training": 18, 2a, 3a (node 0) and 9a, ab, ba (node 1); 5d and db
 * in no pool.  At T0 "big" (44 vCPUs, 256 GiB) gets 18, "mid" (8, 64 GiB)
 * 9a, "idle" (8, 64 GiB, tenant vision) ab; all three start at T0+100,
 * idle halts at T0+1000; the clock is then T0+4600. */
static void scenario(gp_ctx *ctx)
{
    static const char *const members[] = { "0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0",
                                           "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0" };
    at(T0);
    OK(ctx, gp_pool_create(ctx, "training", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL));
    for (size_t i = 0; i < 6; i++)
        OK(ctx, gp_pool_gpu_add(ctx, "training", members[i]));
    OK(ctx, gp_sim_vm_create(ctx, "big", 44, 262144, NULL));
    OK(ctx, gp_sim_vm_create(ctx, "mid", 8, 65536, NULL));
    OK(ctx, gp_sim_vm_create(ctx, "idle", 8, 65536, NULL));
    assign(ctx, "big", "training", "0000:18:00.0", NULL);
    assign(ctx, "mid", "training", "0000:9a:00.0", NULL);
    assign(ctx, "idle", "training", "0000:ab:00.0", "vision");
    at(T0 + 100);
    OK(ctx, gp_sim_vm_start(ctx, "big"));
    OK(ctx, gp_sim_vm_start(ctx, "mid"));
    OK(ctx, gp_sim_vm_start(ctx, "idle"));
    at(T0 + 1000);
    OK(ctx, gp_sim_vm_shutdown(ctx, "idle"));
    at(T0 + 4600);
}

static const gp_capacity_gpu *gpu_of(const gp_capacity *c, const char *pci)
{
    for (size_t i = 0; i < c->n_gpus; i++)
        if (!strcmp(c->gpus[i].pci_id, pci))
            return &c->gpus[i];
    fail_msg("no GPU %s in the capacity", pci);
    return NULL;
}

/* Node 0 keeps 48 - 44 = 4 vCPU slots: its two free GPUs are stranded for
 * the pool's smallest recent VM (8 vCPUs); node 1 keeps 48 - 16 = 32 and
 * 512 GiB - 64 GiB of the halted VM. */
static void test_stranded_no_pcpus_and_halted(void **state)
{
    fx *f = *state;
    gp_capacity *c = NULL;
    char why[48];

    scenario(f->ctx);
    OK(f->ctx, gp_capacity_get(f->ctx, NULL, &c));
    assert_int_equal(c->now, T0 + 4600);
    assert_int_equal(c->n_pools, 1);
    const gp_capacity_pool *p = &c->pools[0];
    assert_string_equal(p->name_label, "training");
    assert_int_equal(p->gpus, 6);
    assert_int_equal(p->free, 1);
    assert_int_equal(p->stranded, 2);
    assert_int_equal(p->running, 2);
    assert_int_equal(p->halted, 1);
    assert_int_equal(p->min_vcpus, 8);
    assert_int_equal(p->min_memory_mib, 65536);
    assert_string_equal(p->min_basis, "recent");
    assert_int_equal(p->largest_vcpus, 32);
    assert_int_equal(p->largest_memory_mib, 524288 - 65536);
    assert_int_equal(p->largest_node, 1);

    assert_int_equal(c->n_nodes, 2);
    assert_int_equal(c->nodes[0].node, 0);
    assert_int_equal(c->nodes[0].gpus, 3);
    assert_int_equal(c->nodes[0].free, 0);
    assert_int_equal(c->nodes[0].stranded, 2);
    assert_int_equal(c->nodes[0].running, 1);
    assert_int_equal(c->nodes[0].stranded_why, GP_STRAND_NO_PCPUS);
    assert_int_equal(c->nodes[0].max_vcpus, 4);
    assert_int_equal(c->nodes[0].max_memory_mib, 524288);   /* big runs: sim's free figure */
    assert_int_equal(c->nodes[1].node, 1);
    assert_int_equal(c->nodes[1].free, 1);
    assert_int_equal(c->nodes[1].stranded, 0);
    assert_int_equal(c->nodes[1].halted, 1);
    assert_int_equal(c->nodes[1].stranded_why, 0);
    assert_int_equal(c->nodes[1].max_vcpus, 32);
    assert_int_equal(c->nodes[1].max_memory_mib, 458752);

    assert_int_equal(c->n_gpus, 8);
    assert_int_equal(c->gpus_no_pool, 2);
    assert_int_equal(gpu_of(c, "0000:2a:00.0")->state, GP_CAP_STRANDED);
    assert_int_equal(gpu_of(c, "0000:3a:00.0")->stranded, GP_STRAND_NO_PCPUS);
    assert_string_equal(gp_strand_reasons(gpu_of(c, "0000:3a:00.0")->stranded, why, sizeof(why)),
                        "no-pcpus");
    assert_int_equal(gpu_of(c, "0000:18:00.0")->state, GP_CAP_RUNNING);
    assert_int_equal(gpu_of(c, "0000:ba:00.0")->state, GP_CAP_FREE);
    assert_int_equal(gpu_of(c, "0000:5d:00.0")->state, GP_CAP_NO_POOL);
    const gp_capacity_gpu *h = gpu_of(c, "0000:ab:00.0");
    assert_int_equal(h->state, GP_CAP_HALTED);
    assert_int_equal(h->halted_seconds, 3600);      /* halted at T0+1000, now T0+4600 */
    assert_string_equal(h->tenant, "vision");
    assert_int_equal(gpu_of(c, "0000:9a:00.0")->halted_seconds, -1);
    gp_capacity_free(c);

    /* An hour later: two hours halted; a VM that never ran counts from its
     * assignment. */
    at(T0 + 8200);
    OK(f->ctx, gp_sim_vm_create(f->ctx, "never", 2, 4096, NULL));
    assign(f->ctx, "never", "training", "0000:ba:00.0", NULL);
    at(T0 + 8300);
    OK(f->ctx, gp_capacity_get(f->ctx, NULL, &c));
    assert_int_equal(gpu_of(c, "0000:ab:00.0")->halted_seconds, 7300);
    assert_int_equal(gpu_of(c, "0000:ba:00.0")->halted_seconds, 100);
    /* never's 2 vCPUs / 4 GiB are now the smallest: node 0's 4 slots fit
     * it, so 2a and 3a are free again. */
    assert_int_equal(c->pools[0].min_vcpus, 2);
    assert_int_equal(c->pools[0].min_memory_mib, 4096);
    assert_int_equal(c->pools[0].stranded, 0);
    assert_int_equal(c->pools[0].free, 2);
    gp_capacity_free(c);
}

/* A halted VM's 500000 MiB stay reserved on node 0: 24288 MiB left there,
 * less than the smallest recent VM's 65536: no-memory (pCPUs are fine). */
static void test_stranded_no_memory(void **state)
{
    fx *f = *state;
    gp_capacity *c = NULL;
    gp_record *rs = NULL;
    size_t n = 0;

    OK(f->ctx, gp_pool_create(f->ctx, "mem", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL));
    OK(f->ctx, gp_pool_gpu_add(f->ctx, "mem", "0000:18:00.0"));
    OK(f->ctx, gp_pool_gpu_add(f->ctx, "mem", "0000:2a:00.0"));
    OK(f->ctx, gp_pool_gpu_add(f->ctx, "mem", "0000:9a:00.0"));
    OK(f->ctx, gp_sim_vm_create(f->ctx, "fat", 8, 500000, NULL));
    OK(f->ctx, gp_sim_vm_create(f->ctx, "thin", 16, 65536, NULL));
    assign(f->ctx, "fat", "mem", "0000:18:00.0", NULL);
    assign(f->ctx, "thin", "mem", "0000:9a:00.0", NULL);
    at(T0 + 60);
    OK(f->ctx, gp_capacity_get(f->ctx, NULL, &c));
    const gp_capacity_pool *p = &c->pools[0];
    assert_int_equal(p->min_vcpus, 8);
    assert_int_equal(p->min_memory_mib, 65536);
    assert_int_equal(p->stranded, 1);
    assert_int_equal(p->free, 0);
    assert_int_equal(p->halted, 2);
    assert_int_equal(gpu_of(c, "0000:2a:00.0")->stranded, GP_STRAND_NO_MEMORY);
    assert_int_equal(c->nodes[0].max_vcpus, 40);
    assert_int_equal(c->nodes[0].max_memory_mib, 524288 - 500000);
    assert_int_equal(p->largest_vcpus, 40);
    assert_int_equal(p->largest_memory_mib, 24288);
    assert_int_equal(p->largest_node, 0);
    assert_int_equal(gpu_of(c, "0000:18:00.0")->halted_seconds, 60);

    /* The records say the same. */
    OK(f->ctx, gp_capacity_records(c, &rs, &n));
    assert_int_equal(n, 1 + 2 + 1 + 2 + 5); /* pool, 2 nodes, stranded 2a, 2 halted, 5 in no pool */
    assert_string_equal(gp_record_get(&rs[0], "kind"), "pool");
    assert_string_equal(gp_record_get(&rs[0], "stranded"), "1");
    assert_string_equal(gp_record_get(&rs[0], "largest-vm-memory-mib"), "24288");
    assert_string_equal(gp_record_get(&rs[1], "kind"), "node");
    assert_string_equal(gp_record_get(&rs[1], "stranded-reasons"), "no-memory");
    assert_string_equal(gp_record_get(&rs[3], "pci-id"), "0000:18:00.0");
    assert_string_equal(gp_record_get(&rs[3], "state"), "halted");
    assert_string_equal(gp_record_get(&rs[3], "halted-seconds"), "60");
    assert_string_equal(gp_record_get(&rs[4], "pci-id"), "0000:2a:00.0");
    assert_string_equal(gp_record_get(&rs[4], "reason"), "no-memory");
    gp_record_list_free(rs, n);

    json_object *o = gp_capacity_json(c), *pools, *p0, *lg, *v;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "pools", &pools));
    p0 = json_object_array_get_idx(pools, 0);
    assert_true(json_object_object_get_ex(p0, "largest_vm", &lg));
    assert_true(json_object_object_get_ex(lg, "memory_mib", &v));
    assert_int_equal(json_object_get_int64(v), 24288);
    json_object_put(o);
    gp_capacity_free(c);
}

/* No history: 1 vCPU / 1024 MiB; an empty host offers a whole node (48
 * vCPUs, 512 GiB) and node 0 wins the tie. */
static void test_default_basis_and_recent_window(void **state)
{
    fx *f = *state;
    gp_capacity *c = NULL;

    OK(f->ctx, gp_pool_create(f->ctx, "p", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL));
    OK(f->ctx, gp_pool_gpu_add(f->ctx, "p", "0000:18:00.0"));
    OK(f->ctx, gp_pool_gpu_add(f->ctx, "p", "0000:9a:00.0"));
    OK(f->ctx, gp_capacity_get(f->ctx, NULL, &c));
    assert_string_equal(c->pools[0].min_basis, "default");
    assert_int_equal(c->pools[0].min_vcpus, GP_CAPACITY_DEFAULT_VCPUS);
    assert_int_equal(c->pools[0].min_memory_mib, GP_CAPACITY_DEFAULT_MEMORY_MIB);
    assert_int_equal(c->pools[0].largest_vcpus, 48);
    assert_int_equal(c->pools[0].largest_memory_mib, 524288);
    assert_int_equal(c->pools[0].largest_node, 0);
    gp_capacity_free(c);

    /* "small" (2 vCPUs) held a GPU for 100 s; "large" (20) holds one. */
    OK(f->ctx, gp_sim_vm_create(f->ctx, "small", 2, 2048, NULL));
    OK(f->ctx, gp_sim_vm_create(f->ctx, "large", 20, 8192, NULL));
    assign(f->ctx, "small", "p", "0000:18:00.0", NULL);
    assign(f->ctx, "large", "p", "0000:9a:00.0", NULL);
    at(T0 + 100);
    OK(f->ctx, gp_vm_gpu_release(f->ctx, "small"));
    /* 29 days later small's interval is recent ... */
    at(T0 + 100 + 29LL * 86400);
    OK(f->ctx, gp_capacity_get(f->ctx, NULL, &c));
    assert_string_equal(c->pools[0].min_basis, "recent");
    assert_int_equal(c->pools[0].min_vcpus, 2);
    assert_int_equal(c->pools[0].min_memory_mib, 2048);
    gp_capacity_free(c);
    /* ... 31 days later only large's open one is. */
    at(T0 + 100 + 31LL * 86400);
    OK(f->ctx, gp_capacity_get(f->ctx, NULL, &c));
    assert_string_equal(c->pools[0].min_basis, "recent");
    assert_int_equal(c->pools[0].min_vcpus, 20);
    assert_int_equal(c->pools[0].min_memory_mib, 8192);
    gp_capacity_free(c);
    /* Intervals recorded before they carried the VM's size (gov schema 3):
     * the current assignments decide. */
    tu_run_result r;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "sqlite3 '%s/state.db' 'UPDATE usage SET vcpus = NULL, "
             "memory_mib = NULL'", f->dir);
    tu_sh(&r, cmd);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    OK(f->ctx, gp_capacity_get(f->ctx, NULL, &c));
    assert_string_equal(c->pools[0].min_basis, "current");
    assert_int_equal(c->pools[0].min_vcpus, 20);
    assert_int_equal(c->pools[0].min_memory_mib, 8192);
    gp_capacity_free(c);
}

/* Another host: not yet (the pool-wide view is missing), and nothing out. */
static void test_host_not_supported(void **state)
{
    fx *f = *state;
    gp_capacity *c = (gp_capacity *)1;
    assert_int_equal(gp_capacity_get(f->ctx, "other", &c), GP_ERR_NOT_SUPPORTED);
    assert_null(c);
    assert_string_equal(gp_ctx_last_error(f->ctx)->params[0].value, "other");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stranded_no_pcpus_and_halted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stranded_no_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_basis_and_recent_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_not_supported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
