/*  commands.c - the coordinator's commands, and the progress deadline.

    Plan and Execute ask the strategy service to read the spec
    (GenerateSteps, Resolve); Execute then builds the deployment
    (deployment.c), stores it and starts it (schedule.c); Plan passes a
    page asked for on to GenerateSteps. GetStatus and List read the
    deployments, whole or in pages cut to fit a body (SPEC 18.1: GetStatus
    with a summary of every target, building only its page's targets);
    Pause, Resume, Promote and Abort change one.
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

//  A paged reply (section 18.1): encodes reply (a struct of def) with the
//  first n of the count items of *array, n cut down until the body fits;
//  fills page (offset, total) for the n that fit. Returns 0 with the body
//  in sbuf, or -1 (sbuf freed) if not even an empty list fits.
//  With last_id (a List page): page->next_after the id of the last of the
//  n that fit, or after (the request's, maybe NULL) if none does.
static int
s_encode_page (const flot_struct_t *def, const void *reply, flot_array_t *array,
               size_t count, size_t wanted, flot_coordinator_page_t *page,
               msgpack_sbuffer *sbuf, const char *(*last_id) (const flot_array_t *, size_t),
               const char *after)
{
    size_t n = count;
    for (;;) {
        array->count = n;
        page->more = page->offset + n < page->total;
        page->next_offset = page->offset + n;
        page->has_next_offset = page->more;
        page->cut = page->more && n < wanted;
        if (last_id)
            page->next_after = !page->more ? NULL : n ? last_id (array, n) : after;
        flot_encode_sbuf (def, reply, sbuf);
        if (sbuf->size <= FLOT_MAX_BODY)
            return 0;
        size_t size = sbuf->size;
        msgpack_sbuffer_destroy (sbuf);
        if (n == 0)
            return -1;
        //  Items are of like size: as many as the body holds, less a margin.
        size_t fit = (size_t) ((double) n * (FLOT_MAX_BODY * 0.95) / (double) size);
        n = fit < n ? fit : n - 1;
    }
}

int
coord_encode_page (const flot_struct_t *def, const void *reply, flot_array_t *array,
                   size_t count, size_t wanted, flot_coordinator_page_t *page,
                   msgpack_sbuffer *sbuf)
{
    return s_encode_page (def, reply, array, count, wanted, page, sbuf, NULL, NULL);
}

//  The id of the last of the n deployments a List page holds.
static const char *
s_last_listed (const flot_array_t *array, size_t n)
{
    return ((const flot_coordinator_deployment_t *) array->items) [n - 1].id;
}

int
coord_encode_list_page (flot_coordinator_list_reply_t *reply, size_t count,
                        flot_coordinator_page_t *page, const char *after,
                        msgpack_sbuffer *sbuf)
{
    return s_encode_page (&flot_coordinator_list_reply_def, reply, &reply->deployments,
                          count, count, page, sbuf, s_last_listed, after);
}

//  The deployment called id, or NULL after answering NOT_FOUND.
static deployment_t *
s_lookup (coordinator_t *self, flot_request_t **request_p, const char *id)
{
    deployment_t *dep = zhashx_lookup (self->deployments, id);
    if (!dep)
        coord_error (self, request_p, FLOT_E_NOT_FOUND, "no deployment '%s'", id);
    else
        coord_go_on_restored (dep);     //  loaded at start: first, what it ran goes on
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
    char on_conflict [8];       //  Execute: refuse, queue or replace
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
static int s_target_named (coordinator_t *self, flot_request_t **request_p,
                           deployment_t *dep, const char *name);
static void s_queue (deployment_t *dep, deployment_t *holder, size_t shared, bool replace,
                     zlistx_t *aborted);

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
        snprintf (submit->on_conflict, sizeof submit->on_conflict, "%s", args->on_conflict);
        submit->text = strdup (args->spec);
        submit->file = strdup (args->file);
        if (args->cwd && *args->cwd)
            snprintf (submit->cwd, sizeof submit->cwd, "%s", args->cwd);
        else
        if (!getcwd (submit->cwd, sizeof submit->cwd))
            strcpy (submit->cwd, "/");
    }
    //  Plan: the page asked for, passed on (GenerateSteps pages alike).
    flot_strategy_spec_text_t text = {
        .spec = args->spec, .file = args->file,
        .offset = args->offset, .has_offset = !execute && args->has_offset,
        .limit = args->limit, .has_limit = !execute && args->has_limit
    };
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
    dep->owner = self;
    size_t shared = 0;
    deployment_t *holder = coord_holder (dep, &shared);
    if (holder && streq (submit->on_conflict, "refuse")) {
        coord_error (self, &submit->request, FLOT_E_CONFLICT,
                     "target %s of %s is held by %s (%s%s): apply it with queue to run "
                     "after it, or with replace to abort it first",
                     dep->spec->targets [shared].name, dep->spec->workload.name, holder->id,
                     coord_state_name (holder), *holder->queued_behind ? ", queued" : "");
        coord_deployment_destroy (&dep);
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
    if (holder)
        snprintf (dep->queued_behind, sizeof dep->queued_behind, "%s", holder->id);
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
    zlistx_t *aborted = zlistx_new ();
    if (holder)
        s_queue (dep, holder, shared, streq (submit->on_conflict, "replace"), aborted);
    coord_commit (self);
    coord_deployment_add (self, dep);
    for (deployment_t *d = zlistx_first (aborted); d; d = zlistx_next (aborted))
        coord_advance (d);
    zlistx_destroy (&aborted);
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
        .health_message = trt->health_message ? trt->health_message : "",
        .stderr = rt && rt->state == SS_FAILED ? rt->stderr_tail : NULL
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

//  --------------------------------------------------------------------------
//  GetStatus and List, whole or in pages (SPEC section 18.1)

#define WAVES_SHOWN 1000            //  a summary's waves at most

//  Counts of targets by state (TS_*) into a WAVE or SUMMARY's fields.
#define COUNTS_SET(out, c) do { \
    (out)->pending = (c) [TS_PENDING]; (out)->running = (c) [TS_RUNNING]; \
    (out)->waiting = (c) [TS_WAITING]; (out)->done = (c) [TS_DONE]; \
    (out)->failed = (c) [TS_FAILED]; (out)->held = (c) [TS_HELD]; \
    (out)->rolled_back = (c) [TS_ROLLED_BACK]; (out)->skipped = (c) [TS_SKIPPED]; \
} while (0)

void
coord_count_states (const int *tstate, const flot_target_t *targets, size_t n, size_t shown,
                    uint64_t *total, uint64_t (*by_wave) [TS_COUNT], uint64_t *wave_targets)
{
    for (size_t t = 0; t < n; t++) {
        int state = tstate [t];
        if (state < 0 || state >= TS_COUNT)
            continue;
        total [state]++;
        if (targets [t].wave >= 0 && (size_t) targets [t].wave < shown) {
            by_wave [targets [t].wave] [state]++;
            wave_targets [targets [t].wave]++;
        }
    }
}

//  The summary of dep's targets: counts by state, in all and by wave; its
//  waves go in waves (WAVES_SHOWN of them at most). One pass over the
//  targets' states.
static void
s_summary (deployment_t *dep, flot_coordinator_summary_t *summary,
           flot_coordinator_wave_t *waves)
{
    size_t n = dep->spec->target_count;
    size_t wave_count = dep->spec->wave_count ? dep->spec->wave_count : 1;
    size_t shown = wave_count < WAVES_SHOWN ? wave_count : WAVES_SHOWN;
    uint64_t total [TS_COUNT] = { 0 };
    uint64_t (*by_wave) [TS_COUNT] = calloc (shown, sizeof *by_wave);
    uint64_t *wave_targets = calloc (shown, sizeof (uint64_t));
    assert (by_wave && wave_targets);
    coord_count_states (dep->tstate, dep->spec->targets, n, shown, total, by_wave,
                        wave_targets);
    for (size_t w = 0; w < shown; w++) {
        waves [w] = (flot_coordinator_wave_t) { .wave = w, .targets = wave_targets [w] };
        COUNTS_SET (&waves [w], by_wave [w]);
    }
    *summary = (flot_coordinator_summary_t) {
        .targets = n, .waves = { shown, waves }, .wave_count = wave_count
    };
    COUNTS_SET (summary, total);
    free (by_wave);
    free (wave_targets);
}

//  Only the page's targets are built, not the whole view: choosing them
//  reads the targets' states alone.
size_t
coord_status_choose (const int *tstate, size_t n, int target, int state, size_t offset,
                     size_t limit, size_t *chosen, size_t *total)
{
    size_t count = 0;
    if (target >= 0) {
        *total = 1;             //  whatever the offset
        if (limit > 0)
            chosen [count++] = (size_t) target;
        return count;
    }
    if (state < 0) {
        *total = n;
        for (size_t t = offset; t < n && count < limit; t++)
            chosen [count++] = t;
        return count;
    }
    size_t matched = 0;
    for (size_t t = 0; t < n; t++)
        if (tstate [t] == state) {
            if (matched >= offset && count < limit)
                chosen [count++] = t;
            matched++;
        }
    *total = matched;
    return count;
}

static void
s_get_status (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_get_status_request_t *args = flot_request_args (request);
    if (args->target && (args->state || args->has_offset)) {
        coord_error (self, &request, FLOT_E_INVALID, "field 'target' names one target: "
                     "it goes with neither 'state' nor 'offset'");
        return;
    }
    deployment_t *dep = s_lookup (self, &request, args->id);
    if (!dep)
        return;
    int target = -1;
    if (args->target && (target = s_target_named (self, &request, dep, args->target)) < 0)
        return;
    bool paged = args->has_offset || args->has_limit || args->target || args->state;
    size_t n = dep->spec->target_count;
    size_t limit = args->has_limit && args->limit < n ? (size_t) args->limit : n;
    size_t *chosen = calloc (limit + 1, sizeof *chosen), total = 0;
    assert (chosen);
    size_t count = coord_status_choose (
        dep->tstate, n, target,
        args->state ? flot_state_from_name (FLOT_KIND_TARGET, args->state) : -1,
        args->has_offset ? (size_t) args->offset : 0, limit, chosen, &total);
    flot_coordinator_target_t *targets = calloc (count + 1, sizeof *targets);
    assert (targets);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    for (size_t i = 0; i < count; i++)
        s_status_target (dep, chosen [i], &zone, &targets [i]);
    free (chosen);
    flot_coordinator_summary_t summary;
    size_t wave_count = dep->spec->wave_count ? dep->spec->wave_count : 1;
    flot_coordinator_wave_t *waves = calloc (wave_count < WAVES_SHOWN ? wave_count
                                             : WAVES_SHOWN, sizeof *waves);
    assert (waves);
    s_summary (dep, &summary, waves);
    actions_t actions = { .count = 0 };
    size_t actions_total = 0;
    if (flot_store_each_action (self->store, dep->id, ACTIONS_SHOWN, &actions_total,
                                s_action_copy, &actions)) {
        //  The status without them, rather than none.
        flot_error (WHO, "%s", flot_store_error (self->store));
        s_actions_free (&actions);
        actions_total = 0;
    }
    flot_coordinator_page_t page = {
        .offset = target >= 0 ? 0 : args->has_offset ? args->offset : 0, .total = total
    };
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
        .actions_total = actions_total, .has_actions_total = true,
        .queued_behind = *dep->queued_behind && dep->state == DS_RUNNING
                       ? dep->queued_behind : NULL,
        .summary = &summary,
        .page = paged ? &page : NULL
    };
    msgpack_sbuffer sbuf;
    if (paged) {
        if (coord_encode_page (&flot_coordinator_get_status_reply_def, &reply, &reply.targets,
                               count, count, &page, &sbuf) == 0)
            coord_reply (self, &request, &sbuf);
        else
            coord_error (self, &request, FLOT_E_TOO_LARGE, "the status of %s is over %d "
                         "bytes without a target", dep->id, FLOT_MAX_BODY);
    }
    else {
        flot_encode_sbuf (&flot_coordinator_get_status_reply_def, &reply, &sbuf);
        if (sbuf.size > FLOT_MAX_BODY) {
            //  Never a list cut short silently: the caller asks for pages.
            coord_error (self, &request, FLOT_E_TOO_LARGE, "the status of %s is %zu bytes "
                         "with its %zu targets, over the body limit of %d: ask for them in "
                         "pages (offset, limit), by state (state) or one (target), as "
                         "'flotctl status' does", dep->id, sbuf.size, n, FLOT_MAX_BODY);
            msgpack_sbuffer_destroy (&sbuf);
        }
        else
            coord_reply (self, &request, &sbuf);
    }
    s_actions_free (&actions);
    msgpack_zone_destroy (&zone);
    free (targets);
    free (waves);
}

//  List (SPEC 18.1): every deployment, or a page of them from offset, or
//  after the deployment whose id is after: the deployments whose key
//  (coord_key_cmp) is greater than its, whether it still exists or was
//  removed since (its key from its id then). Each page walks the list from
//  its start (zlistx starts a walk at its ends only), to the page's end if
//  it counts every deployment, to the list's end if it counts only name's.
static void
s_list (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_list_request_t *args = flot_request_args (request);
    const char *after = args->after;
    uint64_t after_number = 0;
    if (after) {
        if (args->has_offset) {
            coord_error (self, &request, FLOT_E_INVALID, "List: 'after' and 'offset' both "
                         "say where the page starts: give one of them ('after': the id of "
                         "the previous page's last deployment, its 'next_after')");
            return;
        }
        deployment_t *known = zhashx_lookup (self->deployments, after);
        if (known)
            after_number = known->number;
        else
        if (coord_id_number (after, &after_number)) {
            coord_error (self, &request, FLOT_E_INVALID, "List: after '%s' is not a "
                         "deployment's id: expected <name>-<n>, as 'next_after' gives it",
                         after);
            return;
        }
    }
    bool paged = args->has_offset || args->has_limit || after;
    size_t offset = args->has_offset ? (size_t) args->offset : 0;
    size_t limit = args->has_limit ? (size_t) args->limit : SIZE_MAX;
    size_t count = 0, total = 0;
    size_t room = zlistx_size (self->listed);
    room = limit < room ? limit : room;
    flot_coordinator_deployment_t *items = calloc (room + 1, sizeof *items);
    assert (items);
    for (deployment_t *dep = zlistx_first (self->listed); dep; dep = zlistx_next (self->listed)) {
        if (args->name && !streq (args->name, dep->spec->name))
            continue;
        bool ahead = after ? coord_key_cmp (dep->number, dep->id, after_number, after) <= 0
                           : total < offset;
        if (!ahead && count >= room && !args->name) {
            total = zlistx_size (self->listed);     //  the page is full: the rest counted
            break;
        }
        total++;
        if (ahead) {
            if (after)
                offset++;       //  the page starts after this one
            continue;
        }
        if (count >= room)
            continue;
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
    }
    flot_coordinator_page_t page = { .offset = offset, .total = total };
    flot_coordinator_list_reply_t reply = {
        .deployments = { count, items }, .page = paged ? &page : NULL
    };
    msgpack_sbuffer sbuf;
    if (!paged)
        s_answer (self, &request, &flot_coordinator_list_reply_def, &reply,
                  "list of every deployment (ask for it in pages: offset, limit)");
    else
    if (coord_encode_list_page (&reply, count, &page, after, &sbuf) == 0)
        coord_reply (self, &request, &sbuf);
    else
        coord_error (self, &request, FLOT_E_INTERNAL, "an empty list is over %d bytes",
                     FLOT_MAX_BODY);
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
    if (dep->state != DS_RUNNING) {
        coord_error (self, &request, FLOT_E_CONFLICT, "%s is %s: it cannot be %s",
                     dep->id, coord_state_name (dep), pause ? "paused" : "resumed");
        return;
    }
    if (dep->paused == pause) {
        //  Asked again (a retry after a lost answer, or two operators):
        //  it is so already; nothing changes and nothing is recorded.
        s_reply_state (&request, dep);
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

//  Aborts a running deployment (by, reason): it rolls back. In the open
//  transaction.
static void
s_abort_as (deployment_t *dep, const char *by, const char *reason)
{
    coord_stop_waits (dep);
    dep->aborted = true;
    dep->paused = false;
    snprintf (dep->aborted_by, sizeof dep->aborted_by, "%s", by);
    coord_action (dep, "abort", dep->aborted_by, reason);
    snprintf (dep->last_error, sizeof dep->last_error, "%s", reason);
    coord_deployment_to (dep, FLOT_EV_ABORTED);
    coord_event (dep, -1, &flot_event_deployment_aborting_def,
                 &(flot_event_deployment_aborting_t) {
                     .by = dep->aborted_by, .reason = reason }, "%s", reason);
    coord_save_deployment (dep);
    coord_rollback_start (dep);
}

static void
s_abort (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_abort_request_t *args = flot_request_args (request);
    deployment_t *dep = s_lookup (self, &request, args->id);
    if (!dep)
        return;
    if (dep->state != DS_RUNNING) {
        coord_error (self, &request, FLOT_E_CONFLICT, "%s is %s: it cannot be aborted",
                                dep->id, coord_state_name (dep));
        return;
    }
    coord_begin (self);
    s_abort_as (dep, flot_request_caller (request), args->reason);
    coord_commit (self);
    s_reply_state (&request, dep);
    coord_advance (dep);
}

//  dep (new, in the open transaction) waits behind holder, which holds or
//  waits for its target shared; with replace, every running deployment
//  ahead of it on its targets is aborted first (they roll back), and goes
//  into aborted, for the caller to advance once committed. dep starts when
//  they have all ended (holds.c).
static void
s_queue (deployment_t *dep, deployment_t *holder, size_t shared, bool replace,
         zlistx_t *aborted)
{
    if (replace) {
        char reason [256];
        snprintf (reason, sizeof reason, "replaced by %s", dep->id);
        zlistx_t *ahead = zlistx_new ();
        coord_holders (dep, ahead);
        for (deployment_t *d = zlistx_first (ahead); d; d = zlistx_next (ahead))
            if (d->state == DS_RUNNING) {       //  one rolling back ends on its own
                s_abort_as (d, dep->applied_by, reason);
                zlistx_add_end (aborted, d);
            }
        zlistx_destroy (&ahead);
    }
    size_t count = zlistx_size (aborted);
    const char **names = calloc (count + 1, sizeof (const char *));
    assert (names);
    size_t i = 0;
    for (deployment_t *d = zlistx_first (aborted); d; d = zlistx_next (aborted))
        names [i++] = d->id;
    coord_event (dep, -1, &flot_event_deployment_queued_def,
                 &(flot_event_deployment_queued_t) {
                     .by = dep->applied_by, .behind = holder->id,
                     .shared = dep->spec->targets [shared].name,
                     .replacing = { .count = count, .items = names } },
                 "waits behind %s, which holds or waits for %s%s", holder->id,
                 dep->spec->targets [shared].name,
                 count ? ": replacing it, it was aborted" : "");
    free (names);
}

//  --------------------------------------------------------------------------
//  GetLogs: what the hooks wrote, as the store keeps it

#define LOGS_BUDGET (FLOT_MAX_BODY - 64 * 1024)     //  room for the reply's own keys

typedef struct {
    const char *target;         //  the filters: NULL for all
    const char *step;
    zlistx_t *rows;             //  flot_step_row_t *, copied
    size_t size;
    bool truncated;
} logs_t;

static void
s_log_row_free (void **item_p)
{
    flot_step_row_t *row = *item_p;
    if (row) {
        free (row->output);
        free (row->error);
        free (row->stderr_text);
        free (row);
        *item_p = NULL;
    }
}

static int
s_log_row (const flot_step_row_t *row, void *arg)
{
    logs_t *logs = arg;
    if ((logs->target && !streq (row->target, logs->target))
    ||  (logs->step && !streq (row->step_id, logs->step))
    ||  (row->attempt == 0 && !streq (row->state, "skipped")))
        return 0;
    size_t size = strlen (row->output) + strlen (row->error) + 256
                + (row->stderr_text ? strlen (row->stderr_text) : 0);
    if (logs->size + size > LOGS_BUDGET) {
        logs->truncated = true;
        return 1;
    }
    logs->size += size;
    flot_step_row_t *copy = malloc (sizeof *copy);
    assert (copy);
    *copy = *row;
    copy->output = strdup (row->output);
    copy->error = strdup (row->error);
    copy->stderr_text = strdup (row->stderr_text ? row->stderr_text : "");
    assert (copy->output && copy->error && copy->stderr_text);
    zlistx_add_end (logs->rows, copy);
    return 0;
}

static void
s_get_logs (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_get_logs_request_t *args = flot_request_args (request);
    deployment_t *dep = s_lookup (self, &request, args->id);
    if (!dep)
        return;
    if (args->target && flot_spec_target_index (dep->spec, args->target) < 0) {
        coord_error (self, &request, FLOT_E_NOT_FOUND, "%s has no target '%s'", dep->id,
                     args->target);
        return;
    }
    logs_t logs = { .target = args->target, .step = args->step, .rows = zlistx_new () };
    zlistx_set_destructor (logs.rows, s_log_row_free);
    if (flot_store_each_step (self->store, dep->id, s_log_row, &logs)) {
        coord_error (self, &request, FLOT_E_INTERNAL, "the store failed: %s",
                     flot_store_error (self->store));
        zlistx_destroy (&logs.rows);
        return;
    }
    if (args->step && zlistx_size (logs.rows) == 0 && !logs.truncated) {
        //  A step that exists but never ran has no log: an empty answer.
        bool known = false;
        for (size_t s = 0; s < dep->plan->step_count && !known; s++)
            known = streq (dep->plan->steps [s].id, args->step);
        for (size_t s = 0; dep->back && s < dep->back->step_count && !known; s++)
            known = streq (dep->back->steps [s].id, args->step);
        if (!known) {
            coord_error (self, &request, FLOT_E_NOT_FOUND, "%s has no step '%s'", dep->id,
                         args->step);
            zlistx_destroy (&logs.rows);
            return;
        }
    }
    size_t count = zlistx_size (logs.rows), i = 0;
    flot_coordinator_log_t *items = calloc (count + 1, sizeof *items);
    assert (items);
    for (flot_step_row_t *row = zlistx_first (logs.rows); row; row = zlistx_next (logs.rows))
        items [i++] = (flot_coordinator_log_t) {
            .step = row->step_id, .target = row->target, .type = row->type,
            .state = row->state, .attempt = (uint64_t) row->attempt,
            .stdout = row->output, .stderr = row->stderr_text, .error = row->error
        };
    flot_coordinator_get_logs_reply_t reply = {
        .id = dep->id, .steps = { count, items }, .truncated = logs.truncated
    };
    s_answer (self, &request, &flot_coordinator_get_logs_reply_def, &reply, "logs");
    free (items);
    zlistx_destroy (&logs.rows);
}

//  --------------------------------------------------------------------------
//  No stuck deployments: Retry, Skip, Rollback

//  A deployment an operator's command reopens takes its targets back: it
//  is CONFLICT while another deployment holds or waits for one of them.
static bool
s_targets_free (coordinator_t *self, flot_request_t **request_p, deployment_t *dep)
{
    size_t t;
    deployment_t *holder = coord_holder (dep, &t);
    if (!holder)
        return true;
    coord_error (self, request_p, FLOT_E_CONFLICT, "target %s of %s is held by %s (%s) now: "
                 "%s goes on once that one has ended", dep->spec->targets [t].name,
                 dep->spec->workload.name, holder->id, coord_state_name (holder), dep->id);
    return false;
}

//  The target the request names, or -1 after answering NOT_FOUND.
static int
s_target_named (coordinator_t *self, flot_request_t **request_p, deployment_t *dep,
                const char *name)
{
    int t = flot_spec_target_index (dep->spec, name);
    if (t < 0)
        coord_error (self, request_p, FLOT_E_NOT_FOUND, "%s has no target '%s'", dep->id, name);
    return t;
}

//  A failed deployment runs again (Retry, Skip): its end is undone, and the
//  targets the end stranded get their turn. In the open transaction.
static void
s_reopen (deployment_t *dep)
{
    if (dep->state != DS_FAILED)
        return;
    coord_deployment_to (dep, FLOT_EV_RETRIED);
    dep->finished_ms = 0;
    for (size_t t = 0; t < dep->spec->target_count; t++)
        if (dep->tstate [t] == TS_HELD)
            coord_target_to (dep, (int) t, FLOT_EV_RETRIED);
}

//  Failed target t runs again from its failed step, as a new attempt with
//  the hook's retries anew.
static void
s_retry_target (deployment_t *dep, int t)
{
    size_t s = dep->cursor [t];
    step_rt_t *rt = &dep->steps [s];
    coord_step_to (dep, s, false, FLOT_EV_RETRIED);
    rt->uncounted = rt->attempt;
    rt->finished_ms = 0;
    coord_save_step (dep, s, false, NULL, NULL);
    coord_target_to (dep, t, FLOT_EV_RETRIED);
    dep->failed_targets--;
}

static void
s_retry (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_retry_request_t *args = flot_request_args (request);
    deployment_t *dep = s_lookup (self, &request, args->id);
    if (!dep)
        return;
    if (dep->state != DS_FAILED && dep->state != DS_RUNNING) {
        coord_error (self, &request, FLOT_E_CONFLICT, "%s is %s: only a failed deployment, or "
                     "a running one with a failed target, is retried", dep->id,
                     coord_state_name (dep));
        return;
    }
    int only = -1;
    if (args->target && (only = s_target_named (self, &request, dep, args->target)) < 0)
        return;
    size_t n = dep->spec->target_count, count = 0;
    const char **names = calloc (n + 1, sizeof (const char *));
    assert (names);
    for (size_t t = 0; t < n; t++)
        if (dep->tstate [t] == TS_FAILED && (only < 0 || (int) t == only))
            names [count++] = dep->spec->targets [t].name;
    if (count == 0) {
        if (only >= 0)
            coord_error (self, &request, FLOT_E_CONFLICT, "target %s of %s is %s: only a "
                         "failed target is retried", args->target, dep->id,
                         flot_state_name (FLOT_KIND_TARGET, dep->tstate [only]));
        else
            coord_error (self, &request, FLOT_E_CONFLICT, "%s has no failed target to retry",
                         dep->id);
        free (names);
        return;
    }
    if (dep->state == DS_FAILED && !s_targets_free (self, &request, dep)) {
        free (names);
        return;
    }
    const char *by = flot_request_caller (request);
    coord_begin (self);
    coord_action (dep, "retry", by, args->target ? args->target : "");
    s_reopen (dep);
    for (size_t t = 0; t < n; t++)
        if (dep->tstate [t] == TS_FAILED && (only < 0 || (int) t == only))
            s_retry_target (dep, (int) t);
    dep->progress_ms = coord_now ();
    coord_event (dep, -1, &flot_event_deployment_retried_def,
                 &(flot_event_deployment_retried_t) {
                     .by = by, .targets = { .count = count, .items = names } },
                 "retrying %zu failed target%s", count, count == 1 ? "" : "s");
    coord_save_deployment (dep);
    coord_commit (self);
    free (names);
    s_reply_state (&request, dep);
    coord_advance (dep);
}

static void
s_skip (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_skip_request_t *args = flot_request_args (request);
    deployment_t *dep = s_lookup (self, &request, args->id);
    if (!dep)
        return;
    int t = s_target_named (self, &request, dep, args->target);
    if (t < 0)
        return;
    if ((dep->state != DS_FAILED && dep->state != DS_RUNNING) || dep->tstate [t] != TS_FAILED) {
        coord_error (self, &request, FLOT_E_CONFLICT, "target %s of %s (%s) is %s: only a "
                     "failed target of a failed or running deployment is skipped",
                     args->target, dep->id, coord_state_name (dep),
                     flot_state_name (FLOT_KIND_TARGET, dep->tstate [t]));
        return;
    }
    if (dep->state == DS_FAILED && !s_targets_free (self, &request, dep))
        return;
    const char *by = flot_request_caller (request);
    char why [400];
    snprintf (why, sizeof why, COORD_SKIPPED " (%s): %.300s", *by ? by : "not known",
              args->reason);
    coord_begin (self);
    coord_action (dep, "skip", by, args->target);
    s_reopen (dep);
    for (size_t s = dep->cursor [t]; s < dep->plan->first [t + 1]; s++) {
        coord_step_to (dep, s, false, FLOT_EV_SKIPPED_BY_OPERATOR);
        dep->steps [s].skipped_by_operator = true;
        coord_save_step (dep, s, false, NULL, why);
    }
    dep->cursor [t] = dep->plan->first [t + 1];
    coord_target_to (dep, t, FLOT_EV_SKIPPED_BY_OPERATOR);
    dep->failed_targets--;
    coord_target_release (dep, t);
    dep->progress_ms = coord_now ();
    coord_event (dep, t, &flot_event_target_skipped_def,
                 &(flot_event_target_skipped_t) { .by = by, .reason = args->reason },
                 "%s is skipped: its dependents go on without it (%s)",
                 dep->spec->targets [t].name, args->reason);
    coord_save_deployment (dep);
    coord_commit (self);
    s_reply_state (&request, dep);
    coord_advance (dep);
}

static void
s_rollback (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_rollback_request_t *args = flot_request_args (request);
    deployment_t *dep = s_lookup (self, &request, args->id);
    if (!dep)
        return;
    if (dep->state != DS_COMPLETED && dep->state != DS_FAILED) {
        coord_error (self, &request, FLOT_E_CONFLICT, "%s is %s: only a completed or failed "
                     "deployment is rolled back (abort a running one)", dep->id,
                     coord_state_name (dep));
        return;
    }
    if (!s_targets_free (self, &request, dep))
        return;
    //  A later deployment that rolled one of its targets out since: its
    //  rollback would undo that one's version, not this one's.
    size_t shared = 0;
    deployment_t *later = coord_later (dep, &shared);
    if (later) {
        coord_error (self, &request, FLOT_E_CONFLICT, "%s rolled target %s of %s out after %s: "
                     "roll that one back instead", later->id, dep->spec->targets [shared].name,
                     dep->spec->workload.name, dep->id);
        return;
    }
    const char *by = flot_request_caller (request);
    coord_begin (self);
    coord_action (dep, "rollback", by, args->reason);
    snprintf (dep->rollback_by, sizeof dep->rollback_by, "%s", by);
    snprintf (dep->last_error, sizeof dep->last_error, "%s", args->reason);
    dep->finished_ms = 0;
    coord_deployment_to (dep, FLOT_EV_ROLLBACK_ASKED);
    coord_event (dep, -1, &flot_event_deployment_rolling_back_def,
                 &(flot_event_deployment_rolling_back_t) { .by = by, .reason = args->reason },
                 "%s", args->reason);
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
    { "GetLogs", s_get_logs },
    { "Retry", s_retry },
    { "Skip", s_skip },
    { "Rollback", s_rollback },
    { NULL, NULL }
};

//  --------------------------------------------------------------------------
//  The progress deadline, in every state but the final ones

//  A deployment can be late while it runs (paused, waiting for a promote
//  or running steps), not while it waits in the queue, and never once
//  rolling back or finished. The tick does not look at all that exist
//  (finished ones are kept for retention): only once deadline_next, the
//  earliest deadline any of them may have, is reached. Whatever can make a
//  deployment able to be late sooner than that lowers it
//  (coord_deadline_watch: started, reopened, dequeued, loaded); its
//  progress only puts its deadline off. A clock that went back looks
//  again (progress_ms is wall time).
void
coord_deadlines_due (coordinator_t *self, int64_t now, zlistx_t *late)
{
    bool back = now < self->tick_last;
    self->tick_last = now;
    if (now <= self->deadline_next && !back) {
#ifndef NDEBUG
        //  What the bound promises, checked where it costs nothing that counts.
        for (deployment_t *dep = zhashx_first (self->deployments); dep;
             dep = zhashx_next (self->deployments))
            assert (dep->state != DS_RUNNING || *dep->queued_behind
                    || now <= coord_deadline_at (dep));
#endif
        return;
    }
    int64_t next = INT64_MAX;
    for (deployment_t *dep = zhashx_first (self->deployments); dep;
         dep = zhashx_next (self->deployments)) {
        if (dep->state != DS_RUNNING || *dep->queued_behind)
            continue;
        int64_t at = coord_deadline_at (dep);
        if (now > at)
            zlistx_add_end (late, dep);
        else
        if (at < next)
            next = at;
    }
    self->deadline_next = next;
}

void
coord_cancelled_reap (coordinator_t *self, int64_t mono)
{
    //  Cancelled timers are gone from the loop by now: free their
    //  arguments. Each list is in the order of zclock_mono at cancelling.
    step_ref_t *ref;
    while ((ref = zlistx_first (self->cancelled_refs)) && mono - ref->cancelled > 5000)
        zlistx_delete (self->cancelled_refs, ref->handle);
    decision_t *decision;
    while ((decision = zlistx_first (self->cancelled_decisions))
    &&     mono - decision->cancelled > 5000)
        zlistx_delete (self->cancelled_decisions, decision->handle);
}

int
coord_on_tick (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coordinator_t *self = arg;
    zlistx_t *late = zlistx_new ();
    coord_deadlines_due (self, coord_now (), late);
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
        coord_deadline_watch (dep);     //  still running: the next tick fails it again
    }
    zlistx_destroy (&late);
    coord_cancelled_reap (self, zclock_mono ());
    if (!coord_uncommitted (self))
        coord_outbox_trim (self);
    coord_pump (self);
    return 0;
}
