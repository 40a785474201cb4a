/*
 * draw.c - a picture of the host (or of every host of an XCP-ng pool) as
 * SVG 1.1, written with libxml2's xmlTextWriter (docs/host-draw.md).
 *
 * One panel per host: its sockets, the NUMA nodes inside them, each node's
 * pCPUs as cells coloured by the VM whose assignment pins vCPUs there, the
 * node's memory (total, free, and what gpupool's assignments put there) and
 * the GPUs attached to the node with their pool and holding VM.  GPUs and
 * pCPUs of no known node are drawn apart.  A legend maps each colour to a
 * VM (name-label, uuid, power state).  Colours come from a fixed palette
 * in the order of VM name-label then uuid, coordinates are integers and
 * every list is walked in its sorted order, so the same state gives the
 * same bytes.
 *
 * Two passes over one layout: the sizes (node_h, socket_w, panel_h, ...)
 * are functions of the model only, so the root's viewBox is known before
 * anything is written.
 */
#include "ops/xstate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libxml/xmlwriter.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the scene: what is drawn, gathered from the model and the state -------------- */

typedef struct {
    const char *uuid;
    const char *name;      /* NULL when the driver does not know it */
    const char *state;     /* "running", ...; NULL unknown */
    char colour[8];        /* "#rrggbb" */
} dvm;

typedef struct {
    const char *pool;      /* name-label; NULL in no pool */
    size_t vm;             /* index in the scene's VMs; NO_VM when free */
    char stranded[48];     /* why the free GPU cannot be used (gp_strand_reasons:
                              "no-pcpus,no-memory"); "" when not stranded */
} dgpu;

typedef struct {
    char *title;                  /* owned */
    char *subtitle;               /* owned */
    const gp_host *h;             /* NULL: the host published no facts */
    dgpu *gpus;                   /* h->n_gpus, owned */
    const gp_assignment **asgs;   /* this host's assignments (borrowed), owned array */
    size_t n_asgs;
} dpanel;

typedef struct {
    dpanel *panels;
    size_t n_panels;
    dvm *vms;
    size_t n_vms;
    /* the sources the borrowed pointers point into */
    gp_pool *pools;
    size_t n_pools;
    gp_assignment *asgs;
    size_t n_asgs;
    gp_vm *vmlist;
    size_t n_vmlist;
    gp_capacity *cap;
    gp_cl cl;
} dscene;

#define NO_VM ((size_t)-1)

static void scene_init(dscene *s)
{
    memset(s, 0, sizeof(*s));
    gp_cl_init(&s->cl);
}

static void scene_dispose(dscene *s)
{
    for (size_t i = 0; i < s->n_panels; i++) {
        free(s->panels[i].title);
        free(s->panels[i].subtitle);
        free(s->panels[i].gpus);
        free(s->panels[i].asgs);
    }
    free(s->panels);
    free(s->vms);
    gp_pool_list_free(s->pools, s->n_pools);
    gp_assignment_list_free(s->asgs, s->n_asgs);
    gp_vm_list_free(s->vmlist, s->n_vmlist);
    gp_capacity_free(s->cap);
    gp_cl_dispose(&s->cl);
    scene_init(s);
}

/* Fixed palette (Tableau 10 without its grey, then three more); VMs past it
 * get hues 137 degrees apart (the golden angle) at fixed saturation and
 * lightness. */
static const char *const palette[] = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#17becf", "#bcbd22", "#8c564b",
};
#define N_PALETTE (sizeof(palette) / sizeof(palette[0]))

static void colour_of(size_t i, char out[8])
{
    if (i < N_PALETTE) {
        memcpy(out, palette[i], 8);
        return;
    }
    /* HSL (hue, 55%, 50%) to RGB in integers: chroma 0.55, so every
     * channel is between 57 and 197 of 255. */
    unsigned hue = (unsigned)((i - N_PALETTE) * 137u % 360u);
    const int lo = 57, hi = 197;
    int x = lo + (hi - lo) * (int)(60 - abs((int)(hue % 120) - 60)) / 60;
    int r, g, b;
    switch (hue / 60) {
    case 0: r = hi; g = x; b = lo; break;
    case 1: r = x; g = hi; b = lo; break;
    case 2: r = lo; g = hi; b = x; break;
    case 3: r = lo; g = x; b = hi; break;
    case 4: r = x; g = lo; b = hi; break;
    default: r = hi; g = lo; b = x; break;
    }
    snprintf(out, 8, "#%02x%02x%02x", r, g, b);
}

static int dvm_cmp(const void *a, const void *b)
{
    const dvm *x = a, *y = b;
    int c = strcmp(x->name ? x->name : "", y->name ? y->name : "");
    return c ? c : strcmp(x->uuid, y->uuid);
}

static size_t vm_index(const dscene *s, const char *uuid)
{
    for (size_t i = 0; i < s->n_vms; i++)
        if (!strcmp(s->vms[i].uuid, uuid))
            return i;
    return NO_VM;
}

/* Add the VM of a (once), with its power state when state is known. */
static int vm_add(dscene *s, size_t *cap, const gp_assignment *a, const char *state)
{
    if (vm_index(s, a->vm_uuid) != NO_VM)
        return GP_OK;
    if (gp_array_reserve((void **)&s->vms, cap, s->n_vms, sizeof(*s->vms)))
        return GP_ERR_NOMEM;
    dvm *v = &s->vms[s->n_vms++];
    memset(v, 0, sizeof(*v));
    v->uuid = a->vm_uuid;
    v->name = a->vm_name_label;
    v->state = state;
    return GP_OK;
}

