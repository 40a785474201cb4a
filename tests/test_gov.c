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
#include "gptest.h"

typedef struct {
    char dir[256];
    char db[300];
    gp_ctx *ctx;
} fx;

/* The sim driver on the embedded host; 32 processes share the database. */
static gp_ctx *ctx_open(const char *db)
{
    return gt_ctx_embedded(db, "sim", NULL, 30000);
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
    /* 24 vision VMs asked: never more than the quota, and the quota unless
     * speech's 8 (no quota) filled the 6 GPUs first. */
    assert_true(vision <= 3);
    if (vision < 3)
        assert_int_equal((int)n, 6);
    else
        assert_true(quota >= 1);
    assert_int_equal(ok + quota + empty, 32);
    gp_quota *q = NULL;
    size_t nq = 0;
    OK(f->ctx, gp_quota_list(f->ctx, &q, &nq));
    assert_int_equal(nq, 1);
    assert_int_equal(q[0].used, vision);
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

static void at(int64_t t)
{
    char b[24];
    snprintf(b, sizeof(b), "%lld", (long long)t);
    setenv("GPUPOOL_NOW", b, 1);
}

/* Which VM holds GPU pci, "" when free. */
static void holder(gp_ctx *ctx, const char *pci, char *out, size_t len)
{
    gp_assignment *as = NULL;
    size_t n = 0;
    out[0] = '\0';
    OK(ctx, gp_assignment_list(ctx, &as, &n));
    for (size_t i = 0; i < n; i++)
        if (!strcmp(as[i].pci_id, pci))
            snprintf(out, len, "%s", as[i].vm_name_label ? as[i].vm_name_label : "");
    gp_assignment_list_free(as, n);
}

/* A queue forms on a one-GPU pool and drains as the GPU is released, each
 * release serving the next request at once: priority first, then fair
 * share.  Tenant A used 3 GPU-hours before, B 1: B is served 3 times in
 * the first 4, then they alternate; positions and waits are exact. */
static void test_queue_priority_and_fair_share(void **state)
{
    fx *f = *state;
    const int64_t T0 = 1800000000;
    char h[64];
    gp_assign_args a1 = { .pool = "one", .tenant = "A" }, b1 = { .pool = "one", .tenant = "B" };

    OK(f->ctx, gp_pool_create(f->ctx, "one", NULL, GP_NUMA_PREFERRED, GP_PIN_HARD, 1.0, NULL));
    OK(f->ctx, gp_pool_gpu_add(f->ctx, "one", "0000:db:00.0"));
    /* Past use: A 3 h, B 1 h. */
    at(T0 - 10 * 3600);
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-00", &a1, NULL));
    at(T0 - 7 * 3600);
    OK(f->ctx, gp_vm_gpu_release(f->ctx, "vm-00"));
    at(T0 - 6 * 3600);
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-01", &b1, NULL));
    at(T0 - 5 * 3600);
    OK(f->ctx, gp_vm_gpu_release(f->ctx, "vm-01"));
    /* The GPU busy (tenant C), then 4 requests of A (older) and 4 of B. */
    at(T0);
    gp_assign_args c1 = { .pool = "one", .tenant = "C" };
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-02", &c1, NULL));
    const char *order[] = { "vm-10", "vm-11", "vm-12", "vm-13", "vm-20", "vm-21", "vm-22",
                            "vm-23" };
    for (int i = 0; i < 8; i++) {
        gp_request_args ra = { .pool = "one", .tenant = i < 4 ? "A" : "B" };
        gp_request rq;
        bool queued = false;
        at(T0 + 10 * i);
        memset(&rq, 0, sizeof(rq));
        OK(f->ctx, gp_vm_gpu_request(f->ctx, order[i], &ra, NULL, &rq, &queued));
        assert_true(queued);
        free(rq.pool_name_label);
        free(rq.tenant);
        free(rq.requested_by);
        free(rq.on_behalf_of);
    }
    /* One high-priority request of A jumps the queue. */
    gp_request_args hi = { .pool = "one", .tenant = "A", .priority = 7 };
    bool q = false;
    at(T0 + 100);
    OK(f->ctx, gp_vm_gpu_request(f->ctx, "vm-30", &hi, NULL, NULL, &q));
    assert_true(q);
    at(T0 + 1000);
    gp_request *r = NULL;
    size_t n = 0;
    OK(f->ctx, gp_request_list(f->ctx, &r, &n));
    assert_int_equal(n, 9);
    assert_int_equal(r[0].position, 1);
    assert_string_equal(r[0].tenant, "A");        /* priority 7 */
    assert_int_equal(r[0].priority, 7);
    assert_int_equal(r[0].wait_seconds, 900);
    assert_string_equal(r[1].tenant, "B");        /* less past use than A */
    assert_int_equal(r[1].wait_seconds, 1000 - 40);
    assert_int_equal(r[1].position, 2);
    gp_request_list_free(r, n);

    /* Drain: every hour the holder is released; record who got the GPU. */
    char seq[16] = "";
    for (int k = 0; k < 9; k++) {
        holder(f->ctx, "0000:db:00.0", h, sizeof(h));
        at(T0 + 3600 * (k + 1));
        OK(f->ctx, gp_vm_gpu_release(f->ctx, h));
        holder(f->ctx, "0000:db:00.0", h, sizeof(h));
        assert_true(h[0] != '\0');               /* served at once: nothing polls */
        seq[k] = !strcmp(h, "vm-30") ? 'H' : h[3] == '1' ? 'A' : 'B';
    }
    /* H first (priority 7).  Its hour makes A's use 4 h against B's 1 h,
     * so B is served three times until even (4:4); then A (the tie goes to
     * the tenant whose use is older, so decayed more), B, and A's last two
     * once B has no request left. */
    assert_string_equal(seq, "HBBBABAAA");
    OK(f->ctx, gp_request_list(f->ctx, &r, &n));
    assert_int_equal(n, 0);
    gp_request_list_free(r, n);
    unsetenv("GPUPOOL_NOW");
}

/* A request of a VM that was started meanwhile is dropped with an audit
 * row; a cancelled one is gone; a second request for one VM is refused. */
static void test_queue_drop_and_cancel(void **state)
{
    fx *f = *state;
    gp_request_args ra = { .pool = "one" };
    bool q;
    OK(f->ctx, gp_pool_create(f->ctx, "one", NULL, GP_NUMA_PREFERRED, GP_PIN_HARD, 1.0, NULL));
    OK(f->ctx, gp_pool_gpu_add(f->ctx, "one", "0000:db:00.0"));
    OK(f->ctx, gp_vm_gpu_request(f->ctx, "vm-00", &ra, NULL, NULL, &q));
    assert_false(q);                              /* a free GPU: assigned at once */
    OK(f->ctx, gp_vm_gpu_request(f->ctx, "vm-01", &ra, NULL, NULL, &q));
    assert_true(q);
    assert_int_equal(gp_vm_gpu_request(f->ctx, "vm-01", &ra, NULL, NULL, &q),
                     GP_ERR_INVALID_ARGUMENT);
    OK(f->ctx, gp_vm_gpu_request(f->ctx, "vm-02", &ra, NULL, NULL, &q));
    assert_true(q);
    OK(f->ctx, gp_request_cancel(f->ctx, "vm-02"));
    assert_int_equal(gp_request_cancel(f->ctx, "vm-02"), GP_ERR_INVALID_ARGUMENT);
    OK(f->ctx, gp_sim_vm_start(f->ctx, "vm-01"));
    OK(f->ctx, gp_vm_gpu_release(f->ctx, "vm-00"));
    gp_request *r = NULL;
    size_t n = 0;
    OK(f->ctx, gp_request_list(f->ctx, &r, &n));
    assert_int_equal(n, 0);
    gp_request_list_free(r, n);
    char h[64];
    holder(f->ctx, "0000:db:00.0", h, sizeof(h));
    assert_string_equal(h, "");                   /* vm-01 runs: dropped, not served */
    gp_audit_entry *e = NULL;
    size_t ne = 0;
    int drops = 0, cancels = 0;
    OK(f->ctx, gp_audit_list(f->ctx, 0, 0, &e, &ne));
    for (size_t i = 0; i < ne; i++) {
        drops += !strcmp(e[i].operation, "request-drop");
        cancels += !strcmp(e[i].operation, "request-cancel");
    }
    gp_audit_list_free(e, ne);
    assert_int_equal(drops, 1);
    assert_int_equal(cancels, 1);
    /* Bad priority. */
    gp_request_args bad = { .pool = "one", .priority = 10 };
    assert_int_equal(gp_vm_gpu_request(f->ctx, "vm-03", &bad, NULL, NULL, &q),
                     GP_ERR_INVALID_ARGUMENT);
}

/* GPU-hours to the second: vm-00 (tenant vision) holds a GPU from T for an
 * hour and runs from T+100 to T+1000; vm-01 (speech) holds one from T+1800
 * to T+5400 and runs from T+2000 on (still running at T+7200). */
static void test_usage_report_exact(void **state)
{
    fx *f = *state;
    const int64_t T = 1796083200;       /* 2026-12-01T00:00:00Z */
    gp_assign_args v = { .pool = "train", .tenant = "vision" };
    gp_assign_args s = { .pool = "train", .tenant = "speech" };
    gp_usage_row *r = NULL;
    size_t n = 0;
    int64_t t;

    at(T);
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-00", &v, NULL));
    at(T + 100);
    OK(f->ctx, gp_sim_vm_start(f->ctx, "vm-00"));
    at(T + 1000);
    OK(f->ctx, gp_sim_vm_shutdown(f->ctx, "vm-00"));
    at(T + 1800);
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-01", &s, NULL));
    at(T + 2000);
    OK(f->ctx, gp_sim_vm_start(f->ctx, "vm-01"));
    at(T + 3600);
    OK(f->ctx, gp_vm_gpu_release(f->ctx, "vm-00"));
    at(T + 5400);
    OK(f->ctx, gp_sim_vm_shutdown(f->ctx, "vm-01"));
    OK(f->ctx, gp_vm_gpu_release(f->ctx, "vm-01"));
    at(T + 7200);
    assert_int_equal(gp_time_parse("2026-12-01T00:00:00Z", &t), GP_OK);
    assert_int_equal(t, T);
    assert_int_equal(gp_time_parse("yesterday", &t), GP_ERR_INVALID_ARGUMENT);

    assert_int_equal(gp_pool_set_param(f->ctx, "train", "cost-per-gpu-hour", "-1"),
                     GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_pool_set_param(f->ctx, "train", "idle-release-after", "7x"),
                     GP_ERR_INVALID_ARGUMENT);
    OK(f->ctx, gp_pool_set_param(f->ctx, "train", "idle-release-after", "90m"));
    OK(f->ctx, gp_pool_set_param(f->ctx, "train", "cost-per-gpu-hour", "2.5"));
    gp_pool p;
    gp_pool_init(&p);
    OK(f->ctx, gp_pool_get(f->ctx, "train", &p));
    assert_int_equal(p.idle_release_after, 5400);
    assert_true(p.cost_per_gpu_hour == 2.5);
    gp_pool_dispose(&p);
    OK(f->ctx, gp_usage_report(f->ctx, T, T + 7200, GP_USAGE_BY_TENANT, &r, &n));
    assert_int_equal(n, 2);
    assert_string_equal(r[0].key, "speech");
    assert_int_equal(r[0].held_seconds, 3600);
    assert_int_equal(r[0].running_seconds, 3400);
    assert_true(r[0].has_cost);
    assert_true(r[0].cost > 2.4999 && r[0].cost < 2.5001);   /* 1 GPU-hour x 2.5 */
    assert_string_equal(r[1].key, "vision");
    assert_int_equal(r[1].held_seconds, 3600);
    assert_int_equal(r[1].running_seconds, 900);
    gp_usage_rows_free(r, n);
    /* A window cuts the intervals: [T+500, T+2000). */
    OK(f->ctx, gp_usage_report(f->ctx, T + 500, T + 2000, GP_USAGE_BY_POOL, &r, &n));
    assert_int_equal(n, 1);
    assert_string_equal(r[0].key, "train");
    assert_int_equal(r[0].held_seconds, 1500 + 200);
    assert_int_equal(r[0].running_seconds, 500);
    gp_usage_rows_free(r, n);
    OK(f->ctx, gp_usage_report(f->ctx, T, T + 7200, GP_USAGE_BY_VM, &r, &n));
    assert_int_equal(n, 2);
    gp_usage_rows_free(r, n);
    assert_int_equal(gp_usage_report(f->ctx, T, T, GP_USAGE_BY_VM, &r, &n),
                     GP_ERR_INVALID_ARGUMENT);
    unsetenv("GPUPOOL_NOW");
}

/* Leases: a GPU held by a VM halted longer than the pool's
 * idle-release-after is released at the first command after that, to the
 * second, and its GPU goes to the queue; a VM that runs keeps it. */
static void test_lease_releases_on_time(void **state)
{
    fx *f = *state;
    const int64_t T = 1796083200;
    gp_assign_args a = { .pool = "one" };
    gp_request_args ra = { .pool = "one" };
    size_t released = 99;
    bool q = false;
    char h[64];

    at(T);
    OK(f->ctx, gp_pool_create(f->ctx, "one", NULL, GP_NUMA_PREFERRED, GP_PIN_HARD, 1.0, NULL));
    OK(f->ctx, gp_pool_gpu_add(f->ctx, "one", "0000:db:00.0"));
    OK(f->ctx, gp_pool_gpu_add(f->ctx, "one", "0000:ba:00.0"));
    OK(f->ctx, gp_pool_set_param(f->ctx, "one", "idle-release-after", "1h"));
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-00", &a, NULL));       /* never runs */
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-01", &a, NULL));
    at(T + 10);
    OK(f->ctx, gp_sim_vm_start(f->ctx, "vm-01"));
    at(T + 100);
    OK(f->ctx, gp_sim_vm_shutdown(f->ctx, "vm-01"));              /* halted from T+100 */
    OK(f->ctx, gp_vm_gpu_request(f->ctx, "vm-02", &ra, NULL, NULL, &q));
    assert_true(q);
    at(T + 3599);
    OK(f->ctx, gp_governance_tick(f->ctx, &released));
    assert_int_equal(released, 0);
    at(T + 3600);                                                 /* vm-00: an hour idle */
    OK(f->ctx, gp_governance_tick(f->ctx, &released));
    assert_int_equal(released, 1);
    holder(f->ctx, "0000:ba:00.0", h, sizeof(h));
    char h2[64];
    holder(f->ctx, "0000:db:00.0", h2, sizeof(h2));
    /* vm-00's GPU went to the queued vm-02 at once. */
    assert_true(!strcmp(h, "vm-02") || !strcmp(h2, "vm-02"));
    at(T + 3699);
    OK(f->ctx, gp_governance_tick(f->ctx, &released));
    assert_int_equal(released, 0);                                /* vm-01: 3599 s idle */
    at(T + 3700);
    OK(f->ctx, gp_governance_tick(f->ctx, &released));
    assert_int_equal(released, 1);
    gp_assignment ga;
    gp_assignment_init(&ga);
    assert_int_equal(gp_assignment_get(f->ctx, "vm-01", &ga), GP_ERR_VM_NO_GPU);
    gp_assignment_dispose(&ga);
    /* A running VM keeps its GPU however long. */
    OK(f->ctx, gp_sim_vm_start(f->ctx, "vm-02"));
    at(T + 100000);
    OK(f->ctx, gp_governance_tick(f->ctx, &released));
    assert_int_equal(released, 0);
    gp_audit_entry *e = NULL;
    size_t ne = 0;
    int leases = 0;
    OK(f->ctx, gp_audit_list(f->ctx, 0, 0, &e, &ne));
    for (size_t i = 0; i < ne; i++)
        leases += !strcmp(e[i].operation, "lease-release");
    gp_audit_list_free(e, ne);
    assert_int_equal(leases, 2);
    unsetenv("GPUPOOL_NOW");
}


/* lease=: the GPU goes back at the first command at or after the lease's
 * end while the VM is halted (audit lease-expire); a VM running at the end
 * keeps it until it stops; a queued request's lease runs from when it is
 * served; refusals of a bad lease change nothing. */
static void test_lease_argument(void **state)
{
    fx *f = *state;
    const int64_t T = 1796083200;
    gp_assign_args a = { .pool = "one", .lease_seconds = 7200 };
    gp_request_args ra = { .pool = "one", .lease_seconds = 1800 };
    size_t released = 99;
    bool q = false;
    gp_assignment ga;
    char h[64];

    at(T);
    OK(f->ctx, gp_pool_create(f->ctx, "one", NULL, GP_NUMA_PREFERRED, GP_PIN_HARD, 1.0, NULL));
    OK(f->ctx, gp_pool_gpu_add(f->ctx, "one", "0000:db:00.0"));
    gp_assign_args bad = { .pool = "one", .lease_seconds = -1 };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm-00", &bad, NULL), GP_ERR_INVALID_ARGUMENT);
    bad.lease_seconds = GP_LEASE_MAX + 1;
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm-00", &bad, NULL), GP_ERR_INVALID_ARGUMENT);
    gp_assignment_init(&ga);
    assert_int_equal(gp_assignment_get(f->ctx, "vm-00", &ga), GP_ERR_VM_NO_GPU);
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-00", &a, &ga));
    assert_string_equal(ga.lease_until, "2026-12-01T02:00:00Z");   /* T + 2 h */
    gp_assignment_dispose(&ga);
    OK(f->ctx, gp_vm_gpu_request(f->ctx, "vm-01", &ra, NULL, NULL, &q));
    assert_true(q);
    OK(f->ctx, gp_sim_vm_start(f->ctx, "vm-00"));
    at(T + 7199);
    OK(f->ctx, gp_governance_tick(f->ctx, &released));
    assert_int_equal(released, 0);
    at(T + 7200);                                   /* ended, but vm-00 runs */
    OK(f->ctx, gp_governance_tick(f->ctx, &released));
    assert_int_equal(released, 0);
    holder(f->ctx, "0000:db:00.0", h, sizeof(h));
    assert_string_equal(h, "vm-00");
    at(T + 9000);
    OK(f->ctx, gp_sim_vm_shutdown(f->ctx, "vm-00"));
    OK(f->ctx, gp_governance_tick(f->ctx, &released));
    assert_int_equal(released, 1);
    /* vm-01 was served at T+9000: its 30 min lease ends at T+10800. */
    holder(f->ctx, "0000:db:00.0", h, sizeof(h));
    assert_string_equal(h, "vm-01");
    gp_assignment_init(&ga);
    OK(f->ctx, gp_assignment_get(f->ctx, "vm-01", &ga));
    assert_string_equal(ga.lease_until, "2026-12-01T03:00:00Z");
    gp_assignment_dispose(&ga);
    at(T + 10799);
    OK(f->ctx, gp_governance_tick(f->ctx, &released));
    assert_int_equal(released, 0);
    at(T + 10800);
    OK(f->ctx, gp_governance_tick(f->ctx, &released));
    assert_int_equal(released, 1);
    gp_audit_entry *e = NULL;
    size_t ne = 0;
    int expired = 0;
    OK(f->ctx, gp_audit_list(f->ctx, 0, 0, &e, &ne));
    for (size_t i = 0; i < ne; i++)
        if (!strcmp(e[i].operation, "lease-expire")) {
            expired++;
            assert_non_null(strstr(e[i].after, "lease_until"));
        }
    gp_audit_list_free(e, ne);
    assert_int_equal(expired, 2);
    unsetenv("GPUPOOL_NOW");
}

/* allowed-tenants: a tenant the pool does not name is refused with
 * TENANT_NOT_ALLOWED (tenant, pool, allowed) and nothing changes, also
 * through a request (not queued); '' opens the pool again; malformed lists
 * are refused. */
static void test_allowed_tenants(void **state)
{
    fx *f = *state;
    gp_assign_args aa = { .pool = "train", .tenant = "vision" };
    gp_request_args ra = { .pool = "train", .tenant = "vision" };
    bool q = true;
    gp_pool p;
    size_t n1, n2;

    assert_int_equal(gp_pool_set_param(f->ctx, "train", "allowed-tenants", "ml,,vision"),
                     GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_pool_set_param(f->ctx, "train", "allowed-tenants", "ml,ml"),
                     GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_pool_set_param(f->ctx, "train", "allowed-tenants", "ml,"),
                     GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_pool_set_param(f->ctx, "train", "allowed-tenants", "a b"),
                     GP_ERR_INVALID_ARGUMENT);
    OK(f->ctx, gp_pool_set_param(f->ctx, "train", "allowed-tenants", "ml,research"));
    gp_pool_init(&p);
    OK(f->ctx, gp_pool_get(f->ctx, "train", &p));
    assert_string_equal(p.allowed_tenants, "ml,research");
    gp_pool_dispose(&p);
    char *db1 = file_bytes(f->db, &n1);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm-00", &aa, NULL), GP_ERR_TENANT_NOT_ALLOWED);
    const gp_error_info *e = gp_ctx_last_error(f->ctx);
    assert_string_equal(e->params[0].key, "tenant");
    assert_string_equal(e->params[0].value, "vision");
    assert_string_equal(e->params[1].value, "train");
    assert_string_equal(e->params[2].key, "allowed");
    assert_string_equal(e->params[2].value, "ml,research");
    assert_int_equal(gp_vm_gpu_request(f->ctx, "vm-00", &ra, NULL, NULL, &q),
                     GP_ERR_TENANT_NOT_ALLOWED);
    assert_false(q);
    char *db2 = file_bytes(f->db, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(db1, db2, n1);
    free(db1);
    free(db2);
    /* "research" is named; "ml" is not a prefix match of "mlops". */
    aa.tenant = "research";
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-00", &aa, NULL));
    aa.tenant = "mlops";
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm-01", &aa, NULL), GP_ERR_TENANT_NOT_ALLOWED);
    aa.tenant = NULL;                                  /* "default" */
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm-01", &aa, NULL), GP_ERR_TENANT_NOT_ALLOWED);
    OK(f->ctx, gp_pool_set_param(f->ctx, "train", "allowed-tenants", ""));
    OK(f->ctx, gp_vm_gpu_assign(f->ctx, "vm-01", &aa, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refusal_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_never_over_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_priority_and_fair_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_drop_and_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_report_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_releases_on_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_argument, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allowed_tenants, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
