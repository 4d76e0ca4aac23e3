/* test_idem_redis: idempotency keys in the Redis store, against a real
 * redis-server: a keyed change is remembered in the same script as the change
 * and its repeat is the stored answer; a reused key is refused; a refusal is
 * not remembered; the keys of the last IDEM_KEEP changes are kept; the record
 * lives and dies with its cart (same TTL, deleted together); a record written
 * in the previous layout is still read. */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "rscript.h"
#include "sfix.h"
#include "scall.h"

#define ERRLEN SFIX_ERRLEN

TestSuite(idem_redis, .init = sfix_setup, .fini = sfix_teardown, .timeout = 60);

/* A store_idem for key with the fingerprint of body. */
static struct store_idem ikey(const char *key, const char *body)
{
    struct store_idem ik = {0};
    snprintf(ik.key, sizeof ik.key, "%s", key);
    ik.fp = idem_fingerprint("POST", "/carts/c/items", body, strlen(body));
    return ik;
}

/* Add qty of sku to cart id under ik; the store status (out: the cart). */
static enum store_status add(const char *id, struct store_idem *ik, const char *sku,
                             int64_t qty, struct cart *out)
{
    struct cart_change chg = { .op = CART_OP_ADD, .qty = qty, .price = 5, .has_price = true };
    enum cart_status cst = CART_OK;
    char err[ERRLEN] = "";
    snprintf(chg.sku, sizeof chg.sku, "%s", sku);
    enum store_status st = scall_change(&sfix_store, id, &chg, ik, out, &cst,
                                                  err, sizeof err);
    cr_assert(st != STORE_ERROR && st != STORE_UNAVAILABLE, "%s", err);
    return st;
}

/* An integer reply of a raw command on the test's Redis. */
static long long raw_int(const char *cmd, const char *arg)
{
    redisContext *c = redisConnect("127.0.0.1", sfix_redis.port);
    cr_assert(c && !c->err);
    const char *argv[2] = { cmd, arg };
    redisReply *r = redisCommandArgv(c, arg ? 2 : 1, argv, NULL);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER, "%s", cmd);
    long long v = r->integer;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

/* Run a raw command (argv NULL-terminated) on the test's Redis; fails the test on an error. */
static void raw(const char *const *argv)
{
    int n = 0;
    redisContext *c = redisConnect("127.0.0.1", sfix_redis.port);
    cr_assert(c && !c->err);
    while (argv[n])
        n++;
    redisReply *r = redisCommandArgv(c, n, (const char **)argv, NULL);
    cr_assert(r && r->type != REDIS_REPLY_ERROR, "%s failed", argv[0]);
    freeReplyObject(r);
    redisFree(c);
}

Test(idem_redis, replay_reuse_and_refusal)
{
    struct cart c = {0};
    sfix_create("c");
    struct store_idem ik = ikey("k1", "A2");
    cr_assert_eq(add("c", &ik, "A", 2, &c), STORE_OK);
    cr_expect_not(ik.replayed);
    cr_expect_eq(c.version, 1);
    struct store_idem again = ikey("k1", "A2");
    cr_assert_eq(add("c", &again, "A", 2, &c), STORE_OK);
    cr_assert(again.replayed);
    cr_expect_eq(again.ans.status, STORE_ANSWER_CHANGED);
    cr_expect_eq(again.ans.version, 1);
    cr_expect(strstr(again.ans.body, "\"qty\":2") != NULL, "%s", again.ans.body);
    idem_answer_free(&again.ans);
    cr_expect_eq(sfix_version("c"), 1, "applied once");
    struct store_idem other = ikey("k1", "A3");
    cr_expect_eq(add("c", &other, "A", 3, &c), STORE_KEY_REUSED);
    struct store_idem big = ikey("big", "A99999");
    cr_expect_eq(add("c", &big, "A", 99999, &c), STORE_REJECTED);
    struct store_idem big2 = ikey("big", "A99999");
    cr_expect_eq(add("c", &big2, "A", 1, &c), STORE_OK, "a refusal is not remembered");
    cr_expect_not(big2.replayed);
    cr_expect_eq(sfix_version("c"), 2);
    cart_free(&c);
}

/* True when change i of the window test carries a key (every 5th does not). */
static bool keyed(int i)
{
    return i % 5 != 0;
}

