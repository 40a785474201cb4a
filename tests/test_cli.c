/*
 * test_cli.c - end to end through the built xe-cli/xe-gpupool binary.
 *
 * Every test runs the binary with --driver=sim and a scratch --db (default
 * host: --topology=embedded, the dual-socket 8-GPU model).  A refusal must
 * print the error code as the first line of stderr, exit 1 and leave the
 * database byte-for-byte the same (tu_db_dump before and after).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define XE "xe-cli/xe-gpupool"

typedef struct {
    char *dir;
    char db_opt[4300];
    char db[4200];
    char conf_env[4300];
} scratch;

static scratch *S;

static char *xe_ok(const char *args);

static int setup(void **state)
{
    static int n;
    char tag[64];
    if (access(XE, X_OK) != 0) {
        fprintf(stderr, "test_cli: %s is not built\n", XE);
        return -1;
    }
    S = calloc(1, sizeof(*S));
    snprintf(tag, sizeof(tag), "cli%d", n++);
    S->dir = tu_scratch_dir(tag);
    snprintf(S->db, sizeof(S->db), "%s/state.db", S->dir);
    snprintf(S->db_opt, sizeof(S->db_opt), "--db=%s", S->db);
    /* No /etc/gpupool/gpupool.conf: a missing GPUPOOL_CONFIG file is fine. */
    snprintf(S->conf_env, sizeof(S->conf_env), "GPUPOOL_CONFIG=%s/none.conf", S->dir);
    *state = S;
    /* Create the (empty) database, so refusals compare two dumps of it. */
    free(xe_ok("pool-list"));
    return 0;
}

static int teardown(void **state)
{
    free(S->dir);
    free(S);
    S = NULL;
    return 0;
}

/* Run xe-gpupool with the given options (space-separated, may be NULL for the
 * default embedded host) and arguments (space-separated; no value holds a
 * space). */
static int xe_opts(tu_run_result *r, const char *opts, const char *args)
{
    const char *argv[64];
    char *buf = NULL;
    size_t n = 0;
    char *copy;

    argv[n++] = XE;
    if (asprintf(&copy, "%s %s %s", S->db_opt,
                 opts ? opts : "--driver=sim --topology=embedded", args) < 0)
        return -1;
    buf = copy;
    for (char *tok = strtok(buf, " "); tok && n < 63; tok = strtok(NULL, " "))
        argv[n++] = tok;
    argv[n] = NULL;
    /* empty GPUPOOL_* variables are ignored: the caller's environment does
     * not leak into the test */
    const char *env[] = { S->conf_env, "GPUPOOL_DB=", "GPUPOOL_SYSFS_ROOT=",
                          "GPUPOOL_PCI_DUMP=", "GPUPOOL_GPU_CLASSES=", "GPUPOOL_DRIVER=",
                          "GPUPOOL_TOPOLOGY=", NULL };
    int rc = tu_run(r, argv, env);
    free(copy);
    return rc;
}

static int xe(tu_run_result *r, const char *args)
{
    return xe_opts(r, NULL, args);
}

/* Run, require success, return stdout (caller frees). */
static char *xe_ok(const char *args)
{
    tu_run_result r;
    assert_int_equal(xe(&r, args), 0);
    if (r.status != 0)
        fail_msg("xe-gpupool %s: exit %d\n%s", args, r.status, r.err);
    char *out = r.out;
    free(r.err);
    return out;
}

/* stdout with the trailing newline removed. */
static char *xe_line(const char *args)
{
    char *s = xe_ok(args);
    size_t l = strlen(s);
    while (l && s[l - 1] == '\n')
        s[--l] = '\0';
    return s;
}

/* First line of s (static buffer). */
static const char *first_line(const char *s)
{
    static char buf[256];
    size_t l = strcspn(s, "\n");
    if (l >= sizeof(buf))
        l = sizeof(buf) - 1;
    memcpy(buf, s, l);
    buf[l] = '\0';
    return buf;
}

/* Is got one of the '|'-separated codes of want? */
static bool code_matches(const char *got, const char *want)
{
    size_t gl = strlen(got);
    for (const char *p = want; *p;) {
        size_t l = strcspn(p, "|");
        if (l == gl && !strncmp(p, got, l))
            return true;
        p += l;
        if (*p == '|')
            p++;
    }
    return false;
}

/* The command must fail with code (or one of "A|B"), change nothing, print
 * nothing on stdout. */
static void expect_refusal(const char *args, const char *code)
{
    tu_run_result r;
    char *before = tu_db_dump(S->db);
    assert_int_equal(xe(&r, args), 0);
    char *after = tu_db_dump(S->db);
    if (r.status != 1 || !code_matches(first_line(r.err), code))
        fail_msg("xe-gpupool %s: expected %s / exit 1, got exit %d:\n%s", args, code,
                 r.status, r.err);
    assert_non_null(strstr(r.err, "\nmessage: "));
    assert_string_equal(r.out, "");
    if (strcmp(before, after))
        fail_msg("xe-gpupool %s changed the database", args);
    free(before);
    free(after);
    tu_run_free(&r);
}

/* Value of key in record idx of xe output (malloc'ed), NULL when absent. */
static char *rec_value(const char *out, size_t idx, const char *key)
{
    const char *p = out;
    size_t kl = strlen(key);
    for (size_t i = 0; i < idx && p; i++) {
        p = strstr(p, "\n\n");
        if (p)
            p += 2;
    }
    if (!p || !*p)
        return NULL;
    const char *end = strstr(p, "\n\n");
    if (!end)
        end = p + strlen(p);
    while (p < end) {
        const char *nl = strchr(p, '\n');
        const char *q = p;
        while (*q == ' ')
            q++;
        if (!strncmp(q, key, kl) && (!strncmp(q + kl, " ( RO)", 6) ||
                                     !strncmp(q + kl, " ( RW)", 6))) {
            const char *v = q + kl + 6;
            while (*v == ' ')
                v++;
            assert_int_equal(v[0], ':');
            assert_int_equal(v[1], ' ');
            return strndup(v + 2, (size_t)(nl - v - 2));
        }
        p = nl + 1;
    }
    return NULL;
}

static size_t count_records(const char *out)
{
    size_t n = 0;
    for (const char *p = out; (p = strstr(p, "\n\n")); p += 2)
        n++;
    return n;
}

static size_t count_items(const char *csv)
{
    if (!*csv)
        return 0;
    size_t n = 1;
    for (const char *p = csv; *p; p++)
        n += *p == ',';
    return n;
}

/* Item i of a comma list (static buffer). */
static const char *item(const char *csv, size_t i)
{
    static char buf[256];
    const char *p = csv;
    for (size_t k = 0; k < i && p; k++) {
        p = strchr(p, ',');
        if (p)
            p++;
    }
    assert_non_null(p);
    size_t l = strcspn(p, ",");
    memcpy(buf, p, l);
    buf[l] = '\0';
    return buf;
}

