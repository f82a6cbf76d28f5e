/*  commands.c - the coordinator's commands, and the progress deadline.

    Plan and Execute ask the strategy service to read the spec
    (GenerateSteps, Resolve); Execute then builds the deployment
    (deployment.c), stores it and starts it (schedule.c). GetStatus and
    List read the deployments; Pause, Resume, Promote and Abort change one.
    Execute and the commands that change a deployment are recorded with
    who called (coord_action), and the events they cause name them (`by`).
    Each answer goes once what it reports is committed (coord_reply,
    coord_error: coordinator.c). coord_commands is the actor's command
    table. The tick (coord_on_tick) fails a running deployment that made no
    progress within its progress deadline.
*/

#include "coordinator_internal.h"

//  Answers a request with reply, a struct of def (the command's reply in
//  the contract), once what it reports is committed; TOO_LARGE, saying
//  what, if it does not fit in a body.
static void
s_answer (coordinator_t *self, flot_request_t **request_p, const flot_struct_t *def,
          const void *reply, const char *what)
{
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (def, reply, &sbuf);
    if (sbuf.size > FLOT_MAX_BODY) {
        msgpack_sbuffer_destroy (&sbuf);
        coord_error (self, request_p, FLOT_E_TOO_LARGE, "the %s is over %d bytes", what,
                     FLOT_MAX_BODY);
        return;
    }
    coord_reply (self, request_p, &sbuf);
}

//  The deployment called id, or NULL after answering NOT_FOUND.
static deployment_t *
s_lookup (coordinator_t *self, flot_request_t **request_p, const char *id)
{
    deployment_t *dep = zhashx_lookup (self->deployments, id);
    if (!dep)
        coord_error (self, request_p, FLOT_E_NOT_FOUND, "no deployment '%s'", id);
    return dep;
}

static void
s_reply_state (flot_request_t **request_p, deployment_t *dep)
{
    flot_coordinator_state_t reply = {
        .id = dep->id, .state = coord_state_name (dep), .paused = dep->paused
    };
    s_answer (dep->owner, request_p, &flot_coordinator_state_def, &reply, "state");
}

//  A Plan or Execute request while the strategy service reads its spec.
typedef struct {
    coordinator_t *self;
    flot_request_t *request;
    bool execute;               //  Execute (else Plan)
    char *text;                 //  Execute: the spec's text, file and cwd
    char *file;
    char cwd [1024];
    void *handle;               //  in the coordinator's submits
} submit_t;

void
coord_submit_free (void **item_p)
{
    submit_t *submit = *item_p;
    if (submit) {
        free (submit->text);
        free (submit->file);
        free (submit);
        *item_p = NULL;
    }
}

static void s_submitted (submit_t *submit, const msgpack_object *resolved);

static void
s_on_strategy (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    submit_t *submit = arg;
    coordinator_t *self = submit->self;
    zlistx_detach (self->submits, submit->handle);
    if (answer->kind == FLOT_ERROR)
        //  The spec's own errors come as the strategy service words them;
        //  a strategy service that could not answer is named.
        coord_error (self, &submit->request, answer->err.code,
                     answer->err.code == FLOT_E_INVALID || answer->err.code == FLOT_E_TOO_LARGE
                     ? "%s" : "the strategy service could not read the spec: %s",
                     answer->err.message);
    else
    if (!submit->execute) {
        //  Plan: the strategy service's GenerateSteps answer, as it is.
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        flot_pack_begin (&sbuf, &pk);
        msgpack_pack_object (&pk, *answer->body);
        coord_reply (self, &submit->request, &sbuf);
    }
    else
        s_submitted (submit, answer->body);
    void *item = submit;
    coord_submit_free (&item);
}

