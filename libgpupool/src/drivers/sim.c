/*
 * sim.c - the simulated hypervisor: VMs, device bindings and boot records
 * live in the state database, in tables of the sim driver's own (its schema
 * section "sim": sim_vms, sim_bindings, sim_boot), so its writes are part
 * of the caller's transaction (transactional in the methods table).  The
 * host model is the one already loaded (d->host_get).
 */
#include "drivers/drivers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool tables_ok;             /* the sim section is current */
    sqlite3_stmt *vm_by_uuid;   /* kept: assignment lists look up every VM */
} sim_priv;

#define SIM_VM_COLUMNS "uuid, name_label, power_state, domid, vcpus, memory_mib"

/* The database is opened on first use (gp_store_prepare), not here: host
 * discovery selects the driver too and must not need a writable store. */
static int sim_open(gp_drv *ctx)
{
    sim_priv *p = calloc(1, sizeof(*p));
    if (!p)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    ctx->priv = p;
    return GP_OK;
}

static void sim_close(gp_drv *ctx)
{
    sim_priv *p = ctx->priv;
    if (!p)
        return;
    sqlite3_finalize(p->vm_by_uuid);
    free(p);
    ctx->priv = NULL;
}

/* The sim driver's tables.  Databases made before schema version 3 have
 * them from the main schema (same columns, CHECK lists instead of the value
 * tables): IF NOT EXISTS adopts them. */
static const char *const sim_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE IF NOT EXISTS sim_vms ("
    "  uuid TEXT PRIMARY KEY NOT NULL,"
    "  name_label TEXT NOT NULL,"
    "  power_state TEXT NOT NULL REFERENCES vm_states(name),"
    "  domid INTEGER,"
    "  vcpus INTEGER NOT NULL CHECK (vcpus > 0),"
    "  memory_mib INTEGER NOT NULL CHECK (memory_mib > 0),"
    "  affinity TEXT,"
    "  affinity_mode TEXT REFERENCES pin_modes(name),"
    "  created TEXT NOT NULL"
    ");"
    "CREATE INDEX IF NOT EXISTS sim_vms_by_name ON sim_vms(name_label, uuid);"
    "CREATE INDEX IF NOT EXISTS sim_vms_by_domid ON sim_vms(domid);"
    "CREATE TABLE IF NOT EXISTS sim_bindings ("
    "  pci_id TEXT PRIMARY KEY NOT NULL,"
    "  driver TEXT NOT NULL,"
    "  original_driver TEXT"
    ");"
    "CREATE TABLE IF NOT EXISTS sim_boot ("
    "  vm_uuid TEXT PRIMARY KEY NOT NULL,"
    "  pci_ids TEXT NOT NULL,"
    "  pcpus TEXT NOT NULL,"
    "  pin_mode TEXT NOT NULL REFERENCES pin_modes(name),"
    "  memory_node INTEGER NOT NULL"
    ");",
};

static const gp_store_section sim_section = { "sim", sim_migrations,
                                              GP_ARRAY_SIZE(sim_migrations) };

/* gp_store_prepare on the sim tables, made current on first use. */
static int sim_prepare(gp_drv *ctx, const char *sql, sqlite3_stmt **st)
{
    sim_priv *p = ctx->priv;
    if (!p->tables_ok) {
        int rc = gp_store_section_ensure(ctx->store, &sim_section);
        if (rc) {
            *st = NULL;
            return rc;
        }
        p->tables_ok = true;
    }
    return gp_store_prepare(ctx->store, sql, st);
}

static gp_vm_state state_parse(const char *s)
{
    for (int i = GP_VM_HALTED; i <= GP_VM_DYING; i++)
        if (s && !strcmp(s, gp_vm_state_name((gp_vm_state)i)))
            return (gp_vm_state)i;
    return GP_VM_DYING;  /* the CHECK constraint keeps this unreachable */
}

