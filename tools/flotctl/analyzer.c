/*  analyzer.c - the commands of the analyzer service: analyze and metrics
    push, and how an analysis result is printed.

    analyze has the strategy service resolve a spec file (spec.c) and the
    analyzer run its analysis section once, now, for one target, and exits
    by the recommendation (0 promote, 1 rollback, 4 pause); metrics push
    gives the analyzer samples for its `pushed` provider. status
    (deployments.c) prints each target's latest analysis as analyze does.
*/
#include "ctl.h"
#include "flotilla/analysis_section.h"

#include <errno.h>
#include <math.h>

//  An analysis result (analyzer RESULT): each metric, the score and the
//  recommendation, each line after indent.
void
ctl_print_analysis (const flot_analyzer_result_t *result, const char *indent)
{
    const flot_analyzer_metric_t *metrics = result->metrics.items;
    for (size_t i = 0; i < result->metrics.count; i++) {
        const flot_analyzer_metric_t *m = &metrics [i];
        if (streq (m->kind, "judge"))
            printf ("%s%-20s judge      %-12s %-12s samples %llu/%llu  shift [%g, %g]  margin %g\n",
                    indent, m->name, m->phase, m->class ? m->class : "",
                    (unsigned long long) m->canary_samples,
                    (unsigned long long) m->baseline_samples, m->ci_low, m->ci_high, m->margin);
        else {
            char shown [64] = "-";
            if (m->has_value)
                snprintf (shown, sizeof shown, "%g", m->value);
            printf ("%s%-20s threshold  %-12s value %-10s %llu measurements\n", indent, m->name,
                    m->phase, shown, (unsigned long long) m->measurements);
        }
        if (*m->message)
            printf ("%s%-20s   %s\n", indent, "", m->message);
    }
    if (result->score >= 0)
        printf ("%sscore %.2f\n", indent, result->score);
    printf ("%s%s: %s\n", indent, result->recommendation, result->reason);
    fflush (stdout);
}

//  --------------------------------------------------------------------------
//  analyze

//  How long the analysis may take: its longest metric's initial delay and
//  count intervals, twice, and 30 s more; the most a request may wait.
static uint32_t
s_analysis_timeout (const void *data, size_t size)
{
    int64_t longest = 0;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    if (msgpack_unpack_next (&unpacked, data, size, &offset) == MSGPACK_UNPACK_SUCCESS) {
        flot_err_t err;
        flot_analysis_t *analysis = flot_analysis_parse (&unpacked.data, "analysis", &err);
        for (size_t i = 0; analysis && i < analysis->metric_count; i++) {
            const flot_analysis_metric_t *m = &analysis->metrics [i];
            int64_t ms = m->initial_delay_ms + (int64_t) m->limits.count * m->interval_ms;
            longest = MAX (longest, ms);
        }
        flot_analysis_destroy (&analysis);
    }
    msgpack_unpacked_destroy (&unpacked);
    int64_t timeout = 2 * longest + 30000;
    return (uint32_t) MIN (timeout, (int64_t) FLOT_MAX_TIMEOUT_MS);
}


