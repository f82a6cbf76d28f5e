/*  common/resolved.c - a RESOLVED deployment as the model it runs on.

    Shared by the coordinator (which stores the strategy service's Resolve
    answer and resumes from it) and the rollback service (which gets it in
    InitiateRollback): include/flotilla/resolved.h. Everything the model
    holds is copied out of the message, which is checked as hostile input:
    a dependency or an order entry that names no target is INVALID, not a
    crash.
*/

#include "flotilla/resolved.h"
#include "flotilla/body.h"
#include <czmq.h>

static char *
s_dup (const char *text)
{
    return strdup (text ? text : "");
}

static int
s_labels (const flot_strmap_t *map, flot_label_t **labels_p, size_t *count_p)
{
    *labels_p = NULL;
    *count_p = 0;
    if (!map->count)
        return 0;
    flot_label_t *labels = calloc (map->count, sizeof *labels);
    if (!labels)
        return -1;
    *labels_p = labels;
    for (size_t i = 0; i < map->count; i++) {
        labels [i].key = s_dup (map->items [i].key);
        labels [i].value = s_dup (map->items [i].value);
        *count_p = i + 1;
        if (!labels [i].key || !labels [i].value)
            return -1;
    }
    return 0;
}

//  A msgpack object as bytes of its own.
static int
s_bytes (const msgpack_object *obj, void **bytes_p, size_t *size_p)
{
    if (!obj)
        return 0;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_object (&pk, *obj);
    *bytes_p = sbuf.data;
    *size_p = sbuf.size;
    return sbuf.data ? 0 : -1;
}

static int
s_step_type (const char *name)
{
    for (int type = 0; type < FLOT_STEP_TYPE_COUNT; type++)
        if (streq (name, flot_step_type_name ((flot_step_type_t) type)))
            return type;
    return -1;
}

static const char *s_on_failure [] = { "failAll", "holdDependents", "continue" };

//  Whether a step of type runs the hook (SPEC section 16).
static bool
s_runs_hook (flot_step_type_t type)
{
    return type == FLOT_STEP_SET_WEIGHT || type == FLOT_STEP_PREVIEW || type == FLOT_STEP_SWITCH
        || type == FLOT_STEP_CLEANUP || type == FLOT_STEP_APPLY || type == FLOT_STEP_ROLLBACK
        || type == FLOT_STEP_SWITCH_BACK;
}

//  Every step of a template list names a step type, and runs the hook if,
//  and only if, its type does: the coordinator runs hooks by type, and
//  counts a target touched by its hook steps.
static int
s_steps_check (const flot_array_t *steps, const char *name, flot_err_t *err)
{
    for (size_t k = 0; k < steps->count; k++) {
        const flot_strategy_step_template_t *step = &((const flot_strategy_step_template_t *)
                                                      steps->items) [k];
        int type = s_step_type (step->type);
        if (type < 0)
            return flot_err_set (err, FLOT_E_INVALID, "field '%s[%zu].type': '%s' is no step "
                                 "type", name, k, step->type);
        if (step->hook != s_runs_hook ((flot_step_type_t) type))
            return flot_err_set (err, FLOT_E_INVALID, "field '%s[%zu].hook': a %s step %s the "
                                 "hook", name, k, step->type,
                                 step->hook ? "does not run" : "runs");
    }
    return 0;
}

