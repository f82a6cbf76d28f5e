/*  steps.c - a forward step of a deployment, from its start to its end.

    coord_step_start starts step s of a target: a hook, sent to the
    executor that serves the target once the start is committed; a timer
    (a pause, a soak, a cleanup's keepOld); a wait for a promote; or a gate
    (gates.c). A step ends well (coord_step_succeeded, and the target goes
    on to its next step or is done), or fails: then the strategy service
    decides what that leads to (HandleFailure: a retry after a backoff, or
    the failure policy: the target fails, the deployment may fail). A timed
    pause whose time is up asks it too (ShouldPromote). While it cannot
    answer, the step waits and asks again. The timers of steps and their
    arguments (step_ref_t) are kept here; schedule.c decides which step
    starts when.
*/

#include "coordinator_internal.h"

//  --------------------------------------------------------------------------
//  The timers of steps

void
coord_ref_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static step_ref_t *
s_ref_new (deployment_t *dep, size_t s)
{
    step_ref_t *ref = calloc (1, sizeof *ref);
    assert (ref);
    *ref = (step_ref_t) { .dep = dep, .s = s };
    ref->handle = zlistx_add_end (dep->owner->timer_refs, ref);
    return ref;
}

//  Called first by a timer's callback: false if the timer was cancelled.
//  Either way the argument is gone after it.
static bool
s_ref_take (step_ref_t *ref, deployment_t **dep, size_t *s)
{
    bool live = !ref->cancelled;
    *dep = ref->dep;
    *s = ref->s;
    coordinator_t *self = ref->dep->owner;
    zlistx_detach (live ? self->timer_refs : self->cancelled_refs, ref->handle);
    free (ref);
    return live;
}

//  Cancels a step's timer, if it has one.
void
coord_timer_cancel (deployment_t *dep, step_rt_t *rt)
{
    if (rt->timer >= 0) {
        flot_loop_timer_end (flot_actor_loop (dep->owner->actor), rt->timer);
        //  Its argument waits with the cancelled ones, in the order they
        //  were cancelled, for the tick to free it.
        step_ref_t *ref = rt->timer_arg;
        ref->cancelled = zclock_mono ();
        zlistx_detach (dep->owner->timer_refs, ref->handle);
        ref->handle = zlistx_add_end (dep->owner->cancelled_refs, ref);
    }
    rt->timer = -1;
    rt->timer_arg = NULL;
}

//  Stops timers of forward steps that wait (pauses, soaks, backoffs).
void
coord_stop_waits (deployment_t *dep)
{
    for (size_t s = 0; s < dep->plan->step_count; s++)
        coord_timer_cancel (dep, &dep->steps [s]);
}

//  --------------------------------------------------------------------------
//  A step starts, and ends well

static void s_hook_call (deployment_t *dep, size_t s);

//  Starts step s: a hook, a timer, or a wait for a promote.
void
coord_step_start (deployment_t *dep, size_t s)
{
    const flot_step_t *step = &dep->plan->steps [s];
    step_rt_t *rt = &dep->steps [s];
    int t = step->target;
    if (dep->promote_full
    &&  (step->type == FLOT_STEP_PAUSE || step->type == FLOT_STEP_GATE)) {
        coord_step_succeeded (dep, s, FLOT_EV_SKIPPED_BY_PROMOTE, NULL);
        return;
    }
    bool resumed = rt->state == SS_RUNNING;     //  after a restart
    int64_t now = coord_now ();
    free (rt->stderr_tail);                     //  a new run: its own, if it fails
    rt->stderr_tail = NULL;
    coord_step_to (dep, s, false, resumed ? FLOT_EV_STEP_RESUMED : FLOT_EV_STEP_START);
    if (!resumed || step->runs_hook) {
        rt->attempt++;
        rt->again = false;
    }
    if (!resumed)
        rt->started_ms = now;
    coord_begin (dep->owner);
    coord_save_step (dep, s, false, NULL, NULL);
    coord_background_start (dep, t, s);
    bool waiting = step->type == FLOT_STEP_PAUSE && step->duration_ms < 0;
    coord_target_to (dep, t, waiting ? FLOT_EV_PROMOTE_AWAITED : FLOT_EV_STEP_START);
    coord_event (dep, t, &flot_event_step_started_def,
                 &(flot_event_step_started_t) {
                     .step = step->id, .step_type = flot_step_type_name (step->type),
                     .attempt = (uint64_t) rt->attempt, .weight = (uint64_t) step->weight,
                     .waiting = waiting },
                 "step %s (%s)%s%s", step->id, flot_step_type_name (step->type),
                 waiting ? ": waiting for a promote" : "", rt->attempt > 1 ? ", again" : "");
    coord_save_deployment (dep);
    coord_commit (dep->owner);
    int64_t elapsed = now - rt->started_ms;
    switch (step->type) {
        case FLOT_STEP_PAUSE:
            if (step->duration_ms >= 0)
                coord_step_timer (dep, s, step->duration_ms - elapsed);
            break;              //  else: a promote finishes it
        case FLOT_STEP_SOAK:
            if (dep->spec->checks.health)
                coord_gate_start (dep, s);          //  healthy first, then the soak
            else
                coord_step_timer (dep, s, step->duration_ms - elapsed);
            break;
        case FLOT_STEP_GATE:
            coord_gate_start (dep, s);
            break;
        case FLOT_STEP_CLEANUP:
            if (step->duration_ms - elapsed > 0) {
                coord_step_timer (dep, s, step->duration_ms - elapsed);
                break;
            }
            s_hook_call (dep, s);
            break;
        default:
            s_hook_call (dep, s);
            break;
    }
}

