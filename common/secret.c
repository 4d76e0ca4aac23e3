/* secret: a shared secret from a file. See secret.h. */
#include "secret.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* Read the file once, at start-up: too short, empty or unreadable stops the
 * service with a message that never quotes what the file holds. */
int secret_read(const char *path, const char *who, unsigned char *out, size_t *len, char *err,
                size_t errlen)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return util_seterr(err, errlen, "%s: cannot open %s: %s", who, path, strerror(errno));
    size_t n = fread(out, 1, SECRET_MAX, f);
    int more = fgetc(f) != EOF, bad = ferror(f);
    fclose(f);
    if (bad || more) {
        memset(out, 0, SECRET_MAX);
        return bad ? util_seterr(err, errlen, "%s: cannot read %s", who, path)
                   : util_seterr(err, errlen, "%s: %s holds more than %d bytes", who, path,
                                 SECRET_MAX);
    }
    if (n > 0 && out[n - 1] == '\n')
        n--;
    if (n > 0 && out[n - 1] == '\r')
        n--;
    if (n < SECRET_MIN) {
        memset(out, 0, SECRET_MAX);
        return util_seterr(err, errlen, "%s: %s holds %zu bytes; a secret needs at least %d",
                           who, path, n, SECRET_MIN);
    }
    *len = n;
    return 0;
}
