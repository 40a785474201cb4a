/*
 * test_xapi.c - the XML-RPC code (xmlrpc.c) and the XCP-ng persistence path
 * (xapi.c, driver_xapi.c) against tests/xapi_standin.py, a stand-in for
 * xapi that holds VM and PCI records the way xapi does and logs every call.
 * The tests assert the exact calls made and the values left in xapi's
 * records: assignment, release, refusals, dom0 access, drift, time limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ops/ops.h"
#include "rpc/rpc.h"
#include "testutil.h"

#define VM_HALTED  "11111111-1111-4111-8111-111111111111"
#define VM_RUNNING "22222222-2222-4222-8222-222222222222"
#define VM_ADMIN   "33333333-3333-4333-8333-333333333333"
#define VM_ROGUE   "44444444-4444-4444-8444-444444444444"
#define VM_SECOND  "55555555-5555-4555-8555-555555555555"
#define VM_PV      "66666666-6666-4666-8666-666666666666"
#define VM_AWAY    "77777777-7777-4777-8777-777777777777"
#define VM_TMPL    "88888888-8888-4888-8888-888888888888"
#define SESSION    "OpaqueRef:plugin-session"

typedef struct {
    char *dir;
    char sock[512], state[512], state_out[512], log[512], ready[512], db[512];
    pid_t pid;
    gp_ctx *ctx;
} fixture;

/* ---- stand-in control --------------------------------------------------- */

static const char *initial_state =
    "{\"vms\": ["
    " {\"uuid\": \"" VM_HALTED "\", \"name_label\": \"trainer-01\", \"power_state\": \"Halted\","
    "  \"VCPUs_max\": 4, \"memory_static_max\": 8589934592,"
    "  \"other_config\": {\"xo:resource_set\": \"keep-me\"}, \"VCPUs_params\": {\"weight\": \"512\"}},"
    " {\"uuid\": \"" VM_RUNNING "\", \"name_label\": \"busy\", \"power_state\": \"Running\","
    "  \"domid\": 7},"
    " {\"uuid\": \"" VM_ADMIN "\", \"name_label\": \"admin-pci\", \"power_state\": \"Halted\","
    "  \"other_config\": {\"pci\": \"0/0000:4b:00.0\"}},"
    " {\"uuid\": \"" VM_SECOND "\", \"name_label\": \"trainer-02\", \"power_state\": \"Halted\"},"
    " {\"uuid\": \"" VM_ROGUE "\", \"name_label\": \"rogue\", \"power_state\": \"Halted\"},"
    " {\"name_label\": \"a template\", \"is_a_template\": true},"
    " {\"name_label\": \"Control domain\", \"is_control_domain\": true, \"power_state\": \"Running\"},"
    " {\"uuid\": \"" VM_PV "\", \"name_label\": \"pv-guest\", \"domain_type\": \"pv\"},"
    " {\"uuid\": \"" VM_AWAY "\", \"name_label\": \"away\", \"affinity\": \"OpaqueRef:host-1\"},"
    " {\"uuid\": \"" VM_TMPL "\", \"name_label\": \"gpu template\", \"is_a_template\": true}"
    "], \"pcis\": ["
    " {\"pci_id\": \"0000:18:00.0\"}, {\"pci_id\": \"0000:2a:00.0\"},"
    " {\"pci_id\": \"0000:9a:00.0\", \"dom0_access\": \"disabled\"},"
    " {\"pci_id\": \"0000:18:00.0\", \"host\": \"OpaqueRef:other-host\"}"
    "], \"hosts\": ["
    " {\"uuid\": \"00000000-0000-4000-8000-000000000000\", \"name_label\": \"host-0\"},"
    " {\"uuid\": \"00000000-0000-4000-8000-000000000001\", \"name_label\": \"host-1\"}"
    "]%s}";

