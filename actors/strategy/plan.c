/*  plan.c - generates the steps of a deployment, for the strategy actor.

    A pure function of a checked spec (no I/O, no clock): the same spec
    gives the same plan. Every target of a built-in strategy runs the same
    steps; the strategy actor sends them once, in its RESOLVED answer
    (strategy.c), with the order computed here. Step ids are "<target>/<n>":
    stable across restarts, and unique in a deployment because target
    names are.
*/
#include "strategy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A growing list of steps.
typedef struct {
    flot_step_t *steps;
    size_t count, capacity;
} builder_t;

static flot_step_t *
s_add (builder_t *b, const flot_spec_t *spec, int target, flot_step_type_t type)
{
    if (b->count == b->capacity) {
        size_t capacity = b->capacity ? b->capacity * 2 : 64;
        flot_step_t *steps = realloc (b->steps, capacity * sizeof (flot_step_t));
        if (!steps)
            return NULL;
        b->steps = steps;
        b->capacity = capacity;
    }
    flot_step_t *step = &b->steps [b->count++];
    memset (step, 0, sizeof *step);
    step->target = target;
    step->type = type;
    step->duration_ms = 0;
    step->runs_hook = type == FLOT_STEP_SET_WEIGHT || type == FLOT_STEP_PREVIEW
                   || type == FLOT_STEP_SWITCH || type == FLOT_STEP_CLEANUP
                   || type == FLOT_STEP_APPLY || type == FLOT_STEP_ROLLBACK
                   || type == FLOT_STEP_SWITCH_BACK;
    (void) spec;
    return step;
}

//  The steps of one target under the spec's strategy.
static int
s_target_steps (builder_t *b, const flot_spec_t *spec, int t)
{
    flot_step_t *step = NULL;
    int weight = 0;
    switch (spec->strategy.kind) {
        case FLOT_STRATEGY_CANARY:
            for (size_t i = 0; i < spec->strategy.step_count; i++) {
                const flot_cstep_t *c = &spec->strategy.steps [i];
                if (c->kind == FLOT_CSTEP_SET_WEIGHT) {
                    if (!(step = s_add (b, spec, t, FLOT_STEP_SET_WEIGHT)))
                        return -1;
                    weight = c->weight;
                }
                else
                if (c->kind == FLOT_CSTEP_PAUSE) {
                    if (!(step = s_add (b, spec, t, FLOT_STEP_PAUSE)))
                        return -1;
                    step->duration_ms = c->duration_ms;
                }
                else {
                    if (!(step = s_add (b, spec, t, FLOT_STEP_GATE)))
                        return -1;
                    step->gate = c->gate;
                }
                step->weight = weight;
            }
            //  A canary ends with the whole of the traffic on the new version.
            if (weight != 100) {
                if (!(step = s_add (b, spec, t, FLOT_STEP_SET_WEIGHT)))
                    return -1;
                step->weight = 100;
            }
            break;
        case FLOT_STRATEGY_BLUEGREEN:
            if (!(step = s_add (b, spec, t, FLOT_STEP_PREVIEW)))
                return -1;
            if (!(step = s_add (b, spec, t, FLOT_STEP_GATE)))
                return -1;
            step->gate = "preSwitch";
            if (!spec->strategy.auto_promote) {
                if (!(step = s_add (b, spec, t, FLOT_STEP_PAUSE)))
                    return -1;
                step->duration_ms = -1;
            }
            if (!(step = s_add (b, spec, t, FLOT_STEP_SWITCH)))
                return -1;
            step->weight = 100;
            if (!(step = s_add (b, spec, t, FLOT_STEP_GATE)))
                return -1;
            step->gate = "postSwitch";
            step->weight = 100;
            if (!(step = s_add (b, spec, t, FLOT_STEP_CLEANUP)))
                return -1;
            step->duration_ms = spec->strategy.keep_old_ms;
            step->weight = 100;
            break;
        case FLOT_STRATEGY_ROLLING:
            if (!(step = s_add (b, spec, t, FLOT_STEP_APPLY)))
                return -1;
            step->weight = 100;
            break;
        case FLOT_STRATEGY_REGISTERED:
            break;              //  its actor plans the steps (PlanSteps)
    }
    //  Each target ends healthy (with health checks) and soaked (with a
    //  soak time): the coordinator waits for its health, then soaks it.
    if (spec->policy.soak_ms > 0 || spec->checks.health) {
        if (!(step = s_add (b, spec, t, FLOT_STEP_SOAK)))
            return -1;
        step->duration_ms = spec->policy.soak_ms;
        step->weight = 100;
    }
    return 0;
}

