/*  broker.c - the Flotilla broker.

    Clients and actors connect to one ROUTER socket. Actors register a
    service (READY) and optionally the keys they claim; a service whose
    contract says "instances": "one" has one live instance at a time, and a
    READY for another is refused (DISCONNECT, code CONFLICT). Clients send
    REQUEST by service name and the broker delivers it to a live instance,
    round-robin, or for a routing key to the instance that had the key last
    while it lives (sticky), remembers it as pending until the reply, its
    deadline, or the actor's death, and routes the reply back. Routing data is in each
    message's header, so request and reply bodies are copied behind a new
    header without being decoded. The broker owns the
    registry of instances, the pending requests and the open streams, and
    answers its own service, "broker" (Ping, Actors, Keys). With keys
    (auth.c), it admits only allowed keys on its tcp endpoints, checks each
    request against the role its command needs before routing it, checks
    each READY against the services and routing keys its key may serve, and
    tells the actor who called (DELIVER of version 03). The bodies it does
    read and write, its own service's and READY's and DISCONNECT's, are
    those of its contract, protocol/contracts/broker.json.

    Every frame from the network is validated by the codec before use; bad
    input is answered with an error when there is a caller to answer, and is
    otherwise logged (rate-limited) and dropped.
*/
#include <sys/prctl.h>
#include "flotilla/broker.h"
#include "flotilla/body.h"
#include "flotilla/contract_broker.h"
#include "flotilla/log.h"
#include "flotilla/protocol.h"
#include "flotilla/version.h"
#include "auth.h"
#include "pending.h"

#include <sched.h>
#include <unistd.h>

#define WHO "broker"
#define MAX_IN (FLOT_MAX_FRAMES + 1)    //  identity plus frames
#define DEADLINE_TICK_MS 50
#define IN_BATCH 64                     //  messages received at once, at most

//  A binary key: a route or identity, and optionally a correlation id.
typedef struct {
    uint16_t size;
    uint8_t data [FLOT_MAX_ROUTE + 8];
} bkey_t;

typedef struct _service_t service_t;

typedef struct {
    bkey_t id;                  //  ROUTER identity
    service_t *service;
    char instance [FLOT_MAX_NAME + 1];
    char host [256];
    uint64_t pid;
    zlistx_t *keys;             //  char *, claimed keys; empty = any key
    uint64_t versions [FLOT_MAX_VERSIONS];  //  protocol versions, as READY announced
    size_t version_count;
    int protocol;               //  the version we deliver to it in (SPEC 13)
    int64_t registered_at;      //  zclock_mono
    int64_t last_seen;
    char key [41];              //  the public key it registered with; "" without one
    char key_name [FLOT_KEY_NAME_MAX + 1];
    bool scoped;                //  its key names the routing keys it may claim
    uint64_t handled;
    size_t pending;
} instance_t;

struct _service_t {
    char name [FLOT_MAX_NAME + 1];
    const flot_contract_t *contract;    //  its contract, or NULL: none we know
    bool streams;               //  a command of its contract opens a stream
    zlistx_t *instances;        //  instance_t *, not owned
    zhashx_t *sticky;           //  routing key -> sticky_t (owned): who had it last
    zlistx_t *sticky_order;     //  sticky_t *, least recently used first (not owned)
    const flot_command_def_t *last_def;     //  streams: the command looked up
    char last_command [FLOT_MAX_NAME + 1];  //  last, by its name ("": none)
};

//  A routing key's instance: requests with the key go there while it
//  lives (SPEC 4.2).
typedef struct {
    instance_t *instance;
    void *handle;               //  in service->sticky_order
    char key [];
} sticky_t;

//  Routing keys remembered per service, at most; the least recently used
//  is forgotten first.
#define MAX_STICKY 100000

//  A rate limit of log lines: this second's start and count.
typedef struct {
    int64_t window;
    int count;
} limit_t;

struct _flot_broker_t {
    zsock_t *router;
    void *handle;               //  the raw socket of router
    zhashx_t *services;         //  name -> service_t (owned); none is removed
    service_t *last_service;    //  the service of the latest request, or NULL
    zhashx_t *instances;        //  bkey id -> instance_t (owned)
    flot_pending_table_t *pending;  //  requests in flight, by client and corr
    zhashx_t *streams;          //  bkey client+corr -> instance_t (not owned)
    int heartbeat_ms;
    int liveness;
    int64_t started_at;
    int64_t next_heartbeat;
    int64_t next_deadline_tick;
    int64_t earliest_deadline;  //  no pending request's deadline is earlier (a
                                //  lower bound: answered ones may have had it)
    int rcvtimeo;               //  the router's ZMQ_RCVTIMEO now
    int64_t now;                //  zclock_mono, read once per batch received
    struct _in_t *batch;        //  IN_BATCH messages received together
    limit_t bad_lines;          //  rate limits of log lines: bad input,
    limit_t refusal_lines;      //  refusals
    uint64_t dropped;
    broker_auth_t *auth;        //  keys; NULL: none (inproc, or --insecure)
    int bound;                  //  endpoints bound
    zhashx_t *client_versions;  //  bkey client -> its version, for those not of FLOT_VERSION
    zhashx_t *stream_keys;      //  bkey client -> the public key it opened streams with
    zhashx_t *displaced;        //  bkey id -> service_t: sockets of a service of one
                                //  instance at a time that were refused, or found
                                //  dead, while it may have another (not owned)
};

//  Displaced sockets remembered at most at once.
#define MAX_DISPLACED 1000

//  Clients of an older version, remembered at most this many at once.
#define MAX_OLD_CLIENTS 100000

//  --------------------------------------------------------------------------
//  Binary keys in zhashx

static size_t
s_bkey_hash (const void *key)
{
    const bkey_t *k = key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < k->size; i++) {
        h ^= k->data [i];
        h *= 1099511628211ULL;
    }
    return (size_t) h;
}

static int
s_bkey_compare (const void *a, const void *b)
{
    const bkey_t *ka = a, *kb = b;
    if (ka->size != kb->size)
        return ka->size < kb->size ? -1 : 1;
    return memcmp (ka->data, kb->data, ka->size);
}

static void *
s_bkey_dup (const void *key)
{
    const bkey_t *k = key;
    size_t size = offsetof (bkey_t, data) + k->size;
    bkey_t *copy = malloc (size);
    if (copy)
        memcpy (copy, k, size);
    return copy;
}

static void
s_bkey_free (void **key_p)
{
    free (*key_p);
    *key_p = NULL;
}

static zhashx_t *
s_bkey_table (void)
{
    zhashx_t *table = zhashx_new ();
    zhashx_set_key_hasher (table, s_bkey_hash);
    zhashx_set_key_comparator (table, s_bkey_compare);
    zhashx_set_key_duplicator (table, s_bkey_dup);
    zhashx_set_key_destructor (table, s_bkey_free);
    return table;
}

static void
s_bkey_set (bkey_t *key, const void *data, size_t size, const uint64_t *corr)
{
    memcpy (key->data, data, size);
    key->size = (uint16_t) size;
    if (corr) {
        flot_put_u64 (key->data + size, *corr);
        key->size += 8;
    }
}

//  --------------------------------------------------------------------------
//  Outgoing messages

//  Sends msg to a peer: its identity frame, then the message. Returns 0, or
//  -1 with errno (EHOSTUNREACH: no such peer, EAGAIN: peer is full).
static int
s_send (flot_broker_t *self, const bkey_t *to, const flot_msg_t *msg)
{
    flot_bytes_t id = { to->data, to->size };
    int rc = flot_msg_send (msg, self->handle, &id, true);
    assert (rc == 0 || errno != EINVAL);    //  the broker writes only valid headers
    return rc;
}

//  The corr of a message whose header is too broken to decode, when it is
//  a REQUEST that shows one: the signature's length, the kind, 8 bytes.
static bool
s_addressable (const uint8_t *header, size_t size, uint64_t *corr)
{
    if (size < FLOT_SIGNATURE_SIZE + 1 + 8 || header [FLOT_SIGNATURE_SIZE] != FLOT_REQUEST)
        return false;
    *corr = flot_get_u64 (header + FLOT_SIGNATURE_SIZE + 1);
    return true;
}

//  Lines of one kind, at most max a second, so that no peer can flood the
//  log: the rest are counted and the count said when the second is over.
static void
s_log_limited (limit_t *limit, int max, int level, const char *what,
               const char *format, va_list args)
{
    int64_t now = zclock_mono ();
    if (now - limit->window > 1000) {
        if (limit->count > max)
            flot_log (level, WHO, "%d more %s were not logged", limit->count - max, what);
        limit->window = now;
        limit->count = 0;
    }
    if (++limit->count > max)
        return;
    char line [600];
    vsnprintf (line, sizeof line, format, args);
    flot_log (level, WHO, "%s", line);
}

//  Bad input: a warning, at most ten a second.
static void
s_log_bad (flot_broker_t *self, const char *format, ...)
{
    self->dropped++;
    va_list args;
    va_start (args, format);
    s_log_limited (&self->bad_lines, 10, FLOT_LOG_WARN, "bad messages", format, args);
    va_end (args);
}

//  A refusal: a notice, at most twenty a second (a key that calls what it
//  may not cannot flood the log).
static void
s_log_refusal (flot_broker_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_log_limited (&self->refusal_lines, 20, FLOT_LOG_NOTICE, "refusals", format, args);
    va_end (args);
}

//  The version a client speaks: that of its last REQUEST (SPEC 13, rule 2).
static int
s_client_version (flot_broker_t *self, const bkey_t *client)
{
    if (zhashx_size (self->client_versions) == 0)
        return FLOT_VERSION;
    void *version = zhashx_lookup (self->client_versions, client);
    return version ? (int) (intptr_t) version : FLOT_VERSION;
}