//  A forward step finished well (or was skipped): the target goes on.
void
coord_step_succeeded (deployment_t *dep, size_t s, flot_transition_event_t event,
                      const char *output)
{
    step_rt_t *rt = &dep->steps [s];
    const flot_step_t *step = &dep->plan->steps [s];
    coord_step_to (dep, s, false, event);
    rt->finished_ms = coord_now ();
    rt->call = 0;
    rt->timer = -1;
    coord_begin (dep->owner);
    coord_save_step (dep, s, false, output, NULL);
    dep->steps_done++;
    dep->progress_ms = rt->finished_ms;
    coord_event (dep, step->target, &flot_event_step_completed_def,
                 &(flot_event_step_completed_t) {
                     .step = step->id, .step_type = flot_step_type_name (step->type),
                     .attempt = (uint64_t) rt->attempt, .weight = (uint64_t) step->weight,
                     .state = flot_state_name (FLOT_KIND_STEP, rt->state) },
                 "step %s (%s) %s", step->id, flot_step_type_name (step->type),
                 flot_state_name (FLOT_KIND_STEP, rt->state));
    dep->cursor [step->target]++;
    //  A hook that ends well while the deployment rolls back is recorded,
    //  but the target is reverted, not done.
    if (dep->state == DS_RUNNING) {
        if (dep->cursor [step->target] == dep->plan->first [step->target + 1])
            coord_target_done (dep, step->target);
        else
            coord_target_to (dep, step->target, FLOT_EV_NEXT_STEP);
    }
    coord_save_deployment (dep);
    coord_commit (dep->owner);
    coord_advance (dep);
}

void
coord_target_done (deployment_t *dep, int t)
{
    coord_target_to (dep, t, FLOT_EV_ALL_STEPS_DONE);
    dep->in_progress--;
    coord_watch_stop (dep, t);
    coord_target_release (dep, t);
    coord_event (dep, t, &flot_event_target_completed_def,
                 &(flot_event_target_completed_t) { .version = dep->spec->workload.version },
                 "%s is on version %s", dep->spec->targets [t].name, dep->spec->workload.version);
}

static int
s_on_retry (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    deployment_t *dep;
    size_t s;
    if (!s_ref_take (arg, &dep, &s))
        return 0;
    dep->steps [s].timer = -1;
    dep->steps [s].timer_arg = NULL;
    if (dep->state == DS_RUNNING)
        coord_step_start (dep, s);
    else
        coord_advance (dep);
    return 0;
}

//  --------------------------------------------------------------------------
//  What a failed step or a timed pause leads to: the strategy service decides

void
coord_decision_free (void **item_p)
{
    decision_t *decision = *item_p;
    if (decision) {
        free (decision->why);
        free (decision->output);
        free (decision);
        *item_p = NULL;
    }
}

//  The step's decision, taken from it: no answer or timer of it comes
//  after. The caller frees it.
decision_t *
coord_decision_take (deployment_t *dep, size_t s)
{
    decision_t *decision = dep->steps [s].decision;
    dep->steps [s].decision = NULL;
    if (!decision)
        return NULL;
    flot_actor_t *actor = dep->owner->actor;
    if (decision->corr)
        flot_actor_call_forget (actor, decision->corr);
    if (decision->timer < 0) {
        zlistx_detach (dep->owner->decisions, decision->handle);
        return decision;
    }
    //  The decision stays, cancelled, until the tick frees it (the loop no
    //  longer calls a timer once ended); the caller gets a copy.
    flot_loop_timer_end (flot_actor_loop (actor), decision->timer);
    decision->cancelled = zclock_mono ();
    zlistx_detach (dep->owner->decisions, decision->handle);
    decision->handle = zlistx_add_end (dep->owner->cancelled_decisions, decision);
    decision_t *copy = calloc (1, sizeof *copy);
    assert (copy);
    *copy = (decision_t) {
        .dep = dep, .s = s, .why = strdup (decision->why),
        .output = decision->output ? strdup (decision->output) : NULL,
        .may_retry = decision->may_retry, .timer = -1
    };
    return copy;
}

