/* rnet: the replication network of stateful-svc: one epoll thread with the
 * listener, a persistent outgoing link to every peer (connect, HELLO,
 * reconnect, heartbeat, timeout) and the incoming connections; the peers'
 * names are resolved on a thread of its own (rdns), never on the loop.
 *
 * Outgoing links carry requests with a FIFO of pending entries (answers
 * come back in order); incoming connections carry a peer's requests, each
 * answered by the server callback. Any thread may queue on an up link
 * (rnet_send); only the loop thread reads, writes and closes. With a
 * secret (REPL_SECRET_FILE), every connection proves in its HELLO exchange
 * that both ends hold it (rauth.h); without one, links are as before.
 * Thread-safe. */
#ifndef RNET_H
#define RNET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cfg.h"
#include "id.h"
#include "rproto.h"

enum rnet_state { RL_DOWN = 0, RL_CONNECTING, RL_HELLO, RL_UP, RL_SELF };

/* One request waiting for its answer on a link. */
struct rnet_pend {
    struct rnet_pend *next;
    uint64_t seq;
    int64_t sent_ms;
    int wait;                     /* the owner's kind of wait */
    void *q, *ctx;
    char id[CART_ID_MAX + 1];
};

/* The outgoing connection to one peer. */
struct rnet_link {
    int slot;
    char host[128];
    int port;
    pthread_mutex_t mu;           /* guards everything below but in */
    int fd;
    int state;                    /* enum rnet_state */
    char tag[ID_TAG_MAX + 1];
    uint64_t inc;
    bool draining;
    bool settled;                 /* tried at least once: up, ourselves, or refused */
    uint64_t seq;
    struct rproto_buf out;
    struct rnet_pend *ph, *pt;
    long npend;
    int64_t next_try_ms, last_tx_ms;
    int64_t down_ms;              /* when a live link went down, 0 if never
                                   * or when the peer left after draining */
    bool left;                    /* the loop's: the peer closed after draining */
    bool back;                    /* the peer linked back: its HELLO came on an incoming connection */
    bool unresolved;              /* its name did not resolve last time (no such pod) */
    bool gone;                    /* it left after draining (scaled down, or restarting): no member */
    int64_t up_ms;                /* when the link came up */
    bool corked;                  /* rnet_send_many is queueing: no write per message */
    atomic_bool queued;           /* out holds bytes its queuer left to the loop */
    struct rproto_buf in;         /* the loop's */
    bool want_out;                /* the loop's: watching for writability */
    unsigned char nonce[RPROTO_NONCE_LEN]; /* the loop's: our HELLO's, on this connection */
};

struct rnet;

/* What the owner of the network does with it (called on the loop thread). */
struct rnet_ops {
    /* A request from a peer (inc, its slot or -1): fill reply (type 0: none). */
    void (*serve)(void *ud, uint64_t inc, int slot, const struct rproto_msg *req,
                  struct rproto_msg *reply, unsigned char **owned);
    /* The answer to pending p (msg NULL: the link died before it came). */
    void (*answer)(void *ud, struct rnet_link *l, struct rnet_pend *p,
                   const struct rproto_msg *msg);
    /* A link went down, its pending entries not yet answered. */
    void (*lost)(void *ud, int slot);
    /* Once per tick (about 100 ms). */
    void (*tick)(void *ud);
};

struct rnet_cfg {
    const struct cfg_peer *peers;
    size_t npeers;
    const char *listen_addr;
    int port, port_offset, timeout_ms;
    const char *tag;
    uint64_t inc;
    const unsigned char *secret;  /* REPL_SECRET_FILE's bytes (NULL: no link authentication); */
    size_t secret_len;            /* only read by rnet_start */
};

/* Listen and start the loop thread; NULL with err set. */
struct rnet *rnet_start(const struct rnet_cfg *cfg, const struct rnet_ops *ops, void *ud,
                        char *err, size_t errlen);

/* Stop the loop; every pending entry is answered with NULL. */
void rnet_stop(struct rnet *n);

/* The links (count in *count); their fields only under their mutex. */
struct rnet_link *rnet_links(struct rnet *n, size_t *count);

/* Queue m on link slot with a pending entry (wait >= 0) unless wait < 0;
 * false when the link is not up. */
bool rnet_send(struct rnet *n, int slot, struct rproto_msg *m, int wait, void *q, void *ctx,
               const char *id);

/* Queue count requests (ms[i] with a pending entry of kind waits[i], its id
 * ms[i]->id) on link slot in one go, written out together by the loop
 * thread; how many were queued (0 when the link is not up). */
size_t rnet_send_many(struct rnet *n, int slot, struct rproto_msg *const *ms, const int *waits,
                      size_t count);

/* Is a peer other than incarnation except unreachable since less than
 * grace_ms (it went down lately: it may be alive behind a stall)? */
bool rnet_unsure(struct rnet *n, uint64_t except, int grace_ms);

/* True once every link was tried (membership known). */
bool rnet_settled(struct rnet *n);

/* Ready to take traffic: settled, and every live peer linked back to us (or
 * had back_ms to do so), so that a peer stopped next can hand carts to us. */
bool rnet_ready(struct rnet *n, int back_ms);

/* Members (the replicas whose names resolve, this one included, less those
 * that left after draining) and, of them, the live ones (up links, and this one). */
void rnet_members(struct rnet *n, int *members, int *live);

/* Peers that linked to us but that we have no live link to yet (a replica
 * that just started, whose name or address we have not reached yet). */
int rnet_unlinked(struct rnet *n);

/* Does a request about cart id wait for its answer with a caller's q (a
 * synchronous change not yet acknowledged) on any link? */
bool rnet_pending_for(struct rnet *n, const char *id);

/* Say HELLO again with the draining flag to every peer. */
void rnet_announce_draining(struct rnet *n);

/* Wake the loop thread (after queueing work for its tick). */
void rnet_wake(struct rnet *n);

/* Bytes and messages sent so far. */
void rnet_counters(struct rnet *n, uint64_t *bytes, uint64_t *msgs);

/* Connections refused so far because the peer did not prove it holds the secret. */
uint64_t rnet_auth_refused(struct rnet *n);

#endif
