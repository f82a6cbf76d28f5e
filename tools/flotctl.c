/*  flotctl.c - the command-line client of Flotilla.

    Talks to a broker (flotillad) over one DEALER socket through
    flotilla/client.h and, for `events --follow` and `watch`, to the events
    actor's PUB socket with a SUB socket. Commands: ping, actors, events,
    call; and for deployments plan, apply, status, list, watch, pause,
    resume, promote, abort, which read spec files, ask the strategy service
    to validate them and the coordinator service to plan, run and steer
    them. Human output by default, JSON (jansson, through flotilla/json.h)
    with --json. Every call is bounded by --timeout, so a dead broker is exit
    code 3, never a hang. Owns nothing beyond its own sockets.

    Layout: options and usage; calls and error reporting; tables and times;
    one section per command; main.
*/
#include "flotilla/body.h"
#include "flotilla/client.h"
#include "flotilla/contract_analyzer.h"
#include "flotilla/contract_broker.h"
#include "flotilla/contract_coordinator.h"
#include "flotilla/contract_events.h"
#include "flotilla/contract_strategy.h"
#include "flotilla/json.h"
#include "flotilla/version.h"
#include "flotilla/analysis.h"
#include "flotilla/resolved.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <time.h>

#define DEFAULT_ENDPOINT    "tcp://127.0.0.1:5555"
#define DEFAULT_TIMEOUT_MS  5000
#define EVENTS_SERVICE      "events"
#define STRATEGY_SERVICE    "strategy"
#define COORDINATOR_SERVICE "coordinator"
#define ANALYZER_SERVICE    "analyzer"
#define IDLE_CHECK_MS       1000        //  follow, watch: Info after this much quiet
#define SUB_HWM             100000      //  follow, watch: live events queued
#define SPEC_MAX            (1 << 20)   //  plan, apply: the largest spec file
#define STATUS_EVERY_MS     1000        //  watch: GetStatus at least this often
#define STATUS_GAP_MS       100         //  watch: GetStatus at most this often
#define FINAL_GRACE_MS      2000        //  watch: wait for the last event this long
#define ACTIVE_SHOWN        3           //  watch: active targets named in a summary

//  Exit codes, as --help documents them.
enum {
    RC_OK = 0,              //  success
    RC_ERROR = 1,           //  the service answered with an error (or nonsense)
    RC_USAGE = 2,           //  bad command line
    RC_NO_ANSWER = 3,       //  no answer in time, or a DEADLINE error
    RC_PAUSE = 4            //  analyze: the analysis asks a person to decide
};

//  Options that only some commands take.
enum {
    OPT_FOLLOW = 1, OPT_SINCE = 2, OPT_DEPLOYMENT = 4, OPT_TYPE = 8,
    OPT_EVENTS_EP = 16, OPT_KEY = 32, OPT_FILE = 64, OPT_DRY_RUN = 128,
    OPT_WATCH = 256, OPT_FULL = 512, OPT_REASON = 1024, OPT_TARGET = 2048,
    OPT_ROLE = 4096, OPT_VERSION_ARG = 8192
};

typedef struct {
    const char *endpoint;
    const char *events_endpoint;
    const char *deployment;
    const char *type;
    const char *key;
    const char *file;           //  plan, apply: the spec file
    const char *reason;         //  abort
    const char *target;         //  analyze, metrics push
    const char *role;           //  metrics push
    const char *version;        //  analyze: --version V
    bool timeout_given;         //  analyze: --timeout overrides its own
    uint32_t timeout_ms;
    uint64_t since;
    bool json;
    bool file_mode;             //  -f is --file (plan, apply), not --follow
    unsigned given;             //  OPT_* bits seen on the command line
    char **args;                //  the command and its arguments
    int nargs;
} options_t;

typedef struct {
    options_t opts;
    flot_client_t *client;
    bool watching;              //  events are printed for watch
    char outcome [FLOT_MAX_NAME + 1];   //  watch: the last deployment.* or
                                        //  rollback.* event's type
} ctl_t;

//  analyze: --version takes a value (set before the options are parsed).
static bool s_analyze_mode = false;

//  The events a feed (replay or follow) has dealt with.
typedef struct {
    uint64_t covered;           //  every event up to this seq was handled
    uint64_t seen;              //  the highest seq the service has shown
    bool down;                  //  follow: the events service stopped answering
} feed_t;

//  One event, checked by the events contract (an EVENT); its strings live
//  in its body's zone.
typedef struct {
    const msgpack_object *map;          //  as received, for --json
    flot_events_event_t e;
} event_t;

//  --------------------------------------------------------------------------
//  Options and usage

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: flotctl [OPTIONS] COMMAND [ARGUMENTS] [OPTIONS]\n"
"\n"
"The command-line client of Flotilla: talks to the broker of flotillad over\n"
"ZeroMQ. Options may come before or after the command.\n"
"\n"
"Commands:\n"
"  ping                 ask the broker for its version and uptime, and show\n"
"                       the round trip: pong from broker 0.1.0 (up 12.3 s) in 0.4 ms\n"
"  actors               list the live actor instances, one per line: SERVICE\n"
"                       INSTANCE HOST PID KEYS UPTIME LAST-HB HANDLED PENDING\n"
"  events               print the events the events service holds, from the\n"
"                       oldest (or --since), one per line, and exit:\n"
"                         #seq time type deployment target message\n"
"                       (time in UTC, '-' for no deployment or target)\n"
"  events --follow      subscribe to the event stream and print events as they\n"
"                       come, until SIGINT or SIGTERM. Starts after the newest\n"
"                       event (or replays from --since first); replays whatever\n"
"                       the stream missed, so events come in order, each once.\n"
"                       When the stream is quiet for 1 s it asks the events\n"
"                       service for its newest seq, to catch a lost last event\n"
"                       or a restarted history. Says on stderr when it listens.\n"
"  call SERVICE COMMAND [JSON]\n"
"                       send COMMAND to SERVICE with the JSON object as its body\n"
"                       (default {}), and print the reply as indented JSON\n"
"\n"
"Deployments (services strategy and coordinator):\n"
"  strategies           list the strategies a spec may name, one per line: NAME\n"
"                       DESCRIPTION; the built-in canary, blueGreen and rolling,\n"
"                       then each registered one with the actor that serves it\n"
"  plan -f FILE         read the deployment spec FILE (YAML, at most 1 MiB), have\n"
"                       the strategy service validate it, and print each error\n"
"                       as FILE:LINE: field: sentence (exit 1) if it is not\n"
"                       valid; else ask the coordinator for its plan and print\n"
"                       it, running nothing: each target in dependency order\n"
"                       with its wave, its dependencies and its steps (id, type,\n"
"                       weight, duration, whether it runs the hook or a gate),\n"
"                       then the order of the rollback plan\n"
"  apply -f FILE        validate FILE as plan does, then start the deployment:\n"
"                         deployment web-3 started: 12 steps\n"
"                       The spec's hook runs in FILE's directory (its real path).\n"
"      --dry-run        print the plan instead (the same as plan)\n"
"      --watch          then watch the deployment as watch does, with its exit\n"
"                       status\n"
"  status ID            the state of deployment ID: id, name, strategy, state,\n"
"                       paused, progress (percent, steps done of all), times,\n"
"                       last error; then one line per target: TARGET STATE STEP\n"
"                       TYPE STEP-STATE ATTEMPT WEIGHT HEALTH (unchecked without\n"
"                       health checks); then each target's latest analysis:\n"
"                       each metric's kind, phase, value or verdict, and why,\n"
"                       the score and the recommendation\n"
"  list                 the deployments the coordinator knows, one per line:\n"
"                       ID NAME STATE PERCENT UPDATED (time in UTC)\n"
"  watch ID             follow deployment ID until it ends: first the events it\n"
"                       has published so far, then each event as it comes, as\n"
"                         time (UTC) type target message\n"
"                       (analysis.result events give the score, each metric's\n"
"                       latest value and verdict, and the recommendation;\n"
"                       health.* events each change of a target's health)\n"
"                       and a one-line progress summary (from the coordinator,\n"
"                       asked after events and at least every second) whenever\n"
"                       it changes. Exits once the deployment has ended and its\n"
"                       last event came: 0 if it completed; 1 if it failed, was\n"
"                       aborted, was rolled back, or its rollback failed, with\n"
"                       its last error on stderr. Exits 3 if the broker or the\n"
"                       coordinator stops answering within --timeout, or on\n"
"                       SIGINT or SIGTERM (the outcome is then not known)\n"
"  pause ID             hold deployment ID: no new step starts (running hooks\n"
"                       finish) until resume\n"
"  resume ID            let a paused deployment go on\n"
"  promote ID           end the pause steps the targets of deployment ID are at\n"
"                       (a pause without a duration waits for this), and pass\n"
"                       the gates whose analysis asked for a person, and go on;\n"
"                       CONFLICT if no target is at either\n"
"      --full           also skip every pause and gate that remains\n"
"  abort ID             stop deployment ID and roll back the targets it changed\n"
"                       (rolling_back, then aborted)\n"
"      --reason TEXT    why, kept as its last error (default: aborted by an\n"
"                       operator)\n"
"                       pause, resume, promote and abort print the new state\n"
"                       (and whether it is paused): deployment web-3: running,\n"
"                       paused\n"
"                       and fail with CONFLICT (exit 1) when the deployment's\n"
"                       state does not allow it, NOT_FOUND for an unknown ID\n"
"\n"
"Analysis (service analyzer):\n"
"  analyze -f FILE      run the analysis section of spec FILE once, now, for one\n"
"                       target (the first, or --target NAME), its new version\n"
"                       as the canary and its rollbackVersion as the baseline,\n"
"                       and print each metric's result, the score and the\n"
"                       recommendation. Waits for the whole analysis (its\n"
"                       counts times its intervals) unless --timeout says\n"
"                       otherwise. Exits 0 on promote, 1 on rollback (a failed\n"
"                       metric), 4 on pause (inconclusive)\n"
"      --target NAME    the target to analyze (its address and labels fill\n"
"                       the templates)\n"
"      --version V      the version to analyze (default: the spec's)\n"
"  metrics push METRIC --role canary|baseline [--target NAME] VALUE...\n"
"                       give the analyzer samples of METRIC for the `pushed`\n"
"                       provider (put -- before negative values); it keeps the\n"
"                       last 10,000 per metric, target and role\n"
"\n"
"Options:\n"
"      --endpoint E     the broker (default $FLOTILLA_ENDPOINT, else %s)\n"
"      --timeout MS     wait at most MS for each answer, 1..%u (default %d)\n"
"      --json           machine output: each reply as one compact JSON document;\n"
"                       events as one JSON object per line; plan and apply\n"
"                       --dry-run the coordinator's Plan reply (or the strategy's\n"
"                       Validate reply for an invalid spec); watch each event\n"
"                       and each changed GetStatus reply, one a line\n"
"  -h, --help           this text\n"
"  -V, --version        the version\n"
"\n"
"Options of events:\n"
"  -f, --follow         keep printing live events (see above)\n"
"      --since SEQ      start at sequence number SEQ; 0 is the oldest held\n"
"      --deployment ID  only the events of deployment ID\n"
"      --type PREFIX    only the events whose type starts with PREFIX (step.)\n"
"      --events-endpoint E  with --follow, and for watch: subscribe at E, not\n"
"                       at the endpoint the events service advertises\n"
"Options of call:\n"
"      --key K          routing key: an instance that claimed K answers\n"
"Options of plan, apply and analyze:\n"
"  -f, --file FILE      the deployment spec (for these, -f is --file)\n"
"\n"
"Events that fail validation (frames, fields) are dropped with a warning.\n"
"\n"
"Exit status:\n"
"  0  success; for events --follow, stopped by SIGINT or SIGTERM; for watch\n"
"     (and apply --watch), the deployment completed; analyze: promote\n"
"     (analyze exits 1 on rollback, and 4 on pause: a person decides)\n"
"  1  the service answered with an error, printed on stderr as\n"
"     'flotctl: NAME (code): message', or with a reply flotctl cannot read;\n"
"     plan and apply: the spec is not valid; watch: the deployment failed,\n"
"     was aborted or was rolled back\n"
"  2  usage error: unknown command or option, bad argument, a JSON body that\n"
"     is not valid JSON or not an object, a spec file that cannot be read, is\n"
"     over 1 MiB or holds a NUL byte\n"
"  3  no answer in time: the broker is down or unreachable, or the deadline\n"
"     passed; a DEADLINE error reply (code 6) from the broker or a service\n"
"     also exits 3, not 1; watch stopped by a signal before the end\n"
"  4  analyze: the analysis was inconclusive, and asks a person to decide\n",
        DEFAULT_ENDPOINT, FLOT_MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS);
}

static int
s_usage_error (const char *format, ...)
    __attribute__ ((format (printf, 1, 2)));

static int
s_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "flotctl: ");
    vfprintf (stderr, format, args);
    va_end (args);
    fprintf (stderr, "\nTry 'flotctl --help'.\n");
    return RC_USAGE;
}

static int
s_parse_uint (const char *text, uint64_t min, uint64_t max, const char *what,
              uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull (text, &end, 10);
    if (!*text || *text == '-' || !end || *end || errno || v < min || v > max)
        return s_usage_error ("%s '%s' is not a number in %llu..%llu", what,
                              text, (unsigned long long) min,
                              (unsigned long long) max);
    *out = v;
    return 0;
}

static bool
s_key_valid (const char *key)
{
    size_t len = strlen (key);
    if (len < 1 || len > FLOT_MAX_KEY)
        return false;
    for (const char *c = key; *c; c++)
        if (*c < 0x21 || *c > 0x7e)
            return false;
    return true;
}

