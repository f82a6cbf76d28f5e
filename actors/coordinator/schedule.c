/*  schedule.c - what a deployment does next.

    coord_advance is called after every change: while the deployment runs,
    it starts the targets whose turn it is (in dependency order and waves,
    at most maxConcurrency at once, each at its current step, steps.c) and
    ends the deployment when nothing more can start; while it rolls back,
    it asks the rollback service to revert what the deployment touched and
    records that service's progress step by step (coord_rollback_start
    builds the rollback plan; restore.c builds it again after a restart).
    A deployment fails (coord_fail) from a step (steps.c), a gate
    (gates.c) or the progress deadline (commands.c).
*/

#include "coordinator_internal.h"

//  --------------------------------------------------------------------------
//  Finishing a deployment

static void
s_finish (deployment_t *dep, flot_transition_event_t event, const char *message)
{
    coord_deployment_to (dep, event);
    int state = dep->state;
    dep->finished_ms = coord_now ();
    coord_gates_stop (dep);
    size_t n = dep->spec->target_count, done = 0;
    for (size_t t = 0; t < n; t++)
        done += dep->tstate [t] == TS_DONE;
    if (state == DS_COMPLETED)
        coord_event (dep, -1, &flot_event_deployment_completed_def,
                     &(flot_event_deployment_completed_t) {
                         .targets = n, .steps = dep->steps_done },
                     "%s", message);
    else
    if (state == DS_FAILED)
        coord_event (dep, -1, &flot_event_deployment_failed_def,
                     &(flot_event_deployment_failed_t) {
                         .reason = message, .targets = n, .targets_done = done },
                     "%s", message);
    else
    if (state == DS_ABORTED)
        coord_event (dep, -1, &flot_event_deployment_aborted_def,
                     &(flot_event_deployment_aborted_t) {
                         .by = dep->aborted_by, .reason = message }, "%s", message);
    else
        coord_event (dep, -1, &flot_event_deployment_rolled_back_def,
                     &(flot_event_deployment_rolled_back_t) { .reason = message }, "%s", message);
    coord_save_deployment (dep);
}

//  The deployment failed: record why, and roll back.
void
coord_fail (deployment_t *dep, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (dep->last_error, sizeof dep->last_error, format, args);
    va_end (args);
    coord_deployment_to (dep, FLOT_EV_FAILING);
    coord_event (dep, -1, &flot_event_deployment_failing_def,
                 &(flot_event_deployment_failing_t) { .reason = dep->last_error },
                 "%s", dep->last_error);
    coord_save_deployment (dep);
    coord_rollback_start (dep);
}

//  --------------------------------------------------------------------------
//  Scheduling

static bool
s_target_ready (const deployment_t *dep, int t)
{
    return dep->tstate [t] == TS_PENDING && dep->deps_left [t] == 0
        && dep->spec->targets [t].wave <= dep->waves_done;
}

static int
s_by_index (const void *a, const void *b)
{
    return *(const int *) a - *(const int *) b;
}

