/*
 * select.c -- chooses a stage's members when it starts.
 *
 * Method: the pool (targets not yet member of a stage, and for match:
 * stages those whose labels match) is sorted by (stratum, hash of
 * (rollout, id), id) with a three-pass radix sort on the top 33 bits of
 * the hash followed by a stable counting sort on the stratum; the rare
 * runs that tie on those bits are put in (hash, id) order. Then devices are
 * taken one at a time, each from the stratum that the Webster
 * (Sainte-Lague) divisor method says is owed the next seat: the one with
 * the largest n / (2a + 1), n its targets and a its members so far (ties:
 * the stratum with the smaller hash of (rollout, model, region)). A
 * max-heap of strata keeps each pick O(log strata). Because the method is
 * house-monotone, running it to a larger cumulative total never takes
 * seats away from a stratum, so stages built one after another are each
 * as proportional as the stratum sizes allow, and no member is dropped.
 *
 * Everything is allocated before anything is changed: a failed
 * allocation leaves the engine as it was.
 */
#include <string.h>

#include "engine_priv.h"
#include "fl/err.h"

struct item {
	uint64_t hash;
	uint32_t dev;
	uint32_t stratum;
};

struct sel {
	struct fl_engine *e;
	struct item *a, *b; /* pool, scratch */
	uint32_t n;
	uint32_t *beg, *end, *heap; /* per stratum; heap of strata */
	uint32_t nheap;
	size_t size_a, size_s;
};

/* Sorts by the top 33 bits of the hash: three passes of 11 bits, whose
 * counts fit in the first-level cache; fix_ties() settles the rest. */
#define RADIX_BITS 11
#define RADIX_N	   (1u << RADIX_BITS)

static void radix_sort(struct item *a, struct item *tmp, uint32_t n,
		       uint32_t *count /* RADIX_N + 1 */)
{
	for (int pass = 0; pass < 3; pass++) {
		int shift = 31 + pass * RADIX_BITS;

		memset(count, 0, (RADIX_N + 1) * sizeof(*count));
		for (uint32_t i = 0; i < n; i++)
			count[((a[i].hash >> shift) & (RADIX_N - 1)) + 1]++;
		for (uint32_t i = 0; i < RADIX_N; i++)
			count[i + 1] += count[i];
		for (uint32_t i = 0; i < n; i++)
			tmp[count[(a[i].hash >> shift) & (RADIX_N - 1)]++] =
				a[i];
		memcpy(a, tmp, (size_t)n * sizeof(*a));
	}
}

/* Higher priority first: n_s / (2 a_s + 1), then smaller hash, then id. */
static int before(const struct fl_engine *e, uint32_t s, uint32_t t)
{
	const struct eng_stratum *x = &e->strata[s], *y = &e->strata[t];
	uint64_t l = (uint64_t)x->n_targets * (2ull * y->n_members + 1);
	uint64_t r = (uint64_t)y->n_targets * (2ull * x->n_members + 1);

	if (l != r)
		return l > r;
	if (x->hash != y->hash)
		return x->hash < y->hash;
	return s < t;
}

static void sift_down(struct sel *s, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, best = i, tmp;

		if (l < s->nheap && before(s->e, s->heap[l], s->heap[best]))
			best = l;
		if (r < s->nheap && before(s->e, s->heap[r], s->heap[best]))
			best = r;
		if (best == i)
			return;
		tmp = s->heap[i];
		s->heap[i] = s->heap[best];
		s->heap[best] = tmp;
		i = best;
	}
}

static void add_member(struct fl_engine *e, uint32_t dev, unsigned k)
{
	struct eng_dev *d = &e->dev[dev];
	struct eng_stage *st = &e->stages[k];

	d->stage = (uint8_t)k;
	d->status = FL_DEV_PENDING;
	st->members++;
	st->cnt[FL_DEV_PENDING]++;
	e->strata[d->stratum].n_members++;
	e->nmembers++;
	engine__list_push(&e->pending, e, dev, DF_IN_PENDING);
}

