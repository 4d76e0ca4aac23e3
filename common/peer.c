/* peer: liveness and tags of the stateful replicas. See peer.h. */
#include "peer.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "id.h"
#include "log.h"

#define PEER_TIMEOUT_MS 500
#define PEER_BODY_MAX 4096

struct peer {
    char url[200];
    char tag[ID_TAG_MAX + 1];     /* "" until the first answer */
    int fails;                    /* consecutive failed probes */
    CURL *curl;                   /* owned by the prober thread */
};

struct peer_set {
    pthread_mutex_t mu;           /* guards tag, fails, rounds */
    pthread_cond_t cv;
    bool stop;
    unsigned rounds;              /* complete probe rounds so far */
    int period_ms;
    size_t n;
    struct peer *peers;
    pthread_t thread;
};

struct peer_body {
    char buf[PEER_BODY_MAX];
    size_t len;
};

/* libcurl write callback: keep up to PEER_BODY_MAX - 1 bytes. */
static size_t peer_on_data(char *data, size_t size, size_t nmemb, void *ud)
{
    struct peer_body *b = ud;
    size_t n = size * nmemb;
    if (b->len + n >= sizeof b->buf)
        return 0; /* too long for an /info answer: fail the transfer */
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return n;
}

/* Ask one peer's /info; on success copy its tag to tag. */
static bool peer_probe(struct peer *p, char *tag, size_t taglen)
{
    struct peer_body body = {.len = 0};
    long status = 0;
    curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, &body);
    if (curl_easy_perform(p->curl) != CURLE_OK)
        return false;
    curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        return false;
    json_t *o = json_loads(body.buf, 0, NULL);
    const char *t = json_string_value(json_object_get(o, "tag"));
    bool ok = t && strlen(t) < taglen;
    if (ok)
        snprintf(tag, taglen, "%s", t);
    json_decref(o);
    return ok;
}

/* One round: probe every peer, then publish the results under the lock. */
static void peer_round(struct peer_set *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        char tag[ID_TAG_MAX + 1] = "";
        bool ok = peer_probe(&ps->peers[i], tag, sizeof tag);
        pthread_mutex_lock(&ps->mu);
        struct peer *p = &ps->peers[i];
        if (ok) {
            if (p->fails >= PEER_FAILS_DEAD || strcmp(p->tag, tag))
                log_msg(LOG_INFO, "peer_up", "%s answers, tag %s", p->url, tag);
            snprintf(p->tag, sizeof p->tag, "%s", tag);
            p->fails = 0;
        } else if (++p->fails == PEER_FAILS_DEAD) {
            log_msg(LOG_WARN, "peer_down", "%s does not answer (tag %s)", p->url,
                    p->tag[0] ? p->tag : "unknown");
        }
        pthread_mutex_unlock(&ps->mu);
    }
    pthread_mutex_lock(&ps->mu);
    ps->rounds++;
    pthread_mutex_unlock(&ps->mu);
}

/* The prober thread: a round, then wait a period (or until stopped). */
static void *peer_main(void *arg)
{
    struct peer_set *ps = arg;
    pthread_mutex_lock(&ps->mu);
    while (!ps->stop) {
        pthread_mutex_unlock(&ps->mu);
        peer_round(ps);
        pthread_mutex_lock(&ps->mu);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += ps->period_ms / 1000;
        until.tv_nsec += (long)(ps->period_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!ps->stop && pthread_cond_timedwait(&ps->cv, &ps->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&ps->mu);
    return NULL;
}

/* Prepare one peer's reusable libcurl handle. */
static bool peer_init_one(struct peer *p, const struct cfg_peer *c)
{
    snprintf(p->url, sizeof p->url, "http://%s:%d/info", c->host, c->port);
    p->fails = 0;
    if (!(p->curl = curl_easy_init()))
        return false;
    curl_easy_setopt(p->curl, CURLOPT_URL, p->url);
    curl_easy_setopt(p->curl, CURLOPT_PROXY, "");
    curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, (long)PEER_TIMEOUT_MS);
    curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)PEER_TIMEOUT_MS);
    curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, peer_on_data);
    return true;
}

struct peer_set *peer_start(const struct cfg_peer *peers, size_t n, int period_ms,
                            char *err, size_t errlen)
{
    struct peer_set *ps = calloc(1, sizeof *ps);
    if (!ps || !(ps->peers = calloc(n ? n : 1, sizeof *ps->peers))) {
        free(ps);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ps->n = n;
    ps->period_ms = period_ms > 0 ? period_ms : 1000;
    pthread_mutex_init(&ps->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ps->cv, &ca);
    pthread_condattr_destroy(&ca);
    for (size_t i = 0; i < n; i++)
        if (!peer_init_one(&ps->peers[i], &peers[i])) {
            snprintf(err, errlen, "cannot set up a client for %s", ps->peers[i].url);
            peer_stop(ps);
            return NULL;
        }
    if (pthread_create(&ps->thread, NULL, peer_main, ps) != 0) {
        snprintf(err, errlen, "cannot start the peer prober thread");
        ps->thread = 0;
        peer_stop(ps);
        return NULL;
    }
    return ps;
}

enum peer_owner peer_owner(struct peer_set *ps, const char *tag)
{
    if (!ps)
        return PEER_UNKNOWN;
    enum peer_owner r = PEER_UNKNOWN;
    pthread_mutex_lock(&ps->mu);
    if (ps->rounds > 0)
        r = PEER_GONE;
    for (size_t i = 0; i < ps->n; i++) {
        const struct peer *p = &ps->peers[i];
        if (!strcmp(p->tag, tag) && p->fails < PEER_FAILS_DEAD) {
            r = PEER_ALIVE;
            break;
        }
        if (!p->tag[0] && p->fails < PEER_FAILS_DEAD)
            r = PEER_UNKNOWN; /* a peer not heard from yet may hold it */
    }
    pthread_mutex_unlock(&ps->mu);
    return r;
}

void peer_stop(struct peer_set *ps)
{
    if (!ps)
        return;
    if (ps->thread) {
        pthread_mutex_lock(&ps->mu);
        ps->stop = true;
        pthread_cond_signal(&ps->cv);
        pthread_mutex_unlock(&ps->mu);
        pthread_join(ps->thread, NULL);
    }
    for (size_t i = 0; i < ps->n; i++)
        if (ps->peers[i].curl)
            curl_easy_cleanup(ps->peers[i].curl);
    pthread_cond_destroy(&ps->cv);
    pthread_mutex_destroy(&ps->mu);
    free(ps->peers);
    free(ps);
}
