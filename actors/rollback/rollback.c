/*  rollback.c - the rollback actor (service "rollback").

    Owns rollback plans and their progress. InitiateRollback takes a
    deployment as the strategy service resolved it (strategy.RESOLVED: this
    actor reads no spec) and the targets it changed, builds the rollback
    plan (flot_resolved_rollback: the RESOLVED `rollback` steps of each
    touched target, switchBack for blue-green targets whose traffic moved,
    reverse dependency order), and runs its steps through the executor
    service, routed by target, at most the plan's concurrency at once; in
    gradual mode a target waits for the targets that depend on it. What a
    failed step leads to is the strategy service's to say (HandleFailure):
    a retry after its delay, or a failure for good that fails the rollback.
    While the strategy service cannot answer (not running, busy, gone), the
    step waits and asks again: that is no failure of the step. Every change
    goes to the caller as a stream message; a caller that goes away does
    not stop the rollback, which always runs to its end. GetRollbackStatus
    reads a rollback, running or finished (the last `keep` finished are
    kept); CompleteRollback ends one by hand. ShouldRollback wraps the pure
    rule of decide.c. The messages are defined by
    protocol/contracts/rollback.json: the host decodes every request by it.

    Nothing here blocks: hooks run in the executor, decisions in the
    strategy service, backoffs and waits are timers. A rollback is freed
    only when it is finished and idle (no call in flight, no timer armed),
    so an answer or a timer always finds it; a step's pending decision is
    held by the step, so it goes with its rollback.
*/
#include "rollback.h"
#include "flotilla/contract_rollback.h"
#include "flotilla/log.h"
#include "flotilla/plan.h"
#include "flotilla/resolved.h"
#include "flotilla/step_call.h"

#define WHO "rollback"
#define KEEP_DEFAULT 1000
#define DEPLOYMENT_MAX 128      //  bytes of a deployment id, NUL included
#define TEXT_MAX 512            //  reasons and messages
#define DECISION_TIMEOUT_MS 5000    //  for the strategy service's HandleFailure
#define DECISION_RETRY_MS 2000      //  asks again after this long if it could not answer

enum { RS_RUNNING, RS_COMPLETED, RS_FAILED };
static const char *s_rstates [] = { "running", "completed", "failed" };

enum { TS_PENDING, TS_RUNNING, TS_REVERTED, TS_FAILED };
static const char *s_tstates [] = { "pending", "running", "reverted", "failed" };

typedef struct _service_t service_t;
typedef struct _rollback_t rollback_t;

//  The runtime of one step of a rollback plan (one target).
typedef struct {
    rollback_t *rollback;
    size_t s;                   //  its index in the plan
    int state;                  //  TS_*
    int attempt;
    bool skipped;               //  reverted before this rollback: never run
    int orphans;                //  attempts whose run the executor stopped (not retries)
    bool lost;                  //  its executor was lost with its run (ACTOR_FAILED)
    bool again;                 //  its current attempt was sent before: asked again
    bool delivered;             //  the fault it waits after may have reached an executor
    int64_t waiting_since;      //  the first executor fault of a wait not yet over; 0 if none
    //  A failed attempt whose fate the strategy service decides: why it
    //  failed and the hook's output, owned; NULL when none is pending.
    char *why;
    char *output;
} step_rt_t;

struct _rollback_t {
    service_t *owner;
    char deployment [DEPLOYMENT_MAX];
    char cwd [1024];
    char reason [TEXT_MAX];
    char message [TEXT_MAX];
    flot_spec_t *spec;
    flot_plan_t *plan;
    step_rt_t *steps;
    size_t steps_total;         //  steps to run (skipped ones are not)
    size_t steps_done;
    size_t busy;                //  executor calls in flight + retry timers armed
    int state;                  //  RS_*
    int64_t started_ms, finished_ms;
    uint64_t started_ms_key;    //  when the deployment started: in its steps' idempotency keys
    flot_stream_t *stream;      //  to the caller; NULL once it ended or left
    void *handle;               //  in the service's finished list, once finished
    bool retired;               //  replaced by a newer rollback, out of the table
};

struct _service_t {
    flot_actor_t *actor;
    zhashx_t *rollbacks;        //  deployment -> rollback_t *, running and finished
    zlistx_t *finished;         //  rollback_t *: finished, oldest first
    size_t retired;             //  of those, replaced ones waiting to be idle
    size_t keep;
};

static void
s_rollback_destroy (rollback_t **self_p)
{
    rollback_t *self = *self_p;
    if (self) {
        for (size_t s = 0; self->steps && s < self->plan->step_count; s++) {
            free (self->steps [s].why);
            free (self->steps [s].output);
        }
        flot_spec_destroy (&self->spec);
        flot_plan_destroy (&self->plan);
        free (self->steps);
        free (self);
        *self_p = NULL;
    }
}

