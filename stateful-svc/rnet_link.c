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

/* Make fd non-blocking, without Nagle's delay. */
void rn_nonblock(int fd)
{
    int one = 1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Queue m on l (mutex held); with a pending entry unless wait < 0. */
bool rn_push(struct rnet *n, struct rnet_link *l, struct rproto_msg *m, int wait,
                    void *q, void *ctx, const char *id)
{
    struct rnet_pend *p = NULL;
    if (wait >= 0 && !(p = calloc(1, sizeof *p)))
        return false;
    m->seq = ++l->seq;
    bool was_empty = l->out.len == 0;
    if (!rproto_append(&l->out, m)) {
        free(p);
        return false;
    }
    atomic_fetch_add(&n->msgs, 1);
    if (p) {
        p->seq = m->seq;
        p->sent_ms = mt_now_ms();
        p->wait = wait;
        p->q = q;
        p->ctx = ctx;
        snprintf(p->id, sizeof p->id, "%s", id ? id : "");
        if (l->pt)
            l->pt->next = p;
        else
            l->ph = p;
        l->pt = p;
        l->npend++;
    }
    l->last_tx_ms = mt_now_ms();
    /* the caller writes at once (the answer may come before the loop thread
     * would have woken); what does not fit is left to the loop */
    if (was_empty && !l->corked && l->state == RL_UP && l->fd >= 0)
        rn_flush_buf(n, l->fd, &l->out);
    if (was_empty && l->out.len > 0)
        rnet_wake(n);
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
    l->left = false;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    l->state = l->state == RL_SELF ? RL_SELF : RL_DOWN;
    l->settled = true;
    l->next_try_ms = mt_now_ms() + RN_RETRY_MS;
    l->out.len = 0;
    l->in.len = 0;
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
    l->state = RL_CONNECTING;
    l->last_tx_ms = mt_now_ms();
    pthread_mutex_unlock(&l->mu);
}

/* Write what fits of b to fd; false on a broken connection. */
bool rn_flush_buf(struct rnet *n, int fd, struct rproto_buf *b)
{
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = send(fd, b->p + off, b->len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0)
            return false;
        off += (size_t)w;
    }
    atomic_fetch_add(&n->bytes, off);
    rproto_consume(b, off);
    return true;
}

/* Flush link l; watch for writability while bytes remain. */
void rn_flush_link(struct rnet *n, struct rnet_link *l)
{
    pthread_mutex_lock(&l->mu);
    bool ok = true, more = false;
    if (l->fd >= 0 && l->state >= RL_HELLO && l->out.len > 0) {
        ok = rn_flush_buf(n, l->fd, &l->out);
        more = l->out.len > 0;
        struct epoll_event ev = {.events = EPOLLIN | (more ? EPOLLOUT : 0),
                                 .data.u64 = RN_TAG_LINK | (uint64_t)l->slot};
        epoll_ctl(n->ep, EPOLL_CTL_MOD, l->fd, &ev);
    }
    pthread_mutex_unlock(&l->mu);
    if (!ok)
        rn_link_down(n, l, "write failed");
}

/* The slot whose link reached the replica of incarnation inc, or -1. */
int rn_slot_of(struct rnet *n, uint64_t inc, bool set_draining)
{
    for (size_t i = 0; i < n->n; i++) {
        struct rnet_link *l = &n->links[i];
        pthread_mutex_lock(&l->mu);
        bool hit = l->state == RL_UP && l->inc == inc;
        if (hit && set_draining)
            l->draining = true;
        pthread_mutex_unlock(&l->mu);
        if (hit)
            return (int)i;
    }
    return -1;
}

/* The link's first answer is the peer's HELLO: up, or ourselves. */
static bool rn_link_hello(struct rnet *n, struct rnet_link *l, const struct rproto_msg *m)
{
    if (m->type != RP_HELLO)
        return false;
    pthread_mutex_lock(&l->mu);
    bool self = m->inc == n->cfg.inc;
    l->state = self ? RL_SELF : RL_UP;
    l->settled = true;
    l->inc = m->inc;
    l->draining = m->code & 1;
    snprintf(l->tag, sizeof l->tag, "%s", m->tag);
    pthread_mutex_unlock(&l->mu);
    if (self) {
        rn_link_down(n, l, "this is us");
        return true;
    }
    log_msg(LOG_INFO, "peer_up", "%s:%d answers, tag %s", l->host, l->port, l->tag);
    return true;
}

/* Read from link l and hand each answer to its pending entry. */
static void rn_link_read(struct rnet *n, struct rnet_link *l)
{
    char buf[RN_READ];
    ssize_t r = recv(l->fd, buf, sizeof buf, 0);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        /* a peer that said it drains, then closes (or resets) the link, has
         * handed its carts off and exited: gone, not alive behind a stall */
        int e = r == 0 ? 0 : errno;
        pthread_mutex_lock(&l->mu);
        bool left = l->left = (e == 0 || e == ECONNRESET) && l->draining;
        pthread_mutex_unlock(&l->mu);
        rn_link_down(n, l, left ? "left after draining" : e == 0 ? "closed" : strerror(e));
        return;
    }
    if (r < 0)
        return;
    struct rproto_buf *in = &l->in;
    struct rproto_msg m = {.type = 0};
    if (!rproto_append_raw(in, buf, (size_t)r)) {
        rn_link_down(n, l, "out of memory");
        return;
    }
    size_t off = 0, used;
    enum rproto_status st;
    while ((st = rproto_decode(in->p + off, in->len - off, &m, &used)) == RPROTO_OK) {
        off += used;
        if (l->state == RL_HELLO) {
            if (!rn_link_hello(n, l, &m)) {
                rn_link_down(n, l, "no HELLO");
                return;
            }
            if (l->state != RL_UP)
                return;
            continue;
        }
        if (m.type == RP_HELLO) /* the answer to our draining HELLO */
            continue;
        pthread_mutex_lock(&l->mu);
        struct rnet_pend *p = l->ph;
        if (p && p->seq == m.seq) {
            l->ph = p->next;
            if (!l->ph)
                l->pt = NULL;
            l->npend--;
        }
        pthread_mutex_unlock(&l->mu);
        if (!p || p->seq != m.seq) {
            rn_link_down(n, l, "answer out of order");
            return;
        }
        n->ops.answer(n->ud, l, p, &m);
        free(p);
    }
    if (st == RPROTO_BAD) {
        rn_link_down(n, l, "bad frame");
        return;
    }
    rproto_consume(in, off);
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

