/* fuzz_rscript: libFuzzer harness for stateless-svc's Redis reply decoding
 * (rreply_decode, rreply_error). Input bytes are read as a redisReply tree:
 * each node is a type byte, then for strings a length byte and either a
 * token from a table (ok, rej, v, s:<sku>, "<qty> <price>", reasons) or raw
 * bytes, for arrays a count byte and the elements (depth and size bounded).
 * Checks that decoding never crashes or leaks, that a decoded cart is sane
 * (sorted unique valid lines, in-range values, version >= 0, expires_in the
 * ttl passed), and that the output cart is untouched when decoding fails.
 * A cart's fields come as an array or as one string joined by newlines.
 * Single-threaded. */
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rreply.h"
#include "rscript.h"

#define MAX_DEPTH 4
#define MAX_ELEMS 24

struct in {
    const uint8_t *p;
    size_t n;
};

static const char *const tokens[] = {
    "ok", "rej", "v", "0", "1", "42", "s:A", "s:B", "s:a", "s:A", "1 100", "9999 1000000000",
    "0 5", "10000 1", "1 1000000001", "not_found", "exists", "cart_full", "version_conflict",
    "no_such_item", "qty_out_of_range", "price_out_of_range", "price_required",
    "invalid_sku", "s:", "s:bad sku", "123456789012345678", "1234567890123456789", "",
    "1  2", "-1 5", "LOADING x", "BUSY", "ERR boom", "replay", "v\n1", "v\n3\ns:A\n1 100",
    "v\n1\ns:A\n1 1\ns:A\n2 2", "v\n1\n", "\n",
};

/* Abort when cond is false: a finding for libFuzzer. */
static void need(int cond)
{
    if (!cond)
        abort();
}

/* Next input byte, or 0 when the input is used up. */
static uint8_t next(struct in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* Free a tree built by build. */
static void drop(redisReply *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->elements; i++)
        drop(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

/* A string node: a token, or up to 63 raw bytes; str is NUL-terminated as hiredis does. */
static void fill_str(redisReply *r, struct in *in)
{
    uint8_t sel = next(in);
    size_t nt = sizeof tokens / sizeof tokens[0];
    char raw[64];
    const char *s = raw;
    size_t len;
    if (sel < 128) {
        s = tokens[sel % nt];
        len = strlen(s);
    } else {
        len = (size_t)(sel - 128) % sizeof raw;
        for (size_t i = 0; i < len; i++)
            raw[i] = (char)next(in);
    }
    r->str = malloc(len + 1);
    need(r->str != NULL);
    memcpy(r->str, s, len);
    r->str[len] = '\0';
    r->len = len;
}

/* Build one node (and its children) from the input. */
static redisReply *build(struct in *in, int depth)
{
    uint8_t t = next(in);
    if (t % 8 == 7)
        return NULL;                  /* a NULL element: must be refused, not followed */
    redisReply *r = calloc(1, sizeof *r);
    need(r != NULL);
    switch (t % 8) {
    case 0: case 1: case 2:
        r->type = REDIS_REPLY_STRING;
        fill_str(r, in);
        break;
    case 3: case 4:
        r->type = REDIS_REPLY_ARRAY;
        if (depth >= MAX_DEPTH)
            break;
        r->elements = next(in) % MAX_ELEMS;
        r->element = calloc(r->elements ? r->elements : 1, sizeof *r->element);
        need(r->element != NULL);
        for (size_t i = 0; i < r->elements; i++)
            r->element[i] = build(in, depth + 1);
        break;
    case 5:
        r->type = REDIS_REPLY_INTEGER;
        r->integer = (long long)next(in) - 128;
        break;
    default:
        r->type = t & 8 ? REDIS_REPLY_NIL : REDIS_REPLY_STATUS;
        if (r->type == REDIS_REPLY_STATUS)
            fill_str(r, in);
        break;
    }
    return r;
}

/* The decoded cart's invariants. */
static void check_cart(const struct cart *c, int ttl)
{
    need(c->version >= 0 && c->expires_in == ttl && !strcmp(c->id, "k3-fuzz"));
    for (size_t i = 0; i < c->n; i++) {
        const struct cart_item *it = &c->items[i];
        need(cart_sku_valid(it->sku, strnlen(it->sku, sizeof it->sku)));
        need(it->qty >= 1 && it->qty <= CART_QTY_MAX);
        need(it->unit_price_cents >= 0 && it->unit_price_cents <= CART_PRICE_MAX);
        need(i == 0 || strcmp(c->items[i - 1].sku, it->sku) < 0);
    }
}

/* libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = { data, size };
    int mode = next(&in) % 3;
    redisReply *r = build(&in, 0);
    char err[128] = "";
    enum cart_status cst = CART_OK;
    struct cart out;
    cart_init(&out, "k3-fuzz");
    out.version = 77;
    enum store_status st;
    if (mode == 2 && r && (r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STATUS)) {
        r->type = REDIS_REPLY_ERROR;
        st = rreply_error(r, err, sizeof err);
        need(st == STORE_UNAVAILABLE || st == STORE_ERROR);
    } else {
        st = rreply_decode(r, "k3-fuzz", 1800, mode == 0 ? &out : NULL,
                            mode == 0 ? &cst : NULL, err, sizeof err);
        need(st == STORE_OK || st == STORE_NOT_FOUND || st == STORE_EXISTS ||
             st == STORE_REJECTED || st == STORE_ERROR);
        if (st == STORE_OK && mode == 0)
            check_cart(&out, 1800);
        else
            need(out.version == 77 && out.n == 0);
        if (st == STORE_REJECTED)
            need(mode == 0 && cst > CART_OK && cst <= CART_CONFLICT);
        if (st == STORE_ERROR)
            need(err[0] != '\0');
    }
    need(memchr(err, '\0', sizeof err) != NULL);
    cart_free(&out);
    drop(r);
    return 0;
}
