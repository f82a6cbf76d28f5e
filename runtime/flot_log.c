/*  flot_log.c - timestamped log lines on stderr, filtered by level.  */
#include "flotilla/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int s_level = FLOT_LOG_NOTICE;

void
flot_log_set_level (int level)
{
    atomic_store (&s_level, level);
}

int
flot_log_level (void)
{
    return atomic_load (&s_level);
}

void
flot_log (int level, const char *who, const char *format, ...)
{
    if (level > atomic_load (&s_level))
        return;
    static const char *names [] = { "E", "W", "N", "I", "D" };
    struct timeval now;
    gettimeofday (&now, NULL);
    struct tm tm;
    gmtime_r (&now.tv_sec, &tm);
    char stamp [32];
    strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    char line [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    fprintf (stderr, "%s.%03dZ %s %d %s: %s\n", stamp, (int) (now.tv_usec / 1000),
             names [level < 0 ? 0 : level > 4 ? 4 : level], (int) getpid (),
             who, line);
}
