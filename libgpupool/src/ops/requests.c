/*
 * requests.c - the request queue (docs/governance.md): vm-gpu-request
 * assigns at once or queues; the operations that free a GPU (release,
 * pool-gpu-add, quota-set) serve the queue right after: nothing polls.
 * The serving order is the pure gp_queue_order() / gp_queue_next()
 * (place/queue.c): priority, then the tenant with the least decayed GPU use
 * (the usage intervals of gov.c, half-life GP_FAIR_SHARE_HALF_LIFE, as
 * Slurm's fair-share factor), then the oldest.  Per host for now, like the
 * quotas.
 */
#include "ops/ops.h"
#include "core/fields.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gp_request_list_free(gp_request *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].pool_name_label);
        free(r[i].tenant);
        free(r[i].requested_by);
        free(r[i].on_behalf_of);
    }
    free(r);
}

/* Every request in id order (position 0). */
static int requests_read(gp_ctx *ctx, gp_request **out, size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    gp_request *v = NULL;
    size_t n = 0, cap = 0;
    int64_t now = gp_now();
    int rc = gp_gov_ensure(ctx);

    *out = NULL;
    *n_out = 0;
    if (rc == GP_OK && gp_cluster_on(ctx))   /* pool-wide: in xapi (reqcl.c) */
        return gp_reqcl_read(ctx, out, n_out);
    if (rc == GP_OK)
        rc = gp_store_prepare(&ctx->store,
                              "SELECT r.id, r.vm_uuid, r.pool_uuid, p.name_label, r.tenant,"
                              " r.priority, r.created, r.requested_by, r.on_behalf_of, r.vcpus,"
                              " r.memory_mib, r.lease_seconds"
                              " FROM requests r JOIN pools p ON p.uuid = r.pool_uuid ORDER BY r.id",
                              &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (gp_array_reserve((void **)&v, &cap, n, sizeof(*v)))
            goto nomem;
        gp_request *r = &v[n++];
        memset(r, 0, sizeof(*r));
        r->id = sqlite3_column_int64(st, 0);
        snprintf(r->vm_uuid, sizeof(r->vm_uuid), "%s", sqlite3_column_text(st, 1));
        snprintf(r->pool_uuid, sizeof(r->pool_uuid), "%s", sqlite3_column_text(st, 2));
        r->pool_name_label = gp_strdup((const char *)sqlite3_column_text(st, 3));
        r->tenant = gp_strdup((const char *)sqlite3_column_text(st, 4));
        r->priority = sqlite3_column_int(st, 5);
        r->created = sqlite3_column_int64(st, 6);
        r->wait_seconds = now > r->created ? now - r->created : 0;
        if (sqlite3_column_type(st, 7) != SQLITE_NULL)
            r->requested_by = gp_strdup((const char *)sqlite3_column_text(st, 7));
        if (sqlite3_column_type(st, 8) != SQLITE_NULL)
            r->on_behalf_of = gp_strdup((const char *)sqlite3_column_text(st, 8));
        r->vcpus = sqlite3_column_int(st, 9);
        r->memory_mib = (uint64_t)sqlite3_column_int64(st, 10);
        r->lease_seconds = sqlite3_column_int64(st, 11);
        if (!r->pool_name_label || !r->tenant)
            goto nomem;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        gp_request_list_free(v, n);
        return gp_store_error(&ctx->store, rc, "reading the queue");
    }
    *out = v;
    *n_out = n;
    return GP_OK;
nomem:
    sqlite3_finalize(st);
    gp_request_list_free(v, n);
    return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
}

/* Each tenant's decayed GPU use now: this host's usage intervals, and on
 * an XCP-ng pool the other hosts' published shares (gp_queue_order() sums
 * a tenant's rows). */
