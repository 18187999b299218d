/*
 * test_fleetctl_dash.c -- the model of `fleetctl watch` (dashboard-cli/
 * dash.c): canned answers that follow docs/api.md (tests/unit/fleetctl/
 * dash/NAME.json), events, keys and a terminal size in, screens out,
 * compared as text with golden files (tests/unit/fleetctl/golden/
 * dash_NAME.txt) at a fixed "now". The screens: a running rollout at 80x24
 * and 132x40 (events and devices side by side), one from a fleetd without
 * stage splits, the approval chooser, a hold with its reason, a rollback
 * with its telemetry and the y/N prompt with the preview, the help, the
 * device table filtered by state and by model, the filter being typed,
 * the overview of every active rollout at both sizes, and a terminal too
 * small. Also: what each key asks for (pause, resume, approve a stage or
 * a hold, roll back only after y, quit, open and leave a rollout),
 * filter parsing, the event ring's bound, the cells' attributes, line
 * mode's lines, and every size from 1x1 past the maximum drawn without a
 * write out of bounds (ASan).
 *
 * Usage: test_fleetctl_dash DATA_DIR (tests/unit/fleetctl). With
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

#include "dash.h"
#include "fl/err.h"

#define NOW 1795440000 /* 2026-11-23T13:20:00Z, docs/api.md's "now" */
#define TEXT_MAX                                                               \
	(FL_DASH_MAX_ROWS * (FL_DASH_MAX_COLS + 1) + 1) /* a screen as text */

static const char *data_dir;

/* ---- helpers ------------------------------------------------------------ */

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
	buf = malloc((size_t)n + 1);
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

	snprintf(path, sizeof(path), "%s/dash/%s.json", data_dir, name);
	text = read_all(path, &len);
	if (text == NULL)
		fail_msg("cannot read %s", path);
	j = cJSON_ParseWithLength(text, len);
	free(text);
	if (j == NULL)
		fail_msg("%s is not JSON", path);
	return j;
}

/* Compares text with golden/dash_NAME.txt (or writes it). */
static void golden_text(const char *name, const char *text)
{
	char path[1024];
	size_t len;
	char *want;

	snprintf(path, sizeof(path), "%s/golden/dash_%s.txt", data_dir, name);
	if (getenv("FL_UPDATE_GOLDEN") != NULL) {
		FILE *f = fopen(path, "wb");

		assert_non_null(f);
		assert_int_equal(fwrite(text, 1, strlen(text), f),
				 strlen(text));
		assert_int_equal(fclose(f), 0);
		return;
	}
	want = read_all(path, &len);
	if (want == NULL)
		fail_msg("cannot read %s (FL_UPDATE_GOLDEN=1 writes it)", path);
	if (strcmp(want, text) != 0) {
		fprintf(stderr, "---- want (%s)\n%s---- got\n%s----\n", path,
			want, text);
		free(want);
		fail_msg("%s differs", path);
	}
	free(want);
}

struct fx {
	struct fl_dash d;
	struct fl_dash_screen s;
	char text[TEXT_MAX];
	cJSON *rollout, *events, *members, *devices, *active, *preview;
};

static struct fx *fx_new(const char *rollout, const char *name)
{
	struct fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	fl_dash_init(&x->d, name);
	x->d.now_s = NOW;
	x->d.fetched_s = NOW;
	x->events = load("events");
	x->members = load("members");
	x->devices = load("devices");
	x->active = load("active");
	x->preview = load("preview");
	if (rollout != NULL) {
		x->rollout = load(rollout);
		x->d.rollout = x->rollout;
	}
	fl_dash_events_add(
		&x->d, cJSON_GetObjectItemCaseSensitive(x->events, "events"));
	return x;
}

static void fx_free(struct fx *x)
{
	cJSON_Delete(x->rollout);
	cJSON_Delete(x->events);
	cJSON_Delete(x->members);
	cJSON_Delete(x->devices);
	cJSON_Delete(x->active);
	cJSON_Delete(x->preview);
	free(x);
}

