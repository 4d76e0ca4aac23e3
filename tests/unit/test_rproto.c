/* Unit tests of rproto, the replication protocol codec: every message type
 * round-trips, a stream is cut into frames, and malformed frames are refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rproto.h"

Test(rproto, every_type_round_trips)
{
    static const unsigned char blob[] = {1, 'i', 0, 0, 0};
    for (uint8_t t = 1; t < RP_TYPE_MAX; t++) {
        struct rproto_msg m = {.type = t, .seq = 1000u + t, .epoch = 77, .inc = UINT64_MAX,
                               .code = 2, .blob = blob, .bloblen = sizeof blob};
        snprintf(m.tag, sizeof m.tag, "rep1");
        snprintf(m.id, sizeof m.id, "rep1-AAAA");
        struct rproto_buf b = {0};
        cr_assert(rproto_append(&b, &m), "type %u", t);
        struct rproto_msg d;
        size_t used;
        cr_assert_eq(rproto_decode(b.p, b.len, &d, &used), RPROTO_OK, "type %u", t);
        cr_expect_eq(used, b.len);
        cr_expect_eq(d.type, t);
        cr_expect_eq(d.seq, m.seq);
        unsigned f = rproto_fields(t);
        cr_expect_eq(d.epoch, (f & RPF_EPOCH) ? 77u : 0u);
        cr_expect_eq(d.inc, (f & RPF_INC) ? UINT64_MAX : 0u);
        cr_expect_str_eq(d.tag, (f & RPF_TAG) ? "rep1" : "");
        cr_expect_str_eq(d.id, (f & RPF_ID) ? "rep1-AAAA" : "");
        cr_expect_eq(d.bloblen, (f & RPF_BLOB) ? sizeof blob : 0u);
        for (size_t cut = 0; cut < b.len; cut++)
            cr_expect_eq(rproto_decode(b.p, cut, &d, &used), RPROTO_MORE, "type %u cut %zu", t, cut);
        rproto_buf_free(&b);
    }
}

Test(rproto, a_stream_is_cut_into_frames)
{
    struct rproto_buf b = {0};
    for (int i = 0; i < 100; i++) {
        struct rproto_msg m = {.type = RP_LOOKUP, .seq = (uint64_t)i};
        snprintf(m.id, sizeof m.id, "cart%d", i);
        cr_assert(rproto_append(&b, &m));
    }
    size_t off = 0, used;
    struct rproto_msg d;
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(rproto_decode(b.p + off, b.len - off, &d, &used), RPROTO_OK);
        cr_expect_eq(d.seq, (uint64_t)i);
        off += used;
    }
    cr_expect_eq(off, b.len);
    rproto_consume(&b, b.len);
    cr_expect_eq(b.len, 0);
    rproto_buf_free(&b);
}

/* Decode the bytes: want the status. */
static void expect(const unsigned char *p, size_t n, enum rproto_status want, const char *why)
{
    struct rproto_msg d;
    size_t used;
    cr_expect_eq(rproto_decode(p, n, &d, &used), want, "%s", why);
}

Test(rproto, malformed_frames_are_refused)
{
    static const unsigned char huge[] = {0x7f, 0xff, 0xff, 0xff, 1, 2, 0, 0};
    expect(huge, sizeof huge, RPROTO_BAD, "length over the limit");
    static const unsigned char version[] = {0, 0, 0, 4, 2, RP_PING, 0, 0};
    expect(version, sizeof version, RPROTO_BAD, "version 2");
    static const unsigned char type[] = {0, 0, 0, 4, 1, 99, 0, 0};
    expect(type, sizeof type, RPROTO_BAD, "unknown type");
    static const unsigned char fields[] = {0, 0, 0, 5, 1, RP_PING, RPF_EPOCH, 0, 0};
    expect(fields, sizeof fields, RPROTO_BAD, "a field the type does not carry");
    static const unsigned char trailing[] = {0, 0, 0, 5, 1, RP_PING, 0, 0, 0};
    expect(trailing, sizeof trailing, RPROTO_BAD, "a byte after the fields");
    static const unsigned char badid[] = {0, 0, 0, 7, 1, RP_LOOKUP, RPF_ID, 0, 2, 'a', '/'};
    expect(badid, sizeof badid, RPROTO_BAD, "an id with '/'");
    static const unsigned char nulid[] = {0, 0, 0, 8, 1, RP_LOOKUP, RPF_ID, 0, 3, 'a', 0, 'b'};
    expect(nulid, sizeof nulid, RPROTO_BAD, "an id with a NUL byte");
    static const unsigned char emptyid[] = {0, 0, 0, 5, 1, RP_LOOKUP, RPF_ID, 0, 0};
    expect(emptyid, sizeof emptyid, RPROTO_BAD, "an empty id");
    static const unsigned char bloblen[] = {0, 0, 0, 8, 1, RP_GRANT, RPF_EPOCH | RPF_BLOB, 0, 1, 5, 1, 2};
    expect(bloblen, sizeof bloblen, RPROTO_BAD, "a blob longer than the frame");
    static const unsigned char ok[] = {0, 0, 0, 4, 1, RP_PING, 0, 9};
    expect(ok, sizeof ok, RPROTO_OK, "a ping");
}

