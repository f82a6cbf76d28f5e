/*  executor.c - the step executor actor (service "executor").

    Runs a deployment's hook for one step on one target, as a real child
    process in its own process group, with the step's facts in its
    environment (FLOTILLA_DEPLOYMENT, FLOTILLA_STEP_ID, FLOTILLA_STEP_TYPE,
    FLOTILLA_TARGET, FLOTILLA_TARGET_ADDRESS, FLOTILLA_VERSION,
    FLOTILLA_PREVIOUS_VERSION, FLOTILLA_WEIGHT, FLOTILLA_ATTEMPT) and the
    hook's own env. A timeout kills the whole group (TERM, then KILL). The
    tails of its stdout and stderr are kept apart and returned. ExecuteStep
    answers when the hook ends; the actor never blocks meanwhile, so one
    executor runs many hooks at once, up to its slots; more wait in a
    queue, and a hook's timeout starts when it is spawned. Executors that
    claim targets (the broker's keys) get only those targets' steps.

    One run per idempotency key (deployment, step id, attempt): the same key
    again is answered with that run's result, when it ends or at once if it
    has; it never runs twice. Another attempt of a step whose attempt still
    runs here is CONFLICT. The record (runs.c) outlives the executor: a run
    still `running` when it starts again was left by an executor that died,
    and is killed (if its process is still the one recorded) and marked
    `orphaned`. An executor that loses its broker for longer than the
    liveness window kills its hooks and marks them `orphaned` too, so that a
    caller may start a new attempt elsewhere without two runs overlapping.

    Nothing from the wire runs as given: a hook names a program inside this
    host's hooks directory (the option "hooks-dir", flotillad --hooks-dir;
    without one no hook runs), resolved by common/hook_path.c; it runs in
    that directory, whatever the step's `cwd` says; and its env may not set
    the variables common/env_policy.c denies (LD_*, PATH, BASH_ENV...).
*/
#include "executor.h"
#include "runs.h"
#include "spawner.h"
#include "flotilla/child.h"
#include "flotilla/contract_executor.h"
#include "flotilla/defer.h"
#include "flotilla/env_policy.h"
#include "flotilla/hook_path.h"
#include "flotilla/log.h"
#include "flotilla/step_call.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define WHO "executor"
#define OUT_CAP (64 * 1024)     //  bytes of stdout, and of stderr, kept per run
#define STATUS_TAIL 4096        //  bytes of stdout GetStepStatus shows
#define MAX_ARGS 64
#define MAX_ENV 64
#define KILL_GRACE_MS FLOT_HOOK_KILL_GRACE_MS
#define REAP_MS 10
#define SLOTS_DEFAULT 64
#define SLOTS_MAX 100000
#define QUEUE_DEFAULT 100000
#define KEEP_MS (24LL * 3600 * 1000)    //  finished records kept a day
#define KEEP_COUNT 10000                //  and at most this many
#define PRUNE_MS 60000
#define QUEUE_SWEEP_MS 500

extern char **environ;

typedef struct _run_t run_t;

typedef struct {
    flot_actor_t *actor;
    zhashx_t *active;           //  s_key (deployment, step_id) -> run_t *: queued or running
    zlistx_t *running;          //  run_t *: spawned, not yet ended
    zlistx_t *queue;            //  run_t *: waiting for a slot, oldest first
    flot_defer_t *finished;     //  run_t *: answered, freed a turn of the loop later
    runs_t *runs;               //  the record of every key
    spawner_t *spawner;         //  starts the hooks, on a thread of its own
    size_t starting;            //  runs the spawner has yet to give back
    size_t slots, queue_max;
    char boot_id [64];
    char hooks_dir [1024];      //  absolute; "" if none: then no hook runs
} executor_t;

//  The tail of one of a hook's streams.
typedef struct {
    char *ring;                 //  OUT_CAP bytes
    size_t used, at;
    uint64_t total;             //  bytes read in all
    int fd;                     //  the pipe's read end, -1 when closed
} tail_t;

struct _run_t {
    executor_t *executor;
    zlistx_t *waiters;          //  flot_request_t *: every request for this key
    char key [300];             //  s_key (deployment, step_id): its place in active
    char step_id [128];
    char deployment [128];
    char record [160];          //  the deployment in the record's key: with its start time
    uint64_t started_ms;        //  when the deployment started (0: not known)
    uint64_t attempt;
    pid_t pid;                  //  0 while queued
    int pidfd;                  //  readable when the hook exits; -1 if none
    tail_t out, err;
    int64_t started;
    int64_t timeout_ms;
    bool timed_out;
    bool orphaned;              //  the broker was lost: killed, reported `orphaned`
    int reap_timer;             //  without a pidfd: polls waitpid; else -1
    int kill_timer;             //  -1 when none
    bool finished;              //  answered: its handlers do nothing more
    bool starting;              //  the spawner has it: no pid yet
    void *handle;               //  in running or queue
};

static void s_dequeue (executor_t *self);

//  --------------------------------------------------------------------------
//  Output and completion

