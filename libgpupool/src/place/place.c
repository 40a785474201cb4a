/*
 * place.c - NUMA-aware placement: choose a GPU, a pCPU set and a memory node
 * for one VM.
 *
 * Pure: the host model and the request in, a decision (or an error) out.
 * No I/O, no globals, no allocation that outlives the call except what the
 * caller's gp_placement owns.  docs/placement.md describes the rules; the
 * summary:
 *
 *  - free GPUs: pool members present in the host and named by no existing
 *    assignment (of any pool);
 *  - per node: pCPUs = node cpus within the VM's cpupool; capacity =
 *    floor(cpu_overcommit * pCPUs); pinned = vCPUs of the assignments on the
 *    node; free memory = mem_free minus the memory of assignments on the node
 *    that mem_free does not yet reflect;
 *  - candidates (GPU, node) by policy, ordered by locality tier (local <
 *    socket < unknown < remote; remote nearer first), then by strategy:
 *    pack = most room kept on the nodes that keep a free GPU (free vCPU
 *    slots x free memory, summed), then least capacity left on the node; spread = fewest pinned vCPUs, most free
 *    memory; then lowest node id, lowest pci-id;
 *  - pCPUs: least loaded first, one thread per core before siblings,
 *    ascending id on ties.
 *
 * Cost per call is O(G + P + E + N^2 + C) for G host GPUs, P pool members,
 * E existing assignments (plus their pCPUs), N nodes and C pCPUs: the
 * best GPU of every (tier, node) is known without enumerating GPU x node
 * pairs, and pci-ids are matched through a per-call hash of the host GPUs.
 */
#include "place/place.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Highest node / pCPU id accepted in a host model (dense per-call maps). */
#define PLACE_MAX_NODE_ID 65535
#define PLACE_MAX_CPU_ID (1 << 20)
/* Slack for floor(cpu_overcommit * pCPUs): 0.29 * 100 is 28.999999... */
#define PLACE_FLOOR_EPS 1e-9
#define PLACE_LOAD_EPS 1e-9

void gp_placement_init(gp_placement *p)
{
    memset(p, 0, sizeof(*p));
    p->node = -1;
    p->memory_node = -1;
    p->locality = GP_LOCALITY_UNKNOWN;
}

void gp_placement_dispose(gp_placement *p)
{
    if (!p)
        return;
    free(p->pcpus);
    free(p->reason);
    gp_placement_init(p);
}

/* ---- pci-id lookup -------------------------------------------------------- */

/* Open-addressing hash of the host GPUs' (canonical) pci-ids. */
typedef struct {
    const gp_host *host;
    int *slots;        /* GPU index + 1; 0 = empty */
    size_t mask;
} gpu_index;

/* pci-ids are short: hash the length and the first and last 8 bytes. */
static uint32_t hash_str(const char *s)
{
    size_t n = strlen(s), k = n < 8 ? n : 8;
    uint64_t head = 0, tail = 0;
    memcpy(&head, s, k);
    memcpy(&tail, s + n - k, k);
    uint64_t h = (head * 0x9e3779b97f4a7c15ULL) ^ (tail * 0xc2b2ae3d27d4eb4fULL) ^ n;
    return (uint32_t)(h ^ (h >> 29) ^ (h >> 47));
}

static int gpu_index_build(gpu_index *ix, const gp_host *host)
{
    size_t cap = 16;
    while (cap < host->n_gpus * 2)
        cap *= 2;
    ix->host = host;
    ix->mask = cap - 1;
    ix->slots = calloc(cap, sizeof(*ix->slots));
    if (!ix->slots)
        return GP_ERR_NOMEM;
    for (size_t i = 0; i < host->n_gpus; i++) {
        size_t s = hash_str(host->gpus[i].pci_id) & ix->mask;
        while (ix->slots[s])
            s = (s + 1) & ix->mask;
        ix->slots[s] = (int)i + 1;
    }
    return GP_OK;
}

static int gpu_index_exact(const gpu_index *ix, const char *pci_id)
{
    size_t s = hash_str(pci_id) & ix->mask;
    while (ix->slots[s]) {
        int g = ix->slots[s] - 1;
        if (strcmp(ix->host->gpus[g].pci_id, pci_id) == 0)
            return g;
        s = (s + 1) & ix->mask;
    }
    return -1;
}

/* Index of the host GPU named by pci_id (any accepted spelling): >= 0, -1
 * when the host has no such GPU, -2 when pci_id is not a pci-id. */
static int gpu_index_find(const gpu_index *ix, const char *pci_id)
{
    gp_pci_addr a;
    char canon[GP_PCI_ID_LEN];
    int g;

    if (!pci_id)
        return -2;
    g = gpu_index_exact(ix, pci_id);
    if (g >= 0)
        return g;
    if (gp_pci_addr_parse(pci_id, &a, NULL) < 0)
        return -2;
    gp_pci_addr_format(&a, canon);
    return strcmp(canon, pci_id) == 0 ? -1 : gpu_index_exact(ix, canon);
}

/* ---- per-call state ------------------------------------------------------- */

typedef struct {
    size_t n_pcpus;     /* node cpus inside the VM's cpupool */
    long capacity;      /* floor(cpu_overcommit * n_pcpus) */
    long pinned;        /* vCPUs of existing assignments on the node */
    bool mem_known;
    uint64_t mem_free;  /* bytes free for this VM (before it) */
    bool cpu_fits, mem_fits;
    int local_gpu;      /* lowest-pci-id free GPU local to the node, -1 none */
    int n_free_gpus;    /* free GPUs local to the node */
    double room;        /* pack: free vCPU slots x free MiB (pack_room) */
    int stamp;          /* last existing assignment counted (pcpus spanning) */
} node_info;

typedef struct {
    gp_locality tier;
    int dist;           /* REMOTE: distance GPU node <-> VM node; INT_MAX unknown */
    int node;           /* index into host->nodes */
    int gpu;            /* index into host->gpus */
    int gpu_node;       /* index of the GPU's node, -1 unknown */
    double ahead;       /* pack: room kept on nodes with a free GPU (pack_keys) */
    double left;        /* pack: capacity left on the node after this VM */
} cand;

typedef struct {
    const gp_host *host;
    const gp_place_request *req;
    node_info *nodes;
    int *node_map;      /* node id -> index, -1 */
    size_t n_node_map;
    int *cpu_node;      /* pCPU id -> node index, -1 */
    int *cpu_entry;     /* pCPU id -> index into host->cpus, -1 */
    unsigned char *allowed; /* pCPU id -> in the VM's cpupool */
    size_t n_cpu_map;
    unsigned char *gpu_free; /* per host GPU */
    int *gpu_node;      /* per host GPU: node index, -1 unknown locality */
    gpu_index ix;
    /* pack: largest node capacity (vCPU slots) and memory (MiB); sum of the
     * rooms of the nodes with a free local GPU */
    double cap_ref, mem_ref;
    double room_total;
} place_state;

