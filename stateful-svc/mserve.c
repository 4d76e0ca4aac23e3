/* mserve: the memory store's answers to the peers' replication messages,
 * and the store-wide passes of replication (re-replication, handoff).
 * See mstore.h. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cblob.h"
#include "log.h"
#include "mrec.h"
#include "mstore.h"
#include "repl.h"

/* The version of a blob, or -1 when it does not decode. */
static int64_t blob_version(const unsigned char *b, size_t len)
{
    struct cart c = {0};
    if (cblob_decode(b, len, &c, NULL, NULL) != CBLOB_OK)
        return -1;
    int64_t v = c.version;
    cart_free(&c);
    return v;
}

/* Remember a cart given away with no copy kept, for MS_GAVE_MS. */
void mstore_gave(struct mstore *m, const char *id, uint64_t to, uint32_t epoch)
{
    pthread_mutex_lock(&m->gave_mu);
    struct mstore_gave *g = &m->gave[m->gave_next++ % (sizeof m->gave / sizeof m->gave[0])];
    snprintf(g->id, sizeof g->id, "%s", id);
    g->to = to;
    g->epoch = epoch;
    g->at_ms = mt_now_ms();
    pthread_mutex_unlock(&m->gave_mu);
}

/* Was cart id given away in the last MS_GAVE_MS? */
bool mstore_gave_lately(struct mstore *m, const char *id, uint64_t *to, uint32_t *epoch)
{
    bool hit = false;
    int64_t now = mt_now_ms();
    pthread_mutex_lock(&m->gave_mu);
    for (size_t i = 0; i < sizeof m->gave / sizeof m->gave[0] && !hit; i++) {
        const struct mstore_gave *g = &m->gave[i];
        if ((hit = g->at_ms > 0 && now - g->at_ms < MS_GAVE_MS && !strcmp(g->id, id))) {
            *to = g->to;
            *epoch = g->epoch;
        }
    }
    pthread_mutex_unlock(&m->gave_mu);
    return hit;
}

/* Does a message of (epoch, inc) speak for the current owner of e? */
static bool mserve_current(const struct mt_entry *e, uint64_t epoch, uint64_t inc)
{
    return epoch > e->epoch || (epoch == e->epoch && inc == e->owner_inc);
}

/* Keep a peer's PUT in *ep (NULL: a new copy): the cart blob (taken,
 * whatever the outcome) and its record from the extra; an enum rproto_ack.
 * A delta or a bare cart needs the copy of the same owner and epoch it was
 * made against: else RPA_FULL. */
static uint8_t mserve_keep(struct mstore *m, struct mt_shard *sh, struct mt_entry **ep,
                           const struct rproto_msg *msg, unsigned char *blob, size_t len,
                           const unsigned char *ext, size_t extlen)
{
    struct mt_entry *e = *ep;
    bool full = extlen > 0 && !idem_is_delta(ext, extlen);
    uint8_t ack = RPA_OK;
    if (e && !mserve_current(e, msg->epoch, msg->inc))
        ack = RPA_STALE;
    else if (!full && (!e || e->role != MT_BACKUP || e->epoch != msg->epoch ||
                       e->owner_inc != msg->inc))
        ack = RPA_FULL;
    else if (!e && !mstore_room(m, strlen(msg->id), len + extlen))
        ack = RPA_ERROR;
    else if (e && !mrec_merge(&m->t, e, ext, extlen))
        ack = RPA_ERROR;
    if (ack != RPA_OK) {
        free(blob);
        return ack;
    }
    if (e) {
        if (e->role != MT_BACKUP) /* a newer owner: this replica's ownership is over */
            mt_set_role(&m->t, e, MT_BACKUP);
        mt_set_blob(&m->t, e, blob, len);
        return RPA_OK;
    }
    if (!(e = mt_insert(&m->t, sh, msg->id, MT_BACKUP, blob, len, mt_now_ms()))) /* takes blob */
        return RPA_ERROR;
    if (!mrec_merge(&m->t, e, ext, extlen)) {
        mt_drop(&m->t, sh, e);
        return RPA_ERROR;
    }
    *ep = e;
    return RPA_OK;
}

