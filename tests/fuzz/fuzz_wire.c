/* fuzz_wire: libFuzzer harness for JSON body decoding and validation
 * (wire_parse_add, wire_parse_set, wire_parse_create) and error encoding.
 * Input: one byte choosing the parser, then the body (for set, the bytes up
 * to the first '\n' are the path's sku). Checks that a decoded change is
 * well-formed (valid NUL-terminated sku, no If-Match, op right), that a
 * refusal leaves the output untouched, and that an error body built from
 * arbitrary bytes is valid JSON. Single-threaded. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* Abort when cond is false: a finding for libFuzzer. */
static void need(int cond)
{
    if (!cond)
        abort();
}

/* Check a decoded change and whether the output was left alone on refusal. */
static void check(enum wire_status st, const struct cart_change *chg,
                  const struct cart_change *before, enum cart_op op)
{
    need(st >= WIRE_OK && st <= WIRE_INVALID_SKU);
    if (st != WIRE_OK) {
        need(memcmp(chg, before, sizeof *chg) == 0);
        return;
    }
    need(chg->op == op && !chg->if_match.set);
    need(memchr(chg->sku, '\0', sizeof chg->sku) != NULL);
    need(cart_sku_valid(chg->sku, strlen(chg->sku)));
}

/* The error encoder must give valid JSON for any message bytes. */
static void check_error_json(const char *msg)
{
    size_t len = 0;
    char *s = wire_error_json("invalid_json", msg, msg, &len);
    need(s != NULL);
    json_t *j = json_loadb(s, len, 0, NULL);
    need(j != NULL && json_is_object(json_object_get(j, "error")));
    json_decref(j);
    free(s);
}

/* libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    const char *body = buf;
    size_t len = size - 1;
    char err[160] = "";
    struct cart_change chg, before;
    memset(&chg, 0xa5, sizeof chg);
    before = chg;
    enum wire_status st;
    switch (data[0] % 4) {
    case 0:
        st = wire_parse_add(body, len, &chg, err, sizeof err);
        check(st, &chg, &before, CART_OP_ADD);
        break;
    case 1: {
        char *nl = memchr(buf, '\n', len);
        const char *sku = "SKU-1";
        if (nl) {
            *nl = '\0';
            sku = buf;
            body = nl + 1;
            len -= (size_t)(body - buf);
        }
        st = wire_parse_set(body, len, sku, &chg, err, sizeof err);
        check(st, &chg, &before, CART_OP_SET);
        break;
    }
    case 2:
        st = wire_parse_create(body, len, err, sizeof err);
        need(st == WIRE_OK || st == WIRE_INVALID_JSON || st == WIRE_UNKNOWN_FIELD);
        break;
    default:
        check_error_json(buf);
        break;
    }
    need(memchr(err, '\0', sizeof err) != NULL);
    free(buf);
    return 0;
}
