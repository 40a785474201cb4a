/*
 * synthhost.h - synthetic host models for tests and benchmarks (not part of
 * the library).
 *
 * A synthetic host has n_nodes NUMA nodes grouped nodes_per_socket to a
 * socket (package), cores_per_node cores of threads_per_core hardware
 * threads on every node, and n_gpus GPUs spread in ascending pci-id order
 * over the nodes in equal blocks (GPU i on node i * n_nodes / n_gpus), unless
 * gpu_nodes says otherwise.
 *
 * pCPU numbering (gp_pcpu.id, hwloc PU os_index), with N nodes, C cores per
 * node, T threads per core, node n, core c of the node, thread t:
 *  - contiguous:  id = n*C*T + c*T + t   (a node is one block, siblings adjacent)
 *  - interleaved: id = t*N*C + c*N + n   (node n = ids congruent to n mod N,
 *    siblings N*C apart: the 24em64t-2n6c2t layout, node 0 = even PUs)
 * Core ids are unique host-wide: n*C + c.  Socket of node n: n / nodes_per_socket.
 * Distances (unless no_distances): 10 on the node, 11 between nodes of one
 * socket, 21 across sockets.
 * GPU i has pci-id synth_gpu_pci_id(i): segment i / 200, bus 1 + i % 200,
 * device 0, function 0 ("0000:01:00.0", ..., "0000:c8:00.0", "0001:01:00.0").
 */
#ifndef GPUPOOL_SYNTHHOST_H
#define GPUPOOL_SYNTHHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gpupool.h"

typedef struct {
    int n_nodes;             /* >= 1 */
    int nodes_per_socket;    /* >= 1 */
    int cores_per_node;      /* >= 1 */
    int threads_per_core;    /* >= 1 (2 = SMT) */
    bool interleaved;        /* see the numbering above */
    int n_gpus;              /* >= 0 */
    const int *gpu_nodes;    /* NULL, or n_gpus node ids (-1 = locality unknown) */
    uint64_t mem_bytes_per_node; /* total and free memory of every node */
    bool no_distances;       /* leave gp_numa_node.distances NULL */
} synth_spec;

/* Defaults: 2 nodes, 1 node per socket, 4 cores x 2 threads, contiguous,
 * 2 GPUs, 64 GiB per node, distances present. */
void synth_spec_init(synth_spec *s);

/* Build the host model described by s into h (overwritten; free with
 * synth_host_free(), or gp_host_dispose(): every pointer is malloc'ed).
 * Returns 0, or -1 on a bad spec or out of memory (h then empty). */
int synth_host_build(const synth_spec *s, gp_host *h);
void synth_host_free(gp_host *h);

/* pci-id of synthetic GPU i (see above) into buf; returns buf. */
char *synth_gpu_pci_id(int i, char buf[GP_PCI_ID_LEN]);

/* Node of GPU i under s (-1 unknown). */
int synth_gpu_node(const synth_spec *s, int i);

/* pCPU id of thread t of core c of node n under s. */
int synth_cpu_id(const synth_spec *s, int n, int c, int t);

/* Write the same host as an hwloc v2 XML file (Machine > Package > [Group >]
 * NUMANode + Core > PU, a host bridge per GPU holding one 3D controller
 * PCIDev "0302 [10de:20b5]", distances2 NUMALatency).  GPUs of unknown
 * locality hang off the Machine.  Returns 0 or -1 (errno set). */
int synth_host_write_hwloc(const synth_spec *s, const char *path);

#endif
