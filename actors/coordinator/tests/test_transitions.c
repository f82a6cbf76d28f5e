/*  test_transitions.c - the coordinator's state machines (transitions.c).

    A test per row of each table: on its event, a deployment, a target or a
    step in its from state goes to its to state. The rows are written here
    again, by hand, as the coordinator's behaviour requires them: a row
    changed or lost in the table fails its test, and a row added to the
    table without a test here fails test_every_row_has_its_test. Then moves
    the coordinator must never make (a completed deployment running again,
    a succeeded step running again without a retry...) are refused (-1),
    and the states keep the names the store and GetStatus use.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "transitions.h"

//  Every row of the three tables: kind (deployment, target, step), from,
//  event, to, with the state prefix of the kind.
#define ROWS(X) \
    X (deployment, DS_, NONE,         STARTED,            RUNNING) \
    X (deployment, DS_, RUNNING,      ALL_TARGETS_DONE,   COMPLETED) \
    X (deployment, DS_, RUNNING,      ENDED_INCOMPLETE,   FAILED) \
    X (deployment, DS_, RUNNING,      FAILING,            ROLLING_BACK) \
    X (deployment, DS_, RUNNING,      ABORTED,            ROLLING_BACK) \
    X (deployment, DS_, ROLLING_BACK, ROLLBACK_COMPLETED, ROLLED_BACK) \
    X (deployment, DS_, ROLLING_BACK, ABORT_COMPLETED,    ABORTED) \
    X (deployment, DS_, ROLLING_BACK, ROLLBACK_FAILED,    ROLLBACK_FAILED) \
    X (deployment, DS_, COMPLETED,    ROLLBACK_ASKED,     ROLLING_BACK) \
    X (deployment, DS_, FAILED,       ROLLBACK_ASKED,     ROLLING_BACK) \
    X (deployment, DS_, FAILED,       RETRIED,            RUNNING) \
    X (target, TS_, PENDING, SCHEDULED,          RUNNING) \
    X (target, TS_, RUNNING, STEP_START,         RUNNING) \
    X (target, TS_, WAITING, STEP_START,         RUNNING) \
    X (target, TS_, RUNNING, PROMOTE_AWAITED,    WAITING) \
    X (target, TS_, WAITING, PROMOTE_AWAITED,    WAITING) \
    X (target, TS_, RUNNING, NEXT_STEP,          RUNNING) \
    X (target, TS_, WAITING, NEXT_STEP,          RUNNING) \
    X (target, TS_, RUNNING, ALL_STEPS_DONE,     DONE) \
    X (target, TS_, WAITING, ALL_STEPS_DONE,     DONE) \
    X (target, TS_, RUNNING, PAUSE_NEEDS_PERSON, WAITING) \
    X (target, TS_, RUNNING, GATE_PAUSED,        WAITING) \
    X (target, TS_, WAITING, GATE_PAUSED,        WAITING) \
    X (target, TS_, RUNNING, STEP_FAILED,        FAILED) \
    X (target, TS_, WAITING, STEP_FAILED,        FAILED) \
    X (target, TS_, HELD,    STEP_FAILED,        FAILED) \
    X (target, TS_, PENDING, STRANDED,           HELD) \
    X (target, TS_, PENDING, ROLLBACK_STARTED,   HELD) \
    X (target, TS_, RUNNING, ROLLBACK_STARTED,   HELD) \
    X (target, TS_, WAITING, ROLLBACK_STARTED,   HELD) \
    X (target, TS_, HELD,    REVERTED,           ROLLED_BACK) \
    X (target, TS_, DONE,    REVERTED,           ROLLED_BACK) \
    X (target, TS_, FAILED,  REVERTED,           ROLLED_BACK) \
    X (target, TS_, SKIPPED, REVERTED,           ROLLED_BACK) \
    X (target, TS_, FAILED,  RETRIED,            PENDING) \
    X (target, TS_, HELD,    RETRIED,            PENDING) \
    X (target, TS_, FAILED,  SKIPPED_BY_OPERATOR, SKIPPED) \
    X (step, SS_, PENDING, STEP_START,         RUNNING) \
    X (step, SS_, RUNNING, STEP_RESUMED,       RUNNING) \
    X (step, SS_, RUNNING, HOOK_SUCCEEDED,     SUCCEEDED) \
    X (step, SS_, RUNNING, SOAKED,             SUCCEEDED) \
    X (step, SS_, RUNNING, PAUSE_OVER,         SUCCEEDED) \
    X (step, SS_, RUNNING, GATE_PASSED,        SUCCEEDED) \
    X (step, SS_, RUNNING, PROMOTED,           SUCCEEDED) \
    X (step, SS_, PENDING, SKIPPED_BY_PROMOTE, SKIPPED) \
    X (step, SS_, RUNNING, FAILED_RETRY,       PENDING) \
    X (step, SS_, RUNNING, STEP_FAILED,        FAILED) \
    X (step, SS_, PENDING, STEP_FAILED,        FAILED) \
    X (step, SS_, RUNNING, ROLLBACK_STARTED,   SKIPPED) \
    X (step, SS_, PENDING, REVERT_RUNNING,     RUNNING) \
    X (step, SS_, FAILED,  REVERT_RUNNING,     RUNNING) \
    X (step, SS_, RUNNING, REVERTED,           SUCCEEDED) \
    X (step, SS_, RUNNING, REVERT_FAILED,      FAILED) \
    X (step, SS_, FAILED,  RETRIED,            PENDING) \
    X (step, SS_, FAILED,  SKIPPED_BY_OPERATOR, SKIPPED) \
    X (step, SS_, PENDING, SKIPPED_BY_OPERATOR, SKIPPED)

#define KIND_deployment FLOT_KIND_DEPLOYMENT
#define KIND_target FLOT_KIND_TARGET
#define KIND_step FLOT_KIND_STEP

//  The test of one row: test_<kind>_<FROM>_on_<EVENT>_to_<TO>.
#define ROW_TEST(kind, prefix, from, event, to) \
static void \
test_##kind##_##from##_on_##event##_to_##to (void **state) \
{ \
    (void) state; \
    print_message ("%s %s on %s -> %s\n", #kind, #from, #event, #to); \
    assert_int_equal (flot_transition (KIND_##kind, prefix##from, FLOT_EV_##event), \
                      prefix##to); \
}
ROWS (ROW_TEST)

#define ROW_ENTRY(kind, prefix, from, event, to) \
    cmocka_unit_test (test_##kind##_##from##_on_##event##_to_##to),

#define ROW_DATA(kind, prefix, from, event, to) \
    { KIND_##kind, prefix##from, FLOT_EV_##event, prefix##to },

typedef struct {
    flot_state_kind_t kind;
    int from;
    flot_transition_event_t event;
    int to;
} expected_t;

static const expected_t s_expected [] = { ROWS (ROW_DATA) };
#define EXPECTED (sizeof s_expected / sizeof s_expected [0])

//  Each row of each table is one of the rows tested above, and the tables
//  hold no more rows than those: no row goes untested.
static void
test_every_row_has_its_test (void **state)
{
    (void) state;
    size_t total = 0;
    for (int kind = 0; kind < FLOT_KIND_COUNT; kind++) {
        size_t count;
        const flot_transition_row_t *rows = flot_transitions (kind, &count);
        assert_non_null (rows);
        total += count;
        for (size_t i = 0; i < count; i++) {
            bool found = false;
            for (size_t k = 0; k < EXPECTED && !found; k++)
                found = s_expected [k].kind == (flot_state_kind_t) kind
                     && s_expected [k].from == rows [i].from
                     && s_expected [k].event == rows [i].event
                     && s_expected [k].to == rows [i].to;
            if (!found)
                fail_msg ("kind %d: %s on %s -> %s has no test", kind,
                          flot_state_name (kind, rows [i].from),
                          flot_transition_event_name (rows [i].event),
                          flot_state_name (kind, rows [i].to));
        }
    }
    assert_int_equal (total, EXPECTED);
}

//  A table never has two rows for the same state and event.
static void
test_tables_are_deterministic (void **state)
{
    (void) state;
    for (int kind = 0; kind < FLOT_KIND_COUNT; kind++) {
        size_t count;
        const flot_transition_row_t *rows = flot_transitions (kind, &count);
        for (size_t i = 0; i < count; i++)
            for (size_t k = i + 1; k < count; k++)
                if (rows [i].from == rows [k].from && rows [i].event == rows [k].event)
                    fail_msg ("kind %d: two rows for %s on %s", kind,
                              flot_state_name (kind, rows [i].from),
                              flot_transition_event_name (rows [i].event));
    }
}

//  Each event leads a kind to one state, whatever the state it leaves, and
//  every event moves something: what the coordinator falls back on for a
//  move the table lacks.
static void
test_an_event_leads_a_kind_to_one_state (void **state)
{
    (void) state;
    for (int kind = 0; kind < FLOT_KIND_COUNT; kind++) {
        size_t count;
        const flot_transition_row_t *rows = flot_transitions (kind, &count);
        for (size_t i = 0; i < count; i++)
            assert_int_equal (flot_transition_to (kind, rows [i].event), rows [i].to);
    }
    //  Every event moves something: a missing row falls back on it.
    for (int event = 0; event < FLOT_EV_COUNT; event++) {
        int moved = 0;
        for (int kind = 0; kind < FLOT_KIND_COUNT; kind++)
            moved += flot_transition_to (kind, event) >= 0;
        if (!moved)
            fail_msg ("%s moves nothing", flot_transition_event_name (event));
    }
    assert_int_equal (flot_transition_to (FLOT_KIND_STEP, FLOT_EV_HOOK_SUCCEEDED), SS_SUCCEEDED);
    assert_int_equal (flot_transition_to (FLOT_KIND_TARGET, FLOT_EV_REVERTED), TS_ROLLED_BACK);
    //  An event that moves nothing of a kind.
    assert_int_equal (flot_transition_to (FLOT_KIND_DEPLOYMENT, FLOT_EV_HOOK_SUCCEEDED), -1);
    assert_int_equal (flot_transition_to (FLOT_KIND_STEP, FLOT_EV_SCHEDULED), -1);
    assert_int_equal (flot_transition_to (FLOT_KIND_TARGET, FLOT_EV_STARTED), -1);
}

//  A finished deployment never runs, rolls back or finishes again, but by
//  an operator's command: a completed or failed one is rolled back
//  (Rollback), a failed one runs again (Retry, Skip).
static void
test_deployment_finished_moves_no_more (void **state)
{
    (void) state;
    int finished [] = { DS_COMPLETED, DS_FAILED, DS_ABORTED, DS_ROLLED_BACK,
                        DS_ROLLBACK_FAILED };
    for (size_t i = 0; i < sizeof finished / sizeof finished [0]; i++)
        for (int event = 0; event < FLOT_EV_COUNT; event++) {
            int to = flot_transition (FLOT_KIND_DEPLOYMENT, finished [i], event);
            bool operator = (event == FLOT_EV_ROLLBACK_ASKED
                             && (finished [i] == DS_COMPLETED || finished [i] == DS_FAILED))
                         || (event == FLOT_EV_RETRIED && finished [i] == DS_FAILED);
            assert_int_equal (to, operator ? (event == FLOT_EV_RETRIED ? DS_RUNNING
                                                                       : DS_ROLLING_BACK) : -1);
        }
    assert_int_equal (flot_transition (FLOT_KIND_DEPLOYMENT, DS_COMPLETED, FLOT_EV_STARTED), -1);
    assert_int_equal (flot_transition (FLOT_KIND_DEPLOYMENT, DS_COMPLETED, FLOT_EV_RETRIED), -1);
}

//  Impossible moves: each is refused.
static void
test_impossible_moves_are_refused (void **state)
{
    (void) state;
    //  A deployment starts once; an abort, a failure or a completion needs
    //  it running; a rolling back one neither completes nor aborts again.
    assert_int_equal (flot_transition (FLOT_KIND_DEPLOYMENT, DS_RUNNING, FLOT_EV_STARTED), -1);
    assert_int_equal (flot_transition (FLOT_KIND_DEPLOYMENT, DS_ROLLING_BACK,
                                       FLOT_EV_ABORTED), -1);
    assert_int_equal (flot_transition (FLOT_KIND_DEPLOYMENT, DS_ROLLING_BACK,
                                       FLOT_EV_ALL_TARGETS_DONE), -1);
    assert_int_equal (flot_transition (FLOT_KIND_DEPLOYMENT, DS_RUNNING,
                                       FLOT_EV_ROLLBACK_COMPLETED), -1);
    assert_int_equal (flot_transition (FLOT_KIND_DEPLOYMENT, DS_NONE, FLOT_EV_ABORTED), -1);
    //  A step that succeeded, failed or was skipped never runs again (a
    //  rollback step that failed runs again only as a rollback attempt).
    assert_int_equal (flot_transition (FLOT_KIND_STEP, SS_SUCCEEDED, FLOT_EV_STEP_START), -1);
    assert_int_equal (flot_transition (FLOT_KIND_STEP, SS_SUCCEEDED, FLOT_EV_STEP_RESUMED), -1);
    assert_int_equal (flot_transition (FLOT_KIND_STEP, SS_SUCCEEDED, FLOT_EV_FAILED_RETRY), -1);
    assert_int_equal (flot_transition (FLOT_KIND_STEP, SS_FAILED, FLOT_EV_STEP_START), -1);
    assert_int_equal (flot_transition (FLOT_KIND_STEP, SS_SKIPPED, FLOT_EV_STEP_START), -1);
    //  A pending step does not succeed (it fails only when a check fails
    //  its target while it waits to be retried); a step that runs is not
    //  skipped by a promote; a pending step is not resumed.
    assert_int_equal (flot_transition (FLOT_KIND_STEP, SS_PENDING, FLOT_EV_HOOK_SUCCEEDED), -1);
    assert_int_equal (flot_transition (FLOT_KIND_STEP, SS_PENDING, FLOT_EV_FAILED_RETRY), -1);
    assert_int_equal (flot_transition (FLOT_KIND_STEP, SS_RUNNING,
                                       FLOT_EV_SKIPPED_BY_PROMOTE), -1);
    assert_int_equal (flot_transition (FLOT_KIND_STEP, SS_PENDING, FLOT_EV_STEP_RESUMED), -1);
    //  A step that failed or succeeded does not fail or succeed again.
    assert_int_equal (flot_transition (FLOT_KIND_STEP, SS_FAILED, FLOT_EV_STEP_FAILED), -1);
    assert_int_equal (flot_transition (FLOT_KIND_STEP, SS_SUCCEEDED, FLOT_EV_REVERTED), -1);
    //  A target done or failed does not run again; one not started is
    //  neither done nor failed; a held one is not scheduled.
    assert_int_equal (flot_transition (FLOT_KIND_TARGET, TS_DONE, FLOT_EV_STEP_START), -1);
    assert_int_equal (flot_transition (FLOT_KIND_TARGET, TS_DONE, FLOT_EV_SCHEDULED), -1);
    assert_int_equal (flot_transition (FLOT_KIND_TARGET, TS_FAILED, FLOT_EV_STEP_START), -1);
    assert_int_equal (flot_transition (FLOT_KIND_TARGET, TS_FAILED, FLOT_EV_STEP_FAILED), -1);
    assert_int_equal (flot_transition (FLOT_KIND_TARGET, TS_PENDING, FLOT_EV_ALL_STEPS_DONE), -1);
    assert_int_equal (flot_transition (FLOT_KIND_TARGET, TS_PENDING, FLOT_EV_STEP_FAILED), -1);
    assert_int_equal (flot_transition (FLOT_KIND_TARGET, TS_HELD, FLOT_EV_SCHEDULED), -1);
    //  A target rolled back stays so; done ones are not held at a rollback.
    assert_int_equal (flot_transition (FLOT_KIND_TARGET, TS_ROLLED_BACK, FLOT_EV_STEP_FAILED), -1);
    assert_int_equal (flot_transition (FLOT_KIND_TARGET, TS_ROLLED_BACK, FLOT_EV_REVERTED), -1);
    assert_int_equal (flot_transition (FLOT_KIND_TARGET, TS_DONE, FLOT_EV_ROLLBACK_STARTED), -1);
    //  No state of another kind, nor a number that is no state or event.
    assert_int_equal (flot_transition (FLOT_KIND_TARGET, 42, FLOT_EV_STEP_START), -1);
    assert_int_equal (flot_transition (FLOT_KIND_STEP, SS_PENDING, FLOT_EV_COUNT), -1);
    assert_int_equal (flot_transition (FLOT_KIND_COUNT, 0, FLOT_EV_STARTED), -1);
}

//  The states keep the names the store holds and GetStatus shows.
static void
test_state_names_are_the_stored_ones (void **state)
{
    (void) state;
    const char *deployments [] = { "running", "completed", "failed", "aborted",
                                   "rolling_back", "rolled_back", "rollback_failed" };
    const char *targets [] = { "pending", "running", "waiting", "done", "failed", "held",
                               "rolled_back", "skipped" };
    const char *steps [] = { "pending", "running", "succeeded", "failed", "skipped" };
    assert_int_equal (DS_COUNT, 7);
    assert_int_equal (TS_COUNT, 8);
    assert_int_equal (SS_COUNT, 5);
    for (int s = 0; s < DS_COUNT; s++) {
        assert_string_equal (flot_state_name (FLOT_KIND_DEPLOYMENT, s), deployments [s]);
        assert_int_equal (flot_state_from_name (FLOT_KIND_DEPLOYMENT, deployments [s]), s);
    }
    for (int s = 0; s < TS_COUNT; s++) {
        assert_string_equal (flot_state_name (FLOT_KIND_TARGET, s), targets [s]);
        assert_int_equal (flot_state_from_name (FLOT_KIND_TARGET, targets [s]), s);
    }
    for (int s = 0; s < SS_COUNT; s++) {
        assert_string_equal (flot_state_name (FLOT_KIND_STEP, s), steps [s]);
        assert_int_equal (flot_state_from_name (FLOT_KIND_STEP, steps [s]), s);
    }
    assert_int_equal (DS_ROLLING_BACK, 4);
    assert_string_equal (flot_state_name (FLOT_KIND_DEPLOYMENT, DS_NONE), "none");
    assert_int_equal (flot_state_from_name (FLOT_KIND_DEPLOYMENT, "none"), -1);
    assert_string_equal (flot_state_name (FLOT_KIND_STEP, SS_COUNT), "?");
    assert_string_equal (flot_state_name (FLOT_KIND_TARGET, -1), "?");
    assert_int_equal (flot_state_from_name (FLOT_KIND_STEP, "paused"), -1);
    assert_int_equal (flot_state_from_name (FLOT_KIND_STEP, NULL), -1);
    assert_int_equal (flot_state_from_name (FLOT_KIND_TARGET, "succeeded"), -1);
}

//  Targets and steps are created pending: calloc'ed, their zero state.
static void
test_targets_and_steps_start_pending_at_zero (void **state)
{
    (void) state;
    assert_int_equal (TS_PENDING, 0);
    assert_int_equal (SS_PENDING, 0);
}

//  Every event has a name, for the coordinator's messages.
static void
test_every_event_has_a_name (void **state)
{
    (void) state;
    for (int event = 0; event < FLOT_EV_COUNT; event++)
        assert_string_not_equal (flot_transition_event_name (event), "?");
    assert_string_equal (flot_transition_event_name (FLOT_EV_HOOK_SUCCEEDED), "HOOK_SUCCEEDED");
    assert_string_equal (flot_transition_event_name (FLOT_EV_REVERT_FAILED), "REVERT_FAILED");
    assert_string_equal (flot_transition_event_name (FLOT_EV_COUNT), "?");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        ROWS (ROW_ENTRY)
        cmocka_unit_test (test_every_row_has_its_test),
        cmocka_unit_test (test_tables_are_deterministic),
        cmocka_unit_test (test_an_event_leads_a_kind_to_one_state),
        cmocka_unit_test (test_deployment_finished_moves_no_more),
        cmocka_unit_test (test_impossible_moves_are_refused),
        cmocka_unit_test (test_state_names_are_the_stored_ones),
        cmocka_unit_test (test_targets_and_steps_start_pending_at_zero),
        cmocka_unit_test (test_every_event_has_a_name),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
