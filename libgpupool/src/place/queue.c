/*
 * queue.c - governance: the fair queue of GPU requests (issue 11).  Pure
 * functions of their inputs, like the rest of place/: gp_usage_decayed()
 * (a tenant's usage with exponential decay, Slurm's fair-share usage),
 * gp_queue_order() (the serving order of a queue) and gp_queue_next() (the
 * next request that fits, in one pass).
 *
 * The order is priority descending, then the tenant's decayed usage
 * ascending, then created, id and index ascending.  Each entry's usage is
 * looked up once: the usage rows are sorted by tenant name (duplicates
 * summed) and searched with bsearch(), never scanned per comparison.
 */
#include "place/place.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double gp_usage_decayed(const gp_usage_interval *iv, size_t n, int64_t now, int64_t half_life_s)
{
    double sum = 0.0;

    if (!iv)
        return 0.0;
    for (size_t i = 0; i < n; i++) {
        int64_t a = iv[i].start;
        int64_t b = iv[i].end < 0 || iv[i].end > now ? now : iv[i].end;
        if (b <= a)
            continue;
        if (half_life_s <= 0) {
            sum += (double)(b - a);
            continue;
        }
        /* h/ln2 * (2^(-(now-b)/h) - 2^(-(now-a)/h))
         *   = h/ln2 * 2^(-(now-b)/h) * (1 - 2^(-(b-a)/h)),
         * the last factor as -expm1() so a short interval keeps its digits. */
        double h = (double)half_life_s;
        double age_b = (double)(now - b), len = (double)(b - a);
        sum += h / M_LN2 * exp2(-age_b / h) * -expm1(-len * M_LN2 / h);
    }
    return sum;
}

/* ---- tenants' usage, sorted by name -------------------------------------- */

typedef struct {
    const char *tenant;
    double usage;
} tenant_row;

typedef struct {
    tenant_row *rows;   /* ascending tenant, one row per tenant */
    size_t n;
} tenant_tab;

static int row_cmp(const void *pa, const void *pb)
{
    const tenant_row *a = pa, *b = pb;
    return strcmp(a->tenant, b->tenant);
}

static int row_key_cmp(const void *key, const void *pb)
{
    const tenant_row *b = pb;
    return strcmp(key, b->tenant);
}

static void tab_free(tenant_tab *t)
{
    free(t->rows);
    t->rows = NULL;
    t->n = 0;
}

/* Check e and u, and build the table of u (duplicates summed). */
static int tab_build(const gp_queue_entry *e, size_t n, const gp_tenant_usage *u, size_t n_u,
                     const void *out, tenant_tab *t, gp_error_info *err)
{
    t->rows = NULL;
    t->n = 0;
    if ((n && (!e || !out)) || (n_u && !u))
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                          "the request queue needs its entries, the usage rows it counts "
                          "and an output");
    for (size_t i = 0; i < n; i++) {
        if (!e[i].tenant || e[i].priority < 0 || e[i].priority > GP_QUEUE_PRIORITY_MAX) {
            int rc = e[i].tenant
                ? gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                             "queue entry %zu (id %lld) has priority %d, not 0..%d", i,
                             (long long)e[i].id, e[i].priority, GP_QUEUE_PRIORITY_MAX)
                : gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                             "queue entry %zu (id %lld) has no tenant", i, (long long)e[i].id);
            gp_err_param(err, "entry", "%zu", i);
            gp_err_param(err, "id", "%lld", (long long)e[i].id);
            return rc;
        }
    }
    for (size_t k = 0; k < n_u; k++) {
        if (!u[k].tenant || !isfinite(u[k].usage) || u[k].usage < 0) {
            int rc = gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                                "usage row %zu (tenant %s) must name a tenant and hold "
                                "finite GPU-seconds >= 0",
                                k, u[k].tenant ? u[k].tenant : "(none)");
            gp_err_param(err, "tenant", "%s", u[k].tenant ? u[k].tenant : "");
            return rc;
        }
    }
    if (!n_u || !n)
        return GP_OK;
    t->rows = malloc(n_u * sizeof(*t->rows));
    if (!t->rows)
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n_u; k++)
        t->rows[k] = (tenant_row){ u[k].tenant, u[k].usage };
    qsort(t->rows, n_u, sizeof(*t->rows), row_cmp);
    /* One row per tenant: a tenant listed twice has the sum. */
    for (size_t k = 0; k < n_u; k++) {
        if (t->n && !strcmp(t->rows[t->n - 1].tenant, t->rows[k].tenant))
            t->rows[t->n - 1].usage += t->rows[k].usage;
        else
            t->rows[t->n++] = t->rows[k];
    }
    return GP_OK;
}

