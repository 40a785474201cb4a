/*
 * journal.c - the intent journal: how gpupool changes two databases
 * (its own sqlite and xapi's) without a moment where they disagree for
 * good, and without holding its write lock across xapi round trips.
 *
 * A change under a journaled driver (xapi) runs in three steps:
 *
 *   1. one short transaction decides (rules, placement) and records an
 *      intent: the VMs whose xapi records will be written, the GPUs it
 *      reserves, the PCI functions whose dom0 access changes (with their
 *      status before).  Nothing else changes in sqlite yet;
 *   2. without the lock, the driver writes xapi;
 *   3. one short transaction records the change (assignments, members,
 *      audit) and deletes the intent.
 *
 * An intent's items are what other calls must not touch meanwhile
 * (gp_journal_busy: GP_ERR_IN_PROGRESS; placement skips reserved GPUs).
 * Settling an intent makes xapi say what sqlite says for each item - the
 * VM's boot record from its assignment row (or none), a function hidden
 * from dom0 while it is a pool member (else as it was before) - and
 * deletes it.  Since sqlite changes only in step 3, settling is the undo
 * of a failed step 2 and the recovery of a call killed at any point: the
 * next journaled call settles every intent whose owner process is gone
 * (gp_journal_recover), and host-reconcile fix=true does the same.
 *
 * The intents live in the schema section "journal" (gp_store_section).
 */
#include "ops/ops.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const journal_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE intents ("
    "  id INTEGER PRIMARY KEY,"
    "  operation TEXT NOT NULL,"
    "  owner_pid INTEGER NOT NULL,"
    "  owner_start TEXT NOT NULL,"
    "  created TEXT NOT NULL"
    ");"
    "CREATE TABLE intent_items ("
    "  intent_id INTEGER NOT NULL REFERENCES intents(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK (kind IN ('vm', 'gpu', 'pci')),"
    "  key TEXT NOT NULL,"
    "  value TEXT"
    ");"
    "CREATE INDEX intent_items_key ON intent_items(kind, key);",
};

static const gp_store_section journal_section = { "journal", journal_migrations,
                                                  GP_ARRAY_SIZE(journal_migrations) };

int gp_journal_ensure(gp_ctx *ctx)
{
    return gp_store_section_ensure(&ctx->store, &journal_section);
}

/* The start time of a process (field 22 of /proc/<pid>/stat, clock ticks
 * since boot) as text in out; "" when it cannot be read. */
static void proc_start(long pid, char out[32])
{
    char path[64], buf[1024];
    FILE *f;
    size_t n;

    out[0] = '\0';
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "re");
    if (!f)
        return;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: count
     * fields after its last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return;
    p++;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p + 1, ' ');
    }
    if (!p)
        return;
    p++;
    size_t len = strcspn(p, " ");
    if (len >= 32)
        return;
    memcpy(out, p, len);
    out[len] = '\0';
}

/* Is the intent's owner still running (same pid, same start time)? */
static bool owner_alive(long pid, const char *start)
{
    char now[32];
    if (pid <= 0)
        return false;
    if (pid == (long)getpid())
        return true;
    if (kill((pid_t)pid, 0) < 0 && errno != EPERM)
        return false;
    proc_start(pid, now);
    return now[0] && start && !strcmp(now, start);
}

int gp_journal_begin(gp_ctx *ctx, const char *operation, int64_t *id)
{
    char start[32], now[32], pid[32];
    int rc;

    *id = 0;
    rc = gp_journal_ensure(ctx);
    if (rc)
        return rc;
    proc_start((long)getpid(), start);
    gp_now_iso(now);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    rc = gp_store_exec(&ctx->store, "recording an intent",
                       "INSERT INTO intents(operation, owner_pid, owner_start, created)"
                       " VALUES (?1, ?2, ?3, ?4)", 4, operation, pid, start, now);
    if (rc == GP_OK)
        *id = (int64_t)sqlite3_last_insert_rowid(ctx->store.db);
    return rc;
}

int gp_journal_add(gp_ctx *ctx, int64_t id, const char *kind, const char *key,
                   const char *value)
{
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    return gp_store_exec(&ctx->store, "recording an intent",
                         "INSERT INTO intent_items(intent_id, kind, key, value)"
                         " VALUES (?1, ?2, ?3, ?4)", 4, ids, kind, key, value);
}

