/*  flotilla/judge.h - the canary judge: is the canary worse than the baseline?

    Pure computation (no I/O, no clock, no global state), used by the
    analyzer actor for the metrics of a spec that carry a `judge` section.
    Each judged metric gives two sets of samples, canary and baseline; the
    judge compares them with a Mann-Whitney U test and the Hodges-Lehmann
    shift, classifies the metric, and scores the set of metrics.

    THE TEST (flot_mann_whitney), x = canary, y = baseline, m = |x|, n = |y|
    - U is the U of x: the number of pairs (i, j) with x_i > y_j plus half
      the pairs with x_i == y_j (= R1 - m(m+1)/2, R1 the rank sum of x with
      average ranks for ties), as scipy.stats.mannwhitneyu returns it.
    - The p-value is two-sided and asymptotic, with the continuity and the
      tie correction: scipy.stats.mannwhitneyu(x, y, method="asymptotic",
      use_continuity=True, alternative="two-sided"). That is
      z = (max(U, mn - U) - mn/2 - 0.5) / s, s^2 = mn/12 ((N+1) - T/(N(N-1)))
      with N = m + n and T the sum of t^3 - t over the groups of tied values,
      p = min(1, 2 (1 - Phi(z))). Every value tied gives s = 0 and p = 1.
      (No exact small-sample distribution is used, whatever the sizes.)
    - The estimate is the Hodges-Lehmann shift of x - y: the median of the
      m*n differences x_i - y_j (the mean of the two middle ones when m*n is
      even).
    - The confidence interval is the one of R's wilcox.test(x, y,
      conf.int = TRUE, exact = FALSE, correct = TRUE), which Kayenta ports:
      the shifts d at which the standardised rank-sum statistic of (x - d, y)
      crosses -/+ z, z = Phi^-1(1 - (1 - confidence)/2). R finds them with a
      root finder; since that statistic only jumps at the differences, they
      are order statistics of the sorted differences d(1) <= ... <= d(mn):
          k = floor (mn/2 - z s' - 0.5) + 1, clamped to 1..mn
                                       (ci_reached is false if k < 1)
          ci_low = d(k), ci_high = d(mn + 1 - k)
      where s' is s computed with the ties inside x and inside y only (the
      ties that persist for every shift d). tools/gen_judge_fixtures.py
      checks this against an independent root-finding implementation of R's
      method, and U and p against scipy.
    - Cost: sorting x and y, then each order statistic of the m*n
      differences is selected without forming them (a sampled-pivot
      selection over the sorted rows, O((m + n) log(mn)) expected), so
      10,000 samples per side take about 11 ms, not 10^8 differences.
    - Input: every value must be finite; an empty side or a NaN/infinite
      value returns -1.

    A METRIC (flot_judge_metric). Samples that are not finite (NaN, +-inf)
    are dropped first, as Kayenta's default nanStrategy "remove" drops NaN.
    A side left with no sample is NODATA. Otherwise, by mode:

    Non-inferiority (FLOT_JUDGE_NONINFERIORITY, the default): the canary
    passes only when the interval shows that it is not worse than the
    baseline by more than a margin:
        margin_abs = margin * |baseline median|
                     (if the baseline median is 0: margin * |baseline mean|;
                     if that is 0 too, margin_abs is 0: the interval must
                     then show no worsening at all)
    - increase (higher is worse): PASS when ci_high <= margin_abs, HIGH when
      ci_low > margin_abs, otherwise INCONCLUSIVE (the interval straddles the
      margin: more samples would tell).
    - decrease: PASS when ci_low >= -margin_abs, LOW when
      ci_high < -margin_abs, otherwise INCONCLUSIVE.
    - either: PASS when both pass; HIGH or LOW when the interval is wholly
      beyond one margin; otherwise INCONCLUSIVE.
    So few or noisy samples give INCONCLUSIVE, never PASS, even when the two
    sides look alike: absence of evidence is not evidence of no regression.
    When the samples are too few for an interval at the confidence asked
    (k < 1 above; at 0.98 without ties, four or fewer per side), the verdict is
    INCONCLUSIVE whatever the differences.

    Kayenta (FLOT_JUDGE_KAYENTA), as its MannWhitneyClassifier:
    - identical samples (the same multiset of values), or every value of
      both sides equal: PASS ("identical" as Kayenta says);
    - bound = tolerance * |estimate| (Kayenta's tolerance, 0.25);
    - mean_ratio = canary mean / baseline mean (1.0 if the baseline mean is
      0, as Kayenta);
    - HIGH when direction is increase or either, ci_low > bound and
      mean_ratio >= effect_size; LOW when direction is decrease or either,
      ci_high < -bound and mean_ratio <= 1 / effect_size (Kayenta has a
      separate allowedDecrease; one effect_size >= 1 serves both ways here,
      its reciprocal for decreases; at the default 1.0 the two agree);
    - otherwise PASS. A shift that the test cannot tell from noise therefore
      PASSes: the interval includes 0, and 0 is never beyond the bound.
    - Where Kayenta adds Gaussian noise to two sides that are each constant
      (to keep R's root finder going), the judge computes the limit
      deterministically: every difference is the same d, the estimate and
      both ends of the interval are d.
    Kayenta's direction defaults to either; Flotilla's to increase.

    THE SCORE (flot_judge_score), as Kayenta's WeightedSumScorer with one
    difference (weights are relative, not percentages):
    - Each metric belongs to its group (metric->group, or its own name when
      the group is NULL or "").
    - A group's share is 100 * PASS / (PASS + HIGH + LOW + INCONCLUSIVE +
      NODATA of metrics that must have data); NODATA of other metrics does
      not count. A group with nothing that counts (all its metrics NODATA
      without mustHaveData) counts as 100, as in Kayenta.
    - A group's weight is its weight in scoring->groups, or 1 when it is not
      listed (so with no list every group weighs the same). The score is
      sum(weight * share) / sum(weight) over the groups present, rounded to
      two decimals (Kayenta rounds too). Kayenta takes weights as percents
      summing to 100 and splits the rest among unlisted groups; with every
      group listed the two agree. {latency: 2, errors: 1} means latency
      counts twice as much as errors.
    - The score is forced to 0 (outcome FAIL) when a critical metric is
      HIGH, LOW or NODATA (Kayenta fails the canary on a critical metric
      that is anything but Pass, NODATA included, with or without
      mustHaveData), or when at least half the metrics are NODATA without
      mustHaveData (Kayenta's 50% NODATA rule; a NODATA metric that must
      have data already counts as a failure in its group). A critical
      metric that is INCONCLUSIVE (a Flotilla class: not yet shown either
      way) does not force 0; it counts against its group's share.
    - outcome: PASS when score >= pass_score, FAIL when score <=
      marginal_score, otherwise MARGINAL.
*/
#ifndef FLOTILLA_JUDGE_H_INCLUDED
#define FLOTILLA_JUDGE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FLOT_JUDGE_NONINFERIORITY,
    FLOT_JUDGE_KAYENTA
} flot_judge_mode_t;

