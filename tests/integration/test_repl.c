/* Replication between real stateful-svc replicas (PEERS, REPLICATION): what a
 * SIGKILL of the owner loses in each mode, what a SIGTERM hands off, and that
 * a restarted replica (a new incarnation) serves its old carts instead of 421.
 * Three replicas on loopback; each test creates NCARTS carts on replica 0,
 * with NCHG changes each, and checks every one of them exactly. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trio.h"

#define NREP TRIO_N
#define NCARTS 30
#define NCHG 3

static struct trio T;

/* An integer field of replica i's /info (-1: no answer). */
static long info(int i, const char *field)
{
    return topo_info_int(T.ports[i], field);
}

/* Stop every replica (a Criterion .fini). */
static void stop_trio(void)
{
    trio_stop(&T);
}
static char ids[NCARTS][72];

TestSuite(repl, .fini = stop_trio, .timeout = 90);

/* Create NCARTS carts on replica 0, each with NCHG adds of SKU-k, qty 1. */
static void fill(void)
{
    for (int i = 0; i < NCARTS; i++) {
        json_t *j;
        cr_assert_eq(trio_call(T.ports[0], "POST", "/carts", NULL, &j), 201);
        snprintf(ids[i], sizeof ids[i], "%.64s", json_string_value(json_object_get(j, "id")));
        json_decref(j);
        char path[160];
        snprintf(path, sizeof path, "/carts/%.64s/items", ids[i]);
        for (int k = 0; k < NCHG; k++) {
            char body[96];
            snprintf(body, sizeof body, "{\"sku\":\"SKU-%d\",\"qty\":1,\"unit_price_cents\":%d}",
                     k, 100 + i);
            cr_assert_eq(trio_call(T.ports[0], "POST", path, body, NULL), 200);
        }
    }
}

/* Is cart i exact (version NCHG, NCHG lines) on port? The status into *st. */
static bool exact(int port, int i, long *st)
{
    char path[160];
    json_t *j;
    snprintf(path, sizeof path, "/carts/%.64s", ids[i]);
    *st = trio_call(port, "GET", path, NULL, &j);
    bool ok = *st == 200 && json_integer_value(json_object_get(j, "version")) == NCHG &&
              json_array_size(json_object_get(j, "items")) == NCHG &&
              json_integer_value(json_object_get(j, "total_cents")) == NCHG * (100 + i);
    json_decref(j);
    return ok;
}

/* Count the carts that replica `port` serves exactly, and its 404s. */
static int count_exact(int port, int *nf)
{
    int ok = 0;
    *nf = 0;
    for (int i = 0; i < NCARTS; i++) {
        long st;
        ok += exact(port, i, &st);
        *nf += st == 404;
        if (st != 200 && st != 404)
            fprintf(stderr, "repl: cart %s on %d: %ld\n", ids[i], port, st);
    }
    return ok;
}

/* Wait until replica port has no owned cart without a backup (at most 5 s). */
static long wait_replicated(int port)
{
    long long t0 = harness_ms();
    long n;
    while ((n = topo_info_int(port, "carts_under_replicated")) != 0 && harness_ms() - t0 < 5000)
        harness_nap(50);
    return n;
}

/* sync: SIGKILL of the owner loses nothing; a survivor takes every cart over
 * (exact), the other survivor gets it from there, and every cart gets a new
 * backup copy. */
Test(repl, sync_kill_loses_nothing)
{
    trio_start(&T, "sync", NULL);
    fill();
    cr_expect_eq(info(0, "carts_owned"), NCARTS);
    cr_expect_eq(info(0, "carts_under_replicated"), 0);
    cr_expect_eq(info(1, "carts_backup") + info(2, "carts_backup"), NCARTS,
                 "one backup copy per cart");
    trio_kill9(&T, 0);
    trio_wait_links(&T, 1, 0);
    int nf, ok = count_exact(T.ports[1], &nf);
    cr_expect_eq(ok, NCARTS, "exact after the kill, on replica 2: %d of %d (404: %d)", ok,
                 NCARTS, nf);
    ok = count_exact(T.ports[2], &nf);
    cr_expect_eq(ok, NCARTS, "exact on replica 3 too: %d of %d (404: %d)", ok, NCARTS, nf);
    cr_expect_eq(info(1, "carts_owned") + info(2, "carts_owned"), NCARTS);
    cr_expect_eq(wait_replicated(T.ports[1]), 0, "replica 2: carts without a backup");
    cr_expect_eq(wait_replicated(T.ports[2]), 0, "replica 3: carts without a backup");
    fprintf(stderr, "repl: sync kill: %d of %d carts exact after the owner's SIGKILL\n", ok,
            NCARTS);
}

