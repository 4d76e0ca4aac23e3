/* rsent: where the Redis primary is, as Redis Sentinel says. See rsent.h. */
#include "rsent.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"

#define RSENT_REFRESH_MS 5000     /* ask again this often even when nothing failed */

struct rsent {
    struct rsent_cfg cfg;
    pthread_t thread;
    pthread_mutex_t mu;           /* guards addr, known, need, stop, failovers */
    struct rsent_addr addr;
    bool known, need, stop;
    uint64_t failovers;
    int next;                     /* the sentinel to try first; watcher thread only */
    redisContext *sub;            /* the +switch-master subscription; watcher thread only */
};

/* Connect to sentinel i and AUTH when there is a password; NULL on failure
 * (*auth set when the password was refused). */
static redisContext *rsent_connect(struct rsent *s, int i, bool *auth)
{
    const struct cfg_peer *p = &s->cfg.sentinels[i];
    redisContext *c = redisConnectWithTimeout(p->host, p->port, s->cfg.tv);
    if (!c || c->err || redisSetTimeout(c, s->cfg.tv) != REDIS_OK) {
        if (c)
            redisFree(c);
        return NULL;
    }
    if (!s->cfg.password[0])
        return c;
    const char *argv[2] = { "AUTH", s->cfg.password };
    redisReply *r = redisCommandArgv(c, 2, argv, NULL);
    /* a sentinel without a password set says so: go on without one */
    bool ok = r && (r->type == REDIS_REPLY_STATUS ||
                    (r->type == REDIS_REPLY_ERROR && strstr(r->str, "without any password")));
    if (r && !ok)
        *auth = true;
    if (r)
        freeReplyObject(r);
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Take host:port as the primary's address; count a change as a failover. */
static void rsent_set(struct rsent *s, const char *host, int port)
{
    pthread_mutex_lock(&s->mu);
    bool moved = !s->known || strcmp(s->addr.host, host) != 0 || s->addr.port != port;
    bool failover = moved && s->known;
    if (moved) {
        snprintf(s->addr.host, sizeof s->addr.host, "%s", host);
        s->addr.port = port;
        s->addr.gen++;
    }
    if (failover)
        s->failovers++;
    s->known = true;
    s->need = false;
    pthread_mutex_unlock(&s->mu);
    if (failover) {
        metrics_store_failover();
        log_msg(LOG_WARN, "redis_failover", "primary %s is now %s:%d", s->cfg.master, host, port);
    } else if (moved) {
        log_msg(LOG_INFO, "redis_primary", "primary %s is %s:%d", s->cfg.master, host, port);
    }
}

/* Ask sentinel i for the primary; RSENT_OK once rsent_set took the answer. */
static enum rsent_status rsent_ask(struct rsent *s, int i)
{
    bool auth = false;
    redisContext *c = rsent_connect(s, i, &auth);
    if (!c)
        return auth ? RSENT_AUTH : RSENT_UNKNOWN;
    const char *argv[3] = { "SENTINEL", "get-master-addr-by-name", s->cfg.master };
    redisReply *r = redisCommandArgv(c, 3, argv, NULL);
    enum rsent_status st = RSENT_UNKNOWN;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING) {
        int port = atoi(r->element[1]->str);
        if (port > 0 && port <= 65535 && r->element[0]->len < sizeof s->addr.host) {
            rsent_set(s, r->element[0]->str, port);
            st = RSENT_OK;
        }
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return st;
}

/* Ask each sentinel in turn, starting with the last that answered. */
static enum rsent_status rsent_resolve(struct rsent *s)
{
    enum rsent_status worst = RSENT_UNKNOWN;
    for (int k = 0; k < s->cfg.n; k++) {
        int i = (s->next + k) % s->cfg.n;
        enum rsent_status st = rsent_ask(s, i);
        if (st == RSENT_OK) {
            s->next = i;
            return st;
        }
        if (st == RSENT_AUTH)
            worst = st;
    }
    return worst;
}

/* Subscribe to +switch-master on the sentinel that answered last. */
static void rsent_subscribe(struct rsent *s)
{
    bool auth = false;
    for (int k = 0; k < s->cfg.n && !s->sub; k++) {
        int i = (s->next + k) % s->cfg.n;
        redisContext *c = rsent_connect(s, i, &auth);
        if (!c)
            continue;
        const char *argv[2] = { "SUBSCRIBE", "+switch-master" };
        redisReply *r = redisCommandArgv(c, 2, argv, NULL);
        if (r && r->type == REDIS_REPLY_ARRAY)
            s->sub = c;
        else
            redisFree(c);
        if (r)
            freeReplyObject(r);
    }
}

/* Handle one pushed message: "<name> <old-ip> <old-port> <new-ip> <new-port>". */
static void rsent_message(struct rsent *s, const redisReply *r)
{
    char name[64], oldh[128], newh[128];
    int oldp, newp;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return;
    if (sscanf(r->element[2]->str, "%63s %127s %d %127s %d", name, oldh, &oldp, newh, &newp) == 5 &&
        strcmp(name, s->cfg.master) == 0 && newp > 0 && newp <= 65535)
        rsent_set(s, newh, newp);
}

/* Wait up to ms for subscription messages and handle them; a broken
 * subscription is dropped and the primary asked for again. */
static void rsent_listen(struct rsent *s, int ms)
{
    struct pollfd pfd = { .fd = s->sub->fd, .events = POLLIN };
    if (poll(&pfd, 1, ms) <= 0)
        return;
    bool broken = redisBufferRead(s->sub) != REDIS_OK;
    void *reply = NULL;
    while (!broken && redisGetReplyFromReader(s->sub, &reply) == REDIS_OK && reply) {
        rsent_message(s, reply);
        freeReplyObject(reply);
        reply = NULL;
    }
    if (broken || s->sub->err) {
        redisFree(s->sub);
        s->sub = NULL;
        s->next = (s->next + 1) % s->cfg.n;
        pthread_mutex_lock(&s->mu);
        s->need = true;
        pthread_mutex_unlock(&s->mu);
    }
}

/* The watcher thread: resolve when asked (or every RSENT_REFRESH_MS), and
 * follow the subscription in between. */
static void *rsent_main(void *arg)
{
    struct rsent *s = arg;
    int idle_ms = 0;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool stop = s->stop, need = s->need || !s->known;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        if (need || idle_ms >= RSENT_REFRESH_MS) {
            rsent_resolve(s);
            idle_ms = 0;
        }
        if (!s->sub)
            rsent_subscribe(s);
        if (s->sub) {
            rsent_listen(s, RSENT_RETRY_MS);
        } else {
            struct timespec ts = { 0, RSENT_RETRY_MS * 1000000L };
            nanosleep(&ts, NULL);
        }
        idle_ms += RSENT_RETRY_MS;
    }
    return NULL;
}