static void sel_free(struct sel *s)
{
	engine__free(s->e, s->a, s->size_a);
	engine__free(s->e, s->b, s->size_a);
	engine__free(s->e, s->beg, s->size_s);
	engine__free(s->e, s->end, s->size_s);
	engine__free(s->e, s->heap, s->size_s);
}

/* Orders runs of equal (stratum, top 33 bits of the hash) by the whole
 * hash, then by id; such runs are almost never longer than 1. */
static int out_of_order(const struct fl_engine *e, const struct item *x,
			const struct item *y)
{
	if (x->stratum != y->stratum || (x->hash >> 31) != (y->hash >> 31))
		return 0;
	if (x->hash != y->hash)
		return x->hash > y->hash;
	return strcmp(e->inv[x->dev].id, e->inv[y->dev].id) > 0;
}

static void fix_ties(const struct fl_engine *e, struct item *a, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		for (uint32_t j = i; j > 0 && out_of_order(e, &a[j - 1], &a[j]);
		     j--) {
			struct item t = a[j - 1];

			a[j - 1] = a[j];
			a[j] = t;
		}
	}
}

/* Allocates and sorts the pool of stage k. */
static int pool_sort(struct sel *s, const struct fl_plan_stage *ps)
{
	struct fl_engine *e = s->e;
	uint32_t n = 0, i;

	for (i = 0; i < e->ndev; i++) {
		const struct eng_dev *d = &e->dev[i];

		if (!(d->flags & DF_TARGET) || d->stage != ENG_NO_STAGE8)
			continue;
		if (ps->kind == FL_STAGE_MATCH &&
		    !engine__match(&ps->match, &e->inv[i]))
			continue;
		n++;
	}
	s->size_a = (size_t)(n > 0 ? n : 1) * sizeof(struct item);
	s->size_s =
		(size_t)(e->nstrata > 0 ? e->nstrata : 1) * sizeof(uint32_t);
	if (s->size_s < (RADIX_N + 1) * sizeof(uint32_t))
		s->size_s = (RADIX_N + 1) * sizeof(uint32_t); /* beg: counts */
	s->a = engine__alloc(e, s->size_a);
	s->b = engine__alloc(e, s->size_a);
	s->beg = engine__alloc(e, s->size_s);
	s->end = engine__alloc(e, s->size_s);
	s->heap = engine__alloc(e, s->size_s);
	if (s->a == NULL || s->b == NULL || s->beg == NULL || s->end == NULL ||
	    s->heap == NULL)
		return FL_ENOMEM;
	for (i = 0, n = 0; i < e->ndev; i++) {
		const struct eng_dev *d = &e->dev[i];

		if (!(d->flags & DF_TARGET) || d->stage != ENG_NO_STAGE8)
			continue;
		if (ps->kind == FL_STAGE_MATCH &&
		    !engine__match(&ps->match, &e->inv[i]))
			continue;
		s->a[n].hash = d->hash;
		s->a[n].dev = i;
		s->a[n].stratum = d->stratum;
		n++;
	}
	s->n = n;
	radix_sort(s->a, s->b, n, s->beg);
	/* stable counting sort by stratum into b, back to a */
	memset(s->beg, 0, (size_t)e->nstrata * sizeof(uint32_t));
	memset(s->end, 0, (size_t)e->nstrata * sizeof(uint32_t));
	for (i = 0; i < n; i++)
		s->end[s->a[i].stratum]++;
	for (uint32_t t = 0, acc = 0; t < e->nstrata; t++) {
		s->beg[t] = acc;
		acc += s->end[t];
		s->end[t] = s->beg[t];
	}
	for (i = 0; i < n; i++)
		s->b[s->end[s->a[i].stratum]++] = s->a[i];
	memcpy(s->a, s->b, (size_t)n * sizeof(*s->a));
	fix_ties(e, s->a, n);
	return 0;
}

