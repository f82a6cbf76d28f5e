/*  test_condition.c - the analysis section's condition expressions
    (common/condition.c): every operator, precedence, errors with
    their column, and hostile input.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla/condition.h"

//  Evaluates text against values; fails the test if it does not parse or
//  does not evaluate.
static bool
s_eval (const char *text, const double *values, size_t count)
{
    char err [256] = "";
    flot_condition_t *cond = flot_condition_parse (text, err, sizeof err);
    if (!cond)
        fail_msg ("'%s' did not parse: %s", text, err);
    bool out = false;
    if (flot_condition_eval (cond, values, count, &out, err, sizeof err))
        fail_msg ("'%s' did not evaluate: %s", text, err);
    flot_condition_destroy (&cond);
    assert_null (cond);
    return out;
}

//  The parse error of text (which must not parse).
static void
s_parse_error (const char *text, char *err, size_t cap)
{
    flot_condition_t *cond = flot_condition_parse (text, err, cap);
    if (cond)
        fail_msg ("'%s' parsed, but should not", text);
}

//  The evaluation error of text (which must parse, and fail to evaluate).
static void
s_eval_error (const char *text, const double *values, size_t count, char *err, size_t cap)
{
    flot_condition_t *cond = flot_condition_parse (text, err, cap);
    if (!cond)
        fail_msg ("'%s' did not parse: %s", text, err);
    bool out;
    int rc = flot_condition_eval (cond, values, count, &out, err, cap);
    flot_condition_destroy (&cond);
    if (rc == 0)
        fail_msg ("'%s' evaluated to %d, but should fail", text, out);
}

static void
test_condition_compares_the_first_value (void **state)
{
    (void) state;
    double v [] = { 0.31, 0.02 };
    assert_true (s_eval ("result >= 0.10", v, 2));
    assert_false (s_eval ("result < 0.05", v, 2));
    assert_true (s_eval ("result > 0.3", v, 2));
    assert_true (s_eval ("result <= 0.31", v, 2));
    assert_false (s_eval ("result <= 0.30", v, 2));
    assert_true (s_eval ("result == 0.31", v, 2));
    assert_true (s_eval ("result != 0.30", v, 2));
    assert_false (s_eval ("result != 0.31", v, 2));
}

static void
test_condition_indexes_and_counts_values (void **state)
{
    (void) state;
    double v [] = { 5, 7, 9 };
    assert_true (s_eval ("result[0] == 5 && result[2] == 9", v, 3));
    assert_true (s_eval ("len(result) == 3", v, 3));
    assert_true (s_eval ("len(result) == 0", NULL, 0));
    assert_true (s_eval ("result [ 1 ] == 7", v, 3));
}

static void
test_condition_arithmetic_and_precedence (void **state)
{
    (void) state;
    double v [] = { 4, 2 };
    //  * binds tighter than +, so 2 + 3 * 4 is 14, not 20
    assert_true (s_eval ("2 + 3 * 4 == 14", NULL, 0));
    assert_true (s_eval ("(2 + 3) * 4 == 20", NULL, 0));
    assert_true (s_eval ("10 - 4 - 3 == 3", NULL, 0));      //  left to right
    assert_true (s_eval ("12 / 3 / 2 == 2", NULL, 0));
    assert_true (s_eval ("result[0] / result[1] == 2", v, 2));
    assert_true (s_eval ("-result == -4", v, 2));
    assert_true (s_eval ("- -3 == 3", NULL, 0));
    assert_true (s_eval ("1.5e2 == 150 && .5 == 0.5", NULL, 0));
    //  && binds tighter than ||: true || (false && false)
    assert_true (s_eval ("1 < 2 || 1 > 2 && 2 > 3", NULL, 0));
    assert_false (s_eval ("(1 < 2 || 1 > 2) && 2 > 3", NULL, 0));
    //  comparisons bind tighter than ! (so ! applies to the comparison)
    assert_true (s_eval ("!result > 5", v, 2));
    assert_true (s_eval ("not result > 5 and result > 3 or false", v, 2));
    assert_false (s_eval ("not (result > 3)", v, 2));
    assert_true (s_eval ("true", NULL, 0));
    assert_true (s_eval ("!false", NULL, 0));
    assert_true (s_eval ("true == true && false != true", NULL, 0));
}

static void
test_condition_nan_and_inf (void **state)
{
    (void) state;
    double v [] = { NAN, INFINITY, 1 };
    assert_true (s_eval ("isNaN(result)", v, 3));
    assert_false (s_eval ("isNaN(result[2])", v, 3));
    assert_true (s_eval ("isInf(result[1])", v, 3));
    assert_true (s_eval ("isInf(1 / 0)", NULL, 0));
    assert_false (s_eval ("isInf(result[2] * 2)", v, 3));
    //  NaN compares false both ways
    assert_false (s_eval ("result < 1", v, 3));
    assert_false (s_eval ("result >= 1", v, 3));
}

static void
test_condition_parse_errors_name_the_column (void **state)
{
    (void) state;
    char err [256];
    s_parse_error ("result >", err, sizeof err);
    assert_string_equal (err, "column 9: the expression ends where a value was expected");
    s_parse_error ("result < 5 )", err, sizeof err);
    assert_non_null (strstr (err, "column 12:"));
    s_parse_error ("(result < 5", err, sizeof err);
    assert_non_null (strstr (err, "column 12: expected ')' to close the '(' of column 1"));
    s_parse_error ("resutl < 5", err, sizeof err);
    assert_non_null (strstr (err, "column 1: unknown name 'resutl'"));
    s_parse_error ("result = 5", err, sizeof err);
    assert_non_null (strstr (err, "column 8: '=' is not an operator"));
    s_parse_error ("1 < result < 3", err, sizeof err);
    assert_non_null (strstr (err, "column 12: comparisons do not chain"));
    s_parse_error ("result[x] > 1", err, sizeof err);
    assert_non_null (strstr (err, "column 8:"));
    s_parse_error ("len(5) > 1", err, sizeof err);
    assert_non_null (strstr (err, "column 5: len() takes `result`"));
    s_parse_error ("isNaN result", err, sizeof err);
    assert_non_null (strstr (err, "column 7: expected '(' after 'isNaN'"));
    s_parse_error ("1.2.3 > 0", err, sizeof err);
    assert_non_null (strstr (err, "column 1: '1.2.3' is not a number"));
    s_parse_error ("result @ 3", err, sizeof err);
    assert_non_null (strstr (err, "column 8: unexpected '@'"));
    s_parse_error ("", err, sizeof err);
    assert_non_null (strstr (err, "column 1:"));
    s_parse_error ("result && && 1", err, sizeof err);
    assert_non_null (strstr (err, "column 11:"));
}

static void
test_condition_evaluation_errors (void **state)
{
    (void) state;
    char err [256];
    double v [] = { 1, 2 };
    s_eval_error ("result[2] > 0", v, 2, err, sizeof err);
    assert_string_equal (err, "column 1: result[2]: the measurement has 2 values");
    s_eval_error ("result > 0", NULL, 0, err, sizeof err);
    assert_string_equal (err, "column 1: result: the measurement has no values");
    s_eval_error ("result + 1", v, 2, err, sizeof err);
    assert_non_null (strstr (err, "gives the number 2, not true or false"));
    s_eval_error ("result && true", v, 2, err, sizeof err);
    assert_non_null (strstr (err, "'&&' takes true or false, not a number"));
    s_eval_error ("(1 < 2) + 1 > 0", v, 2, err, sizeof err);
    assert_non_null (strstr (err, "'+' takes a number"));
    s_eval_error ("true == 1", v, 2, err, sizeof err);
    assert_non_null (strstr (err, "cannot compare a number with true or false"));
    //  short-circuit: the right side is not evaluated
    assert_true (s_eval ("len(result) == 0 || result > 1", NULL, 0));
}

static void
test_condition_refuses_hostile_input (void **state)
{
    (void) state;
    char err [256];
    //  Deep nesting of parentheses, of !, of unary minus: refused, not a
    //  stack overflow.
    size_t n = 2000;
    char *text = malloc (2 * n + 16);
    memset (text, '(', n);
    strcpy (text + n, "1");
    memset (text + n + 1, ')', n);
    text [2 * n + 1] = 0;
    s_parse_error (text, err, sizeof err);
    assert_non_null (strstr (err, "nests deeper than 64 levels"));
    memset (text, '!', n);
    strcpy (text + n, "true");
    s_parse_error (text, err, sizeof err);
    assert_non_null (strstr (err, "nests deeper"));
    memset (text, '-', n);
    strcpy (text + n, "1 > 0");
    s_parse_error (text, err, sizeof err);
    assert_non_null (strstr (err, "nests deeper"));
    free (text);
    //  Within the limit it works.
    assert_true (s_eval ("((((((((((1)))))))))) == 1", NULL, 0));
    //  Huge numbers: out of the range of a double, or too long.
    s_parse_error ("result > 1e999", err, sizeof err);
    assert_non_null (strstr (err, "column 10: 1e999 is out of the range of a double"));
    char big [200];
    memset (big, '9', 100);
    strcpy (big + 100, " > 1");
    s_parse_error (big, err, sizeof err);
    assert_non_null (strstr (err, "more than 64 characters"));
    //  An index too large to be an index.
    s_parse_error ("result[99999999999] > 0", err, sizeof err);
    assert_non_null (strstr (err, "column 8:"));
    //  Too long a condition.
    char *longer = malloc (FLOT_CONDITION_MAX + 10);
    memset (longer, ' ', FLOT_CONDITION_MAX + 5);
    longer [FLOT_CONDITION_MAX + 5] = 0;
    s_parse_error (longer, err, sizeof err);
    assert_non_null (strstr (err, "longer than"));
    free (longer);
    //  A long flat chain is fine (no recursion per operand).
    char *chain = malloc (FLOT_CONDITION_MAX);
    size_t used = 0;
    while (used + 8 < FLOT_CONDITION_MAX - 16)
        used += (size_t) sprintf (chain + used, "1 + ");
    strcpy (chain + used, "1 > 0");
    assert_true (s_eval (chain, NULL, 0));
    free (chain);
    //  Bytes that are not ASCII, and a NUL-free binary mess.
    s_parse_error ("result \xff\xfe > 1", err, sizeof err);
    assert_non_null (strstr (err, "column 8:"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_condition_compares_the_first_value),
        cmocka_unit_test (test_condition_indexes_and_counts_values),
        cmocka_unit_test (test_condition_arithmetic_and_precedence),
        cmocka_unit_test (test_condition_nan_and_inf),
        cmocka_unit_test (test_condition_parse_errors_name_the_column),
        cmocka_unit_test (test_condition_evaluation_errors),
        cmocka_unit_test (test_condition_refuses_hostile_input),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
