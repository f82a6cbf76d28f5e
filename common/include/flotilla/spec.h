/*  flotilla/spec.h - the deployment spec: a YAML document, parsed and checked.

    The coordinator and the strategy actor parse the spec an operator applies
    (flotctl sends its text); every error is reported with the file, the line
    and the field: "deploy.yaml:14: strategy.canary.steps[2].setWeight: 140 is
    not in 0..100". The document's form is in the README ("The deployment
    spec").
*/
#ifndef FLOTILLA_SPEC_H_INCLUDED
#define FLOTILLA_SPEC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flotilla/duration.h"     //  flot_duration_parse, for the spec's callers

#ifdef __cplusplus
extern "C" {
#endif

#define FLOT_SPEC_MAX_SIZE      (1 << 20)   //  bytes of YAML
#define FLOT_SPEC_MAX_TARGETS   10000
#define FLOT_SPEC_MAX_STEPS     100
#define FLOT_SPEC_MAX_ERRORS    50

typedef enum {
    FLOT_STRATEGY_CANARY,
    FLOT_STRATEGY_BLUEGREEN,
    FLOT_STRATEGY_ROLLING,
    FLOT_STRATEGY_REGISTERED            //  served by another actor (strategy_name)
} flot_strategy_kind_t;

typedef enum {
    FLOT_ON_FAILURE_FAIL_ALL,           //  stop everything, roll back
    FLOT_ON_FAILURE_HOLD_DEPENDENTS,    //  fail this target, hold its dependents
    FLOT_ON_FAILURE_CONTINUE            //  fail this target, go on with the rest
} flot_on_failure_t;

typedef enum {
    FLOT_ROLLBACK_IMMEDIATE,            //  every touched target at once (within maxConcurrency)
    FLOT_ROLLBACK_GRADUAL               //  one dependency level at a time
} flot_rollback_mode_t;

typedef enum {
    FLOT_CSTEP_SET_WEIGHT,
    FLOT_CSTEP_PAUSE,                   //  duration_ms < 0: until promoted
    FLOT_CSTEP_GATE
} flot_cstep_kind_t;

typedef struct {
    char *key;
    char *value;
} flot_label_t;

typedef struct {
    char *name;
    char *address;                      //  "" if not given
    flot_label_t *labels;
    size_t label_count;
    char **depends_on;
    size_t depends_count;
    int wave;                           //  index of the wave it belongs to (0 without waves)
    int line;
} flot_target_t;

typedef struct {
    flot_cstep_kind_t kind;
    int weight;                         //  SET_WEIGHT: 0..100
    int64_t duration_ms;                //  PAUSE: -1 waits for a promote
    char *gate;                         //  GATE: its name
    int line;
} flot_cstep_t;

typedef struct {
    flot_label_t *labels;               //  a target matches if it has them all
    size_t label_count;
    int line;
} flot_wave_t;

typedef struct {
    char *command;
    char **args;
    size_t arg_count;
    flot_label_t *env;
    size_t env_count;
    int64_t timeout_ms;
    int retries;
    int64_t backoff_ms;
} flot_hook_t;

typedef struct {
    char *name;                         //  the deployment's name
    struct {
        char *name;
        char *version;
        char *artifact;                 //  "" if not given
        char *rollback_version;         //  "" if not given
    } workload;
    flot_target_t *targets;
    size_t target_count;
    flot_wave_t *waves;
    size_t wave_count;
    struct {
        flot_strategy_kind_t kind;
        flot_cstep_t *steps;            //  canary
        size_t step_count;
        int64_t keep_old_ms;            //  blue-green: old version kept after the switch
        bool auto_promote;              //  blue-green: switch without a promote
        void *params;                   //  registered: its section as msgpack, or NULL
        size_t params_size;
    } strategy;
    flot_hook_t hook;
    struct {
        flot_on_failure_t on_failure;
        int max_concurrency;            //  a count, or a percentage if percent
        bool percent;
        int max_failures;
        int64_t progress_deadline_ms;
        int64_t soak_ms;
    } policy;
    struct {
        flot_rollback_mode_t mode;
    } rollback;
    //  The healthChecks list and the analysis map, converted to msgpack as
    //  the health and analyzer services read them (NULL if absent). A plain
    //  scalar that reads as a whole number becomes an integer, as a decimal
    //  number a float, true or false a boolean, null or ~ nil; anything else,
    //  and anything quoted, a string.
    struct {
        void *health;
        size_t health_size;
        void *analysis;
        size_t analysis_size;
    } checks;
    void *index;                        //  private: target name -> index + 1
    char *strategy_name;                //  its strategy's name, a registered one included
} flot_spec_t;

//  A section's own parser (healthChecks, analysis): reads the section, a
//  msgpack object, whose path is path. Returns 0, or -1 with "PATH:
//  sentence" in err.
struct msgpack_object;
typedef int (flot_section_check_fn) (const struct msgpack_object *section, const char *path,
                                     char *err, size_t cap);

void
    flot_spec_destroy (flot_spec_t **self_p);

//  The number of targets maxConcurrency allows at once (at least 1).
size_t
    flot_spec_concurrency (const flot_spec_t *self);

//  Index of a target by name, or -1.
int
    flot_spec_target_index (const flot_spec_t *self, const char *name);

//  Fills context, a health.CONTEXT (flotilla/contract_health.h), for target
//  (one of spec's), as a deployment's gates and `flotctl analyze` send it
//  to the health and analyzer services (SPEC sections 19, 20): target is
//  its name, address its address, version version, previousVersion the
//  workload's rollbackVersion, deployment the spec's name, labels its
//  labels. Address, version, previousVersion and labels are left out when
//  the spec has none, so that a template needing them fails instead of expanding to
//  nothing. The strings point into spec and target; the labels are
//  allocated in zone. Returns 0, or -1 if zone is out of memory.
typedef struct _flot_health_context_t flot_health_context_t;
struct msgpack_zone;
int
    flot_context_fill (flot_health_context_t *context, const flot_spec_t *spec,
                       const flot_target_t *target, const char *version,
                       struct msgpack_zone *zone);

#ifdef __cplusplus
}
#endif

#endif
