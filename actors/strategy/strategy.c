/*  strategy.c - the strategy actor (service "strategy").

    The strategy contract as messages: Validate, GenerateSteps and Resolve
    read a deployment spec's text (spec.c) and plan it (plan.c), asking the
    actor of a registered strategy for its steps (PlanSteps) first; Resolve
    answers the RESOLVED deployment the coordinator stores and runs from.
    ShouldPromote and HandleFailure are the decisions a coordinator (and the
    rollback service) asks for as a deployment runs; ListStrategies names
    the built-in strategies and those registered actors serve (from the
    broker's Actors). Apart from the spec requests waiting for a registered
    strategy's actor, it keeps no state: any number of instances can serve.
    protocol/contracts/strategy.json defines its messages (SPEC section 16).
*/
#include "strategy.h"
#include "flotilla/contract_broker.h"
#include "flotilla/resolved.h"
#include "flotilla/log.h"
#include "flotilla/plan.h"

static const struct {
    const char *name;
    const char *description;
} s_strategies [] = {
    { "canary", "each target through setWeight, pause and gate steps, "
                "targets in dependency order" },
    { "blueGreen", "the new version beside the old on each target, traffic "
                   "switched when gates pass, the old kept for an instant switch back" },
    { "rolling", "the new version in place, target by target, at most "
                 "maxConcurrency at once" },
};

#define SPEC_KEY FLOT_STRATEGY_SPEC_KEY
#define PLAN_STEPS_TIMEOUT_MS 10000     //  a registered strategy's PlanSteps
#define BUILTIN_COUNT (sizeof s_strategies / sizeof s_strategies [0])

//  Whether name is a built-in strategy's.
static bool
s_builtin (const char *name)
{
    for (size_t i = 0; i < BUILTIN_COUNT; i++)
        if (streq (name, s_strategies [i].name))
            return true;
    return false;
}

//  --------------------------------------------------------------------------
//  Plans as the contract's PLAN

int
flot_strategy_plan_fill (flot_strategy_plan_t *out, const flot_spec_t *spec,
                         const flot_plan_t *plan, msgpack_zone *zone)
{
    size_t n = plan->target_count;
    const char **order = msgpack_zone_malloc (zone, (n ? n : 1) * sizeof *order);
    flot_strategy_plan_target_t *targets =
        msgpack_zone_malloc (zone, (n ? n : 1) * sizeof *targets);
    flot_strategy_plan_step_t *steps = msgpack_zone_malloc (
        zone, (plan->step_count ? plan->step_count : 1) * sizeof *steps);
    if (!order || !targets || !steps)
        return -1;
    for (size_t s = 0; s < plan->step_count; s++) {
        const flot_step_t *step = &plan->steps [s];
        steps [s] = (flot_strategy_plan_step_t) {
            .id = step->id,
            .index = (uint64_t) step->index,
            .type = flot_step_type_name (step->type),
            .weight = (uint64_t) step->weight,
            .duration_ms = step->duration_ms,
            .hook = step->runs_hook,
            .gate = step->gate
        };
    }
    for (size_t t = 0; t < n; t++) {
        const flot_target_t *target = &spec->targets [t];
        order [t] = spec->targets [plan->order [t]].name;
        targets [t] = (flot_strategy_plan_target_t) {
            .name = target->name,
            .wave = (uint64_t) target->wave,
            .depends_on = { target->depends_count, target->depends_on },
            .steps = { plan->first [t + 1] - plan->first [t], steps + plan->first [t] }
        };
    }
    *out = (flot_strategy_plan_t) {
        .concurrency = plan->concurrency,
        .order = { n, order },
        .targets = { n, targets }
    };
    return 0;
}

int
flot_strategy_deployment_plan_fill (flot_strategy_deployment_plan_t *out,
                                    const flot_spec_t *spec, const flot_plan_t *plan,
                                    const flot_plan_t *rollback, msgpack_zone *zone)
{
    flot_strategy_plan_t *forward = msgpack_zone_malloc (zone, sizeof *forward);
    flot_strategy_plan_t *back = msgpack_zone_malloc (zone, sizeof *back);
    if (!forward || !back
    ||  flot_strategy_plan_fill (forward, spec, plan, zone)
    ||  flot_strategy_plan_fill (back, spec, rollback, zone))
        return -1;
    *out = (flot_strategy_deployment_plan_t) {
        .deployment = spec->name,
        .strategy = spec->strategy_name,
        .plan = forward,
        .rollback = back,
        .steps_total = plan->step_count, .has_steps_total = true
    };
    return 0;
}

