/* The API contract (API.md) over real HTTP, against stateful-svc or, built with
 * TARGET_STATELESS, against stateless-svc and a real redis-server. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"

#if defined(TARGET_STATEFUL)
#define BIN STATEFUL_BIN
#define USE_REDIS 0
#define SERVICE "stateful-svc"
#define STORE "memory"
#else
#define BIN STATELESS_BIN
#define USE_REDIS 1
#define SERVICE "stateless-svc"
#define STORE "redis"
#endif

#define INSTANCE "alpha1"   /* its tag is "alpha1" too */

static struct harness_proc redis, svc;
static struct harness_client *cl;
static struct harness_resp R;  /* the last response */
static json_t *J;              /* its body, parsed (NULL when not JSON) */
static long long ttl = 1800;

/* Start Redis (stateless) and the service with extra env entries; one client. */
static void start_with(const char *const *env)
{
    const char *base[16] = { "INSTANCE_ID=" INSTANCE };
    int n = 1;
    for (int i = 0; env && env[i] && n < 15; i++) {
        base[n++] = env[i];
        if (strncmp(env[i], "CART_TTL_SECONDS=", 17) == 0)
            ttl = atoll(env[i] + 17);
    }
    base[n] = NULL;
    int rport = 0;
    if (USE_REDIS) {
        cr_assert(harness_redis_start(&redis), "redis-server did not start");
        rport = redis.port;
    }
    cr_assert(harness_svc_start(&svc, BIN, rport, base), "%s did not start", BIN);
    cl = harness_client_new(svc.port);
    cr_assert_not_null(cl);
}

/* Start with the defaults. */
static void start(void)
{
    start_with(NULL);
}

/* Stop everything the test started. */
static void stop(void)
{
    harness_resp_free(&R);
    json_decref(J);
    J = NULL;
    harness_client_free(cl);
    cl = NULL;
    harness_stop(&svc);
    if (USE_REDIS)
        harness_stop(&redis);
}

TestSuite(contract, .fini = stop, .timeout = 60);

/* Check a cart object: fields, types, sort order, total and expiry. */
static void check_cart(json_t *c)
{
    cr_assert(json_is_object(c), "cart is not an object");
    const char *id = json_string_value(json_object_get(c, "id"));
    cr_assert(id && strlen(id) >= 22 && strlen(id) <= 64, "bad id");
    cr_assert(strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
              strlen(id), "id %s is not URL-safe", id);
    cr_assert(json_is_integer(json_object_get(c, "version")));
    cr_assert(json_integer_value(json_object_get(c, "version")) >= 0);
    json_t *items = json_object_get(c, "items");
    cr_assert(json_is_array(items));
    long long total = 0;
    const char *prev = NULL;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        const char *sku = json_string_value(json_object_get(it, "sku"));
        json_t *q = json_object_get(it, "qty"), *p = json_object_get(it, "unit_price_cents");
        cr_assert(sku && json_is_integer(q) && json_is_integer(p), "bad line %zu", i);
        cr_assert(json_integer_value(q) >= 1 && json_integer_value(q) <= 9999);
        cr_assert(json_integer_value(p) >= 0 && json_integer_value(p) <= 1000000000);
        cr_assert(!prev || strcmp(prev, sku) < 0, "items not sorted: %s, %s", prev, sku);
        prev = sku;
        total += json_integer_value(q) * json_integer_value(p);
    }
    json_t *t = json_object_get(c, "total_cents"), *e = json_object_get(c, "expires_in");
    cr_assert(json_is_integer(t) && json_integer_value(t) == total,
              "total_cents %lld, lines sum to %lld", (long long)json_integer_value(t), total);
    cr_assert(json_is_integer(e) && json_integer_value(e) >= 0 && json_integer_value(e) <= ttl,
              "expires_in %lld (ttl %lld)", (long long)json_integer_value(e), ttl);
}

