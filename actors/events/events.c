/*  events.c - the event publisher actor (service "events").

    Every lifecycle event goes through here: Publish gives it the next
    sequence number and a timestamp, keeps it in a bounded history, and sends
    it on the PUB socket as [topic][signature][body], with the topic
    "<deployment>/<type>" so subscribers can filter by prefix. Replay serves
    the history from a sequence number, so a subscriber that saw a gap (or
    started late) can catch up; Info says where to subscribe. Owns the PUB
    socket, the sequence counter and the history. Its messages, and the
    data of every event type, are protocol/contracts/events.json; Publish
    refuses data that does not match its type's definition.

    Options: pub (endpoint to bind, default tcp://127.0.0.1:5556), capacity
    (events kept, default 10000), pub-public (the endpoint advertised by
    Info when subscribers must use another address than the bound one),
    store (an SQLite file: every event is logged there before it is
    published, and a restart takes the history and the sequence up again).
*/
#include "events.h"
#include "event_log.h"
#include "flotilla/contract_events.h"
#include "flotilla/log.h"

#define WHO "events"
#define MAX_TYPE 64
#define MAX_DEPLOYMENT FLOT_MAX_ID
#define MAX_REPLAY 1000            //  events.Replay: at most this many a reply (its limit)
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

//  Prefixes the path of the field err names with prefix: "field 'step' is
//  required" becomes "field 'events[3].data.step' is required".
static void
s_err_prefix (flot_err_t *err, const char *prefix)
{
    const char *lead = "field '";
    if (strncmp (err->message, lead, strlen (lead)) != 0)
        return;
    char message [sizeof err->message];
    snprintf (message, sizeof message, "%s%s%s", lead, prefix, err->message + strlen (lead));
    memcpy (err->message, message, sizeof message);
}

//  The string field called name of the decoded data of def, or NULL.
static const char *
s_data_str (const flot_struct_t *def, const void *data, const char *name)
{
    for (size_t i = 0; i < def->field_count; i++)
        if (def->fields [i].type == FLOT_T_STR && streq (def->fields [i].name, name))
            return *(const char *const *) ((const char *) data + def->fields [i].offset);
    return NULL;
}

//  Checks an event the codec decoded: its type and deployment id, and the
//  data of a type the events contract defines (SPEC 11.1), which must be
//  that type's and name the same deployment and target. An event of another
//  type has free-form data; one of a defined type without data comes from a
//  publisher older than typed events (SPEC 13), and is taken as it is.
//  where is the path of the event ("" or "events[3]."). Returns 0, or -1
//  with err.
static int
s_event_check (const flot_events_new_event_t *in, const char *where, flot_err_t *err)
{
    const char *deployment = in->deployment ? in->deployment : "";
    if (!s_ident_valid (in->type, true))
        return flot_err_set (err, FLOT_E_INVALID,
                             "field '%stype': '%s' must be 1..%d of [a-z0-9._-]",
                             where, in->type, MAX_TYPE);
    //  An id (the contract bounds its length) of a name's characters, other
    //  than "-", which stands for none in topics.
    if (!s_ident_valid (deployment, false) || streq (deployment, "-"))
        return flot_err_set (err, FLOT_E_INVALID,
                             "field '%sdeployment': '%s' must be empty or 1..%d of "
                             "[A-Za-z0-9._-], not '-'", where, deployment, FLOT_MAX_ID);
    const flot_event_def_t *def = flot_event_def (in->type);
    if (!def || !in->data)
        return 0;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    void *data = flot_decode_new (def->data, in->data, &zone, err);
    int rc = 0;
    if (!data) {
        char prefix [32];
        snprintf (prefix, sizeof prefix, "%sdata.", where);
        s_err_prefix (err, prefix);
        rc = -1;
    }
    else {
        const char *said = s_data_str (def->data, data, "deployment");
        const char *target = s_data_str (def->data, data, "target");
        if (said && !streq (said, deployment))
            rc = flot_err_set (err, FLOT_E_INVALID, "field '%sdata.deployment': '%s' is not "
                               "the event's deployment '%s'", where, said, deployment);
        else
        if (target && in->target && !streq (target, in->target))
            rc = flot_err_set (err, FLOT_E_INVALID, "field '%sdata.target': '%s' is not "
                               "the event's target '%s'", where, target, in->target);
    }
    msgpack_zone_destroy (&zone);
    return rc;
}

static uint64_t
s_event_publish (events_t *self, const flot_events_new_event_t *in)
{
    return flot_events_publish (self, in->type, in->deployment ? in->deployment : "",
                                in->target && *in->target ? in->target : NULL,
                                in->message && *in->message ? in->message : NULL, in->data);
}

static void
s_publish (flot_actor_t *actor, flot_request_t *request)
{
    events_t *self = flot_actor_state (actor);
    const flot_events_new_event_t *in = flot_request_args (request);
    flot_err_t err;
    if (s_event_check (in, "", &err)) {
        flot_request_fail (&request, &err);
        return;
    }
    flot_events_publish_reply_t reply = { .seq = s_event_publish (self, in) };
    flot_request_answer (&request, &reply);
}

//  Several events at once, in order: all are checked before any is
//  published, and the log takes them in one transaction.
static void
s_publish_batch (flot_actor_t *actor, flot_request_t *request)
{
    events_t *self = flot_actor_state (actor);
    const flot_events_publish_batch_request_t *args = flot_request_args (request);
    const flot_events_new_event_t *in = args->events.items;
    flot_err_t err;
    for (size_t i = 0; i < args->events.count; i++) {
        char where [32];
        snprintf (where, sizeof where, "events[%zu].", i);
        if (s_event_check (&in [i], where, &err)) {
            flot_request_fail (&request, &err);
            return;
        }
    }
    if (self->log && flot_event_log_begin (self->log, &err))
        flot_error (WHO, "%s", err.message);
    flot_events_publish_batch_reply_t reply = { 0 };
    for (size_t i = 0; i < args->events.count; i++) {
        reply.last = s_event_publish (self, &in [i]);
        if (i == 0)
            reply.first = reply.last;
    }
    if (self->log && flot_event_log_commit (self->log, &err))
        flot_error (WHO, "%s", err.message);
    flot_request_answer (&request, &reply);
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
    flot_events_event_t published = {
        .seq = seq, .time_ms = (uint64_t) zclock_time (), .type = type,
        .deployment = deployment, .target = target, .message = message, .data = data
    };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_events_event_def, &published, &sbuf);
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
    const flot_events_replay_request_t *args = flot_request_args (request);
    //  The contract bounds limit; picked [] holds no more whatever it says.
    uint64_t since = args->since, limit = MIN (args->limit, MAX_REPLAY);
    const char *deployment = args->deployment ? args->deployment : "";
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
    //  The reply holds the events as they were published, their bytes
    //  copied from the history: a Replay reply (the contract's
    //  events.Replay reply) packed around them.
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
    flot_events_info_reply_t reply = {
        .pub = self->endpoint, .last = self->last, .oldest = s_oldest (self),
        .held = self->count, .capacity = self->capacity
    };
    flot_request_answer (&request, &reply);
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
    .contract = &flot_events_contract,
    .commands = s_commands,
    .start = s_start,
    .stop = s_stop
};
