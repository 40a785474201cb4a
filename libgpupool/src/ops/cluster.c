/*
 * cluster.c - the XCP-ng pool's operations: the pool-wide lists, placement
 * across hosts with the change sent to the GPU's host, host evacuation and
 * pool-sync (docs/pool-wide.md).  The state they read and write, and
 * where it lives in xapi, is ops/xstate.c.
 *
 * One writer per GPU.  Every change to a GPU (membership, assignment,
 * release) runs on the host that has the GPU, under that host's sqlite
 * lock and journal; a caller on another host sends it there with
 * host.call_plugin (xapi forwards the call, message_forwarding.ml).  Two
 * callers on two hosts that pick the same host therefore meet in one
 * sqlite lock, and the one that finds the host full places again without
 * it.  One writer per VM: gpupool:writer (drivers/xapi.c).
 */
#include "ops/xstate.h"
#include "core/fields.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hosts one assignment tries in turn (other callers may fill the chosen
 * host between the read and the write). */
#define CL_ASSIGN_ATTEMPTS 8

/* gp_cl_load(), and each assignment's memory certainty (assign.c). */
static int cl_load(gp_ctx *ctx, gp_cl *c, unsigned what)
{
    int rc = gp_cl_load(ctx, c, what);
    for (size_t i = 0; rc == GP_OK && i < c->n_asgs; i++)
        gp_assignment_memory_certainty(&gp_driver_xapi, &c->asgs[i].a);
    return rc;
}

int gp_vm_gpu_assign(gp_ctx *ctx, const char *vm, const gp_assign_args *args,
                     gp_assignment *out)
{
    return gp_vm_gpu_assign_ex(ctx, vm, args, out, NULL, NULL);
}

/* ---- pool-wide lists ------------------------------------------------------------------------ */

/* The host filter: every host (NULL), or the one named. */
static int cl_filter(gp_ctx *ctx, const gp_cl *c, const char *host, size_t *only)
{
    *only = (size_t)-1;
    return host && *host ? gp_cl_host_find(ctx, c, host, only) : GP_OK;
}

static bool cl_keep(size_t only, size_t h)
{
    return only == (size_t)-1 || only == h;
}

/* A growing array of records / JSON objects. */
typedef struct {
    gp_record *v;
    size_t n, cap;
} rec_list;

static gp_record *rec_push(rec_list *l)
{
    if (gp_array_reserve((void **)&l->v, &l->cap, l->n, sizeof(*l->v)))
        return NULL;
    gp_record_init(&l->v[l->n]);
    return &l->v[l->n++];
}

/* Append key = copy of value to an already built record. */
static int rec_add(gp_record *r, const char *key, const char *value)
{
    gp_field *f = realloc(r->fields, (r->n_fields + 1) * sizeof(*f));
    if (!f)
        return GP_ERR_NOMEM;
    r->fields = f;
    f[r->n_fields].key = strdup(key);
    f[r->n_fields].value = strdup(value ? value : "");
    if (!f[r->n_fields].key || !f[r->n_fields].value) {
        free(f[r->n_fields].key);
        free(f[r->n_fields].value);
        return GP_ERR_NOMEM;
    }
    r->n_fields++;
    return GP_OK;
}

static void gpu_rel_of(const gp_cl *c, size_t h, const gp_gpu *g, gp_gpu_rel *rel)
{
    const gp_cl_member *m = gp_cl_member_at(c, h, g->pci_id);
    const gp_cl_asg *a = gp_cl_asg_at(c, h, g->pci_id);
    const gp_pool *p = m ? gp_cl_pool(c, m->pool_uuid) : NULL;
    rel->socket = g->numa_node >= 0 ? gp_host_node_socket(c->hosts[h].model, g->numa_node) : -1;
    rel->pool_uuid = m ? m->pool_uuid : NULL;
    rel->pool_name_label = p ? p->name_label : m ? m->pool_uuid : NULL;
    rel->vm_uuid = a ? a->a.vm_uuid : NULL;
    rel->vm_name_label = a ? a->a.vm_name_label : NULL;
}

/* Every GPU of the kept hosts: records (rl) or JSON (arr). */
static int gpus_out(gp_ctx *ctx, const gp_cl *c, size_t only, rec_list *rl, json_object *arr)
{
    for (size_t h = 0; h < c->n_hosts; h++) {
        const gp_cl_host *ch = &c->hosts[h];
        if (!cl_keep(only, h) || !ch->model)
            continue;
        for (size_t i = 0; i < ch->model->n_gpus; i++) {
            const gp_gpu *g = &ch->model->gpus[i];
            gp_gpu_rel rel;
            gpu_rel_of(c, h, g, &rel);
            if (rl) {
                gp_record *r = rec_push(rl);
                if (!r || gp_fields_record(gp_gpu_fields, gp_gpu_n_fields, g, &rel, r) ||
                    rec_add(r, "host", ch->name) || rec_add(r, "host-uuid", ch->uuid))
                    return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory building GPU records");
            } else {
                json_object *o = gp_fields_json(gp_gpu_fields, gp_gpu_n_fields, g, &rel,
                                                GP_FJ_PUBLIC);
                if (!o)
                    return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory building GPU JSON");
                json_object_object_add(o, "host", json_object_new_string(ch->name));
                json_object_object_add(o, "host_uuid", json_object_new_string(ch->uuid));
                json_object_array_add(arr, o);
            }
        }
    }
    return GP_OK;
}

static int member_cmp(const void *a, const void *b)
{
    const gp_cl_member *x = *(const gp_cl_member *const *)a, *y = *(const gp_cl_member *const *)b;
    if (x->host != y->host)
        return x->host < y->host ? -1 : 1;
    return strcmp(x->pci_id, y->pci_id);
}

/* A pool's members on the kept hosts as "pci@host" (all, and the free
 * ones), in host then pci-id order. */
static int pool_members_of(const gp_cl *c, const gp_pool *p, size_t only, gp_pool *out,
                           gp_pool_rel *rel, json_object *members)
{
    const gp_cl_member **v = calloc(c->n_members ? c->n_members : 1, sizeof(*v));
    size_t n = 0;
    int rc = GP_OK;

    out->gpus = calloc(c->n_members ? c->n_members : 1, sizeof(*out->gpus));
    rel->free_gpus = calloc(c->n_members ? c->n_members : 1, sizeof(*rel->free_gpus));
    if (!v || !out->gpus || !rel->free_gpus) {
        free(v);
        return GP_ERR_NOMEM;
    }
    for (size_t i = 0; i < c->n_members; i++)
        if (cl_keep(only, c->members[i].host) && !strcmp(c->members[i].pool_uuid, p->uuid))
            v[n++] = &c->members[i];
    qsort(v, n, sizeof(*v), member_cmp);
    for (size_t i = 0; i < n && rc == GP_OK; i++) {
        const gp_cl_host *h = &c->hosts[v[i]->host];
        char *tag = gp_asprintf("%s@%s", v[i]->pci_id, h->name);
        if (!tag) {
            rc = GP_ERR_NOMEM;
            break;
        }
        out->gpus[out->n_gpus++] = tag;
        const gp_cl_asg *a = gp_cl_asg_at(c, v[i]->host, v[i]->pci_id);
        if (!a)
            rel->free_gpus[rel->n_free_gpus++] = tag;
        if (members) {
            json_object *o = json_object_new_object();
            if (!o) {
                rc = GP_ERR_NOMEM;
                break;
            }
            json_object_object_add(o, "pci_id", json_object_new_string(v[i]->pci_id));
            json_object_object_add(o, "host", json_object_new_string(h->name));
            json_object_object_add(o, "host_uuid", json_object_new_string(h->uuid));
            json_object_object_add(o, "vm_uuid", a ? json_object_new_string(a->a.vm_uuid) : NULL);
            json_object_array_add(members, o);
        }
    }
    free(v);
    return rc;
}

