/* route: request routing and path parsing for the cart API.
 *
 * Maps a method and a percent-decoded path to a route, an action and the
 * path's cart id and sku. Pure functions, thread-safe. */
#ifndef ROUTE_H
#define ROUTE_H

#include <stdbool.h>

#include "cart.h"

/* Routes: also the metrics labels (route_names). */
enum route_kind {
    ROUTE_CARTS = 0,      /* /carts */
    ROUTE_CART,           /* /carts/{id}, /cart */
    ROUTE_ITEMS,          /* /carts/{id}/items, /cart/items */
    ROUTE_ITEM,           /* /carts/{id}/items/{sku}, /cart/items/{sku} */
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_INFO,
    ROUTE_NONE,           /* no route matched */
    ROUTE_COUNT
};

enum route_action {
    ACT_NONE = 0,         /* the route does not take this method */
    ACT_CREATE, ACT_GET, ACT_DELETE, ACT_ADD, ACT_SET, ACT_REMOVE,
    ACT_HEALTHZ, ACT_READYZ, ACT_METRICS, ACT_INFO
};

enum route_status {
    ROUTE_OK = 0,
    ROUTE_NO_ROUTE,       /* 404 no_route */
    ROUTE_BAD_METHOD,     /* 405, see allow */
    ROUTE_BAD_ID,         /* the id segment cannot be a cart id: 404 cart_not_found */
    ROUTE_BAD_SKU         /* the sku segment is not a valid sku: 400 invalid_sku */
};

struct route_match {
    enum route_kind kind;
    enum route_action action;
    bool by_cookie;               /* /cart...: the id comes from the cart cookie */
    const char *allow;            /* methods the route takes, for Allow */
    char id[CART_ID_MAX + 1];     /* "" for /carts and /cart... */
    char sku[CART_SKU_MAX + 1];   /* "" unless ROUTE_ITEM */
};

/* Metrics label of each route, indexed by enum route_kind. */
extern const char *const route_names[ROUTE_COUNT];

/* Match method and path; fills m as far as it got (kind is ROUTE_NONE when nothing matched). */
enum route_status route_match(const char *method, const char *path, struct route_match *m);

#endif
