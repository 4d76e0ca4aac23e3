/* trio: three replicating stateful-svc replicas for the tests. See trio.h. */
#include "trio.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#ifndef STATEFUL_BIN
#error "STATEFUL_BIN must name the stateful-svc binary"
#endif

/* Choose TRIO_N ports p, each with p + 1 free, none next to another. */
void trio_pick_ports(struct trio *t)
{
    for (int i = 0; i < TRIO_N; i++) {
        int p = 0;
        for (int tries = 0; tries < 100 && !p; tries++) {
            p = harness_free_port();
            for (int k = 0; k < i; k++)
                if (abs(t->ports[k] - p) < 2)
                    p = 0;
            if (p && !harness_port_free(p + 1))
                p = 0;
        }
        cr_assert(p > 0, "no free port pair");
        t->ports[i] = p;
    }
}

/* Start replica i: the extras first (the first of a name wins), then the defaults. */
void trio_start_one(struct trio *t, int i, const char *mode, const char *const *extra)
{
    char peers[128], inst[32], repl[32];
    const char *env[24];
    int n = 0;
    snprintf(peers, sizeof peers, "PEERS=127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", t->ports[0],
             t->ports[1], t->ports[2]);
    snprintf(inst, sizeof inst, "INSTANCE_ID=rep%d", i + 1);
    snprintf(repl, sizeof repl, "REPLICATION=%s", mode);
    for (; extra && extra[n] && n < 16; n++)
        env[n] = extra[n];
    const char *defaults[] = {peers, inst, repl, "REPL_PORT_OFFSET=1", "REPL_TIMEOUT_MS=1000",
                              "LOG_LEVEL=info"};
    for (size_t k = 0; k < sizeof defaults / sizeof defaults[0]; k++)
        env[n++] = defaults[k];
    env[n] = NULL;
    cr_assert(harness_svc_start_port(&t->rep[i], STATEFUL_BIN, t->ports[i], 0, env),
              "replica %d did not start", i + 1);
}

/* Choose ports, start all three, wait for their links. */
void trio_start(struct trio *t, const char *mode, const char *const *extra)
{
    trio_pick_ports(t);
    for (int i = 0; i < TRIO_N; i++)
        trio_start_one(t, i, mode, extra);
    trio_wait_links(t, TRIO_N - 1, -1);
}

/* Wait until every replica but skip sees `live` peers. */
void trio_wait_links(struct trio *t, int live, int skip)
{
    for (int i = 0; i < TRIO_N; i++) {
        if (i == skip)
            continue;
        long long t0 = harness_ms();
        while (topo_info_int(t->ports[i], "repl_peers_live") != live && harness_ms() - t0 < 5000)
            harness_nap(50);
        cr_assert_eq(topo_info_int(t->ports[i], "repl_peers_live"), live, "replica %d links",
                     i + 1);
    }
}

/* SIGKILL replica i and reap it. */
void trio_kill9(struct trio *t, int i)
{
    kill(t->rep[i].pid, SIGKILL);
    waitpid(t->rep[i].pid, NULL, 0);
    t->rep[i].pid = 0;
}

/* Stop every replica. */
void trio_stop(struct trio *t)
{
    for (int i = 0; i < TRIO_N; i++)
        harness_stop(&t->rep[i]);
}

/* A request to port; the status, the JSON answer into *out. */
long trio_call(int port, const char *method, const char *path, const char *body, json_t **out)
{
    struct harness_client *c = harness_client_new(port);
    struct harness_resp r = {0};
    const char *h[] = {"Content-Type: application/json", NULL};
    long st = c && harness_req(c, method, path, body, body ? h : NULL, &r) ? r.status : 0;
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    if (out)
        *out = j;
    else
        json_decref(j);
    harness_resp_free(&r);
    harness_client_free(c);
    return st;
}