static void
s_tail_add (tail_t *tail, const char *data, size_t size)
{
    tail->total += size;
    if (!size)
        return;
    //  Made at the first output: most hooks write little or nothing.
    if (!tail->ring) {
        tail->ring = malloc (OUT_CAP);
        assert (tail->ring);
    }
    if (size >= OUT_CAP) {
        data += size - OUT_CAP;
        size = OUT_CAP;
    }
    while (size) {
        size_t room = OUT_CAP - tail->at;
        size_t chunk = size < room ? size : room;
        memcpy (tail->ring + tail->at, data, chunk);
        tail->at = (tail->at + chunk) % OUT_CAP;
        tail->used = tail->used + chunk > OUT_CAP ? OUT_CAP : tail->used + chunk;
        data += chunk;
        size -= chunk;
    }
}

//  The last at most limit bytes of the tail, in order, as a new string up
//  to a first NUL; when bytes were cut, it starts with a note saying how
//  many ("[... N bytes cut]\n").
static char *
s_tail_text (const tail_t *tail, size_t limit, bool note)
{
    size_t size = tail->used < limit ? tail->used : limit;
    uint64_t cut = tail->total - size;
    char head [64] = "";
    if (note && cut)
        snprintf (head, sizeof head, "[... %llu bytes cut]\n", (unsigned long long) cut);
    size_t head_size = strlen (head);
    char *text = malloc (head_size + size + 1);
    assert (text);
    memcpy (text, head, head_size);
    size_t start = (tail->at + OUT_CAP - size) % OUT_CAP;
    for (size_t i = 0; i < size; i++)
        text [head_size + i] = tail->ring ? tail->ring [(start + i) % OUT_CAP] : 0;
    text [head_size + size] = 0;
    return text;
}

static void
s_tail_read (tail_t *tail)
{
    char buffer [16384];
    ssize_t got;
    while (tail->fd >= 0 && (got = read (tail->fd, buffer, sizeof buffer)) > 0)
        s_tail_add (tail, buffer, (size_t) got);
}

static void
s_tail_close (flot_loop_t *loop, tail_t *tail)
{
    if (tail->fd >= 0) {
        zmq_pollitem_t item = { NULL, tail->fd, ZMQ_POLLIN, 0 };
        flot_loop_poller_end (loop, &item);
        close (tail->fd);
        tail->fd = -1;
    }
}

static int
s_on_pipe (flot_loop_t *loop, zmq_pollitem_t *item, run_t *run, tail_t *tail)
{
    if (run->finished)
        return 0;
    char buffer [16384];
    ssize_t got = read (item->fd, buffer, sizeof buffer);
    if (got > 0)
        s_tail_add (tail, buffer, (size_t) got);
    else
    if (got == 0 || (errno != EAGAIN && errno != EINTR))
        s_tail_close (loop, tail);
    return 0;
}

static int
s_on_stdout (flot_loop_t *loop, zmq_pollitem_t *item, void *arg)
{
    run_t *run = arg;
    return s_on_pipe (loop, item, run, &run->out);
}

static int
s_on_stderr (flot_loop_t *loop, zmq_pollitem_t *item, void *arg)
{
    run_t *run = arg;
    return s_on_pipe (loop, item, run, &run->err);
}

static void
s_run_free (void *item)
{
    run_t *run = item;
    zlistx_destroy (&run->waiters);
    free (run->out.ring);
    free (run->err.ring);
    free (run);
}

//  Ends the run's pollers and timers, closes its descriptors and takes it
//  out of the executor's lists. A poll round under way may still call its
//  handlers: they see finished and do nothing, and the run is freed in a
//  later turn (flot_defer).
static void
s_run_release (run_t *run)
{
    executor_t *self = run->executor;
    flot_loop_t *loop = flot_actor_loop (self->actor);
    if (run->finished)
        return;                 //  released already
    run->finished = true;
    s_tail_close (loop, &run->out);
    s_tail_close (loop, &run->err);
    if (run->pidfd >= 0) {
        zmq_pollitem_t item = { NULL, run->pidfd, ZMQ_POLLIN, 0 };
        flot_loop_poller_end (loop, &item);
        close (run->pidfd);
        run->pidfd = -1;
    }
    if (run->reap_timer >= 0)
        flot_loop_timer_end (loop, run->reap_timer);
    if (run->kill_timer >= 0)
        flot_loop_timer_end (loop, run->kill_timer);
    run->reap_timer = run->kill_timer = -1;
    if (run->handle)
        zlistx_detach (run->pid ? self->running : self->queue, run->handle);
    run->handle = NULL;
    if (zhashx_lookup (self->active, run->key) == run)
        zhashx_delete (self->active, run->key);
    flot_defer_free (self->finished, run);
}

//  Answers every request waiting for the run with reply.
static void
s_answer_all (run_t *run, const flot_executor_step_result_t *reply)
{
    flot_request_t *request;
    while ((request = zlistx_detach (run->waiters, NULL)))
        flot_request_answer (&request, reply);
}