int gp_journal_end(gp_ctx *ctx, int64_t id)
{
    char ids[32];
    int rc;
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    rc = gp_store_exec(&ctx->store, "closing an intent",
                       "DELETE FROM intent_items WHERE intent_id = ?1", 1, ids);
    if (rc == GP_OK)
        rc = gp_store_exec(&ctx->store, "closing an intent", "DELETE FROM intents WHERE id = ?1",
                           1, ids);
    /* An assignment being written no longer counts against its tenant's
     * quota apart from its row (gov.c). */
    if (rc == GP_OK)
        rc = gp_gov_ensure(ctx);
    if (rc == GP_OK)
        rc = gp_store_exec(&ctx->store, "closing an intent",
                           "DELETE FROM gov_inflight WHERE intent_id = ?1", 1, ids);
    return rc;
}

int gp_journal_busy(gp_ctx *ctx, const char *kind, const char *key)
{
    bool vm = !strcmp(kind, "vm");
    char *op = NULL;
    int rc = gp_journal_ensure(ctx);
    if (rc)
        return rc;
    rc = gp_store_query_text(&ctx->store, "reading intents",
                             vm ? "SELECT i.operation || ' (pid ' || i.owner_pid || ', since ' ||"
                                  " i.created || ')' FROM intent_items t JOIN intents i"
                                  " ON i.id = t.intent_id WHERE t.kind = 'vm' AND t.key = ?1"
                                : "SELECT i.operation || ' (pid ' || i.owner_pid || ', since ' ||"
                                  " i.created || ')' FROM intent_items t JOIN intents i"
                                  " ON i.id = t.intent_id WHERE t.kind IN ('gpu', 'pci')"
                                  " AND t.key = ?1",
                             key, &op);
    if (rc == GP_OK && op) {
        rc = GP_ERR(ctx, GP_ERR_IN_PROGRESS,
                    "%s %s is being written into xapi by %s; try again when it ends",
                    vm ? "VM" : "GPU", key, op);
        GP_PARAM(ctx, vm ? "vm" : "pci-id", "%s", key);
        GP_PARAM(ctx, "operation", "%s", op);
    }
    free(op);
    return rc;
}

