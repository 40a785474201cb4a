/*
 * govcl.c - quotas pool-wide on an XCP-ng pool (docs/governance.md,
 * docs/pool-wide.md).
 *
 * Where the state lives (xapi's database, replicated to every host):
 *   pool.other_config["gpupool:quota:<pool-uuid>:<tenant>"] = "<gpus>"
 *       the quota; each host's sqlite quotas table is a copy, replaced at
 *       every pull (gp_govcl_quotas_pull);
 *   pool.other_config["gpupool:slot:<pool-uuid>:<tenant>:<k>"] =
 *       "<vm-uuid>@<host-uuid>", k in 0 .. gpus-1
 *       one per GPU the tenant holds in that pool, claimed by the host
 *       that assigns it (the GPU's host) with pool.add_to_other_config.
 *
 * Why slots: a quota counts GPUs on every host, and two hosts assigning
 * at once each see room for one.  add_to_other_config is atomic in xapi
 * (MAP_DUPLICATE_KEY when the key exists), so two hosts can never both
 * claim slot k, and there are only gpus slots: no interleaving puts a
 * tenant over its quota.  A slot is claimed inside the assignment's step-1
 * transaction (under the host's sqlite write lock) and dropped when the
 * assignment fails or is released.  Only the host named in a slot ever
 * deletes it, under its own lock, so a host's claim and its collection of
 * its own stale slots (left by a crash: no assignment row and no intent
 * for the VM) never race; a slot of another host is never touched.  A
 * host that is down keeps its slots, which is right while its VMs hold
 * its GPUs.
 */
#include "ops/ops.h"
#include "ops/xstate.h"
#include "rpc/rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTA_PREFIX "gpupool:quota:"
#define SLOT_PREFIX "gpupool:slot:"

/* The pool object's ref and other_config, read now (pool.get_all_records). */
static int pool_map(gp_ctx *ctx, gp_xr_value *all, const char **ref, const gp_xr_value **oc)
{
    int rc = gp_xapi_drv_all_records(&ctx->drv, "pool", all);
    if (rc == GP_OK && !all->n)
        rc = GP_ERR(ctx, GP_ERR_DRIVER, "xapi lists no pool object");
    if (rc)
        return rc;
    *ref = all->keys[0];
    *oc = gp_xr_struct_get(&all->items[0], "other_config");
    return GP_OK;
}

int gp_govcl_quota_publish(gp_ctx *ctx, const char *pool_uuid, const char *tenant, int gpus)
{
    gp_xr_value all;
    const char *ref;
    const gp_xr_value *oc;
    char key[160], n[16];
    int rc;

    if (!gp_cluster_on(ctx))
        return GP_OK;
    gp_xr_value_init(&all);
    snprintf(key, sizeof(key), QUOTA_PREFIX "%s:%s", pool_uuid, tenant);
    snprintf(n, sizeof(n), "%d", gpus);
    rc = pool_map(ctx, &all, &ref, &oc);
    if (rc == GP_OK)
        rc = gp_xapi_drv_other_config(&ctx->drv, "pool", ref, oc, key, gpus >= 0 ? n : NULL);
    gp_xr_value_dispose(&all);
    return rc;
}

int gp_govcl_quota_get(gp_ctx *ctx, const char *pool_uuid, const char *tenant, int *gpus)
{
    gp_xr_value all;
    const char *ref, *q;
    const gp_xr_value *oc;
    char key[160];
    int rc;

    *gpus = -1;
    gp_xr_value_init(&all);
    snprintf(key, sizeof(key), QUOTA_PREFIX "%s:%s", pool_uuid, tenant);
    rc = pool_map(ctx, &all, &ref, &oc);
    if (rc == GP_OK && (q = gp_xr_struct_get_string(oc, key)))
        *gpus = atoi(q);
    gp_xr_value_dispose(&all);
    return rc;
}

