/*  events.c - the event publisher actor (service "events").

    Every lifecycle event goes through here: Publish gives it the next
    sequence number and a timestamp, keeps it in a bounded history, and sends
    it on the PUB socket as [topic][signature][body], with the topic
    "<deployment>/<type>" so subscribers can filter by prefix. Replay serves
    the history from a sequence number, so a subscriber that saw a gap (or
    started late) can catch up; Info says where to subscribe. Owns the PUB
    socket, the sequence counter and the history.

    Options: pub (endpoint to bind, default tcp://127.0.0.1:5556), capacity
    (events kept, default 10000), pub-public (the endpoint advertised by
    Info when subscribers must use another address than the bound one),
    store (an SQLite file: every event is logged there before it is
    published, and a restart takes the history and the sequence up again).
*/
#include "flotilla/events.h"
#include "flotilla/event_log.h"
#include "flotilla/log.h"

#define WHO "events"
#define MAX_TYPE 64
#define MAX_DEPLOYMENT 128
#define MAX_TARGET 255
#define MAX_MESSAGE 1024
#define MAX_REPLAY 1000
#define MAX_BATCH 1000
#define MAX_REPLAY_BYTES (FLOT_MAX_BODY - 4096)

typedef struct {
    uint64_t seq;
    char deployment [MAX_DEPLOYMENT + 1];
    uint8_t *body;
    size_t size;
} event_t;

typedef struct {
    zsock_t *pub;
    char endpoint [256];        //  advertised by Info
    uint64_t last;              //  last sequence number given
    event_t *ring;
    size_t capacity;
    size_t head;                //  index of the oldest event
    size_t count;
    flot_event_log_t *log;      //  the durable history, or NULL
} events_t;

static bool
s_ident_valid (const char *s, bool lower_only)
{
    for (const char *c = s; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')
               || *c == '.' || *c == '_' || *c == '-'
               || (!lower_only && *c >= 'A' && *c <= 'Z');
        if (!ok)
            return false;
    }
    return true;
}

static event_t *
s_at (events_t *self, size_t index)
{
    return &self->ring [(self->head + index) % self->capacity];
}

static uint64_t
s_oldest (events_t *self)
{
    return self->count ? s_at (self, 0)->seq : 0;
}

//  --------------------------------------------------------------------------
//  Publish

//  One event to publish, read and checked from a map.
typedef struct {
    char type [MAX_TYPE + 1];
    char deployment [MAX_DEPLOYMENT + 1];
    char target [MAX_TARGET + 1];
    char message [MAX_MESSAGE + 1];
    const msgpack_object *data;
} event_in_t;

//  Reads an event from map; where names it in errors ("" or "events[3]: ").
//  Returns 0, or -1 with err.
static int
s_event_read (const msgpack_object *map, const char *where, event_in_t *in, flot_err_t *err)
{
    memset (in, 0, sizeof *in);
    if (map->type != MSGPACK_OBJECT_MAP) {
        flot_err_set (err, FLOT_E_INVALID, "%sexpected a map", where);
        return -1;
    }
    if (flot_map_str (map, "type", true, in->type, sizeof in->type, err) < 0
    ||  flot_map_str (map, "deployment", false, in->deployment, sizeof in->deployment, err) < 0
    ||  flot_map_str (map, "target", false, in->target, sizeof in->target, err) < 0
    ||  flot_map_str (map, "message", false, in->message, sizeof in->message, err) < 0
    ||  flot_map_object (map, "data", false, MSGPACK_OBJECT_MAP, &in->data, err) < 0) {
        if (*where) {
            char message [sizeof err->message];
            snprintf (message, sizeof message, "%s%s", where, err->message);
            memcpy (err->message, message, sizeof message);
        }
        return -1;
    }
    if (!*in->type || !s_ident_valid (in->type, true)) {
        flot_err_set (err, FLOT_E_INVALID, "%sfield 'type': '%s' must be 1..%d of [a-z0-9._-]",
                      where, in->type, MAX_TYPE);
        return -1;
    }
    //  A name (SPEC 3.1) other than "-", which stands for none in topics.
    if (!s_ident_valid (in->deployment, false) || strlen (in->deployment) > FLOT_MAX_NAME
    ||  streq (in->deployment, "-")) {
        flot_err_set (err, FLOT_E_INVALID,
                      "%sfield 'deployment': '%s' must be empty or 1..%d of [A-Za-z0-9._-], not '-'",
                      where, in->deployment, FLOT_MAX_NAME);
        return -1;
    }
    return 0;
}

