/*
 * functions.c - the plugin's functions and their JSON results.
 *
 * Every function takes string arguments (lists comma-separated, booleans
 * "true"/"false") and answers one JSON object whose field names are stable
 * and documented in docs/xapi-plugin.md.  JSON is built with json-c from the
 * library's public structures: numbers are numbers, unknown facts are null,
 * lists are arrays.  Unknown argument names are refused (a typo must not be
 * silently ignored).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

/* json-c < 0.15 (XCP-ng 8.3 has 0.14) has no json_object_new_array_ext; its
 * size is only the initial capacity, so the plain array is the same array. */
#if JSON_C_VERSION_NUM < ((0 << 16) | (15 << 8))
#define json_object_new_array_ext(n) ((void)(n), json_object_new_array())
#endif

typedef struct {
    const char *name;
    bool mutating;
    const char *const *allowed;   /* argument names, NULL-terminated */
    int (*run)(gp_ctx *ctx, const plugin_args *a, json_object **out, plugin_failure *f);
} plugin_fn;

/* ---- argument helpers ---------------------------------------------------- */

static const char *arg(const plugin_args *a, const char *key)
{
    for (size_t i = a->n; i-- > 0;)
        if (!strcmp(a->keys[i], key))
            return a->values[i];
    return NULL;
}

static int bad_arg(plugin_failure *f, const char *key, const char *msg)
{
    plugin_failure_set(f, "GPUPOOL_INVALID_ARGUMENT", key, msg, NULL);
    return -1;
}

/* One name of a closed set (the library's table) as its index. */
static int parse_set(gp_set set, const char *key, const char *v, int *out, plugin_failure *f)
{
    gp_error_info e;
    int i;
    gp_error_info_init(&e);
    i = gp_set_parse(set, key, v, &e);
    if (i < 0)
        plugin_failure_from_error(f, &e);
    else
        *out = i;
    gp_error_info_dispose(&e);
    return i < 0 ? -1 : 0;
}

static int need_arg(const plugin_args *a, const char *key, const char **out,
                    plugin_failure *f)
{
    *out = arg(a, key);
    if (!*out || !**out) {
        char msg[128];
        snprintf(msg, sizeof(msg), "argument %s is required", key);
        return bad_arg(f, key, msg);
    }
    return 0;
}

/* Optional non-negative integer argument; 0 when absent. */
static int int_arg(const plugin_args *a, const char *key, long long max, long long *out,
                   plugin_failure *f)
{
    const char *s = arg(a, key);
    char *end;
    *out = 0;
    if (!s || !*s)
        return 0;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0 || v > max) {
        char msg[128];
        snprintf(msg, sizeof(msg), "argument %s must be an integer 0..%lld", key, max);
        return bad_arg(f, key, msg);
    }
    *out = v;
    return 0;
}

static int lib_fail(gp_ctx *ctx, plugin_failure *f)
{
    plugin_failure_from_error(f, gp_ctx_last_error(ctx));
    return -1;
}

static int nomem(plugin_failure *f)
{
    plugin_failure_set(f, "GPUPOOL_OUT_OF_MEMORY", "out of memory", NULL);
    return -1;
}

/* ---- JSON helpers ---------------------------------------------------------- */

static json_object *jstr(const char *s)
{
    return s ? json_object_new_string(s) : NULL;  /* NULL is JSON null */
}

static json_object *jint_known(long long v, bool known)
{
    return known ? json_object_new_int64(v) : NULL;
}

static json_object *jtri(gp_tristate t)
{
    return t == GP_UNKNOWN ? NULL : json_object_new_boolean(t == GP_YES);
}

/* An array of room for n (json_object_new_array_ext is json-c 0.15+). */
static json_object *jarray(int n)
{
#if defined(JSON_C_VERSION_NUM) && JSON_C_VERSION_NUM >= ((0 << 16) | (15 << 8))
    return json_object_new_array_ext(n);
#else
    (void)n;
    return json_object_new_array();
#endif
}

