/* repl: replication between the stateful-svc replicas.
 *
 * One thread runs an epoll loop with the replication listener, one
 * persistent outgoing connection (a link) to every peer, and the incoming
 * connections from peers. A link says HELLO (tag, incarnation), then carries
 * pipelined requests (rproto) whose answers come back in order: a FIFO of
 * pending entries per link matches them. Any thread may queue a message on a
 * link (repl_send); the loop writes it out. A link that fails, closes, or
 * leaves its oldest request unanswered past REPL_TIMEOUT_MS is a dead peer:
 * its pending changes go to a new backup, and every cart it backed up is
 * re-replicated (mstore_peer_lost). Membership is the PEERS list; a peer is
 * live while its link is up. Thread-safe. */
#ifndef REPL_H
#define REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "id.h"
#include "rproto.h"
#include "store.h"

enum repl_mode { REPL_OFF = 0, REPL_ASYNC, REPL_SYNC };

/* What a pending entry waits for. */
enum repl_wait {
    RW_PUT,       /* a change's copy: ack completes q (sync) */
    RW_DEL,       /* a delete's copy: ack completes q (sync) */
    RW_PING,
    RW_LOOKUP,    /* part of a lookup: ctx */
    RW_TAKE,      /* a takeover: ctx */
    RW_HANDOFF,   /* a drain's handoff: ctx = the cart id */
    RW_TOUCH      /* a sweep's TOUCH (mttl.c) */
};

struct repl_cfg {
    enum repl_mode mode;
    const struct cfg_peer *peers; /* every replica, this one included */
    size_t npeers;
    const char *listen_addr;
    int port;                     /* the replication listener */
    int port_offset;              /* a peer's replication port = its PEERS port + this */
    int timeout_ms;               /* an unanswered request past this kills the link */
    const char *tag;              /* this instance's cart-id tag */
    int min_members;              /* sync: split-brain protection from this many members (0: off) */
    const unsigned char *secret;  /* REPL_SECRET_FILE's bytes, NULL: links not authenticated */
    size_t secret_len;
};

struct repl_stats {
    uint64_t bytes_sent, msgs_sent, acks, lag_max_ms;
    uint64_t taken;               /* carts taken over from a peer (its grant) */
    uint64_t no_quorum;           /* requests refused without a majority */
    int members;                  /* the replicas whose names resolve, this one included */
    long pending;                 /* requests sent and not yet answered */
    int peers_live, peers;
    uint64_t auth_refused;        /* peers refused: no proof that they hold the secret */
};

struct repl;
struct mstore;

/* Start the loop and listener; NULL with err set. */
struct repl *repl_start(const struct repl_cfg *cfg, struct mstore *m, char *err, size_t errlen);

/* Stop the loop, close every connection, complete what waits (NULL is fine). */
void repl_stop(struct repl *r);

/* This process's incarnation: random, new on every start. */
uint64_t repl_inc(const struct repl *r);

/* True once every peer was tried at least once (membership known); NULL: true. */
bool repl_settled(struct repl *r);

/* True once every peer was tried and each live one linked back to this
 * replica (or had a few seconds to): a peer stopped right after can hand
 * its carts here. NULL: true. */
bool repl_ready(struct repl *r);

/* Does a synchronous change of cart id wait for its backup's ack (the
 * owner gives the cart away only once it is settled)? NULL: false. */
bool repl_settling(struct repl *r, const char *id);

/* Split-brain protection (sync, REPL_MIN_MEMBERS): false while this replica
 * cannot reach a majority of the members; then it refuses changes (and
 * counts the refusal). NULL, or protection off: true. */
bool repl_majority(struct repl *r);

/* Is split-brain protection in force (sync, enough members)? */
bool repl_protected(struct repl *r);

/* The mode. */
enum repl_mode repl_mode(const struct repl *r);

/* The live peer that should back up cart id (rendezvous hashing over live,
 * non-draining peers, skipping `skip`); MT_NO_PEER when there is none. */
int repl_pick(struct repl *r, const char *id, int skip);

/* Is the replica of incarnation inc alive? Its tag into tag (may be NULL). */
bool repl_alive(struct repl *r, uint64_t inc, char *tag);

/* The peer slot of incarnation inc, or -1. */
int repl_slot_of(struct repl *r, uint64_t inc);

/* Queue m on the link to slot, with a pending entry (q for RW_PUT/RW_DEL in
 * sync mode, else NULL); false when that link is not up. */
bool repl_send(struct repl *r, int slot, struct rproto_msg *m, enum repl_wait w,
               struct store_req *q, const char *id);

/* Queue count requests (ms[i] waiting as waits[i], no request) on the link
 * to slot in one write; how many were queued. */
size_t repl_send_many(struct repl *r, int slot, struct rproto_msg *const *ms,
                      const int *waits, size_t count);

/* Find who holds q's cart among the live peers and take it over (from its
 * live owner too), or answer 404; completes q (maybe through the store
 * again, with lookups - 1 lookups left). */
void repl_lookup(struct repl *r, struct store_req *q, int lookups);

/* Draining: tell the peers, hand every owned cart to a live peer (data and
 * ownership, acknowledged; with no live peer, wait for one that linked to
 * us); returns when done or at deadline_ms. */
void repl_drain(struct repl *r, long long deadline_ms);

/* Counters for /info and /metrics. */
void repl_stats(struct repl *r, struct repl_stats *out);

/* Parse REPLICATION ("sync", "async", "off"); false when unknown. */
bool repl_mode_parse(const char *s, enum repl_mode *out);

/* The name of a mode. */
const char *repl_mode_name(enum repl_mode m);

#endif
