/*
 * dash.c -- the model of `fleetctl watch` (dash.h): state in, screen out.
 *
 * Method: a screen is drawn top to bottom into a grid of cells by a few
 * clipped writers (put() never writes past a row's end or the grid's), so
 * that any terminal size and any text from fleetd is safe. The rollout
 * screen is: a title, the rollout's facts, what it waits for (or its
 * rollback), the stages (each a bar line, a counts line and a gate line),
 * a lower area with the recent events and the device table (side by side
 * from FL_DASH_WIDE_COLS, else one at a time, Tab switching), and a footer
 * with the keys or the prompt of the moment. The stages get the rows they
 * need up to what leaves the lower area FL_LOWER_MIN rows; past that they
 * scroll, the current stage kept in view. Values are read through
 * tolerant accessors (a missing field is absent, never a crash); counts
 * come from each stage's `split` (docs/api.md), or from its `counts` when
 * an older fleetd sends none.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dash.h"
#include "fl/err.h"
#include "render.h"

#define LOWER_MIN 6   /* rows the lower area keeps: a title and five */
#define BAR_MAX	  100 /* cells of a stage's bar */
#define LINE_MAX  512 /* one drawn line's text */
#define NAME_COL  16  /* the stage or rollout name column, at most */

/* ---- tolerant accessors ------------------------------------------------- */

static const cJSON *item(const cJSON *o, const char *k)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k)
				 : NULL;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *x = item(o, k);

	return cJSON_IsString(x) ? x->valuestring : NULL;
}

static int has_num(const cJSON *o, const char *k)
{
	const cJSON *x = item(o, k);

	return cJSON_IsNumber(x) && x->valuedouble == x->valuedouble;
}

static int64_t num(const cJSON *o, const char *k, int64_t dflt)
{
	const cJSON *x = item(o, k);

	if (!cJSON_IsNumber(x) || x->valuedouble != x->valuedouble)
		return dflt;
	if (x->valuedouble >= 9.2e18)
		return INT64_MAX;
	if (x->valuedouble <= -9.2e18)
		return INT64_MIN;
	return (int64_t)x->valuedouble;
}

static uint64_t count(const cJSON *o, const char *k)
{
	int64_t n = num(o, k, 0);

	return n > 0 ? (uint64_t)n : 0;
}

static double dnum(const cJSON *o, const char *k, double dflt)
{
	const cJSON *x = item(o, k);

	return cJSON_IsNumber(x) ? x->valuedouble : dflt;
}

static int is_true(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(item(o, k));
}

static int is_str(const cJSON *o, const char *k, const char *want)
{
	const char *s = str(o, k);

	return s != NULL && strcmp(s, want) == 0;
}

/* Copies src as printable ASCII ('?' for the rest), cut to fit; NULL and
 * "" copy dflt. Returns dst. */