static int standin_start(fixture *f, const char *extra)
{
    FILE *fp = fopen(f->state, "w");
    if (!fp)
        return -1;
    fprintf(fp, initial_state, extra ? extra : "");
    fclose(fp);
    unlink(f->ready);
    f->pid = fork();
    if (f->pid == 0) {
        /* Not on the test's stdout: a runner waits for that to close. */
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execlp("python3", "python3", "tests/xapi_standin.py", "--socket", f->sock,
               "--state", f->state, "--log", f->log, "--session", SESSION,
               "--ready", f->ready, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        struct stat st;
        if (stat(f->ready, &st) == 0 && stat(f->sock, &st) == 0)
            return 0;
        usleep(10000);
    }
    return -1;
}

static void standin_stop(fixture *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
}

static int ctx_open(fixture *f, unsigned timeout_ms, const char *session)
{
    gp_config cfg;
    gp_error_info e;
    int rc;
    gp_config_init(&cfg);
    gp_error_info_init(&e);
    cfg.db_path = strdup(f->db);
    cfg.driver = strdup("xapi");
    cfg.topology_file = strdup(GP_TOPOLOGY_EMBEDDED);
    cfg.xapi_socket = strdup(f->sock);
    cfg.xapi_session = session ? strdup(session) : NULL;
    cfg.caller = strdup("test_xapi");
    cfg.timeout_ms = timeout_ms;
    rc = gp_ctx_alloc(&f->ctx, &cfg, &e);
    gp_config_dispose(&cfg);
    gp_error_info_dispose(&e);
    return rc;
}

static int setup_extra(void **state, const char *extra)
{
    fixture *f = calloc(1, sizeof(*f));
    f->dir = tu_scratch_dir("xapi");
    snprintf(f->sock, sizeof(f->sock), "%s/xapi.sock", f->dir);
    snprintf(f->state, sizeof(f->state), "%s/state.json", f->dir);
    snprintf(f->state_out, sizeof(f->state_out), "%s/state.json.out", f->dir);
    snprintf(f->log, sizeof(f->log), "%s/calls.jsonl", f->dir);
    snprintf(f->ready, sizeof(f->ready), "%s/ready", f->dir);
    snprintf(f->db, sizeof(f->db), "%s/state.db", f->dir);
    if (standin_start(f, extra)) {
        standin_stop(f);
        free(f->dir);
        free(f);
        return -1;
    }
    if (ctx_open(f, 0, SESSION))
        return -1;
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_extra(state, NULL);
}

static int teardown(void **state)
{
    fixture *f = *state;
    gp_ctx_free(f->ctx);
    standin_stop(f);
    free(f->dir);
    free(f);
    return 0;
}

/* Forget the calls logged so far. */
static void calls_reset(fixture *f)
{
    FILE *fp = fopen(f->log, "w");
    if (fp)
        fclose(fp);
}

/* "method(arg1,arg2)" of every call since the last reset, one per line,
 * the session shown as SESSION. */
static char *calls_text(fixture *f)
{
    char *raw = tu_slurp(f->log);
    size_t cap = 4096, len = 0;
    char *out = calloc(1, cap);
    char *save = NULL;
    for (char *line = raw ? strtok_r(raw, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        json_object *o = json_tokener_parse(line), *m, *p;
        if (!o || !json_object_object_get_ex(o, "method", &m) ||
            !json_object_object_get_ex(o, "params", &p))
            continue;
        char buf[1024];
        size_t at = (size_t)snprintf(buf, sizeof(buf), "%s(", json_object_get_string(m));
        for (size_t i = 0; i < json_object_array_length(p) && at < sizeof(buf); i++)
            at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%s%s", i ? "," : "",
                                   json_object_get_string(json_object_array_get_idx(p, i)));
        snprintf(buf + (at < sizeof(buf) ? at : sizeof(buf) - 1),
                 sizeof(buf) - (at < sizeof(buf) ? at : sizeof(buf) - 1), ")\n");
        while (len + strlen(buf) + 1 > cap)
            out = realloc(out, cap *= 2);
        strcpy(out + len, buf);
        len += strlen(buf);
        json_object_put(o);
    }
    free(raw);
    return out;
}

/* The VM record (in the stand-in's current state) with that uuid. */
static json_object *vm_record(fixture *f, const char *uuid, json_object **root)
{
    char *txt = tu_slurp(f->state_out);
    json_object *vms;
    *root = txt ? json_tokener_parse(txt) : NULL;
    free(txt);
    if (!*root || !json_object_object_get_ex(*root, "vms", &vms))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(vms); i++) {
        json_object *v = json_object_array_get_idx(vms, i), *u;
        if (json_object_object_get_ex(v, "uuid", &u) && !strcmp(json_object_get_string(u), uuid))
            return v;
    }
    return NULL;
}

/* Map (other_config / VCPUs_params) of a VM as compact JSON text. */
static char *vm_map_text(fixture *f, const char *uuid, const char *field)
{
    json_object *root, *m;
    json_object *v = vm_record(f, uuid, &root);
    char *s = NULL;
    if (v && json_object_object_get_ex(v, field, &m))
        s = strdup(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
    return s;
}

/* vm_map_text() of other_config without gpupool:placement, whose value
 * (the assignment as JSON) goes to *placement (caller frees; NULL when
 * absent). */
static char *oc_text_split(fixture *f, const char *uuid, char **placement)
{
    json_object *root, *m, *pj;
    json_object *v = vm_record(f, uuid, &root);
    char *s = NULL;
    *placement = NULL;
    if (v && json_object_object_get_ex(v, "other_config", &m)) {
        if (json_object_object_get_ex(m, "gpupool:placement", &pj))
            *placement = strdup(json_object_get_string(pj));
        json_object_object_del(m, "gpupool:placement");
        s = strdup(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
    }
    json_object_put(root);
    return s;
}

static char *pci_access(fixture *f, const char *pci_id)
{
    char *txt = tu_slurp(f->state_out);
    json_object *root = txt ? json_tokener_parse(txt) : NULL, *pcis;
    char *s = NULL;
    free(txt);
    if (root && json_object_object_get_ex(root, "pcis", &pcis))
        for (size_t i = 0; i < json_object_array_length(pcis) && !s; i++) {
            json_object *p = json_object_array_get_idx(pcis, i), *id, *h, *acc;
            json_object_object_get_ex(p, "pci_id", &id);
            json_object_object_get_ex(p, "host", &h);
            if (!strcmp(json_object_get_string(id), pci_id) &&
                !strcmp(json_object_get_string(h), "OpaqueRef:host-0") &&
                json_object_object_get_ex(p, "dom0_access", &acc))
                s = strdup(json_object_get_string(acc));
        }
    json_object_put(root);
    return s;
}

#define assert_ok(ctx, call) do { \
        int rc_ = (call); \
        if (rc_) fail_msg("%s: %s (%s)", #call, gp_error_name(rc_), \
                          gp_ctx_last_error(ctx)->message); \
    } while (0)

/* A pool "train" (pin hard) holding 0000:18:00.0. */
static void make_pool(fixture *f, gp_pin_mode pin)
{
    assert_ok(f->ctx, gp_pool_create(f->ctx, "train", NULL, GP_NUMA_REQUIRED, pin, 1.0, NULL));
    assert_ok(f->ctx, gp_pool_gpu_add(f->ctx, "train", "0000:18:00.0"));
}

/* ---- XML-RPC ------------------------------------------------------------ */

static void test_parse_call_xapi_shapes(void **state)
{
    (void)state;
    const char *call =
        "<methodCall><methodName>assign_gpu</methodName><params>"
        "<param><value>OpaqueRef:s</value></param>"
        "<param><value><struct><member><name>vm_uuid</name><value>a&lt;b&amp;c</value></member>"
        "<member><name>empty</name><value/></member>"
        "<member><name>typed</name><value><string> x </string></value></member>"
        "</struct></value></param></params></methodCall>";
    char *m = NULL;
    gp_xr_value p;
    gp_error_info e;
    gp_error_info_init(&e);
    assert_int_equal(gp_xr_parse_call(call, strlen(call), &m, &p, &e), GP_OK);
    assert_string_equal(m, "assign_gpu");
    assert_int_equal(p.n, 2);
    assert_string_equal(p.items[0].str, "OpaqueRef:s");
    assert_int_equal(p.items[1].type, GP_XR_STRUCT);
    assert_string_equal(gp_xr_struct_get_string(&p.items[1], "vm_uuid"), "a<b&c");
    assert_string_equal(gp_xr_struct_get_string(&p.items[1], "empty"), "");
    assert_string_equal(gp_xr_struct_get_string(&p.items[1], "typed"), " x ");
    free(m);
    gp_xr_value_dispose(&p);

    const char *empty = "<methodCall><methodName>list_gpus</methodName><params>"
                        "<param><value>s</value></param><param><value><struct/></value></param>"
                        "</params></methodCall>";
    assert_int_equal(gp_xr_parse_call(empty, strlen(empty), &m, &p, &e), GP_OK);
    assert_int_equal(p.items[1].type, GP_XR_STRUCT);
    assert_int_equal(p.items[1].n, 0);
    free(m);
    gp_xr_value_dispose(&p);
    gp_error_info_dispose(&e);
}

static void test_parse_call_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "not xml",
        "<methodResponse/>",
        "<methodCall><params/></methodCall>",
        "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><methodCall><methodName>&a;</methodName></methodCall>",
        "<methodCall><methodName>f</methodName><params><param><value><int>12x</int></value>"
        "</param></params></methodCall>",
        "<methodCall><methodName>f</methodName><params><param><value><foo/></value>"
        "</param></params></methodCall>",
        "<methodCall><methodName>f</methodName><params><param><value>a<b/></value>"
        "</param></params></methodCall>",
    };
    for (size_t i = 0; i < GP_ARRAY_SIZE(bad); i++) {
        char *m = NULL;
        gp_xr_value p;
        gp_error_info e;
        gp_error_info_init(&e);
        int rc = gp_xr_parse_call(bad[i], strlen(bad[i]), &m, &p, &e);
        if (rc != GP_ERR_INVALID_ARGUMENT)
            fail_msg("accepted bad call #%zu: %s", i, bad[i]);
        assert_null(m);
        assert_non_null(strstr(e.message, "malformed XML-RPC"));
        gp_error_info_dispose(&e);
    }
    /* Nesting is bounded. */
    size_t depth = 200, at = 0;
    char *deep = malloc(depth * 64 + 200);
    at += (size_t)sprintf(deep, "<methodCall><methodName>f</methodName><params><param>");
    for (size_t i = 0; i < depth; i++)
        at += (size_t)sprintf(deep + at, "<value><array><data>");
    for (size_t i = 0; i < depth; i++)
        at += (size_t)sprintf(deep + at, "</data></array></value>");
    sprintf(deep + at, "</param></params></methodCall>");
    char *m = NULL;
    gp_xr_value p;
    assert_int_equal(gp_xr_parse_call(deep, strlen(deep), &m, &p, NULL), GP_ERR_INVALID_ARGUMENT);
    free(deep);
}

