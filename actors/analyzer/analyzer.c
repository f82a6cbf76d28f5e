/*  analyzer.c - the analyzer actor (service "analyzer").

    Runs analyses: each metric of an `analysis` section is measured on its
    interval through its provider (Prometheus, a command, or samples pushed
    to this actor), and either checked against its conditions with Argo
    Rollouts' threshold rules or, for a judge metric, sampled for canary and
    baseline into a growing window that the judge (flotilla/judge.h)
    compares each interval. After each measurement the run is assessed: a
    failed threshold metric, a failing critical judge metric, or a score at
    or below marginalScore stops it at once with `rollback`; at the end it
    recommends `promote`, or `pause` when something is inconclusive.

    Analyze answers once the run is over; StartAnalysis streams a RESULT
    after each measurement until the last (StopAnalysis, or the caller going
    away, ends it early); Query runs a provider once; Push stores samples
    for the `pushed` provider. A command provider names a program in this
    host's hooks directory (the option "hooks-dir", flotillad --hooks-dir;
    without one no command runs), taken literally (common/hook_path.c): its
    arguments are templates, each one argument, and no shell ever runs. Every fetch is asynchronous (curl multi and
    child processes in this actor's loop): no handler blocks. The contract
    is protocol/contracts/analyzer.json (protocol/SPEC.md section 20): the
    host decodes every request by it, and RESULTs are encoded by it.
*/
#include "analysis.h"
#include "flotilla/contract_analyzer.h"
#include "flotilla/defer.h"
#include "flotilla/hook_path.h"
#include "flotilla/log.h"
#include "flotilla/template.h"

#include <math.h>
#include <stdarg.h>

#define WHO "analyzer"
#define MAX_RUNS        256             //  analyses at once
#define MAX_QUERIES     256             //  Query requests at once
#define MAX_SERIES      4096            //  pushed (metric, target, role) series
#define SERIES_KEEP     10000           //  samples kept per series
#define WINDOW_MAX      100000          //  judge samples kept per side

typedef struct _run_t run_t;
typedef struct _mstate_t mstate_t;

typedef struct {
    flot_actor_t *actor;
    flot_prometheus_t *prometheus;
    flot_commands_t *commands;
    zlistx_t *runs;                     //  run_t *: running
    flot_defer_t *dead;                 //  run_t *: over, freed a turn later
    zlistx_t *queries;                  //  query_t *: Query requests in flight
    zhashx_t *series;                   //  "metric\x1ftarget\x1frole" -> series_t *
    char hooks_dir [1024];              //  absolute; "" if none: no command runs
} analyzer_t;

//  Samples pushed for one (metric, target, role): a ring of the last
//  SERIES_KEEP, and the count ever pushed (a reader's cursor).
typedef struct {
    double *ring;
    size_t start, used;
    uint64_t total;
} series_t;

//  One fetch of a measurement: canary (0) or baseline (1).
typedef struct {
    mstate_t *metric;
    int role;
    bool pending;
    flot_provider_kind_t kind;
    uint64_t id;
    double *values;
    size_t count;
    char error [400];
    uint64_t cursor;                    //  pushed: samples read so far
} fetch_t;

typedef struct {
    double *values;
    size_t count, cap;
} window_t;

struct _mstate_t {
    run_t *run;
    const flot_analysis_metric_t *def;
    flot_tally_t tally;
    flot_analyzer_phase_t phase;
    bool done;
    int timer;                          //  next measurement, -1 if none
    fetch_t fetch [2];
    int pending;                        //  fetches in flight
    bool has_value;
    double value;                       //  the latest value
    char message [400];                 //  the latest measurement's, or the phase's reason
    char last_bad [300];                //  the latest failed/inconclusive/error measurement
    //  judge
    window_t canary, baseline;
    bool has_verdict;
    flot_judge_verdict_t verdict;
};

struct _run_t {
    analyzer_t *analyzer;
    msgpack_zone *zone;                 //  holds the copies of the request's CONTEXTs:
    const flot_health_context_t *context;   //  the canary's, for templates
    const flot_health_context_t *baseline;  //  the baseline's; NULL: the canary's again
    flot_analysis_t *analysis;
    mstate_t *metrics;
    flot_analyzer_metric_t *out;        //  the metrics of a RESULT being sent
    flot_request_t *request;            //  Analyze: answered when over
    flot_stream_t *stream;              //  StartAnalysis
    int deadline_timer;
    bool over;
    bool has_score;
    flot_judge_score_t score;
    flot_analyzer_phase_t phase;
    const char *recommendation;
    char reason [512];
    void *handle;
};

//  A Query request in flight.
typedef struct {
    analyzer_t *analyzer;
    flot_request_t *request;
    flot_provider_kind_t kind;
    uint64_t id;
    char *expanded;
    void *handle;
} query_t;

