/*
 * cmd_gpupool.c - the core xe-gpupool commands: GPUs, host, pools,
 * assignments, VMs, audit log, simulated VMs.
 *
 * Each command reads its keys, calls one libgpupool function and prints the
 * result; a library error is passed through unchanged (code, params,
 * message).  Checks here are only about the shape of arguments.
 */
#include "cli.h"

#include <errno.h>
#include <json.h>
#include <stdlib.h>
#include <string.h>

/* Fields a list shows without params= (params=all shows every field). */
static const char *const gpu_defaults[] = {
    "pci-id", "vendor-name", "device-name", "numa-node", "pool", "vm-uuid", NULL
};
static const char *const pool_defaults[] = {
    "uuid", "name-label", "name-description", "numa-policy", "pin-mode", "gpus",
    "free-gpus", NULL
};
static const char *const assignment_defaults[] = {
    "vm-uuid", "vm-name-label", "pci-id", "pool", "numa-node", "pcpus", "memory-node",
    NULL
};
static const char *const audit_defaults[] = {
    "id", "time", "caller", "operation", "object", NULL
};
/* Pool parameters pool-param-set changes (gp_pool_set_param). */
static const char *const pool_rw[] = {
    "name-label", "name-description", "numa-policy", "pin-mode", "cpu-overcommit", "cpupool",
    "placement", "cost-per-gpu-hour", "idle-release-after", "allowed-tenants", NULL
};

/* ---- helpers -------------------------------------------------------------- */

/* Append key = copy of value to r; -1 on ENOMEM. */
static int field_add(gp_record *r, const char *key, const char *value)
{
    gp_field *f = realloc(r->fields, (r->n_fields + 1) * sizeof(*f));
    if (!f)
        return -1;
    r->fields = f;
    f[r->n_fields].key = strdup(key);
    f[r->n_fields].value = strdup(value);
    if (!f[r->n_fields].key || !f[r->n_fields].value) {
        free(f[r->n_fields].key);
        free(f[r->n_fields].value);
        return -1;
    }
    r->n_fields++;
    return 0;
}

/* The record whose field key equals value, or NULL. */
static gp_record *find_record(gp_record *rs, size_t n, const char *key, const char *value)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = gp_record_get(&rs[i], key);
        if (v && !strcmp(v, value))
            return &rs[i];
    }
    return NULL;
}

/* Print one param's value, or fail with UNKNOWN_PARAMETER. */
static int print_param(xe_call *c, const gp_record *r, const char *param)
{
    const char *v = gp_record_get(r, param);
    if (!v) {
        xe_error_set(&c->err, "UNKNOWN_PARAMETER", "no parameter '%s'", param);
        xe_error_param(&c->err, "param-name", param);
        return 1;
    }
    fprintf(c->out, "%s\n", v);
    return 0;
}

/* Print one record (all fields, or params=) in xe's format. */
static int print_one(xe_call *c, const gp_record *r, const char *const *rw)
{
    xe_print_opts o = { xe_arg_get(c, "params"), NULL, rw, c->minimal };
    return xe_print_records(c->out, r, 1, &o, &c->err);
}

/* One name of a closed set (the library's table), as its index. */
static int parse_set(xe_call *c, gp_set set, const char *v, int *out)
{
    gp_error_info e;
    gp_error_info_init(&e);
    *out = gp_set_parse(set, NULL, v, &e);
    if (*out < 0)
        xe_error_from_info(&c->err, &e);
    gp_error_info_dispose(&e);
    return *out < 0;
}

static int parse_policy(xe_call *c, const char *v, gp_numa_policy *out)
{
    int i;
    if (parse_set(c, GP_SET_NUMA_POLICY, v, &i))
        return 1;
    *out = (gp_numa_policy)i;
    return 0;
}

static int parse_pin(xe_call *c, const char *v, gp_pin_mode *out)
{
    int i;
    if (parse_set(c, GP_SET_PIN_MODE, v, &i))
        return 1;
    *out = (gp_pin_mode)i;
    return 0;
}

static int parse_placement(xe_call *c, const char *v, gp_placement_strategy *out)
{
    int i;
    if (parse_set(c, GP_SET_PLACEMENT, v, &i))
        return 1;
    *out = (gp_placement_strategy)i;
    return 0;
}

static int parse_overcommit(xe_call *c, const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end) {
        xe_error_set(&c->err, "INVALID_ARGUMENT",
                     "cpu-overcommit must be a number such as 1 or 1.5, not '%s'", v);
        xe_error_param(&c->err, "cpu-overcommit", v);
        return 1;
    }
    *out = d;
    return 0;
}

/* Canonical pci-id of the pci-id= argument (PCI_ID_INVALID when malformed). */
static int arg_pci_id(xe_call *c, char buf[GP_PCI_ID_LEN])
{
    const char *v = xe_arg_get(c, "pci-id");
    gp_pci_addr a;
    gp_error_info gi;

    gp_error_info_init(&gi);
    if (gp_pci_addr_parse(v, &a, &gi)) {
        xe_error_from_info(&c->err, &gi);
        gp_error_info_dispose(&gi);
        return 1;
    }
    gp_pci_addr_format(&a, buf);
    return 0;
}

/* ---- GPUs and host -------------------------------------------------------- */

static int cmd_gpu_list(xe_call *c)
{
    gp_record *rs;
    size_t n;
    if (gp_gpu_records_on(c->ctx, xe_arg_get(c, "host"), &rs, &n))
        return xe_fail_ctx(c);
    return xe_list_records(c, rs, n, gpu_defaults, NULL);
}

