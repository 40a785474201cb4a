/*
 * host.c - the host model: gp_gpu / gp_host lifetime, gp_host_get (which
 * source gives which fact), lookups, and the final ordering pass.
 *
 * Sources, in order of preference (docs/discovery.md):
 *  - topology: the hwloc XML of cfg.topology_file (GP_TOPOLOGY_EMBEDDED =
 *    the compiled-in dual-socket 8-GPU server); else, when no captured sysfs
 *    tree is configured, the driver's host_topology hook (libxl on Xen);
 *    else sysfs (cfg.sysfs_root or the live /sys);
 *  - PCI: libpci over cfg.pci_dump, else over cfg.sysfs_root, else over the
 *    live sysfs; when only an hwloc file is configured, its PCIDev objects.
 *    With an hwloc file and a PCI source, hwloc fills the locality of the
 *    GPUs libpci left unknown.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- gp_gpu ----------------------------------------------------------------- */

void gp_gpu_init(gp_gpu *g)
{
    memset(g, 0, sizeof(*g));
    g->numa_node = -1;
    g->iommu_group = -1;
    g->boot_vga = GP_UNKNOWN;
    g->link_downgraded = GP_UNKNOWN;
    g->flr = GP_UNKNOWN;
    g->sriov_totalvfs = -1;
}

void gp_gpu_dispose(gp_gpu *g)
{
    if (!g)
        return;
    free(g->vendor_name);
    free(g->device_name);
    free(g->subsys_name);
    gp_strv_free(g->iommu_group_members, g->n_iommu_group_members);
    for (size_t i = 0; i < g->n_companions; i++)
        free(g->companions[i].driver);
    free(g->companions);
    free(g->driver);
    free(g->reset_method);
    free(g->source);
    gp_gpu_init(g);
}

void gp_gpu_update_link_state(gp_gpu *g)
{
    if (g->link_cap.speed_gts <= 0 || g->link_cap.width <= 0 ||
        g->link_sta.speed_gts <= 0 || g->link_sta.width <= 0) {
        g->link_downgraded = GP_UNKNOWN;
        return;
    }
    g->link_downgraded = (g->link_sta.speed_gts + 0.01 < g->link_cap.speed_gts ||
                          g->link_sta.width < g->link_cap.width) ? GP_YES : GP_NO;
}

/* ---- gp_host ---------------------------------------------------------------- */

void gp_host_init(gp_host *h)
{
    memset(h, 0, sizeof(*h));
    h->passthrough = GP_UNKNOWN;
}

void gp_numa_nodes_free(gp_numa_node *nodes, size_t n)
{
    for (size_t i = 0; nodes && i < n; i++) {
        free(nodes[i].cpus);
        free(nodes[i].distances);
    }
    free(nodes);
}

void gp_host_dispose(gp_host *h)
{
    if (!h)
        return;
    gp_numa_nodes_free(h->nodes, h->n_nodes);
    free(h->cpus);
    for (size_t i = 0; i < h->n_gpus; i++)
        gp_gpu_dispose(&h->gpus[i]);
    free(h->gpus);
    free(h->functions);
    for (size_t i = 0; i < h->n_cpupools; i++) {
        free(h->cpupools[i].name);
        free(h->cpupools[i].cpus);
    }
    free(h->cpupools);
    free(h->topology_source);
    free(h->pci_source);
    gp_host_init(h);
}

static int addr_cmp(const gp_pci_addr *a, const gp_pci_addr *b)
{
    if (a->domain != b->domain)
        return a->domain < b->domain ? -1 : 1;
    if (a->bus != b->bus)
        return a->bus < b->bus ? -1 : 1;
    if (a->dev != b->dev)
        return a->dev < b->dev ? -1 : 1;
    return (a->func > b->func) - (a->func < b->func);
}

static int gpu_cmp(const void *x, const void *y)
{
    return addr_cmp(&((const gp_gpu *)x)->addr, &((const gp_gpu *)y)->addr);
}

/* Canonical pci-ids ("%04x:%02x:%02x.%x") order like their addresses when
 * a longer segment field sorts after a shorter one. */
