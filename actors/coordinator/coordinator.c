/*  coordinator.c - the coordinator actor (service "coordinator").

    Owns the deployments: for each, the RESOLVED deployment the strategy
    service read from its spec (common/resolved.c: targets, hook, policy,
    steps; it never reads a spec itself), the state of every target and
    step (transitions.c: the moves between states, as tables), and the
    durable record of all of it (store.c). A
    deployment runs targets in dependency order, at most maxConcurrency at
    once, each through its steps: hooks go to the executor service (routed
    by target), pauses and soaks are timers, a pause without a duration
    waits for a promote; gates ask the health and analyzer services, and
    the rollback service decides from what they say. The strategy service
    decides what a failed step leads to (HandleFailure: a retry, or the
    policy) and whether a timed pause is over (ShouldPromote), and a step
    waits while it cannot answer (SPEC section 16.2); a
    deployment that fails or is aborted is rolled back by the rollback
    service, in reverse dependency order, its progress recorded here step
    by step. Every change is
    written to the store, with its event in the outbox, before it is acted
    on; the outbox is published through the events service in order. On
    start, unfinished deployments are loaded and go on: finished steps are
    not run again, and an interrupted step runs again under its step id.

    Writes are grouped: the changes made while the actor's loop handles a
    batch of messages and timers go into one store transaction, committed
    at the next turn of the loop (s_flush), with each changed deployment's
    row written once. What acts on those changes (a hook sent to the
    executor, an answer to a request, an event published) is held until
    that commit, so nothing outside ever sees a change the store could
    still lose.
*/
#include "coordinator.h"
#include "flotilla/contract_coordinator.h"
#include "flotilla/contract_analyzer.h"
#include "flotilla/contract_health.h"
#include "flotilla/contract_rollback.h"
#include "flotilla/contract_events.h"
#include "flotilla/log.h"
#include "flotilla/plan.h"
#include "flotilla/step_call.h"
#include "flotilla/contract_strategy.h"
#include "flotilla/resolved.h"
#include "store.h"
#include "transitions.h"

#define WHO "coordinator"
#define OUTBOX_RETRY_MS 500
#define OUTBOX_READ 256         //  waiting events read from the store, and sent, at once
#define GATE_RETRY_MS 2000      //  asking a service again that could not answer
#define DECISION_TIMEOUT_MS 5000    //  the strategy service's HandleFailure
#define STRATEGY_TIMEOUT_MS 30000   //  reading a spec of 10,000 targets takes a while
#define MAX_TIMER_MS (30LL * 86400000)  //  the longest duration a contract allows
#define DEADLINE_MARGIN_MS 200      //  to answer a caller before its deadline

typedef struct _coordinator_t coordinator_t;
typedef struct _deployment_t deployment_t;

//  The runtime of one step, forward or rollback.
typedef struct {
    int state;
    int attempt;
    int64_t started_ms;         //  unix ms, 0 if never
    int64_t finished_ms;
    uint64_t call;              //  the executor call in flight, 0 if none
    int timer;                  //  a pause, soak, delay or backoff; -1 if none
    void *timer_arg;            //  the timer's argument, freed if it is cancelled
    uint64_t gate_call;         //  a gate's health wait or analysis, 0 if none
    void *gate_arg;             //  its argument
    bool gate_stream;           //  gate_call is an analysis stream
    bool gate_waiting;          //  the gate waits for a promote (a person decides)
    void *decision;             //  failed: its decision_t while HandleFailure is asked
} step_rt_t;

//  The runtime of one target beyond its steps: health and analysis.
typedef struct {
    uint64_t monitor;           //  the health monitoring stream, 0 if none
    void *monitor_arg;
    int health;                 //  0 unknown, 1 healthy, 2 unhealthy
    char *health_message;
    void *analysis;             //  the latest analysis result (msgpack), or NULL
    size_t analysis_size;
    char *pending_failure;      //  a check failed it while a hook ran: why
    uint64_t background;        //  its background analysis stream, 0 if none
    void *background_arg;
    bool background_ran;        //  started once already
} target_rt_t;

struct _deployment_t {
    coordinator_t *owner;
    char id [FLOT_STORE_ID_MAX];
    char *text;                 //  its spec's text, until written to the store
    char *file;
    char cwd [1024];
    void *resolved;             //  strategy.RESOLVED bytes: what it runs on
    size_t resolved_size;
    flot_spec_t *spec;
    flot_plan_t *plan;
    flot_plan_t *back;          //  the rollback plan, once rolling back
    step_rt_t *steps;
    step_rt_t *back_steps;
    int *tstate;
    target_rt_t *trt;
    size_t *cursor;             //  per target: its current step (absolute index)
    int *deps_left;             //  per target: dependencies not done
    size_t *rev_first;          //  dependents of t: rev [rev_first [t] .. rev_first [t+1])
    int *rev;
    int *wave_left;             //  per wave: targets not done
    int waves_done;             //  leading waves wholly done
    size_t in_progress;
    size_t steps_done;
    int failed_targets;
    int hooks_in_flight;        //  forward hooks running (rollback waits for them)
    int state;
    bool paused;
    bool promote_full;
    bool aborted;
    int64_t created_ms, updated_ms, finished_ms, progress_ms;
    char last_error [512];
    bool dirty;                 //  its row is to be written at the next flush
    bool spec_written;          //  its spec is in the store (written once)
    bool background;            //  the analysis runs in the background, not at gates
    uint64_t rollback_call;     //  the rollback service's stream, 0 if none
    int rollback_timer;         //  asks the rollback service again; -1 if none
};

struct _coordinator_t {
    flot_actor_t *actor;
    flot_store_t *store;
    zhashx_t *deployments;      //  id -> deployment_t
    zlistx_t *listed;           //  deployment_t *, oldest first: List's order
    bool publishing;            //  a batch of outbox events is with the events service
    int64_t publishing_id;      //  the id of its last event
    size_t publishing_count;    //  its events
    int refused;                //  times the events service refused this batch (INVALID)
    int64_t singly_until;       //  after a refused batch, events up to this id go one by one
    int64_t published_id;       //  events up to this one are published...
    int64_t removed_id;         //  ...and up to this one gone from the outbox
    zlistx_t *outgoing;         //  outgoing_t *: committed events read ahead, in order
    int64_t read_after;         //  the id of the last one read
    int retry_timer;
    int txn_depth;              //  s_begin .. s_commit nesting
    bool txn_open;              //  a store transaction holds writes not committed
    int flush_timer;            //  commits them at the next loop turn; -1 if none
    zlistx_t *dirty;            //  deployment_t *: rows to write at the flush
    zlistx_t *held;             //  held_t *: actions waiting for the commit
    zlistx_t *timer_refs;       //  step_ref_t *: arguments of step timers
    zlistx_t *gate_refs;        //  gate_ref_t *: arguments of gate calls
    zlistx_t *submits;          //  submit_t *: Plan and Execute requests at the strategy service
    zlistx_t *resolving;        //  resolving_t *: stored deployments being resolved again
    zlistx_t *decisions;        //  decision_t *: failed steps the strategy service decides on
};

//  An event of the outbox, read ahead to be published.
typedef struct {
    int64_t id;
    size_t size;
    uint8_t body [];
} outgoing_t;

//  An action held until the writes it follows from are committed: a hook
//  call to the executor, or an answer (reply or error) to a request.
typedef enum { HELD_HOOK, HELD_REPLY, HELD_ERROR } held_kind_t;

typedef struct {
    held_kind_t kind;
    deployment_t *dep;          //  HELD_HOOK: the step
    size_t s;
    flot_request_t *request;    //  HELD_REPLY, HELD_ERROR
    msgpack_sbuffer body;       //  HELD_HOOK, HELD_REPLY
    int code;                   //  HELD_ERROR
    char message [256];
} held_t;

static void s_advance (deployment_t *dep);
static void s_step_start (deployment_t *dep, size_t s);
static void s_gates_stop (deployment_t *dep);
static void s_watch_stop (deployment_t *dep, int t);
static flot_answer_t s_unsent (void);
static void s_pause_ask (deployment_t *dep, size_t s);
static void s_step_timer (deployment_t *dep, size_t s, int64_t ms);
static const char *s_on_failure_name (const deployment_t *dep);
static bool s_transient (const flot_answer_t *answer);

//  --------------------------------------------------------------------------
//  Store and events

static int64_t
s_now (void)
{
    return zclock_time ();
}

static void s_flush (coordinator_t *self);

static int
s_on_flush (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coordinator_t *self = arg;
    self->flush_timer = -1;
    s_flush (self);
    return 0;
}

//  Writes that must land together follow s_begin; they join the open
//  transaction, which s_flush commits at the next turn of the loop.
static void
s_begin (coordinator_t *self)
{
    self->txn_depth++;
    if (!self->txn_open) {
        if (flot_store_begin (self->store) == 0)
            self->txn_open = true;
        else
            flot_error (WHO, "%s", flot_store_error (self->store));
    }
    if (self->flush_timer < 0)
        self->flush_timer = zloop_timer (flot_actor_loop (self->actor), 0, 1,
                                         s_on_flush, self);
}

static void
s_commit (coordinator_t *self)
{
    assert (self->txn_depth > 0);
    //  Without a timer (out of memory), commit now, as each change comes.
    if (--self->txn_depth == 0 && self->flush_timer < 0)
        s_flush (self);
}

//  True while writes wait for their commit: what acts on them waits too.
static bool
s_uncommitted (coordinator_t *self)
{
    return self->txn_depth > 0 || self->flush_timer >= 0;
}

static held_t *
s_hold (coordinator_t *self, held_kind_t kind)
{
    held_t *held = calloc (1, sizeof *held);
    assert (held);
    held->kind = kind;
    zlistx_add_end (self->held, held);
    return held;
}

//  Answers a request with sbuf (destroyed), once what it reports is
//  committed.
static void
s_reply (coordinator_t *self, flot_request_t **request_p, msgpack_sbuffer *sbuf)
{
    if (!s_uncommitted (self)) {
        flot_request_reply_sbuf (request_p, sbuf);
        return;
    }
    held_t *held = s_hold (self, HELD_REPLY);
    held->request = *request_p;
    held->body = *sbuf;
    *request_p = NULL;
    msgpack_sbuffer_init (sbuf);
}

//  Answers a request with an error, in order with the other answers.
static void
s_error (coordinator_t *self, flot_request_t **request_p, int code, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_error (coordinator_t *self, flot_request_t **request_p, int code, const char *format, ...)
{
    char message [256];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    if (!s_uncommitted (self)) {
        flot_request_error (request_p, code, "%s", message);
        return;
    }
    held_t *held = s_hold (self, HELD_ERROR);
    held->request = *request_p;
    held->code = code;
    memcpy (held->message, message, sizeof message);
    *request_p = NULL;
}

static const char *
s_state_name (const deployment_t *dep)
{
    return flot_state_name (FLOT_KIND_DEPLOYMENT, dep->state);
}

//  Writes the deployment's row as it is now.
static void
s_write_deployment (deployment_t *dep)
{
    flot_deployment_row_t row = {
        .file = dep->file, .spec = dep->spec_written ? NULL : dep->text, .cwd = dep->cwd,
        .resolved = dep->resolved, .resolved_size = dep->resolved_size,
        .paused = dep->paused,
        .created_ms = dep->created_ms, .updated_ms = dep->updated_ms,
        .finished_ms = dep->finished_ms, .progress_ms = dep->progress_ms,
        .last_error = dep->last_error
    };
    snprintf (row.id, sizeof row.id, "%s", dep->id);
    snprintf (row.name, sizeof row.name, "%s", dep->spec->name);
    snprintf (row.state, sizeof row.state, "%s", s_state_name (dep));
    snprintf (row.promote, sizeof row.promote, "%s", dep->promote_full ? "full" : "");
    if (flot_store_put_deployment (dep->owner->store, &row))
        flot_error (WHO, "%s", flot_store_error (dep->owner->store));
    else
    if (!dep->spec_written) {
        dep->spec_written = true;
        free (dep->text);           //  the store has it; the deployment runs on resolved
        dep->text = NULL;
    }
}

//  The deployment changed: its row is written once, at the flush, in the
//  same transaction as the changes (its spec makes it large).
static void
s_save_deployment (deployment_t *dep)
{
    assert (dep->owner->txn_depth > 0);
    dep->updated_ms = s_now ();
    if (!dep->dirty) {
        dep->dirty = true;
        zlistx_add_end (dep->owner->dirty, dep);
    }
}

static void
s_save_step (deployment_t *dep, size_t s, bool back, const char *output, const char *error)
{
    const flot_plan_t *plan = back ? dep->back : dep->plan;
    const flot_step_t *step = &plan->steps [s];
    const step_rt_t *rt = back ? &dep->back_steps [s] : &dep->steps [s];
    flot_step_row_t row = {
        .index = step->index, .attempt = rt->attempt,
        .started_ms = rt->started_ms, .finished_ms = rt->finished_ms,
        .output = (char *) (output ? output : ""), .error = (char *) (error ? error : "")
    };
    snprintf (row.step_id, sizeof row.step_id, "%s", step->id);
    snprintf (row.target, sizeof row.target, "%s", dep->spec->targets [step->target].name);
    snprintf (row.type, sizeof row.type, "%s", flot_step_type_name (step->type));
    snprintf (row.state, sizeof row.state, "%s", flot_state_name (FLOT_KIND_STEP, rt->state));
    if (flot_store_put_step (dep->owner->store, dep->id, &row))
        flot_error (WHO, "%s", flot_store_error (dep->owner->store));
}

static void s_pump (coordinator_t *self);

//  Removes the published events from the outbox (in the open transaction,
//  if there is one).
static void
s_outbox_trim (coordinator_t *self)
{
    if (self->published_id <= self->removed_id)
        return;
    if (flot_store_outbox_remove_upto (self->store, self->published_id))
        flot_error (WHO, "%s", flot_store_error (self->store));
    else
        self->removed_id = self->published_id;
}

static int
s_on_retry_pump (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coordinator_t *self = arg;
    self->retry_timer = -1;
    s_pump (self);
    return 0;
}

static void
s_on_published (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    coordinator_t *self = arg;
    self->publishing = false;
    //  An event the events service refuses (a data field of another
    //  version, say) would hold back every event after it. Its batch goes
    //  again one event at a time, so that only the refused one is touched:
    //  it goes once more without its data, and if that is refused too it
    //  is left out, with an error each time.
    bool refused = answer->kind == FLOT_ERROR && answer->err.code == FLOT_E_INVALID;
    if (refused && self->publishing_count > 1) {
        flot_error (WHO, "the events service refused a batch of %zu events (%s): "
                    "sending them one by one", self->publishing_count, answer->err.message);
        self->singly_until = self->publishing_id;
        s_pump (self);
        return;
    }
    if (refused) {
        self->refused++;
        flot_error (WHO, "the events service refused event %lld (%s): %s",
                    (long long) self->publishing_id, answer->err.message, self->refused == 1
                    ? "sending it again without its data" : "it is left out");
        if (self->refused == 1) {
            s_pump (self);
            return;
        }
    }
    if (answer->kind == FLOT_REPLY || refused) {
        self->refused = 0;
        for (size_t i = 0; i < self->publishing_count; i++) {
            outgoing_t *taken = zlistx_detach (self->outgoing, NULL);
            assert (taken && taken->id <= self->publishing_id);
            free (taken);
        }
        //  They leave the outbox with the next transaction (s_flush), or
        //  at the next tick if nothing changes before: a crash before then
        //  publishes them again, never loses them.
        self->published_id = self->publishing_id;
        s_pump (self);
    }
    else
    if (self->retry_timer < 0) {
        //  The events service is not there yet: the event waits, in order.
        flot_debug (WHO, "events not published: %s", answer->err.message);
        self->retry_timer = zloop_timer (flot_actor_loop (actor), OUTBOX_RETRY_MS, 1,
                                         s_on_retry_pump, self);
    }
}

static void
s_outgoing_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static int
s_read_ahead (int64_t id, const void *body, size_t size, void *arg)
{
    coordinator_t *self = arg;
    outgoing_t *event = malloc (sizeof *event + size);
    assert (event);
    event->id = id;
    event->size = size;
    memcpy (event->body, body, size);
    zlistx_add_end (self->outgoing, event);
    self->read_after = id;
    return 0;
}

//  Sends the waiting events to the events service, oldest first, in
//  batches of those committed (one batch at a time, so they stay in order).
//  Events are read from the store a batch at a time.
static void
s_pump (coordinator_t *self)
{
    if (self->publishing || self->retry_timer >= 0 || s_uncommitted (self))
        return;
    if (zlistx_size (self->outgoing) == 0
    &&  flot_store_outbox_each (self->store, self->read_after, OUTBOX_READ, s_read_ahead, self))
        flot_error (WHO, "%s", flot_store_error (self->store));
    size_t count = zlistx_size (self->outgoing);
    if (count == 0)
        return;
    outgoing_t *first = zlistx_first (self->outgoing);
    if (self->singly_until && first->id > self->singly_until)
        self->singly_until = 0;         //  past the refused batch
    if (self->singly_until)
        count = 1;
    //  Each is read back as the events contract's NEW_EVENT; one that is
    //  not (the store is damaged) is left out, with an error, and counted
    //  as sent so that it does not hold back those after it.
    flot_body_t **bodies = calloc (count, sizeof *bodies);
    flot_events_new_event_t *events = calloc (count, sizeof *events);
    assert (bodies && events);
    flot_events_publish_batch_request_t batch = { .events = { 0, events } };
    size_t i = 0;
    for (outgoing_t *event = zlistx_first (self->outgoing); event && i < count;
         event = zlistx_next (self->outgoing), i++) {
        self->publishing_id = event->id;
        flot_err_t err;
        bodies [i] = flot_body_decode (event->body, event->size, &err);
        if (bodies [i]
        &&  flot_events_new_event_decode (flot_body_root (bodies [i]),
                                          flot_body_zone (bodies [i]),
                                          &events [batch.events.count], &err) == 0) {
            if (self->refused)
                events [batch.events.count].data = NULL;
            batch.events.count++;
        }
        else
            flot_error (WHO, "event %lld of the outbox is left out: %s",
                        (long long) event->id, err.message);
    }
    self->publishing_count = count;
    bool none = batch.events.count == 0;
    if (!none)
        self->publishing = flot_actor_call_msg (self->actor, "events", NULL,
                                                FLOT_EVENTS_PUBLISH_BATCH,
                                                &flot_events_publish_batch_request_def, &batch,
                                                5000, false, s_on_published, self) != 0;
    for (i = 0; i < count; i++)
        flot_body_destroy (&bodies [i]);
    free (bodies);
    free (events);
    if (none) {
        //  Every one was left out: the batch is done, and the next goes.
        flot_answer_t done = { .kind = FLOT_REPLY };
        s_on_published (self->actor, &done, self);
    }
    else
    if (!self->publishing && self->retry_timer < 0)
        self->retry_timer = zloop_timer (flot_actor_loop (self->actor), OUTBOX_RETRY_MS, 1,
                                         s_on_retry_pump, self);
}

//  The event type whose data def defines (flot_event_<type>_def).
static const flot_event_def_t *
s_event_type (const flot_struct_t *def)
{
    for (size_t i = 0; i < flot_event_def_count; i++)
        if (flot_event_defs [i].data == def)
            return &flot_event_defs [i];
    return NULL;
}

//  Sets data's string field name (by def's table), if it has one not set.
static void
s_event_fill (const flot_struct_t *def, void *data, const char *name, const char *value)
{
    for (size_t i = 0; i < def->field_count; i++) {
        const flot_field_t *field = &def->fields [i];
        const char **slot = (const char **) ((char *) data + field->offset);
        if (field->type == FLOT_T_STR && streq (field->name, name) && !*slot)
            *slot = value;
    }
}

//  Queue an event (in the current transaction); published after commit.
//  data is its data, a flot_event_<type>_t that def (its _def) describes:
//  its deployment and target are filled in here; the message says the
//  same in a sentence. Data that its definition refuses (a bug) is left
//  out, with an error, so that the events service takes the event.
static void
s_event (deployment_t *dep, int target, const flot_struct_t *def, void *data,
         const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));

