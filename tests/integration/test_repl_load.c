/* Replication under concurrent changes: many clients change carts on one
 * replica at once, so that its link to each backup has many changes in
 * flight (pipelined, their acks read and matched in batches, the requests
 * they complete resumed together). Every change must be answered 200, and
 * after a SIGKILL of the owner every cart must be exact on both survivors:
 * sync acknowledges only copied changes; async, once nothing is pending,
 * has copied them all. Three real stateful-svc replicas on loopback. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trio.h"

#define NREP TRIO_N
#define NCLIENTS 10
#define CARTS_EACH 3
#define NCARTS (NCLIENTS * CARTS_EACH)
#define NCHG 20                   /* adds per cart, over NSKU skus */
#define NSKU 5

static struct trio T;

/* Stop every replica (a Criterion .fini). */
static void stop_trio(void)
{
    trio_stop(&T);
}
static char ids[NCARTS][72];
static atomic_int failed;

TestSuite(repl_load, .fini = stop_trio, .timeout = 120);

/* Start the three replicas in mode and wait for their links. */
static void start_trio(const char *mode)
{
    trio_start(&T, mode, (const char *const[]){"REPL_TIMEOUT_MS=2000", "LOG_LEVEL=warn", NULL});
}

/* One client: create its carts on replica 1, then add to them in turn, on
 * one keep-alive connection; a failure is counted in `failed`. */
static void *client(void *arg)
{
    int me = (int)(intptr_t)arg;
    struct harness_client *c = harness_client_new(T.ports[0]);
    struct harness_resp r = {0};
    const char *h[] = {"Content-Type: application/json", NULL};
    for (int k = 0; k < CARTS_EACH; k++) {
        int i = me * CARTS_EACH + k;
        json_t *j = harness_req(c, "POST", "/carts", NULL, NULL, &r) && r.status == 201
                  ? json_loads(r.body, 0, NULL) : NULL;
        const char *id = j ? json_string_value(json_object_get(j, "id")) : NULL;
        snprintf(ids[i], sizeof ids[i], "%.64s", id ? id : "");
        atomic_fetch_add(&failed, j == NULL);
        json_decref(j);
        harness_resp_free(&r);
    }
    for (int n = 0; n < NCHG; n++) {
        for (int k = 0; k < CARTS_EACH; k++) {
            char path[160], body[96];
            snprintf(path, sizeof path, "/carts/%.64s/items", ids[me * CARTS_EACH + k]);
            snprintf(body, sizeof body, "{\"sku\":\"SKU-%d\",\"qty\":1,\"unit_price_cents\":100}",
                     n % NSKU);
            bool ok = harness_req(c, "POST", path, body, h, &r) && r.status == 200;
            atomic_fetch_add(&failed, !ok);
            harness_resp_free(&r);
        }
    }
    harness_client_free(c);
    return NULL;
}

/* Run the clients at once and wait for them. */
static void load(void)
{
    pthread_t th[NCLIENTS];
    atomic_store(&failed, 0);
    for (int t = 0; t < NCLIENTS; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, client, (void *)(intptr_t)t), 0);
    for (int t = 0; t < NCLIENTS; t++)
        pthread_join(th[t], NULL);
    cr_assert_eq(atomic_load(&failed), 0, "changes not answered 200");
}

/* How many carts port serves exactly (version NCHG, NSKU lines, the total). */
static int count_exact(int port)
{
    int ok = 0;
    for (int i = 0; i < NCARTS; i++) {
        char path[160];
        snprintf(path, sizeof path, "/carts/%.64s", ids[i]);
        json_t *j = NULL;
        ok += trio_call(port, "GET", path, NULL, &j) == 200 && j &&
              json_integer_value(json_object_get(j, "version")) == NCHG &&
              json_array_size(json_object_get(j, "items")) == NSKU &&
              json_integer_value(json_object_get(j, "total_cents")) == NCHG * 100;
        json_decref(j);
    }
    return ok;
}

/* SIGKILL the owner; both survivors must serve every cart exactly. */
static void kill_owner_and_check(const char *mode)
{
    kill(T.rep[0].pid, SIGKILL);
    waitpid(T.rep[0].pid, NULL, 0);
    T.rep[0].pid = 0;
    trio_wait_links(&T, 1, 0);
    int ok1 = count_exact(T.ports[1]), ok2 = count_exact(T.ports[2]);
    cr_expect_eq(ok1, NCARTS, "%s: exact on replica 2 after the kill: %d of %d", mode, ok1, NCARTS);
    cr_expect_eq(ok2, NCARTS, "%s: exact on replica 3: %d of %d", mode, ok2, NCARTS);
}

/* sync: concurrent changes, each answered after its copy was acknowledged. */
Test(repl_load, sync_concurrent_changes_all_copied)
{
    start_trio("sync");
    load();
    kill_owner_and_check("sync");
}

/* async: concurrent changes; once nothing is pending, every one was copied. */
Test(repl_load, async_concurrent_changes_all_copied)
{
    start_trio("async");
    load();
    long long t0 = harness_ms();
    while (topo_info_int(T.ports[0], "repl_pending") != 0 && harness_ms() - t0 < 5000)
        harness_nap(20);
    cr_assert_eq(topo_info_int(T.ports[0], "repl_pending"), 0, "acks outstanding after 5 s");
    kill_owner_and_check("async");
}
