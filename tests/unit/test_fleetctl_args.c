/*
 * test_fleetctl_args.c -- the command lines of fleetctl's server commands
 * (dashboard-cli/args.c): every command with its options in any order,
 * `--name=VALUE`, `--`, the label changes (`k=v`, `-k`, `--remove k`) and
 * their checks, each usage error with its message, help, commands that
 * are not server commands, and the y/N question before a rollback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fl/err.h"
#include "server.h"

#define MAX_ARGV 32

static struct fl_srv_args a;
static char why[256];

/* Parses a command line given as one string split at spaces. */
static int parse(const char *line)
{
	static char buf[1024];
	static char *argv[MAX_ARGV];
	int argc = 0;
	char *p;

	snprintf(buf, sizeof(buf), "%s", line);
	for (p = strtok(buf, " "); p != NULL && argc < MAX_ARGV;
	     p = strtok(NULL, " "))
		argv[argc++] = p;
	return fl_srv_parse(argc, argv, &a, why, sizeof(why));
}

static void usage_error(const char *line, const char *want_why)
{
	if (parse(line) != FL_EINVAL)
		fail_msg("`%s` parsed", line);
	assert_string_equal(why, want_why);
}

/* ---- commands ----------------------------------------------------------- */

static void test_args__rollout_subcommands(void **state)
{
	(void)state;
	assert_int_equal(parse("rollout start plans/x.yaml"), 0);
	assert_int_equal(a.cmd, FL_SRV_START);
	assert_string_equal(a.name, "plans/x.yaml");
	assert_int_equal(parse("rollout list"), 0);
	assert_int_equal(a.cmd, FL_SRV_LIST);
	assert_null(a.state);
	assert_int_equal(parse("rollout list --active"), 0);
	assert_string_equal(a.state, "active");
	assert_int_equal(parse("rollout list --finished --json"), 0);
	assert_string_equal(a.state, "finished");
	assert_true(a.is_json);
	assert_int_equal(parse("rollout list --all"), 0);
	assert_string_equal(a.state, "all");
	assert_int_equal(parse("rollout status thermo-2.4.0"), 0);
	assert_int_equal(a.cmd, FL_SRV_STATUS);
	assert_string_equal(a.name, "thermo-2.4.0");
}

static void test_args__actions_with_reason_anywhere(void **state)
{
	(void)state;
	assert_int_equal(parse("pause r1 --reason night"), 0);
	assert_int_equal(a.cmd, FL_SRV_PAUSE);
	assert_string_equal(a.name, "r1");
	assert_string_equal(a.reason, "night");
	assert_int_equal(parse("resume --reason=ok r1"), 0);
	assert_int_equal(a.cmd, FL_SRV_RESUME);
	assert_string_equal(a.reason, "ok");
	assert_int_equal(parse("cancel r1"), 0);
	assert_int_equal(a.cmd, FL_SRV_CANCEL);
	assert_null(a.reason);
	assert_int_equal(parse("approve r1 eu-regulatory --json"), 0);
	assert_int_equal(a.cmd, FL_SRV_APPROVE);
	assert_string_equal(a.name, "r1");
	assert_string_equal(a.what, "eu-regulatory");
	assert_true(a.is_json);
}

static void test_args__rollback(void **state)
{
	(void)state;
	assert_int_equal(parse("rollback"), 0);
	assert_int_equal(a.cmd, FL_SRV_ROLLBACK);
	assert_null(a.name);
	assert_false(a.is_yes);
	assert_false(a.is_wait);
	assert_int_equal(parse("rollback r1 --yes --wait"), 0);
	assert_string_equal(a.name, "r1");
	assert_true(a.is_yes);
	assert_true(a.is_wait);
	assert_int_equal(parse("rollback -y r1 --reason bad"), 0);
	assert_true(a.is_yes);
	assert_string_equal(a.reason, "bad");
}

static void test_args__devices_filters(void **state)
{
	(void)state;
	assert_int_equal(parse("devices"), 0);
	assert_int_equal(a.cmd, FL_SRV_DEVICES);
	assert_int_equal(a.online, -1);
	assert_int_equal(a.nlabels, 0);
	assert_int_equal(parse("devices --model thermo-v2 --label region=eu "
			       "--label=site=lyon --offline"),
			 0);
	assert_string_equal(a.model, "thermo-v2");
	assert_int_equal(a.online, 0);
	assert_int_equal(a.nlabels, 2);
	assert_string_equal(a.labels[0].key, "region");
	assert_string_equal(a.labels[0].value, "eu");
	assert_string_equal(a.labels[1].key, "site");
	assert_string_equal(a.labels[1].value, "lyon");
	assert_int_equal(parse("devices --online --online"), 0);
	assert_int_equal(a.online, 1);
	assert_int_equal(parse("devices --label ring="), 0);
	assert_string_equal(a.labels[0].value, "");
}