static char *ascii(char *dst, size_t size, const char *src, const char *dflt)
{
	size_t n = 0;

	if (src == NULL || src[0] == '\0')
		src = dflt != NULL ? dflt : "";
	for (; src[n] != '\0' && n + 1 < size; n++) {
		unsigned char c = (unsigned char)src[n];

		dst[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[n] = '\0';
	return dst;
}

static void fmt(char *buf, size_t size, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

static void fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	if (vsnprintf(buf, size, f, ap) < 0)
		buf[0] = '\0';
	va_end(ap);
}

/* Appends to buf (a bounded line builder). */
static void cat(char *buf, size_t size, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

static void cat(char *buf, size_t size, const char *f, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= size)
		return;
	va_start(ap, f);
	if (vsnprintf(buf + n, size - n, f, ap) < 0)
		buf[n] = '\0';
	va_end(ap);
}

/* "13:20:00Z" */
static void clock_of(int64_t t, char *buf, size_t size)
{
	char at[40];

	fl_render_instant(t, at, sizeof(at));
	if (strlen(at) >= 20)
		fmt(buf, size, "%.8sZ", at + 11);
	else
		fmt(buf, size, "%s", at);
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* ---- the state of a rollout and its stages ------------------------------ */

/* What the operator calls the rollout's state. */
static const char *state_word(const cJSON *r)
{
	const char *s = str(r, "state");

	if (s == NULL)
		return "?";
	if (strcmp(s, "running") == 0 && is_true(r, "paused"))
		return "paused";
	return s;
}

static const char *stage_state_word(const cJSON *st)
{
	const char *s = str(st, "state");

	if (s == NULL)
		return "?";
	if (strcmp(s, "awaiting_approval") == 0)
		return "approval";
	return s;
}

int fl_dash_is_over(const cJSON *rollout)
{
	return is_str(rollout, "state", "complete") ||
	       is_str(rollout, "state", "rolled_back") ||
	       is_str(rollout, "state", "cancelled");
}

/* A stage's members, each once, by what they are doing now. */
enum {
	S_SUCCEEDED,
	S_INSTALLING,
	S_DOWNLOADING,
	S_OFFERED,
	S_FAILED,
	S_UNREACHED,
	S_ROLLED_BACK,
	S_SKIPPED,
	S_WAITING,
	S_N
};

static const struct {
	const char *key, *word;
	char ch;
	uint8_t attr;
} seg[S_N] = {
	[S_SUCCEEDED] = {"succeeded", "ok", '#', FL_DASH_A_OK},
	[S_INSTALLING] = {"installing", "installing", '+', FL_DASH_A_FLIGHT},
	[S_DOWNLOADING] = {"downloading", "downloading", '>', FL_DASH_A_FLIGHT},
	[S_OFFERED] = {"offered", "offered", '~', FL_DASH_A_FLIGHT},
	[S_FAILED] = {"failed", "failed", 'X', FL_DASH_A_FAIL},
	[S_UNREACHED] = {"unreached", "unreached", '?', FL_DASH_A_WARN},
	[S_ROLLED_BACK] = {"rolled_back", "rolled back", '<', FL_DASH_A_BACK},
	[S_SKIPPED] = {"skipped", "skipped", '-', FL_DASH_A_DIM},
	[S_WAITING] = {"waiting", "waiting", '.', FL_DASH_A_DIM},
};

static void split_of(const cJSON *st, uint64_t n[S_N])
{
	const cJSON *sp = item(st, "split"), *c = item(st, "counts");

	for (unsigned k = 0; k < S_N; k++)
		n[k] = 0;
	if (cJSON_IsObject(sp)) {
		for (unsigned k = 0; k < S_N; k++)
			n[k] = count(sp, seg[k].key);
		return;
	}
	/* An older fleetd: in flight is not split by step. */
	n[S_SUCCEEDED] = count(c, "succeeded");
	n[S_OFFERED] = count(c, "in_flight");
	n[S_FAILED] = count(c, "failed");
	n[S_UNREACHED] = count(c, "unreached");
	n[S_SKIPPED] = count(c, "skipped") + count(c, "cancelled");
	n[S_WAITING] =
		count(c, "pending") + count(c, "held") + count(c, "deferred");
}

static uint8_t attr_of_cell(char ch)
{
	for (unsigned k = 0; k < S_N; k++)
		if (seg[k].ch == ch)
			return seg[k].attr;
	return FL_DASH_A_NORMAL;
}

/* "[###>>..]" for n over total (members), width cells inside. */
static void bar_of(const uint64_t n[S_N], uint64_t total, unsigned width,
		   char *buf, size_t size)
{
	struct fl_bar_seg s[S_N - 1];

	for (unsigned k = 0; k < S_N - 1; k++)
		s[k] = (struct fl_bar_seg){n[k], seg[k].ch};
	fl_render_bar(buf, size, width, s, S_N - 1, total, seg[S_WAITING].ch);
}

/* ---- the grid ----------------------------------------------------------- */

static struct fl_dash_cell *cell(struct fl_dash_screen *s, int row, int col)
{
	return &s->cells[(size_t)row * (size_t)s->cols + (size_t)col];
}

/* Writes text at (row, col) in attr, clipped to the row's end and to
 * col_end (exclusive; <= 0: the row's end). Returns the column after. */
static int put_to(struct fl_dash_screen *s, int row, int col, int col_end,
		  uint8_t attr, const char *text)
{
	if (col_end <= 0 || col_end > s->cols)
		col_end = s->cols;
	if (row < 0 || row >= s->rows)
		return col;
	for (; *text != '\0' && col < col_end; text++, col++) {
		unsigned char c = (unsigned char)*text;

		if (col < 0)
			continue;
		cell(s, row, col)->ch = c >= 0x20 && c < 0x7f ? (char)c : '?';
		cell(s, row, col)->attr = attr;
	}
	return col;
}

static int put(struct fl_dash_screen *s, int row, int col, uint8_t attr,
	       const char *text)
{
	return put_to(s, row, col, 0, attr, text);
}

static void fill(struct fl_dash_screen *s, int row, int col, int col_end,
		 uint8_t attr)
{
	if (row < 0 || row >= s->rows)
		return;
	if (col_end <= 0 || col_end > s->cols)
		col_end = s->cols;
	for (; col < col_end; col++) {
		if (col < 0)
			continue;
		cell(s, row, col)->ch = ' ';
		cell(s, row, col)->attr = attr;
	}
}

/* A bar, each cell in its segment's attribute. */
static int put_bar(struct fl_dash_screen *s, int row, int col, const char *bar)
{
	for (; *bar != '\0' && col < s->cols; bar++, col++) {
		char ch[2] = {*bar, '\0'};

		put(s, row, col,
		    *bar == '[' || *bar == ']' ? FL_DASH_A_NORMAL
					       : attr_of_cell(*bar),
		    ch);
	}
	return col;
}

/* ---- init and input ----------------------------------------------------- */

void fl_dash_init(struct fl_dash *d, const char *name)
{
	memset(d, 0, sizeof(*d));
	if (name != NULL) {
		ascii(d->name, sizeof(d->name), name, "");
		d->is_fixed = 1;
		d->screen = FL_DASH_ROLLOUT;
	} else {
		d->screen = FL_DASH_OVERVIEW;
	}
	d->pane = FL_DASH_P_STAGES;
	d->lower = FL_DASH_P_EVENTS;
	d->mode = FL_DASH_M_NORMAL;
}

/* An event's detail as "k=v k=v". */
static void detail_of(const cJSON *o, char *buf, size_t size)
{
	const cJSON *x;

	buf[0] = '\0';
	cJSON_ArrayForEach(x, o)
	{
		char k[40], v[80];

		if (x->string == NULL)
			continue;
		ascii(k, sizeof(k), x->string, "?");
		if (cJSON_IsString(x))
			ascii(v, sizeof(v), x->valuestring, "");
		else if (cJSON_IsNumber(x) &&
			 x->valuedouble == (double)(int64_t)x->valuedouble)
			fmt(v, sizeof(v), "%" PRId64, (int64_t)x->valuedouble);
		else if (cJSON_IsNumber(x))
			fmt(v, sizeof(v), "%g", x->valuedouble);
		else if (cJSON_IsBool(x))
			fmt(v, sizeof(v), "%s",
			    cJSON_IsTrue(x) ? "true" : "false");
		else
			fmt(v, sizeof(v), "...");
		cat(buf, size, "%s%s=%s", buf[0] ? " " : "", k, v);
	}
}

int fl_dash_event_of(const cJSON *e, struct fl_dash_event *x)
{
	int64_t seq = num(e, "seq", -1);

	memset(x, 0, sizeof(*x));
	if (seq <= 0)
		return FL_EINVAL;
	x->seq = (uint64_t)seq;
	x->at = num(e, "at", -1);
	ascii(x->rollout, sizeof(x->rollout), str(e, "rollout"), "");
	ascii(x->stage, sizeof(x->stage), str(e, "stage"), "");
	ascii(x->device, sizeof(x->device), str(e, "device"), "");
	ascii(x->kind, sizeof(x->kind), str(e, "kind"), "?");
	detail_of(item(e, "detail"), x->detail, sizeof(x->detail));
	return 0;
}

unsigned fl_dash_events_add(struct fl_dash *d, const cJSON *events)
{
	const cJSON *e;
	unsigned added = 0;

	cJSON_ArrayForEach(e, events)
	{
		struct fl_dash_event *x;
		int64_t seq = num(e, "seq", -1);

		if (seq <= 0 || (uint64_t)seq <= d->ev_last_seq)
			continue;
		if (d->ev_n == FL_DASH_EVENTS) {
			d->ev_first = (d->ev_first + 1) % FL_DASH_EVENTS;
			d->ev_n--;
		}
		x = &d->ev[(d->ev_first + d->ev_n) % FL_DASH_EVENTS];
		d->ev_n++;
		(void)fl_dash_event_of(e, x);
		d->ev_last_seq = (uint64_t)seq;
		added++;
	}
	return added;
}

static const struct fl_dash_event *event_at(const struct fl_dash *d, unsigned i)
{
	return &d->ev[(d->ev_first + i) % FL_DASH_EVENTS];
}

/* A device's versions: its one component's, else "a=1,b=2". */
static void versions_of(const cJSON *vs, char *buf, size_t size)
{
	const cJSON *x;

	buf[0] = '\0';
	cJSON_ArrayForEach(x, vs)
	{
		char k[32], v[32];

		if (!cJSON_IsString(x))
			continue;
		ascii(v, sizeof(v), x->valuestring, "?");
		if (cJSON_GetArraySize(vs) == 1) {
			fmt(buf, size, "%s", v);
			return;
		}
		cat(buf, size, "%s%s=%s", buf[0] ? "," : "",
		    ascii(k, sizeof(k), x->string, "?"), v);
	}
}

int fl_dash_devices_add(struct fl_dash *d, const cJSON *list, int is_members)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, list)
	{
		struct fl_dash_device *x;
		char bytes[24], total[24];

		if (!is_members) {
			const cJSON *ro = item(e, "rollout");

			if (!is_str(ro, "name", d->name))
				continue;
			if (d->filter.state[0] != '\0' &&
			    !is_str(ro, "state", d->filter.state))
				continue;
		}
		if (d->dev_n == FL_DASH_DEVICES) {
			d->is_dev_more = 1;
			return FL_ETOOBIG;
		}
		x = &d->dev[d->dev_n++];
		memset(x, 0, sizeof(*x));
		ascii(x->id, sizeof(x->id), str(e, "id"), "?");
		if (is_members) {
			ascii(x->stage, sizeof(x->stage), str(e, "stage"), "");
			ascii(x->state, sizeof(x->state), str(e, "status"), "");
			ascii(x->step, sizeof(x->step), str(e, "progress"), "");
			if (is_str(e, "rollback", "sent") ||
			    is_str(e, "rollback", "failed") ||
			    is_str(e, "rollback", "done")) {
				fmt(x->detail, sizeof(x->detail), "rollback %s",
				    str(e, "rollback"));
			} else if (str(e, "fail_reason") != NULL) {
				char why[40], r[40];

				fmt(x->detail, sizeof(x->detail), "%s%s%s",
				    ascii(why, sizeof(why),
					  str(e, "fail_reason"), ""),
				    str(e, "reason") != NULL ? ": " : "",
				    ascii(r, sizeof(r), str(e, "reason"), ""));
			} else if (is_str(e, "progress", "downloading") &&
				   has_num(e, "total") &&
				   num(e, "total", 0) > 0) {
				fl_render_bytes(count(e, "bytes"), bytes,
						sizeof(bytes));
				fl_render_bytes(count(e, "total"), total,
						sizeof(total));
				fmt(x->detail, sizeof(x->detail),
				    "%s of %s (%" PRIu64 "%%)", bytes, total,
				    count(e, "bytes") * 100 /
					    count(e, "total"));
			} else {
				ascii(x->detail, sizeof(x->detail),
				      str(e, "version"), "");
			}
		} else {
			const cJSON *ro = item(e, "rollout");

			ascii(x->model, sizeof(x->model), str(e, "model"), "");
			ascii(x->state, sizeof(x->state), str(ro, "state"), "");
			versions_of(item(e, "versions"), x->detail,
				    sizeof(x->detail));
			if (!is_true(e, "online"))
				cat(x->detail, sizeof(x->detail), "%s%s",
				    x->detail[0] ? ", " : "", "offline");
		}
	}
	return 0;
}

void fl_dash_devices_set(struct fl_dash *d, const cJSON *list, int is_members)
{
	d->dev_n = 0;
	d->is_dev_more = 0;
	(void)fl_dash_devices_add(d, list, is_members);
}

/* ---- the filter --------------------------------------------------------- */

static const char *const member_states[] = {
	"pending",   "held",   "unreached", "deferred",	 "in_flight",
	"succeeded", "failed", "skipped",   "cancelled",
};

static int is_member_state(const char *s)
{
	for (size_t i = 0; i < sizeof(member_states) / sizeof(*member_states);
	     i++)
		if (strcmp(s, member_states[i]) == 0)
			return 1;
	return 0;
}

static int filter_fail(char *why, size_t size, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

static int filter_fail(char *why, size_t size, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	if (vsnprintf(why, size, f, ap) < 0)
		why[0] = '\0';
	va_end(ap);
	return FL_EINVAL;
}

/* Copies a term's value; FL_ETOOBIG when it does not fit. */
static int copy_term(char *dst, size_t size, const char *v, size_t len)
{
	if (len == 0 || len >= size)
		return FL_ETOOBIG;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return 0;
}

int fl_dash_filter_parse(const char *text, struct fl_dash_filter *f, char *why,
			 size_t why_size)
{
	const char *p = text;

	memset(f, 0, sizeof(*f));
	why[0] = '\0';
	while (*p != '\0') {
		const char *end, *eq;
		size_t len, klen;
		char term[FL_DASH_FILTER_MAX];

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		end = strchr(p, ' ');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		ascii(term, sizeof(term), p, "");
		if (len < sizeof(term))
			term[len] = '\0';
		for (size_t i = 0; term[i] != '\0'; i++)
			if (term[i] == '?' || term[i] == '"' || term[i] == '\\')
				return filter_fail(why, why_size,
						   "filter: `%s` has a "
						   "character a filter cannot "
						   "hold",
						   term);
		eq = strchr(term, '=');
		klen = eq != NULL ? (size_t)(eq - term) : strlen(term);
		if (eq == NULL) {
			/* a bare state: `failed` */
			if (!is_member_state(term))
				return filter_fail(
					why, why_size,
					"filter: `%s`: give state=S, model=M, "
					"stage=NAME or KEY=VALUE (a label)",
					term);
			(void)copy_term(f->state, sizeof(f->state), term,
					strlen(term));
		} else if (klen == 5 && strncmp(term, "state", 5) == 0) {
			if (!is_member_state(eq + 1))
				return filter_fail(
					why, why_size,
					"filter: `%s` is not a state: pending, "
					"held, unreached, deferred, in_flight, "
					"succeeded, failed, skipped or "
					"cancelled",
					eq + 1);
			(void)copy_term(f->state, sizeof(f->state), eq + 1,
					strlen(eq + 1));
		} else if (klen == 5 && strncmp(term, "model", 5) == 0) {
			if (copy_term(f->model, sizeof(f->model), eq + 1,
				      strlen(eq + 1)) != 0)
				return filter_fail(why, why_size,
						   "filter: `%s`: the model is "
						   "empty or too long",
						   term);
		} else if (klen == 5 && strncmp(term, "stage", 5) == 0) {
			if (copy_term(f->stage, sizeof(f->stage), eq + 1,
				      strlen(eq + 1)) != 0)
				return filter_fail(why, why_size,
						   "filter: `%s`: the stage is "
						   "empty or too long",
						   term);
		} else {
			if (klen == 0 || eq[1] == '\0')
				return filter_fail(why, why_size,
						   "filter: `%s` is not "
						   "KEY=VALUE",
						   term);
			if (f->nlabels == FL_DASH_LABELS)
				return filter_fail(why, why_size,
						   "filter: at most %d labels",
						   FL_DASH_LABELS);
			if (copy_term(f->labels[f->nlabels],
				      sizeof(f->labels[0]), term,
				      strlen(term)) != 0)
				return filter_fail(why, why_size,
						   "filter: `%.40s...` is too "
						   "long",
						   term);
			f->nlabels++;
		}
		p += len;
	}
	return 0;
}

/* ---- keys --------------------------------------------------------------- */

/* The rollout the keys act on: the one shown, or the overview's chosen. */
static const cJSON *target(const struct fl_dash *d)
{
	if (d->screen == FL_DASH_ROLLOUT)
		return d->rollout;
	return cJSON_GetArrayItem(d->active, d->sel);
}

static void set_message(struct fl_dash *d, int is_bad, const char *text)
{
	ascii(d->message, sizeof(d->message), text, "");
	d->is_message_bad = is_bad;
}

/* What `a` may approve in r: the stage awaiting approval and the hold the
 * rollout waits on. */
static void find_choices(struct fl_dash *d, const cJSON *r)
{
	const cJSON *st, *w = item(r, "waiting");

	d->nchoices = 0;
	d->choice = 0;
	cJSON_ArrayForEach(st, item(r, "stages"))
	{
		if (d->nchoices < FL_DASH_CHOICES &&
		    is_str(st, "state", "awaiting_approval"))
			ascii(d->choices[d->nchoices++], FL_DASH_NAME_MAX,
			      str(st, "name"), "?");
	}
	if (is_str(w, "why", "approval") && str(w, "stage") != NULL &&
	    d->nchoices == 0)
		ascii(d->choices[d->nchoices++], FL_DASH_NAME_MAX,
		      str(w, "stage"), "?");
	if (is_str(w, "why", "hold") && str(w, "hold") != NULL &&
	    d->nchoices < FL_DASH_CHOICES)
		ascii(d->choices[d->nchoices++], FL_DASH_NAME_MAX,
		      str(w, "hold"), "?");
}

static int rows_of_pane(const struct fl_dash *d, int pane)
{
	if (pane == FL_DASH_P_EVENTS)
		return (int)d->ev_n;
	if (pane == FL_DASH_P_DEVICES)
		return (int)d->dev_n;
	if (d->screen == FL_DASH_OVERVIEW)
		return cJSON_GetArraySize(d->active);
	return 3 * cJSON_GetArraySize(item(d->rollout, "stages"));
}

static void scroll_by(struct fl_dash *d, int delta)
{
	int *s = &d->scroll[d->pane], max = rows_of_pane(d, d->pane);

	if (d->screen == FL_DASH_OVERVIEW && d->pane == FL_DASH_P_STAGES) {
		d->sel += delta;
		if (d->sel >= max)
			d->sel = max - 1;
		if (d->sel < 0)
			d->sel = 0;
		return;
	}
	/* events scroll back from the newest: up shows older ones */
	*s += d->pane == FL_DASH_P_EVENTS ? -delta : delta;
	if (*s > max - 1)
		*s = max - 1;
	if (*s < 0)
		*s = 0;
}

static int key_filter(struct fl_dash *d, int key, struct fl_dash_req *req)
{
	size_t n = strlen(d->edit);
	char why[FL_DASH_TEXT];
	struct fl_dash_filter f;

	if (key == FL_DASH_KEY_ESC) {
		d->mode = FL_DASH_M_NORMAL;
		return 1;
	}
	if (key == FL_DASH_KEY_BACKSPACE || key == 0x7f || key == 8) {
		if (n > 0)
			d->edit[n - 1] = '\0';
		return 1;
	}
	if (key == FL_DASH_KEY_ENTER || key == '\n' || key == '\r') {
		if (fl_dash_filter_parse(d->edit, &f, why, sizeof(why)) != 0) {
			set_message(d, 1, why);
			return 1;
		}
		d->filter = f;
		snprintf(d->filter_text, sizeof(d->filter_text), "%s", d->edit);
		d->mode = FL_DASH_M_NORMAL;
		d->pane = FL_DASH_P_DEVICES;
		d->lower = FL_DASH_P_DEVICES;
		d->scroll[FL_DASH_P_DEVICES] = 0;
		d->dev_n = 0;
		d->is_dev_more = 0;
		set_message(d, 0,
			    d->filter_text[0] ? "filter applied" : "no filter");
		req->kind = FL_DASH_REQ_FILTER;
		return 1;
	}
	if (key >= 0x20 && key < 0x7f && n + 1 < sizeof(d->edit)) {
		d->edit[n] = (char)key;
		d->edit[n + 1] = '\0';
		return 1;
	}
	return 0;
}

int fl_dash_key(struct fl_dash *d, int key, struct fl_dash_req *req)
{
	const cJSON *r = target(d);
	const char *rname = str(r, "name");

	memset(req, 0, sizeof(*req));
	if (rname != NULL)
		ascii(req->name, sizeof(req->name), rname, "");
	switch (d->mode) {
	case FL_DASH_M_HELP:
		if (key == 'q') {
			req->kind = FL_DASH_REQ_QUIT;
			return 0;
		}
		d->mode = FL_DASH_M_NORMAL;
		return 1;
	case FL_DASH_M_CONFIRM:
		d->mode = FL_DASH_M_NORMAL;
		if ((key == 'y' || key == 'Y') && req->name[0] != '\0') {
			req->kind = FL_DASH_REQ_ROLLBACK;
			set_message(d, 0, "rolling back: sent to fleetd");
		} else {
			set_message(d, 0,
				    "rollback not confirmed: nothing done");
		}
		return 1;
	case FL_DASH_M_APPROVE:
		if (key == FL_DASH_KEY_LEFT || key == FL_DASH_KEY_UP) {
			if (d->choice > 0)
				d->choice--;
			return 1;
		}
		if (key == FL_DASH_KEY_RIGHT || key == FL_DASH_KEY_DOWN ||
		    key == FL_DASH_KEY_TAB) {
			if (d->choice + 1 < (int)d->nchoices)
				d->choice++;
			return 1;
		}
		if (key >= '1' && key <= '9') {
			if (key - '1' >= (int)d->nchoices)
				return 0;
			d->choice = key - '1';
		} else if (key != FL_DASH_KEY_ENTER && key != '\n' &&
			   key != '\r' && key != 'a') {
			d->mode = FL_DASH_M_NORMAL;
			set_message(d, 0, "nothing approved");
			return 1;
		}
		d->mode = FL_DASH_M_NORMAL;
		if (req->name[0] == '\0' || d->nchoices == 0)
			return 1;
		req->kind = FL_DASH_REQ_APPROVE;
		snprintf(req->what, sizeof(req->what), "%s",
			 d->choices[d->choice]);
		set_message(d, 0, "approving: sent to fleetd");
		return 1;
	case FL_DASH_M_FILTER: return key_filter(d, key, req);
	default: break;
	}
	switch (key) {
	case 'q':
	case 'Q': req->kind = FL_DASH_REQ_QUIT; return 0;
	case '?':
	case 'h': d->mode = FL_DASH_M_HELP; return 1;
	case FL_DASH_KEY_TAB:
	case FL_DASH_KEY_BTAB:
		d->pane = (d->pane + (key == FL_DASH_KEY_TAB ? 1 : 2)) %
			  FL_DASH_NPANES;
		if (d->pane != FL_DASH_P_STAGES)
			d->lower = d->pane;
		return 1;
	case FL_DASH_KEY_UP:
	case 'k': scroll_by(d, -1); return 1;
	case FL_DASH_KEY_DOWN:
	case 'j': scroll_by(d, 1); return 1;
	case FL_DASH_KEY_PGUP: scroll_by(d, -10); return 1;
	case FL_DASH_KEY_PGDN: scroll_by(d, 10); return 1;
	case FL_DASH_KEY_HOME: scroll_by(d, -1000000); return 1;
	case FL_DASH_KEY_END: scroll_by(d, 1000000); return 1;
	case '/':
		d->mode = FL_DASH_M_FILTER;
		snprintf(d->edit, sizeof(d->edit), "%s", d->filter_text);
		return 1;
	case FL_DASH_KEY_ENTER:
	case '\n':
	case '\r':
		if (d->screen != FL_DASH_OVERVIEW || req->name[0] == '\0')
			return 0;
		snprintf(d->name, sizeof(d->name), "%s", req->name);
		d->screen = FL_DASH_ROLLOUT;
		d->rollout = NULL;
		d->pane = FL_DASH_P_STAGES;
		d->scroll[FL_DASH_P_STAGES] = 0;
		d->dev_n = 0;
		req->kind = FL_DASH_REQ_OPEN;
		return 1;
	case FL_DASH_KEY_ESC:
	case FL_DASH_KEY_BACKSPACE:
	case 0x7f:
		if (d->screen != FL_DASH_ROLLOUT || d->is_fixed)
			return 0;
		d->screen = FL_DASH_OVERVIEW;
		d->name[0] = '\0';
		d->rollout = NULL;
		d->pane = FL_DASH_P_STAGES;
		d->dev_n = 0;
		req->kind = FL_DASH_REQ_OPEN;
		req->name[0] = '\0';
		return 1;
	default: break;
	}
	if (key != 'p' && key != 'r' && key != 'a' && key != 'R')
		return 0;
	if (r == NULL) {
		set_message(d, 1, "no rollout to act on");
		return 1;
	}
	switch (key) {
	case 'p':
		req->kind = FL_DASH_REQ_PAUSE;
		set_message(d, 0, "pausing: sent to fleetd");
		return 1;
	case 'r':
		req->kind = FL_DASH_REQ_RESUME;
		set_message(d, 0, "resuming: sent to fleetd");
		return 1;
	case 'a':
		find_choices(d, r);
		if (d->nchoices == 0) {
			set_message(d, 1,
				    "nothing awaits approval: no stage waits "
				    "for one and no hold holds the rollout");
			return 1;
		}
		d->mode = FL_DASH_M_APPROVE;
		return 1;
	default: /* R */
		d->mode = FL_DASH_M_CONFIRM;
		d->preview = NULL;
		req->kind = FL_DASH_REQ_PREVIEW;
		return 1;
	}
}

/* ---- drawing: pieces ---------------------------------------------------- */

/* "waiting for ...", "paused ..." or "" for a rollout. */
static void waiting_text(const cJSON *r, int64_t now, char *buf, size_t size)
{
	const cJSON *w = item(r, "waiting");
	const char *why = str(w, "why");
	char until[64] = "", name[FL_DASH_NAME_MAX], what[FL_DASH_NAME_MAX],
	     reason[120];

	buf[0] = '\0';
	if (why == NULL)
		return;
	ascii(name, sizeof(name), str(r, "name"), "?");
	if (has_num(w, "until")) {
		char at[40], ago[40];

		fl_render_instant(num(w, "until", 0), at, sizeof(at));
		fl_render_ago(num(w, "until", 0), now, ago, sizeof(ago));
		fmt(until, sizeof(until), "%s (%s)", at, ago);
	}
	if (strcmp(why, "approval") == 0) {
		fmt(buf, size, "waiting for approval of stage %s: press a",
		    ascii(what, sizeof(what), str(w, "stage"), "?"));
	} else if (strcmp(why, "hold") == 0) {
		ascii(what, sizeof(what), str(w, "hold"), "?");
		ascii(reason, sizeof(reason), str(w, "reason"), "");
		fmt(buf, size, "waiting for hold %s", what);
		if (reason[0] != '\0')
			cat(buf, size, " (%s)", reason);
		if (until[0] != '\0')
			cat(buf, size, " until %s", until);
		else
			cat(buf, size, ": press a to approve it");
	} else if (strcmp(why, "window") == 0) {
		if (until[0] != '\0')
			fmt(buf, size,
			    "waiting for the maintenance window, opens %s",
			    until);
		else
			fmt(buf, size,
			    "waiting for the next maintenance "
			    "window");
	} else if (strcmp(why, "rate") == 0) {
		if (until[0] != '\0')
			fmt(buf, size,
			    "waiting for the rate limit, next offers %s",
			    until);
		else
			fmt(buf, size, "waiting for the rate limit");
	} else if (strcmp(why, "pause") == 0) {
		fmt(buf, size, "paused by an operator: press r to resume");
	} else {
		fmt(buf, size, "waiting for %s",
		    ascii(what, sizeof(what), why, "?"));
	}
}

/* "gate  failure rate 1.4% (max 5.0%), 69 judged (min 10), soak 29m 50s
 * left", drawn with the rate red when over its limit. */
static void draw_gate(const struct fl_dash *d, struct fl_dash_screen *s,
		      int row, int col, const cJSON *st)
{
	const cJSON *g = item(st, "gate");
	char rate[24], max[24], t[96], dur[32];
	double fr = dnum(g, "failure_rate", 0.0);
	int64_t left = num(g, "soak_left_s", 0);
	int is_over;

	if (!cJSON_IsObject(g))
		return;
	col = put(s, row, col, FL_DASH_A_DIM, "gate  ");
	fl_render_percent(fr, rate, sizeof(rate));
	is_over = has_num(g, "max_failure_rate") &&
		  fr > dnum(g, "max_failure_rate", 1.0);
	if (has_num(g, "max_failures") &&
	    num(g, "failed", 0) > num(g, "max_failures", 0))
		is_over = 1;
	fmt(t, sizeof(t), "failure rate %s", rate);
	col = put(s, row, col,
		  is_over		    ? FL_DASH_A_FAIL
		  : num(g, "failed", 0) > 0 ? FL_DASH_A_WARN
					    : FL_DASH_A_OK,
		  t);
	if (has_num(g, "max_failure_rate")) {
		fl_render_percent(dnum(g, "max_failure_rate", 0.0), max,
				  sizeof(max));
		fmt(t, sizeof(t), " (max %s)", max);
		col = put(s, row, col, FL_DASH_A_NORMAL, t);
	}
	if (has_num(g, "max_failures")) {
		fmt(t, sizeof(t), ", %" PRId64 " failed (max %" PRId64 ")",
		    num(g, "failed", 0), num(g, "max_failures", 0));
		col = put(s, row, col, FL_DASH_A_NORMAL, t);
	}
	col = put(s, row, col, FL_DASH_A_NORMAL, ", ");
	fmt(t, sizeof(t), "%" PRId64 " judged", num(g, "judged", 0));
	col = put(s, row, col,
		  has_num(g, "min_devices") &&
				  num(g, "judged", 0) < num(g, "min_devices", 0)
			  ? FL_DASH_A_WARN
			  : FL_DASH_A_NORMAL,
		  t);
	if (has_num(g, "min_devices")) {
		fmt(t, sizeof(t), " (min %" PRId64 ")",
		    num(g, "min_devices", 0));
		col = put(s, row, col, FL_DASH_A_NORMAL, t);
	}
	/* soak_left_s was true when fetched: count it down since */
	if (left > 0 && d->fetched_s > 0 && d->now_s > d->fetched_s)
		left = left > d->now_s - d->fetched_s
			       ? left - (d->now_s - d->fetched_s)
			       : 0;
	if (left > 0) {
		fl_render_duration(left, dur, sizeof(dur));
		fmt(t, sizeof(t), ", soak %s left", dur);
		put(s, row, col, FL_DASH_A_WARN, t);
	} else if (num(g, "soak_s", 0) > 0) {
		fl_render_duration(num(g, "soak_s", 0), dur, sizeof(dur));
		fmt(t, sizeof(t), ", soak %s", dur);
		put(s, row, col, FL_DASH_A_NORMAL, t);
	}
}

/* "68 ok  1 failed  12 downloading ..." in each segment's colour from
 * (row, 3), wrapped at cols, only the rows in [first, last) drawn (s NULL:
 * none). Returns the rows it takes. */
static int draw_counts(struct fl_dash_screen *s, int row, int first, int last,
		       int cols, const uint64_t n[S_N])
{
	static const unsigned order[] = {
		S_SUCCEEDED,   S_FAILED,      S_UNREACHED,
		S_OFFERED,     S_DOWNLOADING, S_INSTALLING,
		S_ROLLED_BACK, S_WAITING,     S_SKIPPED,
	};
	int col = 3, lines = 1;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		unsigned k = order[i];
		char t[48];
		int len;

		if (n[k] == 0)
			continue;
		fmt(t, sizeof(t), "%" PRIu64 " %s", n[k], seg[k].word);
		len = (int)strlen(t);
		if (col > 3 && col + 2 + len > cols) {
			lines++;
			col = 3;
		} else if (col > 3) {
			col += 2;
		}
		if (s != NULL && row + lines - 1 >= first &&
		    row + lines - 1 < last)
			put(s, row + lines - 1, col,
			    k == S_SUCCEEDED ? FL_DASH_A_OK : seg[k].attr, t);
		col += len;
	}
	return lines;
}

/* The lines of one stage (at most 3) into s from row, or only counted
 * when s is NULL. Returns how many. */
static int stage_lines(const struct fl_dash *d, struct fl_dash_screen *s,
		       int cols, int row, int first, int last, const cJSON *st,
		       int namew, int is_current)
{
	uint64_t n[S_N], total = 0, members = count(st, "members");
	const char *state = str(st, "state");
	int is_pending = state == NULL || strcmp(state, "pending") == 0;
	int lines = 0, col, width;
	char t[LINE_MAX], name[FL_DASH_NAME_MAX], bar[BAR_MAX + 3];
	const cJSON *a = item(st, "approval");

	split_of(st, n);
	for (unsigned k = 0; k < S_N; k++)
		total += n[k];
	if (members > total)
		total = members;
	/* line 1: name, state, devices, bar */
	if (s != NULL && row + lines >= first && row + lines < last) {
		int r = row + lines;
		uint8_t sattr = FL_DASH_A_NORMAL;

		if (is_str(st, "state", "passed"))
			sattr = FL_DASH_A_OK;
		else if (is_str(st, "state", "failed"))
			sattr = FL_DASH_A_FAIL;
		else if (is_str(st, "state", "awaiting_approval"))
			sattr = FL_DASH_A_WARN;
		else if (is_str(st, "state", "running"))
			sattr = FL_DASH_A_FLIGHT;
		else if (is_pending)
			sattr = FL_DASH_A_DIM;
		put(s, r, 0, is_current ? FL_DASH_A_BOLD : FL_DASH_A_NORMAL,
		    is_current ? ">" : " ");
		ascii(name, sizeof(name), str(st, "name"), "?");
		fmt(t, sizeof(t), "%-*.*s", namew, namew, name);
		col = put(s, r, 1,
			  is_current ? FL_DASH_A_BOLD : FL_DASH_A_NORMAL, t);
		fmt(t, sizeof(t), "  %-9s", stage_state_word(st));
		col = put(s, r, col, sattr, t);
		fmt(t, sizeof(t), "%6" PRIu64 " ", members);
		col = put(s, r, col, FL_DASH_A_NORMAL, t);
		width = s->cols - col - 2 - 1;
		if (width > BAR_MAX)
			width = BAR_MAX;
		if (width >= 4) {
			bar_of(n, total, (unsigned)width, bar, sizeof(bar));
			put_bar(s, r, col, bar);
		}
	}
	lines++;
	/* line 2: the counts, once anything happened */
	if (total > 0 && (!is_pending || n[S_WAITING] != total)) {
		lines += draw_counts(s, row + lines, first, last, cols, n);
	}
	/* line 3: the gate, or the approval it waits for */
	if (!is_pending ||
	    (is_true(a, "required") && !is_true(a, "approved"))) {
		if (s != NULL && row + lines >= first && row + lines < last) {
			if (is_str(st, "state", "awaiting_approval"))
				put(s, row + lines, 3, FL_DASH_A_WARN,
				    "needs approval: press a");
			else if (is_pending)
				put(s, row + lines, 3, FL_DASH_A_DIM,
				    "will need approval");
			else
				draw_gate(d, s, row + lines, 3, st);
		}
		lines++;
	}
	return lines;
}

static int name_width(const cJSON *stages)
{
	const cJSON *st;
	int w = 6;

	cJSON_ArrayForEach(st, stages)
	{
		const char *n = str(st, "name");
		int len = n != NULL ? (int)strlen(n) : 1;

		if (len > w)
			w = len;
	}
	return w > NAME_COL ? NAME_COL : w;
}

/* The stages' lines in [top, bottom): the current stage kept in view
 * unless the operator scrolled. Returns the rows used. */
static int draw_stages(const struct fl_dash *d, struct fl_dash_screen *s,
		       int top, int bottom)
{
	const cJSON *stages = item(d->rollout, "stages"), *st;
	const char *cur = str(d->rollout, "stage");
	int namew = name_width(stages), total = 0, cur_row = 0, skip, row;
	int avail = bottom - top;

	cJSON_ArrayForEach(st, stages)
	{
		if (cur != NULL && is_str(st, "name", cur))
			cur_row = total;
		total += stage_lines(d, NULL, s->cols, 0, 0, 0, st, namew, 0);
	}
	if (total == 0) {
		put(s, top, 1, FL_DASH_A_DIM, "no stages yet");
		return 1;
	}
	if (total <= avail) {
		skip = 0;
	} else {
		/* scrolled by the operator, else the current stage on top */
		skip = d->scroll[FL_DASH_P_STAGES] > 0
			       ? d->scroll[FL_DASH_P_STAGES]
			       : cur_row;
		if (skip > total - avail + 1)
			skip = total - avail + 1;
		if (skip < 0)
			skip = 0;
	}
	row = top - skip;
	cJSON_ArrayForEach(st, stages)
	{
		int is_cur = cur != NULL && is_str(st, "name", cur);

		row += stage_lines(d, s, s->cols, row, top,
				   total - skip > avail ? bottom - 1 : bottom,
				   st, namew, is_cur);
	}
	if (total - skip > avail) {
		char t[64];

		fmt(t, sizeof(t), "  ... %d more lines (Tab to stages, arrows)",
		    total - skip - avail + 1);
		put(s, bottom - 1, 0, FL_DASH_A_DIM, t);
	}
	if (skip > 0) {
		char t[64];

		fmt(t, sizeof(t), " (%d lines above)", skip);
		put(s, top, s->cols - (int)strlen(t) - 1, FL_DASH_A_DIM, t);
	}
	return total - skip < avail ? total - skip : avail;
}

/* The rollback's two lines: who started it, when, and its bar. */
static int draw_rollback(const struct fl_dash *d, struct fl_dash_screen *s,
			 int row, const cJSON *r)
{
	const cJSON *rb = item(r, "rollback");
	uint64_t sent = count(rb, "sent"), ok = count(rb, "done"),
		 failed = count(rb, "failed"), pending = count(rb, "pending");
	struct fl_bar_seg segs[2] = {{ok, '<'}, {failed, 'X'}};
	char t[LINE_MAX], stage[FL_DASH_NAME_MAX], dur[32], bar[BAR_MAX + 3];
	int col, width;

	if (!cJSON_IsObject(rb))
		return 0;
	if (is_str(rb, "why", "gate"))
		fmt(t, sizeof(t),
		    "ROLLBACK to the old version, by the gate of stage %s",
		    ascii(stage, sizeof(stage), str(rb, "stage"), "?"));
	else
		fmt(t, sizeof(t),
		    "ROLLBACK to the old version, by an operator");
	if (has_num(rb, "started")) {
		int64_t end =
			is_str(r, "state", "rolled_back") && has_num(r, "ended")
				? num(r, "ended", 0)
				: d->now_s;

		fl_render_duration(end - num(rb, "started", 0), dur,
				   sizeof(dur));
		cat(t, sizeof(t), ", %s %s", dur,
		    is_str(r, "state", "rolled_back") ? "in all" : "so far");
	}
	put(s, row, 1, FL_DASH_A_BACK, t);
	fmt(t, sizeof(t),
	    "%" PRIu64 "/%" PRIu64 " back, %" PRIu64
	    " failed to roll back, %" PRIu64 " pending",
	    ok, sent, failed, pending);
	width = s->cols - 7 - (int)strlen(t);
	if (width > 40)
		width = 40;
	col = 3;
	if (width >= 8) {
		fl_render_bar(bar, sizeof(bar), (unsigned)width, segs, 2, sent,
			      '.');
		col = put_bar(s, row + 1, 3, bar) + 1;
	}
	col = put(s, row + 1, col, FL_DASH_A_BACK, t);
	(void)col;
	return 2;
}

/* The events of the rollout shown (all on the overview), newest at the
 * bottom, in [top, bottom) between columns [c0, c1). */
static void draw_events(const struct fl_dash *d, struct fl_dash_screen *s,
			int top, int bottom, int c0, int c1)
{
	int rows = bottom - top, shown = 0, skip = d->scroll[FL_DASH_P_EVENTS];
	int is_all = d->screen == FL_DASH_OVERVIEW;
	int idx[FL_DASH_EVENTS], n = 0;

	for (unsigned i = 0; i < d->ev_n; i++) {
		const struct fl_dash_event *e = event_at(d, i);

		/* bookkeeping and health samples would drown the rest */
		if (strncmp(e->kind, "note.", 5) == 0 ||
		    strcmp(e->kind, "report.health") == 0)
			continue;
		if (!is_all && strcmp(e->rollout, d->name) != 0)
			continue;
		idx[n++] = (int)i;
	}
	if (n == 0) {
		put_to(s, top, c0 + 1, c1, FL_DASH_A_DIM, "no events yet");
		return;
	}
	if (skip > n - 1)
		skip = n - 1;
	/* the last `rows` events before the skipped newest ones */
	for (int k = n - skip - rows; k < n - skip; k++) {
		const struct fl_dash_event *e;
		char t[LINE_MAX], at[16];
		uint8_t attr = FL_DASH_A_NORMAL;
		int col;

		if (k < 0)
			continue;
		e = event_at(d, (unsigned)idx[k]);
		if (strstr(e->kind, "fail") != NULL ||
		    strcmp(e->kind, "report.reverted") == 0 ||
		    strcmp(e->kind, "report.rejected") == 0)
			attr = FL_DASH_A_FAIL;
		else if (strncmp(e->kind, "action.", 7) == 0)
			attr = FL_DASH_A_BOLD;
		else if (strstr(e->kind, "rollback") != NULL ||
			 strcmp(e->kind, "decision.rolled_back") == 0)
			attr = FL_DASH_A_BACK;
		else if (strcmp(e->kind, "report.committed") == 0 ||
			 strcmp(e->kind, "decision.device_succeeded") == 0 ||
			 strcmp(e->kind, "decision.stage_passed") == 0 ||
			 strcmp(e->kind, "decision.complete") == 0)
			attr = FL_DASH_A_OK;
		else if (strcmp(e->kind, "decision.wait") == 0 ||
			 strcmp(e->kind, "decision.await_approval") == 0 ||
			 strcmp(e->kind, "decision.paused") == 0)
			attr = FL_DASH_A_WARN;
		clock_of(e->at, at, sizeof(at));
		col = put_to(s, top + shown, c0 + 1, c1, FL_DASH_A_DIM, at);
		if (is_all)
			fmt(t, sizeof(t), " %-14s %-8s %-14s %s %s", e->rollout,
			    e->stage[0] ? e->stage : "-",
			    e->device[0] ? e->device : "-", e->kind, e->detail);
		else
			fmt(t, sizeof(t), " %-8s %-14s %s %s",
			    e->stage[0] ? e->stage : "-",
			    e->device[0] ? e->device : "-", e->kind, e->detail);
		put_to(s, top + shown, col, c1, attr, t);
		shown++;
	}
	if (skip > 0 && rows > 0) {
		char t[48];

		fmt(t, sizeof(t), "(%d newer below)", skip);
		put_to(s, bottom - 1, c1 - (int)strlen(t) - 1, c1,
		       FL_DASH_A_DIM, t);
	}
}

static uint8_t member_attr(const char *state)
{
	if (strcmp(state, "succeeded") == 0)
		return FL_DASH_A_OK;
	if (strcmp(state, "failed") == 0)
		return FL_DASH_A_FAIL;
	if (strcmp(state, "in_flight") == 0)
		return FL_DASH_A_FLIGHT;
	if (strcmp(state, "unreached") == 0)
		return FL_DASH_A_WARN;
	return FL_DASH_A_NORMAL;
}

static void draw_devices(const struct fl_dash *d, struct fl_dash_screen *s,
			 int top, int bottom, int c0, int c1)
{
	int rows = bottom - top - 1, skip = d->scroll[FL_DASH_P_DEVICES];
	int is_model = d->filter.model[0] != '\0' || d->filter.nlabels > 0;
	char t[LINE_MAX];

	if (d->screen != FL_DASH_ROLLOUT) {
		put_to(s, top, c0 + 1, c1, FL_DASH_A_DIM,
		       "choose a rollout (arrows, Enter) to see its devices");
		return;
	}
	if (is_model)
		fmt(t, sizeof(t), "%-14s %-10s %-10s %s", "ID", "MODEL",
		    "STATE", "VERSION");
	else
		fmt(t, sizeof(t), "%-14s %-8s %-10s %-11s %s", "ID", "STAGE",
		    "STATE", "STEP", "DETAIL");
	put_to(s, top, c0 + 1, c1, FL_DASH_A_BOLD, t);
	if (d->dev_n == 0) {
		put_to(s, top + 1, c0 + 1, c1, FL_DASH_A_DIM,
		       d->filter_text[0] ? "no device matches the filter"
					 : "no devices yet");
		return;
	}
	if (skip > (int)d->dev_n - 1)
		skip = (int)d->dev_n - 1;
	for (int i = 0; i < rows && skip + i < (int)d->dev_n; i++) {
		const struct fl_dash_device *x = &d->dev[skip + i];
		int col;

		fmt(t, sizeof(t), "%-14s ", x->id);
		col = put_to(s, top + 1 + i, c0 + 1, c1, FL_DASH_A_NORMAL, t);
		if (is_model) {
			fmt(t, sizeof(t), "%-10s ",
			    x->model[0] ? x->model : "-");
			col = put_to(s, top + 1 + i, col, c1, FL_DASH_A_NORMAL,
				     t);
			fmt(t, sizeof(t), "%-10s ",
			    x->state[0] ? x->state : "-");
			col = put_to(s, top + 1 + i, col, c1,
				     member_attr(x->state), t);
			put_to(s, top + 1 + i, col, c1, FL_DASH_A_NORMAL,
			       x->detail[0] ? x->detail : "-");
			continue;
		}
		fmt(t, sizeof(t), "%-8s ", x->stage[0] ? x->stage : "-");
		col = put_to(s, top + 1 + i, col, c1, FL_DASH_A_NORMAL, t);
		fmt(t, sizeof(t), "%-10s ", x->state[0] ? x->state : "-");
		col = put_to(s, top + 1 + i, col, c1, member_attr(x->state), t);
		fmt(t, sizeof(t), "%-11s ", x->step[0] ? x->step : "-");
		col = put_to(s, top + 1 + i, col, c1, FL_DASH_A_NORMAL, t);
		put_to(s, top + 1 + i, col, c1,
		       strncmp(x->detail, "rollback", 8) == 0 ? FL_DASH_A_BACK
		       : strcmp(x->state, "failed") == 0      ? FL_DASH_A_FAIL
							      : FL_DASH_A_DIM,
		       x->detail[0] ? x->detail : "-");
	}
}

/* A pane's title: "Events" or "Devices (state=failed) 12", the focused
 * one highlighted. */
static void pane_title(const struct fl_dash *d, struct fl_dash_screen *s,
		       int row, int c0, int c1, int pane, int is_tabbed)
{
	char t[LINE_MAX];
	int col = c0;

	fill(s, row, c0, c1, FL_DASH_A_DIM);
	if (is_tabbed) {
		for (int p = FL_DASH_P_EVENTS; p <= FL_DASH_P_DEVICES; p++) {
			fmt(t, sizeof(t), " %s ",
			    p == FL_DASH_P_EVENTS ? "events" : "devices");
			col = put_to(s, row, col + 1, c1,
				     p == pane ? (d->pane == pane
							  ? FL_DASH_A_SELECT
							  : FL_DASH_A_BOLD)
					       : FL_DASH_A_DIM,
				     t);
		}
	} else {
		fmt(t, sizeof(t), " %s ",
		    pane == FL_DASH_P_EVENTS ? "events" : "devices");
		col = put_to(
			s, row, col + 1, c1,
			d->pane == pane ? FL_DASH_A_SELECT : FL_DASH_A_BOLD, t);
	}
	if (pane == FL_DASH_P_DEVICES && d->screen == FL_DASH_ROLLOUT) {
		fmt(t, sizeof(t), " %s%s%s%u%s", d->filter_text[0] ? "(" : "",
		    d->filter_text, d->filter_text[0] ? ") " : "", d->dev_n,
		    d->is_dev_more ? "+ shown" : " shown");
		col = put_to(s, row, col, c1, FL_DASH_A_DIM, t);
	}
	if (pane == FL_DASH_P_EVENTS && d->ev_last_seq > 0) {
		fmt(t, sizeof(t), " last seq %" PRIu64, d->ev_last_seq);
		put_to(s, row, col, c1, FL_DASH_A_DIM, t);
	}
}

/* The lower area: both panes side by side when wide, else the one
 * chosen with its tab. */
static void draw_lower(const struct fl_dash *d, struct fl_dash_screen *s,
		       int top, int bottom)
{
	if (bottom - top < 2)
		return;
	if (s->cols >= FL_DASH_WIDE_COLS) {
		int mid = s->cols * 11 / 20;

		pane_title(d, s, top, 0, mid, FL_DASH_P_EVENTS, 0);
		draw_events(d, s, top + 1, bottom, 0, mid - 1);
		pane_title(d, s, top, mid, s->cols, FL_DASH_P_DEVICES, 0);
		draw_devices(d, s, top + 1, bottom, mid, s->cols);
		return;
	}
	pane_title(d, s, top, 0, s->cols, d->lower, 1);
	if (d->lower == FL_DASH_P_DEVICES)
		draw_devices(d, s, top + 1, bottom, 0, s->cols);
	else
		draw_events(d, s, top + 1, bottom, 0, s->cols);
}

/* The title line: what is watched, its state, the time. */
static void draw_title(const struct fl_dash *d, struct fl_dash_screen *s)
{
	char t[LINE_MAX], at[16], name[FL_DASH_NAME_MAX], dur[32];
	const cJSON *r = d->rollout;

	fill(s, 0, 0, s->cols, FL_DASH_A_TITLE);
	if (d->screen == FL_DASH_OVERVIEW) {
		int n = cJSON_GetArraySize(d->active);

		if (d->active == NULL)
			fmt(t, sizeof(t), " fleetctl watch: active rollouts");
		else
			fmt(t, sizeof(t), " fleetctl watch: %d active %s", n,
			    plural((uint64_t)n, "rollout", "rollouts"));
	} else if (r == NULL) {
		fmt(t, sizeof(t), " fleetctl watch: %s", d->name);
	} else {
		int64_t start = num(r, "started", num(r, "created", -1));
		int64_t end =
			has_num(r, "ended") ? num(r, "ended", 0) : d->now_s;

		fmt(t, sizeof(t), " fleetctl watch: %s  %s",
		    ascii(name, sizeof(name), str(r, "name"), "?"),
		    state_word(r));
		if (str(r, "stage") != NULL)
			cat(t, sizeof(t), ", stage %s",
			    ascii(name, sizeof(name), str(r, "stage"), "?"));
		if (start >= 0) {
			fl_render_duration(end - start, dur, sizeof(dur));
			cat(t, sizeof(t), ", %s %s", dur,
			    has_num(r, "ended") ? "in all" : "elapsed");
		}
	}
	put(s, 0, 0, FL_DASH_A_TITLE, t);
	clock_of(d->now_s, at, sizeof(at));
	put(s, 0, s->cols - (int)strlen(at) - 1, FL_DASH_A_TITLE, at);
}

/* The footer: the prompt of the moment, else the last message, else the
 * keys. */
static void draw_footer(const struct fl_dash *d, struct fl_dash_screen *s)
{
	int row = s->rows - 1, col;
	char t[LINE_MAX], name[FL_DASH_NAME_MAX];
	const cJSON *r = target(d);

	fill(s, row, 0, s->cols, FL_DASH_A_NORMAL);
	ascii(name, sizeof(name), str(r, "name"), "?");
	if (d->mode == FL_DASH_M_CONFIRM) {
		fmt(t, sizeof(t), " Roll back %s? ", name);
		if (d->preview != NULL)
			cat(t, sizeof(t),
			    "%" PRIu64 " %s go back, %" PRIu64
			    " %s cancelled. ",
			    count(d->preview, "revert"),
			    plural(count(d->preview, "revert"), "device",
				   "devices"),
			    count(d->preview, "cancel"),
			    plural(count(d->preview, "cancel"), "offer",
				   "offers"));
		cat(t, sizeof(t), "[y/N]");
		fill(s, row, 0, s->cols, FL_DASH_A_FAIL);
		put(s, row, 0, FL_DASH_A_FAIL, t);
		return;
	}
	if (d->mode == FL_DASH_M_APPROVE) {
		col = put(s, row, 0, FL_DASH_A_BOLD, " Approve:");
		for (unsigned i = 0; i < d->nchoices; i++) {
			fmt(t, sizeof(t), " %u %s ", i + 1, d->choices[i]);
			col = put(s, row, col + 1,
				  (int)i == d->choice ? FL_DASH_A_SELECT
						      : FL_DASH_A_NORMAL,
				  t);
		}
		put(s, row, col + 1, FL_DASH_A_DIM,
		    "(arrows or 1-9 choose, Enter approves, Esc cancels)");
		return;
	}
	if (d->mode == FL_DASH_M_FILTER) {
		col = put(s, row, 0, FL_DASH_A_BOLD, " filter: ");
		col = put(s, row, col, FL_DASH_A_NORMAL, d->edit);
		s->cursor_row = row;
		s->cursor_col = col < s->cols ? col : s->cols - 1;
		put(s, row, col + 2, FL_DASH_A_DIM,
		    "state=S model=M stage=NAME KEY=VALUE, Enter, Esc");
		return;
	}
	if (d->message[0] != '\0') {
		fmt(t, sizeof(t), " %s", d->message);
		put(s, row, 0,
		    d->is_message_bad ? FL_DASH_A_FAIL : FL_DASH_A_BOLD, t);
		return;
	}
	{
		static const char *const keys[][2] = {
			{"Enter", "open"}, {"p", "pause"},     {"r", "resume"},
			{"a", "approve"},  {"R", "roll back"}, {"/", "filter"},
			{"Tab", "pane"},   {"?", "help"},      {"q", "quit"},
		};
		int is_over = d->screen == FL_DASH_OVERVIEW;

		col = 0;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			/* the overview opens a rollout; a rollout filters */
			if ((i == 0 && !is_over) ||
			    (keys[i][0][0] == '/' && is_over))
				continue;
			col = put(s, row, col + 1, FL_DASH_A_BOLD, keys[i][0]);
			col = put(s, row, col + 1, FL_DASH_A_DIM, keys[i][1]);
		}
		if (!is_over && !d->is_fixed)
			put(s, row, col + 2, FL_DASH_A_DIM, "Esc back");
	}
}

