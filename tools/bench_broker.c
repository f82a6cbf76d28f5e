/*  bench_broker.c - flot_bench_broker: what the broker costs over raw ZeroMQ.

    Measures, in one run and with the same msgpack payload, two relays that
    have the same shape (a client, a relay thread, an echo thread):

      raw       client DEALER -> ROUTER [zmq_proxy thread] DEALER -> echo
                worker thread (DEALER, sends every frame back)
      flotilla  flot_client -> flot_broker_actor thread -> echo actor thread
                (flot_echo_actor, command Echo)

    For each, over inproc:// and over tcp://127.0.0.1: (a) synchronous round
    trips (send one, wait for its reply): mean, p50 and p99 in microseconds;
    (b) pipelined throughput with a window of requests in flight, in messages
    per second. Both relays of a transport run side by side and, after a
    warm-up, take turns in interleaved rounds, so that other load on the
    machine falls on both alike. Prints a table of raw and Flotilla figures,
    their ratios and the targets (round trip <= 1.5 x raw, throughput >= 0.5
    x raw). Exit status 0 whatever the figures, unless --check: then 1 if a
    target is missed. 1 if a test cannot run, 2 for a usage error.

    Ports used: 23101..23103 on 127.0.0.1.
*/
#include "flotilla/broker.h"
#include "flotilla/client.h"
#include "echo.h"
#include "flotilla/log.h"

#include <getopt.h>
#include <pthread.h>
#include <time.h>

#define RAW_FRONT_TCP   "tcp://127.0.0.1:23101"
#define RAW_BACK_TCP    "tcp://127.0.0.1:23102"
#define BROKER_TCP      "tcp://127.0.0.1:23103"
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

typedef struct {
    size_t count;               //  round trips
    size_t messages;            //  pipelined messages
    size_t window;
    size_t size;
    bool check;
} options_t;

typedef struct {
    uint8_t *data;
    size_t size;
} payload_t;

typedef struct {
    const char *name;
    const char *front, *back;   //  the raw proxy's endpoints
    const char *broker;
} transport_t;

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

