/*  env_policy.c - the environment variables a spec may not set for the
    programs a host runs (flotilla/env_policy.h): the deny-list that
    protocol/SPEC.md section 17 states, used by the executor (a hook's env),
    the health actor (a command probe's env, through common/health_checks.c)
    and the spec parser (actors/strategy/spec.c), so that all three refuse
    the same names with the same sentence. Pure code, no I/O.

    TMPDIR stays allowed: it moves where a program writes its temporary
    files, and loads no code.
*/
#include "flotilla/env_policy.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;           //  the name, or its prefix
    bool prefix;                //  every name that starts with it
    const char *why;            //  what reads it
} denied_t;

static const denied_t s_denied [] = {
    //  The dynamic loader and the C library
    { "LD_", true, "the dynamic loader reads LD_*" },
    { "GCONV_PATH", false, "the C library loads modules from it" },
    { "GLIBC_TUNABLES", false, "the C library reads it" },
    { "MALLOC_", true, "the C library's allocator reads MALLOC_*" },
    { "LOCALDOMAIN", false, "the resolver reads it" },
    { "HOSTALIASES", false, "the resolver reads it" },
    { "RES_OPTIONS", false, "the resolver reads it" },
    //  Which program a name runs
    { "PATH", false, "it chooses the program a name runs" },
    //  Shells
    { "BASH_ENV", false, "a shell runs the file it names" },
    { "ENV", false, "a shell runs the file it names" },
    { "BASH_FUNC_", true, "bash defines functions from BASH_FUNC_*" },
    { "IFS", false, "it changes how a shell splits words" },
    { "SHELLOPTS", false, "it sets a shell's options" },
    { "BASHOPTS", false, "it sets a shell's options" },
    { "PS4", false, "a shell expands it when it traces" },
    { "CDPATH", false, "it changes where a shell's cd goes" },
    { "GLOBIGNORE", false, "it changes how a shell expands names" },
    //  Interpreters
    { "PYTHON", true, "Python reads PYTHON* (PYTHONPATH, PYTHONSTARTUP, PYTHONHOME...)" },
    { "PERL5", true, "Perl reads PERL5* (PERL5LIB, PERL5OPT...)" },
    { "PERLLIB", false, "Perl loads modules from it" },
    { "RUBYOPT", false, "Ruby reads its options from it" },
    { "RUBYLIB", false, "Ruby loads code from it" },
    { "NODE_OPTIONS", false, "Node.js reads its options from it" },
    { "NODE_PATH", false, "Node.js loads modules from it" },
    { "JAVA_TOOL_OPTIONS", false, "the JVM reads its options from it" },
    { "_JAVA_OPTIONS", false, "the JVM reads its options from it" },
    { "JDK_JAVA_OPTIONS", false, "the JVM reads its options from it" },
    { "LUA_INIT", true, "Lua runs LUA_INIT*" },
    { "LUA_PATH", true, "Lua loads modules from LUA_PATH*" },
    { "LUA_CPATH", true, "Lua loads modules from LUA_CPATH*" },
    //  Ours
    { "FLOTILLA_", true, "Flotilla sets FLOTILLA_* itself" },
    { NULL, false, NULL }
};

//  The name, printable and at most 64 bytes, for a sentence.
static const char *
s_shown (const char *name, char *buffer, size_t cap)
{
    size_t i = 0;
    for (; name [i] && i < 64 && i + 4 < cap; i++)
        buffer [i] = (unsigned char) name [i] < 0x20 || name [i] == 0x7f ? '?' : name [i];
    if (name [i] && i + 4 < cap) {
        memcpy (buffer + i, "...", 3);
        i += 3;
    }
    buffer [i] = 0;
    return buffer;
}

int
flot_env_name_check (const char *name, char *why, size_t cap)
{
    char shown [72];
    bool form = (isalpha ((unsigned char) *name) || *name == '_');
    for (const char *c = name; form && *c; c++)
        form = isalnum ((unsigned char) *c) || *c == '_';
    if (!form) {
        snprintf (why, cap, "'%s' is not a variable name: a letter or '_', then letters, "
                  "digits and '_'", s_shown (name, shown, sizeof shown));
        return -1;
    }
    for (const denied_t *d = s_denied; d->name; d++)
        if (d->prefix ? strncmp (name, d->name, strlen (d->name)) == 0
                      : strcmp (name, d->name) == 0) {
            snprintf (why, cap, "%s changes how a program is loaded or run (%s): a spec "
                      "may not set it", s_shown (name, shown, sizeof shown), d->why);
            return -1;
        }
    return 0;
}
