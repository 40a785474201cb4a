/*
 * test_draw.c - gp_host_draw / gp_host_draw_file (ops/draw.c) on the
 * embedded dual-socket 8-GPU host with the sim driver: two pools, four VMs
 * with pinned pCPUs (two running).  The SVG is parsed back with libxml2
 * and checked exactly: one cell per pCPU, each pinned cell in the legend
 * colour of its VM (and that colour the palette's for the VM's rank),
 * every GPU's lines (pci-id, model, pool, VM), the stranded GPU (capacity:
 * its node's pCPUs are all pinned) marked, each node's memory line;
 * the same state gives the same bytes; the file is written atomically;
 * xmllint accepts it; bad input is refused; GPUs of unknown node are drawn
 * apart (lspci dump fixture); pCPUs two VMs share (overcommit) are marked.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "gpupool.h"
#include "testutil.h"
#include "gptest.h"

#define SVG_NS "http://www.w3.org/2000/svg"

typedef struct {
    char dir[256];
    char db[300];
    gp_ctx *ctx;
} fx;

/* The sim driver on the embedded host, PCI from pci_dump when given. */
static gp_ctx *ctx_open(const char *db, const char *pci_dump)
{
    return gt_ctx_new(&(gt_ctx_spec){ .db = db, .driver = "sim",
                                      .topology = GP_TOPOLOGY_EMBEDDED, .pci_dump = pci_dump });
}

#define OK(ctx, call) do { int rc_ = (call); \
        if (rc_) fail_msg("%s: %s (%s)", #call, gp_error_name(rc_), \
                          gp_ctx_last_error(ctx)->message); } while (0)

/* The scenario of docs/host-draw.md. */
static const char *const training[] = { "0000:18:00.0", "0000:2a:00.0", "0000:5d:00.0",
                                        "0000:9a:00.0", "0000:ab:00.0" };
static const char *const inference[] = { "0000:3a:00.0", "0000:ba:00.0" };
static const struct { const char *name; int vcpus; uint64_t mib; const char *pool; bool run; }
vms[] = {
    { "llm-a", 16, 131072, "training", true },
    { "llm-b", 24, 262144, "training", false },
    { "vision", 8, 65536, "inference", true },
    { "chat", 4, 32768, "inference", false },
};

static void fx_dir(fx *f, const char *tag)
{
    char *d = tu_scratch_dir(tag);
    assert_non_null(d);
    snprintf(f->dir, sizeof(f->dir), "%s", d);
    free(d);
    snprintf(f->db, sizeof(f->db), "%s/state.db", f->dir);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    fx_dir(f, "draw");
    f->ctx = ctx_open(f->db, NULL);
    OK(f->ctx, gp_pool_create(f->ctx, "training", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 1.0,
                              NULL));
    OK(f->ctx, gp_pool_create(f->ctx, "inference", NULL, GP_NUMA_PREFERRED, GP_PIN_HARD, 1.0,
                              NULL));
    for (size_t i = 0; i < sizeof(training) / sizeof(training[0]); i++)
        OK(f->ctx, gp_pool_gpu_add(f->ctx, "training", training[i]));
    for (size_t i = 0; i < sizeof(inference) / sizeof(inference[0]); i++)
        OK(f->ctx, gp_pool_gpu_add(f->ctx, "inference", inference[i]));
    for (size_t i = 0; i < sizeof(vms) / sizeof(vms[0]); i++) {
        gp_assign_args a;
        memset(&a, 0, sizeof(a));
        a.pool = vms[i].pool;
        OK(f->ctx, gp_sim_vm_create(f->ctx, vms[i].name, vms[i].vcpus, vms[i].mib, NULL));
        OK(f->ctx, gp_vm_gpu_assign(f->ctx, vms[i].name, &a, NULL));
    }
    for (size_t i = 0; i < sizeof(vms) / sizeof(vms[0]); i++)
        if (vms[i].run)
            OK(f->ctx, gp_sim_vm_start(f->ctx, vms[i].name));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tu_run_result r;
    char cmd[320];
    gp_ctx_free(f->ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    tu_sh(&r, cmd);
    tu_run_free(&r);
    free(f);
    return 0;
}

/* ---- reading the SVG back --------------------------------------------------------- */

static xmlDocPtr parse(const char *svg, size_t len)
{
    xmlDocPtr doc = xmlReadMemory(svg, (int)len, "draw.svg", NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    assert_string_equal((const char *)root->name, "svg");
    assert_non_null(root->ns);
    assert_string_equal((const char *)root->ns->href, SVG_NS);
    return doc;
}

static xmlXPathObjectPtr xp(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr c = xmlXPathNewContext(doc);
    assert_non_null(c);
    assert_int_equal(xmlXPathRegisterNs(c, BAD_CAST "s", BAD_CAST SVG_NS), 0);
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, c);
    xmlXPathFreeContext(c);
    assert_non_null(o);
    return o;
}

static int xp_count(xmlDocPtr doc, const char *expr)
{
    xmlXPathObjectPtr o = xp(doc, expr);
    int n = o->nodesetval ? o->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(o);
    return n;
}

/* The one element with that id (asserted unique). */
static xmlNodePtr by_id(xmlDocPtr doc, const char *id)
{
    char expr[256];
    snprintf(expr, sizeof(expr), "//s:*[@id='%s']", id);
    xmlXPathObjectPtr o = xp(doc, expr);
    if (!o->nodesetval || o->nodesetval->nodeNr != 1)
        fail_msg("%d elements with id %s", o->nodesetval ? o->nodesetval->nodeNr : 0, id);
    xmlNodePtr n = o->nodesetval->nodeTab[0];
    xmlXPathFreeObject(o);
    return n;
}

/* Attribute value copied into buf. */
static const char *attr(xmlNodePtr n, const char *name, char *buf, size_t len)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    assert_non_null(v);
    snprintf(buf, len, "%s", (const char *)v);
    xmlFree(v);
    return buf;
}

