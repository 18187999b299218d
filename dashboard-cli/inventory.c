/*
 * inventory.c -- reads a fleet inventory (docs/inventory-format.md) for
 * `fleetctl plan simulate`, or derives a default fleet from a plan.
 *
 * Method: the YAML is read with libyaml's event parser, one event at a
 * time, straight into the engine's inventory entries; there is no
 * intermediate tree, so a file of a million devices costs the entries and
 * their strings only. Strings that repeat across devices (models, zones,
 * versions, label keys and values) are interned in the inventory's arena,
 * and every device a `groups:` entry generates shares one label array.
 * Anchors, aliases and tags are refused at the first one (no alias bomb
 * can cost more than reading up to it), nesting is bounded, and so are
 * the file's size, the devices, the groups and each device's labels.
 * Errors are positioned and parsing goes on after a bad value so that one
 * run reports them all (at most FL_PLAN_MAX_DIAGS); a YAML syntax error or
 * a broken bound stops it. Duplicate ids are found at the end with a hash
 * set over the finished entries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "fl/bytes.h"
#include "fl/err.h"
#include "fl/semver.h"
#include "fl/tzfile.h"
#include "inventory.h"

#define CHUNK_BYTES   (64u << 10)
#define MEM_MAX_BYTES ((size_t)1 << 30) /* whole arena, a backstop */
#define MAX_ZONES     FL_ENGINE_MAX_ZONES
#define DEFAULT_FLEET "(default fleet)"

/* ---- arena and interned strings -------------------------------------- */

struct chunk {
	struct chunk *next;
	size_t used, size;
	_Alignas(16) unsigned char data[];
};

struct mem {
	struct chunk *head;
	size_t total;
	const char **slots; /* interned strings, open addressing */
	size_t nslots, nused;
	struct {
		const char *name; /* interned */
		int is_ok;
	} zones[MAX_ZONES];
	unsigned nzones;
};

static void *mem_alloc(struct mem *m, size_t size)
{
	struct chunk *c = m->head;
	size_t need = (size + 15) & ~(size_t)15;

	if (size > MEM_MAX_BYTES)
		return NULL;
	if (c == NULL || c->size - c->used < need) {
		size_t sz = need > CHUNK_BYTES ? need : CHUNK_BYTES;

		if (m->total + sz > MEM_MAX_BYTES)
			return NULL;
		c = malloc(sizeof(*c) + sz);
		if (c == NULL)
			return NULL;
		c->size = sz;
		c->used = 0;
		c->next = m->head;
		m->head = c;
		m->total += sz;
	}
	c->used += need;
	return c->data + c->used - need;
}

