/*  test_threshold.c - Argo Rollouts' threshold semantics
    (actors/analyzer/threshold.c): measurement outcomes by the conditions,
    and the metric's phase by failureLimit, inconclusiveLimit,
    consecutiveErrorLimit and count.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "analysis.h"

static flot_condition_t *
s_cond (const char *text)
{
    char err [256];
    flot_condition_t *cond = flot_condition_parse (text, err, sizeof err);
    if (!cond)
        fail_msg ("%s: %s", text, err);
    return cond;
}

static flot_analyzer_phase_t
s_measure (const char *success, const char *failure, double value)
{
    flot_condition_t *s = success ? s_cond (success) : NULL;
    flot_condition_t *f = failure ? s_cond (failure) : NULL;
    char message [256];
    flot_analyzer_phase_t phase = flot_measurement_assess (s, f, &value, 1, message, sizeof message);
    assert_true (strlen (message) > 0);
    flot_condition_destroy (&s);
    flot_condition_destroy (&f);
    return phase;
}

static void
test_threshold_measurement_by_conditions (void **state)
{
    (void) state;
    //  Both given: success true -> successful; failure true -> failed
    //  (failure wins when both hold); neither -> inconclusive.
    assert_int_equal (s_measure ("result < 0.05", "result >= 0.10", 0.01), FLOT_ANALYZER_PHASE_SUCCESSFUL);
    assert_int_equal (s_measure ("result < 0.05", "result >= 0.10", 0.31), FLOT_ANALYZER_PHASE_FAILED);
    assert_int_equal (s_measure ("result < 0.05", "result >= 0.10", 0.07), FLOT_ANALYZER_PHASE_INCONCLUSIVE);
    assert_int_equal (s_measure ("result > 0", "result > 0", 1), FLOT_ANALYZER_PHASE_FAILED);
    //  Only success: false is a failure.
    assert_int_equal (s_measure ("result < 0.05", NULL, 0.07), FLOT_ANALYZER_PHASE_FAILED);
    assert_int_equal (s_measure ("result < 0.05", NULL, 0.01), FLOT_ANALYZER_PHASE_SUCCESSFUL);
    //  Only failure: false is a success.
    assert_int_equal (s_measure (NULL, "result >= 0.10", 0.07), FLOT_ANALYZER_PHASE_SUCCESSFUL);
    assert_int_equal (s_measure (NULL, "result >= 0.10", 0.10), FLOT_ANALYZER_PHASE_FAILED);
    //  Neither: successful.
    assert_int_equal (s_measure (NULL, NULL, 0.5), FLOT_ANALYZER_PHASE_SUCCESSFUL);
}

static void
test_threshold_measurement_error_when_not_evaluable (void **state)
{
    (void) state;
    flot_condition_t *s = s_cond ("result < 1");
    char message [256];
    //  No values: `result` cannot be read -> an error, not a failure.
    assert_int_equal (flot_measurement_assess (s, NULL, NULL, 0, message, sizeof message),
                      FLOT_ANALYZER_PHASE_ERROR);
    assert_non_null (strstr (message, "no values"));
    flot_condition_destroy (&s);
    s = s_cond ("result + 1");
    double v = 1;
    assert_int_equal (flot_measurement_assess (s, NULL, &v, 1, message, sizeof message),
                      FLOT_ANALYZER_PHASE_ERROR);
    flot_condition_destroy (&s);
    //  Failed message names the condition and the value.
    s = s_cond ("result >= 0.10");
    v = 0.31;
    assert_int_equal (flot_measurement_assess (NULL, s, &v, 1, message, sizeof message),
                      FLOT_ANALYZER_PHASE_FAILED);
    assert_string_equal (message, "result >= 0.10: 0.31");
    flot_condition_destroy (&s);
}

//  Feeds outcomes (S, F, I, E) into a tally and returns the phase.
static flot_analyzer_phase_t
s_run (const flot_threshold_limits_t *limits, const char *outcomes, flot_tally_t *tally)
{
    memset (tally, 0, sizeof *tally);
    for (const char *o = outcomes; *o; o++)
        flot_tally_add (tally, *o == 'S' ? FLOT_ANALYZER_PHASE_SUCCESSFUL
                             : *o == 'F' ? FLOT_ANALYZER_PHASE_FAILED
                             : *o == 'I' ? FLOT_ANALYZER_PHASE_INCONCLUSIVE : FLOT_ANALYZER_PHASE_ERROR);
    char message [256];
    return flot_threshold_assess (limits, tally, message, sizeof message);
}

static void
test_threshold_defaults_fail_on_the_first_failure (void **state)
{
    (void) state;
    //  The defaults: failureLimit 0, inconclusiveLimit 0, errors 4, count 1.
    flot_threshold_limits_t limits = { .count = 3, .consecutive_error_limit = 4 };
    flot_tally_t tally;
    assert_int_equal (s_run (&limits, "", &tally), FLOT_ANALYZER_PHASE_PENDING);
    assert_int_equal (s_run (&limits, "S", &tally), FLOT_ANALYZER_PHASE_RUNNING);
    assert_int_equal (s_run (&limits, "SS", &tally), FLOT_ANALYZER_PHASE_RUNNING);
    assert_int_equal (s_run (&limits, "SSS", &tally), FLOT_ANALYZER_PHASE_SUCCESSFUL);
    assert_int_equal (s_run (&limits, "F", &tally), FLOT_ANALYZER_PHASE_FAILED);
    assert_int_equal (s_run (&limits, "SSF", &tally), FLOT_ANALYZER_PHASE_FAILED);
    assert_int_equal (s_run (&limits, "I", &tally), FLOT_ANALYZER_PHASE_INCONCLUSIVE);
}

static void
test_threshold_failure_limit (void **state)
{
    (void) state;
    flot_threshold_limits_t limits = { .count = 5, .failure_limit = 2, .consecutive_error_limit = 4 };
    flot_tally_t tally;
    assert_int_equal (s_run (&limits, "FF", &tally), FLOT_ANALYZER_PHASE_RUNNING);
    assert_int_equal (s_run (&limits, "FFSSS", &tally), FLOT_ANALYZER_PHASE_SUCCESSFUL);
    assert_int_equal (s_run (&limits, "FSFF", &tally), FLOT_ANALYZER_PHASE_FAILED);
    char message [256];
    flot_threshold_assess (&limits, &tally, message, sizeof message);
    assert_string_equal (message, "3 of 4 measurements failed, failureLimit 2");
}

static void
test_threshold_inconclusive_limit (void **state)
{
    (void) state;
    flot_threshold_limits_t limits = { .count = 4, .inconclusive_limit = 1, .consecutive_error_limit = 4 };
    flot_tally_t tally;
    assert_int_equal (s_run (&limits, "ISSS", &tally), FLOT_ANALYZER_PHASE_SUCCESSFUL);
    assert_int_equal (s_run (&limits, "ISI", &tally), FLOT_ANALYZER_PHASE_INCONCLUSIVE);
    //  Inconclusive beyond its limit wins over failed beyond its limit.
    assert_int_equal (s_run (&limits, "FII", &tally), FLOT_ANALYZER_PHASE_INCONCLUSIVE);
}

static void
test_threshold_consecutive_errors (void **state)
{
    (void) state;
    flot_threshold_limits_t limits = { .count = 2, .consecutive_error_limit = 4 };
    flot_tally_t tally;
    //  Four in a row is within the default limit; the fifth is an error.
    assert_int_equal (s_run (&limits, "EEEE", &tally), FLOT_ANALYZER_PHASE_RUNNING);
    assert_int_equal (s_run (&limits, "EEEEE", &tally), FLOT_ANALYZER_PHASE_ERROR);
    //  A counted measurement resets the run of errors.
    assert_int_equal (s_run (&limits, "EEEESEEEE", &tally), FLOT_ANALYZER_PHASE_RUNNING);
    assert_int_equal (tally.errors, 8u);
    assert_int_equal (tally.consecutive_errors, 4u);
    //  Errors do not count towards count: S E S is two counted measurements.
    assert_int_equal (s_run (&limits, "SE", &tally), FLOT_ANALYZER_PHASE_RUNNING);
    assert_int_equal (s_run (&limits, "SES", &tally), FLOT_ANALYZER_PHASE_SUCCESSFUL);
    assert_int_equal (tally.measurements, 3u);
    assert_int_equal (tally.counted, 2u);
    //  consecutiveErrorLimit 0: the first error ends it; error wins over failed.
    limits.consecutive_error_limit = 0;
    assert_int_equal (s_run (&limits, "E", &tally), FLOT_ANALYZER_PHASE_ERROR);
    assert_int_equal (s_run (&limits, "FE", &tally), FLOT_ANALYZER_PHASE_ERROR);
}

static void
test_threshold_phase_order (void **state)
{
    (void) state;
    assert_true (flot_phase_worse (FLOT_ANALYZER_PHASE_FAILED, FLOT_ANALYZER_PHASE_ERROR));
    assert_true (flot_phase_worse (FLOT_ANALYZER_PHASE_ERROR, FLOT_ANALYZER_PHASE_INCONCLUSIVE));
    assert_true (flot_phase_worse (FLOT_ANALYZER_PHASE_INCONCLUSIVE, FLOT_ANALYZER_PHASE_SUCCESSFUL));
    assert_false (flot_phase_worse (FLOT_ANALYZER_PHASE_SUCCESSFUL, FLOT_ANALYZER_PHASE_FAILED));
    assert_string_equal (flot_analyzer_phase_name (FLOT_ANALYZER_PHASE_INCONCLUSIVE), "inconclusive");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_threshold_measurement_by_conditions),
        cmocka_unit_test (test_threshold_measurement_error_when_not_evaluable),
        cmocka_unit_test (test_threshold_defaults_fail_on_the_first_failure),
        cmocka_unit_test (test_threshold_failure_limit),
        cmocka_unit_test (test_threshold_inconclusive_limit),
        cmocka_unit_test (test_threshold_consecutive_errors),
        cmocka_unit_test (test_threshold_phase_order),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
