/*  flotilla/health_checks.h - the deployment spec's `healthChecks`
    section: a health check's config, parsed from msgpack with a path in
    every error.

    Pure parsing (common/health_checks.c, in the flot_common library): the
    spec parser (actors/strategy/spec.c) validates a spec's section with it,
    and the health actor (flotilla/health.h) parses the CHECKs of its
    requests with it, then probes them. The coordinator sends each check as
    the generic msgpack form of its YAML.
*/
#ifndef FLOTILLA_HEALTH_CHECKS_H_INCLUDED
#define FLOTILLA_HEALTH_CHECKS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "flotilla/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif

#endif
