/*
 * xapi.c - a small xapi client: XML-RPC over xapi's Unix socket.
 *
 * xapi serves XML-RPC at "POST /" on /var/lib/xcp/xapi; every call answers
 * a struct {Status: "Success", Value: v} or {Status: "Failure",
 * ErrorDescription: [code, params...]}.  Integers of xapi records travel as
 * strings.  The body is built and read with xmlrpc.c (libxml2), the HTTP
 * exchange is libcurl's (CURLOPT_UNIX_SOCKET_PATH).
 *
 * libcurl is opened with dlopen() the first time a connection is made: it
 * drags some thirty shared libraries in (TLS, LDAP, SSH, ...) whose loading
 * alone costs a few milliseconds, and most runs of the plugin and the CLI
 * never talk to xapi.
 */
#include "rpc/rpc.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Largest response accepted from xapi (VM.get_all_records of a big pool). */
#define XAPI_MAX_RESPONSE (256u << 20)

/* ---- libcurl, loaded on demand ---------------------------------------------- */

static struct {
    bool tried, ok;
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} cl;

static pthread_mutex_t cl_lock = PTHREAD_MUTEX_INITIALIZER;

static bool curl_load(void)
{
    pthread_mutex_lock(&cl_lock);
    if (!cl.tried) {
        void *h;
        cl.tried = true;
        h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (!h)
            h = dlopen("libcurl.so", RTLD_NOW | RTLD_LOCAL);
        if (h) {
            /* POSIX allows converting dlsym's void * to a function pointer. */
#define CL_SYM(field, name) (*(void **)&cl.field = dlsym(h, name))
            CL_SYM(easy_init, "curl_easy_init");
            CL_SYM(easy_setopt, "curl_easy_setopt");
            CL_SYM(easy_perform, "curl_easy_perform");
            CL_SYM(easy_getinfo, "curl_easy_getinfo");
            CL_SYM(easy_cleanup, "curl_easy_cleanup");
            CL_SYM(easy_strerror, "curl_easy_strerror");
            CL_SYM(slist_append, "curl_slist_append");
            CL_SYM(slist_free_all, "curl_slist_free_all");
#undef CL_SYM
            cl.ok = cl.easy_init && cl.easy_setopt && cl.easy_perform && cl.easy_getinfo &&
                    cl.easy_cleanup && cl.easy_strerror && cl.slist_append &&
                    cl.slist_free_all;
            /* The handle stays open for the life of the process. */
        }
    }
    pthread_mutex_unlock(&cl_lock);
    return cl.ok;
}

/* ---- connection ---------------------------------------------------------------- */

struct gp_xapi {
    CURL *curl;
    struct curl_slist *headers;
    char *socket_path;
    char *session;
    bool logged_in;        /* we made the session and log it out */
    uint64_t deadline_ms;  /* 0 = none */
    char *last_failure;
    /* response being received */
    char *buf;
    size_t len, cap;
    bool too_big;
};


uint64_t gp_xapi_set_deadline(gp_xapi *x, uint64_t deadline_ms)
{
    uint64_t old = x->deadline_ms;
    x->deadline_ms = deadline_ms;
    return old;
}

const char *gp_xapi_socket_path(const gp_config *cfg)
{
    return cfg && cfg->xapi_socket ? cfg->xapi_socket : GP_XAPI_DEFAULT_SOCKET;
}

bool gp_xapi_present(const gp_config *cfg)
{
    struct stat st;
    return stat(gp_xapi_socket_path(cfg), &st) == 0 && S_ISSOCK(st.st_mode);
}

static size_t xapi_write_cb(char *data, size_t size, size_t nmemb, void *user)
{
    gp_xapi *x = user;
    size_t n = size * nmemb;
    if (x->len + n + 1 > XAPI_MAX_RESPONSE) {
        x->too_big = true;
        return 0;
    }
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 16384;
        while (cap < x->len + n + 1)
            cap *= 2;
        char *b = realloc(x->buf, cap);
        if (!b)
            return 0;
        x->buf = b;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    x->buf[x->len] = '\0';
    return n;
}

/* One HTTP POST of body; the response lands in x->buf / x->len. */
static int xapi_post(gp_xapi *x, const char *method, const char *body, size_t body_len,
                     gp_error_info *err)
{
    long timeout_ms = 0;
    long status = 0;
    CURLcode cc;

    if (x->deadline_ms) {
        uint64_t now = gp_monotonic_ms();
        if (now >= x->deadline_ms) {
            gp_err_set(err, GP_ERR_TIMEOUT,
                       "time limit reached before calling xapi %s", method);
            gp_err_param(err, "xapi-method", "%s", method);
            return GP_ERR_TIMEOUT;
        }
        timeout_ms = (long)(x->deadline_ms - now);
    }
    x->len = 0;
    x->too_big = false;
    cl.easy_setopt(x->curl, CURLOPT_POSTFIELDS, body);
    cl.easy_setopt(x->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    cl.easy_setopt(x->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    cc = cl.easy_perform(x->curl);
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        gp_err_set(err, GP_ERR_TIMEOUT, "xapi %s did not answer within the time limit",
                   method);
        gp_err_param(err, "xapi-method", "%s", method);
        return GP_ERR_TIMEOUT;
    }
    if (cc != CURLE_OK) {
        gp_err_set(err, GP_ERR_DRIVER, "cannot reach xapi at %s for %s: %s",
                   x->socket_path, method,
                   x->too_big ? "response too large" : cl.easy_strerror(cc));
        gp_err_param(err, "xapi-socket", "%s", x->socket_path);
        gp_err_param(err, "xapi-method", "%s", method);
        return GP_ERR_DRIVER;
    }
    cl.easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        gp_err_set(err, GP_ERR_DRIVER, "xapi %s answered HTTP status %ld", method, status);
        gp_err_param(err, "xapi-method", "%s", method);
        return GP_ERR_DRIVER;
    }
    return GP_OK;
}

