/*  test_subscriber.c - the subscriber (protocol/flot_subscriber.c) against
    a real events actor: a broker and the events actor run as threads of the
    test (tests/unit/world.c), the actor publishing on an inproc PUB socket
    of its own; events are published through its Publish. Proves the replay
    of the history from a seq and its END, since NEWEST (in replay-only mode
    END at once, nothing replayed; live, only the events published after),
    and the type filter.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "flotilla/log.h"
#include "flotilla/subscriber.h"
#include "events.h"
#include "world.h"

typedef struct {
    zhash_t *options;           //  the events actor's: its PUB endpoint
    world_t *world;
} test_t;

static int
s_setup (void **state)
{
    static const flot_actor_def_t *const defs [] = { &flot_events_actor, NULL };
    static int generation = 0;
    test_t *self = calloc (1, sizeof *self);
    assert_non_null (self);
    char pub [64];
    snprintf (pub, sizeof pub, "inproc://test-subscriber-events-%d", ++generation);
    self->options = zhash_new ();
    zhash_autofree (self->options);
    zhash_insert (self->options, "pub", pub);
    self->world = world_start_with (defs, self->options);
    *state = self;
    return 0;
}

static int
s_teardown (void **state)
{
    test_t *self = *state;
    world_stop (&self->world);
    zhash_destroy (&self->options);
    free (self);
    return 0;
}

//  Publishes an event of deployment d1 through the events actor; checks
//  the seq it was given.
static void
s_publish (test_t *self, const char *type, uint64_t seq)
{
    flot_err_t err;
    json_t *reply = world_call (self->world, "events", NULL, "Publish",
        json_pack ("{s:s, s:s, s:s}", "type", type, "deployment", "d1", "message", type), &err);
    if (!reply)
        fail_msg ("Publish %s: %s", type, err.message);
    assert_int_equal (json_integer_value (json_object_get (reply, "seq")), seq);
    json_decref (reply);
}

static flot_subscriber_t *
s_subscriber (test_t *self, uint64_t since, const char *type, bool replay_only)
{
    flot_subscriber_t *sub = flot_subscriber_new (world_client (self->world), NULL, since,
                                                  NULL, type);
    assert_non_null (sub);
    if (replay_only)
        flot_subscriber_set_replay_only (sub);
    return sub;
}

//  The next item, which must be of kind (5 s at most).
static const flot_subscriber_item_t *
s_expect (flot_subscriber_t *sub, flot_subscriber_kind_t kind)
{
    const flot_subscriber_item_t *item = flot_subscriber_next (sub, 5000);
    if (!item)
        fail_msg ("no item in 5 s, expected kind %d", kind);
    if (item->kind != kind)
        fail_msg ("item of kind %d (%s), expected kind %d", item->kind,
                  item->err.message, kind);
    return item;
}

//  The next item must be the event seq, of type.
static void
s_expect_event (flot_subscriber_t *sub, uint64_t seq, const char *type)
{
    const flot_subscriber_item_t *item = s_expect (sub, FLOT_SUBSCRIBER_EVENT);
    assert_int_equal (item->event->seq, seq);
    assert_string_equal (item->event->type, type);
    assert_string_equal (item->event->deployment, "d1");
    assert_string_equal (item->event->message, type);
}

static void
test_subscriber_replays_the_history_from_since_then_ends (void **state)
{
    test_t *self = *state;
    s_publish (self, "test.one", 1);
    s_publish (self, "test.two", 2);
    s_publish (self, "test.three", 3);

    flot_subscriber_t *sub = s_subscriber (self, 0, NULL, true);
    s_expect_event (sub, 1, "test.one");
    s_expect_event (sub, 2, "test.two");
    s_expect_event (sub, 3, "test.three");
    s_expect (sub, FLOT_SUBSCRIBER_END);
    //  Over: every later call says END again.
    s_expect (sub, FLOT_SUBSCRIBER_END);
    flot_subscriber_destroy (&sub);

    sub = s_subscriber (self, 2, NULL, true);
    s_expect_event (sub, 2, "test.two");
    s_expect_event (sub, 3, "test.three");
    s_expect (sub, FLOT_SUBSCRIBER_END);
    flot_subscriber_destroy (&sub);
}

static void
test_subscriber_newest_in_replay_only_ends_at_once (void **state)
{
    test_t *self = *state;
    s_publish (self, "test.one", 1);
    s_publish (self, "test.two", 2);
    flot_subscriber_t *sub = s_subscriber (self, FLOT_SUBSCRIBER_NEWEST, NULL, true);
    s_expect (sub, FLOT_SUBSCRIBER_END);
    s_expect (sub, FLOT_SUBSCRIBER_END);
    flot_subscriber_destroy (&sub);
}

//  Live from the newest: LIVE at the last seq held, then only what is
//  published after it (a lost first event is caught by the idle check).
static void
test_subscriber_newest_live_hands_only_later_events (void **state)
{
    test_t *self = *state;
    s_publish (self, "test.one", 1);
    s_publish (self, "test.two", 2);
    flot_subscriber_t *sub = s_subscriber (self, FLOT_SUBSCRIBER_NEWEST, NULL, false);
    flot_subscriber_set_idle (sub, 100);
    const flot_subscriber_item_t *item = s_expect (sub, FLOT_SUBSCRIBER_LIVE);
    assert_int_equal (item->to, 2);
    s_publish (self, "test.three", 3);
    s_expect_event (sub, 3, "test.three");
    flot_subscriber_destroy (&sub);
}

static void
test_subscriber_hands_only_the_types_it_asks_for (void **state)
{
    test_t *self = *state;
    s_publish (self, "test.a", 1);
    s_publish (self, "other.b", 2);
    s_publish (self, "test.c", 3);
    s_publish (self, "tes", 4);
    flot_subscriber_t *sub = s_subscriber (self, 0, "test.", true);
    s_expect_event (sub, 1, "test.a");
    s_expect_event (sub, 3, "test.c");
    s_expect (sub, FLOT_SUBSCRIBER_END);
    flot_subscriber_destroy (&sub);

    //  Live too: the other types are skipped.
    sub = s_subscriber (self, 0, "other.", false);
    flot_subscriber_set_idle (sub, 100);
    s_expect_event (sub, 2, "other.b");
    const flot_subscriber_item_t *item = s_expect (sub, FLOT_SUBSCRIBER_LIVE);
    assert_int_equal (item->to, 4);
    s_publish (self, "test.d", 5);
    s_publish (self, "other.e", 6);
    s_expect_event (sub, 6, "other.e");
    flot_subscriber_destroy (&sub);
}

int
main (void)
{
    flot_log_set_level (FLOT_LOG_WARN);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_subscriber_replays_the_history_from_since_then_ends,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_subscriber_newest_in_replay_only_ends_at_once,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_subscriber_newest_live_hands_only_later_events,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_subscriber_hands_only_the_types_it_asks_for,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
