/*
 * test_assign.c - assignments on the embedded 8-GPU host with the sim
 * driver: assign / release / reassign on halted VMs, VM_NOT_HALTED on
 * running and paused ones, one GPU per VM, a GPU held by at most one VM, and
 * several processes assigning from one pool at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpupool.h"
#include "ops/ops.h"
#include "rpc/rpc.h"
#include "gptest.h"

#define GPU0 "0000:18:00.0"   /* node 0 */
#define GPU1 "0000:2a:00.0"   /* node 0 */
#define GPU4 "0000:9a:00.0"   /* node 1 */
#define GPU5 "0000:ab:00.0"   /* node 1 */

typedef gt_env fixture;

#define CALLER "test-assign"
#define BUSY_MS 30000

/* uuid of the pool "gpu" that setup() made for the running test. */
static char pool_uuid[37];

/* A pool "gpu" (required, hard) of GPU0, GPU1, GPU4, GPU5. */
static int setup(void **state)
{
    fixture *f = gt_env_sim("assign", CALLER, BUSY_MS);
    assert_int_equal(gp_pool_create(f->ctx, "gpu", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0,
                                    pool_uuid), GP_OK);
    static const char *const gpus[] = { GPU0, GPU1, GPU4, GPU5 };
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(gp_pool_gpu_add(f->ctx, "gpu", gpus[i]), GP_OK);
    *state = f;
    return 0;
}

static void vm_new(fixture *f, const char *name, int vcpus, char uuid[37])
{
    assert_int_equal(gp_sim_vm_create(f->ctx, name, vcpus, 16384, uuid), GP_OK);
}

static gp_assign_args pool_args(fixture *f)
{
    gp_assign_args a = { .pool = "gpu" };
    (void)f;
    return a;
}

static void test_assign_basic(void **state)
{
    fixture *f = *state;
    char vm[37];
    vm_new(f, "train", 4, vm);
    gp_assign_args args = pool_args(f);
    gp_assignment a;
    gp_assignment_init(&a);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "train", &args, &a), GP_OK);
    assert_string_equal(a.vm_uuid, vm);
    assert_string_equal(a.vm_name_label, "train");
    assert_string_equal(a.pool_uuid, pool_uuid);
    assert_string_equal(a.pool_name_label, "gpu");
    assert_int_equal(a.pin_mode, GP_PIN_HARD);
    assert_int_equal(a.vcpus, 4);
    assert_int_equal(a.memory_mib, 16384);
    assert_int_equal(a.n_pcpus, 4);
    assert_non_null(a.reason);
    /* NUMA: vCPUs and memory on the GPU's node. */
    const gp_host *h;
    assert_int_equal(gp_host_get(f->ctx, &h), GP_OK);
    const gp_gpu *g = gp_host_find_gpu(h, a.pci_id);
    assert_non_null(g);
    assert_int_equal(a.numa_node, g->numa_node);
    /* Expected node from the test's own table of the embedded host (not
     * from the library's model nor from what placement set). */
    int want_node = !strcmp(a.pci_id, GPU0) || !strcmp(a.pci_id, GPU1) ? 0
                  : !strcmp(a.pci_id, GPU4) || !strcmp(a.pci_id, GPU5) ? 1 : -1;
    assert_int_not_equal(want_node, -1);
    assert_int_equal(a.numa_node, want_node);
    assert_int_equal(a.memory_node, want_node);
    const gp_numa_node *node = gp_host_find_node(h, a.numa_node);
    assert_non_null(node);
    for (size_t i = 0; i < a.n_pcpus; i++) {
        bool on = false;
        for (size_t j = 0; j < node->n_cpus; j++)
            on = on || node->cpus[j] == a.pcpus[i];
        assert_true(on);
    }

    /* Read back by name and by uuid; listed. */
    gp_assignment b;
    gp_assignment_init(&b);
    assert_int_equal(gp_assignment_get(f->ctx, "train", &b), GP_OK);
    assert_string_equal(b.pci_id, a.pci_id);
    assert_int_equal(b.n_pcpus, a.n_pcpus);
    assert_memory_equal(b.pcpus, a.pcpus, a.n_pcpus * sizeof(int));
    assert_string_equal(b.vm_name_label, "train");
    assert_int_equal(gp_assignment_get(f->ctx, vm, &b), GP_OK);
    assert_string_equal(b.pci_id, a.pci_id);
    gp_assignment_dispose(&b);
    gp_assignment *as = NULL;
    size_t n = 0;
    assert_int_equal(gp_assignment_list(f->ctx, &as, &n), GP_OK);
    assert_int_equal(n, 1);
    assert_string_equal(as[0].vm_uuid, vm);
    assert_string_equal(as[0].vm_name_label, "train");
    gp_assignment_list_free(as, n);

    /* The driver has the boot-time GPU and affinity. */
    char *dump = tu_db_dump(f->db);
    char *pcpus = gp_cpulist_join(a.pcpus, a.n_pcpus);
    char want[256];
    snprintf(want, sizeof(want), "vm_uuid=%s|pci_ids=%s|pcpus=%s|pin_mode=hard", vm, a.pci_id,
             pcpus);
    assert_non_null(strstr(dump, want));
    free(pcpus);
    free(dump);

    gp_audit_entry *e = NULL;
    assert_int_equal(gp_audit_list(f->ctx, 0, 0, &e, &n), GP_OK);
    assert_string_equal(e[n - 1].operation, "vm-gpu-assign");
    assert_string_equal(e[n - 1].object, vm);
    assert_non_null(strstr(e[n - 1].after, a.pci_id));
    assert_null(e[n - 1].before);
    gp_audit_list_free(e, n);
    gp_assignment_dispose(&a);
}

