/*  bench_broker.c - flot_bench_broker: what the broker costs over raw ZeroMQ.

    Measures, in one run and with the same msgpack payload, two relays that
    have the same shape (a client, a relay thread, an echo thread):

      raw       client DEALER -> ROUTER [zmq_proxy thread] DEALER -> echo
                worker thread (DEALER, sends every frame back)
      flotilla  flot_client -> flot_broker_actor thread -> echo actor thread
                (flot_echo_actor, command Echo)

    For each, over inproc://, over tcp://127.0.0.1 and over tcp with CURVE
    (SPEC section 14: the raw relay with CURVE on both hops, client to proxy
    and proxy to worker; the broker with a key directory, made in a
    temporary folder, and the client and the echo actor with keys it
    allows): (a) synchronous round trips (send one, wait for its reply):
    mean, p50 and p99 in microseconds; (b) pipelined throughput with a
    window of requests in flight, in messages per second. The relays of a
    transport (for tcp: plain and CURVE, raw and Flotilla) run side by side
    and, after a warm-up, take turns in interleaved rounds, so that other
    load on the machine falls on all alike. Prints a table of raw and
    Flotilla figures, their ratios and the targets (round trip <= 1.5 x raw,
    throughput >= 0.5 x raw); then CURVE's cost, each relay's figures with
    CURVE as ratios to its plain tcp ones in the same run (target: the
    Flotilla round trip <= 1.3 x). The raw relay's CURVE peers are admitted
    without ZAP, the broker's through it: ZAP runs once per connection, not
    per message, so the steady state compares alike. Exit status 0 whatever
    the figures, unless --check: then 1 if a target is missed. 1 if a test
    cannot run, 2 for a usage error.

    Ports used: 23101..23106 on 127.0.0.1.
*/
#include "flotilla/broker.h"
#include "flotilla/client.h"
#include "flotilla/keys.h"
#include "echo.h"
#include "flotilla/log.h"

#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <time.h>

#define RAW_FRONT_TCP   "tcp://127.0.0.1:23101"
#define RAW_BACK_TCP    "tcp://127.0.0.1:23102"
#define BROKER_TCP      "tcp://127.0.0.1:23103"
#define RAW_FRONT_CURVE "tcp://127.0.0.1:23104"
#define RAW_BACK_CURVE  "tcp://127.0.0.1:23105"
#define BROKER_CURVE    "tcp://127.0.0.1:23106"
#define RAW_FRONT_INPROC "inproc://bench-raw-front"
#define RAW_BACK_INPROC "inproc://bench-raw-back"
#define BROKER_INPROC   "inproc://bench-broker"

#define DEFAULT_COUNT   20000       //  round trips; pipelined sends 10 x this
#define DEFAULT_WINDOW  1000
#define DEFAULT_SIZE    100
#define MIN_SIZE        62          //  the payload's fields with an empty note
#define WAIT_MS         10000       //  longest wait for one reply
#define HWM             100000      //  as the broker and actor host set

#define ROUNDS          5           //  raw and Flotilla take turns this often

#define RTT_TARGET      1.5         //  flotilla round trip / raw, at most
#define RATE_TARGET     0.5         //  flotilla throughput / raw, at least
#define CURVE_RTT_TARGET 1.3        //  flotilla round trip with CURVE / plain tcp, at most

typedef struct {
    size_t count;               //  round trips
    size_t messages;            //  pipelined messages
    size_t window;
    size_t size;
    bool check;
    bool inproc, tcp;           //  the transports to measure
} options_t;

typedef struct {
    uint8_t *data;
    size_t size;
} payload_t;

//  The keys of the CURVE relays. Raw: a server key pair for the proxy's
//  two bound sockets, a client key pair for the client and the worker.
//  Flotilla: a key directory with the broker's key pair, and the
//  credentials of the client (operator) and of the echo actor (an actor
//  key for service echo).
typedef struct {
    zcert_t *server, *client;
    char folder [256];          //  a temporary folder, removed at the end
    char auth [300];            //  the broker's key directory in it
    flot_creds_t client_creds, echo_creds;
} keys_t;

//  One relay of a transport: raw or Flotilla, with keys or without.
typedef struct {
    bool flotilla;
    const char *front, *back;   //  raw: the proxy's endpoints
    const char *broker;         //  flotilla: the broker's endpoint
    bool curve;
} relay_spec_t;

