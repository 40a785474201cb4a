/*
 * xstate.c - the XCP-ng pool's state in xapi's database: the pool-wide view
 * and keeping a host's sqlite in line with it (pull, publish).  The
 * operations on it are in cluster.c.
 *
 * Where the pool-wide truth lives (docs/pool-wide.md), all of it replicated
 * by xapi to every host and kept across a change of pool master:
 *   pool.other_config["gpupool:pool:<uuid>"]  a pool's definition (JSON of
 *                                             its gp_pool_fields, no members)
 *   PCI.other_config["gpupool:pool"]          the pool of a member GPU
 *   VM.other_config["gpupool:placement"]      the assignment (JSON), beside
 *                                             the binding markers of
 *                                             drivers/xapi.c
 *   host.other_config["gpupool:facts"]        the host's model (core/host_json.c)
 * A host's sqlite database is its write lock, its intent journal and a cache
 * of the pools and of its own GPUs' memberships and assignments;
 * gp_pool_sync() rebuilds it from the above.
 *
 * One writer per GPU.  Every change to a GPU (membership, assignment,
 * release) runs on the host that has the GPU, under that host's sqlite lock
 * and journal; a caller on another host sends it there with
 * host.call_plugin (xapi forwards the call, message_forwarding.ml).  Two
 * callers on two hosts that pick the same GPU therefore meet in one sqlite
 * lock: the second sees the first's assignment and is refused
 * (GPU_ASSIGNED), and gp_vm_gpu_assign_ex() places again without that GPU.
 *
 * Reads are four xapi round trips whatever the number of hosts:
 * host.get_all_records, pool.get_all_records, PCI.get_all_records and
 * VM.get_all_records.
 */
#include "ops/xstate.h"
#include "core/fields.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL_FACTS_KEY "gpupool:facts"
#define CL_POOL_PREFIX "gpupool:pool:"
#define CL_MEMBER_KEY "gpupool:pool"

/* ---- schema: which pools this host saw in xapi ------------------------------------ */

static const char *const cluster_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE cluster_published ("
    "  pool_uuid TEXT PRIMARY KEY NOT NULL"
    ");",
};

static const gp_store_section cluster_section = { "cluster", cluster_migrations,
                                                  GP_ARRAY_SIZE(cluster_migrations) };

bool gp_cluster_on(gp_ctx *ctx)
{
    const gp_driver_entry *e = NULL;
    if (ctx->drv_entry)
        return ctx->drv_entry->journaled;
    if (gp_ctx_driver(ctx, &e) != GP_OK) {
        gp_err_clear(ctx->err);
        return false;
    }
    return e && e->journaled;
}

int gp_cluster_need(gp_ctx *ctx, const char *what)
{
    const gp_driver_entry *e = NULL;
    int rc = gp_ctx_driver(ctx, &e);
    if (rc)
        return rc;
    if (!e->journaled)
        return GP_ERR(ctx, GP_ERR_NOT_SUPPORTED,
                      "%s needs an XCP-ng host (the xapi driver), not the %s driver", what,
                      e->name);
    return GP_OK;
}

/* ---- the pool-wide view ---------------------------------------------------------------- */

void gp_cl_init(gp_cl *c)
{
    memset(c, 0, sizeof(*c));
    gp_xr_value_init(&c->hosts_all);
    gp_xr_value_init(&c->pool_all);
    gp_xr_value_init(&c->pci_all);
    gp_xr_value_init(&c->vm_all);
    c->self = (size_t)-1;
}

void gp_cl_dispose(gp_cl *c)
{
    for (size_t i = 0; i < c->n_hosts; i++)
        gp_host_dispose(&c->hosts[i].parsed);
    free(c->hosts);
    gp_pool_list_free(c->pools, c->n_pools);
    free(c->members);
    for (size_t i = 0; i < c->n_asgs; i++)
        gp_assignment_dispose(&c->asgs[i].a);
    free(c->asgs);
    gp_xr_value_dispose(&c->hosts_all);
    gp_xr_value_dispose(&c->pool_all);
    gp_xr_value_dispose(&c->pci_all);
    gp_xr_value_dispose(&c->vm_all);
    gp_cl_init(c);
}

