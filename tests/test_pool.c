/*
 * test_pool.c - pools and the rules of pool membership, on the embedded
 * dual-socket 8-GPU host with the sim driver.  Every refusal must leave the
 * database byte-for-byte unchanged.
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

#include "gpupool.h"
#include "ops/ops.h"
#include "rpc/rpc.h"
#include "gptest.h"

/* GPUs of the embedded host: 4 on node 0, 4 on node 1. */
#define GPU0 "0000:18:00.0"
#define GPU1 "0000:2a:00.0"
#define GPU2 "0000:3a:00.0"
#define GPU3 "0000:5d:00.0"
#define GPU4 "0000:9a:00.0"
#define NIC "0000:4b:00.0"
#define BRIDGE1 "0000:29:01.0"

typedef gt_env fixture;

static int setup(void **state)
{
    *state = gt_env_sim("pool", "test-pool", 0);
    return 0;
}

static int64_t audit_count(fixture *f)
{
    gp_audit_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(gp_audit_list(f->ctx, 0, 0, &e, &n), GP_OK);
    gp_audit_list_free(e, n);
    return (int64_t)n;
}

static void make_pool(fixture *f, const char *name, char uuid[37])
{
    assert_int_equal(gp_pool_create(f->ctx, name, NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, uuid),
                     GP_OK);
}

/* The host model the context discovered, for tests that need facts the
 * embedded host does not have (boot VGA, IOMMU groups, companions). */
static gp_gpu *host_gpu(fixture *f, const char *pci_id)
{
    const gp_host *h;
    assert_int_equal(gp_host_get(f->ctx, &h), GP_OK);
    for (size_t i = 0; i < f->ctx->host.n_gpus; i++)
        if (!strcmp(f->ctx->host.gpus[i].pci_id, pci_id))
            return &f->ctx->host.gpus[i];
    fail_msg("no GPU %s in the embedded host", pci_id);
    return NULL;
}

static void gpu_set_group(gp_gpu *g, int group, const char *const *members, size_t n)
{
    g->iommu_group = group;
    g->iommu_group_members = calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        g->iommu_group_members[i] = strdup(members[i]);
    g->n_iommu_group_members = n;
}

static void gpu_add_companion(gp_gpu *g, const char *pci_id, uint16_t cls, const char *driver)
{
    g->companions = realloc(g->companions, (g->n_companions + 1) * sizeof(*g->companions));
    gp_companion *c = &g->companions[g->n_companions++];
    memset(c, 0, sizeof(*c));
    snprintf(c->pci_id, sizeof(c->pci_id), "%s", pci_id);
    c->class_code = cls;
    c->driver = driver ? strdup(driver) : NULL;
}

static char *binding(fixture *f, const char *pci_id)
{
    char *d = NULL;
    assert_int_equal(gp_driver_sim.device_driver(&f->ctx->drv, pci_id, &d), GP_OK);
    return d;
}

/* ---- create / list / get / set-param / destroy ----------------------------- */

static void test_create_list_get(void **state)
{
    fixture *f = *state;
    char u1[37], u2[37];
    assert_int_equal(gp_pool_create(f->ctx, "zeta", "second by name", GP_NUMA_SOCKET,
                                    GP_PIN_SOFT, 1.5, u1), GP_OK);
    assert_true(gp_uuid_valid(u1));
    assert_int_equal(gp_pool_create(f->ctx, "alpha", NULL, GP_NUMA_LEGACY, GP_PIN_NONE, 64, u2),
                     GP_OK);
    gp_pool *pools = NULL;
    size_t n = 0;
    assert_int_equal(gp_pool_list(f->ctx, &pools, &n), GP_OK);
    assert_int_equal(n, 2);
    assert_string_equal(pools[0].name_label, "alpha");
    assert_string_equal(pools[0].uuid, u2);
    assert_int_equal(pools[0].numa_policy, GP_NUMA_LEGACY);
    assert_int_equal(pools[0].pin_mode, GP_PIN_NONE);
    assert_true(pools[0].cpu_overcommit == 64.0);
    assert_string_equal(pools[0].name_description, "");
    assert_string_equal(pools[1].name_label, "zeta");
    assert_string_equal(pools[1].name_description, "second by name");
    assert_int_equal(pools[1].numa_policy, GP_NUMA_SOCKET);
    assert_int_equal(pools[1].pin_mode, GP_PIN_SOFT);
    assert_true(pools[1].cpu_overcommit == 1.5);
    assert_int_equal(pools[1].n_gpus, 0);
    assert_non_null(pools[1].created);
    gp_pool_list_free(pools, n);

    gp_pool p;
    gp_pool_init(&p);
    assert_int_equal(gp_pool_get(f->ctx, "zeta", &p), GP_OK);
    assert_string_equal(p.uuid, u1);
    assert_int_equal(gp_pool_get(f->ctx, u2, &p), GP_OK);
    assert_string_equal(p.name_label, "alpha");
    gp_pool_dispose(&p);
    gp_pool_dispose(&p);  /* twice is fine */
    gt_assert_err(f, gp_pool_get(f->ctx, "nope", &p), GP_ERR_UNKNOWN_POOL, "pool", "nope");
    assert_int_equal(audit_count(f), 2);
}

