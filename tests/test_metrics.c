/*
 * test_metrics.c - gp_metrics_text() / gp_metrics_write() (ops/metrics.c)
 * with the sim driver on the embedded host and the clock set through
 * GPUPOOL_NOW: exact lines of a known scenario (states, stranded GPUs,
 * GPU-seconds counters per pool and tenant, the queue and its wait
 * histogram, label escaping), HELP and TYPE for every family, promtool
 * check metrics accepting the text (skipped with a message when promtool
 * is absent), and the atomic write (mode 0644, content, no temporary file
 * left, a failed write leaving the old file whole).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "gpupool.h"
#include "testutil.h"
#include "gptest.h"

#define T0 1796000000LL
/* A pool name that needs escaping in a label value. */
#define ODD_POOL "tiny \"x\"\\y"
#define ODD_LABEL "tiny \\\"x\\\"\\\\y"

typedef struct {
    char dir[256];
    gp_ctx *ctx;
    char idle_uuid[37];
} fx;

#define OK(ctx, call) do { int rc_ = (call); \
        if (rc_) fail_msg("%s: %s (%s)", #call, gp_error_name(rc_), \
                          gp_ctx_last_error(ctx)->message); } while (0)

static void at(int64_t t)
{
    char b[24];
    snprintf(b, sizeof(b), "%lld", (long long)t);
    setenv("GPUPOOL_NOW", b, 1);
}

static void assign(gp_ctx *ctx, const char *vm, const char *pool, const char *pci,
                   const char *tenant)
{
    gp_assign_args aa;
    memset(&aa, 0, sizeof(aa));
    aa.pool = pool;
    aa.pci_id = pci;
    aa.tenant = tenant;
    OK(ctx, gp_vm_gpu_assign(ctx, vm, &aa, NULL));
}

static void request(gp_ctx *ctx, const char *vm, const char *pool)
{
    gp_request_args ra;
    gp_request rq;
    bool queued = false;
    memset(&ra, 0, sizeof(ra));
    memset(&rq, 0, sizeof(rq));
    ra.pool = pool;
    OK(ctx, gp_vm_gpu_request(ctx, vm, &ra, NULL, &rq, &queued));
    assert_true(queued);
    free(rq.pool_name_label);
    free(rq.tenant);
    free(rq.requested_by);
    free(rq.on_behalf_of);
}

/* test_capacity.c's scenario (pool "training": big 44 vCPUs on 18, mid on
 * 9a, idle of tenant vision on ab halted at T0+1000; 2a and 3a stranded),
 * plus pool ODD_POOL holding 5d (node 0), held by "t1" (2 vCPUs), with
 * requests of w1 at T0+1000 and w2 at T0+4000 queued; now T0+4600. */