static int tenant_usage(gp_ctx *ctx, gp_tenant_usage **out, size_t *n_out)
{
    gp_tenant_usage *u = NULL, *o = NULL;
    size_t n = 0, n_o = 0;
    int64_t now = gp_now();
    int rc = gp_gov_tenant_usage(ctx, now, &u, NULL, &n);

    *out = NULL;
    *n_out = 0;
    if (rc == GP_OK && gp_cluster_on(ctx))
        rc = gp_reqcl_usage_others(ctx, now, &o, &n_o);
    if (rc == GP_OK && n_o) {
        gp_tenant_usage *all = realloc(u, (n + n_o) * sizeof(*u));
        if (all) {
            u = all;
            memcpy(u + n, o, n_o * sizeof(*u));
            n += n_o;
            n_o = 0;
        } else {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < n_o; i++)
        free((char *)o[i].tenant);
    free(o);
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

static void usage_free(gp_tenant_usage *u, size_t n)
{
    for (size_t i = 0; u && i < n; i++)
        free((char *)u[i].tenant);
    free(u);
}

/* The queue's entries for the pure ordering. */
static gp_queue_entry *entries_of(const gp_request *r, size_t n)
{
    gp_queue_entry *e = calloc(n ? n : 1, sizeof(*e));
    for (size_t i = 0; e && i < n; i++)
        e[i] = (gp_queue_entry){ .id = r[i].id, .tenant = r[i].tenant,
                                 .priority = r[i].priority, .created = r[i].created };
    return e;
}

int gp_request_list(gp_ctx *ctx, gp_request **out, size_t *n_out)
{
    gp_request *r = NULL, *sorted = NULL;
    gp_tenant_usage *u = NULL;
    gp_queue_entry *e = NULL;
    size_t n = 0, n_u = 0, *order = NULL;
    int rc;

    gp_err_clear(ctx->err);
    *out = NULL;
    *n_out = 0;
    rc = requests_read(ctx, &r, &n);
    if (rc == GP_OK)
        rc = tenant_usage(ctx, &u, &n_u);
    if (rc)
        goto out;
    e = entries_of(r, n);
    order = calloc(n ? n : 1, sizeof(*order));
    sorted = calloc(n ? n : 1, sizeof(*sorted));
    if (!e || !order || !sorted) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = gp_queue_order(e, n, u, n_u, order, ctx->err);
    if (rc)
        goto out;
    for (size_t i = 0; i < n; i++) {
        sorted[i] = r[order[i]];
        sorted[i].position = i + 1;
    }
    free(r);
    r = NULL;
    *out = sorted;
    *n_out = n;
    sorted = NULL;
    n = 0;
out:
    gp_request_list_free(r, n);
    free(sorted);
    free(e);
    free(order);
    usage_free(u, n_u);
    return rc;
}

static bool queueable(int rc)
{
    return rc == GP_ERR_POOL_EMPTY || rc == GP_ERR_NO_PLACEMENT || rc == GP_ERR_QUOTA_EXCEEDED;
}

int gp_vm_gpu_request(gp_ctx *ctx, const char *vm, const gp_request_args *args,
                      gp_assignment *out, gp_request *req_out, bool *queued)
{
    gp_assign_args aa;
    gp_request r;
    gp_vm v;
    char *tenant = NULL, *json = NULL, *by = NULL, prio[8], created[24], vcpus[16], mem[24];
    char lease[24];
    int rc;

    *queued = false;
    gp_err_clear(ctx->err);
    if (!args || !args->pool || args->priority < 0 || args->priority > GP_QUEUE_PRIORITY_MAX) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT,
                    "a request names its pool and a priority of 0 to %d", GP_QUEUE_PRIORITY_MAX);
        GP_PARAM(ctx, "priority", "%d", args ? args->priority : -1);
        return rc;
    }
    memset(&aa, 0, sizeof(aa));
    aa.pool = args->pool;
    aa.tenant = args->tenant;
    aa.vcpus = args->vcpus;
    aa.memory_mib = args->memory_mib;
    aa.lease_seconds = args->lease_seconds;
    rc = gp_vm_gpu_assign(ctx, vm, &aa, out);
    if (!queueable(rc))
        return rc;
    /* No GPU for it now: queue it. */
    memset(&r, 0, sizeof(r));
    gp_vm_init(&v);
    gp_err_clear(ctx->err);
    rc = gp_ctx_vm_get(ctx, vm, &v);
    if (rc == GP_OK)
        rc = gp_gov_tenant_of(ctx, v.uuid, args->tenant, &tenant);
    if (rc == GP_OK)
        rc = gp_gov_requester(ctx, &by);   /* before the lock: may ask xapi */
    if (rc == GP_OK)
        rc = gp_gov_ensure(ctx);
    if (rc == GP_OK)
        rc = gp_store_begin(&ctx->store);
    if (rc)
        goto out;
    snprintf(r.vm_uuid, sizeof(r.vm_uuid), "%s", v.uuid);
    rc = gp_store_pool_find(&ctx->store, args->pool, r.pool_uuid, NULL);
    if (rc == GP_OK && !gp_cluster_on(ctx)) {
        char *have = NULL;
        rc = gp_store_query_text(&ctx->store, "reading the queue",
                                 "SELECT id FROM requests WHERE vm_uuid = ?1", v.uuid, &have);
        if (rc == GP_OK && have) {
            rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT,
                        "VM %s already has a request in the queue (request-cancel first)",
                        v.uuid);
            GP_PARAM(ctx, "vm", "%s", v.uuid);
        }
        free(have);
    }
    r.tenant = tenant;
    r.priority = args->priority;
    r.created = gp_now();
    r.requested_by = by;
    r.on_behalf_of = (char *)args->on_behalf_of;
    r.vcpus = args->vcpus > 0 ? args->vcpus : 0;
    r.memory_mib = args->memory_mib;
    r.lease_seconds = args->lease_seconds;
    snprintf(lease, sizeof(lease), "%lld", (long long)args->lease_seconds);
    snprintf(prio, sizeof(prio), "%d", r.priority);
    snprintf(created, sizeof(created), "%lld", (long long)r.created);
    snprintf(vcpus, sizeof(vcpus), "%d", args->vcpus > 0 ? args->vcpus : 0);
    snprintf(mem, sizeof(mem), "%llu", (unsigned long long)args->memory_mib);
    if (rc == GP_OK && gp_cluster_on(ctx)) {
        /* Pool-wide: the request is the VM's marker in xapi (reqcl.c),
         * added atomically outside the lock; the audit row stays here. */
        gp_store_rollback(&ctx->store);
        rc = gp_reqcl_add(ctx, &r);
        if (rc == GP_OK)
            rc = gp_store_begin(&ctx->store);
    } else if (rc == GP_OK)
        rc = gp_store_exec(&ctx->store, "queueing a request",
                           "INSERT INTO requests(vm_uuid, pool_uuid, tenant, priority, created,"
                           " vcpus, memory_mib, requested_by, on_behalf_of, lease_seconds)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", 10, r.vm_uuid,
                           r.pool_uuid, tenant, prio, created, vcpus, mem, by,
                           args->on_behalf_of, lease);
    if (rc == GP_OK) {
        json = gp_reqcl_json(&r);
        rc = json ? gp_store_audit(&ctx->store, "request-queue", r.vm_uuid, NULL, json)
                  : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    if (rc == GP_OK)
        rc = gp_store_commit(&ctx->store);
    else
        gp_store_rollback(&ctx->store);
    if (rc)
        goto out;
    *queued = true;
    if (req_out) {
        gp_request *all = NULL;
        size_t n = 0;
        memset(req_out, 0, sizeof(*req_out));
        if (gp_request_list(ctx, &all, &n) == GP_OK)
            for (size_t i = 0; i < n; i++)
                if (!strcmp(all[i].vm_uuid, v.uuid)) {
                    *req_out = all[i];
                    memset(&all[i], 0, sizeof(all[i]));
                }
        gp_request_list_free(all, n);
        gp_err_clear(ctx->err);
    }
out:
    free(tenant);
    free(by);
    free(json);
    gp_vm_dispose(&v);
    return rc;
}

