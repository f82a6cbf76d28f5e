/*  events.c - the event publisher actor (service "events").

    Every lifecycle event goes through here: Publish gives it the next
    sequence number and a timestamp, logs it in the history (event_log.c,
    SQLite), and sends it on the PUB socket as [topic][signature][body],
    with the topic "<deployment>/<type>" so subscribers can filter by
    prefix. Replay serves the history from a sequence number, read from
    disk a page at a time (no copy of the history is held in memory), so a
    subscriber that saw a gap (or started late) can catch up; Info says
    where to subscribe. Owns the PUB socket, the sequence counter and the
    history. Its messages, and the data of every event type, are
    protocol/contracts/events.json; Publish refuses data that does not
    match its type's definition.

    Retention: the history keeps at most events-retain-count events
    (default 1,000,000; 0: no limit) and none older than events-retain-age
    seconds (default 7 days; 0: no limit), the oldest going first, in small
    passes from a timer (and at once, past the count, as events come). The
    events of a running deployment stay whatever their age: one whose
    latest event of a type the contract defines is not one that ends it
    (deployment.completed, .failed, .rolled_back, .aborted, rollback.failed).
    That set is learnt from the history at start (a scan in batches) and
    kept as events come; it holds the running deployments only.

    Options: pub (endpoint to bind, default tcp://127.0.0.1:5556),
    events-retain-count and events-retain-age (above; capacity is the
    older name of the count), pub-public (the endpoint advertised by Info
    when subscribers must use another address than the bound one),
    events-store (an SQLite file: every event is logged there before it is
    published, and a restart takes the history and the sequence up again;
    without one the history is an SQLite database in memory, bounded the
    same way).

    Keys (SPEC 11.4): pub-cert, a secret key file (zcert), makes the PUB
    socket a CURVE server of that key pair, which Info advertises
    (public_key); pub-zap says who admits its subscribers: "shared", the
    ZAP handler of the broker in this process (there can be one only), or
    "own", a zauth started here over a private folder that holds the keys
    the broker's Keys lists. Keys is asked every second; when a key that
    was allowed is gone, the PUB socket binds again, so that every
    subscriber passes ZAP again (ZAP runs at the handshake only) and the
    revoked one is refused. A broker without keys (Keys: secure false)
    does not make it plain: only pub-insecure "1" does, said on purpose.
*/
#include "events.h"
#include "event_log.h"
#include "flotilla/contract_broker.h"
#include "flotilla/contract_events.h"
#include "flotilla/log.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#define WHO "events"
#define MAX_TYPE 64
#define MAX_DEPLOYMENT FLOT_MAX_ID
#define MAX_REPLAY 1000            //  events.Replay: at most this many a reply (its limit)
#define MAX_REPLAY_BYTES (FLOT_MAX_BODY - 4096)
#define RETAIN_COUNT "1000000"      //  events kept at most, by default
#define RETAIN_AGE "604800"         //  ... and for at most 7 days (seconds)
#define RETAIN_EVERY_MS 100         //  the retention timer: a scan or prune batch
#define RETAIN_IDLE_MS 10000        //  after a pass found nothing more to remove
#define RETAIN_BATCH 2000           //  events a pass of the timer examines
#define RETAIN_PUBLISH_BATCH 16     //  ... and one after a Publish past the count
#define SCAN_BATCH 20000            //  events the scan at start reads a turn
#define ZAP_DOMAIN "flotilla-events"
#define KEYS_EVERY_MS 1000          //  how often the broker's Keys is asked
#define REBIND_EVERY_MS 50          //  a bind again that finds the address in use
#define REBIND_PATIENCE_MS 5000     //  ... is retried this often for this long,
#define REBIND_LATE_MS 1000         //  then this often

