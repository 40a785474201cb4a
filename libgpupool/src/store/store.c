/*
 * store.c - the sqlite3 state database: open, schema migrations,
 * transactions, the append-only audit log.
 *
 * The schema version is PRAGMA user_version.  migrations[i] brings a
 * database from version i to version i + 1; a database newer than this
 * library is refused (GP_ERR_DB_VERSION) rather than guessed at.  Opening a
 * current database does no migration work: two PRAGMA reads (user_version,
 * application_id).
 *
 * Before sqlite sees the file: no symbolic link, a regular file owned by
 * this user or root, group / other bits of an owned file (and its -wal /
 * -shm) cleared.  Before anything is written: the file must be gpupool's
 * (application_id, or the schema's tables in a file made before it was set)
 * and pass PRAGMA quick_check, unless it is unchanged since the last
 * process that checked or wrote it left (the stamp in <db>-integrity).
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GP_BUSY_TIMEOUT_MS_DEFAULT 10000

static const char *const migrations[] = {
    /* 0 -> 1: initial schema */
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
    /* Functions that travel with a member GPU, with their original drivers. */
    "CREATE TABLE pool_companions ("
    "  pci_id TEXT PRIMARY KEY NOT NULL,"
    "  gpu_pci_id TEXT NOT NULL REFERENCES pool_members(pci_id) ON DELETE CASCADE,"
    "  original_driver TEXT"
    ");"
    "CREATE UNIQUE INDEX pool_companions_by_gpu ON pool_companions(gpu_pci_id, pci_id);"
    /* UNIQUE vm_uuid: one GPU per VM; UNIQUE pci_id: a GPU held by at most
     * one VM.  The rules are checked in code too; these are the backstop. */
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
    /* The sim driver's tables (sim_vms, sim_bindings, sim_boot) were made
     * here up to schema version 2; they are the sim driver's own section
     * now (drivers/sim.c), which adopts them where they exist. */
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
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
    /* 1 -> 2: the Xen cpupool of a pool's VMs (xl's pool = "..."); existing
     * pools keep Xen's default, Pool-0, which placement used before. */
    "ALTER TABLE pools ADD COLUMN cpupool TEXT NOT NULL DEFAULT 'Pool-0';",
    /* 2 -> 3: value tables filled from libgpupool's enum tables
     * (core/enum.c; sync_value_tables() adds new names at open), which
     * pools and assignments reference instead of spelling the names in a
     * CHECK; per-owner schema sections (gp_store_section_ensure).  Runs with
     * foreign keys off (migrate()); foreign_key_check runs before COMMIT. */
    "CREATE TABLE schema_sections ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  version INTEGER NOT NULL CHECK (version >= 0)"
    ");"
    "INSERT INTO schema_sections(name, version)"
    "  SELECT 'sim', 1 WHERE EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sim_vms');"
    "CREATE TABLE numa_policies (name TEXT PRIMARY KEY NOT NULL);"
    "CREATE TABLE pin_modes (name TEXT PRIMARY KEY NOT NULL);"
    "CREATE TABLE vm_states (name TEXT PRIMARY KEY NOT NULL);"
    "CREATE TABLE pools_v3 ("
    "  uuid TEXT PRIMARY KEY NOT NULL,"
    "  name_label TEXT NOT NULL UNIQUE CHECK (name_label <> ''),"
    "  name_description TEXT NOT NULL DEFAULT '',"
    "  numa_policy TEXT NOT NULL REFERENCES numa_policies(name),"
    "  pin_mode TEXT NOT NULL REFERENCES pin_modes(name),"
    "  cpu_overcommit REAL NOT NULL CHECK (cpu_overcommit > 0 AND cpu_overcommit <= 64),"
    "  created TEXT NOT NULL,"
    "  cpupool TEXT NOT NULL DEFAULT 'Pool-0'"
    ");"
    "INSERT INTO pools_v3(uuid, name_label, name_description, numa_policy, pin_mode,"
    "  cpu_overcommit, created, cpupool)"
    "  SELECT uuid, name_label, name_description, numa_policy, pin_mode, cpu_overcommit,"
    "  created, cpupool FROM pools;"
    "CREATE TABLE assignments_v3 ("
    "  vm_uuid TEXT NOT NULL UNIQUE,"
    "  pci_id TEXT NOT NULL UNIQUE,"
    "  pool_uuid TEXT NOT NULL REFERENCES pools(uuid),"
    "  numa_node INTEGER NOT NULL,"
    "  pcpus TEXT NOT NULL,"
    "  memory_node INTEGER NOT NULL,"
    "  pin_mode TEXT NOT NULL REFERENCES pin_modes(name),"
    "  vcpus INTEGER NOT NULL CHECK (vcpus > 0),"
    "  memory_mib INTEGER NOT NULL CHECK (memory_mib > 0),"
    "  reason TEXT,"
    "  created TEXT NOT NULL,"
    "  FOREIGN KEY (pool_uuid, pci_id) REFERENCES pool_members(pool_uuid, pci_id)"
    ");"
    "INSERT INTO assignments_v3 SELECT vm_uuid, pci_id, pool_uuid, numa_node, pcpus,"
    "  memory_node, pin_mode, vcpus, memory_mib, reason, created FROM assignments;"
    "DROP TABLE assignments;"
    "DROP TABLE pools;"
    "ALTER TABLE pools_v3 RENAME TO pools;"
    "ALTER TABLE assignments_v3 RENAME TO assignments;",
    /* 3 -> 4: a pool's placement strategy (gp_placement_strategy), filled
     * from core/enum.c like the other value tables; existing pools keep
     * pack, the default.  sqlite refuses ADD COLUMN of a REFERENCES column
     * with a non-NULL default only while foreign keys are on; migrate()
     * runs with them off and foreign_key_check runs after the value tables
     * are filled, so no rebuild of pools is needed. */
    "CREATE TABLE placement_strategies (name TEXT PRIMARY KEY NOT NULL);"
    "ALTER TABLE pools ADD COLUMN placement TEXT NOT NULL DEFAULT 'pack'"
    "  REFERENCES placement_strategies(name);",
    /* 4 -> 5: audit retention (gp_store_audit: audit-max-entries,
     * audit-max-days).  The log stays append-only for everything else: a
     * row may be deleted only while it is the oldest one and not the newest,
     * so retention removes a prefix of the log (sqlite deletes the rows of a
     * rowid range in ascending order, each one the oldest when its turn
     * comes), never the whole log, and nothing can be taken out of the
     * middle or the end. */
    "DROP TRIGGER audit_no_delete;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    "  WHEN old.id > (SELECT min(id) FROM audit) OR old.id = (SELECT max(id) FROM audit)"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: only its oldest rows are"
    " removed, by retention'); END;",
    /* 5 -> 6: the tenant an assignment counts against (governance:
     * quotas, fair share, GPU-hours; docs/governance.md). */
    "ALTER TABLE assignments ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default'"
    "  CHECK (tenant <> '');"
    "CREATE INDEX assignments_by_tenant ON assignments(tenant, pool_uuid);",
    /* 6 -> 7: governance's pool parameters */
    "ALTER TABLE pools ADD COLUMN cost_per_gpu_hour REAL NOT NULL DEFAULT 0"
    "  CHECK (cost_per_gpu_hour >= 0);"
    "ALTER TABLE pools ADD COLUMN idle_release_after INTEGER NOT NULL DEFAULT 0"
    "  CHECK (idle_release_after >= 0);",
    /* 7 -> 8: governance's leases and access: an assignment's lease end
     * (ISO 8601 UTC, NULL none) and a pool's allowed tenants (comma list,
     * '' everyone). */
    "ALTER TABLE assignments ADD COLUMN lease_until TEXT;"
    "ALTER TABLE pools ADD COLUMN allowed_tenants TEXT NOT NULL DEFAULT '';",
};

