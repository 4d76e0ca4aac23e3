/* rnet_int: what the replication network's modules share (rnet.c: the loop
 * and its life, and the socket helpers; rnet_link.c: outgoing links;
 * rnet_conn.c: incoming connections). Not for other modules. Thread-safety
 * as in rnet.h: only the loop thread reads, writes and closes; links are
 * shared under their mutex. */
#ifndef RNET_INT_H
#define RNET_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "rauth.h"
#include "rdns.h"
#include "rnet.h"

#define RN_RETRY_MS 200           /* between connection attempts */
#define RN_RESOLVE_RETRY_MS 2000  /* after a name did not resolve */
#define RN_PING_MS 250            /* an idle link is pinged this often */
#define RN_TICK_MS 100
#define RN_READ 65536
#define RN_BATCH 64               /* answers matched with their entries under one lock */
#define RN_TAG_LISTEN ((uint64_t)1 << 62)
#define RN_TAG_EVENT ((uint64_t)1 << 61)
#define RN_TAG_LINK ((uint64_t)1 << 60)

/* Where an incoming connection is in the handshake (with a secret). */
enum rn_conn_auth { RC_NEW = 0, RC_PROVING, RC_AUTHED };

/* An incoming connection from a peer. */
struct rnet_conn {
    struct rnet_conn *next;
    int fd;
    uint64_t inc;
    int slot;                     /* the link to the same peer, as last seen (-1: none) */
    bool dead;
    bool kicked;                  /* its HELLO made the down links try again at once */
    bool want_out;                /* watching for writability */
    struct rproto_buf in, out;
    char addr[64];                /* the peer's address, for the log */
    int64_t opened_ms;
    int auth;                     /* enum rn_conn_auth */
    uint64_t hello_inc;           /* RC_PROVING: what the peer's HELLO said, */
    bool hello_draining;          /* taken once its AUTH is checked */
    unsigned char want[RPROTO_MAC_LEN]; /* RC_PROVING: the AUTH that proves it */
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
    struct rdns *dns;             /* the peers' names, resolved off the loop */
    atomic_ullong bytes, msgs;
    atomic_int unlinked;          /* the loop's count of rnet_unlinked, each tick */
    struct rauth auth;            /* REPL_SECRET_FILE's key, and the refusals */
};

/* Make fd non-blocking, without Nagle's delay. */
void rn_nonblock(int fd);

/* Queue m on l (mutex held); with a pending entry unless wait < 0. */
bool rn_push(struct rnet *n, struct rnet_link *l, struct rproto_msg *m, int wait,
             void *q, void *ctx, const char *id);

/* Our HELLO. */
struct rproto_msg rn_hello(struct rnet *n);

/* Close the incoming connections still unauthenticated REPL_TIMEOUT_MS
 * after they were accepted (a peer that never sends its AUTH). */
void rn_conn_expire(struct rnet *n);

/* Close link l and answer its pending entries with NULL (loop thread). */
void rn_link_down(struct rnet *n, struct rnet_link *l, const char *why);

/* Start a non-blocking connect of link l (once its name is resolved). */
void rn_connect(struct rnet *n, struct rnet_link *l);

/* Read what fd has into b; false when the connection is over, with *err
 * 0 for an orderly close, else the errno (ENOMEM: no room in b). */
bool rn_recv(int fd, struct rproto_buf *b, int *err);

/* Write what fits of b to fd; false on a broken connection. */
bool rn_flush_buf(struct rnet *n, int fd, struct rproto_buf *b);

/* Flush link l, and take it down when the write fails. */
void rn_flush_link(struct rnet *n, struct rnet_link *l);

/* The slot whose link reached the replica of incarnation inc, or -1. */
int rn_slot_of(struct rnet *n, uint64_t inc);

/* Is there an incoming connection from incarnation inc (loop thread)? */
bool rn_conn_from(struct rnet *n, uint64_t inc);

/* A peer we have no live link to said HELLO: try every down link now. */
void rn_kick(struct rnet *n);

/* An event on link slot: connected, readable or writable. */
void rn_link_event(struct rnet *n, int slot, uint32_t ev);

/* Close an incoming connection (freed by rn_reap). */
void rn_conn_close(struct rnet *n, struct rnet_conn *c);

/* Read an incoming connection's requests, answer them, flush. */
void rn_conn_event(struct rnet *n, struct rnet_conn *c, uint32_t ev);

/* Accept the waiting incoming connections. */
void rn_accept(struct rnet *n);

/* Free the incoming connections that closed. */
void rn_reap(struct rnet *n);

#endif
