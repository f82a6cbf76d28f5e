/*  transitions.c - the coordinator's state machines: a table per kind.

    Each row says: on this event, a thing in this state goes to that one.
    The comment of a row names the coordinator's function that makes the
    move (in steps.c, schedule.c, gates.c, commands.c or deployment.c). A
    move that is not here is a bug: the coordinator logs it ("no
    transition") and goes to the state the event leads to all the same, so
    that a missing row never stops a deployment. See transitions.h for the
    states and the events.
*/
#include <string.h>

#include "transitions.h"

#define ROWS(table) (sizeof (table) / sizeof (table) [0])

//  --------------------------------------------------------------------------
//  A deployment

static const flot_transition_row_t s_deployment [] = {
    //  s_submitted: Execute, once the strategy service resolved the spec.
    { DS_NONE,          FLOT_EV_STARTED,            DS_RUNNING },
    //  s_advance_forward: nothing runs, nothing more can start.
    { DS_RUNNING,       FLOT_EV_ALL_TARGETS_DONE,   DS_COMPLETED },
    { DS_RUNNING,       FLOT_EV_ENDED_INCOMPLETE,   DS_FAILED },
    //  s_fail: failDeployment, a check's rollback decision, the deadline.
    { DS_RUNNING,       FLOT_EV_FAILING,            DS_ROLLING_BACK },
    //  s_abort (refused in any other state).
    { DS_RUNNING,       FLOT_EV_ABORTED,            DS_ROLLING_BACK },
    //  s_advance_rollback: no target is left to revert.
    { DS_ROLLING_BACK,  FLOT_EV_ROLLBACK_COMPLETED, DS_ROLLED_BACK },
    { DS_ROLLING_BACK,  FLOT_EV_ABORT_COMPLETED,    DS_ABORTED },
    //  s_on_rollback: the rollback service's stream ends, not completed.
    { DS_ROLLING_BACK,  FLOT_EV_ROLLBACK_FAILED,    DS_ROLLBACK_FAILED },
    //  s_rollback: an operator rolls back what completed, or failed.
    { DS_COMPLETED,     FLOT_EV_ROLLBACK_ASKED,     DS_ROLLING_BACK },
    { DS_FAILED,        FLOT_EV_ROLLBACK_ASKED,     DS_ROLLING_BACK },
    //  s_retry, s_skip: a failed deployment runs again.
    { DS_FAILED,        FLOT_EV_RETRIED,            DS_RUNNING },
};

//  --------------------------------------------------------------------------
//  A target
//
//  While the deployment rolls back a target is held, done, failed or
//  rolled back: nothing moves it to running or waiting again.

static const flot_transition_row_t s_target [] = {
    //  s_advance_forward: a target whose turn it is.
    { TS_PENDING,       FLOT_EV_SCHEDULED,          TS_RUNNING },
    //  s_step_start. From waiting: a step that waited (for a promote, or
    //  a person at its gate) failed a check, and the strategy retries it.
    { TS_RUNNING,       FLOT_EV_STEP_START,         TS_RUNNING },
    { TS_WAITING,       FLOT_EV_STEP_START,         TS_RUNNING },
    { TS_RUNNING,       FLOT_EV_PROMOTE_AWAITED,    TS_WAITING },
    { TS_WAITING,       FLOT_EV_PROMOTE_AWAITED,    TS_WAITING },
    //  s_step_succeeded, the deployment running: from waiting when a
    //  promote (or the rollback service) ends a pause or a gate.
    { TS_RUNNING,       FLOT_EV_NEXT_STEP,          TS_RUNNING },
    { TS_WAITING,       FLOT_EV_NEXT_STEP,          TS_RUNNING },
    //  s_target_done: after its last step, or at once if it has none.
    { TS_RUNNING,       FLOT_EV_ALL_STEPS_DONE,     TS_DONE },
    { TS_WAITING,       FLOT_EV_ALL_STEPS_DONE,     TS_DONE },
    //  s_on_promote_decided: a timed pause a person must end.
    { TS_RUNNING,       FLOT_EV_PAUSE_NEEDS_PERSON, TS_WAITING },
    //  s_on_decision: pause at a gate. Again from waiting when a second
    //  answer, asked before the first came, says pause too.
    { TS_RUNNING,       FLOT_EV_GATE_PAUSED,        TS_WAITING },
    { TS_WAITING,       FLOT_EV_GATE_PAUSED,        TS_WAITING },
    //  s_step_decided: no retry. From waiting: a check failed the target
    //  at a pause or a waiting gate. From held: its hook, in flight when
    //  the rollback started, failed.
    { TS_RUNNING,       FLOT_EV_STEP_FAILED,        TS_FAILED },
    { TS_WAITING,       FLOT_EV_STEP_FAILED,        TS_FAILED },
    { TS_HELD,          FLOT_EV_STEP_FAILED,        TS_FAILED },
    //  s_advance_forward: the end came before its turn (a dependency failed).
    { TS_PENDING,       FLOT_EV_STRANDED,           TS_HELD },
    //  s_rollback_start: what did not finish will not.
    { TS_PENDING,       FLOT_EV_ROLLBACK_STARTED,   TS_HELD },
    { TS_RUNNING,       FLOT_EV_ROLLBACK_STARTED,   TS_HELD },
    { TS_WAITING,       FLOT_EV_ROLLBACK_STARTED,   TS_HELD },
    //  s_rollback_step: a touched target reverted, whatever it had reached.
    { TS_HELD,          FLOT_EV_REVERTED,           TS_ROLLED_BACK },
    { TS_DONE,          FLOT_EV_REVERTED,           TS_ROLLED_BACK },
    { TS_FAILED,        FLOT_EV_REVERTED,           TS_ROLLED_BACK },
    { TS_SKIPPED,       FLOT_EV_REVERTED,           TS_ROLLED_BACK },
    //  s_retry: a failed target runs again; one the end stranded gets its
    //  turn (s_skip too).
    { TS_FAILED,        FLOT_EV_RETRIED,            TS_PENDING },
    { TS_HELD,          FLOT_EV_RETRIED,            TS_PENDING },
    //  s_skip: a failed target is let go.
    { TS_FAILED,        FLOT_EV_SKIPPED_BY_OPERATOR, TS_SKIPPED },
};

