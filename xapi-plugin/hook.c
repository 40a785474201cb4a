/*
 * hook.c - what gpupool's xenopsd hooks share: arguments and context
 * (hook.h).
 */
#include "hook.h"

#include <stdlib.h>
#include <string.h>

void hook_args(int argc, char **argv, const char **vm, const char **reason)
{
    *vm = NULL;
    *reason = "none";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-vmuuid"))
            *vm = argv[i + 1];
        else if (!strcmp(argv[i], "-reason"))
            *reason = argv[i + 1];
    }
}

int hook_open(const char *caller, gp_config *cfg, gp_error_info *err, gp_ctx **ctx)
{
    const char *path = getenv("GPUPOOL_CONFIG");
    int rc;

    *ctx = NULL;
    gp_config_init(cfg);
    gp_error_info_init(err);
    rc = gp_config_load_file(cfg, path && *path ? path : GP_DEFAULT_CONFIG_PATH,
                             !(path && *path), err);
    if (rc == GP_OK)
        rc = gp_config_load_env(cfg, err);
    if (rc == GP_OK) {
        free(cfg->caller);
        cfg->caller = strdup(caller);
        rc = gp_ctx_alloc(ctx, cfg, err);
    }
    return rc;
}

const char *hook_message(gp_ctx *ctx, const gp_error_info *err, int rc)
{
    const gp_error_info *e = ctx ? gp_ctx_last_error(ctx) : err;
    return e->message && *e->message ? e->message : gp_error_name(rc);
}

void hook_close(gp_ctx *ctx, gp_config *cfg, gp_error_info *err)
{
    gp_ctx_free(ctx);
    gp_config_dispose(cfg);
    gp_error_info_dispose(err);
}
