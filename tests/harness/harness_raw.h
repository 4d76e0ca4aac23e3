/* harness_raw: raw sockets, for tests that must send what no HTTP library would.
 *
 * Connects to 127.0.0.1 (optionally from another loopback source address),
 * sends bytes as given and reads one HTTP response byte-exactly, or waits for
 * the peer to close. Included from harness.h. Thread-safe: no shared state;
 * each fd belongs to its caller. */
#ifndef HARNESS_RAW_H
#define HARNESS_RAW_H

#include <stdbool.h>
#include <stddef.h>

/* Open a TCP connection to 127.0.0.1:port from source address src (NULL: any);
 * reads time out after timeout_ms. The fd, or -1. */
int harness_raw_connect(int port, const char *src, int timeout_ms);

/* Send all len bytes of buf; false on an error (e.g. the peer closed). */
bool harness_raw_send(int fd, const void *buf, size_t len);

/* Read one HTTP response exactly (headers, then Content-Length bytes of body,
 * copied NUL-terminated into body when it is not NULL). Its status; 0 when the
 * peer closed or reset first; -1 on a read timeout or a malformed response. */
long harness_raw_response(int fd, char *body, size_t bodylen);

/* harness_raw_response that also keeps the status line and header fields,
 * NUL-terminated, in hdr (at least 8 bytes; a longer head is cut short). */
long harness_raw_response_head(int fd, char *hdr, size_t hdrlen, char *body, size_t bodylen);

/* True when the peer closes (or resets) the connection within timeout_ms;
 * any bytes that arrive first are discarded. */
bool harness_raw_closed(int fd, int timeout_ms);

#endif
