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
#include "rconn.h"
#include "rpipe.h"
#include "rreply.h"
#include "rscript.h"
#include "rsent.h"
#include "util.h"

/* One thread's connection and its place in the store's list. */
struct sr_conn {
    struct rconn r;
    struct sr *s;
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
    struct rpipe *pipe;           /* carries submitted (asynchronous) calls */
    struct rsent *sent;           /* NULL: REDIS_URL's host */
};

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
    rconn_drop(&k->r);
    free(k);
}

/* This thread's connection, connected (*fresh: just now); NULL when Redis is unreachable. */
static struct sr_conn *sr_conn_get(struct sr *s, bool *fresh, char *err, size_t errlen)
{
    struct sr_conn *k = pthread_getspecific(s->key);

    if (!k) {
        k = calloc(1, sizeof(*k));
        if (!k || pthread_setspecific(s->key, k) != 0) {
            free(k);
            util_seterr(err, errlen, "redis: %s", "out of memory");
            return NULL;
        }
        k->s = s;
        k->r.sent = s->sent;
        pthread_mutex_lock(&s->mu);
        k->next = s->conns;
        if (s->conns)
            s->conns->prev = k;
        s->conns = k;
        pthread_mutex_unlock(&s->mu);
    }
    rconn_check(&k->r);
    *fresh = !k->r.c;
    if (!k->r.c && !rconn_connect(&k->r, &s->url, s->tv, err, errlen))
        return NULL;
    return k;
}

/* Worth one more try: a read failed because a reused connection had been closed
 * (e.g. Redis restarted). Never after a timeout. */
