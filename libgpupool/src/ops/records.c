/*
 * records.c - the context's objects as ordered key/value records.
 *
 * Front ends print records (xe-gpupool: "key ( RO): value" lines) or turn
 * them into JSON (the XAPI plugin).  Keys use xe's hyphenated spelling, the
 * first field is the object's identity, unknown facts are "unknown", lists
 * are comma-joined.  Records are built from the public API only, with one
 * query per object kind: no per-GPU database access, and gpu records never
 * ask the driver for its VM list (the assignment already names the VM).
 */
#include "ops/ops.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNKNOWN "unknown"

/* ---- gp_record ------------------------------------------------------------ */

void gp_record_init(gp_record *r)
{
    memset(r, 0, sizeof(*r));
}

void gp_record_dispose(gp_record *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_fields; i++) {
        free(r->fields[i].key);
        free(r->fields[i].value);
    }
    free(r->fields);
    gp_record_init(r);
}

void gp_record_list_free(gp_record *rs, size_t n)
{
    if (!rs)
        return;
    for (size_t i = 0; i < n; i++)
        gp_record_dispose(&rs[i]);
    free(rs);
}

const char *gp_record_get(const gp_record *r, const char *key)
{
    if (!r || !key)
        return NULL;
    for (size_t i = 0; i < r->n_fields; i++)
        if (!strcmp(r->fields[i].key, key))
            return r->fields[i].value;
    return NULL;
}

/*
 * A record under construction.  The first failed allocation is remembered
 * (failed = true) and later adds are no-ops, so builders add every field and
 * check once at the end.
 */
typedef struct {
    gp_record *r;
    size_t cap;
    bool failed;
} rec_builder;

static void rb_init(rec_builder *b, gp_record *r)
{
    gp_record_init(r);
    b->r = r;
    b->cap = 0;
    b->failed = false;
}

/* Add key with value (taken over: freed here on failure).  NULL value means
 * the allocation that made it failed. */
static void rb_take(rec_builder *b, const char *key, char *value)
{
    if (b->failed || !value) {
        free(value);
        b->failed = true;
        return;
    }
    if (gp_array_reserve((void **)&b->r->fields, &b->cap, b->r->n_fields,
                         sizeof(*b->r->fields))) {
        free(value);
        b->failed = true;
        return;
    }
    char *k = strdup(key);
    if (!k) {
        free(value);
        b->failed = true;
        return;
    }
    b->r->fields[b->r->n_fields].key = k;
    b->r->fields[b->r->n_fields].value = value;
    b->r->n_fields++;
}

/* Add a copy of value; NULL value is reported as "unknown". */
static void rb_str(rec_builder *b, const char *key, const char *value)
{
    rb_take(b, key, strdup(value ? value : UNKNOWN));
}

/* Integer with a sentinel for unknown (any value below min_known). */
static void rb_int(rec_builder *b, const char *key, long long v, long long min_known)
{
    if (v < min_known)
        rb_str(b, key, UNKNOWN);
    else
        rb_take(b, key, gp_asprintf("%lld", v));
}

static void rb_u64(rec_builder *b, const char *key, uint64_t v, bool known)
{
    if (!known)
        rb_str(b, key, UNKNOWN);
    else
        rb_take(b, key, gp_asprintf("%" PRIu64, v));
}

static void rb_tristate(rec_builder *b, const char *key, gp_tristate t)
{
    rb_str(b, key, t == GP_YES ? "true" : t == GP_NO ? "false" : UNKNOWN);
}

static void rb_ints(rec_builder *b, const char *key, const int *ids, size_t n)
{
    rb_take(b, key, gp_cpulist_join(ids, n));
}

/* Comma-join n strings; "" for none.  Caller frees; NULL on ENOMEM. */
static char *join_strs(const char *const *v, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    char *p = s;
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        size_t l = strlen(v[i]);
        memcpy(p, v[i], l);
        p += l;
    }
    *p = '\0';
    return s;
}

