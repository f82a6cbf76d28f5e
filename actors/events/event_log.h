/*  flotilla/event_log.h - the events actor's durable history (SQLite).

    With a log, every event is written before it is published, and a
    restarted events actor takes its history and its sequence up again:
    sequence numbers never repeat and never skip across restarts.
*/
#ifndef FLOTILLA_EVENT_LOG_H_INCLUDED
#define FLOTILLA_EVENT_LOG_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "flotilla/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _flot_event_log_t flot_event_log_t;

//  The version of the log's schema this build writes. A log of an older
//  version is migrated to it when opened; a newer one is refused.
#define FLOT_EVENT_LOG_SCHEMA_VERSION 2

//  Open (creating if needed) the log at path, migrating it to this build's
//  schema version in one transaction. Returns NULL with err if it cannot
//  be opened, or is not a log, or its version is newer than this build's.
flot_event_log_t *
    flot_event_log_open (const char *path, flot_err_t *err);

void
    flot_event_log_destroy (flot_event_log_t **self_p);

//  Append one event (its msgpack body). Returns 0, or -1 with err.
int
    flot_event_log_append (flot_event_log_t *self, uint64_t seq, const char *deployment,
                           const void *body, size_t size, flot_err_t *err);

//  Group the appends that follow, up to the commit, in one transaction.
//  Each returns 0, or -1 with err.
int
    flot_event_log_begin (flot_event_log_t *self, flot_err_t *err);
int
    flot_event_log_commit (flot_event_log_t *self, flot_err_t *err);

//  Call fn for the newest `count` events, oldest first. Returns the last
//  sequence number logged (0 if none), or -1 on error with err.
typedef void (flot_event_log_fn) (uint64_t seq, const char *deployment,
                                  const void *body, size_t size, void *arg);
int64_t
    flot_event_log_load (flot_event_log_t *self, size_t count, flot_event_log_fn *fn,
                         void *arg, flot_err_t *err);

#ifdef __cplusplus
}
#endif

#endif