static void test_response_roundtrip_hostile(void **state)
{
    (void)state;
    size_t big = 1u << 20;
    char *s = malloc(big + 64);
    for (size_t i = 0; i < big; i++)
        s[i] = "<&>\"'x]"[i % 7];
    strcpy(s + big, "]]> caf\xc3\xa9 \xe6\x97\xa5");
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(gp_xr_build_plugin_success(s, &out, &len), GP_OK);
    assert_int_equal(strlen(out), len);
    gp_xr_value v;
    bool fault;
    assert_int_equal(gp_xr_parse_response(out, len, &v, &fault, NULL), GP_OK);
    assert_false(fault);
    assert_string_equal(gp_xr_struct_get_string(&v, "Status"), "Success");
    assert_string_equal(gp_xr_struct_get_string(&v, "Value"), s);
    gp_xr_value_dispose(&v);
    free(out);
    free(s);

    /* Invalid UTF-8 and control characters cannot reach the XML. */
    char *clean = gp_xr_sanitize("a\x01" "b\xff" "c\xc3");
    assert_string_equal(clean, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd");
    free(clean);
    const char *desc[] = { "GPUPOOL_X", "bad\x02" "byte" };
    assert_int_equal(gp_xr_build_plugin_failure(desc, 2, &out, &len), GP_OK);
    assert_int_equal(gp_xr_parse_response(out, len, &v, &fault, NULL), GP_OK);
    const gp_xr_value *ed = gp_xr_struct_get(&v, "ErrorDescription");
    assert_non_null(ed);
    assert_int_equal(ed->n, 2);
    assert_string_equal(ed->items[1].str, "bad\xef\xbf\xbd" "byte");
    gp_xr_value_dispose(&v);
    free(out);
}

/* ---- the xapi driver ------------------------------------------------------ */

static void test_vm_list_from_xapi(void **state)
{
    fixture *f = *state;
    gp_vm *vms = NULL;
    size_t n = 0;
    assert_ok(f->ctx, gp_vm_list(f->ctx, &vms, &n));
    assert_int_equal(n, 7);  /* no template, no dom0 */
    assert_string_equal(vms[0].name_label, "admin-pci");
    assert_string_equal(vms[2].name_label, "busy");
    assert_int_equal(vms[2].state, GP_VM_RUNNING);
    assert_int_equal(vms[2].domid, 7);
    assert_string_equal(vms[5].uuid, VM_HALTED);
    assert_int_equal(vms[5].state, GP_VM_HALTED);
    assert_int_equal(vms[5].vcpus, 4);
    assert_int_equal(vms[5].memory_mib, 8192);
    gp_vm_list_free(vms, n);
    assert_string_equal(gp_ctx_driver_name(f->ctx), "xapi");

    gp_vm v;
    gp_vm_init(&v);
    assert_ok(f->ctx, gp_vm_get(f->ctx, "trainer-01", &v));
    assert_string_equal(v.uuid, VM_HALTED);
    gp_vm_dispose(&v);
    assert_int_equal(gp_vm_get(f->ctx, "no-such-vm", &v), GP_ERR_UNKNOWN_VM);
    gp_vm_dispose(&v);
}

static void test_pool_membership_dom0_access(void **state)
{
    fixture *f = *state;
    char *st = NULL, *calls;

    assert_ok(f->ctx, gp_pool_create(f->ctx, "train", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD,
                                     1.0, NULL));
    calls_reset(f);
    assert_ok(f->ctx, gp_pool_gpu_add(f->ctx, "train", "0000:18:00.0"));
    calls = calls_text(f);
    /* Only this host's PCI object is touched. */
    assert_non_null(strstr(calls, "PCI.disable_dom0_access(SESSION,OpaqueRef:pci-0)\n"));
    assert_null(strstr(calls, "OpaqueRef:pci-3"));
    free(calls);
    st = pci_access(f, "0000:18:00.0");
    assert_string_equal(st, "disable_on_reboot");
    free(st);
    assert_ok(f->ctx, gp_xapi_dom0_access(f->ctx, "0000:18:00.0", &st));
    assert_string_equal(st, "disable_on_reboot");  /* needs a reboot: said so */
    free(st);

    /* Hidden by the admin before: gpupool neither hides nor gives it back. */
    calls_reset(f);
    assert_ok(f->ctx, gp_pool_gpu_add(f->ctx, "train", "0000:9a:00.0"));
    assert_ok(f->ctx, gp_pool_gpu_remove(f->ctx, "train", "0000:9a:00.0"));
    calls = calls_text(f);
    assert_null(strstr(calls, "able_dom0_access"));
    free(calls);
    st = pci_access(f, "0000:9a:00.0");
    assert_string_equal(st, "disabled");
    free(st);

    /* Removal gives dom0 back exactly what it had. */
    calls_reset(f);
    assert_ok(f->ctx, gp_pool_gpu_remove(f->ctx, "train", "0000:18:00.0"));
    calls = calls_text(f);
    assert_non_null(strstr(calls, "PCI.enable_dom0_access(SESSION,OpaqueRef:pci-0)\n"));
    free(calls);
    st = pci_access(f, "0000:18:00.0");
    assert_string_equal(st, "enabled");
    free(st);
}

/* Index of needle in hay (-1 when absent). */
static long pos_of(const char *hay, const char *needle)
{
    const char *p = strstr(hay, needle);
    return p ? (long)(p - hay) : -1;
}

static void test_assign_release_exact_writes(void **state)
{
    fixture *f = *state;
    gp_assign_args aa = { .pool = "train" };
    gp_assignment a;
    char *oc, *vp, *calls, expect[768], line[256];

    make_pool(f, GP_PIN_HARD);
    gp_assignment_init(&a);
    calls_reset(f);
    assert_ok(f->ctx, gp_vm_gpu_assign(f->ctx, VM_HALTED, &aa, &a));
    assert_string_equal(a.pci_id, "0000:18:00.0");
    assert_int_equal(a.n_pcpus, 4);
    char *mask = gp_cpulist_join(a.pcpus, a.n_pcpus);

    /* Start blocked first, the power state read after the block, markers
     * before values, the block lifted last. */
    calls = calls_text(f);
    long block = pos_of(calls, "VM.add_to_blocked_operations(SESSION,OpaqueRef:vm-0,start,");
    long block_on = pos_of(calls, "VM.add_to_blocked_operations(SESSION,OpaqueRef:vm-0,start_on,");
    long power = pos_of(calls, "VM.get_power_state(SESSION,OpaqueRef:vm-0)");
    long mark = pos_of(calls, "VM.add_to_other_config(SESSION,OpaqueRef:vm-0,gpupool:pci,0/0000:18:00.0)");
    long pci = pos_of(calls, "VM.add_to_other_config(SESSION,OpaqueRef:vm-0,pci,0/0000:18:00.0)");
    snprintf(line, sizeof(line), "VM.add_to_VCPUs_params(SESSION,OpaqueRef:vm-0,mask,%s)", mask);
    long vmask = pos_of(calls, line);
    long aff = pos_of(calls, "VM.set_affinity(SESSION,OpaqueRef:vm-0,OpaqueRef:host-0)");
    long unblock = pos_of(calls, "VM.remove_from_blocked_operations(SESSION,OpaqueRef:vm-0,start_on)");
    if (block < 0 || block_on < 0 || power < block_on || mark < power || pci < mark ||
        vmask < pci || aff < vmask || unblock < aff)
        fail_msg("calls out of order:\n%s", calls);
    free(calls);

    char *placement = NULL;
    oc = oc_text_split(f, VM_HALTED, &placement);
    snprintf(expect, sizeof(expect),
             "{\"gpupool:affinity\":\"OpaqueRef:host-0\",\"gpupool:host\":\"%s\","
             "\"gpupool:mask\":\"%s\",\"gpupool:pci\":\"0/0000:18:00.0\","
             "\"gpupool:vm\":\"" VM_HALTED "\","
             "\"pci\":\"0/0000:18:00.0\",\"xo:resource_set\":\"keep-me\"}",
             "00000000-0000-4000-8000-000000000000", mask);
    assert_string_equal(oc, expect);
    free(oc);
    /* The assignment itself, for the pool-wide view and pool-sync. */
    {
        json_object *pj = placement ? json_tokener_parse(placement) : NULL, *x;
        assert_non_null(pj);
        assert_true(json_object_object_get_ex(pj, "vm_uuid", &x));
        assert_string_equal(json_object_get_string(x), VM_HALTED);
        assert_true(json_object_object_get_ex(pj, "pci_id", &x));
        assert_string_equal(json_object_get_string(x), "0000:18:00.0");
        assert_true(json_object_object_get_ex(pj, "pin_mode", &x));
        assert_string_equal(json_object_get_string(x), "hard");
        assert_false(json_object_object_get_ex(pj, "vm_name_label", &x));
        json_object_put(pj);
        free(placement);
    }
    vp = vm_map_text(f, VM_HALTED, "VCPUs_params");
    snprintf(expect, sizeof(expect), "{\"mask\":\"%s\",\"weight\":\"512\"}", mask);
    assert_string_equal(vp, expect);
    free(vp);
    oc = vm_map_text(f, VM_HALTED, "blocked_operations");
    assert_string_equal(oc, "{}");
    free(oc);
    gp_assignment_dispose(&a);

    /* Release removes exactly what gpupool wrote, affinity included. */
    calls_reset(f);
    assert_ok(f->ctx, gp_vm_gpu_release(f->ctx, VM_HALTED));
    calls = calls_text(f);
    assert_non_null(strstr(calls, "VM.remove_from_VCPUs_params(SESSION,OpaqueRef:vm-0,mask)\n"));
    assert_non_null(strstr(calls, "VM.remove_from_other_config(SESSION,OpaqueRef:vm-0,pci)\n"));
    assert_non_null(strstr(calls, "VM.set_affinity(SESSION,OpaqueRef:vm-0,OpaqueRef:NULL)\n"));
    /* The only addition to the VM is the writer claim (gpupool:writer,
     * removed again): nothing else is added to its other_config.  The host
     * gets its share of fair-share use (gpupool:usage, reqcl.c). */
    for (const char *at = calls; (at = strstr(at, "add_to_other_config")); at++) {
        if (at - calls >= 5 && !strncmp(at - 5, "host.", 5)) {
            const char *key = strstr(at, ",gpupool:usage,"), *eol = strchr(at, '\n');
            assert_true(key && (!eol || key < eol));
            continue;
        }
        assert_ptr_equal(strstr(at, "add_to_other_config(SESSION,OpaqueRef:vm-0,gpupool:writer,"),
                         at);
    }
    free(calls);
    oc = vm_map_text(f, VM_HALTED, "other_config");
    assert_string_equal(oc, "{\"xo:resource_set\":\"keep-me\"}");
    free(oc);
    vp = vm_map_text(f, VM_HALTED, "VCPUs_params");
    assert_string_equal(vp, "{\"weight\":\"512\"}");
    free(vp);
    free(mask);
}

/* numa-policy required under xapi: pin-mode soft would write no mask, so
 * nothing of the placement would reach xenopsd: hard is forced. */
static void test_required_forces_hard_mask(void **state)
{
    fixture *f = *state;
    gp_assign_args aa = { .pool = "train" };
    gp_assignment a;
    char expect[256];
    gp_assignment_init(&a);
    make_pool(f, GP_PIN_SOFT);
    assert_ok(f->ctx, gp_vm_gpu_assign(f->ctx, VM_HALTED, &aa, &a));
    assert_int_equal(a.pin_mode, GP_PIN_HARD);
    assert_int_equal(a.memory_node_certainty, GP_MEMNODE_BEST_EFFORT);
    char *mask = gp_cpulist_join(a.pcpus, a.n_pcpus);
    char *vp = vm_map_text(f, VM_HALTED, "VCPUs_params");
    snprintf(expect, sizeof(expect), "{\"mask\":\"%s\",\"weight\":\"512\"}", mask);
    assert_string_equal(vp, expect);
    free(vp);
    free(mask);
    gp_assignment_dispose(&a);

    /* preferred + soft: no mask is written, so the memory node is unknown. */
    gp_assignment_init(&a);
    assert_ok(f->ctx, gp_pool_create(f->ctx, "soft", NULL, GP_NUMA_PREFERRED, GP_PIN_SOFT, 1.0,
                                     NULL));
    assert_ok(f->ctx, gp_pool_gpu_add(f->ctx, "soft", "0000:2a:00.0"));
    gp_assign_args sa = { .pool = "soft" };
    assert_ok(f->ctx, gp_vm_gpu_assign(f->ctx, VM_SECOND, &sa, &a));
    assert_int_equal(a.pin_mode, GP_PIN_SOFT);
    assert_int_equal(a.memory_node_certainty, GP_MEMNODE_UNKNOWN);
    vp = vm_map_text(f, VM_SECOND, "VCPUs_params");
    assert_string_equal(vp, "{}");
    free(vp);
    gp_assignment_dispose(&a);
}

/* What a refusal must leave alone: the state database (tu_db_dump, every
 * table) and the stand-in's records (state.json.out, rewritten after every
 * call it answers, keys sorted). */
typedef struct {
    char *db, *xapi;
} both_dumps;

static both_dumps dumps_take(fixture *f)
{
    both_dumps d = { tu_db_dump(f->db), tu_slurp(f->state_out) };
    assert_non_null(d.db);
    assert_non_null(d.xapi);
    assert_non_null(strstr(d.xapi, "\"vms\""));
    return d;
}

static void dumps_assert_same(fixture *f, both_dumps *before)
{
    both_dumps now = dumps_take(f);
    assert_string_equal(now.db, before->db);
    assert_string_equal(now.xapi, before->xapi);
    free(now.db);
    free(now.xapi);
    free(before->db);
    free(before->xapi);
}

static void test_refusals_change_nothing(void **state)
{
    fixture *f = *state;
    gp_assign_args aa = { .pool = "train" };
    make_pool(f, GP_PIN_HARD);

    /* Running VM: xapi's power state decides. */
    calls_reset(f);
    both_dumps before = dumps_take(f);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, VM_RUNNING, &aa, NULL), GP_ERR_VM_NOT_HALTED);
    char *calls = calls_text(f);
    assert_null(strstr(calls, "add_to"));
    free(calls);
    dumps_assert_same(f, &before);

    /* A GPU another VM names in other-config:pci is never given again. */
    gp_assign_args forced = { .pool = "train", .pci_id = "0000:18:00.0" };
    gp_xapi *x = NULL;
    gp_xr_value v;
    assert_int_equal(gp_xapi_open(&x, f->sock, SESSION, 0, NULL), GP_OK);
    const char *hand[] = { "OpaqueRef:vm-3", "pci", "0/0000:18:00.0" };
    assert_int_equal(gp_xapi_call(x, "VM.add_to_other_config", hand, 3, &v, NULL), GP_OK);
    gp_xr_value_dispose(&v);
    before = dumps_take(f);
    calls_reset(f);
    int rc = gp_vm_gpu_assign(f->ctx, VM_ROGUE, &forced, NULL);
    assert_int_equal(rc, GP_ERR_GPU_ASSIGNED);
    assert_non_null(strstr(gp_ctx_last_error(f->ctx)->message, VM_SECOND));
    /* Placement does not offer it either: the pool has no other GPU. */
    assert_int_equal(gp_vm_gpu_assign(f->ctx, VM_ROGUE, &aa, NULL), GP_ERR_POOL_EMPTY);
    calls = calls_text(f);
    assert_null(strstr(calls, "add_to"));
    assert_null(strstr(calls, "remove_from"));
    free(calls);
    dumps_assert_same(f, &before);
    const char *unhand[] = { "OpaqueRef:vm-3", "pci" };
    assert_int_equal(gp_xapi_call(x, "VM.remove_from_other_config", unhand, 2, &v, NULL), GP_OK);
    gp_xr_value_dispose(&v);
    gp_xapi_close(x);

    /* An admin's own other-config:pci entry is kept: gpupool adds its own
     * entry beside it (the GPU at the next index), release takes only its. */
    char *oc;
    gp_assignment a;
    gp_assignment_init(&a);
    assert_ok(f->ctx, gp_vm_gpu_assign(f->ctx, VM_ADMIN, &aa, &a));
    oc = vm_map_text(f, VM_ADMIN, "other_config");
    assert_non_null(strstr(oc, "\"pci\":\"0/0000:4b:00.0,1/0000:18:00.0\""));
    free(oc);
    assert_ok(f->ctx, gp_vm_gpu_release(f->ctx, VM_ADMIN));
    oc = vm_map_text(f, VM_ADMIN, "other_config");
    assert_string_equal(oc, "{\"pci\":\"0/0000:4b:00.0\"}");
    free(oc);
    gp_assignment_dispose(&a);
}