/* Is every id of the comma list in the comma list set? */
static bool subset(const char *ids, const char *set)
{
    char *copy = strdup(ids);
    bool ok = true;
    for (char *t = strtok(copy, ","); t && ok; t = strtok(NULL, ",")) {
        char pat[64];
        snprintf(pat, sizeof(pat), ",%s,", t);
        char *wrapped;
        if (asprintf(&wrapped, ",%s,", set) < 0)
            abort();
        ok = strstr(wrapped, pat) != NULL;
        free(wrapped);
    }
    free(copy);
    return ok;
}

/*
 * xe's record layout: records end with a blank line; in each, the first
 * line is "key ( RO)" padded right, the others are right-justified, and all
 * the ": " separators sit in one column, 4 past the widest "key ( RO)".
 */
static void check_layout(const char *out)
{
    const char *p = out;
    assert_true(strlen(out) >= 2);
    assert_string_equal(out + strlen(out) - 2, "\n\n");
    while (*p) {
        const char *end = strstr(p, "\n\n");
        assert_non_null(end);
        size_t col = 0, widest = 0, line = 0;
        while (p < end + 1) {
            const char *nl = strchr(p, '\n');
            size_t len = (size_t)(nl - p);
            char l[1024];
            assert_true(len < sizeof(l));
            memcpy(l, p, len);
            l[len] = '\0';
            const char *m = strstr(l, " ( RO)");
            if (!m)
                m = strstr(l, " ( RW)");
            if (!m)
                fail_msg("no ( RO)/( RW) in line '%s'", l);
            const char *label = l;
            while (*label == ' ')
                label++;
            size_t lab_len = (size_t)(m + 6 - label);
            if (lab_len > widest)
                widest = lab_len;
            if (line == 0) {
                assert_true(l[0] != ' ');
                col = (size_t)(strchr(m + 6, ':') - l);
                for (const char *s = m + 6; s < l + col; s++)
                    assert_int_equal(*s, ' ');
            } else {
                assert_true(l[0] == ' ' || (size_t)(m + 6 - l) == col);
                if ((size_t)(m + 6 - l) != col)
                    fail_msg("line '%s' not aligned to column %zu", l, col);
            }
            assert_int_equal(l[col], ':');
            assert_int_equal(l[col + 1], ' ');
            p = nl + 1;
            line++;
        }
        assert_int_equal(col, widest + 4);
        p = end + 2;
    }
}

/* ---- basics ---------------------------------------------------------------- */

static void test_help_version_usage(void **state)
{
    tu_run_result r;
    char *s = xe_ok("version");
    assert_string_equal(s, "xe-gpupool 0.1.0\n");
    free(s);

    s = xe_ok("help");
    static const char *const cmds[] = {
        "gpu-list", "gpu-param-list", "gpu-param-get", "host-show", "pool-create",
        "pool-destroy", "pool-list", "pool-param-list", "pool-param-get", "pool-param-set",
        "pool-gpu-add", "pool-gpu-remove", "vm-gpu-assign", "vm-gpu-release",
        "assignment-list", "audit-list", "vm-list", "sim-vm-create", "sim-vm-start",
        "sim-vm-pause", "sim-vm-shutdown", "sim-vm-destroy", "help", "version", NULL
    };
    for (size_t i = 0; cmds[i]; i++) {
        char pat[64];
        snprintf(pat, sizeof(pat), "  %s ", cmds[i]);
        if (!strstr(s, pat))
            fail_msg("help lacks %s", cmds[i]);
    }
    free(s);
    s = xe_ok("help --minimal");
    /* 24 core commands; the xen driver's commands come on top when built. */
    assert_true(count_items(s) >= 24);
    for (size_t i = 0; cmds[i]; i++) {
        char pat[64];
        snprintf(pat, sizeof(pat), ",%s,", cmds[i]);
        char *wrapped = NULL;
        assert_true(asprintf(&wrapped, ",%.*s,", (int)strcspn(s, "\n"), s) > 0);
        if (!strstr(wrapped, pat))
            fail_msg("help --minimal lacks %s", cmds[i]);
        free(wrapped);
    }
    free(s);
    s = xe_line("help vm-gpu-assign --minimal");
    assert_string_equal(s, "vm,pool,pci-id,host,tenant,vcpus,memory,lease");
    free(s);
    s = xe_ok("help pool-create");
    assert_non_null(strstr(s, "name-label="));
    free(s);

    expect_refusal("no-such-command", "UNKNOWN_COMMAND");
    expect_refusal("help no-such-command", "UNKNOWN_COMMAND");
    expect_refusal("pool-create", "MISSING_PARAMETER");
    expect_refusal("gpu-param-get pci-id=0000:18:00.0", "MISSING_PARAMETER");
    expect_refusal("pool-create name-label=x colour=red", "UNKNOWN_PARAMETER");
    expect_refusal("pool-create name-label=x name-label=y", "INVALID_ARGUMENT");
    expect_refusal("pool-list --bogus=1", "UNKNOWN_OPTION");
    expect_refusal("pool-list --driver=kvm", "INVALID_ARGUMENT");
    expect_refusal("pool-list --gpu-classes=zz", "INVALID_ARGUMENT");
    expect_refusal("sim-vm-create name-label=v vcpus=two memory=1", "INVALID_ARGUMENT");
    expect_refusal("gpu-list colour=red", "UNKNOWN_PARAMETER");
    expect_refusal("gpu-list params=pci-id,colour", "UNKNOWN_PARAMETER");

    /* the error shape: code, params, message */
    assert_int_equal(xe(&r, "pool-destroy pool=nowhere"), 0);
    assert_int_equal(r.status, 1);
    assert_string_equal(first_line(r.err), "UNKNOWN_POOL");
    const char *last = strstr(r.err, "message: ");
    assert_non_null(last);
    assert_string_equal(strchr(last, '\n'), "\n");   /* message is the last line */
    tu_run_free(&r);
}

