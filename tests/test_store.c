/*
 * test_store.c - the state database: creation, file mode, WAL, schema
 * version and migration refusal, busy handling, the append-only audit log
 * and its retention; what open refuses (links, other users' files, foreign
 * sqlite files, damaged files) before anything is written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "gpupool.h"
#include "ops/ops.h"
#include "rpc/rpc.h"
#include "gptest.h"

#include <json-c/json.h>

typedef gt_env fixture;

static int setup(void **state)
{
    /* A parent directory that does not exist yet: open creates it. */
    *state = gt_env_new("store", "var/lib/gpupool/state.db",
                        (gt_ctx_spec){ .driver = "sim", .topology = GP_TOPOLOGY_EMBEDDED,
                                       .caller = "test-store" });
    return 0;
}

/* One integer / text from a query on a private connection. */
static long long sql_int(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    long long v = -12345;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static char *sql_text(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    char *v = NULL;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* Run sql on a private connection; returns the sqlite result code. */
static int sql_exec(const char *db, const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    int rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    sqlite3_close(h);
    return rc;
}

static void test_lazy_open(void **state)
{
    fixture *f = *state;
    struct stat st;
    /* Allocating a context touches nothing. */
    assert_int_not_equal(stat(f->db, &st), 0);
    gp_pool *pools = NULL;
    size_t n = 99;
    assert_int_equal(gp_pool_list(f->ctx, &pools, &n), GP_OK);
    assert_int_equal(n, 0);
    assert_null(pools);
    assert_int_equal(stat(f->db, &st), 0);
}

static void test_creates_schema(void **state)
{
    fixture *f = *state;
    static const char *const tables[] = { "pools", "pool_members", "pool_companions",
                                          "assignments", "audit", "schema_sections",
                                          "numa_policies", "pin_modes", "vm_states" };
    assert_int_equal(gp_store_open(&f->ctx->store), GP_OK);
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        char sql[200];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'",
                 tables[i]);
        assert_int_equal(sql_int(f->db, sql), 1);
    }
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"), gp_store_schema_version());
    /* Version 2 added pools.cpupool, 3 the value tables and sections,
     * 4 pools.placement and its value table, 5 audit retention. */
    assert_int_equal(gp_store_schema_version(), 8);
    char *pl = sql_text(f->db, "SELECT dflt_value FROM pragma_table_info('pools')"
                               " WHERE name = 'placement'");
    assert_non_null(pl);
    assert_string_equal(pl, "'pack'");
    free(pl);
    /* The sim driver's tables are its own section: not made by the store. */
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name = 'sim_vms'"),
                     0);
    char *cp = sql_text(f->db, "SELECT dflt_value FROM pragma_table_info('pools')"
                               " WHERE name = 'cpupool'");
    assert_non_null(cp);
    assert_string_equal(cp, "'Pool-0'");
    free(cp);
    char *mode = sql_text(f->db, "PRAGMA journal_mode");
    assert_non_null(mode);
    assert_string_equal(mode, "wal");
    free(mode);
    /* The append-only triggers exist. */
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE type='trigger'"
                                    " AND tbl_name='audit'"), 2);
}