static void test_create_refusals(void **state)
{
    fixture *f = *state;
    make_pool(f, "taken", NULL);
    gt_snap(f);
    gt_assert_err(f, gp_pool_create(f->ctx, "", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1, NULL),
                  GP_ERR_INVALID_ARGUMENT, "name-label", "");
    gt_assert_err(f, gp_pool_create(f->ctx, NULL, NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1, NULL),
                  GP_ERR_INVALID_ARGUMENT, "name-label", NULL);
    gt_assert_err(f, gp_pool_create(f->ctx, "taken", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1, NULL),
                  GP_ERR_POOL_EXISTS, "name-label", "taken");
    gt_assert_err(f, gp_pool_create(f->ctx, "p", NULL, (gp_numa_policy)7, GP_PIN_HARD, 1, NULL),
                  GP_ERR_INVALID_ARGUMENT, "numa-policy", NULL);
    gt_assert_err(f, gp_pool_create(f->ctx, "p", NULL, GP_NUMA_REQUIRED, (gp_pin_mode)3, 1, NULL),
                  GP_ERR_INVALID_ARGUMENT, "pin-mode", NULL);
    gt_assert_err(f, gp_pool_create(f->ctx, "p", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 0, NULL),
                  GP_ERR_INVALID_ARGUMENT, "cpu-overcommit", NULL);
    gt_assert_err(f, gp_pool_create(f->ctx, "p", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, -1, NULL),
                  GP_ERR_INVALID_ARGUMENT, "cpu-overcommit", NULL);
    gt_assert_err(f, gp_pool_create(f->ctx, "p", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 64.01, NULL),
                  GP_ERR_INVALID_ARGUMENT, "cpu-overcommit", NULL);
    gt_assert_err(f, gp_pool_create(f->ctx, "p", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, NAN, NULL),
                  GP_ERR_INVALID_ARGUMENT, "cpu-overcommit", NULL);
    gt_assert_err(f, gp_pool_create(f->ctx, "6f1c9a4e-0b7d-4c3e-9a51-2d8e4f6a7b90", NULL,
                                 GP_NUMA_REQUIRED, GP_PIN_HARD, 1, NULL),
                  GP_ERR_INVALID_ARGUMENT, "name-label", NULL);
    gt_assert_unchanged(f);
}

