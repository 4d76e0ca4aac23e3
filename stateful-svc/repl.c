/* repl: replication between the replicas. See repl.h. */
#include "repl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "mstore.h"
#include "mtable.h"
#include "rnet.h"
#include "rquorum.h"
#include "util.h"

/* A lookup in progress: who holds the cart of q? */
struct repl_lookup {
    struct repl_lookup *next;
    struct store_req *q;
    atomic_int waiting;           /* LOOKUPs not yet answered (+1 while sending) */
    int best;                     /* the slot to take the cart from, -1 none */
    int tries;                    /* TAKEs refused while the owner settled its changes */
    int left;                     /* lookups q may make after this one */
    bool best_owner;
    uint64_t best_epoch;
    char best_tag[ID_TAG_MAX + 1];
};

struct repl {
    struct rnet *net;
    struct mstore *m;
    enum repl_mode mode;
    uint64_t inc;
    int timeout_ms;
    char tag[ID_TAG_MAX + 1];
    pthread_mutex_t mu;           /* guards handoffs */
    pthread_cond_t cv;
    long handoffs;                /* handoffs sent, not yet answered */
    atomic_ullong acks;
    atomic_ullong taken;          /* carts taken from a peer (TAKE granted) */
    struct rquorum quorum;        /* split-brain protection's verdict */
    atomic_bool started;          /* net is set: the loop's first tick runs before rnet_start returns */
};

#define REPL_TAKE_TRIES 200       /* TAKEs of a cart whose owner settles its changes */
#define REPL_BACK_MS 5000         /* readiness waits this long at most for a peer to link back */

/* Ask the peer of lk->best for the cart; false when its link is down. */
static bool repl_take(struct repl *r, struct repl_lookup *lk)
{
    struct rproto_msg take = {.type = RP_TAKE};
    snprintf(take.id, sizeof take.id, "%s", lk->q->id);
    return rnet_send(r->net, lk->best, &take, RW_TAKE, lk->q, lk, lk->q->id);
}

/* Complete q with st. */
static void repl_complete(struct store_req *q, enum store_status st, const char *why)
{
    if (why)
        snprintf(q->err, sizeof q->err, "%s", why);
    q->st = st;
    q->done(q);
}

/* rnet_ops.serve: a peer's request. */
static void repl_serve(void *ud, uint64_t inc, int slot, const struct rproto_msg *req,
                       struct rproto_msg *reply, unsigned char **owned)
{
    struct repl *r = ud;
    reply->type = RP_ACK;
    switch (req->type) {
    case RP_PUT: reply->code = mstore_put(r->m, req); break;
    case RP_DEL: reply->code = mstore_del(r->m, req); break;
    case RP_LOOKUP: mstore_lookup(r->m, req->id, reply); break;
    case RP_TAKE: mstore_take(r->m, req->id, inc, slot, reply, owned); break;
    case RP_HANDOFF: reply->code = mstore_handoff_in(r->m, req, slot); break;
    case RP_TOUCH: reply->code = mstore_touch(r->m, req); break;
    default: reply->code = RPA_ERROR;
    }
}

/* Decide a finished lookup: take the cart over, or not found. A live owner
 * gives its cart too (the balancer moved the session here: a readiness
 * blip, a pre-stop pause, a scale-down), so the cart follows its session
 * and stickiness is only a speed-up. */
static void repl_lookup_end(struct repl *r, struct repl_lookup *lk)
{
    struct store_req *q = lk->q;
    log_msg(LOG_DEBUG, "lookup", "cart %s: best slot %d owner %d tag %s", q->id, lk->best,
            lk->best_owner, lk->best_tag);
    /* a backup copy here, as new as any elsewhere: promote it (owner dead)
     * rather than take another from a peer; but not while another peer that
     * may hold a newer copy has only just become unreachable */
    uint64_t owner;
    uint32_t mine = mstore_epoch(r->m, q->id, &owner);
    if (lk->best >= 0 && !lk->best_owner && mine >= lk->best_epoch)
        lk->best = -1;
    /* nobody reachable holds it: a member unreachable since a moment may
     * (protection: for any cart, not only one we hold a copy of); without
     * a majority, the other side may */
    bool guard = mine > 0 || repl_protected(r);
    if (lk->best < 0 && guard && rnet_unsure(r->net, mine > 0 ? owner : 0, 3 * r->timeout_ms)) {
        free(lk);
        repl_complete(q, STORE_UNAVAILABLE, "a peer is unreachable since a moment; retry");
        return;
    }
    if (lk->best < 0 && !repl_majority(r)) {
        free(lk);
        repl_complete(q, STORE_NO_QUORUM, "no majority of the members is reachable");
        return;
    }
    if (lk->best >= 0 && repl_take(r, lk))
        return;
    int left = lk->left;
    free(lk);
    mstore_run(r->m, q, left);
}

