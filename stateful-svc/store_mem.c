/* store_mem: the in-memory cart store (see store_mem.h): where a request goes
 * (an owned cart: mcart.c; a backup copy or an absent cart: here, maybe a
 * takeover), and the store's life. mserve.c answers the peers. */
#include "store_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cblob.h"
#include "members.h"
#include "mstore.h"
#include "repl.h"
#include "util.h"

#define MEM_SETTLE_MS 1000        /* start-up waits this long at most for the peers */

static const struct store_ops mem_ops;

/* Complete q with st. */
static void mem_complete(struct store_req *q, enum store_status st)
{
    q->st = st;
    q->done(q);
}

/* What a request does with a backup copy: with its owner alive, ask the
 * peers (and take it over from the owner, asking again while it moves on);
 * with its owner dead, ask the peers for a newer copy first, then promote
 * this one (only on the majority side under split-brain protection). */
static enum store_status mem_backup(struct mstore *m, struct mt_shard *sh, struct mt_entry *e,
                                    struct store_req *q, int lookups, bool *pending,
                                    bool *lookup)
{
    if (atomic_load(&m->draining))
        return STORE_DRAINING;
    bool alive = repl_alive(m->repl, e->owner_inc, NULL);
    if (!alive && lookups < MS_LOOKUPS && !repl_majority(m->repl))
        return STORE_NO_QUORUM; /* promote a copy only on the majority side */
    /* first ask the peers; ask again while its live owner is elsewhere (the
     * cart moved on meanwhile: two sessions pull it to and fro) */
    if (m->repl && (lookups == MS_LOOKUPS || (alive && lookups > 0))) {
        *lookup = true;
        return STORE_OK;
    }
    if (alive)
        return STORE_UNAVAILABLE; /* its live owner did not give it: retry */
    mt_set_role(&m->t, e, MT_OWNED);
    e->epoch++;
    e->moved = true;
    e->owner_inc = m->inc;
    return mstore_owned(m, sh, e, q, true, pending);
}

/* A cart owned here while this replica lost its majority: the other side
 * may have promoted its backup copy meanwhile, so ask the peers once
 * (a newer copy is taken over), then serve it; without a majority, 503. */
static enum store_status mem_suspect(struct mstore *m, struct mt_shard *sh, struct mt_entry *e,
                                     struct store_req *q, int lookups, bool *pending,
                                     bool *lookup)
{
    if (!repl_majority(m->repl))
        return STORE_NO_QUORUM;
    if (lookups == MS_LOOKUPS) {
        *lookup = true;
        return STORE_OK;
    }
    e->suspect = false;
    e->last_ms = mt_now_ms();
    return mstore_owned(m, sh, e, q, false, pending);
}

/* A cart this replica does not hold: without peers, 421 when the id names
 * another instance, else 404; with peers, ask them (at most once). */
static enum store_status mem_absent(struct mstore *m, struct store_req *q, int lookups,
                                    bool *lookup)
{
    char idtag[ID_TAG_MAX + 1] = "";
    bool tagged = id_tag_of(q->id, idtag, sizeof idtag);
    if (!m->repl) {
        if (tagged && m->tag[0] && strcmp(idtag, m->tag)) {
            snprintf(q->owner, sizeof q->owner, "%s", idtag);
            return STORE_MISDIRECTED;
        }
        return STORE_NOT_FOUND;
    }
    if (lookups != MS_LOOKUPS || !tagged)
        return STORE_NOT_FOUND;
    if (atomic_load(&m->draining))
        return STORE_DRAINING;
    *lookup = true;
    return STORE_OK;
}