static int node_index(const place_state *st, int id)
{
    return id >= 0 && (size_t)id < st->n_node_map ? st->node_map[id] : -1;
}

static int cpu_node_index(const place_state *st, int id)
{
    return id >= 0 && (size_t)id < st->n_cpu_map ? st->cpu_node[id] : -1;
}

static bool gpu_lower(const gp_host *h, int a, int b)
{
    return b < 0 || strcmp(h->gpus[a].pci_id, h->gpus[b].pci_id) < 0;
}

static int node_distance(const gp_host *h, int from, int to)
{
    const gp_numa_node *n = &h->nodes[from];
    if (!n->distances || n->distances[to] <= 0)
        return INT_MAX;
    return n->distances[to];
}

static void place_state_dispose(place_state *st)
{
    free(st->nodes);
    free(st->node_map);
    free(st->cpu_node);
    free(st->cpu_entry);
    free(st->allowed);
    free(st->gpu_free);
    free(st->gpu_node);
    free(st->ix.slots);
}

static int check_request(const gp_host *host, const gp_place_request *req,
                         gp_error_info *err)
{
    if (!host || !req)
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "placement needs a host and a request");
    if ((unsigned)req->policy > GP_NUMA_LEGACY)
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "unknown numa-policy %d", (int)req->policy);
    if ((unsigned)req->pin_mode > GP_PIN_NONE)
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "unknown pin-mode %d", (int)req->pin_mode);
    if ((unsigned)req->strategy > GP_PLACE_SPREAD)
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "unknown placement strategy %d",
                          (int)req->strategy);
    if (!(req->cpu_overcommit > 0) || !isfinite(req->cpu_overcommit)) {
        gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "cpu-overcommit must be > 0");
        gp_err_param(err, "cpu-overcommit", "%g", req->cpu_overcommit);
        return GP_ERR_INVALID_ARGUMENT;
    }
    if (req->vm_vcpus <= 0) {
        gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "the VM's vCPU count must be > 0 (got %d)",
                   req->vm_vcpus);
        gp_err_param(err, "vcpus", "%d", req->vm_vcpus);
        return GP_ERR_INVALID_ARGUMENT;
    }
    if (req->vm_memory_mib == 0) {
        gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "the VM's memory must be > 0 MiB");
        gp_err_param(err, "memory-mib", "0");
        return GP_ERR_INVALID_ARGUMENT;
    }
    if ((req->n_pool_gpus && !req->pool_gpus) || (req->n_existing && !req->existing) ||
        (req->n_allowed_cpus && !req->allowed_cpus))
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "placement request has a count without its array");
    for (size_t i = 0; i < host->n_nodes; i++)
        if (host->nodes[i].id < 0 || host->nodes[i].id > PLACE_MAX_NODE_ID)
            return gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "host node id %d out of range",
                              host->nodes[i].id);
    return GP_OK;
}

/* Dense maps: node id -> index, pCPU id -> node / host->cpus entry, cpupool. */
static int build_maps(place_state *st, gp_error_info *err)
{
    const gp_host *h = st->host;
    const gp_place_request *req = st->req;
    int max_node = -1, max_cpu = -1;

    for (size_t i = 0; i < h->n_nodes; i++) {
        if (h->nodes[i].id > max_node)
            max_node = h->nodes[i].id;
        for (size_t k = 0; k < h->nodes[i].n_cpus; k++)
            if (h->nodes[i].cpus[k] > max_cpu)
                max_cpu = h->nodes[i].cpus[k];
    }
    for (size_t i = 0; i < h->n_cpus; i++)
        if (h->cpus[i].id > max_cpu)
            max_cpu = h->cpus[i].id;
    if (max_cpu >= PLACE_MAX_CPU_ID)
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "host pCPU id %d out of range", max_cpu);

    st->n_node_map = (size_t)max_node + 1;
    st->n_cpu_map = (size_t)max_cpu + 1;
    st->nodes = calloc(h->n_nodes ? h->n_nodes : 1, sizeof(*st->nodes));
    st->node_map = malloc((st->n_node_map ? st->n_node_map : 1) * sizeof(int));
    st->cpu_node = malloc((st->n_cpu_map ? st->n_cpu_map : 1) * sizeof(int));
    st->cpu_entry = malloc((st->n_cpu_map ? st->n_cpu_map : 1) * sizeof(int));
    st->allowed = calloc(st->n_cpu_map ? st->n_cpu_map : 1, 1);
    st->gpu_free = calloc(h->n_gpus ? h->n_gpus : 1, 1);
    st->gpu_node = malloc((h->n_gpus ? h->n_gpus : 1) * sizeof(int));
    if (!st->nodes || !st->node_map || !st->cpu_node || !st->cpu_entry || !st->allowed ||
        !st->gpu_free || !st->gpu_node)
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory in placement");

    memset(st->node_map, 0xff, st->n_node_map * sizeof(int));
    memset(st->cpu_node, 0xff, st->n_cpu_map * sizeof(int));
    memset(st->cpu_entry, 0xff, st->n_cpu_map * sizeof(int));
    for (size_t i = 0; i < h->n_nodes; i++) {
        st->node_map[h->nodes[i].id] = (int)i;
        st->nodes[i].local_gpu = -1;
        st->nodes[i].stamp = -1;
        for (size_t k = 0; k < h->nodes[i].n_cpus; k++)
            if (h->nodes[i].cpus[k] >= 0)
                st->cpu_node[h->nodes[i].cpus[k]] = (int)i;
    }
    for (size_t i = 0; i < h->n_cpus; i++)
        if (h->cpus[i].id >= 0)
            st->cpu_entry[h->cpus[i].id] = (int)i;

    if (req->allowed_cpus) {
        for (size_t k = 0; k < req->n_allowed_cpus; k++) {
            int c = req->allowed_cpus[k];
            if (c >= 0 && (size_t)c < st->n_cpu_map)
                st->allowed[c] = 1;
        }
    } else {
        memset(st->allowed, 1, st->n_cpu_map);
    }
    return GP_OK;
}

