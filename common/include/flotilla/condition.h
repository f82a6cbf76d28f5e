/*  flotilla/condition.h - the condition expressions of the `analysis`
    section (Argo Rollouts style): `result < 0.05 && len(result) > 0`.

    Pure code (common/condition.c, in the flot_common library): the
    analysis section parser (common/analysis_section.c) parses each metric's
    conditions with it, so the spec parser and the analyzer refuse the same
    ones, and the analyzer's threshold rules (actors/analyzer/threshold.c)
    evaluate them against each measurement.
*/
#ifndef FLOTILLA_CONDITION_H_INCLUDED
#define FLOTILLA_CONDITION_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  --------------------------------------------------------------------------
//  Conditions: `result < 0.05 && len(result) > 0`
//
//  The grammar, loosest first:
//    or      := and (("||" | "or") and)*
//    and     := not (("&&" | "and") not)*
//    not     := ("!" | "not") not | compare
//    compare := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
//    sum     := product (("+" | "-") product)*
//    product := unary (("*" | "/") unary)*
//    unary   := "-" unary | primary
//    primary := NUMBER | "true" | "false" | "result" | "result" "[" NUMBER "]"
//             | ("len" | "isNaN" | "isInf") "(" ARG ")" | "(" or ")"
//  `result` is the measurement's first value and `result[N]` its N-th (from
//  0); `len(result)` the number of values. Values are numbers or booleans;
//  arithmetic takes numbers, `&&` `||` `!` booleans, and the whole
//  condition must be a boolean. Nesting is limited to FLOT_CONDITION_DEPTH.

#define FLOT_CONDITION_DEPTH    64
#define FLOT_CONDITION_MAX      4096    //  characters in a condition

typedef struct _flot_condition_t flot_condition_t;

//  Parse a condition. Returns a new condition, or NULL with a sentence in
//  err naming the column (from 1): "column 9: expected a number or `result`".
flot_condition_t *
    flot_condition_parse (const char *text, char *err, size_t err_cap);

void
    flot_condition_destroy (flot_condition_t **self_p);

//  The text the condition was parsed from.
const char *
    flot_condition_text (const flot_condition_t *self);

//  Evaluate against a measurement's values. Returns 0 with *out, or -1 with
//  a sentence (`result[3]: the measurement has 2 values`; a number where a
//  boolean was expected).
int
    flot_condition_eval (const flot_condition_t *self, const double *values,
                         size_t count, bool *out, char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif
