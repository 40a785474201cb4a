/*
 * gov.c - governance: tenants and quotas (docs/governance.md).
 *
 * A VM's tenant comes from the request (tenant=), else from the VM (on
 * XCP-ng a tag "<tenant-tag-prefix><tenant>", which Xen Orchestra's tag
 * editor sets), else "default".  The tenant is stored on the assignment
 * row (assignments.tenant, schema 6).  A quota limits the GPUs of one pool
 * a tenant holds, running or not; it is checked inside the assignment's
 * own transaction:
 *  - sim and xen: the transaction that inserts the row, so no two
 *    assignments can both see room for one;
 *  - xapi (the intent journal): step 1's transaction counts the rows and
 *    the assignments of the tenant still being written (gov_inflight, one
 *    row per intent, deleted with it by gp_journal_end), and adds its
 *    own before it commits.
 * Per host for now: on an XCP-ng pool each host counts its own GPUs.
 */
#include "ops/ops.h"
#include "core/fields.h"
#include "rpc/rpc.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const gov_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE quotas ("
    "  tenant TEXT NOT NULL CHECK (tenant <> ''),"
    "  pool_uuid TEXT NOT NULL REFERENCES pools(uuid) ON DELETE CASCADE,"
    "  gpus INTEGER NOT NULL CHECK (gpus >= 0),"
    "  PRIMARY KEY (tenant, pool_uuid)"
    ");"
    "CREATE TABLE gov_inflight ("
    "  intent_id INTEGER NOT NULL,"
    "  tenant TEXT NOT NULL,"
    "  pool_uuid TEXT NOT NULL"
    ");"
    "CREATE INDEX gov_inflight_by_tenant ON gov_inflight(tenant, pool_uuid);",
    /* 1 -> 2: GPU-held intervals (fair share, GPU-hours) and the queue */
    "CREATE TABLE usage ("
    "  id INTEGER PRIMARY KEY,"
    "  vm_uuid TEXT NOT NULL,"
    "  pci_id TEXT NOT NULL,"
    "  pool_uuid TEXT NOT NULL,"
    "  tenant TEXT NOT NULL,"
    "  held_from INTEGER NOT NULL,"
    "  held_until INTEGER"
    ");"
    "CREATE INDEX usage_open ON usage(vm_uuid, held_until);"
    "CREATE INDEX usage_by_tenant ON usage(tenant, held_from);"
    "CREATE TABLE requests ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  vm_uuid TEXT NOT NULL UNIQUE,"
    "  pool_uuid TEXT NOT NULL REFERENCES pools(uuid) ON DELETE CASCADE,"
    "  tenant TEXT NOT NULL,"
    "  priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 9),"
    "  created INTEGER NOT NULL,"
    "  vcpus INTEGER NOT NULL DEFAULT 0,"
    "  memory_mib INTEGER NOT NULL DEFAULT 0,"
    "  requested_by TEXT,"
    "  on_behalf_of TEXT"
    ");",
    /* 2 -> 3: when VMs ran (GPU-hours running) */
    "CREATE TABLE vm_runs ("
    "  id INTEGER PRIMARY KEY,"
    "  vm_uuid TEXT NOT NULL,"
    "  run_from INTEGER NOT NULL,"
    "  run_until INTEGER"
    ");"
    "CREATE INDEX vm_runs_open ON vm_runs(vm_uuid, run_until);",
    /* 3 -> 4: a request's lease (seconds from when it is served) */
    "ALTER TABLE requests ADD COLUMN lease_seconds INTEGER NOT NULL DEFAULT 0"
    "  CHECK (lease_seconds >= 0);",
    /* 4 -> 5: the size of the VM that held the GPU (capacity: the pool's
     * smallest recent VM); NULL in intervals recorded before */
    "ALTER TABLE usage ADD COLUMN vcpus INTEGER;"
    "ALTER TABLE usage ADD COLUMN memory_mib INTEGER;",
};