//  Step s waits for a service (the strategy or the executor), which could
//  not answer (reason): step.waiting says so, and it asks again in wait_ms.
//  what says what it waits for, after "<target>: step <id> ".
static void
s_step_waits_for (deployment_t *dep, size_t s, const char *service, const char *what,
                  const char *reason, int64_t wait_ms)
{
    const flot_step_t *step = &dep->plan->steps [s];
    coord_begin (dep->owner);
    coord_event (dep, step->target, &flot_event_step_waiting_def,
                 &(flot_event_step_waiting_t) {
                     .step = step->id, .service = service, .reason = reason,
                     .retry_in_ms = (uint64_t) wait_ms },
                 "%s: step %s %s (%s); asking again in %lld ms",
                 dep->spec->targets [step->target].name, step->id, what, reason,
                 (long long) wait_ms);
    coord_commit (dep->owner);
    coord_pump (dep->owner);
}

static void
s_step_waits (deployment_t *dep, size_t s, const char *what, const char *reason)
{
    s_step_waits_for (dep, s, "strategy", what, reason, GATE_RETRY_MS);
}

static void s_decision_ask (decision_t *decision);

static int
s_on_decision_retry (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    decision_t *decision = arg;
    if (decision->cancelled)
        return 0;               //  taken meanwhile: the tick frees it
    decision->timer = -1;
    s_decision_ask (decision);
    return 0;
}

//  What the spec's failure policy does with a target that failed for good,
//  as HandleFailure's action: when the strategy service's answer cannot
//  be used, or a rollback decides for it.
static const char *
s_policy_action (const deployment_t *dep)
{
    switch (dep->spec->policy.on_failure) {
        case FLOT_ON_FAILURE_HOLD_DEPENDENTS: return "holdDependents";
        case FLOT_ON_FAILURE_CONTINUE: return "continue";
        default: return "failDeployment";
    }
}

static void s_step_decided (deployment_t *dep, size_t s, const char *why, const char *output,
                            const char *action, int64_t delay);

//  The strategy service's answer to HandleFailure. If it could not answer
//  (no instance, no answer in time, busy), the step waits and asks again:
//  an infrastructure fault is not the step's failure. An answer that
//  cannot be used (an error such as INVALID, a reply that breaks the
//  contract, a retry the coordinator ruled out) is not asked again: the
//  spec's policy applies, and the step's reason says why.
static void
s_on_failure_decided (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    decision_t *decision = arg;
    decision->corr = 0;
    deployment_t *dep = decision->dep;
    size_t s = decision->s;
    const flot_step_t *step = &dep->plan->steps [s];
    if (coord_transient (answer)) {
        char what [600];
        snprintf (what, sizeof what, "failed (%s); the strategy service could not say what "
                  "that leads to", decision->why);
        s_step_waits (dep, decision->s, what, answer->err.message);
        decision->timer = flot_loop_timer (flot_actor_loop (actor), GATE_RETRY_MS, 1,
                                       s_on_decision_retry, decision);
        return;
    }
    msgpack_zone zone;
    msgpack_zone_init (&zone, 256);
    flot_strategy_handle_failure_reply_t reply = { 0 };
    flot_err_t err = answer->err;
    bool usable = answer->kind == FLOT_REPLY
               && flot_strategy_handle_failure_reply_decode (answer->body, &zone, &reply,
                                                             &err) == 0;
    if (usable && streq (reply.action, "retry") && !decision->may_retry) {
        usable = false;
        snprintf (err.message, sizeof err.message, "it answered retry for a step that "
                  "must not run again");
    }
    decision = coord_decision_take (dep, s);
    if (usable)
        s_step_decided (dep, s, decision->why, decision->output, reply.action, reply.delay_ms);
    else {
        char why [600];
        snprintf (why, sizeof why, "%s (the strategy service's answer to HandleFailure "
                  "cannot be used: %s; the failure policy applies)", decision->why,
                  err.message);
        flot_error (WHO, "%s: step %s: %s", dep->id, step->id, why);
        s_step_decided (dep, s, why, decision->output, s_policy_action (dep), 0);
    }
    void *item = decision;
    coord_decision_free (&item);
    msgpack_zone_destroy (&zone);
}

