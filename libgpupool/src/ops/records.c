/*
 * records.c - the context's objects as ordered key/value records.
 *
 * Front ends print records (xe-gpupool: "key ( RO): value" lines); the XAPI
 * plugin asks for typed JSON (gp_*_json below).  A GPU, a pool and an
 * assignment are serialised through their field tables (core/fields.c):
 * this file only gathers what an object's record says beside its own facts
 * (a GPU's pool, holder and socket; a pool's free GPUs) and hands object and
 * relations to the table's walker.  Keys use xe's hyphenated spelling, the
 * first field is the object's identity, unknown facts are "unknown", lists
 * are comma-joined.  Records are built from the public API only, with one
 * query per object kind: no per-GPU database access, and gpu records never
 * ask the driver for its VM list (the assignment already names the VM).
 */
#include "ops/ops.h"
#include "core/fields.h"

#include <ctype.h>
#include <json.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNKNOWN "unknown"

/* What every gp_*_records() failure to allocate reports. */
static int records_nomem(gp_ctx *ctx, const char *what)
{
    return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory building %s records", what);
}

/* ---- lookups by sorted key ------------------------------------------------ */

/* (key, value) pairs sorted by key for bsearch. */
typedef struct {
    const char *key;
    const void *val;
} kv_ref;

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const kv_ref *)a)->key, ((const kv_ref *)b)->key);
}

static const void *kv_find(const kv_ref *v, size_t n, const char *key)
{
    if (!n || !key)
        return NULL;
    kv_ref k = { key, NULL };
    const kv_ref *hit = bsearch(&k, v, n, sizeof(*v), kv_cmp);
    return hit ? hit->val : NULL;
}

/*
 * Pool membership and holder of every pool member GPU in one query:
 * (pci-id, pool name-label, holding VM uuid or "") in ascending pci-id.
 * gpu, pool and vm records need no more than this from the assignments, so
 * they do not read whole assignments (which name each VM through the driver).
 */
typedef struct {
    char pci_id[GP_PCI_ID_LEN];
    char *pool;                 /* name-label */
    char pool_uuid[37];
    char vm_uuid[37];           /* lower case; "" when free */
} member_row;

static void members_free(member_row *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].pool);
    free(v);
}

static int members_read(gp_ctx *ctx, member_row **out, size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    member_row *v = NULL;
    size_t n = 0, cap = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_store_prepare(&ctx->store,
                          "SELECT m.pci_id, p.name_label, a.vm_uuid, m.pool_uuid"
                          "  FROM pool_members m JOIN pools p ON p.uuid = m.pool_uuid"
                          "  LEFT JOIN assignments a ON a.pci_id = m.pci_id"
                          " ORDER BY m.pci_id", &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *pci = (const char *)sqlite3_column_text(st, 0);
        const char *pool = (const char *)sqlite3_column_text(st, 1);
        const char *vm = (const char *)sqlite3_column_text(st, 2);
        const char *puuid = (const char *)sqlite3_column_text(st, 3);
        if (gp_array_reserve((void **)&v, &cap, n, sizeof(*v)))
            goto nomem;
        member_row *m = &v[n];
        snprintf(m->pci_id, sizeof(m->pci_id), "%s", pci ? pci : "");
        snprintf(m->vm_uuid, sizeof(m->vm_uuid), "%s", vm ? vm : "");
        snprintf(m->pool_uuid, sizeof(m->pool_uuid), "%s", puuid ? puuid : "");
        for (char *c = m->vm_uuid; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        m->pool = strdup(pool ? pool : "");
        if (!m->pool)
            goto nomem;
        n++;
    }
    if (rc != SQLITE_DONE) {
        rc = gp_store_error(&ctx->store, rc, "reading pool members");
        goto out;
    }
    *out = v;
    *n_out = n;
    v = NULL;
    n = 0;
    rc = GP_OK;
    goto out;
nomem:
    rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory reading pool members");
out:
    sqlite3_finalize(st);
    members_free(v, n);
    return rc;
}

/* Index member rows by pci-id (by_vm false) or the held ones by VM uuid
 * (by_vm true); held_only leaves out the free ones in either case.  *n_out
 * receives the number indexed.  NULL on ENOMEM. */
static kv_ref *index_members(const member_row *ms, size_t n, bool held_only, bool by_vm,
                             size_t *n_out)
{
    kv_ref *v = malloc((n ? n : 1) * sizeof(*v));
    size_t k = 0;
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if ((held_only || by_vm) && !ms[i].vm_uuid[0])
            continue;
        v[k].key = by_vm ? ms[i].vm_uuid : ms[i].pci_id;
        v[k].val = &ms[i];
        k++;
    }
    qsort(v, k, sizeof(*v), kv_cmp);
    *n_out = k;
    return v;
}

