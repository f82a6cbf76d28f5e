/*  gates.c - the checks of a deployment: gates, and watching a target.

    A gate step (canary gate, blue-green pre- and post-switch) first waits
    for the target's health checks (health WaitForReady), then runs the
    analysis (analyzer StartAnalysis, a stream of one result per interval).
    A soak step waits for health, then soaks. Once a target is ready, it is
    monitored (health StartMonitoring) until it is done. With a background
    analysis, the analysis runs instead for each target from its first step
    to its end. Every health report and analysis result goes to the rollback
    service's ShouldRollback, whose action is applied: continue, promote (the
    gate passes), pause (for a person; a promote passes the gate), rollback,
    or fail_target (the failure policy). A restart runs an interrupted gate
    again.

    steps.c starts a gate (coord_gate_start) and ends the step it decides;
    a rollback fails the deployment (schedule.c). A call's argument is a
    gate_ref_t, private to this file.
*/

#include "coordinator_internal.h"

#define GATE_MARGIN_MS 2000

//  The argument of a gate's calls: which step, and which run of it.
//  Each is in the coordinator's gate_refs until its call ends, so that
//  none is lost when the actor stops with calls in flight.
typedef struct {
    deployment_t *dep;
    size_t s;
    int attempt;
    int target;                 //  watching a target (monitoring, background
                                //  analysis): the target; a gate: -1
    void *handle;               //  in gate_refs
} gate_ref_t;

static gate_ref_t *
s_gate_ref (deployment_t *dep, size_t s, int target)
{
    gate_ref_t *ref = malloc (sizeof *ref);
    assert (ref);
    *ref = (gate_ref_t) { .dep = dep, .s = s, .attempt = dep->steps [s].attempt,
                          .target = target };
    ref->handle = zlistx_add_end (dep->owner->gate_refs, ref);
    return ref;
}

deployment_t *
coord_gate_ref_dep (const void *ref)
{
    return ((const gate_ref_t *) ref)->dep;
}

static void
s_gate_ref_free (gate_ref_t *ref)
{
    if (ref)
        zlistx_delete (ref->dep->owner->gate_refs, ref->handle);
}

//  True if the gate's call still matters: the same run of a step that runs.
static bool
s_gate_current (const gate_ref_t *ref)
{
    const step_rt_t *rt = &ref->dep->steps [ref->s];
    return ref->dep->state == DS_RUNNING && rt->state == SS_RUNNING
        && rt->attempt == ref->attempt;
}

const char *
coord_on_failure_name (const deployment_t *dep)
{
    static const char *names [] = { "failAll", "holdDependents", "continue" };
    return names [dep->spec->policy.on_failure];
}

static void s_gate_analysis (deployment_t *dep, size_t s);
static void s_analysis_keep (deployment_t *dep, int t, const flot_analyzer_result_t *result);

//  The soak of step s, once its target is healthy.
static void
s_soak_timer (deployment_t *dep, size_t s)
{
    coord_step_timer (dep, s, dep->plan->steps [s].duration_ms);
}

static void s_gate_passed (deployment_t *dep, size_t s, const char *why);
static void s_monitor_start (deployment_t *dep, int t);

//  Asks service to end the stream we opened (no answer matters): health's
//  StopMonitoring or analyzer's StopAnalysis, request as def encodes it.
static void
s_stop_stream (deployment_t *dep, const char *service, const char *command,
               const flot_struct_t *def, const void *request)
{
    flot_actor_call_msg (dep->owner->actor, service, NULL, command, def, request,
                         5000, false, NULL, NULL);
}

//  Ends what the gate of step s has in flight (a wait or an analysis).
void
coord_gate_stop (deployment_t *dep, size_t s)
{
    step_rt_t *rt = &dep->steps [s];
    if (!rt->gate_call)
        return;
    flot_actor_call_forget (dep->owner->actor, rt->gate_call);
    s_gate_ref_free (rt->gate_arg);
    if (rt->gate_stream)
        s_stop_stream (dep, "analyzer", FLOT_ANALYZER_STOP_ANALYSIS,
                       &flot_analyzer_stop_analysis_request_def,
                       &(flot_analyzer_stop_analysis_request_t) { .stream = rt->gate_call });
    rt->gate_call = 0;
    rt->gate_arg = NULL;
    rt->gate_stream = false;
}

