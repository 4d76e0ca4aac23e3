/* rscript: the store's Lua scripts and their reply decoder (see rscript.h). */
#include "rscript.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* What every keyed script starts with: KEYS cart and record, ARGV ttl, key,
 * fingerprint, entries kept. A cart's fields travel joined by newlines ("v",
 * its version, then "s:<sku>", "<qty> <price>" per line). The record holds an
 * entry per remembered key, "k:<key>" = "<fingerprint> <the cart's fields
 * after the change>", and a ring of the entries' names by the version a change
 * made, "r:<version mod keep>" = "k:<key>": so the keys of the last `keep`
 * changes are remembered. slot(v) names the entry and the ring slot of the
 * change that makes version v; remembered(v) looks the key up and reads that
 * slot in one HMGET (nil when not remembered); remember(all) stores the entry
 * and drops the one the slot named; at slot 0 it also sets "m" (a marker an
 * unkeyed change sets to "1") to 65 bytes, past Redis's hash-max-listpack-value
 * (64): a record of small entries then moves from a listpack, where every
 * lookup scans all entries, to a hash table. An entry "k:<key>" = "<slot>" is
 * one of the previous layout (the entry in "o:<slot>" = "<key> <fingerprint>
 * <fields>"): still read, no longer written. */
#define RS_PRELUDE \
    "local k, ik, ttl, key, fp = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]\n" \
    "local kf, rf, gone\n" \
    "local function slot(v)\n" \
    "  kf, rf = 'k:' .. key, string.format('r:%d', v % tonumber(ARGV[4]))\n" \
    "end\n" \
    "local function remembered(v)\n" \
    "  if key == '' then return nil end\n" \
    "  slot(v)\n" \
    "  local got = redis.call('HMGET', ik, kf, rf)\n" \
    "  local e = got[1]\n" \
    "  gone = got[2]\n" \
    "  if not e then return nil end\n" \
    "  local efp, snap = string.match(e, '^(%d+) (.*)$')\n" \
    "  if not efp and string.match(e, '^%d+$') then\n" \
    "    local okey\n" \
    "    okey, efp, snap = string.match(redis.call('HGET', ik, 'o:' .. e) or '',\n" \
    "                                   '^(%S+) (%d+) (.*)$')\n" \
    "    if okey ~= key then return nil end\n" \
    "  end\n" \
    "  if not efp then return nil end\n" \
    "  if efp ~= fp then return {'rej', 'idempotency_key_reused'} end\n" \
    "  redis.call('EXPIRE', k, ttl)\n" \
    "  redis.call('EXPIRE', ik, ttl)\n" \
    "  return {'replay', snap}\n" \
    "end\n" \
    "local function remember(all)\n" \
    "  if key ~= '' then\n" \
    "    if gone then redis.call('HDEL', ik, gone) end\n" \
    "    local e = fp .. ' ' .. all\n" \
    "    if rf ~= 'r:0' then redis.call('HSET', ik, kf, e, rf, kf)\n" \
    "    else redis.call('HSET', ik, kf, e, rf, kf, 'm', string.rep('m', 65)) end\n" \
    "  else redis.call('HSETNX', ik, 'm', '1') end\n" \
    "  redis.call('EXPIRE', ik, ttl)\n" \
    "end\n" \
    "local function fields() return table.concat(redis.call('HGETALL', k), '\\n') end\n"

/* The texts; every reply is {"ok", <the cart's fields joined> or {}}, {"rej",
 * <reason>} or {"replay", <the fields as they were after the remembered
 * change>}. Every limit arrives in ARGV (from cart.h and idem.h): the texts
 * hold none. */
static const char *const rscript_texts[RSCRIPT_COUNT] = {
    [RSCRIPT_CREATE] = /* ARGV: ttl, key, fp, keep */
    RS_PRELUDE
    "if redis.call('EXISTS', k) == 1 then return remembered(0) or {'rej', 'exists'} end\n"
    "if key ~= '' then slot(0) end\n"
    "redis.call('HSET', k, 'v', '0')\n"
    "redis.call('EXPIRE', k, ttl)\n"
    "local all = fields()\n"
    "remember(all)\n"
    "return {'ok', all}\n",
    [RSCRIPT_GET] = /* ARGV: ttl */
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {'rej', 'not_found'} end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[1])\n"
    "return {'ok', table.concat(redis.call('HGETALL', KEYS[1]), '\\n')}\n",
    [RSCRIPT_DEL] = /* ARGV: ttl, key, fp, keep, if_match ('' for none) */
    RS_PRELUDE
    "if redis.call('EXISTS', k) == 0 then return {'rej', 'not_found'} end\n"
    "local again = remembered(0)\n"
    "if again then return again end\n"
    "if ARGV[5] ~= '' and redis.call('HGET', k, 'v') ~= ARGV[5] then\n"
    "  return {'rej', 'version_conflict'} end\n"
    "redis.call('DEL', k, ik)\n"
    "return {'ok', {}}\n",
    /* ARGV: ttl, key, fp, keep, max_items, op, sku, qty, price ('' for none),
     * if_match ('' for none), qty_max, price_max, sku_max. The checks and their
     * order are those of cart_apply (cart.c); reasons are cart_status_name()s.
     * Numbers arrive clamped (C side) and are parsed strictly. */
    [RSCRIPT_CHANGE] =
    RS_PRELUDE
    "local op, sku = ARGV[6], ARGV[7]\n"
    "local function int(s)\n"
    "  if not string.match(s, '^%-?%d+$') then error('bad number') end\n"
    "  return tonumber(s)\n"
    "end\n"
    "local function rej(why) return {'rej', why} end\n"
    "local maxi, qty, qmax, pmax, smax = int(ARGV[5]), int(ARGV[8]), int(ARGV[11]),\n"
    "  int(ARGV[12]), int(ARGV[13])\n"
    "local price = nil\n"
    "if ARGV[9] ~= '' then price = int(ARGV[9]) end\n"
    "local v = redis.call('HGET', k, 'v')\n"
    "if not v then return rej('not_found') end\n"
    "local nv = tonumber(v) + 1\n"
    "local again = remembered(nv)\n"
    "if again then return again end\n"
    "if ARGV[10] ~= '' and v ~= ARGV[10] then return rej('version_conflict') end\n"
    "if #sku > smax or not string.match(sku, '^[%w%._%-]+$') then return rej('invalid_sku') end\n"
    "if price and (price < 0 or price > pmax) then return rej('price_out_of_range') end\n"
    "local f = 's:' .. sku\n"
    "local cur = redis.call('HGET', k, f)\n"
    "local oq, oldp = 0, nil\n"
    "if cur then\n"
    "  local a, b = string.match(cur, '^(%d+) (%d+)$')\n"
    "  if not a then error('corrupt line') end\n"
    "  oq, oldp = tonumber(a), b\n"
    "end\n"
    "local nq\n"
    "if op == 'add' then\n"
    "  if qty < 1 or qty > qmax or oq + qty > qmax then return rej('qty_out_of_range') end\n"
    "  nq = oq + qty\n"
    "elseif op == 'set' then\n"
    "  if qty < 0 or qty > qmax then return rej('qty_out_of_range') end\n"
    "  if qty == 0 and not cur then return rej('no_such_item') end\n"
    "  nq = qty\n"
    "elseif op == 'remove' then\n"
    "  if not cur then return rej('no_such_item') end\n"
    "  nq = 0\n"
    "else return rej('qty_out_of_range') end\n"
    "if not cur then\n"
    "  if not price then return rej('price_required') end\n"
    "  if redis.call('HLEN', k) - 1 >= maxi then return rej('cart_full') end\n"
    "end\n"
    "if nq == 0 then redis.call('HDEL', k, f) redis.call('HSET', k, 'v', nv)\n"
    "else redis.call('HSET', k, f, nq .. ' ' .. (price or oldp), 'v', nv) end\n"
    "redis.call('EXPIRE', k, ttl)\n"
    "local all = fields()\n"
    "remember(all)\n"
    "return {'ok', all}\n",
};