/* Headers every response carries, and the cart checks for cart responses. */
static void check_common(const char *path)
{
    char v[256];
    cr_assert(harness_header(&R, "X-Instance", v, sizeof v), "no X-Instance on %s", path);
    cr_assert_str_eq(v, INSTANCE);
    cr_assert(harness_header(&R, "X-Request-Id", v, sizeof v) && v[0], "no X-Request-Id");
    if (R.status == 204)
        return;
    cr_assert(harness_header(&R, "Content-Type", v, sizeof v), "no Content-Type on %s", path);
    const char *want = strcmp(path, "/metrics") == 0 ? "text/plain" : "application/json";
    cr_assert(strncmp(v, want, strlen(want)) == 0, "Content-Type %s on %s", v, path);
    if (strncmp(path, "/cart", 5) != 0 || (R.status != 200 && R.status != 201))
        return;
    cr_assert(harness_header(&R, "Cache-Control", v, sizeof v) && strstr(v, "no-store"),
              "no Cache-Control: no-store on %s", path);
    check_cart(J);
    char etag[64];
    snprintf(etag, sizeof etag, "\"%lld\"",
             (long long)json_integer_value(json_object_get(J, "version")));
    cr_assert(harness_header(&R, "ETag", v, sizeof v), "no ETag on %s", path);
    cr_assert_str_eq(v, etag);
}

/* Send a request on the test's client; returns the status, R and J hold the reply. */
static long call_h(const char *m, const char *path, const char *body, const char *const *h)
{
    harness_resp_free(&R);
    json_decref(J);
    J = NULL;
    cr_assert(harness_req(cl, m, path, body, h, &R), "%s %s: transport error", m, path);
    J = json_loads(R.body, JSON_DECODE_ANY, NULL);
    check_common(path);
    return R.status;
}

/* call_h without extra headers. */
static long call(const char *m, const char *path, const char *body)
{
    return call_h(m, path, body, NULL);
}

/* Assert the last reply is an error with this status and code (line: the caller's). */
static void expect_err_at(int line, long status, const char *code)
{
    if (R.status != status)
        harness_log_tail(&svc);
    cr_assert_eq(R.status, status, "line %d: want %ld %s, got %ld %s", line, status, code,
                 R.status, R.body);
    json_t *e = json_object_get(J, "error");
    cr_assert(json_is_object(e), "line %d: no error object: %s", line, R.body);
    cr_assert_str_eq(json_string_value(json_object_get(e, "code")) ?: "", code, "line %d: %s",
                     line, R.body);
    const char *msg = json_string_value(json_object_get(e, "message"));
    cr_assert(msg && msg[0], "line %d: no message: %s", line, R.body);
}
#define expect_err(status, code) expect_err_at(__LINE__, status, code)

/* Integer field of the last reply. */
static long long jint(const char *key)
{
    return json_integer_value(json_object_get(J, key));
}

/* qty of sku in the last cart reply, 0 when absent. */
static long long line_qty(const char *sku)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(J, "items"), i, it)
        if (strcmp(json_string_value(json_object_get(it, "sku")), sku) == 0)
            return json_integer_value(json_object_get(it, "qty"));
    return 0;
}

/* Create a cart and write its id to id (65 bytes). */
static void new_cart(char *id)
{
    cr_assert_eq(call("POST", "/carts", NULL), 201, "create: %s", R.body);
    snprintf(id, 65, "%s", json_string_value(json_object_get(J, "id")));
}

/* Build a path from a format into a static buffer. */
static const char *P(const char *fmt, const char *id)
{
    static char buf[2][256];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], fmt, id);
    return buf[k];
}

/* Add qty of sku at price; returns the status. */
static long add(const char *id, const char *sku, long qty, long long price)
{
    char body[200];
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"qty\":%ld,\"unit_price_cents\":%lld}",
             sku, qty, price);
    return call("POST", P("/carts/%s/items", id), body);
}