static void test_mode_0600_whatever_umask(void **state)
{
    fixture *f = *state;
    struct stat st;
    mode_t old = umask(0);
    assert_int_equal(gp_pool_create(f->ctx, "p", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL),
                     GP_OK);
    umask(old);
    assert_int_equal(stat(f->db, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* sqlite gives the WAL the database file's mode. */
    char wal[4096];
    snprintf(wal, sizeof(wal), "%s-wal", f->db);
    if (stat(wal, &st) == 0)
        assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_foreign_keys_on(void **state)
{
    fixture *f = *state;
    assert_int_equal(gp_store_open(&f->ctx->store), GP_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->ctx->store.db, "PRAGMA foreign_keys", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    /* A member of a pool that does not exist is refused by the schema. */
    assert_int_not_equal(sqlite3_exec(f->ctx->store.db, "INSERT INTO pool_members(pci_id, pool_uuid,"
                                      " added) VALUES ('0000:18:00.0', 'nope', 'x')",
                                      NULL, NULL, NULL), SQLITE_OK);
}

static void test_newer_schema_refused(void **state)
{
    fixture *f = *state;
    assert_int_equal(gp_store_open(&f->ctx->store), GP_OK);
    gp_ctx_free(f->ctx);
    f->ctx = NULL;
    assert_int_equal(sql_exec(f->db, "PRAGMA user_version=999"), SQLITE_OK);
    char *before = tu_db_dump(f->db);

    f->ctx = gt_ctx_embedded(f->db, "sim", NULL, 0);
    gp_pool *pools = NULL;
    size_t n = 0;
    assert_int_equal(gp_pool_list(f->ctx, &pools, &n), GP_ERR_DB_VERSION);
    const gp_error_info *e = gp_ctx_last_error(f->ctx);
    assert_int_equal(e->code, GP_ERR_DB_VERSION);
    assert_non_null(strstr(e->message, "999"));
    assert_int_equal(gp_pool_create(f->ctx, "x", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL),
                     GP_ERR_DB_VERSION);
    assert_null(f->ctx->store.db);
    char *after = tu_db_dump(f->db);
    assert_string_equal(before, after);
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"), 999);
    free(before);
    free(after);
}

static void test_migrates_empty_file(void **state)
{
    fixture *f = *state;
    /* An existing empty database (version 0) is brought to the current one. */
    char *db = NULL;
    assert_true(asprintf(&db, "%s/empty.db", f->dir) > 0);
    FILE *fp = fopen(db, "w");  /* a zero-byte file is an empty database */
    assert_non_null(fp);
    fclose(fp);
    gp_ctx *ctx = gt_ctx_embedded(db, "sim", NULL, 0);
    assert_int_equal(gp_store_open(&ctx->store), GP_OK);
    assert_int_equal(sql_int(db, "PRAGMA user_version"), gp_store_schema_version());
    gp_ctx_free(ctx);
    /* Opening again does nothing: same dump. */
    char *d1 = tu_db_dump(db);
    ctx = gt_ctx_embedded(db, "sim", NULL, 0);
    assert_int_equal(gp_store_open(&ctx->store), GP_OK);
    gp_ctx_free(ctx);
    char *d2 = tu_db_dump(db);
    assert_string_equal(d1, d2);
    free(d1);
    free(d2);
    free(db);
}

/* The version-1 schema as it shipped, frozen here: the migration test must
 * start from what real databases hold, not from the current code. */
static const char v1_schema[] =
    "CREATE TABLE pools ("
    "  uuid TEXT PRIMARY KEY NOT NULL,"
    "  name_label TEXT NOT NULL UNIQUE CHECK (name_label <> ''),"
    "  name_description TEXT NOT NULL DEFAULT '',"
    "  numa_policy TEXT NOT NULL"
    "    CHECK (numa_policy IN ('required','preferred','socket','legacy')),"
    "  pin_mode TEXT NOT NULL CHECK (pin_mode IN ('hard','soft','none')),"
    "  cpu_overcommit REAL NOT NULL CHECK (cpu_overcommit > 0 AND cpu_overcommit <= 64),"
    "  created TEXT NOT NULL"
    ");"
    "CREATE TABLE pool_members ("
    "  pci_id TEXT PRIMARY KEY NOT NULL,"
    "  pool_uuid TEXT NOT NULL REFERENCES pools(uuid),"
    "  original_driver TEXT,"
    "  added TEXT NOT NULL"
    ");"
    "CREATE UNIQUE INDEX pool_members_by_pool ON pool_members(pool_uuid, pci_id);"
    "CREATE TABLE pool_companions ("
    "  pci_id TEXT PRIMARY KEY NOT NULL,"
    "  gpu_pci_id TEXT NOT NULL REFERENCES pool_members(pci_id) ON DELETE CASCADE,"
    "  original_driver TEXT"
    ");"
    "CREATE UNIQUE INDEX pool_companions_by_gpu ON pool_companions(gpu_pci_id, pci_id);"
    "CREATE TABLE assignments ("
    "  vm_uuid TEXT NOT NULL UNIQUE,"
    "  pci_id TEXT NOT NULL UNIQUE,"
    "  pool_uuid TEXT NOT NULL REFERENCES pools(uuid),"
    "  numa_node INTEGER NOT NULL,"
    "  pcpus TEXT NOT NULL,"
    "  memory_node INTEGER NOT NULL,"
    "  pin_mode TEXT NOT NULL CHECK (pin_mode IN ('hard','soft','none')),"
    "  vcpus INTEGER NOT NULL CHECK (vcpus > 0),"
    "  memory_mib INTEGER NOT NULL CHECK (memory_mib > 0),"
    "  reason TEXT,"
    "  created TEXT NOT NULL,"
    "  FOREIGN KEY (pool_uuid, pci_id) REFERENCES pool_members(pool_uuid, pci_id)"
    ");"
    "CREATE TABLE sim_vms ("
    "  uuid TEXT PRIMARY KEY NOT NULL,"
    "  name_label TEXT NOT NULL,"
    "  power_state TEXT NOT NULL"
    "    CHECK (power_state IN ('halted','running','paused','suspended','shutdown','dying')),"
    "  domid INTEGER,"
    "  vcpus INTEGER NOT NULL CHECK (vcpus > 0),"
    "  memory_mib INTEGER NOT NULL CHECK (memory_mib > 0),"
    "  affinity TEXT,"
    "  affinity_mode TEXT,"
    "  created TEXT NOT NULL"
    ");"
    "CREATE INDEX sim_vms_by_name ON sim_vms(name_label, uuid);"
    "CREATE INDEX sim_vms_by_domid ON sim_vms(domid);"
    "CREATE TABLE sim_bindings ("
    "  pci_id TEXT PRIMARY KEY NOT NULL,"
    "  driver TEXT NOT NULL,"
    "  original_driver TEXT"
    ");"
    "CREATE TABLE sim_boot ("
    "  vm_uuid TEXT PRIMARY KEY NOT NULL,"
    "  pci_ids TEXT NOT NULL,"
    "  pcpus TEXT NOT NULL,"
    "  pin_mode TEXT NOT NULL,"
    "  memory_node INTEGER NOT NULL"
    ");"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time TEXT NOT NULL,"
    "  caller TEXT NOT NULL,"
    "  operation TEXT NOT NULL,"
    "  object TEXT,"
    "  before TEXT,"
    "  after TEXT"
    ");"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "PRAGMA user_version=1;";

static void test_migrates_version_1(void **state)
{
    fixture *f = *state;
    static const char pool_uuid[] = "7b0c6a57-1d0e-4c57-9a53-6f8e8f1d2c11";
    char *db = NULL, *sql = NULL;
    assert_true(asprintf(&db, "%s/v1.db", f->dir) > 0);
    unlink(db);
    assert_true(asprintf(&sql, "%s"
                         "INSERT INTO pools VALUES ('%s', 'training', 'A100s', 'socket',"
                         " 'soft', 2.5, '2024-01-02T03:04:05.000Z');"
                         "INSERT INTO pool_members VALUES ('0000:18:00.0', '%s', 'nvidia',"
                         " '2024-01-02T03:04:06.000Z');"
                         "INSERT INTO audit(time, caller, operation, object) VALUES"
                         " ('2024-01-02T03:04:05.000Z', 'old', 'pool-create', '%s');",
                         v1_schema, pool_uuid, pool_uuid, pool_uuid) > 0);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    assert_int_equal(sql_int(db, "PRAGMA user_version"), 1);
    assert_int_equal(sql_int(db, "SELECT count(*) FROM pragma_table_info('pools')"
                                 " WHERE name = 'cpupool'"), 0);

    gp_ctx *ctx = gt_ctx_embedded(db, "sim", NULL, 0);
    gp_pool p;
    gp_pool_init(&p);
    assert_int_equal(gp_pool_get(ctx, "training", &p), GP_OK);
    /* Migrated: the column exists, existing pools are in Pool-0, nothing lost. */
    assert_int_equal(sql_int(db, "PRAGMA user_version"), gp_store_schema_version());
    /* The sim tables of the version-1 schema are the sim section's, at 1. */
    assert_int_equal(sql_int(db, "SELECT version FROM schema_sections WHERE name = 'sim'"), 1);
    /* pools.numa_policy now references the value table, not a CHECK list. */
    assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'pools'"
                                 " AND sql LIKE '%REFERENCES numa_policies%'"), 1);
    char *cp = sql_text(db, "SELECT cpupool FROM pools WHERE name_label = 'training'");
    assert_non_null(cp);
    assert_string_equal(cp, "Pool-0");
    free(cp);
    assert_string_equal(p.uuid, pool_uuid);
    assert_string_equal(p.cpupool, "Pool-0");
    assert_string_equal(p.name_description, "A100s");
    assert_int_equal(p.numa_policy, GP_NUMA_SOCKET);
    assert_int_equal(p.pin_mode, GP_PIN_SOFT);
    assert_true(p.cpu_overcommit == 2.5);
    assert_int_equal(p.n_gpus, 1);
    assert_string_equal(p.gpus[0], "0000:18:00.0");
    assert_int_equal(sql_int(db, "SELECT count(*) FROM audit WHERE caller = 'old'"), 1);
    /* The migrated pool takes the new parameter. */
    assert_int_equal(gp_pool_set_param(ctx, "training", "cpupool", "gpu"), GP_OK);
    gp_pool_dispose(&p);
    assert_int_equal(gp_pool_get(ctx, "training", &p), GP_OK);
    assert_string_equal(p.cpupool, "gpu");
    gp_pool_dispose(&p);
    gp_ctx_free(ctx);
    free(sql);
    free(db);
}

/* The pools table of schema version 3 as it shipped (migration 2 -> 3),
 * frozen here. */
static const char v3_pools[] =
    "CREATE TABLE pools_v3 ("
    "  uuid TEXT PRIMARY KEY NOT NULL,"
    "  name_label TEXT NOT NULL UNIQUE CHECK (name_label <> ''),"
    "  name_description TEXT NOT NULL DEFAULT '',"
    "  numa_policy TEXT NOT NULL REFERENCES numa_policies(name),"
    "  pin_mode TEXT NOT NULL REFERENCES pin_modes(name),"
    "  cpu_overcommit REAL NOT NULL CHECK (cpu_overcommit > 0 AND cpu_overcommit <= 64),"
    "  created TEXT NOT NULL,"
    "  cpupool TEXT NOT NULL DEFAULT 'Pool-0'"
    ");";

/* A version-3 file (made by turning a current one back: pools without
 * placement, no placement_strategies) with a pool, a member and an
 * assignment is brought to version 4: nothing lost, the pool gets 'pack'. */
static void test_migrates_version_3(void **state)
{
    fixture *f = *state;
    char uuid[37], vm[37];
    assert_int_equal(gp_pool_create(f->ctx, "training", "A100s", GP_NUMA_SOCKET, GP_PIN_SOFT,
                                     2.5, uuid), GP_OK);
    assert_int_equal(gp_pool_gpu_add(f->ctx, "training", "0000:18:00.0"), GP_OK);
    assert_int_equal(gp_sim_vm_create(f->ctx, "vm1", 2, 1024, vm), GP_OK);
    gp_assign_args args = { .pool = "training" };
    assert_int_equal(gp_vm_gpu_assign(f->ctx, "vm1", &args, NULL), GP_OK);
    gp_ctx_free(f->ctx);
    f->ctx = NULL;
    long long n_audit = sql_int(f->db, "SELECT count(*) FROM audit");
    char *sql = NULL;
    assert_true(asprintf(&sql, "PRAGMA foreign_keys=OFF; BEGIN; %s"
                         "INSERT INTO pools_v3 SELECT uuid, name_label, name_description,"
                         " numa_policy, pin_mode, cpu_overcommit, created, cpupool FROM pools;"
                         "DROP TABLE pools; ALTER TABLE pools_v3 RENAME TO pools;"
                         "DROP TABLE placement_strategies;"
                         "DROP INDEX assignments_by_tenant;"
                         "ALTER TABLE assignments DROP COLUMN tenant;"
                         "ALTER TABLE assignments DROP COLUMN lease_until;"
                         "PRAGMA user_version=3; COMMIT;",
                         v3_pools) > 0);
    assert_int_equal(sql_exec(f->db, sql), SQLITE_OK);
    free(sql);
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"), 3);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM pragma_table_info('pools')"
                                    " WHERE name = 'placement'"), 0);

    f->ctx = gt_ctx_embedded(f->db, "sim", "test-store", 0);
    gp_pool p;
    gp_pool_init(&p);
    p.placement = GP_PLACE_SPREAD;
    assert_int_equal(gp_pool_get(f->ctx, "training", &p), GP_OK);
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"), gp_store_schema_version());
    assert_int_equal(p.placement, GP_PLACE_PACK);
    assert_string_equal(p.uuid, uuid);
    assert_int_equal(p.numa_policy, GP_NUMA_SOCKET);
    assert_int_equal(p.n_gpus, 1);
    char *pl = sql_text(f->db, "SELECT placement FROM pools");
    assert_non_null(pl);
    assert_string_equal(pl, "pack");
    free(pl);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM placement_strategies"),
                     (int)gp_placement_strategy_count);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM assignments"), 1);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM sim_boot"), 1);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM audit"), n_audit);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM pool_members"), 1);
    /* The foreign key holds: no other strategy name is accepted. */
    assert_int_not_equal(sql_exec(f->db, "PRAGMA foreign_keys=ON;"
                                         " UPDATE pools SET placement = 'nearest'"), SQLITE_OK);
    assert_int_equal(gp_pool_set_param(f->ctx, "training", "placement", "spread"), GP_OK);
    gp_pool_dispose(&p);
    assert_int_equal(gp_pool_get(f->ctx, "training", &p), GP_OK);
    assert_int_equal(p.placement, GP_PLACE_SPREAD);
    gp_pool_dispose(&p);
}