/* The GPU record named by pci-id= (rs/n hold the whole list). */
static gp_record *gpu_lookup(xe_call *c, gp_record **rs, size_t *n)
{
    char id[GP_PCI_ID_LEN];
    gp_record *r;

    *rs = NULL;
    *n = 0;
    if (arg_pci_id(c, id))
        return NULL;
    /* This host's GPU unless host= names another. */
    if (xe_arg_get(c, "host") ? gp_gpu_records_on(c->ctx, xe_arg_get(c, "host"), rs, n)
                              : gp_gpu_records(c->ctx, rs, n)) {
        xe_fail_ctx(c);
        return NULL;
    }
    r = find_record(*rs, *n, "pci-id", id);
    if (!r) {
        xe_error_set(&c->err, "UNKNOWN_GPU", "no GPU %s on this host", id);
        xe_error_param(&c->err, "pci-id", id);
    }
    return r;
}

static int cmd_gpu_param_list(xe_call *c)
{
    gp_record *rs;
    size_t n;
    int rc = 1;
    gp_record *r = gpu_lookup(c, &rs, &n);
    if (r)
        rc = print_one(c, r, NULL);
    gp_record_list_free(rs, n);
    return rc;
}

static int cmd_gpu_param_get(xe_call *c)
{
    gp_record *rs;
    size_t n;
    int rc = 1;
    gp_record *r = gpu_lookup(c, &rs, &n);
    if (r)
        rc = print_param(c, r, xe_arg_get(c, "param-name"));
    gp_record_list_free(rs, n);
    return rc;
}

static int cmd_host_show(xe_call *c)
{
    gp_record *rs;
    size_t n;
    if (gp_host_records(c->ctx, &rs, &n))
        return xe_fail_ctx(c);
    return xe_list_records(c, rs, n, NULL, NULL);
}

static int cmd_host_draw(xe_call *c)
{
    const char *host = xe_arg_get(c, "host");
    if (gp_host_draw_file(c->ctx, host && *host ? host : NULL, xe_arg_get(c, "out")))
        return xe_fail_ctx(c);
    return 0;
}

/* host-validate [format=json|--format=json] [params=] [<field>=<value> ...]:
 * one record per check; exit 0 when no check failed, XE_EXIT_FAILED_CHECKS
 * (2) when one did (whatever the filters show), 1 on an error. */
