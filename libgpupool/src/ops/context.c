/*
 * context.c - gp_ctx lifetime and the small enum/name helpers.
 */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gp_ctx_alloc(gp_ctx **out, const gp_config *cfg, gp_error_info *err)
{
    gp_ctx *ctx;

    *out = NULL;
    if (cfg && cfg->driver && strcmp(cfg->driver, "sim") && strcmp(cfg->driver, "xen") &&
        strcmp(cfg->driver, "xapi"))
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                          "unknown driver '%s' (sim, xen or xapi)", cfg->driver);
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    if (gp_config_copy(&ctx->cfg, cfg)) {
        free(ctx);
        return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    }
    gp_error_info_init(&ctx->err);
    gp_host_init(&ctx->host);
    *out = ctx;
    return GP_OK;
}

void gp_ctx_free(gp_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->drv && ctx->drv->close)
        ctx->drv->close(ctx);
    if (ctx->db) {
        if (ctx->in_txn)
            sqlite3_exec(ctx->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(ctx->db);
    }
    gp_host_cache_close(ctx);
    gp_host_dispose(&ctx->host);
    gp_error_info_dispose(&ctx->err);
    gp_config_dispose(&ctx->cfg);
    free(ctx);
}

const gp_error_info *gp_ctx_last_error(const gp_ctx *ctx)
{
    return &ctx->err;
}

const char *gp_ctx_driver_name(gp_ctx *ctx)
{
    const gp_driver_ops *d;
    if (gp_driver_get(ctx, &d))
        return NULL;
    return d->name;
}

/* ---- enum names ---------------------------------------------------------- */

static const char *const policy_names[] = { "required", "preferred", "socket", "legacy" };
static const char *const pin_names[] = { "hard", "soft", "none" };
static const char *const vm_state_names[] = { "halted", "running", "paused",
                                              "suspended", "shutdown", "dying" };

const char *gp_numa_policy_name(gp_numa_policy p)
{
    return (unsigned)p < GP_ARRAY_SIZE(policy_names) ? policy_names[p] : "unknown";
}

int gp_numa_policy_parse(const char *s, gp_numa_policy *out)
{
    for (size_t i = 0; s && i < GP_ARRAY_SIZE(policy_names); i++)
        if (!strcmp(s, policy_names[i])) {
            *out = (gp_numa_policy)i;
            return GP_OK;
        }
    return GP_ERR_INVALID_ARGUMENT;
}

const char *gp_pin_mode_name(gp_pin_mode m)
{
    return (unsigned)m < GP_ARRAY_SIZE(pin_names) ? pin_names[m] : "unknown";
}

const char *gp_memnode_certainty_name(gp_memnode_certainty c)
{
    switch (c) {
    case GP_MEMNODE_BEST_EFFORT: return "best-effort";
    case GP_MEMNODE_VERIFIED: return "verified";
    default: return "unknown";
    }
}

int gp_pin_mode_parse(const char *s, gp_pin_mode *out)
{
    for (size_t i = 0; s && i < GP_ARRAY_SIZE(pin_names); i++)
        if (!strcmp(s, pin_names[i])) {
            *out = (gp_pin_mode)i;
            return GP_OK;
        }
    return GP_ERR_INVALID_ARGUMENT;
}

const char *gp_vm_state_name(gp_vm_state s)
{
    return (unsigned)s < GP_ARRAY_SIZE(vm_state_names) ? vm_state_names[s] : "unknown";
}

/* ---- PCI addresses --------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Parse exactly [min,max] hex digits from *p into *v. */
static bool take_hex(const char **p, int min, int max, uint32_t *v)
{
    int n = 0;
    uint32_t x = 0;
    while (n < max && hexval((unsigned char)**p) >= 0) {
        x = x * 16 + (uint32_t)hexval((unsigned char)**p);
        (*p)++;
        n++;
    }
    if (n < min || hexval((unsigned char)**p) >= 0)
        return false;
    *v = x;
    return true;
}

int gp_pci_addr_parse(const char *text, gp_pci_addr *out, gp_error_info *err)
{
    uint32_t dom = 0, bus, dev, fn;
    const char *p = text;
    const char *colon2;

    if (!text || !*text)
        goto bad;
    /* With a segment there are two colons. */
    colon2 = strchr(text, ':');
    if (colon2 && strchr(colon2 + 1, ':')) {
        if (!take_hex(&p, 1, 8, &dom) || *p++ != ':')
            goto bad;
    }
    if (!take_hex(&p, 1, 2, &bus) || *p++ != ':')
        goto bad;
    if (!take_hex(&p, 1, 2, &dev) || *p++ != '.')
        goto bad;
    if (!take_hex(&p, 1, 1, &fn) || *p)
        goto bad;
    if (dev > 0x1f || fn > 7)
        goto bad;
    out->domain = dom;
    out->bus = (uint8_t)bus;
    out->dev = (uint8_t)dev;
    out->func = (uint8_t)fn;
    return GP_OK;
bad:
    gp_err_set(err, GP_ERR_PCI_ID_INVALID,
               "malformed pci-id '%s': expected SBDF such as 0000:41:00.0",
               text ? text : "");
    gp_err_param(err, "pci-id", "%s", text ? text : "");
    return GP_ERR_PCI_ID_INVALID;
}

char *gp_pci_addr_format(const gp_pci_addr *a, char buf[GP_PCI_ID_LEN])
{
    snprintf(buf, GP_PCI_ID_LEN, "%04x:%02x:%02x.%x", a->domain, a->bus, a->dev, a->func);
    return buf;
}
