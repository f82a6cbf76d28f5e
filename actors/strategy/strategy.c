/*  strategy.c - the strategy actor (service "strategy").

    The strategy contract as messages: Validate and GenerateSteps parse a
    deployment spec's text (spec.c) and plan it (plan.c); CalculateProgress,
    ShouldPromote and HandleFailure are the decisions a coordinator asks
    for as a deployment runs; ListStrategies names what this actor knows.
    It keeps no state: every answer is a function of the request, so any
    number of instances can serve, and a restarted coordinator gets the same
    plan from the same spec.
*/
#include "flotilla/strategy.h"
#include "flotilla/log.h"
#include "flotilla/plan.h"

#define MAX_FILE 256

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

//  Reads "spec" (and "file") from a request and parses it. Returns the spec,
//  or NULL after answering the request (with errors in a reply when
//  validate_only, else with an INVALID error).
static flot_spec_t *
s_spec_from (flot_request_t **request_p, bool validate_only)
{
    const msgpack_object *body = flot_request_body (*request_p);
    const msgpack_object *text = NULL;
    char file [MAX_FILE] = "spec";
    flot_err_t err;
    if (flot_map_object (body, "spec", true, MSGPACK_OBJECT_STR, &text, &err) < 0
    ||  flot_map_str (body, "file", false, file, sizeof file, &err) < 0) {
        flot_request_fail (request_p, &err);
        return NULL;
    }
    flot_spec_errors_t errors;
    flot_spec_t *spec = flot_spec_parse (text->via.str.ptr, text->via.str.size, file, &errors);
    if (spec) {
        if (!validate_only)
            return spec;
        flot_spec_destroy (&spec);
    }
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    if (validate_only) {
        msgpack_pack_map (&pk, 3);
        flot_pack_kv_bool (&pk, "valid", errors.count == 0);
        flot_pack_str (&pk, "errors");
        msgpack_pack_array (&pk, errors.count);
        for (size_t i = 0; i < errors.count; i++)
            flot_pack_str (&pk, errors.lines [i]);
        flot_pack_kv_bool (&pk, "truncated", errors.truncated);
        flot_request_reply_sbuf (request_p, &sbuf);
    }
    else {
        msgpack_sbuffer_destroy (&sbuf);
        flot_request_error (request_p, FLOT_E_INVALID, "%s%s", errors.lines [0],
                            errors.count > 1 ? " (and more: use Validate for all)" : "");
    }
    flot_spec_errors_clear (&errors);
    return NULL;
}

static void
s_validate (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    s_spec_from (&request, true);
}

static void
s_pack_step (msgpack_packer *pk, const flot_step_t *step)
{
    msgpack_pack_map (pk, step->gate ? 7 : 6);
    flot_pack_kv_str (pk, "id", step->id);
    flot_pack_kv_uint (pk, "index", (uint64_t) step->index);
    flot_pack_kv_str (pk, "type", flot_step_type_name (step->type));
    flot_pack_kv_uint (pk, "weight", (uint64_t) step->weight);
    flot_pack_kv_int (pk, "duration_ms", step->duration_ms);
    flot_pack_kv_bool (pk, "hook", step->runs_hook);
    if (step->gate)
        flot_pack_kv_str (pk, "gate", step->gate);
}

//  A plan as {"concurrency", "order": [names], "targets": [{name, wave,
//  dependsOn, steps}]}: the coordinator's input, and what `plan` shows.
void
flot_strategy_pack_plan (msgpack_packer *pk, const flot_spec_t *spec,
                         const flot_plan_t *plan)
{
    msgpack_pack_map (pk, 3);
    flot_pack_kv_uint (pk, "concurrency", plan->concurrency);
    flot_pack_str (pk, "order");
    msgpack_pack_array (pk, plan->target_count);
    for (size_t i = 0; i < plan->target_count; i++)
        flot_pack_str (pk, spec->targets [plan->order [i]].name);
    flot_pack_str (pk, "targets");
    msgpack_pack_array (pk, plan->target_count);
    for (size_t t = 0; t < plan->target_count; t++) {
        const flot_target_t *target = &spec->targets [t];
        msgpack_pack_map (pk, 4);
        flot_pack_kv_str (pk, "name", target->name);
        flot_pack_kv_uint (pk, "wave", (uint64_t) target->wave);
        flot_pack_str (pk, "dependsOn");
        msgpack_pack_array (pk, target->depends_count);
        for (size_t d = 0; d < target->depends_count; d++)
            flot_pack_str (pk, target->depends_on [d]);
        flot_pack_str (pk, "steps");
        msgpack_pack_array (pk, plan->first [t + 1] - plan->first [t]);
        for (size_t s = plan->first [t]; s < plan->first [t + 1]; s++)
            s_pack_step (pk, &plan->steps [s]);
    }
}

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
    if (!plan || !rollback) {
        flot_plan_destroy (&plan);
        flot_plan_destroy (&rollback);
        flot_spec_destroy (&spec);
        flot_request_error (&request, FLOT_E_INTERNAL, "out of memory planning");
        return;
    }
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 4);
    flot_pack_kv_str (&pk, "deployment", spec->name);
    flot_pack_kv_str (&pk, "strategy", s_strategies [spec->strategy.kind].name);
    flot_pack_str (&pk, "plan");
    flot_strategy_pack_plan (&pk, spec, plan);
    flot_pack_str (&pk, "rollback");
    flot_strategy_pack_plan (&pk, spec, rollback);
    flot_plan_destroy (&plan);
    flot_plan_destroy (&rollback);
    flot_spec_destroy (&spec);
    if (sbuf.size > FLOT_MAX_BODY) {
        msgpack_sbuffer_destroy (&sbuf);
        flot_request_error (&request, FLOT_E_TOO_LARGE,
                            "the plan is over %d bytes", FLOT_MAX_BODY);
        return;
    }
    flot_request_reply_sbuf (&request, &sbuf);
}

