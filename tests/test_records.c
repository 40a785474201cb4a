/*
 * test_records.c - gp_record_* and the record builders of records.c, and
 * xe-gpupool's output formatter (xe-cli/output.c, compiled in here: the
 * formatter is pure and has no library state).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "gpupool.h"
#include "gptest.h"
#include "core/fields.h"

#include "../xe-cli/output.c"

/* ---- helpers -------------------------------------------------------------- */

static void add_field(gp_record *r, const char *k, const char *v)
{
    r->fields = realloc(r->fields, (r->n_fields + 1) * sizeof(*r->fields));
    assert_non_null(r->fields);
    r->fields[r->n_fields].key = strdup(k);
    r->fields[r->n_fields].value = strdup(v);
    r->n_fields++;
}

/* Two pool-like records. */
static gp_record *two_records(size_t *n)
{
    gp_record *rs = calloc(2, sizeof(*rs));
    gp_record_init(&rs[0]);
    gp_record_init(&rs[1]);
    add_field(&rs[0], "uuid", "u1");
    add_field(&rs[0], "name-label", "training");
    add_field(&rs[0], "numa-policy", "required");
    add_field(&rs[1], "uuid", "u2");
    add_field(&rs[1], "name-label", "a,b\\c");
    add_field(&rs[1], "numa-policy", "preferred");
    *n = 2;
    return rs;
}

typedef struct {
    char *buf;
    size_t len;
    FILE *f;
} memout;

static void mo_open(memout *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    assert_non_null(m->f);
}

static char *mo_close(memout *m)
{
    fclose(m->f);
    return m->buf;
}

/* xe_print_records() of rs[0..n) into a string (caller frees); asserts it
 * returned want_rc. */
static char *print_records(gp_record *rs, size_t n, const xe_print_opts *o, xe_error *e,
                           int want_rc)
{
    memout m;
    mo_open(&m);
    assert_int_equal(xe_print_records(m.f, rs, n, o, e), want_rc);
    return mo_close(&m);
}

static const char *const rw[] = { "name-label", NULL };

/* ---- formatter ------------------------------------------------------------ */

static void test_record_layout(void **state)
{
    size_t n;
    gp_record *rs = two_records(&n);
    memout m;
    mo_open(&m);
    xe_print_record(m.f, &rs[0], NULL, 0, rw);
    char *s = mo_close(&m);
    /* widest label "numa-policy ( RO)" = 17, column = 21 */
    assert_string_equal(s,
                        "uuid ( RO)           : u1\n"
                        "     name-label ( RW): training\n"
                        "    numa-policy ( RO): required\n"
                        "\n");
    free(s);
    gp_record_list_free(rs, n);
}

static void test_records_blank_line_between(void **state)
{
    size_t n;
    gp_record *rs = two_records(&n);
    xe_print_opts o = { NULL, NULL, rw, false };
    xe_error e;
    xe_error_init(&e);
    char *s = print_records(rs, n, &o, &e, 0);
    assert_non_null(strstr(s, "required\n\nuuid ( RO)"));
    size_t len = strlen(s);
    assert_true(len > 2 && s[len - 1] == '\n' && s[len - 2] == '\n' && s[len - 3] != '\n');
    free(s);
    gp_record_list_free(rs, n);
}

