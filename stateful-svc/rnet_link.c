/* rnet_link: the outgoing links of the replication network: connect, HELLO,
 * queue, flush, read the answers in order. See rnet_int.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mtable.h"
#include "rdns.h"
#include "rnet_int.h"

/* Queue m on l (mutex held); with a pending entry unless wait < 0. The
 * caller writes at once when nothing else waits to go out (the answer may
 * come before the loop thread would have woken; the peer reads all that came
 * meanwhile in one go); what does not fit is the loop's to write. Sending
 * only to a link with no answer awaited (Nagle-like batching) saved a few
 * writes but made a change wait a round trip behind the one in flight. */
bool rn_push(struct rnet *n, struct rnet_link *l, struct rproto_msg *m, int wait,
                    void *q, void *ctx, const char *id)
{
    struct rnet_pend *p = NULL;
    if (wait >= 0 && !(p = malloc(sizeof *p)))
        return false;
    m->seq = ++l->seq;
    bool idle = l->out.len == 0;
    if (!rproto_append(&l->out, m)) {
        free(p);
        return false;
    }
    atomic_fetch_add(&n->msgs, 1);
    int64_t now = mt_now_ms();
    if (p) {
        *p = (struct rnet_pend){.seq = m->seq, .sent_ms = now, .wait = wait, .q = q, .ctx = ctx};
        snprintf(p->id, sizeof p->id, "%s", id ? id : "");
        if (l->pt)
            l->pt->next = p;
        else
            l->ph = p;
        l->pt = p;
        l->npend++;
    }
    l->last_tx_ms = now;
    /* not idle: the loop thread was woken for the bytes before, or watches
     * writability; corked: rnet_send_many's batch, which the loop writes */
    if (!idle || l->corked) {
        atomic_store(&l->queued, true);
        if (idle)
            rnet_wake(n);
        return true;
    }
    if (l->state == RL_UP && l->fd >= 0)
        rn_flush_buf(n, l->fd, &l->out);
    if (l->out.len > 0) {
        atomic_store(&l->queued, true);
        rnet_wake(n);
    }
    return true;
}

/* Queue m on link slot; false when the link is not up. */
bool rnet_send(struct rnet *n, int slot, struct rproto_msg *m, int wait, void *q, void *ctx,
               const char *id)
{
    if (slot < 0 || (size_t)slot >= n->n)
        return false;
    struct rnet_link *l = &n->links[slot];
    pthread_mutex_lock(&l->mu);
    bool ok = l->state == RL_UP && rn_push(n, l, m, wait, q, ctx, id);
    pthread_mutex_unlock(&l->mu);
    return ok;
}

/* Queue count requests on link slot in one go; how many were queued. */
size_t rnet_send_many(struct rnet *n, int slot, struct rproto_msg *const *ms, const int *waits,
                      size_t count)
{
    if (slot < 0 || (size_t)slot >= n->n)
        return 0;
    struct rnet_link *l = &n->links[slot];
    size_t i = 0;
    pthread_mutex_lock(&l->mu);
    if (l->state == RL_UP) {
        l->corked = true; /* the first push wakes the loop, which writes them all */
        while (i < count && rn_push(n, l, ms[i], waits[i], NULL, NULL, ms[i]->id))
            i++;
        l->corked = false;
    }
    pthread_mutex_unlock(&l->mu);
    return i;
}

/* Our HELLO. */
struct rproto_msg rn_hello(struct rnet *n)
{
    struct rproto_msg h = {.type = RP_HELLO, .inc = n->cfg.inc, .code = n->draining ? 1 : 0};
    snprintf(h.tag, sizeof h.tag, "%s", n->cfg.tag);
    return h;
}

