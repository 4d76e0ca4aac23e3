/* scall: synchronous calls over the asynchronous store interface. See scall.h. */
#include "scall.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct scall_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
};

/* store_req.done: wake the waiting caller. */
static void scall_done(struct store_req *q)
{
    struct scall_wait *w = q->ud;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Submit req and wait until its done() ran; returns req->st. */
enum store_status scall_run(const struct store *s, struct store_req *req)
{
    struct scall_wait w = {.done = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    req->ud = &w;
    req->done = scall_done;
    s->ops->submit(s->self, req);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return req->st;
}

/* Run op on id (with ik's key); copy err, cst and ik's outcome back. */
static enum store_status scall_op(const struct store *s, struct store_req *q, const char *id,
                                  struct store_idem *ik, enum cart_status *cst, char *err,
                                  size_t errlen)
{
    snprintf(q->id, sizeof q->id, "%s", id ? id : "");
    if (ik)
        q->idem = *ik;
    enum store_status st = scall_run(s, q);
    if (ik)
        *ik = q->idem;
    else
        idem_answer_free(&q->idem.ans);
    if (cst)
        *cst = q->cst;
    if (err && errlen)
        snprintf(err, errlen, "%s", q->err);
    return st;
}

/* Create an empty cart with this id (ik: its key, may be NULL). */
enum store_status scall_create(const struct store *s, const char *id, struct store_idem *ik,
                               struct cart *out, char *err, size_t errlen)
{
    struct store_req q = {.op = STORE_OP_CREATE, .out = out};
    return scall_op(s, &q, id, ik, NULL, err, errlen);
}

/* Read a cart. */
enum store_status scall_get(const struct store *s, const char *id, struct cart *out,
                            char *err, size_t errlen)
{
    struct store_req q = {.op = STORE_OP_GET, .out = out};
    return scall_op(s, &q, id, NULL, NULL, err, errlen);
}

/* Apply a change (ik: its key, may be NULL). */
enum store_status scall_change(const struct store *s, const char *id,
                               const struct cart_change *chg, struct store_idem *ik,
                               struct cart *out, enum cart_status *cst, char *err,
                               size_t errlen)
{
    struct store_req q = {.op = STORE_OP_CHANGE, .out = out};
    if (chg)
        q.chg = *chg;
    return scall_op(s, &q, id, ik, cst, err, errlen);
}

/* Delete a cart (ik: its key, may be NULL). */
enum store_status scall_del(const struct store *s, const char *id, int64_t if_match,
                            struct store_idem *ik, enum cart_status *cst, char *err,
                            size_t errlen)
{
    struct store_req q = {.op = STORE_OP_DEL, .out = NULL,
                          .if_match = cart_match_one(if_match)};
    return scall_op(s, &q, id, ik, cst, err, errlen);
}
