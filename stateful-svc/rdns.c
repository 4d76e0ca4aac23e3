/* rdns: name resolution off the replication loop. See rdns.h. */
#include "rdns.h"

#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One name and its last answer. */
struct rdns_slot {
    char host[256];
    char port[16];
    int state;                    /* enum rdns_state */
    struct sockaddr_storage sa;
    socklen_t len;
};

struct rdns {
    pthread_mutex_t mu;           /* guards everything below */
    pthread_cond_t cv;
    pthread_t thread;
    bool stopped, detached;
    void (*wake)(void *);
    void *ud;
    size_t n;
    struct rdns_slot slot[];
};

/* Free d (its thread is gone or is the caller). */
static void rdns_free(struct rdns *d)
{
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

/* Resolve slot s (mutex not held); its state into the slot. */
static void rdns_lookup(struct rdns *d, struct rdns_slot *s, const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    bool ok = getaddrinfo(host, port, &hints, &ai) == 0 && ai && ai->ai_addrlen <= sizeof s->sa;
    pthread_mutex_lock(&d->mu);
    s->state = ok ? RDNS_OK : RDNS_FAIL;
    if (ok) {
        memcpy(&s->sa, ai->ai_addr, ai->ai_addrlen);
        s->len = ai->ai_addrlen;
    }
    if (!d->stopped)
        d->wake(d->ud);
    pthread_mutex_unlock(&d->mu);
    if (ai)
        freeaddrinfo(ai);
}

/* The resolver thread: the names asked for, one at a time. */
static void *rdns_main(void *arg)
{
    struct rdns *d = arg;
    char host[256], port[16];
    pthread_mutex_lock(&d->mu);
    while (!d->stopped) {
        struct rdns_slot *s = NULL;
        for (size_t i = 0; i < d->n && !s; i++)
            if (d->slot[i].state == RDNS_WANT)
                s = &d->slot[i];
        if (!s) {
            pthread_cond_wait(&d->cv, &d->mu);
            continue;
        }
        s->state = RDNS_BUSY;
        memcpy(host, s->host, sizeof host);
        memcpy(port, s->port, sizeof port);
        pthread_mutex_unlock(&d->mu);
        rdns_lookup(d, s, host, port);
        pthread_mutex_lock(&d->mu);
    }
    bool self_free = d->detached;
    pthread_mutex_unlock(&d->mu);
    if (self_free)
        rdns_free(d);
    return NULL;
}

/* Start the resolver thread; NULL with err set. */
struct rdns *rdns_start(const struct rdns_name *names, size_t n, void (*wake)(void *),
                        void *ud, char *err, size_t errlen)
{
    struct rdns *d = calloc(1, sizeof *d + n * sizeof d->slot[0]);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->wake = wake;
    d->ud = ud;
    d->n = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(d->slot[i].host, sizeof d->slot[i].host, "%s", names[i].host);
        snprintf(d->slot[i].port, sizeof d->slot[i].port, "%d", names[i].port);
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    if (pthread_create(&d->thread, NULL, rdns_main, d) != 0) {
        snprintf(err, errlen, "cannot start the resolver thread");
        rdns_free(d);
        return NULL;
    }
    return d;
}

/* Resolve name slot (again) if it is idle. */
void rdns_ask(struct rdns *d, size_t slot)
{
    if (slot >= d->n)
        return;
    pthread_mutex_lock(&d->mu);
    struct rdns_slot *s = &d->slot[slot];
    if (s->state == RDNS_IDLE) {
        s->state = RDNS_WANT;
        pthread_cond_signal(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
}

/* The state of slot; an answer (OK, FAIL) is taken. */
enum rdns_state rdns_take(struct rdns *d, size_t slot, struct sockaddr_storage *sa,
                          socklen_t *len)
{
    if (slot >= d->n)
        return RDNS_FAIL;
    pthread_mutex_lock(&d->mu);
    struct rdns_slot *s = &d->slot[slot];
    enum rdns_state st = (enum rdns_state)s->state;
    if (st == RDNS_OK) {
        *sa = s->sa;
        *len = s->len;
    }
    if (st == RDNS_OK || st == RDNS_FAIL)
        s->state = RDNS_IDLE;
    pthread_mutex_unlock(&d->mu);
    return st;
}

/* Stop; a thread inside a lookup frees d itself when it comes back. */
void rdns_stop(struct rdns *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    bool busy = false;
    for (size_t i = 0; i < d->n; i++)
        busy = busy || d->slot[i].state == RDNS_BUSY;
    d->stopped = true;
    d->detached = busy;
    pthread_t t = d->thread;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (busy) {
        pthread_detach(t);
        return;
    }
    pthread_join(t, NULL);
    rdns_free(d);
}