/* A peer's PUT: keep or replace a backup copy; an enum rproto_ack. */
uint8_t mstore_put(struct mstore *m, const struct rproto_msg *msg)
{
    struct rproto_msg in = *msg;
    const unsigned char *ext;
    size_t len, extlen;
    /* the cart is kept as it came (the hot path of replication): it is
     * decoded, and so checked, only when this copy is served */
    unsigned char *blob = mrec_cart_of(msg->blob, msg->bloblen, &len, &ext, &extlen);
    if (!blob || !cblob_id(blob, len, in.id)) {
        free(blob);
        return RPA_ERROR;
    }
    struct mt_shard *sh = mt_shard(&m->t, in.id);
    pthread_mutex_lock(&sh->lock);
    int64_t now = mt_now_ms();
    struct mt_entry *e = mt_find(&m->t, sh, in.id, now);
    uint8_t ack = mserve_keep(m, sh, &e, &in, blob, len, ext, extlen);
    if (e && ack == RPA_OK) {
        e->epoch = (uint32_t)msg->epoch;
        e->owner_inc = msg->inc;
        e->last_ms = now;
    }
    pthread_mutex_unlock(&sh->lock);
    return ack;
}

/* A peer's DEL: drop the backup copy it owns; an enum rproto_ack. */
uint8_t mstore_del(struct mstore *m, const struct rproto_msg *msg)
{
    struct mt_shard *sh = mt_shard(&m->t, msg->id);
    uint8_t ack = RPA_OK;
    pthread_mutex_lock(&sh->lock);
    struct mt_entry *e = mt_find(&m->t, sh, msg->id, mt_now_ms());
    if (e && e->role == MT_BACKUP && mserve_current(e, msg->epoch, msg->inc))
        mt_drop(&m->t, sh, e);
    else if (e)
        ack = RPA_STALE;
    pthread_mutex_unlock(&sh->lock);
    return ack;
}

/* A peer's LOOKUP: RP_FOUND (role, epoch, owner) or RP_NONE. */
void mstore_lookup(struct mstore *m, const char *id, struct rproto_msg *reply)
{
    struct mt_shard *sh = mt_shard(&m->t, id);
    pthread_mutex_lock(&sh->lock);
    struct mt_entry *e = mt_find(&m->t, sh, id, mt_now_ms());
    uint64_t to;
    uint32_t epoch;
    if (e && e->suspect) /* owned while we had no majority: not to be trusted until re-checked */
        e = NULL;
    reply->type = e ? RP_FOUND : RP_NONE;
    if (!e && mstore_gave_lately(m, id, &to, &epoch)) { /* as a copy of its new owner's */
        reply->type = RP_FOUND;
        reply->epoch = epoch;
        reply->inc = to;
        reply->code = RPROLE_BACKUP | RPROLE_MOVED;
    }
    if (e) {
        reply->epoch = e->epoch;
        reply->inc = e->owner_inc;
        reply->code = (e->role == MT_BACKUP ? RPROLE_BACKUP : RPROLE_OWNER) |
                      (e->moved ? RPROLE_MOVED : 0);
        if (e->role != MT_BACKUP)
            snprintf(reply->tag, sizeof reply->tag, "%s", m->tag);
    }
    pthread_mutex_unlock(&sh->lock);
    if (reply->type == RP_FOUND && (reply->code & RPROLE_BACKUP) &&
        !repl_alive(m->repl, reply->inc, reply->tag))
        reply->tag[0] = '\0';
}

/* May this replica give cart e away to a peer that asks (0xff: yes)? An
 * owner gives it whenever a peer asks, for the balancer sent the session
 * there (readiness, a pre-stop pause, a scale-down): the cart follows its
 * session. But not while a synchronous change of it waits for the backup's
 * ack: its client would get an answer the new owner's epoch makes stale. */
