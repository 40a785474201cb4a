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
/* A VM in a message: "name (uuid)", or the uuid alone when it has no name
 * (a halted VM on plain Xen is known by its uuid only).  Returns buf. */
GP_HIDDEN const char *gp_vm_label(const char *name_label, const char *uuid, char *buf,
                                  size_t len);
/* Generate a random RFC 4122 v4 UUID into out (37 bytes). */
GP_HIDDEN void gp_uuid_generate(char out[37]);
GP_HIDDEN bool gp_uuid_valid(const char *s);
/* Current time as ISO 8601 UTC with milliseconds, static-size buffer. */
GP_HIDDEN void gp_now_iso(char buf[32]);
GP_HIDDEN int gp_cmp_int(const void *a, const void *b);
/* Make room for element n of a growing array *arr of *cap elements of elem
 * bytes (capacity doubles, from 16).  0, or -1 on ENOMEM with *arr and *cap
 * untouched. */
GP_HIDDEN int gp_array_reserve(void **arr, size_t *cap, size_t n, size_t elem);

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
/* Look up vendor/device/subsystem names for g: the process's name memo,
 * else pci.ids (libpci; loading it costs ~5 ms, once per process). */
GP_HIDDEN int gp_pci_fill_names(gp_gpu *g, gp_error_info *err);
/* Names of one (vendor, device, subsystem) id set. */
typedef struct {
    uint16_t vendor_id, device_id, subsys_vendor_id, subsys_device_id;
    char *vendor_name, *device_name, *subsys_name;  /* NULL unknown */
} gp_pci_name;
/* Seed the memo with names an earlier process found (copied). */
GP_HIDDEN void gp_pci_names_seed(const gp_pci_name *names, size_t n);
/* Entries looked up in pci.ids since the last seed or mark (memo-owned). */
GP_HIDDEN size_t gp_pci_names_fresh(const gp_pci_name **out);
GP_HIDDEN void gp_pci_names_mark_saved(void);
/* "path:size:mtime" of libpci's pci.ids, malloc'ed; NULL if absent. */
GP_HIDDEN char *gp_pci_ids_stamp(void);
/* Derive link_downgraded from link_cap / link_sta. */
GP_HIDDEN void gp_gpu_update_link_state(gp_gpu *g);
/* Free an array of n NUMA nodes and each node's cpus and distances (host.c).
 * nodes may be NULL. */
GP_HIDDEN void gp_numa_nodes_free(gp_numa_node *nodes, size_t n);
/* Sort host arrays into their documented order and fill node sockets. */
GP_HIDDEN void gp_host_finish(gp_host *host);
/* Host model cache (host_cache.c).  Key and stamp of cfg's sources, both
 * malloc'ed, or both NULL when the sources are not cacheable (live or
 * captured sysfs).  GP_ERR_NOMEM only. */
GP_HIDDEN int gp_host_cache_key(const gp_config *cfg, char **key, char **stamp);
/* Load a cached model with this key and stamp into *out (initialised by the
 * call on a hit).  False on a miss or any failure (ctx->err left clear).
 * The cache is its own database, "<state db>.hostcache", never the state. */
GP_HIDDEN bool gp_host_cache_load(gp_ctx *ctx, const char *key, const char *stamp,
                                  gp_host *out);
/* Best-effort store of h under key/stamp; silently nothing on failure. */
GP_HIDDEN void gp_host_cache_store(gp_ctx *ctx, const char *key, const char *stamp,
                                   const gp_host *h);
/* Seed the PCI name memo from the cache (names found against the current
 * pci.ids), and store what this process looked up.  Best effort. */
GP_HIDDEN void gp_host_cache_names_seed(gp_ctx *ctx);
GP_HIDDEN void gp_host_cache_names_store(gp_ctx *ctx);
/* Close the cache database (gp_ctx_free). */
GP_HIDDEN void gp_host_cache_close(gp_ctx *ctx);

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

