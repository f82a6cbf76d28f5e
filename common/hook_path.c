/*  hook_path.c - a program named inside an actor host's hooks directory
    (flotilla/hook_path.h): the form of its name, checked by the spec
    parser at plan time and by the actors; its resolution to DIR/NAME, a
    regular executable file, by the executor, the health actor and the
    analyzer just before they run it. The one part of common/ that looks at
    the file system (stats and an access), so that the three actors refuse
    the same names with the same sentences.

    The directory is the host's allow-list, so it is trusted only if no one
    but its owner can change what it holds: DIR, and each folder of it a
    name passes through, must be owned by the actor's effective user or
    root and not be writable by its group or others (sticky or not).
*/
#include "flotilla/hook_path.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const flot_hook_kind_t flot_hook_kind_hook = { "hook", "executor" };
const flot_hook_kind_t flot_hook_kind_probe = { "command probe", "health actor" };
const flot_hook_kind_t flot_hook_kind_provider = { "command provider", "analyzer" };

//  The name quoted for a sentence: printable, at most 64 bytes shown.
static const char *
s_quoted (const char *name, char *buffer, size_t cap)
{
    size_t i = 0;
    buffer [i++] = '\'';
    for (const char *c = name; *c && i < 65 && i + 6 < cap; c++)
        buffer [i++] = (unsigned char) *c < 0x20 || *c == 0x7f ? '?' : *c;
    if (strlen (name) > 64 && i + 5 < cap) {
        memcpy (buffer + i, "...", 3);
        i += 3;
    }
    buffer [i++] = '\'';
    buffer [i] = 0;
    return buffer;
}

static bool
s_name_char (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '.' || c == '_' || c == '-';
}

//  The component of name at p (up to '/' or the end): its size.
static size_t
s_component (const char *p)
{
    const char *end = strchr (p, '/');
    return end ? (size_t) (end - p) : strlen (p);
}

int
flot_hook_name_check (const char *name, const flot_hook_kind_t *kind, char *why, size_t cap)
{
    char quoted [80], tail [160];
    snprintf (tail, sizeof tail, "a %s names a program in the %s's hooks directory "
              "(--hooks-dir)", kind->what, kind->host);
    s_quoted (name, quoted, sizeof quoted);
    const char *rest = strncmp (name, "./", 2) == 0 ? name + 2 : name;
    if (!*name) {
        snprintf (why, cap, "'' is empty: %s", tail);
        return -1;
    }
    if (strlen (name) > FLOT_HOOK_NAME_MAX) {
        snprintf (why, cap, "%s is longer than %d bytes: %s", quoted, FLOT_HOOK_NAME_MAX, tail);
        return -1;
    }
    if (*name == '/') {
        snprintf (why, cap, "%s is an absolute path: %s", quoted, tail);
        return -1;
    }
    if (strchr (name, '{')) {
        snprintf (why, cap, "%s is taken literally and holds '{': no template names a "
                  "program; %s", quoted, tail);
        return -1;
    }
    //  '..' first: it is the one that means to leave.
    for (const char *p = rest; ; p += s_component (p) + 1) {
        if (s_component (p) == 2 && p [0] == '.' && p [1] == '.') {
            snprintf (why, cap, "%s leaves the hooks directory ('..'): %s", quoted, tail);
            return -1;
        }
        if (!p [s_component (p)])
            break;
    }
    for (const char *p = rest; ; p += s_component (p) + 1) {
        size_t size = s_component (p);
        if (size == 0) {
            snprintf (why, cap, "%s has an empty component ('//', or a '/' at an end): %s",
                      quoted, tail);
            return -1;
        }
        if (size == 1 && *p == '.') {
            snprintf (why, cap, "%s has a '.' component: %s", quoted, tail);
            return -1;
        }
        for (size_t i = 0; i < size; i++)
            if (!s_name_char (p [i])) {
                unsigned char c = (unsigned char) p [i];
                char shown [8];
                if (c < 0x20 || c >= 0x7f)
                    snprintf (shown, sizeof shown, "\\x%02x", c);
                else
                    snprintf (shown, sizeof shown, "%c", c);
                snprintf (why, cap, "%s holds '%s': a name is made of [A-Za-z0-9._-] "
                          "and '/'; %s", quoted, shown, tail);
                return -1;
            }
        if (!p [size])
            break;
    }
    return 0;
}

//  0 if a directory (its stat) may be trusted to hold what a host runs: only
//  its owner, this process's user or root, may change what it holds;
//  else -1 with the reason in reason.
static int
s_owner_only (const struct stat *st, char *reason, size_t cap)
{
    uid_t self = geteuid ();
    if (st->st_uid != self && st->st_uid != 0) {
        if (self == 0)
            snprintf (reason, cap, "its owner is uid %u, not root (the user this host "
                      "runs as): its owner chooses what runs", (unsigned) st->st_uid);
        else
            snprintf (reason, cap, "its owner is uid %u, neither the user this host runs "
                      "as (uid %u) nor root: its owner chooses what runs",
                      (unsigned) st->st_uid, (unsigned) self);
        return -1;
    }
    mode_t writable = st->st_mode & (S_IWGRP | S_IWOTH);
    if (writable) {
        snprintf (reason, cap, "it is writable by %s (mode %04o): whoever can write to it "
                  "chooses what runs (chmod go-w)",
                  writable == S_IWGRP ? "its group"
                : writable == S_IWOTH ? "others" : "its group and others",
                  (unsigned) (st->st_mode & 07777));
        return -1;
    }
    return 0;
}