static uint8_t mserve_may_give(struct mstore *m, const struct mt_entry *e)
{
    if (e->role == MT_HANDING)
        return RPR_BUSY;
    if (e->suspect)
        return RPR_OWNER_ALIVE; /* re-checked on its next request here first */
    if (e->role == MT_BACKUP) /* a copy of a dead owner goes only on the majority side */
        return repl_alive(m->repl, e->owner_inc, NULL) || !repl_majority(m->repl)
             ? RPR_OWNER_ALIVE : 0xff;
    if (repl_settling(m->repl, e->id))
        return RPR_SETTLING;
    return 0xff;
}

/* A peer's TAKE: give it the cart and its ownership, keep a backup copy. */
void mstore_take(struct mstore *m, const char *id, uint64_t inc, int slot,
                 struct rproto_msg *reply, unsigned char **blob)
{
    struct mt_shard *sh = mt_shard(&m->t, id);
    reply->type = RP_REFUSE;
    reply->code = RPR_NOT_FOUND;
    *blob = NULL;
    pthread_mutex_lock(&sh->lock);
    struct mt_entry *e = mt_find(&m->t, sh, id, mt_now_ms());
    if (e && e->role == MT_BACKUP && e->owner_inc == inc) {
        mt_drop(&m->t, sh, e); /* its owner asks: the owner's copy expired, so the cart did */
        e = NULL;
    }
    uint64_t to;
    uint32_t given_epoch;
    uint8_t why = e ? mserve_may_give(m, e)
                : mstore_gave_lately(m, id, &to, &given_epoch) && repl_alive(m->repl, to, NULL)
                ? RPR_OWNER_ALIVE : RPR_NOT_FOUND;
    size_t bloblen = 0;
    if (e && why == 0xff && (*blob = mrec_wire(e, MS_FULL, &bloblen))) {
        int old_backup = e->role == MT_OWNED ? e->backup : MT_NO_PEER;
        struct rproto_msg del = {.type = RP_DEL, .epoch = e->epoch, .inc = e->owner_inc};
        snprintf(del.id, sizeof del.id, "%s", id);
        e->epoch++;
        reply->type = RP_GRANT;
        reply->epoch = e->epoch;
        reply->blob = *blob;
        reply->bloblen = bloblen;
        if (repl_mode(m->repl) == REPL_OFF && e->role == MT_OWNED) { /* one copy only */
            mstore_gave(m, id, inc, e->epoch);
            mt_drop(&m->t, sh, e);
        } else {
            mt_set_role(&m->t, e, MT_BACKUP);
            e->owner_inc = inc;
        }
        if (old_backup != MT_NO_PEER && old_backup != slot)
            repl_send(m->repl, old_backup, &del, RW_DEL, NULL, id);
    } else if (e) {
        reply->code = why == 0xff ? RPR_BUSY : why;
    }
    pthread_mutex_unlock(&sh->lock);
    log_msg(LOG_DEBUG, "take", "cart %s asked by %llx: %s", id, (unsigned long long)inc,
            reply->type == RP_GRANT ? "granted" : "refused");
}

