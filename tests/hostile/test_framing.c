/* HTTP/1.1 framing (RFC 9112) over raw sockets, against stateful-svc or (built
 * with TARGET_STATELESS) stateless-svc and a real redis-server: a request that
 * is ambiguous to frame gets 400 (501 for an unknown transfer coding) as JSON
 * and its connection is closed, so nothing smuggled after it is answered;
 * Host rules; an absolute-form target is served as its path; a Content-Type
 * with a tab before its parameters is JSON; Cache-Control: no-store is on
 * every error, on the 204 of a delete and on /readyz. After each attack every
 * seeded cart is exactly intact. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "hostile.h"

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

TestSuite(framing, .init = start, .fini = stop, .timeout = 60);

/* Send the len bytes of req on a new connection; the answer's status, head
 * (when head is not NULL) and body, and whether the service then closed the
 * connection within 1 s without answering anything more (sooner than its
 * idle timeout of HOSTILE_IDLE_S, which would close any connection). */
static long exchange_n(const char *req, size_t len, char *head, size_t hlen, char *body,
                       size_t blen, bool *closed)
{
    char sink[8192];
    int fd = hostile_conn(&H, NULL, 3000);
    harness_raw_send(fd, req, len);
    long st = head ? harness_raw_response_head(fd, head, hlen, body, blen)
                   : harness_raw_response_head(fd, sink, sizeof sink, body, blen);
    char more[512] = "";
    struct timeval tv = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    long next = st > 0 ? harness_raw_response(fd, more, sizeof more) : 0;
    *closed = next == 0;
    if (next > 0)
        fprintf(stderr, "framing: a second answer %ld %s\n", next, more);
    close(fd);
    return st;
}

/* exchange_n of a NUL-terminated request, without its head. */
static long exchange(const char *req, char *body, size_t blen, bool *closed)
{
    return exchange_n(req, strlen(req), NULL, 0, body, blen, closed);
}

/* Assert the len bytes of req are refused with status and code, and the
 * connection closed; the answer's head goes to head (hlen bytes). */
static void refused_n(const char *req, size_t len, char *head, size_t hlen, long status,
                      const char *code, const char *what)
{
    char body[512] = "";
    bool closed = false;
    long st = exchange_n(req, len, head, hlen, body, sizeof body, &closed);
    cr_assert_eq(st, status, "%s: want %ld, got %ld %s", what, status, st, body);
    hostile_expect_code(body, code, what);
    cr_assert(closed, "%s: the connection stays open after the refusal", what);
    hostile_check_intact(&H, what);
}

/* Assert req is refused with status and code, and its connection closed. */
static void refused(const char *req, long status, const char *code, const char *what)
{
    char head[8192];
    refused_n(req, strlen(req), head, sizeof head, status, code, what);
}

/* Build a request to cart i's items with extra header lines and body. */
static void items_req(char *out, size_t outlen, int i, const char *headers, const char *body)
{
    snprintf(out, outlen, "POST /carts/%s/items HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\r\n%s\r\n%s", H.ids[i], headers, body);
}

Test(framing, content_length_with_chunked_is_refused_and_closed)
{
    char req[1024];
    const char *js = "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":1}";
    char body[256];
    snprintf(body, sizeof body, "%zx\r\n%s\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
             strlen(js), js);
    char hdr[128];
    snprintf(hdr, sizeof hdr, "Content-Length: %zu\r\nTransfer-Encoding: chunked\r\n", strlen(js));
    items_req(req, sizeof req, 0, hdr, body);
    refused(req, 400, "bad_request", "Content-Length and chunked");
    snprintf(hdr, sizeof hdr, "Transfer-Encoding: chunked\r\nContent-Length: %zu\r\n", strlen(js));
    items_req(req, sizeof req, 1, hdr, body);
    refused(req, 400, "bad_request", "chunked and Content-Length");
}

Test(framing, differing_content_lengths_are_refused_and_closed)
{
    char req[1024];
    const char *js = "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":1}";
    char hdr[128];
    snprintf(hdr, sizeof hdr, "Content-Length: %zu\r\nContent-Length: 2\r\n", strlen(js));
    items_req(req, sizeof req, 0, hdr, js);
    refused(req, 400, "bad_request", "Content-Length N then 2");
    snprintf(hdr, sizeof hdr, "Content-Length: 2\r\nContent-Length: %zu\r\n", strlen(js));
    items_req(req, sizeof req, 0, hdr, js);
    refused(req, 400, "bad_request", "Content-Length 2 then N");
    /* libmicrohttpd answers this one itself (HTML, not hookable): 400 and close */
    items_req(req, sizeof req, 0, "Content-Length: 1x\r\n", "{");
    char body[512];
    bool closed = false;
    cr_expect_eq(exchange(req, body, sizeof body, &closed), 400, "Content-Length 1x");
    cr_expect(closed, "Content-Length 1x: the connection stays open");
}

