/* The API contract's error answers (API.md) over real HTTP: every error code,
 * range and size limits, If-Match, 413, 415, 421, capacity and keep-alive
 * across errors; against stateful-svc or, built with TARGET_STATELESS, against
 * stateless-svc and a real redis-server. The rest is in test_contract.c. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"

#if defined(TARGET_STATEFUL)
#define STATEFUL true
#else
#define STATEFUL false
#endif

TestSuite(errors, .fini = contract_stop, .timeout = 60);

Test(errors, bad_requests)
{
    contract_start(STATEFUL);
    char id[65];
    contract_new_cart(id);
    contract_add(id, "A", 1, 100);
    const char *items = contract_path("/carts/%s/items", id);
    char path[256];
    snprintf(path, sizeof path, "%s", items);
    contract_call("POST", path, "{\"sku\":");
    contract_expect_err(400, "invalid_json");
    contract_call("POST", path, "[1,2]");
    contract_expect_err(400, "invalid_json");
    contract_call("POST", path, "{\"sku\":\"A\",\"qty\":1} x");
    contract_expect_err(400, "invalid_json");
    contract_call("POST", path, "{\"sku\":\"A\",\"qty\":\"2\"}");
    contract_expect_err(400, "invalid_field");
    contract_call("POST", path, "{\"qty\":2,\"unit_price_cents\":1}");
    contract_expect_err(400, "invalid_field");
    contract_call("POST", path, "{\"sku\":\"A\",\"qty\":1.5}");
    contract_expect_err(400, "invalid_field");
    contract_call("POST", path, "{\"sku\":\"A\",\"qty\":1,\"color\":\"red\"}");
    contract_expect_err(400, "unknown_field");
    contract_call("POST", "/carts", "{\"x\":1}");
    contract_expect_err(400, "unknown_field");
    contract_call("PUT", contract_path("/carts/%s/items/A", id), "{\"qty\":1,\"sku\":\"A\"}");
    contract_expect_err(400, "unknown_field");
    contract_call("POST", path, "{\"sku\":\"a/b\",\"qty\":1,\"unit_price_cents\":1}");
    contract_expect_err(400, "invalid_sku");
    contract_call("POST", path, "{\"sku\":\"\",\"qty\":1,\"unit_price_cents\":1}");
    contract_expect_err(400, "invalid_sku");
    contract_call("POST", path, "{\"sku\":\"a b\",\"qty\":1,\"unit_price_cents\":1}");
    contract_expect_err(400, "invalid_sku");
    char body[300], sku65[66];
    memset(sku65, 'x', 65);
    sku65[65] = '\0';
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"qty\":1,\"unit_price_cents\":1}", sku65);
    contract_call("POST", path, body);
    contract_expect_err(400, "invalid_sku");
    contract_call("PUT", contract_path("/carts/%s/items/a%%20b", id), "{\"qty\":1}");
    contract_expect_err(400, "invalid_sku");
    /* A percent-encoded '/' or '..' in the sku must not reach another resource. */
    long st = contract_call("PUT", contract_path("/carts/%s/items/a%%2Fb", id),
                            "{\"qty\":1,\"unit_price_cents\":1}");
    cr_assert(st == 400 || st == 404, "a%%2Fb: %ld %s", st, contract_resp.body);
    st = contract_call("DELETE", contract_path("/carts/%s/items/%%2E%%2E", id), NULL);
    cr_assert(st == 400 || st == 404, "%%2E%%2E: %ld %s", st, contract_resp.body);
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", id), NULL), 200, "cart lost: %s",
                 contract_resp.body);
    cr_assert_eq(contract_jint("version"), 1);
    cr_assert_eq(contract_line_qty("A"), 1);
}