static void
s_client_version_set (flot_broker_t *self, const bkey_t *client, int version)
{
    if (version == FLOT_VERSION) {
        if (zhashx_size (self->client_versions))
            zhashx_delete (self->client_versions, client);
        return;
    }
    if (zhashx_size (self->client_versions) >= MAX_OLD_CLIENTS)
        zhashx_purge (self->client_versions);
    zhashx_update (self->client_versions, client, (void *) (intptr_t) version);
}

//  Send an ERROR to a client, in version (0: the version of its latest
//  REQUEST).
static void
s_send_error (flot_broker_t *self, const bkey_t *client, int version, uint64_t corr,
              int code, const char *format, ...)
{
    char message [256];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    flot_pack_error (&sbuf, code, message);
    flot_msg_t msg = {
        .kind = FLOT_ERROR, .version = version ? version : s_client_version (self, client),
        .corr = corr,
        .body = { (const uint8_t *) sbuf.data, sbuf.size }
    };
    int rc = s_send (self, client, &msg);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc)
        flot_debug (WHO, "error reply not delivered: %s", zmq_strerror (errno));
    flot_debug (WHO, "error %s: %s", flot_err_name (code), message);
}

//  Send a body-only control message (HEARTBEAT, DISCONNECT) to a peer:
//  to an instance in its version (give it), to any other peer in the oldest
//  we speak (NULL), which every peer that speaks to us can read.
static void
s_send_control (flot_broker_t *self, const bkey_t *to, const instance_t *instance,
                int kind, const char *reason)
{
    flot_msg_t msg = {
        .kind = kind, .version = instance ? instance->protocol : FLOT_VERSION_OLDEST
    };
    msgpack_sbuffer sbuf = { 0 };
    if (kind == FLOT_DISCONNECT) {
        flot_broker_disconnect_t body = { .reason = reason };
        flot_encode_sbuf (&flot_broker_disconnect_def, &body, &sbuf);
        msg.body = (flot_bytes_t) { (const uint8_t *) sbuf.data, sbuf.size };
    }
    s_send (self, to, &msg);
    msgpack_sbuffer_destroy (&sbuf);
}

//  Tell an instance that the caller of one of its streams is gone.
static void
s_send_cancel (flot_broker_t *self, instance_t *instance, const bkey_t *client,
               uint64_t corr, const char *reason)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "reason", 6);
    msgpack_pack_str_with_body (&pk, reason, strlen (reason));
    flot_msg_t msg = {
        .kind = FLOT_CANCEL, .version = instance->protocol,
        .route = { client->data, client->size }, .corr = corr,
        .body = { (const uint8_t *) sbuf.data, sbuf.size }
    };
    s_send (self, &instance->id, &msg);
    msgpack_sbuffer_destroy (&sbuf);
}

//  --------------------------------------------------------------------------
//  Instances and services

static service_t *
s_service_require (flot_broker_t *self, const char *name)
{
    service_t *service = zhashx_lookup (self->services, name);
    if (!service) {
        service = calloc (1, sizeof *service);
        assert (service);
        snprintf (service->name, sizeof service->name, "%s", name);
        for (size_t i = 0; flot_contracts [i]; i++)
            if (streq (flot_contracts [i]->service, name))
                service->contract = flot_contracts [i];
        for (size_t i = 0; service->contract && i < service->contract->command_count; i++)
            if (service->contract->commands [i].stream)
                service->streams = true;
        service->instances = zlistx_new ();
        service->sticky = zhashx_new ();
        zhashx_set_destructor (service->sticky, (zhashx_destructor_fn *) zstr_free);
        service->sticky_order = zlistx_new ();
        zhashx_insert (self->services, name, service);
    }
    return service;
}

static void
s_service_free (void **item_p)
{
    service_t *service = *item_p;
    if (service) {
        zlistx_destroy (&service->instances);
        zlistx_destroy (&service->sticky_order);
        zhashx_destroy (&service->sticky);
        free (service);
        *item_p = NULL;
    }
}

//  The route of a pending request's caller, as a key.
static void
s_pending_client (const flot_pending_t *pending, bkey_t *client)
{
    s_bkey_set (client, pending->client, pending->client_size, NULL);
}

//  The pending requests for which match (p, arg) holds, collected.
static zlistx_t *
s_pending_select (flot_broker_t *self, bool (*match) (flot_pending_t *, const void *),
                  const void *arg)
{
    zlistx_t *selected = zlistx_new ();
    size_t cursor = 0;
    for (flot_pending_t *p = flot_pending_next (self->pending, &cursor); p;
         p = flot_pending_next (self->pending, &cursor))
        if (match (p, arg))
            zlistx_add_end (selected, p);
    return selected;
}

static bool
s_pending_of_instance (flot_pending_t *pending, const void *instance)
{
    return pending->instance == instance;
}

static void
s_instance_free (void **item_p)
{
    instance_t *instance = *item_p;
    if (instance) {
        zlistx_destroy (&instance->keys);
        free (instance);
        *item_p = NULL;
    }
}

//  Whose streams a client opens: a key revoked later loses them (SPEC
//  14.5). One key per client connection (a connection has one key).
static void
s_stream_key (flot_broker_t *self, const bkey_t *client, const char *public_key)
{
    if (zhashx_lookup (self->stream_keys, client))
        return;
    if (zhashx_size (self->stream_keys) >= MAX_OLD_CLIENTS)
        zhashx_purge (self->stream_keys);
    zhashx_insert (self->stream_keys, client, strdup (public_key));
}

//  Forgets the stream (client, corr) if instance feeds it.
static void
s_stream_forget (flot_broker_t *self, const bkey_t *client, uint64_t corr,
                 const instance_t *instance)
{
    bkey_t pkey;
    s_bkey_set (&pkey, client->data, client->size, &corr);
    if (zhashx_lookup (self->streams, &pkey) == instance)
        zhashx_delete (self->streams, &pkey);
}

//  Forgets a routing key's instance.
static void
s_sticky_delete (service_t *service, sticky_t *sticky)
{
    zlistx_delete (service->sticky_order, sticky->handle);
    zhashx_delete (service->sticky, sticky->key);
}

//  Forgets every routing key an instance had: the next request with one
//  goes to the next eligible instance.
static void
s_sticky_forget (instance_t *instance)
{
    service_t *service = instance->service;
    if (zhashx_size (service->sticky) == 0)
        return;
    zlistx_t *doomed = zlistx_new ();
    for (sticky_t *s = zhashx_first (service->sticky); s; s = zhashx_next (service->sticky))
        if (s->instance == instance)
            zlistx_add_end (doomed, s);
    for (sticky_t *s = zlistx_first (doomed); s; s = zlistx_next (doomed))
        s_sticky_delete (service, s);
    zlistx_destroy (&doomed);
}

//  Remembers that key went to instance (sticky: its entry, or NULL).
static void
s_sticky_set (service_t *service, sticky_t *sticky, const char *key, instance_t *instance)
{
    if (!sticky) {
        if (zhashx_size (service->sticky) >= MAX_STICKY)
            s_sticky_delete (service, zlistx_first (service->sticky_order));
        size_t size = strlen (key) + 1;
        sticky = malloc (sizeof *sticky + size);
        assert (sticky);
        memcpy (sticky->key, key, size);
        sticky->handle = zlistx_add_end (service->sticky_order, sticky);
        zhashx_insert (service->sticky, key, sticky);
    }
    else
        zlistx_move_end (service->sticky_order, sticky->handle);
    sticky->instance = instance;
}

//  An instance died or left: fail its requests and streams, forget it.
static void
s_instance_remove (flot_broker_t *self, instance_t *instance, const char *why)
{
    flot_notice (WHO, "%s instance %s (pid %llu on %s) %s",
                 instance->service->name, instance->instance,
                 (unsigned long long) instance->pid, instance->host, why);
    zlistx_t *doomed = s_pending_select (self, s_pending_of_instance, instance);
    for (flot_pending_t *p = zlistx_first (doomed); p; p = zlistx_next (doomed)) {
        bkey_t client;
        s_pending_client (p, &client);
        s_send_error (self, &client, p->version, p->corr, FLOT_E_ACTOR_FAILED,
                      "%s instance %s %s before answering",
                      instance->service->name, instance->instance, why);
        s_stream_forget (self, &client, p->corr, instance);
        flot_pending_remove (self->pending, p);
    }
    zlistx_purge (doomed);
    for (instance_t *i = zhashx_first (self->streams); i; i = zhashx_next (self->streams))
        if (i == instance)
            zlistx_add_end (doomed, (void *) zhashx_cursor (self->streams));
    for (void *key = zlistx_first (doomed); key; key = zlistx_next (doomed)) {
        const bkey_t *k = key;
        bkey_t client;
        s_bkey_set (&client, k->data, k->size - 8u, NULL);
        s_send_error (self, &client, 0, flot_get_u64 (k->data + k->size - 8),
                      FLOT_E_ACTOR_FAILED, "%s instance %s %s; the stream is closed",
                      instance->service->name, instance->instance, why);
        zhashx_delete (self->streams, key);
    }
    zlistx_destroy (&doomed);
    s_sticky_forget (instance);
    void *handle = zlistx_find (instance->service->instances, instance);
    if (handle)
        zlistx_delete (instance->service->instances, handle);
    zhashx_delete (self->instances, &instance->id);
}

static bool
s_instance_claims (instance_t *instance, const char *key)
{
    for (const char *k = zlistx_first (instance->keys); k; k = zlistx_next (instance->keys))
        if (streq (k, key))
            return true;
    return false;
}

