/*
 * token_cmd.h -- `fleetd token create|list|revoke` (the operator's
 * commands on fleetd's API tokens, run on fleetd's machine against its
 * store, also while fleetd runs) and the admin token fleetd makes at its
 * first start. Private to fleetd.
 */
#ifndef FLD_TOKEN_CMD_H
#define FLD_TOKEN_CMD_H

#include <stdint.h>

#include "fl/store.h"

/* `fleetd token ...`: argv[0] is "token". Returns the exit status (0,
 * 1 refused or failed with one line on stderr, 2 usage). */
int fld_token_main(int argc, char **argv);

/*
 * At a start: when the store has no token at all (a first start), makes
 * the token "admin" (role admin) and writes it to DATA/admin.token (mode
 * 0600, written to a temporary file, synced and renamed), both or
 * neither. *made says whether it did. Returns 0, or an error with msg
 * (cap bytes) saying why (nothing is kept then).
 */
int fld_token_bootstrap(struct fl_store *st, const char *data_dir,
			int64_t now_s, int *made, char *msg, size_t cap);

#endif
