/* A readiness blip through HAProxy: deploy/local/cartpair-local starts 3 stateful
 * replicas (REPLICATION=sync) behind HAProxy on free loopback ports in a temp run dir;
 * cookie sessions (each its own jar: the cart cookie and HAProxy's SRV cookie) each hold
 * a known cart; 'cartpair-local flap stateful-2 6' takes stateful-2 out of rotation for
 * 6 s while it lives. HAProxy moves its sessions to a peer (and its SRV cookie with
 * them); during and after the blip every session's GET and add must answer 200 with
 * exactly its cart: no 421 (the cart follows its session to the peer), no 404. A 503 is
 * retried a few times, counted and reported. */
#include "harness.h"
#include "harness_http.h"
#include "topo.h"
#include "topo_run.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NSESS 60              /* cookie sessions */
#define NTHR 4                /* client threads */
#define NSKU 4                /* skus a session adds */
#define VICTIM 1              /* stateful-2, 0-based */
#define FLAP_SECONDS "6"
#define AFTER_MS 2000         /* rounds go on this long after the blip */
#define MAX_ROUNDS 1000       /* bounds: rounds per thread and seconds in all */
#define MAX_MS 40000
#define TRIES_503 20          /* a 503 is sent again at most this often, 50 ms apart */

enum phase { BEFORE, DURING, AFTER, NPHASE };
static const char *const phase_name[NPHASE] = { "before", "during", "after" };

struct sess {
    struct harness_client *c;
    char id[80];
    int rep0;                 /* the replica that created the cart */
    int qty[NSKU];            /* the expected cart */
    long version;
    bool broken;              /* lost or wrong: the session stops */
    bool moved;               /* served by another replica than rep0 during the blip */
};

struct tally {
    atomic_int ok, s421, s404, retried503, other, wrong;
};

static struct topo T;
static struct sess S[NSESS];
static struct tally P[NPHASE];
static atomic_int phase, stop, printed;

static void up(void)
{
    topo_up(&T);
}

static void down(void)
{
    for (int i = 0; i < NSESS; i++)
        harness_client_free(S[i].c);
    topo_down(&T);
}

TestSuite(flap, .init = up, .fini = down, .timeout = 150);

/* True when j is exactly the session's expected cart. */
static bool exact(const struct sess *s, json_t *j)
{
    return topo_run_cart_is(j, s->id, s->qty, NSKU, s->version, false);
}

/* One request of a session (a change with an Idempotency-Key of its session and
 * version, so that a resend is replayed); a 503 is sent again, bounded, and counted.
 * Returns the final status (0: transport error); the body as JSON and who answered out. */
static long sess_req(struct sess *s, const char *m, const char *path, const char *body,
                     json_t **out, int *rep)
{
    char key[128], inst[64];
    const char *hdrs[] = { key, NULL };
    snprintf(key, sizeof key, "Idempotency-Key: %.60s-v%ld", s->id, s->version);
    long st = 0;
    *out = NULL;
    *rep = -1;
    for (int tries = 0; tries < TRIES_503; tries++) {
        struct harness_resp resp;
        if (!harness_req(s->c, m, path, body, strcmp(m, "GET") && s->id[0] ? hdrs : NULL, &resp))
            return 0;
        st = resp.status;
        inst[0] = '\0';
        if (harness_header(&resp, "X-Instance", inst, sizeof inst))
            *rep = topo_rep_of(inst);
        if (st != 503) {
            *out = json_loads(resp.body, 0, NULL);
            harness_resp_free(&resp);
            return st;
        }
        harness_resp_free(&resp);
        atomic_fetch_add(&P[atomic_load(&phase)].retried503, 1);
        harness_nap(50);
    }
    return st;
}

/* Count one answer that should have been 200 with the exact cart. */
static void count_answer(struct sess *s, const char *what, long st, bool ok, int rep)
{
    int ph = atomic_load(&phase);
    if (ph == DURING && rep >= 0 && rep != s->rep0)
        s->moved = true;
    if (st == 200 && ok) {
        atomic_fetch_add(&P[ph].ok, 1);
        return;
    }
    atomic_fetch_add(st == 421 ? &P[ph].s421 : st == 404 ? &P[ph].s404 : st == 200 ?
                     &P[ph].wrong : &P[ph].other, 1);
    if (st != 421) /* a 421 leaves the cart as it was: the model still holds */
        s->broken = true;
    if (atomic_fetch_add(&printed, 1) < 12)
        fprintf(stderr, "flap: %s: session %s (created on stateful-%d, answered by stateful-%d)"
                " %s: %ld%s\n", phase_name[ph], s->id, s->rep0 + 1, rep + 1, what, st,
                st == 200 ? " with another cart" : "");
}

/* A new session: its own client and cookie jar, POST /carts. */
static void sess_create(struct sess *s)
{
    json_t *j;
    int rep;
    memset(s, 0, sizeof *s);
    s->c = harness_client_new(T.fe[0]);
    cr_assert_not_null(s->c);
    long st = sess_req(s, "POST", "/carts", NULL, &j, &rep);
    const char *id = json_string_value(json_object_get(j, "id"));
    cr_assert(st == 201 && id, "POST /carts: %ld", st);
    snprintf(s->id, sizeof s->id, "%s", id);
    s->rep0 = rep;
    json_decref(j);
}

