/*  test_defer.c - flot_defer: things given in a turn of the loop are freed
    in a later turn, never in that one, and all that waits at the end is
    freed by destroy.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "flotilla/defer.h"

typedef struct {
    int turn;                   //  turns of the loop so far (a 1 ms timer)
    int freed;
    int given_turn [8];
    int freed_turn [8];
    flot_defer_t *defer;
} world_t;

static world_t s_world;

static void
s_free (void *item)
{
    int *index = item;
    s_world.freed_turn [*index] = s_world.turn;
    s_world.freed++;
    free (index);
}

static int
s_on_turn (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    s_world.turn++;
    return 0;
}

//  Gives an item each time it fires.
static int
s_on_give (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    static int next = 0;
    (void) arg;
    int *index = malloc (sizeof *index);
    *index = next++;
    s_world.given_turn [*index] = s_world.turn;
    flot_defer_free (s_world.defer, index);
    return 0;
}

static int
s_on_end (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    return -1;
}

static void
test_defer_frees_in_a_later_turn (void **state)
{
    (void) state;
    flot_loop_t *loop = flot_loop_new ();
    s_world.defer = flot_defer_new (loop, s_free);
    flot_loop_timer (loop, 1, 0, s_on_turn, NULL);
    flot_loop_timer (loop, 7, 4, s_on_give, NULL);
    flot_loop_timer (loop, 200, 1, s_on_end, NULL);
    flot_loop_start (loop);
    assert_int_equal (s_world.freed, 4);
    for (int i = 0; i < 4; i++)
        assert_true (s_world.freed_turn [i] > s_world.given_turn [i]);
    //  What waits at the end goes with destroy.
    int *last = malloc (sizeof *last);
    *last = 4;
    flot_defer_free (s_world.defer, last);
    assert_int_equal (s_world.freed, 4);
    flot_defer_destroy (&s_world.defer);
    assert_null (s_world.defer);
    assert_int_equal (s_world.freed, 5);
    flot_defer_destroy (&s_world.defer);        //  safe twice
    flot_loop_destroy (&loop);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_defer_frees_in_a_later_turn),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
