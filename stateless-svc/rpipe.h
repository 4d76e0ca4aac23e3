/* rpipe: the Redis store's pipeline. One thread and one connection carry the
 * store calls of every HTTP thread: it takes whatever has queued up, sends it
 * as one pipelined batch of EVALSHA commands, reads the replies in order and
 * completes each request (store_req.done) on its own thread. HTTP threads
 * never wait on Redis, and Redis reads many commands per system call.
 *
 * Each call is still one script, so atomicity and If-Match hold as in the
 * synchronous path. A transport failure or timeout fails the rest of the
 * batch with STORE_UNAVAILABLE (reads are retried once on a fresh connection)
 * and the next batch reconnects. With wait_replicas N > 0 a WAIT N follows
 * each batch, and no answer of the batch is given before it returns: when
 * fewer than N replicas acknowledged, every call of the batch gets
 * STORE_UNAVAILABLE (a change may then have been applied, unacknowledged).
 * On a new connection, and after a WAIT fell short, a WAIT alone first checks
 * that N replicas are there; until they are, batches fail unsent.
 * Thread-safe: rpipe_submit from any thread. */
#ifndef RPIPE_H
#define RPIPE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "cfg.h"
#include "rsent.h"
#include "store.h"

#define RPIPE_BATCH 256           /* commands in flight at most */

struct rpipe_cfg {
    struct cfg_redis url;
    struct timeval tv;            /* connect and command timeout */
    int ttl;
    size_t max_items;
    uint64_t *errors;             /* counter to bump on backend failures (atomic) */
    struct rsent *sent;           /* NULL: the URL's host; else the primary Sentinel names */
    int wait_replicas;            /* 0: no WAIT */
    int wait_ms;                  /* WAIT's timeout, below the command timeout */
};

struct rpipe;

/* Start the pipeline thread (it connects on first use); NULL with err set. */
struct rpipe *rpipe_start(const struct rpipe_cfg *cfg, char *err, size_t errlen);

/* Queue a request; its done() runs later on the pipeline thread. */
void rpipe_submit(struct rpipe *p, struct store_req *req);

/* Complete everything queued, stop the thread and free the pipeline. */
void rpipe_stop(struct rpipe *p);

#endif
