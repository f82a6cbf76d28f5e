/*  events.c - the events command, and how flotctl prints events.

    `events` prints the history the events service holds; `events --follow`
    then follows the live stream. Both read through a subscriber
    (flotilla/subscriber.h), which replays, checks and orders the events;
    this file prints what it hands: each event on one line (with --json as
    it came), saying in words what its data holds, one function per event
    type the events contract defines; and the feed's news (a dropped event,
    a gap, the events service down) as warnings on stderr. watch prints its
    deployment's events the same way (ctl_feed).
*/
#include "ctl.h"

//  --------------------------------------------------------------------------
//  Saying what an event's data holds, one function per event type the
//  events contract defines; each appends to line what the data (decoded by
//  the type's definition) holds.

typedef void (say_fn) (const void *data, char *line, size_t cap);

//  "rollback step eu-1/1 (setWeight 50%)", "step eu-1/2 (pause)": a step,
//  with the weight it sets if it sets one.
static void
s_say_step (char *line, size_t cap, bool rollback, const char *step, const char *type,
            uint64_t weight)
{
    ctl_append (line, cap, "%sstep ", rollback ? "rollback " : "");
    if (streq (type, "setWeight"))
        ctl_append (line, cap, "%s (%s %llu%%)", step, type, (unsigned long long) weight);
    else
        ctl_append (line, cap, "%s (%s)", step, type);
}

static void
s_say_deployment_started (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_started_t *d = data;
    ctl_append (line, cap, "%s %s of %s: %llu targets, %llu steps", d->workload, d->version,
                d->name, (unsigned long long) d->targets, (unsigned long long) d->steps);
}

static void
s_say_step_started (const void *data, char *line, size_t cap)
{
    const flot_event_step_started_t *d = data;
    s_say_step (line, cap, d->rollback, d->step, d->step_type, d->weight);
    ctl_append (line, cap, "%s%s", d->waiting ? ": waiting for a promote" : "",
                d->attempt > 1 ? ", again" : "");
}

static void
s_say_step_completed (const void *data, char *line, size_t cap)
{
    const flot_event_step_completed_t *d = data;
    s_say_step (line, cap, d->rollback, d->step, d->step_type, d->weight);
    ctl_append (line, cap, " %s", d->rollback ? "done" : d->state);
    if (d->attempt > 1)
        ctl_append (line, cap, " at attempt %llu", (unsigned long long) d->attempt);
}

static void
s_say_step_failed (const void *data, char *line, size_t cap)
{
    const flot_event_step_failed_t *d = data;
    unsigned long long attempt = d->attempt;
    s_say_step (line, cap, d->rollback, d->step, d->step_type, d->weight);
    if (d->has_retry_in_ms)
        ctl_append (line, cap, " attempt %llu failed: %s; retrying in %llu ms", attempt,
                    d->reason, (unsigned long long) d->retry_in_ms);
    else
    if (d->rollback)
        ctl_append (line, cap, " attempt %llu failed: %s", attempt, d->reason);
    else
        ctl_append (line, cap, " failed after %llu attempt%s: %s", attempt,
                    attempt == 1 ? "" : "s", d->reason);
}

static void
s_say_target_completed (const void *data, char *line, size_t cap)
{
    const flot_event_target_completed_t *d = data;
    ctl_append (line, cap, "%s is on version %s", d->target, d->version);
}

static void
s_say_target_failed (const void *data, char *line, size_t cap)
{
    const flot_event_target_failed_t *d = data;
    ctl_append (line, cap, "%s failed at step %s: %s", d->target, d->step, d->reason);
}

static void
s_say_health_ready (const void *data, char *line, size_t cap)
{
    const flot_event_health_ready_t *d = data;
    ctl_append (line, cap, "%s passed its health checks at step %s", d->target, d->step);
}

static void
s_say_health_failed (const void *data, char *line, size_t cap)
{
    const flot_event_health_failed_t *d = data;
    ctl_append (line, cap, "%s is unhealthy: %s", d->target, d->reason);
}

static void
s_say_health_recovered (const void *data, char *line, size_t cap)
{
    const flot_event_health_recovered_t *d = data;
    ctl_append (line, cap, "%s is healthy again: %s", d->target, d->reason);
}

//  "eu-1: successful, score 100 (errors 0.1 pass, p99 180 pass), recommends
//  promote: ..."
static void
s_say_analysis_result (const void *data, char *line, size_t cap)
{
    const flot_event_analysis_result_t *d = data;
    ctl_append (line, cap, "%s: %s", d->target, d->phase);
    if (d->has_score)
        ctl_append (line, cap, ", score %.0f", d->score);
    const flot_events_metric_t *m = d->metrics.items;
    for (size_t i = 0; i < d->metrics.count; i++) {
        ctl_append (line, cap, "%s%s", i ? ", " : " (", m [i].name);
        if (m [i].has_value)
            ctl_append (line, cap, " %g", m [i].value);
        ctl_append (line, cap, " %s%s", m [i].verdict, i + 1 == d->metrics.count ? ")" : "");
    }
    ctl_append (line, cap, ", recommends %s: %s", d->recommendation, d->reason);
}