static uint64_t
s_event_publish (events_t *self, const event_in_t *in)
{
    return flot_events_publish (self, in->type, in->deployment,
                                *in->target ? in->target : NULL,
                                *in->message ? in->message : NULL, in->data);
}

static void
s_publish (flot_actor_t *actor, flot_request_t *request)
{
    events_t *self = flot_actor_state (actor);
    event_in_t in;
    flot_err_t err;
    if (s_event_read (flot_request_body (request), "", &in, &err)) {
        flot_request_fail (&request, &err);
        return;
    }
    uint64_t seq = s_event_publish (self, &in);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 1);
    flot_pack_kv_uint (&pk, "seq", seq);
    flot_request_reply_sbuf (&request, &sbuf);
}

//  Several events at once, in order: all are checked before any is
//  published, and the log takes them in one transaction.
static void
s_publish_batch (flot_actor_t *actor, flot_request_t *request)
{
    events_t *self = flot_actor_state (actor);
    const msgpack_object *events = NULL;
    flot_err_t err;
    if (flot_map_object (flot_request_body (request), "events", true, MSGPACK_OBJECT_ARRAY,
                         &events, &err) < 0) {
        flot_request_fail (&request, &err);
        return;
    }
    uint32_t count = events->via.array.size;
    if (count == 0 || count > MAX_BATCH) {
        flot_request_error (&request, FLOT_E_INVALID,
                            "field 'events': %u events is not in 1..%d", count, MAX_BATCH);
        return;
    }
    event_in_t *in = malloc (count * sizeof *in);
    assert (in);
    for (uint32_t i = 0; i < count; i++) {
        char where [32];
        snprintf (where, sizeof where, "events[%u]: ", i);
        if (s_event_read (&events->via.array.ptr [i], where, &in [i], &err)) {
            free (in);
            flot_request_fail (&request, &err);
            return;
        }
    }
    if (self->log && flot_event_log_begin (self->log, &err))
        flot_error (WHO, "%s", err.message);
    uint64_t first = 0, last = 0;
    for (uint32_t i = 0; i < count; i++) {
        last = s_event_publish (self, &in [i]);
        if (i == 0)
            first = last;
    }
    if (self->log && flot_event_log_commit (self->log, &err))
        flot_error (WHO, "%s", err.message);
    free (in);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 2);
    flot_pack_kv_uint (&pk, "first", first);
    flot_pack_kv_uint (&pk, "last", last);
    flot_request_reply_sbuf (&request, &sbuf);
}

//  Keep an event in the history (taking body); the oldest goes when full.
static event_t *
s_keep (events_t *self, uint64_t seq, const char *deployment, uint8_t *body, size_t size)
{
    event_t *event;
    if (self->count == self->capacity) {
        event = s_at (self, 0);
        free (event->body);
        self->head = (self->head + 1) % self->capacity;
    }
    else
        self->count++;
    event = s_at (self, self->count - 1);
    event->seq = seq;
    snprintf (event->deployment, sizeof event->deployment, "%s", deployment);
    event->body = body;
    event->size = size;
    return event;
}

static void
s_load_one (uint64_t seq, const char *deployment, const void *body, size_t size, void *arg)
{
    uint8_t *copy = malloc (size ? size : 1);
    memcpy (copy, body, size);
    s_keep (arg, seq, deployment, copy, size);
}

