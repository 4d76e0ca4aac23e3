/* rpipe: the Redis store's pipeline. See rpipe.h. */
#include "rpipe.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rconn.h"
#include "rreply.h"
#include "rscript.h"
#include "util.h"

/* One queued request, ready to send. */
struct rpipe_item {
    struct store_req *q;
    int script;
    struct rscript_keys keys;
    struct rscript_args a;
    bool retry;                   /* run again synchronously (NOSCRIPT, or a read after EOF) */
    redisReply *r;                /* its reply, until the batch is answered */
};

struct rpipe {
    struct rpipe_cfg cfg;
    pthread_t thread;
    pthread_mutex_t mu;           /* guards head, tail, stop */
    pthread_cond_t cv;
    struct store_req *head, *tail;
    bool stop;
    struct rconn k;               /* the pipeline thread's own */
    bool gate;                    /* check the replicas before the next batch (see rpipe_gate) */
    struct rpipe_item items[RPIPE_BATCH];
};

/* Record the outcome and hand the request back. */
static void rpipe_done(struct rpipe *p, struct store_req *q, enum store_status st)
{
    if (st == STORE_UNAVAILABLE || st == STORE_ERROR)
        __atomic_fetch_add(p->cfg.errors, 1, __ATOMIC_RELAXED);
    q->st = st;
    q->done(q);
}

/* Build the script call of q into it; false when q was answered at once. */
static bool rpipe_prepare(struct rpipe *p, struct store_req *q, struct rpipe_item *it)
{
    static const int script[] = { [STORE_OP_CREATE] = RSCRIPT_CREATE,
                                  [STORE_OP_GET] = RSCRIPT_GET,
                                  [STORE_OP_CHANGE] = RSCRIPT_CHANGE,
                                  [STORE_OP_DEL] = RSCRIPT_DEL };
    it->q = q;
    it->retry = false;
    it->r = NULL;
    it->script = script[q->op];
    q->cst = CART_OK;
    q->err[0] = '\0';
    if (!rscript_keys(q->id, &it->keys)) {
        snprintf(q->err, sizeof q->err, "bad cart id");
        rpipe_done(p, q, q->op == STORE_OP_CREATE ? STORE_ERROR : STORE_NOT_FOUND);
        return false;
    }
    if (q->op == STORE_OP_CHANGE) {
        q->cst = rscript_args_change(&it->a, &q->chg, p->cfg.ttl, p->cfg.max_items, &q->idem);
        if (q->cst != CART_OK) {
            rpipe_done(p, q, STORE_REJECTED);
            return false;
        }
    } else if (q->op == STORE_OP_DEL) {
        rscript_args_del(&it->a, p->cfg.ttl, &q->if_match, &q->idem);
    } else if (q->op == STORE_OP_CREATE) {
        rscript_args_create(&it->a, p->cfg.ttl, &q->idem);
    } else {
        rscript_args_ttl(&it->a, p->cfg.ttl);
    }
    return true;
}

/* Decode a script reply (or an error reply) and complete the item. */
static void rpipe_answer(struct rpipe *p, struct rpipe_item *it, redisReply *r)
{
    struct store_req *q = it->q;
    enum store_status st = r->type == REDIS_REPLY_ERROR
        ? rreply_error(r, q->err, sizeof q->err)
        : rreply_decode_keyed(r, q->id, p->cfg.ttl, q->op == STORE_OP_CREATE, q->out, &q->cst,
                               &q->idem, q->err, sizeof q->err);
    rpipe_done(p, q, st);
}

/* Connect when needed and load the scripts; false with err set. */
static bool rpipe_ready(struct rpipe *p, char *err, size_t errlen)
{
    rconn_check(&p->k);
    if (!p->k.c) {
        if (!rconn_connect(&p->k, &p->cfg.url, p->cfg.tv, err, errlen))
            return false;
        p->gate = true;
    }
    for (int i = 0; i < RSCRIPT_COUNT; i++)
        if (!p->k.sha[i][0] && rconn_load(&p->k, i, err, errlen) != STORE_OK) {
            rconn_drop(&p->k);
            return false;
        }
    return true;
}