static char *mem_strndup(struct mem *m, const char *s, size_t len)
{
	char *d = mem_alloc(m, len + 1);

	if (d == NULL)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

static uint64_t hash_str(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int intern_grow(struct mem *m)
{
	size_t n = m->nslots ? m->nslots * 2 : 256;
	const char **s = calloc(n, sizeof(*s));

	if (s == NULL)
		return FL_ENOMEM;
	for (size_t i = 0; i < m->nslots; i++) {
		const char *v = m->slots[i];
		size_t j;

		if (v == NULL)
			continue;
		j = (size_t)hash_str(v, strlen(v)) & (n - 1);
		while (s[j] != NULL)
			j = (j + 1) & (n - 1);
		s[j] = v;
	}
	free(m->slots);
	m->slots = s;
	m->nslots = n;
	return 0;
}

/* The arena's one copy of s[0..len); NULL when out of memory. */
static const char *intern(struct mem *m, const char *s, size_t len)
{
	size_t j;
	const char *v;

	if ((m->nused + 1) * 2 > m->nslots && intern_grow(m) != 0)
		return NULL;
	j = (size_t)hash_str(s, len) & (m->nslots - 1);
	while ((v = m->slots[j]) != NULL) {
		if (strncmp(v, s, len) == 0 && v[len] == '\0')
			return v;
		j = (j + 1) & (m->nslots - 1);
	}
	v = mem_strndup(m, s, len);
	if (v == NULL)
		return NULL;
	m->slots[j] = v;
	m->nused++;
	return v;
}

static void mem_free(struct mem *m)
{
	struct chunk *c, *next;

	if (m == NULL)
		return;
	for (c = m->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(m->slots);
	free(m);
}

void fl_inventory_free(struct fl_inventory *inv)
{
	if (inv == NULL)
		return;
	free(inv->dev);
	free(inv->pos);
	mem_free(inv->mem);
	free(inv);
}

static int inv_new(struct fl_inventory **out, const char *source)
{
	struct fl_inventory *inv = calloc(1, sizeof(*inv));
	struct mem *m = calloc(1, sizeof(*m));

	if (inv == NULL || m == NULL) {
		free(inv);
		free(m);
		return FL_ENOMEM;
	}
	inv->mem = m;
	inv->source = mem_strndup(m, source, strlen(source));
	if (inv->source == NULL) {
		fl_inventory_free(inv);
		return FL_ENOMEM;
	}
	*out = inv;
	return 0;
}

/* Room for `more` further devices. FL_ETOOBIG past FL_INV_MAX_DEVICES. */
static int inv_reserve(struct fl_inventory *inv, size_t *cap, size_t more)
{
	size_t want = inv->n + more, ncap;
	struct fl_inv_device *d;
	struct fl_pos *p;

	if (more > FL_INV_MAX_DEVICES || want > FL_INV_MAX_DEVICES)
		return FL_ETOOBIG;
	if (want <= *cap)
		return 0;
	ncap = *cap ? *cap : 64;
	while (ncap < want)
		ncap *= 2;
	if (ncap > FL_INV_MAX_DEVICES)
		ncap = FL_INV_MAX_DEVICES;
	d = realloc(inv->dev, ncap * sizeof(*d));
	if (d == NULL)
		return FL_ENOMEM;
	inv->dev = d;
	p = realloc(inv->pos, ncap * sizeof(*p));
	if (p == NULL)
		return FL_ENOMEM;
	inv->pos = p;
	*cap = ncap;
	return 0;
}

const char *fl_inv_label(const struct fl_inv_device *d, const char *key)
{
	for (unsigned i = 0; i < d->nlabels; i++)
		if (strcmp(d->labels[i].key, key) == 0)
			return d->labels[i].value;
	return NULL;
}

/* ---- time zones ------------------------------------------------------- */

/* name is interned. Returns 1 known, 0 unknown (or unusable: a corrupt
 * zone file), FL_ETOOBIG (too many zones) or FL_ENOMEM (not cached). */
static int zone_check(struct mem *m, const struct fl_tz_ops *tz,
		      const char *name)
{
	unsigned i;
	int ok;

	for (i = 0; i < m->nzones; i++)
		if (m->zones[i].name == name)
			return m->zones[i].is_ok;
	if (m->nzones >= MAX_ZONES)
		return FL_ETOOBIG;
	ok = fl_tz_name_ok(name);
	if (ok && tz != NULL && tz->utc_offset != NULL) {
		int32_t off;
		int64_t next_s;
		int err = tz->utc_offset(tz->ctx, name, 0, &off, &next_s);

		if (err == FL_ENOMEM)
			return FL_ENOMEM;
		ok = err == 0;
	}
	m->zones[i].name = name;
	m->zones[i].is_ok = ok;
	m->nzones++;
	return ok;
}

/* ---- the YAML reader ---------------------------------------------------- */

struct reader {
	yaml_parser_t yp;
	yaml_event_t ev;
	int has_ev;
	const char *buf;
	size_t len;
	const char *component;
	const struct fl_tz_ops *tz;
	struct fl_plan_diags *diags;
	struct fl_inventory *inv;
	struct mem *m;
	size_t cap;
	unsigned ngroups;
	int fatal; /* 0, or the error that stopped the reading */
};

/* One device or group as read, before it becomes entries. */
struct entry {
	int is_group;
	struct fl_pos pos;
	const char *id;	    /* device: in the arena */
	const char *prefix; /* group: interned */
	struct fl_pos prefix_pos;
	const char *model, *tz, *version, *cversion;
	struct fl_inv_label labels[FL_INV_MAX_LABELS];
	unsigned nlabels;
	uint8_t is_online;
	int has_count, has_start;
	uint32_t count, start;
};

static struct fl_pos mark_pos(yaml_mark_t mk)
{
	struct fl_pos p;

	p.line = (uint32_t)mk.line + 1;
	p.col = (uint32_t)mk.column + 1;
	return p;
}

static struct fl_pos ev_pos(const struct reader *r)
{
	return mark_pos(r->ev.start_mark);
}

static void diag(struct reader *r, int severity, struct fl_pos pos,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void diag(struct reader *r, int severity, struct fl_pos pos,
		 const char *fmt, ...)
{
	struct fl_plan_diags *d = r->diags;
	struct fl_plan_diag *e;
	va_list ap;

	if (severity == FL_DIAG_ERROR)
		d->n_errors++;
	else
		d->n_warnings++;
	if (d->n >= FL_PLAN_MAX_DIAGS) {
		d->n_dropped++;
		return;
	}
	e = &d->d[d->n++];
	e->severity = (uint8_t)severity;
	e->pos.line = pos.line ? pos.line : 1;
	e->pos.col = pos.line ? pos.col : 1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

static struct fl_pos offset_pos(const char *buf, size_t len, size_t off)
{
	struct fl_pos p = {1, 1};

	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			p.line++;
			p.col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			p.col++;
		}
	}
	return p;
}

static int stop(struct reader *r, int err)
{
	if (r->fatal == 0)
		r->fatal = err;
	return err;
}

/* Advances to the next event. Returns 0 or the (fatal) error. */
static int next(struct reader *r)
{
	yaml_parser_t *p = &r->yp;
	const char *anchor = NULL, *tag = NULL;

	if (r->fatal)
		return r->fatal;
	if (r->has_ev)
		yaml_event_delete(&r->ev);
	r->has_ev = 0;
	if (!yaml_parser_parse(p, &r->ev)) {
		struct fl_pos pos;

		if (p->error == YAML_MEMORY_ERROR) {
			pos.line = pos.col = 0;
			diag(r, FL_DIAG_ERROR, pos,
			     "out of memory while reading the YAML");
			return stop(r, FL_ENOMEM);
		}
		if (p->error == YAML_READER_ERROR) {
			pos = offset_pos(r->buf, r->len, p->problem_offset);
			diag(r, FL_DIAG_ERROR, pos, "not a YAML text file: %s",
			     p->problem ? p->problem : "unreadable input");
			return stop(r, FL_EINVAL);
		}
		pos = mark_pos(p->problem_mark);
		if (p->context != NULL)
			diag(r, FL_DIAG_ERROR, pos,
			     "YAML syntax error: %s (%s at %u:%u)",
			     p->problem ? p->problem : "?", p->context,
			     (unsigned)p->context_mark.line + 1,
			     (unsigned)p->context_mark.column + 1);
		else
			diag(r, FL_DIAG_ERROR, pos, "YAML syntax error: %s",
			     p->problem ? p->problem : "?");
		return stop(r, FL_EINVAL);
	}
	r->has_ev = 1;
	switch (r->ev.type) {
	case YAML_ALIAS_EVENT: anchor = "*"; break;
	case YAML_SCALAR_EVENT:
		anchor = (const char *)r->ev.data.scalar.anchor;
		tag = (const char *)r->ev.data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)r->ev.data.sequence_start.anchor;
		tag = (const char *)r->ev.data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)r->ev.data.mapping_start.anchor;
		tag = (const char *)r->ev.data.mapping_start.tag;
		break;
	default: break;
	}
	if (anchor != NULL) {
		diag(r, FL_DIAG_ERROR, ev_pos(r),
		     "YAML anchors and aliases are not allowed in an "
		     "inventory");
		return stop(r, FL_EINVAL);
	}
	if (tag != NULL) {
		diag(r, FL_DIAG_ERROR, ev_pos(r),
		     "YAML tags are not allowed in an inventory");
		return stop(r, FL_EINVAL);
	}
	return 0;
}

/* Skips the node that starts at the current event (its last event becomes
 * current). */
static int skip(struct reader *r)
{
	unsigned depth;
	int err;

	if (r->ev.type != YAML_MAPPING_START_EVENT &&
	    r->ev.type != YAML_SEQUENCE_START_EVENT)
		return 0;
	depth = 1;
	while (depth > 0) {
		err = next(r);
		if (err)
			return err;
		switch (r->ev.type) {
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (++depth > FL_INV_MAX_DEPTH) {
				diag(r, FL_DIAG_ERROR, ev_pos(r),
				     "YAML nested deeper than %u levels",
				     FL_INV_MAX_DEPTH);
				return stop(r, FL_EINVAL);
			}
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT: depth--; break;
		default: break;
		}
	}
	return 0;
}

static int is_scalar(const struct reader *r)
{
	return r->ev.type == YAML_SCALAR_EVENT;
}

static const char *sval(const struct reader *r)
{
	return (const char *)r->ev.data.scalar.value;
}

static size_t slen(const struct reader *r)
{
	return r->ev.data.scalar.length;
}

/* An unquoted empty value, ~ or null. */
static int is_null(const struct reader *r)
{
	const char *v = sval(r);

	if (!is_scalar(r) || r->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return slen(r) == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* Reports a value of the wrong kind and skips it. Returns the fatal error
 * or 0. */
static int wrong_type(struct reader *r, const char *key, const char *what)
{
	diag(r, FL_DIAG_ERROR, ev_pos(r), "`%s` must be %s", key, what);
	return skip(r);
}

/*
 * The current scalar as a string of 1..max printable characters, interned
 * (or copied when !share). *out = NULL when it was reported bad or null
 * (null allowed only when allow_null). Returns 0 or the fatal error.
 */
static int get_str(struct reader *r, const char *key, size_t max,
		   int allow_null, int share, const char **out)
{
	const char *v;
	size_t len;

	*out = NULL;
	if (!is_scalar(r))
		return wrong_type(r, key, "a string");
	if (is_null(r)) {
		if (!allow_null)
			diag(r, FL_DIAG_ERROR, ev_pos(r), "`%s` needs a value",
			     key);
		return 0;
	}
	v = sval(r);
	len = slen(r);
	if (len == 0) {
		diag(r, FL_DIAG_ERROR, ev_pos(r), "`%s` is empty", key);
		return 0;
	}
	if (len > max) {
		diag(r, FL_DIAG_ERROR, ev_pos(r),
		     "`%s` is longer than %zu characters", key, max);
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f) {
			diag(r, FL_DIAG_ERROR, ev_pos(r),
			     "`%s` contains a control character", key);
			return 0;
		}
	}
	*out = share ? intern(r->m, v, len) : mem_strndup(r->m, v, len);
	if (*out == NULL) {
		diag(r, FL_DIAG_ERROR, ev_pos(r), "out of memory");
		return stop(r, FL_ENOMEM);
	}
	return 0;
}

/* A decimal integer in [lo, hi]. *ok = 0 when reported bad. */
static int get_uint(struct reader *r, const char *key, uint32_t lo, uint32_t hi,
		    uint32_t *out, int *ok)
{
	const char *v;
	unsigned long long x = 0;

	*ok = 0;
	if (!is_scalar(r))
		return wrong_type(r, key, "a whole number");
	v = sval(r);
	if (slen(r) == 0 || slen(r) > 10) {
		diag(r, FL_DIAG_ERROR, ev_pos(r),
		     "`%s` must be a whole number from %u to %u", key,
		     (unsigned)lo, (unsigned)hi);
		return 0;
	}
	for (size_t i = 0; i < slen(r); i++) {
		if (v[i] < '0' || v[i] > '9') {
			diag(r, FL_DIAG_ERROR, ev_pos(r),
			     "`%s` must be a whole number from %u to %u, not "
			     "`%s`",
			     key, (unsigned)lo, (unsigned)hi, v);
			return 0;
		}
		x = x * 10 + (unsigned)(v[i] - '0');
	}
	if (x < lo || x > hi) {
		diag(r, FL_DIAG_ERROR, ev_pos(r),
		     "`%s` must be from %u to %u, not %llu", key, (unsigned)lo,
		     (unsigned)hi, x);
		return 0;
	}
	*out = (uint32_t)x;
	*ok = 1;
	return 0;
}

static int get_bool(struct reader *r, const char *key, uint8_t *out)
{
	const char *v;

	if (!is_scalar(r))
		return wrong_type(r, key, "true or false");
	v = sval(r);
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0) {
		*out = 1;
	} else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0) {
		*out = 0;
	} else {
		diag(r, FL_DIAG_ERROR, ev_pos(r),
		     "`%s` must be true or false, not `%s`", key, v);
	}
	return 0;
}