static dpanel *panel_push(gp_ctx *ctx, dscene *s, size_t *cap, const gp_host *h)
{
    if (gp_array_reserve((void **)&s->panels, cap, s->n_panels, sizeof(*s->panels))) {
        GP_ERR(ctx, GP_ERR_NOMEM, "out of memory drawing the host");
        return NULL;
    }
    dpanel *p = &s->panels[s->n_panels++];
    memset(p, 0, sizeof(*p));
    p->h = h;
    if (h && h->n_gpus && !(p->gpus = calloc(h->n_gpus, sizeof(*p->gpus)))) {
        GP_ERR(ctx, GP_ERR_NOMEM, "out of memory drawing the host");
        return NULL;
    }
    for (size_t i = 0; h && i < h->n_gpus; i++)
        p->gpus[i].vm = NO_VM;
    return p;
}

static int panel_add_asg(dpanel *p, const gp_assignment *a)
{
    const gp_assignment **v = realloc(p->asgs, (p->n_asgs + 1) * sizeof(*v));
    if (!v)
        return GP_ERR_NOMEM;
    p->asgs = v;
    v[p->n_asgs++] = a;
    return GP_OK;
}

static char *host_subtitle(const gp_host *h)
{
    size_t sockets = 0;
    /* distinct known sockets of the nodes */
    for (size_t i = 0; i < h->n_nodes; i++) {
        bool seen = h->nodes[i].socket < 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = h->nodes[j].socket == h->nodes[i].socket;
        sockets += !seen;
    }
    return gp_asprintf("topology %s, PCI %s: %zu socket%s, %zu NUMA node%s, %zu pCPUs, %zu GPU%s",
                       h->topology_source ? h->topology_source : "unknown",
                       h->pci_source ? h->pci_source : "unknown", sockets,
                       sockets == 1 ? "" : "s", h->n_nodes, h->n_nodes == 1 ? "" : "s",
                       h->n_cpus, h->n_gpus, h->n_gpus == 1 ? "" : "s");
}

/* Mark the free GPUs of p that capacity (ops/capacity.c, this host only)
 * finds stranded: their node lacks pCPUs or memory for the pool's smallest
 * recent VM, or is unknown. */
static int mark_stranded(gp_ctx *ctx, dscene *s, dpanel *p)
{
    int rc = gp_capacity_get(ctx, NULL, &s->cap);
    if (rc)
        return rc;
    for (size_t i = 0; i < s->cap->n_gpus; i++) {
        const gp_capacity_gpu *cg = &s->cap->gpus[i];
        if (cg->state != GP_CAP_STRANDED)
            continue;
        for (size_t k = 0; k < p->h->n_gpus; k++)
            if (!strcmp(p->h->gpus[k].pci_id, cg->pci_id))
                gp_strand_reasons(cg->stranded, p->gpus[k].stranded, sizeof(p->gpus[k].stranded));
    }
    return GP_OK;
}

/* This host alone: the model, the pools of sqlite, the assignments, the
 * driver's VMs (power states), capacity's stranded GPUs. */
static int scene_local(gp_ctx *ctx, dscene *s)
{
    const gp_host *h;
    size_t cap_p = 0, cap_v = 0;
    int rc;

    if ((rc = gp_host_get(ctx, &h)) || (rc = gp_pool_list(ctx, &s->pools, &s->n_pools)) ||
        (rc = gp_assignment_list(ctx, &s->asgs, &s->n_asgs)) ||
        (rc = gp_ctx_vm_list(ctx, &s->vmlist, &s->n_vmlist)))
        return rc;
    dpanel *p = panel_push(ctx, s, &cap_p, h);
    if (!p)
        return GP_ERR_NOMEM;
    p->title = gp_asprintf("Host %s", ctx->host_name ? ctx->host_name : "(this host)");
    p->subtitle = host_subtitle(h);
    if (!p->title || !p->subtitle)
        return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory drawing the host");
    for (size_t i = 0; i < h->n_gpus; i++)
        for (size_t k = 0; k < s->n_pools && !p->gpus[i].pool; k++)
            for (size_t m = 0; m < s->pools[k].n_gpus; m++)
                if (!strcmp(s->pools[k].gpus[m], h->gpus[i].pci_id))
                    p->gpus[i].pool = s->pools[k].name_label;
    for (size_t i = 0; i < s->n_asgs; i++) {
        const char *state = NULL;
        for (size_t k = 0; k < s->n_vmlist && !state; k++)
            if (!strcmp(s->vmlist[k].uuid, s->asgs[i].vm_uuid))
                state = gp_vm_state_name(s->vmlist[k].state);
        if (vm_add(s, &cap_v, &s->asgs[i], state) || panel_add_asg(p, &s->asgs[i]))
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory drawing the host");
    }
    return mark_stranded(ctx, s, p);
}

/* An XCP-ng pool: one panel per host (or the one named) from the
 * pool-wide view (ops/xstate.h): each host's published facts, the pools,
 * the memberships on PCI objects, the placements on VMs. */
