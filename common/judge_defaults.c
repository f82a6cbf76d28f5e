/*  judge_defaults.c - the canary judge's parameters when a spec does not
    give them: a judged metric's (non-inferiority, increase, confidence
    0.98...) and the scoring's (pass 95, marginal 75). flotilla/judge.h
    states what each means.

    Part of common/ (the flot_common library: pure data, no actor, no I/O),
    apart from the judge itself (actors/analyzer/judge.c), because the
    analysis section parser (common/analysis_section.c) starts every judge
    metric from these defaults, for the spec parser and the analyzer alike.
*/
#include "flotilla/judge.h"

#include <assert.h>
#include <string.h>

void
flot_judge_metric_defaults (flot_judge_metric_t *metric)
{
    assert (metric);
    memset (metric, 0, sizeof (*metric));
    metric->mode = FLOT_JUDGE_NONINFERIORITY;
    metric->direction = FLOT_DIRECTION_INCREASE;
    metric->confidence = 0.98;
    metric->tolerance = 0.25;
    metric->effect_size = 1.0;
    metric->margin = 0.10;
}

void
flot_judge_scoring_defaults (flot_judge_scoring_t *scoring)
{
    assert (scoring);
    memset (scoring, 0, sizeof (*scoring));
    scoring->pass_score = 95;
    scoring->marginal_score = 75;
}