static int get_version(struct reader *r, const char *key, const char **out)
{
	struct fl_semver sv;
	struct fl_pos pos = ev_pos(r);
	int err = get_str(r, key, FL_INV_STR_MAX, 1, 1, out);

	if (err || *out == NULL)
		return err;
	if (fl_semver_parse(&sv, *out, strlen(*out)) != 0) {
		diag(r, FL_DIAG_ERROR, pos,
		     "`%s`: `%s` is not a semantic version (like 2.3.1)", key,
		     *out);
		*out = NULL;
	}
	return 0;
}

/* versions: {component: version, ...}; keeps the plan's component. */
static int get_versions(struct reader *r, struct entry *e)
{
	const char *comp, *ver;
	unsigned n = 0;
	int err;

	if (r->ev.type != YAML_MAPPING_START_EVENT) {
		if (is_null(r))
			return 0;
		return wrong_type(r, "versions",
				  "a mapping of component to version");
	}
	for (;;) {
		struct fl_pos kpos;

		if ((err = next(r)) != 0)
			return err;
		if (r->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		kpos = ev_pos(r);
		if ((err = get_str(r, "versions", FL_INV_STR_MAX, 0, 1,
				   &comp)) != 0)
			return err;
		if ((err = next(r)) != 0)
			return err;
		if ((err = get_version(r, "versions", &ver)) != 0)
			return err;
		if (++n == FL_INV_MAX_VERSIONS + 1)
			diag(r, FL_DIAG_ERROR, kpos,
			     "more than %u entries in `versions`",
			     FL_INV_MAX_VERSIONS);
		if (comp != NULL && ver != NULL && r->component != NULL &&
		    strcmp(comp, r->component) == 0)
			e->cversion = ver;
	}
}

static int get_labels(struct reader *r, struct entry *e)
{
	const char *k, *v;
	int err;

	if (r->ev.type != YAML_MAPPING_START_EVENT) {
		if (is_null(r))
			return 0;
		return wrong_type(r, "labels", "a mapping of key to value");
	}
	for (;;) {
		struct fl_pos kpos;
		unsigned i;

		if ((err = next(r)) != 0)
			return err;
		if (r->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		kpos = ev_pos(r);
		if ((err = get_str(r, "labels", FL_INV_STR_MAX, 0, 1, &k)) != 0)
			return err;
		if ((err = next(r)) != 0)
			return err;
		if ((err = get_str(r, k ? k : "labels", FL_INV_STR_MAX, 0, 1,
				   &v)) != 0)
			return err;
		if (k == NULL || v == NULL)
			continue;
		for (i = 0; i < e->nlabels; i++)
			if (e->labels[i].key == k)
				break;
		if (i < e->nlabels) {
			diag(r, FL_DIAG_ERROR, kpos, "duplicate label `%s`", k);
			continue;
		}
		if (e->nlabels == FL_INV_MAX_LABELS) {
			diag(r, FL_DIAG_ERROR, kpos,
			     "more than %u labels on one %s", FL_INV_MAX_LABELS,
			     e->is_group ? "group" : "device");
			continue;
		}
		e->labels[e->nlabels].key = k;
		e->labels[e->nlabels].value = v;
		e->nlabels++;
	}
}

static const char *const device_keys[] = {
	"id", "model", "version", "versions", "tz", "labels", "online", NULL,
};
static const char *const group_keys[] = {
	"prefix",   "count", "start",  "model",	 "version",
	"versions", "tz",    "labels", "online", NULL,
};
static const char *const top_keys[] = {"devices", "groups", NULL};

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[33];

	if (la > 32 || lb > 32)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag_prev = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t t = row[j];
			size_t best = diag_prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag_prev = t;
		}
	}
	return row[lb];
}

