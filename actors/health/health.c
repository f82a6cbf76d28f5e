/*  health.c - the health actor (service "health").

    Probes targets for the coordinator and for operators: Check (one check,
    one target), CheckBatch (checks x targets, a bounded number at once),
    StartMonitoring/StopMonitoring (a stream of a target's status changes,
    Kubernetes probe semantics), and readiness gates (IsReady, WaitForReady,
    GetReadinessGates). Probes run in the prober (prober.c) from this actor's
    loop, so one actor runs thousands at once and never blocks. Every job
    keeps its own copy of its request body, which its checks and contexts
    point into.
*/
#include "flotilla/health.h"
#include "flotilla/log.h"

#include <sys/resource.h>

#define WHO "health"
#define MAX_CHECKS          64          //  checks in one request
#define MAX_BATCH           4096        //  checks x contexts in one CheckBatch
#define MAX_JOBS            4096        //  requests and streams open at once
#define DEFAULT_CONCURRENCY 64
#define MAX_CONCURRENCY     1024
#define DEADLINE_MARGIN_MS  100         //  answer this much before the deadline

typedef struct _health_t health_t;
typedef struct _job_t job_t;

typedef enum { JOB_BATCH, JOB_MONITOR, JOB_WAIT } job_kind_t;

//  One check for one target: a probe slot of a batch, or a gate of a watch.
typedef struct {
    job_t *job;
    const flot_check_t *check;
    const msgpack_object *context;
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
    flot_body_t *body;          //  our copy of the request body
    flot_check_t **checks;
    size_t check_count;
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

//  A timer of the actor: zloop calls back with the actor, and the entry is
//  looked up by id, so a timer ended earlier in the same loop round finds
//  nothing instead of a freed job.
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
};

//  --------------------------------------------------------------------------
//  Timers

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
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
    int id = zloop_timer (flot_actor_loop (self->actor), (size_t) delay_ms, 1, s_on_timer, self);
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
    zloop_timer_end (flot_actor_loop (self->actor), *id);
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
    flot_body_destroy (&job->body);
    if (job->handle)
        zlistx_detach (self->jobs, job->handle);
    free (job);
    *job_p = NULL;
}

//  A new job with its own copy of the request's body. NULL (request
//  answered) when too many are open.
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
    size_t size;
    const void *bytes = flot_request_body_bytes (*request_p, &size);
    flot_err_t err;
    job->body = flot_body_decode (bytes, size, &err);
    if (!job->body) {
        free (job);
        flot_request_fail (request_p, &err);
        return NULL;
    }
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

//  A CONTEXT: a map with a target and optional strings and labels.
static int
s_context_check (const msgpack_object *obj, const char *path, flot_err_t *err)
{
    if (obj->type != MSGPACK_OBJECT_MAP)
        return flot_err_set (err, FLOT_E_INVALID, "%s: is not a map", path);
    char value [256];
    bool target = false;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object *key = &obj->via.map.ptr [i].key;
        const msgpack_object *val = &obj->via.map.ptr [i].val;
        char name [32];
        if (flot_obj_str (key, name, sizeof name))
            return flot_err_set (err, FLOT_E_INVALID, "%s: has a key that is not a short "
                                 "string", path);
        if (streq (name, "labels")) {
            if (val->type != MSGPACK_OBJECT_MAP)
                return flot_err_set (err, FLOT_E_INVALID, "%s.labels: is not a map", path);
            for (uint32_t l = 0; l < val->via.map.size; l++) {
                char label [256];
                if (flot_obj_str (&val->via.map.ptr [l].key, label, sizeof label))
                    return flot_err_set (err, FLOT_E_INVALID, "%s.labels: has a key that is "
                                         "not a string of at most 255 bytes", path);
                if (flot_obj_str (&val->via.map.ptr [l].val, value, sizeof value))
                    return flot_err_set (err, FLOT_E_INVALID, "%s.labels.%s: is not a string "
                                         "of at most 255 bytes", path, label);
            }
        }
        else
        if (streq (name, "target") || streq (name, "address") || streq (name, "version")
        ||  streq (name, "previousVersion") || streq (name, "deployment")) {
            if (flot_obj_str (val, value, sizeof value))
                return flot_err_set (err, FLOT_E_INVALID, "%s.%s: is not a string of at "
                                     "most 255 bytes", path, name);
            if (streq (name, "target")) {
                if (!*value)
                    return flot_err_set (err, FLOT_E_INVALID, "%s.target: is empty", path);
                target = true;
            }
        }
        else
            return flot_err_set (err, FLOT_E_INVALID, "%s.%s: is not a field of a context "
                                 "(target, address, version, previousVersion, deployment, "
                                 "labels)", path, name);
    }
    if (!target)
        return flot_err_set (err, FLOT_E_INVALID, "%s.target: is required", path);
    return 0;
}

static const char *
s_target_of (const msgpack_object *context, char *buf, size_t cap)
{
    flot_err_t err;
    if (flot_map_str (context, "target", true, buf, cap, &err) <= 0)
        *buf = 0;
    return buf;
}

//  Reads a field that must be present, with its path in the error.
static const msgpack_object *
s_field (const msgpack_object *body, const char *key, flot_err_t *err)
{
    const msgpack_object *obj = flot_map_get (body, key);
    if (!obj || obj->type == MSGPACK_OBJECT_NIL)
        flot_err_set (err, FLOT_E_INVALID, "%s: is required", key);
    return obj && obj->type != MSGPACK_OBJECT_NIL ? obj : NULL;
}

//  Reads "checks" (a list) or, with single, "check" (one) into the job.
static int
s_read_checks (job_t *job, bool single, flot_err_t *err)
{
    const msgpack_object *body = flot_body_root (job->body);
    const msgpack_object *obj = s_field (body, single ? "check" : "checks", err);
    if (!obj)
        return -1;
    if (single) {
        job->checks = calloc (1, sizeof *job->checks);
        assert (job->checks);
        job->checks [0] = flot_check_new (obj, "check", err);
        if (!job->checks [0])
            return -1;
        job->check_count = 1;
        return 0;
    }
    job->checks = flot_checks_new (obj, "checks", MAX_CHECKS, &job->check_count, err);
    return job->checks ? 0 : -1;
}

//  Reads "context" into job->target; returns it, or NULL with err.
static const msgpack_object *
s_read_context (job_t *job, flot_err_t *err)
{
    const msgpack_object *context = s_field (flot_body_root (job->body), "context", err);
    if (!context || s_context_check (context, "context", err))
        return NULL;
    s_target_of (context, job->target, sizeof job->target);
    return context;
}

//  A new job for a request on one target: its checks ("check" with single,
//  else "checks") and its context, into *context. NULL (request answered)
//  when the body is wrong or too many jobs are open.
static job_t *
s_job_for_target (health_t *self, flot_request_t **request_p, job_kind_t kind,
                  bool single, const msgpack_object **context)
{
    job_t *job = s_job_new (self, request_p, kind);
    if (!job)
        return NULL;
    flot_err_t err;
    if (s_read_checks (job, single, &err) || !(*context = s_read_context (job, &err))) {
        flot_request_fail (request_p, &err);
        s_job_destroy (&job);
    }
    return job;
}

//  --------------------------------------------------------------------------
//  Replies

static void
s_pack_result (msgpack_packer *pk, const gate_t *gate)
{
    char target [256];
    const flot_probe_result_t *r = &gate->result;
    msgpack_pack_map (pk, r->status_code >= 0 ? 6 : 5);
    flot_pack_kv_str (pk, "target", s_target_of (gate->context, target, sizeof target));
    flot_pack_kv_str (pk, "name", gate->check->name);
    flot_pack_kv_bool (pk, "healthy", r->healthy);
    flot_pack_kv_str (pk, "message", r->message);
    flot_pack_kv_uint (pk, "duration_ms", r->duration_ms);
    if (r->status_code >= 0)
        flot_pack_kv_int (pk, "status_code", r->status_code);
}

