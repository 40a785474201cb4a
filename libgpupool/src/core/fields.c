/*
 * fields.c - the field tables of a GPU, a pool and an assignment, and the
 * walkers that turn an object into an xe record or JSON and JSON back into
 * an object (core/fields.h).  Also gp_record itself and its builder.
 */
#include "core/fields.h"

#include <errno.h>
#include <inttypes.h>
#include <json.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNKNOWN "unknown"

/* ---- the tables ----------------------------------------------------------- */

#define OFF(T, m) offsetof(T, m)
#define LEN(T, m) sizeof(((T *)0)->m)

static bool gpu_group_known(const void *obj)
{
    return ((const gp_gpu *)obj)->iommu_group >= 0;
}

/* The other functions of a GPU's slot. */
static const gp_fdesc companion_fields[] = {
    { .name = "pci_id", .type = GP_FT_TEXT, .flags = GP_FLD_BOTH,
      .off = OFF(gp_companion, pci_id), .len = LEN(gp_companion, pci_id) },
    { .name = "class", .type = GP_FT_HEX4, .flags = GP_FLD_BOTH,
      .off = OFF(gp_companion, class_code) },
    { .name = "vendor_id", .type = GP_FT_HEX4, .flags = GP_FLD_BOTH,
      .off = OFF(gp_companion, vendor_id) },
    { .name = "device_id", .type = GP_FT_HEX4, .flags = GP_FLD_BOTH,
      .off = OFF(gp_companion, device_id) },
    { .name = "driver", .type = GP_FT_STR, .flags = GP_FLD_BOTH,
      .off = OFF(gp_companion, driver) },
};

/* GP_FT_ID_PAIR reads two adjacent uint16_t. */
typedef char gp_subsys_pair_check[OFF(gp_gpu, subsys_device_id) ==
                                  OFF(gp_gpu, subsys_vendor_id) + sizeof(uint16_t) ? 1 : -1];

#define GPU(m) .off = OFF(gp_gpu, m)
#define GREL(m) .off = OFF(gp_gpu_rel, m)

const gp_fdesc gp_gpu_fields[] = {
    { .name = "pci_id", .type = GP_FT_TEXT, .flags = GP_FLD_BOTH, GPU(pci_id),
      .len = LEN(gp_gpu, pci_id) },
    { .name = "vendor_name", .type = GP_FT_STR, .flags = GP_FLD_BOTH, GPU(vendor_name) },
    { .name = "device_name", .type = GP_FT_STR, .flags = GP_FLD_BOTH, GPU(device_name) },
    { .name = "vendor_id", .type = GP_FT_HEX4, .flags = GP_FLD_BOTH, GPU(vendor_id) },
    { .name = "device_id", .type = GP_FT_HEX4, .flags = GP_FLD_BOTH, GPU(device_id) },
    { .name = "subsystem_id", .type = GP_FT_ID_PAIR, .flags = GP_FLD_BOTH,
      GPU(subsys_vendor_id) },
    { .name = "subsystem_name", .type = GP_FT_STR, .flags = GP_FLD_BOTH, GPU(subsys_name) },
    { .name = "class", .type = GP_FT_HEX4, .flags = GP_FLD_BOTH, GPU(class_code) },
    { .name = "prog_if", .type = GP_FT_HEX2, .flags = GP_FLD_JSON, GPU(prog_if) },
    { .name = "revision", .type = GP_FT_HEX2, .flags = GP_FLD_JSON, GPU(revision) },
    { .name = "numa_node", .type = GP_FT_INT, .flags = GP_FLD_BOTH, GPU(numa_node) },
    { .name = "socket", .type = GP_FT_INT, .flags = GP_FLD_RECORD | GP_FLD_REL,
      GREL(socket) },
    { .name = "iommu_group", .type = GP_FT_INT, .flags = GP_FLD_BOTH, GPU(iommu_group) },
    { .name = "iommu_group_members", .type = GP_FT_STRV, .flags = GP_FLD_BOTH,
      GPU(iommu_group_members), .n_off = OFF(gp_gpu, n_iommu_group_members),
      .known = gpu_group_known },
    { .name = "companions", .type = GP_FT_OBJV, .flags = GP_FLD_BOTH, GPU(companions),
      .n_off = OFF(gp_gpu, n_companions), .sub = companion_fields,
      .n_sub = GP_ARRAY_SIZE(companion_fields), .elem_size = sizeof(gp_companion) },
    { .name = "driver", .type = GP_FT_STR, .flags = GP_FLD_BOTH, GPU(driver) },
    { .name = "boot_vga", .type = GP_FT_TRI, .flags = GP_FLD_BOTH, GPU(boot_vga) },
    { .name = "link_cap", .type = GP_FT_LINK, .flags = GP_FLD_BOTH, GPU(link_cap) },
    { .name = "link_sta", .rec_key = "link-status", .type = GP_FT_LINK, .flags = GP_FLD_BOTH,
      GPU(link_sta) },
    { .name = "link_downgraded", .type = GP_FT_TRI, .flags = GP_FLD_BOTH,
      GPU(link_downgraded) },
    { .name = "flr", .type = GP_FT_TRI, .flags = GP_FLD_BOTH, GPU(flr) },
    { .name = "reset_method", .type = GP_FT_STR, .flags = GP_FLD_BOTH, GPU(reset_method) },
    { .name = "sriov_totalvfs", .type = GP_FT_INT, .flags = GP_FLD_BOTH,
      GPU(sriov_totalvfs) },
    { .name = "max_bar_bytes", .type = GP_FT_U64, .flags = GP_FLD_BOTH, GPU(max_bar_bytes) },
    { .name = "pool_uuid", .type = GP_FT_STR, .flags = GP_FLD_JSON | GP_FLD_REL | GP_FLD_OPTIONAL,
      GREL(pool_uuid) },
    { .name = "pool_name_label", .rec_key = "pool", .type = GP_FT_STR,
      .flags = GP_FLD_BOTH | GP_FLD_REL | GP_FLD_OPTIONAL, GREL(pool_name_label) },
    { .name = "vm_uuid", .type = GP_FT_STR, .flags = GP_FLD_BOTH | GP_FLD_REL | GP_FLD_OPTIONAL,
      GREL(vm_uuid) },
    { .name = "vm_name_label", .type = GP_FT_STR,
      .flags = GP_FLD_JSON | GP_FLD_REL | GP_FLD_OPTIONAL, GREL(vm_name_label) },
    { .name = "source", .type = GP_FT_STR, .flags = GP_FLD_BOTH, GPU(source) },
};
const size_t gp_gpu_n_fields = GP_ARRAY_SIZE(gp_gpu_fields);