typedef struct {
    flot_actor_t *actor;
    zsock_t *pub;               //  NULL while it waits to bind again
    char endpoint [256];        //  advertised by Info
    char bound [256];           //  where it is bound, as ZeroMQ resolved it
    uint64_t last;              //  last sequence number given
    flot_event_log_t *log;      //  the history (in memory without events-store)
    uint64_t retain_count;      //  events kept at most; 0: no limit
    int64_t retain_age_ms;      //  kept this long at most; 0: no limit
    zhashx_t *running;          //  deployment id -> its first seq (uintptr_t; 1 if not
                                //  known): those whose events stay
    bool scanned;               //  running is known (the scan at start is over)
    uint64_t scanned_upto;      //  the scan's last event
    int retain_timer;
    int64_t retain_next;        //  zclock_mono of the next prune pass

    //  The PUB socket's keys (SPEC 11.4)
    zcert_t *cert;              //  pub-cert: its key pair; NULL: plain
    bool curve;                 //  it is a CURVE server now (cert, and a secure broker)
    zactor_t *zap;              //  pub-zap own: czmq's zauth, this process's ZAP handler
    char zap_home [256];        //  pub-zap own: our private folder for what zauth reads
    unsigned zap_turn;
    zhashx_t *allowed;          //  public key -> name, as Keys said; NULL until it answers
    uint64_t generation;        //  of allowed
    uint64_t keys_call;         //  the Keys call in flight, or 0
    bool keys_failing;          //  the last Keys call failed (said once)
    bool said_plain_broker;     //  a broker without keys was said once
    int keys_timer, first_keys_timer;
    int rebind_timer;           //  while it waits to bind again, else -1
    int64_t rebind_since;
    bool rebind_late;           //  past REBIND_PATIENCE_MS: said, and retried slower
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

static uint64_t
s_oldest (events_t *self)
{
    return flot_event_log_oldest (self->log);
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
    if (flot_event_log_begin (self->log, &err))
        flot_error (WHO, "%s", err.message);
    flot_events_publish_batch_reply_t reply = { 0 };
    for (size_t i = 0; i < args->events.count; i++) {
        reply.last = s_event_publish (self, &in [i]);
        if (i == 0)
            reply.first = reply.last;
    }
    if (flot_event_log_commit (self->log, &err))
        flot_error (WHO, "%s", err.message);
    flot_request_answer (&request, &reply);
}

//  --------------------------------------------------------------------------
//  Retention

//  Event seq of type for deployment: a typed event that does not end its
//  deployment makes it running (its events stay); one that ends it, not.
//  A running deployment's first event is known if it started while known
//  (deployment.started is a deployment's first event): a Replay of its
//  events reads from there, not from the history's start.
static void
s_running_note (events_t *self, const char *deployment, const char *type, uint64_t seq)
{
    if (!*deployment)
        return;
    const flot_event_def_t *def = flot_event_def (type);
    if (!def)
        return;
    if (def->ends)
        zhashx_delete (self->running, deployment);
    else
    if (!zhashx_lookup (self->running, deployment)) {
        uintptr_t first = streq (type, "deployment.started") && seq <= UINTPTR_MAX
                        ? (uintptr_t) seq : 1;
        zhashx_insert (self->running, deployment, (void *) first);
    }
}

static bool
s_running (const char *deployment, void *arg)
{
    events_t *self = arg;
    return *deployment && zhashx_lookup (self->running, deployment) != NULL;
}

static void
s_scan_one (uint64_t seq, const char *deployment, const void *body, size_t size, void *arg)
{
    char type [MAX_TYPE + 1];
    uint64_t time_ms;
    if (flot_event_body_peek (body, size, type, sizeof type, &time_ms) == 0)
        s_running_note (arg, deployment, type, seq);
}

//  One batch of the scan that learns which deployments run. Returns 0, or
//  -1 (said).
static int
s_scan (events_t *self)
{
    flot_err_t err;
    int64_t last = flot_event_log_scan (self->log, self->scanned_upto, SCAN_BATCH,
                                        s_scan_one, self, &err);
    if (last < 0) {
        flot_error (WHO, "%s", err.message);
        return -1;
    }
    if ((uint64_t) last == self->scanned_upto) {
        self->scanned = true;
        flot_info (WHO, "history scanned: %zu deployments running", zhashx_size (self->running));
    }
    self->scanned_upto = (uint64_t) last;
    return 0;
}

//  One pass of retention over at most batch events. Returns true if
//  there may be more to remove now.
static bool
s_prune (events_t *self, size_t batch)
{
    if (!self->scanned)
        return false;           //  which deployments run is not known yet
    flot_event_log_policy_t policy = {
        .count = self->retain_count, .batch = batch, .keep = s_running, .arg = self,
        .before_ms = self->retain_age_ms ? zclock_time () - self->retain_age_ms : 0
    };
    bool done = true;
    flot_err_t err;
    int64_t removed = flot_event_log_prune (self->log, &policy, &done, &err);
    if (removed < 0)
        flot_error (WHO, "retention: %s", err.message);
    else
    if (removed > 0)
        flot_debug (WHO, "retention: %lld events removed", (long long) removed);
    return removed >= 0 && !done;
}

static int
s_on_retain (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    events_t *self = arg;
    if (!self->scanned) {
        s_scan (self);
        return 0;
    }
    int64_t now = zclock_mono ();
    if (now < self->retain_next)
        return 0;
    self->retain_next = s_prune (self, RETAIN_BATCH) ? now : now + RETAIN_IDLE_MS;
    return 0;
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
    if (flot_event_log_append (self->log, seq, deployment, sbuf.data, sbuf.size, &err))
        flot_error (WHO, "%s", err.message);
    if (self->scanned)
        s_running_note (self, deployment, type, seq);
    //  Past the count, the oldest go at once (a small pass: the timer
    //  does the rest).
    if (self->retain_count && flot_event_log_held (self->log) > self->retain_count)
        s_prune (self, RETAIN_PUBLISH_BATCH);

    char topic [MAX_DEPLOYMENT + MAX_TYPE + 3];
    snprintf (topic, sizeof topic, "%s/%s", *deployment ? deployment : "-", type);
    //  While the socket binds again, the event is only kept: subscribers
    //  see the gap and replay it.
    void *handle = self->pub ? zsock_resolve (self->pub) : NULL;
    if (handle
    && (zmq_send (handle, topic, strlen (topic), ZMQ_SNDMORE) < 0
    ||  zmq_send (handle, FLOT_EVENTS_SIGNATURE, FLOT_SIGNATURE_SIZE, ZMQ_SNDMORE) < 0
    ||  zmq_send (handle, sbuf.data, sbuf.size, 0) < 0))
        flot_warn (WHO, "event %llu not published: %s",
                   (unsigned long long) seq, zmq_strerror (zmq_errno ()));
    flot_debug (WHO, "event %llu %s", (unsigned long long) seq, topic);
    msgpack_sbuffer_destroy (&sbuf);
    return seq;
}

//  --------------------------------------------------------------------------
//  Replay and Info

//  A page of Replay: the events' bodies as they were published, copied
//  from the log, at most MAX_REPLAY_BYTES of them.
typedef struct {
    msgpack_sbuffer bodies;
    size_t count;
} page_t;

static int
s_page_add (uint64_t seq, const void *body, size_t size, void *arg)
{
    (void) seq;
    page_t *page = arg;
    if (page->bodies.size + size > MAX_REPLAY_BYTES)
        return 1;               //  the next page has it
    msgpack_sbuffer_write (&page->bodies, body, size);
    page->count++;
    return 0;
}

static void
s_replay (flot_actor_t *actor, flot_request_t *request)
{
    events_t *self = flot_actor_state (actor);
    const flot_events_replay_request_t *args = flot_request_args (request);
    //  The contract bounds limit; a page holds no more whatever it says.
    uint64_t since = args->since, limit = MIN (args->limit, MAX_REPLAY);
    //  Read from disk: memory holds one page, whatever the history's size.
    page_t page = { .count = 0 };
    msgpack_sbuffer_init (&page.bodies);
    bool more = false;
    flot_err_t err;
    //  A running deployment's events: from its first, not the history's.
    uintptr_t first = args->deployment && *args->deployment && self->scanned
                    ? (uintptr_t) zhashx_lookup (self->running, args->deployment) : 0;
    if (first > since)
        since = first;
    if (flot_event_log_read (self->log, since, args->deployment, (size_t) limit, s_page_add,
                             &page, &more, &err) < 0) {
        msgpack_sbuffer_destroy (&page.bodies);
        flot_error (WHO, "Replay: %s", err.message);
        flot_request_error (&request, FLOT_E_INTERNAL, "cannot read the history: %s",
                            err.message);
        return;
    }
    //  A Replay reply (the contract's events.Replay reply) packed around
    //  the events as they were published.
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 4);
    flot_pack_str (&pk, "events");
    msgpack_pack_array (&pk, page.count);
    if (page.bodies.size)
        msgpack_sbuffer_write (&sbuf, page.bodies.data, page.bodies.size);
    msgpack_sbuffer_destroy (&page.bodies);
    flot_pack_kv_uint (&pk, "oldest", s_oldest (self));
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
        .held = flot_event_log_held (self->log), .capacity = self->retain_count,
        .public_key = self->curve ? zcert_public_txt (self->cert) : NULL
    };
    flot_request_answer (&request, &reply);
}

