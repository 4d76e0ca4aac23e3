/* Unit tests of the ownership rules of the memory store (mserve.c, and what a
 * request does with a backup copy), with no peer at all: every other replica
 * counts as dead. Epochs fence a stale owner: a backup keeps the copy of the
 * newest epoch only; a replica gives a cart away only when its owner is gone
 * or is not the replica the balancer uses for it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cblob.h"
#include "mfix.h"
#include "mstore.h"
#include "scall.h"
#include "store_mem.h"

#define ID "rep2-AAAAAAAAAAAAAAAAAAAAAA"    /* a cart created by rep2 */
#define MINE "rep1-BBBBBBBBBBBBBBBBBBBBBB"  /* one created here (rep1) */

static struct mstore *M;

/* .init: the fixture's memory store, tagged rep1. */
static void setup(void)
{
    M = mfix_open();
}

TestSuite(ownership, .init = setup, .fini = mfix_close);

/* A PUT message of cart id at version v, from owner inc at epoch, with ext
 * (an idem blob) as its extra. */
static uint8_t put_ext(const char *id, int64_t v, uint64_t epoch, uint64_t inc,
                       const unsigned char *ext, size_t extlen)
{
    struct cart c;
    size_t len;
    cart_init(&c, id);
    c.version = v;
    unsigned char *b = cblob_encode(&c, ext, extlen, &len);
    struct rproto_msg m = {.type = RP_PUT, .epoch = epoch, .inc = inc, .blob = b, .bloblen = len};
    uint8_t ack = mstore_put(M, &m);
    free(b);
    cart_free(&c);
    return ack;
}

/* A full PUT (the cart and an empty record). */
static uint8_t put(const char *id, int64_t v, uint64_t epoch, uint64_t inc)
{
    struct idem_rec r;
    size_t n;
    idem_init(&r);
    unsigned char *x = idem_encode(&r, &n);
    uint8_t ack = put_ext(id, v, epoch, inc, x, n);
    free(x);
    return ack;
}

/* The number of keys in the record of cart id as held here. */
static unsigned keys_held(const char *id)
{
    struct mt_shard *sh = mt_shard(&M->t, id);
    pthread_mutex_lock(&sh->lock);
    struct mt_entry *e = mt_find(&M->t, sh, id, mt_now_ms());
    unsigned n = e ? idem_count(&e->rec) : 0;
    pthread_mutex_unlock(&sh->lock);
    return n;
}

/* The version of cart id as held here (role out), -1 when absent. */
static int64_t held(const char *id, int *role, uint32_t *epoch)
{
    struct mt_shard *sh = mt_shard(&M->t, id);
    pthread_mutex_lock(&sh->lock);
    struct mt_entry *e = mt_find(&M->t, sh, id, mt_now_ms());
    int64_t v = -1;
    if (e) {
        struct cart c = {0};
        cr_assert_eq(cblob_decode(e->blob, e->len, &c, NULL, NULL), CBLOB_OK);
        v = c.version;
        *role = e->role;
        *epoch = e->epoch;
        cart_free(&c);
    }
    pthread_mutex_unlock(&sh->lock);
    return v;
}

Test(ownership, a_backup_keeps_the_newest_epoch_only)
{
    int role;
    uint32_t ep;
    cr_expect_eq(put(ID, 1, 3, 42), RPA_OK);
    cr_expect_eq(held(ID, &role, &ep), 1);
    cr_expect_eq(role, MT_BACKUP);
    cr_expect_eq(put(ID, 2, 3, 42), RPA_OK, "the same owner, same epoch: a newer copy");
    cr_expect_eq(held(ID, &role, &ep), 2);
    cr_expect_eq(put(ID, 9, 2, 42), RPA_STALE, "an older epoch");
    cr_expect_eq(put(ID, 9, 3, 43), RPA_STALE, "the same epoch from another replica");
    cr_expect_eq(held(ID, &role, &ep), 2, "the stale copies changed nothing");
    cr_expect_eq(put(ID, 5, 4, 43), RPA_OK, "a newer epoch: the cart was taken over");
    cr_expect_eq(held(ID, &role, &ep), 5);
    cr_expect_eq(ep, 4);
    cr_expect_eq(atomic_load(&M->t.backups), 1);
    struct rproto_msg del = {.type = RP_DEL, .epoch = 3, .inc = 42};
    snprintf(del.id, sizeof del.id, ID);
    cr_expect_eq(mstore_del(M, &del), RPA_STALE, "a delete from the old owner");
    del.epoch = 4;
    del.inc = 43;
    cr_expect_eq(mstore_del(M, &del), RPA_OK);
    cr_expect_eq(held(ID, &role, &ep), -1);
}

