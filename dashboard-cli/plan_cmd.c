/*
 * plan_cmd.c -- `fleetctl plan validate` and `fleetctl plan simulate`,
 * the commands that need no server: argument parsing, loading the plan
 * and the inventory, and the validator's report (text and JSON). The
 * simulation itself is simulate.c, its report sim_report.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "fl/err.h"
#include "fl/tzfile.h"
#include "inventory.h"
#include "simulate.h"

static const char plan_usage[] =
	"usage: fleetctl [--json] plan validate FILE...\n"
	"       fleetctl [--json] plan simulate FILE [--inventory FILE]\n"
	"                [--fail MODEL|LABEL=VALUE:RATE[:install|health]]...\n"
	"                [--seed S] [--start RFC3339] [--approve-after "
	"DURATION]\n"
	"                [--approve-hold HOLD[@RFC3339|+DURATION]]... "
	"[--horizon DURATION]\n"
	"       fleetctl plan simulate --help\n";

static const char simulate_help[] =
	"usage: fleetctl [--json] plan simulate PLAN [OPTIONS]\n"
	"\n"
	"Rehearses a rollout plan with no server: the real rollout engine "
	"runs\n"
	"over a simulated fleet on a simulated clock, and the report gives "
	"each\n"
	"stage's size, its make-up by model and region, when it started and\n"
	"why it waited (windows, holds, approvals, rate), how long it took, "
	"and\n"
	"under --fail which stage tripped its gate, how many devices got the\n"
	"new version before the rollback and how many were rolled back.\n"
	"\n"
	"options:\n"
	"  --inventory FILE   the fleet (below); default: 100 devices per "
	"model\n"
	"                     of artifact.hardware, spread over the regions "
	"the\n"
	"                     plan names, every one a target (the report says "
	"so)\n"
	"  --fail SEL:RATE[:MODE]\n"
	"                     devices matching SEL fail with probability RATE\n"
	"                     (20% or 0.2). SEL is a model (thermo-v3) or a\n"
	"                     label (region=eu). MODE: health (default: boots\n"
	"                     the new version, then breaches a metric rule of\n"
	"                     the plan during its soak; with no soak its "
	"trial\n"
	"                     boot fails and the boot loader reverts it) or\n"
	"                     install (the install fails; keeps the old one).\n"
	"                     Repeatable; the first rule that draws a failure\n"
	"                     decides the mode.\n"
	"  --seed S           the seed of every random draw (default 1); a\n"
	"                     device's delays and fate depend only on the "
	"seed\n"
	"                     and its id\n"
	"  --start RFC3339    the simulated start (default: now)\n"
	"  --approve-after D  a stage with `approval: required` is approved D\n"
	"                     after the engine starts awaiting it (default "
	"0s:\n"
	"                     at once)\n"
	"  --approve-hold HOLD[@WHEN]\n"
	"                     approve a hold at WHEN (an RFC 3339 instant or\n"
	"                     +DURATION after the start; default the start).\n"
	"                     Holds `until: approved` not named here are "
	"never\n"
	"                     approved, and the report counts the devices "
	"they\n"
	"                     still hold at the end\n"
	"  --horizon D        stop the simulated clock D after the start\n"
	"                     (default 90d)\n"
	"  --json             the same facts as one JSON document on stdout\n"
	"\n"
	"device model (every delay uniform in its range, drawn per device):\n"
	"  offer -> acked 5-60s -> downloading 1-5s -> download 2-10min\n"
	"  -> write and verify 1-3min -> installed -> reboot: activate: now\n"
	"  10-60s, idle 5-60min, window at the next window opening in the\n"
	"  device's zone (at once inside one) plus 10s-5min -> boot 30-120s\n"
	"  -> activated -> self-check 1-5min -> committed -> soak. Devices "
	"are\n"
	"  online unless the inventory says `online: false`, have the battery\n"
	"  and storage the plan asks for, and a rollback takes 1-3min.\n"
	"  Above 20000 devices, reports are applied in 10s (60s above\n"
	"  200000) batches; rate, window and hold boundaries stay exact.\n"
	"\n"
	"inventory file (YAML; docs/inventory-format.md):\n"
	"  devices:                       # one entry per device\n"
	"    - id: dev-0007\n"
	"      model: thermo-v3\n"
	"      version: 2.3.1             # or versions: {firmware: 2.3.1}\n"
	"      tz: Europe/Berlin          # IANA zone, for tz: device windows\n"
	"      labels: {region: eu, ring: canary}\n"
	"      online: true               # default true\n"
	"  groups:                        # count devices PREFIX-0001...\n"
	"    - prefix: th3-eu\n"
	"      count: 200\n"
	"      start: 1                   # first number (default 1)\n"
	"      model: thermo-v3\n"
	"      version: 2.3.1\n"
	"      tz: Europe/Paris\n"
	"      labels: {region: eu}\n"
	"  Bounds: 64 MiB, 1000000 devices, 10000 groups, 16 labels a device.\n"
	"\n"
	"exit status: 0 simulated (whatever the outcome), 1 the plan or the\n"
	"inventory has errors, 2 usage error.\n";

static int plan_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int plan_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("fleetctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(plan_usage, stderr);
	return FL_EXIT_USAGE;
}

static const char *plural(unsigned n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* ---- plan validate --------------------------------------------------------
 */

