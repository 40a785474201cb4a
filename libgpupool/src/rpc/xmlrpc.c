/*
 * xmlrpc.c - XML-RPC values, methodCall / methodResponse parsing and
 * building with libxml2, shared by the XAPI plugin (which receives a
 * methodCall in argv[1] and answers with a methodResponse) and the xapi
 * client (which sends methodCalls to xapi and reads its methodResponses).
 *
 * Parsing accepts what xapi and Python's xmlrpc.client write: strings as
 * bare <value>text</value> or <value><string>..</string></value>, the empty
 * string as <value/>, <int>/<i4>/<i8>, <boolean>, <double>,
 * <dateTime.iso8601>, <base64> (kept as its text), <nil/>, <struct>,
 * <array>.  Documents with a DTD are refused (no entity expansion ever),
 * the network is never used, nesting is bounded.
 *
 * Building goes through libxml2's tree API, so every string is escaped by
 * libxml2; strings are first made valid XML 1.0 character data (invalid
 * UTF-8 and characters XML forbids become U+FFFD), since a reply that an
 * XML parser rejects is worse than a replaced byte.
 */
#include "rpc/rpc.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#define XR_MAX_DEPTH 64

/* ---- values -------------------------------------------------------------- */

void gp_xr_value_init(gp_xr_value *v)
{
    memset(v, 0, sizeof(*v));
    v->type = GP_XR_NIL;
}

void gp_xr_value_dispose(gp_xr_value *v)
{
    if (!v)
        return;
    free(v->str);
    for (size_t i = 0; i < v->n; i++) {
        if (v->keys)
            free(v->keys[i]);
        if (v->items)
            gp_xr_value_dispose(&v->items[i]);
    }
    free(v->keys);
    free(v->items);
    gp_xr_value_init(v);
}

int gp_xr_set_string(gp_xr_value *v, const char *s)
{
    char *c = strdup(s ? s : "");
    if (!c)
        return GP_ERR_NOMEM;
    gp_xr_value_dispose(v);
    v->type = GP_XR_STRING;
    v->str = c;
    return GP_OK;
}

/* Append an uninitialised slot to a struct or array; returns it or NULL. */
static gp_xr_value *xr_append(gp_xr_value *v, const char *key)
{
    gp_xr_value *items = realloc(v->items, (v->n + 1) * sizeof(*items));
    if (!items)
        return NULL;
    v->items = items;
    if (v->type == GP_XR_STRUCT) {
        char **keys = realloc(v->keys, (v->n + 1) * sizeof(*keys));
        if (!keys)
            return NULL;
        v->keys = keys;
        keys[v->n] = strdup(key ? key : "");
        if (!keys[v->n])
            return NULL;
    }
    gp_xr_value_init(&items[v->n]);
    return &items[v->n++];
}

int gp_xr_array_add_string(gp_xr_value *arr, const char *s)
{
    if (arr->type != GP_XR_ARRAY)
        return GP_ERR_INVALID_ARGUMENT;
    gp_xr_value *slot = xr_append(arr, NULL);
    if (!slot)
        return GP_ERR_NOMEM;
    return gp_xr_set_string(slot, s);
}

int gp_xr_struct_add_string(gp_xr_value *st, const char *key, const char *s)
{
    if (st->type != GP_XR_STRUCT)
        return GP_ERR_INVALID_ARGUMENT;
    gp_xr_value *slot = xr_append(st, key);
    if (!slot)
        return GP_ERR_NOMEM;
    return gp_xr_set_string(slot, s);
}

gp_xr_value *gp_xr_struct_add(gp_xr_value *st, const char *key, gp_xr_type type)
{
    if (st->type != GP_XR_STRUCT && st->type != GP_XR_ARRAY)
        return NULL;
    gp_xr_value *slot = xr_append(st, key);
    if (slot)
        slot->type = type;
    return slot;
}

const gp_xr_value *gp_xr_struct_get(const gp_xr_value *st, const char *key)
{
    if (!st || st->type != GP_XR_STRUCT)
        return NULL;
    /* The last of duplicate members wins, as in Python's xmlrpc.client. */
    for (size_t i = st->n; i-- > 0;)
        if (!strcmp(st->keys[i], key))
            return &st->items[i];
    return NULL;
}

