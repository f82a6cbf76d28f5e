/*  deployments.c - the commands about deployments the coordinator runs:
    status, list, pause, resume, promote, abort.

    status prints a deployment's GetStatus reply (a header, a table of its
    targets, each target's latest analysis, who gave it which command),
    list the deployments the
    coordinator knows; pause, resume, promote and abort steer one and print
    its new state. watch (watch.c) reads GetStatus replies with the
    functions given here.
*/
#include "ctl.h"

//  --------------------------------------------------------------------------
//  status

static const char *const s_target_headers [TARGET_COLS] = {
    "TARGET", "STATE", "STEP", "TYPE", "STEP-STATE", "ATTEMPT", "WEIGHT", "HEALTH"
};

int
ctl_status_parse (flot_body_t *body, status_t *status, flot_err_t *err)
{
    memset (status, 0, sizeof *status);
    return flot_coordinator_get_status_reply_decode (flot_body_root (body),
                                                     flot_body_zone (body), status, err);
}

//  One target of a GetStatus reply as a row; '-' for what it lacks.
void
ctl_target_row (const flot_coordinator_target_t *target, cell_t *row)
{
    ctl_cell (row [0], target->name);
    ctl_cell (row [1], target->state);
    ctl_cell (row [2], *target->step ? target->step : "-");
    ctl_cell (row [3], *target->step_type ? target->step_type : "-");
    ctl_cell (row [4], *target->step_state ? target->step_state : "-");
    if (target->attempt)
        snprintf (row [5], CELL_MAX, "%llu", (unsigned long long) target->attempt);
    else
        snprintf (row [5], CELL_MAX, "-");
    snprintf (row [6], CELL_MAX, "%llu", (unsigned long long) target->weight);
    ctl_cell (row [7], target->health);
}

//  The commands operators gave a deployment, oldest first: a table.
#define HISTORY_COLS 4

static const char *const s_history_headers [HISTORY_COLS] = {
    "WHEN", "COMMAND", "BY", "REASON"
};

static int
s_print_history (const status_t *status, flot_err_t *err)
{
    size_t count = status->actions.count;
    const flot_coordinator_action_t *actions = status->actions.items;
    if (count == 0)
        return 0;
    table_t table;
    if (ctl_table_init (&table, s_history_headers, HISTORY_COLS, count, err))
        return -1;
    for (size_t i = 0; i < count; i++) {
        cell_t *row = ctl_table_row (&table, i);
        ctl_utc (actions [i].at_ms, true, row [0], CELL_MAX);
        ctl_cell (row [1], actions [i].command);
        ctl_cell (row [2], *actions [i].by ? actions [i].by : "-");
        ctl_cell (row [3], *actions [i].reason ? actions [i].reason : "-");
    }
    if (status->has_actions_total && status->actions_total > count)
        printf ("\nhistory (the last %zu of %llu commands):\n", count,
                (unsigned long long) status->actions_total);
    else
        printf ("\nhistory:\n");
    ctl_table_print (&table, "  ");
    ctl_table_destroy (&table);
    return 0;
}

//  A line of the status header: the name, then the value.
static void
s_print_header (const char *name, const char *value)
{
    printf ("%-12s", name);
    ctl_put_cell (value, 0);
    putchar ('\n');
}

//  Prints text under a heading, each line indented; nothing if it is empty.
static void
s_print_block (const char *heading, const char *text)
{
    if (!*text)
        return;
    printf ("  %s:\n", heading);
    for (const char *line = text; *line; ) {
        const char *eol = strchr (line, '\n');
        size_t len = eol ? (size_t) (eol - line) : strlen (line);
        printf ("    ");
        for (size_t i = 0; i < len; i++)     //  the hook's bytes, shown safely
            putchar (line [i] == '\t' || (unsigned char) line [i] >= 0x20 ? line [i] : '?');
        putchar ('\n');
        line += len + (eol != NULL);
    }
}

