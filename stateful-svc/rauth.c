/* rauth: link authentication of the replication network. See rauth.h. */
#include "rauth.h"

#include <nettle/memops.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"

/* The direction labels (with their NUL): a proof names the side that made it. */
static const char label_accept[] = "cartpair repl v1 accept";
static const char label_connect[] = "cartpair repl v1 connect";

/* Key a once, so that each MAC only copies the keyed state. */
void rauth_init(struct rauth *a, const unsigned char *secret, size_t len)
{
    memset(a, 0, sizeof *a);
    atomic_init(&a->refused, 0);
    a->on = secret && len > 0;
    if (a->on)
        hmac_sha256_set_key(&a->key, len, secret);
}

/* Forget the key: the process keeps no copy of the secret's state after the links stop. */
void rauth_wipe(struct rauth *a)
{
    memset(&a->key, 0, sizeof a->key);
    a->on = false;
}

/* Are the links authenticated? */
bool rauth_on(const struct rauth *a)
{
    return a->on;
}

/* A fresh nonce per connection, from the kernel's generator: no replay. */
bool rauth_nonce(unsigned char out[RAUTH_NONCE])
{
    size_t got = 0;
    for (int tries = 0; got < RAUTH_NONCE && tries < 4; tries++) {
        ssize_t r = getrandom(out + got, RAUTH_NONCE - got, 0);
        if (r > 0)
            got += (size_t)r;
    }
    return got == RAUTH_NONCE;
}

/* The proof of side dir over the handshake: label, Nc, Na, inc (8 bytes,
 * big-endian), tag (u8 length, bytes): every part of fixed size or length
 * prefixed, so no two handshakes give the same input. */
void rauth_mac(const struct rauth *a, enum rauth_dir dir, const unsigned char nc[RAUTH_NONCE],
               const unsigned char na[RAUTH_NONCE], uint64_t inc, const char *tag,
               unsigned char out[RAUTH_MAC])
{
    struct hmac_sha256_ctx c = a->key;
    unsigned char num[9];
    size_t tl = strnlen(tag, 255);
    for (int i = 0; i < 8; i++)
        num[i] = (unsigned char)(inc >> (56 - 8 * i));
    num[8] = (unsigned char)tl;
    if (dir == RAUTH_ACCEPT)
        hmac_sha256_update(&c, sizeof label_accept, (const uint8_t *)label_accept);
    else
        hmac_sha256_update(&c, sizeof label_connect, (const uint8_t *)label_connect);
    hmac_sha256_update(&c, RAUTH_NONCE, nc);
    hmac_sha256_update(&c, RAUTH_NONCE, na);
    hmac_sha256_update(&c, sizeof num, num);
    hmac_sha256_update(&c, tl, (const uint8_t *)tag);
    hmac_sha256_digest(&c, RAUTH_MAC, out);
    memset(&c, 0, sizeof c);
}

/* Are two proofs the same? In constant time: a peer learns nothing from how
 * long a wrong guess took. */
bool rauth_same(const unsigned char x[RAUTH_MAC], const unsigned char y[RAUTH_MAC])
{
    return memeql_sec(x, y, RAUTH_MAC) != 0;
}

/* Is mac the proof of side dir? */
bool rauth_check(const struct rauth *a, enum rauth_dir dir, const unsigned char nc[RAUTH_NONCE],
                 const unsigned char na[RAUTH_NONCE], uint64_t inc, const char *tag,
                 const unsigned char mac[RAUTH_MAC])
{
    unsigned char want[RAUTH_MAC];
    if (!a->on)
        return false;
    rauth_mac(a, dir, nc, na, inc, tag, want);
    return rauth_same(want, mac);
}

/* Count the refusal, and warn once per address per RAUTH_WARN_MS: a peer
 * without the secret reconnects every 200 ms, which would flood the log. */
bool rauth_refuse(struct rauth *a, const char *addr, const char *why, int64_t now_ms)
{
    uint64_t n = atomic_fetch_add(&a->refused, 1) + 1;
    size_t slot = 0;
    for (size_t i = 0; i < RAUTH_SEEN; i++) {
        if (strcmp(a->seen[i].addr, addr) == 0) {
            slot = i;
            break;
        }
        if (a->seen[i].at < a->seen[slot].at) /* else the one logged longest ago */
            slot = i;
    }
    bool known = strcmp(a->seen[slot].addr, addr) == 0;
    if (known && now_ms - a->seen[slot].at < RAUTH_WARN_MS)
        return false;
    snprintf(a->seen[slot].addr, sizeof a->seen[slot].addr, "%s", addr);
    a->seen[slot].at = now_ms;
    log_msg(LOG_WARN, "repl_auth_refused",
            "replication peer %s refused: %s (%llu refusals so far; logged once a minute per "
            "address)", addr, why, (unsigned long long)n);
    return true;
}

/* Peers refused so far. */
uint64_t rauth_refused(const struct rauth *a)
{
    return atomic_load(&a->refused);
}
