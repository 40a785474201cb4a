/*
 * capacity.c - the allocation picture of a host (docs/capacity-report.md):
 * per pool and NUMA node the free GPUs, the free GPUs stranded because
 * their node lacks pCPUs or memory for the pool's smallest recent VM, the
 * GPUs held by running and by halted VMs (and for how long halted), the
 * GPUs in no pool and the largest VM still placeable NUMA-local.
 *
 * Room on a node is never computed here: it is gp_place() (place/place.c)
 * probed with numa-policy required and a free GPU of the node forced, on
 * the same inputs vm-gpu-assign gives it (gp_place_inputs_load, assign.c).
 * The largest VM is found by bisection on vCPUs (memory 1 MiB) and on
 * memory (1 vCPU): the two limits are independent in gp_place() (vCPU room
 * and free memory are separate tests), so a VM of both sizes fits.
 */
#include "ops/ops.h"
#include "core/fields.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *gp_cap_state_name(gp_cap_state s)
{
    const char *n = gp_cap_state_to_string((int)s);
    return n ? n : "unknown";
}

char *gp_strand_reasons(unsigned why, char *buf, size_t len)
{
    static const struct { unsigned bit; const char *name; } r[] = {
        { GP_STRAND_NO_PCPUS, "no-pcpus" },
        { GP_STRAND_NO_MEMORY, "no-memory" },
        { GP_STRAND_NO_NODE, "no-numa-node" },
    };
    size_t at = 0;
    if (!len)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < GP_ARRAY_SIZE(r); i++)
        if (why & r[i].bit) {
            int k = snprintf(buf + at, len - at, "%s%s", at ? "," : "", r[i].name);
            if (k < 0 || (size_t)k >= len - at)
                break;
            at += (size_t)k;
        }
    return buf;
}

void gp_capacity_free(gp_capacity *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_pools; i++)
        free(c->pools[i].name_label);
    for (size_t i = 0; i < c->n_gpus; i++) {
        free(c->gpus[i].pool_name_label);
        free(c->gpus[i].tenant);
    }
    free(c->pools);
    free(c->nodes);
    free(c->gpus);
    free(c);
}

/* ---- the pool's smallest recent VM --------------------------------------------------- */

/* min(vcpus), min(memory_mib) of sql's rows (?1 pool, ?2 now, ?3 since);
 * *found false when there is none. */
static int min_size(gp_ctx *ctx, const char *sql, const char *pool_uuid, int64_t now,
                    int *vcpus, uint64_t *mem, bool *found)
{
    sqlite3_stmt *st = NULL;
    int rc = gp_store_prepare(&ctx->store, sql, &st);
    *found = false;
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, pool_uuid, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 3) {
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, now - GP_CAPACITY_RECENT_SECONDS);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
        sqlite3_column_type(st, 1) != SQLITE_NULL) {
        *vcpus = sqlite3_column_int(st, 0);
        *mem = (uint64_t)sqlite3_column_int64(st, 1);
        *found = true;
    }
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? GP_OK
                                               : gp_store_error(&ctx->store, rc, "reading GPU use");
    sqlite3_finalize(st);
    return rc;
}

static int smallest_vm(gp_ctx *ctx, gp_capacity_pool *p, int64_t now)
{
    bool found = false;
    int rc = min_size(ctx, "SELECT min(vcpus), min(memory_mib) FROM usage WHERE pool_uuid = ?1"
                      " AND vcpus > 0 AND memory_mib > 0 AND coalesce(held_until, ?2) >= ?3",
                      p->uuid, now, &p->min_vcpus, &p->min_memory_mib, &found);
    p->min_basis = "recent";
    if (rc == GP_OK && !found) {
        rc = min_size(ctx, "SELECT min(vcpus), min(memory_mib) FROM assignments"
                      " WHERE pool_uuid = ?1 AND vcpus > 0 AND memory_mib > 0",
                      p->uuid, now, &p->min_vcpus, &p->min_memory_mib, &found);
        p->min_basis = "current";
    }
    if (rc == GP_OK && !found) {
        p->min_vcpus = GP_CAPACITY_DEFAULT_VCPUS;
        p->min_memory_mib = GP_CAPACITY_DEFAULT_MEMORY_MIB;
        p->min_basis = "default";
    }
    return rc;
}

