/* store_redis: the Redis cart store of stateless-svc (see store_redis.h). */
#include "store_redis.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cfg.h"

#define SR_KEY_MAX (CART_ID_MAX + 8)   /* "cart:{" id "}" */
#define SR_SHA_LEN 40

/* The scripts; every reply is {"ok", <HGETALL or {}>} or {"rej", <reason>}. */
enum { SR_CREATE, SR_GET, SR_CHANGE, SR_DEL, SR_NSCRIPTS };
#define SR_MAX_ARGS 7

static const char *const sr_scripts[SR_NSCRIPTS] = {
    [SR_CREATE] = /* ARGV: ttl */
    "if redis.call('EXISTS', KEYS[1]) == 1 then return {'rej', 'exists'} end\n"
    "redis.call('HSET', KEYS[1], 'v', '0')\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "return {'ok', redis.call('HGETALL', KEYS[1])}\n",
    [SR_GET] = /* ARGV: ttl */
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {'rej', 'not_found'} end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "return {'ok', redis.call('HGETALL', KEYS[1])}\n",
    [SR_DEL] = /* ARGV: if_match ('' for none) */
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {'rej', 'not_found'} end\n"
    "if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then\n"
    "  return {'rej', 'version_conflict'} end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return {'ok', {}}\n",
    /* ARGV: ttl, max_items, op, sku, qty, price ('' for none), if_match ('' for none).
     * The checks and their order are those of cart_apply (cart.c); reasons are
     * cart_status_name()s. Numbers arrive clamped (C side) and are parsed strictly. */
    [SR_CHANGE] =
    "local k, op, sku = KEYS[1], ARGV[3], ARGV[4]\n"
    "local function int(s)\n"
    "  if #s > 12 or not string.match(s, '^%-?%d+$') then error('bad number') end\n"
    "  return tonumber(s)\n"
    "end\n"
    "local function rej(why) return {'rej', why} end\n"
    "local maxi, qty = int(ARGV[2]), int(ARGV[5])\n"
    "local price = nil\n"
    "if ARGV[6] ~= '' then price = int(ARGV[6]) end\n"
    "if redis.call('EXISTS', k) == 0 then return rej('not_found') end\n"
    "if ARGV[7] ~= '' and redis.call('HGET', k, 'v') ~= ARGV[7] then\n"
    "  return rej('version_conflict') end\n"
    "if #sku > 64 or not string.match(sku, '^[%w%._%-]+$') then return rej('invalid_sku') end\n"
    "if price and (price < 0 or price > 1000000000) then return rej('price_out_of_range') end\n"
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
    "  if qty < 1 or qty > 9999 or oq + qty > 9999 then return rej('qty_out_of_range') end\n"
    "  nq = oq + qty\n"
    "elseif op == 'set' then\n"
    "  if qty < 0 or qty > 9999 then return rej('qty_out_of_range') end\n"
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
    "if nq == 0 then redis.call('HDEL', k, f)\n"
    "else redis.call('HSET', k, f, nq .. ' ' .. (price or oldp)) end\n"
    "redis.call('HINCRBY', k, 'v', 1)\n"
    "redis.call('EXPIRE', k, ARGV[1])\n"
    "return {'ok', redis.call('HGETALL', k)}\n",
};

/* One thread's connection, its script hashes, and its place in the store's list. */
struct sr_conn {
    redisContext *c;
    struct sr *s;
    char sha[SR_NSCRIPTS][SR_SHA_LEN + 1];
    bool closed;                  /* the last failure: the server closed the connection */
    struct sr_conn *prev, *next;
};

struct sr {
    struct cfg_redis url;
    struct timeval tv;
    int ttl;
    size_t max_items;
    pthread_key_t key;
    pthread_mutex_t mu;           /* guards conns */
    struct sr_conn *conns;        /* every live thread's connection */
    uint64_t errors;              /* atomic */
};

