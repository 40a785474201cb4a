/*
 * test_gov.c - governance: tenants and quotas (ops/gov.c) with the sim
 * driver on the embedded host: the refusal changes nothing (the database
 * files byte for byte), 32 processes assigning at once never exceed a
 * quota nor share a GPU, quota-set / -list / -remove and their refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "gpupool.h"
#include "testutil.h"

typedef struct {
    char dir[256];
    char db[300];
    gp_ctx *ctx;
} fx;

static gp_ctx *ctx_open(const char *db)
{
    gp_config cfg;
    gp_ctx *ctx = NULL;
    gp_error_info e;
    gp_config_init(&cfg);
    gp_error_info_init(&e);
    cfg.db_path = strdup(db);
    cfg.driver = strdup("sim");
    cfg.topology_file = strdup(GP_TOPOLOGY_EMBEDDED);
    cfg.busy_timeout_ms = 30000;
    assert_int_equal(gp_ctx_alloc(&ctx, &cfg, &e), GP_OK);
    gp_config_dispose(&cfg);
    gp_error_info_dispose(&e);
    return ctx;
}

#define OK(ctx, call) do { int rc_ = (call); \
        if (rc_) fail_msg("%s: %s (%s)", #call, gp_error_name(rc_), \
                          gp_ctx_last_error(ctx)->message); } while (0)

static const char *const gpus[] = { "0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0",
                                    "0000:5d:00.0", "0000:9a:00.0", "0000:ab:00.0" };

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    char *d = tu_scratch_dir("gov");
    assert_non_null(d);
    snprintf(f->dir, sizeof(f->dir), "%s", d);
    free(d);
    snprintf(f->db, sizeof(f->db), "%s/state.db", f->dir);
    f->ctx = ctx_open(f->db);
    OK(f->ctx, gp_pool_create(f->ctx, "train", NULL, GP_NUMA_PREFERRED, GP_PIN_HARD, 1.0, NULL));
    for (size_t i = 0; i < sizeof(gpus) / sizeof(gpus[0]); i++)
        OK(f->ctx, gp_pool_gpu_add(f->ctx, "train", gpus[i]));
    for (int i = 0; i < 32; i++) {
        char name[16];
        snprintf(name, sizeof(name), "vm-%02d", i);
        OK(f->ctx, gp_sim_vm_create(f->ctx, name, 2, 4096, NULL));
    }
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
    free(f);
    return 0;
}

static char *file_bytes(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *b = NULL;
    *len = 0;
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    b = malloc(n > 0 ? (size_t)n : 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, fp) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(fp);
    *len = n > 0 ? (size_t)n : 0;
    return b;
}

/* Over quota: QUOTA_EXCEEDED with tenant, pool, used, limit, and the
 * database and its WAL are byte for byte what they were. */
static void test_refusal_changes_nothing(void **state)
{
    fx *f = *state;
    gp_assign_args aa = { .pool = "train", .tenant = "vision" };
    char wal[320];
    size_t n1, n2, w1, w2;

    OK(f->ctx, gp_quota_set(f->ctx, "vision", "train", 1));
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-00", &aa, NULL));
    snprintf(wal, sizeof(wal), "%s-wal", f->db);
    char *db1 = file_bytes(f->db, &n1), *wal1 = file_bytes(wal, &w1);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm-01", &aa, NULL), GP_ERR_QUOTA_EXCEEDED);
    const gp_error_info *e = gp_ctx_last_error(f->ctx);
    assert_string_equal(e->params[0].key, "tenant");
    assert_string_equal(e->params[0].value, "vision");
    assert_string_equal(e->params[1].key, "pool");
    assert_string_equal(e->params[1].value, "train");
    assert_string_equal(e->params[2].key, "used");
    assert_string_equal(e->params[2].value, "1");
    assert_string_equal(e->params[3].key, "limit");
    assert_string_equal(e->params[3].value, "1");
    char *db2 = file_bytes(f->db, &n2), *wal2 = file_bytes(wal, &w2);
    assert_int_equal(n1, n2);
    assert_memory_equal(db1, db2, n1);
    assert_int_equal(w1, w2);
    if (w1)
        assert_memory_equal(wal1, wal2, w1);
    free(db1);
    free(db2);
    free(wal1);
    free(wal2);
    /* Another tenant is not limited; raising the quota lets vision in. */
    gp_assign_args other = { .pool = "train", .tenant = "speech" };
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-01", &other, NULL));
    OK(f->ctx, gp_quota_set(f->ctx, "vision", "train", 2));
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-02", &aa, NULL));
    gp_assignment a;
    gp_assignment_init(&a);
    OK(f->ctx, gp_assignment_get(f->ctx, "vm-02", &a));
    assert_string_equal(a.tenant, "vision");
    gp_assignment_dispose(&a);
    /* Released GPUs give the quota back. */
    OK(f->ctx, gp_vm_gpu_release(f->ctx, "vm-00"));
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-03", &aa, NULL));
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm-04", &aa, NULL), GP_ERR_QUOTA_EXCEEDED);
}

