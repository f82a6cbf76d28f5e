/*  auth.c - the broker's keys: who may connect, and what each key may do.

    The handshake is CURVE (RFC 26), admitted by czmq's zauth (ZAP, RFC
    27) from a private folder that holds exactly the keys loaded here, one
    public certificate each, written afresh whenever they change and
    removed once zauth has read it: a peer
    whose public key is not allowed never gets a message through. (zauth
    is not pointed at allowed/ itself: its store aborts on two files of one
    key, and prints what it cannot parse.) ZAP runs once per connection,
    so the broker also checks every message's key (its "User-Id" property,
    the public key zauth admitted) against the keys loaded here, and loads
    them again whenever allowed/ or revoked/ changes: a key revoked while
    connected is refused on its next message.
*/
#include "auth.h"
#include "flotilla/contract.h"
#include "flotilla/log.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define WHO "broker"

struct _broker_auth_t {
    char *dir;
    flot_keyring_t *keyring;
    zcert_t *cert;              //  the broker's key pair
    zcert_t *next;              //  a rotation's next key pair, or NULL
    zactor_t *zap;              //  czmq's ZAP handler, admitting the loaded keys
    char zap_home [256];        //  our private folder (0700) for what ZAP reads; "" none
    unsigned zap_turn;
    int notify;                 //  inotify on the directory, allowed/ and revoked/, or -1
    bool dirty;                 //  changed, and not loaded again yet
    bool failing;               //  the last load failed (said once)
    uint64_t generation;
    zhashx_t *contracts;        //  service name -> flot_contract_t (not owned)
};

static const char *const s_operator [] = { "operator", NULL };

//  Removes a folder of ours and the files in it.
static void
s_remove_folder (const char *path)
{
    zdir_t *dir = zdir_new (path, NULL);
    if (dir) {
        zdir_remove (dir, true);
        zdir_destroy (&dir);
    }
}

//  Watches the directory and its two folders; again after a folder was
//  replaced (a watch follows an inode, not a name).
static int
s_watch (broker_auth_t *self, flot_err_t *err)
{
    if (self->notify < 0)
        self->notify = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
    if (self->notify < 0)
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot watch %s: %s",
                             self->dir, strerror (errno));
    const char *folders [] = { "", "/allowed", "/revoked" };
    for (size_t i = 0; i < 3; i++) {
        char path [1100];
        snprintf (path, sizeof path, "%s%s", self->dir, folders [i]);
        if (inotify_add_watch (self->notify, path, IN_CREATE | IN_DELETE | IN_MOVED_FROM
                               | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB) < 0)
            return flot_err_set (err, FLOT_E_INTERNAL, "cannot watch %s: %s",
                                 path, strerror (errno));
    }
    return 0;
}

//  The directory and its folders must be the broker's (or root's), and
//  writable by no one else: whoever may write allowed/ may let in anyone.
static int
s_check_modes (const char *dir, flot_err_t *err)
{
    const char *folders [] = { "", "/allowed", "/revoked" };
    for (size_t i = 0; i < 3; i++) {
        char path [1100];
        struct stat st;
        snprintf (path, sizeof path, "%s%s", dir, folders [i]);
        if (lstat (path, &st))
            return flot_err_set (err, FLOT_E_INTERNAL, "%s: %s", path, strerror (errno));
        if (!S_ISDIR (st.st_mode))
            return flot_err_set (err, FLOT_E_INVALID, "%s is not a directory", path);
        if (st.st_uid != geteuid () && st.st_uid != 0)
            return flot_err_set (err, FLOT_E_INVALID, "%s belongs to user %u, not to this "
                                 "user or root", path, (unsigned) st.st_uid);
        if (st.st_mode & (S_IWGRP | S_IWOTH))
            return flot_err_set (err, FLOT_E_INVALID, "%s may be written by other users "
                                 "(mode %04o): chmod go-w %s", path,
                                 (unsigned) (st.st_mode & 07777), path);
    }
    return 0;
}

