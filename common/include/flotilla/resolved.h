/*  flotilla/resolved.h - a RESOLVED deployment (the strategy contract's
    strategy.RESOLVED, protocol/SPEC.md section 16) as the model a deployment
    runs on: its spec's facts (flot_spec_t) and its plan (flot_plan_t).

    The strategy service reads a spec once and answers Resolve with it; the
    coordinator stores those bytes, resumes from them after a restart, and
    sends them to the rollback service in InitiateRollback. Neither of them
    reads a spec: they turn the message into the model here. The module is
    shared code (common/), not an actor's.
*/

#ifndef FLOTILLA_RESOLVED_H_INCLUDED
#define FLOTILLA_RESOLVED_H_INCLUDED

#include "flotilla/contract_strategy.h"
#include "flotilla/plan.h"
#include "flotilla/spec.h"

#ifdef __cplusplus
extern "C" {
#endif

//  The most steps a deployment may have, its targets' together: a spec's
//  10,000 targets of a canary's 100 steps and the last two.
#define FLOT_RESOLVED_MAX_STEPS 1020000

//  The spec's facts of a decoded RESOLVED deployment: name, workload,
//  targets (their index by name, dependencies checked to name targets),
//  hook, policy, rollback mode, the health and analysis sections as msgpack
//  bytes, and the gate names of its steps. Everything is copied: the
//  message may go. Returns NULL with INVALID in err for a message whose
//  parts do not fit together (a dependency naming no target, a wave past
//  `waves`, an `order` that is not every target once, a step whose `hook`
//  is not its type's, two rollback steps that apply to one target, more
//  than FLOT_RESOLVED_MAX_STEPS steps), or INTERNAL when out of memory.
flot_spec_t *
    flot_resolved_spec (const flot_strategy_resolved_t *resolved, flot_err_t *err);

//  The deployment's plan: every target's steps from the message's
//  `steps` (ids `<target>/<n>`), `order` and `concurrency`. spec is the
//  one flot_resolved_spec made of the same message (gate names point into
//  it). Returns NULL only when out of memory.
flot_plan_t *
    flot_resolved_plan (const flot_strategy_resolved_t *resolved, const flot_spec_t *spec);

//  The rollback plan: for each target flagged in touched, the message's
//  `rollback` steps that apply to it (a step with `switched` set applies
//  only when the target's flag in switched says the same; switched may be
//  NULL: none moved), ids `<target>/rollback`; targets in reverse `order`.
//  Returns NULL only when out of memory.
flot_plan_t *
    flot_resolved_rollback (const flot_strategy_resolved_t *resolved, const flot_spec_t *spec,
                            const bool *touched, const bool *switched);

//  The spec's facts and the plan of RESOLVED bytes, as stored or received
//  (checked as a hostile body first). Returns 0 with *spec_p and *plan_p,
//  or -1 with err.
int
    flot_resolved_load (const void *bytes, size_t size, flot_spec_t **spec_p,
                        flot_plan_t **plan_p, flot_err_t *err);

//  The same from a RESOLVED map already decoded and checked as a body (an
//  answer the actor host has decoded), without decoding it again.
int
    flot_resolved_load_map (const msgpack_object *map, flot_spec_t **spec_p,
                            flot_plan_t **plan_p, flot_err_t *err);

//  The rollback plan (as flot_resolved_rollback) of RESOLVED bytes. Returns
//  NULL with err.
flot_plan_t *
    flot_resolved_load_rollback (const void *bytes, size_t size, const flot_spec_t *spec,
                                 const bool *touched, const bool *switched, flot_err_t *err);

#ifdef __cplusplus
}
#endif

#endif
