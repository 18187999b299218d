/*
 * store_sqlite_priv.h -- what the SQLite store's files share: the
 * migration steps (migrations.c) used by the backend (store_sqlite.c).
 */
#ifndef FL_STORE_SQLITE_PRIV_H
#define FL_STORE_SQLITE_PRIV_H

#include "fl/store.h"

/* The store's SQLite application_id: "FLTD". */
#define FL_STORE_SQLITE_APP_ID 0x464C5444

/* fl_store__migrations[i] takes schema version i to i + 1: SQL text run
 * inside the step's transaction. FL_STORE_SQLITE_SCHEMA entries. */
extern const char *const fl_store__migrations[];

#endif
