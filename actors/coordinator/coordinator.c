/*  coordinator.c - the coordinator actor (service "coordinator"): its life
    cycle, and the store transaction every change joins.

    Owns the deployments: for each, the RESOLVED deployment the strategy
    service read from its spec (common/resolved.c: targets, hook, policy,
    steps; it never reads a spec itself), the state of every target and step
    (transitions.c: the moves between states, as tables), and the durable
    record of all of it (store.c). A deployment runs targets in dependency
    order, at most maxConcurrency at once, each through its steps: hooks go
    to the executor service (routed by target), pauses and soaks are timers,
    a pause without a duration waits for a promote; gates ask the health and
    analyzer services, and the rollback service decides from what they say.
    The strategy service decides what a failed step leads to (HandleFailure:
    a retry, or the policy) and whether a timed pause is over
    (ShouldPromote), and a step waits while it cannot answer (SPEC section
    16.2); a deployment that fails or is aborted is rolled back by the
    rollback service, in reverse dependency order, its progress recorded
    here step by step. Every change is written to the store, with its event
    in the outbox, before it is acted on; the outbox is published through
    the events service in order. On start, unfinished deployments are loaded
    and go on: finished steps are not run again, and an interrupted step
    runs again under its step id.

    Writes are grouped: the changes made while the actor's loop handles a
    batch of messages and timers go into one store transaction, committed
    at the next turn of the loop (s_flush), with each changed deployment's
    row written once. What acts on those changes (a hook sent to the
    executor, an answer to a request, an event published) is held until
    that commit, so nothing outside ever sees a change the store could
    still lose.

    The actor's files share one state, coordinator_t, with a deployment_t
    per deployment (coordinator_internal.h, which declares what one file
    calls in another, named coord_*):

        coordinator.c   this: start and stop, the actor's definition, and
                        the transaction: coord_begin .. coord_commit, the
                        flush, and what is held until it (coord_reply,
                        coord_error, a step's hook)
        outbox.c        the store writes (a deployment's row, a step's row)
                        and the events: coord_event queues one in the
                        outbox, coord_pump publishes them in order
        deployment.c    a deployment in memory (built from its RESOLVED
                        bytes, its dependency counts) and its state changes
                        through transitions.c
        schedule.c      what starts next (coord_advance), the end of a
                        deployment, and its rollback by the rollback service
        steps.c         a step from start to end: hooks on the executor,
                        timers, and what the strategy service decides of a
                        failed step (HandleFailure) or a timed pause
                        (ShouldPromote)
        gates.c         gates and watching a target: health, analysis, and
                        the rollback service's ShouldRollback
        commands.c      the contract's commands (Plan, Execute, GetStatus,
                        List, Pause, Resume, Promote, Abort) and the
                        progress deadline
        restore.c       loading the store's deployments after a restart,
                        resolving old rows again, and going on
*/

#include "coordinator_internal.h"

//  --------------------------------------------------------------------------
//  The store transaction

//  The time now, in unix ms: what the store and the events record.
int64_t
coord_now (void)
{
    return zclock_time ();
}

static void s_flush (coordinator_t *self);

static int
s_on_flush (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coordinator_t *self = arg;
    self->flush_timer = -1;
    s_flush (self);
    return 0;
}

//  Writes that must land together follow coord_begin; they join the open
//  transaction, which s_flush commits at the next turn of the loop.
void
coord_begin (coordinator_t *self)
{
    self->txn_depth++;
    if (!self->txn_open) {
        if (flot_store_begin (self->store) == 0)
            self->txn_open = true;
        else
            flot_error (WHO, "%s", flot_store_error (self->store));
    }
    if (self->flush_timer < 0)
        self->flush_timer = flot_loop_timer (flot_actor_loop (self->actor), 0, 1,
                                         s_on_flush, self);
}

void
coord_commit (coordinator_t *self)
{
    assert (self->txn_depth > 0);
    //  Without a timer (out of memory), commit now, as each change comes.
    if (--self->txn_depth == 0 && self->flush_timer < 0)
        s_flush (self);
}

//  True while writes wait for their commit: what acts on them waits too.
bool
coord_uncommitted (coordinator_t *self)
{
    return self->txn_depth > 0 || self->flush_timer >= 0;
}

held_t *
coord_hold (coordinator_t *self, held_kind_t kind)
{
    held_t *held = calloc (1, sizeof *held);
    assert (held);
    held->kind = kind;
    zlistx_add_end (self->held, held);
    return held;
}

