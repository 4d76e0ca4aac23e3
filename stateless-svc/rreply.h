/* rreply: strict decoding of the replies of the cart store's Lua scripts
 * (rscript.h): a cart, a refusal, a replayed answer, or an error reply. A
 * reply is untrusted input (a wrong server, a changed script): any shape or
 * value the scripts would not send is STORE_ERROR, never a crash. No state:
 * thread-safe. */
#ifndef RREPLY_H
#define RREPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

struct redisReply;

/* Decode one cart script reply: {"ok", <fields>} (a flat HGETALL array, or its
 * strings joined by newlines) fills out (version from "v", lines sorted,
 * expires_in = ttl; out NULL or initialized/zeroed), {"ok", {}}
 * is a del's success (out NULL), {"rej", reason} gives NOT_FOUND, EXISTS or
 * REJECTED with *cst. Any other shape or value is STORE_ERROR; never crashes.
 * Public for tests and fuzzing. */
enum store_status rreply_decode(const struct redisReply *r, const char *id, int ttl,
                                 struct cart *out, enum cart_status *cst,
                                 char *err, size_t errlen);

/* rreply_decode, and a {"replay", <fields>} reply too: then ik gets
 * the stored answer (201 for a create, else 200; the cart's JSON and version)
 * and ik->replayed; out is untouched. "idempotency_key_reused" is
 * STORE_KEY_REUSED. */
enum store_status rreply_decode_keyed(const struct redisReply *r, const char *id, int ttl,
                                       bool create, struct cart *out, enum cart_status *cst,
                                       struct store_idem *ik, char *err, size_t errlen);

/* Map an error reply to a status, with "redis: <message>" in err (may be NULL):
 * transient server states (LOADING, BUSY, NOAUTH, ...) are STORE_UNAVAILABLE,
 * anything else STORE_ERROR. */
enum store_status rreply_error(const struct redisReply *r, char *err, size_t errlen);

#endif
