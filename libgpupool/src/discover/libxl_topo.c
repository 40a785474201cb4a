/*
 * libxl_topo.c - the libxl discovery source: a live Xen host's CPU / NUMA
 * topology and PCI locality as the hypervisor reports them, with a libxl
 * session of its own (xenlight/).  Used on Xen and on XCP-ng, whose dom0
 * sysfs shows neither the host's NUMA layout nor PCI locality.
 *
 *  - pCPUs: libxl_get_cpu_topology (socket, core, node per CPU);
 *  - nodes: libxl_get_numainfo (size / free bytes, distances);
 *  - cpupools: libxl_list_cpupool;
 *  - passthrough: libxl_get_physinfo (cap_hvm_directio);
 *  - PCI locality: libxl_get_pci_topology (a device without a node keeps
 *    what libpci found).
 */
#include "xenlight/xenlight.h"  /* first: pins LIBXL_API_VERSION before libxl.h */
#include "discover/discover.h"

#include <stdlib.h>
#include <string.h>

static int topology(gp_xl *s, gp_host *h, gp_error_info *err)
{
    libxl_physinfo pi;
    libxl_cputopology *ct = NULL;
    libxl_numainfo *ni = NULL;
    libxl_cpupoolinfo *cp = NULL;
    int nct = 0, nni = 0, ncp = 0, lrc, rc = GP_OK;
    int *node_index = NULL;

    libxl_physinfo_init(&pi);
    lrc = LX->get_physinfo(gp_xl_ctx(s), &pi);
    if (lrc) {
        rc = gp_xl_fail(s, err, lrc, "libxl_get_physinfo failed");
        goto out;
    }
    h->passthrough = pi.cap_hvm_directio ? GP_YES : GP_NO;

    ct = LX->get_cpu_topology(gp_xl_ctx(s), &nct);
    if (!ct) {
        rc = gp_xl_fail(s, err, ERROR_FAIL, "libxl_get_cpu_topology failed");
        goto out;
    }
    ni = LX->get_numainfo(gp_xl_ctx(s), &nni);
    if (!ni) {
        rc = gp_xl_fail(s, err, ERROR_FAIL, "libxl_get_numainfo failed");
        goto out;
    }

    /* pCPUs: an offline one is the entry Xen leaves wholly invalid (core,
     * socket and node all LIBXL_CPUTOPOLOGY_INVALID_ENTRY, as
     * XEN_SYSCTL_cputopo reports a CPU that is not online).  A single
     * invalid field is an unknown fact, not an absent CPU: e.g. with QEMU
     * -smp N,sockets=N,cores=1 Xen 4.17 reports core ~0 for online CPUs. */
    h->cpus = calloc((size_t)(nct > 0 ? nct : 1), sizeof(*h->cpus));
    if (!h->cpus)
        goto nomem;
    for (int i = 0; i < nct; i++) {
        if (ct[i].core == LIBXL_CPUTOPOLOGY_INVALID_ENTRY &&
            ct[i].socket == LIBXL_CPUTOPOLOGY_INVALID_ENTRY &&
            ct[i].node == LIBXL_CPUTOPOLOGY_INVALID_ENTRY)
            continue;
        gp_pcpu *c = &h->cpus[h->n_cpus++];
        c->id = i;
        c->socket = ct[i].socket == LIBXL_CPUTOPOLOGY_INVALID_ENTRY ? -1 : (int)ct[i].socket;
        /* Xen's core id is per socket: make it host-wide unique (as sysfs.c);
         * an unknown core stays -1 (placement: its own core). */
        if (ct[i].core == LIBXL_CPUTOPOLOGY_INVALID_ENTRY)
            c->core = -1;
        else
            c->core = c->socket >= 0 ? c->socket * 1000 + (int)ct[i].core : (int)ct[i].core;
        c->node = ct[i].node == LIBXL_CPUTOPOLOGY_INVALID_ENTRY ? -1 : (int)ct[i].node;
    }

    /* Nodes: those with memory or pCPUs. */
    node_index = malloc((size_t)(nni > 0 ? nni : 1) * sizeof(int));
    h->nodes = calloc((size_t)(nni > 0 ? nni : 1), sizeof(*h->nodes));
    if (!node_index || !h->nodes)
        goto nomem;
    for (int i = 0; i < nni; i++) {
        size_t ncpu = 0;
        node_index[i] = -1;
        for (size_t c = 0; c < h->n_cpus; c++)
            ncpu += h->cpus[c].node == i;
        if (ni[i].size == LIBXL_NUMAINFO_INVALID_ENTRY || (ni[i].size == 0 && ncpu == 0))
            continue;
        gp_numa_node *nd = &h->nodes[h->n_nodes];
        node_index[i] = (int)h->n_nodes++;
        nd->id = i;
        nd->socket = -1;
        nd->mem_total_bytes = ni[i].size == LIBXL_NUMAINFO_INVALID_ENTRY ? 0 : ni[i].size;
        nd->mem_free_bytes = ni[i].free == LIBXL_NUMAINFO_INVALID_ENTRY ? 0 : ni[i].free;
        nd->cpus = calloc(ncpu ? ncpu : 1, sizeof(int));
        if (!nd->cpus)
            goto nomem;
        for (size_t c = 0; c < h->n_cpus; c++) {
            if (h->cpus[c].node != i)
                continue;
            nd->cpus[nd->n_cpus++] = h->cpus[c].id;
            if (nd->socket < 0)
                nd->socket = h->cpus[c].socket;
        }
    }
    for (int i = 0; i < nni; i++) {
        if (node_index[i] < 0 || !ni[i].dists || ni[i].num_dists <= 0)
            continue;
        gp_numa_node *nd = &h->nodes[node_index[i]];
        nd->distances = calloc(h->n_nodes, sizeof(int));
        if (!nd->distances)
            goto nomem;
        for (int j = 0; j < nni; j++) {
            if (node_index[j] < 0)
                continue;
            nd->distances[node_index[j]] =
                j < ni[i].num_dists && ni[i].dists[j] != LIBXL_NUMAINFO_INVALID_ENTRY
                    ? (int)ni[i].dists[j] : -1;
        }
    }

    /* cpupools */
    cp = LX->list_cpupool(gp_xl_ctx(s), &ncp);
    if (!cp && ncp != 0) {
        rc = gp_xl_fail(s, err, ERROR_FAIL, "libxl_list_cpupool failed");
        goto out;
    }
    if (ncp > 0) {
        h->cpupools = calloc((size_t)ncp, sizeof(*h->cpupools));
        if (!h->cpupools)
            goto nomem;
        for (int i = 0; i < ncp; i++) {
            gp_cpupool *p = &h->cpupools[h->n_cpupools++];
            p->id = (int)cp[i].poolid;
            p->name = gp_strdup(cp[i].pool_name ? cp[i].pool_name : "");
            p->cpus = calloc((size_t)(cp[i].cpumap.size * 8 + 1), sizeof(int));
            if (!p->name || !p->cpus)
                goto nomem;
            for (unsigned b = 0; b < cp[i].cpumap.size * 8u; b++)
                if (gp_xl_bitmap_test(&cp[i].cpumap, b))
                    p->cpus[p->n_cpus++] = (int)b;
        }
    }
    goto out;
nomem:
    rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
out:
    free(node_index);
    if (ct)
        LX->cputopology_list_free(ct, nct);
    if (ni)
        LX->numainfo_list_free(ni, nni);
    if (cp)
        LX->cpupoolinfo_list_free(cp, ncp);
    libxl_physinfo_dispose(&pi);
    return rc;
}