#define POOL(m) .off = OFF(gp_pool, m)

const gp_fdesc gp_pool_fields[] = {
    { .name = "uuid", .type = GP_FT_TEXT, .flags = GP_FLD_BOTH, POOL(uuid),
      .len = LEN(gp_pool, uuid) },
    { .name = "name_label", .type = GP_FT_STR, .flags = GP_FLD_BOTH, POOL(name_label),
      .if_null = "" },
    { .name = "name_description", .type = GP_FT_STR, .flags = GP_FLD_BOTH,
      POOL(name_description), .if_null = "" },
    { .name = "numa_policy", .type = GP_FT_ENUM, .flags = GP_FLD_BOTH, POOL(numa_policy),
      .to_string = gp_numa_policy_to_string, .from_string = gp_numa_policy_from_string },
    { .name = "pin_mode", .type = GP_FT_ENUM, .flags = GP_FLD_BOTH, POOL(pin_mode),
      .to_string = gp_pin_mode_to_string, .from_string = gp_pin_mode_from_string },
    { .name = "placement", .type = GP_FT_ENUM, .flags = GP_FLD_BOTH, POOL(placement),
      .to_string = gp_placement_strategy_to_string,
      .from_string = gp_placement_strategy_from_string },
    { .name = "cpu_overcommit", .type = GP_FT_DOUBLE, .flags = GP_FLD_BOTH,
      POOL(cpu_overcommit) },
    { .name = "cpupool", .type = GP_FT_STR, .flags = GP_FLD_BOTH, POOL(cpupool),
      .if_null = GP_CPUPOOL_DEFAULT },
    { .name = "gpus", .type = GP_FT_STRV, .flags = GP_FLD_BOTH, POOL(gpus),
      .n_off = OFF(gp_pool, n_gpus) },
    { .name = "free_gpus", .type = GP_FT_STRV, .flags = GP_FLD_BOTH | GP_FLD_REL,
      .off = OFF(gp_pool_rel, free_gpus), .n_off = OFF(gp_pool_rel, n_free_gpus) },
    { .name = "created", .type = GP_FT_STR, .flags = GP_FLD_BOTH, POOL(created) },
    { .name = "cost_per_gpu_hour", .type = GP_FT_DOUBLE, .flags = GP_FLD_BOTH,
      POOL(cost_per_gpu_hour) },
    { .name = "idle_release_after", .type = GP_FT_INT, .flags = GP_FLD_BOTH,
      POOL(idle_release_after) },
    { .name = "allowed_tenants", .type = GP_FT_STR, .flags = GP_FLD_BOTH | GP_FLD_OPTIONAL,
      POOL(allowed_tenants) },
};
const size_t gp_pool_n_fields = GP_ARRAY_SIZE(gp_pool_fields);

