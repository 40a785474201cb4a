/*
 * drivers/drivers.h - the hypervisor drivers: sim (drivers/sim.c), xen
 * (drivers/xen.c, libxl) and xapi (drivers/xapi.c, XCP-ng), chosen from one
 * methods table in the style of pciutils' lib/ (drivers/driver.c).  A
 * driver sees its own state (gp_drv), the configuration, the state
 * database and the host model; never the context or the operations above
 * it.  Not installed.
 */
#ifndef GPUPOOL_DRIVERS_H
#define GPUPOOL_DRIVERS_H

#include "core/core.h"
#include "store/store.h"

struct gp_driver_ops;

/* One opened driver: what a driver function may use. */
typedef struct gp_drv {
    const struct gp_driver_ops *ops;
    void *priv;                 /* the driver's own state (open .. close) */
    const gp_config *cfg;       /* borrowed */
    gp_error_info *err;         /* where errors go: borrowed */
    gp_store *store;            /* the state database: borrowed */
    /* The host model, loaded by the owner on first call (discover/).
     * Errors are the owner's discovery errors, set on err. */
    int (*host_get)(struct gp_drv *d, const gp_host **out);
    /* Set by gp_driver_open(): the live host's topology and PCI locality
     * come from libxl (xen; xapi when libxl answers). */
    bool libxl_topology;
} gp_drv;

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
    /* The whole assignment when known (NULL: only the fields above): xapi
     * keeps it as VM.other_config["gpupool:placement"] for the pool-wide
     * view and pool-sync. */
    const gp_assignment *assignment;
} gp_boot_config;

typedef struct gp_driver_ops {
    /* Open driver state into d->priv. */
    int (*open)(gp_drv *d);
    void (*close)(gp_drv *d);
    /* All VMs known (live domains + driver records). */
    int (*vm_list)(gp_drv *d, gp_vm **out, size_t *n_out);
    /* Make a PCI function assignable (pciback); *orig_driver (caller frees)
     * receives the driver it had ("none" if unbound). */
    int (*device_assignable_add)(gp_drv *d, const char *pci_id, char **orig_driver);
    /* Give it back to orig_driver (NULL/"none": leave unbound). */
    int (*device_assignable_remove)(gp_drv *d, const char *pci_id, const char *orig_driver);
    /* Current binding of a function ("pciback", "nvidia", "none"); caller frees. */
    int (*device_driver)(gp_drv *d, const char *pci_id, char **driver);
    /* Record (bc != NULL) or clear (bc == NULL) the VM's boot-time GPU and affinity. */
    int (*vm_record_boot)(gp_drv *d, const char *vm_uuid, const gp_boot_config *bc);
    /* Apply affinity to a running VM. */
    int (*vm_apply_affinity)(gp_drv *d, const char *vm_uuid, const int *pcpus,
                             size_t n_pcpus, gp_pin_mode mode);
    /* Optional: one VM by uuid or unique name-label, without listing every
     * VM (out is _init'ed by the caller).  Sets d->err and returns
     * GP_ERR_UNKNOWN_VM, GP_ERR_VM_AMBIGUOUS, GP_ERR_DRIVER or GP_ERR_DB*.
     * NULL: gp_vm_get() searches vm_list() instead. */
    int (*vm_get)(gp_drv *d, const char *vm, gp_vm *out);
    /* What an assignment's memory_node is worth with this driver (the
     * assignment's memory_node_certainty) and why (static text).  Zero /
     * NULL: unknown, "the <name> driver does not place memory". */
    gp_memnode_certainty memory_certainty;
    const char *memory_basis;
} gp_driver_ops;

/* One entry of the methods table. */
typedef struct {
    const char *name;           /* "sim", "xen", "xapi": --driver=, GPUPOOL_DRIVER */
    /* True when the automatic choice should take this driver here (xapi's
     * socket, a hypervisor answering libxl); NULL: never chosen
     * automatically unless it is the last resort (sim). */
    bool (*probe)(const gp_config *cfg);
    const gp_driver_ops *ops;   /* NULL: not built into this library */
    /* Writes happen in the caller's sqlite transaction (sim). */
    bool transactional;
    /* Host topology and PCI locality come from libxl on a live host when
     * libxl answers (xen, xapi): dom0's sysfs shows neither. */
    bool topology_from_libxl;
    /* Halted VMs are known only by uuid: their vCPUs and memory come from
     * gpupool's assignments (plain Xen). */
    bool halted_by_uuid;
    /* The driver writes into another database (xapi's): changes go through
     * the intent journal (ops/journal.c) instead of one sqlite transaction. */
    bool journaled;
} gp_driver_entry;