/* async: once the backups acknowledged (no request pending), a SIGKILL loses nothing. */
Test(repl, async_kill_after_acks_loses_nothing)
{
    trio_start(&T, "async", NULL);
    fill();
    long long t0 = harness_ms();
    while (info(0, "repl_pending") != 0 && harness_ms() - t0 < 3000)
        harness_nap(20);
    trio_kill9(&T, 0);
    trio_wait_links(&T, 1, 0);
    int nf, ok = count_exact(T.ports[1], &nf);
    cr_expect_eq(ok, NCARTS, "exact after the kill: %d of %d (404: %d)", ok, NCARTS, nf);
}

/* off: one copy; a SIGKILL loses exactly the victim's carts (404, never 421). */
Test(repl, off_kill_loses_exactly_its_carts)
{
    trio_start(&T, "off", NULL);
    fill();
    cr_expect_eq(info(1, "carts_backup") + info(2, "carts_backup"), 0);
    trio_kill9(&T, 0);
    trio_wait_links(&T, 1, 0);
    int nf, ok = count_exact(T.ports[1], &nf);
    cr_expect_eq(ok, 0, "carts that survived: %d", ok);
    cr_expect_eq(nf, NCARTS, "404 cart_not_found: %d of %d", nf, NCARTS);
}

/* SIGTERM, in off mode (no backup copies at all): the replica hands every cart
 * to its peers before it exits; nothing is lost. */
Test(repl, sigterm_hands_off_every_cart)
{
    trio_start(&T, "off", NULL);
    fill();
    long long t0 = harness_ms();
    harness_stop(&T.rep[0]);
    long long took = harness_ms() - t0;
    long owned = info(1, "carts_owned") + info(2, "carts_owned");
    cr_expect_eq(owned, NCARTS, "carts owned by the survivors after the handoff: %ld", owned);
    trio_wait_links(&T, 1, 0);
    int nf, ok = count_exact(T.ports[1], &nf);
    cr_expect_eq(ok, NCARTS, "exact after the handoff: %d of %d (404: %d)", ok, NCARTS, nf);
    cr_expect_lt(took, 5000, "exit took %lld ms", took);
    fprintf(stderr, "repl: handoff of %d carts and exit in %lld ms\n", NCARTS, took);
}

/* A replica restarted after a SIGKILL is a new incarnation: its old carts
 * (served meanwhile by a peer) come back to it with 200, never 421; any cart
 * goes to whichever replica is asked (the balancer's choice), a new cart of
 * its live creator too, and back to the creator when it is asked again. */
Test(repl, restarted_replica_serves_its_old_carts)
{
    trio_start(&T, "sync", NULL);
    fill();
    trio_kill9(&T, 0);
    trio_wait_links(&T, 1, 0);
    trio_start_one(&T, 0, "sync", NULL);
    trio_wait_links(&T, 2, -1);
    int nf, ok = count_exact(T.ports[0], &nf);
    cr_expect_eq(ok, NCARTS, "exact on the restarted replica: %d of %d (404: %d)", ok, NCARTS,
                 nf);
    ok = count_exact(T.ports[1], &nf);
    cr_expect_eq(ok, NCARTS, "exact on a peer after that: %d of %d (404: %d)", ok, NCARTS, nf);
    json_t *j;
    cr_assert_eq(trio_call(T.ports[0], "POST", "/carts", NULL, &j), 201);
    char path[160];
    snprintf(path, sizeof path, "/carts/%.64s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    long st = trio_call(T.ports[1], "POST", strcat(path, "/items"),
                        "{\"sku\":\"MOVE-1\",\"qty\":2,\"unit_price_cents\":7}", &j);
    cr_expect_eq(st, 200, "a peer asked for a new cart of the live creator: %ld", st);
    json_decref(j);
    path[strlen(path) - strlen("/items")] = '\0';
    for (int i = 0; i < 2; i++) { /* back to the creator, then to the peer again */
        st = trio_call(T.ports[i ? 1 : 0], "GET", path, NULL, &j);
        json_t *it = json_array_get(json_object_get(j, "items"), 0);
        cr_expect_eq(st, 200, "asked again (%d): %ld", i, st);
        cr_expect_eq(json_array_size(json_object_get(j, "items")), 1);
        cr_expect_eq(json_integer_value(json_object_get(it, "qty")), 2, "the add applied once");
        cr_expect_eq(json_integer_value(json_object_get(j, "version")), 1);
        json_decref(j);
    }
}