static void
s_decision_ask (decision_t *decision)
{
    deployment_t *dep = decision->dep;
    const step_rt_t *rt = &dep->steps [decision->s];
    //  Attempts its executor stopped (orphaned) do not count.
    flot_strategy_handle_failure_request_t request = {
        .attempt = (uint64_t) (rt->attempt - rt->uncounted),
        .retries = decision->may_retry ? (uint64_t) dep->spec->hook.retries : 0,
        .backoff_ms = (uint64_t) dep->spec->hook.backoff_ms, .has_backoff_ms = true,
        .on_failure = coord_on_failure_name (dep),
        .failed_targets = (uint64_t) dep->failed_targets + 1,
        .max_failures = (uint64_t) dep->spec->policy.max_failures, .has_max_failures = true
    };
    decision->corr = flot_actor_call_msg (dep->owner->actor, "strategy",
                                          dep->spec->strategy_name,
                                          FLOT_STRATEGY_HANDLE_FAILURE,
                                          &flot_strategy_handle_failure_request_def, &request,
                                          DECISION_TIMEOUT_MS, false, s_on_failure_decided,
                                          decision);
    if (!decision->corr) {
        flot_answer_t answer = coord_unsent ();
        s_on_failure_decided (dep->owner->actor, &answer, decision);
    }
}

//  A timed pause whose time is up: the strategy service says whether it is
//  over (ShouldPromote), or how much longer it lasts. If it cannot answer,
//  the pause waits and asks again.
static void
s_on_promote_decided (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    decision_t *decision = arg;
    deployment_t *dep = decision->dep;
    size_t s = decision->s;
    coordinator_t *self = dep->owner;
    zlistx_detach (self->decisions, decision->handle);
    void *item = decision;
    coord_decision_free (&item);
    const flot_step_t *step = &dep->plan->steps [s];
    step_rt_t *rt = &dep->steps [s];
    int t = step->target;
    //  A promote, an abort or a failure may have ended it meanwhile, or a
    //  failure be deciding its fate.
    if (dep->state != DS_RUNNING || rt->state != SS_RUNNING || dep->cursor [t] != s
    ||  rt->decision)
        return;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 256);
    flot_strategy_should_promote_reply_t reply;
    flot_err_t err = answer->err;
    if (answer->kind == FLOT_REPLY
    &&  flot_strategy_should_promote_reply_decode (answer->body, &zone, &reply, &err) == 0) {
        if (reply.promote)
            coord_step_succeeded (dep, s, FLOT_EV_PAUSE_OVER, NULL);
        else
        if (reply.needs_person)
            coord_target_to (dep, t, FLOT_EV_PAUSE_NEEDS_PERSON);
        else
            coord_step_timer (dep, s, reply.wait_ms > 0 ? reply.wait_ms : GATE_RETRY_MS);
    }
    else
    if (!coord_transient (answer)) {
        //  An answer that cannot be used: the pause's own time is up.
        flot_error (WHO, "%s: step %s: the strategy service's answer to ShouldPromote "
                    "cannot be used (%s): the pause ends at its duration", dep->id, step->id,
                    err.message);
        coord_step_succeeded (dep, s, FLOT_EV_PAUSE_OVER, NULL);
    }
    else {
        s_step_waits (dep, s, "the strategy service could not say whether the pause is "
                      "over", err.message);
        coord_step_timer (dep, s, GATE_RETRY_MS);
    }
    msgpack_zone_destroy (&zone);
}

static void
s_pause_ask (deployment_t *dep, size_t s)
{
    const flot_step_t *step = &dep->plan->steps [s];
    const step_rt_t *rt = &dep->steps [s];
    decision_t *decision = calloc (1, sizeof *decision);
    assert (decision);
    *decision = (decision_t) { .dep = dep, .s = s };
    decision->handle = zlistx_add_end (dep->owner->decisions, decision);
    int64_t elapsed = coord_now () - rt->started_ms;
    flot_strategy_should_promote_request_t request = {
        .duration_ms = step->duration_ms,
        .elapsed_ms = elapsed > 0 ? (uint64_t) elapsed : 0,
        .promoted = false, .has_promoted = true
    };
    if (!flot_actor_call_msg (dep->owner->actor, "strategy", dep->spec->strategy_name,
                              FLOT_STRATEGY_SHOULD_PROMOTE,
                              &flot_strategy_should_promote_request_def, &request,
                              DECISION_TIMEOUT_MS, false, s_on_promote_decided, decision)) {
        flot_answer_t answer = coord_unsent ();
        s_on_promote_decided (dep->owner->actor, &answer, decision);
    }
}

