/* store_mem: the in-memory cart store of stateful-svc (see store_mem.h).
 *
 * 64 shards, each a uthash table under its own mutex; the shard is chosen
 * by an FNV-1a hash of the cart id. The cart count is one atomic across all
 * shards: create reserves a slot with an increment and rolls it back when
 * the store is full. Entries remember their last access (CLOCK_MONOTONIC,
 * ms); an entry idle past the TTL is dropped when found and by the sweeper.
 * Each entry holds its cart's idempotency record (idem.h), changed under the
 * same shard lock as the cart: a keyed change is applied to a copy, its answer
 * remembered, and only then the copy becomes the cart. */
#include "store_mem.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idem.h"
#include "wire.h"

/* A failed uthash insert marks the entry instead of exiting the process. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) ((obj)->add_failed = true)
#include <uthash.h>

#define MEM_SHARDS 64u            /* a power of two */
#define MEM_CACHELINE 64

struct mem_entry {
    struct cart cart;             /* cart.id is the hash key */
    struct idem_rec idem;         /* the cart's remembered keys */
    int64_t last_ms;              /* last access, CLOCK_MONOTONIC */
    bool add_failed;              /* set by uthash when an insert ran out of memory */
    UT_hash_handle hh;
};

struct mem_shard {
    _Alignas(MEM_CACHELINE) pthread_mutex_t lock;
    struct mem_entry *head;
};

struct mem_store {
    struct mem_shard shards[MEM_SHARDS];
    atomic_long count;            /* carts held, all shards */
    int ttl;                      /* seconds */
    int64_t ttl_ms;
    long max_carts;
    size_t max_items;
    int sweep_ms;
    bool has_sweeper;
    bool stop;                    /* guarded by stop_lock */
    pthread_t sweeper;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;     /* signalled on destroy; CLOCK_MONOTONIC */
};

static const struct store_ops mem_ops;

/* Milliseconds on the monotonic clock. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write a message into the caller's err buffer, if there is one. */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* True when id is a string of 1..CART_ID_MAX characters. */
static bool id_ok(const char *id)
{
    size_t len = id ? strnlen(id, CART_ID_MAX + 1) : 0;
    return len > 0 && len <= CART_ID_MAX;
}

/* The shard that holds id (FNV-1a, 32 bit). */
static struct mem_shard *shard_of(struct mem_store *m, const char *id)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return &m->shards[h & (MEM_SHARDS - 1)];
}

/* Unlink and free an entry; the shard lock must be held. */
static void entry_drop(struct mem_store *m, struct mem_shard *sh, struct mem_entry *e)
{
    HASH_DEL(sh->head, e);
    cart_free(&e->cart);
    idem_free(&e->idem);
    free(e);
    atomic_fetch_sub(&m->count, 1);
}

/* Find a live entry; an expired one is dropped and NULL returned. Lock held. */
static struct mem_entry *entry_find(struct mem_store *m, struct mem_shard *sh,
                                    const char *id, int64_t now)
{
    struct mem_entry *e = NULL;
    HASH_FIND_STR(sh->head, id, e);
    if (e && now - e->last_ms > m->ttl_ms) {
        entry_drop(m, sh, e);
        return NULL;
    }
    return e;
}

/* Copy a stored cart into the caller's out cart with a full TTL. */
static enum store_status copy_out(struct mem_store *m, const struct cart *src,
                                  struct cart *out, char *err, size_t errlen)
{
    if (!out)
        return STORE_OK;
    if (cart_copy(out, src) != CART_OK) {
        set_err(err, errlen, "out of memory copying cart");
        return STORE_ERROR;
    }
    out->expires_in = m->ttl;
    return STORE_OK;
}

/* Make and insert a new empty cart (remembering ik with it); lock held, a
 * slot already reserved (and given back on failure). */
