/* test_store_redis: the Redis cart store against a real redis-server.
 *
 * Each test gets its own redis-server (harness) and a store with max_items 3,
 * TTL 60 s and a 200 ms timeout. Covers round trips, TTLs, NOSCRIPT recovery,
 * outages, a frozen Redis, concurrency, hostile input and AUTH/SELECT. The
 * scripts' refusals, the comparison with cart_apply and the reply decoder are
 * in test_rscript.c. */
#include <criterion/criterion.h>

#include <ftw.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "store_redis.h"

#define ERRLEN 256
#define NOPRICE INT64_MIN
#define TTL 60

static struct harness_proc rd;
static struct store st;

/* Milliseconds on the monotonic clock. */
static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Open a store on the test's Redis with url suffix tail (e.g. "/0"). */
static struct store open_url(const char *url, int ttl)
{
    struct store_redis_cfg cfg = { .url = url, .timeout_ms = 200, .ttl = ttl, .max_items = 3 };
    struct store s = {0};
    char err[ERRLEN] = "";
    cr_assert_eq(store_redis_open(&cfg, &s, err, sizeof(err)), 0, "open: %s", err);
    return s;
}

/* A store on the test's Redis. */
static struct store open_ttl(int ttl)
{
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", rd.port);
    return open_url(url, ttl);
}

/* Per test: a fresh redis-server and a store on it. */
static void setup(void)
{
    cr_assert(harness_redis_start(&rd), "redis-server did not start");
    st = open_ttl(TTL);
}