/* The value tables hold exactly the names of libgpupool's enum tables, and
 * the database refuses a name that is not in them (what a CHECK list did). */
static void test_value_tables_follow_enum_tables(void **state)
{
    fixture *f = *state;
    assert_int_equal(gp_store_open(&f->ctx->store), GP_OK);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM numa_policies"),
                     (int)gp_numa_policy_count);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM pin_modes"), (int)gp_pin_mode_count);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM vm_states"), (int)gp_vm_state_count);
    for (size_t i = 0; i < gp_numa_policy_count; i++) {
        char sql[160];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM numa_policies WHERE name = '%s'",
                 gp_numa_policy_names[i]);
        assert_int_equal(sql_int(f->db, sql), 1);
    }
    assert_int_not_equal(sqlite3_exec(f->ctx->store.db,
                                      "INSERT INTO pools(uuid, name_label, numa_policy, pin_mode,"
                                      " cpu_overcommit, created) VALUES ('u', 'p', 'nearest',"
                                      " 'hard', 1, 'now')", NULL, NULL, NULL), SQLITE_OK);
    /* A name the library learns later reaches an existing file at open. */
    assert_int_equal(sqlite3_exec(f->ctx->store.db, "DELETE FROM pin_modes WHERE name = 'none'",
                                  NULL, NULL, NULL), SQLITE_OK);
    gp_ctx *ctx = gt_ctx_embedded(f->db, "sim", NULL, 0);
    assert_int_equal(gp_store_open(&ctx->store), GP_OK);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM pin_modes WHERE name = 'none'"), 1);
    gp_ctx_free(ctx);
}

