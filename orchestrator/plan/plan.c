/*
 * plan.c -- loads a rollout plan, validates it and builds the typed
 * struct fl_plan (fl/plan.h); the language is described in plans/README.md.
 *
 * Method: the file is read whole (at most FL_PLAN_MAX_FILE_BYTES) and
 * turned into a positioned YAML tree (yamltree.c). The validator walks that
 * tree once, section by section, and fills the plan as it goes; it never
 * stops at the first mistake but reports every one it can find, each at
 * the line and column of the offending key or value, and marks nothing as
 * valid that it did not check. Every mapping goes through walk_map(), which
 * is the only place keys are recognised: it refuses duplicates, names the
 * new key of a renamed one (the `renamed` table) and suggests the nearest
 * valid key for a typo. Checks that span sections (names shared by stages
 * and holds, a device in two stages or excluded, the soak against the
 * timeout, activate: window without windows) run once the sections are
 * read. The plan and its strings live in one bounded arena; the tree lives
 * in another, freed before returning.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl/err.h"
#include "fl/plan.h"
#include "plan_int.h"

/* ---- keys of each mapping ------------------------------------------------ */

enum level {
	L_TOP,
	L_ARTIFACT,
	L_TARGETS,
	L_DEVICE,
	L_HEALTH,
	L_METRIC,
	L_WINDOW,
	L_HOLD,
	L_STAGE,
	L_N
};

#define MAX_KEYS 10

enum {
	TOP_ROLLOUT,
	TOP_DESCRIPTION,
	TOP_ARTIFACT,
	TOP_TARGETS,
	TOP_DEVICE,
	TOP_HEALTH,
	TOP_WINDOWS,
	TOP_HOLDS,
	TOP_STAGES,
	TOP_FOUR_EYES
};
enum {
	ART_COMPONENT,
	ART_VERSION,
	ART_FILE,
	ART_HARDWARE,
	ART_FROM,
	ART_ENCRYPT,
	ART_COMPRESS,
	ART_CHUNK
};
enum { TGT_MATCH, TGT_EXCLUDE };
enum { DEV_MIN_BATTERY, DEV_MIN_FREE_STORAGE, DEV_ACTIVATE };
enum {
	H_SOAK,
	H_MAX_FAILURE_RATE,
	H_MAX_FAILURES,
	H_MIN_DEVICES,
	H_TIMEOUT,
	H_METRICS,
	H_ON_FAILURE,
	H_ROLLBACK_TIMEOUT
};
enum { MET_NAME, MET_MIN, MET_MAX };
enum { WIN_DAYS, WIN_FROM, WIN_TO, WIN_TZ };
enum { HOLD_NAME, HOLD_MATCH, HOLD_REASON, HOLD_FROM, HOLD_UNTIL };
enum {
	ST_NAME,
	ST_DEVICES,
	ST_COUNT,
	ST_MATCH,
	ST_PERCENT,
	ST_SOAK,
	ST_APPROVAL,
	ST_RATE
};

static const struct {
	const char *where; /* for messages: "unknown key `x` in WHERE" */
	const char *keys[MAX_KEYS];
} levels[L_N] = {
	[L_TOP] = {"the plan",
		   {"rollout", "description", "artifact", "targets", "device",
		    "health", "windows", "holds", "stages", "four_eyes"}},
	[L_ARTIFACT] = {"`artifact`",
			{"component", "version", "file", "hardware", "from",
			 "encrypt", "compress", "chunk"}},
	[L_TARGETS] = {"`targets`", {"match", "exclude"}},
	[L_DEVICE] = {"`device`",
		      {"min_battery", "min_free_storage", "activate"}},
	[L_HEALTH] = {"`health`",
		      {"soak", "max_failure_rate", "max_failures",
		       "min_devices", "timeout", "metrics", "on_failure",
		       "rollback_timeout"}},
	[L_METRIC] = {"a metric rule", {"name", "min", "max"}},
	[L_WINDOW] = {"a window", {"days", "from", "to", "tz"}},
	[L_HOLD] = {"a hold", {"name", "match", "reason", "from", "until"}},
	[L_STAGE] = {"a stage",
		     {"name", "devices", "count", "match", "percent", "soak",
		      "approval", "rate"}},
};

/*
 * Keys that were renamed or removed. A plan that uses one gets an error
 * naming what to write instead; entries stay here for good, so old plans
 * keep getting a useful message. `to` is the new key (NULL when removed);
 * `hint` replaces the standard message when set.
 */
static const struct {
	enum level level;
	const char *from, *to, *hint;
} renamed[] = {
	{L_TOP, "canary", NULL,
	 "a canary is the first stage: `stages: [{name: canary, count: 5}, "
	 "...]`"},
	{L_TOP, "name", "rollout", NULL},
	{L_ARTIFACT, "models", "hardware", NULL},
	{L_HEALTH, "failure_rate", "max_failure_rate", NULL},
	{L_STAGE, "wait", "soak", NULL},
};

/* The values found in one mapping, by key index, and where their keys are. */
struct fields {
	const struct plan__node *v[MAX_KEYS];
	const struct plan__node *k[MAX_KEYS];
};

/* ---- the validator's state ---------------------------------------------- */

/* A device id seen in targets.exclude (owner -1) or in a stage's devices. */
struct seen_id {
	const char *id;
	size_t len;
	struct fl_pos pos;
	int owner;
	unsigned seq;
};

#define SEEN_BLOCK 256

struct seen_block {
	struct seen_block *next;
	unsigned n;
	struct seen_id e[SEEN_BLOCK];
};

struct ctx {
	struct fl_plan_diags *d;
	struct plan__arena *tmp; /* the tree and scratch */
	struct plan__arena *out; /* the plan */
	struct fl_plan *plan;
	const char *path; /* NULL: no file system, no artifact check */
	const struct fl_plan_parse_opts *opts; /* NULL: defaults */
	int err;			       /* first allocation failure */
	char why[PLAN_WHY_MAX];
	char shown[48];
	char found[64];
	struct seen_block *seen;
	unsigned nseen;
	/* Cross-section facts, gathered while reading. */
	const struct plan__node *activate_value;
	const struct plan__node *timeout_value;
	const struct plan__node *max_failure_rate_value;
	const char *stage_label[FL_PLAN_MAX_STAGES];
	struct fl_pos stage_name_pos[FL_PLAN_MAX_STAGES];
	struct fl_pos stage_percent_pos[FL_PLAN_MAX_STAGES];
	uint8_t stage_has_one_selector[FL_PLAN_MAX_STAGES];
	const struct plan__node *hold_name_node[FL_PLAN_MAX_HOLDS];
};

#define ERR(c, pos, ...)                                                       \
	fl_plan_diags_add((c)->d, FL_DIAG_ERROR, (pos), __VA_ARGS__)
#define WARN(c, pos, ...)                                                      \
	fl_plan_diags_add((c)->d, FL_DIAG_WARNING, (pos), __VA_ARGS__)

static const char *show(struct ctx *c, const struct plan__node *n)
{
	return plan__show(c->shown, sizeof(c->shown), n->text, n->len);
}

static void *alloc(struct ctx *c, size_t size)
{
	void *p = plan__arena_alloc(c->out, size);

	if (p == NULL && c->err == 0)
		c->err = plan__arena_error(c->out);
	return p;
}

static const char *dup_text(struct ctx *c, const struct plan__node *n)
{
	char *p = plan__arena_strndup(c->out, n->text, n->len);

	if (p == NULL && c->err == 0)
		c->err = plan__arena_error(c->out);
	return p;
}

static int text_eq(const struct plan__node *n, const char *lit)
{
	return n->kind == PLAN_SCALAR && strlen(lit) == n->len &&
	       memcmp(n->text, lit, n->len) == 0;
}

