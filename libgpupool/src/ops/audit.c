/*
 * audit.c - reading the append-only audit log.
 */
#include "ops/ops.h"

#include <stdlib.h>
#include <string.h>

void gp_audit_list_free(gp_audit_entry *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].time);
        free(e[i].caller);
        free(e[i].operation);
        free(e[i].object);
        free(e[i].before);
        free(e[i].after);
    }
    free(e);
}

/* Copy a nullable text column; false on ENOMEM. */
static bool take_text(sqlite3_stmt *st, int col, char **dst)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    *dst = gp_strdup(s);
    return !s || *dst;
}

int gp_audit_list(gp_ctx *ctx, int64_t since_id, size_t limit,
                  gp_audit_entry **out, size_t *n_out)
{
    sqlite3_stmt *st = NULL;
    gp_audit_entry *v = NULL;
    size_t n = 0, cap = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    gp_err_clear(ctx->err);
    /* The rowid range scan reads only the rows returned. */
    rc = gp_store_prepare(&ctx->store, "SELECT id, time, caller, operation, object, before, after"
                          " FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2", &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, since_id);
    sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (gp_array_reserve((void **)&v, &cap, n, sizeof(*v)))
            goto nomem;
        gp_audit_entry *e = &v[n++];
        memset(e, 0, sizeof(*e));
        e->id = sqlite3_column_int64(st, 0);
        if (!take_text(st, 1, &e->time) || !take_text(st, 2, &e->caller) ||
            !take_text(st, 3, &e->operation) || !take_text(st, 4, &e->object) ||
            !take_text(st, 5, &e->before) || !take_text(st, 6, &e->after))
            goto nomem;
    }
    if (rc != SQLITE_DONE) {
        rc = gp_store_error(&ctx->store, rc, "reading the audit log");
        goto out;
    }
    rc = GP_OK;
    *out = v;
    *n_out = n;
    v = NULL;
    n = 0;
    goto out;
nomem:
    rc = GP_ERR(ctx, GP_ERR_NOMEM, "out of memory");
out:
    sqlite3_finalize(st);
    gp_audit_list_free(v, n);
    return rc;
}