/* `?`: a box over the middle with the keys and the bar's legend. */
static void draw_help(struct fl_dash_screen *s)
{
	static const char *const lines[] = {
		"fleetctl watch: keys",
		"",
		"p        pause: no new offers, devices in flight finish",
		"r        resume (after a gate paused it: override the gate)",
		"a        approve the stage or the hold it waits for",
		"R        roll the whole fleet back (asks y/N first)",
		"/        filter devices: state=S model=M stage=NAME K=V",
		"Tab      next pane: stages, events, devices",
		"arrows   scroll the pane (overview: choose a rollout)",
		"Enter    open the chosen rollout;  Esc  back",
		"q        quit (Ctrl-C too)",
		"",
		"bars:  # ok   + installing   > downloading   ~ offered",
		"       X failed   ? unreached   < rolled back",
		"       - skipped   . waiting",
		"",
		"any key closes this help",
	};
	int n = (int)(sizeof(lines) / sizeof(lines[0])), w = 64;
	int top = (s->rows - n - 2) / 2, left = (s->cols - w) / 2;

	if (top < 1)
		top = 1;
	if (left < 0)
		left = 0;
	for (int i = -1; i <= n; i++) {
		int r = top + i + 1;

		fill(s, r, left, left + w, FL_DASH_A_SELECT);
		if (i < 0 || i == n) {
			for (int c = left + 1; c < left + w - 1; c++)
				put_to(s, r, c, left + w, FL_DASH_A_SELECT,
				       "-");
			put_to(s, r, left, left + w, FL_DASH_A_SELECT, "+");
			put_to(s, r, left + w - 1, left + w, FL_DASH_A_SELECT,
			       "+");
			continue;
		}
		put_to(s, r, left, left + w, FL_DASH_A_SELECT, "|");
		put_to(s, r, left + 2, left + w - 1, FL_DASH_A_SELECT,
		       lines[i]);
		put_to(s, r, left + w - 1, left + w, FL_DASH_A_SELECT, "|");
	}
}

