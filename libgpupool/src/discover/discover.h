/*
 * discover/discover.h - what a host is made of, from its sources: libpci
 * (pci.c: live sysfs, a captured tree, an lspci dump), sysfs node files
 * (sysfs.c), hwloc XML (hwloc.c, libxml2's SAX parser), the hypervisor
 * through libxl (libxl_topo.c), and the host model cache (host_cache.c).
 * discover.c picks the sources for a configuration.  Depends on core and
 * xenlight.  Not installed.
 */
#ifndef GPUPOOL_DISCOVER_H
#define GPUPOOL_DISCOVER_H

#include "core/core.h"

#include <sqlite3.h>

/* Where a host's CPU / NUMA topology comes from (discover.c). */
typedef enum {
    GP_HOST_SOURCE_EMBEDDED = 0, /* the compiled-in dual-socket 8-GPU host */
    GP_HOST_SOURCE_HWLOC,        /* an lstopo XML file */
    GP_HOST_SOURCE_LIBXL,        /* the hypervisor, through libxl */
    GP_HOST_SOURCE_SYSFS,        /* /sys or a captured tree */
    GP_HOST_SOURCE_LAST
} gp_host_source;
GP_ENUM_DECL(gp_host_source);

/* The host model cache, "<state db>.hostcache": derived data, never state. */
typedef struct {
    const char *db_path;   /* the state database's path (borrowed); NULL: default */
    sqlite3 *db;           /* opened on first use */
} gp_host_cache;

/*
 * Build the host model for cfg into *out (_init'ed by the call): topology
 * from cfg->topology_file (hwloc XML; GP_TOPOLOGY_EMBEDDED: the embedded
 * host), else from libxl when use_libxl (a live Xen / XCP-ng host and no
 * captured sysfs tree), else from sysfs; PCI from libpci (cfg->pci_dump,
 * cfg->sysfs_root or the live sysfs) unless the hwloc file alone describes
 * the host; PCI locality from libxl (live host) or the hwloc file.  Parsed
 * models of immutable sources and PCI names are kept in cache.
 * Errors: GP_ERR_TOPOLOGY, GP_ERR_PCI, GP_ERR_IO, GP_ERR_DRIVER (libxl),
 * GP_ERR_NOMEM.
 */
GP_HIDDEN int gp_discover_host(const gp_config *cfg, bool use_libxl, gp_host_cache *cache,
                               gp_host *out, gp_error_info *err);

/* Fill host->gpus / host->functions with libpci.  method: the libpci access
 * method to use; sysfs_root / dump as in gp_config.  Fills numa_node,
 * iommu group, driver, boot_vga, link, FLR, reset_method, SR-IOV, BARs,
 * companions: whatever the source can give. */
GP_HIDDEN int gp_pci_discover(const gp_config *cfg, gp_host *host, gp_error_info *err);
/* CPU / NUMA topology from <sysfs_root or /sys>/devices/system/{node,cpu}. */
GP_HIDDEN int gp_sysfs_topology(const char *sysfs_root, gp_host *host, gp_error_info *err);
/* Topology (and, when with_pci, the GPUs and functions) from hwloc XML,
 * given as a file path or as an in-memory buffer (embedded host). */
GP_HIDDEN int gp_hwloc_load(const char *path, const char *buf, size_t len,
                            const gp_config *cfg, bool with_pci,
                            gp_host *host, gp_error_info *err);
/* Apply hwloc PCI locality to GPUs whose numa_node is unknown. */
GP_HIDDEN int gp_hwloc_apply_locality(const char *path, gp_host *host, gp_error_info *err);
/* Look up vendor/device/subsystem names for g: the process's name memo,
 * else pci.ids (libpci; loading it costs ~5 ms, once per process). */
GP_HIDDEN int gp_pci_fill_names(gp_gpu *g, gp_error_info *err);
/* Names of one (vendor, device, subsystem) id set. */
typedef struct {
    uint16_t vendor_id, device_id, subsys_vendor_id, subsys_device_id;
    char *vendor_name, *device_name, *subsys_name;  /* NULL unknown */
} gp_pci_name;
/* Call fn(arg) once, before the first lookup the memo cannot answer (NULL:
 * none). */
GP_HIDDEN void gp_pci_names_on_miss(void (*fn)(void *arg), void *arg);
/* Seed the memo with names an earlier process found (copied). */
GP_HIDDEN void gp_pci_names_seed(const gp_pci_name *names, size_t n);
/* Entries looked up in pci.ids since the last seed or mark (memo-owned). */
GP_HIDDEN size_t gp_pci_names_fresh(const gp_pci_name **out);
GP_HIDDEN void gp_pci_names_mark_saved(void);
/* "path:size:mtime" of libpci's pci.ids, malloc'ed; NULL if absent. */
GP_HIDDEN char *gp_pci_ids_stamp(void);
/* Host model cache (discover/host_cache.c).  Key and stamp of cfg's sources, both
 * malloc'ed, or both NULL when the sources are not cacheable (live or
 * captured sysfs).  GP_ERR_NOMEM only. */
