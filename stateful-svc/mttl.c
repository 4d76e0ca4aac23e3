/* mttl: the idle TTL of a cart's two copies. A read slides the owner's TTL
 * only; the sweeper tick tells the backup (TOUCH, at most once per TTL/4 per
 * cart) so that its copy lives as long as the owner's, and tells it when
 * the owner's copy expired (DEL). A backup copy whose owner was lost keeps
 * a full TTL from that moment, for a takeover to find. See mstore.h;
 * docs/replication.md ("Idle expiry of the two copies"). Thread-safe as
 * mstore.h says: entries only under their shard's lock. */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "mstore.h"
#include "repl.h"

#define MTTL_BATCH 64             /* messages queued before they go out */

/* A message of the sweep, to the link of slot. */
struct mttl_item {
    int slot;
    int wait;                     /* RW_TOUCH or RW_DEL */
    struct rproto_msg msg;
};

/* One sweep: what it sent, and the batch not yet sent. */
struct mttl_pass {
    struct mstore *m;
    long touches, dels;
    size_t n;
    struct mttl_item items[MTTL_BATCH];
};

/* Send the batch, each peer's part in one go (one write, pipelined, no
 * waiting: the answers come back to mstore_touch_acked and repl_acked). */
static void mttl_flush(struct mttl_pass *s)
{
    struct rproto_msg *ms[MTTL_BATCH];
    int waits[MTTL_BATCH];
    bool done[MTTL_BATCH] = {false};
    for (size_t i = 0; i < s->n; i++) {
        size_t k = 0;
        if (done[i])
            continue;
        for (size_t j = i; j < s->n; j++) {
            if (done[j] || s->items[j].slot != s->items[i].slot)
                continue;
            ms[k] = &s->items[j].msg;
            waits[k++] = s->items[j].wait;
            done[j] = true;
        }
        size_t sent = repl_send_many(s->m->repl, s->items[i].slot, ms, waits, k);
        for (size_t j = 0; j < sent; j++) {
            if (waits[j] == RW_TOUCH)
                s->touches++;
            else
                s->dels++;
        }
    }
    s->n = 0;
}

/* The sweep's look at one entry (shard locked): an owned cart read since
 * its last copy or TOUCH went to the backup, TTL/4 ago or more, gets a
 * TOUCH; an owned cart that expires gets a DEL (fire and forget). A link
 * that is down sends nothing: its peer's loss re-replicates these carts. */
static void mttl_visit(void *ud, struct mt_entry *e, bool expired, int64_t now)
{
    struct mttl_pass *s = ud;
    struct mstore *m = s->m;
    if (e->role != MT_OWNED || e->backup == MT_NO_PEER || e->suspect)
        return;
    if (!expired && (e->last_ms <= e->sent_ms || now - e->sent_ms < m->t.ttl_ms / 4))
        return;
    if (s->n == MTTL_BATCH)
        mttl_flush(s);
    struct mttl_item *it = &s->items[s->n++];
    it->slot = e->backup;
    it->wait = expired ? RW_DEL : RW_TOUCH;
    it->msg = (struct rproto_msg){.type = expired ? RP_DEL : RP_TOUCH, .epoch = e->epoch,
                                  .inc = m->inc};
    snprintf(it->msg.id, sizeof it->msg.id, "%s", e->id);
    if (!expired)
        e->sent_ms = now;
}

/* The sweeper's pass: drop expired carts, with a DEL to their backups, and
 * TOUCH the backups of carts read lately; returns how many were dropped. */
size_t mstore_sweep(struct mstore *m)
{
    if (!m->repl || repl_mode(m->repl) == REPL_OFF)
        return mt_sweep(&m->t);
    struct mttl_pass *s = malloc(sizeof *s);
    if (!s)
        return mt_sweep(&m->t);
    *s = (struct mttl_pass){.m = m};
    size_t dropped = mt_sweep_visit(&m->t, mttl_visit, s);
    mttl_flush(s);
    atomic_fetch_add(&m->touches_sent, s->touches);
    atomic_fetch_add(&m->expiry_dels, s->dels);
    if (s->touches || s->dels)
        log_msg(LOG_DEBUG, "sweep", "%ld touches, %ld expired carts' deletes sent", s->touches,
                s->dels);
    free(s);
    return dropped;
}

/* A peer's TOUCH: slide the TTL of the copy it owns; an enum rproto_ack. */
uint8_t mstore_touch(struct mstore *m, const struct rproto_msg *msg)
{
    struct mt_shard *sh = mt_shard(&m->t, msg->id);
    uint8_t ack = RPA_FULL;
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
    } else if (msg->code == RPA_FULL) { /* the backup lost its copy: send it again */
        log_msg(LOG_DEBUG, "touch", "cart %s: peer %d holds no current copy; copied again", id,
                slot);
        mstore_resend(m, NULL, id);
    }
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