void
flot_strategy_plan_cut (flot_strategy_deployment_plan_t *out, flot_strategy_page_t *page,
                         size_t offset, size_t count, bool cut)
{
    size_t total = out->plan->targets.count;
    offset = offset < total ? offset : total;
    count = count < total - offset ? count : total - offset;
    flot_strategy_plan_t *plans [2] = { out->plan, out->rollback };
    for (int i = 0; i < 2; i++) {
        flot_strategy_plan_t *plan = plans [i];
        plan->targets = (flot_array_t) {
            count, (flot_strategy_plan_target_t *) plan->targets.items + offset
        };
        plan->order = (flot_array_t) { count, (const char **) plan->order.items + offset };
    }
    *page = (flot_strategy_page_t) {
        .offset = offset, .total = total, .more = offset + count < total,
        .next_offset = offset + count, .has_next_offset = offset + count < total
    };
    page->cut = cut && page->more;
    out->page = page;
}

int
flot_strategy_plan_answer (flot_strategy_deployment_plan_t *out, bool paged,
                           size_t offset, size_t limit, msgpack_sbuffer *sbuf)
{
    if (!paged) {
        flot_encode_sbuf (&flot_strategy_deployment_plan_def, out, sbuf);
        if (sbuf->size <= FLOT_MAX_BODY)
            return 0;
        msgpack_sbuffer_destroy (sbuf);
        *sbuf = (msgpack_sbuffer) { 0 };
        return -1;
    }
    //  The whole plan, kept to page from again as the page shrinks.
    flot_strategy_plan_t whole [2] = { *out->plan, *out->rollback };
    size_t total = whole [0].targets.count;
    offset = offset < total ? offset : total;
    size_t wanted = limit < total - offset ? limit : total - offset, n = wanted;
    flot_strategy_page_t page;
    for (;;) {
        *out->plan = whole [0];
        *out->rollback = whole [1];
        flot_strategy_plan_cut (out, &page, offset, n, n < wanted);
        flot_encode_sbuf (&flot_strategy_deployment_plan_def, out, sbuf);
        size_t size = sbuf->size;
        if (size <= FLOT_MAX_BODY)
            break;
        msgpack_sbuffer_destroy (sbuf);
        *sbuf = (msgpack_sbuffer) { 0 };
        if (n == 0)
            break;
        //  Targets are of like size: as many as the body holds, less a margin.
        size_t fit = (size_t) ((double) n * (FLOT_MAX_BODY * 0.95) / (double) size);
        n = fit < n ? fit : n - 1;
    }
    *out->plan = whole [0];
    *out->rollback = whole [1];
    out->page = NULL;
    return sbuf->data ? 0 : -1;
}

//  --------------------------------------------------------------------------
//  Commands

//  A step of the plan as a RESOLVED step template.
static flot_strategy_step_template_t
s_template (flot_step_type_t type, int weight, int64_t duration_ms, bool hook,
            const char *gate)
{
    return (flot_strategy_step_template_t) {
        .type = flot_step_type_name (type),
        .weight = (uint64_t) weight, .has_weight = true,
        .duration_ms = duration_ms, .has_duration_ms = true,
        .hook = hook, .has_hook = true,
        .gate = gate
    };
}

static flot_strmap_t
s_strmap (const flot_label_t *labels, size_t count, msgpack_zone *zone)
{
    flot_strpair_t *pairs = msgpack_zone_malloc (zone, (count ? count : 1) * sizeof *pairs);
    if (!pairs)
        return (flot_strmap_t) { 0, NULL };
    for (size_t i = 0; i < count; i++)
        pairs [i] = (flot_strpair_t) { labels [i].key, labels [i].value };
    return (flot_strmap_t) { count, pairs };
}

