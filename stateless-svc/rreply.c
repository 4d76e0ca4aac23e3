/* rreply: the decoder of the scripts' replies. See rreply.h. */
#include "rreply.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* True when reply s is a string equal to lit. */
static bool rr_is(const redisReply *s, const char *lit)
{
    return s->type == REDIS_REPLY_STRING && s->len == strlen(lit) && memcmp(s->str, lit, s->len) == 0;
}

/* Strict unsigned decimal of 1..18 digits. */
static bool rr_num(const char *p, size_t len, int64_t *v)
{
    int64_t n = 0;

    if (len == 0 || len > 18)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        n = n * 10 + (p[i] - '0');
    }
    *v = n;
    return true;
}

/* A field or a value of a cart in a reply: bytes, not NUL-terminated. */
struct rr_str {
    const char *p;
    size_t n;
};

/* One field "s:<sku>" with value "<qty> <price>" into c. */
static bool rr_line(struct cart *c, struct rr_str f, struct rr_str v)
{
    char sku[CART_SKU_MAX + 1];
    size_t n = f.n - 2, q;
    const char *sp = memchr(v.p, ' ', v.n);
    int64_t qty, price;

    if (!cart_sku_valid(f.p + 2, n) || !sp)
        return false;
    memcpy(sku, f.p + 2, n);
    sku[n] = '\0';
    q = (size_t)(sp - v.p);
    return rr_num(v.p, q, &qty) && rr_num(sp + 1, v.n - q - 1, &price) &&
           cart_push(c, sku, qty, price) == CART_OK;
}

/* The next part of a cart in body (a flat array of strings, or one string of
 * them joined by newlines; *at: the next element, or offset) into out; 1, 0
 * at the end, -1 when malformed. */
static int rr_part(const redisReply *body, size_t *at, struct rr_str *out)
{
    if (body->type == REDIS_REPLY_STRING) {
        if (*at > body->len)
            return 0;
        const char *p = body->str + *at, *nl = memchr(p, '\n', body->len - *at);
        out->p = p;
        out->n = nl ? (size_t)(nl - p) : body->len - *at;
        *at += out->n + 1;
        return 1;
    }
    if (*at >= body->elements)
        return 0;
    const redisReply *e = body->element[(*at)++];
    if (!e || e->type != REDIS_REPLY_STRING)
        return -1;
    out->p = e->str;
    out->n = e->len;
    return 1;
}

/* A cart's fields into c: "v" exactly once, "s:" lines, nothing else. */
static bool rr_hash(const redisReply *h, struct cart *c)
{
    bool have_v = false;
    size_t at = 0;
    struct rr_str f, v;
    int got;

    if (h->type == REDIS_REPLY_ARRAY ? h->elements % 2 || (h->elements && !h->element)
                                     : h->type != REDIS_REPLY_STRING)
        return false;
    while ((got = rr_part(h, &at, &f)) == 1) {
        if (rr_part(h, &at, &v) != 1)
            return false;
        if (f.n == 1 && f.p[0] == 'v') {
            if (have_v || !rr_num(v.p, v.n, &c->version))
                return false;
            have_v = true;
        } else if (f.n < 2 || memcmp(f.p, "s:", 2) != 0 || !rr_line(c, f, v)) {
            return false;
        }
    }
    if (got < 0)
        return false;
    cart_sort(c);
    for (size_t i = 1; i < c->n; i++)
        if (strcmp(c->items[i - 1].sku, c->items[i].sku) == 0)
            return false;
    return have_v;
}

/* A {"rej", reason} reply: not_found, exists, or a cart_status_name (needs cst). */
static enum store_status rr_reject(const redisReply *why, enum cart_status *cst)
{
    if (rr_is(why, "not_found"))
        return STORE_NOT_FOUND;
    if (rr_is(why, "exists"))
        return STORE_EXISTS;
    if (rr_is(why, "idempotency_key_reused"))
        return STORE_KEY_REUSED;
    for (int c = CART_NO_ITEM; cst && c <= CART_CONFLICT; c++) {
        if (rr_is(why, cart_status_name((enum cart_status)c))) {
            *cst = (enum cart_status)c;
            return STORE_REJECTED;
        }
    }
    return STORE_ERROR;
}

/* Decode a script reply (see rreply.h). */
enum store_status rreply_decode(const struct redisReply *r, const char *id, int ttl,
                                 struct cart *out, enum cart_status *cst,
                                 char *err, size_t errlen)
{
    const redisReply *tag, *body;
    struct cart tmp;
    enum store_status st = STORE_ERROR;

    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !r->element ||
        !(tag = r->element[0]) || !(body = r->element[1]))
        goto bad;
    if (rr_is(tag, "rej")) {
        st = rr_reject(body, cst);
        if (st == STORE_ERROR)
            goto bad;
        return st;
    }
    if (!rr_is(tag, "ok") || (body->type != REDIS_REPLY_ARRAY && body->type != REDIS_REPLY_STRING))
        goto bad;
    if (body->type == REDIS_REPLY_ARRAY && body->elements == 0 && !out)
        return STORE_OK;          /* del: no cart comes back */
    cart_init(&tmp, id);
    if (!rr_hash(body, &tmp)) {
        cart_free(&tmp);
        goto bad;
    }
    tmp.expires_in = ttl;
    if (out) {
        free(out->items);
        *out = tmp;
    } else {
        cart_free(&tmp);
    }
    return STORE_OK;
bad:
    if (err && errlen)
        snprintf(err, errlen, "%s", "redis: malformed script reply");
    return STORE_ERROR;
}

/* Decode a keyed script's reply (see rreply.h). */
enum store_status rreply_decode_keyed(const struct redisReply *r, const char *id, int ttl,
                                       bool create, struct cart *out, enum cart_status *cst,
                                       struct store_idem *ik, char *err, size_t errlen)
{
    struct cart tmp;
    size_t len = 0;

    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !r->element ||
        !r->element[0] || !rr_is(r->element[0], "replay"))
        return rreply_decode(r, id, ttl, out, cst, err, errlen);
    if (!ik || !r->element[1])
        goto bad;
    cart_init(&tmp, id);
    if (!rr_hash(r->element[1], &tmp)) {
        cart_free(&tmp);
        goto bad;
    }
    tmp.expires_in = ttl;
    memset(&ik->ans, 0, sizeof ik->ans);
    ik->ans.body = wire_cart_json(&tmp, &len);
    ik->ans.body_len = len;
    ik->ans.version = tmp.version;
    ik->ans.status = create ? STORE_ANSWER_CREATED : STORE_ANSWER_CHANGED;
    cart_free(&tmp);
    if (!ik->ans.body) {
        if (err && errlen)
            snprintf(err, errlen, "%s", "out of memory encoding a stored answer");
        return STORE_ERROR;
    }
    ik->replayed = true;
    return STORE_OK;
bad:
    if (err && errlen)
        snprintf(err, errlen, "%s", "redis: malformed script reply");
    return STORE_ERROR;
}

/* Map an error reply to a status (see rreply.h). */
enum store_status rreply_error(const struct redisReply *r, char *err, size_t errlen)
{
    static const char *const transient[] = { "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN",
                                             "NOAUTH", "READONLY", "CLUSTERDOWN" };

    if (err && errlen)
        snprintf(err, errlen, "redis: %s", r->str);
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
        size_t n = strlen(transient[i]);

        if (r->len >= n && strncmp(r->str, transient[i], n) == 0)
            return STORE_UNAVAILABLE;
    }
    return STORE_ERROR;
}