static int pools_out(gp_ctx *ctx, const gp_cl *c, size_t only, rec_list *rl, json_object *arr)
{
    for (size_t i = 0; i < c->n_pools; i++) {
        gp_pool v = c->pools[i];     /* shallow: only gpus is ours */
        gp_pool_rel rel = { NULL, 0 };
        json_object *members = arr ? json_object_new_array() : NULL;
        int rc;
        v.gpus = NULL;
        v.n_gpus = 0;
        rc = (arr && !members) ? GP_ERR_NOMEM : pool_members_of(c, &c->pools[i], only, &v, &rel,
                                                                members);
        if (rc == GP_OK && (only == (size_t)-1 || v.n_gpus)) {
            if (rl) {
                gp_record *r = rec_push(rl);
                rc = !r || gp_fields_record(gp_pool_fields, gp_pool_n_fields, &v, &rel, r)
                         ? GP_ERR_NOMEM : GP_OK;
            } else {
                json_object *o = gp_fields_json(gp_pool_fields, gp_pool_n_fields, &v, &rel,
                                                GP_FJ_PUBLIC);
                if (!o) {
                    rc = GP_ERR_NOMEM;
                } else {
                    json_object_object_add(o, "members", members);
                    members = NULL;
                    json_object_array_add(arr, o);
                }
            }
        }
        json_object_put(members);
        gp_strv_free(v.gpus, v.n_gpus);
        free(rel.free_gpus);
        if (rc)
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory building pool records");
    }
    return GP_OK;
}

static int asg_cmp(const void *a, const void *b)
{
    const gp_cl_asg *x = *(const gp_cl_asg *const *)a, *y = *(const gp_cl_asg *const *)b;
    if (x->host != y->host)
        return x->host < y->host ? -1 : 1;
    return strcmp(x->a.pci_id, y->a.pci_id);
}

static int asgs_out(gp_ctx *ctx, const gp_cl *c, size_t only, rec_list *rl, json_object *arr)
{
    const gp_cl_asg **v = calloc(c->n_asgs ? c->n_asgs : 1, sizeof(*v));
    size_t n = 0;
    int rc = GP_OK;
    if (!v)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->n_asgs; i++)
        if (cl_keep(only, c->asgs[i].host))
            v[n++] = &c->asgs[i];
    qsort(v, n, sizeof(*v), asg_cmp);
    for (size_t i = 0; rc == GP_OK && i < n; i++) {
        const gp_cl_host *h = &c->hosts[v[i]->host];
        if (rl) {
            gp_record *r = rec_push(rl);
            if (!r || gp_placement_record(&v[i]->a, r) || rec_add(r, "host", h->name) ||
                rec_add(r, "host-uuid", h->uuid))
                rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory building assignment records");
        } else {
            json_object *o = gp_assignment_json(&v[i]->a);
            if (!o) {
                rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory building assignment JSON");
                break;
            }
            json_object_object_add(o, "host", json_object_new_string(h->name));
            json_object_object_add(o, "host_uuid", json_object_new_string(h->uuid));
            json_object_array_add(arr, o);
        }
    }
    free(v);
    return rc;
}

typedef enum { LIST_GPUS, LIST_POOLS, LIST_ASSIGNMENTS } list_kind;

static int list_on(gp_ctx *ctx, list_kind kind, const char *host, gp_record **out,
                   size_t *n_out, json_object **jout)
{
    rec_list rl = { NULL, 0, 0 };
    json_object *arr = NULL;
    size_t only;
    gp_cl c;
    int rc;

    gp_err_clear(ctx->err);
    if (out) {
        *out = NULL;
        *n_out = 0;
    }
    if (jout)
        *jout = NULL;
    if (!gp_cluster_on(ctx)) {
        if (host && *host)
            return gp_cluster_need(ctx, "host=");
        if (out)
            return kind == LIST_GPUS ? gp_gpu_records(ctx, out, n_out)
                   : kind == LIST_POOLS ? gp_pool_records(ctx, out, n_out)
                   : gp_assignment_records(ctx, out, n_out);
        return kind == LIST_GPUS ? gp_gpus_json(ctx, jout)
               : kind == LIST_POOLS ? gp_pools_json(ctx, jout)
               : gp_assignments_json(ctx, jout);
    }
    rc = cl_load(ctx, &c, kind == LIST_ASSIGNMENTS ? (CL_POOLS | CL_VMS) : CL_ALL);
    if (rc == GP_OK)
        rc = cl_filter(ctx, &c, host, &only);
    if (rc == GP_OK && jout && !(arr = json_object_new_array()))
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    if (rc == GP_OK)
        rc = kind == LIST_GPUS ? gpus_out(ctx, &c, only, out ? &rl : NULL, arr)
             : kind == LIST_POOLS ? pools_out(ctx, &c, only, out ? &rl : NULL, arr)
             : asgs_out(ctx, &c, only, out ? &rl : NULL, arr);
    gp_cl_dispose(&c);
    if (rc) {
        gp_record_list_free(rl.v, rl.n);
        json_object_put(arr);
        return rc;
    }
    if (out) {
        *out = rl.v;
        *n_out = rl.n;
    } else {
        *jout = arr;
    }
    return GP_OK;
}

int gp_gpu_records_on(gp_ctx *ctx, const char *host, gp_record **out, size_t *n_out)
{
    return list_on(ctx, LIST_GPUS, host, out, n_out, NULL);
}

int gp_pool_records_on(gp_ctx *ctx, const char *host, gp_record **out, size_t *n_out)
{
    return list_on(ctx, LIST_POOLS, host, out, n_out, NULL);
}

int gp_assignment_records_on(gp_ctx *ctx, const char *host, gp_record **out, size_t *n_out)
{
    return list_on(ctx, LIST_ASSIGNMENTS, host, out, n_out, NULL);
}

int gp_gpus_json_on(gp_ctx *ctx, const char *host, json_object **out)
{
    return list_on(ctx, LIST_GPUS, host, NULL, NULL, out);
}

int gp_pools_json_on(gp_ctx *ctx, const char *host, json_object **out)
{
    return list_on(ctx, LIST_POOLS, host, NULL, NULL, out);
}

int gp_assignments_json_on(gp_ctx *ctx, const char *host, json_object **out)
{
    return list_on(ctx, LIST_ASSIGNMENTS, host, NULL, NULL, out);
}

/* ---- changes sent to the GPU's host ------------------------------------------------------- */

