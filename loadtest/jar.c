/* jar: one virtual user's cookie jar (see jar.h). */
#include "jar.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void jar_clear(struct jar *j)
{
    j->n = 0;
}

/* The slot of cookie name, or -1. */
static int jar_find(const struct jar *j, const char *name)
{
    for (int i = 0; i < j->n; i++)
        if (strcmp(j->c[i].name, name) == 0)
            return i;
    return -1;
}

const char *jar_get(const struct jar *j, const char *name)
{
    int i = jar_find(j, name);
    return i < 0 ? NULL : j->c[i].value;
}

/* True when the attributes (after the first ';') hold Max-Age=0 (or negative). */
static bool jar_expired(const char *attrs)
{
    const char *p = attrs;
    while (p && *p) {
        p += strspn(p, "; ");
        if (strncasecmp(p, "max-age=", 8) == 0)
            return p[8] == '0' || p[8] == '-';
        p = strchr(p, ';');
    }
    return false;
}

/* Remove slot i. */
static void jar_drop(struct jar *j, int i)
{
    memmove(&j->c[i], &j->c[i + 1], (size_t)(j->n - i - 1) * sizeof j->c[0]);
    j->n--;
}

bool jar_set(struct jar *j, const char *header)
{
    const char *p = header + strspn(header, " ");
    size_t nlen = strcspn(p, "=;");
    if (nlen == 0 || nlen >= JAR_NAME_MAX || p[nlen] != '=')
        return false;
    const char *v = p + nlen + 1;
    size_t vlen = strcspn(v, ";");
    while (vlen > 0 && v[vlen - 1] == ' ')
        vlen--;
    if (vlen >= JAR_VALUE_MAX)
        return false;
    char name[JAR_NAME_MAX];
    memcpy(name, p, nlen);
    name[nlen] = '\0';
    int i = jar_find(j, name);
    if (vlen == 0 || jar_expired(v + vlen)) {
        if (i >= 0)
            jar_drop(j, i);
        return true;
    }
    if (i < 0) {
        if (j->n >= JAR_MAX)
            return false;
        i = j->n++;
        memcpy(j->c[i].name, name, nlen + 1);
    }
    memcpy(j->c[i].value, v, vlen);
    j->c[i].value[vlen] = '\0';
    return true;
}

size_t jar_header(const struct jar *j, char *out, size_t len)
{
    size_t at = 0;
    if (len)
        out[0] = '\0';
    for (int i = 0; i < j->n; i++) {
        int w = snprintf(out + at, len - at, "%s%s=%s", i ? "; " : "", j->c[i].name,
                         j->c[i].value);
        if (w < 0 || (size_t)w >= len - at) {
            out[0] = '\0';
            return 0;
        }
        at += (size_t)w;
    }
    return at;
}
