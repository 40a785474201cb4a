/*
 * hwloc.c - host topology (and, alone, the PCI devices) from hwloc XML, as
 * written by `lstopo --of xml` (hwloc 2 "version 2.0/3.0" files; hwloc 1
 * files are read too), parsed with libxml2.
 *
 *  NUMANode os_index, local_memory, cpuset   -> gp_numa_node
 *  PU os_index under Core / Package          -> gp_pcpu (core id made host-wide
 *                                              unique: package * 1000 + Core os_index)
 *  <distances2 type="NUMANode">              -> node distances (hwloc 2)
 *  <distances> latency * latency_base        -> node distances (hwloc 1)
 *  PCIDev pci_busid, pci_type                -> gp_gpu / gp_pci_function
 *  Bridge pci_busid                          -> gp_pci_function, header type 1
 *  locality: nodeset of the nearest non-I/O ancestor; one node or unknown.
 *
 * Bitmaps (cpuset, nodeset) are hex with comma-separated 32-bit words, most
 * significant first: "0x00000003", "0x000000ff,0xffffffff".
 */
#include "discover/discover.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The file is read with libxml2's SAX2 interface: no tree is built, which
 * keeps a 256-GPU, 512-PU model (600 KB) within a millisecond or two.
 */

typedef struct {
    int id;              /* os_index */
    int gp_index;        /* -1 unknown */
    int socket;          /* enclosing Package, -1 */
    uint64_t mem_bytes;
    char *cpuset;
} hw_node;

typedef struct {
    int id;
    int core;            /* host-wide core id, -1 */
    int socket;
    int core_obj;        /* serial number of the Core element, -1 */
    int core_gp;         /* gp_index of the Core, -1 */
} hw_pu;

typedef struct {
    gp_pci_addr addr;
    char pci_id[GP_PCI_ID_LEN];
    bool bridge;
    bool typed;          /* pci_type parsed */
    uint16_t class_code, vendor_id, device_id, sv, sd;
    uint8_t rev, prog_if;
    char *vendor_name, *device_name;
    bool has_nodeset;    /* the nearest non-I/O ancestor had a nodeset */
    int nodeset_node;    /* its single node, -1 when several */
    char *cpuset;        /* its cpuset, kept only without a nodeset */
    int node;            /* resolved locality, -1 */
    char parent_id[GP_PCI_ID_LEN]; /* enclosing Bridge with a pci_busid, "" none */
    char root[40];       /* enclosing host bridge's bridge_pci, "" none */
} hw_pci;

/* One open element. */
typedef struct {
    bool object;
    int package, core, core_gp, core_obj;
    ssize_t nonio_nodeset, nonio_cpuset;  /* offsets in hw_state.sbuf, -1 none */
    size_t mark;         /* sbuf length when the element opened */
    ssize_t pci;         /* index of this PCIDev/Bridge in pci, -1 */
    char pci_id[GP_PCI_ID_LEN]; /* pci_busid of this Bridge, "" otherwise */
    char root[40];       /* bridge_pci of the enclosing host bridge, "" none */
} hw_frame;

/* A distance matrix candidate. */
typedef struct {
    bool v2, latency, by_gp;
    size_t nb;
    double base;         /* hwloc 1 latency_base */
    char *indexes, *values;   /* hwloc 2 text */
    size_t len_idx, len_val;
    double *lat;         /* hwloc 1 values */
    size_t n_lat;
} hw_dist;

typedef struct {
    hw_node *nodes; size_t n_nodes, cap_nodes;
    hw_pu *pus;     size_t n_pus, cap_pus;
    hw_pci *pci;    size_t n_pci, cap_pci;
    uint64_t machine_mem;
    bool nomem;
    bool saw_topology;
    int n_cores;
    hw_frame *stack; size_t depth, cap_stack;
    char *sbuf; size_t slen, scap;  /* bitmaps of the open elements, a stack */
    hw_dist cur, best;   /* distances being read, and the chosen one */
    bool in_dist, have_best;
    int text;            /* 1 indexes, 2 values, 0 none */
    char err[256];
} hw_state;


/* SAX2 attributes: (localname, prefix, URI, value, end) quintuples. */
typedef struct {
    const xmlChar **a;
    int n;
} hw_attrs;

static bool attr_get(const hw_attrs *at, const char *name, char *buf, size_t size)
{
    for (int i = 0; i < at->n; i++) {
        const xmlChar **q = at->a + 5 * i;
        if (strcmp((const char *)q[0], name))
            continue;
        size_t len = (size_t)(q[4] - q[3]);
        if (len >= size)
            len = size - 1;
        memcpy(buf, q[3], len);
        buf[len] = '\0';
        return true;
    }
    return false;
}

static char *attr_dup(const hw_attrs *at, const char *name)
{
    for (int i = 0; i < at->n; i++) {
        const xmlChar **q = at->a + 5 * i;
        if (!strcmp((const char *)q[0], name))
            return strndup((const char *)q[3], (size_t)(q[4] - q[3]));
    }
    return NULL;
}