/* Close link l and answer its pending entries with NULL (loop thread). */
void rn_link_down(struct rnet *n, struct rnet_link *l, const char *why)
{
    pthread_mutex_lock(&l->mu);
    bool was_up = l->state == RL_UP;
    if (was_up)
        l->down_ms = l->left ? 0 : mt_now_ms();
    if (was_up)
        l->gone = l->left;
    l->left = false;
    l->back = false;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    l->state = l->state == RL_SELF ? RL_SELF : RL_DOWN;
    l->settled = true;
    l->next_try_ms = mt_now_ms() + RN_RETRY_MS;
    l->out.len = 0;
    l->in.len = 0;
    l->want_out = false;
    struct rnet_pend *p = l->ph;
    l->ph = l->pt = NULL;
    l->npend = 0;
    pthread_mutex_unlock(&l->mu);
    if (was_up) {
        log_msg(LOG_WARN, "peer_down", "%s:%d (tag %s): %s", l->host, l->port, l->tag, why);
        n->ops.lost(n->ud, l->slot);
    }
    while (p) {
        struct rnet_pend *next = p->next;
        n->ops.answer(n->ud, l, p, NULL);
        free(p);
        p = next;
    }
}

/* Start a non-blocking connect of link l to the address that the resolver
 * found for it (asked for first: the loop never waits for a name). */
void rn_connect(struct rnet *n, struct rnet_link *l)
{
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    enum rdns_state rs = rdns_take(n->dns, (size_t)l->slot, &sa, &salen);
    if (rs == RDNS_IDLE)
        rdns_ask(n->dns, (size_t)l->slot);
    if (rs != RDNS_OK && rs != RDNS_FAIL)
        return; /* tried again once the resolver answered (it wakes the loop) */
    l->next_try_ms = mt_now_ms() + RN_RETRY_MS;
    /* a name that does not resolve (a pod of a StatefulSet scaled below
     * PEERS_STATEFULSET's count) is asked for again seldom */
    pthread_mutex_lock(&l->mu);
    l->unresolved = rs == RDNS_FAIL;
    pthread_mutex_unlock(&l->mu);
    if (rs == RDNS_FAIL) {
        l->settled = true;
        l->next_try_ms = mt_now_ms() + RN_RESOLVE_RETRY_MS;
        return;
    }
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        rn_nonblock(fd);
        if (connect(fd, (struct sockaddr *)&sa, salen) != 0 && errno != EINPROGRESS) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0) {
        l->settled = true;
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = RN_TAG_LINK | (uint64_t)l->slot};
    epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &ev);
    pthread_mutex_lock(&l->mu);
    l->fd = fd;
    l->want_out = true; /* until connected */
    l->state = RL_CONNECTING;
    l->last_tx_ms = mt_now_ms();
    pthread_mutex_unlock(&l->mu);
}

/* Flush link l (mutex held); watch for writability while bytes remain;
 * false when the write failed. */
static bool rn_link_write_locked(struct rnet *n, struct rnet_link *l)
{
    if (l->fd < 0 || l->state < RL_HELLO) /* connecting: writability means connected */
        return true;
    bool ok = l->out.len == 0 || rn_flush_buf(n, l->fd, &l->out);
    bool more = l->out.len > 0;
    if (ok && more != l->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (more ? EPOLLOUT : 0),
                                 .data.u64 = RN_TAG_LINK | (uint64_t)l->slot};
        epoll_ctl(n->ep, EPOLL_CTL_MOD, l->fd, &ev);
        l->want_out = more;
    }
    return ok;
}

/* Flush link l; watch for writability while bytes remain; false when the
 * write failed. */
static bool rn_link_write(struct rnet *n, struct rnet_link *l)
{
    pthread_mutex_lock(&l->mu);
    bool ok = rn_link_write_locked(n, l);
    pthread_mutex_unlock(&l->mu);
    return ok;
}

/* Flush link l, and take it down when the write fails. */
void rn_flush_link(struct rnet *n, struct rnet_link *l)
{
    if (!rn_link_write(n, l))
        rn_link_down(n, l, "write failed");
}

