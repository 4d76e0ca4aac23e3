/* idem: the per-cart record of idempotency keys. See idem.h.
 *
 * A record is kept as its blob. Format (integers little-endian): "I", form
 * (1: the full record, 2: a delta of new entries), entry count (u8), then
 * per entry, oldest first: key length (u8), key, fingerprint (u64), status
 * (u16), version (i64), body length (u32), body. Keys are unique within a
 * blob. A lookup walks the blob; an append writes in place (the buffer
 * grows by a quarter when short), moving the others down when the oldest
 * entry goes. */
#include "idem.h"

#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "id.h"

#define IDEM_MAGIC 'I'
#define IDEM_FULL 1
#define IDEM_DELTA 2
#define IDEM_HEAD 3                   /* magic, form, count */
#define IDEM_FIXED (1 + 8 + 2 + 8 + 4) /* an entry without its key and body */

/* True when key is 1..IDEM_KEY_MAX characters of [A-Za-z0-9._-]. */
bool idem_key_valid(const char *key)
{
    size_t n = 0;
    if (!key)
        return false;
    for (; key[n]; n++) {
        char c = key[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n >= IDEM_KEY_MAX)
            return false;
    }
    return n > 0;
}

/* SHA-256 of method, path and body, each part closed by a NUL (the body by its length). */
uint64_t idem_fingerprint(const char *method, const char *path, const void *body, size_t len)
{
    struct sha256_ctx ctx;
    uint8_t dig[SHA256_DIGEST_SIZE];
    uint64_t fp = 0;
    sha256_init(&ctx);
    sha256_update(&ctx, strlen(method) + 1, (const uint8_t *)method);
    sha256_update(&ctx, strlen(path) + 1, (const uint8_t *)path);
    if (body && len)
        sha256_update(&ctx, len, body);
    sha256_digest(&ctx, sizeof dig, dig);
    for (int i = 0; i < 8; i++)
        fp = fp << 8 | dig[i];
    return fp;
}

/* The id a keyed create makes: 128 bits of SHA-256("cartpair-create", key). */
int idem_cart_id(const char *tag, const char *key, char *out, size_t outlen)
{
    static const char ctxs[] = "cartpair-create";
    struct sha256_ctx ctx;
    uint8_t dig[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, sizeof ctxs, (const uint8_t *)ctxs);
    sha256_update(&ctx, strlen(key), (const uint8_t *)key);
    sha256_digest(&ctx, sizeof dig, dig);
    return id_from_bytes(tag, dig, out, outlen) == ID_OK ? 0 : -1;
}

/* Make r an empty record. */
void idem_init(struct idem_rec *r)
{
    r->p = NULL;
    r->len = r->cap = r->last = 0;
}

/* Free the record; r is empty (and reusable) afterwards. */
void idem_free(struct idem_rec *r)
{
    free(r->p);
    idem_init(r);
}

/* Number of entries held. */
unsigned idem_count(const struct idem_rec *r)
{
    return r->p ? r->p[2] : 0;
}

/* Read n little-endian bytes at p. */
static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Append n little-endian bytes of v at p; returns p past them. */
static unsigned char *put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

/* Parse the entry at p (before end) into e (may be NULL); its size, or 0
 * when it is malformed. Checks everything: a blob may come from a peer. */
static size_t idem_parse(const unsigned char *p, const unsigned char *end, struct idem_entry *e)
{
    struct idem_entry tmp;
    size_t left = (size_t)(end - p);
    if (!e)
        e = &tmp;
    size_t kl = left ? p[0] : 0;
    if (kl == 0 || kl > IDEM_KEY_MAX || left < kl + IDEM_FIXED)
        return 0;
    memcpy(e->key, p + 1, kl);
    e->key[kl] = '\0';
    const unsigned char *q = p + 1 + kl;
    e->fp = get_le(q, 8);
    e->status = (unsigned)get_le(q + 8, 2);
    e->version = (int64_t)get_le(q + 10, 8);
    e->body_len = (size_t)get_le(q + 18, 4);
    e->body = q + 22;
    size_t size = kl + IDEM_FIXED + e->body_len;
    if (!idem_key_valid(e->key) || e->status < 100 || e->status > 599 || e->version < -1 ||
        e->body_len > IDEM_REC_MAX || left < size)
        return 0;
    return size;
}