static void test_not_halted(void **state)
{
    fixture *f = *state;
    char run[37], pau[37];
    vm_new(f, "run", 2, run);
    vm_new(f, "pau", 2, pau);
    assert_int_equal(gp_sim_vm_start(f->ctx, "run"), GP_OK);
    assert_int_equal(gp_sim_vm_start(f->ctx, "pau"), GP_OK);
    assert_int_equal(gp_sim_vm_pause(f->ctx, "pau"), GP_OK);
    gp_assign_args args = pool_args(f);
    gt_snap(f);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "run", &args, NULL), GP_ERR_VM_NOT_HALTED);
    assert_string_equal(gt_err_param(f, "vm"), run);
    assert_string_equal(gt_err_param(f, "power-state"), "running");
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "pau", &args, NULL), GP_ERR_VM_NOT_HALTED);
    assert_string_equal(gt_err_param(f, "vm"), pau);
    assert_string_equal(gt_err_param(f, "power-state"), "paused");
    gt_assert_unchanged(f);

    /* Release is halted-only too: assign while halted, then start. */
    assert_int_equal(gp_sim_vm_shutdown(f->ctx, "run"), GP_OK);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "run", &args, NULL), GP_OK);
    assert_int_equal(gp_sim_vm_start(f->ctx, "run"), GP_OK);
    gt_snap(f);
    assert_int_equal(gp_vm_gpu_release(f->ctx, "run"), GP_ERR_VM_NOT_HALTED);
    assert_string_equal(gt_err_param(f, "power-state"), "running");
    assert_int_equal(gp_sim_vm_pause(f->ctx, "run"), GP_OK);
    gt_snap(f);
    assert_int_equal(gp_vm_gpu_release(f->ctx, "run"), GP_ERR_VM_NOT_HALTED);
    assert_string_equal(gt_err_param(f, "power-state"), "paused");
    gt_assert_unchanged(f);
}

static void test_one_gpu_per_vm(void **state)
{
    fixture *f = *state;
    gp_assign_args args = pool_args(f);
    gp_assignment a;
    gp_assignment_init(&a);
    vm_new(f, "vm", 2, NULL);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm", &args, &a), GP_OK);
    gt_snap(f);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm", &args, NULL), GP_ERR_VM_HAS_GPU);
    assert_string_equal(gt_err_param(f, "pci-id"), a.pci_id);
    gp_assign_args forced = { .pci_id = GPU5 };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm", &forced, NULL), GP_ERR_VM_HAS_GPU);
    /* A VM holding a GPU cannot be destroyed. */
    assert_int_equal(gp_sim_vm_destroy(f->ctx, "vm"), GP_ERR_VM_HAS_GPU);
    gt_assert_unchanged(f);
    gp_assignment_dispose(&a);
}

static void test_gpu_held_by_one_vm(void **state)
{
    fixture *f = *state;
    char a_uuid[37];
    vm_new(f, "a", 2, a_uuid);
    vm_new(f, "b", 2, NULL);
    gp_assign_args forced = { .pci_id = GPU4 };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "a", &forced, NULL), GP_OK);
    gt_snap(f);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "b", &forced, NULL), GP_ERR_GPU_ASSIGNED);
    assert_string_equal(gt_err_param(f, "vm"), a_uuid);
    assert_string_equal(gt_err_param(f, "pci-id"), GPU4);
    gp_assign_args both = { .pool = "gpu", .pci_id = "9a:00.0" };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "b", &both, NULL), GP_ERR_GPU_ASSIGNED);
    gt_assert_unchanged(f);

    /* The schema refuses it too, whatever the code does. */
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(f->db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_exec(h, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO assignments(vm_uuid, pci_id, pool_uuid, numa_node, pcpus, memory_node,"
             " pin_mode, vcpus, memory_mib, created) VALUES ('x', '%s', '%s', 1, '1', 1, 'hard',"
             " 1, 1, 'now')", GPU4, pool_uuid);
    assert_int_not_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    snprintf(sql, sizeof(sql),
             "INSERT INTO assignments(vm_uuid, pci_id, pool_uuid, numa_node, pcpus, memory_node,"
             " pin_mode, vcpus, memory_mib, created) VALUES ('%s', '%s', '%s', 0, '1', 0, 'hard',"
             " 1, 1, 'now')", a_uuid, GPU0, pool_uuid);
    assert_int_not_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    gt_assert_unchanged(f);
}

static void test_release_and_reassign(void **state)
{
    fixture *f = *state;
    char vm[37];
    vm_new(f, "vm", 2, vm);
    gp_assign_args forced = { .pci_id = GPU0 };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, vm, &forced, NULL), GP_OK);
    assert_int_equal(gp_vm_gpu_release(f->ctx, "vm"), GP_OK);
    gp_assignment a;
    gp_assignment_init(&a);
    assert_int_equal(gp_assignment_get(f->ctx, "vm", &a), GP_ERR_VM_NO_GPU);
    char *dump = tu_db_dump(f->db);
    assert_null(strstr(dump, "pci_ids="));   /* boot record cleared */
    free(dump);
    gt_snap(f);
    assert_int_equal(gp_vm_gpu_release(f->ctx, "vm"), GP_ERR_VM_NO_GPU);
    assert_string_equal(gt_err_param(f, "vm"), vm);
    assert_int_equal(gp_vm_gpu_release(f->ctx, "ghost"), GP_ERR_UNKNOWN_VM);
    gt_assert_unchanged(f);

    /* Reassign = release + assign, to another GPU on the other node. */
    assert_int_equal(gp_vm_gpu_assign(f->ctx, vm, &forced, NULL), GP_OK);
    assert_int_equal(gp_vm_gpu_release(f->ctx, vm), GP_OK);
    gp_assign_args other = { .pool = "gpu", .pci_id = GPU5 };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, vm, &other, &a), GP_OK);
    assert_string_equal(a.pci_id, GPU5);
    assert_int_equal(a.numa_node, 1);
    /* The released GPU is free again for another VM. */
    vm_new(f, "next", 2, NULL);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "next", &forced, NULL), GP_OK);
    gp_assignment_dispose(&a);

    gp_audit_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(gp_audit_list(f->ctx, 0, 0, &e, &n), GP_OK);
    int assigns = 0, releases = 0;
    for (size_t i = 0; i < n; i++) {
        assigns += !strcmp(e[i].operation, "vm-gpu-assign");
        if (!strcmp(e[i].operation, "vm-gpu-release")) {
            releases++;
            assert_non_null(e[i].before);
            assert_null(e[i].after);
        }
    }
    assert_int_equal(assigns, 4);
    assert_int_equal(releases, 2);
    gp_audit_list_free(e, n);
}

