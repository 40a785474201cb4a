/*
 * main.c - xe-gpupool: options, configuration, argument checks, dispatch.
 *
 *   xe-gpupool <command> [key=value ...] [--minimal] [--db=PATH]
 *              [--driver=sim|xen|xapi|auto] [--sysfs-root=DIR] [--pci-dump=FILE]
 *              [--topology=FILE|embedded] [--gpu-classes=LIST] [--config=FILE]
 *
 * Configuration, lowest to highest precedence: built-in defaults, the
 * configuration file (--config=FILE, else $GPUPOOL_CONFIG, else
 * /etc/gpupool/gpupool.conf; only an explicit --config must exist), the
 * environment (GPUPOOL_DB, GPUPOOL_DRIVER, ...), the command-line options.
 *
 * Command tables: xe_cmds_core (cmd_gpupool.c) and, when a file defines it,
 * xe_cmds_xen (declared weak in cli.h, so the program links without it).
 * Another table is added by declaring it in cli.h and listing it in tables().
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- command tables ------------------------------------------------------- */

static int cmd_help(xe_call *c);
static int cmd_version(xe_call *c);
static int cmd_names(xe_call *c);

static const char *const help_opt[] = { NULL };
static const char *const names_req[] = { "set", NULL };

static const struct xe_cmd builtin_cmds[] = {
    { "help", "[command]", "list the commands, or describe one", NULL, help_opt,
      XE_CMD_NO_CTX, cmd_help },
    { "version", "", "print the version", NULL, NULL, XE_CMD_NO_CTX, cmd_version },
    { "names", "set=", "the names a parameter takes (set=numa-policy, pin-mode, ...), one per"
      " line", names_req, NULL, XE_CMD_NO_CTX, cmd_names },
};

static const struct xe_cmd_table builtins = {
    builtin_cmds, sizeof(builtin_cmds) / sizeof(builtin_cmds[0])
};

static const struct xe_cmd_table *const *tables(size_t *n)
{
    static const struct xe_cmd_table *v[3];
    static size_t nv;
    if (!nv) {
        v[nv++] = &xe_cmds_core;
        if (&xe_cmds_xen != NULL)
            v[nv++] = &xe_cmds_xen;
        v[nv++] = &builtins;
    }
    *n = nv;
    return v;
}

const struct xe_cmd *xe_cmd_at(size_t i)
{
    size_t nt;
    const struct xe_cmd_table *const *t = tables(&nt);
    for (size_t k = 0; k < nt; k++) {
        if (i < t[k]->n)
            return &t[k]->cmds[i];
        i -= t[k]->n;
    }
    return NULL;
}

const struct xe_cmd *xe_cmd_find(const char *name)
{
    const struct xe_cmd *cmd;
    for (size_t i = 0; (cmd = xe_cmd_at(i)); i++)
        if (!strcmp(cmd->name, name))
            return cmd;
    return NULL;
}

/* ---- argument helpers ----------------------------------------------------- */

const char *xe_arg_get(const xe_call *c, const char *keys)
{
    const char *p = keys;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        for (size_t i = 0; i < c->n_args; i++)
            if (strlen(c->args[i].key) == len && !strncmp(c->args[i].key, p, len))
                return c->args[i].value;
        p += len;
        if (*p == '|')
            p++;
    }
    return NULL;
}

int xe_arg_long(xe_call *c, const char *key, long long min, long long max,
                long long *out)
{
    const char *v = xe_arg_get(c, key);
    char *end;
    long long x;

    if (!v)
        return 0;
    errno = 0;
    x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max) {
        xe_error_set(&c->err, "INVALID_ARGUMENT",
                     "%s must be an integer from %lld to %lld, not '%s'", key, min, max, v);
        xe_error_param(&c->err, key, v);
        return 1;
    }
    *out = x;
    return 0;
}

int xe_fail_ctx(xe_call *c)
{
    return xe_error_from_info(&c->err, gp_ctx_last_error(c->ctx));
}

/* Does key match an entry of list, where entries may be "a|b"? */
static bool key_declared(const char *key, const char *const *list)
{
    for (size_t i = 0; list && list[i]; i++) {
        const char *p = list[i];
        size_t klen = strlen(key);
        while (*p) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            if (len == klen && !strncmp(p, key, len))
                return true;
            p += len;
            if (*p == '|')
                p++;
        }
    }
    return false;
}

