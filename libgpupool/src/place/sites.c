/*
 * sites.c - placement across the hosts of an XCP-ng pool: gp_place_sites(),
 * pure like gp_place() (place.c), which it calls for the pCPUs of the host
 * it chooses.
 *
 * A first pass summarises each node of each host in a few integers (free
 * GPUs of the pool, vCPU room, free memory) to find the NUMA-local fits and
 * rank them by how little they leave (best fit): a VM goes where it fills a
 * hole, so the largest holes stay for the largest VMs.  Only the chosen
 * host runs the full gp_place(), with the chosen GPU forced.
 */
#include "place/place.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* As place.c: floor() of a product that should be an integer. */
#define SITES_FLOOR_EPS 1e-9

void gp_site_placement_init(gp_site_placement *p)
{
    memset(p, 0, sizeof(*p));
    gp_placement_init(&p->placement);
}

void gp_site_placement_dispose(gp_site_placement *p)
{
    if (!p)
        return;
    gp_placement_dispose(&p->placement);
    gp_site_placement_init(p);
}

/* One NUMA-local candidate: a node of a site. */
typedef struct {
    size_t site;
    int node;
    const char *gpu;     /* lowest free pool GPU on the node */
    long vcpus_left;     /* room after the VM */
    uint64_t mib_left;   /* free memory after the VM; UINT64_MAX unknown */
    size_t gpus_left;    /* free pool GPUs left on the host after the VM */
    const char *name;    /* the site's name ("" when none) */
} site_cand;

static int cand_cmp(const void *pa, const void *pb)
{
    const site_cand *a = pa, *b = pb;
    int c;
    if (a->vcpus_left != b->vcpus_left)
        return a->vcpus_left < b->vcpus_left ? -1 : 1;
    if (a->mib_left != b->mib_left)
        return a->mib_left < b->mib_left ? -1 : 1;
    if (a->gpus_left != b->gpus_left)
        return a->gpus_left < b->gpus_left ? -1 : 1;
    c = strcmp(a->name, b->name);
    if (c)
        return c;
    if (a->site != b->site)
        return a->site < b->site ? -1 : 1;
    if (a->node != b->node)
        return a->node < b->node ? -1 : 1;
    return strcmp(a->gpu, b->gpu);
}

static bool str_in(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return true;
    return false;
}

static bool cpu_allowed(const gp_place_site *s, int cpu)
{
    if (!s->allowed_cpus)
        return true;
    for (size_t i = 0; i < s->n_allowed_cpus; i++)
        if (s->allowed_cpus[i] == cpu)
            return true;
    return false;
}

/* Is pci held by an existing assignment of the site? */
static bool held(const gp_place_site *s, const char *pci)
{
    for (size_t e = 0; e < s->n_existing; e++)
        if (s->existing[e].pci_id && !strcmp(s->existing[e].pci_id, pci))
            return true;
    return false;
}

/* Append the NUMA-local candidates of site si; *free_total receives its
 * free pool GPUs. */
