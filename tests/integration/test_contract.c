/* The API contract (API.md) over real HTTP: cart lifecycle, session cookie,
 * common headers, ops endpoints, expiry, drain, config and concurrency;
 * against stateful-svc or, built with TARGET_STATELESS, against stateless-svc
 * and a real redis-server. The error paths are in test_errors.c. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "contract.h"

#if defined(TARGET_STATEFUL)
#define STATEFUL true
#define SERVICE "stateful-svc"
#define STORE "memory"
#else
#define STATEFUL false
#define SERVICE "stateless-svc"
#define STORE "redis"
#endif

TestSuite(contract, .fini = contract_stop, .timeout = 60);

Test(contract, create_cart)
{
    contract_start(STATEFUL);
    char id[65], id2[65], v[512], want[600];
    contract_new_cart(id);
    cr_assert_eq(contract_jint("version"), 0);
    cr_assert_eq(json_array_size(json_object_get(contract_json, "items")), 0);
    cr_assert_eq(contract_jint("total_cents"), 0);
    cr_assert(contract_jint("expires_in") >= contract_ttl - 1, "expires_in %lld",
              contract_jint("expires_in"));
    cr_assert(harness_header(&contract_resp, "Location", v, sizeof v));
    cr_assert_str_eq(v, contract_path("/carts/%s", id));
    cr_assert(harness_header(&contract_resp, "Set-Cookie", v, sizeof v));
    snprintf(want, sizeof want, "cart=%s;", id);
    cr_assert(strncmp(v, want, strlen(want)) == 0, "Set-Cookie %s", v);
    snprintf(want, sizeof want, "Max-Age=%lld", contract_ttl);
    cr_assert(strstr(v, "Path=/") && strstr(v, "HttpOnly") && strstr(v, "SameSite=Lax") &&
              strstr(v, want), "Set-Cookie %s", v);
    cr_assert(harness_header(&contract_resp, "ETag", v, sizeof v));
    cr_assert_str_eq(v, "\"0\"");
    if (!TARGET_USES_REDIS)
        cr_assert(strncmp(id, CONTRACT_INSTANCE "-", strlen(CONTRACT_INSTANCE) + 1) == 0,
                  "id %s lacks tag", id);
    cr_assert_eq(contract_call("POST", "/carts", "{}"), 201, "%s", contract_resp.body);
    snprintf(id2, sizeof id2, "%s", json_string_value(json_object_get(contract_json, "id")));
    cr_assert_str_neq(id, id2);
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", id), NULL), 200);
    cr_assert_str_eq(json_string_value(json_object_get(contract_json, "id")), id);
}

Test(contract, add_merge_price_set_remove)
{
    contract_start(STATEFUL);
    char id[65];
    contract_new_cart(id);
    cr_assert_eq(contract_add(id, "BOOK-42", 2, 1999), 200, "%s", contract_resp.body);
    cr_assert_eq(contract_jint("version"), 1);
    cr_assert_eq(contract_jint("total_cents"), 3998);
    cr_assert_eq(contract_call("POST", contract_path("/carts/%s/items", id),
                               "{\"sku\":\"BOOK-42\",\"qty\":3}"), 200,
                 "merge without price: %s", contract_resp.body);
    cr_assert_eq(contract_line_qty("BOOK-42"), 5);
    cr_assert_eq(contract_jint("total_cents"), 5 * 1999);
    cr_assert_eq(contract_add(id, "BOOK-42", 1, 1000), 200);
    cr_assert_eq(contract_line_qty("BOOK-42"), 6);
    cr_assert_eq(contract_jint("total_cents"), 6000, "price update: %s", contract_resp.body);
    contract_call("POST", contract_path("/carts/%s/items", id), "{\"sku\":\"PEN\",\"qty\":1}");
    contract_expect_err(400, "invalid_field");    /* API.md: a new line without a price */
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", id), NULL), 200);
    cr_assert_eq(contract_jint("version"), 3);
    cr_assert_eq(contract_line_qty("PEN"), 0);
    cr_assert_eq(contract_call("PUT", contract_path("/carts/%s/items/BOOK-42", id), "{\"qty\":2}"),
                 200, "%s", contract_resp.body);
    cr_assert_eq(contract_line_qty("BOOK-42"), 2);
    cr_assert_eq(contract_call("PUT", contract_path("/carts/%s/items/PEN", id),
                               "{\"qty\":4,\"unit_price_cents\":50}"),
                 200, "set creates a line with a price: %s", contract_resp.body);
    cr_assert_eq(contract_jint("total_cents"), 2000 + 200);
    cr_assert_eq(contract_call("PUT", contract_path("/carts/%s/items/BOOK-42", id), "{\"qty\":0}"),
                 200);
    cr_assert_eq(contract_line_qty("BOOK-42"), 0);
    cr_assert_eq(json_array_size(json_object_get(contract_json, "items")), 1);
    cr_assert_eq(contract_call("DELETE", contract_path("/carts/%s/items/PEN", id), NULL), 200);
    cr_assert_eq(json_array_size(json_object_get(contract_json, "items")), 0);
    cr_assert_eq(contract_jint("version"), 7);
    contract_call("DELETE", contract_path("/carts/%s/items/PEN", id), NULL);
    contract_expect_err(404, "no_such_item");
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", id), NULL), 200);
    cr_assert_eq(contract_jint("version"), 7);
}

