/*  coordinator_internal.h - private to actors/coordinator: the state the
    coordinator actor's files share, and what one of them calls in another.

    One coordinator_t (the actor's state) holds every deployment_t; each
    deployment holds the runtime of its steps (step_rt_t) and of its
    targets (target_rt_t). A function one file calls in another is named
    coord_* and declared here, under the file that defines it; a function
    only its own file calls stays static there (s_*), as do the types only
    one file needs. coordinator.c's opening comment says which file holds
    what. Not installed.
*/
#ifndef FLOTILLA_COORDINATOR_INTERNAL_H_INCLUDED
#define FLOTILLA_COORDINATOR_INTERNAL_H_INCLUDED

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
#define ACTIONS_SHOWN 20            //  operators' commands GetStatus shows (the last)
#define COORD_SKIPPED "skipped by an operator"  //  the error of a step Skip let go
#define STDERR_TAIL 1024            //  of a failed run's stderr, in status and events

typedef struct _coordinator_t coordinator_t;
typedef struct _deployment_t deployment_t;

//  The runtime of one step, forward or rollback.
typedef struct {
    int state;
    int attempt;
    int uncounted;              //  attempts the hook's retries do not count: those whose
                                //  run the executor stopped, those before an operator's Retry
    bool skipped_by_operator;   //  an operator's Skip let its target go
    const char *stderr_now;     //  its run's stderr, to be written with the row (borrowed,
                                //  while its answer is handled); NULL: the row keeps its own
    char *stderr_tail;          //  the last lines of its latest failed run's stderr, or NULL
    int64_t started_ms;         //  unix ms, 0 if never
    int64_t finished_ms;
    uint64_t call;              //  the executor call in flight, 0 if none
    int timer;                  //  a pause, soak, delay or backoff; -1 if none
    void *timer_arg;            //  the timer's argument, freed if it is cancelled
    int fault_timer;            //  waits after an executor fault (its run may go on,
                                //  counted in hooks_in_flight); -1 if none
    bool fault_lost;            //  that fault was the executor lost (ACTOR_FAILED)
    bool again;                 //  its current attempt was sent before: asked again
    bool fault_delivered;       //  the fault it waits after may have reached an executor
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
    bool released;              //  no longer holds up its dependents and wave
} target_rt_t;

struct _deployment_t {
    coordinator_t *owner;
    char id [FLOT_STORE_ID_MAX];
    uint64_t number;            //  n of its id `<name>-<n>` (0 if none): List's order
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
    //  The targets in state running, so that going on does not look at
    //  every target (running_at: each one's place in running, or -1).
    int *running, *running_at;
    size_t running_count;
    size_t order_first;         //  plan->order before it holds no pending target
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
    bool restored;              //  loaded from the store, not gone on with yet
    char applied_by [FLOT_MAX_KEY + 1];     //  who applied it (Execute); "": not known
    char aborted_by [FLOT_MAX_KEY + 1];     //  who aborted it, once aborted
    char rollback_by [FLOT_MAX_KEY + 1];    //  who rolled it back (Rollback), once asked
    int64_t created_ms, updated_ms, finished_ms, progress_ms;
    char last_error [512];
    bool dirty;                 //  its row is to be written at the next flush
    bool spec_written;          //  its spec is in the store (written once)
    bool background;            //  the analysis runs in the background, not at gates
    uint64_t rollback_call;     //  the rollback service's stream, 0 if none
    int rollback_timer;         //  asks the rollback service again; -1 if none
    char queued_behind [FLOT_STORE_ID_MAX];     //  the holder it waits behind; "" if none
    void *queue_handle;         //  in the coordinator's queue while it waits
};