int gp_govcl_quota_list(gp_ctx *ctx, gp_quota **out, size_t *n_out)
{
    size_t pl = strlen(QUOTA_PREFIX), n = 0, cap = 0;
    gp_quota *v = NULL;
    gp_cl c;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_cl_load(ctx, &c, CL_POOLS | CL_VMS);
    for (size_t i = 0; rc == GP_OK && c.pool_oc && i < c.pool_oc->n; i++) {
        const char *k = c.pool_oc->keys[i], *val = c.pool_oc->items[i].str;
        char pool[37];
        const gp_pool *p;
        if (strncmp(k, QUOTA_PREFIX, pl) || strlen(k) < pl + 38 || k[pl + 36] != ':' || !val)
            continue;
        snprintf(pool, sizeof(pool), "%.36s", k + pl);
        if (!(p = gp_cl_pool(&c, pool)))
            continue;                    /* a quota of a pool destroyed meanwhile */
        if (gp_array_reserve((void **)&v, &cap, n, sizeof(*v))) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            break;
        }
        gp_quota *q = &v[n++];
        memset(q, 0, sizeof(*q));
        q->tenant = gp_strdup(k + pl + 37);
        snprintf(q->pool_uuid, sizeof(q->pool_uuid), "%s", pool);
        q->pool_name_label = gp_strdup(p->name_label ? p->name_label : pool);
        q->gpus = atoi(val);
        /* Held across the XCP-ng pool: the VMs' placements. */
        for (size_t a = 0; a < c.n_asgs; a++)
            q->used += !strcmp(c.asgs[a].a.pool_uuid, pool) &&
                       !strcmp(c.asgs[a].a.tenant ? c.asgs[a].a.tenant : GP_TENANT_DEFAULT,
                               q->tenant);
        if (!q->tenant || !q->pool_name_label)
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    gp_cl_dispose(&c);
    if (rc) {
        for (size_t i = 0; i < n; i++) {   /* gp_quota_list_free is gov.c's, above */
            free(v[i].tenant);
            free(v[i].pool_name_label);
        }
        free(v);
        return rc;
    }
    /* by pool name, then tenant (as the local list) */
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0; k--) {
            int d = strcmp(v[k - 1].pool_name_label, v[k].pool_name_label);
            if (d < 0 || (d == 0 && strcmp(v[k - 1].tenant, v[k].tenant) <= 0))
                break;
            gp_quota t = v[k - 1];
            v[k - 1] = v[k];
            v[k] = t;
        }
    *out = v;
    *n_out = n;
    return GP_OK;
}

