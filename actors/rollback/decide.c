/*  decide.c - ShouldRollback's rule: from a health result, an analysis
    result, the failure policy and the progress deadline, whether the
    deployment continues, promotes, pauses, rolls back or fails one target,
    and a sentence saying what decided. A pure function (no I/O, no clock):
    the rollback actor's ShouldRollback wraps it, the tests call it through
    a table.
*/
#include "rollback.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const char *s_decision_names [FLOT_DECISION_COUNT] = {
    "continue", "promote", "pause", "rollback", "fail_target"
};

static const char *s_policy_names [] = { "failAll", "holdDependents", "continue" };

const char *
flot_rollback_decision_name (flot_rollback_decision_t decision)
{
    return (unsigned) decision < FLOT_DECISION_COUNT ? s_decision_names [decision] : "unknown";
}

static const char *
s_str (const char *s)
{
    return s ? s : "";
}

//  The metric that made the analysis end in phase: the first whose own
//  phase has that name; NULL if none did.
static const flot_rollback_metric_t *
s_culprit (const flot_rollback_facts_t *facts, flot_analyzer_phase_t phase)
{
    for (size_t i = 0; i < facts->analysis.metric_count; i++)
        if (strcmp (s_str (facts->analysis.metrics [i].phase), flot_analyzer_phase_name (phase)) == 0)
            return &facts->analysis.metrics [i];
    return NULL;
}

//  "analysis PHASE: metric 'NAME' (value V): MESSAGE", or with the
//  analysis' own reason when no metric is to blame, then the tail.
static void
s_analysis_reason (const flot_rollback_facts_t *facts, flot_analyzer_phase_t phase,
                   const char *tail, char *reason, size_t cap)
{
    const flot_rollback_metric_t *metric = s_culprit (facts, phase);
    const char *verdict = flot_analyzer_phase_name (phase);
    if (metric && metric->has_value)
        snprintf (reason, cap, "analysis %s: metric '%s' (value %g): %s%s", verdict,
                  s_str (metric->name), metric->value, s_str (metric->message), tail);
    else
    if (metric)
        snprintf (reason, cap, "analysis %s: metric '%s': %s%s", verdict,
                  s_str (metric->name), s_str (metric->message), tail);
    else
    if (*s_str (facts->analysis.reason))
        snprintf (reason, cap, "analysis %s: %s%s", verdict, facts->analysis.reason, tail);
    else
        snprintf (reason, cap, "analysis %s (score %g)%s", verdict,
                  facts->analysis.score, tail);
}

static void
s_health_reason (const flot_rollback_facts_t *facts, const char *tail, char *reason, size_t cap)
{
    const char *check = s_str (facts->health.check), *target = s_str (facts->health.target);
    snprintf (reason, cap, "health check '%s'%s%s failed: %s; onFailure %s %s",
              check, *target ? " on " : "", target, s_str (facts->health.message),
              (unsigned) facts->on_failure < 3 ? s_policy_names [facts->on_failure] : "?",
              tail);
}

flot_rollback_decision_t
flot_rollback_decide (const flot_rollback_facts_t *facts, char *reason, size_t cap)
{
    assert (facts && reason && cap > 0);
    const bool analysed = facts->has_analysis;
    const flot_analyzer_phase_t phase = facts->analysis.phase;
    const bool broken = facts->has_health && !facts->health.healthy;
    if (analysed && (phase == FLOT_ANALYZER_PHASE_FAILED || phase == FLOT_ANALYZER_PHASE_ERROR)) {
        s_analysis_reason (facts, phase, "", reason, cap);
        return FLOT_DECISION_ROLLBACK;
    }
    if (analysed && facts->analysis.recommendation == FLOT_DECISION_ROLLBACK) {
        snprintf (reason, cap, "analysis recommends a rollback (score %g)%s%s",
                  facts->analysis.score, *s_str (facts->analysis.reason) ? ": " : "",
                  s_str (facts->analysis.reason));
        return FLOT_DECISION_ROLLBACK;
    }
    if (broken && facts->on_failure == FLOT_ON_FAILURE_FAIL_ALL) {
        s_health_reason (facts, "rolls back", reason, cap);
        return FLOT_DECISION_ROLLBACK;
    }
    if (facts->deadline_passed) {
        snprintf (reason, cap, "the progress deadline passed");
        return FLOT_DECISION_ROLLBACK;
    }
    if (broken) {
        s_health_reason (facts, "fails the target", reason, cap);
        return FLOT_DECISION_FAIL_TARGET;
    }
    if (analysed && phase == FLOT_ANALYZER_PHASE_INCONCLUSIVE) {
        s_analysis_reason (facts, phase, "; waiting for a person", reason, cap);
        return FLOT_DECISION_PAUSE;
    }
    if (analysed && phase == FLOT_ANALYZER_PHASE_SUCCESSFUL && facts->analysis.final) {
        if (!facts->analysis.passed) {
            snprintf (reason, cap, "analysis ended without passing (score %g)%s%s",
                      facts->analysis.score, *s_str (facts->analysis.reason) ? ": " : "",
                      s_str (facts->analysis.reason));
            return FLOT_DECISION_ROLLBACK;
        }
        if (facts->has_health)
            snprintf (reason, cap, "analysis passed (score %g) and health check '%s'%s%s is healthy",
                      facts->analysis.score, s_str (facts->health.check),
                      *s_str (facts->health.target) ? " on " : "", s_str (facts->health.target));
        else
            snprintf (reason, cap, "analysis passed (score %g)", facts->analysis.score);
        return FLOT_DECISION_PROMOTE;
    }
    if (analysed)
        snprintf (reason, cap, "analysis is %s, not final yet (score %g)",
                  flot_analyzer_phase_name (phase), facts->analysis.score);
    else
        snprintf (reason, cap, "no failure reported and no final analysis yet");
    return FLOT_DECISION_CONTINUE;
}