struct _coordinator_t {
    flot_actor_t *actor;
    flot_store_t *store;
    zhashx_t *deployments;      //  id -> deployment_t
    zlistx_t *listed;           //  deployment_t *, oldest first: List's order
                                //  (coord_by_created: by the number in the id)
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
    int txn_depth;              //  coord_begin .. coord_commit nesting
    bool txn_open;              //  a store transaction holds writes not committed
    int flush_timer;            //  commits them at the next loop turn; -1 if none
    zlistx_t *dirty;            //  deployment_t *: rows to write at the flush
    zlistx_t *held;             //  held_t *: actions waiting for the commit
    zlistx_t *timer_refs;       //  step_ref_t *: arguments of step timers
    zlistx_t *cancelled_refs;   //  step_ref_t *: those of cancelled timers, in the order
                                //  they were cancelled (the tick frees them from the head)
    zlistx_t *gate_refs;        //  gate_ref_t *: arguments of gate calls
    zlistx_t *submits;          //  submit_t *: Plan and Execute requests at the strategy service
    zlistx_t *resolving;        //  resolving_t *: stored deployments being resolved again
    zlistx_t *decisions;        //  decision_t *: failed steps the strategy service decides on
    zlistx_t *cancelled_decisions;  //  decision_t *: taken with their timer pending, in the
                                //  order they were taken (freed as cancelled_refs are)
    //  The progress deadline: no deployment that can be late (running, not
    //  queued) has its deadline (progress_ms + progressDeadline) before
    //  deadline_next, so the tick looks at none until then (commands.c).
    //  Whatever makes one able to be late, or moves its progress back,
    //  lowers it (coord_deadline_watch).
    int64_t deadline_next;      //  0: the next tick looks
    int64_t tick_last;          //  coord_now at the last tick (the clock may go back)
    zhashx_t *holds;            //  "workload\x1ftarget" -> the deployment_t * holding it
    zlistx_t *queue;            //  deployment_t *: those waiting behind a holder, in order
    int dequeue_timer;          //  walks the queue at the next turn; -1 if none
};

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

//  The argument of a step's timer. Only its callback frees it, or, once
//  cancelled (once ended, its timer is never called), the
//  tick some seconds later; all that remain go at shutdown.
typedef struct {
    deployment_t *dep;
    size_t s;
    int64_t cancelled;          //  zclock_mono when cancelled, else 0
    void *handle;               //  in the coordinator's timer_refs (cancelled_refs once
                                //  cancelled)
} step_ref_t;

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
    int64_t cancelled;          //  zclock_mono when taken with its timer pending, else 0
    void *handle;               //  in the coordinator's decisions (cancelled_decisions
                                //  once cancelled)
} decision_t;

//  --------------------------------------------------------------------------
//  coordinator.c: the store transaction, and what waits for its commit

int64_t coord_now (void);
//  Writes that must land together go between coord_begin and coord_commit.
void coord_begin (coordinator_t *self);
void coord_commit (coordinator_t *self);
bool coord_uncommitted (coordinator_t *self);
held_t *coord_hold (coordinator_t *self, held_kind_t kind);
//  Answers to requests, held until what they report is committed.
void coord_reply (coordinator_t *self, flot_request_t **request_p, msgpack_sbuffer *sbuf);
void coord_error (coordinator_t *self, flot_request_t **request_p, int code,
                  const char *format, ...) __attribute__ ((format (printf, 4, 5)));

//  --------------------------------------------------------------------------
//  outbox.c: the store writes, and the events' outbox

void coord_write_deployment (deployment_t *dep);
void coord_save_deployment (deployment_t *dep);
void coord_save_step (deployment_t *dep, size_t s, bool back, const char *output,
                      const char *error);
//  Records an operator's command on the deployment (in the open
//  transaction): command, by (the caller's key name, "" if not known) and
//  reason ("" if none).
void coord_action (deployment_t *dep, const char *command, const char *by,
                   const char *reason);
void coord_outbox_trim (coordinator_t *self);
void coord_outgoing_free (void **item_p);
void coord_pump (coordinator_t *self);
//  Queues an event in the outbox, in the open transaction.
void coord_event (deployment_t *dep, int target, const flot_struct_t *def, void *data,
                  const char *format, ...) __attribute__ ((format (printf, 5, 6)));

