/*  flot_subscriber.c - the event stream of a Flotilla system, in order.

    A client of the events service (its contract: protocol/contracts/
    events.json; the stream: SPEC section 11). It subscribes to the PUB
    socket first, then replays what was published before (so nothing falls
    between the two), and then reads the stream: a live event past a gap in
    the seqs has the gap replayed before it, an event already handed is
    skipped, and when the stream is quiet, Info says whether an event was
    lost or the history began again. Every event, live or replayed, is
    checked by the events contract; one that fails is dropped, not the page
    or the stream. The work is done as flot_subscriber_next pulls items, so
    that each event is handed as soon as it is read. Owns its SUB socket and
    the bodies of the events it holds; the client is the caller's.

    When Info gives the PUB socket's public key (SPEC 11.4), the SUB socket
    is a CURVE client of it, with the subscriber's key (the client's, or
    one set): the events service admits only the keys the broker allows,
    and binds its socket again when one is revoked, which the subscriber
    sees as a gap (or, when the stream is quiet, Info does) and replays.
*/
#include "flotilla/subscriber.h"
#include "flotilla/body.h"

#define EVENTS_SERVICE  "events"
#define SUB_HWM         100000      //  live events queued on the SUB socket
#define PUB_MAX         256         //  the longest PUB endpoint Info may give, and NUL
#define KEY_Z85         41          //  a CURVE public key in Z85, and NUL

//  How far the subscriber is.
typedef enum {
    S_START,                    //  nothing sent yet
    S_RUNNING,                  //  subscribed: replaying, or reading the stream
    S_OVER                      //  END or FAILED was handed
} stage_t;

//  Why a replay runs, which says what its end and its failure mean.
typedef enum {
    R_START,                    //  the events before the subscriber went live
    R_GAP,                      //  the events before a live one, which waits
    R_CHECK                     //  the events Info says the stream lost
} purpose_t;

//  Where a check (Info, then a replay of what was lost) is.
typedef enum { C_NONE, C_ASK, C_ANSWERED } check_t;

//  A replay in progress, page by page.
typedef struct {
    bool active;
    purpose_t purpose;
    uint64_t since;             //  the page asked from
    bool first;                 //  the first page (until it is done)
    flot_body_t *body;          //  the page; NULL until asked
    const msgpack_object *events;
    size_t count, index;        //  its events, and the next to look at
    uint64_t oldest, last, next;
    bool more;
} replay_t;

//  What Info says of the PUB socket and the history.
typedef struct {
    char pub [PUB_MAX];
    char public_key [KEY_Z85];  //  "" when the socket is plain
    uint64_t last;
} info_t;

//  A live event, checked: its strings live in its body.
typedef struct {
    flot_body_t *body;
    const msgpack_object *map;
    flot_events_event_t e;
} event_t;

struct _flot_subscriber_t {
    flot_client_t *client;      //  the caller's
    char *endpoint;             //  as given, or as Info gives it
    bool endpoint_given;
    flot_creds_t creds;         //  set: the SUB socket's key (cert NULL: none)
    bool creds_set;             //  else the client's
    char server_key [KEY_Z85];  //  the PUB socket's public key, "" plain
    char *deployment;           //  only its events; NULL for all
    char *type;                 //  only the types it starts; NULL for all
    uint64_t since;
    uint32_t timeout_ms;
    uint32_t idle_ms;
    bool replay_only;
    stage_t stage;
    zsock_t *sub;
    uint64_t covered;           //  every event up to this seq was dealt with
    uint64_t seen;              //  the highest seq the service has shown
    bool down;                  //  the events service stopped answering
    replay_t replay;
    event_t held;               //  a live event waiting behind its gap's replay
    flot_body_t *handed;        //  the live event handed last
    check_t check;
    uint64_t info_last;         //  C_ANSWERED: the last seq Info gave
    int64_t quiet_since;        //  when the stream was last read, or checked
    bool restart_idle;          //  quiet_since starts again at the next wait
    flot_events_event_t current;        //  the event of an EVENT item
    flot_subscriber_item_t item;        //  the item handed last
};