flot_spec_t *
flot_resolved_spec (const flot_strategy_resolved_t *r, flot_err_t *err)
{
    flot_spec_t *spec = calloc (1, sizeof *spec);
    if (!spec)
        goto nomem;
    spec->name = s_dup (r->deployment);
    spec->strategy_name = s_dup (r->strategy);
    spec->strategy.kind = streq (r->strategy, "blueGreen") ? FLOT_STRATEGY_BLUEGREEN
                        : streq (r->strategy, "rolling") ? FLOT_STRATEGY_ROLLING
                        : FLOT_STRATEGY_CANARY;
    spec->workload.name = s_dup (r->workload->name);
    spec->workload.version = s_dup (r->workload->version);
    spec->workload.artifact = s_dup (r->workload->artifact);
    spec->workload.rollback_version = s_dup (r->workload->rollback_version);
    if (!spec->name || !spec->strategy_name || !spec->workload.name
    ||  !spec->workload.version || !spec->workload.artifact
    ||  !spec->workload.rollback_version)
        goto nomem;

    //  Targets, indexed by name.
    size_t n = r->targets.count;
    const flot_strategy_resolved_target_t *targets = r->targets.items;
    size_t waves = r->waves ? r->waves : 1;
    spec->targets = calloc (n ? n : 1, sizeof (flot_target_t));
    spec->index = zhashx_new ();
    if (!spec->targets || !spec->index)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        const flot_strategy_resolved_target_t *from = &targets [i];
        flot_target_t *t = &spec->targets [i];
        spec->target_count = i + 1;
        t->name = s_dup (from->name);
        t->address = s_dup (from->address);
        t->wave = (int) from->wave;
        t->depends_on = calloc (from->depends_on.count + 1, sizeof (char *));
        if (!t->name || !t->address || !t->depends_on
        ||  s_labels (&from->labels, &t->labels, &t->label_count))
            goto nomem;
        for (size_t d = 0; d < from->depends_on.count; d++) {
            t->depends_on [d] = s_dup (((const char **) from->depends_on.items) [d]);
            t->depends_count = d + 1;
            if (!t->depends_on [d])
                goto nomem;
        }
        if (from->wave >= waves) {
            flot_err_set (err, FLOT_E_INVALID, "field 'targets[%zu].wave': %llu is past "
                          "the %zu waves", i, (unsigned long long) from->wave, waves);
            goto fail;
        }
        if (zhashx_insert (spec->index, t->name, (void *) (i + 1))) {
            flot_err_set (err, FLOT_E_INVALID, "field 'targets[%zu].name': '%s' is given "
                          "twice", i, t->name);
            goto fail;
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < spec->targets [i].depends_count; d++) {
            int u = flot_spec_target_index (spec, spec->targets [i].depends_on [d]);
            if (u < 0 || u == (int) i) {
                flot_err_set (err, FLOT_E_INVALID, "field 'targets[%zu].dependsOn[%zu]': "
                              "'%s' %s", i, d, spec->targets [i].depends_on [d],
                              u < 0 ? "names no target" : "is the target itself");
                goto fail;
            }
        }
    spec->wave_count = r->waves;
    if (r->waves && !(spec->waves = calloc (r->waves, sizeof (flot_wave_t))))
        goto nomem;

    //  Gate names, for the plan's steps to point to.
    size_t gates = r->steps.count;
    spec->strategy.steps = calloc (gates ? gates : 1, sizeof (flot_cstep_t));
    if (!spec->strategy.steps)
        goto nomem;
    for (size_t s = 0; s < gates; s++) {
        const flot_strategy_step_template_t *step = &((const flot_strategy_step_template_t *)
                                                     r->steps.items) [s];
        spec->strategy.step_count = s + 1;
        spec->strategy.steps [s].kind = FLOT_CSTEP_GATE;
        if (step->gate && !(spec->strategy.steps [s].gate = strdup (step->gate)))
            goto nomem;
    }

    //  The hook and the policy.
    const flot_executor_hook_t *hook = r->hook;
    spec->hook.command = s_dup (hook->command);
    spec->hook.args = calloc (hook->args.count + 1, sizeof (char *));
    if (!spec->hook.command || !spec->hook.args)
        goto nomem;
    for (size_t a = 0; a < hook->args.count; a++) {
        spec->hook.args [a] = s_dup (((const char **) hook->args.items) [a]);
        spec->hook.arg_count = a + 1;
        if (!spec->hook.args [a])
            goto nomem;
    }
    if (s_labels (&hook->env, &spec->hook.env, &spec->hook.env_count))
        goto nomem;
    spec->hook.timeout_ms = (int64_t) hook->timeout_ms;
    spec->hook.retries = (int) r->retries;
    spec->hook.backoff_ms = (int64_t) r->backoff_ms;
    for (int p = 0; p < 3; p++)
        if (streq (r->on_failure, s_on_failure [p]))
            spec->policy.on_failure = (flot_on_failure_t) p;
    spec->policy.max_concurrency = (int) r->concurrency;
    spec->policy.max_failures = (int) r->max_failures;
    spec->policy.progress_deadline_ms = (int64_t) r->progress_deadline_ms;
    spec->rollback.mode = streq (r->rollback_mode, "gradual") ? FLOT_ROLLBACK_GRADUAL
                                                               : FLOT_ROLLBACK_IMMEDIATE;
    if (s_bytes (r->health, &spec->checks.health, &spec->checks.health_size)
    ||  s_bytes (r->analysis, &spec->checks.analysis, &spec->checks.analysis_size))
        goto nomem;

    //  The order: every target once.
    if (r->order.count != n) {
        flot_err_set (err, FLOT_E_INVALID, "field 'order' has %zu entries for %zu targets",
                      r->order.count, n);
        goto fail;
    }
    bool *seen = calloc (n ? n : 1, sizeof (bool));
    if (!seen)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = ((const uint64_t *) r->order.items) [i];
        if (t >= n || seen [t]) {
            flot_err_set (err, FLOT_E_INVALID, "field 'order[%zu]': %llu is %s", i,
                          (unsigned long long) t, t >= n ? "no target's index"
                                                         : "given twice");
            free (seen);
            goto fail;
        }
        seen [t] = true;
    }
    free (seen);
    if (s_steps_check (&r->steps, "steps", err) || s_steps_check (&r->rollback, "rollback", err))
        goto fail;
    //  A target has at most one rollback step whether its traffic moved or
    //  not (its id is `<target>/rollback`).
    size_t moved = 0, unmoved = 0;
    for (size_t k = 0; k < r->rollback.count; k++) {
        const flot_strategy_step_template_t *step = &((const flot_strategy_step_template_t *)
                                                      r->rollback.items) [k];
        moved += !step->has_switched || step->switched;
        unmoved += !step->has_switched || !step->switched;
        if (moved > 1 || unmoved > 1) {
            flot_err_set (err, FLOT_E_INVALID, "field 'rollback[%zu]': a target would have "
                          "two rollback steps (at most one applies whether its traffic "
                          "moved or not)", k);
            goto fail;
        }
    }
    if (n * r->steps.count > FLOT_RESOLVED_MAX_STEPS) {
        flot_err_set (err, FLOT_E_INVALID, "the deployment has %zu steps (%zu targets of %zu), "
                      "over %d", n * r->steps.count, n, r->steps.count,
                      FLOT_RESOLVED_MAX_STEPS);
        goto fail;
    }
    return spec;