static void test_assign_refusals(void **state)
{
    fixture *f = *state;
    vm_new(f, "vm", 2, NULL);
    assert_int_equal(gp_pool_create(f->ctx, "empty", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0,
                                    NULL), GP_OK);
    gt_snap(f);
    gp_assign_args none = { 0 };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm", &none, NULL), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm", NULL, NULL), GP_ERR_INVALID_ARGUMENT);
    gp_assign_args a1 = { .pool = "nope" };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm", &a1, NULL), GP_ERR_UNKNOWN_POOL);
    assert_string_equal(gt_err_param(f, "pool"), "nope");
    gp_assign_args a2 = { .pool = "gpu" };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "ghost", &a2, NULL), GP_ERR_UNKNOWN_VM);
    gp_assign_args a3 = { .pci_id = "0000:3a:00.0" };  /* a GPU in no pool */
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm", &a3, NULL), GP_ERR_GPU_NOT_IN_POOL);
    gp_assign_args a4 = { .pci_id = "0000:77:00.0" };  /* no such GPU */
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm", &a4, NULL), GP_ERR_UNKNOWN_GPU);
    gp_assign_args a5 = { .pci_id = "bogus" };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm", &a5, NULL), GP_ERR_PCI_ID_INVALID);
    gp_assign_args a6 = { .pool = "empty", .pci_id = GPU0 };  /* GPU of another pool */
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm", &a6, NULL), GP_ERR_GPU_NOT_IN_POOL);
    gp_assign_args a7 = { .pool = "empty" };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm", &a7, NULL), GP_ERR_POOL_EMPTY);
    gp_assign_args a8 = { .pool = "gpu", .vcpus = -2 };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm", &a8, NULL), GP_ERR_INVALID_ARGUMENT);
    /* More vCPUs than a node has pCPUs under policy required. */
    gp_assign_args a9 = { .pool = "gpu", .vcpus = 49 };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm", &a9, NULL), GP_ERR_NO_PLACEMENT);
    gt_assert_unchanged(f);
}

/* ---- the pool's Xen cpupool ------------------------------------------------ */

/* Give the context's host model cpupools, as the xen driver (or xapi on
 * XCP-ng) reports them: Pool-0 = pCPUs 0-3 (node 0) and 24-27 (node 1);
 * "accel" = 8-11 (node 0) and 32-35 (node 1); "idle" = no pCPU. */
static void host_set_cpupools(fixture *f)
{
    static const int pool0[] = { 0, 1, 2, 3, 24, 25, 26, 27 };
    static const int accel[] = { 8, 9, 10, 11, 32, 33, 34, 35 };
    const gp_host *h;
    gp_host *host = &f->ctx->host;

    assert_int_equal(gp_host_get(f->ctx, &h), GP_OK);
    assert_int_equal(host->n_cpupools, 0);
    host->cpupools = calloc(3, sizeof(*host->cpupools));
    assert_non_null(host->cpupools);
    host->n_cpupools = 3;
    host->cpupools[0].id = 0;
    host->cpupools[0].name = strdup("Pool-0");
    host->cpupools[0].cpus = malloc(sizeof(pool0));
    memcpy(host->cpupools[0].cpus, pool0, sizeof(pool0));
    host->cpupools[0].n_cpus = 8;
    host->cpupools[1].id = 3;
    host->cpupools[1].name = strdup("accel");
    host->cpupools[1].cpus = malloc(sizeof(accel));
    memcpy(host->cpupools[1].cpus, accel, sizeof(accel));
    host->cpupools[1].n_cpus = 8;
    host->cpupools[2].id = 4;
    host->cpupools[2].name = strdup("idle");
}

static void assert_pcpus_within(const gp_assignment *a, int lo, int hi, int lo2, int hi2)
{
    assert_true(a->n_pcpus > 0);
    for (size_t i = 0; i < a->n_pcpus; i++)
        assert_true((a->pcpus[i] >= lo && a->pcpus[i] <= hi) ||
                    (a->pcpus[i] >= lo2 && a->pcpus[i] <= hi2));
}

