/*
 * driver_xapi.c - the "xapi" driver: XCP-ng, where xapi owns the VMs.
 *
 * What it does through xapi (xapi.c, XML-RPC on xapi's Unix socket):
 *  - VMs and their power state: VM.get_all_records, VM.get_by_uuid,
 *    VM.get_by_name_label, VM.get_record, VM.get_power_state;
 *  - "record the boot-time GPU and affinity": VM.other_config["pci"] =
 *    "0/<gpu>[,0/<companion>...]" (xapi hands it to xenopsd at every start)
 *    and, for pin-mode hard, VM.VCPUs_params["mask"] = "<pCPU>,<pCPU>,..."
 *    (the same mask for every vCPU).  xenopsd honours no VCPUs_params key
 *    for soft affinity (it reads mask, weight and cap; soft affinity is only
 *    set by its own NUMA placement), so pin-mode soft and none write no
 *    VCPUs_params key.  Next to what it writes, the driver keeps the exact
 *    values in other_config["gpupool:pci"] / ["gpupool:mask"], so that a
 *    release removes exactly what gpupool wrote and nothing else, and a
 *    value someone changed since is left alone (and reported as drift);
 *  - pool membership: PCI.disable_dom0_access / PCI.enable_dom0_access
 *    (xapi 8.3 edits xen-pciback.hide; it takes effect at the next boot,
 *    which PCI.get_dom0_access_status reports as "disable_on_reboot").
 *
 * Writes are not part of the sqlite transaction (transactional = false):
 * the library calls vm_record_boot last, just before COMMIT, and calls it
 * again to undo when the commit fails.
 */
#include "drivers/drivers.h"
#include "rpc/rpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XAPI_NULL_REF "OpaqueRef:NULL"
#define MARK_VM GP_XAPI_MARK_VM
#define MARK_HOST "gpupool:host"
#define MARK_PCI "gpupool:pci"
#define MARK_MASK "gpupool:mask"
#define MARK_AFFINITY "gpupool:affinity"
#define MARK_PLACEMENT GP_XAPI_MARK_PLACEMENT
#define MARK_WRITER "gpupool:writer"
#define BLOCK_REASON GP_XAPI_BLOCK_REASON

typedef struct {
    gp_xapi *x;
    char *host_ref;   /* this host (session.get_this_host), lazily */
    char *host_uuid;  /* its uuid (host.get_uuid), lazily */
} xapi_priv;

/* ---- helpers --------------------------------------------------------------- */

/* Call method(session, NULL-terminated string args) on ctx's connection. */
static int xcall(gp_drv *ctx, gp_xr_value *res, const char *method, ...)
{
    xapi_priv *p = ctx->priv;
    const char *args[8];
    size_t n = 0;
    va_list ap;

    va_start(ap, method);
    for (const char *a; n < GP_ARRAY_SIZE(args) && (a = va_arg(ap, const char *));)
        args[n++] = a;
    va_end(ap);
    return gp_xapi_call(p->x, method, args, n, res, ctx->err);
}

static const char *last_failure(gp_drv *ctx)
{
    xapi_priv *p = ctx->priv;
    const char *f = gp_xapi_last_failure(p->x);
    return f ? f : "";
}

/* xapi sends int64 fields as strings; accept either spelling. */
static int64_t xr_int(const gp_xr_value *v, int64_t dflt)
{
    if (!v)
        return dflt;
    if (v->type == GP_XR_INT)
        return v->i;
    if (v->type == GP_XR_STRING && v->str[0]) {
        char *end;
        long long r = strtoll(v->str, &end, 10);
        if (!*end)
            return r;
    }
    return dflt;
}

static bool xr_bool(const gp_xr_value *v)
{
    return v && v->type == GP_XR_BOOL && v->i;
}

static gp_vm_state state_from_xapi(const char *s)
{
    if (!s)
        return GP_VM_DYING;
    if (!strcmp(s, "Halted"))
        return GP_VM_HALTED;
    if (!strcmp(s, "Running"))
        return GP_VM_RUNNING;
    if (!strcmp(s, "Paused"))
        return GP_VM_PAUSED;
    if (!strcmp(s, "Suspended"))
        return GP_VM_SUSPENDED;
    return GP_VM_DYING;
}

/* An ordinary guest: not a template, snapshot or control domain. */
static bool rec_is_guest(const gp_xr_value *rec)
{
    return rec && rec->type == GP_XR_STRUCT &&
           !xr_bool(gp_xr_struct_get(rec, "is_a_template")) &&
           !xr_bool(gp_xr_struct_get(rec, "is_a_snapshot")) &&
           !xr_bool(gp_xr_struct_get(rec, "is_control_domain"));
}

static int vm_from_record(gp_drv *ctx, const gp_xr_value *rec, gp_vm *v)
{
    const char *uuid = gp_xr_struct_get_string(rec, "uuid");
    const char *name = gp_xr_struct_get_string(rec, "name_label");
    int64_t mem = xr_int(gp_xr_struct_get(rec, "memory_static_max"), 0);

    gp_vm_dispose(v);
    snprintf(v->uuid, sizeof(v->uuid), "%s", uuid ? uuid : "");
    v->name_label = strdup(name ? name : "");
    if (!v->name_label)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    v->state = state_from_xapi(gp_xr_struct_get_string(rec, "power_state"));
    v->domid = (int)xr_int(gp_xr_struct_get(rec, "domid"), -1);
    if (v->state == GP_VM_HALTED)
        v->domid = -1;
    v->vcpus = (int)xr_int(gp_xr_struct_get(rec, "VCPUs_max"), 0);
    v->memory_mib = mem > 0 ? (uint64_t)mem >> 20 : 0;
    return GP_OK;
}

/* VM ref of a uuid; GP_ERR_UNKNOWN_VM when xapi has none. */
static int vm_ref_of_uuid(gp_drv *ctx, const char *uuid, char **ref)
{
    gp_xr_value v;
    int rc = xcall(ctx, &v, "VM.get_by_uuid", uuid, NULL);
    *ref = NULL;
    if (rc) {
        if (!strcmp(last_failure(ctx), "UUID_INVALID")) {
            rc = GP_ERR(ctx, GP_ERR_UNKNOWN_VM, "xapi knows no VM %s", uuid);
            GP_PARAM(ctx, "vm", "%s", uuid);
        }
        return rc;
    }
    if (v.type != GP_XR_STRING) {
        gp_xr_value_dispose(&v);
        return GP_ERR(ctx, GP_ERR_DRIVER, "xapi VM.get_by_uuid returned no reference");
    }
    *ref = v.str;
    v.str = NULL;
    gp_xr_value_dispose(&v);
    return GP_OK;
}

/* INSTALLATION_UUID of XCP-ng's inventory (/etc/xensource-inventory, lines
 * KEY='value' as xapi's Inventory module writes them, inventory.ml), NULL
 * when the file or the key is absent.  Caller frees. */
static char *inventory_host_uuid(const gp_config *cfg)
{
    const char *path = cfg->inventory ? cfg->inventory : "/etc/xensource-inventory";
    FILE *f = fopen(path, "re");
    char line[512], *uuid = NULL;
    if (!f)
        return NULL;
    while (!uuid && fgets(line, sizeof(line), f)) {
        static const char key[] = "INSTALLATION_UUID=";
        char *v = line, *end;
        if (strncmp(line, key, sizeof(key) - 1))
            continue;
        v += sizeof(key) - 1;
        if (*v == '\'' || *v == '"')
            v++;
        end = v + strcspn(v, "'\"\r\n");
        *end = '\0';
        if (gp_uuid_valid(v))
            uuid = strdup(v);
    }
    fclose(f);
    return uuid;
}

/* This host's ref (cached).  On XCP-ng the inventory names the host the
 * process runs on; a plugin run on the master for a session made on
 * another host (host.call_plugin with the caller's own session,
 * message_forwarding.ml) would get that other host from
 * session.get_this_host, so the inventory comes first. */
static int this_host(gp_drv *ctx, const char **ref)
{
    xapi_priv *p = ctx->priv;
    if (!p->host_ref) {
        char *uuid = inventory_host_uuid(ctx->cfg);
        if (uuid) {
            gp_xr_value v;
            int rc = xcall(ctx, &v, "host.get_by_uuid", uuid, NULL);
            if (rc == GP_OK && v.type == GP_XR_STRING) {
                p->host_ref = v.str;
                p->host_uuid = uuid;
                v.str = NULL;
                uuid = NULL;
            }
            gp_xr_value_dispose(&v);
            free(uuid);
            if (rc)
                return rc;
            if (p->host_ref) {
                *ref = p->host_ref;
                return GP_OK;
            }
        }
        gp_xr_value v;
        int rc = xcall(ctx, &v, "session.get_this_host", gp_xapi_session(p->x), NULL);
        if (rc)
            return rc;
        if (v.type != GP_XR_STRING) {
            gp_xr_value_dispose(&v);
            return GP_ERR(ctx, GP_ERR_DRIVER, "xapi session.get_this_host returned no host");
        }
        p->host_ref = v.str;
        v.str = NULL;
        gp_xr_value_dispose(&v);
    }
    *ref = p->host_ref;
    return GP_OK;
}

/* This host's PCI object with that pci-id: every PCI record in *all (the
 * caller disposes it, also on error) and its index in *idx.
 * GP_ERR_UNKNOWN_GPU (param pci-id) if there is none. */