nomem:
    flot_err_set (err, FLOT_E_INTERNAL, "out of memory reading a RESOLVED deployment");
fail:
    flot_spec_destroy (&spec);
    return NULL;
}

//  A plan of count steps per target at most, filled by the caller.
static flot_plan_t *
s_plan_new (const flot_strategy_resolved_t *r, size_t steps)
{
    size_t n = r->targets.count;
    flot_plan_t *plan = calloc (1, sizeof *plan);
    if (!plan)
        return NULL;
    plan->steps = calloc (steps ? steps : 1, sizeof (flot_step_t));
    plan->first = calloc (n + 1, sizeof (size_t));
    plan->order = calloc (n ? n : 1, sizeof (int));
    plan->target_count = n;
    plan->concurrency = r->concurrency ? (size_t) r->concurrency : 1;
    if (!plan->steps || !plan->first || !plan->order)
        flot_plan_destroy (&plan);
    return plan;
}

static void
s_step (flot_step_t *step, const flot_strategy_step_template_t *from, int target, int index)
{
    step->target = target;
    step->index = index;
    step->type = (flot_step_type_t) s_step_type (from->type);
    step->weight = (int) from->weight;
    step->duration_ms = from->duration_ms;
    step->runs_hook = from->hook;
}

flot_plan_t *
flot_resolved_plan (const flot_strategy_resolved_t *r, const flot_spec_t *spec)
{
    size_t n = r->targets.count, per = r->steps.count;
    flot_plan_t *plan = s_plan_new (r, n * per);
    if (!plan)
        return NULL;
    const flot_strategy_step_template_t *steps = r->steps.items;
    for (size_t t = 0; t < n; t++) {
        plan->first [t] = t * per;
        for (size_t k = 0; k < per; k++) {
            flot_step_t *step = &plan->steps [t * per + k];
            s_step (step, &steps [k], (int) t, (int) k + 1);
            step->gate = spec->strategy.steps [k].gate;
            snprintf (step->id, sizeof step->id, "%s/%zu", spec->targets [t].name, k + 1);
        }
        plan->order [t] = (int) ((const uint64_t *) r->order.items) [t];
    }
    plan->first [n] = n * per;
    plan->step_count = n * per;
    return plan;
}