Test(contract, delete_cart)
{
    contract_start(STATEFUL);
    char id[65];
    contract_new_cart(id);
    cr_assert_eq(contract_call("DELETE", contract_path("/carts/%s", id), NULL), 204, "%s",
                 contract_resp.body);
    cr_assert_eq(contract_resp.body_len, 0);
    contract_call("GET", contract_path("/carts/%s", id), NULL);
    contract_expect_err(404, "cart_not_found");
    contract_call("DELETE", contract_path("/carts/%s", id), NULL);
    contract_expect_err(404, "cart_not_found");
    contract_add(id, "A", 1, 1);
    contract_expect_err(404, "cart_not_found");
    contract_call("PUT", contract_path("/carts/%s/items/A", id), "{\"qty\":1}");
    contract_expect_err(404, "cart_not_found");
}

Test(contract, session_routes)
{
    contract_start(STATEFUL);
    char id[65];
    contract_call("GET", "/cart", NULL);
    contract_expect_err(404, "no_session");
    contract_call("POST", "/cart/items", "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":5}");
    contract_expect_err(404, "no_session");
    contract_new_cart(id);
    cr_assert_eq(contract_call("GET", "/cart", NULL), 200, "%s", contract_resp.body);
    cr_assert_str_eq(json_string_value(json_object_get(contract_json, "id")), id);
    cr_assert_eq(contract_call("POST", "/cart/items",
                               "{\"sku\":\"A\",\"qty\":2,\"unit_price_cents\":5}"),
                 200, "%s", contract_resp.body);
    cr_assert_eq(contract_call("PUT", "/cart/items/A", "{\"qty\":7}"), 200, "%s",
                 contract_resp.body);
    cr_assert_eq(contract_line_qty("A"), 7);
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", id), NULL), 200);
    cr_assert_eq(contract_line_qty("A"), 7);
    cr_assert_eq(contract_call("DELETE", "/cart/items/A", NULL), 200, "%s", contract_resp.body);
    contract_call("DELETE", "/cart/items/A", NULL);
    contract_expect_err(404, "no_such_item");
    cr_assert_eq(contract_call("DELETE", "/cart", NULL), 204, "%s", contract_resp.body);
    contract_call("GET", "/cart", NULL);
    cr_assert_eq(contract_resp.status, 404, "%s", contract_resp.body);
    const char *code =
        json_string_value(json_object_get(json_object_get(contract_json, "error"), "code"));
    cr_assert(code && (!strcmp(code, "cart_not_found") || !strcmp(code, "no_session")), "%s",
              contract_resp.body);
    char cookie[128];
    snprintf(cookie, sizeof cookie, "Cookie: cart=%s", id);
    const char *h[] = { cookie, NULL };
    contract_call_h("GET", "/cart", NULL, h);
    contract_expect_err(404, "cart_not_found");
}