//  Asks the strategy service to read a SPEC request's spec (whose cwd must
//  be absolute): GenerateSteps for Plan, Resolve for Execute.
static void
s_submit (flot_actor_t *actor, flot_request_t *request, bool execute)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_spec_t *args = flot_request_args (request);
    if (args->cwd && *args->cwd && *args->cwd != '/') {
        coord_error (self, &request, FLOT_E_INVALID,
                     "field 'cwd': '%s' is not an absolute directory", args->cwd);
        return;
    }
    submit_t *submit = calloc (1, sizeof *submit);
    assert (submit);
    submit->self = self;
    submit->request = request;
    submit->execute = execute;
    if (execute) {
        submit->text = strdup (args->spec);
        submit->file = strdup (args->file);
        if (args->cwd && *args->cwd)
            snprintf (submit->cwd, sizeof submit->cwd, "%s", args->cwd);
        else
        if (!getcwd (submit->cwd, sizeof submit->cwd))
            strcpy (submit->cwd, "/");
    }
    flot_strategy_spec_text_t text = { .spec = args->spec, .file = args->file };
    submit->handle = zlistx_add_end (self->submits, submit);
    //  The strategy service answers within the caller's deadline, so that a
    //  caller told DEADLINE knows nothing started.
    int64_t left = flot_request_deadline (request) - zclock_mono () - DEADLINE_MARGIN_MS;
    uint32_t timeout = (uint32_t) (left < 100 ? 100 : left > STRATEGY_TIMEOUT_MS
                                   ? STRATEGY_TIMEOUT_MS : left);
    if (!flot_actor_call_msg (actor, "strategy", FLOT_STRATEGY_SPEC_KEY,
                              execute ? FLOT_STRATEGY_RESOLVE : FLOT_STRATEGY_GENERATE_STEPS,
                              &flot_strategy_spec_text_def, &text, timeout, false,
                              s_on_strategy, submit)) {
        zlistx_detach (self->submits, submit->handle);
        coord_error (self, &submit->request, FLOT_E_INTERNAL,
                     "the request could not be sent to the strategy service");
        void *item = submit;
        coord_submit_free (&item);
    }
}

//  Answers as strategy GenerateSteps does.
static void
s_plan (flot_actor_t *actor, flot_request_t *request)
{
    s_submit (actor, request, false);
}

static void
s_execute (flot_actor_t *actor, flot_request_t *request)
{
    s_submit (actor, request, true);
}

//  Execute, once the strategy service has resolved the spec.
static void
s_submitted (submit_t *submit, const msgpack_object *resolved)
{
    coordinator_t *self = submit->self;
    if (zclock_mono () > flot_request_deadline (submit->request)) {
        coord_error (self, &submit->request, FLOT_E_DEADLINE, "the strategy service resolved the "
                     "spec after the request's deadline: no deployment was started");
        return;
    }
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_object (&pk, *resolved);
    void *bytes = sbuf.data;
    flot_err_t err;
    //  Built from the answer as the actor host decoded it; the bytes are
    //  what the store keeps.
    deployment_t *dep = coord_deployment_new (self, &bytes, sbuf.size, resolved, submit->text,
                                              submit->file, submit->cwd, &err);
    if (!dep) {
        coord_error (self, &submit->request, FLOT_E_INTERNAL,
                     "the strategy service's Resolve answer is not a deployment: %s", err.message);
        return;
    }
    coord_begin (self);
    if (flot_store_new_id (self->store, dep->spec->name, dep->id, sizeof dep->id)) {
        coord_commit (self);
        coord_deployment_destroy (&dep);
        coord_error (self, &submit->request, FLOT_E_INTERNAL, "the store failed: %s",
                     flot_store_error (self->store));
        return;
    }
    dep->created_ms = dep->progress_ms = coord_now ();
    snprintf (dep->applied_by, sizeof dep->applied_by, "%s",
              flot_request_caller (submit->request));
    coord_deployment_to (dep, FLOT_EV_STARTED);
    coord_save_deployment (dep);
    coord_action (dep, "apply", dep->applied_by, "");
    for (size_t s = 0; s < dep->plan->step_count; s++)
        coord_save_step (dep, s, false, NULL, NULL);
    coord_event (dep, -1, &flot_event_deployment_started_def,
                 &(flot_event_deployment_started_t) {
                     .by = dep->applied_by,
                     .name = dep->spec->name, .workload = dep->spec->workload.name,
                     .version = dep->spec->workload.version,
                     .previous_version = dep->spec->workload.rollback_version,
                     .targets = dep->spec->target_count, .steps = dep->plan->step_count },
                 "%s %s of %s: %zu targets, %zu steps",
                 dep->spec->workload.name, dep->spec->workload.version, dep->spec->name,
                 dep->spec->target_count, dep->plan->step_count);
    coord_commit (self);
    coord_deployment_add (self, dep);
    flot_coordinator_execute_reply_t reply = {
        .id = dep->id, .state = coord_state_name (dep), .steps_total = dep->plan->step_count
    };
    s_answer (self, &submit->request, &flot_coordinator_execute_reply_def, &reply, "reply");
    coord_advance (dep);
}

