/* test_limits: both stores, built with other limits (CART_QTY_MAX=50,
 * CART_PRICE_MAX=5000, CART_SKU_MAX=8 on this test's compile line), follow
 * them: the memory store through cart_apply, the Redis store because its Lua
 * scripts get every limit in ARGV and hold no number of their own. Starts its
 * own redis-server on a unix socket in a temp dir (this build cannot share
 * the harness, which links the default limits) and stops it. */
#include <criterion/criterion.h>

#include "scall.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store_mem.h"
#include "store_redis.h"

_Static_assert(CART_QTY_MAX == 50 && CART_PRICE_MAX == 5000 && CART_SKU_MAX == 8,
               "test_limits is built with its own limits");

#define ERRLEN 256

static char dir[64];
static pid_t redis_pid;

/* Start redis-server on dir/r.sock; wait (bounded) for the socket. */
static void redis_up(void)
{
    snprintf(dir, sizeof dir, "/tmp/cartpair-limits-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char sock[128], logf[128];
    snprintf(sock, sizeof sock, "%s/r.sock", dir);
    snprintf(logf, sizeof logf, "%s/redis.log", dir);
    redis_pid = fork();
    cr_assert(redis_pid >= 0);
    if (redis_pid == 0) {
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock,
               "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", logf, (char *)NULL);
        _exit(127);
    }
    struct stat sb;
    for (int i = 0; i < 100 && stat(sock, &sb) != 0; i++) {
        struct timespec ts = { 0, 50 * 1000000L };
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(stat(sock, &sb), 0, "redis-server did not make %s", sock);
}

/* Stop redis-server and remove its files. */
static void redis_down(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
        redis_pid = 0;
    }
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (dir[0] && system(cmd) != 0)
        fprintf(stderr, "test_limits: could not remove %s\n", dir);
}

TestSuite(limits, .init = redis_up, .fini = redis_down, .timeout = 30);

/* Add (or set) on cart "c" of s; the cart status (CART_OK when applied). */
static enum cart_status change(struct store *s, enum cart_op op, const char *sku, int64_t qty,
                               int64_t price)
{
    struct cart_change chg = { .op = op, .qty = qty, .price = price, .has_price = price >= 0 };
    enum cart_status cst = CART_OK;
    char err[ERRLEN] = "";
    struct cart out;
    cart_init(&out, "");
    snprintf(chg.sku, sizeof chg.sku, "%s", sku);
    enum store_status st = scall_change(s, "c", &chg, NULL, &out, &cst, err, sizeof err);
    cart_free(&out);
    cr_assert(st == STORE_OK || st == STORE_REJECTED, "%s store: %s", s->ops->name, err);
    return st == STORE_OK ? CART_OK : cst;
}

/* The same checks against either store. */
static void follows_the_limits(struct store *s)
{
    char err[ERRLEN] = "";
    cr_assert_eq(scall_create(s, "c", NULL, NULL, err, sizeof err), STORE_OK, "%s", err);
    const char *n = s->ops->name;
    cr_expect_eq(change(s, CART_OP_ADD, "A", 50, 1), CART_OK, "%s: qty 50 is the most", n);
    cr_expect_eq(change(s, CART_OP_ADD, "A", 1, -1), CART_QTY_RANGE, "%s: 51", n);
    cr_expect_eq(change(s, CART_OP_SET, "A", 51, -1), CART_QTY_RANGE, "%s: set 51", n);
    cr_expect_eq(change(s, CART_OP_ADD, "B", 1, 5000), CART_OK, "%s: price 5000 is the most", n);
    cr_expect_eq(change(s, CART_OP_ADD, "C", 1, 5001), CART_PRICE_RANGE, "%s: price 5001", n);
    cr_expect_eq(change(s, CART_OP_ADD, "ABCDEFGH", 1, 1), CART_OK, "%s: an 8-char sku", n);
    cr_expect_not(cart_sku_valid("ABCDEFGHI", 9), "a 9-char sku");
    s->ops->destroy(s->self);
}

Test(limits, memory_store)
{
    struct store_mem_cfg cfg = { .ttl = 60, .max_carts = 10, .max_items = 10, .sweep_ms = 0 };
    struct store s;
    char err[ERRLEN] = "";
    cr_assert_eq(store_mem_open(&cfg, &s, err, sizeof err), 0, "%s", err);
    follows_the_limits(&s);
}

Test(limits, redis_store)
{
    char url[160];
    snprintf(url, sizeof url, "unix://%s/r.sock?db=0", dir);
    struct store_redis_cfg cfg = { .url = url, .timeout_ms = 2000, .ttl = 60, .max_items = 10 };
    struct store s;
    char err[ERRLEN] = "";
    cr_assert_eq(store_redis_open(&cfg, &s, err, sizeof err), 0, "%s", err);
    follows_the_limits(&s);
}
