/*  flotilla/analysis_section.h - the `analysis` section of a deployment
    spec: its metrics, their providers, conditions, limits and judge
    parameters, parsed from msgpack with a path in every error
    ("analysis.metrics[0].failureLimit: -1 is not >= 0").

    Pure parsing (common/analysis_section.c, in the flot_common library):
    the spec parser (actors/strategy/spec.c) validates a spec's section with
    it, and the analyzer actor (flotilla/analysis.h) parses the section of
    its requests with it, then runs the metrics. The section's form is in
    protocol/SPEC.md section 20.
*/
#ifndef FLOTILLA_ANALYSIS_SECTION_H_INCLUDED
#define FLOTILLA_ANALYSIS_SECTION_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "flotilla/condition.h"
#include "flotilla/judge.h"
#include "flotilla/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

//  --------------------------------------------------------------------------
//  The analysis section

typedef enum {
    FLOT_PROVIDER_PROMETHEUS,
    FLOT_PROVIDER_COMMAND,
    FLOT_PROVIDER_PUSHED
} flot_provider_kind_t;

#define FLOT_ANALYSIS_MAX_METRICS   64
#define FLOT_ANALYSIS_MAX_ARGS      64
#define FLOT_ANALYSIS_MAX_COUNT     100000
#define FLOT_ANALYSIS_MAX_MS        86400000    //  durations: at most a day

typedef struct {
    flot_provider_kind_t kind;
    //  prometheus
    char *address;                      //  base URL, http:// or https://
    char *query;                        //  (T)
    int64_t range_ms;                   //  0: instant query
    int64_t step_ms;                    //  range query step, default 5s
    //  command
    char *command;                      //  a program in the hooks directory, literal
    char **args;                        //  (T)
    size_t arg_count;
    //  prometheus and command
    int64_t timeout_ms;                 //  default 10s
    //  pushed
    char *metric;
} flot_provider_t;

//  A threshold metric's limits (Argo Rollouts' names: count, failureLimit,
//  inconclusiveLimit, consecutiveErrorLimit); the analyzer's
//  flot_threshold_assess reads them.
typedef struct {
    uint32_t count;                     //  measurements to take (errors excluded)
    uint32_t failure_limit;             //  default 0
    uint32_t inconclusive_limit;        //  default 0
    uint32_t consecutive_error_limit;   //  default 4
} flot_threshold_limits_t;

typedef struct {
    char *name;
    flot_provider_t provider;
    bool is_judge;
    //  threshold metrics: at least one condition
    flot_condition_t *success;          //  NULL if not given
    flot_condition_t *failure;          //  NULL if not given
    flot_threshold_limits_t limits;     //  count also for judge metrics (intervals)
    //  judge metrics (name and group point into this metric's strings)
    flot_judge_metric_t judge;
    char *group;
    int64_t interval_ms;                //  default analysis.interval
    int64_t initial_delay_ms;
} flot_analysis_metric_t;

typedef struct {
    int64_t interval_ms;                //  default 10s
    double pass_score;                  //  default 95
    double marginal_score;              //  default 75
    flot_judge_group_t *groups;         //  NULL if not given
    size_t group_count;
    bool background;
    flot_analysis_metric_t *metrics;
    size_t metric_count;
} flot_analysis_t;

//  Parse the section from msgpack (a map). path prefixes every error
//  ("analysis"). Returns a new analysis, or NULL with err (code INVALID,
//  message "PATH: sentence").
flot_analysis_t *
    flot_analysis_parse (const msgpack_object *obj, const char *path, flot_err_t *err);

void
    flot_analysis_destroy (flot_analysis_t **self_p);

//  Parse one provider map (`{"prometheus": {...}}`); for Query. Fills
//  provider (free with flot_provider_clear), or -1 with err.
int
    flot_provider_parse (const msgpack_object *obj, const char *path,
                         flot_provider_t *provider, flot_err_t *err);

void
    flot_provider_clear (flot_provider_t *provider);

#ifdef __cplusplus
}
#endif

#endif