static void test_config_precedence(void **state)
{
    tu_run_result r;
    char conf[4400], other_db[4400], env_db[4400], envs[3][4500];

    /* The file names a database; the environment overrides it; --db beats both. */
    snprintf(conf, sizeof(conf), "%s/gpupool.conf", S->dir);
    snprintf(other_db, sizeof(other_db), "%s/file.db", S->dir);
    snprintf(env_db, sizeof(env_db), "%s/env.db", S->dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "# test\ndb = %s\ndriver = sim\ntopology = embedded\n", other_db);
    fclose(f);

    snprintf(envs[0], sizeof(envs[0]), "GPUPOOL_CONFIG=%s", conf);
    const char *argv1[] = { XE, "pool-create", "name-label=fromfile", NULL };
    const char *env1[] = { envs[0], "GPUPOOL_DB=", "GPUPOOL_DRIVER=", "GPUPOOL_TOPOLOGY=",
                           NULL };
    assert_int_equal(tu_run(&r, argv1, env1), 0);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    struct stat st;
    assert_int_equal(stat(other_db, &st), 0);

    snprintf(envs[1], sizeof(envs[1]), "GPUPOOL_DB=%s", env_db);
    const char *argv2[] = { XE, "pool-create", "name-label=fromenv", NULL };
    const char *env2[] = { envs[0], "GPUPOOL_DRIVER=", "GPUPOOL_TOPOLOGY=", envs[1], NULL };
    assert_int_equal(tu_run(&r, argv2, env2), 0);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    assert_int_equal(stat(env_db, &st), 0);

    const char *argv3[] = { XE, "pool-list", "--minimal", "params=name-label",
                            S->db_opt, NULL };
    assert_int_equal(tu_run(&r, argv3, env2), 0);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "\n");          /* the scratch db: no pools */
    tu_run_free(&r);
    const char *argv4[] = { XE, "pool-list", "--minimal", "params=name-label", NULL };
    assert_int_equal(tu_run(&r, argv4, env2), 0);
    assert_string_equal(r.out, "fromenv\n");
    tu_run_free(&r);
    assert_int_equal(tu_run(&r, argv4, env1), 0);
    assert_string_equal(r.out, "fromfile\n");
    tu_run_free(&r);

    /* an explicit --config must exist; a bad file is an error */
    char opt[4500];
    snprintf(opt, sizeof(opt), "--config=%s/missing.conf", S->dir);
    const char *argv5[] = { XE, "pool-list", opt, NULL };
    assert_int_equal(tu_run(&r, argv5, env1), 0);
    assert_int_equal(r.status, 1);
    assert_string_equal(first_line(r.err), "IO_ERROR");
    tu_run_free(&r);
    f = fopen(conf, "w");
    fprintf(f, "colour = red\n");
    fclose(f);
    assert_int_equal(tu_run(&r, argv4, env1), 0);
    assert_int_equal(r.status, 1);
    assert_string_equal(first_line(r.err), "INVALID_ARGUMENT");
    tu_run_free(&r);

    /* caller of the audit log */
    char *s = xe_ok("pool-create name-label=audited");
    free(s);
    s = xe_line("audit-list --minimal params=caller");
    assert_true(!strncmp(s, "xe-gpupool uid=", 15));
    assert_non_null(strstr(s, " pid="));
    free(s);
}

/* ---- GPUs and host ----------------------------------------------------------- */

static void test_gpu_list_format(void **state)
{
    char *out = xe_ok("gpu-list");
    check_layout(out);
    assert_int_equal(count_records(out), 8);
    assert_true(!strncmp(out, "pci-id ( RO)", 12));
    char *v = rec_value(out, 0, "numa-node");
    assert_string_equal(v, "0");
    free(v);
    v = rec_value(out, 7, "numa-node");
    assert_string_equal(v, "1");
    free(v);
    /* default fields only */
    assert_null(strstr(out, "iommu-group"));
    free(out);

    out = xe_ok("gpu-list params=all");
    check_layout(out);
    static const char *const keys[] = {
        "pci-id", "vendor-name", "device-name", "vendor-id", "device-id", "subsystem-id",
        "subsystem-name", "class", "numa-node", "socket", "iommu-group",
        "iommu-group-members", "companions", "driver", "boot-vga", "link-cap",
        "link-status", "link-downgraded", "flr", "reset-method", "sriov-totalvfs",
        "max-bar-bytes", "pool", "vm-uuid", "source", NULL
    };
    for (size_t i = 0; keys[i]; i++) {
        v = rec_value(out, 3, keys[i]);
        if (!v)
            fail_msg("gpu-list params=all lacks %s", keys[i]);
        free(v);
    }
    free(out);

    out = xe_ok("gpu-list params=numa-node,pci-id");
    check_layout(out);
    assert_true(!strncmp(out, "numa-node ( RO)    : 0\n       pci-id ( RO): 0000:", 49));
    free(out);

    char *all = xe_line("gpu-list --minimal");
    char *n0 = xe_line("gpu-list numa-node=0 --minimal");
    char *n1 = xe_line("gpu-list numa-node=1 --minimal");
    assert_int_equal(count_items(all), 8);
    assert_int_equal(count_items(n0), 4);
    assert_int_equal(count_items(n1), 4);
    char joined[512];
    snprintf(joined, sizeof(joined), "%s,%s", n0, n1);
    assert_string_equal(all, joined);
    out = xe_line("gpu-list numa-node=1 --minimal params=numa-node");
    assert_string_equal(out, "1,1,1,1");
    free(out);
    out = xe_line("gpu-list numa-node=7 --minimal");
    assert_string_equal(out, "");
    free(out);

    /* param-get: just the value; any pci-id spelling */
    char args[256];
    snprintf(args, sizeof(args), "gpu-param-get pci-id=%s param-name=numa-node", item(n1, 0));
    out = xe_ok(args);
    assert_string_equal(out, "1\n");
    free(out);
    snprintf(args, sizeof(args), "gpu-param-get pci-id=%s param-name=numa-node",
             item(n0, 0) + 5);                 /* "18:00.0" */
    out = xe_ok(args);
    assert_string_equal(out, "0\n");
    free(out);
    snprintf(args, sizeof(args), "gpu-param-get pci-id=%s param-name=iommu-group", item(n0, 0));
    out = xe_ok(args);
    /* The embedded host is hwloc XML only: no sysfs, so no IOMMU groups. */
    assert_string_equal(out, "unknown\n");
    free(out);
    snprintf(args, sizeof(args), "gpu-param-list pci-id=%s", item(n0, 1));
    out = xe_ok(args);
    check_layout(out);
    assert_int_equal(count_records(out), 1);
    v = rec_value(out, 0, "pci-id");
    assert_string_equal(v, item(n0, 1));
    free(v);
    free(out);

    snprintf(args, sizeof(args), "gpu-param-get pci-id=%s param-name=colour", item(n0, 0));
    expect_refusal(args, "UNKNOWN_PARAMETER");
    expect_refusal("gpu-param-get pci-id=0000:ff:1f.7 param-name=numa-node", "UNKNOWN_GPU");
    expect_refusal("gpu-param-list pci-id=0000:zz:00.0", "PCI_ID_INVALID");
    free(all);
    free(n0);
    free(n1);
}

static void test_host_show(void **state)
{
    char *out = xe_ok("host-show");
    check_layout(out);
    assert_int_equal(count_records(out), 2);
    for (size_t i = 0; i < 2; i++) {
        char *node = rec_value(out, i, "node");
        char *gpus = rec_value(out, i, "gpus");
        char *cnt = rec_value(out, i, "pcpu-count");
        char *cpus = rec_value(out, i, "cpus");
        char *dist = rec_value(out, i, "distances");
        char *mem = rec_value(out, i, "memory-total-mib");
        assert_int_equal(atoi(node), (int)i);
        assert_int_equal(count_items(gpus), 4);
        assert_int_equal((size_t)atoi(cnt), count_items(cpus));
        assert_int_equal(count_items(dist), 2);
        assert_true(atoll(mem) > 0);
        free(node); free(gpus); free(cnt); free(cpus); free(dist); free(mem);
    }
    free(out);
    out = xe_line("host-show node=1 --minimal params=socket");
    assert_string_equal(out, "1");
    free(out);
}

/* ---- pools --------------------------------------------------------------------- */