//  A check failed target t, whose current step is s: the target fails
//  under the failure policy, with no retry; now, or when its hook ends.
static void
s_target_failed (deployment_t *dep, size_t s, const char *why)
{
    step_rt_t *rt = &dep->steps [s];
    int t = dep->plan->steps [s].target;
    if (rt->call) {
        free (dep->trt [t].pending_failure);
        dep->trt [t].pending_failure = strdup (why);
        return;
    }
    coord_gate_stop (dep, s);
    coord_timer_cancel (dep, rt);
    coord_watch_stop (dep, t);
    coord_step_failed_as (dep, s, why, NULL, false);
}

//  Applies ShouldRollback's answer to the gate (or, for a monitored target,
//  to the target).
static void
s_on_decision (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    gate_ref_t *ref = arg;
    deployment_t *dep = ref->dep;
    size_t s = ref->s;
    //  Watching a target (its health, or a background analysis), not a gate.
    bool watching = ref->target >= 0;
    bool current = !watching ? s_gate_current (ref)
                 : dep->state == DS_RUNNING && dep->tstate [ref->target] != TS_DONE
                   && dep->tstate [ref->target] != TS_FAILED;
    int t = watching ? ref->target : dep->plan->steps [s].target;
    s_gate_ref_free (ref);
    if (!current)
        return;
    //  An answer that is not a decision pauses: a person decides.
    char action [32] = "pause", reason [400] = "";
    flot_err_t err;
    flot_rollback_should_rollback_reply_t reply;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    if (answer->kind == FLOT_ERROR)
        snprintf (reason, sizeof reason, "the rollback service did not decide: %s",
                  answer->err.message);
    else
    if (flot_rollback_should_rollback_reply_decode (answer->body, &zone, &reply, &err))
        snprintf (reason, sizeof reason, "the rollback service's answer is not a decision: %s",
                  err.message);
    else {
        snprintf (action, sizeof action, "%s", reply.action);
        snprintf (reason, sizeof reason, "%s", reply.reason);
    }
    msgpack_zone_destroy (&zone);
    const char *name = dep->spec->targets [t].name;
    if (streq (action, "continue") || (watching && streq (action, "promote")))
        return;
    if (streq (action, "promote")) {
        coord_gate_stop (dep, s);
        s_gate_passed (dep, s, reason);
        return;
    }
    coord_begin (dep->owner);
    if (streq (action, "rollback")) {
        coord_event (dep, t, &flot_event_gate_failed_def,
                     &(flot_event_gate_failed_t) {
                         .action = "rollback", .on_failure = coord_on_failure_name (dep),
                         .reason = reason },
                     "%s: %s: rolling back", name, reason);
        coord_stop_waits (dep);
        coord_fail (dep, "%s: %s", name, reason);
    }
    else
    if (streq (action, "fail_target")) {
        coord_event (dep, t, &flot_event_gate_failed_def,
                     &(flot_event_gate_failed_t) {
                         .action = "fail_target", .on_failure = coord_on_failure_name (dep),
                         .reason = reason },
                     "%s: %s: the failure policy %s applies", name, reason,
                     coord_on_failure_name (dep));
        coord_commit (dep->owner);
        s_target_failed (dep, dep->cursor [t], reason);
        return;
    }
    else {
        //  pause, or anything else: a person decides.
        if (!watching) {
            coord_gate_stop (dep, s);
            dep->steps [s].gate_waiting = true;
            coord_target_to (dep, t, FLOT_EV_GATE_PAUSED);
        }
        if (!dep->paused) {
            dep->paused = true;
            if (watching)
                coord_event (dep, t, &flot_event_deployment_paused_def,
                             &(flot_event_deployment_paused_t) {
                                 .cause = "watch", .reason = reason },
                             "paused while watching %s: %s; "
                             "resume to go on, abort to roll back", name, reason);
            else
                coord_event (dep, t, &flot_event_deployment_paused_def,
                             &(flot_event_deployment_paused_t) {
                                 .cause = "gate", .reason = reason },
                             "paused at the gate of %s: %s; "
                             "promote to go on, abort to roll back", name, reason);
        }
        coord_save_deployment (dep);
    }
    coord_commit (dep->owner);
    coord_advance (dep);
}