Test(contract, ops_endpoints)
{
    contract_start(STATEFUL);
    char id[65], v[256];
    cr_assert_eq(contract_call("GET", "/healthz", NULL), 200);
    cr_assert_str_eq(json_string_value(json_object_get(contract_json, "status")), "ok");
    cr_assert_eq(contract_call("GET", "/readyz", NULL), 200, "%s", contract_resp.body);
    contract_new_cart(id);
    contract_new_cart(id);
    cr_assert_eq(contract_call("GET", "/info", NULL), 200);
    cr_assert_str_eq(contract_jstr("service"), SERVICE);
    cr_assert_str_eq(contract_jstr("instance"), CONTRACT_INSTANCE);
    cr_assert_str_eq(contract_jstr("store"), STORE);
    cr_assert(json_is_string(json_object_get(contract_json, "version")), "%s", contract_resp.body);
    cr_assert(json_is_integer(json_object_get(contract_json, "carts")), "%s", contract_resp.body);
    cr_assert_eq(contract_jint("carts"), 2, "%s", contract_resp.body);
    cr_assert_eq(contract_call("GET", "/metrics", NULL), 200);
    cr_assert(strstr(contract_resp.body, "cartpair_http_requests_total"), "metrics: %.300s",
              contract_resp.body);
    const char *h[] = { "X-Request-Id: req-abc-123", NULL };
    contract_call_h("GET", "/healthz", NULL, h);
    cr_assert(harness_header(&contract_resp, "X-Request-Id", v, sizeof v));
    cr_assert_str_eq(v, "req-abc-123");
    contract_call_h("GET", "/nope", NULL, h);
    cr_assert(harness_header(&contract_resp, "X-Request-Id", v, sizeof v));
    cr_assert_str_eq(v, "req-abc-123");
    char v2[256];
    contract_call("GET", "/healthz", NULL);
    cr_assert(harness_header(&contract_resp, "X-Request-Id", v, sizeof v));
    contract_call("GET", "/healthz", NULL);
    cr_assert(harness_header(&contract_resp, "X-Request-Id", v2, sizeof v2));
    cr_assert_str_neq(v, v2, "generated request ids repeat");
}

Test(contract, big_totals_and_order)
{
    contract_start(STATEFUL);
    char id[65];
    contract_new_cart(id);
    const char *skus[] = { "zeta", "alpha", "Mid", "beta-2", "beta.1", "0num", "_u", "x", NULL };
    for (int i = 0; skus[i]; i++)
        cr_assert_eq(contract_add(id, skus[i], 9999, 1000000000LL), 200, "%s", contract_resp.body);
    cr_assert_eq(contract_jint("total_cents"), 8LL * 9999LL * 1000000000LL);
    const char *sorted[] = { "0num", "Mid", "_u", "alpha", "beta-2", "beta.1", "x", "zeta" };
    json_t *items = json_object_get(contract_json, "items");
    cr_assert_eq(json_array_size(items), 8);
    for (size_t i = 0; i < 8; i++)
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, i), "sku")),
                         sorted[i]);
}

Test(contract, expiry, .timeout = 30)
{
    const char *env[] = { "CART_TTL_SECONDS=1", NULL };
    contract_start_with(STATEFUL, env);
    char idle[65], busy[65];
    contract_new_cart(idle);
    contract_new_cart(busy);
    long long t0 = harness_ms();
    for (int i = 0; i < 5; i++) {
        harness_nap(500);
        cr_assert_eq(contract_call("GET", contract_path("/carts/%s", busy), NULL), 200,
                     "touched cart expired after %lld ms", harness_ms() - t0);
    }
    cr_assert_eq(contract_add(busy, "A", 1, 1), 200);
    while (harness_ms() - t0 < 2200)
        harness_nap(50);
    contract_call("GET", contract_path("/carts/%s", idle), NULL);
    contract_expect_err(404, "cart_not_found");
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", busy), NULL), 200,
                 "busy cart expired");
}