/* Milliseconds on a monotonic clock. */
static long long ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms milliseconds. */
static void nap(long m)
{
    struct timespec ts = { m / 1000, (m % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

Test(contract, create_cart)
{
    start();
    char id[65], id2[65], v[512], want[600];
    new_cart(id);
    cr_assert_eq(jint("version"), 0);
    cr_assert_eq(json_array_size(json_object_get(J, "items")), 0);
    cr_assert_eq(jint("total_cents"), 0);
    cr_assert(jint("expires_in") >= ttl - 1, "expires_in %lld", jint("expires_in"));
    cr_assert(harness_header(&R, "Location", v, sizeof v));
    cr_assert_str_eq(v, P("/carts/%s", id));
    cr_assert(harness_header(&R, "Set-Cookie", v, sizeof v));
    snprintf(want, sizeof want, "cart=%s;", id);
    cr_assert(strncmp(v, want, strlen(want)) == 0, "Set-Cookie %s", v);
    snprintf(want, sizeof want, "Max-Age=%lld", ttl);
    cr_assert(strstr(v, "Path=/") && strstr(v, "HttpOnly") && strstr(v, "SameSite=Lax") &&
              strstr(v, want), "Set-Cookie %s", v);
    cr_assert(harness_header(&R, "ETag", v, sizeof v));
    cr_assert_str_eq(v, "\"0\"");
    if (!USE_REDIS)
        cr_assert(strncmp(id, INSTANCE "-", strlen(INSTANCE) + 1) == 0, "id %s lacks tag", id);
    cr_assert_eq(call("POST", "/carts", "{}"), 201, "%s", R.body);
    snprintf(id2, sizeof id2, "%s", json_string_value(json_object_get(J, "id")));
    cr_assert_str_neq(id, id2);
    cr_assert_eq(call("GET", P("/carts/%s", id), NULL), 200);
    cr_assert_str_eq(json_string_value(json_object_get(J, "id")), id);
}

Test(contract, add_merge_price_set_remove)
{
    start();
    char id[65];
    new_cart(id);
    cr_assert_eq(add(id, "BOOK-42", 2, 1999), 200, "%s", R.body);
    cr_assert_eq(jint("version"), 1);
    cr_assert_eq(jint("total_cents"), 3998);
    cr_assert_eq(call("POST", P("/carts/%s/items", id), "{\"sku\":\"BOOK-42\",\"qty\":3}"), 200,
                 "merge without price: %s", R.body);
    cr_assert_eq(line_qty("BOOK-42"), 5);
    cr_assert_eq(jint("total_cents"), 5 * 1999);
    cr_assert_eq(add(id, "BOOK-42", 1, 1000), 200);
    cr_assert_eq(line_qty("BOOK-42"), 6);
    cr_assert_eq(jint("total_cents"), 6000, "price update: %s", R.body);
    long st = call("POST", P("/carts/%s/items", id), "{\"sku\":\"PEN\",\"qty\":1}");
    cr_assert(st == 400 || st == 422, "new line without price: %ld %s", st, R.body);
    cr_assert(json_is_object(json_object_get(J, "error")));
    cr_assert_eq(call("GET", P("/carts/%s", id), NULL), 200);
    cr_assert_eq(jint("version"), 3);
    cr_assert_eq(line_qty("PEN"), 0);
    cr_assert_eq(call("PUT", P("/carts/%s/items/BOOK-42", id), "{\"qty\":2}"), 200, "%s", R.body);
    cr_assert_eq(line_qty("BOOK-42"), 2);
    cr_assert_eq(call("PUT", P("/carts/%s/items/PEN", id), "{\"qty\":4,\"unit_price_cents\":50}"),
                 200, "set creates a line with a price: %s", R.body);
    cr_assert_eq(jint("total_cents"), 2000 + 200);
    cr_assert_eq(call("PUT", P("/carts/%s/items/BOOK-42", id), "{\"qty\":0}"), 200);
    cr_assert_eq(line_qty("BOOK-42"), 0);
    cr_assert_eq(json_array_size(json_object_get(J, "items")), 1);
    cr_assert_eq(call("DELETE", P("/carts/%s/items/PEN", id), NULL), 200);
    cr_assert_eq(json_array_size(json_object_get(J, "items")), 0);
    cr_assert_eq(jint("version"), 7);
    call("DELETE", P("/carts/%s/items/PEN", id), NULL);
    expect_err(404, "no_such_item");
    cr_assert_eq(call("GET", P("/carts/%s", id), NULL), 200);
    cr_assert_eq(jint("version"), 7);
}

Test(contract, delete_cart)
{
    start();
    char id[65];
    new_cart(id);
    cr_assert_eq(call("DELETE", P("/carts/%s", id), NULL), 204, "%s", R.body);
    cr_assert_eq(R.body_len, 0);
    call("GET", P("/carts/%s", id), NULL);
    expect_err(404, "cart_not_found");
    call("DELETE", P("/carts/%s", id), NULL);
    expect_err(404, "cart_not_found");
    add(id, "A", 1, 1);
    expect_err(404, "cart_not_found");
    call("PUT", P("/carts/%s/items/A", id), "{\"qty\":1}");
    expect_err(404, "cart_not_found");
}

Test(contract, session_routes)
{
    start();
    char id[65];
    call("GET", "/cart", NULL);
    expect_err(404, "no_session");
    call("POST", "/cart/items", "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":5}");
    expect_err(404, "no_session");
    new_cart(id);
    cr_assert_eq(call("GET", "/cart", NULL), 200, "%s", R.body);
    cr_assert_str_eq(json_string_value(json_object_get(J, "id")), id);
    cr_assert_eq(call("POST", "/cart/items", "{\"sku\":\"A\",\"qty\":2,\"unit_price_cents\":5}"),
                 200, "%s", R.body);
    cr_assert_eq(call("PUT", "/cart/items/A", "{\"qty\":7}"), 200, "%s", R.body);
    cr_assert_eq(line_qty("A"), 7);
    cr_assert_eq(call("GET", P("/carts/%s", id), NULL), 200);
    cr_assert_eq(line_qty("A"), 7);
    cr_assert_eq(call("DELETE", "/cart/items/A", NULL), 200, "%s", R.body);
    call("DELETE", "/cart/items/A", NULL);
    expect_err(404, "no_such_item");
    cr_assert_eq(call("DELETE", "/cart", NULL), 204, "%s", R.body);
    call("GET", "/cart", NULL);
    cr_assert_eq(R.status, 404, "%s", R.body);
    const char *code = json_string_value(json_object_get(json_object_get(J, "error"), "code"));
    cr_assert(code && (!strcmp(code, "cart_not_found") || !strcmp(code, "no_session")), "%s",
              R.body);
    char cookie[128];
    snprintf(cookie, sizeof cookie, "Cookie: cart=%s", id);
    const char *h[] = { cookie, NULL };
    call_h("GET", "/cart", NULL, h);
    expect_err(404, "cart_not_found");
}

Test(contract, ops_endpoints)
{
    start();
    char id[65], v[256];
    cr_assert_eq(call("GET", "/healthz", NULL), 200);
    cr_assert_str_eq(json_string_value(json_object_get(J, "status")), "ok");
    cr_assert_eq(call("GET", "/readyz", NULL), 200, "%s", R.body);
    new_cart(id);
    new_cart(id);
    cr_assert_eq(call("GET", "/info", NULL), 200);
    cr_assert_str_eq(json_string_value(json_object_get(J, "service")) ?: "", SERVICE);
    cr_assert_str_eq(json_string_value(json_object_get(J, "instance")) ?: "", INSTANCE);
    cr_assert_str_eq(json_string_value(json_object_get(J, "store")) ?: "", STORE);
    cr_assert(json_is_string(json_object_get(J, "version")), "%s", R.body);
    cr_assert(json_is_integer(json_object_get(J, "carts")), "%s", R.body);
    cr_assert_eq(jint("carts"), 2, "%s", R.body);
    cr_assert_eq(call("GET", "/metrics", NULL), 200);
    cr_assert(strstr(R.body, "cartpair_http_requests_total"), "metrics: %.300s", R.body);
    const char *h[] = { "X-Request-Id: req-abc-123", NULL };
    call_h("GET", "/healthz", NULL, h);
    cr_assert(harness_header(&R, "X-Request-Id", v, sizeof v));
    cr_assert_str_eq(v, "req-abc-123");
    call_h("GET", "/nope", NULL, h);
    cr_assert(harness_header(&R, "X-Request-Id", v, sizeof v));
    cr_assert_str_eq(v, "req-abc-123");
    char v2[256];
    call("GET", "/healthz", NULL);
    cr_assert(harness_header(&R, "X-Request-Id", v, sizeof v));
    call("GET", "/healthz", NULL);
    cr_assert(harness_header(&R, "X-Request-Id", v2, sizeof v2));
    cr_assert_str_neq(v, v2, "generated request ids repeat");
}

Test(contract, bad_requests)
{
    start();
    char id[65];
    new_cart(id);
    add(id, "A", 1, 100);
    const char *items = P("/carts/%s/items", id);
    char path[256];
    snprintf(path, sizeof path, "%s", items);
    call("POST", path, "{\"sku\":");
    expect_err(400, "invalid_json");
    call("POST", path, "[1,2]");
    expect_err(400, "invalid_json");
    call("POST", path, "{\"sku\":\"A\",\"qty\":1} x");
    expect_err(400, "invalid_json");
    call("POST", path, "{\"sku\":\"A\",\"qty\":\"2\"}");
    expect_err(400, "invalid_field");
    call("POST", path, "{\"qty\":2,\"unit_price_cents\":1}");
    expect_err(400, "invalid_field");
    call("POST", path, "{\"sku\":\"A\",\"qty\":1.5}");
    expect_err(400, "invalid_field");
    call("POST", path, "{\"sku\":\"A\",\"qty\":1,\"color\":\"red\"}");
    expect_err(400, "unknown_field");
    call("POST", "/carts", "{\"x\":1}");
    expect_err(400, "unknown_field");
    call("PUT", P("/carts/%s/items/A", id), "{\"qty\":1,\"sku\":\"A\"}");
    expect_err(400, "unknown_field");
    call("POST", path, "{\"sku\":\"a/b\",\"qty\":1,\"unit_price_cents\":1}");
    expect_err(400, "invalid_sku");
    call("POST", path, "{\"sku\":\"\",\"qty\":1,\"unit_price_cents\":1}");
    expect_err(400, "invalid_sku");
    call("POST", path, "{\"sku\":\"a b\",\"qty\":1,\"unit_price_cents\":1}");
    expect_err(400, "invalid_sku");
    char body[300], sku65[66];
    memset(sku65, 'x', 65);
    sku65[65] = '\0';
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"qty\":1,\"unit_price_cents\":1}", sku65);
    call("POST", path, body);
    expect_err(400, "invalid_sku");
    call("PUT", P("/carts/%s/items/a%%20b", id), "{\"qty\":1}");
    expect_err(400, "invalid_sku");
    /* A percent-encoded '/' or '..' in the sku must not reach another resource. */
    long st = call("PUT", P("/carts/%s/items/a%%2Fb", id), "{\"qty\":1,\"unit_price_cents\":1}");
    cr_assert(st == 400 || st == 404, "a%%2Fb: %ld %s", st, R.body);
    st = call("DELETE", P("/carts/%s/items/%%2E%%2E", id), NULL);
    cr_assert(st == 400 || st == 404, "%%2E%%2E: %ld %s", st, R.body);
    cr_assert_eq(call("GET", P("/carts/%s", id), NULL), 200, "cart lost: %s", R.body);
    cr_assert_eq(jint("version"), 1);
    cr_assert_eq(line_qty("A"), 1);
}

Test(contract, routes_and_methods)
{
    start();
    char id[65], v[128];
    new_cart(id);
    call("GET", "/nope", NULL);
    expect_err(404, "no_route");
    call("GET", P("/carts/%s/items/A/extra", id), NULL);
    expect_err(404, "no_route");
    call("PATCH", P("/carts/%s", id), "{}");
    expect_err(405, "method_not_allowed");
    cr_assert(harness_header(&R, "Allow", v, sizeof v) && strstr(v, "GET") && strstr(v, "DELETE"),
              "Allow: %s", v);
    call("DELETE", "/carts", NULL);
    expect_err(405, "method_not_allowed");
    cr_assert(harness_header(&R, "Allow", v, sizeof v) && strstr(v, "POST"), "Allow: %s", v);
    call("POST", "/healthz", NULL);
    expect_err(405, "method_not_allowed");
    cr_assert(harness_header(&R, "Allow", v, sizeof v) && strstr(v, "GET"), "Allow: %s", v);
    call("GET", P("/carts/%s/items", id), NULL);
    expect_err(405, "method_not_allowed");
    cr_assert(harness_header(&R, "Allow", v, sizeof v) && strstr(v, "POST"), "Allow: %s", v);
    const char *tp[] = { "Content-Type: text/plain", NULL };
    call_h("POST", P("/carts/%s/items", id), "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":1}", tp);
    expect_err(415, "unsupported_media_type");
    const char *cs[] = { "Content-Type: application/json; charset=utf-8", NULL };
    cr_assert_eq(call_h("POST", P("/carts/%s/items", id),
                        "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":1}", cs), 200,
                 "json with charset: %s", R.body);
    cr_assert_eq(jint("version"), 1);
}

Test(contract, ranges)
{
    start();
    char id[65];
    new_cart(id);
    add(id, "A", 0, 1);
    expect_err(422, "qty_out_of_range");
    add(id, "A", 10000, 1);
    expect_err(422, "qty_out_of_range");
    add(id, "A", -1, 1);
    expect_err(422, "qty_out_of_range");
    add(id, "A", 1, -1);
    expect_err(422, "price_out_of_range");
    add(id, "A", 1, 1000000001LL);
    expect_err(422, "price_out_of_range");
    cr_assert_eq(add(id, "A", 5000, 0), 200, "%s", R.body);
    cr_assert_eq(add(id, "B", 1, 1000000000LL), 200, "%s", R.body);
    add(id, "A", 5000, 0);
    expect_err(422, "qty_out_of_range");
    call("PUT", P("/carts/%s/items/A", id), "{\"qty\":10000}");
    expect_err(422, "qty_out_of_range");
    call("PUT", P("/carts/%s/items/A", id), "{\"qty\":-3}");
    expect_err(422, "qty_out_of_range");
    call("PUT", P("/carts/%s/items/A", id), "{\"qty\":1,\"unit_price_cents\":1000000001}");
    expect_err(422, "price_out_of_range");
    cr_assert_eq(call("GET", P("/carts/%s", id), NULL), 200);
    cr_assert_eq(jint("version"), 2);
    cr_assert_eq(line_qty("A"), 5000);
    cr_assert_eq(jint("total_cents"), 1000000000LL);
    cr_assert_eq(add(id, "A", 4999, 0), 200, "%s", R.body);
    cr_assert_eq(line_qty("A"), 9999);
}

Test(contract, cart_full)
{
    const char *env[] = { "MAX_ITEMS=3", NULL };
    start_with(env);
    char id[65];
    new_cart(id);
    cr_assert_eq(add(id, "A", 1, 1), 200);
    cr_assert_eq(add(id, "B", 1, 1), 200);
    cr_assert_eq(add(id, "C", 1, 1), 200);
    add(id, "D", 1, 1);
    expect_err(409, "cart_full");
    call("PUT", P("/carts/%s/items/D", id), "{\"qty\":1,\"unit_price_cents\":1}");
    expect_err(409, "cart_full");
    cr_assert_eq(add(id, "B", 1, 1), 200, "existing line: %s", R.body);
    cr_assert_eq(line_qty("B"), 2);
    cr_assert_eq(json_array_size(json_object_get(J, "items")), 3);
    cr_assert_eq(jint("version"), 4);
}

Test(contract, if_match)
{
    start();
    char id[65];
    new_cart(id);
    add(id, "A", 1, 10);
    add(id, "A", 1, 10);
    const char *stale[] = { "If-Match: \"1\"", NULL };
    const char *cur[] = { "If-Match: \"2\"", NULL };
    const char *body = "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":10}";
    call_h("POST", P("/carts/%s/items", id), body, stale);
    expect_err(412, "version_conflict");
    call_h("PUT", P("/carts/%s/items/A", id), "{\"qty\":9}", stale);
    expect_err(412, "version_conflict");
    call_h("DELETE", P("/carts/%s/items/A", id), NULL, stale);
    expect_err(412, "version_conflict");
    call_h("DELETE", P("/carts/%s", id), NULL, stale);
    expect_err(412, "version_conflict");
    cr_assert_eq(call("GET", P("/carts/%s", id), NULL), 200);
    cr_assert_eq(jint("version"), 2);
    cr_assert_eq(line_qty("A"), 2);
    cr_assert_eq(call_h("POST", P("/carts/%s/items", id), body, cur), 200, "%s", R.body);
    cr_assert_eq(jint("version"), 3);
    cr_assert_eq(line_qty("A"), 3);
    const char *cur3[] = { "If-Match: \"3\"", NULL };
    cr_assert_eq(call_h("DELETE", P("/carts/%s", id), NULL, cur3), 204, "%s", R.body);
}

Test(contract, body_too_large)
{
    start();
    char id[65];
    new_cart(id);
    add(id, "A", 1, 10);
    size_t n = 17 * 1024;
    char *big = malloc(n + 1);
    cr_assert_not_null(big);
    int off = snprintf(big, n, "{\"sku\":\"B\",\"qty\":1,\"unit_price_cents\":1,\"pad\":\"");
    memset(big + off, 'x', n - (size_t)off - 2);
    memcpy(big + n - 2, "\"}", 3);
    call("POST", P("/carts/%s/items", id), big);
    free(big);
    expect_err(413, "body_too_large");
    cr_assert_eq(call("GET", P("/carts/%s", id), NULL), 200);
    cr_assert_eq(jint("version"), 1);
    cr_assert_eq(line_qty("B"), 0);
}

Test(contract, misdirected)
{
    start();
    const char *other = "/carts/beta2-AAAAAAAAAAAAAAAAAAAAAA";
    call("GET", other, NULL);
    if (USE_REDIS) {
        expect_err(404, "cart_not_found");
        return;
    }
    expect_err(421, "misdirected");
    cr_assert(strstr(R.body, "beta2"), "owner tag not named: %s", R.body);
    call("POST", P("%s/items", other), "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":1}");
    expect_err(421, "misdirected");
    call("DELETE", other, NULL);
    expect_err(421, "misdirected");
    call("GET", "/carts/" INSTANCE "-AAAAAAAAAAAAAAAAAAAAAA", NULL);
    expect_err(404, "cart_not_found");
}

Test(contract, keep_alive)
{
    start();
    char id[65];
    new_cart(id);
    char *big = malloc(16 * 1024 + 600);
    cr_assert_not_null(big);
    memset(big, ' ', 16 * 1024 + 500);
    big[0] = '{';
    memcpy(big + 16 * 1024 + 498, "}", 2);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(add(id, "A", 1, 1), 200);
        call("GET", "/nope", NULL);
        expect_err(404, "no_route");
        call("POST", P("/carts/%s/items", id), "{oops");
        expect_err(400, "invalid_json");
        call("POST", P("/carts/%s/items", id), big);
        expect_err(413, "body_too_large");
        call("GET", "/carts/" INSTANCE "-AAAAAAAAAAAAAAAAAAAAAA", NULL);
        expect_err(404, "cart_not_found");
    }
    free(big);
    cr_assert_eq(call("GET", P("/carts/%s", id), NULL), 200);
    cr_assert_eq(line_qty("A"), 20);
    cr_assert_eq(harness_connects(cl), 1, "connections opened: %ld", harness_connects(cl));
}