static int host_cmp(const void *a, const void *b)
{
    const gp_cl_host *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->uuid, y->uuid);
}

static int pool_cmp(const void *a, const void *b)
{
    const gp_pool *x = a, *y = b;
    return strcmp(x->name_label ? x->name_label : "", y->name_label ? y->name_label : "");
}

size_t gp_cl_host_by_ref(const gp_cl *c, const char *ref)
{
    for (size_t i = 0; ref && i < c->n_hosts; i++)
        if (!strcmp(c->hosts[i].ref, ref))
            return i;
    return (size_t)-1;
}

size_t gp_cl_host_by_uuid(const gp_cl *c, const char *uuid)
{
    for (size_t i = 0; uuid && i < c->n_hosts; i++)
        if (!strcasecmp(c->hosts[i].uuid, uuid))
            return i;
    return (size_t)-1;
}

/* A host by name-label or uuid; GP_ERR_INVALID_ARGUMENT when none. */
int gp_cl_host_find(gp_ctx *ctx, const gp_cl *c, const char *host, size_t *idx)
{
    *idx = gp_cl_host_by_uuid(c, host);
    for (size_t i = 0; *idx == (size_t)-1 && i < c->n_hosts; i++)
        if (!strcmp(c->hosts[i].name, host))
            *idx = i;
    if (*idx != (size_t)-1)
        return GP_OK;
    int rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT,
                    "the XCP-ng pool has no host named '%s' (name-label or uuid)", host);
    GP_PARAM(ctx, "host", "%s", host);
    return rc;
}

const gp_pool *gp_cl_pool(const gp_cl *c, const char *uuid)
{
    for (size_t i = 0; uuid && i < c->n_pools; i++)
        if (!strcmp(c->pools[i].uuid, uuid))
            return &c->pools[i];
    return NULL;
}

/* A pool by uuid or name-label; GP_ERR_UNKNOWN_POOL when none. */
int gp_cl_pool_find(gp_ctx *ctx, const gp_cl *c, const char *pool, const gp_pool **out)
{
    *out = gp_cl_pool(c, pool);
    for (size_t i = 0; !*out && pool && i < c->n_pools; i++)
        if (c->pools[i].name_label && !strcmp(c->pools[i].name_label, pool))
            *out = &c->pools[i];
    if (*out)
        return GP_OK;
    int rc = GP_ERR(ctx, GP_ERR_UNKNOWN_POOL, "no pool %s in the XCP-ng pool", pool ? pool : "");
    GP_PARAM(ctx, "pool", "%s", pool ? pool : "");
    return rc;
}

const gp_cl_member *gp_cl_member_at(const gp_cl *c, size_t host, const char *pci)
{
    for (size_t i = 0; i < c->n_members; i++)
        if (c->members[i].host == host && !strcmp(c->members[i].pci_id, pci))
            return &c->members[i];
    return NULL;
}

const gp_cl_asg *gp_cl_asg_at(const gp_cl *c, size_t host, const char *pci)
{
    for (size_t i = 0; i < c->n_asgs; i++)
        if (c->asgs[i].host == host && !strcmp(c->asgs[i].a.pci_id, pci))
            return &c->asgs[i];
    return NULL;
}

const gp_cl_asg *gp_cl_asg_of_vm(const gp_cl *c, const char *vm_uuid)
{
    for (size_t i = 0; i < c->n_asgs; i++)
        if (!strcasecmp(c->asgs[i].a.vm_uuid, vm_uuid))
            return &c->asgs[i];
    return NULL;
}

static bool xr_true(const gp_xr_value *v)
{
    return v && v->type == GP_XR_BOOL && v->i;
}

