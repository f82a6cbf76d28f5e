/*  contract_sample.h - the smallest valid body of any contract message.

    Walks a message's field table (flotilla/contract.h) and packs each
    required field with the least value its limits allow (a string of its
    minimum length or its first choice, a number at its lower limit, an
    array of its minimum items), nested messages the same way. Tests use it
    to send every command of every contract a body it must accept, and the
    same body with a key added or a key given twice.
*/
#ifndef CONTRACT_SAMPLE_H_INCLUDED
#define CONTRACT_SAMPLE_H_INCLUDED

#include <flotilla/contract.h>

//  Packs the sample of def. extra, if not NULL, is a key to add (with the
//  value 1) after the fields; twice, if true, packs the first field (or,
//  in a message of no fields, extra) a second time.
void
    contract_sample_pack (const flot_struct_t *def, msgpack_packer *pk,
                          const char *extra, bool twice);

//  Packs every field of def, optional ones too, each with its least value
//  (nested messages with their required fields only).
void
    contract_sample_pack_every (const flot_struct_t *def, msgpack_packer *pk);

//  The name of the key that twice repeats: def's first field, or extra.
const char *
    contract_sample_repeated (const flot_struct_t *def, const char *extra);

#endif
