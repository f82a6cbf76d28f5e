/*  bench_deploy.c - flot_bench_deploy: what a deployment costs the coordinator.

    Runs, in this one process, the broker (flot_broker_actor over inproc://)
    and the events, strategy, executor and coordinator actors as threads,
    with their stores in a temporary directory, and drives them with a
    flot_client as flotctl would. Every hook is /bin/true (the link `noop`
    in the executor's hooks directory, the temporary one), so what is
    measured is Flotilla, not the hooks. The coordinator's thread is found
    by its name (/proc/self/task/<tid>/comm is "coordinator") and its CPU
    time (the nanoseconds it ran, /proc/self/task/<tid>/schedstat) read
    before and after each phase.

      spawn     the floor, before any actor runs: /bin/true spawned
                (posix_spawn) and reaped by this process alone, as many at
                once as the executor has slots: spawns per second
      rolling   one rolling deployment over --targets targets (no
                dependencies, maxConcurrency --concurrency), from Execute to
                completed: how long Execute took (the plan of every target
                is made then), steps per second, coordinator CPU per step
      executor  --hooks ExecuteStep calls straight to the executor, twice
                its slots in flight: hooks per second, and the ratio to the
                spawn floor
      canary    --deployments deployments of one target each, a canary of
                [setWeight: 50, pause: {}], all started and left waiting at
                the pause: resident memory (VmRSS) per deployment, and
                coordinator CPU per step (each one's Execute included)
      promote   then each is promoted with full (Promote {"id", "full":
                true}) and runs to completion: steps per second,
                coordinator CPU per step
      concurrent  canary and promote together: the concurrent deployments
                from Execute to completed, whose CPU per step is held to
                the target (as the rolling deployment's is)

    --deployments may list several sizes, and --runs repeat each: every run
    of the canary phases starts a fresh process under test (new stores, the
    heap trimmed), and a last table prints each size's medians and its
    growth, its CPU per step over the first size's.

    Run times are the coordinator's own: from our wall clock when Execute
    (or the first Promote) was sent to the deployment's finished_ms (the
    latest updated_ms for many), so that polling List does not round them;
    List is polled less often as deployments grow, since what it costs the
    coordinator is counted. A phase's CPU time runs until the events service
    has taken every event the phase queued (its last seq holds still), so it
    includes publishing them. Targets: CPU per step < 200 us, memory per
    waiting deployment < 64 KiB, growth from the first size to the last <=
    1.25, executor throughput >= 0.7 of the floor. Exit status 0 whatever the
    figures, unless --check: then 1 if a target is missed. 1 if a run cannot
    complete, 2 for a usage error.

    The baseline, measured in the same run: the mean wall time of a raw
    libzmq round trip (DEALER to ROUTER and back, over inproc, to an echo
    thread) of a payload the size of a step's ExecuteStep request; each
    phase prints its coordinator CPU per step as a ratio to it.

    No ports: everything is inproc://.
*/
#include <pthread.h>

#include "flotilla/broker.h"
#include "flotilla/client.h"
#include "coordinator.h"
#include "events.h"
#include "executor.h"
#include "flotilla/log.h"
#include "flotilla/spec.h"
#include "strategy.h"

#include <dirent.h>
#include <malloc.h>
#include <getopt.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#define ME              "flot_bench_deploy"
#define BROKER_INPROC   "inproc://bench-deploy-broker"
#define EVENTS_INPROC   "inproc://bench-deploy-events"
#define HOOK            "noop"          //  a link to /bin/true in the hooks directory

#define DEFAULT_TARGETS     1000
#define DEFAULT_DEPLOYMENTS 1000
#define DEFAULT_CONCURRENCY 50
#define DEFAULT_HOOKS       5000
#define MAX_TARGETS         FLOT_SPEC_MAX_TARGETS
#define MAX_DEPLOYMENTS     10000
#define MAX_RUNS            9
#define GROWTH_TARGET       1.25    //  CPU per step at the largest size over the smallest
#define FLOOR_TARGET        0.7     //  the executor's hooks per second over the floor's

#define POLL_MS         50          //  between status polls
#define WAIT_MS         10000       //  longest wait for one reply
#define PHASE_MS        100000      //  longest wait for a phase to finish
#define WINDOW          100         //  requests in flight in bulk phases
#define EXECUTOR_SLOTS  64          //  the executor's default --executor-slots

#define CPU_TARGET_US   200.0       //  coordinator CPU per step, below
#define RSS_TARGET_KIB  64.0        //  memory per waiting deployment, below

#define MAX_SIZES       8

typedef struct {
    int targets;
    int deployments [MAX_SIZES];    //  the canary phases' sizes
    int sizes;
    int runs;                       //  of each size; the median is reported
    int hooks;                      //  ExecuteSteps straight to the executor
    int concurrency;
    bool check;
} options_t;

//  The process under test: broker and actor threads, a client, the stores.
typedef struct {
    char dir [256];             //  temporary: the stores, and the hooks directory
    char store [300];
    char events_store [300];
    zhash_t *options;           //  the actors' options
    zactor_t *broker;
    zactor_t *actors [4];
    flot_client_t *client;
    pid_t coordinator;          //  the coordinator thread's tid
} bench_t;

//  The figures of one phase.
typedef struct {
    size_t steps;
    int64_t elapsed_ms;
    double cpu_us;              //  the coordinator's, over the phase
    uint64_t events;            //  events it published
} phase_t;

//  --------------------------------------------------------------------------
//  What /proc says: the coordinator's thread, its CPU time, our memory

//  The tid of the thread named name, or 0 if there is none.
static pid_t
s_thread_named (const char *name)
{
    DIR *tasks = opendir ("/proc/self/task");
    if (!tasks)
        return 0;
    pid_t found = 0;
    struct dirent *entry;
    while (!found && (entry = readdir (tasks))) {
        if (entry->d_name [0] == '.')
            continue;
        char path [300], comm [32] = "";
        snprintf (path, sizeof path, "/proc/self/task/%s/comm", entry->d_name);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        if (fgets (comm, sizeof comm, file))
            comm [strcspn (comm, "\n")] = 0;
        fclose (file);
        if (streq (comm, name))
            found = (pid_t) atoi (entry->d_name);
    }
    closedir (tasks);
    return found;
}