//  --------------------------------------------------------------------------
//  A step (forward, or of the rollback plan: the REVERT events)

static const flot_transition_row_t s_step [] = {
    //  s_step_start; a step that runs again after a failure is pending.
    { SS_PENDING,       FLOT_EV_STEP_START,         SS_RUNNING },
    //  s_step_start from s_go_on: a timed pause, a soak or a gate running
    //  when the coordinator stopped goes on (a hook's step is pending again).
    { SS_RUNNING,       FLOT_EV_STEP_RESUMED,       SS_RUNNING },
    //  s_step_succeeded, from s_on_hook, s_on_step_timer,
    //  s_on_promote_decided, s_gate_passed, s_promote.
    { SS_RUNNING,       FLOT_EV_HOOK_SUCCEEDED,     SS_SUCCEEDED },
    { SS_RUNNING,       FLOT_EV_SOAKED,             SS_SUCCEEDED },
    { SS_RUNNING,       FLOT_EV_PAUSE_OVER,         SS_SUCCEEDED },
    { SS_RUNNING,       FLOT_EV_GATE_PASSED,        SS_SUCCEEDED },
    { SS_RUNNING,       FLOT_EV_PROMOTED,           SS_SUCCEEDED },
    //  s_step_start, after a promote in full: it never runs.
    { SS_PENDING,       FLOT_EV_SKIPPED_BY_PROMOTE, SS_SKIPPED },
    //  s_step_decided, as the strategy service decided.
    { SS_RUNNING,       FLOT_EV_FAILED_RETRY,       SS_PENDING },
    { SS_RUNNING,       FLOT_EV_STEP_FAILED,        SS_FAILED },
    //  s_step_decided: a check failed the target while the step waited
    //  to be retried (its retry is cancelled).
    { SS_PENDING,       FLOT_EV_STEP_FAILED,        SS_FAILED },
    //  s_rollback_start: a step that waits (no hook in flight) stops.
    { SS_RUNNING,       FLOT_EV_ROLLBACK_STARTED,   SS_SKIPPED },
    //  s_rollback_step: the rollback service's progress. Each attempt runs
    //  (the first from pending, another after a failed one), then
    //  succeeds or fails.
    { SS_PENDING,       FLOT_EV_REVERT_RUNNING,     SS_RUNNING },
    { SS_FAILED,        FLOT_EV_REVERT_RUNNING,     SS_RUNNING },
    { SS_RUNNING,       FLOT_EV_REVERTED,           SS_SUCCEEDED },
    { SS_RUNNING,       FLOT_EV_REVERT_FAILED,      SS_FAILED },
    //  s_retry: a failed step runs again, as a new attempt.
    { SS_FAILED,        FLOT_EV_RETRIED,            SS_PENDING },
    //  s_skip: the failed step, and those after it, never run.
    { SS_FAILED,        FLOT_EV_SKIPPED_BY_OPERATOR, SS_SKIPPED },
    { SS_PENDING,       FLOT_EV_SKIPPED_BY_OPERATOR, SS_SKIPPED },
};

