/* test_rscript: the cart store's Lua scripts and their reply decoder.
 *
 * The scripts run through a store (max_items 3, TTL 60 s, 200 ms timeout) on
 * a redis-server of the test's own (harness): every refusal, the limits, and
 * a randomized comparison with cart_apply. The decoder gets hand-built
 * replies, good and malformed, as flat arrays and as fields joined by
 * newlines (the scripts' form); it needs no server. */
#include <criterion/criterion.h>

#include "scall.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sfix.h"
#include "rreply.h"
#include "rscript.h"
#include "store_redis.h"

#define ERRLEN SFIX_ERRLEN


TestSuite(rscript, .init = sfix_setup, .fini = sfix_teardown, .timeout = 60);

Test(rscript, full_at_max_items)
{
    struct cart c = {0};
    sfix_create("f");
    sfix_ok("f", CART_OP_ADD, "A", 1, 1, &c);
    sfix_ok("f", CART_OP_ADD, "B", 1, 1, &c);
    sfix_ok("f", CART_OP_SET, "C", 2, 1, &c);
    sfix_refused("f", CART_OP_ADD, "D", 1, 1, -1, CART_FULL);
    sfix_refused("f", CART_OP_SET, "D", 1, 1, -1, CART_FULL);
    sfix_refused("f", CART_OP_ADD, "D", 1, SFIX_NOPRICE, -1, CART_PRICE_REQUIRED);
    sfix_ok("f", CART_OP_ADD, "A", 1, SFIX_NOPRICE, &c);
    sfix_ok("f", CART_OP_REMOVE, "B", 0, SFIX_NOPRICE, &c);
    sfix_ok("f", CART_OP_ADD, "D", 1, 1, &c);
    cr_expect_eq(c.n, 3);
    cr_expect_eq(c.version, 6);
    cart_free(&c);
}

Test(rscript, qty_and_price_bounds)
{
    struct cart c = {0};
    sfix_create("q");
    sfix_refused("q", CART_OP_ADD, "A", 0, 1, -1, CART_QTY_RANGE);
    sfix_refused("q", CART_OP_ADD, "A", -1, 1, -1, CART_QTY_RANGE);
    sfix_refused("q", CART_OP_ADD, "A", 10000, 1, -1, CART_QTY_RANGE);
    sfix_refused("q", CART_OP_ADD, "A", INT64_MAX, 1, -1, CART_QTY_RANGE);
    sfix_refused("q", CART_OP_SET, "A", -1, 1, -1, CART_QTY_RANGE);
    sfix_refused("q", CART_OP_SET, "A", INT64_MIN, 1, -1, CART_QTY_RANGE);
    sfix_refused("q", CART_OP_ADD, "A", 1, -1, -1, CART_PRICE_RANGE);
    sfix_refused("q", CART_OP_ADD, "A", 1, CART_PRICE_MAX + 1, -1, CART_PRICE_RANGE);
    sfix_refused("q", CART_OP_ADD, "A", 1, INT64_MAX, -1, CART_PRICE_RANGE);
    sfix_refused("q", CART_OP_ADD, "A", 1, SFIX_NOPRICE, -1, CART_PRICE_REQUIRED);
    sfix_refused("q", CART_OP_SET, "A", 1, SFIX_NOPRICE, -1, CART_PRICE_REQUIRED);
    sfix_refused("q", (enum cart_op)7, "A", 1, 1, -1, CART_QTY_RANGE);
    cr_expect_eq(sfix_version("q"), 0);
    sfix_ok("q", CART_OP_ADD, "A", 9999, CART_PRICE_MAX, &c);
    sfix_ok("q", CART_OP_ADD, "B", 1, 0, &c);
    sfix_refused("q", CART_OP_ADD, "A", 1, SFIX_NOPRICE, -1, CART_QTY_RANGE);
    sfix_refused("q", CART_OP_SET, "A", 10000, SFIX_NOPRICE, -1, CART_QTY_RANGE);
    sfix_ok("q", CART_OP_SET, "A", 1, SFIX_NOPRICE, &c);
    cr_expect_eq(c.items[0].qty, 1);
    cr_expect_eq(c.items[0].unit_price_cents, CART_PRICE_MAX);
    cr_expect_eq(cart_total(&c), CART_PRICE_MAX);
    cr_expect_eq(sfix_version("q"), 3);
    cart_free(&c);
}

