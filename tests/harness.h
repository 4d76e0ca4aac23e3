/* harness: real processes and real HTTP for the integration tests.
 *
 * Starts redis-server and the services on free loopback ports in a temp
 * directory, stops them (SIGTERM, then SIGKILL), and sends requests with
 * libcurl over one keep-alive connection per client. Not thread-safe: one
 * harness_client per thread. */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct harness_proc {
    pid_t pid;
    int port;
    char dir[256];        /* temp dir (logs, redis data) */
    char log[300];        /* the process's stderr/stdout file */
};

/* A port on 127.0.0.1 that was free a moment ago. */
int harness_free_port(void);

/* Start redis-server on a free port in a new temp dir; waits until it answers PING. */
bool harness_redis_start(struct harness_proc *p);

/* Start redis-server again on the same port and dir (after harness_stop); waits for PING. */
bool harness_redis_restart(struct harness_proc *p);

/* Start a service binary with extra "NAME=value" environment entries (NULL-ended);
 * waits until /healthz answers. redis_port is used by stateless-svc (0: none). */
bool harness_svc_start(struct harness_proc *p, const char *bin, int redis_port, const char *const *env);

/* Stop a process: SIGTERM, wait up to 5 s, then SIGKILL; removes nothing. */
void harness_stop(struct harness_proc *p);

/* Freeze or resume a process (SIGSTOP/SIGCONT), e.g. a hung Redis. */
void harness_pause(struct harness_proc *p, bool paused);

/* Print the tail of the process's log to stderr (diagnostics after a failure). */
void harness_log_tail(const struct harness_proc *p);

struct harness_resp {
    long status;
    char *body;           /* NUL-terminated, malloc'd */
    size_t body_len;
    char *headers;        /* raw response headers, malloc'd */
};

struct harness_client;

/* A client with one keep-alive connection and a cookie jar, to 127.0.0.1:port. */
struct harness_client *harness_client_new(int port);
void harness_client_free(struct harness_client *c);

/* Send a request; extra_headers is a NULL-ended list of "Name: value" (may be NULL).
 * Returns false on a transport error. */
bool harness_req(struct harness_client *c, const char *method, const char *path,
                 const char *body, const char *const *extra_headers, struct harness_resp *out);

/* The value of a response header (case-insensitive name), copied to out; false when absent. */
bool harness_header(const struct harness_resp *r, const char *name, char *out, size_t outlen);

/* How many connections curl opened so far for this client (keep-alive check). */
long harness_connects(struct harness_client *c);

void harness_resp_free(struct harness_resp *r);

#endif