static void test_records_params_and_defaults(void **state)
{
    size_t n;
    gp_record *rs = two_records(&n);
    static const char *const defaults[] = { "uuid", "name-label", NULL };
    xe_error e;
    xe_error_init(&e);

    /* defaults: numa-policy hidden */
    xe_print_opts o = { NULL, defaults, rw, false };
    char *s = print_records(rs, n, &o, &e, 0);
    assert_null(strstr(s, "numa-policy"));
    assert_non_null(strstr(s, "uuid ( RO)          : u1\n    name-label ( RW): training\n"));
    free(s);

    /* params= in the given order; the width follows the shown fields */
    o.params = "numa-policy,uuid";
    s = print_records(rs, n, &o, &e, 0);
    assert_string_equal(s, "numa-policy ( RO)    : required\n"
                           "           uuid ( RO): u1\n\n"
                           "numa-policy ( RO)    : preferred\n"
                           "           uuid ( RO): u2\n\n");
    free(s);

    /* params=all overrides the defaults */
    o.params = "all";
    s = print_records(rs, n, &o, &e, 0);
    assert_non_null(strstr(s, "numa-policy ( RO): preferred"));
    free(s);

    /* an unknown field is an error and prints nothing */
    o.params = "uuid,no-such-field";
    s = print_records(rs, n, &o, &e, 1);
    assert_string_equal(s, "");
    assert_string_equal(e.code, "UNKNOWN_PARAMETER");
    assert_int_equal(e.n_params, 1);
    assert_string_equal(e.params[0].value, "no-such-field");
    free(s);
    xe_error_dispose(&e);
    gp_record_list_free(rs, n);
}

static void test_records_minimal(void **state)
{
    size_t n;
    gp_record *rs = two_records(&n);
    xe_error e;
    xe_error_init(&e);

    xe_print_opts o = { NULL, NULL, NULL, true };
    char *s = print_records(rs, n, &o, &e, 0);
    assert_string_equal(s, "u1,u2\n");
    free(s);

    /* the chosen param, with xe's escaping of ',' and '\' */
    o.params = "name-label";
    s = print_records(rs, n, &o, &e, 0);
    assert_string_equal(s, "training,a\\,b\\\\c\n");
    free(s);

    /* no records: an empty line */
    o.params = NULL;
    s = print_records(rs, 0, &o, &e, 0);
    assert_string_equal(s, "\n");
    free(s);
    gp_record_list_free(rs, n);
}