/* Read one reply; NULL after a transport failure (context dropped, err set). */
static redisReply *rpipe_read(struct rpipe *p, char *err, size_t errlen)
{
    void *reply = NULL;
    if (redisGetReply(p->k.c, &reply) == REDIS_OK && reply)
        return reply;
    p->k.closed = p->k.c->err == REDIS_ERR_EOF ||
                  (p->k.c->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE));
    util_seterr(err, errlen, "redis: %s", p->k.c->errstr[0] ? p->k.c->errstr : "no reply");
    rconn_lost(&p->k);
    return NULL;
}

/* WAIT's verdict on reply w (NULL: none came): true when enough replicas have
 * the connection's writes; err says why not. Frees w. */
static bool rpipe_waited(struct rpipe *p, redisReply *w, char *err, size_t errlen)
{
    bool ok = w && w->type == REDIS_REPLY_INTEGER && w->integer >= p->cfg.wait_replicas;
    if (w && !ok)
        snprintf(err, errlen, "redis: %lld of %d replicas acknowledged within %d ms",
                 w->type == REDIS_REPLY_INTEGER ? w->integer : -1LL, p->cfg.wait_replicas,
                 p->cfg.wait_ms);
    if (!ok)
        p->gate = true;
    if (w)
        freeReplyObject(w);
    return ok;
}

/* Append WAIT N ms to the connection's output. */
static void rpipe_append_wait(struct rpipe *p)
{
    char n[16], ms[16];
    snprintf(n, sizeof n, "%d", p->cfg.wait_replicas);
    snprintf(ms, sizeof ms, "%d", p->cfg.wait_ms);
    const char *argv[3] = { "WAIT", n, ms };
    redisAppendCommandArgv(p->k.c, 3, argv, NULL);
}

/* With WAIT, on a new connection or after WAIT fell short: are N replicas
 * there (a WAIT with no new write of ours)? If not, the batch is not sent:
 * it fails 503 having changed nothing, rather than being applied on a primary
 * no replica follows yet (just after a failover) and answered 503 anyway. */
static bool rpipe_gate(struct rpipe *p, char *err, size_t errlen)
{
    if (p->cfg.wait_replicas == 0 || !p->gate)
        return true;
    p->gate = false;
    rpipe_append_wait(p);
    return rpipe_waited(p, rpipe_read(p, err, errlen), err, errlen);
}

/* Send n items pipelined (and WAIT), read their replies in order, and answer
 * them once acknowledged; returns how many replies arrived before a transport
 * failure (err says why). */
static int rpipe_send(struct rpipe *p, int n, char *err, size_t errlen)
{
    const char *argv[RCONN_ARGV_MAX];
    for (int i = 0; i < n; i++) {
        struct rpipe_item *it = &p->items[i];
        int argc = rconn_evalsha_argv(&p->k, it->script, &it->keys, &it->a, argv);
        redisAppendCommandArgv(p->k.c, argc, argv, NULL);
    }
    if (p->cfg.wait_replicas > 0)
        rpipe_append_wait(p);
    int got = 0;
    bool moved = false;
    for (redisReply *r; got < n && (r = rpipe_read(p, err, errlen)); got++) {
        struct rpipe_item *it = &p->items[got];
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
            p->k.sha[it->script][0] = '\0';
            it->retry = true;
            freeReplyObject(r);
        } else {
            it->r = r;
            moved |= rconn_moved_reply(r);
        }
    }
    bool acked = p->cfg.wait_replicas == 0 ||
                 (got == n && rpipe_waited(p, rpipe_read(p, err, errlen), err, errlen));
    for (int i = 0; i < got; i++) {
        struct rpipe_item *it = &p->items[i];
        if (!it->r)
            continue;
        if (acked || rconn_moved_reply(it->r)) {
            rpipe_answer(p, it, it->r);
        } else {
            snprintf(it->q->err, sizeof it->q->err, "%s", err);
            rpipe_done(p, it->q, STORE_UNAVAILABLE);
        }
        freeReplyObject(it->r);
        it->r = NULL;
    }
    if (moved)
        rconn_lost(&p->k);
    return got;
}