/* The text lines of a <g>: its <text> children joined with '|'. */
static void lines_of(xmlNodePtr g, char *buf, size_t len)
{
    buf[0] = '\0';
    for (xmlNodePtr c = g->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "text"))
            continue;
        xmlChar *t = xmlNodeGetContent(c);
        size_t l = strlen(buf);
        snprintf(buf + l, len - l, "%s%s", l ? "|" : "", (const char *)t);
        xmlFree(t);
    }
}

static char *draw(gp_ctx *ctx, size_t *len)
{
    char *svg = NULL;
    OK(ctx, gp_host_draw(ctx, NULL, &svg, len));
    assert_non_null(svg);
    assert_int_equal(strlen(svg), *len);
    return svg;
}

/* ---- tests ------------------------------------------------------------------------ */

/* One cell per pCPU of the host, by id; the root has a viewBox and a title. */
static void test_pcpu_cells(void **state)
{
    fx *f = *state;
    const gp_host *h;
    size_t len;
    char *svg = draw(f->ctx, &len);
    xmlDocPtr doc = parse(svg, len);
    char id[64], buf[64];

    OK(f->ctx, gp_host_get(f->ctx, &h));
    assert_int_equal(h->n_cpus, 96);
    assert_int_equal(xp_count(doc, "//s:rect[contains(concat(' ', @class, ' '), ' pcpu ')]"),
                     96);
    for (size_t i = 0; i < h->n_cpus; i++) {
        snprintf(id, sizeof(id), "h0-pcpu-%d", h->cpus[i].id);
        assert_string_equal((const char *)by_id(doc, id)->name, "rect");
    }
    /* cells inside their node's group */
    assert_int_equal(xp_count(doc, "//s:g[@id='h0-node-0']//s:rect[contains(@class,'pcpu')]"), 48);
    assert_int_equal(xp_count(doc, "//s:g[@id='h0-node-1']//s:rect[contains(@class,'pcpu')]"), 48);
    assert_int_equal(xp_count(doc, "//s:g[@id='h0-socket-0']//s:g[@id='h0-node-0']"), 1);
    assert_int_equal(xp_count(doc, "//s:g[@id='h0-socket-1']//s:g[@id='h0-node-1']"), 1);
    assert_int_equal(xp_count(doc, "//s:g[@id='h0-unknown-node']"), 0);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    assert_string_equal(attr(root, "version", buf, sizeof(buf)), "1.1");
    assert_string_equal(attr(root, "viewBox", buf, sizeof(buf)), "0 0 862 580");
    assert_int_equal(xp_count(doc, "/s:svg/s:title"), 1);
    /* every pCPU cell and GPU has its own title */
    assert_int_equal(xp_count(doc, "//s:rect[contains(@class,'pcpu')]/s:title"), 96);
    assert_int_equal(xp_count(doc, "//s:g[contains(@class,'gpu ')]/s:title"), 8);
    xmlFreeDoc(doc);
    free(svg);
}