static int
s_print_status (const status_t *status, flot_err_t *err)
{
    size_t count = status->targets.count;
    const flot_coordinator_target_t *targets = STATUS_TARGETS (status);
    table_t table;
    if (ctl_table_init (&table, s_target_headers, TARGET_COLS, count, err))
        return -1;
    for (size_t i = 0; i < count; i++)
        ctl_target_row (&targets [i], ctl_table_row (&table, i));
    char text [64];
    s_print_header ("deployment", status->id);
    s_print_header ("name", status->name);
    s_print_header ("strategy", status->strategy);
    s_print_header ("state", status->state);
    s_print_header ("paused", status->paused ? "yes" : "no");
    if (status->queued_behind) {
        char behind [FLOT_MAX_ID + 16];
        snprintf (behind, sizeof behind, "behind %s", status->queued_behind);
        s_print_header ("queued", behind);
    }
    snprintf (text, sizeof text, "%llu%% (%llu of %llu steps done)",
              (unsigned long long) status->percent,
              (unsigned long long) status->steps_done,
              (unsigned long long) status->steps_total);
    s_print_header ("progress", text);
    ctl_utc (status->created_ms, true, text, sizeof text);
    s_print_header ("created", text);
    ctl_utc (status->updated_ms, true, text, sizeof text);
    s_print_header ("updated", text);
    ctl_utc (status->finished_ms, true, text, sizeof text);
    s_print_header ("finished", text);
    s_print_header ("applied by", status->applied_by && *status->applied_by
                                  ? status->applied_by : "-");
    printf ("%-12s", "last error");
    ctl_put_text (stdout, status->last_error, "-");
    printf ("\n\n");
    ctl_table_print (&table, "");
    //  The latest analysis of each target that has one.
    for (size_t i = 0; i < count; i++) {
        if (!targets [i].analysis)
            continue;
        printf ("\nanalysis of %s:\n", ctl_table_row (&table, i) [0]);
        ctl_print_analysis (targets [i].analysis, "  ");
    }
    //  The last lines a failed step's hook wrote on stderr (flotctl logs: all).
    for (size_t i = 0; i < count; i++)
        if (targets [i].stderr) {
            printf ("\n%s failed at %s (attempt %llu):\n", targets [i].name, targets [i].step,
                    (unsigned long long) targets [i].attempt);
            s_print_block ("stderr", targets [i].stderr);
        }
    ctl_table_destroy (&table);
    return s_print_history (status, err);
}

int
ctl_cmd_status (ctl_t *self)
{
    const char *id = self->opts.args [1];
    if (!ctl_id_valid (id))
        return ctl_id_usage_error ("", id);
    flot_body_t *body;
    flot_err_t err;
    if (ctl_call_id (self, "GetStatus", id, &body, &err))
        return ctl_report (self, COORDINATOR_SERVICE, "GetStatus", &err);
    status_t status;
    int rc = RC_OK;
    if (self->opts.json)
        rc = ctl_print_json (flot_body_root (body), false);
    else
    if (ctl_status_parse (body, &status, &err)
    ||  s_print_status (&status, &err))
        rc = ctl_bad_reply (COORDINATOR_SERVICE, "GetStatus", &err);
    flot_body_destroy (&body);
    return rc;
}
//  --------------------------------------------------------------------------
//  list

#define LIST_COLS 5

static const char *const s_list_headers [LIST_COLS] = {
    "ID", "NAME", "STATE", "PERCENT", "UPDATED"
};

static void
s_list_row (const flot_coordinator_deployment_t *deployment, cell_t *row)
{
    ctl_cell (row [0], deployment->id);
    ctl_cell (row [1], deployment->name);
    ctl_cell (row [2], deployment->state);
    snprintf (row [3], CELL_MAX, "%llu%%", (unsigned long long) deployment->percent);
    ctl_utc (deployment->updated_ms, true, row [4], CELL_MAX);
}

//  Prints a List reply as a table.
static int
s_print_list (flot_body_t *body, flot_err_t *err)
{
    flot_coordinator_list_reply_t list = { { 0 } };
    if (flot_coordinator_list_reply_decode (flot_body_root (body), flot_body_zone (body),
                                            &list, err))
        return -1;
    const flot_coordinator_deployment_t *items = list.deployments.items;
    table_t table;
    if (ctl_table_init (&table, s_list_headers, LIST_COLS, list.deployments.count, err))
        return -1;
    for (size_t i = 0; i < list.deployments.count; i++)
        s_list_row (&items [i], ctl_table_row (&table, i));
    ctl_table_print (&table, "");
    ctl_table_destroy (&table);
    return 0;
}

int
ctl_cmd_list (ctl_t *self)
{
    flot_coordinator_list_request_t request = { 0 };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_coordinator_list_request_def, &request, &sbuf);
    flot_body_t *body;
    flot_err_t err;
    int rc = ctl_call (self, COORDINATOR_SERVICE, NULL, "List", &sbuf, &body, &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc)
        return ctl_report (self, COORDINATOR_SERVICE, "List", &err);
    rc = RC_OK;
    if (self->opts.json)
        rc = ctl_print_json (flot_body_root (body), false);
    else
    if (s_print_list (body, &err))
        rc = ctl_bad_reply (COORDINATOR_SERVICE, "List", &err);
    flot_body_destroy (&body);
    return rc;
}

//  --------------------------------------------------------------------------
//  pause, resume, promote, abort