/* Copy attribute name onto the string stack; its offset, or -1. */
static ssize_t attr_push(hw_state *st, const hw_attrs *at, const char *name)
{
    for (int i = 0; i < at->n; i++) {
        const xmlChar **q = at->a + 5 * i;
        if (strcmp((const char *)q[0], name))
            continue;
        size_t len = (size_t)(q[4] - q[3]);
        if (st->slen + len + 1 > st->scap) {
            size_t nc = st->scap ? st->scap * 2 : 4096;
            while (nc < st->slen + len + 1)
                nc *= 2;
            char *nb = realloc(st->sbuf, nc);
            if (!nb) {
                st->nomem = true;
                return -1;
            }
            st->sbuf = nb;
            st->scap = nc;
        }
        ssize_t off = (ssize_t)st->slen;
        memcpy(st->sbuf + st->slen, q[3], len);
        st->sbuf[st->slen + len] = '\0';
        st->slen += len + 1;
        return off;
    }
    return -1;
}

static long attr_long(const hw_attrs *at, const char *name, long dflt)
{
    char buf[64], *end;
    if (!attr_get(at, name, buf, sizeof(buf)) || !buf[0])
        return dflt;
    long v = strtol(buf, &end, 10);
    return end == buf ? dflt : v;
}

static uint64_t attr_u64(const hw_attrs *at, const char *name)
{
    char buf[64];
    return attr_get(at, name, buf, sizeof(buf)) ? strtoull(buf, NULL, 10) : 0;
}

/*
 * Set bits of an hwloc bitmap string.  Returns the number of bits written to
 * out (at most max), or -1 for malformed or infinite ("0xf...f") bitmaps,
 * -2 when more than max bits are set.
 */
static int bitmap_bits(const char *s, int *out, int max)
{
    const char *words[1024];
    int n_words = 0, n = 0;
    const char *p = s;

    if (!s || !*s)
        return -1;
    while (*p) {
        if (n_words == (int)GP_ARRAY_SIZE(words))
            return -1;
        words[n_words++] = p;
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
    }
    for (int w = 0; w < n_words; w++) {
        const char *q = words[n_words - 1 - w];  /* least significant first */
        char *end;
        if (!strncmp(q, "0xf...f", 7))
            return -1;
        /* hwloc writes an all-zero 32-bit word as nothing: "0xff,,,0x1". */
        if (*q == ',' || *q == '\0')
            continue;
        unsigned long v = strtoul(q, &end, 16);
        if (end == q || (*end && *end != ','))
            return -1;
        for (int b = 0; b < 32; b++)
            if (v & (1ul << b)) {
                if (n == max)
                    return -2;
                out[n++] = w * 32 + b;
            }
    }
    return n;
}

/* The single node of a nodeset, else -1. */
static int nodeset_single(const char *nodeset)
{
    int bits[2];
    int n = bitmap_bits(nodeset, bits, 2);
    return n == 1 ? bits[0] : -1;
}

static bool is_io_type(const char *t)
{
    return !strcmp(t, "Bridge") || !strcmp(t, "PCIDev") || !strcmp(t, "OSDev") ||
           !strcmp(t, "Misc");
}

/* Next hex field of pci_type: skips the separators in seps first. */
static bool type_field(const char **p, const char *seps, unsigned long max, unsigned long *v)
{
    char *end;
    while (**p && strchr(seps, **p))
        (*p)++;
    *v = strtoul(*p, &end, 16);
    if (end == *p || *v > max)
        return false;
    *p = end;
    return true;
}

/* pci_type="CCCC [VVVV:DDDD] [SSSS:SSSS] RR PP" (class, ids, subsystem,
 * revision, prog-if). */
static bool parse_pci_type(const char *s, hw_pci *p)
{
    unsigned long v[7];
    const char *q = s;
    static const char *const seps[7] = { " ", " [", ":", "] [", ":", "] ", " " };
    for (int i = 0; i < 7; i++)
        if (!type_field(&q, seps[i], i < 5 ? 0xffff : 0xff, &v[i]))
            return false;
    p->class_code = (uint16_t)v[0];
    p->vendor_id = (uint16_t)v[1];
    p->device_id = (uint16_t)v[2];
    p->sv = (uint16_t)v[3];
    p->sd = (uint16_t)v[4];
    p->rev = (uint8_t)v[5];
    p->prog_if = (uint8_t)v[6];
    return true;
}

static ssize_t read_pci(hw_state *st, const hw_attrs *at, bool bridge, const hw_frame *parent)
{
    char busid[64], type[128];
    hw_pci *p;
    gp_pci_addr a;

    if (!attr_get(at, "pci_busid", busid, sizeof(busid)) || gp_pci_addr_parse(busid, &a, NULL))
        return -1;  /* host bridge, or nothing we can name */
    if (gp_array_reserve((void **)&st->pci, &st->cap_pci, st->n_pci, sizeof(*st->pci))) {
        st->nomem = true;
        return -1;
    }
    p = &st->pci[st->n_pci];
    memset(p, 0, sizeof(*p));
    p->addr = a;
    gp_pci_addr_format(&a, p->pci_id);
    p->bridge = bridge;
    p->node = -1;
    if (attr_get(at, "pci_type", type, sizeof(type)))
        p->typed = parse_pci_type(type, p);
    p->nodeset_node = -1;
    if (parent) {
        memcpy(p->parent_id, parent->pci_id, sizeof(p->parent_id));
        memcpy(p->root, parent->root, sizeof(p->root));
    }
    if (parent && parent->nonio_nodeset >= 0) {
        p->has_nodeset = true;
        p->nodeset_node = nodeset_single(st->sbuf + parent->nonio_nodeset);
    } else if (parent && parent->nonio_cpuset >= 0) {
        p->cpuset = strdup(st->sbuf + parent->nonio_cpuset);
        if (!p->cpuset) {
            st->nomem = true;
            return -1;
        }
    }
    return (ssize_t)st->n_pci++;
}