//  The forward plan: start what may start; finish when nothing can.
static void
s_advance_forward (deployment_t *dep)
{
    size_t n = dep->spec->target_count;
    //  Running targets whose current step has not started (the next step
    //  of one, or after a resume), in the spec's order. Only the running
    //  ones are looked at: at most the concurrency, not every target.
    size_t count = 0;
    int *ready = NULL;
    for (size_t i = 0; i < dep->running_count && !dep->paused; i++) {
        int t = dep->running [i];
        if (dep->cursor [t] < dep->plan->first [t + 1]) {
            step_rt_t *rt = &dep->steps [dep->cursor [t]];
            if (rt->state == SS_PENDING && rt->timer < 0 && rt->call == 0) {
                if (!ready)
                    ready = malloc (dep->running_count * sizeof (int));
                assert (ready);
                ready [count++] = t;
            }
        }
    }
    if (count > 1)
        qsort (ready, count, sizeof (int), s_by_index);
    for (size_t i = 0; i < count; i++) {
        int t = ready [i];
        //  Starting one may change another (a failure that stops it all).
        if (dep->paused || dep->tstate [t] != TS_RUNNING)
            continue;
        step_rt_t *rt = &dep->steps [dep->cursor [t]];
        if (rt->state == SS_PENDING && rt->timer < 0 && rt->call == 0)
            coord_step_start (dep, dep->cursor [t]);
        if (dep->state != DS_RUNNING) {
            free (ready);
            return;
        }
    }
    free (ready);
    //  Pending targets that may start, in the plan's order, from the first
    //  still pending (a target never comes back to pending but retried,
    //  which looks from the start again).
    size_t concurrency = dep->plan->concurrency;
    while (dep->order_first < n && dep->tstate [dep->plan->order [dep->order_first]] != TS_PENDING)
        dep->order_first++;
    for (size_t i = dep->order_first; i < n && !dep->paused && dep->in_progress < concurrency;
         i++) {
        int t = dep->plan->order [i];
        if (!s_target_ready (dep, t))
            continue;
        coord_target_to (dep, t, FLOT_EV_SCHEDULED);
        dep->in_progress++;
        if (dep->cursor [t] == dep->plan->first [t + 1]) {
            coord_target_done (dep, t);        //  a target with no steps
            continue;
        }
        coord_step_start (dep, dep->cursor [t]);
        if (dep->state != DS_RUNNING)
            return;
    }
    //  Paused, nothing starts, but nothing is over either: resume goes on.
    if (dep->in_progress > 0 || dep->paused)
        return;
    //  Nothing runs and nothing more can start: the end.
    size_t done = 0, skipped = 0;
    for (size_t t = 0; t < n; t++) {
        if (dep->tstate [t] == TS_PENDING)
            coord_target_to (dep, t, FLOT_EV_STRANDED);
        done += dep->tstate [t] == TS_DONE;
        skipped += dep->tstate [t] == TS_SKIPPED;
    }
    coord_begin (dep->owner);
    if (done == n)
        s_finish (dep, FLOT_EV_ALL_TARGETS_DONE, "every target is on the new version");
    else
    if (done + skipped == n) {
        char message [128];
        snprintf (message, sizeof message, "%zu of %zu targets on the new version; %zu "
                  "skipped by an operator", done, n, skipped);
        s_finish (dep, FLOT_EV_ALL_TARGETS_DONE, message);
    }
    else {
        char message [sizeof dep->last_error];
        snprintf (message, sizeof message, "%zu of %zu targets done; %.400s", done, n,
                  dep->last_error);
        memcpy (dep->last_error, message, sizeof message);
        s_finish (dep, FLOT_EV_ENDED_INCOMPLETE, message);
    }
    coord_commit (dep->owner);
}

//  Targets the deployment changed, and (blue-green) those it switched.
static void
s_touched (deployment_t *dep, bool *touched, bool *switched)
{
    for (size_t s = 0; s < dep->plan->step_count; s++) {
        const flot_step_t *step = &dep->plan->steps [s];
        const step_rt_t *rt = &dep->steps [s];
        if (step->runs_hook && rt->attempt > 0)
            touched [step->target] = true;
        if (step->type == FLOT_STEP_SWITCH && rt->attempt > 0)
            switched [step->target] = true;
    }
}

//  The rollback plan of what the deployment touched, with its steps pending.
void
coord_rollback_plan (deployment_t *dep)
{
    size_t n = dep->spec->target_count;
    bool *touched = calloc (n, sizeof (bool)), *switched = calloc (n, sizeof (bool));
    s_touched (dep, touched, switched);
    flot_plan_destroy (&dep->back);
    flot_err_t err;
    dep->back = flot_resolved_load_rollback (dep->resolved, dep->resolved_size, dep->spec,
                                             touched, switched, &err);
    free (touched);
    free (switched);
    if (!dep->back) {
        //  The bytes loaded before: only memory can fail here.
        flot_error (WHO, "%s: %s", dep->id, err.message);
        abort ();
    }
    free (dep->back_steps);
    dep->back_steps = calloc (dep->back->step_count + 1, sizeof (step_rt_t));
    for (size_t s = 0; s < dep->back->step_count; s++)
        dep->back_steps [s].timer = dep->back_steps [s].fault_timer = -1;
}

