/*
 * test_fleetctl_view.c -- fleetd's answers as fleetctl's text (dashboard-
 * cli/view.c), checked against golden files: canned answers that follow
 * docs/api.md (tests/unit/fleetctl/api/NAME.json) are rendered at a fixed
 * "now" and compared byte for byte with tests/unit/fleetctl/golden/NAME.txt.
 * Every command's text is covered: the rollout list, the status of a
 * running, paused, held, approval-waiting, rolling-back and rolled-back
 * rollout (detailed for a terminal, compact otherwise), the rollback
 * preview and progress line, each action's result, start, devices over
 * two pages, one device, events in batches, labels and a refused plan's
 * diagnostics. An allocation-failure loop runs the renderers that
 * allocate with the Nth allocation failing (malloc, calloc and realloc
 * are wrapped).
 *
 * Usage: test_fleetctl_view DATA_DIR (tests/unit/fleetctl). With
 * FL_UPDATE_GOLDEN=1 in the environment it rewrites the golden files
 * instead of comparing: review the diff before committing it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "fl/err.h"
#include "render.h"
#include "view.h"

#define NOW 1795440000 /* 2026-11-23T13:20:00Z, docs/api.md's "now" */

static const char *data_dir;

/* ---- allocation failure ------------------------------------------------- */

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

/* ---- helpers ------------------------------------------------------------ */

struct out {
	char *buf;
	size_t len;
	FILE *f;
	struct fl_view v;
};

static void out_open(struct out *o, int is_tty)
{
	o->buf = NULL;
	o->len = 0;
	o->f = open_memstream(&o->buf, &o->len);
	assert_non_null(o->f);
	o->v.f = o->f;
	o->v.now_s = NOW;
	o->v.is_tty = is_tty;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = __real_malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static cJSON *load(const char *name)
{
	char path[1024];
	size_t len;
	char *text;
	cJSON *j;

	snprintf(path, sizeof(path), "%s/api/%s.json", data_dir, name);
	text = read_all(path, &len);
	if (text == NULL)
		fail_msg("cannot read %s", path);
	j = cJSON_ParseWithLength(text, len);
	free(text);
	if (j == NULL)
		fail_msg("%s is not JSON", path);
	return j;
}

/* Compares what o printed with golden/NAME.txt (or writes it). */
static void golden(struct out *o, const char *name)
{
	char path[1024];
	size_t len;
	char *want;

	assert_int_equal(fflush(o->f), 0);
	snprintf(path, sizeof(path), "%s/golden/%s.txt", data_dir, name);
	if (getenv("FL_UPDATE_GOLDEN") != NULL) {
		FILE *f = fopen(path, "wb");

		assert_non_null(f);
		assert_int_equal(fwrite(o->buf, 1, o->len, f), o->len);
		assert_int_equal(fclose(f), 0);
	} else {
		want = read_all(path, &len);
		if (want == NULL)
			fail_msg("no golden file %s", path);
		if (len != o->len || memcmp(want, o->buf, len) != 0) {
			print_error("--- want (%s):\n%s--- got:\n%s", path,
				    want, o->buf);
			free(want);
			fail();
		}
		free(want);
	}
	fclose(o->f);
	free(o->buf);
}

/* ---- rollouts ----------------------------------------------------------- */

static void test_view__rollout_list(void **state)
{
	cJSON *j = load("rollouts"), *e = load("rollouts_empty");
	struct out o;

	(void)state;
	out_open(&o, 0);
	assert_int_equal(
		fl_view_rollout_list(&o.v, cJSON_GetObjectItem(j, "rollouts")),
		0);
	golden(&o, "list");
	out_open(&o, 0);
	assert_int_equal(
		fl_view_rollout_list(&o.v, cJSON_GetObjectItem(e, "rollouts")),
		0);
	golden(&o, "list_empty");
	cJSON_Delete(j);
	cJSON_Delete(e);
}

static void status(const char *fixture, int is_tty, const char *gold)
{
	cJSON *j = load(fixture);
	struct out o;

	out_open(&o, is_tty);
	assert_int_equal(fl_view_rollout_status(&o.v, j), 0);
	golden(&o, gold);
	cJSON_Delete(j);
}

static void test_view__status_running(void **state)
{
	(void)state;
	status("rollout_running", 1, "status_running_tty");
	status("rollout_running", 0, "status_running");
}

static void test_view__status_waiting(void **state)
{
	(void)state;
	status("rollout_paused", 0, "status_paused");
	status("rollout_hold", 0, "status_hold");
	status("rollout_approval", 1, "status_approval_tty");
	status("rollout_approval", 0, "status_approval");
	status("rollout_created", 0, "status_created");
}

static void test_view__status_rollback(void **state)
{
	(void)state;
	status("rollout_rolling_back", 1, "status_rolling_back_tty");
	status("rollout_rolling_back", 0, "status_rolling_back");
	status("rollout_rolled_back", 0, "status_rolled_back");
}

static void test_view__status_of_nothing_does_not_crash(void **state)
{
	cJSON *j = cJSON_Parse("{\"stages\": [{}], \"rollback\": {}}");
	struct out o;

	(void)state;
	out_open(&o, 1);
	assert_int_equal(fl_view_rollout_status(&o.v, j), 0);
	assert_int_equal(fl_view_rollout_status(&o.v, NULL), 0);
	o.v.is_tty = 0;
	assert_int_equal(fl_view_rollout_status(&o.v, j), 0);
	assert_int_equal(fl_view_rollout_status(&o.v, NULL), 0);
	fclose(o.f);
	free(o.buf);
	cJSON_Delete(j);
}

/* ---- rollback ----------------------------------------------------------- */

static void test_view__rollback_preview(void **state)
{
	cJSON *r = load("rollout_running"), *p = load("rollback_preview"),
	      *e = load("rollback_preview_empty");
	struct out o;

	(void)state;
	out_open(&o, 0);
	assert_int_equal(fl_view_rollback_preview(&o.v, r, p), 0);
	assert_int_equal(fl_view_rollback_preview(&o.v, NULL, p), 0);
	assert_int_equal(fl_view_rollback_preview(&o.v, r, e), 0);
	golden(&o, "preview");
	cJSON_Delete(r);
	cJSON_Delete(p);
	cJSON_Delete(e);
}

static void test_view__rollback_progress_lines(void **state)
{
	static const char *const fixtures[] = {
		"rollout_running", "rollout_rolling_back",
		"rollout_rolled_back", "action_rollback"};
	char line[512];
	struct out o;

	(void)state;
	out_open(&o, 0);
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		cJSON *j = load(fixtures[i]);
		cJSON *r = cJSON_GetObjectItem(j, "rollout");

		fl_view_rollback_line(r != NULL ? r : j, line, sizeof(line));
		fprintf(o.f, "%s\n", line);
		cJSON_Delete(j);
	}
	golden(&o, "rollback_lines");
}