/* The slot whose link reached the replica of incarnation inc, or -1. */
int rn_slot_of(struct rnet *n, uint64_t inc)
{
    for (size_t i = 0; i < n->n; i++) {
        struct rnet_link *l = &n->links[i];
        pthread_mutex_lock(&l->mu);
        bool hit = l->state == RL_UP && l->inc == inc;
        pthread_mutex_unlock(&l->mu);
        if (hit)
            return (int)i;
    }
    return -1;
}

/* With a secret, the peer's HELLO answer must carry its nonce and the proof
 * over both nonces: anything else is a peer that cannot prove it holds the
 * secret, refused and counted. Without one, an answer with a proof is a peer
 * that wants authentication (never up either). */
static bool rn_link_proof_ok(struct rnet *n, struct rnet_link *l, const struct rproto_msg *m)
{
    const char *why = NULL;
    if (!rauth_on(&n->auth))
        why = m->opt ? "it authenticates its links; REPL_SECRET_FILE is not set here" : NULL;
    else if (m->opt != (RPF_NONCE | RPF_MAC))
        why = "its HELLO carries no proof (is REPL_SECRET_FILE set there?)";
    else if (!rauth_check(&n->auth, RAUTH_ACCEPT, l->nonce, m->nonce, m->inc, m->tag, m->mac))
        why = "its proof is wrong (another secret?)";
    if (why) {
        char who[160];
        snprintf(who, sizeof who, "%s:%d", l->host, l->port);
        rauth_refuse(&n->auth, who, why, mt_now_ms());
    }
    return why == NULL;
}

/* The link's first answer is the peer's HELLO: up (with a secret, once its
 * proof checked, and with our AUTH queued before any request), or ourselves. */
static bool rn_link_hello(struct rnet *n, struct rnet_link *l, const struct rproto_msg *m)
{
    if (m->type != RP_HELLO || !rn_link_proof_ok(n, l, m))
        return false;
    bool back = rn_conn_from(n, m->inc); /* it may have linked to us first */
    struct rproto_msg a = {.type = RP_AUTH};
    if (rauth_on(&n->auth)) {
        struct rproto_msg h = rn_hello(n);
        rauth_mac(&n->auth, RAUTH_CONNECT, l->nonce, m->nonce, n->cfg.inc, h.tag, a.mac);
    }
    pthread_mutex_lock(&l->mu);
    bool self = m->inc == n->cfg.inc;
    /* before the state is up: no other thread queues a request ahead of it */
    if (rauth_on(&n->auth) && !self && !rproto_append(&l->out, &a)) {
        pthread_mutex_unlock(&l->mu);
        return false;
    }
    l->state = self ? RL_SELF : RL_UP;
    l->settled = true;
    l->inc = m->inc;
    l->back = back;
    l->gone = false;
    l->up_ms = mt_now_ms();
    l->draining = m->code & 1;
    snprintf(l->tag, sizeof l->tag, "%s", m->tag);
    pthread_mutex_unlock(&l->mu);
    if (self) {
        rn_link_down(n, l, "this is us");
        return true;
    }
    log_msg(LOG_INFO, "peer_up", "%s:%d answers, tag %s%s", l->host, l->port, l->tag,
            rauth_on(&n->auth) ? " (authenticated)" : "");
    return true;
}

/* Take the pending entries of the k answers in ms off l's FIFO into ps, and
 * write out what is queued, under one lock; how many matched (fewer: an
 * answer out of order); *wrote false when the write failed. */
static size_t rn_link_match(struct rnet *n, struct rnet_link *l, const struct rproto_msg *ms,
                            struct rnet_pend **ps, size_t k, bool *wrote)
{
    size_t i = 0;
    pthread_mutex_lock(&l->mu);
    for (; i < k && l->ph && l->ph->seq == ms[i].seq; i++) {
        ps[i] = l->ph;
        l->ph = ps[i]->next;
        l->npend--;
    }
    if (!l->ph)
        l->pt = NULL;
    *wrote = rn_link_write_locked(n, l);
    pthread_mutex_unlock(&l->mu);
    return i;
}