static int scene_cluster(gp_ctx *ctx, dscene *s, const char *host)
{
    size_t cap_p = 0, cap_v = 0, only = (size_t)-1;
    int rc = gp_cl_load(ctx, &s->cl, CL_ALL);
    if (rc == GP_OK && host && *host)
        rc = gp_cl_host_find(ctx, &s->cl, host, &only);
    if (rc)
        return rc;
    const gp_cl *c = &s->cl;
    for (size_t hi = 0; hi < c->n_hosts; hi++) {
        const gp_cl_host *ch = &c->hosts[hi];
        if (only != (size_t)-1 && only != hi)
            continue;
        dpanel *p = panel_push(ctx, s, &cap_p, ch->model);
        if (!p)
            return GP_ERR_NOMEM;
        p->title = gp_asprintf("Host %s (%s)%s", ch->name, ch->uuid,
                               ch->enabled ? "" : ", disabled");
        p->subtitle = ch->model ? host_subtitle(ch->model)
                                : gp_strdup("no facts published: run pool-sync on this host");
        if (!p->title || !p->subtitle)
            return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory drawing the host");
        for (size_t i = 0; ch->model && i < ch->model->n_gpus; i++) {
            const gp_cl_member *m = gp_cl_member_at(c, hi, ch->model->gpus[i].pci_id);
            const gp_pool *pl = m ? gp_cl_pool(c, m->pool_uuid) : NULL;
            p->gpus[i].pool = pl ? pl->name_label : m ? m->pool_uuid : NULL;
        }
        for (size_t i = 0; i < c->n_asgs; i++) {
            if (c->asgs[i].host != hi)
                continue;
            if (vm_add(s, &cap_v, &c->asgs[i].a, gp_vm_state_name(c->asgs[i].state)) ||
                panel_add_asg(p, &c->asgs[i].a))
                return GP_ERR(ctx, GP_ERR_NOMEM, "out of memory drawing the pool");
        }
        /* capacity is this host's only (it reads this host's sqlite): the
         * other hosts' GPUs are not judged */
        if (ch->self && ch->model && (rc = mark_stranded(ctx, s, p)))
            return rc;
    }
    return GP_OK;
}

/* Colours in VM order, then each GPU's holder. */
static void scene_finish(dscene *s)
{
    if (s->n_vms)
        qsort(s->vms, s->n_vms, sizeof(*s->vms), dvm_cmp);
    for (size_t i = 0; i < s->n_vms; i++)
        colour_of(i, s->vms[i].colour);
    for (size_t pi = 0; pi < s->n_panels; pi++) {
        dpanel *p = &s->panels[pi];
        for (size_t k = 0; k < p->n_asgs && p->h; k++)
            for (size_t i = 0; i < p->h->n_gpus; i++)
                if (!strcmp(p->h->gpus[i].pci_id, p->asgs[k]->pci_id))
                    p->gpus[i].vm = vm_index(s, p->asgs[k]->vm_uuid);
    }
}

/* ---- layout ----------------------------------------------------------------------- */

#define MARGIN 16       /* around the picture and between panels */
#define CELL 14         /* pCPU cell pitch (12 px square, 2 px gap) */
#define COLS 24         /* pCPU cells per row */
#define PAD 10          /* inside boxes */
#define NODE_W (COLS * CELL + 2 * PAD + 24)
#define NODE_HEAD 24    /* node title */
#define MEM_H 34        /* memory line and bar */
#define GPU_COLS 2
#define GPU_GAP 8
#define GPU_W ((NODE_W - 2 * PAD - (GPU_COLS - 1) * GPU_GAP) / GPU_COLS)
#define GPU_H 74        /* five text lines */
#define SOCK_HEAD 26
#define PANEL_HEAD 50
#define LEGEND_ROW 18
#define LEGEND_COL_W 470
#define TEXT_MAX 27     /* characters of a GPU's line before it is cut */

static size_t rows_of(size_t n, size_t per)
{
    return (n + per - 1) / per;
}

static bool node_known(const gp_host *h, int id)
{
    return id >= 0 && gp_host_find_node(h, id) != NULL;
}

static size_t node_gpus(const gp_host *h, int node)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_gpus; i++)
        n += h->gpus[i].numa_node == node;
    return n;
}

/* pCPUs of the host that no node lists. */
static bool cpu_in_a_node(const gp_host *h, int cpu)
{
    for (size_t i = 0; i < h->n_nodes; i++)
        if (h->nodes[i].n_cpus &&
            bsearch(&cpu, h->nodes[i].cpus, h->nodes[i].n_cpus, sizeof(int), gp_cmp_int))
            return true;
    return false;
}

static size_t stray_cpus(const gp_host *h)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_cpus; i++)
        n += !cpu_in_a_node(h, h->cpus[i].id);
    return n;
}

static size_t stray_gpus(const gp_host *h)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_gpus; i++)
        n += !node_known(h, h->gpus[i].numa_node);
    return n;
}

/* A box of cells and GPUs: a node, or the unknown-node box. */
static int box_h(size_t n_cpus, size_t n_gpus, bool memory)
{
    int y = NODE_HEAD + (int)rows_of(n_cpus, COLS) * CELL + 6;
    if (memory)
        y += MEM_H;
    y += (int)rows_of(n_gpus, GPU_COLS) * (GPU_H + GPU_GAP);
    return y + PAD;
}

static int node_h(const gp_host *h, const gp_numa_node *nd)
{
    return box_h(nd->n_cpus, node_gpus(h, nd->id), true);
}

/* Distinct sockets of the nodes, ascending, unknown (-1) last. */
static size_t sockets_of(const gp_host *h, int *out)
{
    size_t n = 0;
    bool unknown = false;
    for (size_t i = 0; i < h->n_nodes; i++) {
        int s = h->nodes[i].socket;
        bool seen = false;
        if (s < 0) {
            unknown = true;
            continue;
        }
        for (size_t j = 0; j < n && !seen; j++)
            seen = out[j] == s;
        if (!seen)
            out[n++] = s;
    }
    qsort(out, n, sizeof(int), gp_cmp_int);
    if (unknown)
        out[n++] = -1;
    return n;
}

static bool node_on(const gp_numa_node *nd, int socket)
{
    return socket < 0 ? nd->socket < 0 : nd->socket == socket;
}

static int socket_w(const gp_host *h, int socket)
{
    int n = 0;
    for (size_t i = 0; i < h->n_nodes; i++)
        n += node_on(&h->nodes[i], socket);
    return n * (NODE_W + PAD) + PAD;
}

static int socket_h(const gp_host *h, int socket)
{
    int m = 0;
    for (size_t i = 0; i < h->n_nodes; i++)
        if (node_on(&h->nodes[i], socket) && node_h(h, &h->nodes[i]) > m)
            m = node_h(h, &h->nodes[i]);
    return SOCK_HEAD + m + PAD;
}

