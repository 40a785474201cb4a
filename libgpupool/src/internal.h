/*
 * internal.h - what libgpupool's source files share; not installed.
 */
#ifndef GPUPOOL_INTERNAL_H
#define GPUPOOL_INTERNAL_H

#include "gpupool.h"

#include <sqlite3.h>
#include <stdarg.h>

#define GP_HIDDEN __attribute__((visibility("hidden")))
#define GP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define GP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors (error.c) ---------------------------------------------------- */

/* Reset e to "no error". */
GP_HIDDEN void gp_err_clear(gp_error_info *e);
/* Set code and formatted message; params follow as key, value, ..., NULL.
 * Returns code so callers can `return gp_err_set(...)`.  e may be NULL. */
GP_HIDDEN int gp_err_set(gp_error_info *e, int code, const char *fmt, ...) GP_PRINTF(3, 4);
/* Append one "key: value" param to e (after gp_err_set). */
GP_HIDDEN void gp_err_param(gp_error_info *e, const char *key, const char *fmt, ...) GP_PRINTF(3, 4);
/* Copy src into dst (dst disposed first). */
GP_HIDDEN void gp_err_copy(gp_error_info *dst, const gp_error_info *src);

/* Shorthands on a context. */
#define GP_ERR(ctx, code, ...) gp_err_set(&(ctx)->err, (code), __VA_ARGS__)
#define GP_PARAM(ctx, key, ...) gp_err_param(&(ctx)->err, (key), __VA_ARGS__)

/* ---- small utilities (util.c) --------------------------------------------- */

GP_HIDDEN char *gp_strdup(const char *s);            /* NULL-safe; NULL on ENOMEM */
GP_HIDDEN char *gp_asprintf(const char *fmt, ...) GP_PRINTF(1, 2);
GP_HIDDEN void gp_strv_free(char **v, size_t n);
/* Read a whole small file (sysfs attribute) into a NUL-terminated buffer with
 * the trailing newline removed.  NULL if absent/unreadable. */
GP_HIDDEN char *gp_read_file_trim(const char *path);
/* Parse a Linux cpulist "0-3,8,10-11" into a sorted int array.
 * Returns 0 or GP_ERR_INVALID_ARGUMENT / GP_ERR_NOMEM. */
GP_HIDDEN int gp_cpulist_parse(const char *s, int **out, size_t *n_out);
/* Format ids as "32,33,34" (comma-joined, no ranges).  Caller frees. */
GP_HIDDEN char *gp_cpulist_join(const int *ids, size_t n);
/* Format ids as a compact range list "0-3,8" (xl config style).  Caller frees. */
GP_HIDDEN char *gp_cpulist_ranges(const int *ids, size_t n);
/* Generate a random RFC 4122 v4 UUID into out (37 bytes). */
GP_HIDDEN void gp_uuid_generate(char out[37]);
GP_HIDDEN bool gp_uuid_valid(const char *s);
/* Current time as ISO 8601 UTC with milliseconds, static-size buffer. */
GP_HIDDEN void gp_now_iso(char buf[32]);
GP_HIDDEN int gp_cmp_int(const void *a, const void *b);

/* ---- host discovery (pci.c, sysfs.c, hwloc.c, host.c) --------------------- */

/* Default class filter (0300, 0302, 0380, 1200). */
GP_HIDDEN bool gp_class_is_gpu(const gp_config *cfg, uint16_t class_code, uint16_t vendor_id);

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
/* Embedded dual-socket 8-GPU host (hwloc XML). */
GP_HIDDEN extern const char gp_embedded_host_xml[];
GP_HIDDEN extern const size_t gp_embedded_host_xml_len;
/* Look up vendor/device/subsystem names for g in pci.ids (libpci). */
GP_HIDDEN int gp_pci_fill_names(gp_gpu *g, gp_error_info *err);
/* Derive link_downgraded from link_cap / link_sta. */
GP_HIDDEN void gp_gpu_update_link_state(gp_gpu *g);
/* Sort host arrays into their documented order and fill node sockets. */
GP_HIDDEN void gp_host_finish(gp_host *host);

