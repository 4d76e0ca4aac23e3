/* mcart: what a request does to a cart this replica owns (create, read,
 * change, delete), with its idempotency record, and the copy it sends to the
 * backup. See mstore.h.
 *
 * A keyed change is remembered in the cart's record (mrec.h) under the same
 * lock as the change, and its copy to the backup carries the new entry with
 * the new cart: the backup has both, or neither. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cblob.h"
#include "idem.h"
#include "mrec.h"
#include "mstore.h"
#include "repl.h"

/* Reserve room for a new entry of this size: MAX_CARTS exactly (atomic),
 * MAX_MEMORY as it stands; false when full. mt_insert uses the reservation. */
bool mstore_room(struct mstore *m, size_t idlen, size_t bloblen)
{
    if (m->max_memory > 0 &&
        atomic_load(&m->t.bytes) + (long long)mt_cost(idlen, bloblen) > m->max_memory)
        return false;
    return mt_reserve(&m->t, m->max_carts);
}

/* Decode an entry's cart into out with a full TTL. */
static enum store_status mc_copy_out(struct mstore *m, const struct mt_entry *e,
                                     struct cart *out, char *err, size_t errlen)
{
    if (!out)
        return STORE_OK;
    if (cblob_decode(e->blob, e->len, out, NULL, NULL) != CBLOB_OK) {
        snprintf(err, errlen, "cart %s does not decode", e->id);
        return STORE_ERROR;
    }
    out->expires_in = m->ttl;
    return STORE_OK;
}

/* Send an owned entry's copy (or delete) to its backup; true when q waits. */
bool mstore_replicate(struct mstore *m, struct mt_entry *e, struct store_req *q,
                      enum mstore_copy how)
{
    if (!m->repl || repl_mode(m->repl) == REPL_OFF)
        return false;
    for (int tries = 0; tries < 2; tries++) {
        if (e->backup == MT_NO_PEER) {
            mt_set_backup(&m->t, e, repl_pick(m->repl, e->id, MT_NO_PEER));
            if (e->backup == MT_NO_PEER)
                return false;
            /* a new backup: a new epoch, so that a copy left on a former
             * backup (one that only seemed dead) loses to this one */
            e->epoch++;
            if (how != MS_DEL)
                how = MS_FULL;
        }
        struct rproto_msg msg = {.type = how == MS_DEL ? RP_DEL : RP_PUT, .epoch = e->epoch,
                                 .inc = m->inc, .blob = e->blob, .bloblen = e->len};
        unsigned char *wire = NULL;
        if (how == MS_FULL || how == MS_LAST) {
            if (!(wire = mrec_wire(e, how, &msg.bloblen)))
                return false;
            msg.blob = wire;
        }
        snprintf(msg.id, sizeof msg.id, "%s", e->id);
        struct store_req *wait = repl_mode(m->repl) == REPL_SYNC ? q : NULL;
        bool sent = repl_send(m->repl, e->backup, &msg, how == MS_DEL ? RW_DEL : RW_PUT, wait,
                              e->id);
        free(wire);
        if (sent) {
            e->sent_ms = mt_now_ms(); /* the backup's copy is as fresh as this one */
            return wait != NULL;
        }
        mt_set_backup(&m->t, e, MT_NO_PEER);
    }
    return false;
}

/* The blob of a new cart id; NULL when out of memory. */
static unsigned char *mc_new_blob(struct mstore *m, struct store_req *q, size_t *len)
{
    struct cart c;
    cart_init(&c, q->id);
    c.expires_in = m->ttl;
    unsigned char *b = cblob_encode(&c, NULL, 0, len);
    cart_free(&c);
    return b;
}

/* A create of an id that exists: a replay of its key, or STORE_EXISTS. */
static enum store_status mc_exists(struct mstore *m, struct mt_entry *e, struct store_req *q,
                                   int64_t now)
{
    enum store_status st = mrec_check(e, q, m->ttl);
    if (st == STORE_OK)
        e->last_ms = now;
    if (st == STORE_NOT_FOUND) {
        snprintf(q->err, sizeof q->err, "cart %s exists", q->id);
        st = STORE_EXISTS;
    }
    return st;
}

/* POST /carts: a new owned cart, copied to its backup; true when q waits. */
bool mstore_create(struct mstore *m, struct store_req *q)
{
    if (!repl_majority(m->repl)) {
        q->st = STORE_NO_QUORUM;
        return false;
    }
    size_t len = 0;
    unsigned char *blob = mc_new_blob(m, q, &len);
    if (!blob) {
        q->st = STORE_ERROR;
        return false;
    }
    struct mt_shard *sh = mt_shard(&m->t, q->id);
    bool pending = false;
    pthread_mutex_lock(&sh->lock);
    int64_t now = mt_now_ms();
    struct mt_entry *e = mt_find(&m->t, sh, q->id, now);
    if (e) {
        q->st = e->role == MT_OWNED ? mc_exists(m, e, q, now) : STORE_EXISTS;
        if (q->st == STORE_OK) /* a replay: after the backup has the cart */
            pending = mstore_replicate(m, e, q, MS_CART);
        e = NULL;
    } else if (!mstore_room(m, strlen(q->id),
                            store_idem_keyed(&q->idem) ? 2 * len + IDEM_KEY_MAX + 32 : len)) {
        snprintf(q->err, sizeof q->err, "store full");
        q->st = STORE_CAPACITY;
    } else {
        e = mt_insert(&m->t, sh, q->id, MT_OWNED, blob, len, now); /* takes blob */
        blob = NULL;
        q->st = e ? STORE_OK : STORE_ERROR;
    }
    if (e && store_idem_keyed(&q->idem) &&
        (q->st = mrec_remember(&m->t, e, q, STORE_ANSWER_CREATED, 0, e->blob, e->len)) !=
            STORE_OK) {
        mt_drop(&m->t, sh, e);
        e = NULL;
    }
    if (e) {
        e->epoch = 1;
        e->owner_inc = m->inc;
        q->st = mc_copy_out(m, e, q->out, q->err, sizeof q->err);
        pending = mstore_replicate(m, e, q, MS_FULL);
    }
    pthread_mutex_unlock(&sh->lock);
    free(blob);
    return pending;
}

