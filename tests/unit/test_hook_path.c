/*  test_hook_path.c - the hooks directory as an allow-list
    (common/hook_path.c): a program resolves inside a directory only when
    no one but its owner can change what it holds. A directory (or a folder
    of it that a name passes through) writable by its group or by others,
    sticky or not, or owned by a user other than this process's or root,
    is refused with a sentence naming it and why, by flot_hook_resolve and
    by the start-time flot_hook_dir_check; once fixed, it is used again.
    The directories are made by the test under a mkdtemp directory.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "flotilla/hook_path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_tmp [64];                 //  the test's temporary directory (0700)
static char s_hooks [128];              //  s_tmp/hooks, 0755, with run.sh

static int
s_setup (void **state)
{
    (void) state;
    snprintf (s_tmp, sizeof s_tmp, "/tmp/flot-hook-path-XXXXXX");
    assert_non_null (mkdtemp (s_tmp));
    snprintf (s_hooks, sizeof s_hooks, "%s/hooks", s_tmp);
    assert_int_equal (mkdir (s_hooks, 0755), 0);
    assert_int_equal (chmod (s_hooks, 0755), 0);
    char path [256];
    snprintf (path, sizeof path, "%s/run.sh", s_hooks);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs ("#!/bin/sh\nexit 0\n", file);
    fclose (file);
    assert_int_equal (chmod (path, 0755), 0);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    char command [128];
    snprintf (command, sizeof command, "rm -rf %s", s_tmp);
    assert_int_equal (system (command), 0);
    return 0;
}

//  Resolves name in dir: 0 and the path, or -1 and the sentence in why.
static int
s_resolve (const char *dir, const char *name, char *why, size_t cap)
{
    char path [1024];
    int rc = flot_hook_resolve (dir, name, &flot_hook_kind_hook, path, sizeof path, why, cap);
    if (rc == 0) {
        char expected [1024];
        snprintf (expected, sizeof expected, "%s/%s", dir, name);
        assert_string_equal (path, expected);
    }
    else
        assert_string_equal (path, "");
    return rc;
}

static void
s_resolves (const char *dir, const char *name)
{
    char why [512] = "";
    if (s_resolve (dir, name, why, sizeof why))
        fail_msg ("%s in %s refused: %s", name, dir, why);
    assert_int_equal (flot_hook_dir_check (dir, why, sizeof why), 0);
}

static void
test_hook_dir_owned_and_0755_is_used (void **state)
{
    (void) state;
    s_resolves (s_hooks, "run.sh");
    //  0700 (mkdtemp's) and 0555 too: only the write bits of others matter.
    assert_int_equal (chmod (s_hooks, 0700), 0);
    s_resolves (s_hooks, "run.sh");
    assert_int_equal (chmod (s_hooks, 0555), 0);
    s_resolves (s_hooks, "run.sh");
    assert_int_equal (chmod (s_hooks, 0755), 0);
    char why [64] = "unchanged";
    assert_int_equal (flot_hook_dir_check (NULL, why, sizeof why), 0);
    assert_int_equal (flot_hook_dir_check ("", why, sizeof why), 0);
    assert_string_equal (why, "unchanged");
}

static void
test_hook_dir_others_may_write_is_refused (void **state)
{
    (void) state;
    const struct { mode_t mode; const char *by; } cases [] = {
        { 0777, "its group and others" }, { 0775, "its group" }, { 0757, "others" },
        { 0722, "its group and others" }, { 01777, "its group and others" },
        { 01757, "others" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        assert_int_equal (chmod (s_hooks, cases [i].mode), 0);
        char why [512], expected [512], reason [256];
        snprintf (reason, sizeof reason, "it is writable by %s (mode %04o): whoever can write "
                  "to it chooses what runs (chmod go-w)", cases [i].by, (unsigned) cases [i].mode);
        assert_int_equal (s_resolve (s_hooks, "run.sh", why, sizeof why), -1);
        snprintf (expected, sizeof expected, "hook 'run.sh': the executor's hooks directory %s "
                  "cannot be used: %s", s_hooks, reason);
        assert_string_equal (why, expected);
        assert_int_equal (flot_hook_dir_check (s_hooks, why, sizeof why), -1);
        snprintf (expected, sizeof expected, "the hooks directory %s cannot be used: %s",
                  s_hooks, reason);
        assert_string_equal (why, expected);
    }
    //  Each kind says so in its words.
    assert_int_equal (chmod (s_hooks, 0777), 0);
    char path [1024], why [512], expected [512];
    assert_int_equal (flot_hook_resolve (s_hooks, "./run.sh", &flot_hook_kind_probe, path,
                                         sizeof path, why, sizeof why), -1);
    snprintf (expected, sizeof expected, "command probe './run.sh': the health actor's hooks "
              "directory %s cannot be used: it is writable by its group and others (mode "
              "0777): whoever can write to it chooses what runs (chmod go-w)", s_hooks);
    assert_string_equal (why, expected);
    //  Fixed: used again, nothing remembered.
    assert_int_equal (chmod (s_hooks, 0755), 0);
    s_resolves (s_hooks, "run.sh");
}

//  A link to a directory is judged by the directory it leads to.
static void
test_hook_dir_through_a_link_is_judged_by_its_target (void **state)
{
    (void) state;
    char link [256], why [512];
    snprintf (link, sizeof link, "%s/link", s_tmp);
    assert_int_equal (symlink (s_hooks, link), 0);
    s_resolves (link, "run.sh");
    assert_int_equal (chmod (s_hooks, 0777), 0);
    assert_int_equal (s_resolve (link, "run.sh", why, sizeof why), -1);
    assert_non_null (strstr (why, "cannot be used: it is writable by its group and others"));
    assert_int_equal (chmod (s_hooks, 0755), 0);
    assert_int_equal (unlink (link), 0);
}

//  A folder a name passes through is held to the same rule as the
//  directory; one the name does not pass through is not looked at.
static void
test_hook_folder_others_may_write_is_refused (void **state)
{
    (void) state;
    char sub [256], deeper [300], path [400], why [512], expected [768];
    snprintf (sub, sizeof sub, "%s/web", s_hooks);
    snprintf (deeper, sizeof deeper, "%s/eu", sub);
    assert_int_equal (mkdir (sub, 0755), 0);
    assert_int_equal (mkdir (deeper, 0755), 0);
    snprintf (path, sizeof path, "%s/run.sh", s_hooks);
    char target [400];
    snprintf (target, sizeof target, "%s/apply.sh", deeper);
    assert_int_equal (symlink (path, target), 0);
    s_resolves (s_hooks, "web/eu/apply.sh");
    assert_int_equal (chmod (deeper, 0777), 0);
    assert_int_equal (s_resolve (s_hooks, "web/eu/apply.sh", why, sizeof why), -1);
    snprintf (expected, sizeof expected, "hook 'web/eu/apply.sh': the folder web/eu of the "
              "executor's hooks directory %s cannot be used: it is writable by its group and "
              "others (mode 0777): whoever can write to it chooses what runs (chmod go-w)",
              s_hooks);
    assert_string_equal (why, expected);
    assert_int_equal (chmod (deeper, 0755), 0);
    assert_int_equal (chmod (sub, 0775), 0);
    assert_int_equal (s_resolve (s_hooks, "./web/eu/apply.sh", why, sizeof why), -1);
    snprintf (expected, sizeof expected, "hook './web/eu/apply.sh': the folder web of the "
              "executor's hooks directory %s cannot be used: it is writable by its group "
              "(mode 0775): whoever can write to it chooses what runs (chmod go-w)", s_hooks);
    assert_string_equal (why, expected);
    //  The directory itself is still fine for run.sh.
    s_resolves (s_hooks, "run.sh");
    //  A folder that is not there is the program's stat's to report.
    assert_int_equal (s_resolve (s_hooks, "none/x.sh", why, sizeof why), -1);
    snprintf (expected, sizeof expected, "hook 'none/x.sh' is not in the executor's hooks "
              "directory %s (No such file or directory)", s_hooks);
    assert_string_equal (why, expected);
    assert_int_equal (chmod (sub, 0755), 0);
    //  A directory given with a trailing '/' is the same directory.
    char slashed [200];
    snprintf (slashed, sizeof slashed, "%s/", s_hooks);
    assert_int_equal (chmod (deeper, 0757), 0);
    char got [1024];
    assert_int_equal (flot_hook_resolve (slashed, "web/eu/apply.sh", &flot_hook_kind_hook, got,
                                         sizeof got, why, sizeof why), -1);
    assert_non_null (strstr (why, "the folder web/eu of the executor's hooks directory"));
    assert_non_null (strstr (why, "it is writable by others (mode 0757)"));
    assert_int_equal (chmod (deeper, 0755), 0);
    s_resolves (s_hooks, "web/eu/apply.sh");
}

//  Owned by another user: refused, whatever its mode. The test must be
//  root to give the directory away (CI runs as root); else it is skipped.
static void
test_hook_dir_another_user_owns_is_refused (void **state)
{
    (void) state;
    if (geteuid () != 0) {
        skip ();
        return;
    }
    char why [512], expected [512];
    assert_int_equal (chown (s_hooks, 65534, 65534), 0);
    assert_int_equal (s_resolve (s_hooks, "run.sh", why, sizeof why), -1);
    snprintf (expected, sizeof expected, "hook 'run.sh': the executor's hooks directory %s "
              "cannot be used: its owner is uid 65534, not root (the user this host runs as): "
              "its owner chooses what runs", s_hooks);
    assert_string_equal (why, expected);
    assert_int_equal (flot_hook_dir_check (s_hooks, why, sizeof why), -1);
    snprintf (expected, sizeof expected, "the hooks directory %s cannot be used: its owner is "
              "uid 65534, not root (the user this host runs as): its owner chooses what runs",
              s_hooks);
    assert_string_equal (why, expected);
    //  Owned by root, it is used whoever runs (here: root).
    assert_int_equal (chown (s_hooks, 0, 0), 0);
    s_resolves (s_hooks, "run.sh");
}

//  A missing directory and a file are refused, as before.
static void
test_hook_dir_missing_or_a_file_is_refused (void **state)
{
    (void) state;
    char missing [200], file [200], why [512], expected [512];
    snprintf (missing, sizeof missing, "%s/none", s_tmp);
    assert_int_equal (flot_hook_dir_check (missing, why, sizeof why), -1);
    snprintf (expected, sizeof expected, "the hooks directory %s cannot be used: No such file "
              "or directory", missing);
    assert_string_equal (why, expected);
    snprintf (file, sizeof file, "%s/run.sh", s_hooks);
    assert_int_equal (s_resolve (file, "run.sh", why, sizeof why), -1);
    snprintf (expected, sizeof expected, "hook 'run.sh': the executor's hooks directory %s "
              "cannot be used: it is not a directory", file);
    assert_string_equal (why, expected);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_hook_dir_owned_and_0755_is_used),
        cmocka_unit_test (test_hook_dir_others_may_write_is_refused),
        cmocka_unit_test (test_hook_dir_through_a_link_is_judged_by_its_target),
        cmocka_unit_test (test_hook_folder_others_may_write_is_refused),
        cmocka_unit_test (test_hook_dir_another_user_owns_is_refused),
        cmocka_unit_test (test_hook_dir_missing_or_a_file_is_refused),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