/* The Lua text of script id (see rscript.h). */
const char *rscript_text(enum rscript_id id)
{
    return (unsigned)id < RSCRIPT_COUNT ? rscript_texts[id] : NULL;
}

/* Build the keys "cart:{id}" and "idem:{id}" (see rscript.h). */
bool rscript_keys(const char *id, struct rscript_keys *k)
{
    size_t n = id ? strnlen(id, CART_ID_MAX + 1) : 0;

    if (n == 0 || n > CART_ID_MAX)
        return false;
    snprintf(k->cart, sizeof k->cart, "cart:{%s}", id);
    snprintf(k->idem, sizeof k->idem, "idem:{%s}", id);
    return true;
}

/* Set ARGV i to the decimal v (the rest of a's slots untouched). */
static void rs_arg_num(struct rscript_args *a, int i, long long v)
{
    snprintf(a->num[i], sizeof(a->num[i]), "%lld", v);
    a->v[i] = a->num[i];
}

/* ARGV of get (see rscript.h). */
void rscript_args_ttl(struct rscript_args *a, int ttl)
{
    a->n = 1;
    rs_arg_num(a, 0, ttl);
}

/* The ARGV every keyed script starts with: ttl, key, fingerprint, entries kept. */
static void rs_args_keyed(struct rscript_args *a, int ttl, const struct store_idem *ik)
{
    bool keyed = store_idem_keyed(ik);
    rs_arg_num(a, 0, ttl);
    a->v[1] = keyed ? ik->key : "";
    snprintf(a->num[2], sizeof(a->num[2]), "%llu", keyed ? (unsigned long long)ik->fp : 0ULL);
    a->v[2] = a->num[2];
    rs_arg_num(a, 3, IDEM_KEEP);
}