void
coord_rollback_start (deployment_t *dep)
{
    size_t n = dep->spec->target_count;
    coord_gates_stop (dep);
    //  What never started will not now; what waited (a pause, a soak, a
    //  cleanup's keepOld: no hook in flight) stops waiting.
    for (size_t t = 0; t < n; t++) {
        if (dep->tstate [t] == TS_PENDING || dep->tstate [t] == TS_WAITING
        ||  dep->tstate [t] == TS_RUNNING)
            coord_target_to (dep, t, FLOT_EV_ROLLBACK_STARTED);
        size_t s = dep->cursor [t];
        decision_t *decision = s < dep->plan->first [t + 1] ? coord_decision_take (dep, s) : NULL;
        if (decision) {
            //  Its failure was being decided: it failed, and the rollback
            //  decides what comes next.
            coord_step_failed_for_good (dep, s, decision->why, decision->output);
            void *item = decision;
            coord_decision_free (&item);
        }
        else
        if (s < dep->plan->first [t + 1] && dep->steps [s].call == 0
        &&  dep->steps [s].fault_timer < 0 && dep->steps [s].state == SS_RUNNING) {
            //  (A step that waits for its executor after a fault may still
            //  be running there: the rollback waits for it, steps.c.)
            coord_step_to (dep, s, false, FLOT_EV_ROLLBACK_STARTED);
            dep->steps [s].finished_ms = coord_now ();
            coord_save_step (dep, s, false, NULL, "stopped: the deployment is rolling back");
        }
    }
    coord_rollback_plan (dep);
    const char *mode = dep->spec->rollback.mode == FLOT_ROLLBACK_GRADUAL ? "gradual" : "immediate";
    //  An abort's rollback is the aborter's doing; a failure's, nobody's.
    coord_event (dep, -1, &flot_event_rollback_started_def,
                 &(flot_event_rollback_started_t) {
                     .by = dep->aborted ? dep->aborted_by : dep->rollback_by,
                     .targets = dep->back->step_count, .mode = mode },
                 "rolling back %zu target%s (%s)",
                 dep->back->step_count, dep->back->step_count == 1 ? "" : "s", mode);
}

//  The rollback service runs the rollback plan; the coordinator records its
//  progress, step by step, so that after a restart it asks again for what
//  is not yet reverted (the steps keep their ids).
static void s_rollback_initiate (deployment_t *dep);

static int
s_on_rollback_retry (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    deployment_t *dep = arg;
    dep->rollback_timer = -1;
    coord_advance (dep);
    return 0;
}

//  The rollback of target name moved: its step is running, succeeded or
//  failed (PROGRESS.step_state).
static void
s_rollback_step (deployment_t *dep, const char *name, const char *state, const char *message,
                 const char *output)
{
    int t = flot_spec_target_index (dep->spec, name);
    if (t < 0 || dep->back->first [t] == dep->back->first [t + 1])
        return;
    size_t s = dep->back->first [t];
    step_rt_t *rt = &dep->back_steps [s];
    const flot_step_t *step = &dep->back->steps [s];
    //  A rollback service taken up again tells first of what it already
    //  did: what is recorded stays as it is.
    if ((streq (state, "running") && rt->state == SS_RUNNING)
    ||  (streq (state, "succeeded") && rt->state == SS_SUCCEEDED))
        return;
    coord_begin (dep->owner);
    if (streq (state, "running")) {
        coord_step_to (dep, s, true, FLOT_EV_REVERT_RUNNING);
        rt->attempt++;
        if (!rt->started_ms)
            rt->started_ms = coord_now ();
        coord_event (dep, t, &flot_event_step_started_def,
                     &(flot_event_step_started_t) {
                         .step = step->id, .step_type = flot_step_type_name (step->type),
                         .attempt = (uint64_t) rt->attempt, .weight = (uint64_t) step->weight,
                         .rollback = true },
                     "rollback step %s (%s)%s", step->id,
                     flot_step_type_name (step->type), rt->attempt > 1 ? ", again" : "");
    }
    else
    if (streq (state, "succeeded")) {
        coord_step_to (dep, s, true, FLOT_EV_REVERTED);
        rt->finished_ms = coord_now ();
        coord_target_to (dep, t, FLOT_EV_REVERTED);
        coord_event (dep, t, &flot_event_step_completed_def,
                     &(flot_event_step_completed_t) {
                         .step = step->id, .step_type = flot_step_type_name (step->type),
                         .attempt = (uint64_t) rt->attempt, .weight = (uint64_t) step->weight,
                         .rollback = true, .state = "succeeded" },
                     "rollback step %s done", step->id);
    }
    else
    if (streq (state, "failed")) {
        coord_step_to (dep, s, true, FLOT_EV_REVERT_FAILED);
        rt->finished_ms = coord_now ();
        coord_event (dep, t, &flot_event_step_failed_def,
                     &(flot_event_step_failed_t) {
                         .step = step->id, .step_type = flot_step_type_name (step->type),
                         .attempt = (uint64_t) rt->attempt, .weight = (uint64_t) step->weight,
                         .rollback = true, .reason = message },
                     "rollback step %s attempt %d failed: %s", step->id, rt->attempt, message);
    }
    coord_save_step (dep, s, true, output, rt->state == SS_FAILED ? message : NULL);
    coord_save_deployment (dep);
    coord_commit (dep->owner);
}

