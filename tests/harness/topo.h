/* topo: the local routing topology for the integration tests.
 *
 * Starts deploy/local/cartpair-local (redis, TOPO_NREP stateful and
 * TOPO_NREP stateless replicas, HAProxy) detached on free loopback ports in a
 * temp run dir, runs its other commands (kill, restart, down) bounded in
 * time, arms a reaper child that runs 'down' if the test process dies, and
 * asks the replicas and HAProxy's stats page for their state. The script is
 * found relative to this source file (CARTPAIR_LOCAL overrides it). Failures
 * of topo_up/topo_down are Criterion assertions. Not thread-safe: start, stop
 * and script the topology from one thread;
 * topo_rep_of, topo_get_json and topo_info_carts are safe from any thread. */
#ifndef TOPO_H
#define TOPO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TOPO_NREP 3           /* replicas per service */
#define TOPO_NENV 256

struct topo {
    char dir[128];                 /* RUN_DIR */
    char script[1024];             /* cartpair-local */
    char bin_dir[1024];
    int fe[2], stats, redis, base[2]; /* [0] stateful, [1] stateless */
    char envbuf[14][1100];
    char *envp[TOPO_NENV];
    pid_t reaper;                  /* runs 'down' if this test process dies */
};

/* Pick ports, start the topology detached into t, arm the reaper (a .init). */
void topo_up(struct topo *t);

/* Stop everything (even after a failed assertion) and the reaper (a .fini). */
void topo_down(struct topo *t);

/* Run "cartpair-local cmd [arg]", bounded by 30 s; its exit code, -1 on a hang. */
int topo_script(struct topo *t, const char *cmd, const char *arg);

/* The same with a second argument ("flap", "stateful-2", "6"). */
int topo_script2(struct topo *t, const char *cmd, const char *arg, const char *arg2);

/* Replica index from an X-Instance such as "stateless-2"; -1 when not one of ours. */
int topo_rep_of(const char *inst);

/* GET path straight from 127.0.0.1:port as JSON (NULL on failure); status out. */
json_t *topo_get_json(int port, const char *path, const char *const *hdrs, long *status);

/* An integer field of port's GET /info ("carts", "repl_peers_live", ...); -1
 * when it does not answer 200 or has no such integer. */
long topo_info_int(int port, const char *field);

/* Poll the stats page until HAProxy reports server sv of backend be DOWN; the
 * milliseconds since `since` it took, -1 if not within 10 s. */
long topo_wait_marked_down(struct topo *t, const char *be, const char *sv, long long since);

#endif