//  --------------------------------------------------------------------------
//  The PUB socket, and binding it again

//  A new PUB socket with the service's options: a CURVE server of cert
//  when self->curve.
static zsock_t *
s_pub_new (events_t *self)
{
    zsock_t *pub = zsock_new (ZMQ_PUB);
    if (!pub)
        return NULL;
    zsock_set_linger (pub, 0);
    zsock_set_sndhwm (pub, 100000);
    if (self->curve) {
        zsock_set_zap_domain (pub, ZAP_DOMAIN);
        zsock_set_curve_server (pub, 1);
        zcert_apply (self->cert, pub);
    }
    return pub;
}

//  Binds a new PUB socket to endpoint into self->pub. again: a socket was
//  bound there before, whose listener may not have closed yet. Returns 0,
//  or -1 with errno.
static int
s_pub_bind (events_t *self, const char *endpoint, bool again)
{
    //  An ipc listener removes its file as it closes, which would remove
    //  the new one's: wait until the old one has.
    if (again && !strncmp (endpoint, "ipc://", 6) && access (endpoint + 6, F_OK) == 0) {
        errno = EADDRINUSE;
        return -1;
    }
    zsock_t *pub = s_pub_new (self);
    if (!pub) {
        errno = ENOMEM;
        return -1;
    }
    if (zsock_bind (pub, "%s", endpoint) < 0) {
        int error = zmq_errno ();
        zsock_destroy (&pub);
        errno = error;
        return -1;
    }
    self->pub = pub;
    return 0;
}

