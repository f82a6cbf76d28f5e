/*  main.c - flotctl's command line: options, --help, the command table,
    exit codes.

    flotctl is the command-line client of Flotilla. It talks to a broker
    (flotillad) over one DEALER socket through flotilla/client.h and, for
    `events --follow` and `watch`, to the events actor's PUB socket through
    flotilla/subscriber.h. Commands: ping, actors, events, call, strategies;
    for deployments plan, apply, status, list, watch, pause, resume,
    promote, abort, which read spec files, ask the strategy service to
    validate them and the coordinator service to plan, run and steer them;
    analyze and metrics push for the analyzer; keys for a broker's key
    directory (files only, no broker). Human output by default,
    JSON (jansson, through flotilla/json.h) with --json. Every call is
    bounded by --timeout, so a dead broker is exit code 3, never a hang.
    Owns nothing beyond its own sockets.

    This file parses the command line into a ctl_t (ctl.h), finds the
    command in the table, checks its arguments and options, and runs it;
    each command lives in the file of its group.
*/
#include "ctl.h"
#include "flotilla/version.h"

#include <errno.h>
#include <getopt.h>

#define DEFAULT_ENDPOINT    "tcp://127.0.0.1:5555"
#define DEFAULT_TIMEOUT_MS  5000

//  analyze: --version takes a value (set before the options are parsed).
static bool s_analyze_mode = false;
//  keys: --help is the help of keys.
static bool s_keys_mode = false;

