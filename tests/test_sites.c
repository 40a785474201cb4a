/*
 * test_sites.c - placement across the hosts of an XCP-ng pool
 * (gp_place_sites(), place/sites.c) and the JSON codec of the host model and
 * of an assignment that the hosts of a pool publish to each other
 * (core/host_json.c).
 *
 * gp_place_sites(): best fit over the NUMA-local fits of every host (vCPUs
 * left, then memory left, then free pool GPUs left), ties by host name, site,
 * node and pci-id; excluded and unpublished hosts; POOL_EMPTY versus
 * NO_PLACEMENT and their messages and params; memory of halted VMs;
 * non-local fallback by policy; cpupools; overcommit; determinism; output
 * untouched on error; invalid input.
 *
 * host_json.c: a rich synthetic host (every node, pCPU, GPU fact and
 * cpupool) survives gp_host_json_text() -> gp_host_from_json_text();
 * another version or a wrong shape is refused and leaves the host empty; an
 * assignment survives gp_placement_json_text() ->
 * gp_placement_from_json_text() without its display-time fields.
 *
 * Hosts are synthetic (tests/helpers/synthhost.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpupool.h"
#include "core/core.h"
#include "synthhost.h"

#define GIB (1ULL << 30)
#define MAX_SITES 4
#define MAX_GPUS 8
#define MAX_EX 8

/* ---- fixture: up to MAX_SITES synthetic hosts and a request ---------------- */

typedef struct {
    gp_host host;
    char ids[MAX_GPUS][GP_PCI_ID_LEN];
    const char *pool[MAX_GPUS];
    gp_place_existing ex[MAX_EX];
} host_fx;

typedef struct {
    host_fx h[MAX_SITES];
    gp_place_site sites[MAX_SITES];
    size_t n;
    gp_place_request req;
    gp_site_placement out;
    gp_error_info err;
} sfx;

static sfx *sfx_new(void)
{
    sfx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->req.policy = GP_NUMA_REQUIRED;
    f->req.pin_mode = GP_PIN_HARD;
    f->req.cpu_overcommit = 1.0;
    f->req.vm_vcpus = 4;
    f->req.vm_memory_mib = 8192;
    gp_site_placement_init(&f->out);
    gp_error_info_init(&f->err);
    for (size_t i = 0; i < MAX_SITES; i++)
        gp_host_init(&f->h[i].host);
    return f;
}

static void sfx_free(sfx *f)
{
    gp_site_placement_dispose(&f->out);
    gp_error_info_dispose(&f->err);
    for (size_t i = 0; i < MAX_SITES; i++)
        gp_host_dispose(&f->h[i].host);
    free(f);
}

/* Add a site named name built from spec; its pool is every GPU of the host.
 * Returns its index. */
static size_t sfx_add(sfx *f, const char *name, const synth_spec *spec)
{
    size_t i = f->n++;
    host_fx *h = &f->h[i];
    gp_place_site *s = &f->sites[i];
    assert_true(i < MAX_SITES);
    assert_true(spec->n_gpus <= MAX_GPUS);
    assert_int_equal(synth_host_build(spec, &h->host), 0);
    for (int g = 0; g < spec->n_gpus; g++) {
        synth_gpu_pci_id(g, h->ids[g]);
        h->pool[g] = h->ids[g];
    }
    memset(s, 0, sizeof(*s));
    s->name = name;
    s->host = &h->host;
    s->pool_gpus = h->pool;
    s->n_pool_gpus = (size_t)spec->n_gpus;
    s->existing = h->ex;
    s->n_existing = 0;
    return i;
}

/* One node of cpus single-thread cores, mem_gib of memory, n_gpus GPUs on it. */
static size_t sfx_add_simple(sfx *f, const char *name, int cpus, uint64_t mem_gib, int n_gpus)
{
    synth_spec s;
    synth_spec_init(&s);
    s.n_nodes = 1;
    s.cores_per_node = cpus;
    s.threads_per_core = 1;
    s.n_gpus = n_gpus;
    s.mem_bytes_per_node = mem_gib * GIB;
    return sfx_add(f, name, &s);
}

/* Record an existing assignment on site si. */
static gp_place_existing *sfx_existing(sfx *f, size_t si, const char *pci_id, int node,
                                       const int *pcpus, size_t n_pcpus, int vcpus,
                                       uint64_t mem_mib, int mem_node, bool in_free)
{
    gp_place_site *s = &f->sites[si];
    gp_place_existing *e;
    assert_true(s->n_existing < MAX_EX);
    e = &f->h[si].ex[s->n_existing++];
    memset(e, 0, sizeof(*e));
    e->pci_id = pci_id;
    e->node = node;
    e->pcpus = pcpus;
    e->n_pcpus = n_pcpus;
    e->vcpus = vcpus;
    e->memory_mib = mem_mib;
    e->memory_node = mem_node;
    e->memory_in_free = in_free;
    return e;
}

static int sfx_place(sfx *f)
{
    return gp_place_sites(f->sites, f->n, &f->req, &f->out, &f->err);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, hay ? hay : "(null)");
}

static void assert_prefix(const char *s, const char *prefix)
{
    if (!s || strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("expected \"%s\" to start with \"%s\"", s ? s : "(null)", prefix);
}

static const char *err_param(const gp_error_info *e, const char *key)
{
    for (size_t i = 0; i < e->n_params; i++)
        if (!strcmp(e->params[i].key, key))
            return e->params[i].value;
    fail_msg("no param %s in error %d: %s", key, e->code, e->message ? e->message : "");
    return NULL;
}

static void assert_pcpus(const gp_placement *p, const int *want, size_t n)
{
    assert_int_equal(p->n_pcpus, n);
    assert_non_null(p->pcpus);
    for (size_t i = 0; i < n; i++)
        if (p->pcpus[i] != want[i])
            fail_msg("pcpus[%zu] = %d, want %d", i, p->pcpus[i], want[i]);
}

/* The placement is still what gp_site_placement_init() left. */
static void assert_out_init(const gp_site_placement *o)
{
    assert_int_equal(o->site, 0);
    assert_string_equal(o->placement.pci_id, "");
    assert_int_equal(o->placement.node, -1);
    assert_int_equal(o->placement.memory_node, -1);
    assert_int_equal(o->placement.locality, GP_LOCALITY_UNKNOWN);
    assert_null(o->placement.pcpus);
    assert_int_equal(o->placement.n_pcpus, 0);
    assert_null(o->placement.reason);
}

/* Assert a successful local placement on site/node/pci with that reason. */
static void assert_local(const sfx *f, size_t site, int node, const char *pci,
                         const char *reason)
{
    char prefix[64];
    assert_int_equal(f->err.code, GP_OK);
    assert_int_equal(f->out.site, site);
    assert_string_equal(f->out.placement.pci_id, pci);
    assert_int_equal(f->out.placement.node, node);
    assert_int_equal(f->out.placement.memory_node, node);
    assert_int_equal(f->out.placement.locality, GP_LOCALITY_LOCAL);
    snprintf(prefix, sizeof(prefix), "host %s, ", f->sites[site].name);
    assert_prefix(f->out.placement.reason, prefix);
    assert_string_equal(f->out.placement.reason, reason);
}

/* ---- best fit --------------------------------------------------------------- */

/* Three hosts, one node and one pool GPU each, 48, 8 and 20 vCPUs of room:
 * each VM goes to the node it fills best, whatever the list or name order. */
static void test_best_fit_vcpus(void **state)
{
    sfx *f = sfx_new();
    static const int p4[] = { 0, 1, 2, 3 };
    sfx_add_simple(f, "alpha", 48, 64, 1);
    sfx_add_simple(f, "bravo", 8, 64, 1);
    sfx_add_simple(f, "charlie", 20, 64, 1);

    f->req.vm_vcpus = 4;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 1, 0, "0000:01:00.0",
                 "host bravo, node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    assert_pcpus(&f->out.placement, p4, 4);

    f->req.vm_vcpus = 16;      /* does not fit bravo; charlie leaves 4, alpha 32 */
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 2, 0, "0000:01:00.0",
                 "host charlie, node 0: GPU local, 20 of 20 pCPUs free, 64 GiB free");
    assert_int_equal(f->out.placement.n_pcpus, 16);

    f->req.vm_vcpus = 20;      /* exact fit: nothing left on charlie */
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.site, 2);
    assert_int_equal(f->out.placement.n_pcpus, 20);

    f->req.vm_vcpus = 30;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 0, 0, "0000:01:00.0",
                 "host alpha, node 0: GPU local, 48 of 48 pCPUs free, 64 GiB free");
    assert_int_equal(f->out.placement.n_pcpus, 30);
    for (size_t i = 0; i < 30; i++)
        assert_int_equal(f->out.placement.pcpus[i], (int)i);

    f->req.vm_vcpus = 49;
    assert_int_equal(sfx_place(f), GP_ERR_NO_PLACEMENT);
    assert_int_equal(f->err.code, GP_ERR_NO_PLACEMENT);
    sfx_free(f);
}

/* Within a host the node the VM fills best wins too, with that node's GPU,
 * and gp_place() spreads the pCPUs away from the pinned ones. */