/* ---- drawing: screens --------------------------------------------------- */

static void draw_rollout(const struct fl_dash *d, struct fl_dash_screen *s)
{
	const cJSON *r = d->rollout;
	char t[LINE_MAX], a[FL_DASH_NAME_MAX], b[FL_DASH_NAME_MAX], at[40];
	int row = 1, stages_top, lower_top;

	if (r == NULL) {
		put(s, 2, 1, FL_DASH_A_DIM,
		    d->error[0] ? "" : "asking fleetd...");
		draw_lower(d, s, 4, s->rows - 1);
		return;
	}
	/* facts */
	fmt(t, sizeof(t), " %s %s",
	    ascii(a, sizeof(a), str(r, "component"), "?"),
	    ascii(b, sizeof(b), str(r, "version"), "?"));
	if (has_num(r, "targets"))
		cat(t, sizeof(t), "  %" PRIu64 "/%" PRIu64 " devices in stages",
		    count(r, "members"), count(r, "targets"));
	if (count(r, "unplaced") > 0)
		cat(t, sizeof(t), ", %" PRIu64 " not placed",
		    count(r, "unplaced"));
	if (has_num(r, "started") || has_num(r, "created")) {
		clock_of(num(r, "started", num(r, "created", 0)), at,
			 sizeof(at));
		cat(t, sizeof(t), "  started %s", at);
	}
	if (str(r, "started_by") != NULL)
		cat(t, sizeof(t), " by %s",
		    ascii(a, sizeof(a), str(r, "started_by"), "?"));
	put(s, row++, 0, FL_DASH_A_NORMAL, t);
	/* what it waits for, or how it ended */
	if (d->error[0] != '\0') {
		fmt(t, sizeof(t), " ! %s (retrying)", d->error);
		put(s, row++, 0, FL_DASH_A_FAIL, t);
	} else if (fl_dash_is_over(r)) {
		fmt(t, sizeof(t), " %s", state_word(r));
		for (char *p = t; *p != '\0'; p++)
			if (*p == '_')
				*p = ' ';
		if (has_num(r, "ended")) {
			fl_render_instant(num(r, "ended", 0), at, sizeof(at));
			cat(t, sizeof(t), " at %s", at);
		}
		put(s, row++, 0,
		    is_str(r, "state", "complete") ? FL_DASH_A_OK
						   : FL_DASH_A_BACK,
		    t);
	} else {
		waiting_text(r, d->now_s, t, sizeof(t));
		if (t[0] == '\0' && is_str(r, "state", "running"))
			fmt(t, sizeof(t), "rolling out: nothing to wait for");
		if (t[0] != '\0' || !cJSON_IsObject(item(r, "rollback")))
			put(s, row++, 1,
			    cJSON_IsObject(item(r, "waiting")) ? FL_DASH_A_WARN
							       : FL_DASH_A_DIM,
			    t);
	}
	row += draw_rollback(d, s, row, r);
	stages_top = row + 1;
	/* the stages take what they need, leaving LOWER_MIN rows */
	lower_top = s->rows - 1 - LOWER_MIN;
	if (lower_top < stages_top + 1)
		lower_top = stages_top + 1;
	{
		int used = draw_stages(d, s, stages_top, lower_top);

		if (stages_top + used + 1 < lower_top)
			lower_top = stages_top + used + 1;
	}
	draw_lower(d, s, lower_top, s->rows - 1);
}

