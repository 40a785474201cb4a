/*
 * reqcl.c - the request queue pool-wide on an XCP-ng pool
 * (docs/governance.md).
 *
 * Where the state lives (xapi's database):
 *   VM.other_config["gpupool:request"]   a VM's queued request, JSON
 *       (pool_uuid, tenant, priority, created, requested_by, on_behalf_of,
 *       vcpus, memory_mib, lease_seconds); added with
 *       VM.add_to_other_config, atomic in xapi (MAP_DUPLICATE_KEY), so a
 *       VM has one request pool-wide whichever host queued it;
 *   host.other_config["gpupool:usage"]   each host's share of the
 *       tenants' decayed GPU use for fair share, JSON
 *       {"half_life": h, "at": t, "tenants": {"<t>": {"u": U, "n": n}}}:
 *       U the decayed GPU-seconds at time t (the host's last assignment or
 *       release), n the GPUs the tenant holds there since.  Until the next
 *       change the use at any later time is exactly
 *         U * 2^(-(now-t)/h) + n * h/ln2 * (1 - 2^(-(now-t)/h)),
 *       so a host publishes only when an assignment or release changes it.
 *
 * Any host serves the whole queue through the pool-wide assignment
 * (cluster.c), which picks the host and writes under that host's lock;
 * two hosts serving at once meet at the VM's writer claim, and only the
 * one whose assignment succeeded removes the request.
 */
#include "ops/ops.h"
#include "ops/xstate.h"
#include "rpc/rpc.h"

#include <json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARK_REQUEST "gpupool:request"
#define MARK_USAGE "gpupool:usage"

static const char *jstr_of(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : NULL;
}

static int64_t jint_of(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

char *gp_reqcl_json(const gp_request *r)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "vm_uuid", json_object_new_string(r->vm_uuid));
    json_object_object_add(o, "pool_uuid", json_object_new_string(r->pool_uuid));
    json_object_object_add(o, "tenant", json_object_new_string(r->tenant ? r->tenant : ""));
    json_object_object_add(o, "priority", json_object_new_int(r->priority));
    json_object_object_add(o, "created", json_object_new_int64(r->created));
    json_object_object_add(o, "requested_by",
                           r->requested_by ? json_object_new_string(r->requested_by) : NULL);
    json_object_object_add(o, "on_behalf_of",
                           r->on_behalf_of ? json_object_new_string(r->on_behalf_of) : NULL);
    if (r->vcpus > 0)
        json_object_object_add(o, "vcpus", json_object_new_int(r->vcpus));
    if (r->memory_mib)
        json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)r->memory_mib));
    if (r->lease_seconds)
        json_object_object_add(o, "lease_seconds", json_object_new_int64(r->lease_seconds));
    return gp_json_take_text(o);
}

/* One request from its marker; false when it is not one. */
static bool request_from(const char *vm_uuid, const char *text, gp_request *r)
{
    json_object *o = text ? json_tokener_parse(text) : NULL;
    const char *pool, *tenant;
    bool ok = false;

    memset(r, 0, sizeof(*r));
    if (!o || !json_object_is_type(o, json_type_object))
        goto out;
    pool = jstr_of(o, "pool_uuid");
    tenant = jstr_of(o, "tenant");
    if (!pool || strlen(pool) != 36 || !tenant || gp_gov_tenant_check(NULL, tenant) != GP_OK)
        goto out;
    snprintf(r->vm_uuid, sizeof(r->vm_uuid), "%s", vm_uuid);
    snprintf(r->pool_uuid, sizeof(r->pool_uuid), "%s", pool);
    r->priority = (int)jint_of(o, "priority");
    if (r->priority < 0 || r->priority > GP_QUEUE_PRIORITY_MAX)
        goto out;
    r->created = jint_of(o, "created");
    r->vcpus = (int)jint_of(o, "vcpus");
    r->memory_mib = (uint64_t)jint_of(o, "memory_mib");
    r->lease_seconds = jint_of(o, "lease_seconds");
    r->tenant = gp_strdup(tenant);
    r->requested_by = jstr_of(o, "requested_by") ? gp_strdup(jstr_of(o, "requested_by")) : NULL;
    r->on_behalf_of = jstr_of(o, "on_behalf_of") ? gp_strdup(jstr_of(o, "on_behalf_of")) : NULL;
    ok = r->tenant != NULL;
out:
    if (o)
        json_object_put(o);
    return ok;
}

