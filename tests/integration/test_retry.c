/* Idempotent retries over real HTTP, against stateful-svc or (built with
 * TARGET_STATELESS) stateless-svc and a real redis-server: a repeated
 * Idempotency-Key gets the first answer again (same status, body and ETag,
 * Idempotent-Replayed: true) and changes nothing; the key with another
 * request is 422 idempotency_key_reused; a malformed key is 400. With Redis
 * frozen (SIGSTOP), an add answered 503 and retried with its key after Redis
 * wakes is in the cart exactly once and the retry is the replay; meanwhile
 * cartpair_ready says what /readyz says. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct harness_proc redis, svc;
static struct harness_client *cl;
static const char *const svc_env[] = { "REDIS_TIMEOUT_MS=300", "INSTANCE_ID=retry1", NULL };

/* Start Redis (stateless) and the service. */
static void start(void)
{
    int rport = 0;
    if (TARGET_USES_REDIS) {
        cr_assert(harness_redis_start(&redis), "redis-server did not start");
        rport = redis.port;
    }
    cr_assert(harness_svc_start(&svc, TARGET_BIN, rport, svc_env), "service did not start");
    cl = harness_client_new(svc.port);
    cr_assert_not_null(cl);
}

/* Stop everything the test started. */
static void stop(void)
{
    harness_client_free(cl);
    cl = NULL;
    harness_stop(&svc);
    if (TARGET_USES_REDIS) {
        harness_pause(&redis, false);
        harness_stop(&redis);
    }
}

TestSuite(retry, .init = start, .fini = stop, .timeout = 60);

/* One exchange: status, body and headers of interest. */
struct ex {
    long status;
    char body[2048];
    char etag[32];
    bool replayed;
};

/* Send m path body with Idempotency-Key key (NULL: none) and keep the reply in e. */
static long send_key(struct ex *e, const char *m, const char *path, const char *body,
                     const char *key)
{
    char h[128];
    const char *hdrs[] = { h, NULL };
    struct harness_resp r;
    char v[16] = "";
    if (key && !key[0])
        snprintf(h, sizeof h, "Idempotency-Key;");  /* curl's way to send an empty value */
    else
        snprintf(h, sizeof h, "Idempotency-Key: %s", key ? key : "");
    cr_assert(harness_req(cl, m, path, body, key ? hdrs : NULL, &r), "%s %s: transport", m, path);
    memset(e, 0, sizeof *e);
    e->status = r.status;
    snprintf(e->body, sizeof e->body, "%s", r.body);
    harness_header(&r, "ETag", e->etag, sizeof e->etag);
    e->replayed = harness_header(&r, "Idempotent-Replayed", v, sizeof v) && !strcmp(v, "true");
    harness_resp_free(&r);
    return e->status;
}

/* An integer field of a JSON body (-1 when absent). */
static long long jint(const char *body, const char *key)
{
    json_t *j = json_loads(body, 0, NULL);
    json_t *v = json_object_get(j, key);
    long long n = json_is_integer(v) ? json_integer_value(v) : -1;
    json_decref(j);
    return n;
}

/* The error code of a JSON error body (into out). */
static const char *jcode(const char *body, char *out, size_t outlen)
{
    json_t *j = json_loads(body, 0, NULL);
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    snprintf(out, outlen, "%s", c ? c : "");
    json_decref(j);
    return out;
}

