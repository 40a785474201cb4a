/*
 * main.c - the gpupool XAPI plugin (/etc/xapi.d/plugins/gpupool).
 *
 * xapi runs a plugin as `gpupool '<methodCall>...</methodCall>'`: argv[1] is
 * the whole XML-RPC call (method = the function, param 1 = the caller's
 * session ref, param 2 = a struct of string arguments), stdin is /dev/null
 * and the environment holds only PATH.  The reply is one methodResponse on
 * stdout in the XenAPIPlugin shape: {Status: "Success", Value: "<JSON>"} or
 * {Status: "Failure", ErrorDescription: [code, params..., message]}.
 * Nothing else reaches stdout: fd 1 points at /dev/null while the call
 * runs and the reply goes to a private copy of the original stdout.
 * The plugin exits 0 whenever it wrote a reply (a non-zero exit makes xapi
 * report XENAPI_PLUGIN_FAILURE instead of the reply).
 *
 * Time limit: xapi puts none on a plugin, so the plugin bounds itself with
 * timeout-ms from the configuration (default 60000):
 *  - cooperative: the sqlite busy timeout is at most half of it, and every
 *    xapi request is abandoned at the deadline (the library then rolls the
 *    transaction back and undoes driver writes), giving GPUPOOL_TIMEOUT;
 *  - hard stop: the undo budget (GP_UNDO_BUDGET_MS, 10 s) plus one second
 *    after the deadline a SIGALRM handler writes a
 *    pre-built GPUPOOL_TIMEOUT reply with write(2) and _exit(2)s (both
 *    async-signal-safe).  A transaction that was open is then never
 *    committed and sqlite rolls it back (journal/WAL), so the database is
 *    unchanged by the call.
 *
 * Configuration: $GPUPOOL_CONFIG, else /etc/gpupool/gpupool.conf (the same
 * file xe-gpupool reads), then GPUPOOL_* environment variables (which xapi
 * never passes; tests and planning hosts use them).
 *
 * Log: syslog (facility daemon, ident "gpupool-plugin"): one line per call
 * with the function, the outcome and the time taken; never the session ref.
 * Text from the caller is escaped (\n, \xNN: gp_str_escape_ctl) and bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "plugin.h"

#define PLUGIN_DEFAULT_TIMEOUT_MS 60000u
#define PLUGIN_HARD_STOP_GRACE_MS 1000u

static int reply_fd = -1;
static char *timeout_reply;
static size_t timeout_reply_len;
static volatile sig_atomic_t replying;

static void write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += w;
        len -= (size_t)w;
    }
}

static void on_alarm(int sig)
{
    (void)sig;
    if (replying)
        return;  /* the outcome is known and being written: let it finish */
    if (timeout_reply)
        write_all(reply_fd, timeout_reply, timeout_reply_len);
    _exit(0);
}

void plugin_failure_init(plugin_failure *f)
{
    memset(f, 0, sizeof(*f));
}

void plugin_failure_dispose(plugin_failure *f)
{
    free(f->code);
    for (size_t i = 0; i < f->n_params; i++)
        free(f->params[i]);
    free(f->params);
    plugin_failure_init(f);
}

static int failure_push(plugin_failure *f, const char *s)
{
    char **p = realloc(f->params, (f->n_params + 1) * sizeof(*p));
    if (!p)
        return -1;
    f->params = p;
    p[f->n_params] = strdup(s ? s : "");
    if (!p[f->n_params])
        return -1;
    f->n_params++;
    return 0;
}

int plugin_failure_set(plugin_failure *f, const char *code, ...)
{
    va_list ap;
    int rc = 0;
    plugin_failure_dispose(f);
    f->code = strdup(code);
    if (!f->code)
        return -1;
    va_start(ap, code);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (failure_push(f, s))
            rc = -1;
    va_end(ap);
    return rc;
}

int plugin_failure_from_error(plugin_failure *f, const gp_error_info *e)
{
    char code[64];
    plugin_failure_dispose(f);
    snprintf(code, sizeof(code), "GPUPOOL_%s", gp_error_name(e->code));
    f->code = strdup(code);
    if (!f->code)
        return -1;
    for (size_t i = 0; i < e->n_params; i++)
        if (failure_push(f, e->params[i].value))
            return -1;
    return failure_push(f, e->message && *e->message ? e->message : gp_error_name(e->code));
}