static int setup(void **state)
{
    static const char *const members[] = { "0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0",
                                           "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0" };
    fx *f = calloc(1, sizeof(*f));
    char db[320];
    assert_non_null(f);
    char *d = tu_scratch_dir("metrics");
    assert_non_null(d);
    snprintf(f->dir, sizeof(f->dir), "%s", d);
    free(d);
    snprintf(db, sizeof(db), "%s/state.db", f->dir);
    f->ctx = gt_ctx_embedded(db, "sim", NULL, 0);

    gp_ctx *ctx = f->ctx;
    at(T0);
    OK(ctx, gp_pool_create(ctx, "training", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL));
    for (size_t i = 0; i < 6; i++)
        OK(ctx, gp_pool_gpu_add(ctx, "training", members[i]));
    OK(ctx, gp_pool_create(ctx, ODD_POOL, NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL));
    OK(ctx, gp_pool_gpu_add(ctx, ODD_POOL, "0000:5d:00.0"));
    OK(ctx, gp_sim_vm_create(ctx, "big", 44, 262144, NULL));
    OK(ctx, gp_sim_vm_create(ctx, "mid", 8, 65536, NULL));
    OK(ctx, gp_sim_vm_create(ctx, "idle", 8, 65536, f->idle_uuid));
    OK(ctx, gp_sim_vm_create(ctx, "t1", 2, 4096, NULL));
    OK(ctx, gp_sim_vm_create(ctx, "w1", 2, 4096, NULL));
    OK(ctx, gp_sim_vm_create(ctx, "w2", 2, 4096, NULL));
    assign(ctx, "big", "training", "0000:18:00.0", NULL);
    assign(ctx, "mid", "training", "0000:9a:00.0", NULL);
    assign(ctx, "idle", "training", "0000:ab:00.0", "vision");
    assign(ctx, "t1", ODD_POOL, NULL, NULL);
    at(T0 + 100);
    OK(ctx, gp_sim_vm_start(ctx, "big"));
    OK(ctx, gp_sim_vm_start(ctx, "mid"));
    OK(ctx, gp_sim_vm_start(ctx, "idle"));
    at(T0 + 1000);
    OK(ctx, gp_sim_vm_shutdown(ctx, "idle"));
    request(ctx, "w1", ODD_POOL);
    at(T0 + 4000);
    request(ctx, "w2", ODD_POOL);
    at(T0 + 4600);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tu_run_result r;
    char cmd[320];
    gp_ctx_free(f->ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    tu_sh(&r, cmd);
    tu_run_free(&r);
    unsetenv("GPUPOOL_NOW");
    free(f);
    return 0;
}

/* text has line as one whole line. */
static void has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    fail_msg("no line '%s' in the metrics:\n%s", line, text);
}

