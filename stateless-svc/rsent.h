/* rsent: where the Redis primary is, as Redis Sentinel says.
 *
 * hiredis 0.14 has no Sentinel support, so this is the documented client
 * protocol: ask the sentinels in turn with SENTINEL get-master-addr-by-name,
 * keep the answer, and follow failovers through a subscription to
 * +switch-master on one sentinel (moving to the next when it goes away). A
 * connection that fails, or a primary that answers READONLY or LOADING or no
 * longer says "master" to ROLE (rconn confirms it), calls rsent_invalidate:
 * the watcher thread asks the sentinels again. Only the watcher thread talks
 * to the sentinels, so no caller ever waits on one. The password (AUTH, also
 * sent to the sentinels) is never logged. Thread-safe. */
#ifndef RSENT_H
#define RSENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "cfg.h"

struct rsent_cfg {
    struct cfg_peer sentinels[CFG_MAX_PEERS];
    int n;
    char master[64];              /* REDIS_MASTER_NAME */
    char password[128];           /* "" for none */
    struct timeval tv;            /* connect and command timeout */
};

/* What a caller needs to reach the primary. */
struct rsent_addr {
    char host[128];
    int port;
    uint64_t gen;                 /* bumped whenever the address changes or is invalidated */
};

enum rsent_status {
    RSENT_OK = 0,
    RSENT_UNKNOWN,                /* no sentinel answered, or none knows the master */
    RSENT_AUTH                    /* a sentinel refused the password */
};

struct rsent;

/* Ask the sentinels once, synchronously (start-up), then start the watcher
 * thread. RSENT_AUTH fails (NULL, err set); RSENT_UNKNOWN starts anyway. */
struct rsent *rsent_start(const struct rsent_cfg *cfg, char *err, size_t errlen);

/* The primary's address as last resolved; false when none is known. */
bool rsent_primary(struct rsent *s, struct rsent_addr *out);

/* A user of address generation gen found it wrong: resolve again (at most
 * every RSENT_RETRY_MS). A newer generation is left alone. */
void rsent_invalidate(struct rsent *s, uint64_t gen);

/* Changes of the primary's address seen since start. */
uint64_t rsent_failovers(struct rsent *s);

/* Stop the watcher and free everything. */
void rsent_stop(struct rsent *s);

#define RSENT_RETRY_MS 100

#endif