//  Frees the oldest finished rollbacks beyond keep; one still busy stays
//  until a later pass. Called last by every handler, as it may free what
//  the handler worked on.
static void
s_evict (service_t *self)
{
    size_t size = zlistx_size (self->finished);
    rollback_t *r = zlistx_first (self->finished);
    while (r && (size > self->keep || self->retired > 0)) {
        rollback_t *next = zlistx_next (self->finished);
        if (r->busy == 0 && (r->retired || size > self->keep)) {
            zlistx_delete (self->finished, r->handle);
            if (r->retired)
                self->retired--;
            else
                zhashx_delete (self->rollbacks, r->deployment);
            s_rollback_destroy (&r);
            size--;
        }
        r = next;
    }
}

//  --------------------------------------------------------------------------
//  Progress

static int
s_percent (const rollback_t *r)
{
    if (r->steps_total == 0 || r->steps_done >= r->steps_total)
        return 100;
    return (int) (r->steps_done * 100 / r->steps_total);
}

static const char *
s_target_name (const rollback_t *r, const step_rt_t *rt)
{
    return r->spec->targets [r->plan->steps [rt->s].target].name;
}

//  Tells the caller of the change, if it still listens; the message of a
//  finished rollback ends the stream. rt, step_state and output may be NULL.
static void
s_push (rollback_t *r, const step_rt_t *rt, const char *step_state, const char *output)
{
    if (!r->stream)
        return;
    flot_rollback_progress_t progress = {
        .deployment = r->deployment,
        .state = s_rstates [r->state],
        .percent = (uint64_t) s_percent (r),
        .message = r->message,
        .started_ms = (uint64_t) r->started_ms,
        .target = rt ? s_target_name (r, rt) : NULL,
        .step_id = rt ? r->plan->steps [rt->s].id : NULL,
        .step_state = rt ? step_state : NULL,
        .output = output
    };
    flot_actor_t *actor = r->owner->actor;
    if (r->state == RS_RUNNING)
        flot_stream_push (actor, r->stream, &progress);
    else
        flot_stream_finish (actor, &r->stream, &progress);
}

//  The rollback ends in state, with message; the last stream message
//  carries the step that ended it, if any. It may be freed at the next
//  s_evict.
static void
s_finish (rollback_t *r, int state, const char *message, const step_rt_t *rt,
          const char *output)
{
    r->state = state;
    r->finished_ms = zclock_time ();
    snprintf (r->message, sizeof r->message, "%s", message);
    flot_log (state == RS_COMPLETED ? FLOT_LOG_NOTICE : FLOT_LOG_WARN, WHO,
              "rollback of %s %s: %s", r->deployment, s_rstates [state], message);
    s_push (r, rt, rt ? s_tstates [rt->state] : NULL, output);
    r->handle = zlistx_add_end (r->owner->finished, r);
}

//  --------------------------------------------------------------------------
//  Steps

static void s_step_start (rollback_t *r, step_rt_t *rt);
static void s_advance (rollback_t *r);

static void
s_step_succeeded (step_rt_t *rt, const char *output)
{
    rollback_t *r = rt->rollback;
    rt->state = TS_REVERTED;
    if (r->state != RS_RUNNING)
        return;                 //  completed by hand: recorded, nothing more
    r->steps_done++;
    const flot_step_t *step = &r->plan->steps [rt->s];
    snprintf (r->message, sizeof r->message, "%s reverted (%s, attempt %d)",
              s_target_name (r, rt), flot_step_type_name (step->type), rt->attempt);
    s_push (r, rt, "succeeded", output);
}

static int
s_on_retry (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    step_rt_t *rt = arg;
    rollback_t *r = rt->rollback;
    r->busy--;
    if (r->state != RS_RUNNING)
        rt->state = TS_FAILED;  //  its last attempt failed; it runs no more
    else {
        s_step_start (r, rt);
        s_advance (r);
    }
    s_evict (r->owner);
    return 0;
}

//  The step's pending decision is over: its data goes.
static void
s_decision_clear (step_rt_t *rt)
{
    free (rt->why);
    free (rt->output);
    rt->why = NULL;
    rt->output = NULL;
}

static void s_decision_ask (step_rt_t *rt);

static int
s_on_decision_retry (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    step_rt_t *rt = arg;
    rollback_t *r = rt->rollback;
    r->busy--;
    if (r->state != RS_RUNNING) {
        rt->state = TS_FAILED;  //  ended meanwhile: its last attempt failed
        s_decision_clear (rt);
    }
    else
        s_decision_ask (rt);
    s_evict (r->owner);
    return 0;
}

//  The step waits (r->message says for what), tells the caller, and fn
//  asks again in ms.
static void
s_wait (step_rt_t *rt, int64_t ms, flot_loop_timer_fn *fn)
{
    rollback_t *r = rt->rollback;
    flot_warn (WHO, "%s: %s", r->deployment, r->message);
    s_push (r, rt, NULL, NULL);
    flot_loop_timer (flot_actor_loop (r->owner->actor), (size_t) ms, 1, fn, rt);
    r->busy++;
}

//  The strategy service could not say what the failure leads to (why):
//  the step waits and asks again; that is not the step's failure.
static void
s_decision_wait (step_rt_t *rt, const char *why)
{
    rollback_t *r = rt->rollback;
    const flot_step_t *step = &r->plan->steps [rt->s];
    snprintf (r->message, sizeof r->message,
              "step %s attempt %d failed: %.160s; the strategy service could not say what "
              "that leads to (%.160s); asking again in %d ms", step->id, rt->attempt, rt->why,
              why, DECISION_RETRY_MS);
    s_wait (rt, DECISION_RETRY_MS, s_on_decision_retry);
}

