/*
 * rpc/rpc.h - talking XML-RPC: the methodCall / methodResponse codec
 * (xmlrpc.c, libxml2) and the xapi client over xapi's Unix socket
 * (xapi_client.c, libcurl).  Depends on core only.  Not installed.
 */
#ifndef GPUPOOL_RPC_H
#define GPUPOOL_RPC_H

#include "core/core.h"

/* ---- XML-RPC (rpc/xmlrpc.c) ---------------------------------------------------- */

typedef enum {
    GP_XR_NIL = 0,
    GP_XR_STRING,
    GP_XR_INT,       /* <int>, <i4>, <i8> */
    GP_XR_BOOL,
    GP_XR_DOUBLE,
    GP_XR_DATETIME,  /* text kept in str */
    GP_XR_BASE64,    /* text kept in str (not decoded) */
    GP_XR_STRUCT,
    GP_XR_ARRAY,
} gp_xr_type;

/* One XML-RPC value.  STRUCT: n members keys[i] -> items[i], in document
 * order; ARRAY: n items.  Owns everything it points to. */
typedef struct gp_xr_value {
    gp_xr_type type;
    char *str;                 /* STRING / DATETIME / BASE64 */
    int64_t i;                 /* INT, BOOL (0/1) */
    double d;                  /* DOUBLE */
    char **keys;               /* STRUCT member names */
    struct gp_xr_value *items; /* STRUCT member values, ARRAY items */
    size_t n;
} gp_xr_value;

GP_HIDDEN void gp_xr_value_init(gp_xr_value *v);    /* NIL */
GP_HIDDEN void gp_xr_value_dispose(gp_xr_value *v);
/* Make v the string s (copied; NULL = "").  GP_ERR_NOMEM. */
GP_HIDDEN int gp_xr_set_string(gp_xr_value *v, const char *s);
/* Append a string to an ARRAY / a key -> string member to a STRUCT.
 * GP_ERR_INVALID_ARGUMENT (wrong type), GP_ERR_NOMEM. */
GP_HIDDEN int gp_xr_array_add_string(gp_xr_value *arr, const char *s);
GP_HIDDEN int gp_xr_struct_add_string(gp_xr_value *st, const char *key, const char *s);
/* Append an empty value of type to a STRUCT (key) or ARRAY (key ignored);
 * returns it (owned by the container) or NULL (ENOMEM / not a container). */
GP_HIDDEN gp_xr_value *gp_xr_struct_add(gp_xr_value *st, const char *key, gp_xr_type type);
/* Member of a STRUCT (the last one when a name repeats), or NULL. */
GP_HIDDEN const gp_xr_value *gp_xr_struct_get(const gp_xr_value *st, const char *key);
/* The member's string, NULL when absent or not a string. */
GP_HIDDEN const char *gp_xr_struct_get_string(const gp_xr_value *st, const char *key);
GP_HIDDEN const char *gp_xr_type_name(gp_xr_type t);
/*
 * Parse a methodCall (len bytes of buf, no NUL needed).  *method (caller
 * frees) receives the method name, params an ARRAY of the params.  Bare
 * <value>text</value> and <value/> are strings.  Refuses a DTD, unknown
 * types, nesting deeper than 64.  Errors: GP_ERR_INVALID_ARGUMENT (err names
 * the problem and the line), GP_ERR_NOMEM.
 */
GP_HIDDEN int gp_xr_parse_call(const char *buf, size_t len, char **method,
                               gp_xr_value *params, gp_error_info *err);
/* Parse a methodResponse: its single param into out, or its <fault> value
 * (with *fault = true).  Errors as gp_xr_parse_call. */
GP_HIDDEN int gp_xr_parse_response(const char *buf, size_t len, gp_xr_value *out,
                                   bool *fault, gp_error_info *err);
/* Serialise a methodCall / methodResponse (UTF-8, XML declaration, every
 * string escaped by libxml2 after gp_xr_sanitize).  *out (caller frees) is
 * NUL-terminated, *len (may be NULL) its length.  GP_ERR_NOMEM,
 * GP_ERR_INVALID_ARGUMENT (nesting deeper than 64). */
GP_HIDDEN int gp_xr_build_call(const char *method, const gp_xr_value *params,
                               size_t n_params, char **out, size_t *len);
GP_HIDDEN int gp_xr_build_response(const gp_xr_value *v, char **out, size_t *len);
/* The XenAPIPlugin reply shapes: {Status: "Success", Value: value} and
 * {Status: "Failure", ErrorDescription: [desc...]}. */
