/*  flotilla/template.h - placeholders in operator strings: {target},
    {address}, {version}, {previousVersion}, {deployment}, {role} and
    {label.KEY}, filled from a target's CONTEXT.

    Shared by the health actor (URLs, addresses, headers, command arguments)
    and the analyzer (queries, command arguments). An expansion is one
    string, whatever a value holds: a command's argument template fills
    exactly one argument, never splits into words and is never read by a
    shell; a command's name is never a template (flotilla/hook_path.h). A placeholder is `{`, a
    name, `}`: the name is a letter then letters and digits, or `label.`
    then a label key of [A-Za-z0-9_./-]. An unknown name is an error. `{{` is
    a literal `{`; any other `{` that does not start a placeholder (as in the
    PromQL selector `errors{job="web"}`) is kept as it is. A CONTEXT is the
    health contract's (protocol/contracts/health.json), as its codec
    decodes it: flot_health_context_t, whose target, address, version,
    previous_version, deployment and labels fill the placeholders.
*/
#ifndef FLOTILLA_TEMPLATE_H_INCLUDED
#define FLOTILLA_TEMPLATE_H_INCLUDED

#include "flotilla/contract_health.h"

#include <msgpack.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Check a template's placeholders. Returns 0, or -1 with a sentence in err
//  naming the bad placeholder.
int
    flot_template_check (const char *tmpl, char *err, size_t err_cap);

//  Expand a template against context (may be NULL when the template uses
//  no context field; a NULL field is absent) and role (NULL when there is
//  none). Returns a fresh string (the caller frees it), or NULL with a
//  sentence in err, e.g. "{address}: the target has no address".
char *
    flot_template_expand (const char *tmpl, const flot_health_context_t *context,
                          const char *role, char *err, size_t err_cap);

//  A deep copy of context (its strings and labels too) in zone, for a job
//  that outlives the request the context was decoded from: it lives as long
//  as zone. NULL if zone is out of memory.
flot_health_context_t *
    flot_context_copy (const flot_health_context_t *context, msgpack_zone *zone);

#ifdef __cplusplus
}
#endif

#endif
