/*  flot_client.c - the client side of FLOT02.

    One DEALER socket connected to the broker. Requests carry a correlation
    id from a per-client counter; replies are matched to it. Linger is zero
    and every wait is bounded, so a client never hangs on a dead broker.
    With credentials (flotilla/keys.h) the socket is a CURVE client of the
    broker's public key; the client keeps its own copy of them, for the
    sockets its users open beside it (the event subscriber's).

    A monitor of the socket says when the link to the broker comes up (the
    handshake succeeded) and when one that was up drops. A call whose link
    dropped after it was sent is not waited for to its timeout: the broker
    that took it is gone, and the answer with it (a request still queued
    on the socket goes to the next broker, and its late answer is dropped
    by its correlation id). Handshakes that fail (a key the broker
    refuses) are not drops: the call waits for its timeout, as before.
*/
#include "flotilla/client.h"
#include "flotilla/body.h"

#include <stdatomic.h>

#define LINK_CHECK_MS   200         //  a call looks at the monitor this often

struct _flot_client_t {
    zsock_t *sock;
    zsock_t *monitor;           //  the socket's link events; NULL without
    uint64_t next_corr;
    flot_creds_t creds;         //  cert NULL: plain
    bool answered;              //  a broker took the link, or sent a message
    bool link_up;               //  the last link event: handshake succeeded
    bool link_dropped;          //  a link that was up dropped since last asked
    bool call_dropped;          //  the last call ended for that
};

//  Starts the monitor of the client's socket: its link events on an inproc
//  pair. A client without one (the pair failed) still works; its calls wait
//  for their timeout.
static void
s_monitor_start (flot_client_t *self)
{
    //  A name of its own: that of a client destroyed before may still be
    //  bound while libzmq closes its monitor.
    static atomic_uint s_monitors;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://flot-client-link-%u",
              atomic_fetch_add (&s_monitors, 1));
    if (zmq_socket_monitor (zsock_resolve (self->sock), endpoint,
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED))
        return;
    self->monitor = zsock_new (ZMQ_PAIR);
    if (self->monitor) {
        zsock_set_linger (self->monitor, 0);
        //  No limit on the pipe: libzmq sends each event blocking, from its
        //  I/O thread, so a full pipe would stop every socket of the
        //  process. Events are few (one per link up or down) and are read
        //  as calls run and receives find nothing.
        zsock_set_sndhwm (self->monitor, 0);
        zsock_set_rcvhwm (self->monitor, 0);
        if (zsock_connect (self->monitor, "%s", endpoint))
            zsock_destroy (&self->monitor);
    }
    if (!self->monitor)
        zmq_socket_monitor (zsock_resolve (self->sock), NULL, 0);
}

//  Reads the link events the monitor has. Each is two frames: the event
//  (16 bits) and its value (32 bits), then the endpoint.
static void
s_monitor_read (flot_client_t *self)
{
    if (!self->monitor)
        return;
    void *handle = zsock_resolve (self->monitor);
    while (true) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frame);
            return;
        }
        uint16_t event = 0;
        if (zmq_msg_size (&frame) >= sizeof event)
            memcpy (&event, zmq_msg_data (&frame), sizeof event);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            self->link_up = self->answered = true;
        else
        if (event == ZMQ_EVENT_DISCONNECTED) {
            if (self->link_up)
                self->link_dropped = true;
            self->link_up = false;
        }
        while (zmq_msg_more (&frame) && zmq_msg_recv (&frame, handle, ZMQ_DONTWAIT) >= 0)
            ;
        zmq_msg_close (&frame);
    }
}

flot_client_t *
flot_client_new (const char *endpoint)
{
    return flot_client_new_secure (endpoint, NULL);
}

flot_client_t *
flot_client_new_secure (const char *endpoint, const flot_creds_t *creds)
{
    if (!flot_creds_valid (creds))
        return NULL;
    flot_client_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->sock = zsock_new (ZMQ_DEALER);
    if (!self->sock || (creds && flot_creds_copy (&self->creds, creds))) {
        flot_client_destroy (&self);
        return NULL;
    }
    zsock_set_linger (self->sock, 0);
    zsock_set_maxmsgsize (self->sock, FLOT_MAX_MESSAGE);
    zsock_set_sndtimeo (self->sock, 1000);
    flot_creds_apply (&self->creds, self->sock);
    s_monitor_start (self);
    if (zsock_connect (self->sock, "%s", endpoint)) {
        flot_client_destroy (&self);
        return NULL;
    }
    //  Start from a random point so that ids differ across restarts.
    self->next_corr = ((uint64_t) randof (1 << 30) << 20) + 1;
    return self;
}

