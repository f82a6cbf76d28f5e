/*  env_policy.c - the environment variables a spec may not set for the
    programs a host runs (flotilla/env_policy.h): the deny-list that
    protocol/SPEC.md section 17.1 states in a table (tests/unit/
    test_env_policy.c checks that the two are the same), used by the
    executor (a hook's env), the health actor (a command probe's env,
    through common/health_checks.c) and the spec parser
    (actors/strategy/spec.c), so that all three refuse the same names with
    the same sentence. Pure code, no I/O.

    A deny-list cannot be complete: this one covers the loader and the C
    library, shells, and the common programs a deploy hook runs (git, ssh,
    curl, kubectl, docker, package managers, language runtimes), each by
    the variables that make it run code or read its configuration from
    elsewhere. Names are compared as their readers compare them: exactly,
    but for npm's npm_config_*, which npm reads in any case. A hook that
    needs one of them sets it itself: hooks are the host's own programs.
    TMPDIR stays allowed: it moves where a program writes its temporary
    files, and loads no code.
*/
#include "flotilla/env_policy.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef enum {
    NAME,                       //  the name
    PREFIX,                     //  every name that starts with it
    PREFIX_ANY_CASE             //  the same, ignoring case, as its reader does
} match_t;

typedef struct {
    const char *name;           //  the name, or its prefix
    match_t match;
    const char *why;            //  what reads it (at most 64 bytes)
} denied_t;