/* Pinned vCPUs, capacity and free memory of every node. */
static void account_nodes(place_state *st)
{
    const gp_host *h = st->host;
    const gp_place_request *req = st->req;

    for (size_t i = 0; i < h->n_nodes; i++) {
        node_info *ni = &st->nodes[i];
        const gp_numa_node *nd = &h->nodes[i];
        for (size_t k = 0; k < nd->n_cpus; k++) {
            int c = nd->cpus[k];
            if (c >= 0 && st->allowed[c])
                ni->n_pcpus++;
        }
        /* floor() of a non-negative value: the cast truncates (no libm). */
        ni->capacity = (long)(req->cpu_overcommit * (double)ni->n_pcpus + PLACE_FLOOR_EPS);
        ni->mem_known = nd->mem_total_bytes != 0 || nd->mem_free_bytes != 0;
        ni->mem_free = nd->mem_free_bytes;
    }

    for (size_t e = 0; e < req->n_existing; e++) {
        const gp_place_existing *ex = &req->existing[e];
        long v = ex->vcpus > 0 ? ex->vcpus : 0;
        int ni = node_index(st, ex->node);
        if (ni >= 0) {
            st->nodes[ni].pinned += v;
        } else {
            /* No node recorded: count the VM on every node its pin set touches. */
            for (size_t k = 0; k < ex->n_pcpus; k++) {
                int cn = cpu_node_index(st, ex->pcpus[k]);
                if (cn >= 0 && st->nodes[cn].stamp != (int)e) {
                    st->nodes[cn].stamp = (int)e;
                    st->nodes[cn].pinned += v;
                }
            }
        }
        int mi = node_index(st, ex->memory_node);
        if (mi >= 0 && !ex->memory_in_free) {
            uint64_t b = ex->memory_mib << 20;
            node_info *m = &st->nodes[mi];
            m->mem_free = m->mem_free > b ? m->mem_free - b : 0;
        }
    }

    uint64_t need = req->vm_memory_mib << 20;
    for (size_t i = 0; i < h->n_nodes; i++) {
        node_info *ni = &st->nodes[i];
        ni->cpu_fits = ni->n_pcpus > 0 && ni->pinned + req->vm_vcpus <= ni->capacity;
        /* Unknown memory cannot be judged: not a reason to refuse. */
        ni->mem_fits = !ni->mem_known || ni->mem_free >= need;
    }
}

/* Mark the free GPUs (or only the forced one) and their nodes. */
static int mark_gpus(place_state *st, gp_error_info *err)
{
    const gp_host *h = st->host;
    const gp_place_request *req = st->req;
    unsigned char *in_pool = NULL, *assigned = NULL;
    size_t n_free = 0, n_assigned = 0, n_missing = 0;
    int rc;

    rc = gpu_index_build(&st->ix, h);
    if (rc < 0) {
        gp_err_set(err, rc, "out of memory in placement");
        goto out;
    }
    in_pool = calloc(h->n_gpus ? h->n_gpus : 1, 1);
    assigned = calloc(h->n_gpus ? h->n_gpus : 1, 1);
    if (!in_pool || !assigned) {
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory in placement");
        goto out;
    }
    for (size_t p = 0; p < req->n_pool_gpus; p++) {
        int g = gpu_index_find(&st->ix, req->pool_gpus[p]);
        if (g >= 0)
            in_pool[g] = 1;
        else
            n_missing++;
    }
    for (size_t e = 0; e < req->n_existing; e++) {
        int g = gpu_index_find(&st->ix, req->existing[e].pci_id);
        if (g >= 0)
            assigned[g] = 1;
    }
    for (size_t g = 0; g < h->n_gpus; g++) {
        int nn = node_index(st, h->gpus[g].numa_node);
        st->gpu_node[g] = nn;
        if (in_pool[g] && assigned[g])
            n_assigned++;
    }

    if (req->force_pci_id) {
        const char *f = req->force_pci_id;
        int g = gpu_index_find(&st->ix, f);
        if (g == -2) {
            gp_pci_addr a;
            rc = gp_pci_addr_parse(f, &a, err);
            goto out;
        }
        if (g < 0) {
            rc = gp_err_set(err, GP_ERR_UNKNOWN_GPU, "no GPU %s on this host", f);
            gp_err_param(err, "pci-id", "%s", f);
            goto out;
        }
        if (!in_pool[g]) {
            rc = gp_err_set(err, GP_ERR_GPU_NOT_IN_POOL, "GPU %s is not in the pool",
                            h->gpus[g].pci_id);
            gp_err_param(err, "pci-id", "%s", h->gpus[g].pci_id);
            goto out;
        }
        if (assigned[g]) {
            rc = gp_err_set(err, GP_ERR_GPU_ASSIGNED, "GPU %s is already assigned to a VM",
                            h->gpus[g].pci_id);
            gp_err_param(err, "pci-id", "%s", h->gpus[g].pci_id);
            goto out;
        }
        st->gpu_free[g] = 1;
        n_free = 1;
    } else {
        for (size_t g = 0; g < h->n_gpus; g++)
            if (in_pool[g] && !assigned[g]) {
                st->gpu_free[g] = 1;
                n_free++;
            }
    }
    if (n_free == 0) {
        rc = gp_err_set(err, GP_ERR_POOL_EMPTY,
                        "the pool has no free GPU: %zu of its %zu GPUs assigned, %zu not on this host",
                        n_assigned, req->n_pool_gpus, n_missing);
        gp_err_param(err, "gpus", "%zu", req->n_pool_gpus);
        gp_err_param(err, "assigned", "%zu", n_assigned);
        goto out;
    }
    for (size_t g = 0; g < h->n_gpus; g++) {
        int nn = st->gpu_node[g];
        if (st->gpu_free[g] && nn >= 0)
            st->nodes[nn].n_free_gpus++;
        if (st->gpu_free[g] && nn >= 0 && gpu_lower(h, (int)g, st->nodes[nn].local_gpu))
            st->nodes[nn].local_gpu = (int)g;
    }
    rc = GP_OK;
out:
    free(in_pool);
    free(assigned);
    return rc;
}

/* a before b in the documented order. */
static bool cand_better(const place_state *st, const cand *a, const cand *b)
{
    const node_info *na = &st->nodes[a->node], *nb = &st->nodes[b->node];
    if (a->tier != b->tier)
        return a->tier < b->tier;
    if (a->tier == GP_LOCALITY_REMOTE && a->dist != b->dist)
        return a->dist < b->dist;
    if (st->req->strategy == GP_PLACE_PACK) {
        /* Same inputs, same arithmetic: exact comparisons are deterministic. */
        if (a->ahead != b->ahead)
            return a->ahead > b->ahead;
        if (a->left != b->left)
            return a->left < b->left;
    } else {
        if (na->pinned != nb->pinned)
            return na->pinned < nb->pinned;
        uint64_t fa = na->mem_known ? na->mem_free : 0, fb = nb->mem_known ? nb->mem_free : 0;
        if (fa != fb)
            return fa > fb;
    }
    int ida = st->host->nodes[a->node].id, idb = st->host->nodes[b->node].id;
    if (ida != idb)
        return ida < idb;
    return strcmp(st->host->gpus[a->gpu].pci_id, st->host->gpus[b->gpu].pci_id) < 0;
}