/* ---- gpu ------------------------------------------------------------------ */

/* The relations of GPU g: its socket, the member row m (NULL: in no pool)
 * and the assignment holding it (NULL: free; then the member row's holder,
 * if any, is used for vm_uuid). */
static void gpu_rel(const gp_host *host, const gp_gpu *g, const member_row *m,
                    const gp_assignment *a, gp_gpu_rel *rel)
{
    rel->socket = g->numa_node >= 0 ? gp_host_node_socket(host, g->numa_node) : -1;
    rel->pool_uuid = m ? m->pool_uuid : NULL;
    rel->pool_name_label = m ? m->pool : NULL;
    rel->vm_uuid = a ? a->vm_uuid : m && m->vm_uuid[0] ? m->vm_uuid : NULL;
    rel->vm_name_label = a ? a->vm_name_label : NULL;
}

/* What gpu_record_at() builds record i from. */
typedef struct {
    const gp_host *host;
    const kv_ref *by_pci;       /* member rows by pci-id */
    size_t n_by_pci;
} gpu_records_in;

static int gpu_record_at(const void *arg, size_t i, gp_record *out)
{
    const gpu_records_in *in = arg;
    const gp_gpu *g = &in->host->gpus[i];
    gp_gpu_rel rel;
    gpu_rel(in->host, g, kv_find(in->by_pci, in->n_by_pci, g->pci_id), NULL, &rel);
    return gp_fields_record(gp_gpu_fields, gp_gpu_n_fields, g, &rel, out);
}

int gp_gpu_records(gp_ctx *ctx, gp_record **out, size_t *n_out)
{
    gpu_records_in in = { NULL, NULL, 0 };
    member_row *ms = NULL;
    size_t n_ms = 0;
    kv_ref *by_pci = NULL;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_host_get(ctx, &in.host);
    if (rc)
        goto out;
    rc = members_read(ctx, &ms, &n_ms);
    if (rc)
        goto out;
    by_pci = index_members(ms, n_ms, false, false, &in.n_by_pci);
    if (!by_pci) {
        rc = records_nomem(ctx, "GPU");
        goto out;
    }
    in.by_pci = by_pci;
    rc = gp_fields_records(ctx->err, "GPU", in.host->n_gpus, gpu_record_at, &in, out, n_out);
out:
    free(by_pci);
    members_free(ms, n_ms);
    return rc;
}

/* ---- pool ----------------------------------------------------------------- */

/* The record (json NULL) or JSON object (*json) of pool p, its held members
 * given by held (member rows by pci-id).  GP_ERR_NOMEM or GP_OK. */
static int pool_out(const gp_pool *p, const kv_ref *held, size_t n_held, gp_record *rec,
                    json_object **json)
{
    gp_pool_rel rel;
    int rc = GP_OK;

    rel.free_gpus = malloc((p->n_gpus ? p->n_gpus : 1) * sizeof(*rel.free_gpus));
    rel.n_free_gpus = 0;
    if (rec)
        gp_record_init(rec);
    if (!rel.free_gpus)
        return GP_ERR_NOMEM;
    for (size_t i = 0; i < p->n_gpus; i++)
        if (!kv_find(held, n_held, p->gpus[i]))
            rel.free_gpus[rel.n_free_gpus++] = p->gpus[i];
    if (rec)
        rc = gp_fields_record(gp_pool_fields, gp_pool_n_fields, p, &rel, rec);
    else if (!(*json = gp_fields_json(gp_pool_fields, gp_pool_n_fields, p, &rel, GP_FJ_PUBLIC)))
        rc = GP_ERR_NOMEM;
    free(rel.free_gpus);
    return rc;
}

/* What pool_record_at() builds record i from. */
typedef struct {
    const gp_pool *pools;
    const kv_ref *held;         /* held member rows by pci-id */
    size_t n_held;
} pool_records_in;

static int pool_record_at(const void *arg, size_t i, gp_record *out)
{
    const pool_records_in *in = arg;
    return pool_out(&in->pools[i], in->held, in->n_held, out, NULL);
}

/* The pools (all, or the one named by pool) and the index of held members
 * (in->held, to free) for pool records and JSON. */
