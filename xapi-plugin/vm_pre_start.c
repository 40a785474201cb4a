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
#include "hook.h"

#include <stdio.h>
#include <syslog.h>

#define HOOK_REFUSE 2
#define HOOK_LOG_AND_CONTINUE 1

int main(int argc, char **argv)
{
    const char *vm, *reason;
    gp_config cfg;
    gp_error_info err;
    gp_ctx *ctx = NULL;
    int rc, code = HOOK_LOG_AND_CONTINUE;

    hook_args(argc, argv, &vm, &reason);
    openlog("gpupool-vm-pre-start", LOG_PID, LOG_DAEMON);
    if (!vm) {
        printf("gpupool: usage: %s -vmuuid UUID -reason REASON\n", argv[0]);
        return HOOK_LOG_AND_CONTINUE;
    }
    rc = hook_open("vm-pre-start hook", &cfg, &err, &ctx);
    if (rc == GP_OK)
        rc = gp_vm_start_check(ctx, vm);
    if (rc == GP_OK) {
        code = 0;
    } else {
        const char *msg = hook_message(ctx, &err, rc);
        code = rc == GP_ERR_WRONG_HOST || rc == GP_ERR_GPU_ASSIGNED || rc == GP_ERR_IN_PROGRESS
                   ? HOOK_REFUSE : HOOK_LOG_AND_CONTINUE;
        printf("gpupool %s: %s\n", gp_error_name(rc), msg);
        syslog(code == HOOK_REFUSE ? LOG_WARNING : LOG_ERR, "VM %s (reason %s): %s %s", vm,
               reason, code == HOOK_REFUSE ? "start refused:" : "not checked:", msg);
    }
    hook_close(ctx, &cfg, &err);
    closelog();
    return code;
}
