/*
 * window.c -- maintenance windows, holds and time zones for the engine.
 *
 * Zones are interned: id 0 is UTC, the others are names from the plan's
 * windows or the devices, each checked once against the tz port. Whether
 * a device may be disturbed now depends only on the zone its "tz: device"
 * windows use, so the answer is computed per zone id and cached together
 * with the interval in which it holds.
 *
 * Method: local time is UTC plus the zone's offset at that instant, and
 * the port also says until when that offset holds. Within such a segment
 * local time runs linearly, so the next window boundary (an opening or a
 * closing, on the days of the window, looking back one day for windows
 * that cross midnight) is found in local time and mapped back by
 * subtracting the offset; if it falls beyond the segment, the segment's
 * end is reported instead and everything is recomputed there. This follows
 * daylight-saving changes exactly, including boundaries that fall in a
 * skipped or repeated hour.
 */
#include <string.h>

#include "engine_priv.h"
#include "fl/err.h"

#define DAY_S 86400

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Monday = 0; 1970-01-01 was a Thursday. */
static unsigned dow_of(int64_t day)
{
	int64_t r = (day + 3) % 7;

	return (unsigned)(r < 0 ? r + 7 : r);
}

int window__validate(const struct fl_plan *p)
{
	for (unsigned w = 0; w < p->nwindows; w++) {
		const struct fl_plan_window *x = &p->windows[w];

		if (x->days_mask == 0 || x->days_mask > 0x7f ||
		    x->from_min >= 1440 || x->to_min > 1440 ||
		    x->from_min == x->to_min)
			return 0;
	}
	for (unsigned h = 0; h < p->nholds; h++) {
		const struct fl_plan_hold *x = &p->holds[h];

		if (x->name == NULL)
			return 0;
		if (x->has_from && x->has_until &&
		    x->from_unix_s > x->until_unix_s)
			return 0;
	}
	return 1;
}

static uint32_t name_slot(const char *name)
{
	return (uint32_t)engine__hash("zone", name, NULL) &
	       (ENG_ZONE_SLOTS - 1);
}

/* Sets *id to the zone's id (0, UTC, for NULL or without a tz port),
 * adding it if new. Returns 0; FL_ENOENT (the port does not know it),
 * FL_ETOOBIG (FL_ENGINE_MAX_ZONES reached), FL_ENOMEM: *id is 0 then. */
int window__zone_intern(struct fl_engine *e, const char *name, uint16_t *id)
{
	uint32_t j, v;
	int32_t off;
	int64_t next;

	*id = 0;
	if (name == NULL || !e->has_tz)
		return 0;
	for (j = name_slot(name); (v = e->zone_slots[j]) != 0;
	     j = (j + 1) & (ENG_ZONE_SLOTS - 1)) {
		if (strcmp(e->zones[v - 1].name, name) == 0) {
			*id = (uint16_t)(v - 1);
			return 0;
		}
	}
	if (e->tz.utc_offset(e->tz.ctx, name, 0, &off, &next) != 0)
		return FL_ENOENT;
	if (e->nzones >= FL_ENGINE_MAX_ZONES)
		return FL_ETOOBIG;
	if (e->nzones >= e->cap_zones) {
		uint32_t cap = e->cap_zones * 2;
		struct eng_zone *z;

		if (cap > FL_ENGINE_MAX_ZONES)
			cap = FL_ENGINE_MAX_ZONES;
		z = engine__alloc(e, cap * sizeof(*z));
		if (z == NULL)
			return FL_ENOMEM;
		memcpy(z, e->zones, e->nzones * sizeof(*z));
		engine__free(e, e->zones, e->cap_zones * sizeof(*z));
		e->zones = z;
		e->cap_zones = cap;
	}
	v = e->nzones++;
	memset(&e->zones[v], 0, sizeof(e->zones[v]));
	e->zones[v].name = name;
	e->zone_slots[j] = v + 1;
	*id = (uint16_t)v;
	return 0;
}