Test(errors, routes_and_methods)
{
    contract_start(STATEFUL);
    char id[65], v[128];
    contract_new_cart(id);
    contract_call("GET", "/nope", NULL);
    contract_expect_err(404, "no_route");
    contract_call("GET", contract_path("/carts/%s/items/A/extra", id), NULL);
    contract_expect_err(404, "no_route");
    contract_call("PATCH", contract_path("/carts/%s", id), "{}");
    contract_expect_err(405, "method_not_allowed");
    cr_assert(harness_header(&contract_resp, "Allow", v, sizeof v) && strstr(v, "GET") &&
              strstr(v, "DELETE"), "Allow: %s", v);
    contract_call("DELETE", "/carts", NULL);
    contract_expect_err(405, "method_not_allowed");
    cr_assert(harness_header(&contract_resp, "Allow", v, sizeof v) && strstr(v, "POST"),
              "Allow: %s", v);
    contract_call("POST", "/healthz", NULL);
    contract_expect_err(405, "method_not_allowed");
    cr_assert(harness_header(&contract_resp, "Allow", v, sizeof v) && strstr(v, "GET"),
              "Allow: %s", v);
    contract_call("GET", contract_path("/carts/%s/items", id), NULL);
    contract_expect_err(405, "method_not_allowed");
    cr_assert(harness_header(&contract_resp, "Allow", v, sizeof v) && strstr(v, "POST"),
              "Allow: %s", v);
    const char *tp[] = { "Content-Type: text/plain", NULL };
    contract_call_h("POST", contract_path("/carts/%s/items", id),
                    "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":1}", tp);
    contract_expect_err(415, "unsupported_media_type");
    const char *cs[] = { "Content-Type: application/json; charset=utf-8", NULL };
    cr_assert_eq(contract_call_h("POST", contract_path("/carts/%s/items", id),
                                 "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":1}", cs), 200,
                 "json with charset: %s", contract_resp.body);
    cr_assert_eq(contract_jint("version"), 1);
}

Test(errors, ranges)
{
    contract_start(STATEFUL);
    char id[65];
    contract_new_cart(id);
    contract_add(id, "A", 0, 1);
    contract_expect_err(422, "qty_out_of_range");
    contract_add(id, "A", 10000, 1);
    contract_expect_err(422, "qty_out_of_range");
    contract_add(id, "A", -1, 1);
    contract_expect_err(422, "qty_out_of_range");
    contract_add(id, "A", 1, -1);
    contract_expect_err(422, "price_out_of_range");
    contract_add(id, "A", 1, 1000000001LL);
    contract_expect_err(422, "price_out_of_range");
    cr_assert_eq(contract_add(id, "A", 5000, 0), 200, "%s", contract_resp.body);
    cr_assert_eq(contract_add(id, "B", 1, 1000000000LL), 200, "%s", contract_resp.body);
    contract_add(id, "A", 5000, 0);
    contract_expect_err(422, "qty_out_of_range");
    contract_call("PUT", contract_path("/carts/%s/items/A", id), "{\"qty\":10000}");
    contract_expect_err(422, "qty_out_of_range");
    contract_call("PUT", contract_path("/carts/%s/items/A", id), "{\"qty\":-3}");
    contract_expect_err(422, "qty_out_of_range");
    contract_call("PUT", contract_path("/carts/%s/items/A", id),
                  "{\"qty\":1,\"unit_price_cents\":1000000001}");
    contract_expect_err(422, "price_out_of_range");
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", id), NULL), 200);
    cr_assert_eq(contract_jint("version"), 2);
    cr_assert_eq(contract_line_qty("A"), 5000);
    cr_assert_eq(contract_jint("total_cents"), 1000000000LL);
    cr_assert_eq(contract_add(id, "A", 4999, 0), 200, "%s", contract_resp.body);
    cr_assert_eq(contract_line_qty("A"), 9999);
}

Test(errors, cart_full)
{
    const char *env[] = { "MAX_ITEMS=3", NULL };
    contract_start_with(STATEFUL, env);
    char id[65];
    contract_new_cart(id);
    cr_assert_eq(contract_add(id, "A", 1, 1), 200);
    cr_assert_eq(contract_add(id, "B", 1, 1), 200);
    cr_assert_eq(contract_add(id, "C", 1, 1), 200);
    contract_add(id, "D", 1, 1);
    contract_expect_err(409, "cart_full");
    contract_call("PUT", contract_path("/carts/%s/items/D", id),
                  "{\"qty\":1,\"unit_price_cents\":1}");
    contract_expect_err(409, "cart_full");
    cr_assert_eq(contract_add(id, "B", 1, 1), 200, "existing line: %s", contract_resp.body);
    cr_assert_eq(contract_line_qty("B"), 2);
    cr_assert_eq(json_array_size(json_object_get(contract_json, "items")), 3);
    cr_assert_eq(contract_jint("version"), 4);
}