static void test_exact_lines(void **state)
{
    fx *f = *state;
    char *t = NULL, line[512];

    OK(f->ctx, gp_metrics_text(f->ctx, "h1", &t));
    has_line(t, "# TYPE gpupool_gpu_info gauge");
    has_line(t, "gpupool_gpu_info{hostname=\"h1\",pci_bus_id=\"0000:18:00.0\","
                "model_name=\"GH100 [H100 PCIe]\",numa_node=\"0\",pool=\"training\"} 1");
    has_line(t, "gpupool_gpu_info{hostname=\"h1\",pci_bus_id=\"0000:db:00.0\","
                "model_name=\"GH100 [H100 PCIe]\",numa_node=\"1\",pool=\"\"} 1");
    has_line(t, "gpupool_gpu_info{hostname=\"h1\",pci_bus_id=\"0000:5d:00.0\","
                "model_name=\"GH100 [H100 PCIe]\",numa_node=\"0\",pool=\"" ODD_LABEL "\"} 1");
    has_line(t, "gpupool_gpu_state{hostname=\"h1\",pci_bus_id=\"0000:18:00.0\",state=\"running\"} 1");
    has_line(t, "gpupool_gpu_state{hostname=\"h1\",pci_bus_id=\"0000:18:00.0\",state=\"free\"} 0");
    has_line(t, "gpupool_gpu_state{hostname=\"h1\",pci_bus_id=\"0000:2a:00.0\",state=\"stranded\"} 1");
    has_line(t, "gpupool_gpu_state{hostname=\"h1\",pci_bus_id=\"0000:ab:00.0\",state=\"assigned\"} 1");
    has_line(t, "gpupool_gpu_state{hostname=\"h1\",pci_bus_id=\"0000:ba:00.0\",state=\"free\"} 1");
    has_line(t, "gpupool_gpu_state{hostname=\"h1\",pci_bus_id=\"0000:db:00.0\",state=\"no-pool\"} 1");
    snprintf(line, sizeof(line), "gpupool_gpu_assignment_info{hostname=\"h1\","
             "pci_bus_id=\"0000:ab:00.0\",pool=\"training\",vm_uuid=\"%s\",tenant=\"vision\"} 1",
             f->idle_uuid);
    has_line(t, line);
    snprintf(line, sizeof(line), "gpupool_gpu_halted_holder_seconds{hostname=\"h1\","
             "pci_bus_id=\"0000:ab:00.0\",pool=\"training\",vm_uuid=\"%s\"} 3600", f->idle_uuid);
    has_line(t, line);
    has_line(t, "gpupool_pool_gpus{hostname=\"h1\",pool=\"training\",state=\"free\"} 1");
    has_line(t, "gpupool_pool_gpus{hostname=\"h1\",pool=\"training\",state=\"stranded\"} 2");
    has_line(t, "gpupool_pool_gpus{hostname=\"h1\",pool=\"training\",state=\"assigned\"} 1");
    has_line(t, "gpupool_pool_gpus{hostname=\"h1\",pool=\"training\",state=\"running\"} 2");
    has_line(t, "gpupool_pool_gpus{hostname=\"h1\",pool=\"" ODD_LABEL "\",state=\"assigned\"} 1");
    has_line(t, "gpupool_gpus_no_pool{hostname=\"h1\"} 1");
    has_line(t, "gpupool_stranded_gpus{hostname=\"h1\",pool=\"training\",reason=\"no-pcpus\"} 2");
    has_line(t, "gpupool_stranded_gpus{hostname=\"h1\",pool=\"training\",reason=\"no-memory\"} 0");
    has_line(t, "gpupool_pool_largest_vm_vcpus{hostname=\"h1\",pool=\"training\"} 32");
    has_line(t, "gpupool_pool_largest_vm_memory_bytes{hostname=\"h1\",pool=\"training\"} "
                "481036337152");                               /* 448 GiB */
    has_line(t, "gpupool_assignments{hostname=\"h1\",pool=\"training\"} 3");
    has_line(t, "gpupool_numa_local_assignments_ratio{hostname=\"h1\",pool=\"training\"} 1");
    /* default: big and mid held 4600 s each, ran 4500 s each; vision: idle
     * held 4600 s, ran 900 s; t1 held 4600 s, never ran. */
    has_line(t, "# TYPE gpupool_gpu_allocated_seconds_total counter");
    has_line(t, "gpupool_gpu_allocated_seconds_total{hostname=\"h1\",pool=\"training\","
                "tenant=\"default\"} 9200");
    has_line(t, "gpupool_gpu_allocated_seconds_total{hostname=\"h1\",pool=\"training\","
                "tenant=\"vision\"} 4600");
    has_line(t, "gpupool_gpu_allocated_seconds_total{hostname=\"h1\",pool=\"" ODD_LABEL "\","
                "tenant=\"default\"} 4600");
    has_line(t, "gpupool_gpu_running_seconds_total{hostname=\"h1\",pool=\"training\","
                "tenant=\"default\"} 9000");
    has_line(t, "gpupool_gpu_running_seconds_total{hostname=\"h1\",pool=\"training\","
                "tenant=\"vision\"} 900");
    has_line(t, "gpupool_gpu_running_seconds_total{hostname=\"h1\",pool=\"" ODD_LABEL "\","
                "tenant=\"default\"} 0");
    /* Waits 3600 s (w1) and 600 s (w2). */
    has_line(t, "gpupool_queue_length{hostname=\"h1\",pool=\"" ODD_LABEL "\"} 2");
    has_line(t, "gpupool_queue_length{hostname=\"h1\",pool=\"training\"} 0");
    has_line(t, "# TYPE gpupool_queue_wait_seconds histogram");
    has_line(t, "gpupool_queue_wait_seconds_bucket{hostname=\"h1\",le=\"300\"} 0");
    has_line(t, "gpupool_queue_wait_seconds_bucket{hostname=\"h1\",le=\"900\"} 1");
    has_line(t, "gpupool_queue_wait_seconds_bucket{hostname=\"h1\",le=\"1800\"} 1");
    has_line(t, "gpupool_queue_wait_seconds_bucket{hostname=\"h1\",le=\"3600\"} 2");
    has_line(t, "gpupool_queue_wait_seconds_bucket{hostname=\"h1\",le=\"+Inf\"} 2");
    has_line(t, "gpupool_queue_wait_seconds_sum{hostname=\"h1\"} 4200");
    has_line(t, "gpupool_queue_wait_seconds_count{hostname=\"h1\"} 2");

    /* host-validate's verdicts, GPU by GPU and for the host, as
     * gp_host_validate() gives them (5 statuses each, zeros included). */
    {
        gp_check *cs = NULL;
        size_t n_cs = 0, n_fail = 0, per[GP_CHECK_STATUS_LAST] = { 0 },
               all[GP_CHECK_STATUS_LAST] = { 0 };
        OK(f->ctx, gp_host_validate(f->ctx, &cs, &n_cs, &n_fail));
        assert_true(n_cs > 0);
        for (size_t k = 0; k < n_cs; k++) {
            all[cs[k].status]++;
            if (!strcmp(cs[k].subject, "0000:18:00.0"))
                per[cs[k].status]++;
        }
        assert_true(per[GP_CHECK_PASS] > 0);
        for (int s = 0; s < GP_CHECK_STATUS_LAST; s++) {
            snprintf(line, sizeof(line), "gpupool_gpu_validation_checks{hostname=\"h1\","
                     "pci_bus_id=\"0000:18:00.0\",status=\"%s\"} %zu",
                     gp_check_status_name((gp_check_status)s), per[s]);
            has_line(t, line);
            snprintf(line, sizeof(line), "gpupool_host_validation_checks{hostname=\"h1\","
                     "status=\"%s\"} %zu", gp_check_status_name((gp_check_status)s), all[s]);
            has_line(t, line);
        }
        gp_check_list_free(cs, n_cs);
    }

    /* Every family: HELP then TYPE, and every sample after its TYPE. */
    size_t types = 0;
    char fam[128] = "";
    for (char *p = t; *p;) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        *nl = '\0';
        if (!strncmp(p, "# HELP ", 7)) {
            char name[128];
            assert_int_equal(sscanf(p + 7, "%127s", name), 1);
            char *tl = nl + 1;
            assert_int_equal(strncmp(tl, "# TYPE ", 7), 0);
            assert_int_equal(strncmp(tl + 7, name, strlen(name)), 0);
            snprintf(fam, sizeof(fam), "%s", name);
        } else if (!strncmp(p, "# TYPE ", 7)) {
            types++;
        } else {
            assert_int_equal(strncmp(p, fam, strlen(fam)), 0);
        }
        p = nl + 1;
    }
    assert_int_equal(types, 18);
    free(t);
}

