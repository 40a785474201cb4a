/*
 * host_json.c - a host model as one JSON text, and back.
 *
 * On an XCP-ng pool each host's gpupool publishes the model it discovered
 * (nodes, pCPUs, GPUs, cpupools) in xapi's database, as
 * host.other_config["gpupool:host"], so that any host can answer pool-wide
 * reads and place a VM on another host without asking it (ops/cluster.c).
 * GPUs go through their field table (core/fields.c), like the host cache's
 * GPU rows, so a new GPU fact needs no change here.  The text is compact:
 * a node lists its pCPUs, a pCPU is [id, core, socket, node].
 *
 * Shape (version GP_HOST_JSON_VERSION):
 *   {"v": 1, "topology_source": s, "pci_source": s, "passthrough": true|false|null,
 *    "nodes": [{"id", "socket", "mem_total", "mem_free", "cpus": [..],
 *               "distances": [..] | null}],
 *    "cpus": [[id, core, socket, node], ...],
 *    "gpus": [ <GPU facts through gp_gpu_fields> ],
 *    "cpupools": [{"id", "name", "cpus": [..]}]}
 * Memory in bytes.  PCI functions other than GPUs are not published: IOMMU
 * groups are judged by the host that owns them.
 */
#include "core/core.h"
#include "core/fields.h"

#include <json.h>
#include <stdlib.h>
#include <string.h>

#define GP_HOST_JSON_VERSION 1

static json_object *int_array(const int *v, size_t n)
{
    json_object *a = gp_json_array_new(n);
    for (size_t i = 0; a && i < n; i++)
        json_object_array_add(a, json_object_new_int(v[i]));
    return a;
}

static json_object *opt_str(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

json_object *gp_host_to_json(const gp_host *h)
{
    json_object *o = json_object_new_object(), *nodes, *cpus, *gpus, *pools;

    if (!o)
        return NULL;
    json_object_object_add(o, "v", json_object_new_int(GP_HOST_JSON_VERSION));
    json_object_object_add(o, "topology_source", opt_str(h->topology_source));
    json_object_object_add(o, "pci_source", opt_str(h->pci_source));
    json_object_object_add(o, "passthrough", h->passthrough == GP_UNKNOWN ? NULL
                                             : json_object_new_boolean(h->passthrough == GP_YES));
    nodes = gp_json_array_new(h->n_nodes);
    json_object_object_add(o, "nodes", nodes);
    for (size_t i = 0; nodes && i < h->n_nodes; i++) {
        const gp_numa_node *n = &h->nodes[i];
        json_object *j = json_object_new_object();
        if (!j)
            goto nomem;
        json_object_array_add(nodes, j);
        json_object_object_add(j, "id", json_object_new_int(n->id));
        json_object_object_add(j, "socket", json_object_new_int(n->socket));
        json_object_object_add(j, "mem_total", json_object_new_int64((int64_t)n->mem_total_bytes));
        json_object_object_add(j, "mem_free", json_object_new_int64((int64_t)n->mem_free_bytes));
        json_object_object_add(j, "cpus", int_array(n->cpus, n->n_cpus));
        json_object_object_add(j, "distances",
                               n->distances ? int_array(n->distances, h->n_nodes) : NULL);
    }
    cpus = gp_json_array_new(h->n_cpus);
    json_object_object_add(o, "cpus", cpus);
    for (size_t i = 0; cpus && i < h->n_cpus; i++) {
        const gp_pcpu *c = &h->cpus[i];
        int v[4] = { c->id, c->core, c->socket, c->node };
        json_object_array_add(cpus, int_array(v, 4));
    }
    gpus = gp_json_array_new(h->n_gpus);
    json_object_object_add(o, "gpus", gpus);
    for (size_t i = 0; gpus && i < h->n_gpus; i++) {
        json_object *g = gp_fields_json(gp_gpu_fields, gp_gpu_n_fields, &h->gpus[i], NULL,
                                        GP_FJ_FACTS);
        if (!g)
            goto nomem;
        json_object_array_add(gpus, g);
    }
    pools = gp_json_array_new(h->n_cpupools);
    json_object_object_add(o, "cpupools", pools);
    for (size_t i = 0; pools && i < h->n_cpupools; i++) {
        const gp_cpupool *p = &h->cpupools[i];
        json_object *j = json_object_new_object();
        if (!j)
            goto nomem;
        json_object_array_add(pools, j);
        json_object_object_add(j, "id", json_object_new_int(p->id));
        json_object_object_add(j, "name", opt_str(p->name));
        json_object_object_add(j, "cpus", int_array(p->cpus, p->n_cpus));
    }
    if (!nodes || !cpus || !gpus || !pools)
        goto nomem;
    return o;
nomem:
    json_object_put(o);
    return NULL;
}

/* An array of ints into *out (malloc'ed, NULL when empty); -1 on a wrong shape. */
static int ints_from(json_object *a, int **out, size_t *n)
{
    size_t len;
    *out = NULL;
    *n = 0;
    if (!a || !json_object_is_type(a, json_type_array))
        return -1;
    len = json_object_array_length(a);
    if (!len)
        return 0;
    *out = malloc(len * sizeof(**out));
    if (!*out)
        return -1;
    for (size_t i = 0; i < len; i++) {
        json_object *v = json_object_array_get_idx(a, i);
        if (!json_object_is_type(v, json_type_int))
            return -1;
        (*out)[i] = json_object_get_int(v);
    }
    *n = len;
    return 0;
}

static json_object *member(json_object *o, const char *key, json_type type)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
        return NULL;
    return v;
}