static void test_set_param(void **state)
{
    fixture *f = *state;
    char u[37];
    make_pool(f, "a", u);
    make_pool(f, "b", NULL);
    assert_int_equal(gp_pool_set_param(f->ctx, "a", "name-label", "c"), GP_OK);
    assert_int_equal(gp_pool_set_param(f->ctx, u, "name-description", "desc"), GP_OK);
    assert_int_equal(gp_pool_set_param(f->ctx, "c", "numa-policy", "preferred"), GP_OK);
    assert_int_equal(gp_pool_set_param(f->ctx, "c", "pin-mode", "soft"), GP_OK);
    assert_int_equal(gp_pool_set_param(f->ctx, "c", "cpu-overcommit", "2.5"), GP_OK);
    gp_pool p;
    gp_pool_init(&p);
    assert_int_equal(gp_pool_get(f->ctx, u, &p), GP_OK);
    assert_string_equal(p.name_label, "c");
    assert_string_equal(p.name_description, "desc");
    assert_int_equal(p.numa_policy, GP_NUMA_PREFERRED);
    assert_int_equal(p.pin_mode, GP_PIN_SOFT);
    assert_true(p.cpu_overcommit == 2.5);
    gp_pool_dispose(&p);
    assert_int_equal(audit_count(f), 7);

    gt_snap(f);
    gt_assert_err(f, gp_pool_set_param(f->ctx, "c", "name-label", "b"), GP_ERR_POOL_EXISTS,
                  "name-label", "b");
    gt_assert_err(f, gp_pool_set_param(f->ctx, "c", "name-label", ""), GP_ERR_INVALID_ARGUMENT,
                  "name-label", "");
    gt_assert_err(f, gp_pool_set_param(f->ctx, "c", "numa-policy", "strict"),
                  GP_ERR_INVALID_ARGUMENT, "numa-policy", "strict");
    gt_assert_err(f, gp_pool_set_param(f->ctx, "c", "pin-mode", "firm"), GP_ERR_INVALID_ARGUMENT,
                  "pin-mode", "firm");
    gt_assert_err(f, gp_pool_set_param(f->ctx, "c", "cpu-overcommit", "0"),
                  GP_ERR_INVALID_ARGUMENT, "cpu-overcommit", "0");
    gt_assert_err(f, gp_pool_set_param(f->ctx, "c", "cpu-overcommit", "65"),
                  GP_ERR_INVALID_ARGUMENT, "cpu-overcommit", "65");
    gt_assert_err(f, gp_pool_set_param(f->ctx, "c", "cpu-overcommit", "2x"),
                  GP_ERR_INVALID_ARGUMENT, "cpu-overcommit", "2x");
    gt_assert_err(f, gp_pool_set_param(f->ctx, "c", "colour", "red"), GP_ERR_INVALID_ARGUMENT,
                  "param", "colour");
    gt_assert_err(f, gp_pool_set_param(f->ctx, "a", "pin-mode", "hard"), GP_ERR_UNKNOWN_POOL,
                  "pool", "a");
    gt_assert_unchanged(f);
}

/* ---- the Xen cpupool of a pool --------------------------------------------- */

/* True when an audit column's JSON text holds "key":"value". */
static bool audit_has(const char *json, const char *key, const char *value)
{
    char *want = NULL;
    bool found;
    assert_true(asprintf(&want, "\"%s\":\"%s\"", key, value) > 0);
    found = json && strstr(json, want);
    free(want);
    return found;
}

