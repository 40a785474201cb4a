/*
 * test_queue.c - the fair request queue (issue 11, place/queue.c):
 * gp_usage_decayed() against closed-form values (one half-life, a
 * half-life ago, open intervals, no decay, clipping at now, empty and
 * short intervals); gp_queue_order()'s order (priority, then decayed usage,
 * then created, then id, then index; absent tenants; tenants listed twice;
 * a large queue against a naive reference); the fair-share property (a
 * tenant with a third of the other's usage is served until they are even,
 * then they alternate); gp_queue_next() against the first fitting entry
 * of the full order, how often it asks fits(); refused input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpupool.h"

#define HOUR 3600
#define DAY (24 * HOUR)
#define NOW 1700000000LL

/* |got - want| within rel x |want| (or rel when want is 0). */
static void assert_near(double got, double want, double rel)
{
    double tol = rel * (want != 0 ? fabs(want) : 1.0);
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g (tolerance %.3g)", got, want, tol);
}

/* ---- gp_usage_decayed() --------------------------------------------------- */

static void test_decay_one_half_life(void **state)
{
    (void)state;
    /* One GPU for one half-life up to now: h/ln2 x (1 - 1/2) = 2596.85 s. */
    gp_usage_interval iv = { NOW - HOUR, NOW };
    double u = gp_usage_decayed(&iv, 1, NOW, HOUR);
    assert_near(u, 3600.0 / M_LN2 * 0.5, 1e-12);
    assert_near(u, 2596.8510736001344, 1e-12);
    assert_true(u < 3600.0);
}

static void test_decay_half_life_ago_counts_half(void **state)
{
    (void)state;
    gp_usage_interval recent = { NOW - HOUR, NOW };
    gp_usage_interval old = { NOW - 2 * HOUR, NOW - HOUR };
    double r = gp_usage_decayed(&recent, 1, NOW, HOUR);
    double o = gp_usage_decayed(&old, 1, NOW, HOUR);
    assert_near(o, r / 2, 1e-12);
    assert_near(o, 1298.4255368000672, 1e-12);
    /* Two half-lives ago: a quarter; both together: the sum. */
    gp_usage_interval older = { NOW - 3 * HOUR, NOW - 2 * HOUR };
    assert_near(gp_usage_decayed(&older, 1, NOW, HOUR), r / 4, 1e-12);
    gp_usage_interval both[2] = { { NOW - HOUR, NOW }, { NOW - 2 * HOUR, NOW - HOUR } };
    assert_near(gp_usage_decayed(both, 2, NOW, HOUR), r * 1.5, 1e-12);
    /* One interval across both hours is the same integral. */
    gp_usage_interval whole = { NOW - 2 * HOUR, NOW };
    assert_near(gp_usage_decayed(&whole, 1, NOW, HOUR), r * 1.5, 1e-12);
}

static void test_decay_open_interval_counts_to_now(void **state)
{
    (void)state;
    gp_usage_interval open = { NOW - HOUR, -1 };
    assert_near(gp_usage_decayed(&open, 1, NOW, HOUR), 2596.8510736001344, 1e-12);
    assert_near(gp_usage_decayed(&open, 1, NOW, 0), 3600.0, 0);
    /* Opened after now: nothing yet. */
    gp_usage_interval future = { NOW + 10, -1 };
    assert_true(gp_usage_decayed(&future, 1, NOW, HOUR) == 0.0);
}

static void test_decay_none_is_plain_seconds(void **state)
{
    (void)state;
    gp_usage_interval iv[3] = {
        { NOW - HOUR, NOW },          /* 3600 */
        { NOW - 10 * DAY, NOW - 10 * DAY + 60 },  /* 60, long ago: no decay */
        { NOW - 100, -1 },            /* 100, open */
    };
    assert_true(gp_usage_decayed(iv, 3, NOW, 0) == 3760.0);
    assert_true(gp_usage_decayed(iv, 3, NOW, -HOUR) == 3760.0);
    /* With decay the old minute is worth 60 x 2^-240 (nothing) and the rest less. */
    double d = gp_usage_decayed(iv, 3, NOW, HOUR);
    assert_true(d < 3700.0 && d > 2596.0);
}