static int str_from(json_object *o, const char *key, char **out)
{
    json_object *v = member(o, key, json_type_string);
    *out = NULL;
    if (!v)
        return 0;
    *out = strdup(json_object_get_string(v));
    return *out ? 0 : -1;
}

static int array_of(json_object *o, const char *key, size_t elem, void **arr, size_t *n)
{
    json_object *a = member(o, key, json_type_array);
    size_t len = a ? json_object_array_length(a) : 0;
    *arr = NULL;
    *n = 0;
    if (!a)
        return -1;
    if (!len)
        return 0;
    *arr = calloc(len, elem);
    if (!*arr)
        return -1;
    *n = len;
    return 0;
}

int gp_host_from_json(json_object *o, gp_host *h)
{
    json_object *v, *a;
    size_t n;

    if (!o || !json_object_is_type(o, json_type_object) ||
        !(v = member(o, "v", json_type_int)) || json_object_get_int(v) != GP_HOST_JSON_VERSION)
        return -1;
    if (str_from(o, "topology_source", &h->topology_source) ||
        str_from(o, "pci_source", &h->pci_source))
        return -1;
    v = member(o, "passthrough", json_type_boolean);
    h->passthrough = v ? (json_object_get_boolean(v) ? GP_YES : GP_NO) : GP_UNKNOWN;

    if (array_of(o, "nodes", sizeof(*h->nodes), (void **)&h->nodes, &n))
        return -1;
    a = member(o, "nodes", json_type_array);
    for (size_t i = 0; i < n; i++) {
        json_object *j = json_object_array_get_idx(a, i), *d;
        gp_numa_node *nd = &h->nodes[i];
        size_t nd_n = 0;
        h->n_nodes = i + 1;
        if (!json_object_is_type(j, json_type_object) || !(v = member(j, "id", json_type_int)))
            return -1;
        nd->id = json_object_get_int(v);
        nd->socket = (v = member(j, "socket", json_type_int)) ? json_object_get_int(v) : -1;
        nd->mem_total_bytes = (v = member(j, "mem_total", json_type_int))
                                  ? (uint64_t)json_object_get_int64(v) : 0;
        nd->mem_free_bytes = (v = member(j, "mem_free", json_type_int))
                                 ? (uint64_t)json_object_get_int64(v) : 0;
        if (ints_from(member(j, "cpus", json_type_array), &nd->cpus, &nd->n_cpus))
            return -1;
        d = member(j, "distances", json_type_array);
        if (d && (ints_from(d, &nd->distances, &nd_n) || nd_n != n))
            return -1;
    }

    if (array_of(o, "cpus", sizeof(*h->cpus), (void **)&h->cpus, &n))
        return -1;
    a = member(o, "cpus", json_type_array);
    for (size_t i = 0; i < n; i++) {
        int *c = NULL;
        size_t cn = 0;
        h->n_cpus = i + 1;
        if (ints_from(json_object_array_get_idx(a, i), &c, &cn) || cn != 4) {
            free(c);
            return -1;
        }
        h->cpus[i] = (gp_pcpu){ .id = c[0], .core = c[1], .socket = c[2], .node = c[3] };
        free(c);
    }

    if (array_of(o, "gpus", sizeof(*h->gpus), (void **)&h->gpus, &n))
        return -1;
    a = member(o, "gpus", json_type_array);
    for (size_t i = 0; i < n; i++) {
        gp_gpu *g = &h->gpus[i];
        gp_gpu_init(g);
        h->n_gpus = i + 1;
        if (gp_fields_from_json(gp_gpu_fields, gp_gpu_n_fields, json_object_array_get_idx(a, i),
                                g) ||
            !g->pci_id[0] || gp_pci_addr_parse(g->pci_id, &g->addr, NULL))
            return -1;
    }

    if (array_of(o, "cpupools", sizeof(*h->cpupools), (void **)&h->cpupools, &n))
        return -1;
    a = member(o, "cpupools", json_type_array);
    for (size_t i = 0; i < n; i++) {
        json_object *j = json_object_array_get_idx(a, i);
        gp_cpupool *p = &h->cpupools[i];
        h->n_cpupools = i + 1;
        if (!json_object_is_type(j, json_type_object) || !(v = member(j, "id", json_type_int)))
            return -1;
        p->id = json_object_get_int(v);
        if (str_from(j, "name", &p->name) ||
            ints_from(member(j, "cpus", json_type_array), &p->cpus, &p->n_cpus))
            return -1;
    }
    return 0;
}

