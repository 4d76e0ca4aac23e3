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

/* Is there an incoming connection from incarnation inc (loop thread)? */
bool rn_conn_from(struct rnet *n, uint64_t inc)
{
    for (struct rnet_conn *c = n->conns; c; c = c->next)
        if (!c->dead && c->inc == inc)
            return true;
    return false;
}

/* A peer said HELLO on c: mark the link to it as linked back (and draining
 * when it says so); a peer we have no live link to yet (it just started,
 * and our last try at its name or address failed) makes the down links try
 * again at once, once per connection, rather than at their next retry. */
static void rn_conn_hello(struct rnet *n, struct rnet_conn *c, bool draining)
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

/* Answer one request of an incoming connection. */
static void rn_conn_serve(struct rnet *n, struct rnet_conn *c, const struct rproto_msg *m)
{
    struct rproto_msg reply = {.type = 0};
    unsigned char *owned = NULL;
    if (m->type == RP_HELLO) {
        c->inc = m->inc;
        c->slot = -1;
        rn_conn_hello(n, c, m->code & 1);
        reply = rn_hello(n);
    } else if (m->type == RP_PING) {
        reply.type = RP_PONG;
    } else {
        n->ops.serve(n->ud, c->inc, rn_conn_slot(n, c), m, &reply, &owned);
    }
    reply.seq = m->seq;
    if (reply.type && !rproto_append(&c->out, &reply))
        rn_conn_close(n, c);
    free(owned);
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

/* Accept the waiting incoming connections. */
void rn_accept(struct rnet *n)
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
        c->slot = -1;
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