//  --------------------------------------------------------------------------
//  Names

static const char *s_deployment_names [DS_COUNT] = {
    "running", "completed", "failed", "aborted", "rolling_back", "rolled_back",
    "rollback_failed"
};

static const char *s_target_names [TS_COUNT] = {
    "pending", "running", "waiting", "done", "failed", "held", "rolled_back", "skipped"
};

static const char *s_step_names [SS_COUNT] = {
    "pending", "running", "succeeded", "failed", "skipped"
};

#define EV(name) [FLOT_EV_##name] = #name
static const char *s_event_names [FLOT_EV_COUNT] = {
    EV (STARTED), EV (ALL_TARGETS_DONE), EV (ENDED_INCOMPLETE), EV (FAILING), EV (ABORTED),
    EV (ROLLBACK_COMPLETED), EV (ABORT_COMPLETED), EV (ROLLBACK_FAILED),
    EV (ROLLBACK_ASKED), EV (RETRIED),
    EV (SCHEDULED), EV (PROMOTE_AWAITED), EV (NEXT_STEP), EV (ALL_STEPS_DONE),
    EV (PAUSE_NEEDS_PERSON), EV (GATE_PAUSED), EV (STRANDED),
    EV (STEP_START), EV (STEP_FAILED), EV (ROLLBACK_STARTED), EV (REVERTED),
    EV (SKIPPED_BY_OPERATOR),
    EV (STEP_RESUMED), EV (HOOK_SUCCEEDED), EV (SOAKED), EV (PAUSE_OVER), EV (GATE_PASSED),
    EV (PROMOTED), EV (SKIPPED_BY_PROMOTE), EV (FAILED_RETRY), EV (REVERT_RUNNING),
    EV (REVERT_FAILED)
};

//  --------------------------------------------------------------------------

const flot_transition_row_t *
flot_transitions (flot_state_kind_t kind, size_t *count)
{
    switch (kind) {
        case FLOT_KIND_DEPLOYMENT:
            *count = ROWS (s_deployment);
            return s_deployment;
        case FLOT_KIND_TARGET:
            *count = ROWS (s_target);
            return s_target;
        case FLOT_KIND_STEP:
            *count = ROWS (s_step);
            return s_step;
        default:
            *count = 0;
            return NULL;
    }
}

int
flot_transition (flot_state_kind_t kind, int from, flot_transition_event_t event)
{
    size_t count;
    const flot_transition_row_t *rows = flot_transitions (kind, &count);
    for (size_t i = 0; i < count; i++)
        if (rows [i].from == from && rows [i].event == event)
            return rows [i].to;
    return -1;
}

int
flot_transition_to (flot_state_kind_t kind, flot_transition_event_t event)
{
    size_t count;
    const flot_transition_row_t *rows = flot_transitions (kind, &count);
    for (size_t i = 0; i < count; i++)
        if (rows [i].event == event)
            return rows [i].to;
    return -1;
}

//  The names of kind's states, their number in *count.
static const char **
s_names (flot_state_kind_t kind, int *count)
{
    switch (kind) {
        case FLOT_KIND_DEPLOYMENT:
            *count = DS_COUNT;
            return s_deployment_names;
        case FLOT_KIND_TARGET:
            *count = TS_COUNT;
            return s_target_names;
        case FLOT_KIND_STEP:
            *count = SS_COUNT;
            return s_step_names;
        default:
            *count = 0;
            return NULL;
    }
}

const char *
flot_state_name (flot_state_kind_t kind, int state)
{
    int count;
    const char **names = s_names (kind, &count);
    if (kind == FLOT_KIND_DEPLOYMENT && state == DS_NONE)
        return "none";
    return state >= 0 && state < count ? names [state] : "?";
}

int
flot_state_from_name (flot_state_kind_t kind, const char *name)
{
    int count;
    const char **names = s_names (kind, &count);
    for (int state = 0; name && state < count; state++)
        if (strcmp (names [state], name) == 0)
            return state;
    return -1;
}

const char *
flot_transition_event_name (flot_transition_event_t event)
{
    return (int) event >= 0 && event < FLOT_EV_COUNT && s_event_names [event]
         ? s_event_names [event] : "?";
}
