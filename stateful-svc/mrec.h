/* mrec: the Idempotency-Key records of the memory store's carts.
 *
 * A cart's record (idem.h) sits beside its blob in its table entry, and a
 * keyed change is remembered together with the change, under the cart's
 * shard lock. The answer an entry stores is the cart's blob after the
 * change (a cblob, several times smaller than its JSON); a replay renders it
 * as the API does, which gives the same bytes (a cart's JSON depends only
 * on the cart and the TTL).
 *
 * Copies to a peer carry the record in the cblob's extra section
 * (mrec_wire): the whole record when the backup is new, after a takeover
 * and in a handoff (MS_FULL); only the entry a keyed change added, as an
 * idem delta (MS_LAST); nothing, which leaves the backup's record as it
 * is (MS_CART). A backup applies the last two only to a copy of the same
 * owner and epoch, and otherwise asks for the full copy (RPA_FULL).
 * Thread-safe under the documented locking: the entry's shard is locked. */
#ifndef MREC_H
#define MREC_H

#include <stddef.h>

#include "mstore.h"

/* Look q's key up in e's record: STORE_OK with q->idem.replayed and the
 * stored answer rendered into q->idem.ans, STORE_KEY_REUSED, or
 * STORE_NOT_FOUND (not remembered: go on). */
enum store_status mrec_check(const struct mt_entry *e, struct store_req *q, int ttl);

/* Remember q's key in e's record with status and the cart blob (of that
 * version) as the answer. STORE_OK, or STORE_ERROR (q->err set) with the
 * record unchanged. */
enum store_status mrec_remember(struct mtable *t, struct mt_entry *e, struct store_req *q,
                                unsigned status, int64_t version, const unsigned char *blob,
                                size_t len);

/* The blob a copy of e sends (how: MS_CART, MS_LAST or MS_FULL), malloc'd;
 * NULL when out of memory. */
unsigned char *mrec_wire(const struct mt_entry *e, enum mstore_copy how, size_t *len);

/* Split a peer's blob into the cart to keep (malloc'd, with an empty extra)
 * and its extra (pointing into b); NULL when malformed or out of memory. */
unsigned char *mrec_cart_of(const unsigned char *b, size_t len, size_t *cartlen,
                            const unsigned char **ext, size_t *extlen);

/* Apply a peer's extra to e's record (idem_merge; nothing when extlen is
 * 0), keeping the byte count right. False when it is malformed (e unchanged). */
bool mrec_merge(struct mtable *t, struct mt_entry *e, const unsigned char *ext, size_t extlen);

#endif
