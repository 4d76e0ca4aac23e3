/* hostile: shared helpers of the hostile-client suite. See hostile.h. */
#include "hostile.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *const svc_env[] = { "MAX_CONNECTIONS_PER_IP=200", "IDLE_TIMEOUT_SECONDS=2",
                                       "INSTANCE_ID=hostile1", NULL };

/* Send a request with the harness client; status, body copied to out (may be NULL). */
long hostile_call(struct hostile *h, const char *m, const char *path, const char *body,
                  char *out, size_t outlen)
{
    struct harness_resp r;
    cr_assert(harness_req(h->cl, m, path, body, NULL, &r), "%s %s: transport error", m, path);
    if (out)
        snprintf(out, outlen, "%s", r.body);
    long st = r.status;
    harness_resp_free(&r);
    return st;
}

/* The cart's version and items as canonical JSON (malloc'd), or NULL when not 200. */
static char *snapshot(struct hostile *h, const char *id)
{
    char path[128], body[8192];
    snprintf(path, sizeof path, "/carts/%s", id);
    if (hostile_call(h, "GET", path, NULL, body, sizeof body) != 200)
        return NULL;
    json_t *j = json_loads(body, 0, NULL), *o = json_object();
    json_object_set(o, "version", json_object_get(j, "version"));
    json_object_set(o, "items", json_object_get(j, "items"));
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    json_decref(j);
    return s;
}

/* Create HOSTILE_NCARTS carts with a few lines each (sku "A" in every one); remember them. */
static void seed(struct hostile *h)
{
    static const char *const lines[] = {
        "{\"sku\":\"A\",\"qty\":2,\"unit_price_cents\":150}",
        "{\"sku\":\"B-2\",\"qty\":1,\"unit_price_cents\":999}",
        "{\"sku\":\"c.3\",\"qty\":7,\"unit_price_cents\":1}" };
    for (int i = 0; i < HOSTILE_NCARTS; i++) {
        char body[1024], path[256];
        cr_assert_eq(hostile_call(h, "POST", "/carts", NULL, body, sizeof body), 201,
                     "create: %s", body);
        json_t *j = json_loads(body, 0, NULL);
        snprintf(h->ids[i], sizeof h->ids[i], "%s", json_string_value(json_object_get(j, "id")));
        json_decref(j);
        snprintf(path, sizeof path, "/carts/%s/items", h->ids[i]);
        for (int k = 0; k <= i; k++)
            cr_assert_eq(hostile_call(h, "POST", path, lines[k], body, sizeof body), 200,
                         "%s", body);
        h->want[i] = snapshot(h, h->ids[i]);
        cr_assert_not_null(h->want[i]);
    }
}

/* Start Redis (use_redis), the service and a client; raise our fd limit; seed carts. */
void hostile_start(struct hostile *h, const char *bin, bool use_redis)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    memset(h, 0, sizeof *h);
    h->use_redis = use_redis;
    int rport = 0;
    if (use_redis) {
        cr_assert(harness_redis_start(&h->redis), "redis-server did not start");
        rport = h->redis.port;
    }
    cr_assert(harness_svc_start(&h->svc, bin, rport, svc_env), "%s did not start", bin);
    h->cl = harness_client_new(h->svc.port);
    cr_assert_not_null(h->cl);
    seed(h);
}

/* Stop everything the test started. */
void hostile_stop(struct hostile *h)
{
    for (int i = 0; i < HOSTILE_NCARTS; i++) {
        free(h->want[i]);
        h->want[i] = NULL;
    }
    harness_client_free(h->cl);
    h->cl = NULL;
    harness_stop(&h->svc);
    if (h->use_redis)
        harness_stop(&h->redis);
}