Test(idem_redis, keeps_the_keys_of_the_last_64_changes)
{
    struct cart c = {0};
    char key[32];
    const int n = 4 * IDEM_KEEP + 3;  /* several turns of the ring, with unkeyed changes */
    sfix_create("w");
    for (int i = 1; i <= n; i++) {
        snprintf(key, sizeof key, "k%d", i);
        struct store_idem ik = ikey(key, "A1");
        cr_assert_eq(add("w", keyed(i) ? &ik : NULL, i % 2 ? "A" : "B", 1, &c), STORE_OK);
        cr_assert_not(ik.replayed, "%s", key);
        cr_assert_eq(c.version, i);
    }
    int oldest = n - IDEM_KEEP + 1, gone = n - IDEM_KEEP;
    while (!keyed(oldest))
        oldest++;
    while (!keyed(gone))
        gone--;
    snprintf(key, sizeof key, "k%d", oldest);
    struct store_idem in = ikey(key, "A1");
    cr_expect_eq(add("w", &in, "A", 1, &c), STORE_OK);
    cr_expect(in.replayed, "%s, of the last 64 changes, is remembered", key);
    cr_expect_eq(in.ans.version, oldest);
    idem_answer_free(&in.ans);
    snprintf(key, sizeof key, "k%d", gone);
    struct store_idem out = ikey(key, "A1");
    cr_expect_eq(add("w", &out, "A", 1, &c), STORE_OK);
    cr_expect_not(out.replayed, "%s, older than the last 64 changes, is forgotten", key);
    cr_expect_leq(raw_int("HLEN", "idem:{w}"), 2 * IDEM_KEEP + 1, "the record stays bounded");
    redisContext *rc = redisConnect("127.0.0.1", sfix_redis.port);
    cr_assert(rc && !rc->err);
    redisReply *enc = redisCommand(rc, "OBJECT ENCODING idem:{w}");
    cr_assert(enc && enc->type == REDIS_REPLY_STRING);
    cr_expect_str_eq(enc->str, "hashtable", "a full record of small entries is not scanned");
    freeReplyObject(enc);
    redisFree(rc);
    cart_free(&c);
}

Test(idem_redis, the_record_lives_and_dies_with_its_cart)
{
    struct cart c = {0};
    char err[ERRLEN] = "";
    sfix_create("d");
    struct store_idem ik = ikey("k", "A1");
    cr_assert_eq(add("d", &ik, "A", 1, &c), STORE_OK);
    cr_expect_eq(raw_int("DBSIZE", NULL), RSCRIPT_NKEYS);
    long long t1 = raw_int("PTTL", "cart:{d}"), t2 = raw_int("PTTL", "idem:{d}");
    cr_expect(t2 > 0 && t1 - t2 < 1000 && t2 - t1 < 1000, "TTLs %lld and %lld", t1, t2);
    enum cart_status cst;
    struct store_idem del = ik;
    del.fp = idem_fingerprint("DELETE", "/carts/d", "", 0);
    cr_expect_eq(scall_del(&sfix_store, "d", -1, &del, &cst, err, sizeof err),
                 STORE_KEY_REUSED, "a delete under an add's key");
    cr_assert_eq(scall_del(&sfix_store, "d", -1, NULL, &cst, err, sizeof err),
                 STORE_OK, "%s", err);
    cr_expect_eq(raw_int("DBSIZE", NULL), 0, "both keys are gone");
    struct store_idem cr = {0};
    snprintf(cr.key, sizeof cr.key, "create-key-0123456789");
    cr.fp = 42;
    cr_assert_eq(scall_create(&sfix_store, "n", &cr, &c, err, sizeof err), STORE_OK);
    cr_assert_eq(scall_create(&sfix_store, "n", &cr, &c, err, sizeof err), STORE_OK);
    cr_expect(cr.replayed);
    cr_expect_eq(cr.ans.status, STORE_ANSWER_CREATED);
    idem_answer_free(&cr.ans);
    cart_free(&c);
}

Test(idem_redis, reads_a_record_of_the_previous_layout)
{
    /* Before: "k:<key>" = "<slot>" and "o:<slot>" = "<key> <fingerprint> <fields>". */
    struct cart c = {0};
    char entry[128];
    sfix_create("u");
    struct store_idem old = ikey("old", "A2");
    snprintf(entry, sizeof entry, "old %llu v\n1\ns:A\n2 5", (unsigned long long)old.fp);
    const char *fields[] = { "HSET", "idem:{u}", "k:old", "1", "o:1", entry, "k:moved", "1",
                             NULL };
    raw(fields);
    cr_assert_eq(add("u", &old, "A", 2, &c), STORE_OK);
    cr_assert(old.replayed, "an entry of the previous layout is replayed");
    cr_expect_eq(old.ans.version, 1);
    cr_expect(strstr(old.ans.body, "\"qty\":2") != NULL, "%s", old.ans.body);
    idem_answer_free(&old.ans);
    cr_expect_eq(sfix_version("u"), 0, "and not applied");
    struct store_idem other = ikey("old", "A3");
    cr_expect_eq(add("u", &other, "A", 3, &c), STORE_KEY_REUSED);
    struct store_idem moved = ikey("moved", "A2");
    cr_expect_eq(add("u", &moved, "A", 2, &c), STORE_OK);
    cr_expect_not(moved.replayed, "a slot that holds another key remembers nothing");
    cr_expect_eq(sfix_version("u"), 1);
    struct store_idem again = ikey("moved", "A2");
    cr_expect_eq(add("u", &again, "A", 2, &c), STORE_OK);
    cr_expect(again.replayed, "the key is remembered anew");
    cr_expect_eq(again.ans.version, 1);
    idem_answer_free(&again.ans);
    cart_free(&c);
}
