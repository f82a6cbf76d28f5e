/*  flotilla/contract.h - contracts as data: the table-driven message codec.

    Every service's contract is defined once, in protocol/contracts/<service>.json:
    its commands, their request, reply and stream messages field by field
    (wire name, msgpack type, required, limits, default), the errors each may
    answer, who may call it, and whether it is idempotent; the events
    contract also lists every event type and its data. protocol/gen_contracts.py
    turns those files into C: one typed struct per message and a field table
    (flot_struct_t) describing it, and one command table per service
    (flot_contract_t). This module is the one codec that reads and writes
    every message through those tables, so no body is packed or read by hand.

    Decoding checks every field against its table: its type, its limits, that
    every required field is there, that no key is given twice (any key, known
    or not); it ignores keys it does not know (SPEC 13: readers of an older
    version meet newer fields). A nil value counts as absent (SPEC 3.2).
    Errors are one sentence naming the field by its path:
    "field 'plan.targets[2].name' is required".

    Decoded strings, arrays and nested messages live in a msgpack_zone given
    by the caller (a request's body zone, say) and last as long as it does;
    `any` and `map` fields point into the decoded msgpack object itself, and
    last as long as it does.
*/
#ifndef FLOTILLA_CONTRACT_H_INCLUDED
#define FLOTILLA_CONTRACT_H_INCLUDED

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flotilla/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

//  The wire types of a field.
typedef enum {
    FLOT_T_STR = 1,     //  const char *, NUL-terminated, no NUL inside
    FLOT_T_UINT,        //  uint64_t
    FLOT_T_INT,         //  int64_t
    FLOT_T_BOOL,        //  bool
    FLOT_T_DOUBLE,      //  double (an integer on the wire is taken too)
    FLOT_T_ANY,         //  const msgpack_object *: any value, left as it is
    FLOT_T_MAP,         //  const msgpack_object *: any map, left as it is
    FLOT_T_STRMAP,      //  flot_strmap_t: a map of strings to strings
    FLOT_T_STRUCT,      //  a pointer to a nested message
    FLOT_T_ARRAY        //  flot_array_t of the element type
} flot_type_t;

typedef struct _flot_struct_t flot_struct_t;

//  One field of a message.
typedef struct {
    const char *name;               //  the key on the wire
    uint8_t type;                   //  flot_type_t
    uint8_t elem;                   //  FLOT_T_ARRAY: the element's type
    bool required;
    bool has_default;               //  absent: the default is set (has_ stays false)
    size_t offset;                  //  of the value in the C struct
    size_t has_offset;              //  of its `bool has_<name>`, or SIZE_MAX
    uint64_t umin, umax;            //  FLOT_T_UINT limits; for STR and ARRAY, length
    uint64_t emin, emax;            //  FLOT_T_ARRAY of STR or UINT: each element's limits
    int64_t imin, imax;             //  FLOT_T_INT limits
    double dmin, dmax;              //  FLOT_T_DOUBLE limits
    const char *const *choices;     //  FLOT_T_STR: the allowed values, NULL-ended; or NULL
    const flot_struct_t *sub;       //  FLOT_T_STRUCT, or an array of them
    uint64_t udefault;              //  defaults, by type
    int64_t idefault;
    double ddefault;
    bool bdefault;
    const char *sdefault;
} flot_field_t;

//  A message: a map with these fields, and the C struct that holds it.
struct _flot_struct_t {
    const char *name;               //  "executor.STEP", "events.Replay reply"
    size_t size;                    //  sizeof the C struct
    const flot_field_t *fields;
    size_t field_count;             //  at most 64
};

//  FLOT_T_STRMAP in C.
typedef struct {
    const char *key;
    const char *value;
} flot_strpair_t;

typedef struct {
    size_t count;
    flot_strpair_t *items;
} flot_strmap_t;

//  FLOT_T_ARRAY in C: items points to count values of the element's C type
//  (const char * for strings, uint64_t, ..., the nested struct itself for
//  FLOT_T_STRUCT, const msgpack_object for ANY and MAP).
typedef struct {
    size_t count;
    void *items;
} flot_array_t;

//  A command of a contract.
typedef struct {
    const char *name;               //  "ExecuteStep"
    const char *const *callers;     //  "viewer", "operator", "service:NAME"; NULL-ended
    bool idempotent;
    const flot_struct_t *request;   //  NULL: any map, handed over as it is
    const flot_struct_t *reply;     //  NULL: any map
    const flot_struct_t *stream;    //  messages on its stream, or NULL: none
    const int *errors;              //  codes it may answer, 0-ended
} flot_command_def_t;

//  A service's contract.
typedef struct {
    const char *service;
    const flot_command_def_t *commands;
    size_t command_count;
    bool one_instance;              //  "instances": "one": the broker registers
                                    //  one live instance at a time (SPEC 4.1)
} flot_contract_t;

//  An event type of the events contract, and its data.
typedef struct {
    const char *type;               //  "step.completed"
    const flot_struct_t *data;
    bool ends;                      //  ends its deployment
} flot_event_def_t;

//  Decode map into out (a zeroed struct of def->size bytes), allocating
//  strings, arrays and nested messages in zone. where is the path of map
//  ("" for a body). Returns 0, or -1 with err (INVALID) naming the field.
int
    flot_decode (const flot_struct_t *def, const msgpack_object *map,
                 msgpack_zone *zone, void *out, flot_err_t *err);

//  Decode into a new struct allocated in zone. Returns it, or NULL with err.
void *
    flot_decode_new (const flot_struct_t *def, const msgpack_object *map,
                     msgpack_zone *zone, flot_err_t *err);

//  Read one number or bool (f->type UINT, INT, BOOL or DOUBLE, with f's
//  limits) from obj into out, the value's C type; path names it in errors.
//  Returns 0, or -1 with err. (The getters of flotilla/body.h use it.)
int
    flot_decode_scalar (const flot_field_t *f, const msgpack_object *obj, void *out,
                        const char *path, flot_err_t *err);

//  Pack in as a map: every required field, and every optional one that is
//  there (a non-NULL pointer, a has_ set, a non-empty array or strmap; a
//  string equal to its default is left out). A required string that is
//  NULL goes out as ""; a required nested message, any or map must not be
//  NULL. Returns 0.
int
    flot_encode (const flot_struct_t *def, const void *in, msgpack_packer *pk);

//  Encode in into a fresh sbuffer (the caller destroys it).
void
    flot_encode_sbuf (const flot_struct_t *def, const void *in, msgpack_sbuffer *sbuf);

//  The command of contract called name, or NULL.
const flot_command_def_t *
    flot_contract_command (const flot_contract_t *contract, const char *name);

//  The event type called type, or NULL (from the generated event table).
const flot_event_def_t *
    flot_event_def (const char *type);

//  Every event type, and how many.
extern const flot_event_def_t flot_event_defs [];
extern const size_t flot_event_def_count;

//  Every contract, and every message of every contract, NULL-ended (for
//  tests and tools).
extern const flot_contract_t *const flot_contracts [];
extern const flot_struct_t *const flot_struct_defs [];

#ifdef __cplusplus
}
#endif

#endif
