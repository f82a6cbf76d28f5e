/*  judge.c - the canary judge: one metric's verdict (non-inferiority or
    Kayenta's classifier) and the score of a set of verdicts (Kayenta's
    weighted sum by group). include/flotilla/judge.h states the rules; the
    statistics are in mann_whitney.c.

    Pure computation, called by the analyzer actor. Nothing here trusts the
    samples: values that are not numbers are dropped, empty sides are
    NODATA, and parameters out of range are an error with a sentence. The
    parameters' defaults (flot_judge_metric_defaults and
    flot_judge_scoring_defaults) are in common/judge_defaults.c, since the
    analysis section parser starts every judge metric from them.
*/
#include "flotilla/judge.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODATA_SHARE    0.5     //  Kayenta: 50% or more NODATA fails

const char *
flot_judge_class_name (flot_class_t cls)
{
    switch (cls) {
        case FLOT_CLASS_PASS:         return "pass";
        case FLOT_CLASS_HIGH:         return "high";
        case FLOT_CLASS_LOW:          return "low";
        case FLOT_CLASS_NODATA:       return "nodata";
        case FLOT_CLASS_INCONCLUSIVE: return "inconclusive";
    }
    return "unknown";
}

const char *
flot_judge_mode_name (flot_judge_mode_t mode)
{
    switch (mode) {
        case FLOT_JUDGE_NONINFERIORITY: return "noninferiority";
        case FLOT_JUDGE_KAYENTA:        return "kayenta";
    }
    return "unknown";
}

const char *
flot_judge_direction_name (flot_direction_t direction)
{
    switch (direction) {
        case FLOT_DIRECTION_INCREASE: return "increase";
        case FLOT_DIRECTION_DECREASE: return "decrease";
        case FLOT_DIRECTION_EITHER:   return "either";
    }
    return "unknown";
}

const char *
flot_judge_outcome_name (flot_score_outcome_t outcome)
{
    switch (outcome) {
        case FLOT_SCORE_PASS:     return "pass";
        case FLOT_SCORE_MARGINAL: return "marginal";
        case FLOT_SCORE_FAIL:     return "fail";
    }
    return "unknown";
}