//  Asks the rollback service what to do about a health report or an
//  analysis result (one of them; the other NULL).
static void
s_should_rollback_ask (deployment_t *dep, size_t s, int target,
                       const flot_rollback_health_t *health,
                       const flot_analyzer_result_t *analysis)
{
    flot_rollback_should_rollback_request_t request = {
        .on_failure = coord_on_failure_name (dep),
        .health = (flot_rollback_health_t *) health,
        .analysis = (flot_analyzer_result_t *) analysis
    };
    gate_ref_t *ref = s_gate_ref (dep, s, target);
    if (!flot_actor_call_msg (dep->owner->actor, "rollback", NULL, FLOT_ROLLBACK_SHOULD_ROLLBACK,
                              &flot_rollback_should_rollback_request_def, &request, 10000,
                              false, s_on_decision, ref)) {
        flot_answer_t answer = coord_unsent ();
        s_on_decision (dep->owner->actor, &answer, ref);
    }
}

//  An error that says the service could not answer now, not that the
//  target is bad: the question is asked again.
bool
coord_transient (const flot_answer_t *answer)
{
    if (answer->kind != FLOT_ERROR)
        return false;
    int code = answer->err.code;
    return code == FLOT_E_UNKNOWN_SERVICE || code == FLOT_E_NO_INSTANCE
        || code == FLOT_E_DEADLINE || code == FLOT_E_ACTOR_FAILED
        || code == FLOT_E_BUSY || code == FLOT_E_CANCELLED;
}

static int
s_on_gate_retry (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    gate_ref_t *ref = arg;
    deployment_t *dep = ref->dep;
    size_t s = ref->s;
    int t = ref->target;
    bool current = t < 0 ? s_gate_current (ref)
                 : dep->state == DS_RUNNING && dep->tstate [t] != TS_DONE
                   && dep->tstate [t] != TS_FAILED && !dep->trt [t].background;
    s_gate_ref_free (ref);
    if (!current)
        return 0;
    if (t < 0)
        coord_gate_start (dep, s);
    else {
        dep->trt [t].background_ran = false;
        coord_background_start (dep, t, dep->cursor [t] < dep->plan->first [t + 1]
                                        ? dep->cursor [t] : s);
    }
    return 0;
}

//  The service could not answer the gate of step s (or target's background
//  analysis, for target >= 0): say so, and ask again in a while.
static void
s_gate_retry (deployment_t *dep, size_t s, int target, const char *service,
              const flot_answer_t *answer)
{
    int t = target >= 0 ? target : dep->plan->steps [s].target;
    coord_begin (dep->owner);
    coord_event (dep, t, &flot_event_gate_waiting_def,
                 &(flot_event_gate_waiting_t) {
                     .service = service, .reason = answer->err.message,
                     .retry_in_ms = GATE_RETRY_MS },
                 "%s: the %s service could not answer (%s); "
                 "asking again in %d ms", dep->spec->targets [t].name, service,
                 answer->err.message, GATE_RETRY_MS);
    coord_commit (dep->owner);
    coord_pump (dep->owner);
    gate_ref_t *ref = s_gate_ref (dep, s, target);
    flot_loop_timer (flot_actor_loop (dep->owner->actor), GATE_RETRY_MS, 1, s_on_gate_retry, ref);
}