static void test_pool_lifecycle(void **state)
{
    char args[512];
    char *uuid = xe_line("pool-create name-label=training numa-policy=required pin-mode=hard");
    assert_int_equal(strlen(uuid), 36);
    char *u2 = xe_line("pool-create name-label=inference name-description=serving "
                       "numa-policy=preferred pin-mode=soft cpu-overcommit=1.5");

    char *out = xe_ok("pool-list");
    check_layout(out);
    assert_int_equal(count_records(out), 2);
    /* ascending name-label; RW params marked */
    char *v = rec_value(out, 0, "name-label");
    assert_string_equal(v, "inference");
    free(v);
    assert_non_null(strstr(out, "    name-label ( RW): training\n"));
    assert_non_null(strstr(out, "numa-policy ( RW): required\n"));
    assert_non_null(strstr(out, "gpus ( RO): "));
    free(out);

    out = xe_line("pool-list --minimal");
    snprintf(args, sizeof(args), "%s,%s", u2, uuid);
    assert_string_equal(out, args);
    free(out);

    out = xe_line("pool-param-get pool=inference param-name=cpu-overcommit");
    assert_string_equal(out, "1.5");
    free(out);
    out = xe_line("pool-param-get pool=inference param-name=name-description");
    assert_string_equal(out, "serving");
    free(out);

    /* xe style: uuid= addresses the pool */
    snprintf(args, sizeof(args), "pool-param-set uuid=%s numa-policy=preferred", uuid);
    free(xe_ok(args));
    out = xe_line("pool-param-get pool=training param-name=numa-policy");
    assert_string_equal(out, "preferred");
    free(out);
    /* rename and set in one call */
    free(xe_ok("pool-param-set pool=training name-label=train2 pin-mode=soft"));
    snprintf(args, sizeof(args), "pool-param-list uuid=%s", uuid);
    out = xe_ok(args);
    check_layout(out);
    assert_non_null(strstr(out, "name-label ( RW): train2\n"));
    assert_non_null(strstr(out, "pin-mode ( RW): soft\n"));
    assert_non_null(strstr(out, "created ( RO): "));
    free(out);
    free(xe_ok("pool-param-set pool=train2 name-label=training pin-mode=hard "
               "numa-policy=required"));

    /* GPUs in and out */
    char *n0 = xe_line("gpu-list numa-node=0 --minimal");
    snprintf(args, sizeof(args), "pool-gpu-add pool=training pci-id=%s", item(n0, 0));
    free(xe_ok(args));
    snprintf(args, sizeof(args), "pool-gpu-add pool=training pci-id=%s", item(n0, 1) + 5);
    free(xe_ok(args));
    out = xe_line("gpu-list pool=training --minimal");
    char g0[32];
    snprintf(g0, sizeof(g0), "%s", item(n0, 0));
    snprintf(args, sizeof(args), "%s,%s", g0, item(n0, 1));
    assert_string_equal(out, args);
    free(out);
    out = xe_line("pool-param-get pool=training param-name=free-gpus");
    assert_string_equal(out, args);
    free(out);

    expect_refusal("pool-destroy pool=training", "POOL_NOT_EMPTY");
    snprintf(args, sizeof(args), "pool-gpu-add pool=inference pci-id=%s", item(n0, 0));
    expect_refusal(args, "GPU_IN_OTHER_POOL");
    expect_refusal("pool-create name-label=training", "POOL_NAME_EXISTS");
    expect_refusal("pool-param-set pool=inference name-label=training", "POOL_NAME_EXISTS");
    expect_refusal("pool-create name-label=x numa-policy=nearest", "INVALID_ARGUMENT");
    expect_refusal("pool-create name-label=x pin-mode=tight", "INVALID_ARGUMENT");
    expect_refusal("pool-create name-label=x cpu-overcommit=lots", "INVALID_ARGUMENT");
    expect_refusal("pool-create name-label=x cpu-overcommit=0", "INVALID_ARGUMENT");
    expect_refusal("pool-param-set pool=training numa-policy=nearest", "INVALID_ARGUMENT");
    expect_refusal("pool-param-set pool=training pin-mode=soft numa-policy=nearest",
                   "INVALID_ARGUMENT");
    expect_refusal("pool-param-set pool=training gpus=x", "UNKNOWN_PARAMETER");
    expect_refusal("pool-param-set pool=training", "MISSING_PARAMETER");
    expect_refusal("pool-param-get pool=training param-name=colour", "UNKNOWN_PARAMETER");
    expect_refusal("pool-param-list pool=nowhere", "UNKNOWN_POOL");
    expect_refusal("pool-destroy uuid=00000000-0000-4000-8000-000000000000", "UNKNOWN_POOL");
    snprintf(args, sizeof(args), "pool-gpu-add pool=nowhere pci-id=%s", item(n0, 2));
    expect_refusal(args, "UNKNOWN_POOL");
    expect_refusal("pool-gpu-add pool=training pci-id=0000:ff:1f.7", "UNKNOWN_GPU");
    expect_refusal("pool-gpu-add pool=training pci-id=41:00", "PCI_ID_INVALID");
    snprintf(args, sizeof(args), "pool-gpu-remove pci-id=%s", item(n0, 3));
    expect_refusal(args, "GPU_NOT_IN_POOL");

    snprintf(args, sizeof(args), "pool-gpu-remove pool=training pci-id=%s", item(n0, 0));
    free(xe_ok(args));
    snprintf(args, sizeof(args), "pool-gpu-remove pci-id=%s", item(n0, 1));
    free(xe_ok(args));
    out = xe_line("gpu-list pool=training --minimal");
    assert_string_equal(out, "");
    free(out);
    snprintf(args, sizeof(args), "pool-destroy uuid=%s", uuid);
    free(xe_ok(args));
    free(xe_ok("pool-destroy pool=inference"));
    out = xe_ok("pool-list");
    assert_string_equal(out, "");
    free(out);
    free(n0);
    free(uuid);
    free(u2);
}

/* The pool's Xen cpupool: pool-create key, pool-param-set / -get, xl config. */
static void test_pool_cpupool(void **state)
{
    char *uuid = xe_line("pool-create name-label=gpuvms cpupool=gpu");
    assert_int_equal(strlen(uuid), 36);
    free(xe_ok("pool-create name-label=plain"));
    char *out = xe_line("pool-param-get pool=gpuvms param-name=cpupool");
    assert_string_equal(out, "gpu");
    free(out);
    out = xe_line("pool-param-get pool=plain param-name=cpupool");
    assert_string_equal(out, "Pool-0");
    free(out);
    out = xe_ok("pool-param-list pool=gpuvms");
    check_layout(out);
    assert_non_null(strstr(out, "cpupool ( RW): gpu\n"));
    free(out);

    free(xe_ok("pool-param-set pool=gpuvms cpupool=accel"));
    out = xe_line("pool-param-get pool=gpuvms param-name=cpupool");
    assert_string_equal(out, "accel");
    free(out);

    /* Refusals change nothing. */
    char *before = xe_ok("pool-list params=all");
    expect_refusal("pool-param-set pool=gpuvms cpupool=", "INVALID_ARGUMENT");
    expect_refusal("pool-param-set pool=gpuvms cpupool=a\"b", "INVALID_ARGUMENT");
    expect_refusal("pool-create name-label=x cpupool=", "INVALID_ARGUMENT");
    expect_refusal("pool-create name-label=x cpupool=a'b", "INVALID_ARGUMENT");
    char *after = xe_ok("pool-list params=all");
    assert_string_equal(before, after);
    free(before);
    free(after);

    /* An assignment of the pool: its xl config lines name the cpupool (sim
     * reports no cpupools, so placement is not bounded by it). */
    free(xe_ok("sim-vm-create name-label=xlvm vcpus=2 memory=4096"));
    char *n0 = xe_line("gpu-list numa-node=0 --minimal");
    char args[256];
    snprintf(args, sizeof(args), "pool-gpu-add pool=gpuvms pci-id=%s", item(n0, 0));
    free(xe_ok(args));
    free(xe_ok("vm-gpu-assign vm=xlvm pool=gpuvms"));
    out = xe_ok("vm-xl-config vm=xlvm");
    assert_non_null(strstr(out, "\npool = \"accel\"\n"));
    free(out);
    free(n0);
    free(uuid);
}