/* Takes m devices from the sorted pool, Webster order, into stage k. */
static void take(struct sel *s, unsigned k, uint32_t m)
{
	struct fl_engine *e = s->e;

	s->nheap = 0;
	for (uint32_t t = 0; t < e->nstrata; t++)
		if (s->beg[t] < s->end[t])
			s->heap[s->nheap++] = t;
	for (uint32_t i = s->nheap; i-- > 0;)
		sift_down(s, i);
	while (m > 0 && s->nheap > 0) {
		uint32_t t = s->heap[0];

		if (s->beg[t] + 4 < s->end[t])
			ENG_PREFETCH(&e->dev[s->a[s->beg[t] + 4].dev]);
		add_member(e, s->a[s->beg[t]++].dev, k);
		m--;
		if (s->beg[t] == s->end[t])
			s->heap[0] = s->heap[--s->nheap];
		sift_down(s, 0);
	}
}

static int start_devices(struct fl_engine *e, unsigned k)
{
	const struct fl_plan_stage *ps = &e->plan->stages[k];
	struct eng_stage *st = &e->stages[k];
	size_t nw = ps->ndevices ? ps->ndevices : 1;
	uint32_t dev;

	st->note_why = engine__alloc(e, nw * sizeof(*st->note_why));
	st->note_dev = engine__alloc(e, nw * sizeof(*st->note_dev));
	if (st->note_why == NULL || st->note_dev == NULL) {
		engine__free(e, st->note_why, nw * sizeof(*st->note_why));
		engine__free(e, st->note_dev, nw * sizeof(*st->note_dev));
		st->note_why = NULL;
		st->note_dev = NULL;
		return FL_ENOMEM;
	}
	st->note_cap = (uint32_t)nw;
	st->note_n = 0;
	for (unsigned i = 0; i < ps->ndevices; i++) {
		unsigned why = FL_WHY_NONE;

		dev = FL_ENGINE_NO_DEV;
		if (fl_engine_lookup(e, ps->devices[i], &dev) != 0)
			why = FL_WHY_UNKNOWN_DEVICE;
		else if (!(e->dev[dev].flags & DF_TARGET))
			why = FL_WHY_NOT_TARGET;
		else if (e->dev[dev].stage == k)
			continue; /* listed twice */
		else if (e->dev[dev].stage != ENG_NO_STAGE8)
			why = FL_WHY_ALREADY_MEMBER;
		if (why != FL_WHY_NONE) {
			st->note_why[st->note_n] = (uint8_t)why;
			st->note_dev[st->note_n] = i;
			st->note_n++;
			continue;
		}
		add_member(e, dev, k);
	}
	return 0;
}

int select__start_stage(struct fl_engine *e, unsigned k)
{
	const struct fl_plan_stage *ps = &e->plan->stages[k];
	struct eng_stage *st = &e->stages[k];
	struct sel s;
	uint32_t m;
	int rc = 0;

	if (ps->has_rate && st->ring == NULL) {
		uint32_t cap = ps->rate_period_s + 1;

		if (ps->rate_count < cap)
			cap = ps->rate_count + 1;
		st->ring = engine__alloc(e, (size_t)cap * sizeof(*st->ring));
		if (st->ring == NULL)
			return FL_ENOMEM;
		st->ring_cap = cap;
		st->ring_head = st->ring_len = 0;
		st->ring_sum = 0;
	}
	if (ps->kind == FL_STAGE_DEVICES)
		return start_devices(e, k);
	memset(&s, 0, sizeof(s));
	s.e = e;
	rc = pool_sort(&s, ps);
	if (rc != 0)
		goto out;
	switch (ps->kind) {
	case FL_STAGE_COUNT: m = ps->count; break;
	case FL_STAGE_MATCH: m = s.n; break;
	default: {
		uint64_t want =
			((uint64_t)ps->percent_ppm * e->ntargets + FL_PPM - 1) /
			FL_PPM;

		m = want > e->nmembers ? (uint32_t)(want - e->nmembers) : 0;
		break;
	}
	}
	take(&s, k, m);
out:
	sel_free(&s);
	return rc;
}