static int cl_load_hosts(gp_ctx *ctx, gp_cl *c)
{
    const char *self_ref;
    int rc = gp_xapi_drv_all_records(&ctx->drv, "host", &c->hosts_all);
    if (rc == GP_OK)
        rc = gp_xapi_drv_this_host(&ctx->drv, &self_ref, NULL);
    if (rc)
        return rc;
    c->hosts = calloc(c->hosts_all.n ? c->hosts_all.n : 1, sizeof(*c->hosts));
    if (!c->hosts)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->hosts_all.n; i++) {
        const gp_xr_value *r = &c->hosts_all.items[i];
        gp_cl_host *h = &c->hosts[c->n_hosts];
        const char *uuid = gp_xr_struct_get_string(r, "uuid");
        const char *name = gp_xr_struct_get_string(r, "name_label");
        if (!uuid)
            continue;
        h->ref = c->hosts_all.keys[i];
        h->uuid = uuid;
        h->name = name && *name ? name : uuid;
        h->enabled = xr_true(gp_xr_struct_get(r, "enabled"));
        h->self = !strcmp(h->ref, self_ref);
        h->oc = gp_xr_struct_get(r, "other_config");
        gp_host_init(&h->parsed);
        c->n_hosts++;
    }
    qsort(c->hosts, c->n_hosts, sizeof(*c->hosts), host_cmp);
    for (size_t i = 0; i < c->n_hosts; i++) {
        gp_cl_host *h = &c->hosts[i];
        if (h->self) {
            c->self = i;
            if (!ctx->host_name && !(ctx->host_name = gp_strdup(h->name)))
                return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
            rc = gp_host_get(ctx, &h->model);
            if (rc)
                return rc;
            continue;
        }
        const char *facts = gp_xr_struct_get_string(h->oc, CL_FACTS_KEY);
        if (facts && gp_host_from_json_text(facts, &h->parsed) == 0)
            h->model = &h->parsed;
    }
    if (c->self == (size_t)-1)
        return GP_ERR(ctx, GP_ERR_DRIVER, "xapi does not list this host (%s)", self_ref);
    return GP_OK;
}

static int cl_load_pools(gp_ctx *ctx, gp_cl *c)
{
    int rc = gp_xapi_drv_all_records(&ctx->drv, "pool", &c->pool_all);
    if (rc)
        return rc;
    if (!c->pool_all.n)
        return GP_ERR(ctx, GP_ERR_DRIVER, "xapi lists no pool object");
    c->pool_ref = c->pool_all.keys[0];
    c->pool_oc = gp_xr_struct_get(&c->pool_all.items[0], "other_config");
    const gp_xr_value *oc = c->pool_oc;
    size_t plen = strlen(CL_POOL_PREFIX);
    c->pools = calloc(oc && oc->n ? oc->n : 1, sizeof(*c->pools));
    if (!c->pools)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; oc && oc->type == GP_XR_STRUCT && i < oc->n; i++) {
        const char *k = oc->keys[i];
        if (strncmp(k, CL_POOL_PREFIX, plen) || !gp_uuid_valid(k + plen) ||
            oc->items[i].type != GP_XR_STRING)
            continue;
        gp_pool *p = &c->pools[c->n_pools];
        json_object *o = json_tokener_parse(oc->items[i].str);
        gp_pool_init(p);
        if (!o || gp_fields_from_json(gp_pool_fields, gp_pool_n_fields, o, p) ||
            !p->name_label || !*p->name_label) {
            json_object_put(o);
            gp_pool_dispose(p);
            continue;       /* not ours to judge: pool-sync counts it as skipped */
        }
        json_object_put(o);
        snprintf(p->uuid, sizeof(p->uuid), "%s", k + plen);
        gp_strv_free(p->gpus, p->n_gpus);
        p->gpus = NULL;
        p->n_gpus = 0;
        c->n_pools++;
    }
    qsort(c->pools, c->n_pools, sizeof(*c->pools), pool_cmp);
    return GP_OK;
}