/* Fill v from a row of SIM_VM_COLUMNS. */
static int vm_from_row(gp_drv *ctx, sqlite3_stmt *st, gp_vm *v)
{
    gp_vm_dispose(v);
    snprintf(v->uuid, sizeof(v->uuid), "%s", (const char *)sqlite3_column_text(st, 0));
    v->name_label = gp_strdup((const char *)sqlite3_column_text(st, 1));
    if (!v->name_label)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    v->state = state_parse((const char *)sqlite3_column_text(st, 2));
    v->domid = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 3);
    v->vcpus = sqlite3_column_int(st, 4);
    v->memory_mib = (uint64_t)sqlite3_column_int64(st, 5);
    return GP_OK;
}

static int sim_vm_list(gp_drv *ctx, gp_vm **out, size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    gp_vm *vms = NULL;
    size_t n = 0, cap = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = sim_prepare(ctx, "SELECT " SIM_VM_COLUMNS " FROM sim_vms"
                          " ORDER BY name_label, uuid", &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (gp_array_reserve((void **)&vms, &cap, n, sizeof(*vms))) {
            rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
        gp_vm_init(&vms[n]);
        rc = vm_from_row(ctx, st, &vms[n++]);
        if (rc)
            goto out;
    }
    if (rc != SQLITE_DONE) {
        rc = gp_store_error(ctx->store, rc, "listing simulated VMs");
        goto out;
    }
    rc = GP_OK;
    *out = vms;
    *n_out = n;
    vms = NULL;
    n = 0;
out:
    sqlite3_finalize(st);
    gp_vm_list_free(vms, n);
    return rc;
}

static int sim_vm_get(gp_drv *ctx, const char *vm, gp_vm *out)
{
    sim_priv *p = ctx->priv;
    sqlite3_stmt *st = NULL;
    int rc;

    if (!vm || !*vm) {
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_VM, "no VM given");
        GP_PARAM(ctx, "vm", "%s", "");
        return rc;
    }
    if (gp_uuid_valid(vm)) {
        if (!p->vm_by_uuid) {
            rc = sim_prepare(ctx, "SELECT " SIM_VM_COLUMNS " FROM sim_vms"
                                  " WHERE uuid = lower(?1)", &p->vm_by_uuid);
            if (rc)
                return rc;
        }
        st = p->vm_by_uuid;
        sqlite3_bind_text(st, 1, vm, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            rc = vm_from_row(ctx, st, out);
        else if (rc == SQLITE_DONE)
            rc = 1;
        else
            rc = gp_store_error(ctx->store, rc, "looking up a simulated VM");
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc <= 0)
            return rc;
    }
    rc = sim_prepare(ctx, "SELECT " SIM_VM_COLUMNS " FROM sim_vms"
                          " WHERE name_label = ?1 ORDER BY uuid LIMIT 2", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, vm, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_VM, "no VM with uuid or name-label '%s'", vm);
        GP_PARAM(ctx, "vm", "%s", vm);
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = gp_store_error(ctx->store, rc, "looking up a simulated VM");
        goto out;
    }
    rc = vm_from_row(ctx, st, out);
    if (rc)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rc = GP_ERR(ctx, GP_ERR_VM_AMBIGUOUS,
                    "name-label '%s' matches several VMs (%s, %s, ...): use the uuid",
                    vm, out->uuid, (const char *)sqlite3_column_text(st, 0));
        GP_PARAM(ctx, "vm", "%s", vm);
        gp_vm_dispose(out);
        goto out;
    }
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(ctx->store, rc, "looking up a simulated VM");
out:
    sqlite3_finalize(st);
    return rc;
}

/* Driver of pci_id as the host model knows it: "none" when unbound or not
 * known. */
static int host_driver(gp_drv *ctx, const char *pci_id, char **driver)
{
    const gp_host *host;
    const char *d = NULL;
    int rc = ctx->host_get(ctx, &host);

    if (rc)
        return rc;
    const gp_gpu *g = gp_host_find_gpu(host, pci_id);
    if (g)
        d = g->driver;
    for (size_t i = 0; !g && i < host->n_gpus; i++)
        for (size_t j = 0; j < host->gpus[i].n_companions; j++)
            if (!strcmp(host->gpus[i].companions[j].pci_id, pci_id)) {
                d = host->gpus[i].companions[j].driver;
                g = &host->gpus[i];
                break;
            }
    *driver = gp_strdup(d ? d : "none");
    return *driver ? GP_OK : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
}

