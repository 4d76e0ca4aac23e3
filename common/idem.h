/* idem: the per-cart record of idempotency keys.
 *
 * A change that carries an Idempotency-Key is remembered with the cart it
 * changed: the key, a fingerprint of the request (method, normalized path,
 * body), and the answer it got (status, body, ETag version). A repeat of the
 * key with the same fingerprint gets the stored answer again; the same key
 * with another fingerprint is refused. A record keeps the last IDEM_KEEP
 * entries (oldest evicted first) and encodes to a compact byte blob, so that
 * a store can copy it along with its cart (replication, handoff).
 *
 * Not thread-safe: a record belongs to its cart, and the store that holds
 * the cart serializes access (the same lock as the cart). The free functions
 * (idem_key_valid, idem_fingerprint, idem_cart_id) keep no state. */
#ifndef IDEM_H
#define IDEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDEM_KEY_MAX 64           /* longest key, in characters */
#define IDEM_KEEP 64              /* entries kept per cart, at least */
#define IDEM_HEADER "Idempotency-Key"
#define IDEM_REPLAYED_HEADER "Idempotent-Replayed"

enum idem_status {
    IDEM_OK = 0,
    IDEM_MISS,            /* lookup: the key is not in the record */
    IDEM_REPLAY,          /* lookup: the key is there with the same fingerprint */
    IDEM_REUSED,          /* lookup: the key is there with another fingerprint */
    IDEM_NOMEM,
    IDEM_BAD              /* decode: not a blob idem_encode wrote */
};

/* A view of one remembered change and its answer, read from a record: valid
 * while that record is unchanged. */
struct idem_entry {
    char key[IDEM_KEY_MAX + 1];
    uint64_t fp;                  /* idem_fingerprint of the request */
    unsigned status;              /* HTTP status of the first answer */
    int64_t version;              /* its ETag version, -1 for none */
    const unsigned char *body;    /* its body, inside the record (not NUL-terminated) */
    size_t body_len;
};

/* The record of one cart, kept in its encoded form (one malloc'd buffer, see
 * idem.c), so that a store copies it, ships it and appends to it without
 * decoding it. Zeroed or idem_init'ed is an empty record. */
struct idem_rec {
    unsigned char *p;             /* NULL when empty */
    uint32_t len;                 /* bytes in use */
    uint32_t cap;                 /* bytes allocated (an append grows it by a quarter) */
    uint32_t last;                /* offset of the newest entry */
};

/* The stored answer handed back on a replay (body malloc'd, owned by the caller). */
struct idem_answer {
    unsigned status;
    int64_t version;              /* -1: no ETag */
    char *body;
    size_t body_len;
};

/* The largest record: the oldest entries are evicted to stay under it (so
 * that a record fits a replication frame whatever the carts hold). */
#define IDEM_REC_MAX (512 * 1024)

/* True when key is 1..IDEM_KEY_MAX characters of [A-Za-z0-9._-]. */
bool idem_key_valid(const char *key);

/* Fingerprint of a request: a hash (SHA-256, first 64 bits) of method,
 * normalized path and body. */
uint64_t idem_fingerprint(const char *method, const char *path, const void *body, size_t len);

/* The cart id a keyed POST /carts creates: "<tag>-" (when tag is not empty)
 * and 128 bits of SHA-256 of the key in base64url. 0, or -1 when out is short. */
int idem_cart_id(const char *tag, const char *key, char *out, size_t outlen);

/* Make r an empty record. */
void idem_init(struct idem_rec *r);

/* Free every entry; r is empty (and reusable) afterwards. */
void idem_free(struct idem_rec *r);

/* Number of entries held. */
unsigned idem_count(const struct idem_rec *r);

/* Find key: IDEM_MISS, or IDEM_REPLAY / IDEM_REUSED with *hit filled (may be NULL). */
enum idem_status idem_lookup(const struct idem_rec *r, const char *key, uint64_t fp,
                             struct idem_entry *hit);

/* Remember a change and its answer (body copied; may be NULL), evicting the
 * oldest entries past IDEM_KEEP or IDEM_REC_MAX bytes. IDEM_OK; IDEM_NOMEM,
 * or IDEM_BAD for an entry that alone is over IDEM_REC_MAX, with r
 * unchanged. The caller has looked the key up first: an append never
 * replaces an entry. */
enum idem_status idem_append(struct idem_rec *r, const char *key, uint64_t fp, unsigned status,
                             int64_t version, const void *body, size_t body_len);

/* Copy an entry's answer into a (body copied). IDEM_OK or IDEM_NOMEM. */
enum idem_status idem_answer_of(const struct idem_entry *e, struct idem_answer *a);

/* Free an answer's body; a is zeroed. */
void idem_answer_free(struct idem_answer *a);

/* Deep copy src into dst (dst is freed first). IDEM_OK, or IDEM_NOMEM with dst empty. */
enum idem_status idem_copy(struct idem_rec *dst, const struct idem_rec *src);

/* Encode r, oldest entry first, as a byte blob (malloc'd, *len set); NULL on
 * no memory. An empty record encodes too (a few bytes). */
unsigned char *idem_encode(const struct idem_rec *r, size_t *len);

/* Decode a blob from idem_encode into r (freed first). IDEM_OK; IDEM_BAD for
 * any other bytes (r empty), IDEM_NOMEM. Never reads past len. */
enum idem_status idem_decode(struct idem_rec *r, const unsigned char *p, size_t len);

/* The newest k entries of r as a delta blob (malloc'd, *len set; NULL on no
 * memory): what a replica sends its backup after an append, instead of the
 * whole record. */
unsigned char *idem_delta(const struct idem_rec *r, unsigned k, size_t *len);

/* Apply a blob to r: a full one (idem_encode) replaces r, a delta
 * (idem_delta) appends the entries r lacks. IDEM_OK, IDEM_BAD (r unchanged)
 * for any other bytes, IDEM_NOMEM. Never reads past len. */
enum idem_status idem_merge(struct idem_rec *r, const unsigned char *p, size_t len);

/* True when p is a delta blob (idem_delta), false for a full one or other bytes. */
bool idem_is_delta(const unsigned char *p, size_t len);

/* A static snake_case name for a status. */
const char *idem_status_name(enum idem_status st);

#endif
