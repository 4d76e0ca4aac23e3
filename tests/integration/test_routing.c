/* Routing through HAProxy: deploy/local/cartpair-local starts redis, 3+3 replicas and
 * HAProxy on free loopback ports in a temp run dir; sessions with their own cookie jars
 * check stickiness (stateful), spreading (stateless), and what a SIGKILL loses. */
#include "harness.h"
#include "topo.h"
#include "topo_run.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NREP TOPO_NREP        /* replicas per service */
#define NSESS TOPO_RUN_NSESS  /* sessions per run */
#define NCHG TOPO_RUN_NCHG    /* changes per session */

static struct topo T;

/* .init: start the topology. */
static void up(void)
{
    topo_up(&T);
}

/* .fini: stop it, even after a failed assertion. */
static void down(void)
{
    topo_down(&T);
}

TestSuite(routing, .init = up, .fini = down, .timeout = 120);

/* Through the stateful frontend every request of a session is served by the replica that
 * created its cart (cookie affinity), and every cart is exact. */
Test(routing, stateful_sessions_stick)
{
    struct topo_run *r = topo_run_new(&T, 0);
    long long t0 = harness_ms();
    topo_run_rounds(r, 0, NCHG + 1, -1, NULL);
    int exact = 0, sticky = 0, tagged = 0, per[NREP] = { 0 };
    for (int i = 0; i < NSESS; i++) {
        struct topo_run_sess *s = &r->s[i];
        long st;
        char code[32], owner[32], tag[32];
        bool ok = !s->broken && topo_run_exact(r, s, &st, code, owner);
        exact += ok;
        sticky += s->sticky && s->rep >= 0;
        snprintf(tag, sizeof tag, "stateful%d-", s->rep + 1);
        tagged += !strncmp(s->id, tag, strlen(tag));
        if (s->rep >= 0)
            per[s->rep]++;
        if (!ok || !s->sticky)
            fprintf(stderr, "routing: session %d (%s, rep %d) broken %d status %ld/%ld %s\n",
                    i, s->id, s->rep, s->broken, s->fail_status, st, code);
    }
    fprintf(stderr, "routing: stateful %d sessions x %d changes in %lld ms; per replica %d/%d/%d\n",
            NSESS, NCHG, harness_ms() - t0, per[0], per[1], per[2]);
    cr_expect_eq(exact, NSESS, "exact carts: %d of %d", exact, NSESS);
    cr_expect_eq(sticky, NSESS, "sessions served by one instance: %d of %d", sticky, NSESS);
    cr_expect_eq(tagged, NSESS, "cart ids tagged with the serving instance: %d", tagged);
    for (int k = 0; k < NREP; k++) {
        cr_expect_gt(per[k], NSESS / 10, "stateful-%d got %d sessions", k + 1, per[k]);
        cr_expect_eq(topo_info_int(T.base[0] + k, "carts"), per[k], "stateful-%d /info carts",
                     k + 1);
    }
    topo_run_free(r);
}

/* Through the stateless frontend requests spread over all replicas (round robin per
 * request, even on one keep-alive connection), and every cart is exact. */
