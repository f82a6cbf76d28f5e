/*  flotilla/client.h - a client of the broker: calls services by name.

    Used by flotctl, the benchmarks and the tests; any ZeroMQ client in any
    language can do the same from protocol/SPEC.md. A client is one DEALER
    socket; calls are synchronous (flot_client_call) or pipelined
    (flot_client_send then flot_client_recv). It never blocks past its
    timeout, so a dead broker means an error, not a hang.
*/
#ifndef FLOTILLA_CLIENT_H_INCLUDED
#define FLOTILLA_CLIENT_H_INCLUDED

#include <czmq.h>
#include "flotilla/keys.h"
#include "flotilla/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _flot_client_t flot_client_t;

//  A received reply: kind is FLOT_REPLY, FLOT_ERROR, FLOT_STREAM or
//  FLOT_STREAM_END; body is owned by the reply.
typedef struct {
    int kind;
    uint64_t corr;
    zframe_t *body;
} flot_reply_t;

//  Connect to a broker endpoint. Returns NULL if the endpoint is invalid.
flot_client_t *
    flot_client_new (const char *endpoint);

//  Connect with credentials (flot_creds_resolve): a CURVE client of the
//  broker's public key, with creds->cert as its key pair. creds NULL or
//  creds->cert NULL: plain, as flot_client_new. The client keeps its own
//  copy of creds. Returns NULL if the endpoint is invalid, or creds has a
//  cert and no valid server key (flot_creds_valid).
flot_client_t *
    flot_client_new_secure (const char *endpoint, const flot_creds_t *creds);

void
    flot_client_destroy (flot_client_t **self_p);

//  The client's socket, for polling.
zsock_t *
    flot_client_sock (flot_client_t *self);

//  The credentials the client connected with (cert NULL: plain), for a
//  socket opened beside it to the same system (flot_creds_apply).
const flot_creds_t *
    flot_client_creds (flot_client_t *self);

//  True once anything came from the broker, or a broker completed the
//  handshake of the link (as seen by the calls and receives made since). A
//  call that times out before that met no broker: none runs there, or
//  (CURVE) the handshake failed: the key is not allowed, or the broker's
//  public key is not its own.
bool
    flot_client_answered (flot_client_t *self);

//  True when the last flot_client_call ended because the link to the
//  broker dropped after its request was sent; its error's message then
//  starts with FLOT_LINK_DROPPED.
bool
    flot_client_link_dropped (flot_client_t *self);

#define FLOT_LINK_DROPPED "the link to the broker dropped"

//  Send a request; returns its correlation id, or 0 on error (err set).
//  key may be NULL; body is msgpack bytes of one map (NULL for {}).
uint64_t
    flot_client_send (flot_client_t *self, const char *service, const char *key,
                      const char *command, const void *body, size_t size,
                      uint32_t timeout_ms, flot_err_t *err);

//  Wait up to timeout_ms (-1 forever) for the next reply. Returns 0 and fills
//  reply, or -1 with err (DEADLINE when nothing came in time, MALFORMED when
//  something arrived that is not a valid reply).
int
    flot_client_recv (flot_client_t *self, flot_reply_t *reply, int timeout_ms,
                      flot_err_t *err);

//  Free a reply's body.
void
    flot_reply_clear (flot_reply_t *reply);

//  Call and wait for the reply to this request, discarding others.
//  Returns 0 with *body_p (the reply body, caller destroys), or -1 with err:
//  an error reply's code and message, or DEADLINE when no answer came within
//  timeout_ms (the broker's error for the deadline, or our own wait), or
//  DEADLINE within a fraction of a second when the link to the broker was
//  closed after the request was sent (the broker's process died or
//  restarted): the request may or may not have run. A broker host that
//  vanished without closing the connection is waited for to the timeout.
int
    flot_client_call (flot_client_t *self, const char *service, const char *key,
                      const char *command, const void *body, size_t size,
                      uint32_t timeout_ms, zframe_t **body_p, flot_err_t *err);

#ifdef __cplusplus
}
#endif

#endif
