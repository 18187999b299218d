/*
 * test_inventory.c -- fleetctl's inventory reader (dashboard-cli/
 * inventory.c): explicit devices and generated groups, component versions,
 * every positioned error, the bounds, the sample inventory, the default
 * fleet derived from a plan, and an allocation-failure loop (malloc,
 * calloc and realloc of the reader are wrapped to fail the Nth call).
 *
 * Usage: test_inventory PLANS_EXAMPLES_DIR
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
#include "fl/tzfile.h"
#include "inventory.h"

static const char *examples_dir;

/* ---- allocation failure ----------------------------------------------------
 */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static long alloc_countdown = -1; /* -1: never fail */

static int alloc_fails(void)
{
	if (alloc_countdown < 0)
		return 0;
	return alloc_countdown-- == 0;
}

void *__wrap_malloc(size_t size)
{
	return alloc_fails() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return alloc_fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	return alloc_fails() ? NULL : __real_realloc(p, size);
}

/* ---- helpers ------------------------------------------------------------- */

struct fixture {
	struct fl_tzdb *db;
	struct fl_tz_ops tz;
	struct fl_plan_diags d;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(fl_tzdb_open(&f->db, NULL, 0), 0);
	fl_tzdb_ops(f->db, &f->tz);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fl_tzdb_free(f->db);
	free(f);
	return 0;
}

static int parse(struct fixture *f, const char *text, struct fl_inventory **inv)
{
	return fl_inventory_parse(text, strlen(text), "inv.yaml", "firmware",
				  &f->tz, inv, &f->d);
}

/* Parses text, expects an error, and checks the first diagnostic. */
static void expect_error(struct fixture *f, const char *text, unsigned line,
			 unsigned col, const char *needle)
{
	struct fl_inventory *inv = NULL;
	int err = parse(f, text, &inv);

	assert_int_not_equal(err, 0);
	assert_null(inv);
	assert_true(f->d.n_errors > 0);
	assert_true(f->d.n > 0);
	if (strstr(f->d.d[0].msg, needle) == NULL ||
	    f->d.d[0].pos.line != line || f->d.d[0].pos.col != col) {
		print_message("got %u:%u: %s\n", (unsigned)f->d.d[0].pos.line,
			      (unsigned)f->d.d[0].pos.col, f->d.d[0].msg);
		print_message("want %u:%u: ...%s...\n", line, col, needle);
		fail();
	}
}

/* Parses text, expects an error, and some diagnostic to contain needle. */
static void expect_some_error(struct fixture *f, const char *text,
			      const char *needle)
{
	struct fl_inventory *inv = NULL;

	assert_int_not_equal(parse(f, text, &inv), 0);
	assert_null(inv);
	for (unsigned i = 0; i < f->d.n; i++)
		if (strstr(f->d.d[i].msg, needle) != NULL)
			return;
	print_message("no diagnostic says ...%s...\n", needle);
	fail();
}

static const char *label(const struct fl_inv_device *d, const char *k)
{
	return fl_inv_label(d, k);
}

/* ---- reading ----------------------------------------------------------------
 */