static bool has_drift(const gp_drift *d, size_t n, const char *kind, const char *vm,
                      const char *pci)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(d[i].kind, kind) && !strcmp(d[i].vm_uuid, vm) && !strcmp(d[i].pci_id, pci))
            return true;
    return false;
}

/* By uuid, templates, PV guests and VMs bound to another host are refused
 * (the name-label path filtered only some), and nothing changes. */
static void test_unsuitable_vms_refused(void **state)
{
    fixture *f = *state;
    gp_assign_args aa = { .pool = "train" };
    make_pool(f, GP_PIN_HARD);
    both_dumps before = dumps_take(f);
    assert_int_equal(gp_vm_gpu_assign(f->ctx, VM_TMPL, &aa, NULL), GP_ERR_VM_UNSUITABLE);
    assert_non_null(strstr(gp_ctx_last_error(f->ctx)->message, "template"));
    assert_int_equal(gp_vm_gpu_assign(f->ctx, VM_PV, &aa, NULL), GP_ERR_VM_UNSUITABLE);
    assert_non_null(strstr(gp_ctx_last_error(f->ctx)->message, "pv"));
    assert_int_equal(gp_vm_gpu_assign(f->ctx, VM_AWAY, &aa, NULL), GP_ERR_WRONG_HOST);
    assert_non_null(strstr(gp_ctx_last_error(f->ctx)->message, "affinity"));
    dumps_assert_same(f, &before);
}

