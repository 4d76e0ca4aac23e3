/* wire: JSON request decoding and response encoding (see wire.h). */
#include "wire.h"
#include "util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

/* Keys a body may hold; a NULL-terminated list per endpoint. */
static const char *const add_keys[] = {"sku", "qty", "unit_price_cents", NULL};
static const char *const set_keys[] = {"qty", "unit_price_cents", NULL};

/* Parse body as one JSON object: duplicates, trailing bytes and non-objects refused. */
static enum wire_status load_object(const char *body, size_t len, json_t **out,
                                    char *err, size_t errlen)
{
    json_error_t je;
    json_t *root;

    *out = NULL;
    if (!body)
        body = "";
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root) {
        enum json_error_code code = json_error_code(&je);

        if (code == json_error_numeric_overflow)
            util_seterr(err, errlen, "number too large at position %d", je.position);
        else if (code == json_error_duplicate_key)
            util_seterr(err, errlen, "duplicate key in object");
        else
            util_seterr(err, errlen, "invalid JSON at position %d: %s", je.position, je.text);
        return WIRE_INVALID_JSON;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        util_seterr(err, errlen, "body must be a JSON object");
        return WIRE_INVALID_JSON;
    }
    *out = root;
    return WIRE_OK;
}

/* True when key is in the NULL-terminated list. */
static bool key_allowed(const char *key, const char *const *keys)
{
    for (size_t i = 0; keys[i]; i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    return false;
}

/* Refuse the first key the endpoint does not take. */
static enum wire_status check_keys(json_t *obj, const char *const *keys, char *err,
                                   size_t errlen)
{
    const char *key;
    json_t *val;

    json_object_foreach(obj, key, val) {
        if (!key_allowed(key, keys)) {
            util_seterr(err, errlen, "unknown field '%.64s'", key);
            return WIRE_UNKNOWN_FIELD;
        }
    }
    return WIRE_OK;
}

/* Read an integer field; absent is an error only when required. */
static enum wire_status get_int(json_t *obj, const char *key, bool required, int64_t *out,
                                bool *present, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);

    *present = v != NULL;
    if (!v) {
        if (!required)
            return WIRE_OK;
        util_seterr(err, errlen, "field '%s' is required", key);
        return WIRE_INVALID_FIELD;
    }
    if (!json_is_integer(v)) {
        util_seterr(err, errlen, "field '%s' must be an integer", key);
        return WIRE_INVALID_FIELD;
    }
    *out = (int64_t)json_integer_value(v);
    return WIRE_OK;
}

/* Read qty (required) and unit_price_cents (optional) into chg. */
static enum wire_status get_qty_price(json_t *obj, struct cart_change *chg, char *err,
                                      size_t errlen)
{
    bool present;
    enum wire_status st = get_int(obj, "qty", true, &chg->qty, &present, err, errlen);

    if (st != WIRE_OK)
        return st;
    return get_int(obj, "unit_price_cents", false, &chg->price, &chg->has_price, err, errlen);
}

/* Fill the fields every parser sets the same way. */
static void change_init(struct cart_change *chg, enum cart_op op)
{
    memset(chg, 0, sizeof(*chg));
    chg->op = op;
}

/* JSON insignificant whitespace. */
static bool is_json_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Body of POST /carts: empty, or an empty object. */
enum wire_status wire_parse_create(const char *body, size_t len, char *err, size_t errlen)
{
    json_t *root;
    enum wire_status st;
    size_t i = 0;

    util_seterr(err, errlen, "%s", "");
    while (body && i < len && is_json_space(body[i]))
        i++;
    if (!body || i == len)
        return WIRE_OK;
    st = load_object(body, len, &root, err, errlen);
    if (st != WIRE_OK)
        return st;
    if (json_object_size(root) > 0) {
        static const char *const none[] = {NULL};

        st = check_keys(root, none, err, errlen);
    }
    json_decref(root);
    return st;
}

/* Body of POST .../items: {"sku", "qty", "unit_price_cents"?}. */
enum wire_status wire_parse_add(const char *body, size_t len, struct cart_change *out,
                                char *err, size_t errlen)
{
    struct cart_change chg;
    json_t *root, *sku;
    enum wire_status st;

    util_seterr(err, errlen, "%s", "");
    change_init(&chg, CART_OP_ADD);
    st = load_object(body, len, &root, err, errlen);
    if (st != WIRE_OK)
        return st;
    st = check_keys(root, add_keys, err, errlen);
    if (st != WIRE_OK)
        goto out;
    sku = json_object_get(root, "sku");
    if (!sku || !json_is_string(sku)) {
        util_seterr(err, errlen, sku ? "field 'sku' must be a string" : "field 'sku' is required");
        st = WIRE_INVALID_FIELD;
        goto out;
    }
    if (!cart_sku_valid(json_string_value(sku), json_string_length(sku))) {
        util_seterr(err, errlen, "field 'sku' must match [A-Za-z0-9._-]{1," CART_STR(CART_SKU_MAX) "}");
        st = WIRE_INVALID_SKU;
        goto out;
    }
    memcpy(chg.sku, json_string_value(sku), json_string_length(sku));
    st = get_qty_price(root, &chg, err, errlen);
    if (st == WIRE_OK)
        *out = chg;
out:
    json_decref(root);
    return st;
}

