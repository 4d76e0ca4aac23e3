/* mttl: the idle TTL of a cart's two copies. A read slides the owner's TTL
 * only; the sweeper tick tells the backup (TOUCH, at most once per TTL/4 per
 * cart) so that its copy lives as long as the owner's, and tells it when
 * the owner's copy expired (DEL). A backup copy whose owner was lost keeps
 * a full TTL from that moment, for a takeover to find. See mstore.h;
 * docs/replication.md ("Idle expiry of the two copies"). */
#include <stdio.h>

#include "log.h"
#include "mstore.h"
#include "repl.h"

/* What one sweep sent. */
struct mttl_pass {
    struct mstore *m;
    long touches, dels;
};

/* The sweep's look at one entry (shard locked): an owned cart read since
 * its last copy or TOUCH went to the backup, TTL/4 ago or more, gets a
 * TOUCH; an owned cart that expires gets a DEL (fire and forget). */
static void mttl_visit(void *ud, struct mt_entry *e, bool expired, int64_t now)
{
    struct mttl_pass *s = ud;
    struct mstore *m = s->m;
    if (e->role != MT_OWNED || e->backup == MT_NO_PEER)
        return;
    if (!expired && (e->last_ms <= e->sent_ms || now - e->sent_ms < m->t.ttl_ms / 4))
        return;
    struct rproto_msg msg = {.type = expired ? RP_DEL : RP_TOUCH, .epoch = e->epoch,
                             .inc = m->inc};
    snprintf(msg.id, sizeof msg.id, "%s", e->id);
    if (!repl_send(m->repl, e->backup, &msg, expired ? RW_DEL : RW_TOUCH, NULL, e->id)) {
        if (!expired) /* the link is down: the cart gets a new backup (a whole copy) */
            mt_set_backup(&m->t, e, MT_NO_PEER);
        return;
    }
    if (expired) {
        s->dels++;
    } else {
        e->sent_ms = now;
        s->touches++;
    }
}

/* The sweeper's pass: drop expired carts, with a DEL to their backups, and
 * TOUCH the backups of carts read lately; returns how many were dropped. */
size_t mstore_sweep(struct mstore *m)
{
    if (!m->repl || repl_mode(m->repl) == REPL_OFF)
        return mt_sweep(&m->t);
    struct mttl_pass s = {.m = m};
    size_t dropped = mt_sweep_visit(&m->t, mttl_visit, &s);
    atomic_fetch_add(&m->touches_sent, s.touches);
    atomic_fetch_add(&m->expiry_dels, s.dels);
    if (s.touches || s.dels)
        log_msg(LOG_DEBUG, "sweep", "%ld touches, %ld expired carts' deletes sent", s.touches,
                s.dels);
    return dropped;
}

/* A peer's TOUCH: slide the TTL of the copy it owns; an enum rproto_ack. */
uint8_t mstore_touch(struct mstore *m, const struct rproto_msg *msg)
{
    struct mt_shard *sh = mt_shard(&m->t, msg->id);
    uint8_t ack = RPA_GONE;
    pthread_mutex_lock(&sh->lock);
    int64_t now = mt_now_ms();
    struct mt_entry *e = mt_find(&m->t, sh, msg->id, now);
    if (e && e->role == MT_BACKUP && e->epoch == msg->epoch && e->owner_inc == msg->inc) {
        e->last_ms = now;
        ack = RPA_OK;
    } else if (e && (msg->epoch < e->epoch || (msg->epoch == e->epoch &&
                                                e->owner_inc != msg->inc))) {
        ack = RPA_STALE; /* another owner's copy: the sender no longer owns the cart */
    } /* else none, or older than the sender's epoch: it sends the whole cart */
    pthread_mutex_unlock(&sh->lock);
    return ack;
}

/* The answer to a TOUCH sent to slot (msg NULL: the link died; the lost
 * peer's carts get a new backup anyway). */
void mstore_touch_acked(struct mstore *m, int slot, const char *id, const struct rproto_msg *msg)
{
    if (!msg || msg->type != RP_ACK || msg->code == RPA_OK)
        return;
    if (msg->code == RPA_STALE) {
        mstore_stale(m, id);
        return;
    }
    struct mt_shard *sh = mt_shard(&m->t, id);
    pthread_mutex_lock(&sh->lock);
    struct mt_entry *e = mt_find(&m->t, sh, id, mt_now_ms());
    if (e && e->role == MT_OWNED && e->backup == slot) { /* the copy is gone: send it again */
        log_msg(LOG_DEBUG, "touch", "cart %s: the backup lost its copy; copied again", id);
        mt_set_backup(&m->t, e, MT_NO_PEER);
        mstore_replicate(m, e, NULL, false);
    }
    pthread_mutex_unlock(&sh->lock);
}

/* The owner of incarnation inc is lost: its carts' backup copies here get a
 * full TTL from now (a takeover may still come for them). */
void mstore_owner_lost(struct mstore *m, uint64_t inc)
{
    long n = 0;
    for (unsigned i = 0; i < MT_SHARDS; i++) {
        struct mt_shard *sh = &m->t.shards[i];
        struct mt_entry *e, *tmp;
        pthread_mutex_lock(&sh->lock);
        int64_t now = mt_now_ms();
        HASH_ITER(hh, sh->head, e, tmp) {
            if (e->role == MT_BACKUP && e->owner_inc == inc) {
                e->last_ms = now;
                n++;
            }
        }
        pthread_mutex_unlock(&sh->lock);
    }
    if (n)
        log_msg(LOG_INFO, "owner_lost", "%ld backup copies of a lost owner keep a full TTL", n);
}