static int
s_on_rebind (flot_loop_t *loop, int timer_id, void *arg)
{
    events_t *self = arg;
    //  Past its patience, an ipc file still there is taken as left behind.
    if (s_pub_bind (self, self->bound, !self->rebind_late) == 0) {
        flot_loop_timer_end (loop, timer_id);
        self->rebind_timer = -1;
        flot_notice (WHO, "the event socket is bound again at %s, after %lld ms",
                     self->bound, (long long) (zclock_mono () - self->rebind_since));
        return 0;
    }
    if (!self->rebind_late && zclock_mono () - self->rebind_since >= REBIND_PATIENCE_MS) {
        flot_error (WHO, "cannot bind the event socket to %s again: %s; events are kept "
                    "and subscribers replay them; trying again every %d ms", self->bound,
                    zmq_strerror (errno), REBIND_LATE_MS);
        self->rebind_late = true;
        flot_loop_timer_end (loop, timer_id);
        self->rebind_timer = flot_loop_timer (loop, REBIND_LATE_MS, 0, s_on_rebind, self);
    }
    return 0;
}

//  Closes the PUB socket, and stops binding it again.
static void
s_pub_close (events_t *self)
{
    zsock_destroy (&self->pub);
    if (self->rebind_timer >= 0)
        flot_loop_timer_end (flot_actor_loop (self->actor), self->rebind_timer);
    self->rebind_timer = -1;
}

//  Closes the PUB socket and binds a new one at the same address: every
//  subscriber's connection ends, and each must pass the handshake, and
//  ZAP, again. The old listener closes in ZeroMQ's own thread: until it has,
//  the address is in use, and the bind is retried on a timer.
static void
s_rebind (events_t *self, const char *why)
{
    flot_loop_t *loop = flot_actor_loop (self->actor);
    s_pub_close (self);
    self->rebind_since = zclock_mono ();
    self->rebind_late = false;
    flot_notice (WHO, "%s: the event socket binds again at %s, and every subscriber "
                 "connects again%s", why, self->bound,
                 self->curve ? " through ZAP (CURVE)" : " (plain)");
    if (s_pub_bind (self, self->bound, true) == 0)
        return;
    flot_notice (WHO, "%s is still in use (%s): trying again every %d ms, for %d s at most",
                 self->bound, zmq_strerror (errno), REBIND_EVERY_MS, REBIND_PATIENCE_MS / 1000);
    self->rebind_timer = flot_loop_timer (loop, REBIND_EVERY_MS, 0, s_on_rebind, self);
}