Test(routing, stateless_requests_spread)
{
    struct topo_run *r = topo_run_new(&T, 1);
    long long t0 = harness_ms();
    topo_run_rounds(r, 0, NCHG + 1, -1, NULL);
    int exact = 0, all_reps = 0, total = 0;
    for (int i = 0; i < NSESS; i++) {
        struct topo_run_sess *s = &r->s[i];
        long st;
        char code[32], owner[32];
        bool ok = !s->broken && topo_run_exact(r, s, &st, code, owner);
        exact += ok;
        all_reps += s->seen == (1u << NREP) - 1;
        if (!ok)
            fprintf(stderr, "routing: session %d (%s) broken %d status %ld/%ld %s\n",
                    i, s->id, s->broken, s->fail_status, st, code);
    }
    for (int k = 0; k < NREP; k++)
        total += atomic_load(&r->per_rep[k]);
    fprintf(stderr, "routing: stateless %d sessions x %d changes in %lld ms; requests per "
            "replica %d/%d/%d; sessions that met all %d: %d\n", NSESS, NCHG, harness_ms() - t0,
            atomic_load(&r->per_rep[0]), atomic_load(&r->per_rep[1]),
            atomic_load(&r->per_rep[2]), NREP, all_reps);
    cr_expect_eq(exact, NSESS, "exact carts: %d of %d", exact, NSESS);
    for (int k = 0; k < NREP; k++)
        cr_expect_gt(atomic_load(&r->per_rep[k]), total / (2 * NREP),
                     "stateless-%d served %d of %d requests", k + 1,
                     atomic_load(&r->per_rep[k]), total);
    cr_expect_gt(all_reps, NSESS * 8 / 10, "only %d sessions met every replica", all_reps);
    cr_expect_eq(topo_info_int(T.base[1], "carts"), NSESS, "carts in redis (DBSIZE)");
    topo_run_free(r);
}

/* Restart the killed stateful replica under its name: a new incarnation, which
 * takes its old carts back from the peers that served them meanwhile: straight at
 * it, each answers 200 (never 421 from an instance that lost them). */
static void check_restarted_serves(struct topo_run *r, int victim)
{
    char name[32];
    snprintf(name, sizeof name, "stateful-%d", victim + 1);
    cr_assert_eq(topo_script(&T, "restart", name), 0, "cartpair-local restart %s", name);
    int checked = 0;
    for (int i = 0; i < NSESS && checked < 5; i++) {
        if (r->s[i].rep != victim)
            continue;
        char path[128];
        long st;
        snprintf(path, sizeof path, "/carts/%s", r->s[i].id);
        long long t0 = harness_ms();
        json_t *j = topo_get_json(T.base[0] + victim, path, NULL, &st);
        while (st != 200 && harness_ms() - t0 < 2000) { /* its links come up */
            json_decref(j);
            harness_nap(50);
            j = topo_get_json(T.base[0] + victim, path, NULL, &st);
        }
        cr_expect_eq(st, 200, "old cart %s on the restarted replica: %ld", r->s[i].id, st);
        json_decref(j);
        checked++;
    }
    cr_expect_gt(checked, 0, "%s held no cart of any session to check", name);
}

/* SIGKILL a stateful replica mid-run (REPLICATION=sync, the topology's default): no
 * cart is lost. The victim is the replica that created the most sessions' carts (as
 * their X-Instance said), so it always holds some and the checks below always run. HAProxy moves the victim's sessions to a survivor, which takes each cart over
 * from its backup copy. Changes around the kill are PUTs with an Idempotency-Key,
 * resent when they failed for want of a replica (a change the victim applied and
 * copied before it died is then replayed, not applied twice), so every cart can be
 * checked exactly: version and lines. */
