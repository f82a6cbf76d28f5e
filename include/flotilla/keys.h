/*  flotilla/keys.h - CURVE keys, roles and credentials.

    A broker admits a peer over tcp:// only through CURVE (RFC 26), and only
    if the peer's public key is allowed in its key directory with a role:
    a viewer reads, an operator also changes deployments, an actor key
    serves the services it was issued for, admin does everything. This
    header manages that directory (flotctl keys), loads it for the broker
    (flot_keyring_t), says what a key may do (from a command's callers in
    its contract), finds the credentials a client or an actor connects with
    (option, environment, config file, the embedded daemon's own keys), and
    makes the embedded daemon's keys on first start.

    Key pairs are czmq's zcert, saved in its ZPL certificate format (pyzmq's
    zmq.auth.load_certificate reads the same files). No crypto is done here.
*/
#ifndef FLOTILLA_KEYS_H_INCLUDED
#define FLOTILLA_KEYS_H_INCLUDED

#include <czmq.h>
#include "flotilla/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOT_KEY_NAME_MAX 64

typedef enum {
    FLOT_ROLE_NONE = 0,     //  not a role (what flot_role_parse gives for bad text)
    FLOT_ROLE_VIEWER,       //  reads: ping, actors, plan, status, list, events, replay
    FLOT_ROLE_OPERATOR,     //  also changes deployments, probes and queries on demand
    FLOT_ROLE_ACTOR,        //  serves the services of its scope, calls as those services
    FLOT_ROLE_ADMIN         //  operator, and may serve any service and claim any key:
                            //  the embedded daemon's own local key
} flot_role_t;

//  "viewer", "operator", "actor", "admin"; "none" for anything else.
const char *
    flot_role_name (flot_role_t role);

//  The role named by text (exactly as flot_role_name spells it), or
//  FLOT_ROLE_NONE if text is not a role.
flot_role_t
    flot_role_parse (const char *text);

typedef struct {
    char name [FLOT_KEY_NAME_MAX + 1];   //  1..64 bytes of [A-Za-z0-9._-]
    char public_key [41];                //  Z85 text, 40 chars
    flot_role_t role;
    char services [256];     //  actor: the services it may serve, comma-separated, "*" any; "" otherwise
    char targets [1024];     //  actor: the routing keys it may claim, comma-separated, "*" any; "" none
} flot_key_t;

//  True if name can name a key: 1..FLOT_KEY_NAME_MAX of [A-Za-z0-9._-], not
//  "." or "..".
bool
    flot_key_name_valid (const char *name);

//  Checks a key's role and scope as a key directory holds them: a role;
//  services and targets only for an actor, whose services are required;
//  each list comma-separated, no empty item, "*" or names (services: 1..64
//  of [A-Za-z0-9._-]; targets: 1..255 of [A-Za-z0-9._:/@+-]). Returns 0, or
//  -1 with err (INVALID) naming what is wrong.
int
    flot_key_check (const flot_key_t *key, flot_err_t *err);

//  What a key may do. Admin may do everything. An actor key may serve a
//  service in its list ("*": any); may claim a routing key in its targets
//  ("*": any; "" none: it may register with no keys only).
bool
    flot_key_may_serve (const flot_key_t *key, const char *service);
bool
    flot_key_may_claim (const flot_key_t *key, const char *routing_key);

//  callers is a contract command's "callers" (NULL-ended: "viewer",
//  "operator", "service:NAME"). "viewer": any role. "operator": operator or
//  admin. "service:NAME": admin, or an actor that may serve NAME.
//  Returns true if key may call; else false and, in need (if not NULL), a
//  short phrase naming what it needs, e.g. "role operator" or "role
//  operator, or an actor key for service coordinator or rollback".
bool
    flot_key_may_call (const flot_key_t *key, const char *const *callers,
                       char *need, size_t size);

//  A key directory DIR (the broker's), made by flot_keys_init, mode 0700:
//    DIR/broker.key        the broker's key pair (secret, 0600; zcert secret format, both keys)
//    DIR/broker.pub        its public key: given to clients and actors
//    DIR/broker-next.key, DIR/broker-next.pub   during a rotation, the next key pair
//    DIR/allowed/NAME.pub  an allowed key: public key with metadata name, role, services, targets
//    DIR/revoked/NAME.pub  a revoked key, kept so that logs can name it
//  Every function returns 0, or -1 with err (code and sentence): INVALID for
//  bad names, roles or files, CONFLICT for "already exists", NOT_FOUND,
//  INTERNAL for I/O errors (with strerror). Files are written whole or not
//  at all (a temporary file in DIR, then linked into place), never over an
//  existing one.

//  Makes DIR (and missing parents, 0700), allowed/, revoked/, and the
//  broker's key pair. Refuses if DIR/broker.key exists.
int
    flot_keys_init (const char *dir, flot_err_t *err);

//  A new key pair for key->name with key->role/services/targets: its public
//  key into DIR/allowed/NAME.pub, the secret (both keys, metadata name) into
//  secret_path (mode 0600, refused if it exists); fills key->public_key.
//  Refuses a name already allowed or revoked.
int
    flot_keys_new (const char *dir, flot_key_t *key, const char *secret_path,
                   flot_err_t *err);

//  On another host: a key pair NAME with no role, secret into secret_path
//  (0600), public into public_path; both refused if they exist.
int
    flot_keys_create (const char *name, const char *secret_path,
                      const char *public_path, flot_err_t *err);

//  Allows a public key made elsewhere (public_path: a .pub or a .key file;
//  only its public key is read) under key->name with key's role and scope;
//  fills key->public_key. Refuses a name already allowed or revoked, a
//  public key already allowed under another name, and a revoked public key.
int
    flot_keys_allow (const char *dir, const char *public_path, flot_key_t *key,
                     flot_err_t *err);