static int request_remove(gp_ctx *ctx, const gp_request *r, const char *operation,
                          const char *after)
{
    char *before = gp_reqcl_json(r);
    int rc = before ? GP_OK : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    if (rc == GP_OK && gp_cluster_on(ctx))
        rc = gp_reqcl_remove(ctx, r->vm_uuid);     /* pool-wide: xapi's marker */
    if (rc == GP_OK)
        rc = gp_store_begin(&ctx->store);
    if (rc == GP_OK) {
        rc = gp_store_exec(&ctx->store, "removing a request", "DELETE FROM requests WHERE vm_uuid = ?1",
                           1, r->vm_uuid);
        if (rc == GP_OK)
            rc = gp_store_audit(&ctx->store, operation, r->vm_uuid, before, after);
        if (rc == GP_OK)
            rc = gp_store_commit(&ctx->store);
        else
            gp_store_rollback(&ctx->store);
    }
    free(before);
    return rc;
}

int gp_request_cancel(gp_ctx *ctx, const char *vm)
{
    gp_request *all = NULL;
    size_t n = 0;
    gp_vm v;
    int rc;

    gp_err_clear(ctx->err);
    gp_vm_init(&v);
    rc = gp_ctx_vm_get(ctx, vm, &v);
    if (rc == GP_OK)
        rc = requests_read(ctx, &all, &n);
    if (rc == GP_OK) {
        const gp_request *mine = NULL;
        for (size_t i = 0; i < n && !mine; i++)
            if (!strcmp(all[i].vm_uuid, v.uuid))
                mine = &all[i];
        if (!mine) {
            rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "VM %s has no request in the queue", v.uuid);
            GP_PARAM(ctx, "vm", "%s", v.uuid);
        } else {
            rc = request_remove(ctx, mine, "request-cancel", NULL);
        }
    }
    gp_request_list_free(all, n);
    gp_vm_dispose(&v);
    return rc;
}

