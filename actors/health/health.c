/*  health.c - the health actor (service "health").

    Probes targets for the coordinator and for operators: Check (one check,
    one target), CheckBatch (checks x targets, a bounded number at once),
    StartMonitoring/StopMonitoring (a stream of a target's status changes,
    Kubernetes probe semantics), and readiness gates (IsReady, WaitForReady,
    GetReadinessGates). Probes run in the prober (prober.c) from this actor's
    loop, so one actor runs thousands at once and never blocks. The
    requests, replies and stream messages are protocol/contracts/health.json's:
    the host decodes each request before its handler runs. Every job owns
    what outlives its request: its checks, parsed by common/health_checks.c,
    and copies of its contexts (flot_context_copy), which the prober's
    templates read. A command probe names a program of this host's hooks
    directory (the option "hooks-dir", flotillad --hooks-dir): a request
    whose command probe names none there is refused before anything runs.
*/
#include "health.h"
#include "flotilla/contract_health.h"
#include "flotilla/hook_path.h"
#include "flotilla/log.h"
#include "flotilla/template.h"

#include <sys/resource.h>

#define WHO "health"
#define MAX_CHECKS          64          //  checks in one request
#define MAX_BATCH           4096        //  checks x contexts in one CheckBatch
#define MAX_JOBS            4096        //  requests and streams open at once
#define DEADLINE_MARGIN_MS  100         //  answer this much before the deadline

typedef struct _health_t health_t;
typedef struct _job_t job_t;

typedef enum { JOB_BATCH, JOB_MONITOR, JOB_WAIT } job_kind_t;

//  One check for one target: a probe slot of a batch, or a gate of a watch.
typedef struct {
    job_t *job;
    const flot_check_t *check;
    const flot_health_context_t *context;   //  its target, in the job's zone
    uint64_t probe;             //  the probe running, or 0
    int timer;                  //  the next probe (watches), or -1
    int64_t probe_started;      //  zclock_mono
    uint32_t successes, failures;   //  consecutive
    bool probed;                //  has a result
    bool ready;                 //  successes >= successThreshold
    int64_t since_ms;           //  wall clock of the last change of ready
    flot_probe_result_t result; //  the last
} gate_t;

struct _job_t {
    health_t *health;
    job_kind_t kind;
    flot_request_t *request;    //  BATCH, WAIT: answered when done
    flot_stream_t *stream;      //  MONITOR
    flot_check_t **checks;
    size_t check_count;
    //  Copies of the request's contexts, in zone
    msgpack_zone *zone;
    const flot_health_context_t **context_copies;
    gate_t *gates;
    size_t gate_count;
    char target [256];          //  MONITOR, WAIT
    //  BATCH
    const char *reply;          //  "Check", "CheckBatch" or "IsReady"
    size_t next, running, done, concurrency, contexts;
    //  MONITOR: -1 undecided, 0 unhealthy, 1 healthy
    int status;
    int deadline;               //  a timer, or -1
    int64_t started;
    void *handle;
};

//  A timer of the actor: the loop calls back with the actor, and the entry
//  is looked up by id, so a timer whose job has gone finds nothing instead
//  of a freed job.
typedef void (timer_fn) (void *arg);
typedef struct {
    timer_fn *fn;
    void *arg;
} timer_t_;

struct _health_t {
    flot_actor_t *actor;
    flot_prober_t *prober;
    zlistx_t *jobs;
    zhashx_t *timers;           //  id -> timer_t_ *
    char hooks_dir [1024];      //  absolute; "" if none: no command probe runs
};

//  --------------------------------------------------------------------------
//  Timers

static int
s_on_timer (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    health_t *self = arg;
    char key [16];
    snprintf (key, sizeof key, "%d", timer_id);
    timer_t_ *timer = zhashx_lookup (self->timers, key);
    if (timer) {
        timer_t_ copy = *timer;
        zhashx_delete (self->timers, key);
        copy.fn (copy.arg);
    }
    return 0;
}

