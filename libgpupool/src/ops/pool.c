/*
 * pool.c - GPU pools: create, destroy, list, parameters, and the rules for a
 * GPU entering (pool-gpu-add) and leaving (pool-gpu-remove) a pool.
 *
 * Every mutation is one BEGIN IMMEDIATE transaction holding the checks, the
 * change, the audit row and (sim driver) the driver's own writes.  Host
 * discovery and driver selection happen before it.  A refusal rolls back.
 */
#include "ops/ops.h"

#include <errno.h>
#include <json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading ---------------------------------------------------------------- */

#define POOL_SELECT                                                                   \
    "SELECT p.uuid, p.name_label, p.name_description, p.numa_policy, p.pin_mode,"     \
    " p.cpu_overcommit, p.created, m.pci_id, p.cpupool, p.placement,"                 \
    " p.cost_per_gpu_hour, p.idle_release_after, p.allowed_tenants"                    \
    " FROM pools p LEFT JOIN pool_members m ON m.pool_uuid = p.uuid"

/* Read rows of POOL_SELECT (grouped by pool, members ascending) into a list. */
static int pools_from_rows(gp_ctx *ctx, sqlite3_stmt *st, gp_pool **out, size_t *n_out)
{
    gp_pool *v = NULL;
    size_t n = 0, cap = 0;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *uuid = (const char *)sqlite3_column_text(st, 0);
        gp_pool *p = n ? &v[n - 1] : NULL;
        if (!p || strcmp(p->uuid, uuid)) {
            if (gp_array_reserve((void **)&v, &cap, n, sizeof(*v)))
                goto nomem;
            p = &v[n++];
            gp_pool_init(p);
            snprintf(p->uuid, sizeof(p->uuid), "%s", uuid);
            p->name_label = gp_strdup((const char *)sqlite3_column_text(st, 1));
            p->name_description = gp_strdup((const char *)sqlite3_column_text(st, 2));
            p->created = gp_strdup((const char *)sqlite3_column_text(st, 6));
            p->cpupool = gp_strdup((const char *)sqlite3_column_text(st, 8));
            if (!p->name_label || !p->name_description || !p->created || !p->cpupool)
                goto nomem;
            if (gp_numa_policy_parse((const char *)sqlite3_column_text(st, 3),
                                     &p->numa_policy) ||
                gp_pin_mode_parse((const char *)sqlite3_column_text(st, 4), &p->pin_mode) ||
                gp_placement_strategy_parse((const char *)sqlite3_column_text(st, 9),
                                            &p->placement)) {
                rc = GP_ERR(ctx, GP_ERR_DB,
                            "pool %s has an unreadable policy, pin-mode or placement",
                            p->uuid);
                GP_PARAM(ctx, "pool", "%s", p->uuid);
                goto out;
            }
            p->cpu_overcommit = sqlite3_column_double(st, 5);
            p->cost_per_gpu_hour = sqlite3_column_double(st, 10);
            p->idle_release_after = sqlite3_column_int(st, 11);
            if (sqlite3_column_bytes(st, 12) > 0 &&
                !(p->allowed_tenants = gp_strdup((const char *)sqlite3_column_text(st, 12))))
                goto nomem;
        }
        if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
            char **ng = realloc(p->gpus, (p->n_gpus + 1) * sizeof(*ng));
            if (!ng)
                goto nomem;
            p->gpus = ng;
            p->gpus[p->n_gpus] = gp_strdup((const char *)sqlite3_column_text(st, 7));
            if (!p->gpus[p->n_gpus])
                goto nomem;
            p->n_gpus++;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = gp_store_error(&ctx->store, rc, "reading pools");
        goto out;
    }
    *out = v;
    *n_out = n;
    return GP_OK;
nomem:
    rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
out:
    gp_pool_list_free(v, n);
    return rc;
}

/* Load the pool with this uuid (known to exist) into out. */
static int pool_load(gp_ctx *ctx, const char *uuid, gp_pool *out)
{
    sqlite3_stmt *st = NULL;
    gp_pool *v = NULL;
    size_t n = 0;
    int rc = gp_store_prepare(&ctx->store, POOL_SELECT " WHERE p.uuid = ?1 ORDER BY m.pci_id", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    rc = pools_from_rows(ctx, st, &v, &n);
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (n != 1) {
        gp_pool_list_free(v, n);
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_POOL, "no pool with uuid %s", uuid);
        GP_PARAM(ctx, "pool", "%s", uuid);
        return rc;
    }
    gp_pool_dispose(out);
    *out = v[0];
    free(v);
    return GP_OK;
}

int gp_pool_list(gp_ctx *ctx, gp_pool **out, size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *out = NULL;
    *n_out = 0;
    gp_err_clear(ctx->err);
    /* One statement: one consistent snapshot, no sort (both indexes). */
    rc = gp_store_prepare(&ctx->store, POOL_SELECT " ORDER BY p.name_label, m.pci_id", &st);
    if (rc)
        return rc;
    rc = pools_from_rows(ctx, st, out, n_out);
    sqlite3_finalize(st);
    return rc;
}

int gp_pool_get(gp_ctx *ctx, const char *pool, gp_pool *out)
{
    char uuid[37];
    gp_err_clear(ctx->err);
    int rc = gp_store_pool_find(&ctx->store, pool, uuid, NULL);
    if (rc)
        return rc;
    return pool_load(ctx, uuid, out);
}

/* Audit JSON of a pool (a const gp_pool *). */
static char *pool_json(const void *obj)
{
    const gp_pool *p = obj;
    json_object *o = json_object_new_object(), *g = json_object_new_array();
    if (!o || !g) {
        json_object_put(o);
        json_object_put(g);
        return NULL;
    }
    json_object_object_add(o, "uuid", json_object_new_string(p->uuid));
    json_object_object_add(o, "name_label", json_object_new_string(p->name_label));
    json_object_object_add(o, "name_description",
                           json_object_new_string(p->name_description ? p->name_description : ""));
    json_object_object_add(o, "numa_policy", json_object_new_string(gp_numa_policy_name(p->numa_policy)));
    json_object_object_add(o, "pin_mode", json_object_new_string(gp_pin_mode_name(p->pin_mode)));
    json_object_object_add(o, "cpu_overcommit", json_object_new_double(p->cpu_overcommit));
    json_object_object_add(o, "cpupool",
                           json_object_new_string(p->cpupool ? p->cpupool : GP_CPUPOOL_DEFAULT));
    json_object_object_add(o, "placement",
                           json_object_new_string(gp_placement_strategy_name(p->placement)));
    for (size_t i = 0; i < p->n_gpus; i++)
        json_object_array_add(g, json_object_new_string(p->gpus[i]));
    json_object_object_add(o, "gpus", g);
    return gp_json_take_text(o);
}

