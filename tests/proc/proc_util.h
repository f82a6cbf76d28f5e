/*  proc_util.h - real flotillad processes for the process-level tests.

    Starts the built flotillad (FLOTILLAD_PATH, given by CMake) with
    arguments, its stdout and stderr in a log file under PROC_LOG_DIR, and
    keeps every child in a registry so that a test's teardown stops and reaps
    all of them even when the test failed half-way (cmocka jumps out of the
    test body on a failed assertion). Children also get SIGKILL if the test
    program dies. The teardown checks each log for sanitizer reports.

    Keys: every test program runs in a home of its own. The first
    proc_start (or proc_home) makes a private temporary folder, points
    FLOTILLA_HOME at it and FLOTILLA_CONFIG at an empty file in it, and
    clears FLOTILLA_AUTH_DIR, FLOTILLA_CERT and FLOTILLA_BROKER_CERT, so a
    flotillad started without --insecure makes its own keys there
    ($FLOTILLA_HOME/local) and never touches the user's. The folder is
    removed when the program exits. Clients connect as flotctl run by this
    user does: with those local keys when the daemon has them (proc_client),
    plain for a daemon started with --insecure.

    Also: small client helpers that call services with JSON-written bodies
    and read replies as JSON (jansson), so tests say what they mean.
*/
#ifndef PROC_UTIL_H_INCLUDED
#define PROC_UTIL_H_INCLUDED

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "flotilla/body.h"
#include "flotilla/client.h"

//  Short heartbeats so that liveness tests run in well under a second.
#define PROC_HEARTBEAT_MS 200
#define PROC_LIVENESS 3
#define PROC_HEARTBEAT_ARG "200"
#define PROC_LIVENESS_ARG "3"

//  Ports: PROC_PORT_BASE is 22000, or 22500 in the sanitizer build, so both
//  builds can run their tests at once. runtime uses +0..99, hostile +100..199.
#ifndef PROC_PORT_BASE
#   define PROC_PORT_BASE 22000
#endif

typedef struct _proc_t proc_t;

//  This program's FLOTILLA_HOME, made (and the environment set) on first
//  use as the header says.
const char *
    proc_home (void);

//  Starts flotillad with the arguments that follow name, up to a NULL.
//  The log is PROC_LOG_DIR/<program>-<name>.log. Returns NULL if fork failed.
//  It runs in proc_home (): without --insecure, a broker on loopback makes
//  and uses the local keys there, and actors connect with them.
proc_t *
    proc_start (const char *name, ...);

//  Starts flotillad serving on endpoint as proc_start does, with "--bind",
//  endpoint and the arguments that follow endpoint, up to a NULL (such as
//  "--actors", "echo", "--broker-only", "--insecure"); and the short
//  heartbeat of these tests, "--heartbeat" PROC_HEARTBEAT_ARG and
//  "--liveness" PROC_LIVENESS_ARG, unless they give those options. Waits up
//  to 5 s until it answers Ping. If client is not NULL, *client is a client
//  of it: plain if it runs --insecure, else proc_client (endpoint). Fails
//  the test (naming the process and its log) if it does not start, answer
//  or take the client.
proc_t *
    proc_serve (const char *name, const char *endpoint, flot_client_t **client, ...);

//  Writes "tcp://127.0.0.1:<port>" into endpoint.
void
    proc_endpoint (char *endpoint, size_t size, int port);

//  True if the process was started with --insecure (no keys).
bool
    proc_insecure (proc_t *self);

pid_t
    proc_pid (proc_t *self);

const char *
    proc_log_path (proc_t *self);

//  True while the process has not exited (it is reaped if it has).
bool
    proc_alive (proc_t *self);

//  Sends a signal; 0, or -1 if the process is already reaped.
int
    proc_kill (proc_t *self, int sig);

//  Waits up to timeout_ms for the process to exit and reaps it. Returns 0
//  with the wait status in *status (may be NULL), or -1 on timeout.
int
    proc_wait_exit (proc_t *self, int timeout_ms, int *status);

//  SIGTERM, then wait up to timeout_ms. Returns the exit code (0 for a clean
//  stop), or -1 if it did not exit (it is then SIGKILLed) or died of a signal.
int
    proc_stop (proc_t *self, int timeout_ms);

//  True if the log holds the text (the log is read as it is now).
bool
    proc_log_contains (proc_t *self, const char *needle);

//  Waits up to timeout_ms for the log to hold the text.
bool
    proc_log_wait (proc_t *self, const char *needle, int timeout_ms);