//  One transport's figures for one relay.
typedef struct {
    double mean_us, p50_us, p99_us;
    double rate;                //  messages per second
} figures_t;

//  --------------------------------------------------------------------------
//  Time, statistics, payload

static int64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
s_compare_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

//  Mean and percentiles of samples (ns), into figures (us). Sorts samples.
static void
s_latency_stats (int64_t *samples, size_t count, figures_t *figures)
{
    double sum = 0;
    for (size_t i = 0; i < count; i++)
        sum += (double) samples [i];
    qsort (samples, count, sizeof samples [0], s_compare_i64);
    figures->mean_us = sum / (double) count / 1000.0;
    figures->p50_us = (double) samples [count / 2] / 1000.0;
    figures->p99_us = (double) samples [(count * 99) / 100] / 1000.0;
}

//  The payload with a note of pad bytes, and extra (0..3) bytes more in the
//  integers: step as 0xcc 0x03 (+1), weight as 0xcd 0x00 0x19 (+2), to reach
//  the sizes that the note's str header skips.
static void
s_payload_build (msgpack_sbuffer *sbuf, size_t pad, int extra)
{
    msgpack_packer pk;
    msgpack_sbuffer_init (sbuf);
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 5);
    flot_pack_kv_str (&pk, "deployment", "checkout-v42");
    flot_pack_kv_str (&pk, "target", "eu-west-1");
    flot_pack_str (&pk, "step");
    if (extra & 1)
        msgpack_pack_fix_uint8 (&pk, 3);
    else
        msgpack_pack_uint8 (&pk, 3);
    flot_pack_str (&pk, "weight");
    if (extra & 2)
        msgpack_pack_fix_uint16 (&pk, 25);
    else
        msgpack_pack_uint8 (&pk, 25);
    flot_pack_str (&pk, "note");
    char *note = malloc (pad + 1);
    assert (note);
    memset (note, 'x', pad);
    msgpack_pack_str (&pk, pad);
    msgpack_pack_str_body (&pk, note, pad);
    free (note);
}

//  The payload: a map of a few deployment-like fields, padded by a string
//  so that it is exactly size bytes. Returns 0, or -1 if size is too small.
static int
s_payload_pack (payload_t *payload, size_t size)
{
    msgpack_sbuffer sbuf;
    s_payload_build (&sbuf, 0, 0);
    size_t base = sbuf.size - 1;        //  without the note's 1-byte header
    msgpack_sbuffer_destroy (&sbuf);
    //  A str header is 1, 2, 3 or 5 bytes, by length.
    static const struct { size_t header, below; } forms [] = {
        { 1, 32 }, { 2, 256 }, { 3, 65536 }, { 5, SIZE_MAX }
    };
    for (int extra = 0; extra < 4; extra++)
        for (size_t i = 0; i < sizeof forms / sizeof forms [0]; i++) {
            size_t fixed = base + (size_t) extra + forms [i].header;
            if (size < fixed)
                break;
            size_t pad = size - fixed;
            if (pad < forms [i].below && (i == 0 || pad >= forms [i - 1].below)) {
                s_payload_build (&sbuf, pad, extra);
                assert (sbuf.size == size);
                payload->data = (uint8_t *) msgpack_sbuffer_release (&sbuf);
                payload->size = size;
                return 0;
            }
        }
    return -1;
}

//  --------------------------------------------------------------------------
//  Raw ZeroMQ: a proxy thread and an echo worker thread, in their own
//  context so that shutting it down unblocks both.

typedef struct {
    void *ctx;
    void *client;               //  DEALER, to the proxy's frontend
    void *front, *back;         //  the proxy's sockets (its thread's)
    void *worker;               //  the echo worker's DEALER (its thread's)
    pthread_t proxy_thread, worker_thread;
    int threads;
} raw_t;

static void *
s_raw_proxy (void *arg)
{
    raw_t *self = arg;
    zmq_proxy (self->front, self->back, NULL);      //  returns on ETERM
    zmq_close (self->front);
    zmq_close (self->back);
    return NULL;
}