static void draw_overview(const struct fl_dash *d, struct fl_dash_screen *s)
{
	const cJSON *r;
	int row = 2, i = 0, lower_top, width, max_rows;
	char t[LINE_MAX], name[FL_DASH_NAME_MAX], bar[BAR_MAX + 3];

	if (d->error[0] != '\0') {
		fmt(t, sizeof(t), " ! %s (retrying)", d->error);
		put(s, 1, 0, FL_DASH_A_FAIL, t);
	}
	if (cJSON_GetArraySize(d->active) == 0) {
		put(s, row, 1, FL_DASH_A_DIM,
		    d->active == NULL ? "asking fleetd..."
				      : "no active rollout: waiting for one "
					"(fleetctl rollout start PLAN)");
		draw_lower(d, s, row + 2, s->rows - 1);
		return;
	}
	fmt(t, sizeof(t), "  %-16s %-12s %-10s %-11s %s", "ROLLOUT", "STATE",
	    "STAGE", "  DEVICES", "PROGRESS");
	put(s, row++, 0, FL_DASH_A_BOLD, t);
	max_rows = (s->rows - 1 - LOWER_MIN - row) / 2;
	cJSON_ArrayForEach(r, d->active)
	{
		uint64_t n[S_N] = {0}, m[S_N];
		const cJSON *st;
		int col, first = d->sel >= max_rows ? d->sel - max_rows + 1 : 0;
		uint8_t attr =
			i == d->sel ? FL_DASH_A_SELECT : FL_DASH_A_NORMAL;

		if (i < first || i >= first + max_rows) {
			i++;
			continue;
		}
		cJSON_ArrayForEach(st, item(r, "stages"))
		{
			split_of(st, m);
			for (unsigned k = 0; k < S_N; k++)
				n[k] += m[k];
		}
		ascii(name, sizeof(name), str(r, "name"), "?");
		fmt(t, sizeof(t), "%s %-16.16s %-12s ", i == d->sel ? ">" : " ",
		    name, state_word(r));
		col = put(s, row, 0, attr, t);
		ascii(name, sizeof(name), str(r, "stage"), "-");
		fmt(t, sizeof(t), "%-10.10s %5" PRIu64 "/%-5" PRIu64 " ", name,
		    count(r, "members"), count(r, "targets"));
		col = put(s, row, col, attr, t);
		width = s->cols - col - 3;
		if (width > BAR_MAX)
			width = BAR_MAX;
		if (width >= 4) {
			bar_of(n, count(r, "targets"), (unsigned)width, bar,
			       sizeof(bar));
			put_bar(s, row, col, bar);
		}
		row++;
		if (cJSON_IsObject(item(r, "rollback"))) {
			const cJSON *rb = item(r, "rollback");

			fmt(t, sizeof(t),
			    "rolling back: %" PRIu64 "/%" PRIu64
			    " back, %" PRIu64 " failed, %" PRIu64 " pending",
			    count(rb, "done"), count(rb, "sent"),
			    count(rb, "failed"), count(rb, "pending"));
			put(s, row, 3, FL_DASH_A_BACK, t);
		} else {
			waiting_text(r, d->now_s, t, sizeof(t));
			put(s, row, 3, FL_DASH_A_WARN, t);
		}
		row++;
		i++;
	}
	lower_top = row + 1;
	draw_lower(d, s, lower_top, s->rows - 1);
}

