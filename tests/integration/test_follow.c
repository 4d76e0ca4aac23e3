/* The cart follows its session: a request that reaches another replica than
 * the cart's live owner is served there (the owner gives the cart over, fenced
 * by the epoch, once its synchronous changes in flight are acknowledged), in
 * every replication mode. Two clients change one cart at once through two
 * replicas, so the cart moves on nearly every request: every add answers 200
 * and is applied exactly once, and the cart ends exact on every replica. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "trio.h"

#define NADDS 60                  /* adds per client */

static struct trio T;
static char path[160];

/* Stop every replica (a Criterion .fini). */
static void stop_trio(void)
{
    trio_stop(&T);
}

TestSuite(follow, .fini = stop_trio, .timeout = 120);

/* One client: NADDS adds of sku A through one replica; how many got 200 in
 * *ok, the other statuses counted by kind. */
struct client {
    int port;
    int ok, not200;
    long last_bad;
};

/* A client's loop: each request waits for its answer (bounded by NADDS). */
static void *client_run(void *arg)
{
    struct client *c = arg;
    char items[200];
    snprintf(items, sizeof items, "%s/items", path);
    for (int i = 0; i < NADDS; i++) {
        long st = trio_call(c->port, "POST", items,
                            "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":100}", NULL);
        if (st == 200) {
            c->ok++;
        } else {
            c->not200++;
            c->last_bad = st;
        }
    }
    return NULL;
}

/* Replica i's view of the cart: its qty of A and version (-1: not 200). */
static void view(int i, long *qty, long *version)
{
    json_t *j;
    long st = trio_call(T.ports[i], "GET", path, NULL, &j);
    json_t *line = json_array_get(json_object_get(j, "items"), 0);
    *qty = st == 200 ? (long)json_integer_value(json_object_get(line, "qty")) : -1;
    *version = st == 200 ? (long)json_integer_value(json_object_get(j, "version")) : -1;
    json_decref(j);
}

/* Two clients on replicas 1 and 2 add to a cart of replica 0 at once. */
static void tug_of_war(const char *mode)
{
    trio_start(&T, mode, NULL);
    json_t *j;
    cr_assert_eq(trio_call(T.ports[0], "POST", "/carts", NULL, &j), 201);
    snprintf(path, sizeof path, "/carts/%.64s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    struct client cs[2] = {{.port = T.ports[1]}, {.port = T.ports[2]}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, client_run, &cs[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++)
        cr_expect_eq(cs[i].not200, 0, "%s: client %d: %d answers not 200 (last %ld)", mode, i,
                     cs[i].not200, cs[i].last_bad);
    long moved = 0;
    for (int i = 0; i < TRIO_N; i++)
        moved += topo_info_int(T.ports[i], "repl_carts_taken");
    cr_expect_gt(moved, 10, "%s: the cart moved %ld times", mode, moved);
    for (int i = 0; i < TRIO_N; i++) {
        long qty, version;
        view(i, &qty, &version);
        cr_expect_eq(qty, cs[0].ok + cs[1].ok, "%s: replica %d: qty %ld, %d adds acknowledged",
                     mode, i, qty, cs[0].ok + cs[1].ok);
        cr_expect_eq(version, cs[0].ok + cs[1].ok, "%s: replica %d: version %ld", mode, i,
                     version);
    }
    fprintf(stderr, "follow: %s: %d adds through two replicas, the cart moved %ld times\n",
            mode, cs[0].ok + cs[1].ok, moved);
}

Test(follow, sync) { tug_of_war("sync"); }
Test(follow, async) { tug_of_war("async"); }
Test(follow, off) { tug_of_war("off"); }