Test(errors, if_match)
{
    contract_start(STATEFUL);
    char id[65];
    contract_new_cart(id);
    contract_add(id, "A", 1, 10);
    contract_add(id, "A", 1, 10);
    const char *stale[] = { "If-Match: \"1\"", NULL };
    const char *cur[] = { "If-Match: \"2\"", NULL };
    const char *body = "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":10}";
    contract_call_h("POST", contract_path("/carts/%s/items", id), body, stale);
    contract_expect_err(412, "version_conflict");
    contract_call_h("PUT", contract_path("/carts/%s/items/A", id), "{\"qty\":9}", stale);
    contract_expect_err(412, "version_conflict");
    contract_call_h("DELETE", contract_path("/carts/%s/items/A", id), NULL, stale);
    contract_expect_err(412, "version_conflict");
    contract_call_h("DELETE", contract_path("/carts/%s", id), NULL, stale);
    contract_expect_err(412, "version_conflict");
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", id), NULL), 200);
    cr_assert_eq(contract_jint("version"), 2);
    cr_assert_eq(contract_line_qty("A"), 2);
    cr_assert_eq(contract_call_h("POST", contract_path("/carts/%s/items", id), body, cur), 200,
                 "%s", contract_resp.body);
    cr_assert_eq(contract_jint("version"), 3);
    cr_assert_eq(contract_line_qty("A"), 3);
    const char *cur3[] = { "If-Match: \"3\"", NULL };
    cr_assert_eq(contract_call_h("DELETE", contract_path("/carts/%s", id), NULL, cur3), 204, "%s",
                 contract_resp.body);
}

/* A change with If-Match h on cart id at its version (GET first): the status. */
static long add_if(const char *id, const char *const *h)
{
    return contract_call_h("POST", contract_path("/carts/%s/items", id),
                           "{\"sku\":\"L\",\"qty\":1,\"unit_price_cents\":1}", h);
}

/* The cart's version as a GET without condition sees it. */
static long long version_of(const char *id)
{
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", id), NULL), 200);
    return contract_jint("version");
}

Test(errors, if_match_lists)
{
    contract_start(STATEFUL);
    char id[65];
    contract_new_cart(id);
    const char *any_of[] = { "If-Match: \"5\", \"0\"", NULL };
    cr_assert_eq(add_if(id, any_of), 200, "\"5\", \"0\" on version 0: %s", contract_resp.body);
    const char *weak[] = { "If-Match: W/\"1\"", NULL };
    add_if(id, weak);
    contract_expect_err(412, "version_conflict");     /* strong comparison: weak never matches */
    const char *ows[] = { "If-Match: ,\"9\" ,\t\"1\" ,", NULL };
    cr_assert_eq(add_if(id, ows), 200, "empty elements and OWS: %s", contract_resp.body);
    const char *opaque[] = { "If-Match: \"abc\", W/\"2\", \"02\", \"2\"", NULL };
    cr_assert_eq(add_if(id, opaque), 200, "a tag that is no version: %s", contract_resp.body);
    const char *two_lines[] = { "If-Match: \"9\"", "If-Match: \"3\"", NULL };
    cr_assert_eq(add_if(id, two_lines), 200, "two If-Match lines: %s", contract_resp.body);
    static const char *const garbage[] = { "If-Match: \"4\" \"4\"", "If-Match: \"4\", *",
                                           "If-Match: \"4", "If-Match: \"4\";x",
                                           "If-Match: w/\"4\"", "If-Match: \"4\" x" };
    for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++) {
        const char *h[] = { garbage[i], NULL };
        add_if(id, h);
        contract_expect_err(412, "version_conflict");
    }
    const char *stale[] = { "If-Match: \"1\", \"2\", \"3\"", NULL };
    contract_call_h("DELETE", contract_path("/carts/%s", id), NULL, stale);
    contract_expect_err(412, "version_conflict");
    cr_assert_eq(version_of(id), 4, "a refused change changed the cart");
    const char *star[] = { "If-Match: *", NULL };
    cr_assert_eq(add_if(id, star), 200, "*: %s", contract_resp.body);
    const char *del[] = { "If-Match: \"4\", \"5\"", NULL };
    cr_assert_eq(contract_call_h("DELETE", contract_path("/carts/%s", id), NULL, del), 204,
                 "%s", contract_resp.body);
}

Test(errors, if_match_on_reads)
{
    contract_start(STATEFUL);
    char id[65];
    contract_new_cart(id);
    contract_add(id, "A", 1, 10);
    const char *stale[] = { "If-Match: \"0\"", NULL };
    const char *cur[] = { "If-Match: \"0\", \"1\"", NULL };
    contract_call_h("GET", contract_path("/carts/%s", id), NULL, stale);
    contract_expect_err(412, "version_conflict");
    cr_assert_eq(contract_call_h("HEAD", contract_path("/carts/%s", id), NULL, stale), 412);
    contract_call_h("GET", "/cart", NULL, stale);
    contract_expect_err(412, "version_conflict");
    const char *garbage[] = { "If-Match: 1\"", NULL };
    contract_call_h("GET", contract_path("/carts/%s", id), NULL, garbage);
    contract_expect_err(412, "version_conflict");
    cr_assert_eq(contract_call_h("GET", contract_path("/carts/%s", id), NULL, cur), 200, "%s",
                 contract_resp.body);
    cr_assert_eq(contract_jint("version"), 1);
    cr_assert_eq(contract_call_h("GET", "/cart", NULL, cur), 200, "%s", contract_resp.body);
    const char *weak[] = { "If-Match: W/\"1\"", NULL };
    contract_call_h("GET", contract_path("/carts/%s", id), NULL, weak);
    contract_expect_err(412, "version_conflict");
    contract_call_h("GET", contract_path("/carts/%s", "nosuchcart"), NULL, stale);
    contract_expect_err(404, "cart_not_found");
}

