/*
 * bench_quality.c - how many VMs placement admits, against the offline
 * optimum (issue 8, "Placement that does not strand capacity").
 *
 * Hosts: the embedded dual-socket 8-GPU host (libgpupool/data/
 * dual-socket-8gpu.xml) and, when ../shared/fixtures is present, its hwloc
 * hosts (skipped with a line saying so when absent).  The pool is every GPU
 * of PCI class 0302 whose node is known; numa-policy required, pin-mode
 * hard, cpu-overcommit 1, no cpupool.
 *
 * Streams: STREAMS random streams (fixed seed) of as many VMs as the pool has
 * GPUs, arriving one by one, no departures.  On the embedded host a VM has
 * 4-40 vCPUs and 32-256 GiB; two size laws are measured: "uniform" (every
 * integer vCPU count and GiB equally likely) and "steps" (vCPUs a multiple
 * of 4, memory 32/64/128/256 GiB, the sizes of the example).  On a
 * fixture host the ranges are scaled to its nodes (vCPUs 4/48 .. 40/48 of
 * the smallest node's pCPUs, memory 1/16 .. 1/2 of its memory).
 *
 * A stream stops at its first refusal; "admitted" is the length of the
 * admitted prefix.  The offline optimum of a stream is the longest prefix
 * that can be packed NUMA-local (GPU, vCPUs and memory of every VM on one
 * node; per node: GPUs, pCPUs, memory), found by an exact depth-first search
 * over node choices.  Measured:
 *  - spread, pack: gp_place() with that strategy, earlier VMs running (never
 *    moved);
 *  - pack + re-plan: earlier VMs halted: a refused VM calls
 *    gp_place_replan() with every earlier VM movable and applies its moves;
 *  - first-fit: what xapi does, NUMA-blind: the lowest free pci-id of the
 *    pool, admitted while the host's total free memory holds the VM; the
 *    domain lands (as libxl's automatic NUMA placement would put it) on the
 *    node with enough free memory and the fewest vCPUs, else striped over
 *    nodes.  It is reported with the share of its VMs that end NUMA-local and
 *    how many sit on a node whose vCPUs then exceed its pCPUs.
 * NUMA-local: the VM's vCPUs and memory on its GPU's node.  Stranded GPUs:
 * free GPUs, when the stream stops, on a node that can host no VM of the
 * stream (too few pCPUs or too little memory for each).
 *
 * The embedded host is also measured on LARGE_STREAMS streams: 40 streams of
 * 8 VMs are few, and one stream more or less moves a ratio by 0.007.
 *
 * A benchmark, not a test: it prints figures and exits 0 unless placement
 * fails in an unexpected way.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "gpupool.h"
#include "discover/discover.h"
#include "testutil.h"

#define STREAMS 40
#define LARGE_STREAMS 2000
#define SEED 20240808u
#define MAX_VMS 64
#define MAX_NODES 64
#define GIB_MIB 1024ULL

typedef struct {
    int vcpus;
    uint64_t mib;
} vm_size;

/* Per-node resources as the optimum, the baseline and "stranded" see them. */
typedef struct {
    int n;                       /* nodes */
    int id[MAX_NODES];
    int gpus[MAX_NODES];         /* pool GPUs local to the node */
    long cpus[MAX_NODES];        /* vCPU slots (overcommit 1: pCPUs) */
    uint64_t mib[MAX_NODES];     /* free memory */
} node_res;

typedef struct {
    const char *name;
    gp_host host;
    char (*pool_ids)[GP_PCI_ID_LEN];
    const char **pool;
    int *pool_node;              /* node index of pool GPU i */
    size_t n_pool;
    node_res res;
    int vmin, vmax;              /* vCPU range */
    uint64_t mmin, mmax;         /* memory range, MiB */
} bench_host;

/* ---- random streams ------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rng_next(void)
{
    /* xorshift64*: same sequence on every platform */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static int rng_range(int lo, int hi)
{
    return lo + (int)(rng_next() % (uint32_t)(hi - lo + 1));
}

/* law 0: uniform integers; law 1: "steps" (vCPUs multiple of vmin, memory
 * mmin * 2^k).  n VMs into v. */
static void make_stream(const bench_host *b, int law, vm_size *v, int n)
{
    for (int i = 0; i < n; i++) {
        if (law == 0) {
            v[i].vcpus = rng_range(b->vmin, b->vmax);
            v[i].mib = (uint64_t)rng_range((int)(b->mmin / GIB_MIB), (int)(b->mmax / GIB_MIB)) *
                       GIB_MIB;
        } else {
            v[i].vcpus = b->vmin * rng_range(1, b->vmax / b->vmin);
            int k = 0;
            while ((b->mmin << (k + 1)) <= b->mmax)
                k++;
            v[i].mib = b->mmin << rng_range(0, k);
        }
    }
}