static bool
s_name_valid (const char *name)
{
    return flot_name_valid ((flot_bytes_t) { (const uint8_t *) name, strlen (name) });
}

//  True if id can name a deployment (and the topic of its events): a spec
//  name, '-' and a number, so 1..FLOT_MAX_ID of [A-Za-z0-9._-], but not
//  "-", which stands for no deployment in topics.
static bool
s_id_valid (const char *id)
{
    size_t len = strlen (id);
    return len >= 1 && len <= FLOT_MAX_ID && !streq (id, "-")
        && strspn (id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789._-") == len;
}

//  what: "" for an argument, "--deployment " for the option.
static int
s_id_usage_error (const char *what, const char *id)
{
    return s_usage_error ("%s'%s' is not a deployment id: 1..%d of [A-Za-z0-9._-], "
                          "not '-'", what, id, FLOT_MAX_ID);
}

static struct option s_longopts [] = {
    { "endpoint", required_argument, NULL, 'e' },
    { "timeout", required_argument, NULL, 't' },
    { "json", no_argument, NULL, 'j' },
    { "follow", no_argument, NULL, 'f' },
    { "since", required_argument, NULL, 's' },
    { "deployment", required_argument, NULL, 'd' },
    { "type", required_argument, NULL, 'T' },
    { "events-endpoint", required_argument, NULL, 'E' },
    { "key", required_argument, NULL, 'k' },
    { "file", required_argument, NULL, 'F' },
    { "dry-run", no_argument, NULL, 'D' },
    { "watch", no_argument, NULL, 'W' },
    { "full", no_argument, NULL, 'U' },
    { "reason", required_argument, NULL, 'R' },
    { "target", required_argument, NULL, 'G' },
    { "role", required_argument, NULL, 'O' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 }
};

//  Handles one option. Returns -1 to go on, or an exit code.
static int
s_option (options_t *opts, int c)
{
    uint64_t v = 0;
    switch (c) {
        case 'e': opts->endpoint = optarg; return -1;
        case 'E': opts->events_endpoint = optarg; opts->given |= OPT_EVENTS_EP; return -1;
        case 'j': opts->json = true; return -1;
        case 'f':
            if (!opts->file_mode) {
                opts->given |= OPT_FOLLOW;
                return -1;
            }
            //  -f FILE, for plan and apply
            //  fall through
        case 'F':
            if (!*optarg)
                return s_usage_error ("--file: the spec file name is empty");
            opts->file = optarg;
            opts->given |= OPT_FILE;
            return -1;
        case 'D': opts->given |= OPT_DRY_RUN; return -1;
        case 'W': opts->given |= OPT_WATCH; return -1;
        case 'U': opts->given |= OPT_FULL; return -1;
        case 'R': opts->reason = optarg; opts->given |= OPT_REASON; return -1;
        case 'G': opts->target = optarg; opts->given |= OPT_TARGET; return -1;
        case 'O':
            if (!streq (optarg, "canary") && !streq (optarg, "baseline"))
                return s_usage_error ("--role '%s': canary or baseline", optarg);
            opts->role = optarg;
            opts->given |= OPT_ROLE;
            return -1;
        case 'v': opts->version = optarg; opts->given |= OPT_VERSION_ARG; return -1;
        case 'T': opts->type = optarg; opts->given |= OPT_TYPE; return -1;
        case 't':
            if (s_parse_uint (optarg, 1, FLOT_MAX_TIMEOUT_MS, "--timeout", &v))
                return RC_USAGE;
            opts->timeout_ms = (uint32_t) v;
            opts->timeout_given = true;
            return -1;
        case 's':
            if (s_parse_uint (optarg, 0, UINT64_MAX - 1, "--since", &opts->since))
                return RC_USAGE;
            opts->given |= OPT_SINCE;
            return -1;
        case 'd':
            if (!s_id_valid (optarg))
                return s_id_usage_error ("--deployment ", optarg);
            opts->deployment = optarg;
            opts->given |= OPT_DEPLOYMENT;
            return -1;
        case 'k':
            if (!s_key_valid (optarg))
                return s_usage_error ("--key '%s': a key is 1..%d printable "
                    "ASCII characters, no spaces", optarg, FLOT_MAX_KEY);
            opts->key = optarg;
            opts->given |= OPT_KEY;
            return -1;
        case 'h': s_usage (stdout); return RC_OK;
        case 'V': printf ("flotctl %s\n", FLOTILLA_VERSION); return RC_OK;
        default:
            fprintf (stderr, "Try 'flotctl --help'.\n");
            return RC_USAGE;
    }
}

//  Parses the command line into opts; with file_mode, -f takes the spec
//  file (plan, apply), else it is --follow. Returns -1 to go on, or an exit
//  code.
static int
s_parse (int argc, char *argv [], bool file_mode, options_t *opts)
{
    const char *env = getenv ("FLOTILLA_ENDPOINT");
    *opts = (options_t) {
        .endpoint = env && *env ? env : DEFAULT_ENDPOINT,
        .timeout_ms = DEFAULT_TIMEOUT_MS,
        .file_mode = file_mode
    };
    int c;
    //  No '+' in the option string: getopt_long permutes the arguments, so
    //  options may come after the command.
    optind = 0;                 //  glibc: start afresh after s_takes_file
    //  For analyze, --version V is the version to analyze, not flotctl's.
    for (struct option *o = s_longopts; o->name; o++)
        if (streq (o->name, "version")) {
            o->has_arg = s_analyze_mode ? required_argument : no_argument;
            o->val = s_analyze_mode ? 'v' : 'V';
        }
    opterr = 1;
    while ((c = getopt_long (argc, argv, file_mode ? "f:hV" : "fhV",
                             s_longopts, NULL)) != -1) {
        int rc = s_option (opts, c);
        if (rc >= 0)
            return rc;
    }
    opts->args = argv + optind;
    opts->nargs = argc - optind;
    return -1;
}

//  --------------------------------------------------------------------------
//  Calls and error reporting

//  Prints why a call failed; returns the exit code for it.
static int
s_report (ctl_t *self, const char *service, const char *command,
          const flot_err_t *err)
{
    if (err->code == FLOT_E_DEADLINE) {
        fprintf (stderr, "flotctl: DEADLINE (%d): no answer from %s %s within "
                 "%u ms (broker %s): %s\n", FLOT_E_DEADLINE, service, command,
                 self->opts.timeout_ms, self->opts.endpoint, err->message);
        return RC_NO_ANSWER;
    }
    fprintf (stderr, "flotctl: %s (%d): %s\n", flot_err_name (err->code),
             err->code, err->message);
    return RC_ERROR;
}

//  Calls service/command with a msgpack request (NULL for {}). Returns 0 with
//  the decoded reply in *body_p, or -1 with err: the error reply, DEADLINE,
//  or MALFORMED for a reply that is not a body.
static int
s_call (ctl_t *self, const char *service, const char *key, const char *command,
        const msgpack_sbuffer *request, flot_body_t **body_p, flot_err_t *err)
{
    zframe_t *reply = NULL;
    *body_p = NULL;
    if (flot_client_call (self->client, service, key, command,
                          request ? request->data : NULL,
                          request ? request->size : 0,
                          self->opts.timeout_ms, &reply, err))
        return -1;
    flot_err_t local;
    *body_p = flot_body_decode (zframe_data (reply), zframe_size (reply), &local);
    zframe_destroy (&reply);
    if (!*body_p)
        return flot_err_set (err, FLOT_E_MALFORMED, "the reply of %s %s is "
                             "unreadable: %s", service, command, local.message);
    return 0;
}

//  For a reply whose fields are not what the protocol says.
static int
s_bad_reply (const char *service, const char *command, const flot_err_t *err)
{
    fprintf (stderr, "flotctl: MALFORMED (%d): the reply of %s %s: %s\n",
             FLOT_E_MALFORMED, service, command, err->message);
    return RC_ERROR;
}

//  Prints a msgpack object as JSON, pretty or on one line.
static int
s_print_json (const msgpack_object *obj, bool pretty)
{
    json_t *value = flot_json_from_msgpack (obj);
    char *text = value ? json_dumps (value, JSON_PRESERVE_ORDER | JSON_ENCODE_ANY
                                    | (pretty ? JSON_INDENT (2) : JSON_COMPACT))
                       : NULL;
    json_decref (value);
    if (!text) {
        fprintf (stderr, "flotctl: the reply cannot be shown as JSON "
                 "(nested deeper than %d levels)\n", FLOT_MAX_DEPTH);
        return RC_ERROR;
    }
    puts (text);
    fflush (stdout);
    free (text);
    return RC_OK;
}

//  --------------------------------------------------------------------------
//  Tables and times

#define CELL_MAX 128

typedef char cell_t [CELL_MAX];

//  Rows of cells under column headers, printed in aligned columns.
typedef struct {
    const char *const *headers;
    int cols;
    size_t rows;
    cell_t *cells;              //  rows * cols, row after row
} table_t;

static int
s_table_init (table_t *self, const char *const *headers, int cols,
              size_t rows, flot_err_t *err)
{
    *self = (table_t) {
        .headers = headers, .cols = cols, .rows = rows,
        .cells = calloc (rows ? rows * (size_t) cols : 1, sizeof (cell_t))
    };
    return self->cells ? 0 : flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
}

static void
s_table_destroy (table_t *self)
{
    free (self->cells);
    self->cells = NULL;
}

static cell_t *
s_table_row (table_t *self, size_t row)
{
    assert (row < self->rows);
    return self->cells + row * (size_t) self->cols;
}

//  Prints text on one line, control characters as '?', padded to width.
static void
s_put_cell (const char *text, size_t width)
{
    size_t n = 0;
    for (; text [n]; n++) {
        unsigned char c = (unsigned char) text [n];
        putchar (c < 0x20 || c == 0x7f ? '?' : c);
    }
    for (; n < width; n++)
        putchar (' ');
}

//  One line of cells, two spaces apart, the last one not padded.
static void
s_print_cells (const char *indent, const size_t *width, int cols,
               const char *const *cells)
{
    fputs (indent, stdout);
    for (int c = 0; c < cols; c++) {
        s_put_cell (cells [c], c < cols - 1 ? width [c] : 0);
        fputs (c < cols - 1 ? "  " : "\n", stdout);
    }
}

//  Widens width (cols entries) to fit a line of cells.
static void
s_fit_cells (size_t *width, int cols, const char *const *cells)
{
    for (int c = 0; c < cols; c++)
        width [c] = MAX (width [c], strlen (cells [c]));
}

//  The headers, then every row, each line after indent.
static void
s_table_print (table_t *self, const char *indent)
{
    size_t width [self->cols];
    const char *cells [self->cols];
    memset (width, 0, sizeof width);
    s_fit_cells (width, self->cols, self->headers);
    for (size_t r = 0; r < self->rows; r++) {
        for (int c = 0; c < self->cols; c++)
            cells [c] = s_table_row (self, r) [c];
        s_fit_cells (width, self->cols, cells);
    }
    s_print_cells (indent, width, self->cols, self->headers);
    for (size_t r = 0; r < self->rows; r++) {
        for (int c = 0; c < self->cols; c++)
            cells [c] = s_table_row (self, r) [c];
        s_print_cells (indent, width, self->cols, cells);
    }
    fflush (stdout);
}

//  A duration for people: 850ms, 12.3s, 5m03s, 2h05m, 3d04h.
static void
s_duration (uint64_t ms, char *buf, size_t cap)
{
    uint64_t s = ms / 1000;
    if (ms < 1000)
        snprintf (buf, cap, "%llums", (unsigned long long) ms);
    else
    if (s < 60)
        snprintf (buf, cap, "%.1fs", (double) ms / 1000.0);
    else
    if (s < 3600)
        snprintf (buf, cap, "%llum%02llus", (unsigned long long) s / 60,
                  (unsigned long long) s % 60);
    else
    if (s < 86400)
        snprintf (buf, cap, "%lluh%02llum", (unsigned long long) s / 3600,
                  (unsigned long long) (s % 3600) / 60);
    else
        snprintf (buf, cap, "%llud%02lluh", (unsigned long long) s / 86400,
                  (unsigned long long) (s % 86400) / 3600);
}

//  A Unix time in milliseconds, in UTC: 2024-05-01T12:00:03.123Z, or with
//  !date 12:00:03.123Z; "-" for 0 (never).
static void
s_utc (uint64_t ms, bool date, char *buf, size_t cap)
{
    time_t secs = (time_t) (ms / 1000);
    struct tm tm;
    size_t n = 0;
    if (ms == 0 || !gmtime_r (&secs, &tm)
    ||  (n = strftime (buf, cap, date ? "%Y-%m-%dT%H:%M:%S" : "%H:%M:%S", &tm)) == 0) {
        snprintf (buf, cap, "-");
        return;
    }
    snprintf (buf + n, cap - n, ".%03uZ", (unsigned) (ms % 1000));
}

//  --------------------------------------------------------------------------
//  ping

static int
s_cmd_ping (ctl_t *self)
{
    flot_body_t *body;
    flot_err_t err;
    int64_t start = zclock_usecs ();
    if (s_call (self, FLOT_BROKER_SERVICE, NULL, "Ping", NULL, &body, &err))
        return s_report (self, FLOT_BROKER_SERVICE, "Ping", &err);
    double rtt_ms = (double) (zclock_usecs () - start) / 1000.0;
    const msgpack_object *root = flot_body_root (body);
    flot_broker_ping_reply_t reply;
    int rc = RC_OK;
    if (flot_broker_ping_reply_decode (root, flot_body_zone (body), &reply, &err)
    ||  (!reply.pong && flot_err_set (&err, FLOT_E_MALFORMED, "'pong' is false")))
        rc = s_bad_reply (FLOT_BROKER_SERVICE, "Ping", &err);
    else
    if (self->opts.json)
        rc = s_print_json (root, false);
    else
        printf ("pong from broker %s (up %.1f s) in %.1f ms\n",
                reply.version && *reply.version ? reply.version : "(no version)",
                (double) reply.uptime_ms / 1000.0, rtt_ms);
    flot_body_destroy (&body);
    return rc;
}

//  --------------------------------------------------------------------------
//  actors

#define ACTOR_COLS 9

static const char *const s_actor_headers [ACTOR_COLS] = {
    "SERVICE", "INSTANCE", "HOST", "PID", "KEYS", "UPTIME", "LAST-HB",
    "HANDLED", "PENDING"
};

//  The keys joined with commas, '-' for none, '...' when they do not fit.
static void
s_keys_cell (const flot_array_t *keys, char *buf, size_t cap)
{
    const char *const *key = keys->items;
    size_t used = 0;
    snprintf (buf, cap, "-");
    for (size_t i = 0; i < keys->count; i++) {
        int n = snprintf (buf + used, cap - used, "%s%s", i ? "," : "", key [i]);
        if (n < 0 || (size_t) n >= cap - used) {
            snprintf (buf + (cap > 4 ? cap - 4 : 0), cap > 4 ? 4 : cap, "...");
            break;
        }
        used += (size_t) n;
    }
}

//  Fills a table row from one actor of the Actors reply.
static void
s_actor_row (const flot_broker_actor_t *actor, cell_t *row)
{
    snprintf (row [0], CELL_MAX, "%s", actor->service);
    snprintf (row [1], CELL_MAX, "%s", actor->instance);
    snprintf (row [2], CELL_MAX, "%s", actor->host);
    snprintf (row [3], CELL_MAX, "%llu", (unsigned long long) actor->pid);
    s_keys_cell (&actor->keys, row [4], CELL_MAX);
    s_duration (actor->uptime_ms, row [5], CELL_MAX);
    s_duration (actor->last_heartbeat_ms, row [6], CELL_MAX);
    snprintf (row [7], CELL_MAX, "%llu", (unsigned long long) actor->handled);
    snprintf (row [8], CELL_MAX, "%llu", (unsigned long long) actor->pending);
}

static int
s_print_actors (flot_body_t *body, flot_err_t *err)
{
    flot_broker_actors_reply_t reply;
    if (flot_broker_actors_reply_decode (flot_body_root (body), flot_body_zone (body),
                                         &reply, err))
        return -1;
    const flot_broker_actor_t *actors = reply.actors.items;
    table_t table;
    if (s_table_init (&table, s_actor_headers, ACTOR_COLS, reply.actors.count, err))
        return -1;
    for (size_t i = 0; i < reply.actors.count; i++)
        s_actor_row (&actors [i], s_table_row (&table, i));
    s_table_print (&table, "");
    s_table_destroy (&table);
    return 0;
}

static int
s_cmd_actors (ctl_t *self)
{
    flot_body_t *body;
    flot_err_t err;
    if (s_call (self, FLOT_BROKER_SERVICE, NULL, "Actors", NULL, &body, &err))
        return s_report (self, FLOT_BROKER_SERVICE, "Actors", &err);
    int rc = RC_OK;
    if (self->opts.json)
        rc = s_print_json (flot_body_root (body), false);
    else
    if (s_print_actors (body, &err))
        rc = s_bad_reply (FLOT_BROKER_SERVICE, "Actors", &err);
    flot_body_destroy (&body);
    return rc;
}

static void s_put_text (FILE *out, const char *text, const char *none);

//  The strategy service's ListStrategies, asked with its spec key so that
//  no registered strategy's actor gets it.
static int
s_cmd_strategies (ctl_t *self)
{
    flot_body_t *body;
    flot_err_t err;
    if (s_call (self, STRATEGY_SERVICE, FLOT_STRATEGY_SPEC_KEY, FLOT_STRATEGY_LIST_STRATEGIES,
                NULL, &body, &err))
        return s_report (self, STRATEGY_SERVICE, "ListStrategies", &err);
    int rc = RC_OK;
    flot_strategy_list_strategies_reply_t reply;
    if (self->opts.json)
        rc = s_print_json (flot_body_root (body), false);
    else
    if (flot_strategy_list_strategies_reply_decode (flot_body_root (body),
                                                    flot_body_zone (body), &reply, &err))
        rc = s_bad_reply (STRATEGY_SERVICE, "ListStrategies", &err);
    else {
        const flot_strategy_strategy_t *items = reply.strategies.items;
        for (size_t i = 0; i < reply.strategies.count; i++) {
            s_put_text (stdout, items [i].name, "-");
            fputs ("  ", stdout);
            s_put_text (stdout, items [i].description, "-");
            fputc ('\n', stdout);
        }
    }
    flot_body_destroy (&body);
    return rc;
}

//  --------------------------------------------------------------------------
//  events: reading and printing one event

//  Checks an event map (section 11.1 of the spec) into event, its strings
//  in zone. Its seq is below UINT64_MAX too: a feed goes on at seq + 1.
static int
s_event_parse (const msgpack_object *map, msgpack_zone *zone, event_t *event,
               flot_err_t *err)
{
    memset (event, 0, sizeof *event);
    event->map = map;
    if (map->type != MSGPACK_OBJECT_MAP)
        return flot_err_set (err, FLOT_E_MALFORMED, "the event is not a map");
    if (flot_events_event_decode (map, zone, &event->e, err)) {
        err->code = FLOT_E_MALFORMED;
        return -1;
    }
    if (event->e.seq == UINT64_MAX)
        return flot_err_set (err, FLOT_E_MALFORMED, "field 'seq': %llu is not in 1..%llu",
                             (unsigned long long) event->e.seq,
                             (unsigned long long) UINT64_MAX - 1);
    return 0;
}

//  The warning for an event that is dropped, live or replayed.
static void
s_event_dropped (const flot_err_t *err)
{
    fprintf (stderr, "flotctl: warning: dropped a malformed event: %s\n", err->message);
}

//  Prints a string on one line: control characters become '?'; none if it
//  is empty.
static void
s_put_text (FILE *out, const char *text, const char *none)
{
    if (!text || !*text)
        text = none;
    for (; *text; text++) {
        unsigned char c = (unsigned char) *text;
        fputc (c < 0x20 || c == 0x7f ? '?' : c, out);
    }
}

static void
s_append (char *line, size_t cap, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Appends to the NUL-terminated line, cutting what does not fit.
static void
s_append (char *line, size_t cap, const char *format, ...)
{
    size_t used = strlen (line);
    if (used + 1 >= cap)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (line + used, cap - used, format, args);
    va_end (args);
}

//  --------------------------------------------------------------------------
//  events: saying what an event's data holds, one function per event type
//  the events contract defines; each appends to line what the data (decoded
//  by the type's definition) holds.

typedef void (say_fn) (const void *data, char *line, size_t cap);

//  "rollback step eu-1/1 (setWeight 50%)", "step eu-1/2 (pause)": a step,
//  with the weight it sets if it sets one.
static void
s_say_step (char *line, size_t cap, bool rollback, const char *step, const char *type,
            uint64_t weight)
{
    s_append (line, cap, "%sstep ", rollback ? "rollback " : "");
    if (streq (type, "setWeight"))
        s_append (line, cap, "%s (%s %llu%%)", step, type, (unsigned long long) weight);
    else
        s_append (line, cap, "%s (%s)", step, type);
}

static void
s_say_deployment_started (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_started_t *d = data;
    s_append (line, cap, "%s %s of %s: %llu targets, %llu steps", d->workload, d->version,
              d->name, (unsigned long long) d->targets, (unsigned long long) d->steps);
}

static void
s_say_step_started (const void *data, char *line, size_t cap)
{
    const flot_event_step_started_t *d = data;
    s_say_step (line, cap, d->rollback, d->step, d->step_type, d->weight);
    s_append (line, cap, "%s%s", d->waiting ? ": waiting for a promote" : "",
              d->attempt > 1 ? ", again" : "");
}

static void
s_say_step_completed (const void *data, char *line, size_t cap)
{
    const flot_event_step_completed_t *d = data;
    s_say_step (line, cap, d->rollback, d->step, d->step_type, d->weight);
    s_append (line, cap, " %s", d->rollback ? "done" : d->state);
    if (d->attempt > 1)
        s_append (line, cap, " at attempt %llu", (unsigned long long) d->attempt);
}

static void
s_say_step_failed (const void *data, char *line, size_t cap)
{
    const flot_event_step_failed_t *d = data;
    unsigned long long attempt = d->attempt;
    s_say_step (line, cap, d->rollback, d->step, d->step_type, d->weight);
    if (d->has_retry_in_ms)
        s_append (line, cap, " attempt %llu failed: %s; retrying in %llu ms", attempt,
                  d->reason, (unsigned long long) d->retry_in_ms);
    else
    if (d->rollback)
        s_append (line, cap, " attempt %llu failed: %s", attempt, d->reason);
    else
        s_append (line, cap, " failed after %llu attempt%s: %s", attempt,
                  attempt == 1 ? "" : "s", d->reason);
}

static void
s_say_target_completed (const void *data, char *line, size_t cap)
{
    const flot_event_target_completed_t *d = data;
    s_append (line, cap, "%s is on version %s", d->target, d->version);
}

static void
s_say_target_failed (const void *data, char *line, size_t cap)
{
    const flot_event_target_failed_t *d = data;
    s_append (line, cap, "%s failed at step %s: %s", d->target, d->step, d->reason);
}

static void
s_say_health_ready (const void *data, char *line, size_t cap)
{
    const flot_event_health_ready_t *d = data;
    s_append (line, cap, "%s passed its health checks at step %s", d->target, d->step);
}

static void
s_say_health_failed (const void *data, char *line, size_t cap)
{
    const flot_event_health_failed_t *d = data;
    s_append (line, cap, "%s is unhealthy: %s", d->target, d->reason);
}

static void
s_say_health_recovered (const void *data, char *line, size_t cap)
{
    const flot_event_health_recovered_t *d = data;
    s_append (line, cap, "%s is healthy again: %s", d->target, d->reason);
}

//  "eu-1: successful, score 100 (errors 0.1 pass, p99 180 pass), recommends
//  promote: ..."
static void
s_say_analysis_result (const void *data, char *line, size_t cap)
{
    const flot_event_analysis_result_t *d = data;
    s_append (line, cap, "%s: %s", d->target, d->phase);
    if (d->has_score)
        s_append (line, cap, ", score %.0f", d->score);
    const flot_events_metric_t *m = d->metrics.items;
    for (size_t i = 0; i < d->metrics.count; i++) {
        s_append (line, cap, "%s%s", i ? ", " : " (", m [i].name);
        if (m [i].has_value)
            s_append (line, cap, " %g", m [i].value);
        s_append (line, cap, " %s%s", m [i].verdict, i + 1 == d->metrics.count ? ")" : "");
    }
    s_append (line, cap, ", recommends %s: %s", d->recommendation, d->reason);
}

static void
s_say_gate_passed (const void *data, char *line, size_t cap)
{
    const flot_event_gate_passed_t *d = data;
    s_append (line, cap, "gate %s of %s passed at step %s: %s", d->gate, d->target,
              d->step, d->reason);
}

static void
s_say_gate_failed (const void *data, char *line, size_t cap)
{
    const flot_event_gate_failed_t *d = data;
    if (streq (d->action, "rollback"))
        s_append (line, cap, "%s: %s: rolling back", d->target, d->reason);
    else
        s_append (line, cap, "%s: %s: the failure policy %s applies", d->target,
                  d->reason, d->on_failure);
}

static void
s_say_gate_waiting (const void *data, char *line, size_t cap)
{
    const flot_event_gate_waiting_t *d = data;
    s_append (line, cap, "%s: the %s service could not answer (%s); asking again in "
              "%llu ms", d->target, d->service, d->reason,
              (unsigned long long) d->retry_in_ms);
}

static void
s_say_step_waiting (const void *data, char *line, size_t cap)
{
    const flot_event_step_waiting_t *d = data;
    s_append (line, cap, "%s: step %s waits: the %s service could not answer (%s); asking "
              "again in %llu ms", d->target, d->step, d->service, d->reason,
              (unsigned long long) d->retry_in_ms);
}

static void
s_say_deployment_paused (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_paused_t *d = data;
    bool gate = streq (d->cause, "gate");
    if (streq (d->cause, "operator"))
        s_append (line, cap, "paused: no new step starts; running hooks finish");
    else
        s_append (line, cap, "paused %s %s: %s; %s to go on, abort to roll back",
                  gate ? "at the gate of" : "while watching",
                  d->target ? d->target : "?", d->reason ? d->reason : "",
                  gate ? "promote" : "resume");
}

static void
s_say_deployment_resumed (const void *data, char *line, size_t cap)
{
    (void) data;
    s_append (line, cap, "resumed");
}

static void
s_say_deployment_promoted (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_promoted_t *d = data;
    s_append (line, cap, "%s", d->full
              ? "promoted in full: every remaining pause and gate is skipped"
              : "promoted: the current pauses end");
}

static void
s_say_rollback_started (const void *data, char *line, size_t cap)
{
    const flot_event_rollback_started_t *d = data;
    s_append (line, cap, "rolling back %llu target%s (%s)", (unsigned long long) d->targets,
              d->targets == 1 ? "" : "s", d->mode);
}

static void
s_say_rollback_completed (const void *data, char *line, size_t cap)
{
    const flot_event_rollback_completed_t *d = data;
    s_append (line, cap, "rolled back %llu target%s", (unsigned long long) d->targets,
              d->targets == 1 ? "" : "s");
}

static void
s_say_deployment_completed (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_completed_t *d = data;
    s_append (line, cap, "every target is on the new version: %llu targets, %llu steps",
              (unsigned long long) d->targets, (unsigned long long) d->steps);
}

static void
s_say_deployment_failed (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_failed_t *d = data;
    s_append (line, cap, "%s", d->reason);
}

static void
s_say_deployment_failing (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_failing_t *d = data;
    s_append (line, cap, "%s; rolling back", d->reason);
}

static void
s_say_deployment_aborting (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_aborting_t *d = data;
    s_append (line, cap, "%s; rolling back", d->reason);
}

static void
s_say_rollback_failed (const void *data, char *line, size_t cap)
{
    const flot_event_rollback_failed_t *d = data;
    s_append (line, cap, "%s", d->reason);
}

static void
s_say_deployment_rolled_back (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_rolled_back_t *d = data;
    s_append (line, cap, "rolled back: %s", d->reason);
}

static void
s_say_deployment_aborted (const void *data, char *line, size_t cap)
{
    const flot_event_deployment_aborted_t *d = data;
    s_append (line, cap, "aborted and rolled back: %s", d->reason);
}

//  The event types flotctl says in words, and how.
static const struct {
    const char *type;
    say_fn *say;
} s_sayers [] = {
    { "deployment.started", s_say_deployment_started },
    { "step.started", s_say_step_started },
    { "step.completed", s_say_step_completed },
    { "step.failed", s_say_step_failed },
    { "target.completed", s_say_target_completed },
    { "target.failed", s_say_target_failed },
    { "health.ready", s_say_health_ready },
    { "health.failed", s_say_health_failed },
    { "health.recovered", s_say_health_recovered },
    { "analysis.result", s_say_analysis_result },
    { "gate.passed", s_say_gate_passed },
    { "gate.failed", s_say_gate_failed },
    { "gate.waiting", s_say_gate_waiting },
    { "step.waiting", s_say_step_waiting },
    { "deployment.paused", s_say_deployment_paused },
    { "deployment.resumed", s_say_deployment_resumed },
    { "deployment.promoted", s_say_deployment_promoted },
    { "rollback.started", s_say_rollback_started },
    { "rollback.completed", s_say_rollback_completed },
    { "deployment.completed", s_say_deployment_completed },
    { "deployment.failed", s_say_deployment_failed },
    { "deployment.failing", s_say_deployment_failing },
    { "deployment.aborting", s_say_deployment_aborting },
    { "rollback.failed", s_say_rollback_failed },
    { "deployment.rolled_back", s_say_deployment_rolled_back },
    { "deployment.aborted", s_say_deployment_aborted },
    { NULL, NULL }
};

//  Says in line what the data of an event of a type the events contract
//  defines holds (data decoded by its definition). Returns false for a
//  type it does not know how to say.
static bool
s_say_data (const char *type, const void *data, char *line, size_t cap)
{
    for (size_t i = 0; s_sayers [i].type; i++)
        if (streq (s_sayers [i].type, type)) {
            s_sayers [i].say (data, line, cap);
            return true;
        }
    return false;
}

//  Prints what the event says: from its data if its type is one the events
//  contract defines and its data is that type's; else its message.
static void
s_print_said (const event_t *event)
{
    const flot_event_def_t *def = flot_event_def (event->e.type);
    char line [2048] = "";
    bool said = false;
    if (def && event->e.data) {
        msgpack_zone zone;
        msgpack_zone_init (&zone, 1024);
        flot_err_t err;
        const void *data = flot_decode_new (def->data, event->e.data, &zone, &err);
        said = data && s_say_data (event->e.type, data, line, sizeof line);
        //  Who caused it, once callers are identified (section 14).
        const flot_field_t *by = NULL;
        for (size_t i = 0; data && i < def->data->field_count; i++)
            if (streq (def->data->fields [i].name, "by"))
                by = &def->data->fields [i];
        const char *who = by ? *(const char *const *) ((const char *) data + by->offset) : NULL;
        if (said && who && *who)
            s_append (line, sizeof line, " (by %s)", who);
        msgpack_zone_destroy (&zone);
    }
    if (!said && event->e.message && *event->e.message)
        snprintf (line, sizeof line, "%s", event->e.message);
    if (*line) {
        putchar (' ');
        s_put_text (stdout, line, "");
    }
}

static void
s_print_event (ctl_t *self, const event_t *event)
{
    const char *type = event->e.type;
    const char *prefix = self->opts.type;
    if (prefix && strncmp (type, prefix, strlen (prefix)) != 0)
        return;
    if (self->watching && (strncmp (type, "deployment.", 11) == 0
                       ||  strncmp (type, "rollback.", 9) == 0))
        snprintf (self->outcome, sizeof self->outcome, "%s", type);
    if (self->opts.json) {
        s_print_json (event->map, false);
        return;
    }
    char when [64];
    s_utc (event->e.time_ms, !self->watching, when, sizeof when);
    if (self->watching)         //  watch: of one deployment, by time
        printf ("%s %-22s ", when, type);
    else
        printf ("#%llu %s %s %s ", (unsigned long long) event->e.seq, when,
                type, *event->e.deployment ? event->e.deployment : "-");
    s_put_text (stdout, event->e.target, "-");
    s_print_said (event);
    putchar ('\n');
    fflush (stdout);
}

//  --------------------------------------------------------------------------
//  events: Replay and Info

typedef struct {
    uint64_t oldest, last, next;
    bool more;
} page_t;

//  Decodes a Replay reply but for its events, left as they are (an array
//  of any values): each is checked on its own, so that one the events
//  contract refuses is dropped, not the page.
static int
s_replay_reply_decode (flot_body_t *body, flot_events_replay_reply_t *reply,
                       flot_err_t *err)
{
    const flot_struct_t *def = &flot_events_replay_reply_def;
    flot_field_t fields [def->field_count];
    for (size_t i = 0; i < def->field_count; i++) {
        fields [i] = def->fields [i];
        if (streq (fields [i].name, "events")) {
            assert (fields [i].type == FLOT_T_ARRAY);
            fields [i].elem = FLOT_T_ANY;
            fields [i].sub = NULL;
        }
    }
    const flot_struct_t lax = {
        .name = def->name, .size = def->size,
        .fields = fields, .field_count = def->field_count
    };
    return flot_decode (&lax, flot_body_root (body), flot_body_zone (body), reply, err);
}

//  Handles one Replay reply: prints its events above feed->covered, and
//  drops with a warning each event the events contract refuses.
static int
s_replay_page (ctl_t *self, feed_t *feed, flot_body_t *body, page_t *page, flot_err_t *err)
{
    flot_events_replay_reply_t reply;
    *page = (page_t) { 0 };
    if (s_replay_reply_decode (body, &reply, err))
        return -1;
    page->oldest = reply.oldest;
    page->last = reply.last;
    page->more = reply.more;
    const msgpack_object *items = reply.events.items;
    for (size_t i = 0; i < reply.events.count; i++) {
        event_t event;
        flot_err_t bad;
        if (s_event_parse (&items [i], flot_body_zone (body), &event, &bad)) {
            s_event_dropped (&bad);
            //  Past it all the same, if it says which it is.
            uint64_t seq = 0;
            if (flot_map_uint (&items [i], "seq", true, 1, UINT64_MAX - 1, &seq, &bad) == 1)
                page->next = MAX (page->next, seq + 1);
            continue;
        }
        page->next = MAX (page->next, event.e.seq + 1);
        if (event.e.seq > feed->covered) {
            s_print_event (self, &event);
            feed->covered = event.e.seq;
        }
    }
    return 0;
}

static void
s_pack_replay (msgpack_sbuffer *sbuf, uint64_t since, const char *deployment)
{
    flot_events_replay_request_t request = { .since = since, .deployment = deployment };
    flot_encode_sbuf (&flot_events_replay_request_def, &request, sbuf);
}

//  Replays from since, page by page, printing what is above feed->covered.
//  Afterwards every event up to the history's last seq is covered.
static int
s_replay (ctl_t *self, feed_t *feed, uint64_t since, flot_err_t *err)
{
    for (bool first = true; ; first = false) {
        msgpack_sbuffer sbuf;
        s_pack_replay (&sbuf, since, self->opts.deployment);
        flot_body_t *body;
        int rc = s_call (self, EVENTS_SERVICE, NULL, "Replay", &sbuf, &body, err);
        msgpack_sbuffer_destroy (&sbuf);
        page_t page;
        flot_err_t local;
        if (rc == 0 && s_replay_page (self, feed, body, &page, &local))
            rc = flot_err_set (err, FLOT_E_MALFORMED, "the reply of events "
                               "Replay: %s", local.message);
        flot_body_destroy (&body);
        if (rc)
            return rc;
        if (first && since > 0 && since < page.oldest)
            fprintf (stderr, "flotctl: warning: events %llu..%llu are no longer "
                     "held\n", (unsigned long long) since,
                     (unsigned long long) page.oldest - 1);
        feed->seen = MAX (feed->seen, page.last);
        if (!page.more) {
            feed->covered = MAX (feed->covered, page.last);
            return 0;
        }
        if (page.next <= since)
            return flot_err_set (err, FLOT_E_MALFORMED,
                "Replay says there is more after %llu but returned nothing",
                (unsigned long long) since);
        since = page.next;
    }
}

//  Asks the events service for its PUB endpoint and last seq.
static int
s_events_info (ctl_t *self, char *pub, size_t cap, uint64_t *last,
               flot_err_t *err)
{
    flot_body_t *body;
    if (s_call (self, EVENTS_SERVICE, NULL, "Info", NULL, &body, err))
        return -1;
    flot_events_info_reply_t reply;
    flot_err_t local;
    int rc = 0;
    if (flot_events_info_reply_decode (flot_body_root (body), flot_body_zone (body),
                                       &reply, &local))
        rc = flot_err_set (err, FLOT_E_MALFORMED, "the reply of events Info: %s",
                           local.message);
    else
    if (strlen (reply.pub) >= cap)
        rc = flot_err_set (err, FLOT_E_MALFORMED, "the reply of events Info: field 'pub' "
                           "is %zu bytes, the limit is %zu", strlen (reply.pub), cap - 1);
    else {
        snprintf (pub, cap, "%s", reply.pub);
        *last = reply.last;
    }
    flot_body_destroy (&body);
    return rc;
}

//  --------------------------------------------------------------------------
//  events --follow

//  Checks a PUB message: [topic][FLOT02][body], the topic matching the
//  event. Returns the body (event points into it), or NULL with err.
static flot_body_t *
s_live_decode (zmsg_t *msg, event_t *event, flot_err_t *err)
{
    if (zmsg_size (msg) != 3) {
        flot_err_set (err, FLOT_E_MALFORMED, "%zu frames, expected 3",
                      zmsg_size (msg));
        return NULL;
    }
    zframe_t *topic = zmsg_first (msg);
    zframe_t *signature = zmsg_next (msg);
    zframe_t *data = zmsg_next (msg);
    if (!zframe_streq (signature, FLOT_SIGNATURE)) {
        flot_err_set (err, FLOT_E_VERSION, "frame 1 is not %s", FLOT_SIGNATURE);
        return NULL;
    }
    flot_body_t *body = flot_body_decode (zframe_data (data), zframe_size (data), err);
    if (body && s_event_parse (flot_body_root (body), flot_body_zone (body), event, err))
        flot_body_destroy (&body);
    if (!body)
        return NULL;
    char expected [FLOT_MAX_ID + FLOT_MAX_NAME + 3];       //  "<id>/<type>"
    snprintf (expected, sizeof expected, "%s/%s",
              *event->e.deployment ? event->e.deployment : "-", event->e.type);
    if (!zframe_streq (topic, expected)) {
        flot_err_set (err, FLOT_E_MALFORMED, "event %llu has topic '%.*s', "
                      "expected '%s'", (unsigned long long) event->e.seq,
                      (int) MIN (zframe_size (topic), 200),
                      (const char *) zframe_data (topic), expected);
        flot_body_destroy (&body);
    }
    return body;
}

//  A live event: replay a gap before it, print it unless already printed.
static void
s_live_event (ctl_t *self, feed_t *feed, zmsg_t *msg)
{
    event_t event;
    flot_err_t err;
    flot_body_t *body = s_live_decode (msg, &event, &err);
    if (!body) {
        s_event_dropped (&err);
        return;
    }
    feed->seen = MAX (feed->seen, event.e.seq);
    if (event.e.seq > feed->covered + 1
    &&  s_replay (self, feed, feed->covered + 1, &err)) {
        s_report (self, EVENTS_SERVICE, "Replay", &err);
        fprintf (stderr, "flotctl: warning: events %llu..%llu may be missing\n",
                 (unsigned long long) feed->covered + 1,
                 (unsigned long long) event.e.seq - 1);
    }
    if (event.e.seq > feed->covered) {
        s_print_event (self, &event);
        feed->covered = event.e.seq;
    }
    flot_body_destroy (&body);
}

//  While quiet: catch up with events the stream lost, notice a new history.
static void
s_idle_check (ctl_t *self, feed_t *feed)
{
    char pub [256];
    uint64_t last;
    flot_err_t err;
    const char *command = "Info";
    int rc = s_events_info (self, pub, sizeof pub, &last, &err);
    if (rc == 0 && last < feed->seen) {
        fprintf (stderr, "flotctl: warning: the event history was reset (last "
                 "seq %llu, had seen %llu); following it from its start\n",
                 (unsigned long long) last, (unsigned long long) feed->seen);
        feed->covered = feed->seen = 0;
    }
    if (rc == 0 && last > feed->covered) {
        command = "Replay";
        rc = s_replay (self, feed, feed->covered ? feed->covered + 1 : 0, &err);
    }
    if (rc && !feed->down) {
        s_report (self, EVENTS_SERVICE, command, &err);
        fprintf (stderr, "flotctl: warning: still listening on the stream\n");
    }
    else
    if (rc == 0 && feed->down)
        fprintf (stderr, "flotctl: the events service answers again\n");
    feed->down = rc != 0;
}

static zsock_t *
s_subscribe (const char *endpoint, const char *deployment)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    if (!sub)
        return NULL;
    zsock_set_linger (sub, 0);
    zsock_set_rcvhwm (sub, SUB_HWM);
    zsock_set_maxmsgsize (sub, FLOT_MAX_MESSAGE);
    char prefix [FLOT_MAX_ID + 2] = "";
    if (deployment)
        snprintf (prefix, sizeof prefix, "%s/", deployment);
    zsock_set_subscribe (sub, prefix);
    if (zsock_connect (sub, "%s", endpoint))
        zsock_destroy (&sub);
    return sub;
}

static int
s_follow_loop (ctl_t *self, feed_t *feed, zsock_t *sub)
{
    zmq_pollitem_t item = { zsock_resolve (sub), 0, ZMQ_POLLIN, 0 };
    while (!zsys_interrupted) {
        int n = zmq_poll (&item, 1, IDLE_CHECK_MS);
        if (n < 0 && errno != EINTR) {
            fprintf (stderr, "flotctl: cannot read events: %s\n",
                     zmq_strerror (errno));
            return RC_ERROR;
        }
        if (n == 0)
            s_idle_check (self, feed);
        else
        if (n > 0) {
            zmsg_t *msg = zmsg_recv (sub);
            if (msg)
                s_live_event (self, feed, msg);
            zmsg_destroy (&msg);
        }
    }
    return RC_OK;
}

static int
s_events_follow (ctl_t *self)
{
    char pub [256];
    uint64_t last;
    flot_err_t err;
    if (s_events_info (self, pub, sizeof pub, &last, &err))
        return s_report (self, EVENTS_SERVICE, "Info", &err);
    const char *endpoint = self->opts.events_endpoint ? self->opts.events_endpoint : pub;
    zsock_t *sub = s_subscribe (endpoint, self->opts.deployment);
    if (!sub) {
        fprintf (stderr, "flotctl: cannot subscribe to events at '%s'\n", endpoint);
        return self->opts.events_endpoint ? RC_USAGE : RC_ERROR;
    }
    //  Subscribed first, then replay: nothing falls between the two.
    bool since = self->opts.given & OPT_SINCE;
    feed_t feed = {
        .covered = since ? (self->opts.since ? self->opts.since - 1 : 0) : last,
        .seen = last
    };
    int rc = s_replay (self, &feed, since ? self->opts.since : last + 1, &err);
    if (rc)
        rc = s_report (self, EVENTS_SERVICE, "Replay", &err);
    else {
        fprintf (stderr, "flotctl: following events on %s after #%llu\n",
                 endpoint, (unsigned long long) feed.covered);
        rc = s_follow_loop (self, &feed, sub);
    }
    zsock_destroy (&sub);
    return rc;
}

//  --------------------------------------------------------------------------
//  events

static int
s_cmd_events (ctl_t *self)
{
    if (self->opts.given & OPT_FOLLOW)
        return s_events_follow (self);
    if (self->opts.given & OPT_EVENTS_EP)
        return s_usage_error ("--events-endpoint works only with --follow");
    uint64_t since = self->opts.since;
    feed_t feed = { .covered = since ? since - 1 : 0 };
    flot_err_t err;
    if (s_replay (self, &feed, since, &err))
        return s_report (self, EVENTS_SERVICE, "Replay", &err);
    return RC_OK;
}

//  --------------------------------------------------------------------------
//  call

//  Packs the JSON text of the command line into sbuf (caller destroys it).
static int
s_pack_json_arg (const char *text, msgpack_sbuffer *sbuf)
{
    json_error_t jerr;
    json_t *value = json_loads (text, JSON_REJECT_DUPLICATES, &jerr);
    if (!value)
        return s_usage_error ("the JSON body is not valid JSON: %s (line %d, "
                              "column %d)", jerr.text, jerr.line, jerr.column);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    int rc = 0;
    if (!json_is_object (value))
        rc = s_usage_error ("the JSON body must be an object like "
                            "'{\"key\": 1}', not %s", json_is_array (value)
                            ? "an array" : "a single value");
    else
    if (flot_json_pack (&pk, value))
        rc = s_usage_error ("the JSON body is nested deeper than %d levels",
                            FLOT_MAX_DEPTH);
    else
    if (sbuf->size > FLOT_MAX_BODY)
        rc = s_usage_error ("the JSON body is %zu bytes as msgpack, the limit "
                            "is %d", sbuf->size, FLOT_MAX_BODY);
    json_decref (value);
    return rc;
}

static int
s_cmd_call (ctl_t *self)
{
    const char *service = self->opts.args [1];
    const char *command = self->opts.args [2];
    const char *text = self->opts.nargs > 3 ? self->opts.args [3] : "{}";
    if (!s_name_valid (service) || !s_name_valid (command))
        return s_usage_error ("'%s %s': service and command names are 1..%d "
                              "of [A-Za-z0-9._-]", service, command, FLOT_MAX_NAME);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    int rc = s_pack_json_arg (text, &sbuf);
    flot_body_t *body = NULL;
    flot_err_t err;
    if (rc == 0) {
        if (s_call (self, service, self->opts.key, command, &sbuf, &body, &err))
            rc = s_report (self, service, command, &err);
        else
            rc = s_print_json (flot_body_root (body), !self->opts.json);
    }
    flot_body_destroy (&body);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

//  --------------------------------------------------------------------------
//  Deployments: calls, spec files and validation

static int
s_fail (int rc, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Prints 'flotctl: ' and the sentence on stderr; returns rc.
static int
s_fail (int rc, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "flotctl: ");
    vfprintf (stderr, format, args);
    va_end (args);
    fputc ('\n', stderr);
    return rc;
}

//  Calls coordinator command with {"id": id} (coordinator ID).
static int
s_call_id (ctl_t *self, const char *command, const char *id,
           flot_body_t **body_p, flot_err_t *err)
{
    flot_coordinator_id_t request = { .id = id };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_coordinator_id_def, &request, &sbuf);
    int rc = s_call (self, COORDINATOR_SERVICE, NULL, command, &sbuf, body_p, err);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

//  Copies text into a cell, cut short with "..." if it does not fit.
static void
s_cell (cell_t cell, const char *text)
{
    if (strlen (text) < CELL_MAX)
        snprintf (cell, CELL_MAX, "%s", text);
    else
        snprintf (cell, CELL_MAX, "%.*s...", CELL_MAX - 4, text);
}

//  A spec file, read for plan and apply.
typedef struct {
    const char *file;           //  as given on the command line
    char cwd [PATH_MAX];        //  the real path of the folder holding it
    char *text;                 //  its bytes, NUL-terminated
    size_t size;
} spec_t;

static void
s_spec_clear (spec_t *spec)
{
    free (spec->text);
    spec->text = NULL;
}

//  Reads the spec file and finds its folder. Returns -1 to go on, or an
//  exit code (2: the file cannot be used) with a sentence on stderr.
static int
s_spec_read (const char *file, spec_t *spec)
{
    *spec = (spec_t) { .file = file };
    FILE *in = fopen (file, "rb");
    if (!in)
        return s_fail (RC_USAGE, "cannot open spec file '%s': %s", file,
                       strerror (errno));
    spec->text = malloc (SPEC_MAX + 1);
    size_t size = spec->text ? fread (spec->text, 1, SPEC_MAX + 1, in) : 0;
    int error = ferror (in) ? errno : 0;
    fclose (in);
    if (!spec->text)
        return s_fail (RC_ERROR, "out of memory for spec file '%s'", file);
    if (error)
        return s_fail (RC_USAGE, "cannot read spec file '%s': %s", file,
                       strerror (error));
    if (size > SPEC_MAX)
        return s_fail (RC_USAGE, "spec file '%s' is larger than %d bytes (1 MiB), "
                       "the most a spec may be", file, SPEC_MAX);
    const char *nul = memchr (spec->text, 0, size);
    if (nul)
        return s_fail (RC_USAGE, "spec file '%s' holds a NUL byte at offset %td: "
                       "a spec is YAML text", file, nul - spec->text);
    spec->text [size] = 0;
    spec->size = size;
    //  Hooks run in the spec's folder: send its absolute, real path.
    char *copy = strdup (file);
    bool found = copy && realpath (dirname (copy), spec->cwd);
    error = errno;
    free (copy);
    if (!found)
        return s_fail (RC_USAGE, "cannot find the folder of spec file '%s': %s",
                       file, strerror (error));
    return -1;
}

//  Prints a Validate reply's errors. Returns -1 if the spec is valid, else
//  an exit code.
static int
s_validate_reply (ctl_t *self, const spec_t *spec, flot_body_t *body)
{
    flot_strategy_validate_reply_t reply;
    flot_err_t err;
    if (flot_strategy_validate_reply_decode (flot_body_root (body), flot_body_zone (body),
                                             &reply, &err))
        return s_bad_reply (STRATEGY_SERVICE, "Validate", &err);
    if (reply.valid)
        return -1;
    const char *const *errors = reply.errors.items;
    size_t count = reply.errors.count;
    if (self->opts.json)
        s_print_json (flot_body_root (body), false);
    else
        for (size_t i = 0; i < count; i++) {
            s_put_text (stderr, errors [i], "");
            fputc ('\n', stderr);
        }
    return s_fail (RC_ERROR, "%s is not a valid deployment spec: %zu error%s%s",
                   spec->file, count, count == 1 ? "" : "s",
                   reply.truncated ? " shown, and more" : "");
}

//  Reads the spec file of --file and has the strategy service validate it.
//  Returns -1 to go on with spec read (the caller clears it), or an exit
//  code: 1 with every error printed if it is not valid.
static int
s_spec_load (ctl_t *self, spec_t *spec)
{
    int rc = s_spec_read (self->opts.file, spec);
    if (rc >= 0)
        return rc;
    flot_strategy_spec_text_t request = { .spec = spec->text, .file = spec->file };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_strategy_spec_text_def, &request, &sbuf);
    flot_body_t *body = NULL;
    flot_err_t err;
    if (sbuf.size > FLOT_MAX_BODY)
        rc = s_fail (RC_USAGE, "spec file '%s' does not fit in one request: "
                     "%zu bytes with its names, the limit is %d", spec->file,
                     sbuf.size, FLOT_MAX_BODY);
    else
    if (s_call (self, STRATEGY_SERVICE, FLOT_STRATEGY_SPEC_KEY, "Validate", &sbuf, &body, &err))
        rc = s_report (self, STRATEGY_SERVICE, "Validate", &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc < 0)
        rc = s_validate_reply (self, spec, body);
    flot_body_destroy (&body);
    return rc;
}

//  Calls coordinator command (Plan, Execute) with the spec, file and cwd.
//  Returns -1 with the reply in *body_p, or an exit code.
static int
s_spec_call (ctl_t *self, const spec_t *spec, const char *command,
             flot_body_t **body_p)
{
    flot_coordinator_spec_t request = {
        .spec = spec->text, .file = spec->file, .cwd = spec->cwd
    };
    msgpack_sbuffer sbuf;
    flot_err_t err;
    *body_p = NULL;
    flot_encode_sbuf (&flot_coordinator_spec_def, &request, &sbuf);
    int rc = -1;
    if (sbuf.size > FLOT_MAX_BODY)
        rc = s_fail (RC_USAGE, "spec file '%s' does not fit in one request: "
                     "%zu bytes with its names, the limit is %d", spec->file,
                     sbuf.size, FLOT_MAX_BODY);
    else
    if (s_call (self, COORDINATOR_SERVICE, NULL, command, &sbuf, body_p, &err))
        rc = s_report (self, COORDINATOR_SERVICE, command, &err);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

//  --------------------------------------------------------------------------
//  plan

#define STEP_COLS 5

static const char *const s_step_headers [STEP_COLS] = {
    "STEP", "TYPE", "WEIGHT", "DURATION", "RUNS"
};

//  The cells of one step of a PLAN (strategy.PLAN_STEP, SPEC section 16).
static void
s_step_cells (const flot_strategy_plan_step_t *step, cell_t *cells)
{
    const char *gate = step->gate ? step->gate : "";
    s_cell (cells [0], step->id);
    s_cell (cells [1], step->type);
    snprintf (cells [2], CELL_MAX, "%llu", (unsigned long long) step->weight);
    if (step->duration_ms < 0)
        snprintf (cells [3], CELL_MAX, "until promoted");
    else
    if (step->duration_ms == 0)
        snprintf (cells [3], CELL_MAX, "-");
    else
        s_duration ((uint64_t) step->duration_ms, cells [3], CELL_MAX);
    if (step->hook && *gate)
        snprintf (cells [4], CELL_MAX, "hook, gate %.100s", gate);
    else
    if (*gate)
        snprintf (cells [4], CELL_MAX, "gate %.100s", gate);
    else
        snprintf (cells [4], CELL_MAX, "%s", step->hook ? "hook" : "-");
}

//  The targets of a PLAN in its "order". Returns a new array (the caller
//  frees it) of the plan's targets.count targets, or NULL with err.
static const flot_strategy_plan_target_t **
s_plan_ordered (const flot_strategy_plan_t *plan, flot_err_t *err)
{
    const flot_strategy_plan_target_t *targets = plan->targets.items;
    const char *const *order = plan->order.items;
    size_t count = plan->targets.count;
    if (plan->order.count != count) {
        flot_err_set (err, FLOT_E_MALFORMED, "'order' names %zu targets, "
                      "'targets' holds %zu", plan->order.count, count);
        return NULL;
    }
    const flot_strategy_plan_target_t **ordered = calloc (count ? count : 1, sizeof *ordered);
    zhash_t *index = zhash_new ();
    int rc = ordered && index ? 0
           : flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
    for (size_t i = 0; i < count && rc == 0; i++)
        if (zhash_insert (index, targets [i].name, (void *) &targets [i]))
            rc = flot_err_set (err, FLOT_E_MALFORMED, "target '%.200s' is there twice",
                               targets [i].name);
    for (size_t i = 0; i < count && rc == 0; i++)
        if (!(ordered [i] = zhash_lookup (index, order [i])))
            rc = flot_err_set (err, FLOT_E_MALFORMED, "'order' names '%.200s', which "
                               "is not among the targets", order [i]);
    zhash_destroy (&index);
    if (rc) {
        free (ordered);
        ordered = NULL;
    }
    return ordered;
}

//  Widens width to fit every step of the targets; returns how many steps.
static size_t
s_plan_widths (const flot_strategy_plan_target_t **ordered, size_t count, size_t *width)
{
    size_t steps = 0;
    s_fit_cells (width, STEP_COLS, s_step_headers);
    for (size_t i = 0; i < count; i++) {
        const flot_strategy_plan_step_t *list = ordered [i]->steps.items;
        for (size_t j = 0; j < ordered [i]->steps.count; j++) {
            cell_t cells [STEP_COLS];
            const char *texts [STEP_COLS];
            s_step_cells (&list [j], cells);
            for (int c = 0; c < STEP_COLS; c++)
                texts [c] = cells [c];
            s_fit_cells (width, STEP_COLS, texts);
        }
        steps += ordered [i]->steps.count;
    }
    return steps;
}

//  Prints an array of names, separator between them ('-' if none).
static void
s_print_names (const flot_array_t *names, const char *separator)
{
    const char *const *name = names->items;
    if (names->count == 0)
        fputs ("-", stdout);
    for (size_t i = 0; i < names->count; i++) {
        if (i)
            fputs (separator, stdout);
        s_put_text (stdout, name [i], "\"\"");
    }
}

//  One target of a plan: its name, wave and dependencies, then its steps.
static void
s_print_plan_target (const flot_strategy_plan_target_t *target, const size_t *width,
                     bool headers)
{
    printf ("\n");
    s_put_text (stdout, target->name, "");
    printf ("  wave %llu, depends on: ", (unsigned long long) target->wave);
    s_print_names (&target->depends_on, ", ");
    printf ("\n");
    if (headers)
        s_print_cells ("    ", width, STEP_COLS, s_step_headers);
    const flot_strategy_plan_step_t *steps = target->steps.items;
    for (size_t j = 0; j < target->steps.count; j++) {
        cell_t cells [STEP_COLS];
        const char *texts [STEP_COLS];
        s_step_cells (&steps [j], cells);
        for (int c = 0; c < STEP_COLS; c++)
            texts [c] = cells [c];
        s_print_cells ("    ", width, STEP_COLS, texts);
    }
}

//  Prints a Plan reply (strategy.DEPLOYMENT_PLAN): the plan's targets in
//  order with their steps, then the rollback plan's order.
static int
s_print_plan (flot_body_t *body, flot_err_t *err)
{
    flot_strategy_deployment_plan_t reply;
    if (flot_strategy_deployment_plan_decode (flot_body_root (body), flot_body_zone (body),
                                              &reply, err))
        return -1;
    const flot_strategy_plan_t *plan = reply.plan;
    size_t count = plan->targets.count;
    const flot_strategy_plan_target_t **ordered = s_plan_ordered (plan, err);
    if (!ordered)
        return -1;
    size_t width [STEP_COLS] = { 0 };
    size_t steps = s_plan_widths (ordered, count, width);
    printf ("plan of deployment ");
    s_put_text (stdout, reply.deployment, "");
    printf (" (");
    s_put_text (stdout, reply.strategy, "");
    printf ("): %zu target%s, %zu step%s, at most %llu target%s at a time\n",
            count, count == 1 ? "" : "s", steps, steps == 1 ? "" : "s",
            (unsigned long long) plan->concurrency, plan->concurrency == 1 ? "" : "s");
    for (size_t i = 0; i < count; i++)
        s_print_plan_target (ordered [i], width, i == 0);
    free (ordered);
    printf ("\nrollback order: ");
    s_print_names (&reply.rollback->order, " ");
    printf ("\n");
    fflush (stdout);
    return 0;
}

static int
s_cmd_plan (ctl_t *self)
{
    if (!(self->opts.given & OPT_FILE))
        return s_usage_error ("'%s' needs the spec file: flotctl %s -f FILE",
                              self->opts.args [0], self->opts.args [0]);
    spec_t spec;
    flot_body_t *body = NULL;
    int rc = s_spec_load (self, &spec);
    if (rc < 0)
        rc = s_spec_call (self, &spec, "Plan", &body);
    if (rc < 0) {
        flot_err_t err;
        if (self->opts.json)
            rc = s_print_json (flot_body_root (body), false);
        else
        if (s_print_plan (body, &err))
            rc = s_bad_reply (COORDINATOR_SERVICE, "Plan", &err);
        else
            rc = RC_OK;
    }
    flot_body_destroy (&body);
    s_spec_clear (&spec);
    return rc;
}

//  --------------------------------------------------------------------------
//  status and list

//  An analysis result (analyzer RESULT): each metric, the score and the
//  recommendation, each line after indent.
static void
s_print_analysis (const flot_analyzer_result_t *result, const char *indent)
{
    const flot_analyzer_metric_t *metrics = result->metrics.items;
    for (size_t i = 0; i < result->metrics.count; i++) {
        const flot_analyzer_metric_t *m = &metrics [i];
        if (streq (m->kind, "judge"))
            printf ("%s%-20s judge      %-12s %-12s samples %llu/%llu  shift [%g, %g]  margin %g\n",
                    indent, m->name, m->phase, m->class ? m->class : "",
                    (unsigned long long) m->canary_samples,
                    (unsigned long long) m->baseline_samples, m->ci_low, m->ci_high, m->margin);
        else {
            char shown [64] = "-";
            if (m->has_value)
                snprintf (shown, sizeof shown, "%g", m->value);
            printf ("%s%-20s threshold  %-12s value %-10s %llu measurements\n", indent, m->name,
                    m->phase, shown, (unsigned long long) m->measurements);
        }
        if (*m->message)
            printf ("%s%-20s   %s\n", indent, "", m->message);
    }
    if (result->score >= 0)
        printf ("%sscore %.2f\n", indent, result->score);
    printf ("%s%s: %s\n", indent, result->recommendation, result->reason);
    fflush (stdout);
}

#define TARGET_COLS 8

static const char *const s_target_headers [TARGET_COLS] = {
    "TARGET", "STATE", "STEP", "TYPE", "STEP-STATE", "ATTEMPT", "WEIGHT", "HEALTH"
};

//  A GetStatus reply, decoded into its body's zone.
typedef flot_coordinator_get_status_reply_t status_t;

//  The reply's targets.
#define STATUS_TARGETS(status) ((const flot_coordinator_target_t *) (status)->targets.items)

static int
s_status_parse (flot_body_t *body, status_t *status, flot_err_t *err)
{
    memset (status, 0, sizeof *status);
    return flot_coordinator_get_status_reply_decode (flot_body_root (body),
                                                     flot_body_zone (body), status, err);
}

//  One target of a GetStatus reply as a row; '-' for what it lacks.
static void
s_target_row (const flot_coordinator_target_t *target, cell_t *row)
{
    s_cell (row [0], target->name);
    s_cell (row [1], target->state);
    s_cell (row [2], *target->step ? target->step : "-");
    s_cell (row [3], *target->step_type ? target->step_type : "-");
    s_cell (row [4], *target->step_state ? target->step_state : "-");
    if (target->attempt)
        snprintf (row [5], CELL_MAX, "%llu", (unsigned long long) target->attempt);
    else
        snprintf (row [5], CELL_MAX, "-");
    snprintf (row [6], CELL_MAX, "%llu", (unsigned long long) target->weight);
    s_cell (row [7], target->health);
}

//  A line of the status header: the name, then the value.
static void
s_print_header (const char *name, const char *value)
{
    printf ("%-12s", name);
    s_put_cell (value, 0);
    putchar ('\n');
}

static int
s_print_status (const status_t *status, flot_err_t *err)
{
    size_t count = status->targets.count;
    const flot_coordinator_target_t *targets = STATUS_TARGETS (status);
    table_t table;
    if (s_table_init (&table, s_target_headers, TARGET_COLS, count, err))
        return -1;
    for (size_t i = 0; i < count; i++)
        s_target_row (&targets [i], s_table_row (&table, i));
    char text [64];
    s_print_header ("deployment", status->id);
    s_print_header ("name", status->name);
    s_print_header ("strategy", status->strategy);
    s_print_header ("state", status->state);
    s_print_header ("paused", status->paused ? "yes" : "no");
    snprintf (text, sizeof text, "%llu%% (%llu of %llu steps done)",
              (unsigned long long) status->percent,
              (unsigned long long) status->steps_done,
              (unsigned long long) status->steps_total);
    s_print_header ("progress", text);
    s_utc (status->created_ms, true, text, sizeof text);
    s_print_header ("created", text);
    s_utc (status->updated_ms, true, text, sizeof text);
    s_print_header ("updated", text);
    s_utc (status->finished_ms, true, text, sizeof text);
    s_print_header ("finished", text);
    printf ("%-12s", "last error");
    s_put_text (stdout, status->last_error, "-");
    printf ("\n\n");
    s_table_print (&table, "");
    //  The latest analysis of each target that has one.
    for (size_t i = 0; i < count; i++) {
        if (!targets [i].analysis)
            continue;
        printf ("\nanalysis of %s:\n", s_table_row (&table, i) [0]);
        s_print_analysis (targets [i].analysis, "  ");
    }
    s_table_destroy (&table);
    return 0;
}

static int
s_cmd_status (ctl_t *self)
{
    const char *id = self->opts.args [1];
    if (!s_id_valid (id))
        return s_id_usage_error ("", id);
    flot_body_t *body;
    flot_err_t err;
    if (s_call_id (self, "GetStatus", id, &body, &err))
        return s_report (self, COORDINATOR_SERVICE, "GetStatus", &err);
    status_t status;
    int rc = RC_OK;
    if (self->opts.json)
        rc = s_print_json (flot_body_root (body), false);
    else
    if (s_status_parse (body, &status, &err)
    ||  s_print_status (&status, &err))
        rc = s_bad_reply (COORDINATOR_SERVICE, "GetStatus", &err);
    flot_body_destroy (&body);
    return rc;
}

#define LIST_COLS 5

static const char *const s_list_headers [LIST_COLS] = {
    "ID", "NAME", "STATE", "PERCENT", "UPDATED"
};

static void
s_list_row (const flot_coordinator_deployment_t *deployment, cell_t *row)
{
    s_cell (row [0], deployment->id);
    s_cell (row [1], deployment->name);
    s_cell (row [2], deployment->state);
    snprintf (row [3], CELL_MAX, "%llu%%", (unsigned long long) deployment->percent);
    s_utc (deployment->updated_ms, true, row [4], CELL_MAX);
}

//  Prints a List reply as a table.
static int
s_print_list (flot_body_t *body, flot_err_t *err)
{
    flot_coordinator_list_reply_t list = { { 0 } };
    if (flot_coordinator_list_reply_decode (flot_body_root (body), flot_body_zone (body),
                                            &list, err))
        return -1;
    const flot_coordinator_deployment_t *items = list.deployments.items;
    table_t table;
    if (s_table_init (&table, s_list_headers, LIST_COLS, list.deployments.count, err))
        return -1;
    for (size_t i = 0; i < list.deployments.count; i++)
        s_list_row (&items [i], s_table_row (&table, i));
    s_table_print (&table, "");
    s_table_destroy (&table);
    return 0;
}

static int
s_cmd_list (ctl_t *self)
{
    flot_coordinator_list_request_t request = { 0 };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_coordinator_list_request_def, &request, &sbuf);
    flot_body_t *body;
    flot_err_t err;
    int rc = s_call (self, COORDINATOR_SERVICE, NULL, "List", &sbuf, &body, &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc)
        return s_report (self, COORDINATOR_SERVICE, "List", &err);
    rc = RC_OK;
    if (self->opts.json)
        rc = s_print_json (flot_body_root (body), false);
    else
    if (s_print_list (body, &err))
        rc = s_bad_reply (COORDINATOR_SERVICE, "List", &err);
    flot_body_destroy (&body);
    return rc;
}

//  --------------------------------------------------------------------------
//  watch: the progress summary

//  The states a deployment does not leave, what to say of each, and the
//  event the coordinator publishes last on reaching it.
static const struct {
    const char *state, *words, *event;
} s_final_states [] = {
    { "completed", "completed", "deployment.completed" },
    { "failed", "failed", "deployment.failed" },
    { "aborted", "was aborted", "deployment.aborted" },
    { "rolled_back", "failed and was rolled back", "deployment.rolled_back" },
    { "rollback_failed", "failed, and so did its rollback", "rollback.failed" },
    { NULL, NULL, NULL }
};

//  The entry of a final state, or NULL for a state it may leave.
static int
s_final_state (const char *state)
{
    for (int i = 0; s_final_states [i].state; i++)
        if (streq (s_final_states [i].state, state))
            return i;
    return -1;
}

//  Counts the targets in each state, in the order states first appear.
#define STATES_MAX 16

typedef struct {
    cell_t state;
    unsigned count;
} state_count_t;

//  The summary of a GetStatus reply on one line:
//  web-3 running 40% (4/10 steps); targets: 1 done, 1 running, 1 pending;
//  now: b running b/1 (apply)
static void
s_summary (const status_t *status, char *line, size_t cap)
{
    state_count_t states [STATES_MAX];
    size_t kinds = 0, active = 0;
    cell_t shown [ACTIVE_SHOWN][TARGET_COLS];
    size_t count = status->targets.count;
    for (size_t i = 0; i < count; i++) {
        cell_t row [TARGET_COLS];
        s_target_row (&STATUS_TARGETS (status) [i], row);
        size_t k = 0;
        while (k < kinds && !streq (states [k].state, row [1]))
            k++;
        if (k == kinds && kinds < STATES_MAX) {
            memcpy (states [kinds].state, row [1], sizeof (cell_t));
            states [kinds++].count = 0;
        }
        if (k < kinds)
            states [k].count++;
        if (streq (row [1], "running") || streq (row [1], "waiting")) {
            if (active < ACTIVE_SHOWN)
                memcpy (shown [active], row, sizeof row);
            active++;
        }
    }
    *line = 0;
    s_append (line, cap, "%s %s%s %llu%% (%llu/%llu steps); targets:",
              status->id, status->state, status->paused ? ", paused," : "",
              (unsigned long long) status->percent,
              (unsigned long long) status->steps_done,
              (unsigned long long) status->steps_total);
    for (size_t k = 0; k < kinds; k++)
        s_append (line, cap, "%s %u %s", k ? "," : "", states [k].count,
                  states [k].state);
    for (size_t a = 0; a < MIN (active, ACTIVE_SHOWN); a++)
        s_append (line, cap, "%s %s %s %s (%s)", a ? "," : "; now:",
                  shown [a][0], shown [a][1], shown [a][2], shown [a][3]);
    if (active > ACTIVE_SHOWN)
        s_append (line, cap, " and %zu more", active - ACTIVE_SHOWN);
}

//  --------------------------------------------------------------------------
//  watch

typedef struct {
    const char *id;
    char line [1024];           //  the last summary printed
    int64_t final_at;           //  when the state was first seen final; 0 before
    int64_t failing_since;      //  since when GetStatus fails; 0 while it answers
} watch_t;

//  The end: 0 if the deployment completed, else 1 with its last error.
static int
s_watch_end (ctl_t *self, const status_t *status)
{
    int final = s_final_state (status->state);
    assert (final >= 0);
    if (streq (status->state, "completed")) {
        if (!self->opts.json) {
            char took [32] = "";
            if (status->finished_ms >= status->created_ms && status->created_ms)
                s_duration (status->finished_ms - status->created_ms, took, sizeof took);
            printf ("deployment %s completed: %llu of %llu steps%s%s\n", status->id,
                    (unsigned long long) status->steps_done,
                    (unsigned long long) status->steps_total,
                    *took ? " in " : "", took);
            fflush (stdout);
        }
        return RC_OK;
    }
    fprintf (stderr, "flotctl: deployment %s %s: ", status->id,
             s_final_states [final].words);
    s_put_text (stderr, status->last_error, "no error given");
    fputc ('\n', stderr);
    return RC_ERROR;
}

//  GetStatus failed. Returns -1 to ask again (the coordinator is between
//  instances, for at most --timeout), or an exit code.
static int
s_watch_failed (ctl_t *self, watch_t *watch, const flot_err_t *err)
{
    bool passing = err->code == FLOT_E_NO_INSTANCE || err->code == FLOT_E_ACTOR_FAILED
                || err->code == FLOT_E_BUSY;
    int64_t now = zclock_mono ();
    if (passing && !watch->failing_since) {
        watch->failing_since = now;
        fprintf (stderr, "flotctl: warning: %s (%d): %s; asking again for %u ms\n",
                 flot_err_name (err->code), err->code, err->message,
                 self->opts.timeout_ms);
    }
    if (passing && now - watch->failing_since < self->opts.timeout_ms)
        return -1;
    return s_report (self, COORDINATOR_SERVICE, "GetStatus", err);
}

//  Prints the summary (or with --json the reply) if it changed.
static void
s_watch_summary (ctl_t *self, watch_t *watch, const char *line,
                 const msgpack_object *root)
{
    if (streq (line, watch->line))
        return;
    snprintf (watch->line, sizeof watch->line, "%s", line);
    if (self->opts.json)
        s_print_json (root, false);
    else {
        s_put_cell (line, 0);
        putchar ('\n');
        fflush (stdout);
    }
}

//  Asks for the deployment's status, prints the summary if it changed.
//  Returns -1 to go on, or an exit code once it is over and its last event
//  came (or did not come within FINAL_GRACE_MS): the final summary waits
//  for that event, so that it comes after the events.
static int
s_watch_status (ctl_t *self, watch_t *watch)
{
    flot_body_t *body;
    flot_err_t err;
    if (s_call_id (self, "GetStatus", watch->id, &body, &err))
        return s_watch_failed (self, watch, &err);
    if (watch->failing_since)
        fprintf (stderr, "flotctl: the coordinator answers again\n");
    watch->failing_since = 0;
    status_t status;
    char line [sizeof watch->line];
    int rc = -1;
    if (s_status_parse (body, &status, &err))
        rc = s_bad_reply (COORDINATOR_SERVICE, "GetStatus", &err);
    else {
        s_summary (&status, line, sizeof line);
        int final = s_final_state (status.state);
        int64_t now = zclock_mono ();
        if (final >= 0 && !watch->final_at)
            watch->final_at = now;
        bool over = final >= 0
                 && (streq (self->outcome, s_final_states [final].event)
                 ||  now - watch->final_at >= FINAL_GRACE_MS);
        if (final < 0 || over)
            s_watch_summary (self, watch, line, flot_body_root (body));
        if (over)
            rc = s_watch_end (self, &status);
    }
    flot_body_destroy (&body);
    return rc;
}

//  Reads the events that are there now, without waiting.
static void
s_watch_events (ctl_t *self, feed_t *feed, zsock_t *sub)
{
    zmq_pollitem_t item = { zsock_resolve (sub), 0, ZMQ_POLLIN, 0 };
    for (int i = 0; i < 1000 && zmq_poll (&item, 1, 0) > 0; i++) {
        zmsg_t *msg = zmsg_recv (sub);
        if (msg)
            s_live_event (self, feed, msg);
        zmsg_destroy (&msg);
    }
}

//  Events as they come; the status after events and every second.
static int
s_watch_loop (ctl_t *self, watch_t *watch, feed_t *feed, zsock_t *sub)
{
    zmq_pollitem_t item = { zsock_resolve (sub), 0, ZMQ_POLLIN, 0 };
    int64_t next_status = 0, last_status = 0, last_event = zclock_mono ();
    while (!zsys_interrupted) {
        int64_t now = zclock_mono ();
        if (now >= next_status) {
            int rc = s_watch_status (self, watch);
            if (rc >= 0)
                return rc;
            last_status = now = zclock_mono ();
            next_status = now + STATUS_EVERY_MS;
            if (now - last_event >= IDLE_CHECK_MS || watch->final_at)
                s_idle_check (self, feed);      //  the last event may be lost
        }
        int n = zmq_poll (&item, 1, MAX (next_status - zclock_mono (), 0));
        if (n < 0 && errno != EINTR)
            return s_fail (RC_ERROR, "cannot read events: %s", zmq_strerror (errno));
        if (n > 0) {
            s_watch_events (self, feed, sub);
            last_event = zclock_mono ();
            next_status = MIN (next_status, last_status + STATUS_GAP_MS);
        }
    }
    return s_fail (RC_NO_ANSWER, "stopped watching %s before it ended", watch->id);
}

//  Watches deployment id until it ends. Returns the exit code.
static int
s_watch (ctl_t *self, const char *id)
{
    char pub [256];
    uint64_t last;
    flot_err_t err;
    self->opts.deployment = id;         //  replays are of this deployment
    self->watching = true;
    if (s_events_info (self, pub, sizeof pub, &last, &err))
        return s_report (self, EVENTS_SERVICE, "Info", &err);
    const char *endpoint = self->opts.events_endpoint ? self->opts.events_endpoint : pub;
    zsock_t *sub = s_subscribe (endpoint, id);
    if (!sub)
        return s_fail (self->opts.events_endpoint ? RC_USAGE : RC_ERROR,
                       "cannot subscribe to events at '%s'", endpoint);
    //  Subscribed first, then replay: nothing falls between the two.
    feed_t feed = { .covered = 0, .seen = last };
    watch_t watch = { .id = id };
    int rc = RC_OK;
    if (s_replay (self, &feed, 0, &err))
        rc = s_report (self, EVENTS_SERVICE, "Replay", &err);
    else {
        fprintf (stderr, "flotctl: watching deployment %s (events on %s)\n", id, endpoint);
        rc = s_watch_loop (self, &watch, &feed, sub);
    }
    zsock_destroy (&sub);
    return rc;
}

static int
s_cmd_watch (ctl_t *self)
{
    const char *id = self->opts.args [1];
    if (!s_id_valid (id))
        return s_id_usage_error ("", id);
    return s_watch (self, id);
}

//  --------------------------------------------------------------------------
//  apply

static int
s_cmd_apply (ctl_t *self)
{
    if ((self->opts.given & OPT_DRY_RUN) && (self->opts.given & OPT_WATCH))
        return s_usage_error ("--dry-run runs nothing to --watch; give one of them");
    if (self->opts.given & OPT_DRY_RUN)
        return s_cmd_plan (self);
    if (!(self->opts.given & OPT_FILE))
        return s_usage_error ("'apply' needs the spec file: flotctl apply -f FILE");
    spec_t spec;
    flot_body_t *body = NULL;
    int rc = s_spec_load (self, &spec);
    if (rc < 0)
        rc = s_spec_call (self, &spec, "Execute", &body);
    s_spec_clear (&spec);
    if (rc >= 0)
        return rc;
    const msgpack_object *root = flot_body_root (body);
    flot_coordinator_execute_reply_t reply = { 0 };
    char id [FLOT_MAX_ID + 1] = "";
    flot_err_t err;
    if (flot_coordinator_execute_reply_decode (root, flot_body_zone (body), &reply, &err)
    ||  (!s_id_valid (reply.id) && flot_err_set (&err, FLOT_E_MALFORMED,
                                                 "'%.100s' is not a deployment id", reply.id)))
        rc = s_bad_reply (COORDINATOR_SERVICE, "Execute", &err);
    else
    if (self->opts.json)
        rc = s_print_json (root, false);
    else {
        printf ("deployment %s started: %llu step%s\n", reply.id,
                (unsigned long long) reply.steps_total, reply.steps_total == 1 ? "" : "s");
        fflush (stdout);
        rc = RC_OK;
    }
    if (rc == RC_OK)
        snprintf (id, sizeof id, "%s", reply.id);     //  valid: it fits
    flot_body_destroy (&body);
    if (rc == RC_OK && (self->opts.given & OPT_WATCH))
        rc = s_watch (self, id);
    return rc;
}

//  --------------------------------------------------------------------------
//  pause, resume, promote, abort

//  Sends command with request (a struct of def: the id and the options the
//  command takes); prints the new state (coordinator STATE).
static int
s_control (ctl_t *self, const char *command, const flot_struct_t *def,
           const void *request)
{
    const char *id = self->opts.args [1];
    if (!s_id_valid (id))
        return s_id_usage_error ("", id);
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (def, request, &sbuf);
    flot_body_t *body = NULL;
    flot_err_t err;
    int rc = RC_OK;
    if (sbuf.size > FLOT_MAX_BODY)
        rc = s_usage_error ("--reason is too long: the request would be %zu "
                            "bytes, the limit is %d", sbuf.size, FLOT_MAX_BODY);
    else
    if (s_call (self, COORDINATOR_SERVICE, NULL, command, &sbuf, &body, &err))
        rc = s_report (self, COORDINATOR_SERVICE, command, &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (!body)
        return rc;
    const msgpack_object *root = flot_body_root (body);
    flot_coordinator_state_t reply = { 0 };
    if (flot_coordinator_state_decode (root, flot_body_zone (body), &reply, &err))
        rc = s_bad_reply (COORDINATOR_SERVICE, command, &err);
    else
    if (self->opts.json)
        rc = s_print_json (root, false);
    else {
        printf ("deployment %s: ", id);
        s_put_cell (reply.state, 0);
        printf ("%s\n", reply.paused ? ", paused" : "");
        fflush (stdout);
    }
    flot_body_destroy (&body);
    return rc;
}

static int
s_cmd_pause (ctl_t *self)
{
    flot_coordinator_id_t request = { .id = self->opts.args [1] };
    return s_control (self, "Pause", &flot_coordinator_id_def, &request);
}

static int
s_cmd_resume (ctl_t *self)
{
    flot_coordinator_id_t request = { .id = self->opts.args [1] };
    return s_control (self, "Resume", &flot_coordinator_id_def, &request);
}

static int
s_cmd_promote (ctl_t *self)
{
    bool full = self->opts.given & OPT_FULL;
    flot_coordinator_promote_request_t request = {
        .id = self->opts.args [1], .full = full, .has_full = full
    };
    return s_control (self, "Promote", &flot_coordinator_promote_request_def, &request);
}

static int
s_cmd_abort (ctl_t *self)
{
    flot_coordinator_abort_request_t request = {
        .id = self->opts.args [1], .reason = self->opts.reason
    };
    return s_control (self, "Abort", &flot_coordinator_abort_request_def, &request);
}

//  --------------------------------------------------------------------------
//  analyze and metrics push

//  How long the analysis may take: its longest metric's initial delay and
//  count intervals, twice, and 30 s more; the most a request may wait.
static uint32_t
s_analysis_timeout (const void *data, size_t size)
{
    int64_t longest = 0;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    if (msgpack_unpack_next (&unpacked, data, size, &offset) == MSGPACK_UNPACK_SUCCESS) {
        flot_err_t err;
        flot_analysis_t *analysis = flot_analysis_parse (&unpacked.data, "analysis", &err);
        for (size_t i = 0; analysis && i < analysis->metric_count; i++) {
            const flot_analysis_metric_t *m = &analysis->metrics [i];
            int64_t ms = m->initial_delay_ms + (int64_t) m->limits.count * m->interval_ms;
            longest = MAX (longest, ms);
        }
        flot_analysis_destroy (&analysis);
    }
    msgpack_unpacked_destroy (&unpacked);
    int64_t timeout = 2 * longest + 30000;
    return (uint32_t) MIN (timeout, (int64_t) FLOT_MAX_TIMEOUT_MS);
}

//  The spec of --file as the strategy service resolves it (Validate first,
//  for every error): the model a deployment of it would run on. Returns
//  -1 with *spec_p, or an exit code.
static int
s_spec_resolve (ctl_t *self, flot_spec_t **spec_p)
{
    spec_t file;
    int rc = s_spec_load (self, &file);
    if (rc >= 0) {
        s_spec_clear (&file);
        return rc;
    }
    flot_strategy_spec_text_t request = { .spec = file.text, .file = file.file };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_strategy_spec_text_def, &request, &sbuf);
    s_spec_clear (&file);
    flot_body_t *body = NULL;
    flot_err_t err;
    if (s_call (self, STRATEGY_SERVICE, FLOT_STRATEGY_SPEC_KEY, FLOT_STRATEGY_RESOLVE, &sbuf, &body, &err))
        rc = s_report (self, STRATEGY_SERVICE, "Resolve", &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc < 0) {
        flot_strategy_resolved_t resolved;
        if (flot_strategy_resolved_decode (flot_body_root (body), flot_body_zone (body),
                                           &resolved, &err)
        ||  !(*spec_p = flot_resolved_spec (&resolved, &err)))
            rc = s_bad_reply (STRATEGY_SERVICE, "Resolve", &err);
    }
    flot_body_destroy (&body);
    return rc;
}

static int
s_cmd_analyze (ctl_t *self)
{
    flot_spec_t *spec = NULL;
    int rc = s_spec_resolve (self, &spec);
    if (rc >= 0)
        return rc;
    const flot_target_t *target = spec->target_count ? &spec->targets [0] : NULL;
    if (self->opts.target) {
        int index = flot_spec_target_index (spec, self->opts.target);
        target = index >= 0 ? &spec->targets [index] : NULL;
    }
    if (!spec->checks.analysis || !target) {
        fprintf (stderr, "flotctl: %s: %s\n", self->opts.file, !target
                 ? "no such target in the spec" : "the spec has no analysis section");
        flot_spec_destroy (&spec);
        return RC_ERROR;
    }
    //  The spec's analysis section (msgpack, parsed by the analyzer); the
    //  canary is the new version (or --version), the baseline the version a
    //  rollback puts back, as at a deployment's gates.
    flot_err_t err;
    flot_body_t *analysis = flot_body_decode (spec->checks.analysis,
                                              spec->checks.analysis_size, &err);
    flot_health_context_t context, baseline;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    const char *canary = self->opts.version ? self->opts.version : spec->workload.version;
    const char *previous = spec->workload.rollback_version;
    bool ok = analysis
           && flot_context_fill (&context, spec, target, canary, &zone) == 0
           && flot_context_fill (&baseline, spec, target, previous, &zone) == 0;
    msgpack_sbuffer sbuf;
    if (ok) {
        flot_analyzer_run_t run = {
            .analysis = flot_body_root (analysis), .context = &context, .baseline = &baseline
        };
        flot_encode_sbuf (&flot_analyzer_run_def, &run, &sbuf);
    }
    else
        msgpack_sbuffer_init (&sbuf);
    if (!ok)
        fprintf (stderr, "flotctl: %s: the analysis section cannot be sent: %s\n",
                 self->opts.file, analysis ? "out of memory" : err.message);
    else
    if (!self->opts.timeout_given)
        self->opts.timeout_ms = s_analysis_timeout (spec->checks.analysis,
                                                    spec->checks.analysis_size);
    flot_body_destroy (&analysis);
    msgpack_zone_destroy (&zone);
    flot_spec_destroy (&spec);
    if (!ok) {
        msgpack_sbuffer_destroy (&sbuf);
        return RC_ERROR;
    }
    flot_body_t *body = NULL;
    rc = s_call (self, ANALYZER_SERVICE, NULL, FLOT_ANALYZER_ANALYZE, &sbuf, &body, &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc)
        return s_report (self, ANALYZER_SERVICE, "Analyze", &err);
    const msgpack_object *root = flot_body_root (body);
    flot_analyzer_result_t result;
    if (flot_analyzer_result_decode (root, flot_body_zone (body), &result, &err)) {
        flot_body_destroy (&body);
        return s_bad_reply (ANALYZER_SERVICE, "Analyze", &err);
    }
    if (self->opts.json)
        s_print_json (root, false);
    else
        s_print_analysis (&result, "");
    rc = streq (result.recommendation, "promote") ? RC_OK
       : streq (result.recommendation, "pause") ? RC_PAUSE : RC_ERROR;
    flot_body_destroy (&body);
    return rc;
}

static int
s_cmd_metrics (ctl_t *self)
{
    if (!streq (self->opts.args [1], "push"))
        return s_usage_error ("unknown metrics command '%s'; usage: flotctl metrics push "
                              "METRIC --role canary|baseline [--target NAME] VALUE...",
                              self->opts.args [1]);
    if (!self->opts.role)
        return s_usage_error ("metrics push needs --role canary or --role baseline");
    const char *metric = self->opts.args [2];
    int count = self->opts.nargs - 3;
    double *values = calloc ((size_t) count + 1, sizeof (double));
    assert (values);
    for (int i = 0; i < count; i++) {
        const char *text = self->opts.args [3 + i];
        char *end = NULL;
        errno = 0;
        values [i] = strtod (text, &end);
        if (!*text || *end || errno || !isfinite (values [i])) {
            free (values);
            return s_usage_error ("value '%s' is not a finite number", text);
        }
    }
    flot_analyzer_push_request_t request = {
        .metric = metric, .target = self->opts.target, .role = self->opts.role,
        .values = { .count = (size_t) count, .items = values }
    };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_analyzer_push_request_def, &request, &sbuf);
    free (values);
    flot_body_t *body = NULL;
    flot_err_t err;
    int rc = s_call (self, ANALYZER_SERVICE, NULL, FLOT_ANALYZER_PUSH, &sbuf, &body, &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc)
        return s_report (self, ANALYZER_SERVICE, "Push", &err);
    const msgpack_object *root = flot_body_root (body);
    flot_analyzer_push_reply_t reply;
    if (flot_analyzer_push_reply_decode (root, flot_body_zone (body), &reply, &err)) {
        flot_body_destroy (&body);
        return s_bad_reply (ANALYZER_SERVICE, "Push", &err);
    }
    if (self->opts.json)
        rc = s_print_json (root, false);
    else
        printf ("stored %llu samples of %s (%s%s%s), %llu kept\n",
                (unsigned long long) reply.stored, metric, self->opts.role,
                self->opts.target ? ", target " : "", self->opts.target ? self->opts.target : "",
                (unsigned long long) reply.kept);
    flot_body_destroy (&body);
    return rc;
}

