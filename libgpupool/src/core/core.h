/*
 * core/core.h - the bottom layer of libgpupool: errors, small utilities,
 * the closed sets (enum tables), configuration and the host/GPU/VM data
 * model; core/fields.h: one field table per object (GPU, pool, assignment)
 * from which records, JSON and the host cache's GPU rows are made.  Nothing here knows a context, a database, a driver or a
 * hypervisor.  Not installed.
 *
 * Layers (docs/architecture.md; `make check-layers` enforces them):
 *   core  <-  xenlight, rpc, store, place  <-  discover  <-  drivers  <-  ops
 * A folder calls only into folders to its left, never sideways or up.
 */
#ifndef GPUPOOL_CORE_H
#define GPUPOOL_CORE_H

#include "gpupool.h"

#include <stdarg.h>

#define GP_HIDDEN __attribute__((visibility("hidden")))
#define GP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define GP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors (error.c) ---------------------------------------------------- */

/* The code of a stable name (gp_error_name), 0 when none has it. */
GP_HIDDEN int gp_error_from_name(const char *name);

/* Reset e to "no error". */
GP_HIDDEN void gp_err_clear(gp_error_info *e);
/* Set code and formatted message; params follow as key, value, ..., NULL.
 * Returns code so callers can `return gp_err_set(...)`.  e may be NULL. */
GP_HIDDEN int gp_err_set(gp_error_info *e, int code, const char *fmt, ...) GP_PRINTF(3, 4);
/* Append one "key: value" param to e (after gp_err_set). */
GP_HIDDEN void gp_err_param(gp_error_info *e, const char *key, const char *fmt, ...) GP_PRINTF(3, 4);
/* Copy src into dst (dst disposed first). */
GP_HIDDEN void gp_err_copy(gp_error_info *dst, const gp_error_info *src);

/* Shorthands on any handle with a `gp_error_info *err` member (gp_ctx,
 * gp_store, gp_drv). */
#define GP_ERR(h, code, ...) gp_err_set((h)->err, (code), __VA_ARGS__)
#define GP_PARAM(h, key, ...) gp_err_param((h)->err, (key), __VA_ARGS__)

/* ---- small utilities (util.c) --------------------------------------------- */

GP_HIDDEN char *gp_strdup(const char *s);            /* NULL-safe; NULL on ENOMEM */
GP_HIDDEN char *gp_asprintf(const char *fmt, ...) GP_PRINTF(1, 2);
/* gp_asprintf() on a va_list (ap is consumed); NULL on ENOMEM. */
GP_HIDDEN char *gp_vasprintf(const char *fmt, va_list ap) GP_PRINTF(1, 0);
GP_HIDDEN void gp_strv_free(char **v, size_t n);
/* Read a whole small file (sysfs attribute) into a NUL-terminated buffer with
 * the trailing newline removed.  NULL if absent/unreadable. */
GP_HIDDEN char *gp_read_file_trim(const char *path);
/* Parse a Linux cpulist "0-3,8,10-11" into a sorted int array.
 * Returns 0 or GP_ERR_INVALID_ARGUMENT / GP_ERR_NOMEM. */
GP_HIDDEN int gp_cpulist_parse(const char *s, int **out, size_t *n_out);
/* Format ids as "32,33,34" (comma-joined, no ranges).  Caller frees. */
GP_HIDDEN char *gp_cpulist_join(const int *ids, size_t n);
/* Format ids as a compact range list "0-3,8" (xl config style).  Caller frees. */
GP_HIDDEN char *gp_cpulist_ranges(const int *ids, size_t n);
/* Generate a random RFC 4122 v4 UUID into out (37 bytes). */
GP_HIDDEN void gp_uuid_generate(char out[37]);
GP_HIDDEN bool gp_uuid_valid(const char *s);
/* Current time as ISO 8601 UTC with milliseconds, static-size buffer. */
GP_HIDDEN void gp_now_iso(char buf[32]);
/* Unix seconds now: $GPUPOOL_NOW when set (tests), else time(). The one
 * clock of governance (queue waits, leases, GPU-hours, fair share). */
