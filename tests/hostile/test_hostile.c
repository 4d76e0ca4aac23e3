/* Hostile clients over real sockets, against stateful-svc or (built with
 * TARGET_STATELESS) stateless-svc and a real redis-server: malformed request
 * lines, huge headers, bodies over the limit (fast and slow), lying
 * Content-Length, hostile JSON, path tricks, a slowloris from another
 * loopback address and a connection flood. After each attack the service
 * answers the documented 4xx (or closes that one connection), still serves a
 * well-behaved client, and every cart created before is exactly intact. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostile.h"

#define PER_IP HOSTILE_PER_IP
#define IDLE_S HOSTILE_IDLE_S
#define ATTACKERS 1000
#define FLOOD 2000

static struct hostile H;

/* .init: the target service (and Redis), a client and the seeded carts. */
static void start(void)
{
    hostile_start(&H, TARGET_BIN, TARGET_USES_REDIS);
}

/* .fini: stop everything the test started. */
static void stop(void)
{
    hostile_stop(&H);
}

TestSuite(hostile, .init = start, .fini = stop, .timeout = 90);

Test(hostile, malformed_request_lines)
{
    static const long bad[] = { 400, 0, -1 }, vers[] = { 505, -1 }, uri[] = { 414, -1 };
    hostile_expect(&H, "GARBAGE\r\n\r\n", bad, "garbage");
    hostile_expect(&H, "GET /healthz\r\n\r\n", bad, "no version");
    hostile_expect(&H, "GET /healthz HTTP/1.1\r\nHost: x\r\nBadHeader\r\n\r\n", bad,
                   "header without colon");
    hostile_expect(&H, "\x01\x02\xff\xfe GET\r\n\r\n", bad, "binary");
    hostile_expect(&H, " / HTTP/1.1\r\n\r\n", bad, "no method");
    hostile_expect(&H, "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", vers, "HTTP/9.9");
    char *line = malloc(20100);
    snprintf(line, 20100, "GET /carts/%0*d HTTP/1.1\r\nHost: x\r\n\r\n", 20000, 0);
    hostile_expect(&H, line, uri, "20000-byte request line");
    free(line);
    hostile_check_intact(&H, "malformed request lines");
}

