/*
 * bench_store.c - what the store's integrity check costs (docs/state.md,
 * "Integrity").
 *
 * Builds tests/tmp/bench-store/state.db through the library: 1000 pools
 * (gp_pool_create: 1000 pool-create audit rows), then audit rows copied by
 * hand from those (pool-param-set rows with the pool as before and after)
 * up to 10,000, later 100,000 (the default audit-max-entries).  Measures:
 *   quick_check   PRAGMA quick_check on a new connection (sqlite's page
 *                 cache cold, the OS page cache warm);
 *   write, stamp  a whole `xe-gpupool pool-param-set` process when the file
 *                 is as the last writer left it (<db>-integrity matches: no
 *                 check);
 *   write, check  the same with the stamp removed before each run (the
 *                 process runs quick_check before its write);
 *   read          `xe-gpupool pool-list` (never checks), for scale.
 * Prints median and p90 of each, wall-clock and CPU time (user + system, of
 * the process or the child: the figure that holds on a loaded machine), the
 * file size and the machine.
 *
 * A benchmark, not a test: exits 0 with a note when the CLI is not built.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "gpupool.h"

#define BENCH_DIR "tests/tmp/bench-store"
#define CLI_PATH  "xe-cli/xe-gpupool"
#define N_POOLS   1000
#define N_RUNS    21

static int sql_exec(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "bench_store: %s: %s\n", sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* Audit rows copied from the pool-create rows until there are n. */
static int grow_audit(const char *db_path, int n)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d - "
             "(SELECT count(*) FROM audit)) INSERT INTO audit(time, caller, operation, object,"
             " before, after) SELECT a.time, 'xapi-plugin pid=4242', 'pool-param-set', a.object,"
             " a.after, a.after FROM c JOIN audit a ON a.id = 1 + c.i %% %d", n, N_POOLS);
    return sql_exec(db_path, sql);
}

static double cpu_ms_of(const struct rusage *ru)
{
    return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e3 +
           (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e3;
}

static double process_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Run argv; *cpu_ms: the child's user + system time. */
static int run_cli(char *const argv[], char *const envp[], double *cpu_ms)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR)
            return -1;
    if (cpu_ms)
        *cpu_ms = cpu_ms_of(&ru);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static double median(const double *v, int n)
{
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double p90(const double *v, int n)
{
    int k = (n * 9 + 9) / 10;
    return v[k > 0 ? k - 1 : 0];
}

static void report(const char *what, double *ms, double *cpu, int n)
{
    bu_sort_ms(ms, (size_t)n);
    bu_sort_ms(cpu, (size_t)n);
    printf("    %-13s wall median %7.2f ms, p90 %7.2f | CPU median %7.2f ms, p90 %7.2f (%d runs)\n",
           what, median(ms, n), p90(ms, n), median(cpu, n), p90(cpu, n), n);
}

static int measure(const char *cli, const char *db_path, char *const envp[], int n_audit)
{
    char stamp[4300];
    double ms[N_RUNS], cpu[N_RUNS];
    struct stat st;

    snprintf(stamp, sizeof(stamp), "%s-integrity", db_path);
    if (stat(db_path, &st) < 0)
        return -1;
    printf("  %d pools, %d audit rows, %.1f MB:\n", N_POOLS, n_audit, (double)st.st_size / 1e6);
    for (int i = 0; i < N_RUNS; i++) {
        sqlite3 *db = NULL;
        double a = bu_now_ms(), c = process_cpu_ms();
        if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
            sqlite3_exec(db, "PRAGMA quick_check", NULL, NULL, NULL) != SQLITE_OK) {
            fprintf(stderr, "bench_store: quick_check: %s\n", sqlite3_errmsg(db));
            sqlite3_close(db);
            return -1;
        }
        sqlite3_close(db);
        ms[i] = bu_now_ms() - a;
        cpu[i] = process_cpu_ms() - c;
    }
    report("quick_check", ms, cpu, N_RUNS);
    char *set_a[] = { (char *)cli, (char *)"pool-param-set", (char *)"pool=pool-0001",
                      (char *)"name-description=a", NULL };
    char *set_b[] = { (char *)cli, (char *)"pool-param-set", (char *)"pool=pool-0001",
                      (char *)"name-description=b", NULL };
    char *list[] = { (char *)cli, (char *)"pool-list", (char *)"--minimal", NULL };
    for (int pass = 0; pass < 3; pass++) {
        run_cli(pass == 2 ? list : set_a, envp, NULL);  /* warm-up; leaves a stamp */
        for (int i = 0; i < N_RUNS; i++) {
            if (pass == 1)
                unlink(stamp);
            double a = bu_now_ms();
            int rc = run_cli(pass == 2 ? list : i % 2 ? set_a : set_b, envp, &cpu[i]);
            ms[i] = bu_now_ms() - a;
            if (rc != 0) {
                fprintf(stderr, "bench_store: %s exited %d\n", pass == 2 ? "pool-list"
                        : "pool-param-set", rc);
                return -1;
            }
        }
        report(pass == 0 ? "write, stamp" : pass == 1 ? "write, check" : "read", ms, cpu, N_RUNS);
    }
    return 0;
}