/* ---- pack: look-ahead best fit ------------------------------------------------ */

static long cpus_free(const node_info *ni);

/* Free memory of a node in MiB for pack; a node whose memory cannot be
 * judged counts as the largest node's memory (memory does not bound it). */
static double pack_mem(const place_state *st, const node_info *ni, uint64_t bytes)
{
    return ni->mem_known ? (double)(bytes >> 20) : st->mem_ref;
}

/* Room of a node: free vCPU slots x free MiB.  Integer-valued and below
 * 2^53 for any real host, so sums and comparisons of rooms are exact. */
static double pack_room(const place_state *st, const node_info *ni, long cpu_free,
                        uint64_t mem_free)
{
    return (double)cpu_free * pack_mem(st, ni, mem_free);
}

/* The largest node memory (MiB; 1 when no node knows it) and every node's
 * room before the VM. */
static void pack_prepare(place_state *st)
{
    const gp_host *h = st->host;
    uint64_t mem = 0;
    long cap = 0;

    for (size_t i = 0; i < h->n_nodes; i++) {
        const node_info *ni = &st->nodes[i];
        uint64_t m = h->nodes[i].mem_total_bytes > ni->mem_free ? h->nodes[i].mem_total_bytes
                                                                 : ni->mem_free;
        if (ni->mem_known && (m >> 20) > mem)
            mem = m >> 20;
        if (ni->capacity > cap)
            cap = ni->capacity;
    }
    st->mem_ref = mem ? (double)mem : 1.0;
    st->cap_ref = cap > 0 ? (double)cap : 1.0;
    st->room_total = 0;
    for (size_t i = 0; i < h->n_nodes; i++) {
        node_info *ni = &st->nodes[i];
        ni->room = pack_room(st, ni, cpus_free(ni), ni->mem_free);
        if (ni->n_free_gpus > 0)
            st->room_total += ni->room;
    }
}

/*
 * Pack keys of candidate c, the VM's GPU taken from c->gpu_node and its vCPUs
 * and memory put on c->node:
 *  - ahead: the sum of the rooms of the nodes that still have a free local
 *    GPU of the pool afterwards (a node that loses its last free GPU loses
 *    its room: nothing can use it any more);
 *  - left: what stays free on c->node, free vCPU slots x mem_ref + free MiB
 *    x cap_ref (= free share of the largest node's vCPUs plus of its
 *    memory, scaled by cap_ref x mem_ref).
 * Rooms are integers held in doubles; while every sum stays below 2^53
 * (1,024 slots x 4 TiB is 2^32 per node) the arithmetic is exact whatever
 * the order, so equal nodes give equal keys and the node id decides.  O(1)
 * from room_total.
 */
static void pack_keys(const place_state *st, cand *c)
{
    const node_info *ni = &st->nodes[c->node];
    long cpu_after = cpus_free(ni) - st->req->vm_vcpus;
    uint64_t need = st->req->vm_memory_mib << 20;
    uint64_t mem_after = ni->mem_free > need ? ni->mem_free - need : 0;
    double ahead = st->room_total;

    if (cpu_after < 0)
        cpu_after = 0;
    if (ni->n_free_gpus > 0)
        ahead -= ni->room;
    if (ni->n_free_gpus - (c->gpu_node == c->node ? 1 : 0) > 0)
        ahead += pack_room(st, ni, cpu_after, mem_after);
    if (c->gpu_node >= 0 && c->gpu_node != c->node && st->nodes[c->gpu_node].n_free_gpus == 1)
        ahead -= st->nodes[c->gpu_node].room;   /* its last free GPU goes */
    c->ahead = ahead;
    c->left = (double)cpu_after * st->mem_ref + pack_mem(st, ni, mem_after) * st->cap_ref;
}

/*
 * The best candidate GPU of node n in each tier the policy allows, into
 * c[0..]; returns how many.  The non-tier keys depend only on the node, so
 * within a tier the node's best GPU is the lowest pci-id (remote: nearest,
 * then lowest pci-id).
 */
static size_t node_candidates(const place_state *st, int n, int unknown_gpu, cand c[4])
{
    const gp_host *h = st->host;
    gp_numa_policy pol = st->req->policy;
    size_t k = 0;

    if (st->nodes[n].local_gpu >= 0)
        c[k++] = (cand){ GP_LOCALITY_LOCAL, 0, n, st->nodes[n].local_gpu, n, 0, 0 };
    if (pol == GP_NUMA_SOCKET && h->nodes[n].socket >= 0) {
        int best = -1, bn = -1;
        for (size_t m = 0; m < h->n_nodes; m++)
            if ((int)m != n && h->nodes[m].socket == h->nodes[n].socket &&
                st->nodes[m].local_gpu >= 0 && gpu_lower(h, st->nodes[m].local_gpu, best)) {
                best = st->nodes[m].local_gpu;
                bn = (int)m;
            }
        if (best >= 0)
            c[k++] = (cand){ GP_LOCALITY_SOCKET, 0, n, best, bn, 0, 0 };
    }
    if ((pol == GP_NUMA_PREFERRED || pol == GP_NUMA_LEGACY) && unknown_gpu >= 0)
        c[k++] = (cand){ GP_LOCALITY_UNKNOWN, 0, n, unknown_gpu, -1, 0, 0 };
    if (pol == GP_NUMA_PREFERRED) {
        int best = -1, bn = -1, bd = INT_MAX;
        for (size_t m = 0; m < h->n_nodes; m++) {
            int g = st->nodes[m].local_gpu;
            if ((int)m == n || g < 0)
                continue;
            int d = node_distance(h, n, (int)m);
            if (best < 0 || d < bd || (d == bd && gpu_lower(h, g, best))) {
                best = g;
                bn = (int)m;
                bd = d;
            }
        }
        if (best >= 0)
            c[k++] = (cand){ GP_LOCALITY_REMOTE, bd, n, best, bn, 0, 0 };
    }
    return k;
}

/* Append "s" to a growing message buffer; false on ENOMEM. */
static bool buf_add(char **buf, size_t *len, size_t *cap, const char *fmt, ...) GP_PRINTF(4, 5);
static bool buf_add(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int r = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (r < 0)
            return false;
        if (*buf && *len + (size_t)r < *cap) {
            *len += (size_t)r;
            return true;
        }
        size_t ncap = (*cap ? *cap : 256);
        while (ncap <= *len + (size_t)r)
            ncap *= 2;
        char *nb = realloc(*buf, ncap);
        if (!nb)
            return false;
        *buf = nb;
        *cap = ncap;
    }
}