static void test_cpupool_create_get_list(void **state)
{
    fixture *f = *state;
    char u1[37], u2[37];
    gp_pool_spec spec;

    /* gp_pool_create: the default cpupool. */
    make_pool(f, "plain", u1);
    gp_pool_spec_init(&spec);
    assert_null(spec.cpupool);
    assert_int_equal(spec.policy, GP_NUMA_REQUIRED);
    assert_int_equal(spec.pin, GP_PIN_HARD);
    assert_true(spec.cpu_overcommit == 1.0);
    spec.name_label = "gpu-vms";
    spec.description = "in their own cpupool";
    spec.policy = GP_NUMA_PREFERRED;
    spec.pin = GP_PIN_SOFT;
    spec.cpu_overcommit = 2;
    spec.cpupool = "gpu";
    assert_int_equal(gp_pool_create_ex(f->ctx, &spec, u2), GP_OK);
    assert_true(gp_uuid_valid(u2));

    gp_pool p;
    gp_pool_init(&p);
    assert_int_equal(gp_pool_get(f->ctx, u1, &p), GP_OK);
    assert_string_equal(p.cpupool, GP_CPUPOOL_DEFAULT);
    assert_string_equal(p.cpupool, "Pool-0");
    assert_int_equal(gp_pool_get(f->ctx, "gpu-vms", &p), GP_OK);
    assert_string_equal(p.cpupool, "gpu");
    assert_string_equal(p.name_description, "in their own cpupool");
    assert_int_equal(p.numa_policy, GP_NUMA_PREFERRED);
    assert_int_equal(p.pin_mode, GP_PIN_SOFT);
    assert_true(p.cpu_overcommit == 2.0);
    gp_pool_dispose(&p);
    assert_null(p.cpupool);

    gp_pool *pools = NULL;
    size_t n = 0;
    assert_int_equal(gp_pool_list(f->ctx, &pools, &n), GP_OK);
    assert_int_equal(n, 2);
    assert_string_equal(pools[0].name_label, "gpu-vms");
    assert_string_equal(pools[0].cpupool, "gpu");
    assert_string_equal(pools[1].cpupool, "Pool-0");
    gp_pool_list_free(pools, n);

    /* Records: a cpupool field on every pool. */
    gp_record *rs = NULL;
    assert_int_equal(gp_pool_records(f->ctx, &rs, &n), GP_OK);
    assert_int_equal(n, 2);
    assert_string_equal(gp_record_get(&rs[0], "cpupool"), "gpu");
    assert_string_equal(gp_record_get(&rs[1], "cpupool"), "Pool-0");
    gp_record_list_free(rs, n);

    /* set-param; the audit rows carry the cpupool before and after. */
    assert_int_equal(gp_pool_set_param(f->ctx, "plain", "cpupool", "gpu-2"), GP_OK);
    assert_int_equal(gp_pool_get(f->ctx, u1, &p), GP_OK);
    assert_string_equal(p.cpupool, "gpu-2");
    gp_pool_dispose(&p);
    gp_audit_entry *e = NULL;
    assert_int_equal(gp_audit_list(f->ctx, 0, 0, &e, &n), GP_OK);
    assert_int_equal(n, 3);
    assert_string_equal(e[0].operation, "pool-create");
    assert_true(audit_has(e[0].after, "cpupool", "Pool-0"));
    assert_string_equal(e[1].operation, "pool-create");
    assert_true(audit_has(e[1].after, "cpupool", "gpu"));
    assert_string_equal(e[2].operation, "pool-param-set");
    assert_true(audit_has(e[2].before, "cpupool", "Pool-0"));
    assert_true(audit_has(e[2].after, "cpupool", "gpu-2"));
    gp_audit_list_free(e, n);

    /* 64 bytes is the longest name; printable punctuation and spaces pass. */
    char longest[GP_CPUPOOL_NAME_MAX + 1];
    memset(longest, 'x', GP_CPUPOOL_NAME_MAX);
    longest[GP_CPUPOOL_NAME_MAX] = '\0';
    assert_int_equal(gp_pool_set_param(f->ctx, "plain", "cpupool", longest), GP_OK);
    assert_int_equal(gp_pool_set_param(f->ctx, "plain", "cpupool", "gpu pool_1.a-b"), GP_OK);
    assert_int_equal(gp_pool_get(f->ctx, u1, &p), GP_OK);
    assert_string_equal(p.cpupool, "gpu pool_1.a-b");
    gp_pool_dispose(&p);
}

