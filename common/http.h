/* http: the HTTP/1.1 server, on libmicrohttpd.
 *
 * Runs an internal epoll thread pool (THREADS workers), bounds connections
 * (total, per IP, idle timeout), collects request bodies up to HTTP_BODY_MAX
 * (never buffering past it), and calls one handler per complete request. It
 * adds the headers every response carries (X-Instance, X-Request-Id,
 * Content-Type, Cache-Control when asked) and records metrics. A handler may
 * answer later (http_resp.defer): the connection is suspended meanwhile, so
 * a pool thread never waits on I/O. Thread-safe: the handler is called from
 * the pool's threads concurrently; http_resume from any thread. */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "frame.h"

#define HTTP_BODY_MAX 16384            /* 16 KiB; larger bodies get 413, unbuffered */
#define HTTP_DRAIN_MAX (1024 * 1024)   /* past this an over-limit body is not drained: 413 and close */

struct http_req {
    const char *method;
    const char *path;             /* percent-decoded by MHD, no query string; an
                                   * absolute-form target's path (frame_origin_path) */
    enum frame_status framing;    /* not FRAME_OK: refuse; the connection closes */
    const char *body;             /* NUL-terminated; "" when none */
    size_t body_len;
    bool body_too_large;          /* over HTTP_BODY_MAX: body is empty */
    const char *content_type;     /* NULL when absent */
    const char *if_match;         /* raw If-Match header, or NULL */
    const char *cookie_cart;      /* value of the "cart" cookie, or NULL */
    const char *idem_key;         /* raw Idempotency-Key header, or NULL */
    const char *request_id;       /* echoed X-Request-Id, or a generated one */
    bool closing;                 /* the server is shutting down (see http_closing) */
};

struct http_resp {
    unsigned status;
    char *body;                   /* malloc'd; the server frees it */
    size_t body_len;
    const char *content_type;     /* NULL means application/json */
    bool no_store;                /* add Cache-Control: no-store */
    bool replayed;                /* add Idempotent-Replayed: true */
    bool close;                   /* add Connection: close (http sets it for bad framing) */
    size_t route;                 /* metrics label index (see metrics_init) */
    char location[160];           /* Location, when not "" */
    char set_cookie[256];         /* Set-Cookie, when not "" */
    char allow[64];               /* Allow, when not "" */
    char etag[32];                /* ETag, when not "" */
    int retry_after;              /* Retry-After seconds, when > 0 */
    /* A handler that answers later sets defer: once the connection is
     * suspended, http calls defer(defer_arg), and the work ends with
     * http_resume(resp) after filling resp in, from any thread. */
    void (*defer)(void *arg);
    void *defer_arg;
    void *conn_;                  /* http's own: the connection to resume */
};

/* Fill resp from req; called once per request on a pool thread. */
typedef void (*http_handler)(void *ud, const struct http_req *req, struct http_resp *resp);

struct http_cfg {
    const char *listen_addr;
    int port;
    int threads;
    int max_conns;
    int max_conns_per_ip;         /* 0 = no limit */
    int idle_timeout;             /* seconds */
    const char *instance;         /* value of X-Instance */
    const char *service;          /* for logs */
};

struct http_server;

/* Start serving; NULL with err set when the address cannot be bound. */
struct http_server *http_start(const struct http_cfg *cfg, http_handler h, void *ud,
                               char *err, size_t errlen);

/* Send a deferred response (see http_resp.defer); any thread, once per
 * request. Within an open util_batch the connection resumes at its end. */
void http_resume(struct http_resp *resp);

/* Stop accepting new connections; open ones are still served. */
void http_quiesce(struct http_server *s);

/* From now on every request is marked closing (the handler should refuse it
 * without starting work) and its connection closes after the answer, so that
 * in-flight requests can run out before http_stop. */
void http_closing(struct http_server *s);

/* Requests that have started and not yet completed. */
unsigned http_inflight(struct http_server *s);

/* Stop the pool, close every connection and free the server; no request may
 * be deferred any more (http_inflight() == 0). */
void http_stop(struct http_server *s);

#endif
