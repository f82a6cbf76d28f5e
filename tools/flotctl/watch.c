/*  watch.c - the watch command: follow one deployment until it ends.

    Prints the deployment's events as they come (through a subscriber of
    the events service, printed as events.c prints them, by time) and a
    one-line progress summary from the coordinator's GetStatus whenever it
    changes, asked after events and at least every second. Ends once the
    deployment is in a final state and the event it publishes last came
    (or did not come within FINAL_GRACE_MS), with exit code 0 if it
    completed and 1 otherwise; 3 if the coordinator stops answering or on
    SIGINT or SIGTERM. apply --watch ends here too.
*/
#include "ctl.h"

#define STATUS_EVERY_MS     1000        //  GetStatus at least this often
#define STATUS_GAP_MS       100         //  GetStatus at most this often
#define FINAL_GRACE_MS      2000        //  wait for the last event this long
#define ACTIVE_SHOWN        3           //  active targets named in a summary
#define EVENTS_AT_ONCE      1000        //  events read before the status is due

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
    *line = 0;
    ctl_append (line, cap, "%s %s%s %llu%% (%llu/%llu steps); targets:",
                status->id, status->state, status->paused ? ", paused," : "",
                (unsigned long long) status->percent,
                (unsigned long long) status->steps_done,
                (unsigned long long) status->steps_total);
    for (size_t k = 0; k < kinds; k++)
        ctl_append (line, cap, "%s %u %s", k ? "," : "", states [k].count,
                    states [k].state);
    for (size_t a = 0; a < MIN (active, ACTIVE_SHOWN); a++)
        ctl_append (line, cap, "%s %s %s %s (%s)", a ? "," : "; now:",
                    shown [a][0], shown [a][1], shown [a][2], shown [a][3]);
    if (active > ACTIVE_SHOWN)
        ctl_append (line, cap, " and %zu more", active - ACTIVE_SHOWN);
}

//  --------------------------------------------------------------------------
//  watch

typedef struct {
    const char *id;
    char line [1024];           //  the last summary printed
    int64_t final_at;           //  when the state was first seen final; 0 before
    int64_t failing_since;      //  since when GetStatus fails; 0 while it answers
} watch_t;

//  The end: 0 if the deployment completed, else 1 with its last error.
static int
s_watch_end (ctl_t *self, const status_t *status)
{
    int final = s_final_state (status->state);
    assert (final >= 0);
    if (streq (status->state, "completed")) {
        if (!self->opts.json) {
            char took [32] = "";
            if (status->finished_ms >= status->created_ms && status->created_ms)
                ctl_duration (status->finished_ms - status->created_ms, took, sizeof took);
            printf ("deployment %s completed: %llu of %llu steps%s%s\n", status->id,
                    (unsigned long long) status->steps_done,
                    (unsigned long long) status->steps_total,
                    *took ? " in " : "", took);
            fflush (stdout);
        }
        return RC_OK;
    }
    fprintf (stderr, "flotctl: deployment %s %s: ", status->id,
             s_final_states [final].words);
    ctl_put_text (stderr, status->last_error, "no error given");
    fputc ('\n', stderr);
    return RC_ERROR;
}

//  GetStatus failed. Returns -1 to ask again (the coordinator is between
//  instances, for at most --timeout), or an exit code.
static int
s_watch_failed (ctl_t *self, watch_t *watch, const flot_err_t *err)
{
    bool passing = err->code == FLOT_E_NO_INSTANCE || err->code == FLOT_E_ACTOR_FAILED
                || err->code == FLOT_E_BUSY;
    int64_t now = zclock_mono ();
    if (passing && !watch->failing_since) {
        watch->failing_since = now;
        fprintf (stderr, "flotctl: warning: %s (%d): %s; asking again for %u ms\n",
                 flot_err_name (err->code), err->code, err->message,
                 self->opts.timeout_ms);
    }
    if (passing && now - watch->failing_since < self->opts.timeout_ms)
        return -1;
    return ctl_report (self, COORDINATOR_SERVICE, "GetStatus", err);
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
//  came (or did not come within FINAL_GRACE_MS): the final summary waits
//  for that event, so that it comes after the events.
static int
s_watch_status (ctl_t *self, watch_t *watch)
{
    flot_body_t *body;
    flot_err_t err;
    if (ctl_call_id (self, "GetStatus", watch->id, &body, &err))
        return s_watch_failed (self, watch, &err);
    if (watch->failing_since)
        fprintf (stderr, "flotctl: the coordinator answers again\n");
    watch->failing_since = 0;
    status_t status;
    char line [sizeof watch->line];
    int rc = -1;
    if (ctl_status_parse (body, &status, &err))
        rc = ctl_bad_reply (COORDINATOR_SERVICE, "GetStatus", &err);
    else {
        s_summary (&status, line, sizeof line);
        int final = s_final_state (status.state);
        int64_t now = zclock_mono ();
        if (final >= 0 && !watch->final_at)
            watch->final_at = now;
        bool over = final >= 0
                 && (streq (self->outcome, s_final_states [final].event)
                 ||  now - watch->final_at >= FINAL_GRACE_MS);
        if (final < 0 || over)
            s_watch_summary (self, watch, line, flot_body_root (body));
        if (over)
            rc = s_watch_end (self, &status);
    }
    flot_body_destroy (&body);
    return rc;
}

//  Deals with the events there are, waiting at most wait_ms for the first.
//  Returns -1 to go on, with *got set if any came, or an exit code.
static int
s_watch_events (ctl_t *self, flot_subscriber_t *sub, int wait_ms, bool *got)
{
    *got = false;
    for (int i = 0; i < EVENTS_AT_ONCE; i++) {
        const flot_subscriber_item_t *item = flot_subscriber_next (sub, i ? 0 : wait_ms);
        if (!item)
            break;
        *got = true;
        int rc = ctl_feed (self, sub, item);
        if (rc >= 0)
            return rc;
    }
    return -1;
}

//  Events as they come; the status after events and every second.
static int
s_watch_loop (ctl_t *self, watch_t *watch, flot_subscriber_t *sub)
{
    int64_t next_status = 0, last_status = 0, last_event = zclock_mono ();
    while (!zsys_interrupted) {
        int64_t now = zclock_mono ();
        if (now >= next_status) {
            int rc = s_watch_status (self, watch);
            if (rc >= 0)
                return rc;
            last_status = now = zclock_mono ();
            next_status = now + STATUS_EVERY_MS;
            if (now - last_event >= IDLE_CHECK_MS || watch->final_at)
                flot_subscriber_check (sub);    //  the last event may be lost
        }
        bool got;
        int rc = s_watch_events (self, sub, (int) MAX (next_status - zclock_mono (), 0), &got);
        if (rc >= 0)
            return rc;
        if (got) {
            last_event = zclock_mono ();
            next_status = MIN (next_status, last_status + STATUS_GAP_MS);
        }
    }
    return ctl_fail (RC_NO_ANSWER, "stopped watching %s before it ended", watch->id);
}

int
ctl_watch (ctl_t *self, const char *id)
{
    self->opts.deployment = id;         //  the events of this deployment
    self->watching = true;
    flot_subscriber_t *sub = ctl_subscriber_new (self, 0);
    if (!sub)
        return ctl_fail (RC_ERROR, "out of memory");
    flot_subscriber_set_idle (sub, 0);  //  the loop says when to check
    watch_t watch = { .id = id };
    int rc = ctl_feed_replay (self, sub);
    if (rc < 0)
        rc = s_watch_loop (self, &watch, sub);
    flot_subscriber_destroy (&sub);
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
