/* etag: If-Match lists. See etag.h. */
#include "etag.h"

#include <string.h>

#define ETAG_VERSION_DIGITS 18    /* a version beyond this many digits is no cart's */

/* Skip optional whitespace (space, tab). */
static const char *etag_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* True for a byte an opaque-tag may hold (etagc: 0x21, 0x23-0x7e, obs-text). */
static bool etag_c(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

/* The version that [s, e) spells exactly as an ETag does (decimal, no sign,
 * no leading zero), or -1 when it spells none. */
static int64_t etag_version(const char *s, const char *e)
{
    size_t n = (size_t)(e - s);
    if (n == 0 || n > ETAG_VERSION_DIGITS || (n > 1 && s[0] == '0'))
        return -1;
    int64_t v = 0;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* Add version v to m unless it is there already; false when m is full. */
static bool etag_add(struct cart_match *m, int64_t v)
{
    for (unsigned i = 0; i < m->n; i++)
        if (m->v[i] == v)
            return true;
    if (m->n == CART_MATCH_MAX)
        return false;
    m->v[m->n++] = v;
    return true;
}

/* Parse one list member at p: an entity-tag ([W/]"...") or a bare number.
 * Its end, or NULL when it is neither; *v is the version a strong tag
 * names, -1 for a weak tag or one naming no version. */
static const char *etag_member(const char *p, int64_t *v)
{
    bool weak = !strncmp(p, "W/", 2);
    const char *s = p + (weak ? 2 : 0), *e;
    *v = -1;
    if (*s == '"') {
        for (e = ++s; etag_c((unsigned char)*e); e++)
            ;
        if (*e != '"')
            return NULL;
        if (!weak)
            *v = etag_version(s, e);
        return e + 1;
    }
    if (weak || *s < '0' || *s > '9')
        return NULL;
    e = s + strspn(s, "0123456789");
    *v = etag_version(s, e);
    return e;
}

/* "*", or a list of members separated by commas with optional whitespace;
 * the loop takes at least one byte a turn, so it ends with the string. */
bool etag_if_match(const char *h, struct cart_match *out)
{
    memset(out, 0, sizeof *out);
    if (!h)
        return true;
    const char *p = etag_ows(h);
    if (*p == '*' && *etag_ows(p + 1) == '\0')
        return true;
    out->set = true;
    while (*p) {
        if (*p == ',') {
            p = etag_ows(p + 1);
            continue;
        }
        int64_t v;
        if (!(p = etag_member(p, &v)))
            return false;
        if (v >= 0 && !etag_add(out, v))
            return false;
        p = etag_ows(p);
        if (*p && *p != ',')
            return false;
    }
    return true;
}