static void object_start(hw_state *st, const hw_attrs *at, hw_frame *f, const hw_frame *parent)
{
    char type[32];

    if (!attr_get(at, "type", type, sizeof(type)))
        type[0] = '\0';
    if (!strcmp(type, "Package") || !strcmp(type, "Socket")) {
        f->package = (int)attr_long(at, "os_index", -1);
    } else if (!strcmp(type, "Core")) {
        long os = attr_long(at, "os_index", -1);
        f->core_gp = (int)attr_long(at, "gp_index", -1);
        f->core_obj = st->n_cores++;
        f->core = os < 0 ? -1 : (f->package >= 0 ? f->package * 1000 + (int)os : (int)os);
    } else if (!strcmp(type, "PU")) {
        if (gp_array_reserve((void **)&st->pus, &st->cap_pus, st->n_pus, sizeof(*st->pus))) {
            st->nomem = true;
            return;
        }
        hw_pu *u = &st->pus[st->n_pus];
        u->id = (int)attr_long(at, "os_index", -1);
        u->core = f->core;
        u->core_gp = f->core_gp;
        u->core_obj = f->core_obj;
        u->socket = f->package;
        if (u->id >= 0)
            st->n_pus++;
    } else if (!strcmp(type, "NUMANode")) {
        if (gp_array_reserve((void **)&st->nodes, &st->cap_nodes, st->n_nodes, sizeof(*st->nodes))) {
            st->nomem = true;
            return;
        }
        hw_node *nd = &st->nodes[st->n_nodes];
        nd->id = (int)attr_long(at, "os_index", -1);
        nd->gp_index = (int)attr_long(at, "gp_index", -1);
        nd->mem_bytes = attr_u64(at, "local_memory");
        nd->cpuset = attr_dup(at, "cpuset");
        nd->socket = f->package;
        if (nd->id >= 0)
            st->n_nodes++;
        else
            free(nd->cpuset);
    } else if (!strcmp(type, "Machine")) {
        st->machine_mem = attr_u64(at, "local_memory");
    } else if (!strcmp(type, "PCIDev")) {
        f->pci = read_pci(st, at, false, parent);
    } else if (!strcmp(type, "Bridge")) {
        f->pci = read_pci(st, at, true, parent);
        if (f->pci >= 0)
            memcpy(f->pci_id, st->pci[f->pci].pci_id, sizeof(f->pci_id));
        else if (!attr_get(at, "bridge_pci", f->root, sizeof(f->root)))
            f->root[0] = '\0';  /* a host bridge names the buses below it */
    }
    if (type[0] && !is_io_type(type)) {
        f->nonio_nodeset = attr_push(st, at, "nodeset");
        f->nonio_cpuset = attr_push(st, at, "cpuset");
    }
}

static void dist_clear(hw_dist *d)
{
    free(d->indexes);
    free(d->values);
    free(d->lat);
    memset(d, 0, sizeof(*d));
}

static void text_append(hw_state *st, char **buf, size_t *len, const char *s, size_t n)
{
    char *nb = realloc(*buf, *len + n + 2);
    if (!nb) {
        st->nomem = true;
        return;
    }
    memcpy(nb + *len, s, n);
    *len += n;
    nb[(*len)++] = ' ';
    nb[*len] = '\0';
    *buf = nb;
}