static void test_cpupool_refusals(void **state)
{
    fixture *f = *state;
    char too_long[GP_CPUPOOL_NAME_MAX + 2];
    static const char *const bad[] = { "", "a\"b", "a'b", "a\\b", "tab\there", "new\nline",
                                       "caf\xc3\xa9", "\x7f" };
    gp_pool_spec spec;

    memset(too_long, 'x', GP_CPUPOOL_NAME_MAX + 1);
    too_long[GP_CPUPOOL_NAME_MAX + 1] = '\0';
    make_pool(f, "c", NULL);
    assert_int_equal(gp_pool_set_param(f->ctx, "c", "cpupool", "gpu"), GP_OK);
    gt_snap(f);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gt_assert_err(f, gp_pool_set_param(f->ctx, "c", "cpupool", bad[i]),
                      GP_ERR_INVALID_ARGUMENT, "cpupool", bad[i]);
        gp_pool_spec_init(&spec);
        spec.name_label = "new";
        spec.cpupool = bad[i];
        gt_assert_err(f, gp_pool_create_ex(f->ctx, &spec, NULL), GP_ERR_INVALID_ARGUMENT,
                      "cpupool", bad[i]);
    }
    gt_assert_err(f, gp_pool_set_param(f->ctx, "c", "cpupool", too_long),
                  GP_ERR_INVALID_ARGUMENT, "cpupool", NULL);
    assert_non_null(strstr(gp_ctx_last_error(f->ctx)->message, "64"));
    gt_assert_err(f, gp_pool_set_param(f->ctx, "c", "cpupool", NULL), GP_ERR_INVALID_ARGUMENT,
                  "param", "cpupool");
    gt_assert_err(f, gp_pool_set_param(f->ctx, "nope", "cpupool", "gpu"), GP_ERR_UNKNOWN_POOL,
                  "pool", "nope");
    gt_assert_err(f, gp_pool_create_ex(f->ctx, NULL, NULL), GP_ERR_INVALID_ARGUMENT, NULL, NULL);
    /* The other fields of a spec are checked as gp_pool_create checks them. */
    gp_pool_spec_init(&spec);
    spec.name_label = "c";
    spec.cpupool = "gpu";
    gt_assert_err(f, gp_pool_create_ex(f->ctx, &spec, NULL), GP_ERR_POOL_EXISTS, "name-label",
                  "c");
    spec.name_label = "d";
    spec.cpu_overcommit = 0;
    gt_assert_err(f, gp_pool_create_ex(f->ctx, &spec, NULL), GP_ERR_INVALID_ARGUMENT,
                  "cpu-overcommit", NULL);
    gt_assert_unchanged(f);
    gp_pool p;
    gp_pool_init(&p);
    assert_int_equal(gp_pool_get(f->ctx, "c", &p), GP_OK);
    assert_string_equal(p.cpupool, "gpu");
    gp_pool_dispose(&p);
}

static void test_destroy(void **state)
{
    fixture *f = *state;
    char u[37];
    make_pool(f, "full", u);
    make_pool(f, "empty", NULL);
    assert_int_equal(gp_pool_gpu_add(f->ctx, "full", GPU0), GP_OK);
    gt_snap(f);
    gt_assert_err(f, gp_pool_destroy(f->ctx, "full"), GP_ERR_POOL_NOT_EMPTY, "pool", u);
    gt_assert_err(f, gp_pool_destroy(f->ctx, "ghost"), GP_ERR_UNKNOWN_POOL, "pool", "ghost");
    gt_assert_unchanged(f);
    assert_int_equal(gp_pool_destroy(f->ctx, "empty"), GP_OK);
    gp_pool *pools = NULL;
    size_t n = 0;
    assert_int_equal(gp_pool_list(f->ctx, &pools, &n), GP_OK);
    assert_int_equal(n, 1);
    assert_string_equal(pools[0].name_label, "full");
    assert_int_equal(pools[0].n_gpus, 1);
    assert_string_equal(pools[0].gpus[0], GPU0);
    gp_pool_list_free(pools, n);
    gp_audit_entry *e = NULL;
    assert_int_equal(gp_audit_list(f->ctx, 0, 0, &e, &n), GP_OK);
    assert_string_equal(e[n - 1].operation, "pool-destroy");
    assert_non_null(e[n - 1].before);
    assert_null(e[n - 1].after);
    gp_audit_list_free(e, n);
}

/* ---- membership ---------------------------------------------------------- */

static void test_gpu_add_remove(void **state)
{
    fixture *f = *state;
    char u[37];
    make_pool(f, "p", u);
    int64_t n0 = audit_count(f);
    /* Any spelling of the pci-id; stored canonical. */
    assert_int_equal(gp_pool_gpu_add(f->ctx, "p", "2A:00.0"), GP_OK);
    assert_int_equal(gp_pool_gpu_add(f->ctx, u, GPU0), GP_OK);
    gp_pool p;
    gp_pool_init(&p);
    assert_int_equal(gp_pool_get(f->ctx, "p", &p), GP_OK);
    assert_int_equal(p.n_gpus, 2);
    assert_string_equal(p.gpus[0], GPU0);
    assert_string_equal(p.gpus[1], GPU1);
    gp_pool_dispose(&p);
    assert_int_equal(audit_count(f), n0 + 2);
    /* Made assignable: bound to pciback, the original driver remembered. */
    char *d = binding(f, GPU0);
    assert_string_equal(d, "pciback");
    free(d);

    /* Adding again: success, nothing changes (no audit row either). */
    gt_snap(f);
    assert_int_equal(gp_pool_gpu_add(f->ctx, "p", GPU0), GP_OK);
    gt_assert_unchanged(f);

    assert_int_equal(gp_pool_gpu_remove(f->ctx, NULL, GPU0), GP_OK);
    assert_int_equal(gp_pool_gpu_remove(f->ctx, "p", "0000:2a:00.0"), GP_OK);
    d = binding(f, GPU0);
    assert_string_equal(d, "none");  /* the embedded host does not know its driver */
    free(d);
    assert_int_equal(gp_pool_get(f->ctx, "p", &p), GP_OK);
    assert_int_equal(p.n_gpus, 0);
    gp_pool_dispose(&p);
    gp_audit_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(gp_audit_list(f->ctx, 0, 0, &e, &n), GP_OK);
    assert_int_equal(n, (size_t)n0 + 4);
    assert_string_equal(e[n - 1].operation, "pool-gpu-remove");
    assert_string_equal(e[n - 1].object, GPU1);
    assert_non_null(strstr(e[n - 1].before, u));
    gp_audit_list_free(e, n);
}

