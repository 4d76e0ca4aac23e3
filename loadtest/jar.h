/* jar: one virtual user's cookie jar (the cart cookie, the proxy's affinity cookie).
 *
 * Keeps name=value pairs from Set-Cookie headers (a Max-Age=0 or an empty
 * value deletes) and writes them back as one Cookie header value. Paths,
 * domains and expiry dates are ignored: every cookie goes to the one target.
 *
 * Not thread-safe: one jar per user, used by the thread that owns the user. */
#ifndef JAR_H
#define JAR_H

#include <stdbool.h>
#include <stddef.h>

#define JAR_MAX 6
#define JAR_NAME_MAX 48
#define JAR_VALUE_MAX 160

struct jar {
    int n;
    struct {
        char name[JAR_NAME_MAX];
        char value[JAR_VALUE_MAX];
    } c[JAR_MAX];
};

/* Empty the jar (a new session). */
void jar_clear(struct jar *j);

/* Take one Set-Cookie header value; false when it is malformed or does not fit. */
bool jar_set(struct jar *j, const char *header);

/* The value of cookie name, or NULL. */
const char *jar_get(const struct jar *j, const char *name);

/* Write "a=1; b=2" into out; returns its length (0 when empty or it does not fit). */
size_t jar_header(const struct jar *j, char *out, size_t len);

#endif