/* ---- VMs ------------------------------------------------------------------------ */

static void test_sim_vms(void **state)
{
    char *uuid = xe_line("sim-vm-create name-label=v1 vcpus=4 memory=8192");
    assert_int_equal(strlen(uuid), 36);
    char *out = xe_ok("vm-list");
    check_layout(out);
    char *v = rec_value(out, 0, "uuid");
    assert_string_equal(v, uuid);
    free(v);
    v = rec_value(out, 0, "power-state");
    assert_string_equal(v, "halted");
    free(v);
    v = rec_value(out, 0, "vcpus");
    assert_string_equal(v, "4");
    free(v);
    v = rec_value(out, 0, "memory-mib");
    assert_string_equal(v, "8192");
    free(v);
    free(out);

    free(xe_ok("sim-vm-start vm=v1"));
    out = xe_line("vm-list name-label=v1 --minimal params=power-state");
    assert_string_equal(out, "running");
    free(out);
    free(xe_ok("sim-vm-pause vm=v1"));
    out = xe_line("vm-list --minimal params=power-state");
    assert_string_equal(out, "paused");
    free(out);
    expect_refusal("sim-vm-destroy vm=v1", "VM_NOT_HALTED");
    char args[128];
    snprintf(args, sizeof(args), "sim-vm-shutdown vm=%s", uuid);
    free(xe_ok(args));
    out = xe_line("vm-list --minimal params=power-state");
    assert_string_equal(out, "halted");
    free(out);
    expect_refusal("sim-vm-start vm=nobody", "UNKNOWN_VM");
    free(xe_ok("sim-vm-create name-label=twin vcpus=1 memory=512"));
    free(xe_ok("sim-vm-create name-label=twin vcpus=1 memory=512"));
    expect_refusal("sim-vm-start vm=twin", "VM_NAME_AMBIGUOUS");
    free(xe_ok("sim-vm-destroy vm=v1"));
    out = xe_line("vm-list --minimal params=name-label");
    assert_string_equal(out, "twin,twin");
    free(out);
    free(uuid);
}

/* ---- assignments and refusals ------------------------------------------------------- */

static void test_assign_numa_local(void **state)
{
    char args[512];
    char *n0 = xe_line("gpu-list numa-node=0 --minimal");
    char *n1 = xe_line("gpu-list numa-node=1 --minimal");
    char *cpus0 = xe_line("host-show node=0 --minimal params=cpus");
    char *cpus1 = xe_line("host-show node=1 --minimal params=cpus");
    /* --minimal escapes the commas of a list value */
    for (char *p = cpus0, *w = cpus0;; p++) {
        if (*p != '\\')
            *w++ = *p;
        if (!*p)
            break;
    }
    for (char *p = cpus1, *w = cpus1;; p++) {
        if (*p != '\\')
            *w++ = *p;
        if (!*p)
            break;
    }

    free(xe_ok("pool-create name-label=training numa-policy=required pin-mode=hard"));
    const char *gpus[] = { item(n0, 0), NULL, NULL, NULL };
    char g[4][32];
    snprintf(g[0], 32, "%s", item(n0, 0));
    snprintf(g[1], 32, "%s", item(n0, 1));
    snprintf(g[2], 32, "%s", item(n1, 0));
    snprintf(g[3], 32, "%s", item(n1, 1));
    (void)gpus;
    for (int i = 0; i < 4; i++) {
        snprintf(args, sizeof(args), "pool-gpu-add pool=training pci-id=%s", g[i]);
        free(xe_ok(args));
    }
    for (int i = 0; i < 4; i++) {
        snprintf(args, sizeof(args), "sim-vm-create name-label=t%d vcpus=16 memory=131072", i);
        free(xe_ok(args));
    }
    for (int i = 0; i < 4; i++) {
        snprintf(args, sizeof(args), "vm-gpu-assign vm=t%d pool=training", i);
        char *out = xe_ok(args);
        check_layout(out);
        char *pci = rec_value(out, 0, "pci-id");
        char *node = rec_value(out, 0, "numa-node");
        char *mem = rec_value(out, 0, "memory-node");
        char *pcpus = rec_value(out, 0, "pcpus");
        char *reason = rec_value(out, 0, "reason");
        char *vcpus = rec_value(out, 0, "vcpus");
        assert_non_null(pci);
        assert_non_null(reason);
        snprintf(args, sizeof(args), "gpu-param-get pci-id=%s param-name=numa-node", pci);
        char *gnode = xe_line(args);
        assert_string_equal(node, gnode);
        assert_string_equal(mem, gnode);
        assert_string_equal(vcpus, "16");
        assert_int_equal(count_items(pcpus), 16);
        assert_true(subset(pcpus, !strcmp(gnode, "0") ? cpus0 : cpus1));
        free(pci); free(node); free(mem); free(pcpus); free(reason); free(vcpus); free(gnode);
        free(out);
    }
    /* both nodes used, one GPU per VM, no GPU twice */
    char *held = xe_line("assignment-list --minimal params=pci-id");
    assert_int_equal(count_items(held), 4);
    for (int i = 0; i < 4; i++)
        assert_non_null(strstr(held, g[i]));
    free(held);
    char *out = xe_ok("assignment-list");
    check_layout(out);
    assert_int_equal(count_records(out), 4);
    free(out);
    out = xe_line("assignment-list numa-node=0 --minimal params=vm-name-label");
    assert_int_equal(count_items(out), 2);
    free(out);
    out = xe_line("gpu-list pool=training --minimal params=vm-uuid");
    assert_int_equal(count_items(out), 4);
    assert_null(strstr(out, ",,"));
    free(out);
    out = xe_line("pool-param-get pool=training param-name=free-gpus");
    assert_string_equal(out, "");
    free(out);
    out = xe_line("vm-list name-label=t0 --minimal params=gpu");
    assert_int_equal(strlen(out), 12);
    free(out);

    /* release, then the freed GPU is reassignable (forced with pci-id=) */
    char *t0gpu = xe_line("vm-list name-label=t0 --minimal params=gpu");
    free(xe_ok("vm-gpu-release vm=t0"));
    out = xe_line("pool-param-get pool=training param-name=free-gpus");
    assert_string_equal(out, t0gpu);
    free(out);
    free(xe_ok("sim-vm-create name-label=t9 vcpus=2 memory=1024 "));
    snprintf(args, sizeof(args), "vm-gpu-assign vm=t9 pool=training pci-id=%s vcpus=4 memory=2048",
             t0gpu);
    out = xe_ok(args);
    char *v = rec_value(out, 0, "vcpus");
    assert_string_equal(v, "4");
    free(v);
    v = rec_value(out, 0, "memory-mib");
    assert_string_equal(v, "2048");
    free(v);
    free(out);
    out = xe_line("audit-list operation=vm-gpu-release --minimal params=operation");
    assert_string_equal(out, "vm-gpu-release");
    free(out);
    out = xe_line("audit-list since=1 limit=2 --minimal");
    assert_string_equal(out, "2,3");
    free(out);
    out = xe_ok("audit-list limit=1");
    check_layout(out);
    v = rec_value(out, 0, "operation");
    assert_string_equal(v, "pool-create");
    free(v);
    free(out);
    expect_refusal("audit-list since=-1", "INVALID_ARGUMENT");
    expect_refusal("vm-gpu-assign vm=t0 pool=training", "POOL_HAS_NO_FREE_GPU");
    free(t0gpu);
    free(n0);
    free(n1);
    free(cpus0);
    free(cpus1);
}