static const char *draw(struct fx *x, int rows, int cols)
{
	fl_dash_draw(&x->d, rows, cols, &x->s);
	fl_dash_text(&x->s, x->text, sizeof(x->text));
	return x->text;
}

static void members(struct fx *x)
{
	fl_dash_devices_set(
		&x->d, cJSON_GetObjectItemCaseSensitive(x->members, "devices"),
		1);
}

static struct fl_dash_req key(struct fx *x, int k)
{
	struct fl_dash_req q;

	(void)fl_dash_key(&x->d, k, &q);
	return q;
}

static void keys(struct fx *x, const char *s)
{
	for (; *s != '\0'; s++)
		(void)key(x, *s == '\n' ? FL_DASH_KEY_ENTER : *s);
}

/* The row whose text starts with prefix after its first column. */
static int row_of(const struct fx *x, const char *prefix)
{
	for (int r = 0; r < x->s.rows; r++) {
		char line[FL_DASH_MAX_COLS + 1];

		for (int c = 0; c < x->s.cols; c++)
			line[c] = x->s.cells[r * x->s.cols + c].ch;
		line[x->s.cols] = '\0';
		if (strncmp(line + 1, prefix, strlen(prefix)) == 0)
			return r;
	}
	return -1;
}

/* ---- screens ------------------------------------------------------------ */

static void test_dash__running_80x24(void **state)
{
	struct fx *x = fx_new("running", "thermo-2.4.0");

	(void)state;
	golden_text("running_80x24", draw(x, 24, 80));
	fx_free(x);
}

static void test_dash__running_132x40(void **state)
{
	struct fx *x = fx_new("running", "thermo-2.4.0");

	(void)state;
	members(x);
	golden_text("running_132x40", draw(x, 40, 132));
	fx_free(x);
}

static void test_dash__older_fleetd_without_split(void **state)
{
	struct fx *x = fx_new(NULL, "thermo-2.4.0");
	cJSON *r = NULL;
	char path[1024];
	size_t len;
	char *text;

	(void)state;
	snprintf(path, sizeof(path), "%s/api/rollout_running.json", data_dir);
	text = read_all(path, &len);
	assert_non_null(text);
	r = cJSON_Parse(text);
	free(text);
	x->d.rollout = r;
	golden_text("old_fleetd_80x24", draw(x, 24, 80));
	cJSON_Delete(r);
	fx_free(x);
}

static void test_dash__approval_chooser(void **state)
{
	struct fx *x = fx_new("approval", "thermo-2.4.0");
	struct fl_dash_req q;

	(void)state;
	q = key(x, 'a');
	assert_int_equal(q.kind, FL_DASH_REQ_NONE);
	assert_int_equal(x->d.mode, FL_DASH_M_APPROVE);
	assert_int_equal(x->d.nchoices, 1);
	assert_string_equal(x->d.choices[0], "wave-2");
	golden_text("approval_80x24", draw(x, 24, 80));
	q = key(x, FL_DASH_KEY_ENTER);
	assert_int_equal(q.kind, FL_DASH_REQ_APPROVE);
	assert_string_equal(q.name, "thermo-2.4.0");
	assert_string_equal(q.what, "wave-2");
	assert_int_equal(x->d.mode, FL_DASH_M_NORMAL);
	/* Esc in the chooser approves nothing. */
	(void)key(x, 'a');
	q = key(x, FL_DASH_KEY_ESC);
	assert_int_equal(q.kind, FL_DASH_REQ_NONE);
	assert_string_equal(x->d.message, "nothing approved");
	fx_free(x);
}

static void test_dash__hold_with_reason(void **state)
{
	struct fx *x = fx_new("hold", "thermo-2.4.0");
	struct fl_dash_req q;

	(void)state;
	golden_text("hold_80x24", draw(x, 24, 80));
	q = key(x, 'a');
	assert_int_equal(x->d.nchoices, 1);
	assert_string_equal(x->d.choices[0], "eu-regulatory");
	q = key(x, '2'); /* no second choice */
	assert_int_equal(q.kind, FL_DASH_REQ_NONE);
	assert_int_equal(x->d.mode, FL_DASH_M_APPROVE);
	q = key(x, '1');
	assert_int_equal(q.kind, FL_DASH_REQ_APPROVE);
	assert_string_equal(q.what, "eu-regulatory");
	fx_free(x);
}

