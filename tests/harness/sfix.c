/* sfix: the Redis store fixture. See sfix.h. */
#include "sfix.h"

#include <criterion/criterion.h>

#include "scall.h"
#include <stdio.h>

#include "store_redis.h"

struct harness_proc sfix_redis;
struct store sfix_store;

struct store sfix_open(const char *url, int ttl)
{
    struct store_redis_cfg cfg = { .url = url, .timeout_ms = 200, .ttl = ttl, .max_items = 3 };
    struct store s = {0};
    char err[SFIX_ERRLEN] = "";
    cr_assert_eq(store_redis_open(&cfg, &s, err, sizeof(err)), 0, "open: %s", err);
    return s;
}

struct store sfix_open_ttl(int ttl)
{
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", sfix_redis.port);
    return sfix_open(url, ttl);
}

void sfix_setup(void)
{
    cr_assert(harness_redis_start(&sfix_redis), "redis-server did not start");
    sfix_store = sfix_open_ttl(SFIX_TTL);
}

void sfix_teardown(void)
{
    if (sfix_store.ops)
        sfix_store.ops->destroy(sfix_store.self);
    sfix_store.ops = NULL;
    harness_stop(&sfix_redis);
}

enum store_status sfix_chg(const char *id, enum cart_op op, const char *sku, int64_t qty,
                           int64_t price, int64_t if_match, struct cart *out,
                           enum cart_status *cst)
{
    struct cart_change c = { .op = op, .qty = qty, .price = price,
                             .has_price = price != SFIX_NOPRICE, .if_match = cart_match_one(if_match) };
    char err[SFIX_ERRLEN] = "";
    snprintf(c.sku, sizeof(c.sku), "%s", sku);
    *cst = CART_OK;
    return scall_change(&sfix_store, id, &c, NULL, out, cst, err, sizeof(err));
}

void sfix_ok(const char *id, enum cart_op op, const char *sku, int64_t qty, int64_t price,
             struct cart *out)
{
    enum cart_status cst;
    enum store_status s = sfix_chg(id, op, sku, qty, price, -1, out, &cst);
    cr_assert_eq(s, STORE_OK, "%s qty %lld: %s/%s", sku, (long long)qty,
                 store_status_name(s), cart_status_name(cst));
}

void sfix_refused(const char *id, enum cart_op op, const char *sku, int64_t qty,
                  int64_t price, int64_t if_match, enum cart_status want)
{
    struct cart c = {0};
    enum cart_status cst;
    enum store_status s = sfix_chg(id, op, sku, qty, price, if_match, &c, &cst);
    cr_assert_eq(s, STORE_REJECTED, "%s qty %lld: %s", sku, (long long)qty, store_status_name(s));
    cr_assert_eq(cst, want, "%s qty %lld: got %s want %s", sku, (long long)qty,
                 cart_status_name(cst), cart_status_name(want));
    cart_free(&c);
}

void sfix_create(const char *id)
{
    struct cart c = {0};
    char err[SFIX_ERRLEN] = "";
    cr_assert_eq(scall_create(&sfix_store, id, NULL, &c, err, sizeof(err)), STORE_OK,
                 "create: %s", err);
    cart_free(&c);
}

int64_t sfix_version(const char *id)
{
    struct cart c = {0};
    char err[SFIX_ERRLEN] = "";
    cr_assert_eq(scall_get(&sfix_store, id, &c, err, sizeof(err)), STORE_OK,
                 "get: %s", err);
    cart_free(&c);
    return c.version;
}