static void
s_calculate_progress (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    const msgpack_object *body = flot_request_body (request);
    uint64_t total = 0, done = 0;
    flot_err_t err;
    if (flot_map_uint (body, "steps_total", true, 0, UINT32_MAX, &total, &err) < 0
    ||  flot_map_uint (body, "steps_done", true, 0, UINT32_MAX, &done, &err) < 0) {
        flot_request_fail (&request, &err);
        return;
    }
    if (done > total) {
        flot_request_error (&request, FLOT_E_INVALID,
                            "steps_done %llu is more than steps_total %llu",
                            (unsigned long long) done, (unsigned long long) total);
        return;
    }
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 1);
    flot_pack_kv_uint (&pk, "percent", flot_strategy_progress (total, done));
    flot_request_reply_sbuf (&request, &sbuf);
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
    const msgpack_object *body = flot_request_body (request);
    int64_t duration = 0, elapsed = 0;
    bool promoted = false;
    flot_err_t err;
    if (flot_map_int (body, "duration_ms", true, -1, INT64_MAX, &duration, &err) < 0
    ||  flot_map_int (body, "elapsed_ms", true, 0, INT64_MAX, &elapsed, &err) < 0
    ||  flot_map_bool (body, "promoted", false, &promoted, &err) < 0) {
        flot_request_fail (&request, &err);
        return;
    }
    int64_t wait_ms;
    flot_promote_t verdict = flot_strategy_should_promote (duration, elapsed, promoted, &wait_ms);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 3);
    flot_pack_kv_bool (&pk, "promote", verdict == FLOT_PROMOTE_NOW);
    flot_pack_kv_bool (&pk, "needs_person", verdict == FLOT_PROMOTE_WAIT_FOR_PERSON);
    flot_pack_kv_int (&pk, "wait_ms", wait_ms);
    flot_request_reply_sbuf (&request, &sbuf);
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
    const msgpack_object *body = flot_request_body (request);
    flot_failure_t failure = { 0 };
    uint64_t attempt = 0, retries = 0, backoff = 0, failed = 0, max_failures = 0;
    char policy [32] = "failAll";
    flot_err_t err;
    if (flot_map_uint (body, "attempt", true, 1, 1000, &attempt, &err) < 0
    ||  flot_map_uint (body, "retries", true, 0, 100, &retries, &err) < 0
    ||  flot_map_uint (body, "backoff_ms", false, 0, 3600000, &backoff, &err) < 0
    ||  flot_map_str (body, "on_failure", true, policy, sizeof policy, &err) < 0
    ||  flot_map_uint (body, "failed_targets", true, 0, 1000000, &failed, &err) < 0
    ||  flot_map_uint (body, "max_failures", false, 0, 1000000, &max_failures, &err) < 0) {
        flot_request_fail (&request, &err);
        return;
    }
    int p;
    for (p = 0; p < 3; p++)
        if (streq (policy, s_policies [p]))
            break;
    if (p == 3) {
        flot_request_error (&request, FLOT_E_INVALID,
            "field 'on_failure': '%s' is not one of failAll, holdDependents, continue",
            policy);
        return;
    }
    failure.attempt = (int) attempt;
    failure.retries = (int) retries;
    failure.backoff_ms = (int64_t) backoff;
    failure.on_failure = (flot_on_failure_t) p;
    failure.failed_targets = (int) failed;
    failure.max_failures = (int) max_failures;
    int64_t delay;
    flot_failure_action_t action = flot_strategy_handle_failure (&failure, &delay);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 2);
    flot_pack_kv_str (&pk, "action", s_actions [action]);
    flot_pack_kv_int (&pk, "delay_ms", delay);
    flot_request_reply_sbuf (&request, &sbuf);
}

static void
s_list_strategies (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    size_t count = sizeof s_strategies / sizeof s_strategies [0];
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 1);
    flot_pack_str (&pk, "strategies");
    msgpack_pack_array (&pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_map (&pk, 2);
        flot_pack_kv_str (&pk, "name", s_strategies [i].name);
        flot_pack_kv_str (&pk, "description", s_strategies [i].description);
    }
    flot_request_reply_sbuf (&request, &sbuf);
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
    .commands = s_commands
};