/* Run gpupool's plugin function fn on host h of c. */
static int fwd(gp_ctx *ctx, const gp_cl *c, size_t h, const char *fn, const char *const *kv,
               size_t n_kv, char **json_text)
{
    int rc = gp_xapi_drv_call_plugin(&ctx->drv, c->hosts[h].ref, fn, kv, n_kv, json_text);
    if (rc)
        GP_PARAM(ctx, "host", "%s", c->hosts[h].name);
    return rc;
}

/* The assignment a plugin answered (gp_assignment_json) into a. */
static int asg_from_reply(gp_ctx *ctx, const char *text, gp_assignment *a)
{
    json_object *o = text ? json_tokener_parse(text) : NULL;
    if (o && json_object_is_type(o, json_type_object))
        json_object_object_del(o, "memory_node_basis");   /* static text in a */
    int rc = o && gp_fields_from_json(gp_assignment_fields, gp_assignment_n_fields, o, a) == 0
                 ? GP_OK
                 : GP_ERR(ctx, GP_ERR_DRIVER, "the remote plugin's answer is not an assignment");
    json_object_put(o);
    return rc;
}

static int vm_record_of(gp_ctx *ctx, const gp_cl *c, const char *uuid, const gp_xr_value **rec)
{
    *rec = NULL;
    for (size_t i = 0; i < c->vm_all.n; i++) {
        const char *u = gp_xr_struct_get_string(&c->vm_all.items[i], "uuid");
        if (u && !strcasecmp(u, uuid)) {
            *rec = &c->vm_all.items[i];
            return GP_OK;
        }
    }
    int rc = GP_ERR(ctx, GP_ERR_UNKNOWN_VM, "xapi knows no VM %s", uuid);
    GP_PARAM(ctx, "vm", "%s", uuid);
    return rc;
}

static int64_t rec_int(const gp_xr_value *rec, const char *key)
{
    const gp_xr_value *v = gp_xr_struct_get(rec, key);
    if (v && v->type == GP_XR_INT)
        return v->i;
    if (v && v->type == GP_XR_STRING)
        return strtoll(v->str, NULL, 10);
    return 0;
}

/* (host, pci) pairs an assignment attempt lost to another caller. */
typedef struct {
    size_t host;
    char pci_id[GP_PCI_ID_LEN];
} tried_gpu;

static bool was_tried(const tried_gpu *t, size_t n, size_t h, const char *pci)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].host == h && (!t[i].pci_id[0] || !strcmp(t[i].pci_id, pci)))
            return true;
    return false;
}

/* One site per host for placing a VM of pool p (bound_ref: the one host it
 * can use, or NULL; skip: a host that may not take it, or (size_t)-1). */
typedef struct {
    gp_place_site *sites;
    const char ***gpus;
    gp_place_existing **ex;
    char **why;
    size_t n;
} site_set;

static void site_set_dispose(site_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->gpus[i]);
        free(s->ex[i]);
        free(s->why[i]);
    }
    free(s->sites);
    free(s->gpus);
    free(s->ex);
    free(s->why);
    memset(s, 0, sizeof(*s));
}

/* extra: placements planned earlier in the same decision (evacuation),
 * as existing assignments of their hosts. */
typedef struct {
    size_t host;
    gp_place_existing ex;
} planned;

static int sites_build(gp_ctx *ctx, const gp_cl *c, const gp_pool *p, const char *bound_ref,
                       const char *bound_why, size_t skip, const char *skip_why,
                       const tried_gpu *tried, size_t n_tried, const planned *plan,
                       size_t n_plan, site_set *s)
{
    memset(s, 0, sizeof(*s));
    s->n = c->n_hosts;
    s->sites = calloc(s->n ? s->n : 1, sizeof(*s->sites));
    s->gpus = calloc(s->n ? s->n : 1, sizeof(*s->gpus));
    s->ex = calloc(s->n ? s->n : 1, sizeof(*s->ex));
    s->why = calloc(s->n ? s->n : 1, sizeof(*s->why));
    if (!s->sites || !s->gpus || !s->ex || !s->why)
        goto nomem;
    for (size_t h = 0; h < c->n_hosts; h++) {
        const gp_cl_host *ch = &c->hosts[h];
        gp_place_site *site = &s->sites[h];
        size_t ng = 0, ne = 0;
        site->name = ch->name;
        site->host = ch->model;
        s->gpus[h] = calloc(c->n_members + 1, sizeof(**s->gpus));
        s->ex[h] = calloc(c->n_asgs + n_plan + 1, sizeof(**s->ex));
        if (!s->gpus[h] || !s->ex[h])
            goto nomem;
        for (size_t i = 0; i < c->n_members; i++)
            if (c->members[i].host == h && !strcmp(c->members[i].pool_uuid, p->uuid) &&
                !was_tried(tried, n_tried, h, c->members[i].pci_id))
                s->gpus[h][ng++] = c->members[i].pci_id;
        for (size_t i = 0; i < c->n_asgs; i++) {
            const gp_cl_asg *a = &c->asgs[i];
            if (a->host != h)
                continue;
            s->ex[h][ne++] = (gp_place_existing){
                .pci_id = a->a.pci_id, .node = a->a.numa_node, .pcpus = a->a.pcpus,
                .n_pcpus = a->a.n_pcpus, .vcpus = a->a.vcpus, .memory_mib = a->a.memory_mib,
                .memory_node = a->a.memory_node, .memory_in_free = a->state != GP_VM_HALTED };
        }
        for (size_t i = 0; i < n_plan; i++)
            if (plan[i].host == h)
                s->ex[h][ne++] = plan[i].ex;
        site->pool_gpus = s->gpus[h];
        site->n_pool_gpus = ng;
        site->existing = s->ex[h];
        site->n_existing = ne;
        if (ch->model && ch->model->n_cpupools) {
            const gp_cpupool *cp = NULL;
            const char *want = p->cpupool ? p->cpupool : GP_CPUPOOL_DEFAULT;
            for (size_t k = 0; k < ch->model->n_cpupools && !cp; k++)
                if (ch->model->cpupools[k].name && !strcmp(ch->model->cpupools[k].name, want))
                    cp = &ch->model->cpupools[k];
            if (cp) {
                site->allowed_cpus = cp->cpus;
                site->n_allowed_cpus = cp->n_cpus;
            } else {
                s->why[h] = gp_asprintf("no cpupool %s", want);
            }
        }
        if (!s->why[h] && h == skip && skip_why)
            s->why[h] = gp_strdup(skip_why);
        if (!s->why[h] && !ch->enabled)
            s->why[h] = gp_strdup("disabled (maintenance mode)");
        if (!s->why[h] && bound_ref && strcmp(bound_ref, ch->ref)) {
            size_t b = gp_cl_host_by_ref(c, bound_ref);
            s->why[h] = gp_asprintf("the VM %s host %s", bound_why ? bound_why : "is bound to",
                                    b != (size_t)-1 ? c->hosts[b].name : bound_ref);
        }
        site->excluded = s->why[h];
    }
    return GP_OK;
nomem:
    site_set_dispose(s);
    return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
}

static bool retryable(int rc)
{
    return rc == GP_ERR_GPU_ASSIGNED || rc == GP_ERR_POOL_EMPTY || rc == GP_ERR_NO_PLACEMENT ||
           rc == GP_ERR_IN_PROGRESS || rc == GP_ERR_GPU_NOT_IN_POOL;
}

