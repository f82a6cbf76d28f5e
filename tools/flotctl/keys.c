/*  keys.c - flotctl keys: a broker's key directory (flotilla/keys.h).

    init, new, create, allow, list, revoke and rotate work on files only
    (the directory of --dir, $FLOTILLA_AUTH_DIR or the config file's
    auth-dir; create needs none) and talk to no broker: a running broker
    sees what they change in its allowed/ folder. Each checks its own
    arguments and options (a usage error exits 2), then prints what it made
    and where; a refusal of the key library exits 1 with its code and
    sentence.
*/
#include "ctl.h"

#include <jansson.h>

void
ctl_keys_usage (FILE *out)
{
    fprintf (out,
"Usage: flotctl keys SUBCOMMAND [ARGUMENTS] [OPTIONS]\n"
"\n"
"Manages a broker's key directory: files only, no broker is called. A broker\n"
"admits a tcp:// peer only if its public key is allowed there with a role:\n"
"  viewer     reads: ping, actors, plan, status, list, events, replay\n"
"  operator   also apply, pause, resume, promote, abort, and probes and\n"
"             queries on demand\n"
"  actor      serves the services of --services (and, --targets, claims those\n"
"             routing keys), and calls as those services\n"
"  admin      everything (the embedded flotillad's own local key)\n"
"\n"
"Subcommands:\n"
"  init                 make the directory (0700) with allowed/, revoked/ and\n"
"                       the broker's key pair, broker.key (secret, 0600), and\n"
"                       print where its public key broker.pub is: give that file\n"
"                       to clients and actors (--broker-cert)\n"
"  new NAME --role ROLE [--services LIST] [--targets LIST] [--out FILE]\n"
"                       make a key pair NAME, allow its public key with ROLE,\n"
"                       and write its secret into FILE (default ./NAME.key, mode\n"
"                       0600, never over a file); prints the public key\n"
"  create NAME [--out BASE]\n"
"                       on the host that will use it: make a key pair NAME with\n"
"                       no role, BASE.key (secret, 0600) and BASE.pub (default\n"
"                       ./NAME); the secret never leaves this host: give\n"
"                       BASE.pub to the broker's operator for keys allow\n"
"  allow FILE --name NAME --role ROLE [--services LIST] [--targets LIST]\n"
"                       allow the public key in FILE (a .pub, or a .key of which\n"
"                       only the public key is read) as NAME with ROLE\n"
"  list [--json]        the keys, one per line: NAME ROLE SERVICES TARGETS KEY\n"
"                       (the public key's first 8 characters) STATE (allowed or\n"
"                       revoked); --json: one array of objects\n"
"  revoke NAME          move allowed/NAME.pub to revoked/: a running broker\n"
"                       refuses the key from its next request on\n"
"  rotate               make the broker's next key pair (broker-next.key and\n"
"                       broker-next.pub) beside the current one\n"
"  rotate --finish      make the next key pair the broker's; the old one is\n"
"                       removed\n"
"\n"
"Options:\n"
"      --dir DIR        the key directory (default $FLOTILLA_AUTH_DIR, else\n"
"                       auth-dir in the config file; create needs none)\n"
"      --role ROLE      viewer, operator, actor or admin\n"
"      --services LIST  role actor, required: the services it may serve,\n"
"                       comma-separated, or '*' for any\n"
"      --targets LIST   role actor: the routing keys (targets) it may claim,\n"
"                       comma-separated, or '*'; none: it registers without\n"
"                       keys only\n"
"      --out FILE       new: the secret key's file; create: BASE of the files\n"
"      --name NAME      allow: the key's name, 1..%d of [A-Za-z0-9._-]\n"
"      --json           list: JSON\n"
"\n"
"Names are never reused: a name allowed or revoked is refused, and so is a\n"
"public key already allowed or revoked. Files are written whole, never over\n"
"an existing file.\n"
"\n"
"Exit status: 0 done; 1 refused or failed ('flotctl: CODE (n): sentence' on\n"
"stderr: CONFLICT for a name or file that exists, NOT_FOUND, INVALID for a\n"
"file that is not a key); 2 usage error.\n",
        FLOT_KEY_NAME_MAX);
}

typedef struct {
    const char *name;
    int (*run) (ctl_t *self, const char *dir);
    int args;               //  after the subcommand's name
    unsigned options;       //  the OPT_* it takes
    bool needs_dir;
    bool json;              //  takes --json
    const char *synopsis;
} keys_command_t;

//  Prints a refusal of the key library; returns RC_ERROR.
static int
s_refused (const flot_err_t *err)
{
    return ctl_fail (RC_ERROR, "%s (%d): %s", flot_err_name (err->code), err->code,
                     err->message);
}

