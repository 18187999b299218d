/*
 * view.c -- fleetd's answers as fleetctl's plain text (view.h).
 *
 * Method: every value is read through a few tolerant accessors (a missing
 * or ill-typed field is "absent", never a crash), and every string from
 * the server goes through txt(), which hands back a copy cleaned of
 * control characters from a small ring of buffers (fleetctl is single-
 * threaded; a ring of TXT_SLOTS lets one printf use several). Lists of
 * facts are built in a bounded string builder (struct sb) that cuts
 * instead of overflowing.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fl/err.h"
#include "render.h"
#include "view.h"

#define TXT_SLOTS  16
#define TXT_MAX	   256
#define SB_MAX	   1024
#define DETAIL_MAX 160 /* characters of an event's detail */
#define WHEN_MAX   96  /* "RFC 3339 (5m ago)" */

/* ---- tolerant accessors ------------------------------------------------- */

static const cJSON *item(const cJSON *o, const char *k)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k)
				 : NULL;
}

static const char *clean(const char *s)
{
	static char ring[TXT_SLOTS][TXT_MAX];
	static unsigned next;
	char *b = ring[next++ % TXT_SLOTS];

	return fl_render_clean(b, TXT_MAX, s);
}

/* The string o.k, cleaned, or NULL. */
static const char *txt(const cJSON *o, const char *k)
{
	const cJSON *x = item(o, k);

	return cJSON_IsString(x) ? clean(x->valuestring) : NULL;
}

static const char *txt_or(const cJSON *o, const char *k, const char *dflt)
{
	const char *s = txt(o, k);

	return s != NULL ? s : dflt;
}

static int has_num(const cJSON *o, const char *k)
{
	return cJSON_IsNumber(item(o, k));
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

static double dnum(const cJSON *o, const char *k, double dflt)
{
	const cJSON *x = item(o, k);

	return cJSON_IsNumber(x) ? x->valuedouble : dflt;
}

static int is_true(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(item(o, k));
}

/* A number as JSON wrote it: whole ones without exponent or decimals. */
static const char *num_text(double d, char *buf, size_t size)
{
	if (d == (double)(int64_t)d && d > -1e15 && d < 1e15)
		snprintf(buf, size, "%" PRId64, (int64_t)d);
	else
		snprintf(buf, size, "%g", d);
	return buf;
}

/* ---- a bounded string builder ------------------------------------------- */

struct sb {
	char s[SB_MAX];
	size_t n;
};

static void sb_init(struct sb *b)
{
	b->n = 0;
	b->s[0] = '\0';
}

static void sb_add(struct sb *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->n + 1 >= sizeof(b->s))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
	va_end(ap);
	if (n < 0)
		b->s[b->n] = '\0';
	else if ((size_t)n >= sizeof(b->s) - b->n)
		b->n = sizeof(b->s) - 1;
	else
		b->n += (size_t)n;
}