static int stray_w(const gp_host *h)
{
    return stray_cpus(h) || stray_gpus(h) ? NODE_W : 0;
}

static int panel_w(const dpanel *p, int *socks, size_t n_socks)
{
    int w = PAD;
    if (!p->h)
        return 560;
    for (size_t i = 0; i < n_socks; i++)
        w += socket_w(p->h, socks[i]) + PAD;
    if (stray_w(p->h))
        w += stray_w(p->h) + PAD;
    return w < 560 ? 560 : w;
}

static int panel_h(const dpanel *p, int *socks, size_t n_socks)
{
    int m = 0;
    if (!p->h)
        return PANEL_HEAD + PAD;
    for (size_t i = 0; i < n_socks; i++)
        if (socket_h(p->h, socks[i]) > m)
            m = socket_h(p->h, socks[i]);
    if (stray_w(p->h)) {
        int s = SOCK_HEAD + box_h(stray_cpus(p->h), stray_gpus(p->h), false) + PAD;
        if (s > m)
            m = s;
    }
    return PANEL_HEAD + m + PAD;
}

/* ---- the writer ------------------------------------------------------------------- */

typedef struct {
    xmlTextWriterPtr w;
    bool bad;             /* a libxml2 call failed (memory) */
} svgw;

static void el(svgw *s, const char *name)
{
    if (xmlTextWriterStartElement(s->w, BAD_CAST name) < 0)
        s->bad = true;
}

static void end(svgw *s)
{
    if (xmlTextWriterEndElement(s->w) < 0)
        s->bad = true;
}

static void attr(svgw *s, const char *k, const char *v)
{
    char *clean = gp_xr_sanitize(v ? v : "");
    if (!clean || xmlTextWriterWriteAttribute(s->w, BAD_CAST k, BAD_CAST clean) < 0)
        s->bad = true;
    free(clean);
}

static void attrf(svgw *s, const char *k, const char *fmt, ...) GP_PRINTF(3, 4);
static void attrf(svgw *s, const char *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = gp_vasprintf(fmt, ap);
    va_end(ap);
    if (!v)
        s->bad = true;
    else
        attr(s, k, v);
    free(v);
}

static void attri(svgw *s, const char *k, int v)
{
    if (xmlTextWriterWriteFormatAttribute(s->w, BAD_CAST k, "%d", v) < 0)
        s->bad = true;
}

static void str(svgw *s, const char *t)
{
    char *clean = gp_xr_sanitize(t ? t : "");
    if (!clean || xmlTextWriterWriteString(s->w, BAD_CAST clean) < 0)
        s->bad = true;
    free(clean);
}

/* <title> of the element just opened (what a pointer over it shows). */
static void title(svgw *s, const char *t)
{
    el(s, "title");
    str(s, t);
    end(s);
}

static void titlef(svgw *s, const char *fmt, ...) GP_PRINTF(2, 3);
static void titlef(svgw *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = gp_vasprintf(fmt, ap);
    va_end(ap);
    if (!v)
        s->bad = true;
    else
        title(s, v);
    free(v);
}

static void rect(svgw *s, int x, int y, int w, int h, const char *fill, const char *stroke)
{
    el(s, "rect");
    attri(s, "x", x);
    attri(s, "y", y);
    attri(s, "width", w);
    attri(s, "height", h);
    attr(s, "fill", fill);
    if (stroke)
        attr(s, "stroke", stroke);
}

/* <text> of one line; cls NULL for plain. */
static void text(svgw *s, int x, int y, const char *cls, const char *t)
{
    el(s, "text");
    attri(s, "x", x);
    attri(s, "y", y);
    if (cls)
        attr(s, "class", cls);
    str(s, t);
    end(s);
}

static void textf(svgw *s, int x, int y, const char *cls, const char *fmt, ...) GP_PRINTF(5, 6);
static void textf(svgw *s, int x, int y, const char *cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = gp_vasprintf(fmt, ap);
    va_end(ap);
    if (!v)
        s->bad = true;
    else
        text(s, x, y, cls, v);
    free(v);
}

/* t cut to TEXT_MAX characters (UTF-8), with "..." when cut; caller frees. */
static char *cut(const char *t)
{
    size_t chars = 0, i = 0, len = strlen(t);
    for (; i < len; i++) {
        if (((unsigned char)t[i] & 0xc0) != 0x80 && ++chars > TEXT_MAX - 3)
            break;
    }
    if (i == len || chars <= TEXT_MAX - 3 || strlen(t + i) <= 3)
        return gp_strdup(t);
    return gp_asprintf("%.*s...", (int)i, t);
}

static void text_cut(svgw *s, int x, int y, const char *cls, const char *t)
{
    char *c = cut(t);
    if (!c)
        s->bad = true;
    else
        text(s, x, y, cls, c);
    free(c);
}

static const char *vm_label(const dvm *v, char *buf, size_t len)
{
    return gp_vm_label(v->name, v->uuid, buf, len);
}

/* ---- drawing ---------------------------------------------------------------------- */

/* Per panel: the VMs pinned to each pCPU id (first in VM order, and how many). */
typedef struct {
    int max_id;
    size_t *first;   /* index of max_id + 1; NO_VM when none */
    size_t *count;
} pinmap;