Test(framing, equal_content_lengths_are_served)
{
    char req[1024], hdr[128], body[512];
    const char *js = "{\"sku\":\"Z\",\"qty\":1,\"unit_price_cents\":1}";
    snprintf(hdr, sizeof hdr, "Content-Length: %zu\r\nContent-Length: %zu\r\n", strlen(js),
             strlen(js));
    items_req(req, sizeof req, 2, hdr, js);
    bool closed;
    cr_assert_eq(exchange(req, body, sizeof body, &closed), 200, "%s", body);
}

Test(framing, unknown_transfer_coding_is_501_not_a_hang)
{
    char req[1024];
    items_req(req, sizeof req, 0, "Transfer-Encoding: gzip\r\n", "");
    refused(req, 501, "not_implemented", "Transfer-Encoding: gzip");
    items_req(req, sizeof req, 0, "Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n");
    refused(req, 501, "not_implemented", "Transfer-Encoding: gzip, chunked");
    items_req(req, sizeof req, 0, "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
              "0\r\n\r\n");
    refused(req, 400, "bad_request", "Transfer-Encoding twice");
}

Test(framing, host_rules)
{
    refused("GET /healthz HTTP/1.1\r\n\r\n", 400, "bad_request", "HTTP/1.1 without Host");
    refused("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "bad_request",
            "two Host headers");
    char body[256];
    bool closed;
    cr_expect_eq(exchange("GET /healthz HTTP/1.0\r\n\r\n", body, sizeof body, &closed), 200,
                 "HTTP/1.0 needs no Host: %s", body);
}

Test(framing, whitespace_before_a_colon_is_refused)
{
    refused("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Foo : bar\r\n\r\n", 400, "bad_request",
            "space before a colon");
    refused("GET /healthz HTTP/1.1\r\nHost\t: x\r\n\r\n", 400, "bad_request",
            "tab before Host's colon");
}

Test(framing, absolute_form_is_served_as_its_path)
{
    char req[512], body[2048];
    bool closed;
    snprintf(req, sizeof req, "GET http://127.0.0.1:%d/carts/%s HTTP/1.1\r\nHost: x\r\n\r\n",
             H.svc.port, H.ids[0]);
    cr_assert_eq(exchange(req, body, sizeof body, &closed), 200, "%s", body);
    cr_expect(strstr(body, H.ids[0]) != NULL, "%s", body);
    cr_expect_eq(exchange("GET http://x HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof body,
                          &closed), 404, "no path is /: %s", body);
    cr_expect_eq(exchange("GET HTTP://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof body,
                          &closed), 200, "%s", body);
}

Test(framing, content_type_with_a_tab_is_json)
{
    char req[1024], body[1024];
    const char *js = "{\"sku\":\"T\",\"qty\":1,\"unit_price_cents\":1}";
    snprintf(req, sizeof req, "POST /carts/%s/items HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\t;charset=utf-8\r\nContent-Length: %zu\r\n\r\n%s",
             H.ids[2], strlen(js), js);
    bool closed;
    cr_assert_eq(exchange(req, body, sizeof body, &closed), 200, "%s", body);
}

/* Assert a request answers status with Cache-Control: no-store. */
static void no_store(struct harness_client *cl, const char *m, const char *path,
                     const char *const *hdrs, long status)
{
    struct harness_resp r;
    char cc[64] = "";
    cr_assert(harness_req(cl, m, path, NULL, hdrs, &r));
    cr_expect_eq(r.status, status, "%s %s: %ld %s", m, path, r.status, r.body);
    cr_expect(harness_header(&r, "Cache-Control", cc, sizeof cc) && !strcmp(cc, "no-store"),
              "%s %s (%ld): Cache-Control is '%s'", m, path, r.status, cc);
    harness_resp_free(&r);
}

Test(framing, no_store_on_errors_deletes_and_readyz)
{
    char path[160];
    static const char *const stale[] = { "If-Match: \"99\"", NULL };
    struct harness_client *fresh = harness_client_new(H.svc.port);
    cr_assert_not_null(fresh);
    no_store(fresh, "GET", "/cart", NULL, 404);
    harness_client_free(fresh);
    no_store(H.cl, "GET", "/readyz", NULL, 200);
    no_store(H.cl, "GET", "/carts/nosuchcart", NULL, 404);
    no_store(H.cl, "GET", "/nowhere", NULL, 404);
    snprintf(path, sizeof path, "/carts/%s/items/Q", H.ids[0]);
    no_store(H.cl, "DELETE", path, NULL, 404);
    snprintf(path, sizeof path, "/carts/%s", H.ids[0]);
    no_store(H.cl, "DELETE", path, stale, 412);
    char body[1024];
    cr_assert_eq(hostile_call(&H, "POST", "/carts", NULL, body, sizeof body), 201);
    const char *id = strstr(body, "\"id\":\"");
    cr_assert_not_null(id);
    snprintf(path, sizeof path, "/carts/%.*s", (int)strcspn(id + 6, "\""), id + 6);
    no_store(H.cl, "DELETE", path, NULL, 204);
}