static int pci_find(gp_drv *ctx, const char *pci_id, gp_xr_value *all, size_t *idx)
{
    const char *host;
    gp_pci_addr want;
    char canon[GP_PCI_ID_LEN];
    int rc;

    gp_xr_value_init(all);
    rc = gp_pci_addr_parse(pci_id, &want, ctx->err);
    if (rc)
        return rc;
    gp_pci_addr_format(&want, canon);
    rc = this_host(ctx, &host);
    if (rc)
        return rc;
    rc = xcall(ctx, all, "PCI.get_all_records", NULL);
    if (rc)
        return rc;
    for (size_t i = 0; all->type == GP_XR_STRUCT && i < all->n; i++) {
        const gp_xr_value *rec = &all->items[i];
        const char *id = gp_xr_struct_get_string(rec, "pci_id");
        const char *h = gp_xr_struct_get_string(rec, "host");
        gp_pci_addr a;
        char c[GP_PCI_ID_LEN];
        if (!id || (h && strcmp(h, host)) || gp_pci_addr_parse(id, &a, NULL))
            continue;
        if (!strcmp(gp_pci_addr_format(&a, c), canon)) {
            *idx = i;
            return GP_OK;
        }
    }
    rc = GP_ERR(ctx, GP_ERR_UNKNOWN_GPU, "xapi has no PCI object %s on this host", canon);
    GP_PARAM(ctx, "pci-id", "%s", canon);
    return rc;
}

/* The PCI object of this host with that pci-id; GP_ERR_UNKNOWN_GPU if none. */
static int pci_ref_of(gp_drv *ctx, const char *pci_id, char **ref)
{
    gp_xr_value all;
    size_t i = 0;
    int rc = pci_find(ctx, pci_id, &all, &i);

    *ref = NULL;
    if (rc == GP_OK && !(*ref = strdup(all.keys[i])))
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    gp_xr_value_dispose(&all);
    return rc;
}

static int dom0_status(gp_drv *ctx, const char *ref, char **status)
{
    gp_xr_value v;
    int rc = xcall(ctx, &v, "PCI.get_dom0_access_status", ref, NULL);
    *status = NULL;
    if (rc)
        return rc;
    if (v.type != GP_XR_STRING) {
        gp_xr_value_dispose(&v);
        return GP_ERR(ctx, GP_ERR_DRIVER, "xapi PCI.get_dom0_access_status returned no status");
    }
    *status = v.str;
    v.str = NULL;
    gp_xr_value_dispose(&v);
    return GP_OK;
}

/* ---- ops ------------------------------------------------------------------- */

static int xapi_open(gp_drv *ctx)
{
    xapi_priv *p = calloc(1, sizeof(*p));
    uint64_t deadline = 0;
    int rc;

    if (!p)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    if (ctx->cfg->timeout_ms)
        deadline = gp_monotonic_ms() + ctx->cfg->timeout_ms;
    rc = gp_xapi_open(&p->x, gp_xapi_socket_path(ctx->cfg), ctx->cfg->xapi_session,
                      deadline, ctx->err);
    if (rc) {
        free(p);
        return rc;
    }
    ctx->priv = p;
    return GP_OK;
}

static void xapi_close(gp_drv *ctx)
{
    xapi_priv *p = ctx->priv;
    if (!p)
        return;
    gp_xapi_close(p->x);
    free(p->host_ref);
    free(p->host_uuid);
    free(p);
    ctx->priv = NULL;
}

static int cmp_vm(const void *a, const void *b)
{
    const gp_vm *x = a, *y = b;
    int c = strcmp(x->name_label ? x->name_label : "", y->name_label ? y->name_label : "");
    return c ? c : strcmp(x->uuid, y->uuid);
}

static int xapi_vm_list(gp_drv *ctx, gp_vm **out, size_t *n_out)
{
    gp_xr_value all;
    gp_vm *vms = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = xcall(ctx, &all, "VM.get_all_records", NULL);
    if (rc)
        return rc;
    if (all.type == GP_XR_STRUCT && all.n) {
        vms = calloc(all.n, sizeof(*vms));
        if (!vms) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; all.type == GP_XR_STRUCT && i < all.n; i++) {
        if (!rec_is_guest(&all.items[i]))
            continue;
        gp_vm_init(&vms[n]);
        rc = vm_from_record(ctx, &all.items[i], &vms[n]);
        n++;
        if (rc)
            goto out;
    }
    qsort(vms, n, sizeof(*vms), cmp_vm);
    *out = vms;
    *n_out = n;
    vms = NULL;
out:
    if (vms)
        gp_vm_list_free(vms, n);
    gp_xr_value_dispose(&all);
    return rc;
}

static int xapi_vm_get(gp_drv *ctx, const char *vm, gp_vm *out)
{
    gp_xr_value refs, rec;
    char *ref = NULL;
    int rc, found = 0;

    gp_xr_value_init(&refs);
    gp_xr_value_init(&rec);
    if (gp_uuid_valid(vm)) {
        rc = vm_ref_of_uuid(ctx, vm, &ref);
        if (rc == GP_OK) {
            rc = xcall(ctx, &rec, "VM.get_record", ref, NULL);
            if (rc == GP_OK)
                rc = vm_from_record(ctx, &rec, out);
            goto out;
        }
        if (rc != GP_ERR_UNKNOWN_VM)
            goto out;
        /* A name-label may look like a uuid: try it as a name below. */
    }
    rc = xcall(ctx, &refs, "VM.get_by_name_label", vm, NULL);
    if (rc)
        goto out;
    for (size_t i = 0; refs.type == GP_XR_ARRAY && i < refs.n; i++) {
        gp_xr_value r;
        if (refs.items[i].type != GP_XR_STRING)
            continue;
        rc = xcall(ctx, &r, "VM.get_record", refs.items[i].str, NULL);
        if (rc)
            goto out;
        if (rec_is_guest(&r)) {
            found++;
            gp_xr_value_dispose(&rec);
            rec = r;
        } else {
            gp_xr_value_dispose(&r);
        }
    }
    if (found == 0) {
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_VM, "xapi knows no VM '%s'", vm);
        GP_PARAM(ctx, "vm", "%s", vm);
    } else if (found > 1) {
        rc = GP_ERR(ctx, GP_ERR_VM_AMBIGUOUS,
                    "%d VMs are named '%s': give the VM's uuid", found, vm);
        GP_PARAM(ctx, "vm", "%s", vm);
    } else {
        rc = vm_from_record(ctx, &rec, out);
    }
out:
    free(ref);
    gp_xr_value_dispose(&refs);
    gp_xr_value_dispose(&rec);
    return rc;
}

/* orig_driver records dom0 access as xapi reported it before gpupool acted,
 * "xapi-dom0-access:<status>", so that removal restores exactly that. */
#define ORIG_PREFIX GP_XAPI_ORIG_PREFIX

/* The dom0 driver of a function as discovery saw it (host model), or NULL. */
static const char *host_fn_driver(gp_drv *ctx, const char *pci_id)
{
    const gp_host *h = NULL;
    if (!ctx->host_get || ctx->host_get(ctx, &h) != GP_OK || !h)
        return NULL;
    for (size_t i = 0; i < h->n_gpus; i++) {
        const gp_gpu *g = &h->gpus[i];
        if (!strcmp(g->pci_id, pci_id))
            return g->driver;
        for (size_t k = 0; k < g->n_companions; k++)
            if (!strcmp(g->companions[k].pci_id, pci_id))
                return g->companions[k].driver;
    }
    return NULL;
}

/*
 * A function xapi has no PCI object for: xapi 26.1.4 makes PCI objects only
 * for classes 01 (storage), 02 (network) and 03 (display) and the functions
 * of their slots (ocaml/xapi/xapi_pci.ml managed_classes), so a class-12
 * accelerator (and its own companions) cannot be hidden from dom0 through
 * PCI.disable_dom0_access.  Passthrough itself needs no PCI object
 * (other-config:pci names the BDF).  The documented route: the admin hides
 * it with xen-cmdline (docs/xapi-plugin.md); once pciback holds it after
 * the reboot, it may enter a pool and gpupool never gives it back (orig
 * NO_OBJECT_PREFIX).  Anything else is refused, naming the reason.
 */
