/*  test_hostile.c - flotillad under hostile input, and the event stream.

    Real flotillad processes on loopback get thousands of malformed messages
    from raw ZeroMQ sockets and raw TCP connections while a well-behaved
    client keeps pinging; the events actor gets bad Publish and Replay
    bodies; then both must serve as before. The broker speaks protocol
    versions 02 and 03 and answers each client in its own. A broker with
    keys (the local keys a flotillad on loopback makes) gets random bytes,
    malformed CURVE handshakes, the NULL mechanism, keys it does not allow
    and clients that pin another server key on its CURVE endpoint, while a
    keyed client keeps being served. Raw actors push into, end and fail
    streams that another instance feeds, and a revoked key loses the
    streams it opened. Raw coordinators find the service held by one
    instance at a time. Last, a subscriber checks the event stream's frames,
    order, topic filtering and Replay, over CURVE, also with a history too
    small to hold everything.

    Tests of the FLOT protocol itself (the storm, the versions, who feeds a
    stream) run
    flotillad --insecure: what they send is FLOT frames, which CURVE only
    wraps, so raw sockets speak it without keys. The others run with keys,
    as a user runs flotillad.
*/
#include "proc_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#define PORT (PROC_PORT_BASE + 100)
#define STORM_MESSAGES 5000
#define PING_EVERY_MS 50

//  --------------------------------------------------------------------------
//  A well-behaved client that pings every 50 ms in its own thread

typedef struct {
    const char *endpoint;
    bool keyed;                 //  with the local keys (proc_client), else plain
    atomic_bool stop;
    int pings;
    int failures;
    int64_t worst_ms;
    char last_error [300];
} pinger_t;

static void *
s_pinger (void *arg)
{
    pinger_t *self = arg;
    flot_client_t *client = self->keyed ? proc_client (self->endpoint)
                                        : flot_client_new (self->endpoint);
    while (client && !atomic_load (&self->stop)) {
        int64_t start = proc_now ();
        flot_err_t err = { 0 };
        json_t *pong = proc_call (client, "broker", NULL, "Ping", NULL, 1000, &err);
        int64_t took = proc_now () - start;
        if (pong && json_is_true (json_object_get (pong, "pong")))
            self->pings++;
        else {
            self->failures++;
            snprintf (self->last_error, sizeof self->last_error, "%s %s",
                      flot_err_name (err.code), err.message);
        }
        json_decref (pong);
        if (took > self->worst_ms)
            self->worst_ms = took;
        if (took < PING_EVERY_MS)
            usleep ((useconds_t) (PING_EVERY_MS - took) * 1000);
    }
    flot_client_destroy (&client);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Raw messages, in the layout of SPEC section 2 (versions 02 and 03 differ
//  only in DELIVER): one frame, a header (the signature, the kind byte, the
//  kind's fields) and, for every kind but HEARTBEAT, the body after it to
//  the end of the frame.

typedef struct {
    const void *data;
    size_t size;
} raw_t;

#define RAW(s) ((raw_t) { (s), sizeof (s) - 1 })
#define NONE ((raw_t) { NULL, 0 })

//  The smallest header that shows a REQUEST's corr: signature, kind, corr.
#define ADDRESSABLE_SIZE (FLOT_SIGNATURE_SIZE + 1 + 8)

//  The previous protocol version, whose messages were a header frame and a
//  body frame.
#define OLD_SIGNATURE "FLOT01"

static const uint8_t s_empty_map [] = { 0x80 };

//  Sends frames, each as given, as one message on a raw socket without
//  blocking. Returns 0 or -1.
static int
s_send_raw (zsock_t *sock, const raw_t *frames, int count)
{
    for (int i = 0; i < count; i++)
        if (zmq_send (zsock_resolve (sock), frames [i].data, frames [i].size,
                      ZMQ_DONTWAIT | (i < count - 1 ? ZMQ_SNDMORE : 0)) < 0)
            return -1;
    return 0;
}

//  Seeds rand () from PROC_SEED, else the time, and says which seed the
//  run of what used: PROC_SEED=n replays a run.
static void
s_seed (const char *what)
{
    const char *given = getenv ("PROC_SEED");
    unsigned seed = given ? (unsigned) strtoul (given, NULL, 10) : (unsigned) time (NULL);
    print_message ("%s seed %u (PROC_SEED)\n", what, seed);
    srand (seed);
}

static void
s_random_bytes (uint8_t *buf, size_t size)
{
    for (size_t i = 0; i < size; i++)
        buf [i] = (uint8_t) (rand () & 0xff);
}

//  A header being written by hand.
typedef struct {
    uint8_t data [2048];
    size_t size;
} header_t;

static void
s_put (header_t *self, const void *bytes, size_t size)
{
    assert_true (self->size + size <= sizeof self->data);
    if (size)
        memcpy (self->data + self->size, bytes, size);
    self->size += size;
}

static void
s_put_byte (header_t *self, uint8_t byte)
{
    s_put (self, &byte, 1);
}

//  A string field: a length byte and the bytes.
static void
s_put_string (header_t *self, raw_t text)
{
    assert_true (text.size <= 255);
    s_put_byte (self, (uint8_t) text.size);
    s_put (self, text.data, text.size);
}

//  Starts a header: a signature (FLOT_SIGNATURE if NULL) and a kind.
static void
s_header_start (header_t *self, const char *signature, uint8_t kind)
{
    self->size = 0;
    s_put (self, signature ? signature : FLOT_SIGNATURE, FLOT_SIGNATURE_SIZE);
    s_put_byte (self, kind);
}

static void
s_put_corr (header_t *self, uint64_t corr)
{
    uint8_t bytes [8];
    flot_put_u64 (bytes, corr);
    s_put (self, bytes, 8);
}

//  Sends a message on a raw socket without blocking: one frame of the
//  header and the body right after it (nothing after the header if body is
//  empty), then `extra` more frames ({} each), which no message may have.
//  Returns 0 or -1.
static int
s_send_message (zsock_t *sock, const header_t *header, raw_t body, int extra)
{
    zmq_msg_t frame;
    if (zmq_msg_init_size (&frame, header->size + body.size))
        return -1;
    uint8_t *data = zmq_msg_data (&frame);
    memcpy (data, header->data, header->size);
    if (body.size)
        memcpy (data + header->size, body.data, body.size);
    if (zmq_msg_send (&frame, zsock_resolve (sock),
                      ZMQ_DONTWAIT | (extra ? ZMQ_SNDMORE : 0)) < 0) {
        zmq_msg_close (&frame);
        return -1;
    }
    for (int i = 0; i < extra; i++)
        if (zmq_send (zsock_resolve (sock), s_empty_map, 1,
                      ZMQ_DONTWAIT | (i < extra - 1 ? ZMQ_SNDMORE : 0)) < 0)
            return -1;
    return 0;
}

#define MAX_EXPECTED (STORM_MESSAGES + 64)

//  What the raw DEALER expects back: one ERROR per addressable request, with
//  its code (and words of its message, where given), and one DISCONNECT per
//  actor-only message from a non-actor.
typedef struct {
    zsock_t *sock;
    uint64_t next_corr;
    uint64_t first_corr;
    int expected_code [MAX_EXPECTED];       //  by corr - first_corr; 0: none
    const char *expected_text [MAX_EXPECTED];   //  NULL: any sentence
    int answered [MAX_EXPECTED];
    int disconnects_expected;
    int disconnects;
    int unexpected;
    char first_problem [256];
} storm_t;

static void
s_problem (storm_t *self, const char *format, ...)
{
    self->unexpected++;
    if (self->unexpected == 1) {
        va_list args;
        va_start (args, format);
        vsnprintf (self->first_problem, sizeof self->first_problem, format, args);
        va_end (args);
    }
}

//  One message that came back: it must decode, and be an ERROR we expect or
//  a DISCONNECT.
static void
s_storm_check (storm_t *self, zmsg_t *msg)
{
    flot_bytes_t frames [FLOT_MAX_FRAMES];
    size_t count = 0;
    for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg)) {
        if (count == FLOT_MAX_FRAMES) {
            s_problem (self, "a message of %zu frames came back", zmsg_size (msg));
            return;
        }
        frames [count++] = (flot_bytes_t) { zframe_data (frame), zframe_size (frame) };
    }
    flot_msg_t answer;
    flot_err_t err = { 0 };
    if (flot_msg_decode (&answer, frames, count, &err)) {
        s_problem (self, "a message that is not %s came back: %s",
                   FLOT_SIGNATURE, err.message);
        return;
    }
    //  This peer writes FLOT03, or versions no broker speaks: it is
    //  answered in 03; told DISCONNECT, as a peer that is no actor, in 02,
    //  the oldest version, which every peer reads (SPEC section 13).
    int version = answer.kind == FLOT_DISCONNECT ? FLOT_VERSION_OLDEST : FLOT_VERSION;
    if (answer.version != version) {
        s_problem (self, "%s came back in version %02d, expected %02d",
                   flot_kind_name (answer.kind), answer.version, version);
        return;
    }
    if (answer.kind == FLOT_DISCONNECT) {
        self->disconnects++;
        return;
    }
    if (answer.kind == FLOT_HEARTBEAT) {
        s_problem (self, "HEARTBEAT to a peer that never registered");
        return;
    }
    if (answer.kind != FLOT_ERROR) {
        s_problem (self, "unexpected %s came back", flot_kind_name (answer.kind));
        return;
    }
    err = (flot_err_t) { 0 };
    flot_unpack_error (answer.body.data, answer.body.size, &err);
    uint64_t index = answer.corr - self->first_corr;
    const char *text = index < MAX_EXPECTED ? self->expected_text [index] : NULL;
    if (index >= MAX_EXPECTED || !self->expected_code [index])
        s_problem (self, "ERROR for corr %llu, which expected none: %s %s",
                   (unsigned long long) answer.corr, flot_err_name (err.code),
                   err.message);
    else
    if (self->answered [index]++)
        s_problem (self, "a second ERROR for corr %llu", (unsigned long long) answer.corr);
    else
    if (err.code != self->expected_code [index] || !*err.message
    ||  (text && !strstr (err.message, text)))
        s_problem (self, "corr %llu: expected %s '%s', got %s '%s'",
                   (unsigned long long) answer.corr,
                   flot_err_name (self->expected_code [index]), text ? text : "...",
                   flot_err_name (err.code), err.message);
}

//  Reads whatever has come back, up to timeout_ms for the first message.
static void
s_storm_drain (storm_t *self, int timeout_ms)
{
    while (true) {
        zmq_pollitem_t item = { zsock_resolve (self->sock), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, timeout_ms) <= 0)
            return;
        timeout_ms = 0;
        zmsg_t *msg = zmsg_recv_nowait (self->sock);
        if (!msg)
            return;
        s_storm_check (self, msg);
        zmsg_destroy (&msg);
    }
}

//  A REQUEST, written field by field. Every field left NONE (or 0) has a
//  valid default: signature FLOT_SIGNATURE, service "echo", key "", timeout
//  1000 ms, command "Echo", body {}.
typedef struct {
    int expected;               //  the code of the ERROR it must get; 0: none
    const char *text;           //  words its message must hold, if not NULL
    const char *signature;      //  6 bytes
    raw_t service, key, command;
    raw_t timeout;              //  its bytes, normally 4
    bool no_body;               //  end the frame after the header
    raw_t body;
    size_t cut;                 //  if not 0, the frame is this many bytes of
                                //  the header and nothing after
    raw_t tail;                 //  bytes between the last field and the body
    int extra_frames;           //  frames to send after the message's frame
} request_t;

static const uint8_t s_timeout_1s [] = { 0, 0, 0x03, 0xe8 };

static raw_t
s_or (raw_t value, raw_t fallback)
{
    return value.data ? value : fallback;
}

//  Writes the header of request with corr.
static void
s_request_header (header_t *header, const request_t *request, uint64_t corr)
{
    s_header_start (header, request->signature, FLOT_REQUEST);
    s_put_corr (header, corr);
    s_put_string (header, s_or (request->service, RAW ("echo")));
    s_put_string (header, s_or (request->key, RAW ("")));
    raw_t timeout = s_or (request->timeout, (raw_t) { s_timeout_1s, 4 });
    s_put (header, timeout.data, timeout.size);
    s_put_string (header, s_or (request->command, RAW ("Echo")));
    s_put (header, request->tail.data, request->tail.size);
    if (request->cut) {
        assert_true (request->cut < header->size);
        header->size = request->cut;
    }
}

//  Sends a REQUEST with the next corr and records the ERROR it must get.
//  A frame cut shorter than ADDRESSABLE_SIZE must get nothing.
static uint64_t
s_request (storm_t *self, const request_t *request)
{
    uint64_t corr = self->next_corr++;
    header_t header;
    s_request_header (&header, request, corr);
    raw_t body = request->no_body || request->cut
               ? NONE : s_or (request->body, (raw_t) { s_empty_map, 1 });
    bool addressable = header.size >= ADDRESSABLE_SIZE;
    assert_true (addressable || !request->expected);
    self->expected_code [corr - self->first_corr] = request->expected;
    self->expected_text [corr - self->first_corr] = request->text;
    if (s_send_message (self->sock, &header, body, request->extra_frames))
        s_problem (self, "could not send a request: %s", zmq_strerror (zmq_errno ()));
    return corr;
}

//  A header of kind with route, corr: for the actors' answers and CANCEL.
static void
s_routed_header (header_t *header, uint8_t kind)
{
    uint8_t route [5], corr [8];
    s_random_bytes (route, sizeof route);
    s_random_bytes (corr, sizeof corr);
    s_header_start (header, NULL, kind);
    s_put_string (header, (raw_t) { route, sizeof route });
    s_put (header, corr, 8);
}

//  A wrong-signature or wrong-version REQUEST, one frame with its body:
//  addressable, VERSION.
static void
s_garbage_version (storm_t *self)
{
    static const char *signatures [] = {
        OLD_SIGNATURE, "FLOT04", "FLOT00", "ZZZZZZ", "flot03", "\0\0\0\0\0\0"
    };
    s_request (self, &(request_t) {
        .expected = FLOT_E_VERSION, .signature = signatures [rand () % 6] });
}

//  A REQUEST whose frame ends after the header (the body is missing), or
//  inside a field, or has bytes between the last field and the body (which
//  then does not start as a map): MALFORMED if its corr can be read.
static void
s_garbage_shape (storm_t *self)
{
    static const uint8_t tail [8] = { 0 };
    switch (rand () % 4) {
        case 0:
            s_request (self, &(request_t) {
                .expected = FLOT_E_MALFORMED, .no_body = true,
                .text = "the body is missing" });
            break;
        case 1: {
            //  Default REQUEST header: 7 + 8 + 5 + 1 + 4 + 5 = 30 bytes.
            size_t cut = ADDRESSABLE_SIZE + (size_t) (rand () % (30 - ADDRESSABLE_SIZE));
            s_request (self, &(request_t) {
                .expected = FLOT_E_MALFORMED, .cut = cut, .text = "ends inside the" });
            break;
        }
        case 2: {
            //  Only the signature, or a frame that ends inside the corr: not
            //  addressable, dropped.
            size_t cut = FLOT_SIGNATURE_SIZE + (size_t) (rand () % 9);
            s_request (self, &(request_t) { .cut = cut });
            break;
        }
        default:
            s_request (self, &(request_t) {
                .expected = FLOT_E_MALFORMED, .text = "body must be a msgpack map",
                .tail = { tail, 1 + (size_t) (rand () % 8) } });
            break;
    }
}

//  A REQUEST with a bad field: MALFORMED.
static void
s_garbage_field (storm_t *self)
{
    static const uint8_t big_timeout [] = { 0xff, 0xff, 0xff, 0xff };
    static const uint8_t over_max [] = { 0x05, 0x26, 0x5c, 0x01 };   //  86400001
    static const uint8_t control_key [] = { 'e', 'u', 0x01 };
    static char long_name [66];
    memset (long_name, 'n', 65);
    request_t request = { .expected = FLOT_E_MALFORMED };
    switch (rand () % 9) {
        case 0: request.service = RAW ("bad service!"); break;
        case 1: request.service = RAW (""); break;
        case 2: request.service = (raw_t) { long_name, 65 }; break;
        case 3: request.key = RAW ("has space"); break;
        case 4: request.key = (raw_t) { control_key, 3 }; break;
        case 5: request.timeout = (raw_t) { big_timeout, 4 }; break;
        case 6: request.timeout = (raw_t) { over_max, 4 }; break;
        case 7: request.command = RAW ("Echo\n"); break;
        default: request.command = RAW (""); break;
    }
    s_request (self, &request);
}

