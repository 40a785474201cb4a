/*
 * bench_plugin.c - the XAPI plugin's list_gpus, a whole process per call,
 * on the embedded dual-socket 8-GPU host (two GPUs in a pool, one
 * assigned), run as xapi runs it (argv[1] the methodCall, stdin /dev/null,
 * environment PATH + GPUPOOL_CONFIG).  Prints the median and the spread
 * beside the same call made by the equivalent Python plugin
 * (tests/bench/gpupool_plugin.py: xmlrpc.client + sqlite3 + json) and the
 * ratio, from one run.  Target: median <= 3 ms.
 *
 *   tests/bench/bench_plugin [RUNS]        (default 300; run from the repo root)
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "gpupool.h"
#include "testutil.h"

#define CALL "<methodCall><methodName>list_gpus</methodName><params><param><value>" \
             "OpaqueRef:bench</value></param><param><value><struct/></value></param>" \
             "</params></methodCall>"

/* Run argv once with stdin /dev/null, stdout to a pipe we drain; returns ms
 * or -1.  *out_ok: the reply carried "Success". */
static double run_once(char *const *argv, char *const *envp, int *out_ok)
{
    posix_spawn_file_actions_t fa;
    int pfd[2];
    pid_t pid;
    double t0 = bu_now_ms();
    char buf[65536];
    size_t total = 0;
    int status;

    if (pipe(pfd))
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    posix_spawn_file_actions_addclose(&fa, pfd[1]);
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, envp)) {
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    *out_ok = 0;
    for (;;) {
        ssize_t r = read(pfd[0], buf, sizeof(buf) - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        buf[r] = '\0';
        if (total == 0 || strstr(buf, "Success"))
            *out_ok |= strstr(buf, "<string>Success</string>") != NULL;
        total += (size_t)r;
    }
    close(pfd[0]);
    waitpid(pid, &status, 0);
    return bu_now_ms() - t0;
}

/* want_ok: the reply must carry Success (else: must not, e.g. an unknown
 * function's Failure). */
static int measure_reply(const char *label, char *const *argv, char *const *envp, int runs,
                         int want_ok, double *median)
{
    double *t = calloc((size_t)runs, sizeof(*t));
    int ok = 0;
    for (int i = 0; i < 5; i++)  /* warm the page cache (and the host cache) */
        run_once(argv, envp, &ok);
    for (int i = 0; i < runs; i++) {
        t[i] = run_once(argv, envp, &ok);
        if (t[i] < 0 || ok != want_ok) {
            fprintf(stderr, "bench_plugin: %s failed (reply %s Success)\n", label,
                    want_ok ? "without" : "with");
            free(t);
            return -1;
        }
    }
    bu_sort_ms(t, (size_t)runs);
    *median = t[runs / 2];
    printf("  %-28s median %7.2f ms  p10 %7.2f  p90 %7.2f  (%d runs)\n", label, *median,
           t[runs / 10], t[runs * 9 / 10], runs);
    free(t);
    return 0;
}

static int measure(const char *label, char *const *argv, char *const *envp, int runs,
                   double *median)
{
    return measure_reply(label, argv, envp, runs, 1, median);
}

#define UNKNOWN_CALL "<methodCall><methodName>no_such_function</methodName><params><param>" \
                     "<value>OpaqueRef:bench</value></param><param><value><struct/></value>" \
                     "</param></params></methodCall>"

/* list_gpus against the plugin's own floor (an unknown function: process
 * start, config, parsing, reply) on each topology source, in one run.
 * Issue 7's target: at most 2x on every fixture, which needs PCI names to
 * come from the cache for every source, not from pci.ids on each call. */
static int floor_ratios(const char *dir, const char *plugin, int runs, int *failed)
{
    const char *fx = getenv("GPUPOOL_FIXTURES");
    char base[512];
    snprintf(base, sizeof(base), "%s", fx ? fx : "../shared/fixtures");
    const char *sources[][2] = {
        { "embedded", "topology = embedded\n" },
        { "24em64t-2n6c2t-pci.xml", "topology = %s/hwloc/24em64t-2n6c2t-pci.xml\n" },
        { "32em64t-2n8c2t-pci-normalio.xml",
          "topology = %s/hwloc/32em64t-2n8c2t-pci-normalio.xml\n" },
        { "lspci dump tree-asus-p6t6", "pci-dump = %s/lspci/tree-asus-p6t6\n" },
    };
    printf("plugin list_gpus against its floor (unknown function), one process per call:\n");
    for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
        char conf[700], db[700], envconf[800], line[700];
        double list_ms, floor_ms;
        snprintf(line, sizeof(line), sources[i][1], base);
        if (i > 0) {
            char path[700];
            snprintf(path, sizeof(path), "%s", strchr(line, '=') + 2);
            path[strcspn(path, "\n")] = '\0';
            if (access(path, R_OK)) {
                printf("  %-34s skipped: %s absent\n", sources[i][0], path);
                continue;
            }
        }
        snprintf(conf, sizeof(conf), "%s/floor-%zu.conf", dir, i);
        snprintf(db, sizeof(db), "%s/floor-%zu.db", dir, i);
        FILE *f = fopen(conf, "w");
        if (!f)
            return -1;
        fprintf(f, "db = %s\ndriver = sim\n%s", db, line);
        fclose(f);
        snprintf(envconf, sizeof(envconf), "GPUPOOL_CONFIG=%s", conf);
        char *envp[] = { "PATH=/sbin:/usr/sbin:/bin:/usr/bin", envconf, NULL };
        char *list_argv[] = { (char *)plugin, CALL, NULL };
        char *floor_argv[] = { (char *)plugin, UNKNOWN_CALL, NULL };
        if (measure_reply("list_gpus", list_argv, envp, runs, 1, &list_ms) ||
            measure_reply("unknown function (floor)", floor_argv, envp, runs, 0, &floor_ms))
            return -1;
        double ratio = list_ms / floor_ms;
        printf("  %-34s list_gpus/floor %.2fx  target <= 2x: %s\n", sources[i][0], ratio,
               ratio <= 2.0 ? "met" : "NOT met");
        if (ratio > 2.0)
            (*failed)++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 300;
    char *dir = tu_scratch_dir("bench-plugin");
    char conf[600], db[600], envconf[700], vm[37];
    gp_config cfg;
    gp_ctx *ctx = NULL;
    double c_ms, py_ms;

    if (!dir || runs < 10)
        return 1;
    snprintf(conf, sizeof(conf), "%s/gpupool.conf", dir);
    snprintf(db, sizeof(db), "%s/state.db", dir);
    FILE *f = fopen(conf, "w");
    fprintf(f, "db = %s\ndriver = sim\ntopology = embedded\n", db);
    fclose(f);

    /* Two GPUs in a pool, one assigned: list_gpus joins all of it. */
    gp_config_init(&cfg);
    gp_config_load_file(&cfg, conf, false, NULL);
    if (gp_ctx_alloc(&ctx, &cfg, NULL) ||
        gp_pool_create(ctx, "bench", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0, NULL) ||
        gp_pool_gpu_add(ctx, "bench", "0000:18:00.0") ||
        gp_pool_gpu_add(ctx, "bench", "0000:9a:00.0") ||
        gp_sim_vm_create(ctx, "bench-vm", 4, 8192, vm) ||
        gp_vm_gpu_assign(ctx, vm, &(gp_assign_args){ .pool = "bench" }, NULL)) {
        fprintf(stderr, "bench_plugin: setup failed: %s\n",
                ctx ? gp_ctx_last_error(ctx)->message : "context");
        return 1;
    }
    gp_ctx_free(ctx);
    gp_config_dispose(&cfg);

    snprintf(envconf, sizeof(envconf), "GPUPOOL_CONFIG=%s", conf);
    char *envp[] = { "PATH=/sbin:/usr/sbin:/bin:/usr/bin", envconf, NULL };
    char *c_argv[] = { "xapi-plugin/gpupool", CALL, NULL };
    const char *plugin = getenv("GPUPOOL_PLUGIN");
    if (plugin)
        c_argv[0] = (char *)plugin;

    /* The Python plugin runs under the python3 found on this PATH. */
    tu_run_result r;
    const char *which[] = { "/bin/sh", "-c", "command -v python3", NULL };
    char python[512] = "/usr/bin/python3";
    if (tu_run(&r, which, NULL) == 0 && r.status == 0 && r.out[0]) {
        snprintf(python, sizeof(python), "%s", r.out);
        python[strcspn(python, "\n")] = '\0';
    }
    tu_run_free(&r);
    char *py_argv[] = { python, "tests/bench/gpupool_plugin.py", CALL, NULL };

    printf("plugin list_gpus, one process per call, embedded 8-GPU host:\n");
    if (measure("C plugin (xapi-plugin/gpupool)", c_argv, envp, runs, &c_ms) ||
        measure("Python plugin (equivalent)", py_argv, envp, runs / 3 > 10 ? runs / 3 : 10,
                &py_ms))
        return 1;
    printf("  ratio Python/C: %.1fx   target C median <= 3 ms: %s\n", py_ms / c_ms,
           c_ms <= 3.0 ? "met" : "NOT met");
    int over = 0;
    if (floor_ratios(dir, c_argv[0], runs / 3 > 20 ? runs / 3 : 20, &over))
        return 1;
    free(dir);
    return 0;
}