#define ASG(m) .off = OFF(gp_assignment, m)

const gp_fdesc gp_assignment_fields[] = {
    { .name = "vm_uuid", .type = GP_FT_TEXT, .flags = GP_FLD_BOTH, ASG(vm_uuid),
      .len = LEN(gp_assignment, vm_uuid) },
    { .name = "vm_name_label", .type = GP_FT_STR, .flags = GP_FLD_BOTH, ASG(vm_name_label) },
    { .name = "pci_id", .type = GP_FT_TEXT, .flags = GP_FLD_BOTH, ASG(pci_id),
      .len = LEN(gp_assignment, pci_id) },
    { .name = "companions", .type = GP_FT_STRV, .flags = GP_FLD_BOTH, ASG(companions),
      .n_off = OFF(gp_assignment, n_companions) },
    { .name = "pool_name_label", .rec_key = "pool", .type = GP_FT_STR, .flags = GP_FLD_BOTH,
      ASG(pool_name_label) },
    { .name = "pool_uuid", .type = GP_FT_TEXT, .flags = GP_FLD_BOTH, ASG(pool_uuid),
      .len = LEN(gp_assignment, pool_uuid) },
    { .name = "numa_node", .type = GP_FT_INT, .flags = GP_FLD_BOTH, ASG(numa_node) },
    { .name = "pcpus", .type = GP_FT_INTV, .flags = GP_FLD_BOTH, ASG(pcpus),
      .n_off = OFF(gp_assignment, n_pcpus) },
    { .name = "memory_node", .type = GP_FT_INT, .flags = GP_FLD_BOTH, ASG(memory_node) },
    { .name = "memory_node_certainty", .type = GP_FT_ENUM, .flags = GP_FLD_BOTH,
      ASG(memory_node_certainty), .to_string = gp_memnode_certainty_to_string,
      .from_string = gp_memnode_certainty_from_string },
    { .name = "memory_node_basis", .type = GP_FT_STR, .flags = GP_FLD_RECORD | GP_FLD_OPTIONAL,
      ASG(memory_node_basis) },
    { .name = "pin_mode", .type = GP_FT_ENUM, .flags = GP_FLD_BOTH, ASG(pin_mode),
      .to_string = gp_pin_mode_to_string, .from_string = gp_pin_mode_from_string },
    { .name = "vcpus", .type = GP_FT_INT, .flags = GP_FLD_BOTH, ASG(vcpus), .min = 1 },
    { .name = "memory_mib", .type = GP_FT_U64, .flags = GP_FLD_BOTH, ASG(memory_mib) },
    { .name = "reason", .type = GP_FT_STR, .flags = GP_FLD_BOTH | GP_FLD_OPTIONAL, ASG(reason) },
    { .name = "created", .type = GP_FT_STR, .flags = GP_FLD_BOTH, ASG(created) },
    { .name = "tenant", .type = GP_FT_STR, .flags = GP_FLD_BOTH, ASG(tenant),
      .if_null = GP_TENANT_DEFAULT },
    { .name = "lease_until", .type = GP_FT_STR, .flags = GP_FLD_BOTH | GP_FLD_OPTIONAL,
      ASG(lease_until) },
};
const size_t gp_assignment_n_fields = GP_ARRAY_SIZE(gp_assignment_fields);

/* ---- access --------------------------------------------------------------- */

static const void *at(const gp_fdesc *f, const void *obj, const void *rel)
{
    return (const char *)((f->flags & GP_FLD_REL) ? rel : obj) + f->off;
}

static size_t count_at(const gp_fdesc *f, const void *obj, const void *rel)
{
    return *(const size_t *)(const void *)((const char *)((f->flags & GP_FLD_REL) ? rel : obj) +
                                           f->n_off);
}

/* "pci_id" -> "pci-id" into buf (names are short). */
static const char *kebab(const char *name, char *buf, size_t len)
{
    size_t i = 0;
    for (; name[i] && i + 1 < len; i++)
        buf[i] = name[i] == '_' ? '-' : name[i];
    buf[i] = '\0';
    return buf;
}

