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
#include "rscript.h"

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
    struct rpipe *pipe;           /* carries every cart call */
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
            rconn_err(err, errlen, "redis: %s", "out of memory");
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
            st = rscript_error(r, err, errlen);
        else
            rconn_err(err, errlen, "redis: unexpected reply to %s", argv[0]);
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
    }
    if (r)
        freeReplyObject(r);
    return st;
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
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const struct store_ops sr_ops = {
    .name = "redis",
    .ping = sr_ping,
    .stats = sr_stats,
    .submit = sr_submit,
    .destroy = sr_destroy,
};

/* Open a Redis store (see store_redis.h). */
int store_redis_open(const struct store_redis_cfg *cfg, struct store *out, char *err,
                     size_t errlen)
{
    struct sr *s;

    if (!cfg || !out || !cfg->url || cfg->timeout_ms <= 0 || cfg->ttl <= 0 ||
        cfg->max_items == 0) {
        rconn_err(err, errlen, "%s", "redis store: bad configuration");
        return -1;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        rconn_err(err, errlen, "%s", "redis store: out of memory");
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
        rconn_err(err, errlen, "%s", "redis store: no thread key left");
        return -1;
    }
    struct rpipe_cfg pc = { .url = s->url, .tv = s->tv, .ttl = s->ttl,
                            .max_items = s->max_items, .errors = &s->errors };
    if (!(s->pipe = rpipe_start(&pc, err, errlen))) {
        pthread_key_delete(s->key);
        free(s);
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    out->ops = &sr_ops;
    out->self = s;
    return 0;
}