/* Would a change to a blob of len (with its record's new entry, keyed) grow
 * e past MAX_MEMORY? */
static bool mc_over_budget(const struct mstore *m, const struct mt_entry *e,
                           const struct store_req *q, size_t len)
{
    long long d = (long long)len - (long long)e->len;
    if (store_idem_keyed(&q->idem))
        d += (long long)(len + strlen(q->idem.key) + 32);
    return m->max_memory > 0 && d > 0 && atomic_load(&m->t.bytes) + d > m->max_memory;
}

/* Apply q's change to an owned entry: its new blob and (keyed) the key
 * remembered with it, both or neither. */
static enum store_status mc_change(struct mstore *m, struct mt_entry *e, struct store_req *q)
{
    enum store_status st = mrec_check(e, q, m->ttl);
    if (st != STORE_NOT_FOUND)
        return st;
    struct cart c = {0};
    size_t len = 0;
    unsigned char *blob = NULL;
    if (cblob_decode(e->blob, e->len, &c, NULL, NULL) != CBLOB_OK) {
        snprintf(q->err, sizeof q->err, "cart %s does not decode", e->id);
        return STORE_ERROR;
    }
    q->cst = cart_apply(&c, &q->chg, m->max_items);
    if (q->cst != CART_OK) {
        snprintf(q->err, sizeof q->err, "change refused: %s", cart_status_name(q->cst));
        st = STORE_REJECTED;
    } else if (!(blob = cblob_encode(&c, NULL, 0, &len))) {
        st = STORE_ERROR;
    } else if (mc_over_budget(m, e, q, len)) {
        snprintf(q->err, sizeof q->err, "MAX_MEMORY reached");
        st = STORE_CAPACITY;
    }
    int64_t version = c.version;
    cart_free(&c);
    if (st != STORE_NOT_FOUND) {
        free(blob);
        return st;
    }
    st = store_idem_keyed(&q->idem)
       ? mrec_remember(&m->t, e, q, STORE_ANSWER_CHANGED, version, blob, len) : STORE_OK;
    if (st == STORE_OK)
        mt_set_blob(&m->t, e, blob, len);
    else
        free(blob);
    return st;
}

/* DELETE of an owned entry: a reused key, If-Match, then the drop. */
static enum store_status mc_del(struct mstore *m, struct mt_shard *sh, struct mt_entry *e,
                                struct store_req *q, bool *pending)
{
    enum store_status st = mrec_check(e, q, m->ttl);
    if (st != STORE_NOT_FOUND) /* a delete is never remembered: a hit is a reused key */
        return st;
    if (q->if_match.set) {
        struct cart c = {0};
        if (cblob_decode(e->blob, e->len, &c, NULL, NULL) != CBLOB_OK)
            return STORE_ERROR;
        bool conflict = !cart_match_ok(&q->if_match, c.version);
        cart_free(&c);
        if (conflict) {
            q->cst = CART_CONFLICT;
            return STORE_REJECTED;
        }
    }
    *pending = mstore_replicate(m, e, q, MS_DEL);
    mt_drop(&m->t, sh, e);
    return STORE_OK;
}

/* Run q on an entry this replica owns; *pending when q waits for the backup. */
enum store_status mstore_owned(struct mstore *m, struct mt_shard *sh, struct mt_entry *e,
                               struct store_req *q, bool promoted, bool *pending)
{
    enum store_status st = STORE_OK;
    if (q->op != STORE_OP_GET && !repl_majority(m->repl))
        return STORE_NO_QUORUM; /* never acknowledge a change with the minority's copies */
    if (q->op == STORE_OP_DEL)
        return mc_del(m, sh, e, q, pending);
    if (q->op == STORE_OP_CHANGE)
        st = mc_change(m, e, q);
    bool changed = st == STORE_OK && q->op == STORE_OP_CHANGE && !q->idem.replayed;
    if (st == STORE_OK && !q->idem.replayed)
        st = mc_copy_out(m, e, q->out, q->err, sizeof q->err);
    /* a replay may come while the first answer still waits for the backup:
     * it waits too, for a copy sent after (the link keeps order) */
    enum mstore_copy how = promoted ? MS_FULL
                         : changed && store_idem_keyed(&q->idem) ? MS_LAST : MS_CART;
    if (st == STORE_OK && (promoted || changed || q->idem.replayed))
        *pending = mstore_replicate(m, e, q, how);
    else if (promoted)
        mstore_replicate(m, e, NULL, MS_FULL);
    return st;
}