static void test_dash__rollback_telemetry_and_prompt(void **state)
{
	struct fx *x = fx_new("rolling_back", "thermo-2.4.0");
	struct fl_dash_req q;

	(void)state;
	golden_text("rolling_back_80x24", draw(x, 24, 80));
	/* R asks for the preview and a y/N; anything but y does nothing */
	q = key(x, 'R');
	assert_int_equal(q.kind, FL_DASH_REQ_PREVIEW);
	assert_string_equal(q.name, "thermo-2.4.0");
	assert_int_equal(x->d.mode, FL_DASH_M_CONFIRM);
	x->d.preview = x->preview;
	golden_text("confirm_80x24", draw(x, 24, 80));
	q = key(x, 'n');
	assert_int_equal(q.kind, FL_DASH_REQ_NONE);
	assert_string_equal(x->d.message,
			    "rollback not confirmed: nothing done");
	q = key(x, 'R');
	q = key(x, FL_DASH_KEY_ENTER);
	assert_int_equal(q.kind, FL_DASH_REQ_NONE);
	q = key(x, 'R');
	q = key(x, 'y');
	assert_int_equal(q.kind, FL_DASH_REQ_ROLLBACK);
	assert_string_equal(q.name, "thermo-2.4.0");
	fx_free(x);
}

static void test_dash__help(void **state)
{
	struct fx *x = fx_new("running", "thermo-2.4.0");
	struct fl_dash_req q;

	(void)state;
	q = key(x, '?');
	assert_int_equal(x->d.mode, FL_DASH_M_HELP);
	golden_text("help_80x24", draw(x, 24, 80));
	q = key(x, 'x'); /* any key closes it */
	assert_int_equal(q.kind, FL_DASH_REQ_NONE);
	assert_int_equal(x->d.mode, FL_DASH_M_NORMAL);
	fx_free(x);
}

static void test_dash__devices_filtered(void **state)
{
	struct fx *x = fx_new("running", "thermo-2.4.0");
	struct fl_dash_req q;

	(void)state;
	/* Tab: stages -> events -> devices */
	(void)key(x, FL_DASH_KEY_TAB);
	assert_int_equal(x->d.pane, FL_DASH_P_EVENTS);
	(void)key(x, FL_DASH_KEY_TAB);
	assert_int_equal(x->d.pane, FL_DASH_P_DEVICES);
	assert_int_equal(x->d.lower, FL_DASH_P_DEVICES);
	members(x);
	golden_text("devices_80x24", draw(x, 24, 80));
	/* typing a filter */
	(void)key(x, '/');
	assert_int_equal(x->d.mode, FL_DASH_M_FILTER);
	keys(x, "state=failez");
	(void)key(x, FL_DASH_KEY_BACKSPACE);
	keys(x, "d");
	golden_text("filter_typing_80x24", draw(x, 24, 80));
	assert_int_equal(x->s.cursor_row, 23);
	assert_int_equal(x->s.cursor_col, 9 + 12);
	q = key(x, FL_DASH_KEY_ENTER);
	assert_int_equal(q.kind, FL_DASH_REQ_FILTER);
	assert_string_equal(x->d.filter.state, "failed");
	assert_int_equal(x->d.dev_n, 0); /* until fleetd answers */
	/* by model: the devices list, this rollout's only */
	(void)key(x, '/');
	keys(x, "\b");
	x->d.edit[0] = '\0';
	keys(x, "model=thermo-v3 region=eu\n");
	assert_string_equal(x->d.filter.model, "thermo-v3");
	assert_int_equal(x->d.filter.nlabels, 1);
	assert_string_equal(x->d.filter.labels[0], "region=eu");
	fl_dash_devices_set(
		&x->d, cJSON_GetObjectItemCaseSensitive(x->devices, "devices"),
		0);
	assert_int_equal(x->d.dev_n, 2);
	golden_text("devices_model_80x24", draw(x, 24, 80));
	/* a bad filter keeps the old one and says why */
	(void)key(x, '/');
	x->d.edit[0] = '\0';
	keys(x, "state=lost\n");
	assert_int_equal(x->d.mode, FL_DASH_M_FILTER);
	assert_true(x->d.is_message_bad);
	assert_string_equal(x->d.filter.model, "thermo-v3");
	q = key(x, FL_DASH_KEY_ESC);
	assert_int_equal(x->d.mode, FL_DASH_M_NORMAL);
	fx_free(x);
}

