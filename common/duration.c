/*  duration.c - durations as operators write them ("1m30s"), to
    milliseconds.

    Part of common/ (the flot_common library: pure parsing, no actor, no
    I/O). Used by the spec parser (actors/strategy/spec.c), the healthChecks
    and analysis section parsers (common/health_checks.c,
    common/analysis_section.c) and through them by the health and analyzer
    actors. Declared in flotilla/duration.h.
*/
#include "flotilla/duration.h"

#include <ctype.h>
#include <string.h>

int
flot_duration_parse (const char *text, int64_t *ms)
{
    int64_t total = 0;
    const char *p = text;
    if (!*p)
        return -1;
    while (*p) {
        if (!isdigit ((unsigned char) *p))
            return -1;
        int64_t n = 0;
        while (isdigit ((unsigned char) *p)) {
            n = n * 10 + (*p++ - '0');
            if (n > 1000000000LL)
                return -1;
        }
        int64_t unit;
        if (strncmp (p, "ms", 2) == 0) { unit = 1; p += 2; }
        else if (*p == 's') { unit = 1000; p++; }
        else if (*p == 'm') { unit = 60000; p++; }
        else if (*p == 'h') { unit = 3600000; p++; }
        else return -1;
        total += n * unit;
        if (total > 30LL * 86400000)     //  thirty days
            return -1;
    }
    *ms = total;
    return 0;
}
