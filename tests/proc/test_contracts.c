/*  test_contracts.c - every command of every contract, through a real flotillad.

    Starts the embedded flotillad with every actor (echo too) and sends each
    command whose request a contract defines three bodies, built from its
    field table (tests/lib/contract_sample.c): the smallest valid body, the
    same with a key this version does not know, and the same with a key
    given twice. The first two must meet the same fate (an unknown key
    changes nothing: SPEC 13), whatever the command makes of the sample; the
    third must be refused with INVALID naming the key (SPEC 3.2). So a
    service whose host does not decode requests by its contract, or reads
    an unknown key, fails here. A command that
    takes any map (echo's Echo) defines no keys and is only sent the first
    two.
*/
#include "proc_util.h"
#include "contract_sample.h"

#include <flotilla/contracts.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define PORT (PROC_PORT_BASE + 200)
#define EXTRA "fromANewerVersion"

typedef struct {
    int kind;               //  FLOT_REPLY, FLOT_ERROR, or 0 for no answer
    flot_err_t err;
} outcome_t;

//  Sends def's sample to service/command and waits for its answer.
static outcome_t
s_send (flot_client_t *client, const char *service, const char *command,
        const flot_struct_t *def, const char *extra, bool twice)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    if (def)
        contract_sample_pack (def, &pk, extra, twice);
    else {
        msgpack_pack_map (&pk, extra ? 1 : 0);
        if (extra) {
            msgpack_pack_str (&pk, strlen (extra));
            msgpack_pack_str_body (&pk, extra, strlen (extra));
            msgpack_pack_uint64 (&pk, 1);
        }
    }
    outcome_t outcome = { 0 };
    uint64_t corr = flot_client_send (client, service, NULL, command, sbuf.data,
                                      sbuf.size, 3000, &outcome.err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_true (corr != 0);
    flot_reply_t reply;
    if (proc_recv_for (client, corr, &reply, 5000) == 0) {
        outcome.kind = reply.kind;
        if (reply.kind == FLOT_ERROR)
            flot_unpack_error (zframe_data (reply.body), zframe_size (reply.body),
                               &outcome.err);
        flot_reply_clear (&reply);
    }
    return outcome;
}

static void
test_contracts_every_command_decodes_by_its_contract (void **state)
{
    (void) state;
    //  proc_start gives the daemon its own store.
    char endpoint [64], events [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT);
    proc_endpoint (events, sizeof events, PORT + 1);
    proc_t *daemon = proc_start ("contracts", "--bind", endpoint, "--events-bind", events,
        "--actors",
        "events,strategy,executor,health,analyzer,rollback,coordinator,echo", NULL);
    assert_non_null (daemon);
    assert_int_equal (proc_wait_ping (daemon, endpoint, 10000), 0);
    flot_client_t *client = proc_client (endpoint);
    assert_non_null (client);
    //  The broker answers Ping before every actor has registered.
    for (const flot_contract_t *const *c = flot_contracts; *c; c++)
        if (strcmp ((*c)->service, "broker"))
            proc_wait_unnamed (client, daemon, (*c)->service);

    size_t commands = 0, refused = 0;
    for (const flot_contract_t *const *c = flot_contracts; *c; c++) {
        for (size_t i = 0; i < (*c)->command_count; i++) {
            const flot_command_def_t *cmd = &(*c)->commands [i];
            const char *service = (*c)->service;
            commands++;
            outcome_t plain = s_send (client, service, cmd->name, cmd->request, NULL, false);
            outcome_t extra = s_send (client, service, cmd->name, cmd->request, EXTRA, false);
            if (plain.kind != extra.kind
            ||  (plain.kind == FLOT_ERROR
             &&  (plain.err.code != extra.err.code
              ||  strcmp (plain.err.message, extra.err.message))))
                fail_msg ("%s %s: an unknown key changed the answer: %s '%s' became %s '%s'",
                          service, cmd->name, flot_kind_name (plain.kind),
                          plain.err.message, flot_kind_name (extra.kind), extra.err.message);
            //  The sample is valid: whatever the command says of it, it is
            //  not that the body is malformed.
            if (plain.kind == FLOT_ERROR && plain.err.code == FLOT_E_MALFORMED)
                fail_msg ("%s %s: its sample is malformed: %s", service, cmd->name,
                          plain.err.message);
            if (!cmd->request)
                continue;       //  any map: no keys of its own
            outcome_t twice = s_send (client, service, cmd->name, cmd->request, EXTRA, true);
            char sentence [200];
            snprintf (sentence, sizeof sentence, "field '%s' is given twice",
                      contract_sample_repeated (cmd->request, EXTRA));
            if (twice.kind != FLOT_ERROR || twice.err.code != FLOT_E_INVALID
            ||  strcmp (twice.err.message, sentence))
                fail_msg ("%s %s: a key given twice got %s %s '%s', expected INVALID '%s'",
                          service, cmd->name, flot_kind_name (twice.kind),
                          flot_err_name (twice.err.code), twice.err.message, sentence);
            refused++;
        }
    }
    //  Every service of the daemon has a contract, and each was reached.
    assert_true (commands >= 40);
    assert_true (refused >= commands - 3);
    assert_true (proc_alive (daemon));
    flot_client_destroy (&client);
    assert_int_equal (proc_stop (daemon, 10000), 0);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_teardown (test_contracts_every_command_decodes_by_its_contract,
                                   proc_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