//  A step failed (the hook, the call, or a check: may_retry false): the
//  strategy service says whether it is retried or what the policy does.
//  While the deployment rolls back, a failure (a hook in flight when the
//  rollback started) is recorded and decides nothing: no one is asked.
void
coord_step_failed_as (deployment_t *dep, size_t s, const char *why, const char *output,
                      bool may_retry)
{
    step_rt_t *rt = &dep->steps [s];
    rt->call = 0;
    if (rt->decision)
        return;                 //  its first failure is being decided: one is enough
    if (dep->state != DS_RUNNING) {
        s_step_decided (dep, s, why, output, s_policy_action (dep), 0);
        return;
    }
    decision_t *decision = calloc (1, sizeof *decision);
    assert (decision);
    *decision = (decision_t) {
        .dep = dep, .s = s, .why = strdup (why), .output = output ? strdup (output) : NULL,
        .may_retry = may_retry, .timer = -1
    };
    decision->handle = zlistx_add_end (dep->owner->decisions, decision);
    rt->decision = decision;
    s_decision_ask (decision);
}

//  Records step s, and its target, failed for good.
void
coord_step_failed_for_good (deployment_t *dep, size_t s, const char *why, const char *output)
{
    step_rt_t *rt = &dep->steps [s];
    const flot_step_t *step = &dep->plan->steps [s];
    int t = step->target;
    coord_step_to (dep, s, false, FLOT_EV_STEP_FAILED);
    rt->finished_ms = coord_now ();
    coord_save_step (dep, s, false, output, why);
    coord_event (dep, t, &flot_event_step_failed_def,
                 &(flot_event_step_failed_t) {
                     .step = step->id, .step_type = flot_step_type_name (step->type),
                     .attempt = (uint64_t) rt->attempt, .weight = (uint64_t) step->weight,
                     .reason = why, .stderr = rt->stderr_tail },
                 "step %s failed after %d attempt%s: %s", step->id,
                 rt->attempt, rt->attempt == 1 ? "" : "s", why);
    coord_target_to (dep, t, FLOT_EV_STEP_FAILED);
    dep->in_progress--;
    dep->failed_targets++;
    coord_watch_stop (dep, t);
    coord_event (dep, t, &flot_event_target_failed_def,
                 &(flot_event_target_failed_t) { .step = step->id, .reason = why },
                 "%s failed at step %s: %s", dep->spec->targets [t].name, step->id, why);
}

//  Retry, or apply the policy, as the strategy service decided.
static void
s_step_decided (deployment_t *dep, size_t s, const char *why, const char *output,
                const char *action, int64_t delay)
{
    step_rt_t *rt = &dep->steps [s];
    const flot_step_t *step = &dep->plan->steps [s];
    int t = step->target;
    coord_begin (dep->owner);
    if (streq (action, "retry")) {
        coord_step_to (dep, s, false, FLOT_EV_FAILED_RETRY);
        coord_save_step (dep, s, false, output, why);
        coord_event (dep, t, &flot_event_step_failed_def,
                     &(flot_event_step_failed_t) {
                         .step = step->id, .step_type = flot_step_type_name (step->type),
                         .attempt = (uint64_t) rt->attempt, .weight = (uint64_t) step->weight,
                         .reason = why, .retry_in_ms = delay > 0 ? (uint64_t) delay : 0,
                         .has_retry_in_ms = true, .stderr = rt->stderr_tail },
                     "step %s attempt %d failed: %s; retrying in %lld ms",
                     step->id, rt->attempt, why, (long long) delay);
        step_ref_t *ref = s_ref_new (dep, s);
        rt->timer_arg = ref;
        rt->timer = flot_loop_timer (flot_actor_loop (dep->owner->actor),
                                 delay > 0 ? (size_t) (delay < MAX_TIMER_MS ? delay : MAX_TIMER_MS) : 1, 1,
                                 s_on_retry, ref);
        coord_commit (dep->owner);
        return;
    }
    coord_step_failed_for_good (dep, s, why, output);
    //  A hook that ends after an abort or another failure changes nothing
    //  more: the deployment is rolling back already, for that reason.
    if (dep->state != DS_RUNNING)
        coord_save_deployment (dep);
    else
    if (streq (action, "failDeployment")
    ||  dep->failed_targets > dep->spec->policy.max_failures)
        //  maxFailures holds whatever a strategy answered for failures
        //  decided at the same time.
        coord_fail (dep, "%s failed at step %s: %s", dep->spec->targets [t].name, step->id, why);
    else {
        if (streq (action, "continue"))
            coord_target_release (dep, t);
        snprintf (dep->last_error, sizeof dep->last_error, "%s failed at step %s: %s",
                  dep->spec->targets [t].name, step->id, why);
        coord_save_deployment (dep);
    }
    coord_commit (dep->owner);
    coord_advance (dep);
}

static void
s_step_failed (deployment_t *dep, size_t s, const char *why, const char *output)
{
    coord_step_failed_as (dep, s, why, output, true);
}

//  --------------------------------------------------------------------------
//  Hooks and timers

char *
coord_tail (const char *text)
{
    size_t len = strlen (text);
    const char *from = text;
    if (len > STDERR_TAIL) {
        from = text + len - STDERR_TAIL;
        const char *eol = strchr (from, '\n');
        if (eol && eol [1])
            from = eol + 1;         //  whole lines
    }
    char *tail = strdup (from);
    assert (tail);
    return tail;
}