/* A clone carries its parent's markers and pci entry: drift names it, the
 * vm-pre-start check refuses to start it, host-reconcile fix=true strips
 * the copy; a VM bound to this host starts, one whose marker names another
 * host does not. */
static void test_clone_and_start_check(void **state)
{
    fixture *f = *state;
    gp_assign_args aa = { .pool = "train" };
    gp_xapi *x = NULL;
    gp_xr_value v;
    gp_drift *d = NULL;
    size_t n = 0;
    gp_reconcile_item *items = NULL;
    size_t n_items = 0;

    make_pool(f, GP_PIN_HARD);
    assert_ok(f->ctx, gp_vm_gpu_assign(f->ctx, VM_HALTED, &aa, NULL));
    assert_ok(f->ctx, gp_vm_start_check(f->ctx, VM_HALTED));
    assert_int_equal(gp_xapi_open(&x, f->sock, SESSION, 0, NULL), GP_OK);
    const char *cl[] = { "OpaqueRef:vm-0", "trainer-01-clone" };
    assert_int_equal(gp_xapi_call(x, "VM.clone", cl, 2, &v, NULL), GP_OK);
    char *clone_ref = strdup(v.str);
    gp_xr_value_dispose(&v);
    const char *gu[] = { clone_ref };
    assert_int_equal(gp_xapi_call(x, "VM.get_uuid", gu, 1, &v, NULL), GP_OK);
    char *clone = strdup(v.str);
    gp_xr_value_dispose(&v);

    assert_ok(f->ctx, gp_drift_check(f->ctx, &d, &n));
    assert_true(has_drift(d, n, "clone", clone, ""));
    gp_drift_list_free(d, n);
    assert_int_equal(gp_vm_start_check(f->ctx, clone), GP_ERR_GPU_ASSIGNED);
    assert_non_null(strstr(gp_ctx_last_error(f->ctx)->message, "VM.clone"));

    assert_ok(f->ctx, gp_host_reconcile(f->ctx, true, &items, &n_items));
    bool fixed = false;
    for (size_t i = 0; i < n_items; i++)
        if (!strcmp(items[i].kind, "clone") && items[i].fixed)
            fixed = true;
    assert_true(fixed);
    gp_reconcile_list_free(items, n_items);
    /* VM.clone adds its own mac_seed (xapi_vm_clone.ml); the parent's
     * pci entry and gpupool's markers are gone, the rest is kept. */
    char *oc = vm_map_text(f, clone, "other_config");
    assert_non_null(strstr(oc, "\"xo:resource_set\":\"keep-me\""));
    assert_null(strstr(oc, "pci"));
    assert_null(strstr(oc, "gpupool:"));
    free(oc);
    assert_ok(f->ctx, gp_vm_start_check(f->ctx, clone));

    /* gpupool:host naming another host: the start is refused here. */
    const char *rm[] = { "OpaqueRef:vm-0", "gpupool:host" };
    assert_int_equal(gp_xapi_call(x, "VM.remove_from_other_config", rm, 2, &v, NULL), GP_OK);
    gp_xr_value_dispose(&v);
    const char *add[] = { "OpaqueRef:vm-0", "gpupool:host", "99999999-9999-4999-8999-999999999999" };
    assert_int_equal(gp_xapi_call(x, "VM.add_to_other_config", add, 3, &v, NULL), GP_OK);
    gp_xr_value_dispose(&v);
    assert_int_equal(gp_vm_start_check(f->ctx, VM_HALTED), GP_ERR_WRONG_HOST);
    assert_ok(f->ctx, gp_drift_check(f->ctx, &d, &n));
    assert_true(has_drift(d, n, "affinity", VM_HALTED, "0000:18:00.0"));
    gp_drift_list_free(d, n);
    /* fix=true writes the binding again. */
    assert_ok(f->ctx, gp_host_reconcile(f->ctx, true, &items, &n_items));
    gp_reconcile_list_free(items, n_items);
    assert_ok(f->ctx, gp_vm_start_check(f->ctx, VM_HALTED));
    gp_xapi_close(x);
    free(clone_ref);
    free(clone);
}