/* ---- probes of gp_place() ---------------------------------------------------------- */

/* Does a VM of vcpus / mem MiB fit NUMA-local with req's forced GPU?
 * *fits; errors other than "no room" are returned (on ctx). */
static int probe(gp_ctx *ctx, const gp_host *h, gp_place_request *req, int vcpus,
                 uint64_t mem, bool *fits)
{
    gp_placement pl;
    gp_error_info e;
    int rc;

    gp_placement_init(&pl);
    gp_error_info_init(&e);
    req->vm_vcpus = vcpus;
    req->vm_memory_mib = mem;
    rc = gp_place(h, req, &pl, &e);
    *fits = rc == GP_OK;
    if (rc == GP_ERR_NO_PLACEMENT)
        rc = GP_OK;
    else if (rc)
        gp_err_copy(ctx->err, &e);
    gp_placement_dispose(&pl);
    gp_error_info_dispose(&e);
    return rc;
}

/* The largest x in [1, hi] for which fits (bisection; 0 when not even 1). */
static int largest(gp_ctx *ctx, const gp_host *h, gp_place_request *req, bool on_vcpus,
                   uint64_t hi, uint64_t *out)
{
    uint64_t lo = 0;    /* largest known to fit */
    bool fits;
    int rc;

    *out = 0;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;
        rc = on_vcpus ? probe(ctx, h, req, (int)mid, 1, &fits)
                      : probe(ctx, h, req, 1, mid, &fits);
        if (rc)
            return rc;
        if (fits)
            lo = mid;
        else
            hi = mid - 1;
    }
    *out = lo;
    return GP_OK;
}

/* Room on node nd for pool p (inputs pi): max vCPUs and memory, and why
 * its free GPU first_free is stranded (0: not). */
static int node_room(gp_ctx *ctx, const gp_host *h, const gp_place_inputs *pi,
                     const gp_capacity_pool *p, const gp_numa_node *nd, const char *first_free,
                     gp_capacity_node *cn)
{
    gp_place_request req;
    const gp_cpupool *cp = NULL;
    uint64_t v = 0, m = 0;
    bool fits = false;
    int rc;

    memset(&req, 0, sizeof(req));
    req.policy = GP_NUMA_REQUIRED;
    req.pin_mode = pi->pin;
    req.cpu_overcommit = pi->overcommit;
    req.strategy = pi->strategy;
    req.pool_gpus = (const char *const *)pi->gpus;
    req.n_pool_gpus = pi->n_gpus;
    req.existing = pi->existing;
    req.n_existing = pi->n_existing;
    req.force_pci_id = first_free;
    /* On Xen the VM's pCPUs are those of the pool's cpupool (as
     * vm-gpu-assign); without cpupools every pCPU. */
    for (size_t i = 0; i < h->n_cpupools && !cp; i++)
        if (h->cpupools[i].name && !strcmp(h->cpupools[i].name, pi->cpupool))
            cp = &h->cpupools[i];
    if (h->n_cpupools) {
        static const int none = -1;
        req.allowed_cpus = cp ? cp->cpus : &none;
        req.n_allowed_cpus = cp ? cp->n_cpus : 0;
    }
    rc = largest(ctx, h, &req, true,
                 (uint64_t)(pi->overcommit * (double)(nd->n_cpus ? nd->n_cpus : 1)) + 1, &v);
    if (rc == GP_OK && v && cn->memory_known) {
        uint64_t hi = (nd->mem_free_bytes > nd->mem_total_bytes ? nd->mem_free_bytes
                                                                 : nd->mem_total_bytes) >> 20;
        rc = largest(ctx, h, &req, false, hi, &m);
    }
    if (rc)
        return rc;
    cn->max_vcpus = (int)v;
    cn->max_memory_mib = m;
    /* Stranded: the smallest recent VM does not fit; then which part. */
    rc = probe(ctx, h, &req, p->min_vcpus, p->min_memory_mib, &fits);
    if (rc || fits)
        return rc;
    rc = probe(ctx, h, &req, p->min_vcpus, 1, &fits);
    if (rc == GP_OK && !fits)
        cn->stranded_why |= GP_STRAND_NO_PCPUS;
    if (rc == GP_OK)
        rc = probe(ctx, h, &req, 1, p->min_memory_mib, &fits);
    if (rc == GP_OK && !fits)
        cn->stranded_why |= GP_STRAND_NO_MEMORY;
    if (rc == GP_OK && !cn->stranded_why)      /* only together: both short */
        cn->stranded_why = GP_STRAND_NO_PCPUS | GP_STRAND_NO_MEMORY;
    return rc;
}

