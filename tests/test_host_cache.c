/*
 * test_host_cache.c - the host model cache (host_cache.c): a cached model
 * equals a fresh discovery, a changed source is parsed again, a broken or
 * unwritable cache never breaks discovery, live/captured sysfs is never
 * cached, and the cache never touches the state database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gpupool.h"
#include "synthhost.h"
#include "gptest.h"

typedef struct {
    char *dir;
    char db[512];
    char cache[600];
    char xml[512];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->dir = tu_scratch_dir("host_cache");
    assert_non_null(f->dir);
    snprintf(f->db, sizeof(f->db), "%s/state.db", f->dir);
    snprintf(f->cache, sizeof(f->cache), "%s.hostcache", f->db);
    snprintf(f->xml, sizeof(f->xml), "%s/host.xml", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    free(f->dir);
    free(f);
    return 0;
}

static gp_ctx *ctx_for(const char *db, const char *topology, const char *sysfs_root)
{
    return gt_ctx_new(&(gt_ctx_spec){ .db = db, .driver = "sim", .topology = topology,
                                      .sysfs_root = sysfs_root });
}

/* Every field the model carries, as text, to compare two discoveries. */
static char *host_text(const gp_host *h)
{
    char *s = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&s, &len);
    fprintf(m, "%s|%s|%d\n", h->topology_source, h->pci_source, h->passthrough);
    for (size_t i = 0; i < h->n_nodes; i++) {
        const gp_numa_node *n = &h->nodes[i];
        fprintf(m, "node %d s%d %llu %llu cpus", n->id, n->socket,
                (unsigned long long)n->mem_total_bytes, (unsigned long long)n->mem_free_bytes);
        for (size_t c = 0; c < n->n_cpus; c++)
            fprintf(m, " %d", n->cpus[c]);
        fprintf(m, " dist");
        for (size_t d = 0; n->distances && d < h->n_nodes; d++)
            fprintf(m, " %d", n->distances[d]);
        fprintf(m, "\n");
    }
    for (size_t i = 0; i < h->n_cpus; i++)
        fprintf(m, "cpu %d %d %d %d\n", h->cpus[i].id, h->cpus[i].core, h->cpus[i].socket,
                h->cpus[i].node);
    for (size_t i = 0; i < h->n_gpus; i++) {
        const gp_gpu *g = &h->gpus[i];
        fprintf(m, "gpu %s %04x:%04x %04x:%04x %04x %s|%s|%s node %d grp %d vga %d "
                   "cap %.1f x%d sta %.1f x%d dg %d flr %d vfs %d bar %llu drv %s rm %s src %s\n",
                g->pci_id, g->vendor_id, g->device_id, g->subsys_vendor_id, g->subsys_device_id,
                g->class_code, g->vendor_name ? g->vendor_name : "-",
                g->device_name ? g->device_name : "-", g->subsys_name ? g->subsys_name : "-",
                g->numa_node, g->iommu_group, g->boot_vga, g->link_cap.speed_gts,
                g->link_cap.width, g->link_sta.speed_gts, g->link_sta.width, g->link_downgraded,
                g->flr, g->sriov_totalvfs, (unsigned long long)g->max_bar_bytes,
                g->driver ? g->driver : "-", g->reset_method ? g->reset_method : "-",
                g->source ? g->source : "-");
        for (size_t c = 0; c < g->n_companions; c++)
            fprintf(m, "  comp %s %04x %s\n", g->companions[c].pci_id,
                    g->companions[c].class_code,
                    g->companions[c].driver ? g->companions[c].driver : "-");
        for (size_t c = 0; c < g->n_iommu_group_members; c++)
            fprintf(m, "  member %s\n", g->iommu_group_members[c]);
    }
    for (size_t i = 0; i < h->n_functions; i++)
        fprintf(m, "fn %s %04x %d %d\n", h->functions[i].pci_id, h->functions[i].class_code,
                h->functions[i].header_type, h->functions[i].iommu_group);
    fclose(m);
    return s;
}

