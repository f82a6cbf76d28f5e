/*  common/model.c - a deployment as data: the spec's facts (flot_spec_t,
    flotilla/spec.h) and its plan (flot_plan_t, flotilla/plan.h), and what
    is read from them without any actor's logic: a target by name, the
    concurrency, a target's CONTEXT, whether a target may start, progress,
    step type names.

    Shared code (common/): the strategy actor fills these from a spec it
    parses; the coordinator and the rollback actor fill them from a RESOLVED
    deployment (common/resolved.c) and read them here, so that no actor
    calls another's code.
*/
#include "flotilla/plan.h"
#include "flotilla/spec.h"
#include "flotilla/contract_health.h"

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  The spec's facts

static void
s_labels_free (flot_label_t *labels, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free (labels [i].key);
        free (labels [i].value);
    }
    free (labels);
}

int
flot_context_fill (flot_health_context_t *context, const flot_spec_t *spec,
                   const flot_target_t *target, const char *version, msgpack_zone *zone)
{
    assert (context && spec && target && version && zone);
    const char *previous = spec->workload.rollback_version;
    *context = (flot_health_context_t) {
        .target = target->name,
        .address = target->address && *target->address ? target->address : NULL,
        .version = *version ? version : NULL,
        .previous_version = previous && *previous ? previous : NULL,
        .deployment = spec->name
    };
    if (target->label_count) {
        flot_strpair_t *labels = msgpack_zone_malloc (zone,
                                                      target->label_count * sizeof *labels);
        if (!labels)
            return -1;
        for (size_t l = 0; l < target->label_count; l++)
            labels [l] = (flot_strpair_t) { target->labels [l].key, target->labels [l].value };
        context->labels = (flot_strmap_t) { target->label_count, labels };
    }
    return 0;
}

int
flot_spec_target_index (const flot_spec_t *self, const char *name)
{
    if (self->index) {
        size_t found = (size_t) zhashx_lookup (self->index, name);
        return (int) found - 1;
    }
    for (size_t i = 0; i < self->target_count; i++)
        if (self->targets [i].name && strcmp (self->targets [i].name, name) == 0)
            return (int) i;
    return -1;
}

size_t
flot_spec_concurrency (const flot_spec_t *self)
{
    size_t n = (size_t) self->policy.max_concurrency;
    if (self->policy.percent)
        n = (self->target_count * (size_t) self->policy.max_concurrency) / 100;
    return n < 1 ? 1 : n;
}

void
flot_spec_destroy (flot_spec_t **self_p)
{
    flot_spec_t *self = *self_p;
    if (!self)
        return;
    free (self->name);
    free (self->workload.name);
    free (self->workload.version);
    free (self->workload.artifact);
    free (self->workload.rollback_version);
    for (size_t i = 0; i < self->target_count; i++) {
        flot_target_t *t = &self->targets [i];
        free (t->name);
        free (t->address);
        s_labels_free (t->labels, t->label_count);
        for (size_t d = 0; d < t->depends_count; d++)
            free (t->depends_on [d]);
        free (t->depends_on);
    }
    free (self->targets);
    for (size_t w = 0; w < self->wave_count; w++)
        s_labels_free (self->waves [w].labels, self->waves [w].label_count);
    free (self->waves);
    zhashx_destroy ((zhashx_t **) &self->index);
    for (size_t s = 0; s < self->strategy.step_count; s++)
        free (self->strategy.steps [s].gate);
    free (self->strategy.steps);
    free (self->strategy.params);
    free (self->strategy_name);
    free (self->hook.command);
    for (size_t a = 0; a < self->hook.arg_count; a++)
        free (self->hook.args [a]);
    free (self->hook.args);
    s_labels_free (self->hook.env, self->hook.env_count);
    free (self->checks.health);
    free (self->checks.analysis);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Plans

static const char *s_type_names [FLOT_STEP_TYPE_COUNT] = {
    "setWeight", "pause", "gate", "preview", "switch", "cleanup", "apply",
    "soak", "rollback", "switchBack"
};

const char *
flot_step_type_name (flot_step_type_t type)
{
    return (unsigned) type < FLOT_STEP_TYPE_COUNT ? s_type_names [type] : "unknown";
}


void
flot_plan_destroy (flot_plan_t **self_p)
{
    flot_plan_t *self = *self_p;
    if (self) {
        free (self->steps);
        free (self->first);
        free (self->order);
        free (self);
        *self_p = NULL;
    }
}

bool
flot_plan_ready (const flot_spec_t *spec, int t, const bool *done, bool reverse)
{
    const flot_target_t *target = &spec->targets [t];
    if (!reverse) {
        for (size_t d = 0; d < target->depends_count; d++) {
            int dep = flot_spec_target_index (spec, target->depends_on [d]);
            if (dep >= 0 && !done [dep])
                return false;
        }
        for (size_t u = 0; u < spec->target_count; u++)
            if (spec->targets [u].wave < target->wave && !done [u])
                return false;
        return true;
    }
    //  Reverse: wait for every target that depends on t, or is in a later wave.
    for (size_t u = 0; u < spec->target_count; u++) {
        if (done [u] || (int) u == t)
            continue;
        const flot_target_t *other = &spec->targets [u];
        if (other->wave > target->wave)
            return false;
        for (size_t d = 0; d < other->depends_count; d++)
            if (strcmp (other->depends_on [d], target->name) == 0)
                return false;
    }
    return true;
}

int
flot_plan_progress (const flot_plan_t *self, size_t steps_done)
{
    if (self->step_count == 0)
        return 100;
    if (steps_done >= self->step_count)
        return 100;
    return (int) (steps_done * 100 / self->step_count);
}
