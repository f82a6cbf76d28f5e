/*  test_env_policy.c - the variables a spec may not set for a program a
    host runs (common/env_policy.c): the deny-list is the table that
    protocol/SPEC.md section 17.1 states, entry for entry and in the same
    words; every name it lists is refused with its sentence; the variables
    that make the common tools of a deploy hook run code (git, ssh, less,
    OpenSSL, package managers, runtimes) are refused by their real names;
    names are compared as their readers compare them; the names a hook
    commonly needs (TMPDIR, LANG, NODE_ENV...) are allowed.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "flotilla/env_policy.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 200

//  A row of SPEC's table: the name (a prefix when it ends with '*'), and
//  why, unescaped.
typedef struct {
    char name [64];
    bool prefix;
    bool any_case;
    char why [128];
} row_t;

//  The rows between <!-- env-deny --> and <!-- /env-deny --> in SPEC.md.
static size_t
s_spec_rows (row_t *rows, size_t cap)
{
    FILE *file = fopen (SPEC_MD, "r");
    if (!file)
        fail_msg ("cannot open %s", SPEC_MD);
    char line [512];
    bool inside = false, seen = false;
    size_t count = 0;
    while (fgets (line, sizeof line, file)) {
        line [strcspn (line, "\n")] = 0;
        if (strcmp (line, "<!-- env-deny -->") == 0) {
            inside = seen = true;
            continue;
        }
        if (strcmp (line, "<!-- /env-deny -->") == 0)
            break;
        if (!inside || strncmp (line, "| `", 3) != 0)
            continue;
        assert_true (count < cap);
        row_t *row = &rows [count++];
        const char *name = line + 3;
        const char *tick = strchr (name, '`');
        if (!tick || (size_t) (tick - name) >= sizeof row->name)
            fail_msg ("SPEC's env-deny row has no `name`: %s", line);
        memcpy (row->name, name, tick - name);
        row->name [tick - name] = 0;
        size_t size = strlen (row->name);
        row->prefix = size && row->name [size - 1] == '*';
        if (row->prefix)
            row->name [size - 1] = 0;
        const char *rest = tick + 1;
        row->any_case = strncmp (rest, " (any case)", 11) == 0;
        const char *bar = strstr (rest, " | ");
        if (!bar)
            fail_msg ("SPEC's env-deny row has no why: %s", line);
        //  The why, "\*" read as "*", up to the closing " |".
        size_t w = 0;
        for (const char *c = bar + 3; *c && strcmp (c, " |") != 0 && w + 1 < sizeof row->why; c++) {
            if (c [0] == '\\' && c [1])
                c++;
            row->why [w++] = *c;
        }
        row->why [w] = 0;
    }
    fclose (file);
    if (!seen)
        fail_msg ("no <!-- env-deny --> table in %s", SPEC_MD);
    return count;
}

//  The sentence flot_env_name_check gives for name, denied for why.
static void
s_refused (const char *name, const char *why)
{
    char got [256], expected [256];
    if (flot_env_name_check (name, got, sizeof got) == 0)
        fail_msg ("%s was allowed", name);
    snprintf (expected, sizeof expected, "%s changes how a program is loaded or run (%s): a "
              "spec may not set it", name, why);
    assert_string_equal (got, expected);
}

static void
test_env_policy_is_the_table_in_spec (void **state)
{
    (void) state;
    row_t *rows = calloc (MAX_ROWS, sizeof *rows);
    size_t count = s_spec_rows (rows, MAX_ROWS);
    size_t index = 0;
    bool prefix, any_case;
    for (const char *name; (name = flot_env_denied (index, &prefix, &any_case)); index++) {
        if (index >= count)
            fail_msg ("%s%s is in common/env_policy.c, not in SPEC's table", name,
                      prefix ? "*" : "");
        if (strcmp (rows [index].name, name) || rows [index].prefix != prefix
        ||  rows [index].any_case != any_case)
            fail_msg ("row %zu: SPEC says %s%s, common/env_policy.c %s%s", index + 1,
                      rows [index].name, rows [index].prefix ? "*" : "", name,
                      prefix ? "*" : "");
        //  Refused, with SPEC's words: the name itself, and for a prefix a
        //  longer name too.
        s_refused (name, rows [index].why);
        if (prefix) {
            char longer [96];
            snprintf (longer, sizeof longer, "%sX_1", name);
            s_refused (longer, rows [index].why);
        }
    }
    if (index != count)
        fail_msg ("SPEC's table has %zu rows, common/env_policy.c %zu entries", count, index);
    assert_true (count > 80);
    free (rows);
}

//  The variables the security review named, by their real names.
static void
test_env_policy_refuses_what_makes_common_tools_run_code (void **state)
{
    (void) state;
    const char *names [] = {
        "LD_PRELOAD", "LD_AUDIT", "LD_LIBRARY_PATH", "LD_", "DYLD_INSERT_LIBRARIES",
        "GCONV_PATH", "HOSTALIASES", "LOCPATH", "NLSPATH", "GLIBC_TUNABLES",
        "GIT_SSH_COMMAND", "GIT_SSH", "GIT_PROXY_COMMAND", "GIT_EXTERNAL_DIFF",
        "GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0", "GIT_CONFIG_PARAMETERS",
        "GIT_EXEC_PATH", "GIT_ASKPASS", "GIT_TEMPLATE_DIR", "SSH_ASKPASS", "SSH_AUTH_SOCK",
        "LESSOPEN", "LESSCLOSE", "PAGER", "EDITOR", "VISUAL", "SUDO_ASKPASS",
        "HOME", "XDG_CONFIG_HOME", "XDG_DATA_DIRS", "ZDOTDIR", "PROMPT_COMMAND", "SHELL",
        "BASH_ENV", "BASH_LOADABLES_PATH", "BASH_FUNC_x", "ENV", "PATH", "IFS",
        "CLASSPATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "JAVA_HOME",
        "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES", "KUBECONFIG",
        "DOCKER_HOST", "DOCKER_CONFIG", "PIP_INDEX_URL", "PIP_CONFIG_FILE",
        "npm_config_script_shell", "NPM_CONFIG_SCRIPT_SHELL", "Npm_Config_Script_Shell",
        "GEM_HOME", "GEM_PATH", "BUNDLE_GEMFILE", "RUBYOPT", "RUBYLIB", "CARGO_HOME",
        "CARGO_BUILD_RUSTC_WRAPPER", "RUSTC_WRAPPER", "RUSTC", "RUSTFLAGS", "CURL_HOME",
        "WGETRC", "NETRC", "GNUPGHOME", "PERL5LIB", "PERL5OPT", "PERLLIB", "PERL5DB",
        "PERL_MB_OPT", "TCL_LIBRARY", "TK_LIBRARY", "R_PROFILE", "R_PROFILE_USER",
        "R_ENVIRON", "PYTHONSTARTUP", "PYTHONPATH", "NODE_OPTIONS", "GOFLAGS", "MAKEFLAGS",
        "AWS_CONFIG_FILE", "PHPRC", "FLOTILLA_TARGET",
        "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS", "DOTNET_STARTUP_HOOKS", "CORECLR_PROFILER_PATH",
        "COMPlus_EnableDiagnostics", "ANSIBLE_CONFIG", "TF_CLI_CONFIG_FILE", "TF_CLI_ARGS",
    };
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++) {
        char why [256];
        if (flot_env_name_check (names [i], why, sizeof why) == 0)
            fail_msg ("%s was allowed", names [i]);
        char start [128];
        snprintf (start, sizeof start, "%s changes how a program is loaded or run (", names [i]);
        if (strncmp (why, start, strlen (start)))
            fail_msg ("%s: %s", names [i], why);
    }
    s_refused ("GIT_SSH_COMMAND", "git runs commands and reads config from GIT_*");
    s_refused ("LESSOPEN", "less runs the command it names");
    s_refused ("Npm_Config_Script_Shell", "npm reads its configuration from npm_config_*");
}

//  Names are compared exactly (the loader reads LD_PRELOAD, not
//  ld_preload); what a hook commonly needs is allowed.
static void
test_env_policy_allows_other_names (void **state)
{
    (void) state;
    const char *names [] = {
        "TMPDIR", "LANG", "LC_ALL", "TZ", "MODE", "DEPLOY_ENV", "NODE_ENV", "RUST_LOG",
        "GOOS", "ld_preload", "path", "home", "git_dir", "pip_index_url", "docker_host",
        "GIT", "SSH", "R", "RUBRIC", "PERSON", "LDAP_URI", "LD", "XDG", "HOMEDIR",
        "_", "_X", "a1", "TF_VAR_region", "NO_PROXY", "no_proxy", "SSL_MODE",
    };
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++) {
        char why [256] = "";
        if (flot_env_name_check (names [i], why, sizeof why))
            fail_msg ("%s was refused: %s", names [i], why);
    }
}

static void
test_env_policy_refuses_what_is_not_a_name (void **state)
{
    (void) state;
    char why [256];
    const struct { const char *name, *shown; } cases [] = {
        { "", "''" }, { "1X", "'1X'" }, { "A-B", "'A-B'" }, { "A=B", "'A=B'" },
        { "BASH_FUNC_f%%", "'BASH_FUNC_f%%'" }, { "A\nB", "'A?B'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        assert_int_equal (flot_env_name_check (cases [i].name, why, sizeof why), -1);
        char expected [256];
        snprintf (expected, sizeof expected, "%s is not a variable name: a letter or '_', then "
                  "letters, digits and '_'", cases [i].shown);
        assert_string_equal (why, expected);
    }
}

//  The actors and the parser give the sentence 200 bytes: for each entry,
//  a long name (shown as 64 bytes and "...") still fits whole.
static void
test_env_policy_sentences_fit_their_callers (void **state)
{
    (void) state;
    bool prefix, any_case;
    const char *name;
    for (size_t i = 0; (name = flot_env_denied (i, &prefix, &any_case)); i++) {
        char longest [200], why [512];
        snprintf (longest, sizeof longest, "%s", name);
        if (prefix)
            memset (longest + strlen (name), 'X', 150 - strlen (name)), longest [150] = 0;
        assert_int_equal (flot_env_name_check (longest, why, sizeof why), -1);
        if (strlen (why) >= 200)
            fail_msg ("%zu bytes: %s", strlen (why), why);
        assert_non_null (strstr (why, "): a spec may not set it"));
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_env_policy_is_the_table_in_spec),
        cmocka_unit_test (test_env_policy_refuses_what_makes_common_tools_run_code),
        cmocka_unit_test (test_env_policy_allows_other_names),
        cmocka_unit_test (test_env_policy_refuses_what_is_not_a_name),
        cmocka_unit_test (test_env_policy_sentences_fit_their_callers),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