//  {"target", "ready", "gates": [{"name", "healthy", "message"}]} and
//  extra fields (waited_ms) for WaitForReady.
static void
s_reply_ready (job_t *job, bool ready, bool waited)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, waited ? 4 : 3);
    flot_pack_kv_str (&pk, "target", job->target);
    flot_pack_kv_bool (&pk, "ready", ready);
    if (waited)
        flot_pack_kv_uint (&pk, "waited_ms", (uint64_t) (zclock_mono () - job->started));
    flot_pack_str (&pk, "gates");
    msgpack_pack_array (&pk, (uint32_t) job->gate_count);
    for (size_t i = 0; i < job->gate_count; i++) {
        const gate_t *gate = &job->gates [i];
        msgpack_pack_map (&pk, 3);
        flot_pack_kv_str (&pk, "name", gate->check->name);
        flot_pack_kv_bool (&pk, "healthy", waited ? gate->ready : gate->result.healthy);
        flot_pack_kv_str (&pk, "message", gate->probed ? gate->result.message
                                                       : "not probed yet");
    }
    flot_request_reply_sbuf (&job->request, &sbuf);
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
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    if (streq (job->reply, "Check"))
        s_pack_result (&pk, &job->gates [0]);
    else {
        uint64_t healthy = 0;
        for (size_t c = 0; c < job->contexts; c++) {
            bool all = true;
            for (size_t k = 0; k < job->check_count; k++)
                all = all && job->gates [c * job->check_count + k].result.healthy;
            healthy += all;
        }
        msgpack_pack_map (&pk, 3);
        flot_pack_str (&pk, "results");
        msgpack_pack_array (&pk, (uint32_t) job->gate_count);
        for (size_t i = 0; i < job->gate_count; i++)
            s_pack_result (&pk, &job->gates [i]);
        flot_pack_kv_uint (&pk, "healthy", healthy);
        flot_pack_kv_uint (&pk, "unhealthy", job->contexts - healthy);
    }
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
    const msgpack_object *context;
    job_t *job = s_job_for_target (self, &request, JOB_BATCH, true, &context);
    if (!job)
        return;
    job->request = request;
    job->reply = "Check";
    job->concurrency = job->contexts = 1;
    s_gates_make (job, 1);
    job->gates [0].check = job->checks [0];
    job->gates [0].context = context;
    s_batch_start (job);
}

static void
s_check_batch (flot_actor_t *actor, flot_request_t *request)
{
    health_t *self = flot_actor_state (actor);
    job_t *job = s_job_new (self, &request, JOB_BATCH);
    if (!job)
        return;
    flot_err_t err;
    const msgpack_object *body = flot_body_root (job->body), *contexts;
    uint64_t concurrency = DEFAULT_CONCURRENCY;
    if (s_read_checks (job, false, &err)
    ||  flot_map_uint (body, "concurrency", false, 1, MAX_CONCURRENCY, &concurrency, &err) < 0
    ||  !(contexts = s_field (body, "contexts", &err)))
        goto fail;
    if (contexts->type != MSGPACK_OBJECT_ARRAY || contexts->via.array.size == 0) {
        flot_err_set (&err, FLOT_E_INVALID, "contexts: is not a list of 1 or more contexts");
        goto fail;
    }
    size_t count = contexts->via.array.size;
    if (count * job->check_count > MAX_BATCH) {
        flot_err_set (&err, FLOT_E_INVALID, "contexts: %zu contexts x %zu checks is more "
                      "than %d probes; split the batch", count, job->check_count, MAX_BATCH);
        goto fail;
    }
    for (size_t c = 0; c < count; c++) {
        char path [32];
        snprintf (path, sizeof path, "contexts[%zu]", c);
        if (s_context_check (&contexts->via.array.ptr [c], path, &err))
            goto fail;
    }
    job->request = request;
    job->reply = "CheckBatch";
    job->concurrency = (size_t) concurrency;
    job->contexts = count;
    s_gates_make (job, count * job->check_count);
    for (size_t c = 0; c < count; c++)
        for (size_t k = 0; k < job->check_count; k++) {
            gate_t *gate = &job->gates [c * job->check_count + k];
            gate->check = job->checks [k];
            gate->context = &contexts->via.array.ptr [c];
        }
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
    const msgpack_object *context;
    job_t *job = s_job_for_target (self, &request, JOB_BATCH, false, &context);
    if (!job)
        return;
    job->request = request;
    job->reply = "IsReady";
    job->contexts = 1;
    job->concurrency = job->check_count;
    s_gates_make (job, job->check_count);
    for (size_t k = 0; k < job->check_count; k++) {
        job->gates [k].check = job->checks [k];
        job->gates [k].context = context;
    }
    s_batch_start (job);
}

//  --------------------------------------------------------------------------
//  Watches: StartMonitoring (a stream) and WaitForReady (a request)

static void s_gate_probe (void *arg);