static void rb_strs(rec_builder *b, const char *key, char *const *v, size_t n)
{
    rb_take(b, key, join_strs((const char *const *)v, n));
}

/* "16 GT/s x16"; the part a source cannot give is left out; "unknown" when
 * neither is known. */
static void rb_link(rec_builder *b, const char *key, const gp_pcie_link *l)
{
    if (l->speed_gts <= 0 && l->width <= 0)
        rb_str(b, key, UNKNOWN);
    else if (l->width <= 0)
        rb_take(b, key, gp_asprintf("%g GT/s", l->speed_gts));
    else if (l->speed_gts <= 0)
        rb_take(b, key, gp_asprintf("x%d", l->width));
    else
        rb_take(b, key, gp_asprintf("%g GT/s x%d", l->speed_gts, l->width));
}

/* Finish a builder: on failure the record is disposed. */
static int rb_finish(rec_builder *b)
{
    if (b->failed) {
        gp_record_dispose(b->r);
        return GP_ERR_NOMEM;
    }
    return GP_OK;
}

/* What every gp_*_records() failure to allocate reports. */
static int records_nomem(gp_ctx *ctx, const char *what)
{
    return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory building %s records", what);
}

/* Builds record i of a list from arg; GP_ERR_NOMEM (the record left empty)
 * or GP_OK. */
typedef int (*rec_build_fn)(const void *arg, size_t i, gp_record *out);

/*
 * The list of n records build() makes from arg, handed to *out / *n_out
 * (caller frees with gp_record_list_free).  Any failure is GP_ERR_NOMEM
 * "out of memory building <what> records"; *out is then NULL.
 */
static int records_build(gp_ctx *ctx, const char *what, size_t n, rec_build_fn build,
                         const void *arg, gp_record **out, size_t *n_out)
{
    gp_record *v = calloc(n ? n : 1, sizeof(*v));
    size_t done = 0;

    if (!v)
        return records_nomem(ctx, what);
    for (; done < n; done++)
        if (build(arg, done, &v[done])) {
            gp_record_list_free(v, done);
            return records_nomem(ctx, what);
        }
    *out = v;
    *n_out = done;
    return GP_OK;
}

/* ---- lookups by sorted key ------------------------------------------------ */

/* (key, value) pairs sorted by key for bsearch. */
typedef struct {
    const char *key;
    const void *val;
} kv_ref;

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const kv_ref *)a)->key, ((const kv_ref *)b)->key);
}

static const void *kv_find(const kv_ref *v, size_t n, const char *key)
{
    if (!n || !key)
        return NULL;
    kv_ref k = { key, NULL };
    const kv_ref *hit = bsearch(&k, v, n, sizeof(*v), kv_cmp);
    return hit ? hit->val : NULL;
}

/*
 * Pool membership and holder of every pool member GPU in one query:
 * (pci-id, pool name-label, holding VM uuid or "") in ascending pci-id.
 * gpu, pool and vm records need no more than this from the assignments, so
 * they do not read whole assignments (which name each VM through the driver).
 */
typedef struct {
    char pci_id[GP_PCI_ID_LEN];
    char *pool;                 /* name-label */
    char vm_uuid[37];           /* lower case; "" when free */
} member_row;

static void members_free(member_row *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].pool);
    free(v);
}

