/*  flotilla/plan.h - the steps of a deployment and of its rollback.

    The strategy actor generates a plan from a checked spec: for each target
    the ordered steps its strategy calls for, each with a stable id, and for
    the targets the order they may start in (dependsOn and waves, a DAG, with
    at most maxConcurrency targets in progress). Generation is deterministic:
    the same spec gives the same plan, byte for byte, so step ids survive a
    restart. The rollback plan reverts, in reverse dependency order, the
    targets a deployment touched.
*/
#ifndef FLOTILLA_PLAN_H_INCLUDED
#define FLOTILLA_PLAN_H_INCLUDED

#include "flotilla/spec.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOT_PLAN_ID_MAX 80      //  "<target>/<index>"

typedef enum {
    FLOT_STEP_SET_WEIGHT,       //  canary: hook, traffic weight to the new version
    FLOT_STEP_PAUSE,            //  wait duration_ms, or (< 0) for a promote
    FLOT_STEP_GATE,             //  checks that must pass (health, analysis)
    FLOT_STEP_PREVIEW,          //  blue-green: hook, new version beside the old
    FLOT_STEP_SWITCH,           //  blue-green: hook, traffic to the new version
    FLOT_STEP_CLEANUP,          //  blue-green: hook, remove the old, after keepOld
    FLOT_STEP_APPLY,            //  rolling: hook, the new version in place
    FLOT_STEP_SOAK,             //  wait soak time, the target must stay good
    FLOT_STEP_ROLLBACK,         //  hook, the rollback version back in place
    FLOT_STEP_SWITCH_BACK,      //  blue-green rollback: hook, traffic to the old
    FLOT_STEP_TYPE_COUNT
} flot_step_type_t;

typedef struct {
    char id [FLOT_PLAN_ID_MAX];
    int target;                 //  index in the spec's targets
    int index;                  //  1-based position among the target's steps
    flot_step_type_t type;
    int weight;                 //  traffic weight after the step (0..100)
    int64_t duration_ms;        //  PAUSE, SOAK, CLEANUP delay; -1: until promoted
    const char *gate;           //  GATE: its name (points into the spec)
    bool runs_hook;
} flot_step_t;

typedef struct {
    flot_step_t *steps;
    size_t step_count;
    size_t *first;              //  steps of target t: [first [t], first [t + 1])
    size_t target_count;
    int *order;                 //  targets in a topological order
    size_t concurrency;         //  targets in progress at once
} flot_plan_t;

void
    flot_plan_destroy (flot_plan_t **self_p);

//  The name of a step type ("setWeight"), as the hook and events see it.
const char *
    flot_step_type_name (flot_step_type_t type);

//  Whether target t may start: every target it depends on (directly, or by
//  an earlier wave) is done. done is a flag per target. For a rollback plan
//  with gradual mode, reverse is true: t waits for the targets that depend
//  on it instead.
bool
    flot_plan_ready (const flot_spec_t *spec, int t, const bool *done, bool reverse);

//  Progress 0..100 from steps done out of the plan's steps.
int
    flot_plan_progress (const flot_plan_t *self, size_t steps_done);

#ifdef __cplusplus
}
#endif

#endif
