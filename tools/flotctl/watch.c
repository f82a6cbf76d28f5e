/*  watch.c - the watch command: follow one deployment until it ends.

    Prints the deployment's events as they come (through a subscriber of
    the events service, printed as events.c prints them, by time) and a
    one-line progress summary from the coordinator's GetStatus whenever it
    changes, asked after events and at least every second (its first
    WATCH_TARGETS targets; past those its summary counts them). Ends once the
    deployment is in a final state and the event it publishes last came
    (or did not come within FINAL_GRACE_MS), with exit code 0 if every
    target completed, RC_SKIPPED if it completed with skipped targets, and
    1 if it failed, was aborted or rolled back. apply --watch ends here too.

    It outlives the services it talks to: a broker, coordinator or events
    service that goes away and comes back is waited for. A call that fails
    for a reason that passes (UNKNOWN_SERVICE or NO_INSTANCE while actors
    register again, DEADLINE, ACTOR_FAILED, BUSY, CANCELLED) is asked again;
    an event feed that fails or misses events is started again from the
    event after the last one printed (the seqs say which: SPEC 11.3), so
    nothing is printed twice or left out. Only with --timeout does it give
    up, exit code 3, once nothing (neither GetStatus nor the feed) answered
    for that long; at once if the broker never answered (no broker there,
    or a key it refuses); and on SIGINT or SIGTERM. With --json, the error
    it ends with is one JSON object on stderr's last line.
*/
#include "ctl.h"

#define STATUS_EVERY_MS     1000        //  GetStatus at least this often
#define STATUS_GAP_MS       100         //  GetStatus at most this often
#define FINAL_GRACE_MS      2000        //  wait for the last event this long
#define ACTIVE_SHOWN        3           //  active targets named in a summary
#define EVENTS_AT_ONCE      1000        //  events read before the status is due
#define RESUBSCRIBE_MS      1000        //  a failed feed is started again after this
#define FINAL_GRACE_DOWN_MS 30000       //  ... this long while the feed is down
#define WATCH_TARGETS       200         //  targets asked for; more are counted (summary)

//  --------------------------------------------------------------------------
//  The progress summary

//  The states a deployment does not leave, what to say of each, and the
//  event the coordinator publishes last on reaching it.
static const struct {
    const char *state, *words, *event;
} s_final_states [] = {
    { "completed", "completed", "deployment.completed" },
    { "failed", "failed", "deployment.failed" },
    { "aborted", "was aborted", "deployment.aborted" },
    { "rolled_back", "failed and was rolled back", "deployment.rolled_back" },
    { "rollback_failed", "failed, and so did its rollback", "rollback.failed" },
    { NULL, NULL, NULL }
};

//  The index of a final state in s_final_states, or -1 for a state it may
//  leave.
static int
s_final_state (const char *state)
{
    for (int i = 0; s_final_states [i].state; i++)
        if (streq (s_final_states [i].state, state))
            return i;
    return -1;
}

//  Counts the targets in each state, in the order states first appear.
#define STATES_MAX 16

typedef struct {
    cell_t state;
    unsigned count;
} state_count_t;

