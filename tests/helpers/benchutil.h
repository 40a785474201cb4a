/*
 * benchutil.h - timing and reporting helpers shared by the bench programs
 * (tests/bench/bench_*.c).  No cmocka: the bench programs do not link it.
 */
#ifndef GPUPOOL_BENCHUTIL_H
#define GPUPOOL_BENCHUTIL_H

#include <stddef.h>

#include "synthhost.h"

/* CLOCK_MONOTONIC now, in milliseconds (for differences only). */
double bu_now_ms(void);

/* Sort n timings (ms) ascending in place, for medians and percentiles. */
void bu_sort_ms(double *ms, size_t n);

/* Print "  machine: <cpu model name>, nproc <online CPUs>" to stdout; the
 * model is "unknown" when /proc/cpuinfo does not name one. */
void bu_print_machine(void);

/* The large host the benches measure on: synth_spec_init() then 32 NUMA
 * nodes (4 per socket, so 8 sockets), 16 cores x 2 threads per node,
 * 512 GiB per node and 256 GPUs. */
void bu_spec_large(synth_spec *s);

#endif