/* A dead call's intent and a start left blocked are settled by the next
 * journaled call: xapi ends up saying what sqlite says. */
static void test_dead_intent_settled(void **state)
{
    fixture *f = *state;
    gp_assign_args aa = { .pool = "train" };
    gp_drift *d = NULL;
    size_t n = 0;
    make_pool(f, GP_PIN_HARD);
    /* A crashed assign: its intent (owner pid 1 never matches its start
     * time) and a half write in xapi. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
        "INSERT INTO intents(id, operation, owner_pid, owner_start, created)"
        " VALUES (7, 'vm-gpu-assign', 999999, 'x', '2026-01-01T00:00:00Z');"
        "INSERT INTO intent_items VALUES (7, 'vm', '" VM_SECOND "', NULL);"
        "INSERT INTO intent_items VALUES (7, 'gpu', '0000:18:00.0', NULL);",
        NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    gp_xapi *x = NULL;
    gp_xr_value v;
    assert_int_equal(gp_xapi_open(&x, f->sock, SESSION, 0, NULL), GP_OK);
    const char *a1[] = { "OpaqueRef:vm-3", "start", "gpupool: GPU assignment being written" };
    assert_int_equal(gp_xapi_call(x, "VM.add_to_blocked_operations", a1, 3, &v, NULL), GP_OK);
    gp_xr_value_dispose(&v);
    const char *a2[] = { "OpaqueRef:vm-3", "gpupool:vm", VM_SECOND };
    assert_int_equal(gp_xapi_call(x, "VM.add_to_other_config", a2, 3, &v, NULL), GP_OK);
    gp_xr_value_dispose(&v);
    const char *a3[] = { "OpaqueRef:vm-3", "gpupool:pci", "0/0000:18:00.0" };
    assert_int_equal(gp_xapi_call(x, "VM.add_to_other_config", a3, 3, &v, NULL), GP_OK);
    gp_xr_value_dispose(&v);
    const char *a4[] = { "OpaqueRef:vm-3", "pci", "0/0000:18:00.0" };
    assert_int_equal(gp_xapi_call(x, "VM.add_to_other_config", a4, 3, &v, NULL), GP_OK);
    gp_xr_value_dispose(&v);
    gp_xapi_close(x);
    assert_ok(f->ctx, gp_drift_check(f->ctx, &d, &n));
    assert_true(has_drift(d, n, "intent-pending", VM_SECOND, ""));
    assert_true(has_drift(d, n, "blocked-start", VM_SECOND, ""));
    gp_drift_list_free(d, n);
    /* The next journaled call settles it, then proceeds: the GPU the dead
     * call reserved is free again and goes to this VM. */
    gp_assignment a;
    gp_assignment_init(&a);
    assert_ok(f->ctx, gp_vm_gpu_assign(f->ctx, VM_HALTED, &aa, &a));
    assert_string_equal(a.pci_id, "0000:18:00.0");
    gp_assignment_dispose(&a);
    char *oc = vm_map_text(f, VM_SECOND, "other_config");
    assert_string_equal(oc, "{}");
    free(oc);
    oc = vm_map_text(f, VM_SECOND, "blocked_operations");
    assert_string_equal(oc, "{}");
    free(oc);
    assert_ok(f->ctx, gp_drift_check(f->ctx, &d, &n));
    assert_int_equal(n, 0);
    gp_drift_list_free(d, n);
}

