/* test_idem: the idempotency record (idem.c) and its use by the memory store.
 *
 * The record: lookup, eviction past IDEM_KEEP, copy, and an encode/decode
 * round trip that refuses every truncation and corruption. The memory store:
 * a keyed change is applied once, its repeat is the stored answer, a reused
 * key is refused, and a refused change is not remembered. (The memory store
 * cannot time out yet, so its replay path is driven directly here.) */
#include <criterion/criterion.h>

#include "scall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idem.h"
#include "store_mem.h"

#define ERRLEN 256

/* Append key k<i> with a body naming i, or fail the test. */
static void put(struct idem_rec *r, int i)
{
    char key[32], body[64];
    snprintf(key, sizeof key, "k%d", i);
    snprintf(body, sizeof body, "{\"n\":%d}", i);
    cr_assert_eq(idem_append(r, key, (uint64_t)i * 7919u, 200, i, body, strlen(body)), IDEM_OK);
}

Test(idem, key_syntax)
{
    char long_key[IDEM_KEY_MAX + 2];
    cr_expect(idem_key_valid("a"));
    cr_expect(idem_key_valid("A-z_0.9"));
    cr_expect_not(idem_key_valid(""));
    cr_expect_not(idem_key_valid(NULL));
    cr_expect_not(idem_key_valid("a b"));
    cr_expect_not(idem_key_valid("a/b"));
    cr_expect_not(idem_key_valid("caf\xc3\xa9"));
    memset(long_key, 'k', sizeof long_key);
    long_key[IDEM_KEY_MAX] = '\0';
    cr_expect(idem_key_valid(long_key));
    long_key[IDEM_KEY_MAX] = 'k';
    long_key[IDEM_KEY_MAX + 1] = '\0';
    cr_expect_not(idem_key_valid(long_key));
}

Test(idem, fingerprint_covers_method_path_body)
{
    uint64_t a = idem_fingerprint("POST", "/carts/x/items", "{}", 2);
    cr_expect_eq(a, idem_fingerprint("POST", "/carts/x/items", "{}", 2));
    cr_expect_neq(a, idem_fingerprint("PUT", "/carts/x/items", "{}", 2));
    cr_expect_neq(a, idem_fingerprint("POST", "/carts/y/items", "{}", 2));
    cr_expect_neq(a, idem_fingerprint("POST", "/carts/x/items", "{ }", 3));
    /* the parts cannot slide into each other */
    cr_expect_neq(idem_fingerprint("POST", "/a", "b", 1), idem_fingerprint("POST", "/ab", "", 0));
}

Test(idem, cart_id_from_key)
{
    char a[80], b[80], c[80];
    cr_assert_eq(idem_cart_id("t1", "key-1", a, sizeof a), 0);
    cr_assert_eq(idem_cart_id("t1", "key-1", b, sizeof b), 0);
    cr_assert_eq(idem_cart_id("t1", "key-2", c, sizeof c), 0);
    cr_expect_str_eq(a, b);
    cr_expect_str_neq(a, c);
    cr_expect_eq(strncmp(a, "t1-", 3), 0);
    cr_expect_eq(strlen(a), 3 + 22);
    cr_assert_eq(idem_cart_id("", "key-1", a, sizeof a), 0);
    cr_expect_eq(strlen(a), 22);
    cr_expect_eq(idem_cart_id("t1", "key-1", a, 10), -1);
}

Test(idem, lookup_replay_and_reuse)
{
    struct idem_rec r;
    struct idem_entry e;
    idem_init(&r);
    cr_expect_eq(idem_lookup(&r, "k1", 1, NULL), IDEM_MISS);
    put(&r, 1);
    put(&r, 2);
    cr_expect_eq(idem_lookup(&r, "k1", 7919u, &e), IDEM_REPLAY);
    cr_expect_eq(e.body_len, 7);
    cr_expect_eq(memcmp(e.body, "{\"n\":1}", 7), 0);
    cr_expect_eq(e.version, 1);
    cr_expect_eq(idem_lookup(&r, "k2", 1, &e), IDEM_REUSED);
    cr_expect_eq(idem_lookup(&r, "k3", 1, NULL), IDEM_MISS);
    struct idem_answer ans;
    cr_assert_eq(idem_answer_of(&e, &ans), IDEM_OK);
    cr_expect_eq(ans.status, 200);
    cr_expect_str_eq(ans.body, "{\"n\":2}");
    idem_answer_free(&ans);
    idem_free(&r);
    cr_expect_eq(idem_count(&r), 0);
}

