/* Hostile clients over real sockets, against stateful-svc or (built with
 * TARGET_STATELESS) stateless-svc and a real redis-server: malformed request
 * lines, huge headers, bodies over the limit (fast and slow), lying
 * Content-Length, hostile JSON, path tricks, a slowloris from another
 * loopback address and a connection flood. After each attack the service
 * answers the documented 4xx (or closes that one connection), still serves a
 * well-behaved client, and every cart created before is exactly intact. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cart.h"
#include "harness.h"

#if defined(TARGET_STATEFUL)
#define BIN STATEFUL_BIN
#define USE_REDIS 0
#else
#define BIN STATELESS_BIN
#define USE_REDIS 1
#endif

#define NCARTS 3
#define PER_IP 200            /* MAX_CONNECTIONS_PER_IP of the service under attack */
#define IDLE_S 2              /* IDLE_TIMEOUT_SECONDS */
#define ATTACKERS 1000
#define FLOOD 2000

static struct harness_proc redis, svc;
static struct harness_client *cl;
static char ids[NCARTS][CART_ID_MAX + 1];
static char *want[NCARTS];    /* each cart's {"version","items"} as JSON, before the attack */
static const char *const svc_env[] = { "MAX_CONNECTIONS_PER_IP=200", "IDLE_TIMEOUT_SECONDS=2",
                                       "INSTANCE_ID=hostile1", NULL };

