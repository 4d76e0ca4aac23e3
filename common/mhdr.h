/* mhdr: a request's header fields as libmicrohttpd 0.9.75 parsed them, read
 * for what its parse hides or splits.
 *
 * mhdr_framing feeds every field to the framing scan (frame.h) and finds the
 * values libmicrohttpd cut short at a NUL byte: its strings end at the first
 * NUL (the length it reports is that string's), so a field "abc\0def" would
 * reach the service as "abc". The bytes after such a NUL are still in the
 * connection's read buffer, where libmicrohttpd parsed the header in place
 * and replaced only each line's CR LF by NULs: so between the end of one
 * field's value and the start of the next field's name there is nothing but
 * NULs (one or two), unless a NUL cut that value. What this cannot see: NULs
 * right before a bare LF line end ("abc\0\n" leaves what "abc\r\n" does),
 * which then count as the value's end, like trailing whitespace. A folded
 * line (obs-fold) leaves its continuation in such a gap and is refused too
 * (RFC 9112 5.2 allows 400). mhdr_if_match joins the values of several
 * If-Match fields into one list (RFC 9110 5.3), where libmicrohttpd's lookup
 * gives only the first. Call them from the access handler, while the header
 * is in place; no state of their own: thread-safe. */
#ifndef MHDR_H
#define MHDR_H

#include <microhttpd.h>
#include <stdbool.h>

#include "frame.h"

/* The framing verdict on the request's header fields (frame_verdict), a value
 * cut short at a NUL counting as FRAME_VALUE_CTL; method is the access
 * handler's (the start of the header in the read buffer), version its
 * HTTP version. */
enum frame_status mhdr_framing(struct MHD_Connection *conn, const char *method,
                               const char *version);

/* The request's If-Match as one field value: NULL when there is none, the
 * value of a single field, or the values of several joined by ", " in a
 * malloc'd string also stored in *joined (the caller frees it; NULL
 * otherwise). When memory runs out, "\"\" x" (a list that is not valid, so
 * it never matches). */
const char *mhdr_if_match(struct MHD_Connection *conn, char **joined);

#endif