static int cl_load_members(gp_ctx *ctx, gp_cl *c)
{
    int rc = gp_xapi_drv_all_records(&ctx->drv, "PCI", &c->pci_all);
    if (rc)
        return rc;
    c->members = calloc(c->pci_all.n ? c->pci_all.n : 1, sizeof(*c->members));
    if (!c->members)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->pci_all.n; i++) {
        const gp_xr_value *r = &c->pci_all.items[i];
        const gp_xr_value *oc = gp_xr_struct_get(r, "other_config");
        const char *pool = gp_xr_struct_get_string(oc, CL_MEMBER_KEY);
        const char *id = gp_xr_struct_get_string(r, "pci_id");
        size_t h = gp_cl_host_by_ref(c, gp_xr_struct_get_string(r, "host"));
        gp_pci_addr a;
        if (!pool || !id || h == (size_t)-1 || !gp_uuid_valid(pool) ||
            gp_pci_addr_parse(id, &a, NULL))
            continue;
        gp_cl_member *m = &c->members[c->n_members++];
        m->host = h;
        gp_pci_addr_format(&a, m->pci_id);
        snprintf(m->pool_uuid, sizeof(m->pool_uuid), "%s", pool);
        m->ref = c->pci_all.keys[i];
        m->oc = oc;
    }
    return GP_OK;
}

static int cl_load_vms(gp_ctx *ctx, gp_cl *c)
{
    int rc = gp_xapi_drv_all_records(&ctx->drv, "VM", &c->vm_all);
    if (rc)
        return rc;
    c->have_vms = true;
    c->asgs = calloc(c->vm_all.n ? c->vm_all.n : 1, sizeof(*c->asgs));
    if (!c->asgs)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->vm_all.n; i++) {
        const gp_xr_value *r = &c->vm_all.items[i];
        const gp_xr_value *oc = gp_xr_struct_get(r, "other_config");
        const char *uuid = gp_xr_struct_get_string(r, "uuid");
        const char *mark = gp_xr_struct_get_string(oc, GP_XAPI_MARK_VM);
        const char *pj = gp_xr_struct_get_string(oc, GP_XAPI_MARK_PLACEMENT);
        size_t h = gp_cl_host_by_uuid(c, gp_xr_struct_get_string(oc, GP_XAPI_MARK_HOST));
        /* A clone's copied markers name another VM: not an assignment. */
        if (!uuid || !mark || !pj || strcasecmp(mark, uuid) || h == (size_t)-1 ||
            !gp_xapi_rec_is_guest(r))
            continue;
        gp_cl_asg *s = &c->asgs[c->n_asgs];
        gp_assignment_init(&s->a);
        if (gp_placement_from_json_text(pj, &s->a) || strcasecmp(s->a.vm_uuid, uuid)) {
            gp_assignment_dispose(&s->a);
            continue;
        }
        const char *name = gp_xr_struct_get_string(r, "name_label");
        const gp_pool *p = gp_cl_pool(c, s->a.pool_uuid);
        s->a.vm_name_label = gp_strdup(name ? name : "");
        s->a.pool_name_label = gp_strdup(p && p->name_label ? p->name_label : s->a.pool_uuid);
        s->host = h;
        s->vm_ref = c->vm_all.keys[i];
        const char *ps = gp_xr_struct_get_string(r, "power_state");
        s->state = !ps || !strcmp(ps, "Halted") ? GP_VM_HALTED
                   : !strcmp(ps, "Running") ? GP_VM_RUNNING
                   : !strcmp(ps, "Paused") ? GP_VM_PAUSED
                   : !strcmp(ps, "Suspended") ? GP_VM_SUSPENDED : GP_VM_DYING;
        c->n_asgs++;
    }
    return GP_OK;
}

/* Load what the flags ask for (hosts always). */

int gp_cl_load(gp_ctx *ctx, gp_cl *c, unsigned what)
{
    int rc;
    gp_cl_init(c);
    rc = cl_load_hosts(ctx, c);
    if (rc == GP_OK && (what & CL_POOLS))
        rc = cl_load_pools(ctx, c);
    if (rc == GP_OK && (what & CL_MEMBERS))
        rc = cl_load_members(ctx, c);
    if (rc == GP_OK && (what & CL_VMS))
        rc = cl_load_vms(ctx, c);
    return rc;
}

/* Pools as this host's sqlite has them (uuid NULL: every pool), with each
 * one's member count in (*counts)[i] (NULL: not wanted).  Errors: GP_ERR_DB*,
 * GP_ERR_NOMEM. */