/* tu_db_dump() of db as it would be without the audit rows of id > since:
 * a copy (sqlite backup) with those rows deleted and audit's sqlite_sequence
 * put back to since (the audit log is append-only: its delete trigger is
 * dropped in the copy for that, then made again as it was).  *n_after gets how many rows were deleted and
 * *after_rows "operation|before|after" of each, one per line (caller frees). */
static char *dump_without_audit_after(const char *db, const char *dir, long long since,
                                      int *n_after, char **after_rows)
{
    char *copy = NULL, *sql = NULL;
    sqlite3 *src, *dst;
    sqlite3_stmt *st;
    assert_true(asprintf(&copy, "%s/audit-copy.db", dir) > 0);
    unlink(copy);
    assert_int_equal(sqlite3_open_v2(db, &src, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_open(copy, &dst), SQLITE_OK);
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    assert_non_null(b);
    assert_int_equal(sqlite3_backup_step(b, -1), SQLITE_DONE);
    assert_int_equal(sqlite3_backup_finish(b), SQLITE_OK);
    sqlite3_close(src);
    *n_after = 0;
    *after_rows = strdup("");
    assert_int_equal(sqlite3_prepare_v2(dst, "SELECT operation || '|' || ifnull(before, 'NULL')"
                                        " || '|' || ifnull(after, 'NULL') FROM audit"
                                        " WHERE id > ?1 ORDER BY id", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, since);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char *n = NULL;
        assert_true(asprintf(&n, "%s%s\n", *after_rows, sqlite3_column_text(st, 0)) > 0);
        free(*after_rows);
        *after_rows = n;
        (*n_after)++;
    }
    sqlite3_finalize(st);
    char *trigger = NULL;
    assert_int_equal(sqlite3_prepare_v2(dst, "SELECT sql FROM sqlite_master WHERE type = 'trigger'"
                                        " AND name = 'audit_no_delete'", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    trigger = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    assert_true(asprintf(&sql, "DROP TRIGGER audit_no_delete;"
                         " DELETE FROM audit WHERE id > %lld;"
                         " UPDATE sqlite_sequence SET seq = %lld WHERE name = 'audit'; %s",
                         since, since, trigger) > 0);
    assert_int_equal(sqlite3_exec(dst, sql, NULL, NULL, NULL), SQLITE_OK);
    free(trigger);
    sqlite3_close(dst);
    char *dump = tu_db_dump(copy);
    free(sql);
    free(copy);
    return dump;
}

/* Highest audit id of db (0 when none). */
static long long audit_max_id(const char *db)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    long long id;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT ifnull(max(id), 0) FROM audit", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return id;
}

static void test_cpupool_bounds_placement(void **state)
{
    fixture *f = *state;
    gp_assign_args args = { .pool = "gpu" };
    gp_assignment a;

    gp_assignment_init(&a);
    host_set_cpupools(f);
    vm_new(f, "in-pool0", 4, NULL);
    vm_new(f, "in-accel", 4, NULL);
    vm_new(f, "third", 6, NULL);
    /* Default: Pool-0, by name. */
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "in-pool0", &args, &a), GP_OK);
    assert_pcpus_within(&a, 0, 3, 24, 27);
    /* The pool cannot move to another cpupool under a VM pinned in Pool-0. */
    gt_snap(f);
    gt_assert_err(f, gp_pool_set_param(f->ctx, "gpu", "cpupool", "accel"), GP_ERR_GPU_ASSIGNED,
                  "cpupool", "accel");
    assert_non_null(gt_err_param(f, "vm"));
    assert_non_null(strstr(gp_ctx_last_error(f->ctx)->message, "pinned in cpupool Pool-0"));
    gt_assert_unchanged(f);
    /* Setting the cpupool it already has changes nothing and is allowed:
     * every table byte-identical, except that the library appends one audit
     * row for the call, with before == after (checked exactly here; drop
     * the exception if no-op sets stop being audited). */
    gt_snap(f);
    long long last_audit = audit_max_id(f->db);
    assert_int_equal(gp_pool_set_param(f->ctx, "gpu", "cpupool", "Pool-0"), GP_OK);
    {
        int n_new;
        char *rows, *rest = dump_without_audit_after(f->db, f->dir, last_audit, &n_new, &rows);
        assert_string_equal(rest, f->dump);
        assert_int_equal(n_new, 1);
        assert_true(!strncmp(rows, "pool-param-set|{", 16));
        char *before = rows + strlen("pool-param-set|");
        char *after = strchr(before, '|');
        assert_non_null(after);
        *after++ = '\0';
        after[strcspn(after, "\n")] = '\0';
        assert_string_equal(before, after);
        assert_non_null(strstr(after, "\"cpupool\":\"Pool-0\""));
        free(rows);
        free(rest);
    }
    /* Released, the pool moves to its own cpupool. */
    assert_int_equal(gp_vm_gpu_release(f->ctx, "in-pool0"), GP_OK);
    assert_int_equal(gp_pool_set_param(f->ctx, "gpu", "cpupool", "accel"), GP_OK);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "in-accel", &args, &a), GP_OK);
    assert_pcpus_within(&a, 8, 11, 32, 35);
    assert_int_equal(a.n_pcpus, 4);
    /* 6 vCPUs do not fit the 4 accel pCPUs of any node (overcommit 1):
     * the cpupool bounds placement, the other 44 pCPUs of a node do not count. */
    gt_snap(f);
    args.vcpus = 6;
    gt_assert_err(f, gp_vm_gpu_assign(f->ctx, "third", &args, &a), GP_ERR_NO_PLACEMENT, NULL,
                  NULL);
    gt_assert_unchanged(f);
    gp_assignment_dispose(&a);
}

