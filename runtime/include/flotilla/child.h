/*  flotilla/child.h - starting and stopping child processes the same way
    wherever an actor runs one (the executor's hooks, the health actor's
    command probes, the analyzer's command provider).

    A child runs in a process group of its own, so that stopping it stops
    all it started, with default signal handling and signal mask whatever
    this process set, stdin from /dev/null and its output into a pipe that
    the caller watches from its loop. Timeouts, reaping from the loop
    (pidfd or a waitpid timer) and reading the output stay with the caller.
*/
#ifndef FLOTILLA_CHILD_H_INCLUDED
#define FLOTILLA_CHILD_H_INCLUDED

#include <stdbool.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Flags of flot_child_spawn.
#define FLOT_CHILD_STDERR   1   //  stderr into the pipe too (else /dev/null)

//  0 if command can be run: with a '/', an executable file at that path;
//  else one on PATH as envp gives it (envp NULL: our environment; no PATH,
//  or an empty one: /usr/bin:/bin). Else -1 with errno (ENOENT when no
//  directory of PATH has it).
int
    flot_child_findable (const char *command, char *const envp []);

//  Starts argv [0] (looked up on PATH, like posix_spawnp) with argv and
//  envp (NULL: our environment) in cwd (NULL: ours), as described above.
//  Sets *pid and *out_fd, the non-blocking read end of its output pipe.
//  Returns 0; -1 with errno set if no pipe could be made; or the error
//  number posix_spawnp gave when the child could not start.
int
    flot_child_spawn (char *const argv [], char *const envp [], const char *cwd,
                      int flags, pid_t *pid, int *out_fd);

//  A descriptor that becomes readable when the child exits (a pidfd), or
//  -1 where the kernel has none: then the caller polls flot_child_reaped.
int
    flot_child_pidfd (pid_t pid);

//  True, with its wait status, if the child has exited and is now reaped;
//  false while it runs. Never blocks.
bool
    flot_child_reaped (pid_t pid, int *status);

//  Kills the child's whole process group and reaps the child. Blocks only
//  for as long as the kernel takes to deliver SIGKILL.
void
    flot_child_stop (pid_t pid);

#ifdef __cplusplus
}
#endif

#endif
