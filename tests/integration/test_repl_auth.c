/* Authenticated replication links (REPL_SECRET_FILE) between real
 * stateful-svc replicas on loopback: replicas with the same secret replicate
 * as without one (a cart survives its owner's SIGKILL); a replica without
 * the secret, or with another one, never gets a backup copy nor a cart
 * taken over, and the others count it refused (warning once a minute); and
 * on the wire, a connection that has not proven the secret is served nothing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rauth.h"
#include "rproto.h"
#include "trio.h"

#define NCARTS 10
#define SECRET "a shared secret of the cartpair test, 48 bytes.."

static struct trio T;
static char dir[64], good[96], other[96], short_one[96], empty[96];
static char env_good[128], env_other[128];
static char ids[2 * NCARTS][72];

/* Write content to path, or fail. */
static void put_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(content, f);
    fclose(f);
}

/* The secret files (a .init). */
static void make_secrets(void)
{
    snprintf(dir, sizeof dir, "/tmp/cartpair-auth.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(good, sizeof good, "%s/good", dir);
    snprintf(other, sizeof other, "%s/other", dir);
    snprintf(short_one, sizeof short_one, "%s/short", dir);
    snprintf(empty, sizeof empty, "%s/empty", dir);
    put_file(good, SECRET "\n");
    put_file(other, "another secret, as long as the first one is......\n");
    put_file(short_one, "fifteen bytes..");
    put_file(empty, "");
    snprintf(env_good, sizeof env_good, "REPL_SECRET_FILE=%s", good);
    snprintf(env_other, sizeof env_other, "REPL_SECRET_FILE=%s", other);
}

/* Stop every replica and remove the files (a .fini). */
static void stop_all(void)
{
    trio_stop(&T);
    unlink(good);
    unlink(other);
    unlink(short_one);
    unlink(empty);
    rmdir(dir);
}

TestSuite(repl_auth, .init = make_secrets, .fini = stop_all, .timeout = 90);

/* An integer field of replica i's /info. */
static long info(int i, const char *field)
{
    return topo_info_int(T.ports[i], field);
}

/* Create cart k on replica i and change it twice (SKU-0, SKU-1, price 100 + k). */
static void make_cart(int i, int k)
{
    json_t *j;
    cr_assert_eq(trio_call(T.ports[i], "POST", "/carts", NULL, &j), 201);
    snprintf(ids[k], sizeof ids[k], "%.64s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    char path[160], body[96];
    snprintf(path, sizeof path, "/carts/%.64s/items", ids[k]);
    for (int s = 0; s < 2; s++) {
        snprintf(body, sizeof body, "{\"sku\":\"SKU-%d\",\"qty\":1,\"unit_price_cents\":%d}", s,
                 100 + k);
        cr_assert_eq(trio_call(T.ports[i], "POST", path, body, NULL), 200);
    }
}

/* Does replica i serve cart k with its contents (version 2, two lines)? Status into *st. */
static bool has_cart(int i, int k, long *st)
{
    char path[160];
    json_t *j;
    snprintf(path, sizeof path, "/carts/%.64s", ids[k]);
    *st = trio_call(T.ports[i], "GET", path, NULL, &j);
    bool ok = *st == 200 && json_integer_value(json_object_get(j, "version")) == 2 &&
              json_array_size(json_object_get(j, "items")) == 2 &&
              json_integer_value(json_object_get(j, "total_cents")) == 2 * (100 + k);
    json_decref(j);
    return ok;
}

/* How many lines of replica i's log mention s. */
static int log_lines(int i, const char *s)
{
    FILE *f = fopen(T.rep[i].log, "r");
    char line[2048];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, s) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* Three replicas with the same secret: links up, every cart backed up once,
 * the owner's SIGKILL loses none, a SIGTERM hands every cart off (the
 * draining HELLO on an authenticated link), and nobody was refused. */
Test(repl_auth, the_same_secret_replicates_as_without)
{
    trio_start(&T, "sync", (const char *const[]){env_good, NULL});
    for (int k = 0; k < NCARTS; k++)
        make_cart(0, k);
    cr_expect_eq(info(1, "carts_backup") + info(2, "carts_backup"), NCARTS);
    trio_kill9(&T, 0);
    trio_wait_links(&T, 1, 0);
    int ok = 0;
    long st;
    for (int k = 0; k < NCARTS; k++)
        ok += has_cart(1 + k % 2, k, &st);
    cr_expect_eq(ok, NCARTS, "carts served exactly after the owner's SIGKILL: %d", ok);
    cr_expect_eq(info(1, "repl_auth_refused"), 0);
    cr_expect_eq(info(2, "repl_auth_refused"), 0);
    cr_expect_geq(log_lines(1, "(authenticated)"), 2, "rep2's links said authenticated");
    harness_stop(&T.rep[1]);
    ok = 0;
    for (int k = 0; k < NCARTS; k++)
        ok += has_cart(2, k, &st);
    cr_expect_eq(ok, NCARTS, "carts served exactly after a SIGTERM: %d", ok);
    cr_expect_eq(info(2, "carts_owned"), NCARTS, "every cart was handed to replica 3");
    cr_expect_eq(log_lines(1, "0 still owned"), 1, "replica 2 handed its carts off");
}

/* Start replicas 1 and 2 with the secret, replica 3 with extra, and wait
 * until 1 and 2 see each other (not trio_wait_links: they may see more). */
static void outsider_start(const char *const *extra)
{
    trio_pick_ports(&T);
    /* the outsider is a member by name, and this test is about links, not
     * partitions: no split-brain protection, so 2 may take 1's carts alone */
    const char *const trusted[] = {env_good, "REPL_MIN_MEMBERS=0", NULL};
    trio_start_one(&T, 0, "sync", trusted);
    trio_start_one(&T, 1, "sync", trusted);
    trio_start_one(&T, 2, "sync", extra);
    for (int i = 0; i < 2; i++)
        for (long long t0 = harness_ms();
             info(i, "repl_peers_live") < 1 && harness_ms() - t0 < 5000;)
            harness_nap(50);
}

/* Replica 2 counted the outsider refused at every try (every 200 ms), and
 * warned at most once per address (its link's, the incoming one's). */
static void outsider_counted(void)
{
    long refused = info(1, "repl_auth_refused");
    for (long long t0 = harness_ms(); refused < 5 && harness_ms() - t0 < 5000;
         refused = info(1, "repl_auth_refused"))
        harness_nap(100);
    cr_expect_geq(refused, 5, "replica 2 counted %ld refusals in 5 s", refused);
    int warned = log_lines(1, "repl_auth_refused");
    cr_expect(warned >= 1 && warned <= 2, "replica 2 warned %d times for %ld refusals", warned,
              refused);
}

/* Replicas 1 and 2 share the secret, replica 3 starts with outsider's
 * settings: it is never linked, never gets a backup copy while the others
 * create and change carts, cannot take their carts over (not even once
 * their owner died), and the others count it refused. */
static void outsider(const char *const *extra)
{
    outsider_start(extra);
    for (int k = 0; k < 2 * NCARTS; k++)
        make_cart(k % 2, k);
    cr_expect_eq(info(0, "carts_backup") + info(1, "carts_backup"), 2 * NCARTS,
                 "replicas 1 and 2 back each other up");
    cr_expect_eq(info(2, "carts_backup"), 0, "the outsider got backup copies");
    cr_expect_eq(info(2, "repl_peers_live"), 0, "the outsider is linked");
    cr_expect_eq(info(0, "repl_peers_live"), 1, "replica 1 links the outsider");
    long st;
    for (int k = 0; k < 2 * NCARTS; k++) {
        cr_expect(!has_cart(2, k, &st), "the outsider served cart %d (%ld)", k, st);
        cr_expect_neq(st, 200, "cart %d on the outsider", k);
    }
    cr_expect_eq(info(2, "carts_owned"), 0, "the outsider took carts over");
    trio_kill9(&T, 0);
    int ok = 0;
    for (int k = 0; k < 2 * NCARTS; k += 2) {
        cr_expect(!has_cart(2, k, &st), "the outsider took over dead replica 1's cart %d", k);
        ok += has_cart(1, k, &st);
    }
    cr_expect_eq(ok, NCARTS, "replica 2 took over replica 1's carts: %d", ok);
    cr_expect_eq(info(2, "carts_backup"), 0);
    outsider_counted();
}

Test(repl_auth, a_replica_without_the_secret_gets_nothing)
{
    outsider(NULL);
}

Test(repl_auth, a_replica_with_another_secret_gets_nothing)
{
    outsider((const char *const[]){env_other, NULL});
}

/* A secret file that is missing, empty or too short stops the service at
 * start-up, with a message naming the variable and never the content. */
Test(repl_auth, a_bad_secret_file_stops_the_service)
{
    char cmd[512];
    const char *files[] = {short_one, empty, "/nonexistent/secret"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        /* bounded: were the file taken, the service would run */
        snprintf(cmd, sizeof cmd, "REPL_SECRET_FILE=%s PORT=%d timeout -s KILL 5 %s 2>&1",
                 files[i], harness_free_port(), STATEFUL_BIN);
        FILE *p = popen(cmd, "r");
        cr_assert_not_null(p);
        char out[1024] = "";
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = '\0';
        int rc = pclose(p);
        cr_expect_neq(rc, 0, "%s: exit 0", files[i]);
        cr_expect_not_null(strstr(out, "REPL_SECRET_FILE"), "%s: %s", files[i], out);
        cr_expect_null(strstr(out, "fifteen"), "the secret leaked: %s", out);
    }
}

/* A raw connection to a replication port, and what it has read. */
struct raw {
    int fd;
    unsigned char buf[8192];
    size_t len;
};

/* Open one to replica 0's replication port (reads time out after 3 s). */
static void raw_open(struct raw *r)
{
    r->len = 0;
    r->fd = harness_raw_connect(T.ports[0] + 1, NULL, 3000);
    cr_assert_geq(r->fd, 0, "no connection to the replication port");
}

/* Send m. */
static void raw_send(struct raw *r, struct rproto_msg *m)
{
    struct rproto_buf b = {0};
    cr_assert(rproto_append(&b, m));
    cr_assert(harness_raw_send(r->fd, b.p, b.len));
    rproto_buf_free(&b);
}

/* Read the next frame into m: 1; 0 when the peer closed first; -1 on a timeout. */
static int raw_next(struct raw *r, struct rproto_msg *m)
{
    for (int reads = 0; reads < 64; reads++) {
        size_t used;
        enum rproto_status st = rproto_decode(r->buf, r->len, m, &used);
        cr_assert_neq(st, RPROTO_BAD, "a malformed frame from the replica");
        if (st == RPROTO_OK) {
            memmove(r->buf, r->buf + used, r->len - used);
            r->len -= used;
            return 1;
        }
        ssize_t n = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 0;
        if (n < 0)
            return -1;
        r->len += (size_t)n;
    }
    return -1;
}

/* Our HELLO: a peer of incarnation 7, tag "raw", with a nonce when nonce is set. */
static struct rproto_msg raw_hello(const unsigned char *nonce)
{
    struct rproto_msg h = {.type = RP_HELLO, .seq = 1, .inc = 7};
    snprintf(h.tag, sizeof h.tag, "raw");
    if (nonce) {
        h.opt = RPF_NONCE;
        memcpy(h.nonce, nonce, RAUTH_NONCE);
    }
    return h;
}

/* Send HELLO with nonce nc and read the replica's answer, which must carry
 * its nonce and a proof that checks with the secret. */
static void raw_handshake(struct raw *r, struct rauth *a, unsigned char nc[RAUTH_NONCE],
                          struct rproto_msg *ans)
{
    cr_assert(rauth_nonce(nc));
    struct rproto_msg h = raw_hello(nc);
    raw_send(r, &h);
    cr_assert_eq(raw_next(r, ans), 1, "no HELLO answer");
    cr_assert_eq(ans->type, RP_HELLO);
    cr_assert_eq(ans->opt, RPF_NONCE | RPF_MAC, "the answer has no proof");
    cr_expect(rauth_check(a, RAUTH_ACCEPT, nc, ans->nonce, ans->inc, ans->tag, ans->mac),
              "the replica's proof does not check");
}

static struct rauth A;             /* the test's own key: the replicas' secret */
static struct rproto_msg lookup;   /* a LOOKUP of cart 0 */

/* Start replica 1 with the secret and one cart; key A. */
static void raw_setup(void)
{
    trio_pick_ports(&T);
    trio_start_one(&T, 0, "sync", (const char *const[]){env_good, "REPL_MIN_MEMBERS=0", NULL});
    make_cart(0, 0);
    rauth_init(&A, (const unsigned char *)SECRET, strlen(SECRET));
    lookup = (struct rproto_msg){.type = RP_LOOKUP, .seq = 2};
    snprintf(lookup.id, sizeof lookup.id, "%.64s", ids[0]);
}

/* Send AUTH with mac, then the LOOKUP; the first answer into m (raw_next's result). */
static int raw_auth_lookup(struct raw *r, const unsigned char *mac, struct rproto_msg *m)
{
    struct rproto_msg auth = {.type = RP_AUTH};
    memcpy(auth.mac, mac, RAUTH_MAC);
    raw_send(r, &auth);
    raw_send(r, &lookup);
    return raw_next(r, m);
}

/* On the wire: a connection that did not prove the secret gets no answer to
 * a request (the replica closes it), and each is counted. */
Test(repl_auth, an_unproven_connection_is_served_nothing)
{
    raw_setup();
    struct rproto_msg ans, m;
    unsigned char nc[RAUTH_NONCE];
    struct raw r;

    raw_open(&r); /* a plain HELLO (no secret): refused at once */
    struct rproto_msg plain = raw_hello(NULL);
    raw_send(&r, &plain);
    raw_send(&r, &lookup);
    cr_expect_eq(raw_next(&r, &m), 0, "a plain HELLO was answered (type %d)", m.type);
    close(r.fd);

    raw_open(&r); /* a request instead of the AUTH */
    raw_handshake(&r, &A, nc, &ans);
    raw_send(&r, &lookup);
    cr_expect_eq(raw_next(&r, &m), 0, "a request before AUTH was answered (type %d)", m.type);
    close(r.fd);

    raw_open(&r); /* a wrong AUTH: the accepting side's own proof sent back */
    raw_handshake(&r, &A, nc, &ans);
    cr_expect_eq(raw_auth_lookup(&r, ans.mac, &m), 0, "a reflected proof was taken (type %d)",
                 m.type);
    close(r.fd);

    raw_open(&r); /* no AUTH at all: closed after REPL_TIMEOUT_MS (1 s) */
    raw_handshake(&r, &A, nc, &ans);
    long long t0 = harness_ms();
    cr_expect_eq(raw_next(&r, &m), 0, "a connection without AUTH stayed open");
    cr_expect_lt(harness_ms() - t0, 2500);
    close(r.fd);
    long refused = info(0, "repl_auth_refused");
    cr_expect_eq(refused, 4, "refusals counted: %ld", refused);
    rauth_wipe(&A);
}

/* The control: with the right AUTH, the same request is answered, and
 * nothing is counted refused. */
Test(repl_auth, a_proven_connection_is_served)
{
    raw_setup();
    struct rproto_msg ans, m;
    unsigned char nc[RAUTH_NONCE], mac[RAUTH_MAC];
    struct raw r;
    raw_open(&r);
    raw_handshake(&r, &A, nc, &ans);
    struct rproto_msg h = raw_hello(nc);
    rauth_mac(&A, RAUTH_CONNECT, nc, ans.nonce, h.inc, h.tag, mac);
    cr_assert_eq(raw_auth_lookup(&r, mac, &m), 1, "no answer after the right AUTH");
    cr_expect_eq(m.type, RP_FOUND);
    cr_expect_eq(m.seq, 2u);
    close(r.fd);
    cr_expect_eq(info(0, "repl_auth_refused"), 0);
    rauth_wipe(&A);
}