//  --------------------------------------------------------------------------
//  main

typedef struct {
    const char *name;
    int (*run) (ctl_t *self);
    int min_args, max_args;     //  after the command's name
    unsigned options;           //  the OPT_* it takes
    const char *synopsis;
} command_t;

static const command_t s_commands [] = {
    { "ping", s_cmd_ping, 0, 0, 0, "ping" },
    { "actors", s_cmd_actors, 0, 0, 0, "actors" },
    { "events", s_cmd_events, 0, 0,
      OPT_FOLLOW | OPT_SINCE | OPT_DEPLOYMENT | OPT_TYPE | OPT_EVENTS_EP,
      "events [--follow] [--since SEQ] [--deployment ID] [--type PREFIX]" },
    { "call", s_cmd_call, 2, 3, OPT_KEY, "call SERVICE COMMAND [JSON] [--key K]" },
    { "strategies", s_cmd_strategies, 0, 0, 0, "strategies" },
    { "plan", s_cmd_plan, 0, 0, OPT_FILE, "plan -f FILE" },
    { "apply", s_cmd_apply, 0, 0, OPT_FILE | OPT_DRY_RUN | OPT_WATCH | OPT_EVENTS_EP,
      "apply -f FILE [--dry-run | --watch]" },
    { "status", s_cmd_status, 1, 1, 0, "status ID" },
    { "list", s_cmd_list, 0, 0, 0, "list" },
    { "watch", s_cmd_watch, 1, 1, OPT_EVENTS_EP, "watch ID [--events-endpoint E]" },
    { "pause", s_cmd_pause, 1, 1, 0, "pause ID" },
    { "resume", s_cmd_resume, 1, 1, 0, "resume ID" },
    { "promote", s_cmd_promote, 1, 1, OPT_FULL, "promote ID [--full]" },
    { "abort", s_cmd_abort, 1, 1, OPT_REASON, "abort ID [--reason TEXT]" },
    { "analyze", s_cmd_analyze, 0, 0, OPT_FILE | OPT_TARGET | OPT_VERSION_ARG,
      "analyze -f FILE [--target NAME] [--version V]" },
    { "metrics", s_cmd_metrics, 3, 100002, OPT_TARGET | OPT_ROLE,
      "metrics push METRIC --role canary|baseline [--target NAME] VALUE..." },
    { NULL, NULL, 0, 0, 0, NULL }
};

