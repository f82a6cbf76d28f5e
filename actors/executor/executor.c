/*  executor.c - the step executor actor (service "executor").

    Runs a deployment's hook for one step on one target, as a real child
    process in its own process group, with the step's facts in its
    environment (FLOTILLA_DEPLOYMENT, FLOTILLA_STEP_ID, FLOTILLA_STEP_TYPE,
    FLOTILLA_TARGET, FLOTILLA_TARGET_ADDRESS, FLOTILLA_VERSION,
    FLOTILLA_PREVIOUS_VERSION, FLOTILLA_WEIGHT, FLOTILLA_ATTEMPT) and the
    hook's own env. A timeout kills the whole group (TERM, then KILL). The
    tail of the output (stdout and stderr) is kept and returned. ExecuteStep
    answers when the hook ends; the actor never blocks meanwhile, so one
    executor runs many hooks at once. Executors that claim targets (the
    broker's keys) get only those targets' steps.

    Nothing from the wire runs as given: a hook names a program inside this
    host's hooks directory (the option "hooks-dir", flotillad --hooks-dir;
    without one no hook runs), resolved by common/hook_path.c; it runs in
    that directory, whatever the step's `cwd` says; and its env may not set
    the variables common/env_policy.c denies (LD_*, PATH, BASH_ENV...).
*/
#include "executor.h"
#include "flotilla/child.h"
#include "flotilla/contract_executor.h"
#include "flotilla/defer.h"
#include "flotilla/env_policy.h"
#include "flotilla/hook_path.h"
#include "flotilla/log.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define WHO "executor"
#define TAIL 4096
#define MAX_ARGS 64
#define MAX_ENV 64
#define KILL_GRACE_MS 2000
#define REAP_MS 10

extern char **environ;

typedef struct _run_t run_t;

typedef struct {
    flot_actor_t *actor;
    zlistx_t *runs;             //  run_t *: hooks running
    flot_defer_t *finished;     //  run_t *: answered, freed a turn of the loop later
    char hooks_dir [1024];      //  absolute; "" if none: then no hook runs
} executor_t;

struct _run_t {
    executor_t *executor;
    flot_request_t *request;
    char step_id [128];
    char deployment [128];
    pid_t pid;
    int fd;                     //  read end of the output pipe, -1 when closed
    int pidfd;                  //  readable when the hook exits; -1 if none
    char tail [TAIL];           //  the last TAIL bytes of output, a ring
    size_t tail_used, tail_at;
    int64_t started;
    int64_t timeout_ms;
    bool timed_out;
    int reap_timer;             //  without a pidfd: polls waitpid; else -1
    int kill_timer;             //  -1 when none
    bool finished;              //  answered: its handlers do nothing more
    void *handle;
};

//  --------------------------------------------------------------------------
//  Output and completion

static void
s_tail_add (run_t *run, const char *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        run->tail [run->tail_at] = data [i];
        run->tail_at = (run->tail_at + 1) % TAIL;
        if (run->tail_used < TAIL)
            run->tail_used++;
    }
}

//  The tail in order, NUL-terminated, into buffer (TAIL + 1 bytes).
static size_t
s_tail_copy (const run_t *run, char *buffer)
{
    size_t start = run->tail_used < TAIL ? 0 : run->tail_at;
    for (size_t i = 0; i < run->tail_used; i++)
        buffer [i] = run->tail [(start + i) % TAIL];
    buffer [run->tail_used] = 0;
    return run->tail_used;
}

static int
s_on_output (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    run_t *run = arg;
    if (run->finished)
        return 0;
    char buffer [4096];
    ssize_t got = read (item->fd, buffer, sizeof buffer);
    if (got > 0)
        s_tail_add (run, buffer, (size_t) got);
    else
    if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        zloop_poller_end (loop, item);
        close (run->fd);
        run->fd = -1;
    }
    return 0;
}

//  Ends the run's pollers and timers and closes its descriptors. A poll
//  round under way may still call its handlers: they see finished and do
//  nothing, and the run is freed in a later turn (flot_defer).
static void
s_run_release (run_t *run)
{
    zloop_t *loop = flot_actor_loop (run->executor->actor);
    if (run->finished)
        return;                 //  released already
    run->finished = true;
    if (run->fd >= 0) {
        zmq_pollitem_t item = { NULL, run->fd, ZMQ_POLLIN, 0 };
        zloop_poller_end (loop, &item);
        close (run->fd);
        run->fd = -1;
    }
    if (run->pidfd >= 0) {
        zmq_pollitem_t item = { NULL, run->pidfd, ZMQ_POLLIN, 0 };
        zloop_poller_end (loop, &item);
        close (run->pidfd);
        run->pidfd = -1;
    }
    if (run->reap_timer >= 0)
        zloop_timer_end (loop, run->reap_timer);
    if (run->kill_timer >= 0)
        zloop_timer_end (loop, run->kill_timer);
    run->reap_timer = run->kill_timer = -1;
    zlistx_detach (run->executor->runs, run->handle);
    run->handle = NULL;
    flot_defer_free (run->executor->finished, run);
}