static int
s_raw_start (raw_t *self, const char *front, const char *back)
{
    memset (self, 0, sizeof *self);
    self->ctx = zmq_ctx_new ();
    self->front = s_raw_socket (self, ZMQ_ROUTER, HWM);
    self->back = s_raw_socket (self, ZMQ_DEALER, HWM);
    self->worker = s_raw_socket (self, ZMQ_DEALER, HWM);
    self->client = s_raw_socket (self, ZMQ_DEALER, 0);
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

static int
s_flot_start (flot_t *self, const char *endpoint, const payload_t *payload)
{
    memset (self, 0, sizeof *self);
    const char *endpoints [] = { endpoint, NULL };
    flot_broker_config_t broker_config = { .endpoints = endpoints };
    self->broker = zactor_new (flot_broker_actor, &broker_config);
    char *status = self->broker ? zstr_recv (self->broker) : NULL;
    bool ok = status && streq (status, "OK");
    if (!ok)
        fprintf (stderr, "flot_bench_broker: broker on %s: %s\n", endpoint,
                 status ? status : "did not start");
    zstr_free (&status);
    flot_actor_config_t actor_config = { .endpoint = endpoint, .instance = "bench-echo" };
    if (ok)
        self->echo = flot_actor_thread (&flot_echo_actor, &actor_config);
    if (ok && self->echo)
        self->client = flot_client_new (endpoint);
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

//  Both relays of one transport, measured in interleaved rounds so that
//  other load on the machine falls on both alike. Returns 0, or -1 if a
//  relay failed (with a line on stderr).
static int
s_bench (const options_t *opts, const payload_t *payload, const transport_t *transport,
         int64_t *samples [2], figures_t *raw_figures, figures_t *flot_figures)
{
    raw_t raw;
    flot_t flot;
    if (s_raw_start (&raw, transport->front, transport->back))
        return -1;
    if (s_flot_start (&flot, transport->broker, payload)) {
        s_raw_stop (&raw);
        return -1;
    }
    size_t warmup = s_warmup (opts->count), warmup_messages = s_warmup (opts->messages);
    int rc = s_raw_round_trips (&raw, payload, warmup, NULL)
          || s_raw_pipeline (&raw, payload, warmup_messages, opts->window, NULL)
          || s_flot_round_trips (&flot, payload, warmup, NULL)
          || s_flot_pipeline (&flot, payload, warmup_messages, opts->window, NULL);
    int64_t elapsed [2] = { 0, 0 };
    size_t done = 0;
    for (int r = 0; r < ROUNDS && rc == 0; r++) {
        size_t count = s_share (opts->count, r), messages = s_share (opts->messages, r);
        rc = s_raw_round_trips (&raw, payload, count, samples [0] + done)
          || s_flot_round_trips (&flot, payload, count, samples [1] + done)
          || s_raw_pipeline (&raw, payload, messages, opts->window, &elapsed [0])
          || s_flot_pipeline (&flot, payload, messages, opts->window, &elapsed [1]);
        done += count;
    }
    if (rc == 0) {
        s_latency_stats (samples [0], opts->count, raw_figures);
        s_latency_stats (samples [1], opts->count, flot_figures);
        raw_figures->rate = (double) opts->messages * 1e9 / (double) elapsed [0];
        flot_figures->rate = (double) opts->messages * 1e9 / (double) elapsed [1];
    }
    s_flot_stop (&flot);
    s_raw_stop (&raw);
    return rc ? -1 : 0;
}

//  Prints one table line; returns 1 if it has a target and misses it.
static int
s_line (const char *transport, const char *test, double raw, double flot,
        const char *format, int target)
{
    double ratio = raw > 0 ? flot / raw : 0;
    char raw_text [32], flot_text [32];
    snprintf (raw_text, sizeof raw_text, format, raw);
    snprintf (flot_text, sizeof flot_text, format, flot);
    const char *goal = "", *result = "";
    char goal_text [16];
    if (target) {
        snprintf (goal_text, sizeof goal_text, "%s %.2f", target < 0 ? "<=" : ">=",
                  target < 0 ? RTT_TARGET : RATE_TARGET);
        goal = goal_text;
        bool pass = target < 0 ? ratio <= RTT_TARGET : ratio >= RATE_TARGET;
        result = pass ? "PASS" : "FAIL";
    }
    printf ("%-9s %-22s %12s %12s %7.2f  %-8s %s\n", transport, test, raw_text,
            flot_text, ratio, goal, result);
    return target && streq (result, "FAIL");
}

//  Prints a transport's lines; returns how many targets were missed.
static int
s_report (const char *transport, const figures_t *raw, const figures_t *flot)
{
    int missed = 0;
    missed += s_line (transport, "round trip mean (us)", raw->mean_us, flot->mean_us, "%.1f", -1);
    missed += s_line (transport, "round trip p50 (us)", raw->p50_us, flot->p50_us, "%.1f", 0);
    missed += s_line (transport, "round trip p99 (us)", raw->p99_us, flot->p99_us, "%.1f", 0);
    missed += s_line (transport, "throughput (msg/s)", raw->rate, flot->rate, "%.0f", 1);
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
"over inproc:// and tcp://127.0.0.1 (ports 23101..23103): synchronous round\n"
"trips (mean, p50, p99) and pipelined throughput, with the same payload.\n"
"Targets: round trip <= %.1f x raw, throughput >= %.1f x raw.\n"
"\n"
"Options:\n"
"  -n, --count N     round trips per test (default %d); the pipelined tests\n"
"                    send 10 x N messages\n"
"  -w, --window W    requests in flight when pipelined (default %d)\n"
"  -s, --size BYTES  payload size, a msgpack map (default %d; %d..%d)\n"
"  -c, --check       exit 1 if a target is missed\n"
"  -h, --help        this text\n"
"\n"
"Exit status: 0 (whatever the figures, unless --check), 1 if a target is\n"
"missed with --check or a test could not run, 2 for a usage error.\n",
        RTT_TARGET, RATE_TARGET, DEFAULT_COUNT, DEFAULT_WINDOW, DEFAULT_SIZE,
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
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    *opts = (options_t) { DEFAULT_COUNT, 0, DEFAULT_WINDOW, DEFAULT_SIZE, false };
    long v;
    int c;
    while ((c = getopt_long (argc, argv, "n:w:s:ch", longopts, NULL)) != -1) {
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

    static const transport_t transports [] = {
        { "inproc", RAW_FRONT_INPROC, RAW_BACK_INPROC, BROKER_INPROC },
        { "tcp", RAW_FRONT_TCP, RAW_BACK_TCP, BROKER_TCP },
    };
    int64_t *samples [2] = {
        malloc (opts.count * sizeof (int64_t)), malloc (opts.count * sizeof (int64_t))
    };
    assert (samples [0] && samples [1]);
    int missed = 0;
    rc = 0;
    for (size_t t = 0; t < sizeof transports / sizeof transports [0] && rc == 0; t++) {
        figures_t raw = { 0 }, flot = { 0 };
        if (s_bench (&opts, &payload, &transports [t], samples, &raw, &flot))
            rc = 1;
        else
            missed += s_report (transports [t].name, &raw, &flot);
        fflush (stdout);
    }
    free (samples [0]);
    free (samples [1]);
    free (payload.data);
    if (rc == 0 && missed)
        printf ("\n%d target%s missed\n", missed, missed == 1 ? "" : "s");
    if (rc)
        return 1;
    return opts.check && missed ? 1 : 0;
}