//  Target t as GetStatus shows it; its analysis is read into zone.
static void
s_status_target (deployment_t *dep, size_t t, msgpack_zone *zone,
                 flot_coordinator_target_t *target)
{
    size_t first = dep->plan->first [t], last = dep->plan->first [t + 1];
    size_t s = dep->cursor [t] < last ? dep->cursor [t] : (last > first ? last - 1 : first);
    bool has = first < last;
    const flot_step_t *step = has ? &dep->plan->steps [s] : NULL;
    const step_rt_t *rt = has ? &dep->steps [s] : NULL;
    const target_rt_t *trt = &dep->trt [t];
    static const char *health [] = { "unknown", "healthy", "unhealthy" };
    //  The traffic weight it is at: that of its last step that succeeded.
    uint64_t weight = 0;
    for (size_t k = first; k < last; k++)
        if (dep->steps [k].state == SS_SUCCEEDED)
            weight = (uint64_t) dep->plan->steps [k].weight;
    *target = (flot_coordinator_target_t) {
        .name = dep->spec->targets [t].name,
        .state = flot_state_name (FLOT_KIND_TARGET, dep->tstate [t]),
        .step = step ? step->id : "",
        .step_type = step ? flot_step_type_name (step->type) : "",
        .step_state = rt ? flot_state_name (FLOT_KIND_STEP, rt->state) : "",
        .attempt = rt ? (uint64_t) rt->attempt : 0,
        .weight = weight,
        .started_ms = rt ? (uint64_t) dep->steps [first].started_ms : 0,
        .finished_ms = rt && dep->tstate [t] == TS_DONE ? (uint64_t) rt->finished_ms : 0,
        .health = dep->spec->checks.health ? health [trt->health] : "unchecked",
        .health_message = trt->health_message ? trt->health_message : ""
    };
    //  Kept as the RESULT's bytes (s_analysis_keep).
    msgpack_object *kept = trt->analysis ? msgpack_zone_malloc (zone, sizeof *kept) : NULL;
    flot_err_t err;
    if (kept
    &&  msgpack_unpack (trt->analysis, trt->analysis_size, NULL, zone, kept)
        == MSGPACK_UNPACK_SUCCESS) {
        target->analysis = flot_decode_new (&flot_analyzer_result_def, kept, zone, &err);
        if (!target->analysis)
            flot_warn (WHO, "%s: the analysis of %s: %s", dep->id, target->name,
                          err.message);
    }
}

//  The last operators' commands on a deployment, as GetStatus shows them.
typedef struct {
    flot_coordinator_action_t items [ACTIONS_SHOWN];
    size_t count;
} actions_t;

static int
s_action_copy (const flot_action_row_t *row, void *arg)
{
    actions_t *actions = arg;
    if (actions->count == ACTIONS_SHOWN)
        return 1;
    actions->items [actions->count++] = (flot_coordinator_action_t) {
        .command = strdup (row->command), .by = strdup (row->by),
        .at_ms = (uint64_t) row->at_ms, .reason = strdup (row->reason)
    };
    return 0;
}

static void
s_actions_free (actions_t *actions)
{
    for (size_t i = 0; i < actions->count; i++) {
        free ((char *) actions->items [i].command);
        free ((char *) actions->items [i].by);
        free ((char *) actions->items [i].reason);
    }
    actions->count = 0;
}

static void
s_get_status (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_id_t *args = flot_request_args (request);
    deployment_t *dep = s_lookup (self, &request, args->id);
    if (!dep)
        return;
    size_t count = dep->spec->target_count;
    flot_coordinator_target_t *targets = calloc (count ? count : 1, sizeof *targets);
    assert (targets);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    for (size_t t = 0; t < count; t++)
        s_status_target (dep, t, &zone, &targets [t]);
    actions_t actions = { .count = 0 };
    size_t actions_total = 0;
    if (flot_store_each_action (self->store, dep->id, ACTIONS_SHOWN, &actions_total,
                                s_action_copy, &actions)) {
        //  The status without them, rather than none.
        flot_error (WHO, "%s", flot_store_error (self->store));
        s_actions_free (&actions);
        actions_total = 0;
    }
    flot_coordinator_get_status_reply_t reply = {
        .id = dep->id,
        .name = dep->spec->name,
        .strategy = dep->spec->strategy_name,
        .state = coord_state_name (dep),
        .paused = dep->paused,
        .percent = (uint64_t) flot_plan_progress (dep->plan, dep->steps_done),
        .steps_done = dep->steps_done,
        .steps_total = dep->plan->step_count,
        .created_ms = (uint64_t) dep->created_ms,
        .updated_ms = (uint64_t) dep->updated_ms,
        .finished_ms = (uint64_t) dep->finished_ms,
        .last_error = dep->last_error,
        .targets = { count, targets },
        .applied_by = dep->applied_by,
        .actions = { actions.count, actions.items },
        .actions_total = actions_total, .has_actions_total = true
    };
    s_answer (self, &request, &flot_coordinator_get_status_reply_def, &reply, "status");
    s_actions_free (&actions);
    msgpack_zone_destroy (&zone);
    free (targets);
}