struct gp_driver_ops;
/* memory_node_certainty / _basis of an assignment from its driver. */
GP_HIDDEN void gp_assignment_memory_certainty(const struct gp_driver_ops *drv, gp_assignment *a);

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
    /* Optional: one VM by uuid or unique name-label, without listing every
     * VM (out is _init'ed by the caller).  Sets ctx->err and returns
     * GP_ERR_UNKNOWN_VM, GP_ERR_VM_AMBIGUOUS, GP_ERR_DRIVER or GP_ERR_DB*.
     * NULL: gp_vm_get() searches vm_list() instead. */
    int (*vm_get)(gp_ctx *ctx, const char *vm, gp_vm *out);
    /* xen driver: optional, called by gp_host_get() after PCI discovery
     * (live host only): set the numa_node of each GPU from the hypervisor
     * (libxl_get_pci_topology); a device the hypervisor gives no node keeps
     * what discovery found.  NULL: nothing. */
    int (*host_pci_locality)(gp_ctx *ctx, gp_host *host);
    /* What an assignment's memory_node is worth with this driver (the
     * assignment's memory_node_certainty) and why (static text).  Zero /
     * NULL: unknown, "the <name> driver does not place memory". */
    gp_memnode_certainty memory_certainty;
    const char *memory_basis;
} gp_driver_ops;

GP_HIDDEN extern const gp_driver_ops gp_driver_sim;
#ifdef GPUPOOL_WITH_XEN
GP_HIDDEN extern const gp_driver_ops gp_driver_xen;
/* True when libxl can talk to a hypervisor here. */
GP_HIDDEN bool gp_xen_present(void);
/* The xen driver's topology (libxl cpu topology, numainfo, cpupools,
 * physinfo) and PCI locality (libxl_get_pci_topology) for another driver:
 * xapi on XCP-ng, where dom0's sysfs shows neither.  Errors as the xen
 * driver's (GP_ERR_DRIVER with libxl's message). */
GP_HIDDEN int gp_xen_host_topology(gp_ctx *ctx, gp_host *h);
GP_HIDDEN int gp_xen_host_pci_locality(gp_ctx *ctx, gp_host *h);

/* ---- xen driver (driver_xen.c): what xen_ops.c and the tests use ---------- */

/* Live domain of a VM uuid: *domid = -1 when none.  Fills dominfo fields
 * the callers need: paused, cpu_time (ns), vcpus (max id + 1). */
typedef struct {
    int domid;
    bool paused, running, shutdown, dying;
    uint64_t cpu_time_ns;
    int vcpus;
    int cpupool;
    bool pv;                 /* PV domain (libxl_domain_type PV) */
} gp_xen_dom;
GP_HIDDEN int gp_xen_domain_find(gp_ctx *ctx, const char *vm_uuid, gp_xen_dom *out);
/* Name of the cpupool with id poolid as Xen reports it now
 * (libxl_list_cpupool), malloc'ed in *name_out (caller frees); *name_out is
 * NULL when Xen has no cpupool with that id.  Errors: GP_ERR_DRIVER (libxl's
 * message), GP_ERR_NOMEM. */
GP_HIDDEN int gp_xen_cpupool_name(gp_ctx *ctx, int poolid, char **name_out);
/* Attach pci_ids[0..n) to domid (libxl_device_pci_add); functions already
 * attached are skipped; attached (may be NULL, n entries) tells which this
 * call attached.  On failure the ones this call attached are detached again
 * and ctx->err carries libxl's message. */
GP_HIDDEN int gp_xen_pci_attach(gp_ctx *ctx, int domid, const char *const *pci_ids, size_t n,
                                bool *attached);
GP_HIDDEN int gp_xen_pci_detach(gp_ctx *ctx, int domid, const char *const *pci_ids, size_t n);
/* Set hard / soft affinity of every vCPU of domid to pcpus and read it back
 * (libxl_list_vcpu); a difference is GP_ERR_DRIVER naming the vCPU. */
GP_HIDDEN int gp_xen_pin(gp_ctx *ctx, int domid, const int *pcpus, size_t n, gp_pin_mode mode);
/* The domain's NUMA node affinity (libxl_domain_get_nodeaffinity) as a
 * range list ("2", "0-3") in out; "" when libxl cannot tell (seam without
 * it).  Errors: GP_ERR_DRIVER (libxl's message), GP_ERR_NOMEM. */
