/*
 * main.c -- fleetctl: global options, the command table and dispatch.
 *
 * The command line is the contract of ARCHITECTURE.md ("Commands"):
 * `fleetctl [--server URL] [--json] COMMAND ...`; the server also comes
 * from $FLEET_SERVER. Exit status 0 is success, 1 a refused or failed
 * request with a one-line reason on stderr, 2 a usage error with a short
 * usage text. The commands that talk to fleetd are listed so that their
 * usage is known, and refuse with "not available yet" until the API client
 * exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifndef FLEETCTL_VERSION
#define FLEETCTL_VERSION "0.0.0"
#endif

static const char usage_text[] =
	"usage: fleetctl [--server URL] [--json] COMMAND [ARGS]\n"
	"\n"
	"commands that need no server:\n"
	"  plan validate FILE...           check rollout plans\n"
	"  plan simulate FILE [OPTIONS]    rehearse a plan on a simulated "
	"fleet\n"
	"                                  (fleetctl plan simulate --help)\n"
	"commands that talk to fleetd (not available yet):\n"
	"  rollout start FILE   rollout list   rollout status NAME\n"
	"  pause NAME   resume NAME   approve NAME STAGE|HOLD   rollback NAME\n"
	"  devices   device ID   events [NAME]   watch [NAME]\n"
	"\n"
	"global options:\n"
	"  --server URL   fleetd's address (default: $FLEET_SERVER, else the\n"
	"                 embedded set-up's)\n"
	"  --json         machine-readable output on stdout\n"
	"  --help         this text        --version   fleetctl's version\n";

/* The server commands: name, and the argument counts they take. */
static const struct {
	const char *name, *sub;
	int min_args, max_args;
} server_cmds[] = {
	{"rollout", "start", 1, 1},  {"rollout", "list", 0, 0},
	{"rollout", "status", 1, 1}, {"pause", NULL, 1, 1},
	{"resume", NULL, 1, 1},	     {"approve", NULL, 2, 2},
	{"rollback", NULL, 1, 1},    {"devices", NULL, 0, 0},
	{"device", NULL, 1, 1},	     {"events", NULL, 0, 1},
	{"watch", NULL, 0, 1},
};

static int usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "fleetctl: %s\n", why);
	fputs(usage_text, stderr);
	return FL_EXIT_USAGE;
}

static int server_command(const struct fl_cli *cli, int argc, char **argv)
{
	int known = 0;

	for (size_t i = 0; i < sizeof(server_cmds) / sizeof(server_cmds[0]);
	     i++) {
		int nargs = argc - 1;

		if (strcmp(argv[0], server_cmds[i].name) != 0)
			continue;
		known = 1;
		if (server_cmds[i].sub != NULL) {
			if (argc < 2 || strcmp(argv[1], server_cmds[i].sub))
				continue;
			nargs--;
		}
		if (nargs < server_cmds[i].min_args ||
		    nargs > server_cmds[i].max_args)
			return usage("wrong number of arguments");
		fprintf(stderr,
			"fleetctl: %s%s%s: not available yet: needs fleetd "
			"(%s)\n",
			argv[0], server_cmds[i].sub ? " " : "",
			server_cmds[i].sub ? server_cmds[i].sub : "",
			cli->server ? cli->server : "default server");
		return FL_EXIT_FAIL;
	}
	if (known)
		return usage("unknown subcommand");
	return -1;
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
	rc = server_command(&cli, argc - i, argv + i);
	if (rc >= 0)
		return rc;
	fprintf(stderr, "fleetctl: unknown command `%s`\n", argv[i]);
	return usage(NULL);
}