Test(contract, big_totals_and_order)
{
    start();
    char id[65];
    new_cart(id);
    const char *skus[] = { "zeta", "alpha", "Mid", "beta-2", "beta.1", "0num", "_u", "x", NULL };
    for (int i = 0; skus[i]; i++)
        cr_assert_eq(add(id, skus[i], 9999, 1000000000LL), 200, "%s", R.body);
    cr_assert_eq(jint("total_cents"), 8LL * 9999LL * 1000000000LL);
    const char *sorted[] = { "0num", "Mid", "_u", "alpha", "beta-2", "beta.1", "x", "zeta" };
    json_t *items = json_object_get(J, "items");
    cr_assert_eq(json_array_size(items), 8);
    for (size_t i = 0; i < 8; i++)
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, i), "sku")),
                         sorted[i]);
}

Test(contract, expiry, .timeout = 30)
{
    const char *env[] = { "CART_TTL_SECONDS=1", NULL };
    start_with(env);
    char idle[65], busy[65];
    new_cart(idle);
    new_cart(busy);
    long long t0 = ms();
    for (int i = 0; i < 5; i++) {
        nap(500);
        cr_assert_eq(call("GET", P("/carts/%s", busy), NULL), 200,
                     "touched cart expired after %lld ms", ms() - t0);
    }
    cr_assert_eq(add(busy, "A", 1, 1), 200);
    while (ms() - t0 < 2200)
        nap(50);
    call("GET", P("/carts/%s", idle), NULL);
    expect_err(404, "cart_not_found");
    cr_assert_eq(call("GET", P("/carts/%s", busy), NULL), 200, "busy cart expired");
}