static int sim_device_driver(gp_drv *ctx, const char *pci_id, char **driver)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *driver = NULL;
    rc = sim_prepare(ctx, "SELECT driver FROM sim_bindings WHERE pci_id = ?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, pci_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *driver = gp_strdup((const char *)sqlite3_column_text(st, 0));
        rc = *driver ? GP_OK : GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        rc = host_driver(ctx, pci_id, driver);
    } else {
        rc = gp_store_error(ctx->store, rc, "reading a simulated device binding");
    }
    sqlite3_finalize(st);
    return rc;
}

static int set_binding(gp_drv *ctx, const char *pci_id, const char *driver,
                       const char *original)
{
    sqlite3_stmt *st = NULL;
    int rc = sim_prepare(ctx, "INSERT OR REPLACE INTO sim_bindings(pci_id, driver,"
                              " original_driver) VALUES (?1, ?2, ?3)", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, pci_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, driver, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, original, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(ctx->store, rc, "writing a simulated device binding");
    sqlite3_finalize(st);
    return rc;
}

static int sim_device_assignable_add(gp_drv *ctx, const char *pci_id, char **orig_driver)
{
    char *cur = NULL;
    int rc = sim_device_driver(ctx, pci_id, &cur);

    *orig_driver = NULL;
    if (rc)
        return rc;
    rc = set_binding(ctx, pci_id, "pciback", cur);
    if (rc) {
        free(cur);
        return rc;
    }
    *orig_driver = cur;
    return GP_OK;
}

static int sim_device_assignable_remove(gp_drv *ctx, const char *pci_id,
                                        const char *orig_driver)
{
    return set_binding(ctx, pci_id, orig_driver ? orig_driver : "none", NULL);
}

static int sim_vm_record_boot(gp_drv *ctx, const char *vm_uuid, const gp_boot_config *bc)
{
    sqlite3_stmt *st = NULL;
    char *pci_ids = NULL, *pcpus = NULL;
    int rc;

    if (!bc) {
        rc = sim_prepare(ctx, "DELETE FROM sim_boot WHERE vm_uuid = ?1", &st);
        if (rc)
            return rc;
        sqlite3_bind_text(st, 1, vm_uuid, -1, SQLITE_STATIC);
        goto step;
    }
    size_t len = strlen(bc->pci_id) + 1;
    for (size_t i = 0; i < bc->n_companions; i++)
        len += strlen(bc->companions[i]) + 1;
    pci_ids = malloc(len);
    pcpus = gp_cpulist_join(bc->pcpus, bc->n_pcpus);
    if (!pci_ids || !pcpus) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    strcpy(pci_ids, bc->pci_id);
    for (size_t i = 0; i < bc->n_companions; i++) {
        strcat(pci_ids, ",");
        strcat(pci_ids, bc->companions[i]);
    }
    rc = sim_prepare(ctx, "INSERT OR REPLACE INTO sim_boot(vm_uuid, pci_ids, pcpus,"
                          " pin_mode, memory_node) VALUES (?1, ?2, ?3, ?4, ?5)", &st);
    if (rc)
        goto out;
    sqlite3_bind_text(st, 1, vm_uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pci_ids, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, pcpus, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, gp_pin_mode_name(bc->pin_mode), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, bc->memory_node);
step:
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(ctx->store, rc, "recording a simulated boot configuration");
out:
    sqlite3_finalize(st);
    free(pci_ids);
    free(pcpus);
    return rc;
}

static int sim_vm_apply_affinity(gp_drv *ctx, const char *vm_uuid, const int *pcpus,
                                 size_t n_pcpus, gp_pin_mode mode)
{
    sqlite3_stmt *st = NULL;
    char *list = gp_cpulist_join(pcpus, n_pcpus);
    int rc;

    if (!list)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    rc = sim_prepare(ctx, "UPDATE sim_vms SET affinity = ?2, affinity_mode = ?3"
                          " WHERE uuid = ?1", &st);
    if (rc)
        goto out;
    sqlite3_bind_text(st, 1, vm_uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, gp_pin_mode_name(mode), -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        rc = gp_store_error(ctx->store, rc, "recording simulated affinity");
        goto out;
    }
    rc = GP_OK;
    if (sqlite3_changes(ctx->store->db) == 0) {
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_VM, "no simulated VM %s", vm_uuid);
        GP_PARAM(ctx, "vm", "%s", vm_uuid);
    }
out:
    sqlite3_finalize(st);
    free(list);
    return rc;
}

