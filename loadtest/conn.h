/* conn: one non-blocking HTTP/1.1 keep-alive client connection on epoll.
 *
 * A connection sends one request at a time (no pipelining) and parses the
 * response with http-parser, keeping the status, the body, the Set-Cookie
 * headers, X-Instance and whether it says Idempotent-Replayed: true. It connects on first use and again after the server
 * closed it. The epoll registration (data.ptr = owner) is the connection's own:
 * EPOLLIN always, EPOLLOUT while connecting or while a write is pending.
 *
 * Not thread-safe: a connection belongs to the thread of its epoll instance. */
#ifndef CONN_H
#define CONN_H

#include <http_parser.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#define CONN_WBUF 2048          /* the largest request */
#define CONN_BODY_MAX (1 << 20) /* a larger response body fails the request */
#define CONN_COOKIES 4
#define CONN_COOKIE_LEN 256
#define CONN_INSTANCE_LEN 64

enum conn_rc {
    CONN_AGAIN,     /* nothing finished yet: wait for more events */
    CONN_DONE,      /* a whole response is in c->resp */
    CONN_FAIL       /* the request failed (c->err says why) */
};

struct conn_resp {
    int status;
    char *body;                 /* NUL-terminated; owned by the connection */
    size_t body_len, body_cap;
    int n_cookies;
    char cookies[CONN_COOKIES][CONN_COOKIE_LEN];
    char instance[CONN_INSTANCE_LEN];
    bool complete;
    bool keep_alive;
    bool replayed;              /* Idempotent-Replayed: true */
};

struct conn {
    int fd;                     /* -1 when closed */
    int epfd;
    void *owner;                /* epoll data.ptr */
    bool busy;                  /* a request is outstanding */
    bool connecting;
    bool want_out;              /* EPOLLOUT is registered */
    size_t wlen, woff;
    char wbuf[CONN_WBUF];       /* the request being sent */
    http_parser parser;
    struct conn_resp resp;
    char hname[32];             /* the header name being parsed */
    size_t hname_len;
    bool in_value;
    int capture;                /* which header the value goes to (see conn.c) */
    int err;                    /* errno of the last failure (0: protocol error) */
    unsigned long connects;     /* connections opened so far */
};

/* Set up a closed connection registered later with epfd, events carrying owner. */
void conn_init(struct conn *c, int epfd, void *owner);

/* Close the socket (if open) and free the body buffer. */
void conn_free(struct conn *c);

/* Close the socket; the next conn_send reconnects. */
void conn_close(struct conn *c);

/* Send the request in c->wbuf[0..len) to addr, connecting first when closed. */
enum conn_rc conn_send(struct conn *c, const struct sockaddr_in *addr, size_t len);

/* Handle epoll events for this connection. */
enum conn_rc conn_event(struct conn *c, uint32_t events);

#endif