static int pinmap_build(const dscene *sc, const dpanel *p, pinmap *m)
{
    m->max_id = -1;
    for (size_t i = 0; i < p->h->n_cpus; i++)
        if (p->h->cpus[i].id > m->max_id)
            m->max_id = p->h->cpus[i].id;
    for (size_t i = 0; i < p->h->n_nodes; i++)
        for (size_t k = 0; k < p->h->nodes[i].n_cpus; k++)
            if (p->h->nodes[i].cpus[k] > m->max_id)
                m->max_id = p->h->nodes[i].cpus[k];
    size_t n = (size_t)m->max_id + 1;
    m->first = malloc((n ? n : 1) * sizeof(size_t));
    m->count = calloc(n ? n : 1, sizeof(size_t));
    if (!m->first || !m->count)
        return GP_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        m->first[i] = NO_VM;
    for (size_t k = 0; k < p->n_asgs; k++) {
        size_t v = vm_index(sc, p->asgs[k]->vm_uuid);
        for (size_t j = 0; j < p->asgs[k]->n_pcpus; j++) {
            int c = p->asgs[k]->pcpus[j];
            if (c < 0 || c > m->max_id)
                continue;
            m->count[c]++;
            if (m->first[c] == NO_VM || v < m->first[c])
                m->first[c] = v;
        }
    }
    return GP_OK;
}

static void pinmap_dispose(pinmap *m)
{
    free(m->first);
    free(m->count);
}

#define FREE_CPU "#eeeeee"

static void draw_cpu(svgw *s, const dscene *sc, const pinmap *m, size_t pi, const gp_host *h,
                     int cpu, int x, int y)
{
    const gp_pcpu *pc = NULL;
    char buf[128];
    for (size_t i = 0; i < h->n_cpus && !pc; i++)
        if (h->cpus[i].id == cpu)
            pc = &h->cpus[i];
    size_t v = cpu >= 0 && cpu <= m->max_id ? m->first[cpu] : NO_VM;
    size_t cnt = cpu >= 0 && cpu <= m->max_id ? m->count[cpu] : 0;
    rect(s, x, y, CELL - 2, CELL - 2, v == NO_VM ? FREE_CPU : sc->vms[v].colour,
         cnt > 1 ? "#000000" : "#bbbbbb");
    attrf(s, "id", "h%zu-pcpu-%d", pi, cpu);
    attr(s, "class", cnt > 1 ? "pcpu shared" : v == NO_VM ? "pcpu free" : "pcpu pinned");
    if (cnt > 1)
        attr(s, "stroke-width", "2");
    if (v == NO_VM)
        titlef(s, "pCPU %d (core %d, socket %d): free", cpu, pc ? pc->core : -1,
               pc ? pc->socket : -1);
    else
        titlef(s, "pCPU %d (core %d, socket %d): %s%s", cpu, pc ? pc->core : -1,
               pc ? pc->socket : -1, vm_label(&sc->vms[v], buf, sizeof(buf)),
               cnt > 1 ? " and others (overcommitted)" : "");
    end(s);
}

static void draw_cpus(svgw *s, const dscene *sc, const pinmap *m, size_t pi, const gp_host *h,
                      const int *cpus, size_t n, int x, int y)
{
    for (size_t i = 0; i < n; i++)
        draw_cpu(s, sc, m, pi, h, cpus[i], x + (int)(i % COLS) * CELL,
                 y + (int)(i / COLS) * CELL);
}

static void draw_gpu(svgw *s, const dscene *sc, size_t pi, const dpanel *p, size_t gi, int x,
                     int y)
{
    const gp_gpu *g = &p->h->gpus[gi];
    const dgpu *d = &p->gpus[gi];
    const dvm *v = d->vm == NO_VM ? NULL : &sc->vms[d->vm];
    char id[GP_PCI_ID_LEN], model[96], buf[128];
    const char *state;

    snprintf(id, sizeof(id), "%s", g->pci_id);
    for (char *c = id; *c; c++)
        if (*c == ':')
            *c = '-';
    if (g->device_name)
        snprintf(model, sizeof(model), "%s", g->device_name);
    else
        snprintf(model, sizeof(model), "[%04x:%04x]", g->vendor_id, g->device_id);
    state = v ? "held" : d->stranded[0] ? "stranded" : d->pool ? "free" : "no-pool";

    el(s, "g");
    attrf(s, "id", "h%zu-gpu-%s", pi, id);
    attrf(s, "class", "gpu %s", state);
    titlef(s, "GPU %s: %s%s%s, NUMA node %d, pool %s, %s%s%s%s", g->pci_id,
           g->vendor_name ? g->vendor_name : "", g->vendor_name ? " " : "", model,
           g->numa_node, d->pool ? d->pool : "none",
           v ? "held by VM " : d->pool ? "free" : "in no pool",
           v ? vm_label(v, buf, sizeof(buf)) : "",
           d->stranded[0] ? ", stranded: " : "", d->stranded);
    rect(s, x, y, GPU_W, GPU_H, "#ffffff",
         v ? v->colour : d->stranded[0] ? "#d62728" : d->pool ? "#2e7d32" : "#999999");
    attr(s, "stroke-width", v || d->stranded[0] ? "3" : "2");
    if (d->stranded[0] || !d->pool)
        attr(s, "stroke-dasharray", d->stranded[0] ? "6 3" : "4 3");
    end(s);
    if (v) {
        rect(s, x, y, 6, GPU_H, v->colour, NULL);
        end(s);
    }
    text(s, x + 12, y + 16, "b", g->pci_id);
    text_cut(s, x + 12, y + 30, NULL, model);
    textf(s, x + 12, y + 44, NULL, "pool: %s", d->pool ? d->pool : "none");
    if (v) {
        char *line = gp_asprintf("vm: %s", v->name ? v->name : v->uuid);
        if (!line)
            s->bad = true;
        else
            text_cut(s, x + 12, y + 58, NULL, line);
        free(line);
    } else {
        text(s, x + 12, y + 58, NULL, d->pool ? "vm: free" : "vm: -");
    }
    if (d->stranded[0])
        textf(s, x + 12, y + 70, "warn", "stranded: %s", d->stranded);
    end(s);
}