/* ---- the picture ------------------------------------------------------------------- */

typedef struct {
    gp_ctx *ctx;
    const gp_host *host;
    gp_capacity *c;
    size_t cap_nodes;
    gp_assignment *as;
    size_t n_as;
    gp_vm *vms;
    size_t n_vms;
    int64_t now;
} cap_build;

/* The GPUs: state, pool, holder, halted time. */
static int gpus_fill(cap_build *b, const gp_pool *pools, size_t n_pools)
{
    gp_capacity *c = b->c;
    gp_ctx *ctx = b->ctx;
    sqlite3_stmt *st = NULL;
    int rc;

    c->gpus = calloc(b->host->n_gpus ? b->host->n_gpus : 1, sizeof(*c->gpus));
    if (!c->gpus)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    rc = gp_store_prepare(&ctx->store, "SELECT" GP_GOV_HALTED_SINCE_SQL("?1"), &st);
    if (rc)
        return rc;
    for (size_t g = 0; g < b->host->n_gpus; g++) {
        const gp_gpu *hg = &b->host->gpus[g];
        gp_capacity_gpu *cg = &c->gpus[c->n_gpus++];
        snprintf(cg->pci_id, sizeof(cg->pci_id), "%s", hg->pci_id);
        cg->numa_node = hg->numa_node;
        cg->halted_seconds = -1;
        cg->state = GP_CAP_NO_POOL;
        for (size_t p = 0; p < n_pools && cg->state == GP_CAP_NO_POOL; p++)
            for (size_t k = 0; k < pools[p].n_gpus; k++)
                if (!strcmp(pools[p].gpus[k], hg->pci_id)) {
                    snprintf(cg->pool_uuid, sizeof(cg->pool_uuid), "%s", pools[p].uuid);
                    if (!(cg->pool_name_label = gp_strdup(pools[p].name_label)))
                        goto nomem;
                    cg->state = GP_CAP_FREE;
                    break;
                }
        if (cg->state == GP_CAP_NO_POOL) {
            c->gpus_no_pool++;
            continue;
        }
        for (size_t a = 0; a < b->n_as; a++) {
            if (strcmp(b->as[a].pci_id, hg->pci_id))
                continue;
            const gp_vm *v = NULL;
            snprintf(cg->vm_uuid, sizeof(cg->vm_uuid), "%s", b->as[a].vm_uuid);
            if (!(cg->tenant = gp_strdup(b->as[a].tenant)))
                goto nomem;
            for (size_t k = 0; k < b->n_vms && !v; k++)
                if (!strcasecmp(b->vms[k].uuid, cg->vm_uuid))
                    v = &b->vms[k];
            /* A VM the driver no longer lists holds the GPU without running. */
            cg->state = v && v->state != GP_VM_HALTED ? GP_CAP_RUNNING : GP_CAP_HALTED;
            if (cg->state == GP_CAP_HALTED) {
                sqlite3_reset(st);
                sqlite3_bind_text(st, 1, cg->vm_uuid, -1, SQLITE_STATIC);
                rc = sqlite3_step(st);
                if (rc != SQLITE_ROW) {
                    rc = gp_store_error(&ctx->store, rc, "reading VM runs");
                    goto out;
                }
                int64_t since = sqlite3_column_int64(st, 0);
                if (since > 0)
                    cg->halted_seconds = b->now > since ? b->now - since : 0;
            }
            break;
        }
    }
    rc = GP_OK;
    goto out;
nomem:
    rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
out:
    sqlite3_finalize(st);
    return rc;
}