//  0 if each folder of the hooks directory that path (DIR/NAME, DIR being
//  its first base bytes) passes through may be trusted as DIR is; else -1
//  with a whole sentence in why. A folder that is missing or is no
//  directory is left to the stat of the program, which says so.
static int
s_folders_trusted (char *path, size_t base, const flot_hook_kind_t *kind,
                   const char *quoted, const char *dir, char *why, size_t cap)
{
    for (char *slash = strchr (path + base, '/'); slash; slash = strchr (slash + 1, '/')) {
        struct stat st;
        char reason [200];
        *slash = 0;
        int untrusted = stat (path, &st) == 0 && S_ISDIR (st.st_mode)
                     && s_owner_only (&st, reason, sizeof reason);
        if (untrusted)
            snprintf (why, cap, "%s %s: the folder %.60s of the %s's hooks directory %.100s "
                      "cannot be used: %s", kind->what, quoted, path + base, kind->host,
                      dir, reason);
        *slash = '/';
        if (untrusted)
            return -1;
    }
    return 0;
}

//  0 if dir is a directory this host may trust; else -1 with the reason.
static int
s_dir_usable (const char *dir, char *reason, size_t cap)
{
    struct stat st;
    if (stat (dir, &st)) {
        snprintf (reason, cap, "%s", strerror (errno));
        return -1;
    }
    if (!S_ISDIR (st.st_mode)) {
        snprintf (reason, cap, "it is not a directory");
        return -1;
    }
    return s_owner_only (&st, reason, cap);
}

int
flot_hook_dir_check (const char *dir, char *why, size_t cap)
{
    char reason [200];
    if (!dir || !*dir || s_dir_usable (dir, reason, sizeof reason) == 0)
        return 0;
    snprintf (why, cap, "the hooks directory %.200s cannot be used: %s", dir, reason);
    return -1;
}

int
flot_hook_resolve (const char *dir, const char *name, const flot_hook_kind_t *kind,
                   char *path, size_t path_cap, char *why, size_t cap)
{
    char quoted [80], reason [256];
    *path = 0;
    if (!dir || !*dir) {
        snprintf (why, cap, "this %s has no hooks directory (flotillad --hooks-dir): "
                  "it runs no %s", kind->host, kind->what);
        return -1;
    }
    if (flot_hook_name_check (name, kind, reason, sizeof reason)) {
        snprintf (why, cap, "%s %s", kind->what, reason);
        return -1;
    }
    s_quoted (name, quoted, sizeof quoted);
    if (s_dir_usable (dir, reason, sizeof reason)) {
        snprintf (why, cap, "%s %s: the %s's hooks directory %.100s cannot be used: %s",
                  kind->what, quoted, kind->host, dir, reason);
        return -1;
    }
    const char *rest = strncmp (name, "./", 2) == 0 ? name + 2 : name;
    size_t base = strlen (dir) + (dir [strlen (dir) - 1] == '/' ? 0 : 1);
    if ((size_t) snprintf (path, path_cap, "%s%s%s", dir,
                           dir [strlen (dir) - 1] == '/' ? "" : "/", rest) >= path_cap) {
        snprintf (why, cap, "%s %s: its path in %.100s is too long", kind->what, quoted, dir);
        *path = 0;
        return -1;
    }
    if (s_folders_trusted (path, base, kind, quoted, dir, why, cap)) {
        *path = 0;
        return -1;
    }
    struct stat st;
    if (stat (path, &st)) {
        snprintf (why, cap, "%s %s is not in the %s's hooks directory %.100s (%s)",
                  kind->what, quoted, kind->host, dir, strerror (errno));
        *path = 0;
        return -1;
    }
    if (!S_ISREG (st.st_mode)) {
        snprintf (why, cap, "%s %s in the hooks directory %.100s is not a regular file",
                  kind->what, quoted, dir);
        *path = 0;
        return -1;
    }
    if (access (path, X_OK)) {
        snprintf (why, cap, "%s %s in the hooks directory %.100s is not executable (%s)",
                  kind->what, quoted, dir, strerror (errno));
        *path = 0;
        return -1;
    }
    return 0;
}

int
flot_hook_dir (const char *value, char *out, size_t cap)
{
    *out = 0;
    if (!value || !*value)
        return 0;
    if (*value == '/') {
        if ((size_t) snprintf (out, cap, "%s", value) < cap)
            return 0;
        *out = 0;
        return -1;
    }
    char here [4096];
    if (!getcwd (here, sizeof here))
        return -1;
    if ((size_t) snprintf (out, cap, "%s/%s", here, value) < cap)
        return 0;
    *out = 0;
    return -1;
}
