/* rauth: the proof that both ends of a replication link hold the shared
 * secret of REPL_SECRET_FILE, and the accounting of the peers refused.
 *
 * The handshake (rnet_link.c, rnet_conn.c; docs/replication.md, "Link
 * authentication"): the connecting side's HELLO carries a fresh random nonce
 * Nc; the accepting side answers with its HELLO, a fresh nonce Na and
 *   HMAC-SHA256(secret, "accept" label, Nc, Na, its incarnation, its tag);
 * the connecting side checks it and sends AUTH with
 *   HMAC-SHA256(secret, "connect" label, Nc, Na, its incarnation, its tag)
 * before any request. Both nonces are new on every connection (no replay),
 * and the label tells the directions apart (neither side's proof can be
 * reflected as the other's). MACs are compared in constant time (nettle).
 *
 * Thread-safety: rauth_mac, rauth_check and rauth_refused may be called from
 * any thread once rauth_init returned; rauth_refuse only from one thread (the
 * replication loop: it owns the table of warnings). */
#ifndef RAUTH_H
#define RAUTH_H

#include <nettle/hmac.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rproto.h"

#define RAUTH_NONCE RPROTO_NONCE_LEN
#define RAUTH_MAC RPROTO_MAC_LEN
#define RAUTH_WARN_MS 60000       /* a refused address is logged at most this often */
#define RAUTH_SEEN 32             /* addresses whose last warning is remembered */

/* Who computes a proof: the side that accepted the connection, or the one that made it. */
enum rauth_dir { RAUTH_ACCEPT = 0, RAUTH_CONNECT };

struct rauth {
    bool on;                      /* a secret was given */
    struct hmac_sha256_ctx key;   /* keyed once; copied for each MAC */
    atomic_ullong refused;
    struct {
        char addr[160];
        int64_t at;               /* when it was last logged (ms) */
    } seen[RAUTH_SEEN];
};

/* Key a with secret (len bytes; NULL or 0: no authentication). */
void rauth_init(struct rauth *a, const unsigned char *secret, size_t len);

/* Forget the key. */
void rauth_wipe(struct rauth *a);

/* Are the links authenticated? */
bool rauth_on(const struct rauth *a);

/* A fresh random nonce (getrandom); false when the kernel gave none. */
bool rauth_nonce(unsigned char out[RAUTH_NONCE]);

/* The proof of the side dir: over both nonces and that side's incarnation and tag. */
void rauth_mac(const struct rauth *a, enum rauth_dir dir, const unsigned char nc[RAUTH_NONCE],
               const unsigned char na[RAUTH_NONCE], uint64_t inc, const char *tag,
               unsigned char out[RAUTH_MAC]);

/* Is mac the proof of the side dir (constant-time comparison)? */
bool rauth_check(const struct rauth *a, enum rauth_dir dir, const unsigned char nc[RAUTH_NONCE],
                 const unsigned char na[RAUTH_NONCE], uint64_t inc, const char *tag,
                 const unsigned char mac[RAUTH_MAC]);

/* Are two proofs the same (constant time)? */
bool rauth_same(const unsigned char x[RAUTH_MAC], const unsigned char y[RAUTH_MAC]);

/* Count a peer at addr refused (why: for the log), and warn unless addr was
 * logged less than RAUTH_WARN_MS before now_ms; true when it warned. */
bool rauth_refuse(struct rauth *a, const char *addr, const char *why, int64_t now_ms);

/* Peers refused so far. */
uint64_t rauth_refused(const struct rauth *a);

#endif
