/* stateless-svc when Redis goes away, hangs, or is not there at start-up:
 * 503 store_unavailable with Retry-After within the Redis timeout, liveness
 * unaffected, readiness follows the store, nothing half-written, and
 * recovery without a restart of the service. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define TIMEOUT_MS 200
#define BOUND_MS (4 * TIMEOUT_MS + 200)   /* a request during an outage answers within this */

static struct harness_proc redis, svc;
static struct harness_client *cl;
static struct harness_resp R;
static json_t *J;
static long long elapsed;                 /* duration of the last request, ms */
static const char *const svc_env[] = { "REDIS_TIMEOUT_MS=200", NULL };

/* Stop everything the test started. */
static void stop(void)
{
    harness_resp_free(&R);
    json_decref(J);
    J = NULL;
    harness_client_free(cl);
    cl = NULL;
    harness_stop(&svc);
    harness_stop(&redis);
}

TestSuite(outage, .fini = stop, .timeout = 60);

/* Start Redis and stateless-svc with a short Redis timeout. */
static void start(void)
{
    cr_assert(harness_redis_start(&redis), "redis-server did not start");
    cr_assert(harness_svc_start(&svc, STATELESS_BIN, redis.port, svc_env), "svc did not start");
    cl = harness_client_new(svc.port);
    cr_assert_not_null(cl);
}

/* Send a request; R, J and elapsed describe the reply. */
static long call(const char *m, const char *path, const char *body)
{
    harness_resp_free(&R);
    json_decref(J);
    J = NULL;
    long long t0 = harness_ms();
    cr_assert(harness_req(cl, m, path, body, NULL, &R), "%s %s: transport error", m, path);
    elapsed = harness_ms() - t0;
    J = json_loads(R.body, JSON_DECODE_ANY, NULL);
    char v[128];
    cr_assert(harness_header(&R, "X-Instance", v, sizeof v), "no X-Instance");
    return R.status;
}

/* Assert the last reply is 503 store_unavailable with Retry-After, in time. */
static void expect_unavailable(const char *what)
{
    cr_assert_eq(R.status, 503, "%s: want 503, got %ld %s", what, R.status, R.body);
    const char *code = json_string_value(json_object_get(json_object_get(J, "error"), "code"));
    cr_assert_str_eq(code ? code : "", "store_unavailable", "%s: %s", what, R.body);
    char v[64];
    cr_assert(harness_header(&R, "Retry-After", v, sizeof v), "%s: no Retry-After", what);
    cr_assert(atoi(v) >= 1, "%s: Retry-After %s", what, v);
    cr_assert(elapsed <= BOUND_MS, "%s took %lld ms (REDIS_TIMEOUT_MS %d)", what, elapsed,
              TIMEOUT_MS);
}

/* Poll /readyz until it answers want (bounded 5 s); true when it did. */
static bool wait_ready(long want)
{
    for (long long end = harness_ms() + 5000; harness_ms() < end; harness_nap(50))
        if (call("GET", "/readyz", NULL) == want)
            return true;
    return false;
}

/* Integer field of the last reply. */
static long long jint(const char *key)
{
    return json_integer_value(json_object_get(J, key));
}

/* qty of the only line "A" of the last cart reply (0 when absent). */
static long long qty_a(void)
{
    json_t *it = json_array_get(json_object_get(J, "items"), 0);
    return it ? json_integer_value(json_object_get(it, "qty")) : 0;
}

/* Create a cart; its path goes to path (160 bytes). */
static void new_cart(char *path)
{
    cr_assert_eq(call("POST", "/carts", NULL), 201, "create: %s", R.body);
    snprintf(path, 160, "/carts/%s", json_string_value(json_object_get(J, "id")));
}

static const char *add_a = "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":25}";

/* Add one A to the cart at path; returns the status. */
static long add(const char *path)
{
    char p[200];
    snprintf(p, sizeof p, "%s/items", path);
    return call("POST", p, add_a);
}

Test(outage, redis_stopped_then_back)
{
    start();
    char cart[160];
    new_cart(cart);
    cr_assert_eq(add(cart), 200);
    harness_stop(&redis);
    call("GET", cart, NULL);
    expect_unavailable("GET cart");
    add(cart);
    expect_unavailable("add");
    call("POST", "/carts", NULL);
    expect_unavailable("create");
    call("DELETE", cart, NULL);
    expect_unavailable("delete");
    cr_assert_eq(call("GET", "/readyz", NULL), 503, "readyz: %ld %s", R.status, R.body);
    cr_assert(elapsed <= BOUND_MS, "readyz took %lld ms", elapsed);
    cr_assert_eq(call("GET", "/healthz", NULL), 200, "healthz: %ld", R.status);
    cr_assert_eq(call("GET", "/info", NULL), 200, "info during outage: %ld %s", R.status, R.body);
    cr_assert(harness_redis_restart(&redis), "redis did not restart on port %d", redis.port);
    cr_assert(wait_ready(200), "not ready 5 s after Redis came back: %ld %s", R.status, R.body);
    new_cart(cart);
    cr_assert_eq(add(cart), 200, "%s", R.body);
    cr_assert_eq(add(cart), 200, "%s", R.body);
    cr_assert_eq(jint("version"), 2);
    cr_assert_eq(qty_a(), 2);
}