static int pools_sqlite(gp_ctx *ctx, const char *uuid, gp_pool **out, size_t **counts,
                        size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    size_t n = 0, cap = 0, ccap = 0;
    int rc = gp_store_prepare(&ctx->store,
                              "SELECT p.uuid, p.name_label, p.name_description, p.numa_policy,"
                              " p.pin_mode, p.cpu_overcommit, p.created, p.cpupool, p.placement,"
                              " p.cost_per_gpu_hour, p.idle_release_after,"
                              " p.allowed_tenants,"
                              " (SELECT count(*) FROM pool_members m WHERE m.pool_uuid = p.uuid)"
                              " FROM pools p WHERE ?1 IS NULL OR p.uuid = ?1", &st);
    *out = NULL;
    if (counts)
        *counts = NULL;
    *n_out = 0;
    if (rc)
        return rc;
    if (uuid)
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        gp_pool *p;
        gp_numa_policy pol = GP_NUMA_REQUIRED;
        gp_pin_mode pin = GP_PIN_HARD;
        gp_placement_strategy pl = GP_PLACE_PACK;
        if (gp_array_reserve((void **)out, &cap, n, sizeof(**out)) ||
            (counts && gp_array_reserve((void **)counts, &ccap, n, sizeof(**counts))))
            goto nomem;
        p = &(*out)[n];
        gp_pool_init(p);
        n++;
        snprintf(p->uuid, sizeof(p->uuid), "%s", (const char *)sqlite3_column_text(st, 0));
        p->name_label = gp_strdup((const char *)sqlite3_column_text(st, 1));
        p->name_description = gp_strdup((const char *)sqlite3_column_text(st, 2));
        gp_numa_policy_parse((const char *)sqlite3_column_text(st, 3), &pol);
        gp_pin_mode_parse((const char *)sqlite3_column_text(st, 4), &pin);
        gp_placement_strategy_parse((const char *)sqlite3_column_text(st, 8), &pl);
        p->numa_policy = pol;
        p->pin_mode = pin;
        p->placement = pl;
        p->cpu_overcommit = sqlite3_column_double(st, 5);
        p->cost_per_gpu_hour = sqlite3_column_double(st, 9);
        p->idle_release_after = sqlite3_column_int(st, 10);
        p->created = gp_strdup((const char *)sqlite3_column_text(st, 6));
        p->cpupool = gp_strdup((const char *)sqlite3_column_text(st, 7));
        if (sqlite3_column_bytes(st, 11) > 0)
            p->allowed_tenants = gp_strdup((const char *)sqlite3_column_text(st, 11));
        if (counts)
            (*counts)[n - 1] = (size_t)sqlite3_column_int64(st, 12);
        if (!p->name_label || !p->name_description || !p->created || !p->cpupool)
            goto nomem;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        gp_pool_list_free(*out, n);
        *out = NULL;
        if (counts) {
            free(*counts);
            *counts = NULL;
        }
        return gp_store_error(&ctx->store, rc, "reading pools");
    }
    *n_out = n;
    return GP_OK;
nomem:
    sqlite3_finalize(st);
    gp_pool_list_free(*out, n);
    *out = NULL;
    if (counts) {
        free(*counts);
        *counts = NULL;
    }
    return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory reading pools");
}

/* ---- publishing ------------------------------------------------------------------------ */

/* This host's facts as published: the live model with each node's free
 * memory rounded down to a GiB, so that the text changes when the host
 * does, not at every call. */
static char *facts_text(const gp_host *h)
{
    uint64_t *saved = calloc(h->n_nodes ? h->n_nodes : 1, sizeof(*saved));
    gp_numa_node *nodes = h->nodes;
    char *t;
    if (!saved)
        return NULL;
    for (size_t i = 0; i < h->n_nodes; i++) {
        saved[i] = nodes[i].mem_free_bytes;
        nodes[i].mem_free_bytes &= ~(((uint64_t)1 << 30) - 1);
    }
    t = gp_host_json_text(h);
    for (size_t i = 0; i < h->n_nodes; i++)
        nodes[i].mem_free_bytes = saved[i];
    free(saved);
    return t;
}