Test(idem, keeps_the_last_64)
{
    struct idem_rec r;
    idem_init(&r);
    for (int i = 0; i < IDEM_KEEP + 10; i++)
        put(&r, i);
    cr_expect_eq(idem_count(&r), IDEM_KEEP);
    for (int i = 0; i < 10; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        cr_expect_eq(idem_lookup(&r, key, (uint64_t)i * 7919u, NULL), IDEM_MISS, "%s", key);
    }
    for (int i = 10; i < IDEM_KEEP + 10; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        cr_expect_eq(idem_lookup(&r, key, (uint64_t)i * 7919u, NULL), IDEM_REPLAY, "%s", key);
    }
    idem_free(&r);
}

Test(idem, encode_decode_round_trip)
{
    struct idem_rec r, back, cp;
    idem_init(&r);
    idem_init(&back);
    idem_init(&cp);
    for (int i = 0; i < IDEM_KEEP + 3; i++)
        put(&r, i);
    cr_assert_eq(idem_append(&r, "nobody", 5, 204, -1, NULL, 0), IDEM_OK);
    size_t len = 0;
    unsigned char *blob = idem_encode(&r, &len);
    cr_assert_not_null(blob);
    cr_assert_eq(idem_decode(&back, blob, len), IDEM_OK);
    cr_expect_eq(idem_count(&back), IDEM_KEEP);
    cr_assert_eq(idem_copy(&cp, &back), IDEM_OK);
    size_t len2 = 0;
    unsigned char *blob2 = idem_encode(&cp, &len2);
    cr_assert_eq(len2, len);
    cr_expect_eq(memcmp(blob, blob2, len), 0, "decode then encode gives the same bytes");
    struct idem_entry e;
    cr_expect_eq(idem_lookup(&cp, "nobody", 5, &e), IDEM_REPLAY);
    cr_expect_eq(e.status, 204);
    cr_expect_eq(e.version, -1);
    cr_expect_eq(e.body_len, 0);
    for (size_t cut = 0; cut < len; cut++)
        cr_expect_eq(idem_decode(&back, blob, cut), IDEM_BAD, "truncated at %zu", cut);
    blob[0] = 'X';
    cr_expect_eq(idem_decode(&back, blob, len), IDEM_BAD);
    blob[0] = 'I';
    blob[3] = 0;                  /* first key length 0 */
    cr_expect_eq(idem_decode(&back, blob, len), IDEM_BAD);
    cr_expect_eq(idem_count(&back), 0);
    free(blob);
    free(blob2);
    idem_free(&r);
    idem_free(&back);
    idem_free(&cp);
}

Test(idem, empty_record_encodes)
{
    struct idem_rec r, back;
    idem_init(&r);
    idem_init(&back);
    size_t len = 0;
    unsigned char *blob = idem_encode(&r, &len);
    cr_assert_not_null(blob);
    cr_expect_eq(len, 3);
    cr_expect_eq(idem_decode(&back, blob, len), IDEM_OK);
    cr_expect_eq(idem_count(&back), 0);
    free(blob);
}

