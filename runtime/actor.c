/*  actor.c - the actor host: the connection to the broker and dispatch.

    Owns one DEALER socket to the broker and the flot_loop every handler runs
    in. It registers the actor (READY), sends a heartbeat each interval,
    watches the broker's heartbeats and reconnects with a fresh socket when
    they stop, registers again when the broker says it does not know us
    (DISCONNECT, e.g. after a broker restart), decodes and checks each
    DELIVER before a handler sees it, and keeps the open streams and the
    requests not answered yet. The same code runs in a thread (inproc) and in
    a process (tcp).
*/
#include "flotilla/actor.h"
#include "flotilla/contract_broker.h"
#include "flotilla/log.h"

#include <stdarg.h>
#include <sys/prctl.h>
#include <unistd.h>

struct _flot_actor_t {
    const flot_actor_def_t *def;
    char *endpoint;
    char *instance;
    char *keys;
    int heartbeat_ms;
    int liveness;
    zhash_t *options;
    char host [256];
    zsock_t *pipe;              //  thread mode only
    flot_loop_t *loop;
    zsock_t *dealer;
    flot_creds_t creds;         //  the key it connects with; creds.cert NULL: none
    int protocol;               //  the version we write in: the broker's to us (SPEC 13)
    int64_t broker_expiry;
    bool need_ready;
    bool link_down;             //  the broker was found lost, and not heard since
    char *refused;              //  why the broker refused us for good (DISCONNECT
                                //  with code CONFLICT): we stop; NULL: it did not
    void *state;
    flot_request_t *requests;   //  not answered yet: a list through prev/next
    flot_request_t *spare;      //  answered ones kept for reuse, through next
    size_t spare_count;
    zlistx_t *streams;          //  flot_stream_t *, open
    zhashx_t *calls;            //  corr -> call_t: our own requests in flight
    const flot_command_def_t **bound;   //  each handler's command in the contract
    uint64_t next_corr;
    uint64_t handled;
};

//  A request this actor made to another service.
typedef struct {
    uint64_t corr;
    int64_t give_up;            //  zclock_mono: deadline plus a margin
    bool stream;                //  answers go on after the REPLY
    flot_answer_fn *fn;
    void *arg;
} call_t;

struct _flot_request_t {
    flot_actor_t *actor;
    uint8_t route [FLOT_MAX_ROUTE];
    size_t route_size;
    uint64_t corr;
    char command [FLOT_MAX_NAME + 1];
    char key [FLOT_MAX_KEY + 1];
    char caller [FLOT_MAX_KEY + 1];     //  the caller's key name; "" if unknown
    int64_t deadline;
    const uint8_t *raw;         //  the body as received: inline, in frame, or malloc'ed
    size_t raw_size;
    uint8_t inline_raw [240];
    zmq_msg_t frame;            //  the DELIVER of a larger body, kept: raw is in it
    bool frame_kept;
    flot_body_t *body;          //  decoded on first use
    const flot_command_def_t *def;  //  its command in the contract, or NULL
    void *args;                 //  the body decoded by def, in body's zone
    flot_request_t *prev, *next;    //  in actor->requests
};

struct _flot_stream_t {
    uint8_t route [FLOT_MAX_ROUTE];
    size_t route_size;
    uint64_t corr;
    const flot_struct_t *message;   //  its messages in the contract, or NULL
    flot_stream_cancel_fn *on_cancel;
    void *arg;
    void *handle;               //  in actor->streams
};

//  --------------------------------------------------------------------------
//  Sending