static int by_created(const void *a, const void *b)
{
    const gp_request *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return strcmp(x->vm_uuid, y->vm_uuid);
}

int gp_reqcl_read(gp_ctx *ctx, gp_request **out, size_t *n_out)
{
    gp_xr_value all;
    gp_request *v = NULL;
    size_t n = 0, cap = 0;
    int64_t now = gp_now();
    int rc;

    *out = NULL;
    *n_out = 0;
    gp_xr_value_init(&all);
    rc = gp_xapi_drv_all_records(&ctx->drv, "VM", &all);
    for (size_t i = 0; rc == GP_OK && i < all.n; i++) {
        const gp_xr_value *rec = &all.items[i];
        const char *text = gp_xr_struct_get_string(gp_xr_struct_get(rec, "other_config"),
                                                   MARK_REQUEST);
        const char *uuid = gp_xr_struct_get_string(rec, "uuid");
        gp_request r;
        if (!text || !uuid || !request_from(uuid, text, &r)) {
            continue;
        }
        if (gp_array_reserve((void **)&v, &cap, n, sizeof(*v))) {
            free(r.tenant);
            free(r.requested_by);
            free(r.on_behalf_of);
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            break;
        }
        r.wait_seconds = now > r.created ? now - r.created : 0;
        /* The pool's name from this host's copy of the definitions. */
        if (gp_store_query_text(&ctx->store, "reading pools",
                                "SELECT name_label FROM pools WHERE uuid = ?1", r.pool_uuid,
                                &r.pool_name_label) != GP_OK || !r.pool_name_label) {
            gp_err_clear(ctx->err);
            r.pool_name_label = gp_strdup(r.pool_uuid);
        }
        v[n++] = r;
    }
    gp_xr_value_dispose(&all);
    if (rc) {
        for (size_t i = 0; i < n; i++) {   /* gp_request_list_free is requests.c's, above */
            free(v[i].pool_name_label);
            free(v[i].tenant);
            free(v[i].requested_by);
            free(v[i].on_behalf_of);
        }
        free(v);
        return rc;
    }
    /* ids: oldest first, ties by VM uuid (the queue's last tie-break) */
    if (n)
        qsort(v, n, sizeof(*v), by_created);
    for (size_t i = 0; i < n; i++)
        v[i].id = (int64_t)i + 1;
    *out = v;
    *n_out = n;
    return GP_OK;
}

int gp_reqcl_add(gp_ctx *ctx, const gp_request *r)
{
    char *ref = NULL, *text = gp_reqcl_json(r);
    bool added = false;
    int rc = text ? gp_xapi_drv_vm_ref(&ctx->drv, r->vm_uuid, &ref)
                  : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    if (rc == GP_OK)
        rc = gp_xapi_drv_other_config_add(&ctx->drv, "VM", ref, MARK_REQUEST, text, &added);
    if (rc == GP_OK && !added) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT,
                    "VM %s already has a request in the queue (request-cancel first)",
                    r->vm_uuid);
        GP_PARAM(ctx, "vm", "%s", r->vm_uuid);
    }
    free(ref);
    free(text);
    return rc;
}

int gp_reqcl_remove(gp_ctx *ctx, const char *vm_uuid)
{
    char *ref = NULL;
    int rc = gp_xapi_drv_vm_ref(&ctx->drv, vm_uuid, &ref);
    if (rc == GP_OK)
        rc = gp_xapi_drv_other_config(&ctx->drv, "VM", ref, NULL, MARK_REQUEST, NULL);
    free(ref);
    return rc;
}

/* ---- fair share: each host's share of the decayed use ------------------------------- */

