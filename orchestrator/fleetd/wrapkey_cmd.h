/*
 * wrapkey_cmd.h -- `fleetd wrapkey add|list|remove` (wrapkey_cmd.c): the
 * registry of device and group wrap keys that fleetd wraps the content
 * keys of encrypted images for (imgkeys.h; docs/security.md, "Encrypted
 * images"). Private to fleetd.
 */
#ifndef FLD_WRAPKEY_CMD_H
#define FLD_WRAPKEY_CMD_H

/* `fleetd wrapkey ...`: argv[0] is "wrapkey". Returns the exit status (0,
 * 1 refused or failed with one line on stderr, 2 usage). */
int fld_wrapkey_main(int argc, char **argv);

#endif