//  Writes the loaded keys' public certificates into a new folder inside
//  our private one, has ZAP read them from it, and removes it: zauth keeps
//  what it read when the folder is gone, and no one else can make a folder
//  of that name in ours. If that fails, ZAP is given a folder that does not
//  exist, and admits no new connection until the keys load again: a key
//  just revoked is not let back in. Returns 0, or -1 with err.
static int
s_zap_publish (broker_auth_t *self, flot_err_t *err)
{
    char fresh [320];
    snprintf (fresh, sizeof fresh, "%s/%u", self->zap_home, ++self->zap_turn);
    int rc = mkdir (fresh, 0700) ? flot_err_set (err, FLOT_E_INTERNAL, "cannot make %s: %s",
                                                 fresh, strerror (errno)) : 0;
    size_t count = 0;
    for (const flot_key_t *k = flot_keyring_first (self->keyring); k && rc == 0;
         k = flot_keyring_next (self->keyring)) {
        uint8_t public_key [32];
        char path [400];
        zcert_t *cert = NULL;
        snprintf (path, sizeof path, "%s/%zu.pub", fresh, count++);
        if (!zmq_z85_decode (public_key, k->public_key)
        ||  !(cert = zcert_new_from (public_key, (const uint8_t [32]) { 0 }))
        ||  zcert_save_public (cert, path))
            rc = flot_err_set (err, FLOT_E_INTERNAL, "cannot write %s for ZAP", path);
        zcert_destroy (&cert);
    }
    if (rc)
        snprintf (fresh, sizeof fresh, "%s/none", self->zap_home);
    if (zstr_sendx (self->zap, "CURVE", fresh, NULL) || zsock_wait (self->zap))
        rc = flot_err_set (err, FLOT_E_INTERNAL, "the ZAP handler does not answer");
    s_remove_folder (fresh);
    return rc;
}

broker_auth_t *
broker_auth_new (const char *dir, flot_err_t *err)
{
    broker_auth_t *self = calloc (1, sizeof *self);
    assert (self);
    self->dir = strdup (dir);
    self->notify = -1;
    self->generation = (uint64_t) zclock_time ();
    self->contracts = zhashx_new ();
    for (size_t i = 0; flot_contracts [i]; i++)
        zhashx_insert (self->contracts, flot_contracts [i]->service,
                       (void *) flot_contracts [i]);
    flot_err_t next_err;
    const char *tmp = getenv ("TMPDIR");
    snprintf (self->zap_home, sizeof self->zap_home, "%s/flotilla-zap-XXXXXX",
              tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp (self->zap_home)) {
        flot_err_set (err, FLOT_E_INTERNAL, "cannot make a folder for ZAP (%s): %s",
                      self->zap_home, strerror (errno));
        *self->zap_home = 0;
        broker_auth_destroy (&self);
        return NULL;
    }
    if (s_check_modes (dir, err)
    ||  !(self->cert = flot_keys_server_cert (dir, false, err))
    ||  !(self->keyring = flot_keyring_load (dir, err))
    ||  s_watch (self, err)) {
        broker_auth_destroy (&self);
        return NULL;
    }
    self->next = flot_keys_server_cert (dir, true, &next_err);
    if (!self->next && next_err.code != FLOT_E_NOT_FOUND) {
        *err = next_err;
        broker_auth_destroy (&self);
        return NULL;
    }
    //  One ZAP handler per process (it binds inproc://zeromq.zap.01): the
    //  events actor of an embedded daemon is admitted by this one too.
    self->zap = zactor_new (zauth, NULL);
    if (!self->zap || s_zap_publish (self, err)) {
        if (!self->zap)
            flot_err_set (err, FLOT_E_INTERNAL, "cannot start the ZAP handler");
        broker_auth_destroy (&self);
        return NULL;
    }
    flot_notice (WHO, "keys from %s: %zu allowed%s", dir, flot_keyring_size (self->keyring),
                 self->next ? ", and a rotation's next broker key" : "");
    return self;
}

