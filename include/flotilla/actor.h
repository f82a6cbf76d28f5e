/*  flotilla/actor.h - hosting an actor: its state plus one handler per command.

    An actor is defined once (flot_actor_def_t) and hosted anywhere: as a czmq
    actor thread over inproc:// inside flotillad, or in the foreground of its
    own process over tcp:// to a broker on another host. The host owns the
    connection: it registers with the broker (READY), keeps the heartbeat,
    reconnects and registers again when the broker goes away or restarts,
    decodes every request body (hostile input gets an error reply, never a
    handler call), dispatches by command name, and keeps open streams.

    A handler answers its request with flot_request_reply or
    flot_request_error, now or later (the request object stays valid until
    answered: keep the pointer and answer from a timer or a reader). A handler
    must not block: slow work goes to a timer, a reader or a child process.
*/
#ifndef FLOTILLA_ACTOR_H_INCLUDED
#define FLOTILLA_ACTOR_H_INCLUDED

#include <czmq.h>
#include "flotilla/body.h"
#include "flotilla/contract.h"
#include "flotilla/protocol.h"
#include "flotilla/keys.h"
#include "flotilla/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _flot_actor_t flot_actor_t;
typedef struct _flot_request_t flot_request_t;
typedef struct _flot_stream_t flot_stream_t;

typedef void (flot_handler_fn) (flot_actor_t *actor, flot_request_t *request);

typedef struct {
    const char *name;           //  the command, e.g. "Publish"
    flot_handler_fn *handler;
} flot_command_t;

typedef struct {
    const char *service;                //  e.g. "events"
    //  The service's contract (generated from protocol/contracts): every
    //  request is decoded and checked by it before its handler runs, and
    //  the handler reads it typed with flot_request_args. The commands must
    //  be the contract's, each with a handler, or the actor does not start.
    const flot_contract_t *contract;
    const flot_command_t *commands;     //  ends with { NULL, NULL }
    //  Called once before the actor registers; sets its state with
    //  flot_actor_set_state. Returns 0, or -1 (with a log line) to give up.
    int (*start) (flot_actor_t *actor);
    //  Called once when the actor stops; frees its state.
    void (*stop) (flot_actor_t *actor);
    //  The routing keys it claims, comma-separated, when its configuration
    //  names none; NULL: it serves any key.
    const char *keys;
    //  Optional: called with up false when the host finds its broker lost
    //  (nothing heard for heartbeat x liveness: the broker counts this
    //  instance dead and has answered the requests it held), once per loss;
    //  with up true when the broker is heard again after it registered anew.
    void (*on_link) (flot_actor_t *actor, bool up);
} flot_actor_def_t;

//  Where and how to run. Strings are copied.
typedef struct {
    const char *endpoint;       //  the broker: inproc://... or tcp://...
    const char *instance;       //  instance name; NULL for service-pid-host
    const char *keys;           //  comma-separated keys claimed; NULL for any
    int heartbeat_ms;           //  0 for the default
    int liveness;               //  0 for the default
    zhash_t *options;           //  actor-specific name=value (not owned), may be NULL
    const flot_creds_t *creds;  //  the key to connect with over tcp (copied); NULL: none
} flot_actor_config_t;

//  Run the actor as a czmq thread. Returns NULL if it failed to start (the
//  start callback refused or the endpoint is invalid), with a log line.
//  zactor_destroy stops it. An actor the broker refuses for good (its
//  service runs one instance at a time and another holds it, SPEC 4.1)
//  stops on its own and sends "FAILED <service>: <reason>" on the pipe.
zactor_t *
    flot_actor_thread (const flot_actor_def_t *def, const flot_actor_config_t *config);

//  Run the actor in the foreground until SIGINT/SIGTERM. Returns 0, or -1 if
//  it failed to start or the broker refused it for good.
int
    flot_actor_run (const flot_actor_def_t *def, const flot_actor_config_t *config);

//  --------------------------------------------------------------------------
//  For handlers

void  flot_actor_set_state (flot_actor_t *self, void *state);
void *flot_actor_state (flot_actor_t *self);
const char *flot_actor_service (flot_actor_t *self);
const char *flot_actor_instance (flot_actor_t *self);

//  An actor option, or default_value if it was not given.
const char *
    flot_actor_option (flot_actor_t *self, const char *name, const char *default_value);

//  The actor's loop, to add readers (other sockets) and timers.
flot_loop_t *
    flot_actor_loop (flot_actor_t *self);

//  The liveness window: heartbeat interval x liveness, in ms. A peer
//  silent for longer is dead (SPEC 8).
int64_t
    flot_actor_liveness_ms (flot_actor_t *self);

//  The heartbeat interval, in ms.
int64_t
    flot_actor_heartbeat_ms (flot_actor_t *self);

//  The request's command, routing key ("" if none), decoded body (a map),
//  and absolute deadline (zclock_mono ms).
const char *flot_request_command (flot_request_t *request);
const char *flot_request_key (flot_request_t *request);
//  Who called: the name of the caller's key as the broker forwarded it
//  (protocol 03, SPEC 14), "" when it is not known (a broker or a peer of
//  protocol 02, or a broker that runs without keys).
const char *flot_request_caller (flot_request_t *request);
const msgpack_object *flot_request_body (flot_request_t *request);
int64_t flot_request_deadline (flot_request_t *request);
//  The body's msgpack bytes as received (checked: one map within the limits).
const void *flot_request_body_bytes (flot_request_t *request, size_t *size);
uint64_t flot_request_corr (flot_request_t *request);

