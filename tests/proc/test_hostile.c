/*  test_hostile.c - flotillad under hostile input, and the event stream.

    Real flotillad processes on loopback get thousands of malformed messages
    from raw ZeroMQ sockets and raw TCP connections while a well-behaved
    client keeps pinging; the events actor gets bad Publish and Replay
    bodies; then both must serve as before. Last, a subscriber checks the
    event stream's frames, order, topic filtering and Replay, also with a
    history too small to hold everything.
*/
#include "proc_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
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

static void
s_endpoint (char *buf, size_t size, int port)
{
    snprintf (buf, size, "tcp://127.0.0.1:%d", port);
}

//  --------------------------------------------------------------------------
//  A well-behaved client that pings every 50 ms in its own thread

typedef struct {
    const char *endpoint;
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
    flot_client_t *client = flot_client_new (self->endpoint);
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
//  Raw messages

typedef struct {
    const void *data;
    size_t size;
} raw_t;

//  Sends frames on a raw socket without blocking. Returns 0 or -1.
static int
s_send_raw (zsock_t *sock, const raw_t *frames, int count)
{
    for (int i = 0; i < count; i++)
        if (zmq_send (zsock_resolve (sock), frames [i].data, frames [i].size,
                      ZMQ_DONTWAIT | (i < count - 1 ? ZMQ_SNDMORE : 0)) < 0)
            return -1;
    return 0;
}

static void
s_random_bytes (uint8_t *buf, size_t size)
{
    for (size_t i = 0; i < size; i++)
        buf [i] = (uint8_t) (rand () & 0xff);
}

#define MAX_EXPECTED (STORM_MESSAGES + 64)

//  What the raw DEALER expects back: one ERROR per addressable request, with
//  its code, and one DISCONNECT per actor-only message from a non-actor.
typedef struct {
    zsock_t *sock;
    uint64_t next_corr;
    uint64_t first_corr;
    int expected_code [MAX_EXPECTED];       //  by corr - first_corr; 0: none
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
        zframe_t *sig = zmsg_first (msg);
        zframe_t *kind = zmsg_next (msg);
        zframe_t *third = zmsg_next (msg);
        if (!kind || zframe_size (kind) != 1 || zframe_size (sig) != 6
        ||  memcmp (zframe_data (sig), FLOT_SIGNATURE, 6))
            s_problem (self, "a message that is not FLOT01 came back");
        else
        if (zframe_data (kind) [0] == FLOT_DISCONNECT)
            self->disconnects++;
        else
        if (zframe_data (kind) [0] == FLOT_HEARTBEAT)
            s_problem (self, "HEARTBEAT to a peer that never registered");
        else
        if (zframe_data (kind) [0] == FLOT_ERROR && third && zframe_size (third) == 8) {
            uint64_t corr = flot_get_u64 (zframe_data (third));
            zframe_t *body = zmsg_next (msg);
            flot_err_t err = { 0 };
            flot_unpack_error (zframe_data (body), zframe_size (body), &err);
            uint64_t index = corr - self->first_corr;
            if (index >= MAX_EXPECTED || !self->expected_code [index])
                s_problem (self, "ERROR for corr %llu, which expected none: %s %s",
                           (unsigned long long) corr, flot_err_name (err.code),
                           err.message);
            else
            if (self->answered [index]++)
                s_problem (self, "a second ERROR for corr %llu", (unsigned long long) corr);
            else
            if (err.code != self->expected_code [index] || !*err.message)
                s_problem (self, "corr %llu: expected %s, got %s '%s'",
                           (unsigned long long) corr,
                           flot_err_name (self->expected_code [index]),
                           flot_err_name (err.code), err.message);
        }
        else {
            const char *name = flot_kind_name (zframe_data (kind) [0]);
            s_problem (self, "unexpected %s came back", name ? name : "kind");
        }
        zmsg_destroy (&msg);
    }
}