/* "subsystem_id", "vendor" -> "subsystem_vendor_id". */
static const char *pair_key(const char *name, const char *part, char *buf, size_t len)
{
    size_t stem = strlen(name);
    if (stem > 3 && !strcmp(name + stem - 3, "_id"))
        stem -= 3;
    snprintf(buf, len, "%.*s_%s_id", (int)stem, name, part);
    return buf;
}

/* The value of a STR row, or NULL for unknown; *optional_none when NULL
 * means "none" (GP_FLD_OPTIONAL). */
static const char *str_value(const gp_fdesc *f, const char *s)
{
    return s ? s : f->if_null;
}

/* FNV-1a over the bytes of p. */
static uint32_t fnv(uint32_t h, const void *p, size_t len)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < len; i++)
        h = (h ^ c[i]) * 16777619u;
    return h;
}

uint32_t gp_fields_signature(const gp_fdesc *t, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        const gp_fdesc *f = &t[i];
        uint32_t v[4] = { (uint32_t)f->type, f->flags, (uint32_t)f->len, (uint32_t)f->min };
        h = fnv(h, f->name, strlen(f->name) + 1);
        h = fnv(h, v, sizeof(v));
        if (f->sub)
            h ^= gp_fields_signature(f->sub, f->n_sub);
    }
    return h;
}

/* ---- gp_record ------------------------------------------------------------ */

void gp_record_init(gp_record *r)
{
    memset(r, 0, sizeof(*r));
}

void gp_record_dispose(gp_record *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_fields; i++) {
        free(r->fields[i].key);
        free(r->fields[i].value);
    }
    free(r->fields);
    gp_record_init(r);
}

void gp_record_list_free(gp_record *rs, size_t n)
{
    if (!rs)
        return;
    for (size_t i = 0; i < n; i++)
        gp_record_dispose(&rs[i]);
    free(rs);
}

const char *gp_record_get(const gp_record *r, const char *key)
{
    if (!r || !key)
        return NULL;
    for (size_t i = 0; i < r->n_fields; i++)
        if (!strcmp(r->fields[i].key, key))
            return r->fields[i].value;
    return NULL;
}

void gp_recb_init(gp_recb *b, gp_record *r)
{
    gp_record_init(r);
    b->r = r;
    b->cap = 0;
    b->failed = false;
}

void gp_recb_take(gp_recb *b, const char *key, char *value)
{
    char *k;
    if (b->failed || !value ||
        gp_array_reserve((void **)&b->r->fields, &b->cap, b->r->n_fields,
                         sizeof(*b->r->fields)) ||
        !(k = strdup(key))) {
        free(value);
        b->failed = true;
        return;
    }
    b->r->fields[b->r->n_fields].key = k;
    b->r->fields[b->r->n_fields].value = value;
    b->r->n_fields++;
}

void gp_recb_str(gp_recb *b, const char *key, const char *value)
{
    gp_recb_take(b, key, strdup(value ? value : UNKNOWN));
}

void gp_recb_int(gp_recb *b, const char *key, long long v, long long min_known)
{
    if (v < min_known)
        gp_recb_str(b, key, UNKNOWN);
    else
        gp_recb_take(b, key, gp_asprintf("%lld", v));
}

void gp_recb_u64(gp_recb *b, const char *key, uint64_t v, bool known)
{
    if (!known)
        gp_recb_str(b, key, UNKNOWN);
    else
        gp_recb_take(b, key, gp_asprintf("%" PRIu64, v));
}

void gp_recb_ints(gp_recb *b, const char *key, const int *ids, size_t n)
{
    gp_recb_take(b, key, gp_cpulist_join(ids, n));
}

char *gp_strv_join(const char *const *v, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    char *p = s;
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        size_t l = strlen(v[i]);
        memcpy(p, v[i], l);
        p += l;
    }
    *p = '\0';
    return s;
}

void gp_recb_strs(gp_recb *b, const char *key, const char *const *v, size_t n)
{
    gp_recb_take(b, key, gp_strv_join(v, n));
}

int gp_recb_finish(gp_recb *b)
{
    if (b->failed) {
        gp_record_dispose(b->r);
        return GP_ERR_NOMEM;
    }
    return GP_OK;
}

/* ---- to a record ----------------------------------------------------------- */

