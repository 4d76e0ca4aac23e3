/* Unit tests of the cart model: merging, limits, ordering, totals, atomicity. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cart.h"

/* Build a change. */
static struct cart_change chg(enum cart_op op, const char *sku, int64_t qty, int64_t price,
                              bool has_price)
{
    struct cart_change c;

    memset(&c, 0, sizeof(c));
    c.op = op;
    snprintf(c.sku, sizeof(c.sku), "%s", sku);
    c.qty = qty;
    c.price = price;
    c.has_price = has_price;
    c.if_match = cart_match_one(-1);
    return c;
}

/* Apply an ADD with a price. */
static enum cart_status add(struct cart *c, const char *sku, int64_t qty, int64_t price)
{
    struct cart_change ch = chg(CART_OP_ADD, sku, qty, price, true);

    return cart_apply(c, &ch, 100);
}

/* Compare everything a client can see, plus the line storage. */
static void assert_same(const struct cart *a, const struct cart *b)
{
    cr_assert_str_eq(a->id, b->id);
    cr_assert_eq(a->version, b->version);
    cr_assert_eq(a->expires_in, b->expires_in);
    cr_assert_eq(a->n, b->n);
    if (a->n)
        cr_assert_eq(memcmp(a->items, b->items, a->n * sizeof(a->items[0])), 0);
}

/* Check that every line is in strictly increasing byte order. */
static void assert_sorted(const struct cart *c)
{
    for (size_t i = 1; i < c->n; i++)
        cr_assert_lt(strcmp(c->items[i - 1].sku, c->items[i].sku), 0,
                     "%s before %s", c->items[i - 1].sku, c->items[i].sku);
}

Test(cart, init_is_empty)
{
    struct cart c;

    cart_init(&c, "abc");
    cr_assert_str_eq(c.id, "abc");
    cr_assert_eq(c.version, 0);
    cr_assert_eq(c.n, 0);
    cr_assert_eq(cart_total(&c), 0);
    cr_assert_null(cart_find(&c, "x"));
    cart_free(&c);
}

Test(cart, add_creates_and_merges)
{
    struct cart c;

    cart_init(&c, "c1");
    cr_assert_eq(add(&c, "BOOK-42", 2, 1999), CART_OK);
    cr_assert_eq(c.version, 1);
    cr_assert_eq(add(&c, "BOOK-42", 3, 1999), CART_OK);
    cr_assert_eq(c.version, 2);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(cart_find(&c, "BOOK-42")->qty, 5);
    cr_assert_eq(cart_total(&c), 5 * 1999);
    cart_free(&c);
}

Test(cart, add_existing_without_price_keeps_price)
{
    struct cart c;
    struct cart_change ch = chg(CART_OP_ADD, "A", 1, 0, false);

    cart_init(&c, "c1");
    cr_assert_eq(add(&c, "A", 1, 500), CART_OK);
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_OK);
    cr_assert_eq(cart_find(&c, "A")->qty, 2);
    cr_assert_eq(cart_find(&c, "A")->unit_price_cents, 500);
    cr_assert_eq(add(&c, "A", 1, 700), CART_OK);
    cr_assert_eq(cart_find(&c, "A")->unit_price_cents, 700, "a given price updates the line");
    cr_assert_eq(cart_total(&c), 3 * 700);
    cart_free(&c);
}

Test(cart, new_line_needs_price)
{
    struct cart c;
    struct cart_change ch = chg(CART_OP_ADD, "A", 1, 0, false);

    cart_init(&c, "c1");
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_PRICE_REQUIRED);
    ch.op = CART_OP_SET;
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_PRICE_REQUIRED);
    cr_assert_eq(c.n, 0);
    cr_assert_eq(c.version, 0);
    cart_free(&c);
}

Test(cart, qty_bounds_on_add)
{
    struct cart c;

    cart_init(&c, "c1");
    cr_assert_eq(add(&c, "A", 0, 1), CART_QTY_RANGE);
    cr_assert_eq(add(&c, "A", -1, 1), CART_QTY_RANGE);
    cr_assert_eq(add(&c, "A", 10000, 1), CART_QTY_RANGE);
    cr_assert_eq(add(&c, "A", INT64_MAX, 1), CART_QTY_RANGE);
    cr_assert_eq(add(&c, "A", INT64_MIN, 1), CART_QTY_RANGE);
    cr_assert_eq(add(&c, "A", 9999, 1), CART_OK);
    cr_assert_eq(add(&c, "A", 1, 1), CART_QTY_RANGE, "9999 + 1 is out of range");
    cr_assert_eq(cart_find(&c, "A")->qty, 9999);
    cr_assert_eq(add(&c, "B", 5000, 1), CART_OK);
    cr_assert_eq(add(&c, "B", 4999, 1), CART_OK);
    cr_assert_eq(add(&c, "B", 1, 1), CART_QTY_RANGE);
    cr_assert_eq(add(&c, "B", INT64_MAX, 1), CART_QTY_RANGE, "no overflow on merge");
    cr_assert_eq(c.version, 3);
    cart_free(&c);
}