//  Picks the next instance for a request: round-robin over those that
//  claim the key, else over those that claim none. NULL if there is none.
static instance_t *
s_instance_next (service_t *service, const char *key)
{
    size_t size = zlistx_size (service->instances);
    if (size == 0)
        return NULL;
    instance_t *fallback = NULL;
    //  Rotate: take the head, put it at the tail, until one fits.
    for (size_t i = 0; i < size; i++) {
        instance_t *instance = zlistx_first (service->instances);
        bool any = zlistx_size (instance->keys) == 0;
        //  An instance whose key limits its routing keys gets only those it
        //  claimed, never a request without a key.
        if ((*key == 0 && !instance->scoped) || (!any && s_instance_claims (instance, key))) {
            zlistx_move_end (service->instances, zlistx_cursor (service->instances));
            return instance;
        }
        //  An instance whose key limits its routing keys is no one's
        //  fallback: it gets only the keys it claimed.
        if (any && !fallback && !instance->scoped)
            fallback = instance;
        zlistx_move_end (service->instances, zlistx_cursor (service->instances));
    }
    //  A full turn left the order as it was: send the fallback to the tail
    //  so that instances claiming no keys take turns too.
    if (fallback)
        zlistx_move_end (service->instances,
                         zlistx_find (service->instances, fallback));
    return fallback;
}

//  True if instance may be given a request with key (not empty): it claimed
//  the key, or it claims none and its key does not limit it to some.
static bool
s_instance_serves (instance_t *instance, const char *key)
{
    if (zlistx_size (instance->keys) == 0)
        return !instance->scoped;
    return s_instance_claims (instance, key);
}

//  Picks the instance for a request. A request without a key: the next,
//  round-robin. With key K: the instance that got K last, while it lives and
//  serves K; else the next eligible one, which K then sticks to (SPEC 4.2:
//  a request asked again after a lost answer reaches the instance that
//  holds its idempotency record). NULL if there is none.
static instance_t *
s_instance_pick (service_t *service, const char *key)
{
    if (*key == 0)
        return s_instance_next (service, key);
    sticky_t *sticky = zhashx_lookup (service->sticky, key);
    if (sticky && s_instance_serves (sticky->instance, key)) {
        zlistx_move_end (service->sticky_order, sticky->handle);
        return sticky->instance;
    }
    instance_t *instance = s_instance_next (service, key);
    if (instance)
        s_sticky_set (service, sticky, key, instance);
    else
    if (sticky)
        s_sticky_delete (service, sticky);
    return instance;
}

//  --------------------------------------------------------------------------
//  READY: an actor registers

//  The newest version the instance announced that we can deliver in, or 0:
//  then the reason says which versions it announced and which we speak.
static int
s_ready_protocol (const instance_t *instance, char *reason, size_t size)
{
    int best = 0;
    for (size_t i = 0; i < instance->version_count; i++) {
        uint64_t v = instance->versions [i];
        if (v >= FLOT_VERSION_OLDEST && v <= FLOT_VERSION && (int) v > best)
            best = (int) v;
    }
    if (best == 0) {
        char announced [FLOT_MAX_VERSIONS * 4 + 1] = "";
        size_t used = 0;
        for (size_t i = 0; i < instance->version_count; i++)
            used += (size_t) snprintf (announced + used, sizeof announced - used,
                                       "%s%02d", i ? ", " : "",
                                       (int) instance->versions [i]);
        char speaks [64];
        snprintf (reason, size, "protocol version%s %s %s not supported, this broker speaks %s",
                  instance->version_count > 1 ? "s" : "", announced,
                  instance->version_count > 1 ? "are" : "is",
                  flot_versions_text (speaks, sizeof speaks));
    }
    return best;
}

//  The versions this broker speaks, oldest first, in versions.
static flot_array_t
s_versions_spoken (uint64_t versions [FLOT_MAX_VERSIONS])
{
    size_t count = 0;
    for (int v = FLOT_VERSION_OLDEST; v <= FLOT_VERSION; v++)
        versions [count++] = (uint64_t) v;
    return (flot_array_t) { count, versions };
}

//  DISCONNECT with body to the peer id, in the oldest version (a peer that
//  is refused may speak no other).
static void
s_send_disconnect (flot_broker_t *self, const bkey_t *id, const flot_broker_disconnect_t *body)
{
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_broker_disconnect_def, body, &sbuf);
    flot_msg_t msg = {
        .kind = FLOT_DISCONNECT, .version = FLOT_VERSION_OLDEST,
        .body = { (const uint8_t *) sbuf.data, sbuf.size }
    };
    s_send (self, id, &msg);
    msgpack_sbuffer_destroy (&sbuf);
}

//  DISCONNECT to a READY that announced no version we can deliver in:
//  the reason, and the versions we speak.
static void
s_refuse_versions (flot_broker_t *self, const bkey_t *id, const char *reason)
{
    uint64_t spoken [FLOT_MAX_VERSIONS];
    flot_broker_disconnect_t body = {
        .reason = reason, .versions = s_versions_spoken (spoken)
    };
    s_send_disconnect (self, id, &body);
}

//  True if key is made of printable ASCII bytes only (SPEC 3.1).
static bool
s_key_printable (const char *key)
{
    for (const unsigned char *c = (const unsigned char *) key; *c; c++)
        if (*c < 0x21 || *c > 0x7e)
            return false;
    return true;
}

//  Reads a READY body into instance. Its contract (broker.READY) checks
//  every field; what it cannot say, that each key is printable, is checked
//  here. Absent versions (or nil) are the signature's (SPEC 13): signature
//  is the READY's version.
static int
s_ready_parse (instance_t *instance, flot_bytes_t body, int signature, flot_err_t *err)
{
    flot_body_t *decoded = flot_body_decode (body.data, body.size, err);
    if (!decoded)
        return -1;
    flot_broker_ready_t ready;
    int rc = flot_broker_ready_decode (flot_body_root (decoded), flot_body_zone (decoded),
                                       &ready, err);
    const char *const *keys = ready.keys.items;
    //  The contract bounds versions as instance->versions does; should the
    //  two ever differ, the smaller holds.
    if (rc == 0 && ready.versions.count > FLOT_MAX_VERSIONS)
        rc = flot_err_set (err, FLOT_E_INVALID, "field 'versions' has %zu items, the limit "
                           "is %d", ready.versions.count, FLOT_MAX_VERSIONS);
    for (size_t i = 0; rc == 0 && i < ready.keys.count; i++)
        if (!s_key_printable (keys [i]))
            rc = flot_err_set (err, FLOT_E_INVALID,
                               "field 'keys[%zu]' must be printable ASCII", i);
    if (rc == 0) {
        if (ready.instance)
            snprintf (instance->instance, sizeof instance->instance, "%s", ready.instance);
        snprintf (instance->host, sizeof instance->host, "%s", ready.host);
        instance->pid = ready.pid;
        for (size_t i = 0; i < ready.keys.count; i++)
            zlistx_add_end (instance->keys, strdup (keys [i]));
        if (ready.versions.count) {
            memcpy (instance->versions, ready.versions.items,
                    ready.versions.count * sizeof instance->versions [0]);
            instance->version_count = ready.versions.count;
        }
        else {
            instance->versions [0] = (uint64_t) signature;
            instance->version_count = 1;
        }
    }
    flot_body_destroy (&decoded);
    return rc;
}

//  Whether the key a READY came with (user: its public key; NULL without
//  one) may register service with the keys instance claims. Returns true,
//  and notes the key in instance, or false with reason.
static bool
s_ready_allowed (flot_broker_t *self, const char *user, const char *service,
                 instance_t *instance, char *reason, size_t size)
{
    if (!user)
        return true;
    const flot_key_t *key = broker_auth_lookup (self->auth, user);
    if (!key) {
        broker_auth_gone (self->auth, user, reason, size);
        return false;
    }
    if (key->role != FLOT_ROLE_ACTOR && key->role != FLOT_ROLE_ADMIN) {
        snprintf (reason, size, "key '%s' (%s) may not register a service: only actor keys may",
                  key->name, flot_role_name (key->role));
        return false;
    }
    if (!flot_key_may_serve (key, service)) {
        snprintf (reason, size, "key '%s' may not serve service '%s' (it may serve: %.64s)",
                  key->name, service, key->services);
        return false;
    }
    for (const char *k = zlistx_first (instance->keys); k; k = zlistx_next (instance->keys))
        if (!flot_key_may_claim (key, k)) {
            snprintf (reason, size, "key '%s' may not claim routing key '%.64s' (it may claim: %.120s)",
                      key->name, k, *key->targets ? key->targets : "none");
            return false;
        }
    snprintf (instance->key, sizeof instance->key, "%s", user);
    snprintf (instance->key_name, sizeof instance->key_name, "%s", key->name);
    //  A key that names its targets limits this instance to them; one
    //  that names none ("") serves requests without a key, as any does.
    instance->scoped = key->role == FLOT_ROLE_ACTOR && *key->targets
                    && strneq (key->targets, "*");
    return true;
}

//  Remembers the socket of an instance of a service of one instance at a
//  time that was refused or found dead: its requests are refused while
//  another instance holds the service (s_on_request).
static void
s_displace (flot_broker_t *self, const bkey_t *id, service_t *service)
{
    if (zhashx_size (self->displaced) >= MAX_DISPLACED)
        zhashx_purge (self->displaced);
    zhashx_update (self->displaced, id, service);
}