//  The direction that is bad.
typedef enum {
    FLOT_DIRECTION_INCREASE,
    FLOT_DIRECTION_DECREASE,
    FLOT_DIRECTION_EITHER
} flot_direction_t;

typedef enum {
    FLOT_CLASS_PASS,
    FLOT_CLASS_HIGH,
    FLOT_CLASS_LOW,
    FLOT_CLASS_NODATA,
    FLOT_CLASS_INCONCLUSIVE
} flot_class_t;

typedef struct {
    const char *name;
    const char *group;            //  NULL or "" : the metric's own group
    flot_judge_mode_t mode;       //  default NONINFERIORITY
    flot_direction_t direction;   //  default INCREASE
    double confidence;            //  default 0.98, in (0, 1)
    double tolerance;             //  kayenta, default 0.25, >= 0
    double effect_size;           //  kayenta mean-ratio gate, default 1.0, >= 1
    double margin;                //  noninferiority, fraction of |baseline median|, default 0.10, >= 0
    bool critical;
    bool must_have_data;
} flot_judge_metric_t;

//  Fills the defaults above (name and group NULL, not critical, data not
//  required). In flot_common (common/judge_defaults.c): the analysis section
//  parser uses it.
void
    flot_judge_metric_defaults (flot_judge_metric_t *metric);