/* ARGV of create (see rscript.h). */
void rscript_args_create(struct rscript_args *a, int ttl, const struct store_idem *ik)
{
    a->n = 4;
    rs_args_keyed(a, ttl, ik);
}

/* ARGV of del (see rscript.h). */
void rscript_args_del(struct rscript_args *a, int ttl, int64_t if_match,
                      const struct store_idem *ik)
{
    a->n = 5;
    rs_args_keyed(a, ttl, ik);
    a->num[4][0] = '\0';
    a->v[4] = a->num[4];
    if (if_match >= 0)
        rs_arg_num(a, 4, (long long)if_match);
}

/* Clamp v into lo..hi: values past a limit keep every comparison the script makes. */
static long long rs_clamp(int64_t v, long long lo, long long hi)
{
    return v < lo ? lo : v > hi ? hi : (long long)v;
}

/* ARGV of change (see rscript.h). */
enum cart_status rscript_args_change(struct rscript_args *a, const struct cart_change *chg,
                                     int ttl, size_t max_items, const struct store_idem *ik)
{
    static const char *const ops[] = { "add", "set", "remove" };

    if ((unsigned)chg->op > CART_OP_REMOVE)
        return CART_QTY_RANGE;    /* what cart_apply says to a non-op */
    if (!cart_sku_valid(chg->sku, strnlen(chg->sku, sizeof(chg->sku))))
        return CART_INVALID_SKU;
    a->n = 13;
    rs_args_keyed(a, ttl, ik);
    snprintf(a->num[4], sizeof(a->num[4]), "%zu", max_items);
    a->v[4] = a->num[4];
    a->v[5] = ops[chg->op];
    a->v[6] = chg->sku;
    rs_arg_num(a, 7, rs_clamp(chg->qty, -1, CART_QTY_MAX + 1));
    a->num[8][0] = a->num[9][0] = '\0';
    a->v[8] = a->num[8];
    a->v[9] = a->num[9];
    if (chg->has_price)
        rs_arg_num(a, 8, rs_clamp(chg->price, -1, CART_PRICE_MAX + 1));
    if (chg->if_match >= 0)
        rs_arg_num(a, 9, (long long)chg->if_match);
    rs_arg_num(a, 10, CART_QTY_MAX);
    rs_arg_num(a, 11, CART_PRICE_MAX);
    rs_arg_num(a, 12, CART_SKU_MAX);
    return CART_OK;
}