const char *gp_xr_struct_get_string(const gp_xr_value *st, const char *key)
{
    const gp_xr_value *v = gp_xr_struct_get(st, key);
    return v && v->type == GP_XR_STRING ? v->str : NULL;
}

const char *gp_xr_type_name(gp_xr_type t)
{
    static const char *const names[] = {
        "nil", "string", "int", "boolean", "double", "dateTime.iso8601",
        "base64", "struct", "array",
    };
    return (unsigned)t < GP_ARRAY_SIZE(names) ? names[t] : "unknown";
}

/* ---- parsing ------------------------------------------------------------- */

static bool xr_name_is(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

/* First element child, or NULL; *only_ws says whether every other child is
 * whitespace text (or a comment). */
static xmlNode *xr_first_element(xmlNode *parent, bool *extra)
{
    xmlNode *found = NULL;
    *extra = false;
    for (xmlNode *c = parent->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            if (found)
                *extra = true;
            else
                found = c;
        } else if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            for (const xmlChar *p = c->content; p && *p; p++)
                if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
                    *extra = true;
        } else if (c->type != XML_COMMENT_NODE && c->type != XML_PI_NODE) {
            *extra = true;
        }
    }
    return found;
}

/* Concatenated text and CDATA of n's children; refuses element children
 * and entity references (none can occur without a DTD, kept as a guard). */
static int xr_text(xmlNode *n, char **out)
{
    size_t len = 0;
    for (xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
            len += c->content ? strlen((const char *)c->content) : 0;
        else if (c->type != XML_COMMENT_NODE && c->type != XML_PI_NODE)
            return GP_ERR_INVALID_ARGUMENT;
    }
    char *s = malloc(len + 1);
    if (!s)
        return GP_ERR_NOMEM;
    size_t at = 0;
    for (xmlNode *c = n->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
            size_t l = strlen((const char *)c->content);
            memcpy(s + at, c->content, l);
            at += l;
        }
    s[at] = '\0';
    *out = s;
    return GP_OK;
}

static char *xr_trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\n' || s[l - 1] == '\r'))
        s[--l] = '\0';
    return s;
}

static int xr_bad(gp_error_info *err, const char *what, const xmlNode *n)
{
    gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "malformed XML-RPC: %s", what);
    if (n)
        gp_err_param(err, "line", "%ld", (long)xmlGetLineNo(n));
    return GP_ERR_INVALID_ARGUMENT;
}

static int xr_parse_value(xmlNode *vnode, gp_xr_value *out, int depth, gp_error_info *err);

static int xr_parse_scalar(xmlNode *t, gp_xr_value *out, gp_error_info *err)
{
    const char *name = (const char *)t->name;
    char *text = NULL;
    int rc = xr_text(t, &text);
    if (rc == GP_ERR_NOMEM)
        return gp_err_set(err, rc, "out of memory");
    if (rc)
        return xr_bad(err, "unexpected markup inside a scalar", t);

    if (!strcmp(name, "string")) {
        out->type = GP_XR_STRING;
        out->str = text;
        return GP_OK;
    }
    if (!strcmp(name, "dateTime.iso8601") || !strcmp(name, "base64")) {
        out->type = name[0] == 'd' ? GP_XR_DATETIME : GP_XR_BASE64;
        out->str = text;
        return GP_OK;
    }
    char *s = xr_trim(text);
    char *end;
    errno = 0;
    if (!strcmp(name, "int") || !strcmp(name, "i4") || !strcmp(name, "i8")) {
        long long v = strtoll(s, &end, 10);
        if (!*s || *end || errno) {
            free(text);
            return xr_bad(err, "bad integer", t);
        }
        out->type = GP_XR_INT;
        out->i = v;
    } else if (!strcmp(name, "boolean")) {
        if (strcmp(s, "0") && strcmp(s, "1")) {
            free(text);
            return xr_bad(err, "boolean must be 0 or 1", t);
        }
        out->type = GP_XR_BOOL;
        out->i = s[0] == '1';
    } else if (!strcmp(name, "double")) {
        double d = strtod(s, &end);
        if (!*s || *end) {
            free(text);
            return xr_bad(err, "bad double", t);
        }
        out->type = GP_XR_DOUBLE;
        out->d = d;
    } else {
        free(text);
        return xr_bad(err, "unknown value type", t);
    }
    free(text);
    return GP_OK;
}