int gp_queue_serve(gp_ctx *ctx, size_t *served)
{
    gp_request *r = NULL;
    size_t n = 0, count = 0;
    int rc;

    if (served)
        *served = 0;
    for (;;) {
        bool any = false;
        gp_request_list_free(r, n);
        r = NULL;
        n = 0;
        rc = gp_request_list(ctx, &r, &n);
        if (rc)
            break;
        for (size_t i = 0; i < n && !any; i++) {
            gp_vm v;
            gp_assign_args aa;
            gp_assignment a;
            gp_vm_init(&v);
            int vrc = gp_ctx_vm_get(ctx, r[i].vm_uuid, &v);
            if (vrc || v.state != GP_VM_HALTED) {
                /* Gone, or started meanwhile: its request is void. */
                gp_err_clear(ctx->err);
                char *after = gp_asprintf("{\"why\":\"%s\"}", vrc ? "vm-missing" : "vm-not-halted");
                rc = request_remove(ctx, &r[i], "request-drop", after);
                free(after);
                gp_vm_dispose(&v);
                if (rc)
                    goto out;
                any = true;     /* the list changed: read it again */
                continue;
            }
            gp_vm_dispose(&v);
            memset(&aa, 0, sizeof(aa));
            aa.pool = r[i].pool_uuid;
            aa.tenant = r[i].tenant;
            aa.vcpus = r[i].vcpus;
            aa.memory_mib = r[i].memory_mib;
            aa.lease_seconds = r[i].lease_seconds;
            gp_assignment_init(&a);
            int arc = gp_vm_gpu_assign(ctx, r[i].vm_uuid, &aa, &a);
            if (arc == GP_OK) {
                char *after = gp_asprintf("{\"pci_id\":\"%s\",\"waited_seconds\":%lld}", a.pci_id,
                                          (long long)r[i].wait_seconds);
                rc = request_remove(ctx, &r[i], "request-serve", after);
                if (rc == GP_OK)
                    gp_gov_message(ctx, r[i].vm_uuid, "GPUPOOL_REQUEST_SERVED", "request served",
                                   a.pci_id, after);
                free(after);
                gp_assignment_dispose(&a);
                if (rc)
                    goto out;
                count++;
                any = true;
            } else {
                gp_assignment_dispose(&a);
                gp_err_clear(ctx->err);    /* not now: the next request may fit */
            }
        }
        if (!any)
            break;
    }
out:
    gp_request_list_free(r, n);
    if (served)
        *served = count;
    return rc;
}

/* ---- the operations that free GPUs: then the queue is served ---------------------- */

/* Serve after a change succeeded; the change's result stands whatever
 * serving does (its refusals are per request, its failures audited by the
 * assignment path). */
static int then_serve(gp_ctx *ctx, int rc)
{
    if (rc == GP_OK) {
        gp_queue_serve(ctx, NULL);
        gp_err_clear(ctx->err);
    }
    return rc;
}

int gp_vm_gpu_release(gp_ctx *ctx, const char *vm)
{
    return then_serve(ctx, gp_vm_gpu_release_any(ctx, vm));
}

int gp_pool_gpu_add(gp_ctx *ctx, const char *pool, const char *pci_id)
{
    return then_serve(ctx, gp_pool_gpu_add_any(ctx, pool, pci_id, NULL));
}

int gp_pool_gpu_add_on(gp_ctx *ctx, const char *pool, const char *pci_id, const char *host)
{
    return then_serve(ctx, gp_pool_gpu_add_any(ctx, pool, pci_id, host));
}

int gp_quota_set(gp_ctx *ctx, const char *tenant, const char *pool, int gpus)
{
    return then_serve(ctx, gp_quota_set_local(ctx, tenant, pool, gpus));
}