static void test_dash__overview(void **state)
{
	struct fx *x = fx_new(NULL, NULL);
	struct fl_dash_req q;

	(void)state;
	golden_text("overview_asking_80x24", draw(x, 24, 80));
	x->d.active = x->active;
	golden_text("overview_80x24", draw(x, 24, 80));
	golden_text("overview_132x40", draw(x, 40, 132));
	/* p acts on the chosen rollout */
	q = key(x, 'p');
	assert_int_equal(q.kind, FL_DASH_REQ_PAUSE);
	assert_string_equal(q.name, "thermo-2.4.0");
	(void)key(x, FL_DASH_KEY_DOWN);
	q = key(x, 'r');
	assert_int_equal(q.kind, FL_DASH_REQ_RESUME);
	assert_string_equal(q.name, "sensor-0.9.2");
	/* Enter opens it, Esc comes back */
	q = key(x, FL_DASH_KEY_ENTER);
	assert_int_equal(q.kind, FL_DASH_REQ_OPEN);
	assert_string_equal(q.name, "sensor-0.9.2");
	assert_int_equal(x->d.screen, FL_DASH_ROLLOUT);
	assert_string_equal(x->d.name, "sensor-0.9.2");
	assert_null(x->d.rollout);
	q = key(x, FL_DASH_KEY_ESC);
	assert_int_equal(q.kind, FL_DASH_REQ_OPEN);
	assert_string_equal(q.name, "");
	assert_int_equal(x->d.screen, FL_DASH_OVERVIEW);
	/* no active rollout */
	{
		cJSON *none = cJSON_CreateArray();

		x->d.active = none;
		golden_text("overview_none_80x24", draw(x, 24, 80));
		q = key(x, 'p');
		assert_int_equal(q.kind, FL_DASH_REQ_NONE);
		assert_true(x->d.is_message_bad);
		cJSON_Delete(none);
	}
	fx_free(x);
}

static void test_dash__fixed_name_has_no_overview(void **state)
{
	struct fx *x = fx_new("running", "thermo-2.4.0");
	struct fl_dash_req q;

	(void)state;
	q = key(x, FL_DASH_KEY_ESC);
	assert_int_equal(q.kind, FL_DASH_REQ_NONE);
	assert_int_equal(x->d.screen, FL_DASH_ROLLOUT);
	q = key(x, 'q');
	assert_int_equal(q.kind, FL_DASH_REQ_QUIT);
	q = key(x, 'p');
	assert_int_equal(q.kind, FL_DASH_REQ_PAUSE);
	assert_string_equal(x->d.message, "pausing: sent to fleetd");
	/* a running rollout that waits for a window has nothing to approve */
	q = key(x, 'a');
	assert_int_equal(q.kind, FL_DASH_REQ_NONE);
	assert_int_equal(x->d.mode, FL_DASH_M_NORMAL);
	assert_true(x->d.is_message_bad);
	golden_text("nothing_to_approve_80x24", draw(x, 24, 80));
	fx_free(x);
}