//  A REQUEST whose body is bad (or empty: the frame ends after the header):
//  the codec, the broker (Ping) or the echo actor (Echo) answers MALFORMED.
static void
s_garbage_body (storm_t *self)
{
    static const uint8_t not_map [] = { 0x91, 0x01 };
    static const uint8_t truncated [] = { 0x82, 0xa1, 'a' };
    static const uint8_t bad_type [] = { 0x81, 0xa1, 'a', 0xc1 };
    static const uint8_t trailing [] = { 0x80, 0x80 };
    static const uint8_t int_key [] = { 0x81, 0x01, 0x02 };
    raw_t bodies [] = {
        { not_map, sizeof not_map }, { truncated, sizeof truncated },
        { bad_type, sizeof bad_type }, { trailing, sizeof trailing },
        { int_key, sizeof int_key }, { "", 0 }
    };
    bool broker = rand () % 2;
    s_request (self, &(request_t) {
        .expected = FLOT_E_MALFORMED,
        .service = broker ? RAW ("broker") : RAW ("echo"),
        .command = broker ? RAW ("Ping") : RAW ("Echo"),
        .body = bodies [rand () % 6] });
}

//  Random frames, never addressable: a first frame whose byte 6 could say
//  REQUEST is changed. Half of them start with the signature and a kind the
//  broker drops (one it only sends, or none) before the random bytes.
static void
s_garbage_random (storm_t *self)
{
    static const uint8_t dropped [] = {
        FLOT_REPLY, FLOT_ERROR, FLOT_STREAM, FLOT_STREAM_END, FLOT_DELIVER,
        FLOT_CANCEL, 0x00, 0x06, 0x17, 0x22, 0x7f, 0xff
    };
    raw_t frames [10];
    uint8_t data [10][40];
    int count = 1 + rand () % 10;
    for (int i = 0; i < count; i++) {
        size_t size = (size_t) (rand () % 41);
        s_random_bytes (data [i], size);
        if (i == 0 && size > FLOT_SIGNATURE_SIZE) {
            if (rand () % 2) {
                memcpy (data [i], FLOT_SIGNATURE, FLOT_SIGNATURE_SIZE);
                data [i][FLOT_SIGNATURE_SIZE] = dropped [rand () % sizeof dropped];
            }
            //  Not a REQUEST (answered with ERROR) nor a READY (answered
            //  with DISCONNECT): this garbage is the kind that is dropped.
            if (data [i][FLOT_SIGNATURE_SIZE] == FLOT_REQUEST
            ||  data [i][FLOT_SIGNATURE_SIZE] == FLOT_READY)
                data [i][FLOT_SIGNATURE_SIZE] = 0xee;
        }
        frames [i] = (raw_t) { data [i], size };
    }
    s_send_raw (self->sock, frames, count);
}

//  More than 1 frame: TOO_LARGE if the first is an addressable REQUEST,
//  VERSION if it is one of another version (so also a FLOT01 REQUEST in
//  its header frame and body frame); else dropped.
static void
s_garbage_frames (storm_t *self)
{
    if (rand () % 2) {
        bool old = rand () % 4 == 0;
        s_request (self, &(request_t) {
            .expected = old ? FLOT_E_VERSION : FLOT_E_TOO_LARGE,
            .text = old ? "version 01 is not supported" : "more than one frame",
            .signature = old ? OLD_SIGNATURE : FLOT_SIGNATURE,
            .no_body = rand () % 4 == 0,
            .extra_frames = 1 + rand () % 8 });
        return;
    }
    uint8_t random [48];
    s_random_bytes (random, sizeof random);
    random [FLOT_SIGNATURE_SIZE] = FLOT_HEARTBEAT;
    raw_t frames [16];
    for (int i = 0; i < 16; i++)
        frames [i] = (raw_t) { random + 2 * i, 3 + (size_t) (i == 0) * 12 };
    s_send_raw (self->sock, frames, 2 + rand () % 15);
}

//  An actor's answer from a peer that is not an actor: DISCONNECT.
//  The same, malformed (the frame ends after the header, so the body is
//  missing, or inside the corr): dropped.
static void
s_garbage_answer (storm_t *self)
{
    header_t header;
    s_routed_header (&header, (uint8_t) (FLOT_A_REPLY + rand () % 4));
    switch (rand () % 4) {
        case 0:
            s_send_message (self->sock, &header, NONE, 0);
            break;
        case 1:
            header.size -= 1 + (size_t) (rand () % 8);
            s_send_message (self->sock, &header, NONE, 0);
            break;
        default:
            s_send_message (self->sock, &header, (raw_t) { s_empty_map, 1 }, 0);
            self->disconnects_expected++;
            break;
    }
}

//  A READY that must be refused: a bad registration (also a missing body or
//  one that is not a map, which the codec rejects), the reserved service, or
//  more than one frame: DISCONNECT.
static void
s_garbage_ready (storm_t *self)
{
    static const uint8_t no_host [] = {     //  {"pid": 1}
        0x81, 0xa3, 'p', 'i', 'd', 0x01 };
    static const uint8_t bad_pid [] = {     //  {"host": "h", "pid": "x"}
        0x82, 0xa4, 'h', 'o', 's', 't', 0xa1, 'h', 0xa3, 'p', 'i', 'd', 0xa1, 'x' };
    static const uint8_t bad_keys [] = {    //  {"host": "h", "pid": 1, "keys": [""]}
        0x83, 0xa4, 'h', 'o', 's', 't', 0xa1, 'h', 0xa3, 'p', 'i', 'd', 0x01,
        0xa4, 'k', 'e', 'y', 's', 0x91, 0xa0 };
    static const uint8_t keys_not_array [] = {  //  {"host": "h", "pid": 1, "keys": 7}
        0x83, 0xa4, 'h', 'o', 's', 't', 0xa1, 'h', 0xa3, 'p', 'i', 'd', 0x01,
        0xa4, 'k', 'e', 'y', 's', 0x07 };
    static const uint8_t truncated [] = { 0x83, 0xa4, 'h', 'o' };
    static const uint8_t not_map [] = { 0x92, 0xa1, 'h', 0x01 };
    static const uint8_t valid [] = {       //  {"host": "h", "pid": 1}
        0x82, 0xa4, 'h', 'o', 's', 't', 0xa1, 'h', 0xa3, 'p', 'i', 'd', 0x01 };
    raw_t bodies [] = {
        { s_empty_map, 1 }, { no_host, sizeof no_host }, { bad_pid, sizeof bad_pid },
        { bad_keys, sizeof bad_keys }, { keys_not_array, sizeof keys_not_array },
        { truncated, sizeof truncated }, NONE, { not_map, sizeof not_map },
        { valid, sizeof valid }
    };
    int count = sizeof bodies / sizeof bodies [0];
    int pick = rand () % count;
    //  A valid body is refused only for the reserved service.
    header_t header;
    s_header_start (&header, NULL, FLOT_READY);
    s_put_string (&header, pick == count - 1 || rand () % 4 == 0
                           ? RAW ("broker") : RAW ("echo"));
    //  Sometimes with more frames after it, as no message may have.
    int extra = rand () % 4 == 0 ? 1 + rand () % 3 : 0;
    s_send_message (self->sock, &header, bodies [pick], extra);
    self->disconnects_expected++;
}

//  HEARTBEAT from a peer that is not an actor: DISCONNECT. The same with
//  bytes after its header (a HEARTBEAT has no body): dropped.
static void
s_garbage_heartbeat (storm_t *self)
{
    uint8_t after [8];
    s_random_bytes (after, sizeof after);
    after [0] = 0x80;           //  most like a body: {}
    header_t header;
    s_header_start (&header, NULL, FLOT_HEARTBEAT);
    if (rand () % 2) {
        raw_t body = { after, 1 + (size_t) (rand () % 8) };
        s_send_message (self->sock, &header, body, 0);
        return;
    }
    s_send_message (self->sock, &header, NONE, 0);
    self->disconnects_expected++;
}

//  Kinds only the broker sends, well formed: dropped.
static void
s_garbage_broker_kinds (storm_t *self)
{
    static const uint8_t kinds [] = {
        FLOT_REPLY, FLOT_ERROR, FLOT_STREAM, FLOT_STREAM_END };
    header_t header;
    int pick = rand () % 6;
    if (pick < 4) {
        uint8_t corr [8];
        s_random_bytes (corr, 8);
        s_header_start (&header, NULL, kinds [pick]);
        s_put (&header, corr, 8);
    }
    else
    if (pick == 4)
        s_routed_header (&header, FLOT_CANCEL);
    else {
        //  A DELIVER of 03: key, timeout, command, caller.
        s_routed_header (&header, FLOT_DELIVER);
        s_put_string (&header, RAW (""));
        s_put (&header, s_timeout_1s, 4);
        s_put_string (&header, RAW ("Echo"));
        s_put_string (&header, RAW ("mallory"));
    }
    s_send_message (self->sock, &header, (raw_t) { s_empty_map, 1 }, 0);
}

//  One malformed message of kind `which`; answers are accounted in self.
static void
s_one_garbage (storm_t *self, int which)
{
    switch (which) {
        case 0:  s_garbage_version (self); break;
        case 1:  s_garbage_shape (self); break;
        case 2:  s_garbage_field (self); break;
        case 3:  s_garbage_body (self); break;
        case 4:  s_garbage_random (self); break;
        case 5:  s_garbage_frames (self); break;
        case 6:  s_garbage_answer (self); break;
        case 7:  s_garbage_ready (self); break;
        case 8:  s_garbage_heartbeat (self); break;
        default: s_garbage_broker_kinds (self); break;
    }
}

//  A raw TCP connection that sends random bytes (after a ZMTP greeting,
//  sometimes) and closes.
static void
s_tcp_garbage (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0) {
        uint8_t buf [4096];
        size_t size = 64 + (size_t) (rand () % 4000);
        s_random_bytes (buf, size);
        if (rand () % 2) {
            //  ZMTP 3.0 greeting, NULL mechanism, then garbage frames.
            memset (buf, 0, 64);
            buf [0] = 0xff;
            buf [9] = 0x7f;
            buf [10] = 3;
            memcpy (buf + 12, "NULL", 4);
        }
        send (fd, buf, size, MSG_NOSIGNAL);
    }
    close (fd);
}

//  Sends one frame larger than FLOT_MAX_MESSAGE, random or a REQUEST with
//  a body that makes it so: the broker's ZeroMQ drops the connection (and
//  this DEALER reconnects by itself).
static void
s_oversize (zsock_t *sock, uint8_t *big, bool as_request)
{
    if (as_request) {
        header_t header;
        s_request_header (&header, &(request_t) { 0 }, 0);
        s_send_message (sock, &header,
                        (raw_t) { big, FLOT_MAX_MESSAGE + 1 - header.size }, 0);
    }
    else {
        raw_t frames [] = { { big, FLOT_MAX_MESSAGE + 1 } };
        s_send_raw (sock, frames, 1);
    }
}

//  A DEALER for raw messages; the broker's answers are kept until read.
static zsock_t *
s_raw_dealer (const char *endpoint)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    assert_non_null (sock);
    zsock_set_linger (sock, 0);
    zsock_set_sndhwm (sock, 200000);
    zsock_set_rcvhwm (sock, 200000);
    assert_int_equal (zsock_connect (sock, "%s", endpoint), 0);
    return sock;
}

//  The same as a CURVE client with the local keys (key 'local', admin).
static zsock_t *
s_raw_dealer_keyed (const char *endpoint)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    assert_non_null (sock);
    zsock_set_linger (sock, 0);
    proc_curve_apply (sock);
    assert_int_equal (zsock_connect (sock, "%s", endpoint), 0);
    return sock;
}