/* ---- offline optimum ------------------------------------------------------ */

typedef struct {
    const vm_size *v;
    int len, best;
    long steps;
} opt_search;

static void opt_dfs(opt_search *s, node_res *r, int i)
{
    if (i > s->best)
        s->best = i;
    if (i == s->len || s->best == s->len)
        return;
    s->steps++;
    for (int n = 0; n < r->n; n++) {
        if (r->gpus[n] <= 0 || r->cpus[n] < s->v[i].vcpus || r->mib[n] < s->v[i].mib)
            continue;
        /* nodes left in the same state are interchangeable: try the first */
        bool dup = false;
        for (int k = 0; k < n && !dup; k++)
            dup = r->gpus[k] == r->gpus[n] && r->cpus[k] == r->cpus[n] && r->mib[k] == r->mib[n];
        if (dup)
            continue;
        r->gpus[n]--;
        r->cpus[n] -= s->v[i].vcpus;
        r->mib[n] -= s->v[i].mib;
        opt_dfs(s, r, i + 1);
        r->gpus[n]++;
        r->cpus[n] += s->v[i].vcpus;
        r->mib[n] += s->v[i].mib;
        if (s->best == s->len)
            return;
    }
}

/* Longest prefix of v[0..len) packable NUMA-local on r. */
static int offline_optimum(const node_res *r0, const vm_size *v, int len, long *steps)
{
    node_res r = *r0;
    opt_search s = { v, len, 0, 0 };
    opt_dfs(&s, &r, 0);
    *steps += s.steps;
    return s.best;
}

/* Free GPUs of r on nodes that can host no VM of the stream. */
static int stranded(const node_res *r, const vm_size *v, int len)
{
    int n_str = 0;
    for (int n = 0; n < r->n; n++) {
        if (r->gpus[n] <= 0)
            continue;
        bool any = false;
        for (int i = 0; i < len && !any; i++)
            any = r->cpus[n] >= v[i].vcpus && r->mib[n] >= v[i].mib;
        if (!any)
            n_str += r->gpus[n];
    }
    return n_str;
}

/* ---- runs ----------------------------------------------------------------- */

typedef struct {
    long admitted, local, stranded, short_streams, overcommitted, replans, moves;
    double ms;
} tally;

enum { RUN_SPREAD, RUN_PACK, RUN_REPLAN, RUN_FIRSTFIT, N_RUNS };
static const char *const run_names[N_RUNS] = {
    "spread (running)", "pack (running)", "pack + re-plan (halted)", "first-fit NUMA-blind",
};

static int node_idx(const node_res *r, int id)
{
    for (int n = 0; n < r->n; n++)
        if (r->id[n] == id)
            return n;
    return -1;
}

static int pool_idx(const bench_host *b, const char *pci_id)
{
    for (size_t i = 0; i < b->n_pool; i++)
        if (!strcmp(b->pool_ids[i], pci_id))
            return (int)i;
    return -1;
}

/* One stream through gp_place (strategy; replan on refusal if asked).
 * Returns admitted count, or -1 on an unexpected error. */
