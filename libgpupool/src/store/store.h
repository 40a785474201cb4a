/*
 * store/store.h - the sqlite3 state database: open (create, 0600, WAL,
 * foreign keys), schema migrations (the main schema and per-owner sections,
 * such as the sim driver's tables), transactions, queries and the
 * append-only audit log.  Depends on core only.  Not installed.
 */
#ifndef GPUPOOL_STORE_H
#define GPUPOOL_STORE_H

#include "core/core.h"

#include <sqlite3.h>

/* One connection to the state database.  Embedded in its owner (gp_ctx);
 * opened lazily by the first call that needs it. */
typedef struct gp_store {
    sqlite3 *db;             /* NULL until opened */
    bool in_txn;             /* inside gp_store_begin() */
    bool verified;           /* passed quick_check, or matched the integrity stamp, since
                                it was opened: writes may go in */
    bool restamp;            /* write the integrity stamp (<db>-integrity) when closing */
    const gp_config *cfg;    /* db_path, busy_timeout_ms, caller: borrowed */
    gp_error_info *err;      /* where errors go: borrowed */
} gp_store;

/* A group of tables with its own version, kept in the table
 * schema_sections(name, version): migrations[i] brings the section from
 * version i to i + 1 (SQL text, run in the migration's transaction). */
typedef struct {
    const char *name;
    const char *const *migrations;
    size_t n_migrations;
} gp_store_section;

/* Bind s to cfg and err (nothing is opened). */
GP_HIDDEN void gp_store_init(gp_store *s, const gp_config *cfg, gp_error_info *err);
/* Roll back an open transaction and close the connection. */
GP_HIDDEN void gp_store_dispose(gp_store *s);
/* Bring sec to its newest version (one BEGIN IMMEDIATE transaction; nothing
 * when it is current: one indexed read).  Errors: GP_ERR_DB*,
 * GP_ERR_DB_VERSION (the section is newer than this library). */
GP_HIDDEN int gp_store_section_ensure(gp_store *s, const gp_store_section *sec);

/* ---- state (store.c) ------------------------------------------------------ */

/* Open the database if not open yet (docs/state.md, "Opening"): create it
 * (0600); refuse a symbolic link, a non-regular file, a file of another user
 * than this one or root (GP_ERR_PERMISSION / GP_ERR_IO, param db, and file
 * for a -wal / -shm); clear the group / other bits of the file and its
 * -wal / -shm when this user owns and may write them; refuse a file that is
 * not gpupool's (GP_ERR_DB "is not a gpupool database", before anything is
 * written) or is newer (GP_ERR_DB_VERSION); before a migration, check
 * integrity (GP_ERR_DB "is damaged"); then WAL, foreign keys, migrations and
 * application_id.  Errors also: GP_ERR_DB*, GP_ERR_NOMEM. */
GP_HIDDEN int gp_store_open(gp_store *s);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK.  The first gp_store_begin() of a
 * connection checks integrity first (PRAGMA quick_check, skipped when the
 * file is as the integrity stamp says the last checking or writing process
 * left it): a damaged database gives GP_ERR_DB "database ... is damaged:
 * <sqlite's first message>; restore it from a backup" and nothing is
 * written. */
GP_HIDDEN int gp_store_begin(gp_store *s);
GP_HIDDEN int gp_store_commit(gp_store *s);
GP_HIDDEN void gp_store_rollback(gp_store *s);
/* Turn a sqlite error into GP_ERR_DB / GP_ERR_DB_BUSY on ctx. */
GP_HIDDEN int gp_store_error(gp_store *s, int rc, const char *what);
/* Append an audit row in the current transaction.  before/after: JSON or
 * NULL; one longer than 16 KiB is kept as {"truncated": true, "bytes": N,
 * "head": "<its first 1 KiB>"}.  Then retention in the same transaction:
 * rows beyond the newest cfg->audit_max_entries and rows older than
 * cfg->audit_max_days go, oldest first, at most 10,000 per call.  Errors:
 * GP_ERR_INTERNAL (no transaction), GP_ERR_NOMEM, GP_ERR_DB*. */
GP_HIDDEN int gp_store_audit(gp_store *s, const char *operation, const char *object,
                             const char *before, const char *after);
GP_HIDDEN int gp_store_schema_version(void);
/* Prepare sql on s->db (opening the store if needed).  On failure sets
 * s->err (GP_ERR_DB) and returns it; *st is then NULL.  Caller finalizes. */
GP_HIDDEN int gp_store_prepare(gp_store *s, const char *sql, sqlite3_stmt **st);
/* Find a pool by uuid or name-label (uuid first).  uuid_out (37 bytes)
 * receives its uuid; name_out, when not NULL, its name-label (caller frees).
 * Errors (s->err set): GP_ERR_UNKNOWN_POOL (param "pool"), GP_ERR_DB*,
 * GP_ERR_NOMEM. */
GP_HIDDEN int gp_store_pool_find(gp_store *s, const char *pool, char uuid_out[37],
                                 char **name_out);
/* Run one statement of sql binding ?1..?n to the n strings that follow
 * (NULL binds SQL NULL; sqlite copies nothing, so they must outlive the
 * call).  Errors (s->err set): GP_ERR_DB* naming what ("removing a GPU
 * from its pool") from gp_store_prepare / gp_store_error. */
GP_HIDDEN int gp_store_exec(gp_store *s, const char *what, const char *sql, int n, ...);
/* The first column of the first row of sql binding ?1 = arg, as a copy in
 * *val (caller frees); *val is NULL when there is no row.  For NOT NULL
 * columns: a NULL value reads as GP_ERR_NOMEM.  Errors (s->err set):
 * GP_ERR_DB* naming what, GP_ERR_NOMEM. */
GP_HIDDEN int gp_store_query_text(gp_store *s, const char *what, const char *sql,
                                  const char *arg, char **val);
/* Append an audit row for a change of one object: before / after (either
 * may be NULL: created / destroyed) are turned into JSON text by to_json
 * (malloc'ed string, NULL on ENOMEM) and passed to gp_store_audit.
 * Errors: GP_ERR_NOMEM (to_json failed), those of gp_store_audit. */
GP_HIDDEN int gp_store_audit_change(gp_store *s, const char *operation, const char *object,
                                    char *(*to_json)(const void *obj), const void *before,
                                    const void *after);
#endif /* GPUPOOL_STORE_H */
