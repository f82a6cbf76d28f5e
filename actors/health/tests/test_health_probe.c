/*  test_health_probe.c - health checks as operators write them, and every
    probe against real local servers: the check parser (defaults, and each
    error with its path), HTTP (status in and out of the list, body match,
    headers sent, HEAD, timeout, refused), HTTPS against an openssl server
    with a certificate made for the test, TCP (open, refused, timeout on a
    full backlog), and commands (exit 0, exit 3, timeout killing the whole
    process group), which are programs of the prober's hooks directory, run
    there, each template one argument, never a shell's words; a command
    outside the directory, or an env that changes how it runs, is refused,
    as is every one in a hooks directory others may write to. A prober
    runs on a flot_loop in the test's thread; its hooks directory is made for
    the test (group setup). Ports 25000-25099.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "health.h"
#include "flotilla/json.h"
#include "flotilla/log.h"
#include "health_server.h"

#define HTTP_PORT   25001
#define TLS_PORT    25002
#define TCP_PORT    25003
#define CLOSED_PORT 25004
#define FULL_PORT   25005

static char s_tmp [64];                 //  the test's temporary directory
static char s_hooks [128];              //  s_tmp/hooks: the prober's hooks directory
static char s_pwned [128];              //  s_tmp/pwned: must never be made

static void
s_script (const char *name, const char *text)
{
    char path [256];
    snprintf (path, sizeof path, "%s/%s", s_hooks, name);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "#!/bin/sh\n%s\n", text);
    fclose (file);
    assert_int_equal (chmod (path, 0755), 0);
}

//  The hooks directory: the probes' scripts, and a link to sleep(1).
static int
s_group_setup (void **state)
{
    (void) state;
    snprintf (s_tmp, sizeof s_tmp, "/tmp/flot-probe-XXXXXX");
    assert_non_null (mkdtemp (s_tmp));
    snprintf (s_hooks, sizeof s_hooks, "%s/hooks", s_tmp);
    snprintf (s_pwned, sizeof s_pwned, "%s/pwned", s_tmp);
    assert_int_equal (mkdir (s_hooks, 0755), 0);
    s_script ("check.sh", "echo checking $1 at $WHERE");
    s_script ("broken.sh", "echo one; echo broken >&2; exit 3");
    s_script ("spawn.sh", "sleep 30 & echo $! > \"$1\"; sleep 30");
    s_script ("show.sh", "echo \"argc=$# first=[$1] cwd=$(pwd)\"");
    char path [256];
    snprintf (path, sizeof path, "%s/sleep", s_hooks);
    assert_int_equal (symlink ("/bin/sleep", path), 0);
    return 0;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    char command [128];
    snprintf (command, sizeof command, "rm -rf %s", s_tmp);
    assert_int_equal (system (command), 0);
    return 0;
}

//  A msgpack value from JSON, held in a body as {"v": ...}.
static flot_body_t *
s_value (const char *json)
{
    char *wrapped = malloc (strlen (json) + 16);
    sprintf (wrapped, "{\"v\": %s}", json);
    json_error_t jerr;
    json_t *value = json_loads (wrapped, 0, &jerr);
    if (!value)
        fail_msg ("bad JSON in the test: %s: %s", wrapped, jerr.text);
    free (wrapped);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (flot_json_pack (&pk, value), 0);
    json_decref (value);
    flot_err_t err;
    flot_body_t *body = flot_body_decode (sbuf.data, sbuf.size, &err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_non_null (body);
    return body;
}

static const msgpack_object *
s_v (flot_body_t *body)
{
    return flot_map_get (flot_body_root (body), "v");
}

//  A CONTEXT from JSON, decoded by the health contract into zone.
static const flot_health_context_t *
s_context (const char *json, msgpack_zone *zone)
{
    flot_body_t *body = s_value (json);
    flot_err_t err;
    const flot_health_context_t *context = flot_decode_new (&flot_health_context_def,
                                                            s_v (body), zone, &err);
    if (!context)
        fail_msg ("bad CONTEXT in the test: %s: %s", json, err.message);
    flot_body_destroy (&body);
    return context;
}

//  Parses a check; returns it or NULL with err.
static flot_check_t *
s_parse (const char *json, flot_err_t *err)
{
    flot_body_t *body = s_value (json);
    flot_check_t *check = flot_check_new (s_v (body), "healthChecks[0]", err);
    flot_body_destroy (&body);
    return check;
}

static void
s_parse_fails (const char *json, const char *message)
{
    flot_err_t err;
    flot_check_t *check = s_parse (json, &err);
    if (check)
        fail_msg ("parsed, expected: %s", message);
    assert_int_equal (err.code, FLOT_E_INVALID);
    if (!strstr (err.message, message))
        fail_msg ("error '%s' lacks '%s'", err.message, message);
}

//  A key given twice (which JSON cannot say, msgpack can) is refused, and
//  a second list of arguments does not add to the first.
static void
test_check_parse_refuses_repeated_keys (void **state)
{
    (void) state;
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    flot_pack_kv_str (&pk, "name", "w");
    flot_pack_str (&pk, "command");
    msgpack_pack_map (&pk, 3);
    flot_pack_kv_str (&pk, "command", "x");
    for (int twice = 0; twice < 2; twice++) {
        flot_pack_str (&pk, "args");
        msgpack_pack_array (&pk, FLOT_CHECK_MAX_ARGS);
        for (int a = 0; a < FLOT_CHECK_MAX_ARGS; a++)
            flot_pack_str (&pk, "a");
    }
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    assert_int_equal (msgpack_unpack_next (&unpacked, sbuf.data, sbuf.size, NULL),
                      MSGPACK_UNPACK_SUCCESS);
    flot_err_t err;
    flot_check_t *check = flot_check_new (&unpacked.data, "healthChecks[0]", &err);
    assert_null (check);
    assert_non_null (strstr (err.message, "healthChecks[0].command: 'args' is given twice"));
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&sbuf);
}

//  --------------------------------------------------------------------------
//  Running one probe

typedef struct {
    bool done;
    flot_probe_result_t result;
} outcome_t;

static void
s_on_result (const flot_probe_result_t *result, void *arg)
{
    outcome_t *outcome = arg;
    outcome->result = *result;
    outcome->done = true;
}

static int
s_until_done (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    return ((outcome_t *) arg)->done ? -1 : 0;
}

#define CONTEXT "{\"target\": \"web-1\", \"address\": \"127.0.0.1:25001\", \"version\": \"2.0\"}"

//  Probes the check with a prober whose hooks directory is dir.
static flot_probe_result_t
s_probe_in (const char *dir, const char *check_json, const char *context_json)
{
    flot_err_t err;
    flot_check_t *check = s_parse (check_json, &err);
    if (!check)
        fail_msg ("check did not parse: %s", err.message);
    msgpack_zone zone;
    assert_true (msgpack_zone_init (&zone, 1024));
    const flot_health_context_t *context = s_context (context_json, &zone);
    flot_loop_t *loop = flot_loop_new ();
    flot_prober_t *prober = flot_prober_new (loop, dir);
    assert_non_null (prober);
    outcome_t outcome = { false };
    assert_true (flot_prober_start (prober, check, context, s_on_result, &outcome) > 0);
    flot_check_destroy (&check);
    //  The context may go once the probe has started, as the check may.
    msgpack_zone_destroy (&zone);
    //  Never from inside start.
    assert_false (outcome.done);
    flot_loop_timer (loop, 5, 0, s_until_done, &outcome);
    flot_loop_start (loop);
    assert_true (outcome.done);
    assert_int_equal (flot_prober_running (prober), 0);
    flot_prober_destroy (&prober);
    flot_loop_destroy (&loop);
    return outcome.result;
}

static flot_probe_result_t
s_probe (const char *check_json, const char *context_json)
{
    return s_probe_in (s_hooks, check_json, context_json);
}

static void
s_has (const char *text, const char *part)
{
    if (!strstr (text, part))
        fail_msg ("'%s' lacks '%s'", text, part);
}

//  --------------------------------------------------------------------------
//  Parsing

static void
test_check_parse_defaults_and_fields (void **state)
{
    (void) state;
    flot_err_t err;
    flot_check_t *check = s_parse ("{\"name\": \"web\", \"http\": {\"url\": \"http://{address}/h\"}}", &err);
    assert_non_null (check);
    assert_int_equal (check->kind, FLOT_CHECK_HTTP);
    assert_int_equal (check->timeout_ms, 1000);
    assert_int_equal (check->period_ms, 10000);
    assert_int_equal (check->initial_delay_ms, 0);
    assert_int_equal (check->success_threshold, 1);
    assert_int_equal (check->failure_threshold, 3);
    assert_int_equal (check->status_count, 1);
    assert_int_equal (check->status [0].lo, 200);
    assert_int_equal (check->status [0].hi, 399);
    assert_false (check->head);
    flot_check_destroy (&check);
    check = s_parse ("{\"name\": \"w\", \"http\": {\"url\": \"https://x/\", \"method\": \"HEAD\", "
                     "\"status\": \"200, 204,300-302\", \"headers\": {\"X-A\": \"{target}\"}, "
                     "\"insecure\": true, \"body\": \"ok\"}, \"timeout\": \"1m30s\", "
                     "\"period\": 250, \"initialDelay\": \"2s\", \"successThreshold\": 2, "
                     "\"failureThreshold\": 5}", &err);
    assert_non_null (check);
    assert_true (check->head && check->insecure);
    assert_int_equal (check->status_count, 3);
    assert_int_equal (check->status [2].lo, 300);
    assert_int_equal (check->status [2].hi, 302);
    assert_int_equal (check->timeout_ms, 90000);
    assert_int_equal (check->period_ms, 250);
    assert_int_equal (check->initial_delay_ms, 2000);
    assert_int_equal (check->success_threshold, 2);
    assert_int_equal (check->failure_threshold, 5);
    assert_string_equal (check->header_names [0], "X-A");
    flot_check_destroy (&check);
    //  A plain YAML 204 arrives as an integer.
    check = s_parse ("{\"name\": \"t\", \"http\": {\"url\": \"http://a/\", \"status\": 204}}", &err);
    assert_non_null (check);
    assert_int_equal (check->status [0].lo, 204);
    flot_check_destroy (&check);
    check = s_parse ("{\"name\": \"c\", \"command\": {\"command\": \"./x.sh\", \"args\": [\"{target}\"], "
                     "\"env\": {\"K\": \"{version}\"}}}", &err);
    assert_non_null (check);
    assert_int_equal (check->kind, FLOT_CHECK_COMMAND);
    assert_int_equal (check->arg_count, 1);
    assert_int_equal (check->env_count, 1);
    flot_check_destroy (&check);
}

static void
test_check_parse_errors_name_their_path (void **state)
{
    (void) state;
    s_parse_fails ("{\"name\": \"w\", \"http\": {\"url\": \"http://a/\", \"status\": \"2xx\"}}",
                   "healthChecks[0].http.status: \"2xx\" is not a status, a range or a list");
    s_parse_fails ("{\"name\": \"w\", \"http\": {\"url\": \"http://a/\", \"status\": \"300-200\"}}",
                   "healthChecks[0].http.status: \"300-200\" is not a status");
    s_parse_fails ("{\"name\": \"w\", \"http\": {\"url\": \"http://a/\", \"status\": 700}}",
                   "healthChecks[0].http.status: 700 is not a status");
    s_parse_fails ("{\"name\": \"w\", \"http\": {\"url\": \"ftp://a/\"}}",
                   "healthChecks[0].http.url: \"ftp://a/\" is not an http:// or https:// URL");
    s_parse_fails ("{\"name\": \"w\", \"http\": {\"url\": \"http://{adress}/\"}}",
                   "healthChecks[0].http.url: {adress} is not a known placeholder");
    s_parse_fails ("{\"name\": \"w\", \"http\": {\"url\": \"http://a/\", \"method\": \"POST\"}}",
                   "healthChecks[0].http.method: \"POST\" is not GET or HEAD");
    s_parse_fails ("{\"name\": \"w\", \"http\": {\"url\": \"http://a/\", \"headers\": {\"X\": \"a\\r\\nB: c\"}}}",
                   "healthChecks[0].http.headers.X: holds a line break");
    s_parse_fails ("{\"name\": \"w\", \"http\": {\"url\": \"http://a/\", \"colour\": 1}}",
                   "healthChecks[0].http.colour: is not a field of an http check");
    s_parse_fails ("{\"name\": \"w\", \"http\": {}}", "healthChecks[0].http.url: is required");
    s_parse_fails ("{\"name\": \"w\", \"http\": {\"url\": \"http://a/\"}, \"tcp\": {\"address\": \"a:1\"}}",
                   "healthChecks[0].tcp: a check has exactly one of http, tcp and command");
    s_parse_fails ("{\"name\": \"w\"}", "healthChecks[0]: needs one of http, tcp and command");
    s_parse_fails ("{\"tcp\": {\"address\": \"a:1\"}}", "healthChecks[0].name: is required");
    s_parse_fails ("{\"name\": \"w\", \"tcp\": {\"address\": \"nohost\"}}",
                   "healthChecks[0].tcp.address: \"nohost\" is not host:port");
    s_parse_fails ("{\"name\": \"w\", \"tcp\": {\"address\": \"a:1\"}, \"timeout\": \"soon\"}",
                   "healthChecks[0].timeout: \"soon\" is not a duration");
    s_parse_fails ("{\"name\": \"w\", \"tcp\": {\"address\": \"a:1\"}, \"timeout\": 0}",
                   "healthChecks[0].timeout: 0 is not between 1 and 3600000 ms");
    s_parse_fails ("{\"name\": \"w\", \"tcp\": {\"address\": \"a:1\"}, \"initialDelay\": -5}",
                   "healthChecks[0].initialDelay: -5 is not between");
    s_parse_fails ("{\"name\": \"w\", \"tcp\": {\"address\": \"a:1\"}, \"failureThreshold\": 0}",
                   "healthChecks[0].failureThreshold: 0 is not an integer in 1..1000");
    s_parse_fails ("{\"name\": \"w\", \"tcp\": {\"address\": \"a:1\"}, \"successThreshold\": \"2\"}",
                   "healthChecks[0].successThreshold: \"2\" is not an integer");
    s_parse_fails ("{\"name\": \"w\", \"tcp\": {\"address\": \"a:1\"}, \"retries\": 2}",
                   "healthChecks[0].retries: is not a field of a health check");
    s_parse_fails ("{\"name\": \"w\", \"command\": {\"command\": \"x\", \"args\": [1]}}",
                   "healthChecks[0].command.args[0]: 1 is not a string");
    s_parse_fails ("{\"name\": \"w\", \"command\": {\"command\": \"x\", \"env\": {\"A=B\": \"c\"}}}",
                   "healthChecks[0].command.env.A=B: is not a variable name");
    s_parse_fails ("{\"name\": \"w\", \"command\": {\"args\": []}}",
                   "healthChecks[0].command.command: is required");
    s_parse_fails ("[1]", "healthChecks[0]: an array is not a map");
    //  A list: names are unique.
    flot_body_t *body = s_value ("[{\"name\": \"a\", \"tcp\": {\"address\": \"a:1\"}}, "
                                 "{\"name\": \"a\", \"tcp\": {\"address\": \"a:2\"}}]");
    size_t count = 9;
    flot_err_t err;
    assert_null (flot_checks_new (s_v (body), "healthChecks", 64, &count, &err));
    assert_string_equal (err.message, "healthChecks[1].name: \"a\" is already the name of "
                         "healthChecks[0]");
    flot_body_destroy (&body);
    body = s_value ("[]");
    assert_null (flot_checks_new (s_v (body), "checks", 64, &count, &err));
    assert_string_equal (err.message, "checks: must have 1 to 64 checks");
    flot_body_destroy (&body);
}

//  --------------------------------------------------------------------------
//  HTTP

static void
test_http_probe_status_body_and_headers (void **state)
{
    (void) state;
    health_server_t *server = health_server_new (HTTP_PORT);
    assert_non_null (server);
    health_server_set (server, 200, "all ok here", 0);
    flot_probe_result_t r = s_probe (
        "{\"name\": \"web\", \"http\": {\"url\": \"http://{address}/healthz\", \"body\": \"ok\", "
        "\"headers\": {\"X-Probe\": \"flotilla {target}\"}}}", CONTEXT);
    assert_true (r.healthy);
    assert_int_equal (r.status_code, 200);
    assert_string_equal (r.message, "GET http://127.0.0.1:25001/healthz: status 200");
    char last [4096];
    health_server_last (server, last, sizeof last);
    s_has (last, "GET /healthz HTTP/1.1");
    s_has (last, "X-Probe: flotilla web-1");

    //  Out of the list.
    health_server_set (server, 503, "down", 0);
    r = s_probe ("{\"name\": \"web\", \"http\": {\"url\": \"http://{address}/healthz\"}}", CONTEXT);
    assert_false (r.healthy);
    assert_int_equal (r.status_code, 503);
    assert_string_equal (r.message,
                         "GET http://127.0.0.1:25001/healthz: status 503, expected 200-399");
    r = s_probe ("{\"name\": \"web\", \"http\": {\"url\": \"http://{address}/\", \"status\": \"500-503\"}}",
                 CONTEXT);
    assert_true (r.healthy);

    //  The body must hold the text.
    health_server_set (server, 200, "starting", 0);
    r = s_probe ("{\"name\": \"web\", \"http\": {\"url\": \"http://{address}/\", \"body\": \"ready\"}}",
                 CONTEXT);
    assert_false (r.healthy);
    s_has (r.message, "status 200, but the body does not contain \"ready\"");

    //  HEAD sends HEAD.
    r = s_probe ("{\"name\": \"web\", \"http\": {\"url\": \"http://{address}/x\", \"method\": \"HEAD\"}}",
                 CONTEXT);
    assert_true (r.healthy);
    health_server_last (server, last, sizeof last);
    s_has (last, "HEAD /x HTTP/1.1");
    health_server_destroy (&server);
}

static void
test_http_probe_timeout_refused_and_missing_address (void **state)
{
    (void) state;
    health_server_t *server = health_server_new (HTTP_PORT);
    health_server_set (server, 200, "slow", 1500);
    int64_t start = zclock_mono ();
    flot_probe_result_t r = s_probe (
        "{\"name\": \"web\", \"http\": {\"url\": \"http://{address}/\"}, \"timeout\": \"200ms\"}", CONTEXT);
    int64_t took = zclock_mono () - start;
    assert_false (r.healthy);
    assert_string_equal (r.message, "GET http://127.0.0.1:25001/: timed out after 200 ms");
    assert_true (took >= 190 && took < 1200);
    health_server_destroy (&server);

    r = s_probe ("{\"name\": \"web\", \"http\": {\"url\": \"http://127.0.0.1:25004/\"}}", CONTEXT);
    assert_false (r.healthy);
    assert_int_equal (r.status_code, -1);
    s_has (r.message, "GET http://127.0.0.1:25004/: ");
    s_has (r.message, "onnect");

    r = s_probe ("{\"name\": \"web\", \"http\": {\"url\": \"http://{address}/\"}}", "{\"target\": \"bare\"}");
    assert_false (r.healthy);
    assert_string_equal (r.message, "GET http://{address}/: {address}: the target has no address");
}

//  An openssl s_server with a certificate made now.
static pid_t
s_tls_server (const char *dir)
{
    char command [1024];
    snprintf (command, sizeof command,
              "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s/cert.pem "
              "-days 1 -subj /CN=localhost >/dev/null 2>&1", dir, dir);
    assert_int_equal (system (command), 0);
    char cert [300], key [300], port [16];
    snprintf (cert, sizeof cert, "%s/cert.pem", dir);
    snprintf (key, sizeof key, "%s/key.pem", dir);
    snprintf (port, sizeof port, "%d", TLS_PORT);
    char *argv [] = { "openssl", "s_server", "-quiet", "-accept", port, "-cert", cert,
                      "-key", key, "-www", NULL };
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen (&actions, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    extern char **environ;
    assert_int_equal (posix_spawnp (&pid, "openssl", &actions, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy (&actions);
    //  Up when it accepts.
    for (int i = 0; i < 200; i++) {
        int fd = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (TLS_PORT) };
        sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        int rc = connect (fd, (struct sockaddr *) &sa, sizeof sa);
        close (fd);
        if (rc == 0)
            return pid;
        zclock_sleep (25);
    }
    fail_msg ("openssl s_server did not start");
    return -1;
}

static void
test_https_probe_self_signed_needs_insecure (void **state)
{
    (void) state;
    char dir [] = "/tmp/flot-health-tls-XXXXXX";
    assert_non_null (mkdtemp (dir));
    pid_t pid = s_tls_server (dir);
    flot_probe_result_t r = s_probe (
        "{\"name\": \"tls\", \"http\": {\"url\": \"https://127.0.0.1:25002/\", \"insecure\": true}, "
        "\"timeout\": \"3s\"}", CONTEXT);
    assert_true (r.healthy);
    assert_int_equal (r.status_code, 200);
    r = s_probe ("{\"name\": \"tls\", \"http\": {\"url\": \"https://127.0.0.1:25002/\"}, "
                 "\"timeout\": \"3s\"}", CONTEXT);
    assert_false (r.healthy);
    s_has (r.message, "GET https://127.0.0.1:25002/: ");
    s_has (r.message, "certificate");
    kill (pid, SIGTERM);
    waitpid (pid, NULL, 0);
    char command [300];
    snprintf (command, sizeof command, "rm -rf %s", dir);
    assert_int_equal (system (command), 0);
}

//  --------------------------------------------------------------------------
//  TCP

static int
s_listen (int port, int backlog)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (bind (fd, (struct sockaddr *) &sa, sizeof sa), 0);
    assert_int_equal (listen (fd, backlog), 0);
    return fd;
}

static void
test_tcp_probe_open_refused_and_timeout (void **state)
{
    (void) state;
    int fd = s_listen (TCP_PORT, 16);
    flot_probe_result_t r = s_probe ("{\"name\": \"t\", \"tcp\": {\"address\": \"127.0.0.1:25003\"}}",
                                     CONTEXT);
    assert_true (r.healthy);
    assert_string_equal (r.message, "tcp 127.0.0.1:25003: connected");
    //  A host name goes through the resolver.
    r = s_probe ("{\"name\": \"t\", \"tcp\": {\"address\": \"localhost:25003\"}}", CONTEXT);
    assert_true (r.healthy);
    assert_string_equal (r.message, "tcp localhost:25003: connected");
    close (fd);

    r = s_probe ("{\"name\": \"t\", \"tcp\": {\"address\": \"127.0.0.1:25004\"}}", CONTEXT);
    assert_false (r.healthy);
    assert_string_equal (r.message, "tcp 127.0.0.1:25004: Connection refused");

    //  A listener whose backlog is full drops new connections: the probe
    //  times out.
    fd = s_listen (FULL_PORT, 0);
    int fillers [4];
    for (int i = 0; i < 4; i++) {
        fillers [i] = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (FULL_PORT) };
        sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        connect (fillers [i], (struct sockaddr *) &sa, sizeof sa);
    }
    zclock_sleep (100);
    int64_t start = zclock_mono ();
    r = s_probe ("{\"name\": \"t\", \"tcp\": {\"address\": \"127.0.0.1:25005\"}, \"timeout\": 300}",
                 CONTEXT);
    int64_t took = zclock_mono () - start;
    assert_false (r.healthy);
    assert_string_equal (r.message, "tcp 127.0.0.1:25005: timed out after 300 ms");
    assert_true (took >= 290 && took < 1000);
    for (int i = 0; i < 4; i++)
        close (fillers [i]);
    close (fd);

    r = s_probe ("{\"name\": \"t\", \"tcp\": {\"address\": \"{address}\"}}",
                 "{\"target\": \"x\", \"address\": \"no-port\"}");
    assert_false (r.healthy);
    assert_string_equal (r.message, "tcp no-port: not host:port");
}

//  --------------------------------------------------------------------------
//  Commands

static void
test_command_probe_exit_codes_and_templates (void **state)
{
    (void) state;
    flot_probe_result_t r = s_probe (
        "{\"name\": \"c\", \"command\": {\"command\": \"./check.sh\", \"args\": "
        "[\"{target}\"], \"env\": {\"WHERE\": \"{address}\"}}}", CONTEXT);
    assert_true (r.healthy);
    assert_string_equal (r.message, "command ./check.sh: exit 0: checking web-1 at 127.0.0.1:25001");
    r = s_probe ("{\"name\": \"c\", \"command\": {\"command\": \"broken.sh\"}}", CONTEXT);
    assert_false (r.healthy);
    assert_string_equal (r.message, "command broken.sh: exit 3: broken");
    r = s_probe ("{\"name\": \"c\", \"command\": {\"command\": \"no-such-check\"}}", CONTEXT);
    assert_false (r.healthy);
    char expected [400];
    snprintf (expected, sizeof expected, "command no-such-check: command probe 'no-such-check' "
              "is not in the health actor's hooks directory %s (No such file or directory)",
              s_hooks);
    assert_string_equal (r.message, expected);
}

//  A template fills one argument, whatever it holds: no word splitting, no
//  shell syntax; the probe runs in the hooks directory.
static void
test_command_probe_templates_fill_one_argument_each (void **state)
{
    (void) state;
    char context [800], expected [800];
    snprintf (context, sizeof context, "{\"target\": \"web-1\", \"labels\": {\"note\": "
              "\"a  b; touch %s $(touch %s) `touch %s`\"}}", s_pwned, s_pwned, s_pwned);
    flot_probe_result_t r = s_probe (
        "{\"name\": \"c\", \"command\": {\"command\": \"show.sh\", \"args\": [\"{label.note}\"]}}",
        context);
    assert_true (r.healthy);
    snprintf (expected, sizeof expected, "command show.sh: exit 0: argc=1 first=[a  b; touch %s "
              "$(touch %s) `touch %s`] cwd=%s", s_pwned, s_pwned, s_pwned, s_hooks);
    assert_string_equal (r.message, expected);
    assert_int_equal (access (s_pwned, F_OK), -1);
    //  An empty value is still one argument.
    r = s_probe ("{\"name\": \"c\", \"command\": {\"command\": \"show.sh\", \"args\": "
                 "[\"{previousVersion}\"]}}", "{\"target\": \"web-1\", \"previousVersion\": \"\"}");
    snprintf (expected, sizeof expected, "command show.sh: exit 0: argc=1 first=[] cwd=%s", s_hooks);
    assert_string_equal (r.message, expected);
}

//  Only the hooks directory's programs: a command elsewhere does not parse,
//  and a prober without a directory runs none.
static void
test_command_probe_runs_only_its_hooks_directory (void **state)
{
    (void) state;
    const char *tail = "a command probe names a program in the health actor's hooks "
                       "directory (--hooks-dir)";
    char expected [400];
    snprintf (expected, sizeof expected, "healthChecks[0].command.command: '/bin/sh' is an "
              "absolute path: %s", tail);
    s_parse_fails ("{\"name\": \"w\", \"command\": {\"command\": \"/bin/sh\", \"args\": "
                   "[\"-c\", \"id\"]}}", expected);
    snprintf (expected, sizeof expected, "healthChecks[0].command.command: '../pwned.sh' leaves "
              "the hooks directory ('..'): %s", tail);
    s_parse_fails ("{\"name\": \"w\", \"command\": {\"command\": \"../pwned.sh\"}}", expected);
    snprintf (expected, sizeof expected, "healthChecks[0].command.command: '{target}.sh' is "
              "taken literally and holds '{': no template names a program; %s", tail);
    s_parse_fails ("{\"name\": \"w\", \"command\": {\"command\": \"{target}.sh\"}}", expected);
    s_parse_fails ("{\"name\": \"w\", \"command\": {\"command\": \"check.sh\", \"env\": "
                   "{\"LD_PRELOAD\": \"/tmp/x.so\"}}}",
                   "healthChecks[0].command.env: LD_PRELOAD changes how a program is loaded or "
                   "run (the dynamic loader reads LD_*): a spec may not set it");
    s_parse_fails ("{\"name\": \"w\", \"command\": {\"command\": \"check.sh\", \"env\": "
                   "{\"PATH\": \"/tmp\"}}}",
                   "healthChecks[0].command.env: PATH changes how a program is loaded or run "
                   "(it chooses the program a name runs): a spec may not set it");
    flot_probe_result_t r = s_probe_in (NULL, "{\"name\": \"c\", \"command\": "
                                        "{\"command\": \"check.sh\"}}", CONTEXT);
    assert_false (r.healthy);
    assert_string_equal (r.message, "command check.sh: this health actor has no hooks directory "
                         "(flotillad --hooks-dir): it runs no command probe");
    char missing [200];
    snprintf (missing, sizeof missing, "%s/none", s_tmp);
    r = s_probe_in (missing, "{\"name\": \"c\", \"command\": {\"command\": \"check.sh\"}}",
                    CONTEXT);
    assert_false (r.healthy);
    snprintf (expected, sizeof expected, "command check.sh: command probe 'check.sh': the "
              "health actor's hooks directory %s cannot be used: No such file or directory",
              missing);
    assert_string_equal (r.message, expected);
    //  A directory others may write to runs nothing; at 0755 the same runs.
    char open_dir [200], link [260];
    snprintf (open_dir, sizeof open_dir, "%s/open", s_tmp);
    assert_int_equal (mkdir (open_dir, 0755), 0);
    assert_int_equal (chmod (open_dir, 0777), 0);
    snprintf (link, sizeof link, "%s/check.sh", open_dir);
    snprintf (expected, sizeof expected, "%s/check.sh", s_hooks);
    assert_int_equal (symlink (expected, link), 0);
    r = s_probe_in (open_dir, "{\"name\": \"c\", \"command\": {\"command\": \"check.sh\"}}",
                    CONTEXT);
    assert_false (r.healthy);
    char refused [600];
    snprintf (refused, sizeof refused, "command check.sh: command probe 'check.sh': the "
              "health actor's hooks directory %s cannot be used: it is writable by its group "
              "and others (mode 0777): whoever can write to it chooses what runs (chmod go-w)",
              open_dir);
    assert_string_equal (r.message, refused);
    assert_int_equal (chmod (open_dir, 0755), 0);
    r = s_probe_in (open_dir, "{\"name\": \"c\", \"command\": {\"command\": \"check.sh\"}}",
                    CONTEXT);
    if (!r.healthy)
        fail_msg ("not healthy: %s", r.message);
}

//  True if pid is gone or only a zombie (its parent, killed, cannot reap it;
//  whoever adopted it may not yet have).
static bool
s_gone (int pid)
{
    char path [64], stat [256] = "";
    snprintf (path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return true;
    size_t got = fread (stat, 1, sizeof stat - 1, f);
    fclose (f);
    stat [got] = 0;
    const char *paren = strrchr (stat, ')');
    return paren && paren [1] == ' ' && (paren [2] == 'Z' || paren [2] == 'X');
}

static void
test_command_probe_timeout_kills_the_group (void **state)
{
    (void) state;
    char file [] = "/tmp/flot-health-pid-XXXXXX";
    int fd = mkstemp (file);
    close (fd);
    char check [600];
    snprintf (check, sizeof check,
              "{\"name\": \"c\", \"command\": {\"command\": \"spawn.sh\", \"args\": "
              "[\"%s\"]}, \"timeout\": \"300ms\"}", file);
    int64_t start = zclock_mono ();
    flot_probe_result_t r = s_probe (check, CONTEXT);
    int64_t took = zclock_mono () - start;
    assert_false (r.healthy);
    assert_string_equal (r.message, "command spawn.sh: timed out after 300 ms (process group killed)");
    assert_true (took >= 290 && took < 2000);
    FILE *f = fopen (file, "r");
    int child = 0;
    assert_int_equal (fscanf (f, "%d", &child), 1);
    fclose (f);
    unlink (file);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        gone = s_gone (child);
        if (!gone)
            zclock_sleep (10);
    }
    assert_true (gone);
}

//  Cancelled probes end without a callback and leave nothing running.
static void
test_prober_cancel_and_destroy_with_probes_running (void **state)
{
    (void) state;
    flot_err_t err;
    flot_check_t *slow = s_parse ("{\"name\": \"c\", \"command\": {\"command\": \"sleep\", "
                                  "\"args\": [\"30\"]}}", &err);
    flot_check_t *tcp = s_parse ("{\"name\": \"t\", \"tcp\": {\"address\": \"127.0.0.1:25004\"}}", &err);
    msgpack_zone zone;
    assert_true (msgpack_zone_init (&zone, 1024));
    const flot_health_context_t *context = s_context (CONTEXT, &zone);
    flot_loop_t *loop = flot_loop_new ();
    flot_prober_t *prober = flot_prober_new (loop, s_hooks);
    outcome_t a = { false }, b = { false }, c = { false };
    uint64_t id = flot_prober_start (prober, slow, context, s_on_result, &a);
    flot_prober_start (prober, slow, context, s_on_result, &b);
    flot_prober_start (prober, tcp, context, s_on_result, &c);
    assert_int_equal (flot_prober_running (prober), 3);
    flot_prober_cancel (prober, id);
    flot_prober_cancel (prober, 12345);
    assert_int_equal (flot_prober_running (prober), 2);
    flot_loop_timer (loop, 5, 0, s_until_done, &c);
    flot_loop_start (loop);
    assert_true (c.done);
    assert_false (a.done || b.done);
    flot_prober_destroy (&prober);
    assert_false (b.done);
    flot_loop_destroy (&loop);
    msgpack_zone_destroy (&zone);
    flot_check_destroy (&slow);
    flot_check_destroy (&tcp);
}

int
main (void)
{
    flot_log_set_level (FLOT_LOG_WARN);
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_check_parse_defaults_and_fields),
        cmocka_unit_test (test_check_parse_errors_name_their_path),
        cmocka_unit_test (test_check_parse_refuses_repeated_keys),
        cmocka_unit_test (test_http_probe_status_body_and_headers),
        cmocka_unit_test (test_http_probe_timeout_refused_and_missing_address),
        cmocka_unit_test (test_https_probe_self_signed_needs_insecure),
        cmocka_unit_test (test_tcp_probe_open_refused_and_timeout),
        cmocka_unit_test (test_command_probe_exit_codes_and_templates),
        cmocka_unit_test (test_command_probe_timeout_kills_the_group),
        cmocka_unit_test (test_command_probe_templates_fill_one_argument_each),
        cmocka_unit_test (test_command_probe_runs_only_its_hooks_directory),
        cmocka_unit_test (test_prober_cancel_and_destroy_with_probes_running),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
