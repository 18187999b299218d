/*
 * pki_cmd.h -- `fleetd pki init|server|device|devices|client` (pki_cmd.c):
 * the operator's commands on the fleet CA, run on fleetd's machine against
 * its data folder. Private to fleetd.
 */
#ifndef FLD_PKI_CMD_H
#define FLD_PKI_CMD_H

/* `fleetd pki ...`: argv[0] is "pki". Returns the exit status (0, 1
 * refused or failed with one line on stderr, 2 usage). */
int fld_pki_main(int argc, char **argv);

#endif
