/* rnet_conn: the incoming connections of the replication network: accept,
 * read requests, answer each through rnet_ops.serve. See rnet_int.h. */
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

/* Close an incoming connection (freed later in the loop). */
void rn_conn_close(struct rnet *n, struct rnet_conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(n->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->dead = true;
}

/* The link slot of c's peer: the one seen last, checked under that link's
 * lock only (a PUT does not scan every link), else looked up again. */
static int rn_conn_slot(struct rnet *n, struct rnet_conn *c)
{
    if (c->slot >= 0) {
        struct rnet_link *l = &n->links[c->slot];
        pthread_mutex_lock(&l->mu);
        bool same = l->state == RL_UP && l->inc == c->inc;
        pthread_mutex_unlock(&l->mu);
        if (same)
            return c->slot;
    }
    c->slot = rn_slot_of(n, c->inc);
    return c->slot;
}

/* Is there an (authenticated) incoming connection from incarnation inc (loop thread)? */
bool rn_conn_from(struct rnet *n, uint64_t inc)
{
    for (struct rnet_conn *c = n->conns; c; c = c->next)
        if (!c->dead && c->inc == inc)
            return true;
    return false;
}

/* The peer of c said who it is: mark the link to it as linked back (and
 * draining when it says so); a peer we have no live link to yet (it just
 * started, and our last try at its name or address failed) makes the down
 * links try again at once, once per connection, not at their next retry. */
static void rn_conn_known(struct rnet *n, struct rnet_conn *c, bool draining)
{
    bool known = false;
    for (size_t i = 0; i < n->n; i++) {
        struct rnet_link *l = &n->links[i];
        pthread_mutex_lock(&l->mu);
        if ((l->state == RL_UP || l->state == RL_SELF) && l->inc == c->inc) {
            known = true;
            l->back = true;
            l->draining = l->draining || draining;
        }
        pthread_mutex_unlock(&l->mu);
    }
    if (!known && !c->kicked && c->inc != n->cfg.inc) {
        c->kicked = true;
        rn_kick(n);
    }
}

/* Refuse c's peer (counted, warned at most once a minute per address) and close. */
static void rn_conn_refuse(struct rnet *n, struct rnet_conn *c, const char *why)
{
    rauth_refuse(&n->auth, c->addr, why, mt_now_ms());
    rn_conn_close(n, c);
}

/* With a secret, all an incoming connection may send before its AUTH: one
 * HELLO with its nonce (answered with ours and our proof), then the AUTH
 * that proves it holds the secret too. Anything else, or a wrong proof, is
 * refused: no request is served before the proof. */
static void rn_conn_handshake(struct rnet *n, struct rnet_conn *c, const struct rproto_msg *m,
                              struct rproto_msg *reply)
{
    if (c->auth == RC_PROVING) {
        if (m->type != RP_AUTH)
            rn_conn_refuse(n, c, "it sent a request before its AUTH");
        else if (!rauth_same(c->want, m->mac))
            rn_conn_refuse(n, c, "its proof is wrong (another secret?)");
        else { /* now the peer is who its HELLO said */
            c->auth = RC_AUTHED;
            c->inc = c->hello_inc;
            c->slot = -1;
            rn_conn_known(n, c, c->hello_draining);
        }
        return;
    }
    if (m->type != RP_HELLO || m->opt != RPF_NONCE) {
        rn_conn_refuse(n, c, m->type == RP_HELLO ? "its HELLO carries no nonce (is "
                                                   "REPL_SECRET_FILE set there?)"
                                                 : "it did not begin with a HELLO");
        return;
    }
    *reply = rn_hello(n);
    if (!rauth_nonce(reply->nonce)) {
        rn_conn_close(n, c);
        return;
    }
    reply->opt = RPF_NONCE | RPF_MAC;
    rauth_mac(&n->auth, RAUTH_ACCEPT, m->nonce, reply->nonce, n->cfg.inc, reply->tag, reply->mac);
    rauth_mac(&n->auth, RAUTH_CONNECT, m->nonce, reply->nonce, m->inc, m->tag, c->want);
    c->hello_inc = m->inc;
    c->hello_draining = m->code & 1;
    c->auth = RC_PROVING;
}

/* A HELLO on a connection that may be served. Without a secret: who the
 * peer is, as before (one that asks for a proof is counted, and answered
 * without one: it refuses the link). With one, only a HELLO after the
 * handshake comes here (to say the peer drains): it must be plain and name
 * the incarnation the handshake proved. */
static void rn_conn_hello(struct rnet *n, struct rnet_conn *c, const struct rproto_msg *m,
                          struct rproto_msg *reply)
{
    if (!rauth_on(&n->auth) && m->opt)
        rauth_refuse(&n->auth, c->addr, "it authenticates its links; REPL_SECRET_FILE is "
                                        "not set here", mt_now_ms());
    if (rauth_on(&n->auth) && (m->opt || m->inc != c->inc)) {
        rn_conn_close(n, c);
        return;
    }
    c->inc = m->inc;
    c->slot = -1;
    rn_conn_known(n, c, m->code & 1);
    *reply = rn_hello(n);
}

/* Answer one request of an incoming connection. */
static void rn_conn_serve(struct rnet *n, struct rnet_conn *c, const struct rproto_msg *m)
{
    struct rproto_msg reply = {.type = 0};
    unsigned char *owned = NULL;
    if (rauth_on(&n->auth) && c->auth != RC_AUTHED)
        rn_conn_handshake(n, c, m, &reply);
    else if (m->type == RP_HELLO)
        rn_conn_hello(n, c, m, &reply);
    else if (m->type == RP_AUTH) /* not asked for: a peer that does not follow the protocol */
        rn_conn_close(n, c);
    else if (m->type == RP_PING)
        reply.type = RP_PONG;
    else
        n->ops.serve(n->ud, c->inc, rn_conn_slot(n, c), m, &reply, &owned);
    reply.seq = m->seq;
    if (!c->dead && reply.type && !rproto_append(&c->out, &reply))
        rn_conn_close(n, c);
    free(owned);
}

/* Close the connections still unauthenticated REPL_TIMEOUT_MS after their
 * accept: a peer that never sends its AUTH holds no socket for long. */
void rn_conn_expire(struct rnet *n)
{
    if (!rauth_on(&n->auth))
        return;
    int64_t now = mt_now_ms();
    for (struct rnet_conn *c = n->conns; c; c = c->next)
        if (!c->dead && c->auth != RC_AUTHED && now - c->opened_ms > n->cfg.timeout_ms)
            rn_conn_refuse(n, c, "no AUTH in time");
}

/* Read an incoming connection's requests and answer them all with one write. */
void rn_conn_event(struct rnet *n, struct rnet_conn *c, uint32_t ev)
{
    int err;
    if ((ev & EPOLLIN) && !rn_recv(c->fd, &c->in, &err)) {
        rn_conn_close(n, c);
        return;
    }
    size_t off = 0, used;
    struct rproto_msg m;
    enum rproto_status st = RPROTO_MORE;
    while (!c->dead &&
           (st = rproto_decode(c->in.p + off, c->in.len - off, &m, &used)) == RPROTO_OK) {
        rn_conn_serve(n, c, &m);
        off += used;
    }
    if (c->dead || st == RPROTO_BAD) {
        rn_conn_close(n, c);
        return;
    }
    rproto_consume(&c->in, off);
    if (!rn_flush_buf(n, c->fd, &c->out)) {
        rn_conn_close(n, c);
        return;
    }
    bool more = c->out.len > 0;
    if (more != c->want_out) {
        struct epoll_event e = {.events = EPOLLIN | (more ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(n->ep, EPOLL_CTL_MOD, c->fd, &e);
        c->want_out = more;
    }
}

/* A peer's address for the log, without the port: a peer that reconnects
 * comes from another port, and its refusals are logged once per address. */
static void rn_conn_addr(const struct sockaddr_storage *sa, char *out, size_t outlen)
{
    const void *a = &((const struct sockaddr_in *)sa)->sin_addr;
    if (sa->ss_family == AF_INET6)
        a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (!inet_ntop(sa->ss_family, a, out, (socklen_t)outlen))
        snprintf(out, outlen, "unknown");
}

/* Accept the waiting incoming connections. */
void rn_accept(struct rnet *n)
{
    int fd;
    struct sockaddr_storage sa;
    socklen_t salen = sizeof sa;
    while ((fd = accept4(n->lfd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC)) >= 0) {
        struct rnet_conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        rn_nonblock(fd);
        c->fd = fd;
        c->slot = -1;
        c->opened_ms = mt_now_ms();
        rn_conn_addr(&sa, c->addr, sizeof c->addr);
        salen = sizeof sa;
        c->next = n->conns;
        n->conns = c;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* Free the incoming connections that closed. */
void rn_reap(struct rnet *n)
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

