/* store: the cart store interface, an ops table in the style of lwan.
 *
 * Two implementations exist: the memory store (stateful-svc) and the Redis
 * store (stateless-svc). Every op is atomic with respect to the cart it
 * touches, renews the cart's idle TTL, and on failure changes nothing.
 * Every implementation must be safe to call from many threads at once.
 * Failures return a status; detail goes into the caller's err buffer. */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#include "cart.h"

enum store_status {
    STORE_OK = 0,
    STORE_NOT_FOUND,      /* no such cart, or it expired */
    STORE_EXISTS,         /* create: the id is taken */
    STORE_REJECTED,       /* the cart model refused the change: see *cst */
    STORE_CAPACITY,       /* MAX_CARTS reached (memory store) */
    STORE_UNAVAILABLE,    /* the backing store cannot be reached */
    STORE_ERROR           /* anything else: a bug or a bad reply */
};

struct store_stats {
    uint64_t carts;       /* carts held (Redis: keys in the cart namespace) */
    uint64_t errors;      /* backend errors since start */
    uint64_t failovers;   /* changes of the backend's primary seen (Redis Sentinel) */
};

/* One store call as data, for stores that can run calls asynchronously. */
enum store_op { STORE_OP_CREATE, STORE_OP_GET, STORE_OP_CHANGE, STORE_OP_DEL };

struct store_req {
    enum store_op op;
    char id[CART_ID_MAX + 1];
    struct cart_change chg;       /* STORE_OP_CHANGE */
    int64_t if_match;             /* STORE_OP_DEL: -1 for none */
    struct cart *out;             /* CREATE, GET, CHANGE: an initialized cart */
    enum store_status st;         /* the outcome, set before done() */
    enum cart_status cst;         /* on STORE_REJECTED */
    char err[256];
    void (*done)(struct store_req *req);  /* called once, from a store thread */
    void *ud;                     /* the caller's */
    struct store_req *next;       /* the store's queue link */
};

struct store_ops {
    const char *name;     /* "memory" or "redis" */
    /* Create an empty cart with this id; out receives it. */
    enum store_status (*create)(void *self, const char *id, struct cart *out,
                                char *err, size_t errlen);
    /* Read a cart (renews its TTL). */
    enum store_status (*get)(void *self, const char *id, struct cart *out,
                             char *err, size_t errlen);
    /* Apply an add, set or remove; on STORE_REJECTED *cst says why. */
    enum store_status (*change)(void *self, const char *id,
                                const struct cart_change *chg,
                                struct cart *out, enum cart_status *cst,
                                char *err, size_t errlen);
    /* Delete a cart; if_match -1 for none (CART_CONFLICT via *cst). */
    enum store_status (*del)(void *self, const char *id, int64_t if_match,
                             enum cart_status *cst, char *err, size_t errlen);
    /* Is the backend reachable? */
    enum store_status (*ping)(void *self, char *err, size_t errlen);
    /* Counters for /info and /metrics. */
    enum store_status (*stats)(void *self, struct store_stats *out,
                               char *err, size_t errlen);
    /* Optional: the backend in use ("host:port" of the Redis primary) into
     * out; NULL for a store with no backend. Never waits on I/O. */
    void (*where)(void *self, char *out, size_t outlen);
    /* Optional: queue req and return at once; req->done runs later on a store
     * thread. NULL for a store whose calls do not wait on I/O. */
    void (*submit)(void *self, struct store_req *req);
    /* Free everything (after completing every submitted request). */
    void (*destroy)(void *self);
};

struct store {
    const struct store_ops *ops;
    void *self;
};

/* Run req synchronously through the store's plain ops (not done()). */
void store_exec(const struct store *s, struct store_req *req);

/* A static snake_case name for a status. */
const char *store_status_name(enum store_status st);

#endif
