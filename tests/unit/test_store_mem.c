/* test_store_mem: the in-memory cart store, driven through its ops table.
 *
 * Round trips, refusals, sliding expiry, the sweeper, MAX_CARTS and
 * concurrent access from several threads. Expiry tests use a 1 s TTL. */
#include <criterion/criterion.h>

#include "scall.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store_mem.h"

#define ERRLEN 256

/* Open a memory store or fail the test. */
static struct store open_store(int ttl, long max_carts, int sweep_ms)
{
    struct store_mem_cfg cfg = {
        .ttl = ttl, .max_carts = max_carts, .max_items = 5, .sweep_ms = sweep_ms,
    };
    struct store s = {0};
    char err[ERRLEN] = "";
    cr_assert_eq(store_mem_open(&cfg, &s, err, sizeof(err)), 0, "open: %s", err);
    cr_assert_not_null(s.ops);
    return s;
}

/* Milliseconds on the monotonic clock. */
static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep for ms milliseconds. */
static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    for (int i = 0; i < 100 && nanosleep(&ts, &ts) != 0; i++)
        continue;
}

/* A change with no If-Match condition. */
static struct cart_change mk_change(enum cart_op op, const char *sku, int64_t qty,
                                    int64_t price, bool has_price)
{
    struct cart_change c = { .op = op, .qty = qty, .price = price,
                             .has_price = has_price };
    snprintf(c.sku, sizeof(c.sku), "%s", sku);
    return c;
}

/* Carts currently counted by the store. */
static uint64_t count_of(struct store *s)
{
    struct store_stats st = {.carts = 99, .errors = 99};
    char err[ERRLEN];
    cr_assert_eq(s->ops->stats(s->self, &st, err, sizeof(err)), STORE_OK);
    cr_assert_eq(st.errors, 0);
    return st.carts;
}

/* Create a cart or fail the test. */
static void must_create(struct store *s, const char *id)
{
    char err[ERRLEN] = "";
    struct cart c;
    cart_init(&c, "");
    cr_assert_eq(scall_create(s, id, NULL, &c, err, sizeof(err)), STORE_OK,
                 "create %s: %s", id, err);
    cart_free(&c);
}

/* Status of a get, discarding the cart. */
static enum store_status get_st(struct store *s, const char *id)
{
    char err[ERRLEN];
    struct cart c;
    cart_init(&c, "");
    enum store_status st = scall_get(s, id, &c, err, sizeof(err));
    cart_free(&c);
    return st;
}

Test(store_mem, round_trip)
{
    struct store s = open_store(60, 100, 0);
    char err[ERRLEN];
    struct cart c;
    cart_init(&c, "");
    enum cart_status cst = CART_NOMEM;

    cr_assert_str_eq(s.ops->name, "memory");
    cr_assert_eq(s.ops->ping(s.self, err, sizeof(err)), STORE_OK);
    cr_assert_eq(scall_create(&s, "c1", NULL, &c, err, sizeof(err)), STORE_OK);
    cr_assert_str_eq(c.id, "c1");
    cr_assert_eq(c.version, 0);
    cr_assert_eq(c.n, 0);
    cr_assert_eq(c.expires_in, 60);
    cr_assert_eq(count_of(&s), 1);

    struct cart_change chg = mk_change(CART_OP_ADD, "BOOK-42", 2, 1999, true);
    cr_assert_eq(scall_change(&s, "c1", &chg, NULL, &c, &cst, err, sizeof(err)), STORE_OK);
    cr_assert_eq(cst, CART_OK);
    cr_assert_eq(c.version, 1);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(c.expires_in, 60);

    chg = mk_change(CART_OP_SET, "BOOK-42", 5, 0, false);
    chg.if_match = cart_match_one(1);
    cr_assert_eq(scall_change(&s, "c1", &chg, NULL, &c, &cst, err, sizeof(err)), STORE_OK);

    struct cart g;
    cart_init(&g, "");
    cr_assert_eq(scall_get(&s, "c1", &g, err, sizeof(err)), STORE_OK);
    cr_assert_str_eq(g.id, "c1");
    cr_assert_eq(g.version, 2);
    cr_assert_eq(g.n, 1);
    cr_assert_str_eq(g.items[0].sku, "BOOK-42");
    cr_assert_eq(g.items[0].qty, 5);
    cr_assert_eq(g.items[0].unit_price_cents, 1999);
    cr_assert_eq(g.expires_in, 60);

    cr_assert_eq(scall_del(&s, "c1", 2, NULL, &cst, err, sizeof(err)), STORE_OK);
    cr_assert_eq(count_of(&s), 0);
    cr_assert_eq(get_st(&s, "c1"), STORE_NOT_FOUND);
    cart_free(&c);
    cart_free(&g);
    s.ops->destroy(s.self);
}

