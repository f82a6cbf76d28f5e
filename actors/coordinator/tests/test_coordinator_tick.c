/*  test_coordinator_tick.c - what the coordinator's tick looks at: the
    progress deadline of every deployment that can be late (running, paused
    or not, and not queued) still fires among many finished ones, and the
    tick does not walk them until a deadline may be due; a deployment that
    becomes able to be late after that (started, reopened by Retry, loaded)
    brings the next look forward; a clock that goes back looks again. And
    the arguments of cancelled timers and the cancelled decisions are freed
    the oldest first once 5 s old, the others kept.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "coordinator_internal.h"

#define FINISHED 10000
#define T0 1700000000000LL      //  unix ms: the tests' "now"

typedef struct {
    coordinator_t coord;
    flot_spec_t spec;           //  every deployment's: a deadline of 60 s
    zlistx_t *all;              //  deployment_t *, freed at the end
} world_t;

static deployment_t *
s_dep (world_t *world, const char *id, int state, int64_t progress_ms)
{
    deployment_t *dep = calloc (1, sizeof *dep);
    assert_non_null (dep);
    dep->owner = &world->coord;
    dep->spec = &world->spec;
    snprintf (dep->id, sizeof dep->id, "%s", id);
    dep->state = state;
    dep->progress_ms = progress_ms;
    zlistx_add_end (world->all, dep);
    return dep;
}

//  A deployment the coordinator holds, as restore.c or Execute leaves it.
static deployment_t *
s_held (world_t *world, const char *id, int state, int64_t progress_ms)
{
    deployment_t *dep = s_dep (world, id, state, progress_ms);
    zhashx_insert (world->coord.deployments, dep->id, dep);
    return dep;
}

static world_t *
s_world_new (void)
{
    world_t *world = calloc (1, sizeof *world);
    assert_non_null (world);
    world->spec.policy.progress_deadline_ms = 60000;
    world->coord.deployments = zhashx_new ();
    world->coord.listed = zlistx_new ();
    zlistx_set_comparator (world->coord.listed, coord_by_created);
    world->coord.holds = zhashx_new ();
    world->coord.queue = zlistx_new ();
    world->coord.cancelled_refs = zlistx_new ();
    zlistx_set_destructor (world->coord.cancelled_refs, coord_ref_free);
    world->coord.cancelled_decisions = zlistx_new ();
    zlistx_set_destructor (world->coord.cancelled_decisions, coord_decision_free);
    world->all = zlistx_new ();
    //  Finished ones kept for retention, long past any deadline: none of
    //  them is ever late.
    static const int finished [] = { DS_COMPLETED, DS_FAILED, DS_ABORTED, DS_ROLLED_BACK,
                                     DS_ROLLBACK_FAILED };
    for (int i = 0; i < FINISHED; i++) {
        char id [32];
        snprintf (id, sizeof id, "done-%d", i + 1);
        s_held (world, id, finished [i % 5], 0);
    }
    return world;
}

static void
s_world_destroy (world_t **world_p)
{
    world_t *world = *world_p;
    zhashx_destroy (&world->coord.deployments);
    zlistx_destroy (&world->coord.listed);
    zhashx_destroy (&world->coord.holds);
    zlistx_destroy (&world->coord.queue);
    zlistx_destroy (&world->coord.cancelled_refs);
    zlistx_destroy (&world->coord.cancelled_decisions);
    for (deployment_t *dep = zlistx_first (world->all); dep; dep = zlistx_next (world->all))
        free (dep);
    zlistx_destroy (&world->all);
    free (world);
    *world_p = NULL;
}

//  The deployments late at now, as the tick finds them: how many, and
//  the first in *first.
static size_t
s_due (world_t *world, int64_t now, deployment_t **first)
{
    zlistx_t *late = zlistx_new ();
    coord_deadlines_due (&world->coord, now, late);
    size_t count = zlistx_size (late);
    if (first)
        *first = zlistx_first (late);
    zlistx_destroy (&late);
    return count;
}

static void
test_tick_deadline_fires_for_a_paused_one_among_finished (void **state)
{
    (void) state;
    world_t *world = s_world_new ();
    deployment_t *paused = s_held (world, "paused-1", DS_RUNNING, T0);
    paused->paused = true;
    deployment_t *queued = s_held (world, "queued-1", DS_RUNNING, 0);
    snprintf (queued->queued_behind, sizeof queued->queued_behind, "paused-1");
    s_held (world, "rolling-1", DS_ROLLING_BACK, 0);
    //  The first tick looks at them all: none late, the next look at the
    //  paused one's deadline.
    assert_int_equal (s_due (world, T0 + 1000, NULL), 0);
    assert_true (world->coord.deadline_next == T0 + 60000);
    assert_int_equal (s_due (world, T0 + 30000, NULL), 0);
    assert_int_equal (s_due (world, T0 + 60000, NULL), 0);      //  not past it yet
    deployment_t *late = NULL;
    assert_int_equal (s_due (world, T0 + 60001, &late), 1);
    assert_ptr_equal (late, paused);
    //  Still running (the tick did not fail it here): found again.
    coord_deadline_watch (paused);
    assert_int_equal (s_due (world, T0 + 60201, &late), 1);
    assert_ptr_equal (late, paused);
    //  Once it has failed, nothing can be late: the tick looks no more.
    paused->state = DS_ROLLING_BACK;
    assert_int_equal (s_due (world, T0 + 60401, NULL), 0);
    assert_true (world->coord.deadline_next == INT64_MAX);
    s_world_destroy (&world);
}

static void
test_tick_progress_puts_the_deadline_off (void **state)
{
    (void) state;
    world_t *world = s_world_new ();
    deployment_t *a = s_held (world, "a-1", DS_RUNNING, T0);
    deployment_t *b = s_held (world, "b-1", DS_RUNNING, T0 + 20000);
    assert_int_equal (s_due (world, T0, NULL), 0);
    assert_true (world->coord.deadline_next == T0 + 60000);
    //  a made progress (a step ended): its deadline is later than the
    //  tick knew, which only makes it look once for nothing.
    a->progress_ms = T0 + 50000;
    assert_int_equal (s_due (world, T0 + 60001, NULL), 0);
    assert_true (world->coord.deadline_next == T0 + 80000);
    deployment_t *late = NULL;
    assert_int_equal (s_due (world, T0 + 80001, &late), 1);
    assert_ptr_equal (late, b);
    b->state = DS_FAILED;
    assert_true (world->coord.deadline_next == T0 + 110000);
    assert_int_equal (s_due (world, T0 + 110001, &late), 1);
    assert_ptr_equal (late, a);
    s_world_destroy (&world);
}

//  Each way a deployment becomes able to be late after the tick set its
//  next look: that look comes forward to its deadline.
static void
test_tick_sees_one_that_became_able_to_be_late (void **state)
{
    (void) state;
    world_t *world = s_world_new ();
    world->spec.policy.progress_deadline_ms = 1000;
    assert_int_equal (s_due (world, T0, NULL), 0);
    assert_true (world->coord.deadline_next == INT64_MAX);
    //  Started (Execute).
    deployment_t *started = s_dep (world, "started-1", DS_NONE, T0);
    coord_deployment_to (started, FLOT_EV_STARTED);
    assert_int_equal (started->state, DS_RUNNING);
    zhashx_insert (world->coord.deployments, started->id, started);
    assert_true (world->coord.deadline_next == T0 + 1000);
    deployment_t *late = NULL;
    assert_int_equal (s_due (world, T0 + 1001, &late), 1);
    assert_ptr_equal (late, started);
    started->state = DS_FAILED;
    assert_int_equal (s_due (world, T0 + 1002, NULL), 0);
    assert_true (world->coord.deadline_next == INT64_MAX);
    //  Reopened by an operator (Retry of a failed one).
    started->progress_ms = T0 + 5000;
    started->state = DS_FAILED;
    coord_deployment_to (started, FLOT_EV_RETRIED);
    assert_int_equal (started->state, DS_RUNNING);
    assert_int_equal (s_due (world, T0 + 6000, NULL), 0);
    assert_int_equal (s_due (world, T0 + 6001, &late), 1);
    assert_ptr_equal (late, started);
    started->state = DS_COMPLETED;
    assert_int_equal (s_due (world, T0 + 6002, NULL), 0);
    //  Loaded after a restart (restore.c sets its state, then adds it).
    deployment_t *loaded = s_dep (world, "loaded-7", DS_RUNNING, T0 + 7000);
    coord_deployment_add (&world->coord, loaded);
    assert_true (world->coord.deadline_next == T0 + 8000);
    assert_int_equal (s_due (world, T0 + 8001, &late), 1);
    assert_ptr_equal (late, loaded);
    s_world_destroy (&world);
}

static void
test_tick_looks_again_when_the_clock_goes_back (void **state)
{
    (void) state;
    world_t *world = s_world_new ();
    deployment_t *dep = s_held (world, "dep-1", DS_RUNNING, T0);
    assert_int_equal (s_due (world, T0 + 100, NULL), 0);
    assert_true (world->coord.deadline_next == T0 + 60000);
    //  The wall clock went back an hour; its progress was counted after.
    dep->progress_ms = T0 - 3600000;
    deployment_t *late = NULL;
    assert_int_equal (s_due (world, T0 - 3600000 + 60001, &late), 1);
    assert_ptr_equal (late, dep);
    s_world_destroy (&world);
}

static void
test_tick_frees_the_cancelled_oldest_first (void **state)
{
    (void) state;
    world_t *world = s_world_new ();
    coordinator_t *self = &world->coord;
    for (int i = 0; i < 1000; i++) {
        step_ref_t *ref = calloc (1, sizeof *ref);
        assert_non_null (ref);
        ref->cancelled = 1000 + i;
        ref->handle = zlistx_add_end (self->cancelled_refs, ref);
        decision_t *decision = calloc (1, sizeof *decision);
        assert_non_null (decision);
        decision->why = strdup ("failed");
        decision->timer = -1;
        decision->cancelled = 1000 + 2 * i;
        decision->handle = zlistx_add_end (self->cancelled_decisions, decision);
    }
    //  Nothing 5 s old yet.
    coord_cancelled_reap (self, 6000);
    assert_int_equal (zlistx_size (self->cancelled_refs), 1000);
    assert_int_equal (zlistx_size (self->cancelled_decisions), 1000);
    //  Those cancelled before 1100 (refs) are more than 5 s old at 6100.
    coord_cancelled_reap (self, 6100);
    assert_int_equal (zlistx_size (self->cancelled_refs), 900);
    assert_int_equal (zlistx_size (self->cancelled_decisions), 950);
    step_ref_t *ref = zlistx_first (self->cancelled_refs);
    assert_true (ref->cancelled == 1100);
    decision_t *decision = zlistx_first (self->cancelled_decisions);
    assert_true (decision->cancelled == 1100);
    coord_cancelled_reap (self, 1000000);
    assert_int_equal (zlistx_size (self->cancelled_refs), 0);
    assert_int_equal (zlistx_size (self->cancelled_decisions), 0);
    coord_cancelled_reap (self, 1000001);          //  empty: nothing to do
    s_world_destroy (&world);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_tick_deadline_fires_for_a_paused_one_among_finished),
        cmocka_unit_test (test_tick_progress_puts_the_deadline_off),
        cmocka_unit_test (test_tick_sees_one_that_became_able_to_be_late),
        cmocka_unit_test (test_tick_looks_again_when_the_clock_goes_back),
        cmocka_unit_test (test_tick_frees_the_cancelled_oldest_first),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
