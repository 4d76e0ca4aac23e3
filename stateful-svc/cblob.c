/* cblob: the compact cart encoding. See cblob.h. */
#include "cblob.h"

#include <stdlib.h>
#include <string.h>

#include "id.h"

/* Bytes the varint of v takes. */
static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Append v as a varint at p (room for 10 bytes); returns the bytes written. */
size_t cblob_put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* Read a varint from *p (before end); false when truncated, over 64 bits or
 * not in its shortest form (so that every value has one encoding). */
bool cblob_get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        unsigned char b = *(*p)++;
        if (shift == 63 && b > 1)
            return false;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (b == 0 && shift > 0)
                return false;
            *v = r;
            return true;
        }
    }
    return false;
}

/* Bytes the encoding of c with an extra of extlen bytes takes. */
size_t cblob_size(const struct cart *c, size_t extlen)
{
    size_t n = 1 + strlen(c->id) + varint_len((uint64_t)c->version) + varint_len(c->n);
    for (size_t i = 0; i < c->n; i++) {
        const struct cart_item *it = &c->items[i];
        n += 1 + strlen(it->sku) + varint_len((uint64_t)it->qty) +
             varint_len((uint64_t)it->unit_price_cents);
    }
    return n + varint_len(extlen) + extlen;
}

/* Append a length-prefixed string (at most 255 bytes). */
static unsigned char *put_str(unsigned char *p, const char *s)
{
    size_t n = strlen(s);
    *p++ = (unsigned char)n;
    memcpy(p, s, n);
    return p + n;
}

/* Encode c (and ext) into a new malloc'd blob; NULL when out of memory. */
unsigned char *cblob_encode(const struct cart *c, const void *ext, size_t extlen, size_t *len)
{
    size_t n = cblob_size(c, extlen);
    unsigned char *b = malloc(n), *p = b;
    if (!b)
        return NULL;
    p = put_str(p, c->id);
    p += cblob_put_varint(p, (uint64_t)c->version);
    p += cblob_put_varint(p, c->n);
    for (size_t i = 0; i < c->n; i++) {
        p = put_str(p, c->items[i].sku);
        p += cblob_put_varint(p, (uint64_t)c->items[i].qty);
        p += cblob_put_varint(p, (uint64_t)c->items[i].unit_price_cents);
    }
    p += cblob_put_varint(p, extlen);
    if (extlen)
        memcpy(p, ext, extlen);
    *len = n;
    return b;
}

/* Read a length-prefixed string of 1..max bytes into out (NUL-terminated). */
static bool get_str(const unsigned char **p, const unsigned char *end, char *out, size_t max)
{
    if (*p >= end)
        return false;
    size_t n = *(*p)++;
    if (n == 0 || n > max || (size_t)(end - *p) < n)
        return false;
    memcpy(out, *p, n);
    out[n] = '\0';
    *p += n;
    return strlen(out) == n;
}

/* Decode the lines of a blob into out; false when malformed. */
static enum cblob_status get_lines(const unsigned char **p, const unsigned char *end,
                                   struct cart *out)
{
    uint64_t n, qty, price;
    if (!cblob_get_varint(p, end, &n) || n > CBLOB_MAX_LINES || n > (uint64_t)(end - *p))
        return CBLOB_BAD;
    for (uint64_t i = 0; i < n; i++) {
        char sku[CART_SKU_MAX + 1];
        if (!get_str(p, end, sku, CART_SKU_MAX) || !cblob_get_varint(p, end, &qty) ||
            !cblob_get_varint(p, end, &price) || qty > CART_QTY_MAX ||
            price > (uint64_t)CART_PRICE_MAX)
            return CBLOB_BAD;
        if (out->n > 0 && strcmp(out->items[out->n - 1].sku, sku) >= 0)
            return CBLOB_BAD;
        enum cart_status cs = cart_push(out, sku, (int64_t)qty, (int64_t)price);
        if (cs != CART_OK)
            return cs == CART_NOMEM ? CBLOB_NOMEM : CBLOB_BAD;
    }
    return CBLOB_OK;
}

/* Decode a blob into out; ext/extlen (optional) point at the extra section. */
enum cblob_status cblob_decode(const unsigned char *b, size_t len, struct cart *out,
                               const unsigned char **ext, size_t *extlen)
{
    const unsigned char *p = b, *end = b + len;
    char id[CART_ID_MAX + 1];
    uint64_t version, xl;
    if (!b || !get_str(&p, end, id, CART_ID_MAX) || !id_valid(id) ||
        !cblob_get_varint(&p, end, &version) || version > (uint64_t)INT64_MAX)
        return CBLOB_BAD;
    cart_free(out);
    cart_init(out, id);
    out->version = (int64_t)version;
    enum cblob_status st = get_lines(&p, end, out);
    if (st == CBLOB_OK && (!cblob_get_varint(&p, end, &xl) || xl > CBLOB_EXT_MAX ||
                           xl != (uint64_t)(end - p)))
        st = CBLOB_BAD;
    if (st != CBLOB_OK) {
        cart_free(out);
        return st;
    }
    if (ext)
        *ext = p;
    if (extlen)
        *extlen = (size_t)xl;
    return CBLOB_OK;
}

/* Copy the cart id of a blob into id; false when malformed. */
bool cblob_id(const unsigned char *b, size_t len, char *id)
{
    const unsigned char *p = b;
    return b && get_str(&p, b + len, id, CART_ID_MAX) && id_valid(id);
}

/* Skip a length-prefixed string of 1..max bytes; false when malformed. */
static bool skip_str(const unsigned char **p, const unsigned char *end, size_t max)
{
    size_t n = *p < end ? **p : 0;
    if (n == 0 || n > max || (size_t)(end - *p) < n + 1)
        return false;
    *p += n + 1;
    return true;
}

/* Find the extra section of a blob, walking its lines without decoding them. */
bool cblob_split(const unsigned char *b, size_t len, size_t *head, const unsigned char **ext,
                 size_t *extlen)
{
    const unsigned char *p = b, *end = b + len;
    uint64_t v, n, xl;
    if (!b || !skip_str(&p, end, CART_ID_MAX) || !cblob_get_varint(&p, end, &v) ||
        !cblob_get_varint(&p, end, &n) || n > CBLOB_MAX_LINES)
        return false;
    for (uint64_t i = 0; i < n; i++)
        if (!skip_str(&p, end, CART_SKU_MAX) || !cblob_get_varint(&p, end, &v) ||
            !cblob_get_varint(&p, end, &v))
            return false;
    *head = (size_t)(p - b);
    if (!cblob_get_varint(&p, end, &xl) || xl > CBLOB_EXT_MAX || xl != (uint64_t)(end - p))
        return false;
    *ext = p;
    *extlen = (size_t)xl;
    return true;
}

/* A new blob: the first head bytes of b, then ext as the extra. */
unsigned char *cblob_join(const unsigned char *b, size_t head, const void *ext, size_t extlen,
                          size_t *len)
{
    unsigned char *out = malloc(head + varint_len(extlen) + extlen), *p = out;
    if (!out)
        return NULL;
    memcpy(p, b, head);
    p += head;
    p += cblob_put_varint(p, extlen);
    if (extlen)
        memcpy(p, ext, extlen);
    *len = (size_t)(p + extlen - out);
    return out;
}
