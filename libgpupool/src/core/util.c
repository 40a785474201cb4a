/*
 * util.c - small helpers shared by libgpupool's files.
 */
#include "core/core.h"

#include <json.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

char *gp_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *gp_vasprintf(const char *fmt, va_list ap)
{
    char *s = NULL;
    return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

char *gp_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = gp_vasprintf(fmt, ap);
    va_end(ap);
    return s;
}

void gp_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

char *gp_read_file_trim(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 256, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        goto fail;
    for (;;) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                goto fail;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ' ||
                       buf[len - 1] == '\t' || buf[len - 1] == '\r'))
        buf[--len] = '\0';
    return buf;
fail:
    free(buf);
    close(fd);
    return NULL;
}

int gp_array_reserve(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    if (nc <= n)
        nc = n + 1;
    void *na = realloc(*arr, nc * elem);
    if (!na)
        return -1;
    *arr = na;
    *cap = nc;
    return 0;
}

int gp_cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int gp_cpulist_parse(const char *s, int **out, size_t *n_out)
{
    int *ids = NULL;
    size_t n = 0, cap = 0;
    const char *p = s;

    *out = NULL;
    *n_out = 0;
    if (!s)
        return GP_ERR_INVALID_ARGUMENT;
    while (*p == ' ' || *p == '\n' || *p == '\t')
        p++;
    while (*p) {
        char *end;
        errno = 0;
        long a = strtol(p, &end, 10), b;
        if (end == p || errno || a < 0 || a > 1000000)
            goto bad;
        p = end;
        b = a;
        if (*p == '-') {
            p++;
            b = strtol(p, &end, 10);
            if (end == p || errno || b < a || b > 1000000)
                goto bad;
            p = end;
        }
        for (long i = a; i <= b; i++) {
            if (gp_array_reserve((void **)&ids, &cap, n, sizeof(*ids))) {
                free(ids);
                return GP_ERR_NOMEM;
            }
            ids[n++] = (int)i;
        }
        while (*p == ' ' || *p == '\n' || *p == '\t')
            p++;
        if (*p == ',')
            p++;
        else if (*p)
            goto bad;
    }
    if (n > 1) {
        qsort(ids, n, sizeof(*ids), gp_cmp_int);
        size_t w = 1;
        for (size_t i = 1; i < n; i++)
            if (ids[i] != ids[w - 1])
                ids[w++] = ids[i];
        n = w;
    }
    *out = ids;
    *n_out = n;
    return GP_OK;
bad:
    free(ids);
    return GP_ERR_INVALID_ARGUMENT;
}

const char *gp_vm_label(const char *name_label, const char *uuid, char *buf, size_t len)
{
    if (name_label && *name_label)
        snprintf(buf, len, "%s (%s)", name_label, uuid);
    else
        snprintf(buf, len, "%s", uuid);
    return buf;
}

char *gp_cpulist_join(const int *ids, size_t n)
{
    size_t cap = n * 12 + 1;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t len = 0;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%d", i ? "," : "", ids[i]);
    return s;
}

char *gp_cpulist_ranges(const int *ids, size_t n)
{
    size_t cap = n * 24 + 1;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t len = 0;
    s[0] = '\0';
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && ids[j + 1] == ids[j] + 1)
            j++;
        if (j == i)
            len += (size_t)snprintf(s + len, cap - len, "%s%d", len ? "," : "", ids[i]);
        else
            len += (size_t)snprintf(s + len, cap - len, "%s%d-%d", len ? "," : "",
                                    ids[i], ids[j]);
        i = j + 1;
    }
    return s;
}