//  Fails every request waiting for the run.
static void
s_fail_all (run_t *run, const flot_err_t *err)
{
    flot_request_t *request;
    while ((request = zlistx_detach (run->waiters, NULL)))
        flot_request_fail (&request, err);
}

//  The hook ended with status: record it and answer its requests.
static void
s_finish (run_t *run, int status)
{
    executor_t *self = run->executor;
    //  Read what the pipes still hold.
    s_tail_read (&run->out);
    s_tail_read (&run->err);
    char *output = s_tail_text (&run->out, OUT_CAP, true);
    char *errors = s_tail_text (&run->err, OUT_CAP, true);
    const char *state = run->orphaned ? "orphaned"
                      : run->timed_out ? "timeout"
                      : WIFEXITED (status) && WEXITSTATUS (status) == 0 ? "succeeded" : "failed";
    flot_executor_step_result_t reply = {
        .status = state,
        .exit_code = WIFEXITED (status) ? WEXITSTATUS (status) : -1,
        .signal = WIFSIGNALED (status) ? WTERMSIG (status) : 0,
        .output = output,
        .stderr = errors,
        .duration_ms = (uint64_t) (zclock_mono () - run->started),
        .pid = (uint64_t) run->pid
    };
    runs_record_t record = {
        .state = (char *) state, .exit_code = reply.exit_code, .signal = reply.signal,
        .output = output, .stderr_text = errors, .duration_ms = reply.duration_ms,
        .pid = reply.pid
    };
    runs_ended (self->runs, run->record, run->step_id, run->attempt, &record);
    flot_info (WHO, "step %s of %s attempt %llu: %s", run->step_id, run->deployment,
               (unsigned long long) run->attempt, state);
    s_answer_all (run, &reply);
    free (output);
    free (errors);
    s_run_release (run);
    s_dequeue (self);
}

static int
s_on_reap (flot_loop_t *loop, int timer_id, void *arg)
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
s_on_exit (flot_loop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) item;
    return s_on_reap (loop, 0, arg);
}

//  SIGKILL to a group that had its SIGTERM.
static int
s_on_grace (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    run_t *run = arg;
    run->kill_timer = -1;
    if (!run->finished)
        kill (-run->pid, SIGKILL);
    return 0;
}

//  SIGTERM to the run's whole group, and SIGKILL after a grace.
static void
s_stop_group (run_t *run)
{
    flot_loop_t *loop = flot_actor_loop (run->executor->actor);
    if (run->kill_timer >= 0)
        flot_loop_timer_end (loop, run->kill_timer);
    kill (-run->pid, SIGTERM);
    run->kill_timer = flot_loop_timer (loop, KILL_GRACE_MS, 1, s_on_grace, run);
}

static int
s_on_timeout (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    run_t *run = arg;
    run->kill_timer = -1;
    if (run->finished)
        return 0;
    //  A hook that has exited ended in time, whatever kept the loop from
    //  hearing of it before its timeout came due.
    int status;
    if (flot_child_reaped (run->pid, &status)) {
        s_finish (run, status);
        return 0;
    }
    flot_notice (WHO, "step %s of %s ran past its timeout of %lld ms; stopping it",
                 run->step_id, run->deployment, (long long) run->timeout_ms);
    run->timed_out = true;
    s_stop_group (run);
    return 0;
}

//  --------------------------------------------------------------------------
//  ExecuteStep

//  A hook to start: what s_launch_read made of its request, and what the
//  spawner's thread made of it (s_spawn_job). The executor's thread leaves
//  it alone from spawner_push to spawner_take.
typedef struct {
    char *argv [MAX_ARGS + 2];
    char *envp [MAX_ENV + 16 + 256];
    size_t argc, envc;
    size_t env_borrowed;        //  envp's first entries: environ's own strings
    char path [2048];           //  the hook's program, in the hooks directory
    run_t *run;                 //  whose hook (the spawner never reads it)
    const char *dir;            //  the hooks directory: the hook runs there
    //  What the start gave: rc 0 and a process, or -1 and err.
    int rc;
    flot_err_t err;
    pid_t pid;
    int out, errs;              //  the read ends of its stdout and stderr
    int pidfd;                  //  -1 if the kernel has none
    uint64_t ticks;             //  its start time as /proc shows it; 0 if not known
} launch_t;

