/*  flotilla/duration.h - durations as operators write them: "250ms",
    "30s", "10m", "1h", "1m30s".

    Pure parsing (common/duration.c, in the flot_common library): the spec
    parser, the healthChecks and analysis section parsers and the actors
    that take a duration in a request all read them the same way.
*/
#ifndef FLOTILLA_DURATION_H_INCLUDED
#define FLOTILLA_DURATION_H_INCLUDED

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Parse a duration: "250ms", "30s", "10m", "1h", "1m30s" (units ms, s, m,
//  h; at most thirty days). Returns 0 and *ms, or -1.
int
    flot_duration_parse (const char *text, int64_t *ms);

#ifdef __cplusplus
}
#endif

#endif
