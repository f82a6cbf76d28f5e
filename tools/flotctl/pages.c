/*  pages.c - replies that come in pages (SPEC section 18.1): status, list
    and plan fetch them and join them here into one.

    A paged reply holds a slice of one or more long lists (a GetStatus
    reply's `targets`, a List reply's `deployments`, a plan's and its
    rollback's `targets` and `order`) and a `page` saying where it starts
    and whether more follows. The pages of one answer are joined into the
    reply a single call would have given: each list the concatenation of
    the pages' slices, every other field as the first page has it, and
    `page` the last one's, starting where the first started; none when the
    pages hold the whole list, which then reads as one call's reply. The joined
    reply may pass the body limit (it never goes on the wire), so it is
    unpacked into its own zone, not checked as a body.
*/
#include "ctl.h"

void
ctl_pages_init (pages_t *self)
{
    memset (self, 0, sizeof *self);
    msgpack_unpacked_init (&self->joined);
}

void
ctl_pages_clear (pages_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        flot_body_destroy (&self->bodies [i]);
    free (self->bodies);
    msgpack_unpacked_destroy (&self->joined);
    free (self->bytes);
    memset (self, 0, sizeof *self);
    msgpack_unpacked_init (&self->joined);
}

int
ctl_pages_add (pages_t *self, flot_body_t **body_p)
{
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 8;
        flot_body_t **bodies = realloc (self->bodies, capacity * sizeof *bodies);
        if (!bodies)
            return -1;
        self->bodies = bodies;
        self->capacity = capacity;
    }
    self->bodies [self->count++] = *body_p;
    *body_p = NULL;
    return 0;
}

int
ctl_page_of (const msgpack_object *page_owner, page_t *page, flot_err_t *err)
{
    memset (page, 0, sizeof *page);
    const msgpack_object *map = flot_map_get (page_owner, "page");
    if (!map)
        return 0;               //  a whole answer (an older server, or it fit)
    page->paged = true;
    bool more = false, cut = false;
    if (flot_map_uint (map, "offset", true, 0, UINT64_MAX, &page->offset, err) < 0
    ||  flot_map_uint (map, "total", true, 0, UINT64_MAX, &page->total, err) < 0
    ||  flot_map_bool (map, "more", true, &more, err) < 0
    ||  flot_map_bool (map, "cut", false, &cut, err) < 0)
        return -1;
    page->more = more;
    page->cut = cut;
    if (more && flot_map_uint (map, "next_offset", true, page->offset, page->total,
                               &page->next_offset, err) < 0)
        return -1;
    //  An older coordinator gives no cursor: its pages go by offset.
    if (more && flot_map_str (map, "next_after", false, page->next_after,
                              sizeof page->next_after, err) < 0)
        return -1;
    return 0;
}

int
ctl_page_next (const msgpack_object *page_owner, uint64_t offset, uint64_t held,
               const char *items, page_t *page, flot_err_t *err)
{
    if (ctl_page_of (page_owner, page, err))
        return -1;
    if (offset == CTL_PAGE_AFTER)
        offset = page->offset;
    if (page->more && page->next_offset != offset + held)
        return flot_err_set (err, FLOT_E_MALFORMED, "its page starts at %llu and holds "
                             "%llu %s, but says the next starts at %llu",
                             (unsigned long long) offset, (unsigned long long) held, items,
                             (unsigned long long) page->next_offset);
    return 0;
}

static bool
s_in (const char *key, size_t len, const char *const *names)
{
    for (size_t i = 0; names && names [i]; i++)
        if (strlen (names [i]) == len && memcmp (names [i], key, len) == 0)
            return true;
    return false;
}

//  The value of key (len bytes) in map, or NULL.
static const msgpack_object *
s_get (const msgpack_object *map, const char *key, size_t len)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr [i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len
        &&  memcmp (k->via.str.ptr, key, len) == 0)
            return &map->via.map.ptr [i].val;
    }
    return NULL;
}

