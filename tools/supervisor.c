/*  supervisor.c - flotillad --supervise: each part of the system as a child
    process, restarted one for one.

    flotillad (tools/flotillad.c) adds one child per part: the broker (when
    it runs one) and each actor, each a command line of flotillad itself
    (run again through /proc/self/exe) that runs that part alone and, for an
    actor, connects to the broker as a remote actor does. A child that
    exits, for any reason but our stopping it, is started again after a
    short backoff (100 ms, doubled with each restart in the period, 5 s at
    most). At most intensity restarts may happen within period seconds
    (Erlang/OTP's intensity and period); the exit that would need one more
    stops every child, and flotillad exits 1, so that the service manager
    (systemd's Restart=on-failure) starts it again.

    Children run in their own process group, so that a terminal's Ctrl-C
    reaches the supervisor alone, which stops them in order: the actors
    (last started first), then the broker; each gets SIGTERM and, if still
    running after STOP_GRACE_MS, SIGKILL. A child whose supervisor dies gets
    SIGKILL from the kernel (PR_SET_PDEATHSIG): none outlives it.

    Each restart is logged (how long the child ran, how it ended, how long
    the restart took) and published as an `actor.restarted` event through
    the broker, as a client whose key may call events Publish (an admin key,
    or an actor key for service "supervisor"). Events wait in a small queue
    while the events service is away, and go out one at a time; the loop
    that supervises never waits for them.
*/
#include "supervisor.h"
#include "flotilla/body.h"
#include "flotilla/log.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define WHO "supervisor"
#define TICK_MS 50     //  how often children are reaped and started
#define BACKOFF_MS 100 //  first restart's wait, doubled with each one
#define BACKOFF_MAX_MS 5000
#define STOP_GRACE_MS 10000   //  SIGTERM to SIGKILL
#define QUEUE_MAX 64          //  events waiting for the events service
#define PUBLISH_TIMEOUT 3000  //  a Publish's deadline
#define PUBLISH_RETRY_MS 1000 //  after a Publish that failed

typedef struct {
    char *name;         //  its service, or "broker"
    char **argv;        //  NULL-terminated
    pid_t pid;          //  0: not running
    int64_t started_at; //  zclock_mono, when pid started
    int64_t restart_at; //  when to start it again; 0: not due
    int64_t exited_at;
    pid_t previous_pid; //  the process that exited
    int status;         //  its wait status
    int64_t ran_ms;
} child_t;

struct _supervisor_t {
    child_t *children;
    size_t count;
    int intensity;
    int period_s;
    int64_t *restarts; //  when each restart within the period was decided
    size_t restart_count;
    //  Events
    char *endpoint; //  NULL: events are only logged
    flot_creds_t creds;
    flot_client_t *client;
    zlistx_t *queue;     //  zframe_t *, bodies of events.Publish
    uint64_t publishing; //  corr of the Publish in flight; 0: none
    int64_t publishing_since;
    int64_t retry_at;
    size_t dropped;
    char host [256];
};

supervisor_t *
supervisor_new (int intensity, int period_s)
{
    supervisor_t *self = calloc (1, sizeof *self);
    assert (self);
    self->intensity = intensity;
    self->period_s = period_s;
    self->restarts = calloc ((size_t) intensity + 1, sizeof *self->restarts);
    assert (self->restarts);
    self->queue = zlistx_new ();
    zlistx_set_destructor (self->queue, (zlistx_destructor_fn *) zframe_destroy);
    if (gethostname (self->host, sizeof self->host))
        snprintf (self->host, sizeof self->host, "?");
    self->host [sizeof self->host - 1] = 0;
    return self;
}