//  snprintf for messages, where cutting a long sentence short is fine.
static void s_say (char *buffer, size_t cap, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
static void
s_say (char *buffer, size_t cap, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (buffer, cap, format, args);
    va_end (args);
}

static void s_measure (mstate_t *m);
static void s_run_update (run_t *run);

//  --------------------------------------------------------------------------
//  Pushed samples

static char *
s_series_key (const char *metric, const char *target, const char *role)
{
    size_t size = strlen (metric) + strlen (target) + strlen (role) + 3;
    char *key = malloc (size);
    s_say (key, size, "%s\x1f%s\x1f%s", metric, target, role);
    return key;
}

static void
s_series_destroy (void **item)
{
    series_t *series = *item;
    if (series) {
        free (series->ring);
        free (series);
        *item = NULL;
    }
}

//  The series for metric, target and role; if target has none, the series
//  pushed without a target.
static series_t *
s_series_find (analyzer_t *self, const char *metric, const char *target, const char *role)
{
    char *key = s_series_key (metric, target, role);
    series_t *series = zhashx_lookup (self->series, key);
    free (key);
    if (!series && *target) {
        key = s_series_key (metric, "", role);
        series = zhashx_lookup (self->series, key);
        free (key);
    }
    return series;
}

//  The samples pushed after *cursor (at most the SERIES_KEEP kept), oldest
//  first, into a fresh array; moves the cursor.
static double *
s_series_read (series_t *series, uint64_t *cursor, size_t *count)
{
    *count = 0;
    if (!series || series->total <= *cursor) {
        if (series)
            *cursor = series->total;
        return NULL;
    }
    uint64_t fresh = series->total - *cursor;
    size_t n = fresh < series->used ? (size_t) fresh : series->used;
    double *values = malloc (n * sizeof (double));
    assert (values);
    for (size_t i = 0; i < n; i++)
        values [i] = series->ring [(series->start + series->used - n + i) % SERIES_KEEP];
    *count = n;
    *cursor = series->total;
    return values;
}

//  --------------------------------------------------------------------------
//  Contexts and templates

static const char *
s_role_name (int role)
{
    return role ? "baseline" : "canary";
}

static const flot_health_context_t *
s_role_context (run_t *run, int role)
{
    return role && run->baseline ? run->baseline : run->context;
}

static const char *
s_role_target (run_t *run, int role)
{
    return s_role_context (run, role)->target;
}

//  argv for a command provider: its program in the hooks directory (never
//  a template), then its arguments, each template one argument; NULL with
//  err.
static char **
s_command_argv (analyzer_t *self, const flot_provider_t *provider,
                const flot_health_context_t *context, const char *role, char *err,
                size_t cap)
{
    char path [2048];
    if (flot_hook_resolve (self->hooks_dir, provider->command, &flot_hook_kind_provider,
                           path, sizeof path, err, cap))
        return NULL;
    char **argv = calloc (provider->arg_count + 2, sizeof (char *));
    assert (argv);
    argv [0] = strdup (path);
    bool ok = argv [0] != NULL;
    for (size_t i = 0; ok && i < provider->arg_count; i++)
        ok = (argv [i + 1] = flot_template_expand (provider->args [i], context, role,
                                                    err, cap)) != NULL;
    if (!ok) {
        for (size_t i = 0; i <= provider->arg_count; i++)
            free (argv [i]);
        free (argv);
        return NULL;
    }
    return argv;
}

static void
s_argv_free (char **argv)
{
    for (size_t i = 0; argv && argv [i]; i++)
        free (argv [i]);
    free (argv);
}

//  The command line, for messages and Query's "query".
static char *
s_argv_text (char **argv)
{
    size_t size = 1;
    for (size_t i = 0; argv [i]; i++)
        size += strlen (argv [i]) + 1;
    char *text = malloc (size);
    text [0] = 0;
    for (size_t i = 0; argv [i]; i++) {
        if (i)
            strcat (text, " ");
        strcat (text, argv [i]);
    }
    return text;
}

//  --------------------------------------------------------------------------
//  RESULT

static double
s_finite (double value)
{
    return isfinite (value) ? value : 0;
}

static void
s_result_metric (const mstate_t *m, flot_analyzer_metric_t *out)
{
    *out = (flot_analyzer_metric_t) {
        .name = m->def->name,
        .kind = m->def->is_judge ? "judge" : "threshold",
        .phase = flot_analyzer_phase_name (m->phase),
        .value = m->value,
        .has_value = m->has_value && isfinite (m->value),
        .measurements = m->tally.measurements,
        .successful = m->tally.successful,
        .failed = m->tally.failed,
        .inconclusive = m->tally.inconclusive,
        .errors = m->tally.errors,
        .consecutive_errors = m->tally.consecutive_errors,
        .count = m->def->limits.count,
        .message = m->message
    };
    if (m->def->is_judge) {
        const flot_judge_verdict_t *v = &m->verdict;
        bool has = m->has_verdict && v->cls != FLOT_CLASS_NODATA;
        out->class = flot_judge_class_name (m->has_verdict ? v->cls : FLOT_CLASS_NODATA);
        out->canary_samples = m->canary.count;
        out->baseline_samples = m->baseline.count;
        out->estimate = s_finite (has ? v->test.estimate : 0);
        out->ci_low = s_finite (has ? v->test.ci_low : 0);
        out->ci_high = s_finite (has ? v->test.ci_high : 0);
        out->margin = s_finite (has ? v->margin_abs : 0);
        out->p_value = s_finite (has ? v->test.p_value : 1);
        out->has_canary_samples = out->has_baseline_samples = out->has_estimate
            = out->has_ci_low = out->has_ci_high = out->has_margin = out->has_p_value = true;
    }
}

//  The run's RESULT, its metrics in run->out.
static flot_analyzer_result_t
s_result (run_t *run, bool final)
{
    size_t count = run->analysis->metric_count;
    for (size_t i = 0; i < count; i++)
        s_result_metric (&run->metrics [i], &run->out [i]);
    return (flot_analyzer_result_t) {
        .phase = flot_analyzer_phase_name (run->phase),
        .final = final,
        .passed = streq (run->recommendation, "promote"),
        .score = run->has_score ? run->score.score : -1,
        .recommendation = run->recommendation,
        .reason = run->reason,
        .metrics = { .count = count, .items = run->out }
    };
}

//  --------------------------------------------------------------------------
//  Runs: life cycle

static void
s_run_free (void *item)
{
    run_t *run = item;
    for (size_t i = 0; run->metrics && i < run->analysis->metric_count; i++) {
        mstate_t *m = &run->metrics [i];
        for (int r = 0; r < 2; r++)
            free (m->fetch [r].values);
        free (m->canary.values);
        free (m->baseline.values);
    }
    free (run->metrics);
    free (run->out);
    flot_analysis_destroy (&run->analysis);
    if (run->zone)
        msgpack_zone_free (run->zone);
    free (run);
}

//  Stops the run's timers and fetches, and has it freed a turn later (its
//  timers may still fire in this turn of the loop: they see `over`).
static void
s_run_release (run_t *run)
{
    analyzer_t *self = run->analyzer;
    flot_loop_t *loop = flot_actor_loop (self->actor);
    if (!run->handle)
        return;                 //  released already
    run->over = true;
    for (size_t i = 0; run->metrics && i < run->analysis->metric_count; i++) {
        mstate_t *m = &run->metrics [i];
        if (m->timer >= 0)
            flot_loop_timer_end (loop, m->timer);
        m->timer = -1;
        for (int r = 0; r < 2; r++) {
            fetch_t *f = &m->fetch [r];
            if (f->pending && f->kind == FLOT_PROVIDER_PROMETHEUS)
                flot_prometheus_cancel (self->prometheus, f->id);
            else
            if (f->pending && f->kind == FLOT_PROVIDER_COMMAND)
                flot_commands_cancel (self->commands, f->id);
            f->pending = false;
        }
    }
    if (run->deadline_timer >= 0)
        flot_loop_timer_end (loop, run->deadline_timer);
    run->deadline_timer = -1;
    zlistx_detach (self->runs, run->handle);
    run->handle = NULL;
    flot_defer_free (self->dead, run);
}

//  The run is over: the last RESULT to its caller, then release it.
static void
s_run_finish (run_t *run)
{
    flot_analyzer_result_t result = s_result (run, true);
    flot_info (WHO, "analysis over: %s, %s (%s)", flot_analyzer_phase_name (run->phase),
               run->recommendation, run->reason);
    if (run->request)
        flot_request_answer (&run->request, &result);
    else
    if (run->stream)
        flot_stream_finish (run->analyzer->actor, &run->stream, &result);
    s_run_release (run);
}

static int
s_on_deadline (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    run_t *run = arg;
    if (run->over)
        return 0;
    run->deadline_timer = -1;
    flot_notice (WHO, "an analysis outlived its request's deadline; stopping it");
    flot_request_error (&run->request, FLOT_E_DEADLINE,
                        "the analysis did not end before the request's deadline");
    s_run_release (run);
    return 0;
}

static void
s_stream_cancelled (flot_actor_t *actor, flot_stream_t *stream, void *arg)
{
    (void) actor;
    (void) stream;
    run_t *run = arg;
    run->stream = NULL;             //  the host destroys it
    if (!run->over)
        s_run_release (run);
}

//  --------------------------------------------------------------------------
//  Measurements

static int
s_on_measure (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    mstate_t *m = arg;
    if (m->run->over || m->done)
        return 0;
    m->timer = -1;
    s_measure (m);
    return 0;
}

static void
s_window_add (window_t *window, const double *values, size_t count)
{
    if (count == 0)
        return;
    if (count >= WINDOW_MAX) {
        values += count - WINDOW_MAX;
        count = WINDOW_MAX;
    }
    if (window->count + count > WINDOW_MAX) {
        size_t drop = window->count + count - WINDOW_MAX;
        memmove (window->values, window->values + drop, (window->count - drop) * sizeof (double));
        window->count -= drop;
    }
    if (window->count + count > window->cap) {
        window->cap = (window->count + count) * 2;
        if (window->cap > WINDOW_MAX)
            window->cap = WINDOW_MAX;
        window->values = realloc (window->values, window->cap * sizeof (double));
        assert (window->values);
    }
    memcpy (window->values + window->count, values, count * sizeof (double));
    window->count += count;
}

static flot_analyzer_phase_t
s_class_phase (const flot_analysis_metric_t *def, flot_class_t cls)
{
    switch (cls) {
        case FLOT_CLASS_PASS: return FLOT_ANALYZER_PHASE_SUCCESSFUL;
        case FLOT_CLASS_HIGH:
        case FLOT_CLASS_LOW: return FLOT_ANALYZER_PHASE_FAILED;
        case FLOT_CLASS_NODATA:
            return def->judge.must_have_data ? FLOT_ANALYZER_PHASE_FAILED : FLOT_ANALYZER_PHASE_INCONCLUSIVE;
        default: return FLOT_ANALYZER_PHASE_INCONCLUSIVE;
    }
}

//  A threshold metric's measurement is in: count it and assess the metric.
static void
s_threshold_measured (mstate_t *m)
{
    const flot_analysis_metric_t *def = m->def;
    fetch_t *f = &m->fetch [0];
    flot_analyzer_phase_t outcome;
    char message [400];
    if (*f->error) {
        outcome = FLOT_ANALYZER_PHASE_ERROR;
        s_say (message, sizeof message, "%s", f->error);
    }
    else {
        outcome = flot_measurement_assess (def->success, def->failure, f->values, f->count,
                                           message, sizeof message);
        m->has_value = f->count > 0;
        if (f->count)
            m->value = f->values [0];
    }
    flot_tally_add (&m->tally, outcome);
    s_say (m->message, sizeof m->message, "%s: %s", flot_analyzer_phase_name (outcome), message);
    if (outcome != FLOT_ANALYZER_PHASE_SUCCESSFUL)
        s_say (m->last_bad, sizeof m->last_bad, "%s", message);
    char why [200];
    m->phase = flot_threshold_assess (&def->limits, &m->tally, why, sizeof why);
    const flot_threshold_limits_t *l = &def->limits;
    if (m->phase == FLOT_ANALYZER_PHASE_FAILED)
        s_say (m->message, sizeof m->message, "%u of %u measurements failed (%s), failureLimit %u",
                  m->tally.failed, m->tally.counted, m->last_bad, l->failure_limit);
    else
    if (m->phase == FLOT_ANALYZER_PHASE_INCONCLUSIVE)
        s_say (m->message, sizeof m->message,
                  "%u of %u measurements inconclusive (%s), inconclusiveLimit %u",
                  m->tally.inconclusive, m->tally.counted, m->last_bad, l->inconclusive_limit);
    else
    if (m->phase == FLOT_ANALYZER_PHASE_ERROR)
        s_say (m->message, sizeof m->message, "%u consecutive errors (%s), consecutiveErrorLimit %u",
                  m->tally.consecutive_errors, m->last_bad, l->consecutive_error_limit);
    m->done = m->phase != FLOT_ANALYZER_PHASE_RUNNING && m->phase != FLOT_ANALYZER_PHASE_PENDING;
}

//  A judge metric's interval is in: grow the windows and judge them.
static void
s_judge_measured (mstate_t *m)
{
    const flot_analysis_metric_t *def = m->def;
    const char *error = *m->fetch [0].error ? m->fetch [0].error
                      : *m->fetch [1].error ? m->fetch [1].error : NULL;
    if (error) {
        flot_tally_add (&m->tally, FLOT_ANALYZER_PHASE_ERROR);
        s_say (m->message, sizeof m->message, "error: %s", error);
        s_say (m->last_bad, sizeof m->last_bad, "%s", error);
        if (m->tally.consecutive_errors > def->limits.consecutive_error_limit) {
            m->phase = FLOT_ANALYZER_PHASE_ERROR;
            m->done = true;
            s_say (m->message, sizeof m->message,
                      "%u consecutive errors (%s), consecutiveErrorLimit %u",
                      m->tally.consecutive_errors, m->last_bad,
                      def->limits.consecutive_error_limit);
        }
        return;
    }
    s_window_add (&m->canary, m->fetch [0].values, m->fetch [0].count);
    s_window_add (&m->baseline, m->fetch [1].values, m->fetch [1].count);
    if (m->fetch [0].count) {
        m->has_value = true;
        m->value = m->fetch [0].values [m->fetch [0].count - 1];
    }
    flot_judge_verdict_t verdict;
    memset (&verdict, 0, sizeof verdict);
    if (flot_judge_metric (&def->judge, m->canary.values, m->canary.count,
                           m->baseline.values, m->baseline.count, &verdict)) {
        flot_tally_add (&m->tally, FLOT_ANALYZER_PHASE_ERROR);
        s_say (m->message, sizeof m->message, "error: %s", verdict.reason);
        m->phase = FLOT_ANALYZER_PHASE_ERROR;
        m->done = true;
        return;
    }
    m->verdict = verdict;
    m->has_verdict = true;
    flot_analyzer_phase_t outcome = s_class_phase (def, verdict.cls);
    flot_tally_add (&m->tally, outcome);
    s_say (m->message, sizeof m->message, "%s", verdict.reason);
    if (m->tally.counted >= def->limits.count) {
        m->phase = outcome;
        m->done = true;
    }
    else
        m->phase = FLOT_ANALYZER_PHASE_RUNNING;
}

//  Every fetch of the measurement is in.
static void
s_measured (mstate_t *m)
{
    if (m->def->is_judge)
        s_judge_measured (m);
    else
        s_threshold_measured (m);
    for (int r = 0; r < 2; r++) {
        free (m->fetch [r].values);
        m->fetch [r].values = NULL;
        m->fetch [r].count = 0;
    }
    run_t *run = m->run;
    if (!m->done)
        m->timer = flot_loop_timer (flot_actor_loop (run->analyzer->actor),
                                (size_t) m->def->interval_ms, 1, s_on_measure, m);
    s_run_update (run);
}

static void
s_fetched (void *arg, const double *values, size_t count, const char *error)
{
    fetch_t *f = arg;
    mstate_t *m = f->metric;
    if (!f->pending || m->run->over)
        return;
    f->pending = false;
    if (error)
        s_say (f->error, sizeof f->error, "%s", error);
    else
    if (count) {
        f->values = malloc (count * sizeof (double));
        assert (f->values);
        memcpy (f->values, values, count * sizeof (double));
        f->count = count;
    }
    if (--m->pending == 0)
        s_measured (m);
}

//  Starts one fetch; a synchronous answer (pushed samples, a template or a
//  start error) is stored at once with pending false.
static void
s_fetch_start (mstate_t *m, int role)
{
    run_t *run = m->run;
    analyzer_t *self = run->analyzer;
    fetch_t *f = &m->fetch [role];
    const flot_provider_t *provider = &m->def->provider;
    const flot_health_context_t *context = s_role_context (run, role);
    const char *role_name = s_role_name (role);
    f->metric = m;
    f->role = role;
    f->kind = provider->kind;
    f->error [0] = 0;
    f->values = NULL;
    f->count = 0;
    f->pending = false;
    if (provider->kind == FLOT_PROVIDER_PUSHED) {
        series_t *series = s_series_find (self, provider->metric, s_role_target (run, role),
                                          role_name);
        f->values = s_series_read (series, &f->cursor, &f->count);
        return;
    }
    char err [300];
    if (provider->kind == FLOT_PROVIDER_PROMETHEUS) {
        char *query = flot_template_expand (provider->query, context, role_name, err, sizeof err);
        if (query) {
            f->id = flot_prometheus_query (self->prometheus, provider->address, query,
                                           provider->range_ms, provider->step_ms,
                                           provider->timeout_ms, s_fetched, f, err, sizeof err);
            free (query);
        }
        f->pending = query && f->id;
    }
    else {
        char **argv = s_command_argv (self, provider, context, role_name, err, sizeof err);
        if (argv)
            f->id = flot_commands_run (self->commands, argv, provider->timeout_ms,
                                       s_fetched, f, err, sizeof err);
        f->pending = argv && f->id;
        s_argv_free (argv);
    }
    if (!f->pending)
        s_say (f->error, sizeof f->error, "%s (%s)", err, role_name);
}

static void
s_measure (mstate_t *m)
{
    int roles = m->def->is_judge ? 2 : 1;
    m->pending = 0;
    for (int r = 0; r < roles; r++) {
        s_fetch_start (m, r);
        m->pending += m->fetch [r].pending;
    }
    if (m->pending == 0)
        s_measured (m);
}

//  --------------------------------------------------------------------------
//  Assessing a run

//  Scores the judge metrics that have a verdict into run->score (the score
//  reported). decisive gets the score of those whose verdict is decided
//  (not INCONCLUSIVE): an inconclusive metric pauses the run at its end but
//  must not roll it back, so rollbacks are decided on that one. Returns
//  true if decisive was computed; *all says whether every judge metric has
//  a verdict.
static bool
s_score (run_t *run, bool *all, flot_judge_score_t *decisive)
{
    const flot_analysis_t *a = run->analysis;
    flot_judge_metric_t metrics [FLOT_ANALYSIS_MAX_METRICS], sure_metrics [FLOT_ANALYSIS_MAX_METRICS];
    flot_judge_verdict_t verdicts [FLOT_ANALYSIS_MAX_METRICS], sure [FLOT_ANALYSIS_MAX_METRICS];
    size_t count = 0, judges = 0, sure_count = 0;
    for (size_t i = 0; i < a->metric_count; i++) {
        const mstate_t *m = &run->metrics [i];
        if (!m->def->is_judge)
            continue;
        judges++;
        if (m->has_verdict) {
            metrics [count] = m->def->judge;
            verdicts [count++] = m->verdict;
            if (m->verdict.cls != FLOT_CLASS_INCONCLUSIVE) {
                sure_metrics [sure_count] = m->def->judge;
                sure [sure_count++] = m->verdict;
            }
        }
    }
    *all = count == judges;
    flot_judge_scoring_t scoring = {
        .pass_score = a->pass_score, .marginal_score = a->marginal_score,
        .groups = a->groups, .group_count = a->group_count
    };
    run->has_score = count && flot_judge_score (metrics, verdicts, count, &scoring, &run->score) == 0;
    return sure_count && flot_judge_score (sure_metrics, sure, sure_count, &scoring, decisive) == 0;
}

//  Recommendation by the rules of SPEC.md section 20. final: every metric
//  is done (or the run was stopped).
static bool
s_assess (run_t *run, bool final)
{
    const flot_analysis_t *a = run->analysis;
    bool all_done = true, judges = false;
    const mstate_t *worst = NULL;
    for (size_t i = 0; i < a->metric_count; i++) {
        const mstate_t *m = &run->metrics [i];
        all_done &= m->done;
        judges |= m->def->is_judge;
        //  A threshold metric that failed, or any metric in error: at once.
        if (m->done && (m->phase == FLOT_ANALYZER_PHASE_ERROR
                    || (m->phase == FLOT_ANALYZER_PHASE_FAILED && !m->def->is_judge))
        &&  (!worst || flot_phase_worse (m->phase, worst->phase)))
            worst = m;
    }
    if (worst) {
        run->phase = worst->phase;
        run->recommendation = "rollback";
        s_say (run->reason, sizeof run->reason, "%s: %s", worst->def->name, worst->message);
        return true;
    }
    bool scored_all = false;
    flot_judge_score_t decisive;
    bool decided = judges && s_score (run, &scored_all, &decisive);
    //  Kayenta's early stop: a critical judge metric that is already worse,
    //  or an interim score at or below marginalScore (unless metrics have
    //  no data yet).
    for (size_t i = 0; i < a->metric_count; i++) {
        const mstate_t *m = &run->metrics [i];
        if (m->def->is_judge && m->def->judge.critical && m->has_verdict
        &&  (m->verdict.cls == FLOT_CLASS_HIGH || m->verdict.cls == FLOT_CLASS_LOW
        ||  (m->done && m->phase == FLOT_ANALYZER_PHASE_FAILED))) {
            run->phase = FLOT_ANALYZER_PHASE_FAILED;
            run->recommendation = "rollback";
            s_say (run->reason, sizeof run->reason, "%s (critical): %s",
                      m->def->name, m->verdict.reason);
            return true;
        }
    }
    if (decided && scored_all && decisive.outcome == FLOT_SCORE_FAIL
    &&  (decisive.nodata == 0 || all_done || final)) {
        run->phase = FLOT_ANALYZER_PHASE_FAILED;
        run->recommendation = "rollback";
        //  Which metric brought the score down, and by how much, first.
        const mstate_t *low = NULL;
        for (size_t i = 0; i < a->metric_count && !low; i++) {
            const mstate_t *m = &run->metrics [i];
            if (m->def->is_judge && m->has_verdict
            &&  (m->verdict.cls == FLOT_CLASS_HIGH || m->verdict.cls == FLOT_CLASS_LOW))
                low = m;
        }
        if (low)
            s_say (run->reason, sizeof run->reason, "%s; score %.2f <= marginalScore %g",
                   low->verdict.reason, decisive.score, a->marginal_score);
        else
            s_say (run->reason, sizeof run->reason, "score %.2f <= marginalScore %g: %s",
                   decisive.score, a->marginal_score, decisive.reason);
        return true;
    }
    if (!all_done && !final) {
        run->phase = FLOT_ANALYZER_PHASE_RUNNING;
        run->recommendation = "continue";
        s_say (run->reason, sizeof run->reason, "measuring");
        for (size_t i = 0; i < a->metric_count; i++)
            if (!run->metrics [i].done) {
                const mstate_t *m = &run->metrics [i];
                s_say (run->reason, sizeof run->reason, "%s: %u of %u measurements taken",
                          m->def->name, m->tally.counted, m->def->limits.count);
                break;
            }
        return false;
    }
    //  The end: anything inconclusive, or a marginal score, pauses.
    for (size_t i = 0; i < a->metric_count; i++) {
        const mstate_t *m = &run->metrics [i];
        //  Judge metrics that failed, or have no data they need not have,
        //  are the score's to weigh (as Kayenta).
        bool scored_away = m->def->is_judge && m->has_verdict
                        && (m->phase == FLOT_ANALYZER_PHASE_FAILED || m->verdict.cls == FLOT_CLASS_NODATA);
        if (m->phase != FLOT_ANALYZER_PHASE_SUCCESSFUL && !scored_away) {
            run->phase = FLOT_ANALYZER_PHASE_INCONCLUSIVE;
            run->recommendation = "pause";
            s_say (run->reason, sizeof run->reason, "%s: %s", m->def->name, m->message);
            return true;
        }
    }
    if (judges && (!run->has_score || run->score.outcome != FLOT_SCORE_PASS)) {
        run->phase = FLOT_ANALYZER_PHASE_INCONCLUSIVE;
        run->recommendation = "pause";
        s_say (run->reason, sizeof run->reason, "score %.2f is between marginalScore %g and "
                  "passScore %g: %s", run->has_score ? run->score.score : 0,
                  a->marginal_score, a->pass_score, run->has_score ? run->score.reason : "");
        return true;
    }
    run->phase = FLOT_ANALYZER_PHASE_SUCCESSFUL;
    run->recommendation = "promote";
    if (judges)
        s_say (run->reason, sizeof run->reason, "score %.2f >= passScore %g; every metric passed",
                  run->score.score, a->pass_score);
    else
        s_say (run->reason, sizeof run->reason, "every metric passed");
    return true;
}

//  After a measurement: assess; end the run or stream an interim RESULT.
static void
s_run_update (run_t *run)
{
    if (run->over)
        return;
    if (s_assess (run, false)) {
        s_run_finish (run);
        return;
    }
    if (run->stream) {
        flot_analyzer_result_t result = s_result (run, false);
        flot_stream_push (run->analyzer->actor, run->stream, &result);
    }
}

//  --------------------------------------------------------------------------
//  Analyze, StartAnalysis, StopAnalysis

//  Every command provider of analysis names a program of the hooks
//  directory, or the run is refused before anything runs.
static int
s_commands_allowed (analyzer_t *self, const flot_analysis_t *analysis, flot_err_t *err)
{
    for (size_t i = 0; i < analysis->metric_count; i++) {
        const flot_provider_t *provider = &analysis->metrics [i].provider;
        char path [2048], why [256];
        if (provider->kind == FLOT_PROVIDER_COMMAND
        &&  flot_hook_resolve (self->hooks_dir, provider->command, &flot_hook_kind_provider,
                               path, sizeof path, why, sizeof why))
            return flot_err_set (err, FLOT_E_INVALID, "analysis.metrics[%zu].provider: %s",
                                 i, why);
    }
    return 0;
}

//  A new run from the request (a RUN), or NULL after an error reply.
static run_t *
s_run_new (analyzer_t *self, flot_request_t **request_p)
{
    const flot_analyzer_run_t *args = flot_request_args (*request_p);
    flot_err_t err;
    if (zlistx_size (self->runs) >= MAX_RUNS) {
        flot_request_error (request_p, FLOT_E_BUSY, "%d analyses are running; try later", MAX_RUNS);
        return NULL;
    }
    run_t *run = calloc (1, sizeof *run);
    assert (run);
    run->analyzer = self;
    run->deadline_timer = -1;
    run->recommendation = "continue";
    //  The contexts outlive the request (a StartAnalysis is answered at once).
    int rc = 0;
    run->zone = msgpack_zone_new (1024);
    if (!run->zone
    ||  !(run->context = flot_context_copy (args->context, run->zone))
    ||  (args->baseline && !(run->baseline = flot_context_copy (args->baseline, run->zone))))
        rc = flot_err_set (&err, FLOT_E_INTERNAL, "out of memory");
    if (rc == 0 && !(run->analysis = flot_analysis_parse (args->analysis, "analysis", &err)))
        rc = -1;
    if (rc == 0)
        rc = s_commands_allowed (self, run->analysis, &err);
    if (rc) {
        flot_analysis_destroy (&run->analysis);
        if (run->zone)
            msgpack_zone_free (run->zone);
        free (run);
        flot_request_fail (request_p, &err);
        return NULL;
    }
    run->metrics = calloc (run->analysis->metric_count, sizeof (mstate_t));
    run->out = calloc (run->analysis->metric_count + 1, sizeof (flot_analyzer_metric_t));
    assert (run->metrics && run->out);
    run->handle = zlistx_add_end (self->runs, run);
    flot_loop_t *loop = flot_actor_loop (self->actor);
    for (size_t i = 0; i < run->analysis->metric_count; i++) {
        mstate_t *m = &run->metrics [i];
        m->run = run;
        m->def = &run->analysis->metrics [i];
        m->phase = FLOT_ANALYZER_PHASE_PENDING;
        m->fetch [0].metric = m->fetch [1].metric = m;
        s_say (m->message, sizeof m->message, "waiting for the first measurement");
        m->timer = flot_loop_timer (loop, m->def->initial_delay_ms > 0
                                      ? (size_t) m->def->initial_delay_ms : 1,
                                1, s_on_measure, m);
    }
    s_assess (run, false);
    return run;
}

static void
s_analyze (flot_actor_t *actor, flot_request_t *request)
{
    analyzer_t *self = flot_actor_state (actor);
    run_t *run = s_run_new (self, &request);
    if (!run)
        return;
    run->request = request;
    int64_t left = flot_request_deadline (request) - zclock_mono ();
    if (left > 0)
        run->deadline_timer = flot_loop_timer (flot_actor_loop (actor), (size_t) left, 1,
                                           s_on_deadline, run);
}

static void
s_start_analysis (flot_actor_t *actor, flot_request_t *request)
{
    analyzer_t *self = flot_actor_state (actor);
    run_t *run = s_run_new (self, &request);
    if (!run)
        return;
    run->stream = flot_request_open_stream (request, s_stream_cancelled, run);
    if (!run->stream) {
        flot_request_error (&request, FLOT_E_INTERNAL, "cannot open a stream");
        s_run_release (run);
        return;
    }
    flot_analyzer_start_analysis_reply_t reply = { .stream = flot_stream_id (run->stream) };
    flot_request_answer (&request, &reply);
}

static void
s_stop_analysis (flot_actor_t *actor, flot_request_t *request)
{
    analyzer_t *self = flot_actor_state (actor);
    const flot_analyzer_stop_analysis_request_t *args = flot_request_args (request);
    uint64_t id = args->stream;
    flot_stream_t *stream = flot_actor_find_stream (actor, request, id);
    run_t *run = NULL;
    for (run_t *r = zlistx_first (self->runs); r && stream; r = zlistx_next (self->runs))
        if (r->stream == stream)
            run = r;
    if (!run) {
        flot_request_error (&request, FLOT_E_NOT_FOUND,
                            "no analysis stream %llu is open to this caller",
                            (unsigned long long) id);
        return;
    }
    //  As Argo's termination: metrics still running end as they stand, a
    //  threshold metric within its limits successful, a judge metric by its
    //  latest verdict.
    for (size_t i = 0; i < run->analysis->metric_count; i++) {
        mstate_t *m = &run->metrics [i];
        if (m->done)
            continue;
        m->done = true;
        m->phase = !m->def->is_judge ? FLOT_ANALYZER_PHASE_SUCCESSFUL
                 : m->has_verdict ? s_class_phase (m->def, m->verdict.cls)
                 : FLOT_ANALYZER_PHASE_INCONCLUSIVE;
    }
    s_assess (run, true);
    char reason [512];
    s_say (reason, sizeof reason, "stopped: %s", run->reason);
    s_say (run->reason, sizeof run->reason, "%s", reason);
    s_run_finish (run);
    flot_analyzer_stop_analysis_reply_t reply = { .stopped = true };
    flot_request_answer (&request, &reply);
}

//  --------------------------------------------------------------------------
//  Query and Push

static void
s_query_free (query_t *query)
{
    zlistx_delete (query->analyzer->queries, query->handle);
    free (query->expanded);
    free (query);
}

static void
s_query_reply (query_t *query, const double *values, size_t count)
{
    flot_analyzer_query_reply_t reply = {
        .values = { .count = count, .items = (double *) values },
        .query = query->expanded
    };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_analyzer_query_reply_def, &reply, &sbuf);
    if (sbuf.size > FLOT_MAX_BODY) {
        flot_request_error (&query->request, FLOT_E_TOO_LARGE,
                            "%zu values make an answer of %zu bytes, over the limit of %d",
                            count, sbuf.size, FLOT_MAX_BODY);
        msgpack_sbuffer_destroy (&sbuf);
        return;
    }
    flot_request_reply_sbuf (&query->request, &sbuf);
}