//  For a service of one instance at a time (its contract's "instances":
//  "one"), the live instance registered on another socket than id, or NULL.
//  One found past its liveness window is removed first, as the next tick
//  would, and so is one whose connection is gone (a HEARTBEAT to it finds
//  no route); one with the name, host and pid of instance (may be NULL) is
//  that process come back on a new connection, and gives its place to it.
static instance_t *
s_one_instance_holder (flot_broker_t *self, const char *name, const bkey_t *id,
                       const instance_t *instance)
{
    service_t *service = zhashx_lookup (self->services, name);
    if (!service || !service->contract || !service->contract->one_instance)
        return NULL;
    int64_t expiry = (int64_t) self->heartbeat_ms * self->liveness;
    instance_t *holder = zlistx_first (service->instances);
    while (holder) {
        const char *why = NULL;
        if (s_bkey_compare (&holder->id, id) == 0)
            ;
        else
        if (self->now - holder->last_seen > expiry) {
            why = "missed its heartbeats";
            s_displace (self, &holder->id, service);
        }
        else
        if (instance && holder->pid == instance->pid && streq (holder->host, instance->host)
        &&  streq (holder->instance, instance->instance))
            why = "registered again on a new connection";
        else
        if (s_send (self, &holder->id, &(flot_msg_t) {
                        .kind = FLOT_HEARTBEAT, .version = holder->protocol })
        &&  errno == EHOSTUNREACH)
            //  Its connection is gone (a process killed on a host we still
            //  reach): the router has dropped its route id.
            why = "closed its connection";
        else
            return holder;
        if (why) {
            s_instance_remove (self, holder, why);
            holder = zlistx_first (service->instances);
        }
        else
            holder = zlistx_next (service->instances);
    }
    return NULL;
}

//  DISCONNECT with code CONFLICT: the receiver stops acting as its service
//  (SPEC 4.1).
static void
s_send_conflict (flot_broker_t *self, const bkey_t *id, const char *reason)
{
    flot_broker_disconnect_t body = {
        .reason = reason, .code = FLOT_E_CONFLICT, .has_code = true
    };
    s_send_disconnect (self, id, &body);
}

//  DISCONNECT with code CONFLICT to a READY for a service of one instance
//  at a time while holder is registered (SPEC 4.1).
static void
s_refuse_one_instance (flot_broker_t *self, const bkey_t *id, const char *name,
                       const instance_t *instance, const instance_t *holder)
{
    char reason [512];
    snprintf (reason, sizeof reason, "%s on %s (pid %llu) is the %s: one instance at a time",
              holder->instance, *holder->host ? holder->host : "?",
              (unsigned long long) holder->pid, name);
    s_log_refusal (self, "refused READY for '%s' from %s on %s (pid %llu), CONFLICT: %s",
                   name, *instance->instance ? instance->instance : "an unnamed instance",
                   *instance->host ? instance->host : "?",
                   (unsigned long long) instance->pid, reason);
    s_send_conflict (self, id, reason);
    s_displace (self, id, holder->service);
}

static void
s_on_ready (flot_broker_t *self, const bkey_t *id, const flot_msg_t *msg, const char *user)
{
    char name [FLOT_MAX_NAME + 1];
    snprintf (name, sizeof name, "%.*s", (int) msg->service.size, msg->service.data);
    if (streq (name, FLOT_BROKER_SERVICE)) {
        s_log_bad (self, "an actor tried to register the reserved service '%s'", name);
        s_send_control (self, id, NULL, FLOT_DISCONNECT, "the service name 'broker' is reserved");
        return;
    }
    instance_t *old = zhashx_lookup (self->instances, id);
    if (old && strneq (old->service->name, name))
        s_instance_remove (self, old, "registered another service");
    else
    if (old) {
        //  The same service again: update its registration in place.
        instance_t update = { .keys = zlistx_new () };
        zlistx_set_destructor (update.keys, (zlistx_destructor_fn *) zstr_free);
        flot_err_t err = { 0 };
        char reason [512];
        if (s_ready_parse (&update, msg->body, msg->version, &err) == 0
        &&  !s_ready_allowed (self, user, name, &update, reason, sizeof reason)) {
            zlistx_destroy (&update.keys);
            s_instance_remove (self, old, "registered again with a READY its key may not send");
            s_log_refusal (self, "refused READY for '%s': %s", name, reason);
            s_send_control (self, id, NULL, FLOT_DISCONNECT, reason);
        }
        else
        if (err.code == 0
        &&  (update.protocol = s_ready_protocol (&update, reason, sizeof reason)) == 0) {
            //  It speaks no version we can deliver in any more.
            zlistx_destroy (&update.keys);
            s_instance_remove (self, old, "announced no protocol version this broker speaks");
            s_log_bad (self, "READY for '%s' refused: %s", name, reason);
            s_refuse_versions (self, id, reason);
        }
        else
        if (update.protocol) {
            zlistx_destroy (&old->keys);
            old->keys = update.keys;
            if (*update.instance)
                memcpy (old->instance, update.instance, sizeof old->instance);
            memcpy (old->host, update.host, sizeof old->host);
            old->pid = update.pid;
            memcpy (old->versions, update.versions, sizeof old->versions);
            old->version_count = update.version_count;
            old->protocol = update.protocol;
            old->scoped = update.scoped;
            memcpy (old->key, update.key, sizeof old->key);
            memcpy (old->key_name, update.key_name, sizeof old->key_name);
        }
        else {
            zlistx_destroy (&update.keys);
            s_log_bad (self, "READY for '%s' refused: %s", name, err.message);
        }
        return;
    }
    instance_t *instance = calloc (1, sizeof *instance);
    assert (instance);
    instance->id = *id;
    instance->keys = zlistx_new ();
    zlistx_set_destructor (instance->keys, (zlistx_destructor_fn *) zstr_free);
    flot_err_t err;
    if (s_ready_parse (instance, msg->body, msg->version, &err)) {
        s_log_bad (self, "READY for '%s' refused: %s", name, err.message);
        s_send_control (self, id, NULL, FLOT_DISCONNECT, err.message);
        s_instance_free ((void **) &instance);
        return;
    }
    char reason [512];
    if (!s_ready_allowed (self, user, name, instance, reason, sizeof reason)) {
        s_log_refusal (self, "refused READY for '%s': %s", name, reason);
        s_send_control (self, id, NULL, FLOT_DISCONNECT, reason);
        s_instance_free ((void **) &instance);
        return;
    }
    instance->protocol = s_ready_protocol (instance, reason, sizeof reason);
    if (!instance->protocol) {
        s_log_bad (self, "READY for '%s' refused: %s", name, reason);
        s_refuse_versions (self, id, reason);
        s_instance_free ((void **) &instance);
        return;
    }
    const instance_t *holder = s_one_instance_holder (self, name, id, instance);
    if (holder) {
        s_refuse_one_instance (self, id, name, instance, holder);
        s_instance_free ((void **) &instance);
        return;
    }
    if (!*instance->instance) {
        //  The service and the last bytes of its route id (1..255 bytes).
        char tail [9] = "";
        for (size_t i = id->size > 4 ? id->size - 4 : 0; i < id->size; i++)
            snprintf (tail + strlen (tail), sizeof tail - strlen (tail), "%02x", id->data [i]);
        snprintf (instance->instance, sizeof instance->instance, "%.48s-%s", name, tail);
    }
    instance->service = s_service_require (self, name);
    if (zhashx_size (self->displaced))
        zhashx_delete (self->displaced, id);
    instance->registered_at = instance->last_seen = zclock_mono ();
    zlistx_add_end (instance->service->instances, instance);
    zhashx_insert (self->instances, id, instance);
    flot_notice (WHO, "%s instance %s registered (pid %llu on %s, %zu keys%s%s)",
                 name, instance->instance, (unsigned long long) instance->pid,
                 *instance->host ? instance->host : "?", zlistx_size (instance->keys),
                 *instance->key_name ? ", key " : "", instance->key_name);
}

//  --------------------------------------------------------------------------
//  The broker's own service

//  REPLY to a client with message, encoded by def.
static void
s_reply (flot_broker_t *self, const bkey_t *client, uint64_t corr,
         const flot_struct_t *def, const void *message)
{
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (def, message, &sbuf);
    flot_msg_t msg = {
        .kind = FLOT_REPLY, .version = s_client_version (self, client), .corr = corr,
        .body = { (const uint8_t *) sbuf.data, sbuf.size }
    };
    s_send (self, client, &msg);
    msgpack_sbuffer_destroy (&sbuf);
}

//  By service, then instance name.
static int
s_instance_order (const void *a, const void *b)
{
    const instance_t *ia = a, *ib = b;
    int rc = strcmp (ia->service->name, ib->service->name);
    return rc ? rc : strcmp (ia->instance, ib->instance);
}

static void
s_ping (flot_broker_t *self, const bkey_t *client, uint64_t corr, const flot_key_t *caller)
{
    uint64_t spoken [FLOT_MAX_VERSIONS];
    flot_broker_ping_reply_t reply = {
        .pong = true,
        .version = FLOTILLA_VERSION,
        .uptime_ms = (uint64_t) (zclock_mono () - self->started_at),
        .has_uptime_ms = true,
        .versions = s_versions_spoken (spoken),
        .protocol = FLOT_VERSION, .has_protocol = true,
        .heartbeat_ms = (uint64_t) self->heartbeat_ms, .has_heartbeat_ms = true,
        .liveness = (uint64_t) self->liveness, .has_liveness = true,
        .secure = self->auth != NULL, .has_secure = true,
        .caller = caller ? caller->name : NULL,
        .role = caller ? flot_role_name (caller->role) : NULL
    };
    s_reply (self, client, corr, &flot_broker_ping_reply_def, &reply);
}

