/*  client.c - a client program built against the installed library alone
    (flotilla.pc): it makes a client and a subscriber, and exits 0.  */
#include <flotilla/client.h>
#include <flotilla/contract_coordinator.h>
#include <flotilla/subscriber.h>
#include <stdio.h>

int
main (void)
{
    flot_client_t *client = flot_client_new ("tcp://127.0.0.1:1");
    if (!client)
        return 1;
    flot_coordinator_id_t request = { .id = "web-1" };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_coordinator_id_def, &request, &sbuf);
    printf ("a GetStatus body of %zu bytes\n", sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    flot_client_destroy (&client);
    return 0;
}