//  Decodes a section's msgpack bytes into zone, for the message to carry.
static const msgpack_object *
s_section (const void *bytes, size_t size, msgpack_zone *zone)
{
    if (!bytes)
        return NULL;
    msgpack_object *obj = msgpack_zone_malloc (zone, sizeof *obj);
    size_t offset = 0;
    if (!obj || msgpack_unpack (bytes, size, &offset, zone, obj) != MSGPACK_UNPACK_SUCCESS)
        return NULL;
    return obj;
}

static const char *s_policy_names [] = { "failAll", "holdDependents", "continue" };

//  The steps of a built-in strategy, from its plan: every target runs
//  those of the first (a built-in strategy plans them alike).
static int
s_builtin_steps (const flot_spec_t *spec, const flot_plan_t *plan, msgpack_zone *zone,
                 flot_array_t *steps_out, flot_array_t *back_out)
{
    size_t per = spec->target_count ? plan->first [1] - plan->first [0] : 0;
    flot_strategy_step_template_t *steps = msgpack_zone_malloc (zone,
                                                               (per ? per : 1) * sizeof *steps);
    flot_strategy_step_template_t *back = msgpack_zone_malloc (zone, 2 * sizeof *back);
    if (!steps || !back)
        return -1;
    for (size_t k = 0; k < per; k++) {
        const flot_step_t *step = &plan->steps [k];
        steps [k] = s_template (step->type, step->weight, step->duration_ms, step->runs_hook,
                                step->gate);
    }
    //  A blue-green target whose traffic moved switches back; any other
    //  touched target gets the rollback version in place.
    size_t back_count = 1;
    back [0] = s_template (FLOT_STEP_ROLLBACK, 0, 0, true, NULL);
    if (spec->strategy.kind == FLOT_STRATEGY_BLUEGREEN) {
        back [0].switched = false;
        back [0].has_switched = true;
        back [1] = s_template (FLOT_STEP_SWITCH_BACK, 0, 0, true, NULL);
        back [1].switched = true;
        back [1].has_switched = true;
        back_count = 2;
    }
    *steps_out = (flot_array_t) { per, steps };
    *back_out = (flot_array_t) { back_count, back };
    return 0;
}

//  The RESOLVED deployment of a checked spec: its facts, the order and
//  concurrency of its plan, and the steps its strategy calls for.
static int
s_resolved_fill (flot_strategy_resolved_t *out, const flot_spec_t *spec,
                 const flot_plan_t *plan, flot_array_t steps, flot_array_t back,
                 msgpack_zone *zone)
{
    size_t n = spec->target_count;
    flot_strategy_resolved_target_t *targets = msgpack_zone_malloc (zone,
                                                                  (n ? n : 1) * sizeof *targets);
    uint64_t *order = msgpack_zone_malloc (zone, (n ? n : 1) * sizeof *order);
    flot_strategy_workload_t *workload = msgpack_zone_malloc (zone, sizeof *workload);
    flot_executor_hook_t *hook = msgpack_zone_malloc (zone, sizeof *hook);
    if (!targets || !order || !workload || !hook)
        return -1;
    for (size_t t = 0; t < n; t++) {
        const flot_target_t *target = &spec->targets [t];
        targets [t] = (flot_strategy_resolved_target_t) {
            .name = target->name,
            .address = *target->address ? target->address : NULL,
            .labels = s_strmap (target->labels, target->label_count, zone),
            .depends_on = { target->depends_count, target->depends_on },
            .wave = (uint64_t) target->wave, .has_wave = true
        };
        order [t] = (uint64_t) plan->order [t];
    }
    *workload = (flot_strategy_workload_t) {
        .name = spec->workload.name,
        .version = spec->workload.version,
        .artifact = *spec->workload.artifact ? spec->workload.artifact : NULL,
        .rollback_version = *spec->workload.rollback_version
                          ? spec->workload.rollback_version : NULL
    };
    *hook = (flot_executor_hook_t) {
        .command = spec->hook.command,
        .args = { spec->hook.arg_count, spec->hook.args },
        .env = s_strmap (spec->hook.env, spec->hook.env_count, zone),
        .timeout_ms = (uint64_t) spec->hook.timeout_ms, .has_timeout_ms = true
    };
    *out = (flot_strategy_resolved_t) {
        .deployment = spec->name,
        .strategy = spec->strategy_name,
        .workload = workload,
        .hook = hook,
        .retries = (uint64_t) spec->hook.retries, .has_retries = true,
        .backoff_ms = (uint64_t) spec->hook.backoff_ms, .has_backoff_ms = true,
        .on_failure = s_policy_names [spec->policy.on_failure],
        .max_failures = (uint64_t) spec->policy.max_failures, .has_max_failures = true,
        .concurrency = plan->concurrency,
        .progress_deadline_ms = (uint64_t) spec->policy.progress_deadline_ms,
        .rollback_mode = spec->rollback.mode == FLOT_ROLLBACK_GRADUAL ? "gradual" : "immediate",
        .waves = spec->wave_count, .has_waves = true,
        .health = s_section (spec->checks.health, spec->checks.health_size, zone),
        .analysis = s_section (spec->checks.analysis, spec->checks.analysis_size, zone),
        .steps = steps,
        .rollback = back,
        .targets = { n, targets },
        .order = { n, order }
    };
    return 0;
}