struct cJSON *fl_cli_diags_json(const struct fl_plan_diags *d,
				const struct fl_plan *plan)
{
	cJSON *o = cJSON_CreateObject(), *errs;

	if (o == NULL)
		return NULL;
	if (cJSON_AddStringToObject(o, "file", d->file ? d->file : "") ==
		    NULL ||
	    cJSON_AddBoolToObject(o, "ok", d->n_errors == 0) == NULL ||
	    cJSON_AddNumberToObject(o, "n_errors", d->n_errors) == NULL ||
	    cJSON_AddNumberToObject(o, "n_warnings", d->n_warnings) == NULL ||
	    cJSON_AddNumberToObject(o, "n_dropped", d->n_dropped) == NULL)
		goto fail;
	if (plan != NULL &&
	    (cJSON_AddStringToObject(o, "rollout", plan->name) == NULL ||
	     cJSON_AddNumberToObject(o, "stages", plan->nstages) == NULL))
		goto fail;
	errs = cJSON_AddArrayToObject(o, "errors");
	if (errs == NULL)
		goto fail;
	for (unsigned i = 0; i < d->n && i < FL_PLAN_MAX_DIAGS; i++) {
		const struct fl_plan_diag *e = &d->d[i];
		cJSON *x = cJSON_CreateObject();

		if (x == NULL)
			goto fail;
		cJSON_AddItemToArray(errs, x);
		if (cJSON_AddNumberToObject(x, "line", e->pos.line) == NULL ||
		    cJSON_AddNumberToObject(x, "col", e->pos.col) == NULL ||
		    cJSON_AddStringToObject(x, "severity",
					    e->severity == FL_DIAG_ERROR
						    ? "error"
						    : "warning") == NULL ||
		    cJSON_AddStringToObject(x, "message", e->msg) == NULL)
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static int print_json(cJSON *doc)
{
	char *s = cJSON_Print(doc);

	if (s == NULL) {
		fputs("fleetctl: out of memory\n", stderr);
		return FL_ENOMEM;
	}
	fputs(s, stdout);
	fputc('\n', stdout);
	cJSON_free(s);
	return 0;
}

static int cmd_validate(const struct fl_cli *cli, int argc, char **argv)
{
	struct fl_plan_diags *diags = NULL;
	cJSON *arr = NULL;
	int is_json = cli->is_json, nfiles = 0, any_error = 0, rc;
	int i, only_files = 0;

	for (i = 0; i < argc; i++) {
		if (only_files || argv[i][0] != '-' || argv[i][1] == '\0') {
			nfiles++;
		} else if (strcmp(argv[i], "--") == 0) {
			only_files = 1;
		} else if (strcmp(argv[i], "--json") == 0) {
			is_json = 1;
		} else if (strcmp(argv[i], "--help") == 0) {
			fputs(plan_usage, stdout);
			return FL_EXIT_OK;
		} else {
			return plan_usage_error(
				"plan validate: unknown option %s", argv[i]);
		}
	}
	if (nfiles == 0)
		return plan_usage_error("plan validate: no %s given", "FILE");
	diags = malloc(sizeof(*diags));
	if (diags == NULL || (is_json && (arr = cJSON_CreateArray()) == NULL)) {
		fputs("fleetctl: out of memory\n", stderr);
		rc = FL_EXIT_FAIL;
		goto out;
	}
	only_files = 0;
	for (i = 0; i < argc; i++) {
		struct fl_plan *plan = NULL;
		int err;

		if (!only_files && strcmp(argv[i], "--") == 0) {
			only_files = 1;
			continue;
		}
		if (!only_files && argv[i][0] == '-' && argv[i][1] != '\0')
			continue;
		err = fl_plan_load(argv[i], &plan, diags);
		if (err == 0 && plan != NULL)
			fl_sim_warn_unchecked_devices(plan, diags);
		if (diags->n_errors > 0 || err != 0)
			any_error = 1;
		if (is_json) {
			cJSON *o = fl_cli_diags_json(diags, plan);

			if (o == NULL) {
				fl_plan_free(plan);
				fputs("fleetctl: out of memory\n", stderr);
				rc = FL_EXIT_FAIL;
				goto out;
			}
			if (err != 0 && diags->n_errors == 0)
				cJSON_ReplaceItemInObject(o, "ok",
							  cJSON_CreateFalse());
			cJSON_AddItemToArray(arr, o);
		} else {
			fl_plan_diags_print(diags, stderr);
			if (err == 0 && plan != NULL)
				printf("%s: ok (%u %s, %u %s)\n", argv[i],
				       plan->nstages,
				       plural(plan->nstages, "stage", "stages"),
				       diags->n_warnings,
				       plural(diags->n_warnings, "warning",
					      "warnings"));
			else if (diags->n_errors > 0)
				printf("%s: %u %s\n", argv[i], diags->n_errors,
				       plural(diags->n_errors, "error",
					      "errors"));
			else
				printf("%s: failed (%s)\n", argv[i],
				       fl_strerror(err));
		}
		fl_plan_free(plan);
	}
	if (is_json && print_json(arr) != 0) {
		rc = FL_EXIT_FAIL;
		goto out;
	}
	rc = any_error ? FL_EXIT_FAIL : FL_EXIT_OK;
out:
	cJSON_Delete(arr);
	free(diags);
	return rc;
}

/* ---- plan simulate --------------------------------------------------------
 */

struct sim_args {
	const char *plan_path, *inv_path;
	int is_json;
	struct fl_sim_options opt;
	int has_start;
	/* --approve-hold values that are relative to the start */
	int64_t hold_rel_s[FL_SIM_MAX_HOLD_OKS];
	uint8_t hold_is_rel[FL_SIM_MAX_HOLD_OKS];
};

static int parse_seed(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return FL_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return FL_EINVAL;
	*out = v;
	return 0;
}

static int parse_hold_ok(struct sim_args *a, const char *s)
{
	struct fl_sim_hold_ok *h;
	const char *at = strchr(s, '@');
	size_t len = at ? (size_t)(at - s) : strlen(s);
	unsigned i = a->opt.nhold_ok;

	if (i >= FL_SIM_MAX_HOLD_OKS || len == 0 || len > FL_PLAN_NAME_MAX)
		return FL_EINVAL;
	h = &a->opt.hold_ok[i];
	memcpy(h->name, s, len);
	h->name[len] = '\0';
	a->hold_is_rel[i] = 1;
	a->hold_rel_s[i] = 0;
	if (at != NULL) {
		if (at[1] == '+') {
			if (fl_sim_parse_duration(at + 2, &a->hold_rel_s[i]))
				return FL_EINVAL;
		} else {
			if (fl_sim_parse_instant(at + 1, &h->at_s))
				return FL_EINVAL;
			a->hold_is_rel[i] = 0;
		}
	}
	a->opt.nhold_ok++;
	return 0;
}

/* Returns -1 when parsed, else an exit status. */
static int parse_sim_args(const struct fl_cli *cli, int argc, char **argv,
			  struct sim_args *a)
{
	int only_files = 0;

	memset(a, 0, sizeof(*a));
	a->is_json = cli->is_json;
	a->opt.seed = 1;
	a->opt.horizon_s = FL_SIM_HORIZON_S;
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i], *v = NULL, *eq;
		char name[32];
		size_t nlen;

		if (only_files || o[0] != '-' || o[1] == '\0') {
			if (a->plan_path != NULL)
				return plan_usage_error("plan simulate: one "
							"plan only, not also "
							"%s",
							o);
			a->plan_path = o;
			continue;
		}
		if (strcmp(o, "--") == 0) {
			only_files = 1;
			continue;
		}
		if (strcmp(o, "--json") == 0) {
			a->is_json = 1;
			continue;
		}
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			fputs(simulate_help, stdout);
			return FL_EXIT_OK;
		}
		/* --name VALUE or --name=VALUE */
		eq = strchr(o, '=');
		nlen = eq ? (size_t)(eq - o) : strlen(o);
		if (nlen >= sizeof(name))
			return plan_usage_error(
				"plan simulate: unknown option %s", o);
		memcpy(name, o, nlen);
		name[nlen] = '\0';
		if (eq != NULL)
			v = eq + 1;
		else if (i + 1 < argc)
			v = argv[++i];
		else
			return plan_usage_error(
				"plan simulate: %s needs a value", name);
		if (strcmp(name, "--inventory") == 0) {
			a->inv_path = v;
		} else if (strcmp(name, "--fail") == 0) {
			if (a->opt.nfail >= FL_SIM_MAX_FAILS)
				return plan_usage_error(
					"plan simulate: at most 16 --fail, not "
					"%s",
					v);
			if (fl_sim_parse_fail(v, &a->opt.fail[a->opt.nfail]))
				return plan_usage_error(
					"plan simulate: --fail wants "
					"MODEL|LABEL=VALUE:RATE[:install|"
					"health] "
					"with RATE like 20%% or 0.2, not `%s`",
					v);
			a->opt.nfail++;
		} else if (strcmp(name, "--seed") == 0) {
			if (parse_seed(v, &a->opt.seed))
				return plan_usage_error(
					"plan simulate: --seed wants a whole "
					"number, not `%s`",
					v);
		} else if (strcmp(name, "--start") == 0) {
			if (fl_sim_parse_instant(v, &a->opt.start_s))
				return plan_usage_error(
					"plan simulate: --start wants an RFC "
					"3339 instant like "
					"2026-12-01T00:00:00Z, not `%s`",
					v);
			a->has_start = 1;
		} else if (strcmp(name, "--approve-after") == 0) {
			if (fl_sim_parse_duration(v, &a->opt.approve_after_s))
				return plan_usage_error(
					"plan simulate: --approve-after wants "
					"a duration like 0s, 30m or 1d, not "
					"`%s`",
					v);
		} else if (strcmp(name, "--approve-hold") == 0) {
			if (parse_hold_ok(a, v))
				return plan_usage_error(
					"plan simulate: --approve-hold wants "
					"HOLD, HOLD@RFC3339 or HOLD@+DURATION, "
					"not `%s`",
					v);
		} else if (strcmp(name, "--horizon") == 0) {
			if (fl_sim_parse_duration(v, &a->opt.horizon_s) ||
			    a->opt.horizon_s <= 0 ||
			    a->opt.horizon_s > 3660 * 86400)
				return plan_usage_error(
					"plan simulate: --horizon wants a "
					"duration like 30d, not `%s`",
					v);
		} else {
			return plan_usage_error(
				"plan simulate: unknown option %s", name);
		}
	}
	if (a->plan_path == NULL)
		return plan_usage_error("plan simulate: no %s given", "PLAN");
	if (!a->has_start)
		a->opt.start_s = (int64_t)time(NULL);
	for (unsigned i = 0; i < a->opt.nhold_ok; i++)
		if (a->hold_is_rel[i])
			a->opt.hold_ok[i].at_s =
				a->opt.start_s + a->hold_rel_s[i];
	return -1;
}