/* Keep blob as an owned cart of epoch, with backup slot `backup`. */
static bool mserve_own(struct mstore *m, const unsigned char *b, size_t len, uint64_t epoch,
                       int backup, bool granted)
{
    char id[CART_ID_MAX + 1];
    const unsigned char *ext;
    size_t extlen;
    struct idem_rec rec;
    idem_init(&rec);
    /* the cart and its whole record, both checked before anything changes */
    unsigned char *blob = blob_version(b, len) < 0 ? NULL
                        : mrec_cart_of(b, len, &len, &ext, &extlen);
    if (!blob || !cblob_id(blob, len, id) || idem_decode(&rec, ext, extlen) != IDEM_OK) {
        free(blob);
        return false;
    }
    struct mt_shard *sh = mt_shard(&m->t, id);
    pthread_mutex_lock(&sh->lock);
    int64_t now = mt_now_ms();
    struct mt_entry *e = mt_find(&m->t, sh, id, now);
    if (e && granted && e->epoch >= epoch) /* a live owner's grant wins over our copy */
        epoch = e->epoch + 1u;
    if (e && e->epoch > epoch) {
        free(blob);
        e = NULL;
    } else if (e) {
        mt_set_role(&m->t, e, MT_OWNED);
        mt_set_blob(&m->t, e, blob, len);
    } else { /* a takeover or a handoff is never refused for room */
        mt_reserve(&m->t, LONG_MAX);
        e = mt_insert(&m->t, sh, id, MT_OWNED, blob, len, now);
    }
    if (e) {
        mt_set_rec(&m->t, e, &rec);
        e->epoch = (uint32_t)epoch;
        e->owner_inc = m->inc;
        e->moved = true;
        e->suspect = false;
        e->last_ms = now;
        mt_set_backup(&m->t, e, repl_mode(m->repl) == REPL_OFF ? MT_NO_PEER : backup);
        if (backup == MT_NO_PEER)
            mstore_replicate(m, e, NULL, MS_FULL);
    }
    pthread_mutex_unlock(&sh->lock);
    idem_free(&rec); /* when no entry took it */
    return e != NULL;
}

/* The epoch of this replica's copy of cart id (0: none) and its owner. */
uint32_t mstore_epoch(struct mstore *m, const char *id, uint64_t *owner)
{
    struct mt_shard *sh = mt_shard(&m->t, id);
    pthread_mutex_lock(&sh->lock);
    struct mt_entry *e = mt_find(&m->t, sh, id, mt_now_ms());
    uint32_t ep = e ? e->epoch : 0;
    *owner = e ? e->owner_inc : 0;
    pthread_mutex_unlock(&sh->lock);
    return ep;
}

/* A granted takeover: keep the cart as owned, with holder as its backup. */
void mstore_granted(struct mstore *m, const struct rproto_msg *grant, int holder)
{
    mserve_own(m, grant->blob, grant->bloblen, grant->epoch, holder, true);
}

/* A peer's HANDOFF: own the cart; its backup is chosen anew (not the sender). */
uint8_t mstore_handoff_in(struct mstore *m, const struct rproto_msg *msg, int from)
{
    bool ok = mserve_own(m, msg->blob, msg->bloblen, msg->epoch, MT_NO_PEER, false);
    char id[CART_ID_MAX + 1] = "";
    cblob_id(msg->blob, msg->bloblen, id);
    log_msg(LOG_DEBUG, "handoff_in", "cart %s epoch %llu: %s", id,
            (unsigned long long)msg->epoch, ok ? "owned" : "refused");
    return ok ? RPA_OK : RPA_ERROR;
}

/* A change the backup refused as stale: drop the cart (another replica owns it). */
void mstore_stale(struct mstore *m, const char *id)
{
    log_msg(LOG_DEBUG, "stale", "cart %s: a newer owner exists; dropped here", id);
    struct mt_shard *sh = mt_shard(&m->t, id);
    pthread_mutex_lock(&sh->lock);
    struct mt_entry *e = mt_find(&m->t, sh, id, mt_now_ms());
    if (e && e->role == MT_OWNED)
        mt_drop(&m->t, sh, e);
    pthread_mutex_unlock(&sh->lock);
}

/* The backup could not keep a copy: the cart has no backup now. */
void mstore_unbacked(struct mstore *m, const char *id)
{
    struct mt_shard *sh = mt_shard(&m->t, id);
    pthread_mutex_lock(&sh->lock);
    struct mt_entry *e = mt_find(&m->t, sh, id, mt_now_ms());
    if (e && e->role == MT_OWNED)
        mt_set_backup(&m->t, e, MT_NO_PEER);
    pthread_mutex_unlock(&sh->lock);
    log_msg(LOG_WARN, "backup_refused", "cart %s: the backup kept no copy", id);
}

/* For every owned entry whose backup is `slot` (or none when slot is
 * MT_NO_PEER): choose a new backup and send it the cart. */
