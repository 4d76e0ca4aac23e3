/* rconn: one hiredis connection of the Redis store. See rconn.h. */
#include "rconn.h"
#include "rreply.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

void rconn_drop(struct rconn *k)
{
    if (k->c) {
        redisFree(k->c);
        k->c = NULL;
    }
}

void rconn_lost(struct rconn *k)
{
    if (k->sent)
        rsent_invalidate(k->sent, k->gen);
    rconn_drop(k);
}

void rconn_check(struct rconn *k)
{
    struct rsent_addr a;
    if (k->c && k->sent && (!rsent_primary(k->sent, &a) || a.gen != k->gen))
        rconn_drop(k);
}

bool rconn_moved_reply(const redisReply *r)
{
    static const char *const moved[] = { "READONLY", "LOADING", "MASTERDOWN" };
    if (r->type != REDIS_REPLY_ERROR)
        return false;
    for (size_t i = 0; i < sizeof moved / sizeof moved[0]; i++)
        if (strncmp(r->str, moved[i], strlen(moved[i])) == 0)
            return true;
    return false;
}

redisReply *rconn_cmd(struct rconn *k, int argc, const char **argv, const size_t *lens,
                      char *err, size_t errlen)
{
    redisReply *r = redisCommandArgv(k->c, argc, argv, lens);

    k->closed = false;
    if (!r) {
        k->closed = k->c->err == REDIS_ERR_EOF ||
                    (k->c->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE));
        util_seterr(err, errlen, "redis: %s", k->c->errstr[0] ? k->c->errstr : "no reply");
        rconn_lost(k);
    }
    return r;
}

/* Run AUTH or SELECT on a fresh context; false with err set on failure. */
static bool rconn_setup_cmd(struct rconn *k, const char *cmd, const char *arg,
                            char *err, size_t errlen)
{
    const char *argv[2] = { cmd, arg };
    size_t lens[2] = { strlen(cmd), strlen(arg) };
    redisReply *r = rconn_cmd(k, 2, argv, lens, err, errlen);
    bool ok = r && r->type == REDIS_REPLY_STATUS;

    if (r && !ok) {
        util_seterr(err, errlen, "redis: %s", r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        k->auth_failed = strcmp(cmd, "AUTH") == 0;
        rconn_drop(k);
    }
    if (r)
        freeReplyObject(r);
    return ok;
}

/* With Sentinel: ROLE must say "master"; else err set, rsent told, false. */
static bool rconn_role(struct rconn *k, const char *host, int port, char *err, size_t errlen)
{
    const char *argv[1] = { "ROLE" };
    redisReply *r = rconn_cmd(k, 1, argv, NULL, err, errlen);
    if (!r)
        return false;
    bool ok = r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
              r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "master") == 0;
    if (r->type == REDIS_REPLY_ERROR) {
        util_seterr(err, errlen, "redis: %s", r->str);
        k->auth_failed = strncmp(r->str, "NOAUTH", 6) == 0;
    } else if (!ok && err && errlen)
        snprintf(err, errlen, "redis: %s:%d is not the primary (ROLE: %s)", host, port,
                 r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                 r->element[0]->type == REDIS_REPLY_STRING ? r->element[0]->str : "?");
    freeReplyObject(r);
    if (!ok)
        rconn_lost(k);
    return ok;
}

/* Open the TCP or unix context: the URL's host, or the primary rsent names. */
static bool rconn_open(struct rconn *k, const struct cfg_redis *url, struct timeval tv,
                       struct rsent_addr *a, char *err, size_t errlen)
{
    if (k->sent) {
        if (!rsent_primary(k->sent, a)) {
            util_seterr(err, errlen, "redis: %s", "no primary known (no sentinel answered)");
            return false;
        }
        k->gen = a->gen;
        k->c = redisConnectWithTimeout(a->host, a->port, tv);
    } else {
        k->c = url->unix_socket ? redisConnectUnixWithTimeout(url->host, tv)
                                : redisConnectWithTimeout(url->host, url->port, tv);
    }
    if (!k->c) {
        util_seterr(err, errlen, "redis: %s", "out of memory");
        return false;
    }
    if (k->c->err || redisSetTimeout(k->c, tv) != REDIS_OK) {
        util_seterr(err, errlen, "redis: %s", k->c->errstr[0] ? k->c->errstr : "connect failed");
        rconn_lost(k);
        return false;
    }
    return true;
}

bool rconn_connect(struct rconn *k, const struct cfg_redis *url, struct timeval tv,
                   char *err, size_t errlen)
{
    char db[16];
    struct rsent_addr a;

    rconn_drop(k);
    memset(k->sha, 0, sizeof(k->sha));
    k->auth_failed = false;
    if (!rconn_open(k, url, tv, &a, err, errlen))
        return false;
    if (url->password[0] && !rconn_setup_cmd(k, "AUTH", url->password, err, errlen))
        return false;
    snprintf(db, sizeof(db), "%d", url->db);
    if (url->db != 0 && !rconn_setup_cmd(k, "SELECT", db, err, errlen))
        return false;
    return !k->sent || rconn_role(k, a.host, a.port, err, errlen);
}

enum store_status rconn_load(struct rconn *k, int i, char *err, size_t errlen)
{
    const char *argv[3] = { "SCRIPT", "LOAD", rscript_text(i) };
    redisReply *r = rconn_cmd(k, 3, argv, NULL, err, errlen);
    enum store_status st = STORE_OK;

    if (!r)
        return STORE_UNAVAILABLE;
    if (r->type == REDIS_REPLY_ERROR)
        st = rreply_error(r, err, errlen);
    else if (r->type != REDIS_REPLY_STRING || r->len != RCONN_SHA_LEN) {
        util_seterr(err, errlen, "redis: %s", "bad SCRIPT LOAD reply");
        st = STORE_ERROR;
    } else
        memcpy(k->sha[i], r->str, RCONN_SHA_LEN + 1);
    freeReplyObject(r);
    return st;
}

int rconn_evalsha_argv(const struct rconn *k, int i, const struct rscript_keys *keys,
                       const struct rscript_args *a, const char **argv)
{
    argv[0] = "EVALSHA";
    argv[1] = k->sha[i];
    argv[2] = "2";
    argv[3] = keys->cart;
    argv[4] = keys->idem;
    memcpy(&argv[5], a->v, (size_t)a->n * sizeof(a->v[0]));
    return 5 + a->n;
}

enum store_status rconn_eval(struct rconn *k, int i, const struct rscript_keys *keys,
                             const struct rscript_args *a, redisReply **out,
                             char *err, size_t errlen)
{
    const char *argv[RCONN_ARGV_MAX];
    enum store_status st;

    *out = NULL;
    if (a->n > RSCRIPT_MAX_ARGS)
        return STORE_ERROR;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!k->sha[i][0] && (st = rconn_load(k, i, err, errlen)) != STORE_OK)
            return st;
        int argc = rconn_evalsha_argv(k, i, keys, a, argv);
        *out = rconn_cmd(k, argc, argv, NULL, err, errlen);
        if (!*out)
            return STORE_UNAVAILABLE;
        if ((*out)->type != REDIS_REPLY_ERROR)
            return STORE_OK;
        if (rconn_moved_reply(*out))
            rconn_lost(k);
        if (attempt == 0 && strncmp((*out)->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(*out);
            *out = NULL;
            k->sha[i][0] = '\0';
            continue;
        }
        st = rreply_error(*out, err, errlen);
        freeReplyObject(*out);
        *out = NULL;
        return st;
    }
    return STORE_ERROR;
}
