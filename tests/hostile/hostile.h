/* hostile: shared helpers of the hostile-client suite (test_hostile.c).
 *
 * Starts the target service (stateful-svc, or stateless-svc with a real
 * redis-server; chosen at run time by the caller) with a per-IP connection
 * limit and a short idle timeout, seeds a few carts and remembers them, sends
 * raw requests over their own sockets, and checks after an attack that a
 * well-behaved client is served and every seeded cart is exactly intact.
 * Failures are Criterion assertions. Not thread-safe: one struct hostile per
 * test process, used from the test's own thread. */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <stdbool.h>
#include <stddef.h>

#include "cart.h"
#include "harness.h"

#define HOSTILE_NCARTS 3
#define HOSTILE_PER_IP 200    /* MAX_CONNECTIONS_PER_IP of the service under attack */
#define HOSTILE_IDLE_S 2      /* IDLE_TIMEOUT_SECONDS */

struct hostile {
    struct harness_proc redis, svc;
    bool use_redis;
    struct harness_client *cl;                    /* the well-behaved client */
    char ids[HOSTILE_NCARTS][CART_ID_MAX + 1];    /* the seeded carts */
    char *want[HOSTILE_NCARTS];   /* each cart's {"version","items"} as JSON, before */
};

/* Raise the fd limit, start Redis (use_redis), the service bin and a client; seed carts. */
void hostile_start(struct hostile *h, const char *bin, bool use_redis);

/* Stop everything hostile_start started and free the snapshots. */
void hostile_stop(struct hostile *h);

/* Send a request with the client (asserts no transport error); status, body into out. */
long hostile_call(struct hostile *h, const char *m, const char *path, const char *body,
                  char *out, size_t outlen);

/* A new well-behaved client is served (bounded wait for the service to settle), and
 * every seeded cart is exactly as it was; after names the attack in messages. */
void hostile_check_intact(struct hostile *h, const char *after);

/* A raw connection to the service from src (NULL: 127.0.0.1) with a read timeout. */
int hostile_conn(struct hostile *h, const char *src, int timeout_ms);

/* Send len raw bytes on a new connection; the response's status (0: closed first). */
long hostile_raw(struct hostile *h, const char *req, size_t len, char *body, size_t blen);

/* hostile_raw() for a NUL-terminated request, asserting the status is one of the
 * allowed (a list ending in -1; 0 in it means "closed without an answer" is fine). */
void hostile_expect(struct hostile *h, const char *req, const long *allowed, const char *what);

/* Assert the JSON error body has the given code. */
void hostile_expect_code(const char *body, const char *code, const char *what);

/* POST body to seeded cart i's items; assert the status and error code. */
void hostile_post_expect(struct hostile *h, int i, const char *body, long status,
                         const char *code);

/* Send method and the target made from fmt as a raw request; assert status and code. */
void hostile_path_expect(struct hostile *h, const char *method, long status, const char *code,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
