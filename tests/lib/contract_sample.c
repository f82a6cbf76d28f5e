/*  contract_sample.c - the smallest valid body of any contract message. */
#include "contract_sample.h"

#include <assert.h>
#include <string.h>

static void s_value (const flot_field_t *f, int type, msgpack_packer *pk, int depth,
                     bool every);
static void s_pack (const flot_struct_t *def, msgpack_packer *pk, const char *extra,
                    bool twice, bool every, int depth);

static void
s_str (const flot_field_t *f, uint64_t min, msgpack_packer *pk)
{
    if (f->choices) {
        msgpack_pack_str (pk, strlen (f->choices [0]));
        msgpack_pack_str_body (pk, f->choices [0], strlen (f->choices [0]));
        return;
    }
    //  Names everywhere are 1.. of [A-Za-z0-9._-]: "a" fits them all.
    char text [256];
    uint64_t size = min ? min : 1;
    assert (size < sizeof text);
    memset (text, 'a', size);
    msgpack_pack_str (pk, size);
    msgpack_pack_str_body (pk, text, size);
}

static void
s_value (const flot_field_t *f, int type, msgpack_packer *pk, int depth, bool every)
{
    bool element = type != f->type;
    switch (type) {
        case FLOT_T_STR: s_str (f, element ? f->emin : f->umin, pk); break;
        case FLOT_T_UINT: msgpack_pack_uint64 (pk, element ? f->emin : f->umin); break;
        case FLOT_T_INT: msgpack_pack_int64 (pk, f->imin > 0 ? f->imin : (f->imax < 0 ? f->imax : 0)); break;
        case FLOT_T_BOOL: msgpack_pack_false (pk); break;
        case FLOT_T_DOUBLE: msgpack_pack_double (pk, f->dmin > 0 ? f->dmin : (f->dmax < 0 ? f->dmax : 0)); break;
        case FLOT_T_ANY: msgpack_pack_uint64 (pk, 0); break;
        case FLOT_T_MAP: msgpack_pack_map (pk, 0); break;
        case FLOT_T_STRMAP:
            //  With every field, a strmap holds one entry.
            if (every && f->umax > 0) {
                msgpack_pack_map (pk, 1);
                s_str (f, f->emin ? f->emin : 1, pk);
                s_str (f, f->emin, pk);
            }
            else
                msgpack_pack_map (pk, 0);
            break;
        case FLOT_T_STRUCT:
            assert (depth < 16);
            s_pack (f->sub, pk, NULL, false, false, depth + 1);
            break;
        case FLOT_T_ARRAY: {
            //  With every field, an array holds one item at least.
            uint64_t items = every && f->umin == 0 && f->umax > 0 ? 1 : f->umin;
            msgpack_pack_array (pk, items);
            for (uint64_t i = 0; i < items; i++)
                s_value (f, f->elem, pk, depth + 1, false);
            break;
        }
    }
}

void
contract_sample_pack (const flot_struct_t *def, msgpack_packer *pk,
                      const char *extra, bool twice)
{
    s_pack (def, pk, extra, twice, false, 0);
}

void
contract_sample_pack_every (const flot_struct_t *def, msgpack_packer *pk)
{
    s_pack (def, pk, NULL, false, true, 0);
}

static void
s_pack (const flot_struct_t *def, msgpack_packer *pk, const char *extra,
        bool twice, bool every, int depth)
{
    size_t count = 0;
    for (size_t i = 0; i < def->field_count; i++)
        count += every || def->fields [i].required;
    bool first_required = def->field_count && def->fields [0].required;
    //  A repeated optional first field is packed once more than its first time.
    size_t repeats = twice ? (def->field_count ? (first_required ? 1 : 2) : 1) : 0;
    if (twice && !def->field_count)
        assert (extra);
    msgpack_pack_map (pk, count + (extra ? 1 : 0) + repeats);
    for (size_t r = 0; r < repeats && def->field_count; r++) {
        const flot_field_t *f = &def->fields [0];
        msgpack_pack_str (pk, strlen (f->name));
        msgpack_pack_str_body (pk, f->name, strlen (f->name));
        s_value (f, f->type, pk, depth, every);
    }
    for (size_t i = 0; i < def->field_count; i++) {
        const flot_field_t *f = &def->fields [i];
        if (!f->required && !every)
            continue;
        msgpack_pack_str (pk, strlen (f->name));
        msgpack_pack_str_body (pk, f->name, strlen (f->name));
        s_value (f, f->type, pk, depth, every);
    }
    for (int k = 0; extra && k < ((twice && !def->field_count) ? 2 : 1); k++) {
        msgpack_pack_str (pk, strlen (extra));
        msgpack_pack_str_body (pk, extra, strlen (extra));
        msgpack_pack_uint64 (pk, 1);
    }
}

const char *
contract_sample_repeated (const flot_struct_t *def, const char *extra)
{
    return def->field_count ? def->fields [0].name : extra;
}