static int pools_read(gp_ctx *ctx, const char *pool, gp_pool **pools, size_t *n_pools,
                      member_row **ms, size_t *n_ms, pool_records_in *in)
{
    int rc;
    kv_ref *held;

    *pools = NULL;
    *n_pools = 0;
    if (pool) {
        *pools = calloc(1, sizeof(**pools));
        if (!*pools)
            return records_nomem(ctx, "pool");
        gp_pool_init(*pools);
        *n_pools = 1;
        rc = gp_pool_get(ctx, pool, *pools);
    } else {
        rc = gp_pool_list(ctx, pools, n_pools);
    }
    if (rc)
        return rc;
    rc = members_read(ctx, ms, n_ms);
    if (rc)
        return rc;
    held = index_members(*ms, *n_ms, true, false, &in->n_held);
    if (!held)
        return records_nomem(ctx, "pool");
    in->pools = *pools;
    in->held = held;
    return GP_OK;
}

int gp_pool_records(gp_ctx *ctx, gp_record **out, size_t *n_out)
{
    pool_records_in in = { NULL, NULL, 0 };
    gp_pool *pools = NULL;
    size_t n_pools = 0;
    member_row *ms = NULL;
    size_t n_ms = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = pools_read(ctx, NULL, &pools, &n_pools, &ms, &n_ms, &in);
    if (!rc)
        rc = gp_fields_records(ctx->err, "pool", n_pools, pool_record_at, &in, out, n_out);
    free((void *)in.held);
    gp_pool_list_free(pools, n_pools);
    members_free(ms, n_ms);
    return rc;
}

/* ---- assignment ----------------------------------------------------------- */

int gp_placement_record(const gp_assignment *a, gp_record *out)
{
    return gp_fields_record(gp_assignment_fields, gp_assignment_n_fields, a, NULL, out);
}

static int placement_record_at(const void *arg, size_t i, gp_record *out)
{
    return gp_placement_record(&((const gp_assignment *)arg)[i], out);
}

int gp_assignment_records(gp_ctx *ctx, gp_record **out, size_t *n_out)
{
    gp_assignment *as = NULL;
    size_t n_as = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_assignment_list(ctx, &as, &n_as);
    if (!rc)
        rc = gp_fields_records(ctx->err, "assignment", n_as, placement_record_at, as, out, n_out);
    gp_assignment_list_free(as, n_as);
    return rc;
}

/* ---- JSON ----------------------------------------------------------------- */

static int json_nomem(gp_ctx *ctx, const char *what)
{
    return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory building %s JSON", what);
}

/* Append o to array arr; false (o released) on ENOMEM. */
static bool array_add(json_object *arr, json_object *o)
{
    if (!o || json_object_array_add(arr, o)) {
        json_object_put(o);
        return false;
    }
    return true;
}


/*
 * The JSON of one GPU (only: its pci-id) or of all of them (an array):
 * the host's GPUs, their pool (member rows) and holder (the assignments,
 * which name the VM through the driver).
 */
static int gpus_json(gp_ctx *ctx, const char *only, json_object **out)
{
    const gp_host *host;
    const gp_gpu *one = NULL;
    member_row *ms = NULL;
    size_t n_ms = 0, n_by_pci = 0, n_by_asg = 0;
    kv_ref *by_pci = NULL, *by_asg = NULL;
    gp_assignment *as = NULL;
    size_t n_as = 0;
    json_object *arr = NULL;
    int rc;

    *out = NULL;
    rc = gp_host_get(ctx, &host);
    if (rc)
        return rc;
    if (only && !(one = gp_host_find_gpu(host, only))) {
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_GPU, "no GPU with that pci-id on this host");
        GP_PARAM(ctx, "pci-id", "%s", only);
        return rc;
    }
    rc = members_read(ctx, &ms, &n_ms);
    if (!rc)
        rc = gp_assignment_list(ctx, &as, &n_as);
    if (rc)
        goto out;
    by_pci = index_members(ms, n_ms, false, false, &n_by_pci);
    by_asg = malloc((n_as ? n_as : 1) * sizeof(*by_asg));
    if (!by_pci || !by_asg) {
        rc = json_nomem(ctx, "GPU");
        goto out;
    }
    for (size_t i = 0; i < n_as; i++) {
        by_asg[i].key = as[i].pci_id;
        by_asg[i].val = &as[i];
    }
    n_by_asg = n_as;
    qsort(by_asg, n_by_asg, sizeof(*by_asg), kv_cmp);
    if (!one && !(arr = gp_json_array_new(host->n_gpus))) {
        rc = json_nomem(ctx, "GPU");
        goto out;
    }
    for (size_t i = 0; i < host->n_gpus; i++) {
        const gp_gpu *g = one ? one : &host->gpus[i];
        gp_gpu_rel rel;
        gpu_rel(host, g, kv_find(by_pci, n_by_pci, g->pci_id),
                kv_find(by_asg, n_by_asg, g->pci_id), &rel);
        json_object *o = gp_fields_json(gp_gpu_fields, gp_gpu_n_fields, g, &rel, GP_FJ_PUBLIC);
        if (one) {
            *out = o;
            rc = o ? GP_OK : json_nomem(ctx, "GPU");
            goto out;
        }
        if (!array_add(arr, o)) {
            rc = json_nomem(ctx, "GPU");
            goto out;
        }
    }
    *out = arr;
    arr = NULL;
