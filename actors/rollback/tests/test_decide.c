/*  test_decide.c - ShouldRollback's rule (actors/rollback/decide.c), as a
    table: every branch, which rule wins when several apply, and that the
    reason names what decided (the metric, its value and the analyzer's
    message, or the health check and its message).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "rollback.h"

//  Analysis states of the table.
enum { NONE, RUNNING, PASSED, PASSED_NOT_FINAL, ENDED_NOT_PASSED, FAILED, ERRED,
       INCONCLUSIVE, FAILED_NO_METRIC, EARLY_STOP, RUNNING_ADVISES_PAUSE };
//  Health states.
enum { H_NONE, H_HEALTHY, H_BROKEN };

typedef struct {
    const char *name;
    flot_on_failure_t policy;
    int health;
    int analysis;
    bool deadline;
    flot_rollback_decision_t expect;
    const char *reason [3];     //  substrings the reason must hold
} row_t;

static const flot_rollback_metric_t s_metrics [] = {
    { "latency", "successful", true, 0.21, "p99 0.21 is below the limit 0.5" },
    { "error-rate", "failed", true, 0.12, "result 0.12 >= 0.10 (failureCondition)" },
    { "saturation", "inconclusive", false, 0, "no condition matched 0.7" },
    { "throughput", "error", false, 0, "prometheus: connection refused" },
};

static const row_t s_table [] = {
    { "failed analysis rolls back, naming the metric, value and limit",
      FLOT_ON_FAILURE_CONTINUE, H_NONE, FAILED, false, FLOT_DECISION_ROLLBACK,
      { "analysis failed", "'error-rate' (value 0.12)", "0.12 >= 0.10 (failureCondition)" } },
    { "failed analysis rolls back even when healthy and policy continue",
      FLOT_ON_FAILURE_CONTINUE, H_HEALTHY, FAILED, false, FLOT_DECISION_ROLLBACK,
      { "error-rate", NULL } },
    { "failed analysis wins over a broken health check",
      FLOT_ON_FAILURE_HOLD_DEPENDENTS, H_BROKEN, FAILED, false, FLOT_DECISION_ROLLBACK,
      { "analysis failed", "error-rate", NULL } },
    { "a failed analysis with no failed metric gives its own reason",
      FLOT_ON_FAILURE_FAIL_ALL, H_NONE, FAILED_NO_METRIC, false, FLOT_DECISION_ROLLBACK,
      { "analysis failed: score 40 is below marginal 75", NULL } },
    { "analysis error rolls back, naming the metric and its message",
      FLOT_ON_FAILURE_CONTINUE, H_NONE, ERRED, false, FLOT_DECISION_ROLLBACK,
      { "analysis error", "'throughput'", "connection refused" } },
    { "a running analysis that recommends a rollback (early stop) rolls back",
      FLOT_ON_FAILURE_CONTINUE, H_HEALTHY, EARLY_STOP, false, FLOT_DECISION_ROLLBACK,
      { "analysis recommends a rollback (score 60)", "latency: score 60 <= marginalScore 75" } },
    { "an early stop wins over a broken health check that fails one target",
      FLOT_ON_FAILURE_HOLD_DEPENDENTS, H_BROKEN, EARLY_STOP, false, FLOT_DECISION_ROLLBACK,
      { "recommends a rollback", NULL } },
    { "other advice does not decide: the phase does",
      FLOT_ON_FAILURE_FAIL_ALL, H_HEALTHY, RUNNING_ADVISES_PAUSE, false, FLOT_DECISION_CONTINUE,
      { "analysis is running", NULL } },
    { "broken health under failAll rolls back, naming the check",
      FLOT_ON_FAILURE_FAIL_ALL, H_BROKEN, RUNNING, false, FLOT_DECISION_ROLLBACK,
      { "health check 'web' on eu-1 failed", "HTTP 503 from /healthz", "failAll rolls back" } },
    { "broken health under holdDependents fails the target",
      FLOT_ON_FAILURE_HOLD_DEPENDENTS, H_BROKEN, NONE, false, FLOT_DECISION_FAIL_TARGET,
      { "health check 'web' on eu-1 failed", "HTTP 503", "holdDependents fails the target" } },
    { "broken health under continue fails the target",
      FLOT_ON_FAILURE_CONTINUE, H_BROKEN, RUNNING, false, FLOT_DECISION_FAIL_TARGET,
      { "'web'", "continue fails the target", NULL } },
    { "broken health under continue fails the target even if analysis passed",
      FLOT_ON_FAILURE_CONTINUE, H_BROKEN, PASSED, false, FLOT_DECISION_FAIL_TARGET,
      { "'web'", NULL } },
    { "broken health under holdDependents wins over an inconclusive analysis",
      FLOT_ON_FAILURE_HOLD_DEPENDENTS, H_BROKEN, INCONCLUSIVE, false, FLOT_DECISION_FAIL_TARGET,
      { "'web'", NULL } },
    { "a passed deadline rolls back",
      FLOT_ON_FAILURE_CONTINUE, H_NONE, NONE, true, FLOT_DECISION_ROLLBACK,
      { "progress deadline passed", NULL } },
    { "a passed deadline rolls back a running analysis",
      FLOT_ON_FAILURE_FAIL_ALL, H_HEALTHY, RUNNING, true, FLOT_DECISION_ROLLBACK,
      { "progress deadline", NULL } },
    { "a passed deadline wins over a broken health check that fails one target",
      FLOT_ON_FAILURE_HOLD_DEPENDENTS, H_BROKEN, NONE, true, FLOT_DECISION_ROLLBACK,
      { "progress deadline", NULL } },
    { "a passed deadline wins over an inconclusive pause",
      FLOT_ON_FAILURE_FAIL_ALL, H_NONE, INCONCLUSIVE, true, FLOT_DECISION_ROLLBACK,
      { "progress deadline", NULL } },
    { "a failed analysis names itself, not the deadline",
      FLOT_ON_FAILURE_FAIL_ALL, H_NONE, FAILED, true, FLOT_DECISION_ROLLBACK,
      { "error-rate", NULL } },
    { "inconclusive analysis pauses for a person, naming the metric",
      FLOT_ON_FAILURE_FAIL_ALL, H_HEALTHY, INCONCLUSIVE, false, FLOT_DECISION_PAUSE,
      { "analysis inconclusive", "'saturation'", "waiting for a person" } },
    { "a passed final analysis with a healthy target promotes",
      FLOT_ON_FAILURE_FAIL_ALL, H_HEALTHY, PASSED, false, FLOT_DECISION_PROMOTE,
      { "analysis passed (score 97.5)", "'web' on eu-1 is healthy", NULL } },
    { "a passed final analysis without health promotes",
      FLOT_ON_FAILURE_HOLD_DEPENDENTS, H_NONE, PASSED, false, FLOT_DECISION_PROMOTE,
      { "analysis passed (score 97.5)", NULL } },
    { "a successful analysis that is not final continues",
      FLOT_ON_FAILURE_FAIL_ALL, H_HEALTHY, PASSED_NOT_FINAL, false, FLOT_DECISION_CONTINUE,
      { "not final", NULL } },
    { "a final analysis that did not pass rolls back",
      FLOT_ON_FAILURE_FAIL_ALL, H_HEALTHY, ENDED_NOT_PASSED, false, FLOT_DECISION_ROLLBACK,
      { "without passing", NULL } },
    { "a running analysis continues",
      FLOT_ON_FAILURE_FAIL_ALL, H_HEALTHY, RUNNING, false, FLOT_DECISION_CONTINUE,
      { "analysis is running", NULL } },
    { "healthy and no analysis continues: health alone does not promote",
      FLOT_ON_FAILURE_FAIL_ALL, H_HEALTHY, NONE, false, FLOT_DECISION_CONTINUE,
      { "no final analysis", NULL } },
    { "nothing at all continues",
      FLOT_ON_FAILURE_CONTINUE, H_NONE, NONE, false, FLOT_DECISION_CONTINUE,
      { NULL } },
};

//  Builds the facts of a row.
static void
s_facts (const row_t *row, flot_rollback_facts_t *facts)
{
    memset (facts, 0, sizeof *facts);
    facts->on_failure = row->policy;
    facts->deadline_passed = row->deadline;
    if (row->health != H_NONE) {
        facts->has_health = true;
        facts->health.healthy = row->health == H_HEALTHY;
        facts->health.target = "eu-1";
        facts->health.check = "web";
        facts->health.message = row->health == H_HEALTHY ? "HTTP 200" : "HTTP 503 from /healthz";
    }
    if (row->analysis == NONE)
        return;
    facts->has_analysis = true;
    facts->analysis.score = 97.5;
    facts->analysis.metrics = s_metrics;
    facts->analysis.metric_count = 1;       //  latency: successful
    switch (row->analysis) {
        case RUNNING:
            facts->analysis.phase = FLOT_ANALYZER_PHASE_RUNNING;
            break;
        case PASSED:
            facts->analysis.phase = FLOT_ANALYZER_PHASE_SUCCESSFUL;
            facts->analysis.final = facts->analysis.passed = true;
            break;
        case PASSED_NOT_FINAL:
            facts->analysis.phase = FLOT_ANALYZER_PHASE_SUCCESSFUL;
            facts->analysis.passed = true;
            break;
        case ENDED_NOT_PASSED:
            facts->analysis.phase = FLOT_ANALYZER_PHASE_SUCCESSFUL;
            facts->analysis.final = true;
            break;
        case FAILED:
            facts->analysis.phase = FLOT_ANALYZER_PHASE_FAILED;
            facts->analysis.final = true;
            facts->analysis.metric_count = 4;
            break;
        case FAILED_NO_METRIC:
            facts->analysis.phase = FLOT_ANALYZER_PHASE_FAILED;
            facts->analysis.final = true;
            facts->analysis.reason = "score 40 is below marginal 75";
            break;
        case ERRED:
            facts->analysis.phase = FLOT_ANALYZER_PHASE_ERROR;
            facts->analysis.metric_count = 4;
            break;
        case EARLY_STOP:
            facts->analysis.phase = FLOT_ANALYZER_PHASE_RUNNING;
            facts->analysis.score = 60;
            facts->analysis.recommendation = FLOT_DECISION_ROLLBACK;
            facts->analysis.reason = "latency: score 60 <= marginalScore 75";
            break;
        case RUNNING_ADVISES_PAUSE:
            facts->analysis.phase = FLOT_ANALYZER_PHASE_RUNNING;
            facts->analysis.recommendation = FLOT_DECISION_PAUSE;
            break;
        case INCONCLUSIVE:
            facts->analysis.phase = FLOT_ANALYZER_PHASE_INCONCLUSIVE;
            facts->analysis.final = true;
            facts->analysis.metric_count = 4;
            break;
    }
}

static void
test_decide_follows_the_table (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof s_table / sizeof s_table [0]; i++) {
        const row_t *row = &s_table [i];
        flot_rollback_facts_t facts;
        s_facts (row, &facts);
        char reason [1024] = "";
        flot_rollback_decision_t got = flot_rollback_decide (&facts, reason, sizeof reason);
        if (got != row->expect)
            fail_msg ("%s: got %s (%s), expected %s", row->name,
                      flot_rollback_decision_name (got), reason,
                      flot_rollback_decision_name (row->expect));
        assert_true (strlen (reason) > 0);
        for (size_t k = 0; k < 3 && row->reason [k]; k++)
            if (!strstr (reason, row->reason [k]))
                fail_msg ("%s: reason '%s' lacks '%s'", row->name, reason, row->reason [k]);
    }
}

static void
test_decide_truncates_a_long_reason_safely (void **state)
{
    (void) state;
    char message [2000];
    memset (message, 'x', sizeof message - 1);
    message [sizeof message - 1] = 0;
    flot_rollback_facts_t facts = { .on_failure = FLOT_ON_FAILURE_FAIL_ALL, .has_health = true };
    facts.health.check = "web";
    facts.health.message = message;
    char reason [64];
    assert_int_equal (flot_rollback_decide (&facts, reason, sizeof reason),
                      FLOT_DECISION_ROLLBACK);
    assert_int_equal (strlen (reason), sizeof reason - 1);
    //  NULL strings read as empty.
    facts.health.check = NULL;
    facts.health.message = NULL;
    facts.on_failure = FLOT_ON_FAILURE_CONTINUE;
    assert_int_equal (flot_rollback_decide (&facts, reason, sizeof reason),
                      FLOT_DECISION_FAIL_TARGET);
}

static void
test_decide_names_phases_and_decisions (void **state)
{
    (void) state;
    assert_int_equal (flot_analyzer_phase_parse ("pending"), FLOT_ANALYZER_PHASE_PENDING);
    assert_int_equal (flot_analyzer_phase_parse ("running"), FLOT_ANALYZER_PHASE_RUNNING);
    assert_int_equal (flot_analyzer_phase_parse ("successful"), FLOT_ANALYZER_PHASE_SUCCESSFUL);
    assert_int_equal (flot_analyzer_phase_parse ("failed"), FLOT_ANALYZER_PHASE_FAILED);
    assert_int_equal (flot_analyzer_phase_parse ("inconclusive"), FLOT_ANALYZER_PHASE_INCONCLUSIVE);
    assert_int_equal (flot_analyzer_phase_parse ("error"), FLOT_ANALYZER_PHASE_ERROR);
    assert_int_equal (flot_analyzer_phase_parse ("Failed"), -1);
    assert_int_equal (flot_analyzer_phase_parse (""), -1);
    assert_int_equal (flot_analyzer_phase_parse (NULL), -1);
    assert_string_equal (flot_rollback_decision_name (FLOT_DECISION_CONTINUE), "continue");
    assert_string_equal (flot_rollback_decision_name (FLOT_DECISION_PROMOTE), "promote");
    assert_string_equal (flot_rollback_decision_name (FLOT_DECISION_PAUSE), "pause");
    assert_string_equal (flot_rollback_decision_name (FLOT_DECISION_ROLLBACK), "rollback");
    assert_string_equal (flot_rollback_decision_name (FLOT_DECISION_FAIL_TARGET), "fail_target");
    assert_string_equal (flot_rollback_decision_name (FLOT_DECISION_COUNT), "unknown");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_decide_follows_the_table),
        cmocka_unit_test (test_decide_truncates_a_long_reason_safely),
        cmocka_unit_test (test_decide_names_phases_and_decisions),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