static bool sr_retry(bool is_read, bool fresh, const struct sr_conn *k, int attempt)
{
    return is_read && !fresh && k->r.closed && attempt == 0;
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
        r = rconn_cmd(&k->r, argc, argv, NULL, err, errlen);
        if (!r && !sr_retry(true, fresh, k, attempt))
            return sr_count(s, STORE_UNAVAILABLE);
    }
    if (r->type != want) {
        enum store_status st = STORE_ERROR;

        if (r->type == REDIS_REPLY_ERROR)
            st = rreply_error(r, err, errlen);
        else
            util_seterr(err, errlen, "redis: unexpected reply to %s", argv[0]);
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

/* ops.stats: DBSIZE (the database is dedicated to carts, two keys each: the
 * cart and its idempotency record, made and expired together) and the error counter. */
static enum store_status sr_stats(void *self, struct store_stats *out, char *err, size_t errlen)
{
    struct sr *s = self;
    const char *argv[1] = { "DBSIZE" };
    redisReply *r;
    enum store_status st = sr_simple(s, 1, argv, REDIS_REPLY_INTEGER, &r, err, errlen);

    if (out) {
        out->carts = r && r->integer > 0 ? ((uint64_t)r->integer + 1) / RSCRIPT_NKEYS : 0;
        out->errors = __atomic_load_n(&s->errors, __ATOMIC_RELAXED);
        out->failovers = s->sent ? rsent_failovers(s->sent) : 0;
    }
    if (r)
        freeReplyObject(r);
    return st;
}

/* ops.where: the primary in use, host:port (the socket path for unix://). */
static void sr_where(void *self, char *out, size_t outlen)
{
    struct sr *s = self;
    struct rsent_addr a;

    if (!s->sent)
        snprintf(out, outlen, s->url.unix_socket ? "%s" : "%s:%d", s->url.host, s->url.port);
    else if (rsent_primary(s->sent, &a))
        snprintf(out, outlen, "%s:%d", a.host, a.port);
    else
        snprintf(out, outlen, "unknown");
}

/* ops.submit: queue a call on the pipeline. */
static void sr_submit(void *self, struct store_req *req)
{
    struct sr *s = self;
    rpipe_submit(s->pipe, req);
}

/* ops.destroy: complete submitted calls, free every connection; no thread may
 * still be using the store. */
static void sr_destroy(void *self)
{
    struct sr *s = self;

    rpipe_stop(s->pipe);
    pthread_key_delete(s->key);
    while (s->conns)
        sr_conn_free(s->conns);
    rsent_stop(s->sent);
    pthread_mutex_destroy(&s->mu);
    memset(&s->url, 0, sizeof s->url);
    free(s);
}

static const struct store_ops sr_ops = {
    .name = "redis",
    .ping = sr_ping,
    .stats = sr_stats,
    .where = sr_where,
    .submit = sr_submit,
    .destroy = sr_destroy,
};

/* With sentinels configured: start following them; -1 with err set. */
static int sr_sentinels(struct sr *s, const struct store_redis_cfg *cfg, char *err, size_t errlen)
{
    struct rsent_cfg rc = { .tv = s->tv };
    if (!cfg->sentinels || !cfg->sentinels[0])
        return 0;
    rc.n = cfg_parse_peers(cfg->sentinels, rc.sentinels, CFG_MAX_PEERS, err, errlen);
    if (rc.n < 0)
        return -1;
    snprintf(rc.master, sizeof rc.master, "%s", cfg->master ? cfg->master : "mymaster");
    memcpy(rc.password, s->url.password, sizeof rc.password);
    s->sent = rsent_start(&rc, err, errlen);
    memset(rc.password, 0, sizeof rc.password);
    return s->sent ? 0 : -1;
}

/* Try one connection at start-up: a refused password is an error now (the
 * operator sees it at once); an unreachable Redis is not (it may come later). */
static int sr_first_contact(struct sr *s, char *err, size_t errlen)
{
    struct rconn k = { .sent = s->sent };
    char why[256] = "";
    const char *argv[1] = { "PING" };
    redisReply *r = NULL;

    if (rconn_connect(&k, &s->url, s->tv, why, sizeof why) &&
        (r = rconn_cmd(&k, 1, argv, NULL, why, sizeof why)) && r->type == REDIS_REPLY_ERROR) {
        snprintf(why, sizeof why, "redis: %s", r->str);
        k.auth_failed = strncmp(r->str, "NOAUTH", 6) == 0;
    }
    if (r)
        freeReplyObject(r);
    if (k.auth_failed) {
        rconn_drop(&k);
        snprintf(err, errlen, "redis: authentication failed (%.200s); check REDIS_PASSWORD_FILE "
                 "or REDIS_URL", why + (strncmp(why, "redis: ", 7) == 0 ? 7 : 0));
        return -1;
    }
    rconn_drop(&k);
    return 0;
}

/* Parse the URL, take the password and the timeout into a new sr; NULL with err set. */
static struct sr *sr_new(const struct store_redis_cfg *cfg, char *err, size_t errlen)
{
    struct sr *s = calloc(1, sizeof(*s));

    if (!s) {
        util_seterr(err, errlen, "%s", "redis store: out of memory");
        return NULL;
    }
    if (cfg_parse_redis_url(cfg->url, &s->url, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    if (cfg->password && cfg->password[0]) {
        if (strlen(cfg->password) >= sizeof s->url.password) {
            util_seterr(err, errlen, "%s", "redis store: the password is too long");
            free(s);
            return NULL;
        }
        snprintf(s->url.password, sizeof s->url.password, "%s", cfg->password);
    }
    s->tv.tv_sec = cfg->timeout_ms / 1000;
    s->tv.tv_usec = (cfg->timeout_ms % 1000) * 1000;
    s->ttl = cfg->ttl;
    s->max_items = cfg->max_items;
    return s;
}

/* Open a Redis store (see store_redis.h). */
int store_redis_open(const struct store_redis_cfg *cfg, struct store *out, char *err,
                     size_t errlen)
{
    struct sr *s;

    if (!cfg || !out || !cfg->url || cfg->timeout_ms <= 0 || cfg->ttl <= 0 ||
        cfg->max_items == 0 || cfg->wait_replicas < 0) {
        util_seterr(err, errlen, "%s", "redis store: bad configuration");
        return -1;
    }
    if (err && errlen)
        err[0] = '\0';
    if (!(s = sr_new(cfg, err, errlen)))
        return -1;
    if (sr_sentinels(s, cfg, err, errlen) != 0 || sr_first_contact(s, err, errlen) != 0 ||
        pthread_key_create(&s->key, sr_conn_free) != 0) {
        if (err && errlen && !err[0])
            util_seterr(err, errlen, "%s", "redis store: no thread key left");
        rsent_stop(s->sent);
        free(s);
        return -1;
    }
    struct rpipe_cfg pc = { .url = s->url, .tv = s->tv, .ttl = s->ttl,
                            .max_items = s->max_items, .errors = &s->errors, .sent = s->sent,
                            .wait_replicas = cfg->wait_replicas,
                            .wait_ms = cfg->timeout_ms / 2 > 0 ? cfg->timeout_ms / 2 : 1 };
    if (!(s->pipe = rpipe_start(&pc, err, errlen))) {
        pthread_key_delete(s->key);
        rsent_stop(s->sent);
        free(s);
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    out->ops = &sr_ops;
    out->self = s;
    return 0;
}
