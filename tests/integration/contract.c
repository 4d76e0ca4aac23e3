/* contract: shared helpers of the API contract suites. See contract.h. */
#include "contract.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct harness_proc contract_redis, contract_svc;
struct harness_client *contract_client;
struct harness_resp contract_resp;
json_t *contract_json;
long long contract_ttl = 1800;

/* The service binary under test. */
const char *contract_bin(bool stateful)
{
    return stateful ? STATEFUL_BIN : STATELESS_BIN;
}

/* Start Redis (stateless) and the service with extra env entries; one client. */
void contract_start_with(bool stateful, const char *const *env)
{
    const char *base[16] = { "INSTANCE_ID=" CONTRACT_INSTANCE };
    int n = 1;
    for (int i = 0; env && env[i] && n < 15; i++) {
        base[n++] = env[i];
        if (strncmp(env[i], "CART_TTL_SECONDS=", 17) == 0)
            contract_ttl = atoll(env[i] + 17);
    }
    base[n] = NULL;
    int rport = 0;
    if (!stateful) {
        cr_assert(harness_redis_start(&contract_redis), "redis-server did not start");
        rport = contract_redis.port;
    }
    const char *bin = contract_bin(stateful);
    cr_assert(harness_svc_start(&contract_svc, bin, rport, base), "%s did not start", bin);
    contract_client = harness_client_new(contract_svc.port);
    cr_assert_not_null(contract_client);
}

/* Start with the defaults. */
void contract_start(bool stateful)
{
    contract_start_with(stateful, NULL);
}

/* Stop everything the test started (Redis only runs for stateless-svc). */
void contract_stop(void)
{
    harness_resp_free(&contract_resp);
    json_decref(contract_json);
    contract_json = NULL;
    harness_client_free(contract_client);
    contract_client = NULL;
    harness_stop(&contract_svc);
    harness_stop(&contract_redis);
}

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
    cr_assert(json_is_integer(e) && json_integer_value(e) >= 0 &&
              json_integer_value(e) <= contract_ttl,
              "expires_in %lld (ttl %lld)", (long long)json_integer_value(e), contract_ttl);
}

/* Headers every response carries, and the cart checks for cart responses. */
static void check_common(const char *path)
{
    char v[256];
    cr_assert(harness_header(&contract_resp, "X-Instance", v, sizeof v),
              "no X-Instance on %s", path);
    cr_assert_str_eq(v, CONTRACT_INSTANCE);
    cr_assert(harness_header(&contract_resp, "X-Request-Id", v, sizeof v) && v[0],
              "no X-Request-Id");
    if (contract_resp.status == 204)
        return;
    cr_assert(harness_header(&contract_resp, "Content-Type", v, sizeof v),
              "no Content-Type on %s", path);
    const char *want = strcmp(path, "/metrics") == 0 ? "text/plain" : "application/json";
    cr_assert(strncmp(v, want, strlen(want)) == 0, "Content-Type %s on %s", v, path);
    if (strncmp(path, "/cart", 5) != 0 ||
        (contract_resp.status != 200 && contract_resp.status != 201))
        return;
    cr_assert(harness_header(&contract_resp, "Cache-Control", v, sizeof v) &&
              strstr(v, "no-store"), "no Cache-Control: no-store on %s", path);
    check_cart(contract_json);
    char etag[64];
    snprintf(etag, sizeof etag, "\"%lld\"",
             (long long)json_integer_value(json_object_get(contract_json, "version")));
    cr_assert(harness_header(&contract_resp, "ETag", v, sizeof v), "no ETag on %s", path);
    cr_assert_str_eq(v, etag);
}

/* Send a request on the test's client; the reply goes to contract_resp and contract_json. */
long contract_call_h(const char *m, const char *path, const char *body, const char *const *h)
{
    harness_resp_free(&contract_resp);
    json_decref(contract_json);
    contract_json = NULL;
    cr_assert(harness_req(contract_client, m, path, body, h, &contract_resp),
              "%s %s: transport error", m, path);
    contract_json = json_loads(contract_resp.body, JSON_DECODE_ANY, NULL);
    check_common(path);
    return contract_resp.status;
}

/* contract_call_h without extra headers. */
long contract_call(const char *m, const char *path, const char *body)
{
    return contract_call_h(m, path, body, NULL);
}

/* Assert the last reply is an error with this status and code (line: the caller's). */
void contract_expect_err_at(int line, long status, const char *code)
{
    if (contract_resp.status != status)
        harness_log_tail(&contract_svc);
    cr_assert_eq(contract_resp.status, status, "line %d: want %ld %s, got %ld %s", line, status,
                 code, contract_resp.status, contract_resp.body);
    json_t *e = json_object_get(contract_json, "error");
    cr_assert(json_is_object(e), "line %d: no error object: %s", line, contract_resp.body);
    const char *got = json_string_value(json_object_get(e, "code"));
    cr_assert_str_eq(got ? got : "", code, "line %d: %s", line, contract_resp.body);
    const char *msg = json_string_value(json_object_get(e, "message"));
    cr_assert(msg && msg[0], "line %d: no message: %s", line, contract_resp.body);
}

/* Integer field of the last reply. */
long long contract_jint(const char *key)
{
    return json_integer_value(json_object_get(contract_json, key));
}

/* String field of the last reply, "" when absent. */
const char *contract_jstr(const char *key)
{
    const char *s = json_string_value(json_object_get(contract_json, key));
    return s ? s : "";
}

/* qty of sku in the last cart reply, 0 when absent. */
long long contract_line_qty(const char *sku)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(contract_json, "items"), i, it)
        if (strcmp(json_string_value(json_object_get(it, "sku")), sku) == 0)
            return json_integer_value(json_object_get(it, "qty"));
    return 0;
}

/* Create a cart and write its id to id (65 bytes). */
void contract_new_cart(char *id)
{
    cr_assert_eq(contract_call("POST", "/carts", NULL), 201, "create: %s", contract_resp.body);
    snprintf(id, 65, "%s", json_string_value(json_object_get(contract_json, "id")));
}

/* Build a path from a format into a static buffer. */
const char *contract_path(const char *fmt, ...)
{
    static char buf[2][256];
    static int k;
    va_list ap;
    k ^= 1;
    va_start(ap, fmt);
    vsnprintf(buf[k], sizeof buf[k], fmt, ap);
    va_end(ap);
    return buf[k];
}

/* Add qty of sku at price; returns the status. */
long contract_add(const char *id, const char *sku, long qty, long long price)
{
    char body[200];
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"qty\":%ld,\"unit_price_cents\":%lld}",
             sku, qty, price);
    return contract_call("POST", contract_path("/carts/%s/items", id), body);
}