void fl_dash_draw(const struct fl_dash *d, int rows, int cols,
		  struct fl_dash_screen *s)
{
	if (rows > FL_DASH_MAX_ROWS)
		rows = FL_DASH_MAX_ROWS;
	if (cols > FL_DASH_MAX_COLS)
		cols = FL_DASH_MAX_COLS;
	if (rows < 1)
		rows = 1;
	if (cols < 1)
		cols = 1;
	s->rows = rows;
	s->cols = cols;
	s->cursor_row = s->cursor_col = -1;
	for (int r = 0; r < rows; r++)
		fill(s, r, 0, cols, FL_DASH_A_NORMAL);
	if (rows < FL_DASH_MIN_ROWS || cols < FL_DASH_MIN_COLS) {
		char t[80];

		fmt(t, sizeof(t), "terminal too small: %dx%d, need %dx%d", cols,
		    rows, FL_DASH_MIN_COLS, FL_DASH_MIN_ROWS);
		put(s, 0, 0, FL_DASH_A_BOLD, t);
		put(s, rows > 1 ? 1 : 0, 0, FL_DASH_A_DIM, "q quits");
		return;
	}
	draw_title(d, s);
	if (d->screen == FL_DASH_OVERVIEW)
		draw_overview(d, s);
	else
		draw_rollout(d, s);
	draw_footer(d, s);
	if (d->mode == FL_DASH_M_HELP)
		draw_help(s);
}