/* One pool: its counts, smallest VM, nodes and their room. */
static int pool_fill(cap_build *b, const gp_pool *pool, gp_capacity_pool *p)
{
    gp_ctx *ctx = b->ctx;
    gp_capacity *c = b->c;
    gp_place_inputs pi;
    int rc;

    memset(&pi, 0, sizeof(pi));
    snprintf(p->uuid, sizeof(p->uuid), "%s", pool->uuid);
    p->largest_node = -1;
    if (!(p->name_label = gp_strdup(pool->name_label)))
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    rc = smallest_vm(ctx, p, b->now);
    if (rc == GP_OK)
        rc = gp_place_inputs_load(ctx, b->host, pool->uuid, b->vms, b->n_vms, &pi);
    for (size_t i = 0; rc == GP_OK && i < b->host->n_nodes; i++) {
        const gp_numa_node *nd = &b->host->nodes[i];
        gp_capacity_node cn;
        const char *first_free = NULL;

        memset(&cn, 0, sizeof(cn));
        snprintf(cn.pool_uuid, sizeof(cn.pool_uuid), "%s", pool->uuid);
        cn.node = nd->id;
        cn.memory_known = nd->mem_total_bytes != 0 || nd->mem_free_bytes != 0;
        for (size_t g = 0; g < c->n_gpus; g++) {
            const gp_capacity_gpu *cg = &c->gpus[g];
            if (strcmp(cg->pool_uuid, pool->uuid) || cg->numa_node != nd->id)
                continue;
            cn.gpus++;
            cn.running += cg->state == GP_CAP_RUNNING;
            cn.halted += cg->state == GP_CAP_HALTED;
            if (cg->state == GP_CAP_FREE) {
                cn.free++;
                if (!first_free)
                    first_free = cg->pci_id;
            }
        }
        if (!cn.gpus)
            continue;
        if (first_free)
            rc = node_room(ctx, b->host, &pi, p, nd, first_free, &cn);
        if (rc)
            break;
        if (cn.stranded_why) {
            cn.stranded = cn.free;
            cn.free = 0;
            for (size_t g = 0; g < c->n_gpus; g++) {
                gp_capacity_gpu *cg = &c->gpus[g];
                if (!strcmp(cg->pool_uuid, pool->uuid) && cg->numa_node == nd->id &&
                    cg->state == GP_CAP_FREE) {
                    cg->state = GP_CAP_STRANDED;
                    cg->stranded = cn.stranded_why;
                }
            }
        }
        if (cn.max_vcpus > 0 &&
            (cn.max_vcpus > p->largest_vcpus ||
             (cn.max_vcpus == p->largest_vcpus && cn.max_memory_mib > p->largest_memory_mib))) {
            p->largest_vcpus = cn.max_vcpus;
            p->largest_memory_mib = cn.max_memory_mib;
            p->largest_node = cn.node;
        }
        p->gpus += cn.gpus;
        p->free += cn.free;
        p->stranded += cn.stranded;
        p->running += cn.running;
        p->halted += cn.halted;
        if (gp_array_reserve((void **)&c->nodes, &b->cap_nodes, c->n_nodes, sizeof(cn))) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            break;
        }
        c->nodes[c->n_nodes++] = cn;
    }
    /* Members of unknown locality: free ones are stranded (never NUMA-local). */
    for (size_t g = 0; rc == GP_OK && g < c->n_gpus; g++) {
        gp_capacity_gpu *cg = &c->gpus[g];
        if (strcmp(cg->pool_uuid, pool->uuid) || gp_host_find_node(b->host, cg->numa_node))
            continue;
        p->gpus++;
        p->running += cg->state == GP_CAP_RUNNING;
        p->halted += cg->state == GP_CAP_HALTED;
        if (cg->state == GP_CAP_FREE) {
            cg->state = GP_CAP_STRANDED;
            cg->stranded = GP_STRAND_NO_NODE;
            p->stranded++;
        }
    }
    gp_place_inputs_dispose(&pi);
    return rc;
}

