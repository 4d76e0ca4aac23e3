/* harness: real processes (redis-server, the services) for the integration tests.
 *
 * Starts redis-server and the services on free loopback ports in a temp
 * directory (removed at exit unless CARTPAIR_KEEP_TMP=1), stops them (SIGTERM,
 * then SIGKILL) and echoes any sanitizer report from their logs. The HTTP
 * client is the harness_http module, included here so tests need only this
 * header. Not thread-safe: start and stop processes from one thread. */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness_http.h"

struct harness_proc {
    pid_t pid;
    int port;
    char dir[256];        /* temp dir (logs, redis data) */
    char log[300];        /* the process's stderr/stdout file */
};

#define HARNESS_PORT_MIN 20000   /* test ports: below the ephemeral range */
#define HARNESS_PORT_MAX 32000

/* A port on 127.0.0.1 in HARNESS_PORT_MIN..MAX that was free a moment ago. */
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

/* Raw sockets, for tests that must send what no HTTP library would. */

/* Open a TCP connection to 127.0.0.1:port from source address src (NULL: any);
 * reads time out after timeout_ms. The fd, or -1. */
int harness_raw_connect(int port, const char *src, int timeout_ms);

/* Send all len bytes of buf; false on an error (e.g. the peer closed). */
bool harness_raw_send(int fd, const void *buf, size_t len);

/* Read one HTTP response exactly (headers, then Content-Length bytes of body,
 * copied NUL-terminated into body when it is not NULL). Its status; 0 when the
 * peer closed or reset first; -1 on a read timeout or a malformed response. */
long harness_raw_response(int fd, char *body, size_t bodylen);

/* True when the peer closes (or resets) the connection within timeout_ms;
 * any bytes that arrive first are discarded. */
bool harness_raw_closed(int fd, int timeout_ms);

#endif