int gp_govcl_quota_claim(gp_ctx *ctx, const char *vm_uuid, const char *tenant,
                         const char *pool_uuid, const char *pool_name,
                         bool (*stale)(gp_ctx *ctx, const char *vm, const char *pool_uuid),
                         char **slot_out)
{
    gp_xr_value all;
    const char *ref = NULL, *self = NULL, *hostref = NULL;
    const gp_xr_value *oc = NULL;
    char qkey[160], prefix[160], mine[96], key[192];
    int64_t limit = -1, used = 0, high = 0;
    bool *taken = NULL;
    int rc;

    *slot_out = NULL;
    if (!gp_cluster_on(ctx))
        return GP_OK;
    gp_xr_value_init(&all);
    rc = gp_xapi_drv_this_host(&ctx->drv, &hostref, &self);
    if (rc == GP_OK && !self)
        rc = GP_ERR(ctx, GP_ERR_DRIVER, "xapi gave no uuid for this host");
    if (rc == GP_OK)
        rc = pool_map(ctx, &all, &ref, &oc);
    if (rc)
        goto out;
    snprintf(qkey, sizeof(qkey), QUOTA_PREFIX "%s:%s", pool_uuid, tenant);
    const char *q = gp_xr_struct_get_string(oc, qkey);
    if (!q)
        goto out;                        /* no pool-wide quota */
    limit = strtoll(q, NULL, 10);
    if (limit < 0)
        limit = 0;
    snprintf(prefix, sizeof(prefix), SLOT_PREFIX "%s:%s:", pool_uuid, tenant);
    snprintf(mine, sizeof(mine), "%s@%s", vm_uuid, self);
    taken = calloc((size_t)limit + 1, sizeof(*taken));
    if (!taken) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; oc && i < oc->n; i++) {
        const char *k = oc->keys[i], *v = oc->items[i].str, *at;
        size_t plen = strlen(prefix);
        char *end;
        if (strncmp(k, prefix, plen) || !v)
            continue;
        long long idx = strtoll(k + plen, &end, 10);
        if (*end || idx < 0)
            continue;
        if (!strcmp(v, mine)) {          /* this VM's already (a retry) */
            *slot_out = gp_strdup(k);
            rc = *slot_out ? GP_OK : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        at = strchr(v, '@');
        if (at && !strcasecmp(at + 1, self)) {
            char vm[40];
            snprintf(vm, sizeof(vm), "%.*s", (int)(at - v < 39 ? at - v : 39), v);
            if (stale(ctx, vm, pool_uuid)) {
                /* Ours, left by a crash: collect it (only we write it). */
                rc = gp_xapi_drv_other_config(&ctx->drv, "pool", ref, NULL, k, NULL);
                if (rc)
                    goto out;
                continue;
            }
        }
        used++;
        if (idx >= limit)
            high++;                      /* held beyond a lowered quota */
        else
            taken[idx] = true;
    }
    /* Free slots below limit - high only: the slots held beyond a lowered
     * quota count against it until released. */
    for (int64_t k = 0; used < limit && k < limit - high; k++) {
        bool added = false;
        if (taken[k])
            continue;
        snprintf(key, sizeof(key), "%s%lld", prefix, (long long)k);
        rc = gp_xapi_drv_other_config_add(&ctx->drv, "pool", ref, key, mine, &added);
        if (rc)
            goto out;
        if (added) {
            *slot_out = gp_strdup(key);
            rc = *slot_out ? GP_OK : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        used++;                          /* another host took it a moment ago */
    }
    rc = GP_ERR(ctx, GP_ERR_QUOTA_EXCEEDED,
                "tenant %s holds %lld of its %lld GPU(s) of pool %s across the XCP-ng pool: no "
                "more until one is released or the quota raised", tenant,
                (long long)(used < limit ? limit : used), (long long)limit,
                pool_name ? pool_name : pool_uuid);
    GP_PARAM(ctx, "tenant", "%s", tenant);
    GP_PARAM(ctx, "pool", "%s", pool_name ? pool_name : pool_uuid);
    GP_PARAM(ctx, "used", "%lld", (long long)(used < limit ? limit : used));
    GP_PARAM(ctx, "limit", "%lld", (long long)limit);
out:
    free(taken);
    gp_xr_value_dispose(&all);
    return rc;
}

int gp_govcl_slot_drop(gp_ctx *ctx, const char *vm_uuid, const char *key)
{
    gp_xr_value all;
    const char *ref = NULL, *self = NULL, *hostref = NULL;
    const gp_xr_value *oc = NULL;
    char mine[96];
    int rc;

    if (!gp_cluster_on(ctx))
        return GP_OK;
    gp_xr_value_init(&all);
    rc = gp_xapi_drv_this_host(&ctx->drv, &hostref, &self);
    if (rc == GP_OK)
        rc = pool_map(ctx, &all, &ref, &oc);
    if (rc == GP_OK && self) {
        snprintf(mine, sizeof(mine), "%s@%s", vm_uuid, self);
        for (size_t i = 0; rc == GP_OK && oc && i < oc->n; i++) {
            const char *k = oc->keys[i], *v = oc->items[i].str;
            if (strncmp(k, SLOT_PREFIX, strlen(SLOT_PREFIX)) || !v || strcmp(v, mine) ||
                (key && strcmp(k, key)))
                continue;
            rc = gp_xapi_drv_other_config(&ctx->drv, "pool", ref, NULL, k, NULL);
        }
    }
    gp_xr_value_dispose(&all);
    return rc;
}
