/* stateless-svc with Redis Sentinel, against real redis-server and
 * redis-sentinel processes: a primary with two replicas and three sentinels
 * (quorum 2, down-after 1000 ms). Discovery, failover after a kill -9 with
 * REDIS_WAIT_REPLICAS=1 (no acknowledged change lost), scripts loaded again
 * on a new primary (NOSCRIPT), a stale primary answering READONLY, one
 * sentinel down, all sentinels down (503, then recovery) and a wrong
 * password (a clear error at start-up, the password never shown). */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "rscript.h"

#define PASSWORD "s3cret-Pw-9"
#define RECOVER_MS 15000          /* a failover completes within this (bounded loops) */

static struct harness_proc red[3], sen[3], side, svc;
static char replica_of[2][32], sentinels[128], pwfile[320];
static const char *rep_args[2][8];
static struct harness_client *cl;
static struct harness_resp R;
static json_t *J;

/* Stop everything the test started. */
static void stop(void)
{
    harness_resp_free(&R);
    json_decref(J);
    J = NULL;
    harness_client_free(cl);
    cl = NULL;
    harness_stop(&svc);
    for (int i = 0; i < 3; i++) {
        harness_stop(&sen[i]);
        harness_stop(&red[i]);
    }
    harness_stop(&side);
}

TestSuite(sentinel, .fini = stop, .timeout = 90);

/* One command (words split on spaces) to the Redis or sentinel on port,
 * AUTH first when pw; NULL on failure. */
static redisReply *rcmd(int port, const char *pw, const char *cmd)
{
    struct timeval tv = { 1, 0 };
    char buf[256];
    const char *argv[16];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", cmd);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w && argc < 16;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    redisReply *r = NULL;
    if (c && !c->err && redisSetTimeout(c, tv) == REDIS_OK) {
        const char *auth[2] = { "AUTH", pw };
        if (pw)
            freeReplyObject(redisCommandArgv(c, 2, auth, NULL));
        r = redisCommandArgv(c, argc, argv, NULL);
    }
    if (c)
        redisFree(c);
    return r;
}

/* An integer reply (or an array's length), -1 on anything else. */
static long long rint_of(int port, const char *pw, const char *cmd)
{
    redisReply *r = rcmd(port, pw, cmd);
    long long v = !r ? -1 : r->type == REDIS_REPLY_INTEGER ? r->integer
                : r->type == REDIS_REPLY_ARRAY ? (long long)r->elements : -1;
    if (r)
        freeReplyObject(r);
    return v;
}

/* Start the primary, two replicas and three sentinels; wait until every
 * sentinel knows both replicas and the other two sentinels. */
static void start_redis(const char *pw)
{
    static const char *const pw_args[] = { "--requirepass", PASSWORD, "--masterauth", PASSWORD,
                                           NULL };
    cr_assert(harness_redis_start_args(&red[0], pw ? pw_args : NULL), "primary did not start");
    for (int i = 0; i < 2; i++) {
        snprintf(replica_of[i], sizeof replica_of[i], "%d", red[0].port);
        const char *a[] = { "--replicaof", "127.0.0.1", replica_of[i], pw ? "--requirepass" : NULL,
                            PASSWORD, "--masterauth", PASSWORD, NULL };
        memcpy(rep_args[i], a, sizeof a);
        cr_assert(harness_redis_start_args(&red[i + 1], rep_args[i]), "replica did not start");
    }
    for (int i = 0; i < 3; i++)
        cr_assert(harness_sentinel_start(&sen[i], red[0].port, pw), "sentinel did not start");
    snprintf(sentinels, sizeof sentinels, "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d",
             sen[0].port, sen[1].port, sen[2].port);
    for (long long end = harness_ms() + RECOVER_MS;; harness_nap(100)) {
        bool ok = rint_of(red[0].port, pw, "WAIT 2 100") == 2;
        for (int i = 0; i < 3 && ok; i++)
            ok = rint_of(sen[i].port, pw, "SENTINEL replicas " HARNESS_MASTER) == 2 &&
                 rint_of(sen[i].port, pw, "SENTINEL sentinels " HARNESS_MASTER) == 2;
        if (ok)
            return;
        cr_assert(harness_ms() < end, "the sentinels did not see the whole topology");
    }
}