static int same_text(const struct plan__node *a, const struct plan__node *b)
{
	return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

/* ---- shapes ------------------------------------------------------------ */

static const char *found(struct ctx *c, const struct plan__node *n)
{
	static const char *const kinds[] = {"no value", "text", "a list",
					    "a mapping", "?"};
	char text[48];

	if (n->kind == PLAN_SCALAR) {
		snprintf(c->found, sizeof(c->found), "`%s`",
			 plan__show(text, sizeof(text), n->text, n->len));
		return c->found;
	}
	return kinds[n->kind];
}

/*
 * 1 if n is of the kind wanted; otherwise reports "`key`: expected WHAT,
 * found ..." (nothing for a node already diagnosed) and returns 0. A
 * scalar must also be free of NULs and control characters (multi_line
 * allows newlines and tabs).
 */
static int want(struct ctx *c, const struct plan__node *n, enum plan__kind kind,
		const char *key, const char *what, int multi_line)
{
	if (n->kind == PLAN_BAD)
		return 0;
	if (n->kind != kind) {
		ERR(c, n->pos, "`%s`: expected %s, found %s", key, what,
		    found(c, n));
		return 0;
	}
	if (kind != PLAN_SCALAR)
		return 1;
	for (size_t i = 0; i < n->len; i++) {
		unsigned char ch = (unsigned char)n->text[i];

		if ((ch < 0x20 || ch == 0x7f) &&
		    !(multi_line && (ch == '\n' || ch == '\t'))) {
			ERR(c, n->pos,
			    "`%s`: the value contains a control character "
			    "(0x%02x)",
			    key, ch);
			return 0;
		}
	}
	return 1;
}

/* Reports an unknown key, naming the new key of a renamed one or the
 * nearest valid key of its level. */
static void unknown_key(struct ctx *c, enum level lvl,
			const struct plan__node *key)
{
	const char *best = NULL;
	unsigned best_d = ~0u;
	char list[200];
	size_t used = 0;

	for (size_t i = 0; i < sizeof(renamed) / sizeof(renamed[0]); i++) {
		if (renamed[i].level != lvl || !text_eq(key, renamed[i].from))
			continue;
		if (renamed[i].hint != NULL)
			ERR(c, key->pos, "`%s` is not a key any more: %s",
			    renamed[i].from, renamed[i].hint);
		else
			ERR(c, key->pos, "`%s` was renamed to `%s`",
			    renamed[i].from, renamed[i].to);
		return;
	}
	for (int i = 0; i < MAX_KEYS && levels[lvl].keys[i] != NULL; i++) {
		const char *k = levels[lvl].keys[i];
		size_t klen = strlen(k);
		size_t short_len = klen < key->len ? klen : key->len;
		unsigned d = plan__edit_distance(key->text, key->len, k, klen);
		int ci = klen == key->len;

		for (size_t j = 0; ci && j < klen; j++) {
			char a = key->text[j];

			if (a >= 'A' && a <= 'Z')
				a = (char)(a - 'A' + 'a');
			ci = a == k[j];
		}
		if (ci)
			d = 0;
		else if (short_len >= 3 &&
			 memcmp(key->text, k, short_len) == 0 && d > 1)
			d = 1; /* a prefix: "percentage" for "percent" */
		if (d <= 1 + (key->len > klen ? key->len : klen) / 4 &&
		    d < best_d) {
			best = k;
			best_d = d;
		}
		used += (size_t)snprintf(list + used, sizeof(list) - used,
					 "%s%s", i ? ", " : "", k);
		if (used >= sizeof(list))
			used = sizeof(list) - 1;
	}
	if (best != NULL)
		ERR(c, key->pos, "unknown key `%s` in %s; did you mean `%s`?",
		    show(c, key), levels[lvl].where, best);
	else
		ERR(c, key->pos, "unknown key `%s` in %s; valid keys: %s",
		    show(c, key), levels[lvl].where, list);
}

/* Reads the keys of map (known to be a mapping) into f, reporting
 * duplicates, keys that are not names, and unknown keys. */
static void walk_map(struct ctx *c, const struct plan__node *map,
		     enum level lvl, struct fields *f)
{
	memset(f, 0, sizeof(*f));
	for (const struct plan__node *key = map->first; key != NULL;) {
		const struct plan__node *val = key->next;
		int idx = -1;

		if (val == NULL)
			break;
		if (key->kind == PLAN_NULL) {
			ERR(c, key->pos,
			    "a key must be a name; this one is "
			    "empty");
		} else if (key->kind == PLAN_SEQ || key->kind == PLAN_MAP) {
			ERR(c, key->pos, "a key must be a name, not %s",
			    found(c, key));
		} else if (key->kind == PLAN_SCALAR) {
			for (int i = 0;
			     i < MAX_KEYS && levels[lvl].keys[i] != NULL; i++)
				if (text_eq(key, levels[lvl].keys[i]))
					idx = i;
			if (idx < 0)
				unknown_key(c, lvl, key);
			else if (f->v[idx] != NULL)
				ERR(c, key->pos,
				    "duplicate key `%s` (first at %u:%u)",
				    levels[lvl].keys[idx],
				    (unsigned)f->k[idx]->pos.line,
				    (unsigned)f->k[idx]->pos.col);
			else {
				f->v[idx] = val;
				f->k[idx] = key;
			}
		}
		key = val->next;
	}
}

/* ---- sections ----------------------------------------------------------- */

static void check_label_values(struct ctx *c, const struct plan__node *label,
			       const struct plan__node *v,
			       struct fl_plan_label *out)
{
	unsigned n = v->kind == PLAN_SEQ ? v->n : 1;
	unsigned i = 0;

	if (v->kind == PLAN_SEQ && v->n == 0) {
		ERR(c, v->pos, "label `%s` lists no values", show(c, label));
		return;
	}
	if (v->kind == PLAN_SEQ && v->n > FL_PLAN_MAX_VALUES) {
		ERR(c, v->pos, "label `%s` lists %u values; at most %d",
		    show(c, label), v->n, FL_PLAN_MAX_VALUES);
		return;
	}
	out->values = alloc(c, n * sizeof(*out->values));
	if (out->values == NULL)
		return;
	for (const struct plan__node *e = v->kind == PLAN_SEQ ? v->first : v;
	     e != NULL && i < n; e = e->next, i++) {
		if (!want(c, e, PLAN_SCALAR, "match", "a label value", 0))
			continue;
		if (plan__check_label_value(e->text, e->len, c->why,
					    sizeof(c->why)) != 0) {
			ERR(c, e->pos, "`match`: %s", c->why);
			continue;
		}
		for (const struct plan__node *p = v->first;
		     v->kind == PLAN_SEQ && p != e; p = p->next)
			if (p->kind == PLAN_SCALAR && same_text(p, e)) {
				ERR(c, e->pos,
				    "duplicate value `%s` for label `%.40s` "
				    "(first at %u:%u)",
				    show(c, e), label->text,
				    (unsigned)p->pos.line,
				    (unsigned)p->pos.col);
				break;
			}
		out->values[out->nvalues++] = dup_text(c, e);
	}
}

/* A label selector: {key: value | [values]}, keys ANDed. */
static void check_match(struct ctx *c, const struct plan__node *n,
			struct fl_plan_match *m)
{
	if (!want(c, n, PLAN_MAP, "match",
		  "a mapping of labels, like "
		  "{region: eu}",
		  0))
		return;
	m->pos = n->pos;
	if (n->n == 0) {
		ERR(c, n->pos,
		    "`match` is empty: name at least one label, or remove "
		    "`match`");
		return;
	}
	if (n->n > FL_PLAN_MAX_LABELS) {
		ERR(c, n->pos, "`match` has %u labels; at most %d", n->n,
		    FL_PLAN_MAX_LABELS);
		return;
	}
	m->labels = alloc(c, n->n * sizeof(*m->labels));
	if (m->labels == NULL)
		return;
	for (const struct plan__node *key = n->first;
	     key != NULL && key->next != NULL; key = key->next->next) {
		const struct plan__node *v = key->next;
		struct fl_plan_label *l;
		int dup = 0;

		if (!want(c, key, PLAN_SCALAR, "match", "a label name", 0))
			continue;
		if (plan__check_label_key(key->text, key->len, c->why,
					  sizeof(c->why)) != 0) {
			ERR(c, key->pos, "`match`: %s", c->why);
			continue;
		}
		for (const struct plan__node *p = n->first; p != key;
		     p = p->next->next)
			if (p->kind == PLAN_SCALAR && same_text(p, key)) {
				ERR(c, key->pos,
				    "duplicate key `%s` (first at %u:%u)",
				    show(c, key), (unsigned)p->pos.line,
				    (unsigned)p->pos.col);
				dup = 1;
				break;
			}
		if (dup)
			continue;
		if (v->kind == PLAN_BAD)
			continue;
		if (v->kind != PLAN_SCALAR && v->kind != PLAN_SEQ) {
			ERR(c, v->pos,
			    "label `%s`: expected a value or a list of values, "
			    "found %s",
			    show(c, key), found(c, v));
			continue;
		}
		l = &m->labels[m->n++];
		l->key = dup_text(c, key);
		check_label_values(c, key, v, l);
	}
}

/* Remembers a device id for the checks across lists (check_device_ids). */
static void see_id(struct ctx *c, const struct plan__node *e, int owner)
{
	struct seen_block *b = c->seen;

	if (b == NULL || b->n == SEEN_BLOCK) {
		b = plan__arena_alloc(c->tmp, sizeof(*b));
		if (b == NULL) {
			if (c->err == 0)
				c->err = plan__arena_error(c->tmp);
			return;
		}
		b->next = c->seen;
		c->seen = b;
	}
	b->e[b->n].id = e->text;
	b->e[b->n].len = e->len;
	b->e[b->n].pos = e->pos;
	b->e[b->n].owner = owner;
	b->e[b->n].seq = c->nseen++;
	b->n++;
}

/*
 * A list of ids (device ids or hardware models), each checked for form.
 * owner >= -1 registers device ids for the duplicate checks; -2 (hardware)
 * checks duplicates here, the list being short.
 */
/* pos_out, when not NULL, receives where each id is written. */
static unsigned check_ids(struct ctx *c, const struct plan__node *n,
			  const char *key, const char *what, unsigned max,
			  int owner, const char ***out, struct fl_pos **pos_out)
{
	unsigned i = 0;

	if (!want(c, n, PLAN_SEQ, key, "a list", 0))
		return 0;
	if (n->n > max) {
		ERR(c, n->pos, "`%s` lists %u entries; at most %u", key, n->n,
		    max);
		return 0;
	}
	*out = alloc(c, (n->n ? n->n : 1) * sizeof(**out));
	if (*out == NULL)
		return 0;
	if (pos_out != NULL) {
		*pos_out = alloc(c, (n->n ? n->n : 1) * sizeof(**pos_out));
		if (*pos_out == NULL)
			return 0;
	}
	for (const struct plan__node *e = n->first; e != NULL; e = e->next) {
		int dup = 0;

		if (!want(c, e, PLAN_SCALAR, key, what, 0))
			continue;
		if (plan__check_id(e->text, e->len, what, c->why,
				   sizeof(c->why)) != 0) {
			ERR(c, e->pos, "`%s`: %s", key, c->why);
			continue;
		}
		if (owner == -2) {
			for (const struct plan__node *p = n->first;
			     p != e && !dup; p = p->next)
				if (p->kind == PLAN_SCALAR && same_text(p, e)) {
					ERR(c, e->pos,
					    "duplicate %s `%s` in `%s` (first "
					    "at %u:%u)",
					    what, show(c, e), key,
					    (unsigned)p->pos.line,
					    (unsigned)p->pos.col);
					dup = 1;
				}
		} else {
			see_id(c, e, owner);
		}
		if (dup)
			continue;
		if (pos_out != NULL)
			(*pos_out)[i] = e->pos;
		(*out)[i++] = dup_text(c, e);
	}
	return i;
}

/* A named thing's name: rollout, component, stage, hold. */
static int check_name(struct ctx *c, const struct plan__node *n,
		      const char *key)
{
	if (!want(c, n, PLAN_SCALAR, key, "a name", 0))
		return 0;
	if (plan__check_name(n->text, n->len, c->why, sizeof(c->why)) != 0) {
		ERR(c, n->pos, "`%s`: %s", key, c->why);
		return 0;
	}
	return 1;
}

static int check_text(struct ctx *c, const struct plan__node *n,
		      const char *key, const char **out)
{
	if (!want(c, n, PLAN_SCALAR, key, "text", 1))
		return 0;
	if (n->len > PLAN_TEXT_MAX) {
		ERR(c, n->pos, "`%s` is longer than %d bytes", key,
		    PLAN_TEXT_MAX);
		return 0;
	}
	*out = dup_text(c, n);
	return 1;
}

/* Runs one of the values.c parsers on a scalar, reporting its reason. */
#define VALUE(c, n, key, what, call)                                           \
	(want((c), (n), PLAN_SCALAR, (key), (what), 0) &&                      \
	 ((call) == 0 ||                                                       \
	  (ERR((c), (n)->pos, "`%s`: %s", (key), (c)->why), 0)))

static void check_semver_range(struct ctx *c, const struct plan__node *n)
{
	struct fl_plan *p = c->plan;
	const struct fl_semver *lo = NULL, *hi = NULL;
	int lo_strict = 0, hi_strict = 0, err;

	if (!want(c, n, PLAN_SCALAR, "from", "a version range", 0))
		return;
	err = fl_semver_range_parse(&p->artifact.from_range, n->text);
	if (err == FL_ETOOBIG) {
		ERR(c, n->pos, "`from`: `%s` has more than %d comparators",
		    show(c, n), FL_SEMVER_RANGE_MAX);
		return;
	}
	if (err != 0 || strlen(n->text) != n->len) {
		ERR(c, n->pos,
		    "`from`: `%s` is not a version range: write comparators "
		    "=, >, >=, < or <= each followed by a version, separated "
		    "by spaces, like \">=2.0.0 <2.4.0\"",
		    show(c, n));
		return;
	}
	p->artifact.from = dup_text(c, n);
	/* An obviously empty range: its lowest bound above its highest. */
	for (unsigned i = 0; i < p->artifact.from_range.n; i++) {
		const struct fl_semver *v = &p->artifact.from_range.cmp[i].v;
		uint8_t op = p->artifact.from_range.cmp[i].op;

		if (op == FL_SEMVER_EQ || op == FL_SEMVER_GT ||
		    op == FL_SEMVER_GE) {
			int cmp = lo ? fl_semver_cmp(v, lo) : 1;

			if (cmp > 0 || (cmp == 0 && op == FL_SEMVER_GT)) {
				lo = v;
				lo_strict = op == FL_SEMVER_GT;
			}
		}
		if (op == FL_SEMVER_EQ || op == FL_SEMVER_LT ||
		    op == FL_SEMVER_LE) {
			int cmp = hi ? fl_semver_cmp(v, hi) : -1;

			if (cmp < 0 || (cmp == 0 && op == FL_SEMVER_LT)) {
				hi = v;
				hi_strict = op == FL_SEMVER_LT;
			}
		}
	}
	if (lo != NULL && hi != NULL) {
		int cmp = fl_semver_cmp(lo, hi);

		if (cmp > 0 || (cmp == 0 && (lo_strict || hi_strict)))
			ERR(c, n->pos,
			    "`from`: no version satisfies `%s`, so no device "
			    "would be a target",
			    show(c, n));
	}
}

static int file_ok(struct ctx *c, const struct plan__node *n,
		   const char *resolved)
{
	struct stat st;
	int fd = open(resolved, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int ok = 0, e = errno;
	char where[300] = "";

	if (strcmp(resolved, c->plan->artifact.file) != 0)
		snprintf(where, sizeof(where), " (looked at %.250s)", resolved);
	if (fd < 0) {
		if (e == ENOENT || e == ENOTDIR)
			ERR(c, n->pos, "`file`: artifact `%s` not found%s",
			    show(c, n), where);
		else
			ERR(c, n->pos,
			    "`file`: artifact `%s` cannot be read: "
			    "%s%s",
			    show(c, n), strerror(e), where);
		return 0;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		ERR(c, n->pos, "`file`: artifact `%s` is not a regular file%s",
		    show(c, n), where);
	else if (st.st_size == 0)
		ERR(c, n->pos, "`file`: artifact `%s` is empty%s", show(c, n),
		    where);
	else
		ok = 1;
	close(fd);
	return ok;
}

/* artifact.file: resolved against the plan's folder, and checked to be a
 * readable, non-empty regular file unless there is no file system. */
static void check_file(struct ctx *c, const struct plan__node *n)
{
	struct fl_plan *p = c->plan;
	const char *slash = c->path ? strrchr(c->path, '/') : NULL;
	size_t dlen = slash ? (size_t)(slash - c->path) + 1 : 0;
	char *resolved;

	if (!want(c, n, PLAN_SCALAR, "file", "a file path", 0))
		return;
	if (n->len == 0 || n->len > PLAN_PATH_MAX) {
		ERR(c, n->pos, "`file`: the path must have 1 to %d bytes",
		    PLAN_PATH_MAX);
		return;
	}
	p->artifact.file = dup_text(c, n);
	if (p->artifact.file == NULL)
		return;
	if (c->opts != NULL && c->opts->has_artifact) {
		/* The caller holds the image: nothing to open. */
		p->artifact.file_path = p->artifact.file;
		if (c->opts->artifact_length == 0)
			ERR(c, n->pos, "`file`: artifact `%s` is empty",
			    show(c, n));
		return;
	}
	if (n->text[0] == '/')
		dlen = 0;
	resolved = alloc(c, dlen + n->len + 1);
	if (resolved == NULL)
		return;
	memcpy(resolved, c->path ? c->path : "", dlen);
	memcpy(resolved + dlen, n->text, n->len);
	p->artifact.file_path = resolved;
	if (c->path != NULL)
		file_ok(c, n, resolved);
}

/* artifact.compress and artifact.chunk: the form of the encrypted
 * container (docs/formats.md, "Encrypted image"). */
static void check_container(struct ctx *c, const struct fields *f)
{
	struct fl_plan *p = c->plan;
	const struct plan__node *z = f->v[ART_COMPRESS], *k = f->v[ART_CHUNK];
	uint64_t bytes = 0;

	p->artifact.is_compressed = 1;
	p->artifact.chunk_bytes = FL_PLAN_CHUNK_DEFAULT;
	if (z != NULL &&
	    want(c, z, PLAN_SCALAR, "compress", "`true` or `false`", 0)) {
		if (text_eq(z, "false"))
			p->artifact.is_compressed = 0;
		else if (!text_eq(z, "true"))
			ERR(c, z->pos,
			    "`compress`: `true` or `false`, not `%s` (true, "
			    "the default: the encrypted image is compressed "
			    "with zstd; false: stored, for devices without "
			    "zstd such as microcontrollers)",
			    show(c, z));
	}
	if (k != NULL && VALUE(c, k, "chunk", "a size",
			       plan__parse_size(k->text, k->len, &bytes, c->why,
						sizeof(c->why)))) {
		if (bytes < FL_PLAN_CHUNK_MIN || bytes > FL_PLAN_CHUNK_MAX ||
		    bytes % FL_PLAN_CHUNK_MIN != 0)
			ERR(c, k->pos,
			    "`chunk`: `%s`: a chunk is a multiple of 4KiB "
			    "from 4KiB to 1MiB (a device buffers one chunk; "
			    "the default, 16KiB, is what every agent takes)",
			    show(c, k));
		else
			p->artifact.chunk_bytes = (uint32_t)bytes;
	}
	if (!p->artifact.is_encrypted && (z != NULL || k != NULL))
		WARN(c, (z != NULL ? z : k)->pos,
		     "`%s` applies to encrypted images only: with `encrypt: "
		     "false` the image is stored and served plain",
		     z != NULL ? "compress" : "chunk");
}

static void check_artifact(struct ctx *c, const struct plan__node *n,
			   const struct plan__node *key)
{
	struct fl_plan *p = c->plan;
	struct fields f;
	int err, has_version = 0;

	if (!want(c, n, PLAN_MAP, "artifact", "a mapping", 0))
		return;
	p->artifact.pos = n->pos;
	walk_map(c, n, L_ARTIFACT, &f);
	if (f.v[ART_COMPONENT] &&
	    check_name(c, f.v[ART_COMPONENT], "component"))
		p->artifact.component = dup_text(c, f.v[ART_COMPONENT]);
	if (f.v[ART_VERSION] == NULL) {
		ERR(c, key->pos, "`artifact`: missing `version`");
	} else if (want(c, f.v[ART_VERSION], PLAN_SCALAR, "version",
			"a semantic version", 0)) {
		const struct plan__node *v = f.v[ART_VERSION];

		err = fl_semver_parse(&p->artifact.semver, v->text, v->len);
		if (err == FL_ETOOBIG)
			ERR(c, v->pos,
			    "`version`: the pre-release of `%s` is longer "
			    "than %d characters",
			    show(c, v), FL_SEMVER_PRE_MAX - 1);
		else if (err != 0)
			ERR(c, v->pos,
			    "`version`: `%s` is not a semantic version: write "
			    "MAJOR.MINOR.PATCH, like 2.4.0 or 2.4.0-rc.1%s",
			    show(c, v),
			    v->len > 0 && (v->text[0] == 'v' ||
					   v->text[0] == 'V')
				    ? " (without the v)"
				    : "");
		else {
			p->artifact.version = dup_text(c, v);
			has_version = 1;
		}
	}
	if (f.v[ART_FILE] == NULL)
		ERR(c, key->pos, "`artifact`: missing `file`");
	else
		check_file(c, f.v[ART_FILE]);
	if (f.v[ART_HARDWARE] == NULL) {
		ERR(c, key->pos,
		    "`artifact`: missing `hardware` (the models "
		    "it may be installed on)");
	} else {
		const struct plan__node *h = f.v[ART_HARDWARE];

		p->artifact.nhardware = check_ids(
			c, h, "hardware", "model name", FL_PLAN_MAX_HARDWARE,
			-2, &p->artifact.hardware, NULL);
		if (h->kind == PLAN_SEQ && h->n == 0)
			ERR(c, h->pos,
			    "`hardware` is empty: list the models "
			    "the artifact may be installed on");
	}
	p->artifact.is_encrypted = 1;
	if (f.v[ART_ENCRYPT] != NULL &&
	    want(c, f.v[ART_ENCRYPT], PLAN_SCALAR, "encrypt",
		 "`true` or `false`", 0)) {
		if (text_eq(f.v[ART_ENCRYPT], "false"))
			p->artifact.is_encrypted = 0;
		else if (!text_eq(f.v[ART_ENCRYPT], "true"))
			ERR(c, f.v[ART_ENCRYPT]->pos,
			    "`encrypt`: `true` or `false`, not `%s` (true, the "
			    "default: fleetd stores and serves the image "
			    "encrypted, for devices with a wrap key; false: "
			    "plain, for devices that cannot decrypt)",
			    show(c, f.v[ART_ENCRYPT]));
	}
	check_container(c, &f);
	if (f.v[ART_FROM] != NULL) {
		check_semver_range(c, f.v[ART_FROM]);
		if (has_version && p->artifact.from != NULL &&
		    fl_semver_range_match(&p->artifact.from_range,
					  &p->artifact.semver))
			ERR(c, f.v[ART_FROM]->pos,
			    "`from`: version %s is inside its own `from` range "
			    "`%s`: devices already running it would be offered "
			    "it again",
			    p->artifact.version, show(c, f.v[ART_FROM]));
	}
}

static void check_targets(struct ctx *c, const struct plan__node *n)
{
	struct fl_plan *p = c->plan;
	struct fields f;

	if (!want(c, n, PLAN_MAP, "targets", "a mapping", 0))
		return;
	walk_map(c, n, L_TARGETS, &f);
	if (f.v[TGT_MATCH])
		check_match(c, f.v[TGT_MATCH], &p->targets.match);
	if (f.v[TGT_EXCLUDE])
		p->targets.nexclude = check_ids(
			c, f.v[TGT_EXCLUDE], "exclude", "device id",
			FL_PLAN_MAX_DEVICE_IDS, -1, &p->targets.exclude, NULL);
}

/* One of a few words; reports the list of them otherwise. */
static int check_word(struct ctx *c, const struct plan__node *n,
		      const char *key, const char *const *words,
		      unsigned nwords)
{
	char list[120];
	size_t used = 0;

	if (!want(c, n, PLAN_SCALAR, key, "a word", 0))
		return -1;
	for (unsigned i = 0; i < nwords; i++) {
		if (text_eq(n, words[i]))
			return (int)i;
		used += (size_t)snprintf(list + used, sizeof(list) - used,
					 "%s%s",
					 i == 0		   ? ""
					 : i + 1 == nwords ? " or "
							   : ", ",
					 words[i]);
		if (used >= sizeof(list))
			used = sizeof(list) - 1;
	}
	ERR(c, n->pos, "`%s`: `%s` is not one of %s", key, show(c, n), list);
	return -1;
}

static void check_device(struct ctx *c, const struct plan__node *n)
{
	static const char *const activate[] = {"now", "window", "idle"};
	struct fl_plan *p = c->plan;
	struct fields f;
	int w;

	if (!want(c, n, PLAN_MAP, "device", "a mapping", 0))
		return;
	walk_map(c, n, L_DEVICE, &f);
	if (f.v[DEV_MIN_BATTERY] &&
	    VALUE(c, f.v[DEV_MIN_BATTERY], "min_battery", "a percentage",
		  plan__parse_percent(f.v[DEV_MIN_BATTERY]->text,
				      f.v[DEV_MIN_BATTERY]->len, 1, 0,
				      &p->device.min_battery_ppm, c->why,
				      sizeof(c->why))))
		p->device.has_min_battery = 1;
	if (f.v[DEV_MIN_FREE_STORAGE])
		VALUE(c, f.v[DEV_MIN_FREE_STORAGE], "min_free_storage",
		      "a size",
		      plan__parse_size(f.v[DEV_MIN_FREE_STORAGE]->text,
				       f.v[DEV_MIN_FREE_STORAGE]->len,
				       &p->device.min_free_storage_bytes,
				       c->why, sizeof(c->why)));
	if (f.v[DEV_ACTIVATE]) {
		w = check_word(c, f.v[DEV_ACTIVATE], "activate", activate, 3);
		if (w >= 0)
			p->device.activate = (uint8_t)w;
		if (w == FL_PLAN_ACTIVATE_WINDOW)
			c->activate_value = f.v[DEV_ACTIVATE];
	}
}

static void check_metric(struct ctx *c, const struct plan__node *n,
			 struct fl_plan_metric *m)
{
	struct fields f;

	if (!want(c, n, PLAN_MAP, "metrics",
		  "a rule like {name: crash_count, "
		  "max: 0}",
		  0))
		return;
	m->pos = n->pos;
	walk_map(c, n, L_METRIC, &f);
	if (f.v[MET_NAME] == NULL)
		ERR(c, n->pos, "a metric rule needs a `name`");
	else if (want(c, f.v[MET_NAME], PLAN_SCALAR, "name", "a metric name",
		      0)) {
		if (plan__check_metric_name(f.v[MET_NAME]->text,
					    f.v[MET_NAME]->len, c->why,
					    sizeof(c->why)) != 0)
			ERR(c, f.v[MET_NAME]->pos, "`name`: %s", c->why);
		else
			m->name = dup_text(c, f.v[MET_NAME]);
	}
	if (f.v[MET_MIN] &&
	    VALUE(c, f.v[MET_MIN], "min", "a number",
		  plan__parse_decimal(f.v[MET_MIN]->text, f.v[MET_MIN]->len,
				      &m->min, c->why, sizeof(c->why))))
		m->has_min = 1;
	if (f.v[MET_MAX] &&
	    VALUE(c, f.v[MET_MAX], "max", "a number",
		  plan__parse_decimal(f.v[MET_MAX]->text, f.v[MET_MAX]->len,
				      &m->max, c->why, sizeof(c->why))))
		m->has_max = 1;
	if (f.v[MET_MIN] == NULL && f.v[MET_MAX] == NULL)
		ERR(c, n->pos, "metric rule `%s` needs `min`, `max` or both",
		    m->name ? m->name : "?");
	if (m->has_min && m->has_max && m->min > m->max)
		ERR(c, f.v[MET_MAX]->pos,
		    "metric `%s`: `max` is below `min`, so every value "
		    "breaches",
		    m->name ? m->name : "?");
}

static void check_health(struct ctx *c, const struct plan__node *n)
{
	static const char *const on_failure[] = {"rollback", "pause"};
	struct fl_plan_health *h = &c->plan->health;
	struct fields f;
	uint32_t v;
	int w;

	if (!want(c, n, PLAN_MAP, "health", "a mapping", 0))
		return;
	h->pos = n->pos;
	walk_map(c, n, L_HEALTH, &f);
	if (f.v[H_SOAK])
		VALUE(c, f.v[H_SOAK], "soak", "a duration",
		      plan__parse_duration(f.v[H_SOAK]->text, f.v[H_SOAK]->len,
					   &h->soak_s, c->why, sizeof(c->why)));
	if (f.v[H_MAX_FAILURE_RATE] &&
	    VALUE(c, f.v[H_MAX_FAILURE_RATE], "max_failure_rate",
		  "a percentage",
		  plan__parse_percent(f.v[H_MAX_FAILURE_RATE]->text,
				      f.v[H_MAX_FAILURE_RATE]->len, 1, 1,
				      &h->max_failure_rate_ppm, c->why,
				      sizeof(c->why)))) {
		h->has_max_failure_rate = 1;
		c->max_failure_rate_value = f.v[H_MAX_FAILURE_RATE];
	}
	if (f.v[H_MAX_FAILURES] &&
	    VALUE(c, f.v[H_MAX_FAILURES], "max_failures", "a whole number",
		  plan__parse_uint(f.v[H_MAX_FAILURES]->text,
				   f.v[H_MAX_FAILURES]->len, 1000000000u,
				   &h->max_failures, c->why, sizeof(c->why))))
		h->has_max_failures = 1;
	if (f.v[H_MIN_DEVICES] &&
	    VALUE(c, f.v[H_MIN_DEVICES], "min_devices", "a whole number",
		  plan__parse_uint(f.v[H_MIN_DEVICES]->text,
				   f.v[H_MIN_DEVICES]->len, 1000000000u, &v,
				   c->why, sizeof(c->why)))) {
		if (v == 0)
			ERR(c, f.v[H_MIN_DEVICES]->pos,
			    "`min_devices` must be at least 1");
		else {
			h->min_devices = v;
			h->has_min_devices = 1;
		}
	}
	if (f.v[H_TIMEOUT] &&
	    VALUE(c, f.v[H_TIMEOUT], "timeout", "a duration",
		  plan__parse_duration(f.v[H_TIMEOUT]->text,
				       f.v[H_TIMEOUT]->len, &h->timeout_s,
				       c->why, sizeof(c->why)))) {
		if (h->timeout_s == 0)
			ERR(c, f.v[H_TIMEOUT]->pos,
			    "`timeout` must be longer than 0s; leave it out "
			    "for no timeout");
		else
			c->timeout_value = f.v[H_TIMEOUT];
	}
	if (f.v[H_ROLLBACK_TIMEOUT])
		VALUE(c, f.v[H_ROLLBACK_TIMEOUT], "rollback_timeout",
		      "a duration",
		      plan__parse_duration(f.v[H_ROLLBACK_TIMEOUT]->text,
					   f.v[H_ROLLBACK_TIMEOUT]->len,
					   &h->rollback_timeout_s, c->why,
					   sizeof(c->why)));
	if (f.v[H_ON_FAILURE]) {
		w = check_word(c, f.v[H_ON_FAILURE], "on_failure", on_failure,
			       2);
		if (w >= 0)
			h->on_failure = (uint8_t)w;
	}
	if (f.v[H_METRICS] && want(c, f.v[H_METRICS], PLAN_SEQ, "metrics",
				   "a list of rules", 0)) {
		const struct plan__node *l = f.v[H_METRICS];

		if (l->n > FL_PLAN_MAX_METRICS) {
			ERR(c, l->pos, "`metrics` lists %u rules; at most %d",
			    l->n, FL_PLAN_MAX_METRICS);
			return;
		}
		h->metrics = alloc(c, (l->n ? l->n : 1) * sizeof(*h->metrics));
		if (h->metrics == NULL)
			return;
		for (const struct plan__node *e = l->first; e != NULL;
		     e = e->next) {
			struct fl_plan_metric *m = &h->metrics[h->nmetrics];

			check_metric(c, e, m);
			for (unsigned i = 0; m->name && i < h->nmetrics; i++)
				if (h->metrics[i].name &&
				    strcmp(h->metrics[i].name, m->name) == 0) {
					ERR(c, m->pos,
					    "metric `%s` already has a rule "
					    "(at %u:%u): put `min` and `max` "
					    "in "
					    "one rule",
					    m->name,
					    (unsigned)h->metrics[i].pos.line,
					    (unsigned)h->metrics[i].pos.col);
					break;
				}
			h->nmetrics++;
		}
	}
}

/* A time of day: quoted "HH:MM". */
static int check_time(struct ctx *c, const struct plan__node *n,
		      const char *key, int allow_24, uint16_t *out)
{
	if (!VALUE(c, n, key, "a time of day like \"02:00\"",
		   plan__parse_time_of_day(n->text, n->len, allow_24, out,
					   c->why, sizeof(c->why))))
		return 0;
	if (!n->is_quoted) {
		ERR(c, n->pos,
		    "`%s`: write the time in quotes, \"%s\" (unquoted, YAML "
		    "may read it as a number of minutes)",
		    key, show(c, n));
		return 0;
	}
	return 1;
}

static void check_days(struct ctx *c, const struct plan__node *n,
		       struct fl_plan_window *w)
{
	if (!want(c, n, PLAN_SEQ, "days", "a list like [mon-fri, sun]", 0))
		return;
	if (n->n == 0) {
		ERR(c, n->pos,
		    "`days` is empty: list days, or leave `days` "
		    "out for every day");
		return;
	}
	if (n->n > 7 * 8) {
		ERR(c, n->pos, "`days` lists %u entries", n->n);
		return;
	}
	for (const struct plan__node *e = n->first; e != NULL; e = e->next) {
		uint8_t mask = 0;

		if (!VALUE(c, e, "days", "a day or a range of days",
			   plan__parse_days(e->text, e->len, &mask, c->why,
					    sizeof(c->why))))
			continue;
		if ((w->days_mask & mask) != 0)
			WARN(c, e->pos,
			     "`days`: `%s` repeats a day already listed",
			     show(c, e));
		w->days_mask |= mask;
	}
}

static void check_window(struct ctx *c, const struct plan__node *n,
			 struct fl_plan_window *w)
{
	struct fields f;
	int has_from, has_to;

	if (!want(c, n, PLAN_MAP, "windows",
		  "a window like {days: [mon-fri], from: \"02:00\", to: "
		  "\"05:00\"}",
		  0))
		return;
	w->pos = n->pos;
	walk_map(c, n, L_WINDOW, &f);
	if (f.v[WIN_DAYS])
		check_days(c, f.v[WIN_DAYS], w);
	else
		w->days_mask = 0x7f;
	has_from = f.v[WIN_FROM] &&
		   check_time(c, f.v[WIN_FROM], "from", 0, &w->from_min);
	has_to = f.v[WIN_TO] && check_time(c, f.v[WIN_TO], "to", 1, &w->to_min);
	if (f.v[WIN_FROM] == NULL)
		ERR(c, n->pos, "a window needs `from`, like from: \"02:00\"");
	if (f.v[WIN_TO] == NULL)
		ERR(c, n->pos, "a window needs `to`, like to: \"05:00\"");
	if (has_from && has_to && w->from_min == w->to_min)
		ERR(c, f.v[WIN_TO]->pos,
		    "`to` equals `from`: the window would be empty (for the "
		    "whole day write from \"00:00\" to \"24:00\")");
	if (f.v[WIN_TZ] && want(c, f.v[WIN_TZ], PLAN_SCALAR, "tz",
				"`device` or a time-zone name", 0)) {
		const struct plan__node *tz = f.v[WIN_TZ];

		if (text_eq(tz, "device"))
			w->is_device_tz = 1;
		else if (plan__tz_check(tz->text, tz->len, c->why,
					sizeof(c->why)) != 0)
			ERR(c, tz->pos, "`tz`: %s", c->why);
		else if (!text_eq(tz, "UTC"))
			w->tz = dup_text(c, tz);
	}
}

/* An instant for a hold's from or until. */
static int check_instant(struct ctx *c, const struct plan__node *n,
			 const char *key, int64_t *out)
{
	return VALUE(c, n, key, "an instant like 2026-11-27T00:00:00Z",
		     plan__parse_instant(n->text, n->len, out, c->why,
					 sizeof(c->why)));
}

static void check_hold(struct ctx *c, const struct plan__node *n, unsigned idx,
		       struct fl_plan_hold *h)
{
	struct fields f;
	const struct plan__node *u;

	if (!want(c, n, PLAN_MAP, "holds", "a hold (a mapping)", 0))
		return;
	h->pos = n->pos;
	walk_map(c, n, L_HOLD, &f);
	if (f.v[HOLD_NAME] == NULL)
		ERR(c, n->pos,
		    "a hold needs a `name` (used by `fleetctl "
		    "approve`)");
	else if (check_name(c, f.v[HOLD_NAME], "name")) {
		h->name = dup_text(c, f.v[HOLD_NAME]);
		c->hold_name_node[idx] = f.v[HOLD_NAME];
	}
	if (f.v[HOLD_MATCH])
		check_match(c, f.v[HOLD_MATCH], &h->match);
	if (f.v[HOLD_REASON])
		check_text(c, f.v[HOLD_REASON], "reason", &h->reason);
	if (f.v[HOLD_FROM] &&
	    check_instant(c, f.v[HOLD_FROM], "from", &h->from_unix_s))
		h->has_from = 1;
	u = f.v[HOLD_UNTIL];
	if (u == NULL) {
		ERR(c, n->pos,
		    "hold `%s` needs `until`: `until: approved`, or an "
		    "instant like 2026-11-30T23:59:59Z",
		    h->name ? h->name : "?");
	} else if (text_eq(u, "approved")) {
		h->until_approved = 1;
	} else if (u->kind == PLAN_SCALAR && u->len > 0 &&
		   !(u->text[0] >= '0' && u->text[0] <= '9')) {
		ERR(c, u->pos,
		    "`until`: `%s` is neither `approved` nor an instant like "
		    "2026-11-30T23:59:59Z",
		    show(c, u));
	} else if (check_instant(c, u, "until", &h->until_unix_s)) {
		h->has_until = 1;
	}
	if (h->has_from && h->has_until && h->from_unix_s >= h->until_unix_s)
		ERR(c, u->pos,
		    "`until` is not after `from`: the hold would "
		    "never apply");
}

static void check_stage(struct ctx *c, const struct plan__node *n, unsigned idx,
			struct fl_plan_stage *st)
{
	static const int selectors[] = {ST_DEVICES, ST_COUNT, ST_MATCH,
					ST_PERCENT};
	static const uint8_t kinds[] = {FL_STAGE_DEVICES, FL_STAGE_COUNT,
					FL_STAGE_MATCH, FL_STAGE_PERCENT};
	struct fields f;
	const struct plan__node *first_sel = NULL;
	int chosen = -1;

	char dflt[24];

	/* An unnamed stage is called stage-N (N counted from 1). */
	snprintf(dflt, sizeof(dflt), "stage-%u", idx + 1);
	st->name = plan__arena_strndup(c->out, dflt, strlen(dflt));
	c->stage_label[idx] = st->name ? st->name : "?";
	c->stage_name_pos[idx] = n->pos;
	st->pos = n->pos;
	if (!want(c, n, PLAN_MAP, "stages", "a stage (a mapping)", 0))
		return;
	walk_map(c, n, L_STAGE, &f);
	if (f.v[ST_NAME] != NULL && check_name(c, f.v[ST_NAME], "name")) {
		st->name = dup_text(c, f.v[ST_NAME]);
		c->stage_label[idx] = st->name ? st->name : "?";
		c->stage_name_pos[idx] = f.v[ST_NAME]->pos;
	}
	/* Exactly one way to choose the members; report in source order. */
	for (int i = 0; i < 4; i++) {
		const struct plan__node *k = f.k[selectors[i]];

		if (k == NULL)
			continue;
		if (first_sel == NULL || k->pos.line < first_sel->pos.line ||
		    (k->pos.line == first_sel->pos.line &&
		     k->pos.col < first_sel->pos.col)) {
			first_sel = k;
			chosen = i;
		}
	}
	if (first_sel == NULL) {
		ERR(c, c->stage_name_pos[idx],
		    "stage `%s` needs one of `devices`, `count`, `match` or "
		    "`percent` to choose its devices",
		    c->stage_label[idx]);
		return;
	}
	c->stage_has_one_selector[idx] = 1;
	for (int i = 0; i < 4; i++) {
		const struct plan__node *k = f.k[selectors[i]];

		if (k != NULL && k != first_sel) {
			ERR(c, k->pos,
			    "stage `%s`: `%s` and `%s` both choose its "
			    "devices; keep one",
			    c->stage_label[idx], first_sel->text, k->text);
			c->stage_has_one_selector[idx] = 0;
		}
	}
	st->kind = kinds[chosen];
	switch (selectors[chosen]) {
	case ST_DEVICES:
		st->ndevices =
			check_ids(c, f.v[ST_DEVICES], "devices", "device id",
				  FL_PLAN_MAX_DEVICE_IDS, (int)idx,
				  &st->devices, &st->device_pos);
		if (f.v[ST_DEVICES]->kind == PLAN_SEQ &&
		    f.v[ST_DEVICES]->n == 0)
			ERR(c, f.v[ST_DEVICES]->pos,
			    "`devices` is empty: list at least one device id");
		break;
	case ST_COUNT:
		if (VALUE(c, f.v[ST_COUNT], "count", "a whole number",
			  plan__parse_uint(f.v[ST_COUNT]->text,
					   f.v[ST_COUNT]->len, 1000000000u,
					   &st->count, c->why,
					   sizeof(c->why))) &&
		    st->count == 0)
			ERR(c, f.v[ST_COUNT]->pos,
			    "`count` must be at least 1");
		break;
	case ST_MATCH: check_match(c, f.v[ST_MATCH], &st->match); break;
	default:
		c->stage_percent_pos[idx] = f.v[ST_PERCENT]->pos;
		VALUE(c, f.v[ST_PERCENT], "percent",
		      "a cumulative percentage like 10",
		      plan__parse_percent(
			      f.v[ST_PERCENT]->text, f.v[ST_PERCENT]->len, 0, 0,
			      &st->percent_ppm, c->why, sizeof(c->why)));
		break;
	}
	if (f.v[ST_SOAK] &&
	    VALUE(c, f.v[ST_SOAK], "soak", "a duration",
		  plan__parse_duration(f.v[ST_SOAK]->text, f.v[ST_SOAK]->len,
				       &st->soak_s, c->why, sizeof(c->why))))
		st->has_soak = 1;
	if (f.v[ST_APPROVAL] && want(c, f.v[ST_APPROVAL], PLAN_SCALAR,
				     "approval", "`required`", 0)) {
		if (text_eq(f.v[ST_APPROVAL], "required"))
			st->approval_required = 1;
		else
			ERR(c, f.v[ST_APPROVAL]->pos,
			    "`approval`: the only value is `required`; leave "
			    "the key out for no approval");
	}
	if (f.v[ST_RATE] &&
	    VALUE(c, f.v[ST_RATE], "rate", "a rate like 200/min",
		  plan__parse_rate(f.v[ST_RATE]->text, f.v[ST_RATE]->len,
				   &st->rate_count, &st->rate_period_s, c->why,
				   sizeof(c->why))))
		st->has_rate = 1;
}

static void show_percent(char *buf, size_t size, uint32_t ppm)
{
	if (ppm % 10000 == 0)
		snprintf(buf, size, "%u%%", ppm / 10000);
	else
		snprintf(buf, size, "%u.%04u%%", ppm / 10000, ppm % 10000);
}

/* The order of the stages: cumulative percentages rise, nothing follows
 * 100%, and the last stage should reach everyone. */
static void check_stage_order(struct ctx *c)
{
	struct fl_plan *p = c->plan;
	int last_pct = -1, full = -1;
	char a[16], b[16];

	for (unsigned i = 0; i < p->nstages; i++) {
		struct fl_plan_stage *st = &p->stages[i];

		if (full >= 0) {
			ERR(c, c->stage_name_pos[i],
			    "stage `%s` follows stage `%s`, which already "
			    "reaches 100%% of targets: it would have no "
			    "devices",
			    c->stage_label[i], c->stage_label[full]);
			continue;
		}
		if (st->kind != FL_STAGE_PERCENT || st->percent_ppm == 0)
			continue;
		if (last_pct >= 0 &&
		    st->percent_ppm <= p->stages[last_pct].percent_ppm) {
			show_percent(a, sizeof(a), st->percent_ppm);
			show_percent(b, sizeof(b),
				     p->stages[last_pct].percent_ppm);
			ERR(c, c->stage_percent_pos[i],
			    "stage `%s`: percent %s does not increase on "
			    "stage `%s` (%s); percentages are cumulative",
			    c->stage_label[i], a, c->stage_label[last_pct], b);
		}
		last_pct = (int)i;
		if (st->percent_ppm == FL_PPM)
			full = (int)i;
	}
	if (p->nstages > 0 && full < 0 &&
	    c->stage_has_one_selector[p->nstages - 1]) {
		struct fl_plan_stage *st = &p->stages[p->nstages - 1];

		if (st->kind == FL_STAGE_PERCENT && st->percent_ppm > 0) {
			show_percent(a, sizeof(a), st->percent_ppm);
			WARN(c, c->stage_percent_pos[p->nstages - 1],
			     "the last stage, `%s`, reaches %s of targets: "
			     "the rest are never offered the update",
			     c->stage_label[p->nstages - 1], a);
		} else if (st->kind != FL_STAGE_PERCENT) {
			WARN(c, c->stage_name_pos[p->nstages - 1],
			     "the last stage, `%s`, is not `percent: 100`: "
			     "targets outside the stages are never offered "
			     "the update",
			     c->stage_label[p->nstages - 1]);
		}
	}
}

static int cmp_seen(const void *x, const void *y)
{
	const struct seen_id *a = x, *b = y;
	size_t n = a->len < b->len ? a->len : b->len;
	int r = memcmp(a->id, b->id, n);

	if (r != 0)
		return r;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* A device listed twice in one stage, in two stages, or in a stage and in
 * targets.exclude: each would make the plan mean two things. */
static void check_device_ids(struct ctx *c)
{
	struct seen_id *all;
	unsigned k = 0;

	if (c->nseen < 2)
		return;
	all = plan__arena_alloc(c->tmp, c->nseen * sizeof(*all));
	if (all == NULL) {
		if (c->err == 0)
			c->err = plan__arena_error(c->tmp);
		return;
	}
	for (struct seen_block *b = c->seen; b != NULL; b = b->next)
		for (unsigned i = 0; i < b->n; i++)
			all[k++] = b->e[i];
	qsort(all, k, sizeof(*all), cmp_seen);
	/* Equal ids are now together, in reading order, and the entries of
	 * one list are contiguous among them. */
	for (unsigned i = 1, group = 0, run = 0; i < k; i++) {
		struct seen_id *e = &all[i], *g, *r;
		char id[48];

		if (all[group].len != e->len ||
		    memcmp(all[group].id, e->id, e->len) != 0) {
			group = run = i;
			continue;
		}
		if (all[run].owner != e->owner)
			run = i;
		g = &all[group];
		r = &all[run];
		plan__show(id, sizeof(id), e->id, e->len);
		if (run != i)
			ERR(c, e->pos,
			    "duplicate device `%s` in %s%s%s (first "
			    "at %u:%u)",
			    id, e->owner < 0 ? "`targets.exclude`" : "stage `",
			    e->owner < 0 ? "" : c->stage_label[e->owner],
			    e->owner < 0 ? "" : "`", (unsigned)r->pos.line,
			    (unsigned)r->pos.col);
		else if (g->owner < 0)
			ERR(c, e->pos,
			    "device `%s` is excluded by `targets.exclude` "
			    "(%u:%u) but listed in stage `%s`",
			    id, (unsigned)g->pos.line, (unsigned)g->pos.col,
			    c->stage_label[e->owner]);
		else
			ERR(c, e->pos,
			    "device `%s` is already in stage `%s` (%u:%u)", id,
			    c->stage_label[g->owner], (unsigned)g->pos.line,
			    (unsigned)g->pos.col);
	}
}

static void check_stages(struct ctx *c, const struct plan__node *n)
{
	struct fl_plan *p = c->plan;
	unsigned i = 0;

	if (!want(c, n, PLAN_SEQ, "stages", "a list of stages", 0))
		return;
	if (n->n == 0) {
		ERR(c, n->pos,
		    "`stages` is empty: a plan needs at least one "
		    "stage");
		return;
	}
	if (n->n > FL_PLAN_MAX_STAGES) {
		ERR(c, n->pos, "`stages` lists %u stages; at most %d", n->n,
		    FL_PLAN_MAX_STAGES);
		return;
	}
	p->stages = alloc(c, n->n * sizeof(*p->stages));
	if (p->stages == NULL)
		return;
	p->nstages = n->n;
	for (const struct plan__node *e = n->first; e != NULL; e = e->next, i++)
		check_stage(c, e, i, &p->stages[i]);
	for (i = 0; i < p->nstages; i++)
		for (unsigned j = 0; j < i && p->stages[i].name; j++)
			if (p->stages[j].name &&
			    strcmp(p->stages[i].name, p->stages[j].name) == 0) {
				ERR(c, c->stage_name_pos[i],
				    "duplicate stage name `%s` (first at "
				    "%u:%u)",
				    p->stages[i].name,
				    (unsigned)c->stage_name_pos[j].line,
				    (unsigned)c->stage_name_pos[j].col);
				break;
			}
	check_stage_order(c);
}

static void check_holds(struct ctx *c, const struct plan__node *n)
{
	struct fl_plan *p = c->plan;
	unsigned i = 0;

	if (!want(c, n, PLAN_SEQ, "holds", "a list of holds", 0))
		return;
	if (n->n > FL_PLAN_MAX_HOLDS) {
		ERR(c, n->pos, "`holds` lists %u holds; at most %d", n->n,
		    FL_PLAN_MAX_HOLDS);
		return;
	}
	p->holds = alloc(c, (n->n ? n->n : 1) * sizeof(*p->holds));
	if (p->holds == NULL)
		return;
	p->nholds = n->n;
	for (const struct plan__node *e = n->first; e != NULL;
	     e = e->next, i++) {
		struct fl_plan_hold *h = &p->holds[i];

		check_hold(c, e, i, h);
		for (unsigned j = 0; h->name && j < i; j++)
			if (p->holds[j].name &&
			    strcmp(p->holds[j].name, h->name) == 0) {
				ERR(c, c->hold_name_node[i]->pos,
				    "duplicate hold name `%s` (first at "
				    "%u:%u)",
				    h->name,
				    (unsigned)c->hold_name_node[j]->pos.line,
				    (unsigned)c->hold_name_node[j]->pos.col);
				break;
			}
	}
}

static void check_windows(struct ctx *c, const struct plan__node *n)
{
	struct fl_plan *p = c->plan;
	unsigned i = 0;

	if (!want(c, n, PLAN_SEQ, "windows", "a list of windows", 0))
		return;
	if (n->n == 0) {
		ERR(c, n->pos,
		    "`windows` is empty: leave `windows` out to "
		    "allow any time");
		return;
	}
	if (n->n > FL_PLAN_MAX_WINDOWS) {
		ERR(c, n->pos, "`windows` lists %u windows; at most %d", n->n,
		    FL_PLAN_MAX_WINDOWS);
		return;
	}
	p->windows = alloc(c, n->n * sizeof(*p->windows));
	if (p->windows == NULL)
		return;
	p->nwindows = n->n;
	for (const struct plan__node *e = n->first; e != NULL; e = e->next, i++)
		check_window(c, e, &p->windows[i]);
}

/* four_eyes: true | false; after stages and holds, which it is about. */
static void check_four_eyes(struct ctx *c, const struct plan__node *n)
{
	struct fl_plan *p = c->plan;
	int has_approval = 0;

	if (!want(c, n, PLAN_SCALAR, "four_eyes", "`true` or `false`", 0))
		return;
	if (text_eq(n, "false"))
		return;
	if (!text_eq(n, "true")) {
		ERR(c, n->pos,
		    "`four_eyes`: `true` or `false`, not `%s` (true: an "
		    "approval must come from someone other than who started "
		    "the rollout)",
		    show(c, n));
		return;
	}
	p->is_four_eyes = 1;
	for (unsigned i = 0; i < p->nstages; i++)
		has_approval |= p->stages[i].approval_required;
	for (unsigned i = 0; i < p->nholds; i++)
		has_approval |= p->holds[i].until_approved;
	if (!has_approval)
		WARN(c, n->pos,
		     "`four_eyes` has no effect: no stage has `approval: "
		     "required` and no hold lasts `until: approved`");
}

/* Checks that need more than one section. */
static void check_across(struct ctx *c)
{
	struct fl_plan *p = c->plan;

	/* approve NAME X must name one thing. */
	for (unsigned i = 0; i < p->nholds; i++)
		for (unsigned j = 0; p->holds[i].name && j < p->nstages; j++)
			if (p->stages[j].name &&
			    strcmp(p->holds[i].name, p->stages[j].name) == 0) {
				ERR(c, c->hold_name_node[i]->pos,
				    "hold `%s` has the name of a stage "
				    "(%u:%u): `fleetctl approve` could not "
				    "tell them apart",
				    p->holds[i].name,
				    (unsigned)c->stage_name_pos[j].line,
				    (unsigned)c->stage_name_pos[j].col);
				break;
			}
	if (c->activate_value != NULL && p->nwindows == 0)
		ERR(c, c->activate_value->pos,
		    "`activate: window` needs `windows`: without one the "
		    "devices would never activate");
	if (c->max_failure_rate_value != NULL &&
	    p->health.max_failure_rate_ppm == 0 && !p->health.has_min_devices)
		WARN(c, c->max_failure_rate_value->pos,
		     "`max_failure_rate: 0%%` without `min_devices`: the first "
		     "failure fails the stage");
	if (c->timeout_value != NULL) {
		for (unsigned i = 0; i < p->nstages; i++) {
			int64_t soak = p->stages[i].has_soak
					       ? p->stages[i].soak_s
					       : p->health.soak_s;

			if (p->health.timeout_s <= soak) {
				ERR(c, c->timeout_value->pos,
				    "`timeout` is not longer than the soak of "
				    "stage `%s`: every device would time out "
				    "before it could succeed",
				    c->stage_label[i]);
				break;
			}
		}
	}
	check_device_ids(c);
}

static void check_plan(struct ctx *c, const struct plan__node *root)
{
	struct fl_plan *p = c->plan;
	struct fields f;
	static const char *const required[] = {"rollout", "artifact", "stages"};
	static const int required_idx[] = {TOP_ROLLOUT, TOP_ARTIFACT,
					   TOP_STAGES};

	if (root == NULL) {
		fl_plan_diags_add(
			c->d, FL_DIAG_ERROR, (struct fl_pos){1, 1},
			"the plan is empty: it needs at least `rollout`, "
			"`artifact` and `stages`");
		return;
	}
	if (root->kind != PLAN_MAP) {
		if (root->kind != PLAN_BAD)
			ERR(c, root->pos,
			    "a plan is a YAML mapping of keys like `rollout:` "
			    "and `stages:`; this file holds %s",
			    found(c, root));
		return;
	}
	walk_map(c, root, L_TOP, &f);
	for (int i = 0; i < 3; i++)
		if (f.v[required_idx[i]] == NULL)
			ERR(c, root->pos, "missing `%s`%s", required[i],
			    required_idx[i] == TOP_STAGES
				    ? ": a plan needs at least one stage"
				    : "");
	if (f.v[TOP_ROLLOUT] && check_name(c, f.v[TOP_ROLLOUT], "rollout"))
		p->name = dup_text(c, f.v[TOP_ROLLOUT]);
	if (f.v[TOP_DESCRIPTION])
		check_text(c, f.v[TOP_DESCRIPTION], "description",
			   &p->description);
	if (f.v[TOP_ARTIFACT])
		check_artifact(c, f.v[TOP_ARTIFACT], f.k[TOP_ARTIFACT]);
	if (p->artifact.component == NULL)
		p->artifact.component =
			plan__arena_strndup(c->out, "firmware", 8);
	if (f.v[TOP_TARGETS])
		check_targets(c, f.v[TOP_TARGETS]);
	if (f.v[TOP_DEVICE])
		check_device(c, f.v[TOP_DEVICE]);
	if (f.v[TOP_HEALTH])
		check_health(c, f.v[TOP_HEALTH]);
	if (f.v[TOP_WINDOWS])
		check_windows(c, f.v[TOP_WINDOWS]);
	if (f.v[TOP_STAGES])
		check_stages(c, f.v[TOP_STAGES]);
	if (f.v[TOP_HOLDS])
		check_holds(c, f.v[TOP_HOLDS]);
	if (f.v[TOP_FOUR_EYES])
		check_four_eyes(c, f.v[TOP_FOUR_EYES]);
	check_across(c);
}

/* ---- public ------------------------------------------------------------ */

static void diags_init(struct fl_plan_diags *diags, const char *path)
{
	memset(diags, 0, sizeof(*diags));
	diags->file = path != NULL ? path : "<plan>";
}

int fl_plan_parse(const char *buf, size_t len, const char *path,
		  struct fl_plan **out, struct fl_plan_diags *diags)
{
	return fl_plan_parse_opts(buf, len, path, NULL, out, diags);
}

int fl_plan_parse_opts(const char *buf, size_t len, const char *path,
		       const struct fl_plan_parse_opts *opts,
		       struct fl_plan **out, struct fl_plan_diags *diags)
{
	struct ctx c;
	struct plan__node *root = NULL;
	int err = 0;

	if (out != NULL)
		*out = NULL;
	if (diags == NULL)
		return FL_EINVAL;
	diags_init(diags, path);
	if (buf == NULL && len > 0)
		return FL_EINVAL;
	if (len > FL_PLAN_MAX_FILE_BYTES) {
		fl_plan_diags_add(
			diags, FL_DIAG_ERROR, (struct fl_pos){1, 1},
			"the file has %zu bytes; a plan may have at most %u",
			len, (unsigned)FL_PLAN_MAX_FILE_BYTES);
		return FL_ETOOBIG;
	}
	memset(&c, 0, sizeof(c));
	c.d = diags;
	c.path = path;
	c.opts = opts;
	c.tmp = plan__arena_new(PLAN_TREE_ARENA_MAX);
	c.out = plan__arena_new(PLAN_ARENA_MAX);
	if (c.tmp == NULL || c.out == NULL) {
		err = FL_ENOMEM;
		goto out;
	}
	err = plan__tree_build(&root, buf ? buf : "", len, c.tmp, diags);
	if (err != 0)
		goto out;
	c.plan = plan__arena_alloc(c.out, sizeof(*c.plan));
	if (c.plan == NULL) {
		err = plan__arena_error(c.out);
		goto out;
	}
	c.plan->arena = c.out;
	c.plan->health.rollback_timeout_s = FL_PLAN_ROLLBACK_TIMEOUT_DEFAULT_S;
	if (path != NULL)
		c.plan->path = plan__arena_strndup(c.out, path, strlen(path));
	check_plan(&c, root);
	if (c.err == 0)
		c.err = plan__arena_error(c.out);
	err = c.err;
	if (err == 0 && diags->n_errors > 0)
		err = FL_EINVAL;
	if (err == 0 && out != NULL) {
		*out = c.plan;
		c.out = NULL; /* owned by the plan now */
	}
out:
	if (err == FL_ENOMEM || err == FL_ETOOBIG)
		fl_plan_diags_add(
			diags, FL_DIAG_ERROR, (struct fl_pos){1, 1}, "%s",
			err == FL_ENOMEM
				? "out of memory while reading the plan"
				: "the plan is too large to hold in memory");
	fl_plan_diags_sort(diags);
	plan__arena_free(c.tmp);
	plan__arena_free(c.out);
	return err;
}

int fl_plan_load(const char *path, struct fl_plan **out,
		 struct fl_plan_diags *diags)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, err = 0;

	if (out != NULL)
		*out = NULL;
	if (diags == NULL || path == NULL)
		return FL_EINVAL;
	diags_init(diags, path);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fl_plan_diags_add(diags, FL_DIAG_ERROR, (struct fl_pos){1, 1},
				  "cannot open the plan: %s", strerror(errno));
		err = FL_EIO;
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fl_plan_diags_add(diags, FL_DIAG_ERROR, (struct fl_pos){1, 1},
				  "the plan is not a regular file");
		err = FL_EIO;
		goto out;
	}
	if ((uint64_t)st.st_size > FL_PLAN_MAX_FILE_BYTES) {
		fl_plan_diags_add(
			diags, FL_DIAG_ERROR, (struct fl_pos){1, 1},
			"the file has %llu bytes; a plan may have at most %u",
			(unsigned long long)st.st_size,
			(unsigned)FL_PLAN_MAX_FILE_BYTES);
		err = FL_ETOOBIG;
		goto out;
	}
	/* One byte more than allowed, to notice a file that grew. */
	buf = malloc(FL_PLAN_MAX_FILE_BYTES + 1);
	if (buf == NULL) {
		fl_plan_diags_add(diags, FL_DIAG_ERROR, (struct fl_pos){1, 1},
				  "out of memory while reading the plan");
		err = FL_ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r =
			read(fd, buf + len, FL_PLAN_MAX_FILE_BYTES + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fl_plan_diags_add(
				diags, FL_DIAG_ERROR, (struct fl_pos){1, 1},
				"cannot read the plan: %s", strerror(errno));
			err = FL_EIO;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > FL_PLAN_MAX_FILE_BYTES)
			break;
	}
	err = fl_plan_parse(buf, len, path, out, diags);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return err;
}

void fl_plan_free(struct fl_plan *plan)
{
	if (plan == NULL)
		return;
	plan__arena_free(plan->arena); /* the plan itself lives in it */
}