static int xr_parse_struct(xmlNode *t, gp_xr_value *out, int depth, gp_error_info *err)
{
    out->type = GP_XR_STRUCT;
    for (xmlNode *m = t->children; m; m = m->next) {
        if (m->type != XML_ELEMENT_NODE)
            continue;
        if (!xr_name_is(m, "member"))
            return xr_bad(err, "struct holds something other than <member>", m);
        xmlNode *name = NULL, *value = NULL;
        for (xmlNode *c = m->children; c; c = c->next) {
            if (xr_name_is(c, "name") && !name)
                name = c;
            else if (xr_name_is(c, "value") && !value)
                value = c;
            else if (c->type == XML_ELEMENT_NODE)
                return xr_bad(err, "unexpected element in <member>", c);
        }
        if (!name || !value)
            return xr_bad(err, "<member> without <name> and <value>", m);
        char *key = NULL;
        int rc = xr_text(name, &key);
        if (rc == GP_ERR_NOMEM)
            return gp_err_set(err, rc, "out of memory");
        if (rc)
            return xr_bad(err, "markup inside <name>", name);
        gp_xr_value *slot = xr_append(out, key);
        free(key);
        if (!slot)
            return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        rc = xr_parse_value(value, slot, depth + 1, err);
        if (rc)
            return rc;
    }
    return GP_OK;
}

static int xr_parse_array(xmlNode *t, gp_xr_value *out, int depth, gp_error_info *err)
{
    bool extra;
    xmlNode *data = xr_first_element(t, &extra);
    out->type = GP_XR_ARRAY;
    if (!xr_name_is(data, "data") || extra)
        return xr_bad(err, "<array> must hold one <data>", t);
    for (xmlNode *c = data->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!xr_name_is(c, "value"))
            return xr_bad(err, "<data> holds something other than <value>", c);
        gp_xr_value *slot = xr_append(out, NULL);
        if (!slot)
            return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        int rc = xr_parse_value(c, slot, depth + 1, err);
        if (rc)
            return rc;
    }
    return GP_OK;
}

static int xr_parse_value(xmlNode *vnode, gp_xr_value *out, int depth, gp_error_info *err)
{
    bool extra;
    if (depth > XR_MAX_DEPTH)
        return xr_bad(err, "values nested too deeply", vnode);
    xmlNode *t = xr_first_element(vnode, &extra);
    if (!t) {
        /* A bare <value>text</value> (or <value/>) is a string. */
        char *text = NULL;
        int rc = xr_text(vnode, &text);
        if (rc == GP_ERR_NOMEM)
            return gp_err_set(err, rc, "out of memory");
        if (rc)
            return xr_bad(err, "unexpected markup in <value>", vnode);
        out->type = GP_XR_STRING;
        out->str = text;
        return GP_OK;
    }
    if (extra)
        return xr_bad(err, "<value> must hold one typed element or text", vnode);
    if (xr_name_is(t, "struct"))
        return xr_parse_struct(t, out, depth, err);
    if (xr_name_is(t, "array"))
        return xr_parse_array(t, out, depth, err);
    if (xr_name_is(t, "nil")) {
        out->type = GP_XR_NIL;
        return GP_OK;
    }
    return xr_parse_scalar(t, out, err);
}

/* Parse buf into a libxml2 document: no network, no DTD, no entities. */
static int xr_read(const char *buf, size_t len, xmlDoc **docp, gp_error_info *err)
{
    *docp = NULL;
    if (!buf || len == 0)
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "malformed XML-RPC: empty document");
    if (len > INT_MAX)
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "malformed XML-RPC: document too large");
    xmlDoc *doc = xmlReadMemory(buf, (int)len, "noname.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *xe = xmlGetLastError();
        gp_err_set(err, GP_ERR_INVALID_ARGUMENT, "malformed XML-RPC: %s",
                   xe && xe->message ? xr_trim(xe->message) : "not well-formed XML");
        if (xe)
            gp_err_param(err, "line", "%d", xe->line);
        xmlResetLastError();
        return GP_ERR_INVALID_ARGUMENT;
    }
    if (doc->intSubset || doc->extSubset) {
        xmlFreeDoc(doc);
        return gp_err_set(err, GP_ERR_INVALID_ARGUMENT,
                          "malformed XML-RPC: a document type declaration is not allowed");
    }
    *docp = doc;
    return GP_OK;
}