//  allowed/NAME.pub -> revoked/NAME.pub (rename: atomic). NOT_FOUND if NAME
//  is not allowed.
int
    flot_keys_revoke (const char *dir, const char *name, flot_err_t *err);

//  Rotation: !finish makes broker-next.key/.pub (refused if one exists);
//  finish makes the next key the broker's key (the old pair is removed)
//  (refused if there is no next).
int
    flot_keys_rotate (const char *dir, bool finish, flot_err_t *err);

//  The broker's key pair (next: the next one). NULL with err; for next,
//  NULL with code NOT_FOUND when there is none.
zcert_t *
    flot_keys_server_cert (const char *dir, bool next, flot_err_t *err);

//  The allowed keys of DIR (allowed/ and the names in revoked/), loaded
//  into memory. A file in allowed/ that is not a valid public cert with a
//  valid name and role is skipped with a log line (flot_warn) naming it;
//  never a crash. A public key that is also in revoked/ is revoked.
typedef struct _flot_keyring_t flot_keyring_t;

flot_keyring_t *
    flot_keyring_load (const char *dir, flot_err_t *err);
void
    flot_keyring_destroy (flot_keyring_t **self_p);
//  The allowed key whose public key (Z85) this is; allowed only, O(1).
const flot_key_t *
    flot_keyring_lookup (const flot_keyring_t *self, const char *public_key);
//  Its name if this public key is revoked, else NULL.
const char *
    flot_keyring_revoked (const flot_keyring_t *self, const char *public_key);
//  The allowed keys: how many, and each (in no order).
size_t
    flot_keyring_size (const flot_keyring_t *self);
const flot_key_t *
    flot_keyring_first (flot_keyring_t *self);
const flot_key_t *
    flot_keyring_next (flot_keyring_t *self);
//  The revoked keys: how many, and each (name and public key; role and
//  scope as they were allowed, or FLOT_ROLE_NONE if unreadable).
size_t
    flot_keyring_revoked_size (const flot_keyring_t *self);
const flot_key_t *
    flot_keyring_revoked_first (flot_keyring_t *self);
const flot_key_t *
    flot_keyring_revoked_next (flot_keyring_t *self);

//  Settings: option, then environment, then the config file, then default.
//  The config file is $FLOTILLA_CONFIG, else ~/.config/flotilla/flotilla.conf
//  if it exists, else /etc/flotilla/flotilla.conf; lines `name = value`, '#'
//  comments; names: endpoint, cert, broker-cert, auth-dir, hooks-dir. A line
//  that is not `name = value` or an unknown name: an error naming file:line.
//  Returns 1 and fills out when found, 0 when not, -1 with err for a bad
//  config file.
int
    flot_config_get (const char *name, char *out, size_t size, flot_err_t *err);

//  The path of the config file flot_config_get reads, or "" if there is
//  none. Returns 0, or -1 with err.
int
    flot_config_path (char *path, size_t size, flot_err_t *err);

//  The credentials a client or an actor connects with.
typedef struct {
    zcert_t *cert;              //  its own key pair; NULL: no CURVE (plain)
    char server_key [41];       //  the broker's public key, Z85
    char cert_path [1024];      //  where they came from, for messages
    char server_path [1024];
} flot_creds_t;

//  Resolves cert_path and server_path (either may be NULL): the argument,
//  else $FLOTILLA_CERT / $FLOTILLA_BROKER_CERT, else config `cert` /
//  `broker-cert`; if neither is configured and the endpoint is tcp:// on a
//  loopback address (127.x.x.x, localhost, [::1]) and the local keys exist
//  (flot_keys_local_path()/local.key and /broker.pub), those; else none
//  (creds->cert NULL, returns 0). A cert without a broker cert (or the
//  reverse) is an error saying which is missing; a file that cannot be read
//  or holds no key pair (for the cert) is an error naming it.
int
    flot_creds_resolve (flot_creds_t *creds, const char *cert_path,
                        const char *server_path, const char *endpoint,
                        flot_err_t *err);
//  CURVE client options if creds->cert; else nothing. Before connect. A
//  server_key that is not a key makes a socket whose handshake fails.
void
    flot_creds_apply (const flot_creds_t *creds, zsock_t *sock);
//  True if creds is NULL, plain (cert NULL), or holds a server key of 40
//  characters of Z85.
bool
    flot_creds_valid (const flot_creds_t *creds);
//  Frees cert; safe twice.
void
    flot_creds_clear (flot_creds_t *creds);
//  A copy of src into dst (its own cert). Returns 0, or -1 out of memory.
int
    flot_creds_copy (flot_creds_t *dst, const flot_creds_t *src);

//  The embedded daemon's own keys: the directory $FLOTILLA_HOME/local,
//  default ~/.flotilla/local ($HOME unset: getpwuid). flot_keys_local_path
//  fills path; flot_keys_local_ensure also makes it if missing: an auth
//  directory (as flot_keys_init) with an allowed key "local" of role admin,
//  and its secret in DIR/local.key, all readable only by this user (dirs
//  0700, secrets 0600). Made atomically: built in a temporary sibling
//  directory then renamed into place; if another process made it first
//  (rename fails with EEXIST/ENOTEMPTY), that one is used. An existing
//  directory that other users may open, or that lacks local.key, is
//  refused. Returns 0, or -1 with err.
int
    flot_keys_local_path (char *path, size_t size, flot_err_t *err);
int
    flot_keys_local_ensure (char *path, size_t size, flot_err_t *err);

#ifdef __cplusplus
}
#endif

#endif