static int run_place(const bench_host *b, gp_placement_strategy strat, bool replan,
                     const vm_size *v, int len, tally *t)
{
    gp_placement pl[MAX_VMS];
    gp_place_existing ex[MAX_VMS];
    gp_error_info err;
    gp_place_request req;
    bool movable[MAX_VMS];
    int n = 0, rc = 0;

    gp_error_info_init(&err);
    memset(&req, 0, sizeof(req));
    req.policy = GP_NUMA_REQUIRED;
    req.pin_mode = GP_PIN_HARD;
    req.cpu_overcommit = 1.0;
    req.pool_gpus = b->pool;
    req.n_pool_gpus = b->n_pool;
    req.existing = ex;
    req.strategy = strat;
    for (int i = 0; i < MAX_VMS; i++)
        movable[i] = true;

    double t0 = bu_now_ms();
    for (; n < len; n++) {
        for (int k = 0; k < n; k++)
            ex[k] = (gp_place_existing){ pl[k].pci_id, pl[k].node, pl[k].pcpus, pl[k].n_pcpus,
                                         v[k].vcpus, v[k].mib, pl[k].memory_node, false };
        req.n_existing = (size_t)n;
        req.vm_vcpus = v[n].vcpus;
        req.vm_memory_mib = v[n].mib;
        gp_placement_init(&pl[n]);
        int r = gp_place(&b->host, &req, &pl[n], &err);
        if (r == GP_ERR_NO_PLACEMENT && replan) {
            gp_replan rp;
            gp_replan_init(&rp);
            r = gp_place_replan(&b->host, &req, movable, 0, &rp, &err);
            if (r == GP_OK) {
                t->replans++;
                t->moves += (long)rp.n_moves;
                for (size_t m = 0; m < rp.n_moves; m++) {
                    size_t k = rp.moves[m].existing;
                    gp_placement_dispose(&pl[k]);
                    pl[k] = rp.moves[m].placement;
                    gp_placement_init(&rp.moves[m].placement);
                }
                pl[n] = rp.vm;
                gp_placement_init(&rp.vm);
            }
            gp_replan_dispose(&rp);
        }
        if (r == GP_ERR_NO_PLACEMENT || r == GP_ERR_POOL_EMPTY)
            break;
        if (r != GP_OK) {
            fprintf(stderr, "bench_quality: %s: %s\n", gp_error_name(r),
                    err.message ? err.message : "");
            rc = -1;
            break;
        }
    }
    t->ms += bu_now_ms() - t0;

    /* Check every admitted VM, then what is left for "stranded". */
    node_res r = b->res;
    for (int k = 0; rc == 0 && k < n; k++) {
        int g = pool_idx(b, pl[k].pci_id), ni = node_idx(&r, pl[k].node);
        if (g < 0 || ni < 0) {
            fprintf(stderr, "bench_quality: placement outside the pool or host\n");
            rc = -1;
            break;
        }
        if (b->pool_node[g] == ni && pl[k].memory_node == pl[k].node &&
            pl[k].locality == GP_LOCALITY_LOCAL)
            t->local++;
        r.gpus[b->pool_node[g]]--;
        r.cpus[ni] -= v[k].vcpus;
        r.mib[ni] -= v[k].mib;
    }
    if (rc == 0) {
        t->admitted += n;
        t->stranded += stranded(&r, v, len);
    }
    for (int k = 0; k < n; k++)
        gp_placement_dispose(&pl[k]);
    if (n < len && rc == 0) {
        /* gp_place left pl[n] initialised or disposed: nothing to free */
    }
    gp_error_info_dispose(&err);
    return rc < 0 ? -1 : n;
}

/* xapi: first free GPU by pci-id; admitted while host free memory holds the
 * VM; the domain's node as libxl's automatic placement picks it. */
static int run_firstfit(const bench_host *b, const vm_size *v, int len, tally *t)
{
    node_res r = b->res;
    long vcpus_on[MAX_NODES] = { 0 };
    long slots[MAX_NODES];
    bool used[MAX_VMS] = { false };
    int n;

    for (int k = 0; k < r.n; k++)
        slots[k] = r.cpus[k];
    for (n = 0; n < len; n++) {
        int g = -1;
        for (size_t i = 0; i < b->n_pool && g < 0; i++)
            if (!used[i])
                g = (int)i;   /* pool is in ascending pci-id order */
        uint64_t total = 0;
        for (int k = 0; k < r.n; k++)
            total += r.mib[k];
        if (g < 0 || total < v[n].mib)
            break;
        used[g] = true;
        r.gpus[b->pool_node[g]]--;
        int best = -1;
        for (int k = 0; k < r.n; k++) {
            if (r.mib[k] < v[n].mib)
                continue;
            if (best < 0 || vcpus_on[k] < vcpus_on[best] ||
                (vcpus_on[k] == vcpus_on[best] && r.mib[k] > r.mib[best]))
                best = k;
        }
        if (best >= 0) {
            r.mib[best] -= v[n].mib;
            vcpus_on[best] += v[n].vcpus;
            r.cpus[best] -= v[n].vcpus;
            if (best == b->pool_node[g])
                t->local++;
            if (vcpus_on[best] > slots[best])
                t->overcommitted++;
        } else {
            /* striped: memory from the nodes with most free first */
            uint64_t need = v[n].mib;
            while (need) {
                int m = 0;
                for (int k = 1; k < r.n; k++)
                    if (r.mib[k] > r.mib[m])
                        m = k;
                uint64_t take = r.mib[m] < need ? r.mib[m] : need;
                r.mib[m] -= take;
                need -= take;
            }
        }
    }
    t->admitted += n;
    t->stranded += stranded(&r, v, len);
    return n;
}

/* ---- hosts ---------------------------------------------------------------- */

