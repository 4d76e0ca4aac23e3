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

/* The service a per-target test file runs against (it is built once with
 * TARGET_STATEFUL, once with TARGET_STATELESS): its binary, and whether it
 * needs a Redis. */
#if defined(TARGET_STATEFUL)
#define TARGET_BIN STATEFUL_BIN
#define TARGET_USES_REDIS 0
#elif defined(TARGET_STATELESS)
#define TARGET_BIN STATELESS_BIN
#define TARGET_USES_REDIS 1
#endif

struct harness_proc {
    pid_t pid;
    int port;
    char dir[256];        /* temp dir (logs, redis data) */
    char log[300];        /* the process's stderr/stdout file */
    const char *const *args; /* redis-server: extra arguments (kept for restarts) */
    bool sentinel;        /* a redis-sentinel (restart reuses its rewritten config) */
    char password[64];    /* its requirepass ("" for none), for the start-up probe */
};

/* Milliseconds on a monotonic clock. */
long long harness_ms(void);

/* Sleep for ms milliseconds. */
void harness_nap(long ms);

#define HARNESS_PORT_MIN 20000   /* test ports: below the ephemeral range */
#define HARNESS_PORT_MAX 32000

/* A port on 127.0.0.1 in HARNESS_PORT_MIN..MAX that was free a moment ago. */
int harness_free_port(void);

/* True when nothing is bound to 127.0.0.1:port now. */
bool harness_port_free(int port);

/* Start redis-server on a free port in a new temp dir; waits until it answers PING. */
bool harness_redis_start(struct harness_proc *p);

/* Start redis-server (or a sentinel) again on the same port and dir (after
 * harness_stop); waits for PING. */
bool harness_redis_restart(struct harness_proc *p);

/* harness_redis_start with extra redis-server arguments (NULL-ended, e.g.
 * "--replicaof", "127.0.0.1 6390"); args must outlive p. */
bool harness_redis_start_args(struct harness_proc *p, const char *const *args);

/* Start redis-sentinel on a free port in a new temp dir, monitoring
 * HARNESS_MASTER at 127.0.0.1:master_port (quorum 2, down-after 1000 ms);
 * password (NULL: none) is the primary's and the sentinel's own. */
bool harness_sentinel_start(struct harness_proc *p, int master_port, const char *password);

/* SIGKILL a process and reap it (a crash, not a stop). */
void harness_kill(struct harness_proc *p);

#define HARNESS_MASTER "mymaster"

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