/* ---- actions and start -------------------------------------------------- */

static void test_view__actions(void **state)
{
	cJSON *paused = load("action_paused"), *rb = load("action_rollback");
	const cJSON *pr = cJSON_GetObjectItem(paused, "rollout");
	const cJSON *rr = cJSON_GetObjectItem(rb, "rollout");
	struct out o;

	(void)state;
	out_open(&o, 0);
	assert_int_equal(
		fl_view_action(&o.v, "pause", "thermo-2.4.0", NULL, 1, pr), 0);
	assert_int_equal(
		fl_view_action(&o.v, "pause", "thermo-2.4.0", NULL, 0, NULL),
		0);
	assert_int_equal(
		fl_view_action(&o.v, "resume", "thermo-2.4.0", NULL, 1, NULL),
		0);
	assert_int_equal(
		fl_view_action(&o.v, "resume", "thermo-2.4.0", NULL, 0, NULL),
		0);
	assert_int_equal(fl_view_action(&o.v, "approve", "thermo-2.4.0",
					"wave-2", 1, NULL),
			 0);
	assert_int_equal(fl_view_action(&o.v, "approve", "thermo-2.4.0",
					"eu-regulatory", 0, NULL),
			 0);
	assert_int_equal(
		fl_view_action(&o.v, "cancel", "thermo-2.4.0", NULL, 1, NULL),
		0);
	assert_int_equal(
		fl_view_action(&o.v, "cancel", "thermo-2.4.0", NULL, 0, NULL),
		0);
	assert_int_equal(
		fl_view_action(&o.v, "rollback", "thermo-2.4.0", NULL, 1, rr),
		0);
	assert_int_equal(
		fl_view_action(&o.v, "rollback", "thermo-2.4.0", NULL, 0, NULL),
		0);
	assert_int_equal(
		fl_view_action(&o.v, "frob", "x\033]0;", NULL, 1, NULL), 0);
	golden(&o, "actions");
	cJSON_Delete(paused);
	cJSON_Delete(rb);
}

static void test_view__started(void **state)
{
	cJSON *j = load("rollout_created");
	struct out o;

	(void)state;
	out_open(&o, 0);
	assert_int_equal(fl_view_started(&o.v, j), 0);
	golden(&o, "started");
	cJSON_Delete(j);
}

/* ---- devices, device, labels -------------------------------------------- */

static int render_devices(struct out *o, const char *const *pages,
			  unsigned npages)
{
	struct fl_view_count c = {0, 0};
	struct fl_table *t = NULL;
	int rc = fl_view_devices_table(&t);

	for (unsigned i = 0; rc == 0 && i < npages; i++) {
		cJSON *j = load(pages[i]);

		rc = fl_view_devices_add(&o->v, t,
					 cJSON_GetObjectItem(j, "devices"), &c);
		if (rc == 0)
			rc = fl_table_flush(t, o->f);
		cJSON_Delete(j);
	}
	if (rc == 0)
		rc = fl_view_devices_end(&o->v, &c);
	fl_table_free(t);
	return rc;
}

static void test_view__devices_over_two_pages(void **state)
{
	static const char *const pages[] = {"devices_page1", "devices_page2"};
	struct out o;

	(void)state;
	out_open(&o, 0);
	assert_int_equal(render_devices(&o, pages, 2), 0);
	golden(&o, "devices");
	out_open(&o, 0);
	assert_int_equal(render_devices(&o, pages, 0), 0);
	golden(&o, "devices_empty");
}

