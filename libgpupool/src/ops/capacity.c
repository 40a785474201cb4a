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
#include "ops/xstate.h"
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

const char *gp_strand_reason_name(gp_strand_reason r)
{
    const char *n = gp_strand_reason_to_string((int)r);
    return n ? n : "unknown";
}

char *gp_strand_reasons(unsigned why, char *buf, size_t len)
{
    size_t at = 0;
    if (!len)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < gp_strand_reason_count; i++)
        if (why & (1u << i)) {
            int k = snprintf(buf + at, len - at, "%s%s", at ? "," : "",
                             gp_strand_reason_names[i]);
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
    for (size_t i = 0; i < c->n_pools; i++) {
        free(c->pools[i].name_label);
        free(c->pools[i].host);
    }
    for (size_t i = 0; i < c->n_nodes; i++)
        free(c->nodes[i].host);
    for (size_t i = 0; i < c->n_gpus; i++) {
        free(c->gpus[i].pool_name_label);
        free(c->gpus[i].tenant);
        free(c->gpus[i].host);
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

/* The pool's smallest recent VM: this host's usage intervals of the last
 * GP_CAPACITY_RECENT_SECONDS, else the current assignments (pool-wide: every
 * host's, from the view cl), else the default. */
static int smallest_vm(gp_ctx *ctx, gp_capacity_pool *p, int64_t now, const gp_cl *cl)
{
    bool found = false;
    int rc = min_size(ctx, "SELECT min(vcpus), min(memory_mib) FROM usage WHERE pool_uuid = ?1"
                      " AND vcpus > 0 AND memory_mib > 0 AND coalesce(held_until, ?2) >= ?3",
                      p->uuid, now, &p->min_vcpus, &p->min_memory_mib, &found);
    p->min_basis = "recent";
    if (rc == GP_OK && !found && cl) {
        for (size_t i = 0; i < cl->n_asgs; i++) {
            const gp_assignment *a = &cl->asgs[i].a;
            if (strcmp(a->pool_uuid, p->uuid) || a->vcpus <= 0 || !a->memory_mib)
                continue;
            if (!found || a->vcpus < p->min_vcpus)
                p->min_vcpus = a->vcpus;
            if (!found || a->memory_mib < p->min_memory_mib)
                p->min_memory_mib = a->memory_mib;
            found = true;
        }
        p->min_basis = "current";
    } else if (rc == GP_OK && !found) {
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

/* On Xen a VM's pCPUs are those of the pool's cpupool (as vm-gpu-assign);
 * a host that reports no cpupools offers every pCPU.  A cpupool the host
 * lacks offers none (vm-gpu-assign refuses there). */
static int cpupool_limit(const gp_host *h, const char *cpupool, gp_place_request *req)
{
    static const int none = -1;
    const gp_cpupool *cp = NULL;
    const char *want = cpupool ? cpupool : GP_CPUPOOL_DEFAULT;
    if (!h->n_cpupools)
        return GP_OK;
    for (size_t i = 0; i < h->n_cpupools && !cp; i++)
        if (h->cpupools[i].name && !strcmp(h->cpupools[i].name, want))
            cp = &h->cpupools[i];
    req->allowed_cpus = cp ? cp->cpus : &none;
    req->n_allowed_cpus = cp ? cp->n_cpus : 0;
    return GP_OK;
}

/* Room on node nd for pool p (base: the pool's placement request on this
 * host): max vCPUs and memory, and why its free GPU first_free is stranded
 * (0: not). */
static int node_room(gp_ctx *ctx, const gp_host *h, const gp_place_request *base,
                     const gp_capacity_pool *p, const gp_numa_node *nd, const char *first_free,
                     gp_capacity_node *cn)
{
    gp_place_request req = *base;
    uint64_t v = 0, m = 0;
    bool fits = false;
    int rc;

    req.policy = GP_NUMA_REQUIRED;
    req.force_pci_id = first_free;
    rc = largest(ctx, h, &req, true,
                 (uint64_t)(req.cpu_overcommit * (double)(nd->n_cpus ? nd->n_cpus : 1)) + 1, &v);
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

/* One host's inputs, the same whether they come from this host's database
 * and driver or from the XCP-ng pool's view in xapi. */
typedef struct {
    const char *name;             /* host name-label; NULL: this host alone */
    const gp_host *model;
    const char **pool_of;         /* per model GPU: uuid of its pool, NULL none */
    const gp_assignment **asg_of; /* per model GPU: its assignment, NULL free */
    bool *running_of;             /* per model GPU: its VM is not halted */
} cap_host;

typedef struct {
    gp_ctx *ctx;
    gp_capacity *c;
    size_t cap_nodes, cap_gpus, cap_pools;
    int64_t now;
    const gp_pool *pools;         /* every pool */
    size_t n_pools;
    const gp_cl *cl;              /* pool-wide: the view (current sizes); NULL otherwise */
    sqlite3_stmt *since;          /* halted-since of ?1 */
} cap_build;

static void cap_host_dispose(cap_host *h)
{
    free(h->pool_of);
    free(h->asg_of);
    free(h->running_of);
    memset(h, 0, sizeof(*h));
}

static int cap_host_alloc(gp_ctx *ctx, cap_host *h, const char *name, const gp_host *model)
{
    size_t n = model->n_gpus ? model->n_gpus : 1;
    memset(h, 0, sizeof(*h));
    h->name = name;
    h->model = model;
    h->pool_of = calloc(n, sizeof(*h->pool_of));
    h->asg_of = calloc(n, sizeof(*h->asg_of));
    h->running_of = calloc(n, sizeof(*h->running_of));
    if (h->pool_of && h->asg_of && h->running_of)
        return GP_OK;
    cap_host_dispose(h);
    return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
}

static const gp_pool *pool_by_uuid(const cap_build *b, const char *uuid)
{
    for (size_t i = 0; uuid && i < b->n_pools; i++)
        if (!strcmp(b->pools[i].uuid, uuid))
            return &b->pools[i];
    return NULL;
}

/* The host's GPUs into c->gpus: state, pool, holder, halted time.  *g0 the
 * index of its first. */
static int gpus_fill(cap_build *b, const cap_host *hin, size_t *g0)
{
    gp_capacity *c = b->c;
    gp_ctx *ctx = b->ctx;
    int rc;

    *g0 = c->n_gpus;
    for (size_t g = 0; g < hin->model->n_gpus; g++) {
        const gp_gpu *hg = &hin->model->gpus[g];
        const gp_pool *p = pool_by_uuid(b, hin->pool_of[g]);
        const gp_assignment *a = hin->asg_of[g];
        if (gp_array_reserve((void **)&c->gpus, &b->cap_gpus, c->n_gpus, sizeof(*c->gpus)))
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        gp_capacity_gpu *cg = &c->gpus[c->n_gpus++];
        memset(cg, 0, sizeof(*cg));
        snprintf(cg->pci_id, sizeof(cg->pci_id), "%s", hg->pci_id);
        cg->numa_node = hg->numa_node;
        cg->halted_seconds = -1;
        cg->state = GP_CAP_NO_POOL;
        if (hin->name && !(cg->host = gp_strdup(hin->name)))
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        if (!p) {
            c->gpus_no_pool++;
            continue;
        }
        snprintf(cg->pool_uuid, sizeof(cg->pool_uuid), "%s", p->uuid);
        if (!(cg->pool_name_label = gp_strdup(p->name_label)))
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        cg->state = GP_CAP_FREE;
        if (!a)
            continue;
        snprintf(cg->vm_uuid, sizeof(cg->vm_uuid), "%s", a->vm_uuid);
        if (!(cg->tenant = gp_strdup(a->tenant ? a->tenant : GP_TENANT_DEFAULT)))
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        cg->state = hin->running_of[g] ? GP_CAP_RUNNING : GP_CAP_HALTED;
        if (cg->state != GP_CAP_HALTED)
            continue;
        /* Halted since: this host's records of the VM (governance). */
        sqlite3_reset(b->since);
        sqlite3_bind_text(b->since, 1, cg->vm_uuid, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(b->since);
        if (rc != SQLITE_ROW)
            return gp_store_error(&ctx->store, rc, "reading VM runs");
        int64_t since = sqlite3_column_int64(b->since, 0);
        if (since > 0)
            cg->halted_seconds = b->now > since ? b->now - since : 0;
    }
    return GP_OK;
}

/* One pool on one host (its GPUs c->gpus[g0, g1)): counts, nodes and their
 * room, placement probed with base (the pool's request on that host). */
static int pool_fill(cap_build *b, const cap_host *hin, size_t g0, size_t g1,
                     const gp_place_request *base, gp_capacity_pool *p)
{
    gp_ctx *ctx = b->ctx;
    gp_capacity *c = b->c;
    const gp_host *h = hin->model;
    int rc = GP_OK;

    for (size_t i = 0; rc == GP_OK && i < h->n_nodes; i++) {
        const gp_numa_node *nd = &h->nodes[i];
        gp_capacity_node cn;
        const char *first_free = NULL;

        memset(&cn, 0, sizeof(cn));
        snprintf(cn.pool_uuid, sizeof(cn.pool_uuid), "%s", p->uuid);
        cn.node = nd->id;
        cn.memory_known = nd->mem_total_bytes != 0 || nd->mem_free_bytes != 0;
        for (size_t g = g0; g < g1; g++) {
            const gp_capacity_gpu *cg = &c->gpus[g];
            if (strcmp(cg->pool_uuid, p->uuid) || cg->numa_node != nd->id)
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
            rc = node_room(ctx, h, base, p, nd, first_free, &cn);
        if (rc)
            break;
        if (cn.stranded_why) {
            cn.stranded = cn.free;
            cn.free = 0;
            for (size_t g = g0; g < g1; g++) {
                gp_capacity_gpu *cg = &c->gpus[g];
                if (!strcmp(cg->pool_uuid, p->uuid) && cg->numa_node == nd->id &&
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
        if (hin->name && !(cn.host = gp_strdup(hin->name)))
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        else if (gp_array_reserve((void **)&c->nodes, &b->cap_nodes, c->n_nodes, sizeof(cn)))
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        if (rc) {
            free(cn.host);
            break;
        }
        c->nodes[c->n_nodes++] = cn;
    }
    /* Members of unknown locality: free ones are stranded (never NUMA-local). */
    for (size_t g = g0; rc == GP_OK && g < g1; g++) {
        gp_capacity_gpu *cg = &c->gpus[g];
        if (strcmp(cg->pool_uuid, p->uuid) || gp_host_find_node(h, cg->numa_node))
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
    return rc;
}

/* A new entry of c->pools for pool on host name (NULL: this host alone),
 * its smallest recent VM filled. */
static int pool_entry(cap_build *b, const gp_pool *pool, const char *name,
                      gp_capacity_pool **out)
{
    gp_ctx *ctx = b->ctx;
    gp_capacity *c = b->c;
    if (gp_array_reserve((void **)&c->pools, &b->cap_pools, c->n_pools, sizeof(*c->pools)))
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    gp_capacity_pool *p = &c->pools[c->n_pools++];
    memset(p, 0, sizeof(*p));
    snprintf(p->uuid, sizeof(p->uuid), "%s", pool->uuid);
    p->largest_node = -1;
    if (!(p->name_label = gp_strdup(pool->name_label)) || (name && !(p->host = gp_strdup(name))))
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    *out = p;
    return smallest_vm(ctx, p, b->now, b->cl);
}

/* This host alone: the database's pools, members and assignments, the
 * driver's VM states, placement inputs as vm-gpu-assign reads them. */
static int capacity_local(cap_build *b)
{
    gp_ctx *ctx = b->ctx;
    const gp_host *host = NULL;
    gp_pool *pools = NULL;
    gp_assignment *as = NULL;
    gp_vm *vms = NULL;
    size_t n_pools = 0, n_as = 0, n_vms = 0, g0 = 0;
    cap_host hin;
    int rc;

    memset(&hin, 0, sizeof(hin));
    rc = gp_host_get(ctx, &host);
    if (rc == GP_OK)
        rc = gp_pool_list(ctx, &pools, &n_pools);
    if (rc == GP_OK)
        rc = gp_assignments_read(ctx, NULL, &as, &n_as);
    if (rc == GP_OK)
        rc = gp_ctx_vm_list(ctx, &vms, &n_vms);
    if (rc == GP_OK)
        rc = cap_host_alloc(ctx, &hin, NULL, host);
    if (rc)
        goto out;
    b->pools = pools;
    b->n_pools = n_pools;
    for (size_t g = 0; g < host->n_gpus; g++) {
        const char *pci = host->gpus[g].pci_id;
        for (size_t p = 0; p < n_pools && !hin.pool_of[g]; p++)
            for (size_t k = 0; k < pools[p].n_gpus; k++)
                if (!strcmp(pools[p].gpus[k], pci)) {
                    hin.pool_of[g] = pools[p].uuid;
                    break;
                }
        for (size_t a = 0; a < n_as && !hin.asg_of[g]; a++)
            if (!strcmp(as[a].pci_id, pci))
                hin.asg_of[g] = &as[a];
        /* A VM the driver no longer lists holds the GPU without running. */
        for (size_t k = 0; hin.asg_of[g] && k < n_vms; k++)
            if (!strcasecmp(vms[k].uuid, hin.asg_of[g]->vm_uuid))
                hin.running_of[g] = vms[k].state != GP_VM_HALTED;
    }
    rc = gpus_fill(b, &hin, &g0);
    for (size_t i = 0; rc == GP_OK && i < n_pools; i++) {
        gp_capacity_pool *p = NULL;
        gp_place_inputs pi;
        gp_place_request req;
        memset(&pi, 0, sizeof(pi));
        rc = pool_entry(b, &pools[i], NULL, &p);
        if (rc == GP_OK)
            rc = gp_place_inputs_load(ctx, host, pools[i].uuid, vms, n_vms, &pi);
        if (rc == GP_OK) {
            memset(&req, 0, sizeof(req));
            req.pin_mode = pi.pin;
            req.cpu_overcommit = pi.overcommit;
            req.strategy = pi.strategy;
            req.pool_gpus = (const char *const *)pi.gpus;
            req.n_pool_gpus = pi.n_gpus;
            req.existing = pi.existing;
            req.n_existing = pi.n_existing;
            rc = cpupool_limit(host, pi.cpupool, &req);
        }
        if (rc == GP_OK)
            rc = pool_fill(b, &hin, g0, b->c->n_gpus, &req, p);
        gp_place_inputs_dispose(&pi);
    }
out:
    b->pools = NULL;
    b->n_pools = 0;
    cap_host_dispose(&hin);
    gp_pool_list_free(pools, n_pools);
    gp_assignment_list_free(as, n_as);
    gp_vm_list_free(vms, n_vms);
    return rc;
}

/* An XCP-ng pool: every host (or the one named) from the pool-wide view in
 * xapi (docs/pool-wide.md): each host's published facts, the pools, the
 * memberships (PCI objects), the assignments and power states (VM
 * records); a host without published facts is left out. */
static int capacity_cluster(cap_build *b, const char *host, bool self_only)
{
    gp_ctx *ctx = b->ctx;
    gp_cl c;
    size_t only = (size_t)-1;
    gp_place_existing *ex = NULL;
    const char **pg = NULL;
    int rc;

    rc = gp_cl_load(ctx, &c, CL_ALL);
    if (rc) {
        gp_cl_dispose(&c);
        return rc;
    }
    if (self_only)
        only = c.self;
    else if (host && *host)
        rc = gp_cl_host_find(ctx, &c, host, &only);
    b->cl = &c;
    b->pools = c.pools;
    b->n_pools = c.n_pools;
    if (rc == GP_OK && (!(ex = calloc(c.n_asgs + 1, sizeof(*ex))) ||
                        !(pg = calloc(c.n_members + 1, sizeof(*pg)))))
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    for (size_t h = 0; rc == GP_OK && h < c.n_hosts; h++) {
        const gp_cl_host *ch = &c.hosts[h];
        cap_host hin;
        size_t g0 = 0, ne = 0;
        if ((only != (size_t)-1 && h != only) || !ch->model)
            continue;
        rc = cap_host_alloc(ctx, &hin, ch->name, ch->model);
        if (rc)
            break;
        for (size_t g = 0; g < ch->model->n_gpus; g++) {
            const char *pci = ch->model->gpus[g].pci_id;
            const gp_cl_member *m = gp_cl_member_at(&c, h, pci);
            const gp_cl_asg *a = gp_cl_asg_at(&c, h, pci);
            hin.pool_of[g] = m ? m->pool_uuid : NULL;
            hin.asg_of[g] = a ? &a->a : NULL;
            hin.running_of[g] = a && a->state != GP_VM_HALTED;
        }
        /* Every assignment of the host, as cluster.c gives placement. */
        for (size_t i = 0; i < c.n_asgs; i++) {
            const gp_cl_asg *a = &c.asgs[i];
            if (a->host == h)
                ex[ne++] = (gp_place_existing){
                    .pci_id = a->a.pci_id, .node = a->a.numa_node, .pcpus = a->a.pcpus,
                    .n_pcpus = a->a.n_pcpus, .vcpus = a->a.vcpus,
                    .memory_mib = a->a.memory_mib, .memory_node = a->a.memory_node,
                    .memory_in_free = a->state != GP_VM_HALTED };
        }
        rc = gpus_fill(b, &hin, &g0);
        for (size_t i = 0; rc == GP_OK && i < c.n_pools; i++) {
            const gp_pool *pool = &c.pools[i];
            gp_capacity_pool *p = NULL;
            gp_place_request req;
            size_t ng = 0;
            for (size_t k = 0; k < c.n_members; k++)
                if (c.members[k].host == h && !strcmp(c.members[k].pool_uuid, pool->uuid) &&
                    gp_host_find_gpu(ch->model, c.members[k].pci_id))
                    pg[ng++] = c.members[k].pci_id;
            if (!ng)
                continue;          /* no member of the pool on this host */
            memset(&req, 0, sizeof(req));
            req.pin_mode = pool->pin_mode;
            req.cpu_overcommit = pool->cpu_overcommit;
            req.strategy = pool->placement;
            req.pool_gpus = pg;
            req.n_pool_gpus = ng;
            req.existing = ex;
            req.n_existing = ne;
            rc = pool_entry(b, pool, ch->name, &p);
            if (rc == GP_OK)
                rc = cpupool_limit(ch->model, pool->cpupool, &req);
            if (rc == GP_OK)
                rc = pool_fill(b, &hin, g0, b->c->n_gpus, &req, p);
        }
        cap_host_dispose(&hin);
    }
    b->cl = NULL;
    b->pools = NULL;
    b->n_pools = 0;
    free(ex);
    free(pg);
    gp_cl_dispose(&c);
    return rc;
}

static int capacity_get(gp_ctx *ctx, const char *host, bool self_only, gp_capacity **out)
{
    cap_build b;
    int rc;

    memset(&b, 0, sizeof(b));
    b.ctx = ctx;
    *out = NULL;
    gp_err_clear(ctx->err);
    b.now = gp_now();
    if (!gp_cluster_on(ctx) && host && *host) {
        rc = GP_ERR(ctx, GP_ERR_NOT_SUPPORTED,
                    "host= names a host of an XCP-ng pool: only with the xapi driver");
        GP_PARAM(ctx, "host", "%s", host);
        return rc;
    }
    rc = gp_gov_ensure(ctx);
    if (rc == GP_OK)
        rc = gp_store_prepare(&ctx->store, "SELECT" GP_GOV_HALTED_SINCE_SQL("?1"), &b.since);
    if (rc)
        goto out;
    if (!(b.c = calloc(1, sizeof(*b.c)))) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    b.c->now = b.now;
    rc = gp_cluster_on(ctx) ? capacity_cluster(&b, host, self_only) : capacity_local(&b);
    if (rc == GP_OK) {
        *out = b.c;
        b.c = NULL;
    }
out:
    sqlite3_finalize(b.since);
    gp_capacity_free(b.c);
    return rc;
}

int gp_capacity_get(gp_ctx *ctx, const char *host, gp_capacity **out)
{
    return capacity_get(ctx, host, false, out);
}

int gp_capacity_get_self(gp_ctx *ctx, gp_capacity **out)
{
    return capacity_get(ctx, NULL, true, out);
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
        if (p->host)
            gp_recb_str(&b, "host", p->host);
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
        if (n->host)
            gp_recb_str(&b, "host", n->host);
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
        if (cg->host)
            gp_recb_str(&b, "host", cg->host);
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
    for (size_t i = 0; a && i < gp_strand_reason_count; i++)
        if (why & (1u << i))
            json_object_array_add(a, json_object_new_string(gp_strand_reason_names[i]));
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
        if (p->host)
            json_object_object_add(po, "host", json_object_new_string(p->host));
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
            if (strcmp(n->pool_uuid, p->uuid) ||
                strcmp(n->host ? n->host : "", p->host ? p->host : ""))
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
        if (cg->host)
            json_object_object_add(go, "host", json_object_new_string(cg->host));
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
