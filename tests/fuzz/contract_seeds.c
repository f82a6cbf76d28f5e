/*  contract_seeds.c - writes fuzz_contract's seeds: for every message of
    every contract, its index as one byte and then its smallest valid body
    (tests/lib/contract_sample.c), one file each, into the folder given. */
#include <flotilla/contracts.h>
#include "contract_sample.h"

#include <stdio.h>

int
main (int argc, char *argv [])
{
    if (argc != 2) {
        fprintf (stderr, "usage: contract_seeds DIR\n");
        return 2;
    }
    size_t index = 0;
    for (const flot_struct_t *const *d = flot_struct_defs; *d; d++, index++) {
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        contract_sample_pack (*d, &pk, NULL, false);
        char path [512];
        snprintf (path, sizeof path, "%s/seed-%03zu", argv [1], index);
        FILE *file = fopen (path, "wb");
        if (!file) {
            perror (path);
            return 1;
        }
        uint8_t first = (uint8_t) index;
        fwrite (&first, 1, 1, file);
        fwrite (sbuf.data, 1, sbuf.size, file);
        fclose (file);
        msgpack_sbuffer_destroy (&sbuf);
    }
    printf ("%zu seeds in %s\n", index, argv [1]);
    return 0;
}