/* ---- the hypervisor driver (driver.c, driver_sim.c, driver_xen.c) -------- */

/*
 * A boot-time configuration for a VM: what "record the boot-time GPU and
 * affinity" hands to the driver.  sim stores it; xen/xl prints it or applies
 * it to a paused domain; xapi writes other-config:pci and VCPUs_params:mask.
 */
typedef struct {
    const char *vm_uuid;
    const char *pci_id;
    const char *const *companions;
    size_t n_companions;
    const int *pcpus;
    size_t n_pcpus;
    int memory_node;
    gp_pin_mode pin_mode;
} gp_boot_config;

typedef struct gp_driver_ops {
    const char *name;
    /* Open driver state; priv is stored in ctx->drv_priv. */
    int (*open)(gp_ctx *ctx);
    void (*close)(gp_ctx *ctx);
    /* Topology from the hypervisor (libxl); NULL = not provided. */
    int (*host_topology)(gp_ctx *ctx, gp_host *host);
    /* All VMs known (live domains + driver records). */
    int (*vm_list)(gp_ctx *ctx, gp_vm **out, size_t *n_out);
    /* Make a PCI function assignable (pciback); *orig_driver (caller frees)
     * receives the driver it had ("none" if unbound). */
    int (*device_assignable_add)(gp_ctx *ctx, const char *pci_id, char **orig_driver);
    /* Give it back to orig_driver (NULL/"none": leave unbound). */
    int (*device_assignable_remove)(gp_ctx *ctx, const char *pci_id, const char *orig_driver);
    /* Current binding of a function ("pciback", "nvidia", "none"); caller frees. */
    int (*device_driver)(gp_ctx *ctx, const char *pci_id, char **driver);
    /* Record (bc != NULL) or clear (bc == NULL) the VM's boot-time GPU and affinity. */
    int (*vm_record_boot)(gp_ctx *ctx, const char *vm_uuid, const gp_boot_config *bc);
    /* Apply affinity to a running VM. */
    int (*vm_apply_affinity)(gp_ctx *ctx, const char *vm_uuid, const int *pcpus,
                             size_t n_pcpus, gp_pin_mode mode);
    /* True when the driver's writes happen in the sqlite transaction (sim). */
    bool transactional;
} gp_driver_ops;

GP_HIDDEN extern const gp_driver_ops gp_driver_sim;
#ifdef GPUPOOL_WITH_XEN
GP_HIDDEN extern const gp_driver_ops gp_driver_xen;
/* True when libxl can talk to a hypervisor here. */
GP_HIDDEN bool gp_xen_present(void);
#endif
/* Select and open the driver if not yet done. */
GP_HIDDEN int gp_driver_get(gp_ctx *ctx, const gp_driver_ops **out);

/* ---- state (store.c) ------------------------------------------------------ */

/* Open (create, chmod 0600, WAL, foreign keys, migrate) the database if not
 * open yet. */
GP_HIDDEN int gp_store_open(gp_ctx *ctx);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
GP_HIDDEN int gp_store_begin(gp_ctx *ctx);
GP_HIDDEN int gp_store_commit(gp_ctx *ctx);
GP_HIDDEN void gp_store_rollback(gp_ctx *ctx);
/* Turn a sqlite error into GP_ERR_DB / GP_ERR_DB_BUSY on ctx. */
GP_HIDDEN int gp_store_error(gp_ctx *ctx, int rc, const char *what);
/* Append an audit row in the current transaction.  before/after: JSON or NULL. */
GP_HIDDEN int gp_store_audit(gp_ctx *ctx, const char *operation, const char *object,
                             const char *before, const char *after);
GP_HIDDEN int gp_store_schema_version(void);

/* ---- the context ---------------------------------------------------------- */

struct gp_ctx {
    gp_config cfg;
    gp_error_info err;
    sqlite3 *db;
    bool in_txn;
    gp_host host;
    bool host_loaded;
    const gp_driver_ops *drv;
    void *drv_priv;
};

GP_HIDDEN int gp_config_copy(gp_config *dst, const gp_config *src);

#endif /* GPUPOOL_INTERNAL_H */