static int cmd_host_validate(xe_call *c)
{
    static const char *const defaults[] = { "id", "subject", "status", "evidence", "remedy",
                                            NULL };
    const char *fmt = xe_arg_get(c, "format");
    gp_check *cs = NULL;
    size_t n = 0, n_fail = 0;
    gp_record *rs = NULL;
    size_t n_rs = 0;
    int rc;

    if (fmt && strcmp(fmt, "json") && strcmp(fmt, "records"))
        return xe_error_set(&c->err, "INVALID_ARGUMENT", "format is records or json");
    if (gp_host_validate(c->ctx, &cs, &n, &n_fail))
        return xe_fail_ctx(c);
    if (fmt && !strcmp(fmt, "json")) {
        json_object *arr = gp_checks_json(cs, n);
        if (!arr) {
            gp_check_list_free(cs, n);
            return xe_error_set(&c->err, "OUT_OF_MEMORY", "out of memory");
        }
        fprintf(c->out, "%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                                     JSON_C_TO_STRING_SPACED |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(arr);
        rc = 0;
    } else if (gp_check_records(cs, n, &rs, &n_rs)) {
        rc = xe_error_set(&c->err, "OUT_OF_MEMORY", "out of memory");
    } else {
        rc = xe_list_records(c, rs, n_rs, defaults, NULL);
    }
    gp_check_list_free(cs, n);
    return rc == 0 && n_fail ? XE_EXIT_FAILED_CHECKS : rc;
}

/* ---- pools ---------------------------------------------------------------- */

static int cmd_pool_create(xe_call *c)
{
    gp_pool_spec spec;
    const char *v;
    char uuid[37];

    gp_pool_spec_init(&spec);
    spec.name_label = xe_arg_get(c, "name-label");
    spec.description = xe_arg_get(c, "name-description");
    spec.cpupool = xe_arg_get(c, "cpupool");  /* NULL: the library's default */
    if ((v = xe_arg_get(c, "numa-policy")) && parse_policy(c, v, &spec.policy))
        return 1;
    if ((v = xe_arg_get(c, "pin-mode")) && parse_pin(c, v, &spec.pin))
        return 1;
    if ((v = xe_arg_get(c, "placement")) && parse_placement(c, v, &spec.placement))
        return 1;
    if ((v = xe_arg_get(c, "cpu-overcommit")) && parse_overcommit(c, v, &spec.cpu_overcommit))
        return 1;
    if (gp_pool_create_ex(c->ctx, &spec, uuid))
        return xe_fail_ctx(c);
    fprintf(c->out, "%s\n", uuid);
    return 0;
}

static int cmd_pool_destroy(xe_call *c)
{
    if (gp_pool_destroy(c->ctx, xe_arg_get(c, "pool|uuid")))
        return xe_fail_ctx(c);
    return 0;
}

static int cmd_pool_list(xe_call *c)
{
    gp_record *rs;
    size_t n;
    if (gp_pool_records_on(c->ctx, xe_arg_get(c, "host"), &rs, &n))
        return xe_fail_ctx(c);
    return xe_list_records(c, rs, n, pool_defaults, pool_rw);
}

/* The pool record named by pool= / uuid= (uuid, else name-label; on an
 * XCP-ng pool from the pool-wide list). */
static gp_record *pool_lookup(xe_call *c, gp_record **rs, size_t *n)
{
    const char *want = xe_arg_get(c, "pool|uuid");
    gp_record *r;

    *rs = NULL;
    *n = 0;
    if (gp_pool_records_on(c->ctx, NULL, rs, n)) {
        xe_fail_ctx(c);
        return NULL;
    }
    r = want ? find_record(*rs, *n, "uuid", want) : NULL;
    if (!r && want)
        r = find_record(*rs, *n, "name-label", want);
    if (!r) {
        xe_error_set(&c->err, "UNKNOWN_POOL", "no pool %s", want ? want : "");
        xe_error_param(&c->err, "pool", want ? want : "");
    }
    return r;
}

static int cmd_pool_param_list(xe_call *c)
{
    gp_record *rs;
    size_t n;
    int rc = 1;
    gp_record *r = pool_lookup(c, &rs, &n);
    if (r)
        rc = print_one(c, r, pool_rw);
    gp_record_list_free(rs, n);
    return rc;
}

static int cmd_pool_param_get(xe_call *c)
{
    gp_record *rs;
    size_t n;
    int rc = 1;
    gp_record *r = pool_lookup(c, &rs, &n);
    if (r)
        rc = print_param(c, r, xe_arg_get(c, "param-name"));
    gp_record_list_free(rs, n);
    return rc;
}

static int cmd_pool_param_set(xe_call *c)
{
    const char *pool = xe_arg_get(c, "pool|uuid");
    size_t n_set = 0;

    /* Check every key and value first so a typo changes nothing. */
    for (size_t i = 0; i < c->n_args; i++) {
        const char *k = c->args[i].key, *v = c->args[i].value;
        gp_numa_policy np;
        gp_pin_mode pm;
        gp_placement_strategy ps;
        double d;
        if (!strcmp(k, "pool") || !strcmp(k, "uuid"))
            continue;
        if (!xe_key_in(k, pool_rw)) {
            xe_error_set(&c->err, "UNKNOWN_PARAMETER",
                         "pool parameter '%s' does not exist or cannot be set", k);
            xe_error_param(&c->err, "param-name", k);
            return 1;
        }
        if ((!strcmp(k, "numa-policy") && parse_policy(c, v, &np)) ||
            (!strcmp(k, "pin-mode") && parse_pin(c, v, &pm)) ||
            (!strcmp(k, "placement") && parse_placement(c, v, &ps)) ||
            (!strcmp(k, "cpu-overcommit") && parse_overcommit(c, v, &d)))
            return 1;
        n_set++;
    }
    if (!n_set) {
        xe_error_set(&c->err, "MISSING_PARAMETER",
                     "pool-param-set needs a <param>=<value> (name-label, name-description, "
                     "numa-policy, pin-mode, cpu-overcommit, cpupool, placement)");
        xe_error_param(&c->err, "param-name", "name-label/name-description/numa-policy/"
                       "pin-mode/cpu-overcommit/cpupool/placement");
        return 1;
    }
    /* Address the pool by uuid: a new name-label must not lose it. */
    gp_pool p;
    int rc = 0;
    gp_pool_init(&p);
    if (gp_pool_get(c->ctx, pool, &p)) {
        rc = xe_fail_ctx(c);
        goto out;
    }
    for (size_t i = 0; i < c->n_args; i++) {
        const char *k = c->args[i].key;
        if (!strcmp(k, "pool") || !strcmp(k, "uuid"))
            continue;
        if (gp_pool_set_param(c->ctx, p.uuid, k, c->args[i].value)) {
            rc = xe_fail_ctx(c);
            goto out;
        }
    }
out:
    gp_pool_dispose(&p);
    return rc;
}

static int cmd_pool_gpu_add(xe_call *c)
{
    if (gp_pool_gpu_add_on(c->ctx, xe_arg_get(c, "pool"), xe_arg_get(c, "pci-id"),
                           xe_arg_get(c, "host")))
        return xe_fail_ctx(c);
    return 0;
}

static int cmd_pool_gpu_remove(xe_call *c)
{
    if (gp_pool_gpu_remove_on(c->ctx, xe_arg_get(c, "pool"), xe_arg_get(c, "pci-id"),
                              xe_arg_get(c, "host")))
        return xe_fail_ctx(c);
    return 0;
}

/* ---- assignments ---------------------------------------------------------- */

/* Append the field moved-vms to r: "<vm-uuid> -> <pci-id> (node N)" of each
 * VM the assignment moved to make room, "; "-separated, "" when none.
 * Returns 0, or -1 when out of memory. */
static int add_moved_vms(gp_record *r, const gp_assignment *moved, size_t n)
{
    char *v = strdup("");
    for (size_t i = 0; v && i < n; i++) {
        char *nv = NULL;
        if (asprintf(&nv, "%s%s%s -> %s (node %d)", v, i ? "; " : "", moved[i].vm_uuid,
                     moved[i].pci_id, moved[i].numa_node) < 0)
            nv = NULL;
        free(v);
        v = nv;
    }
    int rc = v ? field_add(r, "moved-vms", v) : -1;
    free(v);
    return rc;
}

/* lease=<duration> (90m, 12h, 7d) into *secs; 0 when absent. */
static int lease_arg(xe_call *c, int64_t *secs)
{
    const char *v = xe_arg_get(c, "lease");
    *secs = 0;
    if (v && (gp_duration_parse(v, secs) || *secs <= 0)) {
        xe_error_set(&c->err, "INVALID_ARGUMENT",
                     "lease is a duration such as 90m, 12h or 7d, not '%s'", v);
        xe_error_param(&c->err, "lease", v);
        return 1;
    }
    return 0;
}

static int cmd_vm_gpu_assign(xe_call *c)
{
    gp_assign_args a = { 0 };
    gp_assignment as;
    gp_assignment *moved = NULL;
    size_t n_moved = 0;
    gp_record r;
    long long vcpus = 0, mem = 0;
    int rc = 1;

    a.pool = xe_arg_get(c, "pool");
    a.pci_id = xe_arg_get(c, "pci-id");
    a.host = xe_arg_get(c, "host");
    a.tenant = xe_arg_get(c, "tenant");
    if (!a.pool && !a.pci_id) {
        xe_error_set(&c->err, "MISSING_PARAMETER", "vm-gpu-assign needs pool= (or pci-id=)");
        xe_error_param(&c->err, "param-name", "pool");
        return 1;
    }
    if (xe_arg_long(c, "vcpus", 1, 4096, &vcpus) ||
        xe_arg_long(c, "memory", 1, 1LL << 40, &mem))
        return 1;
    a.vcpus = (int)vcpus;
    a.memory_mib = (uint64_t)mem;
    if (lease_arg(c, &a.lease_seconds))
        return 1;

    gp_assignment_init(&as);
    gp_record_init(&r);
    if (gp_vm_gpu_assign_ex(c->ctx, xe_arg_get(c, "vm"), &a, &as, &moved, &n_moved)) {
        xe_fail_ctx(c);
        goto out;
    }
    if (gp_placement_record(&as, &r) || add_moved_vms(&r, moved, n_moved)) {
        xe_error_set(&c->err, "OUT_OF_MEMORY", "out of memory");
        goto out;
    }
    rc = print_one(c, &r, NULL);
out:
    gp_record_dispose(&r);
    gp_assignment_dispose(&as);
    gp_assignment_list_free(moved, n_moved);
    return rc;
}

static int cmd_vm_gpu_release(xe_call *c)
{
    if (gp_vm_gpu_release(c->ctx, xe_arg_get(c, "vm")))
        return xe_fail_ctx(c);
    return 0;
}

static int cmd_assignment_list(xe_call *c)
{
    gp_record *rs;
    size_t n;
    if (gp_assignment_records_on(c->ctx, xe_arg_get(c, "host"), &rs, &n))
        return xe_fail_ctx(c);
    return xe_list_records(c, rs, n, assignment_defaults, NULL);
}

/* ---- the XCP-ng pool ------------------------------------------------------ */

static int cmd_pool_sync(xe_call *c)
{
    gp_sync_report r;
    gp_record rec;
    if (gp_pool_sync(c->ctx, &r))
        return xe_fail_ctx(c);
    gp_record_init(&rec);
    const char *keys[] = { "facts-published", "pools-pulled", "pools-pruned", "pools-pushed",
                           "members-pulled", "members-pushed", "assignments-pulled",
                           "assignments-pushed", "assignments-dropped", "skipped" };
    size_t vals[] = { r.facts_published, r.pools_pulled, r.pools_pruned, r.pools_pushed,
                      r.members_pulled, r.members_pushed, r.assignments_pulled,
                      r.assignments_pushed, r.assignments_dropped, r.skipped };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char buf[32];
        if (i == 0)
            snprintf(buf, sizeof(buf), "%s", r.facts_published ? "true" : "false");
        else
            snprintf(buf, sizeof(buf), "%zu", vals[i]);
        if (field_add(&rec, keys[i], buf)) {
            gp_record_dispose(&rec);
            return xe_error_set(&c->err, "OUT_OF_MEMORY", "out of memory");
        }
    }
    int rc = print_one(c, &rec, NULL);
    gp_record_dispose(&rec);
    return rc;
}

