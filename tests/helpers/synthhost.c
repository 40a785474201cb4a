/*
 * synthhost.c - synthetic host models for tests and benchmarks.
 */
#include "synthhost.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void synth_spec_init(synth_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->n_nodes = 2;
    s->nodes_per_socket = 1;
    s->cores_per_node = 4;
    s->threads_per_core = 2;
    s->n_gpus = 2;
    s->mem_bytes_per_node = 64ULL << 30;
}

static int gp_cmp_int_synth(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static bool spec_valid(const synth_spec *s)
{
    return s->n_nodes >= 1 && s->nodes_per_socket >= 1 && s->cores_per_node >= 1 &&
           s->threads_per_core >= 1 && s->n_gpus >= 0 && s->n_gpus <= 200 * 256;
}

char *synth_gpu_pci_id(int i, char buf[GP_PCI_ID_LEN])
{
    snprintf(buf, GP_PCI_ID_LEN, "%04x:%02x:00.0", (unsigned)(i / 200), (unsigned)(1 + i % 200));
    return buf;
}

int synth_gpu_node(const synth_spec *s, int i)
{
    if (s->gpu_nodes)
        return s->gpu_nodes[i];
    return (int)((long)i * s->n_nodes / (s->n_gpus ? s->n_gpus : 1));
}

int synth_cpu_id(const synth_spec *s, int n, int c, int t)
{
    int N = s->n_nodes, C = s->cores_per_node, T = s->threads_per_core;
    if (s->interleaved)
        return t * N * C + c * N + n;
    return n * C * T + c * T + t;
}

static int node_distance(const synth_spec *s, int a, int b)
{
    if (a == b)
        return 10;
    return a / s->nodes_per_socket == b / s->nodes_per_socket ? 11 : 21;
}

void synth_host_free(gp_host *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n_nodes; i++) {
        free(h->nodes[i].cpus);
        free(h->nodes[i].distances);
    }
    free(h->nodes);
    free(h->cpus);
    for (size_t i = 0; i < h->n_gpus; i++)
        free(h->gpus[i].source);
    free(h->gpus);
    free(h->functions);
    for (size_t i = 0; i < h->n_cpupools; i++) {
        free(h->cpupools[i].name);
        free(h->cpupools[i].cpus);
    }
    free(h->cpupools);
    free(h->topology_source);
    free(h->pci_source);
    memset(h, 0, sizeof(*h));
    h->passthrough = GP_UNKNOWN;
}

int synth_host_build(const synth_spec *s, gp_host *h)
{
    memset(h, 0, sizeof(*h));
    h->passthrough = GP_UNKNOWN;
    if (!spec_valid(s))
        return -1;

    int N = s->n_nodes, C = s->cores_per_node, T = s->threads_per_core;
    size_t per_node = (size_t)C * T;

    h->n_nodes = (size_t)N;
    h->nodes = calloc((size_t)N, sizeof(*h->nodes));
    h->n_cpus = (size_t)N * per_node;
    h->cpus = calloc(h->n_cpus, sizeof(*h->cpus));
    h->n_gpus = (size_t)s->n_gpus;
    h->gpus = calloc(h->n_gpus ? h->n_gpus : 1, sizeof(*h->gpus));
    h->topology_source = strdup("synthetic");
    h->pci_source = strdup("synthetic");
    if (!h->nodes || !h->cpus || !h->gpus || !h->topology_source || !h->pci_source)
        goto fail;

    for (int n = 0; n < N; n++) {
        gp_numa_node *nd = &h->nodes[n];
        nd->id = n;
        nd->socket = n / s->nodes_per_socket;
        nd->mem_total_bytes = s->mem_bytes_per_node;
        nd->mem_free_bytes = s->mem_bytes_per_node;
        nd->cpus = malloc(per_node * sizeof(int));
        if (!nd->cpus)
            goto fail;
        nd->n_cpus = 0;
        for (int c = 0; c < C; c++)
            for (int t = 0; t < T; t++) {
                int id = synth_cpu_id(s, n, c, t);
                nd->cpus[nd->n_cpus++] = id;
                gp_pcpu *p = &h->cpus[id];
                p->id = id;
                p->core = n * C + c;
                p->socket = nd->socket;
                p->node = n;
            }
        qsort(nd->cpus, nd->n_cpus, sizeof(int), gp_cmp_int_synth);
        if (!s->no_distances) {
            nd->distances = malloc((size_t)N * sizeof(int));
            if (!nd->distances)
                goto fail;
            for (int m = 0; m < N; m++)
                nd->distances[m] = node_distance(s, n, m);
        }
    }

    for (int i = 0; i < s->n_gpus; i++) {
        gp_gpu *g = &h->gpus[i];
        synth_gpu_pci_id(i, g->pci_id);
        g->addr.domain = (uint32_t)(i / 200);
        g->addr.bus = (uint8_t)(1 + i % 200);
        g->vendor_id = 0x10de;
        g->device_id = 0x20b5;
        g->class_code = 0x0302;
        g->numa_node = synth_gpu_node(s, i);
        g->iommu_group = -1;
        g->boot_vga = GP_NO;
        g->link_downgraded = GP_UNKNOWN;
        g->flr = GP_UNKNOWN;
        g->sriov_totalvfs = -1;
        g->source = strdup("synthetic");
        if (!g->source)
            goto fail;
    }
    return 0;
fail:
    synth_host_free(h);
    return -1;
}