//  Whether an ERROR answer says the service could not answer (it is
//  missing, busy, gone or late), rather than what it decided.
static bool
s_transient (const flot_err_t *err)
{
    int code = err->code;
    return code == FLOT_E_UNKNOWN_SERVICE || code == FLOT_E_NO_INSTANCE
        || code == FLOT_E_DEADLINE || code == FLOT_E_ACTOR_FAILED
        || code == FLOT_E_BUSY || code == FLOT_E_CANCELLED;
}

//  Retry after delay, as the strategy service decided, or fail the
//  rollback (action NULL: what the service said instead is in refusal).
static void
s_step_decided (step_rt_t *rt, const char *action, int64_t delay, const char *refusal)
{
    rollback_t *r = rt->rollback;
    const flot_step_t *step = &r->plan->steps [rt->s];
    if (action && streq (action, "retry")) {
        snprintf (r->message, sizeof r->message,
                  "step %s attempt %d failed: %.300s; retrying in %lld ms",
                  step->id, rt->attempt, rt->why, (long long) delay);
        s_push (r, rt, "failed", rt->output);
        flot_loop_timer (flot_actor_loop (r->owner->actor), delay > 0 ? (size_t) delay : 1, 1,
                     s_on_retry, rt);
        r->busy++;
        return;
    }
    rt->state = TS_FAILED;
    char message [TEXT_MAX];
    if (refusal)
        snprintf (message, sizeof message, "rollback of %s failed after %d attempt%s: %.160s "
                  "(the strategy service refused to decide: %.200s)", s_target_name (r, rt),
                  rt->attempt, rt->attempt == 1 ? "" : "s", rt->why, refusal);
    else
        snprintf (message, sizeof message, "rollback of %s failed after %d attempt%s: %.400s",
                  s_target_name (r, rt), rt->attempt, rt->attempt == 1 ? "" : "s", rt->why);
    s_finish (r, RS_FAILED, message, rt, rt->output);
}

//  The strategy service's answer to HandleFailure.
static void
s_on_decided (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    step_rt_t *rt = arg;
    rollback_t *r = rt->rollback;
    r->busy--;
    if (r->state != RS_RUNNING) {
        rt->state = TS_FAILED;
        s_decision_clear (rt);
        s_evict (r->owner);
        return;
    }
    msgpack_zone zone;
    msgpack_zone_init (&zone, 256);
    flot_strategy_handle_failure_reply_t reply;
    flot_err_t err = answer->err;
    bool waits = false;
    if (answer->kind == FLOT_REPLY
    &&  flot_strategy_handle_failure_reply_decode (answer->body, &zone, &reply, &err) == 0)
        s_step_decided (rt, reply.action, reply.delay_ms, NULL);
    else
    if (answer->kind == FLOT_ERROR && s_transient (&err)) {
        s_decision_wait (rt, err.message);
        waits = true;
    }
    else {
        //  A definite refusal, or an answer that is no decision: asking
        //  again would get the same.
        char refusal [sizeof err.message + 32];
        snprintf (refusal, sizeof refusal, "%s: %s", answer->kind == FLOT_ERROR
                  ? flot_err_name (err.code) : "its answer is no decision", err.message);
        s_step_decided (rt, NULL, 0, refusal);
    }
    msgpack_zone_destroy (&zone);
    if (!waits)
        s_decision_clear (rt);
    if (r->state == RS_RUNNING)
        s_advance (r);
    s_evict (r->owner);
}

//  Asks the strategy service what the step's failed attempt leads to.
static void
s_decision_ask (step_rt_t *rt)
{
    rollback_t *r = rt->rollback;
    const flot_spec_t *spec = r->spec;
    //  A rollback has no failure policy of its own: a target that cannot
    //  be reverted fails it.
    flot_strategy_handle_failure_request_t request = {
        .attempt = (uint64_t) (rt->attempt - rt->orphans),
        .retries = (uint64_t) spec->hook.retries,
        .backoff_ms = (uint64_t) spec->hook.backoff_ms, .has_backoff_ms = true,
        .on_failure = "failAll",
        .failed_targets = 1,
        .max_failures = 0, .has_max_failures = true
    };
    if (flot_actor_call_msg (r->owner->actor, "strategy", spec->strategy_name,
                             FLOT_STRATEGY_HANDLE_FAILURE,
                             &flot_strategy_handle_failure_request_def, &request,
                             DECISION_TIMEOUT_MS, false, s_on_decided, rt))
        r->busy++;
    else
        s_decision_wait (rt, "the request could not be sent");
}

//  A step failed (the hook, or the call to the executor): the strategy
//  service decides whether it runs again or fails the rollback.
static void
s_step_failed (step_rt_t *rt, const char *why, const char *output)
{
    rollback_t *r = rt->rollback;
    if (r->state != RS_RUNNING) {
        rt->state = TS_FAILED;
        return;
    }
    s_decision_clear (rt);
    rt->why = strdup (why);
    rt->output = output ? strdup (output) : NULL;
    assert (rt->why && (rt->output || !output));
    s_decision_ask (rt);
}