//  --------------------------------------------------------------------------
//  Validate, GenerateSteps and Resolve: a spec read and planned

typedef enum { ASK_VALIDATE, ASK_GENERATE, ASK_RESOLVE } ask_t;

//  The actor's state: spec requests whose registered strategy is asked
//  for its steps (PlanSteps), and ListStrategies asking the broker.
typedef struct {
    zlistx_t *pending;          //  pending_t *
} strategy_t;

typedef struct {
    flot_actor_t *actor;
    flot_request_t *request;
    ask_t ask;
    flot_spec_t *spec;
    char file [256];            //  the spec's file name, for error lines
    void *handle;               //  in the state's pending
} pending_t;

static void
s_pending_free (void **item_p)
{
    pending_t *pending = *item_p;
    if (pending) {
        flot_spec_destroy (&pending->spec);
        free (pending);
        *item_p = NULL;
    }
}

//  Answers a spec request with an invalid spec's errors: Validate in its
//  reply, the others as INVALID naming the first.
static void
s_invalid (flot_request_t **request_p, ask_t ask, const char *const *lines, size_t count,
           bool truncated)
{
    if (ask == ASK_VALIDATE) {
        flot_strategy_validate_reply_t reply = {
            .valid = count == 0, .errors = { count, (void *) lines }, .truncated = truncated
        };
        flot_request_answer (request_p, &reply);
    }
    else
        flot_request_error (request_p, FLOT_E_INVALID, "%s%s", lines [0],
                            count > 1 ? " (and more: use Validate for all)" : "");
}