/* Discover in a fresh context; return the model as text. */
static char *discover(const char *db, const char *topology, const char *sysfs_root)
{
    gp_ctx *ctx = ctx_for(db, topology, sysfs_root);
    const gp_host *h;
    int rc = gp_host_get(ctx, &h);
    if (rc)
        fail_msg("gp_host_get: %s", gp_ctx_last_error(ctx)->message);
    char *t = host_text(h);
    gp_ctx_free(ctx);
    return t;
}

/* A synthetic host big enough to be cached (over 128 KiB of hwloc XML). */
static void write_big_host(const char *path, int n_nodes)
{
    synth_spec s;
    synth_spec_init(&s);
    s.n_nodes = n_nodes;
    s.nodes_per_socket = 2;
    s.cores_per_node = 16;
    s.n_gpus = 8 * n_nodes;
    assert_int_equal(synth_host_write_hwloc(&s, path), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 128 * 1024);
}

/* Host models held in the cache database (0 when it does not exist). */
static int cached_models(const fixture *f)
{
    struct stat st;
    sqlite3 *db;
    sqlite3_stmt *q;
    int n;
    if (stat(f->cache, &st) != 0)
        return 0;
    assert_int_equal(sqlite3_open_v2(f->cache, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM host_cache", -1, &q, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return 0;
    }
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

static void test_large_file_cached_equals_fresh(void **state)
{
    fixture *f = *state;
    struct stat st;

    write_big_host(f->xml, 16);
    assert_int_not_equal(stat(f->cache, &st), 0);
    char *first = discover(f->db, f->xml, NULL);   /* parses, stores */
    assert_int_equal(stat(f->cache, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(cached_models(f), 1);
    char *second = discover(f->db, f->xml, NULL);  /* from the cache */
    assert_string_equal(first, second);
    assert_non_null(strstr(first, "node 15 "));
    free(first);
    free(second);
}

static void test_small_source_not_cached(void **state)
{
    fixture *f = *state;
    /* The embedded host (52 KiB) parses faster than a cache reads back. */
    char *a = discover(f->db, GP_TOPOLOGY_EMBEDDED, NULL);
    assert_int_equal(cached_models(f), 0);
    assert_non_null(strstr(a, "gpu 0000:9a:00.0"));
    free(a);
}

static void test_fixture_with_companions_round_trips(void **state)
{
    fixture *f = *state;
    char *dump = tu_fixture("lspci/tree-asus-p6t6");
    if (!dump)
        gt_skip_fixture("lspci/tree-asus-p6t6");
    char path[4096];
    snprintf(path, sizeof(path), "%s", dump);
    const gp_host *h;
    char *texts[2];
    for (int i = 0; i < 2; i++) {
        gp_ctx *ctx = gt_ctx_new(&(gt_ctx_spec){ .db = f->db, .driver = "sim", .pci_dump = path });
        assert_int_equal(gp_host_get(ctx, &h), GP_OK);
        texts[i] = host_text(h);
        gp_ctx_free(ctx);
    }
    assert_string_equal(texts[0], texts[1]);
    assert_non_null(strstr(texts[1], "comp 0000:06:00.1 0403"));
    free(texts[0]);
    free(texts[1]);
}

static void test_changed_file_is_parsed_again(void **state)
{
    fixture *f = *state;
    write_big_host(f->xml, 16);
    char *a = discover(f->db, f->xml, NULL);
    assert_int_equal(cached_models(f), 1);
    assert_non_null(strstr(a, "node 15 "));
    assert_null(strstr(a, "node 16 "));

    /* Same path, new content (size and mtime change): never the old model. */
    write_big_host(f->xml, 18);
    char *b = discover(f->db, f->xml, NULL);
    assert_non_null(strstr(b, "node 17 "));
    assert_int_equal(cached_models(f), 1);  /* replaced: same key */
    char *c = discover(f->db, f->xml, NULL);
    assert_string_equal(b, c);
    free(a);
    free(b);
    free(c);
}

static void test_broken_cache_is_ignored(void **state)
{
    fixture *f = *state;
    write_big_host(f->xml, 16);
    char *fresh = discover(f->db, f->xml, NULL);
    FILE *fp = fopen(f->cache, "w");
    assert_non_null(fp);
    fputs("this is not a database\n", fp);
    fclose(fp);
    char *again = discover(f->db, f->xml, NULL);
    assert_string_equal(fresh, again);
    /* The damaged file was dropped and the next run caches again. */
    char *third = discover(f->db, f->xml, NULL);
    assert_string_equal(fresh, third);
    assert_int_equal(cached_models(f), 1);
    free(fresh);
    free(again);
    free(third);
}

static void test_unwritable_place_still_discovers(void **state)
{
    (void)state;
    char *t = discover("/nonexistent-gpupool-dir/state.db", GP_TOPOLOGY_EMBEDDED, NULL);
    assert_non_null(strstr(t, "gpu 0000:18:00.0"));
    free(t);
}

static void test_sysfs_tree_not_cached_state_untouched(void **state)
{
    fixture *f = *state;
    char *root = tu_unpack_fixture("sysfs/32intel64-2p8co2t+8ve.tar.bz2");
    if (!root)
        gt_skip_fixture("sysfs/32intel64-2p8co2t+8ve.tar.bz2");
    char sys[4096];
    struct stat st;
    snprintf(sys, sizeof(sys), "%s/sys", root);
    free(discover(f->db, NULL, sys));
    /* A tree's model is never cached (at most PCI names are). */
    if (stat(f->cache, &st) == 0) {
        sqlite3 *db;
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_open(f->cache, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM host_cache", -1, &q, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(q, 0), 0);
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
    /* Discovery alone never creates or changes the state database. */
    assert_int_not_equal(stat(f->db, &st), 0);
    free(discover(f->db, GP_TOPOLOGY_EMBEDDED, NULL));
    assert_int_not_equal(stat(f->db, &st), 0);
    free(root);
}

/* Names found in pci.ids by one process are reused by the next without
 * loading pci.ids: prove it by editing the cached name between two runs of
 * the CLI (the memo is per process, so this needs separate processes). */
static void test_pci_names_reused_across_processes(void **state)
{
    fixture *f = *state;
    char *root = tu_unpack_fixture("sysfs/32intel64-2p8co2t+8ve.tar.bz2");
    if (!root)
        gt_skip_fixture("sysfs/32intel64-2p8co2t+8ve.tar.bz2");
    char sysopt[4200], dbopt[600];
    snprintf(sysopt, sizeof(sysopt), "--sysfs-root=%s/sys", root);
    snprintf(dbopt, sizeof(dbopt), "--db=%s", f->db);
    const char *argv[] = { "xe-cli/xe-gpupool", "gpu-param-get", "pci-id=0000:1b:00.0",
                           "param-name=device-name", sysopt, dbopt, "--driver=sim",
                           "--gpu-classes=0b40", NULL };
    tu_run_result r;
    assert_int_equal(tu_run(&r, argv, NULL), 0);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "Vector Engine 1.0\n");
    tu_run_free(&r);

    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->cache, &db), SQLITE_OK);
    char *errmsg = NULL;
    int rc = sqlite3_exec(db, "UPDATE pci_names SET device_name = 'from the cache' "
                              "WHERE vendor_id = 7119 AND device_id = 28", NULL, NULL, &errmsg);
    if (rc != SQLITE_OK)
        fail_msg("update: %s", errmsg);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);

    assert_int_equal(tu_run(&r, argv, NULL), 0);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "from the cache\n");
    tu_run_free(&r);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_large_file_cached_equals_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_source_not_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixture_with_companions_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_file_is_parsed_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_cache_is_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_place_still_discovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sysfs_tree_not_cached_state_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pci_names_reused_across_processes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