//  --------------------------------------------------------------------------
//  The allowed keys: the broker's Keys, and the ZAP handler of our own

//  Removes a folder of key files (flat) and the folder. Returns 0 or -1.
static int
s_remove_folder (const char *path)
{
    DIR *dir = opendir (path);
    if (!dir)
        return errno == ENOENT ? 0 : -1;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (streq (entry->d_name, ".") || streq (entry->d_name, ".."))
            continue;
        char file [1400];
        snprintf (file, sizeof file, "%s/%s", path, entry->d_name);
        unlink (file);
    }
    closedir (dir);
    return rmdir (path);
}

//  pub-zap own: a new folder inside our private one (0700, made at start)
//  with a public cert file for each allowed key, which zauth then reads in
//  place of the keys it had (a switch, so that no handshake meets a folder
//  half written). zauth keeps what it read once the folder is gone, so it
//  is removed at once; no one else can make a folder of that name in ours.
//  Returns 0, or -1 with err.
static int
s_zap_write (events_t *self, zhashx_t *allowed, flot_err_t *err)
{
    char folder [1100];
    snprintf (folder, sizeof folder, "%s/keys-%u", self->zap_home, ++self->zap_turn);
    if (mkdir (folder, 0700))
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot make %s: %s",
                             folder, strerror (errno));
    size_t index = 0;
    static const byte no_secret [32] = { 0 };
    for (const char *name = zhashx_first (allowed); name; name = zhashx_next (allowed)) {
        byte public_key [32];
        zmq_z85_decode (public_key, (const char *) zhashx_cursor (allowed));
        zcert_t *cert = zcert_new_from (public_key, no_secret);
        if (cert && flot_key_name_valid (name))
            zcert_set_meta (cert, "name", "%s", name);
        char path [1200];
        snprintf (path, sizeof path, "%s/key-%zu.pub", folder, index++);
        int rc = cert ? zcert_save_public (cert, path) : -1;
        zcert_destroy (&cert);
        if (rc) {
            flot_err_set (err, FLOT_E_INTERNAL, "cannot write %s: %s", path, strerror (errno));
            s_remove_folder (folder);
            return -1;
        }
    }
    int rc = zstr_sendx (self->zap, "CURVE", folder, NULL) || zsock_wait (self->zap);
    if (s_remove_folder (folder))
        flot_warn (WHO, "cannot remove %s: %s", folder, strerror (errno));
    return rc ? flot_err_set (err, FLOT_E_INTERNAL, "the ZAP handler did not take %s", folder)
              : 0;
}

//  True if text is a CURVE public key in Z85 (40 characters).
static bool
s_z85_key (const char *text)
{
    byte key [32];
    return text && strlen (text) == 40 && zmq_z85_decode (key, text) != NULL;
}

