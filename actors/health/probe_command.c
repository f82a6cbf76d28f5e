/*  probe_command.c - the command probe: runs the check's command as a child
    process in its own process group, healthy when it exits 0. Its output
    (stdout and stderr) is kept, the last line goes into the message. Past
    the timeout the whole group is killed.

    The command names a program in the health actor's hooks directory
    (common/hook_path.c resolves it; no hooks directory, no command probe),
    which runs in that directory. Its arguments and env values are
    templates, each filled into one argument or one value; no shell runs.
    The env's names passed common/env_policy.c when the check was parsed.
*/
#include "probe.h"
#include "flotilla/child.h"
#include "flotilla/hook_path.h"
#include "flotilla/template.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define READS_PER_TURN 16       //  4 KiB reads of output per turn of the loop
#define REAP_MS 10

extern char **environ;

static void
s_tail_add (probe_t *probe, const char *data, size_t size)
{
    if (size >= PROBE_TAIL) {
        data += size - (PROBE_TAIL - 1);
        size = PROBE_TAIL - 1;
    }
    if (probe->tail_size + size >= PROBE_TAIL) {
        size_t drop = probe->tail_size + size - (PROBE_TAIL - 1);
        memmove (probe->tail, probe->tail + drop, probe->tail_size - drop);
        probe->tail_size -= drop;
    }
    memcpy (probe->tail + probe->tail_size, data, size);
    probe->tail_size += size;
    probe->tail [probe->tail_size] = 0;
}

//  Reads what the command wrote, a few buffers a turn, so that a command
//  that never stops writing cannot hold the loop (its timeout ends it).
static void
s_read_output (probe_t *probe)
{
    char buffer [4096];
    ssize_t got = 0;
    for (int reads = 0; probe->out_fd >= 0 && reads < READS_PER_TURN; reads++) {
        got = read (probe->out_fd, buffer, sizeof buffer);
        if (got > 0) {
            s_tail_add (probe, buffer, (size_t) got);
            continue;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && errno == EAGAIN)
            return;
        break;
    }
    if (got > 0)
        return;         //  more to read at the next turn
    if (probe->out_fd >= 0) {
        prober_unwatch (probe->prober, probe->out_fd);
        close (probe->out_fd);
        probe->out_fd = -1;
    }
}

//  The last line of the output, without trailing blanks, into buffer.
static const char *
s_last_line (probe_t *probe, char *buffer, size_t cap)
{
    size_t end = probe->tail_size;
    while (end && strchr (" \t\r\n", probe->tail [end - 1]))
        end--;
    size_t start = end;
    while (start && probe->tail [start - 1] != '\n')
        start--;
    snprintf (buffer, cap, "%.*s", (int) (end - start), probe->tail + start);
    for (char *c = buffer; *c; c++)
        if ((unsigned char) *c < 32)
            *c = ' ';
    return buffer;
}

static void
s_finish (probe_t *probe, int status)
{
    probe->pid = 0;             //  reaped
    s_read_output (probe);
    char line [300];
    s_last_line (probe, line, sizeof line);
    const char *sep = *line ? ": " : "";
    if (probe->timed_out)
        prober_finish (probe, false, -1, "%s: timed out after %lld ms (process group killed)",
                       probe->what, (long long) probe->timeout_ms);
    else
    if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
        prober_finish (probe, true, -1, "%s: exit 0%s%s", probe->what, sep, line);
    else
    if (WIFEXITED (status))
        prober_finish (probe, false, -1, "%s: exit %d%s%s", probe->what,
                       WEXITSTATUS (status), sep, line);
    else
        prober_finish (probe, false, -1, "%s: killed by signal %d%s%s", probe->what,
                       WTERMSIG (status), sep, line);
}

void
probe_command_reap (probe_t *probe)
{
    int status;
    if (flot_child_reaped (probe->pid, &status))
        s_finish (probe, status);
}

void
probe_command_event (probe_t *probe, int fd, short revents)
{
    (void) revents;
    if (fd == probe->out_fd)
        s_read_output (probe);
    else
    if (fd == probe->pidfd)
        probe_command_reap (probe);
}

void
probe_command_timeout (probe_t *probe)
{
    probe->timed_out = true;
    if (probe->pid > 0)
        kill (-probe->pid, SIGKILL);
    //  The exit comes through the pidfd (or the reap timer).
}

//  argv and envp for the child; the check's templates filled.
typedef struct {
    char *argv [FLOT_CHECK_MAX_ARGS + 2];
    char **envp;
    size_t argc, envc;
} launch_t;