//  Stops (SIGTERM, then SIGKILL) and reaps every process started, checks
//  every log for sanitizer reports ("ERROR: AddressSanitizer",
//  "ERROR: LeakSanitizer", "runtime error:"), prints those, and forgets the
//  processes. Returns the number of problems: logs with a report, and
//  processes that did not exit with status 0 on SIGTERM. For teardowns.
int
    proc_cleanup_all (void);

//  A cmocka teardown that calls proc_cleanup_all and fails the test if a
//  log holds a sanitizer report.
int
    proc_teardown (void **state);

//  --------------------------------------------------------------------------
//  Client helpers

//  Milliseconds on the monotonic clock.
int64_t
    proc_now (void);

//  Waits until the broker at endpoint answers Ping, up to timeout_ms, and
//  fails fast if proc (may be NULL) exits. Pings plain if proc runs
//  --insecure, else as proc_client. Returns 0 or -1.
int
    proc_wait_ping (proc_t *proc, const char *endpoint, int timeout_ms);

//  A client of the broker at endpoint as flotctl run by this user connects:
//  with the local keys in proc_home () if they exist (a CURVE client,
//  admitted as key 'local', role admin), else plain. NULL if the endpoint
//  is invalid or the keys cannot be read (printed).
flot_client_t *
    proc_client (const char *endpoint);

//  The local keys' paths: $FLOTILLA_HOME/local/local.key (the key pair) and
//  broker.pub (the broker's public key).
void
    proc_local_paths (char *cert, char *server, size_t size);

//  Makes sock a CURVE client as proc_client's: the local key pair
//  (zcert_load + zcert_apply) and the broker's public key
//  (zsock_set_curve_serverkey). Before connect. Fails the test if the keys
//  are not there.
void
    proc_curve_apply (zsock_t *sock);

//  The same with another key pair: cert_path, a secret key file such as
//  proc_key_new writes (NULL: the local one).
void
    proc_curve_apply_cert (zsock_t *sock, const char *cert_path);

//  Allows a new key name with role in the daemon's key directory
//  ($FLOTILLA_HOME/local), as `flotctl keys new NAME --role ROLE --dir DIR`
//  does; its secret into $FLOTILLA_HOME/NAME.key, whose path goes into
//  secret. A running broker loads it when it sees the directory change.
//  Fails the test if it cannot.
void
    proc_key_new (const char *name, flot_role_t role, char *secret, size_t size);

//  Revokes key name there, as `flotctl keys revoke NAME --dir DIR` does
//  (allowed/NAME.pub moves to revoked/). Fails the test if it cannot.
void
    proc_key_revoke (const char *name);

//  Packs JSON text (NULL for {}) as msgpack into a fresh sbuf; the caller
//  destroys it. Fails the test if the text is not JSON.
void
    proc_pack_json (msgpack_sbuffer *sbuf, const char *json_text);

//  Decodes a msgpack body (one map) into JSON, or NULL.
json_t *
    proc_body_json (const void *data, size_t size);

//  Calls service/command with a JSON body; returns the reply body as JSON
//  (caller json_decref's), or NULL with err set (an error reply's code and
//  message, or DEADLINE).
json_t *
    proc_call (flot_client_t *client, const char *service, const char *key,
               const char *command, const char *body_json, uint32_t timeout_ms,
               flot_err_t *err);

//  Waits up to timeout_ms for an answer to corr (others are dropped).
//  Returns 0 with reply (caller flot_reply_clear's), or -1 on timeout.
int
    proc_recv_for (flot_client_t *client, uint64_t corr, flot_reply_t *reply,
                   int timeout_ms);

//  The broker's Actors entry for service and instance (caller json_decref's),
//  or NULL if it is not listed.
json_t *
    proc_find_actor (flot_client_t *client, const char *service,
                     const char *instance);

//  Waits up to timeout_ms until Actors lists service/instance with the pid
//  of proc (or any pid if proc is NULL). Returns the entry, or NULL.
json_t *
    proc_wait_actor (flot_client_t *client, const char *service,
                     const char *instance, proc_t *proc, int timeout_ms);

//  Waits up to 5 s until Actors lists the instance of service that proc
//  runs unnamed (it is then called "<service>-<pid>"), with proc's pid.
//  Fails the test (naming the process and its log) if it does not.
void
    proc_wait_unnamed (flot_client_t *client, proc_t *proc, const char *service);

//  An integer field of a JSON object, or -1 if absent or not an integer.
long long
    proc_json_int (const json_t *object, const char *key);

//  An integer field (handled, pending...) of the broker's Actors entry for
//  service and instance, or -1 if it is not listed.
long long
    proc_actor_int (flot_client_t *client, const char *service,
                    const char *instance, const char *key);

#endif