static void bench_host_free(bench_host *b)
{
    gp_host_dispose(&b->host);
    free(b->pool_ids);
    free(b->pool);
    free(b->pool_node);
}

/* Load from an hwloc file (path) or the embedded host (path NULL); pool and
 * per-node resources; VM size ranges scaled to the smallest node. */
static int bench_host_load(bench_host *b, const char *name, const char *path)
{
    gp_config cfg;
    gp_error_info err;
    int rc;

    memset(b, 0, sizeof(*b));
    b->name = name;
    gp_config_init(&cfg);
    gp_error_info_init(&err);
    gp_host_init(&b->host);
    if (path)
        rc = gp_hwloc_load(path, NULL, 0, &cfg, true, &b->host, &err);
    else
        rc = gp_hwloc_load(NULL, gp_embedded_host_xml, gp_embedded_host_xml_len, &cfg, true,
                           &b->host, &err);
    gp_config_dispose(&cfg);
    if (rc != GP_OK) {
        fprintf(stderr, "bench_quality: %s: %s\n", name, err.message ? err.message : "?");
        gp_error_info_dispose(&err);
        return -1;
    }
    gp_error_info_dispose(&err);
    gp_host_finish(&b->host);

    const gp_host *h = &b->host;
    if (h->n_nodes > MAX_NODES)
        return -1;
    b->res.n = (int)h->n_nodes;
    for (size_t i = 0; i < h->n_nodes; i++) {
        b->res.id[i] = h->nodes[i].id;
        b->res.cpus[i] = (long)h->nodes[i].n_cpus;
        b->res.mib[i] = h->nodes[i].mem_free_bytes >> 20;
    }
    b->pool_ids = calloc(h->n_gpus ? h->n_gpus : 1, GP_PCI_ID_LEN);
    b->pool = calloc(h->n_gpus ? h->n_gpus : 1, sizeof(*b->pool));
    b->pool_node = calloc(h->n_gpus ? h->n_gpus : 1, sizeof(*b->pool_node));
    if (!b->pool_ids || !b->pool || !b->pool_node)
        return -1;
    for (size_t g = 0; g < h->n_gpus && b->n_pool < MAX_VMS; g++) {
        int ni = node_idx(&b->res, h->gpus[g].numa_node);
        if (h->gpus[g].class_code != 0x0302 || ni < 0)
            continue;
        snprintf(b->pool_ids[b->n_pool], GP_PCI_ID_LEN, "%s", h->gpus[g].pci_id);
        b->pool[b->n_pool] = b->pool_ids[b->n_pool];
        b->pool_node[b->n_pool] = ni;
        b->res.gpus[ni]++;
        b->n_pool++;
    }
    /* smallest node holding a pool GPU */
    long pc = 0;
    uint64_t mem = 0;
    for (int n = 0; n < b->res.n; n++)
        if (b->res.gpus[n] > 0) {
            if (!pc || b->res.cpus[n] < pc)
                pc = b->res.cpus[n];
            if (!mem || b->res.mib[n] < mem)
                mem = b->res.mib[n];
        }
    b->vmin = (int)(pc * 4 / 48) > 0 ? (int)(pc * 4 / 48) : 1;
    b->vmax = (int)(pc * 40 / 48) > b->vmin ? (int)(pc * 40 / 48) : b->vmin;
    /* whole GiB, at least 1 */
    uint64_t g16 = mem / 16 / GIB_MIB, g2 = mem / 2 / GIB_MIB;
    b->mmin = (g16 ? g16 : 1) * GIB_MIB;
    b->mmax = (g2 > g16 ? g2 : (g16 ? g16 : 1)) * GIB_MIB;
    return 0;
}

static void print_host(const bench_host *b)
{
    printf("bench_quality: %s: %d NUMA nodes, pool of %zu GPUs (", b->name, b->res.n, b->n_pool);
    for (int n = 0; n < b->res.n; n++)
        printf("%snode %d: %d GPUs, %ld pCPUs, %llu GiB", n ? "; " : "", b->res.id[n],
               b->res.gpus[n], b->res.cpus[n], (unsigned long long)(b->res.mib[n] / GIB_MIB));
    printf(")\n");
}

