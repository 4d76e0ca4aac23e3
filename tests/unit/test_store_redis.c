/* test_store_redis: the Redis cart store against a real redis-server.
 *
 * Each test gets its own redis-server (harness) and a store with max_items 3,
 * TTL 60 s and a 200 ms timeout. Covers round trips, TTLs, NOSCRIPT recovery,
 * outages, a frozen Redis, concurrency, hostile input and AUTH/SELECT. The
 * scripts' refusals, the comparison with cart_apply and the reply decoder are
 * in test_rscript.c. */
#include <criterion/criterion.h>

#include "scall.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "sfix.h"
#include "rscript.h"
#include "store_redis.h"

#define ERRLEN SFIX_ERRLEN
#define TTL SFIX_TTL


/* A raw hiredis connection for checks behind the store's back. */
static redisContext *raw(void)
{
    redisContext *c = redisConnect("127.0.0.1", sfix_redis.port);
    cr_assert(c && !c->err, "raw connect");
    return c;
}

/* Run a raw command and return its integer reply. */
static long long raw_int(redisContext *c, const char *cmd, const char *arg)
{
    const char *argv[2] = { cmd, arg };
    redisReply *r = redisCommandArgv(c, arg ? 2 : 1, argv, NULL);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER, "%s: no integer reply", cmd);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* Run a raw command whose reply is not needed (argv NULL-ended). */
static void raw_do(redisContext *c, const char **argv)
{
    int n = 0;
    while (argv[n])
        n++;
    redisReply *r = redisCommandArgv(c, n, argv, NULL);
    cr_assert(r && r->type != REDIS_REPLY_ERROR, "%s failed", argv[0]);
    freeReplyObject(r);
}

TestSuite(store_redis, .init = sfix_setup, .fini = sfix_teardown, .timeout = 60);

Test(store_redis, create_get_exists_notfound)
{
    struct cart c = {0};
    char err[ERRLEN] = "";
    cr_assert_eq(scall_create(&sfix_store, "c1", NULL, &c, err, sizeof(err)), STORE_OK, "%s", err);
    cr_expect_str_eq(c.id, "c1");
    cr_expect_eq(c.version, 0);
    cr_expect_eq(c.n, 0);
    cr_expect_eq(c.expires_in, TTL);
    cr_expect_eq(scall_create(&sfix_store, "c1", NULL, &c, err, sizeof(err)), STORE_EXISTS);
    cr_expect_eq(scall_get(&sfix_store, "c1", &c, err, sizeof(err)), STORE_OK);
    cr_expect_eq(c.version, 0);
    cr_expect_eq(scall_get(&sfix_store, "nope", &c, err, sizeof(err)), STORE_NOT_FOUND);
    cr_expect_eq(scall_get(&sfix_store, "", &c, err, sizeof(err)), STORE_NOT_FOUND);
    enum cart_status cst;
    cr_expect_eq(sfix_chg("nope", CART_OP_ADD, "A", 1, 5, -1, &c, &cst), STORE_NOT_FOUND);
    cr_expect_eq(sfix_store.ops->ping(sfix_store.self, err, sizeof(err)), STORE_OK, "%s", err);
    struct store_stats ss;
    cr_expect_eq(sfix_store.ops->stats(sfix_store.self, &ss, err, sizeof(err)), STORE_OK);
    cr_expect_eq(ss.carts, 1);
    cr_expect_eq(ss.errors, 0);
    cart_free(&c);
}