static void test_decay_clipped_at_now(void **state)
{
    (void)state;
    gp_usage_interval across = { NOW - HOUR, NOW + HOUR };
    gp_usage_interval after = { NOW + 10, NOW + 100 };
    assert_near(gp_usage_decayed(&across, 1, NOW, HOUR), 2596.8510736001344, 1e-12);
    assert_true(gp_usage_decayed(&after, 1, NOW, HOUR) == 0.0);
    assert_true(gp_usage_decayed(&across, 1, NOW, 0) == 3600.0);
    assert_true(gp_usage_decayed(&after, 1, NOW, 0) == 0.0);
}

static void test_decay_empty_and_short(void **state)
{
    (void)state;
    gp_usage_interval backwards = { NOW - 10, NOW - 20 };
    gp_usage_interval empty = { NOW - 10, NOW - 10 };
    assert_true(gp_usage_decayed(&backwards, 1, NOW, HOUR) == 0.0);
    assert_true(gp_usage_decayed(&empty, 1, NOW, 0) == 0.0);
    assert_true(gp_usage_decayed(NULL, 5, NOW, HOUR) == 0.0);
    assert_true(gp_usage_decayed(&empty, 0, NOW, HOUR) == 0.0);
    /* One second just before now, half-life 30 days: h/ln2 x (1 - 2^(-1/h))
     * = 1 - x/2 + x^2/6 - ..., x = ln2/h; kept to 1e-13 (the subtraction
     * 2^0 - 2^(-1/h) alone would lose 7 digits). */
    gp_usage_interval sec = { NOW - 1, NOW };
    double h = 30.0 * DAY, x = M_LN2 / h;
    assert_near(gp_usage_decayed(&sec, 1, NOW, (int64_t)h), 1 - x / 2 + x * x / 6, 1e-13);
}

/* ---- gp_queue_order() ------------------------------------------------------ */

static void order_of(const gp_queue_entry *e, size_t n, const gp_tenant_usage *u, size_t n_u,
                     size_t *order)
{
    gp_error_info err;
    gp_error_info_init(&err);
    assert_int_equal(gp_queue_order(e, n, u, n_u, order, &err), GP_OK);
    assert_int_equal(err.code, GP_OK);
    gp_error_info_dispose(&err);
}

static void test_order_priority_beats_usage(void **state)
{
    (void)state;
    gp_queue_entry e[3] = {
        { 1, "light", 3, NOW - 100 },
        { 2, "heavy", 7, NOW },
        { 3, "light", 5, NOW },
    };
    gp_tenant_usage u[2] = { { "heavy", 1e9 }, { "light", 0.0 } };
    size_t o[3];
    order_of(e, 3, u, 2, o);
    assert_int_equal(o[0], 1);
    assert_int_equal(o[1], 2);
    assert_int_equal(o[2], 0);
}

static void test_order_lower_usage_first(void **state)
{
    (void)state;
    /* Same priority: usage ascending whatever the age; a tenant absent from
     * u counts 0 and goes before one with a little usage. */
    gp_queue_entry e[4] = {
        { 1, "a", 4, NOW - 1000 },
        { 2, "b", 4, NOW - 10 },
        { 3, "c", 4, NOW },
        { 4, "new", 4, NOW },
    };
    gp_tenant_usage u[3] = { { "c", 0.5 }, { "a", 7200.0 }, { "b", 3600.0 } };
    size_t o[4];
    order_of(e, 4, u, 3, o);
    assert_int_equal(o[0], 3);
    assert_int_equal(o[1], 2);
    assert_int_equal(o[2], 1);
    assert_int_equal(o[3], 0);
}