/* Body of PUT .../items/{sku}: {"qty", "unit_price_cents"?}; sku from the path. */
enum wire_status wire_parse_set(const char *body, size_t len, const char *sku,
                                struct cart_change *out, char *err, size_t errlen)
{
    struct cart_change chg;
    json_t *root;
    enum wire_status st;

    util_seterr(err, errlen, "%s", "");
    change_init(&chg, CART_OP_SET);
    if (!sku || !cart_sku_valid(sku, strnlen(sku, CART_SKU_MAX + 1))) {
        util_seterr(err, errlen, "sku must match [A-Za-z0-9._-]{1," CART_STR(CART_SKU_MAX) "}");
        return WIRE_INVALID_SKU;
    }
    memcpy(chg.sku, sku, strlen(sku));
    st = load_object(body, len, &root, err, errlen);
    if (st != WIRE_OK)
        return st;
    st = check_keys(root, set_keys, err, errlen);
    if (st == WIRE_OK)
        st = get_qty_price(root, &chg, err, errlen);
    if (st == WIRE_OK)
        *out = chg;
    json_decref(root);
    return st;
}

/* True when s is non-empty and only [A-Za-z0-9._-]: safe to emit unescaped. */
static bool safe_token(const char *s, size_t max)
{
    size_t len = strnlen(s, max + 1);

    return len <= max && cart_sku_valid(s, len);
}

/* Append the n bytes of s at p; returns the new end. */
static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* Append a literal. */
#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

/* Append v in decimal (the hot path: no printf). */
static char *put_int(char *p, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do
        tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        *p++ = '-';
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Encode a cart into one exact-bound buffer, without printf (it answers every
 * cart request); no escaping is needed, as ids and skus are checked to be
 * [A-Za-z0-9._-]. NULL on a bad id/sku or no memory. */
char *wire_cart_json(const struct cart *c, size_t *len)
{
    /* 20 chars hold any int64 in decimal, sign included. */
    const size_t num = 20;
    const size_t item_max = sizeof("{\"sku\":\"\",\"qty\":,\"unit_price_cents\":},") +
                            CART_SKU_MAX + 2 * num;
    size_t id_len = strnlen(c->id, CART_ID_MAX + 1);

    if (!safe_token(c->id, CART_ID_MAX) || (c->n && !c->items))
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        if (!safe_token(c->items[i].sku, CART_SKU_MAX))
            return NULL;
    if (c->n > (SIZE_MAX - 256) / item_max)
        return NULL;
    char *buf = malloc(256 + CART_ID_MAX + 3 * num + c->n * item_max);
    if (!buf)
        return NULL;
    char *p = PUT_LIT(buf, "{\"id\":\"");
    p = put(p, c->id, id_len);
    p = put_int(PUT_LIT(p, "\",\"version\":"), c->version);
    p = PUT_LIT(p, ",\"items\":[");
    for (size_t i = 0; i < c->n; i++) {
        const struct cart_item *it = &c->items[i];
        p = PUT_LIT(p, "{\"sku\":\"");
        p = put(p, it->sku, strlen(it->sku));
        p = put_int(PUT_LIT(p, "\",\"qty\":"), it->qty);
        p = put_int(PUT_LIT(p, ",\"unit_price_cents\":"), it->unit_price_cents);
        p = i + 1 < c->n ? PUT_LIT(p, "},") : PUT_LIT(p, "}");
    }
    p = put_int(PUT_LIT(p, "],\"total_cents\":"), cart_total(c));
    p = put_int(PUT_LIT(p, ",\"expires_in\":"), c->expires_in);
    p = PUT_LIT(p, "}");
    *p = '\0';
    if (len)
        *len = (size_t)(p - buf);
    return buf;
}

/* A JSON string for arbitrary bytes: bytes that are not valid UTF-8 become '?'. */
static json_t *lossy_string(const char *s)
{
    json_t *j;
    char *copy;

    if (!s)
        s = "";
    j = json_string(s);
    if (j)
        return j;
    copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

/* Encode {"error":{"code","message"[,"owner"]}} (malloc'd); owner may be NULL. */
char *wire_error_json(const char *code, const char *message, const char *owner, size_t *len)
{
    json_t *root = json_object(), *e = json_object();
    char *out = NULL;
    int bad = !root || !e;

    if (!bad) {
        bad |= json_object_set_new(e, "code", lossy_string(code ? code : "internal"));
        bad |= json_object_set_new(e, "message", lossy_string(message));
        if (owner)
            bad |= json_object_set_new(e, "owner", lossy_string(owner));
        bad |= json_object_set(root, "error", e);
    }
    if (!bad)
        out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(e);
    json_decref(root);
    if (out && len)
        *len = strlen(out);
    return out;
}

/* A static snake_case name for a status. */
const char *wire_status_name(enum wire_status st)
{
    switch (st) {
    case WIRE_OK: return "ok";
    case WIRE_INVALID_JSON: return "invalid_json";
    case WIRE_INVALID_FIELD: return "invalid_field";
    case WIRE_UNKNOWN_FIELD: return "unknown_field";
    case WIRE_INVALID_SKU: return "invalid_sku";
    }
    return "unknown";
}

/* True when a Content-Type names application/json; parameters may follow ';'
 * with optional spaces or tabs around it. */
bool wire_is_json(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, sizeof want - 1))
        return false;
    ct += sizeof want - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}