Test(store_mem, exists_and_not_found)
{
    struct store s = open_store(60, 100, 0);
    char err[ERRLEN];
    enum cart_status cst = CART_OK;
    struct cart_change chg = mk_change(CART_OP_ADD, "A", 1, 1, true);

    must_create(&s, "dup");
    struct cart c;
    cart_init(&c, "");
    cr_assert_eq(scall_create(&s, "dup", NULL, &c, err, sizeof(err)), STORE_EXISTS);
    cr_assert_eq(count_of(&s), 1);
    cr_assert_eq(get_st(&s, "nope"), STORE_NOT_FOUND);
    cr_assert_eq(scall_change(&s, "nope", &chg, NULL, &c, &cst, err, sizeof(err)),
                 STORE_NOT_FOUND);
    cr_assert_eq(scall_del(&s, "nope", -1, NULL, &cst, err, sizeof(err)), STORE_NOT_FOUND);
    cr_assert_eq(scall_create(&s, "", NULL, &c, err, sizeof(err)), STORE_ERROR);
    cart_free(&c);
    s.ops->destroy(s.self);
}

Test(store_mem, rejections_carry_cart_status)
{
    struct store s = open_store(60, 100, 0);
    char err[ERRLEN];
    enum cart_status cst = CART_OK;
    struct cart c;
    cart_init(&c, "");
    must_create(&s, "r");

    struct cart_change chg = mk_change(CART_OP_REMOVE, "GONE", 0, 0, false);
    cr_assert_eq(scall_change(&s, "r", &chg, NULL, &c, &cst, err, sizeof(err)), STORE_REJECTED);
    cr_assert_eq(cst, CART_NO_ITEM);
    chg = mk_change(CART_OP_ADD, "NEW", 1, 0, false);
    cr_assert_eq(scall_change(&s, "r", &chg, NULL, &c, &cst, err, sizeof(err)), STORE_REJECTED);
    cr_assert_eq(cst, CART_PRICE_REQUIRED);
    chg = mk_change(CART_OP_ADD, "bad sku", 1, 5, true);
    cr_assert_eq(scall_change(&s, "r", &chg, NULL, &c, &cst, err, sizeof(err)), STORE_REJECTED);
    cr_assert_eq(cst, CART_INVALID_SKU);
    chg = mk_change(CART_OP_ADD, "X", 1, 5, true);
    chg.if_match = cart_match_one(7);
    cr_assert_eq(scall_change(&s, "r", &chg, NULL, &c, &cst, err, sizeof(err)), STORE_REJECTED);
    cr_assert_eq(cst, CART_CONFLICT);
    for (int i = 0; i < 5; i++) {
        char sku[16];
        snprintf(sku, sizeof(sku), "S%d", i);
        chg = mk_change(CART_OP_ADD, sku, 1, 5, true);
        cr_assert_eq(scall_change(&s, "r", &chg, NULL, &c, &cst, err, sizeof(err)), STORE_OK);
    }
    chg = mk_change(CART_OP_ADD, "S9", 1, 5, true);
    cr_assert_eq(scall_change(&s, "r", &chg, NULL, &c, &cst, err, sizeof(err)), STORE_REJECTED);
    cr_assert_eq(cst, CART_FULL);

    /* Refused changes changed nothing. */
    cr_assert_eq(scall_get(&s, "r", &c, err, sizeof(err)), STORE_OK);
    cr_assert_eq(c.version, 5);
    cr_assert_eq(c.n, 5);
    cart_free(&c);
    s.ops->destroy(s.self);
}