flot_subscriber_t *
flot_subscriber_new (flot_client_t *client, const char *endpoint, uint64_t since,
                     const char *deployment, const char *type)
{
    assert (client);
    flot_subscriber_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->client = client;
    self->since = since;
    self->timeout_ms = FLOT_SUBSCRIBER_TIMEOUT_MS;
    self->idle_ms = FLOT_SUBSCRIBER_IDLE_MS;
    self->endpoint = endpoint ? strdup (endpoint) : NULL;
    self->endpoint_given = endpoint != NULL;
    self->deployment = deployment ? strdup (deployment) : NULL;
    self->type = type ? strdup (type) : NULL;
    if ((endpoint && !self->endpoint) || (deployment && !self->deployment)
    ||  (type && !self->type))
        flot_subscriber_destroy (&self);
    return self;
}

void
flot_subscriber_destroy (flot_subscriber_t **self_p)
{
    if (self_p && *self_p) {
        flot_subscriber_t *self = *self_p;
        zsock_destroy (&self->sub);
        flot_body_destroy (&self->replay.body);
        flot_body_destroy (&self->held.body);
        flot_body_destroy (&self->handed);
        free (self->endpoint);
        flot_creds_clear (&self->creds);
        free (self->deployment);
        free (self->type);
        free (self);
        *self_p = NULL;
    }
}

void
flot_subscriber_set_timeout (flot_subscriber_t *self, uint32_t timeout_ms)
{
    assert (self);
    self->timeout_ms = timeout_ms;
}

void
flot_subscriber_set_idle (flot_subscriber_t *self, uint32_t idle_ms)
{
    assert (self);
    self->idle_ms = idle_ms;
}

int
flot_subscriber_set_creds (flot_subscriber_t *self, const flot_creds_t *creds)
{
    assert (self);
    assert (self->stage == S_START);
    flot_creds_clear (&self->creds);
    memset (&self->creds, 0, sizeof self->creds);
    self->creds_set = true;
    return creds ? flot_creds_copy (&self->creds, creds) : 0;
}

void
flot_subscriber_set_replay_only (flot_subscriber_t *self)
{
    assert (self);
    assert (self->stage == S_START);
    self->replay_only = true;
}

void
flot_subscriber_check (flot_subscriber_t *self)
{
    assert (self);
    if (self->check == C_NONE)
        self->check = C_ASK;
}

const char *
flot_subscriber_endpoint (flot_subscriber_t *self)
{
    assert (self);
    return self->endpoint;
}

//  --------------------------------------------------------------------------
//  Items

static const flot_subscriber_item_t *
s_item (flot_subscriber_t *self, flot_subscriber_kind_t kind, const char *command,
        const flot_err_t *err)
{
    self->item = (flot_subscriber_item_t) { .kind = kind, .command = command };
    if (err)
        self->item.err = *err;
    return &self->item;
}

//  The subscriber cannot go on: this item, now and at every later call.
static const flot_subscriber_item_t *
s_failed (flot_subscriber_t *self, const char *command, const flot_err_t *err)
{
    self->stage = S_OVER;
    return s_item (self, FLOT_SUBSCRIBER_FAILED, command, err);
}

static const flot_subscriber_item_t *
s_dropped (flot_subscriber_t *self, const flot_err_t *err)
{
    return s_item (self, FLOT_SUBSCRIBER_DROPPED, NULL, err);
}

//  A check or a replay failed: news only if the service answered before.
static const flot_subscriber_item_t *
s_down (flot_subscriber_t *self, const char *command, const flot_err_t *err)
{
    if (self->down)
        return NULL;
    self->down = true;
    return s_item (self, FLOT_SUBSCRIBER_DOWN, command, err);
}

//  A check succeeded: news only if the service did not answer before.
static const flot_subscriber_item_t *
s_up (flot_subscriber_t *self)
{
    if (!self->down)
        return NULL;
    self->down = false;
    return s_item (self, FLOT_SUBSCRIBER_UP, NULL, NULL);
}