static void test_best_fit_node_of_host(void **state)
{
    sfx *f = sfx_new();
    static const int gpu_nodes[] = { 0, 1, 1 };
    static const int pinned[] = { 8, 9 };
    static const int want[] = { 10, 11, 12, 13 };
    synth_spec s;
    synth_spec_init(&s);
    s.n_nodes = 2;
    s.cores_per_node = 8;
    s.threads_per_core = 1;
    s.n_gpus = 3;
    s.gpu_nodes = gpu_nodes;
    sfx_add(f, "a", &s);
    f->sites[0].n_pool_gpus = 2;       /* 0000:01:00.0 (node 0), 0000:02:00.0 (node 1) */
    sfx_existing(f, 0, "0000:03:00.0", 1, pinned, 2, 2, 4096, 1, true);

    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 0, 1, "0000:02:00.0",
                 "host a, node 1: GPU local, 6 of 8 pCPUs free, 64 GiB free");
    assert_pcpus(&f->out.placement, want, 4);

    /* 7 vCPUs no longer fit node 1 (6 left): node 0. */
    f->req.vm_vcpus = 7;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 0, 0, "0000:01:00.0",
                 "host a, node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    sfx_free(f);
}

/* Equal vCPUs left: least memory left wins; equal memory too: fewest free
 * pool GPUs left on the host.  vCPUs left come before memory left. */
static void test_best_fit_memory_then_gpus(void **state)
{
    sfx *f = sfx_new();
    sfx_add_simple(f, "alpha", 8, 64, 1);
    sfx_add_simple(f, "bravo", 8, 32, 1);
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 1, 0, "0000:01:00.0",
                 "host bravo, node 0: GPU local, 8 of 8 pCPUs free, 32 GiB free");
    sfx_free(f);

    /* alpha leaves 4 vCPUs and 56 GiB, bravo 8 vCPUs and 8 GiB: alpha. */
    f = sfx_new();
    sfx_add_simple(f, "alpha", 8, 64, 1);
    sfx_add_simple(f, "bravo", 12, 16, 1);
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 0, 0, "0000:01:00.0",
                 "host alpha, node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    sfx_free(f);

    /* Same node everywhere; alpha keeps a second free pool GPU, zulu none. */
    f = sfx_new();
    sfx_add_simple(f, "alpha", 8, 64, 2);
    sfx_add_simple(f, "zulu", 8, 64, 1);
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 1, 0, "0000:01:00.0",
                 "host zulu, node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    /* Only one of alpha's GPUs in the pool: a tie again, the name decides. */
    f->sites[0].n_pool_gpus = 1;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 0, 0, "0000:01:00.0",
                 "host alpha, node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    sfx_free(f);
}

/* ---- tie-breaks ----------------------------------------------------------------- */

static void test_ties_host_name(void **state)
{
    sfx *f = sfx_new();
    sfx_add_simple(f, "zulu", 8, 64, 1);
    sfx_add_simple(f, "mike", 8, 64, 1);
    sfx_add_simple(f, "alpha", 8, 64, 1);
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 2, 0, "0000:01:00.0",
                 "host alpha, node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    sfx_free(f);

    f = sfx_new();
    sfx_add_simple(f, "mike", 8, 64, 1);
    sfx_add_simple(f, "alpha", 8, 64, 1);
    sfx_add_simple(f, "zulu", 8, 64, 1);
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.site, 1);
    /* Byte order, not a locale: "Zed" < "alpha". */
    f->sites[2].name = "Zed";
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.site, 2);
    assert_string_equal(f->out.placement.reason,
                        "host Zed, node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    sfx_free(f);

    /* Same name twice: the earlier site. */
    f = sfx_new();
    sfx_add_simple(f, "zulu", 8, 64, 1);
    sfx_add_simple(f, "same", 8, 64, 1);
    sfx_add_simple(f, "same", 8, 64, 1);
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.site, 1);
    sfx_free(f);
}

/* Equal nodes of one host: the lowest node id; on the node, the lowest free
 * pool GPU (pci-id order, not pool list order). */
static void test_ties_node_and_pci(void **state)
{
    sfx *f = sfx_new();
    synth_spec s;
    synth_spec_init(&s);
    s.n_nodes = 2;
    s.cores_per_node = 4;
    s.threads_per_core = 2;
    s.n_gpus = 2;             /* 0000:01:00.0 on node 0, 0000:02:00.0 on node 1 */
    sfx_add(f, "a", &s);
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 0, 0, "0000:01:00.0",
                 "host a, node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    sfx_free(f);

    f = sfx_new();
    static const int on0[] = { 0, 0, 0 };
    synth_spec_init(&s);
    s.n_nodes = 1;
    s.cores_per_node = 8;
    s.threads_per_core = 1;
    s.n_gpus = 3;
    s.gpu_nodes = on0;
    sfx_add(f, "a", &s);
    /* Pool listed in descending order. */
    f->h[0].pool[0] = f->h[0].ids[2];
    f->h[0].pool[1] = f->h[0].ids[1];
    f->h[0].pool[2] = f->h[0].ids[0];
    assert_int_equal(sfx_place(f), GP_OK);
    assert_string_equal(f->out.placement.pci_id, "0000:01:00.0");
    /* The lowest held by a VM (of no vCPU pinned here): the next one. */
    sfx_existing(f, 0, "0000:01:00.0", 0, NULL, 0, 0, 0, -1, true);
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 0, 0, "0000:02:00.0",
                 "host a, node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    sfx_free(f);
}

/* A GPU held on one host does not make the same pci-id busy on another. */
static void test_held_is_per_site(void **state)
{
    sfx *f = sfx_new();
    sfx_add_simple(f, "a", 8, 64, 1);
    sfx_add_simple(f, "b", 20, 64, 1);
    sfx_existing(f, 0, "0000:01:00.0", 0, NULL, 0, 0, 0, -1, true);
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 1, 0, "0000:01:00.0",
                 "host b, node 0: GPU local, 20 of 20 pCPUs free, 64 GiB free");
    sfx_free(f);
}

/* ---- excluded and unpublished hosts ------------------------------------------- */

static void test_excluded_and_null_host_skipped(void **state)
{
    sfx *f = sfx_new();
    sfx_add_simple(f, "a", 8, 64, 1);    /* best fit, but no model published */
    sfx_add_simple(f, "b", 4, 64, 1);    /* exact fit, but excluded */
    sfx_add_simple(f, "c", 20, 64, 1);
    f->sites[0].host = NULL;
    f->sites[1].excluded = "disabled";
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 2, 0, "0000:01:00.0",
                 "host c, node 0: GPU local, 20 of 20 pCPUs free, 64 GiB free");

    /* Not in the non-local pass either. */
    f->req.policy = GP_NUMA_PREFERRED;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.site, 2);

    f->sites[2].excluded = "in maintenance";
    gp_site_placement_dispose(&f->out);
    assert_int_equal(sfx_place(f), GP_ERR_POOL_EMPTY);
    assert_int_equal(f->err.code, GP_ERR_POOL_EMPTY);
    assert_contains(f->err.message, "host b: disabled");
    assert_string_equal(f->err.message,
                        "no host has a free GPU of the pool (host a: its gpupool has not "
                        "published the host's facts (run xe-gpupool pool-sync there); "
                        "host b: disabled; host c: in maintenance)");
    assert_string_equal(err_param(&f->err, "vcpus"), "4");
    assert_string_equal(err_param(&f->err, "memory-mib"), "8192");
    assert_out_init(&f->out);

    /* An excluded host is not used even when it alone has room. */
    f->sites[2].excluded = NULL;
    f->req.vm_vcpus = 21;
    assert_int_equal(sfx_place(f), GP_ERR_NO_PLACEMENT);
    assert_string_equal(f->err.message,
                        "no host can take a VM of 21 vCPUs and 8192 MiB at all: host a: its "
                        "gpupool has not published the host's facts (run xe-gpupool "
                        "pool-sync there); host b: disabled; host c: no node has a free GPU "
                        "of the pool with room for the VM");
    assert_out_init(&f->out);
    sfx_free(f);
}

/* ---- errors --------------------------------------------------------------------- */

static void test_pool_empty(void **state)
{
    sfx *f = sfx_new();
    sfx_add_simple(f, "a", 8, 64, 2);
    sfx_add_simple(f, "b", 8, 64, 1);
    static const char *const foreign[] = { "0000:99:00.0" };
    /* a: both pool GPUs held; b: its pool member is not on the host. */
    sfx_existing(f, 0, "0000:01:00.0", 0, NULL, 0, 2, 1024, 0, true);
    sfx_existing(f, 0, "0000:02:00.0", 0, NULL, 0, 2, 1024, 0, true);
    f->sites[1].pool_gpus = foreign;
    f->sites[1].n_pool_gpus = 1;

    assert_int_equal(sfx_place(f), GP_ERR_POOL_EMPTY);
    assert_int_equal(f->err.code, GP_ERR_POOL_EMPTY);
    assert_string_equal(f->err.message,
                        "no host has a free GPU of the pool (host a: no free GPU of the pool; "
                        "host b: no free GPU of the pool)");
    assert_string_equal(err_param(&f->err, "vcpus"), "4");
    assert_string_equal(err_param(&f->err, "memory-mib"), "8192");
    assert_out_init(&f->out);

    f->req.policy = GP_NUMA_PREFERRED;
    assert_int_equal(sfx_place(f), GP_ERR_POOL_EMPTY);

    /* One GPU freed on a: it is used. */
    f->sites[0].n_existing = 1;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 0, 0, "0000:02:00.0",
                 "host a, node 0: GPU local, 6 of 8 pCPUs free, 64 GiB free");
    sfx_free(f);

    /* No site at all. */
    f = sfx_new();
    assert_int_equal(gp_place_sites(f->sites, 0, &f->req, &f->out, &f->err),
                     GP_ERR_POOL_EMPTY);
    assert_int_equal(f->err.code, GP_ERR_POOL_EMPTY);
    assert_out_init(&f->out);
    sfx_free(f);
}