/* Pinned cells in their VM's legend colour (the palette's, by VM name);
 * the others free. */
static void test_pinned_colours(void **state)
{
    fx *f = *state;
    static const struct { const char *name, *colour, *state; } expect[] = {
        { "chat", "#4e79a7", "halted" }, { "llm-a", "#f28e2b", "running" },
        { "llm-b", "#e15759", "halted" }, { "vision", "#76b7b2", "running" },
    };
    gp_assignment *as;
    size_t n_as, len, pinned = 0;
    char *svg = draw(f->ctx, &len);
    xmlDocPtr doc = parse(svg, len);
    char id[96], fill[32], want[32], line[256];

    OK(f->ctx, gp_assignment_list(f->ctx, &as, &n_as));
    assert_int_equal(n_as, 4);
    assert_int_equal(xp_count(doc, "//s:rect[@class='legend-swatch']"), 5);
    for (size_t i = 0; i < n_as; i++) {
        const char *colour = NULL;
        for (size_t k = 0; k < 4; k++)
            if (!strcmp(expect[k].name, as[i].vm_name_label))
                colour = expect[k].colour;
        assert_non_null(colour);
        snprintf(id, sizeof(id), "legend-vm-%s", as[i].vm_uuid);
        assert_string_equal(attr(by_id(doc, id), "fill", want, sizeof(want)), colour);
        assert_int_equal(as[i].n_pcpus, as[i].vcpus);
        for (size_t k = 0; k < as[i].n_pcpus; k++) {
            snprintf(id, sizeof(id), "h0-pcpu-%d", as[i].pcpus[k]);
            xmlNodePtr cell = by_id(doc, id);
            assert_string_equal(attr(cell, "fill", fill, sizeof(fill)), colour);
            assert_string_equal(attr(cell, "class", fill, sizeof(fill)), "pcpu pinned");
            pinned++;
        }
    }
    assert_int_equal(pinned, 16 + 24 + 8 + 4);
    assert_int_equal(xp_count(doc, "//s:rect[@class='pcpu pinned']"), 52);
    assert_int_equal(xp_count(doc, "//s:rect[@class='pcpu free' and @fill='#eeeeee']"), 96 - 52);
    /* legend lines: name (uuid) state, in name order */
    xmlXPathObjectPtr o = xp(doc, "//s:g[@id='legend']/s:text");
    assert_int_equal(o->nodesetval->nodeNr, 1 + 4 + 1 + 4);   /* title, keys, free, VMs */
    for (size_t k = 0; k < 4; k++) {
        const char *uuid = NULL;
        for (size_t i = 0; i < n_as; i++)
            if (!strcmp(as[i].vm_name_label, expect[k].name))
                uuid = as[i].vm_uuid;
        snprintf(line, sizeof(line), "%s (%s) %s", expect[k].name, uuid, expect[k].state);
        xmlChar *t = xmlNodeGetContent(o->nodesetval->nodeTab[6 + k]);
        assert_string_equal((const char *)t, line);
        xmlFree(t);
    }
    xmlXPathFreeObject(o);
    gp_assignment_list_free(as, n_as);
    xmlFreeDoc(doc);
    free(svg);
}

