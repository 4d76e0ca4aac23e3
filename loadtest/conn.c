/* conn: one non-blocking HTTP/1.1 keep-alive client connection (see conn.h). */
#include "conn.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { CAP_NONE, CAP_COOKIE, CAP_INSTANCE };

/* Append len bytes to a NUL-terminated string in a buffer of size cap (truncating). */
static void conn_append(char *dst, size_t cap, const char *at, size_t len)
{
    size_t have = strlen(dst);
    if (have + 1 >= cap)
        return;
    if (len > cap - 1 - have)
        len = cap - 1 - have;
    memcpy(dst + have, at, len);
    dst[have + len] = '\0';
}

/* http-parser: a piece of a header name. */
static int conn_on_field(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (c->in_value) {
        c->in_value = false;
        c->hname_len = 0;
        c->hname[0] = '\0';
    }
    conn_append(c->hname, sizeof c->hname, at, len);
    c->hname_len = strlen(c->hname);
    return 0;
}

/* http-parser: a piece of a header value; kept for Set-Cookie and X-Instance. */
static int conn_on_value(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    struct conn_resp *r = &c->resp;
    if (!c->in_value) {
        c->in_value = true;
        c->capture = CAP_NONE;
        if (strcasecmp(c->hname, "set-cookie") == 0 && r->n_cookies < CONN_COOKIES) {
            c->capture = CAP_COOKIE;
            r->cookies[r->n_cookies++][0] = '\0';
        } else if (strcasecmp(c->hname, "x-instance") == 0) {
            c->capture = CAP_INSTANCE;
            r->instance[0] = '\0';
        } else if (strcasecmp(c->hname, "idempotent-replayed") == 0) {
            r->replayed = len >= 4 && strncasecmp(at, "true", 4) == 0;
        }
    }
    if (c->capture == CAP_COOKIE)
        conn_append(r->cookies[r->n_cookies - 1], CONN_COOKIE_LEN, at, len);
    else if (c->capture == CAP_INSTANCE)
        conn_append(r->instance, CONN_INSTANCE_LEN, at, len);
    return 0;
}

/* http-parser: the status line and headers are in. */
static int conn_on_headers(http_parser *p)
{
    struct conn *c = p->data;
    c->resp.status = (int)p->status_code;
    return 0;
}

/* http-parser: a piece of the body. */
static int conn_on_body(http_parser *p, const char *at, size_t len)
{
    struct conn_resp *r = &((struct conn *)p->data)->resp;
    if (r->body_len + len + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + len + 1)
            cap *= 2;
        if (cap > CONN_BODY_MAX)
            return 1;
        char *b = realloc(r->body, cap);
        if (!b)
            return 1;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

/* http-parser: the whole response is in. */
static int conn_on_complete(http_parser *p)
{
    struct conn *c = p->data;
    c->resp.complete = true;
    c->resp.keep_alive = http_should_keep_alive(p) != 0;
    return 0;
}

static const http_parser_settings conn_settings = {
    .on_header_field = conn_on_field,
    .on_header_value = conn_on_value,
    .on_headers_complete = conn_on_headers,
    .on_body = conn_on_body,
    .on_message_complete = conn_on_complete,
};

void conn_init(struct conn *c, int epfd, void *owner)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->epfd = epfd;
    c->owner = owner;
}

void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->busy = false;
    c->connecting = false;
    c->want_out = false;
}

void conn_free(struct conn *c)
{
    conn_close(c);
    free(c->resp.body);
    c->resp.body = NULL;
    c->resp.body_cap = 0;
}

/* Close after a failure, remembering why. */
static enum conn_rc conn_fail(struct conn *c, int err)
{
    conn_close(c);
    c->err = err;
    return CONN_FAIL;
}

/* Register for EPOLLIN, plus EPOLLOUT when out. */
static int conn_watch(struct conn *c, int op, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0u), .data.ptr = c->owner};
    c->want_out = out;
    return epoll_ctl(c->epfd, op, c->fd, &ev);
}

/* Open a non-blocking socket to addr and register it. */
static enum conn_rc conn_open(struct conn *c, const struct sockaddr_in *addr)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return conn_fail(c, errno);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->connects++;
    if (connect(c->fd, (const struct sockaddr *)addr, sizeof *addr) < 0) {
        if (errno != EINPROGRESS)
            return conn_fail(c, errno);
        c->connecting = true;
    }
    if (conn_watch(c, EPOLL_CTL_ADD, true) < 0)
        return conn_fail(c, errno);
    return CONN_AGAIN;
}

/* Write what is left of the request. */
static enum conn_rc conn_flush(struct conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n > 0) {
            c->woff += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!c->want_out && conn_watch(c, EPOLL_CTL_MOD, true) < 0)
                return conn_fail(c, errno);
            return CONN_AGAIN;
        }
        return conn_fail(c, n < 0 ? errno : EPIPE);
    }
    if (c->want_out && conn_watch(c, EPOLL_CTL_MOD, false) < 0)
        return conn_fail(c, errno);
    return CONN_AGAIN;
}

enum conn_rc conn_send(struct conn *c, const struct sockaddr_in *addr, size_t len)
{
    struct conn_resp *r = &c->resp;
    r->status = 0;
    r->body_len = 0;
    if (r->body)
        r->body[0] = '\0';
    r->n_cookies = 0;
    r->instance[0] = '\0';
    r->complete = false;
    r->keep_alive = false;
    r->replayed = false;
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    c->hname_len = 0;
    c->hname[0] = '\0';
    c->in_value = false;
    c->err = 0;
    c->wlen = len;
    c->woff = 0;
    if (c->fd < 0 && conn_open(c, addr) == CONN_FAIL)
        return CONN_FAIL;
    c->busy = true;
    return c->connecting ? CONN_AGAIN : conn_flush(c);
}

/* The response is whole: hand it over, closing when the server will. */
static enum conn_rc conn_done(struct conn *c)
{
    bool keep = c->resp.keep_alive;
    c->busy = false;
    if (!keep)
        conn_close(c);
    return CONN_DONE;
}

/* Read and parse what the socket holds (bounded: level-triggered epoll calls again). */
static enum conn_rc conn_read(struct conn *c)
{
    char buf[16384];
    for (int i = 0; i < 64 && c->fd >= 0; i++) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return CONN_AGAIN;
        if (!c->busy) {         /* the server closed an idle connection, or sent junk */
            conn_close(c);
            return CONN_AGAIN;
        }
        if (n < 0)
            return conn_fail(c, errno);
        size_t done = http_parser_execute(&c->parser, &conn_settings, buf, (size_t)n);
        if (c->resp.complete)
            return conn_done(c);
        if (n == 0)
            return conn_fail(c, ECONNRESET);
        if (done != (size_t)n || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK)
            return conn_fail(c, 0);
    }
    return CONN_AGAIN;
}

enum conn_rc conn_event(struct conn *c, uint32_t events)
{
    if (c->fd < 0)
        return CONN_AGAIN;
    if (c->connecting) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return CONN_AGAIN;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err)
            return conn_fail(c, err);
        c->connecting = false;
        return conn_flush(c);
    }
    if ((events & EPOLLOUT) && c->woff < c->wlen) {
        if (conn_flush(c) == CONN_FAIL)
            return CONN_FAIL;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        return conn_read(c);
    return CONN_AGAIN;
}
