/* rproto: the replication protocol. See rproto.h. */
#include "rproto.h"

#include <stdlib.h>
#include <string.h>

#include "cblob.h"

static const unsigned rp_fields[RP_TYPE_MAX] = {
    [RP_HELLO] = RPF_TAG | RPF_INC | RPF_CODE,
    [RP_PING] = 0, [RP_PONG] = 0,
    [RP_PUT] = RPF_EPOCH | RPF_INC | RPF_BLOB,
    [RP_DEL] = RPF_EPOCH | RPF_INC | RPF_ID,
    [RP_LOOKUP] = RPF_ID,
    [RP_FOUND] = RPF_EPOCH | RPF_INC | RPF_CODE | RPF_TAG,
    [RP_NONE] = 0,
    [RP_TAKE] = RPF_ID,
    [RP_GRANT] = RPF_EPOCH | RPF_BLOB,
    [RP_REFUSE] = RPF_CODE,
    [RP_HANDOFF] = RPF_EPOCH | RPF_BLOB,
    [RP_ACK] = RPF_CODE,
    [RP_TOUCH] = RPF_EPOCH | RPF_INC | RPF_ID,
    [RP_AUTH] = RPF_MAC,
};

/* Is f a field set that a frame of type may carry? One per type, but HELLO
 * with or without the proof's fields (only in the order of a handshake). */
static bool fields_ok(uint8_t type, unsigned f)
{
    unsigned base = rp_fields[type];
    return f == base ||
           (type == RP_HELLO && (f == (base | RPF_NONCE) || f == (base | RPF_NONCE | RPF_MAC)));
}

/* The field set a message type carries. */
unsigned rproto_fields(uint8_t type)
{
    return type > 0 && type < RP_TYPE_MAX ? rp_fields[type] : 0;
}

/* Make room for n more bytes in b. */
static bool buf_room(struct rproto_buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p)
        return false;
    b->p = p;
    b->cap = cap;
    return true;
}

/* Append a u8-length-prefixed string. */
static unsigned char *put_str(unsigned char *p, const char *s)
{
    size_t n = strlen(s);
    *p++ = (unsigned char)n;
    memcpy(p, s, n);
    return p + n;
}

/* Append m as one frame to b; false when out of memory or m is malformed. */
bool rproto_append(struct rproto_buf *b, const struct rproto_msg *m)
{
    if (m->type == 0 || m->type >= RP_TYPE_MAX)
        return false;
    unsigned f = rp_fields[m->type] | m->opt;
    if (!fields_ok(m->type, f))
        return false;
    size_t bl = (f & RPF_BLOB) ? m->bloblen : 0;
    if (bl > RPROTO_FRAME_MAX - 256 || strlen(m->tag) > ID_TAG_MAX || strlen(m->id) > CART_ID_MAX)
        return false;
    if (!buf_room(b, 4 + 3 + 10 * 4 + 1 + 2 + ID_TAG_MAX + CART_ID_MAX + bl + RPROTO_NONCE_LEN +
                         RPROTO_MAC_LEN))
        return false;
    unsigned char *start = b->p + b->len, *p = start + 4;
    *p++ = RPROTO_VERSION;
    *p++ = m->type;
    *p++ = (unsigned char)f;
    p += cblob_put_varint(p, m->seq);
    if (f & RPF_EPOCH)
        p += cblob_put_varint(p, m->epoch);
    if (f & RPF_INC)
        p += cblob_put_varint(p, m->inc);
    if (f & RPF_CODE)
        *p++ = m->code;
    if (f & RPF_TAG)
        p = put_str(p, m->tag);
    if (f & RPF_ID)
        p = put_str(p, m->id);
    if (f & RPF_BLOB) {
        p += cblob_put_varint(p, bl);
        memcpy(p, m->blob, bl);
        p += bl;
    }
    if (f & RPF_NONCE) {
        memcpy(p, m->nonce, RPROTO_NONCE_LEN);
        p += RPROTO_NONCE_LEN;
    }
    if (f & RPF_MAC) {
        memcpy(p, m->mac, RPROTO_MAC_LEN);
        p += RPROTO_MAC_LEN;
    }
    size_t n = (size_t)(p - start) - 4;
    start[0] = (unsigned char)(n >> 24);
    start[1] = (unsigned char)(n >> 16);
    start[2] = (unsigned char)(n >> 8);
    start[3] = (unsigned char)n;
    b->len += n + 4;
    return true;
}

