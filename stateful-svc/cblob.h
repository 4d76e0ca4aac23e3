/* cblob: the compact cart encoding of stateful-svc.
 *
 * One length-prefixed byte string per cart, in the spirit of Redis's
 * listpack, serves three uses: the memory store keeps carts in it, the
 * replication stream carries it to the backup, and the SIGTERM handoff
 * moves it to a new owner. Layout (varint = unsigned LEB128):
 *
 *   u8 idlen, id[idlen]
 *   varint version
 *   varint nlines, then per line (sorted by sku, strictly ascending):
 *     u8 skulen, sku[skulen], varint qty, varint unit_price_cents
 *   varint extlen, ext[extlen]   (opaque per-cart extra)
 *
 * The store keeps carts with an empty extra; on the replication stream, in
 * a takeover and in a handoff the extra carries the cart's Idempotency-Key
 * record (or, on a change, just its new entry): see mrec.h.
 *
 * Decoding checks everything (id and sku syntax, ranges, order, no trailing
 * bytes): a blob from the network is untrusted. Pure functions, thread-safe. */
#ifndef CBLOB_H
#define CBLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cart.h"

#define CBLOB_MAX_LINES 10000     /* the most lines a blob may hold */
#define CBLOB_EXT_MAX (512 * 1024) /* the largest extra section (IDEM_REC_MAX) */

enum cblob_status { CBLOB_OK = 0, CBLOB_BAD, CBLOB_NOMEM };

/* Bytes the encoding of c with an extra of extlen bytes takes. */
size_t cblob_size(const struct cart *c, size_t extlen);

/* Encode c (and ext) into a new malloc'd blob; NULL when out of memory. */
unsigned char *cblob_encode(const struct cart *c, const void *ext, size_t extlen, size_t *len);

/* Decode a blob into out (initialized or zeroed; its lines are replaced);
 * ext/extlen (both optional) point into b at the extra section. */
enum cblob_status cblob_decode(const unsigned char *b, size_t len, struct cart *out,
                               const unsigned char **ext, size_t *extlen);

/* Find the extra section of a blob without decoding its lines: *head is
 * the size of what comes before the extra's length; false when malformed. */
bool cblob_split(const unsigned char *b, size_t len, size_t *head, const unsigned char **ext,
                 size_t *extlen);

/* A new blob of the first head bytes of b (a cblob_split head) and the extra
 * ext (extlen may be 0); NULL when out of memory. */
unsigned char *cblob_join(const unsigned char *b, size_t head, const void *ext, size_t extlen,
                          size_t *len);

/* Copy the cart id of a blob into id (CART_ID_MAX + 1 bytes); false when malformed. */
bool cblob_id(const unsigned char *b, size_t len, char *id);

/* Append v as a varint at p (room for 10 bytes); returns the bytes written. */
size_t cblob_put_varint(unsigned char *p, uint64_t v);

/* Read a varint from *p (before end); false when truncated, over 64 bits or
 * not in its shortest form. */
bool cblob_get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v);

#endif
