/* rnet: the replication network. See rnet.h. */
#include "rnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
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

#define RN_RETRY_MS 200           /* between connection attempts */
#define RN_PING_MS 250            /* an idle link is pinged this often */
#define RN_TICK_MS 100
#define RN_READ 65536
#define RN_TAG_LISTEN ((uint64_t)1 << 62)
#define RN_TAG_EVENT ((uint64_t)1 << 61)
#define RN_TAG_LINK ((uint64_t)1 << 60)

/* An incoming connection from a peer. */
struct rnet_conn {
    struct rnet_conn *next;
    int fd;
    uint64_t inc;
    bool dead;
    struct rproto_buf in, out;
};

struct rnet {
    struct rnet_cfg cfg;
    struct rnet_ops ops;
    void *ud;
    int lfd, efd, ep;
    pthread_t thread;
    atomic_bool stop;
    bool draining;
    size_t n;
    struct rnet_link links[CFG_MAX_PEERS];
    struct rnet_conn *conns;
    atomic_ullong bytes, msgs;
};

/* Make fd non-blocking, without Nagle's delay. */
static void rn_nonblock(int fd)
{
    int one = 1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Queue m on l (mutex held); with a pending entry unless wait < 0. */
static bool rn_push(struct rnet *n, struct rnet_link *l, struct rproto_msg *m, int wait,
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
    if (was_empty)
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

/* Our HELLO. */
static struct rproto_msg rn_hello(struct rnet *n)
{
    struct rproto_msg h = {.type = RP_HELLO, .inc = n->cfg.inc, .code = n->draining ? 1 : 0};
    snprintf(h.tag, sizeof h.tag, "%s", n->cfg.tag);
    return h;
}

/* Close link l and answer its pending entries with NULL (loop thread). */
static void rn_link_down(struct rnet *n, struct rnet_link *l, const char *why)
{
    pthread_mutex_lock(&l->mu);
    bool was_up = l->state == RL_UP;
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

/* Start a non-blocking connect of link l. */
static void rn_connect(struct rnet *n, struct rnet_link *l)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", l->port);
    l->next_try_ms = mt_now_ms() + RN_RETRY_MS;
    if (getaddrinfo(l->host, port, &hints, &ai) != 0 || !ai) {
        l->settled = true;
        return;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        rn_nonblock(fd);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
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
static bool rn_flush_buf(struct rnet *n, int fd, struct rproto_buf *b)
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
static void rn_flush_link(struct rnet *n, struct rnet_link *l)
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
static int rn_slot_of(struct rnet *n, uint64_t inc, bool set_draining)
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
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
        return rn_link_down(n, l, r == 0 ? "closed" : strerror(errno));
    if (r < 0)
        return;
    struct rproto_buf *in = &l->in;
    struct rproto_msg m = {.type = 0};
    if (!rproto_append_raw(in, buf, (size_t)r))
        return rn_link_down(n, l, "out of memory");
    size_t off = 0, used;
    enum rproto_status st;
    while ((st = rproto_decode(in->p + off, in->len - off, &m, &used)) == RPROTO_OK) {
        off += used;
        if (l->state == RL_HELLO) {
            if (!rn_link_hello(n, l, &m))
                return rn_link_down(n, l, "no HELLO");
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
        if (!p || p->seq != m.seq)
            return rn_link_down(n, l, "answer out of order");
        n->ops.answer(n->ud, l, p, &m);
        free(p);
    }
    if (st == RPROTO_BAD)
        return rn_link_down(n, l, "bad frame");
    rproto_consume(in, off);
}

/* An event on link slot: connected, readable or writable. */
static void rn_link_event(struct rnet *n, int slot, uint32_t ev)
{
    struct rnet_link *l = &n->links[slot];
    if (l->fd < 0)
        return;
    if (l->state == RL_CONNECTING) {
        int e = 0;
        socklen_t len = sizeof e;
        if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0 || e != 0 ||
            (ev & (EPOLLERR | EPOLLHUP)))
            return rn_link_down(n, l, "connect failed");
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

/* Close an incoming connection (freed later in the loop). */
static void rn_conn_close(struct rnet *n, struct rnet_conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(n->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->dead = true;
}

/* Answer one request of an incoming connection. */
static void rn_conn_serve(struct rnet *n, struct rnet_conn *c, const struct rproto_msg *m)
{
    struct rproto_msg reply = {.type = 0};
    unsigned char *owned = NULL;
    if (m->type == RP_HELLO) {
        c->inc = m->inc;
        if (m->code & 1)
            rn_slot_of(n, m->inc, true);
        reply = rn_hello(n);
    } else if (m->type == RP_PING) {
        reply.type = RP_PONG;
    } else {
        n->ops.serve(n->ud, c->inc, rn_slot_of(n, c->inc, false), m, &reply, &owned);
    }
    reply.seq = m->seq;
    if (reply.type && !rproto_append(&c->out, &reply))
        rn_conn_close(n, c);
    free(owned);
}

/* Read an incoming connection's requests, answer them, flush. */
static void rn_conn_event(struct rnet *n, struct rnet_conn *c, uint32_t ev)
{
    if (ev & EPOLLIN) {
        char buf[RN_READ];
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            return rn_conn_close(n, c);
        if (r > 0 && !rproto_append_raw(&c->in, buf, (size_t)r))
            return rn_conn_close(n, c);
        size_t off = 0, used;
        struct rproto_msg m;
        enum rproto_status st;
        while (!c->dead &&
               (st = rproto_decode(c->in.p + off, c->in.len - off, &m, &used)) == RPROTO_OK) {
            rn_conn_serve(n, c, &m);
            off += used;
        }
        if (c->dead || st == RPROTO_BAD)
            return rn_conn_close(n, c);
        rproto_consume(&c->in, off);
    }
    if (!rn_flush_buf(n, c->fd, &c->out))
        return rn_conn_close(n, c);
    struct epoll_event e = {.events = EPOLLIN | (c->out.len ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(n->ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Accept the waiting incoming connections. */
static void rn_accept(struct rnet *n)
{
    int fd;
    while ((fd = accept4(n->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        struct rnet_conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        rn_nonblock(fd);
        c->fd = fd;
        c->next = n->conns;
        n->conns = c;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* Free the incoming connections that closed. */
static void rn_reap(struct rnet *n)
{
    for (struct rnet_conn **pp = &n->conns; *pp;) {
        struct rnet_conn *c = *pp;
        if (!c->dead) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        rproto_buf_free(&c->in);
        rproto_buf_free(&c->out);
        free(c);
    }
}

/* Reconnect, ping idle links, kill links whose oldest request is overdue. */
static void rn_tick(struct rnet *n)
{
    int64_t now = mt_now_ms();
    for (size_t i = 0; i < n->n; i++) {
        struct rnet_link *l = &n->links[i];
        if (l->state == RL_DOWN && now >= l->next_try_ms) {
            rn_connect(n, l);
            continue;
        }
        pthread_mutex_lock(&l->mu);
        bool overdue = (l->ph && now - l->ph->sent_ms > n->cfg.timeout_ms) ||
                       (l->state != RL_UP && l->state != RL_SELF && l->state != RL_DOWN &&
                        now - l->last_tx_ms > n->cfg.timeout_ms);
        if (!overdue && l->state == RL_UP && !l->ph && now - l->last_tx_ms >= RN_PING_MS) {
            struct rproto_msg ping = {.type = RP_PING};
            rn_push(n, l, &ping, 0, NULL, NULL, NULL);
        }
        pthread_mutex_unlock(&l->mu);
        if (overdue)
            rn_link_down(n, l, "no answer in time");
    }
    if (n->ops.tick)
        n->ops.tick(n->ud);
}

/* The loop thread. */
static void *rn_main(void *arg)
{
    struct rnet *n = arg;
    struct epoll_event evs[64];
    int64_t last_tick = 0;
    while (!atomic_load(&n->stop)) {
        int k = epoll_wait(n->ep, evs, 64, RN_TICK_MS);
        for (int i = 0; i < k; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == RN_TAG_LISTEN) {
                rn_accept(n);
            } else if (tag == RN_TAG_EVENT) {
                uint64_t v;
                if (read(n->efd, &v, sizeof v) < 0)
                    continue;
            } else if (tag & RN_TAG_LINK) {
                rn_link_event(n, (int)(tag & 0xffff), evs[i].events);
            } else {
                rn_conn_event(n, evs[i].data.ptr, evs[i].events);
            }
        }
        for (size_t i = 0; i < n->n; i++)
            rn_flush_link(n, &n->links[i]);
        rn_reap(n);
        int64_t now = mt_now_ms();
        if (now - last_tick >= RN_TICK_MS) {
            last_tick = now;
            rn_tick(n);
        }
    }
    return NULL;
}

/* Bind and listen on the replication port; -1 with err set. */
static int rn_listen(const struct rnet_cfg *cfg, char *err, size_t errlen)
{
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)cfg->port)};
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
    bool v6 = strchr(cfg->listen_addr, ':') != NULL;
    if ((v6 ? inet_pton(AF_INET6, cfg->listen_addr, &a6.sin6_addr)
            : inet_pton(AF_INET, cfg->listen_addr, &a4.sin_addr)) != 1) {
        snprintf(err, errlen, "bad listen address %s", cfg->listen_addr);
        return -1;
    }
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4,
                       v6 ? sizeof a6 : sizeof a4) != 0 || listen(fd, 64) != 0) {
        snprintf(err, errlen, "replication port %s:%d: %s", cfg->listen_addr, cfg->port,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Listen and start the loop thread; NULL with err set. */
struct rnet *rnet_start(const struct rnet_cfg *cfg, const struct rnet_ops *ops, void *ud,
                        char *err, size_t errlen)
{
    struct rnet *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    n->cfg = *cfg;
    n->ops = *ops;
    n->ud = ud;
    n->n = cfg->npeers < CFG_MAX_PEERS ? cfg->npeers : CFG_MAX_PEERS;
    for (size_t i = 0; i < n->n; i++) {
        struct rnet_link *l = &n->links[i];
        l->slot = (int)i;
        l->fd = -1;
        snprintf(l->host, sizeof l->host, "%s", cfg->peers[i].host);
        l->port = cfg->peers[i].port + cfg->port_offset;
        pthread_mutex_init(&l->mu, NULL);
    }
    n->lfd = rn_listen(cfg, err, errlen);
    n->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    n->ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event el = {.events = EPOLLIN, .data.u64 = RN_TAG_LISTEN};
    struct epoll_event ee = {.events = EPOLLIN, .data.u64 = RN_TAG_EVENT};
    if (n->lfd < 0 || n->efd < 0 || n->ep < 0 || epoll_ctl(n->ep, EPOLL_CTL_ADD, n->lfd, &el) ||
        epoll_ctl(n->ep, EPOLL_CTL_ADD, n->efd, &ee) ||
        pthread_create(&n->thread, NULL, rn_main, n) != 0) {
        if (n->lfd >= 0)
            snprintf(err, errlen, "cannot start the replication loop");
        if (n->lfd >= 0)
            close(n->lfd);
        if (n->efd >= 0)
            close(n->efd);
        if (n->ep >= 0)
            close(n->ep);
        free(n);
        return NULL;
    }
    return n;
}

/* Stop the loop; every pending entry is answered with NULL. */
void rnet_stop(struct rnet *n)
{
    if (!n)
        return;
    atomic_store(&n->stop, true);
    rnet_wake(n);
    pthread_join(n->thread, NULL);
    for (size_t i = 0; i < n->n; i++) {
        n->links[i].state = RL_SELF; /* no "peer down" work at exit */
        rn_link_down(n, &n->links[i], "stopping");
        rproto_buf_free(&n->links[i].out);
        rproto_buf_free(&n->links[i].in);
        pthread_mutex_destroy(&n->links[i].mu);
    }
    for (struct rnet_conn *c = n->conns; c; c = c->next)
        rn_conn_close(n, c);
    rn_reap(n);
    close(n->lfd);
    close(n->efd);
    close(n->ep);
    free(n);
}

/* The links. */
struct rnet_link *rnet_links(struct rnet *n, size_t *count)
{
    *count = n->n;
    return n->links;
}

/* True once every link was tried. */
bool rnet_settled(struct rnet *n)
{
    bool all = true;
    for (size_t i = 0; i < n->n && all; i++) {
        pthread_mutex_lock(&n->links[i].mu);
        all = n->links[i].settled;
        pthread_mutex_unlock(&n->links[i].mu);
    }
    return all;
}

/* Say HELLO again, draining, to every peer. */
void rnet_announce_draining(struct rnet *n)
{
    n->draining = true;
    for (size_t i = 0; i < n->n; i++) {
        struct rnet_link *l = &n->links[i];
        struct rproto_msg h = rn_hello(n);
        pthread_mutex_lock(&l->mu);
        if (l->state == RL_UP)
            rn_push(n, l, &h, -1, NULL, NULL, NULL);
        pthread_mutex_unlock(&l->mu);
    }
}

/* Wake the loop thread. */
void rnet_wake(struct rnet *n)
{
    uint64_t one = 1;
    if (write(n->efd, &one, sizeof one) < 0)
        return;
}

/* Bytes and messages sent so far. */
void rnet_counters(struct rnet *n, uint64_t *bytes, uint64_t *msgs)
{
    *bytes = atomic_load(&n->bytes);
    *msgs = atomic_load(&n->msgs);
}