static const char *const evac_defaults[] = {
    "vm-uuid", "vm-name-label", "power-state", "from-pci-id", "action", "to-host", "to-pci-id",
    "to-numa-node", "reason", NULL
};

static int evac_print(xe_call *c, gp_evacuation *v, size_t n)
{
    gp_record *rs = calloc(n ? n : 1, sizeof(*rs));
    if (!rs)
        return xe_error_set(&c->err, "OUT_OF_MEMORY", "out of memory");
    for (size_t i = 0; i < n; i++)
        if (gp_evacuation_record(&v[i], &rs[i])) {
            gp_record_list_free(rs, i);
            return xe_error_set(&c->err, "OUT_OF_MEMORY", "out of memory");
        }
    return xe_list_records(c, rs, n, evac_defaults, NULL);
}

static int cmd_host_evacuate_plan(xe_call *c)
{
    gp_evacuation *v = NULL;
    size_t n = 0;
    int rc;
    if (gp_host_evacuate_plan(c->ctx, xe_arg_get(c, "host"), &v, &n))
        return xe_fail_ctx(c);
    rc = evac_print(c, v, n);
    gp_evacuation_list_free(v, n);
    return rc;
}

static int cmd_host_evacuate(xe_call *c)
{
    const char *apply = xe_arg_get(c, "apply");
    gp_evacuation *v = NULL;
    size_t n = 0;
    int rc, lrc;
    if (apply && strcmp(apply, "true") && strcmp(apply, "false")) {
        xe_error_set(&c->err, "INVALID_ARGUMENT", "apply must be true or false");
        xe_error_param(&c->err, "apply", apply);
        return 1;
    }
    if (!apply || strcmp(apply, "true"))
        return cmd_host_evacuate_plan(c);
    lrc = gp_host_evacuate(c->ctx, xe_arg_get(c, "host"), &v, &n);
    if (lrc && !v)
        return xe_fail_ctx(c);
    rc = evac_print(c, v, n);
    gp_evacuation_list_free(v, n);
    if (lrc)
        return xe_fail_ctx(c);
    return rc;
}

/* ---- governance ------------------------------------------------------------ */

static const char *const quota_defaults[] = { "tenant", "pool", "gpus", "used", NULL };

