/*
 * error.c - error codes, names and the error info carried by a context.
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    int code;
    const char *name;
} error_names[] = {
    { GP_OK, "SUCCESS" },
    { GP_ERR_INTERNAL, "INTERNAL_ERROR" },
    { GP_ERR_NOMEM, "OUT_OF_MEMORY" },
    { GP_ERR_INVALID_ARGUMENT, "INVALID_ARGUMENT" },
    { GP_ERR_IO, "IO_ERROR" },
    { GP_ERR_DB, "DATABASE_ERROR" },
    { GP_ERR_DB_BUSY, "DATABASE_BUSY" },
    { GP_ERR_DB_VERSION, "DATABASE_VERSION" },
    { GP_ERR_PCI, "PCI_ACCESS_ERROR" },
    { GP_ERR_TOPOLOGY, "TOPOLOGY_ERROR" },
    { GP_ERR_PCI_ID_INVALID, "PCI_ID_INVALID" },
    { GP_ERR_UNKNOWN_GPU, "UNKNOWN_GPU" },
    { GP_ERR_UNKNOWN_POOL, "UNKNOWN_POOL" },
    { GP_ERR_UNKNOWN_VM, "UNKNOWN_VM" },
    { GP_ERR_VM_AMBIGUOUS, "VM_NAME_AMBIGUOUS" },
    { GP_ERR_POOL_EXISTS, "POOL_NAME_EXISTS" },
    { GP_ERR_POOL_NOT_EMPTY, "POOL_NOT_EMPTY" },
    { GP_ERR_GPU_IN_OTHER_POOL, "GPU_IN_OTHER_POOL" },
    { GP_ERR_GPU_NOT_IN_POOL, "GPU_NOT_IN_POOL" },
    { GP_ERR_GPU_ASSIGNED, "GPU_ASSIGNED" },
    { GP_ERR_VM_HAS_GPU, "VM_HAS_GPU" },
    { GP_ERR_VM_NO_GPU, "VM_HAS_NO_GPU" },
    { GP_ERR_VM_NOT_HALTED, "VM_NOT_HALTED" },
    { GP_ERR_GPU_BOOT_VGA, "GPU_IS_BOOT_VGA" },
    { GP_ERR_IOMMU_GROUP, "IOMMU_GROUP_NOT_ISOLATED" },
    { GP_ERR_NO_PLACEMENT, "NO_PLACEMENT" },
    { GP_ERR_POOL_EMPTY, "POOL_HAS_NO_FREE_GPU" },
    { GP_ERR_DRIVER, "DRIVER_ERROR" },
    { GP_ERR_NOT_SUPPORTED, "NOT_SUPPORTED" },
    { GP_ERR_TIMEOUT, "TIMEOUT" },
    { GP_ERR_PERMISSION, "PERMISSION_DENIED" },
    { GP_ERR_NO_PASSTHROUGH, "PASSTHROUGH_UNAVAILABLE" },
    { GP_ERR_VM_STARTED, "VM_ALREADY_RAN" },
    { GP_ERR_GPU_MISSING, "GPU_MISSING" },
    { GP_ERR_IN_PROGRESS, "OPERATION_IN_PROGRESS" },
    { GP_ERR_WRONG_HOST, "VM_ON_OTHER_HOST" },
    { GP_ERR_VM_UNSUITABLE, "VM_NOT_SUITABLE" },
    { GP_ERR_QUOTA_EXCEEDED, "QUOTA_EXCEEDED" },
    { GP_ERR_TENANT_NOT_ALLOWED, "TENANT_NOT_ALLOWED" },
};

const char *gp_error_name(int err)
{
    for (size_t i = 0; i < GP_ARRAY_SIZE(error_names); i++)
        if (error_names[i].code == err)
            return error_names[i].name;
    return "UNKNOWN_ERROR";
}

int gp_error_from_name(const char *name)
{
    for (size_t i = 0; name && i < GP_ARRAY_SIZE(error_names); i++)
        if (!strcmp(error_names[i].name, name))
            return error_names[i].code;
    return 0;
}

void gp_error_info_init(gp_error_info *e)
{
    memset(e, 0, sizeof(*e));
}

void gp_error_info_dispose(gp_error_info *e)
{
    if (!e)
        return;
    free(e->message);
    for (size_t i = 0; i < e->n_params; i++) {
        free(e->params[i].key);
        free(e->params[i].value);
    }
    free(e->params);
    gp_error_info_init(e);
}

void gp_err_clear(gp_error_info *e)
{
    if (e)
        gp_error_info_dispose(e);
}

static char *vfmt(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        return NULL;
    return s;
}

int gp_err_set(gp_error_info *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    gp_error_info_dispose(e);
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    e->message = vfmt(fmt, ap);
    va_end(ap);
    return code;
}

void gp_err_param(gp_error_info *e, const char *key, const char *fmt, ...)
{
    if (!e)
        return;
    gp_error_param *p = realloc(e->params, (e->n_params + 1) * sizeof(*p));
    if (!p)
        return;
    e->params = p;
    va_list ap;
    va_start(ap, fmt);
    char *v = vfmt(fmt, ap);
    va_end(ap);
    char *k = strdup(key);
    if (!k || !v) {
        free(k);
        free(v);
        return;
    }
    p[e->n_params].key = k;
    p[e->n_params].value = v;
    e->n_params++;
}

void gp_err_copy(gp_error_info *dst, const gp_error_info *src)
{
    if (!dst || dst == src)
        return;
    gp_error_info_dispose(dst);
    if (!src)
        return;
    dst->code = src->code;
    dst->message = src->message ? strdup(src->message) : NULL;
    for (size_t i = 0; i < src->n_params; i++)
        gp_err_param(dst, src->params[i].key, "%s", src->params[i].value);
}