/* "16 GT/s x16"; the part a source cannot give is left out; NULL (unknown)
 * when neither is known.  *nomem on allocation failure. */
static char *link_text(const gp_pcie_link *l, bool *nomem)
{
    char *s;
    if (l->speed_gts <= 0 && l->width <= 0)
        return NULL;
    if (l->width <= 0)
        s = gp_asprintf("%g GT/s", l->speed_gts);
    else if (l->speed_gts <= 0)
        s = gp_asprintf("x%d", l->width);
    else
        s = gp_asprintf("%g GT/s x%d", l->speed_gts, l->width);
    *nomem = !s;
    return s;
}

/* Record value of row f (malloc'ed), NULL for unknown; *nomem on ENOMEM. */
static char *record_value(const gp_fdesc *f, const void *obj, const void *rel, bool *nomem)
{
    const void *p = at(f, obj, rel);
    char *s = NULL;

    *nomem = false;
    if (f->known && !f->known(obj))
        return NULL;
    switch (f->type) {
    case GP_FT_TEXT:
        s = strdup((const char *)p);
        break;
    case GP_FT_STR: {
        const char *v = str_value(f, *(char *const *)p);
        if (!v && (f->flags & GP_FLD_OPTIONAL))
            v = "";
        if (!v)
            return NULL;
        s = strdup(v);
        break;
    }
    case GP_FT_INT: {
        int v = *(const int *)p;
        if (v < f->min)
            return NULL;
        s = gp_asprintf("%d", v);
        break;
    }
    case GP_FT_U64: {
        uint64_t v = *(const uint64_t *)p;
        if (!v)
            return NULL;
        s = gp_asprintf("%" PRIu64, v);
        break;
    }
    case GP_FT_DOUBLE:
        s = gp_asprintf("%g", *(const double *)p);
        break;
    case GP_FT_HEX4:
        s = gp_asprintf("%04x", *(const uint16_t *)p);
        break;
    case GP_FT_HEX2:
        s = gp_asprintf("%02x", *(const uint8_t *)p);
        break;
    case GP_FT_ID_PAIR: {
        const uint16_t *v = p;
        if (!v[0] && !v[1])
            return NULL;
        s = gp_asprintf("%04x:%04x", v[0], v[1]);
        break;
    }
    case GP_FT_TRI: {
        gp_tristate t = *(const gp_tristate *)p;
        if (t == GP_UNKNOWN)
            return NULL;
        s = strdup(t == GP_YES ? "true" : "false");
        break;
    }
    case GP_FT_LINK:
        return link_text(p, nomem);
    case GP_FT_STRV:
        s = gp_strv_join(*(const char *const *const *)p, count_at(f, obj, rel));
        break;
    case GP_FT_INTV:
        s = gp_cpulist_join(*(const int *const *)p, count_at(f, obj, rel));
        break;
    case GP_FT_ENUM: {
        const char *v = f->to_string(*(const int *)p);
        if (!v)
            return NULL;
        s = strdup(v);
        break;
    }
    case GP_FT_OBJV: {
        /* The elements' identities: their first field (TEXT or STR). */
        const char *base = *(const char *const *)p;
        size_t n = count_at(f, obj, rel);
        const char **ids = malloc((n ? n : 1) * sizeof(*ids));
        if (ids) {
            for (size_t i = 0; i < n; i++) {
                const char *e = base + i * f->elem_size + f->sub[0].off;
                ids[i] = f->sub[0].type == GP_FT_TEXT ? e : *(const char *const *)(const void *)e;
                if (!ids[i])
                    ids[i] = "";
            }
            s = gp_strv_join(ids, n);
            free(ids);
        }
        break;
    }
    }
    *nomem = !s;
    return s;
}

int gp_fields_record(const gp_fdesc *t, size_t n, const void *obj, const void *rel,
                     gp_record *out)
{
    gp_recb b;
    char key[64];

    gp_recb_init(&b, out);
    for (size_t i = 0; i < n && !b.failed; i++) {
        const gp_fdesc *f = &t[i];
        bool nomem;
        if (!(f->flags & GP_FLD_RECORD))
            continue;
        char *v = record_value(f, obj, rel, &nomem);
        const char *k = f->rec_key ? f->rec_key : kebab(f->name, key, sizeof(key));
        if (v || nomem)
            gp_recb_take(&b, k, v);
        else
            gp_recb_str(&b, k, UNKNOWN);
    }
    return gp_recb_finish(&b);
}

/* ---- to JSON ---------------------------------------------------------------- */