static int setup_drift(void **state)
{
    /* rogue names pool GPU 0000:18:00.0 on its own; trainer-02 too. */
    return setup_extra(state, "");
}


static void test_drift(void **state)
{
    fixture *f = *state;
    gp_assign_args aa = { .pool = "train" };
    gp_drift *d = NULL;
    size_t n = 0;
    gp_xapi *x = NULL;
    gp_xr_value v;

    make_pool(f, GP_PIN_NONE);
    assert_ok(f->ctx, gp_vm_gpu_assign(f->ctx, VM_HALTED, &aa, NULL));
    assert_ok(f->ctx, gp_drift_check(f->ctx, &d, &n));
    assert_int_equal(n, 0);
    gp_drift_list_free(d, n);

    /* Someone writes other-config:pci by hand, as admins did before. */
    assert_int_equal(gp_xapi_open(&x, f->sock, SESSION, 0, NULL), GP_OK);
    const char *a1[] = { "OpaqueRef:vm-4", "pci", "0/0000:18:00.0" };
    assert_int_equal(gp_xapi_call(x, "VM.add_to_other_config", a1, 3, &v, NULL), GP_OK);
    gp_xr_value_dispose(&v);
    const char *a2[] = { "OpaqueRef:vm-3", "pci", "0/0000:2a:00.0" };
    assert_int_equal(gp_xapi_call(x, "VM.add_to_other_config", a2, 3, &v, NULL), GP_OK);
    gp_xr_value_dispose(&v);
    const char *a3[] = { "OpaqueRef:vm-2", "pci" };
    assert_int_equal(gp_xapi_call(x, "VM.remove_from_other_config", a3, 2, &v, NULL), GP_OK);
    gp_xr_value_dispose(&v);
    const char *a4[] = { "OpaqueRef:vm-2", "pci", "0/0000:2a:00.0" };
    assert_int_equal(gp_xapi_call(x, "VM.add_to_other_config", a4, 3, &v, NULL), GP_OK);
    gp_xr_value_dispose(&v);
    gp_xapi_close(x);

    assert_ok(f->ctx, gp_drift_check(f->ctx, &d, &n));
    for (size_t i = 0; i < n; i++)
        print_message("drift: %s %s %s: %s\n", d[i].kind, d[i].vm_uuid, d[i].pci_id, d[i].detail);
    assert_true(has_drift(d, n, "foreign-pci", VM_ROGUE, "0000:18:00.0"));
    assert_true(has_drift(d, n, "shared-gpu", VM_ROGUE, "0000:18:00.0"));
    assert_true(has_drift(d, n, "shared-gpu", VM_HALTED, "0000:18:00.0"));
    /* 2a:00.0 is in no pool: two VMs naming it is drift, not foreign. */
    assert_true(has_drift(d, n, "shared-gpu", VM_SECOND, "0000:2a:00.0"));
    assert_true(has_drift(d, n, "shared-gpu", VM_ADMIN, "0000:2a:00.0"));
    assert_false(has_drift(d, n, "foreign-pci", VM_SECOND, "0000:2a:00.0"));
    assert_false(has_drift(d, n, "foreign-pci", VM_HALTED, "0000:18:00.0"));
    assert_int_equal(n, 5);
    gp_drift_list_free(d, n);

    /* The assigned VM's pci edited by hand: missing-pci, and release leaves it. */
    assert_int_equal(gp_xapi_open(&x, f->sock, SESSION, 0, NULL), GP_OK);
    const char *b1[] = { "OpaqueRef:vm-0", "pci" };
    assert_int_equal(gp_xapi_call(x, "VM.remove_from_other_config", b1, 2, &v, NULL), GP_OK);
    gp_xr_value_dispose(&v);
    const char *b2[] = { "OpaqueRef:vm-0", "pci", "0/0000:ab:00.0" };
    assert_int_equal(gp_xapi_call(x, "VM.add_to_other_config", b2, 3, &v, NULL), GP_OK);
    gp_xr_value_dispose(&v);
    gp_xapi_close(x);
    assert_ok(f->ctx, gp_drift_check(f->ctx, &d, &n));
    assert_true(has_drift(d, n, "missing-pci", VM_HALTED, "0000:18:00.0"));
    gp_drift_list_free(d, n);
    assert_ok(f->ctx, gp_vm_gpu_release(f->ctx, VM_HALTED));
    char *oc = vm_map_text(f, VM_HALTED, "other_config");
    assert_string_equal(oc, "{\"pci\":\"0/0000:ab:00.0\",\"xo:resource_set\":\"keep-me\"}");
    free(oc);
}