static void test_dash__too_small_and_every_size(void **state)
{
	static const char *const fixtures[] = {"running", "approval", "hold",
					       "rolling_back", NULL};
	struct fx *x;

	(void)state;
	x = fx_new("running", "thermo-2.4.0");
	golden_text("small_40x10", draw(x, 10, 40));
	fx_free(x);
	for (unsigned f = 0; f < sizeof(fixtures) / sizeof(*fixtures); f++) {
		x = fx_new(fixtures[f], fixtures[f] ? "thermo-2.4.0" : NULL);
		if (fixtures[f] == NULL)
			x->d.active = x->active;
		members(x);
		for (int mode = 0; mode < 3; mode++) {
			if (mode == 1)
				(void)key(x, '?');
			if (mode == 2) {
				(void)key(x, 'x');
				(void)key(x, 'R');
				x->d.preview = x->preview;
			}
			for (int rows = 1; rows <= FL_DASH_MAX_ROWS + 10;
			     rows += rows < 30 ? 1 : 37)
				for (int cols = 1;
				     cols <= FL_DASH_MAX_COLS + 10;
				     cols += cols < 130 ? 3 : 71) {
					fl_dash_draw(&x->d, rows, cols, &x->s);
					assert_true(x->s.rows <=
						    FL_DASH_MAX_ROWS);
					assert_true(x->s.cols <=
						    FL_DASH_MAX_COLS);
				}
		}
		fx_free(x);
	}
}

/* ---- attributes ----------------------------------------------------------
 */

static void test_dash__cells_have_attributes(void **state)
{
	struct fx *x = fx_new("running", "thermo-2.4.0");
	int r, n_ok = 0, n_fail = 0, n_flight = 0;

	(void)state;
	draw(x, 24, 80);
	for (int c = 0; c < 80; c++)
		assert_int_equal(x->s.cells[c].attr, FL_DASH_A_TITLE);
	r = row_of(x, "wave-1");
	assert_true(r > 0);
	for (int c = 0; c < 80; c++) {
		const struct fl_dash_cell *k = &x->s.cells[r * 80 + c];

		if (k->ch == '#')
			n_ok += k->attr == FL_DASH_A_OK;
		if (k->ch == 'X')
			n_fail += k->attr == FL_DASH_A_FAIL;
		if (k->ch == '>' || k->ch == '+' || k->ch == '~')
			n_flight += k->attr == FL_DASH_A_FLIGHT;
	}
	assert_true(n_ok > 10);
	assert_int_equal(n_fail, 1);
	assert_true(n_flight >= 3);
	fx_free(x);
}

/* ---- input ---------------------------------------------------------------
 */

static void test_dash__filter_parse(void **state)
{
	struct fl_dash_filter f;
	char why[200];

	(void)state;
	assert_int_equal(fl_dash_filter_parse("", &f, why, sizeof(why)), 0);
	assert_string_equal(f.state, "");
	assert_int_equal(fl_dash_filter_parse("  failed  stage=wave-1 ", &f,
					      why, sizeof(why)),
			 0);
	assert_string_equal(f.state, "failed");
	assert_string_equal(f.stage, "wave-1");
	assert_int_equal(fl_dash_filter_parse("model=thermo-v3 site=lyon "
					      "ring=beta",
					      &f, why, sizeof(why)),
			 0);
	assert_string_equal(f.model, "thermo-v3");
	assert_int_equal(f.nlabels, 2);
	assert_string_equal(f.labels[1], "ring=beta");
	assert_int_equal(fl_dash_filter_parse("lost", &f, why, sizeof(why)),
			 FL_EINVAL);
	assert_non_null(strstr(why, "`lost`"));
	assert_int_equal(
		fl_dash_filter_parse("state=gone", &f, why, sizeof(why)),
		FL_EINVAL);
	assert_non_null(strstr(why, "not a state"));
	assert_int_equal(fl_dash_filter_parse("model=", &f, why, sizeof(why)),
			 FL_EINVAL);
	assert_int_equal(fl_dash_filter_parse("a=1 b=2 c=3 d=4 e=5", &f, why,
					      sizeof(why)),
			 FL_EINVAL);
	assert_non_null(strstr(why, "at most 4 labels"));
	assert_int_equal(fl_dash_filter_parse("k=v\"", &f, why, sizeof(why)),
			 FL_EINVAL);
	assert_int_equal(fl_dash_filter_parse("=v", &f, why, sizeof(why)),
			 FL_EINVAL);
}