static void sax_start(void *ud, const xmlChar *localname, const xmlChar *prefix,
                      const xmlChar *uri, int nb_ns, const xmlChar **ns, int nb_attrs,
                      int nb_defaulted, const xmlChar **attrs)
{
    hw_state *st = ud;
    const char *name = (const char *)localname;
    hw_attrs at = { attrs, nb_attrs };
    hw_frame *f, *parent;

    (void)prefix; (void)uri; (void)nb_ns; (void)ns; (void)nb_defaulted;
    if (st->nomem)
        return;
    if (gp_array_reserve((void **)&st->stack, &st->cap_stack, st->depth, sizeof(*st->stack))) {
        st->nomem = true;
        return;
    }
    f = &st->stack[st->depth];
    parent = st->depth ? &st->stack[st->depth - 1] : NULL;
    st->depth++;
    memset(f, 0, sizeof(*f));
    f->pci = -1;
    f->mark = st->slen;
    f->nonio_nodeset = f->nonio_cpuset = -1;
    if (parent) {
        f->package = parent->package;
        f->core = parent->core;
        f->core_gp = parent->core_gp;
        f->core_obj = parent->core_obj;
        f->nonio_nodeset = parent->nonio_nodeset;
        f->nonio_cpuset = parent->nonio_cpuset;
        memcpy(f->root, parent->root, sizeof(f->root));
    } else {
        f->package = f->core = f->core_gp = f->core_obj = -1;
    }

    if (st->depth == 1) {
        st->saw_topology = !strcmp(name, "topology");
        return;
    }
    if (!strcmp(name, "object")) {
        f->object = true;
        object_start(st, &at, f, parent);
    } else if (!strcmp(name, "info")) {
        /* PCIVendor / PCIDevice of the PCI object we are in. */
        if (parent && parent->pci >= 0) {
            char key[32];
            hw_pci *p = &st->pci[parent->pci];
            if (attr_get(&at, "name", key, sizeof(key))) {
                char **dst = !strcmp(key, "PCIVendor") ? &p->vendor_name
                           : !strcmp(key, "PCIDevice") ? &p->device_name : NULL;
                if (dst && !*dst) {
                    *dst = attr_dup(&at, "value");
                    if (*dst && !**dst) {
                        free(*dst);
                        *dst = NULL;
                    }
                }
            }
        }
    } else if (st->depth == 2 && !strcmp(name, "distances2")) {
        char t[32], n[64];
        if (!attr_get(&at, "type", t, sizeof(t)) || strcmp(t, "NUMANode"))
            return;
        dist_clear(&st->cur);
        st->in_dist = true;
        st->cur.v2 = true;
        st->cur.nb = (size_t)attr_long(&at, "nbobjs", 0);
        /* kind bit 4: HWLOC_DISTANCES_KIND_MEANS_LATENCY */
        st->cur.latency = (attr_long(&at, "kind", 0) & 4) ||
                          (attr_get(&at, "name", n, sizeof(n)) && !strcmp(n, "NUMALatency"));
        if (attr_get(&at, "indexing", t, sizeof(t)))
            st->cur.by_gp = !strcmp(t, "gp");
    } else if (st->depth == 2 && !strcmp(name, "distances")) {
        char b[64];
        dist_clear(&st->cur);
        st->in_dist = true;
        st->cur.nb = (size_t)attr_long(&at, "nbobjs", 0);
        st->cur.base = attr_get(&at, "latency_base", b, sizeof(b)) ? strtod(b, NULL) : 1.0;
        if (st->cur.base <= 0)
            st->cur.base = 1.0;
    } else if (st->in_dist && st->depth == 3) {
        if (!strcmp(name, "indexes"))
            st->text = 1;
        else if (!strcmp(name, "u64values") || !strcmp(name, "values"))
            st->text = 2;
        else if (!strcmp(name, "latency") && !st->cur.v2) {
            char v[64];
            double *nl = realloc(st->cur.lat, (st->cur.n_lat + 1) * sizeof(*nl));
            if (!nl) {
                st->nomem = true;
                return;
            }
            st->cur.lat = nl;
            nl[st->cur.n_lat++] = attr_get(&at, "value", v, sizeof(v)) ? strtod(v, NULL) : 0;
        }
    }
}

static void sax_end(void *ud, const xmlChar *localname, const xmlChar *prefix,
                    const xmlChar *uri)
{
    hw_state *st = ud;
    (void)localname; (void)prefix; (void)uri;
    if (!st->depth)
        return;
    hw_frame *f = &st->stack[--st->depth];
    st->slen = f->mark;
    if (st->depth == 2)
        st->text = 0;
    if (st->depth == 1 && st->in_dist) {
        /* First NUMANode matrix wins; a latency one replaces a non-latency
         * one; hwloc 2 matrices replace hwloc 1 ones. */
        st->in_dist = false;
        bool take = !st->have_best ||
                    (st->cur.v2 && !st->best.v2) ||
                    (st->cur.v2 == st->best.v2 && st->cur.latency && !st->best.latency);
        if (take) {
            dist_clear(&st->best);
            st->best = st->cur;
            memset(&st->cur, 0, sizeof(st->cur));
            st->have_best = true;
        } else {
            dist_clear(&st->cur);
        }
    }
}

static void sax_chars(void *ud, const xmlChar *ch, int len)
{
    hw_state *st = ud;
    if (!st->in_dist || !st->text || st->nomem)
        return;
    if (st->text == 1)
        text_append(st, &st->cur.indexes, &st->cur.len_idx, (const char *)ch, (size_t)len);
    else
        text_append(st, &st->cur.values, &st->cur.len_val, (const char *)ch, (size_t)len);
}

static void sax_error(void *ud, xmlErrorPtr e)
{
    hw_state *st = ud;
    if (!st->err[0] && e && e->level >= XML_ERR_ERROR) {
        snprintf(st->err, sizeof(st->err), "line %d: %s", e->line,
                 e->message ? e->message : "error");
        size_t l = strlen(st->err);
        while (l && (st->err[l - 1] == '\n' || st->err[l - 1] == ' '))
            st->err[--l] = '\0';
    }
}