static void
s_list (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_list_request_t *args = flot_request_args (request);
    size_t count = 0;
    flot_coordinator_deployment_t *items = calloc (zlistx_size (self->listed) + 1, sizeof *items);
    assert (items);
    for (deployment_t *dep = zlistx_first (self->listed); dep; dep = zlistx_next (self->listed))
        if (!args->name || streq (args->name, dep->spec->name))
            items [count++] = (flot_coordinator_deployment_t) {
                .id = dep->id,
                .name = dep->spec->name,
                .state = coord_state_name (dep),
                .paused = dep->paused,
                .percent = (uint64_t) flot_plan_progress (dep->plan, dep->steps_done),
                .created_ms = (uint64_t) dep->created_ms,
                .updated_ms = (uint64_t) dep->updated_ms,
                .applied_by = dep->applied_by
            };
    flot_coordinator_list_reply_t reply = { .deployments = { count, items } };
    s_answer (self, &request, &flot_coordinator_list_reply_def, &reply, "list");
    free (items);
}

//  Pause (pause true) or Resume: no new step starts while paused; running
//  hooks finish.
static void
s_set_paused (flot_actor_t *actor, flot_request_t *request, bool pause)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_id_t *args = flot_request_args (request);
    deployment_t *dep = s_lookup (self, &request, args->id);
    if (!dep)
        return;
    if (dep->state != DS_RUNNING || dep->paused == pause) {
        if (pause)
            coord_error (self, &request, FLOT_E_CONFLICT, "%s is %s%s: it cannot be paused",
                         dep->id, coord_state_name (dep), dep->paused ? " and paused" : "");
        else
            coord_error (self, &request, FLOT_E_CONFLICT,
                         "%s is %s and not paused: it cannot be resumed",
                         dep->id, coord_state_name (dep));
        return;
    }
    dep->paused = pause;
    const char *by = flot_request_caller (request);
    coord_begin (self);
    coord_action (dep, pause ? "pause" : "resume", by, "");
    if (pause)
        coord_event (dep, -1, &flot_event_deployment_paused_def,
                     &(flot_event_deployment_paused_t) { .by = by, .cause = "operator" },
                     "paused: no new step starts; running hooks finish");
    else
        coord_event (dep, -1, &flot_event_deployment_resumed_def,
                     &(flot_event_deployment_resumed_t) { .by = by }, "resumed");
    coord_save_deployment (dep);
    coord_commit (self);
    s_reply_state (&request, dep);
    if (pause)
        coord_pump (self);
    else
        coord_advance (dep);
}

static void
s_pause (flot_actor_t *actor, flot_request_t *request)
{
    s_set_paused (actor, request, true);
}

static void
s_resume (flot_actor_t *actor, flot_request_t *request)
{
    s_set_paused (actor, request, false);
}

static void
s_promote (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_promote_request_t *args = flot_request_args (request);
    deployment_t *dep = s_lookup (self, &request, args->id);
    if (!dep)
        return;
    bool full = args->full;
    if (dep->state != DS_RUNNING) {
        coord_error (self, &request, FLOT_E_CONFLICT, "%s is %s: it cannot be promoted",
                                dep->id, coord_state_name (dep));
        return;
    }
    //  The targets at a pause step now.
    zlistx_t *at_pause = zlistx_new ();
    bool gated = false;
    for (size_t t = 0; t < dep->spec->target_count; t++) {
        size_t s = dep->cursor [t];
        if (s >= dep->plan->first [t + 1] || dep->steps [s].state != SS_RUNNING)
            continue;
        //  A pause; a gate that waits for a person (or, in full, any gate).
        const step_rt_t *rt = &dep->steps [s];
        int type = dep->plan->steps [s].type;
        if (type == FLOT_STEP_PAUSE
        ||  (type == FLOT_STEP_GATE && (rt->gate_waiting || full)))
            zlistx_add_end (at_pause, (void *) (uintptr_t) (s + 1));
        if (rt->gate_waiting)
            gated = true;
    }
    if (!full && zlistx_size (at_pause) == 0) {
        zlistx_destroy (&at_pause);
        coord_error (self, &request, FLOT_E_CONFLICT,
                                "%s has no target at a pause step or at a gate waiting for a "
                                "person; use full to skip all that remain", dep->id);
        return;
    }
    dep->promote_full = dep->promote_full || full;
    //  A gate paused it for a person: the promote is that person's answer.
    if (gated)
        dep->paused = false;
    const char *by = flot_request_caller (request);
    coord_begin (self);
    coord_action (dep, "promote", by, full ? "full" : "");
    coord_event (dep, -1, &flot_event_deployment_promoted_def,
                 &(flot_event_deployment_promoted_t) { .by = by, .full = full }, "%s", full
                 ? "promoted in full: every remaining pause and gate is skipped"
                 : "promoted: the current pauses end");
    coord_save_deployment (dep);
    coord_commit (self);
    s_reply_state (&request, dep);
    for (void *item = zlistx_first (at_pause); item; item = zlistx_next (at_pause)) {
        size_t s = (size_t) (uintptr_t) item - 1;
        step_rt_t *rt = &dep->steps [s];
        coord_timer_cancel (dep, rt);
        coord_gate_stop (dep, s);
        rt->gate_waiting = false;
        if (dep->state == DS_RUNNING && rt->state == SS_RUNNING)
            coord_step_succeeded (dep, s, FLOT_EV_PROMOTED, NULL);
    }
    zlistx_destroy (&at_pause);
    coord_advance (dep);
}