void
broker_auth_destroy (broker_auth_t **self_p)
{
    if (self_p && *self_p) {
        broker_auth_t *self = *self_p;
        zactor_destroy (&self->zap);
        if (*self->zap_home)
            s_remove_folder (self->zap_home);
        if (self->notify >= 0)
            close (self->notify);
        flot_keyring_destroy (&self->keyring);
        zcert_destroy (&self->cert);
        zcert_destroy (&self->next);
        zhashx_destroy (&self->contracts);
        free (self->dir);
        free (self);
        *self_p = NULL;
    }
}

int
broker_auth_apply (broker_auth_t *self, zsock_t *sock, bool next, flot_err_t *err)
{
    (void) err;
    zcert_t *cert = next && self->next ? self->next : self->cert;
    zsock_set_zap_domain (sock, "flotilla");
    zsock_set_curve_server (sock, 1);
    //  A peer that never finishes its handshake holds a file descriptor:
    //  not for long.
    zsock_set_handshake_ivl (sock, 5000);
    zsock_set_curve_secretkey_bin (sock, zcert_secret_key (cert));
    zsock_set_curve_publickey_bin (sock, zcert_public_key (cert));
    return 0;
}

bool
broker_auth_has_next (broker_auth_t *self)
{
    return self->next != NULL;
}

int
broker_auth_fd (broker_auth_t *self)
{
    return self->notify;
}

bool
broker_auth_refresh (broker_auth_t *self)
{
    char buffer [4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
    while (read (self->notify, buffer, sizeof buffer) > 0)
        self->dirty = true;
    if (!self->dirty)
        return false;
    //  Loaded again until it works: a change is never forgotten.
    flot_err_t err;
    flot_keyring_t *keyring = NULL;
    if (s_watch (self, &err) || s_check_modes (self->dir, &err)
    ||  !(keyring = flot_keyring_load (self->dir, &err))) {
        if (!self->failing)
            flot_error (WHO, "keys not loaded again, the previous ones stay until they "
                        "are (trying again): %s", err.message);
        self->failing = true;
        return false;
    }
    self->dirty = self->failing = false;
    flot_keyring_destroy (&self->keyring);
    self->keyring = keyring;
    self->generation++;
    if (s_zap_publish (self, &err)) {
        flot_error (WHO, "no new connection is admitted until the keys load again: %s",
                    err.message);
        self->dirty = true;
    }
    flot_notice (WHO, "keys loaded again from %s: %zu allowed", self->dir,
                 flot_keyring_size (self->keyring));
    return true;
}

const flot_key_t *
broker_auth_lookup (broker_auth_t *self, const char *public_key)
{
    return flot_keyring_lookup (self->keyring, public_key);
}

void
broker_auth_gone (broker_auth_t *self, const char *public_key, char *text, size_t size)
{
    const char *name = *public_key ? flot_keyring_revoked (self->keyring, public_key) : NULL;
    if (!*public_key)
        snprintf (text, size, "this connection came with no key");
    else
    if (name)
        snprintf (text, size, "key '%s' was revoked", name);
    else
        snprintf (text, size, "this key is no longer allowed");
}

static const flot_command_def_t *
s_command (broker_auth_t *self, const char *service, const char *command)
{
    const flot_contract_t *contract = zhashx_lookup (self->contracts, service);
    return contract ? flot_contract_command (contract, command) : NULL;
}

bool
broker_auth_may_call (broker_auth_t *self, const flot_key_t *key, const char *service,
                      const char *command, char *why, size_t size)
{
    const flot_command_def_t *def = s_command (self, service, command);
    char need [160];
    if (flot_key_may_call (key, def ? def->callers : s_operator, need, sizeof need))
        return true;
    snprintf (why, size, "key '%s' (%s) may not call %s.%s: it needs %s", key->name,
              flot_role_name (key->role), service, command, need);
    return false;
}

bool
broker_auth_changes (broker_auth_t *self, const char *service, const char *command)
{
    const flot_command_def_t *def = s_command (self, service, command);
    return !def || !def->idempotent;
}

flot_keyring_t *
broker_auth_keyring (broker_auth_t *self)
{
    return self->keyring;
}

uint64_t
broker_auth_generation (broker_auth_t *self)
{
    return self->generation;
}
