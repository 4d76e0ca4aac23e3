/* trio: three stateful-svc replicas on loopback that replicate to each other,
 * for the replication tests.
 *
 * Each replica gets a free port p with p + 1 free too (its replication
 * port: REPL_PORT_OFFSET=1), PEERS naming all three, INSTANCE_ID rep1..rep3,
 * the REPLICATION mode asked for, REPL_TIMEOUT_MS=1000 and LOG_LEVEL=info;
 * extra settings come first, so they override those. Failures are Criterion
 * assertions. Not thread-safe: drive a trio from one thread (trio_call is
 * safe from any thread; topo_info_int reads a replica's /info). */
#ifndef TRIO_H
#define TRIO_H

#include <jansson.h>

#include "harness.h"
#include "topo.h"

#define TRIO_N 3

struct trio {
    struct harness_proc rep[TRIO_N];
    int ports[TRIO_N];
};

/* Choose the three ports (before the first start). */
void trio_pick_ports(struct trio *t);

/* Start replica i in mode with extra "NAME=value" settings (NULL-ended; may be NULL). */
void trio_start_one(struct trio *t, int i, const char *mode, const char *const *extra);

/* Choose ports, start all three (the same mode and extras), wait for their links. */
void trio_start(struct trio *t, const char *mode, const char *const *extra);

/* Wait (at most 5 s) until every replica but skip (-1: none) sees `live` peers. */
void trio_wait_links(struct trio *t, int live, int skip);

/* SIGKILL replica i and reap it. */
void trio_kill9(struct trio *t, int i);

/* Stop every replica (SIGTERM, then SIGKILL). */
void trio_stop(struct trio *t);

/* A request to port (a JSON body when body is set); the status (0: no
 * answer), the answer's JSON into *out (may be NULL; NULL when not JSON). */
long trio_call(int port, const char *method, const char *path, const char *body, json_t **out);

#endif