static void
s_monitor_send (job_t *job, const gate_t *gate)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 7);
    flot_pack_kv_str (&pk, "target", job->target);
    flot_pack_kv_bool (&pk, "healthy", job->status == 1);
    flot_pack_kv_str (&pk, "check", gate->check->name);
    flot_pack_kv_str (&pk, "message", gate->result.message);
    flot_pack_kv_uint (&pk, "since_ms", (uint64_t) zclock_time ());
    flot_pack_kv_uint (&pk, "successes", gate->successes);
    flot_pack_kv_uint (&pk, "failures", gate->failures);
    flot_stream_send (job->health->actor, job->stream, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
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
s_watch_start (job_t *job, const msgpack_object *context)
{
    s_gates_make (job, job->check_count);
    for (size_t k = 0; k < job->check_count; k++) {
        gate_t *gate = &job->gates [k];
        gate->check = job->checks [k];
        gate->context = context;
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
    const msgpack_object *context;
    job_t *job = s_job_for_target (self, &request, JOB_MONITOR, false, &context);
    if (!job)
        return;
    job->stream = flot_request_open_stream (request, s_monitor_cancelled, job);
    if (!job->stream) {
        flot_request_error (&request, FLOT_E_INTERNAL, "cannot open a stream");
        s_job_destroy (&job);
        return;
    }
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 1);
    flot_pack_kv_uint (&pk, "stream", flot_stream_id (job->stream));
    flot_request_reply_sbuf (&request, &sbuf);
    s_watch_start (job, context);
}

static void
s_stop_monitoring (flot_actor_t *actor, flot_request_t *request)
{
    health_t *self = flot_actor_state (actor);
    uint64_t id = 0;
    flot_err_t err;
    if (flot_map_uint (flot_request_body (request), "stream", true, 1, UINT64_MAX,
                       &id, &err) < 0) {
        flot_request_fail (&request, &err);
        return;
    }
    flot_stream_t *stream = flot_actor_find_stream (actor, request, id);
    job_t *job = NULL;
    for (job_t *j = zlistx_first (self->jobs); j && stream; j = zlistx_next (self->jobs))
        if (j->kind == JOB_MONITOR && j->stream == stream)
            job = j;
    if (!job) {
        flot_request_error (&request, FLOT_E_NOT_FOUND, "no monitoring stream %llu of yours "
                            "is open", (unsigned long long) id);
        return;
    }
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 1);
    flot_pack_kv_bool (&pk, "stopped", true);
    flot_request_reply_sbuf (&request, &sbuf);
    flot_stream_end (actor, &job->stream, NULL, 0);
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
    job_t *job = s_job_new (self, &request, JOB_WAIT);
    if (!job)
        return;
    flot_err_t err;
    const msgpack_object *context;
    uint64_t timeout = 0;
    if (s_read_checks (job, false, &err) || !(context = s_read_context (job, &err))
    ||  flot_map_uint (flot_body_root (job->body), "timeout_ms", true, 1, FLOT_MAX_TIMEOUT_MS,
                       &timeout, &err) < 0) {
        flot_request_fail (&request, &err);
        s_job_destroy (&job);
        return;
    }
    job->request = request;
    //  At timeout_ms, or just before the request's deadline.
    int64_t left = flot_request_deadline (request) - zclock_mono () - DEADLINE_MARGIN_MS;
    int64_t wait = (int64_t) timeout < left ? (int64_t) timeout : left;
    job->deadline = s_timer_start (self, wait, s_wait_expire, job);
    s_watch_start (job, context);
}

static void
s_get_readiness_gates (flot_actor_t *actor, flot_request_t *request)
{
    health_t *self = flot_actor_state (actor);
    char target [256] = "";
    flot_err_t err;
    if (flot_map_str (flot_request_body (request), "target", false, target, sizeof target,
                      &err) < 0) {
        flot_request_fail (&request, &err);
        return;
    }
    uint32_t count = 0;
    for (job_t *job = zlistx_first (self->jobs); job; job = zlistx_next (self->jobs))
        if (job->kind != JOB_BATCH && (!*target || streq (target, job->target)))
            count += (uint32_t) job->gate_count;
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 1);
    flot_pack_str (&pk, "gates");
    msgpack_pack_array (&pk, count);
    for (job_t *job = zlistx_first (self->jobs); job; job = zlistx_next (self->jobs)) {
        if (job->kind == JOB_BATCH || (*target && !streq (target, job->target)))
            continue;
        for (size_t i = 0; i < job->gate_count; i++) {
            const gate_t *gate = &job->gates [i];
            msgpack_pack_map (&pk, 6);
            flot_pack_kv_str (&pk, "target", job->target);
            flot_pack_kv_str (&pk, "name", gate->check->name);
            flot_pack_kv_str (&pk, "kind", flot_check_kind_name (gate->check->kind));
            flot_pack_kv_bool (&pk, "ready", gate->ready);
            flot_pack_kv_str (&pk, "message", gate->probed ? gate->result.message
                                                           : "not probed yet");
            flot_pack_kv_uint (&pk, "since_ms", (uint64_t) gate->since_ms);
        }
    }
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
    self->prober = flot_prober_new (flot_actor_loop (actor));
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
    .commands = s_commands,
    .start = s_start,
    .stop = s_stop
};