/* Milliseconds on a monotonic clock. */
static long long ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep m milliseconds. */
static void nap(long m)
{
    struct timespec ts = { m / 1000, (m % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Send a request with the harness client; status, body copied to out (may be NULL). */
static long call(const char *m, const char *path, const char *body, char *out, size_t outlen)
{
    struct harness_resp r;
    cr_assert(harness_req(cl, m, path, body, NULL, &r), "%s %s: transport error", m, path);
    if (out)
        snprintf(out, outlen, "%s", r.body);
    long st = r.status;
    harness_resp_free(&r);
    return st;
}

/* The cart's version and items as canonical JSON (malloc'd), or NULL when not 200. */
static char *snapshot(const char *id)
{
    char path[128], body[8192];
    snprintf(path, sizeof path, "/carts/%s", id);
    if (call("GET", path, NULL, body, sizeof body) != 200)
        return NULL;
    json_t *j = json_loads(body, 0, NULL), *o = json_object();
    json_object_set(o, "version", json_object_get(j, "version"));
    json_object_set(o, "items", json_object_get(j, "items"));
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    json_decref(j);
    return s;
}

/* Create NCARTS carts with a few lines each (sku "A" in every one) and remember them. */
static void seed(void)
{
    static const char *const lines[] = {
        "{\"sku\":\"A\",\"qty\":2,\"unit_price_cents\":150}",
        "{\"sku\":\"B-2\",\"qty\":1,\"unit_price_cents\":999}",
        "{\"sku\":\"c.3\",\"qty\":7,\"unit_price_cents\":1}" };
    for (int i = 0; i < NCARTS; i++) {
        char body[1024], path[256];
        cr_assert_eq(call("POST", "/carts", NULL, body, sizeof body), 201, "create: %s", body);
        json_t *j = json_loads(body, 0, NULL);
        snprintf(ids[i], sizeof ids[i], "%s", json_string_value(json_object_get(j, "id")));
        json_decref(j);
        snprintf(path, sizeof path, "/carts/%s/items", ids[i]);
        for (int k = 0; k <= i; k++)
            cr_assert_eq(call("POST", path, lines[k], body, sizeof body), 200, "%s", body);
        want[i] = snapshot(ids[i]);
        cr_assert_not_null(want[i]);
    }
}

/* Start Redis (stateless), the service and a client; raise our fd limit; seed carts. */
static void start(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int rport = 0;
    if (USE_REDIS) {
        cr_assert(harness_redis_start(&redis), "redis-server did not start");
        rport = redis.port;
    }
    cr_assert(harness_svc_start(&svc, BIN, rport, svc_env), "%s did not start", BIN);
    cl = harness_client_new(svc.port);
    cr_assert_not_null(cl);
    seed();
}

/* Stop everything the test started. */
static void stop(void)
{
    for (int i = 0; i < NCARTS; i++) {
        free(want[i]);
        want[i] = NULL;
    }
    harness_client_free(cl);
    cl = NULL;
    harness_stop(&svc);
    if (USE_REDIS)
        harness_stop(&redis);
}

TestSuite(hostile, .init = start, .fini = stop, .timeout = 90);

/* A new well-behaved client is served (bounded wait for the service to settle), and
 * every seeded cart is exactly as it was. */
static void check_intact(const char *after)
{
    harness_client_free(cl);
    cl = harness_client_new(svc.port);
    cr_assert_not_null(cl);
    long st = 0;
    char body[1024];
    for (long long end = ms() + 3000; ms() < end && st != 200; nap(50)) {
        struct harness_resp r;
        st = harness_req(cl, "GET", "/healthz", NULL, NULL, &r) ? r.status : 0;
        harness_resp_free(&r);
    }
    cr_assert_eq(st, 200, "after %s: a well-behaved client is not served", after);
    cr_assert_eq(call("POST", "/carts", NULL, body, sizeof body), 201, "after %s: %s", after, body);
    for (int i = 0; i < NCARTS; i++) {
        char *now = snapshot(ids[i]);
        cr_assert(now && !strcmp(now, want[i]), "after %s: cart %s was %s, is %s", after,
                  ids[i], want[i], now ? now : "gone");
        free(now);
    }
}

/* Connect from src (NULL: 127.0.0.1) with a read timeout. */
static int conn_from(const char *src, int timeout_ms)
{
    int fd = harness_raw_connect(svc.port, src, timeout_ms);
    cr_assert(fd >= 0, "cannot connect to port %d from %s", svc.port, src ? src : "any");
    return fd;
}

/* Send len raw bytes on a new connection; the response's status (0: closed first). */
static long raw(const char *req, size_t len, char *body, size_t blen)
{
    int fd = conn_from(NULL, 3000 + IDLE_S * 1000);
    harness_raw_send(fd, req, len);
    long st = harness_raw_response(fd, body, blen);
    close(fd);
    return st;
}

/* raw() for a NUL-terminated request, asserting the status is one of the allowed
 * (a list ending in -1; 0 in it means "closed without an answer" is fine). */
static void expect(const char *req, const long *allowed, const char *what)
{
    char body[512] = "";
    long st = raw(req, strlen(req), body, sizeof body);
    for (int i = 0; allowed[i] != -1; i++)
        if (st == allowed[i])
            return;
    cr_assert_fail("%s: unexpected status %ld %s", what, st, body);
}

/* Assert the JSON error body has the given code. */
static void expect_code(const char *body, const char *code, const char *what)
{
    json_t *j = json_loads(body, 0, NULL);
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    cr_assert(c && !strcmp(c, code), "%s: want %s, got %s", what, code, body);
    json_decref(j);
}

Test(hostile, malformed_request_lines)
{
    static const long bad[] = { 400, 0, -1 }, vers[] = { 505, -1 }, uri[] = { 414, -1 };
    expect("GARBAGE\r\n\r\n", bad, "garbage");
    expect("GET /healthz\r\n\r\n", bad, "no version");
    expect("GET /healthz HTTP/1.1\r\nHost: x\r\nBadHeader\r\n\r\n", bad, "header without colon");
    expect("\x01\x02\xff\xfe GET\r\n\r\n", bad, "binary");
    expect(" / HTTP/1.1\r\n\r\n", bad, "no method");
    expect("GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", vers, "HTTP/9.9");
    char *line = malloc(20100);
    snprintf(line, 20100, "GET /carts/%0*d HTTP/1.1\r\nHost: x\r\n\r\n", 20000, 0);
    expect(line, uri, "20000-byte request line");
    free(line);
    check_intact("malformed request lines");
}

Test(hostile, huge_headers)
{
    static const long big[] = { 431, -1 };
    char *req = malloc(40000);
    snprintf(req, 40000, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %0*d\r\n\r\n", 20000, 0);
    expect(req, big, "one 20000-byte header");
    size_t n = (size_t)snprintf(req, 40000, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(req + n, 40000 - n, "X-H%d: %060d\r\n", i, i);
    snprintf(req + n, 40000 - n, "\r\n");
    expect(req, big, "300 headers");
    snprintf(req, 40000, "GET /cart HTTP/1.1\r\nHost: x\r\nCookie: cart=%0*d\r\n\r\n", 17000, 0);
    expect(req, big, "17000-byte cookie");
    free(req);
    check_intact("huge headers");
}

/* POST an over-limit body of n bytes on fd, in pieces of step bytes with pause_ms between. */
static void post_big(int fd, const char *id, size_t n, size_t step, long pause_ms)
{
    char head[256], *body = malloc(n);
    memset(body, 'x', n);
    snprintf(head, sizeof head, "POST /carts/%s/items HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", id, n);
    cr_assert(harness_raw_send(fd, head, strlen(head)));
    for (size_t off = 0; off < n; off += step) {
        harness_raw_send(fd, body + off, n - off < step ? n - off : step);
        if (pause_ms)
            nap(pause_ms);
    }
    free(body);
}

Test(hostile, bodies_over_limit)
{
    char body[512];
    int fd = conn_from(NULL, 5000);
    post_big(fd, ids[0], 20000, 20000, 0);
    cr_assert_eq(harness_raw_response(fd, body, sizeof body), 413, "fast 20000: %s", body);
    expect_code(body, "body_too_large", "fast");
    post_big(fd, ids[1], 40000, 1000, 25);          /* 1 s, a piece every 25 ms */
    cr_assert_eq(harness_raw_response(fd, body, sizeof body), 413, "slow 40000: %s", body);
    const char *hz = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    harness_raw_send(fd, hz, strlen(hz));
    cr_assert_eq(harness_raw_response(fd, NULL, 0), 200, "the connection must stay usable");
    close(fd);
    /* Declared past the drain cap: 413 at once, connection closed. */
    fd = conn_from(NULL, 5000);
    char head[256];
    snprintf(head, sizeof head, "POST /carts/%s/items HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n", ids[0]);
    harness_raw_send(fd, head, strlen(head));
    cr_assert_eq(harness_raw_response(fd, body, sizeof body), 413, "2 MB declared: %s", body);
    cr_assert(harness_raw_closed(fd, 3000), "2 MB declared: connection not closed");
    close(fd);
    /* Chunked past 1 MiB: the connection is dropped, bounded in bytes and time. */
    fd = conn_from(NULL, 5000);
    snprintf(head, sizeof head, "POST /carts/%s/items HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", ids[0]);
    harness_raw_send(fd, head, strlen(head));
    char *chunk = malloc(65536 + 16);
    int len = snprintf(chunk, 16, "10000\r\n");
    memset(chunk + len, '[', 65536);
    memcpy(chunk + len + 65536, "\r\n", 2);
    int sent = 0;
    for (; sent < 40 && harness_raw_send(fd, chunk, (size_t)len + 65538); sent++)
        ;
    free(chunk);
    cr_assert(harness_raw_closed(fd, 5000), "chunked past 1 MiB: not dropped (%d chunks)", sent);
    close(fd);
    check_intact("bodies over the limit");
}

/* A request with a given Content-Length header value and body, on fd. */
static void send_cl(int fd, const char *id, const char *clen, const char *body)
{
    char req[512];
    snprintf(req, sizeof req, "POST /carts/%s/items HTTP/1.1\r\nHost: x\r\nContent-Type: "
             "application/json\r\nContent-Length: %s\r\n\r\n%s", id, clen, body);
    cr_assert(harness_raw_send(fd, req, strlen(req)));
}

Test(hostile, wrong_content_length)
{
    const char *add = "{\"sku\":\"ZZ\",\"qty\":1,\"unit_price_cents\":1}";
    char body[512];
    int fd = conn_from(NULL, 5000);
    send_cl(fd, ids[0], "5", add);                 /* shorter: the rest is a bad request line */
    cr_assert_eq(harness_raw_response(fd, body, sizeof body), 400, "short: %s", body);
    expect_code(body, "invalid_json", "short Content-Length");
    long next = harness_raw_response(fd, NULL, 0);
    cr_assert(next == 400 || next == 0, "the rest of a short body: %ld", next);
    close(fd);
    fd = conn_from(NULL, 1000);
    send_cl(fd, ids[1], "100", add);               /* longer: waits, then the idle timeout */
    cr_assert_eq(harness_raw_response(fd, NULL, 0), -1, "answered an incomplete body");
    cr_assert(harness_raw_closed(fd, IDLE_S * 1000 + 3000), "incomplete body: never closed");
    close(fd);
    static const char *const bad[] = { "-5", "abc", "1x", "99999999999999999999999", " " };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fd = conn_from(NULL, 5000);
        send_cl(fd, ids[2], bad[i], add);
        long st = harness_raw_response(fd, NULL, 0);
        cr_assert(st == 400 || st == 413, "Content-Length '%s': %ld", bad[i], st);
        cr_assert(harness_raw_closed(fd, 3000), "Content-Length '%s': kept open", bad[i]);
        close(fd);
    }
    check_intact("wrong Content-Length");
}

/* POST body to cart i's items; assert the status and error code. */
static void post_expect(int i, const char *body, long status, const char *code)
{
    char path[128], out[1024];
    snprintf(path, sizeof path, "/carts/%s/items", ids[i]);
    long st = call("POST", path, body, out, sizeof out);
    cr_assert_eq(st, status, "%.80s: want %ld, got %ld %s", body, status, st, out);
    expect_code(out, code, body);
}

/* A body of depth '[' (or '{"a":') openings, for the nesting attacks. */
static char *nested(size_t depth, const char *open)
{
    size_t w = strlen(open);
    char *s = malloc(depth * w + 1);
    for (size_t i = 0; i < depth; i++)
        memcpy(s + i * w, open, w);
    s[depth * w] = '\0';
    return s;
}

Test(hostile, json_attacks)
{
    post_expect(0, "{\"sku\":\"\xff\xfe\",\"qty\":1,\"unit_price_cents\":1}", 400, "invalid_json");
    post_expect(0, "{\"sku\":\"\xc0\xaf\",\"qty\":1,\"unit_price_cents\":1}", 400, "invalid_json");
    post_expect(0, "{\"sku\":\"\\ud800\",\"qty\":1,\"unit_price_cents\":1}", 400, "invalid_json");
    post_expect(0, "{\"sku\":\"\xc3\xa9\",\"qty\":1,\"unit_price_cents\":1}", 400, "invalid_sku");
    post_expect(0, "{\"sku\":\"A\\u0000B\",\"qty\":1,\"unit_price_cents\":1}", 400, "invalid_sku");
    post_expect(0, "{\"sku\":\"A\",\"qty\":99999999999999999999}", 400, "invalid_json");
    post_expect(0, "{\"sku\":\"A\",\"qty\":1.5}", 400, "invalid_field");
    post_expect(0, "{\"sku\":\"A\",\"qty\":1e400}", 400, "invalid_json");
    post_expect(0, "{\"sku\":\"A\",\"qty\":9223372036854775807}", 422, "qty_out_of_range");
    post_expect(0, "{\"sku\":\"A\",\"qty\":-9223372036854775808}", 422, "qty_out_of_range");
    post_expect(0, "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":9223372036854775807}", 422,
                "price_out_of_range");
    post_expect(0, "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":-1}", 422, "price_out_of_range");
    char *deep = nested(100000, "[");               /* over 16 KiB: never parsed */
    post_expect(1, deep, 413, "body_too_large");
    free(deep);
    deep = nested(16000, "[");
    post_expect(1, deep, 400, "invalid_json");
    free(deep);
    deep = nested(3000, "{\"a\":");
    post_expect(1, deep, 400, "invalid_json");
    free(deep);
    /* A raw NUL inside the JSON string. */
    static const char nul[] = "{\"sku\":\"A\0B\",\"qty\":1,\"unit_price_cents\":1}";
    char req[512], body[512];
    int n = snprintf(req, sizeof req, "POST /carts/%s/items HTTP/1.1\r\nHost: x\r\nContent-Type:"
                     " application/json\r\nContent-Length: %zu\r\n\r\n", ids[2], sizeof nul - 1);
    memcpy(req + n, nul, sizeof nul - 1);
    cr_assert_eq(raw(req, (size_t)n + sizeof nul - 1, body, sizeof body), 400, "%s", body);
    expect_code(body, "invalid_json", "raw NUL in a JSON string");
    check_intact("hostile JSON");
}

/* A raw request line for method and target, with a small JSON body for PUT. */
static long raw_target(const char *method, const char *target, char *body, size_t blen)
{
    char req[1024];
    const char *js = "{\"qty\":5,\"unit_price_cents\":1}";
    bool put = !strcmp(method, "PUT");
    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\n", method, target);
    if (put)
        snprintf(req + strlen(req), sizeof req - strlen(req), "Content-Type: application/json"
                 "\r\nContent-Length: %zu\r\n", strlen(js));
    snprintf(req + strlen(req), sizeof req - strlen(req), "\r\n%s", put ? js : "");
    return raw(req, strlen(req), body, blen);
}

/* Send method target with id substituted for %s; assert status and code. */
static void path_expect(const char *method, const char *fmt, const char *id, long status,
                        const char *code)
{
    char target[512], body[512];
    snprintf(target, sizeof target, fmt, id);
    long st = raw_target(method, target, body, sizeof body);
    cr_assert_eq(st, status, "%s %s: want %ld, got %ld %s", method, target, status, st, body);
    expect_code(body, code, target);
}

Test(hostile, path_tricks)
{
    const char *id = ids[0];
    path_expect("PUT", "/carts/%s/items/A%%00B", id, 400, "invalid_sku");
    path_expect("DELETE", "/carts/%s%%00", id, 404, "cart_not_found");
    path_expect("DELETE", "/carts/%s%%00/items/A", id, 404, "cart_not_found");
    path_expect("GET", "/carts/%s/../x", id, 404, "no_route");
    path_expect("DELETE", "/carts/../carts/%s", id, 404, "no_route");
    path_expect("DELETE", "/carts/%s/items/..%%2F..%%2Fcarts%%2Fx", id, 404, "no_route");
    path_expect("GET", "/carts/%s%%2Fitems", id, 405, "method_not_allowed");
    path_expect("DELETE", "/carts/%%2E%%2E", id, 404, "cart_not_found");
    path_expect("GET", "/carts/%%C0%%AE%%C0%%AE%s", id, 404, "cart_not_found");
    path_expect("PUT", "/carts/%s/items/%%C0%%AF", id, 400, "invalid_sku");
    path_expect("PUT", "/carts/%s/items/%%E2%%80%%AEA", id, 400, "invalid_sku");
    path_expect("DELETE", "/carts/%s%%20", id, 404, "cart_not_found");
    path_expect("DELETE", "/carts/%s/items/A%%2", id, 400, "invalid_sku");
    path_expect("GET", "//carts/%s", id, 404, "no_route");
    char long_id[300];
    memset(long_id, 'a', 200);
    long_id[200] = '\0';
    path_expect("DELETE", "/carts/%s", long_id, 404, "cart_not_found");
    check_intact("path tricks");
}

/* Open up to n connections from src that start a request and never finish it. */
static int hold(const char *src, int *fds, int n)
{
    static const char start_req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    int opened = 0;
    for (long long end = ms() + 20000; opened < n && ms() < end; opened++) {
        fds[opened] = harness_raw_connect(svc.port, src, 100);
        if (fds[opened] < 0)
            break;
        harness_raw_send(fds[opened], start_req, sizeof start_req - 1);
    }
    return opened;
}

/* Trickle one header line into each open connection; how many are still open. */
static int trickle(int *fds, int n)
{
    int open = 0;
    char sink[256];
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0)
            continue;
        ssize_t r = recv(fds[i], sink, sizeof sink, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ||
            !harness_raw_send(fds[i], "X-A: b\r\n", 8)) {
            close(fds[i]);
            fds[i] = -1;
            continue;
        }
        open++;
    }
    return open;
}

Test(hostile, slowloris)
{
    static int fds[ATTACKERS];
    int n = hold("127.0.0.2", fds, ATTACKERS);
    cr_assert(n >= PER_IP, "only %d attacker connections could connect", n);
    int open = n;
    char body[512];
    for (int round = 0; round < 8; round++) {       /* 4 s: past the idle timeout */
        nap(500);
        open = trickle(fds, n);
        /* from round 2 on, the surplus connections must have been accepted and closed */
        cr_assert(round < 2 || open <= PER_IP, "round %d: %d attacker connections open, "
                  "limit %d", round, open, PER_IP);
        cr_assert_eq(call("GET", "/healthz", NULL, NULL, 0), 200, "round %d: not served", round);
        cr_assert_eq(call("POST", "/carts", NULL, body, sizeof body), 201, "round %d", round);
    }
    cr_assert(open >= PER_IP / 2, "the trickling connections were dropped too (%d open)", open);
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    check_intact("a slowloris");
}

Test(hostile, connection_flood)
{
    static const char part[] = "POST /carts HTTP/1.1\r\nHost: x\r\nContent-Le";
    struct linger rst = { 1, 0 };
    int done = 0, failed = 0;
    for (long long end = ms() + 30000; done < FLOOD && ms() < end; done++) {
        int fd = harness_raw_connect(svc.port, "127.0.0.3", 1000);
        if (fd < 0) {
            failed++;
            continue;
        }
        if (done % 3 == 1)
            harness_raw_send(fd, part, sizeof part - 1);
        if (done % 3 == 2)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
        close(fd);
    }
    cr_assert_eq(done, FLOOD, "flood: only %d connections in 30 s", done);
    cr_assert(failed < FLOOD / 10, "flood: %d of %d connects failed", failed, done);
    cr_assert_eq(call("GET", "/metrics", NULL, NULL, 0), 200);
    check_intact("a connection flood");
}