Test(store_redis, add_merges_and_sorts)
{
    struct cart c = {0};
    sfix_create("m");
    sfix_ok("m", CART_OP_ADD, "b", 2, 100, &c);
    cr_expect_eq(c.version, 1);
    sfix_ok("m", CART_OP_ADD, "b", 3, SFIX_NOPRICE, &c);
    cr_assert_eq(c.n, 1);
    cr_expect_eq(c.items[0].qty, 5);
    cr_expect_eq(c.items[0].unit_price_cents, 100);
    sfix_ok("m", CART_OP_ADD, "b", 1, 150, &c);
    cr_expect_eq(c.items[0].unit_price_cents, 150);
    sfix_ok("m", CART_OP_ADD, "B-1", 1, 7, &c);
    sfix_ok("m", CART_OP_ADD, "a.x_y", 1, 0, &c);
    cr_assert_eq(c.n, 3);
    cr_expect_str_eq(c.items[0].sku, "B-1");
    cr_expect_str_eq(c.items[1].sku, "a.x_y");
    cr_expect_str_eq(c.items[2].sku, "b");
    cr_expect_eq(c.version, 5);
    cr_expect_eq(cart_total(&c), 6 * 150 + 7);
    cart_free(&c);
}

Test(store_redis, ttl_set_and_renewed)
{
    struct cart c = {0};
    redisContext *r = raw();
    sfix_create("t");
    long long t = raw_int(r, "TTL", "cart:{t}");
    cr_expect(t > TTL - 3 && t <= TTL, "ttl after create %lld", t);
    const char *exp[] = { "EXPIRE", "cart:{t}", "5", NULL };
    raw_do(r, exp);
    cr_assert_eq(scall_get(&sfix_store, "t", &c, NULL, 0), STORE_OK);
    cr_expect_eq(c.expires_in, TTL);
    cr_expect(raw_int(r, "TTL", "cart:{t}") > TTL - 3, "get renews the TTL");
    raw_do(r, exp);
    sfix_ok("t", CART_OP_ADD, "A", 1, 1, &c);
    cr_expect(raw_int(r, "TTL", "cart:{t}") > TTL - 3, "a change renews the TTL");
    cr_expect_eq(raw_int(r, "HLEN", "cart:{t}"), 2);
    redisFree(r);
    cart_free(&c);
}

Test(store_redis, expires_after_ttl)
{
    sfix_store.ops->destroy(sfix_store.self);
    sfix_store = sfix_open_ttl(1);
    sfix_create("e");
    cr_assert_eq(scall_get(&sfix_store, "e", NULL, NULL, 0), STORE_OK);
    usleep(2200 * 1000);
    cr_expect_eq(scall_get(&sfix_store, "e", NULL, NULL, 0), STORE_NOT_FOUND);
}

Test(store_redis, noscript_recovery)
{
    struct cart c = {0};
    redisContext *r = raw();
    const char *flush[] = { "SCRIPT", "FLUSH", NULL };
    sfix_create("n");
    sfix_ok("n", CART_OP_ADD, "A", 1, 1, &c);
    raw_do(r, flush);
    sfix_ok("n", CART_OP_ADD, "A", 1, SFIX_NOPRICE, &c);
    cr_expect_eq(c.items[0].qty, 2);
    raw_do(r, flush);
    cr_expect_eq(scall_get(&sfix_store, "n", &c, NULL, 0), STORE_OK);
    cr_expect_eq(c.version, 2);
    redisFree(r);
    cart_free(&c);
}

Test(store_redis, redis_down_then_back)
{
    char err[ERRLEN] = "";
    enum cart_status cst;
    struct store_stats ss = {0};
    sfix_create("d");
    harness_stop(&sfix_redis);
    long long t0 = harness_ms();
    cr_expect_eq(sfix_chg("d", CART_OP_ADD, "A", 1, 1, -1, NULL, &cst), STORE_UNAVAILABLE);
    cr_expect_eq(scall_get(&sfix_store, "d", NULL, err, sizeof(err)), STORE_UNAVAILABLE);
    cr_expect_neq(err[0], '\0', "an error message");
    cr_expect_eq(sfix_store.ops->ping(sfix_store.self, NULL, 0), STORE_UNAVAILABLE);
    cr_expect_eq(sfix_store.ops->stats(sfix_store.self, &ss, NULL, 0), STORE_UNAVAILABLE);
    cr_expect_lt(harness_ms() - t0, 1000, "failures are quick");
    cr_expect_eq(ss.errors, 4);
    cr_assert(harness_redis_restart(&sfix_redis), "restart");
    cr_expect_eq(sfix_store.ops->ping(sfix_store.self, err, sizeof(err)), STORE_OK, "%s", err);
    sfix_create("d");
    cr_expect_eq(sfix_version("d"), 0);
}

