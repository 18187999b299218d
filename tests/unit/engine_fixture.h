/*
 * engine_fixture.h -- helpers for the engine tests: a plan built by hand
 * (no parser), a synthetic inventory whose strings never move, a fake
 * time-zone port, and small wrappers to apply events and run steps.
 * Header-only, static functions: each test program includes it once.
 */
#ifndef ENGINE_FIXTURE_H
#define ENGINE_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl/engine.h"
#include "fl/err.h"
#include "fl/plan.h"
#include "fl/semver.h"

/* ---- plans --------------------------------------------------------------- */

#define TP_MAX_LABELS 8

struct tp_match {
	struct fl_plan_label labels[TP_MAX_LABELS];
	const char *values[TP_MAX_LABELS][8];
};

struct tplan {
	struct fl_plan p;
	const char *hardware[8];
	struct fl_plan_stage stages[FL_PLAN_MAX_STAGES];
	struct tp_match stage_match[FL_PLAN_MAX_STAGES];
	const char *stage_devices[FL_PLAN_MAX_STAGES][16];
	struct fl_plan_hold holds[FL_PLAN_MAX_HOLDS];
	struct tp_match hold_match[FL_PLAN_MAX_HOLDS];
	struct fl_plan_window windows[FL_PLAN_MAX_WINDOWS];
	struct fl_plan_metric metrics[8];
	struct tp_match target_match;
	const char *exclude[16];
	char names[FL_PLAN_MAX_STAGES + FL_PLAN_MAX_HOLDS][16];
};

/* rollout "r1", artifact 2.0.0 for m1, m2, m3; no stages yet. */
static inline void tp_init(struct tplan *t, const char *name)
{
	memset(t, 0, sizeof(*t));
	t->p.name = name;
	t->p.artifact.component = "firmware";
	t->p.artifact.version = "2.0.0";
	fl_semver_parse(&t->p.artifact.semver, "2.0.0", 5);
	t->hardware[0] = "m1";
	t->hardware[1] = "m2";
	t->hardware[2] = "m3";
	t->p.artifact.hardware = t->hardware;
	t->p.artifact.nhardware = 3;
	t->p.stages = t->stages;
	t->p.holds = t->holds;
	t->p.windows = t->windows;
	t->p.health.metrics = t->metrics;
	t->p.targets.exclude = t->exclude;
	t->p.targets.match.labels = t->target_match.labels;
	t->p.device.activate = FL_PLAN_ACTIVATE_NOW;
	t->p.health.on_failure = FL_ON_FAILURE_ROLLBACK;
}

/* Adds key: [v...] (NULL-terminated values) to a match. */
static inline void tp_match_add(struct fl_plan_match *m, struct tp_match *s,
				const char *key, const char *v0, const char *v1)
{
	unsigned i = m->n++;

	m->labels = s->labels;
	s->labels[i].key = key;
	s->values[i][0] = v0;
	s->values[i][1] = v1;
	s->labels[i].values = s->values[i];
	s->labels[i].nvalues = v1 ? 2 : 1;
}

static inline struct fl_plan_stage *tp_stage(struct tplan *t, unsigned kind)
{
	unsigned k = t->p.nstages++;
	struct fl_plan_stage *s = &t->stages[k];

	memset(s, 0, sizeof(*s));
	snprintf(t->names[k], sizeof(t->names[k]), "s%u", k);
	s->name = t->names[k];
	s->kind = (uint8_t)kind;
	s->devices = t->stage_devices[k];
	return s;
}

static inline struct fl_plan_stage *tp_percent(struct tplan *t, double pct)
{
	struct fl_plan_stage *s = tp_stage(t, FL_STAGE_PERCENT);

	s->percent_ppm = (uint32_t)(pct * 10000 + 0.5);
	return s;
}

static inline struct fl_plan_stage *tp_count(struct tplan *t, uint32_t n)
{
	struct fl_plan_stage *s = tp_stage(t, FL_STAGE_COUNT);

	s->count = n;
	return s;
}

static inline struct fl_plan_hold *tp_hold(struct tplan *t, const char *name)
{
	unsigned h = t->p.nholds++;
	struct fl_plan_hold *x = &t->holds[h];

	memset(x, 0, sizeof(*x));
	x->name = name;
	x->match.labels = t->hold_match[h].labels;
	return x;
}

static inline struct fl_plan_window *tp_window(struct tplan *t, uint8_t days,
					       unsigned from_min,
					       unsigned to_min, const char *tz,
					       int device_tz)
{
	struct fl_plan_window *w = &t->windows[t->p.nwindows++];

	memset(w, 0, sizeof(*w));
	w->days_mask = days;
	w->from_min = (uint16_t)from_min;
	w->to_min = (uint16_t)to_min;
	w->tz = tz;
	w->is_device_tz = (uint8_t)device_tz;
	return w;
}

/* ---- inventories -----------------------------------------------------------
 */

struct tdev {
	char id[32], model[16], version[16], tz[48];
	char region[16], ring[16], tzl[48];
	struct fl_inv_label labels[4];
};

struct tinv {
	struct fl_inv_device *d;
	struct tdev *s; /* fixed: pointers into it never move */
	size_t n, cap;
};

static inline void ti_init(struct tinv *v, size_t cap)
{
	v->d = calloc(cap, sizeof(*v->d));
	v->s = calloc(cap, sizeof(*v->s));
	v->n = 0;
	v->cap = cap;
	if (v->d == NULL || v->s == NULL)
		abort();
}

static inline void ti_free(struct tinv *v)
{
	free(v->d);
	free(v->s);
}