static void
s_launch_free (launch_t *launch)
{
    for (size_t i = 0; i < launch->argc; i++)
        free (launch->argv [i]);
    for (size_t i = 0; i < launch->envc; i++)
        free (launch->envp [i]);
    free (launch->envp);
}

static int
s_launch (launch_t *launch, const char *path, const flot_check_t *check,
          const flot_health_context_t *context, char *why, size_t cap)
{
    char reason [300];
    launch->argv [launch->argc++] = strdup (path);
    for (size_t i = 0; i < check->arg_count; i++) {
        char *arg = flot_template_expand (check->args [i], context, NULL, reason, sizeof reason);
        if (!arg) {
            snprintf (why, cap, "args[%zu]: %s", i, reason);
            return -1;
        }
        launch->argv [launch->argc++] = arg;
    }
    launch->argv [launch->argc] = NULL;
    size_t inherited = 0;
    while (environ [inherited])
        inherited++;
    launch->envp = calloc (inherited + check->env_count + 1, sizeof (char *));
    assert (launch->envp);
    for (size_t i = 0; i < inherited; i++) {
        bool replaced = false;
        for (size_t e = 0; e < check->env_count && !replaced; e++) {
            size_t n = strlen (check->env_names [e]);
            replaced = strncmp (environ [i], check->env_names [e], n) == 0
                    && environ [i][n] == '=';
        }
        if (!replaced)
            launch->envp [launch->envc++] = strdup (environ [i]);
    }
    for (size_t e = 0; e < check->env_count; e++) {
        char *value = flot_template_expand (check->env_values [e], context, NULL,
                                            reason, sizeof reason);
        if (!value) {
            snprintf (why, cap, "env %s: %s", check->env_names [e], reason);
            return -1;
        }
        char *entry = malloc (strlen (check->env_names [e]) + strlen (value) + 2);
        sprintf (entry, "%s=%s", check->env_names [e], value);
        free (value);
        launch->envp [launch->envc++] = entry;
    }
    launch->envp [launch->envc] = NULL;
    return 0;
}

int
probe_command_start (probe_t *probe, const flot_check_t *check,
                     const flot_health_context_t *context, char *why, size_t cap)
{
    snprintf (probe->what, sizeof probe->what, "command %.300s", check->command);
    launch_t launch = { .argc = 0 };
    char reason [400], path [2048];
    const char *dir = prober_hooks_dir (probe->prober);
    if (flot_hook_resolve (dir, check->command, &flot_hook_kind_probe, path, sizeof path,
                           reason, sizeof reason)) {
        snprintf (why, cap, "%s: %s", probe->what, reason);
        return -1;
    }
    if (s_launch (&launch, path, check, context, reason, sizeof reason)) {
        snprintf (why, cap, "%s: %s", probe->what, reason);
        s_launch_free (&launch);
        return -1;
    }
    if (flot_child_findable (launch.argv [0], launch.envp)) {
        snprintf (why, cap, "%s: cannot run it: %s", probe->what, strerror (errno));
        s_launch_free (&launch);
        return -1;
    }
    int rc = flot_child_spawn (launch.argv, launch.envp, dir, FLOT_CHILD_STDERR,
                               &probe->pid, &probe->out_fd);
    int error = rc < 0 ? errno : rc;
    s_launch_free (&launch);
    if (rc) {
        snprintf (why, cap, "%s: %s: %s", probe->what,
                  rc < 0 ? "cannot make a pipe" : "cannot run it", strerror (error));
        return -1;
    }
    prober_watch (probe->prober, probe, probe->out_fd, ZMQ_POLLIN);
    probe->pidfd = flot_child_pidfd (probe->pid);
    if (probe->pidfd >= 0)
        prober_watch (probe->prober, probe, probe->pidfd, ZMQ_POLLIN);
    else
        probe->reap_timer = prober_timer (probe->prober, probe, REAP_MS, true);
    return 0;
}

void
probe_command_release (probe_t *probe)
{
    if (probe->out_fd >= 0) {
        prober_unwatch (probe->prober, probe->out_fd);
        close (probe->out_fd);
        probe->out_fd = -1;
    }
    if (probe->pidfd >= 0) {
        prober_unwatch (probe->prober, probe->pidfd);
        close (probe->pidfd);
        probe->pidfd = -1;
    }
    if (probe->pid > 0) {
        //  Cancelled while it runs: it goes, with all it started.
        flot_child_stop (probe->pid);
        probe->pid = 0;
    }
}
