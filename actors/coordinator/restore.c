/*  restore.c - loading the store's deployments after a restart.

    At start (coordinator.c), every unfinished deployment is loaded from
    its row and its steps' rows (coord_restore), and the finished ones for
    GetStatus and List (coord_restore_finished). Once the loop runs
    (coord_on_resume_all), the unfinished ones go on: a timed pause or soak
    for what is left, an interrupted step again under its id, a rollback
    where the rollback service left it (schedule.c). A row of an older
    version, without its RESOLVED bytes, is resolved again by the strategy
    service first, and stored with them. Who applied and who aborted a
    deployment come back with it, so that its later events still name them.
*/

#include "coordinator_internal.h"

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
        rt->uncounted = row->uncounted <= row->attempt ? row->uncounted : 0;
        if (found) {            //  a forward step's failed run: its last lines
            free (rt->stderr_tail);
            rt->stderr_tail = state == SS_FAILED && row->stderr_text && *row->stderr_text
                            ? coord_tail (row->stderr_text) : NULL;
        }
        rt->skipped_by_operator = state == SS_SKIPPED
                               && strncmp (row->error, COORD_SKIPPED, strlen (COORD_SKIPPED)) == 0;
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

void
coord_resolving_free (void **item_p)
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
    deployment_t *dep = coord_deployment_new (self, &bytes, row->resolved_size, NULL, NULL,
                                              row->file, row->cwd, &err);
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

//  Who aborted the deployment: the last abort among its actions.
typedef struct {
    bool aborted;
    char by [FLOT_MAX_KEY + 1];
    char rollback_by [FLOT_MAX_KEY + 1];
} abort_seen_t;

static int
s_abort_seen (const flot_action_row_t *action, void *arg)
{
    abort_seen_t *seen = arg;
    if (streq (action->command, "abort")) {
        seen->aborted = true;
        snprintf (seen->by, sizeof seen->by, "%s", action->by);
    }
    if (streq (action->command, "rollback"))
        snprintf (seen->rollback_by, sizeof seen->rollback_by, "%s", action->by);
    return 0;
}

//  Who applied the deployment, and whether (and by whom) it was aborted:
//  from its actions; for one stored before actions were (it has none),
//  from its last error if it rolls back, as the builds before read it.
//  Called once its state is set.
static void
s_restore_who (coordinator_t *self, deployment_t *dep, const flot_deployment_row_t *row)
{
    snprintf (dep->applied_by, sizeof dep->applied_by, "%s", row->created_by);
    abort_seen_t seen = { .aborted = false };
    size_t total = 0;
    if (flot_store_each_action (self->store, dep->id, 0, &total, s_abort_seen, &seen)) {
        flot_error (WHO, "%s", flot_store_error (self->store));
        total = 0;
    }
    dep->aborted = total ? seen.aborted
                 : dep->state == DS_ROLLING_BACK && strstr (row->last_error, "abort");
    snprintf (dep->aborted_by, sizeof dep->aborted_by, "%s", seen.by);
    snprintf (dep->rollback_by, sizeof dep->rollback_by, "%s", seen.rollback_by);
}

