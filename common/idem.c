/* idem: the per-cart record of idempotency keys. See idem.h.
 *
 * Blob format (all integers little-endian): "I", format 1, entry count (u8),
 * then per entry, oldest first: key length (u8), key, fingerprint (u64),
 * status (u16), version (i64), body length (u32), body. */
#include "idem.h"

#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "id.h"

#define IDEM_MAGIC 'I'
#define IDEM_FORMAT 1
#define IDEM_BODY_LIMIT (1u << 24)    /* a stored body is far below this */

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
    memset(r, 0, sizeof *r);
}

/* Free every entry; r is empty afterwards. */
void idem_free(struct idem_rec *r)
{
    for (unsigned i = 0; i < r->cap; i++)
        free(r->e[i].body);
    free(r->e);
    idem_init(r);
}

/* Number of entries held. */
unsigned idem_count(const struct idem_rec *r)
{
    return r->n;
}

/* The i-th entry, oldest first. */
static struct idem_entry *idem_at(const struct idem_rec *r, unsigned i)
{
    return &r->e[(r->head + i) % r->cap];
}

/* Find key; newest first, since a retry usually follows its first try closely. */
enum idem_status idem_lookup(const struct idem_rec *r, const char *key, uint64_t fp,
                             const struct idem_entry **hit)
{
    for (unsigned i = r->n; i-- > 0;) {
        const struct idem_entry *e = idem_at(r, i);
        if (strcmp(e->key, key) != 0)
            continue;
        if (hit)
            *hit = e;
        return e->fp == fp ? IDEM_REPLAY : IDEM_REUSED;
    }
    return IDEM_MISS;
}

/* Make room for one more entry: grow the ring (while under IDEM_KEEP slots)
 * or free the oldest. The slot to fill, or NULL on no memory. */
static struct idem_entry *idem_slot(struct idem_rec *r)
{
    if (r->n == r->cap && r->cap < IDEM_KEEP) {
        unsigned cap = r->cap ? r->cap * 2 : 4;
        if (cap > IDEM_KEEP)
            cap = IDEM_KEEP;
        struct idem_entry *e = calloc(cap, sizeof *e);
        if (!e)
            return NULL;
        for (unsigned i = 0; i < r->n; i++)
            e[i] = *idem_at(r, i);    /* unroll the ring: oldest at 0 */
        free(r->e);
        r->e = e;
        r->cap = cap;
        r->head = 0;
    }
    if (r->n < r->cap)
        return &r->e[(r->head + r->n++) % r->cap];
    struct idem_entry *old = &r->e[r->head];  /* full: the oldest goes */
    free(old->body);
    memset(old, 0, sizeof *old);
    r->head = (r->head + 1) % r->cap;
    return old;
}

/* Remember a change and its answer, evicting the oldest entry past IDEM_KEEP. */
enum idem_status idem_append(struct idem_rec *r, const char *key, uint64_t fp, unsigned status,
                             int64_t version, const char *body, size_t body_len)
{
    char *copy = NULL;
    if (body && body_len) {
        if (!(copy = malloc(body_len + 1)))
            return IDEM_NOMEM;
        memcpy(copy, body, body_len);
        copy[body_len] = '\0';
    }
    struct idem_entry *e = idem_slot(r);
    if (!e) {
        free(copy);
        return IDEM_NOMEM;
    }
    snprintf(e->key, sizeof e->key, "%s", key);
    e->fp = fp;
    e->status = status;
    e->version = version;
    e->body = copy;
    e->body_len = copy ? body_len : 0;
    return IDEM_OK;
}

