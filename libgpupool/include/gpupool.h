/*
 * gpupool.h - public interface of libgpupool.
 *
 * libgpupool turns the GPUs of a Xen / XCP-ng host into managed PCI
 * passthrough pools: it discovers GPUs and host topology, keeps pools and
 * assignments in a sqlite3 database, enforces the rules (one GPU per VM, a
 * GPU held by at most one VM, changes only while the VM is halted) and plans
 * NUMA-aware placement, which it applies through a hypervisor driver.
 *
 * Conventions (after libxl):
 *  - Every function that can fail returns an int: GP_OK (0) on success or a
 *    negative gp_error code.  The code, a human message and the objects it
 *    names are kept in the context: gp_ctx_last_error().  The library never
 *    prints and never exits.
 *  - Structures the caller owns come in _init / _dispose pairs; _dispose frees
 *    what the structure points to (not the structure) and may be called on an
 *    _init'ed structure or twice.
 *  - Arrays returned through (T **out, size_t *n_out) are owned by the caller
 *    and freed with the matching gp_*_list_free().
 *  - Units are in the names: _bytes, _mib, _gts (GT/s).
 *  - Feature macros GPUPOOL_HAVE_* announce optional parts of the API.
 */
#ifndef GPUPOOL_H
#define GPUPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GPUPOOL_VERSION_MAJOR 0
#define GPUPOOL_VERSION_MINOR 1
#define GPUPOOL_VERSION_STRING "0.1.0"

/* The hypervisor driver interface and the "sim" driver are present. */
#define GPUPOOL_HAVE_DRIVER_SIM 1
/* gp_record_*: objects as ordered key/value records (xe params, JSON). */
#define GPUPOOL_HAVE_RECORDS 1
/* gp_config_*: /etc/gpupool/gpupool.conf handling. */
#define GPUPOOL_HAVE_CONFIG 1
/* The "xapi" driver (XCP-ng), gp_xapi_dom0_access() and gp_drift_check(). */
#define GPUPOOL_HAVE_XAPI 1
/* gp_pool.cpupool, gp_pool_spec / gp_pool_create_ex() and the "cpupool" pool
 * parameter: a pool's VMs live in one named Xen cpupool. */
#define GPUPOOL_HAVE_POOL_CPUPOOL 1

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Error codes.  Each has a stable upper-case name (gp_error_name()): the CLI
 * prints it as the first line of an error, the XAPI plugin returns it
 * prefixed with "GPUPOOL_".  Never renumber; append only.
 */
typedef enum {
    GP_OK = 0,
    GP_ERR_INTERNAL = -1,          /* INTERNAL_ERROR: a bug or impossible state */
    GP_ERR_NOMEM = -2,             /* OUT_OF_MEMORY */
    GP_ERR_INVALID_ARGUMENT = -3,  /* INVALID_ARGUMENT: bad value for a parameter */
    GP_ERR_IO = -4,                /* IO_ERROR: a file or directory could not be read */
    GP_ERR_DB = -5,                /* DATABASE_ERROR: sqlite3 failed */
    GP_ERR_DB_BUSY = -6,           /* DATABASE_BUSY: lock not obtained within the busy timeout */
    GP_ERR_DB_VERSION = -7,        /* DATABASE_VERSION: schema newer than this library */
    GP_ERR_PCI = -8,               /* PCI_ACCESS_ERROR: libpci could not scan the source */
    GP_ERR_TOPOLOGY = -9,          /* TOPOLOGY_ERROR: hwloc XML / sysfs node data unusable */
    GP_ERR_PCI_ID_INVALID = -10,   /* PCI_ID_INVALID: malformed pci-id (SBDF) */
    GP_ERR_UNKNOWN_GPU = -11,      /* UNKNOWN_GPU: no GPU with that pci-id on this host */
    GP_ERR_UNKNOWN_POOL = -12,     /* UNKNOWN_POOL */
    GP_ERR_UNKNOWN_VM = -13,       /* UNKNOWN_VM */
    GP_ERR_VM_AMBIGUOUS = -14,     /* VM_NAME_AMBIGUOUS: name-label matches several VMs */
    GP_ERR_POOL_EXISTS = -15,      /* POOL_NAME_EXISTS: name-label already used */
    GP_ERR_POOL_NOT_EMPTY = -16,   /* POOL_NOT_EMPTY: destroy of a pool with GPUs */
    GP_ERR_GPU_IN_OTHER_POOL = -17,/* GPU_IN_OTHER_POOL: a GPU is in at most one pool */
    GP_ERR_GPU_NOT_IN_POOL = -18,  /* GPU_NOT_IN_POOL */
    GP_ERR_GPU_ASSIGNED = -19,     /* GPU_ASSIGNED: held by a VM (cannot leave pool, cannot be assigned again) */
    GP_ERR_VM_HAS_GPU = -20,       /* VM_HAS_GPU: one GPU per VM */
    GP_ERR_VM_NO_GPU = -21,        /* VM_HAS_NO_GPU: release of a VM without assignment */
    GP_ERR_VM_NOT_HALTED = -22,    /* VM_NOT_HALTED: VM running, paused or suspended */
    GP_ERR_GPU_BOOT_VGA = -23,     /* GPU_IS_BOOT_VGA: the host console GPU never enters a pool */
    GP_ERR_IOMMU_GROUP = -24,      /* IOMMU_GROUP_NOT_ISOLATED: group holds a foreign device */
    GP_ERR_NO_PLACEMENT = -25,     /* NO_PLACEMENT: no node satisfies the pool's policy */
    GP_ERR_POOL_EMPTY = -26,       /* POOL_HAS_NO_FREE_GPU */
    GP_ERR_DRIVER = -27,           /* DRIVER_ERROR: the hypervisor refused; message is its own */
    GP_ERR_NOT_SUPPORTED = -28,    /* NOT_SUPPORTED: not possible with this driver / source */
    GP_ERR_TIMEOUT = -29,          /* TIMEOUT: the call ran past its time limit */
    GP_ERR_PERMISSION = -30,       /* PERMISSION_DENIED */
    GP_ERR_NO_PASSTHROUGH = -31,   /* PASSTHROUGH_UNAVAILABLE: no IOMMU / directio */
    GP_ERR_VM_STARTED = -32,       /* VM_ALREADY_RAN: boot-prepare on a domain that ran */
    GP_ERR_GPU_MISSING = -33,      /* GPU_MISSING: a pool member no longer on the host */
    GP_ERR_IN_PROGRESS = -34,      /* OPERATION_IN_PROGRESS: another gpupool call is writing
                                      this VM or GPU into xapi (intent journal) */
    GP_ERR_WRONG_HOST = -35,       /* VM_ON_OTHER_HOST: resident on, bound to, or with local
                                      disks on another host of the XCP-ng pool */
    GP_ERR_VM_UNSUITABLE = -36,    /* VM_NOT_SUITABLE: a template, snapshot, control domain
                                      or PV/PVH guest cannot take a passthrough GPU */
    GP_ERR_QUOTA_EXCEEDED = -37,   /* QUOTA_EXCEEDED: the tenant holds its quota of the pool's
                                      GPUs (params tenant, pool, used, limit) */
    GP_ERR_TENANT_NOT_ALLOWED = -38, /* TENANT_NOT_ALLOWED: the pool's allowed-tenants does not
                                        name the tenant (params tenant, pool, allowed) */
} gp_error;

/* Time (ms) an undo gets of its own after a failure or a timeout: gpupool's
 * writes into xapi are taken back on this budget, not the call's
 * (timeout-ms), so a front end that stops a call hard waits this long past
 * its deadline first. */
#define GP_UNDO_BUDGET_MS 10000u

/* Stable upper-case name of an error code, e.g. "VM_NOT_HALTED".  Static
 * storage; never NULL ("UNKNOWN_ERROR" for a code this library does not know). */
const char *gp_error_name(int err);

/* One "name: value" pair that an error names (e.g. vm / 6f1c...). */
typedef struct {
    char *key;
    char *value;
} gp_error_param;

/*
 * A copy of s fit for one log line (syslog, a terminal): LF, CR, tab and
 * backslash become \n, \r, \t and \\, every other control character
 * (bytes 0x00..0x1f and 0x7f) becomes \xNN; other bytes, UTF-8 included,
 * are copied.  max_len > 0 bounds the escaped text to max_len bytes, cut
 * before an escape or a UTF-8 sequence that would cross it, and "..." is
 * appended when something was cut; 0 = no bound.  Returns a malloc'ed string
 * the caller frees, NULL when s is NULL or memory ran out.
 */
char *gp_str_escape_ctl(const char *s, size_t max_len);

/* The last error set on a context. */
typedef struct {
    int code;                   /* gp_error, GP_OK when none */
    char *message;              /* one line, names the objects; "" when none */
    gp_error_param *params;     /* objects the error names, in order */
    size_t n_params;
} gp_error_info;

/* ------------------------------------------------------------------------ */
/* Configuration and context                                                 */
/* ------------------------------------------------------------------------ */

#define GP_DEFAULT_DB_PATH     "/var/lib/gpupool/state.db"
#define GP_DEFAULT_CONFIG_PATH "/etc/gpupool/gpupool.conf"
/* Value of gp_config.topology_file that selects the embedded host model:
 * a dual-socket 8-GPU server (hwloc XML compiled into the library). */
#define GP_TOPOLOGY_EMBEDDED   "embedded"

/* One entry of the GPU class filter: a device is a GPU when
 * (class & class_mask) == class_value and, if vendor_id != 0, its vendor
 * matches.  class is the 16-bit base+sub class (0x0300 = VGA). */
typedef struct {
    uint16_t class_value;
    uint16_t class_mask;     /* 0xffff exact, 0xff00 whole base class */
    uint16_t vendor_id;      /* 0 = any vendor */
} gp_class_match;

/*
 * Where facts come from and where state goes.  Every string is owned by the
 * structure (gp_config_dispose frees them); NULL means "not set".
 */
typedef struct {
    char *db_path;        /* sqlite3 database; default GP_DEFAULT_DB_PATH */
    char *driver;         /* "sim", "xen", "xapi" or NULL = auto (xapi if its socket
                             exists, else xen if a hypervisor answers, else sim) */
    char *sysfs_root;     /* captured sysfs tree (holds bus/pci/devices); NULL = live /sys */
    char *pci_dump;       /* lspci -xxx / -xxxx hex dump for libpci's dump method */
    char *topology_file;  /* hwloc XML (lstopo --of xml), or GP_TOPOLOGY_EMBEDDED */
    gp_class_match *classes; /* GPU class filter; NULL = default (0300, 0302, 0380, 1200) */
    size_t n_classes;
    char *caller;         /* who acts, for the audit log (e.g. "xe-gpupool uid=0 pid=42") */
    unsigned timeout_ms;  /* whole-call limit for front ends (plugin); 0 = none */
    unsigned busy_timeout_ms; /* sqlite busy timeout; 0 = default 10000 */
    char *xapi_socket;    /* xapi's Unix socket (driver "xapi"); NULL = /var/lib/xcp/xapi */
    char *xapi_session;   /* xapi session ref to use (the plugin's caller); NULL = log in
                             as local root over the socket */
    int64_t audit_max_entries; /* audit rows kept, the newest; 0 = default
                                  GP_AUDIT_MAX_ENTRIES_DEFAULT, < 0 = no limit */
    int audit_max_days;   /* audit rows younger than this many days kept; 0 = default
                             GP_AUDIT_MAX_DAYS_DEFAULT, < 0 = no limit */
    char *inventory;      /* XCP-ng's host inventory (INSTALLATION_UUID names this
                             host); NULL = /etc/xensource-inventory */
    char *tenant_tag_prefix; /* VM tag naming a VM's tenant; NULL = GP_TENANT_TAG_PREFIX */
} gp_config;

/* Audit retention when gp_config leaves it 0 (configuration keys
 * audit-max-entries, audit-max-days; 0 there means no limit).  Every audit
 * row written removes the oldest rows beyond either limit. */
#define GP_AUDIT_MAX_ENTRIES_DEFAULT 100000
#define GP_AUDIT_MAX_DAYS_DEFAULT 400

void gp_config_init(gp_config *cfg);
void gp_config_dispose(gp_config *cfg);

/*
 * Parse a class filter "0300,0302,0380,1200,0b40,0300:10de" into cfg->classes
 * (replacing what was there).  Each item is CCCC (exact 16-bit class), CC
 * (whole base class) or CCCC:VVVV (class and vendor id), hex.
 * Errors: GP_ERR_INVALID_ARGUMENT (nothing changed), GP_ERR_NOMEM.
 */
int gp_config_set_classes(gp_config *cfg, const char *spec, gp_error_info *err);

/*
 * Read a configuration file of "key = value" lines ('#' comments).  Keys:
 * db, driver, sysfs-root, pci-dump, topology, gpu-classes, timeout-ms,
 * xapi-socket, inventory, tenant-tag-prefix, audit-max-entries (0..1000000000, 0 = no limit),
 * audit-max-days (0..36500, 0 = no limit).
 * Values set in the file replace those in cfg.  A missing file is not an
 * error when missing_ok is true.  Errors: GP_ERR_IO, GP_ERR_INVALID_ARGUMENT
 * (unknown key or bad value, with the line number), GP_ERR_NOMEM.
 */
int gp_config_load_file(gp_config *cfg, const char *path, bool missing_ok,
                        gp_error_info *err);

/* Apply GPUPOOL_DB, GPUPOOL_DRIVER, GPUPOOL_SYSFS_ROOT, GPUPOOL_PCI_DUMP,
 * GPUPOOL_TOPOLOGY, GPUPOOL_GPU_CLASSES, GPUPOOL_XAPI_SOCKET,
 * GPUPOOL_AUDIT_MAX_ENTRIES, GPUPOOL_AUDIT_MAX_DAYS from the environment
 * (the keys' values and errors). */
int gp_config_load_env(gp_config *cfg, gp_error_info *err);
/* Set cfg->driver to name, one of the driver set (gp_set_names(GP_SET_DRIVER))
 * or "auto" (NULL: choose at open).  Errors: GP_ERR_INVALID_ARGUMENT
 * (param driver; cfg unchanged), GP_ERR_NOMEM. */
int gp_config_set_driver(gp_config *cfg, const char *name, gp_error_info *err);

void gp_error_info_init(gp_error_info *e);
void gp_error_info_dispose(gp_error_info *e);

typedef struct gp_ctx gp_ctx;

/*
 * Create a context from cfg (copied; the caller keeps cfg).  Opening is lazy:
 * the database is opened (and created / migrated) on first use, the host is
 * discovered on first use, the driver is chosen on first use.
 * On failure *out is NULL and err (if not NULL) says why.
 * Errors: GP_ERR_NOMEM, GP_ERR_INVALID_ARGUMENT (unknown driver name).
 */
