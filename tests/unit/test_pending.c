/*  test_pending.c - the broker's table of requests in flight
    (broker/pending.c): every record added is found until removed, a request
    in flight cannot be added twice, removals in any order keep the others
    findable (the backward shift), growing keeps them all, and a walk sees
    each record once.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../broker/pending.h"

#include <stdlib.h>
#include <string.h>

#define CLIENTS 7
#define PER_CLIENT 3000

//  Client i's route: 5 bytes like ZeroMQ's, except client 6, which is
//  client 0's bytes and one more, so that routes differ in size only.
static size_t
s_client (int i, uint8_t *route)
{
    route [0] = 0;
    route [1] = 0x80;
    route [2] = 0;
    route [3] = 0;
    route [4] = (uint8_t) (i == 6 ? 0 : 0x29 + i);
    if (i == 6) {
        route [5] = 0;
        return 6;
    }
    return 5;
}

typedef struct {
    int client;
    uint64_t corr;
    bool present;
} entry_t;

static void
s_assert_state (flot_pending_table_t *table, const entry_t *entries, size_t count)
{
    size_t present = 0;
    for (size_t i = 0; i < count; i++) {
        uint8_t route [8];
        size_t size = s_client (entries [i].client, route);
        flot_pending_t *record = flot_pending_find (table, route, size, entries [i].corr);
        if (entries [i].present) {
            assert_non_null (record);
            assert_int_equal (record->corr, entries [i].corr);
            assert_int_equal (record->client_size, size);
            assert_memory_equal (record->client, route, size);
            assert_ptr_equal (record->instance, &entries [i]);
            present++;
        }
        else
            assert_null (record);
    }
    assert_int_equal (flot_pending_size (table), present);
    size_t cursor = 0, walked = 0;
    while (flot_pending_next (table, &cursor))
        walked++;
    assert_int_equal (walked, present);
}

static void
test_pending_adds_finds_and_removes_in_any_order (void **state)
{
    (void) state;
    flot_pending_table_t *table = flot_pending_table_new ();
    assert_non_null (table);
    size_t count = CLIENTS * PER_CLIENT;
    entry_t *entries = calloc (count, sizeof *entries);
    assert_non_null (entries);
    //  Consecutive corrs per client, as clients choose them, plus a client
    //  whose corrs are far apart; the table grows many times on the way.
    for (size_t i = 0; i < count; i++) {
        entries [i].client = (int) (i % CLIENTS);
        entries [i].corr = entries [i].client == 3 ? (uint64_t) i << 40 : 1000 + i / CLIENTS;
        uint8_t route [8];
        size_t size = s_client (entries [i].client, route);
        flot_pending_t *record = flot_pending_add (table, route, size, entries [i].corr);
        assert_non_null (record);
        assert_null (record->instance);
        record->instance = &entries [i];
        record->deadline = (int64_t) i;
        entries [i].present = true;
        //  The same request again is refused.
        assert_null (flot_pending_add (table, route, size, entries [i].corr));
    }
    s_assert_state (table, entries, count);

    //  Remove in a shuffled order, checking everything at intervals.
    size_t *order = malloc (count * sizeof *order);
    assert_non_null (order);
    for (size_t i = 0; i < count; i++)
        order [i] = i;
    srand (7);
    for (size_t i = count - 1; i > 0; i--) {
        size_t j = (size_t) rand () % (i + 1);
        size_t swap = order [i];
        order [i] = order [j];
        order [j] = swap;
    }
    for (size_t n = 0; n < count; n++) {
        entry_t *entry = &entries [order [n]];
        uint8_t route [8];
        size_t size = s_client (entry->client, route);
        flot_pending_t *record = flot_pending_find (table, route, size, entry->corr);
        assert_non_null (record);
        flot_pending_remove (table, record);
        entry->present = false;
        if (n % 2500 == 0 || count - n < 50)
            s_assert_state (table, entries, count);
        //  Removed requests can be added again (records are reused).
        if (n % 3 == 0) {
            record = flot_pending_add (table, route, size, entry->corr);
            assert_non_null (record);
            record->instance = entry;
            entry->present = true;
            flot_pending_remove (table, record);
            entry->present = false;
        }
    }
    s_assert_state (table, entries, count);
    assert_int_equal (flot_pending_size (table), 0);
    free (order);
    free (entries);
    flot_pending_table_destroy (&table);
    assert_null (table);
}

//  Many records with the same hash slot: removing from the middle of one
//  long run keeps the run's later records findable.
static void
test_pending_removes_from_the_middle_of_a_run (void **state)
{
    (void) state;
    flot_pending_table_t *table = flot_pending_table_new ();
    uint8_t route [8];
    size_t size = s_client (0, route);
    enum { COUNT = 40 };
    flot_pending_t *records [COUNT];
    for (int i = 0; i < COUNT; i++) {
        records [i] = flot_pending_add (table, route, size, (uint64_t) i);
        assert_non_null (records [i]);
    }
    for (int i = 1; i < COUNT; i += 2)
        flot_pending_remove (table, records [i]);
    for (int i = 0; i < COUNT; i++) {
        flot_pending_t *found = flot_pending_find (table, route, size, (uint64_t) i);
        if (i % 2)
            assert_null (found);
        else
            assert_ptr_equal (found, records [i]);
    }
    //  Destroy frees the records still in the table (valgrind checks).
    flot_pending_table_destroy (&table);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pending_adds_finds_and_removes_in_any_order),
        cmocka_unit_test (test_pending_removes_from_the_middle_of_a_run),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