static void
s_query_answered (void *arg, const double *values, size_t count, const char *error)
{
    query_t *query = arg;
    if (error)
        flot_request_error (&query->request, FLOT_E_INTERNAL, "%s", error);
    else
        s_query_reply (query, values, count);
    s_query_free (query);
}

static void
s_query (flot_actor_t *actor, flot_request_t *request)
{
    analyzer_t *self = flot_actor_state (actor);
    const flot_analyzer_query_request_t *args = flot_request_args (request);
    const char *role = args->role;
    flot_err_t err;
    if (zlistx_size (self->queries) >= MAX_QUERIES) {
        flot_request_error (&request, FLOT_E_BUSY, "%d queries are running; try later", MAX_QUERIES);
        return;
    }
    flot_provider_t provider;
    if (flot_provider_parse (args->provider, "provider", &provider, &err)) {
        flot_request_fail (&request, &err);
        return;
    }
    //  The templates read the context the contract decoded: a query's
    //  expanded text is its own, so the request's body may go once answered.
    const flot_health_context_t *context = args->context;
    const char *target = context->target;
    query_t *query = calloc (1, sizeof *query);
    assert (query);
    query->analyzer = self;
    query->request = request;
    query->kind = provider.kind;
    query->handle = zlistx_add_end (self->queries, query);
    char why [300] = "";
    if (provider.kind == FLOT_PROVIDER_PUSHED) {
        size_t count = 0;
        uint64_t cursor = 0;
        double *values = s_series_read (s_series_find (self, provider.metric, target, role),
                                        &cursor, &count);
        query->expanded = zsys_sprintf ("pushed %s (target %s, role %s)",
                                        provider.metric, target, role);
        s_query_reply (query, values, count);
        free (values);
        s_query_free (query);
    }
    else
    if (provider.kind == FLOT_PROVIDER_PROMETHEUS) {
        query->expanded = flot_template_expand (provider.query, context, role, why, sizeof why);
        if (query->expanded)
            query->id = flot_prometheus_query (self->prometheus, provider.address, query->expanded,
                                               provider.range_ms, provider.step_ms,
                                               provider.timeout_ms, s_query_answered, query,
                                               why, sizeof why);
    }
    else {
        char **argv = s_command_argv (self, &provider, context, role, why, sizeof why);
        if (argv) {
            query->expanded = s_argv_text (argv);
            query->id = flot_commands_run (self->commands, argv, provider.timeout_ms,
                                           s_query_answered, query, why, sizeof why);
        }
        s_argv_free (argv);
    }
    if (provider.kind != FLOT_PROVIDER_PUSHED && !query->id) {
        flot_request_error (&query->request, FLOT_E_INVALID, "provider: %s", why);
        s_query_free (query);
    }
    flot_provider_clear (&provider);
}

