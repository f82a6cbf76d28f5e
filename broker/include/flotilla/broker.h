/*  flotilla/broker.h - the broker: routes requests to actors by service.

    One ROUTER socket that clients and actors connect to (see
    protocol/SPEC.md). Runs in the foreground of a process
    (flot_broker_run) or as a czmq actor thread (flot_broker_actor).
*/
#ifndef FLOTILLA_BROKER_H_INCLUDED
#define FLOTILLA_BROKER_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _flot_broker_t flot_broker_t;

//  Configuration for flot_broker_actor. Endpoints is a NULL-terminated list.
typedef struct {
    const char **endpoints;
    int heartbeat_ms;           //  0 for the default
    int liveness;               //  0 for the default
    const char *keys;           //  a key directory (flotilla/keys.h), or NULL: no keys
    const char *next_endpoint;  //  where a rotation's next key is served, or NULL
} flot_broker_config_t;

flot_broker_t *
    flot_broker_new (void);

void
    flot_broker_destroy (flot_broker_t **self_p);

//  Use the keys of a key directory (flotilla/keys.h), before any bind:
//  tcp and ipc endpoints then admit only its allowed keys, over CURVE, and
//  each request is checked against the role its command needs (SPEC 14).
//  inproc peers, in this process, are trusted. Returns 0, or -1 with a
//  log line saying why.
int
    flot_broker_set_keys (flot_broker_t *self, const char *dir);

//  Bind to an endpoint; may be called several times (inproc and tcp).
//  Returns 0, or -1 with a log line saying why.
int
    flot_broker_bind (flot_broker_t *self, const char *endpoint);

//  Bind to an endpoint served with the next key of a rotation (or, when
//  there is none, the current key), so that clients can move to the new
//  key while the old one is still served. Returns 0, or -1.
int
    flot_broker_bind_next (flot_broker_t *self, const char *endpoint);

//  Heartbeat interval and liveness (missed intervals before a peer is dead).
void
    flot_broker_set_heartbeat (flot_broker_t *self, int interval_ms, int liveness);

//  Serve until pipe (may be NULL) delivers $TERM or the process is
//  interrupted (SIGINT/SIGTERM). Returns 0.
int
    flot_broker_run (flot_broker_t *self, zsock_t *pipe);

//  czmq actor: args is a flot_broker_config_t *. After the handshake the
//  actor sends one string on the pipe: "OK", or "ERROR <reason>".
void
    flot_broker_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