/* PRAGMA application_id of gpupool's state database: "GPUP". */
#define GP_STORE_APPLICATION_ID 0x47505550
/* The tables every version of the schema has: a file with user_version > 0
 * and no application_id is gpupool's (made before application_id was set)
 * only when it holds them all. */
static const char *const core_tables[] = { "pools", "pool_members", "assignments", "audit" };
/* Audit rows deleted by retention at most per audit row written, so that a
 * large backlog (a first open with lower limits) is spread over writes
 * rather than holding the write lock for seconds. */
#define GP_AUDIT_PRUNE_BATCH 10000
/* Longest before / after JSON kept whole in an audit row; a longer one is
 * kept as {"truncated": true, "bytes": N, "head": "<first bytes>"}. */
#define GP_AUDIT_JSON_MAX 16384
#define GP_AUDIT_JSON_HEAD 1024

int gp_store_schema_version(void)
{
    return (int)GP_ARRAY_SIZE(migrations);
}

static const char *store_path(const gp_store *ctx)
{
    return ctx->cfg->db_path ? ctx->cfg->db_path : GP_DEFAULT_DB_PATH;
}

int gp_store_error(gp_store *ctx, int rc, const char *what)
{
    int primary = rc & 0xff;
    int code = GP_ERR_DB;
    const char *msg = ctx->db ? sqlite3_errmsg(ctx->db) : sqlite3_errstr(rc);

    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        code = GP_ERR_DB_BUSY;
    else if (primary == SQLITE_READONLY || primary == SQLITE_PERM ||
             primary == SQLITE_AUTH)
        code = GP_ERR_PERMISSION;
    else if (primary == SQLITE_NOMEM)
        code = GP_ERR_NOMEM;
    /* errmsg may describe a later call than rc; prefer rc's own text when
     * they disagree. */
    if (ctx->db && (sqlite3_errcode(ctx->db) & 0xff) != primary)
        msg = sqlite3_errstr(rc);
    GP_ERR(ctx, code, "database %s: %s: %s%s", store_path(ctx), what, msg,
           primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB
           ? " (the database is damaged; restore it from a backup)" : "");
    GP_PARAM(ctx, "db", "%s", store_path(ctx));
    return code;
}

/* mkdir -p of the directory holding path. */
static int make_parent_dir(gp_store *ctx, const char *path)
{
    char *dir = gp_strdup(path);
    int rc = GP_OK;

    if (!dir)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        goto out;
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
            rc = GP_ERR(ctx, errno == EACCES ? GP_ERR_PERMISSION : GP_ERR_IO,
                        "cannot create directory %s for database %s: %s", dir, path,
                        strerror(errno));
            GP_PARAM(ctx, "db", "%s", path);
            goto out;
        }
        *p = c;
        if (!c)
            break;
    }
out:
    free(dir);
    return rc;
}

/* Create the file ourselves so its mode is 0600 whatever the umask; sqlite
 * gives the -wal and -shm files the database file's mode. */
static int create_db_file(gp_store *ctx, const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return GP_OK;
        int e = errno;
        GP_ERR(ctx, e == EACCES ? GP_ERR_PERMISSION : GP_ERR_IO,
               "cannot create database %s: %s", path, strerror(e));
        GP_PARAM(ctx, "db", "%s", path);
        return ctx->err->code;
    }
    int rc = GP_OK;
    if (fchmod(fd, 0600) < 0) {
        rc = GP_ERR(ctx, GP_ERR_IO, "cannot chmod database %s: %s", path, strerror(errno));
        GP_PARAM(ctx, "db", "%s", path);
    }
    close(fd);
    return rc;
}