Test(hostile, huge_headers)
{
    static const long big[] = { 431, -1 };
    char *req = malloc(40000);
    snprintf(req, 40000, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %0*d\r\n\r\n", 20000, 0);
    hostile_expect(&H, req, big, "one 20000-byte header");
    size_t n = (size_t)snprintf(req, 40000, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(req + n, 40000 - n, "X-H%d: %060d\r\n", i, i);
    snprintf(req + n, 40000 - n, "\r\n");
    hostile_expect(&H, req, big, "300 headers");
    snprintf(req, 40000, "GET /cart HTTP/1.1\r\nHost: x\r\nCookie: cart=%0*d\r\n\r\n", 17000, 0);
    hostile_expect(&H, req, big, "17000-byte cookie");
    free(req);
    hostile_check_intact(&H, "huge headers");
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
            harness_nap(pause_ms);
    }
    free(body);
}

Test(hostile, bodies_over_limit)
{
    char body[512];
    int fd = hostile_conn(&H, NULL, 5000);
    post_big(fd, H.ids[0], 20000, 20000, 0);
    cr_assert_eq(harness_raw_response(fd, body, sizeof body), 413, "fast 20000: %s", body);
    hostile_expect_code(body, "body_too_large", "fast");
    post_big(fd, H.ids[1], 40000, 1000, 25);          /* 1 s, a piece every 25 ms */
    cr_assert_eq(harness_raw_response(fd, body, sizeof body), 413, "slow 40000: %s", body);
    const char *hz = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    harness_raw_send(fd, hz, strlen(hz));
    cr_assert_eq(harness_raw_response(fd, NULL, 0), 200, "the connection must stay usable");
    close(fd);
    /* Declared past the drain cap: 413 at once, connection closed. */
    fd = hostile_conn(&H, NULL, 5000);
    char head[256];
    snprintf(head, sizeof head, "POST /carts/%s/items HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n", H.ids[0]);
    harness_raw_send(fd, head, strlen(head));
    cr_assert_eq(harness_raw_response(fd, body, sizeof body), 413, "2 MB declared: %s", body);
    cr_assert(harness_raw_closed(fd, 3000), "2 MB declared: connection not closed");
    close(fd);
    /* Chunked past 1 MiB: the connection is dropped, bounded in bytes and time. */
    fd = hostile_conn(&H, NULL, 5000);
    snprintf(head, sizeof head, "POST /carts/%s/items HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", H.ids[0]);
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
    hostile_check_intact(&H, "bodies over the limit");
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
    int fd = hostile_conn(&H, NULL, 5000);
    send_cl(fd, H.ids[0], "5", add);                 /* shorter: the rest is a bad request line */
    cr_assert_eq(harness_raw_response(fd, body, sizeof body), 400, "short: %s", body);
    hostile_expect_code(body, "invalid_json", "short Content-Length");
    long next = harness_raw_response(fd, NULL, 0);
    cr_assert(next == 400 || next == 0, "the rest of a short body: %ld", next);
    close(fd);
    fd = hostile_conn(&H, NULL, 1000);
    send_cl(fd, H.ids[1], "100", add);               /* longer: waits, then the idle timeout */
    cr_assert_eq(harness_raw_response(fd, NULL, 0), -1, "answered an incomplete body");
    cr_assert(harness_raw_closed(fd, IDLE_S * 1000 + 3000), "incomplete body: never closed");
    close(fd);
    static const char *const bad[] = { "-5", "abc", "1x", "99999999999999999999999", " " };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fd = hostile_conn(&H, NULL, 5000);
        send_cl(fd, H.ids[2], bad[i], add);
        long st = harness_raw_response(fd, NULL, 0);
        cr_assert(st == 400 || st == 413, "Content-Length '%s': %ld", bad[i], st);
        cr_assert(harness_raw_closed(fd, 3000), "Content-Length '%s': kept open", bad[i]);
        close(fd);
    }
    hostile_check_intact(&H, "wrong Content-Length");
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
    hostile_post_expect(&H, 0, "{\"sku\":\"\xff\xfe\",\"qty\":1,\"unit_price_cents\":1}", 400,
                        "invalid_json");
    hostile_post_expect(&H, 0, "{\"sku\":\"\xc0\xaf\",\"qty\":1,\"unit_price_cents\":1}", 400,
                        "invalid_json");
    hostile_post_expect(&H, 0, "{\"sku\":\"\\ud800\",\"qty\":1,\"unit_price_cents\":1}", 400,
                        "invalid_json");
    hostile_post_expect(&H, 0, "{\"sku\":\"\xc3\xa9\",\"qty\":1,\"unit_price_cents\":1}", 400,
                        "invalid_sku");
    hostile_post_expect(&H, 0, "{\"sku\":\"A\\u0000B\",\"qty\":1,\"unit_price_cents\":1}", 400,
                        "invalid_sku");
    hostile_post_expect(&H, 0, "{\"sku\":\"A\",\"qty\":99999999999999999999}", 400, "invalid_json");
    hostile_post_expect(&H, 0, "{\"sku\":\"A\",\"qty\":1.5}", 400, "invalid_field");
    hostile_post_expect(&H, 0, "{\"sku\":\"A\",\"qty\":1e400}", 400, "invalid_json");
    hostile_post_expect(&H, 0, "{\"sku\":\"A\",\"qty\":9223372036854775807}", 422,
                        "qty_out_of_range");
    hostile_post_expect(&H, 0, "{\"sku\":\"A\",\"qty\":-9223372036854775808}", 422,
                        "qty_out_of_range");
    hostile_post_expect(&H, 0, "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":9223372036854775807}",
                        422, "price_out_of_range");
    hostile_post_expect(&H, 0, "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":-1}", 422,
                        "price_out_of_range");
    char *deep = nested(100000, "[");               /* over 16 KiB: never parsed */
    hostile_post_expect(&H, 1, deep, 413, "body_too_large");
    free(deep);
    deep = nested(16000, "[");
    hostile_post_expect(&H, 1, deep, 400, "invalid_json");
    free(deep);
    deep = nested(3000, "{\"a\":");
    hostile_post_expect(&H, 1, deep, 400, "invalid_json");
    free(deep);
    /* A raw NUL inside the JSON string. */
    static const char nul[] = "{\"sku\":\"A\0B\",\"qty\":1,\"unit_price_cents\":1}";
    char req[512], body[512];
    int n = snprintf(req, sizeof req, "POST /carts/%s/items HTTP/1.1\r\nHost: x\r\nContent-Type:"
                     " application/json\r\nContent-Length: %zu\r\n\r\n", H.ids[2], sizeof nul - 1);
    memcpy(req + n, nul, sizeof nul - 1);
    cr_assert_eq(hostile_raw(&H, req, (size_t)n + sizeof nul - 1, body, sizeof body), 400, "%s",
                 body);
    hostile_expect_code(body, "invalid_json", "raw NUL in a JSON string");
    hostile_check_intact(&H, "hostile JSON");
}

