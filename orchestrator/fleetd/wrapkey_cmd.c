/*
 * wrapkey_cmd.c -- `fleetd wrapkey`: the wrap keys fleetd knows, the
 * public halves it wraps each encrypted image's content key for
 * (DATA/wrap/NAME.pem, imgkeys.h):
 *
 *   fleetd wrapkey add NAME FILE [--replace]
 *   fleetd wrapkey list
 *   fleetd wrapkey remove NAME
 *   each with fleetd's [--data DIR] [--config FILE]
 *
 * add registers a key made elsewhere: a device that made its own
 * (`fleet-manifest wrapkey`, then `fleet-manifest pubkey`), or a group's
 * key, whose private half the group's devices hold. NAME is the device id
 * or the group (1 to 63 of [A-Za-z0-9._-], the first a letter or digit);
 * FILE a PEM public key or the 130 hex digits `fleet-manifest pubkey`
 * prints, a point on P-256. A private key is refused (its half stays on
 * the device), and so is replacing a registered key without --replace
 * (rotation: docs/security.md). Nothing is written when anything is
 * refused. `fleetd pki device|devices` make and register device keys by
 * themselves. fleetd reads the registry at each offer: no restart.
 */
#include "wrapkey_cmd.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/seal.h"
#include "imgkeys.h"

static const char USAGE[] =
	"usage: fleetd wrapkey add NAME FILE [--replace]\n"
	"       fleetd wrapkey list\n"
	"       fleetd wrapkey remove NAME\n"
	"  NAME: a device id or a group (devices labelled wrap_group=NAME);\n"
	"  FILE: a PEM public key or 130 hex digits (fleet-manifest pubkey)\n"
	"  each also takes fleetd's --data DIR and --config FILE\n";

static int usage(const char *what)
{
	fprintf(stderr, "fleetd wrapkey: %s\n%s", what, USAGE);
	return 2;
}

static int failed(const char *what)
{
	fprintf(stderr, "fleetd wrapkey: %s\n", what);
	return 1;
}

static int print_one(void *ctx, const char *name, const uint8_t pub[65])
{
	uint8_t kid[FL_WRAP_KID_BYTES];
	char hex[2 * FL_WRAP_KID_BYTES + 1] = "?";

	(void)ctx;
	if (fl_wrap_kid(kid, &fl_crypto_openssl, pub) == 0)
		(void)fl_hex_encode(hex, sizeof(hex), kid, sizeof(kid));
	printf("%s\tkid %s\n", name, hex);
	return 0;
}

int fld_wrapkey_main(int argc, char **argv)
{
	const char *args[3] = {NULL, NULL, NULL};
	const char *data = NULL, *config = NULL;
	struct fld_imgkeys_diag d = {""};
	char dir[PATH_MAX];
	uint8_t pub[65];
	bool is_replace = false;
	unsigned n = 0;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(USAGE, stdout);
			return 0;
		}
		if (strcmp(a, "--replace") == 0) {
			is_replace = true;
		} else if (strcmp(a, "--data") == 0 ||
			   strcmp(a, "--config") == 0) {
			if (i + 1 >= argc)
				return usage("an option needs a value");
			*(a[2] == 'd' ? &data : &config) = argv[++i];
		} else if (a[0] == '-') {
			return usage("unknown option");
		} else if (n < 3) {
			args[n++] = a;
		} else {
			return usage("too many arguments");
		}
	}
	if (n == 0)
		return usage("add, list or remove?");
	if (!((strcmp(args[0], "add") == 0 && n == 3) ||
	      (strcmp(args[0], "list") == 0 && n == 1) ||
	      (strcmp(args[0], "remove") == 0 && n == 2)))
		return usage("add NAME FILE, list, or remove NAME");
	if (is_replace && strcmp(args[0], "add") != 0)
		return usage("--replace goes with add");
	rc = fld_data_dir(data, config, dir, sizeof(dir), "fleetd wrapkey");
	if (rc != 0)
		return rc;
	if (strcmp(args[0], "list") == 0)
		return fld_wrap_list(dir, print_one, NULL) == 0
			       ? 0
			       : failed("cannot read the registry");
	if (!fld_wrap_name_ok(args[1])) {
		fprintf(stderr,
			"fleetd wrapkey: `%.80s`: a device id or group name is "
			"1 to 63 of [A-Za-z0-9._-], the first a letter or "
			"digit\n",
			args[1]);
		return 1;
	}
	if (strcmp(args[0], "remove") == 0) {
		if (fld_wrap_remove(dir, args[1], &d) != 0)
			return failed(d.msg);
		printf("%s: wrap key removed; its devices get no key from now "
		       "on\n",
		       args[1]);
		return 0;
	}
	if (fld_wrap_pub_read(pub, args[2], &d) != 0 ||
	    fld_wrap_put(dir, args[1], pub, is_replace, &d) != 0)
		return failed(d.msg);
	print_one(NULL, args[1], pub);
	return 0;
}