static json_object *jints(const int *v, size_t n)
{
    json_object *a = jarray((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_int(v[i]));
    return a;
}

/* A text column holding JSON (audit before/after): the parsed value, or the
 * text itself when it is not JSON, or null. */
static json_object *jjson_text(const char *s)
{
    if (!s)
        return NULL;
    json_object *v = json_tokener_parse(s);
    return v ? v : json_object_new_string(s);
}

/* ---- objects --------------------------------------------------------------- *
 *
 * GPU, pool and assignment objects come from the library (gp_*_json(): the
 * field tables of libgpupool), so they have the records' fields and
 * spelling rules; nothing here knows their fields. */

/* The GPU object of one pci-id (canonical) as it is now. */
static int gpu_object(gp_ctx *ctx, const char *pci_id, json_object **out, plugin_failure *f)
{
    return gp_gpu_json(ctx, pci_id, out) ? lib_fail(ctx, f) : 0;
}

static int pool_object(gp_ctx *ctx, const char *pool, json_object **out, plugin_failure *f)
{
    return gp_pool_json(ctx, pool, out) ? lib_fail(ctx, f) : 0;
}

/* Canonical pci-id of an argument. */
static int pci_arg(gp_ctx *ctx, const char *text, char canon[GP_PCI_ID_LEN], plugin_failure *f)
{
    gp_pci_addr a;
    gp_error_info e;
    gp_error_info_init(&e);
    if (gp_pci_addr_parse(text, &a, &e)) {
        plugin_failure_from_error(f, &e);
        gp_error_info_dispose(&e);
        return -1;
    }
    gp_error_info_dispose(&e);
    gp_pci_addr_format(&a, canon);
    (void)ctx;
    return 0;
}

/* XCP-ng: the dom0 access fields of an add/remove result. */
static void add_dom0_access(gp_ctx *ctx, json_object *o, const char *pci_id)
{
    char *status = NULL;
    /* Only the xapi driver answers (NOT_SUPPORTED elsewhere: no fields). */
    if (gp_xapi_dom0_access(ctx, pci_id, &status) == GP_OK) {
        json_object_object_add(o, "dom0_access", json_object_new_string(status));
        json_object_object_add(o, "reboot_required",
                               json_object_new_boolean(strstr(status, "_on_reboot") != NULL));
    }
    free(status);
}

/* The reply of a list function: {key: arr}.  Returns 0. */
static int list_reply(json_object **out, const char *key, json_object *arr)
{
    *out = json_object_new_object();
    json_object_object_add(*out, key, arr);
    return 0;
}

/* The reply of a membership change: the GPU's object with its dom0 access. */
static int member_reply(gp_ctx *ctx, const char *canon, json_object **out, plugin_failure *f)
{
    if (gpu_object(ctx, canon, out, f))
        return -1;
    add_dom0_access(ctx, *out, canon);
    return 0;
}

/* ---- functions ------------------------------------------------------------- */

static const char *const no_args[] = { NULL };

/* Lists take an optional host (name-label or uuid): pool-wide without it. */
static const char *const host_args[] = { "host", NULL };

static const char *host_arg(const plugin_args *a)
{
    const char *h = arg(a, "host");
    return h && *h ? h : NULL;
}

static int fn_list_gpus(gp_ctx *ctx, const plugin_args *a, json_object **out, plugin_failure *f)
{
    json_object *arr;
    if (gp_gpus_json_on(ctx, host_arg(a), &arr))
        return lib_fail(ctx, f);
    return list_reply(out, "gpus", arr);
}

/* The pool-wide object of GPU canon of host (another host's GPU). */
static int gpu_object_on(gp_ctx *ctx, const char *host, const char *canon, json_object **out,
                         plugin_failure *f)
{
    json_object *arr;
    if (gp_gpus_json_on(ctx, host, &arr))
        return lib_fail(ctx, f);
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *g = json_object_array_get_idx(arr, i), *id;
        if (json_object_object_get_ex(g, "pci_id", &id) &&
            !strcmp(json_object_get_string(id), canon)) {
            *out = json_object_get(g);
            break;
        }
    }
    json_object_put(arr);
    if (!*out)
        *out = json_object_new_object();
    return *out ? 0 : nomem(f);
}

static const char *const get_gpu_args[] = { "pci_id", NULL };
static int fn_get_gpu(gp_ctx *ctx, const plugin_args *a, json_object **out, plugin_failure *f)
{
    const char *pci;
    char canon[GP_PCI_ID_LEN];
    if (need_arg(a, "pci_id", &pci, f) || pci_arg(ctx, pci, canon, f))
        return -1;
    return gpu_object(ctx, canon, out, f);
}

static int fn_host_topology(gp_ctx *ctx, const plugin_args *a, json_object **out,
                            plugin_failure *f)
{
    const gp_host *h;
    (void)a;
    if (gp_host_get(ctx, &h))
        return lib_fail(ctx, f);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "topology_source", jstr(h->topology_source));
    json_object_object_add(o, "pci_source", jstr(h->pci_source));
    json_object_object_add(o, "passthrough", jtri(h->passthrough));
    json_object *nodes = jarray((int)h->n_nodes);
    for (size_t i = 0; i < h->n_nodes; i++) {
        const gp_numa_node *nd = &h->nodes[i];
        json_object *no = json_object_new_object();
        json_object_object_add(no, "id", json_object_new_int(nd->id));
        json_object_object_add(no, "socket", jint_known(nd->socket, nd->socket >= 0));
        json_object_object_add(no, "memory_total_mib",
                               jint_known((long long)(nd->mem_total_bytes >> 20),
                                          nd->mem_total_bytes > 0));
        json_object_object_add(no, "memory_free_mib",
                               jint_known((long long)(nd->mem_free_bytes >> 20),
                                          nd->mem_total_bytes > 0));
        json_object_object_add(no, "cpus", jints(nd->cpus, nd->n_cpus));
        json_object_object_add(no, "distances", nd->distances ? jints(nd->distances, h->n_nodes)
                                                              : NULL);
        json_object *gpus = json_object_new_array();
        for (size_t g = 0; g < h->n_gpus; g++)
            if (h->gpus[g].numa_node == nd->id)
                json_object_array_add(gpus, json_object_new_string(h->gpus[g].pci_id));
        json_object_object_add(no, "gpus", gpus);
        json_object_array_add(nodes, no);
    }
    json_object_object_add(o, "nodes", nodes);
    json_object *cpus = jarray((int)h->n_cpus);
    for (size_t i = 0; i < h->n_cpus; i++) {
        const gp_pcpu *c = &h->cpus[i];
        json_object *co = json_object_new_object();
        json_object_object_add(co, "id", json_object_new_int(c->id));
        json_object_object_add(co, "core", jint_known(c->core, c->core >= 0));
        json_object_object_add(co, "socket", jint_known(c->socket, c->socket >= 0));
        json_object_object_add(co, "node", jint_known(c->node, c->node >= 0));
        json_object_array_add(cpus, co);
    }
    json_object_object_add(o, "cpus", cpus);
    json_object *cps = jarray((int)h->n_cpupools);
    for (size_t i = 0; i < h->n_cpupools; i++) {
        json_object *co = json_object_new_object();
        json_object_object_add(co, "id", json_object_new_int(h->cpupools[i].id));
        json_object_object_add(co, "name", jstr(h->cpupools[i].name));
        json_object_object_add(co, "cpus", jints(h->cpupools[i].cpus, h->cpupools[i].n_cpus));
        json_object_array_add(cps, co);
    }
    json_object_object_add(o, "cpupools", cps);
    json_object *gpus = jarray((int)h->n_gpus);
    for (size_t g = 0; g < h->n_gpus; g++)
        json_object_array_add(gpus, json_object_new_string(h->gpus[g].pci_id));
    json_object_object_add(o, "gpus", gpus);
    *out = o;
    return 0;
}