static int cl_publish_facts(gp_ctx *ctx, const gp_cl *c, bool *changed)
{
    const gp_cl_host *h = &c->hosts[c->self];
    char *t = facts_text(h->model);
    int rc;
    if (!t)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    const char *now = gp_xr_struct_get_string(h->oc, CL_FACTS_KEY);
    if (changed)
        *changed = !now || strcmp(now, t);
    rc = gp_xapi_drv_other_config(&ctx->drv, "host", h->ref, h->oc, CL_FACTS_KEY, t);
    free(t);
    return rc;
}

static char *pool_def_text(const gp_pool *p)
{
    json_object *o = gp_fields_json(gp_pool_fields, gp_pool_n_fields, p, NULL, GP_FJ_FACTS);
    if (o) {
        json_object_object_del(o, "gpus");
        json_object_object_del(o, "uuid");
    }
    return gp_json_take_text(o);
}

static int mark_published(gp_ctx *ctx, const char *uuid)
{
    int rc = gp_store_section_ensure(&ctx->store, &cluster_section);
    if (rc == GP_OK)
        rc = gp_store_exec(&ctx->store, "recording a published pool",
                           "INSERT OR IGNORE INTO cluster_published(pool_uuid) VALUES (?1)", 1,
                           uuid);
    return rc;
}

static int publish_pool(gp_ctx *ctx, const char *pool_ref, const gp_xr_value *pool_oc,
                        const gp_pool *p)
{
    char key[64];
    char *t = pool_def_text(p);
    int rc;
    if (!t)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    snprintf(key, sizeof(key), CL_POOL_PREFIX "%s", p->uuid);
    rc = gp_xapi_drv_other_config(&ctx->drv, "pool", pool_ref, pool_oc, key, t);
    free(t);
    return rc ? rc : mark_published(ctx, p->uuid);
}

int gp_cluster_pool_publish(gp_ctx *ctx, const char *uuid)
{
    gp_pool *p = NULL;
    size_t n = 0;
    gp_cl c;
    int rc;
    if (!gp_cluster_on(ctx))
        return GP_OK;
    gp_cl_init(&c);
    rc = pools_sqlite(ctx, uuid, &p, NULL, &n);
    if (rc == GP_OK && !n) {
        rc = GP_ERR(ctx, GP_ERR_UNKNOWN_POOL, "no pool with uuid %s", uuid);
        GP_PARAM(ctx, "pool", "%s", uuid);
    }
    if (rc == GP_OK)
        rc = gp_xapi_drv_all_records(&ctx->drv, "pool", &c.pool_all);
    if (rc == GP_OK && !c.pool_all.n)
        rc = GP_ERR(ctx, GP_ERR_DRIVER, "xapi lists no pool object");
    if (rc == GP_OK)
        rc = publish_pool(ctx, c.pool_all.keys[0],
                          gp_xr_struct_get(&c.pool_all.items[0], "other_config"), &p[0]);
    gp_pool_list_free(p, n);
    gp_cl_dispose(&c);
    return rc;
}

int gp_cluster_pool_unpublish(gp_ctx *ctx, const char *uuid)
{
    char key[64];
    gp_cl c;
    int rc;
    if (!gp_cluster_on(ctx))
        return GP_OK;
    gp_cl_init(&c);
    snprintf(key, sizeof(key), CL_POOL_PREFIX "%s", uuid);
    rc = gp_xapi_drv_all_records(&ctx->drv, "pool", &c.pool_all);
    if (rc == GP_OK && !c.pool_all.n)
        rc = GP_ERR(ctx, GP_ERR_DRIVER, "xapi lists no pool object");
    if (rc == GP_OK)
        rc = gp_xapi_drv_other_config(&ctx->drv, "pool", c.pool_all.keys[0],
                                      gp_xr_struct_get(&c.pool_all.items[0], "other_config"),
                                      key, NULL);
    gp_cl_dispose(&c);
    return rc;
}

int gp_cluster_pool_remote_members(gp_ctx *ctx, const char *uuid, size_t *n, char **first)
{
    gp_cl c;
    int rc;
    *n = 0;
    *first = NULL;
    if (!gp_cluster_on(ctx))
        return GP_OK;
    rc = gp_cl_load(ctx, &c, CL_MEMBERS);
    for (size_t i = 0; rc == GP_OK && i < c.n_members; i++) {
        const gp_cl_member *m = &c.members[i];
        if (m->host == c.self || strcmp(m->pool_uuid, uuid))
            continue;
        if (!(*n)++) {
            *first = gp_asprintf("%s@%s", m->pci_id, c.hosts[m->host].name);
            if (!*first)
                rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        }
    }
    gp_cl_dispose(&c);
    return rc;
}

