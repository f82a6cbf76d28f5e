/*  test_broker_deadlines.c - the broker fails a request at its deadline
    (DEADLINE), with a real broker and echo actor over inproc, whatever the
    deadlines of the other requests in flight: one added later with an
    earlier deadline, one whose earlier deadline was answered in time, and
    many in flight at once; a request answered in time is never failed.
    The broker walks its table of requests only when the earliest deadline
    it knows of has come, so each case is one that a wrong earliest
    deadline would miss or delay.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "world.h"
#include "echo.h"
#include "flotilla/body.h"
#include "flotilla/log.h"

//  A Sleep request of ms to the echo actor, with a deadline of timeout_ms.
static uint64_t
s_sleep (world_t *world, int ms, uint32_t timeout_ms)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    flot_pack_str (&pk, "ms");
    msgpack_pack_uint32 (&pk, (uint32_t) ms);
    flot_err_t err;
    uint64_t corr = flot_client_send (world_client (world), "echo", NULL, "Sleep",
                                      sbuf.data, sbuf.size, timeout_ms, &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (!corr)
        fail_msg ("Sleep not sent: %s", err.message);
    return corr;
}

//  The next answer: its corr, kind and error code (0 for a REPLY),
//  and the milliseconds since start it came at.
typedef struct {
    uint64_t corr;
    int kind;
    int code;
    int64_t at;
} answer_t;

static answer_t
s_next (world_t *world, int64_t start)
{
    flot_reply_t reply;
    flot_err_t err;
    if (flot_client_recv (world_client (world), &reply, 10000, &err))
        fail_msg ("no answer: %s", err.message);
    answer_t answer = { reply.corr, reply.kind, 0, zclock_mono () - start };
    if (reply.kind == FLOT_ERROR) {
        flot_err_t carried;
        flot_unpack_error (zframe_data (reply.body), zframe_size (reply.body), &carried);
        answer.code = carried.code;
    }
    flot_reply_clear (&reply);
    return answer;
}

static int
s_setup (void **state)
{
    static const flot_actor_def_t *const defs [] = { &flot_echo_actor, NULL };
    *state = world_start (defs);
    return 0;
}

static int
s_teardown (void **state)
{
    world_stop ((world_t **) state);
    return 0;
}

//  A request with a long deadline first, then one with a short deadline:
//  the second fails at its own deadline, not at the first's.
static void
test_broker_fails_a_later_earlier_deadline (void **state)
{
    world_t *world = *state;
    int64_t start = zclock_mono ();
    uint64_t slow = s_sleep (world, 1500, 5000);
    uint64_t short_one = s_sleep (world, 1500, 200);
    answer_t first = s_next (world, start);
    assert_int_equal (first.corr, short_one);
    assert_int_equal (first.kind, FLOT_ERROR);
    assert_int_equal (first.code, FLOT_E_DEADLINE);
    assert_in_range (first.at, 150, 1000);
    answer_t second = s_next (world, start);
    assert_int_equal (second.corr, slow);
    assert_int_equal (second.kind, FLOT_REPLY);
}

//  The request with the earliest deadline is answered in time; the next
//  one, with a later deadline, still fails at its own.
static void
test_broker_fails_a_deadline_after_an_earlier_one_was_answered (void **state)
{
    world_t *world = *state;
    int64_t start = zclock_mono ();
    uint64_t quick = s_sleep (world, 10, 150);
    uint64_t late = s_sleep (world, 2000, 400);
    answer_t first = s_next (world, start);
    assert_int_equal (first.corr, quick);
    assert_int_equal (first.kind, FLOT_REPLY);
    answer_t second = s_next (world, start);
    assert_int_equal (second.corr, late);
    assert_int_equal (second.kind, FLOT_ERROR);
    assert_int_equal (second.code, FLOT_E_DEADLINE);
    assert_in_range (second.at, 350, 1200);
}

//  Many in flight: those that outlive their deadline fail, each once, the
//  others are answered, each once.
static void
test_broker_fails_only_the_late_ones_of_many (void **state)
{
    world_t *world = *state;
    enum { COUNT = 200 };
    uint64_t corrs [COUNT];
    bool late [COUNT], answered [COUNT] = { false };
    int64_t start = zclock_mono ();
    for (int i = 0; i < COUNT; i++) {
        //  Every third sleeps past its deadline; deadlines are in no order.
        late [i] = i % 3 == 0;
        uint32_t timeout = (uint32_t) (300 + (i * 37) % 400);
        corrs [i] = s_sleep (world, late [i] ? (int) timeout + 600 : 20, timeout);
    }
    for (int n = 0; n < COUNT; n++) {
        answer_t answer = s_next (world, start);
        int i = 0;
        while (i < COUNT && corrs [i] != answer.corr)
            i++;
        assert_true (i < COUNT);
        assert_false (answered [i]);
        answered [i] = true;
        if (late [i]) {
            assert_int_equal (answer.kind, FLOT_ERROR);
            assert_int_equal (answer.code, FLOT_E_DEADLINE);
        }
        else
            assert_int_equal (answer.kind, FLOT_REPLY);
    }
    //  The late ones' Sleep replies come after their DEADLINE: the broker
    //  drops them, so nothing more arrives.
    flot_reply_t reply;
    flot_err_t err;
    assert_int_equal (flot_client_recv (world_client (world), &reply, 1500, &err), -1);
    assert_int_equal (err.code, FLOT_E_DEADLINE);
}

int
main (void)
{
    flot_log_set_level (FLOT_LOG_WARN);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_broker_fails_a_later_earlier_deadline,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_broker_fails_a_deadline_after_an_earlier_one_was_answered,
            s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_broker_fails_only_the_late_ones_of_many,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