//  A thread's CPU time in microseconds, or -1: the time it ran on a CPU,
//  in nanoseconds (/proc/.../schedstat), else utime + stime in clock ticks.
static double
s_thread_cpu_us (pid_t tid)
{
    char path [64], line [1024];
    snprintf (path, sizeof path, "/proc/self/task/%d/schedstat", (int) tid);
    FILE *sched = fopen (path, "r");
    unsigned long long ns;
    bool ok = sched && fscanf (sched, "%llu", &ns) == 1;
    if (sched)
        fclose (sched);
    if (ok)
        return (double) ns / 1000.0;
    snprintf (path, sizeof path, "/proc/self/task/%d/stat", (int) tid);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    bool read = fgets (line, sizeof line, file) != NULL;
    fclose (file);
    //  The name, field 2, is in parentheses and may hold spaces: count
    //  from the last ')'. utime and stime are fields 14 and 15.
    char *rest = read ? strrchr (line, ')') : NULL;
    if (!rest)
        return -1;
    unsigned long long utime, stime;
    if (sscanf (rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                &utime, &stime) != 2)
        return -1;
    return (double) (utime + stime) * 1e6 / (double) sysconf (_SC_CLK_TCK);
}

//  This process's resident memory in KiB, or -1.
static long
s_rss_kib (void)
{
    FILE *file = fopen ("/proc/self/status", "r");
    if (!file)
        return -1;
    char line [256];
    long kib = -1;
    while (kib < 0 && fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kib = strtol (line + 6, NULL, 10);
    fclose (file);
    return kib;
}

//  --------------------------------------------------------------------------
//  Starting and stopping the process under test

static void
s_remove_dir (const char *path)
{
    DIR *dir = opendir (path);
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (streq (entry->d_name, ".") || streq (entry->d_name, ".."))
            continue;
        char file [600];
        snprintf (file, sizeof file, "%s/%s", path, entry->d_name);
        unlink (file);
    }
    closedir (dir);
    rmdir (path);
}

static void
s_bench_stop (bench_t *self)
{
    flot_client_destroy (&self->client);
    for (int i = 3; i >= 0; i--)
        zactor_destroy (&self->actors [i]);
    zactor_destroy (&self->broker);
    zhash_destroy (&self->options);
    if (*self->dir)
        s_remove_dir (self->dir);
    *self->dir = 0;
}

//  One call; returns the decoded reply, or NULL with err.
static flot_body_t *
s_call (bench_t *self, const char *command, const msgpack_sbuffer *body, flot_err_t *err)
{
    zframe_t *reply = NULL;
    if (flot_client_call (self->client, "coordinator", NULL, command,
                          body ? body->data : NULL, body ? body->size : 0,
                          WAIT_MS, &reply, err))
        return NULL;
    flot_body_t *decoded = flot_body_decode (zframe_data (reply), zframe_size (reply), err);
    zframe_destroy (&reply);
    return decoded;
}

static int
s_bench_start (bench_t *self)
{
    memset (self, 0, sizeof *self);
    const char *tmp = getenv ("TMPDIR");
    snprintf (self->dir, sizeof self->dir, "%s/flot-bench-deploy-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp (self->dir)) {
        fprintf (stderr, ME ": cannot make a directory %s: %s\n", self->dir, strerror (errno));
        *self->dir = 0;
        return -1;
    }
    snprintf (self->store, sizeof self->store, "%s/flotilla.db", self->dir);
    snprintf (self->events_store, sizeof self->events_store, "%s/events.db", self->dir);
    self->options = zhash_new ();
    zhash_insert (self->options, "store", self->store);
    zhash_insert (self->options, "events-store", self->events_store);
    zhash_insert (self->options, "pub", EVENTS_INPROC);
    zhash_insert (self->options, "hooks-dir", self->dir);
    char link [300];
    snprintf (link, sizeof link, "%s/" HOOK, self->dir);
    if (symlink ("/bin/true", link)) {
        fprintf (stderr, ME ": cannot make the hook %s: %s\n", link, strerror (errno));
        s_remove_dir (self->dir);
        *self->dir = 0;
        zhash_destroy (&self->options);
        return -1;
    }

    const char *endpoints [] = { BROKER_INPROC, NULL };
    flot_broker_config_t broker_config = { .endpoints = endpoints };
    self->broker = zactor_new (flot_broker_actor, &broker_config);
    char *status = self->broker ? zstr_recv (self->broker) : NULL;
    bool ok = status && streq (status, "OK");
    if (!ok)
        fprintf (stderr, ME ": the broker: %s\n", status ? status : "did not start");
    zstr_free (&status);
    const flot_actor_def_t *defs [4] = {
        &flot_events_actor, &flot_strategy_actor, &flot_executor_actor,
        &flot_coordinator_actor
    };
    flot_actor_config_t config = { .endpoint = BROKER_INPROC, .options = self->options };
    for (int i = 0; i < 4 && ok; i++) {
        self->actors [i] = flot_actor_thread (defs [i], &config);
        if (!self->actors [i]) {
            fprintf (stderr, ME ": the %s actor did not start\n", defs [i]->service);
            ok = false;
        }
    }
    if (ok)
        self->client = flot_client_new (BROKER_INPROC);
    self->coordinator = ok ? s_thread_named ("coordinator") : 0;
    if (ok && (!self->coordinator || s_thread_cpu_us (self->coordinator) < 0)) {
        fprintf (stderr, ME ": no thread named 'coordinator' in /proc/self/task\n");
        ok = false;
    }
    //  The actors' READY may still be on its way: call until all answer.
    flot_err_t err = { 0 };
    static const char *services [] = { "events", "executor", "strategy", "coordinator" };
    static const char *commands [] = { "Info", "GetStepStatus", "ListStrategies", "List" };
    for (int i = 0; i < 4 && ok; i++) {
        ok = false;
        for (int64_t until = zclock_mono () + 5000; !ok && zclock_mono () < until; ) {
            zframe_t *reply = NULL;
            int rc = flot_client_call (self->client, services [i], NULL, commands [i],
                                       NULL, 0, 1000, &reply, &err);
            zframe_destroy (&reply);
            //  GetStepStatus without a body answers INVALID: the executor is there.
            ok = rc == 0 || (err.code != FLOT_E_UNKNOWN_SERVICE
                          && err.code != FLOT_E_NO_INSTANCE && err.code != FLOT_E_DEADLINE);
            if (!ok)
                zclock_sleep (10);
        }
        if (!ok)
            fprintf (stderr, ME ": %s does not answer: %s\n", services [i], err.message);
    }
    if (!ok)
        s_bench_stop (self);
    return ok ? 0 : -1;
}

//  --------------------------------------------------------------------------
//  Specs and requests