static void test_inventory__devices_and_groups(void **state)
{
	struct fixture *f = *state;
	struct fl_inventory *inv = NULL;
	const char *text =
		"devices:\n"
		"  - id: dev-0007\n"
		"    model: thermo-v3\n"
		"    version: 2.3.1\n"
		"    tz: Europe/Berlin\n"
		"    labels: {region: eu, ring: canary}\n"
		"  - {id: lone, model: m2, online: false}\n"
		"groups:\n"
		"  - prefix: th2\n"
		"    count: 3\n"
		"    model: thermo-v2\n"
		"    version: 2.2.0\n"
		"    tz: America/New_York\n"
		"    labels: {region: us}\n"
		"  - {prefix: big, count: 12, start: 9995, model: m3}\n";

	assert_int_equal(parse(f, text, &inv), 0);
	assert_int_equal(f->d.n, 0);
	assert_int_equal(inv->n, 2 + 3 + 12);
	assert_string_equal(inv->dev[0].id, "dev-0007");
	assert_string_equal(inv->dev[0].model, "thermo-v3");
	assert_string_equal(inv->dev[0].version, "2.3.1");
	assert_string_equal(inv->dev[0].tz, "Europe/Berlin");
	assert_int_equal(inv->dev[0].nlabels, 2);
	assert_string_equal(label(&inv->dev[0], "region"), "eu");
	assert_string_equal(label(&inv->dev[0], "ring"), "canary");
	assert_null(label(&inv->dev[0], "nope"));
	assert_int_equal(inv->dev[0].is_online, 1);
	assert_int_equal(inv->pos[0].line, 2);
	assert_int_equal(inv->pos[0].col, 5);

	assert_string_equal(inv->dev[1].id, "lone");
	assert_null(inv->dev[1].version);
	assert_null(inv->dev[1].tz);
	assert_int_equal(inv->dev[1].nlabels, 0);
	assert_int_equal(inv->dev[1].is_online, 0);

	assert_string_equal(inv->dev[2].id, "th2-0001");
	assert_string_equal(inv->dev[4].id, "th2-0003");
	/* a group's devices share their strings and label array */
	assert_ptr_equal(inv->dev[2].labels, inv->dev[4].labels);
	assert_ptr_equal(inv->dev[2].model, inv->dev[4].model);
	assert_string_equal(label(&inv->dev[3], "region"), "us");
	assert_string_equal(inv->dev[3].tz, "America/New_York");
	assert_int_equal(inv->pos[3].line, 9);

	/* numbering from `start`, wider once the numbers need it */
	assert_string_equal(inv->dev[5].id, "big-09995");
	assert_string_equal(inv->dev[16].id, "big-10006");
	fl_inventory_free(inv);
}

static void test_inventory__component_version_wins(void **state)
{
	struct fixture *f = *state;
	struct fl_inventory *inv = NULL;
	const char *text = "devices:\n"
			   "  - {id: a, model: m, version: 1.0.0,\n"
			   "     versions: {app: 3.0.4, firmware: 1.2.0}}\n"
			   "  - {id: b, model: m, version: 1.0.0, versions: "
			   "{app: 3.0.4}}\n";

	assert_int_equal(parse(f, text, &inv), 0);
	assert_string_equal(inv->dev[0].version, "1.2.0");
	assert_string_equal(inv->dev[1].version, "1.0.0");
	fl_inventory_free(inv);
	assert_int_equal(fl_inventory_parse(text, strlen(text), "i.yaml", "app",
					    &f->tz, &inv, &f->d),
			 0);
	assert_string_equal(inv->dev[0].version, "3.0.4");
	assert_string_equal(inv->dev[1].version, "3.0.4");
	fl_inventory_free(inv);
}

static void test_inventory__null_values(void **state)
{
	struct fixture *f = *state;
	struct fl_inventory *inv = NULL;
	const char *text = "devices:\n"
			   "  - {id: a, model: m, version: ~, tz: , labels: }\n"
			   "groups:\n";

	assert_int_equal(parse(f, text, &inv), 0);
	assert_int_equal(inv->n, 1);
	assert_null(inv->dev[0].version);
	assert_null(inv->dev[0].tz);
	fl_inventory_free(inv);
}

/* ---- errors ------------------------------------------------------------- */