static int xapi_call(gp_xapi *x, bool with_session, const char *method,
                     const char *const *args, size_t n_args, const gp_xr_value *tail,
                     gp_xr_value *result, gp_error_info *err)
{
    gp_xr_value *params = NULL, resp;
    size_t n = n_args + (with_session ? 1 : 0) + (tail ? 1 : 0), at = 0;
    char *body = NULL;
    size_t body_len = 0;
    bool fault = false;
    int rc;

    gp_xr_value_init(result);
    gp_xr_value_init(&resp);
    free(x->last_failure);
    x->last_failure = NULL;

    params = calloc(n ? n : 1, sizeof(*params));
    if (!params) {
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        gp_xr_value_init(&params[i]);
    rc = GP_OK;
    if (with_session)
        rc = gp_xr_set_string(&params[at++], x->session);
    for (size_t i = 0; !rc && i < n_args; i++)
        rc = gp_xr_set_string(&params[at++], args[i]);
    if (!rc && tail)
        params[at++] = *tail;           /* borrowed: unset again before dispose */
    if (!rc)
        rc = gp_xr_build_call(method, params, n, &body, &body_len);
    if (tail)
        gp_xr_value_init(&params[n - 1]);
    if (rc) {
        rc = gp_err_set(err, rc, "cannot build the XML-RPC call %s", method);
        goto out;
    }
    rc = xapi_post(x, method, body, body_len, err);
    if (rc)
        goto out;
    rc = gp_xr_parse_response(x->buf, x->len, &resp, &fault, err);
    if (rc) {
        char *m = gp_asprintf("xapi %s: unreadable response: %s", method,
                              err && err->message ? err->message : "");
        gp_err_set(err, GP_ERR_DRIVER, "%s", m ? m : "unreadable xapi response");
        gp_err_param(err, "xapi-method", "%s", method);
        free(m);
        rc = GP_ERR_DRIVER;
        goto out;
    }
    const char *status = gp_xr_struct_get_string(&resp, "Status");
    if (fault || !status) {
        gp_err_set(err, GP_ERR_DRIVER, "xapi %s: not a XenAPI response%s", method,
                   fault ? " (XML-RPC fault)" : "");
        gp_err_param(err, "xapi-method", "%s", method);
        rc = GP_ERR_DRIVER;
        goto out;
    }
    if (!strcmp(status, "Success")) {
        const gp_xr_value *v = gp_xr_struct_get(&resp, "Value");
        if (v) {
            /* Steal the value out of resp. */
            for (size_t i = 0; i < resp.n; i++)
                if (&resp.items[i] == v) {
                    *result = resp.items[i];
                    gp_xr_value_init(&resp.items[i]);
                }
        }
        goto out;
    }
    /* Failure: ErrorDescription [code, params...] */
    {
        const gp_xr_value *ed = gp_xr_struct_get(&resp, "ErrorDescription");
        const char *code = ed && ed->type == GP_XR_ARRAY && ed->n &&
                                   ed->items[0].type == GP_XR_STRING
                               ? ed->items[0].str : "UNKNOWN";
        size_t mlen = strlen(code) + 1;
        for (size_t i = 1; ed && ed->type == GP_XR_ARRAY && i < ed->n; i++)
            if (ed->items[i].type == GP_XR_STRING)
                mlen += strlen(ed->items[i].str) + 1;
        char *joined = malloc(mlen);
        if (joined) {
            strcpy(joined, code);
            for (size_t i = 1; ed && ed->type == GP_XR_ARRAY && i < ed->n; i++)
                if (ed->items[i].type == GP_XR_STRING) {
                    strcat(joined, " ");
                    strcat(joined, ed->items[i].str);
                }
        }
        x->last_failure = strdup(code);
        gp_err_set(err, GP_ERR_DRIVER, "xapi %s: %s", method, joined ? joined : code);
        gp_err_param(err, "xapi-method", "%s", method);
        gp_err_param(err, "xapi-error", "%s", code);
        for (size_t i = 1; ed && ed->type == GP_XR_ARRAY && i < ed->n; i++)
            if (ed->items[i].type == GP_XR_STRING)
                gp_err_param(err, "xapi-param", "%s", ed->items[i].str);
        free(joined);
        rc = GP_ERR_DRIVER;
    }
out:
    if (params) {
        for (size_t i = 0; i < n; i++)
            gp_xr_value_dispose(&params[i]);
        free(params);
    }
    gp_xr_value_dispose(&resp);
    free(body);
    if (rc)
        gp_xr_value_dispose(result);
    return rc;
}

int gp_xapi_call(gp_xapi *x, const char *method, const char *const *args, size_t n_args,
                 gp_xr_value *result, gp_error_info *err)
{
    return xapi_call(x, true, method, args, n_args, NULL, result, err);
}

int gp_xapi_call_tail(gp_xapi *x, const char *method, const char *const *args, size_t n_args,
                      const gp_xr_value *tail, gp_xr_value *result, gp_error_info *err)
{
    return xapi_call(x, true, method, args, n_args, tail, result, err);
}

int gp_xapi_call_nosession(gp_xapi *x, const char *method, const char *const *args,
                           size_t n_args, gp_xr_value *result, gp_error_info *err)
{
    return xapi_call(x, false, method, args, n_args, NULL, result, err);
}

const char *gp_xapi_last_failure(const gp_xapi *x)
{
    return x->last_failure;
}

const char *gp_xapi_session(const gp_xapi *x)
{
    return x->session;
}

int gp_xapi_open(gp_xapi **out, const char *socket_path, const char *session,
                 uint64_t deadline_ms, gp_error_info *err)
{
    gp_xapi *x = NULL;
    gp_xr_value v;
    int rc;

    *out = NULL;
    gp_xr_value_init(&v);
    if (!curl_load())
        return gp_err_set(err, GP_ERR_NOT_SUPPORTED,
                          "cannot talk to xapi: libcurl (libcurl.so.4) could not be loaded");
    x = calloc(1, sizeof(*x));
    if (!x)
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    x->deadline_ms = deadline_ms;
    x->socket_path = strdup(socket_path ? socket_path : GP_XAPI_DEFAULT_SOCKET);
    x->curl = cl.easy_init();
    x->headers = cl.slist_append(NULL, "Content-Type: text/xml");
    if (x->headers) {
        /* No "Expect: 100-continue" round trip for large bodies. */
        struct curl_slist *h = cl.slist_append(x->headers, "Expect:");
        if (h)
            x->headers = h;
    }
    if (!x->socket_path || !x->curl || !x->headers) {
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    cl.easy_setopt(x->curl, CURLOPT_UNIX_SOCKET_PATH, x->socket_path);
    /* The host name is not resolved: the socket is the transport. */
    cl.easy_setopt(x->curl, CURLOPT_URL, "http://localhost/");
    cl.easy_setopt(x->curl, CURLOPT_HTTPHEADER, x->headers);
    cl.easy_setopt(x->curl, CURLOPT_WRITEFUNCTION, xapi_write_cb);
    cl.easy_setopt(x->curl, CURLOPT_WRITEDATA, x);
    /* Never let libcurl use signals: the plugin owns SIGALRM. */
    cl.easy_setopt(x->curl, CURLOPT_NOSIGNAL, 1L);
    cl.easy_setopt(x->curl, CURLOPT_PROTOCOLS_STR, "http");
    cl.easy_setopt(x->curl, CURLOPT_USERAGENT, "gpupool/" GPUPOOL_VERSION_STRING);

    if (session && *session) {
        x->session = strdup(session);
        if (!x->session) {
            rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
            goto out;
        }
    } else {
        static const char *const login[] = { "root", "", "1.0", "gpupool" };
        rc = gp_xapi_call_nosession(x, "session.login_with_password", login,
                                    GP_ARRAY_SIZE(login), &v, err);
        if (rc)
            goto out;
        if (v.type != GP_XR_STRING || !v.str[0]) {
            rc = gp_err_set(err, GP_ERR_DRIVER,
                            "xapi session.login_with_password returned no session");
            goto out;
        }
        x->session = v.str;
        v.str = NULL;
        x->logged_in = true;
    }
    *out = x;
    x = NULL;
    rc = GP_OK;
out:
    gp_xr_value_dispose(&v);
    gp_xapi_close(x);
    return rc;
}

void gp_xapi_close(gp_xapi *x)
{
    if (!x)
        return;
    if (x->logged_in && x->curl) {
        gp_xr_value v;
        gp_xr_value_init(&v);
        /* Best effort, and never past the deadline. */
        if (!x->deadline_ms || gp_monotonic_ms() < x->deadline_ms)
            xapi_call(x, true, "session.logout", NULL, 0, NULL, &v, NULL);
        gp_xr_value_dispose(&v);
    }
    if (x->curl)
        cl.easy_cleanup(x->curl);
    if (x->headers)
        cl.slist_free_all(x->headers);
    free(x->socket_path);
    free(x->session);
    free(x->last_failure);
    free(x->buf);
    free(x);
}