void
supervisor_destroy (supervisor_t **self_p)
{
    if (self_p && *self_p) {
        supervisor_t *self = *self_p;
        for (size_t i = 0; i < self->count; i++) {
            for (char **arg = self->children [i].argv; *arg; arg++)
                free (*arg);
            free (self->children [i].argv);
            free (self->children [i].name);
        }
        free (self->children);
        free (self->restarts);
        zlistx_destroy (&self->queue);
        flot_client_destroy (&self->client);
        flot_creds_clear (&self->creds);
        free (self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

void
supervisor_add (supervisor_t *self, const char *name, char *const argv [])
{
    self->children = realloc (self->children, (self->count + 1) * sizeof *self->children);
    assert (self->children);
    child_t *child = &self->children [self->count++];
    memset (child, 0, sizeof *child);
    child->name = strdup (name);
    size_t argc = 0;
    while (argv [argc])
        argc++;
    child->argv = calloc (argc + 1, sizeof *child->argv);
    assert (child->name && child->argv);
    for (size_t i = 0; i < argc; i++)
        child->argv [i] = strdup (argv [i]);
}

void
supervisor_set_events (supervisor_t *self, const char *endpoint, const flot_creds_t *creds)
{
    free (self->endpoint);
    self->endpoint = strdup (endpoint);
    flot_creds_clear (&self->creds);
    if (creds && flot_creds_copy (&self->creds, creds))
        memset (&self->creds, 0, sizeof self->creds);
}

//  "the broker" or "actor 'health'", for the log.
static const char *
s_what (const child_t *child, char *buf, size_t size)
{
    if (streq (child->name, "broker"))
        snprintf (buf, size, "the broker");
    else
        snprintf (buf, size, "actor '%s'", child->name);
    return buf;
}

//  How a child ended, in words, from its wait status.
static const char *
s_ending (int status, char *buf, size_t size)
{
    if (WIFEXITED (status))
        snprintf (buf, size, "exited with status %d", WEXITSTATUS (status));
    else if (WIFSIGNALED (status))
        snprintf (buf, size, "killed by signal %d (%s)", WTERMSIG (status),
                  strsignal (WTERMSIG (status)));
    else
        snprintf (buf, size, "ended (wait status %#x)", (unsigned) status);
    return buf;
}

//  In the child, between fork and exec: only async-signal-safe calls.
static void
s_child_exec (char **argv, pid_t parent)
{
    setpgid (0, 0);
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)
        _exit (127); //  the supervisor died before prctl took
#ifdef SYS_close_range
    if (syscall (SYS_close_range, 3U, ~0U, 0) != 0)
#endif
        for (int fd = 3; fd < 4096; fd++)
            close (fd);
    execv ("/proc/self/exe", argv);
    _exit (127);
}

//  Starts child; returns 0, or -1 if fork failed (said).
static int
s_start (supervisor_t *self, child_t *child)
{
    (void) self;
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0) {
        char what [80];
        flot_error (WHO, "cannot start %s: fork: %s", s_what (child, what, sizeof what),
                    strerror (errno));
        return -1;
    }
    if (pid == 0)
        s_child_exec (child->argv, parent);
    child->pid = pid;
    child->started_at = zclock_mono ();
    child->restart_at = 0;
    return 0;
}

//  The restarts decided within the period, the older ones forgotten.
static size_t
s_restarts_in_period (supervisor_t *self, int64_t now)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->restart_count; i++)
        if (now - self->restarts [i] < (int64_t) self->period_s * 1000)
            self->restarts [kept++] = self->restarts [i];
    self->restart_count = kept;
    return kept;
}

//  --------------------------------------------------------------------------
//  actor.restarted

//  Queues the event of child's restart (its new pid is running).
static void
s_event_queue (supervisor_t *self, const child_t *child, int64_t restart_ms)
{
    if (!self->endpoint)
        return;
    char ending [128], message [512];
    s_ending (child->status, ending, sizeof ending);
    snprintf (message, sizeof message,
              "%s on %s was restarted as pid %d: pid %d %s after "
              "running %lld ms",
              child->name, self->host, (int) child->pid, (int) child->previous_pid, ending,
              (long long) child->ran_ms);
    bool exited = WIFEXITED (child->status), signaled = WIFSIGNALED (child->status);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    flot_pack_kv_str (&pk, "type", "actor.restarted");
    flot_pack_kv_str (&pk, "message", message);
    flot_pack_str (&pk, "data");
    msgpack_pack_map (&pk, 10 + (exited ? 1 : 0) + (signaled ? 1 : 0));
    flot_pack_kv_str (&pk, "service", child->name);
    flot_pack_kv_str (&pk, "host", self->host);
    flot_pack_kv_uint (&pk, "pid", (uint64_t) child->pid);
    flot_pack_kv_uint (&pk, "previous_pid", (uint64_t) child->previous_pid);
    flot_pack_kv_str (&pk, "exit", ending);
    if (exited)
        flot_pack_kv_int (&pk, "status", WEXITSTATUS (child->status));
    if (signaled)
        flot_pack_kv_uint (&pk, "signal", (uint64_t) WTERMSIG (child->status));
    flot_pack_kv_uint (&pk, "ran_ms", (uint64_t) child->ran_ms);
    flot_pack_kv_uint (&pk, "restart_ms", (uint64_t) restart_ms);
    flot_pack_kv_uint (&pk, "restarts", self->restart_count);
    flot_pack_kv_uint (&pk, "intensity", (uint64_t) self->intensity);
    flot_pack_kv_uint (&pk, "period_s", (uint64_t) self->period_s);
    if (zlistx_size (self->queue) >= QUEUE_MAX) {
        //  The oldest that is not in flight makes room.
        void *cursor = zlistx_first (self->queue);
        if (self->publishing)
            cursor = zlistx_next (self->queue);
        if (cursor)
            zlistx_delete (self->queue, zlistx_cursor (self->queue));
        if (self->dropped++ % 100 == 0)
            flot_warn (WHO,
                       "%zu actor.restarted events dropped: the events service has "
                       "not taken them (%d wait at most)",
                       self->dropped, QUEUE_MAX);
    }
    zlistx_add_end (self->queue, zframe_new (sbuf.data, sbuf.size));
    msgpack_sbuffer_destroy (&sbuf);
}