GP_HIDDEN int64_t gp_now(void);
/* t (Unix seconds) as ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ" into buf. */
GP_HIDDEN void gp_time_iso(int64_t t, char buf[32]);
/* Milliseconds of CLOCK_MONOTONIC (for deadlines). */
GP_HIDDEN uint64_t gp_monotonic_ms(void);
GP_HIDDEN int gp_cmp_int(const void *a, const void *b);
/* A VM in a message: "name (uuid)", or the uuid alone when it has no name
 * (a halted VM on plain Xen is known by its uuid only).  Returns buf. */
GP_HIDDEN const char *gp_vm_label(const char *name_label, const char *uuid, char *buf,
                                  size_t len);
/* Make room for element n of a growing array *arr of *cap elements of elem
 * bytes (capacity doubles, from 16).  0, or -1 on ENOMEM with *arr and *cap
 * untouched. */
GP_HIDDEN int gp_array_reserve(void **arr, size_t *cap, size_t n, size_t elem);
/* Compact JSON text of o (json-c JSON_C_TO_STRING_PLAIN), malloc'ed; o is
 * released (json_object_put) either way.  NULL when o is NULL or on ENOMEM. */
struct json_object;
GP_HIDDEN char *gp_json_take_text(struct json_object *o);
/* A new JSON array with room for n items (json_object_new_array_ext on
 * json-c >= 0.15, the plain array before).  NULL on ENOMEM. */
GP_HIDDEN struct json_object *gp_json_array_new(size_t n);

/* ---- a host model as JSON (host_json.c) ----------------------------------------- */

/* The host model h as a new JSON object (nodes, pCPUs, GPUs through
 * gp_gpu_fields, cpupools; memory in bytes), the shape published in xapi as
 * host.other_config["gpupool:host"].  Caller puts; NULL on ENOMEM. */
GP_HIDDEN struct json_object *gp_host_to_json(const gp_host *h);
/* The same as compact text; caller frees; NULL on ENOMEM. */
GP_HIDDEN char *gp_host_json_text(const gp_host *h);
/* Fill h (_init'ed) from gp_host_to_json() output.  0, or -1 on another
 * version, a wrong shape or ENOMEM (h may then hold part: dispose it). */
GP_HIDDEN int gp_host_from_json(struct json_object *o, gp_host *h);
/* Parse text (json-c) into h (_init'ed); on -1 h is left empty (_init'ed). */
GP_HIDDEN int gp_host_from_json_text(const char *text, gp_host *h);
/* An assignment's own facts as compact JSON (gp_assignment_fields without
 * names and memory certainty): VM.other_config["gpupool:placement"] on
 * XCP-ng.  Caller frees; NULL on ENOMEM. */
GP_HIDDEN char *gp_placement_json_text(const gp_assignment *a);
/* Read it back into a (_init'ed).  0, or -1 (wrong shape, no vm_uuid,
 * pci_id or pool_uuid, ENOMEM: dispose a). */
GP_HIDDEN int gp_placement_from_json_text(const char *text, gp_assignment *a);

/* Length of the longest prefix of s (len bytes) of at most max bytes that
 * does not end inside a UTF-8 sequence: len when len <= max, else max backed
 * up over continuation bytes (0x80..0xbf) to the start of a sequence. */
GP_HIDDEN size_t gp_utf8_prefix(const char *s, size_t len, size_t max);
/* Check a text field a user sets (a pool's name-label or description):
 * at most max_bytes bytes (without the NUL), and no control character
 * (bytes 0x00..0x1f and 0x7f) except, when multiline, tab, CR and LF.  s
 * NULL is the empty text.  Returns GP_OK, or GP_ERR_INVALID_ARGUMENT set on
 * err with params <field> (the text's first 64 bytes, "..." when cut) and
 * length (its length in bytes; and max-length when too long).  Nothing else
 * is judged here: emptiness and uniqueness are the caller's rules. */