static int fn_list_pools(gp_ctx *ctx, const plugin_args *a, json_object **out, plugin_failure *f)
{
    json_object *arr;
    if (gp_pools_json_on(ctx, host_arg(a), &arr))
        return lib_fail(ctx, f);
    return list_reply(out, "pools", arr);
}

static const char *const create_pool_args[] = {
    "name_label", "name_description", "numa_policy", "pin_mode", "cpu_overcommit", "cpupool",
    "placement", NULL
};
static int fn_create_pool(gp_ctx *ctx, const plugin_args *a, json_object **out,
                          plugin_failure *f)
{
    const char *s;
    gp_pool_spec spec;
    char uuid[37];

    gp_pool_spec_init(&spec);
    if (need_arg(a, "name_label", &spec.name_label, f))
        return -1;
    spec.description = arg(a, "name_description");
    if ((s = arg(a, "numa_policy")) && *s &&
        parse_set(GP_SET_NUMA_POLICY, "numa_policy", s, (int *)&spec.policy, f))
        return -1;
    if ((s = arg(a, "pin_mode")) && *s &&
        parse_set(GP_SET_PIN_MODE, "pin_mode", s, (int *)&spec.pin, f))
        return -1;
    if ((s = arg(a, "placement")) && *s &&
        parse_set(GP_SET_PLACEMENT, "placement", s, (int *)&spec.placement, f))
        return -1;
    if ((s = arg(a, "cpu_overcommit")) && *s) {
        char *end;
        errno = 0;
        spec.cpu_overcommit = strtod(s, &end);
        if (errno || *end || end == s)
            return bad_arg(f, "cpu_overcommit", "cpu_overcommit must be a number");
    }
    /* Absent or empty: the library's default (Pool-0), as for the other
     * optional arguments. */
    if ((s = arg(a, "cpupool")) && *s)
        spec.cpupool = s;
    if (gp_pool_create_ex(ctx, &spec, uuid))
        return lib_fail(ctx, f);
    return pool_object(ctx, uuid, out, f);
}

static const char *const pool_arg[] = { "pool", NULL };
static int fn_destroy_pool(gp_ctx *ctx, const plugin_args *a, json_object **out,
                           plugin_failure *f)
{
    const char *pool;
    gp_pool p;
    if (need_arg(a, "pool", &pool, f))
        return -1;
    gp_pool_init(&p);
    if (gp_pool_get(ctx, pool, &p) || gp_pool_destroy(ctx, p.uuid)) {
        gp_pool_dispose(&p);
        return lib_fail(ctx, f);
    }
    *out = json_object_new_object();
    json_object_object_add(*out, "uuid", json_object_new_string(p.uuid));
    json_object_object_add(*out, "name_label", jstr(p.name_label));
    json_object_object_add(*out, "destroyed", json_object_new_boolean(1));
    gp_pool_dispose(&p);
    return 0;
}

static const char *const set_pool_param_args[] = { "pool", "param", "value", NULL };
static int fn_set_pool_param(gp_ctx *ctx, const plugin_args *a, json_object **out,
                             plugin_failure *f)
{
    const char *pool, *param, *value;
    gp_pool p;
    int rc;
    if (need_arg(a, "pool", &pool, f) || need_arg(a, "param", &param, f))
        return -1;
    value = arg(a, "value");
    if (!value)
        return bad_arg(f, "value", "argument value is required");
    /* Accept snake_case (name_label) as well as xe's name-label. */
    char *p_xe = strdup(param);
    if (!p_xe)
        return nomem(f);
    for (char *c = p_xe; *c; c++)
        if (*c == '_')
            *c = '-';
    gp_pool_init(&p);
    rc = gp_pool_get(ctx, pool, &p) || gp_pool_set_param(ctx, p.uuid, p_xe, value)
             ? lib_fail(ctx, f) : pool_object(ctx, p.uuid, out, f);
    gp_pool_dispose(&p);
    free(p_xe);
    return rc;
}