static int pci_locality(gp_xl *s, gp_host *h, gp_error_info *err)
{
    libxl_pcitopology *pt;
    int n = 0;

    pt = LX->get_pci_topology(gp_xl_ctx(s), &n);
    if (!pt)
        return gp_xl_fail(s, err, ERROR_FAIL, "libxl_get_pci_topology failed");
    for (size_t g = 0; g < h->n_gpus; g++) {
        gp_gpu *gpu = &h->gpus[g];
        for (int i = 0; i < n; i++) {
            if (pt[i].seg != gpu->addr.domain || pt[i].bus != gpu->addr.bus ||
                pt[i].devfn != ((gpu->addr.dev << 3) | gpu->addr.func))
                continue;
            if (pt[i].node != LIBXL_PCITOPOLOGY_INVALID_ENTRY)
                gpu->numa_node = (int)pt[i].node;
            break;
        }
    }
    LX->pcitopology_list_free(pt, n);
    return GP_OK;
}


static int with_session(int (*fn)(gp_xl *, gp_host *, gp_error_info *), gp_host *h,
                        gp_error_info *err)
{
    gp_xl s;
    int rc = gp_xl_open(&s, "libxl topology", err);
    if (rc == GP_OK)
        rc = fn(&s, h, err);
    gp_xl_close(&s);
    return rc;
}

int gp_libxl_discover_topology(gp_host *h, gp_error_info *err)
{
    return with_session(topology, h, err);
}

int gp_libxl_discover_pci_locality(gp_host *h, gp_error_info *err)
{
    return with_session(pci_locality, h, err);
}