static void test_cpupool_missing_refused(void **state)
{
    fixture *f = *state;
    gp_assign_args args = { .pool = "gpu" };
    const gp_error_info *e;

    host_set_cpupools(f);
    vm_new(f, "vm", 2, NULL);
    assert_int_equal(gp_pool_set_param(f->ctx, "gpu", "cpupool", "gpu-vms"), GP_OK);
    gt_snap(f);
    /* Never a silent fall-back to Pool-0 or to every pCPU. */
    gt_assert_err(f, gp_vm_gpu_assign(f->ctx, "vm", &args, NULL), GP_ERR_NO_PLACEMENT,
                  "pool", pool_uuid);
    assert_string_equal(gt_err_param(f, "cpupool"), "gpu-vms");
    e = gp_ctx_last_error(f->ctx);
    assert_non_null(strstr(e->message, "pool gpu"));
    assert_non_null(strstr(e->message, "'gpu-vms'"));
    assert_non_null(strstr(e->message, "Pool-0, accel, idle"));
    /* A cpupool without pCPUs is refused too. */
    assert_int_equal(gp_pool_set_param(f->ctx, "gpu", "cpupool", "idle"), GP_OK);
    gt_snap(f);
    gt_assert_err(f, gp_vm_gpu_assign(f->ctx, "vm", &args, NULL), GP_ERR_NO_PLACEMENT,
                  "cpupool", "idle");
    assert_non_null(strstr(gp_ctx_last_error(f->ctx)->message, "no pCPU"));
    gt_assert_unchanged(f);
}

static void test_cpupool_xl_config_line(void **state)
{
    fixture *f = *state;
    gp_assign_args args = { .pool = "gpu" };
    char vm[37], *text = NULL;

    vm_new(f, "xl", 2, vm);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "xl", &args, NULL), GP_OK);
    /* Pool-0 is xl's default: no line. */
    assert_int_equal(gp_vm_xl_config(f->ctx, "xl", &text), GP_OK);
    assert_null(strstr(text, "pool ="));
    free(text);
    /* Another cpupool: pool = "<name>" (moved while no VM is assigned). */
    assert_int_equal(gp_vm_gpu_release(f->ctx, "xl"), GP_OK);
    assert_int_equal(gp_pool_set_param(f->ctx, "gpu", "cpupool", "accel"), GP_OK);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "xl", &args, NULL), GP_OK);
    assert_int_equal(gp_vm_xl_config(f->ctx, vm, &text), GP_OK);
    assert_non_null(strstr(text, "\npool = \"accel\"\n"));
    assert_non_null(strstr(text, "\nuuid = \""));
    assert_non_null(strstr(text, "\ncpus = \""));
    free(text);
}

/* Memory lines of vm-xl-config, one per pin mode (docs/xen.md): libxl 4.17
 * runs its own NUMA placement, which ignores cpus = and picks the memory
 * node itself, unless the config gives a soft affinity.  hard: cpus and
 * cpus_soft, both the pin set; soft: cpus_soft; none: cpus_soft = every
 * pCPU of the memory node. */
static void test_xl_config_memory_lines(void **state)
{
    fixture *f = *state;
    gp_assign_args args = { .pool = "gpu" };
    gp_assignment a;
    char vm[37], *text = NULL, want[256], *cpus;
    const gp_host *host;
    const gp_numa_node *nd;

    vm_new(f, "xm", 2, vm);
    gp_assignment_init(&a);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "xm", &args, &a), GP_OK);
    cpus = gp_cpulist_ranges(a.pcpus, a.n_pcpus);
    assert_int_equal(gp_vm_xl_config(f->ctx, "xm", &text), GP_OK);
    snprintf(want, sizeof(want), "\ncpus = \"%s\"\ncpus_soft = \"%s\"\n", cpus, cpus);
    assert_non_null(strstr(text, want));
    free(text);

    assert_int_equal(gp_vm_gpu_release(f->ctx, "xm"), GP_OK);
    assert_int_equal(gp_pool_set_param(f->ctx, "gpu", "pin-mode", "soft"), GP_OK);
    gp_assignment_dispose(&a);
    gp_assignment_init(&a);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "xm", &args, &a), GP_OK);
    free(cpus);
    cpus = gp_cpulist_ranges(a.pcpus, a.n_pcpus);
    assert_int_equal(gp_vm_xl_config(f->ctx, "xm", &text), GP_OK);
    assert_null(strstr(text, "\ncpus = "));
    snprintf(want, sizeof(want), "\ncpus_soft = \"%s\"\n", cpus);
    assert_non_null(strstr(text, want));
    free(text);

    assert_int_equal(gp_vm_gpu_release(f->ctx, "xm"), GP_OK);
    assert_int_equal(gp_pool_set_param(f->ctx, "gpu", "pin-mode", "none"), GP_OK);
    gp_assignment_dispose(&a);
    gp_assignment_init(&a);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "xm", &args, &a), GP_OK);
    assert_int_equal(a.n_pcpus, 0);
    assert_true(a.memory_node >= 0);
    assert_int_equal(gp_host_get(f->ctx, &host), GP_OK);
    nd = gp_host_find_node(host, a.memory_node);
    assert_non_null(nd);
    free(cpus);
    cpus = gp_cpulist_ranges(nd->cpus, nd->n_cpus);
    assert_int_equal(gp_vm_xl_config(f->ctx, "xm", &text), GP_OK);
    assert_null(strstr(text, "\ncpus = "));
    snprintf(want, sizeof(want), "\ncpus_soft = \"%s\"\n", cpus);
    assert_non_null(strstr(text, want));
    free(text);
    free(cpus);
    gp_assignment_dispose(&a);
}