//  Long options without a short form.
enum {
    LONG_CERT = 1000, LONG_BROKER_CERT, LONG_DIR, LONG_SERVICES, LONG_TARGETS,
    LONG_OUT, LONG_NAME, LONG_FINISH, LONG_NO_CHECK, LONG_QUEUE, LONG_REPLACE, LONG_STEP,
    LONG_ALL, LONG_OFFSET, LONG_LIMIT, LONG_PAGE
};

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
"                       valid; else check the hook (below) and ask the\n"
"                       coordinator for its plan and print it, running\n"
"                       nothing: each target in dependency order\n"
"                       with its wave, its dependencies and its steps (id, type,\n"
"                       weight, duration, whether it runs the hook or a gate),\n"
"                       then the order of the rollback plan. The plan is\n"
"                       fetched in pages; one of more than 50 targets is\n"
"                       summed up: its targets by wave, the steps each runs\n"
"                       (those of the first target, and whether every other\n"
"                       runs the same), the first targets in order, and the\n"
"                       start of the rollback order. --json: the whole plan,\n"
"                       the pages joined into one Plan reply\n"
"      --all            plan: every target and its steps, however many\n"
"  apply -f FILE        validate FILE as plan does, then start the deployment:\n"
"                         deployment web-3 started: 12 steps\n"
"                       The spec's hook names a program in the executor's\n"
"                       hooks directory (flotillad --hooks-dir).\n"
"                       plan and apply first ask each live executor instance\n"
"                       that would serve a target of the spec (one that claims\n"
"                       the target, else one that claims none) whether it can\n"
"                       run the hook (executor ValidateStep), once per instance:\n"
"                       one that cannot fails them (exit 1) naming the hook,\n"
"                       the instance and why, and nothing runs; with no\n"
"                       executor live, a warning, and they go on\n"
"      --no-check       plan, apply: skip that check\n"
"      --dry-run        print the plan instead (the same as plan)\n"
"      --watch          then watch the deployment as watch does, with its exit\n"
"                       status\n"
"                       A target (by workload and target name) is held by the\n"
"                       deployment rolling it until that one ends; apply of a\n"
"                       spec that shares one is refused (CONFLICT, naming it)\n"
"                       unless one of these says what to do:\n"
"      --queue          start it now, but run nothing until every deployment\n"
"                       ahead of it on its targets has ended (status shows\n"
"                       \"queued behind ID\")\n"
"      --replace        abort those deployments first (they roll back), then\n"
"                       run as --queue does\n"
"  status ID            the state of deployment ID: id, name, strategy, state,\n"
"                       paused, progress (percent, steps done of all), times,\n"
"                       last error; then one line per target: TARGET STATE STEP\n"
"                       TYPE STEP-STATE ATTEMPT WEIGHT HEALTH (unchecked without\n"
"                       health checks); then each target's latest analysis:\n"
"                       each metric's kind, phase, value or verdict, and why,\n"
"                       the score and the recommendation; then who gave it\n"
"                       which command. A deployment of more than 25 targets is\n"
"                       summed up instead, in at most 40 lines: the header, its\n"
"                       targets counted by state, in all and by wave (the\n"
"                       waves under way first), then its failed targets (5 at\n"
"                       most) and its running and waiting ones (5 at most), and\n"
"                       how to see the rest:\n"
"      --target NAME    only target NAME, in full\n"
"      --all            every target, in full (fetched in pages)\n"
"      --offset N       the targets from the N-th (from 0) on, in the spec's order\n"
"      --limit N        at most N targets (default 25 with --offset)\n"
"                       With --json: the coordinator's GetStatus reply with\n"
"                       every target (its pages joined into one; a summary\n"
"                       counts them by state and wave), or the part --target\n"
"                       or --offset/--limit asks for\n"
"  list                 the deployments the coordinator knows, oldest first,\n"
"                       one per line: ID NAME STATE PERCENT UPDATED (time in\n"
"                       UTC); every one, fetched in pages, each after the\n"
"                       last one's last deployment, so that none is missed or\n"
"                       shown twice when retention removes some meanwhile\n"
"                       (with --json, the pages joined into one List reply)\n"
"      --name NAME      only those of spec NAME\n"
"      --offset N       from the N-th (from 0) on\n"
"      --limit N        at most N of them\n"
"                       status, list, plan:\n"
"      --page N         ask for N targets or deployments per call, 1..10000\n"
"                       (default 1000 for status and list, 2500 for plan; the\n"
"                       coordinator answers fewer when they would not fit in\n"
"                       one reply)\n"
"  watch ID             follow deployment ID until it ends: first the events it\n"
"                       has published so far, then each event as it comes, as\n"
"                         time (UTC) type target message\n"
"                       (analysis.result events give the score, each metric's\n"
"                       latest value and verdict, and the recommendation;\n"
"                       health.* events each change of a target's health)\n"
"                       and a one-line progress summary (from the coordinator,\n"
"                       asked after events and at least every second) whenever\n"
"                       it changes. Survives restarts: while the broker, the\n"
"                       coordinator or the events service is away (UNKNOWN_\n"
"                       SERVICE, NO_INSTANCE, DEADLINE, ACTOR_FAILED, BUSY,\n"
"                       CANCELLED) it warns (once, and again when the error\n"
"                       changes) and asks again, and follows\n"
"                       the events again from the one after the last printed,\n"
"                       so none is missed or printed twice. Exits once the\n"
"                       deployment has ended and its last event came:\n"
"                         0  every target completed\n"
"                         1  it failed, was aborted, was rolled back, or its\n"
"                            rollback failed (its last error on stderr), or an\n"
"                            error that does not pass (NOT_FOUND, NOT_AUTHORIZED)\n"
"                         4  it completed, and some targets were skipped\n"
"                         3  with --timeout MS only: nothing (neither the\n"
"                            coordinator nor the event feed) answered for MS;\n"
"                            without --timeout it waits for as long as it takes\n"
"                            (but a broker that never answered is 3 at once);\n"
"                            also on SIGINT or SIGTERM (the outcome not known)\n"
"                       With --json, the error it ends with is one JSON object\n"
"                       on the last line of stderr: {\"exit\": 3, \"code\": 6,\n"
"                       \"name\": \"DEADLINE\", \"message\": ..., \"deployment\": ID};\n"
"                       for a deployment that ended badly, code 0 and name its\n"
"                       state (failed, rolled_back, ..., completed with skips)\n"
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
"  logs ID              what the hooks of deployment ID wrote: each step that ran,\n"
"                       its last run's stdout and stderr apart (64 KiB each at\n"
"                       most, the start cut with a note beyond), and its error\n"
"      --target T       only target T's steps\n"
"      --step S         only step S (a/1, a/rollback)\n"
"  retry ID             run the failed targets of deployment ID again, each from\n"
"                       its failed step as a new attempt with the hook's retries\n"
"                       anew; a failed deployment runs again\n"
"      --target T       only target T\n"
"  skip ID --target T   let failed target T go: its steps are skipped and its\n"
"                       dependents go on without it (a failed deployment runs\n"
"                       again; it completes with T shown skipped)\n"
"      --reason TEXT    why (default: skipped by an operator)\n"
"  rollback ID          roll back a completed or failed deployment to its\n"
"                       rollback version (rolling_back, then rolled_back)\n"
"      --reason TEXT    why (default: rolled back by an operator)\n"
"                       pause, resume, promote, abort, retry, skip and rollback\n"
"                       print the new state (and whether it is paused):\n"
"                       deployment web-3: running, paused. Pause and resume\n"
"                       may be sent again: a paused deployment stays paused.\n"
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
"Keys (a broker's key directory; files only, no broker: 'flotctl keys --help'):\n"
"  keys init            make a key directory and the broker's key pair\n"
"  keys new NAME --role ROLE   make and allow a key pair; its secret in ./NAME.key\n"
"  keys create NAME     make a key pair on this host (NAME.key, NAME.pub) for\n"
"                       a broker's operator to allow\n"
"  keys allow FILE --name NAME --role ROLE   allow a public key made elsewhere\n"
"  keys list            the allowed and the revoked keys\n"
"  keys revoke NAME     revoke a key: the broker refuses it from its next request\n"
"  keys rotate [--finish]   a new broker key pair beside the old, then in its place\n"
"                       Roles: viewer, operator, actor (--services, --targets),\n"
"                       admin. The directory: --dir DIR, else $FLOTILLA_AUTH_DIR,\n"
"                       else auth-dir in the config file\n"
"\n"
"Options:\n"
"      --endpoint E     the broker (default $FLOTILLA_ENDPOINT, else endpoint in\n"
"                       the config file, else %s)\n"
"      --cert FILE      connect with the key pair in FILE (CURVE; a NAME.key of\n"
"                       flotctl keys new or create, mode 0600); default\n"
"                       $FLOTILLA_CERT, else cert in the config file\n"
"      --broker-cert FILE   the broker's public key (its broker.pub); default\n"
"                       $FLOTILLA_BROKER_CERT, else broker-cert in the config file.\n"
"                       One without the other is an error. With neither, on a\n"
"                       loopback endpoint, the keys the embedded flotillad made\n"
"                       for its user ($FLOTILLA_HOME/local, default\n"
"                       ~/.flotilla/local) if they exist; else no key (plain)\n"
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
"The config file: $FLOTILLA_CONFIG, else ~/.config/flotilla/flotilla.conf,\n"
"else /etc/flotilla/flotilla.conf; lines 'name = value' (endpoint, cert,\n"
"broker-cert, auth-dir, hooks-dir) and '#' comments. An option wins over the\n"
"environment, which wins over the file.\n"
"\n"
"Exit status:\n"
"  0  success; for events --follow, stopped by SIGINT or SIGTERM; for watch\n"
"     (and apply --watch), the deployment completed; analyze: promote\n"
"     (analyze exits 1 on rollback, and 4 on pause: a person decides)\n"
"  1  the service answered with an error, printed on stderr as\n"
"     'flotctl: NAME (code): message', or with a reply flotctl cannot read;\n"
"     plan and apply: the spec is not valid; watch: the deployment failed,\n"
"     was aborted or was rolled back; plan and apply: an executor cannot run\n"
"     the hook\n"
"  2  usage error: unknown command or option, bad argument, a JSON body that\n"
"     is not valid JSON or not an object, a spec file that cannot be read, is\n"
"     over 1 MiB or holds a NUL byte; a key file (--cert, --broker-cert) that\n"
"     cannot be read or holds no key, or a bad config file\n"
"  3  no answer in time: the broker is down or unreachable, refused the key\n"
"     (CURVE), or the deadline passed; or the link to the broker dropped while\n"
"     waiting (the command may or may not have run); a DEADLINE error reply\n"
"     (code 6) from the broker or a service also exits 3, not 1; watch:\n"
"     nothing answered for --timeout, or stopped by a signal before the end\n"
"  4  analyze: the analysis was inconclusive, and asks a person to decide;\n"
"     watch: the deployment completed with skipped targets\n",
        DEFAULT_ENDPOINT, FLOT_MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS);
}