static void
test_garbage_does_not_hurt_broker (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT);
    //  --insecure: the storm is FLOT frames from raw sockets, which CURVE
    //  would only wrap (test_curve_endpoint_survives_hostile_handshakes
    //  covers the CURVE layer).
    flot_client_t *client;
    proc_t *daemon = proc_serve ("storm", endpoint, &client, "--insecure",
                                 "--actors", "echo", NULL);
    proc_wait_unnamed (client, daemon, "echo");

    pinger_t pinger = { .endpoint = endpoint };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_pinger, &pinger), 0);

    s_seed ("garbage");
    storm_t *storm = calloc (1, sizeof *storm);
    assert_non_null (storm);
    storm->sock = s_raw_dealer (endpoint);
    storm->first_corr = storm->next_corr = 0xbad0000000000000ULL;
    zsock_t *oversize = s_raw_dealer (endpoint);
    uint8_t *big = calloc (1, FLOT_MAX_MESSAGE + 1);
    assert_non_null (big);
    big [0] = 0x80;

    usleep (200 * 1000);
    int pings_before = pinger.pings;
    int64_t started = proc_now ();
    int tcp_connections = 0, oversized = 0;
    for (int i = 0; i < STORM_MESSAGES; i++) {
        s_one_garbage (storm, rand () % 10);
        if (i % 100 == 0) {
            s_tcp_garbage (PORT);
            tcp_connections++;
        }
        if (i % 1000 == 500) {
            s_oversize (oversize, big, oversized % 2);
            oversized++;
        }
        if (i % 20 == 0)
            s_storm_drain (storm, 0);
        //  Spread the storm over a second or so of pings.
        if (i % 50 == 0)
            usleep (10000);
    }
    //  And a request body just over 1 MiB: under ZMQ_MAXMSGSIZE, so the
    //  codec sees it and answers TOO_LARGE.
    s_request (storm, &(request_t) {
        .expected = FLOT_E_TOO_LARGE, .text = "the limit is",
        .body = { big, FLOT_MAX_BODY + 1 } });
    int64_t storm_ms = proc_now () - started;
    int pings_during = pinger.pings - pings_before;
    //  Every answer is in within a second or so.
    int64_t until = proc_now () + 3000;
    int missing, missing_code = 0;
    do {
        s_storm_drain (storm, 100);
        missing = 0;
        for (uint64_t c = 0; c < storm->next_corr - storm->first_corr; c++)
            if (storm->expected_code [c] && !storm->answered [c]) {
                missing_code = storm->expected_code [c];
                missing++;
            }
    } while ((missing || storm->disconnects < storm->disconnects_expected)
          && proc_now () < until);
    usleep (300 * 1000);        //  the pinger goes on for a while after
    atomic_store (&pinger.stop, true);
    pthread_join (thread, NULL);

    int errors_expected = 0, errors = 0;
    for (uint64_t c = 0; c < storm->next_corr - storm->first_corr; c++) {
        errors_expected += storm->expected_code [c] != 0;
        errors += storm->answered [c];
    }
    print_message ("storm: %d messages, %d TCP connections, %d oversized frames "
                   "in %lld ms; %d of %d ERRORs and %d of %d DISCONNECTs back; "
                   "%d pings during it, %d in all (worst %lld ms), %d failed\n",
                   STORM_MESSAGES, tcp_connections, oversized, (long long) storm_ms,
                   errors, errors_expected, storm->disconnects,
                   storm->disconnects_expected, pings_during, pinger.pings,
                   (long long) pinger.worst_ms, pinger.failures);
    if (pinger.failures)
        fail_msg ("%d pings failed during the storm, last: %s",
                  pinger.failures, pinger.last_error);
    //  A ping every 50 ms, each answered at once: most of the slots are used.
    assert_true (pings_during >= storm_ms / PING_EVERY_MS / 2);
    assert_true (pinger.worst_ms < 500);
    if (storm->unexpected)
        fail_msg ("%d unexpected answers; first: %s", storm->unexpected,
                  storm->first_problem);
    if (missing)
        fail_msg ("%d addressable bad requests got no ERROR (one expected %s)",
                  missing, flot_err_name (missing_code));
    assert_int_equal (storm->disconnects, storm->disconnects_expected);

    //  Bad requests one at a time, each answered once with its corr and the
    //  decoder's reason: the smallest addressable frame (signature, kind,
    //  corr) and nothing else; the previous version, cut so, without a body
    //  and with one; a frame that ends after the header; bytes between the
    //  header and the body; two frames, also when the first is cut; and a
    //  FLOT01 REQUEST as a FLOT01 client sends it, a header frame and a body
    //  frame, which hears which version to speak.
    static const uint8_t zero = 0;
    request_t singles [] = {
        { .expected = FLOT_E_MALFORMED, .cut = ADDRESSABLE_SIZE,
          .text = "ends inside the service" },
        { .expected = FLOT_E_VERSION, .signature = OLD_SIGNATURE, .cut = ADDRESSABLE_SIZE,
          .text = "version 01 is not supported" },
        { .expected = FLOT_E_VERSION, .signature = OLD_SIGNATURE, .no_body = true,
          .text = "version 01 is not supported" },
        { .expected = FLOT_E_VERSION, .signature = OLD_SIGNATURE,
          .text = "version 01 is not supported" },
        { .expected = FLOT_E_MALFORMED, .no_body = true, .text = "the body is missing" },
        { .expected = FLOT_E_MALFORMED, .tail = { &zero, 1 },
          .text = "body must be a msgpack map" },
        { .expected = FLOT_E_TOO_LARGE, .extra_frames = 1, .text = "more than one frame" },
        { .expected = FLOT_E_TOO_LARGE, .cut = ADDRESSABLE_SIZE, .extra_frames = 1,
          .text = "more than one frame" },
        { .expected = FLOT_E_VERSION, .signature = OLD_SIGNATURE, .no_body = true,
          .extra_frames = 1, .text = "version 01 is not supported" },
    };
    for (size_t i = 0; i < sizeof singles / sizeof singles [0]; i++) {
        uint64_t corr = s_request (storm, &singles [i]);
        int64_t deadline = proc_now () + 2000;
        while (!storm->answered [corr - storm->first_corr] && proc_now () < deadline)
            s_storm_drain (storm, 100);
        if (storm->answered [corr - storm->first_corr] != 1)
            fail_msg ("bad request %zu (expecting %s) got %d answers", i,
                      flot_err_name (singles [i].expected),
                      storm->answered [corr - storm->first_corr]);
        if (storm->unexpected)
            fail_msg ("bad request %zu: %s", i, storm->first_problem);
    }
    //  Frames that show no corr are not answered at all: an empty frame, the
    //  signature alone, a REQUEST that ends inside its corr. Nor is a
    //  HEARTBEAT with a body (a HEARTBEAT has none), though a well-formed
    //  one from this peer gets DISCONNECT.
    int disconnects = storm->disconnects;
    header_t header;
    s_send_raw (storm->sock, &RAW (""), 1);
    s_request (storm, &(request_t) { .cut = FLOT_SIGNATURE_SIZE });
    s_request (storm, &(request_t) { .cut = ADDRESSABLE_SIZE - 1 });
    s_header_start (&header, NULL, FLOT_HEARTBEAT);
    s_send_message (storm->sock, &header, (raw_t) { s_empty_map, 1 }, 0);
    s_storm_drain (storm, 300);
    if (storm->unexpected)
        fail_msg ("%d unexpected answers; first: %s", storm->unexpected,
                  storm->first_problem);
    assert_int_equal (storm->disconnects, disconnects);

    //  The connection that sent oversized frames was dropped each time and
    //  came back: its oversized request went unanswered, a Ping (one frame,
    //  written by hand) is answered with one frame: the 15-byte REPLY
    //  header, then the body {"pong": true} to the end of the frame.
    s_request_header (&header, &(request_t) {
        .service = RAW ("broker"), .command = RAW ("Ping") }, 77);
    uint8_t ping [64];
    assert_true (header.size < sizeof ping);
    memcpy (ping, header.data, header.size);
    ping [header.size] = 0x80;
    zsock_set_sndtimeo (oversize, 2000);
    assert_int_equal (zmq_send (zsock_resolve (oversize), ping, header.size + 1, 0),
                      (int) header.size + 1);
    zsock_set_rcvtimeo (oversize, 2000);
    zmsg_t *pong = zmsg_recv (oversize);
    assert_non_null (pong);
    assert_int_equal (zmsg_size (pong), 1);
    zframe_t *frame = zmsg_first (pong);
    flot_bytes_t frames [1] = { { zframe_data (frame), zframe_size (frame) } };
    flot_msg_t answer;
    flot_err_t err = { 0 };
    if (flot_msg_decode (&answer, frames, 1, &err))
        fail_msg ("the answer to Ping does not decode: %s", err.message);
    assert_int_equal (answer.kind, FLOT_REPLY);
    assert_true (answer.corr == 77);
    assert_true (answer.body.data == frames [0].data + ADDRESSABLE_SIZE);
    assert_int_equal (answer.body.size, frames [0].size - ADDRESSABLE_SIZE);
    json_t *body = proc_body_json (answer.body.data, answer.body.size);
    assert_non_null (body);
    assert_true (json_is_true (json_object_get (body, "pong")));
    json_decref (body);
    zmsg_destroy (&pong);

    //  The broker is alive, serves, and registered nothing from the storm.
    assert_true (proc_alive (daemon));
    json_t *reply = proc_call (client, "echo", NULL, "Echo", "{\"after\": \"storm\"}",
                               2000, NULL);
    assert_non_null (reply);
    assert_string_equal (json_string_value (json_object_get (reply, "after")), "storm");
    json_decref (reply);
    reply = proc_call (client, "broker", NULL, "Actors", NULL, 1000, NULL);
    assert_non_null (reply);
    assert_int_equal (json_array_size (json_object_get (reply, "actors")), 1);
    json_decref (reply);

    zsock_destroy (&storm->sock);
    zsock_destroy (&oversize);
    free (big);
    free (storm);
    flot_client_destroy (&client);
}

//  --------------------------------------------------------------------------
//  Protocol versions (SPEC section 13)

//  Fails unless bytes are text.
static void
s_assert_text (flot_bytes_t bytes, const char *text)
{
    if (bytes.size != strlen (text) || (bytes.size && memcmp (bytes.data, text, bytes.size)))
        fail_msg ("'%.*s' is not '%s'", (int) bytes.size,
                  bytes.data ? (const char *) bytes.data : "", text);
}

//  The next message on a raw socket before until (proc_now's clock), decoded
//  into *answer, whose views point into the message (caller zmsg_destroy's);
//  NULL if none came by then. Fails, saying what was awaited, if it is not
//  one frame or does not decode.
static zmsg_t *
s_next_msg (zsock_t *sock, int64_t until, flot_msg_t *answer, const char *awaited)
{
    int64_t left = until - proc_now ();
    zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
    if (left <= 0 || zmq_poll (&item, 1, left) != 1)
        return NULL;
    zmsg_t *msg = zmsg_recv (sock);
    assert_non_null (msg);
    if (zmsg_size (msg) != 1)
        fail_msg ("%s: a message of %zu frames came", awaited, zmsg_size (msg));
    zframe_t *frame = zmsg_first (msg);
    flot_bytes_t frames [1] = { { zframe_data (frame), zframe_size (frame) } };
    flot_err_t err = { 0 };
    if (flot_msg_decode (answer, frames, 1, &err))
        fail_msg ("%s: a message that does not decode came: %s", awaited, err.message);
    return msg;
}

//  The next message on a raw socket, up to 2 s, HEARTBEATs aside (each is
//  answered with one in its version, so that a raw actor stays alive): one
//  frame that decodes, of kind, and of version unless that is 0. Returns
//  the message, into which *answer's views point (caller zmsg_destroy's).
static zmsg_t *
s_expect_msg (zsock_t *sock, int kind, int version, flot_msg_t *answer)
{
    int64_t until = proc_now () + 2000;
    while (true) {
        zmsg_t *msg = s_next_msg (sock, until, answer, flot_kind_name (kind));
        if (!msg)
            fail_msg ("expected %s, nothing came", flot_kind_name (kind));
        if (answer->kind == FLOT_HEARTBEAT && kind != FLOT_HEARTBEAT) {
            flot_msg_t beat = { .kind = FLOT_HEARTBEAT, .version = answer->version };
            flot_msg_send (&beat, zsock_resolve (sock), NULL, true);
            zmsg_destroy (&msg);
            continue;
        }
        if (answer->kind != kind)
            fail_msg ("expected %s, got %s", flot_kind_name (kind),
                      flot_kind_name (answer->kind));
        if (version && answer->version != version)
            fail_msg ("expected %s in version %02d, got it in %02d",
                      flot_kind_name (kind), version, answer->version);
        return msg;
    }
}

//  The next message on a raw socket, as s_expect_msg in any version;
//  returns its body as JSON (caller json_decref's).
static json_t *
s_expect_kind (zsock_t *sock, int kind, uint64_t *corr)
{
    flot_msg_t answer;
    zmsg_t *msg = s_expect_msg (sock, kind, 0, &answer);
    if (corr)
        *corr = answer.corr;
    json_t *body = proc_body_json (answer.body.data, answer.body.size);
    assert_non_null (body);
    zmsg_destroy (&msg);
    return body;
}

//  Sends READY for service with a JSON body, under signature (NULL:
//  FLOT_SIGNATURE), and with `extra` frames after it.
static void
s_send_ready_json (zsock_t *sock, const char *signature, const char *service,
                   const char *json, int extra)
{
    header_t header;
    s_header_start (&header, signature, FLOT_READY);
    s_put_string (&header, (raw_t) { service, strlen (service) });
    msgpack_sbuffer sbuf;
    proc_pack_json (&sbuf, json);
    assert_int_equal (s_send_message (sock, &header,
                                      (raw_t) { sbuf.data, sbuf.size }, extra), 0);
    msgpack_sbuffer_destroy (&sbuf);
}

//  A READY as a FLOT01 actor sends it: a header frame, then the body frame.
static void
s_send_ready_flot01 (zsock_t *sock, const char *json)
{
    header_t header;
    s_header_start (&header, OLD_SIGNATURE, FLOT_READY);
    s_put_string (&header, RAW ("old"));
    msgpack_sbuffer sbuf;
    proc_pack_json (&sbuf, json);
    raw_t frames [] = { { header.data, header.size }, { sbuf.data, sbuf.size } };
    assert_int_equal (s_send_raw (sock, frames, 2), 0);
    msgpack_sbuffer_destroy (&sbuf);
}

//  The DISCONNECT that refuses a peer of no version the broker speaks: the
//  sentence, and the versions the broker speaks, [2, 3].
static void
s_expect_version_refusal (zsock_t *sock, const char *reason)
{
    json_t *body = s_expect_kind (sock, FLOT_DISCONNECT, NULL);
    const char *said = json_string_value (json_object_get (body, "reason"));
    assert_non_null (said);
    if (strneq (said, reason))
        fail_msg ("DISCONNECT says '%s', expected '%s'", said, reason);
    json_t *versions = json_object_get (body, "versions");
    assert_int_equal (json_array_size (versions), 2);
    assert_int_equal (json_integer_value (json_array_get (versions, 0)), FLOT_VERSION_OLDEST);
    assert_int_equal (json_integer_value (json_array_get (versions, 1)), FLOT_VERSION);
    json_decref (body);
}

//  A DISCONNECT whose reason holds text.
static void
s_expect_disconnect (zsock_t *sock, const char *text)
{
    json_t *body = s_expect_kind (sock, FLOT_DISCONNECT, NULL);
    const char *said = json_string_value (json_object_get (body, "reason"));
    assert_non_null (said);
    if (!strstr (said, text))
        fail_msg ("DISCONNECT says '%s', expected it to hold '%s'", said, text);
    json_decref (body);
}

//  True if the JSON array holds exactly the integers of list (count of them).
static bool
s_json_uints (const json_t *array, const long long *list, size_t count)
{
    if (!json_is_array (array) || json_array_size (array) != count)
        return false;
    for (size_t i = 0; i < count; i++)
        if (json_integer_value (json_array_get (array, i)) != list [i])
            return false;
    return true;
}

//  Sends a REQUEST written by hand under signature to service/command with
//  the body {} and corr.
static void
s_send_request (zsock_t *sock, const char *signature, const char *service,
                const char *command, uint64_t corr)
{
    header_t header;
    s_request_header (&header, &(request_t) {
        .signature = signature, .service = { service, strlen (service) },
        .command = { command, strlen (command) } }, corr);
    assert_int_equal (s_send_message (sock, &header, (raw_t) { s_empty_map, 1 }, 0), 0);
}

//  A raw actor of service (keyed: over CURVE with the local keys),
//  registered with a FLOT02 READY (as Flotilla's actors write it)
//  announcing versions (JSON, NULL: none), answers one
//  Echo a client sends through the broker: it must be delivered in version,
//  with the caller caller in 03 (none in 02), and the client gets the body
//  back in the version of its REQUEST.
static void
s_deliver_in (const char *endpoint, flot_client_t *client, bool keyed, const char *service,
              const char *versions, int version, const char *caller)
{
    zsock_t *actor = keyed ? s_raw_dealer_keyed (endpoint) : s_raw_dealer (endpoint);
    char json [256];
    snprintf (json, sizeof json, "{\"instance\": \"%s-1\", \"host\": \"h\", \"pid\": 1%s%s}",
              service, versions ? ", \"versions\": " : "", versions ? versions : "");
    s_send_ready_json (actor, "FLOT02", service, json, 0);
    char instance [80];
    snprintf (instance, sizeof instance, "%s-1", service);
    json_t *entry = proc_wait_actor (client, service, instance, NULL, 2000);
    if (!entry)
        fail_msg ("the raw actor %s did not register", service);
    if (proc_json_int (entry, "protocol") != version)
        fail_msg ("the raw actor %s (versions %s) is delivered to in %lld, expected %d",
                  service, versions ? versions : "not given",
                  proc_json_int (entry, "protocol"), version);
    json_decref (entry);

    msgpack_sbuffer sbuf;
    proc_pack_json (&sbuf, "{\"hello\": \"raw\"}");
    flot_err_t err = { 0 };
    uint64_t corr = flot_client_send (client, service, NULL, "Echo", sbuf.data, sbuf.size,
                                      2000, &err);
    assert_true (corr != 0);
    flot_msg_t deliver;
    zmsg_t *msg = s_expect_msg (actor, FLOT_DELIVER, version, &deliver);
    s_assert_text (deliver.command, "Echo");
    s_assert_text (deliver.caller, version >= 3 ? caller : "");
    assert_int_equal (deliver.body.size, sbuf.size);
    assert_memory_equal (deliver.body.data, sbuf.data, sbuf.size);
    //  A_REPLY in the version it was delivered in.
    header_t header;
    char signature [8];
    snprintf (signature, sizeof signature, "FLOT%02d", version);
    s_header_start (&header, signature, FLOT_A_REPLY);
    s_put_string (&header, (raw_t) { deliver.route.data, deliver.route.size });
    s_put_corr (&header, deliver.corr);
    assert_int_equal (s_send_message (actor, &header, (raw_t) { sbuf.data, sbuf.size }, 0), 0);
    zmsg_destroy (&msg);
    flot_reply_t reply;
    if (proc_recv_for (client, corr, &reply, 2000))
        fail_msg ("no answer through the raw actor %s", service);
    assert_int_equal (reply.kind, FLOT_REPLY);
    assert_int_equal (zframe_size (reply.body), sbuf.size);
    assert_memory_equal (zframe_data (reply.body), sbuf.data, sbuf.size);
    flot_reply_clear (&reply);
    msgpack_sbuffer_destroy (&sbuf);
    //  It leaves: the broker forgets it at once.
    static const uint8_t leaving [] = {       //  {"reason": "done"}
        0x81, 0xa6, 'r', 'e', 'a', 's', 'o', 'n', 0xa4, 'd', 'o', 'n', 'e' };
    s_header_start (&header, signature, FLOT_DISCONNECT);
    assert_int_equal (s_send_message (actor, &header,
                                      (raw_t) { leaving, sizeof leaving }, 0), 0);
    int64_t until = proc_now () + 2000;
    while ((entry = proc_find_actor (client, service, instance)) && proc_now () < until) {
        json_decref (entry);
        usleep (10 * 1000);
    }
    if (entry)
        fail_msg ("the raw actor %s is still listed after its DISCONNECT", service);
    zsock_destroy (&actor);
}