static void test_cpupool_recorded_without_xen(void **state)
{
    fixture *f = *state;
    gp_assign_args args = { .pool = "gpu", .vcpus = 40 };
    gp_assignment a;

    /* sim / planning: no cpupools reported, the name does not restrict. */
    gp_assignment_init(&a);
    assert_int_equal(gp_pool_set_param(f->ctx, "gpu", "cpupool", "gpu-vms"), GP_OK);
    vm_new(f, "big", 2, NULL);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "big", &args, &a), GP_OK);
    assert_int_equal(a.n_pcpus, 40);
    assert_int_equal(f->ctx->host.n_cpupools, 0);
    gp_assignment_dispose(&a);
}

static void test_overrides_and_pool_exhaustion(void **state)
{
    fixture *f = *state;
    gp_assign_args args = { .pool = "gpu", .vcpus = 8, .memory_mib = 4096 };
    gp_assignment a;
    gp_assignment_init(&a);
    char names[5][8];
    for (int i = 0; i < 5; i++) {
        snprintf(names[i], sizeof(names[i]), "vm%d", i);
        vm_new(f, names[i], 2, NULL);
    }
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm0", &args, &a), GP_OK);
    assert_int_equal(a.vcpus, 8);
    assert_int_equal(a.memory_mib, 4096);
    assert_int_equal(a.n_pcpus, 8);
    for (int i = 1; i < 4; i++)
        assert_int_equal(gp_vm_gpu_assign(f->ctx, names[i], &args, NULL), GP_OK);
    gt_snap(f);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm4", &args, NULL), GP_ERR_POOL_EMPTY);
    gt_assert_unchanged(f);
    gp_assignment *as = NULL;
    size_t n = 0;
    assert_int_equal(gp_assignment_list(f->ctx, &as, &n), GP_OK);
    assert_int_equal(n, 4);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(as[i - 1].pci_id, as[i].pci_id) < 0);
    /* No pCPU pinned twice under overcommit 1.0. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            for (size_t x = 0; x < as[i].n_pcpus; x++)
                for (size_t y = 0; y < as[j].n_pcpus; y++)
                    assert_int_not_equal(as[i].pcpus[x], as[j].pcpus[y]);
    gp_assignment_list_free(as, n);
    gp_assignment_dispose(&a);
}

/* ---- several processes at once --------------------------------------------- */

#define RACERS 8

/* Fork RACERS children that wait on a pipe, then each assign vms[i] (or all
 * the same VM) from the pool; returns each child's gp_error as exit code. */
static void race(fixture *f, char vms[RACERS][37], int codes[RACERS])
{
    int go[2];
    pid_t pids[RACERS];
    assert_int_equal(pipe(go), 0);
    for (int i = 0; i < RACERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            char c;
            close(go[1]);
            gp_ctx *ctx = gt_ctx_embedded(f->db, "sim", CALLER, BUSY_MS);
            /* Discovery and driver before the start signal. */
            const gp_host *h;
            if (gp_host_get(ctx, &h) || !gp_ctx_driver_name(ctx))
                _exit(100);
            if (read(go[0], &c, 1) != 0)
                _exit(101);
            gp_assign_args args = { .pool = "gpu" };
            int rc = gp_vm_gpu_assign(ctx, vms[i], &args, NULL);
            gp_ctx_free(ctx);
            _exit(-rc);
        }
    }
    close(go[0]);
    close(go[1]);  /* EOF: everybody goes */
    for (int i = 0; i < RACERS; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        codes[i] = -WEXITSTATUS(st);
    }
}

static void check_invariants(fixture *f)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(f->db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT (SELECT count(*) FROM assignments),"
                                        " (SELECT count(DISTINCT pci_id) FROM assignments),"
                                        " (SELECT count(DISTINCT vm_uuid) FROM assignments),"
                                        " (SELECT count(*) FROM sim_boot)", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    assert_int_equal(sqlite3_column_int(st, 1), n);  /* no GPU held twice */
    assert_int_equal(sqlite3_column_int(st, 2), n);  /* no VM with two GPUs */
    assert_int_equal(sqlite3_column_int(st, 3), n);  /* a boot record per assignment */
    sqlite3_finalize(st);
    sqlite3_close(h);
}

static void test_race_distinct_vms(void **state)
{
    fixture *f = *state;
    char vms[RACERS][37];
    int codes[RACERS], ok = 0, empty = 0;
    for (int i = 0; i < RACERS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "r%d", i);
        vm_new(f, name, 2, vms[i]);
    }
    race(f, vms, codes);
    for (int i = 0; i < RACERS; i++) {
        if (codes[i] == GP_OK)
            ok++;
        else if (codes[i] == GP_ERR_POOL_EMPTY)
            empty++;
        else
            fail_msg("racer %d: %s", i, gp_error_name(codes[i]));
    }
    assert_int_equal(ok, 4);           /* the pool has 4 GPUs */
    assert_int_equal(empty, RACERS - 4);
    check_invariants(f);
    gp_assignment *as = NULL;
    size_t n = 0;
    assert_int_equal(gp_assignment_list(f->ctx, &as, &n), GP_OK);
    assert_int_equal(n, 4);
    gp_assignment_list_free(as, n);
}