/* ---- create / destroy / set-param ------------------------------------------- */

static int check_name_label(gp_ctx *ctx, const char *name)
{
    int rc;
    if (!name || !*name) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "a pool needs a non-empty name-label");
        GP_PARAM(ctx, "name-label", "%s", "");
        return rc;
    }
    if (gp_uuid_valid(name)) {
        /* Pools are found by uuid or name-label: a uuid-shaped name would be
         * ambiguous. */
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT,
                    "pool name-label '%s' looks like a uuid; choose another", name);
        GP_PARAM(ctx, "name-label", "%s", name);
        return rc;
    }
    return gp_text_check(ctx->err, "name-label", name, GP_NAME_LABEL_MAX, false);
}

static int check_overcommit(gp_ctx *ctx, double v, const char *text)
{
    if (!(isfinite(v) && v > 0 && v <= 64)) {
        int rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT,
                        "cpu-overcommit must be > 0 and <= 64, not %s", text);
        GP_PARAM(ctx, "cpu-overcommit", "%s", text);
        return rc;
    }
    return GP_OK;
}

/* A Xen cpupool name: 1..GP_CPUPOOL_NAME_MAX printable ASCII bytes, none
 * of them a quote or a backslash (it is written into xl's pool = "..."). */
_Static_assert(GP_CPUPOOL_NAME_MAX == 64, "check_cpupool's message names the limit");
static int check_cpupool(gp_ctx *ctx, const char *name)
{
    const char *why = NULL;
    size_t len = name ? strlen(name) : 0;
    int rc;

    if (!len)
        why = "must not be empty";
    else if (len > GP_CPUPOOL_NAME_MAX)
        why = "is longer than 64 bytes";  /* GP_CPUPOOL_NAME_MAX */
    for (size_t i = 0; !why && i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c > 0x7e)
            why = "may hold only printable ASCII characters";
        else if (c == '"' || c == '\'' || c == '\\')
            why = "may not hold quotes or backslashes";
    }
    if (!why)
        return GP_OK;
    rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "cpupool name '%.*s%s' %s", GP_CPUPOOL_NAME_MAX,
                name ? name : "", len > GP_CPUPOOL_NAME_MAX ? "..." : "", why);
    GP_PARAM(ctx, "cpupool", "%.*s", GP_CPUPOOL_NAME_MAX, name ? name : "");
    return rc;
}

/* Refuse a name-label another pool (not except_uuid) has. */
static int check_name_free(gp_ctx *ctx, const char *name, const char *except_uuid)
{
    char *other = NULL;
    int rc = gp_store_query_text(&ctx->store, "checking pool names",
                                 "SELECT uuid FROM pools WHERE name_label = ?1", name, &other);
    if (rc)
        return rc;
    if (other && (!except_uuid || strcmp(other, except_uuid))) {
        rc = GP_ERR(ctx, GP_ERR_POOL_EXISTS, "a pool named '%s' already exists (%s)",
                    name, other);
        GP_PARAM(ctx, "name-label", "%s", name);
        GP_PARAM(ctx, "pool", "%s", other);
    }
    free(other);
    return rc;
}

void gp_pool_spec_init(gp_pool_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    spec->policy = GP_NUMA_REQUIRED;
    spec->pin = GP_PIN_HARD;
    spec->cpu_overcommit = 1.0;
}

int gp_pool_create(gp_ctx *ctx, const char *name_label, const char *description,
                   gp_numa_policy policy, gp_pin_mode pin, double cpu_overcommit,
                   char uuid_out[37])
{
    gp_pool_spec spec;

    gp_pool_spec_init(&spec);
    spec.name_label = name_label;
    spec.description = description;
    spec.policy = policy;
    spec.pin = pin;
    spec.cpu_overcommit = cpu_overcommit;
    return gp_pool_create_ex(ctx, &spec, uuid_out);
}

/* Check a pool spec: name-label, policy, pin-mode, placement, overcommit and cpupool
 * (*cpupool: the spec's or the default); leaves nothing. */
static int pool_spec_check(gp_ctx *ctx, const gp_pool_spec *spec, const char **cpupool)
{
    char oc[64];
    int rc;

    *cpupool = spec->cpupool ? spec->cpupool : GP_CPUPOOL_DEFAULT;
    rc = check_name_label(ctx, spec->name_label);
    if (rc == GP_OK)
        rc = gp_text_check(ctx->err, "name-description", spec->description,
                           GP_NAME_DESCRIPTION_MAX, true);
    if (rc)
        return rc;
    if ((unsigned)spec->policy >= GP_NUMA_POLICY_LAST) {
        char v[16];
        snprintf(v, sizeof(v), "%d", (int)spec->policy);
        return gp_set_parse(GP_SET_NUMA_POLICY, NULL, v, ctx->err);
    }
    if ((unsigned)spec->pin >= GP_PIN_MODE_LAST) {
        char v[16];
        snprintf(v, sizeof(v), "%d", (int)spec->pin);
        return gp_set_parse(GP_SET_PIN_MODE, NULL, v, ctx->err);
    }
    if ((unsigned)spec->placement >= GP_PLACE_STRATEGY_LAST) {
        char v[16];
        snprintf(v, sizeof(v), "%d", (int)spec->placement);
        return gp_set_parse(GP_SET_PLACEMENT, NULL, v, ctx->err);
    }
    snprintf(oc, sizeof(oc), "%g", spec->cpu_overcommit);
    rc = check_overcommit(ctx, spec->cpu_overcommit, oc);
    if (rc)
        return rc;
    return check_cpupool(ctx, *cpupool);
}

/* INSERT the pool row under a new uuid (written to uuid), inside the
 * transaction. */
