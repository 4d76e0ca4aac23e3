/* Unit tests of the wire format: body decoding (400 class) and JSON encoding. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wire.h"

static char err[256];

/* parse_add over a NUL-terminated body. */
static enum wire_status add(const char *body, struct cart_change *out)
{
    return wire_parse_add(body, strlen(body), out, err, sizeof(err));
}

/* parse_set over a NUL-terminated body. */
static enum wire_status set(const char *body, const char *sku, struct cart_change *out)
{
    return wire_parse_set(body, strlen(body), sku, out, err, sizeof(err));
}

/* Expect status st for every body; out must stay untouched on failure. */
static void expect_add(const char *const *bodies, size_t n, enum wire_status st)
{
    for (size_t i = 0; i < n; i++) {
        struct cart_change out, sentinel;

        memset(&out, 0x5a, sizeof(out));
        sentinel = out;
        cr_assert_eq(add(bodies[i], &out), st, "body %s: want %s", bodies[i],
                     wire_status_name(st));
        cr_assert_neq(err[0], '\0', "body %s: an error message", bodies[i]);
        cr_assert_eq(memcmp(&out, &sentinel, sizeof(out)), 0);
    }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

Test(wire, add_ok)
{
    struct cart_change c;

    cr_assert_eq(add("{\"sku\":\"BOOK-42\",\"qty\":2,\"unit_price_cents\":1999}", &c), WIRE_OK);
    cr_assert_eq(c.op, CART_OP_ADD);
    cr_assert_str_eq(c.sku, "BOOK-42");
    cr_assert_eq(c.qty, 2);
    cr_assert(c.has_price);
    cr_assert_eq(c.price, 1999);
    cr_assert_not(c.if_match.set);
    cr_assert_eq(add(" \n{ \"qty\" : 1 , \"sku\" : \"a\" }\r\n\t", &c), WIRE_OK);
    cr_assert_not(c.has_price);
    cr_assert_str_eq(c.sku, "a");
    cr_assert_not(c.if_match.set);
}

Test(wire, add_passes_ranges_through)
{
    struct cart_change c;

    cr_assert_eq(add("{\"sku\":\"a\",\"qty\":-5,\"unit_price_cents\":-1}", &c), WIRE_OK);
    cr_assert_eq(c.qty, -5);
    cr_assert_eq(c.price, -1);
    cr_assert_eq(add("{\"sku\":\"a\",\"qty\":0,\"unit_price_cents\":1000000001}", &c), WIRE_OK);
    cr_assert_eq(c.price, 1000000001LL);
    cr_assert_eq(add("{\"sku\":\"a\",\"qty\":9223372036854775807}", &c), WIRE_OK);
    cr_assert_eq(c.qty, INT64_MAX);
    cr_assert_eq(add("{\"sku\":\"a\",\"qty\":-9223372036854775808}", &c), WIRE_OK);
    cr_assert_eq(c.qty, INT64_MIN);
}

Test(wire, add_sku_edges)
{
    struct cart_change c;
    char body[256], s64[65];

    memset(s64, 'x', 64);
    s64[64] = '\0';
    snprintf(body, sizeof(body), "{\"sku\":\"%s\",\"qty\":1}", s64);
    cr_assert_eq(add(body, &c), WIRE_OK);
    cr_assert_str_eq(c.sku, s64);
    snprintf(body, sizeof(body), "{\"sku\":\"%sx\",\"qty\":1}", s64);
    cr_assert_eq(add(body, &c), WIRE_INVALID_SKU);
    cr_assert_eq(add("{\"sku\":\"A.b_c-9\",\"qty\":1}", &c), WIRE_OK);
    cr_assert_eq(add("{\"sku\":\"\\u0041\",\"qty\":1}", &c), WIRE_OK, "escapes decode first");
    cr_assert_str_eq(c.sku, "A");
}

Test(wire, add_invalid_json)
{
    static const char *const bodies[] = {
        "", "   ", "not json", "[1]", "[]", "\"str\"", "42", "null", "true", "{",
        "{\"sku\":\"a\",\"qty\":1", "{\"sku\":\"a\",\"qty\":1}x", "{\"sku\":\"a\",\"qty\":1} {}",
        "{\"sku\":\"a\",\"qty\":1}}", "{\"sku\":\"a\",\"sku\":\"b\",\"qty\":1}",
        "{\"sku\":\"a\",\"qty\":1,\"qty\":1}", "{sku:\"a\",\"qty\":1}", "{'sku':'a','qty':1}",
        "{\"sku\":\"a\",\"qty\":01}", "{\"sku\":\"a\",\"qty\":+1}", "{\"sku\":\"a\",\"qty\":1,}",
        "{\"sku\":\"a\",\"qty\":NaN}", "{\"sku\":\"a\",\"qty\":Infinity}",
        "{\"sku\":\"caf\xc3\",\"qty\":1}", "{\"s\\u0000ku\":\"a\",\"qty\":1}",
        "{\"sku\":\"a\",\"qty\":0x10}", "// c\n{\"sku\":\"a\",\"qty\":1}",
    };

    expect_add(bodies, N(bodies), WIRE_INVALID_JSON);
}

Test(wire, add_raw_nul_byte_and_len)
{
    struct cart_change c;
    const char body[] = "{\"sku\":\"a\",\"qty\":1}\0{}";
    const char mid[] = "{\"sku\":\"a\0b\",\"qty\":1}";

    cr_assert_eq(wire_parse_add(body, sizeof(body) - 1, &c, err, sizeof(err)), WIRE_INVALID_JSON);
    cr_assert_eq(wire_parse_add(body, strlen(body), &c, err, sizeof(err)), WIRE_OK,
                 "len bounds the body");
    cr_assert_eq(wire_parse_add(mid, sizeof(mid) - 1, &c, err, sizeof(err)), WIRE_INVALID_JSON);
    cr_assert_eq(wire_parse_add("{\"sku\":\"a\",\"qty\":12}", 17, &c, err, sizeof(err)),
                 WIRE_INVALID_JSON, "a truncated body");
    cr_assert_eq(wire_parse_add(NULL, 0, &c, err, sizeof(err)), WIRE_INVALID_JSON);
    cr_assert_eq(wire_parse_add("{}", 2, &c, NULL, 0), WIRE_INVALID_FIELD, "err may be NULL");
}

Test(wire, add_too_large_numbers)
{
    static const char *const bodies[] = {
        "{\"sku\":\"a\",\"qty\":99999999999999999999}",
        "{\"sku\":\"a\",\"qty\":9223372036854775808}",
        "{\"sku\":\"a\",\"qty\":-9223372036854775809}",
        "{\"sku\":\"a\",\"qty\":1,\"unit_price_cents\":100000000000000000000000000000}",
        "{\"sku\":\"a\",\"qty\":1e400}",
    };

    expect_add(bodies, N(bodies), WIRE_INVALID_JSON);
    for (size_t i = 0; i < N(bodies); i++) {
        struct cart_change c;

        add(bodies[i], &c);
        cr_assert(strstr(err, "too large") != NULL, "%s: message %s", bodies[i], err);
    }
}

Test(wire, add_invalid_field)
{
    static const char *const bodies[] = {
        "{}", "{\"sku\":\"a\"}", "{\"qty\":1}", "{\"qty\":1,\"unit_price_cents\":5}",
        "{\"sku\":\"a\",\"qty\":\"2\"}", "{\"sku\":\"a\",\"qty\":true}",
        "{\"sku\":\"a\",\"qty\":false}", "{\"sku\":\"a\",\"qty\":1.5}",
        "{\"sku\":\"a\",\"qty\":2.0}", "{\"sku\":\"a\",\"qty\":1e30}", "{\"sku\":\"a\",\"qty\":1e0}",
        "{\"sku\":\"a\",\"qty\":null}", "{\"sku\":\"a\",\"qty\":[1]}",
        "{\"sku\":\"a\",\"qty\":{\"n\":1}}", "{\"sku\":5,\"qty\":1}", "{\"sku\":null,\"qty\":1}",
        "{\"sku\":[\"a\"],\"qty\":1}", "{\"sku\":{\"id\":\"a\"},\"qty\":1}",
        "{\"sku\":true,\"qty\":1}", "{\"sku\":\"a\",\"qty\":1,\"unit_price_cents\":\"5\"}",
        "{\"sku\":\"a\",\"qty\":1,\"unit_price_cents\":9.99}",
        "{\"sku\":\"a\",\"qty\":1,\"unit_price_cents\":null}",
        "{\"sku\":\"a\",\"qty\":1,\"unit_price_cents\":true}",
        "{\"sku\":\"a\",\"qty\":1,\"unit_price_cents\":-0.0}",
    };

    expect_add(bodies, N(bodies), WIRE_INVALID_FIELD);
}

Test(wire, add_messages_name_the_field)
{
    struct cart_change c;

    cr_assert_eq(add("{\"sku\":\"a\",\"qty\":true}", &c), WIRE_INVALID_FIELD);
    cr_assert_str_eq(err, "field 'qty' must be an integer");
    cr_assert_eq(add("{\"sku\":\"a\",\"qty\":1,\"unit_price_cents\":1.5}", &c),
                 WIRE_INVALID_FIELD);
    cr_assert(strstr(err, "'unit_price_cents'") != NULL, "%s", err);
    cr_assert_eq(add("{\"sku\":\"a\"}", &c), WIRE_INVALID_FIELD);
    cr_assert(strstr(err, "'qty'") && strstr(err, "required"), "%s", err);
    cr_assert_eq(add("{\"qty\":1}", &c), WIRE_INVALID_FIELD);
    cr_assert(strstr(err, "'sku'") != NULL, "%s", err);
    cr_assert_eq(add("{\"sku\":\"a\",\"qty\":1,\"colour\":\"red\"}", &c), WIRE_UNKNOWN_FIELD);
    cr_assert(strstr(err, "'colour'") != NULL, "%s", err);
    cr_assert_eq(add("{\"sku\":\"a\",\"qty\":1,\"qty\":2}", &c), WIRE_INVALID_JSON);
    cr_assert(strstr(err, "duplicate") != NULL, "%s", err);
}

Test(wire, add_unknown_field)
{
    static const char *const bodies[] = {
        "{\"sku\":\"a\",\"qty\":1,\"colour\":\"red\"}", "{\"SKU\":\"a\",\"qty\":1}",
        "{\"sku\":\"a\",\"qty\":1,\"meta\":{\"sku\":\"b\"}}", "{\"id\":\"x\"}",
        "{\"sku\":\"a\",\"qty\":1,\"\":0}", "{\"sku\":\"a\",\"qty\":1,\"unit_price\":5}",
        "{\"sku\":\"bad/sku\",\"qty\":\"x\",\"extra\":1}",
    };

    expect_add(bodies, N(bodies), WIRE_UNKNOWN_FIELD);
}

Test(wire, add_invalid_sku)
{
    static const char *const bodies[] = {
        "{\"sku\":\"\",\"qty\":1}", "{\"sku\":\"a/b\",\"qty\":1}", "{\"sku\":\"a%2Fb\",\"qty\":1}",
        "{\"sku\":\"a b\",\"qty\":1}", "{\"sku\":\"a\\u0000b\",\"qty\":1}",
        "{\"sku\":\"a\\u0000\",\"qty\":1}", "{\"sku\":\"caf\xc3\xa9\",\"qty\":1}",
        "{\"sku\":\"\\u00e9\",\"qty\":1}", "{\"sku\":\"\\ud83d\\ude00\",\"qty\":1}",
        "{\"sku\":\"a\\\"b\",\"qty\":1}", "{\"sku\":\"a\\nb\",\"qty\":1}",
        "{\"sku\":\"..\\/x\",\"qty\":1}", "{\"sku\":\"a?b\",\"qty\":1}",
    };

    expect_add(bodies, N(bodies), WIRE_INVALID_SKU);
}

Test(wire, set_ok_and_errors)
{
    struct cart_change c;

    cr_assert_eq(set("{\"qty\":0}", "BOOK-42", &c), WIRE_OK);
    cr_assert_eq(c.op, CART_OP_SET);
    cr_assert_str_eq(c.sku, "BOOK-42");
    cr_assert_eq(c.qty, 0);
    cr_assert_not(c.has_price);
    cr_assert_not(c.if_match.set);
    cr_assert_eq(set("{\"qty\":3,\"unit_price_cents\":0}", "x", &c), WIRE_OK);
    cr_assert(c.has_price);
    cr_assert_eq(c.price, 0);
    cr_assert_eq(set("{\"qty\":1,\"sku\":\"x\"}", "x", &c), WIRE_UNKNOWN_FIELD,
                 "the sku comes from the path only");
    cr_assert_eq(set("{}", "x", &c), WIRE_INVALID_FIELD);
    cr_assert_eq(set("{\"qty\":\"1\"}", "x", &c), WIRE_INVALID_FIELD);
    cr_assert_eq(set("{\"qty\":1.0}", "x", &c), WIRE_INVALID_FIELD);
    cr_assert_eq(set("[{\"qty\":1}]", "x", &c), WIRE_INVALID_JSON);
    cr_assert_eq(set("{\"qty\":1}garbage", "x", &c), WIRE_INVALID_JSON);
    cr_assert_eq(set("{\"qty\":1,\"qty\":2}", "x", &c), WIRE_INVALID_JSON);
    cr_assert_eq(set("{\"qty\":1e30}", "x", &c), WIRE_INVALID_FIELD);
    cr_assert_eq(set("{\"qty\":99999999999999999999}", "x", &c), WIRE_INVALID_JSON);
    cr_assert_eq(set("{\"qty\":1}", "a/b", &c), WIRE_INVALID_SKU);
    cr_assert_eq(set("{\"qty\":1}", "", &c), WIRE_INVALID_SKU);
    cr_assert_eq(set("{\"qty\":1}", "caf\xc3\xa9", &c), WIRE_INVALID_SKU);
    cr_assert_eq(set("{\"qty\":1}", NULL, &c), WIRE_INVALID_SKU);
    char s65[66];
    memset(s65, 'k', 65);
    s65[65] = '\0';
    cr_assert_eq(set("{\"qty\":1}", s65, &c), WIRE_INVALID_SKU);
    s65[64] = '\0';
    cr_assert_eq(set("{\"qty\":1}", s65, &c), WIRE_OK);
    cr_assert_str_eq(c.sku, s65);
}

Test(wire, create)
{
    static const struct { const char *body; enum wire_status st; } cases[] = {
        {"", WIRE_OK}, {"  \r\n\t", WIRE_OK}, {"{}", WIRE_OK}, {" { } \n", WIRE_OK},
        {"{\"a\":1}", WIRE_UNKNOWN_FIELD}, {"{\"sku\":\"x\",\"qty\":1}", WIRE_UNKNOWN_FIELD},
        {"[]", WIRE_INVALID_JSON}, {"null", WIRE_INVALID_JSON}, {"x", WIRE_INVALID_JSON},
        {"{}{}", WIRE_INVALID_JSON}, {"{}x", WIRE_INVALID_JSON}, {"{", WIRE_INVALID_JSON},
        {"0", WIRE_INVALID_JSON}, {"\"\"", WIRE_INVALID_JSON},
        {"{\"a\":1,\"a\":2}", WIRE_INVALID_JSON},
    };

    for (size_t i = 0; i < N(cases); i++)
        cr_assert_eq(wire_parse_create(cases[i].body, strlen(cases[i].body), err, sizeof(err)),
                     cases[i].st, "body '%s'", cases[i].body);
    cr_assert_eq(wire_parse_create(NULL, 0, err, sizeof(err)), WIRE_OK);
    cr_assert_eq(wire_parse_create("\0", 1, err, sizeof(err)), WIRE_INVALID_JSON);
    cr_assert_eq(wire_parse_create("{\"owner\":1}", 11, err, sizeof(err)), WIRE_UNKNOWN_FIELD);
    cr_assert(strstr(err, "'owner'") != NULL, "%s", err);
}

/* Build a cart with n lines named with a prefix. */
static void make_cart(struct cart *c, const char *id, size_t n)
{
    cart_init(c, id);
    for (size_t i = 0; i < n; i++) {
        char sku[16];

        snprintf(sku, sizeof(sku), "SKU-%04zu", n - i);
        cr_assert_eq(cart_push(c, sku, (int64_t)(i % CART_QTY_MAX) + 1,
                               (int64_t)i * 1000 + 7), CART_OK);
    }
    cart_sort(c);
}

Test(wire, cart_json_exact)
{
    struct cart c;
    size_t len = 0;
    char *s;

    cart_init(&c, "k3-9f2c");
    c.version = 3;
    c.expires_in = 1800;
    cr_assert_eq(cart_push(&c, "BOOK-42", 2, 1999), CART_OK);
    s = wire_cart_json(&c, &len);
    cr_assert_not_null(s);
    cr_assert_str_eq(s, "{\"id\":\"k3-9f2c\",\"version\":3,\"items\":[{\"sku\":\"BOOK-42\","
                        "\"qty\":2,\"unit_price_cents\":1999}],\"total_cents\":3998,"
                        "\"expires_in\":1800}");
    cr_assert_eq(len, strlen(s));
    free(s);
    cart_free(&c);
    cart_init(&c, "empty");
    s = wire_cart_json(&c, NULL);
    cr_assert_str_eq(s, "{\"id\":\"empty\",\"version\":0,\"items\":[],\"total_cents\":0,"
                        "\"expires_in\":0}");
    free(s);
    cart_free(&c);
}

Test(wire, cart_json_round_trip)
{
    static const char *const keys[] = {"id", "version", "items", "total_cents", "expires_in"};
    struct cart c;
    size_t len = 0;
    char *s;
    json_t *root, *items;
    json_error_t je;
    const char *key;
    json_t *val;
    size_t k = 0;

    make_cart(&c, "abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789", 250);
    c.version = INT64_MAX;
    c.expires_in = 1;
    s = wire_cart_json(&c, &len);
    cr_assert_not_null(s);
    cr_assert_eq(len, strlen(s));
    root = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
    cr_assert_not_null(root, "%s", je.text);
    json_object_foreach(root, key, val) {
        cr_assert_lt(k, N(keys));
        cr_assert_str_eq(key, keys[k], "key %zu in order", k);
        k++;
    }
    cr_assert_eq(k, N(keys));
    cr_assert_str_eq(json_string_value(json_object_get(root, "id")), c.id);
    cr_assert_eq(json_integer_value(json_object_get(root, "version")), INT64_MAX);
    cr_assert_eq(json_integer_value(json_object_get(root, "total_cents")), cart_total(&c));
    cr_assert_eq(json_integer_value(json_object_get(root, "expires_in")), 1);
    items = json_object_get(root, "items");
    cr_assert_eq(json_array_size(items), c.n);
    for (size_t i = 0; i < c.n; i++) {
        json_t *it = json_array_get(items, i);

        cr_assert_eq(json_object_size(it), 3);
        cr_assert_str_eq(json_string_value(json_object_get(it, "sku")), c.items[i].sku);
        cr_assert_eq(json_integer_value(json_object_get(it, "qty")), c.items[i].qty);
        cr_assert_eq(json_integer_value(json_object_get(it, "unit_price_cents")),
                     c.items[i].unit_price_cents);
    }
    json_decref(root);
    free(s);
    cart_free(&c);
}

Test(wire, cart_json_extremes_and_guard)
{
    struct cart c;
    char sku[CART_SKU_MAX + 1];
    char *s;
    json_error_t je;
    json_t *root;

    cart_init(&c, "x");
    for (int i = 0; i < 100; i++) {
        memset(sku, 'a' + i % 26, CART_SKU_MAX);
        snprintf(sku + CART_SKU_MAX - 3, 4, "%03d", i);
        cr_assert_eq(cart_push(&c, sku, CART_QTY_MAX, CART_PRICE_MAX), CART_OK);
    }
    cart_sort(&c);
    c.version = INT64_MIN; /* never real; the widest number */
    c.expires_in = INT64_MIN;
    s = wire_cart_json(&c, NULL);
    cr_assert_not_null(s);
    root = json_loads(s, 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    cr_assert_eq(json_integer_value(json_object_get(root, "total_cents")),
                 100LL * CART_QTY_MAX * CART_PRICE_MAX);
    json_decref(root);
    free(s);
    /* Characters that would need escaping are refused, never emitted raw. */
    snprintf(c.items[0].sku, sizeof(c.items[0].sku), "a\"b");
    cr_assert_null(wire_cart_json(&c, NULL));
    snprintf(c.items[0].sku, sizeof(c.items[0].sku), "ok");
    snprintf(c.id, sizeof(c.id), "id\\");
    cr_assert_null(wire_cart_json(&c, NULL));
    c.id[0] = '\0';
    cr_assert_null(wire_cart_json(&c, NULL));
    cart_free(&c);
}

/* Decode an error body and check its fields. */
static void check_error(const char *code, const char *msg, const char *owner)
{
    size_t len = 0;
    char *s = wire_error_json(code, msg, owner, &len);
    json_error_t je;
    json_t *root, *e;

    cr_assert_not_null(s);
    cr_assert_eq(len, strlen(s));
    root = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
    cr_assert_not_null(root, "%s: %s", s, je.text);
    cr_assert_eq(json_object_size(root), 1);
    e = json_object_get(root, "error");
    cr_assert(json_is_object(e));
    cr_assert_str_eq(json_string_value(json_object_get(e, "code")), code);
    cr_assert_str_eq(json_string_value(json_object_get(e, "message")), msg);
    if (owner)
        cr_assert_str_eq(json_string_value(json_object_get(e, "owner")), owner);
    else
        cr_assert_null(json_object_get(e, "owner"));
    cr_assert_eq(json_object_size(e), owner ? 3 : 2);
    json_decref(root);
    free(s);
}

Test(wire, error_json)
{
    char *s;

    s = wire_error_json("cart_full", "too many lines", NULL, NULL);
    cr_assert_str_eq(s, "{\"error\":{\"code\":\"cart_full\",\"message\":\"too many lines\"}}");
    free(s);
    s = wire_error_json("misdirected", "x", "k3", NULL);
    cr_assert_str_eq(s, "{\"error\":{\"code\":\"misdirected\",\"message\":\"x\",\"owner\":\"k3\"}}");
    free(s);
    check_error("invalid_json", "quote \" backslash \\ newline\n tab\t cr\r", NULL);
    check_error("invalid_json", "control \x01\x1f and </script> and caf\xc3\xa9", NULL);
    check_error("misdirected", "owned by \"k3\"", "k3");
    check_error("invalid_field", "", NULL);
    /* Bytes that are not UTF-8 still give valid JSON. */
    s = wire_error_json("invalid_sku", "sku 'caf\xe9' \"bad\"", NULL, NULL);
    cr_assert_not_null(s);
    json_t *root = json_loads(s, 0, NULL);
    cr_assert_not_null(root, "%s", s);
    json_decref(root);
    free(s);
}

Test(wire, status_names)
{
    cr_assert_str_eq(wire_status_name(WIRE_OK), "ok");
    cr_assert_str_eq(wire_status_name(WIRE_INVALID_JSON), "invalid_json");
    cr_assert_str_eq(wire_status_name(WIRE_INVALID_FIELD), "invalid_field");
    cr_assert_str_eq(wire_status_name(WIRE_UNKNOWN_FIELD), "unknown_field");
    cr_assert_str_eq(wire_status_name(WIRE_INVALID_SKU), "invalid_sku");
}

/* Content-Type: application/json in any case, with parameters; nothing else. */
Test(wire, is_json)
{
    cr_expect(wire_is_json("application/json"));
    cr_expect(wire_is_json("Application/JSON; charset=utf-8"));
    cr_expect(wire_is_json(" application/json"));
    cr_expect_not(wire_is_json(NULL));
    cr_expect_not(wire_is_json("text/plain"));
    cr_expect_not(wire_is_json("application/jsonx"));
    cr_expect_not(wire_is_json("application/json-patch+json"));
}

/* Parameters may follow ';' with spaces or tabs around it (RFC 9110 OWS). */
Test(wire, is_json_with_tabs)
{
    cr_expect(wire_is_json("application/json\t;charset=utf-8"));
    cr_expect(wire_is_json("\tapplication/json \t; charset=utf-8"));
    cr_expect(wire_is_json("application/json\t"));
    cr_expect_not(wire_is_json("application/json\tx"));
    cr_expect_not(wire_is_json("application/json x"));
}