//  A new list of allowed keys (Keys: a new generation). With a ZAP handler
//  of our own it now admits exactly them; if one that was allowed is gone,
//  the socket binds again. Returns 0, or -1 (said) to try again later.
static int
s_keys_take (events_t *self, const flot_broker_keys_reply_t *reply)
{
    zhashx_t *allowed = zhashx_new ();
    zhashx_set_duplicator (allowed, (zhashx_duplicator_fn *) strdup);
    zhashx_set_destructor (allowed, (zhashx_destructor_fn *) zstr_free);
    const flot_broker_key_t *keys = reply->keys.items;
    for (size_t i = 0; i < reply->keys.count; i++) {
        if (s_z85_key (keys [i].public_key))
            zhashx_insert (allowed, keys [i].public_key, (void *) keys [i].name);
        else
            flot_warn (WHO, "the broker's Keys: key '%s' is skipped: its public_key is not "
                       "40 characters of Z85", keys [i].name);
    }
    //  Which keys are gone, named for the log.
    char gone [512] = "";
    size_t count = 0;
    if (self->allowed)
        for (const char *name = zhashx_first (self->allowed); name;
             name = zhashx_next (self->allowed))
            if (!zhashx_lookup (allowed, zhashx_cursor (self->allowed))) {
                size_t used = strlen (gone);
                if (count++ < 8)
                    snprintf (gone + used, sizeof gone - used, "%s'%s'", used ? ", " : "", name);
            }
    flot_err_t err;
    if (self->zap && s_zap_write (self, allowed, &err)) {
        //  Nobody new is admitted; one that is gone must not stay either.
        flot_error (WHO, "the keys allowed to subscribe are not updated: %s", err.message);
        zhashx_destroy (&allowed);
        if (count || !self->allowed) {
            s_pub_close (self);
            flot_error (WHO, "the event socket stays closed until they are: %s",
                        count ? "a key that was allowed is gone" : "it admits nobody yet");
        }
        return -1;
    }
    flot_info (WHO, "%zu keys may subscribe (the broker's generation %llu)",
               zhashx_size (allowed), (unsigned long long) reply->generation);
    zhashx_destroy (&self->allowed);
    self->allowed = allowed;
    self->generation = reply->generation;
    if (count) {
        char why [600];
        snprintf (why, sizeof why, "key%s %s%s no longer allowed", count > 1 ? "s" : "",
                  gone, count > 8 ? " and more are" : count > 1 ? " are" : " is");
        s_rebind (self, why);
    }
    return 0;
}

//  The broker's answer to Keys.
static void
s_on_keys (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    events_t *self = arg;
    self->keys_call = 0;
    flot_err_t err = answer->err;
    flot_broker_keys_reply_t reply;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    int rc = answer->kind == FLOT_REPLY ? 0 : -1;
    if (rc == 0 && flot_broker_keys_reply_decode (answer->body, &zone, &reply, &err)) {
        char why [sizeof err.message];
        snprintf (why, sizeof why, "%s", err.message);
        flot_err_set (&err, FLOT_E_MALFORMED, "its reply: %s", why);
        rc = -1;
    }
    if (rc) {
        if (!self->keys_failing)
            flot_warn (WHO, "cannot learn the allowed keys from the broker (Keys): %s; the "
                       "event socket %s, and asks again every %d ms", err.message,
                       self->pub || self->rebind_timer >= 0 ? "admits the keys it knew"
                                                           : "stays closed until it does",
                       KEYS_EVERY_MS);
        self->keys_failing = true;
    }
    else {
        if (self->keys_failing)
            flot_notice (WHO, "the broker answers Keys again");
        self->keys_failing = false;
        if (!reply.secure && self->curve) {
            //  A host given a key serves with it: a broker that says it has
            //  none does not make the stream plain (only --insecure does).
            if (!self->said_plain_broker)
                flot_error (WHO, "the broker runs without keys, but this event socket has "
                            "one: it stays CURVE (run both with keys, or both --insecure)");
            self->said_plain_broker = true;
        }
        else
        if (reply.secure) {
            bool was_plain = !self->curve;
            if (was_plain) {
                self->curve = true;
                zhashx_destroy (&self->allowed);
                s_pub_close (self);
            }
            //  The keys first, then the socket that admits them.
            int taken = self->allowed && reply.generation == self->generation
                      ? 0 : s_keys_take (self, &reply);
            //  Closed (it was plain, or the keys could not be taken before).
            if (taken == 0 && !self->pub && self->rebind_timer < 0)
                s_rebind (self, was_plain ? "the broker admits only allowed keys, and so "
                          "does the event socket" : "the keys allowed to subscribe are known");
        }
    }
    msgpack_zone_destroy (&zone);
}

static int
s_on_keys_timer (flot_loop_t *loop, int timer_id, void *arg)
{
    events_t *self = arg;
    if (timer_id == self->first_keys_timer)
        self->first_keys_timer = -1;
    (void) loop;
    if (self->keys_call)
        return 0;                   //  the one before has not been answered
    flot_broker_keys_request_t request = {
        .since = self->allowed ? self->generation : 0, .has_since = self->allowed != NULL
    };
    self->keys_call = flot_actor_call_msg (self->actor, FLOT_BROKER_SERVICE, NULL,
                                           FLOT_BROKER_KEYS, &flot_broker_keys_request_def,
                                           &request, KEYS_EVERY_MS * 3, false, s_on_keys, self);
    return 0;
}