GP_HIDDEN int gp_host_cache_key(const gp_config *cfg, char **key, char **stamp);
/* Load a cached model with this key and stamp into *out (initialised by the
 * call on a hit).  False on a miss or any failure (ctx->err left clear).
 * The cache is its own database, "<state db>.hostcache", never the state. */
GP_HIDDEN bool gp_host_cache_load(gp_host_cache *c, const char *key, const char *stamp,
                                  gp_host *out);
/* Best-effort store of h under key/stamp; silently nothing on failure. */
GP_HIDDEN void gp_host_cache_store(gp_host_cache *c, const char *key, const char *stamp,
                                   const gp_host *h);
/* Seed the PCI name memo from the cache (names found against the current
 * pci.ids), and store what this process looked up.  Best effort. */
GP_HIDDEN void gp_host_cache_names_seed(gp_host_cache *c);
GP_HIDDEN void gp_host_cache_names_store(gp_host_cache *c);
/* Close the cache database (it reopens on next use). */
GP_HIDDEN void gp_host_cache_close(gp_host_cache *c);

/* ---- the PCI hierarchy (validation facts, not part of the host model) ------ */

/* One PCI function with where it hangs: the bridges between it and its root
 * complex and its NUMA node.  Only host-validate needs these facts, so they
 * are read on demand from the configured source and never cached. */
typedef struct {
    char pci_id[GP_PCI_ID_LEN];
    uint16_t class_code, vendor_id, device_id;
    bool bridge;                 /* header type 1 / hwloc Bridge */
    int numa_node;               /* sysfs numa_node or hwloc locality; -1 unknown */
    char **chain;                /* upstream bridges' pci-ids, root port first */
    size_t n_chain;
    char *root;                  /* root complex: sysfs "pci0000:17", hwloc host bridge
                                    "0000:[17-18]", libpci root bus "0000:17"; NULL unknown */
} gp_pci_node;

typedef struct {
    gp_pci_node *nodes;
    size_t n_nodes;
    char *how;                   /* where the hierarchy came from (evidence text) */
} gp_pci_tree;

GP_HIDDEN void gp_pci_tree_init(gp_pci_tree *t);
GP_HIDDEN void gp_pci_tree_dispose(gp_pci_tree *t);
/* The node of pci_id, NULL if none. */
GP_HIDDEN const gp_pci_node *gp_pci_tree_find(const gp_pci_tree *t, const char *pci_id);
/*
 * The PCI hierarchy of cfg's source into *out (_init'ed by the call): an
 * lspci dump through libpci (a bridge's secondary bus number names the bus
 * below it); a sysfs tree (captured or live) from each device's path under
 * devices/pciDDDD:BB/ (the kernel's own parent chain) with sysfs numa_node;
 * an hwloc file used alone (or the embedded host) from its Bridge objects
 * and each object's locality.  Errors: GP_ERR_PCI, GP_ERR_IO, GP_ERR_TOPOLOGY,
 * GP_ERR_NOMEM.
 */
GP_HIDDEN int gp_pci_tree_discover(const gp_config *cfg, gp_pci_tree *out, gp_error_info *err);
/* The libpci part (pci.c) and the hwloc part (hwloc.c; path NULL = the
 * embedded host) of gp_pci_tree_discover. */
GP_HIDDEN int gp_pci_tree_libpci(const gp_config *cfg, gp_pci_tree *out, gp_error_info *err);
GP_HIDDEN int gp_hwloc_pci_tree(const char *path, gp_pci_tree *out, gp_error_info *err);

#ifdef GPUPOOL_WITH_XEN
/* ---- the libxl source (libxl_topo.c) ---------------------------------------- */
/* Open a libxl session of the source's own, fill h's pCPUs, nodes,
 * cpupools and passthrough capability (gp_libxl_topology) or the numa_node
 * of h's GPUs the hypervisor knows (gp_libxl_pci_locality), close it.
 * Errors: GP_ERR_DRIVER (libxl's messages), GP_ERR_NOMEM. */
GP_HIDDEN int gp_libxl_discover_topology(gp_host *h, gp_error_info *err);
GP_HIDDEN int gp_libxl_discover_pci_locality(gp_host *h, gp_error_info *err);
#endif

#endif /* GPUPOOL_DISCOVER_H */