#define COMMAND_NAMES "ping, actors, events, call, strategies, plan, apply, status, list, " \
                      "watch, pause, resume, promote, abort, analyze, metrics"

static const struct { unsigned bit; const char *name; } s_option_names [] = {
    { OPT_FOLLOW, "--follow" }, { OPT_SINCE, "--since" },
    { OPT_DEPLOYMENT, "--deployment" }, { OPT_TYPE, "--type" },
    { OPT_EVENTS_EP, "--events-endpoint" }, { OPT_KEY, "--key" },
    { OPT_FILE, "--file" }, { OPT_DRY_RUN, "--dry-run" }, { OPT_WATCH, "--watch" },
    { OPT_FULL, "--full" }, { OPT_REASON, "--reason" }, { OPT_TARGET, "--target" },
    { OPT_ROLE, "--role" }, { OPT_VERSION_ARG, "--version V" }, { 0, NULL }
};

//  Finds the command and checks its arguments and options; NULL on error.
static const command_t *
s_command (const options_t *opts)
{
    if (opts->nargs == 0) {
        s_usage_error ("no command given (%s)", COMMAND_NAMES);
        return NULL;
    }
    const command_t *cmd = s_commands;
    while (cmd->name && !streq (cmd->name, opts->args [0]))
        cmd++;
    if (!cmd->name) {
        s_usage_error ("unknown command '%s' (%s)", opts->args [0], COMMAND_NAMES);
        return NULL;
    }
    int nargs = opts->nargs - 1;
    if (nargs < cmd->min_args || nargs > cmd->max_args) {
        s_usage_error ("%s arguments for '%s'; usage: flotctl %s",
                       nargs < cmd->min_args ? "missing" : "too many",
                       cmd->name, cmd->synopsis);
        return NULL;
    }
    for (int i = 0; s_option_names [i].name; i++)
        if ((opts->given & s_option_names [i].bit) & ~cmd->options) {
            s_usage_error ("%s does not apply to '%s'; usage: flotctl %s",
                           s_option_names [i].name, cmd->name, cmd->synopsis);
            return NULL;
        }
    return cmd;
}

