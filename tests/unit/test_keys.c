/*  test_keys.c - keys, roles and credentials (protocol/flot_keys.c), and
    the client's side of CURVE (protocol/flot_client.c).

    Proves what each role may serve, claim and call, and the phrase a
    refusal names; that a key directory is made private and never written
    over; that new, create, allow, revoke and rotate write the files a
    broker reads (modes, metadata) and refuse bad names, existing names,
    missing and hostile files; that the keyring skips garbage and knows a
    revoked key by name; the config file and its errors; where credentials
    come from (option over environment over config file, the embedded
    daemon's keys on loopback only) and their errors; that the local keys
    are made once, privately, even by two processes at once; and that a
    client with credentials talks CURVE to a server of that key, and hears
    nothing from a server of another.

    Every test works in its own temporary folder, with HOME, FLOTILLA_HOME
    and FLOTILLA_CONFIG pointing into it.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flotilla/client.h"
#include "flotilla/keys.h"

#define assert_mentions(text, needle) \
    do { \
        if (!strstr ((text), (needle))) \
            fail_msg ("message '%s' does not mention '%s'", (text), (needle)); \
    } while (0)

typedef struct {
    char dir [256];             //  the test's folder
    char keys [300];            //  a key directory in it (not made)
} test_t;

static int
s_remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    remove (path);
    return 0;
}

static int
s_setup (void **state)
{
    test_t *self = calloc (1, sizeof *self);
    assert_non_null (self);
    snprintf (self->dir, sizeof self->dir, "/tmp/test_keys.XXXXXX");
    assert_non_null (mkdtemp (self->dir));
    snprintf (self->keys, sizeof self->keys, "%s/keys", self->dir);
    setenv ("HOME", self->dir, 1);
    char path [400];
    snprintf (path, sizeof path, "%s/home", self->dir);
    setenv ("FLOTILLA_HOME", path, 1);
    setenv ("FLOTILLA_CONFIG", "/dev/null", 1);
    unsetenv ("FLOTILLA_CERT");
    unsetenv ("FLOTILLA_BROKER_CERT");
    *state = self;
    return 0;
}

static int
s_teardown (void **state)
{
    test_t *self = *state;
    nftw (self->dir, s_remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free (self);
    return 0;
}

//  A path in the test's folder.
static const char *
s_at (test_t *self, const char *name)
{
    static char paths [8][512];
    static int next = 0;
    char *path = paths [next++ % 8];
    snprintf (path, 512, "%s/%s", self->dir, name);
    return path;
}

static void
s_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
}

static mode_t
s_mode (const char *path)
{
    struct stat st;
    if (stat (path, &st))
        fail_msg ("%s: %s", path, strerror (errno));
    return st.st_mode & 07777;
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return lstat (path, &st) == 0;
}

static flot_key_t
s_key (const char *name, flot_role_t role, const char *services, const char *targets)
{
    flot_key_t key;
    memset (&key, 0, sizeof key);
    snprintf (key.name, sizeof key.name, "%s", name);
    key.role = role;
    snprintf (key.services, sizeof key.services, "%s", services);
    snprintf (key.targets, sizeof key.targets, "%s", targets);
    return key;
}

//  Makes the key directory, and a key NAME in it with its secret in
//  DIR/NAME.key.
static void
s_init (test_t *self)
{
    flot_err_t err;
    if (flot_keys_init (self->keys, &err))
        fail_msg ("init: %s", err.message);
}

static flot_key_t
s_new (test_t *self, const char *name, flot_role_t role, const char *services,
       const char *targets)
{
    flot_key_t key = s_key (name, role, services, targets);
    char secret [600];
    snprintf (secret, sizeof secret, "%s/%s.key", self->dir, name);
    flot_err_t err;
    if (flot_keys_new (self->keys, &key, secret, &err))
        fail_msg ("new %s: %s", name, err.message);
    return key;
}

//  -------------------------------------------------------------------------
//  Roles

static void
test_role_names_parse_back_and_nothing_else_is_a_role (void **state)
{
    (void) state;
    for (int role = FLOT_ROLE_VIEWER; role <= FLOT_ROLE_ADMIN; role++)
        assert_int_equal (flot_role_parse (flot_role_name ((flot_role_t) role)), role);
    assert_string_equal (flot_role_name (FLOT_ROLE_OPERATOR), "operator");
    assert_string_equal (flot_role_name (FLOT_ROLE_NONE), "none");
    assert_string_equal (flot_role_name ((flot_role_t) 99), "none");
    const char *bad [] = { "", "none", "Viewer", "operator ", "root", "adm", NULL };
    for (int i = 0; bad [i]; i++)
        assert_int_equal (flot_role_parse (bad [i]), FLOT_ROLE_NONE);
    assert_int_equal (flot_role_parse (NULL), FLOT_ROLE_NONE);
}

static void
test_keys_serve_and_claim_only_within_their_scope (void **state)
{
    (void) state;
    flot_key_t admin = s_key ("a", FLOT_ROLE_ADMIN, "", "");
    flot_key_t exec = s_key ("e", FLOT_ROLE_ACTOR, "executor,health", "eu-1,eu-2");
    flot_key_t any = s_key ("x", FLOT_ROLE_ACTOR, "*", "*");
    flot_key_t keyless = s_key ("k", FLOT_ROLE_ACTOR, "coordinator", "");
    flot_key_t op = s_key ("o", FLOT_ROLE_OPERATOR, "", "");
    flot_key_t viewer = s_key ("v", FLOT_ROLE_VIEWER, "", "");

    assert_true (flot_key_may_serve (&admin, "coordinator"));
    assert_true (flot_key_may_claim (&admin, "eu-9"));
    assert_true (flot_key_may_serve (&exec, "executor"));
    assert_true (flot_key_may_serve (&exec, "health"));
    assert_false (flot_key_may_serve (&exec, "coordinator"));
    assert_false (flot_key_may_serve (&exec, "exec"));        //  no prefix match
    assert_false (flot_key_may_serve (&exec, "executor,health"));
    assert_true (flot_key_may_claim (&exec, "eu-2"));
    assert_false (flot_key_may_claim (&exec, "us-1"));
    assert_false (flot_key_may_claim (&exec, "eu-"));
    assert_false (flot_key_may_claim (&exec, ""));
    assert_true (flot_key_may_serve (&any, "anything"));
    assert_true (flot_key_may_claim (&any, "anywhere"));
    assert_false (flot_key_may_claim (&keyless, "eu-1"));      //  registers without keys only
    for (int i = 0; i < 2; i++) {
        flot_key_t *key = i ? &op : &viewer;
        assert_false (flot_key_may_serve (key, "events"));
        assert_false (flot_key_may_claim (key, "eu-1"));
    }
    assert_false (flot_key_may_serve (NULL, "events"));
}

static void
test_may_call_follows_callers_and_names_what_is_needed (void **state)
{
    (void) state;
    flot_key_t admin = s_key ("a", FLOT_ROLE_ADMIN, "", "");
    flot_key_t op = s_key ("o", FLOT_ROLE_OPERATOR, "", "");
    flot_key_t viewer = s_key ("v", FLOT_ROLE_VIEWER, "", "");
    flot_key_t coordinator = s_key ("c", FLOT_ROLE_ACTOR, "coordinator", "");
    flot_key_t health = s_key ("h", FLOT_ROLE_ACTOR, "health", "");
    const char *viewers [] = { "viewer", NULL };
    const char *operators [] = { "operator", NULL };
    const char *mixed [] = { "operator", "service:coordinator", "service:rollback", NULL };
    const char *three [] = { "service:a", "service:b", "service:c", NULL };
    const char *none [] = { NULL };
    char need [128];

    //  viewer: any role
    flot_key_t *all [] = { &admin, &op, &viewer, &coordinator, &health };
    for (int i = 0; i < 5; i++)
        assert_true (flot_key_may_call (all [i], viewers, need, sizeof need));
    assert_false (flot_key_may_call (NULL, viewers, need, sizeof need));
    assert_string_equal (need, "role viewer");

    //  operator: operator or admin
    assert_true (flot_key_may_call (&op, operators, need, sizeof need));
    assert_true (flot_key_may_call (&admin, operators, need, sizeof need));
    assert_false (flot_key_may_call (&viewer, operators, need, sizeof need));
    assert_string_equal (need, "role operator");
    assert_false (flot_key_may_call (&coordinator, operators, need, sizeof need));

    //  service:NAME: admin, or an actor that may serve NAME
    assert_true (flot_key_may_call (&coordinator, mixed, need, sizeof need));
    assert_true (flot_key_may_call (&op, mixed, need, sizeof need));
    assert_false (flot_key_may_call (&health, mixed, need, sizeof need));
    assert_string_equal (need, "role operator, or an actor key for service coordinator "
                               "or rollback");
    assert_false (flot_key_may_call (&viewer, mixed, need, sizeof need));
    assert_false (flot_key_may_call (&op, three, need, sizeof need));
    assert_string_equal (need, "an actor key for service a, b or c");
    assert_true (flot_key_may_call (&admin, three, NULL, 0));

    //  No callers: admin only.
    assert_false (flot_key_may_call (&op, none, need, sizeof need));
    assert_string_equal (need, "role admin");
    //  A short buffer is cut, never overrun.
    char small [8];
    assert_false (flot_key_may_call (&health, mixed, small, sizeof small));
    assert_int_equal (strlen (small), sizeof small - 1);
}

static void
test_key_check_refuses_scope_that_does_not_fit_the_role (void **state)
{
    (void) state;
    flot_err_t err;
    flot_key_t key = s_key ("op", FLOT_ROLE_OPERATOR, "executor", "");
    assert_int_equal (flot_key_check (&key, &err), -1);
    assert_int_equal (err.code, FLOT_E_INVALID);
    assert_mentions (err.message, "role actor only");
    key = s_key ("ex", FLOT_ROLE_ACTOR, "", "eu-1");
    assert_int_equal (flot_key_check (&key, &err), -1);
    assert_mentions (err.message, "needs the services");
    key = s_key ("ex", FLOT_ROLE_ACTOR, "executor,,health", "");
    assert_int_equal (flot_key_check (&key, &err), -1);
    assert_mentions (err.message, "empty item");
    key = s_key ("ex", FLOT_ROLE_ACTOR, "executor", "eu 1");
    assert_int_equal (flot_key_check (&key, &err), -1);
    assert_mentions (err.message, "'eu 1'");
    key = s_key ("ex", FLOT_ROLE_ACTOR, "exec\"utor", "");
    assert_int_equal (flot_key_check (&key, &err), -1);
    key = s_key ("ex", FLOT_ROLE_NONE, "", "");
    assert_int_equal (flot_key_check (&key, &err), -1);
    assert_mentions (err.message, "no role");
    key = s_key ("ex", FLOT_ROLE_ACTOR, "executor,health", "eu-1,host:7/a@b+c");
    assert_int_equal (flot_key_check (&key, &err), 0);
}

//  -------------------------------------------------------------------------
//  The key directory

static void
test_init_makes_a_private_directory_and_refuses_a_second_time (void **state)
{
    test_t *self = *state;
    flot_err_t err;
    //  Parents are made too.
    snprintf (self->keys, sizeof self->keys, "%s/a/b/keys", self->dir);
    s_init (self);
    char path [600];
    assert_int_equal (s_mode (self->keys), 0700);
    snprintf (path, sizeof path, "%s/broker.key", self->keys);
    assert_int_equal (s_mode (path), 0600);
    zcert_t *cert = flot_keys_server_cert (self->keys, false, &err);
    assert_non_null (cert);
    snprintf (path, sizeof path, "%s/broker.pub", self->keys);
    zcert_t *pub = zcert_load (path);           //  czmq reads what we wrote
    assert_non_null (pub);
    assert_string_equal (zcert_public_txt (pub), zcert_public_txt (cert));
    assert_string_equal (zcert_secret_txt (pub), "0000000000000000000000000000000000000000");
    zcert_destroy (&pub);
    for (int i = 0; i < 2; i++) {
        snprintf (path, sizeof path, "%s/%s", self->keys, i ? "revoked" : "allowed");
        assert_int_equal (s_mode (path), 0700);
    }
    assert_int_equal (flot_keys_init (self->keys, &err), -1);
    assert_int_equal (err.code, FLOT_E_CONFLICT);
    assert_mentions (err.message, "already holds a broker key pair");
    //  The pair is still the first one.
    zcert_t *again = flot_keys_server_cert (self->keys, false, &err);
    assert_non_null (again);
    assert_string_equal (zcert_public_txt (again), zcert_public_txt (cert));
    zcert_destroy (&again);
    zcert_destroy (&cert);
    //  No rotation yet.
    assert_null (flot_keys_server_cert (self->keys, true, &err));
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
}

static void
test_new_writes_a_private_secret_and_an_allowed_public_key (void **state)
{
    test_t *self = *state;
    s_init (self);
    flot_key_t key = s_new (self, "exec-eu", FLOT_ROLE_ACTOR, "executor", "eu-1,eu-2");
    assert_int_equal (strlen (key.public_key), 40);
    const char *secret = s_at (self, "exec-eu.key");
    assert_int_equal (s_mode (secret), 0600);
    zcert_t *pair = zcert_load (secret);
    assert_non_null (pair);
    assert_string_equal (zcert_public_txt (pair), key.public_key);
    assert_string_not_equal (zcert_secret_txt (pair), "0000000000000000000000000000000000000000");
    assert_string_equal (zcert_meta (pair, "name"), "exec-eu");
    assert_null (zcert_meta (pair, "role"));
    zcert_destroy (&pair);

    char path [600];
    snprintf (path, sizeof path, "%s/allowed/exec-eu.pub", self->keys);
    zcert_t *pub = zcert_load (path);
    assert_non_null (pub);
    assert_string_equal (zcert_public_txt (pub), key.public_key);
    assert_string_equal (zcert_secret_txt (pub), "0000000000000000000000000000000000000000");
    assert_string_equal (zcert_meta (pub, "name"), "exec-eu");
    assert_string_equal (zcert_meta (pub, "role"), "actor");
    assert_string_equal (zcert_meta (pub, "services"), "executor");
    assert_string_equal (zcert_meta (pub, "targets"), "eu-1,eu-2");
    zcert_destroy (&pub);

    //  The same name again, and a secret file that exists: refused, and
    //  nothing is left behind.
    flot_err_t err;
    flot_key_t again = s_key ("exec-eu", FLOT_ROLE_VIEWER, "", "");
    assert_int_equal (flot_keys_new (self->keys, &again, s_at (self, "other.key"), &err), -1);
    assert_int_equal (err.code, FLOT_E_CONFLICT);
    assert_mentions (err.message, "already allowed");
    assert_false (s_exists (s_at (self, "other.key")));
    s_write (s_at (self, "taken.key"), "mine\n");
    flot_key_t fresh = s_key ("fresh", FLOT_ROLE_VIEWER, "", "");
    assert_int_equal (flot_keys_new (self->keys, &fresh, s_at (self, "taken.key"), &err), -1);
    assert_int_equal (err.code, FLOT_E_CONFLICT);
    snprintf (path, sizeof path, "%s/allowed/fresh.pub", self->keys);
    assert_false (s_exists (path));
    //  Not a key directory.
    assert_int_equal (flot_keys_new (s_at (self, "nowhere"), &fresh, s_at (self, "f.key"), &err), -1);
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
    assert_mentions (err.message, "flotctl keys init");
    //  No temporary file stays in the directory.
    DIR *dir = opendir (self->keys);
    struct dirent *entry;
    while ((entry = readdir (dir)))
        if (strncmp (entry->d_name, ".flotilla-", 10) == 0)
            fail_msg ("temporary file %s left behind", entry->d_name);
    closedir (dir);
}

static void
test_new_refuses_names_that_are_not_key_names (void **state)
{
    test_t *self = *state;
    s_init (self);
    char long_name [80];
    memset (long_name, 'k', 65);
    long_name [65] = 0;
    //  (flot_key_t holds 64 bytes: a 65-byte name goes through create and
    //  revoke, which take a string.)
    const char *bad [] = { "../x", "", ".", "..", "a b", "a/b", "\xc3\xa9", NULL };
    flot_err_t err;
    for (int i = 0; bad [i]; i++) {
        flot_key_t key = s_key (bad [i], FLOT_ROLE_VIEWER, "", "");
        assert_int_equal (flot_keys_new (self->keys, &key, s_at (self, "bad.key"), &err), -1);
        assert_int_equal (err.code, FLOT_E_INVALID);
        assert_mentions (err.message, "not a key name");
        assert_false (s_exists (s_at (self, "bad.key")));
        assert_false (s_exists (s_at (self, "x.pub")));
        assert_int_equal (flot_keys_revoke (self->keys, bad [i], &err), -1);
        assert_int_equal (err.code, FLOT_E_INVALID);
    }
    assert_int_equal (flot_keys_create (long_name, s_at (self, "bad.key"), s_at (self, "bad.pub"),
                                        &err), -1);
    assert_int_equal (err.code, FLOT_E_INVALID);
    assert_false (s_exists (s_at (self, "bad.key")));
    assert_int_equal (flot_keys_revoke (self->keys, long_name, &err), -1);
    assert_int_equal (err.code, FLOT_E_INVALID);
    long_name [64] = 0;             //  64 bytes is a name
    s_new (self, long_name, FLOT_ROLE_VIEWER, "", "");
}

static void
test_allow_reads_only_a_public_key_and_refuses_hostile_files (void **state)
{
    test_t *self = *state;
    s_init (self);
    flot_err_t err;
    assert_int_equal (flot_keys_create ("bob", s_at (self, "bob.key"), s_at (self, "bob.pub"),
                                        &err), 0);
    assert_int_equal (s_mode (s_at (self, "bob.key")), 0600);
    //  create never writes over a file
    assert_int_equal (flot_keys_create ("bob", s_at (self, "bob.key"), s_at (self, "b2.pub"),
                                        &err), -1);
    assert_int_equal (err.code, FLOT_E_CONFLICT);
    assert_false (s_exists (s_at (self, "b2.pub")));

    //  The secret file serves as well: only its public key is taken.
    flot_key_t key = s_key ("bob", FLOT_ROLE_VIEWER, "", "");
    assert_int_equal (flot_keys_allow (self->keys, s_at (self, "bob.key"), &key, &err), 0);
    zcert_t *mine = zcert_load (s_at (self, "bob.key"));
    assert_string_equal (key.public_key, zcert_public_txt (mine));
    zcert_destroy (&mine);
    char path [600];
    snprintf (path, sizeof path, "%s/allowed/bob.pub", self->keys);
    zcert_t *allowed = zcert_load (path);
    assert_string_equal (zcert_secret_txt (allowed), "0000000000000000000000000000000000000000");
    assert_string_equal (zcert_meta (allowed, "role"), "viewer");
    zcert_destroy (&allowed);

    //  The same public key under another name: refused.
    flot_key_t twice = s_key ("bobby", FLOT_ROLE_OPERATOR, "", "");
    assert_int_equal (flot_keys_allow (self->keys, s_at (self, "bob.pub"), &twice, &err), -1);
    assert_int_equal (err.code, FLOT_E_CONFLICT);
    assert_mentions (err.message, "already allowed as bob");

    //  Missing, not a cert, binary, a folder, a FIFO (no hang), a broken
    //  key, a pair whose halves do not match.
    flot_key_t other = s_key ("other", FLOT_ROLE_VIEWER, "", "");
    assert_int_equal (flot_keys_allow (self->keys, s_at (self, "missing.pub"), &other, &err), -1);
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
    assert_mentions (err.message, "missing.pub");
    s_write (s_at (self, "text.pub"), "hello world\nthis is not = a \"cert\n");
    s_write (s_at (self, "zpl.pub"), "curve\n    public-key = \"short\"\n");
    s_write (s_at (self, "z85.pub"), "curve\n    public-key = \"~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\"\n");
    s_write (s_at (self, "bin.pub"), "curve\n\x01\x02\x03\n");
    assert_int_equal (mkfifo (s_at (self, "fifo.pub"), 0600), 0);
    assert_int_equal (mkdir (s_at (self, "folder.pub"), 0700), 0);
    const char *hostile [] = { "text.pub", "zpl.pub", "z85.pub", "bin.pub", "fifo.pub",
                               "folder.pub", NULL };
    for (int i = 0; hostile [i]; i++) {
        assert_int_equal (flot_keys_allow (self->keys, s_at (self, hostile [i]), &other, &err), -1);
        assert_int_equal (err.code, FLOT_E_INVALID);
        assert_mentions (err.message, hostile [i]);
    }
    zcert_t *a = zcert_new (), *b = zcert_new ();
    zcert_t *mixed = zcert_new_from (zcert_public_key (a), zcert_secret_key (b));
    zcert_save_secret (mixed, s_at (self, "mixed.key"));
    zcert_destroy (&a);
    zcert_destroy (&b);
    zcert_destroy (&mixed);
    assert_int_equal (flot_keys_allow (self->keys, s_at (self, "mixed.key"), &other, &err), -1);
    assert_mentions (err.message, "not the secret of its public-key");
    snprintf (path, sizeof path, "%s/allowed/other.pub", self->keys);
    assert_false (s_exists (path));
}

static void
test_revoke_moves_the_key_and_the_keyring_names_it (void **state)
{
    test_t *self = *state;
    s_init (self);
    flot_key_t alice = s_new (self, "alice", FLOT_ROLE_OPERATOR, "", "");
    flot_key_t bob = s_new (self, "bob", FLOT_ROLE_VIEWER, "", "");
    flot_err_t err;
    assert_int_equal (flot_keys_revoke (self->keys, "alice", &err), 0);
    char path [600];
    snprintf (path, sizeof path, "%s/allowed/alice.pub", self->keys);
    assert_false (s_exists (path));
    snprintf (path, sizeof path, "%s/revoked/alice.pub", self->keys);
    assert_true (s_exists (path));

    flot_keyring_t *ring = flot_keyring_load (self->keys, &err);
    assert_non_null (ring);
    assert_int_equal (flot_keyring_size (ring), 1);
    assert_null (flot_keyring_lookup (ring, alice.public_key));
    assert_string_equal (flot_keyring_revoked (ring, alice.public_key), "alice");
    const flot_key_t *found = flot_keyring_lookup (ring, bob.public_key);
    assert_non_null (found);
    assert_string_equal (found->name, "bob");
    assert_int_equal (found->role, FLOT_ROLE_VIEWER);
    assert_null (flot_keyring_revoked (ring, bob.public_key));
    assert_int_equal (flot_keyring_revoked_size (ring), 1);
    assert_string_equal (flot_keyring_revoked_first (ring)->name, "alice");
    flot_keyring_destroy (&ring);
    flot_keyring_destroy (&ring);           //  safe twice

    assert_int_equal (flot_keys_revoke (self->keys, "alice", &err), -1);
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
    assert_mentions (err.message, "already revoked");
    assert_int_equal (flot_keys_revoke (self->keys, "carol", &err), -1);
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
    assert_int_equal (flot_keys_revoke (self->keys, "../allowed/bob", &err), -1);
    assert_int_equal (err.code, FLOT_E_INVALID);
    //  A revoked name is not made again, nor its public key allowed again.
    flot_key_t again = s_key ("alice", FLOT_ROLE_VIEWER, "", "");
    assert_int_equal (flot_keys_new (self->keys, &again, s_at (self, "a2.key"), &err), -1);
    assert_int_equal (err.code, FLOT_E_CONFLICT);
    assert_mentions (err.message, "revoked");
    flot_key_t back = s_key ("alice2", FLOT_ROLE_VIEWER, "", "");
    assert_int_equal (flot_keys_allow (self->keys, s_at (self, "alice.key"), &back, &err), -1);
    assert_int_equal (err.code, FLOT_E_CONFLICT);
    assert_mentions (err.message, "revoked");
}

static void
test_keyring_skips_garbage_in_allowed_without_failing (void **state)
{
    test_t *self = *state;
    s_init (self);
    flot_key_t good = s_new (self, "good", FLOT_ROLE_OPERATOR, "", "");
    char path [600];
    snprintf (path, sizeof path, "%s/allowed/garbage.pub", self->keys);
    s_write (path, "\x7f" "ELF binary junk\n");
    snprintf (path, sizeof path, "%s/allowed/syntax.pub", self->keys);
    s_write (path, "   three spaces\n");
    snprintf (path, sizeof path, "%s/allowed/README", self->keys);
    s_write (path, "notes\n");
    //  A valid cert with a bad role, one whose name is not its file's, and
    //  a copy of good's key under another name.
    zcert_t *cert = zcert_new ();
    zcert_set_meta (cert, "name", "norole");
    zcert_set_meta (cert, "role", "root");
    snprintf (path, sizeof path, "%s/allowed/norole.pub", self->keys);
    zcert_save_public (cert, path);
    zcert_set_meta (cert, "name", "someone");
    zcert_set_meta (cert, "role", "viewer");
    snprintf (path, sizeof path, "%s/allowed/impostor.pub", self->keys);
    zcert_save_public (cert, path);
    zcert_destroy (&cert);
    char good_pub [600], copy [600];
    snprintf (good_pub, sizeof good_pub, "%s/allowed/good.pub", self->keys);
    zcert_t *twin = zcert_load (good_pub);
    zcert_set_meta (twin, "name", "twin");
    snprintf (copy, sizeof copy, "%s/allowed/twin.pub", self->keys);
    zcert_save_public (twin, copy);
    zcert_destroy (&twin);

    flot_err_t err;
    flot_keyring_t *ring = flot_keyring_load (self->keys, &err);
    assert_non_null (ring);
    assert_int_equal (flot_keyring_size (ring), 1);
    const flot_key_t *key = flot_keyring_first (ring);
    assert_non_null (key);
    assert_string_equal (key->public_key, good.public_key);
    assert_null (flot_keyring_next (ring));
    assert_null (flot_keyring_lookup (ring, "not a key"));
    flot_keyring_destroy (&ring);

    //  Not a key directory: an error, not a crash.
    assert_null (flot_keyring_load (s_at (self, "nowhere"), &err));
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
}

static void
test_rotate_makes_a_next_key_then_finish_puts_it_in_place (void **state)
{
    test_t *self = *state;
    flot_err_t err;
    assert_int_equal (flot_keys_rotate (self->keys, false, &err), -1);
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
    s_init (self);
    zcert_t *old = flot_keys_server_cert (self->keys, false, &err);
    assert_int_equal (flot_keys_rotate (self->keys, true, &err), -1);
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
    assert_mentions (err.message, "no rotation");

    assert_int_equal (flot_keys_rotate (self->keys, false, &err), 0);
    zcert_t *next = flot_keys_server_cert (self->keys, true, &err);
    assert_non_null (next);
    assert_string_not_equal (zcert_public_txt (next), zcert_public_txt (old));
    char path [600];
    snprintf (path, sizeof path, "%s/broker-next.key", self->keys);
    assert_int_equal (s_mode (path), 0600);
    snprintf (path, sizeof path, "%s/broker-next.pub", self->keys);
    assert_true (s_exists (path));
    //  The current key stays until the rotation is finished.
    zcert_t *current = flot_keys_server_cert (self->keys, false, &err);
    assert_string_equal (zcert_public_txt (current), zcert_public_txt (old));
    zcert_destroy (&current);
    assert_int_equal (flot_keys_rotate (self->keys, false, &err), -1);
    assert_int_equal (err.code, FLOT_E_CONFLICT);

    assert_int_equal (flot_keys_rotate (self->keys, true, &err), 0);
    current = flot_keys_server_cert (self->keys, false, &err);
    assert_non_null (current);
    assert_string_equal (zcert_public_txt (current), zcert_public_txt (next));
    snprintf (path, sizeof path, "%s/broker.pub", self->keys);
    zcert_t *pub = zcert_load (path);
    assert_string_equal (zcert_public_txt (pub), zcert_public_txt (next));
    assert_null (flot_keys_server_cert (self->keys, true, &err));
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
    assert_int_equal (flot_keys_rotate (self->keys, true, &err), -1);
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
    zcert_destroy (&pub);
    zcert_destroy (&current);
    zcert_destroy (&next);
    zcert_destroy (&old);
}

static void
test_server_cert_refuses_a_secret_others_may_read (void **state)
{
    test_t *self = *state;
    s_init (self);
    char path [600];
    snprintf (path, sizeof path, "%s/broker.key", self->keys);
    assert_int_equal (chmod (path, 0644), 0);
    flot_err_t err;
    assert_null (flot_keys_server_cert (self->keys, false, &err));
    assert_int_equal (err.code, FLOT_E_INVALID);
    assert_mentions (err.message, "chmod 600");
}

//  -------------------------------------------------------------------------
//  The config file

static void
test_config_file_gives_settings_and_names_bad_lines (void **state)
{
    test_t *self = *state;
    const char *file = s_at (self, "flotilla.conf");
    s_write (file, "# a comment\n"
                   "\n"
                   "endpoint = tcp://10.0.0.1:5555\n"
                   "   cert=client.key   \n"
                   "broker-cert = \"/etc/flotilla/broker.pub\"\n"
                   "auth-dir = /var/lib/flotilla/keys\r\n");
    setenv ("FLOTILLA_CONFIG", file, 1);
    char value [1024], expected [600];
    flot_err_t err;
    assert_int_equal (flot_config_get ("endpoint", value, sizeof value, &err), 1);
    assert_string_equal (value, "tcp://10.0.0.1:5555");
    assert_int_equal (flot_config_get ("cert", value, sizeof value, &err), 1);
    snprintf (expected, sizeof expected, "%s/client.key", self->dir);
    assert_string_equal (value, expected);          //  from the file's folder
    assert_int_equal (flot_config_get ("broker-cert", value, sizeof value, &err), 1);
    assert_string_equal (value, "/etc/flotilla/broker.pub");
    assert_int_equal (flot_config_get ("auth-dir", value, sizeof value, &err), 1);
    assert_string_equal (value, "/var/lib/flotilla/keys");
    assert_int_equal (flot_config_get ("hooks-dir", value, sizeof value, &err), 0);
    assert_int_equal (flot_config_get ("password", value, sizeof value, &err), -1);
    char path [600];
    assert_int_equal (flot_config_path (path, sizeof path, &err), 0);
    assert_string_equal (path, file);

    struct { const char *text; const char *says; } bad [] = {
        { "endpoint = tcp://a:1\njust words\n", ":2: expected `name = value`" },
        { "# ok\nendpoint = x\nkey = value\n", ":3: unknown setting 'key'" },
        { "cert =\n", ":1: cert has no value" },
        { "cert = a\ncert = b\n", ":2: cert is set again (first on line 1)" },
        { NULL, NULL }
    };
    for (int i = 0; bad [i].text; i++) {
        s_write (file, bad [i].text);
        assert_int_equal (flot_config_get ("endpoint", value, sizeof value, &err), -1);
        assert_int_equal (err.code, FLOT_E_INVALID);
        assert_mentions (err.message, file);
        assert_mentions (err.message, bad [i].says);
    }
    setenv ("FLOTILLA_CONFIG", s_at (self, "missing.conf"), 1);
    assert_int_equal (flot_config_get ("endpoint", value, sizeof value, &err), -1);
    assert_mentions (err.message, "missing.conf");

    //  Without FLOTILLA_CONFIG: ~/.config/flotilla/flotilla.conf if it exists.
    unsetenv ("FLOTILLA_CONFIG");
    assert_int_equal (mkdir (s_at (self, ".config"), 0700), 0);
    assert_int_equal (mkdir (s_at (self, ".config/flotilla"), 0700), 0);
    s_write (s_at (self, ".config/flotilla/flotilla.conf"), "hooks-dir = /srv/hooks\n");
    assert_int_equal (flot_config_get ("hooks-dir", value, sizeof value, &err), 1);
    assert_string_equal (value, "/srv/hooks");
}

//  -------------------------------------------------------------------------
//  Credentials

static void
test_creds_come_from_option_then_environment_then_config (void **state)
{
    test_t *self = *state;
    s_init (self);
    s_new (self, "arg", FLOT_ROLE_VIEWER, "", "");
    flot_key_t env = s_new (self, "env", FLOT_ROLE_VIEWER, "", "");
    flot_key_t conf = s_new (self, "conf", FLOT_ROLE_VIEWER, "", "");
    char broker [600];
    snprintf (broker, sizeof broker, "%s/broker.pub", self->keys);
    zcert_t *server = flot_keys_server_cert (self->keys, false, NULL);
    flot_err_t err;
    flot_creds_t creds;
    const char *endpoint = "tcp://10.1.2.3:5555";

    //  None anywhere: plain.
    assert_int_equal (flot_creds_resolve (&creds, NULL, NULL, endpoint, &err), 0);
    assert_null (creds.cert);

    const char *file = s_at (self, "flotilla.conf");
    char text [1400];
    snprintf (text, sizeof text, "cert = conf.key\nbroker-cert = %s\n", broker);
    s_write (file, text);
    setenv ("FLOTILLA_CONFIG", file, 1);
    assert_int_equal (flot_creds_resolve (&creds, NULL, NULL, endpoint, &err), 0);
    assert_non_null (creds.cert);
    assert_string_equal (zcert_public_txt (creds.cert), conf.public_key);
    assert_string_equal (creds.server_key, zcert_public_txt (server));
    assert_string_equal (creds.server_path, broker);
    flot_creds_clear (&creds);
    flot_creds_clear (&creds);              //  safe twice

    setenv ("FLOTILLA_CERT", s_at (self, "env.key"), 1);
    assert_int_equal (flot_creds_resolve (&creds, NULL, NULL, endpoint, &err), 0);
    assert_string_equal (zcert_public_txt (creds.cert), env.public_key);
    flot_creds_clear (&creds);

    assert_int_equal (flot_creds_resolve (&creds, s_at (self, "arg.key"), NULL, endpoint, &err), 0);
    assert_string_equal (creds.cert_path, s_at (self, "arg.key"));
    flot_creds_clear (&creds);

    //  Half of a pair: an error naming the missing half.
    setenv ("FLOTILLA_CONFIG", "/dev/null", 1);
    unsetenv ("FLOTILLA_CERT");
    assert_int_equal (flot_creds_resolve (&creds, s_at (self, "arg.key"), NULL, endpoint, &err), -1);
    assert_int_equal (err.code, FLOT_E_INVALID);
    assert_mentions (err.message, "--broker-cert");
    assert_mentions (err.message, "arg.key");
    setenv ("FLOTILLA_BROKER_CERT", broker, 1);
    assert_int_equal (flot_creds_resolve (&creds, NULL, NULL, endpoint, &err), -1);
    assert_mentions (err.message, "--cert");
    assert_mentions (err.message, "FLOTILLA_BROKER_CERT");
    //  A file that cannot be read, a public key given as the cert, a
    //  secret others may read.
    assert_int_equal (flot_creds_resolve (&creds, s_at (self, "nope.key"), NULL, endpoint, &err), -1);
    assert_mentions (err.message, "nope.key");
    assert_int_equal (flot_creds_resolve (&creds, broker, NULL, endpoint, &err), -1);
    assert_mentions (err.message, "chmod 600");         //  broker.pub is 0644
    char pub_copy [600];
    snprintf (pub_copy, sizeof pub_copy, "%s/copy.pub", self->dir);
    zcert_t *copy = zcert_load (broker);
    zcert_save_public (copy, pub_copy);
    zcert_destroy (&copy);
    chmod (pub_copy, 0600);
    assert_int_equal (flot_creds_resolve (&creds, pub_copy, NULL, endpoint, &err), -1);
    assert_mentions (err.message, "holds no key pair");
    chmod (s_at (self, "arg.key"), 0640);
    assert_int_equal (flot_creds_resolve (&creds, s_at (self, "arg.key"), NULL, endpoint, &err), -1);
    assert_mentions (err.message, "other users may read it");
    unsetenv ("FLOTILLA_BROKER_CERT");
    zcert_destroy (&server);
}

static void
test_creds_use_the_local_keys_on_loopback_only (void **state)
{
    (void) state;
    char local [1024];
    flot_err_t err;
    flot_creds_t creds;
    //  No local keys yet: plain.
    assert_int_equal (flot_creds_resolve (&creds, NULL, NULL, "tcp://127.0.0.1:5555", &err), 0);
    assert_null (creds.cert);
    assert_int_equal (flot_keys_local_ensure (local, sizeof local, &err), 0);
    const char *loopback [] = { "tcp://127.0.0.1:5555", "tcp://localhost:1", "tcp://[::1]:9",
                                "tcp://127.3.2.1:7", NULL };
    for (int i = 0; loopback [i]; i++) {
        assert_int_equal (flot_creds_resolve (&creds, NULL, NULL, loopback [i], &err), 0);
        if (!creds.cert)
            fail_msg ("%s: no local keys", loopback [i]);
        assert_mentions (creds.cert_path, local);
        assert_mentions (creds.cert_path, "local.key");
        assert_mentions (creds.server_path, "broker.pub");
        flot_creds_clear (&creds);
    }
    const char *remote [] = { "tcp://10.0.0.1:5555", "tcp://127.0.0.1.evil.com:5",
                              "tcp://localhost.evil:5", "ipc:///tmp/x", "inproc://x", NULL };
    for (int i = 0; remote [i]; i++) {
        assert_int_equal (flot_creds_resolve (&creds, NULL, NULL, remote [i], &err), 0);
        if (creds.cert)
            fail_msg ("%s: took the local keys", remote [i]);
    }
}

static void
test_local_keys_are_made_once_and_private (void **state)
{
    test_t *self = *state;
    char local [1024], again [1024], path [1200];
    flot_err_t err;
    assert_int_equal (flot_keys_local_path (local, sizeof local, &err), 0);
    snprintf (path, sizeof path, "%s/home/local", self->dir);
    assert_string_equal (local, path);
    assert_false (s_exists (local));
    assert_int_equal (flot_keys_local_ensure (local, sizeof local, &err), 0);
    assert_int_equal (s_mode (local), 0700);
    const char *secrets [] = { "local.key", "broker.key", NULL };
    for (int i = 0; secrets [i]; i++) {
        snprintf (path, sizeof path, "%s/%s", local, secrets [i]);
        assert_int_equal (s_mode (path), 0600);
    }
    snprintf (path, sizeof path, "%s/allowed", local);
    assert_int_equal (s_mode (path), 0700);
    snprintf (path, sizeof path, "%s/local.key", local);
    zcert_t *first = zcert_load (path);
    flot_keyring_t *ring = flot_keyring_load (local, &err);
    const flot_key_t *key = flot_keyring_lookup (ring, zcert_public_txt (first));
    assert_non_null (key);
    assert_string_equal (key->name, "local");
    assert_int_equal (key->role, FLOT_ROLE_ADMIN);
    flot_keyring_destroy (&ring);

    assert_int_equal (flot_keys_local_ensure (again, sizeof again, &err), 0);
    assert_string_equal (again, local);
    zcert_t *second = zcert_load (path);
    assert_true (zcert_eq (first, second));
    zcert_destroy (&first);
    zcert_destroy (&second);

    //  Opened to others, or incomplete: refused, not used.
    assert_int_equal (chmod (local, 0755), 0);
    assert_int_equal (flot_keys_local_ensure (again, sizeof again, &err), -1);
    assert_mentions (err.message, "other users");
    assert_int_equal (chmod (local, 0700), 0);
    assert_int_equal (unlink (path), 0);
    assert_int_equal (flot_keys_local_ensure (again, sizeof again, &err), -1);
    assert_mentions (err.message, "incomplete");

    //  HOME unset: the password database's home, not a crash.
    unsetenv ("FLOTILLA_HOME");
    unsetenv ("HOME");
    assert_int_equal (flot_keys_local_path (again, sizeof again, &err), 0);
    assert_mentions (again, "/.flotilla/local");
}

static void
test_local_keys_made_by_two_processes_at_once_are_one (void **state)
{
    test_t *self = *state;
    for (int round = 0; round < 5; round++) {
        char home [600];
        snprintf (home, sizeof home, "%s/home%d", self->dir, round);
        setenv ("FLOTILLA_HOME", home, 1);
        int fds [2][2];
        pid_t pids [2];
        for (int i = 0; i < 2; i++) {
            assert_int_equal (pipe (fds [i]), 0);
            pids [i] = fork ();
            assert_true (pids [i] >= 0);
            if (pids [i] == 0) {
                char path [1024], key [1200];
                flot_err_t err;
                char out [41] = "";
                if (flot_keys_local_ensure (path, sizeof path, &err) == 0) {
                    snprintf (key, sizeof key, "%s/local.key", path);
                    zcert_t *cert = zcert_load (key);
                    if (cert)
                        snprintf (out, sizeof out, "%s", zcert_public_txt (cert));
                    zcert_destroy (&cert);
                }
                else
                    fprintf (stderr, "local_ensure: %s\n", err.message);
                if (write (fds [i][1], out, sizeof out) != sizeof out)
                    _exit (2);
                _exit (*out ? 0 : 1);
            }
            close (fds [i][1]);
        }
        char keys [2][41];
        for (int i = 0; i < 2; i++) {
            int status;
            assert_int_equal (read (fds [i][0], keys [i], sizeof keys [i]), sizeof keys [i]);
            close (fds [i][0]);
            assert_int_equal (waitpid (pids [i], &status, 0), pids [i]);
            assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
        }
        assert_string_equal (keys [0], keys [1]);
        //  One directory, and no temporary one left beside it.
        DIR *dir = opendir (home);
        assert_non_null (dir);
        struct dirent *entry;
        int entries = 0;
        while ((entry = readdir (dir)))
            if (!streq (entry->d_name, ".") && !streq (entry->d_name, "..")) {
                assert_string_equal (entry->d_name, "local");
                entries++;
            }
        closedir (dir);
        assert_int_equal (entries, 1);
    }
}

//  -------------------------------------------------------------------------
//  The client's side of CURVE

static void
test_secure_client_talks_curve_and_hears_nothing_from_another_key (void **state)
{
    test_t *self = *state;
    s_init (self);
    s_new (self, "alice", FLOT_ROLE_OPERATOR, "", "");
    zcert_t *server_cert = flot_keys_server_cert (self->keys, false, NULL);
    assert_non_null (server_cert);
    zsock_t *server = zsock_new (ZMQ_ROUTER);
    zcert_apply (server_cert, server);
    zsock_set_curve_server (server, 1);
    int port = zsock_bind (server, "tcp://127.0.0.1:*");
    assert_true (port > 0);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);

    char broker [600];
    snprintf (broker, sizeof broker, "%s/broker.pub", self->keys);
    flot_creds_t creds;
    flot_err_t err;
    assert_int_equal (flot_creds_resolve (&creds, s_at (self, "alice.key"), broker, endpoint,
                                          &err), 0);
    flot_client_t *client = flot_client_new_secure (endpoint, &creds);
    assert_non_null (client);
    flot_creds_clear (&creds);              //  the client keeps its own copy
    assert_non_null (flot_client_creds (client)->cert);
    assert_false (flot_client_answered (client));
    uint64_t corr = flot_client_send (client, "broker", NULL, "Ping", NULL, 0, 1000, &err);
    assert_true (corr > 0);
    zsock_set_rcvtimeo (server, 2000);
    zmsg_t *msg = zmsg_recv (server);
    assert_non_null (msg);                  //  the handshake passed
    assert_int_equal (zmsg_size (msg), 2);
    //  Answer, and the client hears it through CURVE.
    zframe_t *identity = zmsg_first (msg);
    static const uint8_t empty_map [1] = { 0x80 };
    flot_msg_t pong = { .kind = FLOT_REPLY, .corr = corr, .body = { empty_map, 1 } };
    flot_bytes_t to = { zframe_data (identity), zframe_size (identity) };
    assert_int_equal (flot_msg_send (&pong, zsock_resolve (server), &to, false), 0);
    zmsg_destroy (&msg);
    flot_reply_t reply;
    assert_int_equal (flot_client_recv (client, &reply, 2000, &err), 0);
    assert_int_equal (reply.kind, FLOT_REPLY);
    assert_true (reply.corr == corr);
    flot_reply_clear (&reply);
    assert_true (flot_client_answered (client));
    flot_client_destroy (&client);
    msg = zmsg_recv (server);               //  its DISCONNECT
    assert_non_null (msg);
    zmsg_destroy (&msg);

    //  A client that pins another broker's key never gets through.
    const char *other = s_at (self, "other");
    assert_int_equal (flot_keys_init (other, &err), 0);
    snprintf (broker, sizeof broker, "%s/broker.pub", other);
    assert_int_equal (flot_creds_resolve (&creds, s_at (self, "alice.key"), broker, endpoint,
                                          &err), 0);
    client = flot_client_new_secure (endpoint, &creds);
    flot_creds_clear (&creds);
    zframe_t *body = NULL;
    assert_int_equal (flot_client_call (client, "broker", NULL, "Ping", NULL, 0, 300, &body,
                                        &err), -1);
    assert_int_equal (err.code, FLOT_E_DEADLINE);
    assert_false (flot_client_answered (client));
    zsock_set_rcvtimeo (server, 0);
    assert_null (zmsg_recv (server));
    flot_client_destroy (&client);

    //  Plain, with creds NULL or without a cert: as flot_client_new.
    flot_creds_t plain = { .cert = NULL };
    client = flot_client_new_secure (endpoint, &plain);
    assert_null (flot_client_creds (client)->cert);
    flot_client_destroy (&client);
    client = flot_client_new_secure (endpoint, NULL);
    assert_non_null (client);
    flot_client_destroy (&client);
    assert_null (flot_client_new_secure ("not an endpoint", NULL));
    //  A cert with a server key that is not one: refused, never plain.
    flot_creds_t broken = { .cert = zcert_new () };
    const char *keys [] = { "", "short", "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~", NULL };
    for (int i = 0; keys [i]; i++) {
        snprintf (broken.server_key, sizeof broken.server_key, "%s", keys [i]);
        assert_false (flot_creds_valid (&broken));
        assert_null (flot_client_new_secure (endpoint, &broken));
        zsock_t *sock = zsock_new (ZMQ_DEALER);
        flot_creds_apply (&broken, sock);       //  no crash, and CURVE still on
        assert_int_equal (zsock_mechanism (sock), ZMQ_CURVE);
        zsock_destroy (&sock);
    }
    flot_creds_clear (&broken);
    zsock_destroy (&server);
    zcert_destroy (&server_cert);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_role_names_parse_back_and_nothing_else_is_a_role),
        cmocka_unit_test (test_keys_serve_and_claim_only_within_their_scope),
        cmocka_unit_test (test_may_call_follows_callers_and_names_what_is_needed),
        cmocka_unit_test (test_key_check_refuses_scope_that_does_not_fit_the_role),
#define T(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)
        T (test_init_makes_a_private_directory_and_refuses_a_second_time),
        T (test_new_writes_a_private_secret_and_an_allowed_public_key),
        T (test_new_refuses_names_that_are_not_key_names),
        T (test_allow_reads_only_a_public_key_and_refuses_hostile_files),
        T (test_revoke_moves_the_key_and_the_keyring_names_it),
        T (test_keyring_skips_garbage_in_allowed_without_failing),
        T (test_rotate_makes_a_next_key_then_finish_puts_it_in_place),
        T (test_server_cert_refuses_a_secret_others_may_read),
        T (test_config_file_gives_settings_and_names_bad_lines),
        T (test_creds_come_from_option_then_environment_then_config),
        T (test_creds_use_the_local_keys_on_loopback_only),
        T (test_local_keys_are_made_once_and_private),
        T (test_local_keys_made_by_two_processes_at_once_are_one),
        T (test_secure_client_talks_curve_and_hears_nothing_from_another_key),
#undef T
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
