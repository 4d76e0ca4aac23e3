/* test_store_redis: the Redis cart store against a real redis-server.
 *
 * Each test gets its own redis-server (harness) and a store with max_items 3,
 * TTL 60 s and a 200 ms timeout. Covers round trips, every refusal, a
 * randomized comparison with cart_apply, TTLs, NOSCRIPT recovery, outages,
 * a frozen Redis, concurrency, hostile input, AUTH/SELECT and the reply decoder. */
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

Test(store_redis, full_at_max_items)
{
    struct cart c = {0};
    create("f");
    ok("f", CART_OP_ADD, "A", 1, 1, &c);
    ok("f", CART_OP_ADD, "B", 1, 1, &c);
    ok("f", CART_OP_SET, "C", 2, 1, &c);
    refused("f", CART_OP_ADD, "D", 1, 1, -1, CART_FULL);
    refused("f", CART_OP_SET, "D", 1, 1, -1, CART_FULL);
    refused("f", CART_OP_ADD, "D", 1, NOPRICE, -1, CART_PRICE_REQUIRED);
    ok("f", CART_OP_ADD, "A", 1, NOPRICE, &c);
    ok("f", CART_OP_REMOVE, "B", 0, NOPRICE, &c);
    ok("f", CART_OP_ADD, "D", 1, 1, &c);
    cr_expect_eq(c.n, 3);
    cr_expect_eq(c.version, 6);
    cart_free(&c);
}

Test(store_redis, qty_and_price_bounds)
{
    struct cart c = {0};
    create("q");
    refused("q", CART_OP_ADD, "A", 0, 1, -1, CART_QTY_RANGE);
    refused("q", CART_OP_ADD, "A", -1, 1, -1, CART_QTY_RANGE);
    refused("q", CART_OP_ADD, "A", 10000, 1, -1, CART_QTY_RANGE);
    refused("q", CART_OP_ADD, "A", INT64_MAX, 1, -1, CART_QTY_RANGE);
    refused("q", CART_OP_SET, "A", -1, 1, -1, CART_QTY_RANGE);
    refused("q", CART_OP_SET, "A", INT64_MIN, 1, -1, CART_QTY_RANGE);
    refused("q", CART_OP_ADD, "A", 1, -1, -1, CART_PRICE_RANGE);
    refused("q", CART_OP_ADD, "A", 1, CART_PRICE_MAX + 1, -1, CART_PRICE_RANGE);
    refused("q", CART_OP_ADD, "A", 1, INT64_MAX, -1, CART_PRICE_RANGE);
    refused("q", CART_OP_ADD, "A", 1, NOPRICE, -1, CART_PRICE_REQUIRED);
    refused("q", CART_OP_SET, "A", 1, NOPRICE, -1, CART_PRICE_REQUIRED);
    refused("q", (enum cart_op)7, "A", 1, 1, -1, CART_QTY_RANGE);
    cr_expect_eq(version_of("q"), 0);
    ok("q", CART_OP_ADD, "A", 9999, CART_PRICE_MAX, &c);
    ok("q", CART_OP_ADD, "B", 1, 0, &c);
    refused("q", CART_OP_ADD, "A", 1, NOPRICE, -1, CART_QTY_RANGE);
    refused("q", CART_OP_SET, "A", 10000, NOPRICE, -1, CART_QTY_RANGE);
    ok("q", CART_OP_SET, "A", 1, NOPRICE, &c);
    cr_expect_eq(c.items[0].qty, 1);
    cr_expect_eq(c.items[0].unit_price_cents, CART_PRICE_MAX);
    cr_expect_eq(cart_total(&c), CART_PRICE_MAX);
    cr_expect_eq(version_of("q"), 3);
    cart_free(&c);
}

Test(store_redis, set_remove_no_item_conflict_del)
{
    struct cart c = {0};
    enum cart_status cst;
    char err[ERRLEN] = "";
    create("s");
    refused("s", CART_OP_REMOVE, "A", 0, NOPRICE, -1, CART_NO_ITEM);
    refused("s", CART_OP_SET, "A", 0, NOPRICE, -1, CART_NO_ITEM);
    ok("s", CART_OP_SET, "A", 4, 10, &c);
    ok("s", CART_OP_SET, "B", 4, 10, &c);
    ok("s", CART_OP_SET, "A", 0, NOPRICE, &c);
    cr_assert_eq(c.n, 1);
    ok("s", CART_OP_REMOVE, "B", 0, NOPRICE, &c);
    cr_expect_eq(c.n, 0);
    cr_expect_eq(c.version, 4);
    refused("s", CART_OP_ADD, "A", 1, 1, 3, CART_CONFLICT);
    refused("s", CART_OP_ADD, "A", 1, 1, 5, CART_CONFLICT);
    refused("s", CART_OP_ADD, "A", 1, 1, INT64_MAX, CART_CONFLICT);
    cr_expect_eq(chg("s", CART_OP_ADD, "A", 1, 1, 4, &c, &cst), STORE_OK);
    cr_expect_eq(st.ops->del(st.self, "s", 4, &cst, err, sizeof(err)), STORE_REJECTED);
    cr_expect_eq(cst, CART_CONFLICT);
    cr_expect_eq(st.ops->del(st.self, "s", 5, &cst, err, sizeof(err)), STORE_OK, "%s", err);
    cr_expect_eq(st.ops->get(st.self, "s", &c, err, sizeof(err)), STORE_NOT_FOUND);
    cr_expect_eq(st.ops->del(st.self, "s", -1, &cst, err, sizeof(err)), STORE_NOT_FOUND);
    create("s");
    cr_expect_eq(st.ops->del(st.self, "s", -1, &cst, err, sizeof(err)), STORE_OK);
    cart_free(&c);
}