/* Copy an entry's answer (body included) into a. */
enum idem_status idem_answer_of(const struct idem_entry *e, struct idem_answer *a)
{
    memset(a, 0, sizeof *a);
    a->status = e->status;
    a->version = e->version;
    if (e->body_len) {
        if (!(a->body = malloc(e->body_len + 1)))
            return IDEM_NOMEM;
        memcpy(a->body, e->body, e->body_len + 1);
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

/* Deep copy src into dst, oldest entry first. */
enum idem_status idem_copy(struct idem_rec *dst, const struct idem_rec *src)
{
    idem_free(dst);
    for (unsigned i = 0; i < src->n; i++) {
        const struct idem_entry *e = idem_at(src, i);
        if (idem_append(dst, e->key, e->fp, e->status, e->version, e->body, e->body_len)) {
            idem_free(dst);
            return IDEM_NOMEM;
        }
    }
    return IDEM_OK;
}

/* Append n little-endian bytes of v at p; returns p past them. */
static unsigned char *put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

/* Encode r as a blob (see the format above). */
unsigned char *idem_encode(const struct idem_rec *r, size_t *len)
{
    size_t need = 3;
    for (unsigned i = 0; i < r->n; i++)
        need += 1 + strlen(idem_at(r, i)->key) + 8 + 2 + 8 + 4 + idem_at(r, i)->body_len;
    unsigned char *out = malloc(need), *p = out;
    if (!out)
        return NULL;
    *p++ = IDEM_MAGIC;
    *p++ = IDEM_FORMAT;
    *p++ = (unsigned char)r->n;
    for (unsigned i = 0; i < r->n; i++) {
        const struct idem_entry *e = idem_at(r, i);
        size_t kl = strlen(e->key);
        *p++ = (unsigned char)kl;
        memcpy(p, e->key, kl);
        p = put_le(p + kl, e->fp, 8);
        p = put_le(p, e->status, 2);
        p = put_le(p, (uint64_t)e->version, 8);
        p = put_le(p, e->body_len, 4);
        if (e->body_len)
            memcpy(p, e->body, e->body_len);
        p += e->body_len;
    }
    *len = need;
    return out;
}

/* A bounded reader over a blob. */
struct idem_rd {
    const unsigned char *p;
    size_t left;
    bool bad;
};

/* Read n little-endian bytes; 0 and bad set when the blob ends first. */
static uint64_t get_le(struct idem_rd *rd, int n)
{
    uint64_t v = 0;
    if (rd->bad || rd->left < (size_t)n) {
        rd->bad = true;
        return 0;
    }
    for (int i = 0; i < n; i++)
        v |= (uint64_t)rd->p[i] << (8 * i);
    rd->p += n;
    rd->left -= (size_t)n;
    return v;
}

/* Decode one entry and append it to r. */
static enum idem_status idem_decode_one(struct idem_rec *r, struct idem_rd *rd)
{
    char key[IDEM_KEY_MAX + 1];
    size_t kl = (size_t)get_le(rd, 1);
    if (rd->bad || kl == 0 || kl > IDEM_KEY_MAX || rd->left < kl)
        return IDEM_BAD;
    memcpy(key, rd->p, kl);
    key[kl] = '\0';
    rd->p += kl;
    rd->left -= kl;
    uint64_t fp = get_le(rd, 8);
    unsigned status = (unsigned)get_le(rd, 2);
    int64_t version = (int64_t)get_le(rd, 8);
    size_t bl = (size_t)get_le(rd, 4);
    if (rd->bad || !idem_key_valid(key) || bl > IDEM_BODY_LIMIT || rd->left < bl ||
        status < 100 || status > 599 || version < -1 ||
        idem_lookup(r, key, 0, NULL) != IDEM_MISS)
        return IDEM_BAD;
    enum idem_status st = idem_append(r, key, fp, status, version, (const char *)rd->p, bl);
    rd->p += bl;
    rd->left -= bl;
    return st;
}

/* Decode a blob into r; IDEM_BAD for anything idem_encode would not write. */
enum idem_status idem_decode(struct idem_rec *r, const unsigned char *p, size_t len)
{
    struct idem_rd rd = { p, len, false };
    idem_free(r);
    if (!p || len < 3 || p[0] != IDEM_MAGIC || p[1] != IDEM_FORMAT)
        return IDEM_BAD;
    unsigned n = p[2];
    rd.p += 3;
    rd.left -= 3;
    for (unsigned i = 0; i < n; i++) {
        enum idem_status st = idem_decode_one(r, &rd);
        if (st != IDEM_OK) {
            idem_free(r);
            return st;
        }
    }
    if (rd.left) {
        idem_free(r);
        return IDEM_BAD;
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