Test(contract, drain, .timeout = 30)
{
    const char *env[] = { "DRAIN_SECONDS=2", NULL };
    contract_start_with(STATEFUL, env);
    char id[65];
    contract_new_cart(id);
    cr_assert_eq(kill(contract_svc.pid, SIGTERM), 0);
    long long t0 = harness_ms();
    harness_nap(100);
    cr_assert_eq(contract_call("GET", "/readyz", NULL), 503, "readyz while draining: %s",
                 contract_resp.body);
    cr_assert_eq(contract_call("GET", "/healthz", NULL), 200);
    cr_assert_eq(contract_add(id, "A", 1, 1), 200, "cart change while draining: %s",
                 contract_resp.body);
    struct harness_client *old = contract_client;
    contract_client = harness_client_new(contract_svc.port);
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", id), NULL), 200,
                 "new connection while draining");
    long st = contract_call("POST", "/carts", NULL);
    if (st != 201)
        contract_expect_err(503, "draining");
    harness_client_free(old);
    int wst = -1;
    pid_t r = 0;
    while (r == 0 && harness_ms() - t0 < 8000) {
        r = waitpid(contract_svc.pid, &wst, WNOHANG);
        if (r == 0)
            harness_nap(50);
    }
    cr_assert_eq(r, contract_svc.pid, "still running %lld ms after SIGTERM", harness_ms() - t0);
    contract_svc.pid = 0;
    cr_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "exit status %d", wst);
    cr_assert(harness_ms() - t0 >= 1900, "exited after %lld ms, before DRAIN_SECONDS",
              harness_ms() - t0);
}

Test(contract, bad_config)
{
    const char *env[] = { "MAX_ITEMS=lots", NULL };
    int rport = 0;
    if (TARGET_USES_REDIS) {
        cr_assert(harness_redis_start(&contract_redis));
        rport = contract_redis.port;
    }
    cr_assert_not(harness_svc_start(&contract_svc, contract_bin(STATEFUL), rport, env),
                  "started with MAX_ITEMS=lots");
    FILE *f = fopen(contract_svc.log, "r");
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
    contract_start(STATEFUL);
    char id[65], path[160];
    contract_new_cart(id);
    snprintf(path, sizeof path, "/carts/%s/items", id);
    pthread_t th[8];
    struct adder ad[8];
    for (int i = 0; i < 8; i++) {
        ad[i] = (struct adder){ .port = contract_svc.port, .path = path };
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
    cr_assert_eq(contract_call("GET", contract_path("/carts/%s", id), NULL), 200);
    cr_assert_eq(contract_line_qty("HOT"), 8000);
    cr_assert_eq(contract_jint("version"), 8000);
    cr_assert_eq(contract_jint("total_cents"), 8000 * 7);
}

/* A client hammering GET until told to stop (bounded: at most 20000 requests). */
struct hammer {
    int port;
    const char *path;
    atomic_bool *stop;
    int ok, refused, broken;
};

/* Thread body: GET in a loop on one keep-alive client, counting outcomes. */
static void *hammer_run(void *ud)
{
    struct hammer *h = ud;
    struct harness_client *c = harness_client_new(h->port);
    for (int i = 0; i < 20000 && !atomic_load(h->stop); i++) {
        struct harness_resp r;
        if (!harness_req(c, "GET", h->path, NULL, NULL, &r)) {
            h->broken++; /* the server has gone: expected at the end */
            break;
        }
        h->ok += r.status == 200;
        h->refused += r.status == 503;
        harness_resp_free(&r);
    }
    harness_client_free(c);
    return NULL;
}

/* SIGTERM while clients keep their connections busy: requests in flight
 * finish, later ones get 503, and the process exits 0 (no abort). */
Test(contract, sigterm_under_load, .timeout = 60)
{
    contract_start(STATEFUL);
    char id[65], path[160];
    contract_new_cart(id);
    snprintf(path, sizeof path, "/carts/%s", id);
    atomic_bool stop = false;
    pthread_t th[4];
    struct hammer hm[4];
    for (int i = 0; i < 4; i++) {
        hm[i] = (struct hammer){ .port = contract_svc.port, .path = path, .stop = &stop };
        cr_assert_eq(pthread_create(&th[i], NULL, hammer_run, &hm[i]), 0);
    }
    harness_nap(300);
    cr_assert_eq(kill(contract_svc.pid, SIGTERM), 0);
    int wst = -1;
    pid_t r = 0;
    long long t0 = harness_ms();
    while (r == 0 && harness_ms() - t0 < 15000) {
        r = waitpid(contract_svc.pid, &wst, WNOHANG);
        if (r == 0)
            harness_nap(20);
    }
    atomic_store(&stop, true);
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += hm[i].ok;
    }
    cr_assert_eq(r, contract_svc.pid, "still running %lld ms after SIGTERM", harness_ms() - t0);
    contract_svc.pid = 0;
    cr_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "exit status %d (signal %d)", wst,
              WIFSIGNALED(wst) ? WTERMSIG(wst) : 0);
    cr_assert_gt(ok, 0, "no request was served before SIGTERM");
}