int gp_journal_reserved(gp_ctx *ctx, char ***ids, size_t *n)
{
    sqlite3_stmt *st = NULL;
    char **v = NULL;
    size_t k = 0;
    int rc;

    *ids = NULL;
    *n = 0;
    rc = gp_journal_ensure(ctx);
    if (rc == GP_OK)
        rc = gp_store_prepare(&ctx->store,
                              "SELECT key FROM intent_items WHERE kind IN ('gpu', 'pci')", &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char **nv = realloc(v, (k + 1) * sizeof(*nv));
        if (!nv || !(nv[k] = gp_strdup((const char *)sqlite3_column_text(st, 0)))) {
            if (nv)
                v = nv;
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        v = nv;
        k++;
    }
    if (rc != SQLITE_DONE) {
        rc = gp_store_error(&ctx->store, rc, "reading intents");
        goto out;
    }
    rc = GP_OK;
    *ids = v;
    *n = k;
    v = NULL;
    k = 0;
out:
    sqlite3_finalize(st);
    gp_strv_free(v, k);
    return rc;
}

/* The boot configuration of a VM's assignment row, read with its own SQL
 * (journal.c sits below assign.c): strings and arrays stay in the row. */
/* ---- convergence: make xapi say what sqlite says ------------------------------- */

/* Does the binding already say bc (NULL: nothing of gpupool's)? */
static bool binding_matches(const gp_xapi_binding *b, const gp_boot_config *bc)
{
    if (b->blocked_by_us || b->claimed_by_us)
        return false;
    if (!bc)
        return !b->ours || (!b->mark_pci && !b->mark_mask && !b->affinity_ours);
    if (!b->ours || !b->mark_pci || !b->pci || !b->bound_host || !b->this_host ||
        strcmp(b->bound_host, b->this_host) || !b->affinity_ours)
        return false;
    char **mine = NULL, **cur = NULL;
    size_t n_mine = 0, n_cur = 0;
    bool ok = gp_xapi_drv_pci_names(b->mark_pci, &mine, &n_mine) == GP_OK &&
              gp_xapi_drv_pci_names(b->pci, &cur, &n_cur) == GP_OK &&
              n_mine == 1 + bc->n_companions && !strcmp(mine[0], bc->pci_id);
    for (size_t i = 0; ok && i < bc->n_companions; i++)
        ok = !strcmp(mine[i + 1], bc->companions[i]);
    for (size_t i = 0; ok && i < n_mine; i++) {
        bool found = false;
        for (size_t j = 0; j < n_cur && !found; j++)
            found = !strcmp(mine[i], cur[j]);
        ok = found;
    }
    gp_strv_free(mine, n_mine);
    gp_strv_free(cur, n_cur);
    if (!ok)
        return false;
    if (bc->pin_mode == GP_PIN_HARD && bc->n_pcpus) {
        char *mask = gp_cpulist_join(bc->pcpus, bc->n_pcpus);
        ok = mask && b->mask && b->mark_mask && !strcmp(mask, b->mask) &&
             !strcmp(mask, b->mark_mask);
        free(mask);
        if (!ok)
            return false;
    } else if (b->mark_mask) {
        return false;
    }
    if (bc->assignment) {
        char *pj = gp_placement_json_text(bc->assignment);
        ok = pj && b->placement && !strcmp(pj, b->placement);
        free(pj);
    }
    return ok;
}

int gp_xapi_converge_vm(gp_ctx *ctx, const char *vm_uuid)
{
    const gp_driver_ops *drv;
    gp_assignment *as = NULL;
    size_t n = 0;
    gp_boot_config bc;
    gp_xapi_binding b;
    int rc;

    memset(&b, 0, sizeof(b));
    rc = gp_ctx_drv_ops(ctx, &drv);
    if (rc == GP_OK)
        rc = gp_assignments_read(ctx, vm_uuid, &as, &n);
    if (rc)
        goto out;
    if (n)
        gp_assignment_boot_config(&as[0], &bc);
    rc = gp_xapi_drv_vm_binding(&ctx->drv, vm_uuid, &b);
    if (rc == GP_ERR_UNKNOWN_VM) {
        /* Gone from xapi: nothing to write (drift reports vm-missing). */
        gp_err_clear(ctx->err);
        rc = GP_OK;
        goto out;
    }
    if (rc || binding_matches(&b, n ? &bc : NULL))
        goto out;
    rc = drv->vm_record_boot(&ctx->drv, vm_uuid, n ? &bc : NULL);
out:
    gp_xapi_binding_dispose(&b);
    gp_assignment_list_free(as, n);
    return rc;
}

bool gp_xapi_status_visible(const char *s)
{
    return s && (!strcmp(s, "enabled") || !strcmp(s, "enable_on_reboot"));
}

int gp_xapi_converge_pci(gp_ctx *ctx, const char *pci_id, const char *before)
{
    const gp_driver_ops *drv;
    char *member = NULL, *status = NULL, *orig = NULL;
    int rc;

    rc = gp_ctx_drv_ops(ctx, &drv);
    if (rc == GP_OK)
        rc = gp_store_query_text(&ctx->store, "reading pool members",
                                 "SELECT pci_id FROM pool_members WHERE pci_id = ?1 UNION ALL"
                                 " SELECT pci_id FROM pool_companions WHERE pci_id = ?1",
                                 pci_id, &member);
    if (rc == GP_OK)
        rc = gp_xapi_drv_dom0_status(&ctx->drv, pci_id, &status);
    if (rc == GP_ERR_UNKNOWN_GPU) {
        /* No PCI object (class 12...): gpupool never changed its dom0 access. */
        gp_err_clear(ctx->err);
        rc = GP_OK;
        goto out;
    }
    if (rc)
        goto out;
    if (member && gp_xapi_status_visible(status))
        rc = drv->device_assignable_add(&ctx->drv, pci_id, &orig);
    else if (!member && gp_xapi_status_visible(before) && !gp_xapi_status_visible(status))
        rc = drv->device_assignable_remove(&ctx->drv, pci_id, GP_XAPI_ORIG_PREFIX "enabled");
    if (rc == GP_OK) {
        /* The pool-wide membership record follows sqlite too (GPUs only:
         * a companion has no gpupool:pool of its own). */
        char *pool = NULL;
        rc = gp_store_query_text(&ctx->store, "reading pool members",
                                 "SELECT pool_uuid FROM pool_members WHERE pci_id = ?1", pci_id,
                                 &pool);
        if (rc == GP_OK && (pool || !member))
            rc = gp_cluster_member_mark(ctx, pci_id, pool);
        free(pool);
    }
out:
    free(member);
    free(status);
    free(orig);
    return rc;
}

void gp_xapi_audit_caller(gp_ctx *ctx)
{
    char *user = NULL, *caller;
    if (ctx->cfg.caller && strstr(ctx->cfg.caller, " xapi-user="))
        return;
    if (gp_xapi_drv_user(&ctx->drv, &user) != GP_OK || !user)
        user = strdup("unknown");
    caller = gp_asprintf("%s xapi-user=%s", ctx->cfg.caller ? ctx->cfg.caller : "libgpupool",
                         user ? user : "unknown");
    if (caller) {
        free(ctx->cfg.caller);
        ctx->cfg.caller = caller;
    }
    free(user);
}

int gp_xapi_assign_facts(gp_ctx *ctx, const char *vm_uuid, gp_xapi_held **held,
                         size_t *n_held, char **host_mask)
{
    int rc;

    *held = NULL;
    *n_held = 0;
    *host_mask = NULL;
    gp_xapi_audit_caller(ctx);
    rc = gp_xapi_drv_vm_suitable(&ctx->drv, vm_uuid);
    if (rc == GP_OK)
        rc = gp_xapi_drv_held(&ctx->drv, held, n_held);
    if (rc == GP_OK)
        rc = gp_xapi_drv_host_mask(&ctx->drv, host_mask);
    return rc;
}

int gp_xapi_dom0_status_of(gp_ctx *ctx, const char *pci_id, char **status)
{
    int rc = gp_xapi_drv_dom0_status(&ctx->drv, pci_id, status);
    if (rc == GP_ERR_UNKNOWN_GPU) {
        /* No PCI object: gpupool does not change its dom0 access. */
        gp_err_clear(ctx->err);
        *status = NULL;
        rc = GP_OK;
    }
    return rc;
}

/* ---- settling ------------------------------------------------------------------ */

void gp_intent_list_free(gp_intent *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].operation);
        free(v[i].owner_start);
        free(v[i].created);
        for (size_t k = 0; k < v[i].n_items; k++) {
            free(v[i].items[k].kind);
            free(v[i].items[k].key);
            free(v[i].items[k].value);
        }
        free(v[i].items);
    }
    free(v);
}

