/* Unit tests of rauth, the replication links' proof: each proof depends on
 * the secret, both nonces, the sender's incarnation and tag and the
 * direction; a wrong one is refused; refusals are counted and their warning
 * is rate-limited per address. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rauth.h"

static const unsigned char key1[] = "0123456789abcdef-one";
static const unsigned char key2[] = "0123456789abcdef-two";

/* A keyed rauth. */
static void keyed(struct rauth *a, const unsigned char *k)
{
    rauth_init(a, k, strlen((const char *)k));
}

Test(rauth, a_proof_checks_only_with_its_inputs)
{
    struct rauth a, b;
    keyed(&a, key1);
    keyed(&b, key2);
    cr_assert(rauth_on(&a));
    unsigned char nc[RAUTH_NONCE], na[RAUTH_NONCE], mac[RAUTH_MAC];
    cr_assert(rauth_nonce(nc) && rauth_nonce(na));
    cr_expect(memcmp(nc, na, RAUTH_NONCE) != 0, "two nonces alike");
    rauth_mac(&a, RAUTH_ACCEPT, nc, na, 42, "rep1", mac);
    cr_expect(rauth_check(&a, RAUTH_ACCEPT, nc, na, 42, "rep1", mac));
    cr_expect(!rauth_check(&b, RAUTH_ACCEPT, nc, na, 42, "rep1", mac), "another secret");
    cr_expect(!rauth_check(&a, RAUTH_CONNECT, nc, na, 42, "rep1", mac), "reflected");
    cr_expect(!rauth_check(&a, RAUTH_ACCEPT, na, nc, 42, "rep1", mac), "nonces swapped");
    cr_expect(!rauth_check(&a, RAUTH_ACCEPT, nc, na, 43, "rep1", mac), "another incarnation");
    cr_expect(!rauth_check(&a, RAUTH_ACCEPT, nc, na, 42, "rep2", mac), "another tag");
    unsigned char nc2[RAUTH_NONCE];
    cr_assert(rauth_nonce(nc2));
    cr_expect(!rauth_check(&a, RAUTH_ACCEPT, nc2, na, 42, "rep1", mac), "replayed");
    mac[RAUTH_MAC - 1] ^= 1;
    cr_expect(!rauth_check(&a, RAUTH_ACCEPT, nc, na, 42, "rep1", mac), "one bit off");
    rauth_wipe(&a);
    mac[RAUTH_MAC - 1] ^= 1;
    cr_expect(!rauth_check(&a, RAUTH_ACCEPT, nc, na, 42, "rep1", mac), "no key after wipe");
}

/* The proof is HMAC-SHA256 over the documented input: a fixed vector (a
 * replica of another build must compute the same bytes). */
Test(rauth, the_proof_is_a_fixed_function)
{
    struct rauth a;
    keyed(&a, key1);
    unsigned char nc[RAUTH_NONCE], na[RAUTH_NONCE], x[RAUTH_MAC], y[RAUTH_MAC];
    memset(nc, 1, sizeof nc);
    memset(na, 2, sizeof na);
    rauth_mac(&a, RAUTH_CONNECT, nc, na, 0x0102030405060708ull, "r1", x);
    rauth_mac(&a, RAUTH_CONNECT, nc, na, 0x0102030405060708ull, "r1", y);
    cr_expect(rauth_same(x, y));
    /* Python: hmac.new(key1, "cartpair repl v1 connect\0" 01*16 02*16 0102030405060708 02 "r1", sha256) */
    static const unsigned char want[RAUTH_MAC] = {
        0x89, 0xa5, 0x6a, 0x2e, 0x22, 0x28, 0x57, 0x14, 0x5a, 0x6f, 0x4e, 0x24, 0xd4, 0x5d, 0xe8, 0xa3,
        0x09, 0x33, 0xf9, 0xe6, 0xf1, 0xd5, 0x08, 0x15, 0x41, 0x02, 0x07, 0xb9, 0xe9, 0xb8, 0xc7, 0x62,
    };
    cr_expect(memcmp(x, want, RAUTH_MAC) == 0, "the proof's bytes");
}

Test(rauth, no_secret_no_proof)
{
    struct rauth a;
    rauth_init(&a, NULL, 0);
    cr_expect(!rauth_on(&a));
    unsigned char n[RAUTH_NONCE] = {0}, mac[RAUTH_MAC] = {0};
    cr_expect(!rauth_check(&a, RAUTH_ACCEPT, n, n, 1, "t", mac));
}

/* Every refusal counts; the warning comes once per address per minute. */
Test(rauth, refusals_count_and_warn_once_a_minute)
{
    struct rauth a;
    keyed(&a, key1);
    cr_expect(rauth_refuse(&a, "10.0.0.1", "test", 1000));
    cr_expect(!rauth_refuse(&a, "10.0.0.1", "test", 1200), "logged again within a minute");
    cr_expect(rauth_refuse(&a, "10.0.0.2", "test", 1300), "another address");
    cr_expect(!rauth_refuse(&a, "10.0.0.1", "test", 1000 + RAUTH_WARN_MS - 1));
    cr_expect(rauth_refuse(&a, "10.0.0.1", "test", 1000 + RAUTH_WARN_MS));
    cr_expect_eq(rauth_refused(&a), 5u);
    char addr[32];
    for (int i = 0; i < RAUTH_SEEN + 5; i++) { /* more addresses than remembered */
        snprintf(addr, sizeof addr, "10.1.0.%d", i);
        cr_expect(rauth_refuse(&a, addr, "test", 2000 + i));
    }
    cr_expect_eq(rauth_refused(&a), 5u + RAUTH_SEEN + 5);
}
