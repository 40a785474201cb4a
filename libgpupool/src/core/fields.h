/*
 * core/fields.h - one field table per object type, and the walkers that
 * serialise an object through it (fields.c).
 *
 * A GPU, a pool and an assignment are each described once, by a table of
 * rows: the field's name (snake_case, the one spelling), its type, where
 * its value lives (an offset into the object, or into a small "relations"
 * struct for what the object does not hold itself: a GPU's pool and
 * holder, a pool's free GPUs) and in which outputs it appears.  From the
 * table come
 *   - xe records (gp_record: string values, kebab-case keys derived from
 *     the name: "pci_id" -> "pci-id"; unknown is "unknown"),
 *   - typed JSON (json-c: snake_case keys, numbers are numbers, unknown is
 *     null, lists are arrays),
 *   - the host model cache's GPU rows (the JSON of the object's own facts,
 *     read back by gp_fields_from_json()).
 * Adding a GPU fact: the member of gp_gpu (gpupool.h), the discovery
 * source that sets it, and one row of gp_gpu_fields (fields.c).
 *
 * Everything here is pure: no context, no database, no driver.
 */
#ifndef GPUPOOL_CORE_FIELDS_H
#define GPUPOOL_CORE_FIELDS_H

#include "core/core.h"

/* How a value is held and shown.  "unknown" below means: record value
 * "unknown", JSON null (lists: record "unknown", JSON still an array). */
typedef enum {
    GP_FT_TEXT,     /* char[len] inside the object (pci-id, uuid); always known */
    GP_FT_STR,      /* char *; NULL unknown, or .if_null, or "" (GP_FLD_OPTIONAL) */
    GP_FT_INT,      /* int; below .min unknown (from JSON null: .min - 1) */
    GP_FT_U64,      /* uint64_t; 0 unknown */
    GP_FT_DOUBLE,   /* double; record "%g" */
    GP_FT_HEX4,     /* uint16_t; "%04x" in both outputs */
    GP_FT_HEX2,     /* uint8_t; "%02x" in both outputs */
    GP_FT_ID_PAIR,  /* two adjacent uint16_t (vendor, device), 0/0 unknown: record
                     * "vvvv:dddd" under the row's key; JSON two hex4 keys,
                     * <stem>_vendor_id and <stem>_device_id (stem: the name
                     * without its "_id") */
    GP_FT_TRI,      /* gp_tristate; "true"/"false" and JSON booleans */
    GP_FT_LINK,     /* gp_pcie_link; record "16 GT/s x16", JSON {speed_gts, width} */
    GP_FT_STRV,     /* char ** with a size_t count at .n_off; record comma-joined */
    GP_FT_INTV,     /* int * with a size_t count at .n_off; record comma-joined */
    GP_FT_ENUM,     /* an enum of a closed set (.to_string / .from_string) */
    GP_FT_OBJV      /* array of structs of .elem_size bytes described by .sub
                     * (count at .n_off): record the comma-joined first fields,
                     * JSON an array of objects */
} gp_ftype;

/* Where a row appears (.flags). */
#define GP_FLD_RECORD   0x01u   /* in xe records */
#define GP_FLD_JSON     0x02u   /* in the JSON of the public API */
#define GP_FLD_BOTH     (GP_FLD_RECORD | GP_FLD_JSON)
#define GP_FLD_REL      0x04u   /* offset into the relations struct, not the object:
                                 * not a fact of the object, never cached */
#define GP_FLD_OPTIONAL 0x08u   /* STR: NULL means "none": record "", JSON null */

typedef struct gp_fdesc gp_fdesc;
struct gp_fdesc {
    const char *name;           /* snake_case; the record key is its kebab-case */
    const char *rec_key;        /* legacy record key when not the kebab of name */
    gp_ftype type;
    unsigned flags;
    size_t off;                 /* of the value (object or relations) */
    size_t n_off;               /* STRV / INTV / OBJV: of the size_t count */
    size_t len;                 /* TEXT: size of the array */
    int min;                    /* INT: lowest known value */
    const char *if_null;        /* STR: what NULL is in both outputs */
    /* When not NULL and false for the object, the value is unknown. */
    bool (*known)(const void *obj);
    const char *(*to_string)(int v);      /* ENUM */
    int (*from_string)(const char *s);    /* ENUM */
    const gp_fdesc *sub;        /* OBJV: the element's table */
    size_t n_sub;
    size_t elem_size;           /* OBJV */
};

/* The tables (fields.c), in record order.  Relations structs: */

/* What a GPU's record / JSON says beside its own facts.  Borrowed strings. */
typedef struct {
    int socket;                         /* of its NUMA node; -1 unknown */
    const char *pool_uuid;              /* NULL: in no pool */
    const char *pool_name_label;
    const char *vm_uuid;                /* NULL: free */
    const char *vm_name_label;
} gp_gpu_rel;