/* Add key (a constant of a table when constant_key) to o.  false on ENOMEM of
 * the key (v is released then). */
static bool add(json_object *o, const char *key, bool constant_key, json_object *v)
{
    unsigned opts = JSON_C_OBJECT_ADD_KEY_IS_NEW | (constant_key ? JSON_C_OBJECT_KEY_IS_CONSTANT : 0);
    if (json_object_object_add_ex(o, key, v, opts)) {
        json_object_put(v);
        return false;
    }
    return true;
}

static bool in_mode(const gp_fdesc *f, gp_fjson_mode mode)
{
    return mode == GP_FJ_PUBLIC ? (f->flags & GP_FLD_JSON) != 0 : !(f->flags & GP_FLD_REL);
}

/* JSON value of row f (NULL is JSON null); *nomem on ENOMEM. */
static json_object *json_value(const gp_fdesc *f, const void *obj, const void *rel,
                               gp_fjson_mode mode, bool *nomem)
{
    const void *p = at(f, obj, rel);
    json_object *v = NULL;
    bool list = f->type == GP_FT_STRV || f->type == GP_FT_INTV || f->type == GP_FT_OBJV;

    *nomem = false;
    /* Lists stay arrays (of what there is) when unknown. */
    if (!list && f->known && !f->known(obj))
        return NULL;
    switch (f->type) {
    case GP_FT_TEXT:
        v = json_object_new_string((const char *)p);
        break;
    case GP_FT_STR: {
        const char *s = str_value(f, *(char *const *)p);
        if (!s)
            return NULL;
        v = json_object_new_string(s);
        break;
    }
    case GP_FT_INT: {
        int i = *(const int *)p;
        if (i < f->min)
            return NULL;
        v = json_object_new_int(i);
        break;
    }
    case GP_FT_U64: {
        uint64_t u = *(const uint64_t *)p;
        if (!u)
            return NULL;
        v = json_object_new_int64((int64_t)u);
        break;
    }
    case GP_FT_DOUBLE:
        v = json_object_new_double(*(const double *)p);
        break;
    case GP_FT_HEX4:
    case GP_FT_HEX2: {
        char b[8];
        if (f->type == GP_FT_HEX4)
            snprintf(b, sizeof(b), "%04x", *(const uint16_t *)p);
        else
            snprintf(b, sizeof(b), "%02x", *(const uint8_t *)p);
        v = json_object_new_string(b);
        break;
    }
    case GP_FT_ID_PAIR:
        return NULL;                    /* two keys: json_add_row() */
    case GP_FT_TRI: {
        gp_tristate t = *(const gp_tristate *)p;
        if (t == GP_UNKNOWN)
            return NULL;
        v = json_object_new_boolean(t == GP_YES);
        break;
    }
    case GP_FT_LINK: {
        const gp_pcie_link *l = p;
        json_object *s = NULL, *w = NULL;
        v = json_object_new_object();
        if (!v)
            break;
        if (l->speed_gts > 0 && !(s = json_object_new_double(l->speed_gts)))
            goto link_nomem;
        if (!add(v, "speed_gts", true, s))
            goto link_nomem;
        if (l->width > 0 && !(w = json_object_new_int(l->width)))
            goto link_nomem;
        if (!add(v, "width", true, w))
            goto link_nomem;
        break;
link_nomem:
        json_object_put(v);
        v = NULL;
        break;
    }
    case GP_FT_STRV: {
        char *const *sv = *(char *const *const *)p;
        size_t n = count_at(f, obj, rel);
        v = gp_json_array_new(n);
        for (size_t i = 0; v && i < n; i++) {
            json_object *e = json_object_new_string(sv[i]);
            if (!e || json_object_array_add(v, e)) {
                json_object_put(e);
                json_object_put(v);
                v = NULL;
            }
        }
        break;
    }
    case GP_FT_INTV: {
        const int *iv = *(const int *const *)p;
        size_t n = count_at(f, obj, rel);
        v = gp_json_array_new(n);
        for (size_t i = 0; v && i < n; i++) {
            json_object *e = json_object_new_int(iv[i]);
            if (!e || json_object_array_add(v, e)) {
                json_object_put(e);
                json_object_put(v);
                v = NULL;
            }
        }
        break;
    }
    case GP_FT_ENUM: {
        const char *s = f->to_string(*(const int *)p);
        if (!s)
            return NULL;
        v = json_object_new_string(s);
        break;
    }
    case GP_FT_OBJV: {
        const char *base = *(const char *const *)p;
        size_t n = count_at(f, obj, rel);
        v = gp_json_array_new(n);
        for (size_t i = 0; v && i < n; i++) {
            json_object *e = gp_fields_json(f->sub, f->n_sub, base + i * f->elem_size, NULL,
                                            mode);
            if (!e || json_object_array_add(v, e)) {
                json_object_put(e);
                json_object_put(v);
                v = NULL;
            }
        }
        break;
    }
    }
    *nomem = !v;
    return v;
}

