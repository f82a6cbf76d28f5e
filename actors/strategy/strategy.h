/*  strategy.h - the strategy actor (service "strategy"), private to it:
    the spec parser (spec.c), plan generation (plan.c) and the decisions it
    answers (strategy.c). Other actors reach it only by message.

    Commands: Validate, GenerateSteps, Resolve, PlanSteps, CalculateProgress,
    ShouldPromote, HandleFailure, ListStrategies. protocol/SPEC.md gives
    their bodies (section 16).
*/
#ifndef FLOTILLA_STRATEGY_H_INCLUDED
#define FLOTILLA_STRATEGY_H_INCLUDED

#include "flotilla/actor.h"
#include "flotilla/contract_strategy.h"
#include "flotilla/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const flot_actor_def_t flot_strategy_actor;

//  The errors found: each "file:line: path: message".
typedef struct {
    char *lines [FLOT_SPEC_MAX_ERRORS];
    size_t count;
    bool truncated;                     //  more errors than were kept
} flot_spec_errors_t;

//  Parse and check YAML text. file names the source in messages. Returns a
//  new spec, or NULL with every error found in errors (to be freed with
//  flot_spec_errors_clear).
flot_spec_t *
    flot_spec_parse (const char *text, size_t size, const char *file,
                     flot_spec_errors_t *errors);

void
    flot_spec_errors_clear (flot_spec_errors_t *errors);

//  Generate the deployment plan of a checked spec: for a built-in strategy
//  every target's steps, for a registered one (whose actor plans its steps)
//  only the order and the concurrency. Returns NULL only when out of memory.
flot_plan_t *
    flot_plan_generate (const flot_spec_t *spec);

//  Progress 0..100 from steps done out of steps in all.
int
    flot_strategy_progress (uint64_t total, uint64_t done);

typedef enum {
    FLOT_PROMOTE_NOW,               //  go on to the next step
    FLOT_PROMOTE_WAIT,              //  a timed pause: wait_ms more
    FLOT_PROMOTE_WAIT_FOR_PERSON    //  a pause without a duration: a promote
} flot_promote_t;

//  Whether a pause step is over: its duration (-1: until promoted), the
//  time spent in it, and whether an operator promoted.
flot_promote_t
    flot_strategy_should_promote (int64_t duration_ms, int64_t elapsed_ms,
                                  bool promoted, int64_t *wait_ms);

typedef struct {
    int attempt;                    //  the attempt that failed, from 1
    int retries;                    //  the hook's retries
    int64_t backoff_ms;             //  the first retry's delay; doubles
    flot_on_failure_t on_failure;
    int failed_targets;             //  targets failed so far, this one included
    int max_failures;               //  targets that may fail before the deployment does
} flot_failure_t;

typedef enum {
    FLOT_FAILURE_RETRY,             //  run the step again after delay_ms
    FLOT_FAILURE_HOLD_DEPENDENTS,   //  the target failed; its dependents wait
    FLOT_FAILURE_CONTINUE,          //  the target failed; the rest go on
    FLOT_FAILURE_FAIL_DEPLOYMENT    //  stop and roll back
} flot_failure_action_t;

//  What to do when a step fails: retries with backoff first, then the
//  failure policy, then maxFailures.
flot_failure_action_t
    flot_strategy_handle_failure (const flot_failure_t *failure, int64_t *delay_ms);

//  Sets *out, the contract's strategy.PLAN, to plan (a plan of spec): its
//  arrays are allocated in zone, its strings point into spec and plan.
//  Returns 0, or -1 when out of memory.
int
    flot_strategy_plan_fill (flot_strategy_plan_t *out, const flot_spec_t *spec,
                             const flot_plan_t *plan, msgpack_zone *zone);

//  Sets *out, the contract's strategy.DEPLOYMENT_PLAN (the GenerateSteps
//  reply, and the coordinator's Plan reply), to spec's plan and rollback,
//  as flot_strategy_plan_fill does. Returns 0, or -1 when out of memory.
int
    flot_strategy_deployment_plan_fill (flot_strategy_deployment_plan_t *out,
                                        const flot_spec_t *spec, const flot_plan_t *plan,
                                        const flot_plan_t *rollback, msgpack_zone *zone);

//  Cuts a filled DEPLOYMENT_PLAN (out) down to a page of its targets: from
//  offset (its total at most), count of them, in the plan's and the
//  rollback's `targets` and `order` alike (section 16.4); sets page
//  (offset, total, more, next_offset) and out->page to it. cut says the
//  page holds fewer than were asked for because the rest would not fit.
void
    flot_strategy_plan_cut (flot_strategy_deployment_plan_t *out, flot_strategy_page_t *page,
                             size_t offset, size_t count, bool cut);

//  Encodes a GenerateSteps reply (out, filled) into sbuf: the whole plan,
//  or, with paged, the page of at most limit targets from offset that fits
//  in one body (FLOT_MAX_BODY). Returns 0, or -1 (sbuf empty) if it does
//  not fit: the whole plan when not paged, else not even one target.
int
    flot_strategy_plan_answer (flot_strategy_deployment_plan_t *out, bool paged,
                               size_t offset, size_t limit, msgpack_sbuffer *sbuf);

#ifdef __cplusplus
}
#endif

#endif