static void mserve_rescan(struct mstore *m, int slot)
{
    for (unsigned i = 0; i < MT_SHARDS; i++) {
        struct mt_shard *sh = &m->t.shards[i];
        struct mt_entry *e, *tmp;
        pthread_mutex_lock(&sh->lock);
        HASH_ITER(hh, sh->head, e, tmp) {
            if (e->role != MT_OWNED || e->backup != slot || e->suspect)
                continue; /* a suspect cart's epoch must not fence off the majority's copy */
            mt_set_backup(&m->t, e, MT_NO_PEER);
            mstore_replicate(m, e, NULL, MS_FULL);
        }
        pthread_mutex_unlock(&sh->lock);
    }
}

/* The link to slot died: carts it backed up get a new backup. */
void mstore_peer_lost(struct mstore *m, int slot)
{
    mserve_rescan(m, slot);
}

/* Give owned carts without a backup one. */
void mstore_rereplicate(struct mstore *m)
{
    mserve_rescan(m, MT_NO_PEER);
}

/* A pending copy of q's cart died with its link: send it to the new backup. */
bool mstore_resend(struct mstore *m, struct store_req *q, const char *id)
{
    struct mt_shard *sh = mt_shard(&m->t, id);
    bool pending = false;
    pthread_mutex_lock(&sh->lock);
    struct mt_entry *e = mt_find(&m->t, sh, id, mt_now_ms());
    if (e && e->role == MT_OWNED)
        pending = mstore_replicate(m, e, q, MS_FULL);
    pthread_mutex_unlock(&sh->lock);
    return pending;
}

/* Drain: hand every owned cart to its backup (or another live peer). */
long mstore_handoff_round(struct mstore *m)
{
    long queued = 0;
    for (unsigned i = 0; i < MT_SHARDS; i++) {
        struct mt_shard *sh = &m->t.shards[i];
        struct mt_entry *e, *tmp;
        pthread_mutex_lock(&sh->lock);
        HASH_ITER(hh, sh->head, e, tmp) {
            if (e->role != MT_OWNED || e->suspect) /* the majority holds what was acknowledged */
                continue;
            int to = e->backup != MT_NO_PEER ? e->backup : repl_pick(m->repl, e->id, MT_NO_PEER);
            struct rproto_msg msg = {.type = RP_HANDOFF, .epoch = e->epoch + 1u};
            unsigned char *wire = mrec_wire(e, MS_FULL, &msg.bloblen);
            msg.blob = wire;
            bool sent = wire && to != MT_NO_PEER &&
                        repl_send(m->repl, to, &msg, RW_HANDOFF, NULL, e->id);
            free(wire);
            if (!sent) {
                mt_set_backup(&m->t, e, MT_NO_PEER);
                continue;
            }
            mt_set_role(&m->t, e, MT_HANDING);
            queued++;
        }
        pthread_mutex_unlock(&sh->lock);
    }
    return queued;
}

/* A handoff was acknowledged (drop the cart) or failed (own it again). */
void mstore_handoff_done(struct mstore *m, const char *id, bool ok)
{
    struct mt_shard *sh = mt_shard(&m->t, id);
    pthread_mutex_lock(&sh->lock);
    struct mt_entry *e = mt_find(&m->t, sh, id, mt_now_ms());
    if (e && e->role == MT_HANDING) {
        if (ok) {
            mt_drop(&m->t, sh, e);
        } else {
            mt_set_role(&m->t, e, MT_OWNED);
            mt_set_backup(&m->t, e, MT_NO_PEER);
        }
    }
    pthread_mutex_unlock(&sh->lock);
}

/* This replica lost its majority: every cart it owns is re-checked before
 * it is served again (mem_suspect). */
void mstore_suspect_all(struct mstore *m)
{
    for (unsigned i = 0; i < MT_SHARDS; i++) {
        struct mt_shard *sh = &m->t.shards[i];
        struct mt_entry *e, *tmp;
        pthread_mutex_lock(&sh->lock);
        HASH_ITER(hh, sh->head, e, tmp) {
            if (e->role == MT_OWNED)
                e->suspect = true;
        }
        pthread_mutex_unlock(&sh->lock);
    }
}