static void
s_event (deployment_t *dep, int target, const flot_struct_t *def, void *data,
         const char *format, ...)
{
    const flot_event_def_t *type = s_event_type (def);
    assert (type);
    char message [512];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    const char *name = target >= 0 ? dep->spec->targets [target].name : NULL;
    s_event_fill (def, data, "deployment", dep->id);
    if (name)
        s_event_fill (def, data, "target", name);
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (def, data, &sbuf);
    flot_err_t err;
    flot_body_t *body = flot_body_decode (sbuf.data, sbuf.size, &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (!body)
        flot_error (WHO, "%s %s: its data is left out, as its own encoding does not "
                    "decode: %s", dep->id, type->type, err.message);
    else
    if (!flot_decode_new (def, flot_body_root (body), flot_body_zone (body), &err)) {
        flot_error (WHO, "%s %s: its data is left out: %s", dep->id, type->type, err.message);
        flot_body_destroy (&body);
    }
    flot_events_new_event_t event = {
        .type = type->type, .deployment = dep->id, .target = name, .message = message,
        .data = body ? flot_body_root (body) : NULL
    };
    flot_encode_sbuf (&flot_events_new_event_def, &event, &sbuf);
    flot_body_destroy (&body);
    if (flot_store_outbox_add (dep->owner->store, sbuf.data, sbuf.size))
        flot_error (WHO, "%s", flot_store_error (dep->owner->store));
    msgpack_sbuffer_destroy (&sbuf);
    flot_info (WHO, "%s %s: %s", dep->id, type->type, message);
}

//  --------------------------------------------------------------------------
//  Deployments in memory

static void
s_deployment_destroy (deployment_t **dep_p)
{
    deployment_t *dep = *dep_p;
    if (!dep)
        return;
    for (size_t t = 0; dep->trt && t < dep->spec->target_count; t++) {
        free (dep->trt [t].health_message);
        free (dep->trt [t].analysis);
        free (dep->trt [t].pending_failure);
    }
    free (dep->trt);
    free (dep->text);
    free (dep->file);
    free (dep->resolved);
    flot_plan_destroy (&dep->plan);
    flot_plan_destroy (&dep->back);
    flot_spec_destroy (&dep->spec);
    free (dep->steps);
    free (dep->back_steps);
    free (dep->tstate);
    free (dep->cursor);
    free (dep->deps_left);
    free (dep->rev_first);
    free (dep->rev);
    free (dep->wave_left);
    free (dep);
    *dep_p = NULL;
}

static void
s_deployment_free (void **item_p)
{
    s_deployment_destroy ((deployment_t **) item_p);
}

//  Builds the runtime of a RESOLVED deployment (its bytes, taken): its
//  model and plan, and every target pending with its dependency counts.
//  text is its spec's text while the store lacks it, else NULL. Returns
//  NULL with err if the bytes do not make a deployment.
static deployment_t *
s_deployment_new (coordinator_t *self, void **resolved_p, size_t resolved_size,
                  const char *text, const char *file, const char *cwd, flot_err_t *err)
{
    deployment_t *dep = calloc (1, sizeof *dep);
    assert (dep);
    dep->owner = self;
    dep->state = DS_NONE;           //  Execute starts it, or its stored row sets it
    dep->resolved = *resolved_p;
    dep->resolved_size = resolved_size;
    *resolved_p = NULL;
    if (flot_resolved_load (dep->resolved, dep->resolved_size, &dep->spec, &dep->plan, err)) {
        free (dep->resolved);
        free (dep);
        return NULL;
    }
    dep->text = text ? strdup (text) : NULL;
    dep->file = strdup (file);
    snprintf (dep->cwd, sizeof dep->cwd, "%s", cwd);
    size_t n = dep->spec->target_count;
    dep->steps = calloc (dep->plan->step_count + 1, sizeof (step_rt_t));
    for (size_t s = 0; s < dep->plan->step_count; s++)
        dep->steps [s].timer = -1;
    dep->tstate = calloc (n, sizeof (int));
    dep->trt = calloc (n, sizeof (target_rt_t));
    dep->rollback_timer = -1;
    if (dep->spec->checks.analysis) {
        flot_err_t err;
        flot_body_t *analysis = flot_body_decode (dep->spec->checks.analysis,
                                                  dep->spec->checks.analysis_size, &err);
        if (analysis)
            flot_map_bool (flot_body_root (analysis), "background", false, &dep->background, &err);
        flot_body_destroy (&analysis);
    }
    dep->cursor = calloc (n, sizeof (size_t));
    dep->deps_left = calloc (n, sizeof (int));
    dep->rev_first = calloc (n + 1, sizeof (size_t));
    size_t waves = dep->spec->wave_count ? dep->spec->wave_count : 1;
    dep->wave_left = calloc (waves, sizeof (int));
    size_t edges = 0;
    for (size_t t = 0; t < n; t++) {
        const flot_target_t *target = &dep->spec->targets [t];
        dep->cursor [t] = dep->plan->first [t];
        dep->deps_left [t] = (int) target->depends_count;
        dep->wave_left [target->wave]++;
        edges += target->depends_count;
        for (size_t d = 0; d < target->depends_count; d++)
            dep->rev_first [flot_spec_target_index (dep->spec, target->depends_on [d]) + 1]++;
    }
    for (size_t t = 0; t < n; t++)
        dep->rev_first [t + 1] += dep->rev_first [t];
    dep->rev = calloc (edges + 1, sizeof (int));
    size_t *fill = calloc (n, sizeof (size_t));
    for (size_t t = 0; t < n; t++) {
        const flot_target_t *target = &dep->spec->targets [t];
        for (size_t d = 0; d < target->depends_count; d++) {
            int u = flot_spec_target_index (dep->spec, target->depends_on [d]);
            dep->rev [dep->rev_first [u] + fill [u]++] = (int) t;
        }
    }
    free (fill);
    return dep;
}

//  List's order: by creation, then by id.
static int
s_by_created (const void *a, const void *b)
{
    const deployment_t *da = a, *db = b;
    if (da->created_ms != db->created_ms)
        return da->created_ms < db->created_ms ? -1 : 1;
    return strcmp (da->id, db->id);
}

//  The coordinator takes the deployment (its id and created_ms set): by
//  id, and in List's order, kept as they come rather than sorted per List.
static void
s_deployment_add (coordinator_t *self, deployment_t *dep)
{
    zhashx_insert (self->deployments, dep->id, dep);
    zlistx_insert (self->listed, dep, false);     //  the newest, usually: from the end
}

//  Target t no longer holds up others (done, or failed under continue).
static void
s_target_release (deployment_t *dep, int t)
{
    for (size_t e = dep->rev_first [t]; e < dep->rev_first [t + 1]; e++)
        dep->deps_left [dep->rev [e]]--;
    dep->wave_left [dep->spec->targets [t].wave]--;
    int waves = dep->spec->wave_count ? (int) dep->spec->wave_count : 1;
    while (dep->waves_done < waves && dep->wave_left [dep->waves_done] == 0)
        dep->waves_done++;
}

static bool
s_target_ready (const deployment_t *dep, int t)
{
    return dep->tstate [t] == TS_PENDING && dep->deps_left [t] == 0
        && dep->spec->targets [t].wave <= dep->waves_done;
}

//  --------------------------------------------------------------------------
//  State changes: each goes through its kind's table (transitions.c)

//  The state event moves a thing of kind (what, called name) to, from
//  from. A move the table does not have is a bug: it is logged, and the
//  thing goes where the event leads from other states all the same, so
//  that production never stops on it (the tests show no such line).
static int
s_next (const deployment_t *dep, flot_state_kind_t kind, int from,
        flot_transition_event_t event, const char *what, const char *name)
{
    int to = flot_transition (kind, from, event);
    if (to >= 0)
        return to;
    to = flot_transition_to (kind, event);
    if (to >= 0)
        flot_error (WHO, "%s: %s%s%s: no transition from %s on %s: going to %s all the same",
                    dep->id, what, *name ? " " : "", name, flot_state_name (kind, from),
                    flot_transition_event_name (event), flot_state_name (kind, to));
    else {
        flot_error (WHO, "%s: %s%s%s: no transition from %s on %s, an event that moves no "
                    "%s: it stays %s", dep->id, what, *name ? " " : "", name,
                    flot_state_name (kind, from), flot_transition_event_name (event), what,
                    flot_state_name (kind, from));
        to = from;
    }
    return to;
}

static void
s_deployment_to (deployment_t *dep, flot_transition_event_t event)
{
    dep->state = s_next (dep, FLOT_KIND_DEPLOYMENT, dep->state, event, "deployment", "");
}

static void
s_target_to (deployment_t *dep, int t, flot_transition_event_t event)
{
    dep->tstate [t] = s_next (dep, FLOT_KIND_TARGET, dep->tstate [t], event, "target",
                              dep->spec->targets [t].name);
}

//  Step s of the plan, or (back) of the rollback plan.
static void
s_step_to (deployment_t *dep, size_t s, bool back, flot_transition_event_t event)
{
    step_rt_t *rt = back ? &dep->back_steps [s] : &dep->steps [s];
    const flot_plan_t *plan = back ? dep->back : dep->plan;
    rt->state = s_next (dep, FLOT_KIND_STEP, rt->state, event,
                        back ? "rollback step" : "step", plan->steps [s].id);
}

//  --------------------------------------------------------------------------
//  Finishing a deployment

static void
s_finish (deployment_t *dep, flot_transition_event_t event, const char *message)
{
    s_deployment_to (dep, event);
    int state = dep->state;
    dep->finished_ms = s_now ();
    s_gates_stop (dep);
    size_t n = dep->spec->target_count, done = 0;
    for (size_t t = 0; t < n; t++)
        done += dep->tstate [t] == TS_DONE;
    if (state == DS_COMPLETED)
        s_event (dep, -1, &flot_event_deployment_completed_def,
                 &(flot_event_deployment_completed_t) { .targets = n, .steps = dep->steps_done },
                 "%s", message);
    else
    if (state == DS_FAILED)
        s_event (dep, -1, &flot_event_deployment_failed_def,
                 &(flot_event_deployment_failed_t) {
                     .reason = message, .targets = n, .targets_done = done },
                 "%s", message);
    else
    if (state == DS_ABORTED)
        s_event (dep, -1, &flot_event_deployment_aborted_def,
                 &(flot_event_deployment_aborted_t) { .reason = message }, "%s", message);
    else
        s_event (dep, -1, &flot_event_deployment_rolled_back_def,
                 &(flot_event_deployment_rolled_back_t) { .reason = message }, "%s", message);
    s_save_deployment (dep);
}

static void
s_rollback_start (deployment_t *dep);

//  The deployment failed: record why, and roll back.
static void
s_fail (deployment_t *dep, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (dep->last_error, sizeof dep->last_error, format, args);
    va_end (args);
    s_deployment_to (dep, FLOT_EV_FAILING);
    s_event (dep, -1, &flot_event_deployment_failing_def,
             &(flot_event_deployment_failing_t) { .reason = dep->last_error },
             "%s", dep->last_error);
    s_save_deployment (dep);
    s_rollback_start (dep);
}

//  --------------------------------------------------------------------------
//  Steps

//  The argument of a step's timer. Only its callback frees it, or, once
//  cancelled (zloop may still call a timer ended in the same round), the
//  tick some seconds later; all that remain go at shutdown.
typedef struct {
    deployment_t *dep;
    size_t s;
    int64_t cancelled;          //  zclock_mono when cancelled, else 0
    void *handle;               //  in the coordinator's timer_refs
} step_ref_t;

static void
s_ref_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static step_ref_t *
s_ref_new (deployment_t *dep, size_t s)
{
    step_ref_t *ref = calloc (1, sizeof *ref);
    assert (ref);
    *ref = (step_ref_t) { .dep = dep, .s = s };
    ref->handle = zlistx_add_end (dep->owner->timer_refs, ref);
    return ref;
}

//  Called first by a timer's callback: false if the timer was cancelled.
//  Either way the argument is gone after it.
static bool
s_ref_take (step_ref_t *ref, deployment_t **dep, size_t *s)
{
    bool live = !ref->cancelled;
    *dep = ref->dep;
    *s = ref->s;
    zlistx_detach (ref->dep->owner->timer_refs, ref->handle);
    free (ref);
    return live;
}

//  Cancels a step's timer, if it has one.
static void
s_timer_cancel (deployment_t *dep, step_rt_t *rt)
{
    if (rt->timer >= 0) {
        zloop_timer_end (flot_actor_loop (dep->owner->actor), rt->timer);
        ((step_ref_t *) rt->timer_arg)->cancelled = zclock_mono ();
    }
    rt->timer = -1;
    rt->timer_arg = NULL;
}

static void s_target_done (deployment_t *dep, int t);

//  A forward step finished well (or was skipped): the target goes on.
static void
s_step_succeeded (deployment_t *dep, size_t s, flot_transition_event_t event,
                  const char *output)
{
    step_rt_t *rt = &dep->steps [s];
    const flot_step_t *step = &dep->plan->steps [s];
    s_step_to (dep, s, false, event);
    rt->finished_ms = s_now ();
    rt->call = 0;
    rt->timer = -1;
    s_begin (dep->owner);
    s_save_step (dep, s, false, output, NULL);
    dep->steps_done++;
    dep->progress_ms = rt->finished_ms;
    s_event (dep, step->target, &flot_event_step_completed_def,
             &(flot_event_step_completed_t) {
                 .step = step->id, .step_type = flot_step_type_name (step->type),
                 .attempt = (uint64_t) rt->attempt, .weight = (uint64_t) step->weight,
                 .state = flot_state_name (FLOT_KIND_STEP, rt->state) },
             "step %s (%s) %s", step->id, flot_step_type_name (step->type),
             flot_state_name (FLOT_KIND_STEP, rt->state));
    dep->cursor [step->target]++;
    //  A hook that ends well while the deployment rolls back is recorded,
    //  but the target is reverted, not done.
    if (dep->state == DS_RUNNING) {
        if (dep->cursor [step->target] == dep->plan->first [step->target + 1])
            s_target_done (dep, step->target);
        else
            s_target_to (dep, step->target, FLOT_EV_NEXT_STEP);
    }
    s_save_deployment (dep);
    s_commit (dep->owner);
    s_advance (dep);
}

static void
s_target_done (deployment_t *dep, int t)
{
    s_target_to (dep, t, FLOT_EV_ALL_STEPS_DONE);
    dep->in_progress--;
    s_watch_stop (dep, t);
    s_target_release (dep, t);
    s_event (dep, t, &flot_event_target_completed_def,
             &(flot_event_target_completed_t) { .version = dep->spec->workload.version },
             "%s is on version %s", dep->spec->targets [t].name, dep->spec->workload.version);
}

static int
s_on_retry (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    deployment_t *dep;
    size_t s;
    if (!s_ref_take (arg, &dep, &s))
        return 0;
    dep->steps [s].timer = -1;
    dep->steps [s].timer_arg = NULL;
    if (dep->state == DS_RUNNING)
        s_step_start (dep, s);
    else
        s_advance (dep);
    return 0;
}

//  A failed step whose fate the strategy service decides (HandleFailure).
//  While it is asked, the step's rt->decision points to it; whoever ends
//  the step first (the answer, or a rollback that starts meanwhile) takes
//  it from there, so that a failure is decided once.
typedef struct {
    deployment_t *dep;
    size_t s;
    char *why;
    char *output;
    bool may_retry;
    uint64_t corr;              //  HandleFailure in flight, 0 if none
    int timer;                  //  asking again, -1 if not
    void *handle;               //  in the coordinator's decisions
} decision_t;

static void
s_decision_free (void **item_p)
{
    decision_t *decision = *item_p;
    if (decision) {
        free (decision->why);
        free (decision->output);
        free (decision);
        *item_p = NULL;
    }
}

//  The step's decision, taken from it: no answer or timer of it comes
//  after. The caller frees it.
static decision_t *
s_decision_take (deployment_t *dep, size_t s)
{
    decision_t *decision = dep->steps [s].decision;
    dep->steps [s].decision = NULL;
    if (decision) {
        flot_actor_t *actor = dep->owner->actor;
        if (decision->corr)
            flot_actor_call_forget (actor, decision->corr);
        if (decision->timer >= 0)
            zloop_timer_end (flot_actor_loop (actor), decision->timer);
        zlistx_detach (dep->owner->decisions, decision->handle);
    }
    return decision;
}

static void s_decision_ask (decision_t *decision);

static int
s_on_decision_retry (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    decision_t *decision = arg;
    decision->timer = -1;
    s_decision_ask (decision);
    return 0;
}

//  What the spec's failure policy does with a target that failed for good,
//  as HandleFailure's action: when the strategy service's answer cannot
//  be used, or a rollback decides for it.
static const char *
s_policy_action (const deployment_t *dep)
{
    switch (dep->spec->policy.on_failure) {
        case FLOT_ON_FAILURE_HOLD_DEPENDENTS: return "holdDependents";
        case FLOT_ON_FAILURE_CONTINUE: return "continue";
        default: return "failDeployment";
    }
}

static void s_step_decided (deployment_t *dep, size_t s, const char *why, const char *output,
                            const char *action, int64_t delay);

//  The strategy service's answer to HandleFailure. If it could not answer
//  (no instance, no answer in time, busy), the step waits and asks again:
//  an infrastructure fault is not the step's failure. An answer that
//  cannot be used (an error such as INVALID, a reply that breaks the
//  contract, a retry the coordinator ruled out) is not asked again: the
//  spec's policy applies, and the step's reason says why.
static void
s_on_failure_decided (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    decision_t *decision = arg;
    decision->corr = 0;
    deployment_t *dep = decision->dep;
    coordinator_t *self = dep->owner;
    size_t s = decision->s;
    const flot_step_t *step = &dep->plan->steps [s];
    if (s_transient (answer)) {
        s_begin (self);
        s_event (dep, step->target, &flot_event_step_waiting_def,
                 &(flot_event_step_waiting_t) {
                     .step = step->id, .service = "strategy",
                     .reason = answer->err.message, .retry_in_ms = GATE_RETRY_MS },
                 "%s: step %s failed (%s); the strategy service could not say what that "
                 "leads to (%s); asking again in %d ms",
                 dep->spec->targets [step->target].name, step->id, decision->why,
                 answer->err.message, GATE_RETRY_MS);
        s_commit (self);
        s_pump (self);
        decision->timer = zloop_timer (flot_actor_loop (actor), GATE_RETRY_MS, 1,
                                       s_on_decision_retry, decision);
        return;
    }
    msgpack_zone zone;
    msgpack_zone_init (&zone, 256);
    flot_strategy_handle_failure_reply_t reply = { 0 };
    flot_err_t err = answer->err;
    bool usable = answer->kind == FLOT_REPLY
               && flot_strategy_handle_failure_reply_decode (answer->body, &zone, &reply,
                                                             &err) == 0;
    if (usable && streq (reply.action, "retry") && !decision->may_retry) {
        usable = false;
        snprintf (err.message, sizeof err.message, "it answered retry for a step that "
                  "must not run again");
    }
    decision = s_decision_take (dep, s);
    if (usable)
        s_step_decided (dep, s, decision->why, decision->output, reply.action, reply.delay_ms);
    else {
        char why [600];
        snprintf (why, sizeof why, "%s (the strategy service's answer to HandleFailure "
                  "cannot be used: %s; the failure policy applies)", decision->why,
                  err.message);
        flot_error (WHO, "%s: step %s: %s", dep->id, step->id, why);
        s_step_decided (dep, s, why, decision->output, s_policy_action (dep), 0);
    }
    void *item = decision;
    s_decision_free (&item);
    msgpack_zone_destroy (&zone);
}

static void
s_decision_ask (decision_t *decision)
{
    deployment_t *dep = decision->dep;
    const step_rt_t *rt = &dep->steps [decision->s];
    flot_strategy_handle_failure_request_t request = {
        .attempt = (uint64_t) rt->attempt,
        .retries = decision->may_retry ? (uint64_t) dep->spec->hook.retries : 0,
        .backoff_ms = (uint64_t) dep->spec->hook.backoff_ms, .has_backoff_ms = true,
        .on_failure = s_on_failure_name (dep),
        .failed_targets = (uint64_t) dep->failed_targets + 1,
        .max_failures = (uint64_t) dep->spec->policy.max_failures, .has_max_failures = true
    };
    decision->corr = flot_actor_call_msg (dep->owner->actor, "strategy",
                                          dep->spec->strategy_name,
                                          FLOT_STRATEGY_HANDLE_FAILURE,
                                          &flot_strategy_handle_failure_request_def, &request,
                                          DECISION_TIMEOUT_MS, false, s_on_failure_decided,
                                          decision);
    if (!decision->corr) {
        flot_answer_t answer = s_unsent ();
        s_on_failure_decided (dep->owner->actor, &answer, decision);
    }
}

//  A timed pause whose time is up: the strategy service says whether it is
//  over (ShouldPromote), or how much longer it lasts. If it cannot answer,
//  the pause waits and asks again.
static void
s_on_promote_decided (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    decision_t *decision = arg;
    deployment_t *dep = decision->dep;
    size_t s = decision->s;
    coordinator_t *self = dep->owner;
    zlistx_detach (self->decisions, decision->handle);
    void *item = decision;
    s_decision_free (&item);
    const flot_step_t *step = &dep->plan->steps [s];
    step_rt_t *rt = &dep->steps [s];
    int t = step->target;
    //  A promote, an abort or a failure may have ended it meanwhile, or a
    //  failure be deciding its fate.
    if (dep->state != DS_RUNNING || rt->state != SS_RUNNING || dep->cursor [t] != s
    ||  rt->decision)
        return;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 256);
    flot_strategy_should_promote_reply_t reply;
    flot_err_t err = answer->err;
    if (answer->kind == FLOT_REPLY
    &&  flot_strategy_should_promote_reply_decode (answer->body, &zone, &reply, &err) == 0) {
        if (reply.promote)
            s_step_succeeded (dep, s, FLOT_EV_PAUSE_OVER, NULL);
        else
        if (reply.needs_person)
            s_target_to (dep, t, FLOT_EV_PAUSE_NEEDS_PERSON);
        else
            s_step_timer (dep, s, reply.wait_ms > 0 ? reply.wait_ms : GATE_RETRY_MS);
    }
    else
    if (!s_transient (answer)) {
        //  An answer that cannot be used: the pause's own time is up.
        flot_error (WHO, "%s: step %s: the strategy service's answer to ShouldPromote "
                    "cannot be used (%s): the pause ends at its duration", dep->id, step->id,
                    err.message);
        s_step_succeeded (dep, s, FLOT_EV_PAUSE_OVER, NULL);
    }
    else {
        s_begin (self);
        s_event (dep, t, &flot_event_step_waiting_def,
                 &(flot_event_step_waiting_t) {
                     .step = step->id, .service = "strategy", .reason = err.message,
                     .retry_in_ms = GATE_RETRY_MS },
                 "%s: step %s: the strategy service could not say whether the pause is "
                 "over (%s); asking again in %d ms", dep->spec->targets [t].name, step->id,
                 err.message, GATE_RETRY_MS);
        s_commit (self);
        s_pump (self);
        s_step_timer (dep, s, GATE_RETRY_MS);
    }
    msgpack_zone_destroy (&zone);
}