static char *failure_reply(const plugin_failure *f, size_t *len)
{
    const char **desc = calloc(f->n_params + 1, sizeof(*desc));
    char *out = NULL;
    if (!desc)
        return NULL;
    desc[0] = f->code;
    for (size_t i = 0; i < f->n_params; i++)
        desc[i + 1] = f->params[i];
    if (gp_plugin_reply_failure(desc, f->n_params + 1, &out, len))
        out = NULL;
    free(desc);
    return out;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The call's syslog line.  The method and the message come from the caller
 * (a message quotes the names it was given): control characters are escaped
 * (gp_str_escape_ctl) so that one call is one line, and each part is
 * bounded. */
static void log_call(bool ok, bool mutating, const char *method, const plugin_failure *fail,
                     double ms)
{
    char *m = gp_str_escape_ctl(method ? method : "?", 256);
    char *code = NULL, *msg = NULL;

    if (ok) {
        syslog(mutating ? LOG_NOTICE : LOG_INFO, "%s: Success (%.1f ms)", m ? m : "?", ms);
    } else {
        code = gp_str_escape_ctl(fail->code ? fail->code : "?", 128);
        msg = gp_str_escape_ctl(fail->n_params ? fail->params[fail->n_params - 1] : "", 1024);
        syslog(LOG_WARNING, "%s: %s %s (%.1f ms)", m ? m : "?", code ? code : "?",
               msg ? msg : "", ms);
    }
    free(m);
    free(code);
    free(msg);
}

/* Read the configuration the way xe-gpupool does. */
static int load_config(gp_config *cfg, gp_error_info *err)
{
    const char *path = getenv("GPUPOOL_CONFIG");
    int rc;

    cfg->timeout_ms = PLUGIN_DEFAULT_TIMEOUT_MS;
    if (path && *path)
        rc = gp_config_load_file(cfg, path, false, err);
    else
        rc = gp_config_load_file(cfg, GP_DEFAULT_CONFIG_PATH, true, err);
    if (rc == GP_OK)
        rc = gp_config_load_env(cfg, err);
    return rc;
}

int main(int argc, char **argv)
{
    gp_config cfg;
    gp_error_info err;
    gp_ctx *ctx = NULL;
    gp_plugin_call call;
    plugin_failure fail;
    plugin_args args = { NULL, NULL, 0 };
    json_object *result = NULL;
    static const char *const none[1] = { NULL };
    const char *session = NULL;
    const char *method = NULL;
    char *reply = NULL, caller[64];
    size_t reply_len = 0;
    bool mutating = false, ok = false;
    double t0 = now_ms();
    int devnull;

    gp_config_init(&cfg);
    gp_error_info_init(&err);
    gp_plugin_call_init(&call);
    plugin_failure_init(&fail);

    /* Keep the real stdout for the reply only. */
    reply_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (reply_fd < 0)
        return 1;
    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, STDOUT_FILENO);
        close(devnull);
    }
    openlog("gpupool-plugin", LOG_PID, LOG_DAEMON);

    if (argc != 2) {
        plugin_failure_set(&fail, "GPUPOOL_INVALID_ARGUMENT", "argv",
                           "expected one argument: the XML-RPC methodCall", NULL);
        goto reply;
    }
    if (gp_plugin_call_parse(argv[1], strlen(argv[1]), &call, &err)) {
        plugin_failure_from_error(&fail, &err);
        goto reply;
    }
    method = call.method;
    session = call.session;
    args.keys = call.n_args ? (const char *const *)call.keys : none;
    args.values = call.n_args ? (const char *const *)call.values : none;
    args.n = call.n_args;

    if (load_config(&cfg, &err)) {
        plugin_failure_from_error(&fail, &err);
        goto reply;
    }
    snprintf(caller, sizeof(caller), "xapi-plugin pid=%ld", (long)getpid());
    free(cfg.caller);
    cfg.caller = strdup(caller);
    free(cfg.xapi_session);
    cfg.xapi_session = session && *session ? strdup(session) : NULL;
    if (cfg.timeout_ms) {
        unsigned busy = cfg.busy_timeout_ms ? cfg.busy_timeout_ms : 10000u;
        if (busy > cfg.timeout_ms / 2)
            busy = cfg.timeout_ms / 2 ? cfg.timeout_ms / 2 : 1;
        cfg.busy_timeout_ms = busy;

        /* The hard stop, with its reply built now (no allocation later). */
        char ms[24];
        plugin_failure tf;
        plugin_failure_init(&tf);
        snprintf(ms, sizeof(ms), "%u", cfg.timeout_ms);
        plugin_failure_set(&tf, "GPUPOOL_TIMEOUT", method, ms,
                           "the call ran past its time limit (timeout-ms) and was stopped; "
                           "changes it had not committed were rolled back", NULL);
        timeout_reply = failure_reply(&tf, &timeout_reply_len);
        plugin_failure_dispose(&tf);

        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_alarm;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
        /* After the deadline the library may still be taking its xapi
         * writes back, on a budget of its own: the hard stop waits for it. */
        unsigned total = cfg.timeout_ms + GP_UNDO_BUDGET_MS + PLUGIN_HARD_STOP_GRACE_MS;
        struct itimerval it = { { 0, 0 }, { (time_t)(total / 1000), (suseconds_t)(total % 1000) * 1000 } };
        setitimer(ITIMER_REAL, &it, NULL);
    }

    if (gp_ctx_alloc(&ctx, &cfg, &err)) {
        plugin_failure_from_error(&fail, &err);
        goto reply;
    }
    ok = plugin_dispatch(ctx, method, &args, &result, &fail, &mutating) == 0;

reply:
    replying = 1;
    {
        struct itimerval off;
        memset(&off, 0, sizeof(off));
        setitimer(ITIMER_REAL, &off, NULL);
    }
    if (ok) {
        const char *json = json_object_to_json_string_ext(
            result, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!json || gp_plugin_reply_success(json, &reply, &reply_len)) {
            ok = false;
            plugin_failure_set(&fail, "GPUPOOL_OUT_OF_MEMORY", "out of memory", NULL);
        }
    }
    if (!ok)
        reply = failure_reply(&fail, &reply_len);
    if (reply)
        write_all(reply_fd, reply, reply_len);

    log_call(ok, mutating, method, &fail, now_ms() - t0);
    closelog();

    json_object_put(result);
    gp_ctx_free(ctx);
    free(reply);
    free(timeout_reply);
    plugin_failure_dispose(&fail);
    gp_plugin_call_dispose(&call);
    gp_error_info_dispose(&err);
    gp_config_dispose(&cfg);
    close(reply_fd);
    return reply ? 0 : 1;
}