GP_HIDDEN int gp_xen_node_affinity(gp_ctx *ctx, int domid, char *out, size_t len);
/* Snapshot of what Xen reports, for host-reconcile. */
typedef struct {
    char pci_id[GP_PCI_ID_LEN];
    int domid;               /* domain it is attached to */
    char vm_uuid[37];
} gp_xen_attached;
typedef struct {
    char **assignable;       /* libxl_device_pci_assignable_list, canonical ids */
    size_t n_assignable;
    gp_xen_attached *attached; /* every PCI function attached to a live domain */
    size_t n_attached;
} gp_xen_state;
GP_HIDDEN int gp_xen_state_get(gp_ctx *ctx, gp_xen_state *st);
GP_HIDDEN void gp_xen_state_dispose(gp_xen_state *st);
/* Hard (mode hard) or soft affinity of each vCPU of domid, as cpulists
 * ("2,3"); caller frees with gp_strv_free(v, n). */
GP_HIDDEN int gp_xen_affinity_get(gp_ctx *ctx, int domid, gp_pin_mode mode, char ***out,
                                  size_t *n_out);
/* The libxl seam: the functions of libxl the driver calls, replaceable by
 * tests (NULL restores the real ones).  Defined in driver_xen.c. */
struct gp_xen_libxl;
GP_HIDDEN void gp_xen_set_libxl(const struct gp_xen_libxl *ops);
#endif
/* Select and open the driver if not yet done. */
GP_HIDDEN int gp_driver_get(gp_ctx *ctx, const gp_driver_ops **out);

/* XCP-ng: VM state, boot-time GPU (other-config:pci) and pinning
 * (VCPUs_params:mask) and dom0 access of PCI functions all go through xapi
 * (driver_xapi.c, XML-RPC over xapi's Unix socket). */
GP_HIDDEN extern const gp_driver_ops gp_driver_xapi;
/* Socket path the xapi driver uses: cfg->xapi_socket, else
 * GP_XAPI_DEFAULT_SOCKET.  Static or cfg-owned storage. */
GP_HIDDEN const char *gp_xapi_socket_path(const gp_config *cfg);
/* True when that path exists and is a Unix socket (xapi is running): the
 * automatic driver choice then picks "xapi" before "xen". */
GP_HIDDEN bool gp_xapi_present(const gp_config *cfg);

/* ---- XML-RPC (xmlrpc.c) ---------------------------------------------------- */

typedef enum {
    GP_XR_NIL = 0,
    GP_XR_STRING,
    GP_XR_INT,       /* <int>, <i4>, <i8> */
    GP_XR_BOOL,
    GP_XR_DOUBLE,
    GP_XR_DATETIME,  /* text kept in str */
    GP_XR_BASE64,    /* text kept in str (not decoded) */
    GP_XR_STRUCT,
    GP_XR_ARRAY,
} gp_xr_type;

/* One XML-RPC value.  STRUCT: n members keys[i] -> items[i], in document
 * order; ARRAY: n items.  Owns everything it points to. */
typedef struct gp_xr_value {
    gp_xr_type type;
    char *str;                 /* STRING / DATETIME / BASE64 */
    int64_t i;                 /* INT, BOOL (0/1) */
    double d;                  /* DOUBLE */
    char **keys;               /* STRUCT member names */
    struct gp_xr_value *items; /* STRUCT member values, ARRAY items */
    size_t n;
} gp_xr_value;

GP_HIDDEN void gp_xr_value_init(gp_xr_value *v);    /* NIL */
GP_HIDDEN void gp_xr_value_dispose(gp_xr_value *v);
/* Make v the string s (copied; NULL = "").  GP_ERR_NOMEM. */
GP_HIDDEN int gp_xr_set_string(gp_xr_value *v, const char *s);
/* Append a string to an ARRAY / a key -> string member to a STRUCT.
 * GP_ERR_INVALID_ARGUMENT (wrong type), GP_ERR_NOMEM. */
GP_HIDDEN int gp_xr_array_add_string(gp_xr_value *arr, const char *s);
GP_HIDDEN int gp_xr_struct_add_string(gp_xr_value *st, const char *key, const char *s);
/* Append an empty value of type to a STRUCT (key) or ARRAY (key ignored);
 * returns it (owned by the container) or NULL (ENOMEM / not a container). */