static const gp_store_section gov_section = { "gov", gov_migrations,
                                              GP_ARRAY_SIZE(gov_migrations) };

int gp_gov_ensure(gp_ctx *ctx)
{
    return gp_store_section_ensure(&ctx->store, &gov_section);
}

/* ---- tenants ----------------------------------------------------------------------- */

int gp_gov_tenant_check(gp_error_info *err, const char *t)
{
    size_t n = t ? strlen(t) : 0;
    bool ok = n > 0 && n <= GP_TENANT_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = t[i] > 0x20 && t[i] < 0x7f && t[i] != ',' && t[i] != '=';
    if (ok)
        return GP_OK;
    int rc = gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                        "a tenant is 1 to %d printable ASCII characters without space, comma "
                        "or '=', not '%.64s'", GP_TENANT_MAX, t ? t : "");
    gp_err_param(err, "tenant", "%.64s", t ? t : "");
    return rc;
}

int gp_gov_tenant_of(gp_ctx *ctx, const char *vm_uuid, const char *given, char **out)
{
    const gp_driver_entry *e = NULL;
    char **tags = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    if (given) {
        rc = gp_gov_tenant_check(ctx->err, given);
        if (rc == GP_OK && !(*out = strdup(given)))
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        return rc;
    }
    rc = gp_ctx_driver(ctx, &e);
    if (rc)
        return rc;
    if (!strcmp(e->name, "xapi")) {
        const char *prefix = ctx->cfg.tenant_tag_prefix ? ctx->cfg.tenant_tag_prefix
                                                        : GP_TENANT_TAG_PREFIX;
        size_t pl = strlen(prefix);
        rc = gp_xapi_drv_vm_tags(&ctx->drv, vm_uuid, &tags, &n);
        if (rc)
            return rc;
        for (size_t i = 0; i < n && !*out; i++)
            if (!strncmp(tags[i], prefix, pl) &&
                gp_gov_tenant_check(NULL, tags[i] + pl) == GP_OK)
                *out = strdup(tags[i] + pl);
        gp_strv_free(tags, n);
        if (*out)
            return GP_OK;
    }
    *out = strdup(GP_TENANT_DEFAULT);
    return *out ? GP_OK : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
}

int gp_gov_requester(gp_ctx *ctx, char **out)
{
    const gp_driver_entry *e = NULL;
    int rc = gp_ctx_driver(ctx, &e);

    *out = NULL;
    if (rc)
        return rc;
    /* On XCP-ng the xapi user of the session (session.get_auth_user_name,
     * "root" for a local root session); elsewhere the caller's name. */
    if (!strcmp(e->name, "xapi") && gp_xapi_drv_user(&ctx->drv, out) == GP_OK && *out)
        return GP_OK;
    gp_err_clear(ctx->err);
    *out = strdup(ctx->cfg.caller ? ctx->cfg.caller : "libgpupool");
    return *out ? GP_OK : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
}

/* ---- the check, inside the assignment's transaction --------------------------------- */