/* One round of a session: GET /cart, then add one of a sku; each must be exact. */
static void sess_round(struct sess *s)
{
    json_t *j;
    int rep, k = (int)(s->version % NSKU);
    long st = sess_req(s, "GET", "/cart", NULL, &j, &rep);
    count_answer(s, "GET /cart", st, st == 200 && exact(s, j), rep);
    json_decref(j);
    if (s->broken)
        return;
    char body[96];
    snprintf(body, sizeof body, "{\"sku\":\"SKU-%d\",\"qty\":1,\"unit_price_cents\":%d}", k,
             topo_run_price(k));
    st = sess_req(s, "POST", "/cart/items", body, &j, &rep);
    if (st == 200) {
        s->qty[k]++;
        s->version++;
    }
    count_answer(s, "add", st, st == 200 && exact(s, j), rep);
    json_decref(j);
}

/* Client thread t: its share of the sessions, round by round, until told to stop. */
static void *worker(void *ud)
{
    int t = (int)(long)ud;
    long long end = harness_ms() + MAX_MS;
    for (int round = 0; round < MAX_ROUNDS && !atomic_load(&stop) && harness_ms() < end;
         round++) {
        for (int i = t; i < NSESS; i += NTHR)
            if (!S[i].broken)
                sess_round(&S[i]);
        harness_nap(25);
    }
    return NULL;
}

/* Print the tallies of each phase. */
static void report(void)
{
    for (int ph = 0; ph < NPHASE; ph++)
        fprintf(stderr, "flap: %-6s ok %d, 421 %d, 404 %d, other %d, wrong cart %d, "
                "503 sent again %d\n", phase_name[ph], atomic_load(&P[ph].ok),
                atomic_load(&P[ph].s421), atomic_load(&P[ph].s404), atomic_load(&P[ph].other),
                atomic_load(&P[ph].wrong), atomic_load(&P[ph].retried503));
}

/* The sessions of stateful-2 move to a peer while it is out of rotation, and every
 * session keeps answering 200 with exactly its cart, during the blip and after it. */
Test(flap, sessions_keep_their_carts_through_a_readiness_blip)
{
    int on_victim = 0, moved = 0, broken = 0;
    for (int i = 0; i < NSESS; i++) {
        sess_create(&S[i]);
        sess_round(&S[i]);
        on_victim += S[i].rep0 == VICTIM;
    }
    cr_assert_gt(on_victim, NSESS / 6, "only %d sessions on stateful-%d", on_victim, VICTIM + 1);
    pthread_t th[NTHR];
    for (long t = 0; t < NTHR; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, worker, (void *)t), 0);
    harness_nap(300);
    atomic_store(&phase, DURING);
    long long t0 = harness_ms();
    int rc = topo_script2(&T, "flap", "stateful-2", FLAP_SECONDS);
    long long took = harness_ms() - t0;
    atomic_store(&phase, AFTER);
    harness_nap(AFTER_MS);
    atomic_store(&stop, 1);
    for (int t = 0; t < NTHR; t++)
        pthread_join(th[t], NULL);
    for (int i = 0; i < NSESS; i++) {
        if (!S[i].broken)
            sess_round(&S[i]);  /* one last exact read and add, each thread done */
        moved += S[i].rep0 == VICTIM && S[i].moved;
        broken += S[i].broken;
    }
    report();
    fprintf(stderr, "flap: %d sessions, %d on stateful-2, %d of them moved during the blip "
            "(%lld ms); %d sessions lost or wrong\n", NSESS, on_victim, moved, took, broken);
    cr_assert_eq(rc, 0, "cartpair-local flap stateful-2 %s failed (%d)", FLAP_SECONDS, rc);
    cr_expect_gt(moved, 0, "no session of stateful-2 was served elsewhere during the blip");
    cr_expect_geq(topo_info_int(T.base[0] + VICTIM, "carts"), 0, "stateful-2 does not answer");
    for (int ph = DURING; ph < NPHASE; ph++) {
        cr_expect_eq(atomic_load(&P[ph].s421), 0, "%s the blip: %d answers 421 misdirected",
                     phase_name[ph], atomic_load(&P[ph].s421));
        cr_expect_eq(atomic_load(&P[ph].s404), 0, "%s the blip: %d answers 404",
                     phase_name[ph], atomic_load(&P[ph].s404));
        cr_expect_eq(atomic_load(&P[ph].other) + atomic_load(&P[ph].wrong), 0,
                     "%s the blip: %d other failures, %d wrong carts", phase_name[ph],
                     atomic_load(&P[ph].other), atomic_load(&P[ph].wrong));
        cr_expect_gt(atomic_load(&P[ph].ok), NSESS, "%s the blip: only %d right answers",
                     phase_name[ph], atomic_load(&P[ph].ok));
    }
    cr_expect_eq(broken, 0, "%d sessions lost their cart or got another", broken);
}