static int
s_timer_start (health_t *self, int64_t delay_ms, timer_fn *fn, void *arg)
{
    if (delay_ms < 0)
        delay_ms = 0;
    int id = flot_loop_timer (flot_actor_loop (self->actor), (size_t) delay_ms, 1, s_on_timer, self);
    assert (id >= 0);
    timer_t_ *timer = malloc (sizeof *timer);
    assert (timer);
    timer->fn = fn;
    timer->arg = arg;
    char key [16];
    snprintf (key, sizeof key, "%d", id);
    zhashx_update (self->timers, key, timer);
    return id;
}

static void
s_timer_stop (health_t *self, int *id)
{
    if (*id < 0)
        return;
    char key [16];
    snprintf (key, sizeof key, "%d", *id);
    zhashx_delete (self->timers, key);
    flot_loop_timer_end (flot_actor_loop (self->actor), *id);
    *id = -1;
}

static void
s_timer_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  --------------------------------------------------------------------------
//  Jobs

static void
s_job_destroy (job_t **job_p)
{
    job_t *job = *job_p;
    if (!job)
        return;
    health_t *self = job->health;
    for (size_t i = 0; i < job->gate_count; i++) {
        if (job->gates [i].probe)
            flot_prober_cancel (self->prober, job->gates [i].probe);
        s_timer_stop (self, &job->gates [i].timer);
    }
    s_timer_stop (self, &job->deadline);
    flot_checks_destroy (&job->checks, job->check_count);
    free (job->gates);
    if (job->zone)
        msgpack_zone_free (job->zone);
    if (job->handle)
        zlistx_detach (self->jobs, job->handle);
    free (job);
    *job_p = NULL;
}

//  A new job. NULL (request answered) when too many are open.
static job_t *
s_job_new (health_t *self, flot_request_t **request_p, job_kind_t kind)
{
    if (zlistx_size (self->jobs) >= MAX_JOBS) {
        flot_request_error (request_p, FLOT_E_BUSY, "%d health requests and streams are "
                            "open; try again later", MAX_JOBS);
        return NULL;
    }
    job_t *job = calloc (1, sizeof *job);
    assert (job);
    job->health = self;
    job->kind = kind;
    job->deadline = -1;
    job->status = -1;
    job->started = zclock_mono ();
    job->handle = zlistx_add_end (self->jobs, job);
    return job;
}

static void
s_gates_make (job_t *job, size_t count)
{
    job->gates = calloc (count, sizeof *job->gates);
    assert (job->gates);
    job->gate_count = count;
    for (size_t i = 0; i < count; i++) {
        job->gates [i].job = job;
        job->gates [i].timer = -1;
    }
}

//  Parses the request's one CHECK ("check") into the job.
static int
s_job_check (job_t *job, const msgpack_object *check, flot_err_t *err)
{
    job->checks = calloc (1, sizeof *job->checks);
    assert (job->checks);
    job->checks [0] = flot_check_new (check, "check", err);
    if (!job->checks [0])
        return -1;
    job->check_count = 1;
    return 0;
}

//  Parses the request's CHECKs ("checks", 1..64 maps) into the job.
static int
s_job_checks (job_t *job, const flot_array_t *checks, flot_err_t *err)
{
    msgpack_object list = { .type = MSGPACK_OBJECT_ARRAY };
    list.via.array.size = (uint32_t) checks->count;
    list.via.array.ptr = checks->items;
    job->checks = flot_checks_new (&list, "checks", MAX_CHECKS, &job->check_count, err);
    return job->checks ? 0 : -1;
}

