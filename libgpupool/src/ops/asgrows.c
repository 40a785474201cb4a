/*
 * asgrows.c - assignment rows of the state database: reading them, writing
 * one, and what they stand for (the boot configuration a driver records,
 * the memory-node certainty of a driver).  Shared by assign.c (the
 * operations) and journal.c (settling xapi to what the rows say), which
 * must not call each other in a circle.
 */
#include "ops/ops.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading ---------------------------------------------------------------- */

#define ASSIGN_SELECT                                                                 \
    "SELECT a.vm_uuid, a.pci_id, a.pool_uuid, p.name_label, a.numa_node, a.pcpus,"    \
    " a.memory_node, a.pin_mode, a.vcpus, a.memory_mib, a.reason, a.created, c.pci_id," \
    " a.tenant, a.lease_until"                                                         \
    " FROM assignments a JOIN pools p ON p.uuid = a.pool_uuid"                        \
    " LEFT JOIN pool_companions c ON c.gpu_pci_id = a.pci_id"

/* Assignments of one VM (vm_uuid) or all (NULL), ascending pci-id. */
static int assignments_read(gp_ctx *ctx, const char *vm_uuid, gp_assignment **out,
                            size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    gp_assignment *v = NULL;
    size_t n = 0, cap = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_store_prepare(&ctx->store, vm_uuid ? ASSIGN_SELECT " WHERE a.vm_uuid = ?1 ORDER BY c.pci_id"
                                       : ASSIGN_SELECT " ORDER BY a.pci_id, c.pci_id", &st);
    if (rc)
        return rc;
    if (vm_uuid)
        sqlite3_bind_text(st, 1, vm_uuid, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *pci = (const char *)sqlite3_column_text(st, 1);
        gp_assignment *a = n ? &v[n - 1] : NULL;
        if (!a || strcmp(a->pci_id, pci)) {
            if (gp_array_reserve((void **)&v, &cap, n, sizeof(*v)))
                goto nomem;
            a = &v[n++];
            gp_assignment_init(a);
            snprintf(a->vm_uuid, sizeof(a->vm_uuid), "%s", (const char *)sqlite3_column_text(st, 0));
            snprintf(a->pci_id, sizeof(a->pci_id), "%s", pci);
            snprintf(a->pool_uuid, sizeof(a->pool_uuid), "%s",
                     (const char *)sqlite3_column_text(st, 2));
            a->pool_name_label = gp_strdup((const char *)sqlite3_column_text(st, 3));
            a->numa_node = sqlite3_column_int(st, 4);
            if (gp_cpulist_parse((const char *)sqlite3_column_text(st, 5), &a->pcpus,
                                 &a->n_pcpus)) {
                rc = GP_ERR(ctx, GP_ERR_DB, "assignment of GPU %s has unreadable pCPUs", pci);
                GP_PARAM(ctx, "pci-id", "%s", pci);
                goto out;
            }
            a->memory_node = sqlite3_column_int(st, 6);
            if (gp_pin_mode_parse((const char *)sqlite3_column_text(st, 7), &a->pin_mode))
                a->pin_mode = GP_PIN_NONE;
            a->vcpus = sqlite3_column_int(st, 8);
            a->memory_mib = (uint64_t)sqlite3_column_int64(st, 9);
            a->reason = gp_strdup((const char *)sqlite3_column_text(st, 10));
            a->created = gp_strdup((const char *)sqlite3_column_text(st, 11));
            a->tenant = gp_strdup((const char *)sqlite3_column_text(st, 13));
            if (!a->pool_name_label || !a->created || !a->tenant)
                goto nomem;
            if (sqlite3_column_type(st, 14) != SQLITE_NULL &&
                !(a->lease_until = gp_strdup((const char *)sqlite3_column_text(st, 14))))
                goto nomem;
        }
        if (sqlite3_column_type(st, 12) != SQLITE_NULL) {
            char **nc = realloc(a->companions, (a->n_companions + 1) * sizeof(*nc));
            if (!nc)
                goto nomem;
            a->companions = nc;
            a->companions[a->n_companions] = gp_strdup((const char *)sqlite3_column_text(st, 12));
            if (!a->companions[a->n_companions])
                goto nomem;
            a->n_companions++;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = gp_store_error(&ctx->store, rc, "reading assignments");
        goto out;
    }
    rc = GP_OK;
    *out = v;
    *n_out = n;
    v = NULL;
    n = 0;
    goto out;
nomem:
    rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
out:
    sqlite3_finalize(st);
    gp_assignment_list_free(v, n);
    return rc;
}

void gp_assignment_memory_certainty(const gp_driver_ops *drv, gp_assignment *a)
{
    a->memory_node_certainty = a->memory_node >= 0 ? drv->memory_certainty : GP_MEMNODE_UNKNOWN;
    a->memory_node_basis = a->memory_node < 0 ? "no memory node"
                           : drv->memory_basis ? drv->memory_basis
                           : "this driver does not place memory";
    if (drv == &gp_driver_xapi && a->memory_node >= 0 && a->pin_mode != GP_PIN_HARD) {
        /* No VCPUs_params:mask is written: nothing of gpupool's placement
         * reaches xenopsd, whose own NUMA placement decides. */
        a->memory_node_certainty = GP_MEMNODE_UNKNOWN;
        a->memory_node_basis = "xapi driver, pin-mode soft/none: no mask is written, so "
                               "xenopsd's own NUMA placement (host.numa_affinity_policy) "
                               "decides where memory goes";
    }
}

int gp_assignments_read(gp_ctx *ctx, const char *vm_uuid, gp_assignment **out, size_t *n_out)
{
    return assignments_read(ctx, vm_uuid, out, n_out);
}

/* vm_name_label of each assignment from the driver, at read time; a VM the
 * driver does not know keeps NULL (unknown). */

int gp_assignment_insert(gp_ctx *ctx, const gp_assignment *a)
{
    sqlite3_stmt *st = NULL;
    char *pcpus = gp_cpulist_join(a->pcpus, a->n_pcpus);
    int rc;

    if (!pcpus)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    rc = gp_store_prepare(&ctx->store, "INSERT INTO assignments(vm_uuid, pci_id, pool_uuid, numa_node,"
                          " pcpus, memory_node, pin_mode, vcpus, memory_mib, reason, created,"
                          " tenant, lease_until)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                          &st);
    if (rc)
        goto out;
    sqlite3_bind_text(st, 1, a->vm_uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->pci_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->pool_uuid, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, a->numa_node);
    sqlite3_bind_text(st, 5, pcpus, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, a->memory_node);
    sqlite3_bind_text(st, 7, gp_pin_mode_name(a->pin_mode), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 8, a->vcpus);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)a->memory_mib);
    sqlite3_bind_text(st, 10, a->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, a->created, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, a->tenant ? a->tenant : GP_TENANT_DEFAULT, -1, SQLITE_STATIC);
    if (a->lease_until)
        sqlite3_bind_text(st, 13, a->lease_until, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(&ctx->store, rc, "recording an assignment");
    if (rc == GP_OK)          /* the GPU is held from now on (gov.c) */
        rc = gp_gov_usage_open(ctx, a);
out:
    sqlite3_finalize(st);
    free(pcpus);
    return rc;
}

void gp_assignment_boot_config(const gp_assignment *a, gp_boot_config *bc)
{
    memset(bc, 0, sizeof(*bc));
    bc->vm_uuid = a->vm_uuid;
    bc->pci_id = a->pci_id;
    bc->companions = (const char *const *)a->companions;
    bc->n_companions = a->n_companions;
    bc->pcpus = a->pcpus;
    bc->n_pcpus = a->n_pcpus;
    bc->memory_node = a->memory_node;
    bc->pin_mode = a->pin_mode;
    bc->assignment = a;
}

int gp_assignment_delete(gp_ctx *ctx, const char *vm_uuid)
{
    int rc = gp_gov_usage_close(ctx, vm_uuid);
    if (rc == GP_OK)
        rc = gp_store_exec(&ctx->store, "releasing a GPU",
                           "DELETE FROM assignments WHERE vm_uuid = ?1", 1, vm_uuid);
    return rc;
}