static void test_gpu_add_refusals(void **state)
{
    fixture *f = *state;
    char other[37];
    make_pool(f, "p", NULL);
    make_pool(f, "other", other);
    assert_int_equal(gp_pool_gpu_add(f->ctx, "other", GPU3), GP_OK);
    /* Facts the embedded host lacks. */
    host_gpu(f, GPU0)->boot_vga = GP_YES;
    static const char *const g1[] = { BRIDGE1, NIC };
    gpu_set_group(host_gpu(f, GPU1), 7, g1, 2);
    gt_snap(f);

    gt_assert_err(f, gp_pool_gpu_add(f->ctx, "p", "0000:18:00"), GP_ERR_PCI_ID_INVALID,
                  "pci-id", "0000:18:00");
    gt_assert_err(f, gp_pool_gpu_add(f->ctx, "p", "0000:18:20.0"), GP_ERR_PCI_ID_INVALID,
                  "pci-id", NULL);
    gt_assert_err(f, gp_pool_gpu_add(f->ctx, "p", "0000:19:00.0"), GP_ERR_UNKNOWN_GPU,
                  "pci-id", "0000:19:00.0");
    /* A NIC is a PCI function, not a GPU. */
    gt_assert_err(f, gp_pool_gpu_add(f->ctx, "p", NIC), GP_ERR_UNKNOWN_GPU, "pci-id", NIC);
    gt_assert_err(f, gp_pool_gpu_add(f->ctx, "nope", GPU2), GP_ERR_UNKNOWN_POOL, "pool", "nope");
    gt_assert_err(f, gp_pool_gpu_add(f->ctx, "p", GPU0), GP_ERR_GPU_BOOT_VGA, "pci-id", GPU0);
    gt_assert_err(f, gp_pool_gpu_add(f->ctx, "p", GPU1), GP_ERR_IOMMU_GROUP, "device", NIC);
    gt_assert_err(f, gp_pool_gpu_add(f->ctx, "p", GPU3), GP_ERR_GPU_IN_OTHER_POOL, "pool", other);
    assert_non_null(strstr(gp_ctx_last_error(f->ctx)->message, "other"));
    gt_assert_unchanged(f);
}

static void test_gpu_add_companions_and_bridges(void **state)
{
    fixture *f = *state;
    make_pool(f, "p", NULL);
    gp_gpu *g = host_gpu(f, GPU2);
    free(g->driver);
    g->driver = strdup("nvidia");
    gpu_add_companion(g, "0000:3a:00.1", 0x0403, "snd_hda_intel");
    /* Group: the GPU's own audio function and its root port are fine. */
    static const char *const grp[] = { "0000:3a:00.1", "0000:39:01.0" };
    gpu_set_group(g, 12, grp, 2);
    assert_int_equal(gp_pool_gpu_add(f->ctx, "p", GPU2), GP_OK);
    char *d = binding(f, GPU2);
    assert_string_equal(d, "pciback");
    free(d);
    d = binding(f, "0000:3a:00.1");
    assert_string_equal(d, "pciback");
    free(d);
    gp_audit_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(gp_audit_list(f->ctx, 0, 0, &e, &n), GP_OK);
    assert_string_equal(e[n - 1].operation, "pool-gpu-add");
    assert_non_null(strstr(e[n - 1].after, "\"original_driver\":\"nvidia\""));
    assert_non_null(strstr(e[n - 1].after, "\"original_driver\":\"snd_hda_intel\""));
    gp_audit_list_free(e, n);

    /* Removal gives both back to their original drivers. */
    assert_int_equal(gp_pool_gpu_remove(f->ctx, "p", GPU2), GP_OK);
    d = binding(f, GPU2);
    assert_string_equal(d, "nvidia");
    free(d);
    d = binding(f, "0000:3a:00.1");
    assert_string_equal(d, "snd_hda_intel");
    free(d);
}