static void
test_broker_announces_and_checks_versions (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 30);
    //  --insecure: this is FLOT's own version negotiation, from raw sockets.
    flot_client_t *client;
    proc_t *daemon = proc_serve ("versions", endpoint, &client, "--insecure",
                                 "--actors", "echo", NULL);
    static const long long v3 [] = { 3 };
    static const long long v23 [] = { 2, 3 };
    static const long long v12 [] = { 1, 2 };

    //  Ping says which versions the broker speaks, the one it prefers, and
    //  its heartbeat interval and liveness.
    json_t *pong = proc_call (client, "broker", NULL, "Ping", NULL, 1000, NULL);
    assert_non_null (pong);
    assert_true (json_is_true (json_object_get (pong, "pong")));
    assert_true (s_json_uints (json_object_get (pong, "versions"), v23, 2));
    assert_int_equal (proc_json_int (pong, "protocol"), FLOT_VERSION);
    assert_int_equal (proc_json_int (pong, "heartbeat_ms"), PROC_HEARTBEAT_MS);
    assert_int_equal (proc_json_int (pong, "liveness"), PROC_LIVENESS);
    json_decref (pong);

    //  The echo actor announced [2, 3] and is delivered to in 3.
    char instance [64];
    snprintf (instance, sizeof instance, "echo-%d", (int) proc_pid (daemon));
    json_t *entry = proc_wait_actor (client, "echo", instance, daemon, 5000);
    assert_non_null (entry);
    assert_true (s_json_uints (json_object_get (entry, "versions"), v23, 2));
    assert_int_equal (proc_json_int (entry, "protocol"), 3);
    json_decref (entry);

    //  Each client is answered in the version of its REQUEST: a FLOT02
    //  client's Ping, Echo (through the actor) and malformed request in 02,
    //  a FLOT03 client's in 03; a client that moves to 03 is answered in
    //  03 from then on.
    zsock_t *old = s_raw_dealer (endpoint);
    zsock_t *new = s_raw_dealer (endpoint);
    flot_msg_t answer;
    s_send_request (old, "FLOT02", "broker", "Ping", 21);
    zmsg_t *msg = s_expect_msg (old, FLOT_REPLY, 2, &answer);
    assert_true (answer.corr == 21);
    assert_memory_equal (zframe_data (zmsg_first (msg)), "FLOT02", 6);
    zmsg_destroy (&msg);
    s_send_request (new, "FLOT03", "broker", "Ping", 22);
    msg = s_expect_msg (new, FLOT_REPLY, 3, &answer);
    assert_true (answer.corr == 22);
    assert_memory_equal (zframe_data (zmsg_first (msg)), "FLOT03", 6);
    zmsg_destroy (&msg);
    s_send_request (old, "FLOT02", "echo", "Echo", 23);
    msg = s_expect_msg (old, FLOT_REPLY, 2, &answer);
    assert_true (answer.corr == 23);
    zmsg_destroy (&msg);
    header_t header;
    s_request_header (&header, &(request_t) { .signature = "FLOT02" }, 24);
    assert_int_equal (s_send_message (old, &header, NONE, 0), 0);
    msg = s_expect_msg (old, FLOT_ERROR, 2, &answer);
    assert_true (answer.corr == 24);
    json_t *error = proc_body_json (answer.body.data, answer.body.size);
    assert_int_equal (proc_json_int (error, "code"), FLOT_E_MALFORMED);
    json_decref (error);
    zmsg_destroy (&msg);
    s_send_request (old, "FLOT03", "broker", "Ping", 25);
    msg = s_expect_msg (old, FLOT_REPLY, 3, &answer);
    assert_true (answer.corr == 25);
    zmsg_destroy (&msg);
    //  A REQUEST of a version the broker does not speak, from a new peer:
    //  ERROR VERSION in the broker's preferred version, with the sentence.
    zsock_t *newer = s_raw_dealer (endpoint);
    s_send_request (newer, "FLOT04", "broker", "Ping", 26);
    msg = s_expect_msg (newer, FLOT_ERROR, FLOT_VERSION, &answer);
    assert_true (answer.corr == 26);
    error = proc_body_json (answer.body.data, answer.body.size);
    assert_int_equal (proc_json_int (error, "code"), FLOT_E_VERSION);
    assert_string_equal (json_string_value (json_object_get (error, "message")),
                         "protocol version 04 is not supported, this broker speaks 02, 03");
    json_decref (error);
    zmsg_destroy (&msg);
    zsock_destroy (&newer);
    zsock_destroy (&new);
    zsock_destroy (&old);

    //  Each actor is delivered to in the newest version it announced: in 03
    //  with the caller (none: this broker has no keys), in 02 without; a
    //  READY of 02 that announces nothing speaks 02, its signature's.
    s_deliver_in (endpoint, client, false, "raw23", "[2, 3]", 3, "");
    s_deliver_in (endpoint, client, false, "raw2", "[2]", 2, "");
    s_deliver_in (endpoint, client, false, "raw2bare", NULL, 2, "");

    //  A FLOT02 READY that announces only the previous version: DISCONNECT
    //  with the sentence, and nothing registered.
    zsock_t *peer = s_raw_dealer (endpoint);
    s_send_ready_json (peer, "FLOT02", "old",
        "{\"instance\": \"old-1\", \"host\": \"h\", \"pid\": 1, \"versions\": [1]}", 0);
    s_expect_version_refusal (peer,
        "protocol version 01 is not supported, this broker speaks 02, 03");
    s_send_ready_json (peer, NULL, "old",
        "{\"instance\": \"old-1\", \"host\": \"h\", \"pid\": 1, \"versions\": [1, 4]}", 0);
    s_expect_version_refusal (peer,
        "protocol versions 01, 04 are not supported, this broker speaks 02, 03");
    entry = proc_find_actor (client, "old", "old-1");
    assert_null (entry);

    //  A FLOT01 READY, in one frame or as FLOT01 sent it (two): the same;
    //  and a FLOT04 one.
    s_send_ready_json (peer, OLD_SIGNATURE, "old",
        "{\"instance\": \"old-1\", \"host\": \"h\", \"pid\": 1}", 0);
    s_expect_version_refusal (peer,
        "protocol version 01 is not supported, this broker speaks 02, 03");
    s_send_ready_flot01 (peer, "{\"instance\": \"old-1\", \"host\": \"h\", \"pid\": 1}");
    s_expect_version_refusal (peer,
        "protocol version 01 is not supported, this broker speaks 02, 03");
    s_send_ready_json (peer, "FLOT04", "old",
        "{\"instance\": \"old-1\", \"host\": \"h\", \"pid\": 1, \"versions\": [4]}", 0);
    s_expect_version_refusal (peer,
        "protocol version 04 is not supported, this broker speaks 02, 03");

    //  A FLOT01 REQUEST: ERROR VERSION with its corr and the same sentence.
    s_request_header (&header, &(request_t) {
        .signature = OLD_SIGNATURE, .service = RAW ("broker"), .command = RAW ("Ping") }, 91);
    assert_int_equal (s_send_message (peer, &header, (raw_t) { s_empty_map, 1 }, 0), 0);
    uint64_t corr = 0;
    error = s_expect_kind (peer, FLOT_ERROR, &corr);
    assert_true (corr == 91);
    assert_int_equal (proc_json_int (error, "code"), FLOT_E_VERSION);
    assert_string_equal (json_string_value (json_object_get (error, "message")),
                         "protocol version 01 is not supported, this broker speaks 02, 03");
    json_decref (error);

    //  versions that are not versions (1 to 16 of them, each 1..99):
    //  DISCONNECT, with the contract codec's INVALID sentence.
    s_send_ready_json (peer, NULL, "old", "{\"host\": \"h\", \"pid\": 1, \"versions\": []}", 0);
    s_expect_disconnect (peer, "field 'versions' has 0 items, expected 1..16");
    s_send_ready_json (peer, NULL, "old", "{\"host\": \"h\", \"pid\": 1, \"versions\": "
                      "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]}", 0);
    s_expect_disconnect (peer, "field 'versions' has 17 items, expected 1..16");
    s_send_ready_json (peer, NULL, "old", "{\"host\": \"h\", \"pid\": 1, \"versions\": [0]}", 0);
    s_expect_disconnect (peer, "field 'versions[0]': 0 is not in 1..99");
    s_send_ready_json (peer, NULL, "old", "{\"host\": \"h\", \"pid\": 1, \"versions\": [100]}", 0);
    s_expect_disconnect (peer, "field 'versions[0]': 100 is not in 1..99");
    s_send_ready_json (peer, NULL, "old",
                      "{\"host\": \"h\", \"pid\": 1, \"versions\": [2, \"3\"]}", 0);
    s_expect_disconnect (peer, "field 'versions[1]' is a string, expected an integer in 1..99");
    s_send_ready_json (peer, NULL, "old", "{\"host\": \"h\", \"pid\": 1, \"versions\": 2}", 0);
    s_expect_disconnect (peer, "field 'versions' is a positive integer, expected an array");
    //  Keys: printable ASCII, which the contract cannot say.
    s_send_ready_json (peer, NULL, "old",
                      "{\"host\": \"h\", \"pid\": 1, \"keys\": [\"eu-1\", \"a b\"]}", 0);
    s_expect_disconnect (peer, "field 'keys[1]' must be printable ASCII");
    //  A key given twice (SPEC 3.2), written by hand: JSON cannot say it.
    static const uint8_t twice [] = {       //  {"host": "h", "pid": 1, "host": "i"}
        0x83, 0xa4, 'h', 'o', 's', 't', 0xa1, 'h', 0xa3, 'p', 'i', 'd', 0x01,
        0xa4, 'h', 'o', 's', 't', 0xa1, 'i' };
    s_header_start (&header, NULL, FLOT_READY);
    s_put_string (&header, RAW ("old"));
    assert_int_equal (s_send_message (peer, &header, (raw_t) { twice, sizeof twice }, 0), 0);
    s_expect_disconnect (peer, "field 'host' is given twice");
    json_t *reply = proc_call (client, "broker", NULL, "Actors", NULL, 1000, NULL);
    assert_non_null (reply);
    assert_int_equal (json_array_size (json_object_get (reply, "actors")), 1);
    json_decref (reply);

    //  A peer that speaks 1 and 2 is registered and delivered to in 2; with
    //  no versions, in the signature's (03 here); then, announcing only 1 in
    //  a new READY, it is removed with the refusal.
    s_send_ready_json (peer, NULL, "old",
        "{\"instance\": \"old-1\", \"host\": \"h\", \"pid\": 1, \"versions\": [1, 2]}", 0);
    entry = proc_wait_actor (client, "old", "old-1", NULL, 2000);
    assert_non_null (entry);
    assert_true (s_json_uints (json_object_get (entry, "versions"), v12, 2));
    assert_int_equal (proc_json_int (entry, "protocol"), 2);
    json_decref (entry);
    zsock_t *plain = s_raw_dealer (endpoint);
    s_send_ready_json (plain, NULL, "old",
                      "{\"instance\": \"old-2\", \"host\": \"h\", \"pid\": 2}", 0);
    entry = proc_wait_actor (client, "old", "old-2", NULL, 2000);
    assert_non_null (entry);
    assert_true (s_json_uints (json_object_get (entry, "versions"), v3, 1));
    assert_int_equal (proc_json_int (entry, "protocol"), 3);
    json_decref (entry);
    s_send_ready_json (peer, NULL, "old",
        "{\"instance\": \"old-1\", \"host\": \"h\", \"pid\": 1, \"versions\": [1]}", 0);
    //  The heartbeat the broker sent while it was registered may come first.
    json_t *body;
    while (true) {
        flot_msg_t answer;
        zmsg_t *msg = s_next_msg (peer, proc_now () + 2000, &answer, "DISCONNECT");
        assert_non_null (msg);
        body = answer.kind == FLOT_DISCONNECT
             ? proc_body_json (answer.body.data, answer.body.size) : NULL;
        zmsg_destroy (&msg);
        if (answer.kind == FLOT_DISCONNECT)
            break;
        assert_int_equal (answer.kind, FLOT_HEARTBEAT);
    }
    assert_non_null (body);
    assert_string_equal (json_string_value (json_object_get (body, "reason")),
                         "protocol version 01 is not supported, this broker speaks 02, 03");
    json_decref (body);
    assert_null (proc_find_actor (client, "old", "old-1"));
    entry = proc_find_actor (client, "old", "old-2");
    assert_non_null (entry);
    json_decref (entry);

    zsock_destroy (&plain);
    zsock_destroy (&peer);
    flot_client_destroy (&client);
    assert_int_equal (proc_stop (daemon, 5000), 0);
}

//  --------------------------------------------------------------------------
//  A CURVE endpoint under attack (SPEC section 14.1)
//
//  flotillad with keys: its tcp endpoint is a CURVE server, and libzmq
//  drops every handshake that is not a good one from an allowed key before
//  any byte reaches the broker. These tests prove what a user depends on:
//  the process survives all of it, drops such peers, and goes on serving a
//  keyed client meanwhile.

#define CURVE_ROUNDS 4

//  A raw TCP connection to port on loopback.
static int
s_tcp_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (connect (fd, (struct sockaddr *) &addr, sizeof addr))
        fail_msg ("cannot connect to port %d: %s", port, strerror (errno));
    return fd;
}

//  Sends bytes on a new raw TCP connection (as many as the peer takes
//  before it closes), then reads what comes back for up to 3 s. Returns
//  true if the peer closed the connection (end of stream or reset), false
//  if it still held it then.
static bool
s_tcp_send_until_closed (int port, const uint8_t *bytes, size_t size)
{
    int fd = s_tcp_connect (port);
    if (send (fd, bytes, size, MSG_NOSIGNAL) < 0 && errno != EPIPE && errno != ECONNRESET)
        fail_msg ("cannot send to port %d: %s", port, strerror (errno));
    bool closed = false;
    int64_t until = proc_now () + 3000;
    uint8_t buffer [1024];
    while (!closed && proc_now () < until) {
        struct pollfd item = { fd, POLLIN, 0 };
        if (poll (&item, 1, 50) <= 0)
            continue;
        ssize_t got = recv (fd, buffer, sizeof buffer, 0);
        closed = got == 0 || (got < 0 && errno == ECONNRESET);
    }
    close (fd);
    return closed;
}

//  A ZMTP 3.0 greeting (RFC 23) of a client announcing mechanism; returns
//  its size, 64.
static size_t
s_zmtp_greeting (uint8_t *buffer, const char *mechanism, uint8_t major)
{
    memset (buffer, 0, 64);
    buffer [0] = 0xff;
    buffer [9] = 0x7f;
    buffer [10] = major;
    memcpy (buffer + 12, mechanism, strlen (mechanism));
    return 64;
}

//  A ZMTP command frame: flags 0x04 and a size byte, the name (a length
//  byte and the name), then size bytes of data. Returns its size.
static size_t
s_zmtp_command (uint8_t *buffer, const char *name, const uint8_t *data, size_t size)
{
    size_t name_size = strlen (name);
    assert_true (1 + name_size + size <= 255);
    buffer [0] = 0x04;
    buffer [1] = (uint8_t) (1 + name_size + size);
    buffer [2] = (uint8_t) name_size;
    memcpy (buffer + 3, name, name_size);
    if (size)
        memcpy (buffer + 3 + name_size, data, size);
    return 3 + name_size + size;
}

//  The malformed CURVE handshakes: a greeting announcing CURVE, then
//  something that is not a good HELLO (RFC 26: a 200-byte command, version
//  1.0, 72 bytes of padding, a transient key, a nonce and a box).
#define BAD_HELLOS 8

static size_t
s_bad_hello (uint8_t *buffer, int which)
{
    size_t size = s_zmtp_greeting (buffer, "CURVE", 3);
    uint8_t data [256];
    s_random_bytes (data, sizeof data);
    switch (which) {
        case 0:         //  a HELLO of 100 bytes, not 200
            return size + s_zmtp_command (buffer + size, "HELLO", data, 100 - 6);
        case 1:         //  200 bytes, version 1.0, but the key and box are garbage
            data [0] = 1;
            data [1] = 0;
            memset (data + 2, 0, 72);
            return size + s_zmtp_command (buffer + size, "HELLO", data, 200 - 6);
        case 2:         //  version 2.0
            data [0] = 2;
            data [1] = 0;
            return size + s_zmtp_command (buffer + size, "HELLO", data, 200 - 6);
        case 3:         //  a HELLO of 249 bytes
            return size + s_zmtp_command (buffer + size, "HELLO", data, 249 - 6);
        case 4: {       //  READY before any HELLO
            static const uint8_t socket_type [] = {
                11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e',
                0, 0, 0, 6, 'D', 'E', 'A', 'L', 'E', 'R' };
            return size + s_zmtp_command (buffer + size, "READY", socket_type,
                                          sizeof socket_type);
        }
        case 5:         //  a long command frame claiming 2^63 bytes
            buffer [size] = 0x06;
            memset (buffer + size + 1, 0xff, 8);
            buffer [size + 1] = 0x7f;
            memcpy (buffer + size + 9, data, 64);
            return size + 9 + 64;
        case 6:         //  a message frame, not a command
            buffer [size] = 0x00;
            buffer [size + 1] = 100;
            memcpy (buffer + size + 2, data, 100);
            return size + 2 + 100;
        default:        //  the greeting of ZMTP 2.0, which has no CURVE, and garbage
            buffer [10] = 1;
            memcpy (buffer + size, data, 128);
            return size + 128;
    }
}