#define NO_OBJECT_PREFIX "xapi-no-pci-object:"
static int assignable_without_object(gp_drv *ctx, const char *pci_id, char **orig_driver)
{
    const char *drv = host_fn_driver(ctx, pci_id);
    int rc;

    gp_err_clear(ctx->err);
    if (drv && !strcmp(drv, "pciback")) {
        *orig_driver = gp_asprintf(NO_OBJECT_PREFIX "%s", drv);
        return *orig_driver ? GP_OK : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    rc = GP_ERR(ctx, GP_ERR_NOT_SUPPORTED,
                "xapi has no PCI object for %s: xapi 26.1.4 keeps PCI objects only for "
                "classes 01, 02 and 03 and their same-slot functions (xapi_pci.ml), so "
                "gpupool cannot hide it from dom0 through xapi; hide it yourself "
                "(/opt/xensource/libexec/xen-cmdline --set-dom0 "
                "\"xen-pciback.hide=(%s)\"), reboot, and add it again once pciback "
                "holds it (its driver now: %s)", pci_id, pci_id, drv ? drv : "unknown");
    GP_PARAM(ctx, "pci-id", "%s", pci_id);
    GP_PARAM(ctx, "reason", "%s", "no-xapi-pci-object");
    GP_PARAM(ctx, "driver", "%s", drv ? drv : "unknown");
    return rc;
}

static int xapi_assignable_add(gp_drv *ctx, const char *pci_id, char **orig_driver)
{
    char *ref = NULL, *before = NULL;
    gp_xr_value v;
    int rc;

    *orig_driver = NULL;
    gp_xr_value_init(&v);
    rc = pci_ref_of(ctx, pci_id, &ref);
    if (rc == GP_ERR_UNKNOWN_GPU) {
        rc = assignable_without_object(ctx, pci_id, orig_driver);
        goto out;
    }
    if (rc)
        goto out;
    rc = dom0_status(ctx, ref, &before);
    if (rc)
        goto out;
    if (!strcmp(before, "enabled") || !strcmp(before, "enable_on_reboot")) {
        rc = xcall(ctx, &v, "PCI.disable_dom0_access", ref, NULL);
        if (rc)
            goto out;
    }
    *orig_driver = gp_asprintf(ORIG_PREFIX "%s", before);
    if (!*orig_driver)
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
out:
    gp_xr_value_dispose(&v);
    free(ref);
    free(before);
    return rc;
}

static int xapi_assignable_remove(gp_drv *ctx, const char *pci_id, const char *orig_driver)
{
    char *ref = NULL;
    gp_xr_value v;
    int rc;

    gp_xr_value_init(&v);
    /* Only give dom0 back what it had before gpupool hid the device. */
    if (!orig_driver || strncmp(orig_driver, ORIG_PREFIX, strlen(ORIG_PREFIX)))
        return GP_OK;
    const char *before = orig_driver + strlen(ORIG_PREFIX);
    if (strcmp(before, "enabled") && strcmp(before, "enable_on_reboot"))
        return GP_OK;
    rc = pci_ref_of(ctx, pci_id, &ref);
    if (rc == GP_OK)
        rc = xcall(ctx, &v, "PCI.enable_dom0_access", ref, NULL);
    gp_xr_value_dispose(&v);
    free(ref);
    return rc;
}

static int xapi_device_driver(gp_drv *ctx, const char *pci_id, char **driver)
{
    char *ref = NULL, *status = NULL;
    int rc;

    *driver = NULL;
    rc = pci_ref_of(ctx, pci_id, &ref);
    if (rc == GP_OK)
        rc = dom0_status(ctx, ref, &status);
    if (rc == GP_OK) {
        /* Hidden from dom0 now: xen-pciback holds it. */
        *driver = !strcmp(status, "disabled") ? strdup("pciback")
                                              : gp_asprintf(ORIG_PREFIX "%s", status);
        if (!*driver)
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    free(ref);
    free(status);
    return rc;
}

/* Map of a VM (get_other_config / get_VCPUs_params). */
static int vm_map(gp_drv *ctx, const char *method, const char *ref, gp_xr_value *map)
{
    int rc = xcall(ctx, map, method, ref, NULL);
    if (rc == GP_OK && map->type != GP_XR_STRUCT) {
        gp_xr_value_dispose(map);
        return GP_ERR(ctx, GP_ERR_DRIVER, "xapi %s returned no map", method);
    }
    return rc;
}

/* Replace key in a VM map: remove (when present) then add. */
static int map_put(gp_drv *ctx, const char *ref, const char *field, bool present,
                   const char *key, const char *value)
{
    char rm[64], add[64];
    gp_xr_value v;
    int rc;

    snprintf(rm, sizeof(rm), "VM.remove_from_%s", field);
    snprintf(add, sizeof(add), "VM.add_to_%s", field);
    if (present) {
        rc = xcall(ctx, &v, rm, ref, key, NULL);
        gp_xr_value_dispose(&v);
        if (rc)
            return rc;
    }
    rc = xcall(ctx, &v, add, ref, key, value, NULL);
    gp_xr_value_dispose(&v);
    return rc;
}

static int map_del(gp_drv *ctx, const char *ref, const char *field, const char *key)
{
    char rm[64];
    gp_xr_value v;
    snprintf(rm, sizeof(rm), "VM.remove_from_%s", field);
    int rc = xcall(ctx, &v, rm, ref, key, NULL);
    gp_xr_value_dispose(&v);
    return rc;
}

/* Set key to value in a map whose current content is cur (remove + add only
 * when it differs). */
static int map_set(gp_drv *ctx, const char *ref, const char *field, const gp_xr_value *cur,
                   const char *key, const char *value)
{
    const char *now = gp_xr_struct_get_string(cur, key);
    if (now && !strcmp(now, value))
        return GP_OK;
    return map_put(ctx, ref, field, now != NULL, key, value);
}

/* ---- other-config:pci, entry by entry ------------------------------------------

 * xapi reads other-config:pci as comma-separated "<n>/<dddd:bb:dd.f>"
 * (ocaml/xapi/pciops.ml other_pcidevs_of_vm: tokens that do not scan are
 * dropped; the fold prepends, so entries of one index come out reversed)
 * and plugs them group by group in ascending <n> (sort_pcidevs), each
 * device at the next guest position (xapi_xenops.ml pcis_of_vm).  gpupool
 * therefore gives the GPU and each companion an index of its own, the GPU
 * first, above every index already in use, and edits only its own
 * entries: entries others wrote (Xen Orchestra's attachPcis, an admin) are
 * kept as they are. */

typedef struct {
    char **tok;        /* the entries as written, trimmed */
    int *index;        /* their <n>, -1 when the entry does not scan */
    char (*bdf)[GP_PCI_ID_LEN]; /* canonical pci-id, "" when it does not scan */
    size_t n;
} pci_entries;

static void pci_entries_dispose(pci_entries *e)
{
    gp_strv_free(e->tok, e->n);
    free(e->index);
    free(e->bdf);
    memset(e, 0, sizeof(*e));
}

/* Split s (may be NULL) into e. */
static int pci_entries_parse(gp_drv *ctx, const char *s, pci_entries *e)
{
    char *copy = strdup(s ? s : ""), *save = NULL;
    int rc = GP_OK;

    memset(e, 0, sizeof(*e));
    if (!copy)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (!*t)
            continue;
        size_t k = e->n;
        char **nt = realloc(e->tok, (k + 1) * sizeof(*nt));
        if (nt)
            e->tok = nt;
        int *ni = nt ? realloc(e->index, (k + 1) * sizeof(*ni)) : NULL;
        if (ni)
            e->index = ni;
        char (*nb)[GP_PCI_ID_LEN] = ni ? realloc(e->bdf, (k + 1) * sizeof(*nb)) : NULL;
        if (nb)
            e->bdf = nb;
        if (!nb || !(e->tok[k] = strdup(t))) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            break;
        }
        e->n++;
        e->index[k] = -1;
        e->bdf[k][0] = '\0';
        char *slash = strchr(t, '/'), *end;
        gp_pci_addr a;
        if (slash) {
            long idx = strtol(t, &end, 10);
            if (end == slash && idx >= 0 && idx < 1000000 &&
                gp_pci_addr_parse(slash + 1, &a, NULL) == GP_OK) {
                e->index[k] = (int)idx;
                gp_pci_addr_format(&a, e->bdf[k]);
            }
        }
    }
    free(copy);
    return rc;
}

static bool pci_entries_has(const pci_entries *e, const char *bdf)
{
    for (size_t i = 0; i < e->n; i++)
        if (!strcmp(e->bdf[i], bdf))
            return true;
    return false;
}

/* The entries of e whose pci-id is not in drop, then add (may be NULL),
 * comma-joined; malloc'ed, NULL on ENOMEM. */
static char *pci_entries_join(const pci_entries *e, const pci_entries *drop, const char *add)
{
    size_t len = (add ? strlen(add) : 0) + 1;
    for (size_t i = 0; i < e->n; i++)
        len += strlen(e->tok[i]) + 1;
    char *out = malloc(len);
    size_t at = 0;
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < e->n; i++) {
        if (drop && e->bdf[i][0] && pci_entries_has(drop, e->bdf[i]))
            continue;
        at += (size_t)snprintf(out + at, len - at, "%s%s", at ? "," : "", e->tok[i]);
    }
    if (add && *add)
        snprintf(out + at, len - at, "%s%s", at ? "," : "", add);
    return out;
}

/* gpupool's own entries for bc: "<k>/<gpu>,<k+1>/<companion>..." with k one
 * above the highest index of keep's entries (0 when none). */
static char *pci_value(const gp_boot_config *bc, const pci_entries *keep, const pci_entries *drop)
{
    int k = 0;
    for (size_t i = 0; i < keep->n; i++)
        if (keep->index[i] >= k && !(drop && keep->bdf[i][0] && pci_entries_has(drop, keep->bdf[i])))
            k = keep->index[i] + 1;
    size_t len = strlen(bc->pci_id) + 16;
    for (size_t i = 0; i < bc->n_companions; i++)
        len += strlen(bc->companions[i]) + 16;
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    size_t at = (size_t)snprintf(s, len + 1, "%d/%s", k, bc->pci_id);
    for (size_t i = 0; i < bc->n_companions; i++)
        at += (size_t)snprintf(s + at, len + 1 - at, ",%d/%s", k + 1 + (int)i,
                               bc->companions[i]);
    return s;
}

/* ---- markers -------------------------------------------------------------------

 * Next to what it writes, gpupool keeps in other_config:
 *   gpupool:vm       the uuid of the VM the markers belong to.  VM.clone
 *                    copies other_config (ocaml/xapi/xapi_vm_clone.ml), so a
 *                    clone carries its parent's markers: they count only
 *                    where gpupool:vm is the VM's own uuid;
 *   gpupool:host     the uuid of the host whose GPU it is (the vm-pre-start
 *                    hook refuses a start elsewhere);
 *   gpupool:pci      the entries gpupool added to other-config:pci;
 *   gpupool:mask     the VCPUs_params:mask it wrote (pin-mode hard);
 *   gpupool:affinity the host ref it set as VM.affinity.
 * Markers without gpupool:vm (gpupool before 0.9) count as the VM's own. */

static bool markers_ours(const gp_xr_value *oc, const char *uuid)
{
    const char *m = gp_xr_struct_get_string(oc, MARK_VM);
    if (m)
        return !strcmp(m, uuid);
    return gp_xr_struct_get_string(oc, MARK_PCI) || gp_xr_struct_get_string(oc, MARK_MASK);
}

/* ---- blocking the start while writing ---------------------------------------------

 * VM.blocked_operations: xapi refuses an operation whose name is a key
 * (xapi_vm_lifecycle.ml check_operation_error).  VM.start and VM.start_on
 * are separate operations, so both are blocked. */

static const char *const blocked_ops[] = { "start", "start_on" };

static int block_start(gp_drv *ctx, const char *ref)
{
    gp_xr_value bo;
    int rc = vm_map(ctx, "VM.get_blocked_operations", ref, &bo);
    if (rc)
        return rc;
    for (size_t i = 0; rc == GP_OK && i < GP_ARRAY_SIZE(blocked_ops); i++)
        if (!gp_xr_struct_get(&bo, blocked_ops[i]))
            rc = map_put(ctx, ref, "blocked_operations", false, blocked_ops[i], BLOCK_REASON);
    gp_xr_value_dispose(&bo);
    return rc;
}

