/*  outbox.c - the coordinator's writes to its store, and its events.

    A deployment's row is written once per transaction, at the flush
    (coord_save_deployment marks it, coord_write_deployment writes it); a
    step's row at once (coord_save_step). An event is queued in the store's
    outbox in the same transaction as the change it reports (coord_event),
    and published through the events service once committed, oldest first,
    a batch at a time (coord_pump); published events leave the outbox with
    the next transaction (coord_outbox_trim). Operators' commands are
    recorded with who gave them (coord_action). The transaction itself is
    coordinator.c's.
*/

#include "coordinator_internal.h"

//  An event of the outbox, read ahead to be published.
typedef struct {
    int64_t id;
    size_t size;
    uint8_t body [];
} outgoing_t;

//  Writes the deployment's row as it is now.
void
coord_write_deployment (deployment_t *dep)
{
    flot_deployment_row_t row = {
        .file = dep->file, .spec = dep->spec_written ? NULL : dep->text, .cwd = dep->cwd,
        .resolved = dep->resolved, .resolved_size = dep->resolved_size,
        .paused = dep->paused,
        .created_ms = dep->created_ms, .updated_ms = dep->updated_ms,
        .finished_ms = dep->finished_ms, .progress_ms = dep->progress_ms,
        .last_error = dep->last_error, .created_by = dep->applied_by
    };
    snprintf (row.id, sizeof row.id, "%s", dep->id);
    snprintf (row.name, sizeof row.name, "%s", dep->spec->name);
    snprintf (row.state, sizeof row.state, "%s", coord_state_name (dep));
    snprintf (row.promote, sizeof row.promote, "%s", dep->promote_full ? "full" : "");
    snprintf (row.queued_behind, sizeof row.queued_behind, "%s", dep->queued_behind);
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
void
coord_save_deployment (deployment_t *dep)
{
    assert (dep->owner->txn_depth > 0);
    dep->updated_ms = coord_now ();
    if (!dep->dirty) {
        dep->dirty = true;
        zlistx_add_end (dep->owner->dirty, dep);
    }
}

void
coord_save_step (deployment_t *dep, size_t s, bool back, const char *output, const char *error)
{
    const flot_plan_t *plan = back ? dep->back : dep->plan;
    const flot_step_t *step = &plan->steps [s];
    const step_rt_t *rt = back ? &dep->back_steps [s] : &dep->steps [s];
    flot_step_row_t row = {
        .index = step->index, .attempt = rt->attempt, .uncounted = rt->uncounted,
        .started_ms = rt->started_ms, .finished_ms = rt->finished_ms,
        .output = (char *) (output ? output : ""), .error = (char *) (error ? error : ""),
        .stderr_text = (char *) rt->stderr_now
    };
    snprintf (row.step_id, sizeof row.step_id, "%s", step->id);
    snprintf (row.target, sizeof row.target, "%s", dep->spec->targets [step->target].name);
    snprintf (row.type, sizeof row.type, "%s", flot_step_type_name (step->type));
    snprintf (row.state, sizeof row.state, "%s", flot_state_name (FLOT_KIND_STEP, rt->state));
    if (flot_store_put_step (dep->owner->store, dep->id, &row))
        flot_error (WHO, "%s", flot_store_error (dep->owner->store));
}

void
coord_action (deployment_t *dep, const char *command, const char *by, const char *reason)
{
    assert (dep->owner->txn_depth > 0);
    flot_action_row_t action = {
        .command = command, .by = by, .at_ms = coord_now (), .reason = reason
    };
    if (flot_store_add_action (dep->owner->store, dep->id, &action))
        flot_error (WHO, "%s", flot_store_error (dep->owner->store));
    flot_notice (WHO, "%s: %s by %s", dep->id, command, *by ? by : "a caller not known");
}

//  Removes the published events from the outbox (in the open transaction,
//  if there is one).
void
coord_outbox_trim (coordinator_t *self)
{
    if (self->published_id <= self->removed_id)
        return;
    if (flot_store_outbox_remove_upto (self->store, self->published_id))
        flot_error (WHO, "%s", flot_store_error (self->store));
    else
        self->removed_id = self->published_id;
}

static int
s_on_retry_pump (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coordinator_t *self = arg;
    self->retry_timer = -1;
    coord_pump (self);
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
        coord_pump (self);
        return;
    }
    if (refused) {
        self->refused++;
        flot_error (WHO, "the events service refused event %lld (%s): %s",
                    (long long) self->publishing_id, answer->err.message, self->refused == 1
                    ? "sending it again without its data" : "it is left out");
        if (self->refused == 1) {
            coord_pump (self);
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
        coord_pump (self);
    }
    else
    if (self->retry_timer < 0) {
        //  The events service is not there yet: the event waits, in order.
        flot_debug (WHO, "events not published: %s", answer->err.message);
        self->retry_timer = flot_loop_timer (flot_actor_loop (actor), OUTBOX_RETRY_MS, 1,
                                         s_on_retry_pump, self);
    }
}

void
coord_outgoing_free (void **item_p)
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
void
coord_pump (coordinator_t *self)
{
    if (self->publishing || self->retry_timer >= 0 || coord_uncommitted (self))
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
        self->retry_timer = flot_loop_timer (flot_actor_loop (self->actor), OUTBOX_RETRY_MS, 1,
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
void
coord_event (deployment_t *dep, int target, const flot_struct_t *def, void *data,
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