Test(routing, stateful_kill_loses_nothing)
{
    struct topo_run *r = topo_run_new(&T, 0);
    int victim = 0;
    char vname[32];
    topo_run_rounds(r, 0, 6, -1, NULL);
    long owned[NREP];
    int per[NREP] = { 0 };
    for (int i = 0; i < NSESS; i++) {
        cr_assert(!r->s[i].broken && r->s[i].rep >= 0, "session %d failed before the kill", i);
        per[r->s[i].rep]++;
    }
    for (int k = 1; k < NREP; k++)
        if (per[k] > per[victim])
            victim = k;
    cr_assert_gt(per[victim], 0, "no replica created a session's cart");
    snprintf(vname, sizeof vname, "stateful-%d", victim + 1);
    for (int k = 0; k < NREP; k++) {
        owned[k] = topo_info_int(T.base[0] + k, "carts");
        cr_assert_eq(owned[k], per[k], "stateful-%d holds %ld carts, sessions say %d",
                     k + 1, owned[k], per[k]);
    }
    r->idempotent = true;
    topo_run_rounds(r, 6, NCHG + 1, 8, vname);
    int exact = 0, victims_ok = 0;
    for (int i = 0; i < NSESS; i++) {
        struct topo_run_sess *s = &r->s[i];
        long st;
        char code[32], owner[32];
        bool ok = !s->broken && topo_run_exact(r, s, &st, code, owner);
        exact += ok;
        victims_ok += ok && s->rep == victim;
        if (!ok) {
            fprintf(stderr, "routing: session %d (%s, rep %d) broken %d status %ld/%ld %s; "
                    "model version %ld resent %d qty", i, s->id, s->rep, s->broken,
                    s->fail_status, st, code, s->version, s->resent);
            for (int k = 0; k < TOPO_RUN_NSKU; k++)
                fprintf(stderr, " %d", s->qty[k]);
            fprintf(stderr, "\n");
            for (int k = 0; k < NREP; k++) {
                char path[128], *txt;
                long rst;
                snprintf(path, sizeof path, "/carts/%s", s->id);
                json_t *j = topo_get_json(T.base[0] + k, path, NULL, &rst);
                txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
                fprintf(stderr, "routing:   stateful-%d: %ld %s\n", k + 1, rst, txt ? txt : "");
                free(txt);
                json_decref(j);
            }
        }
    }
    fprintf(stderr, "routing: %s owned %ld carts; after its SIGKILL %d of them exact, "
            "%d of %d carts exact in all; failed requests resent: %d\n", vname, owned[victim],
            victims_ok, exact, NSESS, atomic_load(&r->fails_before_down));
    cr_expect_eq(exact, NSESS, "exact carts: %d of %d (lost %d)", exact, NSESS, NSESS - exact);
    cr_expect_gt(owned[victim], 0, "%s held no cart", vname);
    cr_expect_eq(victims_ok, owned[victim], "the victim's carts that survived");
    check_restarted_serves(r, victim);
    topo_run_free(r);
}

/* SIGKILL stateless-2 mid-run: no cart is lost; once HAProxy marks it DOWN no request
 * fails and none goes to it. Changes around the kill are idempotent PUTs, resent when
 * the proxy had no replica to give, so every cart can still be checked exactly. */
Test(routing, stateless_kill_loses_nothing)
{
    struct topo_run *r = topo_run_new(&T, 1);
    topo_run_rounds(r, 0, 5, -1, NULL);
    for (int i = 0; i < NSESS; i++)
        cr_assert(!r->s[i].broken, "session %d failed before the kill", i);
    r->idempotent = true;
    long long t_kill = harness_ms();
    topo_run_rounds(r, 5, 8, 6, "stateless-2");
    long down_ms = topo_wait_marked_down(&T, "stateless_replicas", "stateless-2", t_kill);
    cr_assert_geq(down_ms, 0, "HAProxy never marked stateless-2 DOWN");
    atomic_store(&r->marked_down, true);
    int before = atomic_load(&r->fails_before_down);
    for (int k = 0; k < NREP; k++)
        atomic_store(&r->per_rep[k], 0);
    topo_run_rounds(r, 8, NCHG + 1, -1, NULL);
    int exact = 0;
    for (int i = 0; i < NSESS; i++) {
        struct topo_run_sess *s = &r->s[i];
        long st;
        char code[32], owner[32];
        bool ok = !s->broken && topo_run_exact(r, s, &st, code, owner);
        exact += ok;
        if (!ok)
            fprintf(stderr, "routing: session %d (%s) broken %d status %ld/%ld %s\n",
                    i, s->id, s->broken, s->fail_status, st, code);
    }
    fprintf(stderr, "routing: stateless-2 marked DOWN %ld ms after the kill; failed requests "
            "before that (resent): %d, after: %d; requests after per replica %d/%d/%d\n",
            down_ms, before, atomic_load(&r->fails_after_down), atomic_load(&r->per_rep[0]),
            atomic_load(&r->per_rep[1]), atomic_load(&r->per_rep[2]));
    cr_expect_eq(exact, NSESS, "exact carts: %d of %d (lost %d)", exact, NSESS, NSESS - exact);
    cr_expect_eq(atomic_load(&r->fails_after_down), 0, "requests failed after DOWN");
    cr_expect_eq(atomic_load(&r->per_rep[1]), 0, "requests served by the dead replica");
    cr_expect_gt(atomic_load(&r->per_rep[0]), 0);
    cr_expect_gt(atomic_load(&r->per_rep[2]), 0);
    cr_expect_eq(topo_info_int(T.base[1], "carts"), NSESS, "carts in redis (DBSIZE)");
    topo_run_free(r);
}