/* One LOOKUP answered (msg NULL: the link died). */
static void repl_found(struct repl *r, struct rnet_link *l, struct repl_lookup *lk,
                       const struct rproto_msg *msg)
{
    if (msg && msg->type == RP_FOUND) {
        bool owner = !(msg->code & RPROLE_BACKUP);
        if (lk->best < 0 || (owner && !lk->best_owner) ||
            (owner == lk->best_owner && msg->epoch > lk->best_epoch)) {
            lk->best = l->slot;
            lk->best_owner = owner;
            lk->best_epoch = msg->epoch;
            snprintf(lk->best_tag, sizeof lk->best_tag, "%s", msg->tag);
        }
    }
    if (atomic_fetch_sub(&lk->waiting, 1) == 1)
        repl_lookup_end(r, lk);
}

/* The answer to a TAKE (msg NULL: the link died). An owner that still
 * waits for its backup's ack of a synchronous change of the cart gives it
 * only once that change is settled (so that its answer is final): ask
 * again, a bounded number of times (each ask is a round trip). */
static void repl_taken(struct repl *r, struct rnet_link *l, struct repl_lookup *lk,
                       const struct rproto_msg *msg)
{
    struct store_req *q = lk->q;
    int left = lk->left;
    if (msg && msg->type == RP_REFUSE && msg->code == RPR_SETTLING &&
        ++lk->tries < REPL_TAKE_TRIES && repl_take(r, lk))
        return;
    free(lk);
    if (msg && msg->type == RP_GRANT) {
        mstore_granted(r->m, msg, l->slot);
        log_msg(LOG_DEBUG, "takeover", "cart %s from %s, epoch %llu", q->id, l->tag,
                (unsigned long long)msg->epoch);
        atomic_fetch_add(&r->taken, 1);
        mstore_run(r->m, q, left);
        return;
    }
    /* the holder gave it on meanwhile, or it is a copy whose owner lives
     * elsewhere (a grant in flight): ask again who holds it */
    bool moved = msg && msg->type == RP_REFUSE &&
                 (msg->code == RPR_NOT_FOUND || msg->code == RPR_OWNER_ALIVE);
    if (moved && left > 0) {
        repl_lookup(r, q, left);
        return;
    }
    if (msg && msg->type == RP_REFUSE && msg->code == RPR_NOT_FOUND) {
        mstore_run(r->m, q, 0);
        return;
    }
    if (msg && msg->type == RP_REFUSE && msg->code == RPR_BUSY) {
        repl_complete(q, STORE_DRAINING, "the cart is moving; retry");
        return;
    }
    repl_complete(q, STORE_UNAVAILABLE, "the cart's holder did not give it; retry");
}

/* The ack of a change's copy: complete q, or learn that the cart moved. */
static void repl_acked(struct repl *r, struct rnet_pend *p, const struct rproto_msg *msg)
{
    struct store_req *q = p->q;
    if (!msg) { /* the link died: the copy goes to the new backup */
        if (q && !mstore_resend(r->m, q, p->id)) /* one copy: acknowledged only with a majority */
            repl_complete(q, repl_majority(r) ? STORE_OK : STORE_NO_QUORUM,
                          "no majority of the members is reachable");
        return;
    }
    atomic_fetch_add(&r->acks, 1);
    if (msg->type == RP_ACK && msg->code == RPA_STALE) {
        log_msg(LOG_WARN, "stale_owner", "cart %s is owned by a newer epoch elsewhere", p->id);
        mstore_stale(r->m, p->id);
        if (q)
            repl_complete(q, STORE_UNAVAILABLE, "the cart moved to another replica; retry");
        return;
    }
    if (msg->type == RP_ACK && msg->code == RPA_ERROR && p->wait == RW_PUT)
        mstore_unbacked(r->m, p->id); /* answered all the same: the change is made here */
    if (msg->type == RP_ACK && msg->code == RPA_FULL && p->wait == RW_PUT) {
        if (!mstore_resend(r->m, q, p->id) && q)
            repl_complete(q, STORE_OK, NULL);
        return;
    }
    if (q)
        repl_complete(q, STORE_OK, NULL);
}