static void test_gpu_remove_refusals(void **state)
{
    fixture *f = *state;
    char vm[37];
    make_pool(f, "p", NULL);
    make_pool(f, "q", NULL);
    assert_int_equal(gp_pool_gpu_add(f->ctx, "p", GPU0), GP_OK);
    assert_int_equal(gp_pool_gpu_add(f->ctx, "p", GPU4), GP_OK);
    assert_int_equal(gp_sim_vm_create(f->ctx, "vm1", 4, 8192, vm), GP_OK);
    gp_assign_args args = { .pci_id = GPU0 };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm1", &args, NULL), GP_OK);
    gt_snap(f);
    gt_assert_err(f, gp_pool_gpu_remove(f->ctx, "p", GPU0), GP_ERR_GPU_ASSIGNED, "vm", vm);
    gt_assert_err(f, gp_pool_gpu_remove(f->ctx, NULL, GPU1), GP_ERR_GPU_NOT_IN_POOL, "pci-id",
                  GPU1);
    gt_assert_err(f, gp_pool_gpu_remove(f->ctx, "q", GPU4), GP_ERR_GPU_NOT_IN_POOL, "pool", "q");
    gt_assert_err(f, gp_pool_gpu_remove(f->ctx, "nope", GPU4), GP_ERR_UNKNOWN_POOL, "pool", "nope");
    gt_assert_err(f, gp_pool_gpu_remove(f->ctx, "p", "zz"), GP_ERR_PCI_ID_INVALID, "pci-id", "zz");
    gt_assert_err(f, gp_pool_destroy(f->ctx, "p"), GP_ERR_POOL_NOT_EMPTY, "pool", NULL);
    gt_assert_unchanged(f);
}

/* A string of n copies of c (caller frees). */
static char *repeat(const char *c, size_t n)
{
    size_t l = strlen(c);
    char *s = malloc(n * l + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * l, c, l);
    s[n * l] = '\0';
    return s;
}

/* name-label: at most GP_NAME_LABEL_MAX (255) bytes, no control character;
 * name-description: at most GP_NAME_DESCRIPTION_MAX (1024) bytes, tab and
 * line breaks allowed; both on create and on set-param, refusals naming the
 * field and its length and changing nothing. */