//  True if the command takes a spec file (plan, apply), so that -f means
//  --file, not --follow. The command is the first argument that is neither
//  an option nor an option's value, as getopt_long finds it; a word right
//  after -f that names no command is taken as -f's file.
static bool
s_takes_file (int argc, char *argv [])
{
    char **copy = calloc ((size_t) argc + 1, sizeof *copy);
    if (!copy)
        return false;
    memcpy (copy, argv, (size_t) argc * sizeof *copy);
    optind = 0;
    opterr = 0;                 //  s_parse reports errors
    int f_value = -1;           //  where the value of a bare -f would be
    const char *word = NULL;
    while (!word) {
        int c = getopt_long (argc, copy, "+fhV", s_longopts, NULL);
        if (c == 'f' && streq (copy [optind - 1], "-f"))
            f_value = optind;
        if (c != -1)
            continue;
        if (optind >= argc)
            break;
        const command_t *cmd = s_commands;
        while (cmd->name && !streq (cmd->name, copy [optind]))
            cmd++;
        if (cmd->name || optind != f_value)
            word = copy [optind];
        else
            optind++;           //  -f's file, before the command
    }
    free (copy);
    s_analyze_mode = word && streq (word, "analyze");
    return word && (streq (word, "plan") || streq (word, "apply") || streq (word, "analyze"));
}

int
main (int argc, char *argv [])
{
    ctl_t self = { .client = NULL };
    int rc = s_parse (argc, argv, s_takes_file (argc, argv), &self.opts);
    if (rc >= 0)
        return rc;
    const command_t *cmd = s_command (&self.opts);
    if (!cmd)
        return RC_USAGE;
    self.client = flot_client_new (self.opts.endpoint);
    if (!self.client)
        return s_usage_error ("cannot use broker endpoint '%s': %s",
                              self.opts.endpoint, zmq_strerror (zmq_errno ()));
    rc = cmd->run (&self);
    flot_client_destroy (&self.client);
    return rc;
}