//  Every live instance, by service then instance name.
static void
s_actors (flot_broker_t *self, const bkey_t *client, uint64_t corr)
{
    int64_t now = zclock_mono ();
    zlistx_t *sorted = zlistx_new ();
    zlistx_set_comparator (sorted, s_instance_order);
    size_t key_count = 0;
    for (instance_t *i = zhashx_first (self->instances); i;
         i = zhashx_next (self->instances)) {
        zlistx_add_end (sorted, i);
        key_count += zlistx_size (i->keys);
    }
    zlistx_sort (sorted);
    //  The reply points into the instances: their names, keys and versions.
    flot_broker_actors_reply_t reply = { .actors = { zlistx_size (sorted), NULL } };
    flot_broker_actor_t *actors = calloc (reply.actors.count + 1, sizeof *actors);
    const char **keys = calloc (key_count + 1, sizeof *keys);
    assert (actors && keys);
    reply.actors.items = actors;
    size_t used = 0;
    for (instance_t *i = zlistx_first (sorted); i; i = zlistx_next (sorted)) {
        *actors++ = (flot_broker_actor_t) {
            .service = i->service->name,
            .instance = i->instance,
            .host = i->host,
            .pid = i->pid,
            .keys = { zlistx_size (i->keys), (void *) (keys + used) },
            .uptime_ms = (uint64_t) (now - i->registered_at),
            .last_heartbeat_ms = (uint64_t) (now - i->last_seen),
            .handled = i->handled,
            .pending = i->pending,
            .versions = { i->version_count, i->versions },
            .protocol = (uint64_t) i->protocol, .has_protocol = true,
            .key = *i->key_name ? i->key_name : NULL
        };
        for (const char *k = zlistx_first (i->keys); k; k = zlistx_next (i->keys))
            keys [used++] = k;
    }
    s_reply (self, client, corr, &flot_broker_actors_reply_def, &reply);
    free (reply.actors.items);
    free (keys);
    zlistx_destroy (&sorted);
}

//  True if the request's command is name.
static bool
s_command_is (const flot_msg_t *msg, const char *name)
{
    size_t size = strlen (name);
    return msg->command.size == size && memcmp (msg->command.data, name, size) == 0;
}

//  The keys allowed now, unless the caller holds this generation.
static void
s_keys (flot_broker_t *self, const bkey_t *client, uint64_t corr,
        const flot_broker_keys_request_t *request)
{
    flot_broker_keys_reply_t reply = { .secure = self->auth != NULL };
    flot_broker_key_t *keys = NULL;
    if (self->auth) {
        reply.generation = broker_auth_generation (self->auth);
        flot_keyring_t *keyring = broker_auth_keyring (self->auth);
        if (request->since != reply.generation) {
            keys = calloc (flot_keyring_size (keyring) + 1, sizeof *keys);
            assert (keys);
            size_t count = 0;
            for (const flot_key_t *k = flot_keyring_first (keyring); k;
                 k = flot_keyring_next (keyring))
                keys [count++] = (flot_broker_key_t) {
                    .name = k->name, .public_key = k->public_key,
                    .role = flot_role_name (k->role)
                };
            reply.keys = (flot_array_t) { count, keys };
        }
    }
    s_reply (self, client, corr, &flot_broker_keys_reply_def, &reply);
    free (keys);
}

//  A request to the broker's own service. Its body is decoded by the
//  command's contract, so that a bad body, a key given twice say, meets
//  the answer it would at any actor.
static void
s_broker_service (flot_broker_t *self, const bkey_t *client, const flot_msg_t *msg,
                  const flot_key_t *caller)
{
    flot_err_t err;
    flot_body_t *body = flot_body_decode (msg->body.data, msg->body.size, &err);
    int rc = body ? 0 : -1;
    if (rc == 0 && s_command_is (msg, FLOT_BROKER_PING)) {
        flot_broker_ping_request_t request;
        rc = flot_broker_ping_request_decode (flot_body_root (body), flot_body_zone (body),
                                              &request, &err);
        if (rc == 0)
            s_ping (self, client, msg->corr, caller);
    }
    else
    if (rc == 0 && s_command_is (msg, FLOT_BROKER_ACTORS)) {
        flot_broker_actors_request_t request;
        rc = flot_broker_actors_request_decode (flot_body_root (body), flot_body_zone (body),
                                                &request, &err);
        if (rc == 0)
            s_actors (self, client, msg->corr);
    }
    else
    if (rc == 0 && s_command_is (msg, FLOT_BROKER_KEYS)) {
        flot_broker_keys_request_t request;
        rc = flot_broker_keys_request_decode (flot_body_root (body), flot_body_zone (body),
                                              &request, &err);
        if (rc == 0)
            s_keys (self, client, msg->corr, &request);
    }
    else
    if (rc == 0)
        rc = flot_err_set (&err, FLOT_E_UNKNOWN_COMMAND,
                           "service 'broker' has no command '%.*s' (it has Ping, Actors, Keys)",
                           (int) msg->command.size, (const char *) msg->command.data);
    if (rc)
        s_send_error (self, client, msg->version, msg->corr, err.code, "%s", err.message);
    flot_body_destroy (&body);
}

//  --------------------------------------------------------------------------
//  Requests and replies

//  Whether the caller (user: its public key; NULL without one) may call
//  this request's command; if not, answers NOT_AUTHORIZED. Logs each
//  refusal, and each accepted call from a client that changes something,
//  with the key's name. Sets *key to the caller's key (NULL without one).
static bool
s_authorized (flot_broker_t *self, const bkey_t *client, const flot_msg_t *msg,
              const char *service, const char *user, const flot_key_t **key)
{
    *key = NULL;
    if (!user)
        return true;            //  inproc, or a broker without keys
    char command [FLOT_MAX_NAME + 1], why [256];
    snprintf (command, sizeof command, "%.*s", (int) msg->command.size,
              (const char *) msg->command.data);
    *key = broker_auth_lookup (self->auth, user);
    if (!*key)
        broker_auth_gone (self->auth, user, why, sizeof why);
    if (!*key || !broker_auth_may_call (self->auth, *key, service, command, why, sizeof why)) {
        s_log_refusal (self, "refused: %s", why);
        s_send_error (self, client, msg->version, msg->corr, FLOT_E_NOT_AUTHORIZED, "%s", why);
        return false;
    }
    if (!zhashx_lookup (self->instances, client)
    &&  broker_auth_changes (self->auth, service, command))
        flot_notice (WHO, "key '%s' (%s) calls %s.%s", (*key)->name,
                     flot_role_name ((*key)->role), service, command);
    return true;
}

//  A request from a socket whose instance of a service of one instance at
//  a time was refused or found dead (s_displace): while another instance
//  holds that service, it is answered ERROR CONFLICT and the socket is told
//  again, by DISCONNECT with code CONFLICT, to stop acting as the service
//  (SPEC 4.1): a coordinator back from a cut, whose place was taken, runs
//  no step before its READY is refused. Returns true if it was refused.
static bool
s_displaced_request (flot_broker_t *self, const bkey_t *client, const flot_msg_t *msg)
{
    service_t *service = zhashx_lookup (self->displaced, client);
    if (!service)
        return false;
    instance_t *holder = s_one_instance_holder (self, service->name, client, NULL);
    if (!holder) {
        zhashx_delete (self->displaced, client);
        return false;
    }
    char reason [512];
    snprintf (reason, sizeof reason, "%s on %s (pid %llu) is the %s: one instance at a time",
              holder->instance, *holder->host ? holder->host : "?",
              (unsigned long long) holder->pid, service->name);
    s_log_refusal (self, "refused a request from a displaced %s instance, CONFLICT: %s",
                   service->name, reason);
    //  DISCONNECT first: an actor host that reads it stops before it hands
    //  the error to the call, which has then nothing to act on.
    s_send_conflict (self, client, reason);
    s_send_error (self, client, msg->version, msg->corr, FLOT_E_CONFLICT,
                  "this connection's %s instance is no longer registered: %s",
                  service->name, reason);
    return true;
}

//  Sends the request to instance, recorded as pending. Returns 0 when sent
//  or answered (BUSY, a corr in flight), -1 if the instance is unreachable
//  (it was removed; nothing was answered).
static int
s_deliver (flot_broker_t *self, const bkey_t *client, const flot_msg_t *msg,
           const flot_key_t *caller, service_t *service, instance_t *instance,
           const char *name)
{
    uint32_t timeout = msg->timeout_ms ? msg->timeout_ms : FLOT_DEFAULT_TIMEOUT_MS;
    //  Record it first: the insert is also the check for a corr in flight.
    flot_pending_t *pending = flot_pending_add (self->pending, client->data,
                                                client->size, msg->corr);
    if (!pending) {
        s_send_error (self, client, msg->version, msg->corr, FLOT_E_MALFORMED,
                      "correlation id %llu is already in flight",
                      (unsigned long long) msg->corr);
        return 0;
    }
    pending->instance = instance;
    pending->deadline = self->now + timeout;
    if (pending->deadline < self->earliest_deadline)
        self->earliest_deadline = pending->deadline;
    pending->version = (uint8_t) msg->version;
    if (caller)
        memcpy (pending->key, caller->public_key, sizeof pending->key);
    else
        pending->key [0] = 0;
    //  A command whose contract has a stream: only this instance may feed
    //  it (SPEC 9), from now until it ends.
    //  The latest command's definition is kept: requests come in runs.
    const flot_command_def_t *def = NULL;
    if (service->streams) {
        char command [FLOT_MAX_NAME + 1];
        memcpy (command, msg->command.data, msg->command.size);
        command [msg->command.size] = 0;
        if (!streq (service->last_command, command)) {
            service->last_def = flot_contract_command (service->contract, command);
            memcpy (service->last_command, command, msg->command.size + 1);
        }
        def = service->last_def;
    }
    if (def && def->stream) {
        bkey_t pkey;
        s_bkey_set (&pkey, client->data, client->size, &msg->corr);
        zhashx_update (self->streams, &pkey, instance);
        if (caller)
            s_stream_key (self, client, caller->public_key);
    }
    //  To the instance: DELIVER, naming the client as route, the same body,
    //  in the version it speaks (SPEC 13); from 03 on, with the caller's
    //  key name (SPEC 14).
    flot_msg_t deliver = {
        .kind = FLOT_DELIVER,
        .version = instance->protocol,
        .route = { client->data, client->size },
        .corr = msg->corr,
        .key = msg->key,
        .timeout_ms = timeout,
        .command = msg->command,
        .caller = { caller ? (const uint8_t *) caller->name : NULL,
                    caller ? strlen (caller->name) : 0 },
        .body = msg->body
    };
    if (s_send (self, &instance->id, &deliver)) {
        int why = errno;
        flot_pending_remove (self->pending, pending);
        if (why == EAGAIN) {
            s_send_error (self, client, msg->version, msg->corr, FLOT_E_BUSY,
                          "%s instance %s has too many requests queued",
                          name, instance->instance);
            return 0;
        }
        //  Its connection is gone (a peer that reconnected has a new one):
        //  it leaves, and the caller picks another.
        s_instance_remove (self, instance, "is unreachable");
        return -1;
    }
    instance->pending++;
    return 0;
}

