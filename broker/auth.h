/*  auth.h - the broker's keys: who may connect, and what each key may do.

    Loads a key directory (flotilla/keys.h: the broker's key pair and the
    allowed public keys), starts czmq's ZAP handler (zauth) over its
    allowed/ folder so that only allowed keys complete a CURVE handshake,
    and watches the folder (inotify) so that a key allowed or revoked takes
    effect on the next message, not only at the next handshake. Says, from
    each command's callers in its contract, whether a key may call it.

    Internal to the broker; not installed.
*/
#ifndef FLOT_BROKER_AUTH_H_INCLUDED
#define FLOT_BROKER_AUTH_H_INCLUDED

#include "flotilla/keys.h"
#include "flotilla/protocol.h"

typedef struct _broker_auth_t broker_auth_t;

//  Loads dir and starts ZAP. Returns NULL with err if dir has no broker
//  key pair or cannot be read.
broker_auth_t *
    broker_auth_new (const char *dir, flot_err_t *err);

void
    broker_auth_destroy (broker_auth_t **self_p);

//  Makes sock a CURVE server with the broker's key (next: the next key of
//  a rotation, or the current one if there is none), for the endpoints
//  bound after it. Returns 0, or -1 with err.
int
    broker_auth_apply (broker_auth_t *self, zsock_t *sock, bool next, flot_err_t *err);

//  True if a rotation's next key exists.
bool
    broker_auth_has_next (broker_auth_t *self);

//  A file descriptor readable when the key folders change (for poll).
int
    broker_auth_fd (broker_auth_t *self);

//  Reads the folder's change notices without waiting; if any came, loads
//  the keys again. Returns true if they were loaded again.
bool
    broker_auth_refresh (broker_auth_t *self);

//  The allowed key whose public key (Z85) this is, or NULL.
const flot_key_t *
    broker_auth_lookup (broker_auth_t *self, const char *public_key);

//  A sentence for a public key that passed the handshake but is no longer
//  allowed: "key 'NAME' was revoked", or "this key is no longer allowed";
//  for "" (a connection with no key), "this connection came with no key".
void
    broker_auth_gone (broker_auth_t *self, const char *public_key, char *text, size_t size);

//  Whether key may call service.command, by the command's callers in its
//  contract (a command no contract defines needs role operator). Returns
//  true, or false with a sentence in why naming what it needs.
bool
    broker_auth_may_call (broker_auth_t *self, const flot_key_t *key, const char *service,
                          const char *command, char *why, size_t size);

//  True if the command changes something (not idempotent, or not in a
//  contract): the broker logs each such call with the key's name.
bool
    broker_auth_changes (broker_auth_t *self, const char *service, const char *command);

//  The keys allowed now, and a number that changes whenever they do.
flot_keyring_t *
    broker_auth_keyring (broker_auth_t *self);

uint64_t
    broker_auth_generation (broker_auth_t *self);

#endif
