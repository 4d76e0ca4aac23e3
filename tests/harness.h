/* harness: real processes (redis-server, the services) for the integration tests.
 *
 * Starts redis-server and the services on free loopback ports in a temp
 * directory (removed at exit unless CARTPAIR_KEEP_TMP=1), stops them (SIGTERM,
 * then SIGKILL) and echoes any sanitizer report from their logs. The HTTP
 * client is the harness_http module and the raw-socket helpers the
 * harness_raw module, both included here so tests need only this header.
 * Not thread-safe: start and stop processes from one thread. */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness_http.h"
#include "harness_raw.h"

struct harness_proc {
    pid_t pid;
    int port;
    char dir[256];        /* temp dir (logs, redis data) */
    char log[300];        /* the process's stderr/stdout file */
};

/* Milliseconds on a monotonic clock. */
long long harness_ms(void);

/* Sleep for ms milliseconds. */
void harness_nap(long ms);

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

/* The same on a given port (no second try elsewhere). */
bool harness_svc_start_port(struct harness_proc *p, const char *bin, int port, int redis_port,
                            const char *const *env);

/* Stop a process: SIGTERM, wait up to 5 s, then SIGKILL; removes nothing. */
void harness_stop(struct harness_proc *p);

/* Freeze or resume a process (SIGSTOP/SIGCONT), e.g. a hung Redis. */
void harness_pause(struct harness_proc *p, bool paused);

/* Print the tail of the process's log to stderr (diagnostics after a failure). */
void harness_log_tail(const struct harness_proc *p);

#endif