static void test_no_placement(void **state)
{
    sfx *f = sfx_new();
    sfx_add_simple(f, "a", 8, 64, 1);
    sfx_add_simple(f, "b", 4, 16, 1);

    f->req.vm_vcpus = 12;
    assert_int_equal(sfx_place(f), GP_ERR_NO_PLACEMENT);
    assert_int_equal(f->err.code, GP_ERR_NO_PLACEMENT);
    assert_string_equal(f->err.message,
                        "no host can take a VM of 12 vCPUs and 8192 MiB NUMA-local: "
                        "host a: no node has a free GPU of the pool with room for the VM; "
                        "host b: no node has a free GPU of the pool with room for the VM");
    assert_string_equal(err_param(&f->err, "vcpus"), "12");
    assert_string_equal(err_param(&f->err, "memory-mib"), "8192");
    assert_out_init(&f->out);

    /* vCPUs fit, memory does not (64 GiB = 65536 MiB). */
    f->req.vm_vcpus = 4;
    f->req.vm_memory_mib = 65537;
    assert_int_equal(sfx_place(f), GP_ERR_NO_PLACEMENT);
    assert_string_equal(err_param(&f->err, "vcpus"), "4");
    assert_string_equal(err_param(&f->err, "memory-mib"), "65537");
    assert_contains(f->err.message, "VM of 4 vCPUs and 65537 MiB NUMA-local: ");

    /* Exactly the node's memory fits. */
    f->req.vm_memory_mib = 65536;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 0, 0, "0000:01:00.0",
                 "host a, node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");

    /* Other policies try every host's own best; still nothing. */
    f->req.vm_vcpus = 9;
    f->req.vm_memory_mib = 8192;
    f->req.policy = GP_NUMA_PREFERRED;
    gp_site_placement_dispose(&f->out);
    assert_int_equal(sfx_place(f), GP_ERR_NO_PLACEMENT);
    assert_prefix(f->err.message, "no host can take a VM of 9 vCPUs and 8192 MiB at all: ");
    assert_out_init(&f->out);
    sfx_free(f);
}

/* ---- memory of halted VMs ------------------------------------------------------ */

static void test_memory_of_halted_vms(void **state)
{
    sfx *f = sfx_new();
    static const int on0[] = { 0, 0 };
    static const int pinned[] = { 0, 1 };
    gp_place_existing *halted;
    synth_spec s;
    synth_spec_init(&s);
    s.n_nodes = 1;
    s.cores_per_node = 8;
    s.threads_per_core = 1;
    s.n_gpus = 2;
    s.gpu_nodes = on0;
    s.mem_bytes_per_node = 16 * GIB;
    sfx_add(f, "a", &s);
    f->sites[0].n_pool_gpus = 1;                 /* 0000:01:00.0 */
    sfx_add_simple(f, "b", 16, 64, 1);
    /* A halted VM of 12 GiB assigned to node 0 of a: 4 GiB left for others. */
    halted = sfx_existing(f, 0, "0000:02:00.0", 0, pinned, 2, 2, 12288, 0, false);

    assert_int_equal(sfx_place(f), GP_OK);      /* 8 GiB: not on a */
    assert_local(f, 1, 0, "0000:01:00.0",
                 "host b, node 0: GPU local, 16 of 16 pCPUs free, 64 GiB free");

    f->req.vm_memory_mib = 4096;                 /* exactly what is left on a */
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 0, 0, "0000:01:00.0",
                 "host a, node 0: GPU local, 6 of 8 pCPUs free, 4 GiB free");

    f->req.vm_memory_mib = 4097;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.site, 1);

    /* The VM runs (mem_free already excludes it): a has 16 GiB for the VM. */
    f->req.vm_memory_mib = 8192;
    halted->memory_in_free = true;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 0, 0, "0000:01:00.0",
                 "host a, node 0: GPU local, 6 of 8 pCPUs free, 16 GiB free");

    /* Halted, but its memory goes to no node: not counted either. */
    halted->memory_in_free = false;
    halted->memory_node = -1;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.site, 0);

    /* a alone, memory counted: no placement. */
    halted->memory_node = 0;
    f->n = 1;
    assert_int_equal(sfx_place(f), GP_ERR_NO_PLACEMENT);
    assert_string_equal(f->err.message,
                        "no host can take a VM of 4 vCPUs and 8192 MiB NUMA-local: host a: no "
                        "node has a free GPU of the pool with room for the VM");
    sfx_free(f);
}

/* ---- policies: non-local fallback ------------------------------------------------ */

/* Host a: 2 nodes of 4 pCPUs; the pool GPU is on node 0, whose pCPUs a VM
 * holding another GPU of node 0 fills. */
static size_t add_full_gpu_node(sfx *f, const char *name, int nodes_per_socket)
{
    static const int on0[] = { 0, 0 };
    static const int pinned[] = { 0, 1, 2, 3 };
    synth_spec s;
    size_t i;
    synth_spec_init(&s);
    s.n_nodes = 2;
    s.nodes_per_socket = nodes_per_socket;
    s.cores_per_node = 4;
    s.threads_per_core = 1;
    s.n_gpus = 2;
    s.gpu_nodes = on0;
    i = sfx_add(f, name, &s);
    f->sites[i].n_pool_gpus = 1;                /* 0000:01:00.0 */
    sfx_existing(f, i, "0000:02:00.0", 0, pinned, 4, 4, 4096, 0, true);
    return i;
}

static void test_policy_fallback(void **state)
{
    static const int node1[] = { 4, 5, 6, 7 };
    sfx *f = sfx_new();
    add_full_gpu_node(f, "a", 1);

    f->req.policy = GP_NUMA_REQUIRED;
    assert_int_equal(sfx_place(f), GP_ERR_NO_PLACEMENT);
    assert_string_equal(f->err.message,
                        "no host can take a VM of 4 vCPUs and 8192 MiB NUMA-local: host a: no "
                        "node has a free GPU of the pool with room for the VM");
    assert_out_init(&f->out);

    f->req.policy = GP_NUMA_LEGACY;   /* local or unknown locality only */
    assert_int_equal(sfx_place(f), GP_ERR_NO_PLACEMENT);
    assert_out_init(&f->out);

    f->req.policy = GP_NUMA_PREFERRED;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.site, 0);
    assert_string_equal(f->out.placement.pci_id, "0000:01:00.0");
    assert_int_equal(f->out.placement.node, 1);
    assert_int_equal(f->out.placement.memory_node, 1);
    assert_int_equal(f->out.placement.locality, GP_LOCALITY_REMOTE);
    assert_true(f->out.placement.locality != GP_LOCALITY_LOCAL);
    assert_pcpus(&f->out.placement, node1, 4);
    assert_string_equal(f->out.placement.reason,
                        "host a, node 1: GPU on node 0 (remote, distance 21), 4 of 4 pCPUs "
                        "free, 64 GiB free");
    sfx_free(f);

    /* Both nodes on one socket: policy socket gives the socket tier. */
    f = sfx_new();
    add_full_gpu_node(f, "a", 2);
    f->req.policy = GP_NUMA_SOCKET;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.placement.node, 1);
    assert_int_equal(f->out.placement.locality, GP_LOCALITY_SOCKET);
    assert_string_equal(f->out.placement.reason,
                        "host a, node 1: GPU on node 0 (same socket), 4 of 4 pCPUs free, "
                        "64 GiB free");
    f->req.policy = GP_NUMA_REQUIRED;
    gp_site_placement_dispose(&f->out);
    assert_int_equal(sfx_place(f), GP_ERR_NO_PLACEMENT);
    assert_out_init(&f->out);
    sfx_free(f);
}

/* A NUMA-local fit on any host beats a non-local one on a host of a smaller
 * name; among non-local ones the better locality tier, then the name. */
