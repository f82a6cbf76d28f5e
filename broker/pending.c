/*  pending.c - the broker's table of requests in flight.

    Linear probing over a power-of-two array of slots, kept at most half
    full; a removal shifts the records after it back into the gap (no
    tombstones), so a lookup stops at the first empty slot. A slot holds
    its record's hash beside the pointer, so that growing never hashes
    again, and a probe, an insert and a removal's shifting read no record
    but the one that matches (records are spread over the heap: each read
    of one is likely a cache miss).
*/
#include "pending.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAPACITY    64
#define MAX_FREE        4096        //  records kept for reuse, at most

typedef struct {
    uint64_t hash;
    flot_pending_t *record;         //  NULL: empty
} slot_t;

struct _flot_pending_table_t {
    slot_t *slots;
    size_t capacity;                //  a power of two
    size_t size;
    flot_pending_t *free_list;
    size_t free_count;
};

//  FNV-1a over the client's bytes, then the corr mixed in (splitmix64's
//  finalizer), so that one client's consecutive corrs spread out.
static uint64_t
s_hash (const uint8_t *client, size_t size, uint64_t corr)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < size; i++) {
        h ^= client [i];
        h *= 1099511628211ULL;
    }
    h ^= corr + 0x9e3779b97f4a7c15ULL;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

static bool
s_matches (const slot_t *slot, uint64_t hash, const uint8_t *client,
           size_t size, uint64_t corr)
{
    const flot_pending_t *record = slot->record;
    return slot->hash == hash && record->corr == corr
        && record->client_size == size && memcmp (record->client, client, size) == 0;
}

flot_pending_table_t *
flot_pending_table_new (void)
{
    flot_pending_table_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->capacity = MIN_CAPACITY;
    self->slots = calloc (self->capacity, sizeof *self->slots);
    if (!self->slots) {
        free (self);
        return NULL;
    }
    return self;
}

void
flot_pending_table_destroy (flot_pending_table_t **self_p)
{
    if (self_p && *self_p) {
        flot_pending_table_t *self = *self_p;
        for (size_t i = 0; i < self->capacity; i++)
            free (self->slots [i].record);
        while (self->free_list) {
            flot_pending_t *next = self->free_list->next_free;
            free (self->free_list);
            self->free_list = next;
        }
        free (self->slots);
        free (self);
        *self_p = NULL;
    }
}

//  Doubles the array and places every record again by its kept hash.
static void
s_grow (flot_pending_table_t *self)
{
    size_t capacity = self->capacity * 2;
    slot_t *slots = calloc (capacity, sizeof *slots);
    assert (slots);
    for (size_t i = 0; i < self->capacity; i++) {
        if (self->slots [i].record) {
            size_t at = (size_t) self->slots [i].hash & (capacity - 1);
            while (slots [at].record)
                at = (at + 1) & (capacity - 1);
            slots [at] = self->slots [i];
        }
    }
    free (self->slots);
    self->slots = slots;
    self->capacity = capacity;
}

flot_pending_t *
flot_pending_add (flot_pending_table_t *self, const uint8_t *client,
                  size_t client_size, uint64_t corr)
{
    assert (client_size > 0 && client_size <= FLOT_MAX_ROUTE);
    if (2 * (self->size + 1) > self->capacity)
        s_grow (self);
    uint64_t hash = s_hash (client, client_size, corr);
    size_t mask = self->capacity - 1;
    size_t at = (size_t) hash & mask;
    for (; self->slots [at].record; at = (at + 1) & mask)
        if (s_matches (&self->slots [at], hash, client, client_size, corr))
            return NULL;
    flot_pending_t *record = self->free_list;
    if (record) {
        self->free_list = record->next_free;
        self->free_count--;
    }
    else {
        //  On a cache line of its own: its first 64 bytes are what a find
        //  reads (pending.h), one miss.
        record = aligned_alloc (64, (sizeof *record + 63) / 64 * 64);
        assert (record);
    }
    record->corr = corr;
    record->instance = NULL;
    record->deadline = 0;
    record->version = 0;
    record->key [0] = 0;
    record->hash = hash;
    record->next_free = NULL;
    record->client_size = (uint16_t) client_size;
    memcpy (record->client, client, client_size);
    self->slots [at] = (slot_t) { hash, record };
    self->size++;
    return record;
}

flot_pending_t *
flot_pending_find (flot_pending_table_t *self, const uint8_t *client,
                   size_t client_size, uint64_t corr)
{
    uint64_t hash = s_hash (client, client_size, corr);
    size_t mask = self->capacity - 1;
    for (size_t at = (size_t) hash & mask; self->slots [at].record; at = (at + 1) & mask)
        if (s_matches (&self->slots [at], hash, client, client_size, corr))
            return self->slots [at].record;
    return NULL;
}

void
flot_pending_remove (flot_pending_table_t *self, flot_pending_t *record)
{
    size_t mask = self->capacity - 1;
    size_t gap = (size_t) record->hash & mask;
    while (self->slots [gap].record != record) {
        assert (self->slots [gap].record);      //  a record of this table
        gap = (gap + 1) & mask;
    }
    //  Shift back each later record of the run that may sit in the gap: one
    //  whose home slot is not cyclically within (gap, at].
    for (size_t at = (gap + 1) & mask; self->slots [at].record; at = (at + 1) & mask) {
        size_t home = (size_t) self->slots [at].hash & mask;
        bool stays = gap <= at ? (gap < home && home <= at) : (gap < home || home <= at);
        if (!stays) {
            self->slots [gap] = self->slots [at];
            gap = at;
        }
    }
    self->slots [gap] = (slot_t) { 0, NULL };
    self->size--;
    if (self->free_count < MAX_FREE) {
        record->next_free = self->free_list;
        self->free_list = record;
        self->free_count++;
    }
    else
        free (record);
}

size_t
flot_pending_size (flot_pending_table_t *self)
{
    return self->size;
}

flot_pending_t *
flot_pending_next (flot_pending_table_t *self, size_t *cursor)
{
    while (*cursor < self->capacity) {
        flot_pending_t *record = self->slots [(*cursor)++].record;
        if (record)
            return record;
    }
    return NULL;
}