Test(errors, body_too_large)
{
    contract_start(STATEFUL);
    char id[65];
    contract_new_cart(id);
    contract_add(id, "A", 1, 10);
    size_t n = 17 * 1024;
    char *big = malloc(n + 1);
    cr_assert_not_null(big);
    int off = snprintf(big, n, "{\"sku\":\"B\",\"qty\":1,\"unit_price_cents\":1,\"pad\":\"");
    memset(big + off, 'x', n - (size_t)off - 2);
    memcpy(big + n - 2, "\"}", 3);
    contract_call("POST", contract_path("/carts/%s/items", id), big);
    free(big);
    contract_expect_err(413, "body_too_large");
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", id), NULL), 200);
    cr_assert_eq(contract_jint("version"), 1);
    cr_assert_eq(contract_line_qty("B"), 0);
}

Test(errors, misdirected)
{
    contract_start(STATEFUL);
    const char *other = "/carts/beta2-AAAAAAAAAAAAAAAAAAAAAA";
    contract_call("GET", other, NULL);
    if (TARGET_USES_REDIS) {
        contract_expect_err(404, "cart_not_found");
        return;
    }
    contract_expect_err(421, "misdirected");
    cr_assert(strstr(contract_resp.body, "beta2"), "owner tag not named: %s", contract_resp.body);
    contract_call("POST", contract_path("%s/items", other),
                  "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":1}");
    contract_expect_err(421, "misdirected");
    contract_call("DELETE", other, NULL);
    contract_expect_err(421, "misdirected");
    contract_call("GET", "/carts/" CONTRACT_INSTANCE "-AAAAAAAAAAAAAAAAAAAAAA", NULL);
    contract_expect_err(404, "cart_not_found");
}

Test(errors, keep_alive)
{
    contract_start(STATEFUL);
    char id[65];
    contract_new_cart(id);
    char *big = malloc(16 * 1024 + 600);
    cr_assert_not_null(big);
    memset(big, ' ', 16 * 1024 + 500);
    big[0] = '{';
    memcpy(big + 16 * 1024 + 498, "}", 2);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(contract_add(id, "A", 1, 1), 200);
        contract_call("GET", "/nope", NULL);
        contract_expect_err(404, "no_route");
        contract_call("POST", contract_path("/carts/%s/items", id), "{oops");
        contract_expect_err(400, "invalid_json");
        contract_call("POST", contract_path("/carts/%s/items", id), big);
        contract_expect_err(413, "body_too_large");
        contract_call("GET", "/carts/" CONTRACT_INSTANCE "-AAAAAAAAAAAAAAAAAAAAAA", NULL);
        contract_expect_err(404, "cart_not_found");
    }
    free(big);
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", id), NULL), 200);
    cr_assert_eq(contract_line_qty("A"), 20);
    cr_assert_eq(harness_connects(contract_client), 1, "connections opened: %ld",
                 harness_connects(contract_client));
}

Test(errors, capacity)
{
    if (TARGET_USES_REDIS)
        return;  /* MAX_CARTS is the memory store's bound */
    const char *env[] = { "MAX_CARTS=2", NULL };
    contract_start_with(STATEFUL, env);
    char a[65], b[65], v[32];
    contract_new_cart(a);
    contract_new_cart(b);
    contract_call("POST", "/carts", NULL);
    contract_expect_err(503, "capacity");
    cr_assert(harness_header(&contract_resp, "Retry-After", v, sizeof v) && atoi(v) >= 1,
              "Retry-After");
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", a), NULL), 200,
                 "a live cart was evicted");
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", b), NULL), 200,
                 "a live cart was evicted");
    cr_assert_eq(contract_call("DELETE", contract_path("/carts/%s", a), NULL), 204);
    cr_assert_eq(contract_call("POST", "/carts", NULL), 201, "room after a delete: %s",
                 contract_resp.body);
}
