/*  flotilla/health.h - the health actor (service "health") and its parts:
    the health check config, parsed from msgpack with a path for every
    error, and the prober that runs HTTP(S), TCP and command probes
    concurrently from a zloop without blocking it.

    protocol/contracts/health.json defines the service's messages (SPEC
    section 19 shows them); a CHECK in them is a map that flot_check_new
    parses, whose format is the deployment spec's `healthChecks` section.
*/
#ifndef FLOTILLA_HEALTH_H_INCLUDED
#define FLOTILLA_HEALTH_H_INCLUDED

#include "flotilla/actor.h"
#include "flotilla/contract_health.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const flot_actor_def_t flot_health_actor;

//  --------------------------------------------------------------------------
//  A health check: one `healthChecks` entry. A plain record, filled by
//  flot_check_new and read by the prober and the actor.

typedef enum {
    FLOT_CHECK_HTTP,
    FLOT_CHECK_TCP,
    FLOT_CHECK_COMMAND
} flot_check_kind_t;

#define FLOT_CHECK_MAX_NAME     63      //  bytes in a check's name
#define FLOT_CHECK_MAX_STATUS   16      //  codes and ranges in http.status
#define FLOT_CHECK_MAX_HEADERS  32      //  http.headers entries
#define FLOT_CHECK_MAX_ARGS     64      //  command.args entries
#define FLOT_CHECK_MAX_ENV      64      //  command.env entries
#define FLOT_CHECK_MAX_STRING   4096    //  bytes in any string of a check

typedef struct {
    char *name;
    flot_check_kind_t kind;
    //  http: url and header values are templates
    char *url;
    bool head;                          //  method HEAD (else GET)
    struct { int lo, hi; } status [FLOT_CHECK_MAX_STATUS];
    size_t status_count;
    char *status_text;                  //  as written, e.g. "200-399"
    char *body;                         //  substring wanted, or NULL
    char *header_names [FLOT_CHECK_MAX_HEADERS];
    char *header_values [FLOT_CHECK_MAX_HEADERS];
    size_t header_count;
    bool insecure;
    //  tcp: address ("host:port") is a template
    char *address;
    //  command: args and env values are templates
    char *command;
    char *args [FLOT_CHECK_MAX_ARGS];
    size_t arg_count;
    char *env_names [FLOT_CHECK_MAX_ENV];
    char *env_values [FLOT_CHECK_MAX_ENV];
    size_t env_count;
    //  timing and thresholds
    int64_t timeout_ms;                 //  default 1s
    int64_t period_ms;                  //  default 10s
    int64_t initial_delay_ms;           //  default 0
    uint32_t success_threshold;         //  default 1
    uint32_t failure_threshold;         //  default 3
} flot_check_t;

//  Parse one check (a msgpack map). path prefixes every error, e.g.
//  "healthChecks[0]" gives "healthChecks[0].http.status: "2xx" is not a
//  status, a range or a list". Returns a new check, or NULL with err (code
//  INVALID).
flot_check_t *
    flot_check_new (const msgpack_object *obj, const char *path, flot_err_t *err);

void
    flot_check_destroy (flot_check_t **self_p);

//  Parse a list of checks (a msgpack array of 1..max maps, names unique);
//  path names the list ("checks"). Returns a new array of *count checks, or
//  NULL with err.
flot_check_t **
    flot_checks_new (const msgpack_object *array, const char *path, size_t max,
                     size_t *count, flot_err_t *err);

void
    flot_checks_destroy (flot_check_t ***checks_p, size_t count);

//  "http", "tcp" or "command".
const char *
    flot_check_kind_name (flot_check_kind_t kind);

//  --------------------------------------------------------------------------
//  The prober: runs probes from a zloop. Every probe ends once, with its
//  result passed to its callback from the loop (never from inside
//  flot_prober_start), unless it is cancelled first.

typedef struct _flot_prober_t flot_prober_t;

typedef struct {
    bool healthy;
    char message [512];                 //  why, e.g. "GET http://...: status 503, expected 200-399"
    uint64_t duration_ms;
    int status_code;                    //  the HTTP status, or -1
} flot_probe_result_t;

typedef void (flot_probe_fn) (const flot_probe_result_t *result, void *arg);

//  A prober on loop. Returns NULL if libcurl cannot start.
flot_prober_t *
    flot_prober_new (zloop_t *loop);

//  Stops every running probe (no callbacks), kills their processes.
void
    flot_prober_destroy (flot_prober_t **self_p);

//  Probe check once for the target in context (the health contract's
//  CONTEXT, see flotilla/template.h). The check and the context may be
//  freed once this returns. A template that cannot be filled, or a probe
//  that cannot start, ends unhealthy with the reason. Returns the probe's
//  id (never 0).
uint64_t
    flot_prober_start (flot_prober_t *self, const flot_check_t *check,
                       const flot_health_context_t *context, flot_probe_fn *fn, void *arg);

//  Stop a running probe; its callback is not called. Unknown ids are ignored.
void
    flot_prober_cancel (flot_prober_t *self, uint64_t id);

//  The number of probes running.
size_t
    flot_prober_running (flot_prober_t *self);

#ifdef __cplusplus
}
#endif

#endif