//  The hook ended with status: answer the request.
static void
s_finish (run_t *run, int status)
{
    //  Read what the pipe still holds.
    if (run->fd >= 0) {
        char buffer [4096];
        ssize_t got;
        while ((got = read (run->fd, buffer, sizeof buffer)) > 0)
            s_tail_add (run, buffer, (size_t) got);
    }
    char *output = malloc (TAIL + 1);
    s_tail_copy (run, output);
    const char *state = run->timed_out ? "timeout"
                      : WIFEXITED (status) && WEXITSTATUS (status) == 0 ? "succeeded" : "failed";
    flot_executor_step_result_t reply = {
        .status = state,
        .exit_code = WIFEXITED (status) ? WEXITSTATUS (status) : -1,
        .signal = WIFSIGNALED (status) ? WTERMSIG (status) : 0,
        .output = output,
        .duration_ms = (uint64_t) (zclock_mono () - run->started),
        .pid = (uint64_t) run->pid
    };
    flot_info (WHO, "step %s of %s: %s", run->step_id, run->deployment, state);
    flot_request_answer (&run->request, &reply);
    free (output);
    s_run_release (run);
}

static int
s_on_reap (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    run_t *run = arg;
    if (run->finished)
        return 0;
    int status;
    if (flot_child_reaped (run->pid, &status))
        s_finish (run, status);
    return 0;
}

static int
s_on_exit (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) item;
    return s_on_reap (loop, 0, arg);
}

static int
s_on_kill (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    run_t *run = arg;
    if (run->finished)
        return 0;
    //  First TERM to the whole group; if it is still there, KILL.
    int sig = run->timed_out ? SIGKILL : SIGTERM;
    if (!run->timed_out)
        flot_notice (WHO, "step %s of %s ran past its timeout of %lld ms; stopping it",
                     run->step_id, run->deployment, (long long) run->timeout_ms);
    run->timed_out = true;
    kill (-run->pid, sig);
    run->kill_timer = sig == SIGTERM
        ? zloop_timer (loop, KILL_GRACE_MS, 1, s_on_kill, run) : -1;
    return 0;
}

//  --------------------------------------------------------------------------
//  ExecuteStep

typedef struct {
    char *argv [MAX_ARGS + 2];
    char *envp [MAX_ENV + 16 + 256];
    size_t argc, envc;
    char path [2048];           //  the hook's program, in the hooks directory
} launch_t;

static void
s_launch_free (launch_t *launch)
{
    for (size_t i = 0; i < launch->argc; i++)
        free (launch->argv [i]);
    for (size_t i = 0; i < launch->envc; i++)
        free (launch->envp [i]);
}

static int
s_env_add (launch_t *launch, const char *name, const char *value)
{
    if (launch->envc + 1 >= sizeof launch->envp / sizeof launch->envp [0])
        return -1;
    size_t size = strlen (name) + strlen (value) + 2;
    char *entry = malloc (size);
    snprintf (entry, size, "%s=%s", name, value);
    launch->envp [launch->envc++] = entry;
    return 0;
}

//  True if the hook's env sets the variable of entry ("NAME=value").
static bool
s_env_overridden (const flot_executor_hook_t *hook, const char *entry)
{
    for (size_t i = 0; i < hook->env.count; i++) {
        size_t size = strlen (hook->env.items [i].key);
        if (strncmp (entry, hook->env.items [i].key, size) == 0 && entry [size] == '=')
            return true;
    }
    return false;
}

//  The hook's env: each name a variable name that the policy allows.
static int
s_env_check (const flot_executor_hook_t *hook, flot_err_t *err)
{
    char why [200];
    for (size_t i = 0; i < hook->env.count; i++) {
        const char *name = hook->env.items [i].key;
        if (strchr (name, '='))
            return flot_err_set (err, FLOT_E_INVALID,
                "field 'hook.env.%.64s': a name holds no '='", name);
        if (flot_env_name_check (name, why, sizeof why))
            return flot_err_set (err, FLOT_E_INVALID, "field 'hook.env': %s", why);
    }
    return 0;
}