/* Numbers of a whitespace-separated list into v (at most max); count. */
static size_t parse_numbers(const char *s, double *v, size_t max)
{
    size_t n = 0;
    const char *p = s;
    while (p && *p && n < max) {
        char *end;
        double x = strtod(p, &end);
        if (end == p)
            break;
        v[n++] = x;
        p = end;
    }
    return n;
}

/*
 * Distances between nodes, as dist[i * n + j] over st->nodes order (0 when a
 * pair is unknown).  NULL when the file has no usable matrix.
 */
static int *read_distances(hw_state *st)
{
    size_t n = st->n_nodes;
    const hw_dist *b = &st->best;
    int *dist = NULL, *map = NULL;
    double *idx = NULL, *val = NULL;

    if (n == 0 || !st->have_best || b->nb == 0 || b->nb > 4096)
        return NULL;
    dist = calloc(n * n, sizeof(*dist));
    if (!dist)
        goto fail;
    if (b->v2) {
        size_t nb = b->nb;
        idx = calloc(nb, sizeof(*idx));
        val = calloc(nb * nb, sizeof(*val));
        map = malloc(nb * sizeof(*map));
        if (!idx || !val || !map || !b->indexes || !b->values)
            goto fail;
        if (parse_numbers(b->indexes, idx, nb) != nb ||
            parse_numbers(b->values, val, nb * nb) != nb * nb)
            goto fail;
        for (size_t i = 0; i < nb; i++) {
            map[i] = -1;
            for (size_t k = 0; k < n; k++)
                if ((b->by_gp ? st->nodes[k].gp_index : st->nodes[k].id) == (int)idx[i])
                    map[i] = (int)k;
        }
        for (size_t i = 0; i < nb; i++)
            for (size_t j = 0; j < nb; j++)
                if (map[i] >= 0 && map[j] >= 0)
                    dist[(size_t)map[i] * n + (size_t)map[j]] = (int)val[i * nb + j];
    } else {
        /* hwloc 1: nbobjs x nbobjs latencies in logical (document) order,
         * relative to latency_base; only when they are the NUMA nodes. */
        if (b->nb != n || b->n_lat != n * n)
            goto fail;
        for (size_t k = 0; k < n * n; k++)
            dist[k] = (int)(b->lat[k] * b->base + 0.5);
    }
    free(idx);
    free(val);
    free(map);
    return dist;
fail:
    free(dist);
    free(idx);
    free(val);
    free(map);
    return NULL;
}

/* Node of a PCI device: the nodeset of its nearest non-I/O ancestor when it
 * names one node; else its cpuset when all those PUs sit on one node. */
static int pci_locality(const hw_state *st, const hw_pci *p, const int *pu_node)
{
    if (p->has_nodeset)
        return p->nodeset_node;
    if (p->cpuset) {
        int bits[4096];
        int nb = bitmap_bits(p->cpuset, bits, (int)GP_ARRAY_SIZE(bits));
        int node = -1;
        if (nb <= 0)
            return -1;
        for (int i = 0; i < nb; i++) {
            int pn = -1;
            for (size_t k = 0; k < st->n_pus; k++)
                if (st->pus[k].id == bits[i])
                    pn = pu_node[k];
            if (pn < 0 || (node >= 0 && pn != node))
                return -1;
            node = pn;
        }
        return st->n_nodes ? st->nodes[node].id : 0;
    }
    return -1;
}

static void hw_state_free(hw_state *st)
{
    for (size_t i = 0; i < st->n_nodes; i++)
        free(st->nodes[i].cpuset);
    free(st->nodes);
    free(st->pus);
    for (size_t i = 0; i < st->n_pci; i++) {
        free(st->pci[i].vendor_name);
        free(st->pci[i].device_name);
        free(st->pci[i].cpuset);
    }
    free(st->pci);
    free(st->stack);
    free(st->sbuf);
    dist_clear(&st->cur);
    dist_clear(&st->best);
    memset(st, 0, sizeof(*st));
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && size < (1L << 30) &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1))) {
        if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
            free(buf);
            buf = NULL;
        } else {
            buf[size] = '\0';
            *len = (size_t)size;
        }
    }
    fclose(f);
    return buf;
}

static void pci_dedupe(hw_state *st);

static int hw_parse(const char *path, const char *buf, size_t len, hw_state *st,
                    gp_error_info *err)
{
    const char *what = path ? path : "embedded host";
    xmlSAXHandler sax;
    char *file = NULL;
    int rc;

    memset(st, 0, sizeof(*st));
    if (path) {
        file = slurp(path, &len);
        if (!file) {
            gp_err_set(err, GP_ERR_IO, "cannot read hwloc topology %s", path);
            gp_err_param(err, "file", "%s", path);
            return GP_ERR_IO;
        }
        buf = file;
    }
    if (len > INT32_MAX) {
        free(file);
        return gp_err_set(err, GP_ERR_TOPOLOGY, "%s is too large", what);
    }
    memset(&sax, 0, sizeof(sax));
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = sax_start;
    sax.endElementNs = sax_end;
    sax.characters = sax_chars;
    sax.serror = sax_error;
    xmlInitParser();
    rc = xmlSAXUserParseMemory(&sax, st, buf, (int)len);
    free(file);
    if (st->nomem) {
        hw_state_free(st);
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    }
    if (rc || st->err[0]) {
        gp_err_set(err, GP_ERR_TOPOLOGY, "%s is not well-formed XML (%s)", what,
                   st->err[0] ? st->err : "parse error");
        gp_err_param(err, "file", "%s", what);
        hw_state_free(st);
        return GP_ERR_TOPOLOGY;
    }
    if (!st->saw_topology) {
        gp_err_set(err, GP_ERR_TOPOLOGY, "%s is not an hwloc topology (no <topology>)", what);
        gp_err_param(err, "file", "%s", what);
        hw_state_free(st);
        return GP_ERR_TOPOLOGY;
    }
    if (!st->n_pus) {
        gp_err_set(err, GP_ERR_TOPOLOGY, "%s has no PU objects", what);
        gp_err_param(err, "file", "%s", what);
        hw_state_free(st);
        return GP_ERR_TOPOLOGY;
    }
    pci_dedupe(st);
    return GP_OK;
}