static double tab_usage(const tenant_tab *t, const char *tenant)
{
    const tenant_row *r;
    if (!t->n)
        return 0.0;
    r = bsearch(tenant, t->rows, t->n, sizeof(*t->rows), row_key_cmp);
    return r ? r->usage : 0.0;
}

/* ---- the order ------------------------------------------------------------- */

/* An entry with its tenant's usage resolved. */
typedef struct {
    int priority;
    double usage;
    int64_t created;
    int64_t id;
    size_t index;
} queue_key;

/* < 0 when a is served before b.  Total: index breaks every tie. */
static int key_cmp(const queue_key *a, const queue_key *b)
{
    if (a->priority != b->priority)
        return a->priority > b->priority ? -1 : 1;
    if (a->usage != b->usage)
        return a->usage < b->usage ? -1 : 1;
    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    if (a->index != b->index)
        return a->index < b->index ? -1 : 1;
    return 0;
}

static int key_qsort_cmp(const void *pa, const void *pb)
{
    return key_cmp(pa, pb);
}

static queue_key key_of(const gp_queue_entry *e, size_t i, const tenant_tab *t)
{
    return (queue_key){ e[i].priority, tab_usage(t, e[i].tenant), e[i].created, e[i].id, i };
}

int gp_queue_order(const gp_queue_entry *e, size_t n, const gp_tenant_usage *u, size_t n_u,
                   size_t *order_out, gp_error_info *err)
{
    tenant_tab t;
    queue_key *keys = NULL;
    int rc;

    gp_err_clear(err);
    rc = tab_build(e, n, u, n_u, order_out, &t, err);
    if (rc)
        return rc;
    if (!n)
        goto out;
    keys = malloc(n * sizeof(*keys));
    if (!keys) {
        rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        keys[i] = key_of(e, i, &t);
    qsort(keys, n, sizeof(*keys), key_qsort_cmp);
    for (size_t i = 0; i < n; i++)
        order_out[i] = keys[i].index;
out:
    free(keys);
    tab_free(&t);
    return rc;
}

int gp_queue_next(const gp_queue_entry *e, size_t n, const gp_tenant_usage *u, size_t n_u,
                  bool (*fits)(size_t i, void *arg), void *arg, size_t *next_out,
                  gp_error_info *err)
{
    tenant_tab t;
    queue_key best;
    bool have = false;
    int rc;

    gp_err_clear(err);
    if (!next_out)
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                          "the request queue needs its entries, the usage rows it counts "
                          "and an output");
    rc = tab_build(e, n, u, n_u, next_out, &t, err);
    if (rc)
        return rc;
    memset(&best, 0, sizeof(best));
    for (size_t i = 0; i < n; i++) {
        /* A lower priority never wins: no usage lookup, no fits() call. */
        if (have && e[i].priority < best.priority)
            continue;
        queue_key k = key_of(e, i, &t);
        if (have && key_cmp(&k, &best) >= 0)
            continue;
        if (fits && !fits(i, arg))
            continue;
        best = k;
        have = true;
    }
    tab_free(&t);
    *next_out = have ? best.index : GP_QUEUE_NONE;
    return GP_OK;
}