/* Remove the blocks gpupool put (value BLOCK_REASON), whoever's call put them. */
static int unblock_start(gp_drv *ctx, const char *ref)
{
    gp_xr_value bo;
    int rc = vm_map(ctx, "VM.get_blocked_operations", ref, &bo);
    if (rc)
        return rc;
    for (size_t i = 0; rc == GP_OK && i < GP_ARRAY_SIZE(blocked_ops); i++) {
        const char *v = gp_xr_struct_get_string(&bo, blocked_ops[i]);
        if (v && !strcmp(v, BLOCK_REASON))
            rc = map_del(ctx, ref, "blocked_operations", blocked_ops[i]);
    }
    gp_xr_value_dispose(&bo);
    return rc;
}

static int require_halted(gp_drv *ctx, const char *vm_uuid, const char *ref)
{
    gp_xr_value v;
    int rc = xcall(ctx, &v, "VM.get_power_state", ref, NULL);
    if (rc)
        return rc;
    if (v.type != GP_XR_STRING || strcmp(v.str, "Halted")) {
        rc = GP_ERR(ctx, GP_ERR_VM_NOT_HALTED,
                    "VM %s is %s according to xapi: its GPU changes only while it is halted",
                    vm_uuid, v.type == GP_XR_STRING ? v.str : "in an unknown state");
        GP_PARAM(ctx, "vm", "%s", vm_uuid);
        GP_PARAM(ctx, "power-state", "%s", v.type == GP_XR_STRING ? v.str : "unknown");
    }
    gp_xr_value_dispose(&v);
    return rc;
}

static int host_uuid_of(gp_drv *ctx, const char *host_ref, char **uuid)
{
    gp_xr_value v;
    int rc = xcall(ctx, &v, "host.get_uuid", host_ref, NULL);
    *uuid = NULL;
    if (rc)
        return rc;
    if (v.type == GP_XR_STRING) {
        *uuid = v.str;
        v.str = NULL;
    } else {
        rc = GP_ERR(ctx, GP_ERR_DRIVER, "xapi host.get_uuid returned no uuid");
    }
    gp_xr_value_dispose(&v);
    return rc;
}

static int this_host_uuid(gp_drv *ctx, const char **uuid)
{
    xapi_priv *p = ctx->priv;
    const char *ref;
    int rc = GP_OK;
    if (!p->host_uuid) {
        rc = this_host(ctx, &ref);
        /* From the inventory, this_host() knows the uuid already. */
        if (rc == GP_OK && !p->host_uuid)
            rc = host_uuid_of(ctx, ref, &p->host_uuid);
    }
    *uuid = p->host_uuid;
    return rc;
}

/* Remove what gpupool wrote on the VM (ref, record rec), values first, then
 * the markers.  Markers that are not the VM's own (a clone's) are left. */
static int clear_boot(gp_drv *ctx, const char *uuid, const char *ref, const gp_xr_value *rec)
{
    const gp_xr_value *oc = gp_xr_struct_get(rec, "other_config");
    const gp_xr_value *params = gp_xr_struct_get(rec, "VCPUs_params");
    const char *mark_pci = gp_xr_struct_get_string(oc, MARK_PCI);
    const char *mark_mask = gp_xr_struct_get_string(oc, MARK_MASK);
    const char *mark_aff = gp_xr_struct_get_string(oc, MARK_AFFINITY);
    const char *cur_pci = gp_xr_struct_get_string(oc, "pci");
    const char *cur_mask = gp_xr_struct_get_string(params, "mask");
    const char *cur_aff = gp_xr_struct_get_string(rec, "affinity");
    static const char *const marks[] = { MARK_PCI, MARK_MASK, MARK_AFFINITY, MARK_PLACEMENT,
                                         MARK_HOST, MARK_VM };
    pci_entries cur, ours;
    char *rest = NULL;
    gp_xr_value v;
    int rc = GP_OK;

    const char *bound = gp_xr_struct_get_string(oc, MARK_HOST), *self = NULL;

    memset(&cur, 0, sizeof(cur));
    memset(&ours, 0, sizeof(ours));
    if (!markers_ours(oc, uuid))
        return GP_OK;
    /* On an XCP-ng pool a host clears only its own binding: the VM may
     * hold a GPU of another host now (moved by host-evacuate). */
    if (bound && this_host_uuid(ctx, &self) == GP_OK && self && strcasecmp(bound, self))
        return GP_OK;
    if (mark_pci && cur_pci) {
        rc = pci_entries_parse(ctx, cur_pci, &cur);
        if (rc == GP_OK)
            rc = pci_entries_parse(ctx, mark_pci, &ours);
        if (rc)
            goto out;
        rest = pci_entries_join(&cur, &ours, NULL);
        if (!rest) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (!*rest)
            rc = map_del(ctx, ref, "other_config", "pci");
        else if (strcmp(rest, cur_pci))
            rc = map_put(ctx, ref, "other_config", true, "pci", rest);
        if (rc)
            goto out;
    }
    if (mark_mask && cur_mask && !strcmp(cur_mask, mark_mask)) {
        rc = map_del(ctx, ref, "VCPUs_params", "mask");
        if (rc)
            goto out;
    }
    if (mark_aff && cur_aff && !strcmp(cur_aff, mark_aff)) {
        gp_xr_value_init(&v);
        rc = xcall(ctx, &v, "VM.set_affinity", ref, XAPI_NULL_REF, NULL);
        gp_xr_value_dispose(&v);
        if (rc)
            goto out;
    }
    for (size_t i = 0; i < GP_ARRAY_SIZE(marks); i++)
        if (gp_xr_struct_get(oc, marks[i])) {
            rc = map_del(ctx, ref, "other_config", marks[i]);
            if (rc)
                goto out;
        }
out:
    pci_entries_dispose(&cur);
    pci_entries_dispose(&ours);
    free(rest);
    return rc;
}

/* Refuse what gpupool must not overwrite: other-config:pci entries naming
 * the GPU or a companion that gpupool did not write, a VCPUs_params:mask
 * it did not write (mask: the one to write, or NULL). */
static int check_foreign(gp_drv *ctx, const char *uuid, const gp_xr_value *rec,
                         const gp_boot_config *bc, const char *mask)
{
    const gp_xr_value *oc = gp_xr_struct_get(rec, "other_config");
    const gp_xr_value *params = gp_xr_struct_get(rec, "VCPUs_params");
    bool ours = markers_ours(oc, uuid);
    const char *cur_pci = gp_xr_struct_get_string(oc, "pci");
    pci_entries cur, mine;
    int rc;

    rc = pci_entries_parse(ctx, cur_pci, &cur);
    if (rc == GP_OK)
        rc = pci_entries_parse(ctx, ours ? gp_xr_struct_get_string(oc, MARK_PCI) : NULL, &mine);
    if (rc) {
        pci_entries_dispose(&cur);
        return rc;
    }
    for (size_t i = 0; i <= bc->n_companions && rc == GP_OK; i++) {
        const char *f = i ? bc->companions[i - 1] : bc->pci_id;
        if (pci_entries_has(&cur, f) && !pci_entries_has(&mine, f)) {
            rc = GP_ERR(ctx, GP_ERR_DRIVER,
                        "VM %s already names %s in other-config:pci=%s, which gpupool did not "
                        "write; remove that entry first", uuid, f, cur_pci);
            GP_PARAM(ctx, "vm", "%s", uuid);
            GP_PARAM(ctx, "other-config:pci", "%s", cur_pci);
        }
    }
    pci_entries_dispose(&cur);
    pci_entries_dispose(&mine);
    if (rc || !mask)
        return rc;
    const char *cur_mask = gp_xr_struct_get_string(params, "mask");
    const char *mark_mask = ours ? gp_xr_struct_get_string(oc, MARK_MASK) : NULL;
    if (cur_mask && *cur_mask && !(mark_mask && !strcmp(cur_mask, mark_mask))) {
        rc = GP_ERR(ctx, GP_ERR_DRIVER,
                    "VM %s already has VCPUs-params:mask=%s, which gpupool did not "
                    "write; remove it first", uuid, cur_mask);
        GP_PARAM(ctx, "vm", "%s", uuid);
        GP_PARAM(ctx, "VCPUs-params:mask", "%s", cur_mask);
    }
    return rc;
}

/* Write bc onto the VM (record rec, gpupool's previous write removed from it
 * first): the markers, then other-config:pci, the mask, the affinity. */