//  The key of --role, --services, --targets and name, checked: -1, or the
//  exit code of a usage error.
static int
s_key_from_options (ctl_t *self, const char *name, flot_key_t *key)
{
    memset (key, 0, sizeof *key);
    options_t *opts = &self->opts;
    if (!flot_key_name_valid (name))
        return ctl_usage_error ("'%s' is not a key name: 1..%d of [A-Za-z0-9._-], not "
                                "'.' or '..'", name, FLOT_KEY_NAME_MAX);
    snprintf (key->name, sizeof key->name, "%s", name);
    if (!opts->role)
        return ctl_usage_error ("keys %s needs --role (viewer, operator, actor or admin)",
                                opts->args [1]);
    key->role = flot_role_parse (opts->role);
    if (key->role == FLOT_ROLE_NONE)
        return ctl_usage_error ("--role '%s': viewer, operator, actor or admin", opts->role);
    if (key->role != FLOT_ROLE_ACTOR && (opts->services || opts->targets))
        return ctl_usage_error ("%s is for role actor only, not %s",
                                opts->services ? "--services" : "--targets", opts->role);
    if (key->role == FLOT_ROLE_ACTOR && !opts->services)
        return ctl_usage_error ("role actor needs --services LIST (the services it may "
                                "serve, or '*')");
    if (opts->services && strlen (opts->services) >= sizeof key->services)
        return ctl_usage_error ("--services: more than %zu bytes", sizeof key->services - 1);
    if (opts->targets && strlen (opts->targets) >= sizeof key->targets)
        return ctl_usage_error ("--targets: more than %zu bytes", sizeof key->targets - 1);
    snprintf (key->services, sizeof key->services, "%s", opts->services ? opts->services : "");
    snprintf (key->targets, sizeof key->targets, "%s", opts->targets ? opts->targets : "");
    flot_err_t err;
    if (flot_key_check (key, &err))
        return ctl_usage_error ("%s", err.message);
    return -1;
}

static void
s_print_scope (const flot_key_t *key)
{
    if (key->role == FLOT_ROLE_ACTOR)
        printf ("  services %s; targets %s\n", key->services,
                *key->targets ? key->targets : "none (it registers without keys)");
}

static int
s_init (ctl_t *self, const char *dir)
{
    (void) self;
    flot_err_t err;
    if (flot_keys_init (dir, &err))
        return s_refused (&err);
    printf ("key directory %s made; the broker's key pair is %s/broker.key\n", dir, dir);
    printf ("the broker's public key: %s/broker.pub (give it to clients and actors: "
            "--broker-cert)\n", dir);
    return RC_OK;
}

static int
s_new (ctl_t *self, const char *dir)
{
    flot_key_t key;
    int rc = s_key_from_options (self, self->opts.args [2], &key);
    if (rc >= 0)
        return rc;
    char out [1024];
    if (self->opts.out)
        snprintf (out, sizeof out, "%s", self->opts.out);
    else
        snprintf (out, sizeof out, "./%s.key", key.name);
    flot_err_t err;
    if (flot_keys_new (dir, &key, out, &err))
        return s_refused (&err);
    printf ("key %s allowed as %s: public key %s\n", key.name, flot_role_name (key.role),
            key.public_key);
    s_print_scope (&key);
    printf ("its secret key: %s (mode 0600; give it to %s only: --cert)\n", out, key.name);
    return RC_OK;
}

static int
s_create (ctl_t *self, const char *dir)
{
    (void) dir;
    const char *name = self->opts.args [2];
    if (!flot_key_name_valid (name))
        return ctl_usage_error ("'%s' is not a key name: 1..%d of [A-Za-z0-9._-], not "
                                "'.' or '..'", name, FLOT_KEY_NAME_MAX);
    const char *base = self->opts.out ? self->opts.out : name;
    char secret [1024], public [1024];
    if (snprintf (secret, sizeof secret, "%s%s.key", self->opts.out ? "" : "./", base)
            >= (int) sizeof secret
    ||  snprintf (public, sizeof public, "%s%s.pub", self->opts.out ? "" : "./", base)
            >= (int) sizeof public)
        return ctl_usage_error ("--out: the file name is too long");
    flot_err_t err;
    if (flot_keys_create (name, secret, public, &err))
        return s_refused (&err);
    printf ("key pair %s made: secret %s (mode 0600: it stays on this host), public %s\n",
            name, secret, public);
    printf ("to allow it, on the broker's host: flotctl keys allow %s --name %s "
            "--role ROLE\n", public, name);
    return RC_OK;
}