/* The methods table in probe order (xapi, xen, sim: the last is the
 * fallback), and the entry of a name (NULL when none has it). */
GP_HIDDEN extern const gp_driver_entry gp_drivers[];
GP_HIDDEN extern const size_t gp_drivers_count;
GP_HIDDEN const gp_driver_entry *gp_driver_find(const char *name);
/* The names of the table's entries, in table order (static, built once). */
GP_HIDDEN const char *const *gp_driver_names(size_t *n);
/*
 * Choose the driver for cfg (cfg->driver names one; NULL: the first entry
 * whose probe answers, in the order xapi, xen, sim) and open it into d
 * (d->cfg, err, store and host_get set by the caller).  *entry receives the
 * table entry.  Errors: GP_ERR_INVALID_ARGUMENT (unknown name, param
 * driver), GP_ERR_NOT_SUPPORTED (built without it), the driver's open errors.
 */
GP_HIDDEN int gp_driver_open(gp_drv *d, const gp_driver_entry **entry);
/* The entry gp_driver_open() would open for d->cfg, without opening it
 * (no xapi login, no libxl context).  Errors: as gp_driver_open()'s
 * choice (GP_ERR_INVALID_ARGUMENT, GP_ERR_NOT_SUPPORTED). */
GP_HIDDEN int gp_driver_choose(gp_drv *d, const gp_driver_entry **entry);
/* Close d's driver (priv released); nothing when none is open. */
GP_HIDDEN void gp_driver_close(gp_drv *d);

GP_HIDDEN extern const gp_driver_ops gp_driver_sim;
GP_HIDDEN extern const gp_driver_ops gp_driver_xapi;
#ifdef GPUPOOL_WITH_XEN
GP_HIDDEN extern const gp_driver_ops gp_driver_xen;
#endif

/* ---- sim driver (drivers/sim.c): its tables, for the sim VM lifecycle ---- */

/* Add a halted simulated VM (v: uuid, name_label, vcpus, memory_mib), in the
 * caller's transaction.  Errors: GP_ERR_DB*. */
GP_HIDDEN int gp_sim_vm_insert(gp_drv *d, const gp_vm *v);
/* Move a simulated VM to state to (running: the next free domid; halted:
 * domid and affinity cleared), in the caller's transaction. */
GP_HIDDEN int gp_sim_vm_set_state(gp_drv *d, const char *uuid, gp_vm_state to);
/* Remove a simulated VM and its boot record, in the caller's transaction. */
GP_HIDDEN int gp_sim_vm_delete(gp_drv *d, const char *uuid);

/* ---- xapi driver (drivers/xapi.c): what the XCP-ng operations use -------- */

struct gp_xr_value;
/* dom0 access status of a PCI function ("enabled", "disable_on_reboot",
 * ...), from PCI.get_dom0_access_status; *status caller frees.
 * Errors: UNKNOWN_GPU (no PCI object), GP_ERR_DRIVER, GP_ERR_TIMEOUT. */
GP_HIDDEN int gp_xapi_drv_dom0_status(gp_drv *d, const char *pci_id, char **status);
/* Every VM record (VM.get_all_records, _init'ed by the callee) and this
 * host's ref (static to d).  Errors: GP_ERR_DRIVER, GP_ERR_TIMEOUT. */
GP_HIDDEN int gp_xapi_drv_vm_records(gp_drv *d, struct gp_xr_value *all, const char **host_ref);
/* A VM record of a guest (not a template, snapshot or the control domain). */
GP_HIDDEN bool gp_xapi_rec_is_guest(const struct gp_xr_value *rec);
/* Can the VM (uuid) take a GPU of this host?  From VM.get_record and its
 * VBD -> VDI -> SR -> PBD chain.  Errors: GP_ERR_VM_UNSUITABLE (template,
 * snapshot, control domain, domain_type pv/pvh/pv_in_pvh: params vm and
 * kind or domain-type), GP_ERR_WRONG_HOST (resident on, affinity to, or a
 * disk on a non-shared SR of another host: params vm, host = its
 * name-label), GP_ERR_UNKNOWN_VM, GP_ERR_DRIVER, GP_ERR_TIMEOUT. */