/* Format an error into err (which may be NULL). */
static void sr_err(char *err, size_t errlen, const char *fmt, const char *arg)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, arg);
}

/* Count backend failures for stats, then pass the status through. */
static enum store_status sr_count(struct sr *s, enum store_status st)
{
    if (st == STORE_UNAVAILABLE || st == STORE_ERROR)
        __atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
    return st;
}

/* Unlink a connection from its store and free it (also the thread-exit destructor). */
static void sr_conn_free(void *p)
{
    struct sr_conn *k = p;
    struct sr *s = k->s;

    pthread_mutex_lock(&s->mu);
    if (k->prev)
        k->prev->next = k->next;
    else
        s->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    pthread_mutex_unlock(&s->mu);
    if (k->c)
        redisFree(k->c);
    free(k);
}

/* Forget a dead context: the next command reconnects. */
static void sr_drop(struct sr_conn *k)
{
    if (k->c) {
        redisFree(k->c);
        k->c = NULL;
    }
}

/* Send one command; NULL (and the context dropped) on a transport error. */
static redisReply *sr_raw(struct sr_conn *k, int argc, const char **argv, const size_t *lens,
                          char *err, size_t errlen)
{
    redisReply *r = redisCommandArgv(k->c, argc, argv, lens);

    k->closed = false;
    if (!r) {
        k->closed = k->c->err == REDIS_ERR_EOF ||
                    (k->c->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE));
        sr_err(err, errlen, "redis: %s", k->c->errstr[0] ? k->c->errstr : "no reply");
        sr_drop(k);
    }
    return r;
}

/* Run AUTH or SELECT on a fresh context; false with err set on failure. */
static bool sr_setup_cmd(struct sr_conn *k, const char *cmd, const char *arg,
                         char *err, size_t errlen)
{
    const char *argv[2] = { cmd, arg };
    size_t lens[2] = { strlen(cmd), strlen(arg) };
    redisReply *r = sr_raw(k, 2, argv, lens, err, errlen);
    bool ok = r && r->type == REDIS_REPLY_STATUS;

    if (r && !ok) {
        sr_err(err, errlen, "redis: %s", r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        sr_drop(k);
    }
    if (r)
        freeReplyObject(r);
    return ok;
}

/* Connect, set the command timeout, AUTH and SELECT; false with err set. */
static bool sr_connect(struct sr *s, struct sr_conn *k, char *err, size_t errlen)
{
    char db[16];

    k->c = redisConnectWithTimeout(s->url.host, s->url.port, s->tv);
    if (!k->c) {
        sr_err(err, errlen, "redis: %s", "out of memory");
        return false;
    }
    if (k->c->err || redisSetTimeout(k->c, s->tv) != REDIS_OK) {
        sr_err(err, errlen, "redis: %s", k->c->errstr[0] ? k->c->errstr : "connect failed");
        sr_drop(k);
        return false;
    }
    if (s->url.password[0] && !sr_setup_cmd(k, "AUTH", s->url.password, err, errlen))
        return false;
    snprintf(db, sizeof(db), "%d", s->url.db);
    if (s->url.db != 0 && !sr_setup_cmd(k, "SELECT", db, err, errlen))
        return false;
    return true;
}

/* This thread's connection, connected (*fresh: just now); NULL when Redis is unreachable. */
static struct sr_conn *sr_conn_get(struct sr *s, bool *fresh, char *err, size_t errlen)
{
    struct sr_conn *k = pthread_getspecific(s->key);

    if (!k) {
        k = calloc(1, sizeof(*k));
        if (!k || pthread_setspecific(s->key, k) != 0) {
            free(k);
            sr_err(err, errlen, "redis: %s", "out of memory");
            return NULL;
        }
        k->s = s;
        pthread_mutex_lock(&s->mu);
        k->next = s->conns;
        if (s->conns)
            s->conns->prev = k;
        s->conns = k;
        pthread_mutex_unlock(&s->mu);
    }
    *fresh = !k->c;
    if (!k->c && !sr_connect(s, k, err, errlen))
        return NULL;
    return k;
}

/* Worth one more try: a read failed because a reused connection had been closed
 * (e.g. Redis restarted). Never after a timeout, never for a change. */
static bool sr_retry(bool is_read, bool fresh, const struct sr_conn *k, int attempt)
{
    return is_read && !fresh && k->closed && attempt == 0;
}

/* Map an error reply to a status: transient server states count as unavailable. */
static enum store_status sr_error_reply(const redisReply *r, char *err, size_t errlen)
{
    static const char *const transient[] = { "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN",
                                             "NOAUTH", "READONLY", "CLUSTERDOWN" };

    sr_err(err, errlen, "redis: %s", r->str);
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
        size_t n = strlen(transient[i]);

        if (r->len >= n && strncmp(r->str, transient[i], n) == 0)
            return STORE_UNAVAILABLE;
    }
    return STORE_ERROR;
}