static int
s_allow (ctl_t *self, const char *dir)
{
    if (!self->opts.name)
        return ctl_usage_error ("keys allow needs --name NAME: the name the broker knows "
                                "the key by");
    flot_key_t key;
    int rc = s_key_from_options (self, self->opts.name, &key);
    if (rc >= 0)
        return rc;
    flot_err_t err;
    if (flot_keys_allow (dir, self->opts.args [2], &key, &err))
        return s_refused (&err);
    printf ("key %s allowed as %s: public key %s\n", key.name, flot_role_name (key.role),
            key.public_key);
    s_print_scope (&key);
    return RC_OK;
}

static int
s_revoke (ctl_t *self, const char *dir)
{
    const char *name = self->opts.args [2];
    if (!flot_key_name_valid (name))
        return ctl_usage_error ("'%s' is not a key name: 1..%d of [A-Za-z0-9._-], not "
                                "'.' or '..'", name, FLOT_KEY_NAME_MAX);
    flot_err_t err;
    if (flot_keys_revoke (dir, name, &err))
        return s_refused (&err);
    printf ("key %s revoked (%s/revoked/%s.pub): a running broker refuses it from its "
            "next request\n", name, dir, name);
    return RC_OK;
}

static int
s_rotate (ctl_t *self, const char *dir)
{
    bool finish = self->opts.given & OPT_FINISH;
    flot_err_t err;
    if (flot_keys_rotate (dir, finish, &err))
        return s_refused (&err);
    zcert_t *cert = flot_keys_server_cert (dir, !finish, &err);
    if (finish)
        printf ("the next key is now the broker's: %s/broker.pub (public key %s); the old "
                "key pair is removed\n", dir, cert ? zcert_public_txt (cert) : "?");
    else
        printf ("the broker's next key pair: %s/broker-next.key; its public key %s/"
                "broker-next.pub (%s): give it to clients and actors, then run flotctl "
                "keys rotate --finish\n", dir, dir, cert ? zcert_public_txt (cert) : "?");
    zcert_destroy (&cert);
    return RC_OK;
}

//  The keys of a keyring, allowed then revoked, sorted by name.
typedef struct {
    const flot_key_t *key;
    bool revoked;
} listed_t;

static int
s_listed_cmp (const void *a, const void *b)
{
    const listed_t *x = a, *y = b;
    int c = strcmp (x->key->name, y->key->name);
    return c ? c : (int) x->revoked - (int) y->revoked;
}

static json_t *
s_json_list (const char *list)
{
    json_t *array = json_array ();
    const char *p = list;
    while (array && *p) {
        const char *end = strchr (p, ',');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        json_array_append_new (array, json_stringn (p, len));
        p = end ? end + 1 : p + len;
    }
    return array;
}

static int
s_print_list (ctl_t *self, listed_t *items, size_t count)
{
    if (self->opts.json) {
        json_t *root = json_array ();
        for (size_t i = 0; root && i < count; i++) {
            const flot_key_t *key = items [i].key;
            json_array_append_new (root, json_pack ("{s:s, s:s, s:o, s:o, s:s, s:s}",
                "name", key->name, "role", flot_role_name (key->role),
                "services", s_json_list (key->services), "targets", s_json_list (key->targets),
                "public_key", key->public_key,
                "state", items [i].revoked ? "revoked" : "allowed"));
        }
        int rc = root && json_dumpf (root, stdout, JSON_COMPACT) == 0 ? RC_OK : RC_ERROR;
        json_decref (root);
        putchar ('\n');
        return rc == RC_OK ? RC_OK : ctl_fail (RC_ERROR, "out of memory");
    }
    static const char *headers [] = { "NAME", "ROLE", "SERVICES", "TARGETS", "KEY", "STATE" };
    table_t table;
    flot_err_t err;
    if (ctl_table_init (&table, headers, 6, count, &err))
        return ctl_fail (RC_ERROR, "%s", err.message);
    for (size_t i = 0; i < count; i++) {
        const flot_key_t *key = items [i].key;
        cell_t *row = ctl_table_row (&table, i);
        ctl_cell (row [0], key->name);
        ctl_cell (row [1], items [i].revoked && key->role == FLOT_ROLE_NONE
                           ? "-" : flot_role_name (key->role));
        ctl_cell (row [2], *key->services ? key->services : "-");
        ctl_cell (row [3], *key->targets ? key->targets : "-");
        snprintf (row [4], CELL_MAX, "%.8s", key->public_key);
        ctl_cell (row [5], items [i].revoked ? "revoked" : "allowed");
    }
    ctl_table_print (&table, "");
    ctl_table_destroy (&table);
    return RC_OK;
}