/* node index of each PU (st->pus order), -1 when in no node's cpuset. */
static int *pu_nodes(const hw_state *st)
{
    int max_id = 0;
    for (size_t k = 0; k < st->n_pus; k++)
        if (st->pus[k].id > max_id)
            max_id = st->pus[k].id;
    int *pn = malloc((st->n_pus ? st->n_pus : 1) * sizeof(*pn));
    int *bits = malloc(((size_t)max_id + 2) * sizeof(*bits));
    int *slot = malloc(((size_t)max_id + 1) * sizeof(*slot));  /* PU id -> k */
    if (!pn || !bits || !slot) {
        free(pn);
        free(bits);
        free(slot);
        return NULL;
    }
    for (int i = 0; i <= max_id; i++)
        slot[i] = -1;
    for (size_t k = 0; k < st->n_pus; k++) {
        pn[k] = st->n_nodes ? -1 : 0;
        slot[st->pus[k].id] = (int)k;
    }
    for (size_t i = 0; i < st->n_nodes; i++) {
        int nb = bitmap_bits(st->nodes[i].cpuset, bits, max_id + 2);
        for (int b = 0; b < nb; b++)
            if (bits[b] <= max_id && slot[bits[b]] >= 0 && pn[slot[bits[b]]] < 0)
                pn[slot[bits[b]]] = (int)i;
    }
    free(bits);
    free(slot);
    return pn;
}

static int pci_order_cmp(const void *x, const void *y)
{
    const hw_pci *a = x, *b = y;
    if (a->addr.domain != b->addr.domain)
        return a->addr.domain < b->addr.domain ? -1 : 1;
    if (a->addr.bus != b->addr.bus)
        return a->addr.bus < b->addr.bus ? -1 : 1;
    if (a->addr.dev != b->addr.dev)
        return a->addr.dev < b->addr.dev ? -1 : 1;
    if (a->addr.func != b->addr.func)
        return a->addr.func < b->addr.func ? -1 : 1;
    return (a->node > b->node) - (a->node < b->node);  /* file order */
}

/* Sort the PCI objects by address and drop repeats (a real file lists one
 * bus id twice): the first in file order stays. */
static void pci_dedupe(hw_state *st)
{
    size_t w = 0;
    for (size_t i = 0; i < st->n_pci; i++)
        st->pci[i].node = (int)i;  /* file order, as tie-break */
    qsort(st->pci, st->n_pci, sizeof(*st->pci), pci_order_cmp);
    for (size_t i = 0; i < st->n_pci; i++) {
        hw_pci *p = &st->pci[i];
        const gp_pci_addr *q = w ? &st->pci[w - 1].addr : NULL;
        if (q && q->domain == p->addr.domain && q->bus == p->addr.bus &&
            q->dev == p->addr.dev && q->func == p->addr.func) {
            free(p->vendor_name);
            free(p->device_name);
            free(p->cpuset);
            continue;
        }
        p->node = -1;
        st->pci[w++] = *p;
    }
    st->n_pci = w;
}

static int pu_cmp_core(const void *x, const void *y)
{
    const hw_pu *a = x, *b = y;
    return (a->core > b->core) - (a->core < b->core);
}

/* Core ids must be unique host-wide: if package*1000+os_index collides
 * (dies, odd numbering), fall back to the Cores' gp_index. */
static void make_cores_unique(hw_state *st)
{
    hw_pu *tmp = malloc((st->n_pus ? st->n_pus : 1) * sizeof(*tmp));
    bool clash = false;
    if (!tmp)
        return;
    memcpy(tmp, st->pus, st->n_pus * sizeof(*tmp));
    qsort(tmp, st->n_pus, sizeof(*tmp), pu_cmp_core);
    for (size_t i = 1; i < st->n_pus; i++)
        if (tmp[i].core >= 0 && tmp[i].core == tmp[i - 1].core &&
            tmp[i].core_obj != tmp[i - 1].core_obj)
            clash = true;
    free(tmp);
    if (clash)
        for (size_t i = 0; i < st->n_pus; i++)
            st->pus[i].core = st->pus[i].core_obj >= 0 ? st->pus[i].core_gp : -1;
}