//  A REQUEST built field by field; a frame with data NULL is left out.
static uint64_t
s_request (storm_t *self, int expected, const char *signature, raw_t service,
           raw_t key, raw_t timeout, raw_t command, raw_t body, int extra_frames)
{
    uint64_t corr = self->next_corr++;
    uint8_t corr_bytes [8];
    flot_put_u64 (corr_bytes, corr);
    static const uint8_t request = FLOT_REQUEST;
    raw_t frames [24];
    int count = 0;
    frames [count++] = (raw_t) { signature, 6 };
    frames [count++] = (raw_t) { &request, 1 };
    frames [count++] = (raw_t) { corr_bytes, 8 };
    raw_t fields [5] = { service, key, timeout, command, body };
    for (int i = 0; i < 5; i++)
        if (fields [i].data)
            frames [count++] = fields [i];
    for (int i = 0; i < extra_frames && count < 24; i++)
        frames [count++] = (raw_t) { "x", 1 };
    self->expected_code [corr - self->first_corr] = expected;
    if (s_send_raw (self->sock, frames, count))
        s_problem (self, "could not send a request: %s", zmq_strerror (zmq_errno ()));
    return corr;
}

#define RAW(s) ((raw_t) { (s), sizeof (s) - 1 })
#define NONE ((raw_t) { NULL, 0 })

static const uint8_t s_empty_map [] = { 0x80 };
static const uint8_t s_timeout_1s [] = { 0, 0, 0x03, 0xe8 };

