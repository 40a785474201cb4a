/*
 * host_cache.c - the parsed host model of an immutable source, kept in the
 * state database.
 *
 * An hwloc XML file, the embedded host and an lspci dump do not change under
 * us, yet parsing a 256-GPU hwloc file costs more than the rest of a
 * `gpu-list` process.  gp_host_get() therefore keeps the model it built from
 * such a source in a cache database beside the state database
 * ("<db>.hostcache": derived data, never state, safe to delete), keyed by
 * what was asked for (source
 * path and GPU class filter) and stamped with what it was built from (file
 * size, mtime in ns, inode; the library version for the embedded host).  A
 * stamp mismatch means a rebuild.  Live sysfs and captured sysfs trees are
 * never cached: bindings and link status change while the host runs.  Nor
 * is a source under 128 KiB: it parses faster than the cache reads back.
 *
 * The cache is an optimisation only: any failure to read or write it is
 * ignored and discovery runs as usual.  The model is stored as rows of the
 * host_cache_* tables (one per node, pCPU, GPU and PCI function).  A GPU row
 * is one JSON text: the GPU's facts written through its field table
 * (core/fields.c, the table xe records and the plugin's JSON use) and read
 * back by a walk of the same table, so a new GPU fact needs no change here.
 */
#include "discover/discover.h"
#include "core/fields.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bump when the serialised shape or the discovery logic changes.  A change
 * of the GPU field table needs no bump: its signature is in the stamp.
 * 4: plain rowid tables (sqlite 3.7.17 on XCP-ng 8.3 has no WITHOUT ROWID);
 * 5: a GPU row is one JSON text through the GPU field table.  A cache of
 * another format is dropped and rebuilt on first open. */
#define HOST_CACHE_FORMAT 5

/* Sources smaller than this parse faster than the cache reads back (the
 * embedded 8-GPU host: 52 KiB, ~0.3 ms), so they are not cached. */
#define HOST_CACHE_MIN_BYTES (128 * 1024)