static void test_local_first_then_tier_then_name(void **state)
{
    sfx *f = sfx_new();
    add_full_gpu_node(f, "a", 1);
    sfx_add_simple(f, "b", 16, 64, 1);
    f->req.policy = GP_NUMA_PREFERRED;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 1, 0, "0000:01:00.0",
                 "host b, node 0: GPU local, 16 of 16 pCPUs free, 64 GiB free");
    sfx_free(f);

    /* zeta: its GPU's locality is unknown (tier unknown < remote). */
    f = sfx_new();
    static const int unknown[] = { -1 };
    synth_spec s;
    add_full_gpu_node(f, "alpha", 1);
    synth_spec_init(&s);
    s.n_nodes = 1;
    s.cores_per_node = 8;
    s.threads_per_core = 1;
    s.n_gpus = 1;
    s.gpu_nodes = unknown;
    sfx_add(f, "zeta", &s);
    f->req.policy = GP_NUMA_PREFERRED;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.site, 1);
    assert_int_equal(f->out.placement.locality, GP_LOCALITY_UNKNOWN);
    assert_string_equal(f->out.placement.reason,
                        "host zeta, node 0: GPU locality unknown, 8 of 8 pCPUs free, "
                        "64 GiB free");
    /* legacy accepts unknown locality too, required does not. */
    f->req.policy = GP_NUMA_LEGACY;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.site, 1);
    f->req.policy = GP_NUMA_REQUIRED;
    assert_int_equal(sfx_place(f), GP_ERR_NO_PLACEMENT);
    sfx_free(f);

    /* Two equal remote-only hosts: the smaller name, listed last. */
    f = sfx_new();
    add_full_gpu_node(f, "zeta", 1);
    add_full_gpu_node(f, "eta", 1);
    f->req.policy = GP_NUMA_PREFERRED;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.site, 1);
    assert_int_equal(f->out.placement.locality, GP_LOCALITY_REMOTE);
    assert_prefix(f->out.placement.reason, "host eta, node 1: ");
    sfx_free(f);
}

/* Should gp_place() refuse the best-fit candidate (here: a VM pinned to node
 * 0 with no node recorded, which the summary does not see), the next
 * candidate is used. */
static void test_refused_candidate_next_tried(void **state)
{
    sfx *f = sfx_new();
    static const int gpu_nodes[] = { 0, 1 };
    static const int pinned[] = { 0, 1, 2, 3 };
    synth_spec s;
    synth_spec_init(&s);
    s.n_nodes = 2;
    s.cores_per_node = 4;
    s.threads_per_core = 1;
    s.n_gpus = 2;
    s.gpu_nodes = gpu_nodes;
    sfx_add(f, "a", &s);
    f->sites[0].n_pool_gpus = 1;                /* 0000:01:00.0 on node 0 */
    sfx_existing(f, 0, "0000:02:00.0", -1, pinned, 4, 4, 1024, -1, true);
    sfx_add(f, "b", &s);
    f->sites[1].n_pool_gpus = 1;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 1, 0, "0000:01:00.0",
                 "host b, node 0: GPU local, 4 of 4 pCPUs free, 64 GiB free");
    sfx_free(f);
}

/* ---- cpupools, overcommit, per-site request parts ------------------------------ */

static void test_cpupool_restricts_room(void **state)
{
    sfx *f = sfx_new();
    static const int low[] = { 0, 1, 2, 3 };
    static const int high[] = { 4, 5, 6, 7 };
    static const int elsewhere[] = { 100 };
    sfx_add_simple(f, "a", 8, 64, 1);
    sfx_add_simple(f, "b", 6, 64, 1);

    /* No cpupool: a leaves 4, b leaves 2: b. */
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.site, 1);

    /* a's cpupool holds 4 of its pCPUs: a leaves 0. */
    f->sites[0].allowed_cpus = low;
    f->sites[0].n_allowed_cpus = 4;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 0, 0, "0000:01:00.0",
                 "host a, node 0: GPU local, 4 of 4 pCPUs free, 64 GiB free");
    assert_pcpus(&f->out.placement, low, 4);

    f->sites[0].allowed_cpus = high;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.site, 0);
    assert_pcpus(&f->out.placement, high, 4);

    /* 5 vCPUs do not fit a's cpupool. */
    f->req.vm_vcpus = 5;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 1, 0, "0000:01:00.0",
                 "host b, node 0: GPU local, 6 of 6 pCPUs free, 64 GiB free");

    /* A cpupool with no pCPU of the node: a is never chosen. */
    f->req.vm_vcpus = 4;
    f->sites[0].allowed_cpus = elsewhere;
    f->sites[0].n_allowed_cpus = 1;
    f->sites[1].excluded = "disabled";
    assert_int_equal(sfx_place(f), GP_ERR_NO_PLACEMENT);
    assert_string_equal(f->err.message,
                        "no host can take a VM of 4 vCPUs and 8192 MiB NUMA-local: host a: no "
                        "node has a free GPU of the pool with room for the VM; host b: "
                        "disabled");
    sfx_free(f);
}

static void test_overcommit(void **state)
{
    sfx *f = sfx_new();
    static const int all4[] = { 0, 1, 2, 3 };
    sfx_add_simple(f, "a", 4, 64, 1);
    f->req.vm_vcpus = 8;
    assert_int_equal(sfx_place(f), GP_ERR_NO_PLACEMENT);
    f->req.cpu_overcommit = 2.0;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 0, 0, "0000:01:00.0",
                 "host a, node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    assert_pcpus(&f->out.placement, all4, 4);
    sfx_free(f);

    /* floor(1.5 x 5) = 7 */
    f = sfx_new();
    sfx_add_simple(f, "a", 5, 64, 1);
    f->req.cpu_overcommit = 1.5;
    f->req.vm_vcpus = 7;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_string_equal(f->out.placement.reason,
                        "host a, node 0: GPU local, 7 of 7 pCPUs free, 64 GiB free");
    f->req.vm_vcpus = 8;
    assert_int_equal(sfx_place(f), GP_ERR_NO_PLACEMENT);
    sfx_free(f);
}

