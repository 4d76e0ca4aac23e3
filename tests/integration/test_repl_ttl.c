/* The idle TTL of a cart's backup copy, between real stateful-svc replicas
 * (three on loopback, REPLICATION=sync, a CART_TTL_SECONDS of a few
 * seconds): reads slide the backup's TTL too (TOUCH), so a cart that is only
 * read survives its owner's SIGKILL; an owned cart that expires takes its
 * backup copy with it (DEL); a backup copy whose owner died keeps a full TTL
 * from the death, then expires. */
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

static struct trio T;

/* Stop every replica (a Criterion .fini). */
static void stop_trio(void)
{
    trio_stop(&T);
}

TestSuite(repl_ttl, .fini = stop_trio, .timeout = 90);

/* Start three replicas (sync) with an idle TTL of ttl seconds; wait for their links. */
static void start_trio(int ttl)
{
    char ttls[48];
    snprintf(ttls, sizeof ttls, "CART_TTL_SECONDS=%d", ttl);
    trio_start(&T, "sync", (const char *const[]){ttls, NULL});
}

/* Create a cart on replica 0 with three lines (total 600); its path into path. */
static void make_cart(char *path, size_t len)
{
    json_t *j;
    cr_assert_eq(trio_call(T.ports[0], "POST", "/carts", NULL, &j), 201);
    snprintf(path, len, "/carts/%.64s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    char items[180];
    snprintf(items, sizeof items, "%s/items", path);
    for (int k = 0; k < 3; k++) {
        char body[96];
        snprintf(body, sizeof body, "{\"sku\":\"SKU-%d\",\"qty\":%d,\"unit_price_cents\":100}", k,
                 k + 1);
        cr_assert_eq(trio_call(T.ports[0], "POST", items, body, NULL), 200);
    }
}

/* Is the cart at path exactly what make_cart made, on port? The status into *st. */
static bool exact(int port, const char *path, long *st)
{
    json_t *j;
    *st = trio_call(port, "GET", path, NULL, &j);
    bool ok = *st == 200 && json_integer_value(json_object_get(j, "version")) == 3 &&
              json_array_size(json_object_get(j, "items")) == 3 &&
              json_integer_value(json_object_get(j, "total_cents")) == 600;
    json_decref(j);
    return ok;
}

/* The replica (1 or 2) that holds the backup copy of replica 0's one cart. */
static int backup_of_cart(void)
{
    for (int i = 1; i < NREP; i++)
        if (topo_info_int(T.ports[i], "carts_backup") == 1)
            return i;
    cr_assert_fail("no replica holds the backup copy");
    return -1;
}

/* GET the cart on its owner every 250 ms for ms milliseconds (200 each);
 * false when the backup replica b lost its copy meanwhile. */
static bool read_for(const char *path, long ms, int b)
{
    bool kept = true;
    long long t0 = harness_ms();
    for (int n = 0; n < 400 && harness_ms() - t0 < ms; n++) {
        long st;
        cr_assert(exact(T.ports[0], path, &st), "a read on the owner: %ld", st);
        if (topo_info_int(T.ports[b], "carts_backup") != 1)
            kept = false;
        harness_nap(250);
    }
    return kept;
}

/* A cart only read (GET), never changed, for twice its TTL: its backup copy
 * lives on (TOUCH), and after the owner's SIGKILL a survivor takes the cart
 * over with its exact content. */
Test(repl_ttl, read_only_cart_survives_its_owners_kill)
{
    start_trio(3);
    char path[96];
    make_cart(path, sizeof path);
    int b = backup_of_cart();
    bool kept = read_for(path, 6500, b);
    cr_expect(kept, "the backup kept its copy while the cart was read");
    long touches = topo_info_int(T.ports[0], "repl_touches_sent");
    cr_expect_gt(touches, 0, "touches sent: %ld", touches);
    cr_expect_leq(touches, 6500 / 750 + 1, "at most one TOUCH per TTL/4: %ld", touches);
    trio_kill9(&T, 0);
    long st;
    for (int i = 1; i < NREP; i++)
        cr_expect(exact(T.ports[i], path, &st), "replica %d after the owner's kill: %ld", i + 1,
                  st);
    fprintf(stderr, "repl_ttl: cart read for 6.5 s (TTL 3 s), %ld touches; exact after the "
            "owner's kill: %s\n", touches, st == 200 ? "yes" : "no");
}

/* Wait (at most ms) until replica 0 sent one more TOUCH than before. */
static bool touch_sent(long before, long ms)
{
    long long t0 = harness_ms();
    while (harness_ms() - t0 < ms) {
        if (topo_info_int(T.ports[0], "repl_touches_sent") > before)
            return true;
        harness_nap(20);
    }
    return false;
}

/* GET path on port once the suspicion window of a member's death is over
 * (503 until then: the dead member may have held the cart); its status. */
static long after_window(int port, const char *path)
{
    long st = 0;
    for (long long t0 = harness_ms(); harness_ms() - t0 < 5000; harness_nap(100))
        if ((st = trio_call(port, "GET", path, NULL, NULL)) != 503)
            break;
    return st;
}

/* When the owner's copy expires, the backup's goes too (DEL): even a backup
 * touched after the last read (so its own TTL runs past the owner's) holds
 * nothing once the owner dropped the cart, and after the owner's SIGKILL no
 * survivor serves it (404). */
Test(repl_ttl, expired_owner_copy_takes_the_backup_copy_along)
{
    start_trio(6);
    char path[96];
    make_cart(path, sizeof path);
    int b = backup_of_cart();
    cr_expect(read_for(path, 7000, b), "the backup kept its copy while the cart was read");
    /* the last read right after a TOUCH: the next TOUCH comes TTL/4 later,
     * so the backup's own TTL would end after the owner's */
    cr_assert(touch_sent(topo_info_int(T.ports[0], "repl_touches_sent"), 3000), "no TOUCH came");
    long st;
    cr_assert(exact(T.ports[0], path, &st), "the last read: %ld", st);
    long long t0 = harness_ms();
    while (topo_info_int(T.ports[0], "carts_owned") != 0 && harness_ms() - t0 < 12000)
        harness_nap(50);
    cr_assert_eq(topo_info_int(T.ports[0], "carts_owned"), 0, "the owner's copy expired");
    long long gone = harness_ms() - t0;
    long long t1 = harness_ms();
    while (topo_info_int(T.ports[b], "carts_backup") != 0 && harness_ms() - t1 < 500)
        harness_nap(20);
    cr_expect_eq(topo_info_int(T.ports[b], "carts_backup"), 0, "the backup copy is gone too");
    cr_expect_eq(topo_info_int(T.ports[0], "repl_expiry_dels_sent"), 1, "one DEL for the expiry");
    trio_kill9(&T, 0);
    /* a member unreachable since a moment may hold it: 503 for the suspicion
     * window (3 x REPL_TIMEOUT_MS), then 404 */
    for (int i = 1; i < NREP; i++) {
        cr_expect_eq(after_window(T.ports[i], path), 404, "replica %d", i + 1);
    }
    fprintf(stderr, "repl_ttl: owner's copy expired %lld ms after the last read (TTL 6 s); "
            "backup copy gone, 404 after the owner's kill\n", gone);
}

/* A backup copy whose owner died keeps a full TTL from the death (a cart
 * idle for most of its TTL is still taken over after its original end),
 * then expires. */
Test(repl_ttl, orphan_backup_copy_keeps_a_full_ttl_then_expires)
{
    start_trio(3);
    char path[96];
    make_cart(path, sizeof path);
    int b = backup_of_cart();
    harness_nap(2000);
    cr_expect_eq(topo_info_int(T.ports[0], "repl_touches_sent"), 0, "no read, no TOUCH");
    trio_kill9(&T, 0);
    long long t0 = harness_ms();
    harness_nap(2500); /* past the copy's original end (3 s after its last change) */
    cr_expect_eq(topo_info_int(T.ports[b], "carts_backup"), 1, "the orphan copy is kept");
    while (topo_info_int(T.ports[b], "carts_backup") != 0 && harness_ms() - t0 < 6000)
        harness_nap(100);
    long long life = harness_ms() - t0;
    cr_expect_eq(topo_info_int(T.ports[b], "carts_backup"), 0, "the orphan copy expired");
    cr_expect_geq(life, 2900, "it lived %lld ms after the owner's death (TTL 3 s)", life);
    cr_expect_eq(after_window(T.ports[b], path), 404);
    fprintf(stderr, "repl_ttl: orphan backup copy lived %lld ms after its owner's kill (TTL "
            "3 s)\n", life);
}