Test(cart, price_bounds)
{
    struct cart c;

    cart_init(&c, "c1");
    cr_assert_eq(add(&c, "A", 1, 0), CART_OK, "free items are allowed");
    cr_assert_eq(add(&c, "B", 1, CART_PRICE_MAX), CART_OK);
    cr_assert_eq(add(&c, "C", 1, CART_PRICE_MAX + 1), CART_PRICE_RANGE);
    cr_assert_eq(add(&c, "C", 1, -1), CART_PRICE_RANGE);
    cr_assert_eq(add(&c, "A", 1, -1), CART_PRICE_RANGE, "also on an existing line");
    cr_assert_eq(add(&c, "A", 1, INT64_MIN), CART_PRICE_RANGE);
    cr_assert_eq(cart_find(&c, "A")->unit_price_cents, 0);
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.version, 2);
    cart_free(&c);
}

Test(cart, max_items)
{
    struct cart c;
    char sku[16];
    struct cart_change set;

    cart_init(&c, "c1");
    for (int i = 0; i < 5; i++) {
        snprintf(sku, sizeof(sku), "S%d", i);
        struct cart_change ch = chg(CART_OP_ADD, sku, 1, 10, true);
        cr_assert_eq(cart_apply(&c, &ch, 5), CART_OK);
    }
    struct cart_change extra = chg(CART_OP_ADD, "S9", 1, 10, true);
    cr_assert_eq(cart_apply(&c, &extra, 5), CART_FULL);
    set = chg(CART_OP_SET, "S9", 1, 10, true);
    cr_assert_eq(cart_apply(&c, &set, 5), CART_FULL);
    struct cart_change more = chg(CART_OP_ADD, "S0", 1, 10, true);
    cr_assert_eq(cart_apply(&c, &more, 5), CART_OK, "a full cart still merges into a line");
    struct cart_change rm = chg(CART_OP_REMOVE, "S3", 0, 0, false);
    cr_assert_eq(cart_apply(&c, &rm, 5), CART_OK);
    cr_assert_eq(cart_apply(&c, &extra, 5), CART_OK, "room again after a remove");
    cr_assert_eq(c.n, 5);
    cart_free(&c);
}

Test(cart, set_semantics)
{
    struct cart c;
    struct cart_change ch;

    cart_init(&c, "c1");
    cr_assert_eq(add(&c, "A", 3, 100), CART_OK);
    ch = chg(CART_OP_SET, "A", 7, 0, false);
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_OK);
    cr_assert_eq(cart_find(&c, "A")->qty, 7);
    cr_assert_eq(cart_find(&c, "A")->unit_price_cents, 100);
    ch = chg(CART_OP_SET, "A", 9999, 250, true);
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_OK);
    cr_assert_eq(cart_find(&c, "A")->unit_price_cents, 250);
    ch = chg(CART_OP_SET, "A", 10000, 0, false);
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_QTY_RANGE);
    ch = chg(CART_OP_SET, "A", -1, 0, false);
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_QTY_RANGE);
    ch = chg(CART_OP_SET, "B", 2, 5, true);
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_OK, "set creates a priced line");
    cr_assert_eq(cart_total(&c), 9999LL * 250 + 10);
    ch = chg(CART_OP_SET, "A", 0, 0, false);
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_OK, "set 0 removes");
    cr_assert_null(cart_find(&c, "A"));
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_NO_ITEM, "set 0 of an absent line");
    cr_assert_eq(c.n, 1);
    cr_assert_eq(c.version, 5);
    cart_free(&c);
}

Test(cart, remove)
{
    struct cart c;
    struct cart_change rm = chg(CART_OP_REMOVE, "B", 0, 0, false);

    cart_init(&c, "c1");
    cr_assert_eq(cart_apply(&c, &rm, 100), CART_NO_ITEM);
    cr_assert_eq(add(&c, "A", 1, 1), CART_OK);
    cr_assert_eq(add(&c, "B", 1, 2), CART_OK);
    cr_assert_eq(add(&c, "C", 1, 3), CART_OK);
    cr_assert_eq(cart_apply(&c, &rm, 100), CART_OK);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.items[0].sku, "A");
    cr_assert_str_eq(c.items[1].sku, "C");
    cr_assert_eq(cart_apply(&c, &rm, 100), CART_NO_ITEM);
    cr_assert_eq(c.version, 4);
    cr_assert_eq(cart_total(&c), 4);
    cart_free(&c);
}