static void
s_say_gate_passed (const void *data, char *line, size_t cap)
{
    const flot_event_gate_passed_t *d = data;
    ctl_append (line, cap, "gate %s of %s passed at step %s: %s", d->gate, d->target,
                d->step, d->reason);
}

static void
s_say_gate_failed (const void *data, char *line, size_t cap)
{
    const flot_event_gate_failed_t *d = data;
    if (streq (d->action, "rollback"))
        ctl_append (line, cap, "%s: %s: rolling back", d->target, d->reason);
    else
        ctl_append (line, cap, "%s: %s: the failure policy %s applies", d->target,
                    d->reason, d->on_failure);
}

static void
s_say_gate_waiting (const void *data, char *line, size_t cap)
{
    const flot_event_gate_waiting_t *d = data;
    ctl_append (line, cap, "%s: the %s service could not answer (%s); asking again in "
                "%llu ms", d->target, d->service, d->reason,
                (unsigned long long) d->retry_in_ms);
}

static void
s_say_step_waiting (const void *data, char *line, size_t cap)
{
    const flot_event_step_waiting_t *d = data;
    ctl_append (line, cap, "%s: step %s waits: the %s service could not answer (%s); asking "
                "again in %llu ms", d->target, d->step, d->service, d->reason,
                (unsigned long long) d->retry_in_ms);
}

static void
s_say_deployment_paused (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_paused_t *d = data;
    bool gate = streq (d->cause, "gate");
    if (streq (d->cause, "operator"))
        ctl_append (line, cap, "paused: no new step starts; running hooks finish");
    else
        ctl_append (line, cap, "paused %s %s: %s; %s to go on, abort to roll back",
                    gate ? "at the gate of" : "while watching",
                    d->target ? d->target : "?", d->reason ? d->reason : "",
                    gate ? "promote" : "resume");
}

static void
s_say_deployment_resumed (const void *data, char *line, size_t cap)
{
    (void) data;
    ctl_append (line, cap, "resumed");
}

static void
s_say_deployment_promoted (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_promoted_t *d = data;
    ctl_append (line, cap, "%s", d->full
                ? "promoted in full: every remaining pause and gate is skipped"
                : "promoted: the current pauses end");
}

static void
s_say_rollback_started (const void *data, char *line, size_t cap)
{
    const flot_event_rollback_started_t *d = data;
    ctl_append (line, cap, "rolling back %llu target%s (%s)", (unsigned long long) d->targets,
                d->targets == 1 ? "" : "s", d->mode);
}

static void
s_say_rollback_completed (const void *data, char *line, size_t cap)
{
    const flot_event_rollback_completed_t *d = data;
    ctl_append (line, cap, "rolled back %llu target%s", (unsigned long long) d->targets,
                d->targets == 1 ? "" : "s");
}

static void
s_say_deployment_completed (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_completed_t *d = data;
    ctl_append (line, cap, "every target is on the new version: %llu targets, %llu steps",
                (unsigned long long) d->targets, (unsigned long long) d->steps);
}

static void
s_say_deployment_failed (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_failed_t *d = data;
    ctl_append (line, cap, "%s", d->reason);
}

static void
s_say_deployment_failing (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_failing_t *d = data;
    ctl_append (line, cap, "%s; rolling back", d->reason);
}

static void
s_say_deployment_aborting (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_aborting_t *d = data;
    ctl_append (line, cap, "%s; rolling back", d->reason);
}

static void
s_say_rollback_failed (const void *data, char *line, size_t cap)
{
    const flot_event_rollback_failed_t *d = data;
    ctl_append (line, cap, "%s", d->reason);
}

static void
s_say_deployment_rolled_back (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_rolled_back_t *d = data;
    ctl_append (line, cap, "rolled back: %s", d->reason);
}

static void
s_say_deployment_aborted (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_aborted_t *d = data;
    ctl_append (line, cap, "aborted and rolled back: %s", d->reason);
}

