/* harness_http: the HTTP client of the test harness (libcurl).
 *
 * Sends requests to a service on 127.0.0.1 over one keep-alive connection per
 * client, with a cookie jar, and returns status, headers and body. libcurl is
 * initialised once per process (thread-safe). A harness_client is not
 * thread-safe: use one client per thread. */
#ifndef HARNESS_HTTP_H
#define HARNESS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct harness_resp {
    long status;
    char *body;           /* NUL-terminated, malloc'd */
    size_t body_len;
    char *headers;        /* raw response headers, malloc'd */
};

struct harness_client;

/* A client with one keep-alive connection and a cookie jar, to 127.0.0.1:port. */
struct harness_client *harness_client_new(int port);

/* Give up on a request after ms milliseconds (default 5000). */
void harness_client_timeout(struct harness_client *c, long ms);

/* Close the connection and free the client (NULL is fine). */
void harness_client_free(struct harness_client *c);

/* Send a request; extra_headers is a NULL-ended list of "Name: value" (may be NULL).
 * Returns false on a transport error. */
bool harness_req(struct harness_client *c, const char *method, const char *path,
                 const char *body, const char *const *extra_headers, struct harness_resp *out);

/* The value of a response header (case-insensitive name), copied to out; false when absent. */
bool harness_header(const struct harness_resp *r, const char *name, char *out, size_t outlen);

/* How many connections curl opened so far for this client (keep-alive check). */
long harness_connects(struct harness_client *c);

/* Free a response's body and headers (safe on a zeroed or freed response). */
void harness_resp_free(struct harness_resp *r);

#endif