/* Add row f of obj to o; false on ENOMEM. */
static bool json_add_row(json_object *o, const gp_fdesc *f, const void *obj, const void *rel,
                         gp_fjson_mode mode)
{
    bool nomem;

    if (f->type == GP_FT_ID_PAIR) {
        const uint16_t *id = at(f, obj, rel);
        bool known = (id[0] || id[1]) && !(f->known && !f->known(obj));
        const char *part[2] = { "vendor", "device" };
        for (int k = 0; k < 2; k++) {
            char key[64], b[8];
            json_object *v = NULL;
            snprintf(b, sizeof(b), "%04x", id[k]);
            if (known && !(v = json_object_new_string(b)))
                return false;
            if (!add(o, pair_key(f->name, part[k], key, sizeof(key)), false, v))
                return false;
        }
        return true;
    }
    json_object *v = json_value(f, obj, rel, mode, &nomem);
    return !nomem && add(o, f->name, true, v);
}

json_object *gp_fields_json(const gp_fdesc *t, size_t n, const void *obj, const void *rel,
                            gp_fjson_mode mode)
{
    json_object *o = json_object_new_object();
    for (size_t i = 0; o && i < n; i++)
        if (in_mode(&t[i], mode) && !json_add_row(o, &t[i], obj, rel, mode)) {
            json_object_put(o);
            o = NULL;
        }
    return o;
}

/* ---- from JSON -------------------------------------------------------------- */

/* A hex string of at most max into *out. */
static int hex_parse(json_object *v, unsigned long max, unsigned long *out)
{
    const char *s;
    char *end;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    s = json_object_get_string(v);
    errno = 0;
    *out = strtoul(s, &end, 16);
    return errno || end == s || *end || *out > max ? -1 : 0;
}

static int int_parse(json_object *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!json_object_is_type(v, json_type_int))
        return -1;
    *out = json_object_get_int64(v);
    return *out < lo || *out > hi ? -1 : 0;
}

static int link_parse(json_object *v, gp_pcie_link *l)
{
    json_object *s, *w;
    int64_t i;
    l->speed_gts = 0;
    l->width = 0;
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_object))
        return -1;
    if (json_object_object_get_ex(v, "speed_gts", &s) && s) {
        if (!json_object_is_type(s, json_type_double) && !json_object_is_type(s, json_type_int))
            return -1;
        l->speed_gts = json_object_get_double(s);
    }
    if (json_object_object_get_ex(v, "width", &w) && w) {
        if (int_parse(w, 0, INT32_MAX, &i))
            return -1;
        l->width = (int)i;
    }
    return 0;
}