static int site_cands(const gp_place_site *s, size_t si, const gp_place_request *req,
                      site_cand **v, size_t *n, size_t *cap, size_t *free_total)
{
    const gp_host *h = s->host;
    size_t free_here = 0;

    for (size_t g = 0; g < h->n_gpus; g++)
        if (str_in(s->pool_gpus, s->n_pool_gpus, h->gpus[g].pci_id) &&
            !held(s, h->gpus[g].pci_id))
            free_here++;
    *free_total = free_here;
    if (!free_here)
        return GP_OK;
    for (size_t i = 0; i < h->n_nodes; i++) {
        const gp_numa_node *nd = &h->nodes[i];
        const char *gpu = NULL;
        long pcpus = 0, pinned = 0, room;
        uint64_t used_mib = 0, free_mib;
        bool mem_known = nd->mem_total_bytes || nd->mem_free_bytes;

        /* h->gpus is in ascending pci-id: the first free one is the lowest. */
        for (size_t g = 0; g < h->n_gpus && !gpu; g++)
            if (h->gpus[g].numa_node == nd->id &&
                str_in(s->pool_gpus, s->n_pool_gpus, h->gpus[g].pci_id) &&
                !held(s, h->gpus[g].pci_id))
                gpu = h->gpus[g].pci_id;
        if (!gpu)
            continue;
        for (size_t k = 0; k < nd->n_cpus; k++)
            if (cpu_allowed(s, nd->cpus[k]))
                pcpus++;
        for (size_t e = 0; e < s->n_existing; e++) {
            const gp_place_existing *ex = &s->existing[e];
            bool here = ex->node == nd->id;
            /* No node recorded: the VM counts on every node its pins touch,
             * as gp_place() counts it. */
            for (size_t k = 0; !here && ex->node < 0 && k < ex->n_pcpus; k++)
                for (size_t j = 0; !here && j < nd->n_cpus; j++)
                    here = ex->pcpus[k] == nd->cpus[j];
            if (here)
                pinned += ex->vcpus > 0 ? ex->vcpus : 0;
            if (ex->memory_node == nd->id && !ex->memory_in_free)
                used_mib += ex->memory_mib;
        }
        room = (long)(req->cpu_overcommit * (double)pcpus + SITES_FLOOR_EPS) - pinned;
        if (pcpus == 0 || room < req->vm_vcpus)
            continue;
        free_mib = nd->mem_free_bytes >> 20;
        free_mib = free_mib > used_mib ? free_mib - used_mib : 0;
        if (mem_known && free_mib < req->vm_memory_mib)
            continue;
        if (gp_array_reserve((void **)v, cap, *n, sizeof(**v)))
            return GP_ERR_NOMEM;
        (*v)[(*n)++] = (site_cand){ .site = si, .node = nd->id, .gpu = gpu,
                                    .vcpus_left = room - req->vm_vcpus,
                                    .mib_left = mem_known ? free_mib - req->vm_memory_mib
                                                          : UINT64_MAX,
                                    .gpus_left = free_here - 1,
                                    .name = s->name ? s->name : "" };
    }
    return GP_OK;
}

/* req for site s (its own pool GPUs, assignments, cpupool; gpu forced or NULL). */
static gp_place_request site_req(const gp_place_site *s, const gp_place_request *req,
                                 const char *gpu)
{
    gp_place_request r = *req;
    r.pool_gpus = s->pool_gpus;
    r.n_pool_gpus = s->n_pool_gpus;
    r.existing = s->existing;
    r.n_existing = s->n_existing;
    r.allowed_cpus = s->allowed_cpus;
    r.n_allowed_cpus = s->n_allowed_cpus;
    r.force_pci_id = gpu;
    return r;
}

/* Prefix the placement's reason with the host's name. */
static int name_reason(const gp_place_site *s, gp_placement *p)
{
    char *r = gp_asprintf("host %s, %s", s->name ? s->name : "?",
                          p->reason ? p->reason : "");
    if (!r)
        return GP_ERR_NOMEM;
    free(p->reason);
    p->reason = r;
    return GP_OK;
}

/* Append "; host X: why" to *msg (NULL on ENOMEM: then *msg stays NULL). */
static void why_add(char **msg, const char *name, const char *why)
{
    char *m;
    if (!*msg)
        return;
    m = gp_asprintf("%s%shost %s: %s", *msg, **msg ? "; " : "", name ? name : "?", why);
    free(*msg);
    *msg = m;
}