GP_HIDDEN gp_xr_value *gp_xr_struct_add(gp_xr_value *st, const char *key, gp_xr_type type);
/* Member of a STRUCT (the last one when a name repeats), or NULL. */
GP_HIDDEN const gp_xr_value *gp_xr_struct_get(const gp_xr_value *st, const char *key);
/* The member's string, NULL when absent or not a string. */
GP_HIDDEN const char *gp_xr_struct_get_string(const gp_xr_value *st, const char *key);
GP_HIDDEN const char *gp_xr_type_name(gp_xr_type t);
/*
 * Parse a methodCall (len bytes of buf, no NUL needed).  *method (caller
 * frees) receives the method name, params an ARRAY of the params.  Bare
 * <value>text</value> and <value/> are strings.  Refuses a DTD, unknown
 * types, nesting deeper than 64.  Errors: GP_ERR_INVALID_ARGUMENT (err names
 * the problem and the line), GP_ERR_NOMEM.
 */
GP_HIDDEN int gp_xr_parse_call(const char *buf, size_t len, char **method,
                               gp_xr_value *params, gp_error_info *err);
/* Parse a methodResponse: its single param into out, or its <fault> value
 * (with *fault = true).  Errors as gp_xr_parse_call. */
GP_HIDDEN int gp_xr_parse_response(const char *buf, size_t len, gp_xr_value *out,
                                   bool *fault, gp_error_info *err);
/* Serialise a methodCall / methodResponse (UTF-8, XML declaration, every
 * string escaped by libxml2 after gp_xr_sanitize).  *out (caller frees) is
 * NUL-terminated, *len (may be NULL) its length.  GP_ERR_NOMEM,
 * GP_ERR_INVALID_ARGUMENT (nesting deeper than 64). */
GP_HIDDEN int gp_xr_build_call(const char *method, const gp_xr_value *params,
                               size_t n_params, char **out, size_t *len);
GP_HIDDEN int gp_xr_build_response(const gp_xr_value *v, char **out, size_t *len);
/* The XenAPIPlugin reply shapes: {Status: "Success", Value: value} and
 * {Status: "Failure", ErrorDescription: [desc...]}. */
GP_HIDDEN int gp_xr_build_plugin_success(const char *value, char **out, size_t *len);
GP_HIDDEN int gp_xr_build_plugin_failure(const char *const *desc, size_t n,
                                         char **out, size_t *len);
/* Copy of s that is valid XML 1.0 character data: invalid UTF-8 bytes and
 * characters XML forbids (controls other than tab/LF/CR, U+FFFE/FFFF)
 * become U+FFFD.  Caller frees; NULL on ENOMEM. */
GP_HIDDEN char *gp_xr_sanitize(const char *s);

/* ---- xapi client (xapi.c) --------------------------------------------------- */

#define GP_XAPI_DEFAULT_SOCKET "/var/lib/xcp/xapi"

typedef struct gp_xapi gp_xapi;

/*
 * Connect to xapi over its Unix socket (HTTP POST of XML-RPC, libcurl with
 * CURLOPT_UNIX_SOCKET_PATH; libcurl is loaded with dlopen on first use so
 * that front ends which never talk to xapi do not pay for loading it).
 * session: a session ref to use (the plugin's, from xapi), or NULL to log in
 * with session.login_with_password("root", "") (xapi lets local root in over
 * the socket) and log out in gp_xapi_close().  deadline_ms: CLOCK_MONOTONIC
 * milliseconds after which no call is started and a running one is abandoned
 * with GP_ERR_TIMEOUT; 0 = none.
 * Errors: GP_ERR_NOT_SUPPORTED (libcurl missing), GP_ERR_DRIVER (cannot
 * connect, login refused), GP_ERR_TIMEOUT, GP_ERR_NOMEM.
 */
GP_HIDDEN int gp_xapi_open(gp_xapi **out, const char *socket_path, const char *session,
                           uint64_t deadline_ms, gp_error_info *err);