static int count_of(gp_ctx *ctx, const char *sql, const char *tenant, const char *pool,
                    int64_t *n)
{
    sqlite3_stmt *st = NULL;
    int rc = gp_store_prepare(&ctx->store, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pool, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    rc = rc == SQLITE_ROW ? GP_OK : gp_store_error(&ctx->store, rc, "reading a quota");
    sqlite3_finalize(st);
    return rc;
}

/* The quota of tenant in pool (uuid), -1 when none.  Errors: GP_ERR_DB*. */
static int quota_get(gp_ctx *ctx, const char *tenant, const char *pool, int *gpus)
{
    sqlite3_stmt *st = NULL;
    int rc = gp_store_prepare(&ctx->store,
                              "SELECT gpus FROM quotas WHERE tenant = ?1 AND pool_uuid = ?2", &st);
    *gpus = -1;
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pool, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *gpus = sqlite3_column_int(st, 0);
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? GP_OK
                                               : gp_store_error(&ctx->store, rc, "reading a quota");
    sqlite3_finalize(st);
    return rc;
}

int gp_gov_quota_check(gp_ctx *ctx, const char *tenant, const char *pool_uuid,
                       const char *pool_name)
{
    int64_t used = 0, inflight = 0;
    int limit = -1;
    int rc;
    /* On an XCP-ng pool the quota is pool-wide: the slot claim is the
     * check (govcl.c), and this host's rows are only its share. */
    if (gp_cluster_on(ctx))
        return GP_OK;
    rc = gp_gov_ensure(ctx);
    if (rc == GP_OK)
        rc = quota_get(ctx, tenant, pool_uuid, &limit);
    if (rc || limit < 0)
        return rc;
    rc = count_of(ctx, "SELECT count(*) FROM assignments WHERE tenant = ?1 AND pool_uuid = ?2",
                  tenant, pool_uuid, &used);
    if (rc == GP_OK)
        rc = count_of(ctx, "SELECT count(*) FROM gov_inflight WHERE tenant = ?1 AND pool_uuid = ?2",
                      tenant, pool_uuid, &inflight);
    if (rc)
        return rc;
    used += inflight;
    if (used + 1 <= limit)
        return GP_OK;
    rc = GP_ERR(ctx, GP_ERR_QUOTA_EXCEEDED,
                "tenant %s holds %lld of its %lld GPU(s) of pool %s: no more until one is "
                "released or the quota raised", tenant, (long long)used, (long long)limit,
                pool_name ? pool_name : pool_uuid);
    GP_PARAM(ctx, "tenant", "%s", tenant);
    GP_PARAM(ctx, "pool", "%s", pool_name ? pool_name : pool_uuid);
    GP_PARAM(ctx, "used", "%lld", (long long)used);
    GP_PARAM(ctx, "limit", "%lld", (long long)limit);
    return rc;
}

/* ---- fair share: the tenants' decayed use -------------------------------------------- */

int gp_gov_tenant_usage(gp_ctx *ctx, int64_t at, gp_tenant_usage **out, int **held,
                        size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    gp_tenant_usage *u = NULL;
    int *h = NULL;
    size_t n = 0, cap = 0, hcap = 0;
    int rc = gp_gov_ensure(ctx);

    *out = NULL;
    if (held)
        *held = NULL;
    *n_out = 0;
    if (rc == GP_OK)
        rc = gp_store_prepare(&ctx->store,
                              "SELECT tenant, held_from, held_until FROM usage ORDER BY tenant", &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        bool open = sqlite3_column_type(st, 2) == SQLITE_NULL;
        gp_usage_interval iv = { sqlite3_column_int64(st, 1),
                                 open ? -1 : sqlite3_column_int64(st, 2) };
        if (!n || strcmp(u[n - 1].tenant, t)) {
            if (gp_array_reserve((void **)&u, &cap, n, sizeof(*u)) ||
                gp_array_reserve((void **)&h, &hcap, n, sizeof(*h)))
                goto nomem;
            u[n].usage = 0;
            h[n] = 0;
            if (!(u[n++].tenant = gp_strdup(t)))
                goto nomem;
        }
        u[n - 1].usage += gp_usage_decayed(&iv, 1, at, GP_FAIR_SHARE_HALF_LIFE);
        h[n - 1] += open;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE) {
        rc = gp_store_error(&ctx->store, rc, "reading GPU use");
        goto fail;
    }
    *out = u;
    *n_out = n;
    if (held)
        *held = h;
    else
        free(h);
    return GP_OK;
nomem:
    rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
fail:
    sqlite3_finalize(st);
    for (size_t i = 0; i < n; i++)
        free((char *)u[i].tenant);
    free(u);
    free(h);
    return rc;
}

/* ---- messages ----------------------------------------------------------------------- */

void gp_gov_message(gp_ctx *ctx, const char *vm_uuid, const char *name, const char *what,
                    const char *pci_id, const char *detail)
{
    const gp_driver_entry *e = NULL;
    char *body;
    int rc;

    if (gp_ctx_driver(ctx, &e) != GP_OK || strcmp(e->name, "xapi")) {
        gp_err_clear(ctx->err);
        return;
    }
    body = gp_asprintf("gpupool %s: GPU %s %s", what, pci_id ? pci_id : "-",
                       detail ? detail : "");
    rc = body ? gp_xapi_drv_message(&ctx->drv, vm_uuid, name,
                                    strcmp(name, "GPUPOOL_GPU_RELEASED") ? 5 : 4, body)
              : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    if (rc) {
        char *after = gp_asprintf("{\"message\":\"%s\",\"error\":\"%s\"}", name,
                                  gp_error_name(rc));
        if (after && gp_store_begin(&ctx->store) == GP_OK) {
            if (gp_store_audit(&ctx->store, "message-failed", vm_uuid, NULL, after) == GP_OK)
                gp_store_commit(&ctx->store);
            else
                gp_store_rollback(&ctx->store);
        }
        free(after);
    }
    gp_err_clear(ctx->err);
    free(body);
}

/* ---- access: a pool's allowed tenants ------------------------------------------------ */

/* Whether the comma list names tenant (exact, case-sensitive). */
static bool list_names(const char *list, const char *tenant)
{
    size_t tl = strlen(tenant);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        if (l == tl && !strncmp(p, tenant, l))
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

int gp_gov_tenant_list_check(gp_error_info *err, const char *list)
{
    char one[GP_TENANT_MAX + 2];
    int rc = GP_OK;

    for (const char *p = list; rc == GP_OK && p && *p;) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        snprintf(one, sizeof(one), "%.*s", (int)(l < sizeof(one) - 1 ? l : sizeof(one) - 1), p);
        if (l > GP_TENANT_MAX || gp_gov_tenant_check(NULL, one) != GP_OK || (comma && !comma[1])) {
            rc = gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                            "allowed-tenants is '' (every tenant) or tenants separated by commas "
                            "(\"ml,vision\"), not '%.64s'", list);
        } else {
            /* the same tenant twice: almost certainly a typo elsewhere */
            char *rest = gp_asprintf("%.*s", (int)(p - list), list);
            if (rest && list_names(rest, one))
                rc = gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                                "allowed-tenants names tenant %s twice", one);
            free(rest);
        }
        p = comma ? comma + 1 : NULL;
    }
    if (rc)
        gp_err_param(err, "allowed-tenants", "%.64s", list);
    return rc;
}