static int measure(const bench_host *b, int law, int streams)
{
    vm_size v[MAX_VMS];
    tally t[N_RUNS];
    long opt = 0, opt_steps = 0, n_vms = 0;
    int len = (int)b->n_pool;

    memset(t, 0, sizeof(t));
    rng_state = SEED;
    for (int s = 0; s < streams; s++) {
        make_stream(b, law, v, len);
        int o = offline_optimum(&b->res, v, len, &opt_steps);
        opt += o;
        n_vms += len;
        int got[N_RUNS];
        got[RUN_SPREAD] = run_place(b, GP_PLACE_SPREAD, false, v, len, &t[RUN_SPREAD]);
        got[RUN_PACK] = run_place(b, GP_PLACE_PACK, false, v, len, &t[RUN_PACK]);
        got[RUN_REPLAN] = run_place(b, GP_PLACE_PACK, true, v, len, &t[RUN_REPLAN]);
        got[RUN_FIRSTFIT] = run_firstfit(b, v, len, &t[RUN_FIRSTFIT]);
        for (int k = 0; k < N_RUNS; k++) {
            if (got[k] < 0)
                return -1;
            if (k != RUN_FIRSTFIT && got[k] > o) {
                fprintf(stderr, "bench_quality: %s admitted %d > optimum %d\n", run_names[k],
                        got[k], o);
                return -1;
            }
            if (got[k] < o)
                t[k].short_streams++;
        }
    }
    printf("  %d streams x %d VMs (%ld), vCPUs %d-%d, memory %llu-%llu GiB, %s, seed %u\n",
           streams, len, n_vms, b->vmin, b->vmax, (unsigned long long)(b->mmin / GIB_MIB),
           (unsigned long long)(b->mmax / GIB_MIB),
           law == 0 ? "uniform integers" : "steps (vCPUs x4, memory x2)", SEED);
    printf("  offline optimum (longest NUMA-local prefix, exact search, %ld steps): %ld VMs\n",
           opt_steps, opt);
    printf("    %-24s %8s %9s %11s %9s %7s %9s\n", "", "admitted", "/optimum", "NUMA-local",
           "stranded", "short", "ms");
    for (int k = 0; k < N_RUNS; k++) {
        printf("    %-24s %8ld %9.3f %10.1f%% %9ld %7ld", run_names[k], t[k].admitted,
               opt ? (double)t[k].admitted / (double)opt : 0.0,
               t[k].admitted ? 100.0 * (double)t[k].local / (double)t[k].admitted : 0.0,
               t[k].stranded, t[k].short_streams);
        if (k == RUN_FIRSTFIT)
            printf("  (%ld on an overcommitted node)\n", t[k].overcommitted);
        else if (k == RUN_REPLAN)
            printf(" %9.1f  (%ld re-plans, %ld VMs moved)\n", t[k].ms, t[k].replans, t[k].moves);
        else
            printf(" %9.1f\n", t[k].ms);
    }
    return 0;
}

int main(void)
{
    static const struct {
        const char *name, *rel;
    } fixtures[] = {
        { "hwloc/24em64t-2n6c2t-pci.xml", "hwloc/24em64t-2n6c2t-pci.xml" },
        { "hwloc/32em64t-2n8c2t-pci-normalio.xml", "hwloc/32em64t-2n8c2t-pci-normalio.xml" },
    };
    bench_host b;
    int rc = 0;

    if (bench_host_load(&b, "embedded dual-socket-8gpu", NULL) < 0)
        return 1;
    print_host(&b);
    printf("  numa-policy required, pin-mode hard, cpu-overcommit 1; a stream stops at its "
           "first refusal\n");
    if (measure(&b, 0, STREAMS) < 0 || measure(&b, 1, STREAMS) < 0)
        rc = 1;
    /* 40 streams are few: the same laws on LARGE_STREAMS streams */
    printf("  the same on %d streams (same seed; the first 40 are the streams above):\n",
           LARGE_STREAMS);
    if (rc == 0 && (measure(&b, 0, LARGE_STREAMS) < 0 || measure(&b, 1, LARGE_STREAMS) < 0))
        rc = 1;
    bench_host_free(&b);

    for (size_t f = 0; rc == 0 && f < GP_ARRAY_SIZE(fixtures); f++) {
        char path[4096];
        const char *p = tu_fixture(fixtures[f].rel);
        if (!p) {
            printf("bench_quality: fixture %s absent (../shared/fixtures): skipped\n",
                   fixtures[f].rel);
            continue;
        }
        snprintf(path, sizeof(path), "%s", p);
        if (bench_host_load(&b, fixtures[f].name, path) < 0) {
            rc = 1;
            break;
        }
        print_host(&b);
        if (b.n_pool == 0)
            printf("  no GPU of class 0302 with a known node: skipped\n");
        else if (measure(&b, 0, STREAMS) < 0)
            rc = 1;
        bench_host_free(&b);
    }
    bu_print_machine();
    return rc;
}
