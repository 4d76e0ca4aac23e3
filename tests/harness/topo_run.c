/* topo_run: runs of client sessions through the topology's HAProxy frontends.
 * See topo_run.h. */
#include "topo_run.h"
#include "harness.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHR 4                /* client threads */

struct worker {
    struct topo_run *r;
    int t;
};

/* Price of sku k. */
int topo_run_price(int k)
{
    return 100 + 37 * k;
}

/* xorshift32 */
static unsigned rnd_next(unsigned *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* One request of a session; records who answered. Returns the status, 0 on transport error.
 * A change carries an Idempotency-Key made of the session and its version, so that a
 * resend of it (by the session, or by the proxy) is replayed, not applied twice. */
static long sess_send(struct topo_run *r, struct topo_run_sess *s, const char *m, const char *path,
                      const char *body, json_t **out)
{
    struct harness_resp resp;
    char inst[64] = "", key[96];
    const char *hdrs[] = { key, NULL };
    bool keyed = r->idempotent && strcmp(m, "GET") && s->id[0];
    snprintf(key, sizeof key, "Idempotency-Key: %.40s-v%ld", s->id, s->version);
    if (out)
        *out = NULL;
    if (!harness_req(s->c, m, path, body, keyed ? hdrs : NULL, &resp))
        return 0;
    atomic_fetch_add(&r->progress, 1);
    int rep = harness_header(&resp, "X-Instance", inst, sizeof inst) ? topo_rep_of(inst) : -1;
    if (rep >= 0) {
        atomic_fetch_add(&r->per_rep[rep], 1);
        s->seen |= 1u << rep;
    }
    if (m[0] == 'P' && !strcmp(path, "/carts"))
        s->rep = rep;
    else if (rep != s->rep)
        s->sticky = false;
    if (out)
        *out = json_loads(resp.body, 0, NULL);
    long st = resp.status;
    harness_resp_free(&resp);
    return st;
}

/* Round 0 of a session: a new client (own cookie jar) and POST /carts. */
static void sess_create(struct topo_run *r, struct topo_run_sess *s, int i)
{
    memset(s, 0, sizeof *s);
    s->rnd = 2654435761u * (unsigned)(i + 1) + (unsigned)r->fe;
    s->sticky = true;
    s->rep = -1;
    s->c = harness_client_new(r->t->fe[r->fe]);
    json_t *j = NULL;
    long st = s->c ? sess_send(r, s, "POST", "/carts", NULL, &j) : 0;
    const char *id = json_string_value(json_object_get(j, "id"));
    if (st == 201 && id) {
        snprintf(s->id, sizeof s->id, "%s", id);
    } else {
        s->broken = true;
        s->fail_status = st;
    }
    json_decref(j);
}

/* Pick the next change of a session: method, path, body, and the quantity it leaves. */
static void sess_plan(struct topo_run *r, struct topo_run_sess *s, const char **m, char *path,
                      char *body, int *k, int *qty)
{
    *k = (int)(rnd_next(&s->rnd) % TOPO_RUN_NSKU);
    int q = 1 + (int)(rnd_next(&s->rnd) % 20), op = (int)(rnd_next(&s->rnd) % 3);
    snprintf(path, 64, "/cart/items/SKU-%d", *k);
    if (r->idempotent || (s->qty[*k] > 0 && op == 1)) {
        *m = "PUT";
        snprintf(body, 96, "{\"qty\": %d, \"unit_price_cents\": %d}", q, topo_run_price(*k));
        *qty = q;
    } else if (s->qty[*k] > 0 && op == 2) {
        *m = "DELETE";
        body[0] = '\0';
        *qty = 0;
    } else {
        *m = "POST";
        snprintf(path, 64, "/cart/items");
        snprintf(body, 96, "{\"sku\": \"SKU-%d\", \"qty\": %d, \"unit_price_cents\": %d}",
                 *k, q, topo_run_price(*k));
        *qty = s->qty[*k] + q;
    }
}

/* One change through the proxy. An idempotent change that failed for want of a
 * replica (transport error, 5xx) is sent again, bounded; anything else breaks the session. */
static void sess_change(struct topo_run *r, struct topo_run_sess *s)
{
    const char *m;
    char path[64], body[96];
    int k, qty;
    sess_plan(r, s, &m, path, body, &k, &qty);
    for (int attempt = 0; attempt < 50; attempt++) {
        bool after = atomic_load(&r->marked_down);
        long st = sess_send(r, s, m, path, body[0] ? body : NULL, NULL);
        if (st == 200) {
            s->qty[k] = qty;
            s->version++;
            return;
        }
        atomic_fetch_add(after ? &r->fails_after_down : &r->fails_before_down, 1);
        if (!r->idempotent || (st != 0 && st < 500)) {
            s->broken = true;
            s->fail_status = st;
            return;
        }
        s->resent = true;
        harness_nap(20);
    }
    s->broken = true;
}

/* Client thread: its share of the sessions, round by round. */
static void *worker_main(void *ud)
{
    struct worker *w = ud;
    struct topo_run *r = w->r;
    for (int round = r->from; round < r->to; round++) {
        for (long long end = harness_ms() + 20000; round == r->pause && harness_ms() < end;
             harness_nap(5))
            if (atomic_load(&r->go))
                break;
        for (int i = w->t; i < TOPO_RUN_NSESS; i += NTHR) {
            if (round == 0)
                sess_create(r, &r->s[i], i);
            else if (!r->s[i].broken)
                sess_change(r, &r->s[i]);
        }
    }
    return NULL;
}

/* Run rounds [from, to) on NTHR threads; with kill_name, SIGKILL it (cartpair-local kill)
 * once a round's worth of requests is done, while the threads go on after round pause. */
void topo_run_rounds(struct topo_run *r, int from, int to, int pause, const char *kill_name)
{
    pthread_t th[NTHR];
    struct worker w[NTHR];
    r->from = from;
    r->to = to;
    r->pause = kill_name ? pause : -1;
    atomic_store(&r->go, false);
    int start = atomic_load(&r->progress);
    for (int t = 0; t < NTHR; t++) {
        w[t] = (struct worker){ r, t };
        cr_assert_eq(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
    }
    if (kill_name) {
        for (long long end = harness_ms() + 20000; harness_ms() < end; harness_nap(2))
            if (atomic_load(&r->progress) - start >= TOPO_RUN_NSESS / 2)
                break;
        int rc = topo_script(r->t, "kill", kill_name);
        atomic_store(&r->go, true);
        cr_expect_eq(rc, 0, "cartpair-local kill %s failed", kill_name);
    }
    for (int t = 0; t < NTHR; t++)
        pthread_join(th[t], NULL);
}

/* True when j is exactly cart id with qty[k] of SKU-k (k < nsku, 0: no line) at
 * topo_run_price(k), at version (at_least: that version or a later one). */
bool topo_run_cart_is(json_t *j, const char *id, const int *qty, int nsku, long version,
                      bool at_least)
{
    json_t *items = json_object_get(j, "items"), *it;
    const char *got = json_string_value(json_object_get(j, "id"));
    long long v = json_integer_value(json_object_get(j, "version")), total = 0;
    if (!got || strcmp(got, id) || !json_is_array(items))
        return false;
    if (at_least ? v < version : v != version)
        return false;
    size_t want = 0, i;
    for (int k = 0; k < nsku; k++)
        if (qty[k] > 0) {
            want++;
            total += (long long)qty[k] * topo_run_price(k);
        }
    if (json_array_size(items) != want)
        return false;
    json_array_foreach(items, i, it) {
        int k = -1;
        const char *sku = json_string_value(json_object_get(it, "sku"));
        if (!sku || sscanf(sku, "SKU-%d", &k) != 1 || k < 0 || k >= nsku ||
            json_integer_value(json_object_get(it, "qty")) != qty[k] ||
            json_integer_value(json_object_get(it, "unit_price_cents")) != topo_run_price(k))
            return false;
    }
    return json_integer_value(json_object_get(j, "total_cents")) == total;
}

/* True when j is exactly the session's expected cart (version: at least, if resent). */
static bool cart_matches(const struct topo_run_sess *s, json_t *j)
{
    return topo_run_cart_is(j, s->id, s->qty, TOPO_RUN_NSKU, s->version, s->resent);
}

/* GET /cart through the proxy: true when exact; status, error code and owner tag out. */
bool topo_run_exact(struct topo_run *r, struct topo_run_sess *s, long *status, char *code,
                    char *owner)
{
    json_t *j;
    *status = sess_send(r, s, "GET", "/cart", NULL, &j);
    json_t *err = json_object_get(j, "error");
    const char *c = json_string_value(json_object_get(err, "code"));
    const char *o = json_string_value(json_object_get(err, "owner"));
    snprintf(code, 32, "%s", c ? c : "");
    snprintf(owner, 32, "%s", o ? o : "");
    bool ok = *status == 200 && cart_matches(s, j);
    json_decref(j);
    return ok;
}

/* A run through frontend fe of t; free with topo_run_free. */
struct topo_run *topo_run_new(struct topo *t, int fe)
{
    struct topo_run *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    r->t = t;
    r->fe = fe;
    return r;
}

/* Free a run and its sessions' clients. */
void topo_run_free(struct topo_run *r)
{
    for (int i = 0; i < TOPO_RUN_NSESS; i++)
        harness_client_free(r->s[i].c);
    free(r);
}
