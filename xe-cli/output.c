/*
 * output.c - xe's output formats: records, --minimal, errors.
 *
 * The record layout is xe's (xapi-cli-server's multi_line_record): every key
 * is shown as "key ( RO)" or "key ( RW)"; the column is 4 wider than the
 * widest such label; the first label is padded on the right, the others on
 * the left, then ": value".  A blank line follows each record.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors --------------------------------------------------------------- */

void xe_error_init(xe_error *e)
{
    memset(e, 0, sizeof(*e));
}

void xe_error_dispose(xe_error *e)
{
    if (!e)
        return;
    free(e->message);
    for (size_t i = 0; i < e->n_params; i++) {
        free(e->params[i].key);
        free(e->params[i].value);
    }
    free(e->params);
    xe_error_init(e);
}

int xe_error_set(xe_error *e, const char *code, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;

    xe_error_dispose(e);
    e->code = code;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    e->message = msg;
    return 1;
}

void xe_error_param(xe_error *e, const char *key, const char *value)
{
    gp_error_param *p = realloc(e->params, (e->n_params + 1) * sizeof(*p));
    if (!p)
        return;
    e->params = p;
    p[e->n_params].key = strdup(key);
    p[e->n_params].value = strdup(value ? value : "");
    if (!p[e->n_params].key || !p[e->n_params].value) {
        free(p[e->n_params].key);
        free(p[e->n_params].value);
        return;
    }
    e->n_params++;
}

int xe_error_from_info(xe_error *e, const gp_error_info *gi)
{
    xe_error_dispose(e);
    e->code = gp_error_name(gi->code);
    e->message = strdup(gi->message ? gi->message : "");
    for (size_t i = 0; i < gi->n_params; i++)
        xe_error_param(e, gi->params[i].key, gi->params[i].value);
    return 1;
}

void xe_error_print(FILE *f, const xe_error *e)
{
    fprintf(f, "%s\n", e->code ? e->code : "INTERNAL_ERROR");
    for (size_t i = 0; i < e->n_params; i++)
        fprintf(f, "%s: %s\n", e->params[i].key, e->params[i].value);
    fprintf(f, "message: %s\n", e->message ? e->message : "");
}

/* ---- records -------------------------------------------------------------- */

static const char *field_mode(const char *key, const char *const *rw_keys)
{
    return xe_key_in(key, rw_keys) ? "( RW)" : "( RO)";
}

static const gp_field *record_field(const gp_record *r, const char *key)
{
    for (size_t i = 0; i < r->n_fields; i++)
        if (!strcmp(r->fields[i].key, key))
            return &r->fields[i];
    return NULL;
}

void xe_print_record(FILE *f, const gp_record *r, const char *const *keys, size_t n,
                     const char *const *rw_keys)
{
    const gp_field **fs;
    size_t nf = 0, width = 0;

    if (!keys)
        n = r->n_fields;
    fs = malloc((n ? n : 1) * sizeof(*fs));
    if (!fs)
        return;
    for (size_t i = 0; i < n; i++) {
        const gp_field *fld = keys ? record_field(r, keys[i]) : &r->fields[i];
        if (fld)
            fs[nf++] = fld;
    }
    /* "key ( RO)" is strlen(key) + 6; xe pads to the widest plus 4. */
    for (size_t i = 0; i < nf; i++) {
        size_t w = strlen(fs[i]->key) + 6 + 4;
        if (w > width)
            width = w;
    }
    for (size_t i = 0; i < nf; i++) {
        int pad = (int)(width - strlen(fs[i]->key) - 6);
        const char *mode = field_mode(fs[i]->key, rw_keys);
        if (i == 0)
            fprintf(f, "%s %s%*s: %s\n", fs[i]->key, mode, pad, "", fs[i]->value);
        else
            fprintf(f, "%*s%s %s: %s\n", pad, "", fs[i]->key, mode, fs[i]->value);
    }
    if (nf)
        fputc('\n', f);
    free(fs);
}

void xe_print_minimal_value(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == ',' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
}