/* rnet_ops.answer: route an answer to what waits for it. */
static void repl_answer(void *ud, struct rnet_link *l, struct rnet_pend *p,
                        const struct rproto_msg *msg)
{
    struct repl *r = ud;
    switch (p->wait) {
    case RW_PUT: case RW_DEL:
        repl_acked(r, p, msg);
        return;
    case RW_LOOKUP:
        repl_found(r, l, p->ctx, msg);
        return;
    case RW_TAKE:
        repl_taken(r, l, p->ctx, msg);
        return;
    case RW_TOUCH:
        mstore_touch_acked(r->m, l->slot, p->id, msg);
        return;
    case RW_HANDOFF: {
        bool ok = msg && msg->type == RP_ACK && msg->code == RPA_OK;
        mstore_handoff_done(r->m, p->id, ok);
        pthread_mutex_lock(&r->mu);
        r->handoffs--;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        return;
    }
    default: return;
    }
}

/* Take the split-brain verdict again (any thread). On losing the majority,
 * every cart owned here becomes suspect: the other side may promote its
 * backup copy and change it, so after healing each is re-checked before it
 * is served (a read must not return the cart as it was before the partition). */
static void repl_check_quorum(struct repl *r)
{
    if (atomic_load(&r->started) && rquorum_check(&r->quorum, r->net))
        mstore_suspect_all(r->m);
}

/* rnet_ops.lost: a peer died: re-replicate what it backed up; the copies
 * it owned here keep a full TTL from now. */
static void repl_lost(void *ud, int slot)
{
    struct repl *r = ud;
    size_t n;
    struct rnet_link *l = &rnet_links(r->net, &n)[slot];
    pthread_mutex_lock(&l->mu);
    uint64_t inc = l->inc;
    pthread_mutex_unlock(&l->mu);
    repl_check_quorum(r); /* before the changes waiting on that link are settled */
    mstore_peer_lost(r->m, slot);
    mstore_owner_lost(r->m, inc);
}

/* rnet_ops.tick: a majority found again (a link came up) is seen here. */
static void repl_tick(void *ud)
{
    repl_check_quorum(ud);
}

/* Find who holds q's cart among the live peers; take it over, or answer. */
void repl_lookup(struct repl *r, struct store_req *q, int lookups)
{
    if (!rnet_settled(r->net)) { /* a peer not reached yet may hold the cart */
        repl_complete(q, STORE_UNAVAILABLE, "the peers are not reached yet; retry");
        return;
    }
    struct repl_lookup *lk = calloc(1, sizeof *lk);
    if (!lk) {
        repl_complete(q, STORE_ERROR, "out of memory");
        return;
    }
    lk->q = q;
    lk->best = -1;
    lk->left = lookups > 0 ? lookups - 1 : 0;
    atomic_init(&lk->waiting, 1); /* held until every LOOKUP is out */
    size_t n;
    rnet_links(r->net, &n);
    for (size_t i = 0; i < n; i++) {
        struct rproto_msg m = {.type = RP_LOOKUP};
        snprintf(m.id, sizeof m.id, "%s", q->id);
        atomic_fetch_add(&lk->waiting, 1);
        if (!rnet_send(r->net, (int)i, &m, RW_LOOKUP, NULL, lk, q->id))
            atomic_fetch_sub(&lk->waiting, 1);
    }
    if (atomic_fetch_sub(&lk->waiting, 1) == 1)
        repl_lookup_end(r, lk);
}

/* FNV-1a 64 of a and b: the rendezvous score of cart a on peer b. */
static uint64_t repl_score(const char *a, const char *b)
{
    uint64_t h = 14695981039346656037ull;
    for (const char *s = a; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *s = b; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The live peer that should back up cart id (rendezvous hashing). */
int repl_pick(struct repl *r, const char *id, int skip)
{
    size_t n;
    struct rnet_link *ls = rnet_links(r->net, &n);
    int best = MT_NO_PEER;
    uint64_t best_score = 0;
    for (size_t i = 0; i < n; i++) {
        struct rnet_link *l = &ls[i];
        pthread_mutex_lock(&l->mu);
        bool ok = l->state == RL_UP && !l->draining && (int)i != skip;
        uint64_t score = ok ? repl_score(id, l->tag) : 0;
        pthread_mutex_unlock(&l->mu);
        if (ok && (best == MT_NO_PEER || score > best_score)) {
            best = (int)i;
            best_score = score;
        }
    }
    return best;
}

/* The peer slot of incarnation inc, or -1. */
int repl_slot_of(struct repl *r, uint64_t inc)
{
    size_t n;
    struct rnet_link *ls = rnet_links(r->net, &n);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&ls[i].mu);
        bool hit = ls[i].state == RL_UP && ls[i].inc == inc;
        pthread_mutex_unlock(&ls[i].mu);
        if (hit)
            return (int)i;
    }
    return -1;
}

