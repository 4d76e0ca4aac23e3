/* store: names of the store statuses (the ops live in each service). */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>

#include "wire.h"

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
    case STORE_ERROR: return "store_error";
    }
    return "unknown";
}

/* True when ik carries a key. */
bool store_idem_keyed(const struct store_idem *ik)
{
    return ik && ik->key[0];
}

/* Look ik up in rec: a replay, a reused key, or STORE_NOT_FOUND (go on). */
enum store_status store_idem_check(const struct idem_rec *rec, struct store_idem *ik,
                                   char *err, size_t errlen)
{
    const struct idem_entry *e = NULL;
    if (!store_idem_keyed(ik))
        return STORE_NOT_FOUND;
    ik->replayed = false;
    switch (idem_lookup(rec, ik->key, ik->fp, &e)) {
    case IDEM_REPLAY:
        if (idem_answer_of(e, &ik->ans) != IDEM_OK) {
            snprintf(err, errlen, "out of memory copying a stored answer");
            return STORE_ERROR;
        }
        ik->replayed = true;
        return STORE_OK;
    case IDEM_REUSED:
        snprintf(err, errlen, "idempotency key %s was used for another request", ik->key);
        return STORE_KEY_REUSED;
    default:
        return STORE_NOT_FOUND;
    }
}

/* Remember ik with status and c's JSON. */
enum store_status store_idem_remember(struct idem_rec *rec, const struct store_idem *ik,
                                      unsigned status, const struct cart *c,
                                      char *err, size_t errlen)
{
    size_t len = 0;
    char *body = wire_cart_json(c, &len);
    enum idem_status st = body ? idem_append(rec, ik->key, ik->fp, status, c->version, body, len)
                               : IDEM_NOMEM;
    free(body);
    if (st == IDEM_OK)
        return STORE_OK;
    snprintf(err, errlen, "out of memory remembering idempotency key %s", ik->key);
    return STORE_ERROR;
}