static int cmd_quota_list(xe_call *c)
{
    gp_record *rs;
    size_t n;
    if (gp_quota_records(c->ctx, &rs, &n))
        return xe_fail_ctx(c);
    return xe_list_records(c, rs, n, quota_defaults, NULL);
}

static int cmd_quota_set(xe_call *c)
{
    long long gpus = 0;
    if (xe_arg_long(c, "gpus", 0, 100000, &gpus))
        return 1;
    if (gp_quota_set(c->ctx, xe_arg_get(c, "tenant"), xe_arg_get(c, "pool"), (int)gpus))
        return xe_fail_ctx(c);
    return 0;
}


static const char *const request_defaults[] = { "position", "vm-uuid", "tenant", "priority",
                                                "wait-seconds", "pool", NULL };

static int cmd_request_list(xe_call *c)
{
    gp_record *rs;
    size_t n;
    if (gp_request_records(c->ctx, &rs, &n))
        return xe_fail_ctx(c);
    return xe_list_records(c, rs, n, request_defaults, NULL);
}

/* Assigned now: the assignment's record; queued: the request's, exit 0. */
static int cmd_vm_gpu_request(xe_call *c)
{
    gp_request_args ra;
    gp_assignment as;
    gp_request rq;
    gp_record r;
    bool queued = false;
    long long prio = 0, vcpus = 0, mem = 0;
    int rc = 1;

    if (xe_arg_long(c, "priority", 0, GP_QUEUE_PRIORITY_MAX, &prio) ||
        xe_arg_long(c, "vcpus", 1, 4096, &vcpus) || xe_arg_long(c, "memory", 1, 1LL << 40, &mem))
        return 1;
    memset(&ra, 0, sizeof(ra));
    ra.pool = xe_arg_get(c, "pool");
    ra.tenant = xe_arg_get(c, "tenant");
    ra.priority = (int)prio;
    ra.vcpus = (int)vcpus;
    ra.memory_mib = (uint64_t)mem;
    ra.on_behalf_of = xe_arg_get(c, "on-behalf-of");
    if (lease_arg(c, &ra.lease_seconds))
        return 1;
    gp_assignment_init(&as);
    memset(&rq, 0, sizeof(rq));
    gp_record_init(&r);
    if (gp_vm_gpu_request(c->ctx, xe_arg_get(c, "vm"), &ra, &as, &rq, &queued)) {
        xe_fail_ctx(c);
        goto out;
    }
    if (!queued) {
        if (gp_placement_record(&as, &r)) {
            xe_error_set(&c->err, "OUT_OF_MEMORY", "out of memory");
            goto out;
        }
    } else {
        char pos[24], prio_s[8];
        snprintf(pos, sizeof(pos), "%zu", rq.position);
        snprintf(prio_s, sizeof(prio_s), "%d", rq.priority);
        if (field_add(&r, "queued", "true") || field_add(&r, "position", pos) ||
            field_add(&r, "vm-uuid", rq.vm_uuid) ||
            field_add(&r, "tenant", rq.tenant ? rq.tenant : "") ||
            field_add(&r, "priority", prio_s) ||
            field_add(&r, "pool", rq.pool_name_label ? rq.pool_name_label : rq.pool_uuid)) {
            xe_error_set(&c->err, "OUT_OF_MEMORY", "out of memory");
            goto out;
        }
    }
    rc = print_one(c, &r, NULL);
out:
    gp_record_dispose(&r);
    gp_assignment_dispose(&as);
    free(rq.pool_name_label);
    free(rq.tenant);
    free(rq.requested_by);
    free(rq.on_behalf_of);
    return rc;
}

/* usage-report from= to= group-by=tenant|pool|vm [format=table|csv|json]:
 * GPU-hours held and running in the window (ISO 8601 UTC). */