/* Is the replica of incarnation inc alive? Its tag into tag. */
bool repl_alive(struct repl *r, uint64_t inc, char *tag)
{
    if (!r)
        return false;
    if (inc == r->inc) {
        if (tag)
            snprintf(tag, ID_TAG_MAX + 1, "%s", r->tag);
        return true;
    }
    int slot = repl_slot_of(r, inc);
    if (slot < 0)
        return false;
    if (tag) {
        size_t n;
        struct rnet_link *l = &rnet_links(r->net, &n)[slot];
        pthread_mutex_lock(&l->mu);
        snprintf(tag, ID_TAG_MAX + 1, "%s", l->tag);
        pthread_mutex_unlock(&l->mu);
    }
    return true;
}

/* Queue m on the link to slot, with a pending entry. */
bool repl_send(struct repl *r, int slot, struct rproto_msg *m, enum repl_wait w,
               struct store_req *q, const char *id)
{
    return r && rnet_send(r->net, slot, m, (int)w, q, NULL, id);
}

/* Queue count requests on the link to slot in one write. */
size_t repl_send_many(struct repl *r, int slot, struct rproto_msg *const *ms,
                      const int *waits, size_t count)
{
    return r ? rnet_send_many(r->net, slot, ms, waits, count) : 0;
}