static enum store_status entry_insert(struct mem_store *m, struct mem_shard *sh,
                                      const char *id, int64_t now,
                                      const struct store_idem *ik, struct cart *out,
                                      char *err, size_t errlen)
{
    struct mem_entry *e = calloc(1, sizeof(*e));
    if (e) {
        cart_init(&e->cart, id);
        e->cart.expires_in = m->ttl;
        e->last_ms = now;
        if ((!store_idem_keyed(ik) ||
             store_idem_remember(&e->idem, ik, STORE_ANSWER_CREATED, &e->cart, err, errlen)
                 == STORE_OK) &&
            copy_out(m, &e->cart, out, err, errlen) == STORE_OK) {
            HASH_ADD_KEYPTR(hh, sh->head, e->cart.id, strlen(e->cart.id), e);
            if (!e->add_failed)
                return STORE_OK;
        }
        cart_free(&e->cart);
        idem_free(&e->idem);
        free(e);
    }
    atomic_fetch_sub(&m->count, 1);
    set_err(err, errlen, "out of memory creating cart %s", id);
    return STORE_ERROR;
}

/* ops.create: an empty cart; STORE_EXISTS if the id is live (unless ik is
 * remembered by it: a replay or STORE_KEY_REUSED), STORE_CAPACITY if full. */
static enum store_status mem_create(void *self, const char *id, struct store_idem *ik,
                                    struct cart *out, char *err, size_t errlen)
{
    struct mem_store *m = self;
    if (!id_ok(id)) {
        set_err(err, errlen, "cart id must be 1..%d characters", CART_ID_MAX);
        return STORE_ERROR;
    }
    struct mem_shard *sh = shard_of(m, id);
    enum store_status st;
    pthread_mutex_lock(&sh->lock);
    int64_t now = now_ms();
    struct mem_entry *e = entry_find(m, sh, id, now);
    if (e) {
        st = store_idem_check(&e->idem, ik, err, errlen);
        if (st == STORE_OK)
            e->last_ms = now;       /* a replay renews, as any access */
        if (st == STORE_NOT_FOUND) {
            set_err(err, errlen, "cart %s exists", id);
            st = STORE_EXISTS;
        }
    } else if (atomic_fetch_add(&m->count, 1) >= m->max_carts) {
        atomic_fetch_sub(&m->count, 1);     /* give the reservation back */
        set_err(err, errlen, "store full: %ld carts", m->max_carts);
        st = STORE_CAPACITY;
    } else {
        st = entry_insert(m, sh, id, now, ik, out, err, errlen);
    }
    pthread_mutex_unlock(&sh->lock);
    return st;
}

/* Lock id's shard and find its live entry, renewing it; NULL and err set
 * (STORE_NOT_FOUND) if none. *shp is NULL when there is nothing to unlock. */
static struct mem_entry *lock_live(struct mem_store *m, const char *id,
                                   struct mem_shard **shp, char *err, size_t errlen)
{
    *shp = NULL;
    struct mem_entry *e = NULL;
    if (id_ok(id)) {
        *shp = shard_of(m, id);
        pthread_mutex_lock(&(*shp)->lock);
        int64_t now = now_ms();
        e = entry_find(m, *shp, id, now);
        if (e)
            e->last_ms = now;
    }
    if (!e)
        set_err(err, errlen, "no such cart: %.*s", CART_ID_MAX, id ? id : "");
    return e;
}

/* Release a shard lock taken by lock_live. */
static void unlock(struct mem_shard *sh)
{
    if (sh)
        pthread_mutex_unlock(&sh->lock);
}

/* ops.get: copy a live cart out and renew its TTL. */
static enum store_status mem_get(void *self, const char *id, struct cart *out,
                                 char *err, size_t errlen)
{
    struct mem_shard *sh;
    struct mem_entry *e = lock_live(self, id, &sh, err, errlen);
    enum store_status st = e ? copy_out(self, &e->cart, out, err, errlen) : STORE_NOT_FOUND;
    unlock(sh);
    return st;
}

/* Apply chg to e's cart; with a key, to a copy that replaces the cart only
 * once the key and its answer are remembered. Lock held. */
