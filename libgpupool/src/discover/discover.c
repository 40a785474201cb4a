/*
 * discover.c - which source gives which fact (docs/discovery.md), for one
 * configuration, and the host model cache around them.
 *
 * Sources, in order of preference:
 *  - topology: the hwloc XML of cfg.topology_file (GP_TOPOLOGY_EMBEDDED =
 *    the compiled-in dual-socket 8-GPU server); else, on a live Xen host
 *    (use_libxl), libxl; else sysfs (cfg.sysfs_root or the live /sys);
 *  - PCI: libpci over cfg.pci_dump, else over cfg.sysfs_root, else over the
 *    live sysfs; when only an hwloc file is configured, its PCIDev objects.
 *    With an hwloc file and a PCI source, hwloc fills the locality of the
 *    GPUs libpci left unknown; on a live Xen host libxl does.
 *  - names: the vendor / device names a source did not carry come from
 *    pci.ids, through a memo kept in the cache for every source, so that
 *    only the first process after a change of pci.ids loads it.
 */
#include "discover/discover.h"

#include <stdlib.h>
#include <string.h>

GP_ENUM_IMPL(gp_host_source, GP_HOST_SOURCE_LAST, "embedded", "hwloc", "libxl", "sysfs")

static gp_host_source topology_source(const gp_config *cfg, bool use_libxl)
{
    const char *t = cfg->topology_file;
    if (t && !strcmp(t, GP_TOPOLOGY_EMBEDDED))
        return GP_HOST_SOURCE_EMBEDDED;
    if (t)
        return GP_HOST_SOURCE_HWLOC;
    /* A captured sysfs tree describes another machine: its own node files
     * are the topology, not the hypervisor we run on. */
    if (use_libxl && !cfg->sysfs_root)
        return GP_HOST_SOURCE_LIBXL;
    return GP_HOST_SOURCE_SYSFS;
}

/* The topology (and, for an hwloc file alone, the PCI functions). */
static int load_topology(const gp_config *cfg, gp_host_source src, bool with_pci, gp_host *h,
                         gp_error_info *err)
{
    switch (src) {
    case GP_HOST_SOURCE_EMBEDDED:
        return gp_hwloc_load(NULL, gp_embedded_host_xml, gp_embedded_host_xml_len, cfg,
                             with_pci, h, err);
    case GP_HOST_SOURCE_HWLOC:
        return gp_hwloc_load(cfg->topology_file, NULL, 0, cfg, with_pci, h, err);
#ifdef GPUPOOL_WITH_XEN
    case GP_HOST_SOURCE_LIBXL: {
        int rc = gp_libxl_discover_topology(h, err);
        if (rc == GP_OK && !h->topology_source &&
            !(h->topology_source = gp_strdup(gp_host_source_to_string(src))))
            rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        return rc;
    }
#endif
    default:
        return gp_sysfs_topology(cfg->sysfs_root, h, err);
    }
}

static void seed_names(void *cache)
{
    gp_host_cache_names_seed(cache);
}

int gp_discover_host(const gp_config *cfg, bool use_libxl, gp_host_cache *cache,
                     gp_host *out, gp_error_info *err)
{
    gp_host_source src = topology_source(cfg, use_libxl);
    bool have_pci_source = cfg->pci_dump || cfg->sysfs_root;
    bool hwloc_alone = (src == GP_HOST_SOURCE_EMBEDDED || src == GP_HOST_SOURCE_HWLOC) &&
                       !have_pci_source;
    char *cache_key = NULL, *cache_stamp = NULL;
    gp_host h;
    int rc;

    gp_host_init(out);
    gp_host_init(&h);
    /* Immutable sources (hwloc file, embedded host, dump): a model parsed
     * before is in the cache. */
    rc = gp_host_cache_key(cfg, &cache_key, &cache_stamp);
    if (rc) {
        rc = gp_err_set(err, rc, "out of memory");
        goto out;
    }
    if (cache_key && gp_host_cache_load(cache, cache_key, cache_stamp, &h))
        goto done;
    /* Names an earlier process found in pci.ids, so this one need not load
     * it: for every source (an hwloc file may lack names too), read from the
     * cache on the first name the source did not carry. */
    gp_pci_names_on_miss(seed_names, cache);

    rc = load_topology(cfg, src, hwloc_alone, &h, err);
    if (rc)
        goto out;
    if (!hwloc_alone) {
        rc = gp_pci_discover(cfg, &h, err);
#ifdef GPUPOOL_WITH_XEN
        if (rc == GP_OK && src == GP_HOST_SOURCE_LIBXL && !have_pci_source)
            rc = gp_libxl_discover_pci_locality(&h, err);
#endif
        if (rc == GP_OK && src == GP_HOST_SOURCE_HWLOC)
            rc = gp_hwloc_apply_locality(cfg->topology_file, &h, err);
        if (rc)
            goto out;
    }
    gp_pci_names_on_miss(NULL, NULL);
    gp_host_finish(&h);
    if (!h.topology_source || !h.pci_source) {
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    gp_host_cache_names_store(cache);
    if (cache_key)
        gp_host_cache_store(cache, cache_key, cache_stamp, &h);
done:
    *out = h;
    gp_host_init(&h);
out:
    gp_pci_names_on_miss(NULL, NULL);
    free(cache_key);
    free(cache_stamp);
    gp_host_dispose(&h);
    return rc;
}

/* ---- the PCI hierarchy ----------------------------------------------------------- */

int gp_pci_tree_discover(const gp_config *cfg, gp_pci_tree *out, gp_error_info *err)
{
    const char *t = cfg->topology_file;
    /* The same choice as gp_discover_host: an hwloc file alone describes
     * the PCI side too; a dump or a sysfs tree wins over it. */
    if (t && !cfg->pci_dump && !cfg->sysfs_root)
        return gp_hwloc_pci_tree(strcmp(t, GP_TOPOLOGY_EMBEDDED) ? t : NULL, out, err);
    return gp_pci_tree_libpci(cfg, out, err);
}