static const denied_t s_denied [] = {
    //  The dynamic loader and the C library
    { "LD_", PREFIX, "the dynamic loader reads LD_*" },
    { "DYLD_", PREFIX, "the macOS dynamic loader reads DYLD_*" },
    { "GCONV_PATH", NAME, "the C library loads modules from it" },
    { "GLIBC_TUNABLES", NAME, "the C library reads it" },
    { "MALLOC_", PREFIX, "the C library's allocator reads MALLOC_*" },
    { "LOCPATH", NAME, "the C library loads locales from it" },
    { "NLSPATH", NAME, "the C library reads message catalogs from it" },
    { "LOCALDOMAIN", NAME, "the resolver reads it" },
    { "HOSTALIASES", NAME, "the resolver reads it" },
    { "RES_OPTIONS", NAME, "the resolver reads it" },
    //  Which program a name runs, and the programs that tools run
    { "PATH", NAME, "it chooses the program a name runs" },
    { "SHELL", NAME, "programs run the shell it names" },
    { "EDITOR", NAME, "programs run the command it names" },
    { "VISUAL", NAME, "programs run the command it names" },
    { "PAGER", NAME, "programs run the command it names" },
    { "MANPAGER", NAME, "programs run the command it names" },
    { "LESSOPEN", NAME, "less runs the command it names" },
    { "LESSCLOSE", NAME, "less runs the command it names" },
    { "SUDO_ASKPASS", NAME, "sudo runs the program it names" },
    //  Where programs read their startup files and configuration
    { "HOME", NAME, "shells and tools read their startup files from it" },
    { "XDG_", PREFIX, "tools read their configuration from XDG_*" },
    //  Shells
    { "BASH_ENV", NAME, "a shell runs the file it names" },
    { "ENV", NAME, "a shell runs the file it names" },
    { "BASH_FUNC_", PREFIX, "bash defines functions from BASH_FUNC_*" },
    { "BASH_", PREFIX, "bash reads BASH_* (BASH_LOADABLES_PATH...)" },
    { "ZDOTDIR", NAME, "zsh runs the startup files in it" },
    { "PROMPT_COMMAND", NAME, "bash runs it" },
    { "IFS", NAME, "it changes how a shell splits words" },
    { "SHELLOPTS", NAME, "it sets a shell's options" },
    { "BASHOPTS", NAME, "it sets a shell's options" },
    { "PS4", NAME, "a shell expands it when it traces" },
    { "CDPATH", NAME, "it changes where a shell's cd goes" },
    { "GLOBIGNORE", NAME, "it changes how a shell expands names" },
    //  Tools a deploy hook runs
    { "GIT_", PREFIX, "git runs commands and reads config from GIT_*" },
    { "SSH_", PREFIX, "ssh runs SSH_ASKPASS and reads SSH_*" },
    { "CURL_HOME", NAME, "curl reads its configuration from it" },
    { "WGETRC", NAME, "wget reads its configuration from it" },
    { "NETRC", NAME, "tools read credentials from the file it names" },
    { "GNUPGHOME", NAME, "gpg reads its configuration and keys from it" },
    { "OPENSSL_", PREFIX, "OpenSSL loads configuration and modules from OPENSSL_*" },
    { "KUBECONFIG", NAME, "kubectl reads its configuration from it" },
    { "DOCKER_", PREFIX, "docker reads DOCKER_* (DOCKER_HOST, DOCKER_CONFIG...)" },
    { "AWS_CONFIG_FILE", NAME, "the AWS CLI reads its configuration from it" },
    { "AWS_SHARED_CREDENTIALS_FILE", NAME, "the AWS CLI reads its configuration from it" },
    { "MAKEFLAGS", NAME, "make reads its options from it" },
    { "MAKEFILES", NAME, "make reads the makefiles it names" },
    //  Where traffic goes, and whom it trusts
    { "http_proxy", PREFIX_ANY_CASE, "tools send their traffic to the proxy it names" },
    { "https_proxy", PREFIX_ANY_CASE, "tools send their traffic to the proxy it names" },
    { "all_proxy", PREFIX_ANY_CASE, "tools send their traffic to the proxy it names" },
    { "SSL_CERT_", PREFIX, "OpenSSL trusts the certificates SSL_CERT_* names" },
    { "CURL_CA_BUNDLE", NAME, "curl trusts the certificates it names" },
    { "REQUESTS_CA_BUNDLE", NAME, "Python requests trusts the certificates it names" },
    { "NODE_EXTRA_CA_CERTS", NAME, "Node.js trusts the certificates it names" },
    //  Package managers and build tools
    { "PIP_", PREFIX, "pip reads its options from PIP_*" },
    { "npm_config_", PREFIX_ANY_CASE, "npm reads its configuration from npm_config_*" },
    { "GEM_", PREFIX, "RubyGems reads GEM_* (GEM_HOME, GEM_PATH...)" },
    { "BUNDLE_", PREFIX, "Bundler reads its configuration from BUNDLE_*" },
    { "CARGO_", PREFIX, "Cargo reads CARGO_* (CARGO_HOME...)" },
    { "RUSTC", PREFIX, "Cargo runs the program RUSTC* names (RUSTC_WRAPPER...)" },
    { "RUSTFLAGS", NAME, "rustc reads its options from it" },
    { "RUSTDOCFLAGS", NAME, "rustdoc reads its options from it" },
    { "RUSTUP_", PREFIX, "rustup reads RUSTUP_* (RUSTUP_HOME, RUSTUP_TOOLCHAIN...)" },
    { "GOFLAGS", NAME, "the go command reads its options from it" },
    { "GOROOT", NAME, "the go command runs its tools from it" },
    { "GOPATH", NAME, "the go command reads modules from it" },
    { "GOENV", NAME, "the go command reads its configuration from it" },
    { "GOTOOLCHAIN", NAME, "the go command chooses the toolchain it runs from it" },
    //  Interpreters and runtimes
    { "PYTHON", PREFIX, "Python reads PYTHON* (PYTHONPATH, PYTHONSTARTUP, PYTHONHOME...)" },
    { "PERL", PREFIX, "Perl reads PERL* (PERL5LIB, PERL5OPT, PERLLIB...)" },
    { "RUBY", PREFIX, "Ruby reads RUBY* (RUBYOPT, RUBYLIB...)" },
    { "NODE_OPTIONS", NAME, "Node.js reads its options from it" },
    { "NODE_PATH", NAME, "Node.js loads modules from it" },
    { "CLASSPATH", NAME, "the JVM loads classes from it" },
    { "JAVA_HOME", NAME, "scripts run the JVM it names" },
    { "JAVA_TOOL_OPTIONS", NAME, "the JVM reads its options from it" },
    { "_JAVA_OPTIONS", NAME, "the JVM reads its options from it" },
    { "JDK_JAVA_OPTIONS", NAME, "the JVM reads its options from it" },
    { "JAVA_OPTS", NAME, "scripts pass it to the JVM as options" },
    { "MAVEN_OPTS", NAME, "Maven passes it to the JVM as options" },
    { "GRADLE_OPTS", NAME, "Gradle passes it to the JVM as options" },
    { "LUA_INIT", PREFIX, "Lua runs LUA_INIT*" },
    { "LUA_PATH", PREFIX, "Lua loads modules from LUA_PATH*" },
    { "LUA_CPATH", PREFIX, "Lua loads modules from LUA_CPATH*" },
    { "TCL_LIBRARY", NAME, "Tcl loads code from it" },
    { "TCLLIBPATH", NAME, "Tcl loads code from it" },
    { "TK_LIBRARY", NAME, "Tk loads code from it" },
    { "R_", PREFIX, "R reads R_* (R_PROFILE, R_ENVIRON, R_LIBS...)" },
    { "PHPRC", NAME, "PHP reads its configuration from it" },
    { "PHP_INI_SCAN_DIR", NAME, "PHP reads its configuration from it" },
    { "DOTNET_", PREFIX, ".NET reads DOTNET_* (DOTNET_STARTUP_HOOKS runs code)" },
    { "CORECLR_", PREFIX, ".NET loads the profiler CORECLR_* names" },
    { "COMPlus_", PREFIX, ".NET reads its runtime settings from COMPlus_*" },
    //  Deployment tools
    { "ANSIBLE_", PREFIX, "Ansible reads its configuration from ANSIBLE_*" },
    { "TF_CLI_", PREFIX, "Terraform reads its options and config from TF_CLI_*" },
    //  Ours
    { "FLOTILLA_", PREFIX, "Flotilla sets FLOTILLA_* itself" },
    { NULL, NAME, NULL }
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

static bool
s_matches (const denied_t *denied, const char *name)
{
    size_t size = strlen (denied->name);
    switch (denied->match) {
        case NAME:            return strcmp (name, denied->name) == 0;
        case PREFIX:          return strncmp (name, denied->name, size) == 0;
        case PREFIX_ANY_CASE: return strncasecmp (name, denied->name, size) == 0;
    }
    return false;
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
        if (s_matches (d, name)) {
            snprintf (why, cap, "%s changes how a program is loaded or run (%s): a spec "
                      "may not set it", s_shown (name, shown, sizeof shown), d->why);
            return -1;
        }
    return 0;
}

const char *
flot_env_denied (size_t index, bool *prefix, bool *any_case)
{
    if (index >= sizeof s_denied / sizeof s_denied [0] - 1)
        return NULL;
    *prefix = s_denied [index].match != NAME;
    *any_case = s_denied [index].match == PREFIX_ANY_CASE;
    return s_denied [index].name;
}