Test(store_mem, del_if_match)
{
    struct store s = open_store(60, 100, 0);
    char err[ERRLEN];
    enum cart_status cst = CART_OK;
    must_create(&s, "d");
    cr_assert_eq(scall_del(&s, "d", 3, NULL, &cst, err, sizeof(err)), STORE_REJECTED);
    cr_assert_eq(cst, CART_CONFLICT);
    cr_assert_eq(get_st(&s, "d"), STORE_OK);
    cr_assert_eq(count_of(&s), 1);
    cr_assert_eq(scall_del(&s, "d", 0, NULL, &cst, err, sizeof(err)), STORE_OK);
    cr_assert_eq(cst, CART_OK);
    cr_assert_eq(get_st(&s, "d"), STORE_NOT_FOUND);

    must_create(&s, "e");
    cr_assert_eq(scall_del(&s, "e", -1, NULL, &cst, err, sizeof(err)), STORE_OK);
    cr_assert_eq(count_of(&s), 0);
    s.ops->destroy(s.self);
}

Test(store_mem, idle_cart_expires)
{
    struct store s = open_store(1, 100, 0);
    must_create(&s, "idle");
    must_create(&s, "again");
    cr_assert_eq(get_st(&s, "idle"), STORE_OK);
    sleep_ms(1150);
    cr_assert_eq(get_st(&s, "idle"), STORE_NOT_FOUND);
    cr_assert_eq(count_of(&s), 1, "the expired cart found was dropped");
    /* An expired id may be created again. */
    must_create(&s, "again");
    cr_assert_eq(count_of(&s), 1);
    s.ops->destroy(s.self);
}

Test(store_mem, sliding_expiry)
{
    struct store s = open_store(1, 100, 0);
    must_create(&s, "slide");
    for (int i = 0; i < 5; i++) {
        sleep_ms(400);
        cr_assert_eq(get_st(&s, "slide"), STORE_OK, "touch %d", i);
    }
    cr_assert_eq(store_mem_sweep(&s), 0);
    cr_assert_eq(get_st(&s, "slide"), STORE_OK);
    s.ops->destroy(s.self);
}

Test(store_mem, sweep_frees_capacity)
{
    struct store s = open_store(1, 3, 0);
    char err[ERRLEN];
    must_create(&s, "a");
    must_create(&s, "b");
    must_create(&s, "c");
    cr_assert_eq(scall_create(&s, "d", NULL, NULL, err, sizeof(err)), STORE_CAPACITY);
    cr_assert_eq(store_mem_sweep(&s), 0);
    sleep_ms(1150);
    /* Expired but not yet found: still counted. */
    cr_assert_eq(scall_create(&s, "d", NULL, NULL, err, sizeof(err)), STORE_CAPACITY);
    cr_assert_eq(store_mem_sweep(&s), 3);
    cr_assert_eq(count_of(&s), 0);
    must_create(&s, "d");
    cr_assert_eq(store_mem_sweep(&s), 0);
    cr_assert_eq(count_of(&s), 1);
    s.ops->destroy(s.self);
}

Test(store_mem, sweeper_thread_drops_expired)
{
    struct store s = open_store(1, 100, 50);
    must_create(&s, "x");
    must_create(&s, "y");
    cr_assert_eq(count_of(&s), 2);
    long long t0 = mono_ms();
    while (count_of(&s) != 0 && mono_ms() - t0 < 3000)
        sleep_ms(20);
    cr_assert_eq(count_of(&s), 0, "sweeper dropped both carts");
    cr_assert_geq(mono_ms() - t0, 900, "not before the TTL");
    s.ops->destroy(s.self);
}

Test(store_mem, capacity)
{
    struct store s = open_store(60, 10, 0);
    char err[ERRLEN];
    enum cart_status cst;
    char id[32];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "cap%d", i);
        must_create(&s, id);
    }
    cr_assert_eq(scall_create(&s, "cap10", NULL, NULL, err, sizeof(err)), STORE_CAPACITY);
    cr_assert_eq(count_of(&s), 10);
    /* No live cart was evicted. */
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "cap%d", i);
        cr_assert_eq(get_st(&s, id), STORE_OK);
    }
    cr_assert_eq(scall_del(&s, "cap3", -1, NULL, &cst, err, sizeof(err)), STORE_OK);
    must_create(&s, "cap10");
    cr_assert_eq(scall_create(&s, "cap11", NULL, NULL, err, sizeof(err)), STORE_CAPACITY);
    s.ops->destroy(s.self);
}

Test(store_mem, expired_found_frees_capacity)
{
    struct store s = open_store(1, 2, 0);
    char err[ERRLEN];
    must_create(&s, "p");
    must_create(&s, "q");
    sleep_ms(1150);
    cr_assert_eq(get_st(&s, "p"), STORE_NOT_FOUND);
    must_create(&s, "r");
    cr_assert_eq(scall_create(&s, "s", NULL, NULL, err, sizeof(err)), STORE_CAPACITY);
    /* Creating the expired id itself drops the old entry first. */
    must_create(&s, "q");
    cr_assert_eq(count_of(&s), 2);
    s.ops->destroy(s.self);
}

