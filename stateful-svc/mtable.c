/* mtable: the sharded cart table. See mtable.h. */
#include "mtable.h"

#include <stdlib.h>
#include <string.h>
#include "util.h"

#define MT_MALLOC_OVERHEAD 16     /* glibc: a chunk header and rounding, per allocation */
#define MT_BUCKET_SHARE 16        /* uthash buckets per entry, on average */

/* Milliseconds on the monotonic clock. */
int64_t mt_now_ms(void)
{
    return util_mono_ms();
}

/* Heap bytes an entry of this id and blob length takes (an estimate). */
size_t mt_cost(size_t idlen, size_t bloblen)
{
    return sizeof(struct mt_entry) + idlen + 1 + bloblen + 2 * MT_MALLOC_OVERHEAD +
           MT_BUCKET_SHARE;
}

/* Set up an empty table. */
void mt_init(struct mtable *t, int ttl_seconds)
{
    memset(t, 0, sizeof *t);
    for (unsigned i = 0; i < MT_SHARDS; i++)
        pthread_mutex_init(&t->shards[i].lock, NULL);
    t->ttl_ms = (int64_t)ttl_seconds * 1000;
}

/* The shard that holds id (FNV-1a, 32 bit). */
struct mt_shard *mt_shard(struct mtable *t, const char *id)
{
    return &t->shards[util_fnv1a32(id) & (MT_SHARDS - 1)];
}

/* Add d to the counter of role r. */
static void mt_count(struct mtable *t, int role, long d)
{
    atomic_fetch_add(role == MT_BACKUP ? &t->backups : &t->owned, d);
}

/* Unlink and free an entry; shard locked. */
void mt_drop(struct mtable *t, struct mt_shard *sh, struct mt_entry *e)
{
    HASH_DEL(sh->head, e);
    atomic_fetch_sub(&t->count, 1);
    mt_count(t, e->role, -1);
    if (e->role != MT_BACKUP && e->backup == MT_NO_PEER)
        atomic_fetch_sub(&t->unreplicated, 1);
    atomic_fetch_sub(&t->bytes, (long long)(mt_cost(strlen(e->id), e->len) + e->rec.cap));
    free(e->blob);
    idem_free(&e->rec);
    free(e);
}

/* Find a live entry (an expired one is dropped); shard locked. */
struct mt_entry *mt_find(struct mtable *t, struct mt_shard *sh, const char *id, int64_t now)
{
    struct mt_entry *e = NULL;
    HASH_FIND(hh, sh->head, id, strlen(id), e);
    if (e && now - e->last_ms > t->ttl_ms && e->role != MT_HANDING) {
        mt_drop(t, sh, e);
        return NULL;
    }
    return e;
}

/* Reserve room for one entry when fewer than max are held. */
bool mt_reserve(struct mtable *t, long max)
{
    if (atomic_fetch_add(&t->count, 1) < max)
        return true;
    atomic_fetch_sub(&t->count, 1);
    return false;
}

/* Insert an entry owning blob, on a reservation; NULL when out of memory. */
struct mt_entry *mt_insert(struct mtable *t, struct mt_shard *sh, const char *id,
                           enum mt_role role, unsigned char *blob, size_t len, int64_t now)
{
    size_t idlen = strlen(id);
    struct mt_entry *e = calloc(1, sizeof *e + idlen + 1);
    if (!e) {
        atomic_fetch_sub(&t->count, 1);
        free(blob);
        return NULL;
    }
    memcpy(e->id, id, idlen + 1);
    e->blob = blob;
    e->len = (uint32_t)len;
    e->role = (uint8_t)role;
    e->backup = MT_NO_PEER;
    e->last_ms = now;
    HASH_ADD(hh, sh->head, id[0], idlen, e);
    if (e->add_failed) {
        atomic_fetch_sub(&t->count, 1);
        free(blob);
        free(e);
        return NULL;
    }
    mt_count(t, role, 1);
    if (role != MT_BACKUP)
        atomic_fetch_add(&t->unreplicated, 1);
    atomic_fetch_add(&t->bytes, (long long)mt_cost(idlen, len));
    return e;
}

