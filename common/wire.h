/* wire: what crosses the wire as JSON, on jansson.
 *
 * Decodes and validates request bodies into a struct cart_change (types,
 * known keys, sku syntax: the 400 class of errors), checks Content-Type,
 * and encodes carts and error bodies (If-Match is etag's). Pure functions,
 * thread-safe. Range checks (422) belong to
 * cart_apply, so both stores enforce them the same way. */
#ifndef WIRE_H
#define WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cart.h"

enum wire_status {
    WIRE_OK = 0,
    WIRE_INVALID_JSON,    /* not JSON, not an object, trailing bytes, duplicate key */
    WIRE_INVALID_FIELD,   /* a missing required key or a wrong type */
    WIRE_UNKNOWN_FIELD,   /* a key the endpoint does not take */
    WIRE_INVALID_SKU      /* sku not [A-Za-z0-9._-]{1,64} */
};

/* Body of POST /carts: empty, or an empty object. */
enum wire_status wire_parse_create(const char *body, size_t len, char *err, size_t errlen);

/* Body of POST .../items: {"sku", "qty", "unit_price_cents"?}. */
enum wire_status wire_parse_add(const char *body, size_t len, struct cart_change *out,
                                char *err, size_t errlen);

/* Body of PUT .../items/{sku}: {"qty", "unit_price_cents"?}; sku from the path. */
enum wire_status wire_parse_set(const char *body, size_t len, const char *sku,
                                struct cart_change *out, char *err, size_t errlen);

/* Encode a cart as the contract's JSON object (malloc'd, NUL-terminated). */
char *wire_cart_json(const struct cart *c, size_t *len);

/* Encode {"error":{"code","message"[,"owner"]}} (malloc'd); owner may be NULL. */
char *wire_error_json(const char *code, const char *message, const char *owner, size_t *len);

/* True when a Content-Type names application/json (parameters allowed). */
bool wire_is_json(const char *content_type);

/* A static snake_case name for a status ("invalid_json", ...). */
const char *wire_status_name(enum wire_status st);

#endif