static int request_record_at(const void *arg, size_t i, gp_record *out)
{
    const gp_request *r = &((const gp_request *)arg)[i];
    gp_recb b;
    gp_recb_init(&b, out);
    gp_recb_int(&b, "position", (long long)r->position, 0);
    gp_recb_str(&b, "vm-uuid", r->vm_uuid);
    gp_recb_str(&b, "tenant", r->tenant);
    gp_recb_int(&b, "priority", r->priority, 0);
    gp_recb_int(&b, "wait-seconds", r->wait_seconds, 0);
    gp_recb_str(&b, "pool", r->pool_name_label);
    gp_recb_str(&b, "pool-uuid", r->pool_uuid);
    gp_recb_str(&b, "requested-by", r->requested_by ? r->requested_by : "");
    gp_recb_str(&b, "on-behalf-of", r->on_behalf_of ? r->on_behalf_of : "");
    gp_recb_int(&b, "lease-seconds", r->lease_seconds, 0);
    gp_recb_int(&b, "id", r->id, 0);
    return gp_recb_finish(&b);
}

int gp_request_records(gp_ctx *ctx, gp_record **out, size_t *n_out)
{
    gp_request *r = NULL;
    size_t n = 0;
    int rc = gp_request_list(ctx, &r, &n);
    *out = NULL;
    *n_out = 0;
    if (rc == GP_OK)
        rc = gp_fields_records(ctx->err, "request", n, request_record_at, r, out, n_out);
    gp_request_list_free(r, n);
    return rc;
}

/* ---- power sampling and leases, when any gpupool command runs ----------------------- */

/* Whether the driver shows the VM with a live domain that counts as running
 * (running or paused: it holds its devices and memory). */
static bool vm_runs_now(const gp_vm *v)
{
    return v && (v->state == GP_VM_RUNNING || v->state == GP_VM_PAUSED);
}

static const gp_vm *vm_in(const gp_vm *vms, size_t n, const char *uuid)
{
    for (size_t k = 0; k < n; k++)
        if (!strcasecmp(vms[k].uuid, uuid))
            return &vms[k];
    return NULL;
}

int gp_gov_sample(gp_ctx *ctx, gp_vm **vms_out, size_t *n_vms_out)
{
    char **held = NULL;
    size_t n_held = 0;
    gp_vm *vms = NULL;
    size_t n_vms = 0;
    int rc = gp_gov_ensure(ctx);

    *vms_out = NULL;
    *n_vms_out = 0;
    /* The VMs holding a GPU here, and those with a run still open (a VM
     * released while running keeps its run until it stops). */
    if (rc == GP_OK) {
        sqlite3_stmt *st = NULL;
        size_t cap = 0;
        rc = gp_store_prepare(&ctx->store, "SELECT vm_uuid FROM assignments UNION"
                              " SELECT vm_uuid FROM vm_runs WHERE run_until IS NULL", &st);
        if (rc == GP_OK) {
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (gp_array_reserve((void **)&held, &cap, n_held, sizeof(*held)) ||
                    !(held[n_held] = gp_strdup((const char *)sqlite3_column_text(st, 0))))
                    break;
                n_held++;
            }
            rc = rc == SQLITE_DONE ? GP_OK
                 : rc == SQLITE_ROW ? GP_ERR(ctx, GP_ERR_NOMEM, "out of memory")
                                    : gp_store_error(&ctx->store, rc, "reading the VMs to sample");
        }
        sqlite3_finalize(st);
    }
    if (rc || !n_held)
        goto out;
    rc = gp_ctx_vm_list(ctx, &vms, &n_vms);
    for (size_t i = 0; rc == GP_OK && i < n_held; i++)
        rc = gp_gov_power(ctx, held[i], vm_runs_now(vm_in(vms, n_vms, held[i])));
    if (rc == GP_OK) {               /* the caller's, for the leases */
        *vms_out = vms;
        *n_vms_out = n_vms;
        vms = NULL;
        n_vms = 0;
    }
out:
    gp_strv_free(held, n_held);
    gp_vm_list_free(vms, n_vms);
    return rc;
}

/* A GPU to take back: why, and since when the VM is known halted. */
typedef struct {
    char vm[37];
    int64_t since;          /* halted since (idle) or lease end (lease) */
    int idle;               /* idle-release-after of its pool; 0 for a lease */
    char *lease_until;      /* the lease's end (ISO 8601); NULL for idle */
} lease_cand;