static long cpus_free(const node_info *ni)
{
    return ni->capacity > ni->pinned ? ni->capacity - ni->pinned : 0;
}

/* GP_ERR_NO_PLACEMENT with, for every node, why it cannot take the VM. */
static int no_placement(const place_state *st, const int *n_cands, gp_error_info *err)
{
    const gp_host *h = st->host;
    const gp_place_request *req = st->req;
    char *msg = NULL;
    size_t len = 0, cap = 0;
    bool ok = buf_add(&msg, &len, &cap, "no NUMA node can take %d vCPUs and %llu MiB with a "
                      "free GPU of the pool (numa-policy %s)", req->vm_vcpus,
                      (unsigned long long)req->vm_memory_mib, gp_numa_policy_name(req->policy));
    if (h->n_nodes == 0)
        ok = ok && buf_add(&msg, &len, &cap, ": the host has no NUMA node");
    for (size_t i = 0; ok && i < h->n_nodes; i++) {
        const node_info *ni = &st->nodes[i];
        ok = buf_add(&msg, &len, &cap, "%s node %d: ", i ? ";" : ":", h->nodes[i].id);
        if (!n_cands[i]) {
            const char *why = req->policy == GP_NUMA_SOCKET ? " on its socket" : "";
            if (req->force_pci_id)
                ok = ok && buf_add(&msg, &len, &cap, "GPU %s not allowed here by the policy",
                                   req->force_pci_id);
            else
                ok = ok && buf_add(&msg, &len, &cap, "no free GPU of the pool%s", why);
            continue;
        }
        bool sep = false;
        if (!ni->cpu_fits) {
            if (ni->n_pcpus == 0)
                ok = ok && buf_add(&msg, &len, &cap, "no pCPU%s",
                                   req->allowed_cpus ? " in the VM's cpupool" : "");
            else
                ok = ok && buf_add(&msg, &len, &cap, "%ld of %ld pCPUs free, need %d",
                                   cpus_free(ni), ni->capacity, req->vm_vcpus);
            sep = true;
        }
        if (!ni->mem_fits)
            ok = ok && buf_add(&msg, &len, &cap, "%s%llu MiB free, need %llu MiB",
                               sep ? ", " : "", (unsigned long long)(ni->mem_free >> 20),
                               (unsigned long long)req->vm_memory_mib);
    }
    if (!ok) {
        free(msg);
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory in placement");
    }
    gp_err_set(err, GP_ERR_NO_PLACEMENT, "%s", msg);
    gp_err_param(err, "numa-policy", "%s", gp_numa_policy_name(req->policy));
    gp_err_param(err, "vcpus", "%d", req->vm_vcpus);
    gp_err_param(err, "memory-mib", "%llu", (unsigned long long)req->vm_memory_mib);
    if (req->force_pci_id)
        gp_err_param(err, "pci-id", "%s", req->force_pci_id);
    free(msg);
    return GP_ERR_NO_PLACEMENT;
}

/*
 * Choose min(vm_vcpus, pCPUs) pCPUs of node n: at each step the pCPU with
 * the least load (vCPUs already pinned there, v/k per pCPU of an assignment
 * of v vCPUs over k pCPUs), then the fewest of this VM's picks on its core,
 * then the least loaded core, then the lowest id.  Result ascending.
 */
static int choose_pcpus(const place_state *st, int n, int **out, size_t *n_out,
                        gp_error_info *err)
{
    const gp_host *h = st->host;
    const gp_place_request *req = st->req;
    const gp_numa_node *nd = &h->nodes[n];
    size_t m = 0, k;
    int *ids = NULL, *slot = NULL, *picks = NULL, *res = NULL;
    long *core = NULL;
    double *load = NULL, *core_load = NULL;
    unsigned char *taken = NULL;
    int rc = GP_ERR_NOMEM;

    *out = NULL;
    *n_out = 0;
    size_t nc = nd->n_cpus ? nd->n_cpus : 1;
    ids = malloc(nc * sizeof(*ids));
    slot = malloc(nc * sizeof(*slot));
    picks = calloc(nc, sizeof(*picks));
    core = malloc(nc * sizeof(*core));
    load = calloc(nc, sizeof(*load));
    core_load = calloc(nc, sizeof(*core_load));
    taken = calloc(nc, 1);
    if (!ids || !slot || !picks || !core || !load || !core_load || !taken)
        goto nomem;

    /* The node's pCPUs inside the cpupool; core key (unknown core: its own). */
    for (size_t i = 0; i < nd->n_cpus; i++) {
        int c = nd->cpus[i];
        if (c < 0 || !st->allowed[c])
            continue;
        int e = st->cpu_entry[c];
        ids[m] = c;
        core[m] = e >= 0 && h->cpus[e].core >= 0 ? h->cpus[e].core : -1L - c;
        m++;
    }
    /* Cores as slots (first pCPU of the same core). */
    for (size_t i = 0; i < m; i++) {
        slot[i] = (int)i;
        for (size_t j = 0; j < i; j++)
            if (core[j] == core[i]) {
                slot[i] = slot[j];
                break;
            }
    }
    /* Loads from the existing pin sets (only pCPUs of this node matter). */
    for (size_t e = 0; e < req->n_existing; e++) {
        const gp_place_existing *ex = &req->existing[e];
        if (!ex->n_pcpus || ex->vcpus <= 0 || !ex->pcpus)
            continue;
        double share = (double)ex->vcpus / (double)ex->n_pcpus;
        for (size_t q = 0; q < ex->n_pcpus; q++) {
            int c = ex->pcpus[q];
            if (cpu_node_index(st, c) != n)
                continue;
            for (size_t i = 0; i < m; i++)
                if (ids[i] == c) {
                    load[i] += share;
                    break;
                }
        }
    }
    for (size_t i = 0; i < m; i++)
        core_load[slot[i]] += load[i];

    k = (size_t)req->vm_vcpus < m ? (size_t)req->vm_vcpus : m;
    res = malloc((k ? k : 1) * sizeof(*res));
    if (!res)
        goto nomem;
    for (size_t step = 0; step < k; step++) {
        int best = -1;
        for (size_t i = 0; i < m; i++) {
            if (taken[i])
                continue;
            if (best < 0) {
                best = (int)i;
                continue;
            }
            size_t b = (size_t)best;
            double dl = load[i] - load[b];
            if (dl < -PLACE_LOAD_EPS) {
                best = (int)i;
                continue;
            }
            if (dl > PLACE_LOAD_EPS)
                continue;
            if (picks[slot[i]] != picks[slot[b]]) {
                if (picks[slot[i]] < picks[slot[b]])
                    best = (int)i;
                continue;
            }
            double dc = core_load[slot[i]] - core_load[slot[b]];
            if (dc < -PLACE_LOAD_EPS) {
                best = (int)i;
                continue;
            }
            if (dc > PLACE_LOAD_EPS)
                continue;
            if (ids[i] < ids[b])
                best = (int)i;
        }
        taken[best] = 1;
        picks[slot[best]]++;
        res[step] = ids[best];
    }
    qsort(res, k, sizeof(*res), gp_cmp_int);
    *out = res;
    *n_out = k;
    res = NULL;
    rc = GP_OK;
    goto out;
nomem:
    gp_err_set(err, GP_ERR_NOMEM, "out of memory in placement");
out:
    free(ids);
    free(slot);
    free(picks);
    free(core);
    free(load);
    free(core_load);
    free(taken);
    free(res);
    return rc;
}

