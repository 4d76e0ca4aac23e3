/* secret: read a shared secret from a file, as a Kubernetes Secret mounts
 * it (REPL_SECRET_FILE). The bytes are taken as they are (binary is fine)
 * but for a trailing newline, so that `echo ... > file` and `printf` give
 * the same secret. Errors name the variable and the file, never the
 * content. Thread-safe (no state). */
#ifndef SECRET_H
#define SECRET_H

#include <stddef.h>

#define SECRET_MIN 16             /* bytes at least: a guessable secret is no secret */
#define SECRET_MAX 1024

/* Read the secret in path into out (SECRET_MAX bytes), its length into *len;
 * 0, or -1 with err set, naming who (the variable). */
int secret_read(const char *path, const char *who, unsigned char *out, size_t *len, char *err,
                size_t errlen);

#endif
