/*  deployment.c - one deployment in memory, and its state changes.

    A deployment_t is built from its RESOLVED bytes (coord_deployment_new),
    by Execute (commands.c) or from the store after a restart (restore.c),
    and kept by id and in List's order (coord_deployment_add). It holds, per
    target, the dependency counts that say when the target may start
    (coord_target_release). Every state change of a deployment, a target or
    a step goes through its kind's table in transitions.c
    (coord_deployment_to, coord_target_to, coord_step_to).
*/

#include "coordinator_internal.h"

//  --------------------------------------------------------------------------
//  Deployments in memory

void
coord_deployment_destroy (deployment_t **dep_p)
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
    for (size_t s = 0; dep->steps && dep->plan && s < dep->plan->step_count; s++)
        free (dep->steps [s].stderr_tail);
    flot_plan_destroy (&dep->plan);
    flot_plan_destroy (&dep->back);
    flot_spec_destroy (&dep->spec);
    free (dep->steps);
    free (dep->back_steps);
    free (dep->tstate);
    free (dep->running);
    free (dep->running_at);
    free (dep->cursor);
    free (dep->deps_left);
    free (dep->rev_first);
    free (dep->rev);
    free (dep->wave_left);
    free (dep);
    *dep_p = NULL;
}

void
coord_deployment_free (void **item_p)
{
    coord_deployment_destroy ((deployment_t **) item_p);
}

