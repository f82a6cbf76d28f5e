/*  flotilla/event_log.h - the events actor's durable history (SQLite).

    With a log, every event is written before it is published, and a
    restarted events actor takes its history and its sequence up again:
    sequence numbers never repeat and never skip across restarts.
*/
#ifndef FLOTILLA_EVENT_LOG_H_INCLUDED
#define FLOTILLA_EVENT_LOG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flotilla/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _flot_event_log_t flot_event_log_t;

//  The version of the log's schema this build writes. A log of an older
//  version is migrated to it when opened; a newer one is refused.
#define FLOT_EVENT_LOG_SCHEMA_VERSION 3

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

//  Events held (kept up to date by append and prune), the oldest sequence
//  number held and the newest (0 if none).
uint64_t
    flot_event_log_held (flot_event_log_t *self);
uint64_t
    flot_event_log_oldest (flot_event_log_t *self);
uint64_t
    flot_event_log_newest (flot_event_log_t *self);

//  Reads events from disk, in sequence order, a bounded batch at a time:
//  those with seq >= since (and of deployment, if not NULL or ""), at most
//  limit of them. fn returning non-zero stops before that event (it is
//  not counted). *more says whether a matching event follows the last one
//  given. Returns the events given, or -1 on error with err.
typedef int (flot_event_log_read_fn) (uint64_t seq, const void *body, size_t size, void *arg);
int64_t
    flot_event_log_read (flot_event_log_t *self, uint64_t since, const char *deployment,
                         size_t limit, flot_event_log_read_fn *fn, void *arg, bool *more,
                         flot_err_t *err);

//  Calls fn for at most limit events with seq > after, in order. Returns
//  the last seq given (after if none), or -1 on error with err.
int64_t
    flot_event_log_scan (flot_event_log_t *self, uint64_t after, size_t limit,
                         flot_event_log_fn *fn, void *arg, flot_err_t *err);

//  The type (into type, cut to type_size) and time_ms of an event's body.
//  Returns 0, or -1 if the body is not an event map.
int
    flot_event_body_peek (const void *body, size_t size, char *type, size_t type_size,
                          uint64_t *time_ms);

//  Retention: which events a prune removes, oldest first.
typedef bool (flot_event_log_keep_fn) (const char *deployment, void *arg);
typedef struct {
    uint64_t count;             //  at most this many held; 0: no limit by count
    int64_t before_ms;          //  events published before this (unix ms) go; 0: none by age
    size_t batch;               //  rows examined at most, in one pass
    flot_event_log_keep_fn *keep;   //  true for an event that stays whatever its age
    void *arg;                  //  (a running deployment's); NULL: none such
} flot_event_log_policy_t;

//  One pass of retention, in small batches so that a caller's loop never
//  waits long: examines at most policy->batch events from where the pass
//  before stopped (the oldest first, again from the oldest once it reached
//  the events that stay), and removes those beyond policy->count or older
//  than policy->before_ms that policy->keep does not keep. Joins an open
//  transaction, else makes its own. Returns the events removed, or -1 with
//  err. *done (if not NULL) is set when the pass reached the end of what
//  is to be removed (nothing more to do now).
int64_t
    flot_event_log_prune (flot_event_log_t *self, const flot_event_log_policy_t *policy,
                          bool *done, flot_err_t *err);

#ifdef __cplusplus
}
#endif

#endif