Test(store_redis, get_survives_restart_on_reused_connection)
{
    char err[ERRLEN] = "";
    sfix_create("g");
    harness_stop(&sfix_redis);
    cr_assert(harness_redis_restart(&sfix_redis), "restart");
    /* The thread's context saw the old server go: a read reconnects at once
     * (the restarted Redis kept nothing, so the cart is gone). */
    cr_expect_eq(scall_get(&sfix_store, "g", NULL, err, sizeof(err)), STORE_NOT_FOUND, "%s", err);
    sfix_create("g");
    cr_expect_eq(sfix_version("g"), 0);
}

Test(store_redis, frozen_redis_times_out)
{
    enum cart_status cst;
    sfix_create("p");
    harness_pause(&sfix_redis, true);
    long long t0 = harness_ms();
    cr_expect_eq(sfix_chg("p", CART_OP_ADD, "A", 1, 1, -1, NULL, &cst), STORE_UNAVAILABLE);
    long long t1 = harness_ms();
    cr_expect_eq(sfix_store.ops->ping(sfix_store.self, NULL, 0), STORE_UNAVAILABLE);
    long long t2 = harness_ms();
    harness_pause(&sfix_redis, false);
    cr_expect_lt(t1 - t0, 1000, "change gave up after %lld ms", t1 - t0);
    cr_expect_lt(t2 - t1, 1000, "ping gave up after %lld ms", t2 - t1);
    cr_expect_eq(sfix_store.ops->ping(sfix_store.self, NULL, 0), STORE_OK);
}

/* Worker: 1000 ADDs of qty 1 on cart "cc". */
static void *adder(void *arg)
{
    long fails = 0;
    for (int i = 0; i < 1000; i++) {
        enum cart_status cst;
        if (sfix_chg("cc", CART_OP_ADD, "A", 1, 3, -1, NULL, &cst) != STORE_OK)
            fails++;
    }
    return (void *)fails;
}

Test(store_redis, concurrent_adds_all_land)
{
    pthread_t t[8];
    struct cart c = {0};
    sfix_create("cc");
    for (int i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, adder, NULL), 0);
    for (int i = 0; i < 8; i++) {
        void *fails;
        pthread_join(t[i], &fails);
        cr_expect_eq((long)fails, 0, "thread %d failed %ld adds", i, (long)fails);
    }
    cr_assert_eq(scall_get(&sfix_store, "cc", &c, NULL, 0), STORE_OK);
    cr_assert_eq(c.n, 1);
    cr_expect_eq(c.items[0].qty, 8000);
    cr_expect_eq(c.version, 8000);
    cart_free(&c);
}

Test(store_redis, hostile_sku_never_reaches_redis)
{
    static const char *const bad[] = {
        "", "a b", "x')redis.call('FLUSHALL')--", "%s%s%n%b", "a\r\nFLUSHALL", "s:v", "{x}" };
    redisContext *r = raw();
    const char *reset[] = { "CONFIG", "RESETSTAT", NULL };
    sfix_create("h");
    raw_do(r, reset);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        sfix_refused("h", CART_OP_ADD, bad[i], 1, 1, -1, CART_INVALID_SKU);
    struct cart_change unterminated = { .op = CART_OP_SET, .qty = 1 };
    enum cart_status cst = CART_OK;
    memset(unterminated.sku, 'a', sizeof(unterminated.sku));
    cr_expect_eq(scall_change(&sfix_store, "h", &unterminated, NULL, NULL, &cst, NULL, 0), STORE_REJECTED);
    cr_expect_eq(cst, CART_INVALID_SKU);
    redisReply *info = redisCommand(r, "INFO commandstats");
    cr_assert(info && info->type == REDIS_REPLY_STRING);
    cr_expect_null(strstr(info->str, "evalsha"), "a script ran: %s", info->str);
    freeReplyObject(info);
    cr_expect_eq(raw_int(r, "DBSIZE", NULL), RSCRIPT_NKEYS, "the cart and its key record");
    redisFree(r);
}