static int
s_send (flot_actor_t *self, flot_msg_t *msg)
{
    if (!self->dealer)
        return -1;
    //  In the version the broker writes to us; until it has, in the oldest
    //  we speak, which a broker of either version reads (SPEC 13).
    if (!msg->version)
        msg->version = self->protocol;
    if (flot_msg_send (msg, zsock_resolve (self->dealer), NULL, true)) {
        //  A goodbye to a broker that has already gone is no news.
        if (msg->kind != FLOT_DISCONNECT)
            flot_warn (self->def->service, "cannot send %s to the broker: %s",
                   flot_kind_name (msg->kind), zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

static void
s_send_ready (flot_actor_t *self)
{
    //  The keys we claim, from "a,b,c" (at most one more than the commas).
    char *copy = strdup (self->keys ? self->keys : "");
    assert (copy);
    size_t cap = 1;
    for (const char *c = copy; *c; c++)
        cap += *c == ',';
    const char **keys = calloc (cap, sizeof *keys);
    assert (keys);
    size_t key_count = 0;
    char *save = NULL;
    for (char *k = strtok_r (copy, ",", &save); k; k = strtok_r (NULL, ",", &save))
        keys [key_count++] = k;
    //  The protocol versions we can be delivered in (SPEC 13).
    uint64_t versions [FLOT_MAX_VERSIONS];
    size_t version_count = 0;
    for (int v = FLOT_VERSION_OLDEST; v <= FLOT_VERSION; v++)
        versions [version_count++] = (uint64_t) v;
    flot_broker_ready_t ready = {
        .instance = self->instance,
        .host = self->host,
        .pid = (uint64_t) getpid (),
        .keys = { key_count, (void *) keys },
        .versions = { version_count, versions }
    };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_broker_ready_def, &ready, &sbuf);
    free (keys);
    free (copy);
    flot_msg_t msg = {
        .kind = FLOT_READY,
        .service = { (const uint8_t *) self->def->service, strlen (self->def->service) },
        .body = { (const uint8_t *) sbuf.data, sbuf.size }
    };
    s_send (self, &msg);
    msgpack_sbuffer_destroy (&sbuf);
    self->need_ready = false;
}

//  Encodes message by def into sbuf; false if there is no def to encode by.
static bool
s_encode (const flot_struct_t *def, const void *message, msgpack_sbuffer *sbuf)
{
    if (!def)
        return false;
    flot_encode_sbuf (def, message, sbuf);
    return true;
}

//  --------------------------------------------------------------------------
//  Requests

//  Answered requests kept for the next ones, at most: a busy actor then
//  allocates none in its steady state. None under AddressSanitizer, so that
//  it still sees a request used after its answer.
#define MAX_SPARE_REQUESTS 64
#if defined (__SANITIZE_ADDRESS__)
#   define KEEP_SPARE_REQUESTS 0
#elif defined (__has_feature)
#   if __has_feature (address_sanitizer)
#       define KEEP_SPARE_REQUESTS 0
#   endif
#endif
#ifndef KEEP_SPARE_REQUESTS
#   define KEEP_SPARE_REQUESTS 1
#endif

static void
s_request_destroy (flot_request_t **request_p)
{
    if (*request_p) {
        flot_request_t *request = *request_p;
        //  Unlink from the actor's list of open requests.
        if (request->prev)
            request->prev->next = request->next;
        else
            request->actor->requests = request->next;
        if (request->next)
            request->next->prev = request->prev;
        flot_body_destroy (&request->body);
        if (request->frame_kept)
            zmq_msg_close (&request->frame);
        else
        if (request->raw != request->inline_raw)
            free ((void *) request->raw);
        flot_actor_t *actor = request->actor;
        if (KEEP_SPARE_REQUESTS && actor->spare_count < MAX_SPARE_REQUESTS) {
            request->next = actor->spare;
            actor->spare = request;
            actor->spare_count++;
        }
        else
            free (request);
        *request_p = NULL;
    }
}

//  Sends an answer. A body is checked first, unless it is known good: a
//  request's own bytes, checked when they arrived and unchanged since.
static int
s_answer (flot_actor_t *self, int kind, const uint8_t *route, size_t route_size,
          uint64_t corr, const void *body, size_t size, bool checked)
{
    static const uint8_t empty_map [1] = { 0x80 };
    flot_msg_t msg = {
        .kind = kind,
        .route = { route, route_size },
        .corr = corr,
        .body = body ? (flot_bytes_t) { body, size } : (flot_bytes_t) { empty_map, 1 }
    };
    if (body && !checked) {
        flot_err_t err;
        if (flot_body_check (body, size, true, &err)) {
            flot_error (self->def->service, "refusing to send a bad body: %s",
                        err.message);
            return -1;
        }
    }
    return s_send (self, &msg);
}

int
flot_request_reply (flot_request_t **request_p, const void *body, size_t size)
{
    assert (request_p && *request_p);
    flot_request_t *request = *request_p;
    //  An echo of the request's body (as the echo actor sends) was checked
    //  on arrival: the same bytes need no second walk.
    bool checked = body && body == request->raw && size == request->raw_size;
    int rc = s_answer (request->actor, FLOT_A_REPLY, request->route,
                       request->route_size, request->corr, body, size, checked);
    if (rc && body) {
        //  Tell the caller rather than leave it waiting.
        flot_request_error (request_p, FLOT_E_INTERNAL,
                            "the reply could not be encoded or sent");
        return -1;
    }
    request->actor->handled++;
    s_request_destroy (request_p);
    return rc;
}

int
flot_request_error (flot_request_t **request_p, int code, const char *format, ...)
{
    assert (request_p && *request_p);
    flot_request_t *request = *request_p;
    char message [256];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    flot_pack_error (&sbuf, code, message);
    flot_debug (request->actor->def->service, "%s: %s %s", request->command,
                flot_err_name (code), message);
    int rc = s_answer (request->actor, FLOT_A_ERROR, request->route,
                       request->route_size, request->corr, sbuf.data, sbuf.size, false);
    msgpack_sbuffer_destroy (&sbuf);
    s_request_destroy (request_p);
    return rc;
}

int
flot_request_fail (flot_request_t **request_p, const flot_err_t *err)
{
    return flot_request_error (request_p, err->code, "%s", err->message);
}

void
flot_pack_begin (msgpack_sbuffer *sbuf, msgpack_packer *pk)
{
    msgpack_sbuffer_init (sbuf);
    msgpack_packer_init (pk, sbuf, msgpack_sbuffer_write);
}

int
flot_request_reply_sbuf (flot_request_t **request_p, msgpack_sbuffer *sbuf)
{
    int rc = flot_request_reply (request_p, sbuf->data, sbuf->size);
    msgpack_sbuffer_destroy (sbuf);
    return rc;
}

const void *flot_request_args (flot_request_t *r) { return r->args; }

int
flot_request_answer (flot_request_t **request_p, const void *reply)
{
    assert (request_p && *request_p);
    msgpack_sbuffer sbuf;
    if (!s_encode ((*request_p)->def ? (*request_p)->def->reply : NULL, reply, &sbuf))
        return flot_request_error (request_p, FLOT_E_INTERNAL,
                                   "%s has no reply in the contract", (*request_p)->command);
    return flot_request_reply_sbuf (request_p, &sbuf);
}

const char *flot_request_command (flot_request_t *r) { return r->command; }
const char *flot_request_key (flot_request_t *r) { return r->key; }
const char *flot_request_caller (flot_request_t *r) { return r->caller; }
const msgpack_object *
flot_request_body (flot_request_t *request)
{
    //  Checked on arrival, so decoding fails only for want of memory.
    static const msgpack_object empty = { .type = MSGPACK_OBJECT_MAP };
    if (!request->body) {
        flot_err_t err;
        request->body = flot_body_decode_checked (request->raw, request->raw_size, &err);
        if (!request->body) {
            flot_error (request->actor->def->service, "%s: %s", request->command,
                        err.message);
            return &empty;
        }
    }
    return flot_body_root (request->body);
}

const void *
flot_request_body_bytes (flot_request_t *request, size_t *size)
{
    *size = request->raw_size;
    return request->raw;
}
int64_t flot_request_deadline (flot_request_t *r) { return r->deadline; }
uint64_t flot_request_corr (flot_request_t *r) { return r->corr; }

//  --------------------------------------------------------------------------
//  Streams

flot_stream_t *
flot_request_open_stream (flot_request_t *request,
                          flot_stream_cancel_fn *on_cancel, void *arg)
{
    flot_stream_t *stream = calloc (1, sizeof *stream);
    if (!stream)
        return NULL;
    memcpy (stream->route, request->route, request->route_size);
    stream->route_size = request->route_size;
    stream->corr = request->corr;
    stream->message = request->def ? request->def->stream : NULL;
    stream->on_cancel = on_cancel;
    stream->arg = arg;
    stream->handle = zlistx_add_end (request->actor->streams, stream);
    return stream;
}

uint64_t
flot_stream_id (flot_stream_t *stream)
{
    return stream->corr;
}

int
flot_stream_send (flot_actor_t *self, flot_stream_t *stream,
                  const void *body, size_t size)
{
    return s_answer (self, FLOT_A_STREAM, stream->route, stream->route_size,
                     stream->corr, body, size, false);
}

int
flot_stream_push (flot_actor_t *self, flot_stream_t *stream, const void *message)
{
    msgpack_sbuffer sbuf;
    if (!s_encode (stream->message, message, &sbuf)) {
        flot_error (self->def->service, "a stream message with no contract");
        return -1;
    }
    int rc = flot_stream_send (self, stream, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

int
flot_stream_finish (flot_actor_t *self, flot_stream_t **stream_p, const void *message)
{
    msgpack_sbuffer sbuf;
    if (!message)
        return flot_stream_end (self, stream_p, NULL, 0);
    if (!s_encode ((*stream_p)->message, message, &sbuf)) {
        flot_error (self->def->service, "a stream message with no contract");
        flot_stream_end (self, stream_p, NULL, 0);
        return -1;
    }
    int rc = flot_stream_end (self, stream_p, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

static void
s_stream_destroy (flot_actor_t *self, flot_stream_t **stream_p)
{
    if (*stream_p) {
        zlistx_detach (self->streams, (*stream_p)->handle);
        free (*stream_p);
        *stream_p = NULL;
    }
}

int
flot_stream_end (flot_actor_t *self, flot_stream_t **stream_p,
                 const void *body, size_t size)
{
    assert (stream_p && *stream_p);
    flot_stream_t *stream = *stream_p;
    int rc = s_answer (self, FLOT_A_STREAM_END, stream->route, stream->route_size,
                       stream->corr, body, size, false);
    s_stream_destroy (self, stream_p);
    return rc;
}

flot_stream_t *
flot_actor_find_stream (flot_actor_t *self, flot_request_t *request, uint64_t id)
{
    for (flot_stream_t *s = zlistx_first (self->streams); s; s = zlistx_next (self->streams))
        if (s->corr == id && s->route_size == request->route_size
        &&  memcmp (s->route, request->route, s->route_size) == 0)
            return s;
    return NULL;
}

static void
s_on_cancel (flot_actor_t *self, const flot_msg_t *msg)
{
    for (flot_stream_t *s = zlistx_first (self->streams); s; s = zlistx_next (self->streams))
        if (s->corr == msg->corr && s->route_size == msg->route.size
        &&  memcmp (s->route, msg->route.data, s->route_size) == 0) {
            //  The broker says why: the caller is gone, or its key was revoked.
            char reason [128] = "its caller is gone";
            flot_err_t err;
            flot_body_t *body = flot_body_decode (msg->body.data, msg->body.size, &err);
            const msgpack_object *root = body ? flot_body_root (body) : NULL;
            for (uint32_t i = 0; root && i < root->via.map.size; i++) {
                const msgpack_object_kv *kv = &root->via.map.ptr [i];
                if (kv->key.type == MSGPACK_OBJECT_STR && kv->val.type == MSGPACK_OBJECT_STR
                &&  kv->key.via.str.size == 6 && memcmp (kv->key.via.str.ptr, "reason", 6) == 0)
                    snprintf (reason, sizeof reason, "%.*s", (int) kv->val.via.str.size,
                              kv->val.via.str.ptr);
            }
            flot_body_destroy (&body);
            flot_info (self->def->service, "stream %llu cancelled: %s",
                       (unsigned long long) s->corr, reason);
            if (s->on_cancel)
                s->on_cancel (self, s, s->arg);
            s_stream_destroy (self, &s);
            return;
        }
}

//  --------------------------------------------------------------------------
//  Dispatch

//  Decodes the request by def, its command in the contract (NULL for an
//  actor without one), so that its handler gets it checked and typed;
//  answers an error (and returns -1) if it fails.
static int
s_request_decode (flot_request_t *request, const flot_command_def_t *def)
{
    request->def = def;
    if (!def || !def->request)
        return 0;
    flot_err_t err;
    //  Checked on arrival, and kept until the request is destroyed.
    request->body = flot_body_decode_checked (request->raw, request->raw_size, &err);
    if (request->body)
        request->args = flot_decode_new (def->request, flot_body_root (request->body),
                                         flot_body_zone (request->body), &err);
    if (!request->args) {
        flot_request_fail (&request, &err);
        return -1;
    }
    return 0;
}

//  A DELIVER, decoded from frame (NULL: its bytes are not ours to keep).
static void
s_on_deliver (flot_actor_t *self, const flot_msg_t *msg, int64_t now, zmq_msg_t *frame)
{
    //  Not calloc: the inline buffers need no zeroing.
    flot_request_t *request = self->spare;
    if (request) {
        self->spare = request->next;
        self->spare_count--;
    }
    else
        request = malloc (sizeof *request);
    assert (request);
    request->actor = self;
    request->body = NULL;
    request->def = NULL;
    request->args = NULL;
    memcpy (request->route, msg->route.data, msg->route.size);
    request->route_size = msg->route.size;
    request->corr = msg->corr;
    //  The codec checked both: printable, no NUL, within the sizes.
    memcpy (request->command, msg->command.data, msg->command.size);
    request->command [msg->command.size] = 0;
    memcpy (request->key, msg->key.data, msg->key.size);
    request->key [msg->key.size] = 0;
    memcpy (request->caller, msg->caller.data, msg->caller.size);
    request->caller [msg->caller.size] = 0;
    request->deadline = now + msg->timeout_ms;
    request->prev = NULL;
    request->next = self->requests;
    if (self->requests)
        self->requests->prev = request;
    self->requests = request;

    //  Keep the body's bytes; check them now, decode them when asked. A
    //  small body is copied into the request; a larger one stays in its
    //  frame, which the request takes over (no copy, no allocation).
    request->frame_kept = false;
    if (msg->body.size <= sizeof request->inline_raw) {
        request->raw = request->inline_raw;
        memcpy (request->inline_raw, msg->body.data, msg->body.size);
    }
    else
    if (frame) {
        size_t offset = (size_t) (msg->body.data - (const uint8_t *) zmq_msg_data (frame));
        zmq_msg_init (&request->frame);
        zmq_msg_move (&request->frame, frame);
        request->frame_kept = true;
        request->raw = (const uint8_t *) zmq_msg_data (&request->frame) + offset;
    }
    else {
        uint8_t *copy = malloc (msg->body.size);
        assert (copy);
        memcpy (copy, msg->body.data, msg->body.size);
        request->raw = copy;
    }
    request->raw_size = msg->body.size;
    flot_err_t err;
    if (flot_body_check (request->raw, request->raw_size, true, &err)) {
        flot_request_error (&request, err.code, "%s: %s", request->command, err.message);
        return;
    }
    for (size_t i = 0; self->def->commands [i].name; i++)
        if (streq (self->def->commands [i].name, request->command)) {
            if (s_request_decode (request, self->bound ? self->bound [i] : NULL) == 0)
                self->def->commands [i].handler (self, request);
            return;
        }
    //  List the commands in the error, so the caller can correct itself.
    char list [200] = "";
    for (const flot_command_t *c = self->def->commands; c->name; c++) {
        size_t used = strlen (list);
        snprintf (list + used, sizeof list - used, "%s%s", used ? ", " : "", c->name);
    }
    flot_request_error (&request, FLOT_E_UNKNOWN_COMMAND,
                        "service '%s' has no command '%s' (it has %s)",
                        self->def->service, request->command, list);
}

//  --------------------------------------------------------------------------
//  Calls to other services

static char *
s_corr_key (uint64_t corr, char *buffer)
{
    snprintf (buffer, 17, "%016llx", (unsigned long long) corr);
    return buffer;
}

static void
s_call_finish (flot_actor_t *self, call_t *call, const flot_answer_t *answer)
{
    char key [17];
    call_t copy = *call;
    //  Forget it first: the callback may make new calls.
    if (answer->kind == FLOT_ERROR || answer->kind == FLOT_STREAM_END
    ||  (answer->kind == FLOT_REPLY && !copy.stream))
        zhashx_delete (self->calls, s_corr_key (copy.corr, key));
    if (copy.fn)
        copy.fn (self, answer, copy.arg);
}

//  Fail a call locally (no answer can come) with code and a sentence.
static void
s_call_fail (flot_actor_t *self, call_t *call, int code, const char *message)
{
    flot_answer_t answer = { .kind = FLOT_ERROR, .corr = call->corr };
    flot_err_set (&answer.err, code, "%s", message);
    s_call_finish (self, call, &answer);
}

static void
s_on_answer (flot_actor_t *self, const flot_msg_t *msg)
{
    char key [17];
    call_t *call = zhashx_lookup (self->calls, s_corr_key (msg->corr, key));
    if (!call) {
        flot_debug (self->def->service, "dropped a %s for no call of ours",
                    flot_kind_name (msg->kind));
        return;
    }
    //  A call that opened no stream gets one answer, never stream messages.
    if (!call->stream && (msg->kind == FLOT_STREAM || msg->kind == FLOT_STREAM_END)) {
        flot_debug (self->def->service, "dropped a %s for call %llu, which has no stream",
                    flot_kind_name (msg->kind), (unsigned long long) msg->corr);
        return;
    }
    flot_answer_t answer = { .kind = msg->kind, .corr = msg->corr };
    flot_body_t *body = NULL;
    if (msg->kind == FLOT_ERROR)
        flot_unpack_error (msg->body.data, msg->body.size, &answer.err);
    else {
        body = flot_body_decode (msg->body.data, msg->body.size, &answer.err);
        if (!body) {
            answer.kind = FLOT_ERROR;
            flot_err_set (&answer.err, FLOT_E_MALFORMED, "a bad answer: %s",
                          answer.err.message);
        }
        else
            answer.body = flot_body_root (body);
    }
    s_call_finish (self, call, &answer);
    flot_body_destroy (&body);
}

uint64_t
flot_actor_call_msg (flot_actor_t *self, const char *service, const char *key,
                     const char *command, const flot_struct_t *def,
                     const void *request, uint32_t timeout_ms, bool stream,
                     flot_answer_fn *fn, void *arg)
{
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (def, request, &sbuf);
    uint64_t corr = flot_actor_call (self, service, key, command, sbuf.data, sbuf.size,
                                     timeout_ms, stream, fn, arg);
    msgpack_sbuffer_destroy (&sbuf);
    return corr;
}

uint64_t
flot_actor_call (flot_actor_t *self, const char *service, const char *key,
                 const char *command, const void *body, size_t size,
                 uint32_t timeout_ms, bool stream, flot_answer_fn *fn, void *arg)
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
    if (!flot_name_valid (msg.service) || !flot_name_valid (msg.command)
    ||  msg.key.size > FLOT_MAX_KEY || msg.body.size > FLOT_MAX_BODY
    ||  s_send (self, &msg))
        return 0;
    call_t *call = calloc (1, sizeof *call);
    assert (call);
    call->corr = msg.corr;
    call->give_up = zclock_mono ()
                  + (timeout_ms ? timeout_ms : FLOT_DEFAULT_TIMEOUT_MS) + self->heartbeat_ms;
    call->stream = stream;
    call->fn = fn;
    call->arg = arg;
    char text [17];
    zhashx_insert (self->calls, s_corr_key (call->corr, text), call);
    return call->corr;
}

void
flot_actor_call_forget (flot_actor_t *self, uint64_t corr)
{
    char key [17];
    zhashx_delete (self->calls, s_corr_key (corr, key));
}

//  Calls that can get no answer any more: past their deadline (the broker
//  did not say so: it is gone), or all of them when the connection is lost.
static void
s_calls_expire (flot_actor_t *self, bool all, const char *why)
{
    int64_t now = zclock_mono ();
    zlistx_t *dead = zlistx_new ();
    for (call_t *call = zhashx_first (self->calls); call; call = zhashx_next (self->calls))
        if (all || (!call->stream && now > call->give_up))
            zlistx_add_end (dead, (void *) (uintptr_t) call->corr);
    for (void *item = zlistx_first (dead); item; item = zlistx_next (dead)) {
        char key [17];
        call_t *call = zhashx_lookup (self->calls, s_corr_key ((uint64_t) (uintptr_t) item, key));
        if (call)
            s_call_fail (self, call, all ? FLOT_E_CANCELLED : FLOT_E_DEADLINE, why);
    }
    zlistx_destroy (&dead);
}

//  A message that failed to decode: a DELIVER we can address is answered
//  with the error, anything else is logged and dropped.
static void
s_on_bad (flot_actor_t *self, const flot_bytes_t *frames, size_t count,
          const flot_err_t *err)
{
    flot_warn (self->def->service, "dropped a bad message: %s", err->message);
    //  A DELIVER header: signature, kind, route (length byte, bytes), corr.
    if (count < 1)
        return;
    const uint8_t *h = frames [0].data;
    size_t size = frames [0].size;
    if (size < FLOT_SIGNATURE_SIZE + 2 || h [FLOT_SIGNATURE_SIZE] != FLOT_DELIVER)
        return;
    size_t route_size = h [FLOT_SIGNATURE_SIZE + 1];
    const uint8_t *route = h + FLOT_SIGNATURE_SIZE + 2;
    if (route_size == 0 || size < FLOT_SIGNATURE_SIZE + 2 + route_size + 8)
        return;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    flot_pack_error (&sbuf, err->code, err->message);
    s_answer (self, FLOT_A_ERROR, route, route_size,
              flot_get_u64 (route + route_size), sbuf.data, sbuf.size, false);
    msgpack_sbuffer_destroy (&sbuf);
}

//  DISCONNECT from the broker. With code CONFLICT (SPEC 4.1: the service
//  runs one instance at a time and another is registered) we stop serving:
//  the loop ends and our host says why. Otherwise the broker does not know
//  us: we register again at the next heartbeat (SPEC 8).
static void
s_on_disconnect (flot_actor_t *self, const flot_msg_t *msg)
{
    flot_err_t err;
    flot_body_t *body = flot_body_decode (msg->body.data, msg->body.size, &err);
    flot_broker_disconnect_t bye = { 0 };
    if (body && flot_broker_disconnect_decode (flot_body_root (body), flot_body_zone (body),
                                               &bye, &err) == 0
    &&  bye.has_code && bye.code == FLOT_E_CONFLICT) {
        flot_error (self->def->service, "the broker refused instance %s (%s): %s; stopping",
                    self->instance, flot_err_name (FLOT_E_CONFLICT), bye.reason);
        if (!self->refused)
            self->refused = strdup (bye.reason);
        assert (self->refused);
    }
    else {
        flot_info (self->def->service, "the broker disconnected us (%s); registering again",
                   body && bye.reason ? bye.reason : "no reason given");
        self->need_ready = true;
    }
    flot_body_destroy (&body);
}

//  One message from the broker, as frame views, received at now
//  (zclock_mono); frame is the message's frame, which a request may keep
//  (then it is left empty), or NULL.
static void
s_on_message (flot_actor_t *self, const flot_bytes_t *frames, size_t count, int64_t now,
              zmq_msg_t *frame)
{
    flot_msg_t msg;
    flot_err_t err;
    if (flot_msg_decode (&msg, frames, count, &err)) {
        s_on_bad (self, frames, count, &err);
        return;
    }
    self->broker_expiry = now + (int64_t) self->heartbeat_ms * self->liveness;
    if (self->link_down) {
        self->link_down = false;
        if (self->def->on_link)
            self->def->on_link (self, true);
    }
    if (msg.kind == FLOT_DELIVER || msg.kind == FLOT_HEARTBEAT || msg.kind == FLOT_CANCEL)
        self->protocol = msg.version;
    switch (msg.kind) {
        case FLOT_DELIVER:
            s_on_deliver (self, &msg, now, frame);
            break;
        case FLOT_CANCEL:
            s_on_cancel (self, &msg);
            break;
        case FLOT_HEARTBEAT:
            break;
        case FLOT_DISCONNECT:
            s_on_disconnect (self, &msg);
            break;
        case FLOT_REPLY:
        case FLOT_ERROR:
        case FLOT_STREAM:
        case FLOT_STREAM_END:
            s_on_answer (self, &msg);
            break;
        default:
            flot_debug (self->def->service, "ignored %s", flot_kind_name (msg.kind));
            break;
    }
}

//  Reads the messages waiting, up to READ_BATCH at a time and for at most
//  READ_BUDGET_MS (a handler may be slow: the executor spawns a hook) so
//  that timers, heartbeats and the pipe still get their turn, into frames
//  on the stack: no allocation per message, no poll per message, and a
//  yield rather than a sleep when the broker is about to send the next one.
//  One reading of the clock per message: the budget's, taken before the
//  receive, is also the message's time of arrival (a yield of the receive
//  at most earlier, which only brings its deadline that much closer).
#define READ_BATCH 256
#define READ_BUDGET_MS 20

static int
s_on_dealer (flot_loop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    flot_actor_t *self = arg;
    void *handle = zsock_resolve (sock);
    int64_t now = zclock_mono ();
    int64_t until = now + READ_BUDGET_MS;
    for (int n = 0; n < READ_BATCH && self->dealer == sock && !self->refused; n++) {
        if (n > 0 && (now = zclock_mono ()) >= until)
            break;
        zmq_msg_t frames [FLOT_MAX_FRAMES];
        bool overflow;
        int count = flot_msg_recv_soon (handle, frames, FLOT_MAX_FRAMES, &overflow);
        if (count < 0)
            break;
        if (overflow)
            flot_warn (self->def->service, "dropped a message of too many frames");
        else {
            flot_bytes_t views [FLOT_MAX_FRAMES];
            for (int i = 0; i < count; i++)
                views [i] = (flot_bytes_t) { zmq_msg_data (&frames [i]),
                                             zmq_msg_size (&frames [i]) };
            s_on_message (self, views, (size_t) count, now, count == 1 ? &frames [0] : NULL);
        }
        for (int i = 0; i < count; i++)
            zmq_msg_close (&frames [i]);
    }
    return self->refused ? -1 : 0;     //  refused for good: the loop ends
}

//  A fresh socket to the broker, and READY.
static int
s_connect (flot_actor_t *self)
{
    if (self->dealer) {
        flot_loop_reader_end (self->loop, self->dealer);
        zsock_destroy (&self->dealer);
    }
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer)
        return -1;
    zsock_set_linger (self->dealer, 0);
    zsock_set_maxmsgsize (self->dealer, FLOT_MAX_MESSAGE);
    zsock_set_sndhwm (self->dealer, 100000);
    zsock_set_rcvhwm (self->dealer, 100000);
    flot_creds_apply (&self->creds, self->dealer);
    self->protocol = FLOT_VERSION_OLDEST;
    if (zsock_connect (self->dealer, "%s", self->endpoint)) {
        flot_error (self->def->service, "cannot connect to %s", self->endpoint);
        zsock_destroy (&self->dealer);
        return -1;
    }
    flot_loop_reader (self->loop, self->dealer, s_on_dealer, self);
    self->broker_expiry = zclock_mono () + (int64_t) self->heartbeat_ms * self->liveness;
    s_send_ready (self);
    return 0;
}

static int
s_on_heartbeat (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    flot_actor_t *self = arg;
    if (zclock_mono () > self->broker_expiry) {
        flot_notice (self->def->service, "the broker at %s is silent; reconnecting",
                     self->endpoint);
        s_connect (self);
        s_calls_expire (self, true, "the connection to the broker was lost");
        if (!self->link_down) {
            self->link_down = true;
            if (self->def->on_link)
                self->def->on_link (self, false);
        }
        return 0;
    }
    s_calls_expire (self, false, "no answer from the broker before the deadline");
    if (self->need_ready)
        s_send_ready (self);
    else {
        flot_msg_t msg = { .kind = FLOT_HEARTBEAT };
        s_send (self, &msg);
    }
    return 0;
}

static int
s_on_pipe (flot_loop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    (void) arg;
    char *command = zstr_recv (pipe);
    bool term = !command || streq (command, "$TERM");
    zstr_free (&command);
    return term ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  Life cycle

static void
s_call_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static flot_actor_t *
s_actor_new (const flot_actor_def_t *def, const flot_actor_config_t *config)
{
    flot_actor_t *self = calloc (1, sizeof *self);
    assert (self);
    self->def = def;
    self->endpoint = strdup (config->endpoint);
    self->protocol = FLOT_VERSION_OLDEST;
    if (config->creds)
        flot_creds_copy (&self->creds, config->creds);
    const char *keys = config->keys ? config->keys : def->keys;
    self->keys = keys ? strdup (keys) : NULL;
    self->heartbeat_ms = config->heartbeat_ms > 0 ? config->heartbeat_ms : FLOT_HEARTBEAT_MS;
    self->liveness = config->liveness > 0 ? config->liveness : FLOT_LIVENESS;
    self->options = config->options;
    if (gethostname (self->host, sizeof self->host - 1))
        strcpy (self->host, "unknown");
    if (config->instance)
        self->instance = strdup (config->instance);
    else {
        char name [FLOT_MAX_NAME + 1];
        snprintf (name, sizeof name, "%s-%d", def->service, (int) getpid ());
        self->instance = strdup (name);
    }
    self->streams = zlistx_new ();
    self->calls = zhashx_new ();
    zhashx_set_destructor (self->calls, s_call_free);
    self->next_corr = ((uint64_t) randof (1 << 30) << 20) + 1;
    self->loop = flot_loop_new ();
    return self;
}

static void
s_actor_destroy (flot_actor_t **self_p)
{
    flot_actor_t *self = *self_p;
    if (!self)
        return;
    //  Answer what is still open, then say goodbye.
    while (self->requests) {
        flot_request_t *request = self->requests;
        flot_request_error (&request, FLOT_E_CANCELLED, "the actor is stopping");
    }
    while (zlistx_size (self->streams)) {
        flot_stream_t *stream = zlistx_first (self->streams);
        flot_stream_end (self, &stream, NULL, 0);
    }
    if (self->dealer && !self->refused) {
        //  Its body says why (section 10): the broker logs it. (Not to a
        //  DISCONNECT that refused us: that is no one to say goodbye to.)
        msgpack_sbuffer sbuf;
        flot_broker_disconnect_t reason = { .reason = "the actor is stopping" };
        flot_encode_sbuf (&flot_broker_disconnect_def, &reason, &sbuf);
        flot_msg_t bye = {
            .kind = FLOT_DISCONNECT,
            .body = { (const uint8_t *) sbuf.data, sbuf.size }
        };
        s_send (self, &bye);
        msgpack_sbuffer_destroy (&sbuf);
    }
    while (self->spare) {
        flot_request_t *next = self->spare->next;
        free (self->spare);
        self->spare = next;
    }
    zlistx_destroy (&self->streams);
    zhashx_destroy (&self->calls);
    flot_loop_destroy (&self->loop);
    zsock_destroy (&self->dealer);
    free (self->endpoint);
    flot_creds_clear (&self->creds);
    free (self->keys);
    free (self->instance);
    free (self->bound);
    free (self->refused);
    free (self);
    *self_p = NULL;
}

//  Runs the actor until its loop ends; pipe may be NULL.
static void
s_actor_serve (flot_actor_t *self)
{
    flot_loop_timer (self->loop, (size_t) self->heartbeat_ms, 0, s_on_heartbeat, self);
    if (self->pipe) {
        flot_loop_reader (self->loop, self->pipe, s_on_pipe, self);
    }
    flot_notice (self->def->service, "instance %s serving via %s",
                 self->instance, self->endpoint);
    flot_loop_start (self->loop);
}

//  The handlers must be the contract's commands, one each: binds each
//  handler to its command (self->bound, in the handlers' order).
static int
s_bind_contract (flot_actor_t *self)
{
    const flot_actor_def_t *def = self->def;
    const flot_contract_t *contract = def->contract;
    if (!contract)
        return 0;
    size_t handlers = 0;
    while (def->commands [handlers].name)
        handlers++;
    self->bound = calloc (handlers + 1, sizeof *self->bound);
    assert (self->bound);
    for (size_t i = 0; i < handlers; i++) {
        self->bound [i] = flot_contract_command (contract, def->commands [i].name);
        if (!self->bound [i]) {
            flot_error (def->service, "handler %s is not a command of the %s contract",
                        def->commands [i].name, contract->service);
            return -1;
        }
    }
    for (size_t c = 0; c < contract->command_count; c++) {
        size_t found = 0;
        for (size_t i = 0; i < handlers; i++)
            found += self->bound [i] == &contract->commands [c];
        if (found != 1) {
            flot_error (def->service, "command %s of the %s contract has %zu handlers, "
                        "expected one", contract->commands [c].name, contract->service, found);
            return -1;
        }
    }
    return 0;
}

static int
s_actor_start (flot_actor_t *self)
{
    if (s_bind_contract (self))
        return -1;
    if (self->def->start && self->def->start (self))
        return -1;
    if (s_connect (self)) {
        if (self->def->stop)
            self->def->stop (self);
        return -1;
    }
    return 0;
}

typedef struct {
    const flot_actor_def_t *def;
    const flot_actor_config_t *config;
} thread_args_t;

static void
s_actor_thread (zsock_t *pipe, void *args)
{
    thread_args_t *targs = args;
    //  Named for its service, so that top -H and /proc show who is busy.
    char name [16];
    snprintf (name, sizeof name, "%s", targs->def->service);
    prctl (PR_SET_NAME, name, 0, 0, 0);
    flot_actor_t *self = s_actor_new (targs->def, targs->config);
    self->pipe = pipe;
    zsock_signal (pipe, 0);
    if (s_actor_start (self)) {
        zstr_send (pipe, "ERROR");
        s_actor_destroy (&self);
        char *command = zstr_recv (pipe);      //  wait for $TERM
        zstr_free (&command);
        return;
    }
    zstr_send (pipe, "OK");
    s_actor_serve (self);
    if (self->def->stop)
        self->def->stop (self);
    char *refused = self->refused ? strdup (self->refused) : NULL;
    const char *service = self->def->service;   //  targs is gone by now
    s_actor_destroy (&self);
    if (refused) {
        //  Stopped on its own: tell the host why ("FAILED <reason>"), then
        //  wait for its $TERM so that zactor_destroy does not block.
        zstr_sendf (pipe, "FAILED %s: %s", service, refused);
        free (refused);
        char *command = zstr_recv (pipe);
        zstr_free (&command);
    }
}

zactor_t *
flot_actor_thread (const flot_actor_def_t *def, const flot_actor_config_t *config)
{
    thread_args_t args = { def, config };
    zactor_t *actor = zactor_new (s_actor_thread, &args);
    if (!actor)
        return NULL;
    char *status = zstr_recv (actor);
    bool ok = status && streq (status, "OK");
    zstr_free (&status);
    if (!ok)
        zactor_destroy (&actor);
    return actor;
}

int
flot_actor_run (const flot_actor_def_t *def, const flot_actor_config_t *config)
{
    flot_actor_t *self = s_actor_new (def, config);
    if (s_actor_start (self)) {
        s_actor_destroy (&self);
        return -1;
    }
    s_actor_serve (self);
    if (self->def->stop)
        self->def->stop (self);
    int rc = self->refused ? -1 : 0;    //  the broker refused it for good
    s_actor_destroy (&self);
    return rc;
}

void flot_actor_set_state (flot_actor_t *self, void *state) { self->state = state; }
void *flot_actor_state (flot_actor_t *self) { return self->state; }
const char *flot_actor_service (flot_actor_t *self) { return self->def->service; }
const char *flot_actor_instance (flot_actor_t *self) { return self->instance; }
flot_loop_t *flot_actor_loop (flot_actor_t *self) { return self->loop; }

int64_t
flot_actor_liveness_ms (flot_actor_t *self)
{
    return (int64_t) self->heartbeat_ms * self->liveness;
}

int64_t
flot_actor_heartbeat_ms (flot_actor_t *self)
{
    return self->heartbeat_ms;
}

const char *
flot_actor_option (flot_actor_t *self, const char *name, const char *default_value)
{
    const char *value = self->options ? zhash_lookup (self->options, name) : NULL;
    return value ? value : default_value;
}
