/* fuzz_rproto: libFuzzer harness for the replication protocol decoder of
 * stateful-svc (rproto_decode) and the cart blob decoder it carries
 * (cblob_decode). Input: a byte stream as a peer would send it. Every frame
 * that decodes must encode back to the same bytes; every blob that decodes
 * must encode back to the same bytes (the encoding is canonical) and hold a
 * valid cart; its extra splits off where the decoder found it, and a key
 * record in it (idem, full or delta) that is accepted merges into a record
 * that encodes and decodes again. A malformed or incomplete stream must be
 * refused without a read past the input. Single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cblob.h"
#include "idem.h"
#include "rproto.h"

/* Abort when cond is false: a finding for libFuzzer. */
static void need(int cond)
{
    if (!cond)
        abort();
}

/* A record blob from a peer: accepted only when it merges into a sound record. */
static void check_rec(const unsigned char *x, size_t len)
{
    struct idem_rec r, back;
    size_t n;
    idem_init(&r);
    idem_init(&back);
    need(idem_append(&r, "fuzz-key", 1, 200, 0, "{}", 2) == IDEM_OK);
    if (idem_merge(&r, x, len) == IDEM_OK) {
        unsigned char *enc = idem_encode(&r, &n);
        need(enc && idem_decode(&back, enc, n) == IDEM_OK && back.len == r.len);
        need(idem_count(&r) <= IDEM_KEEP && r.len <= IDEM_REC_MAX);
        free(enc);
    }
    idem_free(&r);
    idem_free(&back);
}

/* A decoded blob re-encodes to the same bytes and holds a valid cart. */
static void check_blob(const unsigned char *b, size_t len)
{
    struct cart c = {0};
    const unsigned char *ext;
    size_t extlen, n;
    if (cblob_decode(b, len, &c, &ext, &extlen) != CBLOB_OK)
        return;
    need(extlen <= len && ext >= b && ext + extlen == b + len);
    for (size_t i = 0; i < c.n; i++) {
        need(c.items[i].qty >= 1 && c.items[i].qty <= CART_QTY_MAX);
        need(i == 0 || strcmp(c.items[i - 1].sku, c.items[i].sku) < 0);
    }
    size_t head, xl;
    const unsigned char *x;
    need(cblob_split(b, len, &head, &x, &xl) && x == ext && xl == extlen);
    check_rec(ext, extlen);
    unsigned char *again = cblob_encode(&c, ext, extlen, &n);
    need(again && n == len && memcmp(again, b, len) == 0);
    free(again);
    cart_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0, used;
    struct rproto_msg m;
    while (off < size && rproto_decode(data + off, size - off, &m, &used) == RPROTO_OK) {
        need(used >= 4 && used <= size - off);
        struct rproto_buf b = {0};
        need(rproto_append(&b, &m));
        need(b.len == used && memcmp(b.p, data + off, used) == 0);
        rproto_buf_free(&b);
        if (rproto_fields(m.type) & RPF_BLOB)
            check_blob(m.blob, m.bloblen);
        off += used;
    }
    check_blob(data, size);
    return 0;
}
