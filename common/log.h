/* log: leveled logging to stderr, as JSON lines or text.
 *
 * Thread-safe: each record is formatted into a local buffer and written with
 * one write(2). Configure once with log_init before threads start. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FMT_TEXT = 0, LOG_FMT_JSON };

/* Set the minimum level, the format and the instance named in every record. */
void log_init(enum log_level level, enum log_format fmt, const char *service, const char *instance);

/* True when records of this level are written (cheap; use before costly formatting). */
bool log_enabled(enum log_level level);

/* Write one record: event is a short snake_case word, fmt a printf format for the message. */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parse "debug|info|warn|error" / "json|text"; false when unknown. */
bool log_level_parse(const char *s, enum log_level *out);
bool log_format_parse(const char *s, enum log_format *out);

#endif