static int write_boot(gp_drv *ctx, const char *uuid, const char *ref, const gp_xr_value *rec,
                      const gp_boot_config *bc, const char *mask)
{
    const gp_xr_value *oc = gp_xr_struct_get(rec, "other_config");
    const gp_xr_value *params = gp_xr_struct_get(rec, "VCPUs_params");
    bool ours = markers_ours(oc, uuid);
    const char *cur_pci = gp_xr_struct_get_string(oc, "pci");
    const char *host_ref, *host_uuid;
    pci_entries cur, old;
    char *mine = NULL, *full = NULL;
    gp_xr_value v;
    int rc;

    memset(&cur, 0, sizeof(cur));
    memset(&old, 0, sizeof(old));
    rc = this_host(ctx, &host_ref);
    if (rc == GP_OK)
        rc = this_host_uuid(ctx, &host_uuid);
    if (rc == GP_OK)
        rc = pci_entries_parse(ctx, cur_pci, &cur);
    if (rc == GP_OK)
        rc = pci_entries_parse(ctx, ours ? gp_xr_struct_get_string(oc, MARK_PCI) : NULL, &old);
    if (rc)
        goto out;
    mine = pci_value(bc, &cur, &old);
    full = mine ? pci_entries_join(&cur, &old, mine) : NULL;
    if (!full) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* Markers first: a write cut short leaves a marker naming what may be
     * there, never a value without its marker. */
    rc = map_set(ctx, ref, "other_config", oc, MARK_VM, uuid);
    if (rc == GP_OK)
        rc = map_set(ctx, ref, "other_config", oc, MARK_HOST, host_uuid);
    if (rc == GP_OK)
        rc = map_set(ctx, ref, "other_config", oc, MARK_PCI, mine);
    if (rc == GP_OK)
        rc = map_set(ctx, ref, "other_config", oc, MARK_AFFINITY, host_ref);
    if (rc == GP_OK && bc->assignment) {
        char *pj = gp_placement_json_text(bc->assignment);
        rc = pj ? map_set(ctx, ref, "other_config", oc, MARK_PLACEMENT, pj)
                : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        free(pj);
    }
    if (rc == GP_OK && mask)
        rc = map_set(ctx, ref, "other_config", oc, MARK_MASK, mask);
    if (rc == GP_OK && !mask && ours && gp_xr_struct_get(oc, MARK_MASK)) {
        const char *cm = gp_xr_struct_get_string(params, "mask");
        const char *mm = gp_xr_struct_get_string(oc, MARK_MASK);
        if (cm && mm && !strcmp(cm, mm))
            rc = map_del(ctx, ref, "VCPUs_params", "mask");
        if (rc == GP_OK)
            rc = map_del(ctx, ref, "other_config", MARK_MASK);
    }
    if (rc == GP_OK)
        rc = map_set(ctx, ref, "other_config", oc, "pci", full);
    if (rc == GP_OK && mask)
        rc = map_set(ctx, ref, "VCPUs_params", params, "mask", mask);
    if (rc == GP_OK) {
        const char *aff = gp_xr_struct_get_string(rec, "affinity");
        if (!aff || strcmp(aff, host_ref)) {
            gp_xr_value_init(&v);
            rc = xcall(ctx, &v, "VM.set_affinity", ref, host_ref, NULL);
            gp_xr_value_dispose(&v);
        }
    }
out:
    pci_entries_dispose(&cur);
    pci_entries_dispose(&old);
    free(mine);
    free(full);
    return rc;
}

static int vm_record(gp_drv *ctx, const char *ref, gp_xr_value *rec)
{
    int rc = xcall(ctx, rec, "VM.get_record", ref, NULL);
    if (rc == GP_OK && rec->type != GP_XR_STRUCT) {
        gp_xr_value_dispose(rec);
        return GP_ERR(ctx, GP_ERR_DRIVER, "xapi VM.get_record returned no record");
    }
    return rc;
}

/* ---- one writer per VM across the hosts of a pool ------------------------------

 * Two hosts could write one VM's binding at once (two callers assigning
 * it GPUs of different hosts).  VM.add_to_other_config is atomic in xapi's
 * database (db_cache_impl.ml: MAP_DUPLICATE_KEY when the key exists), so
 * the first host to add "gpupool:writer" = its uuid writes; the other is
 * refused with OPERATION_IN_PROGRESS.  The key is removed when the write
 * ends; one left by a crash names its host, whose next call takes it over
 * (a host's own calls on one VM are serialised by its journal). */

static int claim_vm(gp_drv *ctx, const char *vm_uuid, const char *ref, bool *claimed)
{
    const char *self;
    gp_xr_value v, oc;
    int rc;

    *claimed = false;
    rc = this_host_uuid(ctx, &self);
    if (rc)
        return rc;
    rc = xcall(ctx, &v, "VM.add_to_other_config", ref, MARK_WRITER, self, NULL);
    gp_xr_value_dispose(&v);
    if (rc == GP_OK) {
        *claimed = true;
        return GP_OK;
    }
    if (strcmp(last_failure(ctx), "MAP_DUPLICATE_KEY"))
        return rc;
    gp_err_clear(ctx->err);
    rc = vm_map(ctx, "VM.get_other_config", ref, &oc);
    if (rc)
        return rc;
    const char *w = gp_xr_struct_get_string(&oc, MARK_WRITER);
    if (w && !strcasecmp(w, self)) {
        *claimed = true;
    } else {
        rc = GP_ERR(ctx, GP_ERR_IN_PROGRESS,
                    "gpupool on host %s is writing the GPU binding of VM %s; try again",
                    w ? w : "?", vm_uuid);
        GP_PARAM(ctx, "vm", "%s", vm_uuid);
        GP_PARAM(ctx, "host-uuid", "%s", w ? w : "");
    }
    gp_xr_value_dispose(&oc);
    return rc;
}

/* A VM bound to another host's GPU (markers naming it, with an
 * assignment): GP_ERR_VM_HAS_GPU. */
static int not_bound_elsewhere(gp_drv *ctx, const char *vm_uuid, const gp_xr_value *rec)
{
    const gp_xr_value *oc = gp_xr_struct_get(rec, "other_config");
    const char *bound = gp_xr_struct_get_string(oc, MARK_HOST), *self = NULL;
    int rc;
    gp_xr_value h;
    if (!markers_ours(oc, vm_uuid) || !bound || !gp_xr_struct_get_string(oc, MARK_PLACEMENT) ||
        this_host_uuid(ctx, &self) || !self || !strcasecmp(bound, self))
        return GP_OK;
    /* A marker naming no host of the pool is nobody's binding: written over. */
    rc = xcall(ctx, &h, "host.get_by_uuid", bound, NULL);
    gp_xr_value_dispose(&h);
    if (rc) {
        gp_err_clear(ctx->err);
        return GP_OK;
    }
    rc = GP_ERR(ctx, GP_ERR_VM_HAS_GPU,
                "VM %s already holds a GPU of host %s (one GPU per VM): release it first",
                vm_uuid, bound);
    GP_PARAM(ctx, "vm", "%s", vm_uuid);
    GP_PARAM(ctx, "host-uuid", "%s", bound);
    return rc;
}

/*
 * Make the VM's xapi record say bc (NULL: nothing of gpupool's).  Start and
 * start_on are blocked first and the power state read after that, so the
 * VM cannot start half-written; gpupool's previous write is replaced entry
 * by entry.  Idempotent: a second call with the same bc changes nothing,
 * which is what the intent journal's recovery relies on.  On failure what
 * was written is removed again and the blocks are lifted (best effort, on
 * the undo budget; a crash leaves the blocks, which the next call's
 * recovery lifts).
 */
