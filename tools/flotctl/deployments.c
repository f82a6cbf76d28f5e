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

//  The header of a status: its id, name, state, progress, times and last
//  error, a line each.
static int
s_print_header_lines (const status_t *status)
{
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
    printf ("\n");
    return 0;
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
    s_print_header_lines (status);
    printf ("\n");
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

//  A deployment of more targets than this is summed up (flotctl status).
#define STATUS_FULL         25
#define STATUS_SHOWN        5       //  failed, and running or waiting, targets summed up
#define WAVES_LISTED        4       //  waves in the summary
#define STATUS_PAGE         1000    //  targets asked for per call (--page)
#define LIST_PAGE           1000    //  deployments asked for per call (--page)

static const char *const s_joined_lists [] = { "targets", "deployments", "order", NULL };
static const char *const s_joined_maps [] = { "plan", "rollback", NULL };

//  Calls GetStatus for deployment id with the options a request may have
//  (offset and limit when has_*; target, state: NULL for none).
static int
s_get_status (ctl_t *self, const char *id, bool has_offset, uint64_t offset, bool has_limit,
              uint64_t limit, const char *target, const char *state, flot_body_t **body_p,
              flot_err_t *err)
{
    flot_coordinator_get_status_request_t request = {
        .id = id, .offset = offset, .has_offset = has_offset, .limit = limit,
        .has_limit = has_limit, .target = target, .state = state
    };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_coordinator_get_status_request_def, &request, &sbuf);
    int rc = ctl_call (self, COORDINATOR_SERVICE, NULL, "GetStatus", &sbuf, body_p, err);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

//  Fetches GetStatus pages of id's targets from offset, at most limit of
//  them (UINT64_MAX: to the end), self->opts.page (or STATUS_PAGE) per
//  call, into pages. Returns -1 to go on, or the exit code.
static int
s_status_pages (ctl_t *self, const char *id, uint64_t offset, uint64_t limit, pages_t *pages)
{
    uint64_t per = (self->opts.given & OPT_PAGE) ? self->opts.page : STATUS_PAGE;
    uint64_t got = 0;
    for (;;) {
        uint64_t want = limit - got < per ? limit - got : per;
        flot_body_t *body;
        flot_err_t err;
        if (s_get_status (self, id, true, offset, true, want, NULL, NULL, &body, &err))
            return ctl_report (self, COORDINATOR_SERVICE, "GetStatus", &err);
        page_t page;
        const msgpack_object *targets = flot_map_get (flot_body_root (body), "targets");
        uint64_t held = targets && targets->type == MSGPACK_OBJECT_ARRAY
                      ? targets->via.array.size : 0;
        int bad = ctl_page_next (flot_body_root (body), offset, held,
                                 "targets", &page, &err);
        if (bad || ctl_pages_add (pages, &body)) {
            flot_body_destroy (&body);
            return ctl_bad_reply (COORDINATOR_SERVICE, "GetStatus", &err);
        }
        got += held;
        //  An older coordinator answers every target, without a page.
        if (!page.paged || !page.more || got >= limit || held == 0)
            return -1;
        offset = page.next_offset;
    }
}

//  Prints the GetStatus reply at root (decoded into zone) in full, or as
//  JSON.
static int
s_status_full (ctl_t *self, const msgpack_object *root, msgpack_zone *zone)
{
    if (self->opts.json)
        return ctl_print_json (root, false);
    status_t status;
    flot_err_t err;
    memset (&status, 0, sizeof status);
    if (flot_coordinator_get_status_reply_decode (root, zone, &status, &err)
    ||  s_print_status (&status, &err))
        return ctl_bad_reply (COORDINATOR_SERVICE, "GetStatus", &err);
    const flot_coordinator_page_t *page = status.page;
    if (page && (page->offset > 0 || page->more))
        printf ("\ntargets %llu-%llu of %llu%s\n", (unsigned long long) page->offset + 1,
                (unsigned long long) (page->offset + status.targets.count),
                (unsigned long long) page->total, page->more ? ": more follow (--offset, "
                "--limit, --all)" : "");
    fflush (stdout);
    return RC_OK;
}

//  The counts of a SUMMARY or WAVE by state, as "9000 done, 3 failed".
#define COUNTS_LINE(line, cap, c) do { \
    const char *names [] = { "pending", "running", "waiting", "done", "failed", "held", \
                             "rolled_back", "skipped" }; \
    uint64_t values [] = { (c)->pending, (c)->running, (c)->waiting, (c)->done, \
                           (c)->failed, (c)->held, (c)->rolled_back, (c)->skipped }; \
    size_t shown = 0; \
    for (size_t k = 0; k < 8; k++) \
        if (values [k]) \
            ctl_append (line, cap, "%s%llu %s", shown++ ? ", " : "", \
                        (unsigned long long) values [k], names [k]); \
} while (0)

