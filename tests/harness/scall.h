/* scall: run one cart call through a store's asynchronous interface and
 * wait for it, with the shape of a plain function call (for the store
 * tests). Thread-safe: each call waits on its own request. */
#ifndef SCALL_H
#define SCALL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Submit req and wait until its done() ran; returns req->st. */
enum store_status scall_run(const struct store *s, struct store_req *req);

/* Create an empty cart with this id; out receives it. ik (may be NULL): the
 * request's idempotency key, and on return what the store found for it. */
enum store_status scall_create(const struct store *s, const char *id, struct store_idem *ik,
                               struct cart *out, char *err, size_t errlen);

/* Read a cart (renews its TTL). */
enum store_status scall_get(const struct store *s, const char *id, struct cart *out,
                            char *err, size_t errlen);

/* Apply a change; on STORE_REJECTED *cst says why. */
enum store_status scall_change(const struct store *s, const char *id,
                               const struct cart_change *chg, struct store_idem *ik,
                               struct cart *out, enum cart_status *cst, char *err,
                               size_t errlen);

/* Delete a cart; if_match -1 for none. */
enum store_status scall_del(const struct store *s, const char *id, int64_t if_match,
                            struct store_idem *ik, enum cart_status *cst, char *err,
                            size_t errlen);

#endif