//  An event whose seq was just covered: handed unless its type is filtered
//  out.
static const flot_subscriber_item_t *
s_hand (flot_subscriber_t *self, const msgpack_object *map, const flot_events_event_t *e)
{
    if (self->type && strncmp (e->type, self->type, strlen (self->type)) != 0)
        return NULL;
    self->current = *e;
    s_item (self, FLOT_SUBSCRIBER_EVENT, NULL, NULL);
    self->item.event = &self->current;
    self->item.map = map;
    return &self->item;
}

//  A live event (its body is taken): handed if it is past what was covered.
static const flot_subscriber_item_t *
s_hand_live (flot_subscriber_t *self, event_t *event)
{
    event_t live = *event;
    *event = (event_t) { 0 };
    const flot_subscriber_item_t *item = NULL;
    if (live.e.seq > self->covered) {
        self->covered = live.e.seq;
        item = s_hand (self, live.map, &live.e);
    }
    if (item)
        self->handed = live.body;       //  freed at the next call
    else
        flot_body_destroy (&live.body);
    return item;
}

//  --------------------------------------------------------------------------
//  Calls to the events service

//  Calls the events service's command with a msgpack request (NULL for {}).
//  Returns 0 with the decoded reply in *body_p, or -1 with err: the error
//  reply, DEADLINE, or MALFORMED for a reply that is not a body.
static int
s_call (flot_subscriber_t *self, const char *command, const msgpack_sbuffer *request,
        flot_body_t **body_p, flot_err_t *err)
{
    zframe_t *reply = NULL;
    *body_p = NULL;
    if (flot_client_call (self->client, EVENTS_SERVICE, NULL, command,
                          request ? request->data : NULL, request ? request->size : 0,
                          self->timeout_ms, &reply, err))
        return -1;
    flot_err_t local;
    *body_p = flot_body_decode (zframe_data (reply), zframe_size (reply), &local);
    zframe_destroy (&reply);
    if (!*body_p)
        return flot_err_set (err, FLOT_E_MALFORMED, "the reply of %s %s is "
                             "unreadable: %s", EVENTS_SERVICE, command, local.message);
    return 0;
}

//  Asks the events service for its PUB endpoint and key, and last seq.
static int
s_info (flot_subscriber_t *self, info_t *info, flot_err_t *err)
{
    flot_body_t *body;
    if (s_call (self, "Info", NULL, &body, err))
        return -1;
    flot_events_info_reply_t reply;
    flot_err_t local;
    byte key [32];
    int rc = 0;
    if (flot_events_info_reply_decode (flot_body_root (body), flot_body_zone (body),
                                       &reply, &local))
        rc = flot_err_set (err, FLOT_E_MALFORMED, "the reply of events Info: %s",
                           local.message);
    else
    if (strlen (reply.pub) >= sizeof info->pub)
        rc = flot_err_set (err, FLOT_E_MALFORMED, "the reply of events Info: field 'pub' "
                           "is %zu bytes, the limit is %zu", strlen (reply.pub),
                           sizeof info->pub - 1);
    else
    //  The contract holds it to 40 bytes; they must be Z85 too.
    if (reply.public_key && !zmq_z85_decode (key, reply.public_key))
        rc = flot_err_set (err, FLOT_E_MALFORMED, "the reply of events Info: field "
                           "'public_key' is not a CURVE key in Z85");
    else {
        snprintf (info->pub, sizeof info->pub, "%s", reply.pub);
        snprintf (info->public_key, sizeof info->public_key, "%s",
                  reply.public_key ? reply.public_key : "");
        info->last = reply.last;
    }
    flot_body_destroy (&body);
    return rc;
}