static void
s_launch_free (launch_t *launch)
{
    for (size_t i = 0; i < launch->argc; i++)
        free (launch->argv [i]);
    for (size_t i = launch->env_borrowed; i < launch->envc; i++)
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
//  The deployment as the record of runs keys it: its id, and when it was
//  started if the caller said, since an id may come again from a new
//  coordinator store (SPEC 17).
static void
s_record_key (const flot_executor_step_t *step, char *key, size_t size)
{
    if (step->started_ms)
        snprintf (key, size, "%s@%llu", step->deployment, (unsigned long long) step->started_ms);
    else
        snprintf (key, size, "%s", step->deployment);
}

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
    s_record_key (step, run->record, sizeof run->record);
    run->started_ms = step->started_ms;
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
    //  Ours are borrowed, not copied (the C library never frees a string
    //  it put in environ).
    for (char **e = environ; *e && launch->envc < 256; e++)
        if (strncmp (*e, "FLOTILLA_", 9) != 0 && !s_env_overridden (hook, *e))
            launch->envp [launch->envc++] = *e;
    launch->env_borrowed = launch->envc;
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

//  Starts the hook: fork and exec in a process group of its own, stdin
//  from /dev/null, stdout and stderr into two pipes, default signal
//  handling and mask, and SIGKILL when its parent (the spawner's thread)
//  dies, so that a hook never outlives an executor that crashed. Its own
//  children do not inherit that: they rely on the sweep when the executor
//  starts again. Runs on the spawner's thread (spawner_fn): fills the
//  launch's results.
static void
s_spawn_job (void *job)
{
    launch_t *launch = job;
    launch->rc = -1;
    launch->out = launch->errs = launch->pidfd = -1;
    int out [2] = { -1, -1 }, errs [2] = { -1, -1 };
    if (pipe2 (out, O_CLOEXEC) || pipe2 (errs, O_CLOEXEC)) {
        int saved = errno;
        for (int i = 0; i < 2; i++) {
            if (out [i] >= 0) close (out [i]);
            if (errs [i] >= 0) close (errs [i]);
        }
        flot_err_set (&launch->err, FLOT_E_INTERNAL, "cannot make a pipe: %s",
                      strerror (saved));
        return;
    }
    //  Why the child could not exec: it writes here, in our memory, which
    //  it borrows until then (vfork); 0 once it runs the hook.
    volatile int report = 0;
    //  The thread has every signal blocked (spawner.h): so has the child
    //  until it has reset every handler.
    pid_t parent = getpid ();
    const char *dir = launch->dir;
    //  The start time the kernel gives the child lies between these two.
    uint64_t before = runs_boot_ticks ();
    //  vfork: the child borrows our memory until it execs, so that a spawn
    //  costs no copy of the page tables, and the threads that write after
    //  it no copy-on-write faults (a fork costs the coordinator's thread
    //  several times a step's own work, the benchmark shows).
    pid_t pid = vfork ();
    if (pid == 0) {
        //  The child: only async-signal-safe calls from here to exec, and
        //  nothing written but its own stack and report (all signals
        //  blocked).
        int code = 0;
        setpgid (0, 0);
        if (prctl (PR_SET_PDEATHSIG, SIGKILL) || getppid () != parent)
            _exit (127);
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                signal (sig, SIG_DFL);
        int null = open ("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0 || (null != 0 && dup2 (null, 0) < 0) || dup2 (out [1], 1) < 0
        ||  dup2 (errs [1], 2) < 0 || chdir (dir))
            code = errno;
        else {
            sigset_t none;
            sigemptyset (&none);
            sigprocmask (SIG_SETMASK, &none, NULL);
            execve (launch->path, launch->argv, launch->envp);
            code = errno;
        }
        report = code ? code : EINVAL;
        _exit (127);
    }
    int saved = errno;
    uint64_t after = runs_boot_ticks ();
    close (out [1]);
    close (errs [1]);
    if (pid < 0) {
        close (out [0]);
        close (errs [0]);
        flot_err_set (&launch->err, FLOT_E_INTERNAL, "cannot start a process: %s",
                      strerror (saved));
        return;
    }
    //  We go on once the child has run the hook or exited: report says.
    if (report) {
        int code = report;
        waitpid (pid, NULL, 0);
        close (out [0]);
        close (errs [0]);
        flot_err_set (&launch->err, FLOT_E_INVALID, "cannot run '%s' in %s: %s",
                      launch->argv [0], dir, strerror (code));
        return;
    }
    //  Our side of the group too, so that a kill right now reaches it.
    setpgid (pid, pid);
    //  Our ends only (the hook's stay blocking); a pipe's status flags
    //  are none but its access mode, which F_SETFL leaves.
    fcntl (out [0], F_SETFL, O_NONBLOCK);
    fcntl (errs [0], F_SETFL, O_NONBLOCK);
    launch->pid = pid;
    launch->out = out [0];
    launch->errs = errs [0];
    launch->pidfd = flot_child_pidfd (pid);
    //  Its start time, for the sweep after a crash to know it from a later
    //  process of the same number: the clock's, when the spawn began and
    //  ended in one tick (most do); else as /proc shows it.
    pid_t group;
    if (before && before == after)
        launch->ticks = before;
    else
    if (runs_proc_stat (pid, &group, &launch->ticks))
        launch->ticks = 0;
    launch->rc = 0;
}

//  The broker is lost: the run's hook is stopped and its run is `orphaned`
//  from now on (s_on_link).
static void
s_orphan (executor_t *self, run_t *run)
{
    run->orphaned = true;
    flot_notice (WHO, "step %s of %s attempt %llu: the broker is lost; stopping its hook "
                 "(pid %d), reported orphaned", run->step_id, run->deployment,
                 (unsigned long long) run->attempt, (int) run->pid);
    runs_record_t record = { .state = "orphaned", .exit_code = -1, .pid = (uint64_t) run->pid };
    runs_ended (self->runs, run->record, run->step_id, run->attempt, &record);
    s_stop_group (run);
}

//  Starts the run, its request args in launch (the spawner's from now on;
//  s_on_spawned goes on).
static void
s_run_start (executor_t *self, run_t *run, launch_t *launch)
{
    launch->run = run;
    launch->dir = self->hooks_dir;
    run->starting = true;
    self->starting++;
    spawner_push (self->spawner, launch);
}

//  The spawner has started the run's hook: recorded and watched; or it
//  could not, and the run's callers are told.
static void
s_started (executor_t *self, run_t *run, launch_t *launch)
{
    if (launch->rc) {
        s_fail_all (run, &launch->err);
        s_run_release (run);
        return;
    }
    run->pid = launch->pid;
    run->out.fd = launch->out;
    run->err.fd = launch->errs;
    run->pidfd = launch->pidfd;
    run->started = zclock_mono ();
    runs_started (self->runs, run->record, run->step_id, run->attempt, run->pid,
                  launch->ticks, self->boot_id);
    run->handle = zlistx_add_end (self->running, run);
    flot_loop_t *loop = flot_actor_loop (self->actor);
    zmq_pollitem_t item = { NULL, run->out.fd, ZMQ_POLLIN, 0 };
    if (flot_loop_poller (loop, &item, s_on_stdout, run))
        flot_error (WHO, "step %s of %s: its stdout is not read (%s): the hook may block "
                    "until its timeout", run->step_id, run->deployment, strerror (errno));
    item.fd = run->err.fd;
    if (flot_loop_poller (loop, &item, s_on_stderr, run))
        flot_error (WHO, "step %s of %s: its stderr is not read (%s): the hook may block "
                    "until its timeout", run->step_id, run->deployment, strerror (errno));
    //  Told of the exit by a pidfd where the kernel has them, else by polling.
    if (run->pidfd >= 0) {
        zmq_pollitem_t exit_item = { NULL, run->pidfd, ZMQ_POLLIN, 0 };
        if (flot_loop_poller (loop, &exit_item, s_on_exit, run)) {
            close (run->pidfd);
            run->pidfd = -1;
        }
    }
    if (run->pidfd < 0)
        run->reap_timer = flot_loop_timer (loop, REAP_MS, 0, s_on_reap, run);
    //  Its timeout counts from now: time spent waiting for a slot does not.
    run->kill_timer = flot_loop_timer (loop, (size_t) run->timeout_ms, 1, s_on_timeout, run);
    flot_info (WHO, "step %s of %s attempt %llu: started pid %d", run->step_id,
               run->deployment, (unsigned long long) run->attempt, (int) run->pid);
    //  The broker was lost while it started: stopped at once, as the others.
    if (run->orphaned)
        s_orphan (self, run);
}

//  Hooks the spawner has started (or could not).
static int
s_on_spawned (flot_loop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    executor_t *self = arg;
    launch_t *launch;
    while ((launch = spawner_take (self->spawner))) {
        self->starting--;
        launch->run->starting = false;
        s_started (self, launch->run, launch);
        s_launch_free (launch);
        free (launch);
    }
    s_dequeue (self);
    return 0;
}

//  Slots in use: hooks running and hooks being started.
static size_t
s_busy (executor_t *self)
{
    return zlistx_size (self->running) + self->starting;
}

//  Drops the waiters of a queued run whose deadline has passed (the broker
//  has answered their callers). Returns how many are left.
static size_t
s_drop_expired (run_t *run, int64_t now)
{
    flot_request_t *request = zlistx_first (run->waiters);
    while (request) {
        void *cursor = zlistx_cursor (run->waiters);
        flot_request_t *next = zlistx_next (run->waiters);
        if (flot_request_deadline (request) <= now) {
            zlistx_delete (run->waiters, cursor);
            flot_request_error (&request, FLOT_E_DEADLINE, "the deadline passed while the "
                                "step waited for a free slot on this executor");
        }
        request = next;
    }
    return zlistx_size (run->waiters);
}

//  Starts queued runs while slots are free.
static void
s_dequeue (executor_t *self)
{
    int64_t now = zclock_mono ();
    while (s_busy (self) < self->slots && zlistx_size (self->queue)) {
        run_t *run = zlistx_first (self->queue);
        zlistx_detach_cur (self->queue);
        run->handle = NULL;
        if (s_drop_expired (run, now) == 0) {
            s_run_release (run);
            continue;
        }
        launch_t *launch = calloc (1, sizeof *launch);
        assert (launch);
        flot_request_t *first = zlistx_first (run->waiters);
        flot_err_t err;
        if (s_launch_read (self, flot_request_args (first), launch, run, &err) == 0) {
            s_run_start (self, run, launch);
            continue;
        }
        s_fail_all (run, &err);
        s_run_release (run);
        s_launch_free (launch);
        free (launch);
    }
}

//  Every so often: the queue loses the runs whose callers all gave up.
static int
s_on_queue_sweep (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    executor_t *self = arg;
    int64_t now = zclock_mono ();
    run_t *run = zlistx_first (self->queue);
    while (run) {
        run_t *next = zlistx_next (self->queue);
        if (s_drop_expired (run, now) == 0)
            s_run_release (run);
        run = next;
    }
    return 0;
}

static int
s_on_prune (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    executor_t *self = arg;
    runs_prune (self->runs, KEEP_MS, KEEP_COUNT);
    return 0;
}

//  The idempotency key's place in active: one run per (deployment, step),
//  the deployment's length first so that no two pairs make one key.
static void
s_key (const char *deployment, const char *step_id, char *key, size_t size)
{
    snprintf (key, size, "%zu:%s/%s", strlen (deployment), deployment, step_id);
}

static void
s_execute_step (flot_actor_t *actor, flot_request_t *request)
{
    executor_t *self = flot_actor_state (actor);
    const flot_executor_step_t *step = flot_request_args (request);
    char key [300];
    s_key (step->deployment, step->step_id, key, sizeof key);
    run_t *run = zhashx_lookup (self->active, key);
    if (run && run->attempt == step->attempt && run->started_ms == step->started_ms) {
        //  Running or queued: answered with the others when it ends.
        zlistx_add_end (run->waiters, request);
        return;
    }
    //  Seen before: its recorded result, at once.
    runs_record_t record;
    char record_key [160];
    s_record_key (step, record_key, sizeof record_key);
    int found = runs_find (self->runs, record_key, step->step_id, step->attempt, &record);
    if (found < 0) {
        flot_request_error (&request, FLOT_E_INTERNAL, "the executor cannot read its record "
                            "of runs (%s); nothing was run", runs_path (self->runs));
        return;
    }
    if (found) {
        //  A record still `running` that no run of ours holds can only be
        //  one the sweep missed: it is an orphan too.
        bool running = streq (record.state, "running");
        flot_executor_step_result_t reply = {
            .status = running ? "orphaned" : record.state,
            .exit_code = record.exit_code, .signal = record.signal,
            .output = record.output, .stderr = record.stderr_text,
            .duration_ms = record.duration_ms, .pid = record.pid
        };
        flot_info (WHO, "step %s of %s attempt %llu ran already: %s", step->step_id,
                   step->deployment, (unsigned long long) step->attempt, reply.status);
        flot_request_answer (&request, &reply);
        runs_record_clear (&record);
        return;
    }
    if (step->again) {
        //  Asked again for a run this executor never had: another instance
        //  may have run part of it. Nothing runs; the caller starts anew.
        flot_request_error (&request, FLOT_E_NOT_FOUND,
            "attempt %llu of step %s of %s was never run on this executor (asked again): "
            "start a new attempt", (unsigned long long) step->attempt, step->step_id,
            step->deployment);
        return;
    }
    if (run) {
        flot_request_error (&request, FLOT_E_CONFLICT,
            "attempt %llu of step %s of %s cannot start: attempt %llu %s on this executor, "
            "and two runs of one step never overlap; ask again when it has ended",
            (unsigned long long) step->attempt, step->step_id, step->deployment,
            (unsigned long long) run->attempt,
            run->pid ? (run->orphaned ? "is being stopped" : "still runs")
                     : run->starting ? "is starting" : "waits for a slot");
        return;
    }
    run = calloc (1, sizeof *run);
    launch_t *launch = calloc (1, sizeof *launch);
    assert (run && launch);
    run->executor = self;
    run->out.fd = run->err.fd = run->pidfd = run->reap_timer = run->kill_timer = -1;
    run->attempt = step->attempt;
    snprintf (run->key, sizeof run->key, "%s", key);
    run->waiters = zlistx_new ();
    flot_err_t err;
    int rc = s_launch_read (self, step, launch, run, &err);
    if (rc == 0 && s_busy (self) >= self->slots
    &&  zlistx_size (self->queue) >= self->queue_max)
        rc = flot_err_set (&err, FLOT_E_BUSY, "this executor runs %zu hooks (its slots) and "
                           "%zu more wait: it takes no more until some have ended",
                           s_busy (self), zlistx_size (self->queue));
    if (rc == 0 && s_busy (self) < self->slots)
        s_run_start (self, run, launch);
    else {
        if (rc == 0)
            run->handle = zlistx_add_end (self->queue, run);
        s_launch_free (launch);
        free (launch);
    }
    if (rc) {
        s_run_free (run);
        flot_request_fail (&request, &err);
        return;
    }
    zlistx_add_end (run->waiters, request);
    zhashx_insert (self->active, key, run);
}

//  --------------------------------------------------------------------------
//  GetStepStatus and ValidateStep

static void
s_get_step_status (flot_actor_t *actor, flot_request_t *request)
{
    executor_t *self = flot_actor_state (actor);
    const flot_executor_get_step_status_request_t *args = flot_request_args (request);
    char key [300];
    s_key (args->deployment, args->step_id, key, sizeof key);
    run_t *run = zhashx_lookup (self->active, key);
    if (!run) {
        flot_request_error (&request, FLOT_E_NOT_FOUND,
                            "no step %s of %s is running on this executor",
                            args->step_id, args->deployment);
        return;
    }
    char *output = s_tail_text (&run->out, STATUS_TAIL, false);
    flot_executor_get_step_status_reply_t reply = {
        .status = run->pid ? "running" : "queued",
        .pid = (uint64_t) run->pid,
        .running_ms = run->pid ? (uint64_t) (zclock_mono () - run->started) : 0,
        .output = output,
        .attempt = run->attempt, .has_attempt = true
    };
    flot_request_answer (&request, &reply);
    free (output);
}

static void
s_validate_step (flot_actor_t *actor, flot_request_t *request)
{
    executor_t *self = flot_actor_state (actor);
    run_t run = { .pidfd = -1, .reap_timer = -1, .kill_timer = -1 };
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
//  Orphans

//  The broker is lost (nothing heard for the liveness window) or back. Lost:
//  it has answered our callers and counts us dead, and a caller may start a
//  new attempt elsewhere; so every hook running here is stopped (its group
//  SIGTERM, SIGKILL after a grace) and its run is `orphaned` from now on.
//  Runs still queued never started: they are dropped.
static void
s_on_link (flot_actor_t *actor, bool up)
{
    executor_t *self = flot_actor_state (actor);
    if (up) {
        flot_notice (WHO, "the broker is back");
        return;
    }
    size_t killed = 0, dropped = 0;
    for (run_t *run = zlistx_first (self->running); run; run = zlistx_next (self->running))
        if (!run->orphaned) {
            s_orphan (self, run);
            killed++;
        }
    //  Those being started are stopped when the spawner gives them back.
    for (run_t *run = zhashx_first (self->active); run; run = zhashx_next (self->active))
        if (run->starting && !run->orphaned) {
            run->orphaned = true;
            killed++;
        }
    flot_err_t err;
    flot_err_set (&err, FLOT_E_CANCELLED, "the executor lost its broker before the step "
                  "could start; it did not run");
    while (zlistx_size (self->queue)) {
        run_t *run = zlistx_first (self->queue);
        s_fail_all (run, &err);
        s_run_release (run);
        dropped++;
    }
    if (killed || dropped)
        flot_warn (WHO, "the broker is lost: %zu hooks stopped as orphans, %zu queued steps "
                   "dropped", killed, dropped);
}

//  At start, for a record left `running` by an executor that died: its
//  hook's group is killed if it is still that group, and it is orphaned.
//  The group is the one recorded if its leader has the recorded start time;
//  if the leader is gone (it dies with its executor), what is left of the
//  group is each process in it that started no earlier than the leader.
static void
s_sweep_one (const char *deployment, const char *step_id, uint64_t attempt, pid_t pgid,
             uint64_t ticks, const char *boot_id, void *arg)
{
    executor_t *self = arg;
    size_t killed = 0;
    //  Never our own group (its number may have been given out again).
    if (pgid > 1 && pgid != getpgrp () && ticks && boot_id && streq (boot_id, self->boot_id)) {
        pid_t group;
        uint64_t start;
        if (runs_proc_stat (pgid, &group, &start) == 0) {
            if (start == ticks && group == pgid && kill (-pgid, SIGKILL) == 0)
                killed++;
        }
        else {
            DIR *proc = opendir ("/proc");
            struct dirent *entry;
            while (proc && (entry = readdir (proc))) {
                pid_t pid = (pid_t) atoi (entry->d_name);
                if (pid > 1 && runs_proc_stat (pid, &group, &start) == 0
                &&  group == pgid && start >= ticks && kill (pid, SIGKILL) == 0)
                    killed++;
            }
            if (proc)
                closedir (proc);
        }
    }
    flot_notice (WHO, "step %s of %s attempt %llu was running when this executor stopped: "
                 "orphaned%s", step_id, deployment, (unsigned long long) attempt,
                 killed ? ", its hook's process group killed" : "");
}

//  --------------------------------------------------------------------------
//  Life cycle

//  An option that is a count in min..max, else default_value with a warning.
static size_t
s_count_option (flot_actor_t *actor, const char *name, size_t min, size_t max,
                size_t default_value)
{
    const char *text = flot_actor_option (actor, name, NULL);
    if (!text)
        return default_value;
    char *end = NULL;
    unsigned long long value = strtoull (text, &end, 10);
    if (!*text || *end || value < min || value > max) {
        flot_warn (WHO, "option %s '%.40s' is not a number in %zu..%zu: %zu it is",
                   name, text, min, max, default_value);
        return default_value;
    }
    return (size_t) value;
}

//  Frees the executor, its runs all released.
static void
s_destroy (executor_t *self)
{
    spawner_destroy (&self->spawner);
    zlistx_destroy (&self->running);
    zlistx_destroy (&self->queue);
    zhashx_destroy (&self->active);
    flot_defer_destroy (&self->finished);
    runs_close (&self->runs);
    free (self);
}

static int
s_start (flot_actor_t *actor)
{
    executor_t *self = calloc (1, sizeof *self);
    assert (self);
    self->actor = actor;
    //  The record: in the file of the option "runs", else in memory. One
    //  that cannot be used (another executor holds it, say) leaves this one
    //  with a record in memory, and a warning: it runs, but what it ran is
    //  forgotten when it stops.
    const char *path = flot_actor_option (actor, "runs", NULL);
    char why [700];
    self->runs = runs_open (path, why, sizeof why);
    if (!self->runs) {
        flot_warn (WHO, "%s; this executor keeps its record of runs in memory: what it ran "
                   "is forgotten when it stops", why);
        self->runs = runs_open (NULL, why, sizeof why);
    }
    if (!self->runs) {
        flot_error (WHO, "%s", why);
        free (self);
        return -1;
    }
    if (!path || !*path)
        flot_notice (WHO, "no file for its record of runs (flotillad --executor-runs): "
                     "kept in memory, forgotten when it stops");
    runs_boot_id (self->boot_id, sizeof self->boot_id);
    int orphans = runs_orphan_all (self->runs, s_sweep_one, self);
    runs_prune (self->runs, KEEP_MS, KEEP_COUNT);
    if (orphans > 0)
        flot_warn (WHO, "%d runs were left running by an executor that stopped: orphaned",
                   orphans);
    self->spawner = spawner_new (s_spawn_job, why, sizeof why);
    if (!self->spawner) {
        flot_error (WHO, "%s", why);
        s_destroy (self);
        return -1;
    }
    self->slots = s_count_option (actor, "slots", 1, SLOTS_MAX, SLOTS_DEFAULT);
    self->queue_max = s_count_option (actor, "queue", 0, 10000000, QUEUE_DEFAULT);
    self->active = zhashx_new ();
    self->running = zlistx_new ();
    self->queue = zlistx_new ();
    self->finished = flot_defer_new (flot_actor_loop (actor), s_run_free);
    flot_loop_t *loop = flot_actor_loop (actor);
    zmq_pollitem_t spawned = { NULL, spawner_fd (self->spawner), ZMQ_POLLIN, 0 };
    if (flot_loop_poller (loop, &spawned, s_on_spawned, self)) {
        flot_error (WHO, "cannot watch the spawning thread: %s", strerror (errno));
        s_destroy (self);
        return -1;
    }
    flot_loop_timer (loop, QUEUE_SWEEP_MS, 0, s_on_queue_sweep, self);
    flot_loop_timer (loop, PRUNE_MS, 0, s_on_prune, self);
    flot_info (WHO, "%zu slots; runs recorded in %s", self->slots, runs_path (self->runs));
    const char *dir = flot_actor_option (actor, "hooks-dir", NULL);
    if (flot_hook_dir (dir, self->hooks_dir, sizeof self->hooks_dir))
        flot_warn (WHO, "the hooks directory '%.200s' cannot be made absolute: "
                   "no hook runs", dir);
    else
    if (!*self->hooks_dir)
        flot_notice (WHO, "no hooks directory (flotillad --hooks-dir): no hook runs");
    else {
        char reason [512];
        if (flot_hook_dir_check (self->hooks_dir, reason, sizeof reason))
            flot_warn (WHO, "%s: no hook runs until that is fixed", reason);
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
    //  Hooks still running are stopped and their runs orphaned; their
    //  requests are answered by the host (CANCELLED). Queued ones never ran.
    //  Those being started join the running ones first; the spawner's
    //  thread lives until they are stopped (its end would kill them with
    //  no record).
    spawner_drain (self->spawner);
    launch_t *launch;
    while ((launch = spawner_take (self->spawner))) {
        self->starting--;
        launch->run->starting = false;
        if (launch->rc)
            zlistx_purge (launch->run->waiters);
        s_started (self, launch->run, launch);
        s_launch_free (launch);
        free (launch);
    }
    while (zlistx_size (self->running)) {
        run_t *run = zlistx_first (self->running);
        flot_child_stop (run->pid);
        s_tail_read (&run->out);
        s_tail_read (&run->err);
        char *output = s_tail_text (&run->out, OUT_CAP, true);
        char *errors = s_tail_text (&run->err, OUT_CAP, true);
        runs_record_t record = {
            .state = "orphaned", .exit_code = -1, .signal = SIGKILL, .output = output,
            .stderr_text = errors, .duration_ms = (uint64_t) (zclock_mono () - run->started),
            .pid = (uint64_t) run->pid
        };
        runs_ended (self->runs, run->record, run->step_id, run->attempt, &record);
        free (output);
        free (errors);
        zlistx_purge (run->waiters);
        s_run_release (run);
    }
    while (zlistx_size (self->queue)) {
        run_t *run = zlistx_first (self->queue);
        zlistx_purge (run->waiters);
        s_run_release (run);
    }
    zmq_pollitem_t spawned = { NULL, spawner_fd (self->spawner), ZMQ_POLLIN, 0 };
    flot_loop_poller_end (flot_actor_loop (actor), &spawned);
    s_destroy (self);
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
    .stop = s_stop,
    .on_link = s_on_link
};