Test(contract, capacity)
{
    if (USE_REDIS)
        return;  /* MAX_CARTS is the memory store's bound */
    const char *env[] = { "MAX_CARTS=2", NULL };
    start_with(env);
    char a[65], b[65], v[32];
    new_cart(a);
    new_cart(b);
    call("POST", "/carts", NULL);
    expect_err(503, "capacity");
    cr_assert(harness_header(&R, "Retry-After", v, sizeof v) && atoi(v) >= 1, "Retry-After");
    cr_assert_eq(call("GET", P("/carts/%s", a), NULL), 200, "a live cart was evicted");
    cr_assert_eq(call("GET", P("/carts/%s", b), NULL), 200, "a live cart was evicted");
    cr_assert_eq(call("DELETE", P("/carts/%s", a), NULL), 204);
    cr_assert_eq(call("POST", "/carts", NULL), 201, "room after a delete: %s", R.body);
}

Test(contract, drain, .timeout = 30)
{
    const char *env[] = { "DRAIN_SECONDS=2", NULL };
    start_with(env);
    char id[65];
    new_cart(id);
    cr_assert_eq(kill(svc.pid, SIGTERM), 0);
    long long t0 = ms();
    nap(100);
    cr_assert_eq(call("GET", "/readyz", NULL), 503, "readyz while draining: %s", R.body);
    cr_assert_eq(call("GET", "/healthz", NULL), 200);
    cr_assert_eq(add(id, "A", 1, 1), 200, "cart change while draining: %s", R.body);
    struct harness_client *old = cl;
    cl = harness_client_new(svc.port);
    cr_assert_eq(call("GET", P("/carts/%s", id), NULL), 200, "new connection while draining");
    long st = call("POST", "/carts", NULL);
    if (st != 201)
        expect_err(503, "draining");
    harness_client_free(old);
    int wst = -1;
    pid_t r = 0;
    while (r == 0 && ms() - t0 < 8000) {
        r = waitpid(svc.pid, &wst, WNOHANG);
        if (r == 0)
            nap(50);
    }
    cr_assert_eq(r, svc.pid, "still running %lld ms after SIGTERM", ms() - t0);
    svc.pid = 0;
    cr_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "exit status %d", wst);
    cr_assert(ms() - t0 >= 1900, "exited after %lld ms, before DRAIN_SECONDS", ms() - t0);
}