static int fill_gpu_from_pci(const gp_config *cfg, const hw_pci *p, const hw_state *st,
                             gp_gpu *g, gp_error_info *err)
{
    gp_gpu_init(g);
    memcpy(g->pci_id, p->pci_id, sizeof(g->pci_id));
    g->addr = p->addr;
    g->vendor_id = p->vendor_id;
    g->device_id = p->device_id;
    g->subsys_vendor_id = p->sv;
    g->subsys_device_id = p->sd;
    g->class_code = p->class_code;
    g->prog_if = p->prog_if;
    g->revision = p->rev;
    g->numa_node = p->node;
    if (g->class_code != 0x0300)
        g->boot_vga = GP_NO;  /* only VGA-class functions can be the boot VGA */
    g->vendor_name = gp_strdup(p->vendor_name);
    g->device_name = gp_strdup(p->device_name);
    g->source = strdup("hwloc");
    if ((p->vendor_name && !g->vendor_name) || (p->device_name && !g->device_name) ||
        !g->source)
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    (void)cfg;
    for (size_t j = 0; j < st->n_pci; j++) {
        const hw_pci *o = &st->pci[j];
        if (o == p || o->addr.domain != p->addr.domain || o->addr.bus != p->addr.bus ||
            o->addr.dev != p->addr.dev)
            continue;
        gp_companion *nc = realloc(g->companions, (g->n_companions + 1) * sizeof(*nc));
        if (!nc)
            return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        g->companions = nc;
        gp_companion *c = &nc[g->n_companions++];
        memset(c, 0, sizeof(*c));
        memcpy(c->pci_id, o->pci_id, sizeof(c->pci_id));
        c->class_code = o->bridge && !o->typed ? 0x0604 : o->class_code;
        c->vendor_id = o->vendor_id;
        c->device_id = o->device_id;
    }
    /* Names the file did not carry come from pci.ids (one load per process). */
    return gp_pci_fill_names(g, err);
}

int gp_hwloc_load(const char *path, const char *buf, size_t len,
                  const gp_config *cfg, bool with_pci,
                  gp_host *host, gp_error_info *err)
{
    hw_state st;
    int *pn = NULL, *dist = NULL;
    gp_numa_node *nodes = NULL;
    gp_pcpu *cpus = NULL;
    gp_gpu *gpus = NULL;
    size_t n_gpus = 0, n_nodes = 0;
    gp_pci_function *fns = NULL;
    char *tsrc = NULL, *psrc = NULL;
    int rc;

    rc = hw_parse(path, buf, len, &st, err);
    if (rc)
        return rc;
    make_cores_unique(&st);
    pn = pu_nodes(&st);
    n_nodes = st.n_nodes ? st.n_nodes : 1;
    nodes = calloc(n_nodes, sizeof(*nodes));
    cpus = calloc(st.n_pus, sizeof(*cpus));
    tsrc = path ? gp_asprintf("hwloc:%s", path) : gp_strdup(GP_TOPOLOGY_EMBEDDED);
    if (!pn || !nodes || !cpus || !tsrc)
        goto nomem;
    dist = read_distances(&st);

    for (size_t i = 0; i < n_nodes; i++) {
        gp_numa_node *nd = &nodes[i];
        size_t c = 0;
        if (st.n_nodes) {
            nd->id = st.nodes[i].id;
            nd->socket = st.nodes[i].socket;
            nd->mem_total_bytes = st.nodes[i].mem_bytes;
        } else {
            /* No NUMANode (hwloc 1, UMA machine): one node of everything. */
            nd->id = 0;
            nd->socket = -1;
            nd->mem_total_bytes = st.machine_mem;
        }
        nd->mem_free_bytes = nd->mem_total_bytes;
        nd->cpus = malloc((st.n_pus ? st.n_pus : 1) * sizeof(int));
        if (!nd->cpus)
            goto nomem;
        for (size_t k = 0; k < st.n_pus; k++)
            if (pn[k] == (int)i)
                nd->cpus[c++] = st.pus[k].id;
        nd->n_cpus = c;
        if (dist) {
            nd->distances = malloc(n_nodes * sizeof(int));
            if (!nd->distances)
                goto nomem;
            memcpy(nd->distances, dist + i * n_nodes, n_nodes * sizeof(int));
        }
    }
    for (size_t k = 0; k < st.n_pus; k++) {
        cpus[k].id = st.pus[k].id;
        cpus[k].core = st.pus[k].core;
        cpus[k].socket = st.pus[k].socket;
        cpus[k].node = pn[k] >= 0 ? nodes[pn[k]].id : -1;
    }

    if (with_pci) {
        for (size_t i = 0; i < st.n_pci; i++)
            st.pci[i].node = pci_locality(&st, &st.pci[i], pn);
        fns = calloc(st.n_pci ? st.n_pci : 1, sizeof(*fns));
        gpus = calloc(st.n_pci ? st.n_pci : 1, sizeof(*gpus));
        psrc = path ? gp_asprintf("hwloc:%s", path) : gp_strdup(GP_TOPOLOGY_EMBEDDED);
        if (!fns || !gpus || !psrc)
            goto nomem;
        for (size_t i = 0; i < st.n_pci; i++) {
            const hw_pci *p = &st.pci[i];
            memcpy(fns[i].pci_id, p->pci_id, sizeof(fns[i].pci_id));
            fns[i].class_code = p->bridge && !p->typed ? 0x0604 : p->class_code;
            fns[i].header_type = (p->bridge || p->class_code == 0x0604) ? 1 : 0;
            fns[i].iommu_group = -1;
            if (p->bridge || !p->typed || !gp_class_is_gpu(cfg, p->class_code, p->vendor_id))
                continue;
            rc = fill_gpu_from_pci(cfg, p, &st, &gpus[n_gpus], err);
            n_gpus++;
            if (rc)
                goto out;
        }
    }

    /* Hand over. */
    gp_host_dispose(host);
    host->nodes = nodes;
    host->n_nodes = n_nodes;
    host->cpus = cpus;
    host->n_cpus = st.n_pus;
    host->topology_source = tsrc;
    nodes = NULL;
    cpus = NULL;
    tsrc = NULL;
    if (with_pci) {
        host->gpus = gpus;
        host->n_gpus = n_gpus;
        host->functions = fns;
        host->n_functions = st.n_pci;
        host->pci_source = psrc;
        gpus = NULL;
        n_gpus = 0;
        fns = NULL;
        psrc = NULL;
    }
    rc = GP_OK;
    goto out;
nomem:
    rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
out:
    gp_numa_nodes_free(nodes, n_nodes);
    for (size_t i = 0; i < n_gpus; i++)
        gp_gpu_dispose(&gpus[i]);
    free(gpus);
    free(fns);
    free(cpus);
    free(tsrc);
    free(psrc);
    free(dist);
    free(pn);
    hw_state_free(&st);
    return rc;
}

