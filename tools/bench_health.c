/*  bench_health.c - how fast the health actor probes many targets.

    Opens 1000 listening TCP sockets on loopback, starts a real broker and
    the health actor as threads, and calls CheckBatch with a TCP check for
    each of the 1000 targets (concurrency 1000) through the client. As the
    baseline, measured in the same run, the benchmark connects to the same
    1000 sockets itself with plain poll()-driven non-blocking connects.
    Prints the median of several rounds of each and their ratio.

    Usage: flot_bench_health [targets (default 1000)] [rounds (default 5)]
*/
#include "flotilla/broker.h"
#include "flotilla/client.h"
#include "health.h"
#include "flotilla/log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_TARGETS 4000
#define MAX_ROUNDS 20

static int s_listeners [MAX_TARGETS];
static int s_ports [MAX_TARGETS];

static int
s_open_listeners (int count)
{
    for (int i = 0; i < count; i++) {
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
        sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        socklen_t size = sizeof sa;
        if (fd < 0 || bind (fd, (struct sockaddr *) &sa, sizeof sa) || listen (fd, 64)
        ||  getsockname (fd, (struct sockaddr *) &sa, &size)) {
            fprintf (stderr, "bench_health: cannot listen (%d): %s\n", i, strerror (errno));
            return -1;
        }
        s_listeners [i] = fd;
        s_ports [i] = ntohs (sa.sin_port);
    }
    return 0;
}

//  Accepts and closes what the last round left in the accept queues.
static void
s_drain (int count)
{
    for (int i = 0; i < count; i++) {
        int fd;
        while ((fd = accept (s_listeners [i], NULL, NULL)) >= 0)
            close (fd);
    }
}

//  The baseline: connect to every listener with non-blocking connects and
//  poll() until each has connected. Returns the ms taken, or -1.
static double
s_baseline (int count)
{
    struct pollfd *items = calloc ((size_t) count, sizeof *items);
    int64_t start = zclock_usecs ();
    for (int i = 0; i < count; i++) {
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) s_ports [i]) };
        sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        if (connect (fd, (struct sockaddr *) &sa, sizeof sa) && errno != EINPROGRESS) {
            fprintf (stderr, "bench_health: connect: %s\n", strerror (errno));
            return -1;
        }
        items [i].fd = fd;
        items [i].events = POLLOUT;
    }
    int left = count, failed = 0;
    while (left) {
        if (poll (items, (nfds_t) count, 5000) <= 0)
            return -1;
        for (int i = 0; i < count; i++)
            if (items [i].fd >= 0 && items [i].revents) {
                int error = 0;
                socklen_t size = sizeof error;
                getsockopt (items [i].fd, SOL_SOCKET, SO_ERROR, &error, &size);
                failed += error != 0;
                close (items [i].fd);
                items [i].fd = -1;      //  poll() skips it
                left--;
            }
    }
    double ms = (double) (zclock_usecs () - start) / 1000.0;
    free (items);
    return failed ? -1 : ms;
}

//  The CheckBatch body for count targets.
static void
s_batch_body (msgpack_sbuffer *sbuf, int count)
{
    msgpack_packer pk;
    msgpack_sbuffer_init (sbuf);
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    flot_pack_str (&pk, "checks");
    msgpack_pack_array (&pk, 1);
    msgpack_pack_map (&pk, 3);
    flot_pack_kv_str (&pk, "name", "port");
    flot_pack_str (&pk, "tcp");
    msgpack_pack_map (&pk, 1);
    flot_pack_kv_str (&pk, "address", "{address}");
    flot_pack_kv_str (&pk, "timeout", "5s");
    flot_pack_kv_uint (&pk, "concurrency", (uint64_t) (count < 1024 ? count : 1024));
    flot_pack_str (&pk, "contexts");
    msgpack_pack_array (&pk, (uint32_t) count);
    for (int i = 0; i < count; i++) {
        char target [32], address [32];
        snprintf (target, sizeof target, "target-%d", i);
        snprintf (address, sizeof address, "127.0.0.1:%d", s_ports [i]);
        msgpack_pack_map (&pk, 2);
        flot_pack_kv_str (&pk, "target", target);
        flot_pack_kv_str (&pk, "address", address);
    }
}