static int cmd_usage_report(xe_call *c)
{
    static const char *const groups[] = { "tenant", "pool", "vm" };
    static const char *const keys[] = { "tenant", "pool", "vm-uuid" };
    const char *from_s = xe_arg_get(c, "from"), *to_s = xe_arg_get(c, "to");
    const char *g = xe_arg_get(c, "group-by"), *fmt = xe_arg_get(c, "format");
    int64_t from, to;
    int group = -1, rc = 1;
    gp_usage_row *rows = NULL;
    size_t n = 0;

    for (int i = 0; i < 3; i++)
        if (g && !strcmp(g, groups[i]))
            group = i;
    if (!g)
        group = 0;
    if (group < 0 || (fmt && strcmp(fmt, "table") && strcmp(fmt, "csv") && strcmp(fmt, "json"))) {
        xe_error_set(&c->err, "INVALID_ARGUMENT",
                     "group-by is tenant, pool or vm; format is table, csv or json");
        return 1;
    }
    if (gp_time_parse(from_s, &from) || gp_time_parse(to_s, &to)) {
        xe_error_set(&c->err, "INVALID_ARGUMENT",
                     "from= and to= are ISO 8601 UTC times, e.g. 2026-12-01T00:00:00Z");
        return 1;
    }
    if (gp_usage_report(c->ctx, from, to, (gp_usage_group)group, &rows, &n))
        return xe_fail_ctx(c);
    if (fmt && !strcmp(fmt, "csv")) {
        fprintf(c->out, "%s,gpu-hours-held,gpu-hours-running,cost\n", keys[group]);
        for (size_t i = 0; i < n; i++) {
            /* RFC 4180: a key with a comma, quote or line break is quoted. */
            const char *k = rows[i].key;
            if (strpbrk(k, ",\"\r\n")) {
                fputc('"', c->out);
                for (; *k; k++) {
                    if (*k == '"')
                        fputc('"', c->out);
                    fputc(*k, c->out);
                }
                fputc('"', c->out);
            } else {
                fputs(k, c->out);
            }
            fprintf(c->out, ",%.6f,%.6f,", rows[i].held_seconds / 3600.0,
                    rows[i].running_seconds / 3600.0);
            if (rows[i].has_cost)
                fprintf(c->out, "%.2f", rows[i].cost);
            fputc('\n', c->out);
        }
        rc = 0;
    } else if (fmt && !strcmp(fmt, "json")) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; arr && i < n; i++) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, group == 2 ? "vm_uuid" : keys[group],
                                   json_object_new_string(rows[i].key));
            json_object_object_add(o, "gpu_seconds_held",
                                   json_object_new_int64(rows[i].held_seconds));
            json_object_object_add(o, "gpu_seconds_running",
                                   json_object_new_int64(rows[i].running_seconds));
            json_object_object_add(o, "cost", rows[i].has_cost
                                                  ? json_object_new_double(rows[i].cost) : NULL);
            json_object_array_add(arr, o);
        }
        fprintf(c->out, "%s\n", arr ? json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN)
                                     : "[]");
        json_object_put(arr);
        rc = 0;
    } else {
        gp_record *rs = calloc(n ? n : 1, sizeof(*rs));
        if (!rs) {
            gp_usage_rows_free(rows, n);
            return xe_error_set(&c->err, "OUT_OF_MEMORY", "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            char held[32], run[32], hs[32], rs_[32], cost[32] = "";
            if (rows[i].has_cost)
                snprintf(cost, sizeof(cost), "%.2f", rows[i].cost);
            snprintf(held, sizeof(held), "%.6f", rows[i].held_seconds / 3600.0);
            snprintf(run, sizeof(run), "%.6f", rows[i].running_seconds / 3600.0);
            snprintf(hs, sizeof(hs), "%lld", (long long)rows[i].held_seconds);
            snprintf(rs_, sizeof(rs_), "%lld", (long long)rows[i].running_seconds);
            gp_record_init(&rs[i]);
            if (field_add(&rs[i], keys[group], rows[i].key) ||
                field_add(&rs[i], "gpu-hours-held", held) ||
                field_add(&rs[i], "gpu-hours-running", run) ||
                field_add(&rs[i], "gpu-seconds-held", hs) ||
                field_add(&rs[i], "gpu-seconds-running", rs_) ||
                field_add(&rs[i], "cost", cost)) {
                gp_record_list_free(rs, i + 1);
                gp_usage_rows_free(rows, n);
                return xe_error_set(&c->err, "OUT_OF_MEMORY", "out of memory");
            }
        }
        rc = xe_list_records(c, rs, n, NULL, NULL);
    }
    gp_usage_rows_free(rows, n);
    return rc;
}

/* capacity-report [host=] [format=table|json]: free, stranded and held GPUs
 * per pool and node, and the largest VM still placeable NUMA-local. */