static const char *const add_gpu_args[] = { "pool", "pci_id", "host", NULL };
static int fn_add_gpu_to_pool(gp_ctx *ctx, const plugin_args *a, json_object **out,
                              plugin_failure *f)
{
    const char *pool, *pci;
    char canon[GP_PCI_ID_LEN];
    if (need_arg(a, "pool", &pool, f) || need_arg(a, "pci_id", &pci, f) ||
        pci_arg(ctx, pci, canon, f))
        return -1;
    if (gp_pool_gpu_add_on(ctx, pool, canon, host_arg(a)))
        return lib_fail(ctx, f);
    if (host_arg(a))
        return gpu_object_on(ctx, host_arg(a), canon, out, f);
    return member_reply(ctx, canon, out, f);
}

static const char *const remove_gpu_args[] = { "pool", "pci_id", "host", NULL };
static int fn_remove_gpu_from_pool(gp_ctx *ctx, const plugin_args *a, json_object **out,
                                   plugin_failure *f)
{
    const char *pci, *pool = arg(a, "pool");
    char canon[GP_PCI_ID_LEN];
    if (need_arg(a, "pci_id", &pci, f) || pci_arg(ctx, pci, canon, f))
        return -1;
    if (gp_pool_gpu_remove_on(ctx, pool && *pool ? pool : NULL, canon, host_arg(a)))
        return lib_fail(ctx, f);
    if (host_arg(a))
        return gpu_object_on(ctx, host_arg(a), canon, out, f);
    return member_reply(ctx, canon, out, f);
}

static const char *const assign_args[] = { "vm_uuid", "pool", "pci_id", "vcpus", "memory_mib",
                                           "host", "tenant", "lease", NULL };

/* lease=<duration> (90m, 12h, 7d) into *secs; 0 when absent or empty. */
static int lease_arg(const plugin_args *a, int64_t *secs, plugin_failure *f)
{
    const char *v = arg(a, "lease");
    *secs = 0;
    if (v && *v && (gp_duration_parse(v, secs) || *secs <= 0))
        return bad_arg(f, "lease", "argument lease must be a duration such as 90m, 12h or 7d");
    return 0;
}
static int fn_assign_gpu(gp_ctx *ctx, const plugin_args *a, json_object **out,
                         plugin_failure *f)
{
    const char *vm, *pool = arg(a, "pool"), *pci = arg(a, "pci_id");
    long long vcpus, mem;
    gp_assign_args aa;
    gp_assignment as;
    char canon[GP_PCI_ID_LEN];
    int rc;

    if (need_arg(a, "vm_uuid", &vm, f) || int_arg(a, "vcpus", 4096, &vcpus, f) ||
        int_arg(a, "memory_mib", (long long)1 << 40, &mem, f))
        return -1;
    if ((!pool || !*pool) && (!pci || !*pci))
        return bad_arg(f, "pool", "give pool or pci_id");
    memset(&aa, 0, sizeof(aa));
    aa.pool = pool && *pool ? pool : NULL;
    if (pci && *pci) {
        if (pci_arg(ctx, pci, canon, f))
            return -1;
        aa.pci_id = canon;
    }
    aa.vcpus = (int)vcpus;
    aa.memory_mib = (uint64_t)mem;
    aa.host = host_arg(a);
    aa.tenant = arg(a, "tenant") && *arg(a, "tenant") ? arg(a, "tenant") : NULL;
    if (lease_arg(a, &aa.lease_seconds, f))
        return -1;
    gp_assignment_init(&as);
    rc = gp_vm_gpu_assign(ctx, vm, &aa, &as) ? lib_fail(ctx, f) : 0;
    if (rc == 0 && !(*out = gp_assignment_json(&as)))
        rc = nomem(f);
    gp_assignment_dispose(&as);
    return rc;
}

static const char *const vm_arg[] = { "vm_uuid", NULL };
static int fn_release_gpu(gp_ctx *ctx, const plugin_args *a, json_object **out,
                          plugin_failure *f)
{
    const char *vm;
    gp_assignment as;
    if (need_arg(a, "vm_uuid", &vm, f))
        return -1;
    gp_assignment_init(&as);
    if (gp_assignment_get(ctx, vm, &as) || gp_vm_gpu_release(ctx, vm)) {
        gp_assignment_dispose(&as);
        return lib_fail(ctx, f);
    }
    *out = json_object_new_object();
    json_object_object_add(*out, "vm_uuid", json_object_new_string(as.vm_uuid));
    json_object_object_add(*out, "pci_id", json_object_new_string(as.pci_id));
    json_object_object_add(*out, "pool_uuid", json_object_new_string(as.pool_uuid));
    json_object_object_add(*out, "released", json_object_new_boolean(1));
    gp_assignment_dispose(&as);
    return 0;
}

