/*  flotilla/env_policy.h - the environment variables a spec may not set
    for a program it runs (a step's hook, a command probe).

    A spec chooses the values of some variables in the environment of the
    programs a host runs; it may not choose variables that change how a
    program is loaded or run: those would let a spec run code the host did
    not allow (LD_PRELOAD, BASH_ENV, PATH, PYTHONSTARTUP, GIT_SSH_COMMAND,
    HOME...). The list, in one place for the executor, the health actor
    and the spec parser, is stated in protocol/SPEC.md section 17.1. It is
    a deny-list, so it cannot be complete: it covers the loader, shells and
    the common programs a deploy hook runs; a hook that needs one of these
    variables sets it itself.
*/
#ifndef FLOTILLA_ENV_POLICY_H_INCLUDED
#define FLOTILLA_ENV_POLICY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  0 if a spec may set variable name; else -1 with a sentence in why that
//  names it, e.g. "LD_PRELOAD changes how a program is loaded or run (the
//  dynamic loader reads LD_*): a spec may not set it". A name is a letter
//  or '_', then letters, digits and '_' (so no BASH_FUNC_f%%).
int
    flot_env_name_check (const char *name, char *why, size_t cap);

//  The deny-list's entry at index (from 0), or NULL past its end: a name,
//  or with *prefix a prefix that denies every name starting with it;
//  *any_case says it is compared ignoring case (npm_config_). For the test
//  that compares the list with SPEC's table.
const char *
    flot_env_denied (size_t index, bool *prefix, bool *any_case);

#ifdef __cplusplus
}
#endif

#endif