/* Compare two carts line by line. */
static void same_cart(const struct cart *a, const struct cart *b, int step)
{
    cr_assert_eq(a->version, b->version, "step %d: version", step);
    cr_assert_eq(a->n, b->n, "step %d: lines", step);
    for (size_t i = 0; i < a->n; i++) {
        cr_assert_str_eq(a->items[i].sku, b->items[i].sku, "step %d", step);
        cr_assert_eq(a->items[i].qty, b->items[i].qty, "step %d", step);
        cr_assert_eq(a->items[i].unit_price_cents, b->items[i].unit_price_cents, "step %d", step);
    }
}

/* Random changes go through the store and through cart_apply: same answers. */
Test(store_redis, mirrors_cart_apply)
{
    static const char *const skus[] = { "A", "B", "C", "D", "E" };
    static const int64_t qtys[] = { -1, 0, 1, 2, 5000, 9998, 9999, 10000 };
    static const int64_t prices[] = { NOPRICE, NOPRICE, -1, 0, 7, CART_PRICE_MAX, CART_PRICE_MAX + 1 };
    struct cart model, got = {0};
    unsigned seed = 12345;
    cart_init(&model, "r");
    create("r");
    for (int step = 0; step < 400; step++) {
        struct cart_change c = { .op = (enum cart_op)(rand_r(&seed) % 3) };
        snprintf(c.sku, sizeof(c.sku), "%s", skus[rand_r(&seed) % 5]);
        c.qty = qtys[rand_r(&seed) % 8];
        c.price = prices[rand_r(&seed) % 7];
        c.has_price = c.price != NOPRICE;
        c.if_match = rand_r(&seed) % 4 ? -1 : model.version - (int64_t)(rand_r(&seed) % 2);
        enum cart_status want = cart_apply(&model, &c, 3), cst = CART_OK;
        char err[ERRLEN] = "";
        enum store_status s = st.ops->change(st.self, "r", &c, &got, &cst, err, sizeof(err));
        cr_assert_eq(s, want == CART_OK ? STORE_OK : STORE_REJECTED, "step %d: %s %s", step,
                     store_status_name(s), err);
        cr_assert_eq(cst, want, "step %d: %s vs %s", step, cart_status_name(cst),
                     cart_status_name(want));
        if (s == STORE_OK)
            same_cart(&got, &model, step);
    }
    cr_assert_eq(st.ops->get(st.self, "r", &got, NULL, 0), STORE_OK);
    same_cart(&got, &model, -1);
    cart_free(&model);
    cart_free(&got);
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

/* A string reply for hand-built decoder input (len given for embedded NULs). */
static redisReply str_n(const char *s, size_t len)
{
    return (redisReply){ .type = REDIS_REPLY_STRING, .str = (char *)s, .len = len };
}

/* Decode {tag, {fields...}} built by hand; out and cst may be NULL. */
static enum store_status decode(const char *tag, const char *const *f, size_t n,
                                struct cart *out, enum cart_status *cst)
{
    redisReply el[16], *elp[16], top[2], *topp[2];
    cr_assert(n <= 16);
    for (size_t i = 0; i < n; i++) {
        el[i] = str_n(f[i], strlen(f[i]));
        elp[i] = &el[i];
    }
    top[0] = str_n(tag, strlen(tag));
    top[1] = (redisReply){ .type = REDIS_REPLY_ARRAY, .elements = n, .element = n ? elp : NULL };
    topp[0] = &top[0];
    topp[1] = &top[1];
    redisReply r = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = topp };
    return store_redis_decode(&r, "x", 9, out, cst, NULL, 0);
}