static void test_name_limits(void **state)
{
    fixture *f = *state;
    char *name255 = repeat("n", GP_NAME_LABEL_MAX), *name256 = repeat("n", 256);
    char *desc1024 = repeat("d", GP_NAME_DESCRIPTION_MAX), *desc1025 = repeat("d", 1025);
    char *utf8 = repeat("\xc3\xa9", 128);  /* 128 characters, 256 bytes */
    char u[37];

    assert_int_equal(GP_NAME_LABEL_MAX, 255);
    assert_int_equal(GP_NAME_DESCRIPTION_MAX, 1024);
    assert_int_equal(gp_pool_create(f->ctx, name255, desc1024, GP_NUMA_REQUIRED, GP_PIN_HARD, 1,
                                    u), GP_OK);
    assert_int_equal(gp_pool_create(f->ctx, "multi", "line one\n\tline two\r\n",
                                    GP_NUMA_REQUIRED, GP_PIN_HARD, 1, NULL), GP_OK);
    gp_pool p;
    gp_pool_init(&p);
    assert_int_equal(gp_pool_get(f->ctx, u, &p), GP_OK);
    assert_string_equal(p.name_label, name255);
    assert_string_equal(p.name_description, desc1024);
    gp_pool_dispose(&p);

    gt_snap(f);
    gt_assert_err(f, gp_pool_create(f->ctx, name256, NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1, NULL),
                  GP_ERR_INVALID_ARGUMENT, "length", "256");
    assert_string_equal(gt_err_param(f, "max-length"), "255");
    /* The param shows the first 64 bytes only. */
    char *shown = repeat("n", 64);
    char *want = NULL;
    assert_true(asprintf(&want, "%s...", shown) > 0);
    assert_string_equal(gt_err_param(f, "name-label"), want);
    assert_non_null(strstr(gp_ctx_last_error(f->ctx)->message, "name-label is 256 bytes long"));
    free(want);
    free(shown);
    /* Bytes, not characters; a cut never splits a UTF-8 sequence. */
    gt_assert_err(f, gp_pool_create(f->ctx, utf8, NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1, NULL),
                  GP_ERR_INVALID_ARGUMENT, "length", "256");
    shown = repeat("\xc3\xa9", 32);
    assert_true(asprintf(&want, "%s...", shown) > 0);
    assert_string_equal(gt_err_param(f, "name-label"), want);
    free(want);
    free(shown);
    gt_assert_err(f, gp_pool_create(f->ctx, "d", desc1025, GP_NUMA_REQUIRED, GP_PIN_HARD, 1, NULL),
                  GP_ERR_INVALID_ARGUMENT, "length", "1025");
    gt_err_param(f, "name-description");
    static const char *const bad_names[] = { "two\nlines", "tab\there", "cr\r", "esc\x1b[2J",
                                             "del\x7f", "\x01" };
    for (size_t i = 0; i < GP_ARRAY_SIZE(bad_names); i++) {
        gt_assert_err(f, gp_pool_create(f->ctx, bad_names[i], NULL, GP_NUMA_REQUIRED, GP_PIN_HARD,
                                        1, NULL), GP_ERR_INVALID_ARGUMENT, "name-label", NULL);
        assert_non_null(strstr(gp_ctx_last_error(f->ctx)->message, "control characters"));
        gt_assert_err(f, gp_pool_set_param(f->ctx, u, "name-label", bad_names[i]),
                      GP_ERR_INVALID_ARGUMENT, "name-label", NULL);
    }
    gt_assert_err(f, gp_pool_create(f->ctx, "e", "bell\a", GP_NUMA_REQUIRED, GP_PIN_HARD, 1, NULL),
                  GP_ERR_INVALID_ARGUMENT, "name-description", NULL);
    gt_assert_err(f, gp_pool_set_param(f->ctx, u, "name-label", name256), GP_ERR_INVALID_ARGUMENT,
                  "length", "256");
    gt_assert_err(f, gp_pool_set_param(f->ctx, u, "name-description", desc1025),
                  GP_ERR_INVALID_ARGUMENT, "length", "1025");
    gt_assert_err(f, gp_pool_set_param(f->ctx, u, "name-description", "esc\x1b"),
                  GP_ERR_INVALID_ARGUMENT, "name-description", NULL);
    gt_assert_unchanged(f);

    assert_int_equal(gp_pool_set_param(f->ctx, u, "name-description", "a\nb"), GP_OK);
    assert_int_equal(gp_pool_set_param(f->ctx, u, "name-label", "short"), GP_OK);
    free(name255);
    free(name256);
    free(desc1024);
    free(desc1025);
    free(utf8);
}

static void test_two_contexts_see_each_other(void **state)
{
    fixture *f = *state;
    gp_ctx *other = gt_ctx_embedded(f->db, "sim", "test-pool", 0);
    make_pool(f, "p", NULL);
    assert_int_equal(gp_pool_gpu_add(other, "p", GPU0), GP_OK);
    /* A GPU is in at most one pool, whoever asks. */
    make_pool(f, "q", NULL);
    assert_int_equal(gp_pool_gpu_add(f->ctx, "q", GPU0), GP_ERR_GPU_IN_OTHER_POOL);
    gp_ctx_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_list_get, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_create_refusals, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_set_param, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_cpupool_create_get_list, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_cpupool_refusals, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_destroy, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_gpu_add_remove, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_gpu_add_refusals, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_gpu_add_companions_and_bridges, setup,
                                        gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_gpu_remove_refusals, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_two_contexts_see_each_other, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_name_limits, setup, gt_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