//  Checks an event map (SPEC section 11.1) into e, its strings in zone. Its
//  seq is below UINT64_MAX too: the feed goes on at seq + 1.
static int
s_event_parse (const msgpack_object *map, msgpack_zone *zone, flot_events_event_t *e,
               flot_err_t *err)
{
    memset (e, 0, sizeof *e);
    if (map->type != MSGPACK_OBJECT_MAP)
        return flot_err_set (err, FLOT_E_MALFORMED, "the event is not a map");
    if (flot_events_event_decode (map, zone, e, err)) {
        err->code = FLOT_E_MALFORMED;
        return -1;
    }
    if (e->seq == UINT64_MAX)
        return flot_err_set (err, FLOT_E_MALFORMED, "field 'seq': %llu is not in 1..%llu",
                             (unsigned long long) e->seq,
                             (unsigned long long) UINT64_MAX - 1);
    return 0;
}

//  --------------------------------------------------------------------------
//  Replay

static void
s_replay_start (flot_subscriber_t *self, purpose_t purpose, uint64_t since)
{
    assert (!self->replay.active && !self->replay.body);
    self->replay = (replay_t) {
        .active = true, .purpose = purpose, .since = since, .first = true
    };
}

//  Decodes a Replay reply but for its events, left as they are (an array
//  of any values): each is checked on its own, so that one the events
//  contract refuses is dropped, not the page.
static int
s_replay_reply_decode (flot_body_t *body, flot_events_replay_reply_t *reply,
                       flot_err_t *err)
{
    const flot_struct_t *def = &flot_events_replay_reply_def;
    flot_field_t fields [def->field_count];
    for (size_t i = 0; i < def->field_count; i++) {
        fields [i] = def->fields [i];
        if (streq (fields [i].name, "events")) {
            assert (fields [i].type == FLOT_T_ARRAY);
            fields [i].elem = FLOT_T_ANY;
            fields [i].sub = NULL;
        }
    }
    const flot_struct_t lax = {
        .name = def->name, .size = def->size,
        .fields = fields, .field_count = def->field_count
    };
    return flot_decode (&lax, flot_body_root (body), flot_body_zone (body), reply, err);
}

//  The replay failed: what that means depends on why it ran.
static const flot_subscriber_item_t *
s_replay_failed (flot_subscriber_t *self, const flot_err_t *err)
{
    self->replay.active = false;
    flot_body_destroy (&self->replay.body);
    switch (self->replay.purpose) {
        case R_START:
            return s_failed (self, "Replay", err);
        case R_GAP:             //  the live event goes on all the same
            s_item (self, FLOT_SUBSCRIBER_MISSING, "Replay", err);
            self->item.from = self->covered + 1;
            self->item.to = self->held.e.seq - 1;
            return &self->item;
        case R_CHECK:
        default:
            return s_down (self, "Replay", err);
    }
}

//  The replay is done: every event up to the history's last seq is covered.
static const flot_subscriber_item_t *
s_replay_done (flot_subscriber_t *self)
{
    self->replay.active = false;
    switch (self->replay.purpose) {
        case R_START:
            if (self->replay_only) {
                self->stage = S_OVER;
                return s_item (self, FLOT_SUBSCRIBER_END, NULL, NULL);
            }
            self->restart_idle = true;
            s_item (self, FLOT_SUBSCRIBER_LIVE, NULL, NULL);
            self->item.to = self->covered;
            return &self->item;
        case R_GAP:             //  the live event that waits comes next
            return NULL;
        case R_CHECK:
        default:
            return s_up (self);
    }
}

//  Asks for the page from since. Returns 0, or -1 with err.
static int
s_replay_ask (flot_subscriber_t *self, flot_err_t *err)
{
    replay_t *replay = &self->replay;
    flot_events_replay_request_t request = {
        .since = replay->since, .deployment = self->deployment
    };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_events_replay_request_def, &request, &sbuf);
    int rc = s_call (self, "Replay", &sbuf, &replay->body, err);
    msgpack_sbuffer_destroy (&sbuf);
    flot_events_replay_reply_t reply;
    flot_err_t local;
    if (rc == 0 && s_replay_reply_decode (replay->body, &reply, &local))
        rc = flot_err_set (err, FLOT_E_MALFORMED, "the reply of events Replay: %s",
                           local.message);
    if (rc)
        return -1;
    replay->events = reply.events.items;
    replay->count = reply.events.count;
    replay->index = 0;
    replay->oldest = reply.oldest;
    replay->last = reply.last;
    replay->more = reply.more;
    replay->next = 0;
    return 0;
}

