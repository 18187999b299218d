/*
 * keys_cmd.h -- `fleetd keys init|rotate|revoke|show` (keys_cmd.c): the
 * fleet's root key and the certificates of fleetd's signing key, run on
 * fleetd's machine against its data folder (docs/security.md, "Signed
 * images and key rotation"). Private to fleetd.
 */
#ifndef FLD_KEYS_CMD_H
#define FLD_KEYS_CMD_H

/* `fleetd keys ...`: argv[0] is "keys". Returns the exit status (0, 1
 * refused or failed with one line on stderr, 2 usage). */
int fld_keys_main(int argc, char **argv);

#endif