int gp_cluster_member_mark(gp_ctx *ctx, const char *pci_id, const char *pool_uuid)
{
    int rc = gp_xapi_drv_pci_other_config(&ctx->drv, pci_id, CL_MEMBER_KEY, pool_uuid);
    if (rc == GP_ERR_UNKNOWN_GPU) {
        /* No PCI object (class 12...): no membership record either. */
        gp_err_clear(ctx->err);
        rc = GP_OK;
    }
    return rc;
}

/* ---- pulling pools into sqlite ------------------------------------------------------------ */

static bool pool_same(const gp_pool *a, const gp_pool *b)
{
    return !strcmp(a->name_label ? a->name_label : "", b->name_label ? b->name_label : "") &&
           !strcmp(a->name_description ? a->name_description : "",
                   b->name_description ? b->name_description : "") &&
           a->numa_policy == b->numa_policy && a->pin_mode == b->pin_mode &&
           a->cpu_overcommit == b->cpu_overcommit && a->placement == b->placement &&
           a->cost_per_gpu_hour == b->cost_per_gpu_hour &&
           a->idle_release_after == b->idle_release_after &&
           !strcmp(a->allowed_tenants ? a->allowed_tenants : "",
                   b->allowed_tenants ? b->allowed_tenants : "") &&
           !strcmp(a->cpupool ? a->cpupool : GP_CPUPOOL_DEFAULT,
                   b->cpupool ? b->cpupool : GP_CPUPOOL_DEFAULT);
}

