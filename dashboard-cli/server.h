/*
 * server.h -- fleetctl's commands that talk to fleetd (docs/fleetctl.md):
 * their arguments, parsed by a pure function (args.c), the confirmation
 * asked before a rollback, and the entry point (server_cmd.c).
 */
#ifndef FLEETCTL_SERVER_H
#define FLEETCTL_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct fl_cli;

enum fl_srv_cmd {
	FL_SRV_START,	 /* rollout start FILE */
	FL_SRV_LIST,	 /* rollout list */
	FL_SRV_STATUS,	 /* rollout status NAME */
	FL_SRV_PAUSE,	 /* pause NAME */
	FL_SRV_RESUME,	 /* resume NAME */
	FL_SRV_APPROVE,	 /* approve NAME STAGE|HOLD */
	FL_SRV_ROLLBACK, /* rollback [NAME] */
	FL_SRV_CANCEL,	 /* cancel NAME */
	FL_SRV_DEVICES,	 /* devices */
	FL_SRV_DEVICE,	 /* device ID */
	FL_SRV_EVENTS,	 /* events [NAME] */
	FL_SRV_LABEL,	 /* label ID k=v... -k... */
	FL_SRV_WATCH,	 /* watch [NAME]: the live dashboard */
	FL_SRV_NCMDS
};

#define FL_SRV_MAX_LABELS    16 /* devices --label, label's changes */
#define FL_SRV_LABEL_KEY_MAX 31 /* docs/protocol.md, "reported" */
#define FL_SRV_LABEL_VAL_MAX 47
#define FL_SRV_NAME_MAX	     63 /* a rollout, stage or hold name, a device id */

struct fl_srv_label {
	char key[FL_SRV_LABEL_KEY_MAX + 1];
	const char *value; /* NULL: remove the key */
};

/* A parsed command line; the strings point into argv. */
struct fl_srv_args {
	int cmd; /* enum fl_srv_cmd */
	int is_json, is_help;
	const char *name;   /* the plan file, rollout name or device id */
	const char *what;   /* approve: the stage or hold */
	const char *reason; /* --reason */
	int is_yes, is_wait, is_follow;
	const char *state; /* rollout list: "active", "finished" or NULL */
	const char *model; /* devices --model */
	int online;	   /* devices: -1 any, 1 --online, 0 --offline */
	unsigned nlabels;  /* devices --label, or label's changes */
	struct fl_srv_label labels[FL_SRV_MAX_LABELS];
	int has_after; /* events --after */
	uint64_t after;
};

/* Parses `COMMAND [SUB] ARGS...` (argv[0] the command word). Returns 0
 * (a->is_help: print fl_srv_usage(a->cmd) and stop), FL_ENOENT when
 * argv[0] is not a server command, or FL_EINVAL for a usage error with
 * the reason in why (one line, no "fleetctl: " prefix). */
int fl_srv_parse(int argc, char **argv, struct fl_srv_args *a, char *why,
		 size_t why_size);

/* The usage lines of one command (FL_SRV_NCMDS: of `rollout`). */
const char *fl_srv_usage(int cmd);

/* Asks `question [y/N] ` on out and reads one line from in: 1 for y or
 * yes (any case, blanks around allowed), 0 for anything else or EOF. */
int fl_srv_confirm(FILE *in, FILE *out, const char *question);

/* Runs a server command (argv[0] the command word). Returns an enum
 * fl_cli_exit, or -1 when argv[0] is not a server command. */
int fl_cli_server(const struct fl_cli *cli, int argc, char **argv);

/* `watch [NAME]` (watch.c): the dashboard on a terminal, else one line per
 * change. Returns an enum fl_cli_exit. */
int fl_cli_watch(const struct fl_cli *cli, const char *name);

#endif