Test(idem, delta_merges_into_a_copy)
{
    struct idem_rec owner, backup;
    idem_init(&owner);
    idem_init(&backup);
    for (int i = 0; i < 5; i++)
        put(&owner, i);
    size_t len = 0;
    unsigned char *full = idem_encode(&owner, &len);
    cr_assert_eq(idem_merge(&backup, full, len), IDEM_OK);
    free(full);
    for (int i = 5; i < IDEM_KEEP + 20; i++) {
        put(&owner, i);
        unsigned char *d = idem_delta(&owner, 1, &len);
        cr_assert_not_null(d);
        cr_expect(idem_is_delta(d, len));
        cr_assert_eq(idem_merge(&backup, d, len), IDEM_OK);
        cr_assert_eq(idem_merge(&backup, d, len), IDEM_OK, "a repeated delta changes nothing");
        free(d);
    }
    cr_assert_eq(backup.len, owner.len);
    cr_expect_eq(memcmp(backup.p, owner.p, owner.len), 0, "the copy equals the record");
    unsigned char *d = idem_delta(&owner, 2, &len);
    for (size_t cut = 0; cut < len; cut++)
        cr_expect_eq(idem_merge(&backup, d, cut), IDEM_BAD, "delta cut at %zu", cut);
    free(d);
    cr_expect_eq(memcmp(backup.p, owner.p, owner.len), 0, "a bad delta leaves the copy alone");
    idem_free(&owner);
    idem_free(&backup);
}

Test(idem, a_record_stays_under_its_byte_limit)
{
    struct idem_rec r;
    static char body[40 * 1024];
    idem_init(&r);
    memset(body, 'b', sizeof body);
    for (int i = 0; i < 30; i++) {
        char key[32];
        snprintf(key, sizeof key, "big%d", i);
        cr_assert_eq(idem_append(&r, key, 1, 200, i, body, sizeof body), IDEM_OK);
        cr_assert_leq(r.len, IDEM_REC_MAX);
    }
    cr_expect_eq(idem_count(&r), IDEM_REC_MAX / sizeof body);
    cr_expect_eq(idem_lookup(&r, "big29", 1, NULL), IDEM_REPLAY);
    cr_expect_eq(idem_lookup(&r, "big0", 1, NULL), IDEM_MISS);
    static char huge[IDEM_REC_MAX];
    cr_expect_eq(idem_append(&r, "huge", 1, 200, 1, huge, sizeof huge), IDEM_BAD);
    cr_expect_eq(idem_lookup(&r, "big29", 1, NULL), IDEM_REPLAY, "a refused append keeps r");
    idem_free(&r);
}

/* A store_idem for key with the fingerprint of body. */
static struct store_idem ikey(const char *key, const char *body)
{
    struct store_idem ik = {0};
    snprintf(ik.key, sizeof ik.key, "%s", key);
    ik.fp = idem_fingerprint("POST", "/carts/c/items", body, strlen(body));
    return ik;
}