static void zone_offset(struct fl_engine *e, uint16_t zone, int64_t t,
			int32_t *off, int64_t *next)
{
	*off = 0;
	*next = ENG_NEVER;
	if (zone == 0 || !e->has_tz)
		return;
	if (e->tz.utc_offset(e->tz.ctx, e->zones[zone].name, t, off, next) !=
	    0) {
		*off = 0; /* cannot happen for an interned zone of a pure
			     port; be safe: UTC, and look again in a day */
		*next = t + DAY_S;
	}
	if (*off < -DAY_S || *off > DAY_S)
		*off = 0;
	if (*next <= t)
		*next = t + 1;
}

/* Whether window w is open at t in zone, and the next instant > t at
 * which that may change. */
static int window_at(struct fl_engine *e, const struct fl_plan_window *w,
		     uint16_t zone, int64_t t, int64_t *change)
{
	int32_t off;
	int64_t seg_end, local, day, sod, best = ENG_NEVER;
	int64_t fm = (int64_t)w->from_min * 60, tm = (int64_t)w->to_min * 60;
	int crosses = w->to_min < w->from_min, in;
	unsigned dow;

	zone_offset(e, zone, t, &off, &seg_end);
	local = t + off;
	day = floor_div(local, DAY_S);
	sod = local - day * DAY_S;
	dow = dow_of(day);
	if (!crosses)
		in = (w->days_mask >> dow & 1) && sod >= fm && sod < tm;
	else
		in = ((w->days_mask >> dow & 1) && sod >= fm) ||
		     ((w->days_mask >> ((dow + 6) % 7) & 1) && sod < tm);
	for (int64_t d = day - 1; d <= day + 8; d++) {
		int64_t open = d * DAY_S + fm;
		int64_t close = (crosses ? (d + 1) * DAY_S : d * DAY_S) + tm;

		if (!(w->days_mask >> dow_of(d) & 1))
			continue;
		if (open > local && open < best)
			best = open;
		if (close > local && close < best)
			best = close;
	}
	best = best == ENG_NEVER ? t + 7 * DAY_S : best - off;
	*change = best < seg_end ? best : seg_end;
	return in;
}

void window__state(struct fl_engine *e, uint16_t zone, int64_t t,
		   int *in_window, int64_t *until)
{
	const struct fl_plan *p = e->plan;
	struct eng_zone *z = &e->zones[zone];
	int in = 0;
	int64_t end = ENG_NEVER, c;

	if (p->nwindows == 0) {
		*in_window = 1;
		*until = ENG_NEVER;
		return;
	}
	if (z->is_valid && t >= z->from && t < z->until) {
		*in_window = z->in_window;
		*until = z->until;
		return;
	}
	for (unsigned w = 0; w < p->nwindows; w++) {
		uint16_t wz =
			p->windows[w].is_device_tz ? zone : e->win_zone[w];

		in |= window_at(e, &p->windows[w], wz, t, &c);
		if (c < end)
			end = c;
	}
	z->is_valid = 1;
	z->from = t;
	z->until = end;
	z->in_window = (uint8_t)in;
	*in_window = in;
	*until = end;
}

int64_t window__open_at_or_after(struct fl_engine *e, uint16_t zone, int64_t t)
{
	int in;
	int64_t until;

	/* Boundaries and offset changes alternate; a week of them is far
	 * fewer than this bound. */
	for (int i = 0; i < 256; i++) {
		window__state(e, zone, t, &in, &until);
		if (in)
			return t;
		if (until == ENG_NEVER)
			return ENG_NEVER;
		t = until;
	}
	return t;
}

int window__hold_active(const struct fl_engine *e, unsigned h, int64_t t)
{
	const struct fl_plan_hold *x = &e->plan->holds[h];

	if (e->hold_approved[h])
		return 0;
	if (x->has_from && t < x->from_unix_s)
		return 0;
	if (x->has_until && t > x->until_unix_s)
		return 0;
	return 1;
}

int64_t window__hold_end(const struct fl_engine *e, unsigned h)
{
	const struct fl_plan_hold *x = &e->plan->holds[h];

	return x->has_until ? x->until_unix_s + 1 : ENG_NEVER;
}