/* Decode up to RN_BATCH answers of l from *off on (a HELLO first, when the
 * link waits for it); how many are in ms, *st how decoding stopped. */
static size_t rn_link_decode(struct rnet *n, struct rnet_link *l, size_t *off,
                             struct rproto_msg *ms, enum rproto_status *st)
{
    size_t k = 0, used;
    while (k < RN_BATCH && l->fd >= 0 &&
           (*st = rproto_decode(l->in.p + *off, l->in.len - *off, &ms[k], &used)) == RPROTO_OK) {
        *off += used;
        if (l->state == RL_HELLO) {
            if (!rn_link_hello(n, l, &ms[k]))
                rn_link_down(n, l, "no HELLO");
            continue;
        }
        if (ms[k].type != RP_HELLO) /* not the answer to our draining HELLO */
            k++;
    }
    return k;
}

/* Read from link l and hand each answer to its pending entry: a batch of
 * answers is matched under one lock (not one lock per answer, which the
 * HTTP threads queueing changes contended for). */
static void rn_link_read(struct rnet *n, struct rnet_link *l)
{
    int err;
    if (!rn_recv(l->fd, &l->in, &err)) {
        /* a peer that said it drains, then closes (or resets) the link, has
         * handed its carts off and exited: gone, not alive behind a stall */
        pthread_mutex_lock(&l->mu);
        bool left = l->left = (err == 0 || err == ECONNRESET) && l->draining;
        pthread_mutex_unlock(&l->mu);
        rn_link_down(n, l, left ? "left after draining" : err ? strerror(err) : "closed");
        return;
    }
    size_t off = 0;
    enum rproto_status st = RPROTO_OK;
    while (st == RPROTO_OK && l->fd >= 0) {
        struct rproto_msg ms[RN_BATCH];
        struct rnet_pend *ps[RN_BATCH];
        size_t k = rn_link_decode(n, l, &off, ms, &st);
        if (k == 0)
            break;
        bool wrote;
        size_t got = rn_link_match(n, l, ms, ps, k, &wrote);
        for (size_t i = 0; i < got; i++) {
            n->ops.answer(n->ud, l, ps[i], &ms[i]);
            free(ps[i]);
        }
        if (got < k || !wrote) {
            rn_link_down(n, l, got < k ? "answer out of order" : "write failed");
            return;
        }
    }
    if (l->fd < 0) /* down: HELLO refused, or ourselves */
        return;
    if (st == RPROTO_BAD) {
        rn_link_down(n, l, "bad frame");
        return;
    }
    rproto_consume(&l->in, off);
}

/* An event on link slot: connected, readable or writable. */
void rn_link_event(struct rnet *n, int slot, uint32_t ev)
{
    struct rnet_link *l = &n->links[slot];
    if (l->fd < 0)
        return;
    if (l->state == RL_CONNECTING) {
        int e = 0;
        socklen_t len = sizeof e;
        if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0 || e != 0 ||
            (ev & (EPOLLERR | EPOLLHUP))) {
            rn_link_down(n, l, "connect failed");
            return;
        }
        struct rproto_msg h = rn_hello(n);
        if (rauth_on(&n->auth)) { /* a fresh nonce: the peer's proof is over it */
            if (!rauth_nonce(l->nonce)) {
                rn_link_down(n, l, "no random nonce");
                return;
            }
            h.opt = RPF_NONCE;
            memcpy(h.nonce, l->nonce, sizeof h.nonce);
        }
        pthread_mutex_lock(&l->mu);
        l->state = RL_HELLO;
        l->seq = 0;
        rproto_append(&l->out, &h);
        pthread_mutex_unlock(&l->mu);
    }
    if (ev & EPOLLIN)
        rn_link_read(n, l);
    if (l->fd >= 0)
        rn_flush_link(n, l);
}