/* SCRIPT LOAD script i into this connection's sha table. */
static enum store_status sr_load(struct sr_conn *k, int i, char *err, size_t errlen)
{
    const char *argv[3] = { "SCRIPT", "LOAD", sr_scripts[i] };
    redisReply *r = sr_raw(k, 3, argv, NULL, err, errlen);
    enum store_status st = STORE_OK;

    if (!r)
        return STORE_UNAVAILABLE;
    if (r->type == REDIS_REPLY_ERROR)
        st = sr_error_reply(r, err, errlen);
    else if (r->type != REDIS_REPLY_STRING || r->len != SR_SHA_LEN) {
        sr_err(err, errlen, "redis: %s", "bad SCRIPT LOAD reply");
        st = STORE_ERROR;
    } else
        memcpy(k->sha[i], r->str, SR_SHA_LEN + 1);
    freeReplyObject(r);
    return st;
}

/* EVALSHA script i on key with args (loading it first, reloading on NOSCRIPT once). */
static enum store_status sr_eval(struct sr_conn *k, int i, const char *key, int nargs,
                                 const char **args, redisReply **out, char *err, size_t errlen)
{
    const char *argv[4 + SR_MAX_ARGS];
    enum store_status st;

    *out = NULL;
    if (nargs > SR_MAX_ARGS)
        return STORE_ERROR;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!k->sha[i][0] && (st = sr_load(k, i, err, errlen)) != STORE_OK)
            return st;
        argv[0] = "EVALSHA";
        argv[1] = k->sha[i];
        argv[2] = "1";
        argv[3] = key;
        memcpy(&argv[4], args, (size_t)nargs * sizeof(args[0]));
        *out = sr_raw(k, 4 + nargs, argv, NULL, err, errlen);
        if (!*out)
            return STORE_UNAVAILABLE;
        if ((*out)->type != REDIS_REPLY_ERROR)
            return STORE_OK;
        if (attempt == 0 && strncmp((*out)->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(*out);
            *out = NULL;
            k->sha[i][0] = '\0';
            continue;
        }
        st = sr_error_reply(*out, err, errlen);
        freeReplyObject(*out);
        *out = NULL;
        return st;
    }
    return STORE_ERROR;
}

/* Build "cart:{id}"; false when the id cannot name a cart. */
static bool sr_key(const char *id, char key[SR_KEY_MAX + 1])
{
    size_t n = id ? strnlen(id, CART_ID_MAX + 1) : 0;

    if (n == 0 || n > CART_ID_MAX)
        return false;
    snprintf(key, SR_KEY_MAX + 1, "cart:{%s}", id);
    return true;
}

/* True when reply s is a string equal to lit. */
static bool sr_is(const redisReply *s, const char *lit)
{
    return s->type == REDIS_REPLY_STRING && s->len == strlen(lit) && memcmp(s->str, lit, s->len) == 0;
}

/* Strict unsigned decimal of 1..18 digits. */
static bool sr_num(const char *p, size_t len, int64_t *v)
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

