/*  flot_child.c - child processes in a process group of their own: the
    check that a command can be run, posix_spawn with its pipe, the pidfd
    that tells of the exit, and the stop of the whole group. See
    flotilla/child.h.
*/
#include "flotilla/child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int
flot_child_findable (const char *command, char *const envp [])
{
    if (strchr (command, '/'))
        return access (command, X_OK) ? -1 : 0;
    const char *dirs = NULL;
    if (!envp)
        dirs = getenv ("PATH");
    else
        for (size_t i = 0; envp [i]; i++)
            if (strncmp (envp [i], "PATH=", 5) == 0)
                dirs = envp [i] + 5;
    char *copy = strdup (dirs && *dirs ? dirs : "/usr/bin:/bin"), *save = NULL;
    bool found = false;
    for (char *d = strtok_r (copy, ":", &save); d && !found; d = strtok_r (NULL, ":", &save)) {
        char path [4096];
        snprintf (path, sizeof path, "%s/%s", d, command);
        found = access (path, X_OK) == 0;
    }
    free (copy);
    if (!found)
        errno = ENOENT;
    return found ? 0 : -1;
}

int
flot_child_spawn (char *const argv [], char *const envp [], const char *cwd,
                  int flags, pid_t *pid, int *out_fd)
{
    int pipefd [2];
    if (pipe2 (pipefd, O_CLOEXEC))
        return -1;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2 (&actions, pipefd [1], 1);
    if (flags & FLOT_CHILD_STDERR)
        posix_spawn_file_actions_adddup2 (&actions, pipefd [1], 2);
    else
        posix_spawn_file_actions_addopen (&actions, 2, "/dev/null", O_WRONLY, 0);
    if (cwd)
        posix_spawn_file_actions_addchdir_np (&actions, cwd);
    posix_spawnattr_init (&attr);
    //  Its own group, so that a timeout stops all it started; and default
    //  signal handling, whatever this process set.
    posix_spawnattr_setpgroup (&attr, 0);
    sigset_t none, all;
    sigemptyset (&none);
    sigfillset (&all);
    posix_spawnattr_setsigmask (&attr, &none);
    posix_spawnattr_setsigdefault (&attr, &all);
    posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                                   | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawnp (pid, argv [0], &actions, &attr, argv, envp ? envp : environ);
    posix_spawn_file_actions_destroy (&actions);
    posix_spawnattr_destroy (&attr);
    close (pipefd [1]);
    if (rc) {
        *pid = 0;
        close (pipefd [0]);
        return rc;
    }
    *out_fd = pipefd [0];
    fcntl (*out_fd, F_SETFL, fcntl (*out_fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

int
flot_child_pidfd (pid_t pid)
{
    return (int) syscall (SYS_pidfd_open, pid, 0);
}

bool
flot_child_reaped (pid_t pid, int *status)
{
    return pid > 0 && waitpid (pid, status, WNOHANG) == pid;
}

void
flot_child_stop (pid_t pid)
{
    if (pid <= 0)
        return;                 //  kill (-0) would be our own group
    kill (-pid, SIGKILL);
    waitpid (pid, NULL, 0);
}