/* Read a u8-length-prefixed string of 0..max chars valid for check into out. */
static bool get_str(const unsigned char **p, const unsigned char *end, char *out, size_t max,
                    bool allow_empty)
{
    if (*p >= end)
        return false;
    size_t n = *(*p)++;
    if (n > max || (size_t)(end - *p) < n || (n == 0 && !allow_empty))
        return false;
    memcpy(out, *p, n);
    out[n] = '\0';
    *p += n;
    return n == 0 || (strlen(out) == n && id_valid(out));
}

/* Read n fixed bytes into out. */
static bool get_fixed(const unsigned char **p, const unsigned char *end, unsigned char *out,
                      size_t n)
{
    if ((size_t)(end - *p) < n)
        return false;
    memcpy(out, *p, n);
    *p += n;
    return true;
}

/* Decode the fields of a frame body (after the field byte). */
static bool get_fields(const unsigned char *p, const unsigned char *end, unsigned f,
                       struct rproto_msg *m)
{
    uint64_t bl;
    if (!cblob_get_varint(&p, end, &m->seq))
        return false;
    if ((f & RPF_EPOCH) && !cblob_get_varint(&p, end, &m->epoch))
        return false;
    if ((f & RPF_INC) && !cblob_get_varint(&p, end, &m->inc))
        return false;
    if (f & RPF_CODE) {
        if (p >= end)
            return false;
        m->code = *p++;
    }
    if ((f & RPF_TAG) && !get_str(&p, end, m->tag, ID_TAG_MAX, true))
        return false;
    if ((f & RPF_ID) && !get_str(&p, end, m->id, CART_ID_MAX, false))
        return false;
    if (f & RPF_BLOB) {
        if (!cblob_get_varint(&p, end, &bl) || bl > (uint64_t)(end - p))
            return false;
        m->blob = p;
        m->bloblen = (size_t)bl;
        p += bl;
    }
    if ((f & RPF_NONCE) && !get_fixed(&p, end, m->nonce, RPROTO_NONCE_LEN))
        return false;
    if ((f & RPF_MAC) && !get_fixed(&p, end, m->mac, RPROTO_MAC_LEN))
        return false;
    return p == end;
}

/* Decode the first frame of buf. */
enum rproto_status rproto_decode(const unsigned char *buf, size_t len, struct rproto_msg *m,
                                 size_t *used)
{
    if (len < 4)
        return RPROTO_MORE;
    size_t n = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
    if (n < 4 || n > RPROTO_FRAME_MAX)
        return RPROTO_BAD;
    if (len - 4 < n)
        return RPROTO_MORE;
    const unsigned char *p = buf + 4, *end = p + n;
    memset(m, 0, sizeof *m);
    if (p[0] != RPROTO_VERSION || p[1] == 0 || p[1] >= RP_TYPE_MAX || !fields_ok(p[1], p[2]))
        return RPROTO_BAD;
    m->type = p[1];
    m->opt = (uint8_t)(p[2] & ~rp_fields[p[1]]);
    if (!get_fields(p + 3, end, p[2], m))
        return RPROTO_BAD;
    *used = n + 4;
    return RPROTO_OK;
}

/* Append n raw bytes to b; false when out of memory. */
bool rproto_append_raw(struct rproto_buf *b, const void *p, size_t n)
{
    if (!buf_room(b, n))
        return false;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return true;
}

/* Make room for n more bytes after b->len; false when out of memory. */
bool rproto_reserve(struct rproto_buf *b, size_t n)
{
    return buf_room(b, n);
}

/* Drop the first n bytes of b. */
void rproto_consume(struct rproto_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

/* Free b's memory. */
void rproto_buf_free(struct rproto_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