//  True if an error answer to ExecuteStep is a fault of the way there (no
//  executor, a lost or busy one, no answer in time, a refused key) rather
//  than of the hook: the step waits and asks again, with the same attempt,
//  whose run the executor answers once whatever happens (SPEC 17).
static bool
s_executor_fault (const flot_answer_t *answer)
{
    int code = answer->err.code;
    return coord_transient (answer) || code == FLOT_E_CONFLICT
        || code == FLOT_E_NOT_AUTHORIZED || code == FLOT_E_INTERNAL;
}

//  How long a step waits before it asks the executor again: one liveness
//  window and one heartbeat interval, by which an executor cut off from the
//  broker has found it so, and its kill grace, by which it has stopped the
//  hooks it ran (SPEC 17); so a run on another instance never overlaps one
//  on the lost instance. Two seconds at least.
static int64_t
s_hook_wait_ms (const deployment_t *dep)
{
    flot_actor_t *actor = dep->owner->actor;
    int64_t wait = flot_actor_liveness_ms (actor) + flot_actor_heartbeat_ms (actor)
                 + FLOT_HOOK_KILL_GRACE_MS;
    return wait > GATE_RETRY_MS ? wait : GATE_RETRY_MS;
}

static int s_on_fault_wait (flot_loop_t *loop, int timer_id, void *arg);

//  Whether a request that ended in this error may have run on an executor.
static bool
s_maybe_delivered (int code)
{
    return code == FLOT_E_DEADLINE || code == FLOT_E_CANCELLED;
}

//  The executor could not run step s's hook, or its answer was lost
//  (code, reason): the step waits, says so, and then asks again with the
//  same attempt, or (the executor was lost holding it) runs a new one. No
//  retry of the hook is spent, and the step does not fail. While it waits
//  its run may still go on: it counts as a hook in flight, which a
//  rollback waits for.
static void
s_hook_waits (deployment_t *dep, size_t s, int code, const char *reason)
{
    step_rt_t *rt = &dep->steps [s];
    rt->call = 0;
    rt->fault_lost = code == FLOT_E_ACTOR_FAILED;
    //  A request that may have reached an executor and run there (no answer
    //  in time, our own link lost) is asked for `again`; one that did not
    //  (never delivered, or refused: busy, another attempt runs, its record
    //  unreadable) is not.
    rt->fault_delivered = s_maybe_delivered (code);
    int64_t wait_ms = s_hook_wait_ms (dep);
    s_step_waits_for (dep, s, "executor", "waits for an executor", reason, wait_ms);
    dep->hooks_in_flight++;
    step_ref_t *ref = s_ref_new (dep, s);
    rt->fault_timer = flot_loop_timer (flot_actor_loop (dep->owner->actor), (size_t) wait_ms, 1,
                                   s_on_fault_wait, ref);
}

//  Step s's current attempt will not end by itself (why): it runs again as
//  a new attempt, which the hook's retries do not count (SPEC 17).
static void
s_hook_orphaned (deployment_t *dep, size_t s, const char *why)
{
    step_rt_t *rt = &dep->steps [s];
    const flot_step_t *step = &dep->plan->steps [s];
    rt->call = 0;
    rt->uncounted++;
    flot_warn (WHO, "%s: step %s: the run of attempt %d %s; it runs again as attempt %d",
               dep->id, step->id, rt->attempt, why, rt->attempt + 1);
    coord_begin (dep->owner);
    coord_event (dep, step->target, &flot_event_step_orphaned_def,
                 &(flot_event_step_orphaned_t) {
                     .step = step->id, .attempt = (uint64_t) rt->attempt },
                 "%s: step %s attempt %d: its run %s; it runs again as a new attempt",
                 dep->spec->targets [step->target].name, step->id, rt->attempt, why);
    coord_commit (dep->owner);
    if (dep->state == DS_RUNNING)
        coord_step_start (dep, s);
    else
        coord_step_failed_as (dep, s, "its run was stopped by the executor (orphaned) while "
                              "the deployment stopped", NULL, false);
}

//  The answer to GetStepStatus while the deployment rolls back and step s
//  waited after a fault: a run still going (a reply) is waited for once
//  more; none (NOT_FOUND), or no answer, ends the step, failed, and the
//  rollback goes on.
static void
s_on_fault_status (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    step_ref_t *ref = arg;
    deployment_t *dep = ref->dep;
    size_t s = ref->s;
    free (ref);
    step_rt_t *rt = &dep->steps [s];
    if (answer->kind == FLOT_REPLY) {
        step_ref_t *again = s_ref_new (dep, s);
        rt->fault_timer = flot_loop_timer (flot_actor_loop (dep->owner->actor),
                                       (size_t) s_hook_wait_ms (dep), 1, s_on_fault_wait, again);
        return;
    }
    dep->hooks_in_flight--;
    coord_step_failed_as (dep, s, "the deployment stopped while the step waited for an "
                          "executor", NULL, false);
}

