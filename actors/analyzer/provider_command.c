/*  provider_command.c - the analyzer's command provider: a child process
    whose standard output is one number per line.

    The command (a path the analyzer resolved in its hooks directory,
    common/hook_path.c) runs in that directory, in its own process group,
    with its argv as given (no shell: an argument is one argument), stdin
    from /dev/null and stderr discarded; its stdout is read by a loop
    poller, and it is reaped by a short timer (waitpid WNOHANG), so the
    actor never waits for it. Past its timeout the whole group is killed and
    the fetch fails saying so. A job that ended is kept on a list until the
    next loop turn, as a handler of the turn may still hold it.
*/
#include "analysis.h"
#include "flotilla/defer.h"
#include "flotilla/child.h"
#include "flotilla/log.h"

#include <ctype.h>
#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define READS_PER_TURN 16       //  4 KiB reads of output per turn of the loop
#define MAX_OUTPUT  (1 << 20)
#define REAP_MS     10

typedef struct {
    flot_commands_t *owner;
    uint64_t id;
    pid_t pid;
    int fd;                     //  stdout, -1 when closed
    char *output;
    size_t size;
    bool overflow;
    bool timed_out;
    bool finished;
    int64_t timeout_ms;
    int reap_timer, kill_timer;
    flot_fetch_fn *fn;
    void *arg;
    char name [128];            //  the command, for messages
    void *handle;
} job_t;

struct _flot_commands_t {
    flot_loop_t *loop;
    zlistx_t *jobs;             //  job_t *: running
    flot_defer_t *dead;         //  job_t *: ended, freed a turn later
    uint64_t next_id;
    char *cwd;                  //  where commands run, or NULL: ours
};

//  --------------------------------------------------------------------------
//  Output