//  A client of ZMTP 3.0 with the NULL mechanism, as a plain DEALER: its
//  greeting, READY (Socket-Type DEALER), then a FLOT Ping as a message.
static size_t
s_null_mechanism (uint8_t *buffer)
{
    size_t size = s_zmtp_greeting (buffer, "NULL", 3);
    static const uint8_t socket_type [] = {
        11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e',
        0, 0, 0, 6, 'D', 'E', 'A', 'L', 'E', 'R' };
    size += s_zmtp_command (buffer + size, "READY", socket_type, sizeof socket_type);
    header_t header;
    s_request_header (&header, &(request_t) {
        .service = RAW ("broker"), .command = RAW ("Ping") }, 1);
    buffer [size++] = 0x00;
    buffer [size++] = (uint8_t) (header.size + 1);
    memcpy (buffer + size, header.data, header.size);
    size += header.size;
    buffer [size++] = 0x80;
    return size;
}

//  The broker's public key (Z85) from the local keys.
static void
s_broker_public (char *public_key)
{
    char cert [PATH_MAX], server [PATH_MAX];
    proc_local_paths (cert, server, sizeof cert);
    zcert_t *broker = zcert_load (server);
    assert_non_null (broker);
    snprintf (public_key, 41, "%s", zcert_public_txt (broker));
    zcert_destroy (&broker);
}

//  A client with credentials creds (its cert is taken) calls Ping: it must
//  get no answer at all, the handshake having failed.
static void
s_expect_no_admission (const char *endpoint, flot_creds_t *creds, const char *who)
{
    flot_client_t *stranger = flot_client_new_secure (endpoint, creds);
    flot_creds_clear (creds);
    assert_non_null (stranger);
    flot_err_t err = { 0 };
    json_t *pong = proc_call (stranger, "broker", NULL, "Ping", NULL, 500, &err);
    if (pong)
        fail_msg ("%s was answered", who);
    assert_int_equal (err.code, FLOT_E_DEADLINE);
    assert_false (flot_client_answered (stranger));
    flot_client_destroy (&stranger);
}

//  The daemon is alive, and the keyed client's Ping and Echo are answered.
static void
s_assert_serving (proc_t *daemon, flot_client_t *client, const char *after)
{
    if (!proc_alive (daemon))
        fail_msg ("flotillad died after %s (see %s)", after, proc_log_path (daemon));
    flot_err_t err = { 0 };
    json_t *pong = proc_call (client, "broker", NULL, "Ping", NULL, 2000, &err);
    if (!pong || !json_is_true (json_object_get (pong, "pong")))
        fail_msg ("no Ping after %s: %s %s", after, flot_err_name (err.code), err.message);
    json_decref (pong);
    json_t *echo = proc_call (client, "echo", NULL, "Echo", "{\"after\": 1}", 2000, &err);
    if (!echo || proc_json_int (echo, "after") != 1)
        fail_msg ("no Echo after %s: %s %s", after, flot_err_name (err.code), err.message);
    json_decref (echo);
}

static void
test_curve_endpoint_survives_hostile_handshakes (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 40);
    //  With keys: the local ones a flotillad on loopback makes.
    flot_client_t *client;
    proc_t *daemon = proc_serve ("curve", endpoint, &client, "--actors", "echo", NULL);
    json_t *pong = proc_call (client, "broker", NULL, "Ping", NULL, 1000, NULL);
    assert_non_null (pong);
    assert_true (json_is_true (json_object_get (pong, "secure")));
    assert_string_equal (json_string_value (json_object_get (pong, "caller")), "local");
    json_decref (pong);
    proc_wait_unnamed (client, daemon, "echo");
    char broker_public [41];
    s_broker_public (broker_public);
    char cert_path [PATH_MAX], server_path [PATH_MAX];
    proc_local_paths (cert_path, server_path, sizeof cert_path);

    //  A keyed client pings every 50 ms throughout.
    pinger_t pinger = { .endpoint = endpoint, .keyed = true };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_pinger, &pinger), 0);
    s_seed ("curve");
    int64_t started = proc_now ();
    int connections = 0;
    static uint8_t buffer [8192];
    for (int round = 0; round < CURVE_ROUNDS; round++) {
        //  4 KiB of random bytes on plain TCP, several times.
        for (int i = 0; i < 4; i++) {
            s_random_bytes (buffer, 4096);
            if (!s_tcp_send_until_closed (PORT + 40, buffer, 4096))
                fail_msg ("round %d: the broker held a connection that sent random bytes",
                          round);
            connections++;
        }
        s_assert_serving (daemon, client, "random bytes");
        //  A greeting announcing CURVE, then a malformed HELLO.
        for (int which = 0; which < BAD_HELLOS; which++) {
            size_t size = s_bad_hello (buffer, which);
            if (!s_tcp_send_until_closed (PORT + 40, buffer, size))
                fail_msg ("round %d: the broker held a connection after bad HELLO %d",
                          round, which);
            connections++;
        }
        s_assert_serving (daemon, client, "malformed CURVE handshakes");
        //  A greeting cut short, the connection closed at once.
        int fd = s_tcp_connect (PORT + 40);
        s_zmtp_greeting (buffer, "CURVE", 3);
        send (fd, buffer, 1 + (size_t) (rand () % 63), MSG_NOSIGNAL);
        close (fd);
        connections++;
        //  The NULL mechanism: a plain ZeroMQ peer, by hand and by libzmq.
        size_t size = s_null_mechanism (buffer);
        if (!s_tcp_send_until_closed (PORT + 40, buffer, size))
            fail_msg ("round %d: the broker held a connection of the NULL mechanism", round);
        connections++;
        zsock_t *plain = s_raw_dealer (endpoint);
        s_send_request (plain, FLOT_SIGNATURE, "broker", "Ping", 7);
        zmq_pollitem_t item = { zsock_resolve (plain), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 300) != 0)
            fail_msg ("round %d: a plain DEALER was answered by a broker with keys", round);
        zsock_destroy (&plain);
        s_assert_serving (daemon, client, "the NULL mechanism");
        //  A key the broker does not allow, with the broker's right key.
        flot_creds_t creds = { .cert = zcert_new () };
        snprintf (creds.server_key, sizeof creds.server_key, "%s", broker_public);
        s_expect_no_admission (endpoint, &creds, "a key that is not allowed");
        //  The allowed key, pinning another server's public key.
        zcert_t *other = zcert_new ();
        creds = (flot_creds_t) { .cert = zcert_load (cert_path) };
        assert_non_null (creds.cert);
        snprintf (creds.server_key, sizeof creds.server_key, "%s", zcert_public_txt (other));
        zcert_destroy (&other);
        s_expect_no_admission (endpoint, &creds, "a client that pins another server's key");
        s_assert_serving (daemon, client, "keys it does not allow");
    }
    int64_t took = proc_now () - started;
    usleep (200 * 1000);
    atomic_store (&pinger.stop, true);
    pthread_join (thread, NULL);
    print_message ("curve: %d raw connections and %d refused CURVE clients in %lld ms; "
                   "%d keyed pings meanwhile (worst %lld ms), %d failed\n",
                   connections, 2 * CURVE_ROUNDS, (long long) took, pinger.pings,
                   (long long) pinger.worst_ms, pinger.failures);
    if (pinger.failures)
        fail_msg ("%d keyed pings failed during the attacks, last: %s",
                  pinger.failures, pinger.last_error);
    assert_true (pinger.pings >= took / PING_EVERY_MS / 2);
    assert_true (pinger.worst_ms < 1000);
    //  Nothing of it registered, and the broker stops cleanly.
    json_t *reply = proc_call (client, "broker", NULL, "Actors", NULL, 1000, NULL);
    assert_non_null (reply);
    assert_int_equal (json_array_size (json_object_get (reply, "actors")), 1);
    json_decref (reply);
    flot_client_destroy (&client);
    assert_int_equal (proc_stop (daemon, 5000), 0);
}

//  Raw sockets with the local keys speak FLOT over CURVE as plain ones do:
//  each client answered in its version, the caller named by its key; an
//  actor is delivered to with the caller's key name in 03, none in 02. A
//  plain socket gets nothing: no answer, no registration.
static void
test_curve_raw_sockets_with_local_keys (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 50);
    flot_client_t *client;
    proc_t *daemon = proc_serve ("curve-raw", endpoint, &client, "--actors", "echo", NULL);

    zsock_t *raw = s_raw_dealer_keyed (endpoint);
    for (int version = FLOT_VERSION_OLDEST; version <= FLOT_VERSION; version++) {
        char signature [8];
        snprintf (signature, sizeof signature, "FLOT%02d", version);
        s_send_request (raw, signature, "broker", "Ping", (uint64_t) version);
        flot_msg_t answer;
        zmsg_t *msg = s_expect_msg (raw, FLOT_REPLY, version, &answer);
        assert_true (answer.corr == (uint64_t) version);
        json_t *pong = proc_body_json (answer.body.data, answer.body.size);
        assert_non_null (pong);
        assert_true (json_is_true (json_object_get (pong, "secure")));
        assert_string_equal (json_string_value (json_object_get (pong, "caller")), "local");
        assert_string_equal (json_string_value (json_object_get (pong, "role")), "admin");
        json_decref (pong);
        zmsg_destroy (&msg);
    }
    zsock_destroy (&raw);
    s_deliver_in (endpoint, client, true, "raw23", "[2, 3]", 3, "local");
    s_deliver_in (endpoint, client, true, "raw2", "[2]", 2, "");

    //  Without keys: no answer, and a READY registers nothing.
    zsock_t *plain = s_raw_dealer (endpoint);
    s_send_request (plain, FLOT_SIGNATURE, "broker", "Ping", 9);
    s_send_ready_json (plain, "FLOT02", "plain",
        "{\"instance\": \"plain-1\", \"host\": \"h\", \"pid\": 1, \"versions\": [2, 3]}", 0);
    zmq_pollitem_t item = { zsock_resolve (plain), 0, ZMQ_POLLIN, 0 };
    assert_int_equal (zmq_poll (&item, 1, 500), 0);
    assert_null (proc_find_actor (client, "plain", "plain-1"));
    zsock_destroy (&plain);
    flot_client_destroy (&client);
    assert_int_equal (proc_stop (daemon, 5000), 0);
}

//  --------------------------------------------------------------------------
//  Who may feed a stream (SPEC section 9)
//
//  Raw actors answer by hand, so that one of them can push into a stream
//  the broker delivered to another: the broker forwards a stream's
//  messages only from the instance that feeds it.

//  The route and corr of a request an actor holds, copied from its DELIVER.
typedef struct {
    uint8_t data [255];
    size_t size;
    uint64_t corr;
} held_t;

//  A raw actor (keyed: over CURVE with the local keys) registered as
//  service/instance with a FLOT03 READY, so that it is delivered to in 03.
static zsock_t *
s_raw_actor (const char *endpoint, flot_client_t *client, bool keyed, const char *service,
             const char *instance)
{
    zsock_t *actor = keyed ? s_raw_dealer_keyed (endpoint) : s_raw_dealer (endpoint);
    char json [256];
    snprintf (json, sizeof json, "{\"instance\": \"%s\", \"host\": \"h\", \"pid\": 1}",
              instance);
    s_send_ready_json (actor, NULL, service, json, 0);
    json_t *entry = proc_wait_actor (client, service, instance, NULL, 2000);
    if (!entry)
        fail_msg ("the raw actor %s/%s did not register", service, instance);
    json_decref (entry);
    return actor;
}

//  Sends a REQUEST for service/command with a JSON body and corr, in 03.
static void
s_send_request_json (zsock_t *sock, const char *service, const char *command,
                     uint64_t corr, const char *json)
{
    header_t header;
    s_request_header (&header, &(request_t) {
        .service = { service, strlen (service) },
        .command = { command, strlen (command) } }, corr);
    msgpack_sbuffer sbuf;
    proc_pack_json (&sbuf, json);
    assert_int_equal (s_send_message (sock, &header, (raw_t) { sbuf.data, sbuf.size }, 0), 0);
    msgpack_sbuffer_destroy (&sbuf);
}

//  The actor's next DELIVER, of command: its route and corr into held.
static void
s_expect_deliver (zsock_t *actor, const char *command, held_t *held)
{
    flot_msg_t deliver;
    zmsg_t *msg = s_expect_msg (actor, FLOT_DELIVER, 0, &deliver);
    s_assert_text (deliver.command, command);
    assert_true (deliver.route.size > 0 && deliver.route.size <= sizeof held->data);
    memcpy (held->data, deliver.route.data, deliver.route.size);
    held->size = deliver.route.size;
    held->corr = deliver.corr;
    zmsg_destroy (&msg);
}

//  Sends an actor's answer of kind (A_REPLY, A_ERROR, A_STREAM,
//  A_STREAM_END) for the request held, with a JSON body, in 03.
static void
s_send_answer (zsock_t *actor, uint8_t kind, const held_t *held, const char *json)
{
    header_t header;
    s_header_start (&header, NULL, kind);
    s_put_string (&header, (raw_t) { held->data, held->size });
    s_put_corr (&header, held->corr);
    msgpack_sbuffer sbuf;
    proc_pack_json (&sbuf, json);
    assert_int_equal (s_send_message (actor, &header, (raw_t) { sbuf.data, sbuf.size }, 0), 0);
    msgpack_sbuffer_destroy (&sbuf);
}

//  Returns once the broker has handled everything sock sent before: a Ping
//  sent after it is answered (the broker reads a peer's messages in order).
static void
s_sync (zsock_t *sock)
{
    static uint64_t corr = 0x5e0000;
    s_send_request (sock, NULL, "broker", "Ping", ++corr);
    flot_msg_t answer;
    zmsg_t *msg = s_expect_msg (sock, FLOT_REPLY, 0, &answer);
    assert_true (answer.corr == corr);
    zmsg_destroy (&msg);
}

//  Fails if anything but a HEARTBEAT comes to sock within ms, naming it.
static void
s_expect_quiet (zsock_t *sock, int ms, const char *why)
{
    int64_t until = proc_now () + ms;
    flot_msg_t answer;
    zmsg_t *msg;
    while ((msg = s_next_msg (sock, until, &answer, why))) {
        if (answer.kind != FLOT_HEARTBEAT) {
            json_t *body = proc_body_json (answer.body.data, answer.body.size);
            char *text = body ? json_dumps (body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
            fail_msg ("%s: got %s for corr %llu: %s", why, flot_kind_name (answer.kind),
                      (unsigned long long) answer.corr, text ? text : "(no body)");
        }
        zmsg_destroy (&msg);
    }
}

//  The client's next message: of kind, for corr, its body's JSON equal to
//  json (compact, keys sorted), unless json is NULL. Returns the body
//  (caller json_decref's).
static json_t *
s_expect_answer (zsock_t *client, int kind, uint64_t corr, const char *json)
{
    uint64_t got = 0;
    json_t *body = s_expect_kind (client, kind, &got);
    if (got != corr)
        fail_msg ("%s for corr %llu, expected corr %llu", flot_kind_name (kind),
                  (unsigned long long) got, (unsigned long long) corr);
    if (json) {
        char *text = json_dumps (body, JSON_COMPACT | JSON_SORT_KEYS);
        if (!text || strneq (text, json))
            fail_msg ("%s for corr %llu: %s, expected %s", flot_kind_name (kind),
                      (unsigned long long) corr, text ? text : "?", json);
        free (text);
    }
    return body;
}

//  A stream is fed only by the instance its request went to (SPEC 9): echo's
//  Ticks (its contract defines a stream) from the moment it is delivered; a
//  command no contract names from its first push before the REPLY. An
//  A_ERROR from the feeder after the REPLY ends the stream; nothing comes
//  after it.
static void
test_only_the_feeder_feeds_a_stream (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 60);
    //  --insecure: raw actors of any service; a heartbeat slow enough that
    //  raw actors that do not beat stay registered throughout.
    flot_client_t *client;
    proc_t *daemon = proc_serve ("feeder", endpoint, &client, "--insecure", "--broker-only",
                                 "--heartbeat", "1000", "--liveness", "10", NULL);
    //  A serves echo (whose contract says Ticks streams) and custom (which
    //  no contract names); B, of another service, tries to feed their
    //  streams. C is a raw client, which keeps every message it gets.
    zsock_t *a = s_raw_actor (endpoint, client, false, "echo", "echo-a");
    zsock_t *a_custom = s_raw_actor (endpoint, client, false, "custom", "custom-a");
    zsock_t *b = s_raw_actor (endpoint, client, false, "other", "other-b");
    zsock_t *c = s_raw_dealer (endpoint);
    held_t held;

    //  (a) Ticks, delivered to A. B pushes and ends it before A has said
    //  anything: C gets neither.
    s_send_request_json (c, "echo", "Ticks", 101, "{\"count\": 3, \"interval_ms\": 10}");
    s_expect_deliver (a, "Ticks", &held);
    assert_true (held.corr == 101);
    s_send_answer (b, FLOT_A_STREAM, &held, "{\"tick\": 99}");
    s_send_answer (b, FLOT_A_STREAM_END, &held, "{}");
    s_sync (b);
    s_expect_quiet (c, 200, "A_STREAM and A_STREAM_END from an instance the Ticks request "
                            "did not go to, before its REPLY");
    //  A's own push before its REPLY is the stream's first message; then
    //  its REPLY.
    s_send_answer (a, FLOT_A_STREAM, &held, "{\"tick\": 1}");
    json_decref (s_expect_answer (c, FLOT_STREAM, 101, "{\"tick\":1}"));
    s_send_answer (a, FLOT_A_REPLY, &held, "{\"stream\": 101}");
    json_decref (s_expect_answer (c, FLOT_REPLY, 101, "{\"stream\":101}"));
    //  After the REPLY, B can neither push, end nor fail the stream.
    s_send_answer (b, FLOT_A_STREAM, &held, "{\"tick\": 98}");
    s_send_answer (b, FLOT_A_ERROR, &held,
                   "{\"code\": 14, \"name\": \"INTERNAL\", \"message\": \"forged\"}");
    s_send_answer (b, FLOT_A_STREAM_END, &held, "{}");
    s_sync (b);
    s_expect_quiet (c, 200, "A_STREAM, A_ERROR and A_STREAM_END from an instance that "
                            "does not feed the stream, after its REPLY");
    s_send_answer (a, FLOT_A_STREAM, &held, "{\"tick\": 2}");
    json_decref (s_expect_answer (c, FLOT_STREAM, 101, "{\"tick\":2}"));
    s_send_answer (a, FLOT_A_STREAM_END, &held, "{}");
    json_decref (s_expect_answer (c, FLOT_STREAM_END, 101, "{}"));
    //  Ended: its feeder cannot start it again.
    s_send_answer (a, FLOT_A_STREAM, &held, "{\"tick\": 3}");
    s_sync (a);
    s_expect_quiet (c, 200, "A_STREAM after the stream's A_STREAM_END");

    //  (b) A command no contract names: the instance holding the request
    //  may push before its REPLY; B, pushing first, is dropped and does not
    //  become the feeder.
    s_send_request_json (c, "custom", "Watch", 201, NULL);
    s_expect_deliver (a_custom, "Watch", &held);
    s_send_answer (b, FLOT_A_STREAM, &held, "{\"n\": 99}");
    s_sync (b);
    s_expect_quiet (c, 200, "A_STREAM from an instance that does not hold the request "
                            "(no contract)");
    s_send_answer (a_custom, FLOT_A_STREAM, &held, "{\"n\": 1}");
    json_decref (s_expect_answer (c, FLOT_STREAM, 201, "{\"n\":1}"));
    s_send_answer (b, FLOT_A_STREAM, &held, "{\"n\": 98}");
    s_send_answer (b, FLOT_A_STREAM_END, &held, "{}");
    s_sync (b);
    s_expect_quiet (c, 200, "A_STREAM and A_STREAM_END from another instance, into a "
                            "stream without a contract");
    s_send_answer (a_custom, FLOT_A_REPLY, &held, "{\"watching\": true}");
    json_decref (s_expect_answer (c, FLOT_REPLY, 201, "{\"watching\":true}"));
    s_send_answer (a_custom, FLOT_A_STREAM, &held, "{\"n\": 2}");
    json_decref (s_expect_answer (c, FLOT_STREAM, 201, "{\"n\":2}"));
    s_send_answer (a_custom, FLOT_A_STREAM_END, &held, "{\"last\": true}");
    json_decref (s_expect_answer (c, FLOT_STREAM_END, 201, "{\"last\":true}"));
    //  Without a contract, a stream that did not push before its REPLY is
    //  none: what its holder pushes after the REPLY is dropped.
    s_send_request_json (c, "custom", "Late", 202, NULL);
    s_expect_deliver (a_custom, "Late", &held);
    s_send_answer (a_custom, FLOT_A_REPLY, &held, "{}");
    json_decref (s_expect_answer (c, FLOT_REPLY, 202, "{}"));
    s_send_answer (a_custom, FLOT_A_STREAM, &held, "{\"n\": 1}");
    s_send_answer (a_custom, FLOT_A_STREAM_END, &held, "{}");
    s_sync (a_custom);
    s_expect_quiet (c, 200, "A_STREAM after the REPLY of a request without a contract "
                            "that opened no stream");

    //  (c) The feeder's A_ERROR after the REPLY is the stream's end: C gets
    //  it as ERROR with the actor's code and sentence, and nothing after.
    //  B's A_ERROR for a stream of A's (now corr 301) is dropped first.
    s_send_request_json (c, "echo", "Ticks", 301, "{\"count\": 5}");
    s_expect_deliver (a, "Ticks", &held);
    s_send_answer (a, FLOT_A_REPLY, &held, "{\"stream\": 301}");
    json_decref (s_expect_answer (c, FLOT_REPLY, 301, "{\"stream\":301}"));
    s_send_answer (a, FLOT_A_STREAM, &held, "{\"tick\": 1}");
    json_decref (s_expect_answer (c, FLOT_STREAM, 301, "{\"tick\":1}"));

    s_send_answer (b, FLOT_A_ERROR, &held,
                   "{\"code\": 15, \"name\": \"CANCELLED\", \"message\": \"forged\"}");
    s_sync (b);
    s_expect_quiet (c, 200, "A_ERROR from another instance into a stream after its REPLY");
    s_send_answer (a, FLOT_A_ERROR, &held,
                   "{\"code\": 14, \"name\": \"INTERNAL\", \"message\": \"the ticker broke\"}");
    json_t *error = s_expect_answer (c, FLOT_ERROR, 301, NULL);
    assert_int_equal (proc_json_int (error, "code"), FLOT_E_INTERNAL);
    assert_string_equal (json_string_value (json_object_get (error, "message")),
                         "the ticker broke");
    json_decref (error);
    s_send_answer (a, FLOT_A_STREAM, &held, "{\"tick\": 2}");
    s_send_answer (a, FLOT_A_STREAM_END, &held, "{}");
    s_sync (a);
    s_expect_quiet (c, 200, "A_STREAM and A_STREAM_END after the stream's A_ERROR");

    //  None of it hurt the broker or unregistered anyone.
    assert_true (proc_alive (daemon));
    json_t *reply = proc_call (client, "broker", NULL, "Actors", NULL, 1000, NULL);
    assert_non_null (reply);
    assert_int_equal (json_array_size (json_object_get (reply, "actors")), 3);
    json_decref (reply);
    zsock_destroy (&c);
    zsock_destroy (&b);
    zsock_destroy (&a_custom);
    zsock_destroy (&a);
    flot_client_destroy (&client);
    assert_int_equal (proc_stop (daemon, 5000), 0);
}

//  Allows a new key name with role (proc_key_new), then makes a raw client
//  over CURVE with it, once the broker admits it (it loads a key just made
//  when it sees its directory change): Pings until one is answered as key
//  name.
static zsock_t *
s_raw_client_new_key (const char *endpoint, const char *name, flot_role_t role)
{
    char cert_path [PATH_MAX];
    proc_key_new (name, role, cert_path, sizeof cert_path);
    int64_t until = proc_now () + 5000;
    for (uint64_t corr = 1; proc_now () < until; corr++) {
        zsock_t *sock = zsock_new (ZMQ_DEALER);
        assert_non_null (sock);
        zsock_set_linger (sock, 0);
        proc_curve_apply_cert (sock, cert_path);
        assert_int_equal (zsock_connect (sock, "%s", endpoint), 0);
        s_send_request (sock, NULL, "broker", "Ping", corr);
        zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 300) == 1) {
            json_t *pong = s_expect_answer (sock, FLOT_REPLY, corr, NULL);
            const char *caller = json_string_value (json_object_get (pong, "caller"));
            if (!caller || strneq (caller, name))
                fail_msg ("Ping answered as '%s', expected '%s'", caller ? caller : "?", name);
            json_decref (pong);
            return sock;
        }
        zsock_destroy (&sock);
    }
    fail_msg ("the broker did not admit key %s within 5 s", name);
    return NULL;
}

//  The actor gets CANCEL for the request held (what: which stream, for the
//  failure's message) within 2 s, HEARTBEATs aside.
static void
s_expect_cancel (zsock_t *actor, const held_t *held, const char *what)
{
    char awaited [200];
    snprintf (awaited, sizeof awaited, "the feeder of %s, awaiting CANCEL", what);
    int64_t until = proc_now () + 2000;
    while (true) {
        flot_msg_t cancel;
        zmsg_t *msg = s_next_msg (actor, until, &cancel, awaited);
        if (!msg)
            fail_msg ("the feeder of %s (corr %llu) got no CANCEL", what,
                      (unsigned long long) held->corr);
        if (cancel.kind == FLOT_HEARTBEAT) {
            zmsg_destroy (&msg);
            continue;
        }
        if (cancel.kind != FLOT_CANCEL || cancel.corr != held->corr
        ||  cancel.route.size != held->size
        ||  memcmp (cancel.route.data, held->data, held->size))
            fail_msg ("%s for corr %llu, expected CANCEL for %s (corr %llu)",
                      flot_kind_name (cancel.kind), (unsigned long long) cancel.corr,
                      what, (unsigned long long) held->corr);
        zmsg_destroy (&msg);
        return;
    }
}

//  The client's next message is ERROR NOT_AUTHORIZED for the stream of
//  corr, saying that key name was revoked and the stream is closed.
static void
s_expect_stream_revoked (zsock_t *client, uint64_t corr, const char *name)
{
    json_t *error = s_expect_answer (client, FLOT_ERROR, corr, NULL);
    assert_int_equal (proc_json_int (error, "code"), FLOT_E_NOT_AUTHORIZED);
    char expected [160];
    snprintf (expected, sizeof expected, "key '%s' was revoked; the stream is closed", name);
    assert_string_equal (json_string_value (json_object_get (error, "message")), expected);
    json_decref (error);
}

//  A flotillad with keys (the local ones) and only a broker, on port; its
//  endpoint into endpoint, a client with the local key into *client.
static proc_t *
s_keyed_broker (const char *name, int port, char *endpoint, size_t size,
                flot_client_t **client)
{
    proc_endpoint (endpoint, size, port);
    return proc_serve (name, endpoint, client, "--broker-only",
                       "--heartbeat", "1000", "--liveness", "10", NULL);
}

//  A stream a key opened ends when the key is revoked (SPEC 14.5), though
//  its caller sends nothing more: the feeder gets CANCEL, the caller ERROR
//  NOT_AUTHORIZED, and whatever the feeder pushes after it is dropped. A
//  stream another key opened, from the same feeder, goes on.
//  The coordinators listed by Actors, as "name,name".
static void
s_coordinators (flot_client_t *client, char *names, size_t size)
{
    json_t *reply = proc_call (client, "broker", NULL, "Actors", NULL, 1000, NULL);
    assert_non_null (reply);
    *names = 0;
    size_t index;
    json_t *entry;
    json_array_foreach (json_object_get (reply, "actors"), index, entry)
        if (streq (json_string_value (json_object_get (entry, "service")), "coordinator"))
            snprintf (names + strlen (names), size - strlen (names), "%s%s", *names ? "," : "",
                      json_string_value (json_object_get (entry, "instance")));
    json_decref (reply);
}

//  A DISCONNECT with code CONFLICT (12) whose reason is exactly reason.
static void
s_expect_conflict (zsock_t *sock, const char *reason)
{
    json_t *body = s_expect_kind (sock, FLOT_DISCONNECT, NULL);
    const char *said = json_string_value (json_object_get (body, "reason"));
    assert_non_null (said);
    if (strneq (said, reason))
        fail_msg ("DISCONNECT says '%s', expected '%s'", said, reason);
    assert_int_equal (proc_json_int (body, "code"), FLOT_E_CONFLICT);
    json_decref (body);
}

//  An instance whose connection is gone (its process killed, or it came
//  back on a new connection) is skipped when a request is delivered: the
//  broker removes it and the next instance gets the request, rather than
//  the caller getting NO_INSTANCE while another instance lives (SPEC 4.2).
static void
test_unreachable_instance_is_skipped (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 94);
    flot_client_t *client;
    proc_serve ("unreachable", endpoint, &client, "--insecure", "--broker-only", NULL);
    zsock_t *a = s_raw_dealer (endpoint);
    zsock_t *b = s_raw_dealer (endpoint);
    s_send_ready_json (a, NULL, "echo", "{\"instance\": \"echo-a\", \"host\": \"h\", \"pid\": 1}", 0);
    usleep (100 * 1000);
    s_send_ready_json (b, NULL, "echo", "{\"instance\": \"echo-b\", \"host\": \"h\", \"pid\": 2}", 0);
    usleep (100 * 1000);
    //  echo-a's connection closes, well within its liveness: the broker
    //  still counts it live.
    zsock_destroy (&a);
    usleep (200 * 1000);
    zsock_t *c = s_raw_dealer (endpoint);
    for (uint64_t corr = 1; corr <= 2; corr++)
        s_send_request (c, NULL, "echo", "Echo", corr);
    //  Both reach echo-b, in turn with the instance that is gone.
    for (uint64_t want = 1; want <= 2; want++) {
        uint64_t corr = 0;
        json_decref (s_expect_kind (b, FLOT_DELIVER, &corr));
        assert_int_equal (corr, want);
    }
    flot_msg_t answer;
    zmsg_t *msg = s_next_msg (c, proc_now () + 300, &answer, "nothing");
    if (msg)
        fail_msg ("the caller got %s while echo-b lives", flot_kind_name (answer.kind));
    zsock_destroy (&b);
    zsock_destroy (&c);
    flot_client_destroy (&client);
}

//  The coordinator's contract says "instances": "one" (SPEC 4.1): a READY
//  for it from a second socket is refused by DISCONNECT with code CONFLICT
//  naming the registered instance, host and pid, and so is a request the
//  refused socket sends; the same process on a new connection takes its own
//  place; once the registered one is dead, another registers. A DISCONNECT
//  for any other reason has no code.
static void
test_one_instance_service_refuses_a_second (void **state)
{
    (void) state;
    char endpoint [64], names [256];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 93);
    flot_client_t *client;
    proc_serve ("one-instance", endpoint, &client, "--insecure", "--broker-only", NULL);
    zsock_t *a = s_raw_dealer (endpoint);
    zsock_t *b = s_raw_dealer (endpoint);
    s_send_ready_json (a, NULL, "coordinator",
                       "{\"instance\": \"coord-a\", \"host\": \"host-a\", \"pid\": 111}", 0);
    int64_t deadline = proc_now () + 2000;
    do {
        s_coordinators (client, names, sizeof names);
        if (proc_now () > deadline)
            fail_msg ("coord-a did not register (Actors lists '%s')", names);
    } while (strneq (names, "coord-a"));

    //  A second: refused, and so is what it asks; coord-a stays.
    const char *why = "coord-a on host-a (pid 111) is the coordinator: one instance at a time";
    s_send_ready_json (b, NULL, "coordinator",
                       "{\"instance\": \"coord-b\", \"host\": \"host-b\", \"pid\": 222}", 0);
    s_expect_conflict (b, why);
    s_send_request (b, NULL, "coordinator", "List", 7);
    s_expect_conflict (b, why);
    uint64_t corr = 0;
    json_t *error = s_expect_kind (b, FLOT_ERROR, &corr);
    assert_int_equal (corr, 7);
    assert_int_equal (proc_json_int (error, "code"), FLOT_E_CONFLICT);
    assert_non_null (strstr (json_string_value (json_object_get (error, "message")), why));
    json_decref (error);
    s_coordinators (client, names, sizeof names);
    assert_string_equal (names, "coord-a");

    //  The same process (name, host, pid) on a new connection takes its
    //  own place at once.
    zsock_t *a2 = s_raw_dealer (endpoint);
    s_send_ready_json (a2, NULL, "coordinator",
                       "{\"instance\": \"coord-a\", \"host\": \"host-a\", \"pid\": 111}", 0);
    flot_msg_t answer;
    zmsg_t *msg = s_next_msg (a2, proc_now () + 300, &answer, "nothing");
    if (msg && answer.kind != FLOT_HEARTBEAT)
        fail_msg ("coord-a on a new connection got %s", flot_kind_name (answer.kind));
    zmsg_destroy (&msg);
    s_coordinators (client, names, sizeof names);
    assert_string_equal (names, "coord-a");
    //  Its old connection is no one now: told so, without a code.
    flot_msg_t beat = { .kind = FLOT_HEARTBEAT, .version = FLOT_VERSION };
    assert_int_equal (flot_msg_send (&beat, zsock_resolve (a), NULL, true), 0);
    json_t *body = s_expect_kind (a, FLOT_DISCONNECT, NULL);
    assert_null (json_object_get (body, "code"));
    json_decref (body);

    //  coord-a's connection closes (its process killed, say): coord-b
    //  registers in its place, and its requests go through.
    zsock_destroy (&a2);
    usleep (100 * 1000);
    s_send_ready_json (b, NULL, "coordinator",
                       "{\"instance\": \"coord-b\", \"host\": \"host-b\", \"pid\": 222}", 0);
    deadline = proc_now () + 2000;
    do {
        s_coordinators (client, names, sizeof names);
        if (proc_now () > deadline)
            fail_msg ("coord-b did not register once coord-a was gone (Actors lists '%s')",
                      names);
    } while (strneq (names, "coord-b"));
    s_send_request (b, NULL, "coordinator", "List", 8);
    msg = s_expect_msg (b, FLOT_DELIVER, 0, &answer);
    assert_int_equal (answer.corr, 8);
    zmsg_destroy (&msg);

    //  coord-b falls silent, its connection open: refused until its
    //  liveness window has passed, then coord-c registers.
    zsock_t *c = s_raw_dealer (endpoint);
    s_send_ready_json (c, NULL, "coordinator",
                       "{\"instance\": \"coord-c\", \"host\": \"host-c\", \"pid\": 333}", 0);
    s_expect_conflict (c, "coord-b on host-b (pid 222) is the coordinator: one instance at a time");
    usleep ((PROC_HEARTBEAT_MS * PROC_LIVENESS + 200) * 1000);
    s_send_ready_json (c, NULL, "coordinator",
                       "{\"instance\": \"coord-c\", \"host\": \"host-c\", \"pid\": 333}", 0);
    deadline = proc_now () + 2000;
    do {
        s_coordinators (client, names, sizeof names);
        if (proc_now () > deadline)
            fail_msg ("coord-c did not register once coord-b was dead (Actors lists '%s')",
                      names);
    } while (strneq (names, "coord-c"));
    //  coord-b's socket, found dead while coord-c holds the service, is
    //  refused what it asks. First the error for the List it held itself,
    //  behind the HEARTBEATs it got while alive (not answered: it is dead).
    deadline = proc_now () + 2000;
    while ((msg = s_next_msg (b, deadline, &answer, "ERROR ACTOR_FAILED"))
           && answer.kind == FLOT_HEARTBEAT)
        zmsg_destroy (&msg);
    assert_non_null (msg);
    assert_int_equal (answer.kind, FLOT_ERROR);
    assert_int_equal (answer.corr, 8);
    zmsg_destroy (&msg);
    s_send_request (b, NULL, "coordinator", "List", 9);
    s_expect_conflict (b, "coord-c on host-c (pid 333) is the coordinator: one instance at a time");
    error = s_expect_kind (b, FLOT_ERROR, &corr);
    assert_int_equal (corr, 9);
    assert_int_equal (proc_json_int (error, "code"), FLOT_E_CONFLICT);
    json_decref (error);
    zsock_destroy (&a);
    zsock_destroy (&b);
    zsock_destroy (&c);
    flot_client_destroy (&client);
}

static void
test_revoked_key_loses_its_streams (void **state)
{
    (void) state;
    char endpoint [64];
    flot_client_t *client;
    proc_t *daemon = s_keyed_broker ("revoke-stream", PORT + 70, endpoint, sizeof endpoint,
                                     &client);
    //  A raw echo actor (echo's contract says Ticks streams), with the
    //  local key.
    zsock_t *echo = s_raw_actor (endpoint, client, true, "echo", "echo-a");
    zsock_t *op = s_raw_client_new_key (endpoint, "op-stream", FLOT_ROLE_OPERATOR);
    zsock_t *local = s_raw_dealer_keyed (endpoint);

    //  op opens a Ticks stream, the local key another.
    held_t ticks, mine;
    s_send_request_json (op, "echo", "Ticks", 401, "{\"count\": 100}");
    s_expect_deliver (echo, "Ticks", &ticks);
    s_send_answer (echo, FLOT_A_REPLY, &ticks, "{\"stream\": 401}");
    json_decref (s_expect_answer (op, FLOT_REPLY, 401, "{\"stream\":401}"));
    s_send_answer (echo, FLOT_A_STREAM, &ticks, "{\"tick\": 1}");
    json_decref (s_expect_answer (op, FLOT_STREAM, 401, "{\"tick\":1}"));
    s_send_request_json (local, "echo", "Ticks", 403, "{\"count\": 100}");
    s_expect_deliver (echo, "Ticks", &mine);
    s_send_answer (echo, FLOT_A_REPLY, &mine, "{\"stream\": 403}");
    json_decref (s_expect_answer (local, FLOT_REPLY, 403, "{\"stream\":403}"));

    //  op's key is revoked while its stream is open and it sends nothing:
    //  the feeder is told to stop, op why.
    proc_key_revoke ("op-stream");
    s_expect_cancel (echo, &ticks, "op's Ticks stream");
    s_expect_stream_revoked (op, 401, "op-stream");
    //  What the feeder pushes on it now is dropped; the local key's stream
    //  goes on.
    s_send_answer (echo, FLOT_A_STREAM, &ticks, "{\"tick\": 2}");
    s_send_answer (echo, FLOT_A_STREAM, &mine, "{\"tick\": 1}");
    json_decref (s_expect_answer (local, FLOT_STREAM, 403, "{\"tick\":1}"));
    s_sync (echo);
    s_expect_quiet (op, 300, "a Ticks stream whose key was revoked");
    //  op's next request is refused.
    s_send_request (op, NULL, "broker", "Ping", 404);
    json_t *error = s_expect_answer (op, FLOT_ERROR, 404, NULL);
    assert_int_equal (proc_json_int (error, "code"), FLOT_E_NOT_AUTHORIZED);
    json_decref (error);
    s_send_answer (echo, FLOT_A_STREAM_END, &mine, "{}");
    json_decref (s_expect_answer (local, FLOT_STREAM_END, 403, "{}"));

    zsock_destroy (&local);
    zsock_destroy (&op);
    zsock_destroy (&echo);
    flot_client_destroy (&client);
    assert_int_equal (proc_stop (daemon, 5000), 0);
}

//  The same for a stream whose command no contract names (it became one
//  when its holder pushed before the REPLY), on a connection that opened
//  no other stream.
static void
test_revoked_key_loses_streams_no_contract_names (void **state)
{
    (void) state;
    char endpoint [64];
    flot_client_t *client;
    proc_t *daemon = s_keyed_broker ("revoke-custom", PORT + 80, endpoint, sizeof endpoint,
                                     &client);
    zsock_t *custom = s_raw_actor (endpoint, client, true, "custom", "custom-a");
    zsock_t *op = s_raw_client_new_key (endpoint, "op-custom", FLOT_ROLE_OPERATOR);
    held_t watch;
    s_send_request_json (op, "custom", "Watch", 501, NULL);
    s_expect_deliver (custom, "Watch", &watch);
    s_send_answer (custom, FLOT_A_STREAM, &watch, "{\"n\": 1}");
    json_decref (s_expect_answer (op, FLOT_STREAM, 501, "{\"n\":1}"));
    s_send_answer (custom, FLOT_A_REPLY, &watch, "{}");
    json_decref (s_expect_answer (op, FLOT_REPLY, 501, "{}"));
    proc_key_revoke ("op-custom");
    s_expect_cancel (custom, &watch, "op's stream of custom.Watch");
    s_expect_stream_revoked (op, 501, "op-custom");
    s_send_answer (custom, FLOT_A_STREAM, &watch, "{\"n\": 2}");
    s_sync (custom);
    s_expect_quiet (op, 300, "a stream without a contract whose key was revoked");

    zsock_destroy (&op);
    zsock_destroy (&custom);
    flot_client_destroy (&client);
    assert_int_equal (proc_stop (daemon, 5000), 0);
}

//  --------------------------------------------------------------------------
//  The events actor

//  Calls events with raw body bytes; expects an ERROR with one of the codes
//  and, if given, the text in its message.
static void
s_expect_error (flot_client_t *client, const char *command, const void *body,
                size_t size, const char *text)
{
    zframe_t *reply = NULL;
    flot_err_t err = { 0 };
    int rc = flot_client_call (client, "events", NULL, command, body, size, 2000,
                               &reply, &err);
    zframe_destroy (&reply);
    if (rc == 0)
        fail_msg ("%s with a bad body (%s) was accepted", command, text);
    if (err.code != FLOT_E_INVALID && err.code != FLOT_E_MALFORMED)
        fail_msg ("%s (%s): expected INVALID or MALFORMED, got %s '%s'",
                  command, text, flot_err_name (err.code), err.message);
    if (strlen (err.message) < 10)
        fail_msg ("%s (%s): the error has no sentence: '%s'", command, text, err.message);
    if (text && !strstr (err.message, text))
        fail_msg ("%s: the error '%s' does not mention '%s'", command, err.message, text);
}

static void
s_expect_error_json (flot_client_t *client, const char *command, const char *json,
                     const char *text)
{
    msgpack_sbuffer sbuf;
    proc_pack_json (&sbuf, json);
    s_expect_error (client, command, sbuf.data, sbuf.size, text);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_garbage_does_not_hurt_events_actor (void **state)
{
    (void) state;
    char endpoint [64], events [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 1);
    proc_endpoint (events, sizeof events, PORT + 2);
    flot_client_t *client;
    proc_t *daemon = proc_serve ("events", endpoint, &client, "--events-bind", events, NULL);
    proc_wait_unnamed (client, daemon, "events");

    char long_text [2100];
    memset (long_text, 'a', sizeof long_text - 1);
    long_text [sizeof long_text - 1] = 0;
    char json [2400];

    //  Publish: missing and mistyped fields, bad names, oversize strings.
    s_expect_error_json (client, "Publish", "{}", "'type'");
    s_expect_error_json (client, "Publish", "{\"type\": 5}", "'type'");
    s_expect_error_json (client, "Publish", "{\"type\": \"\"}", "'type'");
    s_expect_error_json (client, "Publish", "{\"type\": \"Not Lower\"}", "'type'");
    s_expect_error_json (client, "Publish", "{\"type\": [\"a\"]}", "'type'");
    s_expect_error_json (client, "Publish", "{\"type\": \"a\", \"deployment\": 7}", "'deployment'");
    s_expect_error_json (client, "Publish", "{\"type\": \"a\", \"deployment\": \"a/b\"}", "'deployment'");
    s_expect_error_json (client, "Publish", "{\"type\": \"a\", \"target\": {}}", "'target'");
    s_expect_error_json (client, "Publish", "{\"type\": \"a\", \"message\": false}", "'message'");
    s_expect_error_json (client, "Publish", "{\"type\": \"a\", \"data\": [1, 2]}", "'data'");
    s_expect_error_json (client, "Publish", "{\"type\": \"a\", \"data\": \"x\"}", "'data'");
    snprintf (json, sizeof json, "{\"type\": \"%.65s\"}", long_text);
    s_expect_error_json (client, "Publish", json, "'type'");
    snprintf (json, sizeof json, "{\"type\": \"a\", \"deployment\": \"%.200s\"}", long_text);
    s_expect_error_json (client, "Publish", json, "'deployment'");
    snprintf (json, sizeof json, "{\"type\": \"a\", \"target\": \"%.300s\"}", long_text);
    s_expect_error_json (client, "Publish", json, "'target'");
    //  A deployment id is 1..95 bytes of a name's characters, other than "-".
    s_expect_error_json (client, "Publish", "{\"type\": \"a\", \"deployment\": \"-\"}", "'deployment'");
    snprintf (json, sizeof json, "{\"type\": \"a\", \"deployment\": \"%.96s\"}", long_text);
    s_expect_error_json (client, "Publish", json, "'deployment'");
    //  A message of 100000 bytes.
    char *huge = malloc (100100);
    assert_non_null (huge);
    int used = snprintf (huge, 100100, "{\"type\": \"a\", \"message\": \"");
    memset (huge + used, 'm', 100000);
    strcpy (huge + used + 100000, "\"}");
    s_expect_error_json (client, "Publish", huge, "'message'");
    free (huge);

    //  Bodies that are not one map of string keys.
    static const uint8_t array [] = { 0x92, 0x01, 0x02 };
    static const uint8_t string [] = { 0xa3, 'a', 'b', 'c' };
    static const uint8_t truncated [] = { 0x82, 0xa4, 't', 'y', 'p', 'e' };
    static const uint8_t trailing [] = { 0x81, 0xa4, 't', 'y', 'p', 'e', 0xa1, 'a', 0xc0 };
    static const uint8_t int_key [] = { 0x81, 0x05, 0xa1, 'a' };
    static const uint8_t huge_map [] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t huge_str [] = { 0x81, 0xa4, 't', 'y', 'p', 'e', 0xdb, 0x7f, 0xff, 0xff, 0xff };
    s_expect_error (client, "Publish", array, sizeof array, "map");
    s_expect_error (client, "Publish", string, sizeof string, "map");
    s_expect_error (client, "Publish", truncated, sizeof truncated, "truncated");
    s_expect_error (client, "Publish", trailing, sizeof trailing, "trailing");
    s_expect_error (client, "Publish", int_key, sizeof int_key, "string");
    s_expect_error (client, "Publish", huge_map, sizeof huge_map, NULL);
    s_expect_error (client, "Publish", huge_str, sizeof huge_str, NULL);
    //  data nested deeper than a body may be: {"type": "a", "data": {"d": {"d": ...}}}
    uint8_t deep [256];
    size_t size = 0;
    static const uint8_t head [] = {
        0x82, 0xa4, 't', 'y', 'p', 'e', 0xa1, 'a', 0xa4, 'd', 'a', 't', 'a' };
    memcpy (deep, head, sizeof head);
    size = sizeof head;
    for (int i = 0; i < 40; i++) {
        static const uint8_t level [] = { 0x81, 0xa1, 'd' };
        memcpy (deep + size, level, sizeof level);
        size += sizeof level;
    }
    deep [size++] = 0x01;
    s_expect_error (client, "Publish", deep, size, "deeper");

    //  PublishBatch: an array of 1..1000 events, each checked as Publish
    //  checks one, named by its index; one bad event publishes none.
    s_expect_error_json (client, "PublishBatch", "{}", "'events'");
    s_expect_error_json (client, "PublishBatch", "{\"events\": {}}", "'events'");
    s_expect_error_json (client, "PublishBatch", "{\"events\": []}",
                         "field 'events' has 0 items, expected 1..1000");
    s_expect_error_json (client, "PublishBatch", "{\"events\": [5]}",
                         "field 'events[0]' is a positive integer, expected a map");
    s_expect_error_json (client, "PublishBatch",
        "{\"events\": [{\"type\": \"a\"}, {\"type\": \"Not Lower\"}]}", "field 'events[1].type'");
    s_expect_error_json (client, "PublishBatch",
        "{\"events\": [{\"type\": \"a\", \"deployment\": \"-\"}]}", "field 'events[0].deployment'");
    s_expect_error_json (client, "PublishBatch",
        "{\"events\": [{\"type\": \"a\"}, {\"type\": \"a\", \"data\": 1}]}", "field 'events[1].data'");
    //  The data of a type the events contract defines is that type's.
    s_expect_error_json (client, "PublishBatch",
        "{\"events\": [{\"type\": \"a\"}, {\"type\": \"deployment.resumed\", \"deployment\": \"d1\", "
        "\"data\": {\"deployment\": \"d1\"}}]}", "field 'events[1].data.by' is required");
    {
        //  1001 events.
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 1);
        flot_pack_str (&pk, "events");
        msgpack_pack_array (&pk, 1001);
        for (int i = 0; i < 1001; i++) {
            msgpack_pack_map (&pk, 1);
            flot_pack_kv_str (&pk, "type", "a");
        }
        s_expect_error (client, "PublishBatch", sbuf.data, sbuf.size, "field 'events' has 1001 items, expected 1..1000");
        msgpack_sbuffer_destroy (&sbuf);
    }

    //  Replay: since is required, a uint; limit is 1..1000.
    s_expect_error_json (client, "Replay", "{}", "'since'");
    s_expect_error_json (client, "Replay", "{\"since\": \"1\"}", "'since'");
    s_expect_error_json (client, "Replay", "{\"since\": -1}", "'since'");
    s_expect_error_json (client, "Replay", "{\"since\": 1.5}", "'since'");
    s_expect_error_json (client, "Replay", "{\"since\": 0, \"limit\": 0}", "'limit'");
    s_expect_error_json (client, "Replay", "{\"since\": 0, \"limit\": 1001}", "'limit'");
    s_expect_error_json (client, "Replay", "{\"since\": 0, \"limit\": 9223372036854775807}", "'limit'");
    s_expect_error_json (client, "Replay", "{\"since\": 0, \"limit\": \"all\"}", "'limit'");
    s_expect_error_json (client, "Replay", "{\"since\": 0, \"deployment\": 3}", "'deployment'");
    snprintf (json, sizeof json, "{\"since\": 0, \"deployment\": \"%.300s\"}", long_text);
    s_expect_error_json (client, "Replay", json, "'deployment'");
    s_expect_error (client, "Replay", array, sizeof array, "map");
    s_expect_error (client, "Replay", truncated, sizeof truncated, "truncated");

    //  Nothing of that was published, and both commands still work.
    assert_true (proc_alive (daemon));
    flot_err_t err = { 0 };
    json_t *reply = proc_call (client, "events", NULL, "Publish",
        "{\"type\": \"check.ok\", \"deployment\": \"d1\", \"target\": \"eu-1\", "
        "\"message\": \"all good\", \"data\": {\"k\": [1, 2]}}", 2000, &err);
    if (!reply)
        fail_msg ("Publish failed after the garbage: %s", err.message);
    assert_int_equal (proc_json_int (reply, "seq"), 1);
    json_decref (reply);
    reply = proc_call (client, "events", NULL, "Replay", "{\"since\": 0}", 2000, &err);
    assert_non_null (reply);
    json_t *list = json_object_get (reply, "events");
    assert_int_equal (json_array_size (list), 1);
    json_t *event = json_array_get (list, 0);
    assert_int_equal (proc_json_int (event, "seq"), 1);
    assert_string_equal (json_string_value (json_object_get (event, "type")), "check.ok");
    assert_string_equal (json_string_value (json_object_get (event, "deployment")), "d1");
    assert_string_equal (json_string_value (json_object_get (event, "target")), "eu-1");
    assert_string_equal (json_string_value (json_object_get (event, "message")), "all good");
    assert_int_equal (json_array_size (json_object_get (json_object_get (event, "data"), "k")), 2);
    assert_true (proc_json_int (event, "time_ms") > 0);
    assert_int_equal (proc_json_int (reply, "oldest"), 1);
    assert_int_equal (proc_json_int (reply, "last"), 1);
    assert_true (json_is_false (json_object_get (reply, "more")));
    json_decref (reply);
    //  A good batch takes the next numbers, in order.
    reply = proc_call (client, "events", NULL, "PublishBatch",
        "{\"events\": [{\"type\": \"b.one\", \"deployment\": \"d2\"}, "
        "{\"type\": \"b.two\", \"deployment\": \"d2\", \"message\": \"second\"}]}",
        2000, &err);
    if (!reply)
        fail_msg ("PublishBatch failed: %s", err.message);
    assert_int_equal (proc_json_int (reply, "first"), 2);
    assert_int_equal (proc_json_int (reply, "last"), 3);
    json_decref (reply);
    reply = proc_call (client, "events", NULL, "Replay", "{\"since\": 2}", 2000, &err);
    assert_non_null (reply);
    list = json_object_get (reply, "events");
    assert_int_equal (json_array_size (list), 2);
    assert_string_equal (json_string_value (json_object_get (json_array_get (list, 0), "type")),
                         "b.one");
    assert_string_equal (json_string_value (json_object_get (json_array_get (list, 1), "message")),
                         "second");
    json_decref (reply);
    flot_client_destroy (&client);
}

//  --------------------------------------------------------------------------
//  The event stream

//  Publishes one event; returns its seq.
static long long
s_publish (flot_client_t *client, const char *deployment, const char *type, int i)
{
    char json [256];
    snprintf (json, sizeof json,
              "{\"type\": \"%s\", \"deployment\": \"%s\", \"data\": {\"i\": %d}}",
              type, deployment, i);
    flot_err_t err = { 0 };
    json_t *reply = proc_call (client, "events", NULL, "Publish", json, 2000, &err);
    if (!reply)
        fail_msg ("Publish %s failed: %s", json, err.message);
    long long seq = proc_json_int (reply, "seq");
    json_decref (reply);
    return seq;
}

//  Receives one event from a SUB socket within timeout_ms; checks its
//  frames ([topic][FLOT02][map]) and that the topic matches the body.
//  Returns the body, or NULL if nothing came.
static json_t *
s_receive_event (zsock_t *sub, int timeout_ms)
{
    zsock_set_rcvtimeo (sub, timeout_ms);
    zmsg_t *msg = zmsg_recv (sub);
    if (!msg)
        return NULL;
    assert_int_equal (zmsg_size (msg), 3);
    char *topic = zframe_strdup (zmsg_first (msg));
    zframe_t *sig = zmsg_next (msg);
    assert_int_equal (zframe_size (sig), FLOT_SIGNATURE_SIZE);
    assert_memory_equal (zframe_data (sig), FLOT_EVENTS_SIGNATURE, FLOT_SIGNATURE_SIZE);
    zframe_t *frame = zmsg_next (msg);
    json_t *body = proc_body_json (zframe_data (frame), zframe_size (frame));
    assert_non_null (body);
    const char *deployment = json_string_value (json_object_get (body, "deployment"));
    const char *type = json_string_value (json_object_get (body, "type"));
    assert_non_null (deployment);
    assert_non_null (type);
    char expected [256];
    snprintf (expected, sizeof expected, "%s/%s", *deployment ? deployment : "-", type);
    assert_string_equal (topic, expected);
    assert_true (proc_json_int (body, "time_ms") > 0);
    free (topic);
    zmsg_destroy (&msg);
    return body;
}

//  The pub endpoint from Info, and the PUB socket's public key into
//  public_key (41 bytes): with keys, the socket is a CURVE server.
static char *
s_pub_endpoint (flot_client_t *client, char *public_key)
{
    json_t *info = proc_call (client, "events", NULL, "Info", NULL, 2000, NULL);
    assert_non_null (info);
    const char *pub = json_string_value (json_object_get (info, "pub"));
    assert_non_null (pub);
    const char *key = json_string_value (json_object_get (info, "public_key"));
    if (!key || strlen (key) != 40)
        fail_msg ("Info gives no public key of the PUB socket of a daemon with keys");
    snprintf (public_key, 41, "%s", key);
    char *copy = strdup (pub);
    json_decref (info);
    return copy;
}

//  A subscriber to pub for topics starting with filter, as a CURVE client
//  of public_key with the local keys (which the broker allows).
static zsock_t *
s_subscriber (const char *pub, const char *public_key, const char *filter)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    assert_non_null (sub);
    proc_curve_apply (sub);
    zsock_set_curve_serverkey (sub, public_key);
    zsock_set_subscribe (sub, filter);
    assert_int_equal (zsock_connect (sub, "%s", pub), 0);
    return sub;
}

//  Starts flotillad with only the events actor, connected to a broker of its
//  own; waits until the events service answers.
static flot_client_t *
s_events_daemon (const char *name, int port, const char *capacity)
{
    char endpoint [64], events [64];
    proc_endpoint (endpoint, sizeof endpoint, port);
    proc_endpoint (events, sizeof events, port + 1);
    flot_client_t *client;
    proc_serve (name, endpoint, &client, "--broker-only", NULL);
    char actor_name [64];
    snprintf (actor_name, sizeof actor_name, "%s-actor", name);
    proc_t *actor = proc_start (actor_name, "--connect", endpoint, "--actors", "events",
                                "--instance", actor_name, "--events-bind", events,
                                "--events-capacity", capacity,
                                "--heartbeat", PROC_HEARTBEAT_ARG,
                                "--liveness", PROC_LIVENESS_ARG, NULL);
    assert_non_null (actor);
    json_t *entry = proc_wait_actor (client, "events", actor_name, actor, 5000);
    if (!entry)
        fail_msg ("the events actor did not register (see %s)", proc_log_path (actor));
    json_decref (entry);
    return client;
}

static void
test_subscriber_sees_consecutive_seq_and_replay (void **state)
{
    (void) state;
    flot_client_t *client = s_events_daemon ("events-big", PORT + 10, "10000");
    char public_key [41];
    char *pub = s_pub_endpoint (client, public_key);
    char expected_pub [64];
    proc_endpoint (expected_pub, sizeof expected_pub, PORT + 11);
    assert_string_equal (pub, expected_pub);
    zsock_t *all = s_subscriber (pub, public_key, "");
    zsock_t *d1 = s_subscriber (pub, public_key, "d1/");
    assert_non_null (all);
    assert_non_null (d1);
    free (pub);

    //  Subscriptions reach the PUB socket some time after connecting: publish
    //  warm-up events of d1 until both subscribers see them.
    long long last_warm = 0, seen_all = 0, seen_d1 = 0;
    int64_t until = proc_now () + 5000;
    json_t *event;
    while (!(seen_all && seen_d1) && proc_now () < until) {
        last_warm = s_publish (client, "d1", "warm.up", 0);
        while ((event = s_receive_event (all, 20))) {
            seen_all = proc_json_int (event, "seq");
            json_decref (event);
        }
        while ((event = s_receive_event (d1, 20))) {
            seen_d1 = proc_json_int (event, "seq");
            json_decref (event);
        }
    }
    assert_true (seen_all && seen_d1);
    //  Drain both up to the last warm-up event.
    while (seen_all < last_warm && (event = s_receive_event (all, 1000))) {
        seen_all = proc_json_int (event, "seq");
        json_decref (event);
    }
    while (seen_d1 < last_warm && (event = s_receive_event (d1, 1000))) {
        seen_d1 = proc_json_int (event, "seq");
        json_decref (event);
    }
    assert_int_equal (seen_all, last_warm);
    assert_int_equal (seen_d1, last_warm);

    //  200 events, alternating between deployments d1 and d2, of types the
    //  events contract does not define (so their data is free-form).
    for (int i = 1; i <= 200; i++) {
        long long seq = s_publish (client, i % 2 ? "d1" : "d2",
                                   i % 4 < 2 ? "step.done" : "health.changed", i);
        assert_int_equal (seq, last_warm + i);
    }
    long long last = last_warm + 200;
    //  The unfiltered subscriber sees all of them, in order, consecutive.
    for (int i = 1; i <= 200; i++) {
        event = s_receive_event (all, 2000);
        if (!event)
            fail_msg ("the subscriber got %d of 200 events", i - 1);
        assert_int_equal (proc_json_int (event, "seq"), last_warm + i);
        assert_int_equal (proc_json_int (json_object_get (event, "data"), "i"), i);
        assert_string_equal (json_string_value (json_object_get (event, "deployment")),
                             i % 2 ? "d1" : "d2");
        json_decref (event);
    }
    //  The filtered one sees only d1's, in order.
    for (int i = 1; i <= 200; i += 2) {
        event = s_receive_event (d1, 2000);
        if (!event)
            fail_msg ("the d1/ subscriber missed event %d", i);
        assert_int_equal (proc_json_int (event, "seq"), last_warm + i);
        assert_string_equal (json_string_value (json_object_get (event, "deployment")), "d1");
        json_decref (event);
    }
    assert_null (s_receive_event (d1, 200));
    assert_null (s_receive_event (all, 0));

    //  Replay from 150 gives 150..last, in order, all of it.
    json_t *reply = proc_call (client, "events", NULL, "Replay", "{\"since\": 150}", 2000, NULL);
    assert_non_null (reply);
    json_t *list = json_object_get (reply, "events");
    assert_int_equal (json_array_size (list), last - 150 + 1);
    size_t index;
    json_array_foreach (list, index, event)
        assert_int_equal (proc_json_int (event, "seq"), 150 + (long long) index);
    assert_int_equal (proc_json_int (reply, "oldest"), 1);
    assert_int_equal (proc_json_int (reply, "last"), last);
    assert_true (json_is_false (json_object_get (reply, "more")));
    json_decref (reply);
    //  Paging with limit, and filtering by deployment.
    reply = proc_call (client, "events", NULL, "Replay", "{\"since\": 1, \"limit\": 50}", 2000, NULL);
    assert_int_equal (json_array_size (json_object_get (reply, "events")), 50);
    assert_int_equal (proc_json_int (json_array_get (json_object_get (reply, "events"), 49), "seq"), 50);
    assert_true (json_is_true (json_object_get (reply, "more")));
    json_decref (reply);
    reply = proc_call (client, "events", NULL, "Replay",
                       "{\"since\": 0, \"deployment\": \"d2\"}", 2000, NULL);
    list = json_object_get (reply, "events");
    assert_int_equal (json_array_size (list), 100);
    json_array_foreach (list, index, event)
        assert_string_equal (json_string_value (json_object_get (event, "deployment")), "d2");
    json_decref (reply);
    zsock_destroy (&all);
    zsock_destroy (&d1);
    flot_client_destroy (&client);

    //  A history of 50 keeps the last 50; Replay since 1 starts at the
    //  oldest held, and the gap shows.
    client = s_events_daemon ("events-small", PORT + 20, "50");
    for (int i = 1; i <= 120; i++)
        assert_int_equal (s_publish (client, "d3", "step.begun", i), i);
    json_t *info = proc_call (client, "events", NULL, "Info", NULL, 2000, NULL);
    assert_non_null (info);
    assert_int_equal (proc_json_int (info, "capacity"), 50);
    assert_int_equal (proc_json_int (info, "held"), 50);
    assert_int_equal (proc_json_int (info, "oldest"), 71);
    assert_int_equal (proc_json_int (info, "last"), 120);
    json_decref (info);
    reply = proc_call (client, "events", NULL, "Replay", "{\"since\": 1}", 2000, NULL);
    assert_non_null (reply);
    list = json_object_get (reply, "events");
    assert_int_equal (json_array_size (list), 50);
    json_array_foreach (list, index, event)
        assert_int_equal (proc_json_int (event, "seq"), 71 + (long long) index);
    assert_int_equal (proc_json_int (reply, "oldest"), 71);
    assert_int_equal (proc_json_int (reply, "last"), 120);
    assert_true (json_is_false (json_object_get (reply, "more")));
    json_decref (reply);
    flot_client_destroy (&client);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_teardown (test_garbage_does_not_hurt_broker, proc_teardown),
        cmocka_unit_test_teardown (test_broker_announces_and_checks_versions, proc_teardown),
        cmocka_unit_test_teardown (test_curve_endpoint_survives_hostile_handshakes,
                                   proc_teardown),
        cmocka_unit_test_teardown (test_curve_raw_sockets_with_local_keys, proc_teardown),
        cmocka_unit_test_teardown (test_only_the_feeder_feeds_a_stream, proc_teardown),
        cmocka_unit_test_teardown (test_one_instance_service_refuses_a_second, proc_teardown),
        cmocka_unit_test_teardown (test_unreachable_instance_is_skipped, proc_teardown),
        cmocka_unit_test_teardown (test_revoked_key_loses_its_streams, proc_teardown),
        cmocka_unit_test_teardown (test_revoked_key_loses_streams_no_contract_names,
                                   proc_teardown),
        cmocka_unit_test_teardown (test_garbage_does_not_hurt_events_actor, proc_teardown),
        cmocka_unit_test_teardown (test_subscriber_sees_consecutive_seq_and_replay, proc_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