static enum store_status entry_change(struct mem_store *m, struct mem_entry *e,
                                      const struct cart_change *chg,
                                      const struct store_idem *ik, struct cart *out,
                                      enum cart_status *cs, char *err, size_t errlen)
{
    bool keyed = store_idem_keyed(ik);
    struct cart next = {0};
    struct cart *c = keyed ? &next : &e->cart;
    if (keyed && cart_copy(&next, &e->cart) != CART_OK) {
        set_err(err, errlen, "out of memory copying cart");
        return STORE_ERROR;
    }
    *cs = cart_apply(c, chg, m->max_items);
    enum store_status st = STORE_REJECTED;
    if (*cs != CART_OK) {
        set_err(err, errlen, "change refused: %s", cart_status_name(*cs));
    } else {
        c->expires_in = m->ttl;
        st = copy_out(m, c, out, err, errlen);
        if (st == STORE_OK && keyed)
            st = store_idem_remember(&e->idem, ik, STORE_ANSWER_CHANGED, c, err, errlen);
    }
    if (keyed && st == STORE_OK) {
        cart_free(&e->cart);
        e->cart = next;
    } else if (keyed) {
        cart_free(&next);
    }
    return st;
}

/* ops.change: a replay of a remembered key, or cart_apply under the shard
 * lock; refusals become STORE_REJECTED. */
static enum store_status mem_change(void *self, const char *id,
                                    const struct cart_change *chg, struct store_idem *ik,
                                    struct cart *out, enum cart_status *cst,
                                    char *err, size_t errlen)
{
    struct mem_store *m = self;
    enum cart_status cs = CART_OK;
    enum store_status st = STORE_NOT_FOUND;
    struct mem_shard *sh;
    if (!chg) {
        set_err(err, errlen, "no change given");
        return STORE_ERROR;
    }
    struct mem_entry *e = lock_live(m, id, &sh, err, errlen);
    if (e) {
        st = store_idem_check(&e->idem, ik, err, errlen);
        if (st == STORE_NOT_FOUND)
            st = entry_change(m, e, chg, ik, out, &cs, err, errlen);
    }
    unlock(sh);
    if (cst)
        *cst = cs;
    return st;
}

/* ops.del: remove a cart (and its key record), unless if_match names another
 * version or ik's key was used for another request. */
static enum store_status mem_del(void *self, const char *id, int64_t if_match,
                                 struct store_idem *ik, enum cart_status *cst,
                                 char *err, size_t errlen)
{
    struct mem_store *m = self;
    enum cart_status cs = CART_OK;
    enum store_status st = STORE_NOT_FOUND;
    struct mem_shard *sh;
    struct mem_entry *e = lock_live(m, id, &sh, err, errlen);
    if (e) /* a delete is never remembered: a hit is a reused key */
        st = store_idem_check(&e->idem, ik, err, errlen);
    if (e && st == STORE_NOT_FOUND && if_match >= 0 && if_match != e->cart.version) {
        set_err(err, errlen, "version is %lld, not %lld",
                (long long)e->cart.version, (long long)if_match);
        cs = CART_CONFLICT;
        st = STORE_REJECTED;
    } else if (e && st == STORE_NOT_FOUND) {
        entry_drop(m, sh, e);
        st = STORE_OK;
    }
    unlock(sh);
    if (cst)
        *cst = cs;
    return st;
}

/* ops.ping: memory is always reachable. */
static enum store_status mem_ping(void *self, char *err, size_t errlen)
{
    return STORE_OK;
}

/* ops.stats: the cart count; the memory store has no backend errors. */
static enum store_status mem_stats(void *self, struct store_stats *out,
                                   char *err, size_t errlen)
{
    struct mem_store *m = self;
    long n = atomic_load(&m->count);
    out->carts = n > 0 ? (uint64_t)n : 0;
    out->errors = 0;
    return STORE_OK;
}

/* Drop the expired entries of one shard; returns how many. */
static size_t sweep_shard(struct mem_store *m, struct mem_shard *sh)
{
    size_t dropped = 0;
    struct mem_entry *e, *tmp;
    pthread_mutex_lock(&sh->lock);
    int64_t now = now_ms();
    HASH_ITER(hh, sh->head, e, tmp) {
        if (now - e->last_ms > m->ttl_ms) {
            entry_drop(m, sh, e);
            dropped++;
        }
    }
    pthread_mutex_unlock(&sh->lock);
    return dropped;
}

/* Sweep every shard, one lock at a time. */
static size_t sweep_all(struct mem_store *m)
{
    size_t dropped = 0;
    for (unsigned i = 0; i < MEM_SHARDS; i++)
        dropped += sweep_shard(m, &m->shards[i]);
    return dropped;
}

/* Drop every cart idle past its TTL now; returns how many were dropped. */
size_t store_mem_sweep(struct store *s)
{
    if (!s || s->ops != &mem_ops || !s->self)
        return 0;
    return sweep_all(s->self);
}