//  The event types flotctl says in words, and how.
static const struct {
    const char *type;
    say_fn *say;
} s_sayers [] = {
    { "deployment.started", s_say_deployment_started },
    { "step.started", s_say_step_started },
    { "step.completed", s_say_step_completed },
    { "step.failed", s_say_step_failed },
    { "target.completed", s_say_target_completed },
    { "target.failed", s_say_target_failed },
    { "health.ready", s_say_health_ready },
    { "health.failed", s_say_health_failed },
    { "health.recovered", s_say_health_recovered },
    { "analysis.result", s_say_analysis_result },
    { "gate.passed", s_say_gate_passed },
    { "gate.failed", s_say_gate_failed },
    { "gate.waiting", s_say_gate_waiting },
    { "step.waiting", s_say_step_waiting },
    { "deployment.paused", s_say_deployment_paused },
    { "deployment.resumed", s_say_deployment_resumed },
    { "deployment.promoted", s_say_deployment_promoted },
    { "rollback.started", s_say_rollback_started },
    { "rollback.completed", s_say_rollback_completed },
    { "deployment.completed", s_say_deployment_completed },
    { "deployment.failed", s_say_deployment_failed },
    { "deployment.failing", s_say_deployment_failing },
    { "deployment.aborting", s_say_deployment_aborting },
    { "rollback.failed", s_say_rollback_failed },
    { "deployment.rolled_back", s_say_deployment_rolled_back },
    { "deployment.aborted", s_say_deployment_aborted },
    { NULL, NULL }
};

//  Says in line what the data of an event of a type the events contract
//  defines holds (data decoded by its definition). Returns false for a
//  type it does not know how to say.
static bool
s_say_data (const char *type, const void *data, char *line, size_t cap)
{
    for (size_t i = 0; s_sayers [i].type; i++)
        if (streq (s_sayers [i].type, type)) {
            s_sayers [i].say (data, line, cap);
            return true;
        }
    return false;
}

//  --------------------------------------------------------------------------
//  Printing an event

//  Prints what the event says: from its data if its type is one the events
//  contract defines and its data is that type's; else its message.
static void
s_print_said (const flot_events_event_t *event)
{
    const flot_event_def_t *def = flot_event_def (event->type);
    char line [2048] = "";
    bool said = false;
    if (def && event->data) {
        msgpack_zone zone;
        msgpack_zone_init (&zone, 1024);
        flot_err_t err;
        const void *data = flot_decode_new (def->data, event->data, &zone, &err);
        said = data && s_say_data (event->type, data, line, sizeof line);
        //  Who caused it, once callers are identified (section 14).
        const flot_field_t *by = NULL;
        for (size_t i = 0; data && i < def->data->field_count; i++)
            if (streq (def->data->fields [i].name, "by"))
                by = &def->data->fields [i];
        const char *who = by ? *(const char *const *) ((const char *) data + by->offset) : NULL;
        if (said && who && *who)
            ctl_append (line, sizeof line, " (by %s)", who);
        msgpack_zone_destroy (&zone);
    }
    if (!said && event->message && *event->message)
        snprintf (line, sizeof line, "%s", event->message);
    if (*line) {
        putchar (' ');
        ctl_put_text (stdout, line, "");
    }
}
//  Prints an event on one line (with --json, as it came); for watch, by
//  time, and keeps the outcome it says.
static void
s_print_event (ctl_t *self, const flot_events_event_t *event, const msgpack_object *map)
{
    const char *type = event->type;
    if (self->watching && (strncmp (type, "deployment.", 11) == 0
                       ||  strncmp (type, "rollback.", 9) == 0))
        snprintf (self->outcome, sizeof self->outcome, "%s", type);
    if (self->opts.json) {
        ctl_print_json (map, false);
        return;
    }
    char when [64];
    ctl_utc (event->time_ms, !self->watching, when, sizeof when);
    if (self->watching)         //  watch: of one deployment, by time
        printf ("%s %-22s ", when, type);
    else
        printf ("#%llu %s %s %s ", (unsigned long long) event->seq, when,
                type, *event->deployment ? event->deployment : "-");
    ctl_put_text (stdout, event->target, "-");
    s_print_said (event);
    putchar ('\n');
    fflush (stdout);
}

//  --------------------------------------------------------------------------
//  The feed: what a subscriber hands

flot_subscriber_t *
ctl_subscriber_new (ctl_t *self, uint64_t since)
{
    flot_subscriber_t *sub = flot_subscriber_new (self->client, self->opts.events_endpoint,
                                                  since, self->opts.deployment,
                                                  self->opts.type);
    if (sub)
        flot_subscriber_set_timeout (sub, self->opts.timeout_ms);
    //  A CURVE event socket (SPEC 11.4) admits the key flotctl connected with.
    if (sub && flot_subscriber_set_creds (sub, &self->creds))
        flot_subscriber_destroy (&sub);
    return sub;
}