//  An answer of the rollback service: the stream's progress, its end, or
//  an error (then the rollback is asked for again, a second later).
static void
s_on_rollback (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    deployment_t *dep = arg;
    if (answer->kind == FLOT_REPLY)
        return;         //  the stream is open
    if (answer->kind == FLOT_ERROR) {
        dep->rollback_call = 0;
        flot_warn (WHO, "%s: the rollback service: %s; asking again", dep->id,
                   answer->err.message);
        if (answer->err.code == FLOT_E_CONFLICT) {
            //  A rollback of ours from before a restart still runs there:
            //  it ends, and the next one takes up what it did not revert.
            flot_rollback_complete_rollback_request_t complete = {
                .deployment = dep->id, .failed = true, .has_failed = true,
                .message = "superseded: the coordinator asked again"
            };
            flot_actor_call_msg (actor, "rollback", NULL, FLOT_ROLLBACK_COMPLETE_ROLLBACK,
                                 &flot_rollback_complete_rollback_request_def, &complete,
                                 5000, false, NULL, NULL);
        }
        dep->rollback_timer = flot_loop_timer (flot_actor_loop (actor), OUTBOX_RETRY_MS * 2, 1,
                                           s_on_rollback_retry, dep);
        return;
    }
    //  A PROGRESS message; one that is not (a broken peer) fails the
    //  rollback when it ends the stream, and is ignored otherwise.
    flot_rollback_progress_t progress;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    flot_err_t err;
    char message [512] = "";
    if (flot_rollback_progress_decode (answer->body, &zone, &progress, &err)) {
        snprintf (message, sizeof message, "the rollback service's answer is not a PROGRESS: %s",
                  err.message);
        flot_warn (WHO, "%s: %s", dep->id, message);
        progress = (flot_rollback_progress_t) { .state = "failed" };
    }
    else {
        snprintf (message, sizeof message, "%s", progress.message);
        if (progress.target && progress.step_state)
            s_rollback_step (dep, progress.target, progress.step_state, message,
                             progress.output && *progress.output ? progress.output : NULL);
    }
    bool completed = streq (progress.state, "completed");
    msgpack_zone_destroy (&zone);
    if (answer->kind != FLOT_STREAM_END)
        return;
    dep->rollback_call = 0;
    if (completed) {
        coord_advance (dep);        //  every target is reverted: it ends
        return;
    }
    coord_begin (dep->owner);
    coord_deployment_to (dep, FLOT_EV_ROLLBACK_FAILED);
    dep->finished_ms = coord_now ();
    snprintf (dep->last_error, sizeof dep->last_error, "the rollback failed: %.400s", message);
    coord_event (dep, -1, &flot_event_rollback_failed_def,
                 &(flot_event_rollback_failed_t) { .reason = dep->last_error },
                 "%s", dep->last_error);
    coord_save_deployment (dep);
    coord_commit (dep->owner);
    coord_pump (dep->owner);
}

