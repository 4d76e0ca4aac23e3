/* store_mem: the in-memory cart store of stateful-svc.
 *
 * Carts live in this process (mtable: sharded, compact cblobs). With PEERS
 * and REPLICATION=sync|async every owned cart has a backup copy on another
 * replica (repl); sync completes a change only after the backup's ack, the
 * request's connection suspended meanwhile. A request for a cart this
 * replica does not hold asks the peers, and takes the cart over when its
 * owner is gone (or is not the replica the balancer uses for it). Idle
 * expiry is sliding. MAX_CARTS and MAX_MEMORY bound what it holds: past
 * them new carts get STORE_CAPACITY, a live cart is never evicted.
 * Thread-safe. */
#ifndef STORE_MEM_H
#define STORE_MEM_H

#include <stddef.h>

#include "cfg.h"
#include "store.h"

struct store_mem_cfg {
    int ttl;              /* idle TTL, seconds */
    long max_carts;       /* carts held at most */
    long long max_memory; /* bytes of carts at most; 0 = no limit */
    size_t max_items;     /* distinct lines per cart */
    int sweep_ms;         /* sweeper period; 0 = no sweeper thread */
    const char *tag;      /* this instance's cart-id tag ("" = none) */
};

/* Open a memory store; 0 on success, -1 with err set. */
int store_mem_open(const struct store_mem_cfg *cfg, struct store *out, char *err, size_t errlen);

/* Start replicating with the peers of c (PEERS, REPLICATION, REPL_*); 0 on
 * success or when there are no peers, -1 with err set. */
int store_mem_replicate(struct store *s, const struct cfg *c, char *err, size_t errlen);

/* Drop every cart idle past its TTL now; returns how many were dropped. */
size_t store_mem_sweep(struct store *s);

#endif
