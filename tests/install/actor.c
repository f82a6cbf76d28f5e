/*  actor.c - an actor written in C, built against the installed actor host
    alone (flotilla-actor.pc): it serves the echo contract under another
    service name. Run with an endpoint, it registers and serves; without,
    it only checks that it links.  */
#include <flotilla/actor.h>
#include <flotilla/contract_echo.h>
#include <stdio.h>

static void
s_refuse (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    flot_request_error (&request, FLOT_E_INTERNAL, "this actor only shows that it links");
}

static const flot_command_t s_commands [] = {
    { "Echo", s_refuse }, { "Sleep", s_refuse }, { "Tick", s_refuse }, { NULL, NULL }
};

static const flot_actor_def_t s_actor = {
    .service = "installed-echo", .contract = &flot_echo_contract, .commands = s_commands
};

int
main (int argc, char *argv [])
{
    if (argc > 1)
        return flot_actor_run (&s_actor, &(flot_actor_config_t) { .endpoint = argv [1] });
    printf ("actor %s links\n", s_actor.service);
    return 0;
}