static void test_race_same_vm(void **state)
{
    fixture *f = *state;
    char vms[RACERS][37];
    int codes[RACERS], ok = 0;
    vm_new(f, "one", 2, vms[0]);
    for (int i = 1; i < RACERS; i++)
        memcpy(vms[i], vms[0], 37);
    race(f, vms, codes);
    for (int i = 0; i < RACERS; i++) {
        if (codes[i] == GP_OK)
            ok++;
        else
            assert_int_equal(codes[i], GP_ERR_VM_HAS_GPU);
    }
    assert_int_equal(ok, 1);
    check_invariants(f);
}

/* ---- re-plan on assign (issue 8) -------------------------------------------- */

/* Issue 8's stream: (12 vCPUs, 256 GiB), (20, 32), (12, 256), (16, 256),
 * (16, 32).  On the embedded host (2 nodes of 48 pCPUs and 512 GiB, 4 GPUs
 * each) spread puts the first four so that the fifth fits nowhere
 * (docs/placement.md); moving halted VMs makes room. */
static const int i8_vcpus[] = { 12, 20, 12, 16, 16 };
static const int i8_gib[] = { 256, 32, 256, 256, 32 };

/* A pool "i8" (required, hard, spread) of every GPU of the embedded host
 * that a pool accepts (8) and VMs i8-0 .. i8-4 of the stream's sizes. */
static int setup_issue8(void **state)
{
    fixture *f = gt_env_sim("assign-i8", CALLER, BUSY_MS);
    gp_pool_spec spec;
    gp_pool_spec_init(&spec);
    spec.name_label = "i8";
    spec.placement = GP_PLACE_SPREAD;
    assert_int_equal(gp_pool_create_ex(f->ctx, &spec, pool_uuid), GP_OK);
    const gp_host *h;
    assert_int_equal(gp_host_get(f->ctx, &h), GP_OK);
    for (size_t i = 0; i < h->n_gpus; i++)
        (void)gp_pool_gpu_add(f->ctx, "i8", h->gpus[i].pci_id);
    gp_pool p;
    gp_pool_init(&p);
    assert_int_equal(gp_pool_get(f->ctx, "i8", &p), GP_OK);
    assert_int_equal(p.n_gpus, 8);
    assert_int_equal(p.placement, GP_PLACE_SPREAD);
    gp_pool_dispose(&p);
    for (int i = 0; i < 5; i++) {
        char name[16], uuid[37];
        snprintf(name, sizeof(name), "i8-%d", i);
        assert_int_equal(gp_sim_vm_create(f->ctx, name, i8_vcpus[i],
                                          (uint64_t)i8_gib[i] << 10, uuid), GP_OK);
    }
    *state = f;
    return 0;
}

/* Assign i8-i through gp_vm_gpu_assign_ex; returns its moved count. */
static size_t i8_assign(fixture *f, int i, int want_rc, gp_assignment **moved)
{
    char name[16];
    gp_assign_args args = { .pool = "i8" };
    size_t n = 12345;
    snprintf(name, sizeof(name), "i8-%d", i);
    *moved = (gp_assignment *)1;
    assert_int_equal(gp_vm_gpu_assign_ex(f->ctx, name, &args, NULL, moved, &n), want_rc);
    if (want_rc) {
        assert_null(*moved);
        assert_int_equal(n, 0);
    }
    return n;
}

/* The assignment row of a VM agrees with the sim driver's boot record, and
 * its GPU, vCPUs and memory are on one node. */
static void i8_check_local(fixture *f, const gp_host *h, const char *vm, const char *dump)
{
    gp_assignment a;
    gp_assignment_init(&a);
    assert_int_equal(gp_assignment_get(f->ctx, vm, &a), GP_OK);
    const gp_gpu *g = gp_host_find_gpu(h, a.pci_id);
    assert_non_null(g);
    assert_int_equal(a.numa_node, g->numa_node);
    assert_int_equal(a.memory_node, g->numa_node);
    const gp_numa_node *node = gp_host_find_node(h, a.numa_node);
    assert_non_null(node);
    assert_int_equal(a.n_pcpus, a.vcpus);
    for (size_t i = 0; i < a.n_pcpus; i++) {
        bool on = false;
        for (size_t j = 0; j < node->n_cpus; j++)
            on = on || node->cpus[j] == a.pcpus[i];
        assert_true(on);
    }
    char *pcpus = gp_cpulist_join(a.pcpus, a.n_pcpus);
    char want[512];
    snprintf(want, sizeof(want), "vm_uuid=%s|pci_ids=%s|pcpus=%s|pin_mode=hard|memory_node=%d",
             a.vm_uuid, a.pci_id, pcpus, a.memory_node);
    if (!strstr(dump, want))
        fail_msg("no boot record %s in\n%s", want, dump);
    free(pcpus);
    gp_assignment_dispose(&a);
}