//  Every command probe of the job names a program of the hooks directory.
static int
s_job_commands_allowed (job_t *job, const char *list, flot_err_t *err)
{
    for (size_t k = 0; k < job->check_count; k++) {
        const flot_check_t *check = job->checks [k];
        char path [2048], why [256];
        if (check->kind == FLOT_CHECK_COMMAND
        &&  flot_hook_resolve (job->health->hooks_dir, check->command, &flot_hook_kind_probe,
                               path, sizeof path, why, sizeof why)) {
            if (list)
                return flot_err_set (err, FLOT_E_INVALID, "%s[%zu].command.command: %s",
                                     list, k, why);
            return flot_err_set (err, FLOT_E_INVALID, "check.command.command: %s", why);
        }
    }
    return 0;
}

//  Keeps count contexts for the job's probes: a monitor outlives its
//  request, whose body holds the decoded contexts, so the job copies them.
static int
s_job_contexts (job_t *job, const flot_health_context_t *contexts, size_t count,
                flot_err_t *err)
{
    job->zone = msgpack_zone_new (4096);
    job->context_copies = job->zone
        ? msgpack_zone_malloc (job->zone, count * sizeof *job->context_copies) : NULL;
    if (!job->context_copies)
        return flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
    for (size_t c = 0; c < count; c++)
        if (!(job->context_copies [c] = flot_context_copy (&contexts [c], job->zone)))
            return flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
    job->contexts = count;
    return 0;
}

//  A new job for a request on one target: its checks (check, or else
//  checks) and its context. NULL (request answered) when a check is wrong
//  or too many jobs are open.
static job_t *
s_job_for_target (health_t *self, flot_request_t **request_p, job_kind_t kind,
                  const msgpack_object *check, const flot_array_t *checks,
                  const flot_health_context_t *context)
{
    job_t *job = s_job_new (self, request_p, kind);
    if (!job)
        return NULL;
    flot_err_t err;
    if ((check ? s_job_check (job, check, &err) : s_job_checks (job, checks, &err))
    ||  s_job_commands_allowed (job, check ? NULL : "checks", &err)
    ||  s_job_contexts (job, context, 1, &err)) {
        flot_request_fail (request_p, &err);
        s_job_destroy (&job);
        return NULL;
    }
    snprintf (job->target, sizeof job->target, "%s", context->target);
    return job;
}

//  Gives the job's gates their checks and contexts: gate c * checks + k is
//  context c, check k.
static void
s_gates_assign (job_t *job)
{
    for (size_t c = 0; c < job->contexts; c++)
        for (size_t k = 0; k < job->check_count; k++) {
            gate_t *gate = &job->gates [c * job->check_count + k];
            gate->check = job->checks [k];
            gate->context = job->context_copies [c];
        }
}

//  --------------------------------------------------------------------------
//  Replies

static flot_health_result_t
s_result (const gate_t *gate)
{
    const flot_probe_result_t *r = &gate->result;
    return (flot_health_result_t) {
        .target = gate->context->target,
        .name = gate->check->name,
        .healthy = r->healthy,
        .message = r->message,
        .duration_ms = r->duration_ms,
        .status_code = r->status_code,
        .has_status_code = r->status_code >= 0
    };
}

//  IsReady's answer, or with waited WaitForReady's.
static void
s_reply_ready (job_t *job, bool ready, bool waited)
{
    flot_health_gate_t *gates = calloc (job->gate_count, sizeof *gates);
    assert (gates);
    for (size_t i = 0; i < job->gate_count; i++) {
        const gate_t *gate = &job->gates [i];
        gates [i].name = gate->check->name;
        gates [i].healthy = waited ? gate->ready : gate->result.healthy;
        gates [i].message = gate->probed ? gate->result.message : "not probed yet";
    }
    flot_array_t list = { job->gate_count, gates };
    if (waited) {
        flot_health_wait_for_ready_reply_t reply = {
            .target = job->target, .ready = ready, .gates = list,
            .waited_ms = (uint64_t) (zclock_mono () - job->started)
        };
        flot_request_answer (&job->request, &reply);
    }
    else {
        flot_health_is_ready_reply_t reply = {
            .target = job->target, .ready = ready, .gates = list
        };
        flot_request_answer (&job->request, &reply);
    }
    free (gates);
}