GP_HIDDEN int gp_xapi_drv_vm_suitable(gp_drv *d, const char *vm_uuid);
/* The other_config keys gpupool keeps beside what it writes (drivers/xapi.c),
 * and the VM.blocked_operations value of a write in progress. */
#define GP_XAPI_MARK_VM "gpupool:vm"
#define GP_XAPI_MARK_PCI "gpupool:pci"
#define GP_XAPI_MARK_HOST "gpupool:host"
#define GP_XAPI_MARK_PLACEMENT "gpupool:placement"
#define GP_XAPI_BLOCK_REASON "gpupool: GPU assignment being written"
/* The orig_driver the xapi driver records for a pool function: dom0 access
 * as xapi reported it before gpupool hid it, "xapi-dom0-access:<status>". */
#define GP_XAPI_ORIG_PREFIX "xapi-dom0-access:"
/* Give the xapi connection a new deadline (CLOCK_MONOTONIC ms, 0 = none)
 * and return the old one: settling an intent runs on the undo budget. */
GP_HIDDEN uint64_t gp_xapi_drv_set_deadline(gp_drv *d, uint64_t deadline_ms);
/* Remove markers another VM's uuid names (copied by VM.clone) and the
 * other-config:pci entries they list, from a halted VM.  Errors: as
 * vm_record_boot. */
GP_HIDDEN int gp_xapi_drv_clear_copied(gp_drv *d, const char *vm_uuid);
/* One PCI function of this host that xapi gives to a VM outside gpupool's
 * database: named in the other-config:pci of a VM that may run here, or
 * under a VGPU resident (or scheduled) on a PGPU of this host. */
typedef struct {
    char pci_id[GP_PCI_ID_LEN];
    char vm_uuid[37];
    char *how;                  /* one line for messages */
    bool vgpu;                  /* through a VGPU (else other-config:pci) */
    bool running;               /* the VM is resident on this host now */
} gp_xapi_held;
/* Every such function (VM.get_all_records, VGPU.get_all_records,
 * PGPU.get_all_records); *out caller frees with gp_xapi_held_free.
 * Errors: GP_ERR_DRIVER, GP_ERR_TIMEOUT, GP_ERR_NOMEM. */
GP_HIDDEN int gp_xapi_drv_held(gp_drv *d, gp_xapi_held **out, size_t *n_out);
GP_HIDDEN void gp_xapi_held_free(gp_xapi_held *h, size_t n);
/* This host's Host.guest_VCPUs_params:mask ("0,1,2"), NULL when unset;
 * xapi intersects every guest vCPU mask with it (xapi_xenops.ml).
 * *mask caller frees.  Errors: GP_ERR_DRIVER, GP_ERR_TIMEOUT. */
GP_HIDDEN int gp_xapi_drv_host_mask(gp_drv *d, char **mask);
/* The xapi user behind the session (auth_user_name, following
 * session.parent of forwarded calls), "root (local superuser)" for a local
 * root session, NULL when xapi tells nothing.  *user caller frees.  Never
 * fails (GP_OK): the audit log falls back to the process caller. */
GP_HIDDEN int gp_xapi_drv_user(gp_drv *d, char **user);
/* A xapi message on a VM, which Xen Orchestra and `xe message-list` show:
 * message.create(name, priority, cls "VM", obj_uuid vm_uuid, body)
 * (ocaml/idl/datamodel.ml Message.create, _R_POOL_OP; ocaml/xapi/
 * xapi_message.ml create: UUID_INVALID for an unknown VM, INVALID_VALUE for
 * a body that is not UTF-8).  priority 1 (critical) .. 5 (information).
 * Errors: GP_ERR_DRIVER (xapi's refusal), GP_ERR_NOMEM. */
GP_HIDDEN int gp_xapi_drv_message(gp_drv *d, const char *vm_uuid, const char *name,
                                  int priority, const char *body);
/* What xapi holds of gpupool's binding of one VM (markers, values, blocks),
 * for drift, recovery and the vm-pre-start check. */