/* Assign pci of host h (pool p) to the VM: here, or on h's plugin. */
static int assign_at(gp_ctx *ctx, const gp_cl *c, size_t h, const char *vm_uuid, const gp_pool *p,
                     const char *pci, const gp_assign_args *args, gp_assignment *out,
                     gp_assignment **moved_out, size_t *n_moved_out)
{
    gp_assign_args la;
    char vcpus[24], mem[24], lease[32];
    char *text = NULL;
    int rc;

    if (h == c->self) {
        la = *args;
        la.pool = p ? p->uuid : args->pool;
        la.pci_id = pci;
        la.host = NULL;
        return gp_vm_gpu_assign_local(ctx, vm_uuid, &la, out, moved_out, n_moved_out);
    }
    const char *kv[16];
    size_t n = 0;
    snprintf(vcpus, sizeof(vcpus), "%d", args->vcpus > 0 ? args->vcpus : 0);
    snprintf(mem, sizeof(mem), "%llu", (unsigned long long)args->memory_mib);
    kv[n++] = "vm_uuid";
    kv[n++] = vm_uuid;
    kv[n++] = "pool";
    kv[n++] = p ? p->uuid : args->pool ? args->pool : "";
    if (pci) {                   /* else that host places within the pool */
        kv[n++] = "pci_id";
        kv[n++] = pci;
    }
    /* That host, by uuid: its gpupool assigns there and does not place
     * across the pool again (which could pick yet another host). */
    kv[n++] = "host";
    kv[n++] = c->hosts[h].uuid;
    kv[n++] = "vcpus";
    kv[n++] = vcpus;
    kv[n++] = "memory_mib";
    kv[n++] = mem;
    if (args->tenant) {
        kv[n++] = "tenant";
        kv[n++] = args->tenant;
    }
    if (args->lease_seconds > 0) {
        snprintf(lease, sizeof(lease), "%llds", (long long)args->lease_seconds);
        kv[n++] = "lease";
        kv[n++] = lease;
    }
    rc = fwd(ctx, c, h, "assign_gpu", kv, n, &text);
    if (rc == GP_OK && out)
        rc = asg_from_reply(ctx, text, out);
    if (rc == GP_OK && out)
        gp_assignment_memory_certainty(&gp_driver_xapi, out);
    free(text);
    return rc;
}

int gp_vm_gpu_assign_ex(gp_ctx *ctx, const char *vm, const gp_assign_args *args,
                        gp_assignment *out, gp_assignment **moved_out, size_t *n_moved_out)
{
    static const gp_assign_args none;
    gp_sync_report r;
    tried_gpu tried[CL_ASSIGN_ATTEMPTS];
    size_t n_tried = 0, target = (size_t)-1;
    const gp_pool *pool = NULL;
    const gp_xr_value *rec;
    char *bound = NULL, *why = NULL;
    gp_vm v;
    gp_cl c;
    int rc;

    if (moved_out)
        *moved_out = NULL;
    if (n_moved_out)
        *n_moved_out = 0;
    if (!args)
        args = &none;
    gp_err_clear(ctx->err);
    if (!gp_cluster_on(ctx)) {
        if (args->host && *args->host)
            return gp_cluster_need(ctx, "host=");
        return gp_vm_gpu_assign_local(ctx, vm, args, out, moved_out, n_moved_out);
    }
    gp_vm_init(&v);
    memset(&r, 0, sizeof(r));
    gp_cl_init(&c);
    /* Intents of dead calls first: the view must not count their half
     * writes as assignments. */
    rc = gp_journal_recover(ctx, NULL);
    if (rc == GP_OK)
        rc = cl_load(ctx, &c, CL_ALL);
    if (rc == GP_OK)
        rc = gp_ctx_vm_get(ctx, vm, &v);
    if (rc == GP_OK)
        rc = vm_record_of(ctx, &c, v.uuid, &rec);
    if (rc)
        goto out;
    const gp_cl_asg *held = gp_cl_asg_of_vm(&c, v.uuid);
    if (held) {
        rc = GP_ERR(ctx, GP_ERR_VM_HAS_GPU, "VM %s already holds GPU %s of host %s (one GPU per VM)",
                    v.uuid, held->a.pci_id, c.hosts[held->host].name);
        GP_PARAM(ctx, "vm", "%s", v.uuid);
        GP_PARAM(ctx, "pci-id", "%s", held->a.pci_id);
        GP_PARAM(ctx, "host", "%s", c.hosts[held->host].name);
        goto out;
    }
    if (args->host && *args->host) {
        rc = gp_cl_host_find(ctx, &c, args->host, &target);
        if (rc)
            goto out;
    } else if (args->pci_id) {
        target = c.self;
    }
    if (args->pool) {
        rc = gp_cl_pool_find(ctx, &c, args->pool, &pool);
        if (rc)
            goto out;
    }
    /* The request is well formed: this host's cache of the pools in line
     * with xapi before a host's gpupool records anything. */
    rc = gp_cluster_pull_with(ctx, &c, &r);
    if (rc)
        goto out;
    if (target != (size_t)-1) {
        /* The caller chose the host: that host's gpupool decides. */
        rc = assign_at(ctx, &c, target, v.uuid, pool, args->pci_id, args, out, moved_out,
                       n_moved_out);
        goto out;
    }
    if (!pool) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "give a pool, or a pci-id and its host");
        GP_PARAM(ctx, "pool", "%s", "");
        goto out;
    }
    if (v.state != GP_VM_HALTED) {
        rc = GP_ERR(ctx, GP_ERR_VM_NOT_HALTED, "VM %s is %s: its GPU changes only while it is halted",
                    v.uuid, gp_vm_state_name(v.state));
        GP_PARAM(ctx, "vm", "%s", v.uuid);
        goto out;
    }
    rc = gp_xapi_drv_vm_bound_host(&ctx->drv, rec, false, &bound, &why);
    if (rc)
        goto out;
    gp_place_request req;
    memset(&req, 0, sizeof(req));
    req.policy = pool->numa_policy;
    req.pin_mode = pool->pin_mode;
    req.cpu_overcommit = pool->cpu_overcommit > 0 ? pool->cpu_overcommit : 1.0;
    req.strategy = pool->placement;
    req.vm_vcpus = args->vcpus > 0 ? args->vcpus : (int)rec_int(rec, "VCPUs_max");
    req.vm_memory_mib = args->memory_mib ? args->memory_mib
                                         : (uint64_t)rec_int(rec, "memory_static_max") >> 20;
    for (;;) {
        site_set ss;
        gp_site_placement sp;
        gp_site_placement_init(&sp);
        rc = sites_build(ctx, &c, pool, bound, why, (size_t)-1, NULL, tried, n_tried, NULL, 0,
                         &ss);
        if (rc)
            goto out;
        rc = gp_place_sites(ss.sites, ss.n, &req, &sp, ctx->err);
        if (rc == GP_OK) {
            /* The host is chosen pool-wide; within it, its own gpupool
             * places under its lock (GPU, node, pCPUs), seeing what other
             * callers reserved there a moment ago. */
            size_t h = sp.site;
            gp_site_placement_dispose(&sp);
            site_set_dispose(&ss);
            rc = assign_at(ctx, &c, h, v.uuid, pool, NULL, args, out, moved_out, n_moved_out);
            if (rc && retryable(rc) && n_tried < CL_ASSIGN_ATTEMPTS) {
                /* Other callers filled that host first: place again
                 * without it. */
                tried[n_tried].host = h;
                tried[n_tried].pci_id[0] = '\0';
                n_tried++;
                gp_err_clear(ctx->err);
                continue;
            }
        } else {
            gp_site_placement_dispose(&sp);
            site_set_dispose(&ss);
            if (bound && (rc == GP_ERR_POOL_EMPTY || rc == GP_ERR_NO_PLACEMENT)) {
                /* The VM can use one host only: say so, as the local path does. */
                size_t b = gp_cl_host_by_ref(&c, bound);
                char *msg = gp_strdup(ctx->err->message);
                rc = GP_ERR(ctx, GP_ERR_WRONG_HOST,
                            "VM %s %s host %s, and pool %s has no room for it there: %s",
                            v.uuid, why ? why : "is bound to",
                            b != (size_t)-1 ? c.hosts[b].name : bound, pool->name_label,
                            msg ? msg : "");
                GP_PARAM(ctx, "vm", "%s", v.uuid);
                GP_PARAM(ctx, "host", "%s", b != (size_t)-1 ? c.hosts[b].name : bound);
                free(msg);
            }
            GP_PARAM(ctx, "pool", "%s", pool->uuid);
        }
        break;
    }