/* Wait (mutex held) until no handoff is outstanding or the deadline passes. */
static void repl_wait_handoffs(struct repl *r, long long deadline_ms)
{
    while (r->handoffs > 0 && mt_now_ms() < deadline_ms) {
        struct timespec ts = util_mono_after(50);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
}

/* Wait (no live peer) while a peer that linked to us has no live link of
 * ours yet: a replica that just started, which a rollout stops us for, and
 * whose name or address we have not reached yet. True once a peer is live. */
static bool repl_wait_peer(struct repl *r, long long deadline_ms)
{
    bool said = false;
    while (mt_now_ms() < deadline_ms && rnet_unlinked(r->net) > 0) {
        struct repl_stats rs;
        repl_stats(r, &rs);
        if (rs.peers_live > 0)
            return true;
        if (!said)
            log_msg(LOG_INFO, "handoff", "waiting for a peer that linked to us");
        said = true;
        struct timespec nap = {.tv_nsec = 50 * 1000000L};
        nanosleep(&nap, NULL);
    }
    return false;
}

/* Draining: tell the peers, hand every owned cart away, acknowledged. */
void repl_drain(struct repl *r, long long deadline_ms)
{
    rnet_announce_draining(r->net);
    for (int round = 0; round < 50 && mt_now_ms() < deadline_ms; round++) {
        struct repl_stats rs;
        repl_stats(r, &rs);
        if (rs.peers_live == 0 && !repl_wait_peer(r, deadline_ms)) {
            log_msg(LOG_WARN, "handoff", "no live peer: %ld carts stay here",
                    atomic_load(&r->m->t.owned));
            return;
        }
        long queued = mstore_handoff_round(r->m);
        pthread_mutex_lock(&r->mu);
        r->handoffs += queued;
        repl_wait_handoffs(r, deadline_ms);
        pthread_mutex_unlock(&r->mu);
        long left = atomic_load(&r->m->t.owned);
        log_msg(LOG_INFO, "handoff", "round %d: %ld carts sent, %ld still owned", round + 1,
                queued, left);
        if (left == 0)
            return;
        struct timespec nap = {.tv_nsec = 100 * 1000000L};
        nanosleep(&nap, NULL);
    }
}

/* rnet_ops of replication. */
static const struct rnet_ops repl_net_ops = {
    .serve = repl_serve, .answer = repl_answer, .lost = repl_lost, .tick = repl_tick,
};

/* Start the loop and listener; NULL with err set. */
struct repl *repl_start(const struct repl_cfg *cfg, struct mstore *m, char *err, size_t errlen)
{
    struct repl *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (getrandom(&r->inc, sizeof r->inc, 0) != sizeof r->inc || r->inc == 0)
        r->inc = (uint64_t)time(NULL) * 2654435761u + 1;
    r->m = m;
    r->mode = cfg->mode;
    r->timeout_ms = cfg->timeout_ms;
    rquorum_init(&r->quorum, cfg->mode == REPL_SYNC, cfg->min_members);
    snprintf(r->tag, sizeof r->tag, "%s", cfg->tag);
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    m->inc = r->inc;
    m->repl = r;
    struct rnet_cfg nc = {
        .peers = cfg->peers, .npeers = cfg->npeers, .listen_addr = cfg->listen_addr,
        .port = cfg->port, .port_offset = cfg->port_offset, .timeout_ms = cfg->timeout_ms,
        .tag = cfg->tag, .inc = r->inc, .secret = cfg->secret, .secret_len = cfg->secret_len,
    };
    r->net = rnet_start(&nc, &repl_net_ops, r, err, errlen);
    atomic_store(&r->started, r->net != NULL);
    if (!r->net) {
        m->repl = NULL;
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return NULL;
    }
    return r;
}

/* Stop the loop, close every connection, complete what waits. */
void repl_stop(struct repl *r)
{
    if (!r)
        return;
    rnet_stop(r->net);
    r->m->repl = NULL;
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* This process's incarnation. */
uint64_t repl_inc(const struct repl *r)
{
    return r->inc;
}

/* True once every peer was tried. */
bool repl_settled(struct repl *r)
{
    return !r || rnet_settled(r->net);
}

/* Ready for traffic: every peer tried, and the live ones linked back. */
bool repl_ready(struct repl *r)
{
    return !r || rnet_ready(r->net, REPL_BACK_MS);
}

/* A majority reachable (or no protection)? A false answer is a refusal:
 * counted, after a fresh look (a link that came up since the last tick). */
bool repl_majority(struct repl *r)
{
    if (!r)
        return true;
    if (!atomic_load(&r->started)) /* before the first verdict: a majority, as at init */
        return atomic_load(&r->quorum.majority);
    return rquorum_majority(&r->quorum, r->net);
}

/* Split-brain protection in force? */
bool repl_protected(struct repl *r)
{
    return r && atomic_load(&r->quorum.protect);
}

/* Is a synchronous change of cart id waiting for its backup's ack? */
bool repl_settling(struct repl *r, const char *id)
{
    return r && rnet_pending_for(r->net, id);
}

/* The mode. */
enum repl_mode repl_mode(const struct repl *r)
{
    return r ? r->mode : REPL_OFF;
}

/* Counters for /info and /metrics. */
void repl_stats(struct repl *r, struct repl_stats *out)
{
    memset(out, 0, sizeof *out);
    rnet_counters(r->net, &out->bytes_sent, &out->msgs_sent);
    out->acks = atomic_load(&r->acks);
    out->taken = atomic_load(&r->taken);
    out->no_quorum = atomic_load(&r->quorum.refused);
    out->members = atomic_load(&r->quorum.members);
    out->auth_refused = rnet_auth_refused(r->net);
    size_t n;
    struct rnet_link *ls = rnet_links(r->net, &n);
    int64_t now = mt_now_ms();
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&ls[i].mu);
        if (ls[i].state != RL_SELF)
            out->peers++;
        out->peers_live += ls[i].state == RL_UP;
        out->pending += ls[i].npend;
        if (ls[i].ph && (uint64_t)(now - ls[i].ph->sent_ms) > out->lag_max_ms)
            out->lag_max_ms = (uint64_t)(now - ls[i].ph->sent_ms);
        pthread_mutex_unlock(&ls[i].mu);
    }
}

/* Parse REPLICATION. */
bool repl_mode_parse(const char *s, enum repl_mode *out)
{
    static const char *const names[] = {"off", "async", "sync"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, names[i])) {
            *out = (enum repl_mode)i;
            return true;
        }
    return false;
}

/* The name of a mode. */
const char *repl_mode_name(enum repl_mode m)
{
    return m == REPL_SYNC ? "sync" : m == REPL_ASYNC ? "async" : "off";
}
