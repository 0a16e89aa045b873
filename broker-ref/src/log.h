/* Broker logging: one line per event, `ts=... level=... msg="..." k=v ...`,
 * to stderr. Thread-safe. */
#ifndef BROKER_LOG_H
#define BROKER_LOG_H

enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int g_log_level;

/* fmt continues the line after `msg=`; callers write `"\"text\" key=%s"`. */
void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_info(...)                                                                              \
    do {                                                                                           \
        if (g_log_level >= LOG_INFO)                                                               \
            log_write(LOG_INFO, __VA_ARGS__);                                                      \
    } while (0)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (g_log_level >= LOG_DEBUG)                                                              \
            log_write(LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)

#endif
