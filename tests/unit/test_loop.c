/*  test_loop.c - the event loop every actor runs on (runtime/flot_loop.c):
    timers in order, repeating, many at once; an item ended in a turn is
    not called in it; a flood of due timers does not starve a ready
    descriptor, nor a flood of ready descriptors a due timer; thousands of
    pollers come and go; a reader drains a socket that holds many messages
    though it reads one a call; -1, SIGINT/SIGTERM (zsys_interrupted) and an
    empty loop end it; pollers and errors, tolerant or not; a pipe whose
    writer left is read to its end.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "flotilla/loop.h"

static int
s_stop (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    return -1;
}

//  --------------------------------------------------------------------------
//  Timers

typedef struct {
    int order [16];
    size_t count;
    int repeats;
} timeline_t;

static timeline_t s_timeline;

static int
s_record (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_timeline.order [s_timeline.count++] = (int) (intptr_t) arg;
    return 0;
}

static int
s_repeat (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    s_timeline.repeats++;
    return 0;
}

static void
test_loop_timers_run_in_order_and_repeat (void **state)
{
    (void) state;
    memset (&s_timeline, 0, sizeof s_timeline);
    flot_loop_t *loop = flot_loop_new ();
    assert_non_null (loop);
    int a = flot_loop_timer (loop, 30, 1, s_record, (void *) 30);
    int b = flot_loop_timer (loop, 10, 1, s_record, (void *) 10);
    int c = flot_loop_timer (loop, 20, 1, s_record, (void *) 20);
    //  Due together: in the order armed.
    flot_loop_timer (loop, 40, 1, s_record, (void *) 41);
    flot_loop_timer (loop, 40, 1, s_record, (void *) 42);
    assert_true (a > 0 && b > a && c > b);
    flot_loop_timer (loop, 5, 3, s_repeat, NULL);
    int64_t start = zclock_mono ();
    flot_loop_timer (loop, 100, 1, s_stop, NULL);
    assert_int_equal (flot_loop_start (loop), -1);
    assert_true (zclock_mono () - start >= 100);
    assert_int_equal (s_timeline.count, 5);
    int expected [] = { 10, 20, 30, 41, 42 };
    for (size_t i = 0; i < 5; i++)
        assert_int_equal (s_timeline.order [i], expected [i]);
    assert_int_equal (s_timeline.repeats, 3);
    //  Once run out, a timer is gone; ids are not given again.
    assert_int_equal (flot_loop_timer_end (loop, a), -1);
    assert_int_equal (flot_loop_timer_end (loop, 999999), -1);
    int d = flot_loop_timer (loop, 10, 1, s_record, NULL);
    assert_true (d > c);
    assert_int_equal (flot_loop_timer_end (loop, d), 0);
    assert_int_equal (flot_loop_timer_end (loop, d), -1);
    flot_loop_destroy (&loop);
    assert_null (loop);
    flot_loop_destroy (&loop); //  safe twice
}

#define MANY_TIMERS 50000

//  The loop reads the clock when it arms a timer: the test knows when it
//  is due to within the clock readings before and after.
typedef struct {
    int64_t due [MANY_TIMERS + 1];    //  by id: due at the earliest; 0 once ended
    int64_t due_by [MANY_TIMERS + 1]; //  and at the latest
    int fired, late_order;
    int64_t last; //  the earliest the last one fired was due
} many_t;

static many_t *s_many;

static int
s_on_many (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) arg;
    assert_true (timer_id > 0 && timer_id <= MANY_TIMERS);
    int64_t due = s_many->due [timer_id];
    assert_true (due > 0); //  never one that was ended
    assert_true (zclock_mono () >= due);
    if (s_many->due_by [timer_id] < s_many->last)
        s_many->late_order++; //  was due before the one fired last
    s_many->last = due;
    s_many->fired++;
    return s_many->fired == MANY_TIMERS / 2 ? -1 : 0;
}

static void
test_loop_many_timers_fire_in_order_and_end_at_once (void **state)
{
    (void) state;
    s_many = calloc (1, sizeof *s_many);
    flot_loop_t *loop = flot_loop_new ();
    unsigned seed = 7;
    for (int i = 1; i <= MANY_TIMERS; i++) {
        int delay = rand_r (&seed) % 200;
        int64_t due = zclock_mono () + delay;
        int id = flot_loop_timer (loop, (size_t) delay, 1, s_on_many, NULL);
        assert_int_equal (id, i);
        s_many->due [id] = due;
        s_many->due_by [id] = zclock_mono () + delay;
    }
    //  Every other one ends before it is due.
    for (int id = 2; id <= MANY_TIMERS; id += 2) {
        assert_int_equal (flot_loop_timer_end (loop, id), 0);
        s_many->due [id] = 0;
    }
    int64_t start = zclock_mono ();
    assert_int_equal (flot_loop_start (loop), -1);
    assert_int_equal (s_many->fired, MANY_TIMERS / 2);
    assert_int_equal (s_many->late_order, 0);
    assert_true (zclock_mono () - start < 5000);
    flot_loop_destroy (&loop);
    free (s_many);
}

//  --------------------------------------------------------------------------
//  Ended in a turn: not called in it

typedef struct {
    flot_loop_t *loop;
    int other; //  the timer to end
    int fd [2];
    int calls [2];
    int timer_calls;
} ender_t;

static ender_t s_ender;

static int
s_end_other_timer (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) arg;
    s_ender.timer_calls++;
    flot_loop_timer_end (loop, s_ender.other);
    flot_loop_timer_end (loop, timer_id); //  and itself, while it runs
    return 0;
}

static int
s_never (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    fail_msg ("a timer ended earlier in the turn was called");
    return -1;
}

//  Each descriptor's handler ends the other's poller, and a timer due now.
static int
s_end_other_poller (flot_loop_t *loop, zmq_pollitem_t *item, void *arg)
{
    int me = (int) (intptr_t) arg;
    s_ender.calls [me]++;
    uint64_t value;
    assert_int_equal (read (item->fd, &value, sizeof value), sizeof value);
    zmq_pollitem_t other = { NULL, s_ender.fd [1 - me], ZMQ_POLLIN, 0 };
    flot_loop_poller_end (loop, &other);
    flot_loop_timer_end (loop, s_ender.other);
    zmq_pollitem_t mine = { NULL, item->fd, ZMQ_POLLIN, 0 };
    flot_loop_poller_end (loop, &mine);
    return 0;
}

static void
test_loop_never_calls_what_was_ended_in_the_turn (void **state)
{
    (void) state;
    memset (&s_ender, 0, sizeof s_ender);
    flot_loop_t *loop = flot_loop_new ();
    //  Two timers due in the same turn: the first ends the second.
    flot_loop_timer (loop, 0, 1, s_end_other_timer, NULL);
    s_ender.other = flot_loop_timer (loop, 0, 0, s_never, NULL);
    flot_loop_timer (loop, 50, 1, s_stop, NULL);
    assert_int_equal (flot_loop_start (loop), -1);
    assert_int_equal (s_ender.timer_calls, 1);
    //  Two descriptors ready in the same turn, each ending the other, and a
    //  timer due in that turn (descriptors come before timers).
    for (int i = 0; i < 2; i++) {
        s_ender.fd [i] = eventfd (1, EFD_NONBLOCK | EFD_CLOEXEC);
        zmq_pollitem_t item = { NULL, s_ender.fd [i], ZMQ_POLLIN, 0 };
        assert_int_equal (
            flot_loop_poller (loop, &item, s_end_other_poller, (void *) (intptr_t) i), 0);
    }
    s_ender.other = flot_loop_timer (loop, 0, 0, s_never, NULL);
    //  With nothing left to watch, the loop ends by itself.
    assert_int_equal (flot_loop_start (loop), 0);
    assert_int_equal (s_ender.calls [0] + s_ender.calls [1], 1);
    close (s_ender.fd [0]);
    close (s_ender.fd [1]);
    flot_loop_destroy (&loop);
}

//  --------------------------------------------------------------------------
//  Fairness

#define FLOOD 5000

typedef struct {
    int fd;
    int timer_calls;     //  in all
    int calls_at_ready;  //  timer calls when the descriptor was made ready
    int calls_at_served; //  and when its handler ran; -1 until then
    int fd_calls;
    int fd_calls_at_armed; //  descriptor calls when the timer was armed
    int fd_calls_at_fired; //  and when it ran; -1 until then
} fair_t;

static fair_t s_fair;

static int
s_flood_timer (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    if (++s_fair.timer_calls == 3 * FLOOD) {
        uint64_t one = 1;
        assert_int_equal (write (s_fair.fd, &one, sizeof one), sizeof one);
        s_fair.calls_at_ready = s_fair.timer_calls;
    }
    return 0;
}

static int
s_served (flot_loop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    (void) arg;
    s_fair.calls_at_served = s_fair.timer_calls;
    return -1;
}

static void
test_loop_due_timers_do_not_starve_a_ready_descriptor (void **state)
{
    (void) state;
    memset (&s_fair, 0, sizeof s_fair);
    s_fair.calls_at_served = -1;
    flot_loop_t *loop = flot_loop_new ();
    s_fair.fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    zmq_pollitem_t item = { NULL, s_fair.fd, ZMQ_POLLIN, 0 };
    flot_loop_poller (loop, &item, s_served, NULL);
    //  Each due on every turn, far more of them than a turn serves.
    for (int i = 0; i < FLOOD; i++)
        flot_loop_timer (loop, 0, 0, s_flood_timer, NULL);
    assert_int_equal (flot_loop_start (loop), -1);
    assert_true (s_fair.calls_at_served >= 0);
    //  Served within the turn after it became ready: at most two turns'
    //  worth of timers ran meanwhile, not the whole flood.
    int between = s_fair.calls_at_served - s_fair.calls_at_ready;
    assert_true (between <= 2 * FLOT_LOOP_TIMERS);
    assert_true (between < FLOOD);
    flot_loop_destroy (&loop);
    close (s_fair.fd);
}

#define READY_FDS 2000

static int s_ready [READY_FDS];

static int
s_fired (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    s_fair.fd_calls_at_fired = s_fair.fd_calls;
    return -1;
}

//  Never drained: ready on every turn.
static int
s_busy (flot_loop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) item;
    (void) arg;
    if (++s_fair.fd_calls == 3 * READY_FDS) {
        flot_loop_timer (loop, 0, 1, s_fired, NULL);
        s_fair.fd_calls_at_armed = s_fair.fd_calls;
    }
    return 0;
}

static void
test_loop_ready_descriptors_do_not_starve_a_due_timer (void **state)
{
    (void) state;
    memset (&s_fair, 0, sizeof s_fair);
    s_fair.fd_calls_at_fired = -1;
    flot_loop_t *loop = flot_loop_new ();
    for (int i = 0; i < READY_FDS; i++) {
        s_ready [i] = eventfd (1, EFD_NONBLOCK | EFD_CLOEXEC);
        assert_true (s_ready [i] >= 0);
        zmq_pollitem_t item = { NULL, s_ready [i], ZMQ_POLLIN, 0 };
        assert_int_equal (flot_loop_poller (loop, &item, s_busy, NULL), 0);
    }
    assert_int_equal (flot_loop_start (loop), -1);
    assert_true (s_fair.fd_calls_at_fired >= 0);
    int between = s_fair.fd_calls_at_fired - s_fair.fd_calls_at_armed;
    assert_true (between <= 2 * FLOT_LOOP_EVENTS);
    assert_true (between < READY_FDS);
    flot_loop_destroy (&loop);
    for (int i = 0; i < READY_FDS; i++)
        close (s_ready [i]);
}

//  --------------------------------------------------------------------------
//  Thousands of pollers

#define POLLERS 3000

static int s_pollers [POLLERS];
static int s_poller_calls [POLLERS];

//  Reads, stops watching and closes: its number is free for the next one.
static int
s_once (flot_loop_t *loop, zmq_pollitem_t *item, void *arg)
{
    int i = (int) (intptr_t) arg;
    s_poller_calls [i]++;
    uint64_t value;
    assert_int_equal (read (item->fd, &value, sizeof value), sizeof value);
    flot_loop_poller_end (loop, item);
    close (item->fd);
    return 0;
}

static void
test_loop_thousands_of_pollers_come_and_go (void **state)
{
    (void) state;
    flot_loop_t *loop = flot_loop_new ();
    for (int round = 0; round < 3; round++) {
        memset (s_poller_calls, 0, sizeof s_poller_calls);
        for (int i = 0; i < POLLERS; i++) {
            s_pollers [i] = eventfd (1, EFD_NONBLOCK | EFD_CLOEXEC);
            assert_true (s_pollers [i] >= 0);
            zmq_pollitem_t item = { NULL, s_pollers [i], ZMQ_POLLIN, 0 };
            void *arg = (void *) (intptr_t) i;
            assert_int_equal (flot_loop_poller (loop, &item, s_once, arg), 0);
            //  One poller a descriptor.
            assert_int_equal (flot_loop_poller (loop, &item, s_once, NULL), -1);
            assert_int_equal (errno, EEXIST);
        }
        //  Every third one ends before the loop runs.
        for (int i = 0; i < POLLERS; i += 3) {
            zmq_pollitem_t item = { NULL, s_pollers [i], ZMQ_POLLIN, 0 };
            flot_loop_poller_end (loop, &item);
            close (s_pollers [i]);
        }
        assert_int_equal (flot_loop_start (loop), 0);
        for (int i = 0; i < POLLERS; i++)
            assert_int_equal (s_poller_calls [i], i % 3 ? 1 : 0);
    }
    flot_loop_destroy (&loop);
}

//  --------------------------------------------------------------------------
//  Readers

#define QUEUED 10000

static int s_read;

//  One message a call: the loop must come back while more wait.
static int
s_read_one (flot_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) arg;
    char *text = zstr_recv (reader);
    assert_non_null (text);
    assert_int_equal (atoi (text), s_read);
    zstr_free (&text);
    return ++s_read == QUEUED ? -1 : 0;
}

static void
test_loop_reader_drains_a_socket_one_message_a_call (void **state)
{
    (void) state;
    s_read = 0;
    zsock_t *in = zsock_new (ZMQ_PAIR);
    zsock_t *out = zsock_new (ZMQ_PAIR);
    assert_true (in && out);
    zsock_set_sndhwm (out, 0);
    zsock_set_rcvhwm (in, 0);
    assert_int_equal (zsock_bind (in, "inproc://test-loop-reader"), 0);
    assert_int_equal (zsock_connect (out, "inproc://test-loop-reader"), 0);
    for (int i = 0; i < QUEUED; i++)
        assert_int_equal (zstr_sendf (out, "%d", i), 0);
    flot_loop_t *loop = flot_loop_new ();
    assert_int_equal (flot_loop_reader (loop, in, s_read_one, NULL), 0);
    //  A guard: a reader that stalls would otherwise wait for ever.
    flot_loop_timer (loop, 10000, 1, s_stop, NULL);
    assert_int_equal (flot_loop_start (loop), -1);
    assert_int_equal (s_read, QUEUED);
    //  Messages sent while the loop runs reach it too; an ended reader is
    //  not called.
    s_read = QUEUED - 3;
    for (int i = QUEUED - 3; i < QUEUED; i++)
        zstr_sendf (out, "%d", i);
    assert_int_equal (flot_loop_start (loop), -1);
    assert_int_equal (s_read, QUEUED);
    flot_loop_reader_end (loop, in);
    zstr_send (out, "ignored");
    flot_loop_timer (loop, 20, 1, s_stop, NULL);
    assert_int_equal (flot_loop_start (loop), -1);
    assert_int_equal (s_read, QUEUED);
    flot_loop_destroy (&loop);
    zsock_destroy (&in);
    zsock_destroy (&out);
}

//  --------------------------------------------------------------------------
//  Ending the loop, errors

static int s_after_stop;

static int
s_reader_stops (flot_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) arg;
    char *text = zstr_recv (reader);
    zstr_free (&text);
    return -1;
}

static int
s_not_after_stop (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    s_after_stop++;
    return 0;
}

static int
s_interrupt (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    zsys_interrupted = 1;
    return 0;
}

static void
test_loop_ends_on_minus_one_and_on_interrupt (void **state)
{
    (void) state;
    zsock_t *in = zsock_new_pair ("@inproc://test-loop-stop");
    zsock_t *out = zsock_new_pair (">inproc://test-loop-stop");
    flot_loop_t *loop = flot_loop_new ();
    flot_loop_reader (loop, in, s_reader_stops, NULL);
    flot_loop_timer (loop, 1000, 0, s_not_after_stop, NULL);
    zstr_send (out, "stop");
    s_after_stop = 0;
    int64_t start = zclock_mono ();
    assert_int_equal (flot_loop_start (loop), -1);
    assert_true (zclock_mono () - start < 500);
    assert_int_equal (s_after_stop, 0);
    //  SIGINT or SIGTERM: czmq's handler sets zsys_interrupted.
    flot_loop_reader_end (loop, in);
    flot_loop_timer (loop, 5, 1, s_interrupt, NULL);
    start = zclock_mono ();
    assert_int_equal (flot_loop_start (loop), 0);
    zsys_interrupted = 0;
    assert_true (zclock_mono () - start < 500);
    flot_loop_destroy (&loop);
    zsock_destroy (&in);
    zsock_destroy (&out);
}

static int s_error_calls [2];

//  Never reads: its peer has gone, so it has an error on every turn.
static int
s_on_error (flot_loop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    assert_true (item->revents & ZMQ_POLLERR);
    s_error_calls [(intptr_t) arg]++;
    return 0;
}

static void
test_loop_ends_a_failing_poller_unless_tolerant (void **state)
{
    (void) state;
    int plain [2], tolerant [2];
    assert_int_equal (pipe (plain), 0);
    assert_int_equal (pipe (tolerant), 0);
    close (plain [1]);
    close (tolerant [1]);
    flot_loop_t *loop = flot_loop_new ();
    zmq_pollitem_t item = { NULL, plain [0], ZMQ_POLLIN, 0 };
    flot_loop_poller (loop, &item, s_on_error, (void *) 0);
    item.fd = tolerant [0];
    flot_loop_poller (loop, &item, s_on_error, (void *) 1);
    flot_loop_poller_set_tolerant (loop, &item);
    flot_loop_timer (loop, 30, 1, s_stop, NULL);
    s_error_calls [0] = s_error_calls [1] = 0;
    assert_int_equal (flot_loop_start (loop), -1);
    //  Told once, then ended; the tolerant one is told on every turn.
    assert_int_equal (s_error_calls [0], 1);
    assert_true (s_error_calls [1] > 10);
    flot_loop_destroy (&loop);
    close (plain [0]);
    close (tolerant [0]);
}

static int s_bytes, s_eofs;

//  One byte a call, as a slow reader would.
static int
s_read_byte (flot_loop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) arg;
    char byte;
    ssize_t got = read (item->fd, &byte, 1);
    if (got == 1)
        s_bytes++;
    else
        s_eofs++;
    return 0;
}

static void
test_loop_reads_a_pipe_to_its_end_after_its_writer_left (void **state)
{
    (void) state;
    int fds [2];
    assert_int_equal (pipe (fds), 0);
    assert_int_equal (write (fds [1], "0123456789", 10), 10);
    close (fds [1]);
    flot_loop_t *loop = flot_loop_new ();
    zmq_pollitem_t item = { NULL, fds [0], ZMQ_POLLIN, 0 };
    flot_loop_poller (loop, &item, s_read_byte, NULL);
    s_bytes = s_eofs = 0;
    //  Every byte, then the end once; then, not tolerant, it is ended and
    //  the loop has nothing left.
    assert_int_equal (flot_loop_start (loop), 0);
    assert_int_equal (s_bytes, 10);
    assert_int_equal (s_eofs, 1);
    flot_loop_destroy (&loop);
    close (fds [0]);
}

static int
s_count (flot_loop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    char byte;
    if (read (item->fd, &byte, 1) == 1)
        (*(int *) arg)++;
    return 0;
}

//  A descriptor closed without its poller's end while a copy of it lives
//  on (a dup, a child's inherited one): its file stays in the epoll set.
//  A new poller given the same number must hear only its own file's
//  events, and the old file's never reach the old, ended poller.
static void
test_loop_ignores_a_closed_descriptors_file (void **state)
{
    (void) state;
    int a [2], b [2];
    assert_int_equal (pipe (a), 0);
    flot_loop_t *loop = flot_loop_new ();
    int calls_a = 0, calls_b = 0;
    zmq_pollitem_t item_a = { NULL, a [0], ZMQ_POLLIN, 0 };
    assert_int_equal (flot_loop_poller (loop, &item_a, s_count, &calls_a), 0);
    int copy = dup (a [0]);
    assert_true (copy >= 0);
    close (a [0]);
    assert_int_equal (pipe (b), 0);
    assert_int_equal (b [0], item_a.fd);        //  the number comes again
    zmq_pollitem_t item_b = { NULL, b [0], ZMQ_POLLIN, 0 };
    assert_int_equal (flot_loop_poller (loop, &item_b, s_count, &calls_b), 0);
    //  The old file has input: neither poller hears of it.
    assert_int_equal (write (a [1], "x", 1), 1);
    flot_loop_timer (loop, 50, 1, s_stop, NULL);
    assert_int_equal (flot_loop_start (loop), -1);
    assert_int_equal (calls_a, 0);
    assert_int_equal (calls_b, 0);
    //  The new one's input reaches the new poller.
    assert_int_equal (write (b [1], "y", 1), 1);
    flot_loop_timer (loop, 50, 1, s_stop, NULL);
    assert_int_equal (flot_loop_start (loop), -1);
    assert_int_equal (calls_a, 0);
    assert_int_equal (calls_b, 1);
    flot_loop_destroy (&loop);
    close (copy);
    close (a [1]);
    close (b [0]);
    close (b [1]);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_loop_timers_run_in_order_and_repeat),
        cmocka_unit_test (test_loop_many_timers_fire_in_order_and_end_at_once),
        cmocka_unit_test (test_loop_never_calls_what_was_ended_in_the_turn),
        cmocka_unit_test (test_loop_due_timers_do_not_starve_a_ready_descriptor),
        cmocka_unit_test (test_loop_ready_descriptors_do_not_starve_a_due_timer),
        cmocka_unit_test (test_loop_thousands_of_pollers_come_and_go),
        cmocka_unit_test (test_loop_reader_drains_a_socket_one_message_a_call),
        cmocka_unit_test (test_loop_ends_on_minus_one_and_on_interrupt),
        cmocka_unit_test (test_loop_ends_a_failing_poller_unless_tolerant),
        cmocka_unit_test (test_loop_reads_a_pipe_to_its_end_after_its_writer_left),
        cmocka_unit_test (test_loop_ignores_a_closed_descriptors_file),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