static void
s_on_request (flot_broker_t *self, const bkey_t *client, const flot_msg_t *msg,
              const char *user)
{
    //  The codec checked service and key: no NUL, within the sizes.
    char name [FLOT_MAX_NAME + 1];
    memcpy (name, msg->service.data, msg->service.size);
    name [msg->service.size] = 0;
    s_client_version_set (self, client, msg->version);
    const flot_key_t *caller;
    if (!s_authorized (self, client, msg, name, user, &caller))
        return;
    if (streq (name, FLOT_BROKER_SERVICE)) {
        s_broker_service (self, client, msg, caller);
        return;
    }
    if (zhashx_size (self->displaced) && s_displaced_request (self, client, msg))
        return;
    //  Requests come in runs to one service: the latest one's is compared
    //  before the table is searched (services stay until the broker ends).
    service_t *service = self->last_service;
    if (!service || !streq (service->name, name))
        service = self->last_service = zhashx_lookup (self->services, name);
    if (!service) {
        s_send_error (self, client, msg->version, msg->corr, FLOT_E_UNKNOWN_SERVICE,
                      "no actor has registered service '%s'", name);
        return;
    }
    char key [FLOT_MAX_KEY + 1];
    memcpy (key, msg->key.data, msg->key.size);
    key [msg->key.size] = 0;
    //  An instance found unreachable leaves; the next one is tried.
    instance_t *instance;
    bool unreachable = false;
    while ((instance = s_instance_pick (service, key))) {
        if (s_deliver (self, client, msg, caller, service, instance, name) == 0)
            return;
        unreachable = true;
    }
    const char *why = unreachable ? " (one was unreachable)" : "";
    if (*key)
        s_send_error (self, client, msg->version, msg->corr, FLOT_E_NO_INSTANCE,
                      "no live instance of %s serves key '%s'%s", name, key, why);
    else
        s_send_error (self, client, msg->version, msg->corr, FLOT_E_NO_INSTANCE,
                      "service '%s' has no live instance%s", name, why);
}

//  A_REPLY, A_ERROR, A_STREAM, A_STREAM_END from an instance.
static void
s_on_answer (flot_broker_t *self, instance_t *instance, const flot_msg_t *msg)
{
    bkey_t client, pkey;
    s_bkey_set (&client, msg->route.data, msg->route.size, NULL);
    s_bkey_set (&pkey, msg->route.data, msg->route.size, &msg->corr);
    int kind = msg->kind == FLOT_A_REPLY ? FLOT_REPLY
             : msg->kind == FLOT_A_ERROR ? FLOT_ERROR
             : msg->kind == FLOT_A_STREAM ? FLOT_STREAM : FLOT_STREAM_END;
    int version = 0;            //  the request's; a stream's: the caller's latest

    //  Only the instance a request went to answers it, and only the one
    //  that feeds a stream (the request's, SPEC 9) pushes on it or ends it:
    //  anything else is dropped, whoever sent it.
    instance_t *feeder = zhashx_size (self->streams) ? zhashx_lookup (self->streams, &pkey)
                                                     : NULL;
    flot_pending_t *pending = flot_pending_find (self->pending, msg->route.data,
                                                 msg->route.size, msg->corr);
    if (pending && pending->instance != instance)
        pending = NULL;
    if (feeder && feeder != instance) {
        flot_debug (WHO, "dropped %s from %s for a stream another instance feeds",
                    flot_kind_name (msg->kind), instance->instance);
        return;
    }
    if (kind == FLOT_REPLY || kind == FLOT_ERROR) {
        if (!pending && !(kind == FLOT_ERROR && feeder)) {
            flot_debug (WHO, "dropped a late answer from %s (corr %llu)",
                        instance->instance, (unsigned long long) msg->corr);
            return;
        }
        if (pending) {
            version = pending->version;
            flot_pending_remove (self->pending, pending);
            instance->pending--;
            instance->handled++;
        }
        //  An error ends the stream the request opened, if it did.
        if (kind == FLOT_ERROR && feeder)
            zhashx_delete (self->streams, &pkey);
    }
    else
    if (!feeder && !pending) {
        flot_debug (WHO, "dropped %s from %s for no stream of its own",
                    flot_kind_name (msg->kind), instance->instance);
        return;
    }
    else
    if (kind == FLOT_STREAM) {
        //  Before its REPLY, a stream whose command no contract names.
        if (!feeder) {
            zhashx_insert (self->streams, &pkey, instance);
            if (pending->key [0])
                s_stream_key (self, &client, pending->key);
        }
    }
    else
        zhashx_delete (self->streams, &pkey);

    flot_msg_t answer = {
        .kind = kind, .version = version ? version : s_client_version (self, &client),
        .corr = msg->corr, .body = msg->body
    };
    if (s_send (self, &client, &answer) && errno == EHOSTUNREACH
    &&  (kind == FLOT_STREAM)) {
        //  The caller of this stream is gone: tell the actor to stop.
        zhashx_delete (self->streams, &pkey);
        s_send_cancel (self, instance, &client, msg->corr, "caller is gone");
    }
}

//  A message that failed to decode. A request whose corr we can read is
//  answered (whatever its signature says); an actor's answer to a request it
//  holds fails that request at once rather than at its deadline; anything
//  else is logged and dropped.
static void
s_on_bad (flot_broker_t *self, const bkey_t *id, instance_t *instance,
          const flot_bytes_t *frames, int count, const flot_err_t *err)
{
    assert (count >= 1);        //  the header, at least
    (void) count;
    const uint8_t *h = frames [0].data;
    size_t size = frames [0].size;
    int kind = size > FLOT_SIGNATURE_SIZE ? h [FLOT_SIGNATURE_SIZE] : -1;
    uint64_t corr;
    //  An actor's answer: route (length byte and bytes), then corr.
    size_t route_size = size > FLOT_SIGNATURE_SIZE + 1 ? h [FLOT_SIGNATURE_SIZE + 1] : 0;
    const uint8_t *route = h + FLOT_SIGNATURE_SIZE + 2;
    flot_err_t own;
    if (err->code == FLOT_E_VERSION) {
        //  Name the versions this broker speaks (SPEC 13).
        flot_msg_version_error (frames [0], "this broker", &own);
        err = &own;
    }
    if (s_addressable (h, size, &corr)) {
        //  Answered in the version of its signature if we speak it, else in
        //  the one we prefer (SPEC 13).
        int version = flot_msg_version (frames [0]);
        s_send_error (self, id, version ? version : FLOT_VERSION, corr, err->code,
                      "%s", err->message);
    }
    else
    if (kind == FLOT_READY && err->code == FLOT_E_VERSION)
        s_refuse_versions (self, id, err->message);
    else
    if (kind == FLOT_READY)
        s_send_control (self, id, NULL, FLOT_DISCONNECT, err->message);
    else
    if (instance && (kind == FLOT_A_REPLY || kind == FLOT_A_ERROR) && route_size > 0
    &&  size >= FLOT_SIGNATURE_SIZE + 2 + route_size + 8) {
        bkey_t client;
        corr = flot_get_u64 (route + route_size);
        s_bkey_set (&client, route, route_size, NULL);
        flot_pending_t *pending = flot_pending_find (self->pending, route, route_size, corr);
        if (pending && pending->instance == instance) {
            s_send_error (self, &client, pending->version, corr, err->code,
                          "%s instance %s sent a bad answer: %s",
                          instance->service->name, instance->instance, err->message);
            instance->pending--;
            flot_pending_remove (self->pending, pending);
        }
    }
    s_log_bad (self, "bad message from peer %s: %s",
               instance ? instance->instance : "(not an actor)", err->message);
}

static bool
s_pending_of_client (flot_pending_t *pending, const void *id)
{
    const bkey_t *client = id;
    return pending->client_size == client->size
        && memcmp (pending->client, client->data, client->size) == 0;
}

//  A caller left (DISCONNECT): forget its requests, cancel its streams.
static void
s_client_gone (flot_broker_t *self, const bkey_t *id)
{
    zhashx_delete (self->stream_keys, id);
    if (zhashx_size (self->displaced))
        zhashx_delete (self->displaced, id);
    zlistx_t *doomed = s_pending_select (self, s_pending_of_client, id);
    for (flot_pending_t *p = zlistx_first (doomed); p; p = zlistx_next (doomed)) {
        ((instance_t *) p->instance)->pending--;
        flot_pending_remove (self->pending, p);
    }
    zlistx_purge (doomed);
    for (instance_t *i = zhashx_first (self->streams); i; i = zhashx_next (self->streams)) {
        const bkey_t *k = zhashx_cursor (self->streams);
        if (k->size == id->size + 8 && memcmp (k->data, id->data, id->size) == 0)
            zlistx_add_end (doomed, (void *) k);
    }
    for (void *key = zlistx_first (doomed); key; key = zlistx_next (doomed)) {
        const bkey_t *k = key;
        s_send_cancel (self, zhashx_lookup (self->streams, key), id,
                       flot_get_u64 (k->data + id->size), "caller is gone");
        zhashx_delete (self->streams, key);
    }
    zlistx_destroy (&doomed);
}