out:
    free(bound);
    free(why);
    gp_vm_dispose(&v);
    gp_cl_dispose(&c);
    return rc;
}

int gp_vm_gpu_release_any(gp_ctx *ctx, const char *vm)
{
    gp_xapi_binding b;
    gp_vm v;
    gp_cl c;
    size_t h;
    int rc;

    gp_err_clear(ctx->err);
    if (!gp_cluster_on(ctx))
        return gp_vm_gpu_release_local(ctx, vm);
    memset(&b, 0, sizeof(b));
    gp_vm_init(&v);
    gp_cl_init(&c);
    rc = gp_journal_recover(ctx, NULL);
    if (rc == GP_OK)
        rc = gp_ctx_vm_get(ctx, vm, &v);
    if (rc == GP_OK)
        rc = gp_xapi_drv_vm_binding(&ctx->drv, v.uuid, &b);
    if (rc)
        goto out;
    if (!b.ours || !b.bound_host || !b.this_host || !strcasecmp(b.bound_host, b.this_host)) {
        rc = gp_vm_gpu_release_local(ctx, v.uuid);
        goto out;
    }
    rc = cl_load(ctx, &c, 0);
    if (rc)
        goto out;
    h = gp_cl_host_by_uuid(&c, b.bound_host);
    if (h == (size_t)-1) {
        rc = GP_ERR(ctx, GP_ERR_DRIVER, "VM %s is bound to host %s, which xapi no longer lists",
                    v.uuid, b.bound_host);
        GP_PARAM(ctx, "vm", "%s", v.uuid);
        goto out;
    }
    char *text = NULL;
    const char *kv[] = { "vm_uuid", v.uuid };
    rc = fwd(ctx, &c, h, "release_gpu", kv, 2, &text);
    free(text);
out:
    gp_xapi_binding_dispose(&b);
    gp_vm_dispose(&v);
    gp_cl_dispose(&c);
    return rc;
}

static int member_on(gp_ctx *ctx, bool add, const char *pool, const char *pci_id,
                     const char *host)
{
    size_t h;
    gp_cl c;
    int rc;

    gp_err_clear(ctx->err);
    if (!gp_cluster_on(ctx)) {
        if (host && *host)
            return gp_cluster_need(ctx, "host=");
        return add ? gp_pool_gpu_add_local(ctx, pool, pci_id)
                   : gp_pool_gpu_remove_local(ctx, pool, pci_id);
    }
    gp_sync_report r;
    memset(&r, 0, sizeof(r));
    gp_cl_init(&c);
    rc = gp_journal_recover(ctx, NULL);
    if (rc == GP_OK)
        rc = cl_load(ctx, &c, CL_POOLS);
    if (rc == GP_OK)
        rc = gp_cluster_pull_with(ctx, &c, &r);
    if (rc)
        goto out;
    h = c.self;
    if (host && *host) {
        rc = gp_cl_host_find(ctx, &c, host, &h);
        if (rc)
            goto out;
    }
    if (h == c.self) {
        rc = add ? gp_pool_gpu_add_local(ctx, pool, pci_id)
                 : gp_pool_gpu_remove_local(ctx, pool, pci_id);
        goto out;
    }
    char *text = NULL;
    const char *kv[] = { "pool", pool ? pool : "", "pci_id", pci_id ? pci_id : "" };
    rc = fwd(ctx, &c, h, add ? "add_gpu_to_pool" : "remove_gpu_from_pool", kv, 4, &text);
    free(text);
out:
    gp_cl_dispose(&c);
    return rc;
}

int gp_pool_gpu_add_any(gp_ctx *ctx, const char *pool, const char *pci_id, const char *host)
{
    return member_on(ctx, true, pool, pci_id, host);
}

int gp_pool_gpu_remove_on(gp_ctx *ctx, const char *pool, const char *pci_id, const char *host)
{
    return member_on(ctx, false, pool, pci_id, host);
}

int gp_pool_gpu_remove(gp_ctx *ctx, const char *pool, const char *pci_id)
{
    return member_on(ctx, false, pool, pci_id, NULL);
}

/* ---- pool-sync ------------------------------------------------------------------------------ */

static char *sync_json(const gp_sync_report *r)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "facts_published", json_object_new_boolean(r->facts_published));
    json_object_object_add(o, "pools_pulled", json_object_new_int64((int64_t)r->pools_pulled));
    json_object_object_add(o, "pools_pruned", json_object_new_int64((int64_t)r->pools_pruned));
    json_object_object_add(o, "pools_pushed", json_object_new_int64((int64_t)r->pools_pushed));
    json_object_object_add(o, "members_pulled", json_object_new_int64((int64_t)r->members_pulled));
    json_object_object_add(o, "members_pushed", json_object_new_int64((int64_t)r->members_pushed));
    json_object_object_add(o, "assignments_pulled",
                           json_object_new_int64((int64_t)r->assignments_pulled));
    json_object_object_add(o, "assignments_pushed",
                           json_object_new_int64((int64_t)r->assignments_pushed));
    json_object_object_add(o, "assignments_dropped",
                           json_object_new_int64((int64_t)r->assignments_dropped));
    json_object_object_add(o, "skipped", json_object_new_int64((int64_t)r->skipped));
    return gp_json_take_text(o);
}

/* This host's memberships in sqlite: pci-id -> pool uuid. */
typedef struct {
    char pci_id[GP_PCI_ID_LEN];
    char pool_uuid[37];
} local_member;

static int local_members(gp_ctx *ctx, local_member **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc = gp_store_prepare(&ctx->store, "SELECT pci_id, pool_uuid FROM pool_members", &st);
    *out = NULL;
    *n = 0;
    if (rc)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (gp_array_reserve((void **)out, &cap, *n, sizeof(**out))) {
            sqlite3_finalize(st);
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        }
        snprintf((*out)[*n].pci_id, GP_PCI_ID_LEN, "%s", sqlite3_column_text(st, 0));
        snprintf((*out)[*n].pool_uuid, 37, "%s", sqlite3_column_text(st, 1));
        (*n)++;
    }
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(&ctx->store, rc, "reading pool members");
    sqlite3_finalize(st);
    return rc;
}