int gp_journal_list(gp_ctx *ctx, gp_intent **out, size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    gp_intent *v = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_journal_ensure(ctx);
    if (rc == GP_OK)
        rc = gp_store_prepare(&ctx->store,
                              "SELECT i.id, i.operation, i.owner_pid, i.owner_start, i.created,"
                              " t.kind, t.key, t.value FROM intents i LEFT JOIN intent_items t"
                              " ON t.intent_id = i.id ORDER BY i.id, t.rowid", &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (!n || v[n - 1].id != id) {
            gp_intent *nv = realloc(v, (n + 1) * sizeof(*nv));
            if (!nv) {
                rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
                goto out;
            }
            v = nv;
            memset(&v[n], 0, sizeof(v[n]));
            v[n].id = id;
            v[n].operation = gp_strdup((const char *)sqlite3_column_text(st, 1));
            v[n].owner_pid = (long)sqlite3_column_int64(st, 2);
            v[n].owner_start = gp_strdup((const char *)sqlite3_column_text(st, 3));
            v[n].created = gp_strdup((const char *)sqlite3_column_text(st, 4));
            v[n].owner_alive = owner_alive(v[n].owner_pid, v[n].owner_start);
            n++;
        }
        if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
            gp_intent *in = &v[n - 1];
            gp_intent_item *ni = realloc(in->items, (in->n_items + 1) * sizeof(*ni));
            if (!ni) {
                rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
                goto out;
            }
            in->items = ni;
            ni = &in->items[in->n_items++];
            ni->kind = gp_strdup((const char *)sqlite3_column_text(st, 5));
            ni->key = gp_strdup((const char *)sqlite3_column_text(st, 6));
            ni->value = gp_strdup((const char *)sqlite3_column_text(st, 7));
        }
    }
    if (rc != SQLITE_DONE) {
        rc = gp_store_error(&ctx->store, rc, "reading intents");
        goto out;
    }
    rc = GP_OK;
    *out = v;
    *n_out = n;
    v = NULL;
    n = 0;