//  The keys changed: an instance whose key is gone, or may no longer serve
//  what it registered, is removed and told so.
static void
s_keys_changed (flot_broker_t *self)
{
    zlistx_t *doomed = zlistx_new ();
    for (instance_t *i = zhashx_first (self->instances); i; i = zhashx_next (self->instances)) {
        if (!*i->key)
            continue;
        char reason [512];
        instance_t probe = { .keys = i->keys };
        if (!s_ready_allowed (self, i->key, i->service->name, &probe, reason, sizeof reason)) {
            flot_notice (WHO, "%s instance %s removed: %s", i->service->name, i->instance, reason);
            s_send_control (self, &i->id, i, FLOT_DISCONNECT, reason);
            zlistx_add_end (doomed, i);
        }
    }
    for (instance_t *i = zlistx_first (doomed); i; i = zlistx_next (doomed))
        s_instance_remove (self, i, "its key is no longer allowed");
    zlistx_purge (doomed);
    //  Streams that a key no longer allowed opened end: their feeders are
    //  told to stop, their callers why.
    for (instance_t *i = zhashx_first (self->streams); i; i = zhashx_next (self->streams)) {
        const bkey_t *k = zhashx_cursor (self->streams);
        bkey_t client;
        s_bkey_set (&client, k->data, k->size - 8u, NULL);
        const char *public_key = zhashx_lookup (self->stream_keys, &client);
        if (public_key && !broker_auth_lookup (self->auth, public_key))
            zlistx_add_end (doomed, (void *) k);
    }
    for (void *key = zlistx_first (doomed); key; key = zlistx_next (doomed)) {
        const bkey_t *k = key;
        bkey_t client;
        uint64_t corr = flot_get_u64 (k->data + k->size - 8);
        s_bkey_set (&client, k->data, k->size - 8u, NULL);
        char why [256];
        broker_auth_gone (self->auth, zhashx_lookup (self->stream_keys, &client),
                          why, sizeof why);
        s_send_cancel (self, zhashx_lookup (self->streams, key), &client, corr, why);
        s_send_error (self, &client, 0, corr, FLOT_E_NOT_AUTHORIZED, "%s; the stream is closed",
                      why);
        zhashx_delete (self->streams, key);
    }
    zlistx_destroy (&doomed);
}

//  One message from the router, identity first.
static void
s_on_message (flot_broker_t *self, zmq_msg_t *in, int count)
{
    bkey_t id;
    size_t id_size = zmq_msg_size (&in [0]);
    if (id_size == 0 || id_size > FLOT_MAX_ROUTE)
        return;
    s_bkey_set (&id, zmq_msg_data (&in [0]), id_size, NULL);

    flot_bytes_t frames [FLOT_MAX_FRAMES];
    for (int i = 1; i < count; i++)
        frames [i - 1] = (flot_bytes_t) { zmq_msg_data (&in [i]), zmq_msg_size (&in [i]) };
    flot_msg_t msg;
    flot_err_t err;
    //  The key the peer's connection was admitted with: the public key
    //  zauth saw (NULL on inproc, or without keys).
    //  A connection over the network without one (no ZAP reply to say who)
    //  is no one: "" (refused below); inproc (no peer address) is trusted.
    const char *user = self->auth ? zmq_msg_gets (&in [1], "User-Id") : NULL;
    if (self->auth && (!user || !*user))
        user = zmq_msg_gets (&in [1], "Peer-Address") ? "" : NULL;
    instance_t *instance = zhashx_lookup (self->instances, &id);
    if (instance && *instance->key && (!user || strneq (user, instance->key))) {
        //  Another connection took the route id of a registered instance.
        s_instance_remove (self, instance, "its route id came back with another key");
        instance = NULL;
    }
    if (instance)
        instance->last_seen = self->now;

    if (flot_msg_decode (&msg, frames, (size_t) count - 1, &err)) {
        s_on_bad (self, &id, instance, frames, count - 1, &err);
        return;
    }
    switch (msg.kind) {
        case FLOT_REQUEST:
            s_on_request (self, &id, &msg, user);
            break;
        case FLOT_READY:
            s_on_ready (self, &id, &msg, user);
            break;
        case FLOT_A_REPLY:
        case FLOT_A_ERROR:
        case FLOT_A_STREAM:
        case FLOT_A_STREAM_END:
            if (instance)
                s_on_answer (self, instance, &msg);
            else
                s_send_control (self, &id, NULL, FLOT_DISCONNECT, "not registered");
            break;
        case FLOT_HEARTBEAT:
            if (!instance)
                s_send_control (self, &id, NULL, FLOT_DISCONNECT, "not registered");
            break;
        case FLOT_DISCONNECT:
            //  An actor leaving; and any peer's calls and streams end.
            if (instance)
                s_instance_remove (self, instance, "disconnected");
            s_client_gone (self, &id);
            break;
        default:
            s_log_bad (self, "peer %s sent %s, which only the broker sends",
                       instance ? instance->instance : "(not an actor)",
                       flot_kind_name (msg.kind));
            break;
    }
}

//  One message as received: identity first, then its frames.
typedef struct _in_t {
    zmq_msg_t frames [MAX_IN];
    int count;
    bool overflow;
} in_t;

//  Handles one received message and closes its frames.
static void
s_handle (flot_broker_t *self, in_t *in)
{
    if (in->overflow) {
        //  SPEC 7, step 1, answered as any other failure: a request by an
        //  error, a READY by DISCONNECT, an actor's answer by failing the
        //  request it answers.
        size_t id_size = zmq_msg_size (&in->frames [0]);
        if (id_size > 0 && id_size <= FLOT_MAX_ROUTE) {
            bkey_t id;
            s_bkey_set (&id, zmq_msg_data (&in->frames [0]), id_size, NULL);
            //  The codec says which failure comes first (another version's
            //  signature, or the frame count): given the first frame and
            //  one more, as the rest were dropped.
            flot_bytes_t views [2] = {
                { zmq_msg_data (&in->frames [1]), zmq_msg_size (&in->frames [1]) },
                { NULL, 0 }
            };
            flot_msg_t msg;
            flot_err_t err;
            flot_msg_decode (&msg, views, 2, &err);
            if (err.code == FLOT_E_TOO_LARGE)
                flot_err_set (&err, FLOT_E_TOO_LARGE, "message has more than one frame");
            s_on_bad (self, &id, zhashx_lookup (self->instances, &id), views, 1, &err);
        }
    }
    else
    if (in->count >= 2)
        s_on_message (self, in->frames, in->count);
    for (int i = 0; i < in->count; i++)
        zmq_msg_close (&in->frames [i]);
}

//  Receives the messages waiting, up to IN_BATCH, waiting up to wait_ms for
//  the first, then handles them in order with one reading of the clock. A
//  receive that waits costs no system call when a message is there, where
//  polling first costs several.
//  Returns 0, or -1 with errno (EAGAIN: nothing came in time).
static int
s_receive (flot_broker_t *self, int wait_ms)
{
    if (wait_ms != self->rcvtimeo) {
        zmq_setsockopt (self->handle, ZMQ_RCVTIMEO, &wait_ms, sizeof wait_ms);
        self->rcvtimeo = wait_ms;
    }
    int first = 0;              //  flags of the first receive: it may wait
    if (self->auth && wait_ms != 0) {
        //  With keys, an idle broker also wakes when they change, so that
        //  ZAP admits a key just allowed at its very first handshake. A
        //  message already there is taken without waiting for anything.
        int events = 0;
        size_t size = sizeof events;
        zmq_getsockopt (self->handle, ZMQ_EVENTS, &events, &size);
        if (!(events & ZMQ_POLLIN)) {
            //  A peer busy a moment ago is likely about to send: look again
            //  after a yield before sleeping (as flot_msg_recv_soon).
            sched_yield ();
            zmq_getsockopt (self->handle, ZMQ_EVENTS, &events, &size);
        }
        if (!(events & ZMQ_POLLIN)) {
            zmq_pollitem_t items [2] = {
                { self->handle, 0, ZMQ_POLLIN, 0 },
                { NULL, broker_auth_fd (self->auth), ZMQ_POLLIN, 0 }
            };
            if (zmq_poll (items, 2, wait_ms) < 0)
                return -1;
            if ((items [1].revents & ZMQ_POLLIN) && broker_auth_refresh (self->auth))
                s_keys_changed (self);
            if (!(items [0].revents & ZMQ_POLLIN)) {
                errno = EAGAIN;
                return -1;
            }
        }
        first = ZMQ_DONTWAIT;
    }
    in_t *batch = self->batch;
    int received = 0;
    while (received < IN_BATCH) {
        in_t *in = &batch [received];
        if (received == 0 && first == 0 && wait_ms != 0) {
            //  The first may wait; a peer busy a moment ago is likely about
            //  to send: a yield first, then sleep (see flot_msg_recv_soon).
            in->count = flot_msg_recv_soon (self->handle, in->frames, MAX_IN,
                                            &in->overflow);
            if (in->count < 0 && errno == EAGAIN)
                in->count = flot_msg_recv (self->handle, in->frames, MAX_IN, 0,
                                           &in->overflow);
        }
        else
            in->count = flot_msg_recv (self->handle, in->frames, MAX_IN,
                                       received ? ZMQ_DONTWAIT : first, &in->overflow);
        if (in->count < 0)
            break;
        received++;
    }
    if (received == 0)
        return -1;
    //  A key revoked before these messages came is refused in them.
    if (self->auth && broker_auth_refresh (self->auth))
        s_keys_changed (self);
    self->now = zclock_mono ();
    for (int i = 0; i < received; i++)
        s_handle (self, &batch [i]);
    return 0;
}