static int members_read(gp_ctx *ctx, member_row **out, size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    member_row *v = NULL;
    size_t n = 0, cap = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_store_prepare(&ctx->store,
                          "SELECT m.pci_id, p.name_label, a.vm_uuid"
                          "  FROM pool_members m JOIN pools p ON p.uuid = m.pool_uuid"
                          "  LEFT JOIN assignments a ON a.pci_id = m.pci_id"
                          " ORDER BY m.pci_id", &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *pci = (const char *)sqlite3_column_text(st, 0);
        const char *pool = (const char *)sqlite3_column_text(st, 1);
        const char *vm = (const char *)sqlite3_column_text(st, 2);
        if (gp_array_reserve((void **)&v, &cap, n, sizeof(*v)))
            goto nomem;
        member_row *m = &v[n];
        snprintf(m->pci_id, sizeof(m->pci_id), "%s", pci ? pci : "");
        snprintf(m->vm_uuid, sizeof(m->vm_uuid), "%s", vm ? vm : "");
        for (char *c = m->vm_uuid; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        m->pool = strdup(pool ? pool : "");
        if (!m->pool)
            goto nomem;
        n++;
    }
    if (rc != SQLITE_DONE) {
        rc = gp_store_error(&ctx->store, rc, "reading pool members");
        goto out;
    }
    *out = v;
    *n_out = n;
    v = NULL;
    n = 0;
    rc = GP_OK;
    goto out;
nomem:
    rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory reading pool members");
out:
    sqlite3_finalize(st);
    members_free(v, n);
    return rc;
}

/* Index member rows by pci-id (by_vm false) or the held ones by VM uuid
 * (by_vm true); held_only leaves out the free ones in either case.  *n_out
 * receives the number indexed.  NULL on ENOMEM. */
static kv_ref *index_members(const member_row *ms, size_t n, bool held_only, bool by_vm,
                             size_t *n_out)
{
    kv_ref *v = malloc((n ? n : 1) * sizeof(*v));
    size_t k = 0;
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if ((held_only || by_vm) && !ms[i].vm_uuid[0])
            continue;
        v[k].key = by_vm ? ms[i].vm_uuid : ms[i].pci_id;
        v[k].val = &ms[i];
        k++;
    }
    qsort(v, k, sizeof(*v), kv_cmp);
    *n_out = k;
    return v;
}

/* ---- gpu ------------------------------------------------------------------ */

static int gpu_record(const gp_host *host, const gp_gpu *g, const char *pool,
                      const char *vm_uuid, gp_record *out)
{
    rec_builder b;
    rb_init(&b, out);

    rb_str(&b, "pci-id", g->pci_id);
    rb_str(&b, "vendor-name", g->vendor_name);
    rb_str(&b, "device-name", g->device_name);
    rb_take(&b, "vendor-id", gp_asprintf("%04x", g->vendor_id));
    rb_take(&b, "device-id", gp_asprintf("%04x", g->device_id));
    if (g->subsys_vendor_id || g->subsys_device_id)
        rb_take(&b, "subsystem-id", gp_asprintf("%04x:%04x", g->subsys_vendor_id,
                                                g->subsys_device_id));
    else
        rb_str(&b, "subsystem-id", UNKNOWN);
    rb_str(&b, "subsystem-name", g->subsys_name);
    rb_take(&b, "class", gp_asprintf("%04x", g->class_code));
    rb_int(&b, "numa-node", g->numa_node, 0);
    rb_int(&b, "socket", g->numa_node >= 0 ? gp_host_node_socket(host, g->numa_node) : -1, 0);
    rb_int(&b, "iommu-group", g->iommu_group, 0);
    if (g->iommu_group < 0)
        rb_str(&b, "iommu-group-members", UNKNOWN);
    else
        rb_strs(&b, "iommu-group-members", g->iommu_group_members,
                g->n_iommu_group_members);
    {
        const char **ids = malloc((g->n_companions ? g->n_companions : 1) * sizeof(*ids));
        if (ids) {
            for (size_t i = 0; i < g->n_companions; i++)
                ids[i] = g->companions[i].pci_id;
            rb_take(&b, "companions", join_strs(ids, g->n_companions));
            free(ids);
        } else {
            rb_take(&b, "companions", NULL);
        }
    }
    rb_str(&b, "driver", g->driver);
    rb_tristate(&b, "boot-vga", g->boot_vga);
    rb_link(&b, "link-cap", &g->link_cap);
    rb_link(&b, "link-status", &g->link_sta);
    rb_tristate(&b, "link-downgraded", g->link_downgraded);
    rb_tristate(&b, "flr", g->flr);
    rb_str(&b, "reset-method", g->reset_method);
    rb_int(&b, "sriov-totalvfs", g->sriov_totalvfs, 0);
    rb_u64(&b, "max-bar-bytes", g->max_bar_bytes, g->max_bar_bytes != 0);
    rb_str(&b, "pool", pool ? pool : "");
    rb_str(&b, "vm-uuid", vm_uuid ? vm_uuid : "");
    rb_str(&b, "source", g->source);
    return rb_finish(&b);
}