static int pool_insert(gp_ctx *ctx, const gp_pool_spec *spec, const char *cpupool,
                       char uuid[37])
{
    sqlite3_stmt *st = NULL;
    char now[32];
    int rc;

    gp_uuid_generate(uuid);
    gp_now_iso(now);
    rc = gp_store_prepare(&ctx->store, "INSERT INTO pools(uuid, name_label, name_description,"
                          " numa_policy, pin_mode, cpu_overcommit, created, cpupool, placement)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, spec->name_label, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, spec->description ? spec->description : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, gp_numa_policy_name(spec->policy), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, gp_pin_mode_name(spec->pin), -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 6, spec->cpu_overcommit);
    sqlite3_bind_text(st, 7, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, cpupool, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, gp_placement_strategy_name(spec->placement), -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(&ctx->store, rc, "creating a pool");
    sqlite3_finalize(st);
    return rc;
}

/* XCP-ng: publish a new pool in xapi; if xapi refuses, the pool is taken
 * out of sqlite again (audited as a destroy) and xapi's error returned. */
static int pool_create_publish(gp_ctx *ctx, const char *uuid, const gp_pool *after)
{
    gp_error_info saved;
    int rc = gp_cluster_pool_publish(ctx, uuid);
    if (rc == GP_OK)
        return GP_OK;
    gp_error_info_init(&saved);
    gp_err_copy(&saved, ctx->err);
    if (gp_store_begin(&ctx->store) == GP_OK) {
        if (gp_store_exec(&ctx->store, "undoing a pool creation", "DELETE FROM pools WHERE uuid = ?1",
                          1, uuid) == GP_OK &&
            gp_store_audit_change(&ctx->store, "pool-destroy", uuid, pool_json, after, NULL) ==
                GP_OK)
            gp_store_commit(&ctx->store);
        else
            gp_store_rollback(&ctx->store);
    }
    gp_err_copy(ctx->err, &saved);
    gp_error_info_dispose(&saved);
    return rc;
}

int gp_pool_create_ex(gp_ctx *ctx, const gp_pool_spec *spec, char uuid_out[37])
{
    gp_pool after;
    const char *cpupool;
    char uuid[37];
    bool rollback = false;
    int rc;

    gp_pool_init(&after);
    gp_err_clear(ctx->err);
    if (!spec)
        return GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "creating a pool needs a pool spec");
    rc = pool_spec_check(ctx, spec, &cpupool);
    if (rc)
        goto out;
    /* XCP-ng: every pool of the XCP-ng pool is here before the name check. */
    rc = gp_cluster_pull(ctx);
    if (rc)
        goto out;
    rc = gp_store_begin(&ctx->store);
    if (rc)
        goto out;
    rollback = true;
    rc = check_name_free(ctx, spec->name_label, NULL);
    if (rc)
        goto out;
    rc = pool_insert(ctx, spec, cpupool, uuid);
    if (rc)
        goto out;
    rc = pool_load(ctx, uuid, &after);
    if (rc)
        goto out;
    rc = gp_store_audit_change(&ctx->store, "pool-create", uuid, pool_json, NULL, &after);
    if (rc)
        goto out;
    rc = gp_store_commit(&ctx->store);
    rollback = false;
    if (rc == GP_OK)
        rc = pool_create_publish(ctx, uuid, &after);
    if (!rc && uuid_out)
        snprintf(uuid_out, 37, "%s", uuid);
out:
    if (rc && rollback)
        gp_store_rollback(&ctx->store);
    gp_pool_dispose(&after);
    return rc;
}

int gp_pool_destroy(gp_ctx *ctx, const char *pool)
{
    gp_pool before;
    char uuid[37];
    int rc;

    gp_pool_init(&before);
    gp_err_clear(ctx->err);
    rc = gp_cluster_pull(ctx);
    if (rc)
        return rc;
    rc = gp_store_pool_find(&ctx->store, pool, uuid, NULL);
    if (rc)
        return rc;
    /* XCP-ng: no member on any host, then out of xapi first (the next
     * pull on every host drops it). */
    if (gp_cluster_on(ctx)) {
        size_t remote = 0;
        char *first = NULL;
        rc = gp_cluster_pool_remote_members(ctx, uuid, &remote, &first);
        if (rc == GP_OK && remote) {
            rc = GP_ERR(ctx, GP_ERR_POOL_NOT_EMPTY,
                        "pool %s still holds %zu GPU(s) on other hosts, first %s: remove them "
                        "first", uuid, remote, first);
            GP_PARAM(ctx, "pool", "%s", uuid);
            GP_PARAM(ctx, "gpus", "%zu", remote);
        }
        free(first);
        if (rc)
            return rc;
    }
    rc = gp_store_begin(&ctx->store);
    if (rc)
        return rc;
    rc = pool_load(ctx, uuid, &before);
    if (rc)
        goto out;
    if (before.n_gpus) {
        rc = GP_ERR(ctx, GP_ERR_POOL_NOT_EMPTY,
                    "pool %s (%s) still holds %zu GPU(s), first %s: remove them first",
                    before.name_label, uuid, before.n_gpus, before.gpus[0]);
        GP_PARAM(ctx, "pool", "%s", uuid);
        GP_PARAM(ctx, "gpus", "%zu", before.n_gpus);
        goto out;
    }
    rc = gp_store_exec(&ctx->store, "destroying a pool", "DELETE FROM pools WHERE uuid = ?1", 1, uuid);
    if (rc)
        goto out;
    rc = gp_store_audit_change(&ctx->store, "pool-destroy", uuid, pool_json, &before, NULL);
    if (rc)
        goto out;
    rc = gp_cluster_pool_unpublish(ctx, uuid);
    if (rc)
        goto out;
    rc = gp_store_commit(&ctx->store);
    if (rc) {
        gp_error_info saved;
        gp_error_info_init(&saved);
        gp_err_copy(&saved, ctx->err);
        gp_store_rollback(&ctx->store);
        gp_cluster_pool_publish(ctx, uuid);     /* it is still here: back into xapi */
        gp_err_copy(ctx->err, &saved);
        gp_error_info_dispose(&saved);
        gp_pool_dispose(&before);
        return rc;
    }
out:
    if (rc)
        gp_store_rollback(&ctx->store);
    gp_pool_dispose(&before);
    return rc;
}

/* The column of a pool parameter; refuses an unknown parameter or a
 * missing value; leaves nothing. */
static int pool_param_column(gp_ctx *ctx, const char *param, const char *value,
                             const char **column)
{
    static const struct { const char *param, *column; } params[] = {
        { "name-label", "name_label" },
        { "name-description", "name_description" },
        { "numa-policy", "numa_policy" },
        { "pin-mode", "pin_mode" },
        { "cpu-overcommit", "cpu_overcommit" },
        { "cpupool", "cpupool" },
        { "placement", "placement" },
        { "cost-per-gpu-hour", "cost_per_gpu_hour" },
        { "idle-release-after", "idle_release_after" },
        { "allowed-tenants", "allowed_tenants" },
    };
    int rc;

    *column = NULL;
    for (size_t i = 0; param && i < GP_ARRAY_SIZE(params); i++)
        if (!strcmp(param, params[i].param))
            *column = params[i].column;
    if (!*column) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT,
                    "unknown pool parameter '%s' (name-label, name-description, numa-policy,"
                    " pin-mode, cpu-overcommit, cpupool, placement, cost-per-gpu-hour,"
                    " idle-release-after, allowed-tenants)", param ? param : "");
        GP_PARAM(ctx, "param", "%s", param ? param : "");
        return rc;
    }
    if (!value) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "no value for pool parameter %s", param);
        GP_PARAM(ctx, "param", "%s", param);
        return rc;
    }
    return GP_OK;
}

