/* sfix: the Redis store fixture shared by test_store_redis.c and
 * test_rscript.c.
 *
 * Per test, a redis-server of the test's own (harness) and a Redis store on
 * it (max_items 3, TTL SFIX_TTL, 200 ms timeout), plus short helpers that
 * apply changes and assert their outcome. Not thread-safe: the fixture is one
 * per test process; sfix_chg may be called from several threads at once (the
 * store is thread-safe). */
#ifndef SFIX_H
#define SFIX_H

#include <stdint.h>

#include "harness.h"
#include "store.h"

#define SFIX_TTL 60
#define SFIX_ERRLEN 256
#define SFIX_NOPRICE INT64_MIN    /* a change without unit_price_cents */

extern struct harness_proc sfix_redis;
extern struct store sfix_store;

/* Open a store on url with ttl (max_items 3, 200 ms timeout), or fail the test. */
struct store sfix_open(const char *url, int ttl);

/* Open a store on the fixture's Redis over TCP. */
struct store sfix_open_ttl(int ttl);

/* .init: a fresh redis-server and a store on it. */
void sfix_setup(void);

/* .fini: close the store and stop Redis. */
void sfix_teardown(void);

/* Apply one change through the store; out receives the cart, cst the refusal. */
enum store_status sfix_chg(const char *id, enum cart_op op, const char *sku, int64_t qty,
                           int64_t price, int64_t if_match, struct cart *out,
                           enum cart_status *cst);

/* Expect a change to succeed. */
void sfix_ok(const char *id, enum cart_op op, const char *sku, int64_t qty, int64_t price,
             struct cart *out);

/* Expect a change to be refused with want. */
void sfix_refused(const char *id, enum cart_op op, const char *sku, int64_t qty,
                  int64_t price, int64_t if_match, enum cart_status want);

/* Create cart id, or fail the test. */
void sfix_create(const char *id);

/* The version of a stored cart. */
int64_t sfix_version(const char *id);

#endif
