/*
 * metrics.c - the host's allocation as Prometheus metrics (docs/metrics.md):
 * the text exposition format 0.0.4, which node_exporter's textfile
 * collector and promtool read, built from what the other operations
 * already compute: the host model (gp_host_get), capacity
 * (gp_capacity_get: every GPU's state, stranded GPUs, largest VM), the
 * assignments, governance's GPU-seconds (gp_usage_report, pool and tenant)
 * and the queue (gp_request_list's wait-seconds).  Nothing is queried here
 * that those do not already return.
 */
#include "ops/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Upper bounds of gpupool_queue_wait_seconds' buckets, seconds. */
static const int64_t wait_buckets[] = { 60, 300, 900, 1800, 3600, 7200, 14400, 43200,
                                        86400, 604800 };

/* ---- the text format ----------------------------------------------------------------- */

/* A label value as the format wants it: backslash, double quote and line
 * feed escaped (\\, \", \n). */
static void put_value(FILE *f, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\')
            fputs("\\\\", f);
        else if (*v == '"')
            fputs("\\\"", f);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

/* "# HELP" and "# TYPE" of a family (help holds no backslash nor line feed). */
static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name{k1="v1",...} value.  labels: NULL-ended key, value pairs. */
static void sample(FILE *f, const char *name, const char *const *labels, const char *value)
{
    fputs(name, f);
    if (labels && labels[0]) {
        fputc('{', f);
        for (size_t i = 0; labels[i]; i += 2) {
            fprintf(f, "%s%s=\"", i ? "," : "", labels[i]);
            put_value(f, labels[i + 1]);
            fputc('"', f);
        }
        fputc('}', f);
    }
    fprintf(f, " %s\n", value);
}

static void sample_i(FILE *f, const char *name, const char *const *labels, long long v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", v);
    sample(f, name, labels, buf);
}

/* ---- the metrics ------------------------------------------------------------------------ */

typedef struct {
    gp_ctx *ctx;
    FILE *f;
    const char *host;          /* hostname label */
    const gp_host *h;
    gp_capacity *cap;
    gp_assignment *as;
    size_t n_as;
    gp_usage_row *usage;
    size_t n_usage;
    gp_request *rq;
    size_t n_rq;
    gp_check *cs;              /* host-validate's checks; NULL when it could not run */
    size_t n_cs;
} met;

/* The per-GPU state names (gpupool_gpu_state, gpupool_pool_gpus). */
static const char *const gpu_states[] = { "free", "stranded", "assigned", "running",
                                         "no-pool" };
/* gpupool_pool_gpus: the first four (a pool's GPU is never in no pool). */
#define POOL_STATES 4

static const char *metric_state(gp_cap_state s)
{
    switch (s) {
    case GP_CAP_STRANDED: return "stranded";
    case GP_CAP_HALTED: return "assigned";
    case GP_CAP_RUNNING: return "running";
    case GP_CAP_NO_POOL: return "no-pool";
    default: return "free";
    }
}

static void gpu_metrics(met *m)
{
    FILE *f = m->f;
    const gp_capacity *c = m->cap;

    family(f, "gpupool_gpu_info", "gauge",
           "GPU of the host (1), with its model, NUMA node and pool (\"\" when none)");
    for (size_t i = 0; i < c->n_gpus; i++) {
        const gp_capacity_gpu *g = &c->gpus[i];
        const gp_gpu *hg = gp_host_find_gpu(m->h, g->pci_id);
        char node[16] = "";
        if (g->numa_node >= 0)
            snprintf(node, sizeof(node), "%d", g->numa_node);
        const char *l[] = { "hostname", m->host, "pci_bus_id", g->pci_id,
                            "model_name", hg && hg->device_name ? hg->device_name : "",
                            "numa_node", node,
                            "pool", g->pool_name_label ? g->pool_name_label : "", NULL };
        sample(f, "gpupool_gpu_info", l, "1");
    }
    family(f, "gpupool_gpu_state", "gauge",
           "1 for the GPU's state: free, stranded (free but its node lacks pCPUs or memory for "
           "the pool's smallest recent VM), assigned (held by a VM that is not running), "
           "running (held by a running VM), no-pool; 0 for the others");
    for (size_t i = 0; i < c->n_gpus; i++) {
        const gp_capacity_gpu *g = &c->gpus[i];
        for (size_t s = 0; s < GP_ARRAY_SIZE(gpu_states); s++) {
            const char *l[] = { "hostname", m->host, "pci_bus_id", g->pci_id,
                                "state", gpu_states[s], NULL };
            sample(f, "gpupool_gpu_state", l,
                   strcmp(metric_state(g->state), gpu_states[s]) ? "0" : "1");
        }
    }
    family(f, "gpupool_gpu_assignment_info", "gauge",
           "GPU held by a VM (1), with the VM, its tenant and the pool");
    for (size_t i = 0; i < c->n_gpus; i++) {
        const gp_capacity_gpu *g = &c->gpus[i];
        if (!g->vm_uuid[0])
            continue;
        const char *l[] = { "hostname", m->host, "pci_bus_id", g->pci_id,
                            "pool", g->pool_name_label ? g->pool_name_label : "",
                            "vm_uuid", g->vm_uuid, "tenant", g->tenant ? g->tenant : "", NULL };
        sample(f, "gpupool_gpu_assignment_info", l, "1");
    }
    family(f, "gpupool_gpu_halted_holder_seconds", "gauge",
           "Seconds the VM holding the GPU has been halted (end of its last recorded run, "
           "else since it got the GPU)");
    for (size_t i = 0; i < c->n_gpus; i++) {
        const gp_capacity_gpu *g = &c->gpus[i];
        if (g->state != GP_CAP_HALTED || g->halted_seconds < 0)
            continue;
        const char *l[] = { "hostname", m->host, "pci_bus_id", g->pci_id,
                            "pool", g->pool_name_label ? g->pool_name_label : "",
                            "vm_uuid", g->vm_uuid, NULL };
        sample_i(f, "gpupool_gpu_halted_holder_seconds", l, g->halted_seconds);
    }
    family(f, "gpupool_gpu_link_downgraded", "gauge",
           "1 when the PCIe link runs below its capability (LnkSta below LnkCap: width or "
           "speed), 0 when not; absent when unknown");
    for (size_t i = 0; i < m->h->n_gpus; i++) {
        const gp_gpu *hg = &m->h->gpus[i];
        if (hg->link_downgraded == GP_UNKNOWN)
            continue;
        const char *l[] = { "hostname", m->host, "pci_bus_id", hg->pci_id, NULL };
        sample(f, "gpupool_gpu_link_downgraded", l, hg->link_downgraded == GP_YES ? "1" : "0");
    }
}

/* host-validate's verdicts (ops/validate.c): per GPU and for the host,
 * the number of checks in each status. */
static void validation_metrics(met *m)
{
    FILE *f = m->f;
    size_t count[GP_CHECK_STATUS_LAST];

    if (!m->cs)
        return;
    family(f, "gpupool_gpu_validation_checks", "gauge",
           "host-validate's checks about the GPU by status (pass, warn, fail, manual, unknown)");
    for (size_t i = 0; i < m->h->n_gpus; i++) {
        const char *pci = m->h->gpus[i].pci_id;
        memset(count, 0, sizeof(count));
        for (size_t k = 0; k < m->n_cs; k++)
            if (m->cs[k].subject && !strcmp(m->cs[k].subject, pci) &&
                m->cs[k].status < GP_CHECK_STATUS_LAST)
                count[m->cs[k].status]++;
        for (int s = 0; s < GP_CHECK_STATUS_LAST; s++) {
            const char *l[] = { "hostname", m->host, "pci_bus_id", pci,
                                "status", gp_check_status_name((gp_check_status)s), NULL };
            sample_i(f, "gpupool_gpu_validation_checks", l, (long long)count[s]);
        }
    }
    family(f, "gpupool_host_validation_checks", "gauge",
           "host-validate's checks of the host (all subjects) by status");
    memset(count, 0, sizeof(count));
    for (size_t k = 0; k < m->n_cs; k++)
        if (m->cs[k].status < GP_CHECK_STATUS_LAST)
            count[m->cs[k].status]++;
    for (int s = 0; s < GP_CHECK_STATUS_LAST; s++) {
        const char *l[] = { "hostname", m->host, "status",
                            gp_check_status_name((gp_check_status)s), NULL };
        sample_i(f, "gpupool_host_validation_checks", l, (long long)count[s]);
    }
}

static void pool_metrics(met *m)
{
    FILE *f = m->f;
    const gp_capacity *c = m->cap;

    family(f, "gpupool_pool_gpus", "gauge", "GPUs of the pool on this host by state");
    for (size_t p = 0; p < c->n_pools; p++) {
        const gp_capacity_pool *cp = &c->pools[p];
        const size_t counts[] = { cp->free, cp->stranded, cp->halted, cp->running };
        for (size_t s = 0; s < POOL_STATES; s++) {
            const char *l[] = { "hostname", m->host, "pool", cp->name_label,
                                "state", gpu_states[s], NULL };
            sample_i(f, "gpupool_pool_gpus", l, (long long)counts[s]);
        }
    }
    family(f, "gpupool_gpus_no_pool", "gauge", "GPUs of the host in no pool");
    {
        const char *l[] = { "hostname", m->host, NULL };
        sample_i(f, "gpupool_gpus_no_pool", l, (long long)c->gpus_no_pool);
    }
    family(f, "gpupool_stranded_gpus", "gauge",
           "Free GPUs of the pool whose node cannot take the pool's smallest recent VM, by "
           "reason (a GPU short of both pCPUs and memory counts under both)");
    for (size_t p = 0; p < c->n_pools; p++) {
        for (int r = 0; r < GP_STRAND_REASON_LAST; r++) {
            long long n = 0;
            for (size_t g = 0; g < c->n_gpus; g++)
                n += c->gpus[g].state == GP_CAP_STRANDED &&
                     !strcmp(c->gpus[g].pool_uuid, c->pools[p].uuid) &&
                     (c->gpus[g].stranded & (1u << r));
            const char *l[] = { "hostname", m->host, "pool", c->pools[p].name_label,
                                "reason", gp_strand_reason_name((gp_strand_reason)r), NULL };
            sample_i(f, "gpupool_stranded_gpus", l, n);
        }
    }
    family(f, "gpupool_pool_largest_vm_vcpus", "gauge",
           "vCPUs of the largest VM still placeable NUMA-local in the pool (0: none)");
    for (size_t p = 0; p < c->n_pools; p++) {
        const char *l[] = { "hostname", m->host, "pool", c->pools[p].name_label, NULL };
        sample_i(f, "gpupool_pool_largest_vm_vcpus", l, c->pools[p].largest_vcpus);
    }
    family(f, "gpupool_pool_largest_vm_memory_bytes", "gauge",
           "Memory of the largest VM still placeable NUMA-local in the pool, bytes (0: none "
           "or unknown)");
    for (size_t p = 0; p < c->n_pools; p++) {
        const char *l[] = { "hostname", m->host, "pool", c->pools[p].name_label, NULL };
        sample_i(f, "gpupool_pool_largest_vm_memory_bytes", l,
                 (long long)(c->pools[p].largest_memory_mib << 20));
    }
}

/* Assignments of pool uuid, and those NUMA-local: vCPUs' node and memory
 * node both the GPU's node. */
static void locality_of(const met *m, const char *uuid, long long *n, long long *local)
{
    *n = *local = 0;
    for (size_t i = 0; i < m->n_as; i++) {
        const gp_assignment *a = &m->as[i];
        if (strcmp(a->pool_uuid, uuid))
            continue;
        const gp_gpu *g = gp_host_find_gpu(m->h, a->pci_id);
        (*n)++;
        *local += g && g->numa_node >= 0 && a->numa_node == g->numa_node &&
                  a->memory_node == g->numa_node;
    }
}

static void assignment_metrics(met *m)
{
    FILE *f = m->f;
    const gp_capacity *c = m->cap;

    family(f, "gpupool_assignments", "gauge", "Assignments (VMs holding a GPU) of the pool");
    for (size_t p = 0; p < c->n_pools; p++) {
        long long n, local;
        locality_of(m, c->pools[p].uuid, &n, &local);
        const char *l[] = { "hostname", m->host, "pool", c->pools[p].name_label, NULL };
        sample_i(f, "gpupool_assignments", l, n);
    }
    family(f, "gpupool_numa_local_assignments_ratio", "gauge",
           "Share of the pool's assignments whose vCPUs and memory are on the GPU's NUMA "
           "node (absent when the pool has none)");
    for (size_t p = 0; p < c->n_pools; p++) {
        long long n, local;
        char v[32];
        locality_of(m, c->pools[p].uuid, &n, &local);
        if (!n)
            continue;
        snprintf(v, sizeof(v), "%.6g", (double)local / (double)n);
        const char *l[] = { "hostname", m->host, "pool", c->pools[p].name_label, NULL };
        sample(f, "gpupool_numa_local_assignments_ratio", l, v);
    }
}

static void usage_metrics(met *m)
{
    FILE *f = m->f;

    family(f, "gpupool_gpu_allocated_seconds_total", "counter",
           "GPU-seconds held by the tenant's VMs in the pool (assigned, running or not)");
    for (size_t i = 0; i < m->n_usage; i++) {
        const char *l[] = { "hostname", m->host, "pool", m->usage[i].key,
                            "tenant", m->usage[i].tenant ? m->usage[i].tenant : "", NULL };
        sample_i(f, "gpupool_gpu_allocated_seconds_total", l, m->usage[i].held_seconds);
    }
    family(f, "gpupool_gpu_running_seconds_total", "counter",
           "GPU-seconds held by the tenant's VMs in the pool while they ran");
    for (size_t i = 0; i < m->n_usage; i++) {
        const char *l[] = { "hostname", m->host, "pool", m->usage[i].key,
                            "tenant", m->usage[i].tenant ? m->usage[i].tenant : "", NULL };
        sample_i(f, "gpupool_gpu_running_seconds_total", l, m->usage[i].running_seconds);
    }
}

static void queue_metrics(met *m)
{
    FILE *f = m->f;
    const gp_capacity *c = m->cap;
    long long sum = 0;

    family(f, "gpupool_queue_length", "gauge", "Requests for a GPU of the pool waiting in the queue");
    for (size_t p = 0; p < c->n_pools; p++) {
        long long n = 0;
        for (size_t i = 0; i < m->n_rq; i++)
            n += !strcmp(m->rq[i].pool_uuid, c->pools[p].uuid);
        const char *l[] = { "hostname", m->host, "pool", c->pools[p].name_label, NULL };
        sample_i(f, "gpupool_queue_length", l, n);
    }
    family(f, "gpupool_queue_wait_seconds", "histogram",
           "How long the queued requests have waited so far, seconds");
    for (size_t b = 0; b <= GP_ARRAY_SIZE(wait_buckets); b++) {
        char le[24];
        long long n = 0;
        if (b < GP_ARRAY_SIZE(wait_buckets))
            snprintf(le, sizeof(le), "%lld", (long long)wait_buckets[b]);
        else
            snprintf(le, sizeof(le), "+Inf");
        for (size_t i = 0; i < m->n_rq; i++)
            n += b == GP_ARRAY_SIZE(wait_buckets) || m->rq[i].wait_seconds <= wait_buckets[b];
        const char *l[] = { "hostname", m->host, "le", le, NULL };
        sample_i(f, "gpupool_queue_wait_seconds_bucket", l, n);
    }
    for (size_t i = 0; i < m->n_rq; i++)
        sum += m->rq[i].wait_seconds;
    const char *l[] = { "hostname", m->host, NULL };
    sample_i(f, "gpupool_queue_wait_seconds_sum", l, sum);
    sample_i(f, "gpupool_queue_wait_seconds_count", l, (long long)m->n_rq);
}

int gp_metrics_text(gp_ctx *ctx, const char *hostname, char **out)
{
    met m;
    char hn[256];
    char *buf = NULL;
    size_t len = 0;
    int64_t now;
    int rc;

    memset(&m, 0, sizeof(m));
    *out = NULL;
    m.ctx = ctx;
    if (!hostname) {
        if (gethostname(hn, sizeof(hn)))
            snprintf(hn, sizeof(hn), "localhost");
        hn[sizeof(hn) - 1] = '\0';
        hostname = hn;
    }
    m.host = hostname;
    rc = gp_capacity_get_self(ctx, &m.cap);   /* clears ctx->err */
    if (rc == GP_OK)
        rc = gp_host_get(ctx, &m.h);
    if (rc == GP_OK)
        rc = gp_assignments_read(ctx, NULL, &m.as, &m.n_as);
    now = m.cap ? m.cap->now : gp_now();
    if (rc == GP_OK && now > 0)
        rc = gp_usage_report(ctx, 0, now, GP_USAGE_BY_POOL_TENANT, &m.usage, &m.n_usage);
    if (rc == GP_OK)
        rc = gp_request_list(ctx, &m.rq, &m.n_rq);
    if (rc == GP_OK) {
        /* The verdicts are an extra: a host host-validate cannot judge
         * (no PCI hierarchy) still has its other metrics. */
        size_t n_fail = 0;
        if (gp_host_validate(ctx, &m.cs, &m.n_cs, &n_fail) != GP_OK) {
            gp_err_clear(ctx->err);
            m.cs = NULL;
            m.n_cs = 0;
        }
    }
    if (rc)
        goto out;
    if (!(m.f = open_memstream(&buf, &len))) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    gpu_metrics(&m);
    validation_metrics(&m);
    pool_metrics(&m);
    assignment_metrics(&m);
    usage_metrics(&m);
    queue_metrics(&m);
    if (ferror(m.f) | fclose(m.f)) {
        free(buf);
        buf = NULL;
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    *out = buf;
out:
    gp_capacity_free(m.cap);
    gp_assignment_list_free(m.as, m.n_as);
    gp_usage_rows_free(m.usage, m.n_usage);
    gp_request_list_free(m.rq, m.n_rq);
    gp_check_list_free(m.cs, m.n_cs);
    return rc;
}

/* ---- the atomic write -------------------------------------------------------------------- */

/* Write all of len bytes of s to fd; 0 or -1 (errno). */
static int write_all(int fd, const char *s, size_t len)
{
    while (len) {
        ssize_t k = write(fd, s, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        s += k;
        len -= (size_t)k;
    }
    return 0;
}

int gp_metrics_write(gp_ctx *ctx, const char *hostname, const char *path)
{
    char *text = NULL, *dcopy = NULL, *tmp = NULL;
    const char *dir, *base;
    int fd = -1, rc;

    if (!path || !*path) {
        gp_err_clear(ctx->err);
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "metrics need a file to write (out=)");
        GP_PARAM(ctx, "out", "%s", path ? path : "");
        return rc;
    }
    rc = gp_metrics_text(ctx, hostname, &text);
    if (rc)
        return rc;
    if (!(dcopy = gp_strdup(path))) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    dir = dirname(dcopy);
    /* In the file's own directory, so that rename() replaces it in one step;
     * a dot name, so node_exporter's textfile collector (*.prom) skips it. */
    base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    tmp = gp_asprintf("%s/.%s.XXXXXX", dir, base);
    if (!tmp) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        tmp = NULL;
        rc = GP_ERR(ctx, GP_ERR_IO, "cannot create a file beside %s: %s", path, strerror(errno));
        GP_PARAM(ctx, "path", "%s", path);
        goto out;
    }
    if (fchmod(fd, 0644) || write_all(fd, text, strlen(text)) || fsync(fd)) {
        rc = GP_ERR(ctx, GP_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        GP_PARAM(ctx, "path", "%s", path);
        goto out;
    }
    if (close(fd)) {
        fd = -1;
        rc = GP_ERR(ctx, GP_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        GP_PARAM(ctx, "path", "%s", path);
        goto out;
    }
    fd = -1;
    if (rename(tmp, path)) {
        rc = GP_ERR(ctx, GP_ERR_IO, "cannot replace %s: %s", path, strerror(errno));
        GP_PARAM(ctx, "path", "%s", path);
        goto out;
    }
    free(tmp);
    tmp = NULL;
    /* The rename itself survives a crash once the directory is on disk. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = GP_OK;
out:
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(dcopy);
    free(text);
    return rc;
}
