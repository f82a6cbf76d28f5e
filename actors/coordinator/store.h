/*  flotilla/store.h - the coordinator's durable store (SQLite, WAL).

    Every deployment, every step's state and every event the coordinator
    will publish is written here before the coordinator acts on it, so that
    a coordinator killed at any point resumes where it was: unfinished
    deployments are loaded again, finished steps are not run again, and an
    interrupted step is run again under the same step id. Events wait in an
    outbox until the events actor has taken them. Who applied, paused,
    resumed, promoted and aborted each deployment is kept too (actions).
*/
#ifndef FLOTILLA_STORE_H_INCLUDED
#define FLOTILLA_STORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flotilla/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _flot_store_t flot_store_t;

#define FLOT_STORE_ID_MAX 96

//  The version of the store's schema this build writes. A store of an
//  older version is migrated to it when opened; a newer one is refused.
#define FLOT_STORE_SCHEMA_VERSION 6

typedef struct {
    char id [FLOT_STORE_ID_MAX];
    char name [FLOT_MAX_NAME + 1];
    char *file;                 //  where the spec came from (for messages)
    char *spec;                 //  the spec's text (NULL: not to be written)
    char *cwd;                  //  the spec's folder (hooks run in the executor's hooks dir)
    char state [24];            //  running, paused, completed, failed, ...
    bool paused;                //  an operator's pause, in any running state
    char promote [8];           //  "", "step" or "full": a promote not yet used
    int64_t created_ms;         //  unix ms
    int64_t updated_ms;
    int64_t finished_ms;        //  0 while unfinished
    int64_t progress_ms;        //  last progress, for the progress deadline
    char *last_error;
    char *created_by;           //  who applied it (Execute), written with its spec:
                                //  the caller's key name ("": unknown)
    void *resolved;             //  strategy.RESOLVED bytes, written with its spec (NULL:
    size_t resolved_size;       //  a row of an older version, to be resolved again)
    char queued_behind [FLOT_STORE_ID_MAX];     //  the deployment it waits behind, or ""
} flot_deployment_row_t;

typedef struct {
    char step_id [FLOT_STORE_ID_MAX];
    char target [FLOT_MAX_KEY + 1];
    int index;
    char type [24];
    char state [16];            //  pending, running, succeeded, failed, skipped
    int attempt;
    int64_t started_ms;
    int64_t finished_ms;
    char *output;               //  the hook's stdout (its last run)
    char *error;
    char *stderr_text;          //  the hook's stderr (its last run); writing NULL keeps it
    int uncounted;              //  attempts the hook's retries do not count
} flot_step_row_t;

//  Open (creating if needed) the store at path, migrating it to this
//  build's schema version in one transaction. Returns NULL with err if it
//  cannot be opened, or is not a store, or its version is newer than this
//  build's or older than any it migrates.
flot_store_t *
    flot_store_open (const char *path, flot_err_t *err);

void
    flot_store_destroy (flot_store_t **self_p);

//  Transactions: group writes that must land together. Each returns 0 or -1.
int flot_store_begin (flot_store_t *self);
int flot_store_commit (flot_store_t *self);
int flot_store_rollback (flot_store_t *self);

//  The last error's sentence.
const char *
    flot_store_error (flot_store_t *self);

//  A new deployment id: "<name>-<n>", n counting up forever in this store.
int
    flot_store_new_id (flot_store_t *self, const char *name, char *id, size_t size);

//  Insert or replace a deployment's row. Its spec, file and cwd are written
//  only if spec is not NULL (once is enough: they never change).
int
    flot_store_put_deployment (flot_store_t *self, const flot_deployment_row_t *row);

//  Load a deployment by id. Returns 1 if found, 0 if not, -1 on error.
int
    flot_store_get_deployment (flot_store_t *self, const char *id,
                               flot_deployment_row_t *row);

//  Free the strings a row holds.
void
    flot_deployment_row_clear (flot_deployment_row_t *row);

//  Call fn for each deployment (unfinished only, if unfinished), oldest
//  first. Stops early if fn returns non-zero. Returns 0 or -1.
typedef int (flot_store_deployment_fn) (const flot_deployment_row_t *row, void *arg);
int
    flot_store_each_deployment (flot_store_t *self, bool unfinished,
                                flot_store_deployment_fn *fn, void *arg);

//  Retention: the finished deployments (completed, failed, aborted,
//  rolled back, rollback failed; never a running, paused, queued or
//  rolling back one) to remove: those finished before before_ms (0: none by
//  age) and those beyond the newest keep finished ones (0: none by count),
//  the first finished first, at most limit of them. Calls fn with each
//  one's id and when it finished; stops early if fn returns non-zero.
//  Returns 0 or -1.
typedef int (flot_store_expired_fn) (const char *id, int64_t finished_ms, void *arg);
int
    flot_store_each_expired (flot_store_t *self, int64_t before_ms, size_t keep,
                             size_t limit, flot_store_expired_fn *fn, void *arg);

//  Remove a deployment and all the store holds of it: its row, its spec,
//  its steps and its actions (in the open transaction, if any). Returns
//  0, or -1.
int
    flot_store_remove_deployment (flot_store_t *self, const char *id);

//  Insert or replace a step's row.
int
    flot_store_put_step (flot_store_t *self, const char *deployment,
                         const flot_step_row_t *row);

//  Call fn for each step of a deployment, in (target, index) order.
typedef int (flot_store_step_fn) (const flot_step_row_t *row, void *arg);
int
    flot_store_each_step (flot_store_t *self, const char *deployment,
                          flot_store_step_fn *fn, void *arg);

//  An operator's command on a deployment, as the store keeps it. Read
//  back, its strings hold only during the callback that gets it.
typedef struct {
    const char *command;        //  "apply" (Execute), "pause", "resume", "promote", "abort"
    const char *by;             //  the caller's key name; "" if not known
    int64_t at_ms;              //  unix ms
    const char *reason;         //  an abort's reason; "full" for a promote in full; else ""
} flot_action_row_t;

//  Record an action on deployment (in the open transaction, if any).
int
    flot_store_add_action (flot_store_t *self, const char *deployment,
                           const flot_action_row_t *action);

//  Call fn for the last limit actions on deployment (0: all), oldest first; total
//  (if not NULL) is set to how many it has in all. Stops early if fn
//  returns non-zero. Returns 0 or -1.
typedef int (flot_store_action_fn) (const flot_action_row_t *action, void *arg);
int
    flot_store_each_action (flot_store_t *self, const char *deployment, size_t limit,
                            size_t *total, flot_store_action_fn *fn, void *arg);

//  The outbox: event bodies (msgpack) waiting to be published, in order.
int
    flot_store_outbox_add (flot_store_t *self, const void *body, size_t size);

//  The oldest waiting event: returns 1 with its id and a copy of its body
//  (caller frees), 0 if none, -1 on error.
int
    flot_store_outbox_first (flot_store_t *self, int64_t *id, void **body, size_t *size);

//  Call fn for each waiting event with an id above after, oldest first, at
//  most limit of them. Stops early if fn returns non-zero. Returns 0 or -1.
typedef int (flot_store_outbox_fn) (int64_t id, const void *body, size_t size, void *arg);
int
    flot_store_outbox_each (flot_store_t *self, int64_t after, size_t limit,
                            flot_store_outbox_fn *fn, void *arg);

//  Remove every waiting event up to id (those published, in order).
int
    flot_store_outbox_remove_upto (flot_store_t *self, int64_t id);

#ifdef __cplusplus
}
#endif

#endif