/* ---- the sim VM lifecycle (ops/vm.c) -------------------------------------- */

static int sim_exec(gp_drv *ctx, const char *what, const char *sql, const char *uuid)
{
    sqlite3_stmt *st = NULL;
    int rc = sim_prepare(ctx, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(ctx->store, rc, what);
    sqlite3_finalize(st);
    return rc;
}

int gp_sim_vm_insert(gp_drv *ctx, const gp_vm *v)
{
    sqlite3_stmt *st = NULL;
    char now[32];
    int rc = sim_prepare(ctx, "INSERT INTO sim_vms(uuid, name_label, power_state, vcpus,"
                         " memory_mib, created) VALUES (?1, ?2, 'halted', ?3, ?4, ?5)", &st);
    if (rc)
        return rc;
    gp_now_iso(now);
    sqlite3_bind_text(st, 1, v->uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, v->name_label, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, v->vcpus);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)v->memory_mib);
    sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(ctx->store, rc, "creating a simulated VM");
    sqlite3_finalize(st);
    return rc;
}

int gp_sim_vm_set_state(gp_drv *ctx, const char *uuid, gp_vm_state to)
{
    switch (to) {
    case GP_VM_RUNNING:
        /* Live domains get the next free domid, like Xen (dom0 is 0). */
        return sim_exec(ctx, "starting a simulated VM",
                        "UPDATE sim_vms SET power_state = 'running',"
                        " domid = (SELECT COALESCE(MAX(domid), 0) + 1 FROM sim_vms)"
                        " WHERE uuid = ?1", uuid);
    case GP_VM_PAUSED:
        return sim_exec(ctx, "pausing a simulated VM",
                        "UPDATE sim_vms SET power_state = 'paused' WHERE uuid = ?1", uuid);
    case GP_VM_HALTED:
        return sim_exec(ctx, "shutting down a simulated VM",
                        "UPDATE sim_vms SET power_state = 'halted', domid = NULL,"
                        " affinity = NULL, affinity_mode = NULL WHERE uuid = ?1", uuid);
    default:
        return GP_ERR(ctx, GP_ERR_INTERNAL, "a simulated VM cannot be made %s",
                      gp_vm_state_name(to));
    }
}

int gp_sim_vm_delete(gp_drv *ctx, const char *uuid)
{
    int rc = sim_exec(ctx, "destroying a simulated VM",
                      "DELETE FROM sim_boot WHERE vm_uuid = ?1", uuid);
    if (rc == GP_OK)
        rc = sim_exec(ctx, "destroying a simulated VM", "DELETE FROM sim_vms WHERE uuid = ?1",
                      uuid);
    return rc;
}

const gp_driver_ops gp_driver_sim = {
    .open = sim_open,
    .close = sim_close,
    .vm_list = sim_vm_list,
    .device_assignable_add = sim_device_assignable_add,
    .device_assignable_remove = sim_device_assignable_remove,
    .device_driver = sim_device_driver,
    .vm_record_boot = sim_vm_record_boot,
    .vm_apply_affinity = sim_vm_apply_affinity,
    .vm_get = sim_vm_get,
    .memory_certainty = GP_MEMNODE_UNKNOWN,
    .memory_basis = "sim driver: simulated VMs, no memory is allocated",
};
