/* mrec: the Idempotency-Key records of the memory store's carts. See mrec.h. */
#include "mrec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cblob.h"
#include "wire.h"

/* Render a stored answer (a cblob) as the JSON the API sent; NULL on failure. */
static char *mrec_render(const struct idem_entry *hit, int ttl, size_t *len)
{
    struct cart c = {0};
    char *json = NULL;
    if (cblob_decode(hit->body, hit->body_len, &c, NULL, NULL) == CBLOB_OK) {
        c.expires_in = ttl;
        json = wire_cart_json(&c, len);
    }
    cart_free(&c);
    return json;
}

/* Look q's key up in e's record; a replay gets its stored answer rendered. */
enum store_status mrec_check(const struct mt_entry *e, struct store_req *q, int ttl)
{
    struct store_idem *ik = &q->idem;
    struct idem_entry hit;
    if (!store_idem_keyed(ik))
        return STORE_NOT_FOUND;
    ik->replayed = false;
    switch (idem_lookup(&e->rec, ik->key, ik->fp, &hit)) {
    case IDEM_REPLAY:
        idem_answer_free(&ik->ans);
        ik->ans.status = hit.status;
        ik->ans.version = hit.version;
        if (!(ik->ans.body = mrec_render(&hit, ttl, &ik->ans.body_len))) {
            snprintf(q->err, sizeof q->err, "the stored answer of key %s does not render",
                     ik->key);
            return STORE_ERROR;
        }
        ik->replayed = true;
        return STORE_OK;
    case IDEM_REUSED:
        snprintf(q->err, sizeof q->err, "idempotency key %s was used for another request",
                 ik->key);
        return STORE_KEY_REUSED;
    default:
        return STORE_NOT_FOUND;
    }
}

/* Remember q's key with status and a cart blob as the answer. */
enum store_status mrec_remember(struct mtable *t, struct mt_entry *e, struct store_req *q,
                                unsigned status, int64_t version, const unsigned char *blob,
                                size_t len)
{
    if (mt_rec_append(t, e, q->idem.key, q->idem.fp, status, version, blob, len) == IDEM_OK)
        return STORE_OK;
    snprintf(q->err, sizeof q->err, "could not remember idempotency key %s", q->idem.key);
    return STORE_ERROR;
}

/* The blob a copy of e sends: its cart with the record, its newest entry or nothing. */
unsigned char *mrec_wire(const struct mt_entry *e, enum mstore_copy how, size_t *len)
{
    size_t head, extlen = 0;
    const unsigned char *ext;
    unsigned char *x = NULL, *out = NULL;
    if (!cblob_split(e->blob, e->len, &head, &ext, &extlen))
        return NULL;
    if (how == MS_FULL)
        x = idem_encode(&e->rec, &extlen);
    else if (how == MS_LAST && idem_count(&e->rec) > 0)
        x = idem_delta(&e->rec, 1, &extlen);
    else
        extlen = 0;
    if (x || extlen == 0)
        out = cblob_join(e->blob, head, x, x ? extlen : 0, len);
    free(x);
    return out;
}

/* Split a peer's blob into the cart to keep and its extra. */
unsigned char *mrec_cart_of(const unsigned char *b, size_t len, size_t *cartlen,
                            const unsigned char **ext, size_t *extlen)
{
    size_t head;
    if (!cblob_split(b, len, &head, ext, extlen))
        return NULL;
    return cblob_join(b, head, NULL, 0, cartlen);
}

/* Apply a peer's extra to e's record. */
bool mrec_merge(struct mtable *t, struct mt_entry *e, const unsigned char *ext, size_t extlen)
{
    return extlen == 0 || mt_rec_merge(t, e, ext, extlen) == IDEM_OK;
}
