/* store_redis: the Redis cart store of stateless-svc, on hiredis.
 *
 * Every cart call (ops.submit) goes to one pipeline thread and its
 * connection (rpipe.h), so no caller waits on Redis. ping and stats use one
 * redisContext per calling thread (created on first use, freed when the
 * thread ends). Both have connect and command timeouts and reconnect after
 * any error (rconn.h).
 * Each call is one Lua script (EVALSHA, reloaded on NOSCRIPT) that checks
 * If-Match, applies the change with the cart model's limits, bumps the
 * version and renews the TTL in one round trip. Keys: "cart:{<id>}", a hash
 * with field "v" (version) and one field "s:<sku>" = "<qty> <price>" per line.
 * The scripts, their arguments and the strict reply decoding are in rscript.h.
 * The database (REDIS_URL's /db) must be dedicated to carts: stats counts its
 * keys (DBSIZE). With Sentinel every connection goes to the primary rsent.h
 * names and confirms it with ROLE. Thread-safe; destroy only once no thread uses the store. */
#ifndef STORE_REDIS_H
#define STORE_REDIS_H

#include <stddef.h>

#include "store.h"

struct store_redis_cfg {
    const char *url;      /* redis://[:password@]host:port[/db] */
    const char *sentinels; /* "host:port,...": find the primary through Sentinel; NULL or "": no */
    const char *master;   /* the primary's name in the sentinels' configuration */
    const char *password; /* wins over the URL's (REDIS_PASSWORD_FILE); NULL or "": none */
    int wait_replicas;    /* acknowledge only once this many replicas have a change */
    int timeout_ms;       /* connect and command timeout */
    int ttl;              /* idle TTL, seconds */
    size_t max_items;     /* distinct lines per cart */
};

/* Open a Redis store (does not need Redis or the sentinels to be up yet; but
 * a refused password fails here, with a clear err); 0 or -1 with err set. */
int store_redis_open(const struct store_redis_cfg *cfg, struct store *out, char *err, size_t errlen);

#endif