static void test_replan_moves_halted_vms(void **state)
{
    fixture *f = *state;
    gp_assignment *moved = NULL;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(i8_assign(f, i, GP_OK, &moved), 0);
        assert_null(moved);
    }
    /* Without moves the fifth fits nowhere (spread left node 0 with 24
     * pCPUs and no memory, node 1 with 12 pCPUs). */
    size_t n = i8_assign(f, 4, GP_OK, &moved);
    assert_true(n >= 1);
    assert_non_null(moved);

    const gp_host *h;
    assert_int_equal(gp_host_get(f->ctx, &h), GP_OK);
    char *dump = tu_db_dump(f->db);
    assert_non_null(dump);
    int vcpus[2] = { 0, 0 };
    long long gib[2] = { 0, 0 };
    gp_assignment *as = NULL;
    size_t na = 0;
    assert_int_equal(gp_assignment_list(f->ctx, &as, &na), GP_OK);
    assert_int_equal(na, 5);
    for (size_t i = 0; i < na; i++) {
        i8_check_local(f, h, as[i].vm_uuid, dump);
        assert_true(as[i].numa_node == 0 || as[i].numa_node == 1);
        vcpus[as[i].numa_node] += as[i].vcpus;
        gib[as[i].numa_node] += (long long)(as[i].memory_mib >> 10);
    }
    for (int k = 0; k < 2; k++) {
        assert_true(vcpus[k] <= 48);
        assert_true(gib[k] <= 512);
    }
    /* What the call says moved is what the database and the driver hold. */
    for (size_t k = 0; k < n; k++) {
        gp_assignment a;
        gp_assignment_init(&a);
        assert_int_equal(gp_assignment_get(f->ctx, moved[k].vm_uuid, &a), GP_OK);
        assert_string_equal(a.pci_id, moved[k].pci_id);
        assert_int_equal(a.numa_node, moved[k].numa_node);
        assert_int_equal(a.n_pcpus, moved[k].n_pcpus);
        assert_memory_equal(a.pcpus, moved[k].pcpus, a.n_pcpus * sizeof(int));
        assert_string_equal(a.reason, moved[k].reason);
        assert_non_null(moved[k].vm_name_label);
        assert_string_equal(moved[k].vm_name_label, a.vm_name_label);
        gp_assignment_dispose(&a);
    }
    /* One audit row per move, then the assignment. */
    gp_audit_entry *e = NULL;
    size_t ne = 0;
    assert_int_equal(gp_audit_list(f->ctx, 0, 0, &e, &ne), GP_OK);
    assert_true(ne >= n + 1);
    assert_string_equal(e[ne - 1].operation, "vm-gpu-assign");
    for (size_t k = 0; k < n; k++) {
        const gp_audit_entry *r = &e[ne - 1 - n + k];
        assert_string_equal(r->operation, "vm-gpu-replan");
        assert_non_null(r->before);
        assert_non_null(r->after);
        assert_string_not_equal(r->before, r->after);
        bool named = false;
        for (size_t j = 0; j < n; j++)
            named = named || !strcmp(r->object, moved[j].vm_uuid);
        assert_true(named);
        assert_non_null(strstr(r->after, "\"reason\""));
    }
    gp_audit_list_free(e, ne);
    gp_assignment_list_free(as, na);
    gp_assignment_list_free(moved, n);
    free(dump);
}

/* The same stream with the first four VMs running: nothing may move, the
 * fifth is refused and the database is unchanged. */
static void test_replan_never_moves_running_vms(void **state)
{
    fixture *f = *state;
    gp_assignment *moved = NULL;
    for (int i = 0; i < 4; i++) {
        char name[16];
        assert_int_equal(i8_assign(f, i, GP_OK, &moved), 0);
        snprintf(name, sizeof(name), "i8-%d", i);
        assert_int_equal(gp_sim_vm_start(f->ctx, name), GP_OK);
    }
    assert_int_equal(gp_sim_vm_pause(f->ctx, "i8-0"), GP_OK);
    gt_snap(f);
    i8_assign(f, 4, GP_ERR_NO_PLACEMENT, &moved);
    assert_string_equal(gt_err_param(f, "pool"), pool_uuid);
    gt_assert_unchanged(f);
    /* The plain call refuses the same way. */
    gp_assign_args args = { .pool = "i8" };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "i8-4", &args, NULL), GP_ERR_NO_PLACEMENT);
    gt_assert_unchanged(f);
}

/* Only under numa-policy required: a preferred pool keeps today's
 * behaviour.  No node has the fifth VM's vCPUs and memory, remote or not,
 * so it is refused although moving halted VMs would make room. */
static void test_replan_only_when_required(void **state)
{
    fixture *f = *state;
    gp_assignment *moved = NULL;
    for (int i = 0; i < 4; i++)
        assert_int_equal(i8_assign(f, i, GP_OK, &moved), 0);
    assert_int_equal(gp_pool_set_param(f->ctx, "i8", "numa-policy", "preferred"), GP_OK);
    gt_snap(f);
    i8_assign(f, 4, GP_ERR_NO_PLACEMENT, &moved);
    gt_assert_unchanged(f);
}

/* With pack (the default) the stream fits without any move. */
static void test_pack_pool_needs_no_move(void **state)
{
    fixture *f = *state;
    gp_assignment *moved = NULL;
    assert_int_equal(gp_pool_set_param(f->ctx, "i8", "placement", "pack"), GP_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(i8_assign(f, i, GP_OK, &moved), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_assign_basic, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_not_halted, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_one_gpu_per_vm, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_gpu_held_by_one_vm, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_release_and_reassign, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_assign_refusals, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_overrides_and_pool_exhaustion, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_cpupool_bounds_placement, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_cpupool_missing_refused, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_cpupool_xl_config_line, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_xl_config_memory_lines, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_cpupool_recorded_without_xen, setup,
                                        gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_replan_moves_halted_vms, setup_issue8,
                                        gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_replan_never_moves_running_vms, setup_issue8,
                                        gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_replan_only_when_required, setup_issue8,
                                        gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_pack_pool_needs_no_move, setup_issue8,
                                        gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_race_distinct_vms, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_race_same_vm, setup, gt_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