//  The answer to the Publish in flight: the event is done, or (the events
//  service is away, the broker is) sent again later.
static void
s_event_answered (supervisor_t *self, flot_reply_t *reply)
{
    int64_t now = zclock_mono ();
    self->publishing = 0;
    if (reply->kind == FLOT_REPLY) {
        zlistx_first (self->queue);
        zlistx_delete (self->queue, zlistx_cursor (self->queue));
        return;
    }
    flot_err_t err;
    flot_unpack_error (zframe_data (reply->body), zframe_size (reply->body), &err);
    if (err.code == FLOT_E_NOT_AUTHORIZED || err.code == FLOT_E_INVALID
        || err.code == FLOT_E_MALFORMED || err.code == FLOT_E_TOO_LARGE) {
        //  Never taken, however often sent.
        flot_warn (WHO,
                   "an actor.restarted event is dropped: events Publish refused it: "
                   "%s%s",
                   err.message,
                   err.code == FLOT_E_NOT_AUTHORIZED
                       ? " (the supervisor needs an admin key, or an actor key for service "
                         "'supervisor')"
                       : "");
        zlistx_first (self->queue);
        zlistx_delete (self->queue, zlistx_cursor (self->queue));
        return;
    }
    flot_debug (WHO, "events Publish: %s; trying again in %d ms", err.message,
                PUBLISH_RETRY_MS);
    self->retry_at = now + PUBLISH_RETRY_MS;
}

//  Takes what the broker answered and sends the next event; never waits.
static void
s_events_pump (supervisor_t *self)
{
    if (!self->endpoint)
        return;
    int64_t now = zclock_mono ();
    if (!self->client && zlistx_size (self->queue)) {
        self->client = flot_client_new_secure (self->endpoint,
                                               self->creds.cert ? &self->creds : NULL);
        if (!self->client) {
            flot_warn (WHO,
                       "cannot connect to %s to publish events; restarts are only logged",
                       self->endpoint);
            free (self->endpoint);
            self->endpoint = NULL;
            zlistx_purge (self->queue);
            return;
        }
    }
    if (!self->client)
        return;
    for (int i = 0; i < 16; i++) {
        flot_reply_t reply;
        flot_err_t err;
        if (flot_client_recv (self->client, &reply, 0, &err))
            break;
        if (self->publishing && reply.corr == self->publishing)
            s_event_answered (self, &reply);
        flot_reply_clear (&reply);
    }
    if (self->publishing && now - self->publishing_since > PUBLISH_TIMEOUT + 1000) {
        //  No answer at all: the broker is away. Sent again once it is back.
        self->publishing = 0;
        self->retry_at = now + PUBLISH_RETRY_MS;
    }
    zframe_t *next = zlistx_first (self->queue);
    if (self->publishing || !next || now < self->retry_at)
        return;
    flot_err_t err;
    self->publishing = flot_client_send (self->client, "events", NULL, "Publish",
                                         zframe_data (next), zframe_size (next),
                                         PUBLISH_TIMEOUT, &err);
    self->publishing_since = now;
    if (!self->publishing)
        self->retry_at = now + PUBLISH_RETRY_MS;
}

//  --------------------------------------------------------------------------
//  Exits, restarts and stopping

