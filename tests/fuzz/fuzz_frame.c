/* fuzz_frame: libFuzzer harness for the request front end's header checks
 * (frame.c). Input: header lines "name:value" separated by '\n' (the first
 * line is the request target, the first byte's low bit the HTTP version),
 * fed as the server feeds them. Checks that a verdict never crashes and
 * agrees with what was fed: FRAME_OK means at most one Host (one for
 * HTTP/1.1), never both Content-Length and Transfer-Encoding, any
 * Transfer-Encoding is exactly chunked (and only in HTTP/1.1), and no value
 * holds a control byte but tab; and that frame_origin_path returns a path
 * ("/...") for an absolute-form target. Single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frame.h"

/* Abort when cond is false: a finding for libFuzzer. */
static void need(int cond)
{
    if (!cond)
        abort();
}

/* Count of header names equal to name among the fed lines. */
struct tally {
    unsigned hosts, cls, tes, ctls;
};

/* Feed one "name:value" line (no colon: all name) and tally it. */
static void feed(struct frame_scan *f, struct tally *t, char *line)
{
    char *colon = strchr(line, ':');
    const char *value = "";
    if (colon) {
        *colon = '\0';
        value = colon + 1;
    }
    frame_header(f, line, value);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        t->ctls += (*p < 0x20 && *p != '\t') || *p == 0x7f;
    t->hosts += !strcasecmp(line, "Host");
    t->cls += !strcasecmp(line, "Content-Length");
    t->tes += !strcasecmp(line, "Transfer-Encoding");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool http11 = data[0] & 1;
    char *buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    struct frame_scan f;
    struct tally t = {0, 0, 0, 0};
    frame_init(&f);
    char *save = NULL, *target = strtok_r(buf, "\n", &save);
    if (target) {
        const char *p = frame_origin_path(target);
        if (!strncasecmp(target, "http://", 7) || !strncasecmp(target, "https://", 8))
            need(p && p[0] == '/');
        for (char *line; (line = strtok_r(NULL, "\n", &save));)
            feed(&f, &t, line);
    }
    enum frame_status st = frame_verdict(&f, http11);
    need(frame_message(st) != NULL);
    if (st == FRAME_OK) {
        need(t.hosts <= 1 && (!http11 || t.hosts == 1));
        need(!(t.cls && t.tes) && t.tes <= 1 && (http11 || !t.tes));
        need(t.ctls == 0);
        need(!frame_not_implemented(st));
    }
    free(buf);
    return 0;
}
