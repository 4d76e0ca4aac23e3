/* frame: HTTP/1.1 message framing checks (RFC 9112) over a request's header
 * fields, and the path of an absolute-form target.
 *
 * The server feeds every header field of a request to frame_header once the
 * header is in, before any of the body is read, and asks frame_verdict: a
 * request that is ambiguous to frame must be refused (400, or 501 for an
 * unknown transfer coding) and its connection closed, since nothing after it
 * on the connection can be trusted to start a request. Pure functions over
 * a caller's struct: thread-safe. */
#ifndef FRAME_H
#define FRAME_H

#include <stdbool.h>

enum frame_status {
    FRAME_OK = 0,
    FRAME_CL_AND_TE,      /* both Content-Length and Transfer-Encoding */
    FRAME_CL_MISMATCH,    /* several Content-Length values that differ */
    FRAME_CL_INVALID,     /* a Content-Length that is not a decimal number */
    FRAME_TE_UNKNOWN,     /* a transfer coding other than chunked (501) */
    FRAME_TE_REPEATED,    /* Transfer-Encoding more than once */
    FRAME_NO_HOST,        /* an HTTP/1.1 request without Host */
    FRAME_MANY_HOSTS,     /* Host more than once */
    FRAME_NAME_SPACE,     /* whitespace in a field name (e.g. before its colon) */
    FRAME_VALUE_CTL,      /* a NUL or another control byte (not tab) in a field value */
    FRAME_TE_HTTP10       /* Transfer-Encoding in an HTTP/1.0 request */
};

/* What the header fields of one request said, as far as framing goes. */
struct frame_scan {
    unsigned hosts, cls, tes;
    bool cl_mismatch, cl_invalid, te_unknown, name_space, value_ctl;
    char cl[24];                  /* the first Content-Length value, trimmed */
};

/* Start a scan. */
void frame_init(struct frame_scan *f);

/* Feed one header field (name and value as the parser gave them). */
void frame_header(struct frame_scan *f, const char *name, const char *value);

/* Note that a field value held a byte the parser did not hand over: a NUL
 * that cut it short (the parser's strings end at the first NUL). */
void frame_value_cut(struct frame_scan *f);

/* The verdict once every field is in; http11 for an HTTP/1.1 request. */
enum frame_status frame_verdict(const struct frame_scan *f, bool http11);

/* True when st is answered 501 (an unknown transfer coding), else 400. */
bool frame_not_implemented(enum frame_status st);

/* A static human message for a status. */
const char *frame_message(enum frame_status st);

/* The origin-form path of a request target: for an absolute-form target
 * ("http://host:port/p?q") the part from the first '/' after the authority,
 * "/" when there is none; any other target as it is. */
const char *frame_origin_path(const char *target);

#endif
