/*  threshold.c - Argo Rollouts' threshold semantics for the analyzer.

    A measurement is judged by the metric's success and failure conditions
    (Argo's evaluateResult), counted in a tally, and the tally against the
    metric's limits gives the metric's phase (Argo's assessMetricStatus and
    assessMetricFailureInconclusiveOrError): more failures than failureLimit
    fail the metric, more inconclusive measurements than inconclusiveLimit
    make it inconclusive, more consecutive errors than consecutiveErrorLimit
    make it an error (that order, the last that holds winning), and once
    `count` measurements were counted (errors are not) it is successful.
*/
#include "analysis.h"

#include <math.h>

//  Argo's order of completed phases, best first.
static int
s_rank (flot_analyzer_phase_t phase)
{
    switch (phase) {
        case FLOT_ANALYZER_PHASE_PENDING:      return 0;
        case FLOT_ANALYZER_PHASE_RUNNING:      return 1;
        case FLOT_ANALYZER_PHASE_SUCCESSFUL:   return 2;
        case FLOT_ANALYZER_PHASE_INCONCLUSIVE: return 3;
        case FLOT_ANALYZER_PHASE_ERROR:        return 4;
        case FLOT_ANALYZER_PHASE_FAILED:       return 5;
    }
    return 0;
}

bool
flot_phase_worse (flot_analyzer_phase_t phase, flot_analyzer_phase_t other)
{
    return s_rank (phase) > s_rank (other);
}

//  The values as a short list for messages: "0.31" or "0.31, 0.2, ... (12 values)".
static void
s_values_text (const double *values, size_t count, char *text, size_t cap)
{
    size_t used = 0;
    text [0] = 0;
    if (count == 0) {
        snprintf (text, cap, "no values");
        return;
    }
    for (size_t i = 0; i < count && i < 3 && used < cap; i++)
        used += (size_t) snprintf (text + used, cap - used, "%s%g", i ? ", " : "", values [i]);
    if (count > 3 && used < cap)
        snprintf (text + used, cap - used, ", ... (%zu values)", count);
}

flot_analyzer_phase_t
flot_measurement_assess (const flot_condition_t *success, const flot_condition_t *failure,
                         const double *values, size_t count, char *message, size_t message_cap)
{
    bool succeeded = false, failed = false;
    char err [256], shown [96];
    s_values_text (values, count, shown, sizeof shown);
    if (success && flot_condition_eval (success, values, count, &succeeded, err, sizeof err)) {
        snprintf (message, message_cap, "%s: %s", flot_condition_text (success), err);
        return FLOT_ANALYZER_PHASE_ERROR;
    }
    if (failure && flot_condition_eval (failure, values, count, &failed, err, sizeof err)) {
        snprintf (message, message_cap, "%s: %s", flot_condition_text (failure), err);
        return FLOT_ANALYZER_PHASE_ERROR;
    }
    if (!success && !failure) {
        snprintf (message, message_cap, "no condition: %s", shown);
        return FLOT_ANALYZER_PHASE_SUCCESSFUL;
    }
    bool failure_true = failed;
    if (success && !failure)
        failed = !succeeded;
    else
    if (failure && !success)
        succeeded = !failed;
    if (failed) {
        if (failure_true)
            snprintf (message, message_cap, "%s: %s", flot_condition_text (failure), shown);
        else
            snprintf (message, message_cap, "not %s: %s", flot_condition_text (success), shown);
        return FLOT_ANALYZER_PHASE_FAILED;
    }
    if (!succeeded) {
        snprintf (message, message_cap, "neither %s nor %s: %s",
                  flot_condition_text (success), flot_condition_text (failure), shown);
        return FLOT_ANALYZER_PHASE_INCONCLUSIVE;
    }
    snprintf (message, message_cap, "%s: %s",
              success ? flot_condition_text (success) : "not failed", shown);
    return FLOT_ANALYZER_PHASE_SUCCESSFUL;
}

void
flot_tally_add (flot_tally_t *tally, flot_analyzer_phase_t outcome)
{
    assert (tally);
    tally->measurements++;
    switch (outcome) {
        case FLOT_ANALYZER_PHASE_SUCCESSFUL:
            tally->successful++;
            break;
        case FLOT_ANALYZER_PHASE_FAILED:
            tally->failed++;
            break;
        case FLOT_ANALYZER_PHASE_INCONCLUSIVE:
            tally->inconclusive++;
            break;
        case FLOT_ANALYZER_PHASE_ERROR:
            tally->errors++;
            tally->consecutive_errors++;
            return;
        default:
            assert (false);
    }
    tally->counted++;
    tally->consecutive_errors = 0;
}

flot_analyzer_phase_t
flot_threshold_assess (const flot_threshold_limits_t *limits, const flot_tally_t *tally,
                       char *message, size_t message_cap)
{
    assert (limits);
    assert (tally);
    flot_analyzer_phase_t phase = FLOT_ANALYZER_PHASE_RUNNING;
    message [0] = 0;
    if (tally->failed > limits->failure_limit) {
        phase = FLOT_ANALYZER_PHASE_FAILED;
        snprintf (message, message_cap, "%u of %u measurements failed, failureLimit %u",
                  tally->failed, tally->counted, limits->failure_limit);
    }
    if (tally->inconclusive > limits->inconclusive_limit) {
        phase = FLOT_ANALYZER_PHASE_INCONCLUSIVE;
        snprintf (message, message_cap, "%u of %u measurements inconclusive, inconclusiveLimit %u",
                  tally->inconclusive, tally->counted, limits->inconclusive_limit);
    }
    if (tally->consecutive_errors > limits->consecutive_error_limit) {
        phase = FLOT_ANALYZER_PHASE_ERROR;
        snprintf (message, message_cap, "%u consecutive errors, consecutiveErrorLimit %u",
                  tally->consecutive_errors, limits->consecutive_error_limit);
    }
    if (phase != FLOT_ANALYZER_PHASE_RUNNING)
        return phase;
    if (tally->counted >= limits->count) {
        snprintf (message, message_cap, "%u of %u measurements successful",
                  tally->successful, tally->counted);
        return FLOT_ANALYZER_PHASE_SUCCESSFUL;
    }
    if (tally->measurements == 0)
        return FLOT_ANALYZER_PHASE_PENDING;
    snprintf (message, message_cap, "%u of %u measurements taken", tally->counted, limits->count);
    return FLOT_ANALYZER_PHASE_RUNNING;
}