/* The integer a PRAGMA reads (user_version, application_id); 0 when it
 * gives no row (a PRAGMA this sqlite does not know). */
static int read_pragma_int(gp_store *ctx, const char *pragma, int *value)
{
    sqlite3_stmt *st = NULL;
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA %s", pragma);
    *value = 0;
    int rc = sqlite3_prepare_v2(ctx->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *value = sqlite3_column_int(st, 0);
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? GP_OK : gp_store_error(ctx, rc, "reading the database header");
}

static int read_user_version(gp_store *ctx, int *version)
{
    return read_pragma_int(ctx, "user_version", version);
}

/* PRAGMA application_id came with sqlite 3.7.17 (XCP-ng 8.3's); an older
 * sqlite ignores it, and the file is then judged by its tables alone. */
static bool have_application_id(void)
{
    return sqlite3_libversion_number() >= 3007017;
}

static int refuse_newer(gp_store *ctx, int version)
{
    GP_ERR(ctx, GP_ERR_DB_VERSION,
           "database %s has schema version %d, newer than this library's %d",
           store_path(ctx), version, gp_store_schema_version());
    GP_PARAM(ctx, "db", "%s", store_path(ctx));
    GP_PARAM(ctx, "schema-version", "%d", version);
    GP_PARAM(ctx, "supported-version", "%d", gp_store_schema_version());
    return GP_ERR_DB_VERSION;
}

/* Bring the schema to the current version in one write transaction. */
/* The value tables and the enum table each mirrors (core/enum.c). */
static const struct {
    const char *table;
    const char *const *names;
    const size_t *count;
} value_tables[] = {
    { "numa_policies", gp_numa_policy_names, &gp_numa_policy_count },
    { "pin_modes", gp_pin_mode_names, &gp_pin_mode_count },
    { "vm_states", gp_vm_state_names, &gp_vm_state_count },
    { "placement_strategies", gp_placement_strategy_names, &gp_placement_strategy_count },
};

/* Insert the names of every enum table missing from its value table (in the
 * caller's transaction). */
static int fill_value_tables(gp_store *ctx)
{
    for (size_t t = 0; t < GP_ARRAY_SIZE(value_tables); t++) {
        char sql[96];
        sqlite3_stmt *st = NULL;
        snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO %s(name) VALUES (?1)",
                 value_tables[t].table);
        int rc = sqlite3_prepare_v2(ctx->db, sql, -1, &st, NULL);
        for (size_t i = 0; rc == SQLITE_OK && i < *value_tables[t].count; i++) {
            sqlite3_bind_text(st, 1, value_tables[t].names[i], -1, SQLITE_STATIC);
            rc = sqlite3_step(st);
            rc = rc == SQLITE_DONE ? sqlite3_reset(st) : rc;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_OK)
            return gp_store_error(ctx, rc, "filling the value tables");
    }
    return GP_OK;
}

/* True when every value table holds as many names as its enum table: one
 * read per open.  A library with a new name (a NUMA policy, say) adds it
 * at its first open of an older file. */