//  The Mann-Whitney U test of x (canary) against y (baseline), with the
//  Hodges-Lehmann estimate of the shift (x - y) and its confidence interval.
typedef struct {
    double u;             //  U of x
    double p_value;       //  two-sided
    double estimate;      //  Hodges-Lehmann shift, x - y
    double ci_low, ci_high;
    bool ci_reached;      //  false: too few samples for this confidence;
                          //  the interval is then every difference's range
                          //  (as R), which covers less than asked
} flot_mann_whitney_t;

//  0, or -1 if a side is empty or has a value that is not finite, or if
//  confidence is not in (0, 1). The inputs are not modified.
int
    flot_mann_whitney (const double *x, size_t nx, const double *y, size_t ny,
                       double confidence, flot_mann_whitney_t *out);

//  The same on samples already sorted ascending and checked finite (the
//  judge sorts once and calls this).
int
    flot_mann_whitney_sorted (const double *x_sorted, size_t nx,
                              const double *y_sorted, size_t ny,
                              double confidence, flot_mann_whitney_t *out);

//  The k-th smallest (1-based, 1 <= k <= m*n) of the differences
//  x[i] - y[j] of two arrays sorted ascending, found without forming them.
//  0, or -1 if k is out of range.
int
    flot_pairwise_difference_select (const double *x_sorted, size_t m,
                                     const double *y_sorted, size_t n,
                                     uint64_t k, double *out);

typedef struct {
    flot_class_t cls;
    flot_mann_whitney_t test;     //  valid unless NODATA
    double canary_mean, baseline_mean, mean_ratio;
    double baseline_median;
    double margin_abs;            //  the limit the interval was held to:
                                  //  noninferiority margin * |baseline median|,
                                  //  kayenta tolerance * |estimate|
    size_t canary_n, baseline_n;  //  finite samples used
    char reason [192];            //  a sentence: which value, which limit
} flot_judge_verdict_t;

//  Judge one metric. Samples are copied as needed (inputs are not modified).
//  0, or -1 (with out->reason saying why) if a parameter of the metric is
//  out of range. A NULL sample pointer is allowed with a count of 0.
int
    flot_judge_metric (const flot_judge_metric_t *metric,
                       const double *canary, size_t nc,
                       const double *baseline, size_t nb,
                       flot_judge_verdict_t *out);

typedef struct { const char *group; double weight; } flot_judge_group_t;
typedef struct {
    double pass_score;            //  default 95
    double marginal_score;        //  default 75
    const flot_judge_group_t *groups;   //  NULL: every group weighs the same
    size_t group_count;
} flot_judge_scoring_t;

//  Fills the defaults above (no group weights). In flot_common
//  (common/judge_defaults.c).
void
    flot_judge_scoring_defaults (flot_judge_scoring_t *scoring);

typedef enum { FLOT_SCORE_PASS, FLOT_SCORE_MARGINAL, FLOT_SCORE_FAIL } flot_score_outcome_t;
typedef struct {
    double score;                 //  0..100
    flot_score_outcome_t outcome; //  PASS if >= pass, FAIL if <= marginal, else MARGINAL
    size_t passed, failed, nodata, inconclusive;    //  failed: HIGH or LOW
    bool critical_failed;
    char reason [192];
} flot_judge_score_t;

//  Scores verdicts[i] of metrics[i]. scoring NULL: the defaults. 0, or -1
//  (with out->reason saying why) if count is 0, a weight is negative or not
//  finite, the scores are not 0 <= marginal <= pass <= 100, or the groups
//  judged all weigh 0.
int
    flot_judge_score (const flot_judge_metric_t *metrics,
                      const flot_judge_verdict_t *verdicts, size_t count,
                      const flot_judge_scoring_t *scoring, flot_judge_score_t *out);

//  Names, as the spec and the analyzer's replies spell them: "pass",
//  "high", "low", "nodata", "inconclusive"; "noninferiority", "kayenta";
//  "increase", "decrease", "either"; "pass", "marginal", "fail".
const char *
    flot_judge_class_name (flot_class_t cls);
const char *
    flot_judge_mode_name (flot_judge_mode_t mode);
const char *
    flot_judge_direction_name (flot_direction_t direction);
const char *
    flot_judge_outcome_name (flot_score_outcome_t outcome);

#ifdef __cplusplus
}
#endif

#endif