int
ctl_feed (ctl_t *self, flot_subscriber_t *sub, const flot_subscriber_item_t *item)
{
    unsigned long long from = item->from, to = item->to;
    switch (item->kind) {
        case FLOT_SUBSCRIBER_EVENT:
            s_print_event (self, item->event, item->map);
            break;
        case FLOT_SUBSCRIBER_LIVE:
            if (self->watching)
                fprintf (stderr, "flotctl: watching deployment %s (events on %s)\n",
                         self->opts.deployment, flot_subscriber_endpoint (sub));
            else
                fprintf (stderr, "flotctl: following events on %s after #%llu\n",
                         flot_subscriber_endpoint (sub), to);
            break;
        case FLOT_SUBSCRIBER_DROPPED:
            fprintf (stderr, "flotctl: warning: dropped a malformed event: %s\n",
                     item->err.message);
            break;
        case FLOT_SUBSCRIBER_LOST:
            fprintf (stderr, "flotctl: warning: events %llu..%llu are no longer "
                     "held\n", from, to);
            break;
        case FLOT_SUBSCRIBER_MISSING:
            //  A key the broker no longer admits (revoked) gets nothing more:
            //  say so and stop, rather than listen to a stream that is gone.
            if (item->err.code == FLOT_E_NOT_AUTHORIZED)
                return ctl_report (self, EVENTS_SERVICE, item->command, &item->err);
            ctl_report (self, EVENTS_SERVICE, item->command, &item->err);
            fprintf (stderr, "flotctl: warning: events %llu..%llu may be missing\n",
                     from, to);
            break;
        case FLOT_SUBSCRIBER_RESET:
            fprintf (stderr, "flotctl: warning: the event history was reset (last "
                     "seq %llu, had seen %llu); following it from its start\n", from, to);
            break;
        case FLOT_SUBSCRIBER_DOWN:
            if (item->err.code == FLOT_E_NOT_AUTHORIZED)
                return ctl_report (self, EVENTS_SERVICE, item->command, &item->err);
            fprintf (stderr, "flotctl: warning: events %s: %s (%d): %s; still listening "
                     "on the stream\n", item->command, flot_err_name (item->err.code),
                     item->err.code, item->err.message);
            break;
        case FLOT_SUBSCRIBER_UP:
            fprintf (stderr, "flotctl: the events service answers again\n");
            break;
        case FLOT_SUBSCRIBER_FAILED:
            if (item->command)
                return ctl_report (self, EVENTS_SERVICE, item->command, &item->err);
            if (item->err.code == FLOT_E_INVALID)       //  cannot subscribe there
                return ctl_fail (self->opts.events_endpoint ? RC_USAGE : RC_ERROR,
                                 "cannot subscribe to events at '%s'",
                                 flot_subscriber_endpoint (sub));
            return ctl_fail (RC_ERROR, "%s", item->err.message);
        case FLOT_SUBSCRIBER_END:
        default:
            break;
    }
    return -1;
}

int
ctl_feed_replay (ctl_t *self, flot_subscriber_t *sub)
{
    while (true) {
        //  Nothing is waited for before it is live: an item always comes.
        const flot_subscriber_item_t *item = flot_subscriber_next (sub, -1);
        int rc = item ? ctl_feed (self, sub, item) : -1;
        if (rc >= 0)
            return rc;
        if (item && item->kind == FLOT_SUBSCRIBER_LIVE)
            return -1;
        if (item && item->kind == FLOT_SUBSCRIBER_END)
            return RC_OK;
    }
}

//  --------------------------------------------------------------------------
//  events

//  events --follow: the events from --since (else after the newest), then
//  each as it comes, until SIGINT or SIGTERM.
static int
s_events_follow (ctl_t *self)
{
    bool since = self->opts.given & OPT_SINCE;
    flot_subscriber_t *sub = ctl_subscriber_new (self, since ? self->opts.since
                                                             : FLOT_SUBSCRIBER_NEWEST);
    if (!sub)
        return ctl_fail (RC_ERROR, "out of memory");
    flot_subscriber_set_idle (sub, IDLE_CHECK_MS);
    int rc = ctl_feed_replay (self, sub);
    while (rc < 0 && !zsys_interrupted) {
        const flot_subscriber_item_t *item = flot_subscriber_next (sub, IDLE_CHECK_MS);
        if (item)
            rc = ctl_feed (self, sub, item);
    }
    flot_subscriber_destroy (&sub);
    return rc < 0 ? RC_OK : rc;
}

int
ctl_cmd_events (ctl_t *self)
{
    if (self->opts.given & OPT_FOLLOW)
        return s_events_follow (self);
    if (self->opts.given & OPT_EVENTS_EP)
        return ctl_usage_error ("--events-endpoint works only with --follow");
    flot_subscriber_t *sub = ctl_subscriber_new (self, self->opts.since);
    if (!sub)
        return ctl_fail (RC_ERROR, "out of memory");
    flot_subscriber_set_replay_only (sub);
    int rc = ctl_feed_replay (self, sub);
    flot_subscriber_destroy (&sub);
    return rc;
}
