/* log: leveled logging to stderr, as JSON lines or text (see log.h). */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_RECORD_MAX 4096   /* one record, truncated past this */
#define LOG_MSG_MAX 2048      /* the formatted message, before escaping */

static enum log_level g_level = LOG_INFO;
static enum log_format g_format = LOG_FMT_TEXT;
static char g_service[64] = "cartpair";
static char g_instance[64] = "";

static const char *const level_names[] = { "debug", "info", "warn", "error" };
static const char *const level_text[] = { "DEBUG", "INFO ", "WARN ", "ERROR" };

/* A bounded output buffer that always keeps `reserve` bytes free for the tail. */
struct lbuf {
    char *p;
    size_t len;
    size_t cap;
};

/* Append n bytes when they fit below cap; false (and nothing written) otherwise. */
static bool lb_put(struct lbuf *b, const char *s, size_t n, size_t reserve)
{
    if (b->len + n + reserve > b->cap)
        return false;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return true;
}

/* Length of the valid UTF-8 sequence at c (2..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *c)
{
    size_t n = (*c & 0xe0) == 0xc0 ? 2 : (*c & 0xf0) == 0xe0 ? 3 : (*c & 0xf8) == 0xf0 ? 4 : 0;
    if ((n == 2 && *c < 0xc2) || *c > 0xf4)
        return 0;
    if ((*c == 0xe0 && c[1] < 0xa0) || (*c == 0xed && c[1] >= 0xa0) ||
        (*c == 0xf0 && c[1] < 0x90) || (*c == 0xf4 && c[1] >= 0x90))
        return 0;   /* overlong, surrogate or past U+10FFFF */
    for (size_t i = 1; i < n; i++)
        if ((c[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* Append s escaped as the inside of a JSON string, stopping before the reserve. */
static void lb_json(struct lbuf *b, const char *s, size_t reserve)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        size_t n;
        if (*c >= 0x80) {
            n = utf8_len(c);
            if (n == 0) {
                if (!lb_put(b, "?", 1, reserve))
                    return;
                continue;
            }
            if (!lb_put(b, (const char *)c, n, reserve))
                return;
            c += n - 1;
            continue;
        }
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*c;
            n = 2;
        } else if (*c == '\n' || *c == '\r' || *c == '\t') {
            esc[0] = '\\';
            esc[1] = *c == '\n' ? 'n' : *c == '\r' ? 'r' : 't';
            n = 2;
        } else if (*c < 0x20 || *c == 0x7f) {
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *c);
        } else {
            esc[0] = (char)*c;
            n = 1;
        }
        if (!lb_put(b, esc, n, reserve))
            return;
    }
}

/* Append s as text, control characters turned into spaces so a record stays one line. */
static void lb_text(struct lbuf *b, const char *s, size_t reserve)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char ch = (*c < 0x20 || *c == 0x7f) ? ' ' : (char)*c;
        if (!lb_put(b, &ch, 1, reserve))
            return;
    }
}

/* Copy src into a fixed field, truncating. */
static void copy_field(char *dst, size_t dstlen, const char *src)
{
    snprintf(dst, dstlen, "%s", src ? src : "");
}

/* Set the minimum level, the format and the instance named in every record. */
void log_init(enum log_level level, enum log_format fmt, const char *service, const char *instance)
{
    g_level = level;
    g_format = fmt;
    copy_field(g_service, sizeof g_service, service);
    copy_field(g_instance, sizeof g_instance, instance);
}

/* True when records of this level are written. */
bool log_enabled(enum log_level level)
{
    return level >= g_level;
}

/* Write the current UTC time as 2026-11-28T00:00:00.123Z into out (>= 32 bytes). */
static void log_timestamp(char *out, size_t outlen)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, outlen - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* Write all of buf to stderr with one write(2), retrying only on EINTR. */
static void log_write(const char *buf, size_t len)
{
    for (int tries = 0; tries < 8; tries++) {
        ssize_t w = write(STDERR_FILENO, buf, len);
        if (w >= 0 && (size_t)w < len) {
            buf += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        return;
    }
}

/* Format one JSON record into b. */
static void log_format_json(struct lbuf *b, const char *ts, enum log_level level,
                            const char *event, const char *msg)
{
    const size_t tail = 3; /* "}\n */
    lb_put(b, "{\"ts\":\"", 7, tail);
    lb_put(b, ts, strlen(ts), tail);
    lb_put(b, "\",\"level\":\"", 11, tail);
    lb_put(b, level_names[level], strlen(level_names[level]), tail);
    lb_put(b, "\",\"service\":\"", 13, tail);
    lb_json(b, g_service, tail + 64);
    lb_put(b, "\",\"instance\":\"", 14, tail);
    lb_json(b, g_instance, tail + 64);
    lb_put(b, "\",\"event\":\"", 11, tail);
    lb_json(b, event, tail + 64);
    lb_put(b, "\",\"msg\":\"", 9, tail);
    lb_json(b, msg, tail);
    lb_put(b, "\"}\n", 3, 0);
}

/* Format one text record into b. */
static void log_format_text(struct lbuf *b, const char *ts, enum log_level level,
                            const char *event, const char *msg)
{
    const size_t tail = 1; /* \n */
    lb_put(b, ts, strlen(ts), tail);
    lb_put(b, " ", 1, tail);
    lb_put(b, level_text[level], 5, tail);
    lb_put(b, " ", 1, tail);
    lb_text(b, event, tail);
    lb_put(b, ": ", 2, tail);
    lb_text(b, msg, tail);
    lb_put(b, "\n", 1, 0);
}

/* Write one record if its level is enabled. */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
{
    if ((unsigned)level > LOG_ERROR || !log_enabled(level))
        return;
    char msg[LOG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = '\0';

    char ts[40];
    log_timestamp(ts, sizeof ts);
    char rec[LOG_RECORD_MAX];
    struct lbuf b = { rec, 0, sizeof rec };
    if (!event)
        event = "";
    if (g_format == LOG_FMT_JSON)
        log_format_json(&b, ts, level, event, msg);
    else
        log_format_text(&b, ts, level, event, msg);
    log_write(rec, b.len);
}

/* Parse "debug|info|warn|error"; false when unknown. */
bool log_level_parse(const char *s, enum log_level *out)
{
    for (int i = LOG_DEBUG; s && i <= LOG_ERROR; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    return false;
}

/* Parse "json|text"; false when unknown. */
bool log_format_parse(const char *s, enum log_format *out)
{
    if (s && strcmp(s, "json") == 0) {
        *out = LOG_FMT_JSON;
        return true;
    }
    if (s && strcmp(s, "text") == 0) {
        *out = LOG_FMT_TEXT;
        return true;
    }
    return false;
}