//  The summary of a GetStatus reply on one line:
//  web-3 running 40% (4/10 steps); targets: 1 done, 1 running, 1 pending;
//  now: b running b/1 (apply)
static void
s_summary (const status_t *status, char *line, size_t cap)
{
    state_count_t states [STATES_MAX];
    size_t kinds = 0, active = 0;
    cell_t shown [ACTIVE_SHOWN][TARGET_COLS];
    size_t count = status->targets.count;
    //  A deployment of more targets than one reply holds: its summary
    //  counts them all.
    const flot_coordinator_summary_t *all = status->page && status->page->more
                                          ? status->summary : NULL;
    for (size_t i = 0; i < count; i++) {
        cell_t row [TARGET_COLS];
        ctl_target_row (&STATUS_TARGETS (status) [i], row);
        size_t k = 0;
        while (k < kinds && !streq (states [k].state, row [1]))
            k++;
        if (k == kinds && kinds < STATES_MAX) {
            memcpy (states [kinds].state, row [1], sizeof (cell_t));
            states [kinds++].count = 0;
        }
        if (k < kinds)
            states [k].count++;
        if (streq (row [1], "running") || streq (row [1], "waiting")) {
            if (active < ACTIVE_SHOWN)
                memcpy (shown [active], row, sizeof row);
            active++;
        }
    }
    if (all) {
        const char *names [] = { "done", "running", "waiting", "failed", "held",
                                 "rolled_back", "skipped", "pending" };
        uint64_t values [] = { all->done, all->running, all->waiting, all->failed,
                               all->held, all->rolled_back, all->skipped, all->pending };
        kinds = 0;
        for (size_t k = 0; k < sizeof values / sizeof values [0]; k++)
            if (values [k]) {
                snprintf (states [kinds].state, sizeof states [kinds].state, "%s", names [k]);
                states [kinds++].count = (unsigned) values [k];
            }
    }
    //  The rows kept to name: of the reply's targets; the rest are counted.
    size_t named = MIN (active, ACTIVE_SHOWN);
    if (all)
        active = MAX ((size_t) (all->running + all->waiting), named);
    *line = 0;
    ctl_append (line, cap, "%s %s%s %llu%% (%llu/%llu steps); targets:",
                status->id, status->state, status->paused ? ", paused," : "",
                (unsigned long long) status->percent,
                (unsigned long long) status->steps_done,
                (unsigned long long) status->steps_total);
    for (size_t k = 0; k < kinds; k++)
        ctl_append (line, cap, "%s %u %s", k ? "," : "", states [k].count,
                    states [k].state);
    for (size_t a = 0; a < named; a++)
        ctl_append (line, cap, "%s %s %s %s (%s)", a ? "," : "; now:",
                    shown [a][0], shown [a][1], shown [a][2], shown [a][3]);
    if (active > named)
        ctl_append (line, cap, "%s%zu more", named ? " and " : "; now: ", active - named);
}

//  --------------------------------------------------------------------------
//  watch

typedef struct {
    const char *id;
    char line [1024];           //  the last summary printed
    int64_t final_at;           //  when the state was first seen final; 0 before
    int64_t failing_since;      //  since when GetStatus fails; 0 while it answers
    int failing_code;           //  the code of its last failure then
    int64_t reached_at;         //  when the coordinator or the feed last answered
    flot_subscriber_t *sub;     //  the event feed; NULL while it waits to start again
    int64_t resubscribe_at;     //  when to start it again (sub NULL)
    bool subscribed;            //  a feed went live once
    bool feed_ok;               //  the feed is live and its service answers
    bool seen;                  //  GetStatus answered for it once
    uint64_t last_seq;          //  the seq of the last event printed; 0 none
    flot_err_t err;             //  the last transient failure, and what failed
    const char *service, *command;
} watch_t;

//  True for an error that passes: the service is between instances or busy,
//  or no answer came in time.
static bool
s_transient (int code)
{
    return code == FLOT_E_UNKNOWN_SERVICE || code == FLOT_E_NO_INSTANCE
        || code == FLOT_E_DEADLINE || code == FLOT_E_ACTOR_FAILED
        || code == FLOT_E_BUSY || code == FLOT_E_CANCELLED;
}