int gp_ctx_alloc(gp_ctx **out, const gp_config *cfg, gp_error_info *err);
void gp_ctx_free(gp_ctx *ctx);

/* The last error set on ctx; valid until the next call on ctx. */
const gp_error_info *gp_ctx_last_error(const gp_ctx *ctx);

/* Name of the driver in use ("sim" or "xen"); selects it if not yet done. */
const char *gp_ctx_driver_name(gp_ctx *ctx);

/* ------------------------------------------------------------------------ */
/* PCI addresses                                                             */
/* ------------------------------------------------------------------------ */

/* Room for "dddddddd:bb:dd.f" plus NUL (32-bit PCI segment numbers exist). */
#define GP_PCI_ID_LEN 20

typedef struct {
    uint32_t domain;  /* PCI segment */
    uint8_t bus, dev, func;
} gp_pci_addr;

/*
 * Parse a pci-id (SBDF): "0000:41:00.0", "41:00.0" (segment 0) or a 32-bit
 * segment "10000:00:00.0".  Hex digits in any case.  dev <= 0x1f, func <= 7.
 * Errors: GP_ERR_PCI_ID_INVALID (err names the text).
 */
int gp_pci_addr_parse(const char *text, gp_pci_addr *out, gp_error_info *err);

/* Format as canonical lower-case "%04x:%02x:%02x.%x" (segment widens past
 * 0xffff).  buf must hold GP_PCI_ID_LEN bytes.  Returns buf. */
char *gp_pci_addr_format(const gp_pci_addr *a, char buf[GP_PCI_ID_LEN]);

/* ------------------------------------------------------------------------ */
/* Host model                                                                */
/* ------------------------------------------------------------------------ */

typedef enum { GP_UNKNOWN = -1, GP_NO = 0, GP_YES = 1 } gp_tristate;

/* A PCIe link: speed in GT/s (2.5, 5, 8, 16, 32, 64) and lane count.
 * 0 means unknown for either field. */
typedef struct {
    double speed_gts;
    int width;
} gp_pcie_link;

/* Another function of a GPU's slot that must travel with it (HDMI audio
 * 0x0403, USB 0x0c03, UCSI 0x0c80, ...). */
typedef struct {
    char pci_id[GP_PCI_ID_LEN];
    uint16_t class_code;      /* 16-bit base+sub class */
    uint16_t vendor_id, device_id;
    char *driver;             /* bound driver, "none", or NULL = unknown */
} gp_companion;

/*
 * One GPU and everything known about it.  Unknown values: numa_node -1,
 * iommu_group -1, NULL strings, GP_UNKNOWN tristates, 0 in link fields,
 * sriov_totalvfs -1, max_bar_bytes 0.  Nothing is guessed.
 */
typedef struct {
    char pci_id[GP_PCI_ID_LEN];     /* SBDF, canonical */
    gp_pci_addr addr;
    uint16_t vendor_id, device_id;
    uint16_t subsys_vendor_id, subsys_device_id; /* 0/0 when unknown */
    char *vendor_name, *device_name, *subsys_name; /* pci.ids via libpci; NULL unknown */
    uint16_t class_code;            /* base+sub, e.g. 0x0302 */
    uint8_t prog_if;
    uint8_t revision;
    int numa_node;                  /* sysfs numa_node, hwloc locality or libxl; -1 unknown */
    int iommu_group;                /* sysfs iommu_group link; -1 unknown */
    char **iommu_group_members;     /* other pci-ids of the group (not this GPU) */
    size_t n_iommu_group_members;
    gp_companion *companions;       /* other functions of the same slot */
    size_t n_companions;
    char *driver;                   /* bound driver ("nvidia", "pciback", ...), "none", NULL unknown */
    gp_tristate boot_vga;           /* sysfs boot_vga (VGA class only; other classes: no); unknown from a dump or hwloc */
    gp_pcie_link link_cap;          /* LnkCap or sysfs max_link_speed/width */
    gp_pcie_link link_sta;          /* LnkSta or sysfs current_link_speed/width */
    gp_tristate link_downgraded;    /* link_sta below link_cap; unknown if either is */
    gp_tristate flr;                /* DevCap FLR bit or AF capability FLR */
    char *reset_method;             /* sysfs reset_method ("flr bus"), NULL unknown */
    int sriov_totalvfs;             /* SR-IOV TotalVFs; 0 no SR-IOV; -1 unknown */
    uint64_t max_bar_bytes;         /* largest BAR, bytes; 0 unknown */
    char *source;                   /* "sysfs", "dump", "hwloc" */
} gp_gpu;

void gp_gpu_init(gp_gpu *g);
void gp_gpu_dispose(gp_gpu *g);

/* One pCPU (a hardware thread as the hypervisor numbers it). */
typedef struct {
    int id;        /* the machine's real CPU id (PU os_index, Xen pCPU) */
    int core;      /* core id, unique within the host; -1 unknown */
    int socket;    /* package id; -1 unknown */
    int node;      /* NUMA node id; -1 unknown */
} gp_pcpu;

typedef struct {
    int id;                    /* node id (NUMANode os_index, Xen node) */
    int socket;                /* package holding it; -1 unknown */
    uint64_t mem_total_bytes;  /* 0 unknown */
    uint64_t mem_free_bytes;   /* free now (sysfs MemFree, libxl); = total for hwloc */
    int *cpus;                 /* pCPU ids on this node, ascending */
    size_t n_cpus;
    int *distances;            /* SLIT-style distance to node index j (order of gp_host.nodes); NULL unknown */
} gp_numa_node;

/* A host's cpupool (Xen); a VM's pin set stays inside its cpupool. */
typedef struct {
    int id;
    char *name;
    int *cpus;
    size_t n_cpus;
} gp_cpupool;

/* An ordinary PCI function of the host, kept to judge IOMMU groups. */
typedef struct {
    char pci_id[GP_PCI_ID_LEN];
    uint16_t class_code;
    uint8_t header_type;       /* 1 = PCI-to-PCI bridge */
    int iommu_group;           /* -1 unknown */
} gp_pci_function;

/*
 * The host model: what gp_host_discover() found.  Owned by the context when
 * obtained with gp_host_get(); a caller-built host (tests, benchmarks) is
 * freed with gp_host_dispose().
 */
typedef struct {
    gp_numa_node *nodes;  size_t n_nodes;   /* ascending id */
    gp_pcpu *cpus;        size_t n_cpus;    /* ascending id */
    gp_gpu *gpus;         size_t n_gpus;    /* ascending pci-id */
    gp_pci_function *functions; size_t n_functions; /* every PCI function seen */
    gp_cpupool *cpupools; size_t n_cpupools; /* empty when not on Xen */
    char *topology_source;  /* "hwloc:FILE", "sysfs:DIR", "embedded", "libxl" */
    char *pci_source;       /* "sysfs:DIR", "dump:FILE", "hwloc:FILE", "libpci" */
    gp_tristate passthrough; /* IOMMU / directio available (libxl physinfo); unknown elsewhere */
} gp_host;

void gp_host_init(gp_host *h);
void gp_host_dispose(gp_host *h);

/*
 * Discover the host the context's configuration describes, or return the one
 * already discovered.  The result is owned by ctx; valid until gp_ctx_free().
 * Sources (PCI always through libpci, except an hwloc file used alone):
 *  - topology: hwloc XML if configured, else the driver (libxl on Xen), else
 *    <sysfs_root>/devices/system/node/nodeN/{cpulist,meminfo}
 *    and cpuN/topology/{core_id,physical_package_id};
 *  - PCI: pci_dump (libpci dump method), else sysfs_root (libpci sysfs method
 *    with "sysfs.path"), else live sysfs; if only an hwloc file is configured
 *    the GPUs are its PCIDev objects.
 * Errors: GP_ERR_PCI, GP_ERR_TOPOLOGY, GP_ERR_IO, GP_ERR_NOMEM.
 */
int gp_host_get(gp_ctx *ctx, const gp_host **out);

/* Find a GPU of host by pci-id (any accepted spelling).  NULL if none. */
const gp_gpu *gp_host_find_gpu(const gp_host *host, const char *pci_id);
/* Find a node by id.  NULL if none. */
const gp_numa_node *gp_host_find_node(const gp_host *host, int node_id);
/* Socket of a node (-1 unknown). */
int gp_host_node_socket(const gp_host *host, int node_id);

/* ------------------------------------------------------------------------ */
/* Pools                                                                     */
/* ------------------------------------------------------------------------ */

typedef enum {
    GP_NUMA_REQUIRED = 0,   /* GPU, vCPUs and memory on one node, else refuse */
    GP_NUMA_PREFERRED,      /* local first, then GPUs of unknown locality, then remote */
    GP_NUMA_SOCKET,         /* VM node on the GPU's socket */
    GP_NUMA_LEGACY,         /* local, or GPU of unknown locality */
    GP_NUMA_POLICY_LAST     /* sentinel: the number of policies */
} gp_numa_policy;

typedef enum {
    GP_PIN_HARD = 0,
    GP_PIN_SOFT,
    GP_PIN_NONE,
    GP_PIN_MODE_LAST        /* sentinel */
} gp_pin_mode;

/*
 * The closed sets of names, one table each inside the library (core/enum.c);
 * front ends list and parse them through these rather than spelling them.
 */
typedef enum {
    GP_SET_NUMA_POLICY = 0,  /* "numa-policy": gp_numa_policy */
    GP_SET_PIN_MODE,         /* "pin-mode": gp_pin_mode */
    GP_SET_VM_STATE,         /* "power-state": gp_vm_state */
    GP_SET_DRIVER,           /* "driver": sim, xen, xapi */
    GP_SET_PLACEMENT,        /* "placement": gp_placement_strategy */
    GP_SET_LAST
} gp_set;
/* The names of set in enum order (static storage), *n their number; NULL
 * (and *n = 0) for a set outside the enum. */
const char *const *gp_set_names(gp_set set, size_t *n);
/* The set's parameter name ("numa-policy"), NULL outside the enum. */
const char *gp_set_param(gp_set set);
/*
 * The index of value in set (>= 0), or GP_ERR_INVALID_ARGUMENT with err set
 * to "<param> must be a, b or c, not '<value>'" and the param <param>:
 * value, where param is the given name (e.g. the plugin's "numa_policy"),
 * else the set's.  err may be NULL.
 */
int gp_set_parse(gp_set set, const char *param, const char *value, gp_error_info *err);

const char *gp_numa_policy_name(gp_numa_policy p);  /* "required", ... */
int gp_numa_policy_parse(const char *s, gp_numa_policy *out);  /* GP_ERR_INVALID_ARGUMENT */
const char *gp_pin_mode_name(gp_pin_mode m);        /* "hard", "soft", "none" */
int gp_pin_mode_parse(const char *s, gp_pin_mode *out);

/*
 * How gp_place() orders the nodes that can take the VM within a locality
 * tier (docs/placement.md, "Strategies").
 *  - GP_PLACE_PACK (default): look-ahead best fit.  Prefer the node that
 *    keeps the most room: the sum, over the nodes that still have a free GPU
 *    of the pool afterwards, of free vCPU slots x free memory; then the one
 *    left with the least capacity (free vCPU slots / largest node capacity
 *    + free memory / largest node memory, after the VM).  Admits more VMs
 *    before nodes fragment: on the embedded host, 0.97 of the offline
 *    optimum against 0.91 for spread (tests/bench/bench_quality.c).
 *  - GP_PLACE_SPREAD: fewest pinned vCPUs, then most free memory (the
 *    behaviour before strategies existed).
 */
typedef enum {
    GP_PLACE_PACK = 0,
    GP_PLACE_SPREAD,
    GP_PLACE_STRATEGY_LAST  /* sentinel */
} gp_placement_strategy;

/* "pack", "spread"; "unknown" for a value out of range. */
const char *gp_placement_strategy_name(gp_placement_strategy s);
/* Parse "pack" / "spread" into *out.  GP_OK, or GP_ERR_INVALID_ARGUMENT
 * (s NULL or another word; *out unchanged). */
int gp_placement_strategy_parse(const char *s, gp_placement_strategy *out);

typedef struct {
    char uuid[37];
    char *name_label;
    char *name_description;
    gp_numa_policy numa_policy;
    gp_pin_mode pin_mode;
    double cpu_overcommit;      /* vCPUs per pCPU allowed on a node; default 1.0 */
    char *cpupool;              /* Xen cpupool of the pool's VMs (xl's pool = "...");
                                   default GP_CPUPOOL_DEFAULT */
    char **gpus;                /* member pci-ids, ascending */
    size_t n_gpus;
    char *created;              /* ISO 8601 UTC */
    gp_placement_strategy placement; /* node order of gp_vm_gpu_assign in this pool;
                                        default GP_PLACE_PACK */
    double cost_per_gpu_hour;   /* for usage-report's cost; 0 = none (pool parameter
                                   cost-per-gpu-hour) */
    int idle_release_after;     /* seconds a VM may stay halted holding a GPU of the pool
                                   (pool parameter idle-release-after: 90m, 1h, 7d);
                                   0 = for ever */
    char *allowed_tenants;      /* tenants that may take its GPUs, comma-separated
                                   ("ml,vision"); NULL or "" = every tenant (pool
                                   parameter allowed-tenants) */
} gp_pool;

void gp_pool_init(gp_pool *p);
void gp_pool_dispose(gp_pool *p);
void gp_pool_list_free(gp_pool *pools, size_t n);

/* Longest name-label and name-description of a pool, in bytes (without
 * the NUL).  A name-label holds no control character (bytes 0x00..0x1f,
 * 0x7f); a description may hold tab and line breaks, no other control
 * character.  255 is the longest name xapi's clients show in full (XenCenter,
 * Xen Orchestra) and keeps every audit row of a pool small. */
#define GP_NAME_LABEL_MAX 255
#define GP_NAME_DESCRIPTION_MAX 1024

/* The cpupool Xen puts every domain in unless told otherwise (xl, xapi). */
#define GP_CPUPOOL_DEFAULT "Pool-0"
/* Longest cpupool name gpupool accepts, in bytes (without the NUL). */
#define GP_CPUPOOL_NAME_MAX 64

/*
 * What a new pool is made of (gp_pool_create_ex).  The strings are the
 * caller's: the call copies what it keeps.  gp_pool_spec_init() sets the
 * defaults below; set the fields you need after it, so that fields added
 * later keep their defaults.
 */
