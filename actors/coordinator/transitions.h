/*  transitions.h - the coordinator's state machines, written down as data.

    Three kinds of things have a state: a deployment, each of its targets,
    and each step (of its plan, or of its rollback plan). What moves one
    from a state to another is an event: something that happened (a hook
    succeeded, a person promoted, the rollback service reverted a target).
    transitions.c holds one table per kind, rows of {from, event, to}, the
    way zproto's mlm_server.xml writes Malamute's states down once; the
    coordinator changes a state only by looking its event up there
    (deployment.c: coord_deployment_to, coord_target_to, coord_step_to). A move the table does not have is a bug of the coordinator.

    No row starts from "any" state: every move the coordinator makes starts
    from states it knows. A deployment comes into being with the STARTED
    event (from DS_NONE, before Execute); its targets and steps are created
    pending, the zero of their enums (they are calloc'ed). Loading them
    from the store after a restart sets the states the rows say: that is
    loading, not a transition, and goes through no table.

    Pure code: no coordinator state, no I/O. Private to the coordinator.
*/
#ifndef FLOT_TRANSITIONS_H_INCLUDED
#define FLOT_TRANSITIONS_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  The kinds of things with a state.
typedef enum {
    FLOT_KIND_DEPLOYMENT,
    FLOT_KIND_TARGET,
    FLOT_KIND_STEP,
    FLOT_KIND_COUNT
} flot_state_kind_t;

//  A deployment's states. Their names ("running", "rolling_back", ...)
//  are what the store keeps and GetStatus and List show.
enum {
    DS_NONE = -1,               //  not started yet (Execute starts it)
    DS_RUNNING, DS_COMPLETED, DS_FAILED, DS_ABORTED, DS_ROLLING_BACK,
    DS_ROLLED_BACK, DS_ROLLBACK_FAILED, DS_COUNT
};

//  A target's states, as GetStatus shows them.
enum {
    TS_PENDING, TS_RUNNING, TS_WAITING, TS_DONE, TS_FAILED, TS_HELD, TS_ROLLED_BACK,
    TS_SKIPPED, TS_COUNT
};

//  A step's states, as the store keeps them and GetStatus shows them.
enum {
    SS_PENDING, SS_RUNNING, SS_SUCCEEDED, SS_FAILED, SS_SKIPPED, SS_COUNT
};

//  What happens, that moves a deployment, a target or a step. Each event
//  leads to one state of each kind it moves (flot_transition_to), from
//  whichever states the tables allow.
typedef enum {
    //  A deployment
    FLOT_EV_STARTED,            //  Execute: a new deployment runs
    FLOT_EV_ALL_TARGETS_DONE,   //  nothing left to run, every target done
    FLOT_EV_ENDED_INCOMPLETE,   //  nothing more can run, some target is not done
    FLOT_EV_FAILING,            //  it fails (failDeployment, a check's rollback,
                                //  the progress deadline): it rolls back
    FLOT_EV_ABORTED,            //  an operator's Abort: it rolls back
    FLOT_EV_ROLLBACK_COMPLETED, //  every touched target reverted, after a failure
    FLOT_EV_ABORT_COMPLETED,    //  every touched target reverted, after an abort
    FLOT_EV_ROLLBACK_FAILED,    //  the rollback service could not revert it all
    FLOT_EV_ROLLBACK_ASKED,     //  an operator's Rollback of a completed or failed one
    FLOT_EV_RETRIED,            //  an operator's Retry or Skip: a failed one runs again,
                                //  its failed (and stranded) targets and steps pending
    //  A target
    FLOT_EV_SCHEDULED,          //  its turn: dependencies done, its wave reached,
                                //  room under maxConcurrency
    FLOT_EV_PROMOTE_AWAITED,    //  a step that waits for a promote starts (a
                                //  pause without a duration)
    FLOT_EV_NEXT_STEP,          //  its step succeeded (or was skipped): another follows
    FLOT_EV_ALL_STEPS_DONE,     //  its last step succeeded (or it has none)
    FLOT_EV_PAUSE_NEEDS_PERSON, //  a pause's time is up; the strategy says a person decides
    FLOT_EV_GATE_PAUSED,        //  the rollback service paused its gate (a person decides)
    FLOT_EV_STRANDED,           //  the deployment ends before it could start
    //  A target and a step
    FLOT_EV_STEP_START,         //  a step starts (first, or again: a retry)
    FLOT_EV_STEP_FAILED,        //  a step failed for good (no retry left)
    FLOT_EV_ROLLBACK_STARTED,   //  the deployment rolls back: what did not finish stops
    FLOT_EV_REVERTED,           //  the rollback service reverted the target (its step)
    FLOT_EV_SKIPPED_BY_OPERATOR,    //  an operator's Skip: a failed target is let go,
                                    //  its steps not run; dependents go on
    //  A step
    FLOT_EV_STEP_RESUMED,       //  after a restart, a running pause, soak or gate goes on
    FLOT_EV_HOOK_SUCCEEDED,     //  the executor ran its hook, which succeeded
    FLOT_EV_SOAKED,             //  a soak's time is up, the target still good
    FLOT_EV_PAUSE_OVER,         //  a pause's time is up; the strategy says it is over
    FLOT_EV_GATE_PASSED,        //  its checks passed (or the rollback service promoted)
    FLOT_EV_PROMOTED,           //  an operator's Promote ends a pause or a waiting gate
    FLOT_EV_SKIPPED_BY_PROMOTE, //  a pause or gate reached after a promote in full
    FLOT_EV_FAILED_RETRY,       //  it failed; the strategy says it runs again later
    FLOT_EV_REVERT_RUNNING,     //  the rollback service runs a rollback step (an attempt)
    FLOT_EV_REVERT_FAILED,      //  an attempt of a rollback step failed
    FLOT_EV_COUNT
} flot_transition_event_t;

//  A row of a table: on event, a thing of the kind in state from goes to
//  state to.
typedef struct {
    int from;
    flot_transition_event_t event;
    int to;
} flot_transition_row_t;

//  The state a thing of kind in state from goes to on event, or -1 if the
//  table of kind has no such row (a move the coordinator must not make).
int
    flot_transition (flot_state_kind_t kind, int from, flot_transition_event_t event);

//  The state event leads a thing of kind to, from any state its table
//  allows (each event leads to one state of a kind), or -1 if event moves
//  nothing of that kind.
int
    flot_transition_to (flot_state_kind_t kind, flot_transition_event_t event);

//  The table of kind, its rows in *count.
const flot_transition_row_t *
    flot_transitions (flot_state_kind_t kind, size_t *count);

//  A state's name ("rolling_back"), as the store and GetStatus spell it;
//  "none" for DS_NONE, "?" for a number that is no state of kind.
const char *
    flot_state_name (flot_state_kind_t kind, int state);

//  The state of kind called name, or -1 if there is none (DS_NONE is not
//  found by name: it is never stored).
int
    flot_state_from_name (flot_state_kind_t kind, const char *name);

//  An event's name ("HOOK_SUCCEEDED"), for messages.
const char *
    flot_transition_event_name (flot_transition_event_t event);

#ifdef __cplusplus
}
#endif

#endif