/* Parse <params><param><value>..</value></param>...</params> into an array. */
static int xr_parse_params(xmlNode *params, gp_xr_value *out, gp_error_info *err)
{
    out->type = GP_XR_ARRAY;
    if (!params)
        return GP_OK;
    for (xmlNode *p = params->children; p; p = p->next) {
        if (p->type != XML_ELEMENT_NODE)
            continue;
        if (!xr_name_is(p, "param"))
            return xr_bad(err, "<params> holds something other than <param>", p);
        bool extra;
        xmlNode *v = xr_first_element(p, &extra);
        if (!xr_name_is(v, "value") || extra)
            return xr_bad(err, "<param> must hold one <value>", p);
        gp_xr_value *slot = xr_append(out, NULL);
        if (!slot)
            return gp_err_set(err, GP_ERR_NOMEM, "out of memory");
        int rc = xr_parse_value(v, slot, 1, err);
        if (rc)
            return rc;
    }
    return GP_OK;
}

int gp_xr_parse_call(const char *buf, size_t len, char **method, gp_xr_value *params,
                     gp_error_info *err)
{
    xmlDoc *doc = NULL;
    xmlNode *root, *name = NULL, *plist = NULL;
    char *m = NULL;
    int rc;

    *method = NULL;
    gp_xr_value_init(params);
    rc = xr_read(buf, len, &doc, err);
    if (rc)
        return rc;
    root = xmlDocGetRootElement(doc);
    if (!xr_name_is(root, "methodCall")) {
        rc = xr_bad(err, "root element is not <methodCall>", root);
        goto out;
    }
    for (xmlNode *c = root->children; c; c = c->next) {
        if (xr_name_is(c, "methodName") && !name)
            name = c;
        else if (xr_name_is(c, "params") && !plist)
            plist = c;
        else if (c->type == XML_ELEMENT_NODE) {
            rc = xr_bad(err, "unexpected element in <methodCall>", c);
            goto out;
        }
    }
    if (!name) {
        rc = xr_bad(err, "<methodCall> without <methodName>", root);
        goto out;
    }
    rc = xr_text(name, &m);
    if (rc) {
        rc = rc == GP_ERR_NOMEM ? gp_err_set(err, rc, "out of memory")
                                : xr_bad(err, "markup inside <methodName>", name);
        goto out;
    }
    rc = xr_parse_params(plist, params, err);
    if (rc)
        goto out;
    *method = m;
    m = NULL;
out:
    free(m);
    if (rc)
        gp_xr_value_dispose(params);
    xmlFreeDoc(doc);
    return rc;
}

int gp_xr_parse_response(const char *buf, size_t len, gp_xr_value *out, bool *fault,
                         gp_error_info *err)
{
    xmlDoc *doc = NULL;
    xmlNode *root, *body;
    bool extra;
    gp_xr_value params;
    int rc;

    gp_xr_value_init(out);
    gp_xr_value_init(&params);
    *fault = false;
    rc = xr_read(buf, len, &doc, err);
    if (rc)
        return rc;
    root = xmlDocGetRootElement(doc);
    if (!xr_name_is(root, "methodResponse")) {
        rc = xr_bad(err, "root element is not <methodResponse>", root);
        goto out;
    }
    body = xr_first_element(root, &extra);
    if (extra || !body) {
        rc = xr_bad(err, "<methodResponse> must hold one <params> or <fault>", root);
        goto out;
    }
    if (xr_name_is(body, "fault")) {
        xmlNode *v = xr_first_element(body, &extra);
        if (!xr_name_is(v, "value") || extra) {
            rc = xr_bad(err, "<fault> must hold one <value>", body);
            goto out;
        }
        *fault = true;
        rc = xr_parse_value(v, out, 1, err);
        goto out;
    }
    if (!xr_name_is(body, "params")) {
        rc = xr_bad(err, "<methodResponse> must hold <params> or <fault>", body);
        goto out;
    }
    rc = xr_parse_params(body, &params, err);
    if (rc)
        goto out;
    if (params.n != 1) {
        rc = xr_bad(err, "a response holds exactly one <param>", body);
        goto out;
    }
    *out = params.items[0];
    gp_xr_value_init(&params.items[0]);
out:
    gp_xr_value_dispose(&params);
    if (rc)
        gp_xr_value_dispose(out);
    xmlFreeDoc(doc);
    return rc;
}