typedef struct {
    const char *name_label;     /* required: non-empty, unique, not uuid-shaped, at most
                                   GP_NAME_LABEL_MAX bytes, no control character */
    const char *description;    /* NULL = ""; at most GP_NAME_DESCRIPTION_MAX bytes, no
                                   control character but tab, CR and LF */
    gp_numa_policy policy;      /* default GP_NUMA_REQUIRED */
    gp_pin_mode pin;            /* default GP_PIN_HARD */
    double cpu_overcommit;      /* > 0 and <= 64; default 1.0 */
    const char *cpupool;        /* Xen cpupool name (1..GP_CPUPOOL_NAME_MAX printable
                                   ASCII bytes, no quotes nor backslash); NULL =
                                   GP_CPUPOOL_DEFAULT */
    gp_placement_strategy placement; /* default GP_PLACE_PACK */
} gp_pool_spec;

/* Defaults: no name, no description, required, hard, 1.0, Pool-0 (NULL), pack. */
void gp_pool_spec_init(gp_pool_spec *spec);

/*
 * Create a pool from spec, checks, row and audit row ("pool-create", after =
 * the new pool) in one transaction.  The cpupool is recorded as given: it is
 * checked against the host's cpupools when a VM is placed (gp_vm_gpu_assign),
 * not here, so that a pool can be planned before its cpupool exists.
 * uuid_out (37 bytes, may be NULL) receives the new uuid.
 * Errors: GP_ERR_INVALID_ARGUMENT (spec NULL, or a bad field: err names it;
 * a name-label or description too long or holding a control character also
 * gives params length and, when too long, max-length), GP_ERR_POOL_EXISTS, GP_ERR_DB, GP_ERR_DB_BUSY, GP_ERR_NOMEM.  On error
 * nothing changed.
 */
int gp_pool_create_ex(gp_ctx *ctx, const gp_pool_spec *spec, char uuid_out[37]);

/*
 * Create a pool in the default cpupool: gp_pool_create_ex() with name_label,
 * description (may be NULL), policy, pin and cpu_overcommit (> 0 and <= 64),
 * cpupool GP_CPUPOOL_DEFAULT.  uuid_out (37 bytes, may be NULL) receives the
 * new uuid.
 * Errors: GP_ERR_INVALID_ARGUMENT, GP_ERR_POOL_EXISTS, GP_ERR_DB, GP_ERR_DB_BUSY.
 */
int gp_pool_create(gp_ctx *ctx, const char *name_label, const char *description,
                   gp_numa_policy policy, gp_pin_mode pin, double cpu_overcommit,
                   char uuid_out[37]);

/* Destroy an empty pool (by uuid or name-label).
 * Errors: GP_ERR_UNKNOWN_POOL, GP_ERR_POOL_NOT_EMPTY, GP_ERR_DB*. */
int gp_pool_destroy(gp_ctx *ctx, const char *pool);

/* All pools, ascending name-label.  Caller frees with gp_pool_list_free(). */
int gp_pool_list(gp_ctx *ctx, gp_pool **out, size_t *n_out);

/* One pool by uuid or name-label (out is _init'ed by the caller).
 * Errors: GP_ERR_UNKNOWN_POOL, GP_ERR_DB*. */
int gp_pool_get(gp_ctx *ctx, const char *pool, gp_pool *out);

/*
 * Set one parameter of a pool: "name-label", "name-description",
 * "numa-policy", "pin-mode", "cpu-overcommit", "cpupool" (a Xen cpupool name,
 * as in gp_pool_spec), "placement" (pack or spread).  A changed policy,
 * pin-mode, overcommit, cpupool or placement
 * applies to later assignments only (an existing assignment keeps its pCPUs
 * until it is released and assigned again).
 * name-label and name-description follow gp_pool_spec's rules (length,
 * control characters).
 * Errors: GP_ERR_UNKNOWN_POOL, GP_ERR_INVALID_ARGUMENT (unknown param or bad
 * value, named by its param), GP_ERR_POOL_EXISTS (name clash), GP_ERR_DB*.
 */
int gp_pool_set_param(gp_ctx *ctx, const char *pool, const char *param,
                      const char *value);

/*
 * Add a GPU to a pool: check it (exists on the host, not the boot VGA, IOMMU
 * group holds only it, its companions and bridges, not in another pool), make
 * it and its companions assignable through the driver (pciback), remember
 * their original drivers, record membership.  Refusals change nothing.
 * Errors: GP_ERR_PCI_ID_INVALID, GP_ERR_UNKNOWN_POOL, GP_ERR_UNKNOWN_GPU,
 * GP_ERR_GPU_BOOT_VGA, GP_ERR_IOMMU_GROUP (names the foreign device),
 * GP_ERR_GPU_IN_OTHER_POOL, GP_ERR_DRIVER, GP_ERR_DB*.
 * Adding a GPU already in this pool succeeds and changes nothing.
 */
int gp_pool_gpu_add(gp_ctx *ctx, const char *pool, const char *pci_id);

/*
 * Remove a GPU from its pool and give it and its companions back to their
 * original drivers.  pool may be NULL (whatever pool holds it).
 * Errors: GP_ERR_PCI_ID_INVALID, GP_ERR_UNKNOWN_POOL, GP_ERR_GPU_NOT_IN_POOL,
 * GP_ERR_GPU_ASSIGNED, GP_ERR_DRIVER, GP_ERR_DB*.
 */
int gp_pool_gpu_remove(gp_ctx *ctx, const char *pool, const char *pci_id);

/* ------------------------------------------------------------------------ */
/* VMs (as the driver reports them)                                         */
/* ------------------------------------------------------------------------ */

typedef enum {
    GP_VM_HALTED = 0,
    GP_VM_RUNNING,
    GP_VM_PAUSED,
    GP_VM_SUSPENDED,
    GP_VM_SHUTDOWN,   /* Xen: shut down but not yet destroyed */
    GP_VM_DYING,
    GP_VM_STATE_LAST  /* sentinel */
} gp_vm_state;

const char *gp_vm_state_name(gp_vm_state s);  /* "halted", "running", ... */

typedef struct {
    char uuid[37];
    char *name_label;
    gp_vm_state state;
    int domid;            /* -1 when no live domain */
    int vcpus;            /* vCPU count; 0 unknown */
    uint64_t memory_mib;  /* 0 unknown */
} gp_vm;

void gp_vm_init(gp_vm *v);
void gp_vm_dispose(gp_vm *v);
void gp_vm_list_free(gp_vm *vms, size_t n);

/* All VMs the driver knows, ascending name-label then uuid. */
int gp_vm_list(gp_ctx *ctx, gp_vm **out, size_t *n_out);

/* Find a VM by uuid or unique name-label.
 * Errors: GP_ERR_UNKNOWN_VM, GP_ERR_VM_AMBIGUOUS, GP_ERR_DRIVER. */
int gp_vm_get(gp_ctx *ctx, const char *vm, gp_vm *out);

/* Simulated driver only (GP_ERR_NOT_SUPPORTED with another driver). */
int gp_sim_vm_create(gp_ctx *ctx, const char *name_label, int vcpus,
                     uint64_t memory_mib, char uuid_out[37]);
int gp_sim_vm_start(gp_ctx *ctx, const char *vm);    /* halted -> running */
int gp_sim_vm_pause(gp_ctx *ctx, const char *vm);    /* running -> paused */
int gp_sim_vm_shutdown(gp_ctx *ctx, const char *vm); /* running/paused -> halted */
int gp_sim_vm_destroy(gp_ctx *ctx, const char *vm);  /* halted only; releases nothing itself:
                                                        refused with GP_ERR_VM_HAS_GPU while assigned */

/*
 * How much is known of where a VM's memory is (or will be) once its domain
 * exists.  Never more than a source says:
 *  - unknown: nothing gpupool can read says where the memory is (sim and
 *    xapi drivers; a domain whose memory was populated under another node
 *    affinity);
 *  - best-effort: the toolstack allocates from the memory node first (Xen:
 *    the domain's node affinity is that node when its memory is populated)
 *    but Xen falls back to other nodes when that node is short of free
 *    memory, and nothing read the per-node page counts;
 *  - verified: per-node page counts of the live domain were read from the
 *    hypervisor and show the memory on that node.
 */
typedef enum {
    GP_MEMNODE_UNKNOWN = 0,
    GP_MEMNODE_BEST_EFFORT,
    GP_MEMNODE_VERIFIED,
    GP_MEMNODE_CERTAINTY_LAST  /* sentinel */
} gp_memnode_certainty;

const char *gp_memnode_certainty_name(gp_memnode_certainty c); /* "unknown", "best-effort", "verified" */

/* ------------------------------------------------------------------------ */
/* Placement (pure)                                                          */
/* ------------------------------------------------------------------------ */

/* An existing assignment as placement sees it. */
typedef struct {
    const char *pci_id;
    int node;             /* node of the pinned vCPUs, -1 none */
    const int *pcpus;     /* pin set */
    size_t n_pcpus;
    int vcpus;            /* vCPUs of the VM */
    uint64_t memory_mib;  /* memory of the VM */
    int memory_node;      /* -1 none */
    bool memory_in_free;  /* true when the host's mem_free already excludes it (live domain) */
} gp_place_existing;

/* What placement needs besides the host. */
typedef struct {
    gp_numa_policy policy;
    gp_pin_mode pin_mode;
    double cpu_overcommit;
    const char *const *pool_gpus;  /* pci-ids of the pool */
    size_t n_pool_gpus;
    const gp_place_existing *existing;  /* every assignment on the host (all pools) */
    size_t n_existing;
    int vm_vcpus;                  /* > 0 */
    uint64_t vm_memory_mib;        /* > 0 */
    const char *force_pci_id;      /* NULL, or the GPU to use */
    const int *allowed_cpus;       /* cpupool of the VM; NULL = all pCPUs */
    size_t n_allowed_cpus;
    gp_placement_strategy strategy; /* node order within a tier; 0 = GP_PLACE_PACK */
} gp_place_request;

typedef enum {
    GP_LOCALITY_LOCAL = 0,    /* vCPUs on the GPU's node */
    GP_LOCALITY_SOCKET,       /* another node of the GPU's socket */
    GP_LOCALITY_UNKNOWN,      /* GPU locality unknown */
    GP_LOCALITY_REMOTE,
    GP_LOCALITY_LAST          /* sentinel */
} gp_locality;

typedef struct {
    char pci_id[GP_PCI_ID_LEN];
    int node;              /* node of the vCPUs; -1 when pin-mode none and no node */
    int *pcpus;            /* chosen pCPU ids, ascending; caller frees via dispose */
    size_t n_pcpus;
    int memory_node;
    gp_locality locality;
    char *reason;          /* "node 1: GPU local, 22 of 24 pCPUs free, 180 GiB free" */
} gp_placement;

void gp_placement_init(gp_placement *p);
void gp_placement_dispose(gp_placement *p);

/*
 * Choose the GPU, pCPU set and memory node for one VM.  Pure: reads host and
 * req only, no I/O.  A candidate node has a free GPU of the pool (allowed by
 * the policy), room for vm_vcpus within floor(cpu_overcommit * node pCPUs)
 * after the vCPUs already pinned there, and vm_memory_mib of free memory.
 * Order: locality tier (remote: nearest first), then by req->strategy
 * (pack: most room kept on the nodes that keep a free GPU, least capacity
 * left on the node; spread: fewest pinned vCPUs, most free memory), then lowest node
 * id, lowest pci-id.  pCPUs are spread over cores (one thread per core before
 * siblings), least loaded first, ascending id on ties.
 * Errors (err filled): GP_ERR_POOL_EMPTY (no free GPU), GP_ERR_NO_PLACEMENT
 * (reason per node in the message), GP_ERR_UNKNOWN_GPU / GP_ERR_GPU_ASSIGNED /
 * GP_ERR_GPU_NOT_IN_POOL for force_pci_id, GP_ERR_INVALID_ARGUMENT, GP_ERR_NOMEM.
 */
int gp_place(const gp_host *host, const gp_place_request *req,
             gp_placement *out, gp_error_info *err);

/* One VM that gp_place_replan() moves. */
typedef struct {
    size_t existing;          /* index into req->existing */
    gp_placement placement;   /* its new GPU, node, pCPUs and memory node */
} gp_place_move;

/* What gp_place_replan() decided.  Owns its memory: gp_replan_dispose(). */
typedef struct {
    gp_placement vm;          /* the new VM */
    gp_place_move *moves;     /* n_moves entries, ascending existing index; NULL when none */
    size_t n_moves;
} gp_replan;

void gp_replan_init(gp_replan *r);
/* Free what r owns (each move's placement, the array, vm) and re-init it.
 * NULL is accepted. */
void gp_replan_dispose(gp_replan *r);

/* Search bound of gp_place_replan() when max_steps is 0. */
#define GP_REPLAN_DEFAULT_STEPS 200000

/*
 * Make room for a new VM by moving halted VMs.  Pure like gp_place(): reads
 * host, req and movable only, no I/O, same output for the same input.
 *
 *  host, req   as for gp_place(): req describes the new VM and lists every
 *              assignment of the host in req->existing.
 *  movable     NULL (nothing movable) or req->n_existing flags: true for an
 *              assignment of a halted VM that may get another GPU and node.
 *              A movable assignment must have memory_in_free false (a running
 *              VM cannot move: GP_ERR_INVALID_ARGUMENT).  One whose GPU is not
 *              in req->pool_gpus, or that is not NUMA-local (node -1, memory
 *              elsewhere, GPU of another node), is kept where it is.
 *  max_steps   bound on the search (nodes of the search tree expanded);
 *              0 = GP_REPLAN_DEFAULT_STEPS.
 *  out         replaced on success (what it held is disposed); untouched on
 *              error.  The caller owns it: gp_replan_dispose().
 *
 * First gp_place(host, req): if it succeeds, out->vm is its result and
 * nothing moves.  Otherwise (GP_ERR_NO_PLACEMENT only, and no force_pci_id)
 * an exact depth-first search gives the new VM and the movable VMs a node
 * each, NUMA-local (GPU, vCPUs and memory on the node; per node: free GPUs
 * of the pool, floor(cpu_overcommit x pCPUs in the cpupool) minus the vCPUs
 * of the fixed assignments, free memory minus theirs), moving as few VMs as
 * possible: a VM keeps its node when it can, and then its GPU.  Moved VMs
 * get the lowest free pci-ids of their new node (ascending existing index),
 * then the new VM; each one's pCPUs are then chosen by gp_place() (pin-mode
 * req->pin_mode, none for a VM that had no pCPUs) against the assignments
 * that stay, so pins spread over cores as usual.  Sizes come from
 * req->existing[i].vcpus / memory_mib (MiB).
 *
 * Cost: at most max_steps search nodes of O(nodes) each, plus one gp_place()
 * per moved VM.  When the bound cuts the search the fewest-moves assignment
 * found so far is returned; if none was found the error says so.
 *
 * Errors (err filled): those of gp_place() other than GP_ERR_NO_PLACEMENT
 * (returned as they are); GP_ERR_NO_PLACEMENT when no assignment exists or
 * none was found within max_steps (message and params "vcpus",
 * "memory-mib", "movable", "steps"); GP_ERR_INVALID_ARGUMENT (a running VM
 * marked movable, NULL arguments); GP_ERR_NOMEM.
 */