typedef struct {
    bool ours;                  /* markers present and gpupool:vm is this VM */
    char *clone_of;             /* gpupool:vm of another VM (copied by VM.clone) */
    char *bound_host;           /* gpupool:host (host uuid) */
    char *this_host;            /* the uuid of the host answering */
    char *pci, *mark_pci;       /* other-config:pci, gpupool:pci */
    char *mask, *mark_mask;     /* VCPUs_params:mask, gpupool:mask */
    char *placement;            /* gpupool:placement (the assignment as JSON) */
    bool affinity_set, affinity_ours;
    bool blocked_by_us;         /* start/start_on blocked by a gpupool write */
    bool claimed_by_us;         /* gpupool:writer names this host (a write of ours, or
                                   one a crash cut short) */
    gp_vm_state state;
    char *resident_host;        /* uuid of the host it runs on, NULL */
} gp_xapi_binding;
/* Errors: GP_ERR_UNKNOWN_VM, GP_ERR_DRIVER, GP_ERR_TIMEOUT, GP_ERR_NOMEM. */
GP_HIDDEN int gp_xapi_drv_vm_binding(gp_drv *d, const char *vm_uuid, gp_xapi_binding *b);
GP_HIDDEN void gp_xapi_binding_dispose(gp_xapi_binding *b);
/* The canonical pci-ids named in an other-config:pci value (entries that do
 * not scan are skipped, as xapi skips them); *ids caller frees with
 * gp_strv_free.  Errors: GP_ERR_NOMEM (no err set). */
GP_HIDDEN int gp_xapi_drv_pci_names(const char *oc_pci, char ***ids, size_t *n);

/* ---- xapi driver, pool-wide (ops/cluster.c) ---------------------------------- */

/* Every record of a class (cls: "host", "pool", "PCI", "VM", ...; its
 * <cls>.get_all_records), _init'ed by the callee: a STRUCT ref -> record.
 * Errors: GP_ERR_DRIVER, GP_ERR_TIMEOUT, GP_ERR_NOMEM. */
GP_HIDDEN int gp_xapi_drv_all_records(gp_drv *d, const char *cls, struct gp_xr_value *all);
/* This host's ref and uuid (session.get_this_host, host.get_uuid; static to
 * d; uuid may be NULL).  Errors: GP_ERR_DRIVER, GP_ERR_TIMEOUT. */
GP_HIDDEN int gp_xapi_drv_this_host(gp_drv *d, const char **ref, const char **uuid);
/* Make <cls>.other_config[key] say value (NULL: absent) with
 * <cls>.remove_from_other_config then add_to_other_config; cur, the map as
 * last read (NULL: unknown), spares the calls when it already says so.
 * Errors: GP_ERR_DRIVER (xapi's failure, e.g. RBAC), GP_ERR_TIMEOUT. */
GP_HIDDEN int gp_xapi_drv_other_config(gp_drv *d, const char *cls, const char *ref,
                                       const struct gp_xr_value *cur, const char *key,
                                       const char *value);
/* <cls>.add_to_other_config(ref, key, value), atomic in xapi's database
 * (ocaml/database/db_cache_impl.ml process_structured_field AddMap:
 * MAP_DUPLICATE_KEY when the key exists).  *added false, and GP_OK, when
 * the key was already there (whatever its value).  Errors: GP_ERR_DRIVER,
 * GP_ERR_TIMEOUT. */
GP_HIDDEN int gp_xapi_drv_other_config_add(gp_drv *d, const char *cls, const char *ref,
                                           const char *key, const char *value, bool *added);
/* gp_xapi_drv_other_config() on this host's PCI object with that pci-id
 * (PCI.get_all_records, the record read there as cur).  Errors:
 * GP_ERR_UNKNOWN_GPU (no such PCI object: param pci-id), GP_ERR_PCI_ID_INVALID,
 * those of gp_xapi_drv_other_config(). */
GP_HIDDEN int gp_xapi_drv_pci_other_config(gp_drv *d, const char *pci_id, const char *key,
                                           const char *value);
/* Run gpupool's plugin function fn on another host: host.call_plugin(host_ref,
 * "gpupool", fn, {kv[0]: kv[1], ...}) (n_kv strings, even).  *value (caller
 * frees) receives the plugin's JSON text.  The plugin's own failure is
 * returned as the gpupool error it names (GPUPOOL_<NAME>), its message
 * kept, its values as params "param" plus "remote-function"; anything else
 * is GP_ERR_DRIVER (HOST_OFFLINE, XENAPI_MISSING_PLUGIN, ...) or
 * GP_ERR_TIMEOUT. */