/* ", " between items. */
static void sb_item(struct sb *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_item(struct sb *b, const char *fmt, ...)
{
	char one[SB_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(one, sizeof(one), fmt, ap);
	va_end(ap);
	sb_add(b, "%s%s", b->n > 0 ? ", " : "", one);
}

static int done(const struct fl_view *v)
{
	return ferror(v->f) ? FL_EIO : 0;
}

/* ---- small phrases ------------------------------------------------------ */

static const char *plural(int64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* "2026-11-20T13:00:00Z (1h 0m ago)" */
static const char *when(const struct fl_view *v, int64_t t, char *buf,
			size_t size)
{
	char at[40], ago[40];

	fl_render_instant(t, at, sizeof(at));
	fl_render_ago(t, v->now_s, ago, sizeof(ago));
	snprintf(buf, size, "%s (%s)", at, ago);
	return buf;
}

/* "firmware 2.4.0" */
static const char *version_of(const cJSON *r, char *buf, size_t size)
{
	snprintf(buf, size, "%s %s", txt_or(r, "component", "?"),
		 txt_or(r, "version", "?"));
	return buf;
}

/* The state as an operator reads it: "running" or "paused". */
static const char *state_of(const cJSON *r)
{
	const char *s = txt_or(r, "state", "?");

	return strcmp(s, "running") == 0 && is_true(r, "paused") ? "paused" : s;
}

/* The short digest shown for an artifact. */
static const char *short_sha(const cJSON *r, char *buf, size_t size)
{
	const char *s = txt_or(r, "artifact_sha256", "-");

	snprintf(buf, size, "%.12s", s);
	return buf;
}

/* ---- stages ------------------------------------------------------------- */

static const struct {
	const char *key, *text;
} count_names[] = {
	{"succeeded", "succeeded"}, {"failed", "failed"},
	{"in_flight", "in flight"}, {"unreached", "unreached"},
	{"pending", "pending"},	    {"held", "held"},
	{"deferred", "deferred"},   {"skipped", "skipped"},
	{"cancelled", "cancelled"},
};

static const char legend[] = "# succeeded  > in flight  X failed  "
			     "? unreached  - skipped or cancelled  . not yet";

static void stage_bar(const cJSON *st, unsigned width, char *buf, size_t size)
{
	const cJSON *c = item(st, "counts");
	struct fl_bar_seg segs[5];
	uint64_t total = 0;

	segs[0] = (struct fl_bar_seg){(uint64_t)num(c, "succeeded", 0), '#'};
	segs[1] = (struct fl_bar_seg){(uint64_t)num(c, "failed", 0), 'X'};
	segs[2] = (struct fl_bar_seg){(uint64_t)num(c, "in_flight", 0), '>'};
	segs[3] = (struct fl_bar_seg){(uint64_t)num(c, "unreached", 0), '?'};
	segs[4] = (struct fl_bar_seg){
		(uint64_t)(num(c, "skipped", 0) + num(c, "cancelled", 0)), '-'};
	for (size_t i = 0; i < sizeof(count_names) / sizeof(count_names[0]);
	     i++) {
		int64_t n = num(c, count_names[i].key, 0);

		total += n > 0 ? (uint64_t)n : 0;
	}
	if (num(st, "members", 0) > (int64_t)total)
		total = (uint64_t)num(st, "members", 0);
	fl_render_bar(buf, size, width, segs, 5, total, '.');
}

/* "40 succeeded, 30 in flight, 76 pending" */
static void counts_text(const cJSON *st, struct sb *b)
{
	const cJSON *c = item(st, "counts");

	for (size_t i = 0; i < sizeof(count_names) / sizeof(count_names[0]);
	     i++) {
		int64_t n = num(c, count_names[i].key, 0);

		if (n > 0)
			sb_item(b, "%" PRId64 " %s", n, count_names[i].text);
	}
	if (b->n == 0)
		sb_add(b, "no devices yet");
}

/* "failure rate 0.0% (max 5.0%), 15 judged (min 10), soak 1h left" */
static void gate_text(const cJSON *st, struct sb *b)
{
	const cJSON *g = item(st, "gate");
	char rate[24], max[24], d[32];

	if (!cJSON_IsObject(g)) {
		sb_add(b, "-");
		return;
	}
	fl_render_percent(dnum(g, "failure_rate", 0.0), rate, sizeof(rate));
	if (has_num(g, "max_failure_rate")) {
		fl_render_percent(dnum(g, "max_failure_rate", 0.0), max,
				  sizeof(max));
		sb_item(b, "failure rate %s (max %s)", rate, max);
	} else {
		sb_item(b, "failure rate %s", rate);
	}
	if (has_num(g, "max_failures"))
		sb_item(b, "%" PRId64 " failed (max %" PRId64 ")",
			num(g, "failed", 0), num(g, "max_failures", 0));
	if (has_num(g, "min_devices"))
		sb_item(b, "%" PRId64 " judged (min %" PRId64 ")",
			num(g, "judged", 0), num(g, "min_devices", 0));
	else
		sb_item(b, "%" PRId64 " judged", num(g, "judged", 0));
	if (num(g, "soak_left_s", 0) > 0) {
		fl_render_duration(num(g, "soak_left_s", 0), d, sizeof(d));
		sb_item(b, "soak %s left", d);
	} else if (num(g, "soak_s", 0) > 0) {
		fl_render_duration(num(g, "soak_s", 0), d, sizeof(d));
		sb_item(b, "soak %s", d);
	}
}

/* What a stage's approval says, or nothing when none is required. */
static void approval_text(const struct fl_view *v, const cJSON *st,
			  const char *rollout, struct sb *b)
{
	const cJSON *a = item(st, "approval");
	char at[WHEN_MAX];

	if (!cJSON_IsObject(a) || !is_true(a, "required"))
		return;
	if (is_true(a, "approved")) {
		sb_add(b, "approved by %s", txt_or(a, "who", "?"));
		if (has_num(a, "at"))
			sb_add(b, " at %s",
			       when(v, num(a, "at", 0), at, sizeof(at)));
	} else {
		sb_add(b, "needs approval: fleetctl approve %s %s", rollout,
		       txt_or(st, "name", "?"));
	}
}

/* ---- the rollout's head ------------------------------------------------- */

/* "waiting for ...", "paused ..." or nothing. */
static void waiting_text(const struct fl_view *v, const cJSON *r, struct sb *b)
{
	const cJSON *w = item(r, "waiting");
	const char *why = txt(w, "why");
	char until[WHEN_MAX] = "", name[TXT_MAX], what[TXT_MAX];

	if (why == NULL)
		return;
	snprintf(name, sizeof(name), "%s", txt_or(r, "name", "?"));
	if (has_num(w, "until"))
		when(v, num(w, "until", 0), until, sizeof(until));
	if (strcmp(why, "approval") == 0) {
		snprintf(what, sizeof(what), "%s", txt_or(w, "stage", "?"));
		sb_add(b,
		       "waiting for approval of stage %s: fleetctl approve %s "
		       "%s",
		       what, name, what);
	} else if (strcmp(why, "hold") == 0) {
		snprintf(what, sizeof(what), "%s", txt_or(w, "hold", "?"));
		if (until[0] != '\0')
			sb_add(b, "waiting for hold %s until %s", what, until);
		else
			sb_add(b,
			       "waiting for hold %s to be approved: fleetctl "
			       "approve %s %s",
			       what, name, what);
	} else if (strcmp(why, "window") == 0) {
		if (until[0] != '\0')
			sb_add(b,
			       "waiting for the maintenance window, opens %s",
			       until);
		else
			sb_add(b, "waiting for the next maintenance window");
	} else if (strcmp(why, "rate") == 0) {
		if (until[0] != '\0')
			sb_add(b, "waiting for the rate limit, next offers %s",
			       until);
		else
			sb_add(b, "waiting for the rate limit");
	} else if (strcmp(why, "pause") == 0) {
		sb_add(b, "paused by an operator: fleetctl resume %s", name);
	} else {
		sb_add(b, "waiting for %s", why);
		if (until[0] != '\0')
			sb_add(b, " until %s", until);
	}
}

/* "by the gate of stage wave-1, since ... (5m ago)" */
static void rollback_head(const struct fl_view *v, const cJSON *rb,
			  struct sb *b)
{
	const char *why = txt_or(rb, "why", "?");
	char at[WHEN_MAX];

	if (strcmp(why, "gate") == 0)
		sb_add(b, "by the gate of stage %s", txt_or(rb, "stage", "?"));
	else if (strcmp(why, "operator") == 0)
		sb_add(b, "by an operator");
	else
		sb_add(b, "by %s", why);
	if (has_num(rb, "started"))
		sb_add(b, ", since %s",
		       when(v, num(rb, "started", 0), at, sizeof(at)));
}

/* "97 back on the old version, 1 failed, 22 pending (120 sent)" and its
 * bar. */
static void rollback_counts(const cJSON *rb, unsigned width, char *bar,
			    size_t bar_size, struct sb *b)
{
	int64_t sent = num(rb, "sent", 0), ok = num(rb, "done", 0),
		failed = num(rb, "failed", 0), pending = num(rb, "pending", 0);
	struct fl_bar_seg segs[2] = {
		{(uint64_t)(ok > 0 ? ok : 0), '#'},
		{(uint64_t)(failed > 0 ? failed : 0), 'X'}};

	fl_render_bar(bar, bar_size, width, segs, 2,
		      (uint64_t)(sent > 0 ? sent : 0), '.');
	sb_add(b,
	       "%" PRId64 "/%" PRId64 " back, %" PRId64 " failed, %" PRId64
	       " pending",
	       ok, sent, failed, pending);
}

/* ---- rollout list ------------------------------------------------------- */

int fl_view_rollout_list(const struct fl_view *v, const cJSON *list)
{
	static const char *const head[] = {"NAME",  "STATE",   "VERSION",
					   "STAGE", "DEVICES", "STARTED",
					   "BY"};
	struct fl_table *t = NULL;
	const cJSON *r;
	int rc;

	if (cJSON_GetArraySize(list) == 0) {
		fputs("no rollouts\n", v->f);
		return done(v);
	}
	rc = fl_table_new(&t, 7, head, FL_VIEW_PAGE_ROWS);
	if (rc != 0)
		return rc;
	fl_table_right(t, 4);
	cJSON_ArrayForEach(r, list)
	{
		char ver[96], dev[48] = "-", ago[40] = "-";
		const char *cells[7];

		version_of(r, ver, sizeof(ver));
		if (has_num(r, "members") && has_num(r, "targets"))
			snprintf(dev, sizeof(dev), "%" PRId64 "/%" PRId64,
				 num(r, "members", 0), num(r, "targets", 0));
		if (has_num(r, "started") || has_num(r, "created"))
			fl_render_ago(num(r, "started", num(r, "created", 0)),
				      v->now_s, ago, sizeof(ago));
		cells[0] = txt(r, "name");
		cells[1] = state_of(r);
		cells[2] = ver;
		cells[3] = txt(r, "stage");
		cells[4] = dev;
		cells[5] = ago;
		cells[6] = txt(r, "started_by");
		if (fl_table_rows(t) == FL_VIEW_PAGE_ROWS)
			rc = fl_table_flush(t, v->f);
		if (rc == 0)
			rc = fl_table_add(t, cells);
		if (rc != 0)
			break;
	}
	if (rc == 0)
		rc = fl_table_flush(t, v->f);
	fl_table_free(t);
	return rc != 0 ? rc : done(v);
}

/* ---- rollout status ----------------------------------------------------- */

static void status_detailed(const struct fl_view *v, const cJSON *r)
{
	char name[TXT_MAX];
	const cJSON *stages = item(r, "stages"), *st, *rb = item(r, "rollback");
	const cJSON *approvals = item(r, "approvals"), *a;
	char ver[96], sha[16], at[WHEN_MAX], bar[FL_VIEW_BAR_TTY + 3];
	struct sb b;

	snprintf(name, sizeof(name), "%s", txt_or(r, "name", "?"));
	fprintf(v->f, "rollout %s: %s", name, state_of(r));
	if (txt(r, "stage") != NULL)
		fprintf(v->f, ", stage %s", txt(r, "stage"));
	fputc('\n', v->f);
	fprintf(v->f, "  version   %s (artifact %s)\n",
		version_of(r, ver, sizeof(ver)),
		short_sha(r, sha, sizeof(sha)));
	sb_init(&b);
	if (has_num(r, "started") || has_num(r, "created"))
		sb_add(&b, "%s",
		       when(v, num(r, "started", num(r, "created", 0)), at,
			    sizeof(at)));
	if (txt(r, "started_by") != NULL)
		sb_add(&b, "%sby %s", b.n ? " " : "", txt(r, "started_by"));
	fprintf(v->f, "  started   %s\n", b.n ? b.s : "-");
	if (has_num(r, "ended"))
		fprintf(v->f, "  ended     %s\n",
			when(v, num(r, "ended", 0), at, sizeof(at)));
	if (has_num(r, "targets")) {
		fprintf(v->f,
			"  devices   %" PRId64 " %s, %" PRId64 " in stages",
			num(r, "targets", 0),
			plural(num(r, "targets", 0), "target", "targets"),
			num(r, "members", 0));
		if (num(r, "unplaced", 0) > 0)
			fprintf(v->f, ", %" PRId64 " not placed",
				num(r, "unplaced", 0));
		fputc('\n', v->f);
	}
	sb_init(&b);
	waiting_text(v, r, &b);
	if (b.n > 0)
		fprintf(v->f, "  %s\n", b.s);
	cJSON_ArrayForEach(st, stages)
	{
		const char *state = txt_or(st, "state", "?");
		int is_pending = strcmp(state, "pending") == 0;

		fputc('\n', v->f);
		fprintf(v->f, "%s  %s  %" PRId64 " %s", txt_or(st, "name", "?"),
			state, num(st, "members", 0),
			plural(num(st, "members", 0), "device", "devices"));
		if (has_num(st, "started"))
			fprintf(v->f, "  started %s",
				when(v, num(st, "started", 0), at, sizeof(at)));
		fputc('\n', v->f);
		if (!is_pending || num(st, "members", 0) > 0) {
			stage_bar(st, FL_VIEW_BAR_TTY, bar, sizeof(bar));
			sb_init(&b);
			counts_text(st, &b);
			fprintf(v->f, "  %s %s\n", bar, b.s);
		}
		if (strcmp(state, "running") == 0) {
			const cJSON *p = item(st, "progress");

			fprintf(v->f,
				"  progress  %" PRId64 " offered, %" PRId64
				" downloading, %" PRId64 " installed, %" PRId64
				" activated, %" PRId64 " committed\n",
				num(p, "offered", 0), num(p, "downloading", 0),
				num(p, "installed", 0), num(p, "activated", 0),
				num(p, "committed", 0));
		}
		if (!is_pending) {
			sb_init(&b);
			gate_text(st, &b);
			fprintf(v->f, "  gate      %s\n", b.s);
		}
		sb_init(&b);
		approval_text(v, st, name, &b);
		if (b.n > 0)
			fprintf(v->f, "  approval  %s\n", b.s);
	}
	if (cJSON_IsObject(rb)) {
		char rbar[FL_VIEW_BAR_TTY + 3];

		fputc('\n', v->f);
		sb_init(&b);
		rollback_head(v, rb, &b);
		fprintf(v->f, "rollback %s\n", b.s);
		sb_init(&b);
		rollback_counts(rb, FL_VIEW_BAR_TTY, rbar, sizeof(rbar), &b);
		fprintf(v->f, "  %s %s\n", rbar, b.s);
	}
	if (cJSON_GetArraySize(approvals) > 0) {
		fputc('\n', v->f);
		cJSON_ArrayForEach(a, approvals)
		{
			fprintf(v->f, "approved  %s%s by %s",
				txt_or(a, "name", "?"),
				is_true(a, "hold") ? " (hold)" : "",
				txt_or(a, "who", "?"));
			if (has_num(a, "at"))
				fprintf(v->f, " at %s",
					when(v, num(a, "at", 0), at,
					     sizeof(at)));
			fputc('\n', v->f);
		}
	}
	fprintf(v->f, "\n%s\n", legend);
}

static int status_compact(const struct fl_view *v, const cJSON *r)
{
	static const char *const head[] = {"STAGE",    "STATE", "DEVICES",
					   "PROGRESS", "OK",	"FAILED",
					   "ACTIVE",   "GATE"};
	const cJSON *st, *rb = item(r, "rollback");
	char ver[96], ago[40];
	struct fl_table *t = NULL;
	struct sb b;
	int rc;

	sb_init(&b);
	sb_add(&b, "%s  %s  %s", txt_or(r, "name", "?"), state_of(r),
	       version_of(r, ver, sizeof(ver)));
	if (txt(r, "stage") != NULL)
		sb_add(&b, "  stage %s", txt(r, "stage"));
	if (has_num(r, "targets"))
		sb_add(&b, "  %" PRId64 "/%" PRId64 " devices",
		       num(r, "members", 0), num(r, "targets", 0));
	if (has_num(r, "started") || has_num(r, "created")) {
		fl_render_ago(num(r, "started", num(r, "created", 0)), v->now_s,
			      ago, sizeof(ago));
		sb_add(&b, "  started %s", ago);
	}
	if (txt(r, "started_by") != NULL)
		sb_add(&b, " by %s", txt(r, "started_by"));
	if (has_num(r, "ended")) {
		fl_render_ago(num(r, "ended", 0), v->now_s, ago, sizeof(ago));
		sb_add(&b, ", ended %s", ago);
	}
	fprintf(v->f, "%s\n", b.s);
	sb_init(&b);
	waiting_text(v, r, &b);
	if (b.n > 0)
		fprintf(v->f, "%s\n", b.s);
	rc = fl_table_new(&t, 8, head, FL_VIEW_PAGE_ROWS);
	if (rc != 0)
		return rc;
	for (unsigned c = 2; c <= 6; c++)
		if (c != 3)
			fl_table_right(t, c);
	cJSON_ArrayForEach(st, item(r, "stages"))
	{
		const cJSON *c = item(st, "counts");
		char bar[FL_VIEW_BAR_COMPACT + 3], mem[24], ok[24], bad[24],
			act[24];
		const char *cells[8];
		struct sb g;

		stage_bar(st, FL_VIEW_BAR_COMPACT, bar, sizeof(bar));
		snprintf(mem, sizeof(mem), "%" PRId64, num(st, "members", 0));
		snprintf(ok, sizeof(ok), "%" PRId64, num(c, "succeeded", 0));
		snprintf(bad, sizeof(bad), "%" PRId64, num(c, "failed", 0));
		snprintf(act, sizeof(act), "%" PRId64, num(c, "in_flight", 0));
		sb_init(&g);
		if (strcmp(txt_or(st, "state", "?"), "pending") != 0)
			gate_text(st, &g);
		if (cJSON_IsObject(item(st, "approval")) &&
		    is_true(item(st, "approval"), "required") &&
		    !is_true(item(st, "approval"), "approved"))
			sb_item(&g, "needs approval");
		cells[0] = txt_or(st, "name", "?");
		cells[1] = txt_or(st, "state", "?");
		cells[2] = mem;
		cells[3] = bar;
		cells[4] = ok;
		cells[5] = bad;
		cells[6] = act;
		cells[7] = g.n ? g.s : "-";
		rc = fl_table_add(t, cells);
		if (rc != 0)
			break;
	}
	if (rc == 0)
		rc = fl_table_flush(t, v->f);
	fl_table_free(t);
	if (rc != 0)
		return rc;
	if (cJSON_IsObject(rb)) {
		char rbar[FL_VIEW_BAR_COMPACT + 3];

		sb_init(&b);
		rollback_head(v, rb, &b);
		fprintf(v->f, "rollback %s\n", b.s);
		sb_init(&b);
		rollback_counts(rb, FL_VIEW_BAR_COMPACT, rbar, sizeof(rbar),
				&b);
		fprintf(v->f, "  %s %s\n", rbar, b.s);
	}
	return 0;
}

int fl_view_rollout_status(const struct fl_view *v, const cJSON *rollout)
{
	int rc = 0;

	if (v->is_tty)
		status_detailed(v, rollout);
	else
		rc = status_compact(v, rollout);
	return rc != 0 ? rc : done(v);
}

/* ---- rollback ----------------------------------------------------------- */

int fl_view_rollback_preview(const struct fl_view *v, const cJSON *rollout,
			     const cJSON *preview)
{
	const cJSON *devs = item(preview, "devices"), *d;
	int64_t revert = num(preview, "revert", 0),
		cancel = num(preview, "cancel", 0);
	int shown = 0;
	char ver[96];
	struct sb b;

	if (rollout != NULL) {
		fprintf(v->f, "rollback of %s (%s, %s",
			txt_or(rollout, "name", "?"),
			version_of(rollout, ver, sizeof(ver)),
			state_of(rollout));
		if (txt(rollout, "stage") != NULL)
			fprintf(v->f, ", stage %s", txt(rollout, "stage"));
		fputs("):\n", v->f);
	} else {
		fputs("rollback:\n", v->f);
	}
	if (revert == 0 && cancel == 0) {
		fputs("  no device to send back and no offer to cancel\n",
		      v->f);
		return done(v);
	}
	fprintf(v->f, "  %" PRId64 " %s will go back to the previous version\n",
		revert, plural(revert, "device", "devices"));
	fprintf(v->f, "  %" PRId64 " %s will be cancelled\n", cancel,
		plural(cancel, "pending offer", "pending offers"));
	sb_init(&b);
	cJSON_ArrayForEach(d, devs)
	{
		if (cJSON_IsString(d)) {
			sb_item(&b, "%s", clean(d->valuestring));
			shown++;
		}
	}
	if (shown > 0) {
		int64_t more = revert + cancel - shown;

		fprintf(v->f, "  devices: %s", b.s);
		if (more > 0)
			fprintf(v->f, " and %" PRId64 " more", more);
		fputc('\n', v->f);
	}
	return done(v);
}

void fl_view_rollback_line(const cJSON *rollout, char *buf, size_t size)
{
	const cJSON *rb = item(rollout, "rollback");
	const char *name = txt_or(rollout, "name", "?");
	const char *state = txt_or(rollout, "state", "?");
	char bar[FL_VIEW_BAR_COMPACT + 3];
	struct sb b;

	sb_init(&b);
	if (!cJSON_IsObject(rb)) {
		snprintf(buf, size,
			 "%s %s: waiting for fleetd to start the rollback",
			 name, state);
		return;
	}
	rollback_counts(rb, FL_VIEW_BAR_COMPACT, bar, sizeof(bar), &b);
	if (strcmp(state, "rolling_back") == 0)
		snprintf(buf, size, "rolling back %s %s %s", name, bar, b.s);
	else if (strcmp(state, "rolled_back") == 0)
		snprintf(buf, size, "rolled back %s %s %s", name, bar, b.s);
	else
		snprintf(buf, size, "%s %s %s %s", name, state, bar, b.s);
}

/* ---- actions ------------------------------------------------------------ */

int fl_view_action(const struct fl_view *v, const char *action,
		   const char *name, const char *what, int is_changed,
		   const cJSON *rollout)
{
	char n[TXT_MAX], w[TXT_MAX], tail[160] = "";

	fl_render_clean(n, sizeof(n), name);
	fl_render_clean(w, sizeof(w), what != NULL ? what : "");

	if (rollout != NULL) {
		snprintf(tail, sizeof(tail), " (now %s", state_of(rollout));
		if (txt(rollout, "stage") != NULL)
			snprintf(tail + strlen(tail),
				 sizeof(tail) - strlen(tail), ", stage %s",
				 txt(rollout, "stage"));
		snprintf(tail + strlen(tail), sizeof(tail) - strlen(tail), ")");
	}
	if (strcmp(action, "pause") == 0)
		fprintf(v->f,
			is_changed ? "paused %s: no new offers, devices in "
				     "flight finish%s\n"
				   : "%s was already paused%s\n",
			n, tail);
	else if (strcmp(action, "resume") == 0)
		fprintf(v->f,
			is_changed ? "resumed %s%s\n" : "%s was not paused%s\n",
			n, tail);
	else if (strcmp(action, "approve") == 0)
		fprintf(v->f,
			is_changed ? "approved %s of %s%s\n"
				   : "%s of %s was already approved%s\n",
			w, n, tail);
	else if (strcmp(action, "cancel") == 0)
		fprintf(v->f,
			is_changed ? "cancelled %s: no further offers, "
				     "devices that installed keep it%s\n"
				   : "%s was already over%s\n",
			n, tail);
	else if (strcmp(action, "rollback") == 0)
		fprintf(v->f,
			is_changed ? "rollback of %s accepted: fleetd sends "
				     "the rollback commands%s\n"
				   : "%s is already rolling back or rolled "
				     "back%s\n",
			n, tail);
	else
		fprintf(v->f, "%s %s: %s%s\n", action, n,
			is_changed ? "done" : "nothing to do", tail);
	return done(v);
}

int fl_view_started(const struct fl_view *v, const cJSON *rollout)
{
	const cJSON *first = cJSON_GetArrayItem(item(rollout, "stages"), 0);
	char ver[96];

	fprintf(v->f, "started rollout %s: %s", txt_or(rollout, "name", "?"),
		version_of(rollout, ver, sizeof(ver)));
	if (has_num(rollout, "targets"))
		fprintf(v->f, " to %" PRId64 " %s", num(rollout, "targets", 0),
			plural(num(rollout, "targets", 0), "device",
			       "devices"));
	fputc('\n', v->f);
	if (first != NULL)
		fprintf(v->f, "first stage: %s (%" PRId64 " %s, %s)\n",
			txt_or(first, "name", "?"), num(first, "members", 0),
			plural(num(first, "members", 0), "device", "devices"),
			txt_or(first, "state", "?"));
	else if (txt(rollout, "stage") != NULL)
		fprintf(v->f, "first stage: %s\n", txt(rollout, "stage"));
	fprintf(v->f, "follow it: fleetctl rollout status %s\n",
		txt_or(rollout, "name", "?"));
	return done(v);
}

/* ---- devices ------------------------------------------------------------ */

/* "k=v,k=v" of an object of strings (or of anything, printed as JSON). */
static void pairs(const cJSON *o, const char *sep, struct sb *b)
{
	const cJSON *x;

	cJSON_ArrayForEach(x, o)
	{
		if (x->string == NULL)
			continue;
		if (b->n > 0)
			sb_add(b, "%s", sep);
		if (cJSON_IsString(x)) {
			sb_add(b, "%s=", clean(x->string));
			sb_add(b, "%s", clean(x->valuestring));
		} else if (cJSON_IsNumber(x)) {
			char n[32];

			sb_add(b, "%s=%s", clean(x->string),
			       num_text(x->valuedouble, n, sizeof(n)));
		} else {
			char *s = cJSON_PrintUnformatted(x);

			sb_add(b, "%s=", clean(x->string));
			sb_add(b, "%s", s != NULL ? clean(s) : "?");
			cJSON_free(s);
		}
	}
}

/* A device's versions: "2.3.1" for one component, else
 * "firmware=2.3.1,modem=5.1". */
static void versions_text(const cJSON *d, struct sb *b)
{
	const cJSON *vs = item(d, "versions");

	if (cJSON_GetArraySize(vs) == 1 &&
	    cJSON_IsString(cJSON_GetArrayItem(vs, 0)))
		sb_add(b, "%s", clean(cJSON_GetArrayItem(vs, 0)->valuestring));
	else
		pairs(vs, ",", b);
}

int fl_view_devices_table(struct fl_table **out)
{
	static const char *const head[] = {"ID",	"MODEL",   "STATE",
					   "LAST SEEN", "VERSION", "ROLLOUT",
					   "LABELS"};

	int rc = fl_table_new(out, 7, head, FL_VIEW_PAGE_ROWS);

	/* so that a later page's "never seen" or "16d 16h ago" fits */
	if (rc == 0) {
		fl_table_min_width(*out, 2, 10);
		fl_table_min_width(*out, 3, 11);
	}
	return rc;
}

int fl_view_devices_add(const struct fl_view *v, struct fl_table *t,
			const cJSON *devices, struct fl_view_count *c)
{
	const cJSON *d;

	cJSON_ArrayForEach(d, devices)
	{
		const cJSON *ro = item(d, "rollout");
		char seen[40] = "-", roll[160] = "-";
		struct sb ver, lab;
		const char *cells[7];
		int rc;

		c->devices++;
		if (is_true(d, "online"))
			c->online++;
		if (has_num(d, "last_seen"))
			fl_render_ago(num(d, "last_seen", 0), v->now_s, seen,
				      sizeof(seen));
		if (cJSON_IsObject(ro))
			snprintf(roll, sizeof(roll), "%s (%s)",
				 txt_or(ro, "name", "?"),
				 txt_or(ro, "state", "?"));
		sb_init(&ver);
		versions_text(d, &ver);
		sb_init(&lab);
		pairs(item(d, "labels"), ",", &lab);
		cells[0] = txt_or(d, "id", "?");
		cells[1] = txt(d, "model");
		cells[2] = is_true(d, "online")	     ? "online"
			   : has_num(d, "last_seen") ? "offline"
						     : "never seen";
		cells[3] = seen;
		cells[4] = ver.n ? ver.s : NULL;
		cells[5] = roll;
		cells[6] = lab.n ? lab.s : NULL;
		rc = fl_table_add(t, cells);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int fl_view_devices_end(const struct fl_view *v, const struct fl_view_count *c)
{
	if (c->devices == 0)
		fputs("no devices\n", v->f);
	else
		fprintf(v->f, "%" PRIu64 " %s, %" PRIu64 " online\n",
			c->devices,
			plural((int64_t)c->devices, "device", "devices"),
			c->online);
	return done(v);
}

static void slots_text(const cJSON *d, struct sb *b)
{
	const cJSON *s;
	int i = 0;

	cJSON_ArrayForEach(s, item(d, "slots"))
	{
		sb_item(b, "%c %s", i < 26 ? 'A' + i : '?',
			txt_or(s, "state", "?"));
		if (txt(s, "version") != NULL)
			sb_add(b, " %s", txt(s, "version"));
		if (has_num(s, "seq"))
			sb_add(b, " (seq %" PRId64 ")", num(s, "seq", 0));
		i++;
	}
	if (i > 0 && has_num(d, "booted"))
		sb_add(b, "; booted %c", num(d, "booted", 0) == 1 ? 'B' : 'A');
	if (i > 0 && has_num(d, "floor"))
		sb_add(b, "; floor %" PRId64, num(d, "floor", 0));
}

int fl_view_device(const struct fl_view *v, const cJSON *d)
{
	static const char *const head[] = {"JOB",     "ROLLOUT", "TYPE",
					   "STATE",   "RESULT",	 "REASON",
					   "VERSION", "UPDATED"};
	const cJSON *h = item(d, "health"), *ro = item(d, "rollout"), *j, *x;
	char at[WHEN_MAX], n[32];
	struct sb b;
	struct fl_table *t = NULL;
	int rc = 0;

	fprintf(v->f, "device %s\n", txt_or(d, "id", "?"));
	fprintf(v->f, "  model      %s\n", txt_or(d, "model", "-"));
	if (is_true(d, "online"))
		fprintf(v->f, "  state      online");
	else if (has_num(d, "last_seen"))
		fprintf(v->f, "  state      offline");
	else
		fprintf(v->f, "  state      never seen");
	if (has_num(d, "last_seen"))
		fprintf(v->f, ", last seen %s",
			when(v, num(d, "last_seen", 0), at, sizeof(at)));
	fputc('\n', v->f);
	if (has_num(d, "boot"))
		fprintf(v->f, "  boot       %" PRId64 "\n", num(d, "boot", 0));
	if (txt(d, "agent") != NULL)
		fprintf(v->f, "  agent      %s\n", txt(d, "agent"));
	if (txt(d, "tz") != NULL)
		fprintf(v->f, "  tz         %s\n", txt(d, "tz"));
	sb_init(&b);
	cJSON_ArrayForEach(x, item(d, "components")) sb_item(
		&b, "%s %s", txt_or(x, "name", "?"), txt_or(x, "version", "?"));
	if (b.n == 0)
		pairs(item(d, "versions"), ", ", &b);
	fprintf(v->f, "  versions   %s\n", b.n ? b.s : "-");
	sb_init(&b);
	pairs(item(d, "labels"), " ", &b);
	fprintf(v->f, "  labels     %s\n", b.n ? b.s : "-");
	sb_init(&b);
	pairs(item(d, "server_labels"), " ", &b);
	if (b.n > 0)
		fprintf(v->f, "  on fleetd  %s\n", b.s);
	sb_init(&b);
	slots_text(d, &b);
	if (b.n > 0)
		fprintf(v->f, "  slots      %s\n", b.s);
	if (cJSON_IsObject(h)) {
		int64_t t_at = num(h, "received", num(h, "ts", -1));

		sb_init(&b);
		cJSON_ArrayForEach(x, h)
		{
			if (x->string == NULL ||
			    strcmp(x->string, "received") == 0 ||
			    strcmp(x->string, "ts") == 0)
				continue;
			if (strcmp(x->string, "metrics") == 0) {
				struct sb m;

				sb_init(&m);
				pairs(x, " ", &m);
				if (m.n > 0)
					sb_add(&b, "%s%s", b.n ? " " : "", m.s);
				continue;
			}
			if (cJSON_IsNumber(x))
				sb_add(&b, "%s%s=%s", b.n ? " " : "",
				       clean(x->string),
				       num_text(x->valuedouble, n, sizeof(n)));
			else if (cJSON_IsString(x))
				sb_add(&b, "%s%s=%s", b.n ? " " : "",
				       clean(x->string), clean(x->valuestring));
			else if (cJSON_IsBool(x))
				sb_add(&b, "%s%s=%s", b.n ? " " : "",
				       clean(x->string),
				       cJSON_IsTrue(x) ? "true" : "false");
		}
		fprintf(v->f, "  health     ");
		if (t_at >= 0)
			fprintf(v->f, "%s: ", when(v, t_at, at, sizeof(at)));
		fprintf(v->f, "%s\n", b.n ? b.s : "-");
	}
	if (cJSON_IsObject(ro))
		fprintf(v->f, "  rollout    %s (%s)\n", txt_or(ro, "name", "?"),
			txt_or(ro, "state", "?"));
	if (cJSON_GetArraySize(item(d, "jobs")) > 0) {
		fputc('\n', v->f);
		rc = fl_table_new(&t, 8, head, FL_VIEW_PAGE_ROWS);
		if (rc != 0)
			return rc;
		fl_table_right(t, 0);
		cJSON_ArrayForEach(j, item(d, "jobs"))
		{
			char job[24] = "-", upd[40] = "-";
			const char *cells[8];

			if (has_num(j, "job"))
				snprintf(job, sizeof(job), "%" PRId64,
					 num(j, "job", 0));
			if (has_num(j, "updated"))
				fl_render_ago(num(j, "updated", 0), v->now_s,
					      upd, sizeof(upd));
			cells[0] = job;
			cells[1] = txt(j, "rollout");
			cells[2] = txt(j, "type");
			cells[3] = txt(j, "state");
			cells[4] = txt(j, "result");
			cells[5] = txt(j, "reason");
			cells[6] = txt(j, "version");
			cells[7] = upd;
			rc = fl_table_add(t, cells);
			if (rc != 0)
				break;
		}
		if (rc == 0)
			rc = fl_table_flush(t, v->f);
		fl_table_free(t);
	}
	return rc != 0 ? rc : done(v);
}

/* ---- events ------------------------------------------------------------- */

int fl_view_events_table(struct fl_table **out)
{
	static const char *const head[] = {"TIME",   "SEQ",  "ROLLOUT", "STAGE",
					   "DEVICE", "KIND", "DETAIL"};
	static const unsigned min[] = {20, 5, 12, 8, 13, 22, 0};
	int rc = fl_table_new(out, 7, head, FL_VIEW_PAGE_ROWS);

	if (rc != 0)
		return rc;
	fl_table_right(*out, 1);
	for (unsigned c = 0; c < 7; c++)
		fl_table_min_width(*out, c, min[c]);
	return 0;
}

int fl_view_events_add(struct fl_table *t, const cJSON *events)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, events)
	{
		char at[40], seq[24] = "-", detail[DETAIL_MAX + 1];
		const char *cells[7];
		struct sb b;
		int rc;

		fl_render_instant(num(e, "at", -1), at, sizeof(at));
		if (has_num(e, "seq"))
			snprintf(seq, sizeof(seq), "%" PRId64,
				 num(e, "seq", 0));
		sb_init(&b);
		pairs(item(e, "detail"), " ", &b);
		fl_render_clean(detail, sizeof(detail), b.s);
		cells[0] = at;
		cells[1] = seq;
		cells[2] = txt(e, "rollout");
		cells[3] = txt(e, "stage");
		cells[4] = txt(e, "device");
		cells[5] = txt(e, "kind");
		cells[6] = b.n ? detail : "";
		rc = fl_table_add(t, cells);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- labels ------------------------------------------------------------- */

int fl_view_labels(const struct fl_view *v, const cJSON *device)
{
	struct sb b;

	sb_init(&b);
	pairs(item(device, "labels"), " ", &b);
	fprintf(v->f, "%s labels: %s\n", txt_or(device, "id", "?"),
		b.n ? b.s : "none");
	sb_init(&b);
	pairs(item(device, "server_labels"), " ", &b);
	if (b.n > 0)
		fprintf(v->f, "  set on fleetd: %s\n", b.s);
	return done(v);
}

/* ---- a refused plan ----------------------------------------------------- */

unsigned fl_view_plan_diags(FILE *f, const char *file, const cJSON *error)
{
	const cJSON *d;
	unsigned n = 0;

	cJSON_ArrayForEach(d, item(error, "diagnostics"))
	{
		fprintf(f, "%s:%" PRId64 ":%" PRId64 ": %s: %s\n", clean(file),
			num(d, "line", 0), num(d, "col", 0),
			txt_or(d, "severity", "error"),
			txt_or(d, "message", "?"));
		n++;
	}
	return n;
}
