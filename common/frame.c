/* frame: HTTP/1.1 message framing checks (RFC 9112). See frame.h. */
#include "frame.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* True for the optional whitespace of RFC 9110 (space, tab). */
static bool frame_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Copy value without leading and trailing whitespace into out (truncated). */
static void frame_trim(const char *value, char *out, size_t outlen)
{
    while (frame_ows(*value))
        value++;
    size_t n = strlen(value);
    while (n && frame_ows(value[n - 1]))
        n--;
    snprintf(out, outlen, "%.*s", (int)n, value);
}

/* True when s is 1..19 decimal digits (what a Content-Length may be). */
static bool frame_digits(const char *s)
{
    size_t n = strspn(s, "0123456789");
    return n > 0 && n < 20 && s[n] == '\0';
}

/* True when value holds a control byte other than tab (RFC 9110 5.5: CTLs
 * are invalid in a field value; the NUL the parser cut at is frame_value_cut's). */
static bool frame_has_ctl(const char *value)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return true;
    return false;
}

/* Start a scan. */
void frame_init(struct frame_scan *f)
{
    memset(f, 0, sizeof *f);
}

/* Feed one header field. */
void frame_header(struct frame_scan *f, const char *name, const char *value)
{
    char v[64];
    if (!name)
        return;
    if (strpbrk(name, " \t") || !name[0])
        f->name_space = true;
    if (value && frame_has_ctl(value))
        f->value_ctl = true;
    frame_trim(value ? value : "", v, sizeof v);
    if (!strcasecmp(name, "Host")) {
        f->hosts++;
    } else if (!strcasecmp(name, "Content-Length")) {
        if (!frame_digits(v))
            f->cl_invalid = true;
        else if (f->cls == 0)
            snprintf(f->cl, sizeof f->cl, "%.*s", (int)(sizeof f->cl - 1), v);
        else if (strcmp(f->cl, v))
            f->cl_mismatch = true;
        f->cls++;
    } else if (!strcasecmp(name, "Transfer-Encoding")) {
        f->tes++;
        if (strcasecmp(v, "chunked"))
            f->te_unknown = true;
    }
}

/* Record a value cut short at a NUL: refused like any control byte. */
void frame_value_cut(struct frame_scan *f)
{
    f->value_ctl = true;
}

/* The verdict once every field is in. An HTTP/1.0 message with
 * Transfer-Encoding has faulty framing whatever else it says (RFC 9112 6.1). */
enum frame_status frame_verdict(const struct frame_scan *f, bool http11)
{
    if (f->name_space)
        return FRAME_NAME_SPACE;
    if (f->value_ctl)
        return FRAME_VALUE_CTL;
    if (f->hosts > 1)
        return FRAME_MANY_HOSTS;
    if (http11 && f->hosts == 0)
        return FRAME_NO_HOST;
    if (!http11 && f->tes)
        return FRAME_TE_HTTP10;
    if (f->cls && f->tes)
        return FRAME_CL_AND_TE;
    if (f->cl_invalid)
        return FRAME_CL_INVALID;
    if (f->cl_mismatch)
        return FRAME_CL_MISMATCH;
    if (f->tes > 1)
        return FRAME_TE_REPEATED;
    if (f->te_unknown)
        return FRAME_TE_UNKNOWN;
    return FRAME_OK;
}

/* True when st is answered 501. */
bool frame_not_implemented(enum frame_status st)
{
    return st == FRAME_TE_UNKNOWN;
}

/* A static human message for a status. */
const char *frame_message(enum frame_status st)
{
    switch (st) {
    case FRAME_OK: return "ok";
    case FRAME_CL_AND_TE: return "both Content-Length and Transfer-Encoding";
    case FRAME_CL_MISMATCH: return "several Content-Length values that differ";
    case FRAME_CL_INVALID: return "Content-Length is not a decimal number";
    case FRAME_TE_UNKNOWN: return "only the chunked transfer coding is implemented";
    case FRAME_TE_REPEATED: return "Transfer-Encoding given more than once";
    case FRAME_NO_HOST: return "an HTTP/1.1 request needs a Host header";
    case FRAME_MANY_HOSTS: return "Host given more than once";
    case FRAME_NAME_SPACE: return "whitespace in a header field name";
    case FRAME_VALUE_CTL:
        return "a NUL or control character in a header field value, or a folded line";
    case FRAME_TE_HTTP10: return "Transfer-Encoding in an HTTP/1.0 request";
    }
    return "bad framing";
}

/* The origin-form path of a request target. */
const char *frame_origin_path(const char *target)
{
    const char *p = target;
    if (!p || p[0] == '/')
        return p;
    if (!strncasecmp(p, "http://", 7))
        p += 7;
    else if (!strncasecmp(p, "https://", 8))
        p += 8;
    else
        return target;
    const char *slash = strchr(p, '/');
    return slash ? slash : "/";
}