static int cmd_capacity_report(xe_call *c)
{
    const char *fmt = xe_arg_get(c, "format");
    gp_capacity *cap = NULL;
    gp_record *rs = NULL;
    size_t n = 0;
    int rc;

    if (fmt && strcmp(fmt, "table") && strcmp(fmt, "json"))
        return xe_error_set(&c->err, "INVALID_ARGUMENT", "format is table or json");
    if (gp_capacity_get(c->ctx, xe_arg_get(c, "host"), &cap))
        return xe_fail_ctx(c);
    if (fmt && !strcmp(fmt, "json")) {
        json_object *o = gp_capacity_json(cap);
        gp_capacity_free(cap);
        if (!o)
            return xe_error_set(&c->err, "OUT_OF_MEMORY", "out of memory");
        fprintf(c->out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return 0;
    }
    rc = gp_capacity_records(cap, &rs, &n);
    gp_capacity_free(cap);
    if (rc)
        return xe_error_set(&c->err, "OUT_OF_MEMORY", "out of memory");
    return xe_list_records(c, rs, n, NULL, NULL);
}

/* metrics [out=FILE] [hostname=]: the Prometheus text format on stdout, or
 * written atomically to FILE (node_exporter's textfile collector). */
static int cmd_metrics(xe_call *c)
{
    const char *out = xe_arg_get(c, "out"), *hn = xe_arg_get(c, "hostname");
    char *text = NULL;

    if (out) {
        if (gp_metrics_write(c->ctx, hn, out))
            return xe_fail_ctx(c);
        return 0;
    }
    if (gp_metrics_text(c->ctx, hn, &text))
        return xe_fail_ctx(c);
    fputs(text, c->out);
    free(text);
    return 0;
}

static int cmd_request_cancel(xe_call *c)
{
    if (gp_request_cancel(c->ctx, xe_arg_get(c, "vm")))
        return xe_fail_ctx(c);
    return 0;
}

static int cmd_quota_remove(xe_call *c)
{
    if (gp_quota_remove(c->ctx, xe_arg_get(c, "tenant"), xe_arg_get(c, "pool")))
        return xe_fail_ctx(c);
    return 0;
}

/* ---- VMs and audit -------------------------------------------------------- */

static int cmd_vm_list(xe_call *c)
{
    gp_record *rs;
    size_t n;
    if (gp_vm_records(c->ctx, &rs, &n))
        return xe_fail_ctx(c);
    return xe_list_records(c, rs, n, NULL, NULL);
}

static int cmd_audit_list(xe_call *c)
{
    long long since = 0, limit = 0;
    gp_record *rs;
    size_t n;

    if (xe_arg_long(c, "since", 0, INT64_MAX, &since) ||
        xe_arg_long(c, "limit", 0, 1LL << 40, &limit))
        return 1;
    if (gp_audit_records(c->ctx, since, (size_t)limit, &rs, &n))
        return xe_fail_ctx(c);
    return xe_list_records(c, rs, n, audit_defaults, NULL);
}

static int cmd_sim_vm_create(xe_call *c)
{
    long long vcpus = 0, mem = 0;
    char uuid[37];

    if (xe_arg_long(c, "vcpus", 1, 4096, &vcpus) ||
        xe_arg_long(c, "memory", 1, 1LL << 40, &mem))
        return 1;
    if (gp_sim_vm_create(c->ctx, xe_arg_get(c, "name-label"), (int)vcpus,
                         (uint64_t)mem, uuid))
        return xe_fail_ctx(c);
    fprintf(c->out, "%s\n", uuid);
    return 0;
}

#define SIM_VM_CMD(fn, libfn)                                                   \
    static int fn(xe_call *c)                                                   \
    {                                                                           \
        if (libfn(c->ctx, xe_arg_get(c, "vm")))                                 \
            return xe_fail_ctx(c);                                              \
        return 0;                                                               \
    }
SIM_VM_CMD(cmd_sim_vm_start, gp_sim_vm_start)
SIM_VM_CMD(cmd_sim_vm_pause, gp_sim_vm_pause)
SIM_VM_CMD(cmd_sim_vm_shutdown, gp_sim_vm_shutdown)
SIM_VM_CMD(cmd_sim_vm_destroy, gp_sim_vm_destroy)

/* ---- the table ------------------------------------------------------------ */

#define KEYS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NOKEYS NULL

static const struct xe_cmd core_cmds[] = {
    { "gpu-list", "[host=<name-label|uuid>] [params=a,b|all] [<field>=<value> ...]",
      "list the GPUs (of every host of an XCP-ng pool; filters: pool=training numa-node=1 ...)",
      NOKEYS, KEYS("host"), XE_CMD_LIST, cmd_gpu_list },
    { "gpu-param-list", "pci-id=<SBDF> [host=] [params=]", "every fact about one GPU",
      KEYS("pci-id"), KEYS("params", "host"), 0, cmd_gpu_param_list },
    { "gpu-param-get", "pci-id=<SBDF> [host=] param-name=<field>", "one fact about one GPU",
      KEYS("pci-id", "param-name"), KEYS("host"), 0, cmd_gpu_param_get },
    { "host-show", "[params=] [<field>=<value> ...]",
      "the host's NUMA nodes: sockets, pCPUs, memory, GPUs, distances",
      NOKEYS, NOKEYS, XE_CMD_LIST, cmd_host_show },
    { "host-draw", "out=<file.svg> [host=<name-label|uuid>]",
      "draw the host (every host of an XCP-ng pool) as SVG: sockets, NUMA nodes, pCPUs "
      "coloured by VM, memory, GPUs with pool and VM; written atomically",
      KEYS("out"), KEYS("host"), 0, cmd_host_draw },
    { "host-validate", "[format=json|--format=json] [params=] [<field>=<value> ...]",
      "check the host for GPU passthrough (IOMMU, links, paths, NUMA, reset, drivers, BARs, "
      "NICs); exit 2 when a check fails",
      NOKEYS, KEYS("format"), XE_CMD_LIST, cmd_host_validate },
    { "pool-create",
      "name-label=<name> [name-description=] [numa-policy=required|preferred|socket|legacy] "
      "[pin-mode=hard|soft|none] [cpu-overcommit=<ratio>] [cpupool=<Xen cpupool>] "
      "[placement=pack|spread]",
      "create a GPU pool; prints its uuid",
      KEYS("name-label"), KEYS("name-description", "numa-policy", "pin-mode",
                               "cpu-overcommit", "cpupool", "placement"), 0, cmd_pool_create },
    { "pool-destroy", "pool=<uuid|name-label>", "destroy an empty pool",
      KEYS("pool|uuid"), NOKEYS, 0, cmd_pool_destroy },
    { "pool-list", "[host=] [params=] [<field>=<value> ...]",
      "list the pools (members as <pci-id>@<host> on an XCP-ng pool)",
      NOKEYS, KEYS("host"), XE_CMD_LIST, cmd_pool_list },
    { "pool-param-list", "pool=<uuid|name-label> [params=]", "every parameter of one pool",
      KEYS("pool|uuid"), KEYS("params"), 0, cmd_pool_param_list },
    { "pool-param-get", "pool=<uuid|name-label> param-name=<field>",
      "one parameter of one pool",
      KEYS("pool|uuid", "param-name"), NOKEYS, 0, cmd_pool_param_get },
    { "pool-param-set", "pool=<uuid|name-label> <param>=<value> ...",
      "set name-label, name-description, numa-policy, pin-mode, cpu-overcommit, cpupool or "
      "placement",
      KEYS("pool|uuid"), pool_rw, XE_CMD_ANYKEYS, cmd_pool_param_set },
    { "pool-gpu-add", "pool=<uuid|name-label> pci-id=<SBDF> [host=<name-label|uuid>]",
      "put a GPU (and its companions) of this host, or of host=, in a pool",
      KEYS("pool", "pci-id"), KEYS("host"), 0, cmd_pool_gpu_add },
    { "pool-gpu-remove", "[pool=<uuid|name-label>] pci-id=<SBDF> [host=]",
      "take an unassigned GPU out of its pool",
      KEYS("pci-id"), KEYS("pool", "host"), 0, cmd_pool_gpu_remove },
    { "vm-gpu-assign",
      "vm=<uuid|name-label> pool=<uuid|name-label> [pci-id=] [host=] [tenant=] [vcpus=] "
      "[memory=<MiB>] [lease=<duration>]",
      "give a halted VM a GPU of the pool with NUMA-local vCPUs and memory, on the best host "
      "of an XCP-ng pool (moving halted VMs of a required pool when that makes room)",
      KEYS("vm"), KEYS("pool", "pci-id", "host", "tenant", "vcpus", "memory", "lease"), 0,
      cmd_vm_gpu_assign },
    { "vm-gpu-release", "vm=<uuid|name-label>", "take the GPU back from a halted VM",
      KEYS("vm"), NOKEYS, 0, cmd_vm_gpu_release },
    { "assignment-list", "[host=] [params=] [<field>=<value> ...]",
      "list assignments: VM, GPU, NUMA node, pCPUs, memory node (and host)",
      NOKEYS, KEYS("host"), XE_CMD_LIST, cmd_assignment_list },
    { "quota-set", "tenant=<name> pool=<uuid|name-label> gpus=<n>",
      "limit the GPUs of a pool a tenant holds, running or not (QUOTA_EXCEEDED beyond)",
      KEYS("tenant", "pool", "gpus"), NOKEYS, 0, cmd_quota_set },
    { "quota-list", "[params=] [<field>=<value> ...]", "the quotas and what each tenant holds",
      NOKEYS, NOKEYS, XE_CMD_LIST, cmd_quota_list },
    { "quota-remove", "tenant=<name> pool=<uuid|name-label>", "no limit again",
      KEYS("tenant", "pool"), NOKEYS, 0, cmd_quota_remove },
    { "vm-gpu-request",
      "vm=<uuid|name-label> pool=<uuid|name-label> [priority=0..9] [tenant=] [on-behalf-of=] "
      "[vcpus=] [memory=<MiB>] [lease=<duration>]",
      "assign a GPU now if one fits, else queue the request (exit 0 either way)",
      KEYS("vm", "pool"), KEYS("priority", "tenant", "on-behalf-of", "vcpus", "memory", "lease"), 0,
      cmd_vm_gpu_request },
    { "request-list", "[params=] [<field>=<value> ...]",
      "the queue in serving order: position, tenant, priority, wait-seconds",
      NOKEYS, NOKEYS, XE_CMD_LIST, cmd_request_list },
    { "usage-report",
      "from=<ISO 8601 UTC> to=<ISO 8601 UTC> [group-by=tenant|pool|vm] [format=table|csv|json]",
      "GPU-hours held and running in the window, per tenant, pool or VM",
      KEYS("from", "to"), KEYS("group-by", "format", "params"), 0, cmd_usage_report },
    { "capacity-report", "[host=] [format=table|json] [params=]",
      "per pool and NUMA node: free, stranded (no pCPUs / memory for the pool's smallest "
      "recent VM) and held GPUs, how long halted VMs hold theirs, the largest VM still "
      "placeable NUMA-local",
      NOKEYS, KEYS("host", "format", "params"), 0, cmd_capacity_report },
    { "metrics", "[out=<file>] [hostname=<label>]",
      "Prometheus metrics (text format 0.0.4) on stdout, or written atomically to out= for "
      "node_exporter's textfile collector",
      NOKEYS, KEYS("out", "hostname"), 0, cmd_metrics },
    { "request-cancel", "vm=<uuid|name-label>", "withdraw a VM's queued request",
      KEYS("vm"), NOKEYS, 0, cmd_request_cancel },
    { "pool-sync", "",
      "XCP-ng: publish this host's facts and rebuild its database from xapi's pool-wide state",
      NOKEYS, NOKEYS, 0, cmd_pool_sync },
    { "host-evacuate-plan", "host=<name-label|uuid> [params=]",
      "XCP-ng: where each VM holding a GPU of the host would go, or why it cannot",
      KEYS("host"), KEYS("params"), 0, cmd_host_evacuate_plan },
    { "host-evacuate", "host=<name-label|uuid> [apply=true] [params=]",
      "XCP-ng: move the assignments of the host's halted VMs to other hosts (without "
      "apply=true: the plan)",
      KEYS("host"), KEYS("apply", "params"), 0, cmd_host_evacuate },
    { "audit-list", "[since=<id>] [limit=<n>] [params=] [<field>=<value> ...]",
      "the audit log, oldest first",
      NOKEYS, KEYS("since", "limit"), XE_CMD_LIST, cmd_audit_list },
    { "vm-list", "[params=] [<field>=<value> ...]", "list the VMs the driver knows",
      NOKEYS, NOKEYS, XE_CMD_LIST, cmd_vm_list },
    { "sim-vm-create", "name-label=<name> vcpus=<n> memory=<MiB>",
      "create a halted simulated VM (sim driver); prints its uuid",
      KEYS("name-label", "vcpus", "memory"), NOKEYS, 0, cmd_sim_vm_create },
    { "sim-vm-start", "vm=<uuid|name-label>", "start a simulated VM",
      KEYS("vm"), NOKEYS, 0, cmd_sim_vm_start },
    { "sim-vm-pause", "vm=<uuid|name-label>", "pause a running simulated VM",
      KEYS("vm"), NOKEYS, 0, cmd_sim_vm_pause },
    { "sim-vm-shutdown", "vm=<uuid|name-label>", "halt a running or paused simulated VM",
      KEYS("vm"), NOKEYS, 0, cmd_sim_vm_shutdown },
    { "sim-vm-destroy", "vm=<uuid|name-label>", "delete a halted simulated VM without a GPU",
      KEYS("vm"), NOKEYS, 0, cmd_sim_vm_destroy },
};

const struct xe_cmd_table xe_cmds_core = {
    core_cmds, sizeof(core_cmds) / sizeof(core_cmds[0])
};
