/*  flotilla/log.h - the process's log: one line per event on stderr.

    Levels: 0 errors, 1 warnings, 2 notices (the default), 3 info, 4 debug.
    The level is set once at start (flotillad -v/-q); every thread logs
    through the same stdio lock, so lines never interleave.
*/
#ifndef FLOTILLA_LOG_H_INCLUDED
#define FLOTILLA_LOG_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

enum { FLOT_LOG_ERROR, FLOT_LOG_WARN, FLOT_LOG_NOTICE, FLOT_LOG_INFO, FLOT_LOG_DEBUG };

void flot_log_set_level (int level);
int  flot_log_level (void);
void flot_log (int level, const char *who, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

#define flot_error(who, ...)  flot_log (FLOT_LOG_ERROR, who, __VA_ARGS__)
#define flot_warn(who, ...)   flot_log (FLOT_LOG_WARN, who, __VA_ARGS__)
#define flot_notice(who, ...) flot_log (FLOT_LOG_NOTICE, who, __VA_ARGS__)
#define flot_info(who, ...)   flot_log (FLOT_LOG_INFO, who, __VA_ARGS__)
#define flot_debug(who, ...)  flot_log (FLOT_LOG_DEBUG, who, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif
