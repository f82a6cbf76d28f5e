/*  proc_util.c - real flotillad processes for the process-level tests.

    See proc_util.h. Owns the registry of started children: each test's
    teardown stops and reaps them all, so a failed assertion never leaves a
    flotillad running or a zombie behind; and the program's own
    FLOTILLA_HOME, removed at exit.
*/
#include "proc_util.h"
#include "flotilla/actor.h"
#include "flotilla/json.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <limits.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#ifndef FLOTILLAD_PATH
#   error "FLOTILLAD_PATH must name the flotillad binary"
#endif
#ifndef PROC_LOG_DIR
#   define PROC_LOG_DIR "."
#endif

#define MAX_PROCS 32
#define MAX_ARGS 32

struct _proc_t {
    pid_t pid;
    bool reaped;
    int status;
    char name [64];
    char log [512];
    char store [600];           //  its --store, removed at cleanup
    bool insecure;              //  started with --insecure
};

static proc_t *s_procs [MAX_PROCS];

//  This program's FLOTILLA_HOME ("" until made), and who made it: a child
//  that exits does not remove it.
static char s_home [PATH_MAX];
static pid_t s_home_owner;

static int
s_remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    remove (path);
    return 0;
}

static void
s_home_remove (void)
{
    if (*s_home && getpid () == s_home_owner)
        nftw (s_home, s_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
proc_home (void)
{
    if (*s_home)
        return s_home;
    const char *tmp = getenv ("TMPDIR");
    snprintf (s_home, sizeof s_home, "%s/flotilla-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp",
              program_invocation_short_name);
    if (!mkdtemp (s_home))
        fail_msg ("cannot make a FLOTILLA_HOME in %s: %s", s_home, strerror (errno));
    s_home_owner = getpid ();
    atexit (s_home_remove);
    char config [PATH_MAX + 32];
    snprintf (config, sizeof config, "%s/flotilla.conf", s_home);
    FILE *file = fopen (config, "w");
    if (!file)
        fail_msg ("cannot write %s: %s", config, strerror (errno));
    fprintf (file, "# empty: the process tests take no settings from a config file\n");
    fclose (file);
    setenv ("FLOTILLA_HOME", s_home, 1);
    setenv ("FLOTILLA_CONFIG", config, 1);
    unsetenv ("FLOTILLA_AUTH_DIR");
    unsetenv ("FLOTILLA_CERT");
    unsetenv ("FLOTILLA_BROKER_CERT");
    return s_home;
}

static void
s_sleep_ms (int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    while (nanosleep (&ts, &ts) && errno == EINTR)
        ;
}

int64_t
proc_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Removes a store and its events' history.
static void
s_store_remove (const char *store)
{
    char path [PATH_MAX];
    unlink (store);
    snprintf (path, sizeof path, "%s-events", store);
    unlink (path);
    const char *suffixes [] = { "-wal", "-shm", "-events-wal", "-events-shm" };
    for (size_t i = 0; i < 4; i++) {
        snprintf (path, sizeof path, "%s%s", store, suffixes [i]);
        unlink (path);
    }
}

//  Starts flotillad with args, up to a NULL (at most MAX_ARGS of them).
static proc_t *
s_start (const char *name, const char *const *args)
{
    size_t slot;
    for (slot = 0; slot < MAX_PROCS; slot++)
        if (!s_procs [slot])
            break;
    if (slot == MAX_PROCS)
        return NULL;
    proc_home ();
    proc_t *self = calloc (1, sizeof *self);
    assert_non_null (self);
    snprintf (self->name, sizeof self->name, "%s", name);
    snprintf (self->log, sizeof self->log, "%s/%s-%s.log",
              PROC_LOG_DIR, program_invocation_short_name, name);

    //  Everything the child needs is prepared before fork: after it, only
    //  async-signal-safe calls until exec.
    char *argv [MAX_ARGS + 2];
    int argc = 0;
    argv [argc++] = (char *) FLOTILLAD_PATH;
    for (const char *const *arg = args; *arg && argc < MAX_ARGS; arg++) {
        argv [argc++] = (char *) *arg;
        if (streq (*arg, "--insecure"))
            self->insecure = true;
    }
    //  Its own store, kept while the test runs (a restart under the same
    //  name finds it) and removed by proc_cleanup_all.
    snprintf (self->store, sizeof self->store, "%s/%s-%s.db", PROC_LOG_DIR,
              program_invocation_short_name, name);
    if (argc + 2 <= MAX_ARGS) {
        argv [argc++] = (char *) "--store";
        argv [argc++] = self->store;
    }
    argv [argc] = NULL;
    int fd = open (self->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        print_error ("cannot open %s: %s\n", self->log, strerror (errno));
        free (self);
        return NULL;
    }
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        //  Die with the test program, whatever kills it.
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        dup2 (fd, STDOUT_FILENO);
        dup2 (fd, STDERR_FILENO);
        for (int other = 3; other < 1024; other++)
            close (other);
        execv (FLOTILLAD_PATH, argv);
        _exit (127);
    }
    close (fd);
    if (pid < 0) {
        free (self);
        return NULL;
    }
    self->pid = pid;
    s_procs [slot] = self;
    return self;
}

//  Appends the arguments in list, up to a NULL, to args (count so far in
//  *count, at most MAX_ARGS; args keeps room for the NULL after them).
static void
s_collect (const char **args, int *count, va_list list)
{
    for (const char *arg = va_arg (list, const char *); arg && *count < MAX_ARGS;
         arg = va_arg (list, const char *))
        args [(*count)++] = arg;
    args [*count] = NULL;
}

proc_t *
proc_start (const char *name, ...)
{
    const char *args [MAX_ARGS + 1];
    int count = 0;
    va_list list;
    va_start (list, name);
    s_collect (args, &count, list);
    va_end (list);
    return s_start (name, args);
}

//  True if args, up to a NULL, hold option.
static bool
s_has_arg (const char *const *args, const char *option)
{
    for (; *args; args++)
        if (streq (*args, option))
            return true;
    return false;
}

//  A client of proc's broker at endpoint: plain if it runs --insecure, else
//  as proc_client.
static flot_client_t *
s_client_of (proc_t *proc, const char *endpoint)
{
    return proc && proc->insecure ? flot_client_new (endpoint) : proc_client (endpoint);
}

proc_t *
proc_serve (const char *name, const char *endpoint, flot_client_t **client, ...)
{
    const char *args [MAX_ARGS + 1] = { "--bind", endpoint };
    int count = 2;
    va_list list;
    va_start (list, client);
    s_collect (args, &count, list);
    va_end (list);
    static const char *const beats [][2] = {
        { "--heartbeat", PROC_HEARTBEAT_ARG }, { "--liveness", PROC_LIVENESS_ARG } };
    for (size_t i = 0; i < 2; i++)
        if (!s_has_arg (args, beats [i][0]) && count + 2 <= MAX_ARGS) {
            args [count++] = beats [i][0];
            args [count++] = beats [i][1];
            args [count] = NULL;
        }
    proc_t *self = s_start (name, args);
    if (!self)
        fail_msg ("cannot start flotillad %s", name);
    if (proc_wait_ping (self, endpoint, 5000))
        fail_msg ("%s did not answer Ping on %s (see %s)", name, endpoint, self->log);
    if (client) {
        *client = s_client_of (self, endpoint);
        if (!*client)
            fail_msg ("no client of %s on %s", name, endpoint);
    }
    return self;
}

void
proc_endpoint (char *endpoint, size_t size, int port)
{
    snprintf (endpoint, size, "tcp://127.0.0.1:%d", port);
}

bool
proc_insecure (proc_t *self)
{
    return self->insecure;
}

pid_t
proc_pid (proc_t *self)
{
    return self->pid;
}

const char *
proc_log_path (proc_t *self)
{
    return self->log;
}

static bool
s_reap (proc_t *self, bool block)
{
    if (self->reaped)
        return true;
    int status = 0;
    pid_t rc;
    do
        rc = waitpid (self->pid, &status, block ? 0 : WNOHANG);
    while (rc < 0 && errno == EINTR);
    if (rc == self->pid || (rc < 0 && errno == ECHILD)) {
        self->reaped = true;
        self->status = status;
    }
    return self->reaped;
}

bool
proc_alive (proc_t *self)
{
    return !s_reap (self, false);
}

int
proc_kill (proc_t *self, int sig)
{
    if (self->reaped)
        return -1;
    return kill (self->pid, sig);
}

int
proc_wait_exit (proc_t *self, int timeout_ms, int *status)
{
    int64_t until = proc_now () + timeout_ms;
    while (!s_reap (self, false)) {
        if (proc_now () >= until)
            return -1;
        s_sleep_ms (5);
    }
    if (status)
        *status = self->status;
    return 0;
}

int
proc_stop (proc_t *self, int timeout_ms)
{
    int status;
    proc_kill (self, SIGTERM);
    if (proc_wait_exit (self, timeout_ms, &status)) {
        print_error ("%s (pid %d) did not stop within %d ms; killing it\n",
                     self->name, (int) self->pid, timeout_ms);
        proc_kill (self, SIGKILL);
        s_reap (self, true);
        return -1;
    }
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  The log as a string (caller frees), or NULL.
static char *
s_read_log (proc_t *self)
{
    FILE *file = fopen (self->log, "r");
    if (!file)
        return NULL;
    size_t size = 0, cap = 4096;
    char *text = malloc (cap);
    size_t got;
    while (text && (got = fread (text + size, 1, cap - size - 1, file)) > 0) {
        size += got;
        if (cap - size < 1024) {
            cap *= 2;
            char *bigger = realloc (text, cap);
            if (!bigger)
                free (text);
            text = bigger;
        }
    }
    fclose (file);
    if (text)
        text [size] = 0;
    return text;
}

bool
proc_log_contains (proc_t *self, const char *needle)
{
    char *text = s_read_log (self);
    bool found = text && strstr (text, needle);
    free (text);
    return found;
}

bool
proc_log_wait (proc_t *self, const char *needle, int timeout_ms)
{
    int64_t until = proc_now () + timeout_ms;
    while (!proc_log_contains (self, needle)) {
        if (proc_now () >= until)
            return false;
        s_sleep_ms (20);
    }
    return true;
}

static bool
s_log_has_report (proc_t *self)
{
    static const char *reports [] = {
        "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"
    };
    char *text = s_read_log (self);
    bool found = false;
    for (size_t i = 0; text && i < sizeof reports / sizeof reports [0]; i++)
        if (strstr (text, reports [i])) {
            print_error ("%s: sanitizer report in %s:\n%s\n",
                         self->name, self->log, strstr (text, reports [i]));
            found = true;
            break;
        }
    free (text);
    return found;
}

int
proc_cleanup_all (void)
{
    //  Stop them all at once, then wait: a stop takes up to 100 ms each.
    bool running [MAX_PROCS] = { false };
    for (size_t i = 0; i < MAX_PROCS; i++)
        if (s_procs [i] && proc_alive (s_procs [i])) {
            running [i] = true;
            proc_kill (s_procs [i], SIGTERM);
        }
    int reports = 0;
    for (size_t i = 0; i < MAX_PROCS; i++) {
        proc_t *self = s_procs [i];
        if (!self)
            continue;
        int status = 0;
        if (proc_wait_exit (self, 5000, &status)) {
            print_error ("%s (pid %d) did not stop on SIGTERM; killing it\n",
                         self->name, (int) self->pid);
            proc_kill (self, SIGKILL);
            s_reap (self, true);
            reports++;
        }
        else
        if (running [i] && !(WIFEXITED (status) && WEXITSTATUS (status) == 0)) {
            //  flotillad stops cleanly on SIGTERM: anything else is a failure.
            print_error ("%s (pid %d) stopped with status 0x%x on SIGTERM (see %s)\n",
                         self->name, (int) self->pid, status, self->log);
            reports++;
        }
        if (s_log_has_report (self))
            reports++;
        s_store_remove (self->store);
        free (self);
        s_procs [i] = NULL;
    }
    return reports;
}

int
proc_teardown (void **state)
{
    (void) state;
    return proc_cleanup_all () ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  Client helpers

void
proc_local_paths (char *cert, char *server, size_t size)
{
    const char *home = proc_home ();
    if (snprintf (cert, size, "%s/local/local.key", home) >= (int) size
    ||  snprintf (server, size, "%s/local/broker.pub", home) >= (int) size)
        fail_msg ("FLOTILLA_HOME %s is too long", home);
}

flot_client_t *
proc_client (const char *endpoint)
{
    proc_home ();
    char cert [PATH_MAX], server [PATH_MAX];
    proc_local_paths (cert, server, sizeof cert);
    if (access (cert, R_OK) || access (server, R_OK))
        return flot_client_new (endpoint);
    flot_creds_t creds;
    flot_err_t err = { 0 };
    if (flot_creds_resolve (&creds, cert, server, endpoint, &err)) {
        print_error ("cannot read the local keys: %s\n", err.message);
        return NULL;
    }
    flot_client_t *client = flot_client_new_secure (endpoint, &creds);
    flot_creds_clear (&creds);
    return client;
}

void
proc_curve_apply (zsock_t *sock)
{
    proc_curve_apply_cert (sock, NULL);
}

void
proc_curve_apply_cert (zsock_t *sock, const char *own)
{
    char cert_path [PATH_MAX], server_path [PATH_MAX];
    proc_local_paths (cert_path, server_path, sizeof cert_path);
    if (own)
        snprintf (cert_path, sizeof cert_path, "%s", own);
    zcert_t *cert = zcert_load (cert_path);
    zcert_t *server = zcert_load (server_path);
    if (!cert || !server)
        fail_msg ("the key pair %s or the broker's public key %s is not there: did a "
                  "flotillad without --insecure start?", cert_path, server_path);
    zcert_apply (cert, sock);
    zsock_set_curve_serverkey (sock, zcert_public_txt (server));
    zcert_destroy (&cert);
    zcert_destroy (&server);
}

//  The daemon's key directory: $FLOTILLA_HOME/local.
static void
s_key_dir (char *dir, size_t size)
{
    if (snprintf (dir, size, "%s/local", proc_home ()) >= (int) size)
        fail_msg ("FLOTILLA_HOME %s is too long", proc_home ());
}

void
proc_key_new (const char *name, flot_role_t role, char *secret, size_t size)
{
    char dir [PATH_MAX];
    s_key_dir (dir, sizeof dir);
    if (snprintf (secret, size, "%s/%s.key", proc_home (), name) >= (int) size)
        fail_msg ("the secret key's path is too long");
    flot_key_t key = { .role = role };
    snprintf (key.name, sizeof key.name, "%s", name);
    flot_err_t err = { 0 };
    if (flot_keys_new (dir, &key, secret, &err))
        fail_msg ("cannot make key %s in %s: %s", name, dir, err.message);
}

void
proc_key_revoke (const char *name)
{
    char dir [PATH_MAX];
    s_key_dir (dir, sizeof dir);
    flot_err_t err = { 0 };
    if (flot_keys_revoke (dir, name, &err))
        fail_msg ("cannot revoke key %s in %s: %s", name, dir, err.message);
}

int
proc_wait_ping (proc_t *proc, const char *endpoint, int timeout_ms)
{
    int64_t until = proc_now () + timeout_ms;
    int rc = -1;
    flot_client_t *client = NULL;
    while (proc_now () < until) {
        if (proc && !proc_alive (proc)) {
            print_error ("%s exited before answering Ping (see %s)\n",
                         proc->name, proc->log);
            break;
        }
        //  A keyed daemon makes its keys as it starts: until they are there,
        //  there is nothing to connect with.
        if (!client && proc && !proc->insecure) {
            char cert [PATH_MAX], server [PATH_MAX];
            proc_local_paths (cert, server, sizeof cert);
            if (access (cert, R_OK) || access (server, R_OK)) {
                s_sleep_ms (20);
                continue;
            }
        }
        if (!client)
            client = s_client_of (proc, endpoint);
        if (!client)
            break;
        json_t *pong = proc_call (client, "broker", NULL, "Ping", NULL, 200, NULL);
        bool ok = pong && json_is_true (json_object_get (pong, "pong"));
        json_decref (pong);
        if (ok) {
            rc = 0;
            break;
        }
    }
    flot_client_destroy (&client);
    return rc;
}

void
proc_pack_json (msgpack_sbuffer *sbuf, const char *json_text)
{
    msgpack_packer pk;
    flot_pack_begin (sbuf, &pk);
    json_error_t error;
    json_t *value = json_loads (json_text ? json_text : "{}", JSON_DECODE_ANY, &error);
    if (!value)
        fail_msg ("test body is not JSON: %s: %s", json_text, error.text);
    int rc = flot_json_pack (&pk, value);
    json_decref (value);
    assert_int_equal (rc, 0);
}

json_t *
proc_body_json (const void *data, size_t size)
{
    flot_err_t err;
    flot_body_t *body = flot_body_decode (data, size, &err);
    if (!body)
        return NULL;
    json_t *value = flot_json_from_msgpack (flot_body_root (body));
    flot_body_destroy (&body);
    return value;
}

json_t *
proc_call (flot_client_t *client, const char *service, const char *key,
           const char *command, const char *body_json, uint32_t timeout_ms,
           flot_err_t *err)
{
    msgpack_sbuffer sbuf;
    proc_pack_json (&sbuf, body_json);
    zframe_t *reply = NULL;
    int rc = flot_client_call (client, service, key, command, sbuf.data, sbuf.size,
                               timeout_ms, &reply, err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc)
        return NULL;
    json_t *value = proc_body_json (zframe_data (reply), zframe_size (reply));
    zframe_destroy (&reply);
    if (!value)
        flot_err_set (err, FLOT_E_MALFORMED, "the reply body is not one msgpack map");
    return value;
}

int
proc_recv_for (flot_client_t *client, uint64_t corr, flot_reply_t *reply,
               int timeout_ms)
{
    int64_t until = proc_now () + timeout_ms;
    while (true) {
        int64_t left = until - proc_now ();
        if (left <= 0)
            return -1;
        flot_err_t err;
        if (flot_client_recv (client, reply, (int) left, &err))
            return -1;
        if (reply->corr == corr)
            return 0;
        flot_reply_clear (reply);
    }
}

json_t *
proc_find_actor (flot_client_t *client, const char *service, const char *instance)
{
    json_t *reply = proc_call (client, "broker", NULL, "Actors", NULL, 1000, NULL);
    json_t *found = NULL;
    size_t index;
    json_t *actor;
    json_array_foreach (json_object_get (reply, "actors"), index, actor) {
        const char *s = json_string_value (json_object_get (actor, "service"));
        const char *i = json_string_value (json_object_get (actor, "instance"));
        if (s && i && streq (s, service) && streq (i, instance)) {
            found = json_incref (actor);
            break;
        }
    }
    json_decref (reply);
    return found;
}

json_t *
proc_wait_actor (flot_client_t *client, const char *service,
                 const char *instance, proc_t *proc, int timeout_ms)
{
    int64_t until = proc_now () + timeout_ms;
    while (true) {
        json_t *actor = proc_find_actor (client, service, instance);
        if (actor && (!proc || proc_json_int (actor, "pid") == proc->pid))
            return actor;
        json_decref (actor);
        if (proc_now () >= until)
            return NULL;
        if (proc && !proc_alive (proc)) {
            print_error ("%s exited before registering (see %s)\n",
                         proc->name, proc->log);
            return NULL;
        }
        s_sleep_ms (20);
    }
}

void
proc_wait_unnamed (flot_client_t *client, proc_t *proc, const char *service)
{
    char instance [128];
    snprintf (instance, sizeof instance, "%s-%d", service, (int) proc->pid);
    json_t *entry = proc_wait_actor (client, service, instance, proc, 5000);
    if (!entry)
        fail_msg ("%s: %s did not register (see %s)", proc->name, instance, proc->log);
    json_decref (entry);
}

long long
proc_json_int (const json_t *object, const char *key)
{
    json_t *value = json_object_get (object, key);
    return json_is_integer (value) ? (long long) json_integer_value (value) : -1;
}

long long
proc_actor_int (flot_client_t *client, const char *service, const char *instance,
                const char *key)
{
    json_t *entry = proc_find_actor (client, service, instance);
    long long value = entry ? proc_json_int (entry, key) : -1;
    json_decref (entry);
    return value;
}
