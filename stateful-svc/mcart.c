/* mcart: what a request does to a cart this replica owns (create, read,
 * change, delete), with its idempotency record, and the copy it sends to the
 * backup. See mstore.h.
 *
 * A cart's record of Idempotency-Keys (idem.h) is the extra section of its
 * blob, so it travels with the cart: to the backup on every change, to the
 * new owner on a takeover or a handoff. A keyed change is remembered in the
 * same new blob as the change itself: one atomic replacement. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cblob.h"
#include "idem.h"
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
bool mstore_replicate(struct mstore *m, struct mt_entry *e, struct store_req *q, bool del)
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
        }
        struct rproto_msg msg = {.type = del ? RP_DEL : RP_PUT, .epoch = e->epoch,
                                 .inc = m->inc, .blob = e->blob, .bloblen = e->len};
        snprintf(msg.id, sizeof msg.id, "%s", e->id);
        struct store_req *wait = repl_mode(m->repl) == REPL_SYNC ? q : NULL;
        if (repl_send(m->repl, e->backup, &msg, del ? RW_DEL : RW_PUT, wait, e->id)) {
            e->sent_ms = mt_now_ms(); /* the backup's copy is as fresh as this one */
            return wait != NULL;
        }
        mt_set_backup(&m->t, e, MT_NO_PEER);
    }
    return false;
}

/* Look q's key up in a blob's record: a replay, a reused key, or
 * STORE_NOT_FOUND (go on); rec (may be NULL) keeps the decoded record. */
static enum store_status mc_idem_check(const unsigned char *b, size_t len,
                                       struct store_req *q, struct idem_rec *rec)
{
    struct idem_rec tmp;
    struct cart c = {0};
    const unsigned char *ext;
    size_t extlen;
    if (!rec)
        rec = &tmp;
    idem_init(rec);
    if (!store_idem_keyed(&q->idem))
        return STORE_NOT_FOUND;
    enum store_status st = STORE_ERROR;
    if (cblob_decode(b, len, &c, &ext, &extlen) == CBLOB_OK &&
        (extlen == 0 || idem_decode(rec, ext, extlen) == IDEM_OK))
        st = store_idem_check(rec, &q->idem, q->err, sizeof q->err);
    cart_free(&c);
    if (rec == &tmp)
        idem_free(rec);
    return st;
}

/* Encode c with rec (or the raw extra section ext) as a new blob. */
static unsigned char *mc_encode(const struct cart *c, const struct idem_rec *rec,
                                const unsigned char *ext, size_t extlen, size_t *len)
{
    if (!rec)
        return cblob_encode(c, ext, extlen, len);
    size_t n;
    unsigned char *x = idem_encode(rec, &n);
    unsigned char *b = x ? cblob_encode(c, x, n, len) : NULL;
    free(x);
    return b;
}

/* The blob of a new cart id (remembering q's key with it); NULL when out of memory. */
static unsigned char *mc_new_blob(struct mstore *m, struct store_req *q, size_t *len)
{
    struct cart c;
    struct idem_rec rec;
    cart_init(&c, q->id);
    c.expires_in = m->ttl;
    idem_init(&rec);
    bool keyed = store_idem_keyed(&q->idem);
    unsigned char *b = NULL;
    if (!keyed || store_idem_remember(&rec, &q->idem, STORE_ANSWER_CREATED, &c, q->err,
                                      sizeof q->err) == STORE_OK)
        b = mc_encode(&c, keyed ? &rec : NULL, NULL, 0, len);
    idem_free(&rec);
    cart_free(&c);
    return b;
}

/* A create of an id that exists: a replay of its key, or STORE_EXISTS. */
static enum store_status mc_exists(struct mt_entry *e, struct store_req *q, int64_t now)
{
    enum store_status st = mc_idem_check(e->blob, e->len, q, NULL);
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
        q->st = e->role == MT_OWNED ? mc_exists(e, q, now) : STORE_EXISTS;
        if (q->st == STORE_OK) /* a replay: after the backup has the cart */
            pending = mstore_replicate(m, e, q, false);
        e = NULL;
    } else if (!mstore_room(m, strlen(q->id), len)) {
        snprintf(q->err, sizeof q->err, "store full");
        q->st = STORE_CAPACITY;
    } else {
        e = mt_insert(&m->t, sh, q->id, MT_OWNED, blob, len, now); /* takes blob */
        blob = NULL;
        q->st = e ? STORE_OK : STORE_ERROR;
    }
    if (e) {
        e->epoch = 1;
        e->owner_inc = m->inc;
        q->st = mc_copy_out(m, e, q->out, q->err, sizeof q->err);
        pending = mstore_replicate(m, e, q, false);
    }
    pthread_mutex_unlock(&sh->lock);
    free(blob);
    return pending;
}