static void test_records_filter(void **state)
{
    size_t n;
    gp_record *rs = two_records(&n);
    xe_error e;
    xe_error_init(&e);
    const char *keys[] = { "numa-policy" }, *vals[] = { "preferred" };
    assert_int_equal(xe_records_filter(rs, &n, keys, vals, 1, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(gp_record_get(&rs[0], "uuid"), "u2");

    const char *bad[] = { "colour" };
    assert_int_equal(xe_records_filter(rs, &n, bad, vals, 1, &e), 1);
    assert_string_equal(e.code, "UNKNOWN_PARAMETER");
    assert_int_equal(n, 1);
    xe_error_dispose(&e);
    gp_record_list_free(rs, n);
}

static void test_error_print(void **state)
{
    xe_error e;
    memout m;
    xe_error_init(&e);
    assert_int_equal(xe_error_set(&e, "VM_NOT_HALTED", "VM %s is running", "trainer-01"), 1);
    xe_error_param(&e, "vm", "6f1c");
    xe_error_param(&e, "power-state", "running");
    mo_open(&m);
    xe_error_print(m.f, &e);
    char *s = mo_close(&m);
    assert_string_equal(s, "VM_NOT_HALTED\nvm: 6f1c\npower-state: running\n"
                           "message: VM trainer-01 is running\n");
    free(s);

    /* from a library error */
    gp_error_info gi;
    gp_error_param p = { (char *)"pool", (char *)"gpu" };
    gi.code = GP_ERR_UNKNOWN_POOL;
    gi.message = (char *)"no pool gpu";
    gi.params = &p;
    gi.n_params = 1;
    xe_error_from_info(&e, &gi);
    assert_string_equal(e.code, "UNKNOWN_POOL");
    assert_string_equal(e.params[0].key, "pool");
    assert_string_equal(e.message, "no pool gpu");
    xe_error_dispose(&e);
}

/* ---- gp_record and the placement record ----------------------------------- */

static void test_record_get_dispose(void **state)
{
    gp_record r;
    gp_record_init(&r);
    assert_null(gp_record_get(&r, "uuid"));
    add_field(&r, "uuid", "x");
    assert_string_equal(gp_record_get(&r, "uuid"), "x");
    assert_null(gp_record_get(&r, "name-label"));
    gp_record_dispose(&r);
    assert_int_equal(r.n_fields, 0);
    gp_record_dispose(&r);          /* twice is fine */
    gp_record_list_free(NULL, 0);
}

static void test_placement_record(void **state)
{
    gp_assignment a;
    gp_record r;
    int pcpus[] = { 32, 33 };
    char *comp[] = { (char *)"0000:41:00.1" };

    gp_assignment_init(&a);
    strcpy(a.vm_uuid, "6f1c0a5e-0000-4000-8000-000000000001");
    strcpy(a.pci_id, "0000:41:00.0");
    strcpy(a.pool_uuid, "7f000000-0000-4000-8000-000000000002");
    a.vm_name_label = NULL;
    a.pool_name_label = (char *)"training";
    a.companions = comp;
    a.n_companions = 1;
    a.numa_node = 1;
    a.pcpus = pcpus;
    a.n_pcpus = 2;
    a.memory_node = -1;
    a.pin_mode = GP_PIN_SOFT;
    a.vcpus = 2;
    a.memory_mib = 4096;
    a.reason = (char *)"node 1: GPU local";
    a.created = NULL;

    assert_int_equal(gp_placement_record(&a, &r), GP_OK);
    assert_string_equal(r.fields[0].key, "vm-uuid");
    assert_string_equal(r.fields[0].value, a.vm_uuid);
    assert_string_equal(gp_record_get(&r, "vm-name-label"), "unknown");
    assert_string_equal(gp_record_get(&r, "pci-id"), "0000:41:00.0");
    assert_string_equal(gp_record_get(&r, "companions"), "0000:41:00.1");
    assert_string_equal(gp_record_get(&r, "pool"), "training");
    assert_string_equal(gp_record_get(&r, "numa-node"), "1");
    assert_string_equal(gp_record_get(&r, "pcpus"), "32,33");
    assert_string_equal(gp_record_get(&r, "memory-node"), "unknown");
    assert_string_equal(gp_record_get(&r, "pin-mode"), "soft");
    assert_string_equal(gp_record_get(&r, "vcpus"), "2");
    assert_string_equal(gp_record_get(&r, "memory-mib"), "4096");
    assert_string_equal(gp_record_get(&r, "reason"), "node 1: GPU local");
    assert_string_equal(gp_record_get(&r, "created"), "unknown");
    gp_record_dispose(&r);

    a.n_companions = 0;
    a.n_pcpus = 0;
    assert_int_equal(gp_placement_record(&a, &r), GP_OK);
    assert_string_equal(gp_record_get(&r, "companions"), "");
    assert_string_equal(gp_record_get(&r, "pcpus"), "");
    gp_record_dispose(&r);
}

/* ---- field tables ----------------------------------------------------------- */

/* The facts JSON of g (the host cache's row), as text; caller frees. */
static char *gpu_facts_text(const gp_gpu *g)
{
    json_object *o = gp_fields_json(gp_gpu_fields, gp_gpu_n_fields, g, NULL, GP_FJ_FACTS);
    assert_non_null(o);
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

/* g -> facts JSON -> a new GPU -> facts JSON: the same text, and the
 * members compared one by one. */
static void round_trip(const gp_gpu *g)
{
    char *t1 = gpu_facts_text(g);
    json_object *o = json_tokener_parse(t1);
    gp_gpu b;
    gp_gpu_init(&b);
    assert_int_equal(gp_fields_from_json(gp_gpu_fields, gp_gpu_n_fields, o, &b), 0);
    json_object_put(o);
    char *t2 = gpu_facts_text(&b);
    assert_string_equal(t1, t2);
    assert_string_equal(b.pci_id, g->pci_id);
    assert_int_equal(b.vendor_id, g->vendor_id);
    assert_int_equal(b.subsys_vendor_id, g->subsys_vendor_id);
    assert_int_equal(b.subsys_device_id, g->subsys_device_id);
    assert_int_equal(b.prog_if, g->prog_if);
    assert_int_equal(b.revision, g->revision);
    assert_int_equal(b.numa_node, g->numa_node);
    assert_int_equal(b.iommu_group, g->iommu_group);
    assert_int_equal(b.n_iommu_group_members, g->n_iommu_group_members);
    assert_int_equal(b.n_companions, g->n_companions);
    for (size_t i = 0; i < g->n_companions; i++) {
        assert_string_equal(b.companions[i].pci_id, g->companions[i].pci_id);
        assert_int_equal(b.companions[i].class_code, g->companions[i].class_code);
        assert_int_equal(b.companions[i].device_id, g->companions[i].device_id);
        if (g->companions[i].driver)
            assert_string_equal(b.companions[i].driver, g->companions[i].driver);
        else
            assert_null(b.companions[i].driver);
    }
    assert_int_equal(b.boot_vga, g->boot_vga);
    assert_true(b.link_cap.speed_gts == g->link_cap.speed_gts);
    assert_int_equal(b.link_sta.width, g->link_sta.width);
    assert_int_equal(b.link_downgraded, g->link_downgraded);
    assert_int_equal(b.flr, g->flr);
    assert_int_equal(b.sriov_totalvfs, g->sriov_totalvfs);
    assert_true(b.max_bar_bytes == g->max_bar_bytes);
    if (g->driver)
        assert_string_equal(b.driver, g->driver);
    else
        assert_null(b.driver);
    free(t1);
    free(t2);
    gp_gpu_dispose(&b);
}

static void test_gpu_fields_round_trip(void **state)
{
    gp_gpu g;
    char *members[] = { (char *)"0000:41:00.1", (char *)"0000:40:01.0" };
    gp_companion comps[2];

    /* everything unknown */
    gp_gpu_init(&g);
    strcpy(g.pci_id, "0000:41:00.0");
    round_trip(&g);

    /* everything known */
    memset(comps, 0, sizeof(comps));
    strcpy(comps[0].pci_id, "0000:41:00.1");
    comps[0].class_code = 0x0403;
    comps[0].vendor_id = 0x10de;
    comps[0].device_id = 0x22ba;
    comps[0].driver = (char *)"snd_hda_intel";
    strcpy(comps[1].pci_id, "0000:41:00.2");
    comps[1].class_code = 0x0c03;
    g.vendor_id = 0x10de;
    g.device_id = 0x2331;
    g.subsys_vendor_id = 0;
    g.subsys_device_id = 0x1626;       /* half known: both kept */
    g.vendor_name = (char *)"NVIDIA \"Corp\"";
    g.class_code = 0x0302;
    g.prog_if = 0x01;
    g.revision = 0xa1;
    g.numa_node = 1;
    g.iommu_group = 0;
    g.iommu_group_members = members;
    g.n_iommu_group_members = 2;
    g.companions = comps;
    g.n_companions = 2;
    g.driver = (char *)"pciback";
    g.boot_vga = GP_NO;
    g.link_cap.speed_gts = 2.5;
    g.link_cap.width = 16;
    g.link_sta.speed_gts = 7.877;
    g.link_sta.width = 8;
    g.link_downgraded = GP_YES;
    g.flr = GP_YES;
    g.reset_method = (char *)"flr bus";
    g.sriov_totalvfs = 0;
    g.max_bar_bytes = UINT64_C(1) << 36;
    g.source = (char *)"sysfs";
    round_trip(&g);

    /* the xe record of the same GPU: legacy keys and value formats */
    gp_gpu_rel rel = { 0, "7f000000-0000-4000-8000-000000000002", "training", NULL, NULL };
    gp_record r;
    assert_int_equal(gp_fields_record(gp_gpu_fields, gp_gpu_n_fields, &g, &rel, &r), GP_OK);
    assert_string_equal(gp_record_get(&r, "subsystem-id"), "0000:1626");
    assert_string_equal(gp_record_get(&r, "link-cap"), "2.5 GT/s x16");
    assert_string_equal(gp_record_get(&r, "link-status"), "7.877 GT/s x8");
    assert_string_equal(gp_record_get(&r, "iommu-group-members"), "0000:41:00.1,0000:40:01.0");
    assert_string_equal(gp_record_get(&r, "companions"), "0000:41:00.1,0000:41:00.2");
    assert_string_equal(gp_record_get(&r, "pool"), "training");
    assert_string_equal(gp_record_get(&r, "vm-uuid"), "");
    assert_string_equal(gp_record_get(&r, "socket"), "0");
    assert_string_equal(gp_record_get(&r, "sriov-totalvfs"), "0");
    assert_null(gp_record_get(&r, "prog-if"));             /* JSON only */
    gp_record_dispose(&r);

    /* wrong shapes are refused */
    json_object *bad = json_tokener_parse("{\"pci_id\":\"0000:41:00.0\",\"vendor_id\":\"xyz\"}");
    gp_gpu b;
    gp_gpu_init(&b);
    assert_int_equal(gp_fields_from_json(gp_gpu_fields, gp_gpu_n_fields, bad, &b), -1);
    gp_gpu_dispose(&b);
    json_object_put(bad);
}

/* Every row in both outputs has the record key (kebab-case or its legacy key)
 * and the JSON key (its name), and no two rows share a key. */
static void test_field_tables_keys(void **state)
{
    const struct { const gp_fdesc *t; size_t n; } tabs[] = {
        { gp_gpu_fields, gp_gpu_n_fields },
        { gp_pool_fields, gp_pool_n_fields },
        { gp_assignment_fields, gp_assignment_n_fields },
    };
    for (size_t k = 0; k < sizeof(tabs) / sizeof(tabs[0]); k++)
        for (size_t i = 0; i < tabs[k].n; i++) {
            const char *name = tabs[k].t[i].name;
            assert_null(strchr(name, '-'));
            for (size_t j = 0; j < i; j++)
                if (!strcmp(tabs[k].t[j].name, name))
                    fail_msg("two rows named %s", name);
        }
}

static void test_assignment_json(void **state)
{
    gp_assignment a;
    int pcpus[] = { 32, 33 };
    gp_assignment_init(&a);
    strcpy(a.vm_uuid, "6f1c0a5e-0000-4000-8000-000000000001");
    strcpy(a.pci_id, "0000:41:00.0");
    strcpy(a.pool_uuid, "7f000000-0000-4000-8000-000000000002");
    a.numa_node = 1;
    a.pcpus = pcpus;
    a.n_pcpus = 2;
    a.memory_node = -1;
    a.pin_mode = GP_PIN_SOFT;
    a.vcpus = 2;
    a.memory_mib = 4096;
    json_object *o = gp_assignment_json(&a), *v;
    assert_non_null(o);
    assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                        "{\"vm_uuid\":\"6f1c0a5e-0000-4000-8000-000000000001\","
                        "\"vm_name_label\":null,\"pci_id\":\"0000:41:00.0\",\"companions\":[],"
                        "\"pool_name_label\":null,"
                        "\"pool_uuid\":\"7f000000-0000-4000-8000-000000000002\","
                        "\"numa_node\":1,\"pcpus\":[32,33],\"memory_node\":null,"
                        "\"memory_node_certainty\":\"unknown\",\"pin_mode\":\"soft\",\"vcpus\":2,\"memory_mib\":4096,\"reason\":null,"
                        "\"created\":null,\"tenant\":\"default\",\"lease_until\":null}");
    assert_true(json_object_object_get_ex(o, "pcpus", &v));
    assert_true(json_object_is_type(json_object_array_get_idx(v, 0), json_type_int));
    json_object_put(o);
    a.pcpus = NULL;
    a.n_pcpus = 0;
    gp_assignment_dispose(&a);
}

/* ---- builders on the embedded host with the sim driver -------------------- */

typedef gt_env fixture;

static int setup_ctx(void **state)
{
    *state = gt_env_sim("records", "test_records", 0);
    return 0;
}

static const char *ctx_msg(gp_ctx *ctx)
{
    const gp_error_info *e = gp_ctx_last_error(ctx);
    return e->message ? e->message : "";
}

static void test_builders_embedded(void **state)
{
    fixture *f = *state;
    gp_ctx *ctx = f->ctx;
    gp_record *rs;
    size_t n;
    char pool_uuid[37], vm_uuid[37], gpu0[GP_PCI_ID_LEN] = "", gpu1[GP_PCI_ID_LEN] = "";

    /* host: one record per node, first field node */
    int rc = gp_host_records(ctx, &rs, &n);
    if (rc != GP_OK)
        fail_msg("gp_host_records: %s: %s", gp_error_name(rc), ctx_msg(ctx));
    assert_true(n >= 2);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(rs[i].fields[0].key, "node");
        assert_non_null(gp_record_get(&rs[i], "cpus"));
        assert_non_null(gp_record_get(&rs[i], "memory-free-mib"));
        assert_non_null(gp_record_get(&rs[i], "distances"));
        /* pcpu-count matches the cpus list */
        const char *cpus = gp_record_get(&rs[i], "cpus");
        size_t commas = 0;
        for (const char *p = cpus; *p; p++)
            commas += *p == ',';
        char cnt[32];
        snprintf(cnt, sizeof(cnt), "%zu", *cpus ? commas + 1 : 0);
        assert_string_equal(gp_record_get(&rs[i], "pcpu-count"), cnt);
    }
    gp_record_list_free(rs, n);

    /* gpus: every listed key present, nothing in a pool yet */
    assert_int_equal(gp_gpu_records(ctx, &rs, &n), GP_OK);
    assert_true(n >= 2);
    static const char *const gpu_keys[] = {
        "pci-id", "vendor-name", "device-name", "vendor-id", "device-id", "subsystem-id",
        "subsystem-name", "class", "numa-node", "socket", "iommu-group",
        "iommu-group-members", "companions", "driver", "boot-vga", "link-cap",
        "link-status", "link-downgraded", "flr", "reset-method", "sriov-totalvfs",
        "max-bar-bytes", "pool", "vm-uuid", "source", NULL
    };
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(rs[i].fields[0].key, "pci-id");
        for (size_t k = 0; gpu_keys[k]; k++)
            if (!gp_record_get(&rs[i], gpu_keys[k]))
                fail_msg("gpu record lacks %s", gpu_keys[k]);
        assert_string_equal(gp_record_get(&rs[i], "pool"), "");
        assert_string_equal(gp_record_get(&rs[i], "vm-uuid"), "");
    }
    strcpy(gpu0, gp_record_get(&rs[0], "pci-id"));
    strcpy(gpu1, gp_record_get(&rs[1], "pci-id"));
    gp_record_list_free(rs, n);

    /* a pool with two GPUs, one VM holding one of them */
    assert_int_equal(gp_pool_create(ctx, "training", "t", GP_NUMA_PREFERRED, GP_PIN_HARD,
                                    1.0, pool_uuid), GP_OK);
    if (gp_pool_gpu_add(ctx, "training", gpu0) || gp_pool_gpu_add(ctx, "training", gpu1))
        fail_msg("pool-gpu-add: %s", ctx_msg(ctx));
    assert_int_equal(gp_sim_vm_create(ctx, "vm-a", 2, 2048, vm_uuid), GP_OK);
    gp_assign_args args = { .pool = "training", .pci_id = gpu1 };
    gp_assignment a;
    gp_assignment_init(&a);
    if (gp_vm_gpu_assign(ctx, vm_uuid, &args, &a))
        fail_msg("assign: %s", ctx_msg(ctx));
    gp_assignment_dispose(&a);

    assert_int_equal(gp_gpu_records(ctx, &rs, &n), GP_OK);
    assert_string_equal(gp_record_get(&rs[0], "pool"), "training");
    assert_string_equal(gp_record_get(&rs[0], "vm-uuid"), "");
    assert_string_equal(gp_record_get(&rs[1], "pool"), "training");
    assert_string_equal(gp_record_get(&rs[1], "vm-uuid"), vm_uuid);
    gp_record_list_free(rs, n);

    assert_int_equal(gp_pool_records(ctx, &rs, &n), GP_OK);
    assert_int_equal(n, 1);
    assert_string_equal(rs[0].fields[0].key, "uuid");
    assert_string_equal(rs[0].fields[0].value, pool_uuid);
    assert_string_equal(gp_record_get(&rs[0], "name-label"), "training");
    assert_string_equal(gp_record_get(&rs[0], "name-description"), "t");
    assert_string_equal(gp_record_get(&rs[0], "numa-policy"), "preferred");
    assert_string_equal(gp_record_get(&rs[0], "pin-mode"), "hard");
    assert_string_equal(gp_record_get(&rs[0], "cpu-overcommit"), "1");
    char both[64];
    snprintf(both, sizeof(both), "%s,%s", gpu0, gpu1);
    assert_string_equal(gp_record_get(&rs[0], "gpus"), both);
    assert_string_equal(gp_record_get(&rs[0], "free-gpus"), gpu0);
    gp_record_list_free(rs, n);

    assert_int_equal(gp_vm_records(ctx, &rs, &n), GP_OK);
    assert_int_equal(n, 1);
    assert_string_equal(rs[0].fields[0].value, vm_uuid);
    assert_string_equal(gp_record_get(&rs[0], "name-label"), "vm-a");
    assert_string_equal(gp_record_get(&rs[0], "power-state"), "halted");
    assert_string_equal(gp_record_get(&rs[0], "vcpus"), "2");
    assert_string_equal(gp_record_get(&rs[0], "memory-mib"), "2048");
    assert_string_equal(gp_record_get(&rs[0], "gpu"), gpu1);
    gp_record_list_free(rs, n);

    assert_int_equal(gp_assignment_records(ctx, &rs, &n), GP_OK);
    assert_int_equal(n, 1);
    assert_string_equal(gp_record_get(&rs[0], "vm-uuid"), vm_uuid);
    assert_string_equal(gp_record_get(&rs[0], "vm-name-label"), "vm-a");
    assert_string_equal(gp_record_get(&rs[0], "pci-id"), gpu1);
    assert_string_equal(gp_record_get(&rs[0], "pool"), "training");
    assert_string_equal(gp_record_get(&rs[0], "vcpus"), "2");
    assert_string_not_equal(gp_record_get(&rs[0], "pcpus"), "");
    gp_record_list_free(rs, n);

    /* audit: pool-create, 2 x pool-gpu-add, sim VM, assign: ids ascending */
    assert_int_equal(gp_audit_records(ctx, 0, 0, &rs, &n), GP_OK);
    assert_true(n >= 4);
    bool saw_create = false, saw_assign = false;
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(rs[i].fields[0].key, "id");
        if (i)
            assert_true(atoll(rs[i].fields[0].value) > atoll(rs[i - 1].fields[0].value));
        saw_create |= !strcmp(gp_record_get(&rs[i], "operation"), "pool-create");
        saw_assign |= !strcmp(gp_record_get(&rs[i], "operation"), "vm-gpu-assign");
        assert_string_equal(gp_record_get(&rs[i], "caller"), "test_records");
    }
    assert_true(saw_create && saw_assign);
    long long last = atoll(rs[n - 1].fields[0].value);
    gp_record_list_free(rs, n);
    assert_int_equal(gp_audit_records(ctx, last - 1, 0, &rs, &n), GP_OK);
    assert_int_equal(n, 1);
    gp_record_list_free(rs, n);
    assert_int_equal(gp_audit_records(ctx, 0, 2, &rs, &n), GP_OK);
    assert_int_equal(n, 2);
    gp_record_list_free(rs, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_layout),
        cmocka_unit_test(test_records_blank_line_between),
        cmocka_unit_test(test_records_params_and_defaults),
        cmocka_unit_test(test_records_minimal),
        cmocka_unit_test(test_records_filter),
        cmocka_unit_test(test_error_print),
        cmocka_unit_test(test_record_get_dispose),
        cmocka_unit_test(test_placement_record),
        cmocka_unit_test(test_gpu_fields_round_trip),
        cmocka_unit_test(test_field_tables_keys),
        cmocka_unit_test(test_assignment_json),
        cmocka_unit_test_setup_teardown(test_builders_embedded, setup_ctx, gt_env_teardown),
    };
    return cmocka_run_group_tests_name("records", tests, NULL, NULL);
}