int gp_place_replan(const gp_host *host, const gp_place_request *req,
                    const bool *movable, size_t max_steps,
                    gp_replan *out, gp_error_info *err);

/* ---- placement across the hosts of an XCP-ng pool (pure) ------------------ */

/* One host as gp_place_sites() sees it.  Borrowed pointers. */
typedef struct {
    const char *name;              /* host name-label (ties, reasons) */
    const gp_host *host;           /* its model; NULL: facts not published */
    const char *const *pool_gpus;  /* pci-ids of the pool's members on this host */
    size_t n_pool_gpus;
    const gp_place_existing *existing; /* every assignment on this host (all pools) */
    size_t n_existing;
    const int *allowed_cpus;       /* the pool's cpupool here; NULL = all pCPUs */
    size_t n_allowed_cpus;
    const char *excluded;          /* why the VM cannot go here (static or the
                                      caller's text); NULL: it can */
} gp_place_site;

/* What gp_place_sites() decided: the site, and gp_place()'s result there. */
typedef struct {
    size_t site;                   /* index into sites */
    gp_placement placement;        /* reason starts with the host's name */
} gp_site_placement;

void gp_site_placement_init(gp_site_placement *p);
void gp_site_placement_dispose(gp_site_placement *p);

/*
 * Choose host, GPU, node and pCPUs for one VM among sites (the hosts of an
 * XCP-ng pool).  Pure: reads sites and req only, no I/O; same output for
 * the same input.  req is the per-host request without its per-host parts
 * (pool_gpus, existing, allowed_cpus, force_pci_id are taken from each
 * site; req's are ignored).
 *
 * Order:
 *  1. NUMA-local fit first: a node with a free GPU of the pool, room for
 *     vm_vcpus within floor(cpu_overcommit x its pCPUs in the cpupool) after
 *     the vCPUs pinned there, and vm_memory_mib of free memory (MiB, from
 *     the node's mem_free_bytes minus the memory of halted VMs assigned
 *     there).  Among those, best fit: the fewest vCPUs left on the node
 *     after the VM, then the least memory left, then the fewest free pool
 *     GPUs left on the host, so the largest holes stay free for the largest
 *     VMs (least fragmentation); then host name, node id, pci-id
 *     ascending.  The chosen node's lowest free pool GPU is then given to
 *     gp_place() on that host for the pCPUs; should gp_place() refuse, the
 *     next candidate is tried.
 *  2. Otherwise (policy other than required): gp_place() on every site
 *     that is not excluded, the best locality tier first, then host name.
 * Sites with excluded set, no host model or no free GPU of the pool are
 * skipped; the error names each host and why.
 *
 * Cost: O(sites x (nodes x (GPUs + existing))) for step 1 plus one
 * gp_place() per tried candidate; step 2 only when no node fits locally.
 * Errors (err filled): GP_ERR_POOL_EMPTY (no site has a free GPU of the
 * pool), GP_ERR_NO_PLACEMENT (message: one clause per host), those of
 * gp_place(), GP_ERR_INVALID_ARGUMENT, GP_ERR_NOMEM.  out is replaced on
 * success only.
 */
int gp_place_sites(const gp_place_site *sites, size_t n_sites, const gp_place_request *req,
                   gp_site_placement *out, gp_error_info *err);

/* ------------------------------------------------------------------------ */
/* Governance: the request queue (pure)                                      */
/* ------------------------------------------------------------------------ */

/* One interval during which a tenant held one GPU: [start, end), Unix
 * seconds.  end < 0: still held (counts up to now). */
typedef struct {
    int64_t start;
    int64_t end;
} gp_usage_interval;

/*
 * A tenant's decayed usage in GPU-seconds at time now (Unix seconds), after
 * Slurm's fair-share usage: the sum over the n intervals of the integral
 * of 2^(-(now - t) / half_life_s) dt over the interval clipped to
 * [.., now], so a GPU-second used one half-life ago counts 1/2, two
 * half-lives ago 1/4.  Exact (closed form, no numeric integration): an
 * interval [a, b) adds half_life_s / ln 2 x 2^(-(now - b) / half_life_s) x
 * (1 - 2^(-(b - a) / half_life_s)) (expm1 for the last factor, so a short
 * interval keeps its precision).  One GPU held for one half-life h up to now
 * gives h / (2 ln 2) = 0.7213 h.
 *
 *  iv           n intervals (borrowed); NULL when n is 0.  Overlapping
 *               intervals all count (several GPUs at once).
 *  now          Unix seconds; an interval or its part after now is ignored,
 *               an open one (end < 0) counts up to now.
 *  half_life_s  seconds; <= 0: no decay, the plain sum of GPU-seconds.
 *
 * Pure: no I/O, no allocation, never fails.  An empty interval (end <= start
 * after clipping) adds 0; iv NULL or n 0 gives 0.  The result is >= 0 and
 * finite.  Cost O(n).
 */
double gp_usage_decayed(const gp_usage_interval *iv, size_t n, int64_t now, int64_t half_life_s);

/* Highest priority of a queued request (0 = lowest). */
#define GP_QUEUE_PRIORITY_MAX 9
/* gp_queue_next()'s answer when no entry fits. */
#define GP_QUEUE_NONE ((size_t)-1)

/* A queued request for a GPU.  Borrowed pointers. */
typedef struct {
    int64_t id;          /* request id: the last tie-break, ascending */
    const char *tenant;  /* who asked; compared with strcmp(), not NULL */
    int priority;        /* 0..GP_QUEUE_PRIORITY_MAX, higher served first */
    int64_t created;     /* when it was queued, Unix seconds */
} gp_queue_entry;

/* A tenant's decayed usage in GPU-seconds (gp_usage_decayed()).  Borrowed. */
typedef struct {
    const char *tenant;  /* not NULL */
    double usage;        /* GPU-seconds, finite and >= 0 */
} gp_tenant_usage;

/*
 * The serving order of a queue: priority descending, then the tenant's
 * decayed usage ascending (fair share: the tenant that used the least is
 * served first), then created ascending (oldest first), then id ascending,
 * then index in e ascending (so duplicated ids still give one order).
 * Pure and deterministic: no I/O, the same output for the same input.
 *
 *  e, n       the n queued requests (borrowed); NULL when n is 0.
 *  u, n_u     the tenants' usage (borrowed); NULL when n_u is 0.  A tenant
 *             of e absent from u has usage 0; a tenant listed more than
 *             once has the sum of its rows.
 *  order_out  n elements, the caller's: receives indices into e, the first
 *             one served next.  Written on success only.
 *  err        filled on error; may be NULL.
 *
 * Cost: O(n_u log n_u + n log n_u) to give each entry its tenant's usage
 * once (u sorted by name, binary search), O(n log n) to sort; O(n + n_u)
 * temporary memory.
 * Errors (err filled, order_out untouched): GP_ERR_INVALID_ARGUMENT (e,
 * order_out NULL with n > 0, u NULL with n_u > 0, an entry whose tenant is
 * NULL or whose priority is outside 0..GP_QUEUE_PRIORITY_MAX: its index and
 * id are in the message and params "entry" and "id"; a usage row whose
 * tenant is NULL or whose usage is negative, NaN or infinite: param
 * "tenant"), GP_ERR_NOMEM.
 */
int gp_queue_order(const gp_queue_entry *e, size_t n, const gp_tenant_usage *u, size_t n_u,
                   size_t *order_out, gp_error_info *err);

/*
 * The request to serve next: the first entry in gp_queue_order()'s order
 * that fits(i, arg) accepts (e.g. "a free GPU suits request i": the caller
 * decides), found in one pass without sorting.  Pure like gp_queue_order()
 * apart from what fits does.
 *
 *  e, n, u, n_u  as for gp_queue_order().
 *  fits          NULL: every entry fits.  Called at most once per entry,
 *                in ascending index order, and only for an entry that would
 *                be served before the best fitting one found so far (an
 *                entry that cannot win is never asked about); it must not
 *                change e or u.
 *  arg           passed to fits.
 *  next_out      receives the index into e of the entry to serve, or
 *                GP_QUEUE_NONE when none fits (n 0 included).  Written on
 *                success only.
 *  err           filled on error; may be NULL.
 *
 * Returns an int, not the index the first sketch of this call returned, so
 * that a bad entry or a failed allocation is an error and not "nothing fits"
 * (every function that can fail returns a gp_error in this library).
 * Cost: O(n + n_u log n_u) plus a binary search of the tenant's usage for
 * each entry whose priority is not below the best found so far; O(n_u)
 * temporary memory.
 * Errors: those of gp_queue_order() (next_out NULL instead of order_out).
 */
int gp_queue_next(const gp_queue_entry *e, size_t n, const gp_tenant_usage *u, size_t n_u,
                  bool (*fits)(size_t i, void *arg), void *arg, size_t *next_out,
                  gp_error_info *err);

/* ------------------------------------------------------------------------ */
/* Assignments                                                               */
/* ------------------------------------------------------------------------ */

typedef struct {
    char vm_uuid[37];
    char *vm_name_label;   /* from the driver at read time; NULL if unknown */
    char pci_id[GP_PCI_ID_LEN];
    char **companions;     /* pci-ids that travel with the GPU */
    size_t n_companions;
    char pool_uuid[37];
    char *pool_name_label;
    int numa_node;
    int *pcpus;            /* ascending */
    size_t n_pcpus;
    int memory_node;
    gp_pin_mode pin_mode;
    int vcpus;
    uint64_t memory_mib;
    char *reason;
    char *created;         /* ISO 8601 UTC */
    /* How sure the memory_node is, from the driver at read time, and the
     * basis of that claim (static text, not freed). */
    gp_memnode_certainty memory_node_certainty;
    const char *memory_node_basis;
    char *tenant;          /* who it counts against (quotas, GPU-hours); "default" */
    /* End of its lease, ISO 8601 UTC ("2026-12-09T15:00:00Z"); NULL none.
     * From lease= (gp_assign_args.lease_seconds, gp_now() + lease): once
     * past, the GPU is released the first time a gpupool command runs
     * while the VM is halted (gp_governance_tick); a running VM keeps it. */
    char *lease_until;
} gp_assignment;

void gp_assignment_init(gp_assignment *a);
void gp_assignment_dispose(gp_assignment *a);
void gp_assignment_list_free(gp_assignment *as, size_t n);

/* Optional inputs of gp_vm_gpu_assign. */
typedef struct {
    const char *pool;      /* uuid or name-label; required unless pci_id given */
    const char *pci_id;    /* force this GPU (must be in a pool; rules apply) */
    int vcpus;             /* override the driver's vCPU count; 0 = driver's */
    uint64_t memory_mib;   /* override; 0 = driver's */
    /* XCP-ng pool: the host (name-label or uuid) whose GPU to use; NULL =
     * the best host (gp_place_sites), or this host when pci_id is given. */
    const char *host;
    /* The tenant the assignment counts against; NULL = from the VM (on
     * XCP-ng its tag "<tenant-tag-prefix><tenant>", default prefix
     * GP_TENANT_TAG_PREFIX), else GP_TENANT_DEFAULT. */
    const char *tenant;
    /* A lease in seconds (lease=7d; gp_duration_parse): the assignment's
     * lease_until is gp_now() + lease_seconds.  0 = none, < 0 refused. */
    int64_t lease_seconds;
} gp_assign_args;
/* The longest lease, seconds (366 days). */
#define GP_LEASE_MAX ((int64_t)366 * 24 * 3600)

/* The tenant of a VM that names none, and the VM tag prefix that names one
 * (Xen Orchestra's tag editor sets it: "gpupool-tenant=vision"). */
#define GP_TENANT_DEFAULT "default"
#define GP_TENANT_TAG_PREFIX "gpupool-tenant="
/* Longest tenant name, bytes; printable ASCII without spaces, commas, '='. */
#define GP_TENANT_MAX 64

/*
 * Assign a GPU to a halted VM: one decision for GPU, pCPUs and memory node
 * (gp_place), recorded in the database and handed to the driver ("record the
 * boot-time GPU and affinity"), all in one transaction.  out (may be NULL,
 * _init'ed by caller) receives the assignment.  When the host reports
 * cpupools (xen driver, xapi on XCP-ng) the pCPUs are chosen inside the host
 * cpupool named by the pool's cpupool; none of that name (or one without
 * pCPUs) is GP_ERR_NO_PLACEMENT with params pool and cpupool.
 * Errors: GP_ERR_UNKNOWN_VM, GP_ERR_VM_AMBIGUOUS, GP_ERR_VM_NOT_HALTED,
 * GP_ERR_VM_HAS_GPU, GP_ERR_UNKNOWN_POOL, GP_ERR_PCI_ID_INVALID,
 * GP_ERR_UNKNOWN_GPU, GP_ERR_GPU_NOT_IN_POOL, GP_ERR_GPU_ASSIGNED,
 * GP_ERR_POOL_EMPTY, GP_ERR_NO_PLACEMENT, GP_ERR_GPU_MISSING, GP_ERR_DRIVER,
 * GP_ERR_DB*.  On error nothing changed.
 *
 * With the xapi driver on an XCP-ng pool (docs/pool-wide.md) the pool may
 * hold GPUs of several hosts: unless args->host names one (or pci_id is
 * given: this host), gp_place_sites() chooses the host from the pool-wide
 * view (NUMA-local first, best fit, only hosts the VM can use: enabled,
 * not another host's by residence, affinity or local disk), and that
 * host's gpupool places and records the VM within the pool under its
 * lock, here or through host.call_plugin ("assign_gpu"); a host found
 * full by then is left out and the next one tried.  Also
 * GP_ERR_VM_HAS_GPU for a VM holding a GPU of any host,
 * GP_ERR_IN_PROGRESS while another host writes the VM's binding,
 * GP_ERR_WRONG_HOST for a VM that can use one host only where the pool
 * has no room, GP_ERR_INVALID_ARGUMENT for an unknown host, and the remote
 * plugin's errors as they are.
 *
 * The node order is the pool's placement (pack or spread).  When the VM
 * fits nowhere and the pool's numa-policy is required (no pci_id forced),
 * the other halted VMs of the pool may be moved to make room: see
 * gp_vm_gpu_assign_ex(), which also names them; this call does the same
 * moves without returning them (gp_audit_list shows them as
 * "vm-gpu-replan").
 */