static void
s_batch_answer (job_t *job)
{
    if (streq (job->reply, "IsReady")) {
        bool ready = true;
        for (size_t i = 0; i < job->gate_count; i++)
            ready = ready && job->gates [i].result.healthy;
        s_reply_ready (job, ready, false);
        return;
    }
    if (streq (job->reply, "Check")) {
        flot_health_result_t result = s_result (&job->gates [0]);
        flot_request_answer (&job->request, &result);
        return;
    }
    flot_health_check_batch_reply_t reply = { .results.count = job->gate_count };
    flot_health_result_t *results = calloc (job->gate_count, sizeof *results);
    assert (results);
    for (size_t i = 0; i < job->gate_count; i++)
        results [i] = s_result (&job->gates [i]);
    reply.results.items = results;
    for (size_t c = 0; c < job->contexts; c++) {
        bool all = true;
        for (size_t k = 0; k < job->check_count; k++)
            all = all && job->gates [c * job->check_count + k].result.healthy;
        reply.healthy += all;
    }
    reply.unhealthy = job->contexts - reply.healthy;
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_health_check_batch_reply_def, &reply, &sbuf);
    free (results);
    if (sbuf.size > FLOT_MAX_BODY) {
        msgpack_sbuffer_destroy (&sbuf);
        flot_request_error (&job->request, FLOT_E_TOO_LARGE, "the %zu results take %zu bytes, "
                            "more than an answer may (%d); split the batch",
                            job->gate_count, sbuf.size, FLOT_MAX_BODY);
        return;
    }
    flot_request_reply_sbuf (&job->request, &sbuf);
}

//  --------------------------------------------------------------------------
//  Batches: Check, CheckBatch, IsReady

static void s_batch_pump (job_t *job);

static void
s_batch_result (const flot_probe_result_t *result, void *arg)
{
    gate_t *gate = arg;
    job_t *job = gate->job;
    gate->probe = 0;
    gate->result = *result;
    gate->probed = true;
    job->running--;
    job->done++;
    if (job->done == job->gate_count) {
        s_batch_answer (job);
        s_job_destroy (&job);
    }
    else
        s_batch_pump (job);
}

static void
s_batch_pump (job_t *job)
{
    while (job->running < job->concurrency && job->next < job->gate_count) {
        gate_t *gate = &job->gates [job->next++];
        job->running++;
        gate->probe = flot_prober_start (job->health->prober, gate->check, gate->context,
                                         s_batch_result, gate);
    }
}

//  The request's deadline passed: the broker has told the caller already.
static void
s_batch_expire (void *arg)
{
    job_t *job = arg;
    job->deadline = -1;
    flot_request_error (&job->request, FLOT_E_DEADLINE, "%zu of %zu probes had not ended "
                        "by the request's deadline", job->gate_count - job->done,
                        job->gate_count);
    s_job_destroy (&job);
}

static void
s_batch_start (job_t *job)
{
    int64_t left = flot_request_deadline (job->request) - zclock_mono ();
    job->deadline = s_timer_start (job->health, left, s_batch_expire, job);
    s_batch_pump (job);
}

static void
s_check (flot_actor_t *actor, flot_request_t *request)
{
    health_t *self = flot_actor_state (actor);
    const flot_health_check_request_t *args = flot_request_args (request);
    job_t *job = s_job_for_target (self, &request, JOB_BATCH, args->check, NULL,
                                   args->context);
    if (!job)
        return;
    job->request = request;
    job->reply = "Check";
    job->concurrency = 1;
    s_gates_make (job, 1);
    s_gates_assign (job);
    s_batch_start (job);
}