//  Builds the runtime of a RESOLVED deployment (its bytes, taken): its
//  model and plan, and every target pending with its dependency counts.
//  decoded, if not NULL, is the same RESOLVED already decoded (an answer),
//  read instead of the bytes. text is its spec's text while the store lacks
//  it, else NULL. Returns NULL with err if they do not make a deployment.
deployment_t *
coord_deployment_new (coordinator_t *self, void **resolved_p, size_t resolved_size,
                      const msgpack_object *decoded, const char *text, const char *file,
                      const char *cwd, flot_err_t *err)
{
    deployment_t *dep = calloc (1, sizeof *dep);
    assert (dep);
    dep->owner = self;
    dep->state = DS_NONE;           //  Execute starts it, or its stored row sets it
    dep->resolved = *resolved_p;
    dep->resolved_size = resolved_size;
    *resolved_p = NULL;
    if (decoded ? flot_resolved_load_map (decoded, &dep->spec, &dep->plan, err)
                : flot_resolved_load (dep->resolved, dep->resolved_size, &dep->spec, &dep->plan,
                                      err)) {
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
        dep->steps [s].timer = dep->steps [s].fault_timer = -1;
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
    dep->running = calloc (n + 1, sizeof (int));
    dep->running_at = malloc ((n + 1) * sizeof (int));
    for (size_t t = 0; t < n; t++)
        dep->running_at [t] = -1;
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

int
coord_id_number (const char *id, uint64_t *n)
{
    const char *dash = strrchr (id, '-');
    if (!dash || dash == id || !dash [1] || strlen (dash + 1) > 18)
        return -1;              //  18 digits: never over INT64_MAX, as the store counts
    uint64_t value = 0;
    for (const char *c = dash + 1; *c; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        value = value * 10 + (uint64_t) (*c - '0');
    }
    *n = value;
    return 0;
}

int
coord_key_cmp (uint64_t a_number, const char *a_id, uint64_t b_number,
               const char *b_id)
{
    if (a_number != b_number)
        return a_number < b_number ? -1 : 1;
    int rc = strcmp (a_id, b_id);
    return rc < 0 ? -1 : rc > 0;
}

//  List's order: by creation, that is by the number in the id (the store
//  counts ids across every spec name and restarts; the wall clock of
//  created_ms may step back), then by id.
int
coord_by_created (const void *a, const void *b)
{
    const deployment_t *da = a, *db = b;
    return coord_key_cmp (da->number, da->id, db->number, db->id);
}

//  The coordinator takes the deployment (its id and created_ms set): by
//  id, and in List's order, kept as they come rather than sorted per List.
void
coord_deployment_add (coordinator_t *self, deployment_t *dep)
{
    if (coord_id_number (dep->id, &dep->number))
        dep->number = 0;                //  not an id the store made: first, by id
    coord_targets_loaded (dep);         //  restored: its targets' states were set
    zhashx_insert (self->deployments, dep->id, dep);
    zlistx_insert (self->listed, dep, false);     //  the newest, usually: from the end
    coord_holds_add (dep);
    coord_deadline_watch (dep);         //  restored running: its deadline may be near
}

int64_t
coord_deadline_at (const deployment_t *dep)
{
    //  progress_ms + deadline, kept from overflowing (a stored row's
    //  values are not trusted).
    int64_t deadline = dep->spec->policy.progress_deadline_ms;
    return deadline > 0 && dep->progress_ms > INT64_MAX - deadline ? INT64_MAX
         : deadline < 0 && dep->progress_ms < INT64_MIN - deadline ? INT64_MIN
         : dep->progress_ms + deadline;
}

void
coord_deadline_watch (deployment_t *dep)
{
    coordinator_t *self = dep->owner;
    if (!self || dep->state != DS_RUNNING || *dep->queued_behind)
        return;                 //  cannot be late (see coord_deadlines_due)
    int64_t at = coord_deadline_at (dep);
    if (at < self->deadline_next)
        self->deadline_next = at;
}

//  Target t no longer holds up others (done, or failed under continue).
void
coord_target_release (deployment_t *dep, int t)
{
    if (dep->trt [t].released)
        return;                 //  once: a target retried after it failed under continue
    dep->trt [t].released = true;
    for (size_t e = dep->rev_first [t]; e < dep->rev_first [t + 1]; e++)
        dep->deps_left [dep->rev [e]]--;
    dep->wave_left [dep->spec->targets [t].wave]--;
    int waves = dep->spec->wave_count ? (int) dep->spec->wave_count : 1;
    while (dep->waves_done < waves && dep->wave_left [dep->waves_done] == 0)
        dep->waves_done++;
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

void
coord_deployment_to (deployment_t *dep, flot_transition_event_t event)
{
    bool active = dep->state == DS_RUNNING || dep->state == DS_ROLLING_BACK;
    dep->state = s_next (dep, FLOT_KIND_DEPLOYMENT, dep->state, event, "deployment", "");
    //  Ended: its targets are free for the next (holds.c); reopened by an
    //  operator's command (which checked they are free): they are its own.
    bool now = dep->state == DS_RUNNING || dep->state == DS_ROLLING_BACK;
    if (active && !now)
        coord_holds_drop (dep);
    else
    if (!active && now && event != FLOT_EV_STARTED)
        coord_holds_add (dep);
    coord_deadline_watch (dep);         //  started or reopened: it can be late
}

//  Keeps dep->running the set of the targets in state running.
static void
s_running_set (deployment_t *dep, int t, bool running)
{
    int at = dep->running_at [t];
    if (running && at < 0) {
        dep->running_at [t] = (int) dep->running_count;
        dep->running [dep->running_count++] = t;
    }
    else
    if (!running && at >= 0) {
        int last = dep->running [--dep->running_count];
        dep->running [at] = last;
        dep->running_at [last] = at;
        dep->running_at [t] = -1;
    }
}

void
coord_target_to (deployment_t *dep, int t, flot_transition_event_t event)
{
    dep->tstate [t] = s_next (dep, FLOT_KIND_TARGET, dep->tstate [t], event, "target",
                              dep->spec->targets [t].name);
    s_running_set (dep, t, dep->tstate [t] == TS_RUNNING);
    if (dep->tstate [t] == TS_PENDING)
        dep->order_first = 0;           //  pending again (retried): look from the start
}

void
coord_targets_loaded (deployment_t *dep)
{
    for (size_t t = 0; t < dep->spec->target_count; t++)
        s_running_set (dep, (int) t, dep->tstate [t] == TS_RUNNING);
    dep->order_first = 0;
}

//  Step s of the plan, or (back) of the rollback plan.
void
coord_step_to (deployment_t *dep, size_t s, bool back, flot_transition_event_t event)
{
    step_rt_t *rt = back ? &dep->back_steps [s] : &dep->steps [s];
    const flot_plan_t *plan = back ? dep->back : dep->plan;
    rt->state = s_next (dep, FLOT_KIND_STEP, rt->state, event,
                        back ? "rollback step" : "step", plan->steps [s].id);
}

const char *
coord_state_name (const deployment_t *dep)
{
    return flot_state_name (FLOT_KIND_DEPLOYMENT, dep->state);
}