static int lease_candidates(gp_ctx *ctx, int64_t now, lease_cand **out, size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    lease_cand *c = NULL;
    size_t n = 0, cap = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    /* Per assignment: its pool's idle-release-after, since when its VM is
     * known halted (the end of its last recorded run, else when it got
     * the GPU), whether a run is open, and its lease. */
    rc = gp_store_prepare(&ctx->store,
                          "SELECT a.vm_uuid, p.idle_release_after,"
                          GP_GOV_HALTED_SINCE_SQL("a.vm_uuid") ","
                          GP_GOV_RUNNING_SQL("a.vm_uuid") ", a.lease_until"
                          " FROM assignments a JOIN pools p ON p.uuid = a.pool_uuid"
                          " WHERE p.idle_release_after > 0 OR a.lease_until IS NOT NULL"
                          " ORDER BY a.vm_uuid", &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t since = sqlite3_column_int64(st, 2), end = 0;
        int idle = sqlite3_column_int(st, 1);
        const char *lease = (const char *)sqlite3_column_text(st, 4);
        bool expired = lease && gp_time_parse(lease, &end) == GP_OK && end <= now;
        bool idle_out = idle > 0 && since && now - since >= idle;
        if (sqlite3_column_int(st, 3) || (!expired && !idle_out))
            continue;          /* running as far as recorded, or neither is due */
        if (gp_array_reserve((void **)&c, &cap, n, sizeof(*c))) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        memset(&c[n], 0, sizeof(c[n]));
        snprintf(c[n].vm, sizeof(c[n].vm), "%s", sqlite3_column_text(st, 0));
        if (expired) {
            c[n].since = end;
            if (!(c[n].lease_until = gp_strdup(lease))) {
                rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
                goto out;
            }
        } else {
            c[n].since = since;
            c[n].idle = idle;
        }
        n++;
    }
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(&ctx->store, rc, "reading leases");
out:
    sqlite3_finalize(st);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            free(c[i].lease_until);
        free(c);
        return rc;
    }
    *out = c;
    *n_out = n;
    return GP_OK;
}

int gp_governance_tick(gp_ctx *ctx, size_t *released)
{
    int64_t now = gp_now();
    lease_cand *c = NULL;
    size_t n = 0, done = 0;
    gp_vm *vms = NULL;
    size_t n_vms = 0;
    int rc;

    if (released)
        *released = 0;
    gp_err_clear(ctx->err);
    rc = gp_gov_ensure(ctx);
    /* What ran since the last command: the sim driver records every power
     * change itself; xen and xapi are sampled here (docs/governance.md:
     * accuracy). */
    if (rc == GP_OK)
        rc = gp_gov_sample(ctx, &vms, &n_vms);
    if (rc == GP_OK)
        rc = lease_candidates(ctx, now, &c, &n);
    /* Sampling listed the VMs when any held a GPU, which every lease
     * candidate does: one list serves both. */
    for (size_t i = 0; rc == GP_OK && i < n; i++) {
        const gp_vm *v = vm_in(vms, n_vms, c[i].vm);
        if (!v || v->state != GP_VM_HALTED)
            continue;              /* gone (drift reports it) or not halted: not now */
        char *after = c[i].lease_until
                          ? gp_asprintf("{\"lease_until\":\"%s\"}", c[i].lease_until)
                          : gp_asprintf("{\"halted_since\":%lld,\"idle_release_after\":%d}",
                                        (long long)c[i].since, c[i].idle);
        const char *op = c[i].lease_until ? "lease-expire" : "lease-release";
        char *pci = NULL;
        gp_store_query_text(&ctx->store, "reading an assignment",
                            "SELECT pci_id FROM assignments WHERE vm_uuid = ?1", c[i].vm, &pci);
        int lrc = gp_vm_gpu_release(ctx, c[i].vm);
        if (lrc == GP_OK && gp_store_begin(&ctx->store) == GP_OK) {
            if (gp_store_audit(&ctx->store, op, c[i].vm, NULL, after) == GP_OK)
                gp_store_commit(&ctx->store);
            else
                gp_store_rollback(&ctx->store);
            gp_gov_message(ctx, c[i].vm, "GPUPOOL_GPU_RELEASED", op, pci, after);
            done++;
        }
        gp_err_clear(ctx->err);
        free(pci);
        free(after);
    }
    gp_vm_list_free(vms, n_vms);
    for (size_t i = 0; i < n; i++)
        free(c[i].lease_until);
    free(c);
    if (released)
        *released = done;
    return rc;
}