//  Sends every frame back as it arrives: [identity][payload].
static void *
s_raw_worker (void *arg)
{
    raw_t *self = arg;
    while (true) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, self->worker, 0) < 0) {
            zmq_msg_close (&frame);
            if (zmq_errno () == EINTR)
                continue;
            break;                                  //  ETERM
        }
        int more = zmq_msg_more (&frame) ? ZMQ_SNDMORE : 0;
        if (zmq_msg_send (&frame, self->worker, more) < 0)
            zmq_msg_close (&frame);
    }
    zmq_close (self->worker);
    return NULL;
}

static void *
s_raw_socket (raw_t *self, int type, int hwm)
{
    void *sock = zmq_socket (self->ctx, type);
    int linger = 0;
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    if (hwm) {
        zmq_setsockopt (sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt (sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    }
    return sock;
}

static void
s_raw_stop (raw_t *self)
{
    zmq_ctx_shutdown (self->ctx);
    if (self->threads == 2) {
        pthread_join (self->proxy_thread, NULL);
        pthread_join (self->worker_thread, NULL);
    }
    else {
        zmq_close (self->front);
        zmq_close (self->back);
        zmq_close (self->worker);
    }
    zmq_close (self->client);
    zmq_ctx_term (self->ctx);
}

//  A CURVE server with cert's key pair.
static void
s_raw_curve_server (void *sock, zcert_t *cert)
{
    int on = 1;
    zmq_setsockopt (sock, ZMQ_CURVE_SERVER, &on, sizeof on);
    zmq_setsockopt (sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key (cert), 32);
}

//  A CURVE client with cert's key pair, of the server whose key pair is
//  server.
static void
s_raw_curve_client (void *sock, zcert_t *cert, zcert_t *server)
{
    zmq_setsockopt (sock, ZMQ_CURVE_SERVERKEY, zcert_public_key (server), 32);
    zmq_setsockopt (sock, ZMQ_CURVE_PUBLICKEY, zcert_public_key (cert), 32);
    zmq_setsockopt (sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key (cert), 32);
}

//  keys NULL: plain; else CURVE on both hops.
static int
s_raw_start (raw_t *self, const char *front, const char *back, const keys_t *keys)
{
    memset (self, 0, sizeof *self);
    self->ctx = zmq_ctx_new ();
    self->front = s_raw_socket (self, ZMQ_ROUTER, HWM);
    self->back = s_raw_socket (self, ZMQ_DEALER, HWM);
    self->worker = s_raw_socket (self, ZMQ_DEALER, HWM);
    self->client = s_raw_socket (self, ZMQ_DEALER, 0);
    if (keys) {
        s_raw_curve_server (self->front, keys->server);
        s_raw_curve_server (self->back, keys->server);
        s_raw_curve_client (self->worker, keys->client, keys->server);
        s_raw_curve_client (self->client, keys->client, keys->server);
    }
    int wait = WAIT_MS;
    zmq_setsockopt (self->client, ZMQ_RCVTIMEO, &wait, sizeof wait);
    zmq_setsockopt (self->client, ZMQ_SNDTIMEO, &wait, sizeof wait);
    if (zmq_bind (self->front, front) || zmq_bind (self->back, back)) {
        fprintf (stderr, "flot_bench_broker: raw proxy cannot bind %s, %s: %s\n",
                 front, back, zmq_strerror (zmq_errno ()));
        s_raw_stop (self);
        return -1;
    }
    zmq_connect (self->worker, back);
    zmq_connect (self->client, front);
    pthread_create (&self->proxy_thread, NULL, s_raw_proxy, self);
    pthread_create (&self->worker_thread, NULL, s_raw_worker, self);
    self->threads = 2;
    return 0;
}

//  One reply of the expected size. Returns 0, or -1 with a line on stderr.
static int
s_raw_recv (void *client, size_t size)
{
    zmq_msg_t reply;
    zmq_msg_init (&reply);
    int rc = zmq_msg_recv (&reply, client, 0);
    if (rc < 0 || (size_t) rc != size || zmq_msg_more (&reply)) {
        fprintf (stderr, "flot_bench_broker: raw: %s\n",
                 rc < 0 ? zmq_strerror (zmq_errno ()) : "reply is not the payload");
        zmq_msg_close (&reply);
        return -1;
    }
    zmq_msg_close (&reply);
    return 0;
}

static int
s_raw_round_trips (raw_t *self, const payload_t *payload, size_t count,
                   int64_t *samples)
{
    for (size_t i = 0; i < count; i++) {
        int64_t start = s_now_ns ();
        if (zmq_send (self->client, payload->data, payload->size, 0) < 0
        ||  s_raw_recv (self->client, payload->size))
            return -1;
        if (samples)
            samples [i] = s_now_ns () - start;
    }
    return 0;
}

static int
s_raw_pipeline (raw_t *self, const payload_t *payload, size_t count,
                size_t window, int64_t *elapsed)
{
    size_t sent = 0, received = 0;
    int64_t start = s_now_ns ();
    while (received < count) {
        while (sent < count && sent - received < window) {
            if (zmq_send (self->client, payload->data, payload->size, 0) < 0)
                return -1;
            sent++;
        }
        if (s_raw_recv (self->client, payload->size))
            return -1;
        received++;
    }
    if (elapsed)
        *elapsed += s_now_ns () - start;
    return 0;
}

//  --------------------------------------------------------------------------
//  Flotilla: a broker thread, an echo actor thread and a client

typedef struct {
    zactor_t *broker;
    zactor_t *echo;
    flot_client_t *client;
} flot_t;

static void
s_flot_stop (flot_t *self)
{
    flot_client_destroy (&self->client);
    zactor_destroy (&self->echo);
    zactor_destroy (&self->broker);
}

//  One Echo call; returns 0, or -1 with err.
static int
s_flot_call (flot_t *self, const payload_t *payload, flot_err_t *err)
{
    zframe_t *body = NULL;
    if (flot_client_call (self->client, "echo", NULL, "Echo", payload->data,
                          payload->size, WAIT_MS, &body, err))
        return -1;
    size_t size = zframe_size (body);
    zframe_destroy (&body);
    if (size != payload->size)
        return flot_err_set (err, FLOT_E_INTERNAL, "the reply is %zu bytes, not %zu",
                             size, payload->size);
    return 0;
}

//  keys NULL: plain; else the broker with its key directory, the client
//  and the actor with theirs.
static int
s_flot_start (flot_t *self, const char *endpoint, const payload_t *payload,
              const keys_t *keys)
{
    memset (self, 0, sizeof *self);
    const char *endpoints [] = { endpoint, NULL };
    flot_broker_config_t broker_config = {
        .endpoints = endpoints, .keys = keys ? keys->auth : NULL
    };
    self->broker = zactor_new (flot_broker_actor, &broker_config);
    char *status = self->broker ? zstr_recv (self->broker) : NULL;
    bool ok = status && streq (status, "OK");
    if (!ok)
        fprintf (stderr, "flot_bench_broker: broker on %s: %s\n", endpoint,
                 status ? status : "did not start");
    zstr_free (&status);
    flot_actor_config_t actor_config = {
        .endpoint = endpoint, .instance = "bench-echo",
        .creds = keys ? &keys->echo_creds : NULL
    };
    if (ok)
        self->echo = flot_actor_thread (&flot_echo_actor, &actor_config);
    if (ok && self->echo)
        self->client = flot_client_new_secure (endpoint, keys ? &keys->client_creds : NULL);
    if (!self->client) {
        fprintf (stderr, "flot_bench_broker: cannot start Flotilla on %s\n", endpoint);
        s_flot_stop (self);
        return -1;
    }
    //  The actor's READY may still be on its way: call until it answers.
    flot_err_t err = { 0 };
    for (int64_t until = zclock_mono () + 5000; zclock_mono () < until; zclock_sleep (10))
        if (s_flot_call (self, payload, &err) == 0)
            return 0;
    fprintf (stderr, "flot_bench_broker: echo on %s does not answer: %s\n",
             endpoint, err.message);
    s_flot_stop (self);
    return -1;
}

static int
s_flot_round_trips (flot_t *self, const payload_t *payload, size_t count,
                    int64_t *samples)
{
    flot_err_t err;
    for (size_t i = 0; i < count; i++) {
        int64_t start = s_now_ns ();
        if (s_flot_call (self, payload, &err)) {
            fprintf (stderr, "flot_bench_broker: Echo failed: %s\n", err.message);
            return -1;
        }
        if (samples)
            samples [i] = s_now_ns () - start;
    }
    return 0;
}

static int
s_flot_pipeline (flot_t *self, const payload_t *payload, size_t count,
                 size_t window, int64_t *elapsed)
{
    size_t sent = 0, received = 0;
    flot_err_t err;
    int64_t start = s_now_ns ();
    while (received < count) {
        while (sent < count && sent - received < window) {
            if (!flot_client_send (self->client, "echo", NULL, "Echo", payload->data,
                                   payload->size, WAIT_MS, &err))
                goto failed;
            sent++;
        }
        flot_reply_t reply;
        if (flot_client_recv (self->client, &reply, WAIT_MS, &err))
            goto failed;
        bool good = reply.kind == FLOT_REPLY && zframe_size (reply.body) == payload->size;
        if (!good && reply.kind == FLOT_ERROR)
            flot_unpack_error (zframe_data (reply.body), zframe_size (reply.body), &err);
        else
        if (!good)
            flot_err_set (&err, FLOT_E_INTERNAL, "a %s of %zu bytes, not the payload",
                          flot_kind_name (reply.kind), zframe_size (reply.body));
        flot_reply_clear (&reply);
        if (!good)
            goto failed;
        received++;
    }
    if (elapsed)
        *elapsed += s_now_ns () - start;
    return 0;
failed:
    fprintf (stderr, "flot_bench_broker: pipelined Echo failed: %s\n", err.message);
    return -1;
}

//  --------------------------------------------------------------------------
//  The runs

static size_t
s_warmup (size_t count)
{
    return count / 10 < 1000 ? 1000 : count / 10;
}

//  Round r's share of count, over ROUNDS rounds.
static size_t
s_share (size_t count, int r)
{
    return count / ROUNDS + ((size_t) r < count % ROUNDS ? 1 : 0);
}

//  --------------------------------------------------------------------------
//  Keys

static int
s_remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    remove (path);
    return 0;
}

static void
s_keys_destroy (keys_t *self)
{
    zcert_destroy (&self->server);
    zcert_destroy (&self->client);
    flot_creds_clear (&self->client_creds);
    flot_creds_clear (&self->echo_creds);
    if (*self->folder)
        nftw (self->folder, s_remove_one, 8, FTW_DEPTH | FTW_PHYS);
    *self->folder = 0;
}

//  One allowed key of role (and, for an actor, services), its secret in
//  the folder, and the credentials to connect to endpoint with it.
static int
s_keys_allow (keys_t *self, const char *name, flot_role_t role, const char *services,
              const char *endpoint, flot_creds_t *creds, flot_err_t *err)
{
    flot_key_t key = { .role = role };
    snprintf (key.name, sizeof key.name, "%s", name);
    snprintf (key.services, sizeof key.services, "%s", services);
    char secret [400], server [400];
    snprintf (secret, sizeof secret, "%s/%s.key", self->folder, name);
    snprintf (server, sizeof server, "%s/broker.pub", self->auth);
    if (flot_keys_new (self->auth, &key, secret, err))
        return -1;
    return flot_creds_resolve (creds, secret, server, endpoint, err);
}

static int
s_keys_new (keys_t *self, const char *endpoint)
{
    memset (self, 0, sizeof *self);
    self->server = zcert_new ();
    self->client = zcert_new ();
    snprintf (self->folder, sizeof self->folder, "/tmp/flot-bench-keys-XXXXXX");
    if (!self->server || !self->client || !mkdtemp (self->folder)) {
        fprintf (stderr, "flot_bench_broker: cannot make keys: %s\n", strerror (errno));
        *self->folder = 0;
        s_keys_destroy (self);
        return -1;
    }
    snprintf (self->auth, sizeof self->auth, "%s/auth", self->folder);
    flot_err_t err = { 0 };
    if (flot_keys_init (self->auth, &err)
    ||  s_keys_allow (self, "bench-client", FLOT_ROLE_OPERATOR, "", endpoint,
                      &self->client_creds, &err)
    ||  s_keys_allow (self, "bench-echo", FLOT_ROLE_ACTOR, "echo", endpoint,
                      &self->echo_creds, &err)) {
        fprintf (stderr, "flot_bench_broker: cannot make keys: %s\n", err.message);
        s_keys_destroy (self);
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Relays, side by side

typedef struct {
    const relay_spec_t *spec;
    raw_t raw;
    flot_t flot;
    bool started;
    int64_t *samples;           //  opts->count round trips
    int64_t elapsed;            //  pipelined, ns
} relay_t;

static int
s_relay_start (relay_t *self, const relay_spec_t *spec, const payload_t *payload,
               const keys_t *keys, size_t count)
{
    memset (self, 0, sizeof *self);
    self->spec = spec;
    self->samples = malloc (count * sizeof (int64_t));
    assert (self->samples);
    const keys_t *with = spec->curve ? keys : NULL;
    int rc = spec->flotilla ? s_flot_start (&self->flot, spec->broker, payload, with)
                            : s_raw_start (&self->raw, spec->front, spec->back, with);
    self->started = rc == 0;
    return rc;
}

static void
s_relay_stop (relay_t *self)
{
    if (self->started) {
        if (self->spec->flotilla)
            s_flot_stop (&self->flot);
        else
            s_raw_stop (&self->raw);
    }
    self->started = false;
    free (self->samples);
    self->samples = NULL;
}

static int
s_relay_round_trips (relay_t *self, const payload_t *payload, size_t count, int64_t *samples)
{
    return self->spec->flotilla ? s_flot_round_trips (&self->flot, payload, count, samples)
                                : s_raw_round_trips (&self->raw, payload, count, samples);
}

static int
s_relay_pipeline (relay_t *self, const payload_t *payload, size_t count, size_t window,
                  int64_t *elapsed)
{
    return self->spec->flotilla
         ? s_flot_pipeline (&self->flot, payload, count, window, elapsed)
         : s_raw_pipeline (&self->raw, payload, count, window, elapsed);
}

//  The relays of one transport (at most 4), measured in interleaved rounds
//  so that other load on the machine falls on all alike; figures [i] for
//  specs [i]. Returns 0, or -1 if a relay failed (with a line on stderr).
static int
s_bench (const options_t *opts, const payload_t *payload, const relay_spec_t *specs,
         size_t count, const keys_t *keys, figures_t *figures)
{
    relay_t relays [4];
    assert (count <= 4);
    int rc = 0;
    size_t started = 0;
    for (; started < count && rc == 0; started++)
        rc = s_relay_start (&relays [started], &specs [started], payload, keys, opts->count);
    size_t warmup = s_warmup (opts->count), warmup_messages = s_warmup (opts->messages);
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = s_relay_round_trips (&relays [i], payload, warmup, NULL)
          || s_relay_pipeline (&relays [i], payload, warmup_messages, opts->window, NULL);
    size_t done = 0;
    for (int r = 0; r < ROUNDS && rc == 0; r++) {
        size_t share = s_share (opts->count, r), messages = s_share (opts->messages, r);
        for (size_t i = 0; i < count && rc == 0; i++)
            rc = s_relay_round_trips (&relays [i], payload, share, relays [i].samples + done);
        for (size_t i = 0; i < count && rc == 0; i++)
            rc = s_relay_pipeline (&relays [i], payload, messages, opts->window,
                                   &relays [i].elapsed);
        done += share;
    }
    for (size_t i = 0; i < count && rc == 0; i++) {
        s_latency_stats (relays [i].samples, opts->count, &figures [i]);
        figures [i].rate = (double) opts->messages * 1e9 / (double) relays [i].elapsed;
    }
    for (size_t i = 0; i < started; i++)
        s_relay_stop (&relays [i]);
    return rc ? -1 : 0;
}

//  A line's target, if any: a ratio at most or at least a goal.
typedef enum {
    NO_TARGET, RTT_AT_MOST, RATE_AT_LEAST, CURVE_RTT_AT_MOST
} target_t;

//  Prints one table line: a and b, and b / a; returns 1 if it has a target
//  and misses it.
static int
s_line (const char *label, const char *test, double a, double b, const char *format,
        target_t target)
{
    double ratio = a > 0 ? b / a : 0;
    char a_text [32], b_text [32];
    snprintf (a_text, sizeof a_text, format, a);
    snprintf (b_text, sizeof b_text, format, b);
    const char *goal = "", *result = "";
    char goal_text [16];
    if (target != NO_TARGET) {
        double value = target == RTT_AT_MOST ? RTT_TARGET
                     : target == RATE_AT_LEAST ? RATE_TARGET : CURVE_RTT_TARGET;
        bool at_most = target != RATE_AT_LEAST;
        snprintf (goal_text, sizeof goal_text, "%s %.2f", at_most ? "<=" : ">=", value);
        goal = goal_text;
        bool pass = at_most ? ratio <= value : ratio >= value;
        result = pass ? "PASS" : "FAIL";
    }
    printf ("%-9s %-22s %12s %12s %7.2f  %-8s %s\n", label, test, a_text,
            b_text, ratio, goal, result);
    return target != NO_TARGET && streq (result, "FAIL");
}

//  Prints the lines of a against b, with targets if given; returns how
//  many targets were missed.
static int
s_report (const char *label, const figures_t *a, const figures_t *b, target_t rtt,
          target_t rate)
{
    int missed = 0;
    missed += s_line (label, "round trip mean (us)", a->mean_us, b->mean_us, "%.1f", rtt);
    missed += s_line (label, "round trip p50 (us)", a->p50_us, b->p50_us, "%.1f", NO_TARGET);
    missed += s_line (label, "round trip p99 (us)", a->p99_us, b->p99_us, "%.1f", NO_TARGET);
    missed += s_line (label, "throughput (msg/s)", a->rate, b->rate, "%.0f", rate);
    return missed;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: flot_bench_broker [OPTIONS]\n"
"\n"
"Compares the Flotilla broker (client -> broker -> echo actor) with a raw\n"
"ZeroMQ proxy (DEALER -> ROUTER, zmq_proxy thread, DEALER -> echo thread),\n"
"over inproc://, tcp://127.0.0.1 and tcp with CURVE (ports 23101..23106):\n"
"synchronous round trips (mean, p50, p99) and pipelined throughput, with the\n"
"same payload; then each relay with CURVE against itself over plain tcp.\n"
"Targets: round trip <= %.1f x raw, throughput >= %.1f x raw; with CURVE,\n"
"Flotilla's round trip <= %.1f x its plain tcp one.\n"
"\n"
"Options:\n"
"  -n, --count N     round trips per test (default %d); the pipelined tests\n"
"                    send 10 x N messages\n"
"  -w, --window W    requests in flight when pipelined (default %d)\n"
"  -s, --size BYTES  payload size, a msgpack map (default %d; %d..%d)\n"
"  -t, --transport T inproc, tcp (plain and CURVE) or all (default)\n"
"  -c, --check       exit 1 if a target is missed\n"
"  -h, --help        this text\n"
"\n"
"Exit status: 0 (whatever the figures, unless --check), 1 if a target is\n"
"missed with --check or a test could not run, 2 for a usage error.\n",
        RTT_TARGET, RATE_TARGET, CURVE_RTT_TARGET, DEFAULT_COUNT, DEFAULT_WINDOW, DEFAULT_SIZE,
        MIN_SIZE, FLOT_MAX_BODY);
}

static long
s_parse (const char *text, long min, long max, const char *what)
{
    char *end = NULL;
    long v = strtol (text, &end, 10);
    if (!end || end == text || *end || v < min || v > max) {
        fprintf (stderr, "flot_bench_broker: %s '%s' is not a number in %ld..%ld\n",
                 what, text, min, max);
        return -1;
    }
    return v;
}

//  Returns -1 to go on and run, or the exit status to stop with.
static int
s_options (int argc, char *argv [], options_t *opts)
{
    static const struct option longopts [] = {
        { "count", required_argument, NULL, 'n' },
        { "window", required_argument, NULL, 'w' },
        { "size", required_argument, NULL, 's' },
        { "check", no_argument, NULL, 'c' },
        { "transport", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    *opts = (options_t) { DEFAULT_COUNT, 0, DEFAULT_WINDOW, DEFAULT_SIZE, false, true, true };
    long v;
    int c;
    while ((c = getopt_long (argc, argv, "n:w:s:t:ch", longopts, NULL)) != -1) {
        switch (c) {
            case 'n':
                if ((v = s_parse (optarg, 1, 10000000, "--count")) < 0)
                    return 2;
                opts->count = (size_t) v;
                break;
            case 'w':
                if ((v = s_parse (optarg, 1, 50000, "--window")) < 0)
                    return 2;
                opts->window = (size_t) v;
                break;
            case 's':
                if ((v = s_parse (optarg, MIN_SIZE, FLOT_MAX_BODY, "--size")) < 0)
                    return 2;
                opts->size = (size_t) v;
                break;
            case 't':
                opts->inproc = streq (optarg, "inproc") || streq (optarg, "all");
                opts->tcp = streq (optarg, "tcp") || streq (optarg, "all");
                if (!opts->inproc && !opts->tcp) {
                    fprintf (stderr, "flot_bench_broker: --transport '%s' is not "
                             "inproc, tcp or all\n", optarg);
                    return 2;
                }
                break;
            case 'c': opts->check = true; break;
            case 'h': s_usage (stdout); return 0;
            default:
                fprintf (stderr, "Try 'flot_bench_broker --help'.\n");
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "flot_bench_broker: unexpected argument '%s'\n"
                 "Try 'flot_bench_broker --help'.\n", argv [optind]);
        return 2;
    }
    opts->messages = opts->count * 10;
    return -1;
}

int
main (int argc, char *argv [])
{
    options_t opts;
    int rc = s_options (argc, argv, &opts);
    if (rc >= 0)
        return rc;
    payload_t payload;
    if (s_payload_pack (&payload, opts.size)) {
        fprintf (stderr, "flot_bench_broker: no payload of %zu bytes\n", opts.size);
        return 2;
    }
    flot_log_set_level (FLOT_LOG_WARN);
    zsys_init ();
    printf ("flot_bench_broker: payload %zu bytes, %zu round trips, "
            "%zu pipelined messages, window %zu, %d rounds\n\n",
            payload.size, opts.count, opts.messages, opts.window, ROUNDS);
    printf ("%-9s %-22s %12s %12s %7s  %-8s %s\n", "transport", "test", "raw",
            "flotilla", "ratio", "target", "result");

    //  inproc: raw and Flotilla. tcp: both, plain and with CURVE, side by
    //  side, so that CURVE's cost is measured against plain tcp in the same
    //  rounds.
    static const relay_spec_t inproc [] = {
        { false, RAW_FRONT_INPROC, RAW_BACK_INPROC, NULL, false },
        { true, NULL, NULL, BROKER_INPROC, false },
    };
    static const relay_spec_t tcp [] = {
        { false, RAW_FRONT_TCP, RAW_BACK_TCP, NULL, false },
        { true, NULL, NULL, BROKER_TCP, false },
        { false, RAW_FRONT_CURVE, RAW_BACK_CURVE, NULL, true },
        { true, NULL, NULL, BROKER_CURVE, true },
    };
    keys_t keys;
    if (s_keys_new (&keys, BROKER_CURVE)) {
        free (payload.data);
        return 1;
    }
    figures_t figures [4] = { { 0 } };
    int missed = 0;
    rc = 0;
    if (opts.inproc)
        rc = s_bench (&opts, &payload, inproc, 2, &keys, figures);
    if (rc == 0 && opts.inproc)
        missed += s_report ("inproc", &figures [0], &figures [1], RTT_AT_MOST, RATE_AT_LEAST);
    fflush (stdout);
    if (rc == 0 && opts.tcp)
        rc = s_bench (&opts, &payload, tcp, 4, &keys, figures);
    if (rc == 0 && opts.tcp) {
        missed += s_report ("tcp", &figures [0], &figures [1], RTT_AT_MOST, RATE_AT_LEAST);
        missed += s_report ("tcp+curve", &figures [2], &figures [3], NO_TARGET, NO_TARGET);
        printf ("\nCURVE's cost: each relay over tcp with CURVE against itself over plain tcp\n");
        printf ("%-9s %-22s %12s %12s %7s  %-8s %s\n", "relay", "test", "tcp",
                "tcp+curve", "ratio", "target", "result");
        missed += s_report ("raw", &figures [0], &figures [2], NO_TARGET, NO_TARGET);
        missed += s_report ("flotilla", &figures [1], &figures [3], CURVE_RTT_AT_MOST,
                            NO_TARGET);
    }
    rc = rc ? 1 : 0;
    fflush (stdout);
    s_keys_destroy (&keys);
    free (payload.data);
    if (rc == 0 && missed)
        printf ("\n%d target%s missed\n", missed, missed == 1 ? "" : "s");
    if (rc)
        return 1;
    return opts.check && missed ? 1 : 0;
}