/* A new well-behaved client is served, and every seeded cart is exactly as it was. */
void hostile_check_intact(struct hostile *h, const char *after)
{
    harness_client_free(h->cl);
    h->cl = harness_client_new(h->svc.port);
    cr_assert_not_null(h->cl);
    long st = 0;
    char body[1024];
    for (long long end = harness_ms() + 3000; harness_ms() < end && st != 200; harness_nap(50)) {
        struct harness_resp r;
        st = harness_req(h->cl, "GET", "/healthz", NULL, NULL, &r) ? r.status : 0;
        harness_resp_free(&r);
    }
    cr_assert_eq(st, 200, "after %s: a well-behaved client is not served", after);
    cr_assert_eq(hostile_call(h, "POST", "/carts", NULL, body, sizeof body), 201,
                 "after %s: %s", after, body);
    for (int i = 0; i < HOSTILE_NCARTS; i++) {
        char *now = snapshot(h, h->ids[i]);
        cr_assert(now && !strcmp(now, h->want[i]), "after %s: cart %s was %s, is %s", after,
                  h->ids[i], h->want[i], now ? now : "gone");
        free(now);
    }
}

/* Connect from src (NULL: 127.0.0.1) with a read timeout. */
int hostile_conn(struct hostile *h, const char *src, int timeout_ms)
{
    int fd = harness_raw_connect(h->svc.port, src, timeout_ms);
    cr_assert(fd >= 0, "cannot connect to port %d from %s", h->svc.port, src ? src : "any");
    return fd;
}

/* Send len raw bytes on a new connection; the response's status (0: closed first). */
long hostile_raw(struct hostile *h, const char *req, size_t len, char *body, size_t blen)
{
    int fd = hostile_conn(h, NULL, 3000 + HOSTILE_IDLE_S * 1000);
    harness_raw_send(fd, req, len);
    long st = harness_raw_response(fd, body, blen);
    close(fd);
    return st;
}

/* hostile_raw() for a NUL-terminated request, asserting the status is an allowed one. */
void hostile_expect(struct hostile *h, const char *req, const long *allowed, const char *what)
{
    char body[512] = "";
    long st = hostile_raw(h, req, strlen(req), body, sizeof body);
    for (int i = 0; allowed[i] != -1; i++)
        if (st == allowed[i])
            return;
    cr_assert_fail("%s: unexpected status %ld %s", what, st, body);
}

/* Assert the JSON error body has the given code. */
void hostile_expect_code(const char *body, const char *code, const char *what)
{
    json_t *j = json_loads(body, 0, NULL);
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    cr_assert(c && !strcmp(c, code), "%s: want %s, got %s", what, code, body);
    json_decref(j);
}

/* POST body to cart i's items; assert the status and error code. */
void hostile_post_expect(struct hostile *h, int i, const char *body, long status,
                         const char *code)
{
    char path[128], out[1024];
    snprintf(path, sizeof path, "/carts/%s/items", h->ids[i]);
    long st = hostile_call(h, "POST", path, body, out, sizeof out);
    cr_assert_eq(st, status, "%.80s: want %ld, got %ld %s", body, status, st, out);
    hostile_expect_code(out, code, body);
}

/* A raw request line for method and target, with a small JSON body for PUT. */
static long raw_target(struct hostile *h, const char *method, const char *target, char *body,
                       size_t blen)
{
    char req[1024];
    const char *js = "{\"qty\":5,\"unit_price_cents\":1}";
    bool put = !strcmp(method, "PUT");
    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\n", method, target);
    if (put)
        snprintf(req + strlen(req), sizeof req - strlen(req), "Content-Type: application/json"
                 "\r\nContent-Length: %zu\r\n", strlen(js));
    snprintf(req + strlen(req), sizeof req - strlen(req), "\r\n%s", put ? js : "");
    return hostile_raw(h, req, strlen(req), body, blen);
}

/* Send method and the target made from fmt; assert status and code. */
void hostile_path_expect(struct hostile *h, const char *method, long status, const char *code,
                         const char *fmt, ...)
{
    char target[512], body[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(target, sizeof target, fmt, ap);
    va_end(ap);
    long st = raw_target(h, method, target, body, sizeof body);
    cr_assert_eq(st, status, "%s %s: want %ld, got %ld %s", method, target, status, st, body);
    hostile_expect_code(body, code, target);
}