//  The pending requests whose deadline has come, collected; the earliest
//  deadline of the others is remembered, so that the table is walked
//  again only when it comes (not on every tick: that would cost each tick
//  as many steps as there are requests in flight).
static zlistx_t *
s_pending_expired (flot_broker_t *self, int64_t now)
{
    zlistx_t *expired = zlistx_new ();
    int64_t earliest = INT64_MAX;
    size_t cursor = 0;
    for (flot_pending_t *p = flot_pending_next (self->pending, &cursor); p;
         p = flot_pending_next (self->pending, &cursor))
        if (now >= p->deadline)
            zlistx_add_end (expired, p);
        else
        if (p->deadline < earliest)
            earliest = p->deadline;
    self->earliest_deadline = earliest;
    return expired;
}

//  Expire dead instances, send heartbeats, fail expired requests.
static void
s_tick (flot_broker_t *self)
{
    if (self->auth && broker_auth_refresh (self->auth))
        s_keys_changed (self);
    int64_t now = zclock_mono ();
    if (now >= self->next_heartbeat) {
        zlistx_t *dead = zlistx_new ();
        int64_t expiry = (int64_t) self->heartbeat_ms * self->liveness;
        for (instance_t *i = zhashx_first (self->instances); i;
             i = zhashx_next (self->instances)) {
            if (now - i->last_seen > expiry)
                zlistx_add_end (dead, i);
            else
                s_send_control (self, &i->id, i, FLOT_HEARTBEAT, NULL);
        }
        for (instance_t *i = zlistx_first (dead); i; i = zlistx_next (dead)) {
            if (i->service->contract && i->service->contract->one_instance)
                s_displace (self, &i->id, i->service);
            s_instance_remove (self, i, "missed its heartbeats");
        }
        zlistx_destroy (&dead);
        self->next_heartbeat = now + self->heartbeat_ms;
    }
    if (now >= self->next_deadline_tick && now >= self->earliest_deadline) {
        zlistx_t *expired = s_pending_expired (self, now);
        for (flot_pending_t *p = zlistx_first (expired); p; p = zlistx_next (expired)) {
            instance_t *instance = p->instance;
            bkey_t client;
            s_pending_client (p, &client);
            s_send_error (self, &client, p->version, p->corr, FLOT_E_DEADLINE,
                          "%s instance %s did not answer before the deadline",
                          instance->service->name, instance->instance);
            s_stream_forget (self, &client, p->corr, instance);
            instance->pending--;
            flot_pending_remove (self->pending, p);
        }
        zlistx_destroy (&expired);
    }
    if (now >= self->next_deadline_tick)
        self->next_deadline_tick = now + DEADLINE_TICK_MS;
}

//  --------------------------------------------------------------------------
//  Construction and the loop

flot_broker_t *
flot_broker_new (void)
{
    flot_broker_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->router) {
        free (self);
        return NULL;
    }
    self->handle = zsock_resolve (self->router);
    self->batch = calloc (IN_BATCH, sizeof (in_t));
    assert (self->batch);
    self->rcvtimeo = -1;
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_linger (self->router, 0);
    zsock_set_maxmsgsize (self->router, FLOT_MAX_MESSAGE);
    zsock_set_sndhwm (self->router, 100000);
    zsock_set_rcvhwm (self->router, 100000);
    self->services = zhashx_new ();
    zhashx_set_destructor (self->services, s_service_free);
    self->instances = s_bkey_table ();
    zhashx_set_destructor (self->instances, s_instance_free);
    self->pending = flot_pending_table_new ();
    assert (self->pending);
    self->streams = s_bkey_table ();
    self->client_versions = s_bkey_table ();
    self->stream_keys = s_bkey_table ();
    self->displaced = s_bkey_table ();
    zhashx_set_destructor (self->stream_keys, (zhashx_destructor_fn *) zstr_free);
    self->heartbeat_ms = FLOT_HEARTBEAT_MS;
    self->liveness = FLOT_LIVENESS;
    self->started_at = zclock_mono ();
    self->earliest_deadline = INT64_MAX;
    return self;
}

void
flot_broker_destroy (flot_broker_t **self_p)
{
    if (self_p && *self_p) {
        flot_broker_t *self = *self_p;
        zhashx_destroy (&self->streams);
        zhashx_destroy (&self->client_versions);
        zhashx_destroy (&self->stream_keys);
        zhashx_destroy (&self->displaced);
        flot_pending_table_destroy (&self->pending);
        zhashx_destroy (&self->instances);
        zhashx_destroy (&self->services);
        zsock_destroy (&self->router);
        broker_auth_destroy (&self->auth);
        free (self->batch);
        free (self);
        *self_p = NULL;
    }
}

int
flot_broker_set_keys (flot_broker_t *self, const char *dir)
{
    flot_err_t err;
    assert (!self->auth);
    if (self->bound) {
        //  An endpoint bound before would stay plain, and trusted.
        flot_error (WHO, "keys must be set before the broker binds any endpoint");
        return -1;
    }
    self->auth = broker_auth_new (dir, &err);
    if (!self->auth) {
        flot_error (WHO, "cannot use the keys in %s: %s", dir, err.message);
        return -1;
    }
    return broker_auth_apply (self->auth, self->router, false, &err);
}

//  Binds with the current key (next: the next one of a rotation).
static int
s_bind (flot_broker_t *self, const char *endpoint, bool next)
{
    flot_err_t err;
    if (next && self->auth)
        broker_auth_apply (self->auth, self->router, true, &err);
    int rc = zsock_bind (self->router, "%s", endpoint);
    if (rc >= 0)
        self->bound++;
    if (next && self->auth)
        broker_auth_apply (self->auth, self->router, false, &err);
    if (rc < 0) {
        flot_error (WHO, "cannot bind to %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    //  Which key an endpoint serves matters to whoever moves clients.
    if (next)
        flot_notice (WHO, "listening on %s%s", endpoint,
                     !self->auth ? " (no keys)" : broker_auth_has_next (self->auth)
                     ? " (CURVE, the rotation's next key)" : " (CURVE, the current key)");
    else
        flot_info (WHO, "listening on %s%s", endpoint, self->auth ? " (CURVE)" : "");
    return 0;
}

int
flot_broker_bind (flot_broker_t *self, const char *endpoint)
{
    return s_bind (self, endpoint, false);
}

int
flot_broker_bind_next (flot_broker_t *self, const char *endpoint)
{
    return s_bind (self, endpoint, true);
}

void
flot_broker_set_heartbeat (flot_broker_t *self, int interval_ms, int liveness)
{
    if (interval_ms > 0)
        self->heartbeat_ms = interval_ms;
    if (liveness > 0)
        self->liveness = liveness;
}

int
flot_broker_run (flot_broker_t *self, zsock_t *pipe)
{
    self->next_heartbeat = zclock_mono () + self->heartbeat_ms;
    self->next_deadline_tick = zclock_mono () + DEADLINE_TICK_MS;
    while (!zsys_interrupted) {
        int64_t now = self->now = zclock_mono ();
        int64_t next = self->next_heartbeat < self->next_deadline_tick
                     ? self->next_heartbeat : self->next_deadline_tick;
        if (now < next) {
            if (s_receive (self, (int) (next - now)) == 0)
                continue;
            if (errno != EAGAIN && errno != EINTR)
                break;          //  the context is terminating
        }
        //  Every tick: the pipe (for $TERM), heartbeats, deadlines.
        if (pipe) {
            char *command = zstr_recv_nowait (pipe);
            bool term = command && streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        }
        s_tick (self);
    }
    //  Tell the actors, so that they register again with the next broker.
    for (instance_t *i = zhashx_first (self->instances); i; i = zhashx_next (self->instances))
        s_send_control (self, &i->id, i, FLOT_DISCONNECT, "the broker is stopping");
    zsock_set_linger (self->router, 200);
    return 0;
}

void
flot_broker_actor (zsock_t *pipe, void *args)
{
    flot_broker_config_t *config = args;
    prctl (PR_SET_NAME, "broker", 0, 0, 0);     //  as top and perf show the thread
    flot_broker_t *self = flot_broker_new ();
    zsock_signal (pipe, 0);
    if (!self) {
        zstr_send (pipe, "ERROR cannot create the broker socket");
        return;
    }
    flot_broker_set_heartbeat (self, config->heartbeat_ms, config->liveness);
    char failed [512] = "";
    if (config->keys && flot_broker_set_keys (self, config->keys))
        snprintf (failed, sizeof failed, "ERROR cannot use the keys in %s", config->keys);
    for (const char **e = config->endpoints; !*failed && e && *e; e++)
        if (flot_broker_bind (self, *e))
            snprintf (failed, sizeof failed, "ERROR cannot bind to %s: %s", *e,
                      zmq_strerror (zmq_errno ()));
    if (!*failed && config->next_endpoint && flot_broker_bind_next (self, config->next_endpoint))
        snprintf (failed, sizeof failed, "ERROR cannot bind to %s: %s", config->next_endpoint,
                  zmq_strerror (zmq_errno ()));
    if (*failed) {
        zstr_send (pipe, failed);
        flot_broker_destroy (&self);
        //  Wait for $TERM so that zactor_destroy does not block.
        char *command = zstr_recv (pipe);
        zstr_free (&command);
        return;
    }
    zstr_send (pipe, "OK");
    flot_broker_run (self, pipe);
    flot_broker_destroy (&self);
}