static void test_view__device(void **state)
{
	cJSON *d = load("device"), *n = load("device_new");
	struct out o;

	(void)state;
	out_open(&o, 0);
	assert_int_equal(fl_view_device(&o.v, d), 0);
	golden(&o, "device");
	out_open(&o, 0);
	assert_int_equal(fl_view_device(&o.v, n), 0);
	golden(&o, "device_new");
	cJSON_Delete(d);
	cJSON_Delete(n);
}

static void test_view__labels(void **state)
{
	cJSON *d = load("labels_device"), *n = load("device_new");
	struct out o;

	(void)state;
	out_open(&o, 0);
	assert_int_equal(fl_view_labels(&o.v, d), 0);
	assert_int_equal(fl_view_labels(&o.v, n), 0);
	golden(&o, "labels");
	cJSON_Delete(d);
	cJSON_Delete(n);
}

/* ---- events, diagnostics ------------------------------------------------ */

static int render_events(struct out *o)
{
	cJSON *j = load("events"), *e = load("events_empty");
	struct fl_table *t = NULL;
	int rc = fl_view_events_table(&t);

	/* a page, an empty long poll, the page again: one header */
	if (rc == 0)
		rc = fl_view_events_add(t, cJSON_GetObjectItem(j, "events"));
	if (rc == 0)
		rc = fl_table_flush(t, o->f);
	if (rc == 0)
		rc = fl_view_events_add(t, cJSON_GetObjectItem(e, "events"));
	if (rc == 0)
		rc = fl_table_flush(t, o->f);
	if (rc == 0)
		rc = fl_view_events_add(t, cJSON_GetObjectItem(j, "events"));
	if (rc == 0)
		rc = fl_table_flush(t, o->f);
	fl_table_free(t);
	cJSON_Delete(j);
	cJSON_Delete(e);
	return rc;
}

static void test_view__events_in_batches(void **state)
{
	struct out o;

	(void)state;
	out_open(&o, 0);
	assert_int_equal(render_events(&o), 0);
	golden(&o, "events");
}

static void test_view__plan_diagnostics(void **state)
{
	cJSON *j = load("error_422");
	struct out o;

	(void)state;
	out_open(&o, 0);
	assert_int_equal(fl_view_plan_diags(o.f, "plans/thermo.yaml",
					    cJSON_GetObjectItem(j, "error")),
			 2);
	assert_int_equal(fl_view_plan_diags(o.f, "x", NULL), 0);
	golden(&o, "diags");
	cJSON_Delete(j);
}

/* ---- allocation failure ------------------------------------------------- */

static int render_all(struct out *o, cJSON *list, cJSON *running, cJSON *device)
{
	static const char *const pages[] = {"devices_page1", "devices_page2"};
	int rc;

	rc = fl_view_rollout_list(&o->v, list);
	if (rc == 0)
		rc = fl_view_rollout_status(&o->v, running);
	if (rc == 0)
		rc = fl_view_device(&o->v, device);
	if (rc == 0)
		rc = render_devices(o, pages, 2);
	if (rc == 0)
		rc = render_events(o);
	return rc;
}

static void test_view__allocation_failures(void **state)
{
	cJSON *j = load("rollouts"), *r = load("rollout_running"),
	      *d = load("device");
	cJSON *list = cJSON_GetObjectItem(j, "rollouts");
	struct out o;
	long n;

	(void)state;
	for (n = 0; n < 10000; n++) {
		int rc, is_failed;

		out_open(&o, 0);
		alloc_countdown = n;
		rc = render_all(&o, list, r, d);
		is_failed = alloc_countdown == -1; /* the Nth one failed */
		alloc_countdown = -1;
		fclose(o.f);
		free(o.buf);
		if (!is_failed) {
			assert_int_equal(rc, 0);
			break;
		}
		assert_int_equal(rc, FL_ENOMEM);
	}
	assert_true(n > 5 && n < 10000);
	cJSON_Delete(j);
	cJSON_Delete(r);
	cJSON_Delete(d);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_view__rollout_list),
		cmocka_unit_test(test_view__status_running),
		cmocka_unit_test(test_view__status_waiting),
		cmocka_unit_test(test_view__status_rollback),
		cmocka_unit_test(test_view__status_of_nothing_does_not_crash),
		cmocka_unit_test(test_view__rollback_preview),
		cmocka_unit_test(test_view__rollback_progress_lines),
		cmocka_unit_test(test_view__actions),
		cmocka_unit_test(test_view__started),
		cmocka_unit_test(test_view__devices_over_two_pages),
		cmocka_unit_test(test_view__device),
		cmocka_unit_test(test_view__labels),
		cmocka_unit_test(test_view__events_in_batches),
		cmocka_unit_test(test_view__plan_diagnostics),
		cmocka_unit_test(test_view__allocation_failures),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test_fleetctl_view DATA_DIR\n");
		return 2;
	}
	data_dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