int gp_capacity_get(gp_ctx *ctx, const char *host, gp_capacity **out)
{
    cap_build b;
    gp_pool *pools = NULL;
    size_t n_pools = 0;
    int rc;

    memset(&b, 0, sizeof(b));
    b.ctx = ctx;
    *out = NULL;
    gp_err_clear(ctx->err);
    if (host) {
        rc = GP_ERR(ctx, GP_ERR_NOT_SUPPORTED,
                    "capacity of another host of an XCP-ng pool is not available yet");
        GP_PARAM(ctx, "host", "%s", host);
        return rc;
    }
    b.now = gp_now();
    rc = gp_host_get(ctx, &b.host);
    if (rc == GP_OK)
        rc = gp_pool_list(ctx, &pools, &n_pools);
    if (rc == GP_OK)
        rc = gp_gov_ensure(ctx);
    if (rc == GP_OK)
        rc = gp_assignments_read(ctx, NULL, &b.as, &b.n_as);
    if (rc == GP_OK)
        rc = gp_ctx_vm_list(ctx, &b.vms, &b.n_vms);
    if (rc)
        goto out;
    if (!(b.c = calloc(1, sizeof(*b.c))) ||
        !(b.c->pools = calloc(n_pools ? n_pools : 1, sizeof(*b.c->pools)))) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    b.c->now = b.now;
    rc = gpus_fill(&b, pools, n_pools);
    for (size_t i = 0; rc == GP_OK && i < n_pools; i++) {
        rc = pool_fill(&b, &pools[i], &b.c->pools[i]);
        b.c->n_pools++;
    }
    if (rc == GP_OK) {
        *out = b.c;
        b.c = NULL;
    }
out:
    gp_capacity_free(b.c);
    gp_pool_list_free(pools, n_pools);
    gp_assignment_list_free(b.as, b.n_as);
    gp_vm_list_free(b.vms, b.n_vms);
    return rc;
}

/* ---- records and JSON -------------------------------------------------------------- */

static const char *pool_name_of(const gp_capacity *c, const char *uuid)
{
    for (size_t i = 0; i < c->n_pools; i++)
        if (!strcmp(c->pools[i].uuid, uuid))
            return c->pools[i].name_label;
    return uuid;
}

static bool gpu_listed(const gp_capacity_gpu *g)
{
    return g->state == GP_CAP_STRANDED || g->state == GP_CAP_HALTED ||
           g->state == GP_CAP_NO_POOL;
}