//  Makes *answer the answer of a call not sent because something failed
//  here, before it (the service was never asked): INTERNAL, which is not
//  asked again, saying what failed; its corr stays 0. Logs it. Returns -1.
static int
s_local_failure (flot_answer_t *answer, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static int
s_local_failure (flot_answer_t *answer, const char *format, ...)
{
    char why [sizeof answer->err.message];
    va_list args;
    va_start (args, format);
    vsnprintf (why, sizeof why, format, args);
    va_end (args);
    *answer = (flot_answer_t) { .kind = FLOT_ERROR };
    flot_err_set (&answer->err, FLOT_E_INTERNAL, "%s", why);
    flot_error (WHO, "%s", why);
    return -1;
}

//  The CONTEXT of target t at version, in zone; or -1 with *answer saying so.
static int
s_context (deployment_t *dep, int t, const char *version, msgpack_zone *zone,
           flot_health_context_t *context, flot_answer_t *answer)
{
    if (flot_context_fill (context, dep->spec, &dep->spec->targets [t], version, zone))
        return s_local_failure (answer, "%s: out of memory filling the CONTEXT of %s",
                                dep->id, dep->spec->targets [t].name);
    return 0;
}

//  The spec's health checks (its healthChecks, kept as msgpack bytes) as
//  the CHECKs of a health request, unpacked in zone. Returns 0, or -1 with
//  *answer saying why.
static int
s_health_checks (deployment_t *dep, msgpack_zone *zone, flot_array_t *checks,
                 flot_answer_t *answer)
{
    msgpack_object list;
    size_t offset = 0;
    int rc = msgpack_unpack (dep->spec->checks.health, dep->spec->checks.health_size, &offset,
                             zone, &list);
    if (rc != MSGPACK_UNPACK_SUCCESS)
        return s_local_failure (answer, "%s: the spec's health checks cannot be read: "
                                "%zu bytes that are not one msgpack value (unpack %d)",
                                dep->id, dep->spec->checks.health_size, rc);
    if (list.type != MSGPACK_OBJECT_ARRAY)
        return s_local_failure (answer, "%s: the spec's health checks cannot be read: "
                                "msgpack type %d, not an array", dep->id, (int) list.type);
    *checks = (flot_array_t) { list.via.array.size, list.via.array.ptr };
    return 0;
}

//  Asks ShouldRollback about target t's health (t -1: the step's target):
//  healthy, the check that decided and why, cut to the lengths of the
//  rollback contract's HEALTH.
static void
s_should_rollback_health (deployment_t *dep, size_t s, int t, bool healthy,
                          const char *check, const char *message)
{
    char check_cut [128], message_cut [400];
    snprintf (check_cut, sizeof check_cut, "%s", check ? check : "");
    snprintf (message_cut, sizeof message_cut, "%s", message ? message : "");
    int target = t >= 0 ? t : dep->plan->steps [s].target;
    flot_rollback_health_t health = {
        .healthy = healthy,
        .target = dep->spec->targets [target].name,
        .check = check_cut,
        .message = message_cut
    };
    s_should_rollback_ask (dep, s, t, &health, NULL);
}

//  WaitForReady answered: ready goes on (analysis, or the soak), not ready
//  goes to ShouldRollback.
static void
s_on_ready (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    gate_ref_t *ref = arg;
    deployment_t *dep = ref->dep;
    size_t s = ref->s;
    bool current = s_gate_current (ref);
    s_gate_ref_free (ref);
    if (!current)
        return;
    step_rt_t *rt = &dep->steps [s];
    rt->gate_call = 0;
    rt->gate_arg = NULL;
    if (coord_transient (answer)) {
        s_gate_retry (dep, s, -1, "health", answer);
        return;
    }
    const flot_step_t *step = &dep->plan->steps [s];
    int t = step->target;
    const char *name = dep->spec->targets [t].name;
    flot_health_wait_for_ready_reply_t reply = { .ready = false };
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    char why [400] = "";
    flot_err_t err;
    //  An error made here (corr 0: the call was not sent) says what failed.
    if (answer->kind == FLOT_ERROR)
        snprintf (why, sizeof why, "%s%s", answer->corr ? "the health service failed: " : "",
                  answer->err.message);
    else
    if (flot_health_wait_for_ready_reply_decode (answer->body, &zone, &reply, &err)) {
        reply = (flot_health_wait_for_ready_reply_t) { .ready = false };
        snprintf (why, sizeof why, "health WaitForReady: the answer is not a READY reply "
                  "(ready, gates): %s", err.message);
    }
    if (reply.ready) {
        msgpack_zone_destroy (&zone);
        dep->trt [t].health = 1;
        coord_begin (dep->owner);
        coord_event (dep, t, &flot_event_health_ready_def,
                     &(flot_event_health_ready_t) { .step = step->id },
                     "%s passed its health checks", name);
        coord_commit (dep->owner);
        s_monitor_start (dep, t);
        if (step->type == FLOT_STEP_SOAK)
            s_soak_timer (dep, s);
        else
            s_gate_analysis (dep, s);
        return;
    }
    //  Not ready: the first gate that is not healthy says why.
    const char *check = "", *message = why;
    const flot_health_gate_t *gates = reply.gates.items;
    for (size_t i = 0; i < reply.gates.count; i++) {
        if (!gates [i].healthy || !*check) {
            check = gates [i].name;
            message = gates [i].message;
        }
        if (!gates [i].healthy)
            break;
    }
    s_should_rollback_health (dep, s, -1, false, check, message);
    msgpack_zone_destroy (&zone);
}

//  Waits for target's health checks, until past the progress deadline (so
//  that the deadline, not this wait, stops a gate that never gets ready).
static void
s_gate_health (deployment_t *dep, size_t s)
{
    step_rt_t *rt = &dep->steps [s];
    int t = dep->plan->steps [s].target;
    int64_t timeout = dep->progress_ms + dep->spec->policy.progress_deadline_ms - coord_now ()
                    + GATE_MARGIN_MS;
    if (timeout < GATE_MARGIN_MS)
        timeout = GATE_MARGIN_MS;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    flot_health_wait_for_ready_request_t request = { .timeout_ms = (uint64_t) timeout };
    flot_health_context_t context;
    gate_ref_t *ref = s_gate_ref (dep, s, -1);
    rt->gate_arg = ref;
    rt->gate_call = 0;
    flot_answer_t answer = coord_unsent ();         //  if it is not sent
    if (s_health_checks (dep, &zone, &request.checks, &answer) == 0
    &&  s_context (dep, t, dep->spec->workload.version, &zone, &context, &answer) == 0) {
        request.context = &context;
        rt->gate_call = flot_actor_call_msg (dep->owner->actor, "health", NULL,
                                             FLOT_HEALTH_WAIT_FOR_READY,
                                             &flot_health_wait_for_ready_request_def, &request,
                                             (uint32_t) (timeout + GATE_MARGIN_MS), false,
                                             s_on_ready, ref);
    }
    msgpack_zone_destroy (&zone);
    if (!rt->gate_call) {
        rt->gate_arg = NULL;
        s_on_ready (dep->owner->actor, &answer, ref);
    }
}

//  One analysis result: an event that says what it found, kept for
//  GetStatus, and given to ShouldRollback.
static void
s_on_analysis (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    gate_ref_t *ref = arg;
    deployment_t *dep = ref->dep;
    size_t s = ref->s;
    //  A gate's analysis, or a target's background analysis.
    bool background = ref->target >= 0;
    int t = background ? ref->target : dep->plan->steps [s].target;
    target_rt_t *trt = &dep->trt [t];
    //  The reply opens the stream; its end (or an error) is the last answer.
    bool last = answer->kind == FLOT_STREAM_END || answer->kind == FLOT_ERROR;
    bool current = background ? dep->state == DS_RUNNING && trt->background_arg == ref
                              : s_gate_current (ref);
    if (last || !current)
        s_gate_ref_free (ref);
    if (current && last && background) {
        trt->background = 0;
        trt->background_arg = NULL;
    }
    else
    if (current && last) {
        dep->steps [s].gate_call = 0;
        dep->steps [s].gate_arg = NULL;
        dep->steps [s].gate_stream = false;
    }
    if (!current || answer->kind == FLOT_REPLY)
        return;         //  the reply says the stream is open
    if (coord_transient (answer)) {
        s_gate_retry (dep, s, background ? t : -1, "analyzer", answer);
        return;
    }
    //  A RESULT of the analyzer; an error, or an answer that is not one, is
    //  an analysis in error, which rolls back.
    flot_analyzer_result_t result;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    flot_err_t err;
    char reason [300] = "";
    if (answer->kind == FLOT_ERROR)
        snprintf (reason, sizeof reason, "the analysis failed: %s", answer->err.message);
    else
    if (flot_analyzer_result_decode (answer->body, &zone, &result, &err))
        snprintf (reason, sizeof reason, "the analyzer's answer is not a RESULT: %s",
                  err.message);
    if (*reason)
        result = (flot_analyzer_result_t) {
            .phase = "error", .final = true, .passed = false, .score = -1,
            .recommendation = "rollback", .reason = reason
        };
    s_analysis_keep (dep, t, &result);
    s_should_rollback_ask (dep, s, background ? t : -1, NULL, &result);
    msgpack_zone_destroy (&zone);
}

//  Starts an analysis of target t: {analysis, context, baseline}. Returns
//  the call, or 0 with *unsent the answer to give it instead.
static uint64_t
s_analysis_start (deployment_t *dep, int t, gate_ref_t *ref, flot_answer_t *unsent)
{
    //  The analysis section is the spec's, as msgpack: the analyzer parses it.
    flot_err_t err;
    flot_body_t *analysis = flot_body_decode (dep->spec->checks.analysis,
                                              dep->spec->checks.analysis_size, &err);
    flot_health_context_t context, baseline;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    uint64_t call = 0;
    *unsent = coord_unsent ();
    if (!analysis)
        s_local_failure (unsent, "%s: the spec's analysis section cannot be read: %s",
                         dep->id, err.message);
    else
    if (s_context (dep, t, dep->spec->workload.version, &zone, &context, unsent) == 0
    &&  s_context (dep, t, dep->spec->workload.rollback_version, &zone, &baseline,
                   unsent) == 0) {
        flot_analyzer_run_t run = {
            .analysis = flot_body_root (analysis), .context = &context, .baseline = &baseline
        };
        call = flot_actor_call_msg (dep->owner->actor, "analyzer", NULL,
                                    FLOT_ANALYZER_START_ANALYSIS, &flot_analyzer_run_def, &run,
                                    10000, true, s_on_analysis, ref);
    }
    flot_body_destroy (&analysis);
    msgpack_zone_destroy (&zone);
    return call;
}

//  Runs the analysis of step s's target, or passes the gate if there is
//  none (or if the analysis runs in the background instead).
static void
s_gate_analysis (deployment_t *dep, size_t s)
{
    if (!dep->spec->checks.analysis || dep->background) {
        s_gate_passed (dep, s, dep->spec->checks.health ? "the target is healthy"
                                                         : "no checks are configured");
        return;
    }
    step_rt_t *rt = &dep->steps [s];
    gate_ref_t *ref = s_gate_ref (dep, s, -1);
    rt->gate_arg = ref;
    rt->gate_stream = true;
    flot_answer_t answer;
    rt->gate_call = s_analysis_start (dep, dep->plan->steps [s].target, ref, &answer);
    if (!rt->gate_call) {
        rt->gate_arg = NULL;
        rt->gate_stream = false;
        s_on_analysis (dep->owner->actor, &answer, ref);
    }
}

//  A background analysis runs for each target from its first step to its
//  end (once: a restart runs it again).
void
coord_background_start (deployment_t *dep, int t, size_t s)
{
    target_rt_t *trt = &dep->trt [t];
    if (!dep->background || trt->background || trt->background_ran)
        return;
    trt->background_ran = true;
    gate_ref_t *ref = s_gate_ref (dep, s, t);
    trt->background_arg = ref;
    flot_answer_t answer;
    trt->background = s_analysis_start (dep, t, ref, &answer);
    if (!trt->background)
        s_on_analysis (dep->owner->actor, &answer, ref);
}

//  The gate of step s passed: the step succeeds.
static void
s_gate_passed (deployment_t *dep, size_t s, const char *why)
{
    const flot_step_t *step = &dep->plan->steps [s];
    coord_begin (dep->owner);
    coord_event (dep, step->target, &flot_event_gate_passed_def,
                 &(flot_event_gate_passed_t) {
                     .step = step->id,
                     .gate = step->gate ? step->gate : flot_step_type_name (step->type),
                     .reason = why },
                 "gate %s of %s passed: %s",
                 step->gate ? step->gate : flot_step_type_name (step->type),
                 dep->spec->targets [step->target].name, why);
    coord_commit (dep->owner);
    coord_step_succeeded (dep, s, FLOT_EV_GATE_PASSED, NULL);
}

//  Starts the gate of step s (a GATE step, or the health wait of a SOAK).
void
coord_gate_start (deployment_t *dep, size_t s)
{
    if (dep->spec->checks.health)
        s_gate_health (dep, s);
    else
    if (dep->plan->steps [s].type == FLOT_STEP_SOAK)
        s_soak_timer (dep, s);
    else
        s_gate_analysis (dep, s);
}

//  --------------------------------------------------------------------------
//  Monitoring a ready target's health until it is done

static void
s_on_monitor (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    gate_ref_t *ref = arg;
    deployment_t *dep = ref->dep;
    int t = ref->target;
    target_rt_t *trt = &dep->trt [t];
    if (answer->kind != FLOT_STREAM) {
        if (answer->kind == FLOT_REPLY)
            return;     //  the stream is open
        //  The stream ended or failed: the target is no longer watched.
        trt->monitor = 0;
        trt->monitor_arg = NULL;
        s_gate_ref_free (ref);
        if (answer->kind == FLOT_ERROR)
            flot_warn (WHO, "%s: monitoring %s ended: %s", dep->id,
                          dep->spec->targets [t].name, answer->err.message);
        return;
    }
    //  A message that is not a health change is unhealthy, as a malformed
    //  answer to WaitForReady is not ready: the target's health is unknown.
    flot_health_start_monitoring_stream_t change;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    flot_err_t err;
    bool healthy = false;
    char message [320], check [128] = "";
    if (flot_health_start_monitoring_stream_decode (answer->body, &zone, &change, &err)) {
        snprintf (message, sizeof message,
                  "health StartMonitoring: a stream message that is not one: %s", err.message);
        flot_error (WHO, "%s: monitoring %s: %s", dep->id, dep->spec->targets [t].name,
                    message);
    }
    else {
        healthy = change.healthy;
        snprintf (message, sizeof message, "%s", change.message);
        snprintf (check, sizeof check, "%s", change.check);
    }
    msgpack_zone_destroy (&zone);
    int state = healthy ? 1 : 2;
    if (state == trt->health)
        return;
    bool first = trt->health == 0;
    trt->health = state;
    free (trt->health_message);
    trt->health_message = strdup (message);
    if (first && healthy)
        return;
    coord_begin (dep->owner);
    flot_event_health_recovered_t recovered = { .reason = message };
    flot_event_health_failed_t failed = { .reason = message };
    coord_event (dep, t, healthy ? &flot_event_health_recovered_def : &flot_event_health_failed_def,
                 healthy ? (void *) &recovered : (void *) &failed, "%s is %s: %s",
                 dep->spec->targets [t].name, healthy ? "healthy again" : "unhealthy", message);
    coord_commit (dep->owner);
    coord_pump (dep->owner);
    if (healthy || dep->state != DS_RUNNING)
        return;
    s_should_rollback_health (dep, dep->cursor [t] < dep->plan->first [t + 1]
                                   ? dep->cursor [t] : dep->plan->first [t],
                              t, false, check, message);
}

//  Watches target t's health from now until it is done (if there are
//  health checks, and it has steps).
static void
s_monitor_start (deployment_t *dep, int t)
{
    target_rt_t *trt = &dep->trt [t];
    if (!dep->spec->checks.health || trt->monitor
    ||  dep->plan->first [t] == dep->plan->first [t + 1])
        return;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    flot_health_start_monitoring_request_t request = { .context = NULL };
    flot_health_context_t context;
    gate_ref_t *ref = s_gate_ref (dep, dep->plan->first [t], t);
    trt->monitor_arg = ref;
    trt->monitor = 0;
    flot_answer_t answer = coord_unsent ();         //  if it is not sent
    if (s_health_checks (dep, &zone, &request.checks, &answer) == 0
    &&  s_context (dep, t, dep->spec->workload.version, &zone, &context, &answer) == 0) {
        request.context = &context;
        trt->monitor = flot_actor_call_msg (dep->owner->actor, "health", NULL,
                                            FLOT_HEALTH_START_MONITORING,
                                            &flot_health_start_monitoring_request_def,
                                            &request, 10000, true, s_on_monitor, ref);
    }
    msgpack_zone_destroy (&zone);
    if (!trt->monitor) {
        trt->monitor_arg = NULL;
        s_gate_ref_free (ref);
        flot_warn (WHO, "%s: cannot monitor %s: %s", dep->id, dep->spec->targets [t].name,
                   answer.err.message);
    }
}

void
coord_watch_stop (deployment_t *dep, int t)
{
    target_rt_t *trt = &dep->trt [t];
    if (trt->background) {
        flot_actor_call_forget (dep->owner->actor, trt->background);
        s_gate_ref_free (trt->background_arg);
        s_stop_stream (dep, "analyzer", FLOT_ANALYZER_STOP_ANALYSIS,
                       &flot_analyzer_stop_analysis_request_def,
                       &(flot_analyzer_stop_analysis_request_t) { .stream = trt->background });
        trt->background = 0;
        trt->background_arg = NULL;
    }
    if (!trt->monitor)
        return;
    flot_actor_call_forget (dep->owner->actor, trt->monitor);
    s_gate_ref_free (trt->monitor_arg);
    s_stop_stream (dep, "health", FLOT_HEALTH_STOP_MONITORING,
                   &flot_health_stop_monitoring_request_def,
                   &(flot_health_stop_monitoring_request_t) { .stream = trt->monitor });
    trt->monitor = 0;
    trt->monitor_arg = NULL;
}

//  Stops every gate and monitor of the deployment (it ends, or rolls back).
void
coord_gates_stop (deployment_t *dep)
{
    for (size_t s = 0; s < dep->plan->step_count; s++)
        coord_gate_stop (dep, s);
    for (size_t t = 0; t < dep->spec->target_count; t++)
        coord_watch_stop (dep, t);
}

//  Keeps target t's latest analysis result (the analyzer's, or an error
//  made up for an analysis that failed) for GetStatus, as msgpack, and
//  publishes what it says.
static void
s_analysis_keep (deployment_t *dep, int t, const flot_analyzer_result_t *result)
{
    target_rt_t *trt = &dep->trt [t];
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_analyzer_result_def, result, &sbuf);
    free (trt->analysis);
    trt->analysis = malloc (sbuf.size);
    assert (trt->analysis);
    memcpy (trt->analysis, sbuf.data, sbuf.size);
    trt->analysis_size = sbuf.size;
    msgpack_sbuffer_destroy (&sbuf);
    //  The event: the result's phase, score, recommendation and reason, and
    //  each metric's latest value and verdict (a judge metric's class, or
    //  else its phase).
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    flot_event_analysis_result_t data = {
        .phase = result->phase, .score = result->score, .has_score = result->score >= 0,
        .recommendation = result->recommendation, .reason = result->reason
    };
    const flot_analyzer_metric_t *metrics = result->metrics.items;
    flot_events_metric_t *verdicts = result->metrics.count
        ? msgpack_zone_malloc (&zone, result->metrics.count * sizeof *verdicts) : NULL;
    data.metrics = (flot_array_t) { verdicts ? result->metrics.count : 0, verdicts };
    char scored [32] = "", said [256] = "";
    if (data.has_score)
        snprintf (scored, sizeof scored, ", score %.0f", data.score);
    for (size_t i = 0; i < data.metrics.count; i++) {
        const flot_analyzer_metric_t *m = &metrics [i];
        verdicts [i] = (flot_events_metric_t) {
            .name = m->name, .value = m->value, .has_value = m->has_value,
            .verdict = m->class ? m->class : m->phase
        };
        //  "error-rate 0.01 successful"
        char value [32] = "";
        if (m->has_value)
            snprintf (value, sizeof value, " %g", m->value);
        size_t used = strlen (said);
        snprintf (said + used, sizeof said - used, "%s%s%s %s", i ? ", " : " (",
                  m->name, value, verdicts [i].verdict);
    }
    if (*said)
        snprintf (said + strlen (said), sizeof said - strlen (said), ")");
    coord_begin (dep->owner);
    coord_event (dep, t, &flot_event_analysis_result_def, &data, "%s: %s%s%s, recommends %s: %s",
                 dep->spec->targets [t].name, data.phase, scored, said, data.recommendation,
                 data.reason);
    coord_commit (dep->owner);
    msgpack_zone_destroy (&zone);
    coord_pump (dep->owner);
}