int gp_gov_access_check(gp_ctx *ctx, const char *tenant, const char *pool_uuid,
                        const char *pool_name)
{
    char *allowed = NULL;
    int rc = gp_store_query_text(&ctx->store, "reading the pool's allowed tenants",
                                 "SELECT allowed_tenants FROM pools WHERE uuid = ?1", pool_uuid,
                                 &allowed);
    if (rc == GP_OK && allowed && *allowed && !list_names(allowed, tenant)) {
        rc = GP_ERR(ctx, GP_ERR_TENANT_NOT_ALLOWED,
                    "tenant %s may not take GPUs of pool %s (allowed-tenants: %s)", tenant,
                    pool_name ? pool_name : pool_uuid, allowed);
        GP_PARAM(ctx, "tenant", "%s", tenant);
        GP_PARAM(ctx, "pool", "%s", pool_name ? pool_name : pool_uuid);
        GP_PARAM(ctx, "allowed", "%s", allowed);
    }
    free(allowed);
    return rc;
}

int gp_gov_inflight_add(gp_ctx *ctx, int64_t intent, const char *tenant, const char *pool_uuid)
{
    char id[24];
    int rc = gp_gov_ensure(ctx);
    snprintf(id, sizeof(id), "%lld", (long long)intent);
    if (rc == GP_OK)
        rc = gp_store_exec(&ctx->store, "recording an assignment being written",
                           "INSERT INTO gov_inflight(intent_id, tenant, pool_uuid)"
                           " VALUES (?1, ?2, ?3)", 3, id, tenant, pool_uuid);
    return rc;
}