static void
s_pause_ask (deployment_t *dep, size_t s)
{
    const flot_step_t *step = &dep->plan->steps [s];
    const step_rt_t *rt = &dep->steps [s];
    decision_t *decision = calloc (1, sizeof *decision);
    assert (decision);
    *decision = (decision_t) { .dep = dep, .s = s };
    decision->handle = zlistx_add_end (dep->owner->decisions, decision);
    int64_t elapsed = s_now () - rt->started_ms;
    flot_strategy_should_promote_request_t request = {
        .duration_ms = step->duration_ms,
        .elapsed_ms = elapsed > 0 ? (uint64_t) elapsed : 0,
        .promoted = false, .has_promoted = true
    };
    if (!flot_actor_call_msg (dep->owner->actor, "strategy", dep->spec->strategy_name,
                              FLOT_STRATEGY_SHOULD_PROMOTE,
                              &flot_strategy_should_promote_request_def, &request,
                              DECISION_TIMEOUT_MS, false, s_on_promote_decided, decision)) {
        flot_answer_t answer = s_unsent ();
        s_on_promote_decided (dep->owner->actor, &answer, decision);
    }
}

//  A step failed (the hook, the call, or a check: may_retry false): the
//  strategy service says whether it is retried or what the policy does.
//  While the deployment rolls back, a failure (a hook in flight when the
//  rollback started) is recorded and decides nothing: no one is asked.
static void
s_step_failed_as (deployment_t *dep, size_t s, const char *why, const char *output,
                  bool may_retry)
{
    step_rt_t *rt = &dep->steps [s];
    rt->call = 0;
    if (rt->decision)
        return;                 //  its first failure is being decided: one is enough
    if (dep->state != DS_RUNNING) {
        s_step_decided (dep, s, why, output, s_policy_action (dep), 0);
        return;
    }
    decision_t *decision = calloc (1, sizeof *decision);
    assert (decision);
    *decision = (decision_t) {
        .dep = dep, .s = s, .why = strdup (why), .output = output ? strdup (output) : NULL,
        .may_retry = may_retry, .timer = -1
    };
    decision->handle = zlistx_add_end (dep->owner->decisions, decision);
    rt->decision = decision;
    s_decision_ask (decision);
}

//  Records step s, and its target, failed for good.
static void
s_step_failed_for_good (deployment_t *dep, size_t s, const char *why, const char *output)
{
    step_rt_t *rt = &dep->steps [s];
    const flot_step_t *step = &dep->plan->steps [s];
    int t = step->target;
    s_step_to (dep, s, false, FLOT_EV_STEP_FAILED);
    rt->finished_ms = s_now ();
    s_save_step (dep, s, false, output, why);
    s_event (dep, t, &flot_event_step_failed_def,
             &(flot_event_step_failed_t) {
                 .step = step->id, .step_type = flot_step_type_name (step->type),
                 .attempt = (uint64_t) rt->attempt, .weight = (uint64_t) step->weight,
                 .reason = why },
             "step %s failed after %d attempt%s: %s", step->id,
             rt->attempt, rt->attempt == 1 ? "" : "s", why);
    s_target_to (dep, t, FLOT_EV_STEP_FAILED);
    dep->in_progress--;
    dep->failed_targets++;
    s_watch_stop (dep, t);
    s_event (dep, t, &flot_event_target_failed_def,
             &(flot_event_target_failed_t) { .step = step->id, .reason = why },
             "%s failed at step %s: %s", dep->spec->targets [t].name, step->id, why);
}

//  Retry, or apply the policy, as the strategy service decided.
static void
s_step_decided (deployment_t *dep, size_t s, const char *why, const char *output,
                const char *action, int64_t delay)
{
    step_rt_t *rt = &dep->steps [s];
    const flot_step_t *step = &dep->plan->steps [s];
    int t = step->target;
    s_begin (dep->owner);
    if (streq (action, "retry")) {
        s_step_to (dep, s, false, FLOT_EV_FAILED_RETRY);
        s_save_step (dep, s, false, output, why);
        s_event (dep, t, &flot_event_step_failed_def,
                 &(flot_event_step_failed_t) {
                     .step = step->id, .step_type = flot_step_type_name (step->type),
                     .attempt = (uint64_t) rt->attempt, .weight = (uint64_t) step->weight,
                     .reason = why, .retry_in_ms = delay > 0 ? (uint64_t) delay : 0,
                     .has_retry_in_ms = true },
                 "step %s attempt %d failed: %s; retrying in %lld ms",
                 step->id, rt->attempt, why, (long long) delay);
        step_ref_t *ref = s_ref_new (dep, s);
        rt->timer_arg = ref;
        rt->timer = zloop_timer (flot_actor_loop (dep->owner->actor),
                                 delay > 0 ? (size_t) (delay < MAX_TIMER_MS ? delay : MAX_TIMER_MS) : 1, 1,
                                 s_on_retry, ref);
        s_commit (dep->owner);
        return;
    }
    s_step_failed_for_good (dep, s, why, output);
    //  A hook that ends after an abort or another failure changes nothing
    //  more: the deployment is rolling back already, for that reason.
    if (dep->state != DS_RUNNING)
        s_save_deployment (dep);
    else
    if (streq (action, "failDeployment")
    ||  dep->failed_targets > dep->spec->policy.max_failures)
        //  maxFailures holds whatever a strategy answered for failures
        //  decided at the same time.
        s_fail (dep, "%s failed at step %s: %s", dep->spec->targets [t].name, step->id, why);
    else {
        if (streq (action, "continue"))
            s_target_release (dep, t);
        snprintf (dep->last_error, sizeof dep->last_error, "%s failed at step %s: %s",
                  dep->spec->targets [t].name, step->id, why);
        s_save_deployment (dep);
    }
    s_commit (dep->owner);
    s_advance (dep);
}

static void
s_step_failed (deployment_t *dep, size_t s, const char *why, const char *output)
{
    s_step_failed_as (dep, s, why, output, true);
}

static void
s_on_hook (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    step_ref_t *ref = arg;
    deployment_t *dep = ref->dep;
    size_t s = ref->s;
    free (ref);
    dep->hooks_in_flight--;
    target_rt_t *trt = &dep->trt [dep->plan->steps [s].target];
    if (trt->pending_failure) {
        //  Its health failed while the hook ran: the target fails now.
        char *why = trt->pending_failure;
        trt->pending_failure = NULL;
        s_step_failed_as (dep, s, why, NULL, false);
        free (why);
        return;
    }
    if (answer->kind == FLOT_ERROR) {
        s_step_failed (dep, s, answer->err.message, NULL);
        return;
    }
    //  The executor's answer: a STEP_RESULT (SPEC section 17).
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    flot_executor_step_result_t result;
    flot_err_t err;
    char why [320];
    if (flot_executor_step_result_decode (answer->body, &zone, &result, &err)) {
        //  The executor broke the protocol: whether the hook ran, and how
        //  it ended, is unknown. Running it again could repeat a hook that
        //  succeeded, so the step fails, with no retry.
        snprintf (why, sizeof why, "the executor's answer is not a step result: %s",
                  err.message);
        flot_error (WHO, "%s: step %s: %s", dep->id, dep->plan->steps [s].id, why);
        s_step_failed_as (dep, s, why, NULL, false);
    }
    else
    if (streq (result.status, "succeeded"))
        s_step_succeeded (dep, s, FLOT_EV_HOOK_SUCCEEDED, result.output);
    else {
        if (streq (result.status, "timeout"))
            snprintf (why, sizeof why, "the hook ran past its timeout of %lld ms",
                      (long long) dep->spec->hook.timeout_ms);
        else
            snprintf (why, sizeof why, "the hook exited with status %lld",
                      (long long) result.exit_code);
        s_step_failed (dep, s, why, result.output);
    }
    msgpack_zone_destroy (&zone);
}

//  Sends a step's hook call (body, destroyed) to the executor that serves
//  its target.
static void
s_hook_send (deployment_t *dep, size_t s, msgpack_sbuffer *body)
{
    const flot_step_t *step = &dep->plan->steps [s];
    step_rt_t *rt = &dep->steps [s];
    //  The call's own argument, freed by s_on_hook (not a timer's).
    step_ref_t *ref = malloc (sizeof *ref);
    *ref = (step_ref_t) { .dep = dep, .s = s };
    rt->call = flot_actor_call (dep->owner->actor, "executor",
                                dep->spec->targets [step->target].name,
                                FLOT_EXECUTOR_EXECUTE_STEP,
                                body->data, body->size,
                                (uint32_t) (dep->spec->hook.timeout_ms + FLOT_STEP_CALL_MARGIN_MS),
                                false, s_on_hook, ref);
    msgpack_sbuffer_destroy (body);
    if (!rt->call) {
        free (ref);
        dep->hooks_in_flight--;
        s_step_failed (dep, s, "the request could not be sent to the executor", NULL);
    }
}

//  Calls the step's hook on the executor that serves its target, once the
//  step's start is committed.
static void
s_hook_call (deployment_t *dep, size_t s)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    flot_step_call_pack (&pk, dep->spec, dep->id, &dep->plan->steps [s], dep->steps [s].attempt,
                         dep->cwd);
    //  In flight from now: a rollback waits for a forward hook.
    dep->hooks_in_flight++;
    if (s_uncommitted (dep->owner)) {
        //  It goes once the step's start is committed.
        held_t *held = s_hold (dep->owner, HELD_HOOK);
        held->dep = dep;
        held->s = s;
        held->body = sbuf;
    }
    else
        s_hook_send (dep, s, &sbuf);
}