/* Each GPU's lines: pci-id, model, pool, VM; the border says its state. */
static void test_gpu_lines(void **state)
{
    fx *f = *state;
    static const struct { const char *id, *lines, *cls, *stroke; } expect[] = {
        { "h0-gpu-0000-18-00.0", "0000:18:00.0|GH100 [H100 PCIe]|pool: training|vm: llm-a",
          "gpu held", "#f28e2b" },
        { "h0-gpu-0000-2a-00.0", "0000:2a:00.0|GH100 [H100 PCIe]|pool: training|vm: llm-b",
          "gpu held", "#e15759" },
        { "h0-gpu-0000-3a-00.0", "0000:3a:00.0|GH100 [H100 PCIe]|pool: inference|vm: vision",
          "gpu held", "#76b7b2" },
        /* node 0's 48 pCPUs hold llm-a's 16, llm-b's 24 and vision's 8 vCPUs,
         * its 512 GiB llm-a's 128, vision's 64 (running) and llm-b's 256
         * (halted): no room for training's smallest VM, 16 vCPUs and 128 GiB
         * (capacity) */
        { "h0-gpu-0000-5d-00.0",
          "0000:5d:00.0|GH100 [H100 PCIe]|pool: training|vm: free|"
          "stranded: no-pcpus,no-memory",
          "gpu stranded", "#d62728" },
        { "h0-gpu-0000-9a-00.0", "0000:9a:00.0|GH100 [H100 PCIe]|pool: training|vm: free",
          "gpu free", "#2e7d32" },
        { "h0-gpu-0000-ab-00.0", "0000:ab:00.0|GH100 [H100 PCIe]|pool: training|vm: free",
          "gpu free", "#2e7d32" },
        { "h0-gpu-0000-ba-00.0", "0000:ba:00.0|GH100 [H100 PCIe]|pool: inference|vm: chat",
          "gpu held", "#4e79a7" },
        { "h0-gpu-0000-db-00.0", "0000:db:00.0|GH100 [H100 PCIe]|pool: none|vm: -",
          "gpu no-pool", "#999999" },
    };
    size_t len;
    char *svg = draw(f->ctx, &len);
    xmlDocPtr doc = parse(svg, len);
    char lines[512], buf[64], expr[160];

    assert_int_equal(xp_count(doc, "//s:g[contains(@class,'gpu ')]"), 8);
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        xmlNodePtr g = by_id(doc, expect[i].id);
        lines_of(g, lines, sizeof(lines));
        assert_string_equal(lines, expect[i].lines);
        assert_string_equal(attr(g, "class", buf, sizeof(buf)), expect[i].cls);
        snprintf(expr, sizeof(expr), "//s:g[@id='%s']/s:rect[1][@stroke='%s']", expect[i].id,
                 expect[i].stroke);
        assert_int_equal(xp_count(doc, expr), 1);
        /* attached to its node */
        snprintf(expr, sizeof(expr), "//s:g[@id='h0-node-%d']//s:g[@id='%s']", i < 4 ? 0 : 1,
                 expect[i].id);
        assert_int_equal(xp_count(doc, expr), 1);
    }
    xmlFreeDoc(doc);
    free(svg);
}

/* Memory per node: total, free, and what the assignments put there. */
static void test_memory(void **state)
{
    fx *f = *state;
    size_t len;
    char *svg = draw(f->ctx, &len);
    xmlDocPtr doc = parse(svg, len);
    xmlXPathObjectPtr o = xp(doc, "//s:g[@class='node']/s:text[@class='mem']");
    assert_int_equal(o->nodesetval->nodeNr, 2);
    xmlChar *t0 = xmlNodeGetContent(o->nodesetval->nodeTab[0]);
    xmlChar *t1 = xmlNodeGetContent(o->nodesetval->nodeTab[1]);
    /* llm-a 128 GiB + llm-b 256 GiB + vision 64 GiB on node 0, chat 32 GiB on node 1 */
    assert_string_equal((const char *)t0,
                        "memory 512.0 GiB, free 512.0 GiB, gpupool assigned 448.0 GiB");
    assert_string_equal((const char *)t1,
                        "memory 512.0 GiB, free 512.0 GiB, gpupool assigned 32.0 GiB");
    xmlFree(t0);
    xmlFree(t1);
    xmlXPathFreeObject(o);
    /* the assigned bar: 448/512 of 360 px */
    assert_int_equal(xp_count(doc, "//s:g[@id='h0-node-0']/s:rect[@class='mem-assigned']"
                                   "[@width='315']"), 1);
    xmlFreeDoc(doc);
    free(svg);
}