static void s_step_send (rollback_t *r, step_rt_t *rt);

static int
s_on_resend (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    step_rt_t *rt = arg;
    rollback_t *r = rt->rollback;
    r->busy--;
    if (r->state != RS_RUNNING)
        rt->state = TS_FAILED;  //  ended meanwhile, its run unknown
    else
    if (rt->lost) {
        //  Lost with its executor: a new attempt, which the retries do not
        //  count, rather than the same one on an instance that never ran it.
        rt->orphans++;
        s_step_start (r, rt);
    }
    else {
        //  The same attempt: run once, or not known where it may have gone.
        rt->again = rt->again || rt->delivered;
        s_step_send (r, rt);
    }
    s_evict (r->owner);
    return 0;
}

//  The executor could not run the step's hook, or its answer was lost
//  (why): the step waits at least a liveness window, by which a lost
//  executor has stopped its hooks, and asks again with the same attempt.
//  No retry is spent: that is not the step's failure (SPEC 17).
static void
s_step_waits (step_rt_t *rt, const char *why, bool lost)
{
    rollback_t *r = rt->rollback;
    const flot_step_t *step = &r->plan->steps [rt->s];
    int64_t now = zclock_mono ();
    if (!rt->waiting_since)
        rt->waiting_since = now;
    if (now - rt->waiting_since > r->spec->policy.progress_deadline_ms) {
        //  No executor for as long as the progress deadline: the step fails,
        //  and the strategy service says what that leads to.
        char failure [400];
        snprintf (failure, sizeof failure, "no executor ran it within the progress deadline "
                  "of %lld ms: %.300s", (long long) r->spec->policy.progress_deadline_ms, why);
        rt->waiting_since = 0;
        s_step_failed (rt, failure, NULL);
        return;
    }
    rt->lost = lost;
    flot_actor_t *actor = r->owner->actor;
    int64_t wait_ms = flot_actor_liveness_ms (actor) + flot_actor_heartbeat_ms (actor)
                    + FLOT_HOOK_KILL_GRACE_MS;
    if (wait_ms < DECISION_RETRY_MS)
        wait_ms = DECISION_RETRY_MS;
    snprintf (r->message, sizeof r->message,
              "step %s attempt %d waits for an executor (%.300s); asking again in %lld ms",
              step->id, rt->attempt, why, (long long) wait_ms);
    s_wait (rt, wait_ms, s_on_resend);
}

//  An error answer to ExecuteStep that is a fault of the way there, not of
//  the hook.
static bool
s_executor_fault (const flot_err_t *err)
{
    return s_transient (err) || err->code == FLOT_E_CONFLICT
        || err->code == FLOT_E_NOT_AUTHORIZED || err->code == FLOT_E_INTERNAL;
}

static void
s_on_hook (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    step_rt_t *rt = arg;
    rollback_t *r = rt->rollback;
    r->busy--;
    if (answer->kind == FLOT_ERROR && answer->err.code == FLOT_E_NOT_FOUND && rt->again
    &&  r->state == RS_RUNNING) {
        //  Not known to the executor that got it again: a new attempt,
        //  which the retries do not count.
        rt->orphans++;
        snprintf (r->message, sizeof r->message, "step %s attempt %d is not known to the "
                  "executor that got it again; it runs again", r->plan->steps [rt->s].id,
                  rt->attempt);
        flot_warn (WHO, "%s: %s", r->deployment, r->message);
        s_step_start (r, rt);
    }
    else
    if (answer->kind == FLOT_ERROR && s_executor_fault (&answer->err)) {
        int code = answer->err.code;
        rt->delivered = code == FLOT_E_DEADLINE || code == FLOT_E_CANCELLED;
        if (r->state == RS_RUNNING)
            s_step_waits (rt, answer->err.message, answer->err.code == FLOT_E_ACTOR_FAILED);
        else
            rt->state = TS_FAILED;
    }
    else
    if (answer->kind == FLOT_ERROR) {
        rt->waiting_since = 0;
        s_step_failed (rt, answer->err.message, NULL);
    }
    else {
        rt->waiting_since = 0;
        //  The executor's answer: a STEP_RESULT (SPEC section 17).
        msgpack_zone zone;
        msgpack_zone_init (&zone, 1024);
        flot_executor_step_result_t result;
        flot_err_t err;
        char why [320];
        if (flot_executor_step_result_decode (answer->body, &zone, &result, &err)) {
            snprintf (why, sizeof why, "the executor's answer is not a step result: %s",
                      err.message);
            s_step_failed (rt, why, NULL);
        }
        else
        if (streq (result.status, "succeeded"))
            s_step_succeeded (rt, result.output);
        else
        if (streq (result.status, "orphaned")) {
            //  Its executor stopped the run (it lost its broker): a new
            //  attempt runs, which the retries do not count.
            rt->orphans++;
            snprintf (r->message, sizeof r->message, "step %s attempt %d was stopped by its "
                      "executor (orphaned); it runs again", r->plan->steps [rt->s].id,
                      rt->attempt);
            flot_warn (WHO, "%s: %s", r->deployment, r->message);
            if (r->state == RS_RUNNING)
                s_step_start (r, rt);
            else
                rt->state = TS_FAILED;
        }
        else {
            if (streq (result.status, "timeout"))
                snprintf (why, sizeof why, "the hook ran past its timeout of %lld ms",
                          (long long) r->spec->hook.timeout_ms);
            else
                snprintf (why, sizeof why, "the hook exited with status %lld",
                          (long long) result.exit_code);
            s_step_failed (rt, why, result.output);
        }
        msgpack_zone_destroy (&zone);
    }
    if (r->state == RS_RUNNING)
        s_advance (r);
    s_evict (r->owner);
}