//  A rolling deployment over targets t1..tN, no dependencies.
static char *
s_spec_rolling (int targets, int concurrency)
{
    size_t size = 512 + (size_t) targets * 32;
    char *spec = malloc (size);
    assert (spec);
    size_t at = (size_t) snprintf (spec, size,
        "apiVersion: flotilla/v1\n"
        "kind: Deployment\n"
        "name: rolling\n"
        "workload: {name: web, version: \"2.0\", rollbackVersion: \"1.0\"}\n"
        "strategy: {rolling: {}}\n"
        "hook: {command: " HOOK ", timeout: 10s}\n"
        "policy: {maxConcurrency: %d, progressDeadline: 1h}\n"
        "targets:\n", concurrency);
    for (int t = 1; t <= targets; t++)
        at += (size_t) snprintf (spec + at, size - at, "  - {name: t%d}\n", t);
    return spec;
}

//  A canary on one target that stops at half weight until promoted.
static char *
s_spec_canary (int n)
{
    char *spec = NULL;
    if (asprintf (&spec,
        "apiVersion: flotilla/v1\n"
        "kind: Deployment\n"
        "name: canary\n"
        "workload: {name: web, version: \"2.0\", rollbackVersion: \"1.0\"}\n"
        "targets:\n"
        "  - {name: c%d}\n"
        "strategy:\n"
        "  canary:\n"
        "    steps:\n"
        "      - setWeight: 50\n"
        "      - pause: {}\n"
        "hook: {command: " HOOK ", timeout: 10s}\n"
        "policy: {progressDeadline: 1h}\n", n) < 0)
        abort ();           //  out of memory
    return spec;
}

static void
s_pack_execute (msgpack_sbuffer *sbuf, const char *spec, const char *cwd)
{
    msgpack_packer pk;
    flot_pack_begin (sbuf, &pk);
    msgpack_pack_map (&pk, 3);
    flot_pack_kv_str (&pk, "spec", spec);
    flot_pack_kv_str (&pk, "file", "bench.yaml");
    flot_pack_kv_str (&pk, "cwd", cwd);
}

static void
s_pack_id (msgpack_sbuffer *sbuf, const char *id, bool full)
{
    msgpack_packer pk;
    flot_pack_begin (sbuf, &pk);
    msgpack_pack_map (&pk, full ? 2 : 1);
    flot_pack_kv_str (&pk, "id", id);
    if (full)
        flot_pack_kv_bool (&pk, "full", true);
}

//  Requests to the coordinator, WINDOW at a time: request i's body from
//  make, its reply to take (which returns 0, or -1 with err). Returns 0, or
//  -1 with a line on stderr.
typedef void (s_make_fn) (bench_t *self, size_t i, msgpack_sbuffer *sbuf, void *arg);
typedef int (s_take_fn) (bench_t *self, size_t i, const msgpack_object *reply,
                         void *arg, flot_err_t *err);

static int
s_bulk (bench_t *self, const char *service, const char *command, size_t count,
        size_t window, s_make_fn *make, s_take_fn *take, void *arg)
{
    uint64_t *corrs = calloc (count + 1, sizeof (uint64_t));
    assert (corrs);
    size_t sent = 0, received = 0, oldest = 0;
    flot_err_t err = { 0 };
    int rc = 0;
    while (received < count && rc == 0) {
        while (sent < count && sent - received < window && rc == 0) {
            msgpack_sbuffer sbuf;
            make (self, sent, &sbuf, arg);
            corrs [sent] = flot_client_send (self->client, service, NULL, command,
                                             sbuf.data, sbuf.size, WAIT_MS, &err);
            msgpack_sbuffer_destroy (&sbuf);
            rc = corrs [sent++] ? 0 : -1;
        }
        flot_reply_t reply;
        if (rc || flot_client_recv (self->client, &reply, WAIT_MS, &err)) {
            rc = -1;
            break;
        }
        //  Replies come in any order: find whose it is, from the oldest
        //  unanswered one on.
        while (oldest < sent && corrs [oldest] == 0)
            oldest++;
        size_t i = oldest;
        while (i < sent && corrs [i] != reply.corr)
            i++;
        if (i == sent)
            ;                   //  a late answer to an earlier call: not ours
        else
        if (reply.kind == FLOT_ERROR) {
            flot_unpack_error (zframe_data (reply.body), zframe_size (reply.body), &err);
            rc = -1;
        }
        else {
            flot_body_t *body = flot_body_decode (zframe_data (reply.body),
                                                  zframe_size (reply.body), &err);
            rc = body ? take (self, i, flot_body_root (body), arg, &err) : -1;
            flot_body_destroy (&body);
            corrs [i] = 0;
            received++;
        }
        flot_reply_clear (&reply);
    }
    free (corrs);
    if (rc)
        fprintf (stderr, ME ": %s %s: %s\n", service, command, err.message);
    return rc;
}

//  The events service's last seq into last. Returns 0, or -1 with a line
//  on stderr.
static int
s_events_last (bench_t *self, uint64_t *last)
{
    zframe_t *reply = NULL;
    flot_body_t *body = NULL;
    flot_err_t err = { 0 };
    int rc = 0;
    if (flot_client_call (self->client, "events", NULL, "Info", NULL, 0, WAIT_MS,
                          &reply, &err)
    ||  !(body = flot_body_decode (zframe_data (reply), zframe_size (reply), &err))
    ||  flot_map_uint (flot_body_root (body), "last", true, 0, UINT64_MAX, last, &err) < 0) {
        fprintf (stderr, ME ": events Info: %s\n", err.message);
        rc = -1;
    }
    zframe_destroy (&reply);
    flot_body_destroy (&body);
    return rc;
}