/* The sweeper thread: sweep every sweep_ms until destroy sets stop. */
static void *sweeper_main(void *arg)
{
    struct mem_store *m = arg;
    pthread_mutex_lock(&m->stop_lock);
    while (!m->stop) {
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        int64_t ns = dl.tv_nsec + (int64_t)m->sweep_ms * 1000000;
        dl.tv_sec += (time_t)(ns / 1000000000);
        dl.tv_nsec = (long)(ns % 1000000000);
        int rc = 0;
        while (!m->stop && rc == 0)
            rc = pthread_cond_timedwait(&m->stop_cond, &m->stop_lock, &dl);
        if (m->stop)
            break;
        pthread_mutex_unlock(&m->stop_lock);
        sweep_all(m);
        pthread_mutex_lock(&m->stop_lock);
    }
    pthread_mutex_unlock(&m->stop_lock);
    return NULL;
}

/* Free the tables, locks and the store itself (the sweeper is stopped). */
static void mem_free(struct mem_store *m)
{
    for (unsigned i = 0; i < MEM_SHARDS; i++) {
        struct mem_shard *sh = &m->shards[i];
        struct mem_entry *e, *tmp;
        HASH_ITER(hh, sh->head, e, tmp)
            entry_drop(m, sh, e);
        pthread_mutex_destroy(&sh->lock);
    }
    pthread_cond_destroy(&m->stop_cond);
    pthread_mutex_destroy(&m->stop_lock);
    free(m);
}

/* ops.destroy: stop the sweeper, then free every cart. */
static void mem_destroy(void *self)
{
    struct mem_store *m = self;
    if (m->has_sweeper) {
        pthread_mutex_lock(&m->stop_lock);
        m->stop = true;
        pthread_cond_signal(&m->stop_cond);
        pthread_mutex_unlock(&m->stop_lock);
        pthread_join(m->sweeper, NULL);
    }
    mem_free(m);
}

static const struct store_ops mem_ops = {
    .name = "memory",
    .create = mem_create,
    .get = mem_get,
    .change = mem_change,
    .del = mem_del,
    .ping = mem_ping,
    .stats = mem_stats,
    .destroy = mem_destroy,
};

/* Set up the locks and the stop condition (on CLOCK_MONOTONIC). */
static int mem_init_locks(struct mem_store *m)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&m->stop_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return -1;
    for (unsigned i = 0; i < MEM_SHARDS; i++)
        pthread_mutex_init(&m->shards[i].lock, NULL);
    pthread_mutex_init(&m->stop_lock, NULL);
    return 0;
}

/* Open a memory store; 0 on success, -1 with err set. */
int store_mem_open(const struct store_mem_cfg *cfg, struct store *out, char *err, size_t errlen)
{
    if (!cfg || !out || cfg->ttl <= 0 || cfg->max_carts <= 0 || cfg->max_items == 0 ||
        cfg->sweep_ms < 0) {
        set_err(err, errlen, "memory store: ttl, max_carts and max_items must be > 0");
        return -1;
    }
    void *mem = NULL;
    if (posix_memalign(&mem, MEM_CACHELINE, sizeof(struct mem_store)) != 0) {
        set_err(err, errlen, "memory store: out of memory");
        return -1;
    }
    struct mem_store *m = memset(mem, 0, sizeof(*m));
    atomic_init(&m->count, 0);
    m->ttl = cfg->ttl;
    m->ttl_ms = (int64_t)cfg->ttl * 1000;
    m->max_carts = cfg->max_carts;
    m->max_items = cfg->max_items;
    m->sweep_ms = cfg->sweep_ms;
    if (mem_init_locks(m) != 0) {
        set_err(err, errlen, "memory store: cannot set up locks");
        free(m);
        return -1;
    }
    if (m->sweep_ms > 0) {
        int rc = pthread_create(&m->sweeper, NULL, sweeper_main, m);
        if (rc != 0) {
            set_err(err, errlen, "memory store: sweeper thread: %s", strerror(rc));
            mem_free(m);
            return -1;
        }
        m->has_sweeper = true;
    }
    out->ops = &mem_ops;
    out->self = m;
    return 0;
}
