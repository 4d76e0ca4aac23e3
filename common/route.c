/* route: request routing and path parsing. See route.h. */
#include "route.h"

#include <string.h>

#include "id.h"

#define ROUTE_MAX_SEGS 4

const char *const route_names[ROUTE_COUNT] = {
    "/carts", "/carts/{id}", "/carts/{id}/items", "/carts/{id}/items/{sku}",
    "/healthz", "/readyz", "/metrics", "/info", "none",
};

struct route_seg {
    const char *p;
    size_t n;
};

/* Split "/a/b/c" into segments; -1 on an empty segment or too many of them. */
static int route_split(const char *path, struct route_seg *segs)
{
    if (path[0] != '/')
        return -1;
    int n = 0;
    const char *p = path + 1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || n == ROUTE_MAX_SEGS)
            return -1;
        segs[n].p = p;
        segs[n].n = len;
        n++;
        if (!slash)
            break;
        p = slash + 1;
        if (!*p)
            return -1; /* trailing slash */
    }
    return n;
}

/* True when segment s is exactly the word w. */
static bool route_is(const struct route_seg *s, const char *w)
{
    return s->n == strlen(w) && memcmp(s->p, w, s->n) == 0;
}

/* Pick the action for a route and method, and the Allow list. */
static enum route_action route_action_for(enum route_kind k, const char *m, const char **allow)
{
    bool get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    switch (k) {
    case ROUTE_CARTS:
        *allow = "POST";
        return !strcmp(m, "POST") ? ACT_CREATE : ACT_NONE;
    case ROUTE_CART:
        *allow = "GET, HEAD, DELETE";
        return get ? ACT_GET : !strcmp(m, "DELETE") ? ACT_DELETE : ACT_NONE;
    case ROUTE_ITEMS:
        *allow = "POST";
        return !strcmp(m, "POST") ? ACT_ADD : ACT_NONE;
    case ROUTE_ITEM:
        *allow = "PUT, DELETE";
        return !strcmp(m, "PUT") ? ACT_SET : !strcmp(m, "DELETE") ? ACT_REMOVE : ACT_NONE;
    default:
        *allow = "GET, HEAD";
        if (!get)
            return ACT_NONE;
        return k == ROUTE_HEALTHZ ? ACT_HEALTHZ : k == ROUTE_READYZ ? ACT_READYZ
             : k == ROUTE_METRICS ? ACT_METRICS : ACT_INFO;
    }
}

/* Match the path's shape to a route kind; 'base' is how many segments name the cart. */
static enum route_kind route_kind_of(const struct route_seg *s, int n, int *base, bool *cookie)
{
    *cookie = n >= 1 && route_is(&s[0], "cart");
    *base = *cookie ? 1 : 2;
    if (n == 1) {
        if (route_is(&s[0], "carts"))
            return ROUTE_CARTS;
        if (*cookie)
            return ROUTE_CART;
        return route_is(&s[0], "healthz") ? ROUTE_HEALTHZ : route_is(&s[0], "readyz")
             ? ROUTE_READYZ : route_is(&s[0], "metrics") ? ROUTE_METRICS
             : route_is(&s[0], "info") ? ROUTE_INFO : ROUTE_NONE;
    }
    if (!*cookie && !(n >= 2 && route_is(&s[0], "carts")))
        return ROUTE_NONE;
    if (n == *base)
        return ROUTE_CART;
    if (!route_is(&s[*base], "items"))
        return ROUTE_NONE;
    return n == *base + 1 ? ROUTE_ITEMS : n == *base + 2 ? ROUTE_ITEM : ROUTE_NONE;
}

enum route_status route_match(const char *method, const char *path, struct route_match *m)
{
    struct route_seg s[ROUTE_MAX_SEGS];
    memset(m, 0, sizeof *m);
    m->kind = ROUTE_NONE;
    int n = route_split(path, s), base = 0;
    if (n <= 0)
        return ROUTE_NO_ROUTE;
    m->kind = route_kind_of(s, n, &base, &m->by_cookie);
    if (m->kind == ROUTE_NONE)
        return ROUTE_NO_ROUTE;
    m->action = route_action_for(m->kind, method, &m->allow);
    if (m->action == ACT_NONE)
        return ROUTE_BAD_METHOD;
    if (m->kind >= ROUTE_CART && m->kind <= ROUTE_ITEM && !m->by_cookie) {
        if (s[1].n > CART_ID_MAX)
            return ROUTE_BAD_ID;
        memcpy(m->id, s[1].p, s[1].n);
        m->id[s[1].n] = '\0';
        if (!id_valid(m->id))
            return ROUTE_BAD_ID;
    }
    if (m->kind == ROUTE_ITEM) {
        const struct route_seg *k = &s[base + 1];
        if (!cart_sku_valid(k->p, k->n))
            return ROUTE_BAD_SKU;
        memcpy(m->sku, k->p, k->n);
        m->sku[k->n] = '\0';
    }
    return ROUTE_OK;
}