/* WAIT after a synchronous call; false (q->err set) when short. */
static bool rpipe_one_waited(struct rpipe *p, struct store_req *q)
{
    rpipe_append_wait(p);
    return rpipe_waited(p, rpipe_read(p, q->err, sizeof q->err), q->err, sizeof q->err);
}

/* Run one item synchronously on the pipeline's connection (after NOSCRIPT or EOF). */
static void rpipe_one(struct rpipe *p, struct rpipe_item *it)
{
    struct store_req *q = it->q;
    redisReply *r = NULL;
    enum store_status st = STORE_UNAVAILABLE;
    if (p->k.c || rconn_connect(&p->k, &p->cfg.url, p->cfg.tv, q->err, sizeof q->err))
        st = rconn_eval(&p->k, it->script, &it->keys, &it->a, &r, q->err, sizeof q->err);
    if (st == STORE_OK && p->cfg.wait_replicas > 0 && !rpipe_one_waited(p, q)) {
        freeReplyObject(r);
        st = STORE_UNAVAILABLE;
    }
    if (st != STORE_OK) {
        rpipe_done(p, q, st);
        return;
    }
    rpipe_answer(p, it, r);
    freeReplyObject(r);
}

/* Send up to RPIPE_BATCH requests from *list; complete every one of them. */
static void rpipe_batch(struct rpipe *p, struct store_req **list)
{
    char err[256] = "";
    int n = 0;
    while (*list && n < RPIPE_BATCH) {
        struct store_req *q = *list;
        *list = q->next;
        if (rpipe_prepare(p, q, &p->items[n]))
            n++;
    }
    bool reused = p->k.c != NULL;
    bool ready = rpipe_ready(p, err, sizeof err) && rpipe_gate(p, err, sizeof err);
    int got = ready ? rpipe_send(p, n, err, sizeof err) : 0;
    /* reads cut off because a reused connection had been closed (Redis
     * restarted) get one more try; a change might have landed, so it does not */
    bool eof = reused && p->k.closed;
    for (int i = 0; i < n; i++) {
        struct rpipe_item *it = &p->items[i];
        if (i >= got && eof && it->q->op == STORE_OP_GET)
            it->retry = true;
        if (it->retry)
            rpipe_one(p, it);
        else if (i >= got) {
            snprintf(it->q->err, sizeof it->q->err, "%s", err);
            rpipe_done(p, it->q, STORE_UNAVAILABLE);
        }
    }
}

/* The pipeline thread: wait for requests, send them in batches. */
static void *rpipe_main(void *arg)
{
    struct rpipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->head)
            break;
        struct store_req *list = p->head;
        p->head = p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        while (list)
            rpipe_batch(p, &list);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct rpipe *rpipe_start(const struct rpipe_cfg *cfg, char *err, size_t errlen)
{
    struct rpipe *p = calloc(1, sizeof *p);
    if (!p) {
        util_seterr(err, errlen, "%s", "redis store: out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    p->k.sent = cfg->sent;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, rpipe_main, p) != 0) {
        util_seterr(err, errlen, "%s", "redis store: cannot start the pipeline thread");
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    return p;
}

void rpipe_submit(struct rpipe *p, struct store_req *q)
{
    q->next = NULL;
    pthread_mutex_lock(&p->mu);
    bool was_empty = !p->head;
    if (p->tail)
        p->tail->next = q;
    else
        p->head = q;
    p->tail = q;
    if (was_empty)
        pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void rpipe_stop(struct rpipe *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    rconn_drop(&p->k);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