//  Reads the hook and the step's facts (a STEP the contract checked: its
//  strings fit the buffers, at most MAX_ARGS args and MAX_ENV env entries)
//  into launch: the program the hook names in the hooks directory, its
//  args, its environment. The step's cwd is not read: the hook runs in the
//  hooks directory.
static int
s_launch_read (executor_t *self, const flot_executor_step_t *step, launch_t *launch,
               run_t *run, flot_err_t *err)
{
    const flot_executor_hook_t *hook = step->hook;
    //  The contract's limits are these; should they ever differ, ours hold.
    if (hook->args.count > MAX_ARGS || hook->env.count > MAX_ENV)
        return flot_err_set (err, FLOT_E_INVALID, "field 'hook': %zu args and %zu env "
                             "entries, the limits are %d and %d", hook->args.count,
                             hook->env.count, MAX_ARGS, MAX_ENV);
    snprintf (run->deployment, sizeof run->deployment, "%s", step->deployment);
    snprintf (run->step_id, sizeof run->step_id, "%s", step->step_id);
    char why [256];
    if (flot_hook_resolve (self->hooks_dir, hook->command, &flot_hook_kind_hook,
                           launch->path, sizeof launch->path, why, sizeof why))
        return flot_err_set (err, FLOT_E_INVALID, "%s", why);
    if (s_env_check (hook, err))
        return -1;
    run->timeout_ms = (int64_t) hook->timeout_ms;
    launch->argv [launch->argc++] = strdup (launch->path);
    const char *const *args = hook->args.items;
    for (size_t i = 0; i < hook->args.count && launch->argc <= MAX_ARGS; i++)
        launch->argv [launch->argc++] = strdup (args [i]);
    launch->argv [launch->argc] = NULL;
    //  The environment: ours, the step's facts, then the hook's own.
    for (char **e = environ; *e && launch->envc < 256; e++)
        if (strncmp (*e, "FLOTILLA_", 9) != 0 && !s_env_overridden (hook, *e))
            launch->envp [launch->envc++] = strdup (*e);
    char number [32];
    s_env_add (launch, "FLOTILLA_DEPLOYMENT", step->deployment);
    s_env_add (launch, "FLOTILLA_STEP_ID", step->step_id);
    s_env_add (launch, "FLOTILLA_STEP_TYPE", step->type);
    s_env_add (launch, "FLOTILLA_TARGET", step->target);
    s_env_add (launch, "FLOTILLA_TARGET_ADDRESS", step->address ? step->address : "");
    s_env_add (launch, "FLOTILLA_VERSION", step->version);
    s_env_add (launch, "FLOTILLA_PREVIOUS_VERSION",
               step->previous_version ? step->previous_version : "");
    snprintf (number, sizeof number, "%llu", (unsigned long long) step->weight);
    s_env_add (launch, "FLOTILLA_WEIGHT", number);
    snprintf (number, sizeof number, "%llu", (unsigned long long) step->attempt);
    s_env_add (launch, "FLOTILLA_ATTEMPT", number);
    for (size_t i = 0; i < hook->env.count; i++) {
        const flot_strpair_t *entry = &hook->env.items [i];
        if (s_env_add (launch, entry->key, entry->value))
            return flot_err_set (err, FLOT_E_INVALID,
                "field 'hook.env': the environment is full at '%.64s'", entry->key);
    }
    launch->envp [launch->envc] = NULL;
    return 0;
}

//  Starts the hook. Returns 0, or -1 with err.
static int
s_spawn (run_t *run, launch_t *launch, flot_err_t *err)
{
    const char *dir = run->executor->hooks_dir;
    int rc = flot_child_spawn (launch->argv, launch->envp, dir, FLOT_CHILD_STDERR,
                               &run->pid, &run->fd);
    if (rc < 0)
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot make a pipe: %s", strerror (errno));
    if (rc)
        return flot_err_set (err, FLOT_E_INVALID, "cannot run '%s' in %s: %s",
                             launch->argv [0], dir, strerror (rc));
    return 0;
}