//  The request as its contract decoded it: a pointer to the command's
//  request struct (flot_<service>_<command>_request_t), valid until the
//  request is answered; NULL if the command takes any map.
const void *
    flot_request_args (flot_request_t *request);

//  Answer the request with reply, a pointer to the command's reply struct,
//  encoded by its contract, and destroy the request. Returns 0 or -1.
int
    flot_request_answer (flot_request_t **request_p, const void *reply);

//  Answer the request with a body (msgpack bytes of one map; NULL for {}),
//  and destroy it. Returns 0, or -1 if the answer could not be sent.
int
    flot_request_reply (flot_request_t **request_p, const void *body, size_t size);

//  Answer with an error reply and destroy the request.
int
    flot_request_error (flot_request_t **request_p, int code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Same, with a flot_err_t.
int
    flot_request_fail (flot_request_t **request_p, const flot_err_t *err);

//  Open a stream to the request's caller. The request must still be
//  answered (usually with a reply that says the stream is open). on_cancel
//  is called if the caller goes away; the stream is then destroyed by the
//  host after the call. Returns the stream (owned by the host until
//  flot_stream_end), or NULL.
typedef void (flot_stream_cancel_fn) (flot_actor_t *actor, flot_stream_t *stream, void *arg);
flot_stream_t *
    flot_request_open_stream (flot_request_t *request,
                              flot_stream_cancel_fn *on_cancel, void *arg);

//  The stream's id: the corr of the request that opened it.
uint64_t
    flot_stream_id (flot_stream_t *stream);

//  Push one message (a msgpack map) on the stream. Returns 0 or -1.
int
    flot_stream_send (flot_actor_t *self, flot_stream_t *stream,
                      const void *body, size_t size);

//  Push message, a pointer to the stream struct of the command that opened
//  the stream, encoded by its contract. Returns 0 or -1.
int
    flot_stream_push (flot_actor_t *self, flot_stream_t *stream, const void *message);

//  End the stream with message (as above; NULL for {}), and destroy it.
int
    flot_stream_finish (flot_actor_t *self, flot_stream_t **stream_p, const void *message);

//  End the stream with a last message (NULL for {}), and destroy it.
int
    flot_stream_end (flot_actor_t *self, flot_stream_t **stream_p,
                     const void *body, size_t size);

//  Find an open stream by the caller's stream id (for a close request).
//  Only streams opened to the same caller are found.
flot_stream_t *
    flot_actor_find_stream (flot_actor_t *self, flot_request_t *request, uint64_t id);

//  --------------------------------------------------------------------------
//  Calling other services from an actor

//  One answer to a call: kind is FLOT_REPLY, FLOT_ERROR, FLOT_STREAM or
//  FLOT_STREAM_END. body is the decoded map (NULL for an ERROR), valid
//  during the callback only; err holds an ERROR's code and sentence.
typedef struct {
    int kind;
    uint64_t corr;
    const msgpack_object *body;
    flot_err_t err;
} flot_answer_t;

typedef void (flot_answer_fn) (flot_actor_t *actor, const flot_answer_t *answer, void *arg);

//  Send a request to a service through the broker; fn gets the answer in
//  the actor's loop. With stream, fn also gets every STREAM until
//  STREAM_END or an ERROR; otherwise the REPLY or ERROR ends the call. If no
//  answer can come (the deadline passed and the broker did not say so, or
//  the connection was lost), fn gets an ERROR (DEADLINE, CANCELLED) made
//  here. fn may be NULL when no answer matters (a request to stop something,
//  say). Returns the call's corr, or 0 if it could not be sent.
uint64_t
    flot_actor_call (flot_actor_t *self, const char *service, const char *key,
                     const char *command, const void *body, size_t size,
                     uint32_t timeout_ms, bool stream, flot_answer_fn *fn, void *arg);

//  The same, with the request given as a struct that def encodes.
uint64_t
    flot_actor_call_msg (flot_actor_t *self, const char *service, const char *key,
                         const char *command, const flot_struct_t *def,
                         const void *request, uint32_t timeout_ms, bool stream,
                         flot_answer_fn *fn, void *arg);

//  Stop delivering answers to a call (its callback is not called again).
void
    flot_actor_call_forget (flot_actor_t *self, uint64_t corr);

//  Reply helper: pack with pk into a fresh buffer, then reply.
//  Usage: msgpack_sbuffer sbuf; msgpack_packer pk;
//         flot_pack_begin (&sbuf, &pk); ...; flot_request_reply_sbuf (&req, &sbuf);
void
    flot_pack_begin (msgpack_sbuffer *sbuf, msgpack_packer *pk);
int
    flot_request_reply_sbuf (flot_request_t **request_p, msgpack_sbuffer *sbuf);

#ifdef __cplusplus
}
#endif

#endif