struct rsent *rsent_start(const struct rsent_cfg *cfg, char *err, size_t errlen)
{
    struct rsent *s = calloc(1, sizeof *s);
    if (!s || cfg->n < 1) {
        free(s);
        snprintf(err, errlen, "redis sentinel: %s", cfg->n < 1 ? "no sentinels" : "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    pthread_mutex_init(&s->mu, NULL);
    if (rsent_resolve(s) == RSENT_AUTH) {
        snprintf(err, errlen, "redis sentinel: authentication failed: a sentinel refused the "
                 "password (check REDIS_PASSWORD_FILE)");
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    if (pthread_create(&s->thread, NULL, rsent_main, s) != 0) {
        snprintf(err, errlen, "redis sentinel: %s", "cannot start the watcher thread");
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    return s;
}

bool rsent_primary(struct rsent *s, struct rsent_addr *out)
{
    pthread_mutex_lock(&s->mu);
    bool known = s->known;
    *out = s->addr;
    pthread_mutex_unlock(&s->mu);
    return known;
}

void rsent_invalidate(struct rsent *s, uint64_t gen)
{
    pthread_mutex_lock(&s->mu);
    if (gen == s->addr.gen)
        s->need = true;
    pthread_mutex_unlock(&s->mu);
}

uint64_t rsent_failovers(struct rsent *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->failovers;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void rsent_stop(struct rsent *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    if (s->sub)
        redisFree(s->sub);
    pthread_mutex_destroy(&s->mu);
    memset(s->cfg.password, 0, sizeof s->cfg.password);
    free(s);
}