/* Check the value of a known parameter (the overcommit parsed into *oc);
 * leaves nothing. */
static int pool_param_check_value(gp_ctx *ctx, const char *param, const char *value, double *oc)
{
    int rc;

    if (!strcmp(param, "name-label")) {
        rc = check_name_label(ctx, value);
    } else if (!strcmp(param, "name-description")) {
        rc = gp_text_check(ctx->err, param, value, GP_NAME_DESCRIPTION_MAX, true);
    } else if (!strcmp(param, "numa-policy")) {
        rc = gp_set_parse(GP_SET_NUMA_POLICY, NULL, value, ctx->err);
        rc = rc < 0 ? rc : GP_OK;
    } else if (!strcmp(param, "pin-mode")) {
        rc = gp_set_parse(GP_SET_PIN_MODE, NULL, value, ctx->err);
        rc = rc < 0 ? rc : GP_OK;
    } else if (!strcmp(param, "cpu-overcommit")) {
        char *end;
        errno = 0;
        *oc = strtod(value, &end);
        if (errno || end == value || *end)
            *oc = NAN;
        rc = check_overcommit(ctx, *oc, value);
    } else if (!strcmp(param, "cpupool")) {
        rc = check_cpupool(ctx, value);
    } else if (!strcmp(param, "placement")) {
        rc = gp_set_parse(GP_SET_PLACEMENT, NULL, value, ctx->err);
        rc = rc < 0 ? rc : GP_OK;
    } else if (!strcmp(param, "cost-per-gpu-hour")) {
        char *end;
        errno = 0;
        *oc = strtod(value, &end);
        rc = GP_OK;
        if (errno || end == value || *end || !(*oc >= 0) || *oc > 1e9) {
            rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT,
                        "cost-per-gpu-hour must be a number from 0 to 1e9, not '%.64s'", value);
            GP_PARAM(ctx, "cost-per-gpu-hour", "%.64s", value);
        }
    } else if (!strcmp(param, "idle-release-after")) {
        int64_t secs;
        rc = gp_duration_parse(value, &secs);
        if (rc || secs > 3650LL * 86400) {
            rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT,
                        "idle-release-after is a duration such as 90m, 1h or 7d (0: never; at "
                        "most 3650d), not '%.64s'", value);
            GP_PARAM(ctx, "idle-release-after", "%.64s", value);
        } else {
            *oc = (double)secs;
        }
    } else if (!strcmp(param, "allowed-tenants")) {
        rc = gp_gov_tenant_list_check(ctx->err, value);
    } else {
        rc = GP_OK;
    }
    return rc;
}

/* Assigned VMs are pinned inside the old cpupool: moving the pool under
 * them would make vm-xl-config name a cpupool their pins are not in.
 * Refuses a cpupool change of a pool with assignments; leaves the lock held. */
static int pool_param_check_cpupool_move(gp_ctx *ctx, const char *uuid, const gp_pool *before,
                                         const char *value)
{
    char *held = NULL;
    int rc;

    if (!strcmp(value, before->cpupool))
        return GP_OK;
    rc = gp_store_query_text(&ctx->store, "looking for assignments of the pool",
                             "SELECT vm_uuid FROM assignments WHERE pool_uuid = ?1"
                             " ORDER BY vm_uuid LIMIT 1", uuid, &held);
    if (rc)
        return rc;
    if (held) {
        rc = GP_ERR(ctx, GP_ERR_GPU_ASSIGNED,
                    "pool %s has assigned VMs (VM %s) pinned in cpupool %s: release "
                    "them before moving the pool to cpupool %s", before->name_label, held,
                    before->cpupool, value);
        GP_PARAM(ctx, "pool", "%s", before->name_label);
        GP_PARAM(ctx, "vm", "%s", held);
        GP_PARAM(ctx, "cpupool", "%s", value);
        free(held);
    }
    return rc;
}

/* UPDATE the pool's column to value (the overcommit as a number), inside
 * the transaction. */
static int pool_param_update(gp_ctx *ctx, const char *uuid, const char *param,
                             const char *column, const char *value, double oc)
{
    sqlite3_stmt *st = NULL;
    char *sql = gp_asprintf("UPDATE pools SET %s = ?2 WHERE uuid = ?1", column);
    int rc;

    if (!sql)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    rc = gp_store_prepare(&ctx->store, sql, &st);
    if (rc)
        goto out;
    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    if (!strcmp(param, "cpu-overcommit") || !strcmp(param, "cost-per-gpu-hour"))
        sqlite3_bind_double(st, 2, oc);
    else if (!strcmp(param, "idle-release-after"))
        sqlite3_bind_int64(st, 2, (sqlite3_int64)oc);
    else
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(&ctx->store, rc, "setting a pool parameter");
out:
    sqlite3_finalize(st);
    free(sql);
    return rc;
}

int gp_pool_set_param(gp_ctx *ctx, const char *pool, const char *param, const char *value)
{
    gp_pool before, after;
    const char *column;
    char uuid[37];
    double oc = 0;
    bool rollback = false;
    int rc;

    gp_pool_init(&before);
    gp_pool_init(&after);
    gp_err_clear(ctx->err);
    rc = pool_param_column(ctx, param, value, &column);
    if (rc)
        goto out;
    rc = pool_param_check_value(ctx, param, value, &oc);
    if (rc)
        goto out;
    rc = gp_cluster_pull(ctx);
    if (rc)
        goto out;
    rc = gp_store_begin(&ctx->store);
    if (rc)
        goto out;
    rollback = true;
    rc = gp_store_pool_find(&ctx->store, pool, uuid, NULL);
    if (rc)
        goto out;
    rc = pool_load(ctx, uuid, &before);
    if (rc)
        goto out;
    if (!strcmp(param, "name-label")) {
        rc = check_name_free(ctx, value, uuid);
        if (rc)
            goto out;
    }
    if (!strcmp(param, "cpupool")) {
        rc = pool_param_check_cpupool_move(ctx, uuid, &before, value);
        if (rc)
            goto out;
    }
    rc = pool_param_update(ctx, uuid, param, column, value, oc);
    if (rc)
        goto out;
    rc = pool_load(ctx, uuid, &after);
    if (rc)
        goto out;
    rc = gp_store_audit_change(&ctx->store, "pool-param-set", uuid, pool_json, &before, &after);
    if (rc)
        goto out;
    rc = gp_store_commit(&ctx->store);
    rollback = false;
    if (rc == GP_OK && gp_cluster_on(ctx)) {
        /* XCP-ng: into xapi; if xapi refuses, the next pull puts xapi's
         * values back, so pull now and report xapi's error. */
        rc = gp_cluster_pool_publish(ctx, uuid);
        if (rc) {
            gp_error_info saved;
            gp_error_info_init(&saved);
            gp_err_copy(&saved, ctx->err);
            gp_cluster_pull(ctx);
            gp_err_copy(ctx->err, &saved);
            gp_error_info_dispose(&saved);
        }
    }
out:
    if (rc && rollback)
        gp_store_rollback(&ctx->store);
    gp_pool_dispose(&before);
    gp_pool_dispose(&after);
    return rc;
}