/* Create a cart without a key; its id into id. */
static void new_cart(char *id, size_t idlen)
{
    struct ex e;
    cr_assert_eq(send_key(&e, "POST", "/carts", NULL, NULL), 201, "%s", e.body);
    json_t *j = json_loads(e.body, 0, NULL);
    snprintf(id, idlen, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

/* Assert b is the same answer as a, and a replay. */
static void same_answer(const struct ex *a, const struct ex *b, const char *what)
{
    cr_expect_eq(b->status, a->status, "%s: status %ld then %ld", what, a->status, b->status);
    cr_expect_str_eq(b->body, a->body, "%s: another body", what);
    cr_expect_str_eq(b->etag, a->etag, "%s: another ETag", what);
    cr_expect(b->replayed, "%s: no Idempotent-Replayed: true", what);
    cr_expect_not(a->replayed, "%s: the first answer says replayed", what);
}

static const char *add_a = "{\"sku\":\"A\",\"qty\":2,\"unit_price_cents\":25}";

Test(retry, replays_every_kind_of_change)
{
    char id[80], path[160], item[200];
    struct ex a, b;
    new_cart(id, sizeof id);
    snprintf(path, sizeof path, "/carts/%s/items", id);
    snprintf(item, sizeof item, "/carts/%s/items/A", id);
    cr_assert_eq(send_key(&a, "POST", path, add_a, "add-1"), 200, "%s", a.body);
    send_key(&b, "POST", path, add_a, "add-1");
    same_answer(&a, &b, "add");
    cr_assert_eq(send_key(&a, "PUT", item, "{\"qty\":5}", "set-1"), 200, "%s", a.body);
    send_key(&b, "PUT", item, "{\"qty\":5}", "set-1");
    same_answer(&a, &b, "set");
    cr_assert_eq(send_key(&a, "DELETE", item, NULL, "rm-1"), 200, "%s", a.body);
    send_key(&b, "DELETE", item, NULL, "rm-1");
    same_answer(&a, &b, "remove");
    cr_assert_eq(send_key(&a, "GET", "/carts/x", NULL, NULL), 404);
    char cart[160];
    snprintf(cart, sizeof cart, "/carts/%s", id);
    cr_assert_eq(send_key(&a, "GET", cart, NULL, NULL), 200);
    cr_expect_eq(jint(a.body, "version"), 3, "three changes, each applied once: %s", a.body);
}

Test(retry, keyed_create_replays_the_same_cart)
{
    struct ex a, b;
    const char *key = "create-0123456789abcdef";
    cr_assert_eq(send_key(&a, "POST", "/carts", NULL, key), 201, "%s", a.body);
    send_key(&b, "POST", "/carts", NULL, key);
    same_answer(&a, &b, "create");
    struct ex other;
    cr_expect_eq(send_key(&other, "POST", "/carts", NULL, "create-0123456789abcdeX"), 201);
    cr_expect_str_neq(other.body, a.body, "another key makes another cart");
    char code[64];
    cr_expect_eq(send_key(&b, "POST", "/carts", "{}", key), 422, "%s", b.body);
    cr_expect_str_eq(jcode(b.body, code, sizeof code), "idempotency_key_reused");
    cr_expect_eq(send_key(&b, "POST", "/carts", NULL, "short"), 400, "%s", b.body);
    cr_expect_str_eq(jcode(b.body, code, sizeof code), "invalid_idempotency_key");
}

Test(retry, reused_and_malformed_keys)
{
    char id[80], path[160], code[64];
    struct ex a, b;
    new_cart(id, sizeof id);
    snprintf(path, sizeof path, "/carts/%s/items", id);
    cr_assert_eq(send_key(&a, "POST", path, add_a, "k1"), 200, "%s", a.body);
    cr_expect_eq(send_key(&b, "POST", path, "{\"sku\":\"A\",\"qty\":3,\"unit_price_cents\":25}",
                          "k1"), 422, "%s", b.body);
    cr_expect_str_eq(jcode(b.body, code, sizeof code), "idempotency_key_reused");
    cr_expect_eq(send_key(&b, "POST", path, add_a, "bad key"), 400, "%s", b.body);
    cr_expect_str_eq(jcode(b.body, code, sizeof code), "invalid_idempotency_key");
    cr_expect_eq(send_key(&b, "POST", path, add_a, ""), 400, "an empty key: %s", b.body);
    char cart[160];
    snprintf(cart, sizeof cart, "/carts/%s", id);
    cr_expect_eq(send_key(&b, "DELETE", cart, NULL, "k1"), 422, "delete with an add's key");
    cr_assert_eq(send_key(&b, "GET", cart, NULL, NULL), 200);
    cr_expect_eq(jint(b.body, "version"), 1, "only the first add landed: %s", b.body);
}

Test(retry, cookie_route_is_the_same_request_as_its_path)
{
    char id[80], path[160];
    struct ex a, b;
    new_cart(id, sizeof id);    /* the client's cookie now names this cart */
    snprintf(path, sizeof path, "/carts/%s/items", id);
    cr_assert_eq(send_key(&a, "POST", path, add_a, "both-ways"), 200, "%s", a.body);
    send_key(&b, "POST", "/cart/items", add_a, "both-ways");
    cr_expect_eq(b.status, 200, "%s", b.body);
    cr_expect(b.replayed, "POST /cart/items repeats POST /carts/{id}/items");
    cr_expect_eq(jint(b.body, "version"), 1);
}

Test(retry, a_stale_if_match_retry_is_still_the_replay)
{
    char id[80], path[160];
    new_cart(id, sizeof id);
    snprintf(path, sizeof path, "/carts/%s/items", id);
    char h1[64], h2[64];
    const char *hdrs[] = { h1, h2, NULL };
    snprintf(h1, sizeof h1, "Idempotency-Key: im-1");
    snprintf(h2, sizeof h2, "If-Match: \"0\"");
    struct harness_resp r;
    cr_assert(harness_req(cl, "POST", path, add_a, hdrs, &r));
    cr_assert_eq(r.status, 200, "%s", r.body);
    harness_resp_free(&r);
    cr_assert(harness_req(cl, "POST", path, add_a, hdrs, &r));
    char v[16] = "";
    cr_expect_eq(r.status, 200, "the retry of an applied change is its replay, not 412: %s",
                 r.body);
    cr_expect(harness_header(&r, "Idempotent-Replayed", v, sizeof v));
    harness_resp_free(&r);
}

#if !defined(TARGET_STATEFUL)
/* The value of cartpair_ready in /metrics (-1 when absent). */
static long ready_gauge(void)
{
    struct harness_resp r;
    cr_assert(harness_req(cl, "GET", "/metrics", NULL, NULL, &r));
    const char *p = strstr(r.body, "cartpair_ready{");
    p = p ? strchr(p, '}') : NULL;
    long v = p ? atol(p + 1) : -1;
    harness_resp_free(&r);
    return v;
}

Test(retry, frozen_redis_503_then_retry_is_the_replay)
{
    char id[80], path[160], cart[160], code[64];
    struct ex a, b;
    new_cart(id, sizeof id);
    snprintf(path, sizeof path, "/carts/%s/items", id);
    snprintf(cart, sizeof cart, "/carts/%s", id);
    cr_assert_eq(ready_gauge(), 1);
    harness_pause(&redis, true);
    cr_assert_eq(send_key(&a, "POST", path, add_a, "frozen-1"), 503, "%s", a.body);
    cr_expect_str_eq(jcode(a.body, code, sizeof code), "store_unavailable");
    struct ex rz;
    cr_expect_eq(send_key(&rz, "GET", "/readyz", NULL, NULL), 503, "%s", rz.body);
    cr_expect_eq(ready_gauge(), 0, "cartpair_ready while /readyz answers 503");
    harness_pause(&redis, false);
    long st = 0;
    for (long long end = harness_ms() + 5000; harness_ms() < end && st != 200; harness_nap(50))
        st = send_key(&rz, "GET", "/readyz", NULL, NULL);
    cr_assert_eq(st, 200, "not ready after Redis woke");
    cr_expect_eq(ready_gauge(), 1);
    cr_assert_eq(send_key(&b, "POST", path, add_a, "frozen-1"), 200, "%s", b.body);
    cr_expect(b.replayed, "the add that landed while its client saw 503 is replayed");
    cr_assert_eq(send_key(&b, "GET", cart, NULL, NULL), 200);
    cr_expect_eq(jint(b.body, "version"), 1, "applied exactly once: %s", b.body);
    cr_expect(strstr(b.body, "\"qty\":2") != NULL, "qty of one add: %s", b.body);
}
#endif
