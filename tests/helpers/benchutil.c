/*
 * benchutil.c - timing and reporting helpers shared by the bench programs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

double bu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bu_sort_ms(double *ms, size_t n)
{
    qsort(ms, n, sizeof(*ms), cmp_double);
}

void bu_spec_large(synth_spec *s)
{
    synth_spec_init(s);
    s->n_nodes = 32;
    s->nodes_per_socket = 4;
    s->cores_per_node = 16;
    s->threads_per_core = 2;
    s->n_gpus = 256;
    s->mem_bytes_per_node = 512ULL << 30;
}

void bu_print_machine(void)
{
    char line[512], model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof(line), f))
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    snprintf(model, sizeof(model), "%s", c + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        fclose(f);
    }
    printf("  machine: %s, nproc %ld\n", model, sysconf(_SC_NPROCESSORS_ONLN));
}