/* What gpu_record_at() builds record i from. */
typedef struct {
    const gp_host *host;
    const kv_ref *by_pci;       /* member rows by pci-id */
    size_t n_by_pci;
} gpu_records_in;

static int gpu_record_at(const void *arg, size_t i, gp_record *out)
{
    const gpu_records_in *in = arg;
    const gp_gpu *g = &in->host->gpus[i];
    const member_row *m = kv_find(in->by_pci, in->n_by_pci, g->pci_id);
    return gpu_record(in->host, g, m ? m->pool : NULL, m && m->vm_uuid[0] ? m->vm_uuid : NULL,
                      out);
}

int gp_gpu_records(gp_ctx *ctx, gp_record **out, size_t *n_out)
{
    gpu_records_in in = { NULL, NULL, 0 };
    member_row *ms = NULL;
    size_t n_ms = 0;
    kv_ref *by_pci = NULL;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_host_get(ctx, &in.host);
    if (rc)
        goto out;
    rc = members_read(ctx, &ms, &n_ms);
    if (rc)
        goto out;
    by_pci = index_members(ms, n_ms, false, false, &in.n_by_pci);
    if (!by_pci) {
        rc = records_nomem(ctx, "GPU");
        goto out;
    }
    in.by_pci = by_pci;
    rc = records_build(ctx, "GPU", in.host->n_gpus, gpu_record_at, &in, out, n_out);
out:
    free(by_pci);
    members_free(ms, n_ms);
    return rc;
}

/* ---- pool ----------------------------------------------------------------- */

static int pool_record(const gp_pool *p, const kv_ref *held, size_t n_held,
                       gp_record *out)
{
    rec_builder b;
    const char **free_ids = malloc((p->n_gpus ? p->n_gpus : 1) * sizeof(*free_ids));
    size_t n_free = 0;

    rb_init(&b, out);
    if (!free_ids)
        return GP_ERR_NOMEM;
    for (size_t i = 0; i < p->n_gpus; i++)
        if (!kv_find(held, n_held, p->gpus[i]))
            free_ids[n_free++] = p->gpus[i];

    rb_str(&b, "uuid", p->uuid);
    rb_str(&b, "name-label", p->name_label ? p->name_label : "");
    rb_str(&b, "name-description", p->name_description ? p->name_description : "");
    rb_str(&b, "numa-policy", gp_numa_policy_name(p->numa_policy));
    rb_str(&b, "pin-mode", gp_pin_mode_name(p->pin_mode));
    rb_take(&b, "cpu-overcommit", gp_asprintf("%g", p->cpu_overcommit));
    rb_str(&b, "cpupool", p->cpupool ? p->cpupool : GP_CPUPOOL_DEFAULT);
    rb_strs(&b, "gpus", p->gpus, p->n_gpus);
    rb_take(&b, "free-gpus", join_strs(free_ids, n_free));
    rb_str(&b, "created", p->created);
    free(free_ids);
    return rb_finish(&b);
}

/* What pool_record_at() builds record i from. */
typedef struct {
    const gp_pool *pools;
    const kv_ref *held;         /* held member rows by pci-id */
    size_t n_held;
} pool_records_in;

static int pool_record_at(const void *arg, size_t i, gp_record *out)
{
    const pool_records_in *in = arg;
    return pool_record(&in->pools[i], in->held, in->n_held, out);
}