//  pub-cert, pub-zap and pub-insecure. Returns 0, or -1 (said).
static int
s_keys_start (events_t *self, flot_actor_t *actor)
{
    const char *cert = flot_actor_option (actor, "pub-cert", NULL);
    const char *zap = flot_actor_option (actor, "pub-zap", NULL);
    const char *insecure = flot_actor_option (actor, "pub-insecure", NULL);
    if (insecure && !streq (insecure, "1") && !streq (insecure, "0")) {
        flot_error (WHO, "pub-insecure '%s' is not 1 or 0", insecure);
        return -1;
    }
    if (insecure && streq (insecure, "1") && cert) {
        flot_error (WHO, "pub-insecure and pub-cert: the event socket is either plain or not");
        return -1;
    }
    if (!cert && zap) {
        flot_error (WHO, "pub-zap '%s' without pub-cert: only a CURVE socket is admitted "
                    "through ZAP", zap);
        return -1;
    }
    if (!cert)
        return 0;
    if (!zap || (!streq (zap, "shared") && !streq (zap, "own"))) {
        flot_error (WHO, "pub-zap is '%s', expected 'shared' (the broker in this process "
                    "admits subscribers) or 'own'", zap ? zap : "");
        return -1;
    }
    self->cert = zcert_load (cert);
    static const byte no_secret [32] = { 0 };
    if (!self->cert || !memcmp (zcert_secret_key (self->cert), no_secret, 32)) {
        flot_error (WHO, "pub-cert %s: %s", cert, self->cert ? "holds no secret key (a "
                    "public key file?): the event socket needs its key pair"
                    : "cannot be read as a key file (zcert)");
        return -1;
    }
    self->curve = true;
    if (streq (zap, "own")) {
        const char *tmp = getenv ("TMPDIR");
        snprintf (self->zap_home, sizeof self->zap_home, "%s/flotilla-events-XXXXXX",
                  tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp (self->zap_home)) {
            flot_error (WHO, "cannot make a folder for the keys allowed to subscribe "
                        "(%s): %s", self->zap_home, strerror (errno));
            *self->zap_home = 0;
            return -1;
        }
        //  Nobody is admitted until the broker's Keys answers.
        self->zap = zactor_new (zauth, NULL);
        flot_err_t err;
        zhashx_t *none = zhashx_new ();
        int rc = self->zap ? s_zap_write (self, none, &err)
               : flot_err_set (&err, FLOT_E_INTERNAL, "cannot start a ZAP handler");
        zhashx_destroy (&none);
        if (rc) {
            flot_error (WHO, "%s", err.message);
            return -1;
        }
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Life cycle

static void
s_state_destroy (events_t **self_p)
{
    events_t *self = *self_p;
    if (!self)
        return;
    flot_loop_t *loop = flot_actor_loop (self->actor);
    if (self->keys_timer >= 0)
        flot_loop_timer_end (loop, self->keys_timer);
    if (self->first_keys_timer >= 0)
        flot_loop_timer_end (loop, self->first_keys_timer);
    if (self->rebind_timer >= 0)
        flot_loop_timer_end (loop, self->rebind_timer);
    if (self->retain_timer >= 0)
        flot_loop_timer_end (loop, self->retain_timer);
    if (self->keys_call)
        flot_actor_call_forget (self->actor, self->keys_call);
    zsock_destroy (&self->pub);
    flot_event_log_destroy (&self->log);
    zhashx_destroy (&self->running);
    zactor_destroy (&self->zap);
    if (*self->zap_home)
        s_remove_folder (self->zap_home);
    zhashx_destroy (&self->allowed);
    zcert_destroy (&self->cert);
    free (self);
    *self_p = NULL;
}

static int
s_start (flot_actor_t *actor)
{
    const char *endpoint = flot_actor_option (actor, "pub", FLOT_EVENTS_ENDPOINT);
    const char *count = flot_actor_option (actor, "events-retain-count",
                                           flot_actor_option (actor, "capacity", RETAIN_COUNT));
    const char *age = flot_actor_option (actor, "events-retain-age", RETAIN_AGE);
    char *end = NULL;
    long long n = strtoll (count, &end, 10);
    if (!end || *end || n < 0 || n > 1000000000LL) {
        flot_error (WHO, "events-retain-count '%s' is not a number in 0..1000000000 "
                    "(0: no limit)", count);
        return -1;
    }
    end = NULL;
    long long seconds = strtoll (age, &end, 10);
    if (!end || *end || seconds < 0 || seconds > 100LL * 365 * 86400) {
        flot_error (WHO, "events-retain-age '%s' is not a number of seconds in 0..%lld "
                    "(0: no limit)", age, 100LL * 365 * 86400);
        return -1;
    }
    events_t *self = calloc (1, sizeof *self);
    assert (self);
    self->actor = actor;
    self->keys_timer = self->first_keys_timer = self->rebind_timer = -1;
    self->retain_timer = -1;
    self->retain_count = (uint64_t) n;
    self->retain_age_ms = seconds * 1000;
    self->running = zhashx_new ();
    if (s_keys_start (self, actor)) {
        s_state_destroy (&self);
        return -1;
    }
    if (s_pub_bind (self, endpoint, false)) {
        flot_error (WHO, "cannot bind the event socket to %s: %s",
                    endpoint, zmq_strerror (errno));
        s_state_destroy (&self);
        return -1;
    }
    snprintf (self->bound, sizeof self->bound, "%s", zsock_endpoint (self->pub));
    //  A ZAP handler of our own admits nobody before Keys answers, and
    //  ZeroMQ does not try again a handshake that ZAP refused: no
    //  subscriber may meet the socket before then.
    if (self->zap)
        s_pub_close (self);
    //  Without a file, the history is a database in memory: the same code,
    //  bounded by the same retention.
    const char *store = flot_actor_option (actor, "events-store", NULL);
    flot_err_t err;
    self->log = flot_event_log_open (store ? store : ":memory:", &err);
    if (!self->log) {
        flot_error (WHO, "%s", err.message);
        s_state_destroy (&self);
        return -1;
    }
    self->last = flot_event_log_newest (self->log);
    //  Which deployments run: read from the history, a batch now and the
    //  rest from the timer (retention waits until it is known).
    if (s_scan (self)) {
        s_state_destroy (&self);
        return -1;
    }
    self->retain_timer = flot_loop_timer (flot_actor_loop (actor), RETAIN_EVERY_MS, 0,
                                          s_on_retain, self);
    if (store)
        flot_notice (WHO, "history %s: %llu events, the last #%llu; keeps %s%s events, "
                     "%s%s%s", store, (unsigned long long) flot_event_log_held (self->log),
                     (unsigned long long) self->last, n ? "at most " : "", n ? count : "all",
                     seconds ? "for at most " : "for ever", seconds ? age : "",
                     seconds ? " s" : "");
    const char *advertised = flot_actor_option (actor, "pub-public", NULL);
    snprintf (self->endpoint, sizeof self->endpoint, "%s",
              advertised ? advertised : self->bound);
    if (self->cert) {
        //  The first ask as soon as the actor is connected, then every second.
        flot_loop_t *loop = flot_actor_loop (actor);
        self->first_keys_timer = flot_loop_timer (loop, 1, 1, s_on_keys_timer, self);
        self->keys_timer = flot_loop_timer (loop, KEYS_EVERY_MS, 0, s_on_keys_timer, self);
    }
    flot_notice (WHO, "publishing events on %s%s%s%s", self->endpoint,
                 self->cert ? " (CURVE, key " : " (plain)",
                 self->cert ? zcert_public_txt (self->cert) : "",
                 self->cert ? (self->zap ? "; admits the broker's keys itself)"
                                         : "; the broker's ZAP handler admits)") : "");
    flot_actor_set_state (actor, self);
    return 0;
}

static void
s_stop (flot_actor_t *actor)
{
    events_t *self = flot_actor_state (actor);
    s_state_destroy (&self);
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