/* A memory store with one empty cart "c". */
static struct store mem_with_cart(void)
{
    struct store_mem_cfg cfg = { .ttl = 60, .max_carts = 10, .max_items = 3, .sweep_ms = 0 };
    struct store s = {0};
    char err[ERRLEN] = "";
    cr_assert_eq(store_mem_open(&cfg, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(scall_create(&s, "c", NULL, NULL, err, sizeof err), STORE_OK, "%s", err);
    return s;
}

/* Add qty of sku to cart "c" under key; the store status. */
static enum store_status add(struct store *s, struct store_idem *ik, const char *sku,
                             int64_t qty, struct cart *out)
{
    struct cart_change chg = { .op = CART_OP_ADD, .qty = qty, .price = 5, .has_price = true };
    enum cart_status cst;
    char err[ERRLEN] = "";
    snprintf(chg.sku, sizeof chg.sku, "%s", sku);
    return scall_change(s, "c", &chg, ik, out, &cst, err, sizeof err);
}

Test(idem, memory_store_replays_a_keyed_change)
{
    struct store s = mem_with_cart();
    struct cart c;
    cart_init(&c, "");
    struct store_idem ik = ikey("add-1", "A2");
    cr_assert_eq(add(&s, &ik, "A", 2, &c), STORE_OK);
    cr_expect_not(ik.replayed);
    cr_expect_eq(c.version, 1);
    /* the retry: nothing changes, the first answer comes back */
    struct store_idem again = ikey("add-1", "A2");
    cr_assert_eq(add(&s, &again, "A", 2, &c), STORE_OK);
    cr_assert(again.replayed);
    cr_expect_eq(again.ans.status, STORE_ANSWER_CHANGED);
    cr_expect_eq(again.ans.version, 1);
    cr_expect(strstr(again.ans.body, "\"qty\":2") != NULL, "%s", again.ans.body);
    idem_answer_free(&again.ans);
    char err[ERRLEN];
    cr_assert_eq(scall_get(&s, "c", &c, err, sizeof err), STORE_OK);
    cr_expect_eq(c.version, 1, "applied once");
    cr_expect_eq(c.items[0].qty, 2);
    /* the same key with another request is refused, and changes nothing */
    struct store_idem other = ikey("add-1", "A3");
    cr_expect_eq(add(&s, &other, "A", 3, &c), STORE_KEY_REUSED);
    cr_assert_eq(scall_get(&s, "c", &c, err, sizeof err), STORE_OK);
    cr_expect_eq(c.version, 1);
    cart_free(&c);
    s.ops->destroy(s.self);
}

Test(idem, memory_store_does_not_remember_a_refusal)
{
    struct store s = mem_with_cart();
    struct cart c;
    cart_init(&c, "");
    struct store_idem ik = ikey("big", "A99999");
    cr_expect_eq(add(&s, &ik, "A", 99999, &c), STORE_REJECTED);
    struct store_idem ok = ikey("big", "A99999");
    cr_expect_eq(add(&s, &ok, "A", 1, &c), STORE_OK, "a refused change is not remembered");
    cr_expect_not(ok.replayed);
    cart_free(&c);
    s.ops->destroy(s.self);
}

Test(idem, memory_store_keyed_create_and_delete)
{
    struct store s = mem_with_cart();
    char err[ERRLEN] = "";
    struct store_idem ik = {0};
    snprintf(ik.key, sizeof ik.key, "create-1");
    ik.fp = idem_fingerprint("POST", "/carts", "", 0);
    cr_assert_eq(scall_create(&s, "n", &ik, NULL, err, sizeof err), STORE_OK, "%s", err);
    cr_expect_not(ik.replayed);
    cr_assert_eq(scall_create(&s, "n", &ik, NULL, err, sizeof err), STORE_OK, "%s", err);
    cr_assert(ik.replayed);
    cr_expect_eq(ik.ans.status, STORE_ANSWER_CREATED);
    cr_expect_eq(ik.ans.version, 0);
    idem_answer_free(&ik.ans);
    cr_expect_eq(scall_create(&s, "n", NULL, NULL, err, sizeof err), STORE_EXISTS);
    /* the create's key on a delete of the same cart is another request */
    struct store_idem del = ik;
    del.fp = idem_fingerprint("DELETE", "/carts/n", "", 0);
    enum cart_status cst;
    cr_expect_eq(scall_del(&s, "n", -1, &del, &cst, err, sizeof err), STORE_KEY_REUSED);
    cr_expect_eq(scall_del(&s, "n", -1, NULL, &cst, err, sizeof err), STORE_OK);
    s.ops->destroy(s.self);
}

Test(idem, memory_store_keeps_64_keys_per_cart)
{
    struct store s = mem_with_cart();
    struct cart c;
    cart_init(&c, "");
    char key[32];
    for (int i = 0; i < IDEM_KEEP + 1; i++) {
        snprintf(key, sizeof key, "k%d", i);
        struct store_idem ik = ikey(key, "A1");
        cr_assert_eq(add(&s, &ik, i % 2 ? "A" : "B", 1, &c), STORE_OK);
    }
    struct store_idem first = ikey("k0", "A1"), last = ikey("k1", "A1");
    cr_expect_eq(add(&s, &last, "A", 1, &c), STORE_OK);
    cr_expect(last.replayed, "key 1 of 65 is still remembered");
    idem_answer_free(&last.ans);
    cr_expect_eq(add(&s, &first, "A", 1, &c), STORE_OK);
    cr_expect_not(first.replayed, "key 0 of 65 is evicted");
    cart_free(&c);
    s.ops->destroy(s.self);
}
