/*  strategy.c - the strategy actor (service "strategy").

    The strategy contract as messages: Validate and GenerateSteps parse a
    deployment spec's text (spec.c) and plan it (plan.c); CalculateProgress,
    ShouldPromote and HandleFailure are the decisions a coordinator asks
    for as a deployment runs; ListStrategies names what this actor knows.
    It keeps no state: every answer is a function of the request, so any
    number of instances can serve, and a restarted coordinator gets the same
    plan from the same spec. protocol/contracts/strategy.json defines its
    messages; a plan goes out as its PLAN (flot_strategy_plan_fill), which
    the coordinator's Plan reply shares.
*/
#include "flotilla/strategy.h"
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

//  Parses the request's spec (a SPEC_TEXT). Returns the spec, or NULL after
//  answering the request (with errors in a reply when validate_only, else
//  with an INVALID error).
static flot_spec_t *
s_spec_from (flot_request_t **request_p, bool validate_only)
{
    const flot_strategy_spec_text_t *args = flot_request_args (*request_p);
    flot_spec_errors_t errors;
    flot_spec_t *spec = flot_spec_parse (args->spec, strlen (args->spec), args->file, &errors);
    if (spec) {
        if (!validate_only)
            return spec;
        flot_spec_destroy (&spec);
    }
    if (validate_only) {
        flot_strategy_validate_reply_t reply = {
            .valid = errors.count == 0,
            .errors = { errors.count, errors.lines },
            .truncated = errors.truncated
        };
        flot_request_answer (request_p, &reply);
    }
    else
        flot_request_error (request_p, FLOT_E_INVALID, "%s%s", errors.lines [0],
                            errors.count > 1 ? " (and more: use Validate for all)" : "");
    flot_spec_errors_clear (&errors);
    return NULL;
}

static void
s_validate (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    s_spec_from (&request, true);
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
        .strategy = s_strategies [spec->strategy.kind].name,
        .plan = forward,
        .rollback = back
    };
    return 0;
}

//  --------------------------------------------------------------------------
//  Commands

static void
s_generate_steps (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    flot_spec_t *spec = s_spec_from (&request, false);
    if (!spec)
        return;
    flot_plan_t *plan = flot_plan_generate (spec);
    bool *all = calloc (spec->target_count, sizeof (bool));
    for (size_t t = 0; all && t < spec->target_count; t++)
        all [t] = true;
    //  The rollback plan if every target had been touched and switched.
    flot_plan_t *rollback = all ? flot_plan_rollback (spec, all, all) : NULL;
    free (all);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    flot_strategy_deployment_plan_t reply;
    msgpack_sbuffer sbuf = { 0 };
    bool planned = plan && rollback
                && flot_strategy_deployment_plan_fill (&reply, spec, plan, rollback, &zone) == 0;
    if (planned)
        flot_encode_sbuf (&flot_strategy_deployment_plan_def, &reply, &sbuf);
    msgpack_zone_destroy (&zone);
    flot_plan_destroy (&plan);
    flot_plan_destroy (&rollback);
    flot_spec_destroy (&spec);
    if (!planned)
        flot_request_error (&request, FLOT_E_INTERNAL, "out of memory planning");
    else
    if (sbuf.size > FLOT_MAX_BODY)
        flot_request_error (&request, FLOT_E_TOO_LARGE,
                            "the plan is over %d bytes", FLOT_MAX_BODY);
    else {
        //  Encoded here, not by flot_request_answer, to see its size first.
        flot_request_reply (&request, sbuf.data, sbuf.size);
    }
    msgpack_sbuffer_destroy (&sbuf);
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

static void
s_list_strategies (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    enum { COUNT = sizeof s_strategies / sizeof s_strategies [0] };
    flot_strategy_strategy_t strategies [COUNT];
    for (size_t i = 0; i < COUNT; i++)
        strategies [i] = (flot_strategy_strategy_t) {
            .name = s_strategies [i].name,
            .description = s_strategies [i].description
        };
    flot_strategy_list_strategies_reply_t reply = { .strategies = { COUNT, strategies } };
    flot_request_answer (&request, &reply);
}

static const flot_command_t s_commands [] = {
    { "Validate", s_validate },
    { "GenerateSteps", s_generate_steps },
    { "CalculateProgress", s_calculate_progress },
    { "ShouldPromote", s_should_promote },
    { "HandleFailure", s_handle_failure },
    { "ListStrategies", s_list_strategies },
    { NULL, NULL }
};

const flot_actor_def_t flot_strategy_actor = {
    .service = "strategy",
    .contract = &flot_strategy_contract,
    .commands = s_commands
};