/* ---- membership -------------------------------------------------------------- */

/* A GPU and the functions that travel with it, with their original drivers. */
typedef struct {
    char pci_id[GP_PCI_ID_LEN];
    char *orig;
} member_fn;

static void member_fns_free(member_fn *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++)
        free(f[i].orig);
    free(f);
}

/* JSON of a membership: fns[0] is the GPU, the rest its companions. */
static char *member_json(const char *pool_uuid, const char *pool_name, const member_fn *fns,
                         size_t n)
{
    json_object *o = json_object_new_object(), *c = json_object_new_array();
    if (!o || !c) {
        json_object_put(o);
        json_object_put(c);
        return NULL;
    }
    json_object_object_add(o, "pci_id", json_object_new_string(fns[0].pci_id));
    json_object_object_add(o, "pool_uuid", json_object_new_string(pool_uuid));
    json_object_object_add(o, "pool_name_label", json_object_new_string(pool_name));
    json_object_object_add(o, "original_driver",
                           fns[0].orig ? json_object_new_string(fns[0].orig) : NULL);
    for (size_t i = 1; i < n; i++) {
        json_object *e = json_object_new_object();
        if (!e)
            continue;
        json_object_object_add(e, "pci_id", json_object_new_string(fns[i].pci_id));
        json_object_object_add(e, "original_driver",
                               fns[i].orig ? json_object_new_string(fns[i].orig) : NULL);
        json_object_array_add(c, e);
    }
    json_object_object_add(o, "companions", c);
    return gp_json_take_text(o);
}

/* Canonical spelling of a pci-id, false when malformed. */
static bool pci_canon(const char *in, char out[GP_PCI_ID_LEN])
{
    gp_pci_addr a;
    if (gp_pci_addr_parse(in, &a, NULL))
        return false;
    gp_pci_addr_format(&a, out);
    return true;
}

static const gp_pci_function *host_find_function(const gp_host *host, const char *pci_id)
{
    for (size_t i = 0; i < host->n_functions; i++)
        if (!strcmp(host->functions[i].pci_id, pci_id))
            return &host->functions[i];
    return NULL;
}

/* The IOMMU group of g may hold only g, its companions and bridges. */
static int check_iommu_group(gp_ctx *ctx, const gp_host *host, const gp_gpu *g)
{
    for (size_t i = 0; i < g->n_iommu_group_members; i++) {
        char m[GP_PCI_ID_LEN];
        bool ok = false;
        if (!pci_canon(g->iommu_group_members[i], m))
            snprintf(m, sizeof(m), "%.*s", GP_PCI_ID_LEN - 1, g->iommu_group_members[i]);
        if (!strcmp(m, g->pci_id))
            continue;
        for (size_t j = 0; !ok && j < g->n_companions; j++)
            ok = !strcmp(g->companions[j].pci_id, m);
        const gp_pci_function *f = host_find_function(host, m);
        if (!ok && f && (f->header_type == 1 || f->class_code == 0x0604))
            ok = true;
        if (!ok) {
            int rc = GP_ERR(ctx, GP_ERR_IOMMU_GROUP,
                            "GPU %s shares IOMMU group %d with %s, which is not one of its"
                            " functions nor a bridge: it cannot be passed through alone",
                            g->pci_id, g->iommu_group, m);
            GP_PARAM(ctx, "pci-id", "%s", g->pci_id);
            GP_PARAM(ctx, "iommu-group", "%d", g->iommu_group);
            GP_PARAM(ctx, "device", "%s", m);
            return rc;
        }
    }
    return GP_OK;
}

/* Undo driver actions of a non-transactional driver (best effort: the
 * error already on ctx stands). */
static void undo_assignable_add(gp_ctx *ctx, const gp_driver_ops *drv, const member_fn *fns,
                                size_t n)
{
    gp_error_info saved;
    gp_error_info_init(&saved);
    gp_err_copy(&saved, ctx->err);
    for (size_t i = n; i-- > 0;)
        drv->device_assignable_remove(&ctx->drv, fns[i].pci_id, fns[i].orig);
    gp_err_copy(ctx->err, &saved);
    gp_error_info_dispose(&saved);
}

static void undo_assignable_remove(gp_ctx *ctx, const gp_driver_ops *drv, const member_fn *fns,
                                   size_t n)
{
    gp_error_info saved;
    gp_error_info_init(&saved);
    gp_err_copy(&saved, ctx->err);
    for (size_t i = 0; i < n; i++) {
        char *o = NULL;
        drv->device_assignable_add(&ctx->drv, fns[i].pci_id, &o);
        free(o);
    }
    gp_err_copy(ctx->err, &saved);
    gp_error_info_dispose(&saved);
}

/* ---- pool-gpu-add / pool-gpu-remove: the steps ---------------------------------- */

/* The state of one gp_pool_gpu_add / gp_pool_gpu_remove between its steps. */
typedef struct {
    const gp_driver_ops *drv;
    const gp_host *host;          /* add only */
    const gp_gpu *g;              /* add only: the GPU on the host */
    char canon[GP_PCI_ID_LEN];    /* the pci-id, canonical */
    char uuid[37];                /* the named pool (remove: only when named) */
    char *pool_name;              /* add: the named pool's; remove: the holder's */
    char *holder;                 /* uuid of the pool that holds the GPU, NULL if none */
    member_fn *fns;               /* the GPU, then its companions */
    size_t n_fns;
    size_t n_done;                /* fns[0..n_done) changed by the driver */
    member_fn *before;            /* journaled: dom0 access of each function */
    size_t n_before;              /* before this call (orig: the status) */
    bool rollback;                /* a failure rolls the transaction back */
    bool need_undo;               /* ... and undoes the driver's n_done changes */
} member_op;