static int fn_list_assignments(gp_ctx *ctx, const plugin_args *a, json_object **out,
                               plugin_failure *f)
{
    json_object *arr;
    if (gp_assignments_json_on(ctx, host_arg(a), &arr))
        return lib_fail(ctx, f);
    return list_reply(out, "assignments", arr);
}

static const char *const audit_args[] = { "since_id", "limit", NULL };
static int fn_audit_log(gp_ctx *ctx, const plugin_args *a, json_object **out, plugin_failure *f)
{
    gp_audit_entry *e = NULL;
    size_t n = 0;
    long long since, limit;
    if (int_arg(a, "since_id", INT64_MAX, &since, f) ||
        int_arg(a, "limit", 1000000, &limit, f))
        return -1;
    if (gp_audit_list(ctx, since, (size_t)limit, &e, &n))
        return lib_fail(ctx, f);
    json_object *arr = jarray((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_int64(e[i].id));
        json_object_object_add(o, "time", jstr(e[i].time));
        json_object_object_add(o, "caller", jstr(e[i].caller));
        json_object_object_add(o, "operation", jstr(e[i].operation));
        json_object_object_add(o, "object", jstr(e[i].object));
        json_object_object_add(o, "before", jjson_text(e[i].before));
        json_object_object_add(o, "after", jjson_text(e[i].after));
        json_object_array_add(arr, o);
    }
    gp_audit_list_free(e, n);
    return list_reply(out, "entries", arr);
}

static int fn_check_drift(gp_ctx *ctx, const plugin_args *a, json_object **out,
                          plugin_failure *f)
{
    gp_drift *d = NULL;
    size_t n = 0;
    (void)a;
    if (gp_drift_check(ctx, &d, &n))
        return lib_fail(ctx, f);
    json_object *arr = jarray((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "kind", jstr(d[i].kind));
        json_object_object_add(o, "vm_uuid", json_object_new_string(d[i].vm_uuid));
        json_object_object_add(o, "vm_name_label", jstr(d[i].vm_name_label));
        json_object_object_add(o, "pci_id", json_object_new_string(d[i].pci_id));
        json_object_object_add(o, "other_config_pci", jstr(d[i].other_config_pci));
        json_object_object_add(o, "detail", jstr(d[i].detail));
        json_object_array_add(arr, o);
    }
    gp_drift_list_free(d, n);
    return list_reply(out, "drift", arr);
}

static int fn_pool_sync(gp_ctx *ctx, const plugin_args *a, json_object **out, plugin_failure *f)
{
    gp_sync_report r;
    (void)a;
    if (gp_pool_sync(ctx, &r))
        return lib_fail(ctx, f);
    *out = json_object_new_object();
    if (!*out)
        return nomem(f);
    json_object_object_add(*out, "facts_published", json_object_new_boolean(r.facts_published));
    json_object_object_add(*out, "pools_pulled", json_object_new_int64((int64_t)r.pools_pulled));
    json_object_object_add(*out, "pools_pruned", json_object_new_int64((int64_t)r.pools_pruned));
    json_object_object_add(*out, "pools_pushed", json_object_new_int64((int64_t)r.pools_pushed));
    json_object_object_add(*out, "members_pulled",
                           json_object_new_int64((int64_t)r.members_pulled));
    json_object_object_add(*out, "members_pushed",
                           json_object_new_int64((int64_t)r.members_pushed));
    json_object_object_add(*out, "assignments_pulled",
                           json_object_new_int64((int64_t)r.assignments_pulled));
    json_object_object_add(*out, "assignments_pushed",
                           json_object_new_int64((int64_t)r.assignments_pushed));
    json_object_object_add(*out, "assignments_dropped",
                           json_object_new_int64((int64_t)r.assignments_dropped));
    json_object_object_add(*out, "skipped", json_object_new_int64((int64_t)r.skipped));
    return 0;
}

static json_object *evac_array(const gp_evacuation *v, size_t n)
{
    json_object *arr = jarray((int)n);
    for (size_t i = 0; arr && i < n; i++)
        json_object_array_add(arr, gp_evacuation_json(&v[i]));
    return arr;
}

/* The SVG text (gp_host_draw) as {"svg": "<?xml ...>"}. */
static int fn_host_svg(gp_ctx *ctx, const plugin_args *a, json_object **out, plugin_failure *f)
{
    char *svg = NULL;
    size_t len = 0;
    if (gp_host_draw(ctx, host_arg(a), &svg, &len))
        return lib_fail(ctx, f);
    json_object *s = json_object_new_string_len(svg, (int)len);
    free(svg);
    if (!s || !(*out = json_object_new_object())) {
        json_object_put(s);
        return nomem(f);
    }
    json_object_object_add(*out, "svg", s);
    return 0;
}

static const char *const evac_plan_args[] = { "host", NULL };
static int fn_host_evacuate_plan(gp_ctx *ctx, const plugin_args *a, json_object **out,
                                 plugin_failure *f)
{
    gp_evacuation *v = NULL;
    size_t n = 0;
    const char *host;
    if (need_arg(a, "host", &host, f))
        return -1;
    if (gp_host_evacuate_plan(ctx, host, &v, &n))
        return lib_fail(ctx, f);
    int rc = list_reply(out, "vms", evac_array(v, n));
    gp_evacuation_list_free(v, n);
    return rc;
}