static void test_args__device_and_events(void **state)
{
	(void)state;
	assert_int_equal(parse("device thermo-000001"), 0);
	assert_int_equal(a.cmd, FL_SRV_DEVICE);
	assert_string_equal(a.name, "thermo-000001");
	assert_int_equal(parse("events"), 0);
	assert_int_equal(a.cmd, FL_SRV_EVENTS);
	assert_null(a.name);
	assert_false(a.is_follow);
	assert_false(a.has_after);
	assert_int_equal(parse("events r1 -f --after 8812"), 0);
	assert_string_equal(a.name, "r1");
	assert_true(a.is_follow);
	assert_true(a.has_after);
	assert_int_equal(a.after, 8812);
	assert_int_equal(parse("events --follow"), 0);
	assert_true(a.is_follow);
}

static void test_args__label_changes(void **state)
{
	(void)state;
	assert_int_equal(parse("label dev-1 ring=beta -site --remove tier "
			       "note="),
			 0);
	assert_int_equal(a.cmd, FL_SRV_LABEL);
	assert_string_equal(a.name, "dev-1");
	assert_int_equal(a.nlabels, 4);
	/* options first, in order, then the positional KEY=VALUEs */
	assert_string_equal(a.labels[0].key, "site");
	assert_null(a.labels[0].value);
	assert_string_equal(a.labels[1].key, "tier");
	assert_null(a.labels[1].value);
	assert_string_equal(a.labels[2].key, "ring");
	assert_string_equal(a.labels[2].value, "beta");
	assert_string_equal(a.labels[3].key, "note");
	assert_string_equal(a.labels[3].value, "");
	/* after `--`, a dash is a value's, not a removal */
	assert_int_equal(parse("label dev-1 -- x=-1"), 0);
	assert_string_equal(a.labels[0].value, "-1");
}

static void test_args__watch_is_parsed(void **state)
{
	(void)state;
	assert_int_equal(parse("watch"), 0);
	assert_int_equal(a.cmd, FL_SRV_WATCH);
	assert_int_equal(parse("watch r1"), 0);
	assert_string_equal(a.name, "r1");
}

/* ---- help, unknown commands --------------------------------------------- */

static void test_args__help(void **state)
{
	(void)state;
	assert_int_equal(parse("rollback --help"), 0);
	assert_true(a.is_help);
	assert_int_equal(a.cmd, FL_SRV_ROLLBACK);
	assert_non_null(strstr(fl_srv_usage(a.cmd), "rollback [NAME] [--yes]"));
	assert_int_equal(parse("label dev -h"), 0);
	assert_true(a.is_help);
	assert_int_equal(parse("rollout --help"), 0);
	assert_true(a.is_help);
	assert_non_null(strstr(fl_srv_usage(a.cmd), "rollout start FILE"));
	assert_non_null(strstr(fl_srv_usage(a.cmd), "rollout status NAME"));
	assert_string_equal(fl_srv_usage(-1), "");
}

static void test_args__not_a_server_command(void **state)
{
	(void)state;
	assert_int_equal(parse("plan validate x"), FL_ENOENT);
	assert_int_equal(parse("frobnicate"), FL_ENOENT);
	assert_int_equal(fl_srv_parse(0, NULL, &a, why, sizeof(why)),
			 FL_ENOENT);
}

/* ---- usage errors ------------------------------------------------------- */

static void test_args__usage_errors(void **state)
{
	(void)state;
	usage_error("rollout", "rollout: which subcommand? start, list or "
			       "status");
	usage_error("rollout stop x", "rollout: unknown subcommand `stop`");
	usage_error("rollout start", "rollout start: no FILE given");
	usage_error("rollout start a b",
		    "rollout start: too many arguments (`b`)");
	usage_error("rollout status", "rollout status: no NAME given");
	usage_error("rollout list --active --finished",
		    "rollout list: only one of --active, --finished and "
		    "--all");
	usage_error("pause", "pause: no NAME given");
	usage_error("pause r1 --yes", "pause: unknown option --yes");
	usage_error("pause r1 --reason", "pause: --reason needs a value");
	usage_error("approve r1", "approve: which stage or hold? (approve "
				  "NAME STAGE|HOLD)");
	usage_error("approve", "approve: no NAME given");
	usage_error("rollback a b", "rollback: too many arguments (`b`)");
	usage_error("rollback r1 --wait=1", "rollback: --wait takes no value");
	usage_error("device", "device: no ID given");
	usage_error("devices x", "devices: too many arguments (`x`)");
	usage_error("devices --online --offline",
		    "devices: --online and --offline exclude each other");
	usage_error("devices --model=", "devices: --model needs a model");
	usage_error("devices --label region",
		    "devices: `region` is not KEY=VALUE");
	usage_error("events --after x",
		    "events: --after wants an event's sequence number, not "
		    "`x`");
	usage_error("events a b", "events: too many arguments (`b`)");
	usage_error("label", "label: no ID given");
	usage_error("label dev", "label: no change given: KEY=VALUE, -KEY "
				 "or --remove KEY");
	usage_error("label dev ring", "label: `ring` is not KEY=VALUE");
	usage_error("label dev -Bad!", "label: `Bad!` is not a label key "
				       "(letters, digits, . _ -, first a "
				       "letter or digit, at most 31)");
	usage_error("label dev _x=1", "label: `_x` is not a label key "
				      "(letters, digits, . _ -, first a "
				      "letter or digit, at most 31)");
	usage_error("label dev a=\"q\"",
		    "label: the value of `a` is not a label value "
		    "(printable, no \" or \\, at most 47)");
	usage_error("label dev a=1 -a", "label: label `a` given twice");
	usage_error("watch a b", "watch: too many arguments (`b`)");
	usage_error("device x --frob", "device: unknown option --frob");
}

