/*
 * engine.c -- the rollout engine's life cycle, its inventory and its
 * read-only views.
 *
 * The inventory is borrowed; what the engine keeps per device is one
 * struct eng_dev (72 bytes) plus its place in a few index lists and hash
 * tables. When a device is first seen (create or sync) it is judged a
 * target or not, once, and filed in its stratum (model, region), its
 * device-scoped holds and its window zone, so that later steps never look
 * at its labels again except when a "match:" stage starts.
 *
 * Method (sync): in two passes. The first does everything that may
 * allocate -- growing the arrays and the id index, judging each new device
 * and interning its zone, region and stratum -- into entries past the
 * device count, where they are invisible; a failure there leaves the
 * engine as it was but for unused names, which change nothing. The second
 * pass cannot fail: it indexes the ids, counts the targets and raises the
 * device count. Strings (ids,
 * regions, zone names) are borrowed from the inventory or the plan, never
 * copied.
 */
#include <stdlib.h>
#include <string.h>

#include "engine_priv.h"
#include "fl/err.h"
#include "fl/semver.h"

/* ---- memory ----------------------------------------------------------- */

void *engine__alloc(struct fl_engine *e, size_t size)
{
	void *p;

	if (size == 0)
		size = 1;
	p = e->alloc != NULL ? e->alloc(e->alloc_ctx, size) : malloc(size);
	if (p == NULL)
		return NULL;
	e->mem_now += size;
	if (e->mem_now > e->mem_peak)
		e->mem_peak = e->mem_now;
	return p;
}

void engine__free(struct fl_engine *e, void *p, size_t size)
{
	if (p == NULL)
		return;
	if (size == 0)
		size = 1;
	e->mem_now -= size;
	if (e->free != NULL)
		e->free(e->alloc_ctx, p);
	else
		free(p);
}

/* Replaces *p (cap elements) by an array of at least `need`, the first
 * cap elements copied, the rest uninitialized (its pages are not touched
 * until used). Returns 0 or FL_ENOMEM (then *p is unchanged). */
static int grow(struct fl_engine *e, void **p, size_t elem, uint32_t *cap,
		uint32_t need)
{
	uint64_t ncap = *cap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = ncap + ncap / 2;
	if (ncap < need)
		ncap = need;
	if (ncap < 16)
		ncap = 16;
	if (ncap > UINT32_MAX / 2)
		ncap = UINT32_MAX / 2;
	np = engine__alloc(e, (size_t)ncap * elem);
	if (np == NULL)
		return FL_ENOMEM;
	if (*cap > 0)
		memcpy(np, *p, (size_t)*cap * elem);
	engine__free(e, *p, (size_t)*cap * elem);
	*p = np;
	*cap = (uint32_t)ncap;
	return 0;
}

/* ---- hashing ---------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	h ^= 0xff; /* separator: ("ab","c") and ("a","bc") differ */
	h *= 0x100000001b3ull;
	return h;
}

/* FNV-1a over the strings, then murmur3's 64-bit finalizer for mixing. */
uint64_t engine__hash(const char *a, const char *b, const char *c)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = fnv(h, a);
	h = fnv(h, b);
	if (c != NULL)
		h = fnv(h, c);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* ---- tables ----------------------------------------------------------- */

static int table_reserve(struct fl_engine *e, struct eng_table *t,
			 uint32_t n_max,
			 uint64_t (*key)(struct fl_engine *, uint32_t))
{
	uint64_t want = 16;
	uint32_t *ns, i, j, m;

	while (want < (uint64_t)n_max * 2)
		want *= 2;
	if (t->slot != NULL && want <= (uint64_t)t->mask + 1)
		return 0;
	if (want > (1ull << 31))
		return FL_ETOOBIG;
	ns = engine__alloc(e, (size_t)want * sizeof(*ns));
	if (ns == NULL)
		return FL_ENOMEM;
	memset(ns, 0, (size_t)want * sizeof(*ns));
	m = (uint32_t)(want - 1);
	if (t->slot != NULL) {
		for (i = 0; i <= t->mask; i++) {
			if (t->slot[i] == 0)
				continue;
			j = (uint32_t)key(e, t->slot[i] - 1) & m;
			while (ns[j] != 0)
				j = (j + 1) & m;
			ns[j] = t->slot[i];
		}
		engine__free(e, t->slot, ((size_t)t->mask + 1) * sizeof(*ns));
	}
	t->slot = ns;
	t->mask = m;
	return 0;
}