//  Packs the join of maps (count of them, the pages' objects at one level);
//  without its `page` if whole.
static void
s_join (msgpack_packer *pk, const msgpack_object *const *maps, size_t count,
        const char *const *lists, const char *const *nested, bool whole)
{
    const msgpack_object *first = maps [0];
    bool paged = s_get (first, "page", 4) != NULL;
    msgpack_pack_map (pk, first->via.map.size - (whole && paged));
    for (uint32_t i = 0; i < first->via.map.size; i++) {
        const msgpack_object_kv *kv = &first->via.map.ptr [i];
        const char *key = kv->key.via.str.ptr;
        size_t len = kv->key.via.str.size;
        if (whole && len == 4 && memcmp (key, "page", 4) == 0)
            continue;
        msgpack_pack_object (pk, kv->key);
        if (kv->val.type == MSGPACK_OBJECT_ARRAY && s_in (key, len, lists)) {
            size_t items = 0;
            for (size_t p = 0; p < count; p++) {
                const msgpack_object *list = s_get (maps [p], key, len);
                items += list && list->type == MSGPACK_OBJECT_ARRAY ? list->via.array.size : 0;
            }
            msgpack_pack_array (pk, items);
            for (size_t p = 0; p < count; p++) {
                const msgpack_object *list = s_get (maps [p], key, len);
                for (uint32_t j = 0; list && list->type == MSGPACK_OBJECT_ARRAY
                                     && j < list->via.array.size; j++)
                    msgpack_pack_object (pk, list->via.array.ptr [j]);
            }
        }
        else
        if (kv->val.type == MSGPACK_OBJECT_MAP && len == 4 && memcmp (key, "page", 4) == 0) {
            //  The last page's, starting where the first started.
            const msgpack_object *last = s_get (maps [count - 1], key, len);
            if (!last || last->type != MSGPACK_OBJECT_MAP)
                last = &kv->val;
            msgpack_pack_map (pk, last->via.map.size);
            for (uint32_t j = 0; j < last->via.map.size; j++) {
                const msgpack_object_kv *pkv = &last->via.map.ptr [j];
                msgpack_pack_object (pk, pkv->key);
                const msgpack_object *offset = s_get (&kv->val, "offset", 6);
                if (pkv->key.type == MSGPACK_OBJECT_STR && pkv->key.via.str.size == 6
                &&  memcmp (pkv->key.via.str.ptr, "offset", 6) == 0 && offset)
                    msgpack_pack_object (pk, *offset);
                else
                    msgpack_pack_object (pk, pkv->val);
            }
        }
        else
        if (kv->val.type == MSGPACK_OBJECT_MAP && s_in (key, len, nested)) {
            const msgpack_object **inner = calloc (count, sizeof *inner);
            assert (inner);
            size_t n = 0;
            for (size_t p = 0; p < count; p++) {
                const msgpack_object *sub = s_get (maps [p], key, len);
                if (sub && sub->type == MSGPACK_OBJECT_MAP)
                    inner [n++] = sub;
            }
            s_join (pk, inner, n, lists, nested, false);
            free (inner);
        }
        else
            msgpack_pack_object (pk, kv->val);
    }
}

const msgpack_object *
ctl_pages_join (pages_t *self, const char *const *lists, const char *const *nested,
                flot_err_t *err)
{
    assert (self->count > 0);
    const msgpack_object **maps = calloc (self->count, sizeof *maps);
    if (!maps) {
        flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < self->count; i++)
        maps [i] = flot_body_root (self->bodies [i]);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    //  A join of the whole list says nothing of pages: it reads as the
    //  reply of one call that fit would.
    page_t first, last;
    flot_err_t ignored;
    bool whole = ctl_page_of (maps [0], &first, &ignored) == 0
              && ctl_page_of (maps [self->count - 1], &last, &ignored) == 0
              && first.paged && first.offset == 0 && !last.more;
    s_join (&pk, maps, self->count, lists, nested, whole);
    free (maps);
    free (self->bytes);
    self->bytes = sbuf.data;
    size_t offset = 0;
    msgpack_unpacked_destroy (&self->joined);
    msgpack_unpacked_init (&self->joined);
    if (msgpack_unpack_next (&self->joined, sbuf.data, sbuf.size, &offset)
        != MSGPACK_UNPACK_SUCCESS) {
        flot_err_set (err, FLOT_E_INTERNAL, "the pages could not be joined");
        return NULL;
    }
    return &self->joined.data;
}

msgpack_zone *
ctl_pages_zone (pages_t *self)
{
    return self->joined.zone;
}