static void unknown_key(struct reader *r, struct fl_pos pos, const char *key,
			const char *where, const char *const *known)
{
	const char *best = NULL;
	size_t bd = 3;

	for (unsigned i = 0; known[i] != NULL; i++) {
		size_t d = edit_distance(key, known[i]);

		if (d < bd) {
			bd = d;
			best = known[i];
		}
	}
	if (best != NULL)
		diag(r, FL_DIAG_ERROR, pos,
		     "unknown key `%s` in `%s`; did you mean `%s`?", key, where,
		     best);
	else
		diag(r, FL_DIAG_ERROR, pos, "unknown key `%s` in `%s`", key,
		     where);
}

static int key_index(const char *key, const char *const *known)
{
	for (int i = 0; known[i] != NULL; i++)
		if (strcmp(key, known[i]) == 0)
			return i;
	return -1;
}

static unsigned digits(uint64_t x)
{
	unsigned n = 1;

	while (x >= 10) {
		x /= 10;
		n++;
	}
	return n;
}

/* Turns a finished entry into one device or `count` devices. */
static int emit(struct reader *r, const struct entry *e)
{
	struct fl_inventory *inv = r->inv;
	const struct fl_inv_label *labels = NULL;
	uint32_t n = e->is_group ? e->count : 1;
	const char *version = e->cversion ? e->cversion : e->version;
	unsigned width;
	int err;

	if (e->nlabels > 0) {
		struct fl_inv_label *l =
			mem_alloc(r->m, e->nlabels * sizeof(*l));

		if (l == NULL)
			goto nomem;
		memcpy(l, e->labels, e->nlabels * sizeof(*l));
		labels = l;
	}
	err = inv_reserve(inv, &r->cap, n);
	if (err == FL_ETOOBIG) {
		diag(r, FL_DIAG_ERROR, e->pos,
		     "the inventory has more than %u devices",
		     FL_INV_MAX_DEVICES);
		return stop(r, FL_ETOOBIG);
	}
	if (err)
		goto nomem;
	width = digits((uint64_t)e->start + n - 1);
	if (width < 4)
		width = 4;
	for (uint32_t i = 0; i < n; i++) {
		struct fl_inv_device *d = &inv->dev[inv->n];
		const char *id = e->id;

		if (e->is_group) {
			char buf[FL_INV_PREFIX_MAX + 16];
			int len = snprintf(buf, sizeof(buf), "%s-%0*lu",
					   e->prefix, (int)width,
					   (unsigned long)e->start + i);

			if (len < 0 || (size_t)len >= sizeof(buf))
				return stop(r, FL_EINVAL); /* cannot happen */
			id = mem_strndup(r->m, buf, (size_t)len);
			if (id == NULL)
				goto nomem;
		}
		d->id = id;
		d->model = e->model;
		d->tz = e->tz;
		d->version = version;
		d->labels = labels;
		d->nlabels = e->nlabels;
		d->is_online = e->is_online;
		inv->pos[inv->n] = e->is_group ? e->prefix_pos : e->pos;
		inv->n++;
	}
	return 0;
nomem:
	diag(r, FL_DIAG_ERROR, e->pos, "out of memory");
	return stop(r, FL_ENOMEM);
}