static int
s_on_step_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    deployment_t *dep;
    size_t s;
    if (!s_ref_take (arg, &dep, &s))
        return 0;
    step_rt_t *rt = &dep->steps [s];
    rt->timer = -1;
    rt->timer_arg = NULL;
    const flot_step_t *step = &dep->plan->steps [s];
    if (dep->state != DS_RUNNING)
        return 0;           //  failed meanwhile: a cleanup must not remove the old
    if (step->runs_hook)
        s_hook_call (dep, s);              //  cleanup, after keepOld
    else
    if (step->type == FLOT_STEP_PAUSE)
        s_pause_ask (dep, s);              //  its time is up: is the pause over?
    else
        s_step_succeeded (dep, s, FLOT_EV_SOAKED, NULL);
    return 0;
}

static void
s_step_timer (deployment_t *dep, size_t s, int64_t ms)
{
    step_ref_t *ref = s_ref_new (dep, s);
    dep->steps [s].timer_arg = ref;
    //  At most 30 days, as the contracts bound every duration: zloop adds
    //  the delay to its clock.
    if (ms > MAX_TIMER_MS)
        ms = MAX_TIMER_MS;
    dep->steps [s].timer = zloop_timer (flot_actor_loop (dep->owner->actor),
                                        ms > 0 ? (size_t) ms : 1, 1, s_on_step_timer, ref);
}

//  The answer a call gets when it could not even be sent.
static flot_answer_t
s_unsent (void)
{
    flot_answer_t answer = { .kind = FLOT_ERROR };
    flot_err_set (&answer.err, FLOT_E_CANCELLED, "the request could not be sent");
    return answer;
}