/* 32 processes assign at once, each a VM of tenant vision (quota 3) or
 * speech (no quota), 6 GPUs: vision never holds more than 3, no GPU twice,
 * and every refusal is the quota or an empty pool. */
static void test_concurrent_never_over_quota(void **state)
{
    fx *f = *state;
    pid_t pids[32];

    OK(f->ctx, gp_quota_set(f->ctx, "vision", "train", 3));
    for (int i = 0; i < 32; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            gp_ctx *c = ctx_open(f->db);
            char name[16];
            gp_assign_args aa = { .pool = "train", .tenant = i % 4 ? "vision" : "speech" };
            snprintf(name, sizeof(name), "vm-%02d", i);
            int rc = gp_vm_gpu_assign(c, name, &aa, NULL);
            gp_ctx_free(c);
            _exit(rc == GP_OK ? 0 : rc == GP_ERR_QUOTA_EXCEEDED ? 2
                                    : rc == GP_ERR_POOL_EMPTY ? 3 : 1);
        }
    }
    int ok = 0, quota = 0, empty = 0, other = 0;
    for (int i = 0; i < 32; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 99;
        ok += code == 0;
        quota += code == 2;
        empty += code == 3;
        other += code != 0 && code != 2 && code != 3;
    }
    assert_int_equal(other, 0);
    gp_assignment *as = NULL;
    size_t n = 0;
    OK(f->ctx, gp_assignment_list(f->ctx, &as, &n));
    int vision = 0;
    for (size_t i = 0; i < n; i++) {
        vision += !strcmp(as[i].tenant, "vision");
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(as[i].pci_id, as[j].pci_id);
    }
    assert_int_equal((int)n, ok);
    assert_int_equal(vision, 3);       /* 24 vision VMs asked: exactly the quota */
    assert_true(quota >= 1);
    assert_int_equal(ok + quota + empty, 32);
    gp_quota *q = NULL;
    size_t nq = 0;
    OK(f->ctx, gp_quota_list(f->ctx, &q, &nq));
    assert_int_equal(nq, 1);
    assert_int_equal(q[0].used, 3);
    gp_quota_list_free(q, nq);
    gp_assignment_list_free(as, n);
}

static void test_quota_refusals(void **state)
{
    fx *f = *state;
    assert_int_equal(gp_quota_set(f->ctx, "", "train", 1), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_quota_set(f->ctx, "a b", "train", 1), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_quota_set(f->ctx, "a=b", "train", 1), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_quota_set(f->ctx, "vision", "train", -1), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_quota_set(f->ctx, "vision", "nope", 1), GP_ERR_UNKNOWN_POOL);
    assert_int_equal(gp_quota_remove(f->ctx, "vision", "train"), GP_ERR_INVALID_ARGUMENT);
    gp_assign_args bad = { .pool = "train", .tenant = "has space" };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm-00", &bad, NULL), GP_ERR_INVALID_ARGUMENT);
    OK(f->ctx, gp_quota_set(f->ctx, "vision", "train", 0));
    gp_assign_args aa = { .pool = "train", .tenant = "vision" };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm-00", &aa, NULL), GP_ERR_QUOTA_EXCEEDED);
    OK(f->ctx, gp_quota_remove(f->ctx, "vision", "train"));
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-00", &aa, NULL));
    /* The audit log has the changes. */
    gp_audit_entry *e = NULL;
    size_t n = 0;
    int sets = 0, removes = 0;
    OK(f->ctx, gp_audit_list(f->ctx, 0, 0, &e, &n));
    for (size_t i = 0; i < n; i++) {
        sets += !strcmp(e[i].operation, "quota-set");
        removes += !strcmp(e[i].operation, "quota-remove");
    }
    gp_audit_list_free(e, n);
    assert_int_equal(sets, 1);
    assert_int_equal(removes, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refusal_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_never_over_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