/* One mapping of `devices:` or `groups:`; the current event is its start. */
static int read_entry(struct reader *r, int is_group)
{
	const char *const *known = is_group ? group_keys : device_keys;
	const char *where = is_group ? "groups" : "devices";
	struct entry e;
	unsigned seen = 0;
	int err, ok = 1;

	memset(&e, 0, sizeof(e));
	e.is_group = is_group;
	e.pos = ev_pos(r);
	e.is_online = 1;
	e.start = 1;
	for (;;) {
		const char *key;
		struct fl_pos kpos, vpos;
		int k, good;

		if ((err = next(r)) != 0)
			return err;
		if (r->ev.type == YAML_MAPPING_END_EVENT)
			break;
		kpos = ev_pos(r);
		if (!is_scalar(r)) {
			diag(r, FL_DIAG_ERROR, kpos, "a key must be a string");
			if ((err = skip(r)) != 0 || (err = next(r)) != 0 ||
			    (err = skip(r)) != 0)
				return err;
			continue;
		}
		k = key_index(sval(r), known);
		if (k < 0) {
			if (!is_group && strcmp(sval(r), "count") == 0)
				diag(r, FL_DIAG_ERROR, kpos,
				     "`count` belongs in `groups`, not in "
				     "`devices`");
			else if (is_group && strcmp(sval(r), "id") == 0)
				diag(r, FL_DIAG_ERROR, kpos,
				     "a group has no `id`: its devices are "
				     "named from `prefix`");
			else
				unknown_key(r, kpos, sval(r), where, known);
			if ((err = next(r)) != 0 || (err = skip(r)) != 0)
				return err;
			continue;
		}
		key = known[k];
		if (seen & (1u << k))
			diag(r, FL_DIAG_ERROR, kpos, "duplicate key `%s`", key);
		seen |= 1u << k;
		if ((err = next(r)) != 0)
			return err;
		vpos = ev_pos(r);
		if (strcmp(key, "id") == 0) {
			err = get_str(r, key, FL_ENGINE_ID_MAX, 0, 0, &e.id);
		} else if (strcmp(key, "prefix") == 0) {
			e.prefix_pos = vpos;
			err = get_str(r, key, FL_INV_PREFIX_MAX, 0, 1,
				      &e.prefix);
		} else if (strcmp(key, "model") == 0) {
			err = get_str(r, key, FL_INV_STR_MAX, 0, 1, &e.model);
		} else if (strcmp(key, "version") == 0) {
			err = get_version(r, key, &e.version);
		} else if (strcmp(key, "versions") == 0) {
			err = get_versions(r, &e);
		} else if (strcmp(key, "tz") == 0) {
			err = get_str(r, key, FL_INV_STR_MAX, 1, 1, &e.tz);
			if (err == 0 && e.tz != NULL) {
				int z = zone_check(r->m, r->tz, e.tz);

				if (z == FL_ENOMEM) {
					diag(r, FL_DIAG_ERROR, vpos,
					     "out of memory");
					return stop(r, FL_ENOMEM);
				}
				if (z == FL_ETOOBIG) {
					diag(r, FL_DIAG_ERROR, vpos,
					     "more than %u distinct time "
					     "zones",
					     MAX_ZONES);
					return stop(r, FL_ETOOBIG);
				}
				if (z == 0)
					diag(r, FL_DIAG_ERROR, vpos,
					     "`tz`: unknown time zone `%s` "
					     "(an IANA name like "
					     "Europe/Berlin)",
					     e.tz);
			}
		} else if (strcmp(key, "labels") == 0) {
			err = get_labels(r, &e);
		} else if (strcmp(key, "online") == 0) {
			err = get_bool(r, key, &e.is_online);
		} else if (strcmp(key, "count") == 0) {
			err = get_uint(r, key, 1, FL_INV_MAX_DEVICES, &e.count,
				       &good);
			e.has_count = good;
			ok &= good;
		} else if (strcmp(key, "start") == 0) {
			err = get_uint(r, key, 0, 999999999, &e.start, &good);
			ok &= good;
		}
		if (err)
			return err;
	}
	if (!is_group && !(seen & 1u)) {
		diag(r, FL_DIAG_ERROR, e.pos, "a device needs an `id`");
		ok = 0;
	}
	if (is_group && !(seen & 1u)) {
		diag(r, FL_DIAG_ERROR, e.pos, "a group needs a `prefix`");
		ok = 0;
	}
	if (is_group && !(seen & 2u)) {
		diag(r, FL_DIAG_ERROR, e.pos, "a group needs a `count`");
		ok = 0;
	}
	if (key_index("model", known) >= 0 &&
	    !(seen & (1u << key_index("model", known)))) {
		diag(r, FL_DIAG_ERROR, e.pos, "a %s needs a `model`",
		     is_group ? "group" : "device");
		ok = 0;
	}
	if (!ok ||
	    (is_group ? e.prefix == NULL || !e.has_count : e.id == NULL) ||
	    e.model == NULL)
		return 0; /* reported; no entries */
	return emit(r, &e);
}