static void table_free(struct fl_engine *e, struct eng_table *t)
{
	if (t->slot != NULL)
		engine__free(e, t->slot,
			     ((size_t)t->mask + 1) * sizeof(uint32_t));
	t->slot = NULL;
}

static uint64_t key_dev(struct fl_engine *e, uint32_t v)
{
	return e->dev[v].hash;
}

static uint64_t region_hash(const char *s)
{
	return engine__hash("region", s, NULL);
}

static uint64_t key_region(struct fl_engine *e, uint32_t v)
{
	return region_hash(e->regions[v]);
}

static uint64_t stratum_key(uint32_t model, uint32_t region)
{
	uint64_t h = ((uint64_t)region << 8 | model) * 0x9e3779b97f4a7c15ull;

	return h ^ (h >> 29);
}

static uint64_t key_stratum(struct fl_engine *e, uint32_t v)
{
	return stratum_key(e->strata[v].model, e->strata[v].region);
}

int fl_engine_lookup(const struct fl_engine *e, const char *id, uint32_t *dev)
{
	uint64_t h;
	uint32_t j, v;

	if (e == NULL || id == NULL || dev == NULL || e->ids.slot == NULL)
		return FL_ENOENT;
	h = engine__hash(e->plan->name, id, NULL);
	for (j = (uint32_t)h & e->ids.mask; (v = e->ids.slot[j]) != 0;
	     j = (j + 1) & e->ids.mask) {
		if (e->dev[v - 1].hash == h &&
		    strcmp(e->inv[v - 1].id, id) == 0) {
			*dev = v - 1;
			return 0;
		}
	}
	return FL_ENOENT;
}

/* Inserts dev into the id index unless its id is there; 1 if inserted. */
static int ids_insert(struct fl_engine *e, uint32_t dev)
{
	uint64_t h = e->dev[dev].hash;
	uint32_t j, v;

	for (j = (uint32_t)h & e->ids.mask; (v = e->ids.slot[j]) != 0;
	     j = (j + 1) & e->ids.mask) {
		if (e->dev[v - 1].hash == h &&
		    strcmp(e->inv[v - 1].id, e->inv[dev].id) == 0)
			return 0;
	}
	e->ids.slot[j] = dev + 1;
	e->ids.n++;
	return 1;
}

/* Sets *id to the region's id, adding it if new. Returns 0 or FL_ENOMEM
 * (FL_ETOOBIG): then nothing was added. */
static int region_intern(struct fl_engine *e, const char *s, uint32_t *id)
{
	uint64_t h = region_hash(s);
	uint32_t j, v;
	int rc;

	for (j = (uint32_t)h & e->regions_ix.mask;
	     (v = e->regions_ix.slot[j]) != 0;
	     j = (j + 1) & e->regions_ix.mask) {
		if (strcmp(e->regions[v - 1], s) == 0) {
			*id = v - 1;
			return 0;
		}
	}
	rc = grow(e, (void **)&e->regions, sizeof(*e->regions), &e->cap_regions,
		  e->nregions + 1);
	if (rc == 0)
		rc = table_reserve(e, &e->regions_ix, e->nregions + 1,
				   key_region);
	if (rc != 0)
		return rc;
	for (j = (uint32_t)h & e->regions_ix.mask; e->regions_ix.slot[j] != 0;
	     j = (j + 1) & e->regions_ix.mask)
		;
	v = e->nregions++;
	e->regions[v] = s;
	e->regions_ix.slot[j] = v + 1;
	e->regions_ix.n++;
	*id = v;
	return 0;
}

