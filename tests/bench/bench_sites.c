/*
 * bench_sites.c - placement across the hosts of an XCP-ng pool
 * (gp_place_sites), pure computation: 1,000 decisions on 64 hosts x 8 GPUs
 * (2 nodes of 24 cores x 2 threads, 512 GiB per node, 4 GPUs per node, the
 * embedded host's shape), every GPU in one pool, half of them held by
 * halted VMs of 4..32 vCPUs spread over the hosts; each decision a VM of
 * 4..40 vCPUs and 8..256 GiB.  The same decisions on 32 x 8 and 1 x 8 in
 * the same run, and the ratio.  Target (issue 10): 1,000 decisions on
 * 64 x 8 in at most 100 ms of computation.
 *
 *   tests/bench/bench_sites [DECISIONS]     (default 1000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "gpupool.h"
#include "synthhost.h"

#define GPUS 8

typedef struct {
    gp_host host;
    char names[GPUS][GP_PCI_ID_LEN];
    const char *pool[GPUS];
    gp_place_existing ex[GPUS];
    int pcpus[GPUS][40];
    char name[16];
} host_fx;

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Build n hosts; *sites points into them. */
static host_fx *build(int n, gp_place_site **sites)
{
    host_fx *h = calloc((size_t)n, sizeof(*h));
    synth_spec s;
    unsigned seed = 12345;
    *sites = calloc((size_t)n, sizeof(**sites));
    if (!h || !*sites)
        return NULL;
    synth_spec_init(&s);
    s.n_nodes = 2;
    s.nodes_per_socket = 1;
    s.cores_per_node = 24;
    s.threads_per_core = 2;
    s.n_gpus = GPUS;
    s.mem_bytes_per_node = (uint64_t)512 << 30;
    for (int i = 0; i < n; i++) {
        host_fx *x = &h[i];
        size_t ne = 0;
        if (synth_host_build(&s, &x->host))
            return NULL;
        snprintf(x->name, sizeof(x->name), "xcp-%02d", i);
        for (int g = 0; g < GPUS; g++) {
            synth_gpu_pci_id(g, x->names[g]);
            x->pool[g] = x->names[g];
            /* half of the GPUs held, by a VM of 4..32 vCPUs on the GPU's node */
            if ((rand_r(&seed) & 1) == 0) {
                int node = synth_gpu_node(&s, g);
                int v = 4 + (int)(rand_r(&seed) % 29);
                for (int k = 0; k < v; k++)
                    x->pcpus[g][k] = synth_cpu_id(&s, node, k % 24, k / 24);
                x->ex[ne++] = (gp_place_existing){
                    .pci_id = x->names[g], .node = node, .pcpus = x->pcpus[g],
                    .n_pcpus = (size_t)v, .vcpus = v, .memory_mib = 65536,
                    .memory_node = node, .memory_in_free = false };
            }
        }
        (*sites)[i] = (gp_place_site){ .name = x->name, .host = &x->host,
                                       .pool_gpus = x->pool, .n_pool_gpus = GPUS,
                                       .existing = x->ex, .n_existing = ne };
    }
    return h;
}

/* Run k decisions on n hosts; returns CPU ms, *placed the successes. */
static double run(int n, int k, int *placed, char *last_host, size_t len)
{
    gp_place_site *sites;
    host_fx *h = build(n, &sites);
    gp_error_info err;
    unsigned seed = 777;
    double t0, t;
    if (!h) {
        fprintf(stderr, "bench_sites: cannot build %d hosts\n", n);
        exit(1);
    }
    gp_error_info_init(&err);
    *placed = 0;
    t0 = cpu_ms();
    for (int i = 0; i < k; i++) {
        gp_place_request req;
        gp_site_placement sp;
        memset(&req, 0, sizeof(req));
        req.policy = GP_NUMA_REQUIRED;
        req.pin_mode = GP_PIN_HARD;
        req.cpu_overcommit = 1.0;
        req.vm_vcpus = 4 + (int)(rand_r(&seed) % 37);
        req.vm_memory_mib = (uint64_t)(8 + rand_r(&seed) % 249) << 10;
        gp_site_placement_init(&sp);
        if (gp_place_sites(sites, (size_t)n, &req, &sp, &err) == GP_OK) {
            (*placed)++;
            snprintf(last_host, len, "%s %s node %d", sites[sp.site].name, sp.placement.pci_id,
                     sp.placement.node);
        }
        gp_site_placement_dispose(&sp);
    }
    t = cpu_ms() - t0;
    gp_error_info_dispose(&err);
    for (int i = 0; i < n; i++)
        synth_host_free(&h[i].host);
    free(h);
    free(sites);
    return t;
}

int main(int argc, char **argv)
{
    int k = argc > 1 ? atoi(argv[1]) : 1000;
    int sizes[] = { 1, 32, 64 };
    double ms[3];
    int placed[3];
    char last[3][64];

    bu_print_machine();
    printf("bench_sites: %d placement decisions across hosts (gp_place_sites), "
           "8 GPUs per host, half held\n", k);
    for (int i = 0; i < 3; i++) {
        ms[i] = run(sizes[i], k, &placed[i], last[i], sizeof(last[i]));
        printf("  %2d hosts x 8 GPUs: %8.2f ms CPU for %d decisions (%.1f us each), %d placed,"
               " last: %s\n", sizes[i], ms[i], k, ms[i] * 1000.0 / k, placed[i], last[i]);
    }
    printf("  ratio 64 hosts / 1 host: %.1fx for 64x the hosts\n", ms[2] / ms[0]);
    printf("  target: 1,000 decisions on 64 x 8 in <= 100 ms: %s (%.2f ms for %d)\n",
           ms[2] * 1000.0 / k <= 100.0 ? "met" : "MISSED", ms[2], k);
    return 0;
}
