/* Unit tests of cblob, the compact cart encoding: round trips, the extra
 * section, and refusal of every malformed blob. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cblob.h"

/* A cart with n lines SKU-00.., qty i+1, price 100*i. */
static void mk(struct cart *c, const char *id, size_t n, int64_t version)
{
    cart_init(c, id);
    for (size_t i = 0; i < n; i++) {
        char sku[32];
        snprintf(sku, sizeof sku, "SKU-%02u", (unsigned)(i % 100));
        cr_assert_eq(cart_push(c, sku, (int64_t)i + 1, 100 * (int64_t)i), CART_OK);
    }
    c->version = version;
}

Test(cblob, round_trip)
{
    struct cart c, d = {0};
    size_t len;
    const unsigned char *ext;
    size_t extlen;
    mk(&c, "k3-AAAAAAAAAAAAAAAAAAAAAA", 10, 12345);
    unsigned char *b = cblob_encode(&c, "xyz", 3, &len);
    cr_assert_not_null(b);
    cr_expect_eq(len, cblob_size(&c, 3));
    cr_expect_lt(len, 200, "a 10-line cart takes %zu bytes", len);
    cr_assert_eq(cblob_decode(b, len, &d, &ext, &extlen), CBLOB_OK);
    cr_expect_str_eq(d.id, c.id);
    cr_expect_eq(d.version, 12345);
    cr_assert_eq(d.n, 10);
    for (size_t i = 0; i < d.n; i++) {
        cr_expect_str_eq(d.items[i].sku, c.items[i].sku);
        cr_expect_eq(d.items[i].qty, c.items[i].qty);
        cr_expect_eq(d.items[i].unit_price_cents, c.items[i].unit_price_cents);
    }
    cr_expect_eq(extlen, 3);
    cr_expect(memcmp(ext, "xyz", 3) == 0);
    char id[CART_ID_MAX + 1];
    cr_expect(cblob_id(b, len, id));
    cr_expect_str_eq(id, c.id);
    free(b);
    cart_free(&c);
    cart_free(&d);
}

Test(cblob, empty_cart_and_limits)
{
    struct cart c, d = {0};
    size_t len;
    cart_init(&c, "x");
    cr_assert_eq(cart_push(&c, "A", CART_QTY_MAX, CART_PRICE_MAX), CART_OK);
    c.version = INT64_MAX;
    unsigned char *b = cblob_encode(&c, NULL, 0, &len);
    cr_assert_eq(cblob_decode(b, len, &d, NULL, NULL), CBLOB_OK);
    cr_expect_eq(d.version, INT64_MAX);
    cr_expect_eq(d.items[0].qty, CART_QTY_MAX);
    cr_expect_eq(d.items[0].unit_price_cents, CART_PRICE_MAX);
    free(b);
    cart_free(&c);
    cart_free(&d);
}

/* Decode must refuse bytes and leave a usable, empty cart. */
static void refused(const unsigned char *b, size_t len, const char *why)
{
    struct cart d = {0};
    cr_expect_eq(cblob_decode(b, len, &d, NULL, NULL), CBLOB_BAD, "%s", why);
    cr_expect_eq(d.n, 0, "%s: lines left behind", why);
    cart_free(&d);
}

Test(cblob, malformed_blobs_are_refused)
{
    struct cart c;
    size_t len;
    mk(&c, "id1", 2, 7);
    unsigned char *b = cblob_encode(&c, NULL, 0, &len);
    for (size_t cut = 0; cut < len; cut++)
        refused(b, cut, "truncated");
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, b, len);
    longer[len] = 0;
    refused(longer, len + 1, "a trailing byte");
    free(longer);
    static const unsigned char bad_id[] = {3, 'a', '/', 'b', 0, 0, 0};
    refused(bad_id, sizeof bad_id, "an id with '/'");
    static const unsigned char unsorted[] = {1, 'i', 0, 2, 1, 'B', 1, 0, 1, 'A', 1, 0, 0};
    refused(unsorted, sizeof unsorted, "lines out of order");
    static const unsigned char dup[] = {1, 'i', 0, 2, 1, 'A', 1, 0, 1, 'A', 1, 0, 0};
    refused(dup, sizeof dup, "a repeated sku");
    static const unsigned char qty0[] = {1, 'i', 0, 1, 1, 'A', 0, 0, 0};
    refused(qty0, sizeof qty0, "qty 0");
    static const unsigned char qtybig[] = {1, 'i', 0, 1, 1, 'A', 0x90, 0x4e, 0, 0};
    refused(qtybig, sizeof qtybig, "qty 10000");
    static const unsigned char longform[] = {1, 'i', 0x80, 0x00, 0, 0};
    refused(longform, sizeof longform, "a varint not in its shortest form");
    static const unsigned char overlimit[] = {1, 'i', 0, 0x91, 0x4e, 0};
    refused(overlimit, sizeof overlimit, "10001 lines, past CBLOB_MAX_LINES");
    /* 200 lines (within CBLOB_MAX_LINES) declared with 5 bytes left after
     * the count: one real line and the extra's length. */
    static const unsigned char manylines[] = {1, 'i', 0, 0xc8, 0x01, 1, 'A', 1, 0, 0};
    _Static_assert(200 < CBLOB_MAX_LINES && 200 > sizeof manylines - 5,
                   "the case must pass the line limit and fail the byte check");
    refused(manylines, sizeof manylines, "more lines than bytes");
    free(b);
    cart_free(&c);
}

Test(cblob, varints)
{
    unsigned char buf[10];
    const uint64_t vals[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX, UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        size_t n = cblob_put_varint(buf, vals[i]);
        const unsigned char *p = buf;
        uint64_t v;
        cr_assert(cblob_get_varint(&p, buf + n, &v));
        cr_expect_eq(v, vals[i]);
        cr_expect_eq(p, buf + n);
        p = buf;
        if (n > 1)
            cr_expect_not(cblob_get_varint(&p, buf + n - 1, &v), "truncated");
    }
}

Test(cblob, split_and_join_move_the_extra)
{
    struct cart c;
    size_t len, head, extlen, len2, len3;
    const unsigned char *ext;
    mk(&c, "k3-AAAAAAAAAAAAAAAAAAAAAA", 4, 7);
    unsigned char *b = cblob_encode(&c, "record", 6, &len);
    unsigned char *bare = cblob_encode(&c, NULL, 0, &len2);
    cr_assert(cblob_split(b, len, &head, &ext, &extlen));
    cr_expect_eq(extlen, 6);
    cr_expect(memcmp(ext, "record", 6) == 0);
    unsigned char *j = cblob_join(b, head, NULL, 0, &len3);
    cr_assert_eq(len3, len2, "joined without its extra: the bare cart");
    cr_expect(memcmp(j, bare, len2) == 0);
    free(j);
    j = cblob_join(bare, head, "record", 6, &len3);
    cr_assert_eq(len3, len);
    cr_expect(memcmp(j, b, len) == 0, "joined with it: the first blob again");
    for (size_t cut = 0; cut < len; cut++)
        cr_expect_not(cblob_split(b, cut, &head, &ext, &extlen), "cut at %zu", cut);
    free(j);
    free(b);
    free(bare);
    cart_free(&c);
}
