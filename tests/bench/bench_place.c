/*
 * bench_place.c - gp_place() speed: 1,000 successive placements on a
 * synthetic host of 32 NUMA nodes (8 sockets), 16 cores x 2 threads per node
 * and 256 GPUs, each result added to the list of existing assignments that
 * the next placement sees.  When every GPU is held, 64 assignments picked by
 * a fixed pseudo-random sequence are released first (the pool would
 * otherwise be empty after 256 placements).  Prints total ms and us per
 * placement against the target (<= 50 ms for the 1,000), the median of 5
 * runs.  A benchmark, not a test: it prints figures and exits 0 unless
 * placement itself fails unexpectedly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "gpupool.h"
#include "synthhost.h"

#define N_PLACEMENTS 1000
#define N_RUNS 5
#define TARGET_MS 50.0

typedef struct {
    int placed, released, no_placement;
    int tiers[4];
    size_t max_existing;
} run_stats;

static int one_run(gp_placement_strategy strategy, const gp_host *h, const char *const *pool, size_t n_pool, double *ms,
                   run_stats *rs)
{
    gp_placement *res = calloc(n_pool, sizeof(*res));
    gp_place_existing *ex = calloc(n_pool, sizeof(*ex));
    int *vcpus = calloc(n_pool, sizeof(*vcpus));
    gp_error_info err;
    gp_place_request req;
    size_t n = 0;
    unsigned lcg = 12345;
    int rc = 0;

    gp_error_info_init(&err);
    memset(rs, 0, sizeof(*rs));
    if (!res || !ex || !vcpus) {
        rc = -1;
        goto out;
    }
    memset(&req, 0, sizeof(req));
    req.policy = GP_NUMA_PREFERRED;
    req.pin_mode = GP_PIN_HARD;
    req.cpu_overcommit = 1.0;
    req.pool_gpus = pool;
    req.n_pool_gpus = n_pool;
    req.existing = ex;
    req.vm_memory_mib = 32768;
    req.strategy = strategy;

    static const int sizes[] = { 2, 4, 4, 6 };
    double t0 = bu_now_ms();
    for (int i = 0; i < N_PLACEMENTS; i++) {
        if (n == n_pool) {
            /* Every GPU held: release 64 pseudo-random assignments. */
            for (int k = 0; k < 64 && n; k++) {
                lcg = lcg * 1103515245u + 12345u;
                size_t v = (lcg >> 8) % n;
                gp_placement_dispose(&res[v]);
                res[v] = res[n - 1];
                vcpus[v] = vcpus[n - 1];
                n--;
                rs->released++;
            }
            for (size_t k = 0; k < n; k++)
                ex[k] = (gp_place_existing){ res[k].pci_id, res[k].node, res[k].pcpus,
                                             res[k].n_pcpus, vcpus[k], req.vm_memory_mib,
                                             res[k].memory_node, false };
        }
        req.n_existing = n;
        req.vm_vcpus = sizes[i % 4];
        gp_placement_init(&res[n]);
        int r = gp_place(h, &req, &res[n], &err);
        if (r == GP_ERR_NO_PLACEMENT) {
            rs->no_placement++;
            continue;
        }
        if (r != GP_OK) {
            fprintf(stderr, "bench_place: placement %d: %s: %s\n", i, gp_error_name(r),
                    err.message ? err.message : "");
            rc = -1;
            goto out;
        }
        vcpus[n] = req.vm_vcpus;
        ex[n] = (gp_place_existing){ res[n].pci_id, res[n].node, res[n].pcpus, res[n].n_pcpus,
                                     req.vm_vcpus, req.vm_memory_mib, res[n].memory_node, false };
        rs->tiers[res[n].locality]++;
        n++;
        rs->placed++;
        if (n > rs->max_existing)
            rs->max_existing = n;
    }
    *ms = bu_now_ms() - t0;
out:
    for (size_t k = 0; res && k < n; k++)
        gp_placement_dispose(&res[k]);
    gp_error_info_dispose(&err);
    free(res);
    free(ex);
    free(vcpus);
    return rc;
}

int main(void)
{
    synth_spec s;
    gp_host h;
    char (*ids)[GP_PCI_ID_LEN] = NULL;
    const char **pool = NULL;
    double ms[N_RUNS];
    run_stats rs;
    int rc = 1;

    bu_spec_large(&s);
    if (synth_host_build(&s, &h) < 0) {
        fprintf(stderr, "bench_place: cannot build the synthetic host\n");
        return 1;
    }
    ids = calloc((size_t)s.n_gpus, GP_PCI_ID_LEN);
    pool = calloc((size_t)s.n_gpus, sizeof(*pool));
    if (!ids || !pool)
        goto out;
    for (int i = 0; i < s.n_gpus; i++) {
        synth_gpu_pci_id(i, ids[i]);
        pool[i] = ids[i];
    }

    /* The same stream under each strategy: spread is the workload of the
     * figures before pack became the default (pack fills nodes, and this
     * stream releases only when every GPU is held, so it ends with fewer
     * placements: the time per call is what is measured here). */
    static const gp_placement_strategy strategies[] = { GP_PLACE_SPREAD, GP_PLACE_PACK };
    for (size_t si = 0; si < 2; si++) {
        for (int r = 0; r < N_RUNS; r++)
            if (one_run(strategies[si], &h, pool, (size_t)s.n_gpus, &ms[r], &rs) < 0)
                goto out;
        double first = ms[0];
        bu_sort_ms(ms, N_RUNS);
        double med = ms[N_RUNS / 2];

        printf("bench_place: %d successive placements, %zu NUMA nodes / %zu sockets / %zu pCPUs / "
               "%zu GPUs (numa-policy preferred, pin-mode hard, placement %s)\n", N_PLACEMENTS,
               h.n_nodes, h.n_nodes / (size_t)s.nodes_per_socket, h.n_cpus, h.n_gpus,
               gp_placement_strategy_name(strategies[si]));
        printf("  total %.2f ms, %.1f us per placement (median of %d runs; min %.2f ms, first %.2f ms)\n",
               med, med * 1e3 / N_PLACEMENTS, N_RUNS, ms[0], first);
        printf("  target: <= %.0f ms total: %s\n", TARGET_MS, med <= TARGET_MS ? "met" : "NOT met");
        printf("  outcomes: %d placed (local %d, socket %d, unknown %d, remote %d), %d no placement, "
               "%d released, up to %zu existing assignments\n", rs.placed,
               rs.tiers[GP_LOCALITY_LOCAL], rs.tiers[GP_LOCALITY_SOCKET], rs.tiers[GP_LOCALITY_UNKNOWN],
               rs.tiers[GP_LOCALITY_REMOTE], rs.no_placement, rs.released, rs.max_existing);
    }
    bu_print_machine();
    rc = 0;
out:
    free(ids);
    free(pool);
    synth_host_free(&h);
    return rc;
}