//  --------------------------------------------------------------------------
//  deployment.c: a deployment in memory, and its state changes

deployment_t *coord_deployment_new (coordinator_t *self, void **resolved_p,
                                    size_t resolved_size, const msgpack_object *decoded,
                                    const char *text, const char *file, const char *cwd,
                                    flot_err_t *err);
void coord_deployment_destroy (deployment_t **dep_p);
void coord_deployment_free (void **item_p);
//  The number n of an id `<name>-<n>`, as the store makes them: 0 with *n
//  set, or -1 if id is not of that form.
int  coord_id_number (const char *id, uint64_t *n);
//  List's order (oldest first) of two keys (number, id): -1, 0 or 1. The
//  order is total and the same after a restart: the store gives each id
//  its number once; the id breaks a tie (ids are unique).
int  coord_key_cmp (uint64_t a_number, const char *a_id, uint64_t b_number,
                    const char *b_id);
//  List's order of two deployment_t: by their keys (coord_key_cmp).
int  coord_by_created (const void *a, const void *b);
void coord_deployment_add (coordinator_t *self, deployment_t *dep);
void coord_target_release (deployment_t *dep, int t);
void coord_deployment_to (deployment_t *dep, flot_transition_event_t event);
void coord_target_to (deployment_t *dep, int t, flot_transition_event_t event);
//  After its targets' states were set without transitions (restored):
//  the running set and the pending cursor from them.
void coord_targets_loaded (deployment_t *dep);
void coord_step_to (deployment_t *dep, size_t s, bool back, flot_transition_event_t event);
//  Called where a deployment may have become able to be late (running and
//  not queued: started, reopened, dequeued, loaded) or its progress_ms may
//  have moved back: lowers its owner's deadline_next to its deadline. Any
//  other call is harmless (the tick looks once more).
void coord_deadline_watch (deployment_t *dep);
//  When dep's progress deadline passes (unix ms): it is late once now is
//  past it.
int64_t coord_deadline_at (const deployment_t *dep);
const char *coord_state_name (const deployment_t *dep);

//  --------------------------------------------------------------------------
//  schedule.c: what starts next, the end, and the rollback

void coord_advance (deployment_t *dep);
void coord_fail (deployment_t *dep, const char *format, ...);
void coord_rollback_start (deployment_t *dep);
void coord_rollback_plan (deployment_t *dep);

//  --------------------------------------------------------------------------
//  steps.c: a step from start to end, and the strategy service's decisions

void coord_step_start (deployment_t *dep, size_t s);
//  After a restart: step s's hook was running; the executor is asked again
//  for the same attempt, whose run it answers once (SPEC 17).
void coord_hook_resume (deployment_t *dep, size_t s);
//  The last lines of text, at most STDERR_TAIL bytes, as a new string.
char *coord_tail (const char *text);
void coord_step_succeeded (deployment_t *dep, size_t s, flot_transition_event_t event,
                           const char *output);
void coord_step_failed_as (deployment_t *dep, size_t s, const char *why, const char *output,
                           bool may_retry);
void coord_step_failed_for_good (deployment_t *dep, size_t s, const char *why,
                                 const char *output);
void coord_target_done (deployment_t *dep, int t);
void coord_step_timer (deployment_t *dep, size_t s, int64_t ms);
void coord_timer_cancel (deployment_t *dep, step_rt_t *rt);
void coord_stop_waits (deployment_t *dep);
void coord_ref_free (void **item_p);
void coord_hook_send (deployment_t *dep, size_t s, msgpack_sbuffer *body);
decision_t *coord_decision_take (deployment_t *dep, size_t s);
void coord_decision_free (void **item_p);
flot_answer_t coord_unsent (void);

//  --------------------------------------------------------------------------
//  gates.c: gates, and watching a target (health, analysis)

void coord_gate_start (deployment_t *dep, size_t s);
void coord_gate_stop (deployment_t *dep, size_t s);
void coord_gates_stop (deployment_t *dep);
void coord_background_start (deployment_t *dep, int t, size_t s);
void coord_watch_stop (deployment_t *dep, int t);
bool coord_transient (const flot_answer_t *answer);
const char *coord_on_failure_name (const deployment_t *dep);