static void
s_push (flot_actor_t *actor, flot_request_t *request)
{
    analyzer_t *self = flot_actor_state (actor);
    const flot_analyzer_push_request_t *args = flot_request_args (request);
    const char *metric = args->metric, *role = args->role;
    const char *target = args->target ? args->target : "";
    const double *values = args->values.items;
    size_t count = args->values.count;
    char *key = s_series_key (metric, target, role);
    series_t *series = zhashx_lookup (self->series, key);
    if (!series) {
        if (zhashx_size (self->series) >= MAX_SERIES) {
            free (key);
            flot_request_error (&request, FLOT_E_BUSY, "%d series are kept already", MAX_SERIES);
            return;
        }
        series = calloc (1, sizeof *series);
        series->ring = malloc (SERIES_KEEP * sizeof (double));
        assert (series && series->ring);
        zhashx_insert (self->series, key, series);
    }
    free (key);
    for (size_t i = 0; i < count; i++) {
        double value = values [i];
        if (series->used < SERIES_KEEP)
            series->ring [(series->start + series->used++) % SERIES_KEEP] = value;
        else {
            series->ring [series->start] = value;
            series->start = (series->start + 1) % SERIES_KEEP;
        }
        series->total++;
    }
    flot_analyzer_push_reply_t reply = { .stored = count, .kept = series->used };
    flot_request_answer (&request, &reply);
}

