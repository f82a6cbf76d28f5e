/*  bench_events.c - replaying a long event history, and what it costs in
    memory.

    Writes a history of N events (default 1,000,000) with the events
    actor's own log code (event_log.c, the SQLite file it appends to when
    it publishes), each an EVENT map the size of a step event. Then starts
    a real broker and the events actor on that file as threads, and, as a
    client over the broker (the way flotctl events replays), asks Replay
    from the first event, page after page (1,000 events a page, following
    `more`), to the end. Prints events per second for the first 100,000
    and for the whole history, and this process's memory (VmRSS, VmHWM
    from /proc/self/status: the actor runs in it) before, during and after:
    flat, because the actor reads each page from disk and holds no copy of
    the history.

    The client reaches the broker over tcp on loopback (port 27210), as
    flotctl does. The baseline, measured in the same run: raw libzmq round
    trips over tcp on loopback (REQ to a REP thread, port 27211) whose
    replies carry the same bytes as the actor's pages, as many pages as
    the replay took; the ratio is the actor's events per second to the
    baseline's. For scale, it also reads the same pages from disk alone
    (event_log.c, no messages): the floor of what SQLite costs.

    Usage: flot_bench_events [-n EVENTS] [-k] [--help]
      -n EVENTS   the history's length (default 1000000; at least 100000)
      -k          keep the history file (its path is printed)
*/
#include "flotilla/broker.h"
#include "flotilla/client.h"
#include "flotilla/contract_events.h"
#include "flotilla/log.h"
#include "event_log.h"
#include "events.h"

#include <unistd.h>

#define PAGE 1000
#define FIRST 100000
#define BROKER_ENDPOINT "tcp://127.0.0.1:27210"
#define RAW_ENDPOINT "tcp://127.0.0.1:27211"

//  VmRSS and VmHWM of this process, in KiB.
static void
s_memory (long *rss, long *hwm)
{
    *rss = *hwm = -1;
    FILE *file = fopen ("/proc/self/status", "r");
    char line [256];
    while (file && fgets (line, sizeof line, file)) {
        if (!strncmp (line, "VmRSS:", 6))
            *rss = atol (line + 6);
        else
        if (!strncmp (line, "VmHWM:", 6))
            *hwm = atol (line + 6);
    }
    if (file)
        fclose (file);
}

static void
s_print_memory (const char *when)
{
    long rss, hwm;
    s_memory (&rss, &hwm);
    printf ("  memory %-34s VmRSS %7.1f MiB   VmHWM %7.1f MiB\n", when, rss / 1024.0,
            hwm / 1024.0);
    fflush (stdout);
}

//  Writes count events as the actor logs them. Returns 0, or -1.
static int
s_write_history (const char *path, long count)
{
    flot_err_t err;
    flot_event_log_t *log = flot_event_log_open (path, &err);
    if (!log) {
        fprintf (stderr, "bench_events: %s\n", err.message);
        return -1;
    }
    int64_t start = zclock_usecs ();
    int64_t time_ms = zclock_time () - count;
    int rc = 0;
    for (long seq = 1; seq <= count && rc == 0; seq++) {
        char deployment [32], target [32], message [160];
        snprintf (deployment, sizeof deployment, "web-%ld", seq / 40 + 1);
        snprintf (target, sizeof target, "eu-west-%ld", seq % 97);
        snprintf (message, sizeof message, "step %s/%ld (setWeight %ld) succeeded on %s "
                  "after 1 attempt", target, seq % 7, seq % 100, target);
        flot_events_event_t event = {
            .seq = (uint64_t) seq, .time_ms = (uint64_t) (time_ms + seq),
            .type = seq % 40 == 39 ? "deployment.completed" : "step.completed",
            .deployment = deployment, .target = target,
            .message = message
        };
        msgpack_sbuffer sbuf;
        flot_encode_sbuf (&flot_events_event_def, &event, &sbuf);
        if (seq % 10000 == 1)
            rc = flot_event_log_begin (log, &err);
        if (rc == 0)
            rc = flot_event_log_append (log, (uint64_t) seq, deployment, sbuf.data, sbuf.size,
                                        &err);
        if (rc == 0 && (seq % 10000 == 0 || seq == count))
            rc = flot_event_log_commit (log, &err);
        msgpack_sbuffer_destroy (&sbuf);
    }
    if (rc)
        fprintf (stderr, "bench_events: %s\n", err.message);
    double s = (double) (zclock_usecs () - start) / 1e6;
    printf ("history: %ld events written with the events' log code in %.1f s (%.0f events/s)\n",
            count, s, (double) count / s);
    flot_event_log_destroy (&log);
    return rc;
}