int xe_list_records(xe_call *c, gp_record *rs, size_t n, const char *const *defaults,
                    const char *const *rw_keys)
{
    const char **keys = malloc((c->n_args ? c->n_args : 1) * sizeof(*keys));
    const char **vals = malloc((c->n_args ? c->n_args : 1) * sizeof(*vals));
    size_t nf = 0;
    int rc = 1;
    xe_print_opts o = { xe_arg_get(c, "params"), defaults, rw_keys, c->minimal };

    if (!keys || !vals) {
        xe_error_set(&c->err, "OUT_OF_MEMORY", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < c->n_args; i++) {
        const char *k = c->args[i].key;
        if (!strcmp(k, "params") || key_declared(k, c->cmd->required) ||
            key_declared(k, c->cmd->optional))
            continue;
        keys[nf] = k;
        vals[nf++] = c->args[i].value;
    }
    if (xe_records_filter(rs, &n, keys, vals, nf, &c->err))
        goto out;
    rc = xe_print_records(c->out, rs, n, &o, &c->err);
out:
    free(keys);
    free(vals);
    gp_record_list_free(rs, n);
    return rc;
}

/* ---- help ----------------------------------------------------------------- */

static void print_keys(FILE *f, const char *const *list, bool optional)
{
    for (size_t i = 0; list && list[i]; i++)
        fprintf(f, optional ? " [%s=]" : " %s=", list[i]);
}

static int cmd_help(xe_call *c)
{
    const struct xe_cmd *cmd;

    if (c->n_words > 1)
        return xe_error_set(&c->err, "INVALID_ARGUMENT", "help takes at most one command");
    if (c->n_words == 1) {
        cmd = xe_cmd_find(c->words[0]);
        if (!cmd) {
            xe_error_set(&c->err, "UNKNOWN_COMMAND", "unknown command '%s'", c->words[0]);
            xe_error_param(&c->err, "command", c->words[0]);
            return 1;
        }
        if (c->minimal) {
            /* The keys, for shell completion. */
            const char *const *lists[2] = { cmd->required, cmd->optional };
            bool first = true;
            for (int l = 0; l < 2; l++)
                for (size_t i = 0; lists[l] && lists[l][i]; i++) {
                    char *dup = strdup(lists[l][i]);
                    for (char *tok = dup, *next; dup && tok; tok = next) {
                        next = strchr(tok, '|');
                        if (next)
                            *next++ = '\0';
                        fprintf(c->out, "%s%s", first ? "" : ",", tok);
                        first = false;
                    }
                    free(dup);
                }
            if (cmd->flags & XE_CMD_LIST)
                fprintf(c->out, "%sparams", first ? "" : ",");
            fputc('\n', c->out);
            return 0;
        }
        fprintf(c->out, "command name            : %s\n", cmd->name);
        fprintf(c->out, "        reqd params     :");
        print_keys(c->out, cmd->required, false);
        fprintf(c->out, "\n        optional params :");
        print_keys(c->out, cmd->optional, true);
        if (cmd->flags & XE_CMD_LIST)
            fprintf(c->out, " [params=] [<field>=<value> ...]");
        fprintf(c->out, "\n        description     : %s\n", cmd->summary);
        if (cmd->usage && *cmd->usage)
            fprintf(c->out, "        usage           : xe-gpupool %s %s\n", cmd->name,
                    cmd->usage);
        return 0;
    }
    if (c->minimal) {
        for (size_t i = 0; (cmd = xe_cmd_at(i)); i++)
            fprintf(c->out, "%s%s", i ? "," : "", cmd->name);
        fputc('\n', c->out);
        return 0;
    }
    fprintf(c->out,
            "Usage: xe-gpupool <command> [key=value ...] [--minimal] [--db=PATH]\n"
            "         [--driver=sim|xen|xapi|auto] [--sysfs-root=DIR] [--pci-dump=FILE]\n"
            "         [--topology=FILE|embedded] [--gpu-classes=0300,0302,...]\n"
            "         [--config=FILE]\n\nCommands:\n");
    for (size_t i = 0; (cmd = xe_cmd_at(i)); i++)
        fprintf(c->out, "  %-20s %s\n", cmd->name, cmd->summary);
    fprintf(c->out, "\n'xe-gpupool help <command>' describes one command.\n");
    return 0;
}

static int cmd_version(xe_call *c)
{
    fprintf(c->out, "xe-gpupool %s\n", GPUPOOL_VERSION_STRING);
    return 0;
}

/* The library's table of a closed set, by its parameter name (bash
 * completion and scripts read the names here, never a copy). */
static int cmd_names(xe_call *c)
{
    const char *want = xe_arg_get(c, "set");
    for (int s = 0; s < GP_SET_LAST; s++) {
        size_t n;
        const char *const *names = gp_set_names((gp_set)s, &n);
        if (strcmp(want, gp_set_param((gp_set)s)))
            continue;
        for (size_t i = 0; i < n; i++)
            fprintf(c->out, "%s\n", names[i]);
        return 0;
    }
    char sets[256] = "";
    for (int s = 0; s < GP_SET_LAST; s++)
        snprintf(sets + strlen(sets), sizeof(sets) - strlen(sets), "%s%s", s ? ", " : "",
                 gp_set_param((gp_set)s));
    xe_error_set(&c->err, "INVALID_ARGUMENT", "no set of names '%s' (%s)", want, sets);
    xe_error_param(&c->err, "set", want);
    return 1;
}

/* ---- options and configuration -------------------------------------------- */

typedef struct {
    const char *name;      /* without "--" */
    const char *value;     /* NULL when not given */
} opt_slot;

enum { OPT_DB, OPT_DRIVER, OPT_SYSFS, OPT_DUMP, OPT_TOPO, OPT_CLASSES, OPT_CONFIG, OPT_N };

static int set_str(char **dst, const char *v)
{
    char *s = strdup(v);
    if (!s)
        return 1;
    free(*dst);
    *dst = s;
    return 0;
}

/* Build c->cfg from defaults, file, environment and options. */
static int load_config(xe_call *c, const opt_slot *opts)
{
    gp_error_info gi;
    const char *path = opts[OPT_CONFIG].value;
    bool missing_ok = false;
    char caller[96];
    int rc = 1;

    gp_error_info_init(&gi);
    if (!path) {
        path = getenv("GPUPOOL_CONFIG");
        if (!path || !*path)
            path = GP_DEFAULT_CONFIG_PATH;
        missing_ok = true;
    }
    if (gp_config_load_file(&c->cfg, path, missing_ok, &gi))
        goto fail;
    if (gp_config_load_env(&c->cfg, &gi))
        goto fail;
    if (opts[OPT_DB].value && set_str(&c->cfg.db_path, opts[OPT_DB].value))
        goto nomem;
    if (opts[OPT_DRIVER].value) {
        if (gp_config_set_driver(&c->cfg, opts[OPT_DRIVER].value, &gi))
            goto fail;
    }
    if (opts[OPT_SYSFS].value && set_str(&c->cfg.sysfs_root, opts[OPT_SYSFS].value))
        goto nomem;
    if (opts[OPT_DUMP].value && set_str(&c->cfg.pci_dump, opts[OPT_DUMP].value))
        goto nomem;
    if (opts[OPT_TOPO].value && set_str(&c->cfg.topology_file, opts[OPT_TOPO].value))
        goto nomem;
    if (opts[OPT_CLASSES].value &&
        gp_config_set_classes(&c->cfg, opts[OPT_CLASSES].value, &gi))
        goto fail;
    snprintf(caller, sizeof(caller), "xe-gpupool uid=%u pid=%d", (unsigned)getuid(),
             (int)getpid());
    if (set_str(&c->cfg.caller, caller))
        goto nomem;
    rc = 0;
    goto out;
nomem:
    xe_error_set(&c->err, "OUT_OF_MEMORY", "out of memory");
    goto out;
fail:
    xe_error_from_info(&c->err, &gi);
out:
    gp_error_info_dispose(&gi);
    return rc;
}

/* Check required / declared keys before anything acts. */
static int check_keys(xe_call *c)
{
    const struct xe_cmd *cmd = c->cmd;

    for (size_t i = 0; cmd->required && cmd->required[i]; i++)
        if (!xe_arg_get(c, cmd->required[i])) {
            char *shown = strdup(cmd->required[i]);
            for (char *p = shown; p && *p; p++)
                if (*p == '|')
                    *p = '/';
            xe_error_set(&c->err, "MISSING_PARAMETER",
                         "%s needs %s=", cmd->name, shown ? shown : cmd->required[i]);
            xe_error_param(&c->err, "param-name", shown ? shown : cmd->required[i]);
            free(shown);
            return 1;
        }
    for (size_t i = 0; i < c->n_args; i++) {
        const char *k = c->args[i].key;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->args[j].key, k)) {
                xe_error_set(&c->err, "INVALID_ARGUMENT", "%s= given twice", k);
                xe_error_param(&c->err, "param-name", k);
                return 1;
            }
        if (cmd->flags & (XE_CMD_LIST | XE_CMD_ANYKEYS))
            continue;       /* filters / settable params: checked by the command */
        if (!key_declared(k, cmd->required) && !key_declared(k, cmd->optional)) {
            xe_error_set(&c->err, "UNKNOWN_PARAMETER", "%s does not take %s=", cmd->name, k);
            xe_error_param(&c->err, "param-name", k);
            return 1;
        }
    }
    if (c->n_words && strcmp(cmd->name, "help")) {
        xe_error_set(&c->err, "INVALID_ARGUMENT",
                     "'%s' is not a key=value argument", c->words[0]);
        xe_error_param(&c->err, "argument", c->words[0]);
        return 1;
    }
    return 0;
}

