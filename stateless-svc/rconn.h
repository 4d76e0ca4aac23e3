/* rconn: one hiredis connection of the Redis store, with the cart scripts
 * loaded on it.
 *
 * Connects (TCP or unix socket) with connect and command timeouts, AUTH and
 * SELECT; sends commands with the argv API only; runs a cart script by
 * EVALSHA, loading it first and reloading it once on NOSCRIPT. After any
 * transport error the context is dropped and the next use reconnects. Not
 * thread-safe: one struct rconn belongs to one thread at a time. */
#ifndef RCONN_H
#define RCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>

#include "cfg.h"
#include "rscript.h"

#define RCONN_SHA_LEN 40

struct redisContext;
struct redisReply;

struct rconn {
    struct redisContext *c;       /* NULL: not connected */
    char sha[RSCRIPT_COUNT][RCONN_SHA_LEN + 1];
    bool closed;                  /* the last failure: the server closed the connection */
};

/* Connect k (dropping any old context), set the timeout, AUTH and SELECT. */
bool rconn_connect(struct rconn *k, const struct cfg_redis *url, struct timeval tv,
                   char *err, size_t errlen);

/* Forget a dead context: the next use reconnects. */
void rconn_drop(struct rconn *k);

/* Send one command; NULL (and the context dropped) on a transport error. */
struct redisReply *rconn_cmd(struct rconn *k, int argc, const char **argv, const size_t *lens,
                             char *err, size_t errlen);

/* SCRIPT LOAD script i into k's sha table. */
enum store_status rconn_load(struct rconn *k, int i, char *err, size_t errlen);

#define RCONN_ARGV_MAX (3 + RSCRIPT_NKEYS + RSCRIPT_MAX_ARGS)

/* Fill argv with EVALSHA of script i on keys with args (the script must be loaded);
 * returns argc. argv must hold RCONN_ARGV_MAX entries. */
int rconn_evalsha_argv(const struct rconn *k, int i, const struct rscript_keys *keys,
                       const struct rscript_args *a, const char **argv);

/* EVALSHA script i on keys (loading it first, reloading on NOSCRIPT once); *out
 * is the reply on STORE_OK. */
enum store_status rconn_eval(struct rconn *k, int i, const struct rscript_keys *keys,
                             const struct rscript_args *a, struct redisReply **out,
                             char *err, size_t errlen);

/* Format an error into err (which may be NULL). */
void rconn_err(char *err, size_t errlen, const char *fmt, const char *arg);

#endif