//  One Replay page from since: its events' count, the seq after its last,
//  and more. Keeps the reply's bytes in *reply (for the baseline) if not
//  NULL. Returns 0, or -1.
static int
s_replay_page (flot_client_t *client, uint64_t since, size_t *count, uint64_t *next,
               bool *more, zframe_t **reply)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 2);
    flot_pack_kv_uint (&pk, "since", since);
    flot_pack_kv_uint (&pk, "limit", PAGE);
    zframe_t *body = NULL;
    flot_err_t err;
    int rc = flot_client_call (client, "events", NULL, "Replay", sbuf.data, sbuf.size, 30000,
                               &body, &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc) {
        fprintf (stderr, "bench_events: Replay since %llu: %s\n", (unsigned long long) since,
                 err.message);
        return -1;
    }
    flot_body_t *decoded = flot_body_decode (zframe_data (body), zframe_size (body), &err);
    const msgpack_object *root = decoded ? flot_body_root (decoded) : NULL;
    const msgpack_object *events = root ? flot_map_get (root, "events") : NULL;
    const msgpack_object *has_more = root ? flot_map_get (root, "more") : NULL;
    rc = -1;
    if (events && events->type == MSGPACK_OBJECT_ARRAY && has_more
    &&  has_more->type == MSGPACK_OBJECT_BOOLEAN) {
        *count = events->via.array.size;
        *more = has_more->via.boolean;
        rc = 0;
        if (*count) {
            const msgpack_object *seq = flot_map_get (&events->via.array.ptr [*count - 1], "seq");
            if (seq && seq->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                *next = seq->via.u64 + 1;
            else
                rc = -1;
        }
    }
    if (rc)
        fprintf (stderr, "bench_events: Replay since %llu: not a Replay reply\n",
                 (unsigned long long) since);
    flot_body_destroy (&decoded);
    if (reply && !*reply)
        *reply = body;
    else
        zframe_destroy (&body);
    return rc;
}

//  The baseline's answering side: a REP socket that answers each request
//  with the page's bytes.
static void
s_echo_pages (zsock_t *pipe, void *arg)
{
    zframe_t *page = arg;
    zsock_t *rep = zsock_new_rep ("@" RAW_ENDPOINT);
    zsock_signal (pipe, 0);
    void *handle = zsock_resolve (rep);
    char request [64];
    while (true) {
        int size = zmq_recv (handle, request, sizeof request, 0);
        if (size < 0 || (size == 4 && !memcmp (request, "STOP", 4)))
            break;
        zmq_send (handle, zframe_data (page), zframe_size (page), 0);
    }
    zmq_send (handle, "", 0, 0);      //  the answer to STOP
    zsock_destroy (&rep);
}

//  The baseline: pages round trips with raw libzmq. Returns seconds.
static double
s_baseline (zframe_t *page, long pages)
{
    zactor_t *echo = zactor_new (s_echo_pages, page);
    zsock_t *req = zsock_new_req (">" RAW_ENDPOINT);
    void *handle = zsock_resolve (req);
    size_t cap = zframe_size (page) + 64;
    char *buffer = malloc (cap);
    int64_t start = zclock_usecs ();
    for (long i = 0; i < pages; i++) {
        zmq_send (handle, "page", 4, 0);
        if (zmq_recv (handle, buffer, cap, 0) < 0)
            break;
    }
    double s = (double) (zclock_usecs () - start) / 1e6;
    zmq_send (handle, "STOP", 4, 0);
    zmq_recv (handle, buffer, cap, 0);
    free (buffer);
    zsock_destroy (&req);
    zactor_destroy (&echo);
    return s;
}

static int
s_count_page (uint64_t seq, const void *body, size_t size, void *arg)
{
    (void) seq;
    (void) body;
    *(size_t *) arg += size;
    return 0;
}

//  The floor: the same pages read with the log code alone (its own
//  connection: the actor has stopped by then). Returns seconds.
static double
s_disk (const char *path, long pages)
{
    flot_err_t err;
    flot_event_log_t *log = flot_event_log_open (path, &err);
    if (!log)
        return -1;
    int64_t start = zclock_usecs ();
    uint64_t since = 1;
    size_t bytes = 0;
    bool more = true;
    for (long i = 0; i < pages && more; i++) {
        if (flot_event_log_read (log, since, NULL, PAGE, s_count_page, &bytes, &more, &err) < 0)
            break;
        since += PAGE;
    }
    double s = (double) (zclock_usecs () - start) / 1e6;
    flot_event_log_destroy (&log);
    return s;
}