//  Kahn's algorithm over targets, wave by wave (a wave starts when every
//  earlier one is done), a FIFO in spec order within a wave: deterministic,
//  and linear in targets plus dependencies.
static int *
s_topological (const flot_spec_t *spec)
{
    size_t n = spec->target_count;
    int *order = calloc (n ? n : 1, sizeof (int));
    int *indegree = calloc (n ? n : 1, sizeof (int));
    size_t *first = calloc (n + 1, sizeof (size_t));
    int *dependents = NULL;
    int *queue = calloc (n ? n : 1, sizeof (int));
    size_t edges = 0, placed = 0;
    if (!order || !indegree || !first || !queue)
        goto done;
    //  Reverse edges (dependency -> dependent) in compressed rows.
    for (size_t t = 0; t < n; t++)
        for (size_t d = 0; d < spec->targets [t].depends_count; d++) {
            int dep = flot_spec_target_index (spec, spec->targets [t].depends_on [d]);
            if (dep >= 0) {
                first [dep + 1]++;
                indegree [t]++;
                edges++;
            }
        }
    for (size_t t = 0; t < n; t++)
        first [t + 1] += first [t];
    dependents = calloc (edges ? edges : 1, sizeof (int));
    size_t *fill = calloc (n ? n : 1, sizeof (size_t));
    if (!dependents || !fill) {
        free (fill);
        goto done;
    }
    for (size_t t = 0; t < n; t++)
        for (size_t d = 0; d < spec->targets [t].depends_count; d++) {
            int dep = flot_spec_target_index (spec, spec->targets [t].depends_on [d]);
            if (dep >= 0)
                dependents [first [dep] + fill [dep]++] = (int) t;
        }
    free (fill);
    int waves = spec->wave_count ? (int) spec->wave_count : 1;
    for (int w = 0; w < waves; w++) {
        size_t head = 0, tail = 0;
        for (size_t t = 0; t < n; t++)
            if (spec->targets [t].wave == w && indegree [t] == 0)
                queue [tail++] = (int) t;
        while (head < tail) {
            int t = queue [head++];
            order [placed++] = t;
            for (size_t e = first [t]; e < first [t + 1]; e++) {
                int u = dependents [e];
                if (--indegree [u] == 0 && spec->targets [u].wave == w)
                    queue [tail++] = u;
            }
        }
    }
done:
    free (indegree);
    free (first);
    free (dependents);
    free (queue);
    if (order && placed != n) {
        free (order);           //  a cycle: the spec checker refuses those
        order = NULL;
    }
    return order;
}

static flot_plan_t *
s_plan_new (const flot_spec_t *spec, builder_t *b, size_t *first, int *order)
{
    flot_plan_t *plan = calloc (1, sizeof *plan);
    if (!plan)
        return NULL;
    plan->steps = b->steps;
    plan->step_count = b->count;
    plan->first = first;
    plan->target_count = spec->target_count;
    plan->order = order;
    plan->concurrency = flot_spec_concurrency (spec);
    for (size_t i = 0; i < b->count; i++) {
        flot_step_t *step = &plan->steps [i];
        step->index = (int) (i - first [step->target]) + 1;
        snprintf (step->id, sizeof step->id, "%s/%d",
                  spec->targets [step->target].name, step->index);
    }
    return plan;
}

flot_plan_t *
flot_plan_generate (const flot_spec_t *spec)
{
    size_t n = spec->target_count;
    builder_t b = { NULL, 0, 0 };
    size_t *first = calloc (n + 1, sizeof (size_t));
    int *order = s_topological (spec);
    if (!first || !order)
        goto fail;
    //  Steps are stored target by target, in spec order.
    for (size_t t = 0; t < n; t++) {
        first [t] = b.count;
        if (s_target_steps (&b, spec, (int) t))
            goto fail;
    }
    first [n] = b.count;
    flot_plan_t *plan = s_plan_new (spec, &b, first, order);
    if (plan)
        return plan;
fail:
    free (b.steps);
    free (first);
    free (order);
    return NULL;
}