int gp_reqcl_usage_publish(gp_ctx *ctx)
{
    json_object *o = NULL, *tenants = NULL;
    gp_tenant_usage *u = NULL;
    int *held = NULL;
    size_t n = 0;
    const char *ref = NULL, *uuid = NULL;
    char *at_s = NULL, *text = NULL;
    int64_t at;
    int rc;

    rc = gp_gov_ensure(ctx);
    /* The host's last change: its latest assignment or release. */
    if (rc == GP_OK)
        rc = gp_store_query_text(&ctx->store, "reading GPU use",
                                 "SELECT coalesce(max(max(held_from), coalesce(max(held_until), 0)), 0)"
                                 " FROM usage", NULL, &at_s);
    if (rc)
        return rc;
    at = at_s ? strtoll(at_s, NULL, 10) : 0;
    free(at_s);
    rc = gp_gov_tenant_usage(ctx, at, &u, &held, &n);
    if (rc == GP_OK) {
        o = json_object_new_object();
        tenants = json_object_new_object();
        if (!o || !tenants)
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    if (rc == GP_OK) {
        json_object_object_add(o, "half_life", json_object_new_int64(GP_FAIR_SHARE_HALF_LIFE));
        json_object_object_add(o, "at", json_object_new_int64(at));
        json_object_object_add(o, "tenants", tenants);
        tenants = NULL;                  /* o owns it */
        for (size_t i = 0; i < n; i++) {
            json_object *tr = json_object_new_object();
            json_object_object_add(tr, "u", json_object_new_double(u[i].usage));
            json_object_object_add(tr, "n", json_object_new_int(held[i]));
            json_object_object_add(json_object_object_get(o, "tenants"), u[i].tenant, tr);
        }
        text = gp_json_take_text(o);     /* frees o */
        o = NULL;
        if (!text)
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    if (rc == GP_OK)
        rc = gp_xapi_drv_this_host(&ctx->drv, &ref, &uuid);
    /* Called after an assignment or a release, whose time is "at": the
     * value always changed, so it is written without reading it first. */
    if (rc == GP_OK)
        rc = gp_xapi_drv_other_config(&ctx->drv, "host", ref, NULL, MARK_USAGE, text);
    if (o)
        json_object_put(o);
    if (tenants)
        json_object_put(tenants);
    for (size_t i = 0; i < n; i++)
        free((char *)u[i].tenant);
    free(u);
    free(held);
    free(text);
    return rc;
}

int gp_reqcl_usage_others(gp_ctx *ctx, int64_t now, gp_tenant_usage **out, size_t *n_out)
{
    gp_xr_value all;
    const char *ref = NULL, *uuid = NULL;
    gp_tenant_usage *u = NULL;
    size_t n = 0, cap = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    gp_xr_value_init(&all);
    rc = gp_xapi_drv_this_host(&ctx->drv, &ref, &uuid);
    if (rc == GP_OK)
        rc = gp_xapi_drv_all_records(&ctx->drv, "host", &all);
    for (size_t i = 0; rc == GP_OK && i < all.n; i++) {
        if (!strcmp(all.keys[i], ref))
            continue;                    /* this host: its own sqlite, exact */
        const char *text = gp_xr_struct_get_string(
            gp_xr_struct_get(&all.items[i], "other_config"), MARK_USAGE);
        json_object *o = text ? json_tokener_parse(text) : NULL, *ts = NULL;
        int64_t at = o ? jint_of(o, "at") : 0, h = o ? jint_of(o, "half_life") : 0;
        if (o && h > 0 && json_object_object_get_ex(o, "tenants", &ts) &&
            json_object_is_type(ts, json_type_object)) {
            double dt = now > at ? (double)(now - at) : 0.0;
            double d = exp2(-dt / (double)h);
            json_object_object_foreach(ts, t, tr) {
                json_object *uu = NULL, *nn = NULL;
                if (gp_gov_tenant_check(NULL, t) != GP_OK ||
                    !json_object_object_get_ex(tr, "u", &uu) ||
                    !json_object_object_get_ex(tr, "n", &nn))
                    continue;
                double val = json_object_get_double(uu) * d +
                             json_object_get_int(nn) * ((double)h / M_LN2) * -expm1(-dt * M_LN2 / (double)h);
                if (!(val >= 0) || !isfinite(val))
                    continue;
                if (gp_array_reserve((void **)&u, &cap, n, sizeof(*u)) ||
                    !(u[n].tenant = gp_strdup(t))) {
                    rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
                    break;
                }
                u[n++].usage = val;
            }
        }
        if (o)
            json_object_put(o);
    }
    gp_xr_value_dispose(&all);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            free((char *)u[i].tenant);
        free(u);
        return rc;
    }
    *out = u;
    *n_out = n;
    return GP_OK;
}