/* True when reply s is a string equal to lit. */
static bool rs_is(const redisReply *s, const char *lit)
{
    return s->type == REDIS_REPLY_STRING && s->len == strlen(lit) && memcmp(s->str, lit, s->len) == 0;
}

/* Strict unsigned decimal of 1..18 digits. */
static bool rs_num(const char *p, size_t len, int64_t *v)
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
struct rs_str {
    const char *p;
    size_t n;
};

/* One field "s:<sku>" with value "<qty> <price>" into c. */
static bool rs_line(struct cart *c, struct rs_str f, struct rs_str v)
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
    return rs_num(v.p, q, &qty) && rs_num(sp + 1, v.n - q - 1, &price) &&
           cart_push(c, sku, qty, price) == CART_OK;
}

/* The next part of a cart in body (a flat array of strings, or one string of
 * them joined by newlines; *at: the next element, or offset) into out; 1, 0
 * at the end, -1 when malformed. */
static int rs_part(const redisReply *body, size_t *at, struct rs_str *out)
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
static bool rs_hash(const redisReply *h, struct cart *c)
{
    bool have_v = false;
    size_t at = 0;
    struct rs_str f, v;
    int got;

    if (h->type == REDIS_REPLY_ARRAY ? h->elements % 2 || (h->elements && !h->element)
                                     : h->type != REDIS_REPLY_STRING)
        return false;
    while ((got = rs_part(h, &at, &f)) == 1) {
        if (rs_part(h, &at, &v) != 1)
            return false;
        if (f.n == 1 && f.p[0] == 'v') {
            if (have_v || !rs_num(v.p, v.n, &c->version))
                return false;
            have_v = true;
        } else if (f.n < 2 || memcmp(f.p, "s:", 2) != 0 || !rs_line(c, f, v)) {
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
static enum store_status rs_reject(const redisReply *why, enum cart_status *cst)
{
    if (rs_is(why, "not_found"))
        return STORE_NOT_FOUND;
    if (rs_is(why, "exists"))
        return STORE_EXISTS;
    if (rs_is(why, "idempotency_key_reused"))
        return STORE_KEY_REUSED;
    for (int c = CART_NO_ITEM; cst && c <= CART_CONFLICT; c++) {
        if (rs_is(why, cart_status_name((enum cart_status)c))) {
            *cst = (enum cart_status)c;
            return STORE_REJECTED;
        }
    }
    return STORE_ERROR;
}

/* Decode a script reply (see rscript.h). */
enum store_status rscript_decode(const struct redisReply *r, const char *id, int ttl,
                                 struct cart *out, enum cart_status *cst,
                                 char *err, size_t errlen)
{
    const redisReply *tag, *body;
    struct cart tmp;
    enum store_status st = STORE_ERROR;

    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !r->element ||
        !(tag = r->element[0]) || !(body = r->element[1]))
        goto bad;
    if (rs_is(tag, "rej")) {
        st = rs_reject(body, cst);
        if (st == STORE_ERROR)
            goto bad;
        return st;
    }
    if (!rs_is(tag, "ok") || (body->type != REDIS_REPLY_ARRAY && body->type != REDIS_REPLY_STRING))
        goto bad;
    if (body->type == REDIS_REPLY_ARRAY && body->elements == 0 && !out)
        return STORE_OK;          /* del: no cart comes back */
    cart_init(&tmp, id);
    if (!rs_hash(body, &tmp)) {
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

/* Decode a keyed script's reply (see rscript.h). */
enum store_status rscript_decode_keyed(const struct redisReply *r, const char *id, int ttl,
                                       bool create, struct cart *out, enum cart_status *cst,
                                       struct store_idem *ik, char *err, size_t errlen)
{
    struct cart tmp;
    size_t len = 0;

    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !r->element ||
        !r->element[0] || !rs_is(r->element[0], "replay"))
        return rscript_decode(r, id, ttl, out, cst, err, errlen);
    if (!ik || !r->element[1])
        goto bad;
    cart_init(&tmp, id);
    if (!rs_hash(r->element[1], &tmp)) {
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

/* Map an error reply to a status (see rscript.h). */
enum store_status rscript_error(const struct redisReply *r, char *err, size_t errlen)
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