/* pool_gpus, existing, allowed_cpus and force_pci_id of req are ignored. */
static void test_request_site_parts_ignored(void **state)
{
    sfx *f = sfx_new();
    static const char *const other_pool[] = { "0000:07:00.0" };
    static const int cpu0[] = { 0 };
    gp_place_existing holds = { .pci_id = "0000:01:00.0", .node = 0, .vcpus = 8,
                                .memory_node = -1, .memory_in_free = true };
    sfx_add_simple(f, "a", 8, 64, 1);
    f->req.pool_gpus = other_pool;
    f->req.n_pool_gpus = 1;
    f->req.existing = &holds;
    f->req.n_existing = 1;
    f->req.allowed_cpus = cpu0;
    f->req.n_allowed_cpus = 1;
    f->req.force_pci_id = "0000:07:00.0";
    assert_int_equal(sfx_place(f), GP_OK);
    assert_local(f, 0, 0, "0000:01:00.0",
                 "host a, node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    assert_int_equal(f->out.placement.n_pcpus, 4);
    sfx_free(f);
}

/* ---- determinism, purity, output on error ---------------------------------------- */

static void build_mixed(sfx *f)
{
    static const int pinned[] = { 0, 1, 2 };
    synth_spec s;
    sfx_add_simple(f, "delta", 12, 64, 2);
    sfx_existing(f, 0, "0000:01:00.0", 0, pinned, 3, 3, 8192, 0, false);
    synth_spec_init(&s);
    s.n_nodes = 2;
    s.cores_per_node = 4;
    s.threads_per_core = 2;
    s.interleaved = true;
    s.n_gpus = 4;
    sfx_add(f, "bravo", &s);
    sfx_add_simple(f, "echo", 10, 32, 1);
}

static void test_deterministic_and_pure(void **state)
{
    sfx *f = sfx_new();
    gp_site_placement second;
    char *before[MAX_SITES], *after;
    gp_place_existing ex_copy[MAX_EX];
    build_mixed(f);
    memcpy(ex_copy, f->h[0].ex, sizeof(ex_copy));
    for (size_t i = 0; i < f->n; i++) {
        before[i] = gp_host_json_text(&f->h[i].host);
        assert_non_null(before[i]);
    }
    f->req.vm_vcpus = 6;
    assert_int_equal(sfx_place(f), GP_OK);
    gp_site_placement_init(&second);
    assert_int_equal(gp_place_sites(f->sites, f->n, &f->req, &second, &f->err), GP_OK);

    /* delta leaves 12 - 3 - 6 = 3, bravo 8 - 6 = 2 (both nodes), echo 4:
     * bravo node 0 (lowest node), its GPU 0000:01:00.0. */
    assert_int_equal(f->out.site, 1);
    assert_string_equal(f->out.placement.pci_id, "0000:01:00.0");
    assert_int_equal(f->out.placement.node, 0);
    assert_string_equal(f->out.placement.reason,
                        "host bravo, node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");

    assert_int_equal(second.site, f->out.site);
    assert_string_equal(second.placement.pci_id, f->out.placement.pci_id);
    assert_int_equal(second.placement.node, f->out.placement.node);
    assert_int_equal(second.placement.memory_node, f->out.placement.memory_node);
    assert_int_equal(second.placement.locality, f->out.placement.locality);
    assert_string_equal(second.placement.reason, f->out.placement.reason);
    assert_int_equal(second.placement.n_pcpus, 6);
    assert_int_equal(f->out.placement.n_pcpus, 6);
    assert_memory_equal(second.placement.pcpus, f->out.placement.pcpus, 6 * sizeof(int));
    gp_site_placement_dispose(&second);

    /* Inputs untouched. */
    for (size_t i = 0; i < f->n; i++) {
        after = gp_host_json_text(&f->h[i].host);
        assert_string_equal(after, before[i]);
        free(after);
        free(before[i]);
    }
    assert_memory_equal(ex_copy, f->h[0].ex, sizeof(ex_copy));
    assert_int_equal(f->sites[0].n_existing, 1);
    assert_string_equal(f->sites[0].name, "delta");
    sfx_free(f);
}

static void test_output_untouched_on_error(void **state)
{
    sfx *f = sfx_new();
    int *pcpus;
    char *reason;
    sfx_add_simple(f, "a", 8, 64, 1);

    f->req.vm_vcpus = 9;
    assert_int_equal(sfx_place(f), GP_ERR_NO_PLACEMENT);
    assert_out_init(&f->out);

    f->req.vm_vcpus = 3;
    assert_int_equal(sfx_place(f), GP_OK);
    pcpus = f->out.placement.pcpus;
    reason = f->out.placement.reason;

    /* NO_PLACEMENT, POOL_EMPTY, INVALID_ARGUMENT: the previous result stays. */
    for (int k = 0; k < 3; k++) {
        f->req.vm_vcpus = k == 0 ? 9 : k == 1 ? 3 : 0;
        f->sites[0].excluded = k == 1 ? "disabled" : NULL;
        assert_int_equal(sfx_place(f), k == 0 ? GP_ERR_NO_PLACEMENT
                                       : k == 1 ? GP_ERR_POOL_EMPTY
                                                : GP_ERR_INVALID_ARGUMENT);
        assert_int_equal(f->out.site, 0);
        assert_string_equal(f->out.placement.pci_id, "0000:01:00.0");
        assert_int_equal(f->out.placement.node, 0);
        assert_int_equal(f->out.placement.locality, GP_LOCALITY_LOCAL);
        assert_ptr_equal(f->out.placement.pcpus, pcpus);
        assert_int_equal(f->out.placement.n_pcpus, 3);
        assert_int_equal(pcpus[0], 0);
        assert_int_equal(pcpus[2], 2);
        assert_ptr_equal(f->out.placement.reason, reason);
        assert_string_equal(reason,
                            "host a, node 0: GPU local, 8 of 8 pCPUs free, 64 GiB free");
    }
    sfx_free(f);
}

static void test_invalid_arguments(void **state)
{
    sfx *f = sfx_new();
    sfx_add_simple(f, "a", 8, 64, 1);
    struct {
        int vcpus;
        uint64_t mib;
        bool null_sites, null_req, null_out;
        size_t n;
    } cases[] = {
        { 0, 8192, false, false, false, 1 },
        { -3, 8192, false, false, false, 1 },
        { 4, 0, false, false, false, 1 },
        { 4, 8192, true, false, false, 1 },
        { 4, 8192, true, false, false, 0 },
        { 4, 8192, false, true, false, 1 },
        { 4, 8192, false, false, true, 1 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f->req.vm_vcpus = cases[i].vcpus;
        f->req.vm_memory_mib = cases[i].mib;
        int rc = gp_place_sites(cases[i].null_sites ? NULL : f->sites, cases[i].n,
                                cases[i].null_req ? NULL : &f->req,
                                cases[i].null_out ? NULL : &f->out, &f->err);
        if (rc != GP_ERR_INVALID_ARGUMENT)
            fail_msg("case %zu: rc %d", i, rc);
        assert_int_equal(f->err.code, GP_ERR_INVALID_ARGUMENT);
        assert_string_equal(f->err.message,
                            "placement across hosts needs sites, a VM size, an overcommit above 0 and an output");
        assert_out_init(&f->out);
    }
    /* A NULL err is accepted. */
    f->req.vm_vcpus = 0;
    f->req.vm_memory_mib = 8192;
    assert_int_equal(gp_place_sites(f->sites, 1, &f->req, &f->out, NULL),
                     GP_ERR_INVALID_ARGUMENT);
    f->req.vm_vcpus = 4;
    assert_int_equal(gp_place_sites(f->sites, 1, &f->req, &f->out, NULL), GP_OK);
    assert_int_equal(f->out.site, 0);
    sfx_free(f);
}

/* ---- host model JSON ------------------------------------------------------------- */

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

/* A 4-node, 2-socket, SMT, interleaved host with 3 GPUs (nodes 0, 2 and
 * unknown), every GPU fact set on the first two, uneven memory, cpupools. */
static void build_rich_host(gp_host *h)
{
    static const int gpu_nodes[] = { 0, 2, -1 };
    synth_spec s;
    synth_spec_init(&s);
    s.n_nodes = 4;
    s.nodes_per_socket = 2;
    s.cores_per_node = 3;
    s.threads_per_core = 2;
    s.interleaved = true;
    s.n_gpus = 3;
    s.gpu_nodes = gpu_nodes;
    s.mem_bytes_per_node = 48 * GIB;
    assert_int_equal(synth_host_build(&s, h), 0);
    h->passthrough = GP_YES;
    h->nodes[1].mem_free_bytes = 20 * GIB + 12345;
    h->nodes[3].mem_total_bytes = 0;
    h->nodes[3].mem_free_bytes = 0;
    h->nodes[2].distances[3] = 12;

    gp_gpu *g = &h->gpus[0];
    g->vendor_name = xstrdup("NVIDIA Corporation");
    g->device_name = xstrdup("GA100 [A100 PCIe 80GB]");
    g->subsys_vendor_id = 0x10de;
    g->subsys_device_id = 0x1533;
    g->subsys_name = xstrdup("A100 80GB");
    g->prog_if = 0x01;
    g->revision = 0xa1;
    g->iommu_group = 12;
    g->n_iommu_group_members = 2;
    g->iommu_group_members = calloc(2, sizeof(char *));
    assert_non_null(g->iommu_group_members);
    g->iommu_group_members[0] = xstrdup("0000:00:01.0");
    g->iommu_group_members[1] = xstrdup("0000:01:00.1");
    g->n_companions = 1;
    g->companions = calloc(1, sizeof(gp_companion));
    assert_non_null(g->companions);
    snprintf(g->companions[0].pci_id, GP_PCI_ID_LEN, "0000:01:00.1");
    g->companions[0].class_code = 0x0403;
    g->companions[0].vendor_id = 0x10de;
    g->companions[0].device_id = 0x1aef;
    g->companions[0].driver = xstrdup("snd_hda_intel");
    g->driver = xstrdup("pciback");
    g->boot_vga = GP_NO;
    g->link_cap = (gp_pcie_link){ 16.0, 16 };
    g->link_sta = (gp_pcie_link){ 2.5, 8 };
    g->link_downgraded = GP_YES;
    g->flr = GP_YES;
    g->reset_method = xstrdup("flr bus");
    g->sriov_totalvfs = 0;
    g->max_bar_bytes = 128 * GIB;

    g = &h->gpus[1];
    g->vendor_id = 0x1002;
    g->device_id = 0x740f;
    g->class_code = 0x0380;
    g->boot_vga = GP_YES;
    g->link_cap = (gp_pcie_link){ 32.0, 16 };
    g->link_sta = (gp_pcie_link){ 32.0, 16 };
    g->link_downgraded = GP_NO;
    g->flr = GP_NO;
    g->sriov_totalvfs = 8;
    free(g->source);
    g->source = xstrdup("sysfs");

    h->n_cpupools = 2;
    h->cpupools = calloc(2, sizeof(gp_cpupool));
    assert_non_null(h->cpupools);
    h->cpupools[0].id = 0;
    h->cpupools[0].name = xstrdup("Pool-0");
    h->cpupools[0].n_cpus = h->n_cpus - 2;
    h->cpupools[0].cpus = malloc(h->cpupools[0].n_cpus * sizeof(int));
    assert_non_null(h->cpupools[0].cpus);
    for (size_t i = 0; i < h->cpupools[0].n_cpus; i++)
        h->cpupools[0].cpus[i] = (int)i + 2;
    h->cpupools[1].id = 3;
    h->cpupools[1].name = xstrdup("gpu-pool");
    h->cpupools[1].n_cpus = 2;
    h->cpupools[1].cpus = malloc(2 * sizeof(int));
    assert_non_null(h->cpupools[1].cpus);
    h->cpupools[1].cpus[0] = 0;
    h->cpupools[1].cpus[1] = 1;
    free(h->topology_source);
    h->topology_source = xstrdup("hwloc:/tmp/t.xml");
}

static void assert_str_or_null(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_link_equal(const gp_pcie_link *a, const gp_pcie_link *b)
{
    assert_true(a->speed_gts == b->speed_gts);
    assert_int_equal(a->width, b->width);
}

static void assert_hosts_equal(const gp_host *a, const gp_host *b)
{
    assert_str_or_null(a->topology_source, b->topology_source);
    assert_str_or_null(a->pci_source, b->pci_source);
    assert_int_equal(a->passthrough, b->passthrough);

    assert_int_equal(a->n_nodes, b->n_nodes);
    for (size_t i = 0; i < a->n_nodes; i++) {
        const gp_numa_node *x = &a->nodes[i], *y = &b->nodes[i];
        assert_int_equal(x->id, y->id);
        assert_int_equal(x->socket, y->socket);
        assert_int_equal(x->mem_total_bytes, y->mem_total_bytes);
        assert_int_equal(x->mem_free_bytes, y->mem_free_bytes);
        assert_int_equal(x->n_cpus, y->n_cpus);
        assert_memory_equal(x->cpus, y->cpus, x->n_cpus * sizeof(int));
        if (!x->distances || !y->distances)
            assert_ptr_equal(x->distances, y->distances);
        else
            assert_memory_equal(x->distances, y->distances, a->n_nodes * sizeof(int));
    }

    assert_int_equal(a->n_cpus, b->n_cpus);
    for (size_t i = 0; i < a->n_cpus; i++) {
        assert_int_equal(a->cpus[i].id, b->cpus[i].id);
        assert_int_equal(a->cpus[i].core, b->cpus[i].core);
        assert_int_equal(a->cpus[i].socket, b->cpus[i].socket);
        assert_int_equal(a->cpus[i].node, b->cpus[i].node);
    }

    assert_int_equal(a->n_gpus, b->n_gpus);
    for (size_t i = 0; i < a->n_gpus; i++) {
        const gp_gpu *x = &a->gpus[i], *y = &b->gpus[i];
        assert_string_equal(x->pci_id, y->pci_id);
        assert_int_equal(x->addr.domain, y->addr.domain);
        assert_int_equal(x->addr.bus, y->addr.bus);
        assert_int_equal(x->addr.dev, y->addr.dev);
        assert_int_equal(x->addr.func, y->addr.func);
        assert_int_equal(x->vendor_id, y->vendor_id);
        assert_int_equal(x->device_id, y->device_id);
        assert_int_equal(x->subsys_vendor_id, y->subsys_vendor_id);
        assert_int_equal(x->subsys_device_id, y->subsys_device_id);
        assert_str_or_null(x->vendor_name, y->vendor_name);
        assert_str_or_null(x->device_name, y->device_name);
        assert_str_or_null(x->subsys_name, y->subsys_name);
        assert_int_equal(x->class_code, y->class_code);
        assert_int_equal(x->prog_if, y->prog_if);
        assert_int_equal(x->revision, y->revision);
        assert_int_equal(x->numa_node, y->numa_node);
        assert_int_equal(x->iommu_group, y->iommu_group);
        assert_int_equal(x->n_iommu_group_members, y->n_iommu_group_members);
        for (size_t k = 0; k < x->n_iommu_group_members; k++)
            assert_string_equal(x->iommu_group_members[k], y->iommu_group_members[k]);
        assert_int_equal(x->n_companions, y->n_companions);
        for (size_t k = 0; k < x->n_companions; k++) {
            assert_string_equal(x->companions[k].pci_id, y->companions[k].pci_id);
            assert_int_equal(x->companions[k].class_code, y->companions[k].class_code);
            assert_int_equal(x->companions[k].vendor_id, y->companions[k].vendor_id);
            assert_int_equal(x->companions[k].device_id, y->companions[k].device_id);
            assert_str_or_null(x->companions[k].driver, y->companions[k].driver);
        }
        assert_str_or_null(x->driver, y->driver);
        assert_int_equal(x->boot_vga, y->boot_vga);
        assert_link_equal(&x->link_cap, &y->link_cap);
        assert_link_equal(&x->link_sta, &y->link_sta);
        assert_int_equal(x->link_downgraded, y->link_downgraded);
        assert_int_equal(x->flr, y->flr);
        assert_str_or_null(x->reset_method, y->reset_method);
        assert_int_equal(x->sriov_totalvfs, y->sriov_totalvfs);
        assert_int_equal(x->max_bar_bytes, y->max_bar_bytes);
        assert_str_or_null(x->source, y->source);
    }

    assert_int_equal(a->n_cpupools, b->n_cpupools);
    for (size_t i = 0; i < a->n_cpupools; i++) {
        assert_int_equal(a->cpupools[i].id, b->cpupools[i].id);
        assert_str_or_null(a->cpupools[i].name, b->cpupools[i].name);
        assert_int_equal(a->cpupools[i].n_cpus, b->cpupools[i].n_cpus);
        assert_memory_equal(a->cpupools[i].cpus, b->cpupools[i].cpus,
                            a->cpupools[i].n_cpus * sizeof(int));
    }
}

static void assert_host_empty(const gp_host *h)
{
    assert_null(h->nodes);
    assert_int_equal(h->n_nodes, 0);
    assert_null(h->cpus);
    assert_int_equal(h->n_cpus, 0);
    assert_null(h->gpus);
    assert_int_equal(h->n_gpus, 0);
    assert_null(h->functions);
    assert_int_equal(h->n_functions, 0);
    assert_null(h->cpupools);
    assert_int_equal(h->n_cpupools, 0);
    assert_null(h->topology_source);
    assert_null(h->pci_source);
    assert_int_equal(h->passthrough, GP_UNKNOWN);
}

static void test_host_json_roundtrip(void **state)
{
    gp_host h, back;
    char *text, *again;
    build_rich_host(&h);
    text = gp_host_json_text(&h);
    assert_non_null(text);
    assert_prefix(text, "{\"v\":1,");

    gp_host_init(&back);
    assert_int_equal(gp_host_from_json_text(text, &back), 0);
    assert_hosts_equal(&h, &back);

    /* Spot checks against the literal values, not only against h. */
    assert_int_equal(back.n_nodes, 4);
    assert_int_equal(back.nodes[1].mem_free_bytes, 20 * GIB + 12345);
    assert_int_equal(back.nodes[1].socket, 0);
    assert_int_equal(back.nodes[2].socket, 1);
    assert_int_equal(back.nodes[3].mem_total_bytes, 0);
    assert_int_equal(back.nodes[2].distances[3], 12);
    assert_int_equal(back.nodes[0].distances[2], 21);
    /* interleaved: node 1 = ids 1, 5, 9, 13, 17, 21 */
    static const int node1[] = { 1, 5, 9, 13, 17, 21 };
    assert_int_equal(back.nodes[1].n_cpus, 6);
    assert_memory_equal(back.nodes[1].cpus, node1, sizeof(node1));
    assert_int_equal(back.n_cpus, 24);
    assert_int_equal(back.cpus[13].node, 1);
    assert_int_equal(back.cpus[13].core, 1 * 3 + 0);   /* 13 = thread 1, core 0, node 1 */
    assert_int_equal(back.cpus[13].socket, 0);
    assert_int_equal(back.passthrough, GP_YES);
    assert_string_equal(back.topology_source, "hwloc:/tmp/t.xml");
    assert_string_equal(back.pci_source, "synthetic");
    assert_int_equal(back.n_gpus, 3);
    assert_string_equal(back.gpus[0].pci_id, "0000:01:00.0");
    assert_int_equal(back.gpus[0].numa_node, 0);
    assert_int_equal(back.gpus[1].numa_node, 2);
    assert_int_equal(back.gpus[2].numa_node, -1);
    assert_int_equal(back.gpus[2].addr.bus, 3);
    assert_int_equal(back.gpus[0].subsys_device_id, 0x1533);
    assert_int_equal(back.gpus[0].revision, 0xa1);
    assert_int_equal(back.gpus[0].iommu_group, 12);
    assert_string_equal(back.gpus[0].iommu_group_members[1], "0000:01:00.1");
    assert_string_equal(back.gpus[0].companions[0].driver, "snd_hda_intel");
    assert_int_equal(back.gpus[0].companions[0].device_id, 0x1aef);
    assert_true(back.gpus[0].link_sta.speed_gts == 2.5);
    assert_int_equal(back.gpus[0].link_sta.width, 8);
    assert_int_equal(back.gpus[0].link_downgraded, GP_YES);
    assert_int_equal(back.gpus[0].flr, GP_YES);
    assert_int_equal(back.gpus[0].sriov_totalvfs, 0);
    assert_int_equal(back.gpus[0].max_bar_bytes, 128 * GIB);
    assert_int_equal(back.gpus[1].vendor_id, 0x1002);
    assert_int_equal(back.gpus[1].boot_vga, GP_YES);
    assert_int_equal(back.gpus[1].flr, GP_NO);
    assert_int_equal(back.gpus[1].sriov_totalvfs, 8);
    assert_string_equal(back.gpus[1].source, "sysfs");
    assert_int_equal(back.gpus[2].sriov_totalvfs, -1);
    assert_int_equal(back.gpus[2].iommu_group, -1);
    assert_int_equal(back.gpus[2].link_downgraded, GP_UNKNOWN);
    assert_null(back.gpus[2].driver);
    assert_int_equal(back.n_cpupools, 2);
    assert_string_equal(back.cpupools[1].name, "gpu-pool");
    assert_int_equal(back.cpupools[1].id, 3);
    assert_int_equal(back.cpupools[0].n_cpus, 22);
    assert_int_equal(back.cpupools[0].cpus[21], 23);
    /* PCI functions other than GPUs are not published. */
    assert_null(back.functions);

    /* Stable: the parsed host gives the same text. */
    again = gp_host_json_text(&back);
    assert_non_null(again);
    assert_string_equal(again, text);
    free(again);
    free(text);
    gp_host_dispose(&back);
    gp_host_dispose(&h);
}

/* Distances unknown, passthrough false, no GPU, no cpupool, default sources. */
static void test_host_json_roundtrip_sparse(void **state)
{
    synth_spec s;
    gp_host h, back;
    char *text;
    synth_spec_init(&s);
    s.n_nodes = 3;
    s.no_distances = true;
    s.n_gpus = 0;
    assert_int_equal(synth_host_build(&s, &h), 0);
    h.passthrough = GP_NO;
    free(h.pci_source);
    h.pci_source = NULL;
    text = gp_host_json_text(&h);
    assert_non_null(text);
    assert_contains(text, "\"distances\":null");
    assert_contains(text, "\"passthrough\":false");
    assert_contains(text, "\"gpus\":[]");
    gp_host_init(&back);
    assert_int_equal(gp_host_from_json_text(text, &back), 0);
    assert_hosts_equal(&h, &back);
    assert_int_equal(back.n_nodes, 3);
    for (size_t i = 0; i < 3; i++)
        assert_null(back.nodes[i].distances);
    assert_int_equal(back.passthrough, GP_NO);
    assert_null(back.pci_source);
    assert_int_equal(back.n_gpus, 0);
    assert_int_equal(back.n_cpupools, 0);
    free(text);
    gp_host_dispose(&back);
    synth_host_free(&h);

    /* The minimal text. */
    gp_host_init(&back);
    assert_int_equal(gp_host_from_json_text("{\"v\":1,\"nodes\":[],\"cpus\":[],\"gpus\":[],"
                                            "\"cpupools\":[]}", &back), 0);
    assert_host_empty(&back);
    gp_host_dispose(&back);
}

/* Replace the first occurrence of from in text by to; caller frees. */
static char *replace(const char *text, const char *from, const char *to)
{
    const char *p = strstr(text, from);
    char *r;
    if (!p)
        fail_msg("\"%s\" not in the text", from);
    r = malloc(strlen(text) - strlen(from) + strlen(to) + 1);
    assert_non_null(r);
    memcpy(r, text, (size_t)(p - text));
    strcpy(r + (p - text), to);
    strcat(r, p + strlen(from));
    return r;
}

static void test_host_json_refused(void **state)
{
    gp_host h, back;
    char *text;
    build_rich_host(&h);
    text = gp_host_json_text(&h);
    assert_non_null(text);

    /* Mutations of a real text: another version, wrong shapes late in the
     * text (nodes and pCPUs already read, then dropped). */
    static const char *const edits[][2] = {
        { "\"v\":1", "\"v\":2" },
        { "\"v\":1", "\"v\":0" },
        { "\"v\":1", "\"v\":\"1\"" },
        { "\"v\":1,", "" },
        { "\"nodes\":[", "\"nodes\":{},\"n\":[" },
        { "\"cpus\":[[0,", "\"cpus\":[[\"0\"," },
        { "\"cpus\":[[0,0,0,0]", "\"cpus\":[[0,0,0]" },
        { "\"distances\":[10,11,21,21]", "\"distances\":[10,11,21]" },
        { "\"cpus\":[0,4,8", "\"cpus\":[0,4.5,8" },
        { "{\"id\":0,\"socket\":0,", "{\"socket\":0," },
        { "\"pci_id\":\"0000:03:00.0\"", "\"pci_id\":\"0000:zz:00.0\"" },
        { "\"pci_id\":\"0000:03:00.0\"", "\"pci_id\":\"\"" },
        { "\"numa_node\":2", "\"numa_node\":\"2\"" },
        { "\"vendor_id\":\"1002\"", "\"vendor_id\":\"10002\"" },
        { "\"iommu_group_members\":[\"0000:00:01.0\"", "\"iommu_group_members\":[1" },
        { "\"boot_vga\":true", "\"boot_vga\":1" },
        { "{\"id\":3,\"name\":\"gpu-pool\"", "{\"name\":\"gpu-pool\"" },
        { "\"cpus\":[0,1]}", "\"cpus\":[0,\"1\"]}" },
        { "\"cpupools\":[", "\"cpupools\":3,\"x\":[" },
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        char *bad = replace(text, edits[i][0], edits[i][1]);
        gp_host_init(&back);
        if (gp_host_from_json_text(bad, &back) != -1)
            fail_msg("edit %zu (%s -> %s) accepted", i, edits[i][0], edits[i][1]);
        assert_host_empty(&back);
        gp_host_dispose(&back);
        free(bad);
    }

    /* Not the shape at all. */
    char *half = xstrdup(text);
    half[strlen(half) / 2] = '\0';
    const char *const texts[] = {
        "", "not json", "[1,2]", "1", "null", "{}", "{\"v\":1}",
        "{\"v\":1,\"nodes\":[],\"cpus\":[],\"gpus\":[]}",
        "{\"v\":1,\"nodes\":[],\"cpus\":[],\"gpus\":{},\"cpupools\":[]}",
        "{\"v\":1,\"nodes\":[],\"cpus\":[],\"gpus\":[{}],\"cpupools\":[]}",
        "{\"v\":1,\"nodes\":[1],\"cpus\":[],\"gpus\":[],\"cpupools\":[]}",
        "{\"v\":1,\"nodes\":[{\"id\":0}],\"cpus\":[],\"gpus\":[],\"cpupools\":[]}",
        "{\"v\":1,\"nodes\":[],\"cpus\":[5],\"gpus\":[],\"cpupools\":[]}",
        half,
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        gp_host_init(&back);
        if (gp_host_from_json_text(texts[i], &back) != -1)
            fail_msg("text %zu accepted: %s", i, i + 1 == sizeof(texts) / sizeof(texts[0])
                                                     ? "(first half)" : texts[i]);
        assert_host_empty(&back);
        gp_host_dispose(&back);
    }
    gp_host_init(&back);
    assert_int_equal(gp_host_from_json_text(NULL, &back), -1);
    assert_host_empty(&back);

    /* The unedited text is accepted (so the refusals above are the edits). */
    assert_int_equal(gp_host_from_json_text(text, &back), 0);
    assert_hosts_equal(&h, &back);
    gp_host_dispose(&back);
    free(half);
    free(text);
    gp_host_dispose(&h);
}

/* ---- an assignment as JSON ------------------------------------------------------ */

static void build_assignment(gp_assignment *a)
{
    static const int pcpus[] = { 9, 11, 13, 15 };
    gp_assignment_init(a);
    snprintf(a->vm_uuid, sizeof(a->vm_uuid), "0b6a1a8e-3f3c-4f0e-9a55-1d2c3b4a5f60");
    a->vm_name_label = xstrdup("train-01");
    snprintf(a->pci_id, sizeof(a->pci_id), "0000:41:00.0");
    a->n_companions = 2;
    a->companions = calloc(2, sizeof(char *));
    assert_non_null(a->companions);
    a->companions[0] = xstrdup("0000:41:00.1");
    a->companions[1] = xstrdup("0000:41:00.2");
    snprintf(a->pool_uuid, sizeof(a->pool_uuid), "7d1f0c2e-8a4b-4c6d-b1e2-f3a4b5c6d7e8");
    a->pool_name_label = xstrdup("a100s");
    a->numa_node = 1;
    a->n_pcpus = 4;
    a->pcpus = malloc(sizeof(pcpus));
    assert_non_null(a->pcpus);
    memcpy(a->pcpus, pcpus, sizeof(pcpus));
    a->memory_node = 1;
    a->pin_mode = GP_PIN_SOFT;
    a->vcpus = 4;
    a->memory_mib = 65536;
    a->reason = xstrdup("host xcp-b, node 1: GPU local, 12 of 16 pCPUs free, 120 GiB free");
    a->created = xstrdup("2024-05-01T12:34:56.789Z");
    a->memory_node_certainty = GP_MEMNODE_VERIFIED;
    a->memory_node_basis = "per-node page counts";
}

static void test_placement_json_roundtrip(void **state)
{
    gp_assignment a, b;
    char *text, *again;
    build_assignment(&a);
    text = gp_placement_json_text(&a);
    assert_non_null(text);

    /* The display-time fields are not published; the own facts are. */
    assert_null(strstr(text, "vm_name_label"));
    assert_null(strstr(text, "pool_name_label"));
    assert_null(strstr(text, "memory_node_certainty"));
    assert_null(strstr(text, "memory_node_basis"));
    assert_null(strstr(text, "train-01"));
    assert_null(strstr(text, "a100s"));
    assert_contains(text, "\"vm_uuid\":\"0b6a1a8e-3f3c-4f0e-9a55-1d2c3b4a5f60\"");
    assert_contains(text, "\"pcpus\":[9,11,13,15]");
    assert_contains(text, "\"companions\":[\"0000:41:00.1\",\"0000:41:00.2\"]");
    assert_contains(text, "\"pin_mode\":\"soft\"");
    assert_contains(text, "\"memory_mib\":65536");

    gp_assignment_init(&b);
    assert_int_equal(gp_placement_from_json_text(text, &b), 0);
    assert_string_equal(b.vm_uuid, a.vm_uuid);
    assert_string_equal(b.pci_id, "0000:41:00.0");
    assert_int_equal(b.n_companions, 2);
    assert_string_equal(b.companions[0], "0000:41:00.1");
    assert_string_equal(b.companions[1], "0000:41:00.2");
    assert_string_equal(b.pool_uuid, "7d1f0c2e-8a4b-4c6d-b1e2-f3a4b5c6d7e8");
    assert_int_equal(b.numa_node, 1);
    assert_int_equal(b.n_pcpus, 4);
    assert_memory_equal(b.pcpus, a.pcpus, 4 * sizeof(int));
    assert_int_equal(b.memory_node, 1);
    assert_int_equal(b.pin_mode, GP_PIN_SOFT);
    assert_int_equal(b.vcpus, 4);
    assert_int_equal(b.memory_mib, 65536);
    assert_string_equal(b.reason, a.reason);
    assert_string_equal(b.created, "2024-05-01T12:34:56.789Z");
    /* Not carried: as _init left them. */
    assert_null(b.vm_name_label);
    assert_null(b.pool_name_label);
    assert_int_equal(b.memory_node_certainty, GP_MEMNODE_UNKNOWN);
    assert_null(b.memory_node_basis);

    again = gp_placement_json_text(&b);
    assert_non_null(again);
    assert_string_equal(again, text);
    free(again);
    free(text);
    gp_assignment_dispose(&b);
    gp_assignment_dispose(&a);

    /* No pCPUs, companions or reason; no node. */
    gp_assignment_init(&a);
    snprintf(a.vm_uuid, sizeof(a.vm_uuid), "0b6a1a8e-3f3c-4f0e-9a55-1d2c3b4a5f60");
    snprintf(a.pci_id, sizeof(a.pci_id), "0000:41:00.0");
    snprintf(a.pool_uuid, sizeof(a.pool_uuid), "7d1f0c2e-8a4b-4c6d-b1e2-f3a4b5c6d7e8");
    a.pin_mode = GP_PIN_NONE;
    a.vcpus = 2;
    a.memory_mib = 1024;
    text = gp_placement_json_text(&a);
    assert_non_null(text);
    assert_contains(text, "\"reason\":null");
    assert_contains(text, "\"pcpus\":[]");
    gp_assignment_init(&b);
    assert_int_equal(gp_placement_from_json_text(text, &b), 0);
    assert_null(b.reason);
    assert_null(b.pcpus);
    assert_int_equal(b.n_pcpus, 0);
    assert_int_equal(b.n_companions, 0);
    assert_int_equal(b.numa_node, -1);
    assert_int_equal(b.memory_node, -1);
    assert_int_equal(b.pin_mode, GP_PIN_NONE);
    assert_int_equal(b.vcpus, 2);
    assert_null(b.created);
    free(text);
    gp_assignment_dispose(&b);
    gp_assignment_dispose(&a);
}

static void test_placement_json_refused(void **state)
{
    gp_assignment a, b;
    char *text;
    build_assignment(&a);
    text = gp_placement_json_text(&a);
    assert_non_null(text);
    static const char *const edits[][2] = {
        { "\"vm_uuid\":\"0b6a1a8e-3f3c-4f0e-9a55-1d2c3b4a5f60\",", "" },
        { "\"pci_id\":\"0000:41:00.0\",", "" },
        { "\"pool_uuid\":\"7d1f0c2e-8a4b-4c6d-b1e2-f3a4b5c6d7e8\",", "" },
        { "\"vm_uuid\":\"0b6a1a8e-3f3c-4f0e-9a55-1d2c3b4a5f60\"",
          "\"vm_uuid\":\"0b6a1a8e-3f3c-4f0e-9a55-1d2c3b4a5f60-too-long\"" },
        { "\"pcpus\":[9,", "\"pcpus\":[\"9\"," },
        { "\"pcpus\":[9,11,13,15]", "\"pcpus\":{}" },
        { "\"companions\":[\"0000:41:00.1\"", "\"companions\":[7" },
        { "\"pin_mode\":\"soft\"", "\"pin_mode\":\"sticky\"" },
        { "\"vcpus\":4", "\"vcpus\":\"4\"" },
        { "\"memory_mib\":65536", "\"memory_mib\":-1" },
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        char *bad = replace(text, edits[i][0], edits[i][1]);
        gp_assignment_init(&b);
        if (gp_placement_from_json_text(bad, &b) != -1)
            fail_msg("edit %zu (%s -> %s) accepted", i, edits[i][0], edits[i][1]);
        gp_assignment_dispose(&b);
        free(bad);
    }
    const char *const texts[] = { "", "not json", "[]", "{}", "null" };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        gp_assignment_init(&b);
        if (gp_placement_from_json_text(texts[i], &b) != -1)
            fail_msg("text \"%s\" accepted", texts[i]);
        gp_assignment_dispose(&b);
    }
    gp_assignment_init(&b);
    assert_int_equal(gp_placement_from_json_text(NULL, &b), -1);
    assert_int_equal(gp_placement_from_json_text(text, &b), 0);
    gp_assignment_dispose(&b);
    free(text);
    gp_assignment_dispose(&a);
}


/* Regressions found by these tests.  A VM pinned without a recorded node
 * fills the node its pins touch (as gp_place() counts it): under
 * preferred, the host that fits NUMA-locally wins over a remote fit on the
 * host whose room was only apparent. */
static void test_unrecorded_node_pins_count(void **state)
{
    static const int pins[] = { 0, 1, 2, 3 };
    sfx *f = sfx_new();
    synth_spec s;
    (void)state;
    synth_spec_init(&s);
    s.n_nodes = 2;
    s.cores_per_node = 4;
    s.threads_per_core = 1;
    s.n_gpus = 2;
    s.mem_bytes_per_node = 64 * GIB;
    sfx_add(f, "a", &s);
    sfx_add(f, "b", &s);
    f->sites[0].n_pool_gpus = 1;          /* a: only its node-0 GPU in the pool */
    f->sites[1].n_pool_gpus = 1;
    sfx_existing(f, 0, "0000:02:00.0", -1, pins, 4, 4, 1024, -1, false);
    f->req.policy = GP_NUMA_PREFERRED;
    assert_int_equal(sfx_place(f), GP_OK);
    assert_int_equal(f->out.site, 1);
    assert_int_equal(f->out.placement.node, 0);
    assert_int_equal(f->out.placement.locality, GP_LOCALITY_LOCAL);
    sfx_free(f);
}

/* A count without its array, and a bad request value, are refused as
 * such (not taken for a full pool). */
static void test_bad_sites_and_requests_refused(void **state)
{
    sfx *f = sfx_new();
    (void)state;
    sfx_add_simple(f, "a", 8, 64, 1);
    f->sites[0].pool_gpus = NULL;
    assert_int_equal(sfx_place(f), GP_ERR_INVALID_ARGUMENT);
    assert_contains(f->err.message, "site 0 (a) has a count without its array");
    assert_out_init(&f->out);
    f->sites[0].pool_gpus = f->h[0].pool;
    f->req.cpu_overcommit = 0;
    assert_int_equal(sfx_place(f), GP_ERR_INVALID_ARGUMENT);
    f->req.cpu_overcommit = 1.0;
    f->req.policy = (gp_numa_policy)99;
    assert_int_equal(sfx_place(f), GP_ERR_INVALID_ARGUMENT);
    assert_out_init(&f->out);
    sfx_free(f);
}

/* A placement text carrying memory_node_basis (anyone may edit a VM's
 * other_config) is read without taking it: nothing to leak or free. */
static void test_placement_json_ignores_basis(void **state)
{
    gp_assignment a;
    (void)state;
    gp_assignment_init(&a);
    assert_int_equal(gp_placement_from_json_text(
                         "{\"vm_uuid\":\"11111111-1111-4111-8111-111111111111\","
                         "\"pci_id\":\"0000:01:00.0\",\"pool_uuid\":"
                         "\"22222222-2222-4222-8222-222222222222\",\"memory_node_basis\":\"x\","
                         "\"vm_name_label\":\"n\"}", &a), 0);
    assert_null(a.memory_node_basis);
    assert_null(a.vm_name_label);
    gp_assignment_dispose(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_best_fit_vcpus),
        cmocka_unit_test(test_best_fit_node_of_host),
        cmocka_unit_test(test_best_fit_memory_then_gpus),
        cmocka_unit_test(test_ties_host_name),
        cmocka_unit_test(test_ties_node_and_pci),
        cmocka_unit_test(test_held_is_per_site),
        cmocka_unit_test(test_excluded_and_null_host_skipped),
        cmocka_unit_test(test_pool_empty),
        cmocka_unit_test(test_no_placement),
        cmocka_unit_test(test_memory_of_halted_vms),
        cmocka_unit_test(test_policy_fallback),
        cmocka_unit_test(test_local_first_then_tier_then_name),
        cmocka_unit_test(test_refused_candidate_next_tried),
        cmocka_unit_test(test_cpupool_restricts_room),
        cmocka_unit_test(test_overcommit),
        cmocka_unit_test(test_request_site_parts_ignored),
        cmocka_unit_test(test_deterministic_and_pure),
        cmocka_unit_test(test_output_untouched_on_error),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_unrecorded_node_pins_count),
        cmocka_unit_test(test_bad_sites_and_requests_refused),
        cmocka_unit_test(test_placement_json_ignores_basis),
        cmocka_unit_test(test_host_json_roundtrip),
        cmocka_unit_test(test_host_json_roundtrip_sparse),
        cmocka_unit_test(test_host_json_refused),
        cmocka_unit_test(test_placement_json_roundtrip),
        cmocka_unit_test(test_placement_json_refused),
    };
    return cmocka_run_group_tests_name("sites", tests, NULL, NULL);
}