//  One step of the replay: asks for a page, or deals with one of its
//  events, or ends the page. Returns an item, or NULL to go on.
static const flot_subscriber_item_t *
s_replay_step (flot_subscriber_t *self)
{
    replay_t *replay = &self->replay;
    flot_err_t err;
    if (!replay->body && s_replay_ask (self, &err))
        return s_replay_failed (self, &err);
    if (replay->index < replay->count) {
        const msgpack_object *map = &replay->events [replay->index++];
        flot_events_event_t e;
        if (s_event_parse (map, flot_body_zone (replay->body), &e, &err)) {
            //  Past it all the same, if it says which it is.
            uint64_t seq = 0;
            flot_err_t ignored;
            if (flot_map_uint (map, "seq", true, 1, UINT64_MAX - 1, &seq, &ignored) == 1)
                replay->next = MAX (replay->next, seq + 1);
            return s_dropped (self, &err);
        }
        replay->next = MAX (replay->next, e.seq + 1);
        if (e.seq <= self->covered)
            return NULL;
        self->covered = e.seq;
        return s_hand (self, map, &e);
    }
    //  The page is done (its events were handed at earlier calls).
    if (replay->first) {
        replay->first = false;
        if (replay->since > 0 && replay->since < replay->oldest) {
            s_item (self, FLOT_SUBSCRIBER_LOST, NULL, NULL);
            self->item.from = replay->since;
            self->item.to = replay->oldest - 1;
            return &self->item;
        }
    }
    flot_body_destroy (&replay->body);
    self->seen = MAX (self->seen, replay->last);
    if (!replay->more) {
        self->covered = MAX (self->covered, replay->last);
        return s_replay_done (self);
    }
    if (replay->next <= replay->since) {
        flot_err_set (&err, FLOT_E_MALFORMED,
                      "Replay says there is more after %llu but returned nothing",
                      (unsigned long long) replay->since);
        return s_replay_failed (self, &err);
    }
    replay->since = replay->next;
    return NULL;
}

//  --------------------------------------------------------------------------
//  The stream

//  The SUB socket at the endpoint (Info's unless one was given), a CURVE
//  client of the PUB socket's public key if Info gives one, subscribed to
//  the deployment's prefix; in place of the one before. Returns 0, or -1
//  with err: NOT_AUTHORIZED when the stream needs a key and there is none,
//  INVALID when it cannot subscribe at the endpoint.
static int
s_subscribe (flot_subscriber_t *self, const info_t *info, flot_err_t *err)
{
    if (!self->endpoint_given) {
        free (self->endpoint);
        if (!(self->endpoint = strdup (info->pub)))
            return flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
    }
    const flot_creds_t *creds = self->creds_set ? &self->creds
                                                : flot_client_creds (self->client);
    if (*info->public_key && !creds->cert)
        return flot_err_set (err, FLOT_E_NOT_AUTHORIZED, "the event stream needs a key: "
                             "the events service's socket at %s admits only the keys the "
                             "broker allows (CURVE), and this subscriber has none",
                             self->endpoint);
    zsock_destroy (&self->sub);
    zsock_t *sub = zsock_new (ZMQ_SUB);
    if (!sub)
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot make a SUB socket");
    zsock_set_linger (sub, 0);
    zsock_set_rcvhwm (sub, SUB_HWM);
    zsock_set_maxmsgsize (sub, FLOT_MAX_MESSAGE);
    if (*info->public_key) {
        zcert_apply (creds->cert, sub);
        zsock_set_curve_serverkey (sub, info->public_key);
    }
    char prefix [FLOT_MAX_ID + 2] = "";
    if (self->deployment)
        snprintf (prefix, sizeof prefix, "%s/", self->deployment);
    zsock_set_subscribe (sub, prefix);
    if (zsock_connect (sub, "%s", self->endpoint)) {
        zsock_destroy (&sub);
        return flot_err_set (err, FLOT_E_INVALID, "cannot subscribe to events at '%s'",
                             self->endpoint);
    }
    self->sub = sub;
    snprintf (self->server_key, sizeof self->server_key, "%s", info->public_key);
    return 0;
}