size_t fl_dash_text(const struct fl_dash_screen *s, char *buf, size_t size)
{
	size_t n = 0;

	if (size == 0)
		return 0;
	for (int r = 0; r < s->rows; r++) {
		int end = s->cols;

		while (end > 0 &&
		       s->cells[(size_t)r * (size_t)s->cols + (size_t)end - 1]
				       .ch == ' ')
			end--;
		for (int c = 0; c < end && n + 2 < size; c++)
			buf[n++] = s->cells[(size_t)r * (size_t)s->cols +
					    (size_t)c]
					   .ch;
		if (n + 1 < size)
			buf[n++] = '\n';
	}
	buf[n] = '\0';
	return n;
}

/* ---- line mode ---------------------------------------------------------- */

void fl_dash_line(const cJSON *rollout, char *buf, size_t size)
{
	const cJSON *st, *cur = NULL, *rb = item(rollout, "rollback");
	uint64_t n[S_N] = {0}, m[S_N];
	char a[FL_DASH_NAME_MAX], w[LINE_MAX], g[24], mx[24];
	const char *stage = str(rollout, "stage");

	cJSON_ArrayForEach(st, item(rollout, "stages"))
	{
		split_of(st, m);
		for (unsigned k = 0; k < S_N; k++)
			n[k] += m[k];
		if (stage != NULL && is_str(st, "name", stage))
			cur = st;
	}
	fmt(buf, size, "%s %s", ascii(a, sizeof(a), str(rollout, "name"), "?"),
	    state_word(rollout));
	if (stage != NULL)
		cat(buf, size, ", stage %s", ascii(a, sizeof(a), stage, "?"));
	cat(buf, size, ": %" PRIu64 "/%" PRIu64 " succeeded", n[S_SUCCEEDED],
	    count(rollout, "targets"));
	if (n[S_FAILED] > 0)
		cat(buf, size, ", %" PRIu64 " failed", n[S_FAILED]);
	if (n[S_OFFERED] + n[S_DOWNLOADING] + n[S_INSTALLING] > 0)
		cat(buf, size,
		    ", %" PRIu64 " in flight (%" PRIu64 " offered, %" PRIu64
		    " downloading, %" PRIu64 " installing)",
		    n[S_OFFERED] + n[S_DOWNLOADING] + n[S_INSTALLING],
		    n[S_OFFERED], n[S_DOWNLOADING], n[S_INSTALLING]);
	if (n[S_UNREACHED] > 0)
		cat(buf, size, ", %" PRIu64 " unreached", n[S_UNREACHED]);
	if (n[S_ROLLED_BACK] > 0)
		cat(buf, size, ", %" PRIu64 " rolled back", n[S_ROLLED_BACK]);
	if (cur != NULL && !is_str(cur, "state", "pending") &&
	    cJSON_IsObject(item(cur, "gate"))) {
		const cJSON *gt = item(cur, "gate");

		fl_render_percent(dnum(gt, "failure_rate", 0.0), g, sizeof(g));
		cat(buf, size, "; gate %s", g);
		if (has_num(gt, "max_failure_rate")) {
			fl_render_percent(dnum(gt, "max_failure_rate", 0.0), mx,
					  sizeof(mx));
			cat(buf, size, " (max %s)", mx);
		}
		cat(buf, size, ", %" PRIu64 " judged", count(gt, "judged"));
		if (has_num(gt, "min_devices"))
			cat(buf, size, " (min %" PRIu64 ")",
			    count(gt, "min_devices"));
	}
	if (cJSON_IsObject(rb))
		cat(buf, size,
		    "; rollback %" PRIu64 "/%" PRIu64 " back, %" PRIu64
		    " failed, %" PRIu64 " pending",
		    count(rb, "done"), count(rb, "sent"), count(rb, "failed"),
		    count(rb, "pending"));
	/* what it waits for, with the instant but not "in 5m": the line
	 * changes only when the state does */
	w[0] = '\0';
	if (!fl_dash_is_over(rollout))
		waiting_text(rollout, num(item(rollout, "waiting"), "until", 0),
			     w, sizeof(w));
	if (w[0] != '\0') {
		char *p = strstr(w, " (just now)");

		if (p != NULL)
			memmove(p, p + 11, strlen(p + 11) + 1);
		p = strstr(w, ": press ");
		if (p != NULL)
			*p = '\0';
		cat(buf, size, "; %s", w);
	}
}

int fl_dash_event_is_notable(const struct fl_dash_event *e)
{
	static const char *const kinds[] = {
		"decision.stage_started",    "decision.stage_passed",
		"decision.stage_failed",     "decision.await_approval",
		"decision.paused",	     "decision.resumed",
		"decision.rollback_started", "decision.rolled_back",
		"decision.complete",	     "decision.cancelled",
	};

	if (strncmp(e->kind, "action.", 7) == 0)
		return 1;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(e->kind, kinds[i]) == 0)
			return 1;
	return 0;
}

void fl_dash_event_line(const struct fl_dash_event *e, char *buf, size_t size)
{
	fmt(buf, size, "event %" PRIu64 " %s %s", e->seq, e->kind,
	    e->rollout[0] ? e->rollout : "-");
	if (e->stage[0] != '\0')
		cat(buf, size, " stage %s", e->stage);
	if (e->device[0] != '\0')
		cat(buf, size, " device %s", e->device);
	if (e->detail[0] != '\0')
		cat(buf, size, " %s", e->detail);
}