static int pool_upsert(gp_ctx *ctx, const gp_pool *p, bool exists)
{
    sqlite3_stmt *st = NULL;
    char now[32];
    int rc = gp_store_prepare(&ctx->store,
                              exists ? "UPDATE OR IGNORE pools SET name_label = ?2,"
                                       " name_description = ?3, numa_policy = ?4,"
                                       " pin_mode = ?5, cpu_overcommit = ?6, cpupool = ?8,"
                                       " cost_per_gpu_hour = ?10, idle_release_after = ?11,"
                                       " allowed_tenants = ?12, placement = ?9 WHERE uuid = ?1"
                                     : "INSERT OR IGNORE INTO pools(uuid, name_label,"
                                       " name_description, numa_policy, pin_mode,"
                                       " cpu_overcommit, created, cpupool, placement,"
                                       " cost_per_gpu_hour, idle_release_after, allowed_tenants)"
                                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                                       " ?12)",
                              &st);
    if (rc)
        return rc;
    gp_now_iso(now);
    sqlite3_bind_text(st, 1, p->uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->name_label, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->name_description ? p->name_description : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, gp_numa_policy_name(p->numa_policy), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, gp_pin_mode_name(p->pin_mode), -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 6, p->cpu_overcommit > 0 ? p->cpu_overcommit : 1.0);
    sqlite3_bind_text(st, 7, p->created ? p->created : now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, p->cpupool ? p->cpupool : GP_CPUPOOL_DEFAULT, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, gp_placement_strategy_name(p->placement), -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 10, p->cost_per_gpu_hour >= 0 ? p->cost_per_gpu_hour : 0);
    sqlite3_bind_int(st, 11, p->idle_release_after >= 0 ? p->idle_release_after : 0);
    sqlite3_bind_text(st, 12, p->allowed_tenants ? p->allowed_tenants : "", -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? GP_OK : gp_store_error(&ctx->store, rc, "copying a pool from xapi");
    sqlite3_finalize(st);
    return rc;
}

static bool published_before(gp_ctx *ctx, const char *uuid)
{
    char *v = NULL;
    bool yes = gp_store_query_text(&ctx->store, "reading published pools",
                                   "SELECT pool_uuid FROM cluster_published WHERE pool_uuid = ?1",
                                   uuid, &v) == GP_OK && v;
    free(v);
    return yes;
}

/* xapi's pools into sqlite (one transaction); the pools only sqlite has
 * and never published go to *push. */
static int pools_pull(gp_ctx *ctx, const gp_cl *c, gp_sync_report *r, gp_pool **push,
                      size_t *n_push)
{
    gp_pool *local = NULL;
    size_t n_local = 0, *counts = NULL;
    int rc;

    *push = NULL;
    *n_push = 0;
    rc = gp_store_section_ensure(&ctx->store, &cluster_section);
    if (rc == GP_OK)
        rc = gp_store_begin(&ctx->store);
    if (rc)
        return rc;
    rc = pools_sqlite(ctx, NULL, &local, &counts, &n_local);
    for (size_t i = 0; rc == GP_OK && i < c->n_pools; i++) {
        const gp_pool *p = &c->pools[i], *l = NULL;
        for (size_t k = 0; k < n_local && !l; k++)
            if (!strcmp(local[k].uuid, p->uuid))
                l = &local[k];
        if (!l || !pool_same(l, p)) {
            rc = pool_upsert(ctx, p, l != NULL);
            if (rc == GP_OK && sqlite3_changes(ctx->store.db) == 0)
                r->skipped++;   /* a name clash with a pool only sqlite has */
            else if (rc == GP_OK)
                r->pools_pulled++;
        }
        if (rc == GP_OK)
            rc = mark_published(ctx, p->uuid);
    }
    *push = calloc(n_local ? n_local : 1, sizeof(**push));
    if (rc == GP_OK && !*push)
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
    for (size_t k = 0; rc == GP_OK && k < n_local; k++) {
        bool keep;
        if (gp_cl_pool(c, local[k].uuid))
            continue;
        /* Published once and gone from xapi: destroyed elsewhere, unless it
         * still has members here (a destroy checks every host first). */
        keep = !published_before(ctx, local[k].uuid) || counts[k];
        if (keep) {
            (*push)[(*n_push)++] = local[k];
            gp_pool_init(&local[k]);     /* moved */
            continue;
        }
        rc = gp_store_exec(&ctx->store, "removing a pool destroyed elsewhere",
                           "DELETE FROM pools WHERE uuid = ?1 AND NOT EXISTS (SELECT 1"
                           " FROM assignments WHERE pool_uuid = ?1)", 1, local[k].uuid);
        if (rc == GP_OK)
            rc = gp_store_exec(&ctx->store, "removing a pool destroyed elsewhere",
                               "DELETE FROM cluster_published WHERE pool_uuid = ?1", 1,
                               local[k].uuid);
        if (rc == GP_OK)
            r->pools_pruned++;
    }
    if (rc == GP_OK)
        rc = gp_store_commit(&ctx->store);
    else
        gp_store_rollback(&ctx->store);
    gp_pool_list_free(local, n_local);
    free(counts);
    if (rc) {
        gp_pool_list_free(*push, *n_push);
        *push = NULL;
        *n_push = 0;
    }
    return rc;
}

int gp_cluster_pull_with(gp_ctx *ctx, gp_cl *c, gp_sync_report *r)
{
    gp_pool *push = NULL;
    size_t n_push = 0;
    int rc = cl_publish_facts(ctx, c, &r->facts_published);
    if (rc == GP_OK)
        rc = pools_pull(ctx, c, r, &push, &n_push);
    for (size_t i = 0; rc == GP_OK && i < n_push; i++) {
        rc = publish_pool(ctx, c->pool_ref, c->pool_oc, &push[i]);
        if (rc == GP_OK)
            r->pools_pushed++;
    }
    gp_pool_list_free(push, n_push);
    return rc;
}

int gp_cluster_pull(gp_ctx *ctx)
{
    gp_sync_report r;
    gp_cl c;
    int rc;
    if (!gp_cluster_on(ctx))
        return GP_OK;
    memset(&r, 0, sizeof(r));
    rc = gp_cl_load(ctx, &c, CL_POOLS);
    if (rc == GP_OK)
        rc = gp_cluster_pull_with(ctx, &c, &r);
    gp_cl_dispose(&c);
    return rc;
}

