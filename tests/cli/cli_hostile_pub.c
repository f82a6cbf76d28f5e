/*  cli_hostile_pub.c - a stand-in event publisher for test_cli_events_follow.

    The real events actor publishes only valid, consecutive events, so it
    cannot show how `flotctl events --follow` treats a malformed frame or a
    gap in the stream. This program binds an XPUB socket at ENDPOINT, waits
    for a subscriber, then sends one malformed message every 100 ms (which
    also keeps the follower from going idle). When a line arrives on stdin
    it sends two valid events, seq 1 and seq 5 (message "live"), leaving a
    gap of 2..4 for the follower to replay from the events service. It exits
    at the end of stdin.

    Usage: cli_hostile_pub ENDPOINT
*/
#include "flotilla/body.h"

#include <czmq.h>
#include <poll.h>
#include <unistd.h>

static void
s_send (zsock_t *pub, const char *topic, const char *signature,
        const void *body, size_t size)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, topic);
    if (signature)
        zmsg_addstr (msg, signature);
    if (body)
        zmsg_addmem (msg, body, size);
    zmsg_send (&msg, pub);
}

static void
s_send_event (zsock_t *pub, uint64_t seq, const char *topic, bool with_type)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, with_type ? 5 : 4);
    flot_pack_kv_uint (&pk, "seq", seq);
    flot_pack_kv_uint (&pk, "time_ms", (uint64_t) zclock_time ());
    if (with_type)
        flot_pack_kv_str (&pk, "type", "test.live");
    flot_pack_kv_str (&pk, "deployment", "d1");
    flot_pack_kv_str (&pk, "message", "live");
    s_send (pub, topic, FLOT_EVENTS_SIGNATURE, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
}

//  One of several malformed messages, in turn.
static void
s_send_malformed (zsock_t *pub, int turn)
{
    static const uint8_t truncated [] = { 0x82, 0xa3, 's', 'e', 'q' };
    static const uint8_t not_map [] = { 0x93, 0x01, 0x02, 0x03 };
    switch (turn % 7) {
        case 0: s_send (pub, "d1/test.live", FLOT_EVENTS_SIGNATURE, NULL, 0); break;
        //  A publisher of the previous protocol version.
        case 1: s_send (pub, "d1/test.live", "FLOT01", "\x80", 1); break;
        case 2: s_send (pub, "d1/test.live", FLOT_EVENTS_SIGNATURE, truncated, sizeof truncated); break;
        case 3: s_send (pub, "d1/test.live", FLOT_EVENTS_SIGNATURE, not_map, sizeof not_map); break;
        case 4: s_send_event (pub, 3, "d1/test.live", false); break;
        //  The last seq there can be: none could come after it.
        case 5: s_send_event (pub, UINT64_MAX, "d1/test.live", true); break;
        case 6: s_send_event (pub, 3, "d9/other.type", true); break;
    }
}

int
main (int argc, char *argv [])
{
    if (argc != 2) {
        fprintf (stderr, "usage: cli_hostile_pub ENDPOINT\n");
        return 2;
    }
    zsock_t *pub = zsock_new (ZMQ_XPUB);
    zsock_set_linger (pub, 1000);
    if (!pub || zsock_bind (pub, "%s", argv [1]) < 0) {
        fprintf (stderr, "cli_hostile_pub: cannot bind %s\n", argv [1]);
        zsock_destroy (&pub);
        return 1;
    }
    zframe_t *subscription = zframe_recv (pub);     //  a subscriber is there
    zframe_destroy (&subscription);
    struct pollfd in = { STDIN_FILENO, POLLIN, 0 };
    bool sent = false;
    for (int turn = 0; !zsys_interrupted; turn++) {
        s_send_malformed (pub, turn);
        if (poll (&in, 1, 100) <= 0)
            continue;
        char line [256];
        if (!fgets (line, sizeof line, stdin))
            break;
        if (!sent) {
            s_send_event (pub, 1, "d1/test.live", true);
            s_send_event (pub, 5, "d1/test.live", true);
            sent = true;
        }
    }
    zsock_destroy (&pub);
    return 0;
}