/* Remove one file of the temp dir (nftw callback). */
static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Per test: close the store, stop Redis, remove its temp dir. */
static void teardown(void)
{
    if (st.ops)
        st.ops->destroy(st.self);
    harness_stop(&rd);
    if (rd.dir[0])
        nftw(rd.dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A raw hiredis connection for checks behind the store's back. */
static redisContext *raw(void)
{
    redisContext *c = redisConnect("127.0.0.1", rd.port);
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

/* Apply one change through the store; out receives the cart. */
static enum store_status chg(const char *id, enum cart_op op, const char *sku, int64_t qty,
                             int64_t price, int64_t if_match, struct cart *out,
                             enum cart_status *cst)
{
    struct cart_change c = { .op = op, .qty = qty, .price = price,
                             .has_price = price != NOPRICE, .if_match = if_match };
    char err[ERRLEN] = "";
    snprintf(c.sku, sizeof(c.sku), "%s", sku);
    *cst = CART_OK;
    return st.ops->change(st.self, id, &c, out, cst, err, sizeof(err));
}

/* Expect a change to succeed. */
static void ok(const char *id, enum cart_op op, const char *sku, int64_t qty, int64_t price,
               struct cart *out)
{
    enum cart_status cst;
    enum store_status s = chg(id, op, sku, qty, price, -1, out, &cst);
    cr_assert_eq(s, STORE_OK, "%s qty %lld: %s/%s", sku, (long long)qty,
                 store_status_name(s), cart_status_name(cst));
}

/* Expect a change to be refused with want, and the cart to stay at version v. */
static void refused(const char *id, enum cart_op op, const char *sku, int64_t qty,
                    int64_t price, int64_t if_match, enum cart_status want)
{
    struct cart c = {0};
    enum cart_status cst;
    enum store_status s = chg(id, op, sku, qty, price, if_match, &c, &cst);
    cr_assert_eq(s, STORE_REJECTED, "%s qty %lld: %s", sku, (long long)qty, store_status_name(s));
    cr_assert_eq(cst, want, "%s qty %lld: got %s want %s", sku, (long long)qty,
                 cart_status_name(cst), cart_status_name(want));
    cart_free(&c);
}

/* Create cart id or fail. */
static void create(const char *id)
{
    struct cart c = {0};
    char err[ERRLEN] = "";
    cr_assert_eq(st.ops->create(st.self, id, &c, err, sizeof(err)), STORE_OK, "create: %s", err);
    cart_free(&c);
}

/* The version of a stored cart. */
static int64_t version_of(const char *id)
{
    struct cart c = {0};
    char err[ERRLEN] = "";
    cr_assert_eq(st.ops->get(st.self, id, &c, err, sizeof(err)), STORE_OK, "get: %s", err);
    cart_free(&c);
    return c.version;
}

TestSuite(store_redis, .init = setup, .fini = teardown, .timeout = 60);

Test(store_redis, create_get_exists_notfound)
{
    struct cart c = {0};
    char err[ERRLEN] = "";
    cr_assert_eq(st.ops->create(st.self, "c1", &c, err, sizeof(err)), STORE_OK, "%s", err);
    cr_expect_str_eq(c.id, "c1");
    cr_expect_eq(c.version, 0);
    cr_expect_eq(c.n, 0);
    cr_expect_eq(c.expires_in, TTL);
    cr_expect_eq(st.ops->create(st.self, "c1", &c, err, sizeof(err)), STORE_EXISTS);
    cr_expect_eq(st.ops->get(st.self, "c1", &c, err, sizeof(err)), STORE_OK);
    cr_expect_eq(c.version, 0);
    cr_expect_eq(st.ops->get(st.self, "nope", &c, err, sizeof(err)), STORE_NOT_FOUND);
    cr_expect_eq(st.ops->get(st.self, "", &c, err, sizeof(err)), STORE_NOT_FOUND);
    enum cart_status cst;
    cr_expect_eq(chg("nope", CART_OP_ADD, "A", 1, 5, -1, &c, &cst), STORE_NOT_FOUND);
    cr_expect_eq(st.ops->ping(st.self, err, sizeof(err)), STORE_OK, "%s", err);
    struct store_stats ss;
    cr_expect_eq(st.ops->stats(st.self, &ss, err, sizeof(err)), STORE_OK);
    cr_expect_eq(ss.carts, 1);
    cr_expect_eq(ss.errors, 0);
    cart_free(&c);
}

Test(store_redis, add_merges_and_sorts)
{
    struct cart c = {0};
    create("m");
    ok("m", CART_OP_ADD, "b", 2, 100, &c);
    cr_expect_eq(c.version, 1);
    ok("m", CART_OP_ADD, "b", 3, NOPRICE, &c);
    cr_assert_eq(c.n, 1);
    cr_expect_eq(c.items[0].qty, 5);
    cr_expect_eq(c.items[0].unit_price_cents, 100);
    ok("m", CART_OP_ADD, "b", 1, 150, &c);
    cr_expect_eq(c.items[0].unit_price_cents, 150);
    ok("m", CART_OP_ADD, "B-1", 1, 7, &c);
    ok("m", CART_OP_ADD, "a.x_y", 1, 0, &c);
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
    create("t");
    long long t = raw_int(r, "TTL", "cart:{t}");
    cr_expect(t > TTL - 3 && t <= TTL, "ttl after create %lld", t);
    const char *exp[] = { "EXPIRE", "cart:{t}", "5", NULL };
    raw_do(r, exp);
    cr_assert_eq(st.ops->get(st.self, "t", &c, NULL, 0), STORE_OK);
    cr_expect_eq(c.expires_in, TTL);
    cr_expect(raw_int(r, "TTL", "cart:{t}") > TTL - 3, "get renews the TTL");
    raw_do(r, exp);
    ok("t", CART_OP_ADD, "A", 1, 1, &c);
    cr_expect(raw_int(r, "TTL", "cart:{t}") > TTL - 3, "a change renews the TTL");
    cr_expect_eq(raw_int(r, "HLEN", "cart:{t}"), 2);
    redisFree(r);
    cart_free(&c);
}

Test(store_redis, expires_after_ttl)
{
    st.ops->destroy(st.self);
    st = open_ttl(1);
    create("e");
    cr_assert_eq(st.ops->get(st.self, "e", NULL, NULL, 0), STORE_OK);
    usleep(2200 * 1000);
    cr_expect_eq(st.ops->get(st.self, "e", NULL, NULL, 0), STORE_NOT_FOUND);
}

Test(store_redis, noscript_recovery)
{
    struct cart c = {0};
    redisContext *r = raw();
    const char *flush[] = { "SCRIPT", "FLUSH", NULL };
    create("n");
    ok("n", CART_OP_ADD, "A", 1, 1, &c);
    raw_do(r, flush);
    ok("n", CART_OP_ADD, "A", 1, NOPRICE, &c);
    cr_expect_eq(c.items[0].qty, 2);
    raw_do(r, flush);
    cr_expect_eq(st.ops->get(st.self, "n", &c, NULL, 0), STORE_OK);
    cr_expect_eq(c.version, 2);
    redisFree(r);
    cart_free(&c);
}

Test(store_redis, redis_down_then_back)
{
    char err[ERRLEN] = "";
    enum cart_status cst;
    struct store_stats ss = {0};
    create("d");
    harness_stop(&rd);
    long long t0 = mono_ms();
    cr_expect_eq(chg("d", CART_OP_ADD, "A", 1, 1, -1, NULL, &cst), STORE_UNAVAILABLE);
    cr_expect_eq(st.ops->get(st.self, "d", NULL, err, sizeof(err)), STORE_UNAVAILABLE);
    cr_expect_neq(err[0], '\0', "an error message");
    cr_expect_eq(st.ops->ping(st.self, NULL, 0), STORE_UNAVAILABLE);
    cr_expect_eq(st.ops->stats(st.self, &ss, NULL, 0), STORE_UNAVAILABLE);
    cr_expect_lt(mono_ms() - t0, 1000, "failures are quick");
    cr_expect_eq(ss.errors, 4);
    cr_assert(harness_redis_restart(&rd), "restart");
    cr_expect_eq(st.ops->ping(st.self, err, sizeof(err)), STORE_OK, "%s", err);
    create("d");
    cr_expect_eq(version_of("d"), 0);
}

Test(store_redis, get_survives_restart_on_reused_connection)
{
    char err[ERRLEN] = "";
    create("g");
    harness_stop(&rd);
    cr_assert(harness_redis_restart(&rd), "restart");
    /* The thread's context saw the old server go: a read reconnects at once
     * (the restarted Redis kept nothing, so the cart is gone). */
    cr_expect_eq(st.ops->get(st.self, "g", NULL, err, sizeof(err)), STORE_NOT_FOUND, "%s", err);
    create("g");
    cr_expect_eq(version_of("g"), 0);
}

Test(store_redis, frozen_redis_times_out)
{
    enum cart_status cst;
    create("p");
    harness_pause(&rd, true);
    long long t0 = mono_ms();
    cr_expect_eq(chg("p", CART_OP_ADD, "A", 1, 1, -1, NULL, &cst), STORE_UNAVAILABLE);
    long long t1 = mono_ms();
    cr_expect_eq(st.ops->ping(st.self, NULL, 0), STORE_UNAVAILABLE);
    long long t2 = mono_ms();
    harness_pause(&rd, false);
    cr_expect_lt(t1 - t0, 1000, "change gave up after %lld ms", t1 - t0);
    cr_expect_lt(t2 - t1, 1000, "ping gave up after %lld ms", t2 - t1);
    cr_expect_eq(st.ops->ping(st.self, NULL, 0), STORE_OK);
}

/* Worker: 1000 ADDs of qty 1 on cart "cc". */
static void *adder(void *arg)
{
    long fails = 0;
    for (int i = 0; i < 1000; i++) {
        enum cart_status cst;
        if (chg("cc", CART_OP_ADD, "A", 1, 3, -1, NULL, &cst) != STORE_OK)
            fails++;
    }
    return (void *)fails;
}

Test(store_redis, concurrent_adds_all_land)
{
    pthread_t t[8];
    struct cart c = {0};
    create("cc");
    for (int i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, adder, NULL), 0);
    for (int i = 0; i < 8; i++) {
        void *fails;
        pthread_join(t[i], &fails);
        cr_expect_eq((long)fails, 0, "thread %d failed %ld adds", i, (long)fails);
    }
    cr_assert_eq(st.ops->get(st.self, "cc", &c, NULL, 0), STORE_OK);
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
    create("h");
    raw_do(r, reset);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refused("h", CART_OP_ADD, bad[i], 1, 1, -1, CART_INVALID_SKU);
    struct cart_change unterminated = { .op = CART_OP_SET, .qty = 1, .if_match = -1 };
    enum cart_status cst = CART_OK;
    memset(unterminated.sku, 'a', sizeof(unterminated.sku));
    cr_expect_eq(st.ops->change(st.self, "h", &unterminated, NULL, &cst, NULL, 0), STORE_REJECTED);
    cr_expect_eq(cst, CART_INVALID_SKU);
    redisReply *info = redisCommand(r, "INFO commandstats");
    cr_assert(info && info->type == REDIS_REPLY_STRING);
    cr_expect_null(strstr(info->str, "evalsha"), "a script ran: %s", info->str);
    freeReplyObject(info);
    cr_expect_eq(raw_int(r, "DBSIZE", NULL), 1);
    redisFree(r);
}

Test(store_redis, password_and_db)
{
    char url[96], err[ERRLEN] = "";
    redisContext *r = raw();
    const char *pw[] = { "CONFIG", "SET", "requirepass", "s3cr%et", NULL };
    raw_do(r, pw);
    st.ops->destroy(st.self);
    snprintf(url, sizeof(url), "redis://:s3cr%%et@127.0.0.1:%d/3", rd.port);
    st = open_url(url, TTL);
    create("pw");
    cr_expect_eq(version_of("pw"), 0);
    struct store_stats ss;
    cr_expect_eq(st.ops->stats(st.self, &ss, err, sizeof(err)), STORE_OK, "%s", err);
    cr_expect_eq(ss.carts, 1);
    cr_expect_eq(raw_int(r, "DBSIZE", NULL), 0, "the cart is not in db 0");
    const char *sel[] = { "SELECT", "3", NULL };
    raw_do(r, sel);
    cr_expect_eq(raw_int(r, "EXISTS", "cart:{pw}"), 1);
    st.ops->destroy(st.self);
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d/3", rd.port);
    st = open_url(url, TTL);
    cr_expect_eq(st.ops->ping(st.self, err, sizeof(err)), STORE_UNAVAILABLE);
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
    snprintf(url, sizeof(url), "unix://%s/redis.sock?db=0", rd.dir);
    struct store u = open_url(url, TTL);
    struct cart c = {0};
    char err[ERRLEN] = "";
    cr_assert_eq(u.ops->create(u.self, "via-unix", &c, err, sizeof(err)), STORE_OK, "%s", err);
    cr_expect_eq(st.ops->get(st.self, "via-unix", &c, err, sizeof(err)), STORE_OK,
                 "a cart created over the socket is seen over TCP: %s", err);
    cr_expect_eq(u.ops->ping(u.self, err, sizeof(err)), STORE_OK, "%s", err);
    u.ops->destroy(u.self);
    cart_free(&c);
}