int gp_pool_records(gp_ctx *ctx, gp_record **out, size_t *n_out)
{
    pool_records_in in = { NULL, NULL, 0 };
    gp_pool *pools = NULL;
    size_t n_pools = 0;
    member_row *ms = NULL;
    size_t n_ms = 0;
    kv_ref *held = NULL;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_pool_list(ctx, &pools, &n_pools);
    if (rc)
        goto out;
    rc = members_read(ctx, &ms, &n_ms);
    if (rc)
        goto out;
    held = index_members(ms, n_ms, true, false, &in.n_held);
    if (!held) {
        rc = records_nomem(ctx, "pool");
        goto out;
    }
    in.pools = pools;
    in.held = held;
    rc = records_build(ctx, "pool", n_pools, pool_record_at, &in, out, n_out);
out:
    free(held);
    gp_pool_list_free(pools, n_pools);
    members_free(ms, n_ms);
    return rc;
}

/* ---- assignment ----------------------------------------------------------- */

int gp_placement_record(const gp_assignment *a, gp_record *out)
{
    rec_builder b;
    rb_init(&b, out);

    rb_str(&b, "vm-uuid", a->vm_uuid);
    rb_str(&b, "vm-name-label", a->vm_name_label);
    rb_str(&b, "pci-id", a->pci_id);
    rb_strs(&b, "companions", a->companions, a->n_companions);
    rb_str(&b, "pool", a->pool_name_label ? a->pool_name_label : a->pool_uuid);
    rb_str(&b, "pool-uuid", a->pool_uuid);
    rb_int(&b, "numa-node", a->numa_node, 0);
    rb_ints(&b, "pcpus", a->pcpus, a->n_pcpus);
    rb_int(&b, "memory-node", a->memory_node, 0);
    rb_str(&b, "memory-node-certainty", gp_memnode_certainty_name(a->memory_node_certainty));
    rb_str(&b, "memory-node-basis", a->memory_node_basis ? a->memory_node_basis : "");
    rb_str(&b, "pin-mode", gp_pin_mode_name(a->pin_mode));
    rb_int(&b, "vcpus", a->vcpus, 1);
    rb_u64(&b, "memory-mib", a->memory_mib, a->memory_mib != 0);
    rb_str(&b, "reason", a->reason ? a->reason : "");
    rb_str(&b, "created", a->created);
    return rb_finish(&b);
}

static int placement_record_at(const void *arg, size_t i, gp_record *out)
{
    return gp_placement_record(&((const gp_assignment *)arg)[i], out);
}

int gp_assignment_records(gp_ctx *ctx, gp_record **out, size_t *n_out)
{
    gp_assignment *as = NULL;
    size_t n_as = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_assignment_list(ctx, &as, &n_as);
    if (!rc)
        rc = records_build(ctx, "assignment", n_as, placement_record_at, as, out, n_out);
    gp_assignment_list_free(as, n_as);
    return rc;
}

/* ---- host ----------------------------------------------------------------- */

static int node_record(const gp_host *host, const gp_numa_node *nd, gp_record *out)
{
    rec_builder b;
    const char **gpus = malloc((host->n_gpus ? host->n_gpus : 1) * sizeof(*gpus));
    size_t n_gpus = 0;

    rb_init(&b, out);
    if (!gpus)
        return GP_ERR_NOMEM;
    for (size_t i = 0; i < host->n_gpus; i++)
        if (host->gpus[i].numa_node == nd->id)
            gpus[n_gpus++] = host->gpus[i].pci_id;

    rb_int(&b, "node", nd->id, 0);
    rb_int(&b, "socket", nd->socket, 0);
    rb_ints(&b, "cpus", nd->cpus, nd->n_cpus);
    rb_int(&b, "pcpu-count", (long long)nd->n_cpus, 0);
    rb_u64(&b, "memory-total-mib", nd->mem_total_bytes >> 20, nd->mem_total_bytes != 0);
    rb_u64(&b, "memory-free-mib", nd->mem_free_bytes >> 20, nd->mem_total_bytes != 0);
    rb_take(&b, "gpus", join_strs(gpus, n_gpus));
    if (nd->distances)
        rb_ints(&b, "distances", nd->distances, host->n_nodes);
    else
        rb_str(&b, "distances", UNKNOWN);
    free(gpus);
    return rb_finish(&b);
}