static void
s_abort (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_abort_request_t *args = flot_request_args (request);
    deployment_t *dep = s_lookup (self, &request, args->id);
    if (!dep)
        return;
    const char *reason = args->reason;
    if (dep->state != DS_RUNNING) {
        coord_error (self, &request, FLOT_E_CONFLICT, "%s is %s: it cannot be aborted",
                                dep->id, coord_state_name (dep));
        return;
    }
    coord_stop_waits (dep);
    dep->aborted = true;
    dep->paused = false;
    snprintf (dep->aborted_by, sizeof dep->aborted_by, "%s", flot_request_caller (request));
    coord_begin (self);
    coord_action (dep, "abort", dep->aborted_by, reason);
    snprintf (dep->last_error, sizeof dep->last_error, "%s", reason);
    coord_deployment_to (dep, FLOT_EV_ABORTED);
    coord_event (dep, -1, &flot_event_deployment_aborting_def,
                 &(flot_event_deployment_aborting_t) {
                     .by = dep->aborted_by, .reason = reason }, "%s", reason);
    coord_save_deployment (dep);
    coord_rollback_start (dep);
    coord_commit (self);
    s_reply_state (&request, dep);
    coord_advance (dep);
}

const flot_command_t coord_commands [] = {
    { "Plan", s_plan },
    { "Execute", s_execute },
    { "GetStatus", s_get_status },
    { "List", s_list },
    { "Pause", s_pause },
    { "Resume", s_resume },
    { "Promote", s_promote },
    { "Abort", s_abort },
    { NULL, NULL }
};

//  --------------------------------------------------------------------------
//  The progress deadline, in every state but the final ones

int
coord_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coordinator_t *self = arg;
    int64_t now = coord_now ();
    zlistx_t *late = zlistx_new ();
    for (deployment_t *dep = zhashx_first (self->deployments); dep;
         dep = zhashx_next (self->deployments))
        if (dep->state == DS_RUNNING
        &&  now - dep->progress_ms > dep->spec->policy.progress_deadline_ms)
            zlistx_add_end (late, dep);
    for (deployment_t *dep = zlistx_first (late); dep; dep = zlistx_next (late)) {
        size_t waiting = 0;
        for (size_t t = 0; t < dep->spec->target_count; t++)
            waiting += dep->tstate [t] == TS_WAITING;
        coord_stop_waits (dep);
        coord_begin (self);
        coord_fail (dep, "no progress within the progress deadline of %lld ms (%s)",
                    (long long) dep->spec->policy.progress_deadline_ms,
                    dep->paused ? "paused" : waiting ? "waiting for a promote" : "running");
        coord_commit (self);
        coord_advance (dep);
    }
    zlistx_destroy (&late);
    //  Cancelled timers are gone from the loop by now: free their arguments.
    step_ref_t *ref = zlistx_first (self->timer_refs);
    while (ref) {
        step_ref_t *next = zlistx_next (self->timer_refs);
        if (ref->cancelled && zclock_mono () - ref->cancelled > 5000)
            zlistx_delete (self->timer_refs, ref->handle);
        ref = next;
    }
    decision_t *decision = zlistx_first (self->decisions);
    while (decision) {
        decision_t *next = zlistx_next (self->decisions);
        if (decision->cancelled && zclock_mono () - decision->cancelled > 5000)
            zlistx_delete (self->decisions, decision->handle);
        decision = next;
    }
    if (!coord_uncommitted (self))
        coord_outbox_trim (self);
    coord_pump (self);
    return 0;
}