int
coord_restore (const flot_deployment_row_t *row, void *arg)
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
    snprintf (dep->queued_behind, sizeof dep->queued_behind, "%s", row->queued_behind);
    //  Loading, not a transition (transitions.h): the deployment, its steps
    //  and its targets are set as the store's rows say, not moved.
    dep->state = streq (row->state, "rolling_back") ? DS_ROLLING_BACK : DS_RUNNING;
    dep->restored = true;
    s_restore_who (self, dep, row);
    restore_t restore = { dep, zhashx_new () };
    for (size_t s = 0; s < dep->plan->step_count; s++)
        zhashx_insert (restore.index, dep->plan->steps [s].id, (void *) (s + 1));
    flot_store_each_step (self->store, dep->id, s_restore_step, &restore);
    //  Targets from their steps: done, failed, or in progress at the first
    //  step not finished. An interrupted step starts again (same id).
    for (size_t t = 0; t < dep->spec->target_count; t++) {
        size_t s = dep->plan->first [t], last = dep->plan->first [t + 1];
        bool started = false, failed = false, skipped = false;
        for (size_t k = s; k < last; k++) {
            started |= dep->steps [k].state != SS_PENDING || dep->steps [k].attempt > 0;
            failed |= dep->steps [k].state == SS_FAILED;
            skipped |= dep->steps [k].skipped_by_operator;
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
                coord_target_release (dep, (int) t);
        }
        else
        if (s == last) {
            dep->tstate [t] = skipped ? TS_SKIPPED : TS_DONE;
            coord_target_release (dep, (int) t);
        }
        else
        if (started) {
            dep->tstate [t] = TS_RUNNING;
            dep->in_progress++;
            //  A hook running at the crash is asked for again, the same
            //  attempt (s_go_on), which the executor runs once; one whose
            //  attempt was never sent starts. A pause keeps its start time.
            step_rt_t *rt = &dep->steps [s];
            if (rt->state == SS_RUNNING && dep->plan->steps [s].runs_hook && rt->attempt == 0)
                rt->state = SS_PENDING;
            if (rt->state == SS_RUNNING && dep->plan->steps [s].type == FLOT_STEP_PAUSE
            &&  dep->plan->steps [s].duration_ms < 0)
                dep->tstate [t] = TS_WAITING;
        }
    }
    if (dep->state == DS_ROLLING_BACK) {
        coord_rollback_plan (dep);
        flot_store_each_step (self->store, dep->id, s_restore_step, &restore);
        //  As coord_rollback_start left them: what did not finish is held.
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
    }
    zhashx_destroy (&restore.index);
    coord_deployment_add (self, dep);
    flot_notice (WHO, "resuming %s (%s, %zu of %zu steps done)", dep->id, row->state,
                 dep->steps_done, dep->plan->step_count);
    return 0;
}

//  Loads finished deployments too, for status and list.
int
coord_restore_finished (const flot_deployment_row_t *row, void *arg)
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
    s_restore_who (self, dep, row);
    restore_t restore = { dep, zhashx_new () };
    for (size_t s = 0; s < dep->plan->step_count; s++)
        zhashx_insert (restore.index, dep->plan->steps [s].id, (void *) (s + 1));
    flot_store_each_step (self->store, dep->id, s_restore_step, &restore);
    zhashx_destroy (&restore.index);
    for (size_t s = 0; s < dep->plan->step_count; s++)
        dep->steps_done += dep->steps [s].state == SS_SUCCEEDED
                        || dep->steps [s].state == SS_SKIPPED;
    //  Its targets as they ended: done (or skipped), failed, or held (the
    //  end came first); those that no longer hold up others are released,
    //  so that a Retry or Skip goes on from there.
    for (size_t t = 0; t < dep->spec->target_count; t++) {
        size_t s = dep->plan->first [t], last = dep->plan->first [t + 1];
        bool skipped = false;
        while (s < last && (dep->steps [s].state == SS_SUCCEEDED
                         || dep->steps [s].state == SS_SKIPPED))
            skipped |= dep->steps [s++].skipped_by_operator;
        dep->cursor [t] = s;
        if (s == last) {
            dep->tstate [t] = skipped ? TS_SKIPPED : TS_DONE;
            coord_target_release (dep, (int) t);
        }
        else
        if (dep->steps [s].state == SS_FAILED) {
            dep->tstate [t] = TS_FAILED;
            dep->failed_targets++;
            if (dep->spec->policy.on_failure == FLOT_ON_FAILURE_CONTINUE)
                coord_target_release (dep, (int) t);
        }
        else
            dep->tstate [t] = TS_HELD;
    }
    coord_deployment_add (self, dep);
    return 0;
}