static char *make_reason(const place_state *st, const cand *c)
{
    const gp_host *h = st->host;
    const node_info *ni = &st->nodes[c->node];
    char where[96], mem[48];

    switch (c->tier) {
    case GP_LOCALITY_LOCAL:
        snprintf(where, sizeof(where), "GPU local");
        break;
    case GP_LOCALITY_SOCKET:
        snprintf(where, sizeof(where), "GPU on node %d (same socket)", h->nodes[c->gpu_node].id);
        break;
    case GP_LOCALITY_UNKNOWN:
        snprintf(where, sizeof(where), "GPU locality unknown");
        break;
    default:
        if (c->dist == INT_MAX)
            snprintf(where, sizeof(where), "GPU on node %d (remote, distance unknown)",
                     h->nodes[c->gpu_node].id);
        else
            snprintf(where, sizeof(where), "GPU on node %d (remote, distance %d)",
                     h->nodes[c->gpu_node].id, c->dist);
        break;
    }
    if (ni->mem_known)
        snprintf(mem, sizeof(mem), "%llu GiB free", (unsigned long long)(ni->mem_free >> 30));
    else
        snprintf(mem, sizeof(mem), "memory unknown");
    return gp_asprintf("node %d: %s, %ld of %ld pCPUs free, %s", h->nodes[c->node].id, where,
                       cpus_free(ni), ni->capacity, mem);
}

int gp_place(const gp_host *host, const gp_place_request *req,
             gp_placement *out, gp_error_info *err)
{
    place_state st;
    int *n_cands = NULL;
    cand best = { GP_LOCALITY_UNKNOWN, 0, 0, 0, -1, 0, 0 };
    bool have = false;
    int rc;

    memset(&st, 0, sizeof(st));
    gp_err_clear(err);
    if (!out)
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "placement needs an output");
    rc = check_request(host, req, err);
    if (rc < 0)
        return rc;
    st.host = host;
    st.req = req;

    rc = build_maps(&st, err);
    if (rc < 0)
        goto out;
    rc = mark_gpus(&st, err);
    if (rc < 0)
        goto out;
    account_nodes(&st);
    if (req->strategy == GP_PLACE_PACK)
        pack_prepare(&st);

    int unknown_gpu = -1;
    for (size_t g = 0; g < host->n_gpus; g++)
        if (st.gpu_free[g] && st.gpu_node[g] < 0 && gpu_lower(host, (int)g, unknown_gpu))
            unknown_gpu = (int)g;

    n_cands = calloc(host->n_nodes ? host->n_nodes : 1, sizeof(*n_cands));
    if (!n_cands) {
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory in placement");
        goto out;
    }
    for (size_t n = 0; n < host->n_nodes; n++) {
        cand c[4];
        size_t k = node_candidates(&st, (int)n, unknown_gpu, c);
        n_cands[n] = (int)k;
        if (!st.nodes[n].cpu_fits || !st.nodes[n].mem_fits)
            continue;
        for (size_t i = 0; i < k; i++) {
            if (req->strategy == GP_PLACE_PACK)
                pack_keys(&st, &c[i]);
            if (!have || cand_better(&st, &c[i], &best)) {
                best = c[i];
                have = true;
            }
        }
    }
    if (!have) {
        rc = no_placement(&st, n_cands, err);
        goto out;
    }

    gp_placement tmp;
    gp_placement_init(&tmp);
    snprintf(tmp.pci_id, sizeof(tmp.pci_id), "%s", host->gpus[best.gpu].pci_id);
    tmp.node = host->nodes[best.node].id;
    tmp.memory_node = tmp.node;
    tmp.locality = best.tier;
    if (req->pin_mode != GP_PIN_NONE) {
        rc = choose_pcpus(&st, best.node, &tmp.pcpus, &tmp.n_pcpus, err);
        if (rc < 0)
            goto out;
    }
    tmp.reason = make_reason(&st, &best);
    if (!tmp.reason) {
        gp_placement_dispose(&tmp);
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory in placement");
        goto out;
    }
    gp_placement_dispose(out);
    *out = tmp;
    rc = GP_OK;
out:
    free(n_cands);
    place_state_dispose(&st);
    return rc;
}

/* ---- re-plan: move halted VMs to make room ---------------------------------- */

void gp_replan_init(gp_replan *r)
{
    memset(r, 0, sizeof(*r));
    gp_placement_init(&r->vm);
}

void gp_replan_dispose(gp_replan *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_moves; i++)
        gp_placement_dispose(&r->moves[i].placement);
    free(r->moves);
    gp_placement_dispose(&r->vm);
    gp_replan_init(r);
}

/* A VM the search places: the new one (ex == SIZE_MAX) or a movable one. */
typedef struct {
    int vcpus;
    uint64_t bytes;
    int cur;            /* node index it is on now; -1 for the new VM */
    size_t ex;          /* index into req->existing; SIZE_MAX for the new VM */
    double size;        /* search order: largest first */
} rp_item;

typedef struct {
    rp_item *items;
    size_t n_items;
    int n_nodes;
    int *gpus;          /* per node: free local GPUs of the pool */
    long *cpu;          /* per node: vCPU slots left (may be < 0) */
    uint64_t *mem;      /* per node: bytes left (UINT64_MAX when unknown) */
    bool *usable;       /* per node: has a pCPU in the cpupool */
    int *assign, *best_assign;
    int best_moves;     /* INT_MAX: none found */
    size_t steps, max_steps;
    bool cut;
} rp_search;