/* The sim driver makes its tables on first use, as its own section. */
static void test_sim_section(void **state)
{
    fixture *f = *state;
    char uuid[37];
    assert_int_equal(gp_store_open(&f->ctx->store), GP_OK);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM schema_sections"), 0);
    assert_int_equal(gp_sim_vm_create(f->ctx, "vm1", 2, 1024, uuid), GP_OK);
    assert_int_equal(sql_int(f->db, "SELECT version FROM schema_sections WHERE name = 'sim'"), 1);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM sim_vms"), 1);
}

static void test_audit_rows_and_append_only(void **state)
{
    fixture *f = *state;
    char uuid[37];
    assert_int_equal(gp_pool_create(f->ctx, "gpu-a", "first", GP_NUMA_PREFERRED, GP_PIN_SOFT,
                                    2.0, uuid), GP_OK);
    assert_int_equal(gp_pool_set_param(f->ctx, uuid, "name-description", "second"), GP_OK);

    gp_audit_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(gp_audit_list(f->ctx, 0, 0, &e, &n), GP_OK);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].operation, "pool-create");
    assert_string_equal(e[0].object, uuid);
    assert_string_equal(e[0].caller, "test-store");
    assert_null(e[0].before);
    assert_non_null(strstr(e[0].after, "\"name_label\":\"gpu-a\""));
    assert_string_equal(e[1].operation, "pool-param-set");
    assert_non_null(strstr(e[1].before, "\"name_description\":\"first\""));
    assert_non_null(strstr(e[1].after, "\"name_description\":\"second\""));
    assert_true(e[1].id > e[0].id);
    assert_non_null(strchr(e[0].time, 'T'));
    int64_t first = e[0].id;
    gp_audit_list_free(e, n);

    /* since_id and limit */
    assert_int_equal(gp_audit_list(f->ctx, first, 0, &e, &n), GP_OK);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].operation, "pool-param-set");
    gp_audit_list_free(e, n);
    assert_int_equal(gp_audit_list(f->ctx, 0, 1, &e, &n), GP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].id, first);
    gp_audit_list_free(e, n);

    /* UPDATE and DELETE are refused by the schema itself. */
    char *before = tu_db_dump(f->db);
    assert_int_not_equal(sql_exec(f->db, "UPDATE audit SET caller='forged'"), SQLITE_OK);
    assert_int_not_equal(sql_exec(f->db, "DELETE FROM audit"), SQLITE_OK);
    char *after = tu_db_dump(f->db);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_default_caller(void **state)
{
    fixture *f = *state;
    gp_ctx *ctx = gt_ctx_embedded(f->db, "sim", NULL, 0);
    assert_int_equal(gp_pool_create(ctx, "c", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL),
                     GP_OK);
    gp_audit_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(gp_audit_list(ctx, 0, 0, &e, &n), GP_OK);
    assert_int_equal(n, 1);
    char want[64];
    snprintf(want, sizeof(want), "uid=%u pid=%d", (unsigned)getuid(), (int)getpid());
    assert_string_equal(e[0].caller, want);
    gp_audit_list_free(e, n);
    gp_ctx_free(ctx);
}