static int capacity_record_at(const void *arg, size_t i, gp_record *out)
{
    const gp_capacity *c = arg;
    char why[48];
    gp_recb b;

    gp_recb_init(&b, out);
    if (i < c->n_pools) {
        const gp_capacity_pool *p = &c->pools[i];
        gp_recb_str(&b, "kind", "pool");
        gp_recb_str(&b, "pool", p->name_label);
        gp_recb_str(&b, "pool-uuid", p->uuid);
        gp_recb_int(&b, "gpus", (long long)p->gpus, 0);
        gp_recb_int(&b, "free", (long long)p->free, 0);
        gp_recb_int(&b, "stranded", (long long)p->stranded, 0);
        gp_recb_int(&b, "held-running", (long long)p->running, 0);
        gp_recb_int(&b, "held-halted", (long long)p->halted, 0);
        gp_recb_int(&b, "smallest-vm-vcpus", p->min_vcpus, 0);
        gp_recb_u64(&b, "smallest-vm-memory-mib", p->min_memory_mib, true);
        gp_recb_str(&b, "smallest-vm-basis", p->min_basis);
        gp_recb_int(&b, "largest-vm-vcpus", p->largest_vcpus, 0);
        gp_recb_u64(&b, "largest-vm-memory-mib", p->largest_memory_mib, true);
        if (p->largest_node >= 0)
            gp_recb_int(&b, "largest-vm-node", p->largest_node, 0);
        else
            gp_recb_str(&b, "largest-vm-node", "");
        return gp_recb_finish(&b);
    }
    i -= c->n_pools;
    if (i < c->n_nodes) {
        const gp_capacity_node *n = &c->nodes[i];
        gp_recb_str(&b, "kind", "node");
        gp_recb_str(&b, "pool", pool_name_of(c, n->pool_uuid));
        gp_recb_int(&b, "numa-node", n->node, 0);
        gp_recb_int(&b, "gpus", (long long)n->gpus, 0);
        gp_recb_int(&b, "free", (long long)n->free, 0);
        gp_recb_int(&b, "stranded", (long long)n->stranded, 0);
        gp_recb_str(&b, "stranded-reasons", gp_strand_reasons(n->stranded_why, why, sizeof(why)));
        gp_recb_int(&b, "held-running", (long long)n->running, 0);
        gp_recb_int(&b, "held-halted", (long long)n->halted, 0);
        gp_recb_int(&b, "max-vcpus", n->max_vcpus, 0);
        gp_recb_u64(&b, "max-memory-mib", n->max_memory_mib, n->memory_known);
        return gp_recb_finish(&b);
    }
    i -= c->n_nodes;
    for (size_t g = 0; g < c->n_gpus; g++) {
        const gp_capacity_gpu *cg = &c->gpus[g];
        if (!gpu_listed(cg) || i--)
            continue;
        gp_recb_str(&b, "kind", "gpu");
        gp_recb_str(&b, "pci-id", cg->pci_id);
        gp_recb_int(&b, "numa-node", cg->numa_node, 0);
        gp_recb_str(&b, "pool", cg->pool_name_label ? cg->pool_name_label : "");
        gp_recb_str(&b, "state", gp_cap_state_name(cg->state));
        gp_recb_str(&b, "reason", gp_strand_reasons(cg->stranded, why, sizeof(why)));
        gp_recb_str(&b, "vm-uuid", cg->vm_uuid);
        gp_recb_str(&b, "tenant", cg->tenant ? cg->tenant : "");
        if (cg->halted_seconds >= 0)
            gp_recb_int(&b, "halted-seconds", cg->halted_seconds, 0);
        else
            gp_recb_str(&b, "halted-seconds", "");
        break;
    }
    return gp_recb_finish(&b);
}

int gp_capacity_records(const gp_capacity *c, gp_record **out, size_t *n_out)
{
    gp_error_info e;
    size_t n = c->n_pools + c->n_nodes;
    int rc;

    for (size_t g = 0; g < c->n_gpus; g++)
        n += gpu_listed(&c->gpus[g]);
    gp_error_info_init(&e);
    rc = gp_fields_records(&e, "capacity", n, capacity_record_at, c, out, n_out);
    gp_error_info_dispose(&e);
    return rc;
}

static json_object *reasons_json(unsigned why)
{
    json_object *a = json_object_new_array();
    if (a && (why & GP_STRAND_NO_PCPUS))
        json_object_array_add(a, json_object_new_string("no-pcpus"));
    if (a && (why & GP_STRAND_NO_MEMORY))
        json_object_array_add(a, json_object_new_string("no-memory"));
    if (a && (why & GP_STRAND_NO_NODE))
        json_object_array_add(a, json_object_new_string("no-numa-node"));
    return a;
}

static json_object *counts_json(json_object *o, size_t gpus, size_t free_, size_t stranded,
                                size_t running, size_t halted)
{
    json_object_object_add(o, "gpus", json_object_new_int64((int64_t)gpus));
    json_object_object_add(o, "free", json_object_new_int64((int64_t)free_));
    json_object_object_add(o, "stranded", json_object_new_int64((int64_t)stranded));
    json_object_object_add(o, "running", json_object_new_int64((int64_t)running));
    json_object_object_add(o, "halted", json_object_new_int64((int64_t)halted));
    return o;
}