GP_HIDDEN int gp_xapi_drv_call_plugin(gp_drv *d, const char *host_ref, const char *fn,
                                      const char *const *kv, size_t n_kv, char **value);
/* The VM's tags (VM.get_tags), *tags caller frees with gp_strv_free.
 * Errors: GP_ERR_UNKNOWN_VM, GP_ERR_DRIVER, GP_ERR_TIMEOUT, GP_ERR_NOMEM. */
GP_HIDDEN int gp_xapi_drv_vm_tags(gp_drv *d, const char *vm_uuid, char ***tags, size_t *n);
/* The VM ref of a uuid (caller frees).  Errors: GP_ERR_UNKNOWN_VM, GP_ERR_DRIVER. */
GP_HIDDEN int gp_xapi_drv_vm_ref(gp_drv *d, const char *vm_uuid, char **ref);
/* The one host a VM (record rec) can take a GPU on, if any: the host it is
 * resident on (unless ignore_resident: planning for after its shutdown), an
 * affinity gpupool did not set, or the host of a local SR
 * holding one of its disks (VBD -> VDI -> SR -> PBD).  *host_ref and *why
 * ("is resident on", ...) caller frees, both NULL when any host will do.
 * Errors: GP_ERR_DRIVER, GP_ERR_TIMEOUT, GP_ERR_NOMEM. */
GP_HIDDEN int gp_xapi_drv_vm_bound_host(gp_drv *d, const struct gp_xr_value *rec,
                                        bool ignore_resident, char **host_ref, char **why);

#ifdef GPUPOOL_WITH_XEN
/* ---- xen driver (drivers/xen.c): what xen_ops.c and the tests use ---------- */

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
GP_HIDDEN int gp_xen_domain_find(gp_drv *d, const char *vm_uuid, gp_xen_dom *out);
/* Name of the cpupool with id poolid as Xen reports it now
 * (libxl_list_cpupool), malloc'ed in *name_out (caller frees); *name_out is
 * NULL when Xen has no cpupool with that id.  Errors: GP_ERR_DRIVER (libxl's
 * message), GP_ERR_NOMEM. */
GP_HIDDEN int gp_xen_cpupool_name(gp_drv *d, int poolid, char **name_out);
/* Attach pci_ids[0..n) to domid (libxl_device_pci_add); functions already
 * attached are skipped; attached (may be NULL, n entries) tells which this
 * call attached.  On failure the ones this call attached are detached again
 * and d->err carries libxl's message. */
GP_HIDDEN int gp_xen_pci_attach(gp_drv *d, int domid, const char *const *pci_ids, size_t n,
                                bool *attached);
GP_HIDDEN int gp_xen_pci_detach(gp_drv *d, int domid, const char *const *pci_ids, size_t n);
/* Set hard / soft affinity of every vCPU of domid to pcpus and read it back
 * (libxl_list_vcpu); a difference is GP_ERR_DRIVER naming the vCPU. */
/* The domain's NUMA node affinity (libxl_domain_get_nodeaffinity) as a
 * range list ("2", "0-3") in out; "" when libxl cannot tell (seam without
 * it).  Errors: GP_ERR_DRIVER (libxl's message), GP_ERR_NOMEM. */
GP_HIDDEN int gp_xen_node_affinity(gp_drv *d, int domid, char *out, size_t len);
GP_HIDDEN int gp_xen_pin(gp_drv *d, int domid, const int *pcpus, size_t n, gp_pin_mode mode);
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
GP_HIDDEN int gp_xen_state_get(gp_drv *d, gp_xen_state *st);
GP_HIDDEN void gp_xen_state_dispose(gp_xen_state *st);
/* Hard (mode hard) or soft affinity of each vCPU of domid, as cpulists
 * ("2,3"); caller frees with gp_strv_free(v, n). */
GP_HIDDEN int gp_xen_affinity_get(gp_drv *d, int domid, gp_pin_mode mode, char ***out,
                                  size_t *n_out);
#endif

#endif /* GPUPOOL_DRIVERS_H */