static bool pool_in_sqlite(gp_ctx *ctx, const char *uuid)
{
    char *v = NULL;
    bool yes = gp_store_query_text(&ctx->store, "reading pools",
                                   "SELECT uuid FROM pools WHERE uuid = ?1", uuid, &v) == GP_OK &&
               v;
    free(v);
    return yes;
}

/* Add the xapi-only memberships and assignments of this host to sqlite
 * (one transaction). */
static int sync_pull_rows(gp_ctx *ctx, const gp_cl *c, const local_member *lm, size_t n_lm,
                          const gp_assignment *la, size_t n_la, gp_sync_report *r)
{
    const gp_host *model = c->hosts[c->self].model;
    char now[32];
    int rc = gp_store_begin(&ctx->store);
    if (rc)
        return rc;
    gp_now_iso(now);
    for (size_t i = 0; rc == GP_OK && i < c->n_members; i++) {
        const gp_cl_member *m = &c->members[i];
        const gp_gpu *g;
        bool have = false;
        if (m->host != c->self)
            continue;
        for (size_t k = 0; k < n_lm && !have; k++)
            have = !strcmp(lm[k].pci_id, m->pci_id);
        if (have)
            continue;
        g = gp_host_find_gpu(model, m->pci_id);
        if (!g || !pool_in_sqlite(ctx, m->pool_uuid)) {
            r->skipped++;
            continue;
        }
        /* What dom0 had before gpupool hid the GPU is not in xapi: a GPU
         * taken out of the pool later is given back to dom0. */
        rc = gp_store_exec(&ctx->store, "copying a membership from xapi",
                           "INSERT INTO pool_members(pci_id, pool_uuid, original_driver, added)"
                           " VALUES (?1, ?2, ?3, ?4)", 4, m->pci_id, m->pool_uuid,
                           GP_XAPI_ORIG_PREFIX "enabled", now);
        for (size_t k = 0; rc == GP_OK && k < g->n_companions; k++)
            rc = gp_store_exec(&ctx->store, "copying a companion from xapi",
                               "INSERT OR IGNORE INTO pool_companions(pci_id, gpu_pci_id,"
                               " original_driver) VALUES (?1, ?2, ?3)", 3,
                               g->companions[k].pci_id, m->pci_id,
                               GP_XAPI_ORIG_PREFIX "enabled");
        if (rc == GP_OK)
            r->members_pulled++;
    }
    /* A row of this host for a VM xapi binds to another host's GPU is
     * stale (a release whose last step was lost, then an assignment
     * there): xapi is the truth. */
    for (size_t k = 0; rc == GP_OK && k < n_la; k++) {
        const gp_cl_asg *a = gp_cl_asg_of_vm(c, la[k].vm_uuid);
        if (!a || a->host == c->self)
            continue;
        rc = gp_assignment_delete(ctx, la[k].vm_uuid);
        if (rc == GP_OK)
            r->assignments_dropped++;
    }
    for (size_t i = 0; rc == GP_OK && i < c->n_asgs; i++) {
        const gp_cl_asg *a = &c->asgs[i];
        bool have = false;
        if (a->host != c->self)
            continue;
        for (size_t k = 0; k < n_la && !have; k++)
            have = !strcasecmp(la[k].vm_uuid, a->a.vm_uuid);
        if (have)
            continue;
        char *member = NULL;
        rc = gp_store_query_text(&ctx->store, "reading pool members",
                                 "SELECT pool_uuid FROM pool_members WHERE pci_id = ?1",
                                 a->a.pci_id, &member);
        if (rc == GP_OK && (!member || strcmp(member, a->a.pool_uuid) || a->a.vcpus <= 0 ||
                            !a->a.memory_mib || !a->a.created)) {
            r->skipped++;
        } else if (rc == GP_OK) {
            rc = gp_assignment_insert(ctx, &a->a);
            if (rc == GP_ERR_DB) {
                /* Another row holds the GPU or the VM: keep sqlite's. */
                gp_err_clear(ctx->err);
                rc = GP_OK;
                r->skipped++;
            } else if (rc == GP_OK) {
                r->assignments_pulled++;
            }
        }
        free(member);
    }
    if (rc == GP_OK) {
        char *after = sync_json(r);
        rc = after ? gp_store_audit(&ctx->store, "pool-sync", c->hosts[c->self].uuid, NULL, after)
                   : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        free(after);
    }
    if (rc == GP_OK)
        rc = gp_store_commit(&ctx->store);
    else
        gp_store_rollback(&ctx->store);
    return rc;
}

int gp_pool_sync(gp_ctx *ctx, gp_sync_report *report)
{
    gp_sync_report r;
    local_member *lm = NULL;
    gp_assignment *la = NULL;
    size_t n_lm = 0, n_la = 0;
    gp_cl c;
    int rc;

    gp_err_clear(ctx->err);
    memset(&r, 0, sizeof(r));
    gp_cl_init(&c);
    rc = gp_cluster_need(ctx, "pool-sync");
    if (rc == GP_OK)
        rc = gp_journal_recover(ctx, NULL);
    if (rc == GP_OK)
        rc = cl_load(ctx, &c, CL_ALL);
    if (rc == GP_OK)
        rc = gp_cluster_pull_with(ctx, &c, &r);
    if (rc == GP_OK)
        rc = local_members(ctx, &lm, &n_lm);
    if (rc == GP_OK)
        rc = gp_assignments_read(ctx, NULL, &la, &n_la);
    if (rc)
        goto out;
    /* Push what only sqlite has (state made before pool-wide state). */
    for (size_t i = 0; rc == GP_OK && i < n_lm; i++) {
        const gp_cl_member *m = gp_cl_member_at(&c, c.self, lm[i].pci_id);
        if (m && !strcmp(m->pool_uuid, lm[i].pool_uuid))
            continue;
        rc = gp_cluster_member_mark(ctx, lm[i].pci_id, lm[i].pool_uuid);
        if (rc == GP_OK)
            r.members_pushed++;
    }
    for (size_t i = 0; rc == GP_OK && i < n_la; i++) {
        const gp_cl_asg *a = gp_cl_asg_of_vm(&c, la[i].vm_uuid);
        if (a && a->host != c.self)
            continue;            /* bound to another host now: dropped below */
        char *mine = gp_placement_json_text(&la[i]);
        char *theirs = a ? gp_placement_json_text(&a->a) : NULL;
        bool same = mine && theirs && !strcmp(mine, theirs) && a->host == c.self;
        free(mine);
        free(theirs);
        if (same)
            continue;
        rc = gp_xapi_converge_vm(ctx, la[i].vm_uuid);
        if (rc == GP_OK)
            r.assignments_pushed++;
    }
    if (rc == GP_OK)
        rc = sync_pull_rows(ctx, &c, lm, n_lm, la, n_la, &r);
    if (rc == GP_OK && report)
        *report = r;
out:
    free(lm);
    gp_assignment_list_free(la, n_la);
    gp_cl_dispose(&c);
    return rc;
}

