/* mtable: the sharded cart table of the memory store.
 *
 * 64 shards, each a uthash table under its own mutex, chosen by an FNV-1a
 * hash of the cart id. An entry keeps its cart as one cblob (the compact
 * encoding) plus what replication needs: its role (owned here, a backup
 * copy of another replica's cart, or being handed away), the ownership
 * epoch, the owner's incarnation and, for an owned cart, the peer slot
 * holding its backup. Counters (owned, backups, bytes, under-replicated)
 * are atomics over all shards. Idle expiry is sliding and checked on
 * access (mt_find) and by mt_sweep. Thread-safe under the documented
 * locking: every call on an entry needs its shard's lock. */
#ifndef MTABLE_H
#define MTABLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "idem.h"

#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) ((obj)->add_failed = true)
#include <uthash.h>

#define MT_SHARDS 64u             /* a power of two */
#define MT_NO_PEER (-1)

enum mt_role { MT_OWNED = 0, MT_BACKUP, MT_HANDING };

struct mt_entry {
    UT_hash_handle hh;
    int64_t last_ms;              /* last access (owned) or copy (backup), monotonic ms */
    int64_t sent_ms;              /* owned: when its last copy or TOUCH went to the backup */
    uint64_t owner_inc;           /* the owner's incarnation (ours when owned) */
    uint32_t epoch;               /* ownership generation: +1 on every takeover */
    int16_t backup;               /* owned: peer slot of the backup copy, MT_NO_PEER none */
    uint8_t role;                 /* enum mt_role */
    bool moved;                   /* ownership moved since creation (takeover, handoff) */
    bool add_failed;              /* set by uthash when an insert ran out of memory */
    bool suspect;                 /* owned while this replica lost its majority: re-check first */
    uint32_t len;
    unsigned char *blob;          /* the cart, a cblob with an empty extra */
    struct idem_rec rec;          /* its Idempotency-Keys (empty: none) */
    char id[];                    /* the hash key */
};

struct mt_shard {
    _Alignas(64) pthread_mutex_t lock;
    struct mt_entry *head;
};

struct mtable {
    struct mt_shard shards[MT_SHARDS];
    atomic_long count;            /* entries held or reserved (mt_reserve) */
    atomic_long owned, backups, unreplicated;
    atomic_llong bytes;           /* estimated heap bytes of every entry */
    int64_t ttl_ms;
};

/* Set up an empty table. */
void mt_init(struct mtable *t, int ttl_seconds);

/* Drop every entry and the locks. */
void mt_destroy(struct mtable *t);

/* The shard that holds id (lock it yourself). */
struct mt_shard *mt_shard(struct mtable *t, const char *id);

/* Find a live entry (an expired one is dropped); shard locked. */
struct mt_entry *mt_find(struct mtable *t, struct mt_shard *sh, const char *id, int64_t now);

/* Reserve room for one entry when fewer than max are held; false when full. */
bool mt_reserve(struct mtable *t, long max);

/* Insert an entry owning blob, on a reservation (both given back on
 * failure); NULL when out of memory. */
struct mt_entry *mt_insert(struct mtable *t, struct mt_shard *sh, const char *id,
                           enum mt_role role, unsigned char *blob, size_t len, int64_t now);

/* Replace an entry's blob (the old one is freed). */
void mt_set_blob(struct mtable *t, struct mt_entry *e, unsigned char *blob, size_t len);

/* Give an entry the record r (taken: r is empty afterwards; the old one is freed). */
void mt_set_rec(struct mtable *t, struct mt_entry *e, struct idem_rec *r);

/* Apply a peer's record blob to an entry's record (idem_merge), keeping the
 * byte count right. */
enum idem_status mt_rec_merge(struct mtable *t, struct mt_entry *e, const unsigned char *p,
                              size_t len);

/* Append to an entry's record (idem_append), keeping the byte count right. */
enum idem_status mt_rec_append(struct mtable *t, struct mt_entry *e, const char *key, uint64_t fp,
                               unsigned status, int64_t version, const void *body, size_t len);

/* Change an entry's role, keeping the counters right. */
void mt_set_role(struct mtable *t, struct mt_entry *e, enum mt_role role);

/* Set an owned entry's backup slot, keeping the under-replicated count right. */
void mt_set_backup(struct mtable *t, struct mt_entry *e, int slot);

/* Unlink and free an entry; shard locked. */
void mt_drop(struct mtable *t, struct mt_shard *sh, struct mt_entry *e);

/* Drop every entry idle past the TTL; returns how many. */
size_t mt_sweep(struct mtable *t);

/* What a sweep does with an entry before it may drop it (shard locked). */
typedef void (*mt_visit_fn)(void *ud, struct mt_entry *e, bool expired, int64_t now);

/* mt_sweep, showing every entry to visit first (expired: it is dropped next). */
size_t mt_sweep_visit(struct mtable *t, mt_visit_fn visit, void *ud);

/* Heap bytes an entry of this id and blob length takes (an estimate). */
size_t mt_cost(size_t idlen, size_t bloblen);

/* Milliseconds on the monotonic clock. */
int64_t mt_now_ms(void);

#endif
