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
#include <gpupool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#define HOOK_LOG_AND_CONTINUE 1

int main(int argc, char **argv)
{
    const char *vm = NULL, *reason = "none", *path = getenv("GPUPOOL_CONFIG");
    gp_config cfg;
    gp_error_info err;
    gp_ctx *ctx = NULL;
    int rc, code = 0;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-vmuuid"))
            vm = argv[i + 1];
        else if (!strcmp(argv[i], "-reason"))
            reason = argv[i + 1];
    }
    openlog("gpupool-vm-post-destroy", LOG_PID, LOG_DAEMON);
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
        cfg.caller = strdup("vm-post-destroy hook");
        rc = gp_ctx_alloc(&ctx, &cfg, &err);
    }
    if (rc == GP_OK)
        rc = gp_vm_stopped(ctx, vm);
    if (rc != GP_OK) {
        const gp_error_info *e = ctx ? gp_ctx_last_error(ctx) : &err;
        const char *msg = e->message && *e->message ? e->message : gp_error_name(rc);
        code = HOOK_LOG_AND_CONTINUE;
        printf("gpupool %s: %s\n", gp_error_name(rc), msg);
        syslog(LOG_ERR, "VM %s (reason %s): stop not recorded: %s", vm, reason, msg);
    }
    gp_ctx_free(ctx);
    gp_config_dispose(&cfg);
    gp_error_info_dispose(&err);
    closelog();
    return code;
}