static int
s_parse_uint (const char *text, uint64_t min, uint64_t max, const char *what,
              uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull (text, &end, 10);
    if (!*text || *text == '-' || !end || *end || errno || v < min || v > max)
        return ctl_usage_error ("%s '%s' is not a number in %llu..%llu", what,
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
    { "cert", required_argument, NULL, LONG_CERT },
    { "broker-cert", required_argument, NULL, LONG_BROKER_CERT },
    { "dir", required_argument, NULL, LONG_DIR },
    { "services", required_argument, NULL, LONG_SERVICES },
    { "targets", required_argument, NULL, LONG_TARGETS },
    { "out", required_argument, NULL, LONG_OUT },
    { "name", required_argument, NULL, LONG_NAME },
    { "finish", no_argument, NULL, LONG_FINISH },
    { "queue", no_argument, NULL, LONG_QUEUE },
    { "replace", no_argument, NULL, LONG_REPLACE },
    { "step", required_argument, NULL, LONG_STEP },
    { "no-check", no_argument, NULL, LONG_NO_CHECK },
    { "all", no_argument, NULL, LONG_ALL },
    { "offset", required_argument, NULL, LONG_OFFSET },
    { "limit", required_argument, NULL, LONG_LIMIT },
    { "page", required_argument, NULL, LONG_PAGE },
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
                return ctl_usage_error ("--file: the spec file name is empty");
            opts->file = optarg;
            opts->given |= OPT_FILE;
            return -1;
        case 'D': opts->given |= OPT_DRY_RUN; return -1;
        case 'W': opts->given |= OPT_WATCH; return -1;
        case 'U': opts->given |= OPT_FULL; return -1;
        case 'R': opts->reason = optarg; opts->given |= OPT_REASON; return -1;
        case 'G': opts->target = optarg; opts->given |= OPT_TARGET; return -1;
        case 'O':               //  checked by the command (metrics, keys)
            opts->role = optarg;
            opts->given |= OPT_ROLE;
            return -1;
        case LONG_CERT:
        case LONG_BROKER_CERT:
            if (!*optarg)
                return ctl_usage_error ("--%s: the file name is empty",
                                        c == LONG_CERT ? "cert" : "broker-cert");
            *(c == LONG_CERT ? &opts->cert : &opts->broker_cert) = optarg;
            opts->given |= OPT_CERT;
            return -1;
        case LONG_DIR:
            if (!*optarg)
                return ctl_usage_error ("--dir: the folder name is empty");
            opts->dir = optarg;
            opts->given |= OPT_DIR;
            return -1;
        case LONG_SERVICES: opts->services = optarg; opts->given |= OPT_SERVICES; return -1;
        case LONG_TARGETS: opts->targets = optarg; opts->given |= OPT_TARGETS; return -1;
        case LONG_OUT:
            if (!*optarg)
                return ctl_usage_error ("--out: the file name is empty");
            opts->out = optarg;
            opts->given |= OPT_OUT;
            return -1;
        case LONG_NAME: opts->name = optarg; opts->given |= OPT_NAME; return -1;
        case LONG_FINISH: opts->given |= OPT_FINISH; return -1;
        case LONG_QUEUE: opts->given |= OPT_QUEUE; return -1;
        case LONG_REPLACE: opts->given |= OPT_REPLACE; return -1;
        case LONG_STEP: opts->step = optarg; opts->given |= OPT_STEP; return -1;
        case LONG_NO_CHECK: opts->given |= OPT_NO_CHECK; return -1;
        case LONG_ALL: opts->given |= OPT_ALL; return -1;
        case LONG_OFFSET:
            if (s_parse_uint (optarg, 0, 1000000000, "--offset", &opts->offset))
                return RC_USAGE;
            opts->given |= OPT_OFFSET;
            return -1;
        case LONG_LIMIT:
            if (s_parse_uint (optarg, 0, 1000000000, "--limit", &opts->limit))
                return RC_USAGE;
            opts->given |= OPT_LIMIT;
            return -1;
        case LONG_PAGE:
            if (s_parse_uint (optarg, 1, 10000, "--page", &opts->page))
                return RC_USAGE;
            opts->given |= OPT_PAGE;
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
            if (!ctl_id_valid (optarg))
                return ctl_id_usage_error ("--deployment ", optarg);
            opts->deployment = optarg;
            opts->given |= OPT_DEPLOYMENT;
            return -1;
        case 'k':
            if (!s_key_valid (optarg))
                return ctl_usage_error ("--key '%s': a key is 1..%d printable "
                    "ASCII characters, no spaces", optarg, FLOT_MAX_KEY);
            opts->key = optarg;
            opts->given |= OPT_KEY;
            return -1;
        case 'h':
            if (s_keys_mode)
                ctl_keys_usage (stdout);
            else
                s_usage (stdout);
            return RC_OK;
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
    //  The endpoint, when no option gives it, is found by ctl_connect.
    *opts = (options_t) {
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

//  The command table and main
//  main

typedef struct {
    const char *name;
    int (*run) (ctl_t *self);
    int min_args, max_args;     //  after the command's name
    unsigned options;           //  the OPT_* it takes
    const char *synopsis;
} command_t;

static const command_t s_commands [] = {
    { "ping", ctl_cmd_ping, 0, 0, 0, "ping" },
    { "actors", ctl_cmd_actors, 0, 0, 0, "actors" },
    { "events", ctl_cmd_events, 0, 0,
      OPT_FOLLOW | OPT_SINCE | OPT_DEPLOYMENT | OPT_TYPE | OPT_EVENTS_EP,
      "events [--follow] [--since SEQ] [--deployment ID] [--type PREFIX]" },
    { "call", ctl_cmd_call, 2, 3, OPT_KEY, "call SERVICE COMMAND [JSON] [--key K]" },
    { "strategies", ctl_cmd_strategies, 0, 0, 0, "strategies" },
    { "plan", ctl_cmd_plan, 0, 0, OPT_FILE | OPT_NO_CHECK | OPT_ALL | OPT_PAGE,
      "plan -f FILE [--no-check] [--all] [--page N]" },
    { "apply", ctl_cmd_apply, 0, 0,
      OPT_FILE | OPT_DRY_RUN | OPT_WATCH | OPT_EVENTS_EP | OPT_NO_CHECK | OPT_QUEUE
      | OPT_REPLACE | OPT_ALL | OPT_PAGE,
      "apply -f FILE [--dry-run [--all] | --watch] [--no-check] [--queue | --replace]" },
    { "status", ctl_cmd_status, 1, 1, OPT_TARGET | OPT_ALL | OPT_OFFSET | OPT_LIMIT | OPT_PAGE,
      "status ID [--target NAME | --all | --offset N --limit N] [--page N]" },
    { "list", ctl_cmd_list, 0, 0, OPT_NAME | OPT_OFFSET | OPT_LIMIT | OPT_PAGE,
      "list [--name NAME] [--offset N] [--limit N] [--page N]" },
    { "watch", ctl_cmd_watch, 1, 1, OPT_EVENTS_EP,
      "watch ID [--events-endpoint E] [--timeout MS]" },
    { "pause", ctl_cmd_pause, 1, 1, 0, "pause ID" },
    { "resume", ctl_cmd_resume, 1, 1, 0, "resume ID" },
    { "promote", ctl_cmd_promote, 1, 1, OPT_FULL, "promote ID [--full]" },
    { "abort", ctl_cmd_abort, 1, 1, OPT_REASON, "abort ID [--reason TEXT]" },
    { "logs", ctl_cmd_logs, 1, 1, OPT_TARGET | OPT_STEP, "logs ID [--target T] [--step S]" },
    { "retry", ctl_cmd_retry, 1, 1, OPT_TARGET, "retry ID [--target T]" },
    { "skip", ctl_cmd_skip, 1, 1, OPT_TARGET | OPT_REASON, "skip ID --target T [--reason TEXT]" },
    { "rollback", ctl_cmd_rollback, 1, 1, OPT_REASON, "rollback ID [--reason TEXT]" },
    { "analyze", ctl_cmd_analyze, 0, 0, OPT_FILE | OPT_TARGET | OPT_VERSION_ARG,
      "analyze -f FILE [--target NAME] [--version V]" },
    { "metrics", ctl_cmd_metrics, 3, 100002, OPT_TARGET | OPT_ROLE,
      "metrics push METRIC --role canary|baseline [--target NAME] VALUE..." },
    { "keys", ctl_cmd_keys, 1, 2,
      OPT_DIR | OPT_ROLE | OPT_SERVICES | OPT_TARGETS | OPT_OUT | OPT_NAME | OPT_FINISH,
      "keys init|new|create|allow|list|revoke|rotate ... (see flotctl keys --help)" },
    { NULL, NULL, 0, 0, 0, NULL }
};

#define COMMAND_NAMES "ping, actors, events, call, strategies, plan, apply, status, list, " \
                      "watch, pause, resume, promote, abort, logs, retry, skip, rollback, " \
                      "analyze, metrics, keys"

static const struct { unsigned bit; const char *name; } s_option_names [] = {
    { OPT_FOLLOW, "--follow" }, { OPT_SINCE, "--since" },
    { OPT_DEPLOYMENT, "--deployment" }, { OPT_TYPE, "--type" },
    { OPT_EVENTS_EP, "--events-endpoint" }, { OPT_KEY, "--key" },
    { OPT_FILE, "--file" }, { OPT_DRY_RUN, "--dry-run" }, { OPT_WATCH, "--watch" },
    { OPT_FULL, "--full" }, { OPT_REASON, "--reason" }, { OPT_TARGET, "--target" },
    { OPT_ROLE, "--role" }, { OPT_VERSION_ARG, "--version V" }, { OPT_DIR, "--dir" },
    { OPT_SERVICES, "--services" }, { OPT_TARGETS, "--targets" }, { OPT_OUT, "--out" },
    { OPT_NAME, "--name" }, { OPT_FINISH, "--finish" },
    { OPT_CERT, "--cert or --broker-cert" }, { OPT_NO_CHECK, "--no-check" },
    { OPT_QUEUE, "--queue" }, { OPT_REPLACE, "--replace" }, { OPT_STEP, "--step" },
    { OPT_ALL, "--all" }, { OPT_OFFSET, "--offset" }, { OPT_LIMIT, "--limit" },
    { OPT_PAGE, "--page" },
    { 0, NULL }
};

//  Finds the command and checks its arguments and options; NULL on error.
static const command_t *
s_command (const options_t *opts)
{
    if (opts->nargs == 0) {
        ctl_usage_error ("no command given (%s)", COMMAND_NAMES);
        return NULL;
    }
    const command_t *cmd = s_commands;
    while (cmd->name && !streq (cmd->name, opts->args [0]))
        cmd++;
    if (!cmd->name) {
        ctl_usage_error ("unknown command '%s' (%s)", opts->args [0], COMMAND_NAMES);
        return NULL;
    }
    int nargs = opts->nargs - 1;
    if (nargs < cmd->min_args || nargs > cmd->max_args) {
        ctl_usage_error ("%s arguments for '%s'; usage: flotctl %s",
                         nargs < cmd->min_args ? "missing" : "too many",
                         cmd->name, cmd->synopsis);
        return NULL;
    }
    //  --cert and --broker-cert are for every command that talks to a broker.
    unsigned options = cmd->options | (cmd->run == ctl_cmd_keys ? 0 : OPT_CERT);
    for (int i = 0; s_option_names [i].name; i++)
        if ((opts->given & s_option_names [i].bit) & ~options) {
            ctl_usage_error ("%s does not apply to '%s'; usage: flotctl %s",
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
    s_keys_mode = word && streq (word, "keys");
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
    if (cmd->run == ctl_cmd_metrics && self.opts.role
    &&  !streq (self.opts.role, "canary") && !streq (self.opts.role, "baseline"))
        return ctl_usage_error ("--role '%s': canary or baseline", self.opts.role);
    //  czmq's own log lines (a key file it cannot parse) go with ours.
    zsys_set_logstream (stderr);
    if (cmd->run == ctl_cmd_keys)
        return cmd->run (&self);        //  files only: no broker
    rc = ctl_connect (&self, DEFAULT_ENDPOINT);
    if (rc >= 0)
        return rc;
    rc = cmd->run (&self);
    ctl_disconnect (&self);
    return rc;
}