json_object *gp_capacity_json(const gp_capacity *c)
{
    json_object *o = json_object_new_object(), *pools = json_object_new_array(),
                *gpus = json_object_new_array();
    if (!o || !pools || !gpus) {
        json_object_put(o);
        json_object_put(pools);
        json_object_put(gpus);
        return NULL;
    }
    json_object_object_add(o, "now", json_object_new_int64(c->now));
    json_object_object_add(o, "gpus_no_pool", json_object_new_int64((int64_t)c->gpus_no_pool));
    for (size_t i = 0; i < c->n_pools; i++) {
        const gp_capacity_pool *p = &c->pools[i];
        json_object *po = json_object_new_object(), *sm = json_object_new_object(),
                    *nodes = json_object_new_array(), *lg = NULL;
        json_object_object_add(po, "uuid", json_object_new_string(p->uuid));
        json_object_object_add(po, "name_label", json_object_new_string(p->name_label));
        counts_json(po, p->gpus, p->free, p->stranded, p->running, p->halted);
        json_object_object_add(sm, "vcpus", json_object_new_int(p->min_vcpus));
        json_object_object_add(sm, "memory_mib", json_object_new_int64((int64_t)p->min_memory_mib));
        json_object_object_add(sm, "basis", json_object_new_string(p->min_basis));
        json_object_object_add(po, "smallest_vm", sm);
        if (p->largest_node >= 0) {
            lg = json_object_new_object();
            json_object_object_add(lg, "vcpus", json_object_new_int(p->largest_vcpus));
            json_object_object_add(lg, "memory_mib",
                                   json_object_new_int64((int64_t)p->largest_memory_mib));
            json_object_object_add(lg, "node", json_object_new_int(p->largest_node));
        }
        json_object_object_add(po, "largest_vm", lg);
        for (size_t k = 0; k < c->n_nodes; k++) {
            const gp_capacity_node *n = &c->nodes[k];
            if (strcmp(n->pool_uuid, p->uuid))
                continue;
            json_object *no = json_object_new_object();
            json_object_object_add(no, "node", json_object_new_int(n->node));
            counts_json(no, n->gpus, n->free, n->stranded, n->running, n->halted);
            json_object_object_add(no, "stranded_reasons", reasons_json(n->stranded_why));
            json_object_object_add(no, "max_vcpus", json_object_new_int(n->max_vcpus));
            json_object_object_add(no, "max_memory_mib",
                                   n->memory_known
                                       ? json_object_new_int64((int64_t)n->max_memory_mib)
                                       : NULL);
            json_object_array_add(nodes, no);
        }
        json_object_object_add(po, "nodes", nodes);
        json_object_array_add(pools, po);
    }
    json_object_object_add(o, "pools", pools);
    for (size_t g = 0; g < c->n_gpus; g++) {
        const gp_capacity_gpu *cg = &c->gpus[g];
        json_object *go = json_object_new_object();
        json_object_object_add(go, "pci_id", json_object_new_string(cg->pci_id));
        json_object_object_add(go, "numa_node",
                               cg->numa_node >= 0 ? json_object_new_int(cg->numa_node) : NULL);
        json_object_object_add(go, "pool", cg->pool_name_label
                                               ? json_object_new_string(cg->pool_name_label)
                                               : NULL);
        json_object_object_add(go, "pool_uuid",
                               cg->pool_uuid[0] ? json_object_new_string(cg->pool_uuid) : NULL);
        json_object_object_add(go, "state", json_object_new_string(gp_cap_state_name(cg->state)));
        json_object_object_add(go, "stranded_reasons", reasons_json(cg->stranded));
        json_object_object_add(go, "vm_uuid",
                               cg->vm_uuid[0] ? json_object_new_string(cg->vm_uuid) : NULL);
        json_object_object_add(go, "tenant",
                               cg->tenant ? json_object_new_string(cg->tenant) : NULL);
        json_object_object_add(go, "halted_seconds", cg->halted_seconds >= 0
                                                         ? json_object_new_int64(cg->halted_seconds)
                                                         : NULL);
        json_object_array_add(gpus, go);
    }
    json_object_object_add(o, "gpus", gpus);
    return o;
}