static int
s_on_fault_wait (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    deployment_t *dep;
    size_t s;
    if (!s_ref_take (arg, &dep, &s))
        return 0;
    step_rt_t *rt = &dep->steps [s];
    rt->fault_timer = -1;
    if (dep->state == DS_RUNNING) {
        dep->hooks_in_flight--;
        if (rt->fault_lost)
            s_hook_orphaned (dep, s, "was lost with its executor");
        else {
            rt->again = rt->again || rt->fault_delivered;
            s_hook_call (dep, s);       //  the same attempt, which runs once
        }
        return 0;
    }
    //  It rolls back: before the target is reverted, the run must be over.
    const flot_step_t *step = &dep->plan->steps [s];
    flot_executor_get_step_status_request_t request = {
        .deployment = dep->id, .step_id = step->id
    };
    step_ref_t *ref = malloc (sizeof *ref);
    assert (ref);
    *ref = (step_ref_t) { .dep = dep, .s = s };
    if (!flot_actor_call_msg (dep->owner->actor, "executor",
                              dep->spec->targets [step->target].name,
                              FLOT_EXECUTOR_GET_STEP_STATUS,
                              &flot_executor_get_step_status_request_def, &request,
                              DECISION_TIMEOUT_MS, false, s_on_fault_status, ref)) {
        flot_answer_t answer = coord_unsent ();
        s_on_fault_status (dep->owner->actor, &answer, ref);
    }
    return 0;
}

static void
s_on_hook (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    step_ref_t *ref = arg;
    deployment_t *dep = ref->dep;
    size_t s = ref->s;
    free (ref);
    dep->hooks_in_flight--;
    target_rt_t *trt = &dep->trt [dep->plan->steps [s].target];
    if (trt->pending_failure) {
        //  Its health failed while the hook ran: the target fails now.
        char *why = trt->pending_failure;
        trt->pending_failure = NULL;
        coord_step_failed_as (dep, s, why, NULL, false);
        free (why);
        return;
    }
    if (answer->kind == FLOT_ERROR && answer->err.code == FLOT_E_NOT_FOUND
    &&  dep->steps [s].again) {
        s_hook_orphaned (dep, s, "is not known to the executor that got it again (another "
                         "may have run part of it)");
        return;
    }
    if (answer->kind == FLOT_ERROR) {
        if (s_executor_fault (answer))
            s_hook_waits (dep, s, answer->err.code, answer->err.message);
        else
            s_step_failed (dep, s, answer->err.message, NULL);
        return;
    }
    //  The executor's answer: a STEP_RESULT (SPEC section 17).
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    flot_executor_step_result_t result;
    flot_err_t err;
    char why [320];
    if (flot_executor_step_result_decode (answer->body, &zone, &result, &err)) {
        //  The executor broke the protocol: whether the hook ran, and how
        //  it ended, is unknown. Running it again could repeat a hook that
        //  succeeded, so the step fails, with no retry.
        snprintf (why, sizeof why, "the executor's answer is not a step result: %s",
                  err.message);
        flot_error (WHO, "%s: step %s: %s", dep->id, dep->plan->steps [s].id, why);
        coord_step_failed_as (dep, s, why, NULL, false);
    }
    else
    if (streq (result.status, "succeeded")) {
        dep->steps [s].stderr_now = result.stderr;
        coord_step_succeeded (dep, s, FLOT_EV_HOOK_SUCCEEDED, result.output);
        dep->steps [s].stderr_now = NULL;
    }
    else
    if (streq (result.status, "orphaned"))
        s_hook_orphaned (dep, s, "was stopped by its executor, which lost its broker or "
                         "restarted");
    else {
        //  Its stderr is kept now, and its last lines for status and events:
        //  what the failure leads to is decided later.
        step_rt_t *rt = &dep->steps [s];
        free (rt->stderr_tail);
        rt->stderr_tail = result.stderr && *result.stderr ? coord_tail (result.stderr) : NULL;
        rt->stderr_now = result.stderr;
        coord_save_step (dep, s, false, result.output, NULL);
        rt->stderr_now = NULL;
        if (streq (result.status, "timeout"))
            snprintf (why, sizeof why, "the hook ran past its timeout of %lld ms",
                      (long long) dep->spec->hook.timeout_ms);
        else
            snprintf (why, sizeof why, "the hook exited with status %lld",
                      (long long) result.exit_code);
        s_step_failed (dep, s, why, result.output);
    }
    msgpack_zone_destroy (&zone);
}