static void test_busy_is_db_busy_and_changes_nothing(void **state)
{
    fixture *f = *state;
    assert_int_equal(gp_store_open(&f->ctx->store), GP_OK);
    gp_ctx *ctx = gt_ctx_embedded(f->db, "sim", NULL, 50);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(f->db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(gp_pool_create(ctx, "busy", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL),
                     GP_ERR_DB_BUSY);
    assert_int_equal(gp_ctx_last_error(ctx)->code, GP_ERR_DB_BUSY);
    assert_false(ctx->store.in_txn);
    /* Reads go on while another process writes (WAL). */
    gp_pool *pools = NULL;
    size_t n = 0;
    assert_int_equal(gp_pool_list(ctx, &pools, &n), GP_OK);
    assert_int_equal(n, 0);
    assert_int_equal(sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    assert_int_equal(gp_pool_create(ctx, "busy", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL),
                     GP_OK);
    gp_ctx_free(ctx);
}

static void test_error_names(void **state)
{
    fixture *f = *state;
    /* SQLITE_BUSY and SQLITE_LOCKED both mean "lock not obtained". */
    assert_int_equal(gp_store_error(&f->ctx->store, SQLITE_BUSY, "x"), GP_ERR_DB_BUSY);
    assert_int_equal(gp_store_error(&f->ctx->store, SQLITE_LOCKED, "x"), GP_ERR_DB_BUSY);
    assert_int_equal(gp_store_error(&f->ctx->store, SQLITE_BUSY_SNAPSHOT, "x"), GP_ERR_DB_BUSY);
    assert_int_equal(gp_store_error(&f->ctx->store, SQLITE_CORRUPT, "reading"), GP_ERR_DB);
    assert_non_null(strstr(gp_ctx_last_error(f->ctx)->message, "reading"));
}

/* ---- retention ------------------------------------------------------------- */

/* A context on f->db (sim, embedded host) from a configuration file holding
 * conf's lines, through gp_config_load_file. */
static gp_ctx *ctx_with_conf(fixture *f, const char *conf)
{
    char *path = NULL, *text = NULL;
    gp_config cfg;
    gp_ctx *ctx = NULL;
    assert_true(asprintf(&path, "%s/gpupool.conf", f->dir) > 0);
    assert_true(asprintf(&text, "db = %s\ndriver = sim\ntopology = embedded\n%s", f->db, conf) > 0);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    gp_config_init(&cfg);
    assert_int_equal(gp_config_load_file(&cfg, path, false, NULL), GP_OK);
    cfg.caller = strdup("test-store");
    assert_int_equal(gp_ctx_alloc(&ctx, &cfg, NULL), GP_OK);
    gp_config_dispose(&cfg);
    free(path);
    free(text);
    return ctx;
}

/* Insert n audit rows by hand, at time t ("2000-01-01T00:00:00.000Z"). */
static void audit_rows_by_hand(const char *db, int n, const char *t)
{
    char *sql = NULL;
    assert_true(asprintf(&sql, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c"
                         " WHERE i < %d) INSERT INTO audit(time, caller, operation, object)"
                         " SELECT '%s', 'by-hand', 'pool-param-set', 'x' FROM c", n, t) > 0);
    assert_int_equal(sql_exec(db, sql), SQLITE_OK);
    free(sql);
}

/* audit-max-entries keeps the newest rows; what is left is still
 * append-only: no update, no delete of the newest row, of a middle row or
 * of the whole log. */
static void test_audit_retention_entries(void **state)
{
    fixture *f = *state;
    char uuid[37];
    gp_ctx_free(f->ctx);
    f->ctx = ctx_with_conf(f, "audit-max-entries = 5\naudit-max-days = 0\n");
    assert_int_equal(gp_pool_create(f->ctx, "p", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, uuid),
                     GP_OK);
    for (int i = 0; i < 9; i++) {
        char d[16];
        snprintf(d, sizeof(d), "d%d", i);
        assert_int_equal(gp_pool_set_param(f->ctx, "p", "name-description", d), GP_OK);
    }
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM audit"), 5);
    assert_int_equal(sql_int(f->db, "SELECT min(id) FROM audit"), 6);
    assert_int_equal(sql_int(f->db, "SELECT max(id) FROM audit"), 10);
    char *last = sql_text(f->db, "SELECT after FROM audit WHERE id = 10");
    assert_non_null(strstr(last, "\"name_description\":\"d8\""));
    free(last);

    char *before = tu_db_dump(f->db);
    assert_int_not_equal(sql_exec(f->db, "DELETE FROM audit"), SQLITE_OK);
    assert_int_not_equal(sql_exec(f->db, "DELETE FROM audit WHERE id = 10"), SQLITE_OK);
    assert_int_not_equal(sql_exec(f->db, "DELETE FROM audit WHERE id = 8"), SQLITE_OK);
    assert_int_not_equal(sql_exec(f->db, "DELETE FROM audit WHERE id >= 7"), SQLITE_OK);
    assert_int_not_equal(sql_exec(f->db, "UPDATE audit SET caller = 'forged' WHERE id = 6"),
                         SQLITE_OK);
    char *after = tu_db_dump(f->db);
    assert_string_equal(before, after);
    free(before);
    free(after);

    /* A backlog goes at most 10,000 rows per write, oldest first. */
    audit_rows_by_hand(f->db, 25000, "2030-01-01T00:00:00.000Z");
    assert_int_equal(gp_pool_set_param(f->ctx, "p", "name-description", "x"), GP_OK);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM audit"), 25006 - 10000);
    assert_int_equal(sql_int(f->db, "SELECT min(id) FROM audit"), 10006);
    assert_int_equal(gp_pool_set_param(f->ctx, "p", "name-description", "y"), GP_OK);
    assert_int_equal(gp_pool_set_param(f->ctx, "p", "name-description", "z"), GP_OK);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM audit"), 5);
    assert_int_equal(sql_int(f->db, "SELECT max(id) FROM audit"), 25013);

    /* 0 in the file is no limit. */
    gp_ctx_free(f->ctx);
    f->ctx = ctx_with_conf(f, "audit-max-entries = 0\naudit-max-days = 0\n");
    for (int i = 0; i < 3; i++)
        assert_int_equal(gp_pool_set_param(f->ctx, "p", "name-description", i % 2 ? "a" : "b"),
                         GP_OK);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM audit"), 8);
}

/* audit-max-days (default 400) removes the rows before the first row that
 * is younger than the cutoff, in id order. */
static void test_audit_retention_days(void **state)
{
    fixture *f = *state;
    char uuid[37];
    assert_int_equal(gp_pool_create(f->ctx, "p", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, uuid),
                     GP_OK);
    gp_ctx_free(f->ctx);
    f->ctx = NULL;
    /* Three rows of the year 2000 after the pool-create row (ids 2..4). */
    assert_int_equal(sql_exec(f->db, "DELETE FROM audit"), SQLITE_CONSTRAINT);
    audit_rows_by_hand(f->db, 3, "2000-01-01T00:00:00.000Z");
    long long old_from = sql_int(f->db, "SELECT min(id) FROM audit WHERE caller = 'by-hand'");

    /* No limit: nothing goes. */
    f->ctx = ctx_with_conf(f, "audit-max-days = 0\n");
    assert_int_equal(gp_pool_set_param(f->ctx, "p", "name-description", "a"), GP_OK);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM audit"), 5);
    gp_ctx_free(f->ctx);

    /* The default: the 2000 rows after the pool-create row stay, since a
     * younger row comes first; once the first rows are old they go. */
    f->ctx = gt_ctx_embedded(f->db, "sim", "test-store", 0);
    assert_int_equal(gp_pool_set_param(f->ctx, "p", "name-description", "b"), GP_OK);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM audit"), 6);
    gp_ctx_free(f->ctx);
    f->ctx = NULL;
    /* Age the pool-create row (id 1) too, its UPDATE trigger set aside for
     * the moment: the log then starts with four old rows (ids 1..4), and
     * the rows from id 5 on are young. */
    assert_int_equal(sql_exec(f->db, "BEGIN; DROP TRIGGER audit_no_update;"
                                     " UPDATE audit SET time = '2000-01-01T00:00:00.000Z'"
                                     " WHERE id = 1;"
                                     " CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
                                     " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only');"
                                     " END; COMMIT;"), SQLITE_OK);
    f->ctx = gt_ctx_embedded(f->db, "sim", "test-store", 0);
    assert_int_equal(gp_pool_set_param(f->ctx, "p", "name-description", "c"), GP_OK);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM audit WHERE time < '2001'"), 0);
    assert_int_equal(sql_int(f->db, "SELECT min(id) FROM audit"), old_from + 3);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM audit"), 3);
}

/* A before / after longer than 16 KiB (a pool described before the
 * limits) is kept as a summary with its head; JSON either way. */
static void test_audit_json_capped(void **state)
{
    fixture *f = *state;
    char *big = malloc(40001), *sql = NULL;
    for (int i = 0; i < 40000; i++)
        big[i] = "\xc3\xa9x"[i % 3];  /* UTF-8 sequences to cut around */
    big[40000] = '\0';
    assert_int_equal(gp_pool_create(f->ctx, "p", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL),
                     GP_OK);
    assert_true(asprintf(&sql, "UPDATE pools SET name_description = '%s'", big) > 0);
    assert_int_equal(sql_exec(f->db, sql), SQLITE_OK);
    free(sql);
    assert_int_equal(gp_pool_set_param(f->ctx, "p", "name-description", "short"), GP_OK);
    gp_audit_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(gp_audit_list(f->ctx, 0, 0, &e, &n), GP_OK);
    assert_int_equal(n, 2);
    assert_true(strlen(e[1].before) < 2048);
    json_object *o = json_tokener_parse(e[1].before), *v;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "truncated", &v) && json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(o, "bytes", &v));
    assert_true(json_object_get_int64(v) > 40000);
    assert_true(json_object_object_get_ex(o, "head", &v));
    const char *head = json_object_get_string(v);
    assert_true(strlen(head) <= 1024 && strlen(head) >= 1020);
    assert_true(strncmp(head, "{\"uuid\":", 8) == 0);
    json_object_put(o);
    assert_non_null(strstr(e[1].after, "\"name_description\":\"short\""));
    gp_audit_list_free(e, n);
    free(big);
}