/* Replace an entry's blob (the old one is freed). */
void mt_set_blob(struct mtable *t, struct mt_entry *e, unsigned char *blob, size_t len)
{
    atomic_fetch_add(&t->bytes, (long long)len - (long long)e->len);
    free(e->blob);
    e->blob = blob;
    e->len = (uint32_t)len;
}

/* Give an entry the record r (taken; the old one is freed). */
void mt_set_rec(struct mtable *t, struct mt_entry *e, struct idem_rec *r)
{
    atomic_fetch_add(&t->bytes, (long long)r->cap - (long long)e->rec.cap);
    idem_free(&e->rec);
    e->rec = *r;
    idem_init(r);
}

/* Apply a peer's record blob to an entry's record, keeping the byte count right. */
enum idem_status mt_rec_merge(struct mtable *t, struct mt_entry *e, const unsigned char *p,
                              size_t len)
{
    size_t before = e->rec.cap;
    enum idem_status st = idem_merge(&e->rec, p, len);
    atomic_fetch_add(&t->bytes, (long long)e->rec.cap - (long long)before);
    return st;
}

/* Append to an entry's record, keeping the byte count right. */
enum idem_status mt_rec_append(struct mtable *t, struct mt_entry *e, const char *key, uint64_t fp,
                               unsigned status, int64_t version, const void *body, size_t len)
{
    size_t before = e->rec.cap;
    enum idem_status st = idem_append(&e->rec, key, fp, status, version, body, len);
    atomic_fetch_add(&t->bytes, (long long)e->rec.cap - (long long)before);
    return st;
}

/* Change an entry's role, keeping the counters right. */
void mt_set_role(struct mtable *t, struct mt_entry *e, enum mt_role role)
{
    bool was_owned = e->role != MT_BACKUP, owned = role != MT_BACKUP;
    if (was_owned && e->backup == MT_NO_PEER)
        atomic_fetch_sub(&t->unreplicated, 1);
    mt_count(t, e->role, -1);
    mt_count(t, role, 1);
    e->role = (uint8_t)role;
    if (!owned || was_owned != owned)
        e->backup = MT_NO_PEER;
    if (owned && e->backup == MT_NO_PEER)
        atomic_fetch_add(&t->unreplicated, 1);
}

/* Set an owned entry's backup slot, keeping the under-replicated count right. */
void mt_set_backup(struct mtable *t, struct mt_entry *e, int slot)
{
    if (e->role == MT_BACKUP)
        return;
    if (e->backup == MT_NO_PEER && slot != MT_NO_PEER)
        atomic_fetch_sub(&t->unreplicated, 1);
    else if (e->backup != MT_NO_PEER && slot == MT_NO_PEER)
        atomic_fetch_add(&t->unreplicated, 1);
    e->backup = (int16_t)slot;
}

/* Drop every entry idle past the TTL; returns how many. */
size_t mt_sweep(struct mtable *t)
{
    return mt_sweep_visit(t, NULL, NULL);
}

/* mt_sweep, showing every entry to visit first (expired: it is dropped next). */
size_t mt_sweep_visit(struct mtable *t, mt_visit_fn visit, void *ud)
{
    size_t dropped = 0;
    for (unsigned i = 0; i < MT_SHARDS; i++) {
        struct mt_shard *sh = &t->shards[i];
        struct mt_entry *e, *tmp;
        pthread_mutex_lock(&sh->lock);
        int64_t now = mt_now_ms();
        HASH_ITER(hh, sh->head, e, tmp) {
            bool expired = now - e->last_ms > t->ttl_ms && e->role != MT_HANDING;
            if (visit)
                visit(ud, e, expired, now);
            if (expired) {
                mt_drop(t, sh, e);
                dropped++;
            }
        }
        pthread_mutex_unlock(&sh->lock);
    }
    return dropped;
}

/* Drop every entry and the locks. */
void mt_destroy(struct mtable *t)
{
    for (unsigned i = 0; i < MT_SHARDS; i++) {
        struct mt_shard *sh = &t->shards[i];
        struct mt_entry *e, *tmp;
        HASH_ITER(hh, sh->head, e, tmp)
            mt_drop(t, sh, e);
        pthread_mutex_destroy(&sh->lock);
    }
}