/* GPUs of node (node_known) or of no known node, in rows of GPU_COLS. */
static void draw_gpus(svgw *s, const dscene *sc, size_t pi, const dpanel *p, int node,
                      bool strays, int x, int y)
{
    size_t k = 0;
    for (size_t i = 0; i < p->h->n_gpus; i++) {
        const gp_gpu *g = &p->h->gpus[i];
        if (strays ? node_known(p->h, g->numa_node) : g->numa_node != node)
            continue;
        draw_gpu(s, sc, pi, p, i, x + (int)(k % GPU_COLS) * (GPU_W + GPU_GAP),
                 y + (int)(k / GPU_COLS) * (GPU_H + GPU_GAP));
        k++;
    }
}

static void fmt_gib(char *buf, size_t len, uint64_t mib)
{
    snprintf(buf, len, "%" PRIu64 ".%" PRIu64 " GiB", mib / 1024, (mib % 1024) * 10 / 1024);
}

static void draw_memory(svgw *s, const dpanel *p, const gp_numa_node *nd, int x, int y)
{
    uint64_t total = nd->mem_total_bytes >> 20, free_mib = nd->mem_free_bytes >> 20, asg = 0;
    char t[32], f[32], a[32];
    for (size_t k = 0; k < p->n_asgs; k++) {
        int mn = p->asgs[k]->memory_node >= 0 ? p->asgs[k]->memory_node : p->asgs[k]->numa_node;
        if (mn == nd->id)
            asg += p->asgs[k]->memory_mib;
    }
    fmt_gib(t, sizeof(t), total);
    fmt_gib(f, sizeof(f), free_mib);
    fmt_gib(a, sizeof(a), asg);
    if (!total) {
        textf(s, x, y + 12, "mem", "memory: unknown, %s assigned by gpupool", a);
        return;
    }
    textf(s, x, y + 12, "mem", "memory %s, free %s, gpupool assigned %s", t, f, a);
    int w = NODE_W - 2 * PAD;
    int used = total > free_mib ? (int)((total - free_mib) * (uint64_t)w / total) : 0;
    int aw = (int)((asg > total ? total : asg) * (uint64_t)w / total);
    rect(s, x, y + 18, w, 10, "#ffffff", "#888888");
    titlef(s, "node %d memory: %" PRIu64 " MiB total, %" PRIu64 " MiB free, %" PRIu64
           " MiB assigned by gpupool", nd->id, total, free_mib, asg);
    end(s);
    if (used) {
        rect(s, x, y + 18, used, 10, "#c7c7c7", NULL);
        attr(s, "class", "mem-used");
        end(s);
    }
    if (aw) {
        rect(s, x, y + 18, aw, 10, "#4e4e8f", NULL);
        attr(s, "class", "mem-assigned");
        end(s);
    }
}

static void draw_node(svgw *s, const dscene *sc, const pinmap *m, size_t pi, const dpanel *p,
                      const gp_numa_node *nd, int x, int y)
{
    const gp_host *h = p->h;
    size_t ng = node_gpus(h, nd->id);
    el(s, "g");
    attrf(s, "id", "h%zu-node-%d", pi, nd->id);
    attr(s, "class", "node");
    titlef(s, "NUMA node %d: %zu pCPUs, %zu GPUs", nd->id, nd->n_cpus, ng);
    rect(s, x, y, NODE_W, node_h(h, nd), "#f7f9fc", "#5a6b85");
    end(s);
    textf(s, x + PAD, y + 17, "h3", "NUMA node %d: %zu pCPUs, %zu GPU%s", nd->id, nd->n_cpus, ng,
          ng == 1 ? "" : "s");
    draw_cpus(s, sc, m, pi, h, nd->cpus, nd->n_cpus, x + PAD, y + NODE_HEAD);
    int yy = y + NODE_HEAD + (int)rows_of(nd->n_cpus, COLS) * CELL + 6;
    draw_memory(s, p, nd, x + PAD, yy);
    draw_gpus(s, sc, pi, p, nd->id, false, x + PAD, yy + MEM_H);
    end(s);
}

static void draw_strays(svgw *s, const dscene *sc, const pinmap *m, size_t pi, const dpanel *p,
                        int x, int y)
{
    const gp_host *h = p->h;
    size_t nc = stray_cpus(h), ng = stray_gpus(h), k = 0;
    int *cpus = nc ? malloc(nc * sizeof(int)) : NULL;
    if (nc && !cpus) {
        s->bad = true;
        return;
    }
    for (size_t i = 0; i < h->n_cpus; i++)
        if (!cpu_in_a_node(h, h->cpus[i].id))
            cpus[k++] = h->cpus[i].id;
    el(s, "g");
    attrf(s, "id", "h%zu-unknown-node", pi);
    attr(s, "class", "unknown-node");
    title(s, "pCPUs and GPUs of no known NUMA node: placement cannot make them local");
    rect(s, x, y, NODE_W, SOCK_HEAD + box_h(nc, ng, false), "#fff8e1", "#b28704");
    attr(s, "stroke-dasharray", "6 3");
    end(s);
    text(s, x + PAD, y + 18, "h2", "NUMA node unknown");
    textf(s, x + PAD, y + SOCK_HEAD + 17, "h3", "%zu pCPUs, %zu GPU%s", nc, ng,
          ng == 1 ? "" : "s");
    draw_cpus(s, sc, m, pi, h, cpus, nc, x + PAD, y + SOCK_HEAD + NODE_HEAD);
    draw_gpus(s, sc, pi, p, -1, true, x + PAD,
              y + SOCK_HEAD + NODE_HEAD + (int)rows_of(nc, COLS) * CELL + 6);
    end(s);
    free(cpus);
}