/* ---- quota-set / quota-remove / quota-list ------------------------------------------- */

void gp_quota_list_free(gp_quota *q, size_t n)
{
    for (size_t i = 0; q && i < n; i++) {
        free(q[i].tenant);
        free(q[i].pool_name_label);
    }
    free(q);
}

static char *quota_json(const char *tenant, const char *pool, int gpus)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "tenant", json_object_new_string(tenant));
    json_object_object_add(o, "pool_uuid", json_object_new_string(pool));
    json_object_object_add(o, "gpus", json_object_new_int(gpus));
    return gp_json_take_text(o);
}


int gp_quota_set_local(gp_ctx *ctx, const char *tenant, const char *pool, int gpus)
{
    char uuid[37], n[16];
    char *before = NULL, *after = NULL;
    int old = -1, xold = -1, rc;

    gp_err_clear(ctx->err);
    rc = gp_gov_tenant_check(ctx->err, tenant);
    if (rc)
        return rc;
    if (gpus < 0 || gpus > 100000) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "gpus must be 0 to 100000, not %d", gpus);
        GP_PARAM(ctx, "gpus", "%d", gpus);
        return rc;
    }
    rc = gp_cluster_pull(ctx);
    if (rc == GP_OK)
        rc = gp_gov_ensure(ctx);
    /* On an XCP-ng pool the quota is pool-wide: xapi first (govcl.c). */
    if (rc == GP_OK)
        rc = gp_store_pool_find(&ctx->store, pool, uuid, NULL);
    if (rc == GP_OK && gp_cluster_on(ctx))
        rc = gp_govcl_quota_get(ctx, uuid, tenant, &xold);
    if (rc == GP_OK)
        rc = gp_govcl_quota_publish(ctx, uuid, tenant, gpus);
    if (rc == GP_OK)
        rc = gp_store_begin(&ctx->store);
    if (rc)
        return rc;
    rc = gp_store_pool_find(&ctx->store, pool, uuid, NULL);
    if (rc == GP_OK)
        rc = quota_get(ctx, tenant, uuid, &old);
    if (rc == GP_OK && gp_cluster_on(ctx))
        old = xold;
    snprintf(n, sizeof(n), "%d", gpus);
    if (rc == GP_OK)
        rc = gp_store_exec(&ctx->store, "setting a quota",
                           "INSERT OR REPLACE INTO quotas(tenant, pool_uuid, gpus) VALUES (?1, ?2, ?3)",
                           3, tenant, uuid, n);
    if (rc == GP_OK) {
        before = old >= 0 ? quota_json(tenant, uuid, old) : NULL;
        after = quota_json(tenant, uuid, gpus);
        rc = after && (old < 0 || before) ? gp_store_audit(&ctx->store, "quota-set", tenant, before, after)
                                          : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    if (rc == GP_OK)
        rc = gp_store_commit(&ctx->store);
    else
        gp_store_rollback(&ctx->store);
    free(before);
    free(after);
    return rc;
}