flot_plan_t *
flot_resolved_rollback (const flot_strategy_resolved_t *r, const flot_spec_t *spec,
                        const bool *touched, const bool *switched)
{
    size_t n = r->targets.count, per = r->rollback.count;
    flot_plan_t *plan = s_plan_new (r, n * per);
    if (!plan)
        return NULL;
    const flot_strategy_step_template_t *steps = r->rollback.items;
    size_t count = 0;
    for (size_t t = 0; t < n; t++) {
        plan->first [t] = count;
        plan->order [t] = (int) ((const uint64_t *) r->order.items) [n - 1 - t];
        if (!touched [t])
            continue;
        bool moved = switched && switched [t];
        for (size_t k = 0; k < per; k++) {
            if (steps [k].has_switched && steps [k].switched != moved)
                continue;
            flot_step_t *step = &plan->steps [count++];
            s_step (step, &steps [k], (int) t, (int) (count - plan->first [t]));
            snprintf (step->id, sizeof step->id, "%s/rollback", spec->targets [t].name);
        }
    }
    plan->first [n] = count;
    plan->step_count = count;
    return plan;
}

//  Decodes bytes into zone, the body kept in *body_p for the maps that
//  point into it.
static int
s_decode (const void *bytes, size_t size, msgpack_zone *zone, flot_body_t **body_p,
          flot_strategy_resolved_t *r, flot_err_t *err)
{
    *body_p = flot_body_decode (bytes, size, err);
    if (!*body_p)
        return -1;
    memset (r, 0, sizeof *r);
    return flot_strategy_resolved_decode (flot_body_root (*body_p), zone, r, err);
}

//  The model of a decoded RESOLVED map: spec and plan, or -1 with err.
static int
s_model (const msgpack_object *map, msgpack_zone *zone, flot_spec_t **spec_p,
         flot_plan_t **plan_p, flot_err_t *err)
{
    flot_strategy_resolved_t r;
    memset (&r, 0, sizeof r);
    if (flot_strategy_resolved_decode (map, zone, &r, err))
        return -1;
    if (!(*spec_p = flot_resolved_spec (&r, err)))
        return -1;
    if (!(*plan_p = flot_resolved_plan (&r, *spec_p))) {
        flot_spec_destroy (spec_p);
        return flot_err_set (err, FLOT_E_INTERNAL,
                             "out of memory planning a RESOLVED deployment");
    }
    return 0;
}

int
flot_resolved_load (const void *bytes, size_t size, flot_spec_t **spec_p,
                    flot_plan_t **plan_p, flot_err_t *err)
{
    flot_body_t *body = flot_body_decode (bytes, size, err);
    if (!body)
        return -1;
    int rc = flot_resolved_load_map (flot_body_root (body), spec_p, plan_p, err);
    flot_body_destroy (&body);
    return rc;
}

int
flot_resolved_load_map (const msgpack_object *map, flot_spec_t **spec_p, flot_plan_t **plan_p,
                        flot_err_t *err)
{
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    int rc = s_model (map, &zone, spec_p, plan_p, err);
    msgpack_zone_destroy (&zone);
    return rc;
}

flot_plan_t *
flot_resolved_load_rollback (const void *bytes, size_t size, const flot_spec_t *spec,
                             const bool *touched, const bool *switched, flot_err_t *err)
{
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    flot_body_t *body = NULL;
    flot_strategy_resolved_t r;
    flot_plan_t *plan = NULL;
    if (s_decode (bytes, size, &zone, &body, &r, err) == 0) {
        if (r.targets.count != spec->target_count)
            flot_err_set (err, FLOT_E_INVALID, "the RESOLVED deployment has %zu targets, "
                          "its model %zu", r.targets.count, spec->target_count);
        else
        if (!(plan = flot_resolved_rollback (&r, spec, touched, switched)))
            flot_err_set (err, FLOT_E_INTERNAL, "out of memory planning a rollback");
    }
    flot_body_destroy (&body);
    msgpack_zone_destroy (&zone);
    return plan;
}