/* ---- building ------------------------------------------------------------ */

/* Decode one UTF-8 sequence at s (n bytes left); returns its length and the
 * code point in *cp, or 0 when the bytes are not valid UTF-8. */
static size_t xr_utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    unsigned c, min;
    if ((s[0] & 0xe0) == 0xc0) { len = 2; c = s[0] & 0x1f; min = 0x80; }
    else if ((s[0] & 0xf0) == 0xe0) { len = 3; c = s[0] & 0x0f; min = 0x800; }
    else if ((s[0] & 0xf8) == 0xf0) { len = 4; c = s[0] & 0x07; min = 0x10000; }
    else return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

static bool xr_xml_char(unsigned c)
{
    return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
           (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

char *gp_xr_sanitize(const char *s)
{
    size_t n = strlen(s), bad = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned cp;
        size_t l = xr_utf8_decode(p + i, n - i, &cp);
        if (!l || !xr_xml_char(cp)) {
            bad++;
            l = l ? l : 1;
        }
        i += l;
    }
    char *o = malloc(n + bad * 3 + 1);
    if (!o)
        return NULL;
    size_t at = 0;
    for (size_t i = 0; i < n;) {
        unsigned cp;
        size_t l = xr_utf8_decode(p + i, n - i, &cp);
        if (!l || !xr_xml_char(cp)) {
            memcpy(o + at, "\xef\xbf\xbd", 3);  /* U+FFFD */
            at += 3;
            i += l ? l : 1;
        } else {
            memcpy(o + at, p + i, l);
            at += l;
            i += l;
        }
    }
    o[at] = '\0';
    return o;
}

/* Add <tag>text</tag> under parent, text sanitized and escaped by libxml2. */
static xmlNode *xr_text_child(xmlNode *parent, const char *tag, const char *text)
{
    char *clean = gp_xr_sanitize(text ? text : "");
    if (!clean)
        return NULL;
    xmlNode *n = xmlNewChild(parent, NULL, BAD_CAST tag, NULL);
    if (n && *clean) {
        xmlNode *t = xmlNewText(BAD_CAST clean);
        if (!t || !xmlAddChild(n, t)) {
            xmlFreeNode(t);
            n = NULL;
        }
    }
    free(clean);
    return n;
}

static int xr_build_value(xmlNode *parent, const gp_xr_value *v, int depth)
{
    char num[64];
    xmlNode *vn = xmlNewChild(parent, NULL, BAD_CAST "value", NULL);
    if (!vn || depth > XR_MAX_DEPTH)
        return vn ? GP_ERR_INVALID_ARGUMENT : GP_ERR_NOMEM;
    switch (v->type) {
    case GP_XR_NIL:
        return xmlNewChild(vn, NULL, BAD_CAST "nil", NULL) ? GP_OK : GP_ERR_NOMEM;
    case GP_XR_STRING:
        return xr_text_child(vn, "string", v->str) ? GP_OK : GP_ERR_NOMEM;
    case GP_XR_DATETIME:
        return xr_text_child(vn, "dateTime.iso8601", v->str) ? GP_OK : GP_ERR_NOMEM;
    case GP_XR_BASE64:
        return xr_text_child(vn, "base64", v->str) ? GP_OK : GP_ERR_NOMEM;
    case GP_XR_INT:
        snprintf(num, sizeof(num), "%lld", (long long)v->i);
        return xr_text_child(vn, v->i > INT32_MAX || v->i < INT32_MIN ? "i8" : "int", num)
                   ? GP_OK : GP_ERR_NOMEM;
    case GP_XR_BOOL:
        return xr_text_child(vn, "boolean", v->i ? "1" : "0") ? GP_OK : GP_ERR_NOMEM;
    case GP_XR_DOUBLE:
        snprintf(num, sizeof(num), "%.17g", v->d);
        return xr_text_child(vn, "double", num) ? GP_OK : GP_ERR_NOMEM;
    case GP_XR_STRUCT: {
        xmlNode *st = xmlNewChild(vn, NULL, BAD_CAST "struct", NULL);
        if (!st)
            return GP_ERR_NOMEM;
        for (size_t i = 0; i < v->n; i++) {
            xmlNode *m = xmlNewChild(st, NULL, BAD_CAST "member", NULL);
            if (!m || !xr_text_child(m, "name", v->keys[i]))
                return GP_ERR_NOMEM;
            int rc = xr_build_value(m, &v->items[i], depth + 1);
            if (rc)
                return rc;
        }
        return GP_OK;
    }
    case GP_XR_ARRAY: {
        xmlNode *a = xmlNewChild(vn, NULL, BAD_CAST "array", NULL);
        xmlNode *d = a ? xmlNewChild(a, NULL, BAD_CAST "data", NULL) : NULL;
        if (!d)
            return GP_ERR_NOMEM;
        for (size_t i = 0; i < v->n; i++) {
            int rc = xr_build_value(d, &v->items[i], depth + 1);
            if (rc)
                return rc;
        }
        return GP_OK;
    }
    }
    return GP_ERR_INVALID_ARGUMENT;
}

/* Serialise doc (UTF-8, with the XML declaration) into a malloc'ed buffer. */
static int xr_dump(xmlDoc *doc, char **out, size_t *len)
{
    xmlChar *mem = NULL;
    int n = 0;
    xmlDocDumpMemoryEnc(doc, &mem, &n, "UTF-8");
    if (!mem)
        return GP_ERR_NOMEM;
    char *s = malloc((size_t)n + 1);
    if (!s) {
        xmlFree(mem);
        return GP_ERR_NOMEM;
    }
    memcpy(s, mem, (size_t)n);
    s[n] = '\0';
    xmlFree(mem);
    *out = s;
    if (len)
        *len = (size_t)n;
    return GP_OK;
}

/* A methodCall (call: with <methodName>method</methodName>) or a
 * methodResponse, with one <param> per value of params[0..n_params). */
static int xr_build_message(bool call, const char *method, const gp_xr_value *params,
                            size_t n_params, char **out, size_t *len)
{
    int rc = GP_ERR_NOMEM;
    xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNode *root = doc ? xmlNewNode(NULL, BAD_CAST (call ? "methodCall" : "methodResponse"))
                        : NULL;
    xmlNode *plist;

    *out = NULL;
    if (!root)
        goto out;
    xmlDocSetRootElement(doc, root);
    if (call && !xr_text_child(root, "methodName", method))
        goto out;
    plist = xmlNewChild(root, NULL, BAD_CAST "params", NULL);
    if (!plist)
        goto out;
    for (size_t i = 0; i < n_params; i++) {
        xmlNode *p = xmlNewChild(plist, NULL, BAD_CAST "param", NULL);
        if (!p)
            goto out;
        rc = xr_build_value(p, &params[i], 1);
        if (rc)
            goto out;
    }
    rc = xr_dump(doc, out, len);
out:
    xmlFreeDoc(doc);
    return rc;
}

int gp_xr_build_call(const char *method, const gp_xr_value *params, size_t n_params,
                     char **out, size_t *len)
{
    return xr_build_message(true, method, params, n_params, out, len);
}

int gp_xr_build_response(const gp_xr_value *v, char **out, size_t *len)
{
    return xr_build_message(false, NULL, v, 1, out, len);
}

int gp_xr_build_plugin_success(const char *value, char **out, size_t *len)
{
    gp_xr_value st;
    int rc;

    gp_xr_value_init(&st);
    st.type = GP_XR_STRUCT;
    rc = gp_xr_struct_add_string(&st, "Status", "Success");
    if (!rc)
        rc = gp_xr_struct_add_string(&st, "Value", value);
    if (!rc)
        rc = gp_xr_build_response(&st, out, len);
    gp_xr_value_dispose(&st);
    return rc;
}

int gp_xr_build_plugin_failure(const char *const *desc, size_t n, char **out, size_t *len)
{
    gp_xr_value st;
    gp_xr_value *arr;
    int rc;

    gp_xr_value_init(&st);
    st.type = GP_XR_STRUCT;
    rc = gp_xr_struct_add_string(&st, "Status", "Failure");
    arr = rc ? NULL : gp_xr_struct_add(&st, "ErrorDescription", GP_XR_ARRAY);
    if (!arr)
        rc = GP_ERR_NOMEM;
    for (size_t i = 0; !rc && i < n; i++)
        rc = gp_xr_array_add_string(arr, desc[i]);
    if (!rc)
        rc = gp_xr_build_response(&st, out, len);
    gp_xr_value_dispose(&st);
    return rc;
}
