/* store: the cart store interface, an ops table in the style of lwan.
 *
 * Two implementations exist: the memory store (stateful-svc) and the Redis
 * store (stateless-svc). A cart call is one asynchronous interface, submit:
 * the store completes the request inline (memory, nothing to wait for),
 * on a replica's acknowledgement (memory with replication) or from its
 * pipeline (Redis). Every call is atomic with respect to the cart it
 * touches, renews the cart's idle TTL, and on failure changes nothing.
 * Every implementation must be safe to call from many threads at once.
 * Failures return a status; detail goes into the caller's err buffer. */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#include "cart.h"
#include "idem.h"

enum store_status {
    STORE_OK = 0,
    STORE_NOT_FOUND,      /* no such cart, or it expired */
    STORE_EXISTS,         /* create: the id is taken */
    STORE_REJECTED,       /* the cart model refused the change: see *cst */
    STORE_CAPACITY,       /* MAX_CARTS reached (memory store) */
    STORE_UNAVAILABLE,    /* the backing store cannot be reached */
    STORE_MISDIRECTED,    /* another live instance owns the cart: see req.owner */
    STORE_DRAINING,       /* this instance is handing its carts away */
    STORE_KEY_REUSED,     /* the idempotency key was used for another request */
    STORE_ERROR           /* anything else: a bug or a bad reply */
};

#define STORE_STATS_EXTRA 16

/* A store-specific figure for /info and /metrics (a gauge cartpair_<name>). */
struct store_stat {
    const char *name;     /* [a-z_]+, static */
    const char *help;     /* static */
    long long value;
};

struct store_stats {
    uint64_t carts;       /* carts held (Redis: keys in the cart namespace) */
    uint64_t errors;      /* backend errors since start */
    uint64_t failovers;   /* changes of the backend's primary seen (Redis Sentinel) */
    size_t nextra;
    struct store_stat extra[STORE_STATS_EXTRA];
};

/* A change's idempotency key, and what the store found for it. A store that
 * is given one looks the key up in the cart's record first (a hit changes
 * nothing), and remembers key and answer atomically with the change. */
struct store_idem {
    char key[IDEM_KEY_MAX + 1];   /* "" for none */
    uint64_t fp;                  /* idem_fingerprint of the request */
    bool replayed;                /* out: the key was remembered: ans is its first answer */
    struct idem_answer ans;       /* out, on a replay; the caller frees it */
};

/* One store call as data, for stores that can run calls asynchronously. */
enum store_op { STORE_OP_CREATE, STORE_OP_GET, STORE_OP_CHANGE, STORE_OP_DEL };

struct store_req {
    enum store_op op;
    char id[CART_ID_MAX + 1];
    struct cart_change chg;       /* STORE_OP_CHANGE */
    int64_t if_match;             /* STORE_OP_DEL: -1 for none */
    struct store_idem idem;       /* CREATE, CHANGE, DEL: key "" for none */
    struct cart *out;             /* CREATE, GET, CHANGE: an initialized cart */
    enum store_status st;         /* the outcome, set before done() */
    enum cart_status cst;         /* on STORE_REJECTED */
    char owner[24];               /* STORE_MISDIRECTED: the owner's tag */
    char err[256];
    void (*done)(struct store_req *req);  /* called once: inline or from a store thread */
    void *ud;                     /* the caller's */
    struct store_req *next;       /* the store's queue link */
};

struct store_ops {
    const char *name;     /* "memory" or "redis" */
    /* Is the backend reachable? */
    enum store_status (*ping)(void *self, char *err, size_t errlen);
    /* Counters for /info and /metrics. */
    enum store_status (*stats)(void *self, struct store_stats *out,
                               char *err, size_t errlen);
    /* Optional: the backend in use ("host:port" of the Redis primary) into
     * out; NULL for a store with no backend. Never waits on I/O. */
    void (*where)(void *self, char *out, size_t outlen);
    /* Run req: create, get, change or delete one cart. req->done runs once,
     * either before submit returns or later on a store thread. */
    void (*submit)(void *self, struct store_req *req);
    /* Optional: the instance stops: refuse new carts and hand the ones it
     * holds to peers, until done or deadline_ms (CLOCK_MONOTONIC) passes. */
    void (*drain)(void *self, long long deadline_ms);
    /* Free everything (after completing every submitted request). */
    void (*destroy)(void *self);
};

struct store {
    const struct store_ops *ops;
    void *self;
};

/* The HTTP status a keyed create or change is remembered with; the API
 * answers a fresh create or change with the same. */
#define STORE_ANSWER_CREATED 201
#define STORE_ANSWER_CHANGED 200

/* True when ik carries a key. */
bool store_idem_keyed(const struct store_idem *ik);

/* A static snake_case name for a status. */
const char *store_status_name(enum store_status st);

#endif