GP_HIDDEN void gp_xapi_close(gp_xapi *x);
/* The session ref in use (static to x). */
GP_HIDDEN const char *gp_xapi_session(const gp_xapi *x);
/*
 * Call method(session, args[0..n_args-1]) (string arguments) and put the
 * Value of a Success into result (_init'ed by the callee).  A Failure sets
 * GP_ERR_DRIVER with "xapi <method>: <code> <params...>" and the params
 * xapi-method, xapi-error, then each ErrorDescription parameter as
 * xapi-param; gp_xapi_last_failure() then gives the code.
 * Errors: GP_ERR_DRIVER, GP_ERR_TIMEOUT, GP_ERR_NOMEM.
 */
GP_HIDDEN int gp_xapi_call(gp_xapi *x, const char *method, const char *const *args,
                           size_t n_args, gp_xr_value *result, gp_error_info *err);
/* Same, without the session as first argument (session.login_with_password). */
GP_HIDDEN int gp_xapi_call_nosession(gp_xapi *x, const char *method, const char *const *args,
                                     size_t n_args, gp_xr_value *result, gp_error_info *err);
/* ErrorDescription code of the last call when xapi answered Failure (e.g.
 * "UUID_INVALID", "MAP_DUPLICATE_KEY"), else NULL.  Owned by x. */
GP_HIDDEN const char *gp_xapi_last_failure(const gp_xapi *x);
/* Milliseconds of CLOCK_MONOTONIC (for deadlines). */
GP_HIDDEN uint64_t gp_monotonic_ms(void);

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
/* Prepare sql on ctx->db (opening the store if needed).  On failure sets
 * ctx->err (GP_ERR_DB) and returns it; *st is then NULL.  Caller finalizes. */
GP_HIDDEN int gp_store_prepare(gp_ctx *ctx, const char *sql, sqlite3_stmt **st);
/* Find a pool by uuid or name-label (uuid first).  uuid_out (37 bytes)
 * receives its uuid; name_out, when not NULL, its name-label (caller frees).
 * Errors (ctx->err set): GP_ERR_UNKNOWN_POOL (param "pool"), GP_ERR_DB*,
 * GP_ERR_NOMEM. */
GP_HIDDEN int gp_store_pool_find(gp_ctx *ctx, const char *pool, char uuid_out[37],
                                 char **name_out);
/* Run one statement of sql binding ?1..?n to the n strings that follow
 * (NULL binds SQL NULL; sqlite copies nothing, so they must outlive the
 * call).  Errors (ctx->err set): GP_ERR_DB* naming what ("removing a GPU
 * from its pool") from gp_store_prepare / gp_store_error. */
GP_HIDDEN int gp_store_exec(gp_ctx *ctx, const char *what, const char *sql, int n, ...);
/* The first column of the first row of sql binding ?1 = arg, as a copy in
 * *val (caller frees); *val is NULL when there is no row.  For NOT NULL
 * columns: a NULL value reads as GP_ERR_NOMEM.  Errors (ctx->err set):
 * GP_ERR_DB* naming what, GP_ERR_NOMEM. */
GP_HIDDEN int gp_store_query_text(gp_ctx *ctx, const char *what, const char *sql,
                                  const char *arg, char **val);
/* Append an audit row for a change of one object: before / after (either
 * may be NULL: created / destroyed) are turned into JSON text by to_json
 * (malloc'ed string, NULL on ENOMEM) and passed to gp_store_audit.
 * Errors: GP_ERR_NOMEM (to_json failed), those of gp_store_audit. */
GP_HIDDEN int gp_store_audit_change(gp_ctx *ctx, const char *operation, const char *object,
                                    char *(*to_json)(const void *obj), const void *before,
                                    const void *after);
/* Compact JSON text of o (json-c JSON_C_TO_STRING_PLAIN), malloc'ed; o is
 * released (json_object_put) either way.  NULL when o is NULL or on ENOMEM. */
struct json_object;
GP_HIDDEN char *gp_json_take_text(struct json_object *o);

/* ---- the context ---------------------------------------------------------- */

struct gp_ctx {
    gp_config cfg;
    gp_error_info err;
    sqlite3 *db;
    bool in_txn;
    gp_host host;
    bool host_loaded;
    sqlite3 *cache_db;      /* host model cache (host_cache.c), lazily opened */
    const gp_driver_ops *drv;
    void *drv_priv;
};

GP_HIDDEN int gp_config_copy(gp_config *dst, const gp_config *src);

#endif /* GPUPOOL_INTERNAL_H */