GP_HIDDEN int gp_xr_build_plugin_success(const char *value, char **out, size_t *len);
GP_HIDDEN int gp_xr_build_plugin_failure(const char *const *desc, size_t n,
                                         char **out, size_t *len);
/* Copy of s that is valid XML 1.0 character data: invalid UTF-8 bytes and
 * characters XML forbids (controls other than tab/LF/CR, U+FFFE/FFFF)
 * become U+FFFD.  Caller frees; NULL on ENOMEM. */
GP_HIDDEN char *gp_xr_sanitize(const char *s);

/* ---- xapi client (rpc/xapi_client.c) --------------------------------------------------- */

#define GP_XAPI_DEFAULT_SOCKET "/var/lib/xcp/xapi"

typedef struct gp_xapi gp_xapi;

/*
 * Connect to xapi over its Unix socket (HTTP POST of XML-RPC, libcurl with
 * CURLOPT_UNIX_SOCKET_PATH; libcurl is loaded with dlopen on first use so
 * that front ends which never talk to xapi do not pay for loading it).
 * session: a session ref to use (the plugin's, from xapi), or NULL to log in
 * with session.login_with_password("root", "") (xapi lets local root in over
 * the socket) and log out in gp_xapi_close().  deadline_ms: CLOCK_MONOTONIC
 * milliseconds after which no call is started and a running one is abandoned
 * with GP_ERR_TIMEOUT; 0 = none.
 * Errors: GP_ERR_NOT_SUPPORTED (libcurl missing), GP_ERR_DRIVER (cannot
 * connect, login refused), GP_ERR_TIMEOUT, GP_ERR_NOMEM.
 */
GP_HIDDEN int gp_xapi_open(gp_xapi **out, const char *socket_path, const char *session,
                           uint64_t deadline_ms, gp_error_info *err);
GP_HIDDEN void gp_xapi_close(gp_xapi *x);
/* The session ref in use (static to x). */
GP_HIDDEN const char *gp_xapi_session(const gp_xapi *x);
/* Give x a new deadline (CLOCK_MONOTONIC ms, 0 = none) and return the old
 * one: an undo after a timeout runs on its own budget, then the caller puts
 * the old deadline back. */
GP_HIDDEN uint64_t gp_xapi_set_deadline(gp_xapi *x, uint64_t deadline_ms);
/*
 * Call method(session, args[0..n_args-1]) (string arguments) and put the
 * Value of a Success into result (_init'ed by the callee).  A Failure sets
 * GP_ERR_DRIVER with "xapi <method>: <code> <params...>" and the params
 * xapi-method, xapi-error, then each ErrorDescription parameter as
 * xapi-param; gp_xapi_last_failure() then gives the code.
 * Errors: GP_ERR_DRIVER, GP_ERR_TIMEOUT, GP_ERR_NOMEM.
 */
GP_HIDDEN int gp_xapi_call(gp_xapi *x, const char *method, const char *const *args,
                           size_t n_args, gp_xr_value *result, gp_error_info *err);
/* Same, with one more argument of any type after the strings (tail, borrowed:
 * host.call_plugin's args struct). */
GP_HIDDEN int gp_xapi_call_tail(gp_xapi *x, const char *method, const char *const *args,
                                size_t n_args, const gp_xr_value *tail, gp_xr_value *result,
                                gp_error_info *err);
/* Same, without the session as first argument (session.login_with_password). */
GP_HIDDEN int gp_xapi_call_nosession(gp_xapi *x, const char *method, const char *const *args,
                                     size_t n_args, gp_xr_value *result, gp_error_info *err);
/* ErrorDescription code of the last call when xapi answered Failure (e.g.
 * "UUID_INVALID", "MAP_DUPLICATE_KEY"), else NULL.  Owned by x. */
GP_HIDDEN const char *gp_xapi_last_failure(const gp_xapi *x);

/* xapi's socket path: cfg->xapi_socket, else GP_XAPI_DEFAULT_SOCKET.
 * Static or cfg-owned storage. */
GP_HIDDEN const char *gp_xapi_socket_path(const gp_config *cfg);
/* True when that path exists and is a Unix socket (xapi is running). */
GP_HIDDEN bool gp_xapi_present(const gp_config *cfg);

#endif /* GPUPOOL_RPC_H */
