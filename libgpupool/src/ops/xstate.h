/*
 * ops/xstate.h - the XCP-ng pool's state as xapi holds it (ops/xstate.c):
 * the pool-wide view read from xapi in four round trips, and the pulls and
 * publications that keep a host's sqlite in line with it.  Used by
 * ops/cluster.c (the pool-wide operations) and, for publishing, by pool.c
 * and journal.c through ops.h.  Not installed.
 */
#ifndef GPUPOOL_OPS_XSTATE_H
#define GPUPOOL_OPS_XSTATE_H

#include "ops/ops.h"
#include "rpc/rpc.h"

/* One host of the XCP-ng pool. */
typedef struct {
    const char *ref, *uuid, *name;     /* borrowed from the host records */
    bool enabled, self;
    const gp_xr_value *oc;             /* other_config */
    gp_host parsed;
    const gp_host *model;              /* &parsed, the live model (self), or NULL */
} gp_cl_host;

/* A GPU in a pool, per its PCI object. */
typedef struct {
    size_t host;
    char pci_id[GP_PCI_ID_LEN];
    char pool_uuid[37];
    const char *ref;                   /* the PCI object */
    const gp_xr_value *oc;
} gp_cl_member;

/* An assignment, per its VM's gpupool:placement (certainty not set). */
typedef struct {
    size_t host;
    gp_assignment a;
    const char *vm_ref;
    gp_vm_state state;
} gp_cl_asg;

/* The pool-wide view: hosts sorted by name-label, the pools, memberships,
 * assignments; strings borrowed from the xapi records it keeps. */
typedef struct {
    gp_xr_value hosts_all, pool_all, pci_all, vm_all;
    const char *pool_ref;
    const gp_xr_value *pool_oc;
    gp_cl_host *hosts;
    size_t n_hosts, self;
    gp_pool *pools;
    size_t n_pools;
    gp_cl_member *members;
    size_t n_members;
    gp_cl_asg *asgs;
    size_t n_asgs;
    bool have_vms;
} gp_cl;


#define CL_POOLS 0x1u
#define CL_MEMBERS 0x2u
#define CL_VMS 0x4u
#define CL_ALL (CL_POOLS | CL_MEMBERS | CL_VMS)

/* gp_cl_load(): what to read besides the hosts. */

GP_HIDDEN void gp_cl_init(gp_cl *c);
GP_HIDDEN void gp_cl_dispose(gp_cl *c);
/* Read the view (host.get_all_records, and pool / PCI / VM
 * .get_all_records as what asks); this host's model is its live one, the
 * others' their published facts (NULL when none).  c is _init'ed here.
 * Errors: the driver's, GP_ERR_NOMEM, those of gp_host_get(). */
GP_HIDDEN int gp_cl_load(gp_ctx *ctx, gp_cl *c, unsigned what);
/* Lookups; (size_t)-1 / NULL when none. */
GP_HIDDEN size_t gp_cl_host_by_ref(const gp_cl *c, const char *ref);
GP_HIDDEN size_t gp_cl_host_by_uuid(const gp_cl *c, const char *uuid);
GP_HIDDEN const gp_pool *gp_cl_pool(const gp_cl *c, const char *uuid);
GP_HIDDEN const gp_cl_member *gp_cl_member_at(const gp_cl *c, size_t host, const char *pci);
GP_HIDDEN const gp_cl_asg *gp_cl_asg_at(const gp_cl *c, size_t host, const char *pci);
GP_HIDDEN const gp_cl_asg *gp_cl_asg_of_vm(const gp_cl *c, const char *vm_uuid);
/* By name-label or uuid: GP_ERR_INVALID_ARGUMENT (param host) /
 * GP_ERR_UNKNOWN_POOL (param pool) when none. */
GP_HIDDEN int gp_cl_host_find(gp_ctx *ctx, const gp_cl *c, const char *host, size_t *idx);
GP_HIDDEN int gp_cl_pool_find(gp_ctx *ctx, const gp_cl *c, const char *pool,
                              const gp_pool **out);
/* GP_ERR_NOT_SUPPORTED "<what> needs an XCP-ng host" unless the driver is
 * xapi's; the driver's open errors. */
GP_HIDDEN int gp_cluster_need(gp_ctx *ctx, const char *what);
/* gp_cluster_pull() with a view already read (CL_POOLS at least); counts
 * into r. */
GP_HIDDEN int gp_cluster_pull_with(gp_ctx *ctx, gp_cl *c, gp_sync_report *r);

#endif /* GPUPOOL_OPS_XSTATE_H */
