/* http: the HTTP/1.1 server, on libmicrohttpd. See http.h. */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "id.h"
#include "idem.h"
#include "log.h"
#include "metrics.h"
#include "mhdr.h"
#include "util.h"

#define HTTP_REQID_MAX 128

struct http_server {
    struct MHD_Daemon *d;
    http_handler handler;
    void *ud;
    char instance[128];
    atomic_uint inflight;
    atomic_bool closing;
};

/* Per-request state, freed by on_completed. */
struct http_rstate {
    struct timespec start;
    char *body;                   /* lazily allocated, HTTP_BODY_MAX + 1 */
    size_t len;
    size_t discarded;             /* bytes dropped past the limit */
    bool too_large;
    bool deferred;                /* suspended until http_resume */
    enum frame_status framing;    /* the header's framing verdict */
    char *if_match;               /* several If-Match fields joined, or NULL */
    struct http_resp resp;
    char reqid[HTTP_REQID_MAX + 1];
};

/* Seconds elapsed since t0 on the monotonic clock. */
static double http_elapsed(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* True when a client-sent request id is safe to echo: 1..128 visible ASCII chars. */
static bool http_reqid_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= HTTP_REQID_MAX || s[n] <= 0x20 || s[n] >= 0x7f)
            return false;
    return n > 0;
}

/* The declared Content-Length, or 0 when absent or unparsable. */
static unsigned long long http_content_length(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl ? strtoull(cl, NULL, 10) : 0;
}

/* Add a header when its value is not empty. */
static void http_add(struct MHD_Response *r, const char *name, const char *value)
{
    if (value && value[0])
        MHD_add_response_header(r, name, value);
}

/* Turn a filled http_resp into an MHD response and queue it. */
static enum MHD_Result http_send(struct http_server *s, struct MHD_Connection *conn,
                                 struct http_resp *out, const char *reqid)
{
    struct MHD_Response *r;
    if (out->body && out->body_len)
        r = MHD_create_response_from_buffer(out->body_len, out->body, MHD_RESPMEM_MUST_FREE);
    else {
        free(out->body);
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!r)
        return MHD_NO;
    http_add(r, MHD_HTTP_HEADER_CONTENT_TYPE,
             out->content_type ? out->content_type : "application/json");
    http_add(r, "X-Instance", s->instance);
    http_add(r, "X-Request-Id", reqid);
    if (out->no_store)
        http_add(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (out->close || atomic_load_explicit(&s->closing, memory_order_relaxed))
        http_add(r, MHD_HTTP_HEADER_CONNECTION, "close");
    http_add(r, MHD_HTTP_HEADER_LOCATION, out->location);
    http_add(r, MHD_HTTP_HEADER_SET_COOKIE, out->set_cookie);
    http_add(r, MHD_HTTP_HEADER_ALLOW, out->allow);
    http_add(r, MHD_HTTP_HEADER_ETAG, out->etag);
    if (out->replayed)
        http_add(r, IDEM_REPLAYED_HEADER, "true");
    if (out->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", out->retry_after);
        http_add(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result ret = MHD_queue_response(conn, out->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Send the answer in st->resp and record metrics and the access log. */
static enum MHD_Result http_finish(struct http_server *s, struct MHD_Connection *conn,
                                   struct http_rstate *st, const char *url, const char *method)
{
    unsigned status = st->resp.status;
    size_t route = st->resp.route;
    enum MHD_Result ret = http_send(s, conn, &st->resp, st->reqid);
    st->resp.body = NULL; /* owned by MHD now */
    double secs = http_elapsed(&st->start);
    metrics_observe(route, status, secs);
    if (log_enabled(LOG_DEBUG))
        log_msg(LOG_DEBUG, "request", "%s %s %u %.3fms id=%s", method, url, status,
                secs * 1e3, st->reqid);
    return ret;
}

/* Build the http_req view, call the handler, and answer now or suspend. A
 * request refused for a control byte in a field does not have its id echoed
 * (the id may be the part before a NUL). */
static enum MHD_Result http_dispatch(struct http_server *s, struct MHD_Connection *conn,
                                     struct http_rstate *st, const char *url,
                                     const char *method)
{
    const char *reqid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (reqid && st->framing != FRAME_VALUE_CTL && http_reqid_ok(reqid))
        memcpy(st->reqid, reqid, strlen(reqid) + 1); /* http_reqid_ok bounds it */
    else if (id_request(st->reqid, sizeof st->reqid) != ID_OK)
        snprintf(st->reqid, sizeof st->reqid, "0");
    struct http_req req = {
        .method = method, .path = frame_origin_path(url), .framing = st->framing,
        .body = st->body && !st->too_large ? st->body : "",
        .body_len = st->too_large ? 0 : st->len,
        .body_too_large = st->too_large,
        .content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_CONTENT_TYPE),
        .if_match = mhdr_if_match(conn, &st->if_match),
        .cookie_cart = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "cart"),
        .idem_key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, IDEM_HEADER),
        .request_id = st->reqid,
        .closing = atomic_load_explicit(&s->closing, memory_order_relaxed),
    };
    st->resp.status = 500; /* the rest is zero: st came from calloc */
    st->resp.close = st->framing != FRAME_OK;
    s->handler(s->ud, &req, &st->resp);
    if (st->resp.defer) {
        st->deferred = true;
        st->resp.conn_ = conn;
        MHD_suspend_connection(conn);
        st->resp.defer(st->resp.defer_arg);
        return MHD_YES;
    }
    return http_finish(s, conn, st, url, method);
}

/* util_batch call: resume a suspended connection. */
static void http_resume_now(void *conn)
{
    MHD_resume_connection(conn);
}

/* Resume now, or at the end of this thread's open batch (util_batch): the
 * pool thread then wakes once for all the connections the batch resumes. */
void http_resume(struct http_resp *resp)
{
    if (!util_batch_defer(http_resume_now, resp->conn_))
        MHD_resume_connection(resp->conn_);
}

/* Keep up to HTTP_BODY_MAX bytes of the body; count and drop the rest. */
static bool http_collect(struct http_rstate *st, const char *data, size_t n)
{
    if (!st->too_large && st->len + n <= HTTP_BODY_MAX) {
        if (!st->body && !(st->body = malloc(HTTP_BODY_MAX + 1)))
            return false;
        memcpy(st->body + st->len, data, n);
        st->len += n;
        st->body[st->len] = '\0';
        return true;
    }
    st->too_large = true;
    st->discarded += n;
    return st->discarded <= HTTP_DRAIN_MAX;
}

/* MHD's access handler: collect the body, answer once it is all in. A request
 * whose framing is ambiguous is answered at once, its body unread, and its
 * connection closed. */
static enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn,
                                       const char *url, const char *method,
                                       const char *version, const char *upload_data,
                                       size_t *upload_data_size, void **con_cls)
{
    struct http_server *s = cls;
    struct http_rstate *st = *con_cls;
    if (!st) {
        if (!(st = calloc(1, sizeof *st)))
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &st->start);
        atomic_fetch_add_explicit(&s->inflight, 1, memory_order_relaxed);
        *con_cls = st;
        st->framing = mhdr_framing(conn, method, version);
        if (st->framing != FRAME_OK)
            return http_dispatch(s, conn, st, url, method);
        if (http_content_length(conn) > HTTP_DRAIN_MAX) {
            /* Too large to drain: answer 413 now; MHD closes the connection. */
            st->too_large = true;
            return http_dispatch(s, conn, st, url, method);
        }
        return MHD_YES;
    }
    if (st->deferred) /* resumed: the deferred answer is ready */
        return http_finish(s, conn, st, url, method);
    if (*upload_data_size) {
        bool keep = http_collect(st, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return keep ? MHD_YES : MHD_NO; /* past the drain cap: drop the connection */
    }
    return http_dispatch(s, conn, st, url, method);
}

/* MHD's completion callback: free the per-request state. */
static void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct http_rstate *st = *con_cls;
    if (!st)
        return;
    free(st->body);
    free(st->if_match);
    free(st->resp.body);
    free(st);
    *con_cls = NULL;
    atomic_fetch_sub_explicit(&s->inflight, 1, memory_order_relaxed);
}