//  --------------------------------------------------------------------------
//  commands.c: the commands, and the progress deadline

extern const flot_command_t coord_commands [];
void coord_submit_free (void **item_p);
int  coord_on_tick (flot_loop_t *loop, int timer_id, void *arg);
//  The tick's work that walks nothing that is not due: adds to late
//  (deployment_t *) the deployments past their progress deadline at now
//  (unix ms) and sets deadline_next for the others, if deadline_next is
//  reached (or the clock went back since the last call); else adds none.
void coord_deadlines_due (coordinator_t *self, int64_t now, zlistx_t *late);
//  Frees the arguments of timers, and the decisions, cancelled more than
//  5 s before mono (zclock_mono), the oldest first, and stops at the first
//  that is not.
void coord_cancelled_reap (coordinator_t *self, int64_t mono);
//  Paged replies (SPEC 18.1). The targets a GetStatus request chooses
//  (target >= 0: that one; state >= 0: those in it; else all, by tstate of
//  n) from offset, limit at most, go in chosen: returns how many, with
//  *total of them in all. coord_count_states counts n targets by state
//  (total [TS_COUNT]) and, for waves below shown, by wave. coord_encode_page
//  encodes reply (of def) with the first n of count items of *array, n cut
//  down until the body fits, and sets page (whose offset and total are
//  set) for them; 0, or -1 if even none fits.
size_t coord_status_choose (const int *tstate, size_t n, int target, int state, size_t offset,
                            size_t limit, size_t *chosen, size_t *total);
void coord_count_states (const int *tstate, const flot_target_t *targets, size_t n,
                         size_t shown, uint64_t *total, uint64_t (*by_wave) [TS_COUNT],
                         uint64_t *wave_targets);
int  coord_encode_page (const flot_struct_t *def, const void *reply, flot_array_t *array,
                        size_t count, size_t wanted, flot_coordinator_page_t *page,
                        msgpack_sbuffer *sbuf);
//  A List page (reply, of count deployments) as coord_encode_page encodes
//  it, with page->next_after, when more follow, the id of the last
//  deployment that fit (after, the request's cursor or NULL, if none did).
int  coord_encode_list_page (flot_coordinator_list_reply_t *reply, size_t count,
                             flot_coordinator_page_t *page, const char *after,
                             msgpack_sbuffer *sbuf);

//  --------------------------------------------------------------------------
//  restore.c: loading after a restart

int  coord_restore (const flot_deployment_row_t *row, void *arg);
int  coord_restore_finished (const flot_deployment_row_t *row, void *arg);
int  coord_on_resume_all (flot_loop_t *loop, int timer_id, void *arg);
void coord_go_on_restored (deployment_t *dep);
//  The deployment of a gate's call argument (gates.c), for retention.
deployment_t *coord_gate_ref_dep (const void *ref);
void coord_resolving_free (void **item_p);

//  --------------------------------------------------------------------------
//  holds.c: one deployment per target

//  The deployment other than dep that holds one of dep's targets, or waits
//  for one in the queue; NULL if none. *target is that target's index.
deployment_t *coord_holder (deployment_t *dep, size_t *target);
//  Adds to ahead (deployment_t *) every distinct deployment that holds one
//  of dep's targets or waits for one in the queue.
//  A running or rolling back deployment takes its targets, or its place in
//  the queue (queued_behind set); one that ends gives them up, and the
//  queue is walked at the next turn.
void coord_holders (deployment_t *dep, zlistx_t *ahead);
//  A deployment created after dep that changed one of its targets (it ran a
//  step), or NULL; *target is that target's index.
deployment_t *coord_later (deployment_t *dep, size_t *target);
void coord_holds_add (deployment_t *dep);
void coord_holds_drop (deployment_t *dep);
void coord_queue_check (coordinator_t *self);

#endif
