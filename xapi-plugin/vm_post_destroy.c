/*
 * vm_post_destroy.c - gpupool's vm-post-destroy hook for xenopsd, installed
 * as /etc/xapi.d/vm-post-destroy/50-gpupool (built as
 * xapi-plugin/gpupool-vm-post-destroy).
 *
 * xenopsd runs every executable of /etc/xapi.d/vm-post-destroy/ after it
 * destroyed a VM's domain for VM.clean_shutdown / hard_shutdown, the first
 * half of a reboot and a suspend, as `<hook> -vmuuid <uuid> -reason
 * <reason>` (ocaml/xenopsd/lib/xenops_server.ml at xapi 26.1.4: VM_poweroff,
 * VM_reboot and VM_suspend end in VM_hook_script VM_post_destroy;
 * xenops_hooks.ml runs the scripts).  A shutdown the guest makes itself
 * goes through VM_check_state -> VM_shutdown, which runs no hook: the next
 * gpupool command's power sampling sees that one (docs/governance.md).
 *
 * The hook records that the VM stopped running now (usage-report's running
 * time, leases' halted time).  It never stands in the way: it exits 0, or
 * 1 (xenopsd logs it and goes on) when gpupool could not record.  A thin
 * front end: the logic is gp_vm_stopped() in libgpupool.
 */
#include "hook.h"

#include <stdio.h>
#include <syslog.h>

#define HOOK_LOG_AND_CONTINUE 1

int main(int argc, char **argv)
{
    const char *vm, *reason;
    gp_config cfg;
    gp_error_info err;
    gp_ctx *ctx = NULL;
    int rc, code = 0;

    hook_args(argc, argv, &vm, &reason);
    openlog("gpupool-vm-post-destroy", LOG_PID, LOG_DAEMON);
    if (!vm) {
        printf("gpupool: usage: %s -vmuuid UUID -reason REASON\n", argv[0]);
        return HOOK_LOG_AND_CONTINUE;
    }
    rc = hook_open("vm-post-destroy hook", &cfg, &err, &ctx);
    if (rc == GP_OK)
        rc = gp_vm_stopped(ctx, vm);
    if (rc != GP_OK) {
        const char *msg = hook_message(ctx, &err, rc);
        code = HOOK_LOG_AND_CONTINUE;
        printf("gpupool %s: %s\n", gp_error_name(rc), msg);
        syslog(LOG_ERR, "VM %s (reason %s): stop not recorded: %s", vm, reason, msg);
    }
    hook_close(ctx, &cfg, &err);
    closelog();
    return code;
}
