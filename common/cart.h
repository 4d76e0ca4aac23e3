/* cart: the shopping-cart model.
 *
 * Pure functions over a struct cart: no I/O, no locking, no globals. A cart
 * must not be changed by two threads at once (the store serializes access);
 * distinct carts may be used from any thread. */
#ifndef CART_H
#define CART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CART_ID_MAX 64            /* longest cart id, in characters */

/* The limits of a line. A build may set them (-DCART_QTY_MAX=...): both stores,
 * the Redis scripts (in ARGV) and the error messages follow. */
#ifndef CART_SKU_MAX
#define CART_SKU_MAX 64           /* longest sku, in characters */
#endif
#ifndef CART_QTY_MAX
#define CART_QTY_MAX 9999         /* a line holds 1..CART_QTY_MAX */
#endif
#ifndef CART_PRICE_MAX
#define CART_PRICE_MAX 1000000000 /* unit_price_cents is 0..CART_PRICE_MAX */
#endif
#define CART_MAX_ITEMS_DEFAULT 100
#define CART_MATCH_MAX 16         /* versions one If-Match list may name */

#define CART_STR_(x) #x
#define CART_STR(x) CART_STR_(x)  /* a limit as text, for messages */

struct cart_item {
    char sku[CART_SKU_MAX + 1];
    int64_t qty;
    int64_t unit_price_cents;
};

struct cart {
    char id[CART_ID_MAX + 1];
    int64_t version;              /* 0 when created, +1 on every change */
    int64_t expires_in;           /* seconds of idle TTL left */
    size_t n;                     /* lines in use, sorted by sku */
    size_t cap;                   /* lines allocated */
    struct cart_item *items;
};

/* What a change did, or why it was refused (refused changes change nothing). */
enum cart_status {
    CART_OK = 0,
    CART_NO_ITEM,         /* remove of a sku the cart does not hold */
    CART_FULL,            /* a new line past max_items */
    CART_QTY_RANGE,       /* qty outside 1..CART_QTY_MAX after the change */
    CART_PRICE_RANGE,     /* unit_price_cents outside 0..CART_PRICE_MAX */
    CART_PRICE_REQUIRED,  /* a new line without unit_price_cents */
    CART_INVALID_SKU,     /* sku not [A-Za-z0-9._-]{1,CART_SKU_MAX} */
    CART_CONFLICT,        /* if_match differs from the cart's version */
    CART_NOMEM
};

enum cart_op {
    CART_OP_ADD,          /* add qty to the line (create it) */
    CART_OP_SET,          /* set the line's qty; 0 removes the line */
    CART_OP_REMOVE        /* remove the line; CART_NO_ITEM if absent */
};

/* An If-Match condition: the versions its strong entity-tags name (RFC 9110
 * 13.1.1: the cart matches when its version is any of them). Zeroed, set is
 * false: no condition (no If-Match, or "*"). set with n == 0: a list that
 * names no version (weak or foreign tags only), which never matches. */
struct cart_match {
    bool set;
    unsigned n;
    int64_t v[CART_MATCH_MAX];
};

/* One requested change, already decoded from the wire. */
struct cart_change {
    enum cart_op op;
    char sku[CART_SKU_MAX + 1];
    int64_t qty;              /* ADD: amount to add; SET: new quantity */
    int64_t price;            /* unit_price_cents, meaningful when has_price */
    bool has_price;
    struct cart_match if_match;   /* the versions it may apply to */
};

/* Initialize an empty cart (version 0) with the given id. */
void cart_init(struct cart *c, const char *id);

/* Release the lines of a cart; the struct may be reused after cart_init. */
void cart_free(struct cart *c);

/* True when version satisfies m (always when m is no condition). */
bool cart_match_ok(const struct cart_match *m, int64_t version);

/* The condition "exactly version v", or none for v < 0. */
struct cart_match cart_match_one(int64_t v);

/* Deep-copy src into dst (dst must be initialized or zeroed). */
enum cart_status cart_copy(struct cart *dst, const struct cart *src);

/* Apply one change atomically: on CART_OK the change is in and version is
 * bumped; on any other status the cart is exactly as it was. */
enum cart_status cart_apply(struct cart *c, const struct cart_change *chg, size_t max_items);

/* Append a line while decoding a stored cart; call cart_sort afterwards. */
enum cart_status cart_push(struct cart *c, const char *sku, int64_t qty, int64_t price);

/* Sort lines by sku (byte order). */
void cart_sort(struct cart *c);

/* Find a line by sku, or NULL. */
const struct cart_item *cart_find(const struct cart *c, const char *sku);

/* Sum of qty * unit_price_cents; never overflows (bounded by the limits). */
int64_t cart_total(const struct cart *c);

/* True when sku matches [A-Za-z0-9._-]{1,CART_SKU_MAX}. */
bool cart_sku_valid(const char *sku, size_t len);

/* A static snake_case name for a status ("cart_full", ...). */
const char *cart_status_name(enum cart_status st);

#endif