/* Read row f's value v (JSON null: NULL) into obj. */
static int from_json_row(const gp_fdesc *f, json_object *v, void *obj)
{
    void *p = (char *)obj + f->off;
    size_t *np = (size_t *)(void *)((char *)obj + f->n_off);
    unsigned long h;
    int64_t i;

    switch (f->type) {
    case GP_FT_TEXT: {
        const char *s;
        if (!json_object_is_type(v, json_type_string))
            return -1;
        s = json_object_get_string(v);
        if (strlen(s) >= f->len)
            return -1;
        memcpy(p, s, strlen(s) + 1);
        return 0;
    }
    case GP_FT_STR: {
        char **sp = p;
        free(*sp);
        *sp = NULL;
        if (!v)
            return 0;
        if (!json_object_is_type(v, json_type_string))
            return -1;
        *sp = strdup(json_object_get_string(v));
        return *sp ? 0 : -1;
    }
    case GP_FT_INT:
        if (!v) {
            *(int *)p = f->min - 1;
            return 0;
        }
        if (int_parse(v, INT32_MIN, INT32_MAX, &i))
            return -1;
        *(int *)p = (int)i;
        return 0;
    case GP_FT_U64:
        if (!v) {
            *(uint64_t *)p = 0;
            return 0;
        }
        if (int_parse(v, 0, INT64_MAX, &i))
            return -1;
        *(uint64_t *)p = (uint64_t)i;
        return 0;
    case GP_FT_DOUBLE:
        if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
            return -1;
        *(double *)p = json_object_get_double(v);
        return 0;
    case GP_FT_HEX4:
        if (hex_parse(v, 0xffff, &h))
            return -1;
        *(uint16_t *)p = (uint16_t)h;
        return 0;
    case GP_FT_HEX2:
        if (hex_parse(v, 0xff, &h))
            return -1;
        *(uint8_t *)p = (uint8_t)h;
        return 0;
    case GP_FT_ID_PAIR:
        return -1;                      /* two keys: gp_fields_from_json() */
    case GP_FT_TRI:
        if (!v) {
            *(gp_tristate *)p = GP_UNKNOWN;
            return 0;
        }
        if (!json_object_is_type(v, json_type_boolean))
            return -1;
        *(gp_tristate *)p = json_object_get_boolean(v) ? GP_YES : GP_NO;
        return 0;
    case GP_FT_LINK:
        return link_parse(v, p);
    case GP_FT_ENUM: {
        int e;
        if (!json_object_is_type(v, json_type_string) ||
            (e = f->from_string(json_object_get_string(v))) < 0)
            return -1;
        *(int *)p = e;
        return 0;
    }
    case GP_FT_STRV:
    case GP_FT_INTV:
    case GP_FT_OBJV: {
        size_t n, elem;
        char *arr;
        if (!v)
            return 0;
        if (!json_object_is_type(v, json_type_array) || *(void **)p)
            return -1;
        n = json_object_array_length(v);
        if (!n)
            return 0;
        elem = f->type == GP_FT_STRV ? sizeof(char *)
             : f->type == GP_FT_INTV ? sizeof(int) : f->elem_size;
        arr = calloc(n, elem);
        if (!arr)
            return -1;
        *(void **)p = arr;
        *np = 0;
        for (size_t k = 0; k < n; k++) {
            json_object *e = json_object_array_get_idx(v, k);
            char *slot = arr + k * elem;
            if (f->type == GP_FT_STRV) {
                if (!json_object_is_type(e, json_type_string) ||
                    !(*(char **)(void *)slot = strdup(json_object_get_string(e))))
                    return -1;
            } else if (f->type == GP_FT_INTV) {
                if (int_parse(e, INT32_MIN, INT32_MAX, &i))
                    return -1;
                *(int *)(void *)slot = (int)i;
            } else {
                *np = k + 1;            /* the element is owned from here on */
                if (gp_fields_from_json(f->sub, f->n_sub, e, slot))
                    return -1;
            }
            *np = k + 1;
        }
        return 0;
    }
    }
    return -1;
}

int gp_fields_from_json(const gp_fdesc *t, size_t n, json_object *o, void *obj)
{
    if (!o || !json_object_is_type(o, json_type_object))
        return -1;
    for (size_t k = 0; k < n; k++) {
        const gp_fdesc *f = &t[k];
        json_object *v;
        if (f->flags & GP_FLD_REL)
            continue;
        if (f->type == GP_FT_ID_PAIR) {
            const char *part[2] = { "vendor", "device" };
            uint16_t *id = (uint16_t *)(void *)((char *)obj + f->off);
            for (int j = 0; j < 2; j++) {
                char key[64];
                unsigned long h;
                if (!json_object_object_get_ex(o, pair_key(f->name, part[j], key, sizeof(key)),
                                               &v))
                    continue;
                if (!v)
                    id[j] = 0;
                else if (hex_parse(v, 0xffff, &h))
                    return -1;
                else
                    id[j] = (uint16_t)h;
            }
            continue;
        }
        if (!json_object_object_get_ex(o, f->name, &v))
            continue;
        if (from_json_row(f, v, obj))
            return -1;
    }
    return 0;
}

int gp_fields_records(gp_error_info *err, const char *what, size_t n, gp_rec_build_fn build,
                      const void *arg, gp_record **out, size_t *n_out)
{
    gp_record *v = calloc(n ? n : 1, sizeof(*v));
    size_t done = 0;

    if (!v)
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory building %s records", what);
    for (; done < n; done++)
        if (build(arg, done, &v[done])) {
            gp_record_list_free(v, done);
            return gp_err_set(err, GP_ERR_NOMEM, "out of memory building %s records", what);
        }
    *out = v;
    *n_out = done;
    return GP_OK;
}