static void member_op_init(member_op *op)
{
    memset(op, 0, sizeof(*op));
}

static void member_op_dispose(member_op *op)
{
    member_fns_free(op->fns, op->n_fns);
    member_fns_free(op->before, op->n_before);
    free(op->pool_name);
    free(op->holder);
    memset(op, 0, sizeof(*op));
}

/* Parse pci_id into op->canon; leaves nothing. */
static int member_canon(gp_ctx *ctx, const char *pci_id, member_op *op)
{
    gp_pci_addr addr;
    int rc = gp_pci_addr_parse(pci_id, &addr, ctx->err);
    if (rc)
        return rc;
    gp_pci_addr_format(&addr, op->canon);
    return GP_OK;
}

/* The GPU may enter a pool: on the host, not the boot VGA device, alone in
 * its IOMMU group (but for companions and bridges); sets op->g. */
static int add_check_gpu(gp_ctx *ctx, member_op *op)
{
    int rc;

    op->g = gp_host_find_gpu(op->host, op->canon);
    if (!op->g) {
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_GPU, "no GPU %s on this host", op->canon);
        GP_PARAM(ctx, "pci-id", "%s", op->canon);
        return rc;
    }
    if (op->g->boot_vga == GP_YES) {
        rc = GP_ERR(ctx, GP_ERR_GPU_BOOT_VGA,
                    "GPU %s is the host's boot VGA device (console): it never enters a pool",
                    op->canon);
        GP_PARAM(ctx, "pci-id", "%s", op->canon);
        return rc;
    }
    return check_iommu_group(ctx, op->host, op->g);
}

/* Refuse a GPU in another pool (a GPU is in at most one pool); sets
 * op->holder when it is already in this one; leaves the lock held. */
static int add_check_not_elsewhere(gp_ctx *ctx, member_op *op)
{
    char *holder_name = NULL;
    int rc;

    rc = gp_store_query_text(&ctx->store, "reading pool members",
                             "SELECT pool_uuid FROM pool_members WHERE pci_id = ?1", op->canon,
                             &op->holder);
    if (rc || !op->holder || !strcmp(op->holder, op->uuid))
        return rc;
    rc = gp_store_query_text(&ctx->store, "reading pools",
                             "SELECT name_label FROM pools WHERE uuid = ?1", op->holder,
                             &holder_name);
    if (rc)
        return rc;
    rc = GP_ERR(ctx, GP_ERR_GPU_IN_OTHER_POOL,
                "GPU %s is already in pool %s (%s); a GPU is in at most one pool",
                op->canon, holder_name ? holder_name : "?", op->holder);
    GP_PARAM(ctx, "pci-id", "%s", op->canon);
    GP_PARAM(ctx, "pool", "%s", op->holder);
    GP_PARAM(ctx, "pool-name-label", "%s", holder_name ? holder_name : "");
    free(holder_name);
    return rc;
}

/* The functions to add: the GPU, then its companions, into op->fns. */
static int add_list_functions(gp_ctx *ctx, member_op *op)
{
    op->n_fns = 1 + op->g->n_companions;
    op->fns = calloc(op->n_fns, sizeof(*op->fns));
    if (!op->fns)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    snprintf(op->fns[0].pci_id, GP_PCI_ID_LEN, "%s", op->canon);
    for (size_t i = 0; i < op->g->n_companions; i++)
        snprintf(op->fns[i + 1].pci_id, GP_PCI_ID_LEN, "%s", op->g->companions[i].pci_id);
    return GP_OK;
}

/* Make the GPU and its companions assignable (pciback), keeping their
 * original drivers; a non-transactional driver is marked for undo of the
 * op->n_done functions it changed, whether or not one failed. */
static int add_make_assignable(gp_ctx *ctx, member_op *op)
{
    int rc;

    for (op->n_done = 0; op->n_done < op->n_fns; op->n_done++) {
        member_fn *f = &op->fns[op->n_done];
        rc = op->drv->device_assignable_add(&ctx->drv, f->pci_id, &f->orig);
        if (rc) {
            if (ctx->err->code == GP_OK)
                GP_ERR(ctx, rc, "driver %s could not make %s assignable", GP_CTX_DRIVER_NAME(ctx),
                       f->pci_id);
            GP_PARAM(ctx, "pci-id", "%s", f->pci_id);
            op->need_undo = !ctx->drv_entry->transactional;
            return rc;
        }
    }
    op->need_undo = !ctx->drv_entry->transactional;
    return GP_OK;
}

/* Record the GPU and its companions as members of the pool, inside the
 * transaction. */
static int add_record(gp_ctx *ctx, member_op *op)
{
    char now[32];
    int rc;

    gp_now_iso(now);
    rc = gp_store_exec(&ctx->store, "recording pool membership",
                       "INSERT INTO pool_members(pci_id, pool_uuid, original_driver, added)"
                       " VALUES (?1, ?2, ?3, ?4)", 4, op->canon, op->uuid, op->fns[0].orig, now);
    if (rc)
        return rc;
    for (size_t i = 1; i < op->n_fns; i++) {
        rc = gp_store_exec(&ctx->store, "recording a companion function",
                           "INSERT INTO pool_companions(pci_id, gpu_pci_id, original_driver)"
                           " VALUES (?1, ?2, ?3)", 3, op->fns[i].pci_id, op->canon,
                           op->fns[i].orig);
        if (rc)
            return rc;
    }
    return GP_OK;
}

/* Audit row "pool-gpu-add" (after = the membership as JSON), inside the
 * transaction. */
static int add_audit(gp_ctx *ctx, member_op *op)
{
    char *after = member_json(op->uuid, op->pool_name, op->fns, op->n_fns);
    int rc;

    if (!after)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    rc = gp_store_audit(&ctx->store, "pool-gpu-add", op->canon, NULL, after);
    free(after);
    return rc;
}

/* ---- pool-gpu-add / pool-gpu-remove under a journaled driver (xapi) ------------- */

static int remove_record(gp_ctx *ctx, member_op *op);
static int remove_give_back(gp_ctx *ctx, member_op *op);

/* Before the lock: settle what dead calls left.  For an add (read_status),
 * also read each function's dom0 access now (op->before), so that the
 * intent records what it was before this call changed anything - a crash
 * after PCI.disable_dom0_access can then always give dom0 back what it had.
 * The GPU's functions are the GPU and its companions as the host model has
 * them.  A removal needs no read: what dom0 had before gpupool hid the
 * functions is in their membership rows. */