/* As region_intern, for the stratum (model, region). */
static int stratum_intern(struct fl_engine *e, uint32_t model, uint32_t region,
			  uint32_t *id)
{
	uint64_t h = stratum_key(model, region);
	uint32_t j, v;
	struct eng_stratum *s;
	int rc;

	for (j = (uint32_t)h & e->strata_ix.mask;
	     (v = e->strata_ix.slot[j]) != 0; j = (j + 1) & e->strata_ix.mask) {
		s = &e->strata[v - 1];
		if (s->model == model && s->region == region) {
			*id = v - 1;
			return 0;
		}
	}
	rc = grow(e, (void **)&e->strata, sizeof(*e->strata), &e->cap_strata,
		  e->nstrata + 1);
	if (rc == 0)
		rc = table_reserve(e, &e->strata_ix, e->nstrata + 1,
				   key_stratum);
	if (rc != 0)
		return rc;
	for (j = (uint32_t)h & e->strata_ix.mask; e->strata_ix.slot[j] != 0;
	     j = (j + 1) & e->strata_ix.mask)
		;
	v = e->nstrata++;
	s = &e->strata[v];
	memset(s, 0, sizeof(*s));
	s->model = model;
	s->region = region;
	s->hash = engine__hash(e->plan->name, e->plan->artifact.hardware[model],
			       e->regions[region]);
	e->strata_ix.slot[j] = v + 1;
	e->strata_ix.n++;
	*id = v;
	return 0;
}

/* ---- devices ---------------------------------------------------------- */

const struct fl_inv_label *engine__label(const struct fl_inv_device *d,
					 const char *key)
{
	for (unsigned i = 0; i < d->nlabels; i++)
		if (strcmp(d->labels[i].key, key) == 0)
			return &d->labels[i];
	return NULL;
}

int engine__match(const struct fl_plan_match *m, const struct fl_inv_device *d)
{
	for (unsigned k = 0; k < m->n; k++) {
		const struct fl_inv_label *l =
			engine__label(d, m->labels[k].key);
		unsigned v;

		if (l == NULL)
			return 0;
		for (v = 0; v < m->labels[k].nvalues; v++)
			if (strcmp(m->labels[k].values[v], l->value) == 0)
				break;
		if (v == m->labels[k].nvalues)
			return 0;
	}
	return 1;
}

void engine__set_status(struct fl_engine *e, uint32_t dev, unsigned status)
{
	struct eng_dev *d = &e->dev[dev];

	if (d->status == status)
		return;
	e->changes++;
	if (d->stage != ENG_NO_STAGE8) {
		e->stages[d->stage].cnt[d->status]--;
		e->stages[d->stage].cnt[status]++;
	}
	d->status = (uint8_t)status;
}

void engine__list_push(struct eng_list *l, struct fl_engine *e, uint32_t dev,
		       uint16_t flag)
{
	if (e->dev[dev].flags & flag)
		return;
	e->dev[dev].flags |= flag;
	l->v[l->n++] = dev; /* capacity >= devices, each at most once */
}

int engine__received_new(const struct eng_dev *d)
{
	return d->phase >= FL_PROG_INSTALLED && !(d->flags & DF_REVERTED);
}

int engine__rb_unreached(const struct eng_dev *d)
{
	return d->rb == FL_RB_SENT && !(d->flags & DF_ONLINE);
}

void engine__rb_recount(struct fl_engine *e, const struct eng_dev *d, int was)
{
	int is = engine__rb_unreached(d);

	if (is && !was)
		e->nrb_unreached++;
	else if (was && !is)
		e->nrb_unreached--;
}

/* Queues a cancel or rollback for a device that failed, when one is owed
 * (step decides which, and whether it still is). */