static void test_args__label_bounds(void **state)
{
	char line[1024];
	size_t n;

	(void)state;
	/* a key of 31 characters passes, 32 do not */
	snprintf(line, sizeof(line), "label d %031d=v", 0);
	assert_int_equal(parse(line), 0);
	snprintf(line, sizeof(line), "label d %032d=v", 0);
	assert_int_equal(parse(line), FL_EINVAL);
	/* a value of 47 characters passes, 48 do not */
	snprintf(line, sizeof(line), "label d k=%047d", 0);
	assert_int_equal(parse(line), 0);
	snprintf(line, sizeof(line), "label d k=%048d", 0);
	assert_int_equal(parse(line), FL_EINVAL);
	/* at most FL_SRV_MAX_LABELS changes */
	n = (size_t)snprintf(line, sizeof(line), "label d");
	for (int i = 0; i < FL_SRV_MAX_LABELS; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " k%d=v", i);
	assert_int_equal(parse(line), 0);
	assert_int_equal(a.nlabels, FL_SRV_MAX_LABELS);
	snprintf(line + n, sizeof(line) - n, " -extra");
	assert_int_equal(parse(line), FL_EINVAL);
	assert_string_equal(why, "label: at most 16 labels");
}

static void test_args__name_bound(void **state)
{
	char line[200];

	(void)state;
	snprintf(line, sizeof(line), "rollback %063d", 0);
	assert_int_equal(parse(line), 0);
	snprintf(line, sizeof(line), "rollback %064d", 0);
	assert_int_equal(parse(line), FL_EINVAL);
	assert_string_equal(why, "rollback: `00000000000000000000...` is "
				 "longer than 63 characters");
	snprintf(line, sizeof(line), "device %064d", 0);
	assert_int_equal(parse(line), FL_EINVAL);
	snprintf(line, sizeof(line), "approve r %064d", 0);
	assert_int_equal(parse(line), FL_EINVAL);
	/* a plan file is a path, not a name */
	snprintf(line, sizeof(line), "rollout start %0100d", 0);
	assert_int_equal(parse(line), 0);
}

static void test_args__reason_bound(void **state)
{
	char line[600];

	(void)state;
	snprintf(line, sizeof(line), "pause r --reason %0255d", 0);
	assert_int_equal(parse(line), 0);
	snprintf(line, sizeof(line), "pause r --reason %0256d", 0);
	assert_int_equal(parse(line), FL_EINVAL);
	assert_string_equal(why, "pause: --reason is at most 255 characters");
}

/* ---- the question ------------------------------------------------------- */

static int ask(const char *answer, char *asked, size_t size)
{
	FILE *in = fmemopen((void *)answer, strlen(answer), "r");
	FILE *out = fmemopen(asked, size, "w");
	int yes;

	assert_non_null(in);
	assert_non_null(out);
	yes = fl_srv_confirm(in, out, "Roll back r1?");
	fclose(in);
	fclose(out);
	return yes;
}

static void test_confirm__only_yes_is_yes(void **state)
{
	char asked[64];

	(void)state;
	assert_true(ask("y\n", asked, sizeof(asked)));
	assert_string_equal(asked, "Roll back r1? [y/N] ");
	assert_true(ask("  YES \n", asked, sizeof(asked)));
	assert_true(ask("Yes", asked, sizeof(asked)));
	assert_false(ask("\n", asked, sizeof(asked)));
	assert_false(ask("n\n", asked, sizeof(asked)));
	assert_false(ask("yes please\n", asked, sizeof(asked)));
	assert_false(ask("", asked, sizeof(asked))); /* EOF */
	assert_string_equal(asked, "Roll back r1? [y/N] \n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args__rollout_subcommands),
		cmocka_unit_test(test_args__actions_with_reason_anywhere),
		cmocka_unit_test(test_args__rollback),
		cmocka_unit_test(test_args__devices_filters),
		cmocka_unit_test(test_args__device_and_events),
		cmocka_unit_test(test_args__label_changes),
		cmocka_unit_test(test_args__watch_is_parsed),
		cmocka_unit_test(test_args__help),
		cmocka_unit_test(test_args__not_a_server_command),
		cmocka_unit_test(test_args__usage_errors),
		cmocka_unit_test(test_args__label_bounds),
		cmocka_unit_test(test_args__name_bound),
		cmocka_unit_test(test_args__reason_bound),
		cmocka_unit_test(test_confirm__only_yes_is_yes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