out:
    json_object_put(arr);
    free(by_pci);
    free(by_asg);
    members_free(ms, n_ms);
    gp_assignment_list_free(as, n_as);
    return rc;
}

int gp_gpus_json(gp_ctx *ctx, json_object **out)
{
    return gpus_json(ctx, NULL, out);
}

int gp_gpu_json(gp_ctx *ctx, const char *pci_id, json_object **out)
{
    if (!pci_id) {
        *out = NULL;
        return GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "no pci-id given");
    }
    return gpus_json(ctx, pci_id, out);
}

/* The JSON of one pool (pool: uuid or name-label) or of all (an array). */
static int pools_json(gp_ctx *ctx, const char *pool, json_object **out)
{
    pool_records_in in = { NULL, NULL, 0 };
    gp_pool *pools = NULL;
    size_t n_pools = 0;
    member_row *ms = NULL;
    size_t n_ms = 0;
    json_object *arr = NULL, *o = NULL;
    int rc;

    *out = NULL;
    rc = pools_read(ctx, pool, &pools, &n_pools, &ms, &n_ms, &in);
    if (rc)
        goto out;
    if (pool) {
        if (pool_out(&pools[0], in.held, in.n_held, NULL, out))
            rc = json_nomem(ctx, "pool");
        goto out;
    }
    arr = gp_json_array_new(n_pools);
    for (size_t i = 0; arr && i < n_pools; i++)
        if (pool_out(&pools[i], in.held, in.n_held, NULL, &o) || !array_add(arr, o)) {
            json_object_put(arr);
            arr = NULL;
        }
    if (!arr)
        rc = json_nomem(ctx, "pool");
    *out = arr;
out:
    free((void *)in.held);
    gp_pool_list_free(pools, n_pools);
    members_free(ms, n_ms);
    return rc;
}

int gp_pools_json(gp_ctx *ctx, json_object **out)
{
    return pools_json(ctx, NULL, out);
}

int gp_pool_json(gp_ctx *ctx, const char *pool, json_object **out)
{
    if (!pool) {
        *out = NULL;
        return GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "no pool given");
    }
    return pools_json(ctx, pool, out);
}

json_object *gp_assignment_json(const gp_assignment *a)
{
    return gp_fields_json(gp_assignment_fields, gp_assignment_n_fields, a, NULL, GP_FJ_PUBLIC);
}

int gp_assignments_json(gp_ctx *ctx, json_object **out)
{
    gp_assignment *as = NULL;
    size_t n_as = 0;
    json_object *arr;
    int rc;

    *out = NULL;
    rc = gp_assignment_list(ctx, &as, &n_as);
    if (rc)
        return rc;
    arr = gp_json_array_new(n_as);
    for (size_t i = 0; arr && i < n_as; i++)
        if (!array_add(arr, gp_assignment_json(&as[i]))) {
            json_object_put(arr);
            arr = NULL;
        }
    gp_assignment_list_free(as, n_as);
    if (!arr)
        return json_nomem(ctx, "assignment");
    *out = arr;
    return GP_OK;
}

/* ---- host ----------------------------------------------------------------- */

static int node_record(const gp_host *host, const gp_numa_node *nd, gp_record *out)
{
    gp_recb b;
    const char **gpus = malloc((host->n_gpus ? host->n_gpus : 1) * sizeof(*gpus));
    size_t n_gpus = 0;

    gp_recb_init(&b, out);
    if (!gpus)
        return GP_ERR_NOMEM;
    for (size_t i = 0; i < host->n_gpus; i++)
        if (host->gpus[i].numa_node == nd->id)
            gpus[n_gpus++] = host->gpus[i].pci_id;

    gp_recb_int(&b, "node", nd->id, 0);
    gp_recb_int(&b, "socket", nd->socket, 0);
    gp_recb_ints(&b, "cpus", nd->cpus, nd->n_cpus);
    gp_recb_int(&b, "pcpu-count", (long long)nd->n_cpus, 0);
    gp_recb_u64(&b, "memory-total-mib", nd->mem_total_bytes >> 20, nd->mem_total_bytes != 0);
    gp_recb_u64(&b, "memory-free-mib", nd->mem_free_bytes >> 20, nd->mem_total_bytes != 0);
    gp_recb_take(&b, "gpus", gp_strv_join(gpus, n_gpus));
    if (nd->distances)
        gp_recb_ints(&b, "distances", nd->distances, host->n_nodes);
    else
        gp_recb_str(&b, "distances", UNKNOWN);
    free(gpus);
    return gp_recb_finish(&b);
}

