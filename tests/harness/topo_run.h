/* topo_run: runs of client sessions through the topology's HAProxy frontends.
 *
 * A run is TOPO_RUN_NSESS sessions, each with its own client (cookie jar),
 * driven round by round on a few threads: round 0 creates the session's cart,
 * later rounds make random changes to it while the expected cart is kept
 * alongside. A run records who answered each request (X-Instance), can
 * SIGKILL a replica mid-run through cartpair-local, and checks a session's
 * cart exactly. Not thread-safe: one thread calls these functions on a run;
 * topo_run_rounds uses its own worker threads and joins them before it
 * returns. */
#ifndef TOPO_RUN_H
#define TOPO_RUN_H

#include <stdatomic.h>
#include <stdbool.h>

#include "harness_http.h"
#include "topo.h"

#define TOPO_RUN_NSESS 200    /* sessions per run */
#define TOPO_RUN_NCHG 10      /* changes per session */
#define TOPO_RUN_NSKU 6       /* skus a session picks from */

struct topo_run_sess {
    struct harness_client *c;
    char id[80];
    int rep;                  /* replica (0-based) that answered the create */
    int qty[TOPO_RUN_NSKU];   /* the expected cart: quantity per sku, 0 = no line */
    long version;             /* the expected version */
    unsigned rnd;
    bool sticky;              /* every response came from rep */
    bool broken;              /* a change failed: the session stops changing */
    long fail_status;         /* status of that failure (0: transport error) */
    bool resent;              /* an idempotent change was sent twice */
    unsigned seen;            /* bit per replica that answered */
};

struct topo_run {
    struct topo *t;
    struct topo_run_sess s[TOPO_RUN_NSESS];
    int fe;                   /* 0 stateful frontend, 1 stateless */
    bool idempotent;          /* changes are PUTs with a price: safe to send again */
    int from, to, pause;      /* rounds [from, to); wait for go before round pause */
    atomic_int progress;      /* requests answered */
    atomic_bool go, marked_down;
    atomic_int fails_before_down, fails_after_down, per_rep[TOPO_NREP];
};

/* A run through frontend fe (0 stateful, 1 stateless) of t; free with topo_run_free. */
struct topo_run *topo_run_new(struct topo *t, int fe);

/* Free a run and its sessions' clients. */
void topo_run_free(struct topo_run *r);

/* Run rounds [from, to); with kill_name, SIGKILL it (cartpair-local kill) once a
 * round's worth of requests is done, while the threads go on after round pause. */
void topo_run_rounds(struct topo_run *r, int from, int to, int pause, const char *kill_name);

/* The price of sku SKU-k in a run's changes. */
int topo_run_price(int k);

/* True when j is exactly cart id with qty[k] of SKU-k (k < nsku, 0: no line) at
 * topo_run_price(k), at version (at_least: that version or a later one). */
bool topo_run_cart_is(json_t *j, const char *id, const int *qty, int nsku, long version,
                      bool at_least);

/* GET /cart through the proxy: true when exactly the session's expected cart;
 * status, error code and owner tag (32 bytes each) out. */
bool topo_run_exact(struct topo_run *r, struct topo_run_sess *s, long *status, char *code,
                    char *owner);

#endif
