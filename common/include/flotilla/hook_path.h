/*  flotilla/hook_path.h - what an actor host may run: a program named
    inside its hooks directory (flotillad --hooks-dir, the actor option
    "hooks-dir").

    A step's hook (the executor), a health check's command probe (the
    health actor) and an analyzer command provider each name a file inside
    the host's hooks directory: nothing taken from the wire is run as given.
    A name is a relative path of components made of [A-Za-z0-9._-] (a
    leading "./" allowed and dropped), no "." or ".." component, no empty
    one, at most FLOT_HOOK_NAME_MAX bytes; it is taken literally, so a
    template ({...}) never names a program. It resolves to DIR/NAME, which
    must be a regular executable file; a symbolic link inside DIR is
    followed, since the operator put it there: the directory is the host's
    allow-list (protocol/SPEC.md section 17.1). So DIR, and each folder of
    it a name passes through, is trusted only if it is owned by the
    actor's effective user or root and is not writable by its group or
    others; else every name in it is refused.

    The spec parser checks a name's form at plan time (flot_hook_name_check:
    no file is looked at); the actors resolve it where they run it
    (flot_hook_resolve).
*/
#ifndef FLOTILLA_HOOK_PATH_H_INCLUDED
#define FLOTILLA_HOOK_PATH_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FLOT_HOOK_NAME_MAX  255     //  bytes in a program's name

//  Who runs a program, for the sentences: what it is ("hook", "command
//  probe", "command provider") and the actor whose hooks directory holds
//  it ("executor", "health actor", "analyzer").
typedef struct {
    const char *what;
    const char *host;
} flot_hook_kind_t;

extern const flot_hook_kind_t flot_hook_kind_hook;
extern const flot_hook_kind_t flot_hook_kind_probe;
extern const flot_hook_kind_t flot_hook_kind_provider;

//  0 if name has the form of a program's name in a hooks directory; else
//  -1 with a sentence in why that starts with the quoted name, e.g.
//  "'/bin/sh' is an absolute path: a hook names a program in the
//  executor's hooks directory (--hooks-dir)". Looks at no file.
int
    flot_hook_name_check (const char *name, const flot_hook_kind_t *kind,
                          char *why, size_t cap);

//  Resolves name inside dir (NULL or "": this host has none, and runs
//  nothing): 0 with DIR/NAME (the leading "./" dropped) in path, a regular
//  executable file; else -1 with a whole sentence in why, e.g. "hook '../x'
//  leaves the hooks directory: ...", "this executor has no hooks
//  directory (flotillad --hooks-dir): it runs no hook", or "hook 'x.sh':
//  the executor's hooks directory /srv/hooks cannot be used: it is
//  writable by others (mode 0777): whoever can write to it chooses what
//  runs (chmod go-w)".
int
    flot_hook_resolve (const char *dir, const char *name, const flot_hook_kind_t *kind,
                       char *path, size_t path_cap, char *why, size_t cap);

//  0 if dir (absolute, as flot_hook_dir makes it; NULL or "": none) can be
//  used as a hooks directory: it exists, is a directory, is owned by this
//  process's effective user or root, and is not writable by its group or
//  others. Else -1 with a sentence in why, e.g. "the hooks directory
//  /srv/hooks cannot be used: it is writable by others (mode 0777): ...",
//  for the warning an actor logs at start (flot_hook_resolve checks it
//  again each time it resolves a name).
int
    flot_hook_dir_check (const char *dir, char *why, size_t cap);

//  The actor option "hooks-dir" made absolute (relative to the current
//  directory) into out; "" if value is NULL or empty. Returns 0, or -1 if
//  it does not fit or the current directory is unknown (out is "").
int
    flot_hook_dir (const char *value, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