Test(contract, bad_config)
{
    const char *env[] = { "MAX_ITEMS=lots", NULL };
    int rport = 0;
    if (USE_REDIS) {
        cr_assert(harness_redis_start(&redis));
        rport = redis.port;
    }
    cr_assert_not(harness_svc_start(&svc, BIN, rport, env), "started with MAX_ITEMS=lots");
    FILE *f = fopen(svc.log, "r");
    cr_assert_not_null(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    cr_assert(strstr(buf, "MAX_ITEMS"), "the message does not name MAX_ITEMS: %s", buf);
}

struct adder {
    int port;
    const char *path;
    int ok, fail;
    long conns;
};

/* Thread: 1000 adds of qty 1 on its own client. */
static void *adder_run(void *arg)
{
    struct adder *a = arg;
    struct harness_client *c = harness_client_new(a->port);
    for (int i = 0; c && i < 1000; i++) {
        struct harness_resp r;
        bool sent = harness_req(c, "POST", a->path,
                                "{\"sku\":\"HOT\",\"qty\":1,\"unit_price_cents\":7}", NULL, &r);
        if (sent && r.status == 200)
            a->ok++;
        else
            a->fail++;
        if (sent)
            harness_resp_free(&r);
    }
    a->conns = c ? harness_connects(c) : -1;
    harness_client_free(c);
    return NULL;
}

Test(contract, concurrent_adds, .timeout = 120)
{
    start();
    char id[65], path[160];
    new_cart(id);
    snprintf(path, sizeof path, "/carts/%s/items", id);
    pthread_t th[8];
    struct adder ad[8];
    for (int i = 0; i < 8; i++) {
        ad[i] = (struct adder){ .port = svc.port, .path = path };
        cr_assert_eq(pthread_create(&th[i], NULL, adder_run, &ad[i]), 0);
    }
    int ok = 0, fail = 0;
    long conns = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ok += ad[i].ok;
        fail += ad[i].fail;
        conns += ad[i].conns;
    }
    cr_assert_eq(fail, 0, "%d adds failed (%ld connections)", fail, conns);
    cr_assert_eq(conns, 8, "8 keep-alive clients opened %ld connections", conns);
    cr_assert_eq(ok, 8000);
    cr_assert_eq(call("GET", P("/carts/%s", id), NULL), 200);
    cr_assert_eq(line_qty("HOT"), 8000);
    cr_assert_eq(jint("version"), 8000);
    cr_assert_eq(jint("total_cents"), 8000 * 7);
}