static int file_stamp(const char *path, char *buf, size_t len, uint64_t *bytes)
{
    struct stat st;
    if (!path || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    *bytes += (uint64_t)st.st_size;
    snprintf(buf, len, "%lld:%lld.%09ld:%llu", (long long)st.st_size,
             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
             (unsigned long long)st.st_ino);
    return 0;
}

int gp_host_cache_key(const gp_config *cfg, char **key_out, char **stamp_out)
{
    char topo[160] = "", dump[160] = "", classes[512] = "";
    char *abs_topo = NULL, *abs_dump = NULL;
    size_t off = 0;
    uint64_t bytes = 0;

    *key_out = *stamp_out = NULL;
    if (cfg->sysfs_root)
        return GP_OK;                      /* a tree: not cacheable */
    if (!cfg->topology_file && !cfg->pci_dump)
        return GP_OK;                      /* live host: not cacheable */
    if (cfg->topology_file) {
        if (!strcmp(cfg->topology_file, GP_TOPOLOGY_EMBEDDED)) {
            snprintf(topo, sizeof(topo), "embedded-%s-%zu", GPUPOOL_VERSION_STRING,
                     gp_embedded_host_xml_len);
            bytes += gp_embedded_host_xml_len;
        } else {
            abs_topo = realpath(cfg->topology_file, NULL);
            if (!abs_topo || file_stamp(abs_topo, topo, sizeof(topo), &bytes))
                goto none;
        }
    }
    if (cfg->pci_dump) {
        abs_dump = realpath(cfg->pci_dump, NULL);
        if (!abs_dump || file_stamp(abs_dump, dump, sizeof(dump), &bytes))
            goto none;
    }
    if (bytes < HOST_CACHE_MIN_BYTES)
        goto none;
    for (size_t i = 0; i < cfg->n_classes && off + 20 < sizeof(classes); i++)
        off += (size_t)snprintf(classes + off, sizeof(classes) - off, "%04x/%04x/%04x,",
                                cfg->classes[i].class_value, cfg->classes[i].class_mask,
                                cfg->classes[i].vendor_id);
    *key_out = gp_asprintf("topology=%s;dump=%s;classes=%s",
                           abs_topo ? abs_topo : (cfg->topology_file ? "embedded" : ""),
                           abs_dump ? abs_dump : "", cfg->classes ? classes : "default");
    *stamp_out = gp_asprintf("v%d.%08x;%s;%s", HOST_CACHE_FORMAT,
                             gp_fields_signature(gp_gpu_fields, gp_gpu_n_fields), topo, dump);
    free(abs_topo);
    free(abs_dump);
    if (!*key_out || !*stamp_out) {
        free(*key_out);
        free(*stamp_out);
        *key_out = *stamp_out = NULL;
        return GP_ERR_NOMEM;
    }
    return GP_OK;
none:
    free(abs_topo);
    free(abs_dump);
    return GP_OK;
}

/* ---- the cache database --------------------------------------------------- */

static const char cache_schema[] =
    "DROP TABLE IF EXISTS host_cache_node;"
    "DROP TABLE IF EXISTS host_cache_cpu;"
    "DROP TABLE IF EXISTS host_cache_gpu;"
    "DROP TABLE IF EXISTS host_cache_function;"
    "DROP TABLE IF EXISTS host_cache;"
    "DROP TABLE IF EXISTS pci_names;"
    "CREATE TABLE pci_names ("
    "  stamp TEXT NOT NULL,"
    "  vendor_id INTEGER NOT NULL, device_id INTEGER NOT NULL,"
    "  subsys_vendor_id INTEGER NOT NULL, subsys_device_id INTEGER NOT NULL,"
    "  vendor_name TEXT, device_name TEXT, subsys_name TEXT,"
    "  PRIMARY KEY (stamp, vendor_id, device_id, subsys_vendor_id, subsys_device_id)"
    ");"
    "CREATE TABLE host_cache ("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  stamp TEXT NOT NULL,"
    "  topology_source TEXT NOT NULL,"
    "  pci_source TEXT NOT NULL,"
    "  passthrough INTEGER NOT NULL"
    ");"
    "CREATE TABLE host_cache_node ("
    "  key TEXT NOT NULL REFERENCES host_cache(key) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL, id INTEGER NOT NULL, socket INTEGER NOT NULL,"
    "  mem_total INTEGER NOT NULL, mem_free INTEGER NOT NULL,"
    "  cpus TEXT NOT NULL, distances TEXT,"
    "  PRIMARY KEY (key, idx)"
    ");"
    "CREATE TABLE host_cache_cpu ("
    "  key TEXT NOT NULL REFERENCES host_cache(key) ON DELETE CASCADE,"
    "  id INTEGER NOT NULL, core INTEGER NOT NULL, socket INTEGER NOT NULL,"
    "  node INTEGER NOT NULL,"
    "  PRIMARY KEY (key, id)"
    ");"
    "CREATE TABLE host_cache_gpu ("
    "  key TEXT NOT NULL REFERENCES host_cache(key) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL, gpu TEXT NOT NULL,"
    "  PRIMARY KEY (key, idx)"
    ");"
    "CREATE TABLE host_cache_function ("
    "  key TEXT NOT NULL REFERENCES host_cache(key) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL, pci_id TEXT NOT NULL, class_code INTEGER NOT NULL,"
    "  header_type INTEGER NOT NULL, iommu_group INTEGER NOT NULL,"
    "  PRIMARY KEY (key, idx)"
    ");";

/* Open "<db>.hostcache" (created 0600), with its schema at HOST_CACHE_FORMAT.
 * NULL when it cannot be had: no cache this time. */
static sqlite3 *cache_open(gp_host_cache *ctx)
{
    if (ctx->db)
        return ctx->db;
    char *path = gp_asprintf("%s.hostcache", ctx->db_path ? ctx->db_path : GP_DEFAULT_DB_PATH);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (!path)
        return NULL;
    /* Create it private before sqlite does, whatever the umask. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(db, 2000);
    sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        /* Not a database (damaged, or something else): it is only a cache,
         * so remove it; the next process builds a new one. */
        if ((sqlite3_errcode(db) & 0xff) == SQLITE_NOTADB)
            unlink(path);
        goto fail;
    }
    version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version != HOST_CACHE_FORMAT) {
        char *sql = gp_asprintf("BEGIN IMMEDIATE;%sPRAGMA user_version=%d;COMMIT;",
                                cache_schema, HOST_CACHE_FORMAT);
        int rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
        free(sql);
        if (rc != SQLITE_OK) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            goto fail;
        }
    }
    free(path);
    ctx->db = db;
    return db;
