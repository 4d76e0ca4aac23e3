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
#include "idem.h"

enum store_status {
    STORE_OK = 0,
    STORE_NOT_FOUND,      /* no such cart, or it expired */
    STORE_EXISTS,         /* create: the id is taken */
    STORE_REJECTED,       /* the cart model refused the change: see *cst */
    STORE_CAPACITY,       /* MAX_CARTS reached (memory store) */
    STORE_UNAVAILABLE,    /* the backing store cannot be reached */
    STORE_KEY_REUSED,     /* the idempotency key was used for another request */
    STORE_ERROR           /* anything else: a bug or a bad reply */
};

struct store_stats {
    uint64_t carts;       /* carts held (Redis: keys in the cart namespace) */
    uint64_t errors;      /* backend errors since start */
    uint64_t failovers;   /* changes of the backend's primary seen (Redis Sentinel) */
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
    char err[256];
    void (*done)(struct store_req *req);  /* called once, from a store thread */
    void *ud;                     /* the caller's */
    struct store_req *next;       /* the store's queue link */
};

struct store_ops {
    const char *name;     /* "memory" or "redis" */
    /* Create an empty cart with this id; out receives it. With a key (ik not
     * NULL, key not ""), a cart that exists and remembers the key is a replay
     * (STORE_OK, ik->replayed) or STORE_KEY_REUSED. */
    enum store_status (*create)(void *self, const char *id, struct store_idem *ik,
                                struct cart *out, char *err, size_t errlen);
    /* Read a cart (renews its TTL). */
    enum store_status (*get)(void *self, const char *id, struct cart *out,
                             char *err, size_t errlen);
    /* Apply an add, set or remove; on STORE_REJECTED *cst says why. With a key
     * (ik may be NULL): a remembered key is a replay (STORE_OK, ik->replayed,
     * nothing changed, out untouched) or STORE_KEY_REUSED; an applied change is
     * remembered with its answer (200 and the cart's JSON). Refusals are not. */
    enum store_status (*change)(void *self, const char *id,
                                const struct cart_change *chg, struct store_idem *ik,
                                struct cart *out, enum cart_status *cst,
                                char *err, size_t errlen);
    /* Delete a cart; if_match -1 for none (CART_CONFLICT via *cst). The
     * cart's key record goes with it; ik (may be NULL) is looked up first. */
    enum store_status (*del)(void *self, const char *id, int64_t if_match,
                             struct store_idem *ik, enum cart_status *cst,
                             char *err, size_t errlen);
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

/* The HTTP status a keyed create or change is remembered with; the API
 * answers a fresh create or change with the same. */
#define STORE_ANSWER_CREATED 201
#define STORE_ANSWER_CHANGED 200

/* True when ik carries a key. */
bool store_idem_keyed(const struct store_idem *ik);

/* For a store that holds rec under its cart's lock: look ik's key up.
 * STORE_OK with ik->replayed and ik->ans set (a replay), STORE_KEY_REUSED,
 * or STORE_NOT_FOUND: not remembered, go on with the change. */
enum store_status store_idem_check(const struct idem_rec *rec, struct store_idem *ik,
                                   char *err, size_t errlen);

/* Remember ik in rec with status and the JSON of c (as the API sends it).
 * STORE_OK, or STORE_ERROR with rec unchanged. */
enum store_status store_idem_remember(struct idem_rec *rec, const struct store_idem *ik,
                                      unsigned status, const struct cart *c,
                                      char *err, size_t errlen);

/* A static snake_case name for a status. */
const char *store_status_name(enum store_status st);

#endif