//  A sentence into a fixed buffer; a long one is cut, on purpose.
static void
s_say (char *buffer, size_t cap, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_say (char *buffer, size_t cap, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (buffer, cap, format, args);
    va_end (args);
}

static int
s_compare_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

//  The finite values, sorted, in a fresh array (at least one slot so that
//  an empty result is not NULL); *count_p is set to their number.
static double *
s_finite_sorted (const double *values, size_t count, size_t *count_p)
{
    double *copy = malloc ((count ? count : 1) * sizeof (double));
    size_t used = 0;
    if (copy) {
        for (size_t i = 0; i < count; i++)
            if (isfinite (values [i]))
                copy [used++] = values [i];
        qsort (copy, used, sizeof (double), s_compare_double);
    }
    *count_p = used;
    return copy;
}

static double
s_mean (const double *v, size_t n)
{
    //  Compensated (Kahan) summation.
    double sum = 0, carry = 0;
    for (size_t i = 0; i < n; i++) {
        double term = v [i] - carry;
        double next = sum + term;
        carry = (next - sum) - term;
        sum = next;
    }
    return n ? sum / (double) n : 0;
}

static double
s_median (const double *sorted, size_t n)
{
    if (n == 0)
        return 0;
    return n % 2 ? sorted [n / 2] : (sorted [n / 2 - 1] + sorted [n / 2]) / 2;
}

static const char *
s_name (const flot_judge_metric_t *metric)
{
    return metric->name && *metric->name ? metric->name : "metric";
}

//  Checks a metric's parameters; -1 with a sentence in reason.
static int
s_check_metric (const flot_judge_metric_t *metric, char *reason, size_t cap)
{
    const char *name = s_name (metric);
    if (metric->mode != FLOT_JUDGE_NONINFERIORITY && metric->mode != FLOT_JUDGE_KAYENTA) {
        s_say (reason, cap, "%s: mode %d is not noninferiority or kayenta", name, (int) metric->mode);
        return -1;
    }
    if (metric->direction != FLOT_DIRECTION_INCREASE && metric->direction != FLOT_DIRECTION_DECREASE
    &&  metric->direction != FLOT_DIRECTION_EITHER) {
        s_say (reason, cap, "%s: direction %d is not increase, decrease or either",
                  name, (int) metric->direction);
        return -1;
    }
    if (!(metric->confidence > 0 && metric->confidence < 1)) {
        s_say (reason, cap, "%s: confidence %g is not in (0, 1)", name, metric->confidence);
        return -1;
    }
    if (!(metric->tolerance >= 0) || !isfinite (metric->tolerance)) {
        s_say (reason, cap, "%s: tolerance %g is not a number >= 0", name, metric->tolerance);
        return -1;
    }
    if (!(metric->effect_size >= 1) || !isfinite (metric->effect_size)) {
        s_say (reason, cap, "%s: effect size %g is not a number >= 1", name, metric->effect_size);
        return -1;
    }
    if (!(metric->margin >= 0) || !isfinite (metric->margin)) {
        s_say (reason, cap, "%s: margin %g is not a number >= 0", name, metric->margin);
        return -1;
    }
    return 0;
}

//  The non-inferiority verdict from the interval and the margin.
static void
s_noninferiority (const flot_judge_metric_t *metric, flot_judge_verdict_t *out)
{
    const char *name = s_name (metric);
    const flot_mann_whitney_t *t = &out->test;
    double percent = metric->margin * 100;
    char basis [80];
    if (out->baseline_median != 0) {
        out->margin_abs = metric->margin * fabs (out->baseline_median);
        snprintf (basis, sizeof (basis), "%g%% of the baseline median %.3g",
                  percent, out->baseline_median);
    }
    else
    if (out->baseline_mean != 0) {
        out->margin_abs = metric->margin * fabs (out->baseline_mean);
        snprintf (basis, sizeof (basis), "%g%% of the baseline mean %.3g, the median being 0",
                  percent, out->baseline_mean);
    }
    else {
        out->margin_abs = 0;
        snprintf (basis, sizeof (basis), "the baseline median and mean are 0");
    }
    double m = out->margin_abs;
    bool check_high = metric->direction != FLOT_DIRECTION_DECREASE;
    bool check_low = metric->direction != FLOT_DIRECTION_INCREASE;
    double conf = metric->confidence * 100;

    if (!t->ci_reached) {
        out->cls = FLOT_CLASS_INCONCLUSIVE;
        s_say (out->reason, sizeof (out->reason),
                  "%s: inconclusive, %zu canary and %zu baseline samples are too few for a "
                  "%g%% interval (shift %.3g, margin %.3g)", name, out->canary_n,
                  out->baseline_n, conf, t->estimate, m);
    }
    else
    if (check_high && t->ci_low > m) {
        out->cls = FLOT_CLASS_HIGH;
        s_say (out->reason, sizeof (out->reason),
                  "%s: canary is higher by %.3g (%g%% CI %.3g..%.3g), beyond the margin %.3g (%s)",
                  name, t->estimate, conf, t->ci_low, t->ci_high, m, basis);
    }
    else
    if (check_low && t->ci_high < -m) {
        out->cls = FLOT_CLASS_LOW;
        s_say (out->reason, sizeof (out->reason),
                  "%s: canary is lower by %.3g (%g%% CI %.3g..%.3g), beyond the margin %.3g (%s)",
                  name, -t->estimate, conf, t->ci_low, t->ci_high, m, basis);
    }
    else
    if ((!check_high || t->ci_high <= m) && (!check_low || t->ci_low >= -m)) {
        out->cls = FLOT_CLASS_PASS;
        s_say (out->reason, sizeof (out->reason),
                  "%s: canary shift %.3g (%g%% CI %.3g..%.3g) is within the margin %.3g (%s)",
                  name, t->estimate, conf, t->ci_low, t->ci_high, m, basis);
    }
    else {
        out->cls = FLOT_CLASS_INCONCLUSIVE;
        s_say (out->reason, sizeof (out->reason),
                  "%s: inconclusive, canary shift %.3g (%g%% CI %.3g..%.3g) straddles the margin %.3g (%s)",
                  name, t->estimate, conf, t->ci_low, t->ci_high, m, basis);
    }
}

//  Kayenta's MannWhitneyClassifier on sorted finite samples.
static void
s_kayenta (const flot_judge_metric_t *metric,
           const double *canary, size_t nc, const double *baseline, size_t nb,
           flot_judge_verdict_t *out)
{
    const char *name = s_name (metric);
    const flot_mann_whitney_t *t = &out->test;
    double conf = metric->confidence * 100;
    double bound = metric->tolerance * fabs (t->estimate);
    out->margin_abs = bound;

    bool identical = nc == nb;
    for (size_t i = 0; identical && i < nc; i++)
        identical = canary [i] == baseline [i];
    if (identical) {
        out->cls = FLOT_CLASS_PASS;
        s_say (out->reason, sizeof (out->reason),
                  "%s: the canary and baseline data are identical", name);
        return;
    }
    if (canary [0] == canary [nc - 1] && baseline [0] == baseline [nb - 1]
    &&  canary [0] == baseline [0]) {
        out->cls = FLOT_CLASS_PASS;
        s_say (out->reason, sizeof (out->reason),
                  "%s: every canary and baseline value is %.3g", name, canary [0]);
        return;
    }
    bool may_high = metric->direction != FLOT_DIRECTION_DECREASE;
    bool may_low = metric->direction != FLOT_DIRECTION_INCREASE;
    double ratio = out->mean_ratio;
    if (may_high && t->ci_low > bound) {
        if (ratio >= metric->effect_size) {
            out->cls = FLOT_CLASS_HIGH;
            s_say (out->reason, sizeof (out->reason),
                      "%s: canary is higher, %g%% CI %.3g..%.3g is above the tolerance %.3g "
                      "(%g%% of the shift %.3g), mean ratio %.3g", name, conf, t->ci_low,
                      t->ci_high, bound, metric->tolerance * 100, t->estimate, ratio);
        }
        else {
            out->cls = FLOT_CLASS_PASS;
            s_say (out->reason, sizeof (out->reason),
                      "%s: canary is higher (%g%% CI %.3g..%.3g) but its mean ratio %.3g "
                      "is below the effect size %.3g", name, conf, t->ci_low, t->ci_high,
                      ratio, metric->effect_size);
        }
        return;
    }
    if (may_low && t->ci_high < -bound) {
        if (ratio <= 1 / metric->effect_size) {
            out->cls = FLOT_CLASS_LOW;
            s_say (out->reason, sizeof (out->reason),
                      "%s: canary is lower, %g%% CI %.3g..%.3g is below the tolerance -%.3g "
                      "(%g%% of the shift %.3g), mean ratio %.3g", name, conf, t->ci_low,
                      t->ci_high, bound, metric->tolerance * 100, t->estimate, ratio);
        }
        else {
            out->cls = FLOT_CLASS_PASS;
            s_say (out->reason, sizeof (out->reason),
                      "%s: canary is lower (%g%% CI %.3g..%.3g) but its mean ratio %.3g "
                      "is above 1/effect size %.3g", name, conf, t->ci_low, t->ci_high,
                      ratio, 1 / metric->effect_size);
        }
        return;
    }
    out->cls = FLOT_CLASS_PASS;
    s_say (out->reason, sizeof (out->reason),
              "%s: no shift beyond the tolerance %.3g (%g%% of the shift %.3g; %g%% CI %.3g..%.3g)",
              name, bound, metric->tolerance * 100, t->estimate, conf, t->ci_low, t->ci_high);
}

int
flot_judge_metric (const flot_judge_metric_t *metric,
                   const double *canary, size_t nc,
                   const double *baseline, size_t nb,
                   flot_judge_verdict_t *out)
{
    assert (metric);
    assert (out);
    assert (canary || nc == 0);
    assert (baseline || nb == 0);
    memset (out, 0, sizeof (*out));
    out->cls = FLOT_CLASS_NODATA;
    out->mean_ratio = 1;
    if (s_check_metric (metric, out->reason, sizeof (out->reason)))
        return -1;

    const char *name = s_name (metric);
    size_t c_n, b_n;
    double *c = s_finite_sorted (canary, nc, &c_n);
    double *b = s_finite_sorted (baseline, nb, &b_n);
    if (!c || !b) {
        free (c);
        free (b);
        s_say (out->reason, sizeof (out->reason), "%s: out of memory for %zu + %zu samples",
                  name, nc, nb);
        return -1;
    }
    out->canary_n = c_n;
    out->baseline_n = b_n;
    out->canary_mean = s_mean (c, c_n);
    out->baseline_mean = s_mean (b, b_n);
    out->baseline_median = s_median (b, b_n);
    out->mean_ratio = out->baseline_mean == 0 ? 1.0 : out->canary_mean / out->baseline_mean;
    size_t dropped = (nc - c_n) + (nb - b_n);

    int rc = 0;
    if (c_n == 0 || b_n == 0) {
        out->cls = FLOT_CLASS_NODATA;
        const char *side = c_n == 0 && b_n == 0 ? "canary or baseline"
                         : c_n == 0 ? "canary" : "baseline";
        if (dropped)
            s_say (out->reason, sizeof (out->reason),
                      "%s: no %s samples (%zu values were not numbers)", name, side, dropped);
        else
            s_say (out->reason, sizeof (out->reason), "%s: no %s samples", name, side);
    }
    else
    if (flot_mann_whitney_sorted (c, c_n, b, b_n, metric->confidence, &out->test)) {
        s_say (out->reason, sizeof (out->reason), "%s: out of memory for the test of %zu + %zu samples",
                  name, c_n, b_n);
        rc = -1;
    }
    else
    if (metric->mode == FLOT_JUDGE_KAYENTA)
        s_kayenta (metric, c, c_n, b, b_n, out);
    else
        s_noninferiority (metric, out);
    free (c);
    free (b);
    return rc;
}

//  ---------------------------------------------------------------------------
//  The score

static const char *
s_group_of (const flot_judge_metric_t *metric)
{
    if (metric->group && *metric->group)
        return metric->group;
    return metric->name ? metric->name : "";
}

typedef struct {
    const char *name;
    size_t passed, counted;     //  counted: what the share divides by
    double weight;
} group_tally_t;

int
flot_judge_score (const flot_judge_metric_t *metrics,
                  const flot_judge_verdict_t *verdicts, size_t count,
                  const flot_judge_scoring_t *scoring, flot_judge_score_t *out)
{
    assert (out);
    assert (count == 0 || (metrics && verdicts));
    memset (out, 0, sizeof (*out));
    out->outcome = FLOT_SCORE_FAIL;
    flot_judge_scoring_t defaults;
    if (!scoring) {
        flot_judge_scoring_defaults (&defaults);
        scoring = &defaults;
    }
    if (count == 0) {
        s_say (out->reason, sizeof (out->reason), "no metrics to score");
        return -1;
    }
    if (!(scoring->marginal_score >= 0 && scoring->marginal_score <= scoring->pass_score
    &&    scoring->pass_score <= 100)) {
        s_say (out->reason, sizeof (out->reason),
                  "scores must be 0 <= marginal <= pass <= 100, not marginal %g and pass %g",
                  scoring->marginal_score, scoring->pass_score);
        return -1;
    }
    for (size_t i = 0; i < scoring->group_count; i++) {
        double w = scoring->groups [i].weight;
        if (!(w >= 0) || !isfinite (w)) {
            s_say (out->reason, sizeof (out->reason), "group %s: weight %g is not a number >= 0",
                      scoring->groups [i].group ? scoring->groups [i].group : "?", w);
            return -1;
        }
    }
    group_tally_t *groups = calloc (count, sizeof (group_tally_t));
    if (!groups) {
        s_say (out->reason, sizeof (out->reason), "out of memory for %zu metrics", count);
        return -1;
    }
    size_t group_count = 0;
    size_t nodata_plain = 0;            //  NODATA without mustHaveData
    const flot_judge_verdict_t *critical = NULL;

    for (size_t i = 0; i < count; i++) {
        const flot_judge_metric_t *metric = &metrics [i];
        flot_class_t cls = verdicts [i].cls;
        const char *name = s_group_of (metric);
        size_t g = 0;
        while (g < group_count && strcmp (groups [g].name, name) != 0)
            g++;
        if (g == group_count) {
            groups [g].name = name;
            groups [g].weight = 1;
            for (size_t w = 0; w < scoring->group_count; w++)
                if (scoring->groups [w].group && strcmp (scoring->groups [w].group, name) == 0)
                    groups [g].weight = scoring->groups [w].weight;
            group_count++;
        }
        switch (cls) {
            case FLOT_CLASS_PASS:
                out->passed++;
                groups [g].passed++;
                groups [g].counted++;
                break;
            case FLOT_CLASS_HIGH:
            case FLOT_CLASS_LOW:
                out->failed++;
                groups [g].counted++;
                if (metric->critical && !critical)
                    critical = &verdicts [i];
                break;
            case FLOT_CLASS_INCONCLUSIVE:
                out->inconclusive++;
                groups [g].counted++;
                break;
            case FLOT_CLASS_NODATA:
            default:
                out->nodata++;
                if (metric->must_have_data)
                    groups [g].counted++;
                else
                    nodata_plain++;
                if (metric->critical && !critical)
                    critical = &verdicts [i];
                break;
        }
    }
    double weighted = 0, weights = 0;
    for (size_t g = 0; g < group_count; g++) {
        double share = groups [g].counted
                     ? 100.0 * (double) groups [g].passed / (double) groups [g].counted
                     : 100.0;
        weighted += groups [g].weight * share;
        weights += groups [g].weight;
    }
    free (groups);

    if (critical) {
        out->critical_failed = true;
        out->score = 0;
        s_say (out->reason, sizeof (out->reason), "critical metric failed: %s", critical->reason);
        return 0;
    }
    if ((double) nodata_plain >= NODATA_SHARE * (double) count) {
        out->score = 0;
        s_say (out->reason, sizeof (out->reason),
                  "%zu of %zu metrics have no data (50%% or more)", nodata_plain, count);
        return 0;
    }
    if (!(weights > 0)) {
        s_say (out->reason, sizeof (out->reason), "the groups judged all weigh 0");
        return -1;
    }
    out->score = round (weighted / weights * 100) / 100;
    if (out->score >= scoring->pass_score)
        out->outcome = FLOT_SCORE_PASS;
    else
    if (out->score <= scoring->marginal_score)
        out->outcome = FLOT_SCORE_FAIL;
    else
        out->outcome = FLOT_SCORE_MARGINAL;
    s_say (out->reason, sizeof (out->reason),
              "score %.2f (%s at >= %g, fail at <= %g): %zu passed, %zu high or low, "
              "%zu inconclusive, %zu without data, of %zu metrics",
              out->score, flot_judge_outcome_name (out->outcome), scoring->pass_score,
              scoring->marginal_score, out->passed, out->failed, out->inconclusive,
              out->nodata, count);
    return 0;
}
