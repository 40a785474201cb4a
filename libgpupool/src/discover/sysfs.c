/*
 * sysfs.c - CPU / NUMA topology from <root>/devices/system/{node,cpu}.
 *
 *  node<N>/cpulist          pCPUs of the node (real ids, any order/gaps)
 *  node<N>/meminfo          "Node 0 MemTotal:  47925628 kB", "Node 0 MemFree: ..."
 *  node<N>/distance         SLIT row, in ascending node-id order
 *  cpu<N>/topology/core_id, physical_package_id
 *
 * A kernel without NUMA support has no node directory: every CPU is then on
 * node 0 (the kernel's own view), memory unknown.
 */
#include "discover/discover.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_long_attr(const char *path, long *out)
{
    char *s = gp_read_file_trim(path), *end;
    if (!s)
        return -1;
    long v = strtol(s, &end, 10);
    int rc = (end == s || *end) ? -1 : 0;
    if (!rc)
        *out = v;
    free(s);
    return rc;
}

/* Sorted ids of "<dir>/<prefix>N" entries. */
static int list_numbered(const char *dir, const char *prefix, int **out, size_t *n_out)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int *ids = NULL;
    size_t n = 0, cap = 0;
    size_t plen = strlen(prefix);

    *out = NULL;
    *n_out = 0;
    if (!d)
        return GP_ERR_IO;
    while ((e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, prefix, plen) || !e->d_name[plen])
            continue;
        long v = strtol(e->d_name + plen, &end, 10);
        if (*end || v < 0 || v > 1000000)
            continue;
        if (gp_array_reserve((void **)&ids, &cap, n, sizeof(*ids))) {
            free(ids);
            closedir(d);
            return GP_ERR_NOMEM;
        }
        ids[n++] = (int)v;
    }
    closedir(d);
    if (n > 1)
        qsort(ids, n, sizeof(*ids), gp_cmp_int);
    *out = ids;
    *n_out = n;
    return GP_OK;
}

/* "Node 0 MemTotal:       47925628 kB" lines. */
static void parse_meminfo(const char *text, gp_numa_node *nd)
{
    const char *line = text;
    while (line && *line) {
        unsigned long long kb;
        int id;
        char key[32];
        if (sscanf(line, "Node %d %31[^:]: %llu kB", &id, key, &kb) == 3) {
            if (!strcmp(key, "MemTotal"))
                nd->mem_total_bytes = (uint64_t)kb * 1024;
            else if (!strcmp(key, "MemFree"))
                nd->mem_free_bytes = (uint64_t)kb * 1024;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
}

/* "10 21" -> n ints, NULL when the count does not match. */
static int *parse_distance(const char *text, size_t n)
{
    int *d = calloc(n ? n : 1, sizeof(*d));
    const char *p = text;
    size_t i = 0;
    if (!d)
        return NULL;
    while (p && *p && i < n) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        d[i++] = (int)v;
        p = end;
    }
    while (p && (*p == ' ' || *p == '\t'))
        p++;
    if (i != n || (p && *p)) {
        free(d);
        return NULL;
    }
    return d;
}

int gp_sysfs_topology(const char *sysfs_root, gp_host *host, gp_error_info *err)
{
    const char *root = sysfs_root ? sysfs_root : "/sys";
    char path[4096];
    int *node_ids = NULL, *cpu_ids = NULL;
    size_t n_node_ids = 0, n_cpu_ids = 0;
    gp_numa_node *nodes = NULL;
    gp_pcpu *cpus = NULL;
    size_t n_cpus = 0;
    char *s = NULL;
    int rc;

    snprintf(path, sizeof(path), "%s/devices/system/cpu", root);
    rc = list_numbered(path, "cpu", &cpu_ids, &n_cpu_ids);
    if (rc == GP_ERR_NOMEM)
        goto nomem;
    if (rc || !n_cpu_ids) {
        rc = gp_err_set(err, GP_ERR_TOPOLOGY, "no CPUs under %s", path);
        gp_err_param(err, "sysfs-root", "%s", root);
        goto out;
    }
    snprintf(path, sizeof(path), "%s/devices/system/node", root);
    rc = list_numbered(path, "node", &node_ids, &n_node_ids);
    if (rc == GP_ERR_NOMEM)
        goto nomem;

    nodes = calloc(n_node_ids ? n_node_ids : 1, sizeof(*nodes));
    cpus = calloc(n_cpu_ids, sizeof(*cpus));
    if (!nodes || !cpus)
        goto nomem;

    if (!n_node_ids) {
        /* No NUMA in this kernel: one node with every CPU. */
        n_node_ids = 1;
        nodes[0].id = 0;
        nodes[0].socket = -1;
        nodes[0].cpus = malloc(n_cpu_ids * sizeof(int));
        if (!nodes[0].cpus)
            goto nomem;
        memcpy(nodes[0].cpus, cpu_ids, n_cpu_ids * sizeof(int));
        nodes[0].n_cpus = n_cpu_ids;
    }
    for (size_t i = 0; i < n_node_ids && node_ids; i++) {
        gp_numa_node *nd = &nodes[i];
        nd->id = node_ids[i];
        nd->socket = -1;
        snprintf(path, sizeof(path), "%s/devices/system/node/node%d/cpulist", root, nd->id);
        s = gp_read_file_trim(path);
        if (s) {
            rc = gp_cpulist_parse(s, &nd->cpus, &nd->n_cpus);
            if (rc == GP_ERR_NOMEM)
                goto nomem;
            if (rc) {
                rc = gp_err_set(err, GP_ERR_TOPOLOGY, "malformed cpulist '%s' in %s", s, path);
                gp_err_param(err, "file", "%s", path);
                goto out;
            }
            free(s);
            s = NULL;
        }
        snprintf(path, sizeof(path), "%s/devices/system/node/node%d/meminfo", root, nd->id);
        s = gp_read_file_trim(path);
        if (s) {
            parse_meminfo(s, nd);
            free(s);
            s = NULL;
        }
        snprintf(path, sizeof(path), "%s/devices/system/node/node%d/distance", root, nd->id);
        s = gp_read_file_trim(path);
        if (s) {
            nd->distances = parse_distance(s, n_node_ids);
            free(s);
            s = NULL;
        }
    }

    /* pCPUs: every CPU some node lists (online), else every cpuN dir. */
    for (size_t i = 0; i < n_cpu_ids; i++) {
        int id = cpu_ids[i];
        int node = -1;
        long core = -1, pkg = -1;
        for (size_t k = 0; k < n_node_ids && node < 0; k++)
            for (size_t c = 0; c < nodes[k].n_cpus; c++)
                if (nodes[k].cpus[c] == id) {
                    node = nodes[k].id;
                    break;
                }
        if (node < 0)
            continue;  /* offline or not in any node */
        snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%d/topology/core_id", root, id);
        if (read_long_attr(path, &core))
            core = -1;
        snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%d/topology/physical_package_id",
                 root, id);
        if (read_long_attr(path, &pkg) || pkg < 0)
            pkg = -1;
        cpus[n_cpus].id = id;
        cpus[n_cpus].node = node;
        cpus[n_cpus].socket = (int)pkg;
        /* core_id is per package: make it host-wide unique. */
        cpus[n_cpus].core = core < 0 ? -1 : (int)(pkg >= 0 ? pkg * 1000 + core : core);
        n_cpus++;
    }

    host->nodes = nodes;
    host->n_nodes = n_node_ids;
    host->cpus = cpus;
    host->n_cpus = n_cpus;
    nodes = NULL;
    cpus = NULL;
    free(host->topology_source);
    host->topology_source = gp_asprintf("sysfs:%s", root);
    rc = GP_OK;
    goto out;
nomem:
    rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
out:
    gp_numa_nodes_free(nodes, n_node_ids);
    free(cpus);
    free(node_ids);
    free(cpu_ids);
    free(s);
    return rc;
}