//  The names of the targets for which take is true, into names (room for
//  every target of the spec).
static flot_array_t
s_names (const deployment_t *dep, const bool *take, const char **names)
{
    size_t count = 0;
    for (size_t t = 0; t < dep->spec->target_count; t++)
        if (take [t])
            names [count++] = dep->spec->targets [t].name;
    return (flot_array_t) { .count = count, .items = names };
}

//  Asks the rollback service to revert what the deployment touched and is
//  not reverted yet.
static void
s_rollback_initiate (deployment_t *dep)
{
    size_t n = dep->spec->target_count;
    bool *touched = calloc (n, sizeof (bool)), *switched = calloc (n, sizeof (bool));
    bool *reverted = calloc (n, sizeof (bool));
    const char **names = calloc (3 * n + 1, sizeof (const char *));
    assert (touched && switched && reverted && names);
    s_touched (dep, touched, switched);
    for (size_t t = 0; t < n; t++) {
        size_t first = dep->back->first [t];
        reverted [t] = first < dep->back->first [t + 1]
                    && dep->back_steps [first].state == SS_SUCCEEDED;
    }
    //  The rollback service runs from the deployment as it was resolved.
    flot_err_t err;
    flot_body_t *body = flot_body_decode (dep->resolved, dep->resolved_size, &err);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    flot_strategy_resolved_t resolved = { 0 };
    if (!body || flot_strategy_resolved_decode (flot_body_root (body), &zone, &resolved, &err)) {
        flot_error (WHO, "%s: its RESOLVED deployment no longer decodes: %s", dep->id,
                    err.message);
        abort ();
    }
    flot_rollback_initiate_rollback_request_t request = {
        .deployment = dep->id,
        .resolved = &resolved,
        .cwd = dep->cwd,
        .reason = dep->last_error,
        .touched = s_names (dep, touched, names),
        .switched = s_names (dep, switched, names + n),
        .reverted = s_names (dep, reverted, names + 2 * n),
        .deployment_started_ms = (uint64_t) dep->created_ms,
        .has_deployment_started_ms = true
    };
    dep->rollback_call = flot_actor_call_msg (dep->owner->actor, "rollback", NULL,
                                              FLOT_ROLLBACK_INITIATE_ROLLBACK,
                                              &flot_rollback_initiate_rollback_request_def,
                                              &request, 10000, true, s_on_rollback, dep);
    msgpack_zone_destroy (&zone);
    flot_body_destroy (&body);
    free (touched);
    free (switched);
    free (reverted);
    free (names);
    if (!dep->rollback_call) {
        flot_answer_t answer = coord_unsent ();
        s_on_rollback (dep->owner->actor, &answer, dep);
    }
}

//  The rollback: once no hook of the deployment is running, the rollback
//  service reverts the touched targets; when every one is, it ends.
static void
s_advance_rollback (deployment_t *dep)
{
    if (dep->hooks_in_flight > 0 || dep->rollback_call || dep->rollback_timer >= 0)
        return;
    size_t left = 0;
    for (size_t t = 0; t < dep->spec->target_count; t++) {
        size_t first = dep->back->first [t];
        left += first < dep->back->first [t + 1] && dep->back_steps [first].state != SS_SUCCEEDED;
    }
    if (left) {
        s_rollback_initiate (dep);
        return;
    }
    coord_begin (dep->owner);
    coord_event (dep, -1, &flot_event_rollback_completed_def,
                 &(flot_event_rollback_completed_t) { .targets = dep->back->step_count },
                 "rolled back %zu target%s",
                 dep->back->step_count, dep->back->step_count == 1 ? "" : "s");
    s_finish (dep, dep->aborted ? FLOT_EV_ABORT_COMPLETED : FLOT_EV_ROLLBACK_COMPLETED,
              dep->last_error);
    coord_commit (dep->owner);
}

void
coord_advance (deployment_t *dep)
{
    if (dep->state == DS_RUNNING && *dep->queued_behind)
        return;                     //  nothing starts before its turn (holds.c)
    if (dep->state == DS_RUNNING)
        s_advance_forward (dep);
    else
    if (dep->state == DS_ROLLING_BACK)
        s_advance_rollback (dep);
    coord_pump (dep->owner);
}