static void test_audit_retention_config(void **state)
{
    fixture *f = *state;
    gp_config cfg;
    gp_error_info err;
    gp_config_init(&cfg);
    gp_error_info_init(&err);
    static const char *const bad[] = { "audit-max-days = -1\n", "audit-max-days = 36501\n",
                                       "audit-max-entries = x\n", "audit-max-entries = 5k\n",
                                       "audit-max-entries = 1000000001\n" };
    char *path = NULL;
    assert_true(asprintf(&path, "%s/bad.conf", f->dir) > 0);
    for (size_t i = 0; i < GP_ARRAY_SIZE(bad); i++) {
        FILE *fp = fopen(path, "w");
        fputs(bad[i], fp);
        fclose(fp);
        assert_int_equal(gp_config_load_file(&cfg, path, false, &err), GP_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "0 = no limit"));
    }
    assert_int_equal(cfg.audit_max_entries, 0);
    assert_int_equal(cfg.audit_max_days, 0);
    setenv("GPUPOOL_AUDIT_MAX_ENTRIES", "7", 1);
    setenv("GPUPOOL_AUDIT_MAX_DAYS", "0", 1);
    assert_int_equal(gp_config_load_env(&cfg, &err), GP_OK);
    unsetenv("GPUPOOL_AUDIT_MAX_ENTRIES");
    unsetenv("GPUPOOL_AUDIT_MAX_DAYS");
    assert_int_equal(cfg.audit_max_entries, 7);
    assert_int_equal(cfg.audit_max_days, -1);
    free(path);
    gp_config_dispose(&cfg);
    gp_error_info_dispose(&err);
}

/* ---- what open refuses, before anything is written --------------------------- */