out:
    sqlite3_finalize(st);
    gp_intent_list_free(v, n);
    return rc;
}

int gp_journal_settle(gp_ctx *ctx, int64_t id)
{
    gp_intent *all = NULL, *in = NULL;
    size_t n = 0;
    gp_error_info saved;
    uint64_t old_deadline = 0;
    bool budget = false;
    int rc, first = GP_OK;

    gp_error_info_init(&saved);
    /* Settling is an undo: it runs on the undo budget, not on what is left
     * of the call's time limit (a timeout is one reason to settle). */
    if (gp_ctx_driver(ctx, NULL) == GP_OK && ctx->drv_entry->journaled) {
        old_deadline = gp_xapi_drv_set_deadline(&ctx->drv, gp_monotonic_ms() + GP_UNDO_BUDGET_MS);
        budget = true;
    }
    rc = gp_journal_list(ctx, &all, &n);
    if (rc)
        goto out;
    for (size_t i = 0; i < n && !in; i++)
        if (all[i].id == id)
            in = &all[i];
    if (!in)
        goto out; /* settled by another call meanwhile */
    /* Functions first (dom0 access), then VMs; every item is tried, the
     * first failure is kept. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < in->n_items; k++) {
            const gp_intent_item *it = &in->items[k];
            int r = GP_OK;
            if (pass == 0 && !strcmp(it->kind, "pci"))
                r = gp_xapi_converge_pci(ctx, it->key, it->value);
            else if (pass == 1 && !strcmp(it->kind, "vm"))
                r = gp_xapi_converge_vm(ctx, it->key);
            if (r && first == GP_OK) {
                first = r;
                gp_err_copy(&saved, ctx->err);
            }
        }
    if (first) {
        rc = first;
        gp_err_copy(ctx->err, &saved);
        goto out;
    }
    rc = gp_store_begin(&ctx->store);
    if (rc == GP_OK)
        rc = gp_journal_end(ctx, id);
    if (rc == GP_OK)
        rc = gp_store_commit(&ctx->store);
    if (rc)
        gp_store_rollback(&ctx->store);
out:
    if (budget)
        gp_xapi_drv_set_deadline(&ctx->drv, old_deadline);
    gp_error_info_dispose(&saved);
    gp_intent_list_free(all, n);
    return rc;
}

int gp_journal_close(gp_ctx *ctx, int64_t id, int rc)
{
    if (rc == GP_OK)
        rc = gp_journal_end(ctx, id);
    if (rc == GP_OK)
        rc = gp_store_commit(&ctx->store);
    if (rc) {
        gp_error_info saved;
        gp_store_rollback(&ctx->store);
        gp_error_info_init(&saved);
        gp_err_copy(&saved, ctx->err);
        gp_journal_settle(ctx, id);
        gp_err_copy(ctx->err, &saved);
        gp_error_info_dispose(&saved);
    }
    return rc;
}

int gp_journal_recover(gp_ctx *ctx, size_t *n_left)
{
    gp_intent *all = NULL;
    size_t n = 0, left = 0;
    int rc;

    if (n_left)
        *n_left = 0;
    rc = gp_journal_list(ctx, &all, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (all[i].owner_alive) {
            left++;
            continue;
        }
        gp_error_info saved;
        gp_error_info_init(&saved);
        gp_err_copy(&saved, ctx->err);
        if (gp_journal_settle(ctx, all[i].id) != GP_OK)
            left++;
        /* A failed settle stays for drift and the next call; this call's
         * own work goes on. */
        gp_err_copy(ctx->err, &saved);
        gp_error_info_dispose(&saved);
    }
    gp_intent_list_free(all, n);
    if (n_left)
        *n_left = left;
    return GP_OK;
}
