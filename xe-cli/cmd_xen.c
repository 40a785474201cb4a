/*
 * cmd_xen.c - xe-gpupool commands for plain Xen with xl (the xen driver):
 * vm-xl-config, vm-boot-prepare, host-reconcile.  main.c picks this table up
 * through the weak xe_cmds_xen reference (cli.h).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static int cmd_vm_xl_config(xe_call *c)
{
    char *text = NULL;
    if (gp_vm_xl_config(c->ctx, xe_arg_get(c, "vm"), &text))
        return xe_fail_ctx(c);
    fputs(text, c->out);
    free(text);
    return 0;
}

/* One record: the domain, and what is known of where its memory is. */
static int cmd_vm_boot_prepare(xe_call *c)
{
    static const char *const keys[] = { "domid", "memory-node", "memory-node-certainty",
                                        "node-affinity", "note" };
    gp_boot_prepare_result r;
    char domid[16], node[16];
    if (gp_vm_boot_prepare_ex(c->ctx, xe_arg_get(c, "vm"), &r))
        return xe_fail_ctx(c);
    snprintf(domid, sizeof(domid), "%d", r.domid);
    if (r.memory_node >= 0)
        snprintf(node, sizeof(node), "%d", r.memory_node);
    else
        snprintf(node, sizeof(node), "unknown");
    gp_field f[5] = {
        { (char *)"domid", domid },
        { (char *)"memory-node", node },
        { (char *)"memory-node-certainty",
          (char *)gp_memnode_certainty_name(r.memory_node_certainty) },
        { (char *)"node-affinity", (char *)(r.node_affinity[0] ? r.node_affinity : "unknown") },
        { (char *)"note", r.note },
    };
    gp_record rec = { f, 5 };
    xe_print_record(c->out, &rec, keys, 5, NULL);
    return 0;
}

/* One record per difference, then "N differences, M fixed". */
static int cmd_host_reconcile(xe_call *c)
{
    static const char *const keys[] = { "kind", "object", "expected", "actual", "fixable",
                                        "fixed", "detail" };
    const char *fixs = xe_arg_get(c, "fix");
    gp_reconcile_item *items = NULL;
    size_t n = 0, fixed = 0;
    bool fix = false;

    if (fixs) {
        if (!strcmp(fixs, "true") || !strcmp(fixs, "yes") || !strcmp(fixs, "1"))
            fix = true;
        else if (strcmp(fixs, "false") && strcmp(fixs, "no") && strcmp(fixs, "0"))
            return xe_error_set(&c->err, "INVALID_ARGUMENT", "fix must be true or false, not '%s'",
                                fixs);
    }
    if (gp_host_reconcile(c->ctx, fix, &items, &n))
        return xe_fail_ctx(c);
    for (size_t i = 0; i < n; i++) {
        gp_field f[7] = {
            { (char *)"kind", items[i].kind },
            { (char *)"object", items[i].object },
            { (char *)"expected", items[i].expected },
            { (char *)"actual", items[i].actual },
            { (char *)"fixable", (char *)(items[i].fixable ? "true" : "false") },
            { (char *)"fixed", (char *)(items[i].fixed ? "true" : "false") },
            { (char *)"detail", items[i].detail },
        };
        gp_record r = { f, 7 };
        xe_print_record(c->out, &r, keys, 7, NULL);
        fixed += items[i].fixed;
    }
    fprintf(c->out, "%zu differences, %zu fixed\n", n, fixed);
    gp_reconcile_list_free(items, n);
    return 0;
}

#define KEYS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const struct xe_cmd xen_cmds[] = {
    { "vm-xl-config", "vm=<uuid|name-label>",
      "print the xl config lines (uuid, pci, cpus/cpus_soft) that apply a VM's assignment at boot",
      KEYS("vm"), NULL, 0, cmd_vm_xl_config },
    { "vm-boot-prepare", "vm=<uuid|name-label>",
      "attach the GPU and companions and pin the vCPUs of a domain created paused (xl create -p)",
      KEYS("vm"), NULL, 0, cmd_vm_boot_prepare },
    { "host-reconcile", "[fix=true]",
      "compare the database with Xen (assignable devices, domains, affinity); fix=true repairs "
      "what is safe",
      NULL, KEYS("fix"), 0, cmd_host_reconcile },
};

const struct xe_cmd_table xe_cmds_xen = { xen_cmds, sizeof(xen_cmds) / sizeof(xen_cmds[0]) };