/* Same state, same bytes: twice on one context and once on a new one. */
static void test_deterministic(void **state)
{
    fx *f = *state;
    size_t l1, l2, l3;
    char *a = draw(f->ctx, &l1), *b = draw(f->ctx, &l2);
    gp_ctx *other = ctx_open(f->db, NULL);
    char *c = draw(other, &l3);
    assert_int_equal(l1, l2);
    assert_int_equal(l1, l3);
    assert_memory_equal(a, b, l1);
    assert_memory_equal(a, c, l1);
    gp_ctx_free(other);
    free(a);
    free(b);
    free(c);
}

static size_t leftovers(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    assert_non_null(d);
    while ((e = readdir(d)))
        n += !strncmp(e->d_name, prefix, strlen(prefix));
    closedir(d);
    return n;
}

/* The file is the text, mode 0644, replaces what was there, leaves no
 * temporary file; xmllint accepts it. */
static void test_file(void **state)
{
    fx *f = *state;
    char path[400], cmd[600];
    size_t len;
    struct stat st;
    tu_run_result r;
    snprintf(path, sizeof(path), "%s/host.svg", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("old", fp);
    fclose(fp);
    OK(f->ctx, gp_host_draw_file(f->ctx, NULL, path));
    char *svg = draw(f->ctx, &len), *file = tu_slurp(path);
    assert_non_null(file);
    assert_string_equal(file, svg);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(leftovers(f->dir, "host.svg"), 1);
    free(svg);
    free(file);

    tu_sh(&r, "command -v xmllint");
    bool have = r.status == 0;
    tu_run_free(&r);
    if (!have) {
        fprintf(stderr, "skipping the xmllint check: no xmllint (apt-get install libxml2-utils)\n");
        return;
    }
    snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", path);
    tu_sh(&r, cmd);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "");
    tu_run_free(&r);
}

/* Refusals: host= without the xapi driver, no path, an unwritable path
 * (nothing left behind). */
static void test_refusals(void **state)
{
    fx *f = *state;
    char *svg = (char *)"x";
    size_t len = 7;
    char path[400];
    const gp_error_info *e;

    assert_int_equal(gp_host_draw(f->ctx, "other-host", &svg, &len), GP_ERR_NOT_SUPPORTED);
    assert_null(svg);
    assert_int_equal(len, 0);
    assert_int_equal(gp_host_draw_file(f->ctx, NULL, ""), GP_ERR_INVALID_ARGUMENT);
    assert_int_equal(gp_host_draw_file(f->ctx, NULL, NULL), GP_ERR_INVALID_ARGUMENT);
    snprintf(path, sizeof(path), "%s/no-such-dir/host.svg", f->dir);
    assert_int_equal(gp_host_draw_file(f->ctx, NULL, path), GP_ERR_IO);
    e = gp_ctx_last_error(f->ctx);
    assert_int_equal(e->n_params, 1);
    assert_string_equal(e->params[0].key, "path");
    assert_string_equal(e->params[0].value, path);
    assert_int_equal(leftovers(f->dir, "no-such-dir"), 0);
}

/* A GPU of no known node (the lspci dump has no locality) is drawn in the
 * unknown-node box, outside every node. */
static void test_unknown_node(void **state)
{
    (void)state;
    const char *dump = tu_fixture("lspci/tree-asus-p6t6");
    if (!dump) {
        fprintf(stderr, "skipping: ../shared/fixtures/lspci/tree-asus-p6t6 absent\n");
        skip();
    }
    char dump_path[512];
    snprintf(dump_path, sizeof(dump_path), "%s", dump);
    fx f;
    fx_dir(&f, "draw-unknown");
    gp_ctx *ctx = ctx_open(f.db, dump_path);
    size_t len;
    char *svg = draw(ctx, &len), lines[512];
    xmlDocPtr doc = parse(svg, len);
    assert_int_equal(xp_count(doc, "//s:g[@id='h0-unknown-node']"), 1);
    assert_int_equal(xp_count(doc, "//s:g[@id='h0-unknown-node']//s:g[@id='h0-gpu-0000-06-00.0']"),
                     1);
    assert_int_equal(xp_count(doc, "//s:g[@class='node']//s:g[contains(@class,'gpu ')]"), 0);
    lines_of(by_id(doc, "h0-gpu-0000-06-00.0"), lines, sizeof(lines));
    assert_string_equal(lines, "0000:06:00.0|GT218 [GeForce 210]|pool: none|vm: -");
    /* the pCPUs all have a node: none drawn apart */
    assert_int_equal(xp_count(doc, "//s:g[@id='h0-unknown-node']//s:rect[contains(@class,'pcpu')]"),
                     0);
    xmlFreeDoc(doc);
    free(svg);
    gp_ctx_free(ctx);
    tu_run_result r;
    char cmd[320];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f.dir);
    tu_sh(&r, cmd);
    tu_run_free(&r);
}

