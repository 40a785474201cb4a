/*
 * hook.h - what gpupool's xenopsd hooks share (vm_pre_start.c,
 * vm_post_destroy.c): their arguments and their context.  Not installed.
 */
#ifndef GPUPOOL_HOOK_H
#define GPUPOOL_HOOK_H

#include <gpupool.h>

/* xenopsd's arguments, `-vmuuid <uuid> -reason <reason>` and more pairs
 * (ocaml/xenopsd/lib/xenops_hooks.ml execute_vm_hook): *vm NULL when
 * absent, *reason "none" when absent.  Borrowed from argv. */
void hook_args(int argc, char **argv, const char **vm, const char **reason);

/* gpupool's configuration ($GPUPOOL_CONFIG, else GP_DEFAULT_CONFIG_PATH
 * when it exists, then the environment) with caller as the audit caller,
 * and a context on it in *ctx.  cfg and err are _init'ed here; free all
 * three with hook_close(), also on failure.  Returns GP_OK or the error
 * (err, or the context's last error, says why: hook_message()). */
int hook_open(const char *caller, gp_config *cfg, gp_error_info *err, gp_ctx **ctx);

/* The text of failure rc: the context's or err's message, else its name. */
const char *hook_message(gp_ctx *ctx, const gp_error_info *err, int rc);

void hook_close(gp_ctx *ctx, gp_config *cfg, gp_error_info *err);

#endif /* GPUPOOL_HOOK_H */