//  Makes *answer the answer of a call not sent because something failed
//  here, before it (the service was never asked): INTERNAL, which is not
//  asked again, saying what failed; its corr stays 0. Logs it. Returns -1.
static int
s_local_failure (flot_answer_t *answer, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static int
s_local_failure (flot_answer_t *answer, const char *format, ...)
{
    char why [sizeof answer->err.message];
    va_list args;
    va_start (args, format);
    vsnprintf (why, sizeof why, format, args);
    va_end (args);
    *answer = (flot_answer_t) { .kind = FLOT_ERROR };
    flot_err_set (&answer->err, FLOT_E_INTERNAL, "%s", why);
    flot_error (WHO, "%s", why);
    return -1;
}

//  The CONTEXT of target t at version, in zone; or -1 with *answer saying so.
static int
s_context (deployment_t *dep, int t, const char *version, msgpack_zone *zone,
           flot_health_context_t *context, flot_answer_t *answer)
{
    if (flot_context_fill (context, dep->spec, &dep->spec->targets [t], version, zone))
        return s_local_failure (answer, "%s: out of memory filling the CONTEXT of %s",
                                dep->id, dep->spec->targets [t].name);
    return 0;
}

//  --------------------------------------------------------------------------
//  Gates: health and analysis
//
//  A gate step (canary gate, blue-green pre- and post-switch) first waits
//  for the target's health checks (health WaitForReady), then runs the
//  analysis (analyzer StartAnalysis, a stream of one result per interval).
//  A soak step waits for health, then soaks. Once a target is ready, it is
//  monitored (health StartMonitoring) until it is done. With a background
//  analysis, the analysis runs instead for each target from its first step
//  to its end. Every health report and analysis result goes to the rollback
//  service's ShouldRollback, whose action is applied: continue, promote (the
//  gate passes), pause (for a person; a promote passes the gate), rollback,
//  or fail_target (the failure policy). A restart runs an interrupted gate
//  again.

#define GATE_MARGIN_MS 2000

//  The argument of a gate's calls: which step, and which run of it.
//  Each is in the coordinator's gate_refs until its call ends, so that
//  none is lost when the actor stops with calls in flight.
typedef struct {
    deployment_t *dep;
    size_t s;
    int attempt;
    int target;                 //  watching a target (monitoring, background
                                //  analysis): the target; a gate: -1
    void *handle;               //  in gate_refs
} gate_ref_t;

static gate_ref_t *
s_gate_ref (deployment_t *dep, size_t s, int target)
{
    gate_ref_t *ref = malloc (sizeof *ref);
    assert (ref);
    *ref = (gate_ref_t) { .dep = dep, .s = s, .attempt = dep->steps [s].attempt,
                          .target = target };
    ref->handle = zlistx_add_end (dep->owner->gate_refs, ref);
    return ref;
}

static void
s_gate_ref_free (gate_ref_t *ref)
{
    if (ref)
        zlistx_delete (ref->dep->owner->gate_refs, ref->handle);
}

//  True if the gate's call still matters: the same run of a step that runs.
static bool
s_gate_current (const gate_ref_t *ref)
{
    const step_rt_t *rt = &ref->dep->steps [ref->s];
    return ref->dep->state == DS_RUNNING && rt->state == SS_RUNNING
        && rt->attempt == ref->attempt;
}

static const char *
s_on_failure_name (const deployment_t *dep)
{
    static const char *names [] = { "failAll", "holdDependents", "continue" };
    return names [dep->spec->policy.on_failure];
}

static void s_gate_analysis (deployment_t *dep, size_t s);
static void s_analysis_keep (deployment_t *dep, int t, const flot_analyzer_result_t *result);
static void s_stop_waits (deployment_t *dep);

//  The soak of step s, once its target is healthy.
static void
s_soak_timer (deployment_t *dep, size_t s)
{
    s_step_timer (dep, s, dep->plan->steps [s].duration_ms);
}

static void s_gate_passed (deployment_t *dep, size_t s, const char *why);
static void s_monitor_start (deployment_t *dep, int t);

//  Asks service to end the stream we opened (no answer matters): health's
//  StopMonitoring or analyzer's StopAnalysis, request as def encodes it.
static void
s_stop_stream (deployment_t *dep, const char *service, const char *command,
               const flot_struct_t *def, const void *request)
{
    flot_actor_call_msg (dep->owner->actor, service, NULL, command, def, request,
                         5000, false, NULL, NULL);
}

//  Ends what the gate of step s has in flight (a wait or an analysis).
static void
s_gate_stop (deployment_t *dep, size_t s)
{
    step_rt_t *rt = &dep->steps [s];
    if (!rt->gate_call)
        return;
    flot_actor_call_forget (dep->owner->actor, rt->gate_call);
    s_gate_ref_free (rt->gate_arg);
    if (rt->gate_stream)
        s_stop_stream (dep, "analyzer", FLOT_ANALYZER_STOP_ANALYSIS,
                       &flot_analyzer_stop_analysis_request_def,
                       &(flot_analyzer_stop_analysis_request_t) { .stream = rt->gate_call });
    rt->gate_call = 0;
    rt->gate_arg = NULL;
    rt->gate_stream = false;
}

//  A check failed target t, whose current step is s: the target fails
//  under the failure policy, with no retry; now, or when its hook ends.
static void
s_target_failed (deployment_t *dep, size_t s, const char *why)
{
    step_rt_t *rt = &dep->steps [s];
    int t = dep->plan->steps [s].target;
    if (rt->call) {
        free (dep->trt [t].pending_failure);
        dep->trt [t].pending_failure = strdup (why);
        return;
    }
    s_gate_stop (dep, s);
    s_timer_cancel (dep, rt);
    s_watch_stop (dep, t);
    s_step_failed_as (dep, s, why, NULL, false);
}

//  Applies ShouldRollback's answer to the gate (or, for a monitored target,
//  to the target).
static void
s_on_decision (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    gate_ref_t *ref = arg;
    deployment_t *dep = ref->dep;
    size_t s = ref->s;
    //  Watching a target (its health, or a background analysis), not a gate.
    bool watching = ref->target >= 0;
    bool current = !watching ? s_gate_current (ref)
                 : dep->state == DS_RUNNING && dep->tstate [ref->target] != TS_DONE
                   && dep->tstate [ref->target] != TS_FAILED;
    int t = watching ? ref->target : dep->plan->steps [s].target;
    s_gate_ref_free (ref);
    if (!current)
        return;
    //  An answer that is not a decision pauses: a person decides.
    char action [32] = "pause", reason [400] = "";
    flot_err_t err;
    flot_rollback_should_rollback_reply_t reply;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    if (answer->kind == FLOT_ERROR)
        snprintf (reason, sizeof reason, "the rollback service did not decide: %s",
                  answer->err.message);
    else
    if (flot_rollback_should_rollback_reply_decode (answer->body, &zone, &reply, &err))
        snprintf (reason, sizeof reason, "the rollback service's answer is not a decision: %s",
                  err.message);
    else {
        snprintf (action, sizeof action, "%s", reply.action);
        snprintf (reason, sizeof reason, "%s", reply.reason);
    }
    msgpack_zone_destroy (&zone);
    const char *name = dep->spec->targets [t].name;
    if (streq (action, "continue") || (watching && streq (action, "promote")))
        return;
    if (streq (action, "promote")) {
        s_gate_stop (dep, s);
        s_gate_passed (dep, s, reason);
        return;
    }
    s_begin (dep->owner);
    if (streq (action, "rollback")) {
        s_event (dep, t, &flot_event_gate_failed_def,
                 &(flot_event_gate_failed_t) {
                     .action = "rollback", .on_failure = s_on_failure_name (dep),
                     .reason = reason },
                 "%s: %s: rolling back", name, reason);
        s_stop_waits (dep);
        s_fail (dep, "%s: %s", name, reason);
    }
    else
    if (streq (action, "fail_target")) {
        s_event (dep, t, &flot_event_gate_failed_def,
                 &(flot_event_gate_failed_t) {
                     .action = "fail_target", .on_failure = s_on_failure_name (dep),
                     .reason = reason },
                 "%s: %s: the failure policy %s applies", name, reason,
                 s_on_failure_name (dep));
        s_commit (dep->owner);
        s_target_failed (dep, dep->cursor [t], reason);
        return;
    }
    else {
        //  pause, or anything else: a person decides.
        if (!watching) {
            s_gate_stop (dep, s);
            dep->steps [s].gate_waiting = true;
            s_target_to (dep, t, FLOT_EV_GATE_PAUSED);
        }
        if (!dep->paused) {
            dep->paused = true;
            if (watching)
                s_event (dep, t, &flot_event_deployment_paused_def,
                         &(flot_event_deployment_paused_t) { .cause = "watch", .reason = reason },
                         "paused while watching %s: %s; "
                         "resume to go on, abort to roll back", name, reason);
            else
                s_event (dep, t, &flot_event_deployment_paused_def,
                         &(flot_event_deployment_paused_t) { .cause = "gate", .reason = reason },
                         "paused at the gate of %s: %s; "
                         "promote to go on, abort to roll back", name, reason);
        }
        s_save_deployment (dep);
    }
    s_commit (dep->owner);
    s_advance (dep);
}

//  Asks the rollback service what to do about a health report or an
//  analysis result (one of them; the other NULL).
static void
s_should_rollback_ask (deployment_t *dep, size_t s, int target,
                       const flot_rollback_health_t *health,
                       const flot_analyzer_result_t *analysis)
{
    flot_rollback_should_rollback_request_t request = {
        .on_failure = s_on_failure_name (dep),
        .health = (flot_rollback_health_t *) health,
        .analysis = (flot_analyzer_result_t *) analysis
    };
    gate_ref_t *ref = s_gate_ref (dep, s, target);
    if (!flot_actor_call_msg (dep->owner->actor, "rollback", NULL, FLOT_ROLLBACK_SHOULD_ROLLBACK,
                              &flot_rollback_should_rollback_request_def, &request, 10000,
                              false, s_on_decision, ref)) {
        flot_answer_t answer = s_unsent ();
        s_on_decision (dep->owner->actor, &answer, ref);
    }
}

//  An error that says the service could not answer now, not that the
//  target is bad: the question is asked again.
static bool
s_transient (const flot_answer_t *answer)
{
    if (answer->kind != FLOT_ERROR)
        return false;
    int code = answer->err.code;
    return code == FLOT_E_UNKNOWN_SERVICE || code == FLOT_E_NO_INSTANCE
        || code == FLOT_E_DEADLINE || code == FLOT_E_ACTOR_FAILED
        || code == FLOT_E_BUSY || code == FLOT_E_CANCELLED;
}

static void s_gate_start (deployment_t *dep, size_t s);
static void s_background_start (deployment_t *dep, int t, size_t s);

static int
s_on_gate_retry (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    gate_ref_t *ref = arg;
    deployment_t *dep = ref->dep;
    size_t s = ref->s;
    int t = ref->target;
    bool current = t < 0 ? s_gate_current (ref)
                 : dep->state == DS_RUNNING && dep->tstate [t] != TS_DONE
                   && dep->tstate [t] != TS_FAILED && !dep->trt [t].background;
    s_gate_ref_free (ref);
    if (!current)
        return 0;
    if (t < 0)
        s_gate_start (dep, s);
    else {
        dep->trt [t].background_ran = false;
        s_background_start (dep, t, dep->cursor [t] < dep->plan->first [t + 1]
                                    ? dep->cursor [t] : s);
    }
    return 0;
}

//  The service could not answer the gate of step s (or target's background
//  analysis, for target >= 0): say so, and ask again in a while.
static void
s_gate_retry (deployment_t *dep, size_t s, int target, const char *service,
              const flot_answer_t *answer)
{
    int t = target >= 0 ? target : dep->plan->steps [s].target;
    s_begin (dep->owner);
    s_event (dep, t, &flot_event_gate_waiting_def,
             &(flot_event_gate_waiting_t) {
                 .service = service, .reason = answer->err.message,
                 .retry_in_ms = GATE_RETRY_MS },
             "%s: the %s service could not answer (%s); "
             "asking again in %d ms", dep->spec->targets [t].name, service,
             answer->err.message, GATE_RETRY_MS);
    s_commit (dep->owner);
    s_pump (dep->owner);
    gate_ref_t *ref = s_gate_ref (dep, s, target);
    zloop_timer (flot_actor_loop (dep->owner->actor), GATE_RETRY_MS, 1, s_on_gate_retry, ref);
}

//  The spec's health checks (its healthChecks, kept as msgpack bytes) as
//  the CHECKs of a health request, unpacked in zone. Returns 0, or -1 with
//  *answer saying why.
static int
s_health_checks (deployment_t *dep, msgpack_zone *zone, flot_array_t *checks,
                 flot_answer_t *answer)
{
    msgpack_object list;
    size_t offset = 0;
    int rc = msgpack_unpack (dep->spec->checks.health, dep->spec->checks.health_size, &offset,
                             zone, &list);
    if (rc != MSGPACK_UNPACK_SUCCESS)
        return s_local_failure (answer, "%s: the spec's health checks cannot be read: "
                                "%zu bytes that are not one msgpack value (unpack %d)",
                                dep->id, dep->spec->checks.health_size, rc);
    if (list.type != MSGPACK_OBJECT_ARRAY)
        return s_local_failure (answer, "%s: the spec's health checks cannot be read: "
                                "msgpack type %d, not an array", dep->id, (int) list.type);
    *checks = (flot_array_t) { list.via.array.size, list.via.array.ptr };
    return 0;
}

//  Asks ShouldRollback about target t's health (t -1: the step's target):
//  healthy, the check that decided and why, cut to the lengths of the
//  rollback contract's HEALTH.
static void
s_should_rollback_health (deployment_t *dep, size_t s, int t, bool healthy,
                          const char *check, const char *message)
{
    char check_cut [128], message_cut [400];
    snprintf (check_cut, sizeof check_cut, "%s", check ? check : "");
    snprintf (message_cut, sizeof message_cut, "%s", message ? message : "");
    int target = t >= 0 ? t : dep->plan->steps [s].target;
    flot_rollback_health_t health = {
        .healthy = healthy,
        .target = dep->spec->targets [target].name,
        .check = check_cut,
        .message = message_cut
    };
    s_should_rollback_ask (dep, s, t, &health, NULL);
}

//  WaitForReady answered: ready goes on (analysis, or the soak), not ready
//  goes to ShouldRollback.
static void
s_on_ready (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    gate_ref_t *ref = arg;
    deployment_t *dep = ref->dep;
    size_t s = ref->s;
    bool current = s_gate_current (ref);
    s_gate_ref_free (ref);
    if (!current)
        return;
    step_rt_t *rt = &dep->steps [s];
    rt->gate_call = 0;
    rt->gate_arg = NULL;
    if (s_transient (answer)) {
        s_gate_retry (dep, s, -1, "health", answer);
        return;
    }
    const flot_step_t *step = &dep->plan->steps [s];
    int t = step->target;
    const char *name = dep->spec->targets [t].name;
    flot_health_wait_for_ready_reply_t reply = { .ready = false };
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    char why [400] = "";
    flot_err_t err;
    //  An error made here (corr 0: the call was not sent) says what failed.
    if (answer->kind == FLOT_ERROR)
        snprintf (why, sizeof why, "%s%s", answer->corr ? "the health service failed: " : "",
                  answer->err.message);
    else
    if (flot_health_wait_for_ready_reply_decode (answer->body, &zone, &reply, &err)) {
        reply = (flot_health_wait_for_ready_reply_t) { .ready = false };
        snprintf (why, sizeof why, "health WaitForReady: the answer is not a READY reply "
                  "(ready, gates): %s", err.message);
    }
    if (reply.ready) {
        msgpack_zone_destroy (&zone);
        dep->trt [t].health = 1;
        s_begin (dep->owner);
        s_event (dep, t, &flot_event_health_ready_def,
                 &(flot_event_health_ready_t) { .step = step->id },
                 "%s passed its health checks", name);
        s_commit (dep->owner);
        s_monitor_start (dep, t);
        if (step->type == FLOT_STEP_SOAK)
            s_soak_timer (dep, s);
        else
            s_gate_analysis (dep, s);
        return;
    }
    //  Not ready: the first gate that is not healthy says why.
    const char *check = "", *message = why;
    const flot_health_gate_t *gates = reply.gates.items;
    for (size_t i = 0; i < reply.gates.count; i++) {
        if (!gates [i].healthy || !*check) {
            check = gates [i].name;
            message = gates [i].message;
        }
        if (!gates [i].healthy)
            break;
    }
    s_should_rollback_health (dep, s, -1, false, check, message);
    msgpack_zone_destroy (&zone);
}

//  Waits for target's health checks, until past the progress deadline (so
//  that the deadline, not this wait, stops a gate that never gets ready).
static void
s_gate_health (deployment_t *dep, size_t s)
{
    step_rt_t *rt = &dep->steps [s];
    int t = dep->plan->steps [s].target;
    int64_t timeout = dep->progress_ms + dep->spec->policy.progress_deadline_ms - s_now ()
                    + GATE_MARGIN_MS;
    if (timeout < GATE_MARGIN_MS)
        timeout = GATE_MARGIN_MS;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    flot_health_wait_for_ready_request_t request = { .timeout_ms = (uint64_t) timeout };
    flot_health_context_t context;
    gate_ref_t *ref = s_gate_ref (dep, s, -1);
    rt->gate_arg = ref;
    rt->gate_call = 0;
    flot_answer_t answer = s_unsent ();         //  if it is not sent
    if (s_health_checks (dep, &zone, &request.checks, &answer) == 0
    &&  s_context (dep, t, dep->spec->workload.version, &zone, &context, &answer) == 0) {
        request.context = &context;
        rt->gate_call = flot_actor_call_msg (dep->owner->actor, "health", NULL,
                                             FLOT_HEALTH_WAIT_FOR_READY,
                                             &flot_health_wait_for_ready_request_def, &request,
                                             (uint32_t) (timeout + GATE_MARGIN_MS), false,
                                             s_on_ready, ref);
    }
    msgpack_zone_destroy (&zone);
    if (!rt->gate_call) {
        rt->gate_arg = NULL;
        s_on_ready (dep->owner->actor, &answer, ref);
    }
}

//  One analysis result: an event that says what it found, kept for
//  GetStatus, and given to ShouldRollback.
static void
s_on_analysis (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    gate_ref_t *ref = arg;
    deployment_t *dep = ref->dep;
    size_t s = ref->s;
    //  A gate's analysis, or a target's background analysis.
    bool background = ref->target >= 0;
    int t = background ? ref->target : dep->plan->steps [s].target;
    target_rt_t *trt = &dep->trt [t];
    //  The reply opens the stream; its end (or an error) is the last answer.
    bool last = answer->kind == FLOT_STREAM_END || answer->kind == FLOT_ERROR;
    bool current = background ? dep->state == DS_RUNNING && trt->background_arg == ref
                              : s_gate_current (ref);
    if (last || !current)
        s_gate_ref_free (ref);
    if (current && last && background) {
        trt->background = 0;
        trt->background_arg = NULL;
    }
    else
    if (current && last) {
        dep->steps [s].gate_call = 0;
        dep->steps [s].gate_arg = NULL;
        dep->steps [s].gate_stream = false;
    }
    if (!current || answer->kind == FLOT_REPLY)
        return;         //  the reply says the stream is open
    if (s_transient (answer)) {
        s_gate_retry (dep, s, background ? t : -1, "analyzer", answer);
        return;
    }
    //  A RESULT of the analyzer; an error, or an answer that is not one, is
    //  an analysis in error, which rolls back.
    flot_analyzer_result_t result;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    flot_err_t err;
    char reason [300] = "";
    if (answer->kind == FLOT_ERROR)
        snprintf (reason, sizeof reason, "the analysis failed: %s", answer->err.message);
    else
    if (flot_analyzer_result_decode (answer->body, &zone, &result, &err))
        snprintf (reason, sizeof reason, "the analyzer's answer is not a RESULT: %s",
                  err.message);
    if (*reason)
        result = (flot_analyzer_result_t) {
            .phase = "error", .final = true, .passed = false, .score = -1,
            .recommendation = "rollback", .reason = reason
        };
    s_analysis_keep (dep, t, &result);
    s_should_rollback_ask (dep, s, background ? t : -1, NULL, &result);
    msgpack_zone_destroy (&zone);
}

//  Starts an analysis of target t: {analysis, context, baseline}. Returns
//  the call, or 0 with *unsent the answer to give it instead.
static uint64_t
s_analysis_start (deployment_t *dep, int t, gate_ref_t *ref, flot_answer_t *unsent)
{
    //  The analysis section is the spec's, as msgpack: the analyzer parses it.
    flot_err_t err;
    flot_body_t *analysis = flot_body_decode (dep->spec->checks.analysis,
                                              dep->spec->checks.analysis_size, &err);
    flot_health_context_t context, baseline;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    uint64_t call = 0;
    *unsent = s_unsent ();
    if (!analysis)
        s_local_failure (unsent, "%s: the spec's analysis section cannot be read: %s",
                         dep->id, err.message);
    else
    if (s_context (dep, t, dep->spec->workload.version, &zone, &context, unsent) == 0
    &&  s_context (dep, t, dep->spec->workload.rollback_version, &zone, &baseline,
                   unsent) == 0) {
        flot_analyzer_run_t run = {
            .analysis = flot_body_root (analysis), .context = &context, .baseline = &baseline
        };
        call = flot_actor_call_msg (dep->owner->actor, "analyzer", NULL,
                                    FLOT_ANALYZER_START_ANALYSIS, &flot_analyzer_run_def, &run,
                                    10000, true, s_on_analysis, ref);
    }
    flot_body_destroy (&analysis);
    msgpack_zone_destroy (&zone);
    return call;
}

//  Runs the analysis of step s's target, or passes the gate if there is
//  none (or if the analysis runs in the background instead).
static void
s_gate_analysis (deployment_t *dep, size_t s)
{
    if (!dep->spec->checks.analysis || dep->background) {
        s_gate_passed (dep, s, dep->spec->checks.health ? "the target is healthy"
                                                         : "no checks are configured");
        return;
    }
    step_rt_t *rt = &dep->steps [s];
    gate_ref_t *ref = s_gate_ref (dep, s, -1);
    rt->gate_arg = ref;
    rt->gate_stream = true;
    flot_answer_t answer;
    rt->gate_call = s_analysis_start (dep, dep->plan->steps [s].target, ref, &answer);
    if (!rt->gate_call) {
        rt->gate_arg = NULL;
        rt->gate_stream = false;
        s_on_analysis (dep->owner->actor, &answer, ref);
    }
}

//  A background analysis runs for each target from its first step to its
//  end (once: a restart runs it again).
static void
s_background_start (deployment_t *dep, int t, size_t s)
{
    target_rt_t *trt = &dep->trt [t];
    if (!dep->background || trt->background || trt->background_ran)
        return;
    trt->background_ran = true;
    gate_ref_t *ref = s_gate_ref (dep, s, t);
    trt->background_arg = ref;
    flot_answer_t answer;
    trt->background = s_analysis_start (dep, t, ref, &answer);
    if (!trt->background)
        s_on_analysis (dep->owner->actor, &answer, ref);
}

//  The gate of step s passed: the step succeeds.
static void
s_gate_passed (deployment_t *dep, size_t s, const char *why)
{
    const flot_step_t *step = &dep->plan->steps [s];
    s_begin (dep->owner);
    s_event (dep, step->target, &flot_event_gate_passed_def,
             &(flot_event_gate_passed_t) {
                 .step = step->id,
                 .gate = step->gate ? step->gate : flot_step_type_name (step->type),
                 .reason = why },
             "gate %s of %s passed: %s",
             step->gate ? step->gate : flot_step_type_name (step->type),
             dep->spec->targets [step->target].name, why);
    s_commit (dep->owner);
    s_step_succeeded (dep, s, FLOT_EV_GATE_PASSED, NULL);
}

//  Starts the gate of step s (a GATE step, or the health wait of a SOAK).
static void
s_gate_start (deployment_t *dep, size_t s)
{
    if (dep->spec->checks.health)
        s_gate_health (dep, s);
    else
    if (dep->plan->steps [s].type == FLOT_STEP_SOAK)
        s_soak_timer (dep, s);
    else
        s_gate_analysis (dep, s);
}

//  --------------------------------------------------------------------------
//  Monitoring a ready target's health until it is done

static void
s_on_monitor (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    gate_ref_t *ref = arg;
    deployment_t *dep = ref->dep;
    int t = ref->target;
    target_rt_t *trt = &dep->trt [t];
    if (answer->kind != FLOT_STREAM) {
        if (answer->kind == FLOT_REPLY)
            return;     //  the stream is open
        //  The stream ended or failed: the target is no longer watched.
        trt->monitor = 0;
        trt->monitor_arg = NULL;
        s_gate_ref_free (ref);
        if (answer->kind == FLOT_ERROR)
            flot_warn (WHO, "%s: monitoring %s ended: %s", dep->id,
                          dep->spec->targets [t].name, answer->err.message);
        return;
    }
    //  A message that is not a health change is unhealthy, as a malformed
    //  answer to WaitForReady is not ready: the target's health is unknown.
    flot_health_start_monitoring_stream_t change;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    flot_err_t err;
    bool healthy = false;
    char message [320], check [128] = "";
    if (flot_health_start_monitoring_stream_decode (answer->body, &zone, &change, &err)) {
        snprintf (message, sizeof message,
                  "health StartMonitoring: a stream message that is not one: %s", err.message);
        flot_error (WHO, "%s: monitoring %s: %s", dep->id, dep->spec->targets [t].name,
                    message);
    }
    else {
        healthy = change.healthy;
        snprintf (message, sizeof message, "%s", change.message);
        snprintf (check, sizeof check, "%s", change.check);
    }
    msgpack_zone_destroy (&zone);
    int state = healthy ? 1 : 2;
    if (state == trt->health)
        return;
    bool first = trt->health == 0;
    trt->health = state;
    free (trt->health_message);
    trt->health_message = strdup (message);
    if (first && healthy)
        return;
    s_begin (dep->owner);
    flot_event_health_recovered_t recovered = { .reason = message };
    flot_event_health_failed_t failed = { .reason = message };
    s_event (dep, t, healthy ? &flot_event_health_recovered_def : &flot_event_health_failed_def,
             healthy ? (void *) &recovered : (void *) &failed, "%s is %s: %s",
             dep->spec->targets [t].name, healthy ? "healthy again" : "unhealthy", message);
    s_commit (dep->owner);
    s_pump (dep->owner);
    if (healthy || dep->state != DS_RUNNING)
        return;
    s_should_rollback_health (dep, dep->cursor [t] < dep->plan->first [t + 1]
                                   ? dep->cursor [t] : dep->plan->first [t],
                              t, false, check, message);
}

//  Watches target t's health from now until it is done (if there are
//  health checks, and it has steps).
static void
s_monitor_start (deployment_t *dep, int t)
{
    target_rt_t *trt = &dep->trt [t];
    if (!dep->spec->checks.health || trt->monitor
    ||  dep->plan->first [t] == dep->plan->first [t + 1])
        return;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    flot_health_start_monitoring_request_t request = { .context = NULL };
    flot_health_context_t context;
    gate_ref_t *ref = s_gate_ref (dep, dep->plan->first [t], t);
    trt->monitor_arg = ref;
    trt->monitor = 0;
    flot_answer_t answer = s_unsent ();         //  if it is not sent
    if (s_health_checks (dep, &zone, &request.checks, &answer) == 0
    &&  s_context (dep, t, dep->spec->workload.version, &zone, &context, &answer) == 0) {
        request.context = &context;
        trt->monitor = flot_actor_call_msg (dep->owner->actor, "health", NULL,
                                            FLOT_HEALTH_START_MONITORING,
                                            &flot_health_start_monitoring_request_def,
                                            &request, 10000, true, s_on_monitor, ref);
    }
    msgpack_zone_destroy (&zone);
    if (!trt->monitor) {
        trt->monitor_arg = NULL;
        s_gate_ref_free (ref);
        flot_warn (WHO, "%s: cannot monitor %s: %s", dep->id, dep->spec->targets [t].name,
                   answer.err.message);
    }
}

static void
s_watch_stop (deployment_t *dep, int t)
{
    target_rt_t *trt = &dep->trt [t];
    if (trt->background) {
        flot_actor_call_forget (dep->owner->actor, trt->background);
        s_gate_ref_free (trt->background_arg);
        s_stop_stream (dep, "analyzer", FLOT_ANALYZER_STOP_ANALYSIS,
                       &flot_analyzer_stop_analysis_request_def,
                       &(flot_analyzer_stop_analysis_request_t) { .stream = trt->background });
        trt->background = 0;
        trt->background_arg = NULL;
    }
    if (!trt->monitor)
        return;
    flot_actor_call_forget (dep->owner->actor, trt->monitor);
    s_gate_ref_free (trt->monitor_arg);
    s_stop_stream (dep, "health", FLOT_HEALTH_STOP_MONITORING,
                   &flot_health_stop_monitoring_request_def,
                   &(flot_health_stop_monitoring_request_t) { .stream = trt->monitor });
    trt->monitor = 0;
    trt->monitor_arg = NULL;
}

//  Stops every gate and monitor of the deployment (it ends, or rolls back).
static void
s_gates_stop (deployment_t *dep)
{
    for (size_t s = 0; s < dep->plan->step_count; s++)
        s_gate_stop (dep, s);
    for (size_t t = 0; t < dep->spec->target_count; t++)
        s_watch_stop (dep, t);
}

//  Keeps target t's latest analysis result (the analyzer's, or an error
//  made up for an analysis that failed) for GetStatus, as msgpack, and
//  publishes what it says.
static void
s_analysis_keep (deployment_t *dep, int t, const flot_analyzer_result_t *result)
{
    target_rt_t *trt = &dep->trt [t];
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_analyzer_result_def, result, &sbuf);
    free (trt->analysis);
    trt->analysis = malloc (sbuf.size);
    assert (trt->analysis);
    memcpy (trt->analysis, sbuf.data, sbuf.size);
    trt->analysis_size = sbuf.size;
    msgpack_sbuffer_destroy (&sbuf);
    //  The event: the result's phase, score, recommendation and reason, and
    //  each metric's latest value and verdict (a judge metric's class, or
    //  else its phase).
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    flot_event_analysis_result_t data = {
        .phase = result->phase, .score = result->score, .has_score = result->score >= 0,
        .recommendation = result->recommendation, .reason = result->reason
    };
    const flot_analyzer_metric_t *metrics = result->metrics.items;
    flot_events_metric_t *verdicts = result->metrics.count
        ? msgpack_zone_malloc (&zone, result->metrics.count * sizeof *verdicts) : NULL;
    data.metrics = (flot_array_t) { verdicts ? result->metrics.count : 0, verdicts };
    char scored [32] = "", said [256] = "";
    if (data.has_score)
        snprintf (scored, sizeof scored, ", score %.0f", data.score);
    for (size_t i = 0; i < data.metrics.count; i++) {
        const flot_analyzer_metric_t *m = &metrics [i];
        verdicts [i] = (flot_events_metric_t) {
            .name = m->name, .value = m->value, .has_value = m->has_value,
            .verdict = m->class ? m->class : m->phase
        };
        //  "error-rate 0.01 successful"
        char value [32] = "";
        if (m->has_value)
            snprintf (value, sizeof value, " %g", m->value);
        size_t used = strlen (said);
        snprintf (said + used, sizeof said - used, "%s%s%s %s", i ? ", " : " (",
                  m->name, value, verdicts [i].verdict);
    }
    if (*said)
        snprintf (said + strlen (said), sizeof said - strlen (said), ")");
    s_begin (dep->owner);
    s_event (dep, t, &flot_event_analysis_result_def, &data, "%s: %s%s%s, recommends %s: %s",
             dep->spec->targets [t].name, data.phase, scored, said, data.recommendation,
             data.reason);
    s_commit (dep->owner);
    msgpack_zone_destroy (&zone);
    s_pump (dep->owner);
}

//  Starts step s: a hook, a timer, or a wait for a promote.
static void
s_step_start (deployment_t *dep, size_t s)
{
    const flot_step_t *step = &dep->plan->steps [s];
    step_rt_t *rt = &dep->steps [s];
    int t = step->target;
    if (dep->promote_full
    &&  (step->type == FLOT_STEP_PAUSE || step->type == FLOT_STEP_GATE)) {
        s_step_succeeded (dep, s, FLOT_EV_SKIPPED_BY_PROMOTE, NULL);
        return;
    }
    bool resumed = rt->state == SS_RUNNING;     //  after a restart
    int64_t now = s_now ();
    s_step_to (dep, s, false, resumed ? FLOT_EV_STEP_RESUMED : FLOT_EV_STEP_START);
    if (!resumed || step->runs_hook)
        rt->attempt++;
    if (!resumed)
        rt->started_ms = now;
    s_begin (dep->owner);
    s_save_step (dep, s, false, NULL, NULL);
    s_background_start (dep, t, s);
    bool waiting = step->type == FLOT_STEP_PAUSE && step->duration_ms < 0;
    s_target_to (dep, t, waiting ? FLOT_EV_PROMOTE_AWAITED : FLOT_EV_STEP_START);
    s_event (dep, t, &flot_event_step_started_def,
             &(flot_event_step_started_t) {
                 .step = step->id, .step_type = flot_step_type_name (step->type),
                 .attempt = (uint64_t) rt->attempt, .weight = (uint64_t) step->weight,
                 .waiting = waiting },
             "step %s (%s)%s%s", step->id, flot_step_type_name (step->type),
             waiting ? ": waiting for a promote" : "", rt->attempt > 1 ? ", again" : "");
    s_save_deployment (dep);
    s_commit (dep->owner);
    int64_t elapsed = now - rt->started_ms;
    switch (step->type) {
        case FLOT_STEP_PAUSE:
            if (step->duration_ms >= 0)
                s_step_timer (dep, s, step->duration_ms - elapsed);
            break;              //  else: a promote finishes it
        case FLOT_STEP_SOAK:
            if (dep->spec->checks.health)
                s_gate_start (dep, s);          //  healthy first, then the soak
            else
                s_step_timer (dep, s, step->duration_ms - elapsed);
            break;
        case FLOT_STEP_GATE:
            s_gate_start (dep, s);
            break;
        case FLOT_STEP_CLEANUP:
            if (step->duration_ms - elapsed > 0) {
                s_step_timer (dep, s, step->duration_ms - elapsed);
                break;
            }
            s_hook_call (dep, s);
            break;
        default:
            s_hook_call (dep, s);
            break;
    }
}