uint64_t
flot_events_publish (void *state, const char *type, const char *deployment,
                     const char *target, const char *message,
                     const msgpack_object *data)
{
    events_t *self = state;
    uint64_t seq = ++self->last;
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 4 + (target ? 1 : 0) + (message ? 1 : 0) + (data ? 1 : 0));
    flot_pack_kv_uint (&pk, "seq", seq);
    flot_pack_kv_uint (&pk, "time_ms", (uint64_t) zclock_time ());
    flot_pack_kv_str (&pk, "type", type);
    flot_pack_kv_str (&pk, "deployment", deployment);
    if (target)
        flot_pack_kv_str (&pk, "target", target);
    if (message)
        flot_pack_kv_str (&pk, "message", message);
    if (data) {
        flot_pack_str (&pk, "data");
        msgpack_pack_object (&pk, *data);
    }
    flot_err_t err;
    if (self->log && flot_event_log_append (self->log, seq, deployment, sbuf.data,
                                            sbuf.size, &err))
        flot_error (WHO, "%s", err.message);
    event_t *event = s_keep (self, seq, deployment, (uint8_t *) sbuf.data, sbuf.size);

    char topic [MAX_DEPLOYMENT + MAX_TYPE + 3];
    snprintf (topic, sizeof topic, "%s/%s", *deployment ? deployment : "-", type);
    void *handle = zsock_resolve (self->pub);
    if (zmq_send (handle, topic, strlen (topic), ZMQ_SNDMORE) < 0
    ||  zmq_send (handle, FLOT_SIGNATURE, FLOT_SIGNATURE_SIZE, ZMQ_SNDMORE) < 0
    ||  zmq_send (handle, event->body, event->size, 0) < 0)
        flot_warn (WHO, "event %llu not published: %s",
                   (unsigned long long) seq, zmq_strerror (zmq_errno ()));
    flot_debug (WHO, "event %llu %s", (unsigned long long) seq, topic);
    return seq;
}

//  --------------------------------------------------------------------------
//  Replay and Info

static void
s_replay (flot_actor_t *actor, flot_request_t *request)
{
    events_t *self = flot_actor_state (actor);
    const msgpack_object *body = flot_request_body (request);
    uint64_t since = 0, limit = MAX_REPLAY;
    char deployment [MAX_DEPLOYMENT + 1] = "";
    flot_err_t err;
    if (flot_map_uint (body, "since", true, 0, UINT64_MAX, &since, &err) < 0
    ||  flot_map_uint (body, "limit", false, 1, MAX_REPLAY, &limit, &err) < 0
    ||  flot_map_str (body, "deployment", false, deployment, sizeof deployment, &err) < 0) {
        flot_request_fail (&request, &err);
        return;
    }
    //  The first event at or after since: sequence numbers are consecutive
    //  in the history, so it is found by arithmetic.
    uint64_t oldest = s_oldest (self);
    size_t start = self->count;
    if (self->count && since <= self->last)
        start = since <= oldest ? 0 : (size_t) (since - oldest);
    size_t picked [MAX_REPLAY];
    size_t npicked = 0, bytes = 0;
    bool more = false;
    for (size_t i = start; i < self->count; i++) {
        event_t *event = s_at (self, i);
        if (*deployment && strcmp (event->deployment, deployment) != 0)
            continue;
        if (npicked == limit || bytes + event->size > MAX_REPLAY_BYTES) {
            more = true;
            break;
        }
        picked [npicked++] = i;
        bytes += event->size;
    }
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 4);
    flot_pack_str (&pk, "events");
    msgpack_pack_array (&pk, npicked);
    for (size_t i = 0; i < npicked; i++) {
        event_t *event = s_at (self, picked [i]);
        msgpack_sbuffer_write (&sbuf, (const char *) event->body, event->size);
    }
    flot_pack_kv_uint (&pk, "oldest", oldest);
    flot_pack_kv_uint (&pk, "last", self->last);
    flot_pack_kv_bool (&pk, "more", more);
    flot_request_reply_sbuf (&request, &sbuf);
}