int gp_place_sites(const gp_place_site *sites, size_t n_sites, const gp_place_request *req,
                   gp_site_placement *out, gp_error_info *err)
{
    site_cand *cands = NULL;
    size_t n = 0, cap = 0, free_any = 0;
    char *why = gp_strdup("");
    gp_error_info e;
    int rc = GP_OK;

    gp_error_info_init(&e);
    gp_err_clear(err);
    if (!sites || !req || !out || req->vm_vcpus <= 0 || !req->vm_memory_mib ||
        !(req->cpu_overcommit > 0)) {
        rc = gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                        "placement across hosts needs sites, a VM size, an overcommit above 0 "
                        "and an output");
        goto out;
    }
    for (size_t i = 0; i < n_sites; i++)
        if ((!sites[i].pool_gpus && sites[i].n_pool_gpus) ||
            (!sites[i].existing && sites[i].n_existing) ||
            (!sites[i].allowed_cpus && sites[i].n_allowed_cpus)) {
            rc = gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                            "site %zu (%s) has a count without its array", i,
                            sites[i].name ? sites[i].name : "?");
            goto out;
        }
    for (size_t i = 0; i < n_sites; i++) {
        const gp_place_site *s = &sites[i];
        size_t free_here = 0, before = n;
        if (s->excluded) {
            why_add(&why, s->name, s->excluded);
            continue;
        }
        if (!s->host) {
            why_add(&why, s->name, "its gpupool has not published the host's facts "
                                   "(run xe-gpupool pool-sync there)");
            continue;
        }
        if (site_cands(s, i, req, &cands, &n, &cap, &free_here)) {
            rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        free_any += free_here;
        if (!free_here)
            why_add(&why, s->name, "no free GPU of the pool");
        else if (n == before)
            why_add(&why, s->name, "no node has a free GPU of the pool with room for the VM");
    }
    if (!why) {
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        goto out;
    }

    /* 1. NUMA-local, best fit. */
    qsort(cands, n, sizeof(*cands), cand_cmp);
    for (size_t c = 0; c < n; c++) {
        const gp_place_site *s = &sites[cands[c].site];
        gp_place_request r = site_req(s, req, cands[c].gpu);
        gp_placement p;
        gp_placement_init(&p);
        int prc = gp_place(s->host, &r, &p, &e);
        if (prc == GP_ERR_INVALID_ARGUMENT || prc == GP_ERR_NOMEM) {
            /* A bad request, not a full host: pass it on. */
            gp_placement_dispose(&p);
            gp_err_copy(err, &e);
            rc = prc;
            goto out;
        }
        /* Step 1 is NUMA-local only: a result gp_place() found elsewhere
         * (policy preferred, the node's room counted otherwise) waits for
         * step 2. */
        if (prc == GP_OK && p.locality == GP_LOCALITY_LOCAL) {
            if (name_reason(s, &p)) {
                gp_placement_dispose(&p);
                rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
                goto out;
            }
            gp_site_placement_dispose(out);
            out->site = cands[c].site;
            out->placement = p;
            goto out;
        }
        gp_placement_dispose(&p);
    }

    /* 2. Not NUMA-local: each host's own best, best locality first. */
    if (req->policy != GP_NUMA_REQUIRED) {
        gp_site_placement best;
        bool have = false;
        gp_site_placement_init(&best);
        for (size_t i = 0; i < n_sites; i++) {
            const gp_place_site *s = &sites[i];
            gp_place_request r = site_req(s, req, NULL);
            gp_placement p;
            if (s->excluded || !s->host)
                continue;
            gp_placement_init(&p);
            int prc = gp_place(s->host, &r, &p, &e);
            if (prc == GP_ERR_INVALID_ARGUMENT || prc == GP_ERR_NOMEM) {
                gp_placement_dispose(&p);
                gp_site_placement_dispose(&best);
                gp_err_copy(err, &e);
                rc = prc;
                goto out;
            }
            if (prc == GP_OK &&
                (!have || p.locality < best.placement.locality ||
                 (p.locality == best.placement.locality &&
                  strcmp(s->name ? s->name : "", sites[best.site].name ? sites[best.site].name
                                                                        : "") < 0))) {
                gp_site_placement_dispose(&best);
                best.site = i;
                best.placement = p;
                have = true;
            } else {
                gp_placement_dispose(&p);
            }
        }
        if (have) {
            if (name_reason(&sites[best.site], &best.placement)) {
                gp_site_placement_dispose(&best);
                rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
                goto out;
            }
            gp_site_placement_dispose(out);
            *out = best;
            goto out;
        }
    }
    if (!free_any)
        rc = gp_err_set(err, GP_ERR_POOL_EMPTY, "no host has a free GPU of the pool (%s)", why);
    else
        rc = gp_err_set(err, GP_ERR_NO_PLACEMENT,
                        "no host can take a VM of %d vCPUs and %llu MiB %s: %s", req->vm_vcpus,
                        (unsigned long long)req->vm_memory_mib,
                        req->policy == GP_NUMA_REQUIRED ? "NUMA-local" : "at all", why);
    gp_err_param(err, "vcpus", "%d", req->vm_vcpus);
    gp_err_param(err, "memory-mib", "%llu", (unsigned long long)req->vm_memory_mib);
out:
    gp_error_info_dispose(&e);
    free(cands);
    free(why);
    return rc;
}