static int cmd_simulate(const struct fl_cli *cli, int argc, char **argv)
{
	struct fl_plan_diags *diags = NULL;
	struct fl_plan *plan = NULL;
	struct fl_inventory *inv = NULL;
	struct fl_sim_result *res = NULL;
	struct fl_tzdb *db = NULL;
	struct fl_tz_ops tz;
	struct fl_sim_report_ctx ctx;
	struct sim_args a;
	int rc, err;

	rc = parse_sim_args(cli, argc, argv, &a);
	if (rc >= 0)
		return rc;
	rc = FL_EXIT_FAIL;
	diags = malloc(sizeof(*diags));
	if (diags == NULL) {
		fputs("fleetctl: out of memory\n", stderr);
		goto out;
	}
	err = fl_plan_load(a.plan_path, &plan, diags);
	fl_plan_diags_print(diags, stderr);
	if (err != 0) {
		fprintf(stderr, "fleetctl: %s: %u %s: cannot simulate\n",
			a.plan_path, diags->n_errors,
			plural(diags->n_errors, "error", "errors"));
		goto out;
	}
	for (unsigned i = 0; i < a.opt.nhold_ok; i++) {
		unsigned h;

		for (h = 0; h < plan->nholds; h++)
			if (strcmp(plan->holds[h].name,
				   a.opt.hold_ok[i].name) == 0)
				break;
		if (h == plan->nholds) {
			fprintf(stderr,
				"fleetctl: --approve-hold: %s has no hold "
				"named `%s`\n",
				a.plan_path, a.opt.hold_ok[i].name);
			goto out;
		}
	}
	err = fl_tzdb_open(&db, NULL, 0);
	if (err) {
		fprintf(stderr, "fleetctl: time zones: %s\n", fl_strerror(err));
		goto out;
	}
	fl_tzdb_ops(db, &tz);
	a.opt.tz = &tz;
	memset(&ctx, 0, sizeof(ctx));
	if (a.inv_path != NULL) {
		err = fl_inventory_load(a.inv_path, plan->artifact.component,
					&tz, &inv, diags);
		fl_plan_diags_print(diags, stderr);
		if (err != 0) {
			fprintf(stderr,
				"fleetctl: %s: %u %s: cannot simulate\n",
				a.inv_path, diags->n_errors,
				plural(diags->n_errors, "error", "errors"));
			goto out;
		}
	} else {
		ctx.is_default_fleet = 1;
		ctx.per_model = FL_SIM_DEFAULT_FLEET;
		err = fl_inventory_from_plan(plan, FL_SIM_DEFAULT_FLEET, &inv);
		if (err != 0) {
			fprintf(stderr,
				"fleetctl: cannot make a default fleet for "
				"%s: %s\n",
				a.plan_path, fl_strerror(err));
			goto out;
		}
	}
	if (a.inv_path != NULL) {
		memset(diags, 0, sizeof(*diags));
		diags->file = a.plan_path;
		err = fl_sim_check_devices(plan, inv, &tz, diags);
		fl_plan_diags_print(diags, stderr);
		if (err != 0) {
			fprintf(stderr,
				"fleetctl: %s: %u %s against %s: cannot "
				"simulate\n",
				a.plan_path, diags->n_errors,
				plural(diags->n_errors, "error", "errors"),
				a.inv_path);
			goto out;
		}
	}
	err = fl_sim_run(plan, inv, &a.opt, &res);
	if (err != 0) {
		fprintf(stderr, "fleetctl: simulation of %s failed: %s\n",
			a.plan_path,
			err == FL_EINVAL ? "the engine refused the plan or the "
					   "inventory"
					 : fl_strerror(err));
		goto out;
	}
	ctx.plan = plan;
	ctx.inv = inv;
	ctx.opt = &a.opt;
	err = a.is_json ? fl_sim_print_json(&ctx, res, stdout)
			: fl_sim_print_text(&ctx, res, stdout);
	if (err != 0 || fflush(stdout) != 0) {
		fputs("fleetctl: cannot write the report\n", stderr);
		goto out;
	}
	rc = FL_EXIT_OK;
out:
	free(res);
	fl_inventory_free(inv);
	fl_tzdb_free(db);
	fl_plan_free(plan);
	free(diags);
	return rc;
}

int fl_cli_plan(const struct fl_cli *cli, int argc, char **argv)
{
	if (argc < 2) {
		fputs("fleetctl: plan: which subcommand?\n", stderr);
		fputs(plan_usage, stderr);
		return FL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "validate") == 0)
		return cmd_validate(cli, argc - 2, argv + 2);
	if (strcmp(argv[1], "simulate") == 0)
		return cmd_simulate(cli, argc - 2, argv + 2);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(plan_usage, stdout);
		return FL_EXIT_OK;
	}
	return plan_usage_error("plan: unknown subcommand `%s`", argv[1]);
}