static void test_inventory__errors_are_positioned(void **state)
{
	struct fixture *f = *state;

	expect_error(f, "devices:\n  - {id: a, modle: m}\n", 2, 13,
		     "unknown key `modle` in `devices`; did you mean `model`?");
	expect_error(f, "devise: []\n", 1, 1,
		     "unknown key `devise` in `inventory`; did you mean "
		     "`devices`?");
	expect_error(f, "devices:\n  - {model: m}\n", 2, 5,
		     "a device needs an `id`");
	expect_error(f, "devices:\n  - {id: a}\n", 2, 5,
		     "a device needs a `model`");
	expect_error(f, "groups:\n  - {prefix: p, model: m}\n", 2, 5,
		     "a group needs a `count`");
	expect_error(f, "groups:\n  - {count: 2, model: m}\n", 2, 5,
		     "a group needs a `prefix`");
	expect_error(f, "groups:\n  - {id: x, prefix: p, count: 1, model: m}\n",
		     2, 6, "a group has no `id`");
	expect_error(f, "devices:\n  - {id: a, count: 2, model: m}\n", 2, 13,
		     "`count` belongs in `groups`");
	expect_error(f, "devices:\n  - {id: a, model: m, version: 2.x}\n", 2,
		     32, "`version`: `2.x` is not a semantic version");
	expect_error(f, "devices:\n  - {id: a, model: m, tz: Mars/Olympus}\n",
		     2, 27, "unknown time zone `Mars/Olympus`");
	expect_error(f, "devices:\n  - {id: a, model: m, tz: ../etc/passwd}\n",
		     2, 27, "unknown time zone");
	expect_error(f, "groups:\n  - {prefix: p, count: 0, model: m}\n", 2, 24,
		     "`count` must be from 1 to 1000000, not 0");
	expect_error(f, "groups:\n  - {prefix: p, count: many, model: m}\n", 2,
		     24, "`count` must be a whole number");
	expect_error(f, "devices:\n  - {id: a, model: m, online: maybe}\n", 2,
		     31, "`online` must be true or false");
	expect_error(f, "devices:\n  - {id: a, model: m, labels: [x]}\n", 2, 31,
		     "`labels` must be a mapping");
	expect_error(f, "devices:\n  - {id: a, model: [m]}\n", 2, 20,
		     "`model` must be a string");
	expect_error(f,
		     "devices:\n  - {id: a, model: m, labels: {k: 1, k: 2}}\n",
		     2, 38, "duplicate label `k`");
	expect_error(f, "devices:\n  - {id: a, model: m, model: n}\n", 2, 23,
		     "duplicate key `model`");
	expect_error(f, "devices: {id: a}\n", 1, 10,
		     "`devices` must be a list");
	expect_error(f, "devices:\n  - just-an-id\n", 2, 5,
		     "each entry of `devices` must be a mapping");
	expect_error(f,
		     "devices:\n  - {id: a, model: m}\n  - {id: a, model: n}\n",
		     3, 5, "duplicate device id `a` (first at 2:5)");
	expect_error(f,
		     "devices:\n  - {id: p-0002, model: m}\n"
		     "groups:\n  - {prefix: p, count: 3, model: m}\n",
		     4, 14, "duplicate device id `p-0002` (first at 2:5)");
	expect_error(f,
		     "devices:\n  - {id: a, model: m, labels: {a: 1, b: 2, "
		     "c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10, k: 11, "
		     "l: 12, m: 13, n: 14, o: 15, p: 16, q: 17}}\n",
		     2, 135, "more than 16 labels on one device");
}

static void test_inventory__yaml_level_errors(void **state)
{
	struct fixture *f = *state;

	expect_error(f, "# nothing\n", 1, 1, "the inventory is empty");
	expect_error(f, "", 1, 1, "the inventory is empty");
	expect_error(f, "- a\n- b\n", 1, 1, "an inventory is a mapping");
	expect_error(f, "devices: [\n", 2, 1, "YAML syntax error");
	expect_error(f, "devices: &x []\ngroups: *x\n", 1, 10,
		     "anchors and aliases are not allowed");
	expect_error(f, "devices: !!seq []\n", 1, 10, "tags are not allowed");
	expect_error(f, "devices: []\n---\ngroups: []\n", 2, 1,
		     "one YAML document");
	expect_error(f, "devices: []\n", 1, 1, "the inventory has no devices");
	expect_some_error(f,
			  "devices:\n  - {id: a, model: m, "
			  "x: [[[[[[[[[1]]]]]]]]]}\n",
			  "nested deeper than 8 levels");
}

static void test_inventory__every_error_is_reported(void **state)
{
	struct fixture *f = *state;
	struct fl_inventory *inv = NULL;
	const char *text = "devices:\n"
			   "  - {id: a, model: m, version: bad}\n"
			   "  - {id: b, model: m, tz: Nowhere/Land}\n"
			   "  - {id: c}\n";

	assert_int_equal(parse(f, text, &inv), FL_EINVAL);
	assert_int_equal(f->d.n_errors, 3);
	assert_int_equal(f->d.d[0].pos.line, 2);
	assert_int_equal(f->d.d[1].pos.line, 3);
	assert_int_equal(f->d.d[2].pos.line, 4);
}