//  Sends command with request (a struct of def: the id and the options the
//  command takes); prints the new state (coordinator STATE).
static int
s_control (ctl_t *self, const char *command, const flot_struct_t *def,
           const void *request)
{
    const char *id = self->opts.args [1];
    if (!ctl_id_valid (id))
        return ctl_id_usage_error ("", id);
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (def, request, &sbuf);
    flot_body_t *body = NULL;
    flot_err_t err;
    int rc = RC_OK;
    if (sbuf.size > FLOT_MAX_BODY)
        rc = ctl_usage_error ("--reason is too long: the request would be %zu "
                              "bytes, the limit is %d", sbuf.size, FLOT_MAX_BODY);
    else
    if (ctl_call (self, COORDINATOR_SERVICE, NULL, command, &sbuf, &body, &err))
        rc = ctl_report (self, COORDINATOR_SERVICE, command, &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (!body)
        return rc;
    const msgpack_object *root = flot_body_root (body);
    flot_coordinator_state_t reply = { 0 };
    if (flot_coordinator_state_decode (root, flot_body_zone (body), &reply, &err))
        rc = ctl_bad_reply (COORDINATOR_SERVICE, command, &err);
    else
    if (self->opts.json)
        rc = ctl_print_json (root, false);
    else {
        printf ("deployment %s: ", id);
        ctl_put_cell (reply.state, 0);
        printf ("%s\n", reply.paused ? ", paused" : "");
        fflush (stdout);
    }
    flot_body_destroy (&body);
    return rc;
}

int
ctl_cmd_pause (ctl_t *self)
{
    flot_coordinator_id_t request = { .id = self->opts.args [1] };
    return s_control (self, "Pause", &flot_coordinator_id_def, &request);
}

int
ctl_cmd_resume (ctl_t *self)
{
    flot_coordinator_id_t request = { .id = self->opts.args [1] };
    return s_control (self, "Resume", &flot_coordinator_id_def, &request);
}

int
ctl_cmd_promote (ctl_t *self)
{
    bool full = self->opts.given & OPT_FULL;
    flot_coordinator_promote_request_t request = {
        .id = self->opts.args [1], .full = full, .has_full = full
    };
    return s_control (self, "Promote", &flot_coordinator_promote_request_def, &request);
}

int
ctl_cmd_abort (ctl_t *self)
{
    flot_coordinator_abort_request_t request = {
        .id = self->opts.args [1], .reason = self->opts.reason
    };
    return s_control (self, "Abort", &flot_coordinator_abort_request_def, &request);
}

//  --------------------------------------------------------------------------
//  logs

int
ctl_cmd_logs (ctl_t *self)
{
    const char *id = self->opts.args [1];
    if (!ctl_id_valid (id))
        return ctl_id_usage_error ("", id);
    flot_coordinator_get_logs_request_t request = {
        .id = id, .target = self->opts.target, .step = self->opts.step
    };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_coordinator_get_logs_request_def, &request, &sbuf);
    flot_body_t *body;
    flot_err_t err;
    int call = ctl_call (self, COORDINATOR_SERVICE, NULL, "GetLogs", &sbuf, &body, &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (call)
        return ctl_report (self, COORDINATOR_SERVICE, "GetLogs", &err);
    int rc = RC_OK;
    flot_coordinator_get_logs_reply_t reply;
    if (self->opts.json)
        rc = ctl_print_json (flot_body_root (body), false);
    else
    if (flot_coordinator_get_logs_reply_decode (flot_body_root (body), flot_body_zone (body),
                                                &reply, &err))
        rc = ctl_bad_reply (COORDINATOR_SERVICE, "GetLogs", &err);
    else {
        const flot_coordinator_log_t *steps = reply.steps.items;
        for (size_t i = 0; i < reply.steps.count; i++) {
            const flot_coordinator_log_t *log = &steps [i];
            printf ("%s (%s) attempt %llu: %s\n", log->step, log->type,
                    (unsigned long long) log->attempt, log->state);
            s_print_block ("stdout", log->stdout);
            s_print_block ("stderr", log->stderr);
            s_print_block ("error", log->error);
        }
        if (reply.steps.count == 0)
            printf ("no step of %s has run%s\n", reply.id,
                    self->opts.target || self->opts.step ? " (of those asked for)" : "");
        if (reply.truncated)
            fprintf (stderr, "flotctl: more steps have logs than fit in one reply: ask for "
                     "one with --target or --step\n");
    }
    flot_body_destroy (&body);
    return rc;
}

int
ctl_cmd_retry (ctl_t *self)
{
    flot_coordinator_retry_request_t request = {
        .id = self->opts.args [1], .target = self->opts.target
    };
    return s_control (self, "Retry", &flot_coordinator_retry_request_def, &request);
}

int
ctl_cmd_skip (ctl_t *self)
{
    if (!(self->opts.given & OPT_TARGET))
        return ctl_usage_error ("'skip' needs the failed target: flotctl skip ID --target T");
    flot_coordinator_skip_request_t request = {
        .id = self->opts.args [1], .target = self->opts.target, .reason = self->opts.reason
    };
    return s_control (self, "Skip", &flot_coordinator_skip_request_def, &request);
}

int
ctl_cmd_rollback (ctl_t *self)
{
    flot_coordinator_rollback_request_t request = {
        .id = self->opts.args [1], .reason = self->opts.reason
    };
    return s_control (self, "Rollback", &flot_coordinator_rollback_request_def, &request);
}
