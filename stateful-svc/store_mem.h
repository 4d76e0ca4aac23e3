/* store_mem: the in-memory cart store of stateful-svc.
 *
 * Carts live in this process only. The table is split into shards, each
 * with its own mutex, so pool threads rarely meet on a lock. Idle expiry is
 * sliding: checked lazily on every access and by a sweeper thread once a
 * second. MAX_CARTS bounds the count: a full store refuses new carts
 * (STORE_CAPACITY) and never evicts a live one. Thread-safe. */
#ifndef STORE_MEM_H
#define STORE_MEM_H

#include <stddef.h>

#include "store.h"

struct store_mem_cfg {
    int ttl;              /* idle TTL, seconds */
    long max_carts;       /* carts held at most */
    size_t max_items;     /* distinct lines per cart */
    int sweep_ms;         /* sweeper period; 0 = no sweeper thread */
};

/* Open a memory store; 0 on success, -1 with err set. */
int store_mem_open(const struct store_mem_cfg *cfg, struct store *out, char *err, size_t errlen);

/* Drop every cart idle past its TTL now; returns how many were dropped. */
size_t store_mem_sweep(struct store *s);

#endif