/* Run q on this store, with `lookups` lookups left. */
void mstore_run(struct mstore *m, struct store_req *q, int lookups)
{
    q->cst = CART_OK;
    q->err[0] = q->owner[0] = '\0';
    if (q->op == STORE_OP_CREATE) {
        if (atomic_load(&m->draining)) {
            mem_complete(q, STORE_DRAINING);
            return;
        }
        if (!id_valid(q->id)) {
            mem_complete(q, STORE_ERROR);
            return;
        }
        if (!mstore_create(m, q))
            q->done(q);
        return;
    }
    if (!id_valid(q->id)) {
        mem_complete(q, STORE_NOT_FOUND);
        return;
    }
    struct mt_shard *sh = mt_shard(&m->t, q->id);
    bool pending = false, lookup = false;
    enum store_status st;
    pthread_mutex_lock(&sh->lock);
    int64_t now = mt_now_ms();
    struct mt_entry *e = mt_find(&m->t, sh, q->id, now);
    if (!e) {
        st = mem_absent(m, q, lookups, &lookup);
    } else if (e->role == MT_HANDING) {
        st = STORE_DRAINING;
    } else if (e->role == MT_BACKUP) {
        st = mem_backup(m, sh, e, q, lookups, &pending, &lookup);
    } else if (e->suspect) {
        st = mem_suspect(m, sh, e, q, lookups, &pending, &lookup);
    } else {
        e->last_ms = now;
        st = mstore_owned(m, sh, e, q, false, &pending);
    }
    pthread_mutex_unlock(&sh->lock);
    if (lookup)
        repl_lookup(m->repl, q, lookups);
    else if (!pending)
        mem_complete(q, st);
}

/* ops.submit. */
static void mem_submit(void *self, struct store_req *q)
{
    mstore_run(self, q, MS_LOOKUPS);
}

/* ops.ping: ready once every peer was tried (who holds what is known) and
 * the live ones linked back (a peer stopped next can hand its carts here). */
static enum store_status mem_ping(void *self, char *err, size_t errlen)
{
    struct mstore *m = self;
    if (repl_ready(m->repl))
        return STORE_OK;
    snprintf(err, errlen, "the replication peers are not reached yet");
    return STORE_UNAVAILABLE;
}

/* ops.stats: carts owned here (backup copies are counted apart). */
static enum store_status mem_stats(void *self, struct store_stats *out, char *err,
                                   size_t errlen)
{
    struct mstore *m = self;
    long n = atomic_load(&m->t.owned);
    out->carts = n > 0 ? (uint64_t)n : 0;
    out->errors = 0;
    struct repl_stats rs = {0};
    if (m->repl)
        repl_stats(m->repl, &rs);
    const struct store_stat x[] = {
        {"max_carts", "Carts held at most (MAX_CARTS, owned and backup copies).", m->max_carts},
        {"carts_owned", "Carts this replica owns.", n},
        {"carts_backup", "Backup copies of other replicas' carts held here.",
         atomic_load(&m->t.backups)},
        {"carts_under_replicated", "Owned carts without a live backup copy (REPLICATION off: all).",
         atomic_load(&m->t.unreplicated)},
        {"cart_bytes", "Heap bytes of the carts held (owned and backup), estimated.",
         atomic_load(&m->t.bytes)},
        {"repl_lag_ms", "Age of the oldest change sent to a peer and not yet acknowledged.",
         (long long)rs.lag_max_ms},
        {"repl_pending", "Replication requests sent and not yet answered.", rs.pending},
        {"repl_bytes_sent", "Bytes sent to peers by replication.", (long long)rs.bytes_sent},
        {"repl_peers_live", "Peers with a live replication link.", rs.peers_live},
        {"repl_touches_sent", "TOUCHes sent: a backup copy's TTL slid after reads of the cart.",
         atomic_load(&m->touches_sent)},
        {"repl_expiry_dels_sent", "DELs sent to backups because the owned cart expired.",
         atomic_load(&m->expiry_dels)},
        {"repl_members", "Members: replicas whose names resolve, this one included.", rs.members},
        {"repl_quorum_refusals", "Requests refused: no majority of the members reachable.",
         (long long)rs.no_quorum},
        {"repl_carts_taken", "Carts taken over from a peer (its owner moved, drained or died).",
         (long long)rs.taken},
        {"repl_auth_refused", "Replication connections refused: the peer did not prove it "
         "holds REPL_SECRET_FILE's secret.", (long long)rs.auth_refused},
    };
    out->nextra = sizeof x / sizeof x[0];
    memcpy(out->extra, x, sizeof x);
    return STORE_OK;
}

/* ops.drain: refuse new carts, hand the owned ones to the peers. */
static void mem_drain(void *self, long long deadline_ms)
{
    struct mstore *m = self;
    atomic_store(&m->draining, true);
    if (m->repl)
        repl_drain(m->repl, deadline_ms);
}