/* ---- hwloc XML ------------------------------------------------------------ */

/* hwloc bitmap text of the set bits in ids (32-bit words, most significant
 * first, comma-separated).  Caller frees. */
static char *bitmap_text(const int *ids, size_t n)
{
    int max = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] > max)
            max = ids[i];
    size_t words = (size_t)max / 32 + 1;
    uint32_t *w = calloc(words, sizeof(*w));
    char *out = malloc(words * 11 + 1);
    if (!w || !out) {
        free(w);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        w[ids[i] / 32] |= 1u << (ids[i] % 32);
    /* hwloc_bitmap_snprintf's shape: no leading zero words, a zero word in
     * the middle is empty, a zero last word is "0x0": "0x00000010,,,0x0". */
    char *p = out;
    size_t hi = words;
    while (hi > 0 && w[hi - 1] == 0)
        hi--;
    if (hi == 0)
        strcpy(out, "0x0");
    for (size_t k = hi; k-- > 0;) {
        const char *comma = k + 1 == hi ? "" : ",";
        if (w[k])
            p += sprintf(p, "%s0x%08x", comma, w[k]);
        else
            p += sprintf(p, "%s%s", comma, k == 0 ? "0x0" : "");
    }
    free(w);
    return out;
}

static void write_sets(FILE *f, const int *cpus, size_t n_cpus, const int *nodes, size_t n_nodes)
{
    char *c = bitmap_text(cpus, n_cpus), *nd = bitmap_text(nodes, n_nodes);
    fprintf(f, " cpuset=\"%s\" complete_cpuset=\"%s\" nodeset=\"%s\" complete_nodeset=\"%s\"",
            c ? c : "0x0", c ? c : "0x0", nd ? nd : "0x0", nd ? nd : "0x0");
    free(c);
    free(nd);
}

static void write_gpu(FILE *f, int i, int indent, int *gp)
{
    char id[GP_PCI_ID_LEN];
    synth_gpu_pci_id(i, id);
    unsigned dom = (unsigned)(i / 200), bus = (unsigned)(1 + i % 200);
    fprintf(f, "%*s<object type=\"Bridge\" gp_index=\"%d\" bridge_type=\"0-1\" depth=\"0\""
               " bridge_pci=\"%04x:[%02x-%02x]\">\n", indent, "", (*gp)++, dom, bus, bus);
    fprintf(f, "%*s<object type=\"PCIDev\" gp_index=\"%d\" pci_busid=\"%s\""
               " pci_type=\"0302 [10de:20b5] [10de:1533] a1 00\" pci_link_speed=\"31.507692\">\n",
            indent + 2, "", (*gp)++, id);
    fprintf(f, "%*s<info name=\"PCIVendor\" value=\"NVIDIA Corporation\"/>\n", indent + 4, "");
    fprintf(f, "%*s<info name=\"PCIDevice\" value=\"GA100 [A100 PCIe 80GB]\"/>\n", indent + 4, "");
    fprintf(f, "%*s</object>\n", indent + 2, "");
    fprintf(f, "%*s</object>\n", indent, "");
}

