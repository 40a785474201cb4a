/*
 * config.c - gp_config: defaults, /etc/gpupool/gpupool.conf, environment.
 */
#include "core/core.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const gp_class_match default_classes[] = {
    { 0x0300, 0xffff, 0 },  /* VGA compatible controller */
    { 0x0302, 0xffff, 0 },  /* 3D controller */
    { 0x0380, 0xffff, 0 },  /* display controller */
    { 0x1200, 0xffff, 0 },  /* processing accelerator (Gaudi, Instinct) */
};

void gp_config_init(gp_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
}

void gp_config_dispose(gp_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->db_path);
    free(cfg->driver);
    free(cfg->sysfs_root);
    free(cfg->pci_dump);
    free(cfg->topology_file);
    free(cfg->classes);
    free(cfg->caller);
    free(cfg->xapi_socket);
    free(cfg->xapi_session);
    free(cfg->inventory);
    free(cfg->tenant_tag_prefix);
    gp_config_init(cfg);
}

int gp_config_copy(gp_config *dst, const gp_config *src)
{
    gp_config_init(dst);
    if (!src)
        return GP_OK;
    *dst = *src;
    dst->db_path = gp_strdup(src->db_path);
    dst->driver = gp_strdup(src->driver);
    dst->sysfs_root = gp_strdup(src->sysfs_root);
    dst->pci_dump = gp_strdup(src->pci_dump);
    dst->topology_file = gp_strdup(src->topology_file);
    dst->caller = gp_strdup(src->caller);
    dst->xapi_socket = gp_strdup(src->xapi_socket);
    dst->xapi_session = gp_strdup(src->xapi_session);
    dst->inventory = gp_strdup(src->inventory);
    dst->tenant_tag_prefix = gp_strdup(src->tenant_tag_prefix);
    dst->classes = NULL;
    if (src->n_classes) {
        dst->classes = malloc(src->n_classes * sizeof(*dst->classes));
        if (dst->classes)
            memcpy(dst->classes, src->classes, src->n_classes * sizeof(*dst->classes));
    }
    if ((src->db_path && !dst->db_path) || (src->driver && !dst->driver) ||
        (src->sysfs_root && !dst->sysfs_root) || (src->pci_dump && !dst->pci_dump) ||
        (src->topology_file && !dst->topology_file) || (src->caller && !dst->caller) ||
        (src->n_classes && !dst->classes) ||
        (src->xapi_socket && !dst->xapi_socket) ||
        (src->xapi_session && !dst->xapi_session) ||
        (src->inventory && !dst->inventory) ||
        (src->tenant_tag_prefix && !dst->tenant_tag_prefix)) {
        gp_config_dispose(dst);
        return GP_ERR_NOMEM;
    }
    return GP_OK;
}

bool gp_class_is_gpu(const gp_config *cfg, uint16_t class_code, uint16_t vendor_id)
{
    const gp_class_match *m = default_classes;
    size_t n = GP_ARRAY_SIZE(default_classes);
    if (cfg && cfg->classes) {
        m = cfg->classes;
        n = cfg->n_classes;
    }
    for (size_t i = 0; i < n; i++)
        if ((class_code & m[i].class_mask) == m[i].class_value &&
            (m[i].vendor_id == 0 || m[i].vendor_id == vendor_id))
            return true;
    return false;
}

static bool parse_hex(const char *s, size_t len, unsigned long max, unsigned long *out)
{
    if (len == 0 || len > 8)
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return false;
        v = v * 16 + (unsigned long)(isdigit((unsigned char)s[i]) ? s[i] - '0'
                                     : (tolower((unsigned char)s[i]) - 'a' + 10));
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

int gp_config_set_classes(gp_config *cfg, const char *spec, gp_error_info *err)
{
    gp_class_match *v = NULL;
    size_t n = 0;
    const char *p = spec;

    if (!spec || !*spec)
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "empty GPU class filter");
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        size_t clen = colon ? (size_t)(colon - p) : len;
        unsigned long cls, vendor = 0;
        gp_class_match m;

        while (clen && *p == ' ') { p++; clen--; len--; }
        if (clen == 4 && parse_hex(p, 4, 0xffff, &cls)) {
            m.class_value = (uint16_t)cls;
            m.class_mask = 0xffff;
        } else if (clen == 2 && parse_hex(p, 2, 0xff, &cls)) {
            m.class_value = (uint16_t)(cls << 8);
            m.class_mask = 0xff00;
        } else {
            free(v);
            gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                       "bad GPU class '%.*s': expected CCCC, CC or CCCC:VVVV in hex",
                       (int)len, p);
            gp_err_param(err, "gpu-classes", "%s", spec);
            return GP_ERR_INVALID_ARGUMENT;
        }
        if (colon) {
            size_t vlen = len - clen - 1;
            if (!parse_hex(colon + 1, vlen, 0xffff, &vendor) || vlen != 4) {
                free(v);
                gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                           "bad vendor id in GPU class '%.*s'", (int)len, p);
                gp_err_param(err, "gpu-classes", "%s", spec);
                return GP_ERR_INVALID_ARGUMENT;
            }
        }
        m.vendor_id = (uint16_t)vendor;
        gp_class_match *nv = realloc(v, (n + 1) * sizeof(*nv));
        if (!nv) {
            free(v);
            return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        }
        v = nv;
        v[n++] = m;
        p += len;
        if (*p == ',')
            p++;
    }
    free(cfg->classes);
    cfg->classes = v;
    cfg->n_classes = n;
    return GP_OK;
}