/* Start stateless-svc on the sentinels (password file when pw); false when it did not start. */
static bool start_svc(const char *pw)
{
    static char env_s[200], env_f[400];
    snprintf(env_s, sizeof env_s, "REDIS_SENTINELS=%s", sentinels);
    snprintf(pwfile, sizeof pwfile, "%s/password", red[0].dir);
    if (pw) {
        FILE *f = fopen(pwfile, "w");
        cr_assert_not_null(f);
        fprintf(f, "%s\n", pw);
        fclose(f);
    }
    snprintf(env_f, sizeof env_f, "REDIS_PASSWORD_FILE=%s", pwfile);
    const char *env[] = { env_s, "REDIS_MASTER_NAME=" HARNESS_MASTER, "REDIS_WAIT_REPLICAS=1",
                          "REDIS_TIMEOUT_MS=2000", "LOG_LEVEL=info", pw ? env_f : NULL, NULL };
    if (!harness_svc_start(&svc, STATELESS_BIN, 0, env))
        return false;
    cl = harness_client_new(svc.port);
    cr_assert_not_null(cl);
    return true;
}

/* Send a request; R and J describe the reply. */
static long call(const char *m, const char *path, const char *body)
{
    harness_resp_free(&R);
    json_decref(J);
    J = NULL;
    cr_assert(harness_req(cl, m, path, body, NULL, &R), "%s %s: transport error", m, path);
    J = json_loads(R.body, JSON_DECODE_ANY, NULL);
    return R.status;
}

/* A string field of the last reply ("" when absent). */
static const char *jstr(const char *key)
{
    const char *v = json_string_value(json_object_get(J, key));
    return v ? v : "";
}

/* Repeat a request until it answers want, at most RECOVER_MS; true when it did. */
static bool until(long want, const char *m, const char *path, const char *body)
{
    for (long long end = harness_ms() + RECOVER_MS; harness_ms() < end; harness_nap(50))
        if (call(m, path, body) == want)
            return true;
    return false;
}

/* Assert the last reply is 503 store_unavailable. */
static void expect_unavailable(const char *what)
{
    cr_assert_eq(R.status, 503, "%s: want 503, got %ld %s", what, R.status, R.body);
    const char *code = json_string_value(json_object_get(json_object_get(J, "error"), "code"));
    cr_assert_str_eq(code ? code : "", "store_unavailable", "%s: %s", what, R.body);
}

static const char *add_a = "{\"sku\":\"A\",\"qty\":2,\"unit_price_cents\":25}";

/* Create a cart and add two A; its path into path (160 bytes). */
static void cart_with_a(char *path)
{
    cr_assert_eq(call("POST", "/carts", NULL), 201, "create: %s", R.body);
    snprintf(path, 160, "/carts/%s", jstr("id"));
    char p[200];
    snprintf(p, sizeof p, "%s/items", path);
    cr_assert_eq(call("POST", p, add_a), 200, "add: %s", R.body);
}

/* Assert /info names the primary on port and counts failovers. */
static void expect_primary(int port, long long failovers)
{
    char want[32];
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    cr_assert_eq(call("GET", "/info", NULL), 200);
    cr_assert_str_eq(jstr("primary"), want, "/info: %s", R.body);
    cr_assert_eq(json_integer_value(json_object_get(J, "failovers")), failovers, "%s", R.body);
}

/* The port of the primary the sentinels name now. */
static int sentinel_primary(void)
{
    redisReply *r = rcmd(sen[1].port, NULL, "SENTINEL get-master-addr-by-name " HARNESS_MASTER);
    int port = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? atoi(r->element[1]->str) : 0;
    if (r)
        freeReplyObject(r);
    return port;
}

Test(sentinel, discovers_the_primary)
{
    start_redis(NULL);
    cr_assert(start_svc(NULL), "svc did not start");
    cr_assert(until(200, "GET", "/readyz", NULL), "not ready: %s", R.body);
    char want[32];
    snprintf(want, sizeof want, "127.0.0.1:%d", red[0].port);
    cr_assert_str_eq(jstr("primary"), want, "/readyz: %s", R.body);
    char cart[160];
    cart_with_a(cart);
    expect_primary(red[0].port, 0);
    cr_assert_eq(rint_of(red[0].port, NULL, "DBSIZE"), RSCRIPT_NKEYS, "the cart is not on the primary");
}