/* cpu-overcommit 2: two VMs pinned to the same pCPUs.  A shared cell takes
 * the first VM's colour (name order) and a black border; the cells of one
 * VM only keep their own colour. */
static void test_overcommit_shared(void **state)
{
    (void)state;
    fx f;
    fx_dir(&f, "draw-oc");
    gp_ctx *ctx = ctx_open(f.db, NULL);
    gp_assign_args a;
    gp_assignment *as;
    size_t n_as, len, shared = 0;
    char id[64], buf[96];

    OK(ctx, gp_pool_create(ctx, "oc", NULL, GP_NUMA_REQUIRED, GP_PIN_HARD, 2.0, NULL));
    OK(ctx, gp_pool_gpu_add(ctx, "oc", "0000:18:00.0"));
    OK(ctx, gp_pool_gpu_add(ctx, "oc", "0000:2a:00.0"));
    memset(&a, 0, sizeof(a));
    a.pool = "oc";
    OK(ctx, gp_sim_vm_create(ctx, "b-second", 40, 1024, NULL));
    OK(ctx, gp_sim_vm_create(ctx, "a-first", 40, 1024, NULL));
    OK(ctx, gp_vm_gpu_assign(ctx, "b-second", &a, NULL));
    OK(ctx, gp_vm_gpu_assign(ctx, "a-first", &a, NULL));
    OK(ctx, gp_assignment_list(ctx, &as, &n_as));
    assert_int_equal(n_as, 2);
    const gp_assignment *first = strcmp(as[0].vm_name_label, "a-first") ? &as[1] : &as[0];
    const gp_assignment *second = first == &as[0] ? &as[1] : &as[0];
    char *svg = draw(ctx, &len);
    xmlDocPtr doc = parse(svg, len);
    for (size_t i = 0; i < second->n_pcpus; i++) {
        int c = second->pcpus[i];
        bool both = false;
        for (size_t k = 0; k < first->n_pcpus; k++)
            both = both || first->pcpus[k] == c;
        snprintf(id, sizeof(id), "h0-pcpu-%d", c);
        xmlNodePtr cell = by_id(doc, id);
        assert_string_equal(attr(cell, "fill", buf, sizeof(buf)), both ? "#4e79a7" : "#f28e2b");
        assert_string_equal(attr(cell, "class", buf, sizeof(buf)),
                            both ? "pcpu shared" : "pcpu pinned");
        assert_string_equal(attr(cell, "stroke", buf, sizeof(buf)), both ? "#000000" : "#bbbbbb");
        shared += both;
    }
    /* the placement puts 32 of b-second's 40 vCPUs beside a-first's */
    assert_int_equal(shared, 32);
    assert_int_equal(xp_count(doc, "//s:rect[@class='pcpu shared']"), 32);
    assert_int_equal(xp_count(doc, "//s:rect[@class='pcpu shared']/s:title"
                                   "[contains(., 'a-first') and contains(., 'overcommitted')]"), 32);
    xmlFreeDoc(doc);
    free(svg);
    gp_assignment_list_free(as, n_as);
    gp_ctx_free(ctx);
    tu_run_result r;
    char cmd[320];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f.dir);
    tu_sh(&r, cmd);
    tu_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pcpu_cells, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pinned_colours, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gpu_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deterministic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test(test_unknown_node),
        cmocka_unit_test(test_overcommit_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