//  Answers a spec request once its strategy's steps are known.
static void
s_answer (flot_request_t **request_p, ask_t ask, const flot_spec_t *spec,
          flot_array_t steps, flot_array_t back)
{
    if (ask == ASK_VALIDATE) {
        s_invalid (request_p, ask, NULL, 0, false);
        return;
    }
    flot_plan_t *plan = flot_plan_generate (spec);     //  its order and concurrency
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    flot_strategy_resolved_t resolved;
    msgpack_sbuffer sbuf = { 0 };
    bool too_large = false;
    bool done = plan && s_resolved_fill (&resolved, spec, plan, steps, back, &zone) == 0;
    if (done && ask == ASK_RESOLVE)
        flot_encode_sbuf (&flot_strategy_resolved_def, &resolved, &sbuf);
    else
    if (done) {
        //  GenerateSteps: every target's steps, and the rollback of them
        //  all, as the coordinator would run them: from the model the
        //  RESOLVED deployment makes.
        flot_err_t err;
        flot_spec_t *model = flot_resolved_spec (&resolved, &err);
        flot_plan_t *forward = model ? flot_resolved_plan (&resolved, model) : NULL;
        bool *all = calloc (spec->target_count + 1, sizeof (bool));
        for (size_t t = 0; all && t < spec->target_count; t++)
            all [t] = true;
        flot_plan_t *rollback = all && model
                              ? flot_resolved_rollback (&resolved, model, all, all) : NULL;
        flot_strategy_deployment_plan_t reply;
        done = forward && rollback
            && flot_strategy_deployment_plan_fill (&reply, model, forward, rollback, &zone) == 0;
        //  A page of its targets when the caller asks for one (section
        //  16.4); else all of it, or TOO_LARGE.
        const flot_strategy_spec_text_t *args = flot_request_args (*request_p);
        bool paged = args->has_offset || args->has_limit;
        if (done
        &&  flot_strategy_plan_answer (&reply, paged, args->has_offset ? args->offset : 0,
                                       args->has_limit ? args->limit : SIZE_MAX, &sbuf)) {
            too_large = true;
            sbuf.size = 0;
        }
        free (all);
        flot_plan_destroy (&forward);
        flot_plan_destroy (&rollback);
        flot_spec_destroy (&model);
    }
    msgpack_zone_destroy (&zone);
    flot_plan_destroy (&plan);
    if (!done)
        flot_request_error (request_p, FLOT_E_INTERNAL, "out of memory planning the spec");
    else
    if (too_large)
        flot_request_error (request_p, FLOT_E_TOO_LARGE,
                            "the plan of %zu targets is over the body limit of %d: ask for "
                            "it in pages of its targets (offset, limit), as 'flotctl plan' "
                            "does", spec->target_count, FLOT_MAX_BODY);
    else
    if (sbuf.size > FLOT_MAX_BODY)
        flot_request_error (request_p, FLOT_E_TOO_LARGE,
                            "the %s is %zu bytes, over the body limit of %d: fewer "
                            "targets, or shorter names, addresses and labels",
                            ask == ASK_RESOLVE ? "resolved deployment" : "plan",
                            sbuf.size, FLOT_MAX_BODY);
    else
        //  Encoded here, not by flot_request_answer, to see its size first.
        flot_request_reply (request_p, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
}

//  The answer of the actor serving a registered strategy to PlanSteps.
static void
s_on_planned (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    pending_t *pending = arg;
    strategy_t *self = flot_actor_state (actor);
    const flot_spec_t *spec = pending->spec;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    flot_strategy_plan_steps_reply_t reply;
    flot_err_t err = answer->err;
    char line [1024];
    if (answer->kind == FLOT_ERROR) {
        if (err.code == FLOT_E_NO_INSTANCE || err.code == FLOT_E_UNKNOWN_SERVICE)
            snprintf (line, sizeof line, "%s: strategy: '%s' is no built-in strategy "
                      "(canary, blueGreen, rolling), and no live actor serves it (%s)",
                      pending->file, spec->strategy_name, err.message);
        else
            snprintf (line, sizeof line, "%s: strategy.%s: %s%s", pending->file,
                      spec->strategy_name, err.code == FLOT_E_INVALID ? ""
                      : "the actor serving it could not answer: ", err.message);
    }
    else
    if (flot_strategy_plan_steps_reply_decode (answer->body, &zone, &reply, &err))
        snprintf (line, sizeof line, "%s: strategy.%s: the steps its actor planned are "
                  "wrong: %s", pending->file, spec->strategy_name, err.message);
    else
        *line = 0;
    if (*line && answer->kind == FLOT_ERROR && err.code != FLOT_E_INVALID
    &&  err.code != FLOT_E_NO_INSTANCE && err.code != FLOT_E_UNKNOWN_SERVICE)
        //  The actor could not answer now (no answer in time, busy): not
        //  the spec's fault, and the caller may ask again.
        flot_request_error (&pending->request, err.code, "%s", line);
    else
    if (*line) {
        const char *lines [1] = { line };
        s_invalid (&pending->request, pending->ask, lines, 1, false);
    }
    else {
        //  Each target ends healthy and soaked, as with a built-in strategy
        //  (plan.c): a soak step after the strategy's own.
        flot_array_t steps = reply.steps;
        if (spec->policy.soak_ms > 0 || spec->checks.health) {
            flot_strategy_step_template_t *with = msgpack_zone_malloc (
                &zone, (steps.count + 1) * sizeof *with);
            if (with) {
                memcpy (with, steps.items, steps.count * sizeof *with);
                with [steps.count] = s_template (FLOT_STEP_SOAK, 100, spec->policy.soak_ms,
                                                 false, NULL);
            }
            steps = (flot_array_t) { steps.count + 1, with };
        }
        if (steps.items)
            s_answer (&pending->request, pending->ask, spec, steps, reply.rollback);
        else
            flot_request_error (&pending->request, FLOT_E_INTERNAL,
                                "out of memory planning the spec");
    }
    msgpack_zone_destroy (&zone);
    zlistx_delete (self->pending, pending->handle);
}

//  Reads the spec of a SPEC_TEXT request and answers it, asking the actor
//  of a registered strategy for its steps first.
static void
s_spec_command (flot_actor_t *actor, flot_request_t *request, ask_t ask)
{
    strategy_t *self = flot_actor_state (actor);
    const flot_strategy_spec_text_t *args = flot_request_args (request);
    flot_spec_errors_t errors;
    flot_spec_t *spec = flot_spec_parse (args->spec, strlen (args->spec), args->file, &errors);
    if (!spec) {
        s_invalid (&request, ask, (const char *const *) errors.lines, errors.count,
                   errors.truncated);
        flot_spec_errors_clear (&errors);
        return;
    }
    if (spec->strategy.kind != FLOT_STRATEGY_REGISTERED) {
        flot_plan_t *plan = flot_plan_generate (spec);
        msgpack_zone zone;
        msgpack_zone_init (&zone, 1024);
        flot_array_t steps, back;
        if (!plan || s_builtin_steps (spec, plan, &zone, &steps, &back))
            flot_request_error (&request, FLOT_E_INTERNAL, "out of memory planning the spec");
        else
            s_answer (&request, ask, spec, steps, back);
        msgpack_zone_destroy (&zone);
        flot_plan_destroy (&plan);
        flot_spec_destroy (&spec);
        return;
    }
    pending_t *pending = calloc (1, sizeof *pending);
    assert (pending);
    *pending = (pending_t) { .actor = actor, .request = request, .ask = ask, .spec = spec };
    snprintf (pending->file, sizeof pending->file, "%s", args->file);
    pending->handle = zlistx_add_end (self->pending, pending);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    flot_strategy_plan_steps_request_t ask_steps = {
        .deployment = spec->name,
        .strategy = spec->strategy_name,
        .params = s_section (spec->strategy.params, spec->strategy.params_size, &zone),
        .targets = spec->target_count
    };
    uint64_t corr = flot_actor_call_msg (actor, "strategy", spec->strategy_name,
                                         FLOT_STRATEGY_PLAN_STEPS,
                                         &flot_strategy_plan_steps_request_def, &ask_steps,
                                         PLAN_STEPS_TIMEOUT_MS, false, s_on_planned, pending);
    msgpack_zone_destroy (&zone);
    if (!corr) {
        flot_request_error (&pending->request, FLOT_E_INTERNAL,
                            "the request could not be sent to strategy '%s'",
                            spec->strategy_name);
        zlistx_delete (self->pending, pending->handle);
    }
}

static void
s_validate (flot_actor_t *actor, flot_request_t *request)
{
    s_spec_command (actor, request, ASK_VALIDATE);
}

static void
s_generate_steps (flot_actor_t *actor, flot_request_t *request)
{
    s_spec_command (actor, request, ASK_GENERATE);
}

static void
s_resolve (flot_actor_t *actor, flot_request_t *request)
{
    s_spec_command (actor, request, ASK_RESOLVE);
}

//  PlanSteps reaches this actor for a name it claims: a built-in strategy,
//  which it plans from the spec itself.
static void
s_plan_steps (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    const flot_strategy_plan_steps_request_t *args = flot_request_args (request);
    flot_request_error (&request, FLOT_E_INVALID, "'%s' is %s: the strategy service plans it "
                        "from the spec itself (Resolve, GenerateSteps); PlanSteps is for "
                        "registered strategies", args->strategy,
                        s_builtin (args->strategy) ? "a built-in strategy"
                                                   : "not a strategy this actor serves");
}

static void
s_calculate_progress (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    const flot_strategy_calculate_progress_request_t *args = flot_request_args (request);
    uint64_t total = args->steps_total, done = args->steps_done;
    if (done > total) {
        flot_request_error (&request, FLOT_E_INVALID,
                            "steps_done %llu is more than steps_total %llu",
                            (unsigned long long) done, (unsigned long long) total);
        return;
    }
    flot_strategy_calculate_progress_reply_t reply = {
        .percent = (uint64_t) flot_strategy_progress (total, done)
    };
    flot_request_answer (&request, &reply);
}

int
flot_strategy_progress (uint64_t total, uint64_t done)
{
    if (total == 0 || done >= total)
        return 100;
    return (int) (done * 100 / total);
}

flot_promote_t
flot_strategy_should_promote (int64_t duration_ms, int64_t elapsed_ms, bool promoted,
                              int64_t *wait_ms)
{
    *wait_ms = 0;
    if (promoted)
        return FLOT_PROMOTE_NOW;
    if (duration_ms < 0)
        return FLOT_PROMOTE_WAIT_FOR_PERSON;
    if (elapsed_ms >= duration_ms)
        return FLOT_PROMOTE_NOW;
    *wait_ms = duration_ms - elapsed_ms;
    return FLOT_PROMOTE_WAIT;
}

static void
s_should_promote (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    const flot_strategy_should_promote_request_t *args = flot_request_args (request);
    int64_t wait_ms;
    flot_promote_t verdict = flot_strategy_should_promote (
        args->duration_ms, (int64_t) args->elapsed_ms, args->promoted, &wait_ms);
    flot_strategy_should_promote_reply_t reply = {
        .promote = verdict == FLOT_PROMOTE_NOW,
        .needs_person = verdict == FLOT_PROMOTE_WAIT_FOR_PERSON,
        .wait_ms = wait_ms
    };
    flot_request_answer (&request, &reply);
}

flot_failure_action_t
flot_strategy_handle_failure (const flot_failure_t *failure, int64_t *delay_ms)
{
    *delay_ms = 0;
    if (failure->attempt <= failure->retries) {
        //  Exponential backoff from the spec's backoff, at most an hour.
        int64_t delay = failure->backoff_ms;
        for (int i = 1; i < failure->attempt && delay < 3600000; i++)
            delay *= 2;
        *delay_ms = delay < 3600000 ? delay : 3600000;
        return FLOT_FAILURE_RETRY;
    }
    if (failure->on_failure == FLOT_ON_FAILURE_FAIL_ALL
    ||  failure->failed_targets > failure->max_failures)
        return FLOT_FAILURE_FAIL_DEPLOYMENT;
    return failure->on_failure == FLOT_ON_FAILURE_HOLD_DEPENDENTS
         ? FLOT_FAILURE_HOLD_DEPENDENTS : FLOT_FAILURE_CONTINUE;
}

static const char *s_actions [] = { "retry", "holdDependents", "continue", "failDeployment" };
static const char *s_policies [] = { "failAll", "holdDependents", "continue" };

static void
s_handle_failure (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    const flot_strategy_handle_failure_request_t *args = flot_request_args (request);
    //  The contract allows only the policies' names.
    int p = 0;
    while (p < 2 && !streq (args->on_failure, s_policies [p]))
        p++;
    flot_failure_t failure = {
        .attempt = (int) args->attempt,
        .retries = (int) args->retries,
        .backoff_ms = (int64_t) args->backoff_ms,
        .on_failure = (flot_on_failure_t) p,
        .failed_targets = (int) args->failed_targets,
        .max_failures = (int) args->max_failures
    };
    int64_t delay;
    flot_failure_action_t action = flot_strategy_handle_failure (&failure, &delay);
    flot_strategy_handle_failure_reply_t reply = {
        .action = s_actions [action],
        .delay_ms = delay
    };
    flot_request_answer (&request, &reply);
}

//  The broker's list of live instances: the built-in strategies, and each
//  name another strategy instance claims, with who serves it.
static void
s_on_actors (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    flot_request_t *request = arg;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    flot_broker_actors_reply_t actors = { .actors = { 0, NULL } };
    flot_err_t err = answer->err;
    if (answer->kind == FLOT_ERROR
    ||  flot_broker_actors_reply_decode (answer->body, &zone, &actors, &err)) {
        flot_request_error (&request, answer->kind == FLOT_ERROR ? err.code : FLOT_E_INTERNAL,
                            "the broker could not list the registered strategies: %s",
                            err.message);
        msgpack_zone_destroy (&zone);
        return;
    }
    size_t cap = BUILTIN_COUNT;
    const flot_broker_actor_t *items = actors.actors.items;
    for (size_t i = 0; i < actors.actors.count; i++)
        cap += items [i].keys.count;
    flot_strategy_strategy_t *list = msgpack_zone_malloc (&zone, cap * sizeof *list);
    size_t count = 0;
    for (size_t i = 0; list && i < BUILTIN_COUNT; i++)
        list [count++] = (flot_strategy_strategy_t) {
            .name = s_strategies [i].name, .description = s_strategies [i].description
        };
    for (size_t i = 0; list && i < actors.actors.count; i++) {
        if (!streq (items [i].service, "strategy"))
            continue;
        for (size_t k = 0; k < items [i].keys.count; k++) {
            const char *name = ((const char **) items [i].keys.items) [k];
            bool known = s_builtin (name) || streq (name, SPEC_KEY);
            for (size_t j = BUILTIN_COUNT; j < count && !known; j++)
                known = streq (list [j].name, name);
            if (known)
                continue;
            char *description = msgpack_zone_malloc (&zone, 512);
            if (!description)
                break;
            snprintf (description, 512, "registered: served by %s (pid %llu on %s)",
                      items [i].instance, (unsigned long long) items [i].pid,
                      items [i].host);
            list [count++] = (flot_strategy_strategy_t) {
                .name = name, .description = description
            };
        }
    }
    if (!list)
        flot_request_error (&request, FLOT_E_INTERNAL, "out of memory listing strategies");
    else {
        flot_strategy_list_strategies_reply_t reply = { .strategies = { count, list } };
        flot_request_answer (&request, &reply);
    }
    msgpack_zone_destroy (&zone);
}

static void
s_list_strategies (flot_actor_t *actor, flot_request_t *request)
{
    flot_broker_actors_request_t ask = { 0 };
    if (!flot_actor_call_msg (actor, "broker", NULL, FLOT_BROKER_ACTORS,
                              &flot_broker_actors_request_def, &ask, 5000, false,
                              s_on_actors, request))
        flot_request_error (&request, FLOT_E_INTERNAL,
                            "the request could not be sent to the broker");
}

static int
s_start (flot_actor_t *actor)
{
    strategy_t *self = calloc (1, sizeof *self);
    assert (self);
    self->pending = zlistx_new ();
    zlistx_set_destructor (self->pending, s_pending_free);
    flot_actor_set_state (actor, self);
    return 0;
}

static void
s_stop (flot_actor_t *actor)
{
    strategy_t *self = flot_actor_state (actor);
    if (self) {
        zlistx_destroy (&self->pending);
        free (self);
        flot_actor_set_state (actor, NULL);
    }
}

static const flot_command_t s_commands [] = {
    { "Validate", s_validate },
    { "GenerateSteps", s_generate_steps },
    { "Resolve", s_resolve },
    { "PlanSteps", s_plan_steps },
    { "CalculateProgress", s_calculate_progress },
    { "ShouldPromote", s_should_promote },
    { "HandleFailure", s_handle_failure },
    { "ListStrategies", s_list_strategies },
    { NULL, NULL }
};

const flot_actor_def_t flot_strategy_actor = {
    .service = "strategy",
    .contract = &flot_strategy_contract,
    .commands = s_commands,
    .start = s_start,
    .stop = s_stop,
    //  Its strategies' names, for their HandleFailure and ShouldPromote,
    //  and SPEC_KEY, for reading specs: a registered strategy's actor
    //  claims its own name, so that none of these reaches it.
    .keys = "canary,blueGreen,rolling," SPEC_KEY
};
