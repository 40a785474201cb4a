/*
 * names.c - the public view of the closed sets (gp_set_*): the enum tables
 * of core/enum.c and the drivers' methods table, and the driver choice of a
 * configuration.
 */
#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *param;
    const char *const *names;
    const size_t *count;
} set_table;

static const set_table sets[GP_SET_LAST] = {
    [GP_SET_NUMA_POLICY] = { "numa-policy", gp_numa_policy_names, &gp_numa_policy_count },
    [GP_SET_PIN_MODE] = { "pin-mode", gp_pin_mode_names, &gp_pin_mode_count },
    [GP_SET_VM_STATE] = { "power-state", gp_vm_state_names, &gp_vm_state_count },
    [GP_SET_DRIVER] = { "driver", NULL, NULL },  /* the drivers' table */
    [GP_SET_PLACEMENT] = { "placement", gp_placement_strategy_names,
                           &gp_placement_strategy_count },
};

const char *const *gp_set_names(gp_set set, size_t *n)
{
    *n = 0;
    if ((unsigned)set >= GP_SET_LAST)
        return NULL;
    if (set == GP_SET_DRIVER)
        return gp_driver_names(n);
    *n = *sets[set].count;
    return sets[set].names;
}

const char *gp_set_param(gp_set set)
{
    return (unsigned)set < GP_SET_LAST ? sets[set].param : NULL;
}

int gp_set_parse(gp_set set, const char *param, const char *value, gp_error_info *err)
{
    size_t n;
    const char *const *names = gp_set_names(set, &n);
    if (!names)
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "no such set of names: %d", (int)set);
    for (size_t i = 0; value && i < n; i++)
        if (!strcmp(value, names[i]))
            return (int)i;
    param = param ? param : sets[set].param;
    return gp_enum_invalid(err, param, param, names, n, value);
}

int gp_driver_check(const char *name, gp_error_info *err)
{
    size_t n;
    const char *const *names;
    char *list;

    if (gp_driver_find(name))
        return GP_OK;
    names = gp_driver_names(&n);
    list = gp_enum_list(names, n, ", ");
    gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "unknown driver '%s' (%s or auto)",
               name ? name : "", list ? list : "?");
    gp_err_param(err, "driver", "%s", name ? name : "");
    free(list);
    return GP_ERR_INVALID_ARGUMENT;
}

int gp_config_set_driver(gp_config *cfg, const char *name, gp_error_info *err)
{
    char *copy = NULL;
    if (!name || strcmp(name, "auto")) {
        if (gp_driver_check(name, err))
            return GP_ERR_INVALID_ARGUMENT;
        if (!(copy = strdup(name)))
            return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
    }
    free(cfg->driver);
    cfg->driver = copy;
    return GP_OK;
}