int gp_quota_remove(gp_ctx *ctx, const char *tenant, const char *pool)
{
    char uuid[37];
    char *before = NULL;
    int old = -1, xold = -1, rc;

    gp_err_clear(ctx->err);
    rc = gp_gov_tenant_check(ctx->err, tenant);
    if (rc == GP_OK)
        rc = gp_cluster_pull(ctx);
    if (rc == GP_OK)
        rc = gp_gov_ensure(ctx);
    if (rc == GP_OK)
        rc = gp_store_pool_find(&ctx->store, pool, uuid, NULL);
    if (rc == GP_OK && gp_cluster_on(ctx))
        rc = gp_govcl_quota_get(ctx, uuid, tenant, &xold);
    if (rc == GP_OK && xold >= 0)
        rc = gp_govcl_quota_publish(ctx, uuid, tenant, -1);
    if (rc == GP_OK)
        rc = gp_store_begin(&ctx->store);
    if (rc)
        return rc;
    rc = gp_store_pool_find(&ctx->store, pool, uuid, NULL);
    if (rc == GP_OK)
        rc = quota_get(ctx, tenant, uuid, &old);
    if (rc == GP_OK && gp_cluster_on(ctx))
        old = xold;
    if (rc == GP_OK && old < 0) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "tenant %s has no quota in pool %s", tenant,
                    pool);
        GP_PARAM(ctx, "tenant", "%s", tenant);
        GP_PARAM(ctx, "pool", "%s", pool);
    }
    if (rc == GP_OK)
        rc = gp_store_exec(&ctx->store, "removing a quota",
                           "DELETE FROM quotas WHERE tenant = ?1 AND pool_uuid = ?2", 2, tenant,
                           uuid);
    if (rc == GP_OK) {
        before = quota_json(tenant, uuid, old);
        rc = before ? gp_store_audit(&ctx->store, "quota-remove", tenant, before, NULL)
                    : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    if (rc == GP_OK)
        rc = gp_store_commit(&ctx->store);
    else
        gp_store_rollback(&ctx->store);
    free(before);
    return rc;
}

int gp_quota_list(gp_ctx *ctx, gp_quota **out, size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    gp_quota *v = NULL;
    size_t n = 0, cap = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    gp_err_clear(ctx->err);
    if (gp_cluster_on(ctx))          /* pool-wide: xapi's quotas and placements */
        return gp_govcl_quota_list(ctx, out, n_out);
    rc = gp_gov_ensure(ctx);
    if (rc == GP_OK)
        rc = gp_store_prepare(&ctx->store,
                              "SELECT q.tenant, q.pool_uuid, p.name_label, q.gpus,"
                              " (SELECT count(*) FROM assignments a WHERE a.tenant = q.tenant"
                              "  AND a.pool_uuid = q.pool_uuid)"
                              " FROM quotas q JOIN pools p ON p.uuid = q.pool_uuid"
                              " ORDER BY p.name_label, q.tenant", &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (gp_array_reserve((void **)&v, &cap, n, sizeof(*v)))
            goto nomem;
        gp_quota *q = &v[n++];
        memset(q, 0, sizeof(*q));
        q->tenant = gp_strdup((const char *)sqlite3_column_text(st, 0));
        snprintf(q->pool_uuid, sizeof(q->pool_uuid), "%s", sqlite3_column_text(st, 1));
        q->pool_name_label = gp_strdup((const char *)sqlite3_column_text(st, 2));
        q->gpus = sqlite3_column_int(st, 3);
        q->used = sqlite3_column_int(st, 4);
        if (!q->tenant || !q->pool_name_label)
            goto nomem;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        gp_quota_list_free(v, n);
        return gp_store_error(&ctx->store, rc, "reading quotas");
    }
    *out = v;
    *n_out = n;
    return GP_OK;
nomem:
    sqlite3_finalize(st);
    gp_quota_list_free(v, n);
    return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
}

static int quota_record_at(const void *arg, size_t i, gp_record *out)
{
    const gp_quota *q = &((const gp_quota *)arg)[i];
    gp_recb b;
    gp_recb_init(&b, out);
    gp_recb_str(&b, "tenant", q->tenant);
    gp_recb_str(&b, "pool", q->pool_name_label);
    gp_recb_str(&b, "pool-uuid", q->pool_uuid);
    gp_recb_int(&b, "gpus", q->gpus, 0);
    gp_recb_int(&b, "used", q->used, 0);
    return gp_recb_finish(&b);
}

int gp_quota_records(gp_ctx *ctx, gp_record **out, size_t *n_out)
{
    gp_quota *q = NULL;
    size_t n = 0;
    int rc = gp_quota_list(ctx, &q, &n);
    *out = NULL;
    *n_out = 0;
    if (rc == GP_OK)
        rc = gp_fields_records(ctx->err, "quota", n, quota_record_at, q, out, n_out);
    gp_quota_list_free(q, n);
    return rc;
}