static int draw_panel(svgw *s, const dscene *sc, size_t pi, int x, int y, int w)
{
    const dpanel *p = &sc->panels[pi];
    int socks[p->h && p->h->n_nodes ? p->h->n_nodes : 1];
    size_t n_socks = p->h ? sockets_of(p->h, socks) : 0;
    pinmap m = { -1, NULL, NULL };

    el(s, "g");
    attrf(s, "id", "h%zu", pi);
    attr(s, "class", "host");
    title(s, p->title);
    rect(s, x, y, w, panel_h(p, socks, n_socks), "#ffffff", "#333333");
    end(s);
    text(s, x + PAD, y + 22, "h1", p->title);
    text(s, x + PAD, y + 40, "sub", p->subtitle);
    if (p->h) {
        if (pinmap_build(sc, p, &m)) {
            pinmap_dispose(&m);
            return GP_ERR_NOMEM;
        }
        int sx = x + PAD;
        for (size_t i = 0; i < n_socks; i++) {
            int sw = socket_w(p->h, socks[i]), nx = sx + PAD;
            el(s, "g");
            attr(s, "class", "socket");
            if (socks[i] >= 0)
                attrf(s, "id", "h%zu-socket-%d", pi, socks[i]);
            else
                attrf(s, "id", "h%zu-socket-unknown", pi);
            rect(s, sx, y + PANEL_HEAD, sw, socket_h(p->h, socks[i]), "#eef2f7", "#5a6b85");
            end(s);
            if (socks[i] >= 0)
                textf(s, sx + PAD, y + PANEL_HEAD + 18, "h2", "socket %d", socks[i]);
            else
                text(s, sx + PAD, y + PANEL_HEAD + 18, "h2", "socket unknown");
            for (size_t k = 0; k < p->h->n_nodes; k++) {
                if (!node_on(&p->h->nodes[k], socks[i]))
                    continue;
                draw_node(s, sc, &m, pi, p, &p->h->nodes[k], nx, y + PANEL_HEAD + SOCK_HEAD);
                nx += NODE_W + PAD;
            }
            end(s);
            sx += sw + PAD;
        }
        if (stray_w(p->h))
            draw_strays(s, sc, &m, pi, p, sx, y + PANEL_HEAD);
    }
    end(s);
    pinmap_dispose(&m);
    return GP_OK;
}

static int legend_h(const dscene *sc, int w)
{
    int cols = w / LEGEND_COL_W > 0 ? w / LEGEND_COL_W : 1;
    return 30 + LEGEND_ROW * (2 + (int)rows_of(sc->n_vms + 1, (size_t)cols)) + 4 + PAD;
}

static void draw_legend(svgw *s, const dscene *sc, int x, int y, int w)
{
    int cols = w / LEGEND_COL_W > 0 ? w / LEGEND_COL_W : 1;
    char buf[160];
    el(s, "g");
    attr(s, "id", "legend");
    title(s, "Legend: the colour of each VM");
    text(s, x, y + 18, "h2", "Legend");
    /* GPU borders */
    static const struct { const char *stroke, *dash, *label; } keys[] = {
        { "#2e7d32", NULL, "GPU free in a pool" },
        { "#4e79a7", NULL, "GPU held by the VM of that colour" },
        { "#999999", "4 3", "GPU in no pool" },
        { "#d62728", "6 3", "GPU stranded: its node has no room for the pool's smallest VM" },
    };
    for (size_t i = 0; i < GP_ARRAY_SIZE(keys); i++) {
        int kx = x + (int)(i % 2) * (w / 2), ky = y + 30 + (int)(i / 2) * LEGEND_ROW;
        rect(s, kx, ky, 16, 12, "#ffffff", keys[i].stroke);
        attr(s, "stroke-width", "2");
        if (keys[i].dash)
            attr(s, "stroke-dasharray", keys[i].dash);
        end(s);
        text(s, kx + 22, ky + 11, "small", keys[i].label);
    }
    for (size_t i = 0; i <= sc->n_vms; i++) {
        int lx = x + (int)(i % (size_t)cols) * LEGEND_COL_W;
        int ly = y + 34 + LEGEND_ROW * (2 + (int)(i / (size_t)cols));
        if (i == 0) {
            rect(s, lx, ly, 12, 12, FREE_CPU, "#bbbbbb");
            attr(s, "id", "legend-free");
            attr(s, "class", "legend-swatch");
            end(s);
            text(s, lx + 18, ly + 11, NULL, "pCPU with no VM pinned");
            continue;
        }
        const dvm *v = &sc->vms[i - 1];
        rect(s, lx, ly, 12, 12, v->colour, "#bbbbbb");
        attrf(s, "id", "legend-vm-%s", v->uuid);
        attr(s, "class", "legend-swatch");
        title(s, vm_label(v, buf, sizeof(buf)));
        end(s);
        textf(s, lx + 18, ly + 11, NULL, "%s (%s)%s%s", v->name ? v->name : "(no name)", v->uuid,
              v->state ? " " : "", v->state ? v->state : "");
    }
    end(s);
}

static const char STYLE[] =
    "text{font-family:DejaVu Sans,Arial,Helvetica,sans-serif;font-size:11px;fill:#1b1b1b}"
    ".h1{font-size:16px;font-weight:bold}.h2{font-size:13px;font-weight:bold}"
    ".h3{font-size:12px;font-weight:bold}.sub{font-size:11px;fill:#555555}"
    ".b{font-weight:bold}.small{font-size:10px}.warn{fill:#d62728;font-size:10px}"
    ".mem{font-size:10px}";

