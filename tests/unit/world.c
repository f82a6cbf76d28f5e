/*  world.c - a broker and actors as threads, actors as child processes
    (flotillad --connect), and a client, for tests.  */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "world.h"
#include "flotilla/broker.h"
#include "flotilla/json.h"

#define MAX_ACTORS 8
#define MAX_CHILDREN 8
#define HEARTBEAT_MS 200
#define REGISTER_MS 10000       //  how long an actor may take to register

typedef struct {
    char service [32];
    pid_t pid;                  //  0: a free slot
} child_t;

struct _world_t {
    char endpoint [128];
    zactor_t *broker;
    zactor_t *actors [MAX_ACTORS];
    const flot_actor_def_t *defs [MAX_ACTORS];
    size_t count;
    child_t children [MAX_CHILDREN];
    flot_client_t *client;
};

//  Calls service's NoSuchCommand once: the answer's error code (an unknown
//  command is the actor's own answer, so it has registered; an unknown
//  service or no instance is the broker's).
static int
s_probe (flot_client_t *client, const char *service)
{
    zframe_t *body = NULL;
    flot_err_t err = { 0, "" };
    int rc = flot_client_call (client, service, NULL, "NoSuchCommand", NULL, 0, 200, &body, &err);
    zframe_destroy (&body);
    return rc ? err.code : 0;
}

//  Waits up to REGISTER_MS until service has registered; false if it did not.
static bool
s_registered (flot_client_t *client, const char *service)
{
    int64_t deadline = zclock_mono () + REGISTER_MS;
    while (true) {
        if (s_probe (client, service) == FLOT_E_UNKNOWN_COMMAND)
            return true;
        if (zclock_mono () >= deadline)
            return false;
        zclock_sleep (20);
    }
}

static world_t *
    s_start (const flot_actor_def_t *const *defs, const char *endpoint, zhash_t *options);

world_t *
world_start (const flot_actor_def_t *const *defs)
{
    return world_start_with (defs, NULL);
}

world_t *
world_start_with (const flot_actor_def_t *const *defs, zhash_t *options)
{
    //  A new endpoint each time: a closed inproc endpoint is freed later.
    static int generation = 0;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://test-world-%d", ++generation);
    return s_start (defs, endpoint, options);
}

world_t *
world_start_at (const flot_actor_def_t *const *defs, const char *endpoint)
{
    return s_start (defs, endpoint, NULL);
}

static world_t *
s_start (const flot_actor_def_t *const *defs, const char *endpoint, zhash_t *options)
{
    world_t *self = calloc (1, sizeof *self);
    assert_non_null (self);
    assert_true (strlen (endpoint) < sizeof self->endpoint);
    snprintf (self->endpoint, sizeof self->endpoint, "%s", endpoint);
    const char *endpoints [] = { self->endpoint, NULL };
    flot_broker_config_t config = { .endpoints = endpoints, .heartbeat_ms = HEARTBEAT_MS };
    self->broker = zactor_new (flot_broker_actor, &config);
    char *status = zstr_recv (self->broker);
    assert_string_equal (status, "OK");
    zstr_free (&status);
    flot_actor_config_t actor = {
        .endpoint = self->endpoint, .heartbeat_ms = HEARTBEAT_MS, .options = options
    };
    for (; defs [self->count] && self->count < MAX_ACTORS; self->count++) {
        self->defs [self->count] = defs [self->count];
        self->actors [self->count] = flot_actor_thread (defs [self->count], &actor);
        assert_non_null (self->actors [self->count]);
    }
    self->client = flot_client_new (self->endpoint);
    assert_non_null (self->client);
    for (size_t a = 0; a < self->count; a++)
        if (!s_registered (self->client, defs [a]->service))
            fail_msg ("%s did not register in %d s", defs [a]->service, REGISTER_MS / 1000);
    return self;
}

