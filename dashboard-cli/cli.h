/*
 * cli.h -- what fleetctl's commands share: the global options, the exit
 * statuses of the command-line contract (ARCHITECTURE.md, "Commands"), and
 * the command entry points.
 */
#ifndef FLEETCTL_CLI_H
#define FLEETCTL_CLI_H

#include <stdio.h>

#include "fl/plan.h"
#include "simulate.h"

enum fl_cli_exit {
	FL_EXIT_OK = 0,	   /* success */
	FL_EXIT_FAIL = 1,  /* refused or failed, one-line reason on stderr */
	FL_EXIT_USAGE = 2, /* usage error, short usage on stderr */
};

struct fl_cli {
	const char *server; /* --server or $FLEET_SERVER; NULL: default */
	int is_json;	    /* --json */
};

/* `fleetctl plan ...`: argv[0] is "plan". Returns an enum fl_cli_exit. */
int fl_cli_plan(const struct fl_cli *cli, int argc, char **argv);

/* What simulate was asked, for the report. */
struct fl_sim_report_ctx {
	const struct fl_plan *plan;
	const struct fl_inventory *inv;
	const struct fl_sim_options *opt;
	int is_default_fleet;
	unsigned per_model; /* default fleet: devices per model */
};

/* The simulation's report, in words or as one JSON document. Return 0 or
 * FL_ENOMEM / FL_EIO. */
int fl_sim_print_text(const struct fl_sim_report_ctx *ctx,
		      const struct fl_sim_result *r, FILE *f);
int fl_sim_print_json(const struct fl_sim_report_ctx *ctx,
		      const struct fl_sim_result *r, FILE *f);

/* `plan validate --json`: an array of {file, ok, errors: [...]}. */
struct cJSON;
struct cJSON *fl_cli_diags_json(const struct fl_plan_diags *d,
				const struct fl_plan *plan);

#endif