Test(rscript, set_remove_no_item_conflict_del)
{
    struct cart c = {0};
    enum cart_status cst;
    char err[ERRLEN] = "";
    sfix_create("s");
    sfix_refused("s", CART_OP_REMOVE, "A", 0, SFIX_NOPRICE, -1, CART_NO_ITEM);
    sfix_refused("s", CART_OP_SET, "A", 0, SFIX_NOPRICE, -1, CART_NO_ITEM);
    sfix_ok("s", CART_OP_SET, "A", 4, 10, &c);
    sfix_ok("s", CART_OP_SET, "B", 4, 10, &c);
    sfix_ok("s", CART_OP_SET, "A", 0, SFIX_NOPRICE, &c);
    cr_assert_eq(c.n, 1);
    sfix_ok("s", CART_OP_REMOVE, "B", 0, SFIX_NOPRICE, &c);
    cr_expect_eq(c.n, 0);
    cr_expect_eq(c.version, 4);
    sfix_refused("s", CART_OP_ADD, "A", 1, 1, 3, CART_CONFLICT);
    sfix_refused("s", CART_OP_ADD, "A", 1, 1, 5, CART_CONFLICT);
    sfix_refused("s", CART_OP_ADD, "A", 1, 1, INT64_MAX, CART_CONFLICT);
    cr_expect_eq(sfix_chg("s", CART_OP_ADD, "A", 1, 1, 4, &c, &cst), STORE_OK);
    cr_expect_eq(scall_del(&sfix_store, "s", 4, NULL, &cst, err, sizeof(err)), STORE_REJECTED);
    cr_expect_eq(cst, CART_CONFLICT);
    cr_expect_eq(scall_del(&sfix_store, "s", 5, NULL, &cst, err, sizeof(err)), STORE_OK, "%s", err);
    cr_expect_eq(scall_get(&sfix_store, "s", &c, err, sizeof(err)), STORE_NOT_FOUND);
    cr_expect_eq(scall_del(&sfix_store, "s", -1, NULL, &cst, err, sizeof(err)), STORE_NOT_FOUND);
    sfix_create("s");
    cr_expect_eq(scall_del(&sfix_store, "s", -1, NULL, &cst, err, sizeof(err)), STORE_OK);
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
Test(rscript, mirrors_cart_apply)
{
    static const char *const skus[] = { "A", "B", "C", "D", "E" };
    static const int64_t qtys[] = { -1, 0, 1, 2, 5000, 9998, 9999, 10000 };
    static const int64_t prices[] = { SFIX_NOPRICE, SFIX_NOPRICE, -1, 0, 7, CART_PRICE_MAX, CART_PRICE_MAX + 1 };
    struct cart model, got = {0};
    unsigned seed = 12345;
    cart_init(&model, "r");
    sfix_create("r");
    for (int step = 0; step < 400; step++) {
        struct cart_change c = { .op = (enum cart_op)(rand_r(&seed) % 3) };
        snprintf(c.sku, sizeof(c.sku), "%s", skus[rand_r(&seed) % 5]);
        c.qty = qtys[rand_r(&seed) % 8];
        c.price = prices[rand_r(&seed) % 7];
        c.has_price = c.price != SFIX_NOPRICE;
        c.if_match = cart_match_one(rand_r(&seed) % 4 ? -1
                                     : model.version - (int64_t)(rand_r(&seed) % 2));
        enum cart_status want = cart_apply(&model, &c, 3), cst = CART_OK;
        char err[ERRLEN] = "";
        enum store_status s = scall_change(&sfix_store, "r", &c, NULL, &got, &cst, err, sizeof(err));
        cr_assert_eq(s, want == CART_OK ? STORE_OK : STORE_REJECTED, "step %d: %s %s", step,
                     store_status_name(s), err);
        cr_assert_eq(cst, want, "step %d: %s vs %s", step, cart_status_name(cst),
                     cart_status_name(want));
        if (s == STORE_OK)
            same_cart(&got, &model, step);
    }
    cr_assert_eq(scall_get(&sfix_store, "r", &got, NULL, 0), STORE_OK);
    same_cart(&got, &model, -1);
    cart_free(&model);
    cart_free(&got);
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
    return rreply_decode(&r, "x", 9, out, cst, NULL, 0);
}

Test(rreply_decode, accepts_good_replies)
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
    cr_expect_eq(rreply_decode(&r, "x", 1, &c, &cst, NULL, 0), STORE_REJECTED);
    cr_expect_eq(cst, CART_FULL);
    cr_expect_eq(rreply_decode(&r, "x", 1, &c, NULL, NULL, 0), STORE_ERROR);
    body = str_n("not_found", 9);
    cr_expect_eq(rreply_decode(&r, "x", 1, &c, &cst, NULL, 0), STORE_NOT_FOUND);
    body = str_n("exists", 6);
    cr_expect_eq(rreply_decode(&r, "x", 1, &c, &cst, NULL, 0), STORE_EXISTS);
    body = str_n("teapot", 6);
    cr_expect_eq(rreply_decode(&r, "x", 1, &c, &cst, NULL, 0), STORE_ERROR);
    body = (redisReply){ .type = REDIS_REPLY_INTEGER, .integer = 3 };
    cr_expect_eq(rreply_decode(&r, "x", 1, &c, &cst, NULL, 0), STORE_ERROR);
    cart_free(&c);
}