//  With --json: the error watch ends with, as one JSON object on stderr.
//  code and name: the protocol error's, or 0 and the deployment's state.
static int
s_json_error (ctl_t *self, int rc, int code, const char *name, const char *message)
{
    json_t *error = json_pack ("{s:i, s:i, s:s, s:s, s:s?}", "exit", rc, "code", code,
                               "name", name, "message", message ? message : "",
                               "deployment", self->opts.deployment);
    char *text = error ? json_dumps (error, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
    if (text)
        fprintf (stderr, "%s\n", text);
    free (text);
    json_decref (error);
    return rc;
}

//  The end of a call that failed for good (rc: its exit code), said as
//  ctl_report says it, or with --json as one JSON object.
static int
s_call_failed (ctl_t *self, int rc, const char *service, const char *command,
               const flot_err_t *err)
{
    if (!self->opts.json) {
        int reported = ctl_report (self, service, command, err);
        return rc ? rc : reported;
    }
    if (!rc)
        rc = err->code == FLOT_E_DEADLINE ? RC_NO_ANSWER : RC_ERROR;
    char message [sizeof err->message + 128];
    snprintf (message, sizeof message, "%s %s: %s", service, command, err->message);
    return s_json_error (self, rc, err->code, flot_err_name (err->code), message);
}

//  A transient failure: kept for the end, said once on stderr.
static void
s_failing (ctl_t *self, watch_t *watch, const char *service, const char *command,
           const flot_err_t *err, bool say)
{
    watch->err = *err;
    watch->service = service;
    watch->command = command;
    if (say)
        fprintf (stderr, "flotctl: warning: %s %s: %s (%d): %s; %s\n", service, command,
                 flot_err_name (err->code), err->code, err->message,
                 self->opts.timeout_given ? "trying again until nothing answered "
                 "for --timeout" : "trying again");
}

//  Returns RC_NO_ANSWER once nothing answered for --timeout, else -1.
static int
s_watch_give_up (ctl_t *self, watch_t *watch)
{
    if (!self->opts.timeout_given
    ||  zclock_mono () - watch->reached_at < self->opts.timeout_ms
    ||  !watch->service)
        return -1;
    return s_call_failed (self, RC_NO_ANSWER, watch->service, watch->command, &watch->err);
}

//  The targets of a completed deployment that were skipped, in line.
static size_t
s_skipped (const status_t *status, char *line, size_t cap)
{
    size_t skipped = 0;
    *line = 0;
    for (size_t i = 0; i < status->targets.count; i++)
        if (streq (STATUS_TARGETS (status) [i].state, "skipped"))
            ctl_append (line, cap, "%s%s", skipped++ ? ", " : "",
                        STATUS_TARGETS (status) [i].name);
    //  Those past the targets the reply holds are counted, not named.
    if (status->page && status->page->more && status->summary
    &&  status->summary->skipped > skipped) {
        ctl_append (line, cap, "%s%llu more", skipped ? " and " : "",
                    (unsigned long long) (status->summary->skipped - skipped));
        skipped = (size_t) status->summary->skipped;
    }
    return skipped;
}

//  The end: 0 if every target completed, RC_SKIPPED if some were skipped,
//  else 1 with its last error.
static int
s_watch_end (ctl_t *self, const status_t *status)
{
    int final = s_final_state (status->state);
    assert (final >= 0);
    if (streq (status->state, "completed")) {
        char skipped [512];
        size_t count = s_skipped (status, skipped, sizeof skipped);
        if (count && self->opts.json) {
            char message [640];
            snprintf (message, sizeof message, "completed with %zu skipped target%s: %s",
                      count, count == 1 ? "" : "s", skipped);
            return s_json_error (self, RC_SKIPPED, 0, "completed", message);
        }
        if (!self->opts.json) {
            char took [32] = "";
            if (status->finished_ms >= status->created_ms && status->created_ms)
                ctl_duration (status->finished_ms - status->created_ms, took, sizeof took);
            printf ("deployment %s completed: %llu of %llu steps%s%s", status->id,
                    (unsigned long long) status->steps_done,
                    (unsigned long long) status->steps_total,
                    *took ? " in " : "", took);
            if (count) {
                printf ("; %zu target%s skipped: ", count, count == 1 ? "" : "s");
                ctl_put_text (stdout, skipped, "");
            }
            putchar ('\n');
            fflush (stdout);
        }
        return count ? RC_SKIPPED : RC_OK;
    }
    if (self->opts.json)
        return s_json_error (self, RC_ERROR, 0, status->state, status->last_error);
    fprintf (stderr, "flotctl: deployment %s %s: ", status->id,
             s_final_states [final].words);
    ctl_put_text (stderr, status->last_error, "no error given");
    fputc ('\n', stderr);
    return RC_ERROR;
}

//  GetStatus failed. Returns -1 to ask again, or an exit code: for an
//  error that does not pass (NOT_FOUND the first time, NOT_AUTHORIZED...).
static int
s_watch_failed (ctl_t *self, watch_t *watch, const flot_err_t *err)
{
    //  Once the deployment was seen, NOT_FOUND passes too (a coordinator
    //  restarting from its store may not have loaded it yet); before, even
    //  UNKNOWN_SERVICE does not: there is no coordinator to wait for.
    bool passes = s_transient (err->code)
                ? watch->seen || err->code != FLOT_E_UNKNOWN_SERVICE
                : watch->seen && err->code == FLOT_E_NOT_FOUND;
    if (!passes)
        return s_call_failed (self, 0, COORDINATOR_SERVICE, "GetStatus", err);
    if (!flot_client_answered (self->client))  //  no broker there, ever
        return s_call_failed (self, RC_NO_ANSWER, COORDINATOR_SERVICE, "GetStatus", err);
    //  Said once, and again when the reason changes (the link dropped, then
    //  a new broker knows no coordinator yet).
    s_failing (self, watch, COORDINATOR_SERVICE, "GetStatus", err,
               !watch->failing_since || err->code != watch->failing_code);
    watch->failing_code = err->code;
    if (!watch->failing_since)
        watch->failing_since = zclock_mono ();
    return s_watch_give_up (self, watch);
}

//  Prints the summary (or with --json the reply) if it changed.
static void
s_watch_summary (ctl_t *self, watch_t *watch, const char *line,
                 const msgpack_object *root)
{
    if (streq (line, watch->line))
        return;
    snprintf (watch->line, sizeof watch->line, "%s", line);
    if (self->opts.json)
        ctl_print_json (root, false);
    else {
        ctl_put_cell (line, 0);
        putchar ('\n');
        fflush (stdout);
    }
}

//  Asks for the deployment's status, prints the summary if it changed.
//  Returns -1 to go on, or an exit code once it is over and its last event
//  came (or did not come within FINAL_GRACE_MS, or FINAL_GRACE_DOWN_MS
//  while the feed is down): the final summary waits for that event, so
//  that it comes after the events.
static int
s_watch_status (ctl_t *self, watch_t *watch)
{
    flot_body_t *body;
    flot_err_t err;
    flot_coordinator_get_status_request_t request = {
        .id = watch->id, .limit = WATCH_TARGETS, .has_limit = true
    };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_coordinator_get_status_request_def, &request, &sbuf);
    int called = ctl_call (self, COORDINATOR_SERVICE, NULL, "GetStatus", &sbuf, &body, &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (called)
        return s_watch_failed (self, watch, &err);
    if (watch->failing_since)
        fprintf (stderr, "flotctl: the coordinator answers again\n");
    watch->failing_since = 0;
    watch->seen = true;
    watch->reached_at = zclock_mono ();
    status_t status;
    char line [sizeof watch->line];
    int rc = -1;
    if (ctl_status_parse (body, &status, &err)) {
        if (self->opts.json)
            rc = s_json_error (self, RC_ERROR, FLOT_E_MALFORMED, "MALFORMED", err.message);
        else
            rc = ctl_bad_reply (COORDINATOR_SERVICE, "GetStatus", &err);
    }
    else {
        s_summary (&status, line, sizeof line);
        int final = s_final_state (status.state);
        int64_t now = zclock_mono ();
        if (final >= 0 && !watch->final_at)
            watch->final_at = now;
        //  A feed that went down is waited for longer (not one never live:
        //  there may be no events service at all).
        bool down = watch->subscribed && !watch->feed_ok;
        int64_t grace = down ? FINAL_GRACE_DOWN_MS : FINAL_GRACE_MS;
        bool over = final >= 0
                 && (streq (self->outcome, s_final_states [final].event)
                 ||  now - watch->final_at >= grace);
        if (over && !streq (self->outcome, s_final_states [final].event) && down)
            fprintf (stderr, "flotctl: warning: the deployment ended, and its last events "
                     "did not come within %d ms\n", FINAL_GRACE_DOWN_MS);
        if (final < 0 || over)
            s_watch_summary (self, watch, line, flot_body_root (body));
        if (over)
            rc = s_watch_end (self, &status);
    }
    flot_body_destroy (&body);
    return rc;
}

//  The feed failed, or missed events: it is started again after
//  RESUBSCRIBE_MS from the event after the last printed.
static void
s_feed_restart (ctl_t *self, watch_t *watch, const flot_subscriber_item_t *item)
{
    if (watch->feed_ok || !watch->service || !streq (watch->service, EVENTS_SERVICE))
        fprintf (stderr, "flotctl: warning: the event feed failed (events %s: %s (%d): "
                 "%s); following it again from #%llu\n",
                 item->command ? item->command : "-",
                 flot_err_name (item->err.code), item->err.code, item->err.message,
                 (unsigned long long) watch->last_seq + 1);
    s_failing (self, watch, EVENTS_SERVICE, item->command ? item->command : "Replay",
               &item->err, false);
    watch->feed_ok = false;
    flot_subscriber_destroy (&watch->sub);
    watch->resubscribe_at = zclock_mono () + RESUBSCRIBE_MS;
}

//  Deals with an item of the feed. Returns -1 to go on, or an exit code.
static int
s_watch_item (ctl_t *self, watch_t *watch, const flot_subscriber_item_t *item)
{
    switch (item->kind) {
        case FLOT_SUBSCRIBER_EVENT:
            watch->reached_at = zclock_mono ();
            if (item->event->seq <= watch->last_seq)
                return -1;              //  printed before the feed started again
            watch->last_seq = item->event->seq;
            break;
        case FLOT_SUBSCRIBER_LIVE:
            watch->reached_at = zclock_mono ();
            watch->feed_ok = true;
            if (watch->subscribed) {
                fprintf (stderr, "flotctl: following the events of %s again (events on "
                         "%s)\n", watch->id, flot_subscriber_endpoint (watch->sub));
                return -1;
            }
            watch->subscribed = true;
            break;
        case FLOT_SUBSCRIBER_UP:
            watch->reached_at = zclock_mono ();
            watch->feed_ok = true;
            break;
        case FLOT_SUBSCRIBER_DOWN:
            watch->feed_ok = false;
            if (item->err.code == FLOT_E_NOT_AUTHORIZED)        //  revoked: over
                return s_call_failed (self, 0, EVENTS_SERVICE, item->command, &item->err);
            s_failing (self, watch, EVENTS_SERVICE, item->command, &item->err, false);
            break;
        case FLOT_SUBSCRIBER_MISSING:
        case FLOT_SUBSCRIBER_FAILED:
            if (item->command && item->err.code != FLOT_E_NOT_AUTHORIZED
            &&  flot_client_answered (self->client)) {
                //  Info or Replay failed: ask again, from the last printed.
                s_feed_restart (self, watch, item);
                return -1;
            }
            if (item->command)
                return s_call_failed (self, 0, EVENTS_SERVICE, item->command, &item->err);
            if (self->opts.json)        //  FAILED: the PUB socket
                return s_json_error (self, item->err.code == FLOT_E_INVALID
                                     && self->opts.events_endpoint ? RC_USAGE : RC_ERROR,
                                     item->err.code, flot_err_name (item->err.code),
                                     item->err.message);
            break;
        case FLOT_SUBSCRIBER_RESET:
            watch->last_seq = 0;        //  the seqs begin again
            break;
        default:
            break;
    }
    return ctl_feed (self, watch->sub, item);
}

//  Starts the feed (again) from the event after the last printed, once it
//  is time. Returns -1 to go on, or an exit code.
static int
s_feed_start (ctl_t *self, watch_t *watch)
{
    if (watch->sub || zclock_mono () < watch->resubscribe_at)
        return -1;
    watch->sub = ctl_subscriber_new (self, watch->last_seq + (watch->last_seq ? 1 : 0));
    if (!watch->sub)
        return ctl_fail (RC_ERROR, "out of memory");
    flot_subscriber_set_idle (watch->sub, 0);  //  the loop says when to check
    return -1;
}

//  Deals with the events there are, waiting at most wait_ms for the first.
//  Returns -1 to go on, with *got set if any came, or an exit code.
static int
s_watch_events (ctl_t *self, watch_t *watch, int wait_ms, bool *got)
{
    *got = false;
    if (!watch->sub) {
        zclock_sleep (MIN (wait_ms, (int) MAX (watch->resubscribe_at - zclock_mono (), 0)));
        return s_feed_start (self, watch);
    }
    for (int i = 0; i < EVENTS_AT_ONCE && watch->sub; i++) {
        const flot_subscriber_item_t *item = flot_subscriber_next (watch->sub,
                                                                   i ? 0 : wait_ms);
        if (!item)
            break;
        *got = true;
        int rc = s_watch_item (self, watch, item);
        if (rc >= 0)
            return rc;
    }
    return -1;
}

//  Events as they come; the status after events and every second.
static int
s_watch_loop (ctl_t *self, watch_t *watch)
{
    int64_t next_status = 0, last_status = 0, last_event = zclock_mono ();
    while (!zsys_interrupted) {
        int64_t now = zclock_mono ();
        if (now >= next_status) {
            int rc = s_watch_status (self, watch);
            if (rc < 0)
                rc = s_watch_give_up (self, watch);
            if (rc >= 0)
                return rc;
            last_status = now = zclock_mono ();
            next_status = now + STATUS_EVERY_MS;
            if (watch->sub && (now - last_event >= IDLE_CHECK_MS || watch->final_at))
                flot_subscriber_check (watch->sub);     //  the last event may be lost
        }
        bool got;
        int rc = s_watch_events (self, watch, (int) MAX (next_status - zclock_mono (), 0),
                                 &got);
        if (rc >= 0)
            return rc;
        if (got) {
            last_event = zclock_mono ();
            next_status = MIN (next_status, last_status + STATUS_GAP_MS);
        }
    }
    if (self->opts.json)
        return s_json_error (self, RC_NO_ANSWER, 0, "interrupted",
                             "stopped watching before it ended");
    return ctl_fail (RC_NO_ANSWER, "stopped watching %s before it ended", watch->id);
}

//  The events held so far, until the feed is live (or fails): they come
//  before the first summary.
static int
s_watch_first (ctl_t *self, watch_t *watch)
{
    while (watch->sub && !watch->subscribed && !zsys_interrupted) {
        //  Nothing is waited for before it is live: an item always comes.
        const flot_subscriber_item_t *item = flot_subscriber_next (watch->sub, -1);
        int rc = item ? s_watch_item (self, watch, item) : -1;
        if (rc >= 0)
            return rc;
    }
    return -1;
}

int
ctl_watch (ctl_t *self, const char *id)
{
    self->opts.deployment = id;         //  the events of this deployment
    self->watching = true;
    watch_t watch = { .id = id, .reached_at = zclock_mono () };
    int rc = s_feed_start (self, &watch);
    if (rc < 0)
        rc = s_watch_first (self, &watch);
    if (rc < 0)
        rc = s_watch_loop (self, &watch);
    flot_subscriber_destroy (&watch.sub);
    return rc;
}

int
ctl_cmd_watch (ctl_t *self)
{
    const char *id = self->opts.args [1];
    if (!ctl_id_valid (id))
        return ctl_id_usage_error ("", id);
    return ctl_watch (self, id);
}