static void test_order_tenant_listed_twice_sums(void **state)
{
    (void)state;
    gp_queue_entry e[2] = { { 1, "a", 0, NOW }, { 2, "b", 0, NOW } };
    /* a: 10 + 10 = 20 > b's 15, so b first; without the sum a (10) would be. */
    gp_tenant_usage u[3] = { { "a", 10.0 }, { "b", 15.0 }, { "a", 10.0 } };
    size_t o[2];
    order_of(e, 2, u, 3, o);
    assert_int_equal(o[0], 1);
    assert_int_equal(o[1], 0);
}

static void test_order_then_created_then_id(void **state)
{
    (void)state;
    gp_queue_entry e[5] = {
        { 50, "t", 2, NOW },
        { 40, "t", 2, NOW - 5 },
        { 30, "t", 2, NOW },
        { 10, "u", 2, NOW - 5 },   /* same usage as t (both absent) */
        { 20, "t", 2, NOW - 5 },
    };
    size_t o[5];
    order_of(e, 5, NULL, 0, o);
    /* created NOW-5: ids 10, 20, 40; then NOW: ids 30, 50. */
    size_t want[5] = { 3, 4, 1, 2, 0 };
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(o[i], want[i]);
}

static void test_order_deterministic_with_ties(void **state)
{
    (void)state;
    /* Everything equal, ids too: index order, every call. */
    gp_queue_entry e[6];
    for (size_t i = 0; i < 6; i++)
        e[i] = (gp_queue_entry){ 7, i % 2 ? "x" : "y", 1, NOW };
    gp_tenant_usage u[2] = { { "x", 1.0 }, { "y", 1.0 } };
    size_t o1[6], o2[6];
    order_of(e, 6, u, 2, o1);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(o1[i], i);
    for (int k = 0; k < 5; k++) {
        order_of(e, 6, u, 2, o2);
        assert_memory_equal(o1, o2, sizeof(o1));
    }
    /* n = 0: nothing to do, NULL arrays accepted. */
    gp_error_info err;
    gp_error_info_init(&err);
    assert_int_equal(gp_queue_order(NULL, 0, NULL, 0, NULL, &err), GP_OK);
    assert_int_equal(gp_queue_order(NULL, 0, u, 2, NULL, NULL), GP_OK);
    gp_error_info_dispose(&err);
}