Test(ownership, a_change_applies_to_its_base_copy_only)
{
    struct idem_rec r;
    size_t n;
    int role;
    uint32_t ep;
    idem_init(&r);
    cr_assert_eq(idem_append(&r, "key-1", 1, 200, 1, "x", 1), IDEM_OK);
    unsigned char *d1 = idem_delta(&r, 1, &n);
    cr_expect_eq(put_ext(ID, 1, 3, 42, NULL, 0), RPA_FULL, "a bare cart with no copy here");
    cr_expect_eq(put_ext(ID, 1, 3, 42, d1, n), RPA_FULL, "a delta with no copy here");
    cr_expect_eq(held(ID, &role, &ep), -1, "neither made a copy");
    cr_assert_eq(put(ID, 1, 3, 42), RPA_OK);
    cr_expect_eq(put_ext(ID, 2, 3, 42, d1, n), RPA_OK, "a delta on its base");
    cr_expect_eq(keys_held(ID), 1);
    cr_assert_eq(idem_append(&r, "key-2", 2, 200, 2, "y", 1), IDEM_OK);
    unsigned char *d2 = idem_delta(&r, 1, &n);
    cr_expect_eq(put_ext(ID, 3, 4, 43, d2, n), RPA_FULL, "a delta of a newer owner");
    cr_expect_eq(held(ID, &role, &ep), 2, "left the copy alone");
    cr_expect_eq(put_ext(ID, 3, 3, 42, NULL, 0), RPA_OK, "a bare cart on its base");
    cr_expect_eq(keys_held(ID), 1, "keeps the record");
    unsigned char bad[] = {'I', 2, 1, 0};
    cr_expect_eq(put_ext(ID, 4, 3, 42, bad, sizeof bad), RPA_ERROR, "a malformed delta");
    cr_expect_eq(held(ID, &role, &ep), 3, "changed nothing");
    unsigned char *full = idem_encode(&r, &n);
    cr_expect_eq(put_ext(ID, 5, 4, 43, full, n), RPA_OK, "a full copy of a newer owner");
    cr_expect_eq(keys_held(ID), 2);
    /* a takeover's grant carries the whole record */
    struct rproto_msg g;
    unsigned char *blob;
    const unsigned char *ext;
    size_t head, extlen;
    mstore_take(M, ID, 77, -1, &g, &blob);
    cr_assert_eq(g.type, RP_GRANT);
    cr_assert(cblob_split(g.blob, g.bloblen, &head, &ext, &extlen));
    struct idem_rec back;
    idem_init(&back);
    cr_expect_eq(idem_decode(&back, ext, extlen), IDEM_OK);
    cr_expect_eq(idem_count(&back), 2);
    idem_free(&back);
    free(blob);
    free(full);
    free(d1);
    free(d2);
    idem_free(&r);
}

Test(ownership, an_owner_is_fenced_by_a_newer_epoch)
{
    struct cart c;
    int role;
    uint32_t ep;
    cart_init(&c, "");
    cr_assert_eq(scall_create(&mfix_store, MINE, NULL, &c, NULL, 0), STORE_OK);
    cr_expect_eq(held(MINE, &role, &ep), 0);
    cr_expect_eq(role, MT_OWNED);
    cr_expect_eq(ep, 1);
    cr_expect_eq(put(MINE, 7, 1, 42), RPA_STALE, "another replica with our epoch");
    cr_expect_eq(held(MINE, &role, &ep), 0);
    cr_expect_eq(role, MT_OWNED);
    cr_expect_eq(put(MINE, 7, 2, 42), RPA_OK, "a newer owner: we hold its backup now");
    cr_expect_eq(held(MINE, &role, &ep), 7);
    cr_expect_eq(role, MT_BACKUP);
    cart_free(&c);
}