static bool rp_fits(const rp_search *s, int n, const rp_item *it)
{
    return s->usable[n] && s->gpus[n] > 0 && s->cpu[n] >= it->vcpus && s->mem[n] >= it->bytes;
}

/* Depth-first over node choices, the current node first; branch and bound on
 * the number of moved VMs. */
static void rp_dfs(rp_search *s, size_t i, int moves)
{
    if (moves >= s->best_moves)
        return;
    if (i == s->n_items) {
        s->best_moves = moves;
        memcpy(s->best_assign, s->assign, s->n_items * sizeof(int));
        return;
    }
    if (s->steps >= s->max_steps) {
        s->cut = true;
        return;
    }
    s->steps++;
    const rp_item *it = &s->items[i];
    for (int pass = 0; pass < 2; pass++)
        for (int n = 0; n < s->n_nodes; n++) {
            bool here = n == it->cur;
            if ((pass == 0) != here || !rp_fits(s, n, it))
                continue;
            s->gpus[n]--;
            s->cpu[n] -= it->vcpus;
            if (s->mem[n] != UINT64_MAX)
                s->mem[n] -= it->bytes;
            s->assign[i] = n;
            rp_dfs(s, i + 1, moves + (here || it->cur < 0 ? 0 : 1));
            s->gpus[n]++;
            s->cpu[n] += it->vcpus;
            if (s->mem[n] != UINT64_MAX)
                s->mem[n] += it->bytes;
            if (s->cut || s->best_moves == 0)
                return;
        }
}

static int cmp_item(const void *a, const void *b)
{
    const rp_item *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    /* the new VM (SIZE_MAX) last among equals, else ascending index */
    return (x->ex > y->ex) - (x->ex < y->ex);
}

static int cmp_move(const void *a, const void *b)
{
    const gp_place_move *x = a, *y = b;
    return (x->existing > y->existing) - (x->existing < y->existing);
}

/* Lowest-pci-id GPU of the pool local to node n and not in taken[]. */
static int rp_free_gpu(const place_state *st, const unsigned char *in_pool,
                       const unsigned char *taken, int n)
{
    int best = -1;
    for (size_t g = 0; g < st->host->n_gpus; g++)
        if (in_pool[g] && !taken[g] && st->gpu_node[g] == n && gpu_lower(st->host, (int)g, best))
            best = (int)g;
    return best;
}