int main(void)
{
    char cwd[4096], db_path[4200], env_db[4300];
    const char *cli = getenv("GPUPOOL_BENCH_CLI");
    gp_config cfg;
    gp_ctx *ctx = NULL;

    if (!cli || !*cli)
        cli = CLI_PATH;
    if (access(cli, X_OK) != 0) {
        printf("bench_store: %s is not built: skipped (run `make` first)\n", cli);
        return 0;
    }
    if (!getcwd(cwd, sizeof(cwd)))
        return 1;
    mkdir("tests/tmp", 0755);
    mkdir(BENCH_DIR, 0755);
    snprintf(db_path, sizeof(db_path), "%s/" BENCH_DIR "/state.db", cwd);
    static const char *const sfx[] = { "", "-wal", "-shm", "-integrity", ".hostcache" };
    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        char p[4300];
        snprintf(p, sizeof(p), "%s%s", db_path, sfx[i]);
        unlink(p);
    }
    gp_config_init(&cfg);
    cfg.db_path = strdup(db_path);
    cfg.driver = strdup("sim");
    cfg.topology_file = strdup(GP_TOPOLOGY_EMBEDDED);
    cfg.caller = strdup("bench_store");
    if (gp_ctx_alloc(&ctx, &cfg, NULL) != GP_OK)
        return 1;
    for (int i = 0; i < N_POOLS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "pool-%04d", i);
        if (gp_pool_create(ctx, name, "one of the bench pools", GP_NUMA_REQUIRED, GP_PIN_HARD,
                           1.0, NULL) != GP_OK) {
            fprintf(stderr, "bench_store: pool-create: %s\n", gp_ctx_last_error(ctx)->message);
            return 1;
        }
    }
    gp_ctx_free(ctx);
    gp_config_dispose(&cfg);

    snprintf(env_db, sizeof(env_db), "GPUPOOL_DB=%s", db_path);
    char *envp[] = { env_db, (char *)"GPUPOOL_DRIVER=sim", (char *)"GPUPOOL_TOPOLOGY=embedded",
                     (char *)"GPUPOOL_CONFIG=/nonexistent", (char *)"PATH=/usr/bin:/bin",
                     (char *)"LC_ALL=C", NULL };
    printf("bench_store: the integrity check (PRAGMA quick_check) and whole `xe-gpupool`"
           " processes\n");
    if (grow_audit(db_path, 10000) || measure(cli, db_path, envp, 10000) ||
        grow_audit(db_path, 100000) || measure(cli, db_path, envp, 100000))
        return 1;
    bu_print_machine();
    return 0;
}