//  --------------------------------------------------------------------------
//  Scheduling

//  The forward plan: start what may start; finish when nothing can.
static void
s_advance_forward (deployment_t *dep)
{
    size_t n = dep->spec->target_count;
    //  Running targets whose current step has not started (after a resume).
    for (size_t t = 0; t < n && !dep->paused; t++)
        if (dep->tstate [t] == TS_RUNNING && dep->cursor [t] < dep->plan->first [t + 1]) {
            step_rt_t *rt = &dep->steps [dep->cursor [t]];
            if (rt->state == SS_PENDING && rt->timer < 0 && rt->call == 0)
                s_step_start (dep, dep->cursor [t]);
            if (dep->state != DS_RUNNING)
                return;
        }
    size_t concurrency = dep->plan->concurrency;
    for (size_t i = 0; i < n && !dep->paused && dep->in_progress < concurrency; i++) {
        int t = dep->plan->order [i];
        if (!s_target_ready (dep, t))
            continue;
        s_target_to (dep, t, FLOT_EV_SCHEDULED);
        dep->in_progress++;
        if (dep->cursor [t] == dep->plan->first [t + 1]) {
            s_target_done (dep, t);        //  a target with no steps
            continue;
        }
        s_step_start (dep, dep->cursor [t]);
        if (dep->state != DS_RUNNING)
            return;
    }
    //  Paused, nothing starts, but nothing is over either: resume goes on.
    if (dep->in_progress > 0 || dep->paused)
        return;
    //  Nothing runs and nothing more can start: the end.
    size_t done = 0;
    for (size_t t = 0; t < n; t++) {
        if (dep->tstate [t] == TS_PENDING)
            s_target_to (dep, t, FLOT_EV_STRANDED);
        done += dep->tstate [t] == TS_DONE;
    }
    s_begin (dep->owner);
    if (done == n)
        s_finish (dep, FLOT_EV_ALL_TARGETS_DONE, "every target is on the new version");
    else {
        char message [sizeof dep->last_error];
        snprintf (message, sizeof message, "%zu of %zu targets done; %.400s", done, n,
                  dep->last_error);
        memcpy (dep->last_error, message, sizeof message);
        s_finish (dep, FLOT_EV_ENDED_INCOMPLETE, message);
    }
    s_commit (dep->owner);
}

//  Targets the deployment changed, and (blue-green) those it switched.
static void
s_touched (deployment_t *dep, bool *touched, bool *switched)
{
    for (size_t s = 0; s < dep->plan->step_count; s++) {
        const flot_step_t *step = &dep->plan->steps [s];
        const step_rt_t *rt = &dep->steps [s];
        if (step->runs_hook && rt->attempt > 0)
            touched [step->target] = true;
        if (step->type == FLOT_STEP_SWITCH && rt->attempt > 0)
            switched [step->target] = true;
    }
}

//  The rollback plan of what the deployment touched, with its steps pending.
static void
s_rollback_plan (deployment_t *dep)
{
    size_t n = dep->spec->target_count;
    bool *touched = calloc (n, sizeof (bool)), *switched = calloc (n, sizeof (bool));
    s_touched (dep, touched, switched);
    flot_plan_destroy (&dep->back);
    flot_err_t err;
    dep->back = flot_resolved_load_rollback (dep->resolved, dep->resolved_size, dep->spec,
                                             touched, switched, &err);
    free (touched);
    free (switched);
    if (!dep->back) {
        //  The bytes loaded before: only memory can fail here.
        flot_error (WHO, "%s: %s", dep->id, err.message);
        abort ();
    }
    free (dep->back_steps);
    dep->back_steps = calloc (dep->back->step_count + 1, sizeof (step_rt_t));
    for (size_t s = 0; s < dep->back->step_count; s++)
        dep->back_steps [s].timer = -1;
}

static void
s_rollback_start (deployment_t *dep)
{
    size_t n = dep->spec->target_count;
    s_gates_stop (dep);
    //  What never started will not now; what waited (a pause, a soak, a
    //  cleanup's keepOld: no hook in flight) stops waiting.
    for (size_t t = 0; t < n; t++) {
        if (dep->tstate [t] == TS_PENDING || dep->tstate [t] == TS_WAITING
        ||  dep->tstate [t] == TS_RUNNING)
            s_target_to (dep, t, FLOT_EV_ROLLBACK_STARTED);
        size_t s = dep->cursor [t];
        decision_t *decision = s < dep->plan->first [t + 1] ? s_decision_take (dep, s) : NULL;
        if (decision) {
            //  Its failure was being decided: it failed, and the rollback
            //  decides what comes next.
            s_step_failed_for_good (dep, s, decision->why, decision->output);
            void *item = decision;
            s_decision_free (&item);
        }
        else
        if (s < dep->plan->first [t + 1] && dep->steps [s].call == 0
        &&  dep->steps [s].state == SS_RUNNING) {
            s_step_to (dep, s, false, FLOT_EV_ROLLBACK_STARTED);
            dep->steps [s].finished_ms = s_now ();
            s_save_step (dep, s, false, NULL, "stopped: the deployment is rolling back");
        }
    }
    s_rollback_plan (dep);
    const char *mode = dep->spec->rollback.mode == FLOT_ROLLBACK_GRADUAL ? "gradual" : "immediate";
    s_event (dep, -1, &flot_event_rollback_started_def,
             &(flot_event_rollback_started_t) { .targets = dep->back->step_count, .mode = mode },
             "rolling back %zu target%s (%s)",
             dep->back->step_count, dep->back->step_count == 1 ? "" : "s", mode);
}

//  The rollback service runs the rollback plan; the coordinator records its
//  progress, step by step, so that after a restart it asks again for what
//  is not yet reverted (the steps keep their ids).
static void s_rollback_initiate (deployment_t *dep);

static int
s_on_rollback_retry (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    deployment_t *dep = arg;
    dep->rollback_timer = -1;
    s_advance (dep);
    return 0;
}

//  The rollback of target name moved: its step is running, succeeded or
//  failed (PROGRESS.step_state).
static void
s_rollback_step (deployment_t *dep, const char *name, const char *state, const char *message,
                 const char *output)
{
    int t = flot_spec_target_index (dep->spec, name);
    if (t < 0 || dep->back->first [t] == dep->back->first [t + 1])
        return;
    size_t s = dep->back->first [t];
    step_rt_t *rt = &dep->back_steps [s];
    const flot_step_t *step = &dep->back->steps [s];
    s_begin (dep->owner);
    if (streq (state, "running")) {
        s_step_to (dep, s, true, FLOT_EV_REVERT_RUNNING);
        rt->attempt++;
        if (!rt->started_ms)
            rt->started_ms = s_now ();
        s_event (dep, t, &flot_event_step_started_def,
                 &(flot_event_step_started_t) {
                     .step = step->id, .step_type = flot_step_type_name (step->type),
                     .attempt = (uint64_t) rt->attempt, .weight = (uint64_t) step->weight,
                     .rollback = true },
                 "rollback step %s (%s)%s", step->id,
                 flot_step_type_name (step->type), rt->attempt > 1 ? ", again" : "");
    }
    else
    if (streq (state, "succeeded")) {
        s_step_to (dep, s, true, FLOT_EV_REVERTED);
        rt->finished_ms = s_now ();
        s_target_to (dep, t, FLOT_EV_REVERTED);
        s_event (dep, t, &flot_event_step_completed_def,
                 &(flot_event_step_completed_t) {
                     .step = step->id, .step_type = flot_step_type_name (step->type),
                     .attempt = (uint64_t) rt->attempt, .weight = (uint64_t) step->weight,
                     .rollback = true, .state = "succeeded" },
                 "rollback step %s done", step->id);
    }
    else
    if (streq (state, "failed")) {
        s_step_to (dep, s, true, FLOT_EV_REVERT_FAILED);
        rt->finished_ms = s_now ();
        s_event (dep, t, &flot_event_step_failed_def,
                 &(flot_event_step_failed_t) {
                     .step = step->id, .step_type = flot_step_type_name (step->type),
                     .attempt = (uint64_t) rt->attempt, .weight = (uint64_t) step->weight,
                     .rollback = true, .reason = message },
                 "rollback step %s attempt %d failed: %s", step->id, rt->attempt, message);
    }
    s_save_step (dep, s, true, output, rt->state == SS_FAILED ? message : NULL);
    s_save_deployment (dep);
    s_commit (dep->owner);
}

//  An answer of the rollback service: the stream's progress, its end, or
//  an error (then the rollback is asked for again, a second later).
static void
s_on_rollback (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    deployment_t *dep = arg;
    if (answer->kind == FLOT_REPLY)
        return;         //  the stream is open
    if (answer->kind == FLOT_ERROR) {
        dep->rollback_call = 0;
        flot_warn (WHO, "%s: the rollback service: %s; asking again", dep->id,
                   answer->err.message);
        if (answer->err.code == FLOT_E_CONFLICT) {
            //  A rollback of ours from before a restart still runs there:
            //  it ends, and the next one takes up what it did not revert.
            flot_rollback_complete_rollback_request_t complete = {
                .deployment = dep->id, .failed = true, .has_failed = true,
                .message = "superseded: the coordinator asked again"
            };
            flot_actor_call_msg (actor, "rollback", NULL, FLOT_ROLLBACK_COMPLETE_ROLLBACK,
                                 &flot_rollback_complete_rollback_request_def, &complete,
                                 5000, false, NULL, NULL);
        }
        dep->rollback_timer = zloop_timer (flot_actor_loop (actor), OUTBOX_RETRY_MS * 2, 1,
                                           s_on_rollback_retry, dep);
        return;
    }
    //  A PROGRESS message; one that is not (a broken peer) fails the
    //  rollback when it ends the stream, and is ignored otherwise.
    flot_rollback_progress_t progress;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    flot_err_t err;
    char message [512] = "";
    if (flot_rollback_progress_decode (answer->body, &zone, &progress, &err)) {
        snprintf (message, sizeof message, "the rollback service's answer is not a PROGRESS: %s",
                  err.message);
        flot_warn (WHO, "%s: %s", dep->id, message);
        progress = (flot_rollback_progress_t) { .state = "failed" };
    }
    else {
        snprintf (message, sizeof message, "%s", progress.message);
        if (progress.target && progress.step_state)
            s_rollback_step (dep, progress.target, progress.step_state, message,
                             progress.output && *progress.output ? progress.output : NULL);
    }
    bool completed = streq (progress.state, "completed");
    msgpack_zone_destroy (&zone);
    if (answer->kind != FLOT_STREAM_END)
        return;
    dep->rollback_call = 0;
    if (completed) {
        s_advance (dep);        //  every target is reverted: it ends
        return;
    }
    s_begin (dep->owner);
    s_deployment_to (dep, FLOT_EV_ROLLBACK_FAILED);
    dep->finished_ms = s_now ();
    snprintf (dep->last_error, sizeof dep->last_error, "the rollback failed: %.400s", message);
    s_event (dep, -1, &flot_event_rollback_failed_def,
             &(flot_event_rollback_failed_t) { .reason = dep->last_error }, "%s", dep->last_error);
    s_save_deployment (dep);
    s_commit (dep->owner);
    s_pump (dep->owner);
}

//  The names of the targets for which take is true, into names (room for
//  every target of the spec).
static flot_array_t
s_names (const deployment_t *dep, const bool *take, const char **names)
{
    size_t count = 0;
    for (size_t t = 0; t < dep->spec->target_count; t++)
        if (take [t])
            names [count++] = dep->spec->targets [t].name;
    return (flot_array_t) { .count = count, .items = names };
}

//  Asks the rollback service to revert what the deployment touched and is
//  not reverted yet.
static void
s_rollback_initiate (deployment_t *dep)
{
    size_t n = dep->spec->target_count;
    bool *touched = calloc (n, sizeof (bool)), *switched = calloc (n, sizeof (bool));
    bool *reverted = calloc (n, sizeof (bool));
    const char **names = calloc (3 * n + 1, sizeof (const char *));
    assert (touched && switched && reverted && names);
    s_touched (dep, touched, switched);
    for (size_t t = 0; t < n; t++) {
        size_t first = dep->back->first [t];
        reverted [t] = first < dep->back->first [t + 1]
                    && dep->back_steps [first].state == SS_SUCCEEDED;
    }
    //  The rollback service runs from the deployment as it was resolved.
    flot_err_t err;
    flot_body_t *body = flot_body_decode (dep->resolved, dep->resolved_size, &err);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    flot_strategy_resolved_t resolved = { 0 };
    if (!body || flot_strategy_resolved_decode (flot_body_root (body), &zone, &resolved, &err)) {
        flot_error (WHO, "%s: its RESOLVED deployment no longer decodes: %s", dep->id,
                    err.message);
        abort ();
    }
    flot_rollback_initiate_rollback_request_t request = {
        .deployment = dep->id,
        .resolved = &resolved,
        .cwd = dep->cwd,
        .reason = dep->last_error,
        .touched = s_names (dep, touched, names),
        .switched = s_names (dep, switched, names + n),
        .reverted = s_names (dep, reverted, names + 2 * n)
    };
    dep->rollback_call = flot_actor_call_msg (dep->owner->actor, "rollback", NULL,
                                              FLOT_ROLLBACK_INITIATE_ROLLBACK,
                                              &flot_rollback_initiate_rollback_request_def,
                                              &request, 10000, true, s_on_rollback, dep);
    msgpack_zone_destroy (&zone);
    flot_body_destroy (&body);
    free (touched);
    free (switched);
    free (reverted);
    free (names);
    if (!dep->rollback_call) {
        flot_answer_t answer = s_unsent ();
        s_on_rollback (dep->owner->actor, &answer, dep);
    }
}

//  The rollback: once no hook of the deployment is running, the rollback
//  service reverts the touched targets; when every one is, it ends.
static void
s_advance_rollback (deployment_t *dep)
{
    if (dep->hooks_in_flight > 0 || dep->rollback_call || dep->rollback_timer >= 0)
        return;
    size_t left = 0;
    for (size_t t = 0; t < dep->spec->target_count; t++) {
        size_t first = dep->back->first [t];
        left += first < dep->back->first [t + 1] && dep->back_steps [first].state != SS_SUCCEEDED;
    }
    if (left) {
        s_rollback_initiate (dep);
        return;
    }
    s_begin (dep->owner);
    s_event (dep, -1, &flot_event_rollback_completed_def,
             &(flot_event_rollback_completed_t) { .targets = dep->back->step_count },
             "rolled back %zu target%s",
             dep->back->step_count, dep->back->step_count == 1 ? "" : "s");
    s_finish (dep, dep->aborted ? FLOT_EV_ABORT_COMPLETED : FLOT_EV_ROLLBACK_COMPLETED,
              dep->last_error);
    s_commit (dep->owner);
}

static void
s_advance (deployment_t *dep)
{
    if (dep->state == DS_RUNNING)
        s_advance_forward (dep);
    else
    if (dep->state == DS_ROLLING_BACK)
        s_advance_rollback (dep);
    s_pump (dep->owner);
}

//  --------------------------------------------------------------------------
//  Committing

static void
s_held_run (held_t *held)
{
    switch (held->kind) {
        case HELD_HOOK:
            s_hook_send (held->dep, held->s, &held->body);
            break;
        case HELD_REPLY:
            flot_request_reply_sbuf (&held->request, &held->body);
            break;
        case HELD_ERROR:
            flot_request_error (&held->request, held->code, "%s", held->message);
            break;
    }
}

//  Commits the writes made since the last flush, with each changed
//  deployment's row, then does what was held for them, in order, and
//  publishes what they queued.
static void
s_flush (coordinator_t *self)
{
    assert (self->txn_depth == 0);
    if (self->txn_open)
        s_outbox_trim (self);
    deployment_t *dep;
    while ((dep = zlistx_detach (self->dirty, NULL))) {
        dep->dirty = false;
        s_write_deployment (dep);
    }
    if (self->txn_open) {
        self->txn_open = false;
        if (flot_store_commit (self->store))
            flot_error (WHO, "%s", flot_store_error (self->store));
    }
    //  What these actions change is held for the next flush.
    zlistx_t *held = self->held;
    self->held = zlistx_new ();
    held_t *item;
    while ((item = zlistx_detach (held, NULL))) {
        s_held_run (item);
        free (item);
    }
    zlistx_destroy (&held);
    s_pump (self);
}

//  --------------------------------------------------------------------------
//  Commands

