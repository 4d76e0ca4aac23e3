/* peer: which stateful-svc replicas are alive, and the cart-id tag of each.
 *
 * With PEERS set, a background thread asks every peer's GET /info once a
 * period (libcurl) and remembers its tag and whether it answered. A replica
 * asked for a cart whose tag belongs to no live peer can then say 404
 * cart_not_found (its owner is gone) instead of 421 misdirected (ask the
 * owner). Thread-safe: peer_owner may be called from any thread. */
#ifndef PEER_H
#define PEER_H

#include <stddef.h>

#include "cfg.h"

enum peer_owner {
    PEER_UNKNOWN = 0,     /* no PEERS, or not every peer asked yet: assume alive */
    PEER_ALIVE,           /* a peer holding this tag answered lately */
    PEER_GONE             /* no live peer holds this tag */
};

#define PEER_FAILS_DEAD 2 /* consecutive failed probes that make a peer dead */

struct peer_set;

/* Start probing every period_ms; NULL with err set on failure. */
struct peer_set *peer_start(const struct cfg_peer *peers, size_t n, int period_ms,
                            char *err, size_t errlen);

/* Whether the instance owning cart-id tag is alive; PEER_UNKNOWN when ps is NULL. */
enum peer_owner peer_owner(struct peer_set *ps, const char *tag);

/* Stop the prober and free everything (NULL is fine). */
void peer_stop(struct peer_set *ps);

#endif
