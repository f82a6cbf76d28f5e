/*  flotilla/schema.h - versioned SQLite schemas, migrated on open.

    A file records its schema's version in PRAGMA user_version. Opening it
    brings it to the newest version this build writes, in one transaction:
    an empty file gets the newest schema, an older one is migrated version
    by version, and a newer, too old or unknown one is refused with a
    sentence and left as it was. The coordinator's store and the events'
    log each describe their schema with a flot_schema_t.
*/
#ifndef FLOTILLA_SCHEMA_H_INCLUDED
#define FLOTILLA_SCHEMA_H_INCLUDED

#include <sqlite3.h>

#include "flotilla/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

//  A schema, version by version. A change to it adds a migration and
//  raises newest; create always makes the newest version.
typedef struct {
    const char *what;           //  "store": the subject of the sentences
    const char *verb;           //  "set up": "cannot set up the store" if SQLite
                                //  cannot begin or commit the transaction
    const char *log;            //  who logs that a file was migrated
    const char *create;         //  SQL making the newest version in an empty file
    const char *const *migrations;  //  migrations [v - first]: from v to v + 1
    int first;                  //  the oldest version this build migrates, >= 1
    int newest;                 //  the version this build writes
    const char *detect;         //  for a file with tables but no user_version (written
                                //  before it): SQL whose first row holds its version;
                                //  no row, or NULL, for tables of no version known
    const char *stamp;          //  one more SQL statement after a creation or a
                                //  migration, with ?1 the newest version (or NULL)
} flot_schema_t;

//  Brings the file open in db, at path, to schema->newest in one
//  transaction, and logs a notice when it migrated one. Returns 0, or -1
//  with err (the file left as it was).
int
    flot_schema_migrate (sqlite3 *db, const flot_schema_t *schema, const char *path,
                         flot_err_t *err);

#ifdef __cplusplus
}
#endif

#endif
