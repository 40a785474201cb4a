/*
 * bench_cli.c - wall-clock cost of whole `xe-gpupool` processes on a large
 * store: gpu-list, vm-list and audit-list, each with a cold and a warm host
 * cache.
 *
 * Builds tests/tmp/bench/: a synthetic host of 32 NUMA nodes and 256 GPUs as
 * hwloc XML (host.xml, handed to the CLI through GPUPOOL_TOPOLOGY), a sim
 * state database with 8 pools of 32 GPUs made through the library API,
 * 10,000 sim VMs and 100,000 audit rows inserted in one sqlite transaction
 * (plain rows of sim_vms and audit), and 128 assignments through
 * gp_vm_gpu_assign().  Then runs each command as a whole process
 * (fork/exec/wait, stdout to /dev/null):
 *   gpu-list    the 256 GPUs (and their assignments);
 *   vm-list     every VM the sim driver knows: the 10,000 sim_vms rows;
 *   audit-list  the whole audit log (no limit): the 100,000+ audit rows.
 * One checked run per command first (exit 0, and the record count must
 * cover the rows built: 256 GPUs, 10,000 VMs, 100,000 audit rows), so the
 * figures come from a path that really reads them.
 *   cold: the host cache (<db>.hostcache and its -wal/-shm/-journal) is
 *         removed before every run (outside the timed region), so the run
 *         parses host.xml and writes the cache again;
 *   warm: the cache the previous run left, after warm-up runs.
 * The OS page cache is warm in both.  Prints median and p90 of each, the
 * 5 ms target for gpu-list, a `version` baseline and the machine.
 * GPUPOOL_BENCH_CLI=PATH measures another build of the CLI.
 *
 * A benchmark, not a test: exits 0 with a note when the CLI is not built.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "gpupool.h"
#include "synthhost.h"

#define BENCH_DIR   "tests/tmp/bench"
#define CLI_PATH    "xe-cli/xe-gpupool"
#define N_RUNS      200   /* per figure of gpu-list; vm-list and audit-list: see cmds[] */
#define N_WARMUP    5
#define N_BASE      50
#define N_VMS       10000
#define N_AUDIT     100000
#define N_POOLS     8
#define N_ASSIGN    128
#define TARGET_MS   5.0

/* Deterministic v4-shaped uuid for row i of a table tag. */
static void bench_uuid(char out[37], unsigned tag, unsigned i)
{
    snprintf(out, 37, "%08x-%04x-4%03x-8%03x-%012x", 0xbe7c0000u + tag, i >> 16, (i >> 4) & 0xfff,
             i & 0xfff, i * 2654435761u);
}

static int fail_ctx(gp_ctx *ctx, const char *what)
{
    const gp_error_info *e = gp_ctx_last_error(ctx);
    fprintf(stderr, "bench_cli: %s: %s: %s\n", what, gp_error_name(e->code),
            e->message ? e->message : "");
    return -1;
}

