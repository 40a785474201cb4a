/*
 * model.c - the host / GPU / VM data model: lifetimes, lookups, the final
 * ordering pass, and the PCI address (SBDF) syntax.  Pure data: no source,
 * no context.
 */
#include "core/core.h"

#include <ctype.h>
#include <stdio.h>
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

/* ---- gp_vm ------------------------------------------------------------------- */

void gp_vm_init(gp_vm *v)
{
    memset(v, 0, sizeof(*v));
    v->domid = -1;
}

void gp_vm_dispose(gp_vm *v)
{
    if (!v)
        return;
    free(v->name_label);
    gp_vm_init(v);
}

void gp_vm_list_free(gp_vm *vms, size_t n)
{
    for (size_t i = 0; vms && i < n; i++)
        gp_vm_dispose(&vms[i]);
    free(vms);
}

/* ---- PCI addresses --------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Parse exactly [min,max] hex digits from *p into *v. */
static bool take_hex(const char **p, int min, int max, uint32_t *v)
{
    int n = 0;
    uint32_t x = 0;
    while (n < max && hexval((unsigned char)**p) >= 0) {
        x = x * 16 + (uint32_t)hexval((unsigned char)**p);
        (*p)++;
        n++;
    }
    if (n < min || hexval((unsigned char)**p) >= 0)
        return false;
    *v = x;
    return true;
}

int gp_pci_addr_parse(const char *text, gp_pci_addr *out, gp_error_info *err)
{
    uint32_t dom = 0, bus, dev, fn;
    const char *p = text;
    const char *colon2;

    if (!text || !*text)
        goto bad;
    /* With a segment there are two colons. */
    colon2 = strchr(text, ':');
    if (colon2 && strchr(colon2 + 1, ':')) {
        if (!take_hex(&p, 1, 8, &dom) || *p++ != ':')
            goto bad;
    }
    if (!take_hex(&p, 1, 2, &bus) || *p++ != ':')
        goto bad;
    if (!take_hex(&p, 1, 2, &dev) || *p++ != '.')
        goto bad;
    if (!take_hex(&p, 1, 1, &fn) || *p)
        goto bad;
    if (dev > 0x1f || fn > 7)
        goto bad;
    out->domain = dom;
    out->bus = (uint8_t)bus;
    out->dev = (uint8_t)dev;
    out->func = (uint8_t)fn;
    return GP_OK;
bad:
    gp_err_set(err, GP_ERR_PCI_ID_INVALID,
               "malformed pci-id '%s': expected SBDF such as 0000:41:00.0",
               text ? text : "");
    gp_err_param(err, "pci-id", "%s", text ? text : "");
    return GP_ERR_PCI_ID_INVALID;
}

char *gp_pci_addr_format(const gp_pci_addr *a, char buf[GP_PCI_ID_LEN])
{
    snprintf(buf, GP_PCI_ID_LEN, "%04x:%02x:%02x.%x", a->domain, a->bus, a->dev, a->func);
    return buf;
}

/* ---- pools and assignments (the public structs' lifetimes) ---------------- */

void gp_pool_init(gp_pool *p)
{
    memset(p, 0, sizeof(*p));
    p->cpu_overcommit = 1.0;
}

void gp_pool_dispose(gp_pool *p)
{
    if (!p)
        return;
    free(p->name_label);
    free(p->name_description);
    free(p->cpupool);
    gp_strv_free(p->gpus, p->n_gpus);
    free(p->created);
    free(p->allowed_tenants);
    gp_pool_init(p);
}

void gp_pool_list_free(gp_pool *pools, size_t n)
{
    for (size_t i = 0; pools && i < n; i++)
        gp_pool_dispose(&pools[i]);
    free(pools);
}

void gp_assignment_init(gp_assignment *a)
{
    memset(a, 0, sizeof(*a));
    a->numa_node = -1;
    a->memory_node = -1;
}

void gp_assignment_dispose(gp_assignment *a)
{
    if (!a)
        return;
    free(a->vm_name_label);
    gp_strv_free(a->companions, a->n_companions);
    free(a->pool_name_label);
    free(a->pcpus);
    free(a->reason);
    free(a->created);
    free(a->tenant);
    free(a->lease_until);
    gp_assignment_init(a);
}

void gp_assignment_list_free(gp_assignment *as, size_t n)
{
    for (size_t i = 0; as && i < n; i++)
        gp_assignment_dispose(&as[i]);
    free(as);
}
