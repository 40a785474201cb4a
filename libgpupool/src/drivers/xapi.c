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
#include "internal.h"

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
static int xcall(gp_ctx *ctx, gp_xr_value *res, const char *method, ...)
{
    xapi_priv *p = ctx->drv_priv;
    const char *args[8];
    size_t n = 0;
    va_list ap;

    va_start(ap, method);
    for (const char *a; n < GP_ARRAY_SIZE(args) && (a = va_arg(ap, const char *));)
        args[n++] = a;
    va_end(ap);
    return gp_xapi_call(p->x, method, args, n, res, &ctx->err);
}

static const char *last_failure(gp_ctx *ctx)
{
    xapi_priv *p = ctx->drv_priv;
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

static int vm_from_record(gp_ctx *ctx, const gp_xr_value *rec, gp_vm *v)
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
static int vm_ref_of_uuid(gp_ctx *ctx, const char *uuid, char **ref)
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
static int this_host(gp_ctx *ctx, const char **ref)
{
    xapi_priv *p = ctx->drv_priv;
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
static int pci_ref_of(gp_ctx *ctx, const char *pci_id, char **ref)
{
    gp_xr_value all;
    const char *host;
    gp_pci_addr want;
    char canon[GP_PCI_ID_LEN];
    int rc;

    *ref = NULL;
    rc = gp_pci_addr_parse(pci_id, &want, &ctx->err);
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

static int dom0_status(gp_ctx *ctx, const char *ref, char **status)
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

static int xapi_open(gp_ctx *ctx)
{
    xapi_priv *p = calloc(1, sizeof(*p));
    uint64_t deadline = 0;
    int rc;

    if (!p)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    if (ctx->cfg.timeout_ms)
        deadline = gp_monotonic_ms() + ctx->cfg.timeout_ms;
    rc = gp_xapi_open(&p->x, gp_xapi_socket_path(&ctx->cfg), ctx->cfg.xapi_session,
                      deadline, &ctx->err);
    if (rc) {
        free(p);
        return rc;
    }
    ctx->drv_priv = p;
    return GP_OK;
}

static void xapi_close(gp_ctx *ctx)
{
    xapi_priv *p = ctx->drv_priv;
    if (!p)
        return;
    gp_xapi_close(p->x);
    free(p->host_ref);
    free(p);
    ctx->drv_priv = NULL;
}

static int cmp_vm(const void *a, const void *b)
{
    const gp_vm *x = a, *y = b;
    int c = strcmp(x->name_label ? x->name_label : "", y->name_label ? y->name_label : "");
    return c ? c : strcmp(x->uuid, y->uuid);
}

static int xapi_vm_list(gp_ctx *ctx, gp_vm **out, size_t *n_out)
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

static int xapi_vm_get(gp_ctx *ctx, const char *vm, gp_vm *out)
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

static int xapi_assignable_add(gp_ctx *ctx, const char *pci_id, char **orig_driver)
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

static int xapi_assignable_remove(gp_ctx *ctx, const char *pci_id, const char *orig_driver)
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

static int xapi_device_driver(gp_ctx *ctx, const char *pci_id, char **driver)
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
static int vm_map(gp_ctx *ctx, const char *method, const char *ref, gp_xr_value *map)
{
    int rc = xcall(ctx, map, method, ref, NULL);
    if (rc == GP_OK && map->type != GP_XR_STRUCT) {
        gp_xr_value_dispose(map);
        return GP_ERR(ctx, GP_ERR_DRIVER, "xapi %s returned no map", method);
    }
    return rc;
}

/* Replace key in a VM map: remove (when present) then add. */
static int map_put(gp_ctx *ctx, const char *ref, const char *field, bool present,
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

static int map_del(gp_ctx *ctx, const char *ref, const char *field, const char *key)
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

static int require_halted(gp_ctx *ctx, const char *vm_uuid, const char *ref)
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
static int clear_boot(gp_ctx *ctx, const char *ref, const gp_xr_value *oc)
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

static int xapi_vm_record_boot(gp_ctx *ctx, const char *vm_uuid, const gp_boot_config *bc)
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
        gp_err_copy(&saved, &ctx->err);
        gp_xr_value_init(&now);
        if (vm_map(ctx, "VM.get_other_config", ref, &now) == GP_OK)
            clear_boot(ctx, ref, &now);
        gp_xr_value_dispose(&now);
        gp_err_copy(&ctx->err, &saved);
        gp_error_info_dispose(&saved);
    }
    gp_xr_value_dispose(&oc);
    gp_xr_value_dispose(&params);
    free(ref);
    free(pci);
    free(mask);
    return rc;
}

static int xapi_apply_affinity(gp_ctx *ctx, const char *vm_uuid, const int *pcpus,
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
static int xapi_host_topology(gp_ctx *ctx, gp_host *h)
{
#ifdef GPUPOOL_WITH_XEN
    if (gp_xen_present())
        return gp_xen_host_topology(ctx, h);
#endif
    return gp_sysfs_topology(ctx->cfg.sysfs_root, h, &ctx->err);
}

static int xapi_host_pci_locality(gp_ctx *ctx, gp_host *h)
{
#ifdef GPUPOOL_WITH_XEN
    if (gp_xen_present())
        return gp_xen_host_pci_locality(ctx, h);
#endif
    (void)ctx;
    (void)h;
    return GP_OK;
}

const gp_driver_ops gp_driver_xapi = {
    .name = "xapi",
    .open = xapi_open,
    .close = xapi_close,
    .host_topology = xapi_host_topology,
    .vm_list = xapi_vm_list,
    .device_assignable_add = xapi_assignable_add,
    .device_assignable_remove = xapi_assignable_remove,
    .device_driver = xapi_device_driver,
    .vm_record_boot = xapi_vm_record_boot,
    .vm_apply_affinity = xapi_apply_affinity,
    .transactional = false,
    .vm_get = xapi_vm_get,
    .host_pci_locality = xapi_host_pci_locality,
    .memory_certainty = GP_MEMNODE_UNKNOWN,
    .memory_basis = "xapi driver: xenopsd places the memory; gpupool reads no per-node figure",
};

/* ---- public XCP-ng helpers ---------------------------------------------- */

static int need_xapi(gp_ctx *ctx)
{
    const gp_driver_ops *drv;
    int rc = gp_driver_get(ctx, &drv);
    if (rc)
        return rc;
    if (drv != &gp_driver_xapi) {
        rc = GP_ERR(ctx, GP_ERR_NOT_SUPPORTED,
                    "only the xapi driver (XCP-ng) can do this; the driver in use is %s",
                    drv->name);
        GP_PARAM(ctx, "driver", "%s", drv->name);
        return rc;
    }
    return GP_OK;
}

int gp_xapi_dom0_access(gp_ctx *ctx, const char *pci_id, char **status_out)
{
    char *ref = NULL;
    int rc;

    *status_out = NULL;
    gp_err_clear(&ctx->err);
    rc = need_xapi(ctx);
    if (rc == GP_OK)
        rc = pci_ref_of(ctx, pci_id, &ref);
    if (rc == GP_OK)
        rc = dom0_status(ctx, ref, status_out);
    free(ref);
    return rc;
}

void gp_drift_list_free(gp_drift *d, size_t n)
{
    if (!d)
        return;
    for (size_t i = 0; i < n; i++) {
        free(d[i].kind);
        free(d[i].vm_name_label);
        free(d[i].other_config_pci);
        free(d[i].detail);
    }
    free(d);
}

typedef struct {
    gp_drift *v;
    size_t n;
} drift_list;

static int drift_add(gp_ctx *ctx, drift_list *l, const char *kind, const char *vm_uuid,
                     const char *vm_name, const char *pci_id, const char *oc_pci,
                     char *detail /* taken */)
{
    gp_drift *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv) {
        free(detail);
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    }
    l->v = nv;
    gp_drift *d = &nv[l->n];
    memset(d, 0, sizeof(*d));
    snprintf(d->vm_uuid, sizeof(d->vm_uuid), "%s", vm_uuid ? vm_uuid : "");
    snprintf(d->pci_id, sizeof(d->pci_id), "%s", pci_id ? pci_id : "");
    d->kind = strdup(kind);
    d->vm_name_label = gp_strdup(vm_name);
    d->other_config_pci = gp_strdup(oc_pci);
    d->detail = detail;
    l->n++;
    if (!d->kind || !d->detail || (vm_name && !d->vm_name_label) ||
        (oc_pci && !d->other_config_pci))
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    return GP_OK;
}

/* Does the xapi VM record belong on another host (resident there, or
 * affinity to another host)? */
static bool rec_other_host(const gp_xr_value *rec, const char *host)
{
    const char *res = gp_xr_struct_get_string(rec, "resident_on");
    const char *aff = gp_xr_struct_get_string(rec, "affinity");
    if (res && strcmp(res, XAPI_NULL_REF) && *res)
        return strcmp(res, host) != 0;
    if (aff && strcmp(aff, XAPI_NULL_REF) && *aff)
        return strcmp(aff, host) != 0;
    return false;
}

/* Does other-config:pci (oc_pci) name the canonical pci-id? */
static bool oc_pci_names(const char *oc_pci, const char *canon)
{
    bool found = false;
    char *copy = strdup(oc_pci ? oc_pci : ""), *save = NULL;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && !found;
         tok = strtok_r(NULL, ",", &save)) {
        char *slash = strchr(tok, '/');
        gp_pci_addr a;
        char c[GP_PCI_ID_LEN];
        while (*tok == ' ')
            tok++;
        if (gp_pci_addr_parse(slash ? slash + 1 : tok, &a, NULL) == GP_OK &&
            !strcmp(gp_pci_addr_format(&a, c), canon))
            found = true;
    }
    free(copy);
    return found;
}

int gp_drift_check(gp_ctx *ctx, gp_drift **out, size_t *n_out)
{
    const gp_host *hostm = NULL;
    const char *host = NULL;
    gp_pool *pools = NULL;
    gp_assignment *as = NULL;
    size_t n_pools = 0, n_as = 0;
    gp_xr_value all;
    drift_list l = { NULL, 0 };
    int rc;

    *out = NULL;
    *n_out = 0;
    gp_xr_value_init(&all);
    gp_err_clear(&ctx->err);
    rc = need_xapi(ctx);
    if (rc == GP_OK)
        rc = gp_host_get(ctx, &hostm);
    if (rc == GP_OK)
        rc = this_host(ctx, &host);
    if (rc == GP_OK)
        rc = gp_pool_list(ctx, &pools, &n_pools);
    if (rc == GP_OK)
        rc = gp_assignment_list(ctx, &as, &n_as);
    if (rc == GP_OK)
        rc = xcall(ctx, &all, "VM.get_all_records", NULL);
    if (rc)
        goto out;

    /* 1. Each host GPU named by VMs' other-config:pci. */
    for (size_t g = 0; g < hostm->n_gpus; g++) {
        const char *gpu = hostm->gpus[g].pci_id;
        const gp_pool *in_pool = NULL;
        const gp_assignment *holder = NULL;
        size_t naming = 0;

        for (size_t p = 0; p < n_pools && !in_pool; p++)
            for (size_t k = 0; k < pools[p].n_gpus; k++)
                if (!strcmp(pools[p].gpus[k], gpu))
                    in_pool = &pools[p];
        for (size_t a = 0; a < n_as; a++)
            if (!strcmp(as[a].pci_id, gpu))
                holder = &as[a];
        for (size_t i = 0; all.type == GP_XR_STRUCT && i < all.n; i++) {
            const gp_xr_value *oc = gp_xr_struct_get(&all.items[i], "other_config");
            if (rec_is_guest(&all.items[i]) && !rec_other_host(&all.items[i], host) &&
                oc_pci_names(gp_xr_struct_get_string(oc, "pci"), gpu))
                naming++;
        }
        for (size_t i = 0; all.type == GP_XR_STRUCT && i < all.n; i++) {
            const gp_xr_value *rec = &all.items[i];
            const gp_xr_value *oc = gp_xr_struct_get(rec, "other_config");
            const char *oc_pci = gp_xr_struct_get_string(oc, "pci");
            const char *uuid = gp_xr_struct_get_string(rec, "uuid");
            const char *name = gp_xr_struct_get_string(rec, "name_label");
            if (!rec_is_guest(rec) || rec_other_host(rec, host) || !oc_pci_names(oc_pci, gpu))
                continue;
            if (naming > 1) {
                rc = drift_add(ctx, &l, "shared-gpu", uuid, name, gpu, oc_pci,
                               gp_asprintf("GPU %s is named by the other-config:pci of %zu "
                                           "VMs, including %s", gpu, naming,
                                           uuid ? uuid : "?"));
                if (rc)
                    goto out;
            }
            if (in_pool && (!holder || !uuid || strcmp(holder->vm_uuid, uuid))) {
                rc = drift_add(ctx, &l, "foreign-pci", uuid, name, gpu, oc_pci,
                               holder ? gp_asprintf("VM %s names GPU %s of pool %s in "
                                                    "other-config:pci, but gpupool assigned "
                                                    "it to VM %s", uuid ? uuid : "?", gpu,
                                                    in_pool->name_label, holder->vm_uuid)
                                      : gp_asprintf("VM %s names GPU %s of pool %s in "
                                                    "other-config:pci, but gpupool has not "
                                                    "assigned it", uuid ? uuid : "?", gpu,
                                                    in_pool->name_label));
                if (rc)
                    goto out;
            }
        }
    }
    /* 2. Each gpupool assignment must be in its VM's other-config:pci. */
    for (size_t a = 0; a < n_as; a++) {
        const gp_xr_value *rec = NULL;
        for (size_t i = 0; all.type == GP_XR_STRUCT && i < all.n && !rec; i++) {
            const char *uuid = gp_xr_struct_get_string(&all.items[i], "uuid");
            if (uuid && !strcmp(uuid, as[a].vm_uuid))
                rec = &all.items[i];
        }
        if (!rec) {
            rc = drift_add(ctx, &l, "vm-missing", as[a].vm_uuid, as[a].vm_name_label,
                           as[a].pci_id, NULL,
                           gp_asprintf("gpupool assigned GPU %s to VM %s, which xapi no "
                                       "longer knows", as[a].pci_id, as[a].vm_uuid));
        } else {
            const gp_xr_value *oc = gp_xr_struct_get(rec, "other_config");
            const char *oc_pci = gp_xr_struct_get_string(oc, "pci");
            if (!oc_pci_names(oc_pci, as[a].pci_id))
                rc = drift_add(ctx, &l, "missing-pci", as[a].vm_uuid,
                               gp_xr_struct_get_string(rec, "name_label"), as[a].pci_id,
                               oc_pci,
                               gp_asprintf("gpupool assigned GPU %s to VM %s, but its "
                                           "other-config:pci is %s", as[a].pci_id,
                                           as[a].vm_uuid, oc_pci ? oc_pci : "unset"));
        }
        if (rc)
            goto out;
    }
    *out = l.v;
    *n_out = l.n;
    l.v = NULL;
    l.n = 0;
out:
    gp_drift_list_free(l.v, l.n);
    gp_pool_list_free(pools, n_pools);
    gp_assignment_list_free(as, n_as);
    gp_xr_value_dispose(&all);
    return rc;
}