Test(cart, if_match)
{
    struct cart c;
    struct cart_change ch = chg(CART_OP_ADD, "A", 1, 1, true);

    cart_init(&c, "c1");
    ch.if_match = cart_match_one(1);
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_CONFLICT);
    ch.if_match = cart_match_one(0);
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_OK);
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_CONFLICT, "now stale");
    cr_assert_eq(c.version, 1);
    /* Conflict wins over every other refusal. */
    struct cart_change bad = chg(CART_OP_REMOVE, "bad/sku", 0, 0, false);
    bad.if_match = cart_match_one(7);
    cr_assert_eq(cart_apply(&c, &bad, 100), CART_CONFLICT);
    ch.if_match = cart_match_one(1);
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_OK);
    ch.if_match = cart_match_one(-1);
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_OK, "-1 is unconditional");
    cr_assert_eq(c.version, 3);
    cart_free(&c);
}

Test(cart, failure_leaves_cart_identical)
{
    struct cart c, before;
    struct cart_change bad[] = {
        chg(CART_OP_ADD, "A", 0, 1, true),
        chg(CART_OP_ADD, "A", 9999, 1, true),
        chg(CART_OP_ADD, "new", 1, 1, false),
        chg(CART_OP_ADD, "new", 1, -5, true),
        chg(CART_OP_ADD, "A", 1, CART_PRICE_MAX + 1, true),
        chg(CART_OP_ADD, "no/slash", 1, 1, true),
        chg(CART_OP_ADD, "", 1, 1, true),
        chg(CART_OP_SET, "A", 10000, 1, true),
        chg(CART_OP_SET, "A", -3, 1, true),
        chg(CART_OP_SET, "zz", 0, 0, false),
        chg(CART_OP_SET, "zz", 4, 0, false),
        chg(CART_OP_SET, "zz", 4, 1, true),
        chg(CART_OP_REMOVE, "zz", 0, 0, false),
    };

    cart_init(&c, "c1");
    cart_init(&before, "");
    c.expires_in = 1800;
    for (int i = 0; i < 3; i++) {
        char sku[8];

        snprintf(sku, sizeof(sku), "%c", 'A' + i);
        cr_assert_eq(add(&c, sku, 1 + i, 100 * (i + 1)), CART_OK);
    }
    cr_assert_eq(cart_copy(&before, &c), CART_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum cart_status st = cart_apply(&c, &bad[i], 3);

        cr_assert_neq(st, CART_OK, "change %zu should be refused", i);
        assert_same(&c, &before);
    }
    cart_free(&c);
    cart_free(&before);
}

Test(cart, sorted_by_bytes_with_random_skus)
{
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    struct cart c;
    int added = 0;

    srand(12345);
    cart_init(&c, "c1");
    for (int i = 0; i < 3000; i++) {
        char sku[CART_SKU_MAX + 1];
        int len = 1 + rand() % 8;

        for (int k = 0; k < len; k++)
            sku[k] = chars[rand() % (int)(sizeof(chars) - 1)];
        sku[len] = '\0';
        struct cart_change ch = chg(CART_OP_ADD, sku, 1, 1, true);
        enum cart_status st = cart_apply(&c, &ch, 10000);

        cr_assert_eq(st, CART_OK);
        added++;
        cr_assert_not_null(cart_find(&c, sku));
    }
    assert_sorted(&c);
    int64_t qty = 0;
    for (size_t i = 0; i < c.n; i++)
        qty += c.items[i].qty;
    cr_assert_eq(qty, added, "merged and new lines account for every add");
    cr_assert_eq(cart_total(&c), added);
    /* Byte order: '-' < '.' < digits < upper < '_' < lower. */
    struct cart o;
    const char *want[] = {"-", ".", "0", "A", "Z", "_", "a", "aa"};
    const char *in[] = {"aa", "_", "Z", "0", "a", ".", "A", "-"};
    cart_init(&o, "o");
    for (int i = 0; i < 8; i++)
        cr_assert_eq(add(&o, in[i], 1, 1), CART_OK);
    for (int i = 0; i < 8; i++)
        cr_assert_str_eq(o.items[i].sku, want[i]);
    cart_free(&o);
    cart_free(&c);
}