/* Route MHD's own error messages into our log. */
__attribute__((format(printf, 2, 0)))
static void http_on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    log_msg(LOG_DEBUG, "mhd", "%s", buf);
}

/* Percent-decode as MHD does, but a decoded NUL (%00) becomes '%' so it cannot cut the path short. */
static size_t http_unescape(void *cls, struct MHD_Connection *conn, char *uri)
{
    size_t n = MHD_http_unescape(uri);
    for (size_t i = 0; i < n; i++)
        if (uri[i] == '\0')
            uri[i] = '%';
    return n;
}

/* Fill a socket address from a literal; the MHD flag for its family, or -1. */
static int http_sockaddr(const char *addr, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return MHD_USE_IPv6;
    }
    return -1;
}

struct http_server *http_start(const struct http_cfg *cfg, http_handler h, void *ud,
                               char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int fam = http_sockaddr(cfg->listen_addr, cfg->port, &ss);
    if (fam < 0) {
        snprintf(err, errlen, "LISTEN_ADDR: '%s' is not an IP address", cfg->listen_addr);
        return NULL;
    }
    struct http_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->handler = h;
    s->ud = ud;
    snprintf(s->instance, sizeof s->instance, "%s", cfg->instance);
    /* A pool only for 2+ threads: MHD warns about a pool of 0 or 1. */
    struct MHD_OptionItem pool[] = {
        {cfg->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
         (intptr_t)cfg->threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                         MHD_ALLOW_SUSPEND_RESUME |
                         MHD_USE_ERROR_LOG | (unsigned int)fam;
    s->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, http_on_request, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_ARRAY, pool,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_conns,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)cfg->max_conns_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->idle_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, s,
        MHD_OPTION_EXTERNAL_LOGGER, http_on_mhd_log, NULL,
        MHD_OPTION_UNESCAPE_CALLBACK, http_unescape, NULL,
        MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot listen on %s port %d (in use, or not permitted)",
                 cfg->listen_addr, cfg->port);
        free(s);
        return NULL;
    }
    return s;
}

void http_quiesce(struct http_server *s)
{
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void http_closing(struct http_server *s)
{
    atomic_store(&s->closing, true);
}

unsigned http_inflight(struct http_server *s)
{
    return atomic_load_explicit(&s->inflight, memory_order_relaxed);
}

void http_stop(struct http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    free(s);
}