/* TOUCH carries exactly epoch, owner incarnation and id (like DEL), its
 * bytes are fixed (a peer of another build must read them alike), and the
 * ACK that answers it may ask for the full copy (FULL). */
Test(rproto, touch_is_epoch_inc_id_and_answered_by_ack)
{
    cr_expect_eq(rproto_fields(RP_TOUCH), RPF_EPOCH | RPF_INC | RPF_ID);
    struct rproto_msg m = {.type = RP_TOUCH, .seq = 7, .epoch = 3, .inc = 300};
    snprintf(m.id, sizeof m.id, "r1-AB");
    struct rproto_buf b = {0};
    cr_assert(rproto_append(&b, &m));
    static const unsigned char want[] = {0, 0, 0, 13, 1, RP_TOUCH, RPF_EPOCH | RPF_INC | RPF_ID,
                                         7, 3, 0xac, 0x02, 5, 'r', '1', '-', 'A', 'B'};
    cr_assert_eq(b.len, sizeof want);
    cr_expect(memcmp(b.p, want, sizeof want) == 0, "the TOUCH frame's bytes");
    struct rproto_msg d;
    size_t used;
    cr_assert_eq(rproto_decode(b.p, b.len, &d, &used), RPROTO_OK);
    cr_expect_eq(d.type, RP_TOUCH);
    cr_expect_eq(d.epoch, 3u);
    cr_expect_eq(d.inc, 300u);
    cr_expect_str_eq(d.id, "r1-AB");
    rproto_buf_free(&b);
    static const unsigned char noid[] = {0, 0, 0, 6, 1, RP_TOUCH, RPF_EPOCH | RPF_INC, 7, 3, 1};
    expect(noid, sizeof noid, RPROTO_BAD, "a TOUCH without its id");
    static const unsigned char blob[] = {0, 0, 0, 9, 1, RP_TOUCH,
                                         RPF_EPOCH | RPF_INC | RPF_ID | RPF_BLOB,
                                         7, 3, 1, 1, 'a', 0};
    expect(blob, sizeof blob, RPROTO_BAD, "a TOUCH with a blob");
    struct rproto_msg ack = {.type = RP_ACK, .seq = 7, .code = RPA_FULL};
    cr_assert(rproto_append(&b, &ack));
    cr_assert_eq(rproto_decode(b.p, b.len, &d, &used), RPROTO_OK);
    cr_expect_eq(d.type, RP_ACK);
    cr_expect_eq(d.code, RPA_FULL);
    rproto_buf_free(&b);
}

/* A HELLO without the proof's fields is byte for byte the first version's
 * (a replica without REPL_SECRET_FILE talks to an older build as before). */
Test(rproto, a_plain_hello_keeps_its_bytes)
{
    struct rproto_msg m = {.type = RP_HELLO, .seq = 0, .inc = 5, .code = 1};
    snprintf(m.tag, sizeof m.tag, "r1");
    struct rproto_buf b = {0};
    cr_assert(rproto_append(&b, &m));
    static const unsigned char want[] = {0, 0, 0, 9, 1, RP_HELLO, RPF_INC | RPF_CODE | RPF_TAG,
                                         0, 5, 1, 2, 'r', '1'};
    cr_assert_eq(b.len, sizeof want);
    cr_expect(memcmp(b.p, want, sizeof want) == 0, "the HELLO frame's bytes");
    struct rproto_msg d;
    size_t used;
    cr_assert_eq(rproto_decode(b.p, b.len, &d, &used), RPROTO_OK);
    cr_expect_eq(d.opt, 0);
    rproto_buf_free(&b);
}

/* HELLO may carry a nonce, or a nonce and a MAC (after the other fields, in
 * bit order); AUTH carries exactly a MAC. Each round-trips. */