//  Sends SIGTERM to child and waits for it; SIGKILL after STOP_GRACE_MS.
static void
s_stop_child (child_t *child)
{
    if (child->pid <= 0)
        return;
    char what [80];
    int status = 0;
    kill (child->pid, SIGTERM);
    int64_t deadline = zclock_mono () + STOP_GRACE_MS;
    pid_t done;
    while ((done = waitpid (child->pid, &status, WNOHANG)) == 0
           && zclock_mono () < deadline)
        zclock_sleep (20);
    if (done == 0) {
        flot_warn (WHO, "%s (pid %d) did not stop within %d s of SIGTERM: SIGKILL",
                   s_what (child, what, sizeof what), (int) child->pid,
                   STOP_GRACE_MS / 1000);
        kill (child->pid, SIGKILL);
        while (waitpid (child->pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    char ending [128];
    flot_info (WHO, "%s (pid %d) stopped: %s", s_what (child, what, sizeof what),
               (int) child->pid, s_ending (status, ending, sizeof ending));
    child->pid = 0;
}

//  The actors, last started first, then the broker (added first).
static void
s_stop_all (supervisor_t *self)
{
    for (size_t i = self->count; i-- > 0;)
        s_stop_child (&self->children [i]);
}

//  A child exited: its restart is due after a backoff. Returns 0, or -1 if
//  that restart would pass the limit (said).
static int
s_exited (supervisor_t *self, child_t *child, int status)
{
    int64_t now = zclock_mono ();
    char what [80], ending [128];
    child->status = status;
    child->previous_pid = child->pid;
    child->exited_at = now;
    child->ran_ms = now - child->started_at;
    child->pid = 0;
    s_what (child, what, sizeof what);
    s_ending (status, ending, sizeof ending);
    size_t restarts = s_restarts_in_period (self, now);
    if (restarts >= (size_t) self->intensity) {
        flot_error (WHO,
                    "restart limit reached: %s (pid %d) %s after running %.1f s, and "
                    "%zu restarts already happened within %d s (--restart-intensity %d, "
                    "--restart-period %d): stopping every child and exiting, for the "
                    "service manager to start flotillad again",
                    what, (int) child->previous_pid, ending, child->ran_ms / 1000.0,
                    restarts, self->period_s, self->intensity, self->period_s);
        return -1;
    }
    self->restarts [self->restart_count++] = now;
    int64_t backoff = BACKOFF_MS;
    for (size_t i = 1; i < self->restart_count && backoff < BACKOFF_MAX_MS; i++)
        backoff *= 2;
    if (backoff > BACKOFF_MAX_MS)
        backoff = BACKOFF_MAX_MS;
    child->restart_at = now + backoff;
    flot_warn (WHO,
               "%s (pid %d) %s after running %.1f s; restarting it in %lld ms "
               "(restart %zu of at most %d within %d s)",
               what, (int) child->previous_pid, ending, child->ran_ms / 1000.0,
               (long long) backoff, self->restart_count, self->intensity, self->period_s);
    return 0;
}

//  Reaps the children that exited. Returns 0, or -1 past the limit.
static int
s_reap (supervisor_t *self)
{
    int status;
    pid_t pid;
    while ((pid = waitpid (-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < self->count; i++)
            if (self->children [i].pid == pid) {
                if (s_exited (self, &self->children [i], status))
                    return -1;
                break;
            }
    }
    return 0;
}

//  Starts again the children whose backoff is over. Returns 0, or -1.
static int
s_restart_due (supervisor_t *self)
{
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < self->count; i++) {
        child_t *child = &self->children [i];
        if (child->pid || !child->restart_at || now < child->restart_at)
            continue;
        if (s_start (self, child))
            return -1;
        char what [80];
        int64_t took = child->started_at - child->exited_at;
        flot_notice (WHO, "%s restarted as pid %d, %lld ms after pid %d exited",
                     s_what (child, what, sizeof what), (int) child->pid, (long long) took,
                     (int) child->previous_pid);
        s_event_queue (self, child, took);
    }
    return 0;
}

int
supervisor_run (supervisor_t *self)
{
    int rc = 0;
    for (size_t i = 0; i < self->count && rc == 0; i++) {
        rc = s_start (self, &self->children [i]);
        if (rc == 0) {
            char what [80];
            flot_info (WHO, "%s started as pid %d",
                       s_what (&self->children [i], what, sizeof what),
                       (int) self->children [i].pid);
        }
    }
    while (rc == 0 && !zsys_interrupted) {
        rc = s_reap (self);
        if (rc == 0)
            rc = s_restart_due (self);
        if (rc == 0)
            s_events_pump (self);
        if (rc == 0 && !zsys_interrupted) {
            if (self->client && self->publishing) {
                zmq_pollitem_t item = { zsock_resolve (flot_client_sock (self->client)), 0,
                                        ZMQ_POLLIN, 0 };
                zmq_poll (&item, 1, TICK_MS);
            }
            else
                zclock_sleep (TICK_MS);
        }
    }
    if (rc == 0)
        flot_notice (WHO, "stopping the actors, then the broker");
    s_stop_all (self);
    if (zlistx_size (self->queue))
        flot_info (WHO, "%zu actor.restarted events were not published",
                   zlistx_size (self->queue));
    return rc;
}
