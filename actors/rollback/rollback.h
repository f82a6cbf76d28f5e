/*  flotilla/rollback.h - the rollback actor (service "rollback") and its
    decision rule.

    Commands: ShouldRollback, InitiateRollback, GetRollbackStatus,
    CompleteRollback; protocol/contracts/rollback.json defines their bodies
    (protocol/SPEC.md section 21). The
    actor owns rollback plans and their progress: it makes a rollback plan
    of the RESOLVED deployment InitiateRollback carries, runs its steps
    through the executor service, and asks the strategy service what a
    failed step leads to. Option: keep (finished rollbacks kept for
    GetRollbackStatus, default 1000).

    flot_rollback_decide is ShouldRollback's rule as a pure function, so the
    coordinator and the tests can call it directly.
*/
#ifndef FLOTILLA_ROLLBACK_H_INCLUDED
#define FLOTILLA_ROLLBACK_H_INCLUDED

#include "flotilla/actor.h"
#include "flotilla/contract_analyzer.h"
#include "flotilla/spec.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const flot_actor_def_t flot_rollback_actor;

//  What a deployment should do next.
typedef enum {
    FLOT_DECISION_CONTINUE,         //  nothing decided yet: go on as it is
    FLOT_DECISION_PROMOTE,          //  the checks passed: go on to the next step
    FLOT_DECISION_PAUSE,            //  wait for a person
    FLOT_DECISION_ROLLBACK,         //  roll the deployment back
    FLOT_DECISION_FAIL_TARGET,      //  fail this target only (the policy decides the rest)
    FLOT_DECISION_COUNT
} flot_rollback_decision_t;

//  The decision's name on the wire: "continue", "promote", "pause",
//  "rollback", "fail_target".
const char *
    flot_rollback_decision_name (flot_rollback_decision_t decision);

//  One metric of an analysis result. Strings are not owned.
typedef struct {
    const char *name;
    const char *phase;              //  the metric's own phase, as the analyzer names it
    bool has_value;
    double value;
    const char *message;            //  the analyzer's sentence: the value and the limit
} flot_rollback_metric_t;

//  What ShouldRollback decides from. Strings are not owned; NULL reads "".
typedef struct {
    flot_on_failure_t on_failure;
    bool has_health;
    struct {
        bool healthy;
        const char *target;
        const char *check;
        const char *message;
    } health;
    bool has_analysis;
    struct {
        flot_analyzer_phase_t phase;         //  the analyzer's (flotilla/analysis.h)
        bool final;
        bool passed;
        double score;
        //  The analyzer's own advice; only ROLLBACK is acted on (its early
        //  stop), the phase decides the rest.
        flot_rollback_decision_t recommendation;
        const char *reason;
        const flot_rollback_metric_t *metrics;
        size_t metric_count;
    } analysis;
    bool deadline_passed;
} flot_rollback_facts_t;

//  The rule, first match wins: an analysis that failed or erred, or that
//  recommends a rollback (the analyzer's early stop), rolls back; a broken health check under failAll rolls back; a passed progress
//  deadline rolls back; a broken health check under holdDependents or
//  continue fails the target; an inconclusive analysis pauses for a
//  person; a final analysis that passed, with the target healthy or no
//  health given, promotes (a final "successful" one that did not pass rolls
//  back); anything else (still running, nothing final) continues. reason (cap bytes) gets a sentence naming what decided: the
//  metric, its value and the analyzer's message, or the health check and
//  its message.
flot_rollback_decision_t
    flot_rollback_decide (const flot_rollback_facts_t *facts, char *reason, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