/* Apply q's change to a decoded cart; the new blob (keyed: with the key remembered). */
static enum store_status mc_apply(struct mstore *m, struct cart *c, struct idem_rec *rec,
                                  const unsigned char *ext, size_t extlen,
                                  struct store_req *q, unsigned char **blob, size_t *len)
{
    q->cst = cart_apply(c, &q->chg, m->max_items);
    if (q->cst != CART_OK) {
        snprintf(q->err, sizeof q->err, "change refused: %s", cart_status_name(q->cst));
        return STORE_REJECTED;
    }
    c->expires_in = m->ttl;
    if (rec && store_idem_remember(rec, &q->idem, STORE_ANSWER_CHANGED, c, q->err,
                                   sizeof q->err) != STORE_OK)
        return STORE_ERROR;
    *blob = mc_encode(c, rec, ext, extlen, len);
    return *blob ? STORE_OK : STORE_ERROR;
}

/* Apply q's change to an owned entry; the new blob in place on STORE_OK. */
static enum store_status mc_change(struct mstore *m, struct mt_entry *e, struct store_req *q)
{
    struct idem_rec rec;
    bool keyed = store_idem_keyed(&q->idem);
    enum store_status st = mc_idem_check(e->blob, e->len, q, &rec);
    if (st != STORE_NOT_FOUND) {
        idem_free(&rec);
        return st;
    }
    struct cart c = {0};
    const unsigned char *ext;
    size_t extlen, len = 0;
    unsigned char *blob = NULL;
    st = cblob_decode(e->blob, e->len, &c, &ext, &extlen) == CBLOB_OK
       ? mc_apply(m, &c, keyed ? &rec : NULL, ext, extlen, q, &blob, &len) : STORE_ERROR;
    if (st == STORE_OK && len > e->len && m->max_memory > 0 &&
        atomic_load(&m->t.bytes) + (long long)(len - e->len) > m->max_memory) {
        snprintf(q->err, sizeof q->err, "MAX_MEMORY reached");
        st = STORE_CAPACITY;
    }
    if (st == STORE_OK)
        mt_set_blob(&m->t, e, blob, len);
    else
        free(blob);
    cart_free(&c);
    idem_free(&rec);
    return st;
}

/* DELETE of an owned entry: a reused key, If-Match, then the drop. */
static enum store_status mc_del(struct mstore *m, struct mt_shard *sh, struct mt_entry *e,
                                struct store_req *q, bool *pending)
{
    enum store_status st = mc_idem_check(e->blob, e->len, q, NULL);
    if (st != STORE_NOT_FOUND) /* a delete is never remembered: a hit is a reused key */
        return st;
    if (q->if_match >= 0) {
        struct cart c = {0};
        if (cblob_decode(e->blob, e->len, &c, NULL, NULL) != CBLOB_OK)
            return STORE_ERROR;
        bool conflict = c.version != q->if_match;
        cart_free(&c);
        if (conflict) {
            q->cst = CART_CONFLICT;
            return STORE_REJECTED;
        }
    }
    *pending = mstore_replicate(m, e, q, true);
    mt_drop(&m->t, sh, e);
    return STORE_OK;
}

/* Run q on an entry this replica owns; *pending when q waits for the backup. */
enum store_status mstore_owned(struct mstore *m, struct mt_shard *sh, struct mt_entry *e,
                               struct store_req *q, bool promoted, bool *pending)
{
    enum store_status st = STORE_OK;
    if (q->op == STORE_OP_DEL)
        return mc_del(m, sh, e, q, pending);
    if (q->op == STORE_OP_CHANGE)
        st = mc_change(m, e, q);
    bool changed = st == STORE_OK && q->op == STORE_OP_CHANGE && !q->idem.replayed;
    if (st == STORE_OK && !q->idem.replayed)
        st = mc_copy_out(m, e, q->out, q->err, sizeof q->err);
    /* a replay may come while the first answer still waits for the backup:
     * it waits too, for a copy sent after (the link keeps order) */
    if (st == STORE_OK && (promoted || changed || q->idem.replayed))
        *pending = mstore_replicate(m, e, q, false);
    else if (promoted)
        mstore_replicate(m, e, NULL, false);
    return st;
}
