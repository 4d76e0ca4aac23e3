/* fuzz_cart: libFuzzer harness for the cart model (cart_apply and friends).
 * Input: one byte for max_items (1..16), then 8-byte records, each decoded
 * into one change (op, sku from a small set or an invalid one, qty and price
 * from edge values or raw bytes, If-Match none/current/stale). After every
 * change it checks the invariants: lines sorted and unique, within
 * max_items, qty 1..9999, price 0..1e9, version counting the accepted
 * changes, the total exact, a refused change leaving the cart as it was, and
 * cart_copy giving an equal cart. Single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cart.h"

#define REC 8

static const char *const skus[] = { "A", "B", "a", "Z-9", "x.y_z", "A0", "0",
    "SKU-0123456789012345678901234567890123456789012345678901234567890", /* 64 */
    "", "bad sku", "\xc3\xa9", "A/B" };

static const int64_t nums[] = { 0, 1, 2, -1, 9998, 9999, 10000, 1000000000, 1000000001,
                                INT64_MAX, INT64_MIN, 5000 };

/* Abort when cond is false: a finding for libFuzzer. */
static void need(int cond)
{
    if (!cond)
        abort();
}

/* A number from two bytes: an edge value, or a raw small one. */
static int64_t num(uint8_t sel, uint8_t raw)
{
    size_t n = sizeof nums / sizeof nums[0];
    return sel < n ? nums[sel] : (int64_t)raw * (sel & 1 ? 1 : 41);
}

/* Decode one record into a change, against the cart's current version. */
static void decode(const uint8_t *r, const struct cart *c, struct cart_change *chg)
{
    memset(chg, 0, sizeof *chg);
    chg->op = (enum cart_op)(r[0] % 4);          /* 3 is not an op: must be refused */
    const char *sku = skus[r[1] % (sizeof skus / sizeof skus[0])];
    memcpy(chg->sku, sku, strnlen(sku, CART_SKU_MAX));
    chg->qty = num(r[2] % 24, r[3]);
    chg->has_price = r[4] & 1;
    chg->price = num(r[5] % 24, r[6]);
    uint8_t m = r[7] % 4;
    chg->if_match = cart_match_one(m == 0 ? -1 : m == 1 ? c->version : m == 2 ? c->version + 1
                                                                  : c->version - 1);
}

/* The model's invariants on one cart. */
static void check_cart(const struct cart *c, size_t max_items)
{
    __int128 total = 0;
    need(c->n <= max_items && c->n <= c->cap && (c->n == 0 || c->items));
    for (size_t i = 0; i < c->n; i++) {
        const struct cart_item *it = &c->items[i];
        need(memchr(it->sku, '\0', sizeof it->sku) != NULL);
        need(cart_sku_valid(it->sku, strlen(it->sku)));
        need(it->qty >= 1 && it->qty <= CART_QTY_MAX);
        need(it->unit_price_cents >= 0 && it->unit_price_cents <= CART_PRICE_MAX);
        need(i == 0 || strcmp(c->items[i - 1].sku, it->sku) < 0);
        need(cart_find(c, it->sku) == it);
        total += (__int128)it->qty * it->unit_price_cents;
    }
    need(cart_total(c) == (int64_t)total);
}

/* Two carts hold the same id, version and lines. */
static int same(const struct cart *a, const struct cart *b)
{
    return !strcmp(a->id, b->id) && a->version == b->version && a->n == b->n &&
           (a->n == 0 || !memcmp(a->items, b->items, a->n * sizeof a->items[0]));
}

/* libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max_items = 1 + data[0] % 16;
    struct cart c, snap;
    cart_init(&c, "fuzz-cart");
    cart_init(&snap, "");
    int64_t accepted = 0;
    for (size_t off = 1; off + REC <= size; off += REC) {
        struct cart_change chg;
        decode(data + off, &c, &chg);
        need(cart_copy(&snap, &c) == CART_OK && same(&snap, &c));
        enum cart_status st = cart_apply(&c, &chg, max_items);
        need(st >= CART_OK && st <= CART_NOMEM);
        need(cart_status_name(st)[0] != '\0');
        if (st == CART_OK) {
            accepted++;
            need(chg.op <= CART_OP_REMOVE);
            const struct cart_item *it = cart_find(&c, chg.sku);
            if (chg.op == CART_OP_REMOVE || (chg.op == CART_OP_SET && chg.qty == 0))
                need(it == NULL && c.n + 1 == snap.n);
            else
                need(it != NULL && (!chg.has_price || it->unit_price_cents == chg.price));
            if (chg.op == CART_OP_SET && chg.qty > 0)
                need(it->qty == chg.qty);
        } else {
            need(same(&snap, &c));
            if (st == CART_FULL)
                need(c.n == max_items);
        }
        need(c.version == accepted);
        check_cart(&c, max_items);
    }
    cart_free(&c);
    cart_free(&snap);
    return 0;
}