fail:
    sqlite3_finalize(st);
    sqlite3_close_v2(db);
    free(path);
    return NULL;
}

void gp_host_cache_close(gp_host_cache *ctx)
{
    if (ctx->db)
        sqlite3_close_v2(ctx->db);
    ctx->db = NULL;
}

/* ---- helpers ------------------------------------------------------------- */

/* A GPU's facts as JSON text through its field table; NULL on ENOMEM. */
static char *gpu_json_text(const gp_gpu *g)
{
    return gp_json_take_text(gp_fields_json(gp_gpu_fields, gp_gpu_n_fields, g, NULL,
                                            GP_FJ_FACTS));
}

/* Read a GPU back from gpu_json_text() output into g (_init'ed). */
static int gpu_json_parse(const char *text, gp_gpu *g)
{
    json_object *o = text ? json_tokener_parse(text) : NULL;
    int rc = gp_fields_from_json(gp_gpu_fields, gp_gpu_n_fields, o, g);
    json_object_put(o);
    if (rc || !g->pci_id[0] || gp_pci_addr_parse(g->pci_id, &g->addr, NULL))
        return -1;
    return 0;
}

/* "10,21,21": integers in order (a distance row, not a cpulist). */
static int int_list_parse(const char *text, int **out)
{
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    int *v = malloc(n * sizeof(*v));
    if (!v)
        return -1;
    const char *p = text;
    for (size_t i = 0; i < n; i++) {
        char *end;
        v[i] = (int)strtol(p, &end, 10);
        if (end == p || (*end && *end != ',')) {
            free(v);
            return -1;
        }
        p = *end ? end + 1 : end;
    }
    *out = v;
    return 0;
}

static char *col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql, const char *key)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    return st;
}

/* Append one zeroed element to a growing array; the new slot or NULL. */
static void *push(void **arr, size_t *n, size_t *cap, size_t size)
{
    if (gp_array_reserve(arr, cap, *n, size))
        return NULL;
    void *slot = (char *)*arr + (*n)++ * size;
    memset(slot, 0, size);
    return slot;
}

/* ---- load ----------------------------------------------------------------- */

static int load_rows(sqlite3 *db, const char *key, gp_host *h)
{
    sqlite3_stmt *st;
    size_t cap;
    int rc = -1;

    st = prep(db, "SELECT id, socket, mem_total, mem_free, cpus, distances "
                  "FROM host_cache_node WHERE key = ?1 ORDER BY idx", key);
    if (!st)
        return -1;
    cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        gp_numa_node *n = push((void **)&h->nodes, &h->n_nodes, &cap, sizeof(*n));
        if (!n)
            goto out;
        n->id = sqlite3_column_int(st, 0);
        n->socket = sqlite3_column_int(st, 1);
        n->mem_total_bytes = (uint64_t)sqlite3_column_int64(st, 2);
        n->mem_free_bytes = (uint64_t)sqlite3_column_int64(st, 3);
        if (gp_cpulist_parse((const char *)sqlite3_column_text(st, 4), &n->cpus, &n->n_cpus))
            goto out;
        if (sqlite3_column_type(st, 5) != SQLITE_NULL &&
            int_list_parse((const char *)sqlite3_column_text(st, 5), &n->distances))
            goto out;
    }
    sqlite3_finalize(st);
    st = prep(db, "SELECT id, core, socket, node FROM host_cache_cpu WHERE key = ?1 ORDER BY id", key);
    if (!st)
        return -1;
    cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        gp_pcpu *c = push((void **)&h->cpus, &h->n_cpus, &cap, sizeof(*c));
        if (!c)
            goto out;
        c->id = sqlite3_column_int(st, 0);
        c->core = sqlite3_column_int(st, 1);
        c->socket = sqlite3_column_int(st, 2);
        c->node = sqlite3_column_int(st, 3);
    }
    sqlite3_finalize(st);
    st = prep(db, "SELECT gpu FROM host_cache_gpu WHERE key = ?1 ORDER BY idx", key);
    if (!st)
        return -1;
    cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        gp_gpu *g = push((void **)&h->gpus, &h->n_gpus, &cap, sizeof(*g));
        if (!g)
            goto out;
        gp_gpu_init(g);
        if (gpu_json_parse((const char *)sqlite3_column_text(st, 0), g))
            goto out;
    }
    sqlite3_finalize(st);
    st = prep(db, "SELECT pci_id, class_code, header_type, iommu_group "
                  "FROM host_cache_function WHERE key = ?1 ORDER BY idx", key);
    if (!st)
        return -1;
    cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        gp_pci_function *f = push((void **)&h->functions, &h->n_functions, &cap, sizeof(*f));
        if (!f)
            goto out;
        snprintf(f->pci_id, sizeof(f->pci_id), "%s", (const char *)sqlite3_column_text(st, 0));
        f->class_code = (uint16_t)sqlite3_column_int(st, 1);
        f->header_type = (uint8_t)sqlite3_column_int(st, 2);
        f->iommu_group = sqlite3_column_int(st, 3);
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