/* One field "s:<sku>" with value "<qty> <price>" into c. */
static bool sr_line(struct cart *c, const redisReply *f, const redisReply *v)
{
    char sku[CART_SKU_MAX + 1];
    size_t n = f->len - 2, q;
    const char *sp = memchr(v->str, ' ', v->len);
    int64_t qty, price;

    if (!cart_sku_valid(f->str + 2, n) || !sp)
        return false;
    memcpy(sku, f->str + 2, n);
    sku[n] = '\0';
    q = (size_t)(sp - v->str);
    return sr_num(v->str, q, &qty) && sr_num(sp + 1, v->len - q - 1, &price) &&
           cart_push(c, sku, qty, price) == CART_OK;
}

/* A flat HGETALL array into c: "v" exactly once, "s:" lines, nothing else. */
static bool sr_hash(const redisReply *h, struct cart *c)
{
    bool have_v = false;

    if (h->elements % 2 || (h->elements && !h->element))
        return false;
    for (size_t i = 0; i < h->elements; i += 2) {
        const redisReply *f = h->element[i], *v = h->element[i + 1];

        if (!f || !v || f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return false;
        if (f->len == 1 && f->str[0] == 'v') {
            if (have_v || !sr_num(v->str, v->len, &c->version))
                return false;
            have_v = true;
        } else if (f->len < 2 || memcmp(f->str, "s:", 2) != 0 || !sr_line(c, f, v)) {
            return false;
        }
    }
    cart_sort(c);
    for (size_t i = 1; i < c->n; i++)
        if (strcmp(c->items[i - 1].sku, c->items[i].sku) == 0)
            return false;
    return have_v;
}

/* A {"rej", reason} reply: not_found, exists, or a cart_status_name (needs cst). */
static enum store_status sr_reject(const redisReply *why, enum cart_status *cst)
{
    if (sr_is(why, "not_found"))
        return STORE_NOT_FOUND;
    if (sr_is(why, "exists"))
        return STORE_EXISTS;
    for (int c = CART_NO_ITEM; cst && c <= CART_CONFLICT; c++) {
        if (sr_is(why, cart_status_name((enum cart_status)c))) {
            *cst = (enum cart_status)c;
            return STORE_REJECTED;
        }
    }
    return STORE_ERROR;
}

/* Decode a script reply (see store_redis.h). */
enum store_status store_redis_decode(const struct redisReply *r, const char *id, int ttl,
                                     struct cart *out, enum cart_status *cst,
                                     char *err, size_t errlen)
{
    const redisReply *tag, *body;
    struct cart tmp;
    enum store_status st = STORE_ERROR;

    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !r->element ||
        !(tag = r->element[0]) || !(body = r->element[1]))
        goto bad;
    if (sr_is(tag, "rej")) {
        st = sr_reject(body, cst);
        if (st == STORE_ERROR)
            goto bad;
        return st;
    }
    if (!sr_is(tag, "ok") || body->type != REDIS_REPLY_ARRAY)
        goto bad;
    if (body->elements == 0 && !out)
        return STORE_OK;          /* del: no cart comes back */
    cart_init(&tmp, id);
    if (!sr_hash(body, &tmp)) {
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
    sr_err(err, errlen, "%s", "redis: malformed script reply");
    return STORE_ERROR;
}

/* Run script i for cart id and decode its reply into out/cst. */
static enum store_status sr_run(struct sr *s, int i, const char *id, int nargs,
                                const char **args, struct cart *out, enum cart_status *cst,
                                char *err, size_t errlen)
{
    char key[SR_KEY_MAX + 1];
    struct sr_conn *k;
    redisReply *r;
    enum store_status st;

    if (!sr_key(id, key)) {
        sr_err(err, errlen, "%s", "bad cart id");
        return i == SR_CREATE ? sr_count(s, STORE_ERROR) : STORE_NOT_FOUND;
    }
    for (int attempt = 0;; attempt++) {
        bool fresh;

        k = sr_conn_get(s, &fresh, err, errlen);
        if (!k)
            return sr_count(s, STORE_UNAVAILABLE);
        st = sr_eval(k, i, key, nargs, args, &r, err, errlen);
        if (st == STORE_OK)
            break;
        if (!sr_retry(i == SR_GET, fresh, k, attempt))
            return sr_count(s, st);
    }
    st = store_redis_decode(r, id, s->ttl, out, cst, err, errlen);
    freeReplyObject(r);
    return sr_count(s, st);
}

/* Run create or get: both take only the TTL. */
static enum store_status sr_ttl_op(struct sr *s, int i, const char *id, struct cart *out,
                                   char *err, size_t errlen)
{
    char ttl[24];
    const char *args[1] = { ttl };

    snprintf(ttl, sizeof(ttl), "%d", s->ttl);
    return sr_run(s, i, id, 1, args, out, NULL, err, errlen);
}

/* ops.create: a new cart with version 0. */
static enum store_status sr_create(void *self, const char *id, struct cart *out,
                                   char *err, size_t errlen)
{
    return sr_ttl_op(self, SR_CREATE, id, out, err, errlen);
}

/* ops.get: read a cart and renew its TTL. */
static enum store_status sr_get(void *self, const char *id, struct cart *out,
                                char *err, size_t errlen)
{
    return sr_ttl_op(self, SR_GET, id, out, err, errlen);
}

/* Clamp v into lo..hi: values past a limit keep every comparison the script makes. */
static long long sr_clamp(int64_t v, long long lo, long long hi)
{
    return v < lo ? lo : v > hi ? hi : (long long)v;
}

/* ops.change: one add, set or remove in one script call. */
static enum store_status sr_change(void *self, const char *id, const struct cart_change *chg,
                                   struct cart *out, enum cart_status *cst,
                                   char *err, size_t errlen)
{
    static const char *const ops[] = { "add", "set", "remove" };
    struct sr *s = self;
    char ttl[24], maxi[24], qty[24], price[24], ifm[24];
    const char *args[7] = { ttl, maxi, NULL, chg->sku, qty, price, ifm };
    enum cart_status dummy;

    if (!cst)
        cst = &dummy;
    *cst = CART_OK;
    if ((unsigned)chg->op > CART_OP_REMOVE) {
        *cst = CART_QTY_RANGE;    /* what cart_apply says to a non-op */
        return STORE_REJECTED;
    }
    if (!cart_sku_valid(chg->sku, strnlen(chg->sku, sizeof(chg->sku)))) {
        *cst = CART_INVALID_SKU;
        return STORE_REJECTED;
    }
    args[2] = ops[chg->op];
    snprintf(ttl, sizeof(ttl), "%d", s->ttl);
    snprintf(maxi, sizeof(maxi), "%zu", s->max_items);
    snprintf(qty, sizeof(qty), "%lld", sr_clamp(chg->qty, -1, CART_QTY_MAX + 1));
    price[0] = '\0';
    if (chg->has_price)
        snprintf(price, sizeof(price), "%lld", sr_clamp(chg->price, -1, CART_PRICE_MAX + 1));
    ifm[0] = '\0';
    if (chg->if_match >= 0)
        snprintf(ifm, sizeof(ifm), "%lld", (long long)chg->if_match);
    return sr_run(s, SR_CHANGE, id, 7, args, out, cst, err, errlen);
}

/* ops.del: delete a cart, honouring If-Match. */
static enum store_status sr_del(void *self, const char *id, int64_t if_match,
                                enum cart_status *cst, char *err, size_t errlen)
{
    char ifm[24] = "";
    const char *args[1] = { ifm };
    enum cart_status dummy;

    if (!cst)
        cst = &dummy;
    *cst = CART_OK;
    if (if_match >= 0)
        snprintf(ifm, sizeof(ifm), "%lld", (long long)if_match);
    return sr_run(self, SR_DEL, id, 1, args, NULL, cst, err, errlen);
}

/* Run a read-only command and hand its reply to the caller (NULL on failure). */
static enum store_status sr_simple(struct sr *s, int argc, const char **argv, int want,
                                   redisReply **out, char *err, size_t errlen)
{
    struct sr_conn *k;
    redisReply *r = NULL;

    *out = NULL;
    for (int attempt = 0; !r; attempt++) {
        bool fresh;

        k = sr_conn_get(s, &fresh, err, errlen);
        if (!k)
            return sr_count(s, STORE_UNAVAILABLE);
        r = sr_raw(k, argc, argv, NULL, err, errlen);
        if (!r && !sr_retry(true, fresh, k, attempt))
            return sr_count(s, STORE_UNAVAILABLE);
    }
    if (r->type != want) {
        enum store_status st = STORE_ERROR;

        if (r->type == REDIS_REPLY_ERROR)
            st = sr_error_reply(r, err, errlen);
        else
            sr_err(err, errlen, "redis: unexpected reply to %s", argv[0]);
        freeReplyObject(r);
        return sr_count(s, st);
    }
    *out = r;
    return STORE_OK;
}

/* ops.ping: PING. */
static enum store_status sr_ping(void *self, char *err, size_t errlen)
{
    const char *argv[1] = { "PING" };
    redisReply *r;
    enum store_status st = sr_simple(self, 1, argv, REDIS_REPLY_STATUS, &r, err, errlen);

    if (r)
        freeReplyObject(r);
    return st;
}

/* ops.stats: DBSIZE (the database is dedicated to carts) and the error counter. */
static enum store_status sr_stats(void *self, struct store_stats *out, char *err, size_t errlen)
{
    struct sr *s = self;
    const char *argv[1] = { "DBSIZE" };
    redisReply *r;
    enum store_status st = sr_simple(s, 1, argv, REDIS_REPLY_INTEGER, &r, err, errlen);

    if (out) {
        out->carts = r && r->integer > 0 ? (uint64_t)r->integer : 0;
        out->errors = __atomic_load_n(&s->errors, __ATOMIC_RELAXED);
    }
    if (r)
        freeReplyObject(r);
    return st;
}

/* ops.destroy: free every connection; no thread may still be using the store. */
static void sr_destroy(void *self)
{
    struct sr *s = self;

    pthread_key_delete(s->key);
    while (s->conns)
        sr_conn_free(s->conns);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const struct store_ops sr_ops = {
    .name = "redis",
    .create = sr_create,
    .get = sr_get,
    .change = sr_change,
    .del = sr_del,
    .ping = sr_ping,
    .stats = sr_stats,
    .destroy = sr_destroy,
};

/* Open a Redis store (see store_redis.h). */
int store_redis_open(const struct store_redis_cfg *cfg, struct store *out, char *err,
                     size_t errlen)
{
    struct sr *s;

    if (!cfg || !out || !cfg->url || cfg->timeout_ms <= 0 || cfg->ttl <= 0 ||
        cfg->max_items == 0) {
        sr_err(err, errlen, "%s", "redis store: bad configuration");
        return -1;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        sr_err(err, errlen, "%s", "redis store: out of memory");
        return -1;
    }
    if (cfg_parse_redis_url(cfg->url, &s->url, err, errlen) != 0) {
        free(s);
        return -1;
    }
    s->tv.tv_sec = cfg->timeout_ms / 1000;
    s->tv.tv_usec = (cfg->timeout_ms % 1000) * 1000;
    s->ttl = cfg->ttl;
    s->max_items = cfg->max_items;
    if (pthread_key_create(&s->key, sr_conn_free) != 0) {
        free(s);
        sr_err(err, errlen, "%s", "redis store: no thread key left");
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    out->ops = &sr_ops;
    out->self = s;
    return 0;
}