static void
s_info (flot_actor_t *actor, flot_request_t *request)
{
    events_t *self = flot_actor_state (actor);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 5);
    flot_pack_kv_str (&pk, "pub", self->endpoint);
    flot_pack_kv_uint (&pk, "last", self->last);
    flot_pack_kv_uint (&pk, "oldest", s_oldest (self));
    flot_pack_kv_uint (&pk, "held", self->count);
    flot_pack_kv_uint (&pk, "capacity", self->capacity);
    flot_request_reply_sbuf (&request, &sbuf);
}

//  --------------------------------------------------------------------------
//  Life cycle

static int
s_start (flot_actor_t *actor)
{
    const char *endpoint = flot_actor_option (actor, "pub", FLOT_EVENTS_ENDPOINT);
    const char *capacity = flot_actor_option (actor, "capacity", "10000");
    char *end = NULL;
    long n = strtol (capacity, &end, 10);
    if (!end || *end || n < 1 || n > 10000000) {
        flot_error (WHO, "capacity '%s' is not a number in 1..10000000", capacity);
        return -1;
    }
    events_t *self = calloc (1, sizeof *self);
    self->capacity = (size_t) n;
    self->ring = calloc (self->capacity, sizeof (event_t));
    self->pub = zsock_new (ZMQ_PUB);
    if (!self->ring || !self->pub) {
        flot_error (WHO, "cannot allocate the history of %ld events", n);
        zsock_destroy (&self->pub);
        free (self->ring);
        free (self);
        return -1;
    }
    zsock_set_linger (self->pub, 0);
    zsock_set_sndhwm (self->pub, 100000);
    if (zsock_bind (self->pub, "%s", endpoint) < 0) {
        flot_error (WHO, "cannot bind the event socket to %s: %s",
                    endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&self->pub);
        free (self->ring);
        free (self);
        return -1;
    }
    const char *store = flot_actor_option (actor, "events-store", NULL);
    if (store) {
        flot_err_t err;
        self->log = flot_event_log_open (store, &err);
        int64_t last = self->log
                     ? flot_event_log_load (self->log, self->capacity, s_load_one, self, &err)
                     : -1;
        if (last < 0) {
            flot_error (WHO, "%s", err.message);
            flot_event_log_destroy (&self->log);
            for (size_t i = 0; i < self->count; i++)
                free (s_at (self, i)->body);
            zsock_destroy (&self->pub);
            free (self->ring);
            free (self);
            return -1;
        }
        self->last = (uint64_t) last;
        flot_notice (WHO, "history %s: %zu events, the last #%llu", store, self->count,
                     (unsigned long long) self->last);
    }
    const char *advertised = flot_actor_option (actor, "pub-public", NULL);
    snprintf (self->endpoint, sizeof self->endpoint, "%s",
              advertised ? advertised : zsock_endpoint (self->pub));
    flot_notice (WHO, "publishing events on %s", self->endpoint);
    flot_actor_set_state (actor, self);
    return 0;
}

static void
s_stop (flot_actor_t *actor)
{
    events_t *self = flot_actor_state (actor);
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        free (s_at (self, i)->body);
    free (self->ring);
    zsock_destroy (&self->pub);
    flot_event_log_destroy (&self->log);
    free (self);
    flot_actor_set_state (actor, NULL);
}

static const flot_command_t s_commands [] = {
    { "Publish", s_publish },
    { "PublishBatch", s_publish_batch },
    { "Replay", s_replay },
    { "Info", s_info },
    { NULL, NULL }
};

const flot_actor_def_t flot_events_actor = {
    .service = "events",
    .commands = s_commands,
    .start = s_start,
    .stop = s_stop
};