/* A pool's members no VM holds. */
typedef struct {
    const char **free_gpus;
    size_t n_free_gpus;
} gp_pool_rel;

GP_HIDDEN extern const gp_fdesc gp_gpu_fields[];
GP_HIDDEN extern const size_t gp_gpu_n_fields;
GP_HIDDEN extern const gp_fdesc gp_pool_fields[];
GP_HIDDEN extern const size_t gp_pool_n_fields;
GP_HIDDEN extern const gp_fdesc gp_assignment_fields[];
GP_HIDDEN extern const size_t gp_assignment_n_fields;

/* ---- walkers ------------------------------------------------------------- */

/*
 * The record of obj through table t (rows with GP_FLD_RECORD), rel the
 * relations struct (NULL when t has no GP_FLD_REL rows).  *out is
 * initialised here; GP_ERR_NOMEM leaves it empty.
 */
GP_HIDDEN int gp_fields_record(const gp_fdesc *t, size_t n, const void *obj, const void *rel,
                               gp_record *out);

/* Which rows gp_fields_json() writes. */
typedef enum {
    GP_FJ_PUBLIC,   /* rows with GP_FLD_JSON: the public JSON (plugin) */
    GP_FJ_FACTS     /* every row without GP_FLD_REL: the object's own facts (cache) */
} gp_fjson_mode;

/* A new JSON object of obj through t (caller puts); NULL on ENOMEM. */
GP_HIDDEN struct json_object *gp_fields_json(const gp_fdesc *t, size_t n, const void *obj,
                                             const void *rel, gp_fjson_mode mode);

/*
 * Fill obj (already _init'ed, owning what it points to) from o, a JSON
 * object written by gp_fields_json(..., GP_FJ_FACTS): every fact row is read
 * back; a missing key leaves the member as _init left it.  0, or -1 when o
 * is not an object or a value has the wrong shape or on ENOMEM (obj may then
 * hold part of the values: dispose it).
 */
GP_HIDDEN int gp_fields_from_json(const gp_fdesc *t, size_t n, struct json_object *o,
                                  void *obj);

/* A hash of what table t's JSON depends on (row names, types, flags, TEXT
 * sizes, INT minimums; OBJV sub-tables included): data written through an older table has another signature
 * (the host cache puts it in its stamp, so a new GPU fact rebuilds it). */
GP_HIDDEN uint32_t gp_fields_signature(const gp_fdesc *t, size_t n);

/* ---- record building (shared with ops/records.c) ------------------------- */

/*
 * A record under construction.  The first failed allocation is remembered
 * (failed = true) and later adds are no-ops, so builders add every field and
 * check once at the end (gp_recb_finish).
 */
typedef struct {
    gp_record *r;
    size_t cap;
    bool failed;
} gp_recb;

GP_HIDDEN void gp_recb_init(gp_recb *b, gp_record *r);
/* Add key with value (taken over: freed here on failure).  A NULL value means
 * the allocation that made it failed. */
GP_HIDDEN void gp_recb_take(gp_recb *b, const char *key, char *value);
/* Add a copy of value; NULL is "unknown". */
GP_HIDDEN void gp_recb_str(gp_recb *b, const char *key, const char *value);
/* Integer; values below min_known are "unknown". */
GP_HIDDEN void gp_recb_int(gp_recb *b, const char *key, long long v, long long min_known);
/* Unsigned; "unknown" unless known. */
GP_HIDDEN void gp_recb_u64(gp_recb *b, const char *key, uint64_t v, bool known);
/* Comma-joined ints ("32,33"). */
GP_HIDDEN void gp_recb_ints(gp_recb *b, const char *key, const int *ids, size_t n);
/* Comma-joined strings ("" for none). */
GP_HIDDEN void gp_recb_strs(gp_recb *b, const char *key, const char *const *v, size_t n);
/* GP_OK, or GP_ERR_NOMEM with the record disposed. */
GP_HIDDEN int gp_recb_finish(gp_recb *b);

/* Builds record i of a list from arg; GP_ERR_NOMEM (the record left empty)
 * or GP_OK. */
typedef int (*gp_rec_build_fn)(const void *arg, size_t i, gp_record *out);
/* The list of n records build() makes from arg, handed to *out / *n_out
 * (caller frees with gp_record_list_free).  Any failure is GP_ERR_NOMEM
 * "out of memory building <what> records" on err; *out is then untouched. */
GP_HIDDEN int gp_fields_records(gp_error_info *err, const char *what, size_t n,
                                gp_rec_build_fn build, const void *arg, gp_record **out,
                                size_t *n_out);

/* Comma-join n strings; "" for none.  Caller frees; NULL on ENOMEM. */
GP_HIDDEN char *gp_strv_join(const char *const *v, size_t n);

#endif