static void test_inventory__bounds(void **state)
{
	struct fixture *f = *state;
	struct fl_inventory *inv = NULL;
	const char *text = "groups:\n"
			   "  - {prefix: a, count: 600000, model: m}\n"
			   "  - {prefix: b, count: 400001, model: m}\n";
	char small[8] = "x";

	assert_int_equal(parse(f, text, &inv), FL_ETOOBIG);
	assert_null(inv);
	assert_int_equal(f->d.d[0].pos.line, 3);
	assert_non_null(strstr(f->d.d[0].msg, "more than 1000000 devices"));
	/* The size is checked before a byte is read. */
	assert_int_equal(
		fl_inventory_parse(small, (size_t)FL_INV_MAX_FILE_BYTES + 1,
				   "huge.yaml", NULL, &f->tz, &inv, &f->d),
		FL_ETOOBIG);
	assert_non_null(strstr(f->d.d[0].msg, "larger than 64 MiB"));
}

static void test_inventory__a_million_devices(void **state)
{
	struct fixture *f = *state;
	struct fl_inventory *inv = NULL;
	const char *text = "groups:\n"
			   "  - {prefix: a, count: 999999, model: m, "
			   "labels: {region: eu}}\n"
			   "devices:\n"
			   "  - {id: last, model: m}\n";

	assert_int_equal(parse(f, text, &inv), 0);
	assert_int_equal(inv->n, FL_INV_MAX_DEVICES);
	assert_string_equal(inv->dev[998998].id, "a-998999");
	assert_string_equal(inv->dev[999999].id, "last");
	fl_inventory_free(inv);
}

static void test_inventory__unreadable_file(void **state)
{
	struct fixture *f = *state;
	struct fl_inventory *inv = NULL;

	assert_int_equal(fl_inventory_load("/nonexistent/inv.yaml", NULL,
					   &f->tz, &inv, &f->d),
			 FL_EIO);
	assert_null(inv);
	assert_int_equal(f->d.n_errors, 1);
	assert_non_null(strstr(f->d.d[0].msg, "cannot read the inventory"));
	assert_int_equal(fl_inventory_load("/", NULL, &f->tz, &inv, &f->d),
			 FL_EIO);
}

/* ---- the sample and the default fleet -------------------------------------
 */

static void test_inventory__sample_file(void **state)
{
	struct fixture *f = *state;
	struct fl_inventory *inv = NULL;
	char path[600];
	size_t bells = 0, th = 0;

	snprintf(path, sizeof(path), "%s/fleet/inventory.yaml", examples_dir);
	assert_int_equal(
		fl_inventory_load(path, "firmware", &f->tz, &inv, &f->d), 0);
	assert_int_equal(f->d.n, 0);
	assert_int_equal(inv->n, 1468);
	for (size_t i = 0; i < inv->n; i++) {
		if (strcmp(inv->dev[i].model, "bell-a1") == 0) {
			bells++;
			assert_string_equal(inv->dev[i].version, "1.2.0");
		}
		if (strncmp(inv->dev[i].model, "thermo-", 7) == 0)
			th++;
	}
	assert_int_equal(bells, 200);
	assert_int_equal(th, 3 + 998 + 35);
	fl_inventory_free(inv);
}

static struct fl_plan *load_example(const char *name)
{
	struct fl_plan_diags d;
	struct fl_plan *p = NULL;
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", examples_dir, name);
	assert_int_equal(fl_plan_load(path, &p, &d), 0);
	return p;
}

/* The targets of plan among inv, by the engine's own rules. */
static unsigned count_targets(const struct fl_plan *p,
			      const struct fl_inventory *inv)
{
	struct fl_engine *e = NULL;
	struct fl_engine_status st;

	assert_int_equal(fl_engine_create(&e, p, NULL, inv->dev, inv->n), 0);
	fl_engine_status(e, &st);
	fl_engine_free(e);
	return st.n_targets;
}