static int node_record_at(const void *arg, size_t i, gp_record *out)
{
    const gp_host *host = arg;
    return node_record(host, &host->nodes[i], out);
}

int gp_host_records(gp_ctx *ctx, gp_record **out, size_t *n_out)
{
    const gp_host *host;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_host_get(ctx, &host);
    if (rc)
        return rc;
    return records_build(ctx, "host", host->n_nodes, node_record_at, host, out, n_out);
}

/* ---- audit ---------------------------------------------------------------- */

static int audit_record_at(const void *arg, size_t i, gp_record *out)
{
    const gp_audit_entry *e = &((const gp_audit_entry *)arg)[i];
    rec_builder b;
    rb_init(&b, out);
    rb_take(&b, "id", gp_asprintf("%" PRId64, e->id));
    rb_str(&b, "time", e->time);
    rb_str(&b, "caller", e->caller);
    rb_str(&b, "operation", e->operation);
    rb_str(&b, "object", e->object ? e->object : "");
    rb_str(&b, "before", e->before ? e->before : "");
    rb_str(&b, "after", e->after ? e->after : "");
    return rb_finish(&b);
}

int gp_audit_records(gp_ctx *ctx, int64_t since_id, size_t limit,
                     gp_record **out, size_t *n_out)
{
    gp_audit_entry *es = NULL;
    size_t n_es = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_audit_list(ctx, since_id, limit, &es, &n_es);
    if (!rc)
        rc = records_build(ctx, "audit", n_es, audit_record_at, es, out, n_out);
    gp_audit_list_free(es, n_es);
    return rc;
}

/* ---- vm ------------------------------------------------------------------- */

/* What vm_record_at() builds record i from. */
typedef struct {
    const gp_vm *vms;
    const kv_ref *by_vm;        /* held member rows by VM uuid */
    size_t n_by_vm;
} vm_records_in;

static int vm_record_at(const void *arg, size_t i, gp_record *out)
{
    const vm_records_in *in = arg;
    const gp_vm *v = &in->vms[i];
    char key[37];
    snprintf(key, sizeof(key), "%s", v->uuid);
    for (char *c = key; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    const member_row *m = kv_find(in->by_vm, in->n_by_vm, key);
    rec_builder b;
    rb_init(&b, out);
    rb_str(&b, "uuid", v->uuid);
    rb_str(&b, "name-label", v->name_label ? v->name_label : "");
    rb_str(&b, "power-state", gp_vm_state_name(v->state));
    rb_int(&b, "vcpus", v->vcpus, 1);
    rb_u64(&b, "memory-mib", v->memory_mib, v->memory_mib != 0);
    rb_str(&b, "gpu", m ? m->pci_id : "");
    return rb_finish(&b);
}

int gp_vm_records(gp_ctx *ctx, gp_record **out, size_t *n_out)
{
    vm_records_in in = { NULL, NULL, 0 };
    gp_vm *vms = NULL;
    size_t n_vms = 0;
    member_row *ms = NULL;
    size_t n_ms = 0;
    kv_ref *by_vm = NULL;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gp_vm_list(ctx, &vms, &n_vms);
    if (rc)
        goto out;
    rc = members_read(ctx, &ms, &n_ms);
    if (rc)
        goto out;
    by_vm = index_members(ms, n_ms, true, true, &in.n_by_vm);
    if (!by_vm) {
        rc = records_nomem(ctx, "VM");
        goto out;
    }
    in.vms = vms;
    in.by_vm = by_vm;
    rc = records_build(ctx, "VM", n_vms, vm_record_at, &in, out, n_out);
out:
    free(by_vm);
    gp_vm_list_free(vms, n_vms);
    members_free(ms, n_ms);
    return rc;
}