int gp_vm_gpu_assign(gp_ctx *ctx, const char *vm, const gp_assign_args *args,
                     gp_assignment *out);

/*
 * gp_vm_gpu_assign() that also returns the VMs it moved.
 *
 * Re-plan: when gp_place() finds no room (GP_ERR_NO_PLACEMENT), the pool's
 * numa-policy is required and no pci_id is forced, the assignments of this
 * pool whose VMs the driver reports halted (never a running, paused or
 * otherwise live VM, nor one of another pool) are offered to
 * gp_place_replan() as movable.  If it finds room, in the same transaction:
 * each moved VM's assignment gets its new GPU (with that GPU's companions),
 * node, pCPUs, memory node and reason (vCPUs, memory, pin-mode and created
 * are kept), one audit row "vm-gpu-replan" per moved VM (before and after
 * as JSON), then the new VM is assigned as usual; the driver records the
 * moved VMs' boot-time configuration before the new VM's, and a
 * non-transactional driver's records are restored if anything fails.  If
 * no room is found even so, GP_ERR_NO_PLACEMENT (re-plan's message, "...
 * even by moving the N halted VMs") and nothing changed.
 *
 *  out          as for gp_vm_gpu_assign() (may be NULL).
 *  moved_out    may be NULL; on success receives a malloc'ed array of the
 *               moved VMs' new assignments (ascending pci-id of their old
 *               GPU, vm_name_label from the driver), NULL when nothing
 *               moved; free with gp_assignment_list_free(*moved_out,
 *               *n_moved_out).  NULL on error.
 *  n_moved_out  may be NULL (then moved_out is not filled); receives the
 *               count, 0 on error.
 *
 * Errors: as gp_vm_gpu_assign().
 */
int gp_vm_gpu_assign_ex(gp_ctx *ctx, const char *vm, const gp_assign_args *args,
                        gp_assignment *out, gp_assignment **moved_out, size_t *n_moved_out);

/* Release a halted VM's GPU (the GPU stays in its pool, assignable).  On
 * an XCP-ng pool from any host: sent to the host whose GPU the VM holds
 * (VM.other_config gpupool:host) through host.call_plugin.
 * Errors: GP_ERR_UNKNOWN_VM, GP_ERR_VM_NOT_HALTED, GP_ERR_VM_NO_GPU,
 * GP_ERR_DRIVER, GP_ERR_DB*, GP_ERR_IN_PROGRESS. */
int gp_vm_gpu_release(gp_ctx *ctx, const char *vm);

/* Every assignment, ascending pci-id.  Free with gp_assignment_list_free(). */
int gp_assignment_list(gp_ctx *ctx, gp_assignment **out, size_t *n_out);

/* ---- governance: quotas (ops/gov.c, docs/governance.md) ------------------- */

/* A tenant's limit on the GPUs of one pool it holds, running or not. */
typedef struct {
    char *tenant;
    char pool_uuid[37];
    char *pool_name_label;
    int gpus;              /* the limit */
    int used;              /* GPUs the tenant holds in the pool now */
} gp_quota;

void gp_quota_list_free(gp_quota *q, size_t n);
/*
 * Set (create or change) the quota of tenant in pool (uuid or name-label)
 * to gpus (0 .. 100000).  A lower limit than what the tenant holds now is
 * accepted (nothing is taken back; new assignments are refused until it is
 * under).  Audited ("quota-set", before / after).  Raising a quota may let
 * queued requests be served (issue 11).  Errors: GP_ERR_INVALID_ARGUMENT
 * (tenant not a name: empty, longer than GP_TENANT_MAX, a space, comma or
 * '='; gpus out of range), GP_ERR_UNKNOWN_POOL, GP_ERR_DB*, GP_ERR_NOMEM.
 */
int gp_quota_set(gp_ctx *ctx, const char *tenant, const char *pool, int gpus);
/* Remove it (no limit again).  Errors: GP_ERR_INVALID_ARGUMENT (no such
 * quota: params tenant, pool), GP_ERR_UNKNOWN_POOL, GP_ERR_DB*. */
int gp_quota_remove(gp_ctx *ctx, const char *tenant, const char *pool);
/* Every quota with its use, by pool name then tenant; *out caller frees
 * with gp_quota_list_free.  Errors: GP_ERR_DB*, GP_ERR_NOMEM. */
int gp_quota_list(gp_ctx *ctx, gp_quota **out, size_t *n_out);

/* ---- governance: the request queue (ops/requests.c, docs/governance.md) ------ */

/* What vm-gpu-request asks for. */
typedef struct {
    const char *pool;          /* uuid or name-label; required */
    const char *tenant;        /* NULL: from the VM (as gp_vm_gpu_assign) */
    int priority;              /* 0 .. GP_QUEUE_PRIORITY_MAX, higher served first */
    int vcpus;                 /* override; 0 = the VM's */
    uint64_t memory_mib;       /* override; 0 = the VM's */
    const char *on_behalf_of;  /* who a front end (Xen Orchestra) acts for; NULL none */
    int64_t lease_seconds;     /* lease of the assignment, from when it is served; 0 none */
} gp_request_args;

/* One queued request. */
typedef struct {
    int64_t id;
    char vm_uuid[37];
    char pool_uuid[37];
    char *pool_name_label;
    char *tenant;
    int priority;
    int64_t created;           /* Unix seconds (gp_now: $GPUPOOL_NOW in tests) */
    int64_t wait_seconds;      /* now - created */
    size_t position;           /* 1 = served next */
    char *requested_by;        /* the caller (xapi user on XCP-ng) */
    char *on_behalf_of;        /* NULL none */
    int vcpus;                 /* the request's override; 0 = the VM's */
    uint64_t memory_mib;       /* the request's override; 0 = the VM's */
    int64_t lease_seconds;     /* lease from when it is served; 0 none */
} gp_request;

void gp_request_list_free(gp_request *r, size_t n);

/*
 * Assign a GPU of args->pool to the halted VM now if one fits (exactly
 * gp_vm_gpu_assign(), quota included), else queue the request: *queued
 * true, req_out (may be NULL) the request with its position.  A pool with
 * no free GPU (GP_ERR_POOL_EMPTY), no room (GP_ERR_NO_PLACEMENT) or a
 * tenant at its quota (GP_ERR_QUOTA_EXCEEDED) queues; every other refusal
 * is returned as it is and nothing is queued.  A VM has at most one
 * request.  Audited ("request-queue").  out (may be NULL, _init'ed)
 * receives the assignment when one was made.
 * Errors: those of gp_vm_gpu_assign() other than the three above,
 * GP_ERR_INVALID_ARGUMENT (priority, a second request for the VM),
 * GP_ERR_DB*, GP_ERR_NOMEM.
 */
int gp_vm_gpu_request(gp_ctx *ctx, const char *vm, const gp_request_args *args,
                      gp_assignment *out, gp_request *req_out, bool *queued);
/* The queue in serving order: position 1 is served next (priority, then
 * the tenant with the least decayed GPU use over the half-life
 * GP_FAIR_SHARE_HALF_LIFE, then the oldest; gp_queue_order()).
 * Errors: GP_ERR_DB*, GP_ERR_NOMEM. */
int gp_request_list(gp_ctx *ctx, gp_request **out, size_t *n_out);
/* Withdraw the VM's request.  Audited ("request-cancel").
 * Errors: GP_ERR_UNKNOWN_VM, GP_ERR_INVALID_ARGUMENT (no request), GP_ERR_DB*. */
int gp_request_cancel(gp_ctx *ctx, const char *vm);
/*
 * Serve the queue: requests whose VM is gone or no longer halted are
 * dropped (audit "request-drop"); then, in serving order, each request is
 * tried through gp_vm_gpu_assign(); one served (audit "request-serve") is
 * removed and the pass starts again, until a pass serves none.  Run by
 * the operations that free GPUs (gp_vm_gpu_release, gp_pool_gpu_add(_on),
 * gp_quota_set): nothing polls.  *served (may be NULL) the count.
 * Errors: GP_ERR_DB*, GP_ERR_NOMEM (a request that cannot be served stays).
 */
int gp_queue_serve(gp_ctx *ctx, size_t *served);
/*
 * Leases: release the GPU of every VM halted for longer than its pool's
 * idle-release-after (since the end of its last recorded run, else since it
 * got the GPU), through gp_vm_gpu_release() (so the queue is served), one
 * audit row "lease-release" each.  Enforced with the sim driver, whose
 * power changes gpupool records; with xen and xapi nothing is released yet
 * (a VM may have run unseen between two commands; power sampling comes
 * first) and GP_OK is returned.  Front ends call it before every command
 * (xe-gpupool, the plugin): no daemon, no polling.  Cheap when no pool has
 * a lease (one indexed query).  *released (may be NULL) the count.
 * Errors: GP_ERR_DB*, the driver's (listing VMs), GP_ERR_NOMEM; a release
 * that fails leaves the VM as it was (retried at the next command).
 */
int gp_governance_tick(gp_ctx *ctx, size_t *released);
/* Half-life of the fair share's decayed GPU use, seconds (7 days). */
#define GP_FAIR_SHARE_HALF_LIFE (7 * 24 * 3600)

/* ---- governance: GPU-hours (ops/gov.c) -------------------------------------- */

typedef enum {
    GP_USAGE_BY_TENANT = 0,
    GP_USAGE_BY_POOL,
    GP_USAGE_BY_VM,
    GP_USAGE_BY_POOL_TENANT,   /* key: pool name-label, tenant: the tenant */
    GP_USAGE_GROUP_LAST
} gp_usage_group;

/* One line of a usage report: GPU-seconds in the window. */
typedef struct {
    char *key;                 /* tenant, pool name-label, or VM uuid */
    int64_t held_seconds;      /* a GPU assigned (running or not) */
    int64_t running_seconds;   /* ... while the VM ran */
    double cost;               /* GPU-hours held x the pool's cost-per-gpu-hour */
    bool has_cost;             /* some pool of the row has a cost-per-gpu-hour */
    char *tenant;              /* GP_USAGE_BY_POOL_TENANT: the tenant; NULL otherwise */
} gp_usage_row;

void gp_usage_rows_free(gp_usage_row *r, size_t n);
/*
 * GPU-seconds held and running in [from, to) (Unix seconds), per tenant,
 * pool, VM or pool and tenant (key the pool, tenant the tenant), ascending
 * key (then tenant); *out caller frees with gp_usage_rows_free.
 * Held: each assignment's interval (recorded when the row is written and
 * deleted, gp_now()) clipped to the window.  Running: the VM's run
 * intervals inside the held ones.  Exact to the second with the sim driver
 * (its power changes are gpupool's commands); with xen and xapi, runs are
 * what gpupool recorded (issue 11 continues: sampling and xapi's own
 * records).  Errors: GP_ERR_INVALID_ARGUMENT (to <= from, a grouping out
 * of range), GP_ERR_DB*, GP_ERR_NOMEM.
 */
int gp_usage_report(gp_ctx *ctx, int64_t from, int64_t to, gp_usage_group group,
                    gp_usage_row **out, size_t *n_out);
/* A duration "90m", "1h", "7d", "2w", "30s" or plain seconds ("0": none) as
 * seconds.  GP_ERR_INVALID_ARGUMENT when it is not one. */
int gp_duration_parse(const char *text, int64_t *out);
/* "2026-12-01T00:00:00Z" (ISO 8601 UTC, seconds; the Z may be omitted) as
 * Unix seconds.  GP_ERR_INVALID_ARGUMENT when it is not one. */
int gp_time_parse(const char *iso, int64_t *out);

/* The assignment of one VM (uuid or name-label); GP_ERR_VM_NO_GPU if none. */
int gp_assignment_get(gp_ctx *ctx, const char *vm, gp_assignment *out);

/* ------------------------------------------------------------------------ */
/* Audit log                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
    int64_t id;
    char *time;       /* ISO 8601 UTC with milliseconds */
    char *caller;
    char *operation;  /* "pool-create", "vm-gpu-assign", ... */
    char *object;     /* uuid or pci-id acted on */
    char *before;     /* JSON of the object before, or NULL */
    char *after;      /* JSON after, or NULL */
} gp_audit_entry;

void gp_audit_list_free(gp_audit_entry *e, size_t n);

/* Newest-last audit rows with id > since_id, at most limit (0 = all). */
int gp_audit_list(gp_ctx *ctx, int64_t since_id, size_t limit,
                  gp_audit_entry **out, size_t *n_out);

/* ------------------------------------------------------------------------ */
/* XCP-ng: the xapi driver                                                   */
/* ------------------------------------------------------------------------ */

/*
 * dom0 access of a PCI function as xapi reports it (PCI.get_dom0_access_status,
 * xapi 8.3): "enabled", "disable_on_reboot", "disabled" or
 * "enable_on_reboot".  The *_on_reboot values mean the change is recorded in
 * xen-pciback.hide and takes effect when the host reboots.  *status_out is
 * malloc'ed (caller frees).
 * Errors: GP_ERR_NOT_SUPPORTED (the context's driver is not "xapi"),
 * GP_ERR_PCI_ID_INVALID, GP_ERR_UNKNOWN_GPU (xapi has no PCI object with that
 * pci-id on this host), GP_ERR_DRIVER (xapi refused or cannot be reached),
 * GP_ERR_TIMEOUT.
 */
int gp_xapi_dom0_access(gp_ctx *ctx, const char *pci_id, char **status_out);

/* One disagreement between gpupool's assignments and xapi's VM records. */
typedef struct {
    char *kind;             /* "foreign-pci": a VM's other-config:pci names a pool
                               GPU that gpupool did not assign to it;
                               "shared-gpu": several VMs name one GPU of this host
                               (one entry per VM);
                               "missing-pci": gpupool assigned a GPU to a VM whose
                               other-config:pci does not name it;
                               "vm-missing": the assigned VM is gone from xapi */
    char vm_uuid[37];
    char *vm_name_label;    /* NULL when unknown */
    char pci_id[GP_PCI_ID_LEN]; /* the GPU concerned */
    char *other_config_pci; /* the VM's other-config:pci as xapi holds it; NULL unset */
    char *detail;           /* one line naming the objects */
} gp_drift;

void gp_drift_list_free(gp_drift *d, size_t n);