static void test_login_and_failures(void **state)
{
    fixture *f = *state;
    gp_xapi *x = NULL;
    gp_xr_value v;
    gp_error_info e;
    gp_error_info_init(&e);

    calls_reset(f);
    assert_int_equal(gp_xapi_open(&x, f->sock, NULL, 0, &e), GP_OK);
    assert_non_null(strstr(gp_xapi_session(x), "OpaqueRef:session-"));
    const char *args[] = { "not-a-uuid" };
    assert_int_equal(gp_xapi_call(x, "VM.get_by_uuid", args, 1, &v, &e), GP_ERR_DRIVER);
    assert_string_equal(gp_xapi_last_failure(x), "UUID_INVALID");
    assert_non_null(strstr(e.message, "UUID_INVALID VM not-a-uuid"));
    gp_xapi_close(x);
    char *calls = calls_text(f);
    assert_non_null(strstr(calls, "session.login_with_password(root,,1.0,gpupool)\n"));
    assert_non_null(strstr(calls, "session.logout(SESSION)\n"));
    free(calls);

    /* Nobody listening. */
    assert_int_equal(gp_xapi_open(&x, "/nonexistent/xapi", SESSION, 0, &e), GP_OK);
    assert_int_equal(gp_xapi_call(x, "VM.get_all_records", NULL, 0, &v, &e), GP_ERR_DRIVER);
    assert_non_null(strstr(e.message, "cannot reach xapi"));
    gp_xapi_close(x);
    gp_error_info_dispose(&e);
}

static int setup_slow(void **state)
{
    return setup_extra(state, ", \"delay\": {\"VM.get_all_records\": 3}");
}

static void test_time_limit(void **state)
{
    fixture *f = *state;
    gp_vm *vms = NULL;
    size_t n = 0;
    gp_ctx_free(f->ctx);
    f->ctx = NULL;
    assert_int_equal(ctx_open(f, 400, SESSION), GP_OK);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(gp_vm_list(f->ctx, &vms, &n), GP_ERR_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    assert_true(ms < 1500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_call_xapi_shapes),
        cmocka_unit_test(test_parse_call_refuses),
        cmocka_unit_test(test_response_roundtrip_hostile),
        cmocka_unit_test_setup_teardown(test_vm_list_from_xapi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_membership_dom0_access, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assign_release_exact_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_required_forces_hard_mask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsuitable_vms_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clone_and_start_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_intent_settled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drift, setup_drift, teardown),
        cmocka_unit_test_setup_teardown(test_login_and_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_limit, setup_slow, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