Test(hostile, path_tricks)
{
    const char *id = H.ids[0];
    hostile_path_expect(&H, "PUT", 400, "invalid_sku", "/carts/%s/items/A%%00B", id);
    hostile_path_expect(&H, "DELETE", 404, "cart_not_found", "/carts/%s%%00", id);
    hostile_path_expect(&H, "DELETE", 404, "cart_not_found", "/carts/%s%%00/items/A", id);
    hostile_path_expect(&H, "GET", 404, "no_route", "/carts/%s/../x", id);
    hostile_path_expect(&H, "DELETE", 404, "no_route", "/carts/../carts/%s", id);
    hostile_path_expect(&H, "DELETE", 404, "no_route", "/carts/%s/items/..%%2F..%%2Fcarts%%2Fx", id);
    hostile_path_expect(&H, "GET", 405, "method_not_allowed", "/carts/%s%%2Fitems", id);
    hostile_path_expect(&H, "DELETE", 404, "cart_not_found", "/carts/%%2E%%2E");
    hostile_path_expect(&H, "GET", 404, "cart_not_found", "/carts/%%C0%%AE%%C0%%AE%s", id);
    hostile_path_expect(&H, "PUT", 400, "invalid_sku", "/carts/%s/items/%%C0%%AF", id);
    hostile_path_expect(&H, "PUT", 400, "invalid_sku", "/carts/%s/items/%%E2%%80%%AEA", id);
    hostile_path_expect(&H, "DELETE", 404, "cart_not_found", "/carts/%s%%20", id);
    hostile_path_expect(&H, "DELETE", 400, "invalid_sku", "/carts/%s/items/A%%2", id);
    hostile_path_expect(&H, "GET", 404, "no_route", "//carts/%s", id);
    char long_id[300];
    memset(long_id, 'a', 200);
    long_id[200] = '\0';
    hostile_path_expect(&H, "DELETE", 404, "cart_not_found", "/carts/%s", long_id);
    hostile_check_intact(&H, "path tricks");
}

/* Open up to n connections from src that start a request and never finish it. */
static int hold(const char *src, int *fds, int n)
{
    static const char start_req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    int opened = 0;
    for (long long end = harness_ms() + 20000; opened < n && harness_ms() < end; opened++) {
        fds[opened] = harness_raw_connect(H.svc.port, src, 100);
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
        harness_nap(500);
        open = trickle(fds, n);
        /* from round 2 on, the surplus connections must have been accepted and closed */
        cr_assert(round < 2 || open <= PER_IP, "round %d: %d attacker connections open, "
                  "limit %d", round, open, PER_IP);
        cr_assert_eq(hostile_call(&H, "GET", "/healthz", NULL, NULL, 0), 200,
                     "round %d: not served", round);
        cr_assert_eq(hostile_call(&H, "POST", "/carts", NULL, body, sizeof body), 201, "round %d",
                     round);
    }
    cr_assert(open >= PER_IP / 2, "the trickling connections were dropped too (%d open)", open);
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    hostile_check_intact(&H, "a slowloris");
}

Test(hostile, connection_flood)
{
    static const char part[] = "POST /carts HTTP/1.1\r\nHost: x\r\nContent-Le";
    struct linger rst = { 1, 0 };
    int done = 0, failed = 0;
    for (long long end = harness_ms() + 30000; done < FLOOD && harness_ms() < end; done++) {
        int fd = harness_raw_connect(H.svc.port, "127.0.0.3", 1000);
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
    cr_assert_eq(hostile_call(&H, "GET", "/metrics", NULL, NULL, 0), 200);
    hostile_check_intact(&H, "a connection flood");
}