//  Sends a step's hook call (body, destroyed) to the executor that serves
//  its target.
void
coord_hook_send (deployment_t *dep, size_t s, msgpack_sbuffer *body)
{
    const flot_step_t *step = &dep->plan->steps [s];
    step_rt_t *rt = &dep->steps [s];
    //  The call's own argument, freed by s_on_hook (not a timer's).
    step_ref_t *ref = malloc (sizeof *ref);
    *ref = (step_ref_t) { .dep = dep, .s = s };
    //  The hook may wait for a slot on the executor before its own timeout
    //  starts: the call lasts as long as the progress deadline allows (a
    //  lost executor is ACTOR_FAILED at once, not a timeout).
    int64_t timeout = dep->spec->hook.timeout_ms + FLOT_STEP_CALL_MARGIN_MS;
    if (timeout < dep->spec->policy.progress_deadline_ms)
        timeout = dep->spec->policy.progress_deadline_ms;
    if (timeout > FLOT_MAX_TIMEOUT_MS)
        timeout = FLOT_MAX_TIMEOUT_MS;
    rt->call = flot_actor_call (dep->owner->actor, "executor",
                                dep->spec->targets [step->target].name,
                                FLOT_EXECUTOR_EXECUTE_STEP,
                                body->data, body->size, (uint32_t) timeout,
                                false, s_on_hook, ref);
    msgpack_sbuffer_destroy (body);
    if (!rt->call) {
        free (ref);
        dep->hooks_in_flight--;
        s_hook_waits (dep, s, 0, "the request could not be sent");     //  not delivered
    }
}

//  Calls the step's hook on the executor that serves its target, once the
//  step's start is committed.
static void
s_hook_call (deployment_t *dep, size_t s)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    flot_step_call_pack (&pk, dep->spec, dep->id, &dep->plan->steps [s], dep->steps [s].attempt,
                         dep->cwd, (uint64_t) dep->created_ms, dep->steps [s].again);
    //  In flight from now: a rollback waits for a forward hook.
    dep->hooks_in_flight++;
    if (coord_uncommitted (dep->owner)) {
        //  It goes once the step's start is committed.
        held_t *held = coord_hold (dep->owner, HELD_HOOK);
        held->dep = dep;
        held->s = s;
        held->body = sbuf;
    }
    else
        coord_hook_send (dep, s, &sbuf);
}

void
coord_hook_resume (deployment_t *dep, size_t s)
{
    const flot_step_t *step = &dep->plan->steps [s];
    step_rt_t *rt = &dep->steps [s];
    int64_t left = step->type == FLOT_STEP_CLEANUP
                 ? step->duration_ms - (coord_now () - rt->started_ms) : 0;
    if (left > 0) {
        coord_step_timer (dep, s, left);    //  a cleanup still waits for its time
        return;
    }
    flot_notice (WHO, "%s: step %s: asking the executor again for attempt %d, running at "
                 "the restart", dep->id, step->id, rt->attempt);
    rt->again = true;
    s_hook_call (dep, s);
}

static int
s_on_step_timer (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    deployment_t *dep;
    size_t s;
    if (!s_ref_take (arg, &dep, &s))
        return 0;
    step_rt_t *rt = &dep->steps [s];
    rt->timer = -1;
    rt->timer_arg = NULL;
    const flot_step_t *step = &dep->plan->steps [s];
    if (dep->state != DS_RUNNING)
        return 0;           //  failed meanwhile: a cleanup must not remove the old
    if (step->runs_hook)
        s_hook_call (dep, s);              //  cleanup, after keepOld
    else
    if (step->type == FLOT_STEP_PAUSE)
        s_pause_ask (dep, s);              //  its time is up: is the pause over?
    else
        coord_step_succeeded (dep, s, FLOT_EV_SOAKED, NULL);
    return 0;
}

void
coord_step_timer (deployment_t *dep, size_t s, int64_t ms)
{
    step_ref_t *ref = s_ref_new (dep, s);
    dep->steps [s].timer_arg = ref;
    //  At most 30 days, as the contracts bound every duration: the loop adds
    //  the delay to its clock.
    if (ms > MAX_TIMER_MS)
        ms = MAX_TIMER_MS;
    dep->steps [s].timer = flot_loop_timer (flot_actor_loop (dep->owner->actor),
                                        ms > 0 ? (size_t) ms : 1, 1, s_on_step_timer, ref);
}

//  The answer a call gets when it could not even be sent.
flot_answer_t
coord_unsent (void)
{
    flot_answer_t answer = { .kind = FLOT_ERROR };
    flot_err_set (&answer.err, FLOT_E_CANCELLED, "the request could not be sent");
    return answer;
}