static int node_record_at(const void *arg, size_t i, gp_record *out)
{
    const gp_host *host = arg;
    return node_record(host, &host->nodes[i], out);
}

int gp_host_records(gp_ctx *ctx, gp_record **out, size_t *n_out)
{
    const gp_host *host;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_host_get(ctx, &host);
    if (rc)
        return rc;
    return gp_fields_records(ctx->err, "host", host->n_nodes, node_record_at, host, out, n_out);
}

/* ---- audit ---------------------------------------------------------------- */

static int audit_record_at(const void *arg, size_t i, gp_record *out)
{
    const gp_audit_entry *e = &((const gp_audit_entry *)arg)[i];
    gp_recb b;
    gp_recb_init(&b, out);
    gp_recb_take(&b, "id", gp_asprintf("%" PRId64, e->id));
    gp_recb_str(&b, "time", e->time);
    gp_recb_str(&b, "caller", e->caller);
    gp_recb_str(&b, "operation", e->operation);
    gp_recb_str(&b, "object", e->object ? e->object : "");
    gp_recb_str(&b, "before", e->before ? e->before : "");
    gp_recb_str(&b, "after", e->after ? e->after : "");
    return gp_recb_finish(&b);
}

int gp_audit_records(gp_ctx *ctx, int64_t since_id, size_t limit,
                     gp_record **out, size_t *n_out)
{
    gp_audit_entry *es = NULL;
    size_t n_es = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_audit_list(ctx, since_id, limit, &es, &n_es);
    if (!rc)
        rc = gp_fields_records(ctx->err, "audit", n_es, audit_record_at, es, out, n_out);
    gp_audit_list_free(es, n_es);
    return rc;
}

/* ---- vm ------------------------------------------------------------------- */

/* What vm_record_at() builds record i from. */
typedef struct {
    const gp_vm *vms;
    const kv_ref *by_vm;        /* held member rows by VM uuid */
    size_t n_by_vm;
} vm_records_in;

static int vm_record_at(const void *arg, size_t i, gp_record *out)
{
    const vm_records_in *in = arg;
    const gp_vm *v = &in->vms[i];
    char key[37];
    snprintf(key, sizeof(key), "%s", v->uuid);
    for (char *c = key; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    const member_row *m = kv_find(in->by_vm, in->n_by_vm, key);
    gp_recb b;
    gp_recb_init(&b, out);
    gp_recb_str(&b, "uuid", v->uuid);
    gp_recb_str(&b, "name-label", v->name_label ? v->name_label : "");
    gp_recb_str(&b, "power-state", gp_vm_state_name(v->state));
    gp_recb_int(&b, "vcpus", v->vcpus, 1);
    gp_recb_u64(&b, "memory-mib", v->memory_mib, v->memory_mib != 0);
    gp_recb_str(&b, "gpu", m ? m->pci_id : "");
    return gp_recb_finish(&b);
}

int gp_vm_records(gp_ctx *ctx, gp_record **out, size_t *n_out)
{
    vm_records_in in = { NULL, NULL, 0 };
    gp_vm *vms = NULL;
    size_t n_vms = 0;
    member_row *ms = NULL;
    size_t n_ms = 0;
    kv_ref *by_vm = NULL;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_vm_list(ctx, &vms, &n_vms);
    if (rc)
        goto out;
    rc = members_read(ctx, &ms, &n_ms);
    if (rc)
        goto out;
    by_vm = index_members(ms, n_ms, true, true, &in.n_by_vm);
    if (!by_vm) {
        rc = records_nomem(ctx, "VM");
        goto out;
    }
    in.vms = vms;
    in.by_vm = by_vm;
    rc = gp_fields_records(ctx->err, "VM", n_vms, vm_record_at, &in, out, n_out);
out:
    free(by_vm);
    gp_vm_list_free(vms, n_vms);
    members_free(ms, n_ms);
    return rc;
}