static void test_promtool_accepts(void **state)
{
    fx *f = *state;
    tu_run_result r;
    char path[320], cmd[400];
    char *t = NULL;

    tu_sh(&r, "command -v promtool");
    bool have = r.status == 0;
    tu_run_free(&r);
    if (!have) {
        fprintf(stderr, "skipping: promtool absent (Debian package prometheus)\n");
        skip();
    }
    OK(f->ctx, gp_metrics_text(f->ctx, NULL, &t));
    snprintf(path, sizeof(path), "%s/m.prom", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(t, fp);
    fclose(fp);
    free(t);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
    tu_sh(&r, cmd);
    if (r.status != 0)
        fail_msg("promtool check metrics: %d\n%s%s", r.status, r.out, r.err);
    tu_run_free(&r);
    /* And it can fail: a counter without _total is refused. */
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("# HELP x_seconds y\n# TYPE x_seconds counter\nx_seconds 1\n", fp);
    fclose(fp);
    tu_sh(&r, cmd);
    assert_int_not_equal(r.status, 0);
    tu_run_free(&r);
}

/* Files of dir whose name starts with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)))
        n += !strncmp(de->d_name, prefix, strlen(prefix));
    closedir(d);
    return n;
}

static void test_atomic_write(void **state)
{
    fx *f = *state;
    char out[400], sub[320];
    char *t = NULL;
    struct stat st;

    snprintf(sub, sizeof(sub), "%s/textfile", f->dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(out, sizeof(out), "%s/gpupool.prom", sub);
    umask(077);                 /* the file is 0644 whatever the umask */
    OK(f->ctx, gp_metrics_write(f->ctx, "h1", out));
    umask(022);
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    char *got = tu_slurp(out);
    OK(f->ctx, gp_metrics_text(f->ctx, "h1", &t));
    assert_non_null(got);
    assert_string_equal(got, t);
    free(got);
    assert_int_equal(count_prefixed(sub, "."), 2);   /* only "." and ".." */

    /* A write that fails (the file size limit: EFBIG) leaves the old file
     * whole and no temporary file; in a child, so the limit stays there. */
    FILE *fp = fopen(out, "w");
    assert_non_null(fp);
    fputs("old\n", fp);
    fclose(fp);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = { 64, 64 };
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        int rc = gp_metrics_write(f->ctx, "h1", out);
        _exit(rc == GP_ERR_IO ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    got = tu_slurp(out);
    assert_string_equal(got, "old\n");
    free(got);
    assert_int_equal(count_prefixed(sub, "."), 2);

    /* No such directory: IO_ERROR naming the path, nothing created. */
    snprintf(sub, sizeof(sub), "%s/missing/gpupool.prom", f->dir);
    assert_int_equal(gp_metrics_write(f->ctx, "h1", sub), GP_ERR_IO);
    assert_string_equal(gp_ctx_last_error(f->ctx)->params[0].key, "path");
    assert_string_equal(gp_ctx_last_error(f->ctx)->params[0].value, sub);
    assert_int_equal(gp_metrics_write(f->ctx, "h1", ""), GP_ERR_INVALID_ARGUMENT);
    free(t);
}

/* The front end: xe-gpupool metrics prints the library's text, metrics
 * out= writes it (0644), capacity-report format=json is JSON with the
 * library's figures; the plugin's functions are tested on the stand-in
 * (tests/xapi_cluster_check.py, CapacityTest). */
static void test_cli(void **state)
{
    fx *f = *state;
    tu_run_result r;
    char db[320], conf[320], out[400], arg[420];
    char *t = NULL;
    struct stat st;

    snprintf(db, sizeof(db), "GPUPOOL_DB=%s/state.db", f->dir);
    snprintf(conf, sizeof(conf), "GPUPOOL_CONFIG=%s/none.conf", f->dir);
    const char *env[] = { db, conf, "GPUPOOL_DRIVER=sim", "GPUPOOL_TOPOLOGY=embedded",
                          "GPUPOOL_SYSFS_ROOT=", "GPUPOOL_PCI_DUMP=", "GPUPOOL_GPU_CLASSES=",
                          NULL };
    const char *m[] = { "xe-cli/xe-gpupool", "metrics", "hostname=h1", NULL };
    OK(f->ctx, gp_metrics_text(f->ctx, "h1", &t));
    tu_run(&r, m, env);
    if (r.status)
        fail_msg("metrics: %d %s", r.status, r.err);
    assert_string_equal(r.out, t);
    tu_run_free(&r);
    snprintf(out, sizeof(out), "%s/cli.prom", f->dir);
    snprintf(arg, sizeof(arg), "out=%s", out);
    const char *w[] = { "xe-cli/xe-gpupool", "metrics", "hostname=h1", arg, NULL };
    tu_run(&r, w, env);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
    tu_run_free(&r);
    char *got = tu_slurp(out);
    assert_non_null(got);
    assert_string_equal(got, t);
    free(got);
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    free(t);
    const char *c[] = { "xe-cli/xe-gpupool", "capacity-report", "format=json", NULL };
    tu_run(&r, c, env);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"name_label\":\"training\",\"gpus\":6,\"free\":1,"
                                  "\"stranded\":2,\"running\":2,\"halted\":1"));
    tu_run_free(&r);
    const char *bad[] = { "xe-cli/xe-gpupool", "capacity-report", "format=xml", NULL };
    tu_run(&r, bad, env);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "INVALID_ARGUMENT"));
    tu_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exact_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promtool_accepts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
