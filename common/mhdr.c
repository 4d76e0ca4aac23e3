/* mhdr: what libmicrohttpd's parse of a request header hides. See mhdr.h. */
#include "mhdr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A walk over the header fields in the order they came, within the header's
 * bytes [lo, hi) of the read buffer (hi 0 when libmicrohttpd does not say). */
struct mhdr_walk {
    struct frame_scan *f;
    uintptr_t lo, hi;
    uintptr_t prev_end;           /* where the previous value ended; 0: unknown */
};

/* True when the bytes [from, to) of the read buffer are all NUL: what the
 * parser left of line ends. An empty range is all NUL. */
static bool mhdr_only_nuls(uintptr_t from, uintptr_t to)
{
    for (uintptr_t p = from; p < to; p++)
        if (*(const char *)p != '\0')
            return false;
    return true;
}

/* Check the gap from the previous value's end to next (a field's name, or
 * the header's end, where max is 4: this line's end and the empty line's):
 * a line end is 1 or 2 bytes (LF, CR LF), so anything but at most max NULs
 * there is what a NUL hid. A gap that is not inside the header's bytes (a
 * field the parser moved) is not read. */
static void mhdr_gap(struct mhdr_walk *w, uintptr_t next, uintptr_t max)
{
    if (!w->prev_end || !w->hi || next < w->prev_end || next > w->hi)
        return;
    if (next - w->prev_end > max || !mhdr_only_nuls(w->prev_end, next))
        frame_value_cut(w->f);
}

/* MHD_KeyValueIteratorN: feed one field to the framing scan, check the gap
 * before it, and note where its value ends. */
static enum MHD_Result mhdr_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size)
{
    struct mhdr_walk *w = cls;
    (void)kind;
    (void)key_size;
    frame_header(w->f, key, value);
    mhdr_gap(w, (uintptr_t)key, 2);
    uintptr_t end = value ? (uintptr_t)value + value_size : 0;
    w->prev_end = end > w->lo && end <= w->hi ? end : 0;
    return MHD_YES;
}

/* Feed every field in order and check the gaps between them and after the last. */
enum frame_status mhdr_framing(struct MHD_Connection *conn, const char *method,
                               const char *version)
{
    struct frame_scan f;
    frame_init(&f);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    struct mhdr_walk w = { .f = &f, .lo = (uintptr_t)method };
    if (ci && method && ci->header_size)
        w.hi = w.lo + ci->header_size;
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, mhdr_field, &w);
    mhdr_gap(&w, w.hi, 4);
    return frame_verdict(&f, version && !strcmp(version, MHD_HTTP_VERSION_1_1));
}

/* The If-Match fields seen so far: how many, their total length, and the
 * joined list once it is being built. */
struct mhdr_list {
    unsigned n;
    size_t len;
    char *out;                    /* NULL while counting */
};

/* MHD_KeyValueIterator: count (or append) one If-Match value. */
static enum MHD_Result mhdr_list_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    struct mhdr_list *l = cls;
    (void)kind;
    if (!key || strcasecmp(key, MHD_HTTP_HEADER_IF_MATCH) || !value)
        return MHD_YES;
    if (l->out) {
        if (l->n++)
            strcat(l->out, ", ");
        strcat(l->out, value);
    } else {
        l->n++;
        l->len += strlen(value) + 2;
    }
    return MHD_YES;
}

/* One field: its value as libmicrohttpd has it; several: joined (mhdr.h). */
const char *mhdr_if_match(struct MHD_Connection *conn, char **joined)
{
    struct mhdr_list l = {0};
    *joined = NULL;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, mhdr_list_field, &l);
    if (l.n <= 1)
        return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH);
    if (!(l.out = calloc(1, l.len + 1)))
        return "\"\" x";
    l.n = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, mhdr_list_field, &l);
    *joined = l.out;
    return l.out;
}
