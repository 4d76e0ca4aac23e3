/* test_scen: cartload's scenario model, its cookie jar and its response checker. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "jar.h"
#include "scen.h"

static struct scen_cfg cfg;

static void setup(void)
{
    scen_cfg_default(&cfg);
}

TestSuite(scen, .init = setup);
TestSuite(jar);
TestSuite(check, .init = setup);

/* A cart body as the services send it, from a model (total given, to lie with). */
static void cart_json(const struct scen_cart *m, int64_t total, char *buf, size_t len)
{
    size_t at = (size_t)snprintf(buf, len, "{\"id\":\"%s\",\"version\":%lld,\"items\":[", m->id,
                                 (long long)m->version);
    for (int i = 0; i < m->n; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s{\"sku\":\"%s\",\"qty\":%lld,"
                               "\"unit_price_cents\":%lld}", i ? "," : "", m->lines[i].sku,
                               (long long)m->lines[i].qty, (long long)m->lines[i].price);
    snprintf(buf + at, len - at, "],\"total_cents\":%lld,\"expires_in\":1800}", (long long)total);
}

/* A model holding a cart "t1-abc" at version v with no lines. */
static void fresh(struct scen_cart *m, int64_t v)
{
    scen_cart_reset(m);
    m->exists = true;
    snprintf(m->id, sizeof m->id, "t1-abc");
    m->version = v;
}

static struct scen_req req(enum scen_op op, const char *sku, int64_t qty, int64_t price)
{
    struct scen_req r = {.op = op, .qty = qty, .price = price};
    snprintf(r.sku, sizeof r.sku, "%s", sku);
    return r;
}

/* Judge status + body for rq against m. */
static struct check_result judge(struct scen_cart *m, struct scen_req rq, int status, const char *body)
{
    struct check_resp r = {status, body, strlen(body)};
    return check_response(&cfg, m, &rq, &r);
}

Test(scen, mix_parses_and_bad_mix_keeps_the_old_one)
{
    cr_assert(scen_parse_mix(&cfg, "add=1,get=3"));
    cr_expect_eq(cfg.weight[SCEN_ADD], 1);
    cr_expect_eq(cfg.weight[SCEN_SET], 0);
    cr_expect_eq(cfg.weight[SCEN_GET], 3);
    cr_expect_not(scen_parse_mix(&cfg, "add=1,fly=2"));
    cr_expect_not(scen_parse_mix(&cfg, "add=0,get=0"));
    cr_expect_not(scen_parse_mix(&cfg, "add=x"));
    cr_expect_not(scen_parse_mix(&cfg, "create=1"));
    cr_expect_eq(cfg.weight[SCEN_ADD], 1);
    cr_expect_eq(cfg.weight[SCEN_GET], 3);
}

Test(scen, next_creates_resyncs_and_follows_the_weights)
{
    struct scen_cart m;
    struct scen_req rq;
    uint64_t rng = 99;
    scen_cart_reset(&m);
    scen_next(&cfg, &m, &rng, &rq);
    cr_expect_eq(rq.op, SCEN_CREATE);
    fresh(&m, 0);
    m.unsure = true;
    scen_next(&cfg, &m, &rng, &rq);
    cr_expect_eq(rq.op, SCEN_GET);
    m.unsure = false;
    int seen[SCEN_OP_COUNT] = {0};
    for (int i = 0; i < 10000; i++) {
        scen_next(&cfg, &m, &rng, &rq);
        seen[rq.op]++;
        if (rq.op == SCEN_ADD)
            cr_assert(rq.qty >= 1 && rq.qty <= cfg.max_qty);
        if (rq.op == SCEN_SET)
            cr_assert(rq.qty >= 0 && rq.qty <= cfg.max_qty);
    }
    /* 30/20/10/40 within a few percent. */
    cr_expect(seen[SCEN_ADD] > 2700 && seen[SCEN_ADD] < 3300, "add %d", seen[SCEN_ADD]);
    cr_expect(seen[SCEN_GET] > 3700 && seen[SCEN_GET] < 4300, "get %d", seen[SCEN_GET]);
    cr_expect_eq(seen[SCEN_CREATE], 0);
    cfg.is_static = true;
    scen_next(&cfg, &m, &rng, &rq);
    cr_expect_eq(rq.op, SCEN_STATIC);
}

Test(scen, format_cookie_and_id_routes)
{
    struct scen_cart m;
    char buf[1024];
    fresh(&m, 0);
    struct scen_req add = req(SCEN_ADD, "SKU-01", 2, 150);
    size_t n = scen_format(&cfg, &m, &add, "127.0.0.1:80", "cart=t1-abc; SRV=s1", buf, sizeof buf);
    cr_assert_eq(n, strlen(buf));
    cr_expect(strstr(buf, "POST /cart/items HTTP/1.1\r\n") == buf);
    cr_expect(strstr(buf, "\r\nCookie: cart=t1-abc; SRV=s1\r\n"));
    const char *body = "{\"sku\":\"SKU-01\",\"qty\":2,\"unit_price_cents\":150}";
    cr_expect(strstr(buf, "\r\n\r\n") && strcmp(strstr(buf, "\r\n\r\n") + 4, body) == 0);
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", strlen(body));
    cr_expect(strstr(buf, cl));
    cfg.by_id = true;
    struct scen_req del = req(SCEN_REMOVE, "SKU-02", 0, 0);
    scen_format(&cfg, &m, &del, "h:1", "", buf, sizeof buf);
    cr_expect_str_eq(buf, "DELETE /carts/t1-abc/items/SKU-02 HTTP/1.1\r\nHost: h:1\r\n\r\n");
    struct scen_req get = req(SCEN_GET, "", 0, 0);
    cr_expect_eq(scen_format(&cfg, &m, &get, "h:1", "", buf, 20), 0, "too small a buffer");
}

Test(scen, expect_add_set_remove)
{
    struct scen_cart m, a;
    fresh(&m, 0);
    struct scen_req rq = req(SCEN_ADD, "SKU-05", 3, 100);
    struct scen_expect e = scen_expect(&cfg, &m, &rq, &a);
    cr_assert_eq(e.status, 200);
    cr_expect_eq(a.version, 1);
    cr_expect_eq(a.n, 1);
    m = a;
    rq = req(SCEN_ADD, "SKU-01", 1, 50);        /* sorted in front */
    scen_expect(&cfg, &m, &rq, &a);
    cr_expect_str_eq(a.lines[0].sku, "SKU-01");
    cr_expect_eq(scen_total(&a), 350);
    m = a;
    rq = req(SCEN_ADD, "SKU-05", 2, 120);       /* adds, and the price moves */
    scen_expect(&cfg, &m, &rq, &a);
    cr_expect_eq(a.lines[1].qty, 5);
    cr_expect_eq(a.lines[1].price, 120);
    cr_expect_eq(a.version, 3);
    m = a;
    rq = req(SCEN_ADD, "SKU-05", SCEN_QTY_MAX, 1);
    e = scen_expect(&cfg, &m, &rq, &a);
    cr_expect_eq(e.status, 422);
    cr_expect_str_eq(e.code, "qty_out_of_range");
    cr_expect_eq(a.version, m.version, "a refused change changes nothing");
    rq = req(SCEN_SET, "SKU-09", 0, 1);
    e = scen_expect(&cfg, &m, &rq, &a);
    cr_expect_eq(e.status, 404);
    cr_expect_str_eq(e.code, "no_such_item");
    rq = req(SCEN_SET, "SKU-05", 0, 1);
    e = scen_expect(&cfg, &m, &rq, &a);
    cr_expect_eq(e.status, 200);
    cr_expect_eq(a.n, 1);
    rq = req(SCEN_REMOVE, "SKU-01", 0, 0);
    scen_expect(&cfg, &a, &rq, &m);
    cr_expect_eq(m.n, 0);
    cr_expect_eq(m.version, 5);
    e = scen_expect(&cfg, &m, &rq, &a);
    cr_expect_eq(e.status, 404);
}

Test(scen, expect_cart_full)
{
    struct scen_cart m, a;
    fresh(&m, 0);
    cfg.max_items = 2;
    const char *skus[] = {"A", "B"};
    for (int i = 0; i < 2; i++) {
        struct scen_req rq = req(SCEN_ADD, skus[i], 1, 1);
        cr_assert_eq(scen_expect(&cfg, &m, &rq, &a).status, 200);
        m = a;
    }
    struct scen_req rq = req(SCEN_SET, "C", 1, 1);
    struct scen_expect e = scen_expect(&cfg, &m, &rq, &a);
    cr_expect_eq(e.status, 409);
    cr_expect_str_eq(e.code, "cart_full");
    rq = req(SCEN_SET, "A", 4, 1);
    cr_expect_eq(scen_expect(&cfg, &m, &rq, &a).status, 200, "an existing line is no new line");
}

Test(jar, keeps_replaces_and_deletes)
{
    struct jar j;
    char out[512];
    jar_clear(&j);
    cr_assert(jar_set(&j, "cart=t1-abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=1800"));
    cr_assert(jar_set(&j, "SRV=stateful-2; path=/"));
    jar_header(&j, out, sizeof out);
    cr_expect_str_eq(out, "cart=t1-abc; SRV=stateful-2");
    cr_assert(jar_set(&j, "cart=t1-def"));
    cr_expect_str_eq(jar_get(&j, "cart"), "t1-def");
    cr_assert(jar_set(&j, "SRV=; Max-Age=0"));
    cr_expect_null(jar_get(&j, "SRV"));
    cr_assert(jar_set(&j, "cart=x; Max-Age=0"));
    cr_expect_eq(jar_header(&j, out, sizeof out), 0);
    cr_expect_not(jar_set(&j, "novalue"));
    cr_expect_not(jar_set(&j, "=v"));
    cr_assert(jar_set(&j, "a=1"));
    jar_clear(&j);
    cr_expect_null(jar_get(&j, "a"));
}

Test(check, create_adopts_the_new_cart)
{
    struct scen_cart m;
    scen_cart_reset(&m);
    struct check_result r = judge(&m, req(SCEN_CREATE, "", 0, 0), 201,
        "{\"id\":\"t2-xyz\",\"version\":0,\"items\":[],\"total_cents\":0,\"expires_in\":1800}");
    cr_expect_eq(r.kind, CHECK_OK, "%s", r.detail);
    cr_expect(r.cart_created);
    cr_expect(m.exists);
    cr_expect_str_eq(m.id, "t2-xyz");
    scen_cart_reset(&m);
    r = judge(&m, req(SCEN_CREATE, "", 0, 0), 503, "{\"error\":{\"code\":\"capacity\"}}");
    cr_expect_eq(r.kind, CHECK_ERROR);
    cr_expect_not(m.exists);
}

Test(check, right_answers_are_ok_and_advance_the_model)
{
    struct scen_cart m, want, a;
    char body[2048];
    fresh(&m, 4);
    struct scen_req rq = req(SCEN_ADD, "SKU-03", 2, 300);
    scen_expect(&cfg, &m, &rq, &want);
    cart_json(&want, 600, body, sizeof body);
    struct check_result r = judge(&m, rq, 200, body);
    cr_expect_eq(r.kind, CHECK_OK, "%s", r.detail);
    cr_expect_eq(m.version, 5);
    cr_expect_eq(m.n, 1);
    /* A remove of an absent line: the 404 no_such_item the model predicts is ok. */
    r = judge(&m, req(SCEN_REMOVE, "SKU-07", 0, 0), 404,
              "{\"error\":{\"code\":\"no_such_item\",\"message\":\"x\"}}");
    cr_expect_eq(r.kind, CHECK_OK, "%s", r.detail);
    cr_expect_eq(m.version, 5);
    rq = req(SCEN_GET, "", 0, 0);
    scen_expect(&cfg, &m, &rq, &a);
    cart_json(&a, 600, body, sizeof body);
    cr_expect_eq(judge(&m, rq, 200, body).kind, CHECK_OK);
}

Test(check, wrong_contents_are_stale_and_the_model_takes_the_service_cart)
{
    struct scen_cart m, want, lie;
    char body[2048];
    fresh(&m, 1);
    struct scen_req rq = req(SCEN_ADD, "SKU-03", 2, 300);
    scen_expect(&cfg, &m, &rq, &want);
    lie = want;
    lie.lines[0].qty = 3;                       /* a lost or doubled update */
    cart_json(&lie, 900, body, sizeof body);
    struct check_result r = judge(&m, rq, 200, body);
    cr_expect_eq(r.kind, CHECK_STALE);
    cr_expect(strstr(r.detail, "line 0"), "%s", r.detail);
    cr_expect_eq(m.lines[0].qty, 3, "resynchronized to the service's cart");
    /* An old version: a stale read. */
    rq = req(SCEN_GET, "", 0, 0);
    lie = m;
    lie.version = 1;
    cart_json(&lie, 900, body, sizeof body);
    r = judge(&m, rq, 200, body);
    cr_expect_eq(r.kind, CHECK_STALE);
    cr_expect(strstr(r.detail, "version"), "%s", r.detail);
    /* A total that does not add up. */
    cart_json(&m, 901, body, sizeof body);
    r = judge(&m, rq, 200, body);
    cr_expect_eq(r.kind, CHECK_STALE);
    cr_expect(strstr(r.detail, "total"), "%s", r.detail);
    /* Another cart's id. */
    lie = m;
    snprintf(lie.id, sizeof lie.id, "t9-other");
    cart_json(&lie, 900, body, sizeof body);
    cr_expect_eq(judge(&m, rq, 200, body).kind, CHECK_STALE);
}

Test(check, an_unpredicted_refusal_is_stale_and_forces_a_resync)
{
    struct scen_cart m, want;
    fresh(&m, 0);
    struct scen_req rq = req(SCEN_ADD, "SKU-01", 1, 10);
    scen_expect(&cfg, &m, &rq, &want);
    m = want;                                   /* the model holds SKU-01 */
    struct check_result r = judge(&m, req(SCEN_REMOVE, "SKU-01", 0, 0), 404,
                                  "{\"error\":{\"code\":\"no_such_item\"}}");
    cr_expect_eq(r.kind, CHECK_STALE);
    cr_expect(m.unsure);
}

Test(check, lost_and_misdirected_carts)
{
    struct scen_cart m;
    fresh(&m, 3);
    struct check_result r = judge(&m, req(SCEN_GET, "", 0, 0), 404,
                                  "{\"error\":{\"code\":\"cart_not_found\",\"message\":\"x\"}}");
    cr_expect_eq(r.kind, CHECK_LOST);
    cr_expect(r.cart_lost);
    cr_expect_not(m.exists, "the user starts over");
    fresh(&m, 3);
    const char *misdir = "{\"error\":{\"code\":\"misdirected\",\"owner\":\"t1\"}}";
    r = judge(&m, req(SCEN_ADD, "SKU-01", 1, 1), 421, misdir);
    cr_expect_eq(r.kind, CHECK_MISDIRECTED);
    cr_expect_not(r.cart_lost, "one 421 may be a routing glitch");
    cr_expect(m.unsure);
    r = judge(&m, req(SCEN_GET, "", 0, 0), 421, misdir);
    cr_expect_eq(r.kind, CHECK_MISDIRECTED);
    cr_expect(r.cart_lost, "a second 421 in a row: the owner is gone");
    cr_expect_not(m.exists);
}

Test(check, failures_are_errors_and_resync_when_the_outcome_is_unknown)
{
    struct scen_cart m;
    char body[2048];
    fresh(&m, 2);
    struct check_result r = judge(&m, req(SCEN_ADD, "SKU-01", 1, 1), 503,
                                  "{\"error\":{\"code\":\"store_unavailable\"}}");
    cr_expect_eq(r.kind, CHECK_ERROR);
    cr_expect(m.unsure, "a 503 store_unavailable may have landed");
    m.unsure = false;
    r = judge(&m, req(SCEN_ADD, "SKU-01", 1, 1), 503, "{\"error\":{\"code\":\"draining\"}}");
    cr_expect_eq(r.kind, CHECK_ERROR);
    cr_expect_not(m.unsure, "a 503 draining wrote nothing");
    r = judge(&m, req(SCEN_ADD, "SKU-01", 1, 1), 502, "<html>bad gateway</html>");
    cr_expect_eq(r.kind, CHECK_ERROR);
    cr_expect(m.unsure, "a 502 may have landed");
    /* The resync GET adopts whatever the service holds. */
    struct scen_cart svc = m;
    svc.version = 3;
    svc.n = 1;
    snprintf(svc.lines[0].sku, sizeof svc.lines[0].sku, "SKU-01");
    svc.lines[0].qty = 1;
    svc.lines[0].price = 1;
    cart_json(&svc, 1, body, sizeof body);
    r = judge(&m, req(SCEN_GET, "", 0, 0), 200, body);
    cr_expect_eq(r.kind, CHECK_OK, "%s", r.detail);
    cr_expect_not(m.unsure);
    cr_expect_eq(m.version, 3);
    r = judge(&m, req(SCEN_GET, "", 0, 0), 200, "{\"id\":");
    cr_expect_eq(r.kind, CHECK_ERROR);
    struct scen_req add = req(SCEN_ADD, "SKU-02", 1, 1);
    m.unsure = false;
    check_no_response(&m, &add);
    cr_expect(m.unsure, "a timeout leaves the outcome unknown");
}

Test(check, static_checks_the_status_only)
{
    struct scen_cart m;
    scen_cart_reset(&m);
    cr_expect_eq(judge(&m, req(SCEN_STATIC, "", 0, 0), 200, "{\"status\":\"ok\"}").kind, CHECK_OK);
    cr_expect_eq(judge(&m, req(SCEN_STATIC, "", 0, 0), 500, "").kind, CHECK_ERROR);
}