bool gp_host_cache_load(gp_host_cache *ctx, const char *key, const char *stamp, gp_host *out)
{
    sqlite3_stmt *st = NULL;
    bool hit = false;
    gp_host h;
    sqlite3 *db = cache_open(ctx);

    if (!db)
        return false;
    gp_host_init(&h);
    /* One read transaction: the rows of a model are seen together. */
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return false;
    st = prep(db, "SELECT stamp, topology_source, pci_source, passthrough "
                       "FROM host_cache WHERE key = ?1", key);
    if (!st || sqlite3_step(st) != SQLITE_ROW ||
        strcmp((const char *)sqlite3_column_text(st, 0), stamp))
        goto out;
    h.topology_source = col_str(st, 1);
    h.pci_source = col_str(st, 2);
    h.passthrough = (gp_tristate)sqlite3_column_int(st, 3);
    if (load_rows(db, key, &h) == 0 && h.topology_source && h.pci_source) {
        *out = h;
        hit = true;
    }
out:
    sqlite3_finalize(st);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (!hit)
        gp_host_dispose(&h);
    return hit;
}

/* ---- store ---------------------------------------------------------------- */

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static int store_rows(sqlite3 *db, const char *key, const char *stamp, const gp_host *h)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    st = prep(db, "INSERT INTO host_cache (key, stamp, topology_source, pci_source, passthrough)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)", key);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 2, stamp, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, h->topology_source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, h->pci_source, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, h->passthrough);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto out;
    sqlite3_finalize(st);

    st = prep(db, "INSERT INTO host_cache_node VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", key);
    if (!st)
        return -1;
    for (size_t i = 0; i < h->n_nodes; i++) {
        const gp_numa_node *n = &h->nodes[i];
        char *cpus = gp_cpulist_ranges(n->cpus, n->n_cpus);
        char *dist = n->distances ? gp_cpulist_join(n->distances, h->n_nodes) : NULL;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        sqlite3_bind_int(st, 3, n->id);
        sqlite3_bind_int(st, 4, n->socket);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)n->mem_total_bytes);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)n->mem_free_bytes);
        bind_opt_text(st, 7, cpus ? cpus : "");
        bind_opt_text(st, 8, dist);
        int r = step_done(st);
        free(cpus);
        free(dist);
        if (r || (n->distances && !dist))
            goto out;
    }
    sqlite3_finalize(st);

    st = prep(db, "INSERT INTO host_cache_cpu VALUES (?1, ?2, ?3, ?4, ?5)", key);
    if (!st)
        return -1;
    for (size_t i = 0; i < h->n_cpus; i++) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, h->cpus[i].id);
        sqlite3_bind_int(st, 3, h->cpus[i].core);
        sqlite3_bind_int(st, 4, h->cpus[i].socket);
        sqlite3_bind_int(st, 5, h->cpus[i].node);
        if (step_done(st))
            goto out;
    }
    sqlite3_finalize(st);

    st = prep(db, "INSERT INTO host_cache_gpu VALUES (?1, ?2, ?3)", key);
    if (!st)
        return -1;
    for (size_t i = 0; i < h->n_gpus; i++) {
        char *text = gpu_json_text(&h->gpus[i]);
        if (!text)
            goto out;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        sqlite3_bind_text(st, 3, text, -1, free);
        if (step_done(st))
            goto out;
    }
    sqlite3_finalize(st);

    st = prep(db, "INSERT INTO host_cache_function VALUES (?1, ?2, ?3, ?4, ?5, ?6)", key);
    if (!st)
        return -1;
    for (size_t i = 0; i < h->n_functions; i++) {
        const gp_pci_function *f = &h->functions[i];
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        sqlite3_bind_text(st, 3, f->pci_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, f->class_code);
        sqlite3_bind_int(st, 5, f->header_type);
        sqlite3_bind_int(st, 6, f->iommu_group);
        if (step_done(st))
            goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

void gp_host_cache_store(gp_host_cache *ctx, const char *key, const char *stamp, const gp_host *h)
{
    sqlite3 *db = cache_open(ctx);
    if (!db)
        return;
    /* Its own short transaction: a busy or read-only cache just means no
     * cache this time; never half a model. */
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return;
    sqlite3_stmt *del = prep(db, "DELETE FROM host_cache WHERE key = ?1", key);
    bool ok = del && sqlite3_step(del) == SQLITE_DONE;
    sqlite3_finalize(del);
    if (ok && store_rows(db, key, stamp, h) == 0)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    else
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- PCI names ------------------------------------------------------------ */

void gp_host_cache_names_seed(gp_host_cache *ctx)
{
    sqlite3 *db = cache_open(ctx);
    char *stamp;
    sqlite3_stmt *st;
    gp_pci_name *v = NULL;
    size_t n = 0, cap = 0;

    if (!db || !(stamp = gp_pci_ids_stamp()))
        return;
    st = prep(db, "SELECT vendor_id, device_id, subsys_vendor_id, subsys_device_id,"
                  " vendor_name, device_name, subsys_name FROM pci_names WHERE stamp = ?1",
              stamp);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        gp_pci_name *e = push((void **)&v, &n, &cap, sizeof(*e));
        if (!e)
            break;
        e->vendor_id = (uint16_t)sqlite3_column_int(st, 0);
        e->device_id = (uint16_t)sqlite3_column_int(st, 1);
        e->subsys_vendor_id = (uint16_t)sqlite3_column_int(st, 2);
        e->subsys_device_id = (uint16_t)sqlite3_column_int(st, 3);
        e->vendor_name = col_str(st, 4);
        e->device_name = col_str(st, 5);
        e->subsys_name = col_str(st, 6);
    }
    sqlite3_finalize(st);
    gp_pci_names_seed(v, n);
    for (size_t i = 0; i < n; i++) {
        free(v[i].vendor_name);
        free(v[i].device_name);
        free(v[i].subsys_name);
    }
    free(v);
    free(stamp);
}

void gp_host_cache_names_store(gp_host_cache *ctx)
{
    const gp_pci_name *fresh;
    size_t n = gp_pci_names_fresh(&fresh);
    sqlite3 *db;
    char *stamp;
    sqlite3_stmt *st;
    bool ok = true;

    if (!n || !(db = cache_open(ctx)) || !(stamp = gp_pci_ids_stamp()))
        return;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        free(stamp);
        return;
    }
    /* Names of an older pci.ids are never read again. */
    st = prep(db, "DELETE FROM pci_names WHERE stamp <> ?1", stamp);
    ok = st && sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    st = prep(db, "INSERT OR REPLACE INTO pci_names VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
              stamp);
    for (size_t i = 0; ok && st && i < n; i++) {
        sqlite3_bind_text(st, 1, stamp, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, fresh[i].vendor_id);
        sqlite3_bind_int(st, 3, fresh[i].device_id);
        sqlite3_bind_int(st, 4, fresh[i].subsys_vendor_id);
        sqlite3_bind_int(st, 5, fresh[i].subsys_device_id);
        bind_opt_text(st, 6, fresh[i].vendor_name);
        bind_opt_text(st, 7, fresh[i].device_name);
        bind_opt_text(st, 8, fresh[i].subsys_name);
        ok = step_done(st) == 0;
    }
    ok = ok && st;
    sqlite3_finalize(st);
    if (ok && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        gp_pci_names_mark_saved();
    else
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    free(stamp);
}