static void
s_check_batch (flot_actor_t *actor, flot_request_t *request)
{
    health_t *self = flot_actor_state (actor);
    const flot_health_check_batch_request_t *args = flot_request_args (request);
    job_t *job = s_job_new (self, &request, JOB_BATCH);
    if (!job)
        return;
    flot_err_t err;
    size_t count = args->contexts.count;
    if (s_job_checks (job, &args->checks, &err)
    ||  s_job_commands_allowed (job, "checks", &err))
        goto fail;
    if (count * job->check_count > MAX_BATCH) {
        flot_err_set (&err, FLOT_E_INVALID, "contexts: %zu contexts x %zu checks is more "
                      "than %d probes; split the batch", count, job->check_count, MAX_BATCH);
        goto fail;
    }
    if (s_job_contexts (job, args->contexts.items, count, &err))
        goto fail;
    job->request = request;
    job->reply = "CheckBatch";
    job->concurrency = (size_t) args->concurrency;
    s_gates_make (job, count * job->check_count);
    s_gates_assign (job);
    s_batch_start (job);
    return;
fail:
    flot_request_fail (&request, &err);
    s_job_destroy (&job);
}

static void
s_is_ready (flot_actor_t *actor, flot_request_t *request)
{
    health_t *self = flot_actor_state (actor);
    const flot_health_is_ready_request_t *args = flot_request_args (request);
    job_t *job = s_job_for_target (self, &request, JOB_BATCH, NULL, &args->checks,
                                   args->context);
    if (!job)
        return;
    job->request = request;
    job->reply = "IsReady";
    job->concurrency = job->check_count;
    s_gates_make (job, job->check_count);
    s_gates_assign (job);
    s_batch_start (job);
}

//  --------------------------------------------------------------------------
//  Watches: StartMonitoring (a stream) and WaitForReady (a request)

static void s_gate_probe (void *arg);

static void
s_monitor_send (job_t *job, const gate_t *gate)
{
    flot_health_start_monitoring_stream_t message = {
        .target = job->target,
        .healthy = job->status == 1,
        .check = gate->check->name,
        .message = gate->result.message,
        .since_ms = (uint64_t) zclock_time (),
        .successes = gate->successes,
        .failures = gate->failures
    };
    flot_stream_push (job->health->actor, job->stream, &message);
    flot_info (WHO, "%s is %s (%s)", job->target, job->status == 1 ? "healthy" : "unhealthy",
               gate->result.message);
}

//  After a result of gate: decide. Returns false if the job is gone.
static bool
s_watch_decide (job_t *job, gate_t *gate)
{
    bool all_ready = true;
    for (size_t i = 0; i < job->gate_count; i++)
        all_ready = all_ready && job->gates [i].ready;
    if (job->kind == JOB_WAIT) {
        if (all_ready) {
            s_reply_ready (job, true, true);
            s_job_destroy (&job);
            return false;
        }
        return true;
    }
    if (job->status != 1 && all_ready) {
        job->status = 1;
        s_monitor_send (job, gate);
    }
    else
    if (job->status != 0 && gate->failures >= gate->check->failure_threshold) {
        job->status = 0;
        s_monitor_send (job, gate);
    }
    return true;
}

static void
s_gate_result (const flot_probe_result_t *result, void *arg)
{
    gate_t *gate = arg;
    job_t *job = gate->job;
    gate->probe = 0;
    gate->result = *result;
    gate->probed = true;
    if (result->healthy) {
        gate->successes++;
        gate->failures = 0;
    }
    else {
        gate->failures++;
        gate->successes = 0;
    }
    bool ready = gate->successes >= gate->check->success_threshold;
    if (ready != gate->ready || !gate->since_ms)
        gate->since_ms = zclock_time ();
    gate->ready = ready;
    if (s_watch_decide (job, gate)) {
        //  Every period from the start of the last probe; at once if it
        //  took longer.
        int64_t next = gate->probe_started + gate->check->period_ms - zclock_mono ();
        gate->timer = s_timer_start (job->health, next, s_gate_probe, gate);
    }
}