//  One CheckBatch; returns the ms taken, or -1.
static double
s_check_batch (flot_client_t *client, const msgpack_sbuffer *sbuf, int count)
{
    int64_t start = zclock_usecs ();
    zframe_t *body = NULL;
    flot_err_t err;
    if (flot_client_call (client, "health", NULL, "CheckBatch", sbuf->data, sbuf->size,
                          30000, &body, &err)) {
        fprintf (stderr, "bench_health: CheckBatch: %s\n", err.message);
        return -1;
    }
    double ms = (double) (zclock_usecs () - start) / 1000.0;
    flot_body_t *decoded = flot_body_decode (zframe_data (body), zframe_size (body), &err);
    uint64_t healthy = 0;
    flot_map_uint (flot_body_root (decoded), "healthy", true, 0, UINT64_MAX, &healthy, &err);
    flot_body_destroy (&decoded);
    zframe_destroy (&body);
    if ((int) healthy != count) {
        fprintf (stderr, "bench_health: only %d of %d targets were healthy\n", (int) healthy, count);
        return -1;
    }
    return ms;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

int
main (int argc, char *argv [])
{
    int count = argc > 1 ? atoi (argv [1]) : 1000;
    int rounds = argc > 2 ? atoi (argv [2]) : 5;
    if (count < 1 || count > MAX_TARGETS || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf (stderr, "usage: flot_bench_health [targets 1..%d] [rounds 1..%d]\n",
                 MAX_TARGETS, MAX_ROUNDS);
        return 1;
    }
    flot_log_set_level (FLOT_LOG_WARN);
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
    }
    if (s_open_listeners (count))
        return 1;

    const char *endpoints [] = { "inproc://bench-health", NULL };
    flot_broker_config_t broker_config = { .endpoints = endpoints };
    zactor_t *broker = zactor_new (flot_broker_actor, &broker_config);
    char *status = zstr_recv (broker);
    zstr_free (&status);
    flot_actor_config_t actor_config = { .endpoint = endpoints [0] };
    zactor_t *health = flot_actor_thread (&flot_health_actor, &actor_config);
    flot_client_t *client = flot_client_new (endpoints [0]);
    if (!health || !client)
        return 1;
    bool up = false;
    for (int i = 0; i < 100 && !up; i++) {
        zframe_t *body = NULL;
        flot_err_t err;
        up = flot_client_call (client, "health", NULL, "GetReadinessGates", NULL, 0, 200,
                               &body, &err) == 0;
        zframe_destroy (&body);
        if (!up)
            zclock_sleep (20);
    }
    if (!up) {
        fprintf (stderr, "bench_health: the health actor did not register\n");
        return 1;
    }
    msgpack_sbuffer sbuf;
    s_batch_body (&sbuf, count);

    double actor [MAX_ROUNDS], plain [MAX_ROUNDS];
    //  One round of each to warm up, then alternate.
    s_check_batch (client, &sbuf, count);
    s_drain (count);
    s_baseline (count);
    s_drain (count);
    for (int r = 0; r < rounds; r++) {
        actor [r] = s_check_batch (client, &sbuf, count);
        s_drain (count);
        plain [r] = s_baseline (count);
        s_drain (count);
        if (actor [r] < 0 || plain [r] < 0)
            return 1;
    }
    qsort (actor, (size_t) rounds, sizeof (double), s_compare);
    qsort (plain, (size_t) rounds, sizeof (double), s_compare);
    double a = actor [rounds / 2], p = plain [rounds / 2];
    printf ("health CheckBatch, %d TCP targets on loopback, median of %d rounds:\n", count, rounds);
    printf ("  through broker + health actor:  %8.2f ms  (%.1f us per target)\n", a, a * 1000 / count);
    printf ("  plain poll() non-blocking connects (baseline): %8.2f ms  (%.1f us per target)\n",
            p, p * 1000 / count);
    printf ("  ratio actor / baseline: %.2f\n", a / p);

    msgpack_sbuffer_destroy (&sbuf);
    flot_client_destroy (&client);
    zactor_destroy (&health);
    zactor_destroy (&broker);
    for (int i = 0; i < count; i++)
        close (s_listeners [i]);
    return 0;
}