void
flot_client_destroy (flot_client_t **self_p)
{
    if (self_p && *self_p) {
        flot_client_t *self = *self_p;
        if (self->monitor) {
            zmq_socket_monitor (zsock_resolve (self->sock), NULL, 0);
            zsock_destroy (&self->monitor);
        }
        //  Say goodbye, so the broker cancels our streams; wait briefly.
        if (self->sock) {
            flot_msg_t bye = { .kind = FLOT_DISCONNECT };
            flot_msg_send (&bye, zsock_resolve (self->sock), NULL, true);
            zsock_set_linger (self->sock, 100);
            zsock_destroy (&self->sock);
        }
        flot_creds_clear (&self->creds);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
flot_client_sock (flot_client_t *self)
{
    return self->sock;
}

const flot_creds_t *
flot_client_creds (flot_client_t *self)
{
    assert (self);
    return &self->creds;
}

bool
flot_client_answered (flot_client_t *self)
{
    assert (self);
    return self->answered;
}

bool
flot_client_link_dropped (flot_client_t *self)
{
    assert (self);
    return self->call_dropped;
}

uint64_t
flot_client_send (flot_client_t *self, const char *service, const char *key,
                  const char *command, const void *body, size_t size,
                  uint32_t timeout_ms, flot_err_t *err)
{
    assert (self);
    static const uint8_t empty_map [1] = { 0x80 };
    flot_msg_t msg = {
        .kind = FLOT_REQUEST,
        .corr = self->next_corr++,
        .service = { (const uint8_t *) service, strlen (service) },
        .key = { (const uint8_t *) (key ? key : ""), key ? strlen (key) : 0 },
        .timeout_ms = timeout_ms,
        .command = { (const uint8_t *) command, strlen (command) },
        .body = body ? (flot_bytes_t) { body, size } : (flot_bytes_t) { empty_map, 1 }
    };
    if (!flot_name_valid (msg.service) || !flot_name_valid (msg.command)) {
        flot_err_set (err, FLOT_E_INVALID,
            "service and command names must be 1..%d of [A-Za-z0-9._-]",
            FLOT_MAX_NAME);
        return 0;
    }
    if (msg.body.size > FLOT_MAX_BODY) {
        flot_err_set (err, FLOT_E_TOO_LARGE, "body is %zu bytes, the limit is %d",
                      msg.body.size, FLOT_MAX_BODY);
        return 0;
    }
    if (flot_msg_send (&msg, zsock_resolve (self->sock), NULL, false)) {
        flot_err_set (err, FLOT_E_DEADLINE, "cannot send to the broker: %s",
                      zmq_strerror (zmq_errno ()));
        return 0;
    }
    return msg.corr;
}

//  Checks the frames of one message from the broker and fills reply with a
//  copy of its body. Returns 0, or -1 with err.
static int
s_reply_take (zmq_msg_t *frames, int count, bool overflow, flot_reply_t *reply,
              flot_err_t *err)
{
    if (overflow)
        return flot_err_set (err, FLOT_E_MALFORMED,
            "broker sent a message of more than one frame");
    flot_bytes_t views [FLOT_MAX_FRAMES];
    for (int i = 0; i < count; i++)
        views [i] = (flot_bytes_t) { zmq_msg_data (&frames [i]), zmq_msg_size (&frames [i]) };
    flot_msg_t msg;
    if (flot_msg_decode (&msg, views, (size_t) count, err))
        return -1;
    if (msg.kind != FLOT_REPLY && msg.kind != FLOT_ERROR
    &&  msg.kind != FLOT_STREAM && msg.kind != FLOT_STREAM_END)
        return flot_err_set (err, FLOT_E_MALFORMED,
            "broker sent %s, which a client does not expect",
            flot_kind_name (msg.kind));
    reply->kind = msg.kind;
    reply->corr = msg.corr;
    reply->body = zframe_new (msg.body.data, msg.body.size);
    return 0;
}

int
flot_client_recv (flot_client_t *self, flot_reply_t *reply, int timeout_ms,
                  flot_err_t *err)
{
    assert (self);
    memset (reply, 0, sizeof *reply);
    void *handle = zsock_resolve (self->sock);
    zmq_msg_t frames [FLOT_MAX_FRAMES];
    bool overflow;
    //  A receive that waits up to the timeout: it costs no system call when
    //  a reply is there, and one check of libzmq's mailbox when none is,
    //  where a receive that does not wait first (or a yield and a second
    //  try) would add a check (poll and getpid) each time the queue runs
    //  dry. The socket is left as it was (no timeout) for callers that poll
    //  it themselves.
    int count, why;
    if (timeout_ms != 0) {
        static const int forever = -1;
        zmq_setsockopt (handle, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
        count = flot_msg_recv (handle, frames, FLOT_MAX_FRAMES, 0, &overflow);
        why = zmq_errno ();
        zmq_setsockopt (handle, ZMQ_RCVTIMEO, &forever, sizeof forever);
    }
    else {
        count = flot_msg_recv (handle, frames, FLOT_MAX_FRAMES, ZMQ_DONTWAIT, &overflow);
        why = zmq_errno ();
    }
    if (count >= 0)
        self->answered = true;
    if (count < 0) {
        s_monitor_read (self);
        return flot_err_set (err, FLOT_E_DEADLINE,
            why == EAGAIN ? "no answer from the broker within %d ms"
                          : "interrupted while waiting for the broker (%d ms)",
            timeout_ms);
    }
    int rc = s_reply_take (frames, count, overflow, reply, err);
    for (int i = 0; i < count; i++)
        zmq_msg_close (&frames [i]);
    return rc;
}

void
flot_reply_clear (flot_reply_t *reply)
{
    zframe_destroy (&reply->body);
}

int
flot_client_call (flot_client_t *self, const char *service, const char *key,
                  const char *command, const void *body, size_t size,
                  uint32_t timeout_ms, zframe_t **body_p, flot_err_t *err)
{
    *body_p = NULL;
    //  A drop before the send does not concern this call: the request
    //  waits on the socket for the next link.
    s_monitor_read (self);
    self->link_dropped = self->call_dropped = false;
    uint64_t corr = flot_client_send (self, service, key, command, body, size,
                                      timeout_ms, err);
    if (!corr)
        return -1;
    uint32_t effective = timeout_ms ? timeout_ms : FLOT_DEFAULT_TIMEOUT_MS;
    //  Give the broker's own deadline error a moment to arrive first.
    int64_t give_up = zclock_mono () + effective + 250;
    while (true) {
        int64_t left = give_up - zclock_mono ();
        if (left <= 0)
            return flot_err_set (err, FLOT_E_DEADLINE,
                "no answer from the broker within %u ms", effective);
        int wait = self->monitor && left > LINK_CHECK_MS ? LINK_CHECK_MS : (int) left;
        flot_reply_t reply;
        flot_err_t local;
        if (flot_client_recv (self, &reply, wait, &local)) {
            if (local.code == FLOT_E_MALFORMED || local.code == FLOT_E_VERSION
            ||  local.code == FLOT_E_TOO_LARGE)
                continue;   //  not a reply we can read: drop it, keep waiting
            if (local.code == FLOT_E_DEADLINE && zsys_interrupted)
                return flot_err_set (err, FLOT_E_DEADLINE,
                    "interrupted while waiting for the answer of %s %s", service, command);
            if (local.code == FLOT_E_DEADLINE) {
                //  flot_client_recv read the monitor
                self->call_dropped = self->link_dropped;
                if (self->call_dropped)
                    return flot_err_set (err, FLOT_E_DEADLINE, "%s while waiting for "
                        "the answer: %s %s may or may not have run",
                        FLOT_LINK_DROPPED, service, command);
                if (wait < left)
                    continue;
                return flot_err_set (err, FLOT_E_DEADLINE,
                    "no answer from the broker within %u ms", effective);
            }
            return flot_err_set (err, local.code, "%s", local.message);
        }
        if (reply.corr != corr || reply.kind == FLOT_STREAM
        ||  reply.kind == FLOT_STREAM_END) {
            flot_reply_clear (&reply);
            continue;       //  a late answer to an earlier call
        }
        if (reply.kind == FLOT_ERROR) {
            flot_err_t local;
            flot_unpack_error (zframe_data (reply.body),
                               zframe_size (reply.body), &local);
            flot_err_set (err, local.code, "%s", local.message);
            flot_reply_clear (&reply);
            return -1;
        }
        *body_p = reply.body;
        return 0;
    }
}