void engine__owe_remedy(struct fl_engine *e, uint32_t dev)
{
	struct eng_dev *d = &e->dev[dev];

	if (d->status != FL_DEV_FAILED)
		return;
	if ((engine__received_new(d) && d->rb == FL_RB_NONE) ||
	    ((d->flags & DF_OFFER_LIVE) && !(d->flags & DF_CANCEL_SENT)))
		engine__list_push(&e->rbq, e, dev, DF_IN_RBQ);
}

int64_t engine__soak(const struct fl_engine *e, const struct eng_dev *d)
{
	return e->stages[d->stage].soak_s;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_excluded(const struct fl_engine *e, const char *id)
{
	return e->nexclude > 0 && bsearch(&id, e->exclude, e->nexclude,
					  sizeof(*e->exclude), cmp_str) != NULL;
}

static unsigned not_target(struct fl_engine *e, const struct fl_inv_device *d,
			   unsigned *model)
{
	const struct fl_plan *p = e->plan;
	struct fl_semver v;
	unsigned m;
	int parsed = 0;

	for (m = 0; d->model != NULL && m < p->artifact.nhardware; m++)
		if (strcmp(p->artifact.hardware[m], d->model) == 0)
			break;
	if (d->model == NULL || m == p->artifact.nhardware)
		return FL_NT_MODEL;
	*model = m;
	if (!engine__match(&p->targets.match, d))
		return FL_NT_LABELS;
	if (is_excluded(e, d->id))
		return FL_NT_EXCLUDED;
	if (d->version != NULL &&
	    fl_semver_parse(&v, d->version, strlen(d->version)) == 0)
		parsed = 1;
	if (p->artifact.from != NULL &&
	    (!parsed || !fl_semver_range_match(&p->artifact.from_range, &v)))
		return FL_NT_VERSION;
	if (parsed && fl_semver_cmp(&v, &p->artifact.semver) == 0)
		return FL_NT_CURRENT;
	return FL_NT_NONE;
}

/* The zone name a device's "tz: device" windows use, NULL for UTC. */
static const char *device_zone_name(const struct fl_inv_device *d)
{
	const struct fl_inv_label *l;

	if (d->tz != NULL && d->tz[0] != '\0')
		return d->tz;
	l = engine__label(d, "tz");
	if (l != NULL && l->value[0] != '\0')
		return l->value;
	return NULL;
}

/* Phase one of filing entry i: everything that may allocate (interning
 * its zone, region and stratum; harmless if the sync fails later: an
 * unused region, stratum or zone changes nothing). Writes e->dev[i]
 * only, which is past e->ndev until phase two. Returns 0 or FL_ENOMEM. */
static int prepare_device(struct fl_engine *e, uint32_t i)
{
	const struct fl_inv_device *in = &e->inv[i];
	struct eng_dev *d = &e->dev[i];
	const struct fl_inv_label *reg;
	unsigned model = 0, nt;
	uint32_t region;
	int rc;

	memset(d, 0, sizeof(*d));
	d->hash = engine__hash(e->plan->name, in->id, NULL);
	d->t_offer = d->t_commit = d->t_report = ENG_UNSET;
	d->t_presence = d->t_retry = ENG_UNSET;
	d->stage = ENG_NO_STAGE8;
	if (in->is_online)
		d->flags |= DF_ONLINE;
	if (e->uses_device_tz) {
		rc = window__zone_intern(e, device_zone_name(in), &d->zone);
		if (rc == FL_ENOMEM)
			return rc; /* unknown zones, too many: UTC */
	}
	nt = not_target(e, in, &model);
	d->reason = (uint8_t)nt;
	if (nt != FL_NT_NONE)
		return 0;
	d->model = (uint8_t)model;
	reg = engine__label(in, "region");
	rc = region_intern(e, reg ? reg->value : "", &region);
	if (rc == 0)
		rc = stratum_intern(e, model, region, &d->stratum);
	if (rc != 0)
		return rc;
	d->flags |= DF_TARGET;
	for (unsigned h = 0; h < e->plan->nholds; h++)
		if ((e->scoped_holds >> h & 1) &&
		    engine__match(&e->plan->holds[h].match, in))
			d->holdmask |= 1u << h;
	return 0;
}

/* Phase two: cannot fail. */
static void commit_device(struct fl_engine *e, uint32_t i)
{
	struct eng_dev *d = &e->dev[i];

	if (!ids_insert(e, i)) {
		d->reason = FL_NT_DUPLICATE;
		d->flags &= (uint16_t)~DF_TARGET;
		return;
	}
	if (d->flags & DF_TARGET) {
		e->strata[d->stratum].n_targets++;
		e->ntargets++;
	}
}

static int entry_ok(const struct fl_inv_device *d)
{
	size_t len;

	if (d->id == NULL)
		return 0;
	len = strlen(d->id);
	if (len == 0 || len > FL_ENGINE_ID_MAX)
		return 0;
	if (d->nlabels > FL_ENGINE_MAX_DEV_LABELS ||
	    (d->nlabels > 0 && d->labels == NULL))
		return 0;
	for (unsigned i = 0; i < d->nlabels; i++)
		if (d->labels[i].key == NULL || d->labels[i].value == NULL)
			return 0;
	return 1;
}

static int list_reserve(struct fl_engine *e, struct eng_list *l, uint32_t need)
{
	return grow(e, (void **)&l->v, sizeof(*l->v), &l->cap, need);
}

int fl_engine_sync_inventory(struct fl_engine *e,
			     const struct fl_inv_device *inv, size_t n)
{
	uint32_t old, add, i;
	int rc;

	if (e == NULL || (inv == NULL && n > 0) || n < e->ndev)
		return FL_EINVAL;
	if (n > FL_ENGINE_MAX_DEVICES)
		return FL_ETOOBIG;
	old = e->ndev;
	add = (uint32_t)n - old;
	for (i = old; i < n; i++)
		if (!entry_ok(&inv[i]))
			return FL_EINVAL;
	e->inv = inv;
	if (add == 0)
		return 0;
	rc = grow(e, (void **)&e->dev, sizeof(*e->dev), &e->cap, (uint32_t)n);
	if (rc == 0)
		rc = list_reserve(e, &e->pending, (uint32_t)n);
	if (rc == 0)
		rc = list_reserve(e, &e->inflight, (uint32_t)n);
	if (rc == 0)
		rc = list_reserve(e, &e->touched, (uint32_t)n);
	if (rc == 0)
		rc = list_reserve(e, &e->rbq, (uint32_t)n);
	if (rc == 0)
		rc = table_reserve(e, &e->ids, (uint32_t)n, key_dev);
	for (i = old; rc == 0 && i < n; i++)
		rc = prepare_device(e, i);
	if (rc != 0)
		return rc; /* grown arrays, unused interned names: harmless */
	for (i = old; i < n; i++) {
		commit_device(e, i);
		e->ndev = i + 1;
	}
	return 0;
}

/* ---- life cycle ------------------------------------------------------- */

#define TL FL_ENGINE_TIME_LIMIT_S

int engine__time_ok(int64_t t)
{
	return t >= -TL && t <= TL;
}

static int plan_ok(const struct fl_plan *p)
{
	if (p->name == NULL || p->nstages == 0 ||
	    p->nstages > FL_PLAN_MAX_STAGES || p->nholds > FL_PLAN_MAX_HOLDS ||
	    p->nwindows > FL_PLAN_MAX_WINDOWS ||
	    p->artifact.nhardware > FL_PLAN_MAX_HARDWARE ||
	    p->health.nmetrics > FL_PLAN_MAX_METRICS)
		return 0;
	for (unsigned i = 0; i < p->artifact.nhardware; i++)
		if (p->artifact.hardware[i] == NULL)
			return 0;
	for (unsigned i = 0; i < p->targets.nexclude; i++)
		if (p->targets.exclude[i] == NULL)
			return 0;
	for (unsigned k = 0; k < p->nstages; k++) {
		const struct fl_plan_stage *s = &p->stages[k];

		if (s->kind > FL_STAGE_PERCENT)
			return 0;
		if (s->kind == FL_STAGE_PERCENT &&
		    (s->percent_ppm == 0 || s->percent_ppm > FL_PPM))
			return 0;
		if (s->kind == FL_STAGE_DEVICES) {
			if (s->ndevices > FL_PLAN_MAX_DEVICE_IDS)
				return 0;
			for (unsigned i = 0; i < s->ndevices; i++)
				if (s->devices[i] == NULL)
					return 0;
		}
		if (s->has_rate &&
		    (s->rate_count == 0 || s->rate_period_s == 0 ||
		     s->rate_period_s > FL_ENGINE_MAX_RATE_PERIOD_S))
			return 0;
		if (s->has_soak && (s->soak_s < 0 || s->soak_s > TL))
			return 0;
	}
	if (p->health.soak_s < 0 || p->health.timeout_s < 0 ||
	    p->health.soak_s > TL || p->health.timeout_s > TL ||
	    p->health.rollback_timeout_s < 0 ||
	    p->health.rollback_timeout_s > TL)
		return 0;
	for (unsigned h = 0; h < p->nholds; h++) {
		const struct fl_plan_hold *x = &p->holds[h];

		if ((x->has_from && !engine__time_ok(x->from_unix_s)) ||
		    (x->has_until && !engine__time_ok(x->until_unix_s)))
			return 0;
	}
	return window__validate(p);
}

int fl_engine_create(struct fl_engine **out, const struct fl_plan *plan,
		     const struct fl_engine_config *cfg,
		     const struct fl_inv_device *inv, size_t n)
{
	struct fl_engine *e;
	const struct fl_plan_health *h;
	int rc;

	if (out == NULL || plan == NULL || (inv == NULL && n > 0))
		return FL_EINVAL;
	*out = NULL;
	if (!plan_ok(plan))
		return FL_EINVAL;
	if (cfg != NULL && (cfg->alloc == NULL) != (cfg->free == NULL))
		return FL_EINVAL;
	e = cfg != NULL && cfg->alloc != NULL
		    ? cfg->alloc(cfg->alloc_ctx, sizeof(*e))
		    : malloc(sizeof(*e));
	if (e == NULL)
		return FL_ENOMEM;
	memset(e, 0, sizeof(*e));
	e->plan = plan;
	if (cfg != NULL) {
		e->alloc = cfg->alloc;
		e->free = cfg->free;
		e->alloc_ctx = cfg->alloc_ctx;
		if (cfg->tz != NULL && cfg->tz->utc_offset != NULL) {
			e->tz = *cfg->tz;
			e->has_tz = 1;
		}
	}
	e->mem_now = e->mem_peak = sizeof(*e);
	e->cur = -1;
	e->now = INT64_MIN;
	for (int w = 0; w < 4; w++)
		e->wait_until[w] = ENG_UNSET;
	h = &plan->health;
	e->count_rule = h->has_max_failures;
	e->rate_rule = h->has_max_failure_rate || !h->has_max_failures;
	for (unsigned k = 0; k < plan->nstages; k++) {
		e->stages[k].started_at = -1;
		e->stages[k].soak_s = plan->stages[k].has_soak
					      ? plan->stages[k].soak_s
					      : h->soak_s;
	}
	for (unsigned k = 0; k < plan->nholds; k++)
		if (plan->holds[k].match.n > 0)
			e->scoped_holds |= 1u << k;

	rc = grow(e, (void **)&e->zones, sizeof(*e->zones), &e->cap_zones,
		  1 + FL_PLAN_MAX_WINDOWS);
	if (rc != 0)
		goto out;
	e->zone_slots = engine__alloc(e, ENG_ZONE_SLOTS * sizeof(uint32_t));
	if (e->zone_slots == NULL) {
		rc = FL_ENOMEM;
		goto out;
	}
	memset(e->zone_slots, 0, ENG_ZONE_SLOTS * sizeof(uint32_t));
	memset(&e->zones[0], 0, sizeof(e->zones[0]));
	e->nzones = 1; /* UTC */
	rc = table_reserve(e, &e->regions_ix, 1, key_region);
	if (rc == 0)
		rc = table_reserve(e, &e->strata_ix, 1, key_stratum);
	if (rc != 0)
		goto out;
	for (unsigned w = 0; w < plan->nwindows; w++) {
		if (plan->windows[w].is_device_tz)
			e->uses_device_tz = 1;
		else if ((rc = window__zone_intern(e, plan->windows[w].tz,
						   &e->win_zone[w])) ==
			 FL_ENOMEM)
			goto out; /* unknown zone: UTC (0) */
	}
	if (plan->targets.nexclude > 0) {
		size_t sz = plan->targets.nexclude * sizeof(*e->exclude);

		e->exclude = engine__alloc(e, sz);
		if (e->exclude == NULL) {
			rc = FL_ENOMEM;
			goto out;
		}
		memcpy(e->exclude, plan->targets.exclude, sz);
		e->nexclude = plan->targets.nexclude;
		qsort(e->exclude, e->nexclude, sizeof(*e->exclude), cmp_str);
	}
	rc = fl_engine_sync_inventory(e, inv, n);
out:
	if (rc != 0) {
		fl_engine_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

void fl_engine_free(struct fl_engine *e)
{
	if (e == NULL)
		return;
	for (unsigned k = 0; k < FL_PLAN_MAX_STAGES; k++) {
		struct eng_stage *s = &e->stages[k];

		engine__free(e, s->ring, s->ring_cap * sizeof(*s->ring));
		engine__free(e, s->note_why,
			     s->note_cap * sizeof(*s->note_why));
		engine__free(e, s->note_dev,
			     s->note_cap * sizeof(*s->note_dev));
	}
	engine__free(e, e->dev, e->cap * sizeof(*e->dev));
	engine__free(e, e->pending.v, e->pending.cap * sizeof(uint32_t));
	engine__free(e, e->inflight.v, e->inflight.cap * sizeof(uint32_t));
	engine__free(e, e->touched.v, e->touched.cap * sizeof(uint32_t));
	engine__free(e, e->rbq.v, e->rbq.cap * sizeof(uint32_t));
	engine__free(e, e->regions, e->cap_regions * sizeof(*e->regions));
	engine__free(e, e->strata, e->cap_strata * sizeof(*e->strata));
	engine__free(e, e->zones, e->cap_zones * sizeof(*e->zones));
	engine__free(e, e->zone_slots, ENG_ZONE_SLOTS * sizeof(uint32_t));
	engine__free(e, e->exclude, e->nexclude * sizeof(*e->exclude));
	table_free(e, &e->ids);
	table_free(e, &e->regions_ix);
	table_free(e, &e->strata_ix);
	if (e->free != NULL)
		e->free(e->alloc_ctx, e);
	else
		free(e);
}

/* ---- views ------------------------------------------------------------ */

void fl_engine_status(const struct fl_engine *e, struct fl_engine_status *out)
{
	memset(out, 0, sizeof(*out));
	out->state = e->state;
	out->is_paused = e->is_paused;
	out->stage = e->cur < 0 ? FL_ENGINE_NO_STAGE : (uint16_t)e->cur;
	out->n_devices = e->ndev;
	out->n_targets = e->ntargets;
	out->n_members = e->nmembers;
	if (e->cur == (int)e->plan->nstages - 1 &&
	    e->stages[e->cur].state >= FL_STAGE_RUNNING)
		out->n_unplaced = e->ntargets - e->nmembers;
	out->n_offers = e->noffers;
	out->n_rollback_sent = e->nrb_sent;
	out->n_rollback_done = e->nrb_done;
	out->n_rollback_failed = e->nrb_failed;
	out->n_rollback_unreached = e->nrb_unreached;
	out->now_s = e->now;
}

int fl_engine_stage(const struct fl_engine *e, unsigned stage,
		    struct fl_engine_stage *out)
{
	const struct eng_stage *s;

	if (e == NULL || stage >= e->plan->nstages)
		return FL_ENOENT;
	s = &e->stages[stage];
	memset(out, 0, sizeof(*out));
	out->state = s->state;
	out->is_overridden = s->is_overridden;
	out->members = s->members;
	memcpy(out->count, s->cnt, sizeof(out->count));
	out->failed = s->cnt[FL_DEV_FAILED];
	out->judged = s->cnt[FL_DEV_FAILED] + s->cnt[FL_DEV_SUCCEEDED];
	out->started_at_s = s->started_at;
	return 0;
}

int fl_engine_device(const struct fl_engine *e, uint32_t dev,
		     struct fl_engine_device *out)
{
	const struct eng_dev *d;

	if (e == NULL || dev >= e->ndev)
		return FL_ENOENT;
	d = &e->dev[dev];
	memset(out, 0, sizeof(*out));
	out->is_target = (d->flags & DF_TARGET) != 0;
	out->not_target = out->is_target ? FL_NT_NONE : d->reason;
	out->is_online = (d->flags & DF_ONLINE) != 0;
	out->status = d->status;
	out->progress = d->phase;
	out->rollback = engine__rb_unreached(d) ? FL_RB_UNREACHED : d->rb;
	out->fail_reason = d->status == FL_DEV_FAILED ? d->reason : 0;
	out->was_offered = (d->flags & DF_OFFERED) != 0;
	out->stage = d->stage == ENG_NO_STAGE8 ? FL_ENGINE_NO_STAGE : d->stage;
	out->offered_at_s = d->flags & DF_OFFERED ? d->t_offer : -1;
	out->committed_at_s = d->t_commit == ENG_UNSET ? -1 : d->t_commit;
	return 0;
}

const char *fl_engine_device_zone(const struct fl_engine *e, uint32_t dev)
{
	const char *z;

	if (e == NULL || dev >= e->ndev)
		return NULL;
	if (e->uses_device_tz)
		z = e->dev[dev].zone == 0 ? NULL
					  : e->zones[e->dev[dev].zone].name;
	else
		z = device_zone_name(&e->inv[dev]);
	return z != NULL ? z : "UTC";
}

const struct fl_engine_approval *fl_engine_approvals(const struct fl_engine *e,
						     unsigned *n)
{
	*n = e->napprovals;
	return e->approvals;
}

void fl_engine_memory(const struct fl_engine *e, size_t *now_bytes,
		      size_t *peak_bytes)
{
	if (now_bytes != NULL)
		*now_bytes = e->mem_now;
	if (peak_bytes != NULL)
		*peak_bytes = e->mem_peak;
}

const char *fl_decision_kind_name(unsigned kind)
{
	static const char *const names[] = {
		"?",
		"offer",
		"cancel",
		"rollback-device",
		"device-succeeded",
		"device-failed",
		"device-unreached",
		"stage-started",
		"stage-skipped-device",
		"stage-passed",
		"stage-failed",
		"await-approval",
		"wait",
		"paused",
		"resumed",
		"rollback-started",
		"rolled-back",
		"complete",
		"cancelled",
	};

	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

const char *fl_why_name(unsigned why)
{
	static const char *const names[] = {
		"",
		"hold",
		"window",
		"rate",
		"max-failures",
		"failure-rate",
		"operator",
		"gate",
		"unknown-device",
		"not-a-target",
		"already-member",
		"overridden",
		"timeout",
	};

	return why < sizeof(names) / sizeof(names[0]) ? names[why] : "?";
}
