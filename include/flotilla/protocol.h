/*  flotilla/protocol.h - the Flotilla wire protocol (FLOT02): the message
    layout, message kinds, error codes, limits, and the envelope codec.

    Every peer speaks it: clients (flotctl, any ZeroMQ client) and actors talk
    to the broker, never to each other. protocol/SPEC.md is the normative text;
    this header is its C form. The codec decodes a frame into a view of the
    message (no copies) and validates every field's size and bounds; it
    never decodes a body: see flotilla/body.h for that.
*/
#ifndef FLOTILLA_PROTOCOL_H_INCLUDED
#define FLOTILLA_PROTOCOL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Every message is one frame: a header and, for every kind but HEARTBEAT,
//  a body after it to the end of the frame (one msgpack map). The header is
//  the signature, the kind byte, then the kind's fields in order: strings as
//  a length byte and the bytes, numbers unsigned big-endian (corr 8 bytes,
//  timeout 4 bytes).
//
//  The protocol signature starts every header. The last two digits are the
//  protocol version: FLOT_SIGNATURE is this code's preferred one; a header
//  may carry any version from FLOT_VERSION_OLDEST to FLOT_VERSION.
#define FLOT_SIGNATURE          "FLOT03"
#define FLOT_SIGNATURE_SIZE     6
//  The signature frame of an event message on the PUB socket (SPEC 11.1):
//  event messages did not change in version 03, so they keep 02's.
#define FLOT_EVENTS_SIGNATURE   "FLOT02"

//  The protocol versions this code speaks: FLOT_VERSION_OLDEST up to
//  FLOT_VERSION, the one in FLOT_SIGNATURE and the one it prefers. A peer
//  announces them (READY's and Ping's "versions"); during an upgrade a
//  broker of version N speaks N and N-1 (SPEC section 13). Versions are
//  1..99, written as two digits.
#define FLOT_VERSION            3
#define FLOT_VERSION_OLDEST     2
#define FLOT_MAX_VERSIONS       16          //  entries of a "versions" array

//  Message kinds: the header's seventh byte.
//  Client side (client DEALER <-> broker ROUTER)
#define FLOT_REQUEST            0x01    //  client -> broker
#define FLOT_REPLY              0x02    //  broker -> client
#define FLOT_ERROR              0x03    //  broker -> client
#define FLOT_STREAM             0x04    //  broker -> client
#define FLOT_STREAM_END         0x05    //  broker -> client
//  Actor side (actor DEALER <-> broker ROUTER)
#define FLOT_READY              0x10    //  actor -> broker
#define FLOT_DELIVER            0x11    //  broker -> actor
#define FLOT_A_REPLY            0x12    //  actor -> broker
#define FLOT_A_ERROR            0x13    //  actor -> broker
#define FLOT_A_STREAM           0x14    //  actor -> broker
#define FLOT_A_STREAM_END       0x15    //  actor -> broker
#define FLOT_CANCEL             0x16    //  broker -> actor
//  Either side
#define FLOT_HEARTBEAT          0x20
#define FLOT_DISCONNECT         0x21

//  Error codes, carried in the body of ERROR and A_ERROR as "code".
#define FLOT_E_MALFORMED        1   //  a frame or body does not follow the protocol
#define FLOT_E_VERSION          2   //  unknown signature or protocol version
#define FLOT_E_TOO_LARGE        3   //  a frame or the message exceeds a size limit
#define FLOT_E_UNKNOWN_SERVICE  4   //  no actor ever registered this service
#define FLOT_E_NO_INSTANCE      5   //  the service (or key) has no live instance
#define FLOT_E_DEADLINE         6   //  the request's deadline passed before a reply
#define FLOT_E_ACTOR_FAILED     7   //  the actor holding the request died or left
#define FLOT_E_NOT_AUTHORIZED   8   //  the caller's role does not allow it
#define FLOT_E_UNKNOWN_COMMAND  9   //  the service has no such command
#define FLOT_E_INVALID          10  //  well-formed, but a field's value is wrong
#define FLOT_E_NOT_FOUND        11  //  the named object does not exist
#define FLOT_E_CONFLICT         12  //  the object's state does not allow it
#define FLOT_E_BUSY             13  //  too many requests in flight
#define FLOT_E_INTERNAL         14  //  the actor failed to do what it should
#define FLOT_E_CANCELLED        15  //  the request or stream was cancelled
#define FLOT_E_MAX              15

//  Limits
#define FLOT_MAX_FRAMES         1           //  frames in one message, identity excluded
#define FLOT_MAX_HEADER         1024        //  bytes of a header, at most (fields bound it)
#define FLOT_MAX_BODY           (1 << 20)   //  bytes of a body
#define FLOT_MAX_MESSAGE        (FLOT_MAX_BODY + 4096)  //  ZMQ_MAXMSGSIZE per frame
#define FLOT_MAX_NAME           64          //  service and command names
#define FLOT_MAX_ID             95          //  deployment ids: a spec name, '-', a number
#define FLOT_MAX_KEY            255         //  routing key (e.g. a target)
#define FLOT_MAX_ROUTE          255         //  broker-assigned route id

//  The routing key of the strategy service's spec commands (Validate,
//  GenerateSteps, Resolve, ListStrategies): the built-in strategy actor
//  claims it with its strategies' names, and a registered strategy's actor
//  claims only its own name (SPEC section 16.3).
#define FLOT_STRATEGY_SPEC_KEY  "spec"
#define FLOT_DEFAULT_TIMEOUT_MS 30000       //  used when a request says 0
#define FLOT_MAX_TIMEOUT_MS     86400000u   //  one day