/* Find key; keys are unique within a record, so the first match is the one. */
enum idem_status idem_lookup(const struct idem_rec *r, const char *key, uint64_t fp,
                             struct idem_entry *hit)
{
    size_t kl = strlen(key);
    if (!r->p)
        return IDEM_MISS;
    const unsigned char *p = r->p + IDEM_HEAD, *end = r->p + r->len;
    for (unsigned i = 0; i < idem_count(r); i++) {
        size_t bl = (size_t)get_le(p + 1 + p[0] + 18, 4);
        if (p[0] == kl && !memcmp(p + 1, key, kl)) {
            struct idem_entry e;
            idem_parse(p, end, &e);
            if (hit)
                *hit = e;
            return e.fp == fp ? IDEM_REPLAY : IDEM_REUSED;
        }
        p += p[0] + IDEM_FIXED + bl;
    }
    return IDEM_MISS;
}

/* Size of the entry at p (trusted: from a record). */
static size_t idem_size(const unsigned char *p)
{
    return p[0] + IDEM_FIXED + (size_t)get_le(p + 1 + p[0] + 18, 4);
}

/* Write one entry at p; returns p past it. */
static unsigned char *idem_put(unsigned char *p, const char *key, uint64_t fp, unsigned status,
                               int64_t version, const void *body, size_t body_len)
{
    size_t kl = strlen(key);
    *p++ = (unsigned char)kl;
    memcpy(p, key, kl);
    p = put_le(p + kl, fp, 8);
    p = put_le(p, status, 2);
    p = put_le(p, (uint64_t)version, 8);
    p = put_le(p, body_len, 4);
    if (body_len)
        memcpy(p, body, body_len);
    return p + body_len;
}

/* Remember a change: drop the oldest entries past the limits, grow the
 * buffer when short (r is unchanged when that fails), append in place. */
enum idem_status idem_append(struct idem_rec *r, const char *key, uint64_t fp, unsigned status,
                             int64_t version, const void *body, size_t body_len)
{
    size_t add = strlen(key) + IDEM_FIXED + body_len;
    if (add + IDEM_HEAD > IDEM_REC_MAX)
        return IDEM_BAD;
    unsigned n = idem_count(r);
    size_t used = r->p ? r->len : IDEM_HEAD, skip = 0;
    while (n > 0 && (n >= IDEM_KEEP || used - skip + add > IDEM_REC_MAX)) {
        skip += idem_size(r->p + IDEM_HEAD + skip);
        n--;
    }
    size_t need = used - skip + add;
    if (need > r->cap) {
        size_t cap = need + need / 4 + 64;
        unsigned char *q = realloc(r->p, cap < IDEM_REC_MAX ? cap : IDEM_REC_MAX);
        if (!q)
            return IDEM_NOMEM;
        if (!r->p) {
            q[0] = IDEM_MAGIC;
            q[1] = IDEM_FULL;
        }
        r->p = q;
        r->cap = (uint32_t)(cap < IDEM_REC_MAX ? cap : IDEM_REC_MAX);
    }
    if (skip)
        memmove(r->p + IDEM_HEAD, r->p + IDEM_HEAD + skip, used - IDEM_HEAD - skip);
    r->last = (uint32_t)(used - skip);
    idem_put(r->p + r->last, key, fp, status, version, body, body_len);
    r->p[2] = (unsigned char)(n + 1);
    r->len = (uint32_t)need;
    return IDEM_OK;
}

/* Copy an entry's answer (body included, NUL-terminated) into a. */
enum idem_status idem_answer_of(const struct idem_entry *e, struct idem_answer *a)
{
    memset(a, 0, sizeof *a);
    a->status = e->status;
    a->version = e->version;
    if (e->body_len) {
        if (!(a->body = malloc(e->body_len + 1)))
            return IDEM_NOMEM;
        memcpy(a->body, e->body, e->body_len);
        a->body[e->body_len] = '\0';
        a->body_len = e->body_len;
    }
    return IDEM_OK;
}

/* Free an answer's body and zero it. */
void idem_answer_free(struct idem_answer *a)
{
    free(a->body);
    memset(a, 0, sizeof *a);
}

/* Deep copy src into dst. */
enum idem_status idem_copy(struct idem_rec *dst, const struct idem_rec *src)
{
    idem_free(dst);
    if (!src->p)
        return IDEM_OK;
    if (!(dst->p = malloc(src->len)))
        return IDEM_NOMEM;
    memcpy(dst->p, src->p, src->len);
    dst->len = dst->cap = src->len;
    dst->last = src->last;
    return IDEM_OK;
}

