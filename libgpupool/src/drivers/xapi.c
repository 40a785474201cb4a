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
#define MARK_PCI "gpupool:pci"
#define MARK_MASK "gpupool:mask"

typedef struct {
    gp_xapi *x;
    char *host_ref;   /* this host (session.get_this_host), lazily */
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

/* This host's ref (cached). */
static int this_host(gp_drv *ctx, const char **ref)
{
    xapi_priv *p = ctx->priv;
    if (!p->host_ref) {
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

/* The PCI object of this host with that pci-id; GP_ERR_UNKNOWN_GPU if none. */
static int pci_ref_of(gp_drv *ctx, const char *pci_id, char **ref)
{
    gp_xr_value all;
    const char *host;
    gp_pci_addr want;
    char canon[GP_PCI_ID_LEN];
    int rc;

    *ref = NULL;
    rc = gp_pci_addr_parse(pci_id, &want, ctx->err);
    if (rc)
        return rc;
    gp_pci_addr_format(&want, canon);
    rc = this_host(ctx, &host);
    if (rc)
        return rc;
    rc = xcall(ctx, &all, "PCI.get_all_records", NULL);
    if (rc)
        return rc;
    for (size_t i = 0; all.type == GP_XR_STRUCT && i < all.n; i++) {
        const gp_xr_value *rec = &all.items[i];
        const char *id = gp_xr_struct_get_string(rec, "pci_id");
        const char *h = gp_xr_struct_get_string(rec, "host");
        gp_pci_addr a;
        char c[GP_PCI_ID_LEN];
        if (!id || (h && strcmp(h, host)) || gp_pci_addr_parse(id, &a, NULL))
            continue;
        if (!strcmp(gp_pci_addr_format(&a, c), canon)) {
            *ref = strdup(all.keys[i]);
            rc = *ref ? GP_OK : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    rc = GP_ERR(ctx, GP_ERR_UNKNOWN_GPU, "xapi has no PCI object %s on this host", canon);
    GP_PARAM(ctx, "pci-id", "%s", canon);
out:
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
#define ORIG_PREFIX "xapi-dom0-access:"

static int xapi_assignable_add(gp_drv *ctx, const char *pci_id, char **orig_driver)
{
    char *ref = NULL, *before = NULL;
    gp_xr_value v;
    int rc;

    *orig_driver = NULL;
    gp_xr_value_init(&v);
    rc = pci_ref_of(ctx, pci_id, &ref);
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

/* "0/<gpu>,0/<companion>..." */
static char *pci_value(const gp_boot_config *bc)
{
    size_t len = strlen(bc->pci_id) + 3;
    for (size_t i = 0; i < bc->n_companions; i++)
        len += strlen(bc->companions[i]) + 3;
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    size_t at = (size_t)snprintf(s, len + 1, "0/%s", bc->pci_id);
    for (size_t i = 0; i < bc->n_companions; i++)
        at += (size_t)snprintf(s + at, len + 1 - at, ",0/%s", bc->companions[i]);
    return s;
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

/* Remove what gpupool wrote on the VM (ref), per the markers in oc. */
static int clear_boot(gp_drv *ctx, const char *ref, const gp_xr_value *oc)
{
    const char *mark_pci = gp_xr_struct_get_string(oc, MARK_PCI);
    const char *mark_mask = gp_xr_struct_get_string(oc, MARK_MASK);
    const char *cur_pci = gp_xr_struct_get_string(oc, "pci");
    int rc = GP_OK;

    if (mark_mask) {
        gp_xr_value params;
        rc = vm_map(ctx, "VM.get_VCPUs_params", ref, &params);
        if (rc)
            return rc;
        const char *cur = gp_xr_struct_get_string(&params, "mask");
        if (cur && !strcmp(cur, mark_mask))
            rc = map_del(ctx, ref, "VCPUs_params", "mask");
        gp_xr_value_dispose(&params);
        if (rc == GP_OK)
            rc = map_del(ctx, ref, "other_config", MARK_MASK);
        if (rc)
            return rc;
    }
    if (mark_pci) {
        if (cur_pci && !strcmp(cur_pci, mark_pci))
            rc = map_del(ctx, ref, "other_config", "pci");
        if (rc == GP_OK)
            rc = map_del(ctx, ref, "other_config", MARK_PCI);
    }
    return rc;
}

static int xapi_vm_record_boot(gp_drv *ctx, const char *vm_uuid, const gp_boot_config *bc)
{
    gp_xr_value oc, params;
    char *ref = NULL, *pci = NULL, *mask = NULL;
    bool wrote = false;
    int rc;

    gp_xr_value_init(&oc);
    gp_xr_value_init(&params);
    rc = vm_ref_of_uuid(ctx, vm_uuid, &ref);
    if (rc)
        goto out;
    rc = require_halted(ctx, vm_uuid, ref);
    if (rc)
        goto out;
    rc = vm_map(ctx, "VM.get_other_config", ref, &oc);
    if (rc)
        goto out;
    if (!bc) {
        rc = clear_boot(ctx, ref, &oc);
        goto out;
    }

    const char *cur_pci = gp_xr_struct_get_string(&oc, "pci");
    const char *mark_pci = gp_xr_struct_get_string(&oc, MARK_PCI);
    pci = pci_value(bc);
    if (!pci) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* Never overwrite a passthrough someone else configured. */
    if (cur_pci && *cur_pci && !(mark_pci && !strcmp(cur_pci, mark_pci))) {
        rc = GP_ERR(ctx, GP_ERR_DRIVER,
                    "VM %s already has other-config:pci=%s, which gpupool did not write; "
                    "remove it first", vm_uuid, cur_pci);
        GP_PARAM(ctx, "vm", "%s", vm_uuid);
        GP_PARAM(ctx, "other-config:pci", "%s", cur_pci);
        goto out;
    }
    if (bc->pin_mode == GP_PIN_HARD && bc->n_pcpus) {
        mask = gp_cpulist_join(bc->pcpus, bc->n_pcpus);
        if (!mask) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        rc = vm_map(ctx, "VM.get_VCPUs_params", ref, &params);
        if (rc)
            goto out;
        const char *cur_mask = gp_xr_struct_get_string(&params, "mask");
        const char *mark_mask = gp_xr_struct_get_string(&oc, MARK_MASK);
        if (cur_mask && *cur_mask && !(mark_mask && !strcmp(cur_mask, mark_mask))) {
            rc = GP_ERR(ctx, GP_ERR_DRIVER,
                        "VM %s already has VCPUs-params:mask=%s, which gpupool did not "
                        "write; remove it first", vm_uuid, cur_mask);
            GP_PARAM(ctx, "vm", "%s", vm_uuid);
            GP_PARAM(ctx, "VCPUs-params:mask", "%s", cur_mask);
            goto out;
        }
    }
    /* Drop a previous gpupool write first (reassignment), then write. */
    wrote = true;
    rc = clear_boot(ctx, ref, &oc);
    if (rc)
        goto out;
    rc = map_put(ctx, ref, "other_config", false, MARK_PCI, pci);
    if (rc == GP_OK)
        rc = map_put(ctx, ref, "other_config", false, "pci", pci);
    if (rc == GP_OK && mask) {
        rc = map_put(ctx, ref, "other_config", false, MARK_MASK, mask);
        if (rc == GP_OK)
            rc = map_put(ctx, ref, "VCPUs_params", false, "mask", mask);
    }
out:
    if (rc && wrote && ref) {
        /* Leave the VM as gpupool found it: remove whatever carries our marker. */
        gp_error_info saved;
        gp_xr_value now;
        gp_error_info_init(&saved);
        gp_err_copy(&saved, ctx->err);
        gp_xr_value_init(&now);
        if (vm_map(ctx, "VM.get_other_config", ref, &now) == GP_OK)
            clear_boot(ctx, ref, &now);
        gp_xr_value_dispose(&now);
        gp_err_copy(ctx->err, &saved);
        gp_error_info_dispose(&saved);
    }
    gp_xr_value_dispose(&oc);
    gp_xr_value_dispose(&params);
    free(ref);
    free(pci);
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
    .memory_certainty = GP_MEMNODE_UNKNOWN,
    .memory_basis = "xapi driver: xenopsd places the memory; gpupool reads no per-node figure",
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