int gp_hwloc_apply_locality(const char *path, gp_host *host, gp_error_info *err)
{
    hw_state st;
    int *pn;
    int rc;

    if (path && !strcmp(path, GP_TOPOLOGY_EMBEDDED))
        rc = hw_parse(NULL, gp_embedded_host_xml, gp_embedded_host_xml_len, &st, err);
    else
        rc = hw_parse(path, NULL, 0, &st, err);
    if (rc)
        return rc;
    pn = pu_nodes(&st);
    if (!pn) {
        hw_state_free(&st);
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < host->n_gpus; i++) {
        gp_gpu *g = &host->gpus[i];
        if (g->numa_node >= 0)
            continue;
        for (size_t k = 0; k < st.n_pci; k++)
            if (!strcmp(st.pci[k].pci_id, g->pci_id)) {
                g->numa_node = pci_locality(&st, &st.pci[k], pn);
                break;
            }
    }
    free(pn);
    hw_state_free(&st);
    return GP_OK;
}

/* ---- the PCI hierarchy (host-validate) ------------------------------------------- */

int gp_hwloc_pci_tree(const char *path, gp_pci_tree *out, gp_error_info *err)
{
    hw_state st;
    int *pn = NULL;
    int rc;

    gp_pci_tree_init(out);
    if (path)
        rc = hw_parse(path, NULL, 0, &st, err);
    else
        rc = hw_parse(NULL, gp_embedded_host_xml, gp_embedded_host_xml_len, &st, err);
    if (rc)
        return rc;
    pn = pu_nodes(&st);
    out->nodes = calloc(st.n_pci ? st.n_pci : 1, sizeof(*out->nodes));
    out->how = path ? gp_asprintf("hwloc Bridge objects of %s", path)
                    : gp_strdup("hwloc Bridge objects of the embedded host");
    if (!pn || !out->nodes || !out->how)
        goto nomem;
    for (size_t i = 0; i < st.n_pci; i++) {
        const hw_pci *p = &st.pci[i];
        gp_pci_node *n = &out->nodes[out->n_nodes++];
        memcpy(n->pci_id, p->pci_id, sizeof(n->pci_id));
        n->class_code = p->bridge && !p->typed ? 0x0604 : p->class_code;
        n->vendor_id = p->vendor_id;
        n->device_id = p->device_id;
        n->bridge = p->bridge;
        n->numa_node = pci_locality(&st, p, pn);
        if (p->root[0] && !(n->root = strdup(p->root)))
            goto nomem;
        /* Bridges up to the host bridge: bounded by the number of objects. */
        const char *up = p->parent_id;
        for (size_t hops = 0; *up && hops < st.n_pci; hops++) {
            char *id = strdup(up);
            char **v = id ? realloc(n->chain, (n->n_chain + 1) * sizeof(*v)) : NULL;
            if (!v) {
                free(id);
                goto nomem;
            }
            n->chain = v;
            memmove(v + 1, v, n->n_chain * sizeof(*v));
            v[0] = id;
            n->n_chain++;
            const hw_pci *q = NULL;
            for (size_t k = 0; k < st.n_pci && !q; k++)
                if (!strcmp(st.pci[k].pci_id, up))
                    q = &st.pci[k];
            up = q ? q->parent_id : "";
        }
    }
    rc = GP_OK;
    goto out;
nomem:
    rc = gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    gp_pci_tree_dispose(out);
out:
    free(pn);
    hw_state_free(&st);
    return rc;
}