static int member_before_lock(gp_ctx *ctx, member_op *op, bool read_status)
{
    const gp_gpu *g;
    int rc;

    if (!ctx->drv_entry->journaled)
        return GP_OK;
    gp_xapi_audit_caller(ctx);
    rc = gp_journal_recover(ctx, NULL);
    if (rc || !read_status)
        return rc;
    g = gp_host_find_gpu(op->host, op->canon);
    op->n_before = g ? 1 + g->n_companions : 1;
    op->before = calloc(op->n_before, sizeof(*op->before));
    if (!op->before)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < op->n_before; i++) {
        const char *f = i ? g->companions[i - 1].pci_id : op->canon;
        snprintf(op->before[i].pci_id, GP_PCI_ID_LEN, "%s", f);
        rc = gp_xapi_dom0_status_of(ctx, f, &op->before[i].orig);
        if (rc)
            return rc;
    }
    return GP_OK;
}

/* dom0 access before this call of function f (op->before), or NULL. */
static const char *member_before_of(const member_op *op, const char *f)
{
    for (size_t i = 0; i < op->n_before; i++)
        if (!strcmp(op->before[i].pci_id, f))
            return op->before[i].orig;
    return NULL;
}

/* Add, step 3: the membership with each function's dom0 access from before
 * this call, and the audit row (inside the caller's transaction). */
static int add_journal_finish(gp_ctx *ctx, member_op *op)
{
    for (size_t i = 0; i < op->n_fns; i++) {
        const char *b = member_before_of(op, op->fns[i].pci_id);
        char *orig = b ? gp_asprintf(GP_XAPI_ORIG_PREFIX "%s", b) : NULL;
        if (b && !orig)
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        if (orig || !op->fns[i].orig) {
            free(op->fns[i].orig);
            op->fns[i].orig = orig;
        }
    }
    int rc = add_record(ctx, op);
    return rc ? rc : add_audit(ctx, op);
}

static int remove_journal_finish(gp_ctx *ctx, member_op *op)
{
    return remove_record(ctx, op);
}

/*
 * Steps 1-3 of a membership change under the journal: the intent (each
 * function with its dom0 access before) is committed, the driver changes
 * dom0 access without the lock (add: hide; remove: give back what dom0 had),
 * then finish records the change and the intent closes in one short
 * transaction.  Any failure settles the intent: dom0 access follows
 * membership as sqlite holds it.  Called with the transaction open; returns
 * with none open.
 */
static int member_journal(gp_ctx *ctx, member_op *op, const char *operation,
                          int (*finish)(gp_ctx *ctx, member_op *op))
{
    int64_t intent = 0;
    int rc;

    rc = gp_journal_busy(ctx, "gpu", op->canon);
    if (rc == GP_OK)
        rc = gp_journal_begin(ctx, operation, &intent);
    for (size_t i = 0; rc == GP_OK && i < op->n_fns; i++) {
        const char *b = member_before_of(op, op->fns[i].pci_id);
        const char *o = op->fns[i].orig;
        /* remove: dom0 gets back what it had before gpupool hid it */
        if (!b && o && !strncmp(o, GP_XAPI_ORIG_PREFIX, strlen(GP_XAPI_ORIG_PREFIX)))
            b = o + strlen(GP_XAPI_ORIG_PREFIX);
        rc = gp_journal_add(ctx, intent, "pci", op->fns[i].pci_id, b);
    }
    if (rc == GP_OK)
        rc = gp_store_commit(&ctx->store);
    if (rc) {
        gp_store_rollback(&ctx->store);
        return rc;
    }
    op->rollback = false;
    if (!strcmp(operation, "pool-gpu-add"))
        rc = add_make_assignable(ctx, op);
    else
        rc = remove_give_back(ctx, op);
    /* The pool-wide record of the membership (settling puts it back in
     * line with sqlite should anything below fail). */
    if (rc == GP_OK)
        rc = gp_cluster_member_mark(ctx, op->canon,
                                    strcmp(operation, "pool-gpu-add") ? NULL : op->uuid);
    op->need_undo = false;
    if (rc == GP_OK)
        rc = gp_store_begin(&ctx->store);
    if (rc == GP_OK)
        rc = finish(ctx, op);
    rc = gp_journal_close(ctx, intent, rc);
    return rc;
}

int gp_pool_gpu_add_local(gp_ctx *ctx, const char *pool, const char *pci_id)
{
    member_op op;
    int rc;

    gp_err_clear(ctx->err);
    member_op_init(&op);
    rc = member_canon(ctx, pci_id, &op);
    if (rc)
        goto out;
    /* Facts and driver first: the write lock is held briefly. */
    rc = gp_ctx_drv_ops(ctx, &op.drv);
    if (rc)
        goto out;
    rc = gp_host_get(ctx, &op.host);
    if (rc)
        goto out;
    rc = member_before_lock(ctx, &op, true);
    if (rc)
        goto out;
    rc = gp_store_begin(&ctx->store);
    if (rc)
        goto out;
    op.rollback = true;
    rc = gp_store_pool_find(&ctx->store, pool, op.uuid, &op.pool_name);
    if (rc)
        goto out;
    rc = add_check_gpu(ctx, &op);
    if (rc)
        goto out;
    rc = add_check_not_elsewhere(ctx, &op);
    if (rc)
        goto out;
    if (op.holder) {
        /* Already a member of this pool: nothing to do. */
        gp_store_rollback(&ctx->store);
        goto out;
    }
    rc = add_list_functions(ctx, &op);
    if (rc)
        goto out;
    if (ctx->drv_entry->journaled) {
        rc = member_journal(ctx, &op, "pool-gpu-add", add_journal_finish);
        goto out;
    }
    rc = add_make_assignable(ctx, &op);
    if (rc)
        goto out;
    rc = add_record(ctx, &op);
    if (rc)
        goto out;
    rc = add_audit(ctx, &op);
    if (rc)
        goto out;
    rc = gp_store_commit(&ctx->store);
    if (!rc)
        op.need_undo = false;
out:
    if (rc && op.rollback) {
        gp_store_rollback(&ctx->store);
        if (op.need_undo)
            undo_assignable_add(ctx, op.drv, op.fns, op.n_done);
    }
    member_op_dispose(&op);
    return rc;
}

/* The pool that holds the GPU (op->holder, its name in op->pool_name),
 * which must be the named pool if any; leaves the lock held. */