//  Info, then the SUB socket, then the replay from since: subscribed first,
//  so that nothing falls between the replay and the stream.
static const flot_subscriber_item_t *
s_start (flot_subscriber_t *self)
{
    uint64_t last = 0;
    flot_err_t err;
    self->stage = S_RUNNING;
    if (!self->replay_only) {
        info_t info;
        if (s_info (self, &info, &err))
            return s_failed (self, "Info", &err);
        if (s_subscribe (self, &info, &err))
            return s_failed (self, NULL, &err);
        last = info.last;
        self->seen = last;
    }
    bool newest = self->since == FLOT_SUBSCRIBER_NEWEST;
    if (newest && self->replay_only) {
        //  After the newest there is nothing to replay, and no stream.
        self->stage = S_OVER;
        return s_item (self, FLOT_SUBSCRIBER_END, NULL, NULL);
    }
    self->covered = newest ? last : self->since ? self->since - 1 : 0;
    s_replay_start (self, R_START, newest ? last + 1 : self->since);
    return NULL;
}

//  Checks a PUB message: [topic][FLOT02][body], the topic matching the
//  event. Returns the body (event points into it), or NULL with err.
static flot_body_t *
s_live_decode (zmsg_t *msg, event_t *event, flot_err_t *err)
{
    memset (event, 0, sizeof *event);
    if (zmsg_size (msg) != 3) {
        flot_err_set (err, FLOT_E_MALFORMED, "%zu frames, expected 3",
                      zmsg_size (msg));
        return NULL;
    }
    zframe_t *topic = zmsg_first (msg);
    zframe_t *signature = zmsg_next (msg);
    zframe_t *data = zmsg_next (msg);
    if (!zframe_streq (signature, FLOT_EVENTS_SIGNATURE)) {
        flot_err_set (err, FLOT_E_VERSION, "frame 1 is not %s", FLOT_EVENTS_SIGNATURE);
        return NULL;
    }
    flot_body_t *body = flot_body_decode (zframe_data (data), zframe_size (data), err);
    if (body) {
        event->map = flot_body_root (body);
        if (s_event_parse (event->map, flot_body_zone (body), &event->e, err))
            flot_body_destroy (&body);
    }
    if (!body)
        return NULL;
    char expected [FLOT_MAX_ID + FLOT_MAX_NAME + 3];       //  "<id>/<type>"
    snprintf (expected, sizeof expected, "%s/%s",
              *event->e.deployment ? event->e.deployment : "-", event->e.type);
    if (!zframe_streq (topic, expected)) {
        flot_err_set (err, FLOT_E_MALFORMED, "event %llu has topic '%.*s', "
                      "expected '%s'", (unsigned long long) event->e.seq,
                      (int) MIN (zframe_size (topic), 200),
                      (const char *) zframe_data (topic), expected);
        flot_body_destroy (&body);
    }
    return body;
}

//  A live event: replay the gap before it first (it waits), else hand it
//  unless it was handed already.
static const flot_subscriber_item_t *
s_live (flot_subscriber_t *self, zmsg_t *msg)
{
    event_t event;
    flot_err_t err;
    event.body = s_live_decode (msg, &event, &err);
    if (!event.body)
        return s_dropped (self, &err);
    self->seen = MAX (self->seen, event.e.seq);
    if (event.e.seq > self->covered + 1) {
        self->held = event;
        s_replay_start (self, R_GAP, self->covered + 1);
        return NULL;
    }
    return s_hand_live (self, &event);
}