/* Moves only with apply=true; otherwise the plan (so that a typo never
 * moves anything).  A failed move is the call's failure, after the moves
 * that were done (the audit log and list_assignments show them). */
static const char *const evac_args[] = { "host", "apply", NULL };
static int fn_host_evacuate(gp_ctx *ctx, const plugin_args *a, json_object **out,
                            plugin_failure *f)
{
    const char *apply = arg(a, "apply");
    gp_evacuation *v = NULL;
    size_t n = 0;
    const char *host;
    int rc;
    if (need_arg(a, "host", &host, f))
        return -1;
    if (apply && strcmp(apply, "true") && strcmp(apply, "false"))
        return bad_arg(f, "apply", "apply must be true or false");
    if (!apply || strcmp(apply, "true"))
        return fn_host_evacuate_plan(ctx, a, out, f);
    if (gp_host_evacuate(ctx, host, &v, &n)) {
        gp_evacuation_list_free(v, n);
        return lib_fail(ctx, f);
    }
    rc = list_reply(out, "vms", evac_array(v, n));
    gp_evacuation_list_free(v, n);
    return rc;
}

static json_object *quotas_array(gp_ctx *ctx, plugin_failure *f)
{
    gp_quota *q = NULL;
    size_t n = 0;
    if (gp_quota_list(ctx, &q, &n)) {
        lib_fail(ctx, f);
        return NULL;
    }
    json_object *arr = jarray((int)n);
    for (size_t i = 0; arr && i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "tenant", jstr(q[i].tenant));
        json_object_object_add(o, "pool_uuid", json_object_new_string(q[i].pool_uuid));
        json_object_object_add(o, "pool_name_label", jstr(q[i].pool_name_label));
        json_object_object_add(o, "gpus", json_object_new_int(q[i].gpus));
        json_object_object_add(o, "used", json_object_new_int(q[i].used));
        json_object_array_add(arr, o);
    }
    gp_quota_list_free(q, n);
    return arr;
}

static int fn_quota_list(gp_ctx *ctx, const plugin_args *a, json_object **out, plugin_failure *f)
{
    json_object *arr;
    (void)a;
    if (!(arr = quotas_array(ctx, f)))
        return -1;
    return list_reply(out, "quotas", arr);
}

static const char *const quota_set_args[] = { "tenant", "pool", "gpus", NULL };
static int fn_quota_set(gp_ctx *ctx, const plugin_args *a, json_object **out, plugin_failure *f)
{
    const char *tenant, *pool, *g;
    long long gpus;
    if (need_arg(a, "tenant", &tenant, f) || need_arg(a, "pool", &pool, f) ||
        need_arg(a, "gpus", &g, f) || int_arg(a, "gpus", 100000, &gpus, f))
        return -1;
    if (gp_quota_set(ctx, tenant, pool, (int)gpus))
        return lib_fail(ctx, f);
    return fn_quota_list(ctx, a, out, f);
}

static const char *const quota_remove_args[] = { "tenant", "pool", NULL };
static int fn_quota_remove(gp_ctx *ctx, const plugin_args *a, json_object **out,
                           plugin_failure *f)
{
    const char *tenant, *pool;
    if (need_arg(a, "tenant", &tenant, f) || need_arg(a, "pool", &pool, f))
        return -1;
    if (gp_quota_remove(ctx, tenant, pool))
        return lib_fail(ctx, f);
    return fn_quota_list(ctx, a, out, f);
}

static json_object *request_object(const gp_request *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "position", json_object_new_int64((int64_t)r->position));
    json_object_object_add(o, "vm_uuid", json_object_new_string(r->vm_uuid));
    json_object_object_add(o, "tenant", jstr(r->tenant));
    json_object_object_add(o, "priority", json_object_new_int(r->priority));
    json_object_object_add(o, "wait_seconds", json_object_new_int64(r->wait_seconds));
    json_object_object_add(o, "pool_uuid", json_object_new_string(r->pool_uuid));
    json_object_object_add(o, "pool_name_label", jstr(r->pool_name_label));
    json_object_object_add(o, "requested_by", jstr(r->requested_by));
    json_object_object_add(o, "on_behalf_of", jstr(r->on_behalf_of));
    json_object_object_add(o, "lease_seconds", json_object_new_int64(r->lease_seconds));
    json_object_object_add(o, "id", json_object_new_int64(r->id));
    return o;
}

static int fn_request_list(gp_ctx *ctx, const plugin_args *a, json_object **out,
                           plugin_failure *f)
{
    gp_request *r = NULL;
    size_t n = 0;
    (void)a;
    if (gp_request_list(ctx, &r, &n))
        return lib_fail(ctx, f);
    json_object *arr = jarray((int)n);
    for (size_t i = 0; arr && i < n; i++)
        json_object_array_add(arr, request_object(&r[i]));
    gp_request_list_free(r, n);
    return list_reply(out, "requests", arr);
}

static const char *const request_args[] = { "vm_uuid", "pool", "priority", "tenant",
                                            "on_behalf_of", "vcpus", "memory_mib", "lease", NULL };