Test(sentinel, kill_primary_loses_no_acknowledged_change)
{
    start_redis(NULL);
    cr_assert(start_svc(NULL), "svc did not start");
    char cart[160];
    cr_assert(until(200, "GET", "/readyz", NULL), "not ready: %s", R.body);
    cart_with_a(cart);
    harness_kill(&red[0]);
    long long t0 = harness_ms();
    cr_assert(until(200, "GET", cart, NULL), "no recovery: %ld %s", R.status, R.body);
    long long down = harness_ms() - t0;
    json_t *it = json_array_get(json_object_get(J, "items"), 0);
    cr_assert_eq(json_integer_value(json_object_get(it, "qty")), 2, "lost: %s", R.body);
    cr_assert_eq(json_integer_value(json_object_get(J, "version")), 1, "%s", R.body);
    int now = sentinel_primary();
    cr_assert(now != red[0].port && now > 0);
    expect_primary(now, 1);
    cr_assert_eq(call("GET", "/metrics", NULL), 200);
    cr_assert_not_null(strstr(R.body, "cartpair_store_failovers_total{service=\"stateless-svc\"} 1"),
                       "%s", R.body);
    cr_log_info("requests failed for %lld ms after the kill", down);
}

Test(sentinel, scripts_load_again_after_failover)
{
    start_redis(NULL);
    cr_assert(start_svc(NULL), "svc did not start");
    char cart[160], item[200];
    cr_assert(until(200, "GET", "/readyz", NULL), "not ready: %s", R.body);
    cart_with_a(cart);
    redisReply *r = rcmd(sen[0].port, NULL, "SENTINEL FAILOVER " HARNESS_MASTER);
    cr_assert(r && r->type == REDIS_REPLY_STATUS, "SENTINEL FAILOVER refused");
    freeReplyObject(r);
    int now = 0;
    for (long long end = harness_ms() + RECOVER_MS; (now = sentinel_primary()) == red[0].port;
         harness_nap(50))
        cr_assert(harness_ms() < end, "no failover");
    snprintf(item, sizeof item, "%s/items/A", cart);
    /* a set, not an add: a change answered 503 during the switch may have landed */
    cr_assert(until(200, "PUT", item, "{\"qty\":5}"), "no change on the new primary: %s", R.body);
    /* a replica follows the new primary (else WAIT 1 may fall short) */
    /* (the sentinels reconfigure the replicas after the promotion, one full
     * resync each: on a loaded machine that takes longer than the failover) */
    for (long long end = harness_ms() + 2 * RECOVER_MS; rint_of(now, NULL, "WAIT 1 100") < 1;
         harness_nap(50))
        cr_assert(harness_ms() < end, "the replicas did not follow the new primary");
    /* the new primary never saw SCRIPT LOAD; flush once more: NOSCRIPT, reload */
    freeReplyObject(rcmd(now, NULL, "SCRIPT FLUSH"));
    cr_assert_eq(call("PUT", item, "{\"qty\":7}"), 200, "after SCRIPT FLUSH: %s", R.body);
    cr_assert_eq(call("GET", cart, NULL), 200);
    json_t *it = json_array_get(json_object_get(J, "items"), 0);
    cr_assert_eq(json_integer_value(json_object_get(it, "qty")), 7, "%s", R.body);
    expect_primary(now, 1);
}

Test(sentinel, stale_primary_answering_readonly)
{
    start_redis(NULL);
    cr_assert(harness_redis_start(&side), "side redis did not start");
    cr_assert(start_svc(NULL), "svc did not start");
    cr_assert(until(200, "GET", "/readyz", NULL), "not ready: %s", R.body);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "REPLICAOF 127.0.0.1 %d", side.port);
    freeReplyObject(rcmd(red[0].port, NULL, cmd));
    call("POST", "/carts", NULL);
    expect_unavailable("create on a primary turned replica");
    call("POST", "/carts", NULL);
    expect_unavailable("create once ROLE says replica");
    freeReplyObject(rcmd(red[0].port, NULL, "REPLICAOF NO ONE"));
    cr_assert(until(201, "POST", "/carts", NULL), "no recovery: %s", R.body);
    expect_primary(red[0].port, 0);
}