static void test_dash__event_ring_is_bounded(void **state)
{
	struct fl_dash *d = calloc(1, sizeof(*d));
	cJSON *page = cJSON_CreateArray();

	(void)state;
	assert_non_null(d);
	fl_dash_init(d, NULL);
	for (int i = 1; i <= 300; i++) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddNumberToObject(e, "seq", i);
		cJSON_AddNumberToObject(e, "at", NOW);
		cJSON_AddStringToObject(e, "kind", "report.online\x1b[2J");
		cJSON_AddItemToArray(page, e);
	}
	assert_int_equal(fl_dash_events_add(d, page), 300);
	assert_int_equal(d->ev_n, FL_DASH_EVENTS);
	assert_int_equal(d->ev[d->ev_first].seq, 300 - FL_DASH_EVENTS + 1);
	assert_int_equal(d->ev_last_seq, 300);
	assert_string_equal(d->ev[d->ev_first].kind, "report.online?[2J");
	/* the same page again adds nothing */
	assert_int_equal(fl_dash_events_add(d, page), 0);
	cJSON_Delete(page);
	free(d);
}

static void test_dash__device_table_is_bounded(void **state)
{
	struct fl_dash *d = calloc(1, sizeof(*d));
	cJSON *list = cJSON_CreateArray();

	(void)state;
	assert_non_null(d);
	fl_dash_init(d, "r");
	for (int i = 0; i < FL_DASH_DEVICES + 5; i++) {
		cJSON *e = cJSON_CreateObject();
		char id[32];

		snprintf(id, sizeof(id), "dev-%d", i);
		cJSON_AddStringToObject(e, "id", id);
		cJSON_AddStringToObject(e, "status", "pending");
		cJSON_AddItemToArray(list, e);
	}
	fl_dash_devices_set(d, list, 1);
	assert_int_equal(d->dev_n, FL_DASH_DEVICES);
	assert_true(d->is_dev_more);
	assert_int_equal(fl_dash_devices_add(d, list, 1), FL_ETOOBIG);
	fl_dash_devices_set(d, cJSON_GetArrayItem(list, -1), 1);
	assert_int_equal(d->dev_n, 0);
	assert_false(d->is_dev_more);
	cJSON_Delete(list);
	free(d);
}

/* ---- line mode -----------------------------------------------------------
 */

static void test_dash__lines(void **state)
{
	static const char *const fixtures[] = {"running", "approval", "hold",
					       "rolling_back"};
	char out[8192] = "", line[1024];
	cJSON *ev = load("events");
	const cJSON *e;

	(void)state;
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(*fixtures); i++) {
		cJSON *r = load(fixtures[i]);

		fl_dash_line(r, line, sizeof(line));
		strncat(out, line, sizeof(out) - strlen(out) - 1);
		strncat(out, "\n", sizeof(out) - strlen(out) - 1);
		assert_int_equal(fl_dash_is_over(r), 0);
		cJSON_Delete(r);
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(ev, "events"))
	{
		struct fl_dash_event x;

		assert_int_equal(fl_dash_event_of(e, &x), 0);
		if (!fl_dash_event_is_notable(&x))
			continue;
		fl_dash_event_line(&x, line, sizeof(line));
		strncat(out, line, sizeof(out) - strlen(out) - 1);
		strncat(out, "\n", sizeof(out) - strlen(out) - 1);
	}
	golden_text("lines", out);
	cJSON_Delete(ev);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dash__running_80x24),
		cmocka_unit_test(test_dash__running_132x40),
		cmocka_unit_test(test_dash__older_fleetd_without_split),
		cmocka_unit_test(test_dash__approval_chooser),
		cmocka_unit_test(test_dash__hold_with_reason),
		cmocka_unit_test(test_dash__rollback_telemetry_and_prompt),
		cmocka_unit_test(test_dash__help),
		cmocka_unit_test(test_dash__devices_filtered),
		cmocka_unit_test(test_dash__overview),
		cmocka_unit_test(test_dash__fixed_name_has_no_overview),
		cmocka_unit_test(test_dash__too_small_and_every_size),
		cmocka_unit_test(test_dash__cells_have_attributes),
		cmocka_unit_test(test_dash__filter_parse),
		cmocka_unit_test(test_dash__event_ring_is_bounded),
		cmocka_unit_test(test_dash__device_table_is_bounded),
		cmocka_unit_test(test_dash__lines),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
		return 2;
	}
	data_dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