/* Straight to another stateful replica than the cart's live owner (no proxy,
 * a forged or moved affinity cookie): served there with the cart as it is,
 * for the cart follows its session (a TAKE from its live owner); each
 * request moves it to the replica asked, and every change applies once. */
Test(routing, wrong_replica_serves_the_cart)
{
    struct harness_client *own = harness_client_new(T.base[0]);
    struct harness_resp resp;
    cr_assert(own);
    cr_assert(harness_req(own, "POST", "/carts", NULL, NULL, &resp));
    cr_assert_eq(resp.status, 201);
    json_t *j = json_loads(resp.body, 0, NULL);
    char id[80], path[160], items[180], cookie[120], inst[64] = "";
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    harness_resp_free(&resp);
    cr_assert(!strncmp(id, "stateful1-", 10), "id %s", id);
    snprintf(path, sizeof path, "/carts/%s", id);
    snprintf(items, sizeof items, "/carts/%s/items", id);
    snprintf(cookie, sizeof cookie, "Cookie: cart=%s", id);
    const char *by_cookie[] = { cookie, NULL };
    struct { int port; const char *m, *path, *body; const char *const *hdrs; long version; } req[] = {
        { T.base[0] + 1, "GET", path, NULL, NULL, 0 },
        { T.base[0] + 1, "POST", items, "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":5}", NULL, 1 },
        { T.base[0] + 2, "GET", "/cart", NULL, by_cookie, 1 },
        { T.base[0] + 2, "POST", items, "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":5}", NULL, 2 },
        { T.base[0], "GET", path, NULL, NULL, 2 },
    };
    for (size_t i = 0; i < sizeof req / sizeof *req; i++) {
        struct harness_client *c = harness_client_new(req[i].port);
        cr_assert(harness_req(c, req[i].m, req[i].path, req[i].body, req[i].hdrs, &resp));
        j = json_loads(resp.body, 0, NULL);
        cr_expect_eq(resp.status, 200, "%s %s: %ld %s", req[i].m, req[i].path, resp.status,
                     resp.body);
        cr_expect_eq(json_integer_value(json_object_get(j, "version")), req[i].version,
                     "%s %s: %s", req[i].m, req[i].path, resp.body);
        cr_expect(harness_header(&resp, "X-Instance", inst, sizeof inst));
        cr_expect_eq(topo_rep_of(inst), req[i].port - T.base[0], "answered by %s", inst);
        json_decref(j);
        harness_resp_free(&resp);
        harness_client_free(c);
    }
    /* Through the proxy with the affinity cookie forged to stateful-3: served there. */
    char forged[160];
    snprintf(forged, sizeof forged, "Cookie: SRV=stateful-3; cart=%s", id);
    const char *fh[] = { forged, NULL };
    long st;
    j = topo_get_json(T.fe[0], "/cart", fh, &st);
    cr_expect_eq(st, 200);
    json_t *line = json_array_get(json_object_get(j, "items"), 0);
    cr_expect_eq(json_integer_value(json_object_get(line, "qty")), 2, "both adds, once each");
    json_decref(j);
    harness_client_free(own);
}