static void test_refusals_change_nothing(void **state)
{
    char args[512], a[32], b[32], c[32], d[32], spare[32];
    char *n0 = xe_line("gpu-list numa-node=0 --minimal");
    char *n1 = xe_line("gpu-list numa-node=1 --minimal");
    snprintf(a, sizeof(a), "%s", item(n0, 0));
    snprintf(b, sizeof(b), "%s", item(n0, 1));
    snprintf(c, sizeof(c), "%s", item(n1, 0));
    snprintf(d, sizeof(d), "%s", item(n1, 1));
    snprintf(spare, sizeof(spare), "%s", item(n1, 2));

    free(xe_ok("pool-create name-label=training numa-policy=preferred"));
    free(xe_ok("pool-create name-label=empty"));
    const char *four[] = { a, b, c, d };
    for (int i = 0; i < 4; i++) {
        snprintf(args, sizeof(args), "pool-gpu-add pool=training pci-id=%s", four[i]);
        free(xe_ok(args));
    }
    /* held: halted with A; r1: running with B; p1: paused with C;
     * run / pau: running / paused without a GPU; free: halted, no GPU */
    const char *vms[] = { "held", "r1", "p1", "run", "pau", "free" };
    for (int i = 0; i < 6; i++) {
        snprintf(args, sizeof(args), "sim-vm-create name-label=%s vcpus=2 memory=2048", vms[i]);
        free(xe_ok(args));
    }
    snprintf(args, sizeof(args), "vm-gpu-assign vm=held pool=training pci-id=%s", a);
    free(xe_ok(args));
    snprintf(args, sizeof(args), "vm-gpu-assign vm=r1 pool=training pci-id=%s", b);
    free(xe_ok(args));
    snprintf(args, sizeof(args), "vm-gpu-assign vm=p1 pool=training pci-id=%s", c);
    free(xe_ok(args));
    free(xe_ok("sim-vm-start vm=r1"));
    free(xe_ok("sim-vm-start vm=p1"));
    free(xe_ok("sim-vm-pause vm=p1"));
    free(xe_ok("sim-vm-start vm=run"));
    free(xe_ok("sim-vm-start vm=pau"));
    free(xe_ok("sim-vm-pause vm=pau"));

    expect_refusal("vm-gpu-assign vm=nobody pool=training", "UNKNOWN_VM");
    expect_refusal("vm-gpu-release vm=nobody", "UNKNOWN_VM");
    expect_refusal("vm-gpu-assign vm=free pool=nowhere", "UNKNOWN_POOL");
    expect_refusal("vm-gpu-assign vm=free pool=training pci-id=0000:ff:1f.7", "UNKNOWN_GPU");
    expect_refusal("vm-gpu-assign vm=free pool=training pci-id=x:y", "PCI_ID_INVALID");
    snprintf(args, sizeof(args), "vm-gpu-assign vm=free pool=training pci-id=%s", spare);
    expect_refusal(args, "GPU_NOT_IN_POOL");
    expect_refusal("vm-gpu-assign vm=held pool=training", "VM_HAS_GPU");
    snprintf(args, sizeof(args), "vm-gpu-assign vm=free pool=training pci-id=%s", a);
    expect_refusal(args, "GPU_ASSIGNED");
    expect_refusal("vm-gpu-assign vm=run pool=training", "VM_NOT_HALTED");
    expect_refusal("vm-gpu-assign vm=pau pool=training", "VM_NOT_HALTED");
    expect_refusal("vm-gpu-release vm=r1", "VM_NOT_HALTED");
    expect_refusal("vm-gpu-release vm=p1", "VM_NOT_HALTED");
    expect_refusal("vm-gpu-release vm=free", "VM_HAS_NO_GPU");
    expect_refusal("vm-gpu-assign vm=free pool=empty", "POOL_HAS_NO_FREE_GPU");
    expect_refusal("vm-gpu-assign vm=free", "MISSING_PARAMETER");
    expect_refusal("vm-gpu-assign vm=free pool=training vcpus=0", "INVALID_ARGUMENT");
    expect_refusal("vm-gpu-assign vm=free pool=training vcpus=100000", "INVALID_ARGUMENT");
    expect_refusal("vm-gpu-assign vm=free pool=training vcpus=500", "NO_PLACEMENT");
    expect_refusal("pool-destroy pool=training", "POOL_NOT_EMPTY");
    snprintf(args, sizeof(args), "pool-gpu-remove pci-id=%s", a);
    expect_refusal(args, "GPU_ASSIGNED");
    snprintf(args, sizeof(args), "pool-gpu-remove pool=training pci-id=%s", b);
    expect_refusal(args, "GPU_ASSIGNED");
    snprintf(args, sizeof(args), "pool-gpu-remove pool=empty pci-id=%s", d);
    expect_refusal(args, "GPU_NOT_IN_POOL");
    snprintf(args, sizeof(args), "pool-gpu-add pool=empty pci-id=%s", d);
    expect_refusal(args, "GPU_IN_OTHER_POOL");
    expect_refusal("pool-create name-label=training", "POOL_NAME_EXISTS");
    expect_refusal("pool-create name-label=x numa-policy=bogus", "INVALID_ARGUMENT");
    expect_refusal("sim-vm-destroy vm=held", "VM_HAS_GPU");
    expect_refusal("sim-vm-start vm=r1", "VM_NOT_HALTED");
    expect_refusal("no-such-command vm=held", "UNKNOWN_COMMAND");
    expect_refusal("vm-gpu-release", "MISSING_PARAMETER");

    /* the state is what it was: three assignments, D free */
    char *out = xe_line("assignment-list --minimal params=pci-id");
    snprintf(args, sizeof(args), "%s,%s,%s", a, b, c);
    assert_string_equal(out, args);
    free(out);
    out = xe_line("pool-param-get pool=training param-name=free-gpus");
    assert_string_equal(out, d);
    free(out);
    free(n0);
    free(n1);
}

/* 8 VMs race for a 4-GPU pool: exactly 4 win, each GPU once, the others
 * fail cleanly with POOL_HAS_NO_FREE_GPU or NO_PLACEMENT. */