//  Sends the step's hook to the executor that serves its target.
static void
s_step_start (rollback_t *r, step_rt_t *rt)
{
    const flot_step_t *step = &r->plan->steps [rt->s];
    rt->state = TS_RUNNING;
    rt->attempt++;
    rt->again = false;
    snprintf (r->message, sizeof r->message, "reverting %s (%s, attempt %d)",
              s_target_name (r, rt), flot_step_type_name (step->type), rt->attempt);
    s_push (r, rt, "running", NULL);
    s_step_send (r, rt);
}

//  Sends the step's current attempt to the executor that serves its target
//  (again, after a fault: the executor runs one attempt once).
static void
s_step_send (rollback_t *r, step_rt_t *rt)
{
    const flot_step_t *step = &r->plan->steps [rt->s];
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    flot_step_call_pack (&pk, r->spec, r->deployment, step, rt->attempt, r->cwd, r->started_ms_key,
                         rt->again);
    //  As long as the progress deadline: the hook may wait for a slot first.
    int64_t timeout = r->spec->hook.timeout_ms + FLOT_STEP_CALL_MARGIN_MS;
    if (timeout < r->spec->policy.progress_deadline_ms)
        timeout = r->spec->policy.progress_deadline_ms;
    if (timeout > FLOT_MAX_TIMEOUT_MS)
        timeout = FLOT_MAX_TIMEOUT_MS;
    uint64_t call = flot_actor_call (r->owner->actor, "executor", s_target_name (r, rt),
                                     "ExecuteStep", sbuf.data, sbuf.size,
                                     (uint32_t) timeout, false, s_on_hook, rt);
    msgpack_sbuffer_destroy (&sbuf);
    if (call)
        r->busy++;
    else {
        rt->delivered = false;
        s_step_waits (rt, "the request could not be sent", false);
    }
}

//  Starts what may start: targets in the plan's order (reverse dependency
//  order), at most its concurrency in progress, in gradual mode only those
//  whose dependents are reverted. Completes the rollback when every target
//  is reverted.
static void
s_advance (rollback_t *r)
{
    const flot_plan_t *plan = r->plan;
    size_t n = r->spec->target_count;
    bool *reverted = calloc (n ? n : 1, sizeof (bool));
    assert (reverted);
    size_t in_progress = 0, left = 0;
    for (size_t t = 0; t < n; t++) {
        size_t first = plan->first [t];
        reverted [t] = first == plan->first [t + 1] || r->steps [first].state == TS_REVERTED;
        in_progress += first < plan->first [t + 1] && r->steps [first].state == TS_RUNNING;
        left += !reverted [t];
    }
    bool gradual = r->spec->rollback.mode == FLOT_ROLLBACK_GRADUAL;
    for (size_t i = 0; i < n && in_progress < plan->concurrency && r->state == RS_RUNNING; i++) {
        int t = plan->order [i];
        size_t first = plan->first [t];
        if (first == plan->first [t + 1] || r->steps [first].state != TS_PENDING
        ||  (gradual && !flot_plan_ready (r->spec, t, reverted, true)))
            continue;
        in_progress++;
        s_step_start (r, &r->steps [first]);
    }
    free (reverted);
    if (left == 0 && r->state == RS_RUNNING) {
        char message [TEXT_MAX];
        snprintf (message, sizeof message, "rolled back %zu target%s", r->steps_total,
                  r->steps_total == 1 ? "" : "s");
        s_finish (r, RS_COMPLETED, message, NULL, NULL);
    }
}

//  --------------------------------------------------------------------------
//  Reading requests