//  Answers a request with reply, a struct of def (the command's reply in
//  the contract), once what it reports is committed; TOO_LARGE, saying
//  what, if it does not fit in a body.
static void
s_answer (coordinator_t *self, flot_request_t **request_p, const flot_struct_t *def,
          const void *reply, const char *what)
{
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (def, reply, &sbuf);
    if (sbuf.size > FLOT_MAX_BODY) {
        msgpack_sbuffer_destroy (&sbuf);
        s_error (self, request_p, FLOT_E_TOO_LARGE, "the %s is over %d bytes", what,
                 FLOT_MAX_BODY);
        return;
    }
    s_reply (self, request_p, &sbuf);
}

//  The deployment called id, or NULL after answering NOT_FOUND.
static deployment_t *
s_lookup (coordinator_t *self, flot_request_t **request_p, const char *id)
{
    deployment_t *dep = zhashx_lookup (self->deployments, id);
    if (!dep)
        s_error (self, request_p, FLOT_E_NOT_FOUND, "no deployment '%s'", id);
    return dep;
}

static void
s_reply_state (flot_request_t **request_p, deployment_t *dep)
{
    flot_coordinator_state_t reply = {
        .id = dep->id, .state = s_state_name (dep), .paused = dep->paused
    };
    s_answer (dep->owner, request_p, &flot_coordinator_state_def, &reply, "state");
}

//  A Plan or Execute request while the strategy service reads its spec.
typedef struct {
    coordinator_t *self;
    flot_request_t *request;
    bool execute;               //  Execute (else Plan)
    char *text;                 //  Execute: the spec's text, file and cwd
    char *file;
    char cwd [1024];
    void *handle;               //  in the coordinator's submits
} submit_t;

static void
s_submit_free (void **item_p)
{
    submit_t *submit = *item_p;
    if (submit) {
        free (submit->text);
        free (submit->file);
        free (submit);
        *item_p = NULL;
    }
}

static void s_submitted (submit_t *submit, const msgpack_object *resolved);

static void
s_on_strategy (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    submit_t *submit = arg;
    coordinator_t *self = submit->self;
    zlistx_detach (self->submits, submit->handle);
    if (answer->kind == FLOT_ERROR)
        //  The spec's own errors come as the strategy service words them;
        //  a strategy service that could not answer is named.
        s_error (self, &submit->request, answer->err.code,
                 answer->err.code == FLOT_E_INVALID || answer->err.code == FLOT_E_TOO_LARGE
                 ? "%s" : "the strategy service could not read the spec: %s",
                 answer->err.message);
    else
    if (!submit->execute) {
        //  Plan: the strategy service's GenerateSteps answer, as it is.
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        flot_pack_begin (&sbuf, &pk);
        msgpack_pack_object (&pk, *answer->body);
        s_reply (self, &submit->request, &sbuf);
    }
    else
        s_submitted (submit, answer->body);
    void *item = submit;
    s_submit_free (&item);
}

//  Asks the strategy service to read a SPEC request's spec (whose cwd must
//  be absolute): GenerateSteps for Plan, Resolve for Execute.
static void
s_submit (flot_actor_t *actor, flot_request_t *request, bool execute)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_spec_t *args = flot_request_args (request);
    if (args->cwd && *args->cwd && *args->cwd != '/') {
        s_error (self, &request, FLOT_E_INVALID,
                 "field 'cwd': '%s' is not an absolute directory", args->cwd);
        return;
    }
    submit_t *submit = calloc (1, sizeof *submit);
    assert (submit);
    submit->self = self;
    submit->request = request;
    submit->execute = execute;
    if (execute) {
        submit->text = strdup (args->spec);
        submit->file = strdup (args->file);
        if (args->cwd && *args->cwd)
            snprintf (submit->cwd, sizeof submit->cwd, "%s", args->cwd);
        else
        if (!getcwd (submit->cwd, sizeof submit->cwd))
            strcpy (submit->cwd, "/");
    }
    flot_strategy_spec_text_t text = { .spec = args->spec, .file = args->file };
    submit->handle = zlistx_add_end (self->submits, submit);
    //  The strategy service answers within the caller's deadline, so that a
    //  caller told DEADLINE knows nothing started.
    int64_t left = flot_request_deadline (request) - zclock_mono () - DEADLINE_MARGIN_MS;
    uint32_t timeout = (uint32_t) (left < 100 ? 100 : left > STRATEGY_TIMEOUT_MS
                                   ? STRATEGY_TIMEOUT_MS : left);
    if (!flot_actor_call_msg (actor, "strategy", FLOT_STRATEGY_SPEC_KEY,
                              execute ? FLOT_STRATEGY_RESOLVE : FLOT_STRATEGY_GENERATE_STEPS,
                              &flot_strategy_spec_text_def, &text, timeout, false,
                              s_on_strategy, submit)) {
        zlistx_detach (self->submits, submit->handle);
        s_error (self, &submit->request, FLOT_E_INTERNAL,
                 "the request could not be sent to the strategy service");
        void *item = submit;
        s_submit_free (&item);
    }
}

//  Answers as strategy GenerateSteps does.
static void
s_plan (flot_actor_t *actor, flot_request_t *request)
{
    s_submit (actor, request, false);
}

static void
s_execute (flot_actor_t *actor, flot_request_t *request)
{
    s_submit (actor, request, true);
}

//  Execute, once the strategy service has resolved the spec.
static void
s_submitted (submit_t *submit, const msgpack_object *resolved)
{
    coordinator_t *self = submit->self;
    if (zclock_mono () > flot_request_deadline (submit->request)) {
        s_error (self, &submit->request, FLOT_E_DEADLINE, "the strategy service resolved the "
                 "spec after the request's deadline: no deployment was started");
        return;
    }
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_object (&pk, *resolved);
    void *bytes = sbuf.data;
    flot_err_t err;
    deployment_t *dep = s_deployment_new (self, &bytes, sbuf.size, submit->text, submit->file,
                                          submit->cwd, &err);
    if (!dep) {
        s_error (self, &submit->request, FLOT_E_INTERNAL,
                 "the strategy service's Resolve answer is not a deployment: %s", err.message);
        return;
    }
    s_begin (self);
    if (flot_store_new_id (self->store, dep->spec->name, dep->id, sizeof dep->id)) {
        s_commit (self);
        s_deployment_destroy (&dep);
        s_error (self, &submit->request, FLOT_E_INTERNAL, "the store failed: %s",
                 flot_store_error (self->store));
        return;
    }
    dep->created_ms = dep->progress_ms = s_now ();
    s_deployment_to (dep, FLOT_EV_STARTED);
    s_save_deployment (dep);
    for (size_t s = 0; s < dep->plan->step_count; s++)
        s_save_step (dep, s, false, NULL, NULL);
    s_event (dep, -1, &flot_event_deployment_started_def,
             &(flot_event_deployment_started_t) {
                 .name = dep->spec->name, .workload = dep->spec->workload.name,
                 .version = dep->spec->workload.version,
                 .previous_version = dep->spec->workload.rollback_version,
                 .targets = dep->spec->target_count, .steps = dep->plan->step_count },
             "%s %s of %s: %zu targets, %zu steps",
             dep->spec->workload.name, dep->spec->workload.version, dep->spec->name,
             dep->spec->target_count, dep->plan->step_count);
    s_commit (self);
    s_deployment_add (self, dep);
    flot_coordinator_execute_reply_t reply = {
        .id = dep->id, .state = s_state_name (dep), .steps_total = dep->plan->step_count
    };
    s_answer (self, &submit->request, &flot_coordinator_execute_reply_def, &reply, "reply");
    s_advance (dep);
}

//  Target t as GetStatus shows it; its analysis is read into zone.
static void
s_status_target (deployment_t *dep, size_t t, msgpack_zone *zone,
                 flot_coordinator_target_t *target)
{
    size_t first = dep->plan->first [t], last = dep->plan->first [t + 1];
    size_t s = dep->cursor [t] < last ? dep->cursor [t] : (last > first ? last - 1 : first);
    bool has = first < last;
    const flot_step_t *step = has ? &dep->plan->steps [s] : NULL;
    const step_rt_t *rt = has ? &dep->steps [s] : NULL;
    const target_rt_t *trt = &dep->trt [t];
    static const char *health [] = { "unknown", "healthy", "unhealthy" };
    //  The traffic weight it is at: that of its last step that succeeded.
    uint64_t weight = 0;
    for (size_t k = first; k < last; k++)
        if (dep->steps [k].state == SS_SUCCEEDED)
            weight = (uint64_t) dep->plan->steps [k].weight;
    *target = (flot_coordinator_target_t) {
        .name = dep->spec->targets [t].name,
        .state = flot_state_name (FLOT_KIND_TARGET, dep->tstate [t]),
        .step = step ? step->id : "",
        .step_type = step ? flot_step_type_name (step->type) : "",
        .step_state = rt ? flot_state_name (FLOT_KIND_STEP, rt->state) : "",
        .attempt = rt ? (uint64_t) rt->attempt : 0,
        .weight = weight,
        .started_ms = rt ? (uint64_t) dep->steps [first].started_ms : 0,
        .finished_ms = rt && dep->tstate [t] == TS_DONE ? (uint64_t) rt->finished_ms : 0,
        .health = dep->spec->checks.health ? health [trt->health] : "unchecked",
        .health_message = trt->health_message ? trt->health_message : ""
    };
    //  Kept as the RESULT's bytes (s_analysis_keep).
    msgpack_object *kept = trt->analysis ? msgpack_zone_malloc (zone, sizeof *kept) : NULL;
    flot_err_t err;
    if (kept
    &&  msgpack_unpack (trt->analysis, trt->analysis_size, NULL, zone, kept)
        == MSGPACK_UNPACK_SUCCESS) {
        target->analysis = flot_decode_new (&flot_analyzer_result_def, kept, zone, &err);
        if (!target->analysis)
            flot_warn (WHO, "%s: the analysis of %s: %s", dep->id, target->name,
                          err.message);
    }
}

static void
s_get_status (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_id_t *args = flot_request_args (request);
    deployment_t *dep = s_lookup (self, &request, args->id);
    if (!dep)
        return;
    size_t count = dep->spec->target_count;
    flot_coordinator_target_t *targets = calloc (count ? count : 1, sizeof *targets);
    assert (targets);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    for (size_t t = 0; t < count; t++)
        s_status_target (dep, t, &zone, &targets [t]);
    flot_coordinator_get_status_reply_t reply = {
        .id = dep->id,
        .name = dep->spec->name,
        .strategy = dep->spec->strategy_name,
        .state = s_state_name (dep),
        .paused = dep->paused,
        .percent = (uint64_t) flot_plan_progress (dep->plan, dep->steps_done),
        .steps_done = dep->steps_done,
        .steps_total = dep->plan->step_count,
        .created_ms = (uint64_t) dep->created_ms,
        .updated_ms = (uint64_t) dep->updated_ms,
        .finished_ms = (uint64_t) dep->finished_ms,
        .last_error = dep->last_error,
        .targets = { count, targets }
    };
    s_answer (self, &request, &flot_coordinator_get_status_reply_def, &reply, "status");
    msgpack_zone_destroy (&zone);
    free (targets);
}

static void
s_list (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_list_request_t *args = flot_request_args (request);
    size_t count = 0;
    flot_coordinator_deployment_t *items = calloc (zlistx_size (self->listed) + 1, sizeof *items);
    assert (items);
    for (deployment_t *dep = zlistx_first (self->listed); dep; dep = zlistx_next (self->listed))
        if (!args->name || streq (args->name, dep->spec->name))
            items [count++] = (flot_coordinator_deployment_t) {
                .id = dep->id,
                .name = dep->spec->name,
                .state = s_state_name (dep),
                .paused = dep->paused,
                .percent = (uint64_t) flot_plan_progress (dep->plan, dep->steps_done),
                .created_ms = (uint64_t) dep->created_ms,
                .updated_ms = (uint64_t) dep->updated_ms
            };
    flot_coordinator_list_reply_t reply = { .deployments = { count, items } };
    s_answer (self, &request, &flot_coordinator_list_reply_def, &reply, "list");
    free (items);
}

//  Pause (pause true) or Resume: no new step starts while paused; running
//  hooks finish.
static void
s_set_paused (flot_actor_t *actor, flot_request_t *request, bool pause)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_id_t *args = flot_request_args (request);
    deployment_t *dep = s_lookup (self, &request, args->id);
    if (!dep)
        return;
    if (dep->state != DS_RUNNING || dep->paused == pause) {
        if (pause)
            s_error (self, &request, FLOT_E_CONFLICT, "%s is %s%s: it cannot be paused",
                     dep->id, s_state_name (dep), dep->paused ? " and paused" : "");
        else
            s_error (self, &request, FLOT_E_CONFLICT,
                     "%s is %s and not paused: it cannot be resumed",
                     dep->id, s_state_name (dep));
        return;
    }
    dep->paused = pause;
    s_begin (self);
    if (pause)
        s_event (dep, -1, &flot_event_deployment_paused_def,
                 &(flot_event_deployment_paused_t) { .cause = "operator" },
                 "paused: no new step starts; running hooks finish");
    else
        s_event (dep, -1, &flot_event_deployment_resumed_def,
                 &(flot_event_deployment_resumed_t) { 0 }, "resumed");
    s_save_deployment (dep);
    s_commit (self);
    s_reply_state (&request, dep);
    if (pause)
        s_pump (self);
    else
        s_advance (dep);
}

static void
s_pause (flot_actor_t *actor, flot_request_t *request)
{
    s_set_paused (actor, request, true);
}

static void
s_resume (flot_actor_t *actor, flot_request_t *request)
{
    s_set_paused (actor, request, false);
}

static void
s_promote (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_promote_request_t *args = flot_request_args (request);
    deployment_t *dep = s_lookup (self, &request, args->id);
    if (!dep)
        return;
    bool full = args->full;
    if (dep->state != DS_RUNNING) {
        s_error (self, &request, FLOT_E_CONFLICT, "%s is %s: it cannot be promoted",
                            dep->id, s_state_name (dep));
        return;
    }
    //  The targets at a pause step now.
    zlistx_t *at_pause = zlistx_new ();
    bool gated = false;
    for (size_t t = 0; t < dep->spec->target_count; t++) {
        size_t s = dep->cursor [t];
        if (s >= dep->plan->first [t + 1] || dep->steps [s].state != SS_RUNNING)
            continue;
        //  A pause; a gate that waits for a person (or, in full, any gate).
        const step_rt_t *rt = &dep->steps [s];
        int type = dep->plan->steps [s].type;
        if (type == FLOT_STEP_PAUSE
        ||  (type == FLOT_STEP_GATE && (rt->gate_waiting || full)))
            zlistx_add_end (at_pause, (void *) (uintptr_t) (s + 1));
        if (rt->gate_waiting)
            gated = true;
    }
    if (!full && zlistx_size (at_pause) == 0) {
        zlistx_destroy (&at_pause);
        s_error (self, &request, FLOT_E_CONFLICT,
                            "%s has no target at a pause step or at a gate waiting for a "
                            "person; use full to skip all that remain", dep->id);
        return;
    }
    dep->promote_full = dep->promote_full || full;
    //  A gate paused it for a person: the promote is that person's answer.
    if (gated)
        dep->paused = false;
    s_begin (self);
    s_event (dep, -1, &flot_event_deployment_promoted_def,
             &(flot_event_deployment_promoted_t) { .full = full }, "%s", full
             ? "promoted in full: every remaining pause and gate is skipped"
             : "promoted: the current pauses end");
    s_save_deployment (dep);
    s_commit (self);
    s_reply_state (&request, dep);
    for (void *item = zlistx_first (at_pause); item; item = zlistx_next (at_pause)) {
        size_t s = (size_t) (uintptr_t) item - 1;
        step_rt_t *rt = &dep->steps [s];
        s_timer_cancel (dep, rt);
        s_gate_stop (dep, s);
        rt->gate_waiting = false;
        if (dep->state == DS_RUNNING && rt->state == SS_RUNNING)
            s_step_succeeded (dep, s, FLOT_EV_PROMOTED, NULL);
    }
    zlistx_destroy (&at_pause);
    s_advance (dep);
}

//  Stops timers of forward steps that wait (pauses, soaks, backoffs).
static void
s_stop_waits (deployment_t *dep)
{
    for (size_t s = 0; s < dep->plan->step_count; s++)
        s_timer_cancel (dep, &dep->steps [s]);
}

static void
s_abort (flot_actor_t *actor, flot_request_t *request)
{
    coordinator_t *self = flot_actor_state (actor);
    const flot_coordinator_abort_request_t *args = flot_request_args (request);
    deployment_t *dep = s_lookup (self, &request, args->id);
    if (!dep)
        return;
    const char *reason = args->reason;
    if (dep->state != DS_RUNNING) {
        s_error (self, &request, FLOT_E_CONFLICT, "%s is %s: it cannot be aborted",
                            dep->id, s_state_name (dep));
        return;
    }
    s_stop_waits (dep);
    dep->aborted = true;
    dep->paused = false;
    s_begin (self);
    snprintf (dep->last_error, sizeof dep->last_error, "%s", reason);
    s_deployment_to (dep, FLOT_EV_ABORTED);
    s_event (dep, -1, &flot_event_deployment_aborting_def,
             &(flot_event_deployment_aborting_t) { .reason = reason }, "%s", reason);
    s_save_deployment (dep);
    s_rollback_start (dep);
    s_commit (self);
    s_reply_state (&request, dep);
    s_advance (dep);
}