Test(rproto, hello_with_a_nonce_or_a_proof_and_auth_round_trip)
{
    static const uint8_t opts[] = {RPF_NONCE, RPF_NONCE | RPF_MAC};
    for (size_t i = 0; i < 2; i++) {
        struct rproto_msg m = {.type = RP_HELLO, .seq = 3, .inc = 9, .opt = opts[i]};
        snprintf(m.tag, sizeof m.tag, "rep2");
        memset(m.nonce, 0xa5, sizeof m.nonce);
        memset(m.mac, 0x5a, sizeof m.mac);
        struct rproto_buf b = {0};
        cr_assert(rproto_append(&b, &m));
        size_t extra = RPROTO_NONCE_LEN + (i ? RPROTO_MAC_LEN : 0);
        cr_expect_eq(b.len, 4 + 3 + 1 + 1 + 1 + 5 + extra);
        cr_expect_eq(b.p[6], RPF_INC | RPF_CODE | RPF_TAG | opts[i]);
        cr_expect_eq(b.p[b.len - extra], 0xa5, "the nonce follows the tag");
        struct rproto_msg d;
        size_t used;
        cr_assert_eq(rproto_decode(b.p, b.len, &d, &used), RPROTO_OK);
        cr_expect_eq(d.opt, opts[i]);
        cr_expect_str_eq(d.tag, "rep2");
        cr_expect(memcmp(d.nonce, m.nonce, RPROTO_NONCE_LEN) == 0);
        if (i)
            cr_expect(memcmp(d.mac, m.mac, RPROTO_MAC_LEN) == 0);
        for (size_t cut = 0; cut < b.len; cut++)
            cr_expect_eq(rproto_decode(b.p, cut, &d, &used), RPROTO_MORE, "cut %zu", cut);
        rproto_buf_free(&b);
    }
    struct rproto_msg a = {.type = RP_AUTH, .seq = 4};
    memset(a.mac, 0x33, sizeof a.mac);
    struct rproto_buf b = {0};
    cr_assert(rproto_append(&b, &a));
    cr_expect_eq(b.len, 4 + 3 + 1 + RPROTO_MAC_LEN);
    struct rproto_msg d;
    size_t used;
    cr_assert_eq(rproto_decode(b.p, b.len, &d, &used), RPROTO_OK);
    cr_expect_eq(d.type, RP_AUTH);
    cr_expect_eq(d.opt, 0);
    cr_expect(memcmp(d.mac, a.mac, RPROTO_MAC_LEN) == 0);
    rproto_buf_free(&b);
}

/* The proof's fields only in the sets a handshake uses, of their exact size. */
Test(rproto, proof_fields_are_strict)
{
    struct rproto_buf b = {0};
    struct rproto_msg m = {.type = RP_HELLO, .opt = RPF_MAC};
    cr_expect(!rproto_append(&b, &m), "a HELLO with a MAC and no nonce");
    m = (struct rproto_msg){.type = RP_PING, .opt = RPF_NONCE};
    cr_expect(!rproto_append(&b, &m), "a PING with a nonce");
    m = (struct rproto_msg){.type = RP_AUTH, .opt = RPF_NONCE};
    cr_expect(!rproto_append(&b, &m), "an AUTH with a nonce");
    cr_expect_eq(b.len, 0);
    rproto_buf_free(&b);

    unsigned char f[80] = {0, 0, 0, 0, 1, RP_HELLO, RPF_INC | RPF_CODE | RPF_TAG | RPF_MAC,
                           0, 5, 0, 0};
    size_t n = 11 + RPROTO_MAC_LEN;
    f[3] = (unsigned char)(n - 4);
    expect(f, n, RPROTO_BAD, "a HELLO with a MAC and no nonce");
    f[6] = RPF_INC | RPF_CODE | RPF_TAG | RPF_NONCE;
    f[3] = (unsigned char)(11 + RPROTO_NONCE_LEN - 1 - 4);
    expect(f, 11 + RPROTO_NONCE_LEN - 1, RPROTO_BAD, "a nonce one byte short");
    f[3] = (unsigned char)(11 + RPROTO_NONCE_LEN + 1 - 4);
    expect(f, 11 + RPROTO_NONCE_LEN + 1, RPROTO_BAD, "a nonce one byte long");
    f[3] = (unsigned char)(11 + RPROTO_NONCE_LEN - 4);
    expect(f, 11 + RPROTO_NONCE_LEN, RPROTO_OK, "a HELLO with its nonce");

    unsigned char g[48] = {0, 0, 0, 0, 1, RP_AUTH, RPF_MAC, 0};
    g[3] = (unsigned char)(4 + RPROTO_MAC_LEN - 1);
    expect(g, 8 + RPROTO_MAC_LEN - 1, RPROTO_BAD, "a MAC one byte short");
    g[3] = (unsigned char)(4 + RPROTO_MAC_LEN);
    expect(g, 8 + RPROTO_MAC_LEN, RPROTO_OK, "an AUTH");
    g[6] = RPF_MAC | RPF_NONCE;
    expect(g, 8 + RPROTO_MAC_LEN, RPROTO_BAD, "an AUTH with a nonce");
    g[5] = RP_PING;
    g[6] = RPF_NONCE;
    g[3] = (unsigned char)(4 + RPROTO_NONCE_LEN);
    expect(g, 8 + RPROTO_NONCE_LEN, RPROTO_BAD, "a PING with a nonce");
}