Test(store_redis_decode, accepts_good_replies)
{
    static const char *const good[] = { "v", "7", "s:B", "2 5", "s:A", "1 0" };
    struct cart c = {0};
    enum cart_status cst = CART_OK;
    cr_assert_eq(decode("ok", good, 6, &c, NULL), STORE_OK);
    cr_expect_eq(c.version, 7);
    cr_expect_eq(c.expires_in, 9);
    cr_assert_eq(c.n, 2);
    cr_expect_str_eq(c.items[0].sku, "A");
    cr_expect_eq(c.items[1].qty, 2);
    cr_expect_eq(c.items[1].unit_price_cents, 5);
    cr_expect_eq(decode("ok", NULL, 0, NULL, NULL), STORE_OK);
    cr_expect_eq(decode("ok", good, 6, NULL, NULL), STORE_OK);
    redisReply why = str_n("cart_full", 9), body = why;
    redisReply tag = str_n("rej", 3), *pp[2] = { &tag, &body };
    redisReply r = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = pp };
    cr_expect_eq(store_redis_decode(&r, "x", 1, &c, &cst, NULL, 0), STORE_REJECTED);
    cr_expect_eq(cst, CART_FULL);
    cr_expect_eq(store_redis_decode(&r, "x", 1, &c, NULL, NULL, 0), STORE_ERROR);
    body = str_n("not_found", 9);
    cr_expect_eq(store_redis_decode(&r, "x", 1, &c, &cst, NULL, 0), STORE_NOT_FOUND);
    body = str_n("exists", 6);
    cr_expect_eq(store_redis_decode(&r, "x", 1, &c, &cst, NULL, 0), STORE_EXISTS);
    body = str_n("teapot", 6);
    cr_expect_eq(store_redis_decode(&r, "x", 1, &c, &cst, NULL, 0), STORE_ERROR);
    body = (redisReply){ .type = REDIS_REPLY_INTEGER, .integer = 3 };
    cr_expect_eq(store_redis_decode(&r, "x", 1, &c, &cst, NULL, 0), STORE_ERROR);
    cart_free(&c);
}

Test(store_redis_decode, refuses_malformed_replies)
{
    static const char *const bad_values[] = {
        "", "x", "-1", "1x", "12345678901234567890", "5", "5 ", " 5 1", "0 1", "10000 1",
        "1 1000000001", "1 -1", "1  1", "1 1 1", "+1 1" };
    static const char *const bad_fields[] = { "x", "vv", "s:", "s:a b", "s:{x}", "V" };
    struct cart c = {0};
    for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
        const char *f[] = { "v", "1", "s:A", bad_values[i] };
        const char *g[] = { "v", bad_values[i] };
        cr_expect_eq(decode("ok", f, 4, &c, NULL), STORE_ERROR, "line value '%s'", bad_values[i]);
        if (strcmp(bad_values[i], "5") != 0)
            cr_expect_eq(decode("ok", g, 2, &c, NULL), STORE_ERROR, "version '%s'", bad_values[i]);
    }
    for (size_t i = 0; i < sizeof(bad_fields) / sizeof(bad_fields[0]); i++) {
        const char *f[] = { "v", "1", bad_fields[i], "1 1" };
        cr_expect_eq(decode("ok", f, 4, &c, NULL), STORE_ERROR, "field '%s'", bad_fields[i]);
    }
    const char *odd[] = { "v", "1", "s:A" }, *nov[] = { "s:A", "1 1" };
    const char *twov[] = { "v", "1", "v", "1" }, *twos[] = { "v", "1", "s:A", "1 1", "s:A", "1 1" };
    cr_expect_eq(decode("ok", odd, 3, &c, NULL), STORE_ERROR);
    cr_expect_eq(decode("ok", nov, 2, &c, NULL), STORE_ERROR);
    cr_expect_eq(decode("ok", twov, 4, &c, NULL), STORE_ERROR);
    cr_expect_eq(decode("ok", twos, 6, &c, NULL), STORE_ERROR);
    cr_expect_eq(decode("ok", NULL, 0, &c, NULL), STORE_ERROR, "a cart needs a version");
    cr_expect_eq(decode("OK", odd, 2, &c, NULL), STORE_ERROR);
    cr_expect_eq(c.n, 0, "a refused reply leaves out alone");
    /* Shapes: NULL, not an array, wrong count, a NUL inside a sku. */
    cr_expect_eq(store_redis_decode(NULL, "x", 1, &c, NULL, NULL, 0), STORE_ERROR);
    redisReply i = { .type = REDIS_REPLY_INTEGER }, *one[1] = { &i };
    cr_expect_eq(store_redis_decode(&i, "x", 1, &c, NULL, NULL, 0), STORE_ERROR);
    redisReply a1 = { .type = REDIS_REPLY_ARRAY, .elements = 1, .element = one };
    cr_expect_eq(store_redis_decode(&a1, "x", 1, &c, NULL, NULL, 0), STORE_ERROR);
    redisReply f[4] = { str_n("v", 1), str_n("1", 1), str_n("s:A\0B", 5), str_n("1 1", 3) };
    redisReply *fp[4] = { &f[0], &f[1], &f[2], &f[3] };
    redisReply tag = str_n("ok", 2), body = { .type = REDIS_REPLY_ARRAY, .elements = 4, .element = fp };
    redisReply *tp[2] = { &tag, &body }, r = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = tp };
    cr_expect_eq(store_redis_decode(&r, "x", 1, &c, NULL, NULL, 0), STORE_ERROR);
    f[2] = str_n("s:AB", 4);
    cr_expect_eq(store_redis_decode(&r, "x", 1, &c, NULL, NULL, 0), STORE_OK);
    f[1] = (redisReply){ .type = REDIS_REPLY_INTEGER, .integer = 1 };
    cr_expect_eq(store_redis_decode(&r, "x", 1, &c, NULL, NULL, 0), STORE_ERROR);
    cart_free(&c);
}