static void test_concurrent_assign(void **state)
{
    enum { NVM = 8 };
    char args[512];
    char *n0 = xe_line("gpu-list numa-node=0 --minimal");
    char *n1 = xe_line("gpu-list numa-node=1 --minimal");
    free(xe_ok("pool-create name-label=race numa-policy=required"));
    const char *gp[4] = { NULL };
    char g[4][32];
    snprintf(g[0], 32, "%s", item(n0, 0));
    snprintf(g[1], 32, "%s", item(n0, 1));
    snprintf(g[2], 32, "%s", item(n1, 0));
    snprintf(g[3], 32, "%s", item(n1, 1));
    (void)gp;
    for (int i = 0; i < 4; i++) {
        snprintf(args, sizeof(args), "pool-gpu-add pool=race pci-id=%s", g[i]);
        free(xe_ok(args));
    }
    for (int i = 0; i < NVM; i++) {
        snprintf(args, sizeof(args), "sim-vm-create name-label=racer-%d vcpus=2 memory=1024", i);
        free(xe_ok(args));
    }

    int gate[2];
    pid_t pids[NVM];
    char outp[NVM][4400], errp[NVM][4400];
    assert_int_equal(pipe(gate), 0);
    for (int i = 0; i < NVM; i++) {
        snprintf(outp[i], sizeof(outp[i]), "%s/race%d.out", S->dir, i);
        snprintf(errp[i], sizeof(errp[i]), "%s/race%d.err", S->dir, i);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            char vm[32], c;
            snprintf(vm, sizeof(vm), "vm=racer-%d", i);
            int o = open(outp[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            int e = open(errp[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(o, 1);
            dup2(e, 2);
            close(gate[1]);
            /* wait at the gate: all start together */
            if (read(gate[0], &c, 1) < 0)
                _exit(126);
            putenv(S->conf_env);
            execl(XE, XE, S->db_opt, "--driver=sim", "--topology=embedded",
                  "vm-gpu-assign", vm, "pool=race", (char *)NULL);
            _exit(127);
        }
    }
    close(gate[0]);
    close(gate[1]);                 /* open the gate */
    int ok = 0;
    for (int i = 0; i < NVM; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        char *err = tu_slurp(errp[i]);
        char *out = tu_slurp(outp[i]);
        if (WEXITSTATUS(st) == 0) {
            ok++;
            assert_string_equal(err, "");
            assert_non_null(strstr(out, "pci-id ( RO): "));
        } else {
            assert_int_equal(WEXITSTATUS(st), 1);
            const char *code = first_line(err);
            if (strcmp(code, "POOL_HAS_NO_FREE_GPU") && strcmp(code, "NO_PLACEMENT"))
                fail_msg("racer %d failed with %s", i, err);
            assert_string_equal(out, "");
        }
        free(err);
        free(out);
    }
    assert_int_equal(ok, 4);
    char *held = xe_line("assignment-list --minimal params=pci-id");
    assert_int_equal(count_items(held), 4);
    for (int i = 0; i < 4; i++) {
        char *first = strstr(held, g[i]);
        assert_non_null(first);
        assert_null(strstr(first + 1, g[i]));   /* each GPU held once */
    }
    free(held);
    char *vms = xe_line("assignment-list --minimal params=vm-uuid");
    assert_int_equal(count_items(vms), 4);
    for (int i = 0; i < 4; i++) {
        char v[40];
        snprintf(v, sizeof(v), "%s", item(vms, (size_t)i));
        assert_null(strstr(strstr(vms, v) + 1, v));
    }
    free(vms);
    char *audit = xe_line("audit-list operation=vm-gpu-assign --minimal");
    assert_int_equal(count_items(audit), 4);
    free(audit);
    free(n0);
    free(n1);
}

/* ---- real-machine fixtures ---------------------------------------------------------- */

static void test_fixture_hwloc_teslas(void **state)
{
    char *xml = tu_fixture("hwloc/24em64t-2n6c2t-pci.xml");
    if (!xml) {
        fprintf(stderr, "skipping: ../shared/fixtures/hwloc/24em64t-2n6c2t-pci.xml absent\n");
        skip();
    }
    char opts[4400];
    snprintf(opts, sizeof(opts), "--driver=sim --topology=%s", xml);
    tu_run_result r;

    assert_int_equal(xe_opts(&r, opts, "gpu-list params=pci-id,device-name,numa-node"), 0);
    assert_int_equal(r.status, 0);
    check_layout(r.out);
    static const char *const ids[] = { "0000:06:00.0", "0000:11:00.0", "0000:14:00.0" };
    static const char *const nodes[] = { "0", "1", "1" };
    size_t n = count_records(r.out), teslas = 0;
    for (size_t i = 0; i < n; i++) {
        char *id = rec_value(r.out, i, "pci-id");
        char *node = rec_value(r.out, i, "numa-node");
        char *name = rec_value(r.out, i, "device-name");
        for (int k = 0; k < 3; k++)
            if (!strcmp(id, ids[k])) {
                teslas++;
                assert_string_equal(node, nodes[k]);
                assert_non_null(strstr(name, "Tesla"));
            }
        free(id); free(node); free(name);
    }
    assert_int_equal(teslas, 3);
    tu_run_free(&r);

    /* a VM on node 0 gets even pCPUs (node 0 = even PUs on this machine) */
    assert_int_equal(xe_opts(&r, opts, "pool-create name-label=t numa-policy=required"), 0);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    assert_int_equal(xe_opts(&r, opts, "pool-gpu-add pool=t pci-id=0000:06:00.0"), 0);
    if (r.status)
        fail_msg("pool-gpu-add: %s", r.err);
    tu_run_free(&r);
    assert_int_equal(xe_opts(&r, opts, "sim-vm-create name-label=v vcpus=4 memory=1024"), 0);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    assert_int_equal(xe_opts(&r, opts, "vm-gpu-assign vm=v pool=t"), 0);
    if (r.status)
        fail_msg("vm-gpu-assign: %s", r.err);
    char *node = rec_value(r.out, 0, "numa-node");
    char *pcpus = rec_value(r.out, 0, "pcpus");
    assert_string_equal(node, "0");
    assert_int_equal(count_items(pcpus), 4);
    char *copy = strdup(pcpus);
    for (char *t = strtok(copy, ","); t; t = strtok(NULL, ","))
        if (atoi(t) % 2 != 0)
            fail_msg("pCPU %s of node 0 is odd (pcpus %s)", t, pcpus);
    free(copy);
    free(node);
    free(pcpus);
    tu_run_free(&r);
}

static void test_fixture_sysfs_ve(void **state)
{
    char *top = tu_unpack_fixture("sysfs/32intel64-2p8co2t+8ve.tar.bz2");
    if (!top) {
        fprintf(stderr, "skipping: ../shared/fixtures/sysfs/32intel64-2p8co2t+8ve.tar.bz2 absent\n");
        skip();
    }
    char opts[4600];
    snprintf(opts, sizeof(opts),
             "--driver=sim --sysfs-root=%s/sys --gpu-classes=0300,0302,0380,1200,0b40", top);
    tu_run_result r;
    assert_int_equal(xe_opts(&r, opts, "gpu-list --minimal"), 0);
    if (r.status)
        fail_msg("gpu-list: %s", r.err);
    char *all = strdup(r.out);
    tu_run_free(&r);
    assert_int_equal(xe_opts(&r, opts, "gpu-list numa-node=0 --minimal"), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_items(all), 8);
    assert_string_equal(r.out, all);
    tu_run_free(&r);
    assert_int_equal(xe_opts(&r, opts, "gpu-list class=0b40 --minimal params=class"), 0);
    assert_string_equal(r.out, "0b40,0b40,0b40,0b40,0b40,0b40,0b40,0b40\n");
    tu_run_free(&r);
    /* without the 0b40 class: none of them is a GPU */
    char opts2[4600];
    snprintf(opts2, sizeof(opts2), "--driver=sim --sysfs-root=%s/sys", top);
    assert_int_equal(xe_opts(&r, opts2, "gpu-list class=0b40 --minimal"), 0);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "\n");
    tu_run_free(&r);
    free(all);
    free(top);
}

static void test_fixture_lspci_companion(void **state)
{
    char *dump = tu_fixture("lspci/tree-asus-p6t6");
    if (!dump) {
        fprintf(stderr, "skipping: ../shared/fixtures/lspci/tree-asus-p6t6 absent\n");
        skip();
    }
    char opts[4400];
    snprintf(opts, sizeof(opts), "--driver=sim --topology=embedded --pci-dump=%s", dump);
    tu_run_result r;
    assert_int_equal(xe_opts(&r, opts, "gpu-list --minimal"), 0);
    if (r.status)
        fail_msg("gpu-list: %s", r.err);
    assert_non_null(strstr(r.out, "0000:06:00.0"));
    assert_null(strstr(r.out, "0000:06:00.1"));     /* the audio function is no GPU */
    tu_run_free(&r);
    assert_int_equal(xe_opts(&r, opts, "gpu-param-get pci-id=06:00.0 param-name=companions"), 0);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "0000:06:00.1\n");
    tu_run_free(&r);
    assert_int_equal(xe_opts(&r, opts, "gpu-param-list pci-id=0000:06:00.0"), 0);
    assert_int_equal(r.status, 0);
    check_layout(r.out);
    char *v = rec_value(r.out, 0, "vendor-id");
    assert_string_equal(v, "10de");
    free(v);
    v = rec_value(r.out, 0, "class");
    assert_string_equal(v, "0300");
    free(v);
    tu_run_free(&r);
}

/* ---- bash completion ------------------------------------------------------------------ */

static void test_bash_completion(void **state)
{
    tu_run_result r;
    if (access("/bin/bash", X_OK) != 0) {
        fprintf(stderr, "skipping: no /bin/bash\n");
        skip();
    }
    free(xe_ok("pool-create name-label=training"));
    free(xe_ok("pool-create name-label=inference"));
    char cmd[9000];
    /* what bash hands the function: the line, the point, and words split
     * at COMP_WORDBREAKS; replies are relative to the text after the last
     * '=' or ':' */
    snprintf(cmd, sizeof(cmd),
             "export %s GPUPOOL_DB=%s GPUPOOL_DRIVER=sim GPUPOOL_TOPOLOGY=embedded; "
             "PATH=$PWD/xe-cli:$PATH; . xe-cli/xe-gpupool.bash-completion; "
             "COMP_WORDBREAKS=' =:'; "
             "c() { COMP_LINE=\"$1\"; COMP_POINT=${#COMP_LINE}; _xe_gpupool; "
             "echo \"$2:${COMPREPLY[*]}\"; }; "
             "c 'xe-gpupool pool-param-list pool=' A; "
             "c 'xe-gpupool pool-c' B; "
             "c 'xe-gpupool vm-gpu-assign v' C; "
             "c 'xe-gpupool pool-create numa-policy=p' D; "
             "c 'xe-gpupool gpu-param-get pci-id=0000:18:' E; "
             "c 'xe-gpupool ' F",
             S->conf_env, S->db);
    const char *argv[] = { "/bin/bash", "-c", cmd, NULL };
    assert_int_equal(tu_run(&r, argv, NULL), 0);
    if (r.status)
        fail_msg("bash: %s", r.err);
    assert_non_null(strstr(r.out, "A:inference training\n"));
    assert_non_null(strstr(r.out, "B:pool-create\n"));
    assert_non_null(strstr(r.out, "C:vm= vcpus=\n"));
    assert_non_null(strstr(r.out, "D:preferred\n"));
    assert_non_null(strstr(r.out, "E:00.0\n"));
    assert_non_null(strstr(r.out, "F:gpu-list gpu-param-list"));
    tu_run_free(&r);
}

/* Issue 8's stream on a spread pool of the 8 GPUs: the fifth VM is placed
 * by moving halted VMs, and vm-gpu-assign names them in moved-vms. */
static void test_assign_replan_moved_vms(void **state)
{
    expect_refusal("pool-create name-label=bad placement=nearest", "INVALID_ARGUMENT");
    free(xe_ok("pool-create name-label=i8 placement=spread"));
    char *v = xe_line("pool-param-get pool=i8 param-name=uuid");
    free(v);
    char *all = xe_line("gpu-list --minimal");
    assert_int_equal(count_items(all), 8);
    for (size_t i = 0; i < count_items(all); i++) {
        char args[128];
        snprintf(args, sizeof(args), "pool-gpu-add pool=i8 pci-id=%s", item(all, i));
        free(xe_ok(args));
    }
    free(all);
    expect_refusal("pool-param-set pool=i8 placement=tight", "INVALID_ARGUMENT");
    static const int vcpus[] = { 12, 20, 12, 16, 16 };
    static const int gib[] = { 256, 32, 256, 256, 32 };
    for (int i = 0; i < 5; i++) {
        char args[128];
        snprintf(args, sizeof(args), "sim-vm-create name-label=i8-%d vcpus=%d memory=%d", i,
                 vcpus[i], gib[i] << 10);
        free(xe_ok(args));
        snprintf(args, sizeof(args), "vm-gpu-assign vm=i8-%d pool=i8", i);
        char *out = xe_ok(args);
        v = rec_value(out, 0, "moved-vms");
        assert_non_null(v);
        if (i < 4)
            assert_string_equal(v, "");
        else
            assert_non_null(strstr(v, " -> 0000:"));
        free(v);
        free(out);
    }
    char *n = xe_line("audit-list operation=vm-gpu-replan --minimal params=operation");
    assert_true(strlen(n) > 0);
    free(n);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_help_version_usage),
        T(test_config_precedence),
        T(test_gpu_list_format),
        T(test_host_show),
        T(test_pool_lifecycle),
        T(test_pool_cpupool),
        T(test_sim_vms),
        T(test_assign_numa_local),
        T(test_refusals_change_nothing),
        T(test_assign_replan_moved_vms),
        T(test_concurrent_assign),
        T(test_fixture_hwloc_teslas),
        T(test_fixture_sysfs_ve),
        T(test_fixture_lspci_companion),
        T(test_bash_completion),
    };
    return cmocka_run_group_tests_name("xe-gpupool", tests, NULL, NULL);
}