static void
s_gate_probe (void *arg)
{
    gate_t *gate = arg;
    gate->timer = -1;
    gate->probe_started = zclock_mono ();
    gate->probe = flot_prober_start (gate->job->health->prober, gate->check, gate->context,
                                     s_gate_result, gate);
}

static void
s_watch_start (job_t *job)
{
    s_gates_make (job, job->check_count);
    s_gates_assign (job);
    for (size_t k = 0; k < job->check_count; k++) {
        gate_t *gate = &job->gates [k];
        gate->timer = s_timer_start (job->health, gate->check->initial_delay_ms,
                                     s_gate_probe, gate);
    }
}

static void
s_monitor_cancelled (flot_actor_t *actor, flot_stream_t *stream, void *arg)
{
    (void) actor;
    (void) stream;
    job_t *job = arg;
    flot_info (WHO, "monitoring of %s cancelled: its caller is gone", job->target);
    s_job_destroy (&job);
}

static void
s_start_monitoring (flot_actor_t *actor, flot_request_t *request)
{
    health_t *self = flot_actor_state (actor);
    const flot_health_start_monitoring_request_t *args = flot_request_args (request);
    job_t *job = s_job_for_target (self, &request, JOB_MONITOR, NULL, &args->checks,
                                   args->context);
    if (!job)
        return;
    job->stream = flot_request_open_stream (request, s_monitor_cancelled, job);
    if (!job->stream) {
        flot_request_error (&request, FLOT_E_INTERNAL, "cannot open a stream");
        s_job_destroy (&job);
        return;
    }
    flot_health_start_monitoring_reply_t reply = { .stream = flot_stream_id (job->stream) };
    flot_request_answer (&request, &reply);
    s_watch_start (job);
}

static void
s_stop_monitoring (flot_actor_t *actor, flot_request_t *request)
{
    health_t *self = flot_actor_state (actor);
    const flot_health_stop_monitoring_request_t *args = flot_request_args (request);
    flot_stream_t *stream = flot_actor_find_stream (actor, request, args->stream);
    job_t *job = NULL;
    for (job_t *j = zlistx_first (self->jobs); j && stream; j = zlistx_next (self->jobs))
        if (j->kind == JOB_MONITOR && j->stream == stream)
            job = j;
    if (!job) {
        flot_request_error (&request, FLOT_E_NOT_FOUND, "no monitoring stream %llu of yours "
                            "is open", (unsigned long long) args->stream);
        return;
    }
    flot_health_stop_monitoring_reply_t reply = { .stopped = true };
    flot_request_answer (&request, &reply);
    flot_stream_finish (actor, &job->stream, NULL);
    s_job_destroy (&job);
}

static void
s_wait_expire (void *arg)
{
    job_t *job = arg;
    job->deadline = -1;
    s_reply_ready (job, false, true);
    s_job_destroy (&job);
}

static void
s_wait_for_ready (flot_actor_t *actor, flot_request_t *request)
{
    health_t *self = flot_actor_state (actor);
    const flot_health_wait_for_ready_request_t *args = flot_request_args (request);
    int64_t timeout = (int64_t) args->timeout_ms;
    job_t *job = s_job_for_target (self, &request, JOB_WAIT, NULL, &args->checks,
                                   args->context);
    if (!job)
        return;
    job->request = request;
    //  At timeout_ms, or just before the request's deadline.
    int64_t left = flot_request_deadline (request) - zclock_mono () - DEADLINE_MARGIN_MS;
    job->deadline = s_timer_start (self, timeout < left ? timeout : left, s_wait_expire, job);
    s_watch_start (job);
}