//  Sends the child SIGTERM and reaps it; SIGKILL if it has not exited
//  within 10 s. Returns its wait status.
static int
s_child_stop (child_t *child)
{
    int status = 0;
    kill (child->pid, SIGTERM);
    pid_t got = 0;
    for (int i = 0; i < 1000 && got == 0; i++) {
        got = waitpid (child->pid, &status, WNOHANG);
        if (got == 0)
            zclock_sleep (10);
    }
    if (got == 0) {
        kill (child->pid, SIGKILL);
        while (waitpid (child->pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    child->pid = 0;
    return status;
}

void
world_stop (world_t **self_p)
{
    world_t *self = *self_p;
    if (!self)
        return;
    flot_client_destroy (&self->client);
    for (size_t c = 0; c < MAX_CHILDREN; c++)
        if (self->children [c].pid)
            s_child_stop (&self->children [c]);
    while (self->count)
        zactor_destroy (&self->actors [--self->count]);
    zactor_destroy (&self->broker);
    if (strncmp (self->endpoint, "ipc://", 6) == 0)
        unlink (self->endpoint + 6);
    free (self);
    *self_p = NULL;
}

const char *
world_endpoint (world_t *self)
{
    return self->endpoint;
}

pid_t
world_spawn (world_t *self, const char *flotillad, const char *service)
{
    return world_spawn_args (self, flotillad, service, NULL);
}

pid_t
world_spawn_args (world_t *self, const char *flotillad, const char *service,
                  const char *const *args)
{
    child_t *child = NULL;
    for (size_t c = 0; c < MAX_CHILDREN && !child; c++)
        if (!self->children [c].pid)
            child = &self->children [c];
    if (!child || strlen (service) >= sizeof child->service) {
        print_error ("world_spawn %s: no free slot, or a name too long\n", service);
        return -1;
    }
    char heartbeat [16];
    snprintf (heartbeat, sizeof heartbeat, "%d", HEARTBEAT_MS);
    const char *argv [20] = {
        flotillad, "--connect", self->endpoint, "--actors", service,
        "--heartbeat", heartbeat, "--quiet", NULL
    };
    for (size_t i = 0, at = 8; args && args [i] && i < 8; i++)
        argv [at++] = args [i];
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0) {
        print_error ("world_spawn %s: fork: %s\n", service, strerror (errno));
        return -1;
    }
    if (pid == 0) {
        //  Only async-signal-safe calls until exec. The child dies with
        //  the test, should the test die before it reaps the child.
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        execv (flotillad, (char *const *) argv);
        _exit (127);
    }
    snprintf (child->service, sizeof child->service, "%s", service);
    child->pid = pid;
    //  Registered, as world_start waits for a thread; or it exited.
    flot_client_t *probe = flot_client_new (self->endpoint);
    bool up = false, exited = false;
    int status = 0;
    int64_t deadline = zclock_mono () + REGISTER_MS;
    while (probe) {
        up = s_probe (probe, service) == FLOT_E_UNKNOWN_COMMAND;
        exited = !up && waitpid (pid, &status, WNOHANG) == pid;
        if (up || exited || zclock_mono () >= deadline)
            break;
        zclock_sleep (20);
    }
    flot_client_destroy (&probe);
    if (up)
        return pid;
    if (exited) {
        child->pid = 0;
        print_error ("%s --connect %s --actors %s exited with status %d before it registered\n",
                     flotillad, self->endpoint, service,
                     WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
    }
    else {
        s_child_stop (child);
        print_error ("%s (flotillad pid %d) did not register in %d s\n", service, (int) pid,
                     REGISTER_MS / 1000);
    }
    return -1;
}

int
world_kill (world_t *self, const char *service)
{
    child_t *child = NULL;
    for (size_t c = 0; c < MAX_CHILDREN && !child; c++)
        if (self->children [c].pid && streq (self->children [c].service, service))
            child = &self->children [c];
    if (!child)
        fail_msg ("no child process runs %s", service);
    int status = s_child_stop (child);
    //  Gone from the broker: it tells of no live instance.
    flot_client_t *probe = flot_client_new (self->endpoint);
    assert_non_null (probe);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        int code = s_probe (probe, service);
        gone = code == FLOT_E_NO_INSTANCE || code == FLOT_E_UNKNOWN_SERVICE;
        if (!gone)
            zclock_sleep (20);
    }
    flot_client_destroy (&probe);
    if (!gone)
        fail_msg ("the broker still lists %s after its process exited", service);
    return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

void
world_stop_thread (world_t *self, const char *service)
{
    for (size_t a = 0; a < self->count; a++)
        if (self->actors [a] && streq (self->defs [a]->service, service)) {
            zactor_destroy (&self->actors [a]);
            return;
        }
    fail_msg ("no thread runs %s", service);
}

flot_client_t *
world_client (world_t *self)
{
    return self->client;
}

json_t *
world_call (world_t *self, const char *service, const char *key, const char *command,
            json_t *request, flot_err_t *err)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (flot_json_pack (&pk, request), 0);
    json_decref (request);
    zframe_t *body = NULL;
    int rc = flot_client_call (self->client, service, key, command, sbuf.data, sbuf.size,
                               10000, &body, err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc)
        return NULL;
    flot_body_t *decoded = flot_body_decode (zframe_data (body), zframe_size (body), err);
    zframe_destroy (&body);
    assert_non_null (decoded);
    json_t *reply = flot_json_from_msgpack (flot_body_root (decoded));
    flot_body_destroy (&decoded);
    return reply;
}