//  Marks in flags (one per target) the targets named in names, the
//  request's field key.
static int
s_read_targets (const flot_array_t *names, const char *key, const flot_spec_t *spec,
                bool *flags, flot_err_t *err)
{
    const char *const *items = names->items;
    for (size_t i = 0; i < names->count; i++) {
        int t = flot_spec_target_index (spec, items [i]);
        if (t < 0)
            return flot_err_set (err, FLOT_E_INVALID,
                "field '%s[%zu]': '%s' is not a target of the deployment", key, i, items [i]);
        flags [t] = true;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Status

//  Answers the request with the rollback's STATUS.
static void
s_reply_status (flot_request_t **request_p, const rollback_t *r)
{
    flot_rollback_target_state_t *targets =
        calloc (r->plan->step_count + 1, sizeof (flot_rollback_target_state_t));
    assert (targets);
    size_t count = 0;
    //  In the plan's order: the order they are reverted in.
    for (size_t i = 0; i < r->plan->target_count; i++) {
        int t = r->plan->order [i];
        for (size_t s = r->plan->first [t]; s < r->plan->first [t + 1]; s++)
            targets [count++] = (flot_rollback_target_state_t) {
                .name = r->spec->targets [t].name,
                .state = s_tstates [r->steps [s].state],
                .step_id = r->plan->steps [s].id,
                .attempt = (uint64_t) r->steps [s].attempt
            };
    }
    flot_rollback_status_t status = {
        .deployment = r->deployment,
        .state = s_rstates [r->state],
        .percent = (uint64_t) s_percent (r),
        .message = r->message,
        .started_ms = (uint64_t) r->started_ms,
        .finished_ms = (uint64_t) r->finished_ms,
        .reason = r->reason,
        .targets = { .count = count, .items = targets }
    };
    flot_request_answer (request_p, &status);
    free (targets);
}

//  Finds the rollback of deployment; NULL after answering the request.
static rollback_t *
s_lookup (service_t *self, flot_request_t **request_p, const char *deployment)
{
    rollback_t *r = zhashx_lookup (self->rollbacks, deployment);
    if (!r)
        flot_request_error (request_p, FLOT_E_NOT_FOUND,
                            "no rollback of deployment '%s' is known", deployment);
    return r;
}

//  --------------------------------------------------------------------------
//  Commands

static void
s_stream_gone (flot_actor_t *actor, flot_stream_t *stream, void *arg)
{
    (void) actor;
    (void) stream;
    rollback_t *r = arg;
    //  The rollback goes on: it must not stop half done.
    r->stream = NULL;
}

//  An error of flot_resolved_spec names a field of the RESOLVED message:
//  as a field of the request, it is one of `resolved`.
static void
s_resolved_error (flot_err_t *err)
{
    const char *prefix = "field '";
    size_t len = strlen (prefix);
    if (strncmp (err->message, prefix, len) == 0) {
        char message [sizeof err->message];
        snprintf (message, sizeof message, "field 'resolved.%s", err->message + len);
        snprintf (err->message, sizeof err->message, "%s", message);
    }
}

//  Reads InitiateRollback's request into a new rollback; NULL with err.
static rollback_t *
s_rollback_read (service_t *self, const flot_rollback_initiate_rollback_request_t *args,
                 flot_err_t *err)
{
    rollback_t *r = calloc (1, sizeof *r);
    assert (r);
    r->owner = self;
    //  The contract bounds them to fit.
    snprintf (r->deployment, sizeof r->deployment, "%s", args->deployment);
    snprintf (r->cwd, sizeof r->cwd, "%s", args->cwd ? args->cwd : "");
    snprintf (r->reason, sizeof r->reason, "%s", args->reason);
    r->started_ms_key = args->deployment_started_ms;
    const flot_strategy_resolved_t *resolved = args->resolved;
    if (!resolved) {
        flot_err_set (err, FLOT_E_INVALID, "field 'resolved' is required: this rollback "
                      "service runs only from a RESOLVED deployment (the coordinator is "
                      "older)");
        goto fail;
    }
    if (*r->cwd && *r->cwd != '/') {
        flot_err_set (err, FLOT_E_INVALID, "field 'cwd': '%s' is not an absolute directory",
                      r->cwd);
        goto fail;
    }
    r->spec = flot_resolved_spec (resolved, err);
    if (!r->spec) {
        s_resolved_error (err);
        goto fail;
    }
    size_t n = r->spec->target_count;
    bool *touched = calloc (n ? n : 1, sizeof (bool));
    bool *switched = calloc (n ? n : 1, sizeof (bool));
    bool *reverted = calloc (n ? n : 1, sizeof (bool));
    assert (touched && switched && reverted);
    int rc = s_read_targets (&args->touched, "touched", r->spec, touched, err);
    if (rc == 0)
        rc = s_read_targets (&args->switched, "switched", r->spec, switched, err);
    if (rc == 0)
        rc = s_read_targets (&args->reverted, "reverted", r->spec, reverted, err);
    if (rc == 0) {
        //  Traffic that moved was a change: it is switched back.
        for (size_t t = 0; t < n; t++)
            touched [t] = touched [t] || switched [t];
        r->plan = flot_resolved_rollback (resolved, r->spec, touched, switched);
        assert (r->plan);
        r->steps = calloc (r->plan->step_count + 1, sizeof (step_rt_t));
        assert (r->steps);
        for (size_t s = 0; s < r->plan->step_count; s++) {
            step_rt_t *rt = &r->steps [s];
            rt->rollback = r;
            rt->s = s;
            rt->skipped = reverted [r->plan->steps [s].target];
            rt->state = rt->skipped ? TS_REVERTED : TS_PENDING;
            r->steps_total += !rt->skipped;
        }
    }
    free (touched);
    free (switched);
    free (reverted);
    if (rc == 0)
        return r;
fail:
    s_rollback_destroy (&r);
    return NULL;
}

//  True if the running rollback covers every step of r still to be run:
//  the same deployment asked again (its coordinator restarted or lost its
//  link), not a different rollback.
static bool
s_covers (const rollback_t *running, const rollback_t *r)
{
    for (size_t s = 0; s < r->plan->step_count; s++) {
        if (r->steps [s].skipped)
            continue;
        int t = r->plan->steps [s].target;
        int u = flot_spec_target_index (running->spec, r->spec->targets [t].name);
        if (u < 0 || running->plan->first [u] == running->plan->first [u + 1])
            return false;
    }
    return true;
}

//  The caller asks again for a rollback that still runs here: the new
//  stream takes over from the old one, and first hears of every step that
//  has run or runs now. No step runs twice (SPEC section 8).
static void
s_adopt (rollback_t *running, flot_request_t *request)
{
    flot_actor_t *actor = running->owner->actor;
    if (running->stream) {
        //  The old stream ends with the rollback still running.
        flot_rollback_progress_t progress = {
            .deployment = running->deployment, .state = s_rstates [running->state],
            .percent = (uint64_t) s_percent (running),
            .message = "taken up by a new request", .started_ms = (uint64_t) running->started_ms
        };
        flot_stream_finish (actor, &running->stream, &progress);
    }
    flot_notice (WHO, "%s: asked again while its rollback runs (%d%%): the new caller "
                 "takes it up", running->deployment, s_percent (running));
    running->stream = flot_request_open_stream (request, s_stream_gone, running);
    flot_rollback_initiate_rollback_reply_t reply = {
        .stream = flot_request_corr (request), .steps_total = running->steps_total
    };
    flot_request_answer (&request, &reply);
    char message [TEXT_MAX];
    snprintf (message, sizeof message, "%s", running->message);
    for (size_t i = 0; i < running->plan->target_count; i++) {
        int t = running->plan->order [i];
        for (size_t s = running->plan->first [t]; s < running->plan->first [t + 1]; s++) {
            step_rt_t *rt = &running->steps [s];
            if (rt->skipped || rt->state == TS_PENDING)
                continue;
            const char *state = rt->state == TS_REVERTED ? "succeeded"
                              : rt->state == TS_FAILED ? "failed" : "running";
            s_push (running, rt, state, NULL);
        }
    }
    snprintf (running->message, sizeof running->message, "%s", message);
    s_push (running, NULL, NULL, NULL);
}

static void
s_initiate (flot_actor_t *actor, flot_request_t *request)
{
    service_t *self = flot_actor_state (actor);
    flot_err_t err;
    rollback_t *r = s_rollback_read (self, flot_request_args (request), &err);
    if (!r) {
        flot_request_fail (&request, &err);
        return;
    }
    rollback_t *running = zhashx_lookup (self->rollbacks, r->deployment);
    if (running && running->state == RS_RUNNING) {
        if (s_covers (running, r))
            s_adopt (running, request);
        else {
            flot_request_error (&request, FLOT_E_CONFLICT,
                                "the rollback of %s is already running (%d%%) and does not "
                                "cover the targets asked for", r->deployment,
                                s_percent (running));
        }
        s_rollback_destroy (&r);
        return;
    }
    //  A finished rollback of the same deployment gives way to this one.
    rollback_t *old = zhashx_lookup (self->rollbacks, r->deployment);
    if (old) {
        zhashx_delete (self->rollbacks, old->deployment);
        //  One still waiting for late answers stays in the finished list
        //  until it is idle.
        old->retired = true;
        self->retired++;
    }
    r->state = RS_RUNNING;
    r->started_ms = zclock_time ();
    zhashx_insert (self->rollbacks, r->deployment, r);
    snprintf (r->message, sizeof r->message, "rolling back %zu target%s (%s): %.400s",
              r->steps_total, r->steps_total == 1 ? "" : "s",
              r->spec->rollback.mode == FLOT_ROLLBACK_GRADUAL ? "gradual" : "immediate",
              r->reason);
    flot_notice (WHO, "%s: %s", r->deployment, r->message);
    r->stream = flot_request_open_stream (request, s_stream_gone, r);
    flot_rollback_initiate_rollback_reply_t reply = {
        .stream = flot_request_corr (request), .steps_total = r->steps_total
    };
    flot_request_answer (&request, &reply);
    s_push (r, NULL, NULL, NULL);
    s_advance (r);
    s_evict (self);
}

static void
s_get_status (flot_actor_t *actor, flot_request_t *request)
{
    const flot_rollback_get_rollback_status_request_t *args = flot_request_args (request);
    rollback_t *r = s_lookup (flot_actor_state (actor), &request, args->deployment);
    if (r)
        s_reply_status (&request, r);
}

static void
s_complete (flot_actor_t *actor, flot_request_t *request)
{
    service_t *self = flot_actor_state (actor);
    const flot_rollback_complete_rollback_request_t *args = flot_request_args (request);
    bool failed = args->failed;
    char message [TEXT_MAX];
    snprintf (message, sizeof message, "%s", args->message ? args->message : "");
    rollback_t *r = s_lookup (self, &request, args->deployment);
    if (!r)
        return;
    if (r->state != RS_RUNNING) {
        flot_request_error (&request, FLOT_E_CONFLICT,
                            "the rollback of %s is not running: it %s", r->deployment,
                            s_rstates [r->state]);
        return;
    }
    if (!*message)
        snprintf (message, sizeof message, "%s by hand", failed ? "failed" : "completed");
    //  Steps in flight end later; their results no longer change the outcome.
    s_finish (r, failed ? RS_FAILED : RS_COMPLETED, message, NULL, NULL);
    s_reply_status (&request, r);
    s_evict (self);
}

//  ShouldRollback: the request's facts, for flot_rollback_decide.
static void
s_should_rollback (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    const flot_rollback_should_rollback_request_t *args = flot_request_args (request);
    flot_rollback_facts_t facts = {
        .on_failure = streq (args->on_failure, "continue") ? FLOT_ON_FAILURE_CONTINUE
                    : streq (args->on_failure, "holdDependents") ? FLOT_ON_FAILURE_HOLD_DEPENDENTS
                    : FLOT_ON_FAILURE_FAIL_ALL,
        .deadline_passed = args->deadline_passed
    };
    const flot_rollback_health_t *health = args->health;
    if (health) {
        facts.has_health = true;
        facts.health.healthy = health->healthy;
        facts.health.target = health->target;
        facts.health.check = health->check;
        facts.health.message = health->message;
    }
    const flot_analyzer_result_t *analysis = args->analysis;
    flot_rollback_metric_t *metrics = NULL;
    if (analysis) {
        //  The contract checked every enum: the names parse.
        facts.has_analysis = true;
        facts.analysis.phase = (flot_analyzer_phase_t) flot_analyzer_phase_parse (analysis->phase);
        facts.analysis.final = analysis->final;
        facts.analysis.passed = analysis->passed;
        facts.analysis.score = analysis->score;
        int advice = FLOT_DECISION_CONTINUE;
        while (advice < FLOT_DECISION_COUNT
           &&  !streq (analysis->recommendation, flot_rollback_decision_name (advice)))
            advice++;
        facts.analysis.recommendation = (flot_rollback_decision_t) advice;
        facts.analysis.reason = analysis->reason;
        size_t count = analysis->metrics.count;
        const flot_analyzer_metric_t *items = analysis->metrics.items;
        metrics = calloc (count + 1, sizeof (flot_rollback_metric_t));
        assert (metrics);
        for (size_t i = 0; i < count; i++)
            metrics [i] = (flot_rollback_metric_t) {
                .name = items [i].name, .phase = items [i].phase,
                .has_value = items [i].has_value, .value = items [i].value,
                .message = items [i].message
            };
        facts.analysis.metrics = metrics;
        facts.analysis.metric_count = count;
    }
    char reason [1024];
    flot_rollback_decision_t decision = flot_rollback_decide (&facts, reason, sizeof reason);
    free (metrics);
    flot_rollback_should_rollback_reply_t reply = {
        .action = flot_rollback_decision_name (decision), .reason = reason
    };
    flot_request_answer (&request, &reply);
}

//  --------------------------------------------------------------------------
//  Life cycle

static int
s_start (flot_actor_t *actor)
{
    service_t *self = calloc (1, sizeof *self);
    assert (self);
    self->actor = actor;
    self->rollbacks = zhashx_new ();
    self->finished = zlistx_new ();
    self->keep = KEEP_DEFAULT;
    const char *keep = flot_actor_option (actor, "keep", NULL);
    if (keep) {
        char *end = NULL;
        unsigned long value = strtoul (keep, &end, 10);
        if (!*keep || *end || value > 1000000) {
            flot_error (WHO, "option keep=%s is not a count in 0..1000000", keep);
            zhashx_destroy (&self->rollbacks);
            zlistx_destroy (&self->finished);
            free (self);
            return -1;
        }
        self->keep = value;
    }
    flot_actor_set_state (actor, self);
    return 0;
}

static void
s_stop (flot_actor_t *actor)
{
    service_t *self = flot_actor_state (actor);
    //  Rollbacks still running stop with the actor: calls in flight and
    //  timers go with its loop, open streams are ended by the host.
    for (rollback_t *r = zhashx_first (self->rollbacks); r; r = zhashx_next (self->rollbacks))
        if (r->state == RS_RUNNING)
            s_rollback_destroy (&r);
    for (rollback_t *r = zlistx_first (self->finished); r; r = zlistx_next (self->finished))
        s_rollback_destroy (&r);
    zhashx_destroy (&self->rollbacks);
    zlistx_destroy (&self->finished);
    free (self);
}

static const flot_command_t s_commands [] = {
    { "ShouldRollback", s_should_rollback },
    { "InitiateRollback", s_initiate },
    { "GetRollbackStatus", s_get_status },
    { "CompleteRollback", s_complete },
    { NULL, NULL }
};

const flot_actor_def_t flot_rollback_actor = {
    .service = "rollback",
    .contract = &flot_rollback_contract,
    .commands = s_commands,
    .start = s_start,
    .stop = s_stop
};