/* ---- GPU-held intervals ------------------------------------------------------------ */

int gp_gov_usage_open(gp_ctx *ctx, const gp_assignment *a)
{
    char now[24], vcpus[16], mem[24];
    int rc = gp_gov_ensure(ctx);
    snprintf(now, sizeof(now), "%lld", (long long)gp_now());
    snprintf(vcpus, sizeof(vcpus), "%d", a->vcpus);
    snprintf(mem, sizeof(mem), "%llu", (unsigned long long)a->memory_mib);
    if (rc == GP_OK)
        rc = gp_store_exec(&ctx->store, "recording GPU use",
                           "INSERT INTO usage(vm_uuid, pci_id, pool_uuid, tenant, held_from,"
                           " vcpus, memory_mib) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", 7,
                           a->vm_uuid, a->pci_id, a->pool_uuid,
                           a->tenant ? a->tenant : GP_TENANT_DEFAULT, now, vcpus, mem);
    return rc;
}

int gp_gov_usage_close(gp_ctx *ctx, const char *vm_uuid)
{
    char now[24];
    int rc = gp_gov_ensure(ctx);
    snprintf(now, sizeof(now), "%lld", (long long)gp_now());
    if (rc == GP_OK)
        rc = gp_store_exec(&ctx->store, "recording GPU use",
                           "UPDATE usage SET held_until = max(held_from, ?2) WHERE vm_uuid = ?1"
                           " AND held_until IS NULL",
                           2, vm_uuid, now);
    return rc;
}

/* ---- when VMs ran ---------------------------------------------------------------------- */

int gp_gov_power(gp_ctx *ctx, const char *vm_uuid, bool running)
{
    char now[24], *open_id = NULL;
    int rc = gp_gov_ensure(ctx);
    snprintf(now, sizeof(now), "%lld", (long long)gp_now());
    if (rc == GP_OK)
        rc = gp_store_query_text(&ctx->store, "reading VM runs",
                                 "SELECT id FROM vm_runs WHERE vm_uuid = ?1 AND run_until IS NULL",
                                 vm_uuid, &open_id);
    if (rc == GP_OK && running && !open_id)
        rc = gp_store_exec(&ctx->store, "recording a VM run",
                           "INSERT INTO vm_runs(vm_uuid, run_from) VALUES (?1, ?2)", 2, vm_uuid,
                           now);
    else if (rc == GP_OK && !running && open_id)
        rc = gp_store_exec(&ctx->store, "recording a VM run",
                           "UPDATE vm_runs SET run_until = max(run_from, ?2) WHERE id = ?1", 2,
                           open_id, now);
    free(open_id);
    return rc;
}

/* ---- usage-report ------------------------------------------------------------------------ */

void gp_usage_rows_free(gp_usage_row *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].key);
        free(r[i].tenant);
    }
    free(r);
}

/* Overlap of [a, b) and [c, d) in seconds. */
static int64_t overlap(int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t lo = a > c ? a : c, hi = b < d ? b : d;
    return hi > lo ? hi - lo : 0;
}

/* Rows by key, then tenant (GP_USAGE_BY_POOL_TENANT). */
static int usage_row_cmp(const gp_usage_row *a, const gp_usage_row *b)
{
    int c = strcmp(a->key, b->key);
    return c ? c : strcmp(a->tenant ? a->tenant : "", b->tenant ? b->tenant : "");
}