static int render(gp_ctx *ctx, const dscene *sc, char **out, size_t *len)
{
    xmlBufferPtr buf = xmlBufferCreate();
    svgw s = { NULL, false };
    int w = 0, h = MARGIN, rc = GP_OK;

    for (size_t i = 0; i < sc->n_panels; i++) {
        const dpanel *p = &sc->panels[i];
        int socks[p->h && p->h->n_nodes ? p->h->n_nodes : 1];
        size_t n = p->h ? sockets_of(p->h, socks) : 0;
        if (panel_w(p, socks, n) > w)
            w = panel_w(p, socks, n);
        h += panel_h(p, socks, n) + MARGIN;
    }
    if (w < 560)
        w = 560;
    h += legend_h(sc, w) + MARGIN;
    if (!buf || !(s.w = xmlNewTextWriterMemory(buf, 0))) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory drawing the host");
        goto out;
    }
    if (xmlTextWriterSetIndent(s.w, 1) < 0 || xmlTextWriterSetIndentString(s.w, BAD_CAST " ") < 0 ||
        xmlTextWriterStartDocument(s.w, "1.0", "UTF-8", NULL) < 0)
        s.bad = true;
    el(&s, "svg");
    attr(&s, "xmlns", "http://www.w3.org/2000/svg");
    attr(&s, "version", "1.1");
    attri(&s, "width", w + 2 * MARGIN);
    attri(&s, "height", h);
    attrf(&s, "viewBox", "0 0 %d %d", w + 2 * MARGIN, h);
    title(&s, sc->n_panels == 1 ? "gpupool: GPUs, NUMA nodes and pCPUs of the host"
                                : "gpupool: GPUs, NUMA nodes and pCPUs of the pool's hosts");
    el(&s, "desc");
    str(&s, "Written by libgpupool " GPUPOOL_VERSION_STRING " (gp_host_draw). pCPU cells are "
            "coloured by the VM whose assignment pins vCPUs there; GPUs show their pool and "
            "holding VM.");
    end(&s);
    el(&s, "style");
    attr(&s, "type", "text/css");
    str(&s, STYLE);
    end(&s);
    rect(&s, 0, 0, w + 2 * MARGIN, h, "#ffffff", NULL);
    end(&s);
    int y = MARGIN;
    for (size_t i = 0; i < sc->n_panels && rc == GP_OK; i++) {
        const dpanel *p = &sc->panels[i];
        int socks[p->h && p->h->n_nodes ? p->h->n_nodes : 1];
        size_t n = p->h ? sockets_of(p->h, socks) : 0;
        rc = draw_panel(&s, sc, i, MARGIN, y, w);
        y += panel_h(p, socks, n) + MARGIN;
    }
    if (rc) {
        rc = GP_ERR(ctx, rc, "out of memory drawing the host");
        goto out;
    }
    draw_legend(&s, sc, MARGIN, y, w);
    end(&s);
    if (xmlTextWriterEndDocument(s.w) < 0)
        s.bad = true;
    xmlFreeTextWriter(s.w);   /* flushes into buf */
    s.w = NULL;
    if (s.bad) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory writing the SVG");
        goto out;
    }
    *len = (size_t)xmlBufferLength(buf);
    if (!(*out = malloc(*len + 1))) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory writing the SVG");
        goto out;
    }
    memcpy(*out, xmlBufferContent(buf), *len);
    (*out)[*len] = '\0';
out:
    if (s.w)
        xmlFreeTextWriter(s.w);
    if (buf)
        xmlBufferFree(buf);
    return rc;
}

/* ---- public ----------------------------------------------------------------------- */

int gp_host_draw(gp_ctx *ctx, const char *host, char **svg_out, size_t *len_out)
{
    dscene sc;
    size_t len = 0;
    int rc;

    gp_err_clear(ctx->err);
    *svg_out = NULL;
    if (len_out)
        *len_out = 0;
    scene_init(&sc);
    if (gp_cluster_on(ctx))
        rc = scene_cluster(ctx, &sc, host);
    else if (host && *host)
        rc = gp_cluster_need(ctx, "host=");
    else
        rc = scene_local(ctx, &sc);
    if (rc == GP_OK) {
        scene_finish(&sc);
        rc = render(ctx, &sc, svg_out, &len);
    }
    scene_dispose(&sc);
    if (rc == GP_OK && len_out)
        *len_out = len;
    return rc;
}

int gp_host_draw_file(gp_ctx *ctx, const char *host, const char *path)
{
    char *svg = NULL, *tmp = NULL;
    size_t len = 0;
    int fd = -1, rc;

    if (!path || !*path) {
        gp_err_clear(ctx->err);
        rc = GP_ERR(ctx, GP_ERR_INVALID_ARGUMENT, "out= needs a file name");
        GP_PARAM(ctx, "out", "%s", "");
        return rc;
    }
    rc = gp_host_draw(ctx, host, &svg, &len);
    if (rc)
        return rc;
    if (!(tmp = gp_asprintf("%s.XXXXXX", path))) {
        rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((fd = mkstemp(tmp)) < 0) {
        rc = GP_ERR(ctx, GP_ERR_IO, "cannot create a file beside %s: %s", path, strerror(errno));
        GP_PARAM(ctx, "path", "%s", path);
        free(tmp);
        tmp = NULL;
        goto out;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, svg + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    bool bad = done < len || fchmod(fd, 0644) || fsync(fd);
    int err = errno;
    if (close(fd) && !bad) {
        bad = true;
        err = errno;
    }
    fd = -1;
    if (bad) {
        rc = GP_ERR(ctx, GP_ERR_IO, "cannot write %s: %s", tmp, strerror(err));
        GP_PARAM(ctx, "path", "%s", path);
        goto out;
    }
    if (rename(tmp, path)) {
        rc = GP_ERR(ctx, GP_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        GP_PARAM(ctx, "path", "%s", path);
        goto out;
    }
    free(tmp);
    tmp = NULL;
out:
    if (fd >= 0)
        close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    free(svg);
    return rc;
}
