/*
 * enum.c - the closed sets of libgpupool, one table each (GP_ENUM_IMPL, after
 * libvirt's VIR_ENUM_IMPL), and the public name/parse functions built on
 * them.  Adding a value: add it to the enum in gpupool.h (before _LAST) and
 * its name here; parsers, messages, the CLI's completion and the database's
 * value tables follow.
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

GP_ENUM_IMPL(gp_numa_policy, GP_NUMA_POLICY_LAST, "required", "preferred", "socket", "legacy")
GP_ENUM_IMPL(gp_pin_mode, GP_PIN_MODE_LAST, "hard", "soft", "none")
GP_ENUM_IMPL(gp_placement_strategy, GP_PLACE_STRATEGY_LAST, "pack", "spread")
GP_ENUM_IMPL(gp_memnode_certainty, GP_MEMNODE_CERTAINTY_LAST, "unknown", "best-effort",
             "verified")
GP_ENUM_IMPL(gp_vm_state, GP_VM_STATE_LAST, "halted", "running", "paused", "suspended",
             "shutdown", "dying")
GP_ENUM_IMPL(gp_locality, GP_LOCALITY_LAST, "local", "socket", "unknown", "remote")
GP_ENUM_IMPL(gp_cap_state, GP_CAP_STATE_LAST, "free", "stranded", "running", "halted",
             "no-pool")
GP_ENUM_IMPL(gp_strand_reason, GP_STRAND_REASON_LAST, "no-pcpus", "no-memory", "no-numa-node")

const char *gp_numa_policy_name(gp_numa_policy p)
{
    const char *s = gp_numa_policy_to_string((int)p);
    return s ? s : "unknown";
}

int gp_numa_policy_parse(const char *s, gp_numa_policy *out)
{
    int v = gp_numa_policy_from_string(s);
    if (v < 0)
        return GP_ERR_INVALID_ARGUMENT;
    *out = (gp_numa_policy)v;
    return GP_OK;
}

const char *gp_pin_mode_name(gp_pin_mode m)
{
    const char *s = gp_pin_mode_to_string((int)m);
    return s ? s : "unknown";
}

int gp_pin_mode_parse(const char *s, gp_pin_mode *out)
{
    int v = gp_pin_mode_from_string(s);
    if (v < 0)
        return GP_ERR_INVALID_ARGUMENT;
    *out = (gp_pin_mode)v;
    return GP_OK;
}

const char *gp_placement_strategy_name(gp_placement_strategy s)
{
    const char *n = gp_placement_strategy_to_string((int)s);
    return n ? n : "unknown";
}

int gp_placement_strategy_parse(const char *s, gp_placement_strategy *out)
{
    int v = gp_placement_strategy_from_string(s);
    if (v < 0)
        return GP_ERR_INVALID_ARGUMENT;
    *out = (gp_placement_strategy)v;
    return GP_OK;
}

const char *gp_memnode_certainty_name(gp_memnode_certainty c)
{
    const char *n = gp_memnode_certainty_to_string((int)c);
    return n ? n : "unknown";
}

GP_ENUM_IMPL(gp_evac_action, GP_EVAC_ACTION_LAST, "move", "shut-down-first", "no-target",
             "moved", "failed")

const char *gp_evac_action_name(gp_evac_action a)
{
    const char *n = gp_evac_action_to_string((int)a);
    return n ? n : "unknown";
}

GP_ENUM_IMPL(gp_check_status, GP_CHECK_STATUS_LAST, "pass", "warn", "fail", "manual",
             "unknown")

const char *gp_check_status_name(gp_check_status s)
{
    const char *n = gp_check_status_to_string((int)s);
    return n ? n : "unknown";
}

const char *gp_vm_state_name(gp_vm_state s)
{
    const char *n = gp_vm_state_to_string((int)s);
    return n ? n : "unknown";
}

char *gp_enum_list(const char *const *names, size_t n, const char *conj)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(names[i]) + strlen(conj) + 4;
    char *out = malloc(len), *p = out;
    if (!out)
        return NULL;
    *p = '\0';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i == 0 ? "" : i + 1 == n ? conj : ", ", names[i]);
    return out;
}

int gp_enum_invalid(gp_error_info *err, const char *param, const char *what,
                    const char *const *names, size_t n, const char *v)
{
    char *list = gp_enum_list(names, n, " or ");
    gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "%s must be %s, not '%s'", what,
               list ? list : "?", v ? v : "");
    gp_err_param(err, param, "%s", v ? v : "");
    free(list);
    return GP_ERR_INVALID_ARGUMENT;
}