/*
 * Compare gpupool's pools and assignments with xapi's VM records (VMs that
 * are not templates, snapshots or dom0, and not resident on / affine to
 * another host) and list every drift, GPUs in ascending pci-id order, then
 * assignments.  Reads only.  Caller frees with gp_drift_list_free().
 * Errors: GP_ERR_NOT_SUPPORTED (driver is not "xapi"), GP_ERR_DRIVER,
 * GP_ERR_TIMEOUT, GP_ERR_DB*, GP_ERR_NOMEM, and host discovery errors.
 */
int gp_drift_check(gp_ctx *ctx, gp_drift **out, size_t *n_out);

/*
 * May xenopsd start this VM on this host now?  What the vm-pre-start hook
 * (/etc/xapi.d/vm-pre-start/, xenops_hooks.ml) asks before the domain is
 * built and its PCI devices plugged (and reset).  vm_uuid: the VM's uuid.
 * Refused, each with the VM and the object as params:
 *  - GP_ERR_WRONG_HOST: gpupool bound the VM to another host's GPU
 *    (other_config gpupool:host, the VM's own markers);
 *  - GP_ERR_GPU_ASSIGNED: a function its other-config:pci names is held by
 *    another VM running on this host (its other-config:pci or a VGPU), or
 *    is a pool GPU gpupool assigned to another VM (a clone's copied entry);
 *  - GP_ERR_IN_PROGRESS: a gpupool call is writing this VM into xapi.
 * GP_OK for VMs without other-config:pci.  Reads only.  Facts: VM.get_record,
 * VM.get_all_records, VGPU/PGPU records, gpupool's database.
 * Errors: GP_ERR_NOT_SUPPORTED (driver is not "xapi"), GP_ERR_UNKNOWN_VM,
 * GP_ERR_DRIVER, GP_ERR_TIMEOUT, GP_ERR_DB*, GP_ERR_NOMEM.
 */
int gp_vm_start_check(gp_ctx *ctx, const char *vm_uuid);

/*
 * The VM's domain is gone: record that it stopped running now (gp_now()),
 * for usage-report's running time and the leases' halted time, when
 * gpupool has a run open for it (one opened by the vm-pre-start hook or by
 * power sampling); nothing otherwise.  What the vm-post-destroy hook
 * (/etc/xapi.d/vm-post-destroy/, xenops_server.ml VM_poweroff / VM_reboot
 * / VM_suspend) calls.  Works with every driver: it reads and writes only
 * gpupool's database.  vm_uuid: the VM's uuid.
 * Errors: GP_ERR_DB*, GP_ERR_NOMEM.
 */
int gp_vm_stopped(gp_ctx *ctx, const char *vm_uuid);

/* ------------------------------------------------------------------------ */
/* xen driver: plain Xen with xl (no xapi)                                   */
/* ------------------------------------------------------------------------ */

/* gp_vm_xl_config(), gp_vm_boot_prepare(), gp_host_reconcile(). */
#define GPUPOOL_HAVE_XEN_OPS 1

/*
 * The xl domain configuration lines that apply a VM's assignment at boot
 * (way 1 on plain Xen): a comment naming the placement, then
 *   uuid = "<vm uuid>"
 *   pci = [ "<gpu>", "<companion>", ... ]
 *   pool = "<cpupool>"      (only when the pool's cpupool is not
 *                            GP_CPUPOOL_DEFAULT)
 *   cpus = "<pcpus>"        (pin-mode hard; cpus_soft = "..." for soft,
 *                            nothing for none)
 * each line ending in '\n'.  Append them to the domain's xl config (xl takes
 * the last value of a key).  Works with every driver (it reads gpupool's
 * assignment).  *text_out is malloc'ed (caller frees).
 * Errors: GP_ERR_UNKNOWN_VM, GP_ERR_VM_AMBIGUOUS, GP_ERR_VM_NO_GPU,
 * GP_ERR_DB*, GP_ERR_NOMEM.
 */
int gp_vm_xl_config(gp_ctx *ctx, const char *vm, char **text_out);

/*
 * Apply a VM's assignment to its domain created paused (`xl create -p`,
 * way 2 on plain Xen, the config carrying the VM's uuid and
 * passthrough = "enabled"): attach the GPU and its companions
 * (libxl_device_pci_add; functions already attached are kept) and set the
 * vCPUs' hard or soft affinity per the pool's pin-mode, read back with
 * libxl_list_vcpu.  Only for a domain that has never run (paused, cpu time
 * 0) and that is in the pool's cpupool (libxl_dominfo.cpupool, named through
 * libxl_list_cpupool).  On error the domain is left as it was (what this
 * call attached is detached again).  Writes an audit row "vm-boot-prepare".
 * Errors: GP_ERR_NOT_SUPPORTED (driver is not "xen"), GP_ERR_UNKNOWN_VM (no
 * live domain with that uuid), GP_ERR_VM_NO_GPU, GP_ERR_VM_STARTED (the
 * domain is not paused or has run), GP_ERR_INVALID_ARGUMENT (the domain is in
 * another cpupool: params cpupool, domain-cpupool, domid; nothing attached),
 * GP_ERR_NO_PASSTHROUGH, GP_ERR_DRIVER (libxl refused: the message is
 * libxl's own), GP_ERR_DB*.
 */
int gp_vm_boot_prepare(gp_ctx *ctx, const char *vm);

/*
 * What vm-boot-prepare did and what it knows of the domain's memory.  A
 * domain created with `xl create -p` has its memory populated before
 * boot-prepare runs; pinning its vCPUs afterwards does not move it.  The
 * memory went where the domain's node affinity pointed at creation, which
 * boot-prepare reads (libxl_domain_get_nodeaffinity) before pinning:
 * exactly the assignment's memory node gives best-effort, anything else
 * unknown (with a note saying why and how to fix: create the paused
 * domain with the cpus / cpus_soft lines vm-xl-config prints).
 */
typedef struct {
    int domid;
    int memory_node;                          /* the assignment's memory node */
    gp_memnode_certainty memory_node_certainty;
    char node_affinity[128];                  /* domain's node affinity before pinning ("2",
                                                 "0-3"); "" when libxl did not say */
    char note[512];                           /* why, when not best-effort; "" otherwise */
} gp_boot_prepare_result;

/* gp_vm_boot_prepare() that also fills *out (may be NULL). */
int gp_vm_boot_prepare_ex(gp_ctx *ctx, const char *vm, gp_boot_prepare_result *out);

/* One difference between gpupool's database and what Xen reports. */
typedef struct {
    char *kind;      /* "not-assignable": a pool GPU / companion not bound to
                        pciback nor attached to a domain;
                        "foreign-assignable": assignable in Xen, in no pool;
                        "gpu-missing": a pool GPU gone from the host;
                        "pci-missing": a live domain of an assigned VM lacks
                        the GPU or a companion;
                        "foreign-attachment": a pool GPU attached to a domain
                        that is not its assigned VM;
                        "affinity-mismatch": a vCPU's hard/soft affinity is
                        not the assignment's pCPUs */
    char *object;    /* pci-id, or "vm-uuid/vcpu" for affinity */
    char *expected;  /* what the database says, "" when nothing */
    char *actual;    /* what Xen reports */
    char *detail;    /* one line naming the objects */
    bool fixable;    /* fix=true may repair it (assignable_add, re-pin) */
    bool fixed;      /* repaired by this call */
} gp_reconcile_item;

void gp_reconcile_list_free(gp_reconcile_item *items, size_t n);

/*
 * Compare the database with Xen (assignable list, live domains, devices
 * attached to domains, actual vCPU affinity) and list every difference,
 * in the order of the kinds above, then by object.  With fix, repair what is
 * safe: make a pool function assignable again (rebind=1) when no domain
 * holds it, re-pin a live assigned VM's vCPUs.  Never detaches a device
 * from a live domain.  Caller frees with gp_reconcile_list_free().
 * Errors: GP_ERR_NOT_SUPPORTED (driver is not "xen"), GP_ERR_DRIVER,
 * GP_ERR_DB*, GP_ERR_NOMEM and host discovery errors.
 */
int gp_host_reconcile(gp_ctx *ctx, bool fix, gp_reconcile_item **out, size_t *n_out);

/* ------------------------------------------------------------------------ */
/* Host validation (ops/validate.c, docs/host-validate.md)                   */
/* ------------------------------------------------------------------------ */

/* gp_host_validate(), gp_check and its records / JSON. */
#define GPUPOOL_HAVE_VALIDATE 1

/* Verdict of one check; a closed set (names in core/enum.c). */
typedef enum {
    GP_CHECK_PASS = 0,   /* "pass": the fact is as passthrough needs it */
    GP_CHECK_WARN,       /* "warn": works, but slower or riskier; the remedy says why */
    GP_CHECK_FAIL,       /* "fail": passthrough of this subject will not work */
    GP_CHECK_MANUAL,     /* "manual": not measurable here; the remedy says what to measure */
    GP_CHECK_UNKNOWN,    /* "unknown": the source lacks the fact; the evidence says which */
    GP_CHECK_STATUS_LAST
} gp_check_status;

/* "pass", "warn", "fail", "manual", "unknown"; "unknown" out of range too. */
const char *gp_check_status_name(gp_check_status s);

/* One check's result.  Every string is owned by the check. */
typedef struct {
    char *id;          /* stable: "iommu", "interrupt-remapping", "gpu-link:0000:41:00.0",
                          "node:1", "power" ... (docs/host-validate.md lists them) */
    char *subject;     /* "host", a GPU's pci-id, or "node N" */
    char *title;       /* what is checked, one line */
    gp_check_status status;
    char *evidence;    /* the value(s) and where each came from: a sysfs file, a
                          libpci capability (LnkCap / LnkSta / DevCap), a libxl
                          physinfo field, an hwloc attribute */
    char *remedy;      /* what to do; "" when nothing */
} gp_check;

void gp_check_list_free(gp_check *c, size_t n);

/*
 * Check the host the context describes (live, or captured: sysfs_root,
 * pci_dump, topology_file) for GPU passthrough, one gp_check per check, in
 * this order: host checks (iommu, interrupt-remapping), per GPU in pci-id
 * order (gpu-link, gpu-path, gpu-numa, gpu-iommu-group, gpu-reset,
 * gpu-boot-vga, gpu-driver, gpu-bar, gpu-sriov, gpu-nic, each suffixed
 * ":<pci-id>"), per NUMA node ("node:<id>"), then the manual ones (power,
 * thermal, storage, network-throughput).  Facts: the host model
 * (gp_host_get: libpci, sysfs attributes, hwloc, libxl physinfo
 * cap_hvm_directio), the PCI hierarchy of the same source (sysfs device
 * paths, libpci bridge secondary bus numbers, hwloc Bridge objects: the
 * path to the root complex and the NICs, class 0200 / 0207),
 * <sysfs>/kernel/iommu_groups, and pool membership (the state database).
 * Nothing is guessed: a fact the source lacks gives "unknown".  Read-only.
 * *out: caller frees with gp_check_list_free().  *n_fail (may be NULL):
 * how many checks failed.
 * Errors: those of gp_host_get() (GP_ERR_PCI, GP_ERR_TOPOLOGY, GP_ERR_IO,
 * GP_ERR_DRIVER from libxl), GP_ERR_PCI / GP_ERR_IO / GP_ERR_TOPOLOGY
 * reading the PCI hierarchy, GP_ERR_DB* (pool membership), GP_ERR_NOMEM.
 * A check that finds a problem is a result, not an error.
 */
int gp_host_validate(gp_ctx *ctx, gp_check **out, size_t *n_out, size_t *n_fail);

/* ------------------------------------------------------------------------ */
/* Records: objects as ordered key/value lists for front ends                */
/* ------------------------------------------------------------------------ */

/* Keys use xe's hyphenated spelling ("pci-id", "numa-node"); typed JSON with
 * snake_case keys comes from gp_*_json() below (the same field tables).
 * Values are strings; unknown = "unknown", lists are comma-separated
 * ("32,33"), empty list = "". */
typedef struct {
    char *key;
    char *value;
} gp_field;

typedef struct {
    gp_field *fields;
    size_t n_fields;
} gp_record;

void gp_record_init(gp_record *r);
void gp_record_dispose(gp_record *r);
void gp_record_list_free(gp_record *rs, size_t n);
/* Value of key in r, or NULL. */
const char *gp_record_get(const gp_record *r, const char *key);

/*
 * Records of the context's objects, first field the object's identity:
 *  - gpu: pci-id, vendor-name, device-name, numa-node, pool, vm-uuid, ...
 *    (every gp_gpu fact, plus pool membership and assignment);
 *  - pool: uuid, name-label, name-description, numa-policy, pin-mode,
 *    cpu-overcommit, gpus, free-gpus, ...;
 *  - assignment: vm-uuid, vm-name-label, pci-id, numa-node, pcpus,
 *    memory-node, pin-mode, ...;
 *  - host node: node, socket, cpus, memory-total-mib, memory-free-mib, gpus;
 *  - audit: id, time, caller, operation, object, before, after;
 *  - vm: uuid, name-label, power-state, vcpus, memory-mib, gpu.
 * Caller frees with gp_record_list_free().
 */
int gp_gpu_records(gp_ctx *ctx, gp_record **out, size_t *n_out);
int gp_pool_records(gp_ctx *ctx, gp_record **out, size_t *n_out);
int gp_assignment_records(gp_ctx *ctx, gp_record **out, size_t *n_out);
int gp_host_records(gp_ctx *ctx, gp_record **out, size_t *n_out);
int gp_audit_records(gp_ctx *ctx, int64_t since_id, size_t limit,
                     gp_record **out, size_t *n_out);
int gp_vm_records(gp_ctx *ctx, gp_record **out, size_t *n_out);
/* Records of the queue (gp_request_list): position, vm-uuid, tenant, priority,
 * wait-seconds, pool, requested-by, on-behalf-of, id. */
int gp_request_records(gp_ctx *ctx, gp_record **out, size_t *n_out);
/* Records of the quotas (gp_quota_list): tenant, pool, pool-uuid, gpus, used. */
int gp_quota_records(gp_ctx *ctx, gp_record **out, size_t *n_out);
/* One-record helpers for a single placement result. */
int gp_placement_record(const gp_assignment *a, gp_record *out);
/* Records of host-validate's checks (keys id, subject, status, title, evidence, remedy);
 * caller frees with gp_record_list_free().  Errors: GP_ERR_NOMEM (nothing
 * returned). */
int gp_check_records(const gp_check *c, size_t n, gp_record **out, size_t *n_out);