int synth_host_write_hwloc(const synth_spec *s, const char *path)
{
    gp_host h;
    int rc = -1, gp = 1;
    int *all_nodes = NULL, *ids = NULL, *sock_nodes = NULL;
    FILE *f = NULL;

    if (synth_host_build(s, &h) < 0) {
        errno = EINVAL;
        return -1;
    }
    int N = s->n_nodes, C = s->cores_per_node, T = s->threads_per_core;
    int S = (N + s->nodes_per_socket - 1) / s->nodes_per_socket;
    all_nodes = malloc((size_t)N * sizeof(int));
    ids = malloc(h.n_cpus * sizeof(int));
    sock_nodes = malloc((size_t)N * sizeof(int));
    if (!all_nodes || !ids || !sock_nodes)
        goto out;
    for (int n = 0; n < N; n++)
        all_nodes[n] = n;
    for (size_t i = 0; i < h.n_cpus; i++)
        ids[i] = h.cpus[i].id;

    f = fopen(path, "w");
    if (!f)
        goto out;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<!DOCTYPE topology SYSTEM \"hwloc2.dtd\">\n"
               "<topology version=\"2.0\">\n");
    char *all = bitmap_text(ids, h.n_cpus), *alln = bitmap_text(all_nodes, (size_t)N);
    fprintf(f, "  <object type=\"Machine\" os_index=\"0\"");
    write_sets(f, ids, h.n_cpus, all_nodes, (size_t)N);
    fprintf(f, " allowed_cpuset=\"%s\" allowed_nodeset=\"%s\" gp_index=\"%d\">\n",
            all ? all : "0x0", alln ? alln : "0x0", gp++);
    free(all);
    free(alln);
    fprintf(f, "    <info name=\"Backend\" value=\"Synthetic\"/>\n");
    fprintf(f, "    <info name=\"DMIProductName\" value=\"gpupool synthetic %dn%dc%dt %d GPUs\"/>\n",
            N, C, T, s->n_gpus);

    for (int sk = 0; sk < S; sk++) {
        size_t nsn = 0, nsc = 0;
        for (int n = sk * s->nodes_per_socket; n < N && n < (sk + 1) * s->nodes_per_socket; n++) {
            sock_nodes[nsn++] = n;
            memcpy(ids + nsc, h.nodes[n].cpus, h.nodes[n].n_cpus * sizeof(int));
            nsc += h.nodes[n].n_cpus;
        }
        fprintf(f, "    <object type=\"Package\" os_index=\"%d\"", sk);
        write_sets(f, ids, nsc, sock_nodes, nsn);
        fprintf(f, " gp_index=\"%d\">\n", gp++);
        bool group = s->nodes_per_socket > 1;
        for (size_t k = 0; k < nsn; k++) {
            int n = sock_nodes[k];
            const gp_numa_node *nd = &h.nodes[n];
            int ind = 6;
            if (group) {
                fprintf(f, "      <object type=\"Group\"");
                write_sets(f, nd->cpus, nd->n_cpus, &n, 1);
                fprintf(f, " gp_index=\"%d\" kind=\"1001\" subkind=\"0\">\n", gp++);
                ind = 8;
            }
            fprintf(f, "%*s<object type=\"NUMANode\" os_index=\"%d\"", ind, "", n);
            write_sets(f, nd->cpus, nd->n_cpus, &n, 1);
            fprintf(f, " gp_index=\"%d\" local_memory=\"%llu\"/>\n", gp++,
                    (unsigned long long)nd->mem_total_bytes);
            for (int c = 0; c < C; c++) {
                int pus[64];
                int nt = T < 64 ? T : 64;
                for (int t = 0; t < nt; t++)
                    pus[t] = synth_cpu_id(s, n, c, t);
                qsort(pus, (size_t)nt, sizeof(int), gp_cmp_int_synth);
                fprintf(f, "%*s<object type=\"Core\" os_index=\"%d\"", ind, "", n * C + c);
                write_sets(f, pus, (size_t)nt, &n, 1);
                fprintf(f, " gp_index=\"%d\">\n", gp++);
                for (int t = 0; t < nt; t++) {
                    fprintf(f, "%*s<object type=\"PU\" os_index=\"%d\"", ind + 2, "", pus[t]);
                    write_sets(f, &pus[t], 1, &n, 1);
                    fprintf(f, " gp_index=\"%d\"/>\n", gp++);
                }
                fprintf(f, "%*s</object>\n", ind, "");
            }
            for (int i = 0; i < s->n_gpus; i++)
                if (synth_gpu_node(s, i) == n)
                    write_gpu(f, i, ind, &gp);
            if (group)
                fprintf(f, "      </object>\n");
        }
        fprintf(f, "    </object>\n");
    }
    for (int i = 0; i < s->n_gpus; i++) {
        int gn = synth_gpu_node(s, i);
        if (gn < 0 || gn >= N)
            write_gpu(f, i, 4, &gp);
    }
    fprintf(f, "  </object>\n");
    if (!s->no_distances) {
        fprintf(f, "  <distances2 type=\"NUMANode\" nbobjs=\"%d\" kind=\"5\" name=\"NUMALatency\""
                   " indexing=\"os\">\n", N);
        /* hwloc's length attributes count the characters of the text. */
        size_t cap = (size_t)N * N * 12 + (size_t)N * 12 + 2;
        char *ix = malloc(cap), *vals = malloc(cap);
        if (!ix || !vals) {
            free(ix);
            free(vals);
            goto out;
        }
        size_t li = 0, lv = 0;
        for (int n = 0; n < N; n++)
            li += (size_t)sprintf(ix + li, "%d ", n);
        for (int a = 0; a < N; a++)
            for (int b = 0; b < N; b++)
                lv += (size_t)sprintf(vals + lv, "%d ", node_distance(s, a, b));
        fprintf(f, "    <indexes length=\"%zu\">%s</indexes>\n", li, ix);
        fprintf(f, "    <u64values length=\"%zu\">%s", lv, vals);
        free(ix);
        free(vals);
        fprintf(f, "</u64values>\n  </distances2>\n");
    }
    fprintf(f, "</topology>\n");
    if (ferror(f))
        goto out;
    rc = 0;
out:
    if (f && fclose(f) != 0)
        rc = -1;
    free(all_nodes);
    free(ids);
    free(sock_nodes);
    synth_host_free(&h);
    return rc;
}