int gp_usage_report(gp_ctx *ctx, int64_t from, int64_t to, gp_usage_group group,
                    gp_usage_row **out, size_t *n_out)
{
    sqlite3_stmt *st = NULL, *runs = NULL;
    gp_usage_row *v = NULL;
    size_t n = 0, cap = 0;
    int64_t now = gp_now();
    int rc;

    *out = NULL;
    *n_out = 0;
    gp_err_clear(ctx->err);
    if (to <= from || group < 0 || group >= GP_USAGE_GROUP_LAST) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT,
                    "a usage report needs from before to and a grouping (tenant, pool, vm, pool and tenant)");
        GP_PARAM(ctx, "from", "%lld", (long long)from);
        GP_PARAM(ctx, "to", "%lld", (long long)to);
        return rc;
    }
    /* Runs are what gpupool recorded: exact for the sim driver (its power
     * changes are recorded as they happen). */
    rc = gp_gov_ensure(ctx);
    if (rc == GP_OK)
        rc = gp_store_prepare(&ctx->store,
                              "SELECT u.vm_uuid, u.held_from, coalesce(u.held_until, ?3), u.tenant,"
                              " coalesce(p.name_label, u.pool_uuid), coalesce(p.cost_per_gpu_hour, 0)"
                              " FROM usage u LEFT JOIN pools p ON p.uuid = u.pool_uuid"
                              " WHERE u.held_from < ?2 AND coalesce(u.held_until, ?3) > ?1", &st);
    if (rc == GP_OK)
        rc = gp_store_prepare(&ctx->store,
                              "SELECT run_from, coalesce(run_until, ?2) FROM vm_runs"
                              " WHERE vm_uuid = ?1", &runs);
    if (rc)
        goto out;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    sqlite3_bind_int64(st, 3, now);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *vm = (const char *)sqlite3_column_text(st, 0);
        int64_t a = sqlite3_column_int64(st, 1), b = sqlite3_column_int64(st, 2);
        const char *key = group == GP_USAGE_BY_TENANT ? (const char *)sqlite3_column_text(st, 3)
                          : group == GP_USAGE_BY_POOL || group == GP_USAGE_BY_POOL_TENANT
                              ? (const char *)sqlite3_column_text(st, 4)
                              : vm;
        const char *tenant = group == GP_USAGE_BY_POOL_TENANT
                                 ? (const char *)sqlite3_column_text(st, 3) : NULL;
        int64_t held = overlap(a, b, from, to), running = 0;
        size_t k;
        sqlite3_reset(runs);
        sqlite3_bind_text(runs, 1, vm, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(runs, 2, now);
        while (sqlite3_step(runs) == SQLITE_ROW) {
            int64_t c = sqlite3_column_int64(runs, 0), d = sqlite3_column_int64(runs, 1);
            /* running while holding the GPU, inside the report's window */
            int64_t lo = a > from ? a : from, hi = b < to ? b : to;
            running += overlap(lo, hi, c, d);
        }
        for (k = 0; k < n && (strcmp(v[k].key, key) ||
                              (tenant && strcmp(v[k].tenant, tenant))); k++)
            ;
        if (k == n) {
            if (gp_array_reserve((void **)&v, &cap, n, sizeof(*v)))
                goto nomem;
            memset(&v[n], 0, sizeof(v[n]));
            n++;
            if (!(v[k].key = strdup(key)) || (tenant && !(v[k].tenant = strdup(tenant))))
                goto nomem;
        }
        v[k].held_seconds += held;
        v[k].running_seconds += running;
        double price = sqlite3_column_double(st, 5);
        if (price > 0) {
            v[k].cost += (double)held / 3600.0 * price;
            v[k].has_cost = true;
        }
    }
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(&ctx->store, rc, "reading GPU use");
    if (rc)
        goto out;
    for (size_t i = 1; i < n; i++)       /* by key, a handful of rows */
        for (size_t j = i; j > 0 && usage_row_cmp(&v[j - 1], &v[j]) > 0; j--) {
            gp_usage_row t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    *out = v;
    *n_out = n;
    v = NULL;
    n = 0;
    goto out;
nomem:
    rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
out:
    sqlite3_finalize(st);
    sqlite3_finalize(runs);
    gp_usage_rows_free(v, n);
    return rc;
}