/* ---- the XCP-ng pool: every host at once (ops/cluster.c) -------------------- *
 *
 * With the xapi driver gpupool's pool-wide state lives in xapi's database
 * (docs/pool-wide.md): pool definitions in pool.other_config
 * ["gpupool:pool:<uuid>"], membership in PCI.other_config["gpupool:pool"],
 * each assignment in its VM's other_config ("gpupool:placement" beside the
 * binding markers), each host's facts (nodes, pCPUs, GPUs) in
 * host.other_config["gpupool:facts"].  A host's sqlite database is its lock,
 * journal and cache, rebuilt by gp_pool_sync().  The _on() lists read xapi
 * (host, pool, PCI and VM records: four round trips whatever the number of
 * hosts) and add "host" / "host-uuid" to each record (JSON: host,
 * host_uuid); host (name-label or uuid, NULL = every host) filters them.
 * A pool's gpus and free-gpus name a member as "<pci-id>@<host name-label>";
 * filtered by host, a pool shows only that host's members and appears only
 * when it has one there.  With another driver host must be NULL
 * (GP_ERR_NOT_SUPPORTED otherwise) and the lists are this host's.
 * Errors: those of the plain lists, GP_ERR_DRIVER / GP_ERR_TIMEOUT (xapi),
 * GP_ERR_INVALID_ARGUMENT (no host of that name, param host).
 */
int gp_gpu_records_on(gp_ctx *ctx, const char *host, gp_record **out, size_t *n_out);
int gp_pool_records_on(gp_ctx *ctx, const char *host, gp_record **out, size_t *n_out);
int gp_assignment_records_on(gp_ctx *ctx, const char *host, gp_record **out, size_t *n_out);

/* pool-gpu-add / pool-gpu-remove of a GPU of host (name-label or uuid; NULL
 * = this host): run here, or on that host through host.call_plugin
 * ("add_gpu_to_pool" / "remove_gpu_from_pool"), whose errors come back as
 * they are.  Errors: those of gp_pool_gpu_add() / _remove(),
 * GP_ERR_INVALID_ARGUMENT (unknown host), GP_ERR_NOT_SUPPORTED (host given
 * without the xapi driver), GP_ERR_DRIVER (HOST_OFFLINE, ...). */
int gp_pool_gpu_add_on(gp_ctx *ctx, const char *pool, const char *pci_id, const char *host);
int gp_pool_gpu_remove_on(gp_ctx *ctx, const char *pool, const char *pci_id, const char *host);

/* What gp_pool_sync() did. */
typedef struct {
    bool facts_published;      /* host.other_config["gpupool:facts"] was (re)written */
    size_t pools_pulled;       /* pools added to or updated in sqlite from xapi */
    size_t pools_pruned;       /* pools destroyed elsewhere, removed from sqlite */
    size_t pools_pushed;       /* pools only sqlite had, published to xapi */
    size_t members_pulled;     /* memberships of this host's GPUs added to sqlite */
    size_t members_pushed;     /* memberships marked on their PCI objects */
    size_t assignments_pulled; /* assignments on this host's GPUs added to sqlite */
    size_t assignments_pushed; /* assignments whose VM lacked gpupool:placement */
    size_t assignments_dropped;/* rows of VMs xapi binds to another host's GPU */
    size_t skipped;            /* xapi entries that could not be taken (see the audit row) */
} gp_sync_report;

/*
 * Make this host's sqlite database say what xapi says (the pool-wide truth)
 * for this host: publish its facts; publish what only sqlite has (state made
 * before pool-wide state existed); then add to sqlite the pools xapi has,
 * the memberships of this host's GPUs (PCI.other_config) and the
 * assignments bound to this host (VM.other_config gpupool:placement), and
 * drop pools destroyed elsewhere and assignment rows of VMs xapi binds to
 * another host's GPU.  After the database was deleted it is
 * rebuilt so.  Audited ("pool-sync", after = the report as JSON).  report
 * may be NULL.  Errors: GP_ERR_NOT_SUPPORTED (not the xapi driver), the
 * driver's, GP_ERR_DB*, GP_ERR_NOMEM.
 */
int gp_pool_sync(gp_ctx *ctx, gp_sync_report *report);

/* One VM of an evacuation plan. */
typedef enum {
    GP_EVAC_MOVE = 0,          /* halted: its assignment can move to the target */
    GP_EVAC_SHUTDOWN_FIRST,    /* running (or paused, suspended): shut it down first */
    GP_EVAC_NO_TARGET,         /* no other host can take it (reason says why) */
    GP_EVAC_MOVED,             /* apply: moved */
    GP_EVAC_FAILED,            /* apply: the move failed and was undone (reason) */
    GP_EVAC_ACTION_LAST
} gp_evac_action;
const char *gp_evac_action_name(gp_evac_action a); /* "move", "shut-down-first", ... */

typedef struct {
    char vm_uuid[37];
    char *vm_name_label;
    gp_vm_state power_state;
    char pool_uuid[37];
    char *pool_name_label;
    char *from_host;               /* name-label */
    char from_pci_id[GP_PCI_ID_LEN];
    char *to_host;                 /* NULL when no target */
    char to_pci_id[GP_PCI_ID_LEN]; /* "" when no target */
    int to_node;                   /* -1 when none */
    int *to_pcpus;                 /* ascending; to_n_pcpus */
    size_t to_n_pcpus;
    gp_evac_action action;
    char *reason;
} gp_evacuation;

void gp_evacuation_list_free(gp_evacuation *v, size_t n);
/* The record of one entry: vm-uuid, vm-name-label, power-state, pool,
 * from-host, from-pci-id, action, to-host, to-pci-id, to-numa-node,
 * to-pcpus, reason.  GP_ERR_NOMEM. */
int gp_evacuation_record(const gp_evacuation *e, gp_record *out);

/*
 * For every VM holding a GPU of host (name-label or uuid), a target host,
 * GPU, node and pCPUs on another host in the same gpupool pool
 * (gp_place_sites with that host excluded; targets already planned are
 * taken), or why none exists.  Running VMs are planned too but marked
 * GP_EVAC_SHUTDOWN_FIRST: gpupool never migrates a live VM.  *out (caller
 * frees with gp_evacuation_list_free) in ascending VM name-label.
 * Errors: GP_ERR_NOT_SUPPORTED (not the xapi driver), GP_ERR_INVALID_ARGUMENT
 * (unknown host), the driver's, GP_ERR_NOMEM.
 */
int gp_host_evacuate_plan(gp_ctx *ctx, const char *host, gp_evacuation **out, size_t *n_out);
/*
 * Carry the plan out for the halted VMs: for each, release on its host and
 * assign the planned GPU on the target (each a journaled, audited operation
 * of that host's gpupool); when the assignment fails the VM gets its old
 * GPU back and the entry says GP_EVAC_FAILED with the reason.  One audit
 * row "host-evacuate" per VM on this host (before / after: host and GPU).
 * To undo a move: vm-gpu-release, then vm-gpu-assign with the old host and
 * pci-id.  Returns GP_OK when every move that was planned succeeded.
 * Errors: those of the plan; GP_ERR_DRIVER when a move failed (the list
 * still says which).
 */
int gp_host_evacuate(gp_ctx *ctx, const char *host, gp_evacuation **out, size_t *n_out);

/* ---- a picture of the host (ops/draw.c, docs/host-draw.md) ------------------- */

/* gp_host_draw() and gp_host_draw_file(). */
#define GPUPOOL_HAVE_HOST_DRAW 1

/*
 * The host as an SVG 1.1 picture (written with libxml2's xmlTextWriter):
 * one panel per host with its sockets, the NUMA nodes inside them, each
 * node's pCPUs as 12 px cells coloured by the VM whose assignment pins
 * vCPUs there (assignment pcpus; a pCPU several VMs share is drawn in the
 * first VM's colour with a black border), the node's memory (total and
 * free as the host model has it: sysfs meminfo, libxl or hwloc; and the
 * sum of the memory-mib of the assignments whose memory node it is), the
 * GPUs attached to the node (numa-node) with pci-id, model (pci.ids
 * device name, else [vendor:device]), pool and holding VM, and apart the
 * pCPUs and GPUs of no known node.  Free GPUs that gp_capacity_get() finds
 * stranded get a red dashed border and a line "stranded: <reasons>"
 * (gp_strand_reasons); capacity is this host's only, so on an XCP-ng pool
 * only this host's panel is marked.  A legend gives each VM's colour,
 * name-label, uuid and power state; colours come from a fixed palette in
 * the order of VM name-label then uuid.  Identifiers let programs read
 * it: pCPU cells are <rect id="h<panel>-pcpu-<id>">, GPUs
 * <g id="h<panel>-gpu-<pci-id with '-' for ':'>">, legend swatches
 * <rect id="legend-vm-<uuid>">; every object has a <title>.  The same
 * state gives the same bytes.
 *
 * host: NULL or "" = this host; with the xapi driver NULL is every host of
 * the XCP-ng pool (one panel each, ascending name-label; each host's
 * published facts, the pools, memberships and placements as xapi holds
 * them, docs/pool-wide.md) and a name-label or uuid draws that host only.
 *
 * *svg_out: NUL-terminated UTF-8 text (an XML declaration, then <svg>),
 * malloc'ed, the caller frees it with free(); *len_out (may be NULL) its
 * length in bytes without the NUL.  On error *svg_out is NULL.
 * Errors: those of gp_host_get(), gp_pool_list(), gp_assignment_list(),
 * gp_vm_list() and gp_capacity_get() (this host) or of the pool-wide view
 * (GP_ERR_DRIVER, GP_ERR_TIMEOUT), GP_ERR_INVALID_ARGUMENT (no host of that
 * name, param host), GP_ERR_NOT_SUPPORTED (host given without the xapi
 * driver), GP_ERR_NOMEM.
 */
int gp_host_draw(gp_ctx *ctx, const char *host, char **svg_out, size_t *len_out);
/*
 * gp_host_draw() written to path atomically: into a new file beside it
 * (path.XXXXXX, mode 0644), synced, then renamed over path, so a reader
 * sees the old picture or the new one, never a part.  On error path is
 * untouched and the temporary file removed.  Errors: those of
 * gp_host_draw(), GP_ERR_INVALID_ARGUMENT (path NULL or empty, param out),
 * GP_ERR_IO (create, write, sync or rename failed; param path).
 */
int gp_host_draw_file(gp_ctx *ctx, const char *host, const char *path);

/* ---- objects as typed JSON (json-c) --------------------------------------- *
 *
 * The same objects as the records, from the same field tables, as json-c
 * objects: snake_case keys ("pci_id", "numa_node"), numbers are numbers,
 * IDs lower-case hex strings ("0302"), tristates booleans, unknown facts
 * null, lists arrays (empty, never null).  The shapes are those of the XAPI
 * plugin (docs/xapi-plugin.md, "Objects"); beside the records' fields a GPU
 * has prog_if, revision, subsystem_vendor_id / subsystem_device_id (null
 * when unknown), link_cap / link_sta as {speed_gts, width}, companions as
 * objects {pci_id, class, vendor_id, device_id, driver}, pool_uuid,
 * pool_name_label, vm_uuid and vm_name_label (null when in no pool / free).
 * Include <json-c/json.h> to use the results; the caller owns *out and
 * releases it with json_object_put().  On failure *out is NULL and the
 * error is in the context (gp_ctx_last_error()).
 */
struct json_object;
/* gp_*_json(): objects as json-c objects. */
#define GPUPOOL_HAVE_JSON 1
/*
 * Every GPU of the host (gp_host_get()), ascending pci-id, as a JSON array,
 * with its pool (state database) and holding VM (the assignments; the VM's
 * name-label from the driver).  Errors: those of gp_host_get() and
 * gp_assignment_list(), GP_ERR_DATABASE, GP_ERR_NOMEM.
 */
int gp_gpus_json(gp_ctx *ctx, struct json_object **out);
/* One GPU (pci_id: any accepted spelling) as a JSON object, as in
 * gp_gpus_json().  Errors: those, and GP_ERR_UNKNOWN_GPU (param pci-id). */
int gp_gpu_json(gp_ctx *ctx, const char *pci_id, struct json_object **out);
/* Every pool (ordered as gp_pool_list()) as a JSON array; free_gpus are the
 * members no assignment holds.  Errors: those of gp_pool_list(),
 * GP_ERR_DATABASE, GP_ERR_NOMEM. */
int gp_pools_json(gp_ctx *ctx, struct json_object **out);
/* One pool (uuid or name-label) as a JSON object.  Errors: those of
 * gp_pool_get() (GP_ERR_UNKNOWN_POOL, ...), GP_ERR_DATABASE, GP_ERR_NOMEM. */
int gp_pool_json(gp_ctx *ctx, const char *pool, struct json_object **out);
/* Every assignment (gp_assignment_list()) as a JSON array.  Errors: those
 * of gp_assignment_list(), GP_ERR_NOMEM. */
int gp_assignments_json(gp_ctx *ctx, struct json_object **out);
/* The pool-wide lists (see gp_gpu_records_on()) as JSON arrays: each
 * object of the plain list plus host and host_uuid; a pool also has
 * members: [{pci_id, host, host_uuid, vm_uuid (null when free)}]. */
int gp_gpus_json_on(gp_ctx *ctx, const char *host, struct json_object **out);
int gp_pools_json_on(gp_ctx *ctx, const char *host, struct json_object **out);
int gp_assignments_json_on(gp_ctx *ctx, const char *host, struct json_object **out);
/* An evacuation plan entry as JSON (snake_case keys of its record). */
struct json_object *gp_evacuation_json(const gp_evacuation *e);
/* One assignment (e.g. gp_vm_gpu_assign()'s result) as a new JSON object,
 * a's strings copied; NULL on ENOMEM.  Pure: no context, no database. */
struct json_object *gp_assignment_json(const gp_assignment *a);
/* JSON of checks: an array of {"id", "subject", "status", "title",
 * "evidence", "remedy"} objects in order.  New reference; NULL on ENOMEM. */
struct json_object *gp_checks_json(const gp_check *c, size_t n);

/* ---- capacity (ops/capacity.c, docs/capacity-report.md) -------------------- */

/* gp_capacity_get(), gp_capacity_json(), gp_capacity_records(). */
#define GPUPOOL_HAVE_CAPACITY 1

/* "Recent" for a pool's smallest VM: GPU-held intervals (gp_usage_report's
 * usage intervals) that were open at some time in the last 30 days. */
#define GP_CAPACITY_RECENT_SECONDS (30 * 24 * 3600)
/* The smallest VM when a pool has no recent or current assignment. */
#define GP_CAPACITY_DEFAULT_VCPUS 1
#define GP_CAPACITY_DEFAULT_MEMORY_MIB 1024

