/*
 * test_plan.c -- the rollout plan parser and validator (fl/plan.h): the
 * typed result and its defaults, every value form (valid and malformed),
 * every validation error and warning at its exact line and column, the
 * limits (alias bomb, nesting, list lengths, file size, diagnostics), the
 * time-zone and artifact checks against the file system, allocation
 * failure, and the example plans: each file of plans/examples/ validates
 * cleanly and each file of plans/examples/bad/ yields exactly the lines of
 * its .expected file.
 *
 * Usage: test_plan PLANS_EXAMPLES_DIR. The tests run against a fixture
 * folder made in a temporary directory (an artifact, an empty file, a small
 * fake tz database set as $TZDIR), so they do not depend on the machine.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fl/err.h"
#include "fl/plan.h"
#include "plan_int.h"

/* ---- fixture ------------------------------------------------------------ */

static const char *examples_dir;
static char fixture[256]; /* temporary folder: a.bin, empty.bin, sub/, tz/ */
static char plan_path[300];
static char tz_dir[300];

/* Allocation failure injection: malloc is wrapped at link time (-Wl,--wrap)
 * for the library's own calls; the Nth call fails while armed. */
static long malloc_countdown = -1;
void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);

void *__wrap_malloc(size_t size)
{
	if (malloc_countdown > 0 && --malloc_countdown == 0)
		return NULL;
	return __real_malloc(size);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void join(char *out, size_t size, const char *dir, const char *name)
{
	assert_true(snprintf(out, size, "%s/%s", dir, name) < (int)size);
}

static int group_setup(void **state)
{
	static const char *const zones[] = {
		"UTC",	      "Europe/Paris",	  "Europe/Berlin",
		"Asia/Tokyo", "America/New_York", "right/UTC",
		"localtime",  "posixrules",
	};
	char p[400];

	(void)state;
	snprintf(fixture, sizeof(fixture), "%s/test_plan.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(fixture) == NULL)
		return -1;
	join(plan_path, sizeof(plan_path), fixture, "plan.yaml");
	join(p, sizeof(p), fixture, "a.bin");
	write_file(p, "artifact", 8);
	join(p, sizeof(p), fixture, "empty.bin");
	write_file(p, "", 0);
	join(p, sizeof(p), fixture, "sub");
	mkdir(p, 0755);
	join(p, sizeof(p), fixture, "sub/b.bin");
	write_file(p, "b", 1);
	join(tz_dir, sizeof(tz_dir), fixture, "tz");
	mkdir(tz_dir, 0755);
	join(p, sizeof(p), tz_dir, "Europe");
	mkdir(p, 0755);
	join(p, sizeof(p), tz_dir, "America");
	mkdir(p, 0755);
	join(p, sizeof(p), tz_dir, "Asia");
	mkdir(p, 0755);
	join(p, sizeof(p), tz_dir, "right");
	mkdir(p, 0755);
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		join(p, sizeof(p), tz_dir, zones[i]);
		write_file(p, "TZif2\0\0\0fake", 13);
	}
	join(p, sizeof(p), tz_dir, "zone.tab");
	write_file(p, "# not a zone\n", 13);
	setenv("TZDIR", tz_dir, 1);
	return 0;
}

static int rm_tree(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static int group_teardown(void **state)
{
	(void)state;
	return rm_tree(fixture) == 0 ? 0 : -1;
}

/* ---- helpers ------------------------------------------------------------ */

/* The head of a valid plan, lines 1-5; tests append their own lines. */
#define HEAD                                                                   \
	"rollout: t\n"                                                         \
	"artifact:\n"                                                          \
	"  version: 2.4.0\n"                                                   \
	"  file: a.bin\n"                                                      \
	"  hardware: [m]\n"
/* One stage of 100%: two lines. */
#define ALL                                                                    \
	"stages:\n"                                                            \
	"  - {name: all, percent: 100}\n"

struct result {
	int err;
	struct fl_plan *plan;
	struct fl_plan_diags d;
};

static struct result *parse(const char *yaml)
{
	struct result *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->err = fl_plan_parse(yaml, strlen(yaml), plan_path, &r->plan, &r->d);
	if (r->err == 0)
		assert_non_null(r->plan);
	else
		assert_null(r->plan);
	return r;
}

static void result_free(struct result *r)
{
	fl_plan_free(r->plan);
	free(r);
}

static void print_diags(const struct fl_plan_diags *d)
{
	for (unsigned i = 0; i < d->n; i++)
		print_message("  %u:%u: %s: %s\n", (unsigned)d->d[i].pos.line,
			      (unsigned)d->d[i].pos.col,
			      d->d[i].severity ? "warning" : "error",
			      d->d[i].msg);
}

/* Parses yaml and checks that it gives exactly one diagnostic, as given;
 * prints the difference and returns 0 when it does not. */
static int gives_one(const char *yaml, int severity, unsigned line,
		     unsigned col, const char *msg)
{
	struct result *r = parse(yaml);
	const struct fl_plan_diag *e = &r->d.d[0];
	int ok = r->d.n == 1 && e->severity == severity &&
		 e->pos.line == line && e->pos.col == col &&
		 strcmp(e->msg, msg) == 0 &&
		 r->err == (severity == FL_DIAG_ERROR ? FL_EINVAL : 0);

	if (!ok) {
		print_message("for:\n%s\nwanted %u:%u: %s: %s\ngot:\n", yaml,
			      line, col, severity ? "warning" : "error", msg);
		print_diags(&r->d);
	}
	result_free(r);
	return ok;
}

static void expect_one(const char *yaml, int severity, unsigned line,
		       unsigned col, const char *msg)
{
	if (!gives_one(yaml, severity, line, col, msg))
		fail();
}

static void expect_error(const char *yaml, unsigned line, unsigned col,
			 const char *msg)
{
	expect_one(yaml, FL_DIAG_ERROR, line, col, msg);
}

static struct result *expect_valid(const char *yaml)
{
	struct result *r = parse(yaml);

	if (r->err != 0 || r->d.n != 0) {
		print_message("for:\n%s\nwanted no diagnostic, got:\n", yaml);
		print_diags(&r->d);
		fail();
	}
	return r;
}

struct error_case {
	const char *yaml;
	unsigned line, col;
	const char *msg;
};

/* Checks every case, then fails if any did not match. */
static void run_cases(const struct error_case *cases, size_t n)
{
	int ok = 1;

	for (size_t i = 0; i < n; i++)
		ok &= gives_one(cases[i].yaml, FL_DIAG_ERROR, cases[i].line,
				cases[i].col, cases[i].msg);
	if (!ok)
		fail();
}

#define RUN_CASES(cases) run_cases((cases), sizeof(cases) / sizeof(cases[0]))

/* ---- the typed plan ----------------------------------------------------- */

static void test_plan__complete_example_fills_every_field(void **state)
{
	char path[600];
	struct fl_plan_diags d;
	struct fl_plan *p = NULL;

	(void)state;
	join(path, sizeof(path), examples_dir, "complete.yaml");
	assert_int_equal(fl_plan_load(path, &p, &d), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(p->path, path);
	assert_string_equal(p->name, "thermostat-2.4.0");
	assert_string_equal(p->description, "Fix Wi-Fi reconnect storm");
	assert_string_equal(p->artifact.component, "firmware");
	assert_string_equal(p->artifact.version, "2.4.0");
	assert_int_equal(p->artifact.semver.minor, 4);
	assert_string_equal(p->artifact.file,
			    "../artifacts/thermostat-2.4.0.bin");
	assert_non_null(strstr(p->artifact.file_path,
			       "/../artifacts/thermostat-2.4.0.bin"));
	assert_int_equal(access(p->artifact.file_path, R_OK), 0);
	assert_int_equal(p->artifact.nhardware, 2);
	assert_string_equal(p->artifact.hardware[1], "thermo-v3");
	assert_string_equal(p->artifact.from, ">=2.0.0 <2.4.0");
	assert_int_equal(p->artifact.from_range.n, 2);
	assert_int_equal(p->targets.match.n, 1);
	assert_string_equal(p->targets.match.labels[0].key, "region");
	assert_int_equal(p->targets.match.labels[0].nvalues, 2);
	assert_string_equal(p->targets.match.labels[0].values[1], "us");
	assert_int_equal(p->targets.nexclude, 1);
	assert_string_equal(p->targets.exclude[0], "dev-0042");
	assert_true(p->device.has_min_battery);
	assert_int_equal(p->device.min_battery_ppm, 300000);
	assert_int_equal(p->device.min_free_storage_bytes, 2 * 1024 * 1024);
	assert_int_equal(p->device.activate, FL_PLAN_ACTIVATE_WINDOW);
	assert_int_equal(p->health.soak_s, 600);
	assert_true(p->health.has_max_failure_rate);
	assert_int_equal(p->health.max_failure_rate_ppm, 50000);
	assert_true(p->health.has_max_failures);
	assert_int_equal(p->health.max_failures, 20);
	assert_int_equal(p->health.min_devices, 10);
	assert_int_equal(p->health.timeout_s, 7200);
	assert_int_equal(p->health.nmetrics, 2);
	assert_string_equal(p->health.metrics[0].name, "crash_count");
	assert_true(p->health.metrics[0].has_max);
	assert_false(p->health.metrics[0].has_min);
	assert_true(p->health.metrics[0].max == 0.0);
	assert_true(p->health.metrics[1].has_min);
	assert_true(p->health.metrics[1].min == 20.0);
	assert_int_equal(p->health.on_failure, FL_ON_FAILURE_ROLLBACK);
	assert_int_equal(p->health.rollback_timeout_s, 30 * 60);
	assert_int_equal(p->nwindows, 1);
	assert_int_equal(p->windows[0].days_mask, 0x1f);
	assert_int_equal(p->windows[0].from_min, 120);
	assert_int_equal(p->windows[0].to_min, 300);
	assert_true(p->windows[0].is_device_tz);
	assert_null(p->windows[0].tz);
	assert_int_equal(p->nholds, 2);
	assert_string_equal(p->holds[0].name, "eu-radio-cert");
	assert_true(p->holds[0].until_approved);
	assert_int_equal(p->holds[0].match.n, 1);
	assert_string_equal(p->holds[0].match.labels[0].values[0], "eu");
	assert_string_equal(p->holds[0].reason,
			    "Awaiting radio certificate for 2.4.0");
	assert_int_equal(p->holds[1].match.n, 0);
	assert_true(p->holds[1].has_from && p->holds[1].has_until);
	assert_int_equal(p->holds[1].from_unix_s, 1795737600);
	assert_int_equal(p->holds[1].until_unix_s, 1796083199);
	assert_int_equal(p->nstages, 4);
	assert_string_equal(p->stages[0].name, "canary");
	assert_int_equal(p->stages[0].kind, FL_STAGE_DEVICES);
	assert_int_equal(p->stages[0].ndevices, 2);
	assert_string_equal(p->stages[0].devices[1], "dev-0019");
	assert_true(p->stages[0].has_soak);
	assert_int_equal(p->stages[0].soak_s, 1800);
	assert_int_equal(p->stages[1].kind, FL_STAGE_PERCENT);
	assert_int_equal(p->stages[1].percent_ppm, 100000);
	assert_false(p->stages[1].approval_required);
	assert_true(p->stages[2].approval_required);
	assert_int_equal(p->stages[3].percent_ppm, FL_PPM);
	assert_true(p->stages[3].has_rate);
	assert_int_equal(p->stages[3].rate_count, 200);
	assert_int_equal(p->stages[3].rate_period_s, 60);
	assert_int_equal(p->stages[3].pos.line, 56);
	assert_int_equal(p->stages[3].pos.col, 5);
	fl_plan_free(p);
}

static void test_plan__minimal_plan_gets_the_defaults(void **state)
{
	struct result *r = expect_valid(HEAD "stages:\n  - percent: 100\n");
	struct fl_plan *p = r->plan;

	(void)state;
	assert_string_equal(p->artifact.component, "firmware");
	assert_null(p->artifact.from);
	assert_int_equal(p->artifact.from_range.n, 0);
	assert_null(p->description);
	assert_int_equal(p->device.activate, FL_PLAN_ACTIVATE_NOW);
	assert_false(p->device.has_min_battery);
	assert_int_equal(p->device.min_free_storage_bytes, 0);
	assert_int_equal(p->health.on_failure, FL_ON_FAILURE_ROLLBACK);
	assert_int_equal(p->health.timeout_s, 0);
	assert_int_equal(p->health.soak_s, 0);
	assert_int_equal(p->health.rollback_timeout_s,
			 FL_PLAN_ROLLBACK_TIMEOUT_DEFAULT_S);
	assert_int_equal(FL_PLAN_ROLLBACK_TIMEOUT_DEFAULT_S, 3600);
	assert_false(p->health.has_max_failure_rate);
	assert_int_equal(p->health.max_failure_rate_ppm, 0);
	assert_false(p->health.has_max_failures);
	assert_false(p->health.has_min_devices);
	assert_int_equal(p->nwindows + p->nholds + p->health.nmetrics, 0);
	assert_int_equal(p->targets.match.n + p->targets.nexclude, 0);
	assert_int_equal(p->nstages, 1);
	assert_string_equal(p->stages[0].name, "stage-1");
	assert_false(p->stages[0].has_soak || p->stages[0].has_rate ||
		     p->stages[0].approval_required);
	result_free(r);
}

static void test_plan__rollback_timeout_is_a_duration_0s_allowed(void **state)
{
	struct result *r = expect_valid(HEAD "health:\n"
					     "  rollback_timeout: 0s\n"
					     "stages:\n  - percent: 100\n");

	(void)state;
	assert_int_equal(r->plan->health.rollback_timeout_s, 0);
	result_free(r);
	r = expect_valid(HEAD "health:\n"
			      "  rollback_timeout: 2d\n"
			      "stages:\n  - percent: 100\n");
	assert_int_equal(r->plan->health.rollback_timeout_s, 2 * 86400);
	result_free(r);
	expect_error(HEAD "health:\n"
			  "  rollback_timeout: 10min\n"
			  "stages:\n  - percent: 100\n",
		     7, 21,
		     "`rollback_timeout`: `10min`: write minutes as m (10m)");
}

static void test_plan__unnamed_stages_are_named_by_position(void **state)
{
	struct result *r = expect_valid(HEAD "stages:\n"
					     "  - count: 5\n"
					     "  - name: half\n"
					     "    percent: 50\n"
					     "  - percent: 100\n");

	(void)state;
	assert_string_equal(r->plan->stages[0].name, "stage-1");
	assert_string_equal(r->plan->stages[1].name, "half");
	assert_string_equal(r->plan->stages[2].name, "stage-3");
	result_free(r);
	expect_error(HEAD "stages:\n"
			  "  - name: stage-2\n"
			  "    percent: 10\n"
			  "  - percent: 100\n",
		     9, 5, "duplicate stage name `stage-2` (first at 7:11)");
}

static void test_plan__stage_kinds_and_values_are_typed(void **state)
{
	struct result *r = expect_valid(
		HEAD "stages:\n"
		     "  - {name: a, devices: [d1, d2, d3]}\n"
		     "  - {name: b, count: 7, soak: 0s}\n"
		     "  - {name: c, match: {ring: [x, y], hw: z}}\n"
		     "  - {name: d, percent: 0.5%, rate: 3/s}\n"
		     "  - {name: e, percent: 100, rate: 9/h}\n");
	struct fl_plan_stage *s = r->plan->stages;

	(void)state;
	assert_int_equal(s[0].kind, FL_STAGE_DEVICES);
	assert_int_equal(s[0].ndevices, 3);
	assert_int_equal(s[1].kind, FL_STAGE_COUNT);
	assert_int_equal(s[1].count, 7);
	assert_true(s[1].has_soak);
	assert_int_equal(s[1].soak_s, 0);
	assert_int_equal(s[2].kind, FL_STAGE_MATCH);
	assert_int_equal(s[2].match.n, 2);
	assert_int_equal(s[2].match.labels[0].nvalues, 2);
	assert_string_equal(s[2].match.labels[1].key, "hw");
	assert_string_equal(s[2].match.labels[1].values[0], "z");
	assert_int_equal(s[3].kind, FL_STAGE_PERCENT);
	assert_int_equal(s[3].percent_ppm, 5000);
	assert_int_equal(s[3].rate_count, 3);
	assert_int_equal(s[3].rate_period_s, 1);
	assert_int_equal(s[4].rate_period_s, 3600);
	result_free(r);
}

static void test_plan__windows_zones_and_midnight(void **state)
{
	struct result *r = expect_valid(
		HEAD "windows:\n"
		     "  - {days: [fri-mon], from: \"22:00\", to: \"02:00\", "
		     "tz: Europe/Paris}\n"
		     "  - {from: \"00:00\", to: \"24:00\", tz: UTC}\n"
		     "  - {days: [sun], from: '01:30', to: '02:45', tz: "
		     "device}\n" ALL);
	struct fl_plan_window *w = r->plan->windows;

	(void)state;
	assert_int_equal(r->plan->nwindows, 3);
	assert_int_equal(w[0].days_mask, 0x71); /* fri sat sun mon */
	assert_int_equal(w[0].from_min, 22 * 60);
	assert_int_equal(w[0].to_min, 120); /* crosses midnight */
	assert_string_equal(w[0].tz, "Europe/Paris");
	assert_false(w[0].is_device_tz);
	assert_int_equal(w[1].days_mask, 0x7f); /* no days: every day */
	assert_int_equal(w[1].to_min, 1440);
	assert_null(w[1].tz); /* UTC */
	assert_false(w[1].is_device_tz);
	assert_int_equal(w[2].from_min, 90);
	assert_true(w[2].is_device_tz);
	assert_null(w[2].tz);
	result_free(r);
}

static void test_plan__holds_bound_in_time_or_by_approval(void **state)
{
	struct result *r = expect_valid(
		HEAD "holds:\n"
		     "  - {name: a, until: approved, match: {region: eu}}\n"
		     "  - {name: b, from: 2026-12-20T00:00:00+01:00, until: "
		     "2028-02-29T12:00:00-05:00}\n"
		     "  - {name: c, until: 2026-11-30t23:59:59z}\n"
		     "  - {name: d, from: 2026-11-27T00:00:00Z, until: "
		     "approved}\n" ALL);
	struct fl_plan_hold *h = r->plan->holds;

	(void)state;
	assert_true(h[0].until_approved);
	assert_false(h[0].has_from || h[0].has_until);
	assert_int_equal(h[1].from_unix_s, 1797721200);
	assert_int_equal(h[1].until_unix_s, 1835456400);
	assert_int_equal(h[2].until_unix_s, 1796083199);
	assert_false(h[2].has_from);
	assert_true(h[3].has_from && h[3].until_approved);
	assert_null(h[0].reason);
	result_free(r);
}

static void test_plan__four_eyes_is_a_boolean_about_approvals(void **state)
{
	struct result *r;

	(void)state;
	r = expect_valid(HEAD "four_eyes: true\n"
			      "holds:\n  - {name: h, until: approved}\n" ALL);
	assert_true(r->plan->is_four_eyes);
	result_free(r);
	r = expect_valid(HEAD "four_eyes: true\n"
			      "stages:\n  - {name: a, percent: 100, "
			      "approval: required}\n");
	assert_true(r->plan->is_four_eyes);
	result_free(r);
	r = expect_valid(HEAD "four_eyes: false\n" ALL);
	assert_false(r->plan->is_four_eyes);
	result_free(r);
	r = expect_valid(HEAD ALL);
	assert_false(r->plan->is_four_eyes);
	result_free(r);
	expect_one(HEAD "four_eyes: true\n" ALL, FL_DIAG_WARNING, 6, 12,
		   "`four_eyes` has no effect: no stage has `approval: "
		   "required` and no hold lasts `until: approved`");
	expect_error(HEAD "four_eyes: on\n" ALL, 6, 12,
		     "`four_eyes`: `true` or `false`, not `on` (true: an "
		     "approval must come from someone other than who started "
		     "the rollout)");
	expect_error(HEAD "four_eyes: [true]\n" ALL, 6, 12,
		     "`four_eyes`: expected `true` or `false`, found a list");
	expect_error(HEAD "four_eye: true\n" ALL, 6, 1,
		     "unknown key `four_eye` in the plan; did you mean "
		     "`four_eyes`?");
}

static void test_plan__container_form_is_compress_and_chunk(void **state)
{
	struct result *r;

	(void)state;
	r = expect_valid(HEAD ALL);
	assert_true(r->plan->artifact.is_encrypted);
	assert_true(r->plan->artifact.is_compressed);
	assert_int_equal(r->plan->artifact.chunk_bytes, 16384);
	assert_int_equal(FL_PLAN_CHUNK_DEFAULT, 16384);
	result_free(r);
	r = expect_valid(HEAD "  compress: false\n  chunk: 4KiB\n" ALL);
	assert_false(r->plan->artifact.is_compressed);
	assert_int_equal(r->plan->artifact.chunk_bytes, 4096);
	result_free(r);
	r = expect_valid(HEAD "  compress: true\n  chunk: 1MiB\n" ALL);
	assert_true(r->plan->artifact.is_compressed);
	assert_int_equal(r->plan->artifact.chunk_bytes, 1024 * 1024);
	result_free(r);
	r = expect_valid(HEAD "  chunk: 12288B\n" ALL);
	assert_int_equal(r->plan->artifact.chunk_bytes, 12288);
	result_free(r);
	expect_error(HEAD "  compress: no\n" ALL, 6, 13,
		     "`compress`: `true` or `false`, not `no` (true, the "
		     "default: the encrypted image is compressed with zstd; "
		     "false: stored, for devices without zstd such as "
		     "microcontrollers)");
	expect_error(HEAD "  compress: [false]\n" ALL, 6, 13,
		     "`compress`: expected `true` or `false`, found a list");
	expect_error(HEAD "  chunk: 6KiB\n" ALL, 6, 10,
		     "`chunk`: `6KiB`: a chunk is a multiple of 4KiB from "
		     "4KiB to 1MiB (a device buffers one chunk; the default, "
		     "16KiB, is what every agent takes)");
	expect_error(HEAD "  chunk: 2KiB\n" ALL, 6, 10,
		     "`chunk`: `2KiB`: a chunk is a multiple of 4KiB from "
		     "4KiB to 1MiB (a device buffers one chunk; the default, "
		     "16KiB, is what every agent takes)");
	expect_error(HEAD "  chunk: 2MiB\n" ALL, 6, 10,
		     "`chunk`: `2MiB`: a chunk is a multiple of 4KiB from "
		     "4KiB to 1MiB (a device buffers one chunk; the default, "
		     "16KiB, is what every agent takes)");
	expect_error(HEAD "  chunk: 4096\n" ALL, 6, 10,
		     "`chunk`: `4096` is not a size: write a whole number and "
		     "B, KiB, MiB or GiB, like 2MiB");
	expect_error(HEAD "  chunk: 4KB\n" ALL, 6, 10,
		     "`chunk`: `4KB`: sizes use the units B, KiB, MiB and GiB: "
		     "write 4KiB");
	expect_one(HEAD "  encrypt: false\n  compress: false\n" ALL,
		   FL_DIAG_WARNING, 7, 13,
		   "`compress` applies to encrypted images only: with "
		   "`encrypt: false` the image is stored and served plain");
	expect_one(HEAD "  encrypt: false\n  chunk: 4KiB\n" ALL,
		   FL_DIAG_WARNING, 7, 10,
		   "`chunk` applies to encrypted images only: with `encrypt: "
		   "false` the image is stored and served plain");
	expect_error(HEAD "  chunks: 4KiB\n" ALL, 6, 3,
		     "unknown key `chunks` in `artifact`; did you mean "
		     "`chunk`?");
}

static void test_plan__yaml_styles_mean_the_same(void **state)
{
	/* Block and flow styles, quoted keys and values, a comment, a BOM. */
	struct result *r = expect_valid(
		"\xef\xbb\xbf# plan\n"
		"\"rollout\": 't'\n"
		"artifact: {version: \"2.4.0\", file: 'a.bin', hardware: "
		"[\"m\"]}\n"
		"description: |\n  two\n  lines\n"
		"stages: [{name: all, percent: \"100%\"}]\n");

	(void)state;
	assert_string_equal(r->plan->name, "t");
	assert_string_equal(r->plan->description, "two\nlines\n");
	assert_int_equal(r->plan->stages[0].percent_ppm, FL_PPM);
	result_free(r);
}

static void test_plan__artifact_path_is_relative_to_the_plan(void **state)
{
	char abs[400], yaml[800];
	struct result *r;

	(void)state;
	r = expect_valid("rollout: t\nartifact: {version: 1.0.0, file: "
			 "sub/b.bin, hardware: [m]}\n" ALL);
	assert_string_equal(r->plan->artifact.file, "sub/b.bin");
	join(abs, sizeof(abs), fixture, "sub/b.bin");
	assert_string_equal(r->plan->artifact.file_path, abs);
	result_free(r);
	/* An absolute path is taken as it is. */
	snprintf(yaml, sizeof(yaml),
		 "rollout: t\nartifact: {version: 1.0.0, file: %s, hardware: "
		 "[m]}\n" ALL,
		 abs);
	r = expect_valid(yaml);
	assert_string_equal(r->plan->artifact.file_path, abs);
	result_free(r);
}

/* ---- values ------------------------------------------------------------- */

static void test_plan__durations(void **state)
{
	static const struct {
		const char *s;
		int64_t v;
	} ok[] = {{"90s", 90},	  {"10m", 600}, {"2h", 7200},
		  {"1d", 86400},  {"0s", 0},	{"366d", 31622400},
		  {"3600s", 3600}};
	static const char *const bad[] = {
		"",	 "10",	   "10 m",	   "1.5h", "10min",
		"-5m",	 "010m",   "5M",	   "h",	   "10ms",
		"1h30m", "367d",   "99999999999s", " 5s",  "5s ",
		"5sec",	 "2hours", "1day"};
	char why[PLAN_WHY_MAX];
	int64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(plan__parse_duration(ok[i].s, strlen(ok[i].s),
						      &v, why, sizeof(why)),
				 0);
		assert_int_equal(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (plan__parse_duration(bad[i], strlen(bad[i]), &v, why,
					 sizeof(why)) != FL_EINVAL)
			fail_msg("accepted duration \"%s\"", bad[i]);
	plan__parse_duration("10min", 5, &v, why, sizeof(why));
	assert_string_equal(why, "`10min`: write minutes as m (10m)");
	plan__parse_duration("10", 2, &v, why, sizeof(why));
	assert_string_equal(why,
			    "`10` has no unit: add s, m, h or d (10s, 10m)");
	plan__parse_duration("2hours", 6, &v, why, sizeof(why));
	assert_string_equal(why, "`2hours`: write the unit as one letter (2h)");
}

static void test_plan__percentages(void **state)
{
	static const struct {
		const char *s;
		uint32_t ppm;
	} ok[] = {{"5%", 50000},      {"0.5%", 5000},	    {"100%", 1000000},
		  {"0.0001%", 1},     {"99.9999%", 999999}, {"12.25%", 122500},
		  {"100.0%", 1000000}};
	static const char *const bad[] = {"0%",	   "100.1%",   "5",    "5 %",
					  "05%",   "0.00001%", "-1%",  "%",
					  "5%%",   ".5%",      "5.%",  "1e2%",
					  "1000%", "",	       "50 %", "0.0%"};
	char why[PLAN_WHY_MAX];
	uint32_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(plan__parse_percent(ok[i].s, strlen(ok[i].s),
						     1, 0, &v, why,
						     sizeof(why)),
				 0);
		assert_int_equal(v, ok[i].ppm);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (plan__parse_percent(bad[i], strlen(bad[i]), 1, 0, &v, why,
					sizeof(why)) != FL_EINVAL)
			fail_msg("accepted percentage \"%s\"", bad[i]);
	/* A stage's percent may omit the sign; max_failure_rate may be 0%. */
	assert_int_equal(
		plan__parse_percent("10", 2, 0, 0, &v, why, sizeof(why)), 0);
	assert_int_equal(v, 100000);
	assert_int_equal(
		plan__parse_percent("0%", 2, 1, 1, &v, why, sizeof(why)), 0);
	assert_int_equal(v, 0);
	assert_int_equal(
		plan__parse_percent("0", 1, 0, 0, &v, why, sizeof(why)),
		FL_EINVAL);
	assert_string_equal(why, "`0`: a percentage must be more than 0%");
}

static void test_plan__sizes(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{"2MiB", 2097152},    {"0B", 0},
		{"1GiB", 1073741824}, {"512KiB", 524288},
		{"17B", 17},	      {"16000000000GiB", 16000000000ull << 30}};
	static const char *const bad[] = {
		"2MB", "2 MiB", "2mib", "MiB", "1.5MiB", "99999999999999GiB",
		"2",   "2KB",	"2k",	"-1B", "02MiB"};
	char why[PLAN_WHY_MAX];
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(plan__parse_size(ok[i].s, strlen(ok[i].s), &v,
						  why, sizeof(why)),
				 0);
		assert_int_equal(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (plan__parse_size(bad[i], strlen(bad[i]), &v, why,
				     sizeof(why)) != FL_EINVAL)
			fail_msg("accepted size \"%s\"", bad[i]);
	plan__parse_size("2KB", 3, &v, why, sizeof(why));
	assert_string_equal(why, "`2KB`: sizes use the units B, KiB, MiB and "
				 "GiB: write 2KiB");
}

static void test_plan__rates(void **state)
{
	static const struct {
		const char *s;
		uint32_t n, period;
	} ok[] = {{"200/min", 200, 60},
		  {"5/s", 5, 1},
		  {"10/h", 10, 3600},
		  {"1000000/s", 1000000, 1}};
	static const char *const bad[] = {
		"0/s",	     "200/m", "200 /min", "/min",    "200",  "200/d",
		"2000001/s", "1.5/s", "200/M",	  "200/sec", "-1/s", "07/h"};
	char why[PLAN_WHY_MAX];
	uint32_t n, period;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(plan__parse_rate(ok[i].s, strlen(ok[i].s), &n,
						  &period, why, sizeof(why)),
				 0);
		assert_int_equal(n, ok[i].n);
		assert_int_equal(period, ok[i].period);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (plan__parse_rate(bad[i], strlen(bad[i]), &n, &period, why,
				     sizeof(why)) != FL_EINVAL)
			fail_msg("accepted rate \"%s\"", bad[i]);
}

static void test_plan__times_of_day(void **state)
{
	static const char *const bad[] = {"2:00",  "12:60", "1200",  "02:00:00",
					  "ab:cd", "24:01", "-1:00", "",
					  "02.00", "02:0"};
	char why[PLAN_WHY_MAX];
	uint16_t m;

	(void)state;
	assert_int_equal(
		plan__parse_time_of_day("02:00", 5, 0, &m, why, sizeof(why)),
		0);
	assert_int_equal(m, 120);
	assert_int_equal(
		plan__parse_time_of_day("23:59", 5, 0, &m, why, sizeof(why)),
		0);
	assert_int_equal(m, 1439);
	assert_int_equal(
		plan__parse_time_of_day("00:00", 5, 0, &m, why, sizeof(why)),
		0);
	assert_int_equal(m, 0);
	/* "24:00" ends a day: only as the end of a window. */
	assert_int_equal(
		plan__parse_time_of_day("24:00", 5, 1, &m, why, sizeof(why)),
		0);
	assert_int_equal(m, 1440);
	assert_int_equal(
		plan__parse_time_of_day("24:00", 5, 0, &m, why, sizeof(why)),
		FL_EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (plan__parse_time_of_day(bad[i], strlen(bad[i]), 1, &m, why,
					    sizeof(why)) != FL_EINVAL)
			fail_msg("accepted time \"%s\"", bad[i]);
}

static void test_plan__instants(void **state)
{
	static const struct {
		const char *s;
		int64_t v;
	} ok[] = {
		{"2026-11-27T00:00:00Z", 1795737600},
		{"2026-12-20T00:00:00+01:00", 1797721200},
		{"2028-02-29T12:00:00-05:00", 1835456400},
		{"1970-01-01T00:00:00Z", 0},
		{"1969-12-31T23:59:59Z", -1},
		{"9999-12-31T23:59:59Z", 253402300799},
		{"0001-01-01T00:00:00Z", -62135596800},
		{"2026-11-30t23:59:59z", 1796083199},
	};
	static const char *const bad[] = {
		"2026-11-27T00:00:00",	     "2026-11-27",
		"2026-11-27 00:00:00Z",	     "2026-02-29T00:00:00Z",
		"2026-13-01T00:00:00Z",	     "2026-11-27T24:00:00Z",
		"2026-11-27T00:00:60Z",	     "2026-11-27T00:00:00.5Z",
		"2026-11-27T00:00:00+24:00", "2026-11-27T00:00:00+0100",
		"2026-11-27T00:00Z",	     "26-11-27T00:00:00Z",
		"2026-11-00T00:00:00Z",	     "2026-04-31T00:00:00Z",
		"2026-11-27T00:00:00ZZ",     "tomorrow",
		"1900-02-29T00:00:00Z",	     "",
	};
	char why[PLAN_WHY_MAX];
	int64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (plan__parse_instant(ok[i].s, strlen(ok[i].s), &v, why,
					sizeof(why)) != 0)
			fail_msg("refused \"%s\": %s", ok[i].s, why);
		assert_int_equal(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (plan__parse_instant(bad[i], strlen(bad[i]), &v, why,
					sizeof(why)) != FL_EINVAL)
			fail_msg("accepted instant \"%s\"", bad[i]);
	assert_int_equal(plan__parse_instant("2000-02-29T00:00:00Z", 20, &v,
					     why, sizeof(why)),
			 0);
}

static void test_plan__days_and_ranges(void **state)
{
	static const struct {
		const char *s;
		uint8_t mask;
	} ok[] = {{"mon", 0x01},     {"sun", 0x40},	{"mon-fri", 0x1f},
		  {"fri-mon", 0x71}, {"sat-sun", 0x60}, {"sun-mon", 0x41},
		  {"tue-mon", 0x7f}};
	static const char *const bad[] = {"Mon",     "monday", "mon-mon",
					  "mon-",    "-fri",   "mon - fri",
					  "",	     "mo",     "mon-fri-sat",
					  "weekend", "MON-FRI"};
	char why[PLAN_WHY_MAX];
	uint8_t mask;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		mask = 0;
		assert_int_equal(plan__parse_days(ok[i].s, strlen(ok[i].s),
						  &mask, why, sizeof(why)),
				 0);
		assert_int_equal(mask, ok[i].mask);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (plan__parse_days(bad[i], strlen(bad[i]), &mask, why,
				     sizeof(why)) != FL_EINVAL)
			fail_msg("accepted days \"%s\"", bad[i]);
	plan__parse_days("Monday", 6, &mask, why, sizeof(why));
	assert_string_equal(why, "`Monday` is not a day: days are mon, tue, "
				 "wed, thu, fri, sat, sun; did you mean "
				 "`mon`?");
}

static void test_plan__names_and_ids(void **state)
{
	static const char *const names_ok[] = {
		"thermostat-2.4.0", "a", "0", "a_b.c-d",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa"};
	static const char *const names_bad[] = {
		"Thermo",
		"-x",
		"a b",
		"",
		"_x",
		".x",
		"a/b",
		"é",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaa"};
	static const char *const ids_ok[] = {"dev-0042", "GW:01:AB", "x.y_z"};
	static const char *const ids_bad[] = {"",    "-x",  "a b",
					      "a/b", "a+b", ":a"};
	char why[PLAN_WHY_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(names_ok) / sizeof(names_ok[0]); i++)
		assert_int_equal(plan__check_name(names_ok[i],
						  strlen(names_ok[i]), why,
						  sizeof(why)),
				 0);
	for (size_t i = 0; i < sizeof(names_bad) / sizeof(names_bad[0]); i++)
		if (plan__check_name(names_bad[i], strlen(names_bad[i]), why,
				     sizeof(why)) != FL_EINVAL)
			fail_msg("accepted name \"%s\"", names_bad[i]);
	for (size_t i = 0; i < sizeof(ids_ok) / sizeof(ids_ok[0]); i++)
		assert_int_equal(plan__check_id(ids_ok[i], strlen(ids_ok[i]),
						"device id", why, sizeof(why)),
				 0);
	for (size_t i = 0; i < sizeof(ids_bad) / sizeof(ids_bad[0]); i++)
		if (plan__check_id(ids_bad[i], strlen(ids_bad[i]), "device id",
				   why, sizeof(why)) != FL_EINVAL)
			fail_msg("accepted id \"%s\"", ids_bad[i]);
	assert_int_equal(
		plan__check_label_key("k8s.io/arch", 11, why, sizeof(why)), 0);
	assert_int_equal(
		plan__check_label_value("Building 7", 10, why, sizeof(why)), 0);
	assert_int_equal(plan__check_label_value("a\tb", 3, why, sizeof(why)),
			 FL_EINVAL);
	assert_int_equal(
		plan__check_metric_name("heap_free_kib", 13, why, sizeof(why)),
		0);
	assert_int_equal(plan__check_metric_name("9lives", 6, why, sizeof(why)),
			 FL_EINVAL);
}

static void test_plan__numbers(void **state)
{
	static const char *const bad[] = {"",
					  "-",
					  "1.",
					  ".5",
					  "01",
					  "1e3",
					  "0x10",
					  "+1",
					  "1,5",
					  "--1",
					  "1234567890123",
					  "0.1234567"};
	char why[PLAN_WHY_MAX];
	double d;
	uint32_t u;

	(void)state;
	assert_int_equal(plan__parse_decimal("-20.25", 6, &d, why, sizeof(why)),
			 0);
	assert_true(d == -20.25);
	assert_int_equal(plan__parse_decimal("0.1", 3, &d, why, sizeof(why)),
			 0);
	assert_true(d == 0.1);
	assert_int_equal(plan__parse_decimal("0", 1, &d, why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (plan__parse_decimal(bad[i], strlen(bad[i]), &d, why,
					sizeof(why)) != FL_EINVAL)
			fail_msg("accepted number \"%s\"", bad[i]);
	assert_int_equal(plan__parse_uint("4294967295", 10, UINT32_MAX, &u, why,
					  sizeof(why)),
			 0);
	assert_int_equal(u, UINT32_MAX);
	assert_int_equal(plan__parse_uint("4294967296", 10, UINT32_MAX, &u, why,
					  sizeof(why)),
			 FL_EINVAL);
	assert_int_equal(plan__parse_uint("010", 3, 100, &u, why, sizeof(why)),
			 FL_EINVAL);
	assert_string_equal(why, "`010` has a leading zero");
	assert_int_equal(plan__parse_uint("5x", 2, 100, &u, why, sizeof(why)),
			 FL_EINVAL);
}

static void test_plan__edit_distance(void **state)
{
	(void)state;
	assert_int_equal(plan__edit_distance("stagse", 6, "stages", 6), 1);
	assert_int_equal(plan__edit_distance("", 0, "abc", 3), 3);
	assert_int_equal(plan__edit_distance("kitten", 6, "sitting", 7), 3);
	assert_int_equal(plan__edit_distance("same", 4, "same", 4), 0);
	assert_true(plan__edit_distance("a", 1, "b", 65) >= 1000);
}

static void test_plan__value_errors_are_positioned(void **state)
{
	static const struct error_case cases[] = {
		{HEAD "health:\n  soak: 10 m\n" ALL, 7, 9,
		 "`soak`: `10 m` is not a duration: write a whole number and "
		 "a unit s, m, h or d, like 90s, 10m, 2h or 1d"},
		{HEAD "health:\n  max_failure_rate: 0.05\n" ALL, 7, 21,
		 "`max_failure_rate`: `0.05` needs a % sign: 0.05% (a "
		 "fraction like 0.05 would be ambiguous)"},
		{HEAD "device:\n  min_battery: 0%\n" ALL, 7, 16,
		 "`min_battery`: `0%`: a percentage must be more than 0%"},
		{HEAD "device:\n  min_free_storage: 2 GiB\n" ALL, 7, 21,
		 "`min_free_storage`: `2 GiB` is not a size: write a whole "
		 "number and B, KiB, MiB or GiB, like 2MiB"},
		{HEAD "stages:\n  - {name: a, percent: 100, rate: 0/s}\n", 7,
		 35,
		 "`rate`: `0/s`: a rate must allow at least 1 offer; to stop "
		 "offers use `approval: required` or a hold"},
		{HEAD "windows:\n  - {from: 02:00, to: \"05:00\"}\n" ALL, 7, 12,
		 "`from`: write the time in quotes, \"02:00\" (unquoted, YAML "
		 "may read it as a number of minutes)"},
		{HEAD "windows:\n  - {from: \"2:00\", to: \"05:00\"}\n" ALL, 7,
		 12,
		 "`from`: `2:00` is not a time of day: write \"HH:MM\" on a "
		 "24-hour clock, like \"02:00\""},
		{HEAD "windows:\n  - {from: \"24:00\", to: \"05:00\"}\n" ALL, 7,
		 12,
		 "`from`: `24:00` is not a time of day: hours run 00-23 and "
		 "minutes 00-59"},
		{HEAD "holds:\n  - {name: h, until: 2026-11-30T23:59:59}\n" ALL,
		 7, 22,
		 "`until`: `2026-11-30T23:59:59` has no zone: add Z for UTC "
		 "or an offset like +01:00"},
		{HEAD "holds:\n  - {name: h, until: Approved}\n" ALL, 7, 22,
		 "`until`: `Approved` is neither `approved` nor an instant "
		 "like 2026-11-30T23:59:59Z"},
		{HEAD "windows:\n  - {days: [mon-mon], from: \"01:00\", to: "
		      "\"02:00\"}\n" ALL,
		 7, 13,
		 "`days`: `mon-mon` starts and ends on the same day: write "
		 "`mon` for one day, or list all seven for every day"},
		{"rollout: t\nartifact: {version: 2.4.0-01, file: a.bin, "
		 "hardware: [m]}\n" ALL,
		 2, 21,
		 "`version`: `2.4.0-01` is not a semantic version: write "
		 "MAJOR.MINOR.PATCH, like 2.4.0 or 2.4.0-rc.1"},
		{"rollout: t\nartifact: {version: "
		 "2.4.0-aaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaa, file: a.bin, hardware: [m]}\n" ALL,
		 2, 21,
		 "`version`: the pre-release of `2.4.0-aaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaa...` is longer than 47 characters"},
		{HEAD "  from: \"^2.0.0\"\n" ALL, 6, 9,
		 "`from`: `^2.0.0` is not a version range: write comparators "
		 "=, >, >=, < or <= each followed by a version, separated by "
		 "spaces, like \">=2.0.0 <2.4.0\""},
		{HEAD "  from: \">1.0.0 >1.0.0 >1.0.0 >1.0.0 >1.0.0 >1.0.0 "
		      ">1.0.0 >1.0.0 >1.0.0\"\n" ALL,
		 6, 9,
		 "`from`: `>1.0.0 >1.0.0 >1.0.0 >1.0.0 >1.0.0 >1.0....` has "
		 "more than 8 comparators"},
		{HEAD "  from: \"=2.0.0 <2.0.0\"\n" ALL, 6, 9,
		 "`from`: no version satisfies `=2.0.0 <2.0.0`, so no device "
		 "would be a target"},
		{HEAD "health:\n  max_failures: -1\n" ALL, 7, 17,
		 "`max_failures`: `-1` is not a whole number"},
		{HEAD "health:\n  min_devices: 0\n" ALL, 7, 16,
		 "`min_devices` must be at least 1"},
		{HEAD "health:\n  timeout: 0s\n" ALL, 7, 12,
		 "`timeout` must be longer than 0s; leave it out for no "
		 "timeout"},
		{HEAD "health:\n  metrics: [{name: t, min: 1e3}]\n" ALL, 7, 28,
		 "`min`: `1e3` is not a number: write an integer or a decimal "
		 "like 20 or -0.5"},
		{HEAD "stages:\n  - {name: a, count: 010}\n  - {name: b, "
		      "percent: 100}\n",
		 7, 22, "`count`: `010` has a leading zero"},
		{HEAD "stages:\n  - {name: a, percent: 100.00001}\n", 7, 24,
		 "`percent`: `100.00001` is too precise: at most 4 decimals "
		 "(0.0001%)"},
		{"rollout: \"a\\x01b\"\n"
		 "artifact: {version: 1.0.0, file: "
		 "a.bin, hardware: [m]}\n" ALL,
		 1, 10,
		 "`rollout`: the value contains a control character (0x01)"},
		{"rollout: t\nartifact: {version: 1.0.0, file: a.bin, "
		 "hardware: "
		 "[m]}\ndescription: \"nul \\0 inside\"\n" ALL,
		 3, 14,
		 "`description`: the value contains a control character "
		 "(0x00)"},
	};

	(void)state;
	RUN_CASES(cases);
}

/* ---- errors of structure ------------------------------------------------ */

static void test_plan__unknown_key_suggests_nearest(void **state)
{
	static const struct error_case cases[] = {
		{"rollout: t\nstagse: []\nartifact: {version: 1.0.0, file: "
		 "a.bin, hardware: [m]}\n" ALL,
		 2, 1,
		 "unknown key `stagse` in the plan; did you mean `stages`?"},
		{HEAD "health:\n  timout: 1h\n" ALL, 7, 3,
		 "unknown key `timout` in `health`; did you mean `timeout`?"},
		{HEAD "stages:\n  - {name: a, percent: 100, percentage: 1}\n",
		 7, 29,
		 "unknown key `percentage` in a stage; did you mean "
		 "`percent`?"},
		{HEAD "  Version: 1.0.0\n" ALL, 6, 3,
		 "unknown key `Version` in `artifact`; did you mean "
		 "`version`?"},
		{HEAD "device:\n  min_batery: 5%\n" ALL, 7, 3,
		 "unknown key `min_batery` in `device`; did you mean "
		 "`min_battery`?"},
		{HEAD "windows:\n  - {from: \"01:00\", to: \"02:00\", zone: "
		      "UTC}\n" ALL,
		 7, 34,
		 "unknown key `zone` in a window; valid keys: days, from, to, "
		 "tz"},
		{HEAD "targets:\n  labels: {a: b}\n" ALL, 7, 3,
		 "unknown key `labels` in `targets`; valid keys: match, "
		 "exclude"},
		{HEAD "holds:\n  - {name: h, until: approved, resaon: x}\n" ALL,
		 7, 32,
		 "unknown key `resaon` in a hold; did you mean `reason`?"},
		{HEAD
		 "health:\n  metrics: [{name: a, min: 0, maximum: 1}]\n" ALL,
		 7, 31,
		 "unknown key `maximum` in a metric rule; did you mean `max`?"},
	};

	(void)state;
	RUN_CASES(cases);
}

static void test_plan__renamed_keys_name_the_new_one(void **state)
{
	static const struct error_case cases[] = {
		{HEAD "name: x\n" ALL, 6, 1, "`name` was renamed to `rollout`"},
		{HEAD "  models: [m]\n" ALL, 6, 3,
		 "`models` was renamed to `hardware`"},
		{HEAD "health:\n  failure_rate: 5%\n" ALL, 7, 3,
		 "`failure_rate` was renamed to `max_failure_rate`"},
		{HEAD "stages:\n  - {name: a, percent: 100, wait: 1h}\n", 7, 29,
		 "`wait` was renamed to `soak`"},
		{HEAD "canary: [dev-1]\n" ALL, 6, 1,
		 "`canary` is not a key any more: a canary is the first stage: "
		 "`stages: [{name: canary, count: 5}, ...]`"},
	};

	(void)state;
	RUN_CASES(cases);
}

static void test_plan__wrong_types_are_errors(void **state)
{
	static const struct error_case cases[] = {
		{"rollout: t\nartifact: {version: 1.0.0, file: a.bin, "
		 "hardware: "
		 "m}\n" ALL,
		 2, 51, "`hardware`: expected a list, found `m`"},
		{HEAD "stages: everyone\n", 6, 9,
		 "`stages`: expected a list of stages, found `everyone`"},
		{HEAD "stages:\n  name: a\n  percent: 100\n", 7, 3,
		 "`stages`: expected a list of stages, found a mapping"},
		{HEAD "stages: [[a]]\n", 6, 10,
		 "`stages`: expected a stage (a mapping), found a list"},
		{"rollout: [a]\nartifact: {version: 1.0.0, file: a.bin, "
		 "hardware: [m]}\n" ALL,
		 1, 10, "`rollout`: expected a name, found a list"},
		{"rollout: t\nartifact: 1.0.0\n" ALL, 2, 11,
		 "`artifact`: expected a mapping, found `1.0.0`"},
		{HEAD "health: 5%\n" ALL, 6, 9,
		 "`health`: expected a mapping, found `5%`"},
		{HEAD "health:\n" ALL, 6, 8,
		 "`health`: expected a mapping, found no value"},
		{HEAD "health:\n  soak: [10m]\n" ALL, 7, 9,
		 "`soak`: expected a duration, found a list"},
		{HEAD "health:\n  metrics: {name: a, max: 1}\n" ALL, 7, 12,
		 "`metrics`: expected a list of rules, found a mapping"},
		{HEAD "windows:\n  - {days: mon-fri, from: \"01:00\", to: "
		      "\"02:00\"}\n" ALL,
		 7, 12,
		 "`days`: expected a list like [mon-fri, sun], found "
		 "`mon-fri`"},
		{HEAD "targets:\n  match: [region, eu]\n" ALL, 7, 10,
		 "`match`: expected a mapping of labels, like {region: eu}, "
		 "found a list"},
		{HEAD "targets:\n  match: {region: {a: b}}\n" ALL, 7, 19,
		 "label `region`: expected a value or a list of values, found "
		 "a mapping"},
		{HEAD "holds: {name: a}\n" ALL, 6, 8,
		 "`holds`: expected a list of holds, found a mapping"},
		{HEAD "stages:\n  - {name: a, devices: dev-1}\n  - {name: b, "
		      "percent: 100}\n",
		 7, 24, "`devices`: expected a list, found `dev-1`"},
		{"rollout: t\nartifact: {version: 1.0.0, file: a.bin, "
		 "hardware: "
		 "[m]}\n? [a]\n: b\n" ALL,
		 3, 3, "a key must be a name, not a list"},
		{HEAD "~: x\n" ALL, 6, 1,
		 "a key must be a name; this one is empty"},
	};

	(void)state;
	RUN_CASES(cases);
}

static void test_plan__required_keys_and_empty_lists(void **state)
{
	static const struct error_case cases[] = {
		{"rollout: t\n" ALL, 1, 1, "missing `artifact`"},
		{"artifact: {version: 1.0.0, file: a.bin, hardware: [m]}\n" ALL,
		 1, 1, "missing `rollout`"},
		{HEAD, 1, 1,
		 "missing `stages`: a plan needs at least one stage"},
		{HEAD "stages: []\n", 6, 9,
		 "`stages` is empty: a plan needs at least one stage"},
		{"rollout: t\nartifact:\n  file: a.bin\n  hardware: [m]\n" ALL,
		 2, 1, "`artifact`: missing `version`"},
		{"rollout: t\nartifact:\n  version: 1.0.0\n  hardware: "
		 "[m]\n" ALL,
		 2, 1, "`artifact`: missing `file`"},
		{"rollout: t\nartifact:\n  version: 1.0.0\n  file: a.bin\n" ALL,
		 2, 1,
		 "`artifact`: missing `hardware` (the models it may be "
		 "installed on)"},
		{"rollout: t\nartifact: {version: 1.0.0, file: a.bin, "
		 "hardware: "
		 "[]}\n" ALL,
		 2, 51,
		 "`hardware` is empty: list the models the artifact may be "
		 "installed on"},
		{HEAD "windows: []\n" ALL, 6, 10,
		 "`windows` is empty: leave `windows` out to allow any time"},
		{HEAD "windows:\n  - {from: \"01:00\", to: \"02:00\", days: "
		      "[]}\n" ALL,
		 7, 40,
		 "`days` is empty: list days, or leave `days` out for every "
		 "day"},
		{HEAD "windows:\n  - {to: \"02:00\"}\n" ALL, 7, 5,
		 "a window needs `from`, like from: \"02:00\""},
		{HEAD "windows:\n  - {from: \"02:00\"}\n" ALL, 7, 5,
		 "a window needs `to`, like to: \"05:00\""},
		{HEAD "targets:\n  match: {}\n" ALL, 7, 10,
		 "`match` is empty: name at least one label, or remove "
		 "`match`"},
		{HEAD "targets:\n  match: {ring: []}\n" ALL, 7, 17,
		 "label `ring` lists no values"},
		{HEAD "stages:\n  - {name: a, devices: []}\n  - {name: b, "
		      "percent: 100}\n",
		 7, 24, "`devices` is empty: list at least one device id"},
		{HEAD "holds:\n  - {until: approved}\n" ALL, 7, 5,
		 "a hold needs a `name` (used by `fleetctl approve`)"},
		{HEAD "holds:\n  - {name: h, reason: r}\n" ALL, 7, 5,
		 "hold `h` needs `until`: `until: approved`, or an instant "
		 "like 2026-11-30T23:59:59Z"},
		{HEAD "health:\n  metrics: [{max: 1}]\n" ALL, 7, 13,
		 "a metric rule needs a `name`"},
		{HEAD "health:\n  metrics: [{name: a}]\n" ALL, 7, 13,
		 "metric rule `a` needs `min`, `max` or both"},
	};

	(void)state;
	RUN_CASES(cases);
}

static void test_plan__duplicates_are_errors(void **state)
{
	static const struct error_case cases[] = {
		{HEAD "health:\n  soak: 1m\n  soak: 2m\n" ALL, 8, 3,
		 "duplicate key `soak` (first at 7:3)"},
		{"rollout: a\nrollout: b\nartifact: {version: 1.0.0, file: "
		 "a.bin, hardware: [m]}\n" ALL,
		 2, 1, "duplicate key `rollout` (first at 1:1)"},
		{HEAD "targets:\n  match: {ring: a, ring: b}\n" ALL, 7, 20,
		 "duplicate key `ring` (first at 7:11)"},
		{HEAD "targets:\n  match: {ring: [a, b, a]}\n" ALL, 7, 24,
		 "duplicate value `a` for label `ring` (first at 7:18)"},
		{"rollout: t\nartifact: {version: 1.0.0, file: a.bin, "
		 "hardware: "
		 "[m, n, m]}\n" ALL,
		 2, 58,
		 "duplicate model name `m` in `hardware` (first at 2:52)"},
		{HEAD "targets:\n  exclude: [d1, d2, d1]\n" ALL, 7, 21,
		 "duplicate device `d1` in `targets.exclude` (first at 7:13)"},
		{HEAD
		 "stages:\n  - {name: a, devices: [d1, d1]}\n  - {name: b, "
		 "percent: 100}\n",
		 7, 29, "duplicate device `d1` in stage `a` (first at 7:25)"},
		{HEAD "stages:\n  - {name: a, devices: [d1]}\n  - {name: b, "
		      "devices: [d2, d1]}\n  - {name: c, percent: 100}\n",
		 8, 29, "device `d1` is already in stage `a` (7:25)"},
		{HEAD "targets:\n  exclude: [d1]\nstages:\n  - {name: a, "
		      "devices: [d1]}\n  - {name: b, percent: 100}\n",
		 9, 25,
		 "device `d1` is excluded by `targets.exclude` (7:13) but "
		 "listed in stage `a`"},
		{HEAD
		 "stages:\n  - {name: a, count: 1}\n  - {name: a, percent: "
		 "100}\n",
		 8, 12, "duplicate stage name `a` (first at 7:12)"},
		{HEAD "holds:\n  - {name: h, until: approved}\n  - {name: h, "
		      "until: approved}\n" ALL,
		 8, 12, "duplicate hold name `h` (first at 7:12)"},
		{HEAD "holds:\n  - {name: all, until: approved}\n" ALL, 7, 12,
		 "hold `all` has the name of a stage (9:12): `fleetctl "
		 "approve` could not tell them apart"},
		{HEAD "health:\n  metrics:\n    - {name: a, max: 1}\n    - "
		      "{name: a, min: 0}\n" ALL,
		 9, 7,
		 "metric `a` already has a rule (at 8:7): put `min` and `max` "
		 "in one rule"},
	};

	(void)state;
	RUN_CASES(cases);
}

static void test_plan__stage_rules(void **state)
{
	static const struct error_case cases[] = {
		{HEAD "stages:\n  - {name: a, count: 5, percent: 100}\n", 7, 25,
		 "stage `a`: `count` and `percent` both choose its devices; "
		 "keep one"},
		{HEAD
		 "stages:\n  - {name: a, soak: 1h}\n  - {name: b, percent: "
		 "100}\n",
		 7, 12,
		 "stage `a` needs one of `devices`, `count`, `match` or "
		 "`percent` to choose its devices"},
		{HEAD "stages:\n  - {name: a, percent: 50}\n  - {name: b, "
		      "percent: 50}\n  - {name: c, percent: 100}\n",
		 8, 24,
		 "stage `b`: percent 50% does not increase on stage `a` (50%); "
		 "percentages are cumulative"},
		{HEAD "stages:\n  - {name: a, percent: 100}\n  - {name: b, "
		      "percent: 100}\n",
		 8, 12,
		 "stage `b` follows stage `a`, which already reaches 100% of "
		 "targets: it would have no devices"},
		{HEAD "stages:\n  - {name: a, percent: 0}\n  - {name: b, "
		      "percent: 100}\n",
		 7, 24, "`percent`: `0`: a percentage must be more than 0%"},
		{HEAD
		 "stages:\n  - {name: a, count: 0}\n  - {name: b, percent: "
		 "100}\n",
		 7, 22, "`count` must be at least 1"},
		{HEAD "stages:\n  - {name: a, percent: 100, approval: "
		      "optional}\n",
		 7, 39,
		 "`approval`: the only value is `required`; leave the key out "
		 "for no approval"},
		{HEAD "stages:\n  - {name: Canary, percent: 100}\n", 7, 12,
		 "`name`: `Canary` is not a valid name: use a-z, 0-9, '.', '_' "
		 "and '-', starting with a letter or digit (lower case only)"},
		{HEAD "stages:\n  - {name: a, match: {}}\n  - {name: b, "
		      "percent: 100}\n",
		 7, 22,
		 "`match` is empty: name at least one label, or remove "
		 "`match`"},
	};

	(void)state;
	RUN_CASES(cases);
}

static void test_plan__warnings_do_not_refuse_the_plan(void **state)
{
	struct result *r;

	(void)state;
	expect_one(HEAD "health:\n  max_failure_rate: 0%\n" ALL,
		   FL_DIAG_WARNING, 7, 21,
		   "`max_failure_rate: 0%` without `min_devices`: the first "
		   "failure fails the stage");
	result_free(expect_valid(HEAD "health:\n  max_failure_rate: 0%\n"
				      "  min_devices: 5\n" ALL));
	expect_one(HEAD "stages:\n  - {name: a, percent: 10}\n  - {name: b, "
			"percent: 50.5}\n",
		   FL_DIAG_WARNING, 8, 24,
		   "the last stage, `b`, reaches 50.5000% of targets: the rest "
		   "are never offered the update");
	expect_one(
		HEAD "stages:\n  - {name: a, match: {ring: x}}\n",
		FL_DIAG_WARNING, 7, 12,
		"the last stage, `a`, is not `percent: 100`: targets outside "
		"the stages are never offered the update");
	expect_one(HEAD "windows:\n  - {days: [mon-fri, wed], from: \"01:00\", "
			"to: \"02:00\"}\n" ALL,
		   FL_DIAG_WARNING, 7, 22,
		   "`days`: `wed` repeats a day already listed");
	/* A plan with warnings only is returned. */
	r = parse(HEAD "stages:\n  - {name: a, count: 3}\n");
	assert_int_equal(r->err, 0);
	assert_non_null(r->plan);
	assert_int_equal(r->d.n_warnings, 1);
	assert_int_equal(r->d.n_errors, 0);
	result_free(r);
}

static void test_plan__cross_section_rules(void **state)
{
	static const struct error_case cases[] = {
		{HEAD "device:\n  activate: window\n" ALL, 7, 13,
		 "`activate: window` needs `windows`: without one the devices "
		 "would never activate"},
		{HEAD
		 "health:\n  timeout: 10m\nstages:\n  - {name: a, count: 1, "
		 "soak: 10m}\n  - {name: b, percent: 100}\n",
		 7, 12,
		 "`timeout` is not longer than the soak of stage `a`: every "
		 "device would time out before it could succeed"},
		{HEAD "health:\n  soak: 3h\n  timeout: 2h\n" ALL, 8, 12,
		 "`timeout` is not longer than the soak of stage `all`: every "
		 "device would time out before it could succeed"},
		{HEAD "  from: \">=2.0.0 <2.5.0\"\n" ALL, 6, 9,
		 "`from`: version 2.4.0 is inside its own `from` range "
		 "`>=2.0.0 "
		 "<2.5.0`: devices already running it would be offered it "
		 "again"},
		{HEAD
		 "holds:\n  - {name: h, from: 2026-11-30T00:00:00Z, until: "
		 "2026-11-30T00:00:00Z}\n" ALL,
		 7, 50,
		 "`until` is not after `from`: the hold would never apply"},
		{HEAD "windows:\n  - {from: \"03:00\", to: \"03:00\"}\n" ALL, 7,
		 25,
		 "`to` equals `from`: the window would be empty (for the whole "
		 "day write from \"00:00\" to \"24:00\")"},
		{HEAD "health:\n  metrics: [{name: a, min: 5, max: 1}]\n" ALL,
		 7, 36,
		 "metric `a`: `max` is below `min`, so every value breaches"},
	};

	(void)state;
	RUN_CASES(cases);
	/* A timeout above every soak, and a stage soak overriding it. */
	result_free(expect_valid(HEAD "health:\n  soak: 1h\n  timeout: 2h\n"
				      "stages:\n  - {name: a, count: 1, soak: "
				      "90m}\n  - {name: b, percent: 100}\n"));
	result_free(expect_valid(HEAD "  from: \">=2.0.0 <2.4.0\"\n" ALL));
}

/* ---- files on disk: time zones and artifacts ---------------------------- */

static void test_plan__time_zones_are_checked_against_tzdir(void **state)
{
	static const struct error_case cases[] = {
		{HEAD "windows:\n  - {from: \"01:00\", to: \"02:00\", tz: "
		      "Europe/Pari}\n" ALL,
		 7, 38,
		 "`tz`: unknown time zone `Europe/Pari`; did you mean "
		 "`Europe/Paris`?"},
		{HEAD "windows:\n  - {from: \"01:00\", to: \"02:00\", tz: "
		      "Europe/paris}\n" ALL,
		 7, 38,
		 "`tz`: unknown time zone `Europe/paris`; did you mean "
		 "`Europe/Paris`?"},
		{HEAD "windows:\n  - {from: \"01:00\", to: \"02:00\", tz: "
		      "\"../../etc/passwd\"}\n" ALL,
		 7, 38,
		 "`tz`: `../../etc/passwd` is not a time-zone name: write "
		 "`device`, `UTC` or an IANA name like Europe/Paris"},
		{HEAD "windows:\n  - {from: \"01:00\", to: \"02:00\", tz: "
		      "/etc/localtime}\n" ALL,
		 7, 38,
		 "`tz`: `/etc/localtime` is not a time-zone name: write "
		 "`device`, `UTC` or an IANA name like Europe/Paris"},
		{HEAD "windows:\n  - {from: \"01:00\", to: \"02:00\", tz: "
		      "Europe/./Paris}\n" ALL,
		 7, 38,
		 "`tz`: `Europe/./Paris` is not a time-zone name: write "
		 "`device`, `UTC` or an IANA name like Europe/Paris"},
		{HEAD "windows:\n  - {from: \"01:00\", to: \"02:00\", tz: "
		      "localtime}\n" ALL,
		 7, 38,
		 "`tz`: time zone `localtime` is not allowed: its meaning "
		 "depends on the server; write an IANA name like Europe/Paris"},
		{HEAD "windows:\n  - {from: \"01:00\", to: \"02:00\", tz: "
		      "right/UTC}\n" ALL,
		 7, 38,
		 "`tz`: time zone `right/UTC` is not allowed: its meaning "
		 "depends on the server; write an IANA name like Europe/Paris"},
	};
	char why[PLAN_WHY_MAX], msg[600];

	(void)state;
	RUN_CASES(cases);
	snprintf(msg, sizeof(msg),
		 "`tz`: unknown time zone `Device` (not in the tz database at "
		 "%.60s)",
		 tz_dir);
	expect_error(HEAD "windows:\n  - {from: \"01:00\", to: \"02:00\", tz: "
			  "Device}\n" ALL,
		     7, 38, msg);
	assert_int_equal(plan__tz_check("Europe/Paris", 12, why, sizeof(why)),
			 0);
	assert_int_equal(plan__tz_check("UTC", 3, why, sizeof(why)), 0);
	/* A folder and a table of the database are not zones. */
	assert_int_equal(plan__tz_check("Europe", 6, why, sizeof(why)),
			 FL_EINVAL);
	assert_int_equal(plan__tz_check("zone.tab", 8, why, sizeof(why)),
			 FL_EINVAL);
	assert_int_equal(plan__tz_check("Europe/", 7, why, sizeof(why)),
			 FL_EINVAL);
	assert_int_equal(plan__tz_check("Europe//Paris", 13, why, sizeof(why)),
			 FL_EINVAL);
	assert_int_equal(
		plan__tz_check("Europe/Paris\0x", 14, why, sizeof(why)),
		FL_EINVAL);
	assert_int_equal(plan__tz_check("", 0, why, sizeof(why)), FL_EINVAL);
	/* UTC needs no database at all. */
	setenv("TZDIR", "/nonexistent", 1);
	assert_int_equal(plan__tz_check("UTC", 3, why, sizeof(why)), 0);
	assert_int_equal(plan__tz_check("Europe/Paris", 12, why, sizeof(why)),
			 FL_EINVAL);
	setenv("TZDIR", tz_dir, 1);
}

static void test_plan__artifact_file_must_exist(void **state)
{
	char yaml[600], msg[600], path[400];
	struct fl_plan_diags d;
	struct fl_plan *p;

	(void)state;
	snprintf(
		msg, sizeof(msg),
		"`file`: artifact `nope.bin` not found (looked at %s/nope.bin)",
		fixture);
	expect_error("rollout: t\nartifact: {version: 1.0.0, file: nope.bin, "
		     "hardware: [m]}\n" ALL,
		     2, 34, msg);
	snprintf(msg, sizeof(msg),
		 "`file`: artifact `empty.bin` is empty (looked at "
		 "%s/empty.bin)",
		 fixture);
	expect_error("rollout: t\nartifact: {version: 1.0.0, file: empty.bin, "
		     "hardware: [m]}\n" ALL,
		     2, 34, msg);
	snprintf(msg, sizeof(msg),
		 "`file`: artifact `sub` is not a regular file (looked at "
		 "%s/sub)",
		 fixture);
	expect_error("rollout: t\nartifact: {version: 1.0.0, file: sub, "
		     "hardware: [m]}\n" ALL,
		     2, 34, msg);
	snprintf(msg, sizeof(msg),
		 "`file`: artifact `a.bin/x` not found (looked at %s/a.bin/x)",
		 fixture);
	expect_error("rollout: t\nartifact: {version: 1.0.0, file: a.bin/x, "
		     "hardware: [m]}\n" ALL,
		     2, 34, msg);
	/* Any other failure to open names its cause (here even as root). */
	join(path, sizeof(path), fixture, "loop.bin");
	assert_int_equal(symlink("loop.bin", path), 0);
	snprintf(msg, sizeof(msg),
		 "`file`: artifact `loop.bin` cannot be read: Too many levels "
		 "of symbolic links (looked at %s)",
		 path);
	expect_error("rollout: t\nartifact: {version: 1.0.0, file: loop.bin, "
		     "hardware: [m]}\n" ALL,
		     2, 34, msg);
	unlink(path);
	/* Without a path there is no file system: nothing is opened. */
	snprintf(yaml, sizeof(yaml),
		 "rollout: t\nartifact: {version: 1.0.0, file: nope.bin, "
		 "hardware: [m]}\n" ALL);
	assert_int_equal(fl_plan_parse(yaml, strlen(yaml), NULL, &p, &d), 0);
	assert_string_equal(d.file, "<plan>");
	assert_string_equal(p->artifact.file_path, "nope.bin");
	assert_null(p->path);
	fl_plan_free(p);
}

/* fleetd holds the uploaded image: the plan names itself in diagnostics,
 * its file is not opened, and an empty image is refused like an empty
 * file. */
static void test_plan__supplied_artifact_is_not_opened(void **state)
{
	struct fl_plan_parse_opts opts = {1, 4096};
	struct fl_plan_diags d;
	struct fl_plan *p = NULL;
	const char *yaml = "rollout: t\nartifact: {version: 1.0.0, file: "
			   "../nope.bin, hardware: [m]}\n" ALL;

	(void)state;
	assert_int_equal(fl_plan_parse_opts(yaml, strlen(yaml), "up.yaml",
					    &opts, &p, &d),
			 0);
	assert_string_equal(d.file, "up.yaml");
	assert_string_equal(p->path, "up.yaml");
	assert_string_equal(p->artifact.file_path, "../nope.bin");
	fl_plan_free(p);
	opts.artifact_length = 0;
	assert_int_equal(fl_plan_parse_opts(yaml, strlen(yaml), "up.yaml",
					    &opts, &p, &d),
			 FL_EINVAL);
	assert_null(p);
	assert_int_equal(d.n_errors, 1);
	assert_string_equal(d.d[0].msg, "`file`: artifact `../nope.bin` is "
					"empty");
	/* NULL options: fl_plan_parse(), which opens the file. */
	assert_int_equal(
		fl_plan_parse_opts(yaml, strlen(yaml), "up.yaml", NULL, &p, &d),
		FL_EINVAL);
}

static void test_plan__unreadable_artifact_is_an_error(void **state)
{
	char path[400], msg[600];

	(void)state;
	if (geteuid() == 0)
		skip(); /* root reads anything */
	join(path, sizeof(path), fixture, "secret.bin");
	write_file(path, "x", 1);
	chmod(path, 0);
	snprintf(msg, sizeof(msg),
		 "`file`: artifact `secret.bin` cannot be read: Permission "
		 "denied (looked at %s)",
		 path);
	expect_error("rollout: t\nartifact: {version: 1.0.0, file: secret.bin, "
		     "hardware: [m]}\n" ALL,
		     2, 34, msg);
	unlink(path);
}

/* ---- YAML and limits ---------------------------------------------------- */

static void test_plan__not_yaml_or_not_a_mapping(void **state)
{
	static const struct error_case cases[] = {
		{"rollout: [a\n", 2, 1,
		 "YAML syntax error: did not find expected ',' or ']' (while "
		 "parsing a flow sequence at 1:10)"},
		{"a:\n  b: 1\n c: 2\n", 3, 2,
		 "YAML syntax error: did not find expected key (while parsing "
		 "a block mapping at 1:1)"},
		{"rollout: t\nhealth:\n\tsoak: 1m\n", 3, 1,
		 "YAML syntax error: found character that cannot start any "
		 "token (while scanning for the next token at 3:1); YAML does "
		 "not allow tabs for indentation"},
		{"\x7f"
		 "ELF\x01\x02",
		 1, 1,
		 "not a YAML text file: control characters are not allowed"},
		{"a: b\n\xc3\x28\n", 2, 2,
		 "not a YAML text file: invalid trailing UTF-8 octet"},
		{"- a\n- b\n", 1, 1,
		 "a plan is a YAML mapping of keys like `rollout:` and "
		 "`stages:`; this file holds a list"},
		{"just text\n", 1, 1,
		 "a plan is a YAML mapping of keys like `rollout:` and "
		 "`stages:`; this file holds `just text`"},
		{"", 1, 1,
		 "the plan is empty: it needs at least `rollout`, `artifact` "
		 "and `stages`"},
		{"# nothing\n\n", 1, 1,
		 "the plan is empty: it needs at least `rollout`, `artifact` "
		 "and `stages`"},
		{"---\n", 2, 1,
		 "a plan is a YAML mapping of keys like `rollout:` and "
		 "`stages:`; this file holds no value"},
		{HEAD ALL "---\n" HEAD ALL, 8, 1,
		 "a plan file holds one YAML document; this is a second one"},
		{HEAD "stages:\n  - {name: all, percent: !!int 100}\n", 7, 26,
		 "YAML tags (!!int) are not allowed in a plan"},
		{HEAD "stages: !custom\n  - {name: all, percent: 100}\n", 6, 9,
		 "YAML tags (!custom) are not allowed in a plan"},
	};

	(void)state;
	RUN_CASES(cases);
}

static void test_plan__alias_bomb_is_refused_at_first_anchor(void **state)
{
	char *yaml = malloc(64 * 1024);
	size_t n = 0;
	struct result *r;

	(void)state;
	n += (size_t)sprintf(yaml + n, "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,"
				       "lol]\n");
	for (char c = 'b'; c <= 'z'; c++) {
		n += (size_t)sprintf(yaml + n, "%c: &%c [", c, c);
		for (int i = 0; i < 9; i++)
			n += (size_t)sprintf(yaml + n, "*%c,", c - 1);
		yaml[n - 1] = ']';
		n += (size_t)sprintf(yaml + n, "\n");
	}
	r = parse(yaml);
	assert_int_equal(r->err, FL_EINVAL);
	assert_int_equal(r->d.n, 1);
	assert_int_equal(r->d.d[0].pos.line, 1);
	assert_int_equal(r->d.d[0].pos.col, 4);
	assert_string_equal(r->d.d[0].msg,
			    "YAML anchors (&a) and aliases are not allowed in "
			    "a plan: write each value out");
	result_free(r);
	/* An alias whose anchor is missing, or one used as a key. */
	expect_error(HEAD "stages: *s\n", 6, 9,
		     "YAML aliases (*s) are not allowed in a plan: write each "
		     "value out");
	free(yaml);
}

static void test_plan__nesting_deeper_than_the_limit_is_refused(void **state)
{
	char yaml[200];
	int n;
	struct result *r;

	(void)state;
	/* The top mapping is level 1; 15 lists inside make 16: allowed. */
	n = snprintf(yaml, sizeof(yaml), "%s", "rollout: ");
	for (int i = 0; i < FL_PLAN_MAX_DEPTH - 1; i++)
		yaml[n++] = '[';
	for (int i = 0; i < FL_PLAN_MAX_DEPTH - 1; i++)
		yaml[n++] = ']';
	yaml[n] = '\0';
	r = parse(yaml);
	assert_int_equal(r->err, FL_EINVAL);
	for (unsigned i = 0; i < r->d.n; i++)
		assert_null(strstr(r->d.d[i].msg, "nested"));
	result_free(r);
	/* One more is refused, at the list that goes too deep. */
	n = snprintf(yaml, sizeof(yaml), "%s", "rollout: ");
	for (int i = 0; i < FL_PLAN_MAX_DEPTH; i++)
		yaml[n++] = '[';
	for (int i = 0; i < FL_PLAN_MAX_DEPTH; i++)
		yaml[n++] = ']';
	yaml[n] = '\0';
	expect_error(yaml, 1, 10 + FL_PLAN_MAX_DEPTH - 1,
		     "the YAML is nested deeper than 16 levels");
}

/* Appends n stages "  - {name: sI, percent: P}" with rising percentages. */
static size_t put_stages(char *buf, size_t n)
{
	size_t len = (size_t)sprintf(buf, "stages:\n");

	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(buf + len,
				       "  - {name: s%zu, percent: %zu}\n", i,
				       i + 1 == n ? 100 : i + 1);
	return len;
}

static void test_plan__every_list_is_bounded(void **state)
{
	char *yaml = malloc(256 * 1024);
	size_t n;
	struct result *r;

	(void)state;
	/* 32 stages: the limit. */
	n = (size_t)sprintf(yaml, HEAD);
	put_stages(yaml + n, FL_PLAN_MAX_STAGES);
	r = expect_valid(yaml);
	assert_int_equal(r->plan->nstages, FL_PLAN_MAX_STAGES);
	result_free(r);
	/* 33 stages: refused at the list. */
	put_stages(yaml + n, FL_PLAN_MAX_STAGES + 1);
	expect_error(yaml, 7, 3, "`stages` lists 33 stages; at most 32");
	/* 65 hardware models. */
	n = (size_t)sprintf(yaml, "rollout: t\nartifact:\n  version: 1.0.0\n  "
				  "file: a.bin\n  hardware: [");
	for (int i = 0; i <= FL_PLAN_MAX_HARDWARE; i++)
		n += (size_t)sprintf(yaml + n, "%sm%d", i ? "," : "", i);
	sprintf(yaml + n, "]\n" ALL);
	expect_error(yaml, 5, 13, "`hardware` lists 65 entries; at most 64");
	/* 17 windows, 33 holds, 33 metrics, 17 labels, 65 values. */
	n = (size_t)sprintf(yaml, HEAD "windows:\n");
	for (int i = 0; i <= FL_PLAN_MAX_WINDOWS; i++)
		n += (size_t)sprintf(yaml + n,
				     "  - {from: \"01:00\", to: \"02:00\"}\n");
	sprintf(yaml + n, ALL);
	expect_error(yaml, 7, 3, "`windows` lists 17 windows; at most 16");
	n = (size_t)sprintf(yaml, HEAD "holds:\n");
	for (int i = 0; i <= FL_PLAN_MAX_HOLDS; i++)
		n += (size_t)sprintf(yaml + n,
				     "  - {name: h%d, until: approved}\n", i);
	sprintf(yaml + n, ALL);
	expect_error(yaml, 7, 3, "`holds` lists 33 holds; at most 32");
	n = (size_t)sprintf(yaml, HEAD "health:\n  metrics:\n");
	for (int i = 0; i <= FL_PLAN_MAX_METRICS; i++)
		n += (size_t)sprintf(yaml + n, "    - {name: m%d, max: 1}\n",
				     i);
	sprintf(yaml + n, ALL);
	expect_error(yaml, 8, 5, "`metrics` lists 33 rules; at most 32");
	n = (size_t)sprintf(yaml, HEAD "targets:\n  match: {");
	for (int i = 0; i <= FL_PLAN_MAX_LABELS; i++)
		n += (size_t)sprintf(yaml + n, "%sk%d: v", i ? ", " : "", i);
	sprintf(yaml + n, "}\n" ALL);
	expect_error(yaml, 7, 10, "`match` has 17 labels; at most 16");
	n = (size_t)sprintf(yaml, HEAD "targets:\n  match: {k: [");
	for (int i = 0; i <= FL_PLAN_MAX_VALUES; i++)
		n += (size_t)sprintf(yaml + n, "%sv%d", i ? ", " : "", i);
	sprintf(yaml + n, "]}\n" ALL);
	expect_error(yaml, 7, 14, "label `k` lists 65 values; at most 64");
	/* A stage of 4096 devices is fine; one more is not. */
	n = (size_t)sprintf(yaml, HEAD "stages:\n  - name: a\n    devices: [");
	for (int i = 0; i < FL_PLAN_MAX_DEVICE_IDS; i++)
		n += (size_t)sprintf(yaml + n, "%sd%d", i ? "," : "", i);
	sprintf(yaml + n, "]\n  - {name: b, percent: 100}\n");
	r = expect_valid(yaml);
	assert_int_equal(r->plan->stages[0].ndevices, FL_PLAN_MAX_DEVICE_IDS);
	result_free(r);
	n = (size_t)sprintf(yaml, HEAD "stages:\n  - name: a\n    devices: [");
	for (int i = 0; i <= FL_PLAN_MAX_DEVICE_IDS; i++)
		n += (size_t)sprintf(yaml + n, "%sd%d", i ? "," : "", i);
	sprintf(yaml + n, "]\n  - {name: b, percent: 100}\n");
	r = parse(yaml);
	assert_int_equal(r->err, FL_EINVAL);
	assert_int_equal(r->d.n, 1);
	assert_string_equal(r->d.d[0].msg, "a list has more than 4096 entries");
	result_free(r);
	free(yaml);
}

static void test_plan__too_many_yaml_values_are_refused(void **state)
{
	/* 70 lists of 4000 one-letter items: under 1 MiB, over 2^18 nodes. */
	char *yaml = malloc(FL_PLAN_MAX_FILE_BYTES);
	size_t n = (size_t)sprintf(yaml, "x: [");
	struct result *r;

	(void)state;
	for (int l = 0; l < 70; l++) {
		yaml[n++] = '[';
		for (int i = 0; i < 4000; i++) {
			yaml[n++] = 'a';
			yaml[n++] = ',';
		}
		yaml[n - 1] = ']';
		yaml[n++] = ',';
	}
	n--;
	n += (size_t)sprintf(yaml + n, "]\n");
	assert_true(n < FL_PLAN_MAX_FILE_BYTES);
	r = parse(yaml);
	assert_int_equal(r->err, FL_EINVAL);
	assert_int_equal(r->d.n, 1);
	assert_string_equal(r->d.d[0].msg,
			    "the plan has more than 262144 YAML values; a plan "
			    "that large cannot be reviewed");
	result_free(r);
	free(yaml);
}

static void test_plan__file_size_is_bounded(void **state)
{
	size_t max = FL_PLAN_MAX_FILE_BYTES, head = strlen(HEAD ALL);
	char *yaml = malloc(max + 2), path[400];
	struct fl_plan_diags *d = malloc(sizeof(*d));
	struct fl_plan *p = NULL;

	(void)state;
	/* Exactly the limit, padded with a comment: accepted. */
	memcpy(yaml, HEAD ALL, head);
	yaml[head] = '#';
	memset(yaml + head + 1, 'x', max - head - 2);
	yaml[max - 1] = '\n';
	yaml[max] = '\0';
	assert_int_equal(fl_plan_parse(yaml, max, plan_path, &p, d), 0);
	fl_plan_free(p);
	/* One byte more: refused before parsing, from memory and from disk. */
	yaml[max] = '\n';
	assert_int_equal(fl_plan_parse(yaml, max + 1, plan_path, &p, d),
			 FL_ETOOBIG);
	assert_null(p);
	assert_int_equal(d->n, 1);
	assert_int_equal(d->d[0].pos.line, 1);
	assert_string_equal(d->d[0].msg, "the file has 1048577 bytes; a plan "
					 "may have at most 1048576");
	join(path, sizeof(path), fixture, "big.yaml");
	write_file(path, yaml, max + 1);
	assert_int_equal(fl_plan_load(path, &p, d), FL_ETOOBIG);
	assert_string_equal(d->d[0].msg, "the file has 1048577 bytes; a plan "
					 "may have at most 1048576");
	unlink(path);
	free(yaml);
	free(d);
}

static void test_plan__load_reports_unreadable_files(void **state)
{
	struct fl_plan_diags d;
	struct fl_plan *p = (struct fl_plan *)&d; /* must be reset */
	char path[400];

	(void)state;
	join(path, sizeof(path), fixture, "missing.yaml");
	assert_int_equal(fl_plan_load(path, &p, &d), FL_EIO);
	assert_null(p);
	assert_int_equal(d.n_errors, 1);
	assert_string_equal(d.file, path);
	assert_string_equal(d.d[0].msg,
			    "cannot open the plan: No such file or directory");
	join(path, sizeof(path), fixture, "sub");
	assert_int_equal(fl_plan_load(path, &p, &d), FL_EIO);
	assert_string_equal(d.d[0].msg, "the plan is not a regular file");
}

/* ---- diagnostics -------------------------------------------------------- */

static void test_plan__diagnostics_print_file_line_col(void **state)
{
	struct fl_plan_diags d;
	struct fl_plan *p;
	char *out = NULL, want[1200];
	size_t len = 0;
	FILE *f;
	const char *yaml = HEAD "health:\n  max_failure_rate: 0%\n  sok: 1m\n"
				"stages:\n  - {name: a, percent: 50}\n";

	(void)state;
	assert_int_equal(fl_plan_parse(yaml, strlen(yaml), plan_path, &p, &d),
			 FL_EINVAL);
	f = open_memstream(&out, &len);
	fl_plan_diags_print(&d, f);
	fclose(f);
	snprintf(want, sizeof(want),
		 "%s:7:21: warning: `max_failure_rate: 0%%` without "
		 "`min_devices`: the first failure fails the stage\n"
		 "%s:8:3: error: unknown key `sok` in `health`; did you mean "
		 "`soak`?\n"
		 "%s:10:24: warning: the last stage, `a`, reaches 50%% of "
		 "targets: the rest are never offered the update\n",
		 plan_path, plan_path, plan_path);
	assert_string_equal(out, want);
	free(out);
	fl_plan_diags_print(NULL, stderr); /* ignored */
}

static void test_plan__diagnostics_are_in_source_order(void **state)
{
	/* The cross-section error (line 7) is found after the stages. */
	struct result *r = parse(HEAD "device: {activate: window}\n"
				      "stages:\n  - {name: a, percnt: 9}\n");

	(void)state;
	assert_int_equal(r->d.n, 3);
	for (unsigned i = 1; i < r->d.n; i++)
		assert_true(r->d.d[i - 1].pos.line < r->d.d[i].pos.line ||
			    (r->d.d[i - 1].pos.line == r->d.d[i].pos.line &&
			     r->d.d[i - 1].pos.col <= r->d.d[i].pos.col));
	result_free(r);
}

static void test_plan__too_many_diagnostics_are_counted(void **state)
{
	char *yaml = malloc(64 * 1024), *out = NULL;
	size_t n = (size_t)sprintf(yaml, HEAD "targets:\n  exclude: ["), len;
	struct result *r;
	FILE *f;

	(void)state;
	for (int i = 0; i < 150; i++)
		n += (size_t)sprintf(yaml + n, "%s-bad%d", i ? "," : "", i);
	sprintf(yaml + n, "]\n" ALL);
	r = parse(yaml);
	assert_int_equal(r->err, FL_EINVAL);
	assert_int_equal(r->d.n, FL_PLAN_MAX_DIAGS);
	assert_int_equal(r->d.n_errors, 150);
	assert_int_equal(r->d.n_dropped, 50);
	f = open_memstream(&out, &len);
	fl_plan_diags_print(&r->d, f);
	fclose(f);
	assert_non_null(strstr(out, ": note: 50 more diagnostics not shown\n"));
	free(out);
	result_free(r);
	free(yaml);
}

static void test_plan__bad_arguments(void **state)
{
	struct fl_plan_diags d;
	struct fl_plan *p;
	const char *yaml = HEAD ALL;

	(void)state;
	assert_int_equal(fl_plan_parse(yaml, strlen(yaml), "x", &p, NULL),
			 FL_EINVAL);
	assert_int_equal(fl_plan_parse(NULL, 3, "x", &p, &d), FL_EINVAL);
	assert_int_equal(fl_plan_load(NULL, &p, &d), FL_EINVAL);
	/* No out: validation only. */
	assert_int_equal(fl_plan_parse(yaml, strlen(yaml), plan_path, NULL, &d),
			 0);
	fl_plan_free(NULL);
}

/* ---- allocation failure ------------------------------------------------- */

static int has_diag(const struct fl_plan_diags *d, const char *msg)
{
	for (unsigned i = 0; i < d->n; i++)
		if (strcmp(d->d[i].msg, msg) == 0)
			return 1;
	return 0;
}

static void test_plan__every_allocation_failure_is_reported(void **state)
{
	char path[600];
	struct fl_plan_diags *d = malloc(sizeof(*d));
	struct fl_plan *p;
	int err = FL_ENOMEM;
	long n;

	(void)state;
	join(path, sizeof(path), examples_dir, "complete.yaml");
	for (n = 1; err != 0 && n < 10000; n++) {
		malloc_countdown = n;
		err = fl_plan_load(path, &p, d);
		malloc_countdown = -1;
		if (err == 0)
			break;
		assert_int_equal(err, FL_ENOMEM);
		assert_null(p);
		assert_true(d->n_errors >= 1);
		assert_true(
			has_diag(d, "out of memory while reading the plan"));
	}
	assert_int_equal(err, 0);
	assert_true(n > 3); /* the buffer, two arenas, chunks */
	fl_plan_free(p);
	free(d);
}

/* ---- the example plans -------------------------------------------------- */

static int has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long len;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static void test_plan__every_example_validates_cleanly(void **state)
{
	DIR *dp = opendir(examples_dir);
	struct dirent *e;
	int count = 0;

	(void)state;
	assert_non_null(dp);
	while ((e = readdir(dp)) != NULL) {
		char path[600];
		struct fl_plan_diags d;
		struct fl_plan *p;
		int err;

		if (!has_suffix(e->d_name, ".yaml"))
			continue;
		join(path, sizeof(path), examples_dir, e->d_name);
		err = fl_plan_load(path, &p, &d);
		if (err != 0 || d.n != 0) {
			print_message("%s:\n", path);
			fl_plan_diags_print(&d, stdout);
			fail();
		}
		fl_plan_free(p);
		count++;
	}
	closedir(dp);
	assert_true(count >= 13);
}

static void test_plan__examples_use_zones_of_the_system_database(void **state)
{
	(void)state;
	if (access("/usr/share/zoneinfo/UTC", R_OK) != 0)
		skip();
	unsetenv("TZDIR");
	test_plan__every_example_validates_cleanly(state);
	setenv("TZDIR", tz_dir, 1);
}

static void test_plan__every_bad_example_gives_its_expected_lines(void **state)
{
	char bad[600], cwd[1024];
	DIR *dp;
	struct dirent *e;
	int count = 0;

	(void)state;
	join(bad, sizeof(bad), examples_dir, "bad");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(bad), 0); /* names in .expected are bare */
	dp = opendir(".");
	assert_non_null(dp);
	while ((e = readdir(dp)) != NULL) {
		char expected_path[300], *expected, *out = NULL;
		struct fl_plan_diags d;
		struct fl_plan *p;
		size_t len = 0;
		FILE *f;
		int err;

		if (!has_suffix(e->d_name, ".yaml"))
			continue;
		snprintf(expected_path, sizeof(expected_path), "%.*s.expected",
			 (int)(strlen(e->d_name) - 5), e->d_name);
		expected = read_all(expected_path);
		if (expected == NULL)
			fail_msg("%s has no %s", e->d_name, expected_path);
		err = fl_plan_load(e->d_name, &p, &d);
		f = open_memstream(&out, &len);
		fl_plan_diags_print(&d, f);
		fclose(f);
		if (strcmp(out, expected) != 0)
			fail_msg("%s: expected\n%sgot\n%s", e->d_name, expected,
				 out);
		/* A plan with an error is refused; one with warnings is not. */
		assert_int_equal(err,
				 strstr(expected, ": error: ") ? FL_EINVAL : 0);
		assert_true(strlen(expected) > 0);
		fl_plan_free(p);
		free(out);
		free(expected);
		count++;
	}
	closedir(dp);
	assert_int_equal(chdir(cwd), 0);
	assert_true(count >= 40);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan__complete_example_fills_every_field),
		cmocka_unit_test(test_plan__minimal_plan_gets_the_defaults),
		cmocka_unit_test(
			test_plan__rollback_timeout_is_a_duration_0s_allowed),
		cmocka_unit_test(
			test_plan__four_eyes_is_a_boolean_about_approvals),
		cmocka_unit_test(
			test_plan__container_form_is_compress_and_chunk),
		cmocka_unit_test(
			test_plan__unnamed_stages_are_named_by_position),
		cmocka_unit_test(test_plan__stage_kinds_and_values_are_typed),
		cmocka_unit_test(test_plan__windows_zones_and_midnight),
		cmocka_unit_test(test_plan__holds_bound_in_time_or_by_approval),
		cmocka_unit_test(test_plan__yaml_styles_mean_the_same),
		cmocka_unit_test(
			test_plan__artifact_path_is_relative_to_the_plan),
		cmocka_unit_test(test_plan__durations),
		cmocka_unit_test(test_plan__percentages),
		cmocka_unit_test(test_plan__sizes),
		cmocka_unit_test(test_plan__rates),
		cmocka_unit_test(test_plan__times_of_day),
		cmocka_unit_test(test_plan__instants),
		cmocka_unit_test(test_plan__days_and_ranges),
		cmocka_unit_test(test_plan__names_and_ids),
		cmocka_unit_test(test_plan__numbers),
		cmocka_unit_test(test_plan__edit_distance),
		cmocka_unit_test(test_plan__value_errors_are_positioned),
		cmocka_unit_test(test_plan__unknown_key_suggests_nearest),
		cmocka_unit_test(test_plan__renamed_keys_name_the_new_one),
		cmocka_unit_test(test_plan__wrong_types_are_errors),
		cmocka_unit_test(test_plan__required_keys_and_empty_lists),
		cmocka_unit_test(test_plan__duplicates_are_errors),
		cmocka_unit_test(test_plan__stage_rules),
		cmocka_unit_test(test_plan__warnings_do_not_refuse_the_plan),
		cmocka_unit_test(test_plan__cross_section_rules),
		cmocka_unit_test(
			test_plan__time_zones_are_checked_against_tzdir),
		cmocka_unit_test(test_plan__artifact_file_must_exist),
		cmocka_unit_test(test_plan__unreadable_artifact_is_an_error),
		cmocka_unit_test(test_plan__not_yaml_or_not_a_mapping),
		cmocka_unit_test(
			test_plan__alias_bomb_is_refused_at_first_anchor),
		cmocka_unit_test(
			test_plan__nesting_deeper_than_the_limit_is_refused),
		cmocka_unit_test(test_plan__every_list_is_bounded),
		cmocka_unit_test(test_plan__too_many_yaml_values_are_refused),
		cmocka_unit_test(test_plan__file_size_is_bounded),
		cmocka_unit_test(test_plan__load_reports_unreadable_files),
		cmocka_unit_test(test_plan__diagnostics_print_file_line_col),
		cmocka_unit_test(test_plan__diagnostics_are_in_source_order),
		cmocka_unit_test(test_plan__too_many_diagnostics_are_counted),
		cmocka_unit_test(test_plan__bad_arguments),
		cmocka_unit_test(test_plan__supplied_artifact_is_not_opened),
		cmocka_unit_test(
			test_plan__every_allocation_failure_is_reported),
		cmocka_unit_test(test_plan__every_example_validates_cleanly),
		cmocka_unit_test(
			test_plan__examples_use_zones_of_the_system_database),
		cmocka_unit_test(
			test_plan__every_bad_example_gives_its_expected_lines),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s PLANS_EXAMPLES_DIR\n", argv[0]);
		return 2;
	}
	examples_dir = argv[1];
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