//  --------------------------------------------------------------------------
//  Resolving old rows again, and going on

static void s_resolve_ask (resolving_t *resolving);

static int
s_on_resolve_retry (flot_loop_t *loop, int timer_id, void *arg)
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
    if (coord_transient (answer)) {
        flot_warn (WHO, "%s: the strategy service could not resolve its spec (%s); "
                      "asking again in %d ms", row->id, answer->err.message, GATE_RETRY_MS);
        flot_loop_timer (flot_actor_loop (actor), GATE_RETRY_MS, 1, s_on_resolve_retry, resolving);
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
            coord_restore_finished (row, self);
        else
            coord_restore (row, self);
        deployment_t *dep = zhashx_lookup (self->deployments, row->id);
        if (dep) {
            //  Stored with its RESOLVED bytes from now on.
            dep->spec_written = false;
            dep->text = strdup (row->spec);
            coord_begin (self);
            coord_save_deployment (dep);
            coord_commit (self);
            if (!resolving->finished)
                coord_go_on_restored (dep);
        }
    }
    zlistx_detach (self->resolving, resolving->handle);
    void *item = resolving;
    coord_resolving_free (&item);
    coord_pump (self);
}

static void
s_resolve_ask (resolving_t *resolving)
{
    coordinator_t *self = resolving->self;
    flot_strategy_spec_text_t text = { .spec = resolving->row.spec, .file = resolving->row.file };
    if (!flot_actor_call_msg (self->actor, "strategy", FLOT_STRATEGY_SPEC_KEY, FLOT_STRATEGY_RESOLVE,
                              &flot_strategy_spec_text_def, &text, STRATEGY_TIMEOUT_MS, false,
                              s_on_resolved, resolving))
        flot_loop_timer (flot_actor_loop (self->actor), GATE_RETRY_MS, 1, s_on_resolve_retry,
                     resolving);
}

int
coord_on_resume_all (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coordinator_t *self = arg;
    //  Only those loaded from the store: a deployment applied since the
    //  start (the loop may serve an Execute before this timer) runs already.
    zlistx_t *open = zlistx_new ();
    for (deployment_t *dep = zhashx_first (self->deployments); dep;
         dep = zhashx_next (self->deployments))
        if (dep->restored && (dep->state == DS_RUNNING || dep->state == DS_ROLLING_BACK))
            zlistx_add_end (open, dep);
    for (deployment_t *dep = zlistx_first (open); dep; dep = zlistx_next (open))
        coord_go_on_restored (dep);
    zlistx_destroy (&open);
    coord_queue_check (self);       //  those queued whose holder ended meanwhile
    for (resolving_t *resolving = zlistx_first (self->resolving); resolving;
         resolving = zlistx_next (self->resolving))
        s_resolve_ask (resolving);
    coord_pump (self);
    return 0;
}

//  Goes on with a deployment loaded from the store, once: before the
//  first command that finds it (which may come before the resume timer)
//  acts on it, or at the resume.
void
coord_go_on_restored (deployment_t *dep)
{
    if (!dep->restored)
        return;
    dep->restored = false;
    if (dep->state == DS_RUNNING || dep->state == DS_ROLLING_BACK)
        s_go_on (dep);
}

//  Goes on with a loaded deployment: a timed pause or soak that was
//  running goes on for what is left.
static void
s_go_on (deployment_t *dep)
{
    for (size_t t = 0; t < dep->spec->target_count && dep->state == DS_RUNNING; t++) {
        size_t s = dep->cursor [t];
        if (s >= dep->plan->first [t + 1] || dep->steps [s].state != SS_RUNNING)
            continue;
        if (dep->plan->steps [s].runs_hook)
            coord_hook_resume (dep, s);
        else
        if (dep->plan->steps [s].duration_ms >= 0)
            coord_step_start (dep, s);
    }
    coord_advance (dep);
}