static void
s_get_readiness_gates (flot_actor_t *actor, flot_request_t *request)
{
    health_t *self = flot_actor_state (actor);
    const flot_health_get_readiness_gates_request_t *args = flot_request_args (request);
    const char *target = args->target && *args->target ? args->target : NULL;
    size_t count = 0;
    for (job_t *job = zlistx_first (self->jobs); job; job = zlistx_next (self->jobs))
        if (job->kind != JOB_BATCH && (!target || streq (target, job->target)))
            count += job->gate_count;
    flot_health_gate_state_t *gates = calloc (count ? count : 1, sizeof *gates);
    assert (gates);
    size_t n = 0;
    for (job_t *job = zlistx_first (self->jobs); job; job = zlistx_next (self->jobs)) {
        if (job->kind == JOB_BATCH || (target && !streq (target, job->target)))
            continue;
        for (size_t i = 0; i < job->gate_count; i++) {
            const gate_t *gate = &job->gates [i];
            gates [n++] = (flot_health_gate_state_t) {
                .target = job->target,
                .name = gate->check->name,
                .kind = flot_check_kind_name (gate->check->kind),
                .ready = gate->ready,
                .message = gate->probed ? gate->result.message : "not probed yet",
                .since_ms = (uint64_t) gate->since_ms
            };
        }
    }
    flot_health_get_readiness_gates_reply_t reply = { .gates = { count, gates } };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_health_get_readiness_gates_reply_def, &reply, &sbuf);
    free (gates);
    if (sbuf.size > FLOT_MAX_BODY) {
        msgpack_sbuffer_destroy (&sbuf);
        flot_request_error (&request, FLOT_E_TOO_LARGE, "too many gates for one answer; "
                            "name a target");
        return;
    }
    flot_request_reply_sbuf (&request, &sbuf);
}

//  --------------------------------------------------------------------------
//  Life cycle

static int
s_start (flot_actor_t *actor)
{
    //  A thousand probes at once need a thousand descriptors.
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit (RLIMIT_NOFILE, &limit))
            flot_warn (WHO, "cannot raise the open file limit: %s", strerror (errno));
    }
    health_t *self = calloc (1, sizeof *self);
    assert (self);
    self->actor = actor;
    const char *dir = flot_actor_option (actor, "hooks-dir", NULL);
    if (flot_hook_dir (dir, self->hooks_dir, sizeof self->hooks_dir))
        flot_warn (WHO, "the hooks directory '%.200s' cannot be made absolute: "
                   "no command probe runs", dir);
    char why [512];
    if (flot_hook_dir_check (self->hooks_dir, why, sizeof why))
        flot_warn (WHO, "%s: no command probe runs until that is fixed", why);
    self->prober = flot_prober_new (flot_actor_loop (actor), self->hooks_dir);
    if (!self->prober) {
        free (self);
        return -1;
    }
    self->jobs = zlistx_new ();
    self->timers = zhashx_new ();
    zhashx_set_destructor (self->timers, s_timer_free);
    flot_actor_set_state (actor, self);
    return 0;
}

static void
s_stop (flot_actor_t *actor)
{
    health_t *self = flot_actor_state (actor);
    //  Open requests and streams are answered and ended by the host.
    job_t *job;
    while ((job = zlistx_first (self->jobs)))
        s_job_destroy (&job);
    flot_prober_destroy (&self->prober);
    zlistx_destroy (&self->jobs);
    zhashx_destroy (&self->timers);
    free (self);
}

static const flot_command_t s_commands [] = {
    { "Check", s_check },
    { "CheckBatch", s_check_batch },
    { "StartMonitoring", s_start_monitoring },
    { "StopMonitoring", s_stop_monitoring },
    { "IsReady", s_is_ready },
    { "WaitForReady", s_wait_for_ready },
    { "GetReadinessGates", s_get_readiness_gates },
    { NULL, NULL }
};

const flot_actor_def_t flot_health_actor = {
    .service = "health",
    .contract = &flot_health_contract,
    .commands = s_commands,
    .start = s_start,
    .stop = s_stop
};
