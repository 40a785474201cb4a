/*
 * vm_pre_start.c - gpupool's vm-pre-start hook for xenopsd, installed as
 * /etc/xapi.d/vm-pre-start/50-gpupool (built as xapi-plugin/gpupool-vm-pre-start).
 *
 * xenopsd runs every executable of /etc/xapi.d/vm-pre-start/ in sorted order
 * before it builds a domain, as `<hook> -vmuuid <uuid> -reason <reason>`
 * (ocaml/xenopsd/lib/xenops_hooks.ml at xapi 26.1.4, VM_start in
 * xenops_server.ml: the hook runs before VM_create and before any PCI.plug).
 * Exit 0 lets the start go on; 1 is logged and the start goes on; any
 * other exit aborts the start, and xapi raises XAPI_HOOK_FAILED with the
 * hook's name, the reason, its stdout and the exit code.
 *
 * This hook exits 2 (and prints the reason on stdout, which Xen Orchestra
 * and `xe vm-start` then show) when gp_vm_start_check() refuses: the VM is
 * bound to another host's GPU, or a device it names is held by a running
 * VM here or assigned by gpupool to another VM.  When gpupool cannot tell
 * (xapi or the database unreachable) it exits 1: the start goes on and the
 * message goes to xenopsd's log, so that a gpupool fault never stops VMs
 * that have nothing to do with GPUs.  A thin front end: all logic is in
 * libgpupool.
 */
#include <gpupool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#define HOOK_REFUSE 2
#define HOOK_LOG_AND_CONTINUE 1

int main(int argc, char **argv)
{
    const char *vm = NULL, *reason = "none", *path = getenv("GPUPOOL_CONFIG");
    gp_config cfg;
    gp_error_info err;
    gp_ctx *ctx = NULL;
    int rc, code = HOOK_LOG_AND_CONTINUE;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-vmuuid"))
            vm = argv[i + 1];
        else if (!strcmp(argv[i], "-reason"))
            reason = argv[i + 1];
    }
    openlog("gpupool-vm-pre-start", LOG_PID, LOG_DAEMON);
    if (!vm) {
        printf("gpupool: usage: %s -vmuuid UUID -reason REASON\n", argv[0]);
        return HOOK_LOG_AND_CONTINUE;
    }
    gp_config_init(&cfg);
    gp_error_info_init(&err);
    rc = gp_config_load_file(&cfg, path && *path ? path : GP_DEFAULT_CONFIG_PATH,
                             !(path && *path), &err);
    if (rc == GP_OK)
        rc = gp_config_load_env(&cfg, &err);
    if (rc == GP_OK) {
        free(cfg.caller);
        cfg.caller = strdup("vm-pre-start hook");
        rc = gp_ctx_alloc(&ctx, &cfg, &err);
    }
    if (rc == GP_OK)
        rc = gp_vm_start_check(ctx, vm);
    if (rc == GP_OK) {
        code = 0;
    } else {
        const gp_error_info *e = ctx ? gp_ctx_last_error(ctx) : &err;
        const char *msg = e->message && *e->message ? e->message : gp_error_name(rc);
        code = rc == GP_ERR_WRONG_HOST || rc == GP_ERR_GPU_ASSIGNED || rc == GP_ERR_IN_PROGRESS
                   ? HOOK_REFUSE : HOOK_LOG_AND_CONTINUE;
        printf("gpupool %s: %s\n", gp_error_name(rc), msg);
        syslog(code == HOOK_REFUSE ? LOG_WARNING : LOG_ERR, "VM %s (reason %s): %s %s", vm,
               reason, code == HOOK_REFUSE ? "start refused:" : "not checked:", msg);
    }
    gp_ctx_free(ctx);
    gp_config_dispose(&cfg);
    gp_error_info_dispose(&err);
    closelog();
    return code;
}
