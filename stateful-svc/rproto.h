/* rproto: the replication protocol of stateful-svc, framing and codec.
 *
 * Every message is one frame:
 *
 *   u32 length (big-endian; the bytes after it, at most RPROTO_FRAME_MAX)
 *   u8  version (RPROTO_VERSION)
 *   u8  type    (enum rproto_type)
 *   u8  fields  (bit set of enum rproto_field: exactly the type's fields)
 *   varint seq  (the sender's sequence number; a reply echoes its request's)
 *   then the fields present, in bit order:
 *     EPOCH varint, INC varint, CODE u8, TAG u8 len + bytes,
 *     ID u8 len + bytes, BLOB varint len + bytes (a cblob),
 *     NONCE RPROTO_NONCE_LEN bytes, MAC RPROTO_MAC_LEN bytes
 *
 * Each type has one field set, but HELLO, which may also carry NONCE (the
 * connecting side of an authenticated link) or NONCE and MAC (the accepting
 * side's answer): see rauth.h. Without REPL_SECRET_FILE no frame carries
 * them, so the bytes are those of the first version.
 *
 * A peer answers requests in the order they came on a connection, so a
 * client can pipeline them. Decoding checks every length, the version, the
 * field set of the type, and the syntax of tags and ids: the stream is
 * untrusted. Pure functions, thread-safe. docs/replication.md describes
 * each message. */
#ifndef RPROTO_H
#define RPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cart.h"
#include "id.h"

#define RPROTO_VERSION 1
#define RPROTO_FRAME_MAX (1024 * 1024)
#define RPROTO_NONCE_LEN 16
#define RPROTO_MAC_LEN 32         /* HMAC-SHA256 */

enum rproto_type {
    RP_HELLO = 1,     /* TAG, INC, CODE (1: draining): who is at this end (both ways) */
    RP_PING,          /* -: are you there (answered by RP_PONG) */
    RP_PONG,
    RP_PUT,           /* EPOCH, INC (owner), BLOB: keep this backup copy (RP_ACK) */
    RP_DEL,           /* EPOCH, INC (owner), ID: drop the copy (RP_ACK) */
    RP_LOOKUP,        /* ID: do you hold it? (RP_FOUND or RP_NONE) */
    RP_FOUND,         /* EPOCH, INC (owner), CODE (role | moved), TAG (owner's) */
    RP_NONE,
    RP_TAKE,          /* ID: give me the cart and its ownership (RP_GRANT or RP_REFUSE) */
    RP_GRANT,         /* EPOCH (the new one), BLOB */
    RP_REFUSE,        /* CODE (enum rproto_refuse) */
    RP_HANDOFF,       /* EPOCH, BLOB: you own this cart now (RP_ACK) */
    RP_ACK,           /* CODE (enum rproto_ack) */
    RP_TOUCH,         /* EPOCH, INC (owner), ID: the cart was read; slide the copy's TTL (RP_ACK) */
    RP_AUTH,          /* MAC: the connecting side's proof, its first message after HELLO (no answer) */
    RP_TYPE_MAX
};

enum rproto_field {
    RPF_EPOCH = 1, RPF_INC = 2, RPF_CODE = 4, RPF_TAG = 8, RPF_ID = 16, RPF_BLOB = 32,
    RPF_NONCE = 64, RPF_MAC = 128
};

/* RP_ACK's CODE. RPA_FULL: the backup cannot apply a change (or a TOUCH)
 * to its copy (none, or of another owner or epoch): send the full copy. */
enum rproto_ack { RPA_OK = 0, RPA_STALE, RPA_ERROR, RPA_FULL };
/* RP_REFUSE's CODE. RPR_SETTLING: the owner gives the cart once its
 * synchronous changes in flight are acknowledged: ask again. */
enum rproto_refuse { RPR_NOT_FOUND = 0, RPR_OWNER_ALIVE, RPR_BUSY, RPR_SETTLING };
/* RP_FOUND's CODE: the role, and whether the cart moved since its creation. */
enum rproto_role { RPROLE_OWNER = 0, RPROLE_BACKUP = 1, RPROLE_MOVED = 2 };

enum rproto_status { RPROTO_OK = 0, RPROTO_MORE, RPROTO_BAD };

struct rproto_msg {
    uint8_t type;
    uint64_t seq;
    uint64_t epoch;
    uint64_t inc;
    uint8_t code;
    char tag[ID_TAG_MAX + 1];
    char id[CART_ID_MAX + 1];
    const unsigned char *blob;    /* decoded: points into the frame */
    size_t bloblen;
    uint8_t opt;                  /* HELLO's optional fields: 0, RPF_NONCE or RPF_NONCE | RPF_MAC */
    unsigned char nonce[RPROTO_NONCE_LEN];
    unsigned char mac[RPROTO_MAC_LEN];
};

/* A growable output buffer. */
struct rproto_buf {
    unsigned char *p;
    size_t len, cap;
};

/* The field set a message type carries (HELLO: without its optional ones). */
unsigned rproto_fields(uint8_t type);

/* Append m as one frame to b; false when out of memory or m is malformed. */
bool rproto_append(struct rproto_buf *b, const struct rproto_msg *m);

/* Decode the first frame of buf: RPROTO_MORE when incomplete, RPROTO_BAD when
 * malformed (close the connection); on RPROTO_OK *used is its size. */
enum rproto_status rproto_decode(const unsigned char *buf, size_t len, struct rproto_msg *m,
                                 size_t *used);

/* Append n raw bytes to b; false when out of memory. */
bool rproto_append_raw(struct rproto_buf *b, const void *p, size_t n);

/* Make room for n more bytes after b->len (to read into); false when out of memory. */
bool rproto_reserve(struct rproto_buf *b, size_t n);

/* Drop the first n bytes of b. */
void rproto_consume(struct rproto_buf *b, size_t n);

/* Free b's memory. */
void rproto_buf_free(struct rproto_buf *b);

#endif