/* The bytes of a file (*len set), NULL when absent. */
static char *file_bytes(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    *len = 0;
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* A database made and closed through the library at <dir>/<name>, with one
 * pool; returns its malloc'ed path. */
static char *made_db(fixture *f, const char *name)
{
    char *db = NULL;
    assert_true(asprintf(&db, "%s/%s", f->dir, name) > 0);
    gp_ctx *ctx = gt_ctx_embedded(db, "sim", NULL, 0);
    assert_int_equal(gp_pool_create(ctx, "p", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL),
                     GP_OK);
    gp_ctx_free(ctx);
    return db;
}

/* A call that must be refused on db with code, naming param db (and file
 * when not NULL), both on the read path and the write path. */
static void assert_refused(const char *db, int code, const char *file, const char *words)
{
    gp_ctx *ctx = gt_ctx_embedded(db, "sim", NULL, 0);
    gp_pool *pools = NULL;
    size_t n = 0;
    for (int write = 0; write < 2; write++) {
        int rc = write ? gp_pool_create(ctx, "q", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL)
                       : gp_pool_list(ctx, &pools, &n);
        const gp_error_info *e = gp_ctx_last_error(ctx);
        assert_int_equal(rc, code);
        if (!strstr(e->message, words))
            fail_msg("'%s' not in: %s", words, e->message);
        bool has_db = false, has_file = !file;
        for (size_t i = 0; i < e->n_params; i++) {
            has_db |= !strcmp(e->params[i].key, "db") && !strcmp(e->params[i].value, db);
            has_file |= file && !strcmp(e->params[i].key, "file") &&
                        !strcmp(e->params[i].value, file);
        }
        assert_true(has_db && has_file);
        assert_null(ctx->store.db);
    }
    gp_ctx_free(ctx);
}

/* A symbolic link as the database (to a database, or dangling), or as its
 * -wal / -shm, is refused and nothing is followed; so are a directory and a
 * FIFO (without hanging). */
static void test_open_refuses_links_and_odd_files(void **state)
{
    fixture *f = *state;
    char *real = made_db(f, "real.db"), *link = NULL, *dangling = NULL, *target = NULL;
    size_t l1, l2;
    assert_int_equal(chmod(real, 0644), 0);
    char *b1 = file_bytes(real, &l1);

    assert_true(asprintf(&link, "%s/link.db", f->dir) > 0);
    assert_int_equal(symlink(real, link), 0);
    assert_refused(link, GP_ERR_PERMISSION, NULL, "is a symbolic link");
    char *b2 = file_bytes(real, &l2);
    assert_true(l1 == l2 && !memcmp(b1, b2, l1));
    assert_int_equal(mode_of(real), 0644);  /* the target was not touched */
    free(b2);

    assert_true(asprintf(&dangling, "%s/dangling.db", f->dir) > 0);
    assert_true(asprintf(&target, "%s/nowhere.db", f->dir) > 0);
    assert_int_equal(symlink(target, dangling), 0);
    assert_refused(dangling, GP_ERR_PERMISSION, NULL, "is a symbolic link");
    assert_false(exists(target));

    /* A companion file as a link: refused, naming it. */
    char *wal = NULL, *victim = NULL;
    assert_true(asprintf(&wal, "%s-wal", real) > 0);
    assert_true(asprintf(&victim, "%s/victim", f->dir) > 0);
    FILE *fp = fopen(victim, "w");
    fputs("precious", fp);
    fclose(fp);
    unlink(wal);
    assert_int_equal(symlink(victim, wal), 0);
    assert_refused(real, GP_ERR_PERMISSION, wal, "is a symbolic link");
    char *v = tu_slurp(victim);
    assert_string_equal(v, "precious");
    free(v);
    unlink(wal);

    char *dir = NULL, *fifo = NULL;
    assert_true(asprintf(&dir, "%s/dir.db", f->dir) > 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_refused(dir, GP_ERR_IO, NULL, "not a regular file");
    assert_true(asprintf(&fifo, "%s/fifo.db", f->dir) > 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_refused(fifo, GP_ERR_IO, NULL, "not a regular file");

    free(b1);
    free(real);
    free(link);
    free(dangling);
    free(target);
    free(wal);
    free(victim);
    free(dir);
    free(fifo);
}

/* An existing database and its -wal / -shm with group / other bits lose
 * them at the next open by their owner (read path too); a file of another
 * user than this one or root is refused (checked when the test runs as
 * root, which can give a file away). */
static void test_open_tightens_mode_and_checks_owner(void **state)
{
    fixture *f = *state;
    char *db = made_db(f, "loose.db"), *wal = NULL, *shm = NULL;
    assert_true(asprintf(&wal, "%s-wal", db) > 0);
    assert_true(asprintf(&shm, "%s-shm", db) > 0);
    assert_true(exists(wal) && exists(shm));  /* kept (SQLITE_FCNTL_PERSIST_WAL) */
    assert_int_equal(chmod(db, 0644), 0);
    assert_int_equal(chmod(wal, 0666), 0);
    assert_int_equal(chmod(shm, 0640), 0);
    gp_ctx *ctx = gt_ctx_embedded(db, "sim", NULL, 0);
    gp_pool *pools = NULL;
    size_t n = 0;
    assert_int_equal(gp_pool_list(ctx, &pools, &n), GP_OK);
    gp_pool_list_free(pools, n);
    assert_int_equal(mode_of(db), 0600);
    assert_int_equal(mode_of(wal), 0600);
    assert_int_equal(mode_of(shm), 0600);
    gp_ctx_free(ctx);

    if (geteuid() != 0) {
        fprintf(stderr, "skipped: the owner check needs root (chown to another uid)\n");
    } else {
        size_t l1, l2;
        char *b1 = file_bytes(db, &l1);
        assert_int_equal(chown(db, 4242, 4242), 0);
        assert_refused(db, GP_ERR_PERMISSION, NULL, "belongs to uid 4242");
        char *b2 = file_bytes(db, &l2);
        assert_true(l1 == l2 && !memcmp(b1, b2, l1));
        assert_int_equal(chown(db, 0, 0), 0);
        assert_int_equal(chown(wal, 4242, 4242), 0);
        assert_refused(db, GP_ERR_PERMISSION, wal, "belongs to uid 4242");
        assert_int_equal(chown(wal, 0, 0), 0);
        free(b1);
        free(b2);
    }
    free(db);
    free(wal);
    free(shm);
}

/* A valid sqlite file that is not gpupool's is refused before anything is
 * written: not switched to WAL, no table made, no byte changed. */
static void test_foreign_file_refused_before_any_write(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *sql, *words;
    } cases[] = {
        /* another application's tables, schema version 0 */
        { "CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT);"
          "INSERT INTO notes(text) VALUES ('mine');", "holds the table 'notes'" },
        /* a view is enough */
        { "CREATE VIEW v AS SELECT 1;", "holds the view 'v'" },
        /* another application's id */
        { "PRAGMA application_id = 1234; CREATE TABLE t(x);", "application_id is 0x000004d2" },
        /* a schema version but not gpupool's tables */
        { "PRAGMA user_version = 3; CREATE TABLE pools(x); CREATE TABLE audit(y);",
          "lacks gpupool's tables" },
    };
    for (size_t i = 0; i < GP_ARRAY_SIZE(cases); i++) {
        char *db = NULL, *wal = NULL;
        size_t l1, l2;
        assert_true(asprintf(&db, "%s/foreign%zu.db", f->dir, i) > 0);
        assert_true(asprintf(&wal, "%s-wal", db) > 0);
        sqlite3 *h;
        assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_exec(h, cases[i].sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(h);
        char *b1 = file_bytes(db, &l1);
        assert_non_null(b1);
        assert_refused(db, GP_ERR_DB, NULL, cases[i].words);
        char *b2 = file_bytes(db, &l2);
        assert_true(l1 == l2 && !memcmp(b1, b2, l1));
        assert_false(exists(wal));
        char *mode = sql_text(db, "PRAGMA journal_mode");
        assert_string_equal(mode, "delete");
        free(mode);
        free(b1);
        free(b2);
        free(db);
        free(wal);
    }
}

/* A new database carries gpupool's application_id; one made before it was
 * set (application_id 0, gpupool's tables) still opens and gets it. */
static void test_application_id(void **state)
{
    fixture *f = *state;
    assert_int_equal(gp_pool_create(f->ctx, "p", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL),
                     GP_OK);
    assert_int_equal(sql_int(f->db, "PRAGMA application_id"), 0x47505550);
    gp_ctx_free(f->ctx);
    f->ctx = NULL;
    /* As a file of schema version 4 was: no application_id, the old
     * trigger.  It opens, is migrated and gets the id. */
    assert_int_equal(sql_exec(f->db, "PRAGMA application_id = 0; PRAGMA user_version = 4;"
                                     " DROP INDEX assignments_by_tenant;"
                                     " ALTER TABLE assignments DROP COLUMN tenant;"
                                     " ALTER TABLE pools DROP COLUMN cost_per_gpu_hour;"
                                     " ALTER TABLE pools DROP COLUMN idle_release_after;"
                                     " ALTER TABLE pools DROP COLUMN allowed_tenants;"
                                     " ALTER TABLE assignments DROP COLUMN lease_until;"
                                     " DROP TRIGGER audit_no_delete;"
                                     " CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
                                     " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only');"
                                     " END;"), SQLITE_OK);
    f->ctx = gt_ctx_embedded(f->db, "sim", "test-store", 0);
    gp_pool *pools = NULL;
    size_t n = 0;
    assert_int_equal(gp_pool_list(f->ctx, &pools, &n), GP_OK);
    assert_int_equal(n, 1);
    gp_pool_list_free(pools, n);
    assert_int_equal(sql_int(f->db, "PRAGMA application_id"), 0x47505550);
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"), gp_store_schema_version());
    /* And a current file without the id only gets it. */
    gp_ctx_free(f->ctx);
    f->ctx = NULL;
    assert_int_equal(sql_exec(f->db, "PRAGMA application_id = 0"), SQLITE_OK);
    char *d1 = tu_db_dump(f->db);
    f->ctx = gt_ctx_embedded(f->db, "sim", "test-store", 0);
    assert_int_equal(gp_pool_list(f->ctx, &pools, &n), GP_OK);
    gp_pool_list_free(pools, n);
    assert_int_equal(sql_int(f->db, "PRAGMA application_id"), 0x47505550);
    char *d2 = tu_db_dump(f->db);
    assert_string_equal(d1, d2);
    free(d1);
    free(d2);
}

/* ---- integrity --------------------------------------------------------------- */

static int n_quick_checks;

static void count_quick_check(void *arg, const char *sql)
{
    (void)arg;
    if (strstr(sql, "quick_check"))
        n_quick_checks++;
}

/* The number of PRAGMA quick_check a pool-create on a new context runs. */
static int quick_checks_of_a_write(fixture *f, const char *name)
{
    gp_ctx *ctx = gt_ctx_embedded(f->db, "sim", "test-store", 0);
    assert_int_equal(gp_store_open(&ctx->store), GP_OK);
    n_quick_checks = 0;
    sqlite3_trace(ctx->store.db, count_quick_check, NULL);
    assert_int_equal(gp_pool_create(ctx, name, NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL),
                     GP_OK);
    gp_ctx_free(ctx);
    return n_quick_checks;
}

/* The first write of a connection checks integrity, unless the file is as
 * the last checking or writing process left it (<db>-integrity). */
static void test_integrity_checked_when_changed(void **state)
{
    fixture *f = *state;
    char *stamp = NULL;
    assert_true(asprintf(&stamp, "%s-integrity", f->db) > 0);
    assert_int_equal(gp_pool_create(f->ctx, "a", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL),
                     GP_OK);
    gp_ctx_free(f->ctx);
    f->ctx = NULL;
    assert_true(exists(stamp));
    assert_int_equal(mode_of(stamp), 0600);
    /* As left: no check. */
    assert_int_equal(quick_checks_of_a_write(f, "b"), 0);
    assert_int_equal(quick_checks_of_a_write(f, "c"), 0);
    /* No stamp: checked, and stamped again. */
    assert_int_equal(unlink(stamp), 0);
    assert_int_equal(quick_checks_of_a_write(f, "d"), 1);
    assert_true(exists(stamp));
    assert_int_equal(quick_checks_of_a_write(f, "e"), 0);
    /* Touched by something else (the ctime moves, whatever else is kept). */
    assert_int_equal(chmod(f->db, 0600), 0);
    assert_int_equal(quick_checks_of_a_write(f, "f"), 1);
    /* Reads never check. */
    gp_ctx *ctx = gt_ctx_embedded(f->db, "sim", "test-store", 0);
    assert_int_equal(gp_store_open(&ctx->store), GP_OK);
    n_quick_checks = 0;
    sqlite3_trace(ctx->store.db, count_quick_check, NULL);
    gp_pool *pools = NULL;
    size_t n = 0;
    assert_int_equal(gp_pool_list(ctx, &pools, &n), GP_OK);
    assert_int_equal(n, 6);
    gp_pool_list_free(pools, n);
    assert_int_equal(n_quick_checks, 0);
    gp_ctx_free(ctx);
    free(stamp);
}

/* A page of the audit table overwritten: the next write is refused, "is
 * damaged ... restore it from a backup", before anything is written. */
static void test_damaged_database_refused_before_any_write(void **state)
{
    fixture *f = *state;
    char *wal = NULL;
    size_t l1, l2;
    assert_true(asprintf(&wal, "%s-wal", f->db) > 0);
    assert_int_equal(gp_pool_create(f->ctx, "p", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL),
                     GP_OK);
    gp_ctx_free(f->ctx);
    f->ctx = NULL;
    audit_rows_by_hand(f->db, 2000, "2030-01-01T00:00:00.000Z");
    assert_int_equal(sql_exec(f->db, "PRAGMA wal_checkpoint(TRUNCATE)"), SQLITE_OK);
    long long page = sql_int(f->db, "SELECT rootpage FROM sqlite_master WHERE name = 'audit'");
    long long size = sql_int(f->db, "PRAGMA page_size");
    assert_true(page > 1);
    char junk[4096];
    memset(junk, 0x5a, sizeof(junk));
    int fd = open(f->db, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, junk, (size_t)size < sizeof(junk) ? (size_t)size : sizeof(junk),
                            (off_t)((page - 1) * size)), (ssize_t)size);
    close(fd);
    char *b1 = file_bytes(f->db, &l1);

    f->ctx = gt_ctx_embedded(f->db, "sim", "test-store", 0);
    gt_assert_err(f, gp_pool_create(f->ctx, "q", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL),
                  GP_ERR_DB, "db", f->db);
    const char *msg = gp_ctx_last_error(f->ctx)->message;
    assert_non_null(strstr(msg, "is damaged: "));
    assert_non_null(strstr(msg, "restore it from a backup"));
    assert_null(strchr(msg, '\n'));
    gt_assert_err(f, gp_pool_set_param(f->ctx, "p", "pin-mode", "soft"), GP_ERR_DB, "db", f->db);
    gp_ctx_free(f->ctx);
    f->ctx = NULL;
    char *b2 = file_bytes(f->db, &l2);
    assert_true(l1 == l2 && !memcmp(b1, b2, l1));
    size_t lw;
    free(file_bytes(wal, &lw));
    assert_int_equal(lw, 0);

    /* A read that meets the damage says so too. */
    f->ctx = gt_ctx_embedded(f->db, "sim", "test-store", 0);
    gp_audit_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(gp_audit_list(f->ctx, 0, 0, &e, &n), GP_ERR_DB);
    assert_non_null(strstr(gp_ctx_last_error(f->ctx)->message, "restore it from a backup"));
    free(b1);
    free(b2);
    free(wal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lazy_open, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_creates_schema, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_mode_0600_whatever_umask, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_keys_on, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_migrates_empty_file, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_migrates_version_1, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_migrates_version_3, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_value_tables_follow_enum_tables, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_sim_section, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_audit_rows_and_append_only, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_default_caller, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_busy_is_db_busy_and_changes_nothing, setup,
                                        gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_error_names, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_audit_retention_entries, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_audit_retention_days, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_audit_json_capped, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_audit_retention_config, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_links_and_odd_files, setup,
                                        gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_open_tightens_mode_and_checks_owner, setup,
                                        gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_file_refused_before_any_write, setup,
                                        gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_application_id, setup, gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_integrity_checked_when_changed, setup,
                                        gt_env_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_database_refused_before_any_write, setup,
                                        gt_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