static bool value_tables_current(gp_store *ctx)
{
    sqlite3_stmt *st = NULL;
    bool ok = false;
    if (sqlite3_prepare_v2(ctx->db, "SELECT (SELECT count(*) FROM numa_policies),"
                           " (SELECT count(*) FROM pin_modes), (SELECT count(*) FROM vm_states),"
                           " (SELECT count(*) FROM placement_strategies)",
                           -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        ok = true;
        for (size_t t = 0; t < GP_ARRAY_SIZE(value_tables); t++)
            if ((size_t)sqlite3_column_int64(st, (int)t) != *value_tables[t].count)
                ok = false;
    }
    sqlite3_finalize(st);
    return ok;
}

/* Rows that break a foreign key after a migration: refuse to commit. */
static int check_foreign_keys(gp_store *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(ctx->db, "PRAGMA foreign_key_check", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return gp_store_error(ctx, rc, "checking foreign keys");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        GP_ERR(ctx, GP_ERR_DB, "database %s: migration left a row of %s without its %s",
               store_path(ctx), (const char *)sqlite3_column_text(st, 0),
               (const char *)sqlite3_column_text(st, 2));
        GP_PARAM(ctx, "db", "%s", store_path(ctx));
        sqlite3_finalize(st);
        return GP_ERR_DB;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? GP_OK : gp_store_error(ctx, rc, "checking foreign keys");
}

static int migrate(gp_store *ctx)
{
    int version = 0, rc;
    char *errmsg = NULL;

    /* WAL is a property of the file: set once, when the schema is made. */
    rc = sqlite3_exec(ctx->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return gp_store_error(ctx, rc, "switching to WAL");
    /* Migrations rebuild tables that others reference (2 -> 3): foreign
     * keys are checked once, before COMMIT, instead of row by row. */
    sqlite3_exec(ctx->db, "PRAGMA foreign_keys=OFF", NULL, NULL, NULL);
    rc = sqlite3_exec(ctx->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return gp_store_error(ctx, rc, "locking for migration");
    /* Another process may have migrated while we waited for the lock. */
    rc = read_user_version(ctx, &version);
    if (rc)
        goto fail;
    if (version > gp_store_schema_version()) {
        rc = refuse_newer(ctx, version);
        goto fail;
    }
    for (int v = version; v < gp_store_schema_version(); v++) {
        int src = sqlite3_exec(ctx->db, migrations[v], NULL, NULL, &errmsg);
        if (src != SQLITE_OK) {
            rc = GP_ERR(ctx, GP_ERR_DB, "database %s: migration to schema version %d failed: %s",
                        store_path(ctx), v + 1, errmsg ? errmsg : sqlite3_errstr(src));
            GP_PARAM(ctx, "db", "%s", store_path(ctx));
            sqlite3_free(errmsg);
            goto fail;
        }
    }
    if (version < gp_store_schema_version()) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", gp_store_schema_version());
        int src = sqlite3_exec(ctx->db, sql, NULL, NULL, NULL);
        if (src != SQLITE_OK) {
            rc = gp_store_error(ctx, src, "recording the schema version");
            goto fail;
        }
    }
    if (have_application_id()) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA application_id=%d", GP_STORE_APPLICATION_ID);
        int src = sqlite3_exec(ctx->db, sql, NULL, NULL, NULL);
        if (src != SQLITE_OK) {
            rc = gp_store_error(ctx, src, "recording the application id");
            goto fail;
        }
    }
    rc = fill_value_tables(ctx);
    if (rc == GP_OK)
        rc = check_foreign_keys(ctx);
    if (rc)
        goto fail;
    rc = sqlite3_exec(ctx->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = gp_store_error(ctx, rc, "committing the migration");
        goto fail;
    }
    ctx->restamp = true;
    sqlite3_exec(ctx->db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
    return GP_OK;
fail:
    sqlite3_exec(ctx->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_exec(ctx->db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
    return rc;
}

/* Refuse, before sqlite opens it, what it must not open as the database or
 * one of its companions (file; st: its lstat): a symbolic link (sqlite
 * follows links, and writes where they point), anything but a regular file,
 * a file of another user than this one or root. */
static int check_file(gp_store *ctx, const char *file, const struct stat *st)
{
    const char *path = store_path(ctx);
    uid_t me = geteuid();
    int rc;

    if (S_ISLNK(st->st_mode))
        rc = GP_ERR(ctx, GP_ERR_PERMISSION, "%s is a symbolic link: gpupool opens its database"
                    " only through the file itself (set db to the link's target)", file);
    else if (!S_ISREG(st->st_mode))
        rc = GP_ERR(ctx, GP_ERR_IO, "%s is not a regular file: it cannot be gpupool's database"
                    " (or its -wal / -shm)", file);
    else if (st->st_uid != me && st->st_uid != 0)
        rc = GP_ERR(ctx, GP_ERR_PERMISSION, "%s belongs to uid %u, neither to this user (uid %u)"
                    " nor to root: gpupool does not use a database another user controls",
                    file, (unsigned)st->st_uid, (unsigned)me);
    else
        return GP_OK;
    GP_PARAM(ctx, "db", "%s", path);
    if (strcmp(file, path))
        GP_PARAM(ctx, "file", "%s", file);
    return rc;
}

/* Clear the group and other bits of a file this user owns (an existing
 * 0644 database let every local user read the state).  Through a
 * descriptor opened without following links, on the inode lstat saw (st).
 * Only when a bit is set: closing any descriptor of a file drops every
 * POSIX lock this process holds on it, sqlite's included, so a file whose
 * mode is right is never opened here. */
static int tighten_mode(gp_store *ctx, const char *file, const struct stat *st)
{
    struct stat fst;
    int rc = GP_OK, e = 0;

    if (st->st_uid != geteuid() || !(st->st_mode & 077))
        return GP_OK;
    int fd = open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &fst) < 0)
        e = errno;
    else if (fst.st_dev != st->st_dev || fst.st_ino != st->st_ino)
        e = ESTALE;
    else if (fchmod(fd, st->st_mode & 0600) < 0)
        e = errno;
    if (e) {
        rc = GP_ERR(ctx, e == EACCES || e == EPERM ? GP_ERR_PERMISSION : GP_ERR_IO,
                    "cannot restrict %s to mode 0600 (it is 0%03o): %s", file,
                    (unsigned)(st->st_mode & 0777), strerror(e));
        GP_PARAM(ctx, "db", "%s", store_path(ctx));
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The database file and its -wal / -shm before sqlite sees them: created
 * (0600) when absent, checked (check_file), their mode tightened when this
 * user may write.  st: the database's lstat; *writable: whether this user
 * may write it (else sqlite opens it read-only). */
static int check_files(gp_store *ctx, struct stat *st, bool *writable)
{
    const char *path = store_path(ctx);
    static const char *const companions[] = { "-wal", "-shm" };
    int rc;

    *writable = false;
    if (lstat(path, st) < 0) {
        if (errno != ENOENT) {
            rc = GP_ERR(ctx, errno == EACCES ? GP_ERR_PERMISSION : GP_ERR_IO,
                        "cannot reach database %s: %s", path, strerror(errno));
            GP_PARAM(ctx, "db", "%s", path);
            return rc;
        }
        rc = make_parent_dir(ctx, path);
        if (rc == GP_OK)
            rc = create_db_file(ctx, path);
        if (rc)
            return rc;
        if (lstat(path, st) < 0) {
            rc = GP_ERR(ctx, GP_ERR_IO, "cannot reach database %s: %s", path, strerror(errno));
            GP_PARAM(ctx, "db", "%s", path);
            return rc;
        }
    }
    rc = check_file(ctx, path, st);
    if (rc)
        return rc;
    if (access(path, R_OK) < 0) {
        rc = GP_ERR(ctx, GP_ERR_PERMISSION, "cannot read database %s: %s", path,
                    strerror(errno));
        GP_PARAM(ctx, "db", "%s", path);
        return rc;
    }
    /* A reader without write permission still gets the read paths. */
    *writable = access(path, W_OK) == 0;
    if (*writable && (rc = tighten_mode(ctx, path, st)))
        return rc;
    for (size_t i = 0; i < GP_ARRAY_SIZE(companions); i++) {
        struct stat cst;
        char *file = gp_asprintf("%s%s", path, companions[i]);
        if (!file)
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        if (lstat(file, &cst) == 0) {
            rc = check_file(ctx, file, &cst);
            if (rc == GP_OK && *writable)
                rc = tighten_mode(ctx, file, &cst);
        }
        free(file);
        if (rc)
            return rc;
    }
    return GP_OK;
}

/* sqlite opened the database by its path: refuse when the path no longer
 * names the file check_files() looked at (st). */
static int check_same_file(gp_store *ctx, const struct stat *st)
{
    struct stat now;
    if (lstat(store_path(ctx), &now) == 0 && !S_ISLNK(now.st_mode) &&
        now.st_dev == st->st_dev && now.st_ino == st->st_ino)
        return GP_OK;
    int rc = GP_ERR(ctx, GP_ERR_IO, "database %s was replaced while it was being opened",
                    store_path(ctx));
    GP_PARAM(ctx, "db", "%s", store_path(ctx));
    return rc;
}

static int refuse_foreign(gp_store *ctx, const char *why)
{
    int rc = GP_ERR(ctx, GP_ERR_DB, "database %s is not a gpupool database: %s; nothing was"
                    " written to it", store_path(ctx), why);
    GP_PARAM(ctx, "db", "%s", store_path(ctx));
    return rc;
}

/* Refuse a valid sqlite file that is not gpupool's, before anything is
 * written to it (WAL, migrations, application_id): application_id another
 * application's; or none (gpupool's files before schema version 5 have
 * none) and, at schema version 0, any table, or above it, not every table
 * of core_tables[].  One read of sqlite_master, only when application_id is
 * not gpupool's. */
static int check_ours(gp_store *ctx, int version, int app_id)
{
    sqlite3_stmt *st = NULL;
    char why[160];
    int rc;

    if (app_id == GP_STORE_APPLICATION_ID)
        return GP_OK;
    if (app_id != 0) {
        snprintf(why, sizeof(why), "its application_id is 0x%08x, gpupool's is 0x%08x",
                 (unsigned)app_id, (unsigned)GP_STORE_APPLICATION_ID);
        return refuse_foreign(ctx, why);
    }
    rc = sqlite3_prepare_v2(ctx->db, version == 0
                            ? "SELECT type, name FROM sqlite_master"
                              " WHERE substr(name, 1, 7) <> 'sqlite_' ORDER BY name LIMIT 1"
                            : "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                              " AND name IN (?1, ?2, ?3, ?4)", -1, &st, NULL);
    for (int i = 0; rc == SQLITE_OK && version != 0 && i < (int)GP_ARRAY_SIZE(core_tables); i++)
        sqlite3_bind_text(st, i + 1, core_tables[i], -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && version == 0) {
        snprintf(why, sizeof(why), "it holds the %s '%.64s' and no gpupool schema",
                 (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
        rc = refuse_foreign(ctx, why);
    } else if (rc == SQLITE_ROW &&
               sqlite3_column_int(st, 0) != (int)GP_ARRAY_SIZE(core_tables)) {
        snprintf(why, sizeof(why), "its schema version is %d but it lacks gpupool's tables"
                 " (pools, pool_members, assignments, audit)", version);
        rc = refuse_foreign(ctx, why);
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        rc = GP_OK;
    } else {
        rc = gp_store_error(ctx, rc, "reading the schema");
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- integrity ------------------------------------------------------------ */

/* The database as the integrity stamp describes it: device, inode, size,
 * mtime and ctime (ns) of the file, and the WAL's size (-1: none).  A
 * change made by anything but a gpupool process that left its stamp
 * changes the ctime, which nobody can set.  NULL when the file cannot be
 * stat'ed or on ENOMEM. */
static char *integrity_stamp(const char *path)
{
    struct stat db, wal;
    char *walp = gp_asprintf("%s-wal", path);
    char *s = NULL;

    if (walp && lstat(path, &db) == 0)
        s = gp_asprintf("gpupool-integrity 1 db %llu:%llu %lld %lld.%09ld %lld.%09ld wal %lld",
                        (unsigned long long)db.st_dev, (unsigned long long)db.st_ino,
                        (long long)db.st_size, (long long)db.st_mtim.tv_sec, db.st_mtim.tv_nsec,
                        (long long)db.st_ctim.tv_sec, db.st_ctim.tv_nsec,
                        lstat(walp, &wal) == 0 ? (long long)wal.st_size : -1LL);
    free(walp);
    return s;
}

/* PRAGMA quick_check: GP_OK, or GP_ERR_DB "database ... is damaged: <its
 * first message>; restore it from a backup". */
static int quick_check(gp_store *ctx)
{
    static const char prefix[] = "*** in database main ***\n";
    sqlite3_stmt *st = NULL;
    char *msg = NULL;
    int rc = sqlite3_prepare_v2(ctx->db, "PRAGMA quick_check", -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        if (r && !strcmp(r, "ok")) {
            rc = GP_OK;
            goto out;
        }
        if (r && !strncmp(r, prefix, sizeof(prefix) - 1))
            r += sizeof(prefix) - 1;
        msg = gp_strdup(r ? r : "?");
    } else if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
        msg = gp_strdup(sqlite3_errmsg(ctx->db));
    } else {
        rc = gp_store_error(ctx, rc, "checking the database's integrity");
        goto out;
    }
    for (char *p = msg; p && *p; p++)
        if (*p == '\n')
            *p = ' ';
    rc = GP_ERR(ctx, GP_ERR_DB, "database %s is damaged: %s; restore it from a backup",
                store_path(ctx), msg ? msg : "out of memory");
    GP_PARAM(ctx, "db", "%s", store_path(ctx));
out:
    sqlite3_finalize(st);
    free(msg);
    return rc;
}

/* Before the first write of a connection: the database must pass PRAGMA
 * quick_check, unless it is as the integrity stamp (<db>-integrity) says
 * the last gpupool process that checked or wrote it left it. */
static int verify_intact(gp_store *ctx)
{
    if (ctx->verified)
        return GP_OK;
    char *now = integrity_stamp(store_path(ctx));
    char *file = gp_asprintf("%s-integrity", store_path(ctx));
    char *saved = file ? gp_read_file_trim(file) : NULL;
    bool same = now && saved && !strcmp(now, saved);
    free(now);
    free(file);
    free(saved);
    int rc = same ? GP_OK : quick_check(ctx);
    if (rc == GP_OK) {
        ctx->verified = true;
        ctx->restamp = ctx->restamp || !same;
    }
    return rc;
}

/* Record the database as it is now (after the connection closed and
 * checkpointed) as checked.  Best effort: without a stamp the next writer
 * runs quick_check. */
static void write_integrity_stamp(const char *path)
{
    char *now = integrity_stamp(path);
    char *file = gp_asprintf("%s-integrity", path);
    int fd = now && file ? open(file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                                0600) : -1;
    if (fd >= 0) {
        size_t len = strlen(now);
        now[len] = '\n';
        /* A short write leaves a stamp that matches nothing. */
        ssize_t w = write(fd, now, len + 1);
        (void)w;
        close(fd);
    }
    free(now);
    free(file);
}

int gp_store_open(gp_store *ctx)
{
    const char *path = store_path(ctx);
    int rc, version = 0, app_id = 0;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    bool writable = false;
    struct stat st;

    if (ctx->db)
        return GP_OK;
    ctx->verified = ctx->restamp = false;
    rc = check_files(ctx, &st, &writable);
    if (rc)
        return rc;
    if (!writable)
        flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
    rc = sqlite3_open_v2(path, &ctx->db, flags, NULL);
    if (rc != SQLITE_OK) {
        int e = errno;
        if (rc == SQLITE_CANTOPEN && e == EACCES)
            rc = GP_ERR(ctx, GP_ERR_PERMISSION, "cannot open database %s: %s", path,
                        strerror(e));
        else
            rc = GP_ERR(ctx, GP_ERR_DB, "cannot open database %s: %s", path,
                        ctx->db ? sqlite3_errmsg(ctx->db) : sqlite3_errstr(rc));
        GP_PARAM(ctx, "db", "%s", path);
        goto fail;
    }
    rc = check_same_file(ctx, &st);
    if (rc)
        goto fail;
    sqlite3_extended_result_codes(ctx->db, 1);
    sqlite3_busy_timeout(ctx->db, ctx->cfg->busy_timeout_ms ? (int)ctx->cfg->busy_timeout_ms
                                                           : GP_BUSY_TIMEOUT_MS_DEFAULT);
    /* Keep the -wal and -shm files when the last connection closes: every
     * xe-gpupool process would otherwise recreate and size them again.  The
     * WAL is truncated after each checkpoint (journal_size_limit=0), so the
     * next process never has to scan a stale WAL to rebuild its index. */
    int persist = 1;
    sqlite3_file_control(ctx->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    /* Connection settings only: nothing here writes to the file. */
    rc = sqlite3_exec(ctx->db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"
                      " PRAGMA journal_size_limit=0",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = gp_store_error(ctx, rc, "setting connection options");
        goto fail;
    }
    rc = read_user_version(ctx, &version);
    if (rc == GP_OK && have_application_id())
        rc = read_pragma_int(ctx, "application_id", &app_id);
    if (rc == GP_OK)
        rc = check_ours(ctx, version, app_id);
    if (rc)
        goto fail;
    if (version > gp_store_schema_version()) {
        rc = refuse_newer(ctx, version);
        goto fail;
    }
    if (version < gp_store_schema_version() ||
        (writable && ((have_application_id() && app_id != GP_STORE_APPLICATION_ID) ||
                      !value_tables_current(ctx)))) {
        /* The first write of this connection. */
        rc = verify_intact(ctx);
        if (rc == GP_OK)
            rc = migrate(ctx);
        if (rc)
            goto fail;
    }
    return GP_OK;
fail:
    sqlite3_close_v2(ctx->db);
    ctx->db = NULL;
    ctx->verified = ctx->restamp = false;
    return rc;
}

void gp_store_init(gp_store *s, const gp_config *cfg, gp_error_info *err)
{
    memset(s, 0, sizeof(*s));
    s->cfg = cfg;
    s->err = err;
}

void gp_store_dispose(gp_store *s)
{
    bool restamp = s->db && s->restamp;
    if (s->db) {
        if (s->in_txn)
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(s->db);
    }
    /* After the close: the last connection's checkpoint has changed the
     * file, and the stamp describes it as it now is. */
    if (restamp)
        write_integrity_stamp(store_path(s));
    s->db = NULL;
    s->in_txn = false;
    s->verified = s->restamp = false;
}

static int section_version(gp_store *ctx, const char *name, int *version)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(ctx->db, "SELECT version FROM schema_sections WHERE name = ?1",
                                -1, &st, NULL);
    *version = 0;
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *version = sqlite3_column_int(st, 0);
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? GP_OK : gp_store_error(ctx, rc, "reading schema sections");
}

int gp_store_section_ensure(gp_store *ctx, const gp_store_section *sec)
{
    int version = 0, rc = gp_store_open(ctx);
    if (rc == GP_OK)
        rc = section_version(ctx, sec->name, &version);
    if (rc || version == (int)sec->n_migrations)
        return rc;
    if (version > (int)sec->n_migrations) {
        rc = GP_ERR(ctx, GP_ERR_DB_VERSION,
                    "database %s: the %s tables are at version %d; this library knows %zu",
                    store_path(ctx), sec->name, version, sec->n_migrations);
        GP_PARAM(ctx, "db", "%s", store_path(ctx));
        return rc;
    }
    /* Inside a caller's transaction the section's tables join it. */
    bool own = !ctx->in_txn;
    if (own && (rc = gp_store_begin(ctx)))
        return rc;
    /* Another process may have migrated while we waited for the lock. */
    rc = section_version(ctx, sec->name, &version);
    for (int v = version; rc == GP_OK && v < (int)sec->n_migrations; v++) {
        char *errmsg = NULL;
        int src = sqlite3_exec(ctx->db, sec->migrations[v], NULL, NULL, &errmsg);
        if (src != SQLITE_OK) {
            rc = GP_ERR(ctx, GP_ERR_DB, "database %s: migration of the %s tables to version %d"
                        " failed: %s", store_path(ctx), sec->name, v + 1,
                        errmsg ? errmsg : sqlite3_errstr(src));
            GP_PARAM(ctx, "db", "%s", store_path(ctx));
        }
        sqlite3_free(errmsg);
    }
    if (rc == GP_OK && version < (int)sec->n_migrations) {
        char n[16];
        snprintf(n, sizeof(n), "%zu", sec->n_migrations);
        rc = gp_store_exec(ctx, "recording a schema section",
                           "INSERT OR REPLACE INTO schema_sections(name, version)"
                           " VALUES (?1, CAST(?2 AS INTEGER))", 2, sec->name, n);
    }
    if (rc) {
        if (own)
            gp_store_rollback(ctx);
        return rc;
    }
    return own ? gp_store_commit(ctx) : GP_OK;
}

int gp_store_prepare(gp_store *ctx, const char *sql, sqlite3_stmt **st)
{
    *st = NULL;
    int rc = gp_store_open(ctx);
    if (rc)
        return rc;
    rc = sqlite3_prepare_v2(ctx->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return gp_store_error(ctx, rc, "preparing a statement");
    }
    return GP_OK;
}

int gp_store_begin(gp_store *ctx)
{
    int rc = gp_store_open(ctx);
    if (rc)
        return rc;
    if (ctx->in_txn)
        return GP_ERR(ctx, GP_ERR_INTERNAL, "nested transaction");
    /* Nothing is written to a damaged database. */
    rc = verify_intact(ctx);
    if (rc)
        return rc;
    rc = sqlite3_exec(ctx->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return gp_store_error(ctx, rc, "taking the write lock");
    ctx->in_txn = true;
    return GP_OK;
}

int gp_store_commit(gp_store *ctx)
{
    if (!ctx->db || !ctx->in_txn)
        return GP_ERR(ctx, GP_ERR_INTERNAL, "commit without a transaction");
    int rc = sqlite3_exec(ctx->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = gp_store_error(ctx, rc, "committing");
        gp_store_rollback(ctx);
        return rc;
    }
    ctx->in_txn = false;
    ctx->restamp = true;
    return GP_OK;
}

void gp_store_rollback(gp_store *ctx)
{
    if (!ctx->db || !ctx->in_txn)
        return;
    /* Leaves ctx->err alone: the error that caused the rollback stands. */
    if (!sqlite3_get_autocommit(ctx->db))
        sqlite3_exec(ctx->db, "ROLLBACK", NULL, NULL, NULL);
    ctx->in_txn = false;
}

/* before / after as an audit row keeps it: NULL when json is kept whole
 * (at most GP_AUDIT_JSON_MAX bytes), else a JSON summary {"truncated":
 * true, "bytes": N, "head": "<the first GP_AUDIT_JSON_HEAD bytes>"}
 * (malloc'ed; *nomem on ENOMEM). */
static char *audit_json_capped(const char *json, bool *nomem)
{
    size_t len = json ? strlen(json) : 0;
    if (len <= GP_AUDIT_JSON_MAX)
        return NULL;
    json_object *o = json_object_new_object();
    if (o) {
        json_object_object_add(o, "truncated", json_object_new_boolean(1));
        json_object_object_add(o, "bytes", json_object_new_int64((int64_t)len));
        json_object_object_add(o, "head", json_object_new_string_len(
                                   json, (int)gp_utf8_prefix(json, len, GP_AUDIT_JSON_HEAD)));
    }
    char *s = gp_json_take_text(o);
    *nomem = !s;
    return s;
}

/* Retention, in the audit row's transaction: the rows beyond the newest
 * audit-max-entries and those older than audit-max-days go, oldest first,
 * at most GP_AUDIT_PRUNE_BATCH per call.  Both limits are ranges of the id
 * (the rowid: no scan): ids grow with time, so the rows older than the
 * cutoff are the ones before the first row that is not, found by reading
 * from the oldest row; the cost is the rows removed. */
static int audit_prune(gp_store *ctx)
{
    int64_t keep = ctx->cfg->audit_max_entries ? ctx->cfg->audit_max_entries
                                               : GP_AUDIT_MAX_ENTRIES_DEFAULT;
    int days = ctx->cfg->audit_max_days ? ctx->cfg->audit_max_days : GP_AUDIT_MAX_DAYS_DEFAULT;
    sqlite3_stmt *st = NULL;
    int rc = GP_OK;

    if (keep > 0) {
        rc = gp_store_prepare(ctx, "DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - ?1"
                              " AND id < (SELECT min(id) FROM audit) + ?2", &st);
        if (rc)
            return rc;
        sqlite3_bind_int64(st, 1, keep);
        sqlite3_bind_int64(st, 2, GP_AUDIT_PRUNE_BATCH);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return gp_store_error(ctx, rc, "removing audit rows beyond audit-max-entries");
        rc = GP_OK;
    }
    if (days > 0) {
        char cutoff[32];
        struct tm tm;
        time_t t = time(NULL) - (time_t)days * 86400;
        /* The format of gp_now_iso(): text order is time order. */
        gmtime_r(&t, &tm);
        strftime(cutoff, sizeof(cutoff), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        rc = gp_store_prepare(ctx, "DELETE FROM audit WHERE id < (SELECT id FROM audit"
                              " WHERE time >= ?1 ORDER BY id LIMIT 1)"
                              " AND id < (SELECT min(id) FROM audit) + ?2", &st);
        if (rc)
            return rc;
        sqlite3_bind_text(st, 1, cutoff, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, GP_AUDIT_PRUNE_BATCH);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return gp_store_error(ctx, rc, "removing audit rows older than audit-max-days");
        rc = GP_OK;
    }
    return rc;
}

int gp_store_audit(gp_store *ctx, const char *operation, const char *object,
                   const char *before, const char *after)
{
    sqlite3_stmt *st = NULL;
    char now[32];
    char *caller = NULL, *b = NULL, *a = NULL;
    bool nomem_b = false, nomem_a = false;
    int rc;

    if (!ctx->in_txn)
        return GP_ERR(ctx, GP_ERR_INTERNAL, "audit row outside a transaction");
    if (ctx->cfg->caller)
        caller = gp_strdup(ctx->cfg->caller);
    else
        caller = gp_asprintf("uid=%u pid=%d", (unsigned)getuid(), (int)getpid());
    b = audit_json_capped(before, &nomem_b);
    a = audit_json_capped(after, &nomem_a);
    if (!caller || nomem_b || nomem_a) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = gp_store_prepare(ctx,
                          "INSERT INTO audit(time, caller, operation, object, before, after)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st);
    if (rc)
        goto out;
    gp_now_iso(now);
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, caller, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, operation, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, object, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, b ? b : before, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, a ? a : after, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(ctx, rc, "writing the audit log");
    if (rc == GP_OK)
        rc = audit_prune(ctx);
out:
    sqlite3_finalize(st);
    free(caller);
    free(b);
    free(a);
    return rc;
}

int gp_store_pool_find(gp_store *ctx, const char *pool, char uuid_out[37], char **name_out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (name_out)
        *name_out = NULL;
    if (!pool || !*pool) {
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_POOL, "no pool given");
        GP_PARAM(ctx, "pool", "%s", "");
        return rc;
    }
    /* A uuid-shaped argument is a uuid: name-labels never look like one. */
    rc = gp_store_prepare(ctx, gp_uuid_valid(pool)
                          ? "SELECT uuid, name_label FROM pools WHERE uuid = lower(?1)"
                          : "SELECT uuid, name_label FROM pools WHERE name_label = ?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, pool, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(uuid_out, 37, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = GP_OK;
        if (name_out) {
            *name_out = gp_strdup((const char *)sqlite3_column_text(st, 1));
            if (!*name_out)
                rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        }
    } else if (rc == SQLITE_DONE) {
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_POOL, "no pool with uuid or name-label '%s'", pool);
        GP_PARAM(ctx, "pool", "%s", pool);
    } else {
        rc = gp_store_error(ctx, rc, "looking up a pool");
    }
    sqlite3_finalize(st);
    return rc;
}

int gp_store_exec(gp_store *ctx, const char *what, const char *sql, int n, ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    int rc = gp_store_prepare(ctx, sql, &st);
    if (rc)
        return rc;
    va_start(ap, n);
    for (int i = 1; i <= n; i++)
        sqlite3_bind_text(st, i, va_arg(ap, const char *), -1, SQLITE_STATIC);
    va_end(ap);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(ctx, rc, what);
    sqlite3_finalize(st);
    return rc;
}

int gp_store_query_text(gp_store *ctx, const char *what, const char *sql, const char *arg,
                        char **val)
{
    sqlite3_stmt *st = NULL;
    int rc = gp_store_prepare(ctx, sql, &st);
    *val = NULL;
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *val = gp_strdup((const char *)sqlite3_column_text(st, 0));
        rc = *val ? GP_OK : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    } else {
        rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(ctx, rc, what);
    }
    sqlite3_finalize(st);
    return rc;
}

int gp_store_audit_change(gp_store *ctx, const char *operation, const char *object,
                          char *(*to_json)(const void *obj), const void *before,
                          const void *after)
{
    char *b = before ? to_json(before) : NULL;
    char *a = after ? to_json(after) : NULL;
    int rc;
    if ((before && !b) || (after && !a))
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    else
        rc = gp_store_audit(ctx, operation, object, b, a);
    free(b);
    free(a);
    return rc;
}