static void
s_execute_step (flot_actor_t *actor, flot_request_t *request)
{
    executor_t *self = flot_actor_state (actor);
    run_t *run = calloc (1, sizeof *run);
    launch_t *launch = calloc (1, sizeof *launch);
    assert (run && launch);
    run->executor = self;
    run->fd = run->pidfd = run->reap_timer = run->kill_timer = -1;
    flot_err_t err;
    if (s_launch_read (self, flot_request_args (request), launch, run, &err)
    ||  s_spawn (run, launch, &err)) {
        s_launch_free (launch);
        free (launch);
        free (run);
        flot_request_fail (&request, &err);
        return;
    }
    s_launch_free (launch);
    free (launch);
    run->request = request;
    run->started = zclock_mono ();
    run->handle = zlistx_add_end (self->runs, run);
    zloop_t *loop = flot_actor_loop (actor);
    zmq_pollitem_t item = { NULL, run->fd, ZMQ_POLLIN, 0 };
    zloop_poller (loop, &item, s_on_output, run);
    //  Told of the exit by a pidfd where the kernel has them, else by polling.
    run->pidfd = flot_child_pidfd (run->pid);
    if (run->pidfd >= 0) {
        zmq_pollitem_t exit_item = { NULL, run->pidfd, ZMQ_POLLIN, 0 };
        zloop_poller (loop, &exit_item, s_on_exit, run);
    }
    else
        run->reap_timer = zloop_timer (loop, REAP_MS, 0, s_on_reap, run);
    run->kill_timer = zloop_timer (loop, (size_t) run->timeout_ms, 1, s_on_kill, run);
    flot_info (WHO, "step %s of %s: started pid %d", run->step_id, run->deployment,
               (int) run->pid);
}

//  --------------------------------------------------------------------------
//  GetStepStatus and ValidateStep

static void
s_get_step_status (flot_actor_t *actor, flot_request_t *request)
{
    executor_t *self = flot_actor_state (actor);
    const flot_executor_get_step_status_request_t *args = flot_request_args (request);
    for (run_t *run = zlistx_first (self->runs); run; run = zlistx_next (self->runs))
        if (streq (run->step_id, args->step_id) && streq (run->deployment, args->deployment)) {
            char *output = malloc (TAIL + 1);
            s_tail_copy (run, output);
            flot_executor_get_step_status_reply_t reply = {
                .status = "running",
                .pid = (uint64_t) run->pid,
                .running_ms = (uint64_t) (zclock_mono () - run->started),
                .output = output
            };
            flot_request_answer (&request, &reply);
            free (output);
            return;
        }
    flot_request_error (&request, FLOT_E_NOT_FOUND,
                        "no step %s of %s is running on this executor",
                        args->step_id, args->deployment);
}

static void
s_validate_step (flot_actor_t *actor, flot_request_t *request)
{
    executor_t *self = flot_actor_state (actor);
    run_t run = { .fd = -1, .pidfd = -1, .reap_timer = -1, .kill_timer = -1 };
    launch_t *launch = calloc (1, sizeof *launch);
    flot_err_t err;
    int rc = s_launch_read (self, flot_request_args (request), launch, &run, &err);
    s_launch_free (launch);
    free (launch);
    if (rc)
        flot_request_fail (&request, &err);
    else {
        flot_executor_validate_step_reply_t reply = { .valid = true };
        flot_request_answer (&request, &reply);
    }
}

//  --------------------------------------------------------------------------
//  Life cycle

static int
s_start (flot_actor_t *actor)
{
    executor_t *self = calloc (1, sizeof *self);
    assert (self);
    self->actor = actor;
    self->runs = zlistx_new ();
    self->finished = flot_defer_new (flot_actor_loop (actor), free);
    const char *dir = flot_actor_option (actor, "hooks-dir", NULL);
    if (flot_hook_dir (dir, self->hooks_dir, sizeof self->hooks_dir))
        flot_warn (WHO, "the hooks directory '%.200s' cannot be made absolute: "
                   "no hook runs", dir);
    else
    if (!*self->hooks_dir)
        flot_notice (WHO, "no hooks directory (flotillad --hooks-dir): no hook runs");
    else {
        char why [512];
        if (flot_hook_dir_check (self->hooks_dir, why, sizeof why))
            flot_warn (WHO, "%s: no hook runs until that is fixed", why);
        else
            flot_info (WHO, "hooks run from %s", self->hooks_dir);
    }
    flot_actor_set_state (actor, self);
    return 0;
}

static void
s_stop (flot_actor_t *actor)
{
    executor_t *self = flot_actor_state (actor);
    //  Hooks still running are stopped; their requests are answered by the
    //  host (CANCELLED), and the coordinator runs them again by step id.
    while (zlistx_size (self->runs)) {
        run_t *run = zlistx_first (self->runs);
        flot_child_stop (run->pid);
        s_run_release (run);
    }
    zlistx_destroy (&self->runs);
    flot_defer_destroy (&self->finished);
    free (self);
}

static const flot_command_t s_commands [] = {
    { "ExecuteStep", s_execute_step },
    { "ValidateStep", s_validate_step },
    { "GetStepStatus", s_get_step_status },
    { NULL, NULL }
};

const flot_actor_def_t flot_executor_actor = {
    .service = "executor",
    .contract = &flot_executor_contract,
    .commands = s_commands,
    .start = s_start,
    .stop = s_stop
};
