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
#include "rnet_int.h"
#include "util.h"

/* Make fd non-blocking, without Nagle's delay. */
void rn_nonblock(int fd)
{
    int one = 1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Read what fd has into b; false when the connection is over (*err: 0 or errno). */
bool rn_recv(int fd, struct rproto_buf *b, int *err)
{
    if (!rproto_reserve(b, RN_READ)) {
        *err = ENOMEM;
        return false;
    }
    ssize_t r = recv(fd, b->p + b->len, RN_READ, 0);
    if (r > 0)
        b->len += (size_t)r;
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        *err = r == 0 ? 0 : errno;
        return false;
    }
    return true;
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

/* Connect the links that are down and due (each tick, and when woken: the
 * resolver may have answered). */
static void rn_reconnect(struct rnet *n)
{
    int64_t now = mt_now_ms();
    for (size_t i = 0; i < n->n; i++)
        if (n->links[i].state == RL_DOWN && now >= n->links[i].next_try_ms)
            rn_connect(n, &n->links[i]);
}

/* A peer we have no live link to said HELLO: try every down link now
 * (its name again too), not at its next retry, up to 2 s away. */
void rn_kick(struct rnet *n)
{
    int64_t now = mt_now_ms();
    for (size_t i = 0; i < n->n; i++) {
        struct rnet_link *l = &n->links[i];
        pthread_mutex_lock(&l->mu);
        if (l->state == RL_DOWN && l->next_try_ms > now)
            l->next_try_ms = now;
        pthread_mutex_unlock(&l->mu);
    }
    rn_reconnect(n);
}

/* Count the incoming connections of peers that no live link reaches. */
static void rn_count_unlinked(struct rnet *n)
{
    int k = 0;
    for (struct rnet_conn *c = n->conns; c; c = c->next)
        if (!c->dead && c->inc != 0 && c->inc != n->cfg.inc && rn_slot_of(n, c->inc) < 0)
            k++;
    atomic_store(&n->unlinked, k);
}

/* Reconnect, ping idle links, kill links whose oldest request is overdue. */
static void rn_tick(struct rnet *n)
{
    rn_reconnect(n);
    rn_count_unlinked(n);
    int64_t now = mt_now_ms();
    for (size_t i = 0; i < n->n; i++) {
        struct rnet_link *l = &n->links[i];
        if (l->state == RL_DOWN)
            continue;
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
    rn_conn_expire(n);
    if (n->ops.tick)
        n->ops.tick(n->ud);
}

/* The loop thread. */
static void *rn_main(void *arg)
{
    struct rnet *n = arg;
    struct epoll_event evs[64];
    int64_t last_tick = mt_now_ms();
    rn_tick(n); /* try every peer at once: membership is known within milliseconds */
    while (!atomic_load(&n->stop)) {
        int k = epoll_wait(n->ep, evs, 64, RN_TICK_MS);
        bool woken = false;
        /* the requests this pass completes are resumed together at its end */
        util_batch_begin();
        for (int i = 0; i < k; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == RN_TAG_LISTEN) {
                rn_accept(n);
            } else if (tag == RN_TAG_EVENT) {
                uint64_t v;
                woken = read(n->efd, &v, sizeof v) > 0;
            } else if (tag & RN_TAG_LINK) {
                rn_link_event(n, (int)(tag & 0xffff), evs[i].events);
            } else {
                rn_conn_event(n, evs[i].data.ptr, evs[i].events);
            }
        }
        if (woken)
            rn_reconnect(n);
        for (size_t i = 0; i < n->n; i++) /* what callers queued behind an awaited answer */
            if (atomic_exchange(&n->links[i].queued, false))
                rn_flush_link(n, &n->links[i]);
        rn_reap(n);
        int64_t now = mt_now_ms();
        if (now - last_tick >= RN_TICK_MS) {
            last_tick = now;
            rn_tick(n);
        }
        util_batch_end();
    }
    return NULL;
}

/* The resolver's wake-up: a name was resolved (or not). */
static void rn_wake_cb(void *ud)
{
    rnet_wake(ud);
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
    rauth_init(&n->auth, cfg->secret, cfg->secret_len);
    n->cfg.secret = NULL; /* keyed: the loop needs no copy of it */
    n->cfg.secret_len = 0;
    n->ops = *ops;
    n->ud = ud;
    n->n = cfg->npeers < CFG_MAX_PEERS ? cfg->npeers : CFG_MAX_PEERS;
    struct rdns_name names[CFG_MAX_PEERS];
    for (size_t i = 0; i < n->n; i++) {
        struct rnet_link *l = &n->links[i];
        l->slot = (int)i;
        l->fd = -1;
        snprintf(l->host, sizeof l->host, "%s", cfg->peers[i].host);
        l->port = cfg->peers[i].port + cfg->port_offset;
        pthread_mutex_init(&l->mu, NULL);
        names[i] = (struct rdns_name){.host = l->host, .port = l->port};
    }
    n->lfd = rn_listen(cfg, err, errlen);
    n->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    n->ep = epoll_create1(EPOLL_CLOEXEC);
    if (n->lfd >= 0 && n->efd >= 0 &&
        !(n->dns = rdns_start(names, n->n, rn_wake_cb, n, err, errlen))) {
        close(n->lfd);
        n->lfd = -1;
    }
    struct epoll_event el = {.events = EPOLLIN, .data.u64 = RN_TAG_LISTEN};
    struct epoll_event ee = {.events = EPOLLIN, .data.u64 = RN_TAG_EVENT};
    if (n->lfd < 0 || n->efd < 0 || n->ep < 0 || epoll_ctl(n->ep, EPOLL_CTL_ADD, n->lfd, &el) ||
        epoll_ctl(n->ep, EPOLL_CTL_ADD, n->efd, &ee) ||
        pthread_create(&n->thread, NULL, rn_main, n) != 0) {
        if (n->lfd >= 0)
            snprintf(err, errlen, "cannot start the replication loop");
        if (n->lfd >= 0)
            close(n->lfd);
        rdns_stop(n->dns);
        if (n->efd >= 0)
            close(n->efd);
        if (n->ep >= 0)
            close(n->ep);
        rauth_wipe(&n->auth);
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
    rdns_stop(n->dns);
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
    rauth_wipe(&n->auth);
    free(n);
}

/* The links. */
struct rnet_link *rnet_links(struct rnet *n, size_t *count)
{
    *count = n->n;
    return n->links;
}

/* Is a peer other than except unreachable since less than grace_ms? */
bool rnet_unsure(struct rnet *n, uint64_t except, int grace_ms)
{
    int64_t now = mt_now_ms();
    bool unsure = false;
    for (size_t i = 0; i < n->n && !unsure; i++) {
        struct rnet_link *l = &n->links[i];
        pthread_mutex_lock(&l->mu);
        unsure = l->state != RL_UP && l->state != RL_SELF && l->inc != except &&
                 l->down_ms > 0 && now - l->down_ms < grace_ms;
        pthread_mutex_unlock(&l->mu);
    }
    return unsure;
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

/* Ready: settled, and every live peer linked back (or had back_ms to). */
bool rnet_ready(struct rnet *n, int back_ms)
{
    if (!rnet_settled(n))
        return false;
    int64_t now = mt_now_ms();
    bool ready = true;
    for (size_t i = 0; i < n->n && ready; i++) {
        struct rnet_link *l = &n->links[i];
        pthread_mutex_lock(&l->mu);
        ready = l->state != RL_UP || l->back || now - l->up_ms >= back_ms;
        pthread_mutex_unlock(&l->mu);
    }
    return ready;
}

/* Members (names that resolve, this one included) and the live ones. */
void rnet_members(struct rnet *n, int *members, int *live)
{
    int k = 0, up = 0;
    for (size_t i = 0; i < n->n; i++) { /* our own slot among them: PEERS names us too */
        struct rnet_link *l = &n->links[i];
        pthread_mutex_lock(&l->mu);
        k += !l->unresolved && !l->gone;
        up += l->state == RL_UP;
        pthread_mutex_unlock(&l->mu);
    }
    *members = k > 0 ? k : 1;
    *live = up + 1;
}

/* Peers that linked to us without a live link of ours to them. */
int rnet_unlinked(struct rnet *n)
{
    return atomic_load(&n->unlinked);
}

/* Does a synchronous request about cart id wait for its answer on a link? */
bool rnet_pending_for(struct rnet *n, const char *id)
{
    bool found = false;
    for (size_t i = 0; i < n->n && !found; i++) {
        struct rnet_link *l = &n->links[i];
        pthread_mutex_lock(&l->mu);
        for (struct rnet_pend *p = l->ph; p && !found; p = p->next)
            found = p->q && !strcmp(p->id, id);
        pthread_mutex_unlock(&l->mu);
    }
    return found;
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

/* Connections refused for want of the secret's proof. */
uint64_t rnet_auth_refused(struct rnet *n)
{
    return rauth_refused(&n->auth);
}