int
ctl_cmd_analyze (ctl_t *self)
{
    flot_spec_t *spec = NULL;
    int rc = ctl_spec_resolve (self, &spec);
    if (rc >= 0)
        return rc;
    const flot_target_t *target = spec->target_count ? &spec->targets [0] : NULL;
    if (self->opts.target) {
        int index = flot_spec_target_index (spec, self->opts.target);
        target = index >= 0 ? &spec->targets [index] : NULL;
    }
    if (!spec->checks.analysis || !target) {
        fprintf (stderr, "flotctl: %s: %s\n", self->opts.file, !target
                 ? "no such target in the spec" : "the spec has no analysis section");
        flot_spec_destroy (&spec);
        return RC_ERROR;
    }
    //  The spec's analysis section (msgpack, parsed by the analyzer); the
    //  canary is the new version (or --version), the baseline the version a
    //  rollback puts back, as at a deployment's gates.
    flot_err_t err;
    flot_body_t *analysis = flot_body_decode (spec->checks.analysis,
                                              spec->checks.analysis_size, &err);
    flot_health_context_t context, baseline;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    const char *canary = self->opts.version ? self->opts.version : spec->workload.version;
    const char *previous = spec->workload.rollback_version;
    bool ok = analysis
           && flot_context_fill (&context, spec, target, canary, &zone) == 0
           && flot_context_fill (&baseline, spec, target, previous, &zone) == 0;
    msgpack_sbuffer sbuf;
    if (ok) {
        flot_analyzer_run_t run = {
            .analysis = flot_body_root (analysis), .context = &context, .baseline = &baseline
        };
        flot_encode_sbuf (&flot_analyzer_run_def, &run, &sbuf);
    }
    else
        msgpack_sbuffer_init (&sbuf);
    if (!ok)
        fprintf (stderr, "flotctl: %s: the analysis section cannot be sent: %s\n",
                 self->opts.file, analysis ? "out of memory" : err.message);
    else
    if (!self->opts.timeout_given)
        self->opts.timeout_ms = s_analysis_timeout (spec->checks.analysis,
                                                    spec->checks.analysis_size);
    flot_body_destroy (&analysis);
    msgpack_zone_destroy (&zone);
    flot_spec_destroy (&spec);
    if (!ok) {
        msgpack_sbuffer_destroy (&sbuf);
        return RC_ERROR;
    }
    flot_body_t *body = NULL;
    rc = ctl_call (self, ANALYZER_SERVICE, NULL, FLOT_ANALYZER_ANALYZE, &sbuf, &body, &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc)
        return ctl_report (self, ANALYZER_SERVICE, "Analyze", &err);
    const msgpack_object *root = flot_body_root (body);
    flot_analyzer_result_t result;
    if (flot_analyzer_result_decode (root, flot_body_zone (body), &result, &err)) {
        flot_body_destroy (&body);
        return ctl_bad_reply (ANALYZER_SERVICE, "Analyze", &err);
    }
    if (self->opts.json)
        ctl_print_json (root, false);
    else
        ctl_print_analysis (&result, "");
    rc = streq (result.recommendation, "promote") ? RC_OK
       : streq (result.recommendation, "pause") ? RC_PAUSE : RC_ERROR;
    flot_body_destroy (&body);
    return rc;
}

//  --------------------------------------------------------------------------
//  metrics push

int
ctl_cmd_metrics (ctl_t *self)
{
    if (!streq (self->opts.args [1], "push"))
        return ctl_usage_error ("unknown metrics command '%s'; usage: flotctl metrics push "
                                "METRIC --role canary|baseline [--target NAME] VALUE...",
                                self->opts.args [1]);
    if (!self->opts.role)
        return ctl_usage_error ("metrics push needs --role canary or --role baseline");
    const char *metric = self->opts.args [2];
    int count = self->opts.nargs - 3;
    double *values = calloc ((size_t) count + 1, sizeof (double));
    assert (values);
    for (int i = 0; i < count; i++) {
        const char *text = self->opts.args [3 + i];
        char *end = NULL;
        errno = 0;
        values [i] = strtod (text, &end);
        if (!*text || *end || errno || !isfinite (values [i])) {
            free (values);
            return ctl_usage_error ("value '%s' is not a finite number", text);
        }
    }
    flot_analyzer_push_request_t request = {
        .metric = metric, .target = self->opts.target, .role = self->opts.role,
        .values = { .count = (size_t) count, .items = values }
    };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_analyzer_push_request_def, &request, &sbuf);
    free (values);
    flot_body_t *body = NULL;
    flot_err_t err;
    int rc = ctl_call (self, ANALYZER_SERVICE, NULL, FLOT_ANALYZER_PUSH, &sbuf, &body, &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc)
        return ctl_report (self, ANALYZER_SERVICE, "Push", &err);
    const msgpack_object *root = flot_body_root (body);
    flot_analyzer_push_reply_t reply;
    if (flot_analyzer_push_reply_decode (root, flot_body_zone (body), &reply, &err)) {
        flot_body_destroy (&body);
        return ctl_bad_reply (ANALYZER_SERVICE, "Push", &err);
    }
    if (self->opts.json)
        rc = ctl_print_json (root, false);
    else
        printf ("stored %llu samples of %s (%s%s%s), %llu kept\n",
                (unsigned long long) reply.stored, metric, self->opts.role,
                self->opts.target ? ", target " : "", self->opts.target ? self->opts.target : "",
                (unsigned long long) reply.kept);
    flot_body_destroy (&body);
    return rc;
}