int gp_place_replan(const gp_host *host, const gp_place_request *req,
                    const bool *movable, size_t max_steps,
                    gp_replan *out, gp_error_info *err)
{
    place_state st;
    gp_place_request fixed_req;
    gp_place_existing *fixed = NULL, *cur = NULL;
    unsigned char *eligible = NULL, *in_pool = NULL, *taken = NULL;
    rp_search s;
    gp_place_move *moves = NULL;
    size_t n_moves = 0, n_fixed = 0, n_cur = 0, n_eligible = 0;
    gp_placement vm;
    int rc;

    memset(&st, 0, sizeof(st));
    memset(&s, 0, sizeof(s));
    gp_placement_init(&vm);
    gp_err_clear(err);
    if (!out)
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "re-plan needs an output");
    rc = check_request(host, req, err);
    if (rc < 0)
        return rc;
    for (size_t e = 0; movable && e < req->n_existing; e++)
        if (movable[e] && req->existing[e].memory_in_free) {
            gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                       "assignment %zu (GPU %s) is marked movable but its VM is running", e,
                       req->existing[e].pci_id ? req->existing[e].pci_id : "?");
            gp_err_param(err, "existing", "%zu", e);
            return GP_ERR_INVALID_ARGUMENT;
        }

    /* Which movable assignments can move: halted, GPU of the pool, NUMA-local. */
    st.host = host;
    st.req = req;
    rc = build_maps(&st, err);
    if (rc < 0)
        goto out;
    rc = gpu_index_build(&st.ix, host);
    eligible = calloc(req->n_existing ? req->n_existing : 1, 1);
    in_pool = calloc(host->n_gpus ? host->n_gpus : 1, 1);
    if (rc < 0 || !eligible || !in_pool) {
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory in placement");
        goto out;
    }
    for (size_t p = 0; p < req->n_pool_gpus; p++) {
        int g = gpu_index_find(&st.ix, req->pool_gpus[p]);
        if (g >= 0)
            in_pool[g] = 1;
    }
    for (size_t e = 0; movable && !req->force_pci_id && e < req->n_existing; e++) {
        const gp_place_existing *ex = &req->existing[e];
        int g = movable[e] ? gpu_index_find(&st.ix, ex->pci_id) : -1;
        if (g < 0 || !in_pool[g] || ex->vcpus <= 0 || ex->memory_mib == 0)
            continue;
        int gn = node_index(&st, host->gpus[g].numa_node);
        if (gn >= 0 && node_index(&st, ex->node) == gn && node_index(&st, ex->memory_node) == gn) {
            eligible[e] = 1;
            n_eligible++;
        }
    }
    place_state_dispose(&st);
    memset(&st, 0, sizeof(st));

    /* Without a move first: nothing to search when that works, or when
     * nothing can move, or for another error. */
    rc = gp_place(host, req, &vm, err);
    if (rc != GP_ERR_NO_PLACEMENT || n_eligible == 0)
        goto done;

    /* The host as the fixed assignments leave it. */
    fixed = malloc((req->n_existing + 1) * sizeof(*fixed));
    cur = malloc((req->n_existing + 1) * sizeof(*cur));
    s.items = calloc(n_eligible + 1, sizeof(*s.items));
    if (!fixed || !cur || !s.items) {
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory in placement");
        goto out;
    }
    for (size_t e = 0; e < req->n_existing; e++)
        if (!eligible[e])
            fixed[n_fixed++] = req->existing[e];
    fixed_req = *req;
    fixed_req.existing = fixed;
    fixed_req.n_existing = n_fixed;
    fixed_req.force_pci_id = NULL;
    st.host = host;
    st.req = &fixed_req;
    rc = build_maps(&st, err);
    if (rc < 0)
        goto out;
    rc = mark_gpus(&st, err);
    if (rc < 0)
        goto out;
    account_nodes(&st);
    pack_prepare(&st);   /* cap_ref / mem_ref for the search order */

    s.n_nodes = (int)host->n_nodes;
    size_t nn = host->n_nodes ? host->n_nodes : 1;
    s.gpus = calloc(nn, sizeof(*s.gpus));
    s.cpu = calloc(nn, sizeof(*s.cpu));
    s.mem = calloc(nn, sizeof(*s.mem));
    s.usable = calloc(nn, sizeof(*s.usable));
    s.assign = calloc(n_eligible + 1, sizeof(int));
    s.best_assign = calloc(n_eligible + 1, sizeof(int));
    if (!s.gpus || !s.cpu || !s.mem || !s.usable || !s.assign || !s.best_assign) {
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory in placement");
        goto out;
    }
    for (int n = 0; n < s.n_nodes; n++) {
        const node_info *ni = &st.nodes[n];
        s.gpus[n] = ni->n_free_gpus;
        s.cpu[n] = ni->capacity - ni->pinned;
        s.mem[n] = ni->mem_known ? ni->mem_free : UINT64_MAX;
        s.usable[n] = ni->n_pcpus > 0;
    }
    for (size_t e = 0; e < req->n_existing; e++) {
        if (!eligible[e])
            continue;
        const gp_place_existing *ex = &req->existing[e];
        rp_item *it = &s.items[s.n_items++];
        it->vcpus = ex->vcpus;
        it->bytes = ex->memory_mib << 20;
        it->cur = node_index(&st, ex->node);
        it->ex = e;
        it->size = (double)it->vcpus / st.cap_ref + (double)(it->bytes >> 20) / st.mem_ref;
    }
    rp_item *nv = &s.items[s.n_items++];
    nv->vcpus = req->vm_vcpus;
    nv->bytes = req->vm_memory_mib << 20;
    nv->cur = -1;
    nv->ex = SIZE_MAX;
    nv->size = (double)nv->vcpus / st.cap_ref + (double)(nv->bytes >> 20) / st.mem_ref;
    qsort(s.items, s.n_items, sizeof(*s.items), cmp_item);
    s.max_steps = max_steps ? max_steps : GP_REPLAN_DEFAULT_STEPS;
    s.best_moves = INT_MAX;
    rp_dfs(&s, 0, 0);

    if (s.best_moves == INT_MAX) {
        if (s.cut)
            gp_err_set(err, GP_ERR_NO_PLACEMENT,
                       "no room for %d vCPUs and %llu MiB found by moving %zu halted VMs "
                       "within %zu search steps", req->vm_vcpus,
                       (unsigned long long)req->vm_memory_mib, n_eligible, s.steps);
        else
            gp_err_set(err, GP_ERR_NO_PLACEMENT,
                       "no room for %d vCPUs and %llu MiB even by moving the %zu halted VMs: "
                       "no NUMA-local assignment of them all fits", req->vm_vcpus,
                       (unsigned long long)req->vm_memory_mib, n_eligible);
        gp_err_param(err, "vcpus", "%d", req->vm_vcpus);
        gp_err_param(err, "memory-mib", "%llu", (unsigned long long)req->vm_memory_mib);
        gp_err_param(err, "movable", "%zu", n_eligible);
        gp_err_param(err, "steps", "%zu", s.steps);
        rc = GP_ERR_NO_PLACEMENT;
        goto out;
    }

    /* The assignments that stay, the GPUs they hold. */
    taken = calloc(host->n_gpus ? host->n_gpus : 1, 1);
    moves = calloc((size_t)s.best_moves + 1, sizeof(*moves));
    if (!taken || !moves) {
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory in placement");
        goto out;
    }
    int new_node = -1;
    memcpy(cur, fixed, n_fixed * sizeof(*cur));
    n_cur = n_fixed;
    for (size_t i = 0; i < s.n_items; i++) {
        const rp_item *it = &s.items[i];
        if (it->ex == SIZE_MAX)
            new_node = s.best_assign[i];
        else if (s.best_assign[i] == it->cur)
            cur[n_cur++] = req->existing[it->ex];
        else {
            moves[n_moves].existing = it->ex;
            gp_placement_init(&moves[n_moves].placement);
            moves[n_moves].placement.node = s.best_assign[i];   /* node index for now */
            n_moves++;
        }
    }
    for (size_t k = 0; k < n_cur; k++) {
        int g = gpu_index_find(&st.ix, cur[k].pci_id);
        if (g >= 0)
            taken[g] = 1;
    }
    qsort(moves, n_moves, sizeof(*moves), cmp_move);

    /* Moved VMs, ascending index, then the new VM: GPU, then gp_place() for
     * the pCPUs against what stays and what has moved already. */
    for (size_t m = 0; m <= n_moves; m++) {
        bool is_new = m == n_moves;
        const gp_place_existing *ex = is_new ? NULL : &req->existing[moves[m].existing];
        int node = is_new ? new_node : moves[m].placement.node;
        int g = rp_free_gpu(&st, in_pool, taken, node);
        gp_place_request r1 = fixed_req;
        gp_placement pl;
        if (g < 0) {
            rc = gp_err_set(err, GP_ERR_NO_PLACEMENT, "re-plan: no free GPU left on node %d",
                            host->nodes[node].id);
            goto out;
        }
        taken[g] = 1;
        r1.policy = GP_NUMA_REQUIRED;
        r1.existing = cur;
        r1.n_existing = n_cur;
        r1.force_pci_id = host->gpus[g].pci_id;
        if (!is_new) {
            r1.vm_vcpus = ex->vcpus;
            r1.vm_memory_mib = ex->memory_mib;
            r1.pin_mode = ex->n_pcpus ? req->pin_mode : GP_PIN_NONE;
        }
        gp_placement_init(&pl);
        rc = gp_place(host, &r1, &pl, err);
        if (rc < 0)
            goto out;
        if (is_new) {
            gp_placement_dispose(&vm);
            vm = pl;
        } else {
            moves[m].placement = pl;
            cur[n_cur++] = (gp_place_existing){ moves[m].placement.pci_id,
                                                moves[m].placement.node,
                                                moves[m].placement.pcpus,
                                                moves[m].placement.n_pcpus, ex->vcpus,
                                                ex->memory_mib, moves[m].placement.memory_node,
                                                false };
        }
    }
    rc = GP_OK;
done:
    if (rc == GP_OK) {
        gp_replan_dispose(out);
        out->vm = vm;
        gp_placement_init(&vm);
        out->moves = n_moves ? moves : NULL;
        out->n_moves = n_moves;
        if (n_moves)
            moves = NULL;
        n_moves = 0;
    }
out:
    for (size_t m = 0; moves && m < n_moves; m++)
        gp_placement_dispose(&moves[m].placement);
    free(moves);
    gp_placement_dispose(&vm);
    free(fixed);
    free(cur);
    free(eligible);
    free(in_pool);
    free(taken);
    free(s.items);
    free(s.gpus);
    free(s.cpu);
    free(s.mem);
    free(s.usable);
    free(s.assign);
    free(s.best_assign);
    place_state_dispose(&st);
    return rc;
}