/* ---- host evacuation -------------------------------------------------------------------- */

void gp_evacuation_list_free(gp_evacuation *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].vm_name_label);
        free(v[i].pool_name_label);
        free(v[i].from_host);
        free(v[i].to_host);
        free(v[i].to_pcpus);
        free(v[i].reason);
    }
    free(v);
}

int gp_evacuation_record(const gp_evacuation *e, gp_record *out)
{
    gp_recb b;
    gp_recb_init(&b, out);
    gp_recb_str(&b, "vm-uuid", e->vm_uuid);
    gp_recb_str(&b, "vm-name-label", e->vm_name_label ? e->vm_name_label : "");
    gp_recb_str(&b, "power-state", gp_vm_state_name(e->power_state));
    gp_recb_str(&b, "pool", e->pool_name_label ? e->pool_name_label : e->pool_uuid);
    gp_recb_str(&b, "from-host", e->from_host ? e->from_host : "");
    gp_recb_str(&b, "from-pci-id", e->from_pci_id);
    gp_recb_str(&b, "action", gp_evac_action_name(e->action));
    gp_recb_str(&b, "to-host", e->to_host ? e->to_host : "");
    gp_recb_str(&b, "to-pci-id", e->to_pci_id);
    gp_recb_int(&b, "to-numa-node", e->to_node, 0);
    gp_recb_ints(&b, "to-pcpus", e->to_pcpus, e->to_n_pcpus);
    gp_recb_str(&b, "reason", e->reason ? e->reason : "");
    return gp_recb_finish(&b);
}

json_object *gp_evacuation_json(const gp_evacuation *e)
{
    json_object *o = json_object_new_object(), *p;
    if (!o)
        return NULL;
#define JS(s) ((s) && *(s) ? json_object_new_string(s) : NULL)
    json_object_object_add(o, "vm_uuid", json_object_new_string(e->vm_uuid));
    json_object_object_add(o, "vm_name_label", JS(e->vm_name_label));
    json_object_object_add(o, "power_state",
                           json_object_new_string(gp_vm_state_name(e->power_state)));
    json_object_object_add(o, "pool_uuid", json_object_new_string(e->pool_uuid));
    json_object_object_add(o, "pool_name_label", JS(e->pool_name_label));
    json_object_object_add(o, "from_host", JS(e->from_host));
    json_object_object_add(o, "from_pci_id", json_object_new_string(e->from_pci_id));
    json_object_object_add(o, "action", json_object_new_string(gp_evac_action_name(e->action)));
    json_object_object_add(o, "to_host", JS(e->to_host));
    json_object_object_add(o, "to_pci_id", JS(e->to_pci_id));
    json_object_object_add(o, "to_numa_node", e->to_node >= 0 ? json_object_new_int(e->to_node)
                                                               : NULL);
    p = json_object_new_array();
    for (size_t i = 0; p && i < e->to_n_pcpus; i++)
        json_object_array_add(p, json_object_new_int(e->to_pcpus[i]));
    json_object_object_add(o, "to_pcpus", p);
    json_object_object_add(o, "reason", JS(e->reason));
#undef JS
    return o;
}

static int evac_cmp(const void *a, const void *b)
{
    const gp_evacuation *x = a, *y = b;
    int c = strcmp(x->vm_name_label ? x->vm_name_label : "", y->vm_name_label ? y->vm_name_label : "");
    return c ? c : strcmp(x->vm_uuid, y->vm_uuid);
}

/* The plan for host h of c (loaded with CL_ALL) into *out. */
static int evac_plan(gp_ctx *ctx, const gp_cl *c, size_t h, gp_evacuation **out, size_t *n_out)
{
    gp_evacuation *v = calloc(c->n_asgs ? c->n_asgs : 1, sizeof(*v));
    planned *plan = calloc(c->n_asgs ? c->n_asgs : 1, sizeof(*plan));
    size_t n = 0, n_plan = 0;
    int rc = GP_OK;

    *out = NULL;
    *n_out = 0;
    if (!v || !plan) {
        free(v);
        free(plan);
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < c->n_asgs; i++) {
        const gp_cl_asg *a = &c->asgs[i];
        if (a->host != h)
            continue;
        gp_evacuation *e = &v[n++];
        snprintf(e->vm_uuid, sizeof(e->vm_uuid), "%s", a->a.vm_uuid);
        e->vm_name_label = gp_strdup(a->a.vm_name_label ? a->a.vm_name_label : "");
        e->power_state = a->state;
        snprintf(e->pool_uuid, sizeof(e->pool_uuid), "%s", a->a.pool_uuid);
        e->pool_name_label = gp_strdup(a->a.pool_name_label);
        e->from_host = gp_strdup(c->hosts[h].name);
        snprintf(e->from_pci_id, sizeof(e->from_pci_id), "%s", a->a.pci_id);
        e->to_node = -1;
        if (!e->vm_name_label || !e->from_host) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            break;
        }
    }
    qsort(v, n, sizeof(*v), evac_cmp);
    for (size_t i = 0; rc == GP_OK && i < n; i++) {
        gp_evacuation *e = &v[i];
        const gp_cl_asg *a = gp_cl_asg_of_vm(c, e->vm_uuid);
        const gp_pool *p = gp_cl_pool(c, e->pool_uuid);
        const gp_xr_value *rec = NULL;
        char *bound = NULL, *why = NULL;
        site_set ss;
        gp_site_placement sp;
        gp_error_info err;

        if (!p) {
            e->action = GP_EVAC_NO_TARGET;
            e->reason = gp_strdup("its pool is not in xapi (run pool-sync on its host)");
            continue;
        }
        if (vm_record_of(ctx, c, e->vm_uuid, &rec) == GP_OK)
            rc = gp_xapi_drv_vm_bound_host(&ctx->drv, rec, true, &bound, &why);
        gp_err_clear(ctx->err);
        if (rc)
            break;
        if (bound && !strcmp(bound, c->hosts[h].ref)) {
            e->action = GP_EVAC_NO_TARGET;
            e->reason = gp_asprintf("the VM %s this host: move its disks to a shared SR first",
                                    why ? why : "is bound to");
            free(bound);
            free(why);
            continue;
        }
        rc = sites_build(ctx, c, p, bound, why, h, "being evacuated", NULL, 0, plan, n_plan, &ss);
        free(bound);
        free(why);
        if (rc)
            break;
        gp_site_placement_init(&sp);
        gp_error_info_init(&err);
        gp_place_request req;
        memset(&req, 0, sizeof(req));
        req.policy = p->numa_policy;
        req.pin_mode = p->pin_mode;
        req.cpu_overcommit = p->cpu_overcommit > 0 ? p->cpu_overcommit : 1.0;
        req.strategy = p->placement;
        req.vm_vcpus = a->a.vcpus;
        req.vm_memory_mib = a->a.memory_mib;
        if (gp_place_sites(ss.sites, ss.n, &req, &sp, &err) == GP_OK) {
            const gp_placement *pl = &sp.placement;
            e->to_host = gp_strdup(c->hosts[sp.site].name);
            snprintf(e->to_pci_id, sizeof(e->to_pci_id), "%s", pl->pci_id);
            e->to_node = pl->node;
            e->to_pcpus = pl->n_pcpus ? malloc(pl->n_pcpus * sizeof(int)) : NULL;
            if (pl->n_pcpus && e->to_pcpus)
                memcpy(e->to_pcpus, pl->pcpus, pl->n_pcpus * sizeof(int));
            e->to_n_pcpus = e->to_pcpus ? pl->n_pcpus : 0;
            e->action = e->power_state == GP_VM_HALTED ? GP_EVAC_MOVE : GP_EVAC_SHUTDOWN_FIRST;
            e->reason = e->action == GP_EVAC_MOVE
                            ? gp_strdup(pl->reason)
                            : gp_asprintf("the VM is %s: shut it down first (gpupool never "
                                          "migrates a running VM); then %s",
                                          gp_vm_state_name(e->power_state), pl->reason);
            plan[n_plan].host = sp.site;
            plan[n_plan].ex = (gp_place_existing){
                .pci_id = e->to_pci_id, .node = e->to_node, .pcpus = e->to_pcpus,
                .n_pcpus = e->to_n_pcpus, .vcpus = a->a.vcpus, .memory_mib = a->a.memory_mib,
                .memory_node = pl->memory_node, .memory_in_free = false };
            n_plan++;
        } else {
            e->action = GP_EVAC_NO_TARGET;
            e->reason = gp_strdup(err.message ? err.message : "no target");
        }
        gp_error_info_dispose(&err);
        gp_site_placement_dispose(&sp);
        site_set_dispose(&ss);
    }
    free(plan);
    if (rc) {
        gp_evacuation_list_free(v, n);
        return rc;
    }
    *out = v;
    *n_out = n;
    return GP_OK;
}