/* Appends a device; NULL strings leave that field or label out. Returns
 * its index. */
static inline uint32_t ti_add(struct tinv *v, const char *id, const char *model,
			      const char *region, const char *version,
			      const char *tz, const char *ring, int online)
{
	size_t i = v->n++;
	struct tdev *s = &v->s[i];
	struct fl_inv_device *d = &v->d[i];
	unsigned nl = 0;

	if (i >= v->cap)
		abort();
	memset(s, 0, sizeof(*s));
	memset(d, 0, sizeof(*d));
	snprintf(s->id, sizeof(s->id), "%s", id);
	d->id = s->id;
	if (model) {
		snprintf(s->model, sizeof(s->model), "%s", model);
		d->model = s->model;
	}
	if (version) {
		snprintf(s->version, sizeof(s->version), "%s", version);
		d->version = s->version;
	}
	if (tz) {
		snprintf(s->tz, sizeof(s->tz), "%s", tz);
		d->tz = s->tz;
	}
	if (region) {
		snprintf(s->region, sizeof(s->region), "%s", region);
		s->labels[nl].key = "region";
		s->labels[nl++].value = s->region;
	}
	if (ring) {
		snprintf(s->ring, sizeof(s->ring), "%s", ring);
		s->labels[nl].key = "ring";
		s->labels[nl++].value = s->ring;
	}
	d->labels = s->labels;
	d->nlabels = nl;
	d->is_online = (uint8_t)online;
	return (uint32_t)i;
}

/* Sets a "tz" label (the device reports no tz itself). */
static inline void ti_tz_label(struct tinv *v, uint32_t i, const char *tz)
{
	struct tdev *s = &v->s[i];

	snprintf(s->tzl, sizeof(s->tzl), "%s", tz);
	s->labels[v->d[i].nlabels].key = "tz";
	s->labels[v->d[i].nlabels++].value = s->tzl;
}

/* ---- fake tz port
 * -------------------------------------------------------------- */

/* "Fake/Plus2": UTC+2 always. "Fake/DST": UTC+1, and UTC+2 in
 * [dst_from, dst_to). Anything else: unknown, except "UTC". */
struct fake_tz {
	int64_t dst_from, dst_to;
	unsigned calls;
};

static inline int fake_tz_offset(void *ctx, const char *zone, int64_t t,
				 int32_t *off, int64_t *next)
{
	struct fake_tz *f = ctx;

	f->calls++;
	if (strcmp(zone, "UTC") == 0) {
		*off = 0;
		*next = FL_ENGINE_NEVER;
		return 0;
	}
	if (strcmp(zone, "Fake/Plus2") == 0) {
		*off = 7200;
		*next = FL_ENGINE_NEVER;
		return 0;
	}
	if (strcmp(zone, "Fake/DST") == 0) {
		if (t < f->dst_from) {
			*off = 3600;
			*next = f->dst_from;
		} else if (t < f->dst_to) {
			*off = 7200;
			*next = f->dst_to;
		} else {
			*off = 3600;
			*next = FL_ENGINE_NEVER;
		}
		return 0;
	}
	return FL_ENOENT;
}

/* ---- driving
 * ----------------------------------------------------------------- */

#define TD_MAX 4096

struct tdrive {
	struct fl_engine *e;
	struct fl_decision d[TD_MAX];
	size_t n;
	int64_t wake;
};

static inline int td_step(struct tdrive *t, int64_t now)
{
	int rc = fl_engine_step(t->e, now, t->d, TD_MAX, &t->n, &t->wake);

	return rc;
}

static inline size_t td_count(const struct tdrive *t, unsigned kind)
{
	size_t c = 0;

	for (size_t i = 0; i < t->n; i++)
		c += t->d[i].kind == kind;
	return c;
}

static inline const struct fl_decision *td_find(const struct tdrive *t,
						unsigned kind, uint32_t dev)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->d[i].kind == kind &&
		    (dev == FL_ENGINE_NO_DEV || t->d[i].dev == dev))
			return &t->d[i];
	return NULL;
}

static inline int ev_dev(struct fl_engine *e, unsigned kind, uint32_t dev,
			 int64_t at)
{
	struct fl_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = (uint8_t)kind;
	ev.dev = dev;
	ev.at_s = at;
	return fl_engine_apply(e, &ev);
}

static inline int ev_fail(struct fl_engine *e, uint32_t dev, int64_t at)
{
	struct fl_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = FL_EV_FAILED;
	ev.reason = FL_FAIL_INSTALL;
	ev.dev = dev;
	ev.at_s = at;
	return fl_engine_apply(e, &ev);
}

static inline int ev_op(struct fl_engine *e, unsigned kind, const char *name,
			const char *who, int64_t at)
{
	struct fl_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = (uint8_t)kind;
	ev.name = name;
	ev.who = who;
	ev.at_s = at;
	return fl_engine_apply(e, &ev);
}

/* The device's whole happy path, all at time at. */
static inline void ev_success_path(struct fl_engine *e, uint32_t dev,
				   int64_t at)
{
	for (unsigned k = FL_EV_ACKED; k <= FL_EV_COMMITTED; k++)
		ev_dev(e, k, dev, at);
}

static inline struct fl_engine_device td_dev(const struct fl_engine *e,
					     uint32_t dev)
{
	struct fl_engine_device d;

	fl_engine_device(e, dev, &d);
	return d;
}

static inline struct fl_engine_stage td_stage(const struct fl_engine *e,
					      unsigned k)
{
	struct fl_engine_stage s;

	fl_engine_stage(e, k, &s);
	return s;
}

#endif
