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
#include "mstore.h"
#include "scall.h"
#include "store_mem.h"

#define ID "rep2-AAAAAAAAAAAAAAAAAAAAAA"    /* a cart created by rep2 */
#define MINE "rep1-BBBBBBBBBBBBBBBBBBBBBB"  /* one created here (rep1) */

static struct store S;
static struct mstore *M;

/* .init: a memory store tagged rep1. */
static void setup(void)
{
    struct store_mem_cfg c = {.ttl = 60, .max_carts = 100, .max_items = 10, .tag = "rep1"};
    char err[128];
    cr_assert_eq(store_mem_open(&c, &S, err, sizeof err), 0, "%s", err);
    M = S.self;
    M->inc = 1111;
}

/* .fini */
static void teardown(void)
{
    S.ops->destroy(S.self);
}

TestSuite(ownership, .init = setup, .fini = teardown);

/* A PUT message of cart id at version v, from owner inc at epoch. */
static uint8_t put(const char *id, int64_t v, uint64_t epoch, uint64_t inc)
{
    struct cart c;
    size_t len;
    cart_init(&c, id);
    c.version = v;
    unsigned char *b = cblob_encode(&c, NULL, 0, &len);
    struct rproto_msg m = {.type = RP_PUT, .epoch = epoch, .inc = inc, .blob = b, .bloblen = len};
    uint8_t ack = mstore_put(M, &m);
    free(b);
    return ack;
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

Test(ownership, an_owner_is_fenced_by_a_newer_epoch)
{
    struct cart c;
    int role;
    uint32_t ep;
    cart_init(&c, "");
    cr_assert_eq(scall_create(&S, MINE, NULL, &c, NULL, 0), STORE_OK);
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
    /* our own cart, here and not draining: the balancer sends its sessions here */
    cr_assert_eq(scall_create(&S, MINE, NULL, &c, NULL, 0), STORE_OK);
    mstore_take(M, MINE, 77, -1, &r, &blob);
    cr_expect_eq(r.type, RP_REFUSE);
    cr_expect_eq(r.code, RPR_OWNER_ALIVE);
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
    /* draining: our own cart may go */
    atomic_store(&M->draining, true);
    mstore_take(M, MINE, 77, -1, &r, &blob);
    cr_expect_eq(r.type, RP_GRANT);
    cr_expect_eq(r.epoch, 2);
    free(blob);
    cart_free(&c);
}

Test(ownership, a_request_promotes_a_backup_whose_owner_is_gone)
{
    struct cart c;
    int role;
    uint32_t ep;
    cart_init(&c, "");
    cr_assert_eq(put(ID, 3, 5, 42), RPA_OK);
    cr_expect_eq(scall_get(&S, ID, &c, NULL, 0), STORE_OK);
    cr_expect_eq(c.version, 3);
    cr_expect_eq(held(ID, &role, &ep), 3);
    cr_expect_eq(role, MT_OWNED);
    cr_expect_eq(ep, 6, "the takeover moved the epoch");
    struct cart_change chg = {.op = CART_OP_ADD, .sku = "A", .qty = 1, .price = 5,
                              .has_price = true, .if_match = -1};
    cr_expect_eq(scall_change(&S, ID, &chg, NULL, &c, NULL, NULL, 0), STORE_OK);
    cr_expect_eq(c.version, 4);
    cart_free(&c);
}

Test(ownership, without_peers_a_foreign_tag_is_misdirected)
{
    struct store_req q = {.op = STORE_OP_GET, .if_match = -1};
    snprintf(q.id, sizeof q.id, ID);
    cr_expect_eq(scall_run(&S, &q), STORE_MISDIRECTED);
    cr_expect_str_eq(q.owner, "rep2");
    snprintf(q.id, sizeof q.id, MINE);
    cr_expect_eq(scall_run(&S, &q), STORE_NOT_FOUND);
}

Test(ownership, a_handoff_makes_this_replica_the_owner)
{
    struct cart c;
    size_t len;
    int role;
    uint32_t ep;
    cart_init(&c, ID);
    c.version = 8;
    unsigned char *b = cblob_encode(&c, NULL, 0, &len);
    struct rproto_msg m = {.type = RP_HANDOFF, .epoch = 3, .blob = b, .bloblen = len};
    cr_expect_eq(mstore_handoff_in(M, &m, -1), RPA_OK);
    cr_expect_eq(held(ID, &role, &ep), 8);
    cr_expect_eq(role, MT_OWNED);
    cr_expect_eq(ep, 3);
    m.epoch = 2;
    cr_expect_eq(mstore_handoff_in(M, &m, -1), RPA_ERROR, "an older epoch is refused");
    free(b);
    cart_free(&c);
}