static void call_dispose(xe_call *c)
{
    for (size_t i = 0; i < c->n_args; i++) {
        free(c->args[i].key);
        free(c->args[i].value);
    }
    free(c->args);
    free(c->words);
    gp_ctx_free(c->ctx);
    gp_config_dispose(&c->cfg);
    xe_error_dispose(&c->err);
}

int main(int argc, char **argv)
{
    static const char *const opt_names[OPT_N] = {
        "db", "driver", "sysfs-root", "pci-dump", "topology", "gpu-classes", "config",
    };
    opt_slot opts[OPT_N];
    const char *cmd_name = NULL;
    bool want_help = false;
    xe_call c;
    int rc = 1;

    memset(&c, 0, sizeof(c));
    gp_config_init(&c.cfg);
    xe_error_init(&c.err);
    c.out = stdout;
    for (int i = 0; i < OPT_N; i++) {
        opts[i].name = opt_names[i];
        opts[i].value = NULL;
    }
    c.args = calloc((size_t)argc + 1, sizeof(*c.args));
    c.words = calloc((size_t)argc + 1, sizeof(*c.words));
    if (!c.args || !c.words) {
        xe_error_set(&c.err, "OUT_OF_MEMORY", "out of memory");
        goto out;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "--", 2)) {
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            bool known = false;
            if (!strcmp(a, "--minimal")) {
                c.minimal = true;
                continue;
            }
            if (!strcmp(a, "--help")) {
                want_help = true;
                continue;
            }
            if (!strncmp(a, "--format=", 9)) {
                /* --format=json is the command's format=json. */
                c.args[c.n_args].key = strdup("format");
                c.args[c.n_args].value = strdup(a + 9);
                if (!c.args[c.n_args++].key || !c.args[c.n_args - 1].value) {
                    xe_error_set(&c.err, "OUT_OF_MEMORY", "out of memory");
                    goto out;
                }
                continue;
            }
            for (int k = 0; k < OPT_N && eq; k++)
                if (strlen(opts[k].name) == len && !strncmp(opts[k].name, a + 2, len)) {
                    opts[k].value = eq + 1;
                    known = true;
                }
            if (!known) {
                xe_error_set(&c.err, "UNKNOWN_OPTION", eq ? "unknown option '%.*s'"
                             : "unknown option '%.*s' (options are --name=value)",
                             (int)(len + 2), a);
                xe_error_param(&c.err, "option", a);
                goto out;
            }
            continue;
        }
        if (!cmd_name) {
            cmd_name = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        if (!eq || eq == a) {
            c.words[c.n_words++] = (char *)a;
            continue;
        }
        c.args[c.n_args].key = strndup(a, (size_t)(eq - a));
        c.args[c.n_args].value = strdup(eq + 1);
        if (!c.args[c.n_args].key || !c.args[c.n_args].value) {
            c.n_args++;
            xe_error_set(&c.err, "OUT_OF_MEMORY", "out of memory");
            goto out;
        }
        c.n_args++;
    }
    if (want_help && cmd_name && strcmp(cmd_name, "help")) {
        /* "xe-gpupool pool-create --help" = "xe-gpupool help pool-create" */
        c.n_words = 0;
        c.words[c.n_words++] = (char *)cmd_name;
        for (size_t i = 0; i < c.n_args; i++) {
            free(c.args[i].key);
            free(c.args[i].value);
        }
        c.n_args = 0;
        cmd_name = "help";
    }
    if (!cmd_name)
        cmd_name = "help";

    c.cmd = xe_cmd_find(cmd_name);
    if (!c.cmd) {
        xe_error_set(&c.err, "UNKNOWN_COMMAND",
                     "unknown command '%s' (xe-gpupool help lists them)", cmd_name);
        xe_error_param(&c.err, "command", cmd_name);
        goto out;
    }
    if (check_keys(&c))
        goto out;
    if (!(c.cmd->flags & XE_CMD_NO_CTX)) {
        gp_error_info gi;
        if (load_config(&c, opts))
            goto out;
        gp_error_info_init(&gi);
        if (gp_ctx_alloc(&c.ctx, &c.cfg, &gi)) {
            xe_error_from_info(&c.err, &gi);
            gp_error_info_dispose(&gi);
            goto out;
        }
        gp_error_info_dispose(&gi);
        /* Leases expire when any command runs (docs/governance.md); a
         * failure here is not the command's. */
        gp_governance_tick(c.ctx, NULL);
    }
    rc = c.cmd->run(&c);
out:
    if (fflush(stdout) != 0 && rc != 1) {
        xe_error_set(&c.err, "IO_ERROR", "cannot write the output: %s", strerror(errno));
        rc = 1;
    }
    if (rc && rc != XE_EXIT_FAILED_CHECKS)
        xe_error_print(stderr, &c.err);
    call_dispose(&c);
    return rc == XE_EXIT_FAILED_CHECKS ? XE_EXIT_FAILED_CHECKS : rc ? 1 : 0;
}
