/* id: cart ids and request ids from getrandom(2) (see id.h). */
#include "id.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define ID_REQUEST_BYTES 8    /* 16 hex chars */
#define ID_MAX_LEN 64
#define ID_RANDOM_TRIES 64    /* bounded retries on EINTR / short reads */

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Fill buf with len bytes from the kernel CSPRNG; false when it fails. */
static bool fill_random(unsigned char *buf, size_t len)
{
    size_t got = 0;

    for (int tries = 0; got < len && tries < ID_RANDOM_TRIES; tries++) {
        ssize_t r = getrandom(buf + got, len - got, 0);

        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && errno != EINTR && errno != EAGAIN)
            return false;
    }
    return got == len;
}

/* Encode len bytes as base64url without padding; out needs 4*ceil(len/3)+1. */
static size_t b64url_encode(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0, i = 0;

    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
        out[o++] = b64url[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;

        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

/* True for [A-Za-z0-9]. */
static bool is_alnum(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* Format "<tag>-<base64url of raw>" (or without tag) into out; a tag must be
 * 1..ID_TAG_MAX of [A-Za-z0-9_] (no '-'); else ID_TOOLONG. */
enum id_status id_from_bytes(const char *tag, const unsigned char raw[ID_RANDOM_BYTES],
                             char *out, size_t outlen)
{
    char rnd[ID_RANDOM_LEN + 4];
    size_t taglen = tag ? strnlen(tag, ID_TAG_MAX + 1) : 0;

    if (taglen > ID_TAG_MAX)
        return ID_TOOLONG;
    for (size_t i = 0; i < taglen; i++)
        if (!is_alnum(tag[i]) && tag[i] != '_')
            return ID_TOOLONG;
    if (!out || outlen < taglen + (taglen ? 1 : 0) + ID_RANDOM_LEN + 1)
        return ID_TOOLONG;
    b64url_encode(raw, ID_RANDOM_BYTES, rnd);
    if (taglen)
        snprintf(out, outlen, "%s-%s", tag, rnd);
    else
        snprintf(out, outlen, "%s", rnd);
    return ID_OK;
}

/* Write a new cart id to out: "<tag>-<random>" or "<random>" when tag is NULL or "". */
enum id_status id_new(const char *tag, char *out, size_t outlen)
{
    unsigned char raw[ID_RANDOM_BYTES];

    if (!fill_random(raw, sizeof(raw)))
        return ID_NORANDOM;
    return id_from_bytes(tag, raw, out, outlen);
}

/* This thread's request-id generator: splitmix64 seeded once from getrandom.
 * Request ids must be unique, not secret, so no system call per request. */
static bool next_request_bits(uint64_t *out)
{
    static __thread uint64_t state;
    static __thread bool seeded;

    if (!seeded) {
        if (!fill_random((unsigned char *)&state, sizeof(state)))
            return false;
        seeded = true;
    }
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    *out = z ^ (z >> 31);
    return true;
}

/* Write a new request id (16 lowercase hex chars) to out (at least 17 bytes). */
enum id_status id_request(char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t bits;

    if (!out || outlen < 2 * ID_REQUEST_BYTES + 1)
        return ID_TOOLONG;
    if (!next_request_bits(&bits))
        return ID_NORANDOM;
    for (size_t i = 0; i < 2 * ID_REQUEST_BYTES; i++)
        out[i] = hex[(bits >> (60 - 4 * i)) & 15];
    out[2 * ID_REQUEST_BYTES] = '\0';
    return ID_OK;
}

/* True when id is [A-Za-z0-9_-]{1,64}. */
bool id_valid(const char *id)
{
    size_t len;

    if (!id)
        return false;
    len = strnlen(id, ID_MAX_LEN + 1);
    if (len < 1 || len > ID_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(id[i]) && id[i] != '_' && id[i] != '-')
            return false;
    return true;
}

/* Copy the tag of a tagged id (the part before the first '-') to out; false when there is none. */
bool id_tag_of(const char *id, char *out, size_t outlen)
{
    const char *dash;
    size_t taglen;

    if (!id || !out)
        return false;
    dash = memchr(id, '-', strnlen(id, ID_MAX_LEN + 1));
    if (!dash)
        return false;
    taglen = (size_t)(dash - id);
    if (taglen < 1 || taglen > ID_TAG_MAX || taglen >= outlen)
        return false;
    memcpy(out, id, taglen);
    out[taglen] = '\0';
    return true;
}

/* FNV-1a, 32 bits. */
static uint32_t fnv1a32(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* Derive an instance tag: its [A-Za-z0-9] characters when there are 1..ID_TAG_MAX,
 * else "i" and 8 hex digits of the FNV-1a hash of the whole instance id. */
void id_tag_from_instance(const char *instance, char *out, size_t outlen)
{
    char tag[ID_TAG_MAX + 1];
    size_t n = 0;
    bool fits = true;

    if (!out || outlen == 0)
        return;
    if (!instance)
        instance = "";
    for (const char *p = instance; *p; p++) {
        if (!is_alnum(*p))
            continue;
        if (n == ID_TAG_MAX) {
            fits = false;
            break;
        }
        tag[n++] = *p;
    }
    tag[n] = '\0';
    if (n > 0 && fits)
        snprintf(out, outlen, "%s", tag);
    else
        snprintf(out, outlen, "i%08x", (unsigned)fnv1a32(instance));
}