/* Assigned now: {"queued": false, "assignment": Assignment}; queued:
 * {"queued": true, "request": Request}. */
static int fn_vm_gpu_request(gp_ctx *ctx, const plugin_args *a, json_object **out,
                             plugin_failure *f)
{
    const char *vm, *pool;
    long long prio, vcpus, mem;
    gp_request_args ra;
    gp_assignment as;
    gp_request rq;
    bool queued = false;
    int rc = 0;
    if (need_arg(a, "vm_uuid", &vm, f) || need_arg(a, "pool", &pool, f) ||
        int_arg(a, "priority", GP_QUEUE_PRIORITY_MAX, &prio, f) ||
        int_arg(a, "vcpus", 4096, &vcpus, f) || int_arg(a, "memory_mib", (long long)1 << 40, &mem, f))
        return -1;
    memset(&ra, 0, sizeof(ra));
    ra.pool = pool;
    ra.priority = (int)prio;
    ra.vcpus = (int)vcpus;
    ra.memory_mib = (uint64_t)mem;
    ra.tenant = arg(a, "tenant") && *arg(a, "tenant") ? arg(a, "tenant") : NULL;
    ra.on_behalf_of = arg(a, "on_behalf_of") && *arg(a, "on_behalf_of") ? arg(a, "on_behalf_of")
                                                                         : NULL;
    if (lease_arg(a, &ra.lease_seconds, f))
        return -1;
    gp_assignment_init(&as);
    memset(&rq, 0, sizeof(rq));
    if (gp_vm_gpu_request(ctx, vm, &ra, &as, &rq, &queued)) {
        gp_assignment_dispose(&as);
        return lib_fail(ctx, f);
    }
    *out = json_object_new_object();
    if (!*out) {
        rc = nomem(f);
    } else {
        json_object_object_add(*out, "queued", json_object_new_boolean(queued));
        if (queued)
            json_object_object_add(*out, "request", request_object(&rq));
        else
            json_object_object_add(*out, "assignment", gp_assignment_json(&as));
    }
    gp_assignment_dispose(&as);
    free(rq.pool_name_label);
    free(rq.tenant);
    free(rq.requested_by);
    free(rq.on_behalf_of);
    return rc;
}

static int fn_request_cancel(gp_ctx *ctx, const plugin_args *a, json_object **out,
                             plugin_failure *f)
{
    const char *vm;
    if (need_arg(a, "vm_uuid", &vm, f))
        return -1;
    if (gp_request_cancel(ctx, vm))
        return lib_fail(ctx, f);
    return fn_request_list(ctx, a, out, f);
}

/* validate_host: {"checks": [{id, subject, status, title, evidence, remedy}...],
 * "failed": <checks with status fail>} (docs/host-validate.md). */
static int fn_validate_host(gp_ctx *ctx, const plugin_args *a, json_object **out,
                            plugin_failure *f)
{
    gp_check *cs;
    size_t n, n_fail;
    (void)a;
    if (gp_host_validate(ctx, &cs, &n, &n_fail))
        return lib_fail(ctx, f);
    json_object *arr = gp_checks_json(cs, n);
    gp_check_list_free(cs, n);
    if (!arr)
        return nomem(f);
    list_reply(out, "checks", arr);
    json_object_object_add(*out, "failed", json_object_new_int64((int64_t)n_fail));
    return 0;
}

static const char *const usage_args[] = { "from", "to", "group_by", NULL };
/* {"rows": [{"key", "gpu_seconds_held", "gpu_seconds_running"}]} */
static int fn_usage_report(gp_ctx *ctx, const plugin_args *a, json_object **out,
                           plugin_failure *f)
{
    static const char *const groups[] = { "tenant", "pool", "vm" };
    const char *from_s, *to_s, *g = arg(a, "group_by");
    int64_t from, to;
    int group = g && *g ? -1 : 0;
    gp_usage_row *rows = NULL;
    size_t n = 0;
    for (int i = 0; i < 3; i++)
        if (g && !strcmp(g, groups[i]))
            group = i;
    if (need_arg(a, "from", &from_s, f) || need_arg(a, "to", &to_s, f))
        return -1;
    if (group < 0)
        return bad_arg(f, "group_by", "group_by is tenant, pool or vm");
    if (gp_time_parse(from_s, &from))
        return bad_arg(f, "from", "from is an ISO 8601 UTC time, e.g. 2026-12-01T00:00:00Z");
    if (gp_time_parse(to_s, &to))
        return bad_arg(f, "to", "to is an ISO 8601 UTC time, e.g. 2026-12-01T00:00:00Z");
    if (gp_usage_report(ctx, from, to, (gp_usage_group)group, &rows, &n))
        return lib_fail(ctx, f);
    json_object *arr = jarray((int)n);
    for (size_t i = 0; arr && i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "key", json_object_new_string(rows[i].key));
        json_object_object_add(o, "gpu_seconds_held", json_object_new_int64(rows[i].held_seconds));
        json_object_object_add(o, "gpu_seconds_running",
                               json_object_new_int64(rows[i].running_seconds));
        json_object_object_add(o, "cost",
                               rows[i].has_cost ? json_object_new_double(rows[i].cost) : NULL);
        json_object_array_add(arr, o);
    }
    gp_usage_rows_free(rows, n);
    return list_reply(out, "rows", arr);
}