Test(rreply_decode, refuses_malformed_replies)
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
    cr_expect_eq(rreply_decode(NULL, "x", 1, &c, NULL, NULL, 0), STORE_ERROR);
    redisReply i = { .type = REDIS_REPLY_INTEGER }, *one[1] = { &i };
    cr_expect_eq(rreply_decode(&i, "x", 1, &c, NULL, NULL, 0), STORE_ERROR);
    redisReply a1 = { .type = REDIS_REPLY_ARRAY, .elements = 1, .element = one };
    cr_expect_eq(rreply_decode(&a1, "x", 1, &c, NULL, NULL, 0), STORE_ERROR);
    redisReply f[4] = { str_n("v", 1), str_n("1", 1), str_n("s:A\0B", 5), str_n("1 1", 3) };
    redisReply *fp[4] = { &f[0], &f[1], &f[2], &f[3] };
    redisReply tag = str_n("ok", 2), body = { .type = REDIS_REPLY_ARRAY, .elements = 4, .element = fp };
    redisReply *tp[2] = { &tag, &body }, r = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = tp };
    cr_expect_eq(rreply_decode(&r, "x", 1, &c, NULL, NULL, 0), STORE_ERROR);
    f[2] = str_n("s:AB", 4);
    cr_expect_eq(rreply_decode(&r, "x", 1, &c, NULL, NULL, 0), STORE_OK);
    f[1] = (redisReply){ .type = REDIS_REPLY_INTEGER, .integer = 1 };
    cr_expect_eq(rreply_decode(&r, "x", 1, &c, NULL, NULL, 0), STORE_ERROR);
    cart_free(&c);
}

/* Decode {tag, "<fields joined by newlines>"} built by hand (the scripts' form). */
static enum store_status decode_joined(const char *tag, const char *joined, struct cart *out)
{
    redisReply top[2] = { str_n(tag, strlen(tag)), str_n(joined, strlen(joined)) };
    redisReply *topp[2] = { &top[0], &top[1] };
    redisReply r = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = topp };
    return rreply_decode(&r, "x", 9, out, NULL, NULL, 0);
}

Test(rreply_decode, joined_fields)
{
    static const char *const bad[] = {
        "", "v", "v\n", "v\n1\n", "\nv\n1", "v\n1\ns:A", "v\n1\ns:A\n1 1\n", "s:A\n1 1",
        "v\n1\nv\n1", "v\n1\ns:A\n1 1\ns:A\n1 1", "v\n1\nx\n1 1", "v\n1\ns:A\n1  1",
        "v\n1\ns:A\n\n1 1", "v\n\n1", "v 1", "v\r\n1" };
    struct cart c = {0};
    cr_assert_eq(decode_joined("ok", "v\n7\ns:B\n2 5\ns:A\n1 0", &c), STORE_OK);
    cr_expect_eq(c.version, 7);
    cr_expect_eq(c.expires_in, 9);
    cr_assert_eq(c.n, 2);
    cr_expect_str_eq(c.items[0].sku, "A");
    cr_expect_eq(c.items[1].qty, 2);
    cr_expect_eq(c.items[1].unit_price_cents, 5);
    cr_assert_eq(decode_joined("ok", "v\n0", &c), STORE_OK);
    cr_expect_eq(c.n, 0);
    cr_expect_eq(c.version, 0);
    cr_expect_eq(decode_joined("ok", "v\n3", NULL), STORE_OK, "a del's caller may want no cart");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(decode_joined("ok", bad[i], &c), STORE_ERROR, "'%s'", bad[i]);
    cr_expect_eq(c.version, 0, "a refused reply leaves out alone");
    cr_expect_eq(decode_joined("OK", "v\n1", &c), STORE_ERROR);
    cart_free(&c);
}

Test(rreply_decode, joined_replay)
{
    redisReply top[2] = { str_n("replay", 6), str_n("v\n4\ns:A\n3 7", 11) };
    redisReply *topp[2] = { &top[0], &top[1] };
    redisReply r = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = topp };
    struct store_idem ik = {0};
    struct cart c = {0};
    cr_assert_eq(rreply_decode_keyed(&r, "x", 9, false, &c, NULL, &ik, NULL, 0), STORE_OK);
    cr_assert(ik.replayed);
    cr_expect_eq(ik.ans.version, 4);
    cr_expect_eq(ik.ans.status, STORE_ANSWER_CHANGED);
    cr_expect(strstr(ik.ans.body, "\"qty\":3") != NULL, "%s", ik.ans.body);
    cr_expect_eq(c.version, 0, "out is untouched by a replay");
    idem_answer_free(&ik.ans);
    top[1] = str_n("v\n4\ns:A", 7);
    struct store_idem bad = {0};
    cr_expect_eq(rreply_decode_keyed(&r, "x", 9, false, &c, NULL, &bad, NULL, 0), STORE_ERROR);
    cr_expect_not(bad.replayed);
    cart_free(&c);
}