static int set_str(char **dst, const char *val)
{
    char *s = strdup(val);
    if (!s)
        return GP_ERR_NOMEM;
    free(*dst);
    *dst = s;
    return GP_OK;
}

/* One key of the file or the environment. */
static int config_set_key(gp_config *cfg, const char *key, const char *val,
                          gp_error_info *err)
{
    if (!strcmp(key, "db"))
        return set_str(&cfg->db_path, val);
    if (!strcmp(key, "driver")) {
        /* Checked against the drivers' table when a context opens. */
        if (!strcmp(val, "auto")) {
            free(cfg->driver);
            cfg->driver = NULL;
            return GP_OK;
        }
        return set_str(&cfg->driver, val);
    }
    if (!strcmp(key, "sysfs-root"))
        return set_str(&cfg->sysfs_root, val);
    if (!strcmp(key, "pci-dump"))
        return set_str(&cfg->pci_dump, val);
    if (!strcmp(key, "topology"))
        return set_str(&cfg->topology_file, val);
    if (!strcmp(key, "xapi-socket"))
        return set_str(&cfg->xapi_socket, val);
    if (!strcmp(key, "inventory"))
        return set_str(&cfg->inventory, val);
    if (!strcmp(key, "tenant-tag-prefix"))
        return set_str(&cfg->tenant_tag_prefix, val);
    if (!strcmp(key, "gpu-classes"))
        return gp_config_set_classes(cfg, val, err);
    if (!strcmp(key, "audit-max-entries") || !strcmp(key, "audit-max-days")) {
        bool days = !strcmp(key, "audit-max-days");
        unsigned long long max = days ? 36500ULL : 1000000000ULL;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(val, &end, 10);
        if (errno || end == val || *end || *val == '-' || v > max) {
            gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "%s must be 0..%llu (0 = no limit), not '%s'",
                       key, max, val);
            gp_err_param(err, key, "%s", val);
            return GP_ERR_INVALID_ARGUMENT;
        }
        /* 0 in the file is "no limit"; 0 in gp_config is "the default". */
        if (days)
            cfg->audit_max_days = v ? (int)v : -1;
        else
            cfg->audit_max_entries = v ? (int64_t)v : -1;
        return GP_OK;
    }
    if (!strcmp(key, "timeout-ms")) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(val, &end, 10);
        if (errno || end == val || *end || v > 3600000UL)
            return gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                              "timeout-ms must be 0..3600000, not '%s'", val);
        cfg->timeout_ms = (unsigned)v;
        return GP_OK;
    }
    return gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "unknown configuration key '%s'", key);
}

int gp_config_load_file(gp_config *cfg, const char *path, bool missing_ok,
                        gp_error_info *err)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT && missing_ok)
            return GP_OK;
        gp_err_set(err, GP_ERR_IO, "cannot read configuration %s: %s", path,
                   strerror(errno));
        gp_err_param(err, "file", "%s", path);
        return GP_ERR_IO;
    }
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    int rc = GP_OK;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '#' || *s == '\0')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                            "%s:%u: expected 'key = value'", path, lineno);
            break;
        }
        char *k_end = eq;
        while (k_end > s && isspace((unsigned char)k_end[-1]))
            k_end--;
        *k_end = '\0';
        char *v = eq + 1;
        while (isspace((unsigned char)*v))
            v++;
        size_t vl = strlen(v);
        while (vl && isspace((unsigned char)v[vl - 1]))
            v[--vl] = '\0';
        if (vl >= 2 && ((v[0] == '"' && v[vl - 1] == '"') || (v[0] == '\'' && v[vl - 1] == '\''))) {
            v[vl - 1] = '\0';
            v++;
        }
        rc = config_set_key(cfg, s, v, err);
        if (rc) {
            if (err && err->message) {
                char *m = gp_asprintf("%s:%u: %s", path, lineno, err->message);
                if (m) {
                    free(err->message);
                    err->message = m;
                }
            }
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

int gp_config_load_env(gp_config *cfg, gp_error_info *err)
{
    static const struct { const char *env, *key; } map[] = {
        { "GPUPOOL_DB", "db" },
        { "GPUPOOL_DRIVER", "driver" },
        { "GPUPOOL_SYSFS_ROOT", "sysfs-root" },
        { "GPUPOOL_PCI_DUMP", "pci-dump" },
        { "GPUPOOL_TOPOLOGY", "topology" },
        { "GPUPOOL_GPU_CLASSES", "gpu-classes" },
        { "GPUPOOL_XAPI_SOCKET", "xapi-socket" },
        { "GPUPOOL_INVENTORY", "inventory" },
        { "GPUPOOL_TENANT_TAG_PREFIX", "tenant-tag-prefix" },
        { "GPUPOOL_AUDIT_MAX_ENTRIES", "audit-max-entries" },
        { "GPUPOOL_AUDIT_MAX_DAYS", "audit-max-days" },
    };
    for (size_t i = 0; i < GP_ARRAY_SIZE(map); i++) {
        const char *v = getenv(map[i].env);
        if (v && *v) {
            int rc = config_set_key(cfg, map[i].key, v, err);
            if (rc) {
                gp_err_param(err, map[i].env, "%s", v);
                return rc;
            }
        }
    }
    return GP_OK;
}
