/* id: cart ids and request ids.
 *
 * A cart id is [<tag>-]<22 base64url chars> holding 128 bits from
 * getrandom(2). The tag (stateful-svc) names the instance that owns the cart.
 * Request ids come from a per-thread generator seeded once from getrandom.
 * Thread-safe: no shared state. */
#ifndef ID_H
#define ID_H

#include <stdbool.h>
#include <stddef.h>

#define ID_TAG_MAX 16     /* longest instance tag */
#define ID_RANDOM_LEN 22  /* 128 bits in base64url, no padding */
#define ID_RANDOM_BYTES 16 /* the 128 bits */

enum id_status { ID_OK = 0, ID_NORANDOM, ID_TOOLONG };

/* Write a new cart id to out: "<tag>-<random>" or "<random>" when tag is NULL or "". */
enum id_status id_new(const char *tag, char *out, size_t outlen);

/* Format "<tag>-<raw in base64url>" (or "<raw...>" without a tag) into out:
 * an id from given bits (e.g. derived from an idempotency key). */
enum id_status id_from_bytes(const char *tag, const unsigned char raw[ID_RANDOM_BYTES],
                             char *out, size_t outlen);

/* Write a new request id (16 hex chars, unique per process; not secret) to out (at least 17 bytes). */
enum id_status id_request(char *out, size_t outlen);

/* True when id is [A-Za-z0-9_-]{1,64}. */
bool id_valid(const char *id);

/* Copy the tag of a tagged id (the part before the first '-') to out; false when there is none. */
bool id_tag_of(const char *id, char *out, size_t outlen);

/* Derive an instance tag from an instance id: its [A-Za-z0-9] characters when
 * that gives 1..ID_TAG_MAX of them, else "i" and 8 hex digits of a hash. */
void id_tag_from_instance(const char *instance, char *out, size_t outlen);

#endif