//  Heartbeat defaults: an interval, and how many missed intervals make a
//  peer dead.
#define FLOT_HEARTBEAT_MS       1000
#define FLOT_LIVENESS           3

//  The broker's own service, answered by the broker itself.
#define FLOT_BROKER_SERVICE     "broker"

//  A view of bytes owned by someone else.
typedef struct {
    const uint8_t *data;
    size_t size;
} flot_bytes_t;

//  A decoded message: views into the frame it was decoded from.
//  Which fields a kind carries is in protocol/SPEC.md and flot_msg.c.
typedef struct {
    int kind;
    int version;                //  the signature's version; 0 when encoding: FLOT_VERSION
    flot_bytes_t route;         //  DELIVER, A_*, CANCEL: the caller's route id
    uint64_t corr;              //  correlation id, chosen by the caller
    flot_bytes_t service;       //  REQUEST, READY
    flot_bytes_t key;           //  REQUEST, DELIVER: routing key, may be empty
    uint32_t timeout_ms;        //  REQUEST, DELIVER
    flot_bytes_t command;       //  REQUEST, DELIVER
    flot_bytes_t caller;        //  DELIVER of version 03 on: the caller's key name, may be empty
    flot_bytes_t body;          //  every kind but HEARTBEAT: one msgpack map
} flot_msg_t;

//  An error: a code from the table above and a sentence.
typedef struct {
    int code;
    char message [256];
} flot_err_t;

//  Set an error; returns -1 so a caller can `return flot_err_set (...)`.
int
    flot_err_set (flot_err_t *err, int code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  The symbolic name of an error code ("DEADLINE"), or "UNKNOWN".
const char *
    flot_err_name (int code);

//  The name of a message kind ("REQUEST"), or NULL if not a kind.
const char *
    flot_kind_name (int kind);

//  Decode frames (the ROUTER identity frame already removed) into msg.
//  Checks the signature, the frame count (one), the kind, every header
//  field's length and content (names are [A-Za-z0-9._-]+, sizes within the
//  limits), and that the kind's body follows (or, for HEARTBEAT, nothing).
//  Bodies are not decoded, only bounded and checked to start as a map.
//  Returns 0, or -1 with err.
int
    flot_msg_decode (flot_msg_t *msg, const flot_bytes_t *frames, size_t count,
                     flot_err_t *err);

//  The version of a frame's signature if this code speaks it
//  (FLOT_VERSION_OLDEST..FLOT_VERSION), else 0.
int
    flot_msg_version (flot_bytes_t frame);

//  Set err to VERSION for a frame whose signature is not one this code
//  speaks: "protocol version 01 is not supported, <who> speaks 02, 03" (every version
//  this code speaks, oldest first) when the frame starts with "FLOT" and
//  two printable characters, else a sentence naming the signature. who is
//  for example "this broker". Returns -1.
int
    flot_msg_version_error (flot_bytes_t frame, const char *who, flot_err_t *err);

//  The versions this code speaks, oldest first, as text: "02" or "01, 02".
//  Returns buffer.
const char *
    flot_versions_text (char *buffer, size_t size);

//  Write msg's header into buffer (FLOT_MAX_HEADER bytes). Returns its size,
//  or -1 if msg->kind is not a kind or a field is over its limit.
int
    flot_msg_header (const flot_msg_t *msg, uint8_t *buffer);

//  Initialize frame with msg on the wire: its header, then its body (an
//  empty body is sent as {}). Returns 0, or -1 with errno EINVAL (as
//  flot_msg_header) or ENOMEM; frame is then not initialized. The caller
//  sends or closes frame.
int
    flot_msg_frame (const flot_msg_t *msg, zmq_msg_t *frame);

//  Send msg on a ZeroMQ socket (a raw void * socket handle), preceded by the
//  identity frame `to` if to is not NULL (for ROUTER sockets). Non-blocking
//  if dontwait. Returns 0, or -1 with errno from flot_msg_frame or zmq_send.
int
    flot_msg_send (const flot_msg_t *msg, void *socket,
                   const flot_bytes_t *to, bool dontwait);

//  Receive one message from a ZeroMQ socket into frames: at most max are
//  kept, the rest are read and dropped with *overflow set. flags are
//  zmq_msg_recv's (ZMQ_DONTWAIT, or 0 to wait as ZMQ_RCVTIMEO allows).
//  Returns the count kept (the caller closes them), or -1 with errno
//  (EAGAIN: nothing came) and nothing to close.
int
    flot_msg_recv (void *socket, zmq_msg_t *frames, int max, int flags, bool *overflow);

//  flot_msg_recv without waiting, except that when nothing is there it
//  gives up the CPU once (sched_yield) and tries again. A busy sender is
//  usually microseconds from its next message: a receiver that goes to sleep
//  costs the sender a wake-up (an eventfd write) for it and itself a poll,
//  where a yield costs one system call. Returns as flot_msg_recv.
int
    flot_msg_recv_soon (void *socket, zmq_msg_t *frames, int max, bool *overflow);

//  Big-endian helpers for the numeric fields.
void     flot_put_u64 (uint8_t *p, uint64_t v);
uint64_t flot_get_u64 (const uint8_t *p);
void     flot_put_u32 (uint8_t *p, uint32_t v);
uint32_t flot_get_u32 (const uint8_t *p);

//  True if bytes are a valid name: 1..FLOT_MAX_NAME of [A-Za-z0-9._-].
bool
    flot_name_valid (flot_bytes_t name);

#ifdef __cplusplus
}
#endif

#endif