int
main (int argc, char *argv [])
{
    long count = 1000000;
    bool keep = false;
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "-n") && i + 1 < argc)
            count = atol (argv [++i]);
        else
        if (streq (argv [i], "-k"))
            keep = true;
        else {
            printf ("usage: flot_bench_events [-n EVENTS (at least %d, default 1000000)] [-k]\n",
                    FIRST);
            return streq (argv [i], "--help") ? 0 : 1;
        }
    }
    if (count < FIRST || count > 100000000) {
        fprintf (stderr, "bench_events: -n %ld is not in %d..100000000\n", count, FIRST);
        return 1;
    }
    flot_log_set_level (FLOT_LOG_WARN);
    zsys_init ();
    char path [256];
    const char *tmp = getenv ("TMPDIR");
    snprintf (path, sizeof path, "%s/flot-bench-events-%d.db-events", tmp && *tmp ? tmp : "/tmp",
              (int) getpid ());
    if (s_write_history (path, count))
        return 1;

    const char *endpoints [] = { "inproc://bench-events", BROKER_ENDPOINT, NULL };
    flot_broker_config_t broker_config = { .endpoints = endpoints };
    zactor_t *broker = zactor_new (flot_broker_actor, &broker_config);
    char *status = zstr_recv (broker);
    zstr_free (&status);
    zhash_t *options = zhash_new ();
    zhash_insert (options, "pub", "inproc://bench-events-pub");
    zhash_insert (options, "pub-insecure", "1");
    zhash_insert (options, "events-store", path);
    //  Nothing goes while it is measured.
    zhash_insert (options, "events-retain-count", "0");
    zhash_insert (options, "events-retain-age", "0");
    flot_actor_config_t actor_config = { .endpoint = endpoints [0], .options = options };
    s_print_memory ("before the events actor starts");
    zactor_t *events = flot_actor_thread (&flot_events_actor, &actor_config);
    flot_client_t *client = flot_client_new (BROKER_ENDPOINT);
    if (!events || !client)
        return 1;
    bool up = false;
    for (int i = 0; i < 250 && !up; i++) {
        zframe_t *body = NULL;
        flot_err_t err;
        up = flot_client_call (client, "events", NULL, "Info", NULL, 0, 200, &body, &err) == 0;
        zframe_destroy (&body);
        if (!up)
            zclock_sleep (20);
    }
    if (!up) {
        fprintf (stderr, "bench_events: the events actor did not register\n");
        return 1;
    }
    //  At start the actor reads which deployments run from the history, in
    //  batches from a timer: let it end before measuring.
    zclock_sleep ((int) (count / 20000 + 5) * 100);
    s_print_memory ("with the actor started");

    printf ("replay of %ld events through the broker and the events actor, %d a page:\n",
            count, PAGE);
    uint64_t since = 1, total = 0;
    long pages = 0;
    bool more = true;
    zframe_t *sample = NULL;
    int64_t start = zclock_usecs ();
    double first_s = 0;
    while (more) {
        size_t n = 0;
        if (s_replay_page (client, since, &n, &since, &more, &sample))
            return 1;
        pages++;
        total += n;
        if (total == FIRST) {
            first_s = (double) (zclock_usecs () - start) / 1e6;
            s_print_memory ("after 100,000 events replayed");
        }
        if (n == 0)
            break;
    }
    double all_s = (double) (zclock_usecs () - start) / 1e6;
    s_print_memory ("after all were replayed");
    if ((long) total != count) {
        fprintf (stderr, "bench_events: replayed %llu events of %ld\n",
                 (unsigned long long) total, count);
        return 1;
    }
    double base_s = s_baseline (sample, pages);
    size_t page_bytes = zframe_size (sample);
    zframe_destroy (&sample);
    flot_client_destroy (&client);
    zactor_destroy (&events);
    zactor_destroy (&broker);
    zhash_destroy (&options);
    double disk_s = s_disk (path, pages);
    double rate_first = FIRST / first_s, rate_all = (double) total / all_s;
    double rate_base = (double) pages * PAGE / base_s;
    printf ("  first 100,000:      %10.0f events/s  (%.2f s)\n", rate_first, first_s);
    printf ("  all %-10ld      %10.0f events/s  (%.2f s, %ld pages of %zu bytes)\n", count,
            rate_all, all_s, pages, page_bytes);
    printf ("  raw libzmq REQ/REP over tcp, the same page bytes (baseline): %10.0f events/s "
            "(%.2f s)\n", rate_base, base_s);
    printf ("  the same pages read from disk alone (event_log.c, no messages): %10.0f "
            "events/s (%.2f s)\n", (double) total / disk_s, disk_s);
    printf ("  ratio actor / baseline: %.2f (first 100,000: %.2f)\n", rate_all / rate_base,
            rate_first / rate_base);
    s_print_memory ("after the actor stopped");
    if (keep)
        printf ("history kept: %s\n", path);
    else {
        char file [300];
        remove (path);
        snprintf (file, sizeof file, "%s-wal", path);
        remove (file);
        snprintf (file, sizeof file, "%s-shm", path);
        remove (file);
    }
    return 0;
}