static int read_list(struct reader *r, int is_group)
{
	const char *name = is_group ? "groups" : "devices";
	int err;

	if (r->ev.type != YAML_SEQUENCE_START_EVENT) {
		if (is_null(r))
			return 0;
		return wrong_type(r, name, "a list");
	}
	for (;;) {
		if ((err = next(r)) != 0)
			return err;
		if (r->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		if (r->ev.type != YAML_MAPPING_START_EVENT) {
			diag(r, FL_DIAG_ERROR, ev_pos(r),
			     "each entry of `%s` must be a mapping", name);
			if ((err = skip(r)) != 0)
				return err;
			continue;
		}
		if (is_group && ++r->ngroups > FL_INV_MAX_GROUPS) {
			diag(r, FL_DIAG_ERROR, ev_pos(r),
			     "more than %u entries in `groups`",
			     FL_INV_MAX_GROUPS);
			return stop(r, FL_ETOOBIG);
		}
		if ((err = read_entry(r, is_group)) != 0)
			return err;
	}
}

static int read_document(struct reader *r)
{
	struct fl_pos start = {1, 1};
	unsigned seen = 0;
	int err;

	if ((err = next(r)) != 0) /* stream start */
		return err;
	if ((err = next(r)) != 0)
		return err;
	if (r->ev.type == YAML_STREAM_END_EVENT) {
		diag(r, FL_DIAG_ERROR, start,
		     "the inventory is empty: it needs `devices` or `groups`");
		return 0;
	}
	if ((err = next(r)) != 0) /* the root node */
		return err;
	if (is_null(r)) {
		diag(r, FL_DIAG_ERROR, start,
		     "the inventory is empty: it needs `devices` or `groups`");
		return 0;
	}
	if (r->ev.type != YAML_MAPPING_START_EVENT) {
		diag(r, FL_DIAG_ERROR, ev_pos(r),
		     "an inventory is a mapping with the keys `devices` and "
		     "`groups`");
		return stop(r, FL_EINVAL);
	}
	for (;;) {
		struct fl_pos kpos;
		int k;

		if ((err = next(r)) != 0)
			return err;
		if (r->ev.type == YAML_MAPPING_END_EVENT)
			break;
		kpos = ev_pos(r);
		k = is_scalar(r) ? key_index(sval(r), top_keys) : -1;
		if (k < 0) {
			if (is_scalar(r))
				unknown_key(r, kpos, sval(r), "inventory",
					    top_keys);
			else
				diag(r, FL_DIAG_ERROR, kpos,
				     "a key must be a string");
			if ((err = skip(r)) != 0 || (err = next(r)) != 0 ||
			    (err = skip(r)) != 0)
				return err;
			continue;
		}
		if (seen & (1u << k))
			diag(r, FL_DIAG_ERROR, kpos, "duplicate key `%s`",
			     top_keys[k]);
		seen |= 1u << k;
		if ((err = next(r)) != 0)
			return err;
		if ((err = read_list(r, k == 1)) != 0)
			return err;
	}
	if ((err = next(r)) != 0) /* document end */
		return err;
	if ((err = next(r)) != 0)
		return err;
	if (r->ev.type == YAML_DOCUMENT_START_EVENT) {
		diag(r, FL_DIAG_ERROR, ev_pos(r),
		     "an inventory is one YAML document, not several");
		return stop(r, FL_EINVAL);
	}
	return 0;
}

/* Reports every id that an earlier entry already has. */
static int check_duplicates(struct reader *r)
{
	struct fl_inventory *inv = r->inv;
	size_t nslots = 64, j;
	uint32_t *slots;
	struct fl_pos none = {0, 0};

	while (nslots < inv->n * 2)
		nslots *= 2;
	slots = malloc(nslots * sizeof(*slots));
	if (slots == NULL) {
		diag(r, FL_DIAG_ERROR, none, "out of memory");
		return stop(r, FL_ENOMEM);
	}
	memset(slots, 0xff, nslots * sizeof(*slots));
	for (size_t i = 0; i < inv->n; i++) {
		const char *id = inv->dev[i].id;
		uint32_t v;

		j = (size_t)hash_str(id, strlen(id)) & (nslots - 1);
		while ((v = slots[j]) != UINT32_MAX) {
			if (strcmp(inv->dev[v].id, id) == 0)
				break;
			j = (j + 1) & (nslots - 1);
		}
		if (v == UINT32_MAX) {
			slots[j] = (uint32_t)i;
			continue;
		}
		diag(r, FL_DIAG_ERROR, inv->pos[i],
		     "duplicate device id `%s` (first at %u:%u)", id,
		     (unsigned)inv->pos[v].line, (unsigned)inv->pos[v].col);
	}
	free(slots);
	return 0;
}

static void diags_reset(struct fl_plan_diags *d, const char *path)
{
	memset(d, 0, offsetof(struct fl_plan_diags, d));
	d->file = path;
}

int fl_inventory_parse(const char *buf, size_t len, const char *path,
		       const char *component, const struct fl_tz_ops *tz,
		       struct fl_inventory **out, struct fl_plan_diags *diags)
{
	struct reader r;
	struct fl_pos none = {0, 0};
	int err;

	*out = NULL;
	diags_reset(diags, path);
	memset(&r, 0, sizeof(r));
	r.diags = diags;
	r.buf = buf;
	r.len = len;
	r.component = component ? component : "firmware";
	r.tz = tz;
	if (len > FL_INV_MAX_FILE_BYTES) {
		diag(&r, FL_DIAG_ERROR, none,
		     "the inventory is larger than %u MiB",
		     FL_INV_MAX_FILE_BYTES >> 20);
		return FL_ETOOBIG;
	}
	err = inv_new(&r.inv, path);
	if (err) {
		diag(&r, FL_DIAG_ERROR, none, "out of memory");
		return err;
	}
	r.m = r.inv->mem;
	if (!yaml_parser_initialize(&r.yp)) {
		diag(&r, FL_DIAG_ERROR, none, "out of memory");
		err = FL_ENOMEM;
		goto out;
	}
	yaml_parser_set_input_string(&r.yp, (const unsigned char *)buf, len);
	err = read_document(&r);
	if (r.has_ev)
		yaml_event_delete(&r.ev);
	yaml_parser_delete(&r.yp);
	if (err == 0 && diags->n_errors == 0)
		err = check_duplicates(&r);
	if (err == 0 && diags->n_errors > 0)
		err = FL_EINVAL;
	if (err == 0 && r.inv->n == 0) {
		diag(&r, FL_DIAG_ERROR, none, "the inventory has no devices");
		err = FL_EINVAL;
	}
out:
	if (err) {
		fl_inventory_free(r.inv);
		return err;
	}
	*out = r.inv;
	return 0;
}

int fl_inventory_load(const char *path, const char *component,
		      const struct fl_tz_ops *tz, struct fl_inventory **out,
		      struct fl_plan_diags *diags)
{
	struct fl_pos none = {0, 0};
	struct stat st;
	const char *why = NULL;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, err;

	*out = NULL;
	diags_reset(diags, path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		why = strerror(errno);
	else if (fstat(fd, &st) != 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	if (why != NULL) {
		struct reader r = {.diags = diags};

		diag(&r, FL_DIAG_ERROR, none, "cannot read the inventory: %s",
		     why);
		err = FL_EIO;
		goto out;
	}
	if ((uint64_t)st.st_size > FL_INV_MAX_FILE_BYTES) {
		struct reader r = {.diags = diags};

		diag(&r, FL_DIAG_ERROR, none,
		     "the inventory is larger than %u MiB",
		     FL_INV_MAX_FILE_BYTES >> 20);
		err = FL_ETOOBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		err = FL_ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + len, (size_t)st.st_size - len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	err = fl_inventory_parse(buf, len, path, component, tz, out, diags);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}

/* ---- the default fleet -------------------------------------------------- */

#define MAX_REGIONS 16

static const struct {
	const char *region, *zone;
} region_zones[] = {
	{"eu", "Europe/Berlin"},
	{"us", "America/New_York"},
	{"uk", "Europe/London"},
	{"ca", "America/Toronto"},
	{"apac", "Asia/Tokyo"},
	{"asia", "Asia/Tokyo"},
	{"jp", "Asia/Tokyo"},
	{"au", "Australia/Sydney"},
	{"in", "Asia/Kolkata"},
	{"br", "America/Sao_Paulo"},
	{"latam", "America/Sao_Paulo"},
	{"us-east", "America/New_York"},
	{"us-west", "America/Los_Angeles"},
};

static const char *zone_of_region(const char *region)
{
	if (region == NULL)
		return "UTC";
	for (size_t i = 0; i < sizeof(region_zones) / sizeof(region_zones[0]);
	     i++)
		if (strcmp(region_zones[i].region, region) == 0)
			return region_zones[i].zone;
	return "UTC";
}

static void add_regions(const struct fl_plan_match *m, const char **regions,
			unsigned *n)
{
	for (unsigned i = 0; i < m->n; i++) {
		if (strcmp(m->labels[i].key, "region") != 0)
			continue;
		for (unsigned v = 0; v < m->labels[i].nvalues; v++) {
			const char *x = m->labels[i].values[v];
			unsigned j;

			for (j = 0; j < *n; j++)
				if (strcmp(regions[j], x) == 0)
					break;
			if (j == *n && *n < MAX_REGIONS)
				regions[(*n)++] = x;
		}
	}
}

/* The release just below v (NULL below 0.0.0), into buf: 2.4.0 -> 2.3.0,
 * 2.4.1 -> 2.4.0, 3.0.0 -> 2.0.0 (a pre-release of v is treated alike). */
static const char *version_below(const struct fl_semver *v, char *buf,
				 size_t size)
{
	if (v->patch > 0)
		snprintf(buf, size, "%u.%u.%u", (unsigned)v->major,
			 (unsigned)v->minor, (unsigned)v->patch - 1);
	else if (v->minor > 0)
		snprintf(buf, size, "%u.%u.0", (unsigned)v->major,
			 (unsigned)v->minor - 1);
	else if (v->major > 0)
		snprintf(buf, size, "%u.0.0", (unsigned)v->major - 1);
	else
		return NULL;
	return buf;
}

static int version_fits(const struct fl_plan *p, const char *s)
{
	struct fl_semver v;

	if (s == NULL || fl_semver_parse(&v, s, strlen(s)) != 0)
		return 0;
	if (fl_semver_cmp(&v, &p->artifact.semver) == 0)
		return 0;
	return p->artifact.from == NULL ||
	       fl_semver_range_match(&p->artifact.from_range, &v);
}

/* A version that makes a device a target: just below the artifact's, else
 * one derived from the comparators of artifact.from. NULL if none. */
static const char *pick_version(struct mem *m, const struct fl_plan *p)
{
	const struct fl_semver_range *r = &p->artifact.from_range;
	char buf[64];
	const char *s = version_below(&p->artifact.semver, buf, sizeof(buf));

	if (version_fits(p, s))
		return intern(m, s, strlen(s));
	for (unsigned i = 0; p->artifact.from != NULL && i < r->n; i++) {
		const struct fl_semver *v = &r->cmp[i].v;

		switch (r->cmp[i].op) {
		case FL_SEMVER_GT:
			snprintf(buf, sizeof(buf), "%u.%u.%u",
				 (unsigned)v->major, (unsigned)v->minor,
				 (unsigned)v->patch + 1);
			s = buf;
			break;
		case FL_SEMVER_LT:
			s = version_below(v, buf, sizeof(buf));
			break;
		default:
			snprintf(buf, sizeof(buf), "%u.%u.%u",
				 (unsigned)v->major, (unsigned)v->minor,
				 (unsigned)v->patch);
			s = buf;
			break;
		}
		if (version_fits(p, s))
			return intern(m, s, strlen(s));
	}
	return NULL;
}

static int is_excluded(const struct fl_plan *p, const char *id)
{
	for (unsigned i = 0; i < p->targets.nexclude; i++)
		if (strcmp(p->targets.exclude[i], id) == 0)
			return 1;
	return 0;
}

static int has_key(const struct fl_plan_match *m, const char *key)
{
	for (unsigned i = 0; i < m->n; i++)
		if (strcmp(m->labels[i].key, key) == 0)
			return 1;
	return 0;
}

/* Labels for the i-th device of a model: its region, values satisfying
 * targets.match, and those of one `match:` stage for one device in 20. */
static int default_labels(struct mem *m, const struct fl_plan *p,
			  const char **regions, unsigned nregions, size_t i,
			  const struct fl_inv_label **out, unsigned *nout)
{
	struct fl_inv_label l[FL_INV_MAX_LABELS];
	unsigned n = 0, kmatch = 0;

	if (nregions > 0) {
		l[n].key = "region";
		l[n].value = regions[i % nregions];
		n++;
	}
	for (unsigned k = 0; k < p->targets.match.n && n < FL_INV_MAX_LABELS;
	     k++) {
		const struct fl_plan_label *t = &p->targets.match.labels[k];

		if (strcmp(t->key, "region") == 0 || t->nvalues == 0)
			continue;
		l[n].key = t->key;
		l[n].value =
			t->values[(i / (nregions ? nregions : 1)) % t->nvalues];
		n++;
	}
	for (unsigned s = 0; s < p->nstages; s++) {
		const struct fl_plan_match *sm = &p->stages[s].match;

		if (p->stages[s].kind != FL_STAGE_MATCH)
			continue;
		if (i % 20 == kmatch) {
			for (unsigned k = 0; k < sm->n; k++) {
				const struct fl_plan_label *t = &sm->labels[k];

				if (t->nvalues == 0 ||
				    has_key(&p->targets.match, t->key) ||
				    strcmp(t->key, "region") == 0 ||
				    n >= FL_INV_MAX_LABELS)
					continue;
				l[n].key = t->key;
				l[n].value = t->values[0];
				n++;
			}
		}
		kmatch++;
	}
	*nout = n;
	*out = NULL;
	if (n == 0)
		return 0;
	for (unsigned k = 0; k < n; k++) {
		l[k].key = intern(m, l[k].key, strlen(l[k].key));
		l[k].value = intern(m, l[k].value, strlen(l[k].value));
		if (l[k].key == NULL || l[k].value == NULL)
			return FL_ENOMEM;
	}
	*out = mem_alloc(m, n * sizeof(l[0]));
	if (*out == NULL)
		return FL_ENOMEM;
	memcpy((void *)*out, l, n * sizeof(l[0]));
	return 0;
}

int fl_inventory_from_plan(const struct fl_plan *p, unsigned per_model,
			   struct fl_inventory **out)
{
	const char *regions[MAX_REGIONS];
	unsigned nregions = 0;
	struct fl_inventory *inv = NULL;
	struct mem *m;
	size_t cap = 0, total;
	const char *version;
	int err;

	*out = NULL;
	if (p == NULL || per_model == 0 || p->artifact.nhardware == 0)
		return FL_EINVAL;
	total = (size_t)per_model * p->artifact.nhardware;
	if (total > FL_INV_MAX_DEVICES / 2)
		return FL_EINVAL;
	/* The regions targets.match allows, else every region mentioned. */
	add_regions(&p->targets.match, regions, &nregions);
	if (nregions == 0) {
		for (unsigned h = 0; h < p->nholds; h++)
			add_regions(&p->holds[h].match, regions, &nregions);
		for (unsigned s = 0; s < p->nstages; s++)
			add_regions(&p->stages[s].match, regions, &nregions);
	}
	err = inv_new(&inv, DEFAULT_FLEET);
	if (err)
		return err;
	m = inv->mem;
	version = pick_version(m, p);
	for (unsigned h = 0; h < p->artifact.nhardware; h++) {
		const char *model = p->artifact.hardware[h];

		if ((err = inv_reserve(inv, &cap, per_model)) != 0)
			goto out;
		for (size_t i = 0; i < per_model; i++) {
			struct fl_inv_device *d = &inv->dev[inv->n];
			char id[FL_ENGINE_ID_MAX + 1];
			int len = snprintf(id, sizeof(id), "%s-%04zu", model,
					   i + 1);

			if (len < 0 || (size_t)len >= sizeof(id)) {
				err = FL_EINVAL;
				goto out;
			}
			memset(d, 0, sizeof(*d));
			d->id = mem_strndup(m, id, (size_t)len);
			d->model = intern(m, model, strlen(model));
			d->version = version;
			d->is_online = 1;
			err = default_labels(m, p, regions, nregions, i,
					     &d->labels, &d->nlabels);
			if (err || d->id == NULL || d->model == NULL) {
				err = FL_ENOMEM;
				goto out;
			}
			d->tz = zone_of_region(fl_inv_label(d, "region"));
			inv->pos[inv->n].line = inv->pos[inv->n].col = 0;
			inv->n++;
		}
	}
	/* The devices a `devices:` stage names, unless excluded. */
	for (unsigned s = 0; s < p->nstages; s++) {
		const struct fl_plan_stage *st = &p->stages[s];

		if (st->kind != FL_STAGE_DEVICES)
			continue;
		for (unsigned k = 0; k < st->ndevices; k++) {
			const char *id = st->devices[k];
			struct fl_inv_device *d;
			size_t j;

			for (j = 0; j < inv->n; j++)
				if (strcmp(inv->dev[j].id, id) == 0)
					break;
			if (j < inv->n || is_excluded(p, id))
				continue;
			if ((err = inv_reserve(inv, &cap, 1)) != 0)
				goto out;
			d = &inv->dev[inv->n];
			memset(d, 0, sizeof(*d));
			d->id = mem_strndup(m, id, strlen(id));
			d->model = inv->dev[(k % p->artifact.nhardware) *
					    per_model]
					   .model;
			d->version = version;
			d->is_online = 1;
			err = default_labels(m, p, regions, nregions, k,
					     &d->labels, &d->nlabels);
			if (err || d->id == NULL) {
				err = FL_ENOMEM;
				goto out;
			}
			d->tz = zone_of_region(fl_inv_label(d, "region"));
			inv->pos[inv->n].line = inv->pos[inv->n].col = 0;
			inv->n++;
		}
	}
out:
	if (err) {
		fl_inventory_free(inv);
		return err;
	}
	*out = inv;
	return 0;
}