//  One step of a check: Info (a history that began again is news), then a
//  replay if the service holds events the stream did not bring.
static const flot_subscriber_item_t *
s_check_step (flot_subscriber_t *self)
{
    if (self->check == C_ASK) {
        info_t info;
        flot_err_t err;
        self->restart_idle = true;
        if (s_info (self, &info, &err)) {
            self->check = C_NONE;
            return s_down (self, "Info", &err);
        }
        //  Subscribe again, what was missed meanwhile replayed below, when
        //  the socket moved or has another key (the events service started
        //  again elsewhere), or when a CURVE stream lost events: its
        //  connection may be one that ZAP refused (a key allowed a moment
        //  before the broker knew it, say), which ZeroMQ does not try
        //  again, and a new socket does.
        if (strcmp (info.public_key, self->server_key)
        ||  (!self->endpoint_given && strcmp (info.pub, self->endpoint))
        ||  (*self->server_key && info.last > self->covered)) {
            if (s_subscribe (self, &info, &err))
                return s_failed (self, NULL, &err);
        }
        uint64_t last = info.last;
        self->check = C_ANSWERED;
        self->info_last = last;
        if (last >= self->seen)
            return NULL;
        s_item (self, FLOT_SUBSCRIBER_RESET, NULL, NULL);
        self->item.from = last;
        self->item.to = self->seen;
        self->covered = self->seen = 0;
        return &self->item;
    }
    self->check = C_NONE;
    if (self->info_last > self->covered) {
        s_replay_start (self, R_CHECK, self->covered ? self->covered + 1 : 0);
        return NULL;
    }
    return s_up (self);
}

//  Waits for the stream until deadline (-1: none), and deals with what
//  comes. Returns an item, or NULL with *over set when the wait is over.
static const flot_subscriber_item_t *
s_wait (flot_subscriber_t *self, int64_t deadline, bool *over)
{
    int64_t now = zclock_mono ();
    if (self->restart_idle) {
        self->quiet_since = now;
        self->restart_idle = false;
    }
    int64_t wait = deadline < 0 ? -1 : MAX (deadline - now, 0);
    if (self->idle_ms) {
        int64_t idle = MAX (self->quiet_since + self->idle_ms - now, 0);
        wait = wait < 0 ? idle : MIN (wait, idle);
    }
    zmq_pollitem_t item = { zsock_resolve (self->sub), 0, ZMQ_POLLIN, 0 };
    int n = zmq_poll (&item, 1, (long) wait);
    if (n < 0 && errno == EINTR)
        *over = true;
    if (n < 0 && errno != EINTR) {
        flot_err_t err;
        flot_err_set (&err, FLOT_E_INTERNAL, "cannot read events: %s",
                      zmq_strerror (errno));
        return s_failed (self, NULL, &err);
    }
    if (n == 0) {
        now = zclock_mono ();
        if (self->idle_ms && now - self->quiet_since >= self->idle_ms)
            flot_subscriber_check (self);
        else
        if (deadline >= 0 && now >= deadline)
            *over = true;
    }
    if (n <= 0)
        return NULL;
    const flot_subscriber_item_t *next = NULL;
    zmsg_t *msg = zmsg_recv (self->sub);
    self->restart_idle = true;
    if (msg)
        next = s_live (self, msg);
    zmsg_destroy (&msg);
    return next;
}

const flot_subscriber_item_t *
flot_subscriber_next (flot_subscriber_t *self, int timeout_ms)
{
    assert (self);
    flot_body_destroy (&self->handed);
    if (self->stage == S_OVER)
        return &self->item;
    int64_t deadline = timeout_ms < 0 ? -1 : zclock_mono () + timeout_ms;
    bool over = false;
    while (!over) {
        const flot_subscriber_item_t *item = NULL;
        if (self->stage == S_START)
            item = s_start (self);
        else
        if (self->replay.active)
            item = s_replay_step (self);
        else
        if (self->held.body)
            item = s_hand_live (self, &self->held);
        else
        if (self->check != C_NONE)
            item = s_check_step (self);
        else
            item = s_wait (self, deadline, &over);
        if (item)
            return item;
    }
    return NULL;
}