//  --------------------------------------------------------------------------
//  Life cycle

static int
s_start (flot_actor_t *actor)
{
    analyzer_t *self = calloc (1, sizeof *self);
    assert (self);
    self->actor = actor;
    self->prometheus = flot_prometheus_new (flot_actor_loop (actor));
    if (!self->prometheus) {
        flot_error (WHO, "cannot start libcurl");
        free (self);
        return -1;
    }
    const char *dir = flot_actor_option (actor, "hooks-dir", NULL);
    if (flot_hook_dir (dir, self->hooks_dir, sizeof self->hooks_dir))
        flot_warn (WHO, "the hooks directory '%.200s' cannot be made absolute: "
                   "no command provider runs", dir);
    char why [512];
    if (flot_hook_dir_check (self->hooks_dir, why, sizeof why))
        flot_warn (WHO, "%s: no command provider runs until that is fixed", why);
    self->commands = flot_commands_new (flot_actor_loop (actor),
                                        *self->hooks_dir ? self->hooks_dir : NULL);
    self->runs = zlistx_new ();
    self->dead = flot_defer_new (flot_actor_loop (actor), s_run_free);
    self->queries = zlistx_new ();
    self->series = zhashx_new ();
    zhashx_set_destructor (self->series, s_series_destroy);
    flot_actor_set_state (actor, self);
    return 0;
}

static void
s_stop (flot_actor_t *actor)
{
    analyzer_t *self = flot_actor_state (actor);
    //  Requests and streams still open are answered by the host.
    run_t *run;
    while ((run = zlistx_first (self->runs))) {
        run->request = NULL;
        run->stream = NULL;
        s_run_release (run);
    }
    query_t *query;
    while ((query = zlistx_first (self->queries))) {
        query->request = NULL;
        s_query_free (query);
    }
    flot_prometheus_destroy (&self->prometheus);
    flot_commands_destroy (&self->commands);
    zlistx_destroy (&self->runs);
    flot_defer_destroy (&self->dead);
    zlistx_destroy (&self->queries);
    zhashx_destroy (&self->series);
    free (self);
}

static const flot_command_t s_commands [] = {
    { "Analyze", s_analyze },
    { "StartAnalysis", s_start_analysis },
    { "StopAnalysis", s_stop_analysis },
    { "Query", s_query },
    { "Push", s_push },
    { NULL, NULL }
};

const flot_actor_def_t flot_analyzer_actor = {
    .service = "analyzer",
    .contract = &flot_analyzer_contract,
    .commands = s_commands,
    .start = s_start,
    .stop = s_stop
};