Test(outage, hung_redis_half_writes_nothing)
{
    start();
    char cart[160];
    new_cart(cart);
    cr_assert_eq(add(cart), 200);
    harness_pause(&redis, true);
    for (int i = 0; i < 3; i++) {
        add(cart);
        expect_unavailable("add to a hung Redis");
    }
    call("GET", cart, NULL);
    expect_unavailable("GET from a hung Redis");
    cr_assert_eq(call("GET", "/readyz", NULL), 503, "readyz: %ld %s", R.status, R.body);
    cr_assert(elapsed <= BOUND_MS, "readyz took %lld ms", elapsed);
    cr_assert_eq(call("GET", "/healthz", NULL), 200);
    cr_assert(elapsed <= BOUND_MS, "healthz took %lld ms", elapsed);
    harness_pause(&redis, false);
    cr_assert(wait_ready(200), "not ready 5 s after Redis resumed: %ld %s", R.status, R.body);
    cr_assert_eq(call("GET", cart, NULL), 200, "%s", R.body);
    /* A timed-out add may have landed, but only whole: one version per unit. */
    long long v = jint("version");
    cr_assert(v >= 1 && v <= 4, "version %lld after 1 add and 3 failed ones", v);
    cr_assert_eq(qty_a(), v, "qty %lld vs version %lld: %s", qty_a(), v, R.body);
    cr_assert_eq(jint("total_cents"), 25 * v);
    for (int i = 1; i <= 5; i++) {
        cr_assert_eq(add(cart), 200, "add %d after recovery: %ld %s", i, R.status, R.body);
        cr_assert_eq(jint("version"), v + i, "replies out of step: %s", R.body);
        cr_assert_eq(qty_a(), v + i, "%s", R.body);
    }
}

Test(outage, start_without_redis)
{
    cr_assert(harness_redis_start(&redis), "redis-server did not start");
    harness_stop(&redis);
    cr_assert(harness_svc_start(&svc, STATELESS_BIN, redis.port, svc_env),
              "stateless-svc must start (and be live) while Redis is down");
    cl = harness_client_new(svc.port);
    cr_assert_not_null(cl);
    cr_assert_eq(call("GET", "/healthz", NULL), 200);
    cr_assert_eq(call("GET", "/readyz", NULL), 503, "readyz: %ld %s", R.status, R.body);
    call("POST", "/carts", NULL);
    expect_unavailable("create without Redis");
    cr_assert(harness_redis_restart(&redis), "redis did not start on port %d", redis.port);
    cr_assert(wait_ready(200), "not ready 5 s after Redis came up: %ld %s", R.status, R.body);
    char cart[160];
    new_cart(cart);
    cr_assert_eq(add(cart), 200, "%s", R.body);
    cr_assert_eq(call("GET", cart, NULL), 200);
    cr_assert_eq(qty_a(), 1);
}

/* A Redis that answers, but only after the timeout: DEBUG SLEEP from a raw
 * connection blocks it for 1 s (harness starts redis with the DEBUG command
 * enabled for local clients). Every request meanwhile gets a clear 503 in
 * bounded time; afterwards the service recovers by itself, nothing lost. */
Test(outage, slow_redis)
{
    start();
    char cart[160];
    new_cart(cart);
    cr_assert_eq(add(cart), 200);
    int fd = harness_raw_connect(redis.port, NULL, 3000);
    cr_assert(fd >= 0, "no raw connection to redis");
    const char *sleep_cmd = "DEBUG SLEEP 1\r\n";
    cr_assert(harness_raw_send(fd, sleep_cmd, strlen(sleep_cmd)));
    harness_nap(50);
    long long t0 = harness_ms();
    int unavailable = 0;
    for (int i = 0; i < 3 && harness_ms() - t0 < 700; i++) {
        call("GET", cart, NULL);
        expect_unavailable("GET while Redis sleeps");
        unavailable++;
    }
    cr_assert(unavailable >= 2, "only %d requests fell inside the sleep", unavailable);
    char reply[8] = "";
    cr_assert(recv(fd, reply, 3, MSG_WAITALL) == 3 && !memcmp(reply, "+OK", 3),
              "DEBUG SLEEP did not answer: '%s'", reply);
    close(fd);
    cr_assert(wait_ready(200), "not ready after Redis woke up: %ld %s", R.status, R.body);
    cr_assert_eq(call("GET", cart, NULL), 200, "%s", R.body);
    cr_assert_eq(jint("version"), 1, "a GET changed the cart: %s", R.body);
    cr_assert_eq(qty_a(), 1);
    cr_assert_eq(add(cart), 200, "%s", R.body);
    cr_assert_eq(qty_a(), 2);
}