char *gp_host_json_text(const gp_host *h)
{
    return gp_json_take_text(gp_host_to_json(h));
}

int gp_host_from_json_text(const char *text, gp_host *h)
{
    json_tokener *tok;
    json_object *o;
    int rc;

    if (!text)
        return -1;
    tok = json_tokener_new_ex(16);
    if (!tok)
        return -1;
    o = json_tokener_parse_ex(tok, text, (int)strlen(text));
    rc = (o && json_tokener_get_error(tok) == json_tokener_success) ? gp_host_from_json(o, h) : -1;
    json_object_put(o);
    json_tokener_free(tok);
    if (rc) {
        gp_host_dispose(h);
        gp_host_init(h);
    }
    return rc;
}

/* ---- an assignment as published on its VM ------------------------------------

 * VM.other_config["gpupool:placement"]: the assignment's own facts through
 * gp_assignment_fields, without what is read at display time (names, the
 * driver's memory certainty), so the text changes only when the assignment
 * does. */

static const char *const placement_volatile[] = {
    "vm_name_label", "pool_name_label", "memory_node_certainty", "memory_node_basis",
};

char *gp_placement_json_text(const gp_assignment *a)
{
    json_object *o = gp_fields_json(gp_assignment_fields, gp_assignment_n_fields, a, NULL,
                                    GP_FJ_FACTS);
    for (size_t i = 0; o && i < GP_ARRAY_SIZE(placement_volatile); i++)
        json_object_object_del(o, placement_volatile[i]);
    return gp_json_take_text(o);
}

int gp_placement_from_json_text(const char *text, gp_assignment *a)
{
    json_object *o = text ? json_tokener_parse(text) : NULL;
    int rc;
    /* Never read back what is not stored: the names, and the memory
     * certainty and basis (a static text in gp_assignment) come from
     * the reader, not from a VM's other_config that anyone may edit. */
    for (size_t i = 0; o && json_object_is_type(o, json_type_object) &&
                       i < GP_ARRAY_SIZE(placement_volatile); i++)
        json_object_object_del(o, placement_volatile[i]);
    rc = o ? gp_fields_from_json(gp_assignment_fields, gp_assignment_n_fields, o, a) : -1;
    json_object_put(o);
    if (rc == 0 && (!a->vm_uuid[0] || !a->pci_id[0] || !a->pool_uuid[0]))
        rc = -1;
    return rc;
}