Test(cart, totals_large)
{
    struct cart c;
    char sku[16];

    cart_init(&c, "c1");
    for (int i = 0; i < 10000; i++) {
        snprintf(sku, sizeof(sku), "S%05d", i);
        struct cart_change ch = chg(CART_OP_ADD, sku, CART_QTY_MAX, CART_PRICE_MAX, true);
        cr_assert_eq(cart_apply(&c, &ch, 10000), CART_OK);
    }
    cr_assert_eq(c.n, 10000);
    cr_assert_eq(cart_total(&c), 10000LL * CART_QTY_MAX * CART_PRICE_MAX);
    struct cart_change ch = chg(CART_OP_ADD, "T", 1, 1, true);
    cr_assert_eq(cart_apply(&c, &ch, 10000), CART_FULL);
    cart_free(&c);
}

Test(cart, sku_validity)
{
    char s65[66], s64[65];

    memset(s65, 'a', 65);
    s65[65] = '\0';
    memset(s64, 'a', 64);
    s64[64] = '\0';
    cr_assert(cart_sku_valid("BOOK-42", 7));
    cr_assert(cart_sku_valid("a.b_c-D9", 8));
    cr_assert(cart_sku_valid(s64, 64));
    cr_assert_not(cart_sku_valid(s65, 65));
    cr_assert_not(cart_sku_valid("", 0));
    cr_assert_not(cart_sku_valid(NULL, 3));
    cr_assert_not(cart_sku_valid("a/b", 3));
    cr_assert_not(cart_sku_valid("a%2F", 4));
    cr_assert_not(cart_sku_valid("a b", 3));
    cr_assert_not(cart_sku_valid("a\0b", 3));
    cr_assert_not(cart_sku_valid("caf\xc3\xa9", 5));
    cr_assert_not(cart_sku_valid("a\"b", 3));
    cr_assert_not(cart_sku_valid("a\\b", 3));

    struct cart c;
    struct cart_change ch = chg(CART_OP_ADD, "x", 1, 1, true);
    cart_init(&c, "c1");
    memset(ch.sku, 'a', sizeof(ch.sku)); /* 65 chars, no terminator */
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_INVALID_SKU);
    memcpy(ch.sku, s64, sizeof(s64));
    cr_assert_eq(cart_apply(&c, &ch, 100), CART_OK);
    cart_free(&c);
}

Test(cart, copy_is_deep)
{
    struct cart a, b;

    cart_init(&a, "a");
    cart_init(&b, "b");
    cr_assert_eq(add(&a, "X", 2, 3), CART_OK);
    cr_assert_eq(add(&b, "Y", 1, 1), CART_OK);
    cr_assert_eq(cart_copy(&b, &a), CART_OK);
    assert_same(&a, &b);
    cr_assert_eq(add(&a, "Z", 1, 1), CART_OK);
    cr_assert_eq(b.n, 1);
    cr_assert_str_eq(b.items[0].sku, "X");
    cart_free(&a);
    cr_assert_eq(cart_find(&b, "X")->qty, 2);
    cart_free(&b);
}

Test(cart, push_and_sort)
{
    struct cart c;
    const char *skus[] = {"m", "b", "z", "a", "k"};

    cart_init(&c, "c1");
    for (int i = 0; i < 5; i++)
        cr_assert_eq(cart_push(&c, skus[i], i + 1, 10), CART_OK);
    cr_assert_eq(cart_push(&c, "bad sku", 1, 1), CART_INVALID_SKU);
    cr_assert_eq(cart_push(&c, "q", 0, 1), CART_QTY_RANGE);
    cr_assert_eq(cart_push(&c, "q", 1, -1), CART_PRICE_RANGE);
    cart_sort(&c);
    assert_sorted(&c);
    cr_assert_eq(c.n, 5);
    cr_assert_eq(c.version, 0, "push does not bump the version");
    cr_assert_eq(cart_find(&c, "z")->qty, 3);
    cr_assert_eq(cart_total(&c), (1 + 2 + 3 + 4 + 5) * 10);
    cart_free(&c);
}

Test(cart, status_names)
{
    cr_assert_str_eq(cart_status_name(CART_OK), "ok");
    cr_assert_str_eq(cart_status_name(CART_NO_ITEM), "no_such_item");
    cr_assert_str_eq(cart_status_name(CART_FULL), "cart_full");
    cr_assert_str_eq(cart_status_name(CART_QTY_RANGE), "qty_out_of_range");
    cr_assert_str_eq(cart_status_name(CART_PRICE_RANGE), "price_out_of_range");
    cr_assert_str_eq(cart_status_name(CART_INVALID_SKU), "invalid_sku");
    cr_assert_str_eq(cart_status_name(CART_CONFLICT), "version_conflict");
    cr_assert_str_eq(cart_status_name(CART_PRICE_REQUIRED), "price_required");
    cr_assert_str_eq(cart_status_name(CART_NOMEM), "out_of_memory");
}