Test(ownership, take_rules)
{
    struct rproto_msg r;
    unsigned char *blob;
    struct cart c;
    cart_init(&c, "");
    mstore_take(M, ID, 77, -1, &r, &blob);
    cr_expect_eq(r.type, RP_REFUSE);
    cr_expect_eq(r.code, RPR_NOT_FOUND);
    /* our own cart, never moved, and we are alive: a peer that asks gets it
     * all the same (the balancer moved the session there), epoch + 1 */
    cr_assert_eq(scall_create(&mfix_store, MINE, NULL, &c, NULL, 0), STORE_OK);
    mstore_take(M, MINE, 77, -1, &r, &blob);
    cr_expect_eq(r.type, RP_GRANT);
    cr_expect_eq(r.epoch, 2);
    free(blob);
    int role;
    uint32_t ep;
    cr_expect_eq(held(MINE, &role, &ep), -1, "no replication here: the one copy went with it");
    /* a backup copy whose owner (42) is gone: granted, epoch + 1, we stay its backup */
    cr_assert_eq(put(ID, 3, 5, 42), RPA_OK);
    mstore_take(M, ID, 77, -1, &r, &blob);
    cr_expect_eq(r.type, RP_GRANT);
    cr_expect_eq(r.epoch, 6);
    struct cart d = {0};
    cr_expect_eq(cblob_decode(r.blob, r.bloblen, &d, NULL, NULL), CBLOB_OK);
    cr_expect_eq(d.version, 3);
    free(blob);
    cart_free(&d);
    cr_expect_eq(put(ID, 4, 5, 42), RPA_STALE, "the old owner is fenced off");
    cr_expect_eq(put(ID, 4, 6, 77), RPA_OK, "the new owner's copies land");
    mstore_take(M, MINE, 77, -1, &r, &blob);
    cr_expect_eq(r.type, RP_REFUSE);
    cr_expect_eq(r.code, RPR_NOT_FOUND);
    cart_free(&c);
}

Test(ownership, a_request_promotes_a_backup_whose_owner_is_gone)
{
    struct cart c;
    int role;
    uint32_t ep;
    cart_init(&c, "");
    cr_assert_eq(put(ID, 3, 5, 42), RPA_OK);
    cr_expect_eq(scall_get(&mfix_store, ID, &c, NULL, 0), STORE_OK);
    cr_expect_eq(c.version, 3);
    cr_expect_eq(held(ID, &role, &ep), 3);
    cr_expect_eq(role, MT_OWNED);
    cr_expect_eq(ep, 6, "the takeover moved the epoch");
    struct cart_change chg = {.op = CART_OP_ADD, .sku = "A", .qty = 1, .price = 5,
                              .has_price = true};
    cr_expect_eq(scall_change(&mfix_store, ID, &chg, NULL, &c, NULL, NULL, 0), STORE_OK);
    cr_expect_eq(c.version, 4);
    cart_free(&c);
}

Test(ownership, without_peers_a_foreign_tag_is_misdirected)
{
    struct store_req q = {.op = STORE_OP_GET};
    snprintf(q.id, sizeof q.id, ID);
    cr_expect_eq(scall_run(&mfix_store, &q), STORE_MISDIRECTED);
    cr_expect_str_eq(q.owner, "rep2");
    snprintf(q.id, sizeof q.id, MINE);
    cr_expect_eq(scall_run(&mfix_store, &q), STORE_NOT_FOUND);
}

Test(ownership, a_handoff_makes_this_replica_the_owner)
{
    struct cart c;
    size_t len;
    int role;
    uint32_t ep;
    cart_init(&c, ID);
    c.version = 8;
    unsigned char empty[] = {'I', 1, 0};
    unsigned char *b = cblob_encode(&c, NULL, 0, &len);
    struct rproto_msg m = {.type = RP_HANDOFF, .epoch = 3, .blob = b, .bloblen = len};
    cr_expect_eq(mstore_handoff_in(M, &m, -1), RPA_ERROR, "a handoff needs the record");
    free(b);
    b = cblob_encode(&c, empty, sizeof empty, &len);
    m = (struct rproto_msg){.type = RP_HANDOFF, .epoch = 3, .blob = b, .bloblen = len};
    cr_expect_eq(mstore_handoff_in(M, &m, -1), RPA_OK);
    cr_expect_eq(held(ID, &role, &ep), 8);
    cr_expect_eq(role, MT_OWNED);
    cr_expect_eq(ep, 3);
    m.epoch = 2;
    cr_expect_eq(mstore_handoff_in(M, &m, -1), RPA_ERROR, "an older epoch is refused");
    free(b);
    cart_free(&c);
}