static void test_inventory__default_fleet_targets_everyone(void **state)
{
	struct fl_plan *p = load_example("complete.yaml");
	struct fl_inventory *inv = NULL;
	size_t eu = 0, canary = 0;

	(void)state;
	assert_int_equal(fl_inventory_from_plan(p, 100, &inv), 0);
	/* 100 per model, plus dev-0007 and dev-0019 of the canary; dev-0042
	   is excluded by the plan and so not made up */
	assert_int_equal(inv->n, 202);
	assert_int_equal(count_targets(p, inv), 202);
	for (size_t i = 0; i < inv->n; i++) {
		const char *r = fl_inv_label(&inv->dev[i], "region");

		assert_non_null(r);
		eu += strcmp(r, "eu") == 0;
		assert_string_equal(inv->dev[i].tz,
				    strcmp(r, "eu") == 0 ? "Europe/Berlin"
							 : "America/New_York");
		assert_string_equal(inv->dev[i].version, "2.3.0");
		canary += strcmp(inv->dev[i].id, "dev-0007") == 0 ||
			  strcmp(inv->dev[i].id, "dev-0019") == 0;
	}
	assert_int_equal(eu, 101);
	assert_int_equal(canary, 2);
	fl_inventory_free(inv);
	fl_plan_free(p);
}

static void test_inventory__default_fleet_has_match_stage_labels(void **state)
{
	struct fl_plan *p = load_example("canary-label.yaml");
	struct fl_inventory *inv = NULL;
	size_t canary = 0, dogfood = 0;

	(void)state;
	assert_int_equal(fl_inventory_from_plan(p, 100, &inv), 0);
	assert_int_equal(inv->n, 100);
	for (size_t i = 0; i < inv->n; i++) {
		const char *r = fl_inv_label(&inv->dev[i], "ring");

		canary += r != NULL && strcmp(r, "canary") == 0;
		dogfood += r != NULL && strcmp(r, "dogfood") == 0;
	}
	assert_int_equal(canary, 5);
	assert_int_equal(dogfood, 5);
	assert_int_equal(count_targets(p, inv), 100);
	fl_inventory_free(inv);
	assert_int_equal(fl_inventory_from_plan(p, 0, &inv), FL_EINVAL);
	assert_null(inv);
	fl_plan_free(p);
}

static void test_inventory__alloc_failure_loop(void **state)
{
	struct fixture *f = *state;
	struct fl_inventory *inv = NULL;
	struct fl_plan *p = load_example("complete.yaml");
	const char *text =
		"devices:\n"
		"  - {id: a, model: m, tz: Europe/Berlin, labels: {r: eu}}\n"
		"groups:\n"
		"  - {prefix: g, count: 300, model: m, labels: {r: us}}\n";
	int ok = 0;

	for (long n = 0; n < 10000 && !ok; n++) {
		int err;

		/* no tz port: its own allocations are not under test */
		alloc_countdown = n;
		err = fl_inventory_parse(text, strlen(text), "inv.yaml",
					 "firmware", NULL, &inv, &f->d);
		alloc_countdown = -1;
		if (err == 0) {
			assert_int_equal(inv->n, 301);
			fl_inventory_free(inv);
			ok = 1;
		} else {
			assert_int_equal(err, FL_ENOMEM);
			assert_null(inv);
		}
	}
	assert_true(ok);
	ok = 0;
	for (long n = 0; n < 10000 && !ok; n++) {
		int err;

		alloc_countdown = n;
		err = fl_inventory_from_plan(p, 50, &inv);
		alloc_countdown = -1;
		if (err == 0) {
			fl_inventory_free(inv);
			ok = 1;
		} else {
			assert_int_equal(err, FL_ENOMEM);
			assert_null(inv);
		}
	}
	assert_true(ok);
	fl_plan_free(p);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inventory__devices_and_groups),
		cmocka_unit_test(test_inventory__component_version_wins),
		cmocka_unit_test(test_inventory__null_values),
		cmocka_unit_test(test_inventory__errors_are_positioned),
		cmocka_unit_test(test_inventory__yaml_level_errors),
		cmocka_unit_test(test_inventory__every_error_is_reported),
		cmocka_unit_test(test_inventory__bounds),
		cmocka_unit_test(test_inventory__a_million_devices),
		cmocka_unit_test(test_inventory__unreadable_file),
		cmocka_unit_test(test_inventory__sample_file),
		cmocka_unit_test(
			test_inventory__default_fleet_targets_everyone),
		cmocka_unit_test(
			test_inventory__default_fleet_has_match_stage_labels),
		cmocka_unit_test(test_inventory__alloc_failure_loop),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s PLANS_EXAMPLES_DIR\n", argv[0]);
		return 2;
	}
	examples_dir = argv[1];
	return cmocka_run_group_tests(tests, setup, teardown);
}