static int remove_find_holder(gp_ctx *ctx, const char *pool, member_op *op)
{
    int rc;

    if (pool) {
        rc = gp_store_pool_find(&ctx->store, pool, op->uuid, NULL);
        if (rc)
            return rc;
    }
    rc = gp_store_query_text(&ctx->store, "reading pool members",
                             "SELECT pool_uuid FROM pool_members WHERE pci_id = ?1", op->canon,
                             &op->holder);
    if (rc)
        return rc;
    if (!op->holder || (pool && strcmp(op->holder, op->uuid))) {
        if (pool)
            rc = GP_ERR(ctx, GP_ERR_GPU_NOT_IN_POOL, "GPU %s is not in pool %s", op->canon,
                        pool);
        else
            rc = GP_ERR(ctx, GP_ERR_GPU_NOT_IN_POOL, "GPU %s is not in any pool", op->canon);
        GP_PARAM(ctx, "pci-id", "%s", op->canon);
        if (pool)
            GP_PARAM(ctx, "pool", "%s", pool);
        return rc;
    }
    return gp_store_query_text(&ctx->store, "reading pools",
                               "SELECT name_label FROM pools WHERE uuid = ?1", op->holder,
                               &op->pool_name);
}

/* Refuse a GPU assigned to a VM (release it first); leaves the lock held. */
static int remove_check_unassigned(gp_ctx *ctx, const member_op *op)
{
    char *vm = NULL;
    int rc = gp_store_query_text(&ctx->store, "reading assignments",
                                 "SELECT vm_uuid FROM assignments WHERE pci_id = ?1", op->canon,
                                 &vm);
    if (!rc && vm) {
        rc = GP_ERR(ctx, GP_ERR_GPU_ASSIGNED,
                    "GPU %s is assigned to VM %s: release it before removing it from the pool",
                    op->canon, vm);
        GP_PARAM(ctx, "pci-id", "%s", op->canon);
        GP_PARAM(ctx, "vm", "%s", vm);
    }
    free(vm);
    return rc;
}

/* The GPU, then its companions, with their original drivers, into
 * op->fns; leaves what was read for op's dispose. */
static int remove_load_functions(gp_ctx *ctx, member_op *op)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = gp_store_prepare(&ctx->store, "SELECT pci_id, original_driver, 0 AS k FROM pool_members"
                          " WHERE pci_id = ?1 UNION ALL"
                          " SELECT pci_id, original_driver, 1 FROM pool_companions"
                          " WHERE gpu_pci_id = ?1 ORDER BY k, pci_id", &st);
    if (rc)
        goto out;
    sqlite3_bind_text(st, 1, op->canon, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        member_fn *nf = realloc(op->fns, (op->n_fns + 1) * sizeof(*nf));
        if (!nf) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        op->fns = nf;
        nf = &op->fns[op->n_fns];
        memset(nf, 0, sizeof(*nf));
        snprintf(nf->pci_id, GP_PCI_ID_LEN, "%s", (const char *)sqlite3_column_text(st, 0));
        nf->orig = gp_strdup((const char *)sqlite3_column_text(st, 1));
        op->n_fns++;
    }
    if (rc != SQLITE_DONE) {
        rc = gp_store_error(&ctx->store, rc, "reading pool members");
        goto out;
    }
    rc = GP_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

/* Delete the membership and write the audit row "pool-gpu-remove"
 * (before = the membership as JSON), inside the transaction. */
static int remove_record(gp_ctx *ctx, member_op *op)
{
    char *before = member_json(op->holder, op->pool_name ? op->pool_name : "", op->fns,
                               op->n_fns);
    int rc;

    if (!before)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    rc = gp_store_exec(&ctx->store, "removing a GPU from its pool",
                       "DELETE FROM pool_companions WHERE gpu_pci_id = ?1", 1, op->canon);
    if (!rc)
        rc = gp_store_exec(&ctx->store, "removing a GPU from its pool",
                           "DELETE FROM pool_members WHERE pci_id = ?1", 1, op->canon);
    if (!rc)
        rc = gp_store_audit(&ctx->store, "pool-gpu-remove", op->canon, before, NULL);
    free(before);
    return rc;
}

/* Driver last: give the functions back to their original drivers; a
 * non-transactional driver is marked for undo of the op->n_done it gave back. */
static int remove_give_back(gp_ctx *ctx, member_op *op)
{
    int rc;

    op->need_undo = !ctx->drv_entry->transactional;
    for (op->n_done = 0; op->n_done < op->n_fns; op->n_done++) {
        const member_fn *f = &op->fns[op->n_done];
        rc = op->drv->device_assignable_remove(&ctx->drv, f->pci_id, f->orig);
        if (rc) {
            if (ctx->err->code == GP_OK)
                GP_ERR(ctx, rc, "driver %s could not give %s back to %s", GP_CTX_DRIVER_NAME(ctx),
                       f->pci_id, f->orig ? f->orig : "none");
            GP_PARAM(ctx, "pci-id", "%s", f->pci_id);
            return rc;
        }
    }
    return GP_OK;
}

int gp_pool_gpu_remove_local(gp_ctx *ctx, const char *pool, const char *pci_id)
{
    member_op op;
    int rc;

    gp_err_clear(ctx->err);
    member_op_init(&op);
    rc = member_canon(ctx, pci_id, &op);
    if (rc)
        goto out;
    rc = gp_ctx_drv_ops(ctx, &op.drv);
    if (rc)
        goto out;
    rc = member_before_lock(ctx, &op, false);
    if (rc)
        goto out;
    rc = gp_store_begin(&ctx->store);
    if (rc)
        goto out;
    op.rollback = true;
    rc = remove_find_holder(ctx, pool, &op);
    if (rc)
        goto out;
    rc = remove_check_unassigned(ctx, &op);
    if (rc)
        goto out;
    rc = remove_load_functions(ctx, &op);
    if (rc)
        goto out;
    if (ctx->drv_entry->journaled) {
        rc = member_journal(ctx, &op, "pool-gpu-remove", remove_journal_finish);
        goto out;
    }
    rc = remove_record(ctx, &op);
    if (rc)
        goto out;
    rc = remove_give_back(ctx, &op);
    if (rc)
        goto out;
    rc = gp_store_commit(&ctx->store);
    if (!rc)
        op.need_undo = false;
out:
    if (rc && op.rollback) {
        gp_store_rollback(&ctx->store);
        if (op.need_undo)
            undo_assignable_remove(ctx, op.drv, op.fns, op.n_done);
    }
    member_op_dispose(&op);
    return rc;
}