void gp_uuid_generate(char out[37])
{
    unsigned char b[16];
    size_t got = 0;
    /* /dev/urandom, not getrandom(): glibc 2.17 (XCP-ng 8.3) has no wrapper. */
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    while (got < sizeof(b)) {
        ssize_t r = fd >= 0 ? read(fd, b + got, sizeof(b) - got) : -1;
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            /* No /dev/urandom (a bare chroot): fall back to time-seeded
             * bytes rather than leave zeros. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            srandom((unsigned)(ts.tv_nsec ^ ts.tv_sec ^ getpid()));
            for (; got < sizeof(b); got++)
                b[got] = (unsigned char)random();
            break;
        }
        got += (size_t)r;
    }
    if (fd >= 0)
        close(fd);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
}

bool gp_uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
                     (s[i] >= 'A' && s[i] <= 'F'))) {
            return false;
        }
    }
    return true;
}

void gp_now_iso(char buf[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

uint64_t gp_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

char *gp_json_take_text(struct json_object *o)
{
    char *s = o ? gp_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) : NULL;
    json_object_put(o);
    return s;
}

json_object *gp_json_array_new(size_t n)
{
#if defined(JSON_C_VERSION_NUM) && JSON_C_VERSION_NUM >= ((0 << 16) | (15 << 8))
    return json_object_new_array_ext((int)n);
#else
    (void)n;  /* json-c 0.14 (XCP-ng 8.3): the size is only a capacity hint */
    return json_object_new_array();
#endif
}

size_t gp_utf8_prefix(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    return max;
}

/* A control character: C0 (0x00..0x1f) and DEL. */
static bool is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

int gp_text_check(gp_error_info *err, const char *field, const char *s, size_t max_bytes,
                  bool multiline)
{
    size_t len = s ? strlen(s) : 0;
    /* Shown in the message and the param: the text's first 64 bytes. */
    int shown = (int)gp_utf8_prefix(s ? s : "", len, 64);
    const char *more = (size_t)shown < len ? "..." : "";
    int rc;

    if (len > max_bytes) {
        rc = gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                        "%s is %zu bytes long; at most %zu are allowed ('%.*s%s')", field, len,
                        max_bytes, shown, s, more);
        gp_err_param(err, field, "%.*s%s", shown, s, more);
        gp_err_param(err, "length", "%zu", len);
        gp_err_param(err, "max-length", "%zu", max_bytes);
        return rc;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_ctl(c) || (multiline && (c == '\n' || c == '\t' || c == '\r')))
            continue;
        rc = gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                        "%s may not hold control characters%s (byte 0x%02x at offset %zu)",
                        field, multiline ? " other than tab and line breaks" : "", c, i);
        gp_err_param(err, field, "%.*s%s", shown, s, more);
        gp_err_param(err, "length", "%zu", len);
        return rc;
    }
    return GP_OK;
}

char *gp_str_escape_ctl(const char *s, size_t max_len)
{
    static const char dots[] = "...";
    size_t len, cap, o = 0;
    char *out;

    if (!s)
        return NULL;
    len = strlen(s);
    /* Each byte becomes at most 4 ("\xNN"). */
    cap = len * 4 + sizeof(dots);
    out = malloc(cap);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        size_t n = 1;

        if (c == '\n' || c == '\r' || c == '\t' || c == '\\') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : '\\';
            esc[2] = '\0';
        } else if (is_ctl(c)) {
            snprintf(esc, sizeof(esc), "\\x%02x", c);
        } else {
            /* A whole UTF-8 sequence (lead byte and its continuations) is
             * copied or cut as one. */
            while (c >= 0xc0 && i + n < len && ((unsigned char)s[i + n] & 0xc0) == 0x80 && n < 4)
                n++;
            memcpy(esc, s + i, n);
            esc[n] = '\0';
        }
        size_t elen = strlen(esc);
        if (max_len && o + elen > max_len) {
            memcpy(out + o, dots, sizeof(dots));
            return out;
        }
        memcpy(out + o, esc, elen);
        o += elen;
        i += n;
    }
    out[o] = '\0';
    return out;
}

int64_t gp_now(void)
{
    /* GPUPOOL_NOW (Unix seconds) lets tests set the clock of governance:
     * queue waits, leases, GPU-hours, fair share. */
    const char *e = getenv("GPUPOOL_NOW");
    if (e && *e) {
        char *end;
        long long v = strtoll(e, &end, 10);
        if (!*end && v > 0)
            return (int64_t)v;
    }
    return (int64_t)time(NULL);
}

void gp_time_iso(int64_t t, char buf[32])
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    if (!strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        buf[0] = '\0';
}

int gp_time_parse(const char *iso, int64_t *out)
{
    struct tm tm;
    const char *end;
    memset(&tm, 0, sizeof(tm));
    end = iso ? strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!end || (*end && strcmp(end, "Z")))
        return GP_ERR_INVALID_ARGUMENT;
    *out = (int64_t)timegm(&tm);
    return GP_OK;
}

int gp_duration_parse(const char *text, int64_t *out)
{
    char *end;
    long long v;
    int64_t unit = 1;
    if (!text || !*text || *text == '-' || *text == '+')
        return GP_ERR_INVALID_ARGUMENT;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno || end == text)
        return GP_ERR_INVALID_ARGUMENT;
    if (*end) {
        switch (*end) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: return GP_ERR_INVALID_ARGUMENT;
        }
        if (end[1])
            return GP_ERR_INVALID_ARGUMENT;
    }
    if (v < 0 || v > INT64_MAX / unit)
        return GP_ERR_INVALID_ARGUMENT;
    *out = (int64_t)v * unit;
    return GP_OK;
}