GP_HIDDEN int gp_text_check(gp_error_info *err, const char *field, const char *s,
                            size_t max_bytes, bool multiline);

/* ---- closed sets (enum.c) -------------------------------------------------- *
 *
 * Every closed set of names is one table, in the manner of libvirt's
 * VIR_ENUM_IMPL: GP_ENUM_DECL(name) declares name##_to_string /
 * name##_from_string, GP_ENUM_IMPL(name, LAST, "a", "b", ...) defines them
 * and fails to compile when the number of strings is not LAST.  Parsers,
 * help texts, bash completion (xe-gpupool enum-values) and the database's
 * value tables all read these tables; nothing else spells the names. */
#define GP_ENUM_DECL(name)                                                     \
    GP_HIDDEN const char *name##_to_string(int v);                             \
    GP_HIDDEN int name##_from_string(const char *s);                           \
    GP_HIDDEN extern const char *const name##_names[];                         \
    GP_HIDDEN extern const size_t name##_count

#define GP_ENUM_IMPL(name, last, ...)                                          \
    const char *const name##_names[] = { __VA_ARGS__ };                        \
    const size_t name##_count = GP_ARRAY_SIZE(name##_names);                   \
    typedef char name##_size_check[GP_ARRAY_SIZE(name##_names) == (last) ? 1 : -1]; \
    const char *name##_to_string(int v)                                        \
    {                                                                          \
        return v >= 0 && (size_t)v < name##_count ? name##_names[v] : NULL;    \
    }                                                                          \
    int name##_from_string(const char *s)                                      \
    {                                                                          \
        for (size_t i = 0; s && i < name##_count; i++)                         \
            if (!strcmp(s, name##_names[i]))                                   \
                return (int)i;                                                 \
        return -1;                                                             \
    }


GP_ENUM_DECL(gp_numa_policy);
GP_ENUM_DECL(gp_pin_mode);
GP_ENUM_DECL(gp_placement_strategy);
GP_ENUM_DECL(gp_memnode_certainty);
GP_ENUM_DECL(gp_vm_state);
GP_ENUM_DECL(gp_locality);
GP_ENUM_DECL(gp_evac_action);
GP_ENUM_DECL(gp_cap_state);
GP_ENUM_DECL(gp_strand_reason);
GP_ENUM_DECL(gp_check_status);

/* "a, b or c" of a table (for messages), malloc'ed; NULL on ENOMEM. */
GP_HIDDEN char *gp_enum_list(const char *const *names, size_t n, const char *conj);
/* Set err to GP_ERR_INVALID_ARGUMENT "<what> must be a, b or c, not 'v'"
 * with param <param>: v.  Returns GP_ERR_INVALID_ARGUMENT. */
GP_HIDDEN int gp_enum_invalid(gp_error_info *err, const char *param, const char *what,
                              const char *const *names, size_t n, const char *v);

/* ---- configuration (config.c) ---------------------------------------------- */

GP_HIDDEN int gp_config_copy(gp_config *dst, const gp_config *src);
/* True when (class, vendor) passes cfg's class filter (default 0300, 0302,
 * 0380, 1200). */
GP_HIDDEN bool gp_class_is_gpu(const gp_config *cfg, uint16_t class_code, uint16_t vendor_id);

/* ---- the host model (model.c) ------------------------------------------------ */

/* Derive link_downgraded from link_cap / link_sta. */
GP_HIDDEN void gp_gpu_update_link_state(gp_gpu *g);
/* Free an array of n NUMA nodes and each node's cpus and distances.
 * nodes may be NULL. */
GP_HIDDEN void gp_numa_nodes_free(gp_numa_node *nodes, size_t n);
/* Sort host arrays into their documented order and fill node sockets. */
GP_HIDDEN void gp_host_finish(gp_host *host);
/* Embedded dual-socket 8-GPU host (hwloc XML, embedded_host.S). */
GP_HIDDEN extern const char gp_embedded_host_xml[];
GP_HIDDEN extern const size_t gp_embedded_host_xml_len;

#endif /* GPUPOOL_CORE_H */