static int sql_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "bench_cli: %s: %s\n", sql, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* 10,000 sim VMs and 100,000 audit rows in one transaction. */
static int bulk_rows(const char *db_path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *vm = NULL, *au = NULL;
    int rc = -1;

    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_cli: open %s: %s\n", db_path, sqlite3_errmsg(db));
        goto out;
    }
    sqlite3_busy_timeout(db, 10000);
    if (sql_exec(db, "BEGIN IMMEDIATE"))
        goto out;
    if (sqlite3_prepare_v2(db, "INSERT INTO sim_vms(uuid, name_label, power_state, domid, vcpus,"
                           " memory_mib, created) VALUES (?1, ?2, 'halted', NULL, ?3, ?4, ?5)",
                           -1, &vm, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO audit(time, caller, operation, object, before, after)"
                           " VALUES (?1, 'bench_cli', ?2, ?3, NULL, ?4)", -1, &au, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_cli: prepare: %s\n", sqlite3_errmsg(db));
        goto rollback;
    }
    for (unsigned i = 0; i < N_VMS; i++) {
        char uuid[37], name[32];
        bench_uuid(uuid, 1, i);
        snprintf(name, sizeof(name), "bench-vm-%05u", i);
        sqlite3_bind_text(vm, 1, uuid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(vm, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(vm, 3, 2 + (int)(i % 4) * 2);
        sqlite3_bind_int(vm, 4, 16384);
        sqlite3_bind_text(vm, 5, "2024-01-01T00:00:00.000Z", -1, SQLITE_STATIC);
        if (sqlite3_step(vm) != SQLITE_DONE) {
            fprintf(stderr, "bench_cli: insert sim_vms: %s\n", sqlite3_errmsg(db));
            goto rollback;
        }
        sqlite3_reset(vm);
    }
    static const char *const ops[] = { "vm-gpu-assign", "vm-gpu-release", "pool-param-set",
                                       "sim-vm-start", "sim-vm-shutdown" };
    for (unsigned i = 0; i < N_AUDIT; i++) {
        char uuid[37], t[32], after[160];
        bench_uuid(uuid, 1, i % N_VMS);
        snprintf(t, sizeof(t), "2024-01-%02uT%02u:%02u:%02u.%03uZ", 1 + i / 86400 % 28,
                 i / 3600 % 24, i / 60 % 60, i % 60, i % 1000);
        snprintf(after, sizeof(after), "{\"vm_uuid\":\"%s\",\"pci_id\":\"0000:%02x:00.0\",\"seq\":%u}",
                 uuid, 1 + i % 200, i);
        sqlite3_bind_text(au, 1, t, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(au, 2, ops[i % 5], -1, SQLITE_STATIC);
        sqlite3_bind_text(au, 3, uuid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(au, 4, after, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(au) != SQLITE_DONE) {
            fprintf(stderr, "bench_cli: insert audit: %s\n", sqlite3_errmsg(db));
            goto rollback;
        }
        sqlite3_reset(au);
    }
    if (sql_exec(db, "COMMIT"))
        goto rollback;
    rc = 0;
    goto out;
rollback:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
    sqlite3_finalize(vm);
    sqlite3_finalize(au);
    sqlite3_close(db);
    return rc;
}

static int build_store(const char *db_path, const char *xml_path, size_t *n_assigned)
{
    gp_config cfg;
    gp_ctx *ctx = NULL;
    gp_error_info gi;
    int rc = -1;

    *n_assigned = 0;
    gp_config_init(&cfg);
    gp_error_info_init(&gi);
    cfg.db_path = strdup(db_path);
    cfg.driver = strdup("sim");
    cfg.topology_file = strdup(xml_path);
    cfg.caller = strdup("bench_cli");
    /* The audit rows are dated January 2024 and audit-list must read all of
     * them: no retention while the store is built. */
    cfg.audit_max_entries = -1;
    cfg.audit_max_days = -1;
    if (gp_ctx_alloc(&ctx, &cfg, &gi) != GP_OK) {
        fprintf(stderr, "bench_cli: gp_ctx_alloc: %s\n", gi.message ? gi.message : "");
        goto out;
    }
    for (int p = 0; p < N_POOLS; p++) {
        char name[32];
        snprintf(name, sizeof(name), "bench-pool-%d", p);
        if (gp_pool_create(ctx, name, "bench_cli", p % 2 ? GP_NUMA_PREFERRED : GP_NUMA_REQUIRED,
                           GP_PIN_HARD, 1.0, NULL) != GP_OK) {
            rc = fail_ctx(ctx, "pool-create");
            goto out;
        }
        for (int g = p * 32; g < (p + 1) * 32; g++) {
            char id[GP_PCI_ID_LEN];
            synth_gpu_pci_id(g, id);
            if (gp_pool_gpu_add(ctx, name, id) != GP_OK) {
                rc = fail_ctx(ctx, "pool-gpu-add");
                goto out;
            }
        }
    }
    gp_ctx_free(ctx);
    ctx = NULL;

    if (bulk_rows(db_path) < 0)
        goto out;

    if (gp_ctx_alloc(&ctx, &cfg, &gi) != GP_OK)
        goto out;
    for (unsigned i = 0; i < N_ASSIGN; i++) {
        char uuid[37], pool[32];
        gp_assign_args args;
        memset(&args, 0, sizeof(args));
        bench_uuid(uuid, 1, i * 7);
        snprintf(pool, sizeof(pool), "bench-pool-%u", i % N_POOLS);
        args.pool = pool;
        if (gp_vm_gpu_assign(ctx, uuid, &args, NULL) != GP_OK) {
            /* Assignments make the listing realistic; the figure stands without them. */
            fail_ctx(ctx, "vm-gpu-assign (continuing without more assignments)");
            break;
        }
        (*n_assigned)++;
    }
    rc = 0;
out:
    gp_ctx_free(ctx);
    gp_config_dispose(&cfg);
    gp_error_info_dispose(&gi);
    return rc;
}

/* Run the CLI once with env; stdout to out_fd (-1: /dev/null).  Exit status or -1. */
static int run_cli(char *const argv[], char *const envp[], int out_fd)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(out_fd >= 0 ? out_fd : null, 1);
        dup2(null, 2);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Remove the host cache of db_path ("<db>.hostcache" and its sqlite side files). */
static void cache_remove(const char *db_path)
{
    static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
    for (size_t i = 0; i < 4; i++) {
        char p[4400];
        snprintf(p, sizeof(p), "%s.hostcache%s", db_path, sfx[i]);
        unlink(p);
    }
}

static bool cache_present(const char *db_path)
{
    char p[4400];
    snprintf(p, sizeof(p), "%s.hostcache", db_path);
    return access(p, F_OK) == 0;
}

typedef struct {
    const char *cmd;      /* xe-gpupool subcommand */
    const char *what;     /* what its records are */
    size_t min_records;   /* the checked run must list at least this many */
    int runs;             /* timed runs per figure (cold, warm) */
    size_t records, bytes;
    bool cache_made;      /* a cold run left <db>.hostcache: the command reads the host */
    double cold_med, cold_p90, warm_med, warm_p90;
} bench_cmd;

/* Median (mean of the two middle values for an even count) of sorted v. */
static double median_of(const double *v, int n)
{
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* p90 of sorted v: the smallest value with at least 90% of v at or below it. */
static double p90_of(const double *v, int n)
{
    int k = (n * 9 + 9) / 10;
    return v[k > 0 ? k - 1 : 0];
}

/* Run argv once with stdout to out_path; count records (blocks of non-empty
 * lines) and bytes.  0 on exit status 0. */
static int checked_run(char *const argv[], char *const envp[], const char *out_path,
                       size_t *records, size_t *bytes)
{
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int st = fd >= 0 ? run_cli(argv, envp, fd) : -1;
    if (fd >= 0)
        close(fd);
    *records = *bytes = 0;
    if (st != 0)
        return st;
    FILE *f = fopen(out_path, "r");
    if (!f)
        return -1;
    char line[8192];
    bool in_rec = false;
    while (fgets(line, sizeof(line), f)) {
        *bytes += strlen(line);
        bool blank = line[0] == '\n';
        if (!blank && !in_rec)
            (*records)++;
        in_rec = !blank;
    }
    fclose(f);
    return 0;
}

/* n timed runs of argv, sorted into ms[]; with cold, the host cache is
 * removed before each (not timed).  0, or the failing exit status. */
static int timed_runs(char *const argv[], char *const envp[], const char *db_path, bool cold,
                      double *ms, int n)
{
    for (int i = 0; i < n; i++) {
        if (cold)
            cache_remove(db_path);
        double a = bu_now_ms();
        int st = run_cli(argv, envp, -1);
        ms[i] = bu_now_ms() - a;
        if (st != 0) {
            fprintf(stderr, "bench_cli: %s %s run %d exited %d\n", argv[0], argv[1], i, st);
            return st;
        }
    }
    bu_sort_ms(ms, (size_t)n);
    return 0;
}

int main(void)
{
    char cwd[4096], db_path[4200], xml_path[4200], conf_path[4200];
    char env_db[4300], env_topo[4300], env_conf[4300];
    synth_spec s;
    size_t n_assigned = 0;

    const char *cli = getenv("GPUPOOL_BENCH_CLI");   /* another build to measure */
    if (!cli || !*cli)
        cli = CLI_PATH;
    if (access(cli, X_OK) != 0) {
        printf("bench_cli: %s is not built: skipped (run `make` first)\n", cli);
        return 0;
    }
    if (!getcwd(cwd, sizeof(cwd)))
        return 1;
    mkdir("tests/tmp", 0755);
    mkdir(BENCH_DIR, 0755);
    snprintf(db_path, sizeof(db_path), "%s/" BENCH_DIR "/state.db", cwd);
    snprintf(xml_path, sizeof(xml_path), "%s/" BENCH_DIR "/host.xml", cwd);
    snprintf(conf_path, sizeof(conf_path), "%s/" BENCH_DIR "/no-such.conf", cwd);
    static const char *const suffixes[] = { "", "-wal", "-shm" };
    for (size_t i = 0; i < 3; i++) {
        char p[4300];
        snprintf(p, sizeof(p), "%s%s", db_path, suffixes[i]);
        unlink(p);
    }

    bu_spec_large(&s);
    if (synth_host_write_hwloc(&s, xml_path) < 0) {
        fprintf(stderr, "bench_cli: write %s: %s\n", xml_path, strerror(errno));
        return 1;
    }
    double t0 = bu_now_ms();
    if (build_store(db_path, xml_path, &n_assigned) < 0)
        return 1;
    double build_ms = bu_now_ms() - t0;

    snprintf(env_db, sizeof(env_db), "GPUPOOL_DB=%s", db_path);
    snprintf(env_topo, sizeof(env_topo), "GPUPOOL_TOPOLOGY=%s", xml_path);
    snprintf(env_conf, sizeof(env_conf), "GPUPOOL_CONFIG=%s", conf_path);
    char *envp[] = { env_db, env_topo, env_conf, (char *)"GPUPOOL_DRIVER=sim",
                     (char *)"PATH=/usr/bin:/bin", (char *)"LC_ALL=C", NULL };
    bench_cmd cmds[] = {
        { .cmd = "gpu-list", .what = "GPU records", .min_records = (size_t)s.n_gpus,
          .runs = N_RUNS },
        { .cmd = "vm-list", .what = "VM records", .min_records = N_VMS, .runs = 21 },
        { .cmd = "audit-list", .what = "audit records", .min_records = N_AUDIT, .runs = 11 },
    };
    const size_t n_cmds = sizeof(cmds) / sizeof(cmds[0]);
    double *ms = malloc(N_RUNS * sizeof(double));
    if (!ms)
        return 1;
    for (size_t c = 0; c < n_cmds; c++) {
        bench_cmd *b = &cmds[c];
        char *argv[] = { (char *)cli, (char *)b->cmd, NULL };
        char out_path[4400];
        snprintf(out_path, sizeof(out_path), "%s/" BENCH_DIR "/%s.out", cwd, b->cmd);
        int st = checked_run(argv, envp, out_path, &b->records, &b->bytes);
        if (st != 0) {
            fprintf(stderr, "bench_cli: %s %s exited %d (output in %s)\n", cli, b->cmd, st,
                    out_path);
            return 1;
        }
        if (b->records < b->min_records) {
            fprintf(stderr, "bench_cli: %s listed %zu %s, fewer than the %zu built (output in %s)\n",
                    b->cmd, b->records, b->what, b->min_records, out_path);
            return 1;
        }
        /* cold: no cache at the start of any run */
        if (timed_runs(argv, envp, db_path, true, ms, b->runs))
            return 1;
        b->cache_made = cache_present(db_path);
        b->cold_med = median_of(ms, b->runs);
        b->cold_p90 = p90_of(ms, b->runs);
        /* warm: the last cold run left a cache; warm-up runs, then measure */
        for (int i = 0; i < N_WARMUP; i++)
            run_cli(argv, envp, -1);
        if (timed_runs(argv, envp, db_path, false, ms, b->runs))
            return 1;
        b->warm_med = median_of(ms, b->runs);
        b->warm_p90 = p90_of(ms, b->runs);
    }
    /* Baseline: the same process start without a context (`version`). */
    char *argv_v[] = { (char *)cli, (char *)"version", NULL };
    double base[N_BASE];
    for (int i = 0; i < N_BASE; i++) {
        double a = bu_now_ms();
        run_cli(argv_v, envp, -1);
        base[i] = bu_now_ms() - a;
    }
    bu_sort_ms(base, N_BASE);
    struct stat xs;
    long long xml_bytes = stat(xml_path, &xs) == 0 ? (long long)xs.st_size : -1;

    printf("bench_cli: whole `xe-gpupool` processes (fork/exec/wait, stdout to /dev/null)\n");
    printf("  store: %d GPUs in %d pools, %d sim VMs, %d audit rows, %zu assignments (built in %.0f ms);"
           " host: %d nodes / %d pCPUs hwloc XML (%lld bytes) via GPUPOOL_TOPOLOGY\n", s.n_gpus,
           N_POOLS, N_VMS, N_AUDIT, n_assigned, build_ms, s.n_nodes,
           s.n_nodes * s.cores_per_node * s.threads_per_core, xml_bytes);
    printf("  cold: host cache (<db>.hostcache) removed before every run; warm: the cache of the"
           " previous run, after %d warm-up runs\n", N_WARMUP);
    for (size_t c = 0; c < n_cmds; c++) {
        const bench_cmd *b = &cmds[c];
        printf("  %-10s %6zu %s, %8zu bytes | cold median %7.2f ms, p90 %7.2f | warm median %7.2f ms,"
               " p90 %7.2f | %d runs each%s\n", b->cmd, b->records, b->what, b->bytes, b->cold_med,
               b->cold_p90, b->warm_med, b->warm_p90, b->runs,
               b->cache_made ? "" : " (reads no host: no cache made, cold = warm path)");
    }
    printf("  target: gpu-list median <= %.0f ms: warm %s, cold %s\n", TARGET_MS,
           cmds[0].warm_med <= TARGET_MS ? "met" : "NOT met",
           cmds[0].cold_med <= TARGET_MS ? "met" : "NOT met");
    printf("  baseline `xe-gpupool version` (process start, no store or host): median %.2f ms\n",
           median_of(base, N_BASE));
    free(ms);
    bu_print_machine();
    return 0;
}