static int function_cmp(const void *x, const void *y)
{
    const char *a = ((const gp_pci_function *)x)->pci_id;
    const char *b = ((const gp_pci_function *)y)->pci_id;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

static int pcpu_cmp(const void *x, const void *y)
{
    return gp_cmp_int(&((const gp_pcpu *)x)->id, &((const gp_pcpu *)y)->id);
}

static int node_cmp(const void *x, const void *y)
{
    return gp_cmp_int(&((const gp_numa_node *)x)->id, &((const gp_numa_node *)y)->id);
}

static const gp_pcpu *find_pcpu(const gp_host *h, int id)
{
    size_t lo = 0, hi = h->n_cpus;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (h->cpus[mid].id == id)
            return &h->cpus[mid];
        if (h->cpus[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Sort nodes by id; the distance rows and columns follow the nodes. */
static void sort_nodes(gp_host *h)
{
    size_t n = h->n_nodes;
    bool sorted = true;
    for (size_t i = 1; i < n; i++)
        if (h->nodes[i - 1].id > h->nodes[i].id)
            sorted = false;
    if (sorted)
        return;
    int *old_ids = malloc(n * sizeof(*old_ids));
    int *tmp = malloc(n * sizeof(*tmp));
    if (!old_ids || !tmp) {
        /* Keep order and drop distances we could not remap. */
        for (size_t i = 0; i < n; i++) {
            free(h->nodes[i].distances);
            h->nodes[i].distances = NULL;
        }
        free(old_ids);
        free(tmp);
        return;
    }
    for (size_t i = 0; i < n; i++)
        old_ids[i] = h->nodes[i].id;
    qsort(h->nodes, n, sizeof(*h->nodes), node_cmp);
    /* perm[j] = old column of the node now at j. */
    for (size_t i = 0; i < n; i++) {
        int *d = h->nodes[i].distances;
        if (!d)
            continue;
        for (size_t j = 0; j < n; j++) {
            size_t old = 0;
            while (old < n && old_ids[old] != h->nodes[j].id)
                old++;
            tmp[j] = old < n ? d[old] : 0;
        }
        memcpy(d, tmp, n * sizeof(*d));
    }
    free(old_ids);
    free(tmp);
}

void gp_host_finish(gp_host *h)
{
    sort_nodes(h);
    if (h->n_cpus > 1)
        qsort(h->cpus, h->n_cpus, sizeof(*h->cpus), pcpu_cmp);
    if (h->n_gpus > 1)
        qsort(h->gpus, h->n_gpus, sizeof(*h->gpus), gpu_cmp);
    if (h->n_functions > 1)
        qsort(h->functions, h->n_functions, sizeof(*h->functions), function_cmp);

    for (size_t i = 0; i < h->n_nodes; i++) {
        gp_numa_node *nd = &h->nodes[i];
        int socket = -2;  /* -2: no CPU seen yet */
        if (nd->n_cpus > 1)
            qsort(nd->cpus, nd->n_cpus, sizeof(*nd->cpus), gp_cmp_int);
        for (size_t c = 0; c < nd->n_cpus; c++) {
            gp_pcpu *p = (gp_pcpu *)find_pcpu(h, nd->cpus[c]);
            if (!p)
                continue;
            if (p->node < 0)
                p->node = nd->id;
            if (socket == -2)
                socket = p->socket;
            else if (socket != p->socket)
                socket = -1;  /* CPUs of several packages: no single socket */
        }
        if (nd->socket < 0)
            nd->socket = socket >= 0 ? socket : -1;
    }
}

/* ---- lookups ---------------------------------------------------------------- */

const gp_gpu *gp_host_find_gpu(const gp_host *host, const char *pci_id)
{
    gp_pci_addr a;
    if (!host || !pci_id || gp_pci_addr_parse(pci_id, &a, NULL))
        return NULL;
    for (size_t i = 0; i < host->n_gpus; i++)
        if (!addr_cmp(&host->gpus[i].addr, &a))
            return &host->gpus[i];
    return NULL;
}

const gp_numa_node *gp_host_find_node(const gp_host *host, int node_id)
{
    if (!host)
        return NULL;
    for (size_t i = 0; i < host->n_nodes; i++)
        if (host->nodes[i].id == node_id)
            return &host->nodes[i];
    return NULL;
}

int gp_host_node_socket(const gp_host *host, int node_id)
{
    const gp_numa_node *n = gp_host_find_node(host, node_id);
    return n ? n->socket : -1;
}

/* ---- discovery -------------------------------------------------------------- */

static bool topology_is_embedded(const char *t)
{
    return t && !strcmp(t, GP_TOPOLOGY_EMBEDDED);
}

int gp_host_get(gp_ctx *ctx, const gp_host **out)
{
    const gp_config *cfg = &ctx->cfg;
    const char *topo = cfg->topology_file;
    bool have_pci_source = cfg->pci_dump || cfg->sysfs_root;
    gp_host h;
    int rc;

    if (ctx->host_loaded) {
        *out = &ctx->host;
        return GP_OK;
    }
    *out = NULL;
    gp_host_init(&h);
    gp_err_clear(&ctx->err);

    /* Immutable sources (hwloc file, embedded host, dump): a model parsed
     * before is in the state database. */
    char *cache_key = NULL, *cache_stamp = NULL;
    rc = gp_host_cache_key(cfg, &cache_key, &cache_stamp);
    if (rc) {
        rc = GP_ERR(ctx, rc, "out of memory");
        goto out;
    }
    if (cache_key && gp_host_cache_load(ctx, cache_key, cache_stamp, &h)) {
        free(cache_key);
        free(cache_stamp);
        goto done;
    }
    /* libpci sources: names an earlier process found in pci.ids, so this one
     * need not load it (hwloc files carry their own names). */
    if (have_pci_source || !topo)
        gp_host_cache_names_seed(ctx);

    /* Topology (and, for an hwloc file alone, the PCI functions). */
    if (topology_is_embedded(topo)) {
        rc = gp_hwloc_load(NULL, gp_embedded_host_xml, gp_embedded_host_xml_len,
                           cfg, !have_pci_source, &h, &ctx->err);
    } else if (topo) {
        rc = gp_hwloc_load(topo, NULL, 0, cfg, !have_pci_source, &h, &ctx->err);
    } else {
        const gp_driver_ops *d = NULL;
        /* A captured sysfs tree describes another machine: its own node
         * files are the topology, not the hypervisor we run on. */
        if (!cfg->sysfs_root) {
            rc = gp_driver_get(ctx, &d);
            if (rc)
                goto out;
        }
        if (d && d->host_topology) {
            rc = d->host_topology(ctx, &h);
            if (!rc && !h.topology_source)
                h.topology_source = gp_strdup("libxl");
        } else {
            rc = gp_sysfs_topology(cfg->sysfs_root, &h, &ctx->err);
        }
    }
    if (rc)
        goto out;

    /* PCI through libpci unless the hwloc file alone describes it. */
    if (have_pci_source || !topo) {
        rc = gp_pci_discover(cfg, &h, &ctx->err);
        if (rc)
            goto out;
        /* xen driver: PCI locality from the hypervisor (live host only). */
        if (!have_pci_source && !topo && ctx->drv && ctx->drv->host_pci_locality) {
            rc = ctx->drv->host_pci_locality(ctx, &h);
            if (rc)
                goto out;
        }
        if (topo) {
            rc = gp_hwloc_apply_locality(topo, &h, &ctx->err);
            if (rc)
                goto out;
        }
    }
    gp_host_finish(&h);
    if ((!h.topology_source || !h.pci_source)) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    gp_host_cache_names_store(ctx);
    if (cache_key)
        gp_host_cache_store(ctx, cache_key, cache_stamp, &h);
    free(cache_key);
    free(cache_stamp);
done:
    ctx->host = h;
    ctx->host_loaded = true;
    *out = &ctx->host;
    return GP_OK;
out:
    free(cache_key);
    free(cache_stamp);
    gp_host_dispose(&h);
    return rc;
}