//  Waits until the events service has taken every event the coordinator
//  queued (its last seq holds still for two polls), so that a phase's CPU
//  time includes publishing them. Returns 0, or -1 with a line on stderr.
static int
s_events_settle (bench_t *self, uint64_t *last)
{
    uint64_t before = UINT64_MAX;
    int still = 0;
    for (int64_t until = zclock_mono () + PHASE_MS; still < 2 && zclock_mono () < until; ) {
        if (s_events_last (self, last))
            return -1;
        still = *last == before ? still + 1 : 0;
        before = *last;
        if (still < 2)
            zclock_sleep (POLL_MS);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Scenario 1: one rolling deployment

static int
s_rolling (bench_t *self, const options_t *opts, phase_t *phase, double *plan_ms)
{
    char *spec = s_spec_rolling (opts->targets, opts->concurrency);
    msgpack_sbuffer sbuf;
    s_pack_execute (&sbuf, spec, self->dir);
    free (spec);
    flot_err_t err;
    uint64_t events_before, events_after;
    if (s_events_last (self, &events_before)) {
        msgpack_sbuffer_destroy (&sbuf);
        return -1;
    }
    double cpu_before = s_thread_cpu_us (self->coordinator);
    int64_t sent_ms = zclock_time ();
    int64_t sent_us = zclock_usecs ();
    flot_body_t *reply = s_call (self, "Execute", &sbuf, &err);
    *plan_ms = (double) (zclock_usecs () - sent_us) / 1000.0;
    msgpack_sbuffer_destroy (&sbuf);
    char id [FLOT_MAX_NAME + 32] = "";
    uint64_t steps = 0;
    if (!reply
    ||  flot_map_str (flot_body_root (reply), "id", true, id, sizeof id, &err) < 0
    ||  flot_map_uint (flot_body_root (reply), "steps_total", true, 0, UINT64_MAX,
                       &steps, &err) < 0) {
        fprintf (stderr, ME ": rolling: Execute: %s\n", err.message);
        flot_body_destroy (&reply);
        return -1;
    }
    flot_body_destroy (&reply);
    //  The only deployment there is: List shows it whatever its size (a
    //  GetStatus of 10,000 targets is paged).
    char state [32] = "running";
    int64_t finished_ms = 0;
    for (int64_t until = zclock_mono () + PHASE_MS;
         streq (state, "running") && zclock_mono () < until; ) {
        zclock_sleep (POLL_MS);
        reply = s_call (self, "List", NULL, &err);
        const msgpack_object *list = NULL;
        if (!reply
        ||  flot_map_object (flot_body_root (reply), "deployments", true,
                             MSGPACK_OBJECT_ARRAY, &list, &err) < 0
        ||  list->via.array.size != 1
        ||  flot_map_str (&list->via.array.ptr [0], "state", true, state, sizeof state,
                          &err) < 0
        ||  flot_map_int (&list->via.array.ptr [0], "updated_ms", true, 0, INT64_MAX,
                          &finished_ms, &err) < 0) {
            fprintf (stderr, ME ": rolling: List: %s\n",
                     list && list->via.array.size != 1 ? "not one deployment" : err.message);
            flot_body_destroy (&reply);
            return -1;
        }
        flot_body_destroy (&reply);
    }
    if (streq (state, "completed") && s_events_settle (self, &events_after))
        return -1;
    double cpu_after = s_thread_cpu_us (self->coordinator);
    if (!streq (state, "completed")) {
        fprintf (stderr, ME ": rolling: %s is %s, not completed, after %d s\n",
                 id, state, PHASE_MS / 1000);
        return -1;
    }
    phase->steps = (size_t) steps;
    phase->elapsed_ms = finished_ms - sent_ms;
    phase->cpu_us = cpu_after - cpu_before;
    phase->events = events_after - events_before;
    return 0;
}

//  --------------------------------------------------------------------------
//  Scenario 2: many small canaries, waiting, then promoted

typedef struct {
    int count;
    char (*ids) [FLOT_MAX_NAME + 32];
    bool *seen;                 //  per deployment: in the state waited for
    int64_t last_ms;            //  the latest updated_ms of those seen
    const char *want;           //  the state waited for
    int64_t want_percent;       //  and the percent at least
} canaries_t;

static void
s_make_execute (bench_t *self, size_t i, msgpack_sbuffer *sbuf, void *arg)
{
    (void) arg;
    char *spec = s_spec_canary ((int) i + 1);
    s_pack_execute (sbuf, spec, self->dir);
    free (spec);
}

static int
s_take_execute (bench_t *self, size_t i, const msgpack_object *reply, void *arg,
                flot_err_t *err)
{
    (void) self;
    canaries_t *canaries = arg;
    return flot_map_str (reply, "id", true, canaries->ids [i], sizeof canaries->ids [i],
                         err) < 0 ? -1 : 0;
}

static void
s_make_promote (bench_t *self, size_t i, msgpack_sbuffer *sbuf, void *arg)
{
    (void) self;
    canaries_t *canaries = arg;
    s_pack_id (sbuf, canaries->ids [i], true);
}

static void
s_make_status (bench_t *self, size_t i, msgpack_sbuffer *sbuf, void *arg)
{
    (void) self;
    canaries_t *canaries = arg;
    s_pack_id (sbuf, canaries->ids [i], false);
}

static int
s_take_none (bench_t *self, size_t i, const msgpack_object *reply, void *arg,
             flot_err_t *err)
{
    (void) self;
    (void) i;
    (void) reply;
    (void) arg;
    (void) err;
    return 0;
}

//  Each deployment's one target must be waiting at its pause.
static int
s_take_waiting (bench_t *self, size_t i, const msgpack_object *reply, void *arg,
                flot_err_t *err)
{
    (void) self;
    canaries_t *canaries = arg;
    const msgpack_object *targets;
    char state [32] = "", step_type [32] = "";
    if (flot_map_object (reply, "targets", true, MSGPACK_OBJECT_ARRAY, &targets, err) < 0)
        return -1;
    if (targets->via.array.size == 1) {
        flot_map_str (&targets->via.array.ptr [0], "state", true, state, sizeof state, err);
        flot_map_str (&targets->via.array.ptr [0], "step_type", true, step_type,
                      sizeof step_type, err);
    }
    if (streq (state, "waiting") && streq (step_type, "pause"))
        return 0;
    return flot_err_set (err, FLOT_E_INTERNAL, "%s: its target is %s at a %s step, "
                         "not waiting at the pause", canaries->ids [i], state, step_type);
}

//  Polls List until every deployment is in the wanted state (and percent).
//  Returns 0, or -1 with a line on stderr.
static int
s_wait_all (bench_t *self, canaries_t *canaries, const char *phase)
{
    zhashx_t *index = zhashx_new ();
    for (int i = 0; i < canaries->count; i++) {
        zhashx_insert (index, canaries->ids [i], (void *) (uintptr_t) (i + 1));
        canaries->seen [i] = false;
    }
    canaries->last_ms = 0;
    int seen = 0, rc = 0;
    flot_err_t err = { 0 };
    char why [300] = "";
    //  A List costs the coordinator in proportion to the deployments, and
    //  its CPU time is measured: poll less often as they grow, so that
    //  what polling costs per step is the same at every size (the run
    //  times are the coordinator's own, so this does not round them).
    int poll_ms = canaries->count / 2 > POLL_MS ? canaries->count / 2 : POLL_MS;
    for (int64_t until = zclock_mono () + PHASE_MS;
         rc == 0 && seen < canaries->count && zclock_mono () < until; ) {
        zclock_sleep (poll_ms);
        //  List in pages (as many as fit in a body each), to the last.
        bool more = true;
        for (uint64_t offset = 0; rc == 0 && more; ) {
            msgpack_sbuffer sbuf;
            msgpack_packer pk;
            flot_pack_begin (&sbuf, &pk);
            msgpack_pack_map (&pk, 2);
            flot_pack_kv_uint (&pk, "offset", offset);
            flot_pack_kv_uint (&pk, "limit", 100000);
            flot_body_t *reply = s_call (self, "List", &sbuf, &err);
            msgpack_sbuffer_destroy (&sbuf);
            const msgpack_object *list = NULL, *page = NULL;
            if (!reply
            ||  flot_map_object (flot_body_root (reply), "deployments", true,
                                 MSGPACK_OBJECT_ARRAY, &list, &err) < 0
            ||  flot_map_object (flot_body_root (reply), "page", true, MSGPACK_OBJECT_MAP,
                                 &page, &err) < 0
            ||  flot_map_bool (page, "more", true, &more, &err) < 0
            ||  flot_map_uint (page, "next_offset", more, 0, UINT64_MAX, &offset, &err) < 0) {
                snprintf (why, sizeof why, "List: %s", err.message);
                rc = -1;
            }
            for (uint32_t k = 0; rc == 0 && k < list->via.array.size; k++) {
                const msgpack_object *dep = &list->via.array.ptr [k];
                char id [FLOT_MAX_NAME + 32] = "", state [32] = "";
                uint64_t percent = 0;
                int64_t updated = 0;
                flot_map_str (dep, "id", true, id, sizeof id, &err);
                flot_map_str (dep, "state", true, state, sizeof state, &err);
                flot_map_uint (dep, "percent", true, 0, 100, &percent, &err);
                flot_map_int (dep, "updated_ms", true, 0, INT64_MAX, &updated, &err);
                size_t i = (size_t) zhashx_lookup (index, id);
                if (i-- == 0 || canaries->seen [i])
                    continue;
                if (!streq (state, "running") && !streq (state, canaries->want)) {
                    snprintf (why, sizeof why, "%s is %s", id, state);
                    rc = -1;
                }
                else
                if (streq (state, canaries->want) && (int64_t) percent >= canaries->want_percent) {
                    canaries->seen [i] = true;
                    if (updated > canaries->last_ms)
                        canaries->last_ms = updated;
                    seen++;
                }
            }
            flot_body_destroy (&reply);
        }
    }
    zhashx_destroy (&index);
    if (rc == 0 && seen < canaries->count) {
        snprintf (why, sizeof why, "%d of %d deployments %s after %d s", seen,
                  canaries->count, canaries->want, PHASE_MS / 1000);
        rc = -1;
    }
    if (rc)
        fprintf (stderr, ME ": %s: %s\n", phase, why);
    return rc;
}

//  Starts them all and waits until each waits at its pause; then promotes
//  them all in full and waits until each completes.
static int
s_canaries (bench_t *self, int deployments, phase_t *start, phase_t *promote,
            long *rss_before, long *rss_after)
{
    canaries_t canaries = {
        .count = deployments,
        .ids = calloc ((size_t) deployments, sizeof canaries.ids [0]),
        .seen = calloc ((size_t) deployments, sizeof (bool))
    };
    assert (canaries.ids && canaries.seen);
    size_t count = (size_t) deployments;
    uint64_t events [3] = { 0, 0, 0 };
    if (s_events_last (self, &events [0]))
        return -1;
    *rss_before = s_rss_kib ();
    double cpu_before = s_thread_cpu_us (self->coordinator);
    int64_t sent_ms = zclock_time ();
    //  A plan of setWeight 50, pause, setWeight 100: one step in 3 done
    //  (33%) is a target waiting at its pause.
    canaries.want = "running";
    canaries.want_percent = 33;
    int rc = s_bulk (self, "coordinator", "Execute", count, WINDOW, s_make_execute, s_take_execute, &canaries)
          || s_wait_all (self, &canaries, "canary")
          || s_events_settle (self, &events [1]);
    double cpu_after = s_thread_cpu_us (self->coordinator);
    *rss_after = s_rss_kib ();
    //  Checked once, outside the measure: each is waiting at its pause.
    if (rc == 0)
        rc = s_bulk (self, "coordinator", "GetStatus", count, WINDOW, s_make_status, s_take_waiting, &canaries);
    start->steps = count;
    start->elapsed_ms = canaries.last_ms - sent_ms;
    start->cpu_us = cpu_after - cpu_before;
    start->events = events [1] - events [0];
    if (rc == 0) {
        cpu_before = s_thread_cpu_us (self->coordinator);
        sent_ms = zclock_time ();
        canaries.want = "completed";
        canaries.want_percent = 100;
        rc = s_bulk (self, "coordinator", "Promote", count, WINDOW, s_make_promote, s_take_none, &canaries)
          || s_wait_all (self, &canaries, "promote")
          || s_events_settle (self, &events [2]);
        cpu_after = s_thread_cpu_us (self->coordinator);
        promote->steps = 2 * count;
        promote->elapsed_ms = canaries.last_ms - sent_ms;
        promote->cpu_us = cpu_after - cpu_before;
        promote->events = events [2] - events [1];
    }
    free (canaries.ids);
    free (canaries.seen);
    return rc ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  Scenario 3: the executor's hook throughput, against the spawn floor

typedef struct {
    int64_t started_ms;         //  the runs' idempotency: one bench, one start
    size_t failed;              //  hooks that did not succeed
} hooks_t;

static void
s_make_step (bench_t *self, size_t i, msgpack_sbuffer *sbuf, void *arg)
{
    (void) self;
    hooks_t *hooks = arg;
    char target [32], step [48];
    snprintf (target, sizeof target, "h%zu", i + 1);
    snprintf (step, sizeof step, "%s/1", target);
    msgpack_packer pk;
    flot_pack_begin (sbuf, &pk);
    msgpack_pack_map (&pk, 7);
    flot_pack_kv_str (&pk, "deployment", "bench-hooks");
    flot_pack_kv_str (&pk, "step_id", step);
    flot_pack_kv_str (&pk, "type", "apply");
    flot_pack_kv_str (&pk, "target", target);
    flot_pack_kv_str (&pk, "version", "2.0");
    flot_pack_kv_uint (&pk, "started_ms", (uint64_t) hooks->started_ms);
    flot_pack_str (&pk, "hook");
    msgpack_pack_map (&pk, 2);
    flot_pack_kv_str (&pk, "command", HOOK);
    flot_pack_kv_uint (&pk, "timeout_ms", 60000);
}

static int
s_take_step (bench_t *self, size_t i, const msgpack_object *reply, void *arg,
             flot_err_t *err)
{
    (void) self;
    (void) i;
    hooks_t *hooks = arg;
    char status [32] = "";
    if (flot_map_str (reply, "status", true, status, sizeof status, err) < 0)
        return -1;
    if (!streq (status, "succeeded"))
        hooks->failed++;
    return 0;
}

//  Runs count hooks through the executor (ExecuteStep straight to it,
//  enough in flight to keep its slots full). Hooks per second, or -1.
static double
s_executor_hooks (bench_t *self, size_t count)
{
    hooks_t hooks = { .started_ms = zclock_time () };
    int64_t start = zclock_usecs ();
    if (s_bulk (self, "executor", "ExecuteStep", count, 2 * EXECUTOR_SLOTS,
                s_make_step, s_take_step, &hooks))
        return -1;
    double seconds = (double) (zclock_usecs () - start) / 1e6;
    if (hooks.failed) {
        fprintf (stderr, ME ": executor: %zu of %zu hooks did not succeed\n",
                 hooks.failed, count);
        return -1;
    }
    return (double) count / seconds;
}

//  The floor: /bin/true spawned and reaped count times by this process
//  alone, slots at once, as the executor keeps its slots busy. Spawns per
//  second, or -1.
static double
s_spawn_floor (size_t count, size_t slots)
{
    char *argv [] = { "true", NULL };
    char *envp [] = { NULL };
    size_t started = 0, reaped = 0;
    int64_t start = zclock_usecs ();
    while (reaped < count) {
        while (started < count && started - reaped < slots) {
            pid_t pid;
            if (posix_spawn (&pid, "/bin/true", NULL, NULL, argv, envp)) {
                fprintf (stderr, ME ": cannot spawn /bin/true: %s\n", strerror (errno));
                return -1;
            }
            started++;
        }
        int status;
        if (waitpid (-1, &status, 0) < 0) {
            fprintf (stderr, ME ": waitpid: %s\n", strerror (errno));
            return -1;
        }
        reaped++;
    }
    return (double) count / ((double) (zclock_usecs () - start) / 1e6);
}

//  --------------------------------------------------------------------------
//  The baseline: raw libzmq, a request the size of a step's ExecuteStep
//  there and back between two threads over inproc, as a step's hook call
//  goes (without the broker, the bodies or any bookkeeping).

#define RAW_ENDPOINT "inproc://bench-deploy-raw"
#define RAW_TRIPS 20000

static void *
s_raw_echo (void *arg)
{
    void *router = arg;
    for (;;) {
        zmq_msg_t id, body;
        zmq_msg_init (&id);
        zmq_msg_init (&body);
        if (zmq_msg_recv (&id, router, 0) < 0 || zmq_msg_recv (&body, router, 0) < 0) {
            zmq_msg_close (&id);
            zmq_msg_close (&body);
            return NULL;            //  the context ends
        }
        bool stop = zmq_msg_size (&body) == 0;
        zmq_msg_send (&id, router, ZMQ_SNDMORE);
        zmq_msg_send (&body, router, 0);
        if (stop)
            return NULL;
    }
}

//  The mean wall time of a raw round trip of size bytes, in microseconds.
static double
s_raw_round_trip_us (size_t size)
{
    void *ctx = zmq_ctx_new ();
    void *router = zmq_socket (ctx, ZMQ_ROUTER);
    void *dealer = zmq_socket (ctx, ZMQ_DEALER);
    zmq_bind (router, RAW_ENDPOINT);
    zmq_connect (dealer, RAW_ENDPOINT);
    pthread_t echo;
    pthread_create (&echo, NULL, s_raw_echo, router);
    char *payload = calloc (1, size);
    char reply [4096];
    int64_t start = zclock_usecs ();
    for (int i = 0; i < RAW_TRIPS; i++) {
        zmq_send (dealer, payload, size, 0);
        zmq_recv (dealer, reply, sizeof reply, 0);
    }
    double mean = (double) (zclock_usecs () - start) / RAW_TRIPS;
    zmq_send (dealer, "", 0, 0);            //  stops the echo thread
    zmq_recv (dealer, reply, sizeof reply, 0);
    pthread_join (echo, NULL);
    free (payload);
    zmq_close (dealer);
    zmq_close (router);
    zmq_ctx_term (ctx);
    return mean;
}

//  --------------------------------------------------------------------------
//  The table

//  Prints one line; below is the target (0 for none). Returns 1 if the
//  line has a target and misses it.
static int
s_line (const char *scenario, const char *figure, double value, const char *format,
        double below)
{
    char value_text [32], goal [32] = "";
    snprintf (value_text, sizeof value_text, format, value);
    const char *result = "";
    if (below > 0) {
        snprintf (goal, sizeof goal, "< %.0f", below);
        result = value < below ? "PASS" : "FAIL";
    }
    printf ("%-10s %-34s %12s  %-8s %s\n", scenario, figure, value_text, goal, result);
    return below > 0 && value >= below;
}

//  Prints a phase's figures, and the ratio of its CPU per step to the raw
//  round trip; with a target, checks its CPU per step.
static double s_raw_us;

static int
s_report_phase (const char *scenario, const phase_t *phase, double cpu_target)
{
    double seconds = phase->elapsed_ms > 0 ? (double) phase->elapsed_ms / 1000.0 : 0.001;
    s_line (scenario, "steps", (double) phase->steps, "%.0f", 0);
    s_line (scenario, "run time (ms)", (double) phase->elapsed_ms, "%.0f", 0);
    s_line (scenario, "steps per second", (double) phase->steps / seconds, "%.0f", 0);
    s_line (scenario, "events published per step",
            (double) phase->events / (double) phase->steps, "%.2f", 0);
    double per_step = phase->cpu_us / (double) phase->steps;
    s_line (scenario, "ratio to the raw round trip", per_step / s_raw_us, "%.1f", 0);
    return s_line (scenario, "coordinator CPU per step (us)", per_step, "%.1f", cpu_target);
}

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: " ME " [OPTIONS]\n"
"\n"
"Runs the broker and the events, strategy, executor and coordinator actors\n"
"in this process (inproc://, stores and hooks in a temporary directory,\n"
"every hook /bin/true) and measures what deployments cost:\n"
"  spawn     the floor: /bin/true spawned and reaped by this process alone,\n"
"            %d at once: spawns per second\n"
"  rolling   one rolling deployment over N targets, from Execute to completed:\n"
"            how long Execute took (planning it), steps per second,\n"
"            coordinator CPU per step\n"
"  executor  H ExecuteStep calls straight to the executor: hooks per second,\n"
"            and their ratio to the floor\n"
"  canary    D deployments of one target, [setWeight: 50, pause: {}], all\n"
"            waiting at the pause: memory per deployment (VmRSS), CPU per step\n"
"  promote   then all promoted with full, to completed: steps per second,\n"
"            CPU per step\n"
"  concurrent  both, from Execute to completed\n"
"Each size of -d runs the canary phases R times in a fresh process under\n"
"test (new stores); a last table gives each size's medians and its growth:\n"
"its CPU per step over the first size's.\n"
"Targets: coordinator CPU per step < %.0f us; memory per waiting deployment\n"
"< %.0f KiB; growth from the first to the last size <= %.2f; executor\n"
"throughput >= %.1f of the floor.\n"
"\n"
"Options:\n"
"  -t, --targets N      targets of the rolling deployment (default %d; 1..%d)\n"
"  -d, --deployments N[,N...]  canary deployments, one size or several\n"
"                       (default %d; each 1..%d; at most %d sizes)\n"
"  -r, --runs R         runs of each size (default 1; 1..%d); medians reported\n"
"  -x, --hooks H        hooks of the executor phase (default %d; 0 skips it)\n"
"  -m, --concurrency N  the rolling deployment's maxConcurrency (default %d)\n"
"  -c, --check          exit 1 if a target is missed\n"
"  -h, --help           this text\n"
"\n"
"Example: " ME " -t 10000 -d 1000,3000,10000 -r 3\n"
"\n"
"Exit status: 0 (whatever the figures, unless --check), 1 if a target is\n"
"missed with --check or a run could not complete, 2 for a usage error.\n",
        EXECUTOR_SLOTS, CPU_TARGET_US, RSS_TARGET_KIB, GROWTH_TARGET, FLOOR_TARGET,
        DEFAULT_TARGETS, MAX_TARGETS, DEFAULT_DEPLOYMENTS, MAX_DEPLOYMENTS, MAX_SIZES,
        MAX_RUNS, DEFAULT_HOOKS, DEFAULT_CONCURRENCY);
}

static long
s_parse (const char *text, long min, long max, const char *what)
{
    char *end = NULL;
    long v = strtol (text, &end, 10);
    if (!end || end == text || *end || v < min || v > max) {
        fprintf (stderr, ME ": %s '%s' is not a number in %ld..%ld\n", what, text, min, max);
        return -1;
    }
    return v;
}

//  -d's list of sizes. Returns 0, or -1 with a line on stderr.
static int
s_parse_sizes (const char *text, options_t *opts)
{
    char copy [256];
    if (strlen (text) >= sizeof copy) {
        fprintf (stderr, ME ": --deployments '%s' is too long\n", text);
        return -1;
    }
    strcpy (copy, text);
    opts->sizes = 0;
    char *save = NULL;
    for (char *item = strtok_r (copy, ",", &save); item; item = strtok_r (NULL, ",", &save)) {
        if (opts->sizes == MAX_SIZES) {
            fprintf (stderr, ME ": --deployments: at most %d sizes\n", MAX_SIZES);
            return -1;
        }
        long v = s_parse (item, 1, MAX_DEPLOYMENTS, "--deployments");
        if (v < 0)
            return -1;
        opts->deployments [opts->sizes++] = (int) v;
    }
    if (opts->sizes == 0) {
        fprintf (stderr, ME ": --deployments '%s' names no size\n", text);
        return -1;
    }
    return 0;
}

//  Returns -1 to go on and run, or the exit status to stop with.
static int
s_options (int argc, char *argv [], options_t *opts)
{
    static const struct option longopts [] = {
        { "targets", required_argument, NULL, 't' },
        { "deployments", required_argument, NULL, 'd' },
        { "runs", required_argument, NULL, 'r' },
        { "hooks", required_argument, NULL, 'x' },
        { "concurrency", required_argument, NULL, 'm' },
        { "check", no_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    *opts = (options_t) {
        .targets = DEFAULT_TARGETS, .deployments = { DEFAULT_DEPLOYMENTS }, .sizes = 1,
        .runs = 1, .hooks = DEFAULT_HOOKS, .concurrency = DEFAULT_CONCURRENCY
    };
    long v;
    int c;
    while ((c = getopt_long (argc, argv, "t:d:r:x:m:ch", longopts, NULL)) != -1) {
        switch (c) {
            case 't':
                if ((v = s_parse (optarg, 1, MAX_TARGETS, "--targets")) < 0)
                    return 2;
                opts->targets = (int) v;
                break;
            case 'd':
                if (s_parse_sizes (optarg, opts))
                    return 2;
                break;
            case 'r':
                if ((v = s_parse (optarg, 1, MAX_RUNS, "--runs")) < 0)
                    return 2;
                opts->runs = (int) v;
                break;
            case 'x':
                if ((v = s_parse (optarg, 0, 1000000, "--hooks")) < 0)
                    return 2;
                opts->hooks = (int) v;
                break;
            case 'm':
                if ((v = s_parse (optarg, 1, FLOT_SPEC_MAX_TARGETS, "--concurrency")) < 0)
                    return 2;
                opts->concurrency = (int) v;
                break;
            case 'c': opts->check = true; break;
            case 'h': s_usage (stdout); return 0;
            default:
                fprintf (stderr, "Try '" ME " --help'.\n");
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, ME ": unexpected argument '%s'\nTry '" ME " --help'.\n",
                 argv [optind]);
        return 2;
    }
    return -1;
}

//  The figures of one run of the canary phases at one size.
typedef struct {
    double cpu_per_step;        //  concurrent: canary and promote
    double steps_per_second;
    double kib_per_deployment;
} size_run_t;

static int
s_by_value (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
s_median (double *values, int count)
{
    qsort (values, (size_t) count, sizeof values [0], s_by_value);
    return count % 2 ? values [count / 2]
                     : (values [count / 2 - 1] + values [count / 2]) / 2;
}

//  One run of the canary phases at one size on a fresh process under test;
//  prints its phases when verbose. Returns 0, or -1.
static int
s_size_run (int deployments, bool verbose, size_run_t *run, int *missed)
{
    bench_t bench;
    if (s_bench_start (&bench))
        return -1;
    phase_t start = { 0 }, promote = { 0 };
    long rss_before = 0, rss_after = 0;
    int rc = s_canaries (&bench, deployments, &start, &promote, &rss_before, &rss_after);
    s_bench_stop (&bench);
    //  What this run freed goes back to the system, so that the next run's
    //  deployments are not counted in memory the heap kept.
    malloc_trim (0);
    if (rc)
        return -1;
    phase_t whole = {
        .steps = start.steps + promote.steps,
        .elapsed_ms = start.elapsed_ms + promote.elapsed_ms,
        .cpu_us = start.cpu_us + promote.cpu_us,
        .events = start.events + promote.events
    };
    run->cpu_per_step = whole.cpu_us / (double) whole.steps;
    run->steps_per_second = (double) whole.steps * 1000.0
                          / (double) (whole.elapsed_ms > 0 ? whole.elapsed_ms : 1);
    run->kib_per_deployment = (double) (rss_after - rss_before) / deployments;
    if (verbose) {
        s_line ("canary", "deployments waiting", deployments, "%.0f", 0);
        s_line ("canary", "RSS before (KiB)", (double) rss_before, "%.0f", 0);
        s_line ("canary", "RSS waiting (KiB)", (double) rss_after, "%.0f", 0);
        *missed += s_line ("canary", "memory per deployment (KiB)",
                           run->kib_per_deployment, "%.1f", RSS_TARGET_KIB);
        s_report_phase ("canary", &start, 0);
        s_report_phase ("promote", &promote, 0);
        *missed += s_report_phase ("concurrent", &whole, CPU_TARGET_US);
    }
    fflush (stdout);
    return 0;
}

int
main (int argc, char *argv [])
{
    options_t opts;
    int rc = s_options (argc, argv, &opts);
    if (rc >= 0)
        return rc;
    flot_log_set_level (getenv ("BENCH_LOG") ? FLOT_LOG_DEBUG : FLOT_LOG_WARN);
    zsys_init ();
    printf (ME ": rolling over %d targets (maxConcurrency %d), %d hooks through the "
            "executor, canary deployments:", opts.targets, opts.concurrency, opts.hooks);
    for (int i = 0; i < opts.sizes; i++)
        printf ("%s%d", i ? ", " : " ", opts.deployments [i]);
    printf (" (%d run%s each); hook " HOOK "\n\n", opts.runs, opts.runs == 1 ? "" : "s");
    printf ("%-10s %-34s %12s  %-8s %s\n", "scenario", "figure", "value", "target", "result");
    //  The baselines, before any actor runs (the floor reaps any child):
    //  a round trip with the body of a typical step's hook call (~360
    //  bytes), and spawning.
    s_raw_us = s_raw_round_trip_us (360);
    s_line ("baseline", "raw libzmq round trip, 360 B (us)", s_raw_us, "%.1f", 0);
    double floor = opts.hooks ? s_spawn_floor ((size_t) opts.hooks, EXECUTOR_SLOTS) : 0;
    if (opts.hooks && floor < 0)
        return 1;
    if (opts.hooks)
        s_line ("spawn", "/bin/true spawned+reaped per second", floor, "%.0f", 0);
    int missed = 0;
    bench_t bench;
    if (s_bench_start (&bench))
        return 1;
    phase_t rolling = { 0 };
    double plan_ms = 0;
    rc = s_rolling (&bench, &opts, &rolling, &plan_ms);
    if (rc == 0) {
        s_line ("rolling", "Execute, planning it (ms)", plan_ms, "%.1f", 0);
        missed += s_report_phase ("rolling", &rolling, CPU_TARGET_US);
        fflush (stdout);
    }
    if (rc == 0 && opts.hooks) {
        double hooks = s_executor_hooks (&bench, (size_t) opts.hooks);
        if (hooks < 0)
            rc = -1;
        else {
            s_line ("executor", "hooks per second", hooks, "%.0f", 0);
            double ratio = hooks / floor;
            char goal [32];
            snprintf (goal, sizeof goal, ">= %.1f", FLOOR_TARGET);
            printf ("%-10s %-34s %12.2f  %-8s %s\n", "executor", "ratio to the spawn floor",
                    ratio, goal, ratio >= FLOOR_TARGET ? "PASS" : "FAIL");
            missed += ratio < FLOOR_TARGET;
        }
        fflush (stdout);
    }
    s_bench_stop (&bench);
    malloc_trim (0);
    //  The sizes: the first run of each prints its phases.
    double cpu [MAX_SIZES], rate [MAX_SIZES], kib [MAX_SIZES];
    for (int i = 0; i < opts.sizes && rc == 0; i++) {
        double c [MAX_RUNS], r [MAX_RUNS], k [MAX_RUNS];
        for (int run = 0; run < opts.runs && rc == 0; run++) {
            size_run_t figures;
            rc = s_size_run (opts.deployments [i], run == 0 && opts.sizes == 1, &figures,
                             &missed);
            c [run] = figures.cpu_per_step;
            r [run] = figures.steps_per_second;
            k [run] = figures.kib_per_deployment;
        }
        if (rc == 0) {
            cpu [i] = s_median (c, opts.runs);
            rate [i] = s_median (r, opts.runs);
            kib [i] = s_median (k, opts.runs);
        }
    }
    if (rc == 0 && (opts.sizes > 1 || opts.runs > 1)) {
        printf ("\n%-12s %14s %14s %14s %10s\n", "deployments", "CPU/step (us)",
                "steps/s", "KiB/deployment", "growth");
        for (int i = 0; i < opts.sizes; i++) {
            double growth = cpu [i] / cpu [0];
            bool last = i == opts.sizes - 1;
            bool bad = cpu [i] >= CPU_TARGET_US || kib [i] >= RSS_TARGET_KIB
                    || (last && growth > GROWTH_TARGET);
            missed += bad;
            printf ("%-12d %14.1f %14.0f %14.1f %10.2f  %s\n", opts.deployments [i],
                    cpu [i], rate [i], kib [i], growth, bad ? "FAIL" : "PASS");
        }
        printf ("(medians of %d run%s; targets: CPU/step < %.0f us, KiB/deployment < %.0f, "
                "growth of the last <= %.2f)\n", opts.runs, opts.runs == 1 ? "" : "s",
                CPU_TARGET_US, RSS_TARGET_KIB, GROWTH_TARGET);
    }
    if (rc == 0 && missed)
        printf ("\n%d target%s missed\n", missed, missed == 1 ? "" : "s");
    if (rc)
        return 1;
    return opts.check && missed ? 1 : 0;
}