/* The capacity picture (gp_capacity_json): {now, gpus_no_pool, pools, gpus}. */
static int fn_capacity_report(gp_ctx *ctx, const plugin_args *a, json_object **out,
                              plugin_failure *f)
{
    gp_capacity *cap = NULL;
    if (gp_capacity_get(ctx, host_arg(a), &cap))
        return lib_fail(ctx, f);
    *out = gp_capacity_json(cap);
    gp_capacity_free(cap);
    return *out ? 0 : nomem(f);
}

/* {"content_type": "text/plain; version=0.0.4", "text": <the metrics>} */
static const char *const metrics_args[] = { "hostname", NULL };
static int fn_metrics(gp_ctx *ctx, const plugin_args *a, json_object **out, plugin_failure *f)
{
    const char *hn = arg(a, "hostname");
    char *text = NULL;
    if (gp_metrics_text(ctx, hn && *hn ? hn : NULL, &text))
        return lib_fail(ctx, f);
    *out = json_object_new_object();
    if (*out) {
        json_object_object_add(*out, "content_type",
                               json_object_new_string("text/plain; version=0.0.4"));
        json_object_object_add(*out, "text", json_object_new_string(text));
    }
    free(text);
    return *out ? 0 : nomem(f);
}

static const plugin_fn functions[] = {
    { "list_gpus", false, host_args, fn_list_gpus },
    { "get_gpu", false, get_gpu_args, fn_get_gpu },
    { "host_topology", false, no_args, fn_host_topology },
    { "list_pools", false, host_args, fn_list_pools },
    { "create_pool", true, create_pool_args, fn_create_pool },
    { "destroy_pool", true, pool_arg, fn_destroy_pool },
    { "set_pool_param", true, set_pool_param_args, fn_set_pool_param },
    { "add_gpu_to_pool", true, add_gpu_args, fn_add_gpu_to_pool },
    { "remove_gpu_from_pool", true, remove_gpu_args, fn_remove_gpu_from_pool },
    { "assign_gpu", true, assign_args, fn_assign_gpu },
    { "release_gpu", true, vm_arg, fn_release_gpu },
    { "list_assignments", false, host_args, fn_list_assignments },
    { "audit_log", false, audit_args, fn_audit_log },
    { "check_drift", false, no_args, fn_check_drift },
    { "pool_sync", true, no_args, fn_pool_sync },
    { "host_evacuate_plan", false, evac_plan_args, fn_host_evacuate_plan },
    { "host_evacuate", true, evac_args, fn_host_evacuate },
    { "quota_set", true, quota_set_args, fn_quota_set },
    { "quota_list", false, no_args, fn_quota_list },
    { "quota_remove", true, quota_remove_args, fn_quota_remove },
    { "vm_gpu_request", true, request_args, fn_vm_gpu_request },
    { "request_list", false, no_args, fn_request_list },
    { "request_cancel", true, vm_arg, fn_request_cancel },
    { "usage_report", false, usage_args, fn_usage_report },
    { "capacity_report", false, host_args, fn_capacity_report },
    { "metrics", false, metrics_args, fn_metrics },
    { "host_svg", false, host_args, fn_host_svg },
    { "validate_host", false, no_args, fn_validate_host },
};

const char *const plugin_function_names[] = {
    "list_gpus", "get_gpu", "host_topology", "list_pools", "create_pool", "destroy_pool",
    "set_pool_param", "add_gpu_to_pool", "remove_gpu_from_pool", "assign_gpu",
    "release_gpu", "list_assignments", "audit_log", "check_drift", "pool_sync",
    "host_evacuate_plan", "host_evacuate", "quota_set", "quota_list", "quota_remove",
    "vm_gpu_request", "request_list", "request_cancel", "usage_report",
    "capacity_report", "metrics", "host_svg", "validate_host", NULL
};

int plugin_dispatch(gp_ctx *ctx, const char *fn, const plugin_args *args,
                    json_object **result, plugin_failure *f, bool *mutating)
{
    *result = NULL;
    *mutating = false;
    for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
        const plugin_fn *p = &functions[i];
        if (strcmp(p->name, fn))
            continue;
        *mutating = p->mutating;
        for (size_t k = 0; k < args->n; k++) {
            bool known = false;
            for (const char *const *al = p->allowed; *al && !known; al++)
                known = !strcmp(*al, args->keys[k]);
            if (!known) {
                char msg[160];
                snprintf(msg, sizeof(msg), "%s takes no argument named '%.64s'", fn,
                         args->keys[k]);
                return bad_arg(f, args->keys[k], msg);
            }
        }
        gp_governance_tick(ctx, NULL);   /* leases expire when any call runs */
        if (p->run(ctx, args, result, f)) {
            json_object_put(*result);
            *result = NULL;
            return -1;
        }
        return *result ? 0 : nomem(f);
    }
    plugin_failure_set(f, "UNKNOWN_XENAPI_PLUGIN_FUNCTION", fn, NULL);
    return -1;
}
