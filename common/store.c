/* store: names of the store statuses (the ops live in each service). */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>


/* A static snake_case name for a status. */
const char *store_status_name(enum store_status st)
{
    switch (st) {
    case STORE_OK: return "ok";
    case STORE_NOT_FOUND: return "cart_not_found";
    case STORE_EXISTS: return "cart_exists";
    case STORE_REJECTED: return "rejected";
    case STORE_CAPACITY: return "capacity";
    case STORE_UNAVAILABLE: return "store_unavailable";
    case STORE_MISDIRECTED: return "misdirected";
    case STORE_DRAINING: return "draining";
    case STORE_KEY_REUSED: return "idempotency_key_reused";
    case STORE_NO_QUORUM: return "quorum_unavailable";
    case STORE_ERROR: return "store_error";
    }
    return "unknown";
}

/* True when ik carries a key. */
bool store_idem_keyed(const struct store_idem *ik)
{
    return ik && ik->key[0];
}

