/*  fake_peer.c - a health, executor and analyzer that break the protocol,
    for test_deploy_peer_breaks_protocol.

    Usage: fake_peer ENDPOINT LOG. Connects to the broker at ENDPOINT as
    the three services, each with its contract, and answers as no real one
    does (SPEC sections 17, 19, 20):
    - executor ExecuteStep: for a target named "bad", a STEP_RESULT of no
      known status; for any other, "succeeded". Each call is a line
      "ExecuteStep TARGET" in LOG.
    - health WaitForReady: ready. StartMonitoring: opens the stream and
      sends one message that is not a health change.
    - analyzer StartAnalysis: INVALID.
    Any other command is INVALID. Runs until SIGTERM.
*/
#include "flotilla/actor.h"
#include "flotilla/contract_analyzer.h"
#include "flotilla/contract_executor.h"
#include "flotilla/contract_health.h"

static const char *s_log;

static void
s_refuse (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    flot_request_error (&request, FLOT_E_INVALID, "the fake %s refuses %s",
                        flot_actor_service (actor), flot_request_command (request));
}

static void
s_execute_step (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    const char *target = flot_request_key (request);
    FILE *log = fopen (s_log, "a");
    if (log) {
        fprintf (log, "ExecuteStep %s\n", target);
        fclose (log);
    }
    flot_executor_step_result_t result = {
        .status = streq (target, "bad") ? "done" : "succeeded", .output = ""
    };
    //  Encoded by hand: the contract's encoder would refuse "done".
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 6);
    const char *keys [] = { "status", "exit_code", "signal", "output", "duration_ms", "pid" };
    for (int i = 0; i < 6; i++) {
        msgpack_pack_str (&pk, strlen (keys [i]));
        msgpack_pack_str_body (&pk, keys [i], strlen (keys [i]));
        if (i == 0) {
            msgpack_pack_str (&pk, strlen (result.status));
            msgpack_pack_str_body (&pk, result.status, strlen (result.status));
        }
        else
        if (i == 3)
            msgpack_pack_str (&pk, 0);
        else
            msgpack_pack_int (&pk, 0);
    }
    flot_request_reply_sbuf (&request, &sbuf);
}

static void
s_wait_for_ready (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    const flot_health_wait_for_ready_request_t *args = flot_request_args (request);
    flot_health_wait_for_ready_reply_t reply = {
        .target = args->context->target, .ready = true
    };
    flot_request_answer (&request, &reply);
}

static void
s_start_monitoring (flot_actor_t *actor, flot_request_t *request)
{
    flot_stream_t *stream = flot_request_open_stream (request, NULL, NULL);
    if (!stream) {
        flot_request_error (&request, FLOT_E_INTERNAL, "cannot open a stream");
        return;
    }
    flot_health_start_monitoring_reply_t reply = { .stream = flot_stream_id (stream) };
    flot_request_answer (&request, &reply);
    //  {"healthy": "no"}: a health change has a bool there, and more.
    static const uint8_t bad [] = { 0x81, 0xa7, 'h', 'e', 'a', 'l', 't', 'h', 'y',
                                    0xa2, 'n', 'o' };
    flot_stream_send (actor, stream, bad, sizeof bad);
}

static const flot_command_t s_executor_commands [] = {
    { FLOT_EXECUTOR_EXECUTE_STEP, s_execute_step },
    { FLOT_EXECUTOR_VALIDATE_STEP, s_refuse },
    { FLOT_EXECUTOR_GET_STEP_STATUS, s_refuse },
    { NULL, NULL }
};

static const flot_command_t s_health_commands [] = {
    { FLOT_HEALTH_CHECK, s_refuse },
    { FLOT_HEALTH_CHECK_BATCH, s_refuse },
    { FLOT_HEALTH_START_MONITORING, s_start_monitoring },
    { FLOT_HEALTH_STOP_MONITORING, s_refuse },
    { FLOT_HEALTH_IS_READY, s_refuse },
    { FLOT_HEALTH_WAIT_FOR_READY, s_wait_for_ready },
    { FLOT_HEALTH_GET_READINESS_GATES, s_refuse },
    { NULL, NULL }
};

static const flot_command_t s_analyzer_commands [] = {
    { FLOT_ANALYZER_ANALYZE, s_refuse },
    { FLOT_ANALYZER_START_ANALYSIS, s_refuse },
    { FLOT_ANALYZER_STOP_ANALYSIS, s_refuse },
    { FLOT_ANALYZER_QUERY, s_refuse },
    { FLOT_ANALYZER_PUSH, s_refuse },
    { NULL, NULL }
};

int
main (int argc, char *argv [])
{
    if (argc != 3) {
        fprintf (stderr, "usage: fake_peer ENDPOINT LOG\n");
        return 1;
    }
    s_log = argv [2];
    static const flot_actor_def_t defs [] = {
        { "executor", &flot_executor_contract, s_executor_commands, NULL, NULL, NULL, NULL },
        { "health", &flot_health_contract, s_health_commands, NULL, NULL, NULL, NULL },
        { "analyzer", &flot_analyzer_contract, s_analyzer_commands, NULL, NULL, NULL, NULL }
    };
    //  The keys a peer of this user finds (SPEC 14): the daemon's own, on
    //  loopback.
    flot_creds_t creds = { 0 };
    flot_err_t err;
    if (flot_creds_resolve (&creds, NULL, NULL, argv [1], &err)) {
        fprintf (stderr, "fake_peer: %s\n", err.message);
        return 1;
    }
    flot_actor_config_t config = { .endpoint = argv [1], .creds = &creds };
    zactor_t *actors [3] = { NULL };
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        if (!(actors [i] = flot_actor_thread (&defs [i], &config)))
            rc = 1;
    if (rc == 0)
        while (!zsys_interrupted)
            zclock_sleep (100);
    for (int i = 0; i < 3; i++)
        zactor_destroy (&actors [i]);
    flot_creds_clear (&creds);
    return rc;
}