Test(store_redis, password_and_db)
{
    char url[96], err[ERRLEN] = "";
    redisContext *r = raw();
    const char *pw[] = { "CONFIG", "SET", "requirepass", "s3cr%et", NULL };
    raw_do(r, pw);
    sfix_store.ops->destroy(sfix_store.self);
    snprintf(url, sizeof(url), "redis://:s3cr%%et@127.0.0.1:%d/3", sfix_redis.port);
    sfix_store = sfix_open(url, TTL);
    sfix_create("pw");
    cr_expect_eq(sfix_version("pw"), 0);
    struct store_stats ss;
    cr_expect_eq(sfix_store.ops->stats(sfix_store.self, &ss, err, sizeof(err)), STORE_OK, "%s", err);
    cr_expect_eq(ss.carts, 1);
    cr_expect_eq(raw_int(r, "DBSIZE", NULL), 0, "the cart is not in db 0");
    const char *sel[] = { "SELECT", "3", NULL };
    raw_do(r, sel);
    cr_expect_eq(raw_int(r, "EXISTS", "cart:{pw}"), 1);
    sfix_store.ops->destroy(sfix_store.self);
    /* a refused password fails the open, with a clear error that does not quote it */
    snprintf(url, sizeof(url), "redis://:wrong-pw@127.0.0.1:%d/3", sfix_redis.port);
    struct store_redis_cfg bad = { .url = url, .timeout_ms = 200, .ttl = TTL, .max_items = 3 };
    struct store none = { 0 };
    cr_expect_eq(store_redis_open(&bad, &none, err, sizeof(err)), -1);
    cr_expect_not_null(strstr(err, "authentication failed"), "%s", err);
    cr_expect_null(strstr(err, "wrong-pw"), "%s", err);
    snprintf(url, sizeof(url), "redis://:s3cr%%et@127.0.0.1:%d/3", sfix_redis.port);
    sfix_store = sfix_open(url, TTL);
    redisFree(r);
}

Test(store_redis, open_rejects_bad_config)
{
    struct store s = {0};
    char err[ERRLEN] = "";
    struct store_redis_cfg cfg = { .url = "http://x", .timeout_ms = 100, .ttl = 1, .max_items = 1 };
    cr_expect_eq(store_redis_open(&cfg, &s, err, sizeof(err)), -1);
    cr_expect_neq(err[0], '\0');
    cfg.url = "redis://127.0.0.1:1/0";
    cfg.timeout_ms = 0;
    cr_expect_eq(store_redis_open(&cfg, &s, err, sizeof(err)), -1);
}

/* REDIS_URL=unix:///path reaches the same Redis over its unix socket. */
Test(store_redis, unix_socket_round_trip)
{
    char url[400];
    snprintf(url, sizeof(url), "unix://%s/redis.sock?db=0", sfix_redis.dir);
    struct store u = sfix_open(url, TTL);
    struct cart c = {0};
    char err[ERRLEN] = "";
    cr_assert_eq(scall_create(&u, "via-unix", NULL, &c, err, sizeof(err)), STORE_OK, "%s", err);
    cr_expect_eq(scall_get(&sfix_store, "via-unix", &c, err, sizeof(err)), STORE_OK,
                 "a cart created over the socket is seen over TCP: %s", err);
    cr_expect_eq(u.ops->ping(u.self, err, sizeof(err)), STORE_OK, "%s", err);
    u.ops->destroy(u.self);
    cart_free(&c);
}