//  One malformed message of kind `which`; answers are accounted in self.
static void
s_one_garbage (storm_t *self, int which)
{
    raw_t map = { s_empty_map, 1 };
    raw_t to = { s_timeout_1s, 4 };
    uint8_t random [64];
    s_random_bytes (random, sizeof random);
    switch (which) {
        case 0: {   //  wrong signature or version: addressable, VERSION
            const char *sig = rand () % 2 ? "FLOT02" : "ZZZZZZ";
            s_request (self, FLOT_E_VERSION, sig, RAW ("echo"), RAW (""), to,
                       RAW ("Echo"), map, 0);
            break;
        }
        case 1: {   //  REQUEST with too few or too many frames: MALFORMED
            int drop = rand () % 5;
            raw_t fields [5] = { RAW ("echo"), RAW (""), to, RAW ("Echo"), map };
            fields [drop] = NONE;
            if (rand () % 2)
                s_request (self, FLOT_E_MALFORMED, FLOT_SIGNATURE, fields [0],
                           fields [1], fields [2], fields [3], fields [4], 0);
            else
                s_request (self, FLOT_E_MALFORMED, FLOT_SIGNATURE, RAW ("echo"),
                           RAW (""), to, RAW ("Echo"), map, 1 + rand () % 2);
            break;
        }
        case 2: {   //  REQUEST with bad fields: MALFORMED
            static const uint8_t big_timeout [] = { 0xff, 0xff, 0xff, 0xff };
            int field = rand () % 6;
            s_request (self, FLOT_E_MALFORMED, FLOT_SIGNATURE,
                       field == 0 ? RAW ("bad service!") : field == 1 ? RAW ("") : RAW ("echo"),
                       field == 2 ? RAW ("has space") : RAW (""),
                       field == 3 ? (raw_t) { big_timeout, 4 }
                                  : field == 4 ? RAW ("12345") : to,
                       field == 5 ? RAW ("Echo\n") : RAW ("Echo"), map, 0);
            break;
        }
        case 3: {   //  REQUEST with a bad body
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
            int pick = rand () % 6;
            //  The broker checks Ping's body itself; echo's actor checks Echo's.
            bool broker = rand () % 2;
            s_request (self, FLOT_E_MALFORMED, FLOT_SIGNATURE,
                       broker ? RAW ("broker") : RAW ("echo"), RAW (""), to,
                       broker ? RAW ("Ping") : RAW ("Echo"), bodies [pick], 0);
            break;
        }
        case 4: {   //  random frames, never addressable
            raw_t frames [10];
            uint8_t data [10][40];
            int count = 1 + rand () % 10;
            for (int i = 0; i < count; i++) {
                size_t size = (size_t) (rand () % 41);
                s_random_bytes (data [i], size);
                if (i == 1 && size == 1 && data [i][0] == FLOT_REQUEST)
                    data [i][0] = 0xee;
                frames [i] = (raw_t) { data [i], size };
            }
            s_send_raw (self->sock, frames, count);
            break;
        }
        case 5: {   //  more than 10 frames: TOO_LARGE if addressable
            if (rand () % 2) {
                s_request (self, FLOT_E_TOO_LARGE, FLOT_SIGNATURE, RAW ("echo"),
                           RAW (""), to, RAW ("Echo"), map, 3 + rand () % 6);
                break;
            }
            raw_t frames [16];
            for (int i = 0; i < 16; i++)
                frames [i] = (raw_t) { random + i, 3 };
            s_send_raw (self->sock, frames, 11 + rand () % 5);
            break;
        }
        case 6: {   //  an actor's answer from a peer that is not an actor
            uint8_t kind = (uint8_t) (FLOT_A_REPLY + rand () % 4);
            uint8_t corr [8];
            s_random_bytes (corr, 8);
            raw_t frames [] = {
                RAW (FLOT_SIGNATURE), { &kind, 1 }, { random, 5 }, { corr, 8 }, map
            };
            s_send_raw (self->sock, frames, 5);
            self->disconnects_expected++;
            break;
        }
        case 7: {   //  READY that must be refused
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
            static const uint8_t valid [] = {       //  {"host": "h", "pid": 1}
                0x82, 0xa4, 'h', 'o', 's', 't', 0xa1, 'h', 0xa3, 'p', 'i', 'd', 0x01 };
            raw_t bodies [] = {
                map, { no_host, sizeof no_host }, { bad_pid, sizeof bad_pid },
                { bad_keys, sizeof bad_keys }, { keys_not_array, sizeof keys_not_array },
                { truncated, sizeof truncated }, { valid, sizeof valid }
            };
            int pick = rand () % 7;
            static const uint8_t ready = FLOT_READY;
            //  A valid body is refused only for the reserved service.
            raw_t frames [] = {
                RAW (FLOT_SIGNATURE), { &ready, 1 },
                pick == 6 || rand () % 4 == 0 ? RAW ("broker") : RAW ("echo"),
                bodies [pick]
            };
            s_send_raw (self->sock, frames, 4);
            self->disconnects_expected++;
            break;
        }
        case 8: {   //  HEARTBEAT from a peer that is not an actor
            static const uint8_t heartbeat = FLOT_HEARTBEAT;
            raw_t frames [] = { RAW (FLOT_SIGNATURE), { &heartbeat, 1 } };
            s_send_raw (self->sock, frames, 2);
            self->disconnects_expected++;
            break;
        }
        default: {  //  kinds only the broker sends: dropped
            static const uint8_t kinds [] = {
                FLOT_REPLY, FLOT_ERROR, FLOT_STREAM, FLOT_STREAM_END };
            uint8_t corr [8];
            s_random_bytes (corr, 8);
            raw_t frames [] = {
                RAW (FLOT_SIGNATURE), { &kinds [rand () % 4], 1 }, { corr, 8 }, map
            };
            s_send_raw (self->sock, frames, 4);
            break;
        }
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

//  Sends one frame larger than FLOT_MAX_MESSAGE: the broker's ZeroMQ drops
//  the connection (and this DEALER reconnects by itself).
static void
s_oversize (zsock_t *sock, uint8_t *big, bool as_request)
{
    if (as_request) {
        static const uint8_t request = FLOT_REQUEST;
        uint8_t corr [8] = { 0 };
        raw_t frames [] = {
            RAW (FLOT_SIGNATURE), { &request, 1 }, { corr, 8 }, RAW ("echo"), RAW (""),
            { s_timeout_1s, 4 }, RAW ("Echo"), { big, FLOT_MAX_MESSAGE + 1 }
        };
        s_send_raw (sock, frames, 8);
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

static void
test_garbage_does_not_hurt_broker (void **state)
{
    (void) state;
    char endpoint [64];
    s_endpoint (endpoint, sizeof endpoint, PORT);
    proc_t *daemon = proc_start ("storm", "--bind", endpoint, "--actors", "echo",
                                 "--heartbeat", PROC_HEARTBEAT_ARG,
                                 "--liveness", PROC_LIVENESS_ARG, NULL);
    assert_non_null (daemon);
    assert_int_equal (proc_wait_ping (daemon, endpoint, 5000), 0);
    flot_client_t *client = flot_client_new (endpoint);
    char instance [64];
    snprintf (instance, sizeof instance, "echo-%d", (int) proc_pid (daemon));
    json_t *entry = proc_wait_actor (client, "echo", instance, daemon, 5000);
    assert_non_null (entry);
    json_decref (entry);

    pinger_t pinger = { .endpoint = endpoint };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_pinger, &pinger), 0);

    //  PROC_SEED=n replays a run.
    unsigned seed = getenv ("PROC_SEED")
                  ? (unsigned) strtoul (getenv ("PROC_SEED"), NULL, 10)
                  : (unsigned) time (NULL);
    print_message ("garbage seed %u (PROC_SEED)\n", seed);
    srand (seed);
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
    s_request (storm, FLOT_E_TOO_LARGE, FLOT_SIGNATURE, RAW ("echo"), RAW (""),
               (raw_t) { s_timeout_1s, 4 }, RAW ("Echo"),
               (raw_t) { big, FLOT_MAX_BODY + 1 }, 0);
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

    print_message ("storm: %d messages, %d TCP connections, %d oversized frames "
                   "in %lld ms; %d pings during it, %d in all (worst %lld ms), %d failed\n",
                   STORM_MESSAGES, tcp_connections, oversized, (long long) storm_ms,
                   pings_during, pinger.pings, (long long) pinger.worst_ms,
                   pinger.failures);
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

    //  One malformed request on its own: MALFORMED, with its corr.
    uint64_t corr = s_request (storm, FLOT_E_MALFORMED, FLOT_SIGNATURE,
                               RAW ("echo"), RAW (""), (raw_t) { s_timeout_1s, 4 },
                               RAW ("Echo"), NONE, 0);
    s_storm_drain (storm, 1000);
    assert_int_equal (storm->answered [corr - storm->first_corr], 1);
    assert_int_equal (storm->unexpected, 0);

    //  The connection that sent oversized frames was dropped each time and
    //  came back: its oversized request went unanswered, a Ping is answered.
    static const uint8_t request = FLOT_REQUEST;
    uint8_t ping_corr [8];
    flot_put_u64 (ping_corr, 77);
    raw_t ping [] = {
        RAW (FLOT_SIGNATURE), { &request, 1 }, { ping_corr, 8 }, RAW ("broker"),
        RAW (""), { s_timeout_1s, 4 }, RAW ("Ping"), { s_empty_map, 1 }
    };
    zsock_set_sndtimeo (oversize, 2000);
    for (int i = 0; i < 8; i++)
        zmq_send (zsock_resolve (oversize), ping [i].data, ping [i].size,
                  i < 7 ? ZMQ_SNDMORE : 0);
    zsock_set_rcvtimeo (oversize, 2000);
    zmsg_t *pong = zmsg_recv (oversize);
    assert_non_null (pong);
    assert_int_equal (zmsg_size (pong), 4);
    zmsg_first (pong);
    assert_int_equal (zframe_data (zmsg_next (pong)) [0], FLOT_REPLY);
    assert_int_equal (flot_get_u64 (zframe_data (zmsg_next (pong))), 77);
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
    s_endpoint (endpoint, sizeof endpoint, PORT + 1);
    s_endpoint (events, sizeof events, PORT + 2);
    proc_t *daemon = proc_start ("events", "--bind", endpoint, "--events-bind", events,
                                 "--heartbeat", PROC_HEARTBEAT_ARG,
                                 "--liveness", PROC_LIVENESS_ARG, NULL);
    assert_non_null (daemon);
    assert_int_equal (proc_wait_ping (daemon, endpoint, 5000), 0);
    flot_client_t *client = flot_client_new (endpoint);
    char instance [64];
    snprintf (instance, sizeof instance, "events-%d", (int) proc_pid (daemon));
    json_t *entry = proc_wait_actor (client, "events", instance, daemon, 5000);
    assert_non_null (entry);
    json_decref (entry);

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
    //  A deployment id is a valid name (1..64 bytes) other than "-".
    s_expect_error_json (client, "Publish", "{\"type\": \"a\", \"deployment\": \"-\"}", "'deployment'");
    snprintf (json, sizeof json, "{\"type\": \"a\", \"deployment\": \"%.65s\"}", long_text);
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
//  frames ([topic][FLOT01][map]) and that the topic matches the body.
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
    assert_memory_equal (zframe_data (sig), FLOT_SIGNATURE, FLOT_SIGNATURE_SIZE);
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

//  The pub endpoint from Info.
static char *
s_pub_endpoint (flot_client_t *client)
{
    json_t *info = proc_call (client, "events", NULL, "Info", NULL, 2000, NULL);
    assert_non_null (info);
    const char *pub = json_string_value (json_object_get (info, "pub"));
    assert_non_null (pub);
    char *copy = strdup (pub);
    json_decref (info);
    return copy;
}

//  Starts flotillad with only the events actor, connected to a broker of its
//  own; waits until the events service answers.
static flot_client_t *
s_events_daemon (const char *name, int port, const char *capacity)
{
    char endpoint [64], events [64];
    s_endpoint (endpoint, sizeof endpoint, port);
    s_endpoint (events, sizeof events, port + 1);
    proc_t *broker = proc_start (name, "--broker-only", "--bind", endpoint,
                                 "--heartbeat", PROC_HEARTBEAT_ARG,
                                 "--liveness", PROC_LIVENESS_ARG, NULL);
    assert_non_null (broker);
    assert_int_equal (proc_wait_ping (broker, endpoint, 5000), 0);
    char actor_name [64];
    snprintf (actor_name, sizeof actor_name, "%s-actor", name);
    proc_t *actor = proc_start (actor_name, "--connect", endpoint, "--actors", "events",
                                "--instance", actor_name, "--events-bind", events,
                                "--events-capacity", capacity,
                                "--heartbeat", PROC_HEARTBEAT_ARG,
                                "--liveness", PROC_LIVENESS_ARG, NULL);
    assert_non_null (actor);
    flot_client_t *client = flot_client_new (endpoint);
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
    char *pub = s_pub_endpoint (client);
    char expected_pub [64];
    s_endpoint (expected_pub, sizeof expected_pub, PORT + 11);
    assert_string_equal (pub, expected_pub);
    zsock_t *all = zsock_new_sub (pub, "");
    zsock_t *d1 = zsock_new_sub (pub, "d1/");
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

    //  200 events, alternating between deployments d1 and d2.
    for (int i = 1; i <= 200; i++) {
        long long seq = s_publish (client, i % 2 ? "d1" : "d2",
                                   i % 4 < 2 ? "step.completed" : "health.changed", i);
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
        assert_int_equal (s_publish (client, "d3", "step.started", i), i);
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
        cmocka_unit_test_teardown (test_garbage_does_not_hurt_events_actor, proc_teardown),
        cmocka_unit_test_teardown (test_subscriber_sees_consecutive_seq_and_replay, proc_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