/* Encode r: a copy of its blob (a header alone when empty). */
unsigned char *idem_encode(const struct idem_rec *r, size_t *len)
{
    size_t n = r->p ? r->len : IDEM_HEAD;
    unsigned char *out = malloc(n);
    if (!out)
        return NULL;
    if (r->p) {
        memcpy(out, r->p, n);
    } else {
        out[0] = IDEM_MAGIC;
        out[1] = IDEM_FULL;
        out[2] = 0;
    }
    *len = n;
    return out;
}

/* Check a blob of the given form: its entries and their unique keys; the
 * entry count, or -1. */
static int idem_check(const unsigned char *p, size_t len, int form)
{
    if (!p || len < IDEM_HEAD || p[0] != IDEM_MAGIC || p[1] != form ||
        p[2] > IDEM_KEEP || len > IDEM_REC_MAX)
        return -1;
    const unsigned char *q = p + IDEM_HEAD, *end = p + len;
    for (unsigned i = 0; i < p[2]; i++) {
        struct idem_entry e;
        size_t n = idem_parse(q, end, &e), kl = strlen(e.key);
        if (!n)
            return -1;
        for (const unsigned char *o = p + IDEM_HEAD; o < q; o += idem_size(o))
            if (o[0] == kl && !memcmp(o + 1, e.key, kl))
                return -1;
        q += n;
    }
    return q == end ? p[2] : -1;
}

/* Decode a blob into r; IDEM_BAD for anything idem_encode would not write. */
enum idem_status idem_decode(struct idem_rec *r, const unsigned char *p, size_t len)
{
    idem_free(r);
    if (idem_check(p, len, IDEM_FULL) < 0)
        return IDEM_BAD;
    if (p[2] == 0)
        return IDEM_OK;
    if (!(r->p = malloc(len)))
        return IDEM_NOMEM;
    memcpy(r->p, p, len);
    r->len = r->cap = (uint32_t)len;
    r->last = IDEM_HEAD;
    for (unsigned i = 1; i < p[2]; i++)
        r->last += (uint32_t)idem_size(r->p + r->last);
    return IDEM_OK;
}

/* The newest k entries of r as a delta blob. */
unsigned char *idem_delta(const struct idem_rec *r, unsigned k, size_t *len)
{
    unsigned n = idem_count(r);
    const unsigned char *from = r->p ? r->p + IDEM_HEAD : NULL;
    if (k > n)
        k = n;
    if (k == 1)
        from = r->p + r->last; /* the common case: the entry just appended */
    for (unsigned i = 0; k != 1 && i < n - k; i++)
        from += idem_size(from);
    size_t body = from ? (size_t)(r->p + r->len - from) : 0;
    unsigned char *out = malloc(IDEM_HEAD + body);
    if (!out)
        return NULL;
    out[0] = IDEM_MAGIC;
    out[1] = IDEM_DELTA;
    out[2] = (unsigned char)k;
    if (body)
        memcpy(out + IDEM_HEAD, from, body);
    *len = IDEM_HEAD + body;
    return out;
}

/* True when p is a delta blob. */
bool idem_is_delta(const unsigned char *p, size_t len)
{
    return p && len >= IDEM_HEAD && p[0] == IDEM_MAGIC && p[1] == IDEM_DELTA;
}

/* Apply a full blob (replace) or a delta (append what r lacks) to r. */
enum idem_status idem_merge(struct idem_rec *r, const unsigned char *p, size_t len)
{
    if (!idem_is_delta(p, len)) {
        struct idem_rec tmp;
        idem_init(&tmp);
        enum idem_status st = idem_decode(&tmp, p, len);
        if (st == IDEM_OK) {
            idem_free(r);
            *r = tmp;
        }
        return st;
    }
    if (idem_check(p, len, IDEM_DELTA) < 0)
        return IDEM_BAD;
    const unsigned char *q = p + IDEM_HEAD;
    for (unsigned i = 0; i < p[2]; i++, q += idem_size(q)) {
        struct idem_entry e;
        idem_parse(q, p + len, &e);
        if (idem_lookup(r, e.key, e.fp, NULL) != IDEM_MISS)
            continue;
        enum idem_status st = idem_append(r, e.key, e.fp, e.status, e.version, e.body,
                                          e.body_len);
        if (st != IDEM_OK)
            return st;
    }
    return IDEM_OK;
}

/* A static snake_case name for a status. */
const char *idem_status_name(enum idem_status st)
{
    switch (st) {
    case IDEM_OK: return "ok";
    case IDEM_MISS: return "miss";
    case IDEM_REPLAY: return "replay";
    case IDEM_REUSED: return "idempotency_key_reused";
    case IDEM_NOMEM: return "nomem";
    case IDEM_BAD: return "bad_blob";
    }
    return "unknown";
}