/* Released once every worker thread is up, so they really overlap. */
static pthread_barrier_t start_line;

struct adder {
    struct store *s;
    int ok;
};

/* Thread body: 1000 ADDs of qty 1 to one sku of cart "hot". */
static void *add_many(void *arg)
{
    struct adder *a = arg;
    char err[ERRLEN];
    struct cart c;
    cart_init(&c, "");
    struct cart_change chg = mk_change(CART_OP_ADD, "SKU-1", 1, 250, true);
    pthread_barrier_wait(&start_line);
    for (int i = 0; i < 1000; i++) {
        enum cart_status cst;
        if (scall_change(a->s, "hot", &chg, NULL, &c, &cst, err, sizeof(err)) == STORE_OK)
            a->ok++;
    }
    cart_free(&c);
    return NULL;
}

Test(store_mem, concurrent_adds)
{
    struct store s = open_store(60, 100, 10);
    must_create(&s, "hot");
    pthread_t th[8];
    struct adder ad[8];
    cr_assert_eq(pthread_barrier_init(&start_line, NULL, 8), 0);
    for (int i = 0; i < 8; i++) {
        ad[i] = (struct adder){ .s = &s, .ok = 0 };
        cr_assert_eq(pthread_create(&th[i], NULL, add_many, &ad[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(ad[i].ok, 1000);
    }
    pthread_barrier_destroy(&start_line);
    char err[ERRLEN];
    struct cart c;
    cart_init(&c, "");
    cr_assert_eq(scall_get(&s, "hot", &c, err, sizeof(err)), STORE_OK);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(c.items[0].qty, 8000);
    cr_assert_eq(c.version, 8000);
    cart_free(&c);
    s.ops->destroy(s.self);
}

struct creator {
    struct store *s;
    int tid;
    int ok;
    int full;
};

/* Thread body: create 50 distinct carts, counting successes and refusals. */
static void *create_many(void *arg)
{
    struct creator *cr = arg;
    char err[ERRLEN], id[32];
    pthread_barrier_wait(&start_line);
    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof(id), "t%d-%d", cr->tid, i);
        enum store_status st = scall_create(cr->s, id, NULL, NULL, err, sizeof(err));
        if (st == STORE_OK)
            cr->ok++;
        else if (st == STORE_CAPACITY)
            cr->full++;
    }
    return NULL;
}

Test(store_mem, concurrent_creates_stop_at_max)
{
    struct store s = open_store(60, 100, 0);
    pthread_t th[8];
    struct creator cr[8];
    cr_assert_eq(pthread_barrier_init(&start_line, NULL, 8), 0);
    for (int i = 0; i < 8; i++) {
        cr[i] = (struct creator){ .s = &s, .tid = i };
        cr_assert_eq(pthread_create(&th[i], NULL, create_many, &cr[i]), 0);
    }
    int ok = 0, full = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ok += cr[i].ok;
        full += cr[i].full;
    }
    pthread_barrier_destroy(&start_line);
    cr_assert_eq(ok, 100);
    cr_assert_eq(full, 300);
    cr_assert_eq(count_of(&s), 100);
    s.ops->destroy(s.self);
}

Test(store_mem, destroy_with_sweeper_is_prompt)
{
    struct store s = open_store(60, 100, 10000);
    must_create(&s, "z");
    sleep_ms(50);
    long long t0 = mono_ms();
    s.ops->destroy(s.self);
    cr_assert_lt(mono_ms() - t0, 500, "destroy waited for the sweep period");
}

Test(store_mem, open_refuses_bad_cfg)
{
    struct store_mem_cfg cfg = { .ttl = 0, .max_carts = 10, .max_items = 5, .sweep_ms = 0 };
    struct store s = {0};
    char err[ERRLEN] = "";
    cr_assert_eq(store_mem_open(&cfg, &s, err, sizeof(err)), -1);
    cr_assert_neq(err[0], '\0');
    cfg.ttl = 10;
    cfg.max_carts = 0;
    cr_assert_eq(store_mem_open(&cfg, &s, err, sizeof(err)), -1);
}