/* Split "a,b,c" into a malloc'ed vector of pointers into a malloc'ed copy. */
static char **split_commas(const char *s, size_t *n_out, char **buf_out)
{
    char *buf = strdup(s);
    size_t n = 1;
    char **v;

    *buf_out = NULL;
    *n_out = 0;
    if (!buf)
        return NULL;
    for (const char *p = s; *p; p++)
        if (*p == ',')
            n++;
    v = malloc(n * sizeof(*v));
    if (!v) {
        free(buf);
        return NULL;
    }
    n = 0;
    for (char *tok = buf, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next)
            *next++ = '\0';
        if (*tok)
            v[n++] = tok;
    }
    *buf_out = buf;
    *n_out = n;
    return v;
}

int xe_print_records(FILE *f, const gp_record *rs, size_t n, const xe_print_opts *opts,
                     xe_error *err)
{
    char **keys = NULL, *buf = NULL;
    size_t nk = 0;
    bool all = false;
    int rc = 0;

    if (opts->params && strcmp(opts->params, "all")) {
        keys = split_commas(opts->params, &nk, &buf);
        if (!keys)
            return xe_error_set(err, "OUT_OF_MEMORY", "out of memory");
        if (nk == 0) {
            rc = xe_error_set(err, "INVALID_ARGUMENT", "params= names no field");
            xe_error_param(err, "params", opts->params);
            goto out;
        }
        for (size_t k = 0; k < nk && n > 0; k++) {
            bool found = false;
            for (size_t i = 0; i < n && !found; i++)
                found = record_field(&rs[i], keys[k]) != NULL;
            if (!found) {
                rc = xe_error_set(err, "UNKNOWN_PARAMETER", "no field '%s' in these records",
                                  keys[k]);
                xe_error_param(err, "param-name", keys[k]);
                goto out;
            }
        }
    } else if (opts->params || !opts->defaults) {
        all = true;
    }

    if (opts->minimal) {
        for (size_t i = 0; i < n; i++) {
            const char *v = NULL;
            if (all) {
                v = rs[i].n_fields ? rs[i].fields[0].value : NULL;
            } else {
                const gp_field *fld = record_field(&rs[i], keys ? keys[0] : opts->defaults[0]);
                v = fld ? fld->value : NULL;
            }
            if (i)
                fputc(',', f);
            if (v)
                xe_print_minimal_value(f, v);
        }
        fputc('\n', f);
        goto out;
    }

    for (size_t i = 0; i < n; i++) {
        if (all) {
            xe_print_record(f, &rs[i], NULL, 0, opts->rw_keys);
        } else if (keys) {
            xe_print_record(f, &rs[i], (const char *const *)keys, nk, opts->rw_keys);
        } else {
            size_t nd = 0;
            while (opts->defaults[nd])
                nd++;
            xe_print_record(f, &rs[i], opts->defaults, nd, opts->rw_keys);
        }
    }
out:
    free(keys);
    free(buf);
    return rc;
}

int xe_records_filter(gp_record *rs, size_t *n, const char *const *keys,
                      const char *const *values, size_t n_filters, xe_error *err)
{
    size_t w = 0;

    if (*n > 0)
        for (size_t k = 0; k < n_filters; k++)
            if (!record_field(&rs[0], keys[k])) {
                xe_error_set(err, "UNKNOWN_PARAMETER",
                             "unknown parameter or field '%s'", keys[k]);
                xe_error_param(err, "param-name", keys[k]);
                return 1;
            }
    for (size_t i = 0; i < *n; i++) {
        bool keep = true;
        for (size_t k = 0; k < n_filters && keep; k++) {
            const gp_field *fld = record_field(&rs[i], keys[k]);
            keep = fld && !strcmp(fld->value, values[k]);
        }
        if (keep)
            rs[w++] = rs[i];
        else
            gp_record_dispose(&rs[i]);
    }
    *n = w;
    return 0;
}

bool xe_key_in(const char *key, const char *const *list)
{
    for (size_t i = 0; list && list[i]; i++)
        if (!strcmp(list[i], key))
            return true;
    return false;
}