static int xapi_vm_record_boot(gp_drv *ctx, const char *vm_uuid, const gp_boot_config *bc)
{
    gp_xr_value rec;
    char *ref = NULL, *mask = NULL;
    bool blocked = false, wrote = false, claimed = false;
    int rc;

    gp_xr_value_init(&rec);
    rc = vm_ref_of_uuid(ctx, vm_uuid, &ref);
    if (rc)
        goto out;
    rc = claim_vm(ctx, vm_uuid, ref, &claimed);
    if (rc)
        goto out;
    rc = block_start(ctx, ref);
    blocked = true;
    if (rc)
        goto out;
    rc = require_halted(ctx, vm_uuid, ref);
    if (rc)
        goto out;
    rc = vm_record(ctx, ref, &rec);
    if (rc)
        goto out;
    if (!bc) {
        rc = clear_boot(ctx, vm_uuid, ref, &rec);
        goto out;
    }
    rc = not_bound_elsewhere(ctx, vm_uuid, &rec);
    if (rc)
        goto out;
    if (bc->pin_mode == GP_PIN_HARD && bc->n_pcpus) {
        mask = gp_cpulist_join(bc->pcpus, bc->n_pcpus);
        if (!mask) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    rc = check_foreign(ctx, vm_uuid, &rec, bc, mask);
    if (rc)
        goto out;
    wrote = true;
    rc = write_boot(ctx, vm_uuid, ref, &rec, bc, mask);
out:
    if (ref && (blocked || wrote || claimed)) {
        /* Leave the VM as gpupool found it, on the undo budget. */
        xapi_priv *p = ctx->priv;
        gp_error_info saved;
        uint64_t old = 0;
        bool saving = rc != GP_OK;
        gp_error_info_init(&saved);
        if (saving) {
            gp_err_copy(&saved, ctx->err);
            old = gp_xapi_set_deadline(p->x, gp_monotonic_ms() + GP_UNDO_BUDGET_MS);
        }
        if (rc && wrote) {
            gp_xr_value now;
            gp_xr_value_init(&now);
            if (vm_record(ctx, ref, &now) == GP_OK)
                clear_boot(ctx, vm_uuid, ref, &now);
            gp_xr_value_dispose(&now);
        }
        int urc = unblock_start(ctx, ref);
        if (claimed) {
            int crc = map_del(ctx, ref, "other_config", MARK_WRITER);
            if (!urc)
                urc = crc;
        }
        if (saving) {
            gp_xapi_set_deadline(p->x, old);
            gp_err_copy(ctx->err, &saved);
        } else if (urc) {
            rc = urc;
        }
        gp_error_info_dispose(&saved);
    }
    gp_xr_value_dispose(&rec);
    free(ref);
    free(mask);
    return rc;
}

static int xapi_apply_affinity(gp_drv *ctx, const char *vm_uuid, const int *pcpus,
                               size_t n_pcpus, gp_pin_mode mode)
{
    (void)pcpus;
    (void)n_pcpus;
    (void)mode;
    int rc = GP_ERR(ctx, GP_ERR_NOT_SUPPORTED,
                    "the xapi driver applies affinity at VM start (VCPUs-params:mask), "
                    "not to running VM %s", vm_uuid);
    GP_PARAM(ctx, "vm", "%s", vm_uuid);
    return rc;
}

/* On XCP-ng the hypervisor's topology comes from libxl, as on plain Xen:
 * dom0 is a PV guest whose sysfs shows its own vCPUs and no NUMA.  Where no
 * hypervisor answers (planning hosts, the tests' stand-in for xapi), the
 * configured sources are used as for the sim driver. */

const gp_driver_ops gp_driver_xapi = {
    .open = xapi_open,
    .close = xapi_close,
    .vm_list = xapi_vm_list,
    .device_assignable_add = xapi_assignable_add,
    .device_assignable_remove = xapi_assignable_remove,
    .device_driver = xapi_device_driver,
    .vm_record_boot = xapi_vm_record_boot,
    .vm_apply_affinity = xapi_apply_affinity,
    .vm_get = xapi_vm_get,
    /* pin-mode hard (forced for numa-policy required): xenopsd sets every
     * vCPU's hard affinity in build_pre, before the domain builder
     * populates memory, and skips its own NUMA placement ("VM has hard
     * affinity set, skipping NUMA optimization", ocaml/xenopsd/xc/domain.ml
     * at v26.1.4); Xen's automatic node affinity follows the vCPUs, so pages
     * come from their node while it has free memory.  Soft/none: unknown
     * (gp_assignment_memory_certainty). */
    .memory_certainty = GP_MEMNODE_BEST_EFFORT,
    .memory_basis = "xapi driver, pin-mode hard: xenopsd applies the mask before memory is "
                    "populated and skips its own NUMA placement, so Xen allocates from the "
                    "mask's node while it has free memory (domain.ml build_pre); not read back",
};

/* ---- what the XCP-ng operations use (ops/xapi_ops.c) ---------------------- */

int gp_xapi_drv_dom0_status(gp_drv *ctx, const char *pci_id, char **status)
{
    char *ref = NULL;
    int rc = pci_ref_of(ctx, pci_id, &ref);
    *status = NULL;
    if (rc == GP_OK)
        rc = dom0_status(ctx, ref, status);
    free(ref);
    return rc;
}

int gp_xapi_drv_vm_records(gp_drv *ctx, gp_xr_value *all, const char **host_ref)
{
    int rc = this_host(ctx, host_ref);
    if (rc == GP_OK)
        rc = xcall(ctx, all, "VM.get_all_records", NULL);
    return rc;
}

bool gp_xapi_rec_is_guest(const gp_xr_value *rec)
{
    return rec_is_guest(rec);
}

/* ---- facts for the XCP-ng refusals (ops/xapi_ops.c) ------------------------- */

static char *ref_field(gp_drv *ctx, const char *method, const char *ref)
{
    gp_xr_value v;
    char *out = NULL;
    if (xcall(ctx, &v, method, ref, NULL) == GP_OK && v.type == GP_XR_STRING) {
        out = v.str;
        v.str = NULL;
    }
    gp_xr_value_dispose(&v);
    return out;
}

static bool is_null_ref(const char *r)
{
    return !r || !*r || !strcmp(r, XAPI_NULL_REF);
}

/* The name-label (else uuid, else ref) of a host ref, malloc'ed. */
static char *host_label(gp_drv *ctx, const char *ref)
{
    char *n = ref_field(ctx, "host.get_name_label", ref);
    if (n && *n)
        return n;
    free(n);
    n = ref_field(ctx, "host.get_uuid", ref);
    return n ? n : strdup(ref);
}

static int wrong_host(gp_drv *ctx, const char *vm_uuid, const char *host_ref, const char *why)
{
    char *label = host_label(ctx, host_ref);
    int rc = GP_ERR(ctx, GP_ERR_WRONG_HOST,
                    "VM %s %s host %s, not this one: gpupool binds a VM to the host of its "
                    "GPU; assign it from that host, or move it here first",
                    vm_uuid, why, label ? label : host_ref);
    GP_PARAM(ctx, "vm", "%s", vm_uuid);
    GP_PARAM(ctx, "host", "%s", label ? label : host_ref);
    free(label);
    return rc;
}

/* Hosts that can reach a VDI's SR when the SR is not shared (its PBDs'
 * hosts), into *hosts (NULL when shared or unknown). */
static int vdi_local_host(gp_drv *ctx, const char *vdi, char **host)
{
    char *sr = NULL;
    gp_xr_value srrec;
    int rc = GP_OK;

    *host = NULL;
    gp_xr_value_init(&srrec);
    sr = ref_field(ctx, "VDI.get_SR", vdi);
    if (!sr)
        goto out;
    rc = xcall(ctx, &srrec, "SR.get_record", sr, NULL);
    if (rc)
        goto out;
    if (xr_bool(gp_xr_struct_get(&srrec, "shared")))
        goto out;
    const gp_xr_value *p = gp_xr_struct_get(&srrec, "PBDs");
    for (size_t i = 0; p && p->type == GP_XR_ARRAY && i < p->n && !*host; i++)
        if (p->items[i].type == GP_XR_STRING)
            *host = ref_field(ctx, "PBD.get_host", p->items[i].str);
out:
    gp_xr_value_dispose(&srrec);
    free(sr);
    return rc;
}

int gp_xapi_drv_vm_suitable(gp_drv *ctx, const char *vm_uuid)
{
    gp_xr_value rec;
    char *ref = NULL;
    const char *host;
    int rc;

    gp_xr_value_init(&rec);
    rc = vm_ref_of_uuid(ctx, vm_uuid, &ref);
    if (rc == GP_OK)
        rc = vm_record(ctx, ref, &rec);
    if (rc == GP_OK)
        rc = this_host(ctx, &host);
    if (rc)
        goto out;
    const char *what = xr_bool(gp_xr_struct_get(&rec, "is_control_domain")) ? "the control domain"
                       : xr_bool(gp_xr_struct_get(&rec, "is_a_snapshot")) ? "a snapshot"
                       : xr_bool(gp_xr_struct_get(&rec, "is_a_template")) ? "a template"
                       : NULL;
    if (what) {
        rc = GP_ERR(ctx, GP_ERR_VM_UNSUITABLE,
                    "VM %s is %s: only an ordinary VM takes a GPU (a template's markers "
                    "would travel to every VM made from it)", vm_uuid, what);
        GP_PARAM(ctx, "vm", "%s", vm_uuid);
        GP_PARAM(ctx, "kind", "%s", what);
        goto out;
    }
    /* datamodel_vm.ml domain_type: hvm, pv, pvh, pv_in_pvh, unspecified
     * (then HVM_boot_policy "" means PV, as xapi's own derivation). */
    const char *dt = gp_xr_struct_get_string(&rec, "domain_type");
    const char *hbp = gp_xr_struct_get_string(&rec, "HVM_boot_policy");
    bool pv = dt && *dt && strcmp(dt, "unspecified") ? strcmp(dt, "hvm") != 0
                                                      : hbp && !*hbp;
    if (pv) {
        rc = GP_ERR(ctx, GP_ERR_VM_UNSUITABLE,
                    "VM %s is a %s guest: xenopsd passes GPUs through to HVM guests only "
                    "(PCI devices are plugged through QEMU, xenops_server.ml)",
                    vm_uuid, dt && *dt && strcmp(dt, "unspecified") ? dt : "pv");
        GP_PARAM(ctx, "vm", "%s", vm_uuid);
        GP_PARAM(ctx, "domain-type", "%s", dt && *dt ? dt : "pv");
        goto out;
    }
    const char *res = gp_xr_struct_get_string(&rec, "resident_on");
    const char *aff = gp_xr_struct_get_string(&rec, "affinity");
    if (!is_null_ref(res) && strcmp(res, host)) {
        rc = wrong_host(ctx, vm_uuid, res, "is resident on");
        goto out;
    }
    if (!is_null_ref(aff) && strcmp(aff, host)) {
        rc = wrong_host(ctx, vm_uuid, aff, "has affinity to");
        goto out;
    }
    const gp_xr_value *vbds = gp_xr_struct_get(&rec, "VBDs");
    for (size_t i = 0; vbds && vbds->type == GP_XR_ARRAY && i < vbds->n; i++) {
        char *vdi, *lh = NULL;
        if (vbds->items[i].type != GP_XR_STRING)
            continue;
        vdi = ref_field(ctx, "VBD.get_VDI", vbds->items[i].str);
        if (vdi && !is_null_ref(vdi))
            rc = vdi_local_host(ctx, vdi, &lh);
        free(vdi);
        if (rc == GP_OK && lh && strcmp(lh, host))
            rc = wrong_host(ctx, vm_uuid, lh, "has disks on a local SR of");
        free(lh);
        if (rc)
            goto out;
    }
out:
    gp_xr_value_dispose(&rec);
    free(ref);
    return rc;
}

void gp_xapi_held_free(gp_xapi_held *h, size_t n)
{
    if (!h)
        return;
    for (size_t i = 0; i < n; i++)
        free(h[i].how);
    free(h);
}

static int held_add(gp_drv *ctx, gp_xapi_held **v, size_t *n, const char *pci_id,
                    const char *vm_uuid, char *how, bool vgpu, bool running)
{
    gp_xapi_held *nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv || !how) {
        free(how);
        if (nv)
            *v = nv;
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    *v = nv;
    memset(&nv[*n], 0, sizeof(nv[*n]));
    snprintf(nv[*n].pci_id, sizeof(nv[*n].pci_id), "%s", pci_id);
    snprintf(nv[*n].vm_uuid, sizeof(nv[*n].vm_uuid), "%s", vm_uuid ? vm_uuid : "");
    nv[*n].how = how;
    nv[*n].vgpu = vgpu;
    nv[*n].running = running;
    (*n)++;
    return GP_OK;
}

/* A VM record whose other-config:pci would land on this host's devices:
 * resident here, or not resident anywhere and with no affinity to
 * another host (xapi may start it here). */
static bool rec_may_run_here(const gp_xr_value *rec, const char *host)
{
    const char *res = gp_xr_struct_get_string(rec, "resident_on");
    const char *aff = gp_xr_struct_get_string(rec, "affinity");
    if (!is_null_ref(res))
        return !strcmp(res, host);
    return is_null_ref(aff) || !strcmp(aff, host);
}

int gp_xapi_drv_held(gp_drv *ctx, gp_xapi_held **out, size_t *n_out)
{
    gp_xr_value all, vgpus, pgpus;
    const char *host;
    gp_xapi_held *v = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    gp_xr_value_init(&all);
    gp_xr_value_init(&vgpus);
    gp_xr_value_init(&pgpus);
    rc = this_host(ctx, &host);
    if (rc == GP_OK)
        rc = xcall(ctx, &all, "VM.get_all_records", NULL);
    if (rc)
        goto out;
    for (size_t i = 0; all.type == GP_XR_STRUCT && i < all.n; i++) {
        const gp_xr_value *rec = &all.items[i];
        const gp_xr_value *oc = gp_xr_struct_get(rec, "other_config");
        const char *uuid = gp_xr_struct_get_string(rec, "uuid");
        pci_entries e;
        if (!rec_may_run_here(rec, host) || !gp_xr_struct_get_string(oc, "pci"))
            continue;
        rc = pci_entries_parse(ctx, gp_xr_struct_get_string(oc, "pci"), &e);
        for (size_t k = 0; rc == GP_OK && k < e.n; k++)
            if (e.bdf[k][0]) {
                const char *copied = markers_ours(oc, uuid ? uuid : "")
                                         ? NULL : gp_xr_struct_get_string(oc, MARK_VM);
                rc = held_add(ctx, &v, &n, e.bdf[k], uuid,
                              copied ? gp_asprintf("named in the other-config:pci of VM %s "
                                                   "(copied from VM %s by VM.clone)",
                                                   uuid ? uuid : "?", copied)
                                     : gp_asprintf("named in the other-config:pci of VM %s",
                                                   uuid ? uuid : "?"),
                              false, !is_null_ref(gp_xr_struct_get_string(rec, "resident_on")));
            }
        pci_entries_dispose(&e);
        if (rc)
            goto out;
    }
    /* xapi's own passthrough: a VGPU resident on a PGPU of this host
     * (datamodel_vgpu.ml resident_on; PGPU.PCI, PGPU.host). */
    rc = xcall(ctx, &vgpus, "VGPU.get_all_records", NULL);
    if (rc)
        goto out;
    if (vgpus.type == GP_XR_STRUCT && vgpus.n) {
        rc = xcall(ctx, &pgpus, "PGPU.get_all_records", NULL);
        if (rc)
            goto out;
    }
    for (size_t i = 0; vgpus.type == GP_XR_STRUCT && i < vgpus.n; i++) {
        const gp_xr_value *vg = &vgpus.items[i];
        const char *pg = gp_xr_struct_get_string(vg, "resident_on");
        const char *sched = gp_xr_struct_get_string(vg, "scheduled_to_be_resident_on");
        const gp_xr_value *pgrec = NULL;
        if (is_null_ref(pg))
            pg = sched;
        if (is_null_ref(pg))
            continue;
        pgrec = gp_xr_struct_get(&pgpus, pg);
        const char *pgh = gp_xr_struct_get_string(pgrec, "host");
        const char *pci = gp_xr_struct_get_string(pgrec, "PCI");
        char *pci_id = pci && !is_null_ref(pci) ? ref_field(ctx, "PCI.get_pci_id", pci) : NULL;
        char *vm_uuid = NULL;
        const char *vmref = gp_xr_struct_get_string(vg, "VM");
        if (vmref && !is_null_ref(vmref))
            vm_uuid = ref_field(ctx, "VM.get_uuid", vmref);
        gp_pci_addr a;
        char c[GP_PCI_ID_LEN];
        if (pgh && !strcmp(pgh, host) && pci_id && gp_pci_addr_parse(pci_id, &a, NULL) == GP_OK)
            rc = held_add(ctx, &v, &n, gp_pci_addr_format(&a, c), vm_uuid,
                          gp_asprintf("held by a VGPU of VM %s (xapi's own passthrough)",
                                      vm_uuid ? vm_uuid : "?"),
                          true, !is_null_ref(gp_xr_struct_get_string(vg, "resident_on")));
        free(pci_id);
        free(vm_uuid);
        if (rc)
            goto out;
    }
    *out = v;
    *n_out = n;
    v = NULL;
    n = 0;
out:
    gp_xapi_held_free(v, n);
    gp_xr_value_dispose(&all);
    gp_xr_value_dispose(&vgpus);
    gp_xr_value_dispose(&pgpus);
    return rc;
}

int gp_xapi_drv_host_mask(gp_drv *ctx, char **mask)
{
    gp_xr_value v;
    const char *host;
    int rc = this_host(ctx, &host);
    *mask = NULL;
    if (rc)
        return rc;
    rc = xcall(ctx, &v, "host.get_guest_VCPUs_params", host, NULL);
    if (rc)
        return rc;
    const char *m = gp_xr_struct_get_string(&v, "mask");
    if (m && *m && !(*mask = strdup(m)))
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    gp_xr_value_dispose(&v);
    return rc;
}

int gp_xapi_drv_user(gp_drv *ctx, char **user)
{
    xapi_priv *p = ctx->priv;
    char *s = strdup(gp_xapi_session(p->x));
    bool superuser = false;

    *user = NULL;
    /* A call forwarded from the pool master runs on a session the master
     * made for it (message_forwarding.ml call_slave_with_session: no user
     * name, is_local_superuser, parent = the caller's session): follow
     * parent to the session that names the user (xapi_session.ml). */
    for (int depth = 0; s && depth < 8 && !*user; depth++) {
        char *name = ref_field(ctx, "session.get_auth_user_name", s);
        if (name && *name) {
            *user = name;
            break;
        }
        free(name);
        gp_xr_value v;
        if (xcall(ctx, &v, "session.get_is_local_superuser", s, NULL) == GP_OK)
            superuser = superuser || xr_bool(&v);
        gp_xr_value_dispose(&v);
        char *parent = ref_field(ctx, "session.get_parent", s);
        free(s);
        s = parent && !is_null_ref(parent) ? parent : NULL;
        if (!s)
            free(parent);
    }
    free(s);
    if (!*user && superuser)
        *user = strdup("root (local superuser)");
    return GP_OK;
}

int gp_xapi_drv_message(gp_drv *ctx, const char *vm_uuid, const char *name, int priority,
                        const char *body)
{
    char prio[8];
    gp_xr_value v;
    int rc;

    /* xapi's XML-RPC carries an Int as a string (ocaml/xapi-idl rpc). */
    snprintf(prio, sizeof(prio), "%d", priority);
    rc = xcall(ctx, &v, "message.create", name, prio, "VM", vm_uuid, body, NULL);
    gp_xr_value_dispose(&v);
    return rc;
}

int gp_xapi_drv_vm_binding(gp_drv *ctx, const char *vm_uuid, gp_xapi_binding *b)
{
    gp_xr_value rec;
    char *ref = NULL;
    const char *host_uuid;
    int rc;

    memset(b, 0, sizeof(*b));
    gp_xr_value_init(&rec);
    rc = vm_ref_of_uuid(ctx, vm_uuid, &ref);
    if (rc == GP_OK)
        rc = vm_record(ctx, ref, &rec);
    if (rc == GP_OK)
        rc = this_host_uuid(ctx, &host_uuid);
    if (rc)
        goto out;
    const gp_xr_value *oc = gp_xr_struct_get(&rec, "other_config");
    const gp_xr_value *params = gp_xr_struct_get(&rec, "VCPUs_params");
    const gp_xr_value *bo = gp_xr_struct_get(&rec, "blocked_operations");
    b->ours = markers_ours(oc, vm_uuid);
    b->clone_of = gp_strdup(b->ours ? NULL : gp_xr_struct_get_string(oc, MARK_VM));
    b->bound_host = gp_strdup(b->ours ? gp_xr_struct_get_string(oc, MARK_HOST) : NULL);
    b->this_host = gp_strdup(host_uuid);
    b->pci = gp_strdup(gp_xr_struct_get_string(oc, "pci"));
    b->mark_pci = gp_strdup(b->ours ? gp_xr_struct_get_string(oc, MARK_PCI) : NULL);
    b->mask = gp_strdup(gp_xr_struct_get_string(params, "mask"));
    b->mark_mask = gp_strdup(b->ours ? gp_xr_struct_get_string(oc, MARK_MASK) : NULL);
    b->placement = gp_strdup(b->ours ? gp_xr_struct_get_string(oc, MARK_PLACEMENT) : NULL);
    const char *aff = gp_xr_struct_get_string(&rec, "affinity");
    b->affinity_set = !is_null_ref(aff);
    b->affinity_ours = b->ours && aff && gp_xr_struct_get_string(oc, MARK_AFFINITY) &&
                       !strcmp(aff, gp_xr_struct_get_string(oc, MARK_AFFINITY));
    for (size_t i = 0; i < GP_ARRAY_SIZE(blocked_ops); i++) {
        const char *v = gp_xr_struct_get_string(bo, blocked_ops[i]);
        if (v && !strcmp(v, BLOCK_REASON))
            b->blocked_by_us = true;
    }
    const char *writer = gp_xr_struct_get_string(oc, MARK_WRITER);
    b->claimed_by_us = writer && host_uuid && !strcasecmp(writer, host_uuid);
    b->state = state_from_xapi(gp_xr_struct_get_string(&rec, "power_state"));
    const char *res = gp_xr_struct_get_string(&rec, "resident_on");
    if (!is_null_ref(res)) {
        char *ru = NULL;
        host_uuid_of(ctx, res, &ru);
        b->resident_host = ru;
    }
out:
    gp_xr_value_dispose(&rec);
    free(ref);
    return rc;
}

void gp_xapi_binding_dispose(gp_xapi_binding *b)
{
    free(b->clone_of);
    free(b->placement);
    free(b->bound_host);
    free(b->this_host);
    free(b->pci);
    free(b->mark_pci);
    free(b->mask);
    free(b->mark_mask);
    free(b->resident_host);
    memset(b, 0, sizeof(*b));
}

int gp_xapi_drv_pci_names(const char *oc_pci, char ***ids, size_t *n)
{
    pci_entries e;
    gp_drv dummy;
    gp_error_info err;
    int rc;

    *ids = NULL;
    *n = 0;
    memset(&dummy, 0, sizeof(dummy));
    gp_error_info_init(&err);
    dummy.err = &err;
    rc = pci_entries_parse(&dummy, oc_pci, &e);
    gp_error_info_dispose(&err);
    if (rc)
        return rc;
    char **v = calloc(e.n ? e.n : 1, sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; v && i < e.n; i++)
        if (e.bdf[i][0] && !(v[k++] = strdup(e.bdf[i]))) {
            gp_strv_free(v, k);
            v = NULL;
        }
    pci_entries_dispose(&e);
    if (!v)
        return GP_ERR_NOMEM;
    *ids = v;
    *n = k;
    return GP_OK;
}

int gp_xapi_drv_clear_copied(gp_drv *ctx, const char *vm_uuid)
{
    gp_xr_value rec;
    char *ref = NULL;
    int rc;

    gp_xr_value_init(&rec);
    rc = vm_ref_of_uuid(ctx, vm_uuid, &ref);
    if (rc == GP_OK)
        rc = require_halted(ctx, vm_uuid, ref);
    if (rc == GP_OK)
        rc = vm_record(ctx, ref, &rec);
    if (rc == GP_OK) {
        const gp_xr_value *oc = gp_xr_struct_get(&rec, "other_config");
        const char *owner = gp_xr_struct_get_string(oc, MARK_VM);
        /* clear_boot removes only the VM's own markers: present the copied
         * ones as its own (owner is the parent's uuid). */
        if (owner && strcmp(owner, vm_uuid))
            rc = clear_boot(ctx, owner, ref, &rec);
    }
    gp_xr_value_dispose(&rec);
    free(ref);
    return rc;
}

uint64_t gp_xapi_drv_set_deadline(gp_drv *ctx, uint64_t deadline_ms)
{
    xapi_priv *p = ctx->priv;
    return p ? gp_xapi_set_deadline(p->x, deadline_ms) : 0;
}

/* ---- pool-wide: what ops/cluster.c reads and writes ------------------------------ */

int gp_xapi_drv_all_records(gp_drv *ctx, const char *cls, gp_xr_value *all)
{
    char method[64];
    int rc;
    snprintf(method, sizeof(method), "%s.get_all_records", cls);
    rc = xcall(ctx, all, method, NULL);
    if (rc == GP_OK && all->type != GP_XR_STRUCT) {
        gp_xr_value_dispose(all);
        return GP_ERR(ctx, GP_ERR_DRIVER, "xapi %s returned no map", method);
    }
    return rc;
}

int gp_xapi_drv_this_host(gp_drv *ctx, const char **ref, const char **uuid)
{
    int rc = this_host(ctx, ref);
    if (rc == GP_OK && uuid)
        rc = this_host_uuid(ctx, uuid);
    return rc;
}

int gp_xapi_drv_other_config(gp_drv *ctx, const char *cls, const char *ref,
                             const gp_xr_value *cur, const char *key, const char *value)
{
    char method[64];
    const char *now = cur ? gp_xr_struct_get_string(cur, key) : NULL;
    gp_xr_value v;
    int rc = GP_OK;

    if (cur && ((!value && !now) || (value && now && !strcmp(now, value))))
        return GP_OK;
    if (!cur || now) {
        /* db_cache_impl.ml: removing an absent key is not an error. */
        snprintf(method, sizeof(method), "%s.remove_from_other_config", cls);
        rc = xcall(ctx, &v, method, ref, key, NULL);
        gp_xr_value_dispose(&v);
    }
    if (rc == GP_OK && value) {
        snprintf(method, sizeof(method), "%s.add_to_other_config", cls);
        rc = xcall(ctx, &v, method, ref, key, value, NULL);
        gp_xr_value_dispose(&v);
    }
    return rc;
}

int gp_xapi_drv_other_config_add(gp_drv *ctx, const char *cls, const char *ref,
                                 const char *key, const char *value, bool *added)
{
    char method[64];
    gp_xr_value v;
    int rc;

    *added = false;
    snprintf(method, sizeof(method), "%s.add_to_other_config", cls);
    rc = xcall(ctx, &v, method, ref, key, value, NULL);
    gp_xr_value_dispose(&v);
    if (rc == GP_OK) {
        *added = true;
    } else if (!strcmp(last_failure(ctx), "MAP_DUPLICATE_KEY")) {
        gp_err_clear(ctx->err);
        rc = GP_OK;
    }
    return rc;
}

int gp_xapi_drv_call_plugin(gp_drv *ctx, const char *host_ref, const char *fn,
                            const char *const *kv, size_t n_kv, char **value)
{
    xapi_priv *p = ctx->priv;
    const char *args[3] = { host_ref, "gpupool", fn };
    gp_xr_value st, res;
    int rc;

    *value = NULL;
    gp_xr_value_init(&st);
    st.type = GP_XR_STRUCT;
    for (size_t i = 0; i + 1 < n_kv; i += 2)
        if (gp_xr_struct_add_string(&st, kv[i], kv[i + 1])) {
            gp_xr_value_dispose(&st);
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        }
    rc = gp_xapi_call_tail(p->x, "host.call_plugin", args, 3, &st, &res, ctx->err);
    gp_xr_value_dispose(&st);
    if (rc == GP_OK) {
        if (res.type != GP_XR_STRING) {
            gp_xr_value_dispose(&res);
            return GP_ERR(ctx, GP_ERR_DRIVER, "xapi host.call_plugin returned no string");
        }
        *value = res.str;
        res.str = NULL;
        gp_xr_value_dispose(&res);
        return GP_OK;
    }
    /* The plugin's own failure comes back as it was raised: [GPUPOOL_<NAME>,
     * params..., message] (xapi_plugins.ml passes the ErrorDescription on). */
    const char *code = last_failure(ctx);
    int gp = strncmp(code, "GPUPOOL_", 8) ? 0 : gp_error_from_name(code + 8);
    if (rc == GP_ERR_DRIVER && gp) {
        const char *msg = NULL;
        for (size_t i = 0; i < ctx->err->n_params; i++)
            if (!strcmp(ctx->err->params[i].key, "xapi-param"))
                msg = ctx->err->params[i].value;
        char *m = gp_strdup(msg ? msg : code);
        gp_error_info e;
        gp_error_info_init(&e);
        gp_err_copy(&e, ctx->err);
        gp_err_set(ctx->err, gp, "%s", m ? m : code);
        for (size_t i = 0; i < e.n_params; i++)
            if (!strcmp(e.params[i].key, "xapi-param") && e.params[i].value != msg &&
                (!msg || strcmp(e.params[i].value, msg)))
                gp_err_param(ctx->err, "param", "%s", e.params[i].value);
        gp_err_param(ctx->err, "remote-function", "%s", fn);
        gp_error_info_dispose(&e);
        free(m);
        rc = gp;
    }
    return rc;
}

int gp_xapi_drv_vm_ref(gp_drv *ctx, const char *vm_uuid, char **ref)
{
    return vm_ref_of_uuid(ctx, vm_uuid, ref);
}

int gp_xapi_drv_vm_bound_host(gp_drv *ctx, const gp_xr_value *rec, bool ignore_resident,
                              char **host_ref, char **why)
{
    int rc = GP_OK;
    *host_ref = NULL;
    *why = NULL;
    const char *res = gp_xr_struct_get_string(rec, "resident_on");
    const char *aff = gp_xr_struct_get_string(rec, "affinity");
    const char *oc_aff = gp_xr_struct_get_string(gp_xr_struct_get(rec, "other_config"),
                                                 MARK_AFFINITY);
    if (!ignore_resident && !is_null_ref(res)) {
        *host_ref = gp_strdup(res);
        *why = gp_strdup("is resident on");
        goto done;
    }
    /* An affinity gpupool set itself moves with the assignment. */
    if (!is_null_ref(aff) && !(oc_aff && !strcmp(oc_aff, aff))) {
        *host_ref = gp_strdup(aff);
        *why = gp_strdup("has affinity to");
        goto done;
    }
    const gp_xr_value *vbds = gp_xr_struct_get(rec, "VBDs");
    for (size_t i = 0; vbds && vbds->type == GP_XR_ARRAY && i < vbds->n; i++) {
        char *vdi, *lh = NULL;
        if (vbds->items[i].type != GP_XR_STRING)
            continue;
        vdi = ref_field(ctx, "VBD.get_VDI", vbds->items[i].str);
        if (vdi && !is_null_ref(vdi))
            rc = vdi_local_host(ctx, vdi, &lh);
        free(vdi);
        if (rc)
            return rc;
        if (lh) {
            *host_ref = lh;
            *why = gp_strdup("has disks on a local SR of");
            goto done;
        }
    }
    return GP_OK;
done:
    if (!*host_ref || !*why) {
        free(*host_ref);
        free(*why);
        *host_ref = *why = NULL;
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    return GP_OK;
}

int gp_xapi_drv_vm_tags(gp_drv *ctx, const char *vm_uuid, char ***tags, size_t *n)
{
    gp_xr_value v;
    char *ref = NULL;
    int rc = vm_ref_of_uuid(ctx, vm_uuid, &ref);
    *tags = NULL;
    *n = 0;
    if (rc == GP_OK)
        rc = xcall(ctx, &v, "VM.get_tags", ref, NULL);
    free(ref);
    if (rc)
        return rc;
    if (v.type == GP_XR_ARRAY && v.n) {
        *tags = calloc(v.n, sizeof(**tags));
        if (!*tags)
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; rc == GP_OK && i < v.n; i++)
            if (v.items[i].type == GP_XR_STRING) {
                (*tags)[*n] = strdup(v.items[i].str);
                if (!(*tags)[(*n)++])
                    rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            }
    }
    gp_xr_value_dispose(&v);
    if (rc) {
        gp_strv_free(*tags, *n);
        *tags = NULL;
        *n = 0;
    }
    return rc;
}

int gp_xapi_drv_pci_other_config(gp_drv *ctx, const char *pci_id, const char *key,
                                 const char *value)
{
    gp_xr_value all;
    size_t i = 0;
    int rc = pci_find(ctx, pci_id, &all, &i);
    if (rc == GP_OK)
        rc = gp_xapi_drv_other_config(ctx, "PCI", all.keys[i],
                                      gp_xr_struct_get(&all.items[i], "other_config"), key, value);
    gp_xr_value_dispose(&all);
    return rc;
}