int
flot_command_values (const char *text, size_t size, double **values, size_t *count,
                     char *err, size_t err_cap)
{
    *values = NULL;
    *count = 0;
    size_t cap = 0, line = 0;
    const char *at = text, *end = text + size;
    while (at < end) {
        line++;
        const char *eol = memchr (at, '\n', (size_t) (end - at));
        if (!eol)
            eol = end;
        const char *a = at, *b = eol;
        while (a < b && isspace ((unsigned char) *a))
            a++;
        while (b > a && isspace ((unsigned char) b [-1]))
            b--;
        at = eol + 1;
        if (a == b)
            continue;
        char number [64];
        double value = 0;
        char *stop = NULL;
        bool ok = (size_t) (b - a) < sizeof number && !memchr (a, 0, (size_t) (b - a));
        if (ok) {
            memcpy (number, a, (size_t) (b - a));
            number [b - a] = 0;
            value = strtod (number, &stop);
            ok = *stop == 0;
        }
        if (!ok) {
            snprintf (err, err_cap, "line %zu: '%.*s' is not a number", line,
                      (int) ((b - a) > 40 ? 40 : (b - a)), a);
            for (char *c = err; *c; c++)
                if ((unsigned char) *c < 0x20)
                    *c = '?';
            free (*values);
            *values = NULL;
            *count = 0;
            return -1;
        }
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            *values = realloc (*values, cap * sizeof (double));
            assert (*values);
        }
        (*values) [(*count)++] = value;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Jobs

static void
s_job_free (void *item)
{
    job_t *job = item;
    free (job->output);
    free (job);
}

//  Stops watching the job, and has it freed once its timers and poller can
//  no longer be called.
static void
s_job_release (job_t *job)
{
    flot_commands_t *self = job->owner;
    if (!job->handle)
        return;                 //  released already
    job->finished = true;
    if (job->fd >= 0) {
        zmq_pollitem_t item = { NULL, job->fd, ZMQ_POLLIN, 0 };
        flot_loop_poller_end (self->loop, &item);
        close (job->fd);
        job->fd = -1;
    }
    if (job->reap_timer >= 0)
        flot_loop_timer_end (self->loop, job->reap_timer);
    if (job->kill_timer >= 0)
        flot_loop_timer_end (self->loop, job->kill_timer);
    job->reap_timer = job->kill_timer = -1;
    zlistx_delete (self->jobs, job->handle);
    job->handle = NULL;
    flot_defer_free (self->dead, job);
}

static void s_stop_reading (job_t *job);

//  Reads what the command wrote, a few buffers a turn so that a command
//  that never stops writing cannot hold the loop; past MAX_OUTPUT the
//  command is killed and its output closed.
static void
s_read (job_t *job)
{
    char buffer [4096];
    for (int reads = 0; job->fd >= 0 && reads < READS_PER_TURN; reads++) {
        ssize_t got = read (job->fd, buffer, sizeof buffer);
        if (got > 0) {
            if (job->size + (size_t) got > MAX_OUTPUT) {
                job->overflow = true;
                kill (-job->pid, SIGKILL);
                s_stop_reading (job);
                return;
            }
            job->output = realloc (job->output, job->size + (size_t) got + 1);
            assert (job->output);
            memcpy (job->output + job->size, buffer, (size_t) got);
            job->size += (size_t) got;
            job->output [job->size] = 0;
        }
        else
        if (got < 0 && errno == EINTR)
            continue;
        else {
            if (got == 0 || errno != EAGAIN)
                s_stop_reading (job);
            return;
        }
    }
}

static void
s_stop_reading (job_t *job)
{
    zmq_pollitem_t item = { NULL, job->fd, ZMQ_POLLIN, 0 };
    flot_loop_poller_end (job->owner->loop, &item);
    close (job->fd);
    job->fd = -1;
}

static int
s_on_output (flot_loop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    job_t *job = arg;
    if (!job->finished && job->fd == item->fd)
        s_read (job);
    return 0;
}

static void
s_finish (job_t *job, int status)
{
    //  The command is gone: what it wrote is all there (at most MAX_OUTPUT
    //  is kept, a turn's reads at a time); a descendant that keeps the
    //  pipe open gets no more than these reads.
    for (int turns = 0; job->fd >= 0 && turns <= MAX_OUTPUT / (4096 * READS_PER_TURN); turns++)
        s_read (job);
    double *values = NULL;
    size_t count = 0;
    char error [400] = "", why [200];
    if (job->timed_out)
        snprintf (error, sizeof error, "%s: no answer within %lld ms; killed", job->name,
                  (long long) job->timeout_ms);
    else
    if (job->overflow)          //  killed for it
        snprintf (error, sizeof error, "%s: more than %d bytes of output; killed", job->name,
                  MAX_OUTPUT);
    else
    if (WIFSIGNALED (status))
        snprintf (error, sizeof error, "%s: killed by signal %d", job->name, WTERMSIG (status));
    else
    if (WEXITSTATUS (status) != 0)
        snprintf (error, sizeof error, "%s: exited with status %d", job->name, WEXITSTATUS (status));
    else
    if (flot_command_values (job->output ? job->output : "", job->size, &values, &count,
                             why, sizeof why))
        snprintf (error, sizeof error, "%s: %s", job->name, why);
    flot_fetch_fn *fn = job->fn;
    void *arg = job->arg;
    s_job_release (job);
    fn (arg, values, count, *error ? error : NULL);
    free (values);
}

static int
s_on_reap (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    job_t *job = arg;
    if (job->finished)
        return 0;
    int status;
    if (flot_child_reaped (job->pid, &status))
        s_finish (job, status);
    return 0;
}

static int
s_on_kill (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    job_t *job = arg;
    if (job->finished)
        return 0;
    job->kill_timer = -1;
    job->timed_out = true;
    kill (-job->pid, SIGKILL);
    return 0;
}

//  --------------------------------------------------------------------------
//  The class

flot_commands_t *
flot_commands_new (flot_loop_t *loop, const char *cwd)
{
    assert (loop);
    flot_commands_t *self = calloc (1, sizeof *self);
    assert (self);
    self->loop = loop;
    self->cwd = cwd ? strdup (cwd) : NULL;
    self->jobs = zlistx_new ();
    self->dead = flot_defer_new (loop, s_job_free);
    return self;
}

void
flot_commands_destroy (flot_commands_t **self_p)
{
    flot_commands_t *self = *self_p;
    if (!self)
        return;
    job_t *job;
    while ((job = zlistx_first (self->jobs))) {
        flot_child_stop (job->pid);
        s_job_release (job);
    }
    zlistx_destroy (&self->jobs);
    flot_defer_destroy (&self->dead);
    free (self->cwd);
    free (self);
    *self_p = NULL;
}

uint64_t
flot_commands_run (flot_commands_t *self, char *const *argv, int64_t timeout_ms,
                   flot_fetch_fn *fn, void *arg, char *err, size_t err_cap)
{
    assert (self);
    assert (argv && argv [0]);
    //  (posix_spawnp says so too, but where it falls back on fork and exec,
    //  as under valgrind, a missing command is only an exit status of 127.)
    if (flot_child_findable (argv [0], NULL)) {
        snprintf (err, err_cap, "cannot run '%s': %s", argv [0], strerror (errno));
        return 0;
    }
    pid_t pid;
    int fd;
    int rc = flot_child_spawn (argv, NULL, self->cwd, 0, &pid, &fd);
    if (rc < 0) {
        snprintf (err, err_cap, "cannot make a pipe: %s", strerror (errno));
        return 0;
    }
    if (rc) {
        snprintf (err, err_cap, "cannot run '%s': %s", argv [0], strerror (rc));
        return 0;
    }
    job_t *job = calloc (1, sizeof *job);
    assert (job);
    job->owner = self;
    job->id = ++self->next_id;
    job->pid = pid;
    job->fd = fd;
    job->fn = fn;
    job->arg = arg;
    job->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    snprintf (job->name, sizeof job->name, "%s", argv [0]);
    job->handle = zlistx_add_end (self->jobs, job);
    zmq_pollitem_t item = { NULL, job->fd, ZMQ_POLLIN, 0 };
    if (flot_loop_poller (self->loop, &item, s_on_output, job))
        flot_warn ("analyzer", "%s: its output is not read (%s): it ends at its timeout", job->name,
                   strerror (errno));
    flot_loop_poller_set_tolerant (self->loop, &item);
    job->reap_timer = flot_loop_timer (self->loop, REAP_MS, 0, s_on_reap, job);
    job->kill_timer = flot_loop_timer (self->loop, (size_t) job->timeout_ms, 1, s_on_kill, job);
    return job->id;
}

void
flot_commands_cancel (flot_commands_t *self, uint64_t id)
{
    assert (self);
    for (job_t *job = zlistx_first (self->jobs); job; job = zlistx_next (self->jobs))
        if (job->id == id) {
            flot_child_stop (job->pid);
            s_job_release (job);
            return;
        }
}