//  --------------------------------------------------------------------------
//  The progress deadline, in every state but the final ones

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coordinator_t *self = arg;
    int64_t now = s_now ();
    zlistx_t *late = zlistx_new ();
    for (deployment_t *dep = zhashx_first (self->deployments); dep;
         dep = zhashx_next (self->deployments))
        if (dep->state == DS_RUNNING
        &&  now - dep->progress_ms > dep->spec->policy.progress_deadline_ms)
            zlistx_add_end (late, dep);
    for (deployment_t *dep = zlistx_first (late); dep; dep = zlistx_next (late)) {
        size_t waiting = 0;
        for (size_t t = 0; t < dep->spec->target_count; t++)
            waiting += dep->tstate [t] == TS_WAITING;
        s_stop_waits (dep);
        s_begin (self);
        s_fail (dep, "no progress within the progress deadline of %lld ms (%s)",
                (long long) dep->spec->policy.progress_deadline_ms,
                dep->paused ? "paused" : waiting ? "waiting for a promote" : "running");
        s_commit (self);
        s_advance (dep);
    }
    zlistx_destroy (&late);
    //  Cancelled timers are gone from the loop by now: free their arguments.
    step_ref_t *ref = zlistx_first (self->timer_refs);
    while (ref) {
        step_ref_t *next = zlistx_next (self->timer_refs);
        if (ref->cancelled && zclock_mono () - ref->cancelled > 5000)
            zlistx_delete (self->timer_refs, ref->handle);
        ref = next;
    }
    if (!s_uncommitted (self))
        s_outbox_trim (self);
    s_pump (self);
    return 0;
}

//  --------------------------------------------------------------------------
//  Loading unfinished deployments after a restart

typedef struct {
    deployment_t *dep;
    zhashx_t *index;            //  step id -> index + 1 (forward), or target + 1 (rollback)
} restore_t;

static int
s_restore_step (const flot_step_row_t *row, void *arg)
{
    restore_t *restore = arg;
    deployment_t *dep = restore->dep;
    int state = flot_state_from_name (FLOT_KIND_STEP, row->state);
    if (state < 0)
        return 0;
    size_t found = (size_t) zhashx_lookup (restore->index, row->step_id);
    step_rt_t *rt = NULL;
    if (found)
        rt = &dep->steps [found - 1];
    else
    if (dep->back) {
        for (size_t s = 0; s < dep->back->step_count; s++)
            if (streq (dep->back->steps [s].id, row->step_id))
                rt = &dep->back_steps [s];
    }
    if (rt) {
        //  Loading, not a transition: the state the store kept.
        rt->state = state;
        rt->attempt = row->attempt;
        rt->started_ms = row->started_ms;
        rt->finished_ms = row->finished_ms;
    }
    return 0;
}

//  A stored deployment of an older version, without its RESOLVED bytes:
//  the strategy service resolves its spec once, and the coordinator stores
//  the answer, so that it never reads the spec again.
typedef struct {
    coordinator_t *self;
    flot_deployment_row_t row;  //  a copy, its resolved bytes to be filled
    bool finished;
    void *handle;               //  in the coordinator's resolving
} resolving_t;

static void
s_resolving_free (void **item_p)
{
    resolving_t *resolving = *item_p;
    if (resolving) {
        flot_deployment_row_clear (&resolving->row);
        free (resolving);
        *item_p = NULL;
    }
}

static void
s_resolve_later (coordinator_t *self, const flot_deployment_row_t *row, bool finished)
{
    resolving_t *resolving = calloc (1, sizeof *resolving);
    assert (resolving);
    resolving->self = self;
    resolving->finished = finished;
    resolving->row = *row;
    resolving->row.file = strdup (row->file);
    resolving->row.spec = strdup (row->spec);
    resolving->row.cwd = strdup (row->cwd);
    resolving->row.last_error = strdup (row->last_error);
    resolving->row.created_by = strdup (row->created_by);
    resolving->row.resolved = NULL;
    resolving->row.resolved_size = 0;
    resolving->handle = zlistx_add_end (self->resolving, resolving);
}

//  The deployment of a stored row, from its RESOLVED bytes (copied), or
//  NULL after saying why it cannot be loaded.
static deployment_t *
s_deployment_load (coordinator_t *self, const flot_deployment_row_t *row)
{
    void *bytes = malloc (row->resolved_size);
    assert (bytes);
    memcpy (bytes, row->resolved, row->resolved_size);
    flot_err_t err;
    deployment_t *dep = s_deployment_new (self, &bytes, row->resolved_size, NULL, row->file,
                                          row->cwd, &err);
    if (!dep) {
        flot_error (WHO, "%s cannot be loaded: its stored RESOLVED deployment is bad: %s",
                    row->id, err.message);
        return NULL;
    }
    dep->spec_written = true;
    snprintf (dep->id, sizeof dep->id, "%s", row->id);
    return dep;
}

static void s_go_on (deployment_t *dep);

static int
s_restore (const flot_deployment_row_t *row, void *arg)
{
    coordinator_t *self = arg;
    if (!row->resolved) {
        s_resolve_later (self, row, false);
        return 0;
    }
    deployment_t *dep = s_deployment_load (self, row);
    if (!dep)
        return 0;
    dep->paused = row->paused;
    dep->promote_full = streq (row->promote, "full");
    dep->created_ms = row->created_ms;
    dep->updated_ms = row->updated_ms;
    dep->progress_ms = row->progress_ms;
    snprintf (dep->last_error, sizeof dep->last_error, "%s", row->last_error);
    //  Loading, not a transition (transitions.h): the deployment, its steps
    //  and its targets are set as the store's rows say, not moved.
    dep->state = streq (row->state, "rolling_back") ? DS_ROLLING_BACK : DS_RUNNING;
    restore_t restore = { dep, zhashx_new () };
    for (size_t s = 0; s < dep->plan->step_count; s++)
        zhashx_insert (restore.index, dep->plan->steps [s].id, (void *) (s + 1));
    flot_store_each_step (self->store, dep->id, s_restore_step, &restore);
    //  Targets from their steps: done, failed, or in progress at the first
    //  step not finished. An interrupted step starts again (same id).
    for (size_t t = 0; t < dep->spec->target_count; t++) {
        size_t s = dep->plan->first [t], last = dep->plan->first [t + 1];
        bool started = false, failed = false;
        for (size_t k = s; k < last; k++) {
            started |= dep->steps [k].state != SS_PENDING || dep->steps [k].attempt > 0;
            failed |= dep->steps [k].state == SS_FAILED;
        }
        while (s < last && (dep->steps [s].state == SS_SUCCEEDED
                         || dep->steps [s].state == SS_SKIPPED)) {
            dep->steps_done++;
            s++;
        }
        dep->cursor [t] = s;
        if (failed) {
            dep->tstate [t] = TS_FAILED;
            dep->failed_targets++;
            if (dep->spec->policy.on_failure == FLOT_ON_FAILURE_CONTINUE)
                s_target_release (dep, (int) t);
        }
        else
        if (s == last) {
            dep->tstate [t] = TS_DONE;
            s_target_release (dep, (int) t);
        }
        else
        if (started) {
            dep->tstate [t] = TS_RUNNING;
            dep->in_progress++;
            //  Running at the crash: run again. A pause keeps its start time.
            step_rt_t *rt = &dep->steps [s];
            if (rt->state == SS_RUNNING && dep->plan->steps [s].runs_hook)
                rt->state = SS_PENDING;
            if (rt->state == SS_RUNNING && dep->plan->steps [s].type == FLOT_STEP_PAUSE
            &&  dep->plan->steps [s].duration_ms < 0)
                dep->tstate [t] = TS_WAITING;
        }
    }
    if (dep->state == DS_ROLLING_BACK) {
        s_rollback_plan (dep);
        flot_store_each_step (self->store, dep->id, s_restore_step, &restore);
        //  As s_rollback_start left them: what did not finish is held.
        for (size_t t = 0; t < dep->spec->target_count; t++)
            if (dep->tstate [t] == TS_PENDING || dep->tstate [t] == TS_RUNNING
            ||  dep->tstate [t] == TS_WAITING)
                dep->tstate [t] = TS_HELD;
        for (size_t s = 0; s < dep->back->step_count; s++) {
            if (dep->back_steps [s].state == SS_RUNNING)
                dep->back_steps [s].state = SS_PENDING;
            if (dep->back_steps [s].state == SS_SUCCEEDED)
                dep->tstate [dep->back->steps [s].target] = TS_ROLLED_BACK;
        }
        dep->aborted = strstr (row->last_error, "abort") != NULL;
    }
    zhashx_destroy (&restore.index);
    s_deployment_add (self, dep);
    flot_notice (WHO, "resuming %s (%s, %zu of %zu steps done)", dep->id, row->state,
                 dep->steps_done, dep->plan->step_count);
    return 0;
}

//  Loads finished deployments too, for status and list.
static int
s_restore_finished (const flot_deployment_row_t *row, void *arg)
{
    coordinator_t *self = arg;
    if (row->finished_ms == 0 || zhashx_lookup (self->deployments, row->id))
        return 0;
    if (!row->resolved) {
        s_resolve_later (self, row, true);
        return 0;
    }
    deployment_t *dep = s_deployment_load (self, row);
    if (!dep)
        return 0;
    //  Loading, not a transition: its state, targets and steps as stored.
    int state = flot_state_from_name (FLOT_KIND_DEPLOYMENT, row->state);
    dep->state = state >= 0 ? state : DS_FAILED;
    dep->created_ms = row->created_ms;
    dep->updated_ms = row->updated_ms;
    dep->finished_ms = row->finished_ms;
    snprintf (dep->last_error, sizeof dep->last_error, "%s", row->last_error);
    restore_t restore = { dep, zhashx_new () };
    for (size_t s = 0; s < dep->plan->step_count; s++)
        zhashx_insert (restore.index, dep->plan->steps [s].id, (void *) (s + 1));
    flot_store_each_step (self->store, dep->id, s_restore_step, &restore);
    zhashx_destroy (&restore.index);
    for (size_t s = 0; s < dep->plan->step_count; s++)
        dep->steps_done += dep->steps [s].state == SS_SUCCEEDED
                        || dep->steps [s].state == SS_SKIPPED;
    for (size_t t = 0; t < dep->spec->target_count; t++) {
        size_t s = dep->plan->first [t];
        while (s < dep->plan->first [t + 1] && (dep->steps [s].state == SS_SUCCEEDED
                                             || dep->steps [s].state == SS_SKIPPED))
            s++;
        dep->cursor [t] = s;
        dep->tstate [t] = s == dep->plan->first [t + 1] ? TS_DONE : TS_HELD;
    }
    s_deployment_add (self, dep);
    return 0;
}

//  --------------------------------------------------------------------------
//  Life cycle

static void s_resolve_ask (resolving_t *resolving);

static int
s_on_resolve_retry (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_resolve_ask (arg);
    return 0;
}

static void
s_on_resolved (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    resolving_t *resolving = arg;
    coordinator_t *self = resolving->self;
    flot_deployment_row_t *row = &resolving->row;
    if (s_transient (answer)) {
        flot_warn (WHO, "%s: the strategy service could not resolve its spec (%s); "
                      "asking again in %d ms", row->id, answer->err.message, GATE_RETRY_MS);
        zloop_timer (flot_actor_loop (actor), GATE_RETRY_MS, 1, s_on_resolve_retry, resolving);
        return;
    }
    if (answer->kind == FLOT_ERROR)
        flot_error (WHO, "%s cannot be loaded: the strategy service cannot resolve its "
                    "spec: %s", row->id, answer->err.message);
    else {
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        flot_pack_begin (&sbuf, &pk);
        msgpack_pack_object (&pk, *answer->body);
        row->resolved = sbuf.data;
        row->resolved_size = sbuf.size;
        if (resolving->finished)
            s_restore_finished (row, self);
        else
            s_restore (row, self);
        deployment_t *dep = zhashx_lookup (self->deployments, row->id);
        if (dep) {
            //  Stored with its RESOLVED bytes from now on.
            dep->spec_written = false;
            dep->text = strdup (row->spec);
            s_begin (self);
            s_save_deployment (dep);
            s_commit (self);
            if (!resolving->finished)
                s_go_on (dep);
        }
    }
    zlistx_detach (self->resolving, resolving->handle);
    void *item = resolving;
    s_resolving_free (&item);
    s_pump (self);
}

static void
s_resolve_ask (resolving_t *resolving)
{
    coordinator_t *self = resolving->self;
    flot_strategy_spec_text_t text = { .spec = resolving->row.spec, .file = resolving->row.file };
    if (!flot_actor_call_msg (self->actor, "strategy", FLOT_STRATEGY_SPEC_KEY, FLOT_STRATEGY_RESOLVE,
                              &flot_strategy_spec_text_def, &text, STRATEGY_TIMEOUT_MS, false,
                              s_on_resolved, resolving))
        zloop_timer (flot_actor_loop (self->actor), GATE_RETRY_MS, 1, s_on_resolve_retry,
                     resolving);
}

static int
s_on_resume_all (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coordinator_t *self = arg;
    zlistx_t *open = zlistx_new ();
    for (deployment_t *dep = zhashx_first (self->deployments); dep;
         dep = zhashx_next (self->deployments))
        if (dep->state == DS_RUNNING || dep->state == DS_ROLLING_BACK)
            zlistx_add_end (open, dep);
    for (deployment_t *dep = zlistx_first (open); dep; dep = zlistx_next (open))
        s_go_on (dep);
    zlistx_destroy (&open);
    for (resolving_t *resolving = zlistx_first (self->resolving); resolving;
         resolving = zlistx_next (self->resolving))
        s_resolve_ask (resolving);
    s_pump (self);
    return 0;
}

//  Goes on with a loaded deployment: a timed pause or soak that was
//  running goes on for what is left.
static void
s_go_on (deployment_t *dep)
{
    for (size_t t = 0; t < dep->spec->target_count && dep->state == DS_RUNNING; t++) {
        size_t s = dep->cursor [t];
        if (s < dep->plan->first [t + 1] && dep->steps [s].state == SS_RUNNING
        &&  !dep->plan->steps [s].runs_hook && dep->plan->steps [s].duration_ms >= 0)
            s_step_start (dep, s);
    }
    s_advance (dep);
}

static int
s_start (flot_actor_t *actor)
{
    const char *path = flot_actor_option (actor, "store", "flotilla.db");
    const char *tick = flot_actor_option (actor, "tick", "200");
    flot_err_t err;
    flot_store_t *store = flot_store_open (path, &err);
    if (!store) {
        flot_error (WHO, "%s", err.message);
        return -1;
    }
    coordinator_t *self = calloc (1, sizeof *self);
    assert (self);
    self->actor = actor;
    self->store = store;
    self->retry_timer = -1;
    self->flush_timer = -1;
    self->dirty = zlistx_new ();
    self->held = zlistx_new ();
    self->deployments = zhashx_new ();
    zhashx_set_destructor (self->deployments, s_deployment_free);
    self->listed = zlistx_new ();
    zlistx_set_comparator (self->listed, s_by_created);
    self->outgoing = zlistx_new ();
    zlistx_set_destructor (self->outgoing, s_outgoing_free);
    self->timer_refs = zlistx_new ();
    zlistx_set_destructor (self->timer_refs, s_ref_free);
    self->gate_refs = zlistx_new ();
    zlistx_set_destructor (self->gate_refs, s_ref_free);
    self->submits = zlistx_new ();
    zlistx_set_destructor (self->submits, s_submit_free);
    self->decisions = zlistx_new ();
    zlistx_set_destructor (self->decisions, s_decision_free);
    self->resolving = zlistx_new ();
    zlistx_set_destructor (self->resolving, s_resolving_free);
    flot_actor_set_state (actor, self);
    flot_store_each_deployment (store, true, s_restore, self);
    flot_store_each_deployment (store, false, s_restore_finished, self);
    int tick_ms = atoi (tick);
    zloop_timer (flot_actor_loop (actor), (size_t) (tick_ms > 0 ? tick_ms : 200), 0,
                 s_on_tick, self);
    //  Go on with what was running, once the loop runs.
    zloop_timer (flot_actor_loop (actor), 1, 1, s_on_resume_all, self);
    flot_notice (WHO, "store %s: %zu deployments", path, zhashx_size (self->deployments));
    return 0;
}

static void
s_stop (flot_actor_t *actor)
{
    coordinator_t *self = flot_actor_state (actor);
    if (!self)
        return;
    //  The loop has ended: commit what is written and do what waits for it.
    while (self->txn_open || zlistx_size (self->dirty) || zlistx_size (self->held)) {
        self->flush_timer = -1;
        s_flush (self);
    }
    s_outbox_trim (self);
    zlistx_destroy (&self->dirty);
    zlistx_destroy (&self->held);
    zlistx_destroy (&self->listed);
    zlistx_destroy (&self->outgoing);
    zhashx_destroy (&self->deployments);
    zlistx_destroy (&self->timer_refs);
    zlistx_destroy (&self->gate_refs);
    zlistx_destroy (&self->submits);
    zlistx_destroy (&self->resolving);
    zlistx_destroy (&self->decisions);
    flot_store_destroy (&self->store);
    free (self);
    flot_actor_set_state (actor, NULL);
}

static const flot_command_t s_commands [] = {
    { "Plan", s_plan },
    { "Execute", s_execute },
    { "GetStatus", s_get_status },
    { "List", s_list },
    { "Pause", s_pause },
    { "Resume", s_resume },
    { "Promote", s_promote },
    { "Abort", s_abort },
    { NULL, NULL }
};

const flot_actor_def_t flot_coordinator_actor = {
    .service = "coordinator",
    .contract = &flot_coordinator_contract,
    .commands = s_commands,
    .start = s_start,
    .stop = s_stop
};
