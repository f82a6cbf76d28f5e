/*  flotilla/template.h - placeholders in operator strings: {target},
    {address}, {version}, {previousVersion}, {deployment}, {role} and
    {label.KEY}, filled from a target's CONTEXT.

    Shared by the health actor (URLs, addresses, headers, command arguments)
    and the analyzer (queries, command arguments). A placeholder is `{`, a
    name, `}`: the name is a letter then letters and digits, or `label.`
    then a label key of [A-Za-z0-9_./-]. An unknown name is an error. `{{` is
    a literal `{`; any other `{` that does not start a placeholder (as in the
    PromQL selector `errors{job="web"}`) is kept as it is. A CONTEXT is a
    msgpack map {"target": str, "address"?: str, "version"?: str,
    "previousVersion"?: str, "deployment"?: str, "labels"?: {str: str}}.
*/
#ifndef FLOTILLA_TEMPLATE_H_INCLUDED
#define FLOTILLA_TEMPLATE_H_INCLUDED

#include <msgpack.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Check a template's placeholders. Returns 0, or -1 with a sentence in err
//  naming the bad placeholder.
int
    flot_template_check (const char *tmpl, char *err, size_t err_cap);

//  Expand a template against context (a map; may be NULL when the template
//  uses no context field) and role (NULL when there is none). Returns a
//  fresh string (the caller frees it), or NULL with a sentence in err, e.g.
//  "{address}: the target has no address".
char *
    flot_template_expand (const char *tmpl, const msgpack_object *context,
                          const char *role, char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif
