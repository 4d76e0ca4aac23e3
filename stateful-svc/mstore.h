/* mstore: the memory store's state, shared by its client side (store_mem.c:
 * what a request does) and its server side (mserve.c: what a peer's
 * replication message does). Thread-safe: entries are only touched under
 * their shard's lock; the rest is atomics or set before the threads start. */
#ifndef MSTORE_H
#define MSTORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "id.h"
#include "mtable.h"
#include "rproto.h"
#include "util.h"
#include "store.h"

struct repl;

/* What a copy to the backup carries (see mrec.h). */
enum mstore_copy {
    MS_CART,      /* the cart; the backup keeps its record */
    MS_LAST,      /* the cart and the record's newest entry */
    MS_FULL,      /* the cart and its whole record */
    MS_DEL        /* the cart's delete */
};

struct mstore {
    struct mtable t;
    struct repl *repl;            /* NULL without PEERS */
    char tag[ID_TAG_MAX + 1];     /* this instance's cart-id tag */
    uint64_t inc;                 /* this process's incarnation */
    int ttl;
    long max_carts;               /* owned + backup carts */
    long long max_memory;         /* bytes of owned + backup carts; 0 = no limit */
    size_t max_items;
    atomic_bool draining;
    int sweep_ms;
    struct util_ticker sweeper;   /* mem_sweep_tick every sweep_ms (zeroed: none) */
    atomic_long touches_sent;     /* TOUCHes sent to backups (mttl.c) */
    atomic_long expiry_dels;      /* DELs sent to backups for expired carts (mttl.c) */
    pthread_mutex_t gave_mu;      /* guards gave */
    struct mstore_gave {          /* carts given away lately in off mode (no copy kept) */
        char id[CART_ID_MAX + 1];
        uint64_t to;              /* the new owner's incarnation */
        uint32_t epoch;
        int64_t at_ms;
    } gave[64];
    unsigned gave_next;
};

/* How long a cart given away in off mode is still answered for (its grant in flight). */
#define MS_GAVE_MS 2000

/* Lookups a request may make: the first, then more only while the cart is
 * on the move between live replicas (a copy whose live owner is elsewhere). */
#define MS_LOOKUPS 8

/* Run q on this store, with `lookups` lookups left (MS_LOOKUPS: none made yet). */
void mstore_run(struct mstore *m, struct store_req *q, int lookups);

/* POST /carts (q->id drawn): a new owned cart, copied to its backup; sets
 * q->st and returns true when q waits for the backup (else complete it). */
bool mstore_create(struct mstore *m, struct store_req *q);

/* Run q on an entry this replica owns (promoted: just taken over, so copy it
 * to a backup in any case); *pending when q waits for the backup's ack. Shard locked. */
enum store_status mstore_owned(struct mstore *m, struct mt_shard *sh, struct mt_entry *e,
                               struct store_req *q, bool promoted, bool *pending);

/* Reserve room for a new entry (MAX_CARTS, MAX_MEMORY); false when full. */
bool mstore_room(struct mstore *m, size_t idlen, size_t bloblen);

/* Send an owned entry's copy (or its delete) to its backup, choosing one
 * when needed (a new backup gets MS_FULL); true when q now waits for the
 * ack. Shard locked. */
bool mstore_replicate(struct mstore *m, struct mt_entry *e, struct store_req *q,
                      enum mstore_copy how);

/* A peer's PUT/DEL: keep, replace or drop a backup copy; an enum rproto_ack. */
uint8_t mstore_put(struct mstore *m, const struct rproto_msg *msg);
uint8_t mstore_del(struct mstore *m, const struct rproto_msg *msg);

/* A cart given away with no copy kept (off mode): remember it a moment, so
 * that a peer's lookup while the grant is in flight hears of its new owner. */
void mstore_gave(struct mstore *m, const char *id, uint64_t to, uint32_t epoch);

/* Was cart id given away in the last MS_GAVE_MS (off mode)? To whom, at which epoch. */
bool mstore_gave_lately(struct mstore *m, const char *id, uint64_t *to, uint32_t *epoch);

/* A peer's LOOKUP: fill reply with RP_FOUND or RP_NONE. */
void mstore_lookup(struct mstore *m, const char *id, struct rproto_msg *reply);

/* A peer's TAKE (by incarnation inc, link slot): fill reply with RP_GRANT
 * (blob malloc'd into *blob) or RP_REFUSE. */
void mstore_take(struct mstore *m, const char *id, uint64_t inc, int slot,
                 struct rproto_msg *reply, unsigned char **blob);

/* The epoch of this replica's copy of cart id (0: none) and its owner. */
uint32_t mstore_epoch(struct mstore *m, const char *id, uint64_t *owner);

/* A granted takeover: keep the cart as owned, with holder as its backup. */
void mstore_granted(struct mstore *m, const struct rproto_msg *grant, int holder);

/* A peer's HANDOFF from slot `from`: own the cart from now on; an enum rproto_ack. */
uint8_t mstore_handoff_in(struct mstore *m, const struct rproto_msg *msg, int from);

/* A change the backup refused as stale: this replica no longer owns the cart. */
void mstore_stale(struct mstore *m, const char *id);

/* The backup could not keep a copy of cart id (no room, or it failed): the
 * cart counts as under-replicated until it gets a backup again. */
void mstore_unbacked(struct mstore *m, const char *id);

/* The link to slot died: carts it backed up get a new backup. */
void mstore_peer_lost(struct mstore *m, int slot);

/* A pending copy of q's cart died with its link, or its backup asked for
 * the full copy: send the full copy to the cart's (new) backup; true when q
 * waits again. */
bool mstore_resend(struct mstore *m, struct store_req *q, const char *id);

/* Drain: hand every owned cart to a peer; how many handoffs were queued. */
long mstore_handoff_round(struct mstore *m);

/* A handoff was acknowledged (ok) or failed: drop or keep the cart. */
void mstore_handoff_done(struct mstore *m, const char *id, bool ok);

/* This replica lost its majority: mark every owned cart for a re-check. */
void mstore_suspect_all(struct mstore *m);

/* Give owned carts without a backup one (after a peer came or went). */
void mstore_rereplicate(struct mstore *m);

/* The sweeper's pass (mttl.c): drop expired carts, with a DEL to their
 * backups, and TOUCH the backups of carts read lately; how many were dropped. */
size_t mstore_sweep(struct mstore *m);

/* A peer's TOUCH: slide the TTL of the backup copy it owns; an enum rproto_ack. */
uint8_t mstore_touch(struct mstore *m, const struct rproto_msg *msg);

/* The answer to a TOUCH sent to slot (msg NULL: the link died). */
void mstore_touch_acked(struct mstore *m, int slot, const char *id, const struct rproto_msg *msg);

/* The owner of incarnation inc is lost: its carts' backup copies here get a
 * full TTL from now. */
void mstore_owner_lost(struct mstore *m, uint64_t inc);

#endif