//  Whether a wave is under way: neither all pending nor all done.
static bool
s_wave_busy (const flot_coordinator_wave_t *wave)
{
    return wave->running || wave->waiting || wave->failed || wave->held
        || (wave->done && wave->pending);
}

//  Prints targets (of a GetStatus reply whose page counts them) under a
//  heading; nothing if there are none.
static int
s_print_some (const char *heading, flot_body_t *body, size_t *lines, flot_err_t *err)
{
    status_t status;
    if (ctl_status_parse (body, &status, err))
        return -1;
    size_t count = status.targets.count;
    uint64_t total = status.page ? status.page->total : count;
    if (count == 0) {
        if (total > 0) {
            printf ("\n%s (%llu): not shown\n", heading, (unsigned long long) total);
            *lines += 2;
        }
        return 0;
    }
    table_t table;
    if (ctl_table_init (&table, s_target_headers, TARGET_COLS, count, err))
        return -1;
    for (size_t i = 0; i < count; i++)
        ctl_target_row (&STATUS_TARGETS (&status) [i], ctl_table_row (&table, i));
    printf ("\n%s (%llu%s):\n", heading, (unsigned long long) total,
            total > count ? ", the first shown" : "");
    ctl_table_print (&table, "  ");
    ctl_table_destroy (&table);
    *lines += count + 3;
    return 0;
}

//  Prints a deployment of many targets summed up, in a screen: the header
//  of first (a GetStatus reply with its summary), its targets by state and
//  wave, then its failed targets and its running and waiting ones.
static int
s_status_summary (ctl_t *self, const char *id, flot_body_t *first)
{
    status_t status;
    flot_err_t err;
    if (ctl_status_parse (first, &status, &err)
    ||  (!status.summary && flot_err_set (&err, FLOT_E_MALFORMED,
                                          "a paged reply without its summary")))
        return ctl_bad_reply (COORDINATOR_SERVICE, "GetStatus", &err);
    //  A screen at most: STATUS_SHOWN failed targets, and as many running
    //  or waiting ones.
    flot_body_t *failed = NULL, *running = NULL, *waiting = NULL;
    uint64_t active = status.summary->running < STATUS_SHOWN ? status.summary->running
                    : STATUS_SHOWN;
    if (s_get_status (self, id, false, 0, true, STATUS_SHOWN, NULL, "failed", &failed, &err)
    ||  s_get_status (self, id, false, 0, true, STATUS_SHOWN, NULL, "running", &running, &err)
    ||  s_get_status (self, id, false, 0, true, STATUS_SHOWN - active, NULL, "waiting",
                      &waiting, &err)) {
        flot_body_destroy (&failed);
        flot_body_destroy (&running);
        return ctl_report (self, COORDINATOR_SERVICE, "GetStatus", &err);
    }
    //  The header as a full status prints it, without its targets.
    status_t header = status;
    header.targets.count = 0;
    header.actions.count = 0;
    int rc = RC_OK;
    if (s_print_header_lines (&header))
        rc = RC_ERROR;
    const flot_coordinator_summary_t *summary = status.summary;
    char line [512] = "";
    COUNTS_LINE (line, sizeof line, summary);
    printf ("%-12s%llu: %s\n", "targets", (unsigned long long) summary->targets, line);
    size_t lines = 14;
    //  The waves under way first, then the others in order.
    const flot_coordinator_wave_t *waves = summary->waves.items;
    size_t wave_count = summary->waves.count, listed = 0;
    if (summary->wave_count > 1) {
        printf ("%-12s%llu\n", "waves", (unsigned long long) summary->wave_count);
        lines++;
        for (int pass = 0; pass < 2; pass++)
            for (size_t w = 0; w < wave_count && listed < WAVES_LISTED; w++) {
                if (s_wave_busy (&waves [w]) != (pass == 0))
                    continue;
                *line = 0;
                COUNTS_LINE (line, sizeof line, &waves [w]);
                printf ("  wave %-5llu %llu: %s\n", (unsigned long long) waves [w].wave,
                        (unsigned long long) waves [w].targets, *line ? line : "-");
                listed++;
                lines++;
            }
        if (summary->wave_count > listed) {
            printf ("  and %llu more waves\n",
                    (unsigned long long) (summary->wave_count - listed));
            lines++;
        }
    }
    if (rc == RC_OK
    &&  (s_print_some ("failed", failed, &lines, &err)
    ||   s_print_some ("running", running, &lines, &err)
    ||   s_print_some ("waiting", waiting, &lines, &err)))
        rc = ctl_bad_reply (COORDINATOR_SERVICE, "GetStatus", &err);
    if (rc == RC_OK)
        printf ("\nmore: flotctl status %s --target NAME | --offset N --limit N | --all\n", id);
    fflush (stdout);
    flot_body_destroy (&failed);
    flot_body_destroy (&running);
    flot_body_destroy (&waiting);
    return rc;
}