//  Answers a request with sbuf (destroyed), once what it reports is
//  committed.
void
coord_reply (coordinator_t *self, flot_request_t **request_p, msgpack_sbuffer *sbuf)
{
    if (!coord_uncommitted (self)) {
        flot_request_reply_sbuf (request_p, sbuf);
        return;
    }
    held_t *held = coord_hold (self, HELD_REPLY);
    held->request = *request_p;
    held->body = *sbuf;
    *request_p = NULL;
    msgpack_sbuffer_init (sbuf);
}

//  Answers a request with an error, in order with the other answers.
void
coord_error (coordinator_t *self, flot_request_t **request_p, int code, const char *format, ...)
{
    char message [256];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    if (!coord_uncommitted (self)) {
        flot_request_error (request_p, code, "%s", message);
        return;
    }
    held_t *held = coord_hold (self, HELD_ERROR);
    held->request = *request_p;
    held->code = code;
    memcpy (held->message, message, sizeof message);
    *request_p = NULL;
}

//  --------------------------------------------------------------------------
//  Committing

static void
s_held_run (held_t *held)
{
    switch (held->kind) {
        case HELD_HOOK:
            coord_hook_send (held->dep, held->s, &held->body);
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
        coord_outbox_trim (self);
    deployment_t *dep;
    while ((dep = zlistx_detach (self->dirty, NULL))) {
        dep->dirty = false;
        coord_write_deployment (dep);
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
    coord_pump (self);
}

//  --------------------------------------------------------------------------
//  Life cycle

//  retention.c: finished deployments removed by age and count.
int coord_retention_check (flot_actor_t *actor);
void coord_retention_start (coordinator_t *self);

static int
s_start (flot_actor_t *actor)
{
    const char *path = flot_actor_option (actor, "store", "flotilla.db");
    const char *tick = flot_actor_option (actor, "tick", "200");
    if (coord_retention_check (actor))
        return -1;
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
    zhashx_set_destructor (self->deployments, coord_deployment_free);
    self->listed = zlistx_new ();
    self->holds = zhashx_new ();
    self->queue = zlistx_new ();
    self->dequeue_timer = -1;
    zlistx_set_comparator (self->listed, coord_by_created);
    self->outgoing = zlistx_new ();
    zlistx_set_destructor (self->outgoing, coord_outgoing_free);
    self->timer_refs = zlistx_new ();
    zlistx_set_destructor (self->timer_refs, coord_ref_free);
    self->cancelled_refs = zlistx_new ();
    zlistx_set_destructor (self->cancelled_refs, coord_ref_free);
    self->gate_refs = zlistx_new ();
    zlistx_set_destructor (self->gate_refs, coord_ref_free);
    self->submits = zlistx_new ();
    zlistx_set_destructor (self->submits, coord_submit_free);
    self->decisions = zlistx_new ();
    zlistx_set_destructor (self->decisions, coord_decision_free);
    self->cancelled_decisions = zlistx_new ();
    zlistx_set_destructor (self->cancelled_decisions, coord_decision_free);
    self->resolving = zlistx_new ();
    zlistx_set_destructor (self->resolving, coord_resolving_free);
    flot_actor_set_state (actor, self);
    flot_store_each_deployment (store, true, coord_restore, self);
    flot_store_each_deployment (store, false, coord_restore_finished, self);
    int tick_ms = atoi (tick);
    flot_loop_timer (flot_actor_loop (actor), (size_t) (tick_ms > 0 ? tick_ms : 200), 0,
                 coord_on_tick, self);
    //  Go on with what was running, once the loop runs.
    flot_loop_timer (flot_actor_loop (actor), 1, 1, coord_on_resume_all, self);
    coord_retention_start (self);
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
    coord_outbox_trim (self);
    zlistx_destroy (&self->dirty);
    zlistx_destroy (&self->held);
    zlistx_destroy (&self->listed);
    zlistx_destroy (&self->queue);
    zhashx_destroy (&self->holds);
    zlistx_destroy (&self->outgoing);
    zhashx_destroy (&self->deployments);
    zlistx_destroy (&self->timer_refs);
    zlistx_destroy (&self->cancelled_refs);
    zlistx_destroy (&self->gate_refs);
    zlistx_destroy (&self->submits);
    zlistx_destroy (&self->resolving);
    zlistx_destroy (&self->decisions);
    zlistx_destroy (&self->cancelled_decisions);
    flot_store_destroy (&self->store);
    free (self);
    flot_actor_set_state (actor, NULL);
}

const flot_actor_def_t flot_coordinator_actor = {
    .service = "coordinator",
    .contract = &flot_coordinator_contract,
    .commands = coord_commands,
    .start = s_start,
    .stop = s_stop
};
