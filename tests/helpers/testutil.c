/*
 * testutil.c - helpers shared by the cmocka tests.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

const char *tu_fixtures_dir(void)
{
    static char buf[PATH_MAX];
    static int done;
    if (done)
        return buf[0] ? buf : NULL;
    done = 1;
    const char *e = getenv("GPUPOOL_FIXTURES");
    const char *cand[] = { e, "../shared/fixtures", NULL };
    for (int i = 0; i < 2; i++) {
        struct stat st;
        if (cand[i] && stat(cand[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            if (!realpath(cand[i], buf))
                buf[0] = '\0';
            return buf[0] ? buf : NULL;
        }
    }
    return NULL;
}

char *tu_fixture(const char *rel)
{
    static char buf[PATH_MAX];
    const char *d = tu_fixtures_dir();
    if (!d)
        return NULL;
    snprintf(buf, sizeof(buf), "%s/%s", d, rel);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

static void mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

char *tu_scratch_dir(const char *tag)
{
    char cwd[PATH_MAX], path[PATH_MAX + 64];
    if (!getcwd(cwd, sizeof(cwd)))
        return NULL;
    snprintf(path, sizeof(path), "%s/tests/tmp/%s.%d", cwd, tag, (int)getpid());
    char cmd[PATH_MAX + 100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        return NULL;
    mkdir_p(path);
    return strdup(path);
}

char *tu_unpack_fixture(const char *rel_tarball)
{
    char *tb = tu_fixture(rel_tarball);
    if (!tb)
        return NULL;
    char tarball[PATH_MAX];
    snprintf(tarball, sizeof(tarball), "%s", tb);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return NULL;
    const char *base = strrchr(rel_tarball, '/');
    base = base ? base + 1 : rel_tarball;
    char name[256];
    snprintf(name, sizeof(name), "%s", base);
    char *dot = strstr(name, ".tar");
    if (dot)
        *dot = '\0';
    char dest[PATH_MAX + 64], top[PATH_MAX + 400];
    snprintf(dest, sizeof(dest), "%s/tests/tmp/fixtures", cwd);
    snprintf(top, sizeof(top), "%s/%s", dest, name);
    struct stat st;
    if (stat(top, &st) != 0) {
        mkdir_p(dest);
        /* Unpack into a private directory, then rename: parallel tests never
         * see half a tree. */
        char priv[PATH_MAX + 100], cmd[8 * PATH_MAX];
        snprintf(priv, sizeof(priv), "%s/.unpack.%d", dest, (int)getpid());
        mkdir_p(priv);
        snprintf(cmd, sizeof(cmd), "tar -xjf '%s' -C '%s' 2>/dev/null && mv '%s/%s' '%s' 2>/dev/null; rm -rf '%s'",
                 tarball, priv, priv, name, top, priv);
        if (system(cmd) != 0 && stat(top, &st) != 0)
            return NULL;
    }
    return stat(top, &st) == 0 ? strdup(top) : NULL;
}

static char *drain(int fd)
{
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    for (;;) {
        if (len + 1 >= cap)
            b = realloc(b, cap *= 2);
        ssize_t r = read(fd, b + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    b[len] = '\0';
    return b;
}

int tu_run(tu_run_result *r, const char *const *argv, const char *const *env)
{
    int out[2], err[2];
    memset(r, 0, sizeof(*r));
    if (pipe(out) || pipe(err))
        return -1;
    /* stderr goes to a temp file so a chatty child never deadlocks us. */
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    /* Read both pipes with poll. */
    size_t cap[2] = { 4096, 4096 }, len[2] = { 0, 0 };
    char *buf[2] = { malloc(4096), malloc(4096) };
    int fds[2] = { out[0], err[0] };
    int open_n = 2;
    while (open_n) {
        struct pollfd p[2];
        int np = 0, map[2];
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0) {
                p[np].fd = fds[i];
                p[np].events = POLLIN;
                map[np++] = i;
            }
        if (poll(p, (nfds_t)np, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int k = 0; k < np; k++) {
            if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int i = map[k];
            if (len[i] + 4097 > cap[i])
                buf[i] = realloc(buf[i], cap[i] *= 2);
            ssize_t n = read(fds[i], buf[i] + len[i], 4096);
            if (n <= 0) {
                close(fds[i]);
                fds[i] = -1;
                open_n--;
            } else {
                len[i] += (size_t)n;
            }
        }
    }
    buf[0][len[0]] = '\0';
    buf[1][len[1]] = '\0';
    r->out = buf[0];
    r->err = buf[1];
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    (void)drain;
    return 0;
}

int tu_sh(tu_run_result *r, const char *cmdline)
{
    const char *argv[] = { "/bin/sh", "-c", cmdline, NULL };
    return tu_run(r, argv, NULL);
}

void tu_run_free(tu_run_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

char *tu_slurp(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    char *s = drain(fd);
    close(fd);
    return s;
}

static int dump_row(void *arg, int n, char **vals, char **cols)
{
    char **acc = arg;
    for (int i = 0; i < n; i++) {
        char *nacc = NULL;
        if (asprintf(&nacc, "%s%s=%s%s", *acc, cols[i], vals[i] ? vals[i] : "NULL",
                     i + 1 < n ? "|" : "\n") < 0)
            return 1;
        free(*acc);
        *acc = nacc;
    }
    return 0;
}

char *tu_db_dump(const char *db_path)
{
    sqlite3 *db;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return strdup("<no database>");
    }
    char *acc = strdup("");
    sqlite3_stmt *st;
    /* The schema too (tables, indexes, triggers, views), then every table
     * ordered by all its columns, so equal contents always dump alike. */
    sqlite3_exec(db, "SELECT type, name, tbl_name, sql FROM sqlite_master"
                 " ORDER BY type, name", dump_row, &acc, NULL);
    if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name",
                           -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            int ncol = 1;
            sqlite3_stmt *cs;
            char *cq = sqlite3_mprintf("SELECT * FROM \"%w\"", t);
            if (sqlite3_prepare_v2(db, cq, -1, &cs, NULL) == SQLITE_OK) {
                ncol = sqlite3_column_count(cs);
                sqlite3_finalize(cs);
            }
            sqlite3_free(cq);
            char order[4096] = "1";
            for (int c = 2; c <= ncol && strlen(order) + 8 < sizeof(order); c++)
                snprintf(order + strlen(order), sizeof(order) - strlen(order), ",%d", c);
            char *q = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY %s", t, order);
            char *hdr = NULL;
            if (asprintf(&hdr, "%s[%s]\n", acc, t) >= 0) {
                free(acc);
                acc = hdr;
            }
            sqlite3_exec(db, q, dump_row, &acc, NULL);
            sqlite3_free(q);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return acc;
}