static int evac_load(gp_ctx *ctx, const char *host, gp_cl *c, size_t *h)
{
    int rc = gp_cluster_need(ctx, "host-evacuate");
    gp_cl_init(c);
    if (rc == GP_OK)
        rc = cl_load(ctx, c, CL_ALL);
    if (rc == GP_OK && (!host || !*host)) {
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "name the host to evacuate");
        GP_PARAM(ctx, "host", "%s", "");
    }
    if (rc == GP_OK)
        rc = gp_cl_host_find(ctx, c, host, h);
    return rc;
}

int gp_host_evacuate_plan(gp_ctx *ctx, const char *host, gp_evacuation **out, size_t *n_out)
{
    size_t h;
    gp_cl c;
    int rc;
    gp_err_clear(ctx->err);
    *out = NULL;
    *n_out = 0;
    rc = evac_load(ctx, host, &c, &h);
    if (rc == GP_OK)
        rc = evac_plan(ctx, &c, h, out, n_out);
    gp_cl_dispose(&c);
    return rc;
}

static int evac_audit(gp_ctx *ctx, const gp_evacuation *e)
{
    json_object *b = json_object_new_object(), *a = json_object_new_object();
    char *before, *after;
    int rc;
    if (b) {
        json_object_object_add(b, "host", json_object_new_string(e->from_host));
        json_object_object_add(b, "pci_id", json_object_new_string(e->from_pci_id));
    }
    if (a) {
        json_object_object_add(a, "host", e->to_host ? json_object_new_string(e->to_host) : NULL);
        json_object_object_add(a, "pci_id", json_object_new_string(e->to_pci_id));
        json_object_object_add(a, "result", json_object_new_string(gp_evac_action_name(e->action)));
    }
    before = gp_json_take_text(b);
    after = gp_json_take_text(a);
    rc = before && after ? gp_store_begin(&ctx->store) : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    if (rc == GP_OK) {
        rc = gp_store_audit(&ctx->store, "host-evacuate", e->vm_uuid, before, after);
        if (rc == GP_OK)
            rc = gp_store_commit(&ctx->store);
        else
            gp_store_rollback(&ctx->store);
    }
    free(before);
    free(after);
    return rc;
}

int gp_host_evacuate(gp_ctx *ctx, const char *host, gp_evacuation **out, size_t *n_out)
{
    static const gp_assign_args none;
    gp_evacuation *v = NULL;
    size_t n = 0, h, failed = 0;
    gp_cl c;
    int rc;

    gp_err_clear(ctx->err);
    *out = NULL;
    *n_out = 0;
    rc = gp_journal_recover(ctx, NULL);
    if (rc == GP_OK)
        rc = evac_load(ctx, host, &c, &h);
    else
        gp_cl_init(&c);
    if (rc == GP_OK)
        rc = evac_plan(ctx, &c, h, &v, &n);
    for (size_t i = 0; rc == GP_OK && i < n; i++) {
        gp_evacuation *e = &v[i];
        const gp_pool *p = gp_cl_pool(&c, e->pool_uuid);
        size_t to = (size_t)-1;
        char *text = NULL;
        int mrc;
        if (e->action != GP_EVAC_MOVE)
            continue;
        for (size_t k = 0; k < c.n_hosts && to == (size_t)-1; k++)
            if (!strcmp(c.hosts[k].name, e->to_host))
                to = k;
        /* 1. release on the evacuated host */
        if (h == c.self) {
            mrc = gp_vm_gpu_release_local(ctx, e->vm_uuid);
        } else {
            const char *kv[] = { "vm_uuid", e->vm_uuid };
            mrc = fwd(ctx, &c, h, "release_gpu", kv, 2, &text);
            free(text);
            text = NULL;
        }
        if (mrc) {
            e->action = GP_EVAC_FAILED;
            free(e->reason);
            e->reason = gp_asprintf("release on %s failed, nothing moved: %s", e->from_host,
                                    ctx->err->message ? ctx->err->message : gp_error_name(mrc));
            failed++;
            gp_err_clear(ctx->err);
            evac_audit(ctx, e);
            continue;
        }
        /* 2. assign the planned GPU on the target */
        mrc = assign_at(ctx, &c, to, e->vm_uuid, p, e->to_pci_id, &none, NULL, NULL, NULL);
        if (mrc == GP_OK) {
            e->action = GP_EVAC_MOVED;
        } else {
            char *msg = gp_strdup(ctx->err->message ? ctx->err->message : gp_error_name(mrc));
            gp_err_clear(ctx->err);
            /* 3. undo: the old GPU back */
            int urc = assign_at(ctx, &c, h, e->vm_uuid, p, e->from_pci_id, &none, NULL, NULL,
                                NULL);
            e->action = GP_EVAC_FAILED;
            free(e->reason);
            e->reason = gp_asprintf("assignment on %s failed (%s); %s", e->to_host,
                                    msg ? msg : "?",
                                    urc == GP_OK ? "the VM has its old GPU back"
                                                 : "the old GPU could not be given back: "
                                                   "assign it by hand");
            free(msg);
            gp_err_clear(ctx->err);
            failed++;
        }
        evac_audit(ctx, e);
    }
    gp_cl_dispose(&c);
    if (rc) {
        gp_evacuation_list_free(v, n);
        return rc;
    }
    *out = v;
    *n_out = n;
    if (failed) {
        rc = GP_ERR(ctx, GP_ERR_DRIVER, "%zu of the moves off host %s failed (see each entry)",
                    failed, host);
        GP_PARAM(ctx, "host", "%s", host);
    }
    return rc;
}