int
ctl_cmd_status (ctl_t *self)
{
    const char *id = self->opts.args [1];
    if (!ctl_id_valid (id))
        return ctl_id_usage_error ("", id);
    unsigned given = self->opts.given;
    if ((given & OPT_TARGET) && (given & (OPT_ALL | OPT_OFFSET | OPT_LIMIT)))
        return ctl_usage_error ("--target shows one target: give it without --all, "
                                "--offset or --limit");
    if ((given & OPT_ALL) && (given & OPT_LIMIT))
        return ctl_usage_error ("--all shows every target: give it without --limit");
    flot_body_t *body = NULL;
    flot_err_t err;
    int rc = RC_OK;
    if (given & OPT_TARGET) {
        if (s_get_status (self, id, false, 0, false, 0, self->opts.target, NULL, &body, &err))
            return ctl_report (self, COORDINATOR_SERVICE, "GetStatus", &err);
        rc = s_status_full (self, flot_body_root (body), flot_body_zone (body));
        flot_body_destroy (&body);
        return rc;
    }
    pages_t pages;
    ctl_pages_init (&pages);
    bool ranged = given & (OPT_ALL | OPT_OFFSET | OPT_LIMIT);
    //  JSON is the whole reply unless a part is asked for; people get a
    //  screen.
    bool whole = (given & OPT_ALL) || (self->opts.json && !ranged);
    uint64_t limit = whole ? UINT64_MAX : (given & OPT_LIMIT) ? self->opts.limit : STATUS_FULL;
    rc = s_status_pages (self, id, self->opts.offset, limit, &pages);
    if (rc < 0) {
        page_t page;
        const msgpack_object *first = flot_body_root (pages.bodies [0]);
        if (ctl_page_of (first, &page, &err))
            rc = ctl_bad_reply (COORDINATOR_SERVICE, "GetStatus", &err);
        else
        if (!ranged && page.paged && page.total > STATUS_FULL && !self->opts.json)
            rc = s_status_summary (self, id, pages.bodies [0]);
        else {
            const msgpack_object *joined = ctl_pages_join (&pages, s_joined_lists,
                                                           s_joined_maps, &err);
            rc = !joined ? ctl_bad_reply (COORDINATOR_SERVICE, "GetStatus", &err)
               : s_status_full (self, joined, ctl_pages_zone (&pages));
        }
    }
    ctl_pages_clear (&pages);
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

//  Prints a List reply (joined) as a table.
static int
s_print_list (const msgpack_object *root, msgpack_zone *zone, flot_err_t *err)
{
    flot_coordinator_list_reply_t list;
    memset (&list, 0, sizeof list);
    if (flot_coordinator_list_reply_decode (root, zone, &list, err))
        return -1;
    const flot_coordinator_deployment_t *items = list.deployments.items;
    table_t table;
    if (ctl_table_init (&table, s_list_headers, LIST_COLS, list.deployments.count, err))
        return -1;
    for (size_t i = 0; i < list.deployments.count; i++)
        s_list_row (&items [i], ctl_table_row (&table, i));
    ctl_table_print (&table, "");
    ctl_table_destroy (&table);
    fflush (stdout);
    return 0;
}

//  The id of the last deployment of a List page (items) in id; "" if none.
static void
s_last_id (const msgpack_object *items, char *id, size_t cap)
{
    flot_err_t ignored;
    *id = 0;
    if (items && items->type == MSGPACK_OBJECT_ARRAY && items->via.array.size
    &&  flot_map_str (&items->via.array.ptr [items->via.array.size - 1], "id", true, id,
                      cap, &ignored) != 1)
        *id = 0;
}

//  Fetches List pages (--name, from --offset, at most --limit) into pages.
//  The first page goes by --offset, each next one after the previous one's
//  last deployment (its next_after), so that those retention removes
//  meanwhile move none of the others past a page (SPEC 18.1); from a
//  coordinator that gives no next_after, by offset. Returns -1 to go on, or
//  the exit code.
static int
s_list_pages (ctl_t *self, pages_t *pages)
{
    uint64_t per = (self->opts.given & OPT_PAGE) ? self->opts.page : LIST_PAGE;
    uint64_t limit = (self->opts.given & OPT_LIMIT) ? self->opts.limit : UINT64_MAX;
    uint64_t offset = self->opts.offset, got = 0;
    char after [FLOT_MAX_ID + 1] = "";     //  the cursor: "" to go by offset
    for (;;) {
        flot_coordinator_list_request_t request = {
            .name = self->opts.name, .offset = offset, .has_offset = !*after,
            .after = *after ? after : NULL,
            .limit = limit - got < per ? limit - got : per, .has_limit = true
        };
        msgpack_sbuffer sbuf;
        flot_encode_sbuf (&flot_coordinator_list_request_def, &request, &sbuf);
        flot_body_t *body;
        flot_err_t err;
        int rc = ctl_call (self, COORDINATOR_SERVICE, NULL, "List", &sbuf, &body, &err);
        msgpack_sbuffer_destroy (&sbuf);
        if (rc)
            return ctl_report (self, COORDINATOR_SERVICE, "List", &err);
        page_t page;
        const msgpack_object *items = flot_map_get (flot_body_root (body), "deployments");
        uint64_t held = items && items->type == MSGPACK_OBJECT_ARRAY ? items->via.array.size : 0;
        int bad = ctl_page_next (flot_body_root (body), *after ? CTL_PAGE_AFTER : offset,
                                 held, "deployments", &page, &err);
        char last [sizeof page.next_after];
        s_last_id (items, last, sizeof last);
        if (!bad && *page.next_after && held && !streq (page.next_after, last))
            bad = flot_err_set (&err, FLOT_E_MALFORMED, "its page ends with '%s' but says "
                                "the next starts after %s", last, page.next_after);
        if (!bad && *page.next_after && streq (page.next_after, after))
            bad = flot_err_set (&err, FLOT_E_MALFORMED, "asked for the deployments after "
                                "%s, it says the next page starts after %s again", after,
                                page.next_after);
        if (bad || ctl_pages_add (pages, &body)) {
            flot_body_destroy (&body);
            return ctl_bad_reply (COORDINATOR_SERVICE, "List", &err);
        }
        got += held;
        if (!page.paged || !page.more || got >= limit || held == 0)
            return -1;
        snprintf (after, sizeof after, "%s", page.next_after);
        offset = page.next_offset;
    }
}

int
ctl_cmd_list (ctl_t *self)
{
    if ((self->opts.given & OPT_NAME) && !*self->opts.name)
        return ctl_usage_error ("--name: the spec name is empty");
    pages_t pages;
    ctl_pages_init (&pages);
    int rc = s_list_pages (self, &pages);
    if (rc < 0) {
        flot_err_t err;
        const msgpack_object *joined = ctl_pages_join (&pages, s_joined_lists, s_joined_maps,
                                                       &err);
        msgpack_zone *zone = ctl_pages_zone (&pages);
        if (!joined)
            rc = ctl_bad_reply (COORDINATOR_SERVICE, "List", &err);
        else
        if (self->opts.json)
            rc = ctl_print_json (joined, false);
        else
            rc = s_print_list (joined, zone, &err) ? ctl_bad_reply (COORDINATOR_SERVICE,
                                                                    "List", &err) : RC_OK;
    }
    ctl_pages_clear (&pages);
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