Test(framing, http10_with_transfer_encoding_is_refused_and_closed)
{
    char req[1024];
    const char *js = "{\"sku\":\"H\",\"qty\":1,\"unit_price_cents\":1}";
    snprintf(req, sizeof req, "POST /carts/%s/items HTTP/1.0\r\nConnection: keep-alive\r\n"
             "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
             "%zx\r\n%s\r\n0\r\n\r\nGET /smuggled HTTP/1.0\r\n\r\n", H.ids[0], strlen(js), js);
    refused(req, 400, "bad_request", "HTTP/1.0 POST with chunked");
    refused("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n"
            "\r\n0\r\n\r\n", 400, "bad_request", "HTTP/1.0 GET with chunked");
    refused("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: gzip\r\n\r\n",
            400, "bad_request", "HTTP/1.0 with gzip");
    char body[256];
    bool closed = true;
    cr_expect_eq(exchange("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", body,
                          sizeof body, &closed), 200, "%s", body);
    cr_expect_not(closed, "an HTTP/1.0 keep-alive request without a body closed");
}

/* The X-Request-Id of an answer's head, as sent, into out ("" when absent). */
static void reqid_of(const char *head, char *out, size_t outlen)
{
    const char *p = strcasestr(head, "\r\nX-Request-Id:");
    out[0] = '\0';
    if (!p)
        return;
    p += strlen("\r\nX-Request-Id:");
    p += strspn(p, " ");
    snprintf(out, outlen, "%.*s", (int)strcspn(p, "\r\n"), p);
}

/* Assert a request with a control byte in a header value is refused (400,
 * closed) and that the id it answers with is not the client's, cut short at
 * the byte, and is visible ASCII only. */
static void ctl_refused(const char *req, size_t len, const char *what)
{
    char head[8192] = "", id[256];
    refused_n(req, len, head, sizeof head, 400, "bad_request", what);
    reqid_of(head, id, sizeof id);
    cr_assert(id[0], "%s: no X-Request-Id in %s", what, head);
    cr_expect(strncmp(id, "abc", 3), "%s: an id from the refused request is echoed: %s", what, id);
    for (const char *c = id; *c; c++)
        cr_assert(*c > 0x20 && *c < 0x7f, "%s: X-Request-Id byte 0x%02x", what,
                  (unsigned char)*c);
}

#define CTL_REQ(s) s, sizeof(s) - 1    /* a literal with NUL bytes, and its length */

Test(framing, control_bytes_in_a_header_value_are_refused)
{
    ctl_refused(CTL_REQ("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\0def\r\n"
                        "Accept: */*\r\n\r\n"), "a NUL inside X-Request-Id");
    ctl_refused(CTL_REQ("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\0\r\n\r\n"),
                "a NUL ending the last field");
    ctl_refused(CTL_REQ("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\r\n"
                        "X-Foo: \0bar\r\n\r\n"), "a NUL starting a value");
    ctl_refused(CTL_REQ("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\r\n"
                        "X-Foo: a\001b\r\n\r\n"), "a 0x01 in a value");
    ctl_refused(CTL_REQ("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\r\n"
                        "X-Foo: a\177\r\n\r\n"), "a DEL in a value");
    char req[1024];
    const char *js = "{\"sku\":\"N\",\"qty\":1,\"unit_price_cents\":1}";
    int n = snprintf(req, sizeof req, "POST /carts/%s/items HTTP/1.1\r\nHost: x\r\n"
                     "X-Request-Id: abc\r\nContent-Type: application/json\r\n"
                     "Idempotency-Key: key-one#x\r\nContent-Length: %zu\r\n\r\n%s",
                     H.ids[1], strlen(js), js);
    *strchr(req, '#') = '\0';    /* the key a C string of it gives is "key-one" */
    ctl_refused(req, (size_t)n, "a NUL inside Idempotency-Key");
}

Test(framing, tabs_and_empty_values_are_served)
{
    char body[512], head[8192], id[256];
    bool closed = true;
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Blank: \r\n"
                              "X-Tab: a\tb\r\nX-Request-Id: abc-1\r\nX-Last:  v  \r\n\r\n";
    cr_assert_eq(exchange_n(req, sizeof req - 1, head, sizeof head, body, sizeof body, &closed),
                 200, "%s", body);
    reqid_of(head, id, sizeof id);
    cr_expect_str_eq(id, "abc-1");
}