static int
s_list (ctl_t *self, const char *dir)
{
    flot_err_t err;
    flot_keyring_t *ring = flot_keyring_load (dir, &err);
    if (!ring)
        return s_refused (&err);
    size_t count = flot_keyring_size (ring) + flot_keyring_revoked_size (ring);
    listed_t *items = calloc (count ? count : 1, sizeof *items);
    if (!items) {
        flot_keyring_destroy (&ring);
        return ctl_fail (RC_ERROR, "out of memory");
    }
    size_t n = 0;
    for (const flot_key_t *key = flot_keyring_first (ring); key && n < count;
         key = flot_keyring_next (ring))
        items [n++] = (listed_t) { key, false };
    for (const flot_key_t *key = flot_keyring_revoked_first (ring); key && n < count;
         key = flot_keyring_revoked_next (ring))
        items [n++] = (listed_t) { key, true };
    qsort (items, n, sizeof *items, s_listed_cmp);
    int rc = s_print_list (self, items, n);
    free (items);
    flot_keyring_destroy (&ring);
    return rc;
}

static const keys_command_t s_keys_commands [] = {
    { "init", s_init, 0, OPT_DIR, true, false, "keys init [--dir DIR]" },
    { "new", s_new, 1, OPT_DIR | OPT_ROLE | OPT_SERVICES | OPT_TARGETS | OPT_OUT, true, false,
      "keys new NAME --role ROLE [--services LIST] [--targets LIST] [--out FILE] [--dir DIR]" },
    { "create", s_create, 1, OPT_OUT, false, false, "keys create NAME [--out BASE]" },
    { "allow", s_allow, 1, OPT_DIR | OPT_NAME | OPT_ROLE | OPT_SERVICES | OPT_TARGETS, true,
      false, "keys allow FILE --name NAME --role ROLE [--services LIST] [--targets LIST] "
      "[--dir DIR]" },
    { "list", s_list, 0, OPT_DIR, true, true, "keys list [--dir DIR] [--json]" },
    { "revoke", s_revoke, 1, OPT_DIR, true, false, "keys revoke NAME [--dir DIR]" },
    { "rotate", s_rotate, 0, OPT_DIR | OPT_FINISH, true, false,
      "keys rotate [--finish] [--dir DIR]" },
    { NULL, NULL, 0, 0, false, false, NULL }
};

static const struct { unsigned bit; const char *name; } s_keys_options [] = {
    { OPT_DIR, "--dir" }, { OPT_ROLE, "--role" }, { OPT_SERVICES, "--services" },
    { OPT_TARGETS, "--targets" }, { OPT_OUT, "--out" }, { OPT_NAME, "--name" },
    { OPT_FINISH, "--finish" }, { 0, NULL }
};

//  The key directory: --dir, else $FLOTILLA_AUTH_DIR, else the config
//  file's auth-dir. -1 with dir, or an exit code.
static int
s_dir (ctl_t *self, char *dir, size_t size)
{
    const char *env = getenv ("FLOTILLA_AUTH_DIR");
    const char *given = self->opts.dir ? self->opts.dir : env && *env ? env : NULL;
    if (given) {
        if (strlen (given) >= size)
            return ctl_usage_error ("the key directory's name is too long");
        snprintf (dir, size, "%s", given);
        return -1;
    }
    flot_err_t err;
    int found = flot_config_get ("auth-dir", dir, size, &err);
    if (found < 0)
        return s_refused (&err);
    if (!found)
        return ctl_usage_error ("no key directory: give --dir DIR, or set FLOTILLA_AUTH_DIR, "
                                "or auth-dir in the config file");
    return -1;
}

int
ctl_cmd_keys (ctl_t *self)
{
    options_t *opts = &self->opts;
    const char *sub = opts->args [1];
    const keys_command_t *cmd = s_keys_commands;
    while (cmd->name && !streq (cmd->name, sub))
        cmd++;
    if (!cmd->name)
        return ctl_usage_error ("unknown keys subcommand '%s' (init, new, create, allow, "
                                "list, revoke, rotate; flotctl keys --help)", sub);
    int nargs = opts->nargs - 2;
    if (nargs != cmd->args)
        return ctl_usage_error ("%s arguments for 'keys %s'; usage: flotctl %s",
                                nargs < cmd->args ? "missing" : "too many", cmd->name,
                                cmd->synopsis);
    for (int i = 0; s_keys_options [i].name; i++)
        if ((opts->given & s_keys_options [i].bit) & ~cmd->options)
            return ctl_usage_error ("%s does not apply to 'keys %s'; usage: flotctl %s",
                                    s_keys_options [i].name, cmd->name, cmd->synopsis);
    if (opts->json && !cmd->json)
        return ctl_usage_error ("--json does not apply to 'keys %s'; usage: flotctl %s",
                                cmd->name, cmd->synopsis);
    char dir [1024] = "";
    if (cmd->needs_dir) {
        int rc = s_dir (self, dir, sizeof dir);
        if (rc >= 0)
            return rc;
    }
    return cmd->run (self, dir);
}