/* What a GPU is doing, as capacity sees it. */
typedef enum {
    GP_CAP_FREE = 0,      /* in a pool, held by no VM, its pool's smallest recent VM fits
                             NUMA-local on its node */
    GP_CAP_STRANDED,      /* in a pool, held by no VM, but that VM does not fit on its
                             node (reason says why) */
    GP_CAP_RUNNING,       /* held by a VM that is not halted (running, paused, ...) */
    GP_CAP_HALTED,        /* held by a halted VM */
    GP_CAP_NO_POOL,       /* in no pool */
    GP_CAP_STATE_LAST     /* sentinel */
} gp_cap_state;

/* "free", "stranded", "running", "halted", "no-pool"; "unknown" out of range. */
const char *gp_cap_state_name(gp_cap_state s);

/* Why a free GPU is stranded: a reason's bit in gp_capacity_gpu.stranded is
 * 1u << the reason. */
typedef enum {
    GP_STRAND_REASON_NO_PCPUS = 0, /* "no-pcpus": its node lacks vCPU room (floor(cpu-overcommit
                                      x pCPUs in the pool's cpupool) - vCPUs pinned there) */
    GP_STRAND_REASON_NO_MEMORY,    /* "no-memory": its node lacks free memory (node MemFree /
                                      libxl free memory minus halted assigned VMs') */
    GP_STRAND_REASON_NO_NODE,      /* "no-numa-node": its NUMA node is unknown: never
                                      NUMA-local */
    GP_STRAND_REASON_LAST          /* sentinel */
} gp_strand_reason;

#define GP_STRAND_NO_PCPUS  (1u << GP_STRAND_REASON_NO_PCPUS)
#define GP_STRAND_NO_MEMORY (1u << GP_STRAND_REASON_NO_MEMORY)
#define GP_STRAND_NO_NODE   (1u << GP_STRAND_REASON_NO_NODE)

/* "no-pcpus", "no-memory", "no-numa-node"; "unknown" out of range. */
const char *gp_strand_reason_name(gp_strand_reason r);

/* One GPU of the host. */
typedef struct {
    char *host;                /* XCP-ng pool (xapi driver): its host's name-label;
                                  NULL otherwise */
    char pci_id[GP_PCI_ID_LEN];
    int numa_node;             /* -1 unknown */
    char pool_uuid[37];        /* "" in no pool */
    char *pool_name_label;     /* NULL in no pool */
    gp_cap_state state;
    unsigned stranded;         /* GP_STRAND_* bits; 0 unless GP_CAP_STRANDED */
    char vm_uuid[37];          /* "" when free */
    char *tenant;              /* of the holding VM; NULL when free */
    int64_t halted_seconds;    /* GP_CAP_HALTED: seconds since the VM is known halted
                                  (end of its last recorded run, else since it got the
                                  GPU; governance's vm_runs / usage); -1 otherwise */
} gp_capacity_gpu;

/* One NUMA node as one pool sees it (a node holding a member of the pool). */
typedef struct {
    char *host;                /* as gp_capacity_gpu's */
    char pool_uuid[37];
    int node;                  /* node id */
    size_t gpus, free, stranded, running, halted;  /* the pool's GPUs on the node */
    unsigned stranded_why;     /* union of the stranded GPUs' GP_STRAND_* bits */
    int max_vcpus;             /* most vCPUs a VM of this pool gets NUMA-local on this node
                                  with one of its free GPUs (gp_place() probes); 0 when
                                  the node has no free GPU of the pool or no room */
    uint64_t max_memory_mib;   /* most memory (MiB) likewise, with 1 vCPU; 0 as above or
                                  when the node's memory is unknown */
    bool memory_known;         /* false: the host model has no memory figure for the node */
} gp_capacity_node;

/* One pool (on an XCP-ng pool: one pool on one host). */
typedef struct {
    char *host;                /* as gp_capacity_gpu's */
    char uuid[37];
    char *name_label;
    size_t gpus, free, stranded, running, halted;  /* on the host */
    int min_vcpus;             /* the pool's smallest recent VM: vCPUs ... */
    uint64_t min_memory_mib;   /* ... and memory, MiB (each the minimum on its own) */
    const char *min_basis;     /* "recent" (usage intervals of the last
                                  GP_CAPACITY_RECENT_SECONDS), "current" (its
                                  assignments), "default" (GP_CAPACITY_DEFAULT_*);
                                  static */
    int largest_vcpus;         /* the largest VM still placeable NUMA-local: the node
                                  with the most max_vcpus, then max_memory_mib */
    uint64_t largest_memory_mib;
    int largest_node;          /* -1: none (no free GPU with room) */
} gp_capacity_pool;

/* What gp_capacity_get() found.  Owns everything: gp_capacity_free(). */
typedef struct {
    int64_t now;               /* gp_now() when it was taken, Unix seconds */
    gp_capacity_pool *pools;   /* ascending name-label (gp_pool_list); pool-wide by host
                                  name-label, then pool name-label */
    size_t n_pools;
    gp_capacity_node *nodes;   /* by pool (order of pools), then ascending node id */
    size_t n_nodes;
    gp_capacity_gpu *gpus;     /* every GPU of the host (pool-wide: of each host, by
                                  host name-label), ascending pci-id */
    size_t n_gpus;
    size_t gpus_no_pool;       /* GPUs in no pool */
} gp_capacity;

/*
 * The allocation picture of this host: per pool and NUMA node the free
 * GPUs, the free GPUs stranded because their node lacks pCPUs or memory for
 * the pool's smallest recent VM, the GPUs held by running and by halted VMs
 * (and for how long halted), the GPUs in no pool, and the largest VM still
 * placeable NUMA-local.  Reads only.
 *
 * Facts: the host model (gp_host_get: nodes, pCPUs, memory, GPUs), pools,
 * members and assignments (state database), VM power states (the driver),
 * GPU-held intervals and recorded runs (governance, gov.c).  Room on a node
 * is what gp_place() computes, probed with numa-policy required and the
 * GPU forced: vCPUs within floor(cpu-overcommit x the node's pCPUs in the
 * pool's cpupool) after the vCPUs pinned there, memory within the node's
 * free memory after the halted assigned VMs'.  The pool's smallest recent
 * VM is the smallest vCPU count and, separately, the smallest memory among
 * the VMs that held one of its GPUs at some time in the last
 * GP_CAPACITY_RECENT_SECONDS (usage intervals); else among its current
 * assignments; else GP_CAPACITY_DEFAULT_VCPUS / _MEMORY_MIB.  Halted time
 * is exact with the sim driver (it records every power change); with xen
 * and xapi a run gpupool did not see is not known, so it counts from the
 * last recorded run or from the assignment.
 *
 * Pool-wide on XCP-ng (xapi driver, docs/pool-wide.md): every host of the
 * pool that published its facts (host.other_config "gpupool:facts"; this
 * host's live model), or only host (name-label or uuid), from the pool-wide
 * view (pools, PCI memberships, VM placements and power states: four xapi
 * round trips); each pool, node and GPU then names its host, and a pool
 * appears once per host holding a member.  The smallest recent VM comes
 * from this host's usage intervals, else the pool's current assignments on
 * every host; halted time from this host's records only (-1 for a VM this
 * host never recorded).
 *
 * host: NULL or "" (this host; pool-wide: every host), or a host of the
 * XCP-ng pool (xapi driver only).
 * *out: a new gp_capacity the caller frees with gp_capacity_free(); NULL
 * on error.  Errors (gp_ctx_last_error()): GP_ERR_NOT_SUPPORTED (host
 * without the xapi driver), GP_ERR_INVALID_ARGUMENT (no such host, param
 * host), those of gp_host_get(), gp_pool_list(), gp_vm_list() (the
 * driver's; xapi's: GP_ERR_DRIVER, GP_ERR_TIMEOUT), GP_ERR_DB*,
 * GP_ERR_NOMEM.
 */
int gp_capacity_get(gp_ctx *ctx, const char *host, gp_capacity **out);
/* Free c and what it owns; NULL is accepted. */
void gp_capacity_free(gp_capacity *c);
/* The comma list of the reasons in GP_STRAND_* bits why: "no-pcpus",
 * "no-memory", "no-numa-node" in that order ("" for 0).  buf holds at
 * least 40 bytes; returns buf. */
char *gp_strand_reasons(unsigned why, char *buf, size_t len);
/*
 * Records of c for front ends (xe's spelling), in this order:
 * (each with "host" after kind when pool-wide)
 *  - one per pool: kind "pool", pool, pool-uuid, gpus, free, stranded,
 *    held-running, held-halted, smallest-vm-vcpus, smallest-vm-memory-mib,
 *    smallest-vm-basis, largest-vm-vcpus, largest-vm-memory-mib,
 *    largest-vm-node ("" when none);
 *  - one per pool and node: kind "node", pool, numa-node, gpus, free,
 *    stranded, stranded-reasons, held-running, held-halted, max-vcpus,
 *    max-memory-mib ("unknown" when the node's memory is);
 *  - one per GPU that is stranded, held by a halted VM or in no pool: kind
 *    "gpu", pci-id, numa-node, pool, state, reason, vm-uuid, tenant,
 *    halted-seconds ("" when not halted).
 * *out caller frees with gp_record_list_free().  Errors: GP_ERR_NOMEM.
 */
int gp_capacity_records(const gp_capacity *c, gp_record **out, size_t *n_out);
/* c as one JSON object (pool-wide: "host" in each pool and GPU object)
 * {now, gpus_no_pool, pools: [{uuid, name_label, gpus,
 * free, stranded, running, halted, smallest_vm: {vcpus, memory_mib, basis},
 * largest_vm: {vcpus, memory_mib, node} or null, nodes: [{node, gpus, free,
 * stranded, stranded_reasons: [..], running, halted, max_vcpus,
 * max_memory_mib (null when unknown)}]}], gpus: [{pci_id, numa_node, pool,
 * pool_uuid, state, stranded_reasons, vm_uuid, tenant, halted_seconds}]}
 * (null for what is unknown or does not apply).  NULL on ENOMEM; the caller
 * puts it. */
struct json_object *gp_capacity_json(const gp_capacity *c);

/* ---- metrics (ops/metrics.c, docs/metrics.md) ------------------------------ */

/* gp_metrics_text(), gp_metrics_write(). */
#define GPUPOOL_HAVE_METRICS 1

/*
 * This host's allocation as Prometheus metrics: the text exposition format
 * 0.0.4 (what node_exporter's textfile collector and promtool read), every
 * family with "# HELP" and "# TYPE", label values escaped (\\, \", \n).
 * Families (docs/metrics.md lists them with their labels):
 *   gpupool_gpu_info, gpupool_gpu_state (free, stranded, assigned, running),
 *   gpupool_gpu_assignment_info, gpupool_gpu_halted_holder_seconds,
 *   gpupool_gpu_link_downgraded, gpupool_pool_gpus, gpupool_gpus_no_pool,
 *   gpupool_stranded_gpus, gpupool_pool_largest_vm_vcpus,
 *   gpupool_pool_largest_vm_memory_bytes, gpupool_assignments,
 *   gpupool_numa_local_assignments_ratio,
 *   gpupool_gpu_allocated_seconds_total, gpupool_gpu_running_seconds_total
 *   (counters), gpupool_queue_length, gpupool_queue_wait_seconds
 *   (histogram).
 * Labels follow NVIDIA's DCGM exporter where the same thing is meant
 * (pci_bus_id, hostname, model_name for DCGM's modelName) plus pool,
 * vm_uuid, numa_node, tenant, state, reason.  Units are base units
 * (seconds, bytes).
 * Facts: gp_host_get() (GPUs, model from pci.ids, LnkCap/LnkSta),
 * gp_capacity_get() (states, stranded, largest VM, halted seconds), the
 * assignments (NUMA-local share), gp_usage_report() over [0, now) by pool
 * and tenant (the counters), gp_request_list() (queue, wait-seconds).
 *
 * hostname: the hostname label; NULL = gethostname().
 * *out: malloc'ed NUL-terminated text, the caller frees; NULL on error.
 * Errors: those of gp_capacity_get(), gp_usage_report(),
 * gp_request_list(), GP_ERR_NOMEM.
 */
int gp_metrics_text(gp_ctx *ctx, const char *hostname, char **out);
/*
 * gp_metrics_text() written to path atomically, for node_exporter's
 * textfile collector: a temporary file ".<name>.XXXXXX" (mkstemp) in the
 * same directory, mode 0644, written, fsync()ed, then rename()d over path
 * and the directory fsync()ed.  Readers see the old file or the new one,
 * never a part; on any error the temporary file is removed and path is
 * left as it was.
 * Errors: GP_ERR_INVALID_ARGUMENT (path NULL or empty, param out),
 * GP_ERR_IO (create, write, fsync or rename failed: the message has
 * strerror, param path), those of gp_metrics_text().
 */
int gp_metrics_write(gp_ctx *ctx, const char *hostname, const char *path);

/* ---- the XAPI plugin protocol ------------------------------------------------ *
 *
 * What xapi hands a plugin (xapi_plugins.ml: the plugin's argv[1] is an
 * XML-RPC methodCall whose methodName is the function and whose params are
 * the session ref and a struct of string arguments) and the replies
 * XenAPIPlugin.dispatch writes on stdout (a methodResponse of
 * {Status: "Success", Value: string} or {Status: "Failure",
 * ErrorDescription: [code, params...]}).  Parsed and built with libxml2. */

typedef struct {
    char *method;       /* methodName: the plugin function */
    char *session;      /* params[0]: xapi session ref ("" when empty) */
    char **keys;        /* params[1]: argument names, in document order */
    char **values;      /* their string values */
    size_t n_args;
} gp_plugin_call;

void gp_plugin_call_init(gp_plugin_call *c);
void gp_plugin_call_dispose(gp_plugin_call *c);
/*
 * Parse len bytes of buf (no NUL needed) into *out (_init'ed by the call).
 * Errors (err set, *out left empty): GP_ERR_INVALID_ARGUMENT - not a
 * well-formed methodCall (a DTD, an unknown type, nesting deeper than 64;
 * the message names the line), params not (session string[, struct]), or
 * an argument that is not a string (param "argument": its name);
 * GP_ERR_NOMEM.
 */
int gp_plugin_call_parse(const char *buf, size_t len, gp_plugin_call *out,
                         gp_error_info *err);
/*
 * The reply for a Success carrying value (a string, e.g. JSON text) or a
 * Failure carrying desc[0..n) (code first).  *out (caller frees) is a
 * NUL-terminated methodResponse, *len (may be NULL) its length.  Strings
 * that XML cannot carry are made valid first (invalid UTF-8 and forbidden
 * characters become U+FFFD).  Errors: GP_ERR_NOMEM.
 */
int gp_plugin_reply_success(const char *value, char **out, size_t *len);
int gp_plugin_reply_failure(const char *const *desc, size_t n, char **out, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* GPUPOOL_H */