/* A rolling restart of one replica (SIGTERM, start again) in sync mode: every
 * cart stays exact, served by the restarted replica again. */
Test(repl, graceful_restart_loses_nothing)
{
    trio_start(&T, "sync", NULL);
    fill();
    harness_stop(&T.rep[0]);
    trio_start_one(&T, 0, "sync", NULL);
    trio_wait_links(&T, 2, -1);
    int nf, ok = count_exact(T.ports[0], &nf);
    cr_expect_eq(ok, NCARTS, "exact after the restart: %d of %d (404: %d)", ok, NCARTS, nf);
    cr_expect_eq(wait_replicated(T.ports[0]), 0, "restarted replica: carts without a backup");
}

/* A change while both peers are frozen (SIGSTOP), split-brain protection off
 * (REPL_MIN_MEMBERS=0; with it, test_split: such a change gets 503): the
 * client gives up after 300 ms; the owner meanwhile counts the frozen peers
 * dead (REPL_TIMEOUT_MS) and applies the change once, with one copy. The client's retry with the
 * same Idempotency-Key is the replay (not a second add). Once the peers wake,
 * the cart is copied again; after the owner's death the replica that takes
 * the cart over replays the key too: the key travels with the cart. */
Test(repl, timed_out_change_retried_with_its_key_lands_once)
{
    const char *const unprotected[] = {"REPL_MIN_MEMBERS=0", NULL};
    trio_start(&T, "sync", unprotected);
    json_t *j;
    cr_assert_eq(trio_call(T.ports[0], "POST", "/carts", NULL, &j), 201);
    char path[160];
    snprintf(path, sizeof path, "/carts/%.64s/items", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    harness_pause(&T.rep[1], true);
    harness_pause(&T.rep[2], true);
    const char *h[] = {"Content-Type: application/json", "Idempotency-Key: retry-1", NULL};
    const char *body = "{\"sku\":\"A\",\"qty\":2,\"unit_price_cents\":100}";
    struct harness_client *c = harness_client_new(T.ports[0]);
    struct harness_resp r = {0};
    harness_client_timeout(c, 300);
    bool answered = harness_req(c, "POST", path, body, h, &r);
    cr_expect(!answered || r.status != 200, "the first try was answered in time: %ld", r.status);
    harness_resp_free(&r);
    harness_client_free(c);
    c = harness_client_new(T.ports[0]);
    cr_assert(harness_req(c, "POST", path, body, h, &r));
    char replayed[16] = "";
    harness_header(&r, "Idempotent-Replayed", replayed, sizeof replayed);
    cr_expect_eq(r.status, 200, "retry: %ld %s", r.status, r.body);
    cr_expect_str_eq(replayed, "true", "the retry is the replay");
    harness_resp_free(&r);
    harness_client_free(c);
    harness_pause(&T.rep[1], false);
    harness_pause(&T.rep[2], false);
    trio_wait_links(&T, NREP - 1, -1);
    cr_expect_eq(wait_replicated(T.ports[0]), 0, "the cart is copied again");
    path[strlen(path) - strlen("/items")] = '\0';
    cr_assert_eq(trio_call(T.ports[0], "GET", path, NULL, &j), 200);
    cr_expect_eq(json_integer_value(json_object_get(j, "version")), 1, "applied once");
    cr_expect_eq(json_integer_value(json_object_get(j, "total_cents")), 200);
    json_decref(j);
    trio_kill9(&T, 0);
    trio_wait_links(&T, 1, 0);
    char items[180];
    snprintf(items, sizeof items, "%s/items", path);
    c = harness_client_new(T.ports[1]);
    cr_assert(harness_req(c, "POST", items, body, h, &r));
    replayed[0] = '\0';
    harness_header(&r, "Idempotent-Replayed", replayed, sizeof replayed);
    cr_expect_eq(r.status, 200, "after the takeover: %ld %s", r.status, r.body);
    cr_expect_str_eq(replayed, "true", "the key came along with the cart");
    harness_resp_free(&r);
    harness_client_free(c);
    cr_assert_eq(trio_call(T.ports[1], "GET", path, NULL, &j), 200);
    cr_expect_eq(json_integer_value(json_object_get(j, "version")), 1, "still applied once");
    json_decref(j);
}

/* A keyed request to port; the status, the body into body (a copy). */
static long keyed(int port, const char *m, const char *path, const char *b, const char *key,
                  char *body, size_t bodylen, bool *replayed)
{
    char kh[96], rh[16] = "";
    snprintf(kh, sizeof kh, "Idempotency-Key: %s", key);
    const char *h[] = {"Content-Type: application/json", kh, NULL};
    struct harness_client *c = harness_client_new(port);
    struct harness_resp r = {0};
    long st = c && harness_req(c, m, path, b, h, &r) ? r.status : 0;
    snprintf(body, bodylen, "%s", r.body ? r.body : "");
    harness_header(&r, "Idempotent-Replayed", rh, sizeof rh);
    *replayed = !strcmp(rh, "true");
    harness_resp_free(&r);
    harness_client_free(c);
    return st;
}

/* Keyed changes with every peer up reach the backup as deltas (bare-cart
 * copies in between keep the record): after the owner's death, the replica
 * that takes the cart over replays every key with the first answer's bytes. */
Test(repl, keys_reach_the_backup_with_each_change)
{
    enum { N = 12 };
    static char first[N][2048];
    char path[160], key[32], body[96], again[2048];
    bool rp;
    json_t *j;
    trio_start(&T, "sync", NULL);
    cr_assert_eq(trio_call(T.ports[0], "POST", "/carts", NULL, &j), 201);
    snprintf(path, sizeof path, "/carts/%.64s/items", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    for (int k = 0; k < N; k++) {
        snprintf(key, sizeof key, "delta-key-%d", k);
        snprintf(body, sizeof body, "{\"sku\":\"S-%d\",\"qty\":%d,\"unit_price_cents\":7}", k,
                 k + 1);
        cr_assert_eq(keyed(T.ports[0], "POST", path, body, key, first[k], sizeof first[k], &rp),
                     200);
        cr_expect_not(rp);
        if (k % 3 == 0) /* an unkeyed change between keyed ones */
            cr_assert_eq(trio_call(T.ports[0], "POST", path, "{\"sku\":\"U\",\"qty\":1,"
                              "\"unit_price_cents\":1}", NULL), 200);
    }
    trio_kill9(&T, 0);
    trio_wait_links(&T, 1, 0);
    for (int k = 0; k < N; k++) {
        snprintf(key, sizeof key, "delta-key-%d", k);
        snprintf(body, sizeof body, "{\"sku\":\"S-%d\",\"qty\":%d,\"unit_price_cents\":7}", k,
                 k + 1);
        cr_expect_eq(keyed(T.ports[1 + k % 2], "POST", path, body, key, again, sizeof again, &rp),
                     200, "key %d after the takeover", k);
        cr_expect(rp, "key %d is a replay", k);
        cr_expect_str_eq(again, first[k], "key %d: the first answer's bytes", k);
    }
    path[strlen(path) - strlen("/items")] = '\0';
    cr_assert_eq(trio_call(T.ports[1], "GET", path, NULL, &j), 200);
    cr_expect_eq(json_integer_value(json_object_get(j, "version")), N + (N + 2) / 3,
                 "nothing applied twice");
    json_decref(j);
}

/* A backup out of room (MAX_CARTS) keeps no copy: the owner still answers
 * (the change is made there) but counts the cart as under-replicated. */
Test(repl, a_backup_without_room_leaves_the_cart_under_replicated)
{
    trio_pick_ports(&T);
    trio_start_one(&T, 0, "sync", NULL);
    trio_start_one(&T, 1, "sync", (const char *const[]){"MAX_CARTS=2", NULL});
    trio_start_one(&T, 2, "sync", (const char *const[]){"MAX_CARTS=2", NULL});
    trio_wait_links(&T, NREP - 1, -1);
    for (int i = 0; i < 8; i++)
        cr_expect_eq(trio_call(T.ports[0], "POST", "/carts", NULL, NULL), 201, "cart %d", i);
    long held = info(1, "carts_backup") + info(2, "carts_backup");
    cr_expect_leq(held, 4, "the backups hold what they have room for: %ld", held);
    cr_expect_eq(info(0, "carts_under_replicated"), 8 - held,
                 "the carts without a copy are counted");
}