/* One sweep (the sweeper's tick): drop expired carts, re-replicate. */
static void mem_sweep_tick(void *arg)
{
    struct mstore *m = arg;
    mstore_sweep(m);
    if (m->repl && atomic_load(&m->t.unreplicated) > 0)
        mstore_rereplicate(m);
}

/* ops.destroy: stop replication and the sweeper, then free every cart. */
static void mem_destroy(void *self)
{
    struct mstore *m = self;
    util_ticker_stop(&m->sweeper);
    repl_stop(m->repl);
    mt_destroy(&m->t);
    pthread_mutex_destroy(&m->gave_mu);
    free(m);
}

static const struct store_ops mem_ops = {
    .name = "memory",
    .submit = mem_submit,
    .drain = mem_drain,
    .ping = mem_ping,
    .stats = mem_stats,
    .destroy = mem_destroy,
};

/* Drop every cart idle past its TTL now; returns how many were dropped. */
size_t store_mem_sweep(struct store *s)
{
    if (!s || s->ops != &mem_ops || !s->self)
        return 0;
    struct mstore *m = s->self;
    return mstore_sweep(m);
}

/* Open a memory store; 0 on success, -1 with err set. */
int store_mem_open(const struct store_mem_cfg *cfg, struct store *out, char *err, size_t errlen)
{
    if (!cfg || !out || cfg->ttl <= 0 || cfg->max_carts <= 0 || cfg->max_items == 0 ||
        cfg->sweep_ms < 0 || cfg->max_memory < 0) {
        snprintf(err, errlen, "memory store: ttl, max_carts and max_items must be > 0");
        return -1;
    }
    void *mem = NULL;
    if (posix_memalign(&mem, 64, sizeof(struct mstore)) != 0) {
        snprintf(err, errlen, "memory store: out of memory");
        return -1;
    }
    struct mstore *m = memset(mem, 0, sizeof *m);
    mt_init(&m->t, cfg->ttl);
    m->ttl = cfg->ttl;
    m->max_carts = cfg->max_carts;
    m->max_memory = cfg->max_memory;
    m->max_items = cfg->max_items;
    m->sweep_ms = cfg->sweep_ms;
    snprintf(m->tag, sizeof m->tag, "%s", cfg->tag ? cfg->tag : "");
    atomic_init(&m->draining, false);
    pthread_mutex_init(&m->gave_mu, NULL);
    if (m->sweep_ms > 0 && util_ticker_start(&m->sweeper, m->sweep_ms, false, mem_sweep_tick, m,
                                             err, errlen) != 0) {
        mem_destroy(m);
        return -1;
    }
    out->ops = &mem_ops;
    out->self = m;
    return 0;
}

/* Start replicating with the peers of c; 0 when there are none. */
int store_mem_replicate(struct store *s, const struct cfg *c, char *err, size_t errlen)
{
    struct mstore *m = s->self;
    struct cfg_peer peers[CFG_MAX_PEERS];
    enum repl_mode mode;
    int n = members_list(c, peers, CFG_MAX_PEERS, err, errlen);
    if (n <= 0)
        return n;
    if (!repl_mode_parse(c->replication, &mode)) {
        snprintf(err, errlen, "REPLICATION must be sync, async or off");
        return -1;
    }
    struct repl_cfg rc = {
        .mode = mode, .peers = peers, .npeers = (size_t)n, .listen_addr = c->listen_addr,
        .port = c->port + c->repl_port_offset, .port_offset = c->repl_port_offset,
        .timeout_ms = c->repl_timeout_ms, .tag = m->tag, .min_members = c->repl_min_members,
        .secret = c->repl_secret_len ? c->repl_secret : NULL, .secret_len = c->repl_secret_len,
    };
    m->repl = repl_start(&rc, m, err, errlen);
    if (!m->repl)
        return -1;
    /* serve (and be ready) once every peer was tried, within a second: a
     * balancer that checks at once then sees a ready replica */
    for (int ms = 0; ms < MEM_SETTLE_MS && !repl_settled(m->repl); ms += 5) {
        struct timespec nap = {.tv_nsec = 5 * 1000000L};
        nanosleep(&nap, NULL);
    }
    m->inc = repl_inc(m->repl);
    return 0;
}