Test(sentinel, one_sentinel_down)
{
    start_redis(NULL);
    harness_stop(&sen[0]);
    cr_assert(start_svc(NULL), "svc did not start");
    char cart[160];
    cr_assert(until(200, "GET", "/readyz", NULL), "not ready: %s", R.body);
    cart_with_a(cart);
    harness_kill(&red[0]);
    cr_assert(until(200, "GET", cart, NULL), "no recovery: %ld %s", R.status, R.body);
    expect_primary(sentinel_primary(), 1);
}

Test(sentinel, all_sentinels_down_then_back)
{
    start_redis(NULL);
    for (int i = 0; i < 3; i++)
        harness_stop(&sen[i]);
    cr_assert(start_svc(NULL), "svc did not start");
    call("POST", "/carts", NULL);
    expect_unavailable("create with no sentinel");
    call("GET", "/readyz", NULL);
    expect_unavailable("readyz with no sentinel");
    for (int i = 0; i < 3; i++)
        cr_assert(harness_redis_restart(&sen[i]), "sentinel did not restart");
    cr_assert(until(201, "POST", "/carts", NULL), "no recovery: %s", R.body);
    expect_primary(red[0].port, 0);
}

/* True when the file at path contains s. */
static bool file_has(const char *path, const char *s)
{
    FILE *f = fopen(path, "r");
    char buf[65536];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return strstr(buf, s) != NULL;
}

Test(sentinel, wrong_password_fails_at_start_up)
{
    start_redis(PASSWORD);
    cr_assert_not(start_svc("not-" PASSWORD), "started with a wrong password");
    cr_assert(file_has(svc.log, "authentication failed"), "no clear error in %s", svc.log);
    cr_assert(file_has(svc.log, "REDIS_PASSWORD_FILE"), "the error names no setting");
    cr_assert_not(file_has(svc.log, PASSWORD), "the password is in the log");
    harness_stop(&svc);
    cr_assert(start_svc(PASSWORD), "did not start with the right password");
    char cart[160];
    cr_assert(until(200, "GET", "/readyz", NULL), "not ready: %s", R.body);
    cart_with_a(cart);
    cr_assert_eq(call("GET", "/info", NULL), 200);
    cr_assert_null(strstr(R.body, PASSWORD), "/info shows the password");
    cr_assert_eq(call("GET", "/metrics", NULL), 200);
    cr_assert_null(strstr(R.body, PASSWORD), "/metrics shows the password");
    cr_assert_not(file_has(svc.log, PASSWORD), "the password is in the log");
}

Test(sentinel, wait_replicas_without_a_replica_changes_nothing)
{
    static char of[32];
    const char *env[] = { "REDIS_WAIT_REPLICAS=1", "REDIS_TIMEOUT_MS=2000", NULL };
    cr_assert(harness_redis_start(&red[0]), "redis did not start");
    cr_assert(harness_svc_start(&svc, STATELESS_BIN, red[0].port, env), "svc did not start");
    cl = harness_client_new(svc.port);
    cr_assert_not_null(cl);
    call("POST", "/carts", NULL);
    expect_unavailable("create with no replica to acknowledge it");
    cr_assert_eq(rint_of(red[0].port, NULL, "DBSIZE"), 0, "a refused create was applied");
    snprintf(of, sizeof of, "%d", red[0].port);
    const char *a[] = { "--replicaof", "127.0.0.1", of, NULL };
    memcpy(rep_args[0], a, sizeof a);
    cr_assert(harness_redis_start_args(&red[1], rep_args[0]), "replica did not start");
    cr_assert(until(201, "POST", "/carts", NULL), "no create once a replica follows: %s", R.body);
    cr_assert_eq(rint_of(red[1].port, NULL, "DBSIZE"), RSCRIPT_NKEYS, "the acknowledged cart is not on the replica");
}
