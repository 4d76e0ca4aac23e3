/* Unit tests of mttl, the idle TTL of a cart's two copies, on a memory store
 * with no peer: what a TOUCH does to a backup copy (current: slid; another
 * owner's: STALE; none, or older than the owner's: FULL), that a lost
 * owner's copies get a full TTL from the loss, and that a TAKE from the
 * cart's own owner (its copy expired) finds nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cblob.h"
#include "idem.h"
#include "mfix.h"
#include "mstore.h"
#include "store_mem.h"

#define ID "rep2-AAAAAAAAAAAAAAAAAAAAAA"    /* a cart created by rep2 */
#define ID2 "rep3-CCCCCCCCCCCCCCCCCCCCCC"   /* one created by rep3 */

static struct mstore *M;

/* .init: the fixture's memory store, tagged rep1. */
static void setup(void)
{
    M = mfix_open();
}

TestSuite(mttl, .init = setup, .fini = mfix_close);

/* Keep a backup copy of cart id from owner inc at epoch (a full copy: the
 * cart and its empty key record). */
static void put(const char *id, uint64_t epoch, uint64_t inc)
{
    struct cart c;
    struct idem_rec r;
    size_t len, n;
    cart_init(&c, id);
    idem_init(&r);
    unsigned char *x = idem_encode(&r, &n);
    unsigned char *b = cblob_encode(&c, x, n, &len);
    struct rproto_msg m = {.type = RP_PUT, .epoch = epoch, .inc = inc, .blob = b, .bloblen = len};
    cr_assert_eq(mstore_put(M, &m), RPA_OK);
    free(b);
    free(x);
    cart_free(&c);
}

/* A TOUCH of cart id from owner inc at epoch: the ack code. */
static uint8_t touch(const char *id, uint64_t epoch, uint64_t inc)
{
    struct rproto_msg m = {.type = RP_TOUCH, .epoch = epoch, .inc = inc};
    snprintf(m.id, sizeof m.id, "%s", id);
    return mstore_touch(M, &m);
}

/* Set the last access of cart id to `ago` ms back; false when it is not held. */
static bool age(const char *id, int64_t ago)
{
    struct mt_shard *sh = mt_shard(&M->t, id);
    pthread_mutex_lock(&sh->lock);
    struct mt_entry *e = mt_find(&M->t, sh, id, mt_now_ms());
    if (e)
        e->last_ms = mt_now_ms() - ago;
    pthread_mutex_unlock(&sh->lock);
    return e != NULL;
}

/* How long ago cart id was last accessed (ms), -1 when it is not held. */
static int64_t idle(const char *id)
{
    struct mt_shard *sh = mt_shard(&M->t, id);
    pthread_mutex_lock(&sh->lock);
    struct mt_entry *e = mt_find(&M->t, sh, id, mt_now_ms());
    int64_t v = e ? mt_now_ms() - e->last_ms : -1;
    pthread_mutex_unlock(&sh->lock);
    return v;
}

Test(mttl, a_touch_slides_the_current_copy_only)
{
    cr_expect_eq(touch(ID, 3, 42), RPA_FULL, "no copy: send the whole cart");
    put(ID, 3, 42);
    cr_assert(age(ID, 50000));
    cr_expect_eq(touch(ID, 2, 42), RPA_STALE, "an older epoch");
    cr_expect_eq(touch(ID, 3, 43), RPA_STALE, "the same epoch from another replica");
    cr_expect_geq(idle(ID), 50000, "the stale touches slid nothing");
    cr_expect_eq(touch(ID, 4, 43), RPA_FULL, "a newer owner whose copy did not come");
    cr_expect_geq(idle(ID), 50000);
    cr_expect_eq(touch(ID, 3, 42), RPA_OK);
    cr_expect_lt(idle(ID), 1000, "the copy has a full TTL again");
    cr_assert(age(ID, 61000));
    cr_expect_eq(touch(ID, 3, 42), RPA_FULL, "an expired copy is dropped, not revived");
    cr_expect_eq(idle(ID), -1);
}

Test(mttl, a_former_owners_touch_is_stale)
{
    put(ID, 3, 42);
    struct rproto_msg take;
    unsigned char *blob;
    mstore_take(M, ID, 77, -1, &take, &blob); /* rep2 (42) is gone: 77 takes it, we back it up */
    cr_assert_eq(take.type, RP_GRANT);
    free(blob);
    cr_expect_eq(touch(ID, 3, 42), RPA_STALE, "the former owner's touch");
    cr_expect_eq(touch(ID, 4, 77), RPA_OK, "the new owner's");
}

Test(mttl, a_lost_owners_copies_get_a_full_ttl_from_the_loss)
{
    put(ID, 1, 42);
    put(ID2, 1, 43);
    cr_assert(age(ID, 59000));
    cr_assert(age(ID2, 59000));
    mstore_owner_lost(M, 42);
    cr_expect_lt(idle(ID), 1000, "the lost owner's copy: a full TTL from now");
    cr_expect_geq(idle(ID2), 59000, "another owner's copy keeps its age");
}

Test(mttl, a_take_by_the_carts_own_owner_finds_nothing)
{
    put(ID, 2, 42);
    struct rproto_msg r;
    unsigned char *blob;
    mstore_take(M, ID, 42, -1, &r, &blob); /* the owner lost its copy to the TTL */
    cr_expect_eq(r.type, RP_REFUSE);
    cr_expect_eq(r.code, RPR_NOT_FOUND);
    cr_expect_null(blob);
    cr_expect_eq(idle(ID), -1, "the backup copy went with the owner's");
    cr_expect_eq(atomic_load(&M->t.backups), 0);
}
