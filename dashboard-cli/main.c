/*
 * main.c -- fleetctl: global options, the command table and dispatch.
 *
 * The command line is the contract of ARCHITECTURE.md ("Commands"):
 * `fleetctl [--server URL] [--json] COMMAND ...`; the server also comes
 * from $FLEET_SERVER. Exit status 0 is success, 1 a refused or failed
 * request with a one-line reason on stderr, 2 a usage error with a short
 * usage text. The commands that need no server are plan_cmd.c's, those
 * that talk to fleetd server_cmd.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "server.h"

#ifndef FLEETCTL_VERSION
#define FLEETCTL_VERSION "0.0.0"
#endif

static const char usage_text[] =
	"usage: fleetctl [--server URL] [--token TOKEN] [--json] COMMAND "
	"[ARGS]\n"
	"\n"
	"commands that need no server:\n"
	"  plan validate FILE...           check rollout plans\n"
	"  plan simulate FILE [OPTIONS]    rehearse a plan on a simulated "
	"fleet\n"
	"                                  (fleetctl plan simulate --help)\n"
	"commands that talk to fleetd:\n"
	"  rollout start FILE              validate, upload the artifact, "
	"start\n"
	"  rollout list [--active|--finished]\n"
	"  rollout status NAME             stages, progress, gate, what it "
	"waits for\n"
	"  pause NAME   resume NAME   cancel NAME       [--reason TEXT]\n"
	"  approve NAME STAGE|HOLD                      [--reason TEXT]\n"
	"  rollback [NAME] [--yes] [--wait]             shows what it will "
	"do, asks\n"
	"  devices [--model M] [--label K=V]... [--online|--offline]\n"
	"  device ID\n"
	"  events [NAME] [--follow] [--after SEQ]\n"
	"  label ID KEY=VALUE... [-KEY]... [--remove KEY]...\n"
	"  watch [NAME]                    the live dashboard (one line per "
	"change\n"
	"                                  when stdout is not a terminal)\n"
	"\n"
	"global options:\n"
	"  --server URL   fleetd's address (default: $FLEET_SERVER, else\n"
	"                 https://127.0.0.1:8780, the embedded set-up's;\n"
	"                 its CA: $FLEET_CA, else fleetd's default "
	"pki/ca.crt)\n"
	"  --token TOKEN  fleetd's API token (default: $FLEET_TOKEN, else\n"
	"                 the file $FLEET_TOKEN_FILE, else the admin token of\n"
	"                 fleetd's default data folder on this machine)\n"
	"  --token-file FILE  the token's file\n"
	"  --json         machine-readable output on stdout\n"
	"  --help         this text        --version   fleetctl's version\n"
	"\n"
	"exit status: 0 done, 1 refused or failed (one line on stderr), 2 "
	"usage\n"
	"error. Every command takes --help; docs/fleetctl.md has the rest.\n";

static int usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "fleetctl: %s\n", why);
	fputs(usage_text, stderr);
	return FL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct fl_cli cli;
	const char *env = getenv("FLEET_SERVER");
	int i, rc;

	memset(&cli, 0, sizeof(cli));
	cli.server = env != NULL && env[0] != '\0' ? env : NULL;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "--json") == 0) {
			cli.is_json = 1;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_text, stdout);
			return FL_EXIT_OK;
		} else if (strcmp(a, "--version") == 0) {
			printf("fleetctl %s\n", FLEETCTL_VERSION);
			return FL_EXIT_OK;
		} else if (strcmp(a, "--server") == 0) {
			if (i + 1 >= argc || argv[i + 1][0] == '\0')
				return usage("--server needs a URL");
			cli.server = argv[++i];
		} else if (strncmp(a, "--server=", 9) == 0) {
			if (a[9] == '\0')
				return usage("--server needs a URL");
			cli.server = a + 9;
		} else if (strcmp(a, "--token") == 0 ||
			   strcmp(a, "--token-file") == 0) {
			/* through the environment, so that every client
			 * of the API in this process sends it (api.h) */
			if (i + 1 >= argc || argv[i + 1][0] == '\0')
				return usage(a[7] == '\0'
						     ? "--token needs a token"
						     : "--token-file needs a "
						       "file");
			if (a[7] == '\0')
				rc = setenv("FLEET_TOKEN", argv[++i], 1);
			else
				rc = unsetenv("FLEET_TOKEN") != 0
					     ? -1
					     : setenv("FLEET_TOKEN_FILE",
						      argv[++i], 1);
			if (rc != 0)
				return usage("no room for the token");
		} else {
			fprintf(stderr, "fleetctl: unknown option %s\n", a);
			return usage(NULL);
		}
	}
	if (i >= argc)
		return usage("no command given");
	if (strcmp(argv[i], "plan") == 0)
		return fl_cli_plan(&cli, argc - i, argv + i);
	if (strcmp(argv[i], "help") == 0) {
		fputs(usage_text, stdout);
		return FL_EXIT_OK;
	}
	rc = fl_cli_server(&cli, argc - i, argv + i);
	if (rc >= 0)
		return rc;
	fprintf(stderr, "fleetctl: unknown command `%s`\n", argv[i]);
	return usage(NULL);
}