/* A fixed pseudo-random stream. */
static unsigned lcg_next(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Naive reference: linear lookup of the summed usage, then "does a come
 * before b" spelled out. */
static double naive_usage(const gp_tenant_usage *u, size_t n_u, const char *t)
{
    double s = 0;
    for (size_t k = 0; k < n_u; k++)
        if (!strcmp(u[k].tenant, t))
            s += u[k].usage;
    return s;
}

static bool naive_before(const gp_queue_entry *e, const gp_tenant_usage *u, size_t n_u,
                         size_t a, size_t b)
{
    if (e[a].priority != e[b].priority)
        return e[a].priority > e[b].priority;
    double ua = naive_usage(u, n_u, e[a].tenant), ub = naive_usage(u, n_u, e[b].tenant);
    if (ua != ub)
        return ua < ub;
    if (e[a].created != e[b].created)
        return e[a].created < e[b].created;
    if (e[a].id != e[b].id)
        return e[a].id < e[b].id;
    return a < b;
}

#define BIG_N 600
#define BIG_TENANTS 300

static void test_order_large_against_reference(void **state)
{
    (void)state;
    static char names[BIG_TENANTS][16];
    static gp_queue_entry e[BIG_N];
    static gp_tenant_usage u[BIG_TENANTS + 20];
    static size_t o[BIG_N];
    static bool seen[BIG_N];
    unsigned s = 42;

    for (int t = 0; t < BIG_TENANTS; t++)
        snprintf(names[t], sizeof(names[t]), "tenant-%03d", t);
    /* Most tenants have usage (few distinct values: many ties), 20 rows repeat
     * a tenant, the last 30 tenants have none. */
    size_t n_u = 0;
    for (int t = 0; t < BIG_TENANTS - 30; t++)
        u[n_u++] = (gp_tenant_usage){ names[t], (double)(lcg_next(&s) % 5) * 100.0 };
    for (int k = 0; k < 20; k++)
        u[n_u++] = (gp_tenant_usage){ names[lcg_next(&s) % BIG_TENANTS], 50.0 };
    for (size_t i = 0; i < BIG_N; i++)
        e[i] = (gp_queue_entry){ (int64_t)(lcg_next(&s) % 400), names[lcg_next(&s) % BIG_TENANTS],
                                 (int)(lcg_next(&s) % 3), NOW - (int64_t)(lcg_next(&s) % 5) };
    order_of(e, BIG_N, u, n_u, o);
    memset(seen, 0, sizeof(seen));
    for (size_t i = 0; i < BIG_N; i++) {
        assert_true(o[i] < BIG_N);
        assert_false(seen[o[i]]);
        seen[o[i]] = true;
        if (i)
            assert_true(naive_before(e, u, n_u, o[i - 1], o[i]));
    }
}

/* ---- the fair-share property ------------------------------------------------- */

#define FS_REQ 16    /* queued requests per tenant */
#define FS_STEPS 12

typedef struct {
    bool served[2 * FS_REQ];
    int fits_calls;
} fs_state;

static bool fits_unserved(size_t i, void *arg)
{
    fs_state *st = arg;
    st->fits_calls++;
    return !st->served[i];
}

/*
 * Tenants A and B, past usage 3 GPU-hours to 1 (A held 3 GPUs, B one, in
 * the hour before the first decision).  Each has FS_REQ requests of equal
 * priority queued; entries 0.. are A's, FS_REQ.. are B's, the older ones
 * A's when a_older.  One decision per hour: the served tenant holds a GPU
 * for that hour, which counts at the next decision.  got receives the
 * served tenants ('A' / 'B'), usage_h[k] the undecayed GPU-hours of A and
 * B after serve k.
 */
static void fair_share_run(int64_t half_life_s, bool a_older, char *got, int usage_h[][2])
{
    gp_queue_entry e[2 * FS_REQ];
    gp_usage_interval iv[2][4 + FS_STEPS];
    size_t n_iv[2] = { 3, 1 };
    fs_state st;
    gp_error_info err;

    memset(&st, 0, sizeof(st));
    gp_error_info_init(&err);
    for (int i = 0; i < 3; i++)
        iv[0][i] = (gp_usage_interval){ NOW - HOUR, NOW };
    iv[1][0] = (gp_usage_interval){ NOW - HOUR, NOW };
    for (int i = 0; i < FS_REQ; i++) {
        int64_t ta = NOW - 2 * DAY + i, tb = NOW - 2 * DAY + FS_REQ + i;
        if (!a_older) {
            int64_t x = ta;
            ta = tb;
            tb = x;
        }
        e[i] = (gp_queue_entry){ 100 + i, "A", 5, ta };
        e[FS_REQ + i] = (gp_queue_entry){ 200 + i, "B", 5, tb };
    }
    for (int k = 0; k < FS_STEPS; k++) {
        int64_t now = NOW + (int64_t)k * HOUR;
        gp_tenant_usage u[2] = {
            { "A", gp_usage_decayed(iv[0], n_iv[0], now, half_life_s) },
            { "B", gp_usage_decayed(iv[1], n_iv[1], now, half_life_s) },
        };
        size_t next = GP_QUEUE_NONE;
        assert_int_equal(gp_queue_next(e, 2 * FS_REQ, u, 2, fits_unserved, &st, &next, &err), GP_OK);
        assert_true(next < 2 * FS_REQ);
        st.served[next] = true;
        int t = next < FS_REQ ? 0 : 1;
        got[k] = t ? 'B' : 'A';
        iv[t][n_iv[t]++] = (gp_usage_interval){ now, now + HOUR };
        usage_h[k][0] = (int)n_iv[0];
        usage_h[k][1] = (int)n_iv[1];
    }
    got[FS_STEPS] = '\0';
    /* fits() is asked at most once per entry per decision. */
    assert_true(st.fits_calls <= FS_STEPS * 2 * FS_REQ);
    gp_error_info_dispose(&err);
}

static void test_fair_share_three_to_one(void **state)
{
    (void)state;
    char got[FS_STEPS + 1];
    int h[FS_STEPS][2];

    /* Half-life one year: decay over the 12 hours is under 0.1%, so usage
     * counts (almost) as GPU-hours.  A's requests are the older ones, yet B
     * (1 GPU-hour against 3) is served until they are even: B B.  Then A
     * (even, and A's usage is the older so it has decayed more), then
     * they alternate.  Over the first 4 serves: B 3, A 1. */
    fair_share_run(365LL * DAY, true, got, h);
    assert_string_equal(got, "BBABABABABAB");
    int b = 0;
    for (int k = 0; k < 4; k++)
        b += got[k] == 'B';
    assert_int_equal(b, 3);
    /* Even after serve 2 and after every second serve from there on. */
    for (int k = 1; k < FS_STEPS; k += 2) {
        assert_int_equal(h[k][0], h[k][1]);
        assert_int_equal(h[k][0], 3 + (k - 1) / 2);
    }
    assert_int_equal(h[FS_STEPS - 1][0], 8);
    assert_int_equal(h[FS_STEPS - 1][1], 8);
}

static void test_fair_share_ties_by_created(void **state)
{
    (void)state;
    char got[FS_STEPS + 1];
    int h[FS_STEPS][2];

    /* No decay: at even usage the ties are exact and the older request
     * wins: B's older requests give B B B A B A ..., A's older B B A B .... */
    fair_share_run(0, false, got, h);
    assert_string_equal(got, "BBBABABABABA");
    fair_share_run(0, true, got, h);
    assert_string_equal(got, "BBABABABABAB");
    /* With decay the older usage decides, not the older request: A (whose
     * usage is older) wins the even point although B's requests are older. */
    fair_share_run(365LL * DAY, false, got, h);
    assert_string_equal(got, "BBABABABABAB");
}

/* ---- gp_queue_next() ---------------------------------------------------------- */

typedef struct {
    const bool *ok;   /* NULL: every entry fits */
    int calls;
    size_t asked[64];
} fits_rec;

static bool fits_mask(size_t i, void *arg)
{
    fits_rec *r = arg;
    if (r->calls < 64)
        r->asked[r->calls] = i;
    r->calls++;
    return !r->ok || r->ok[i];
}

static void test_next_skips_rejected(void **state)
{
    (void)state;
    gp_queue_entry e[5] = {
        { 1, "a", 5, NOW },
        { 2, "b", 9, NOW },   /* first in order, does not fit */
        { 3, "c", 5, NOW - 9 },
        { 4, "a", 0, NOW },
        { 5, "d", 9, NOW },   /* second, does not fit */
    };
    gp_tenant_usage u[2] = { { "a", 100.0 }, { "c", 50.0 } };
    bool ok[5] = { true, false, true, true, false };
    fits_rec r = { ok, 0, { 0 } };
    size_t next = 77;
    gp_error_info err;
    gp_error_info_init(&err);

    /* Order: 1 (b, 9), 4 (d, 9), 2 (c, 5, usage 50), 0 (a, 5, usage 100), 3. */
    assert_int_equal(gp_queue_next(e, 5, u, 2, fits_mask, &r, &next, &err), GP_OK);
    assert_int_equal(next, 2);
    assert_true(r.calls <= 5);

    /* NULL fits: the head of the order. */
    assert_int_equal(gp_queue_next(e, 5, u, 2, NULL, NULL, &next, &err), GP_OK);
    assert_int_equal(next, 1);

    /* Nothing fits: GP_QUEUE_NONE; an empty queue too. */
    bool none[5] = { false, false, false, false, false };
    fits_rec rn = { none, 0, { 0 } };
    assert_int_equal(gp_queue_next(e, 5, u, 2, fits_mask, &rn, &next, &err), GP_OK);
    assert_true(next == GP_QUEUE_NONE);
    assert_int_equal(rn.calls, 5);
    next = 3;
    assert_int_equal(gp_queue_next(NULL, 0, u, 2, fits_mask, &rn, &next, &err), GP_OK);
    assert_true(next == GP_QUEUE_NONE);
    gp_error_info_dispose(&err);
}

static void test_next_asks_fits_only_when_it_could_win(void **state)
{
    (void)state;
    /* Entry 0 fits and has the top priority: no later entry can win, so
     * fits() is asked once. */
    gp_queue_entry e[4] = {
        { 1, "a", 9, NOW },
        { 2, "b", 8, NOW - 100 },
        { 3, "a", 9, NOW + 1 },     /* same tenant, younger: loses to 0 */
        { 4, "c", 0, NOW - 999 },
    };
    fits_rec r = { NULL, 0, { 0 } };
    size_t next = 0;
    assert_int_equal(gp_queue_next(e, 4, NULL, 0, fits_mask, &r, &next, NULL), GP_OK);
    assert_int_equal(next, 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.asked[0], 0);
}

static void test_next_matches_order(void **state)
{
    (void)state;
    /* 300 random queues and fits masks: gp_queue_next() is the first fitting
     * entry of gp_queue_order()'s order, and asks fits() at most n times. */
    static const char *tenants[6] = { "t0", "t1", "t2", "t3", "t4", "t5" };
    unsigned s = 7;
    for (int round = 0; round < 300; round++) {
        gp_queue_entry e[40];
        bool ok[40];
        size_t o[40], n = 1 + lcg_next(&s) % 40, next = 0;
        gp_tenant_usage u[5];
        for (int k = 0; k < 5; k++)
            u[k] = (gp_tenant_usage){ tenants[k], (double)(lcg_next(&s) % 3) };
        for (size_t i = 0; i < n; i++) {
            e[i] = (gp_queue_entry){ (int64_t)(lcg_next(&s) % 8), tenants[lcg_next(&s) % 6],
                                     (int)(lcg_next(&s) % 3), (int64_t)(lcg_next(&s) % 3) };
            ok[i] = lcg_next(&s) % 3 != 0;
        }
        fits_rec r = { ok, 0, { 0 } };
        order_of(e, n, u, 5, o);
        assert_int_equal(gp_queue_next(e, n, u, 5, fits_mask, &r, &next, NULL), GP_OK);
        size_t want = GP_QUEUE_NONE;
        for (size_t i = 0; i < n && want == GP_QUEUE_NONE; i++)
            if (ok[o[i]])
                want = o[i];
        assert_true(next == want);
        assert_true(r.calls <= (int)n);
    }
}

/* ---- refused input ------------------------------------------------------------ */

static void test_invalid_arguments(void **state)
{
    (void)state;
    gp_queue_entry e[2] = { { 1, "a", 0, NOW }, { 2, "b", 9, NOW } };
    gp_tenant_usage u[1] = { { "a", 1.0 } };
    size_t o[2] = { 55, 66 }, next = 44;
    gp_error_info err;
    gp_error_info_init(&err);

    /* Valid bounds 0 and 9 pass. */
    assert_int_equal(gp_queue_order(e, 2, u, 1, o, &err), GP_OK);
    o[0] = 55;
    o[1] = 66;

    e[1].priority = 10;
    assert_int_equal(gp_queue_order(e, 2, u, 1, o, &err), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(err.code, GP_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "priority 10"));
    assert_int_equal(err.n_params, 2);
    assert_string_equal(err.params[0].key, "entry");
    assert_string_equal(err.params[0].value, "1");
    assert_string_equal(err.params[1].key, "id");
    assert_string_equal(err.params[1].value, "2");
    assert_int_equal(o[0], 55);
    assert_int_equal(o[1], 66);
    assert_int_equal(gp_queue_next(e, 2, u, 1, NULL, NULL, &next, &err), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(next, 44);

    e[1].priority = -1;
    assert_int_equal(gp_queue_order(e, 2, u, 1, o, &err), GP_ERR_INVALID_ARGUMENT);
    e[1].priority = 3;
    e[1].tenant = NULL;
    assert_int_equal(gp_queue_order(e, 2, u, 1, o, &err), GP_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "no tenant"));
    assert_int_equal(gp_queue_next(e, 2, u, 1, NULL, NULL, &next, &err), GP_ERR_INVALID_ARGUMENT);
    e[1].tenant = "b";

    /* NULL arrays with counts, no output. */
    assert_int_equal(gp_queue_order(NULL, 2, u, 1, o, &err), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_queue_order(e, 2, u, 1, NULL, &err), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_queue_order(e, 2, NULL, 1, o, &err), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_queue_next(NULL, 2, u, 1, NULL, NULL, &next, &err), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_queue_next(e, 2, u, 1, NULL, NULL, NULL, &err), GP_ERR_INVALID_ARGUMENT);

    /* Usage rows: negative, NaN, infinite, no tenant. */
    double bad[3] = { -1.0, NAN, INFINITY };
    for (int k = 0; k < 3; k++) {
        u[0].usage = bad[k];
        assert_int_equal(gp_queue_order(e, 2, u, 1, o, &err), GP_ERR_INVALID_ARGUMENT);
        assert_string_equal(err.params[0].key, "tenant");
        assert_string_equal(err.params[0].value, "a");
        assert_int_equal(gp_queue_next(e, 2, u, 1, NULL, NULL, &next, &err),
                         GP_ERR_INVALID_ARGUMENT);
    }
    u[0].usage = 1.0;
    u[0].tenant = NULL;
    assert_int_equal(gp_queue_order(e, 2, u, 1, o, &err), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(o[0], 55);
    assert_int_equal(next, 44);

    /* A NULL err is accepted. */
    assert_int_equal(gp_queue_order(e, 2, u, 1, o, NULL), GP_ERR_INVALID_ARGUMENT);

    /* And a success clears the error. */
    u[0].tenant = "a";
    assert_int_equal(gp_queue_order(e, 2, u, 1, o, &err), GP_OK);
    assert_int_equal(err.code, GP_OK);
    gp_error_info_dispose(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decay_one_half_life),
        cmocka_unit_test(test_decay_half_life_ago_counts_half),
        cmocka_unit_test(test_decay_open_interval_counts_to_now),
        cmocka_unit_test(test_decay_none_is_plain_seconds),
        cmocka_unit_test(test_decay_clipped_at_now),
        cmocka_unit_test(test_decay_empty_and_short),
        cmocka_unit_test(test_order_priority_beats_usage),
        cmocka_unit_test(test_order_lower_usage_first),
        cmocka_unit_test(test_order_tenant_listed_twice_sums),
        cmocka_unit_test(test_order_then_created_then_id),
        cmocka_unit_test(test_order_deterministic_with_ties),
        cmocka_unit_test(test_order_large_against_reference),
        cmocka_unit_test(test_fair_share_three_to_one),
        cmocka_unit_test(test_fair_share_ties_by_created),
        cmocka_unit_test(test_next_skips_rejected),
        cmocka_unit_test(test_next_asks_fits_only_when_it_could_win),
        cmocka_unit_test(test_next_matches_order),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
