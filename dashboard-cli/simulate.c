/*
 * simulate.c -- `fleetctl plan simulate`: runs the real engine over a
 * simulated fleet on a simulated clock, and gathers what happened.
 *
 * Method: a discrete-event simulation. The engine is stepped at the
 * simulated `now`; every offer it decides starts a chain of device events
 * (acked, downloading, installed, activated, committed, and a failure
 * where --fail says so) that are put in a min-heap keyed by (time,
 * sequence). The clock then jumps to the earlier of the engine's next
 * wake-up and the heap's first event, every event due by then is applied,
 * and the engine is stepped again. A device has at most one live event in
 * the heap: each event, when applied, schedules the next one; a cancel, a
 * rollback or a new offer bumps the device's generation and thereby makes
 * its queued event stale (skipped when popped). The simulated operator
 * approves a stage approve_after_s after the engine awaits it, and a hold
 * when --approve-hold says. The engine is stepped only when an applied
 * event may have given it something to decide (not after the progress
 * reports before activation) or when it asked to be; on big fleets the
 * clock moves in batches of batch_s seconds on a grid from the start,
 * except to the boundaries of rate, window and hold waits, so that rate
 * limits stay exact while the number of steps stays bounded. The run ends when
 * the rollout is rolled back or cancelled, when nothing is left to happen
 * (complete, or paused with nothing in flight, or only approvals nobody gives),
 * or at the horizon.
 *
 * Every delay is a uniform draw in a fixed range from a hash of (seed,
 * device id, which delay, which attempt), and whether a device fails is a
 * draw from (seed, device id, rule): the same inputs give the same run,
 * and a device's fate does not depend on the inventory's order. The model
 * (docs/inventory-format.md):
 *   offer -> acked 5-60 s -> downloading 1-5 s -> download 2-10 min ->
 *   write and verify 1-3 min -> installed -> reboot (activate: now 10-60 s;
 *   idle 5-60 min; window: at the next window opening in its zone, at once
 *   if inside one, plus 10 s-5 min) -> boot 30-120 s -> activated ->
 *   self-check 1-5 min -> committed -> soak;
 *   failure "health": a metric breach at 10-90% of the soak (the plan's
 *   first metric rule, else a health failure report), or with no soak a
 *   failed self-check that the boot loader reverts 1-3 min after boot;
 *   failure "install": the install fails where it would have completed;
 *   rollback: slot switch and reboot, done 1-3 min after it was sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl/bytes.h"
#include "fl/err.h"
#include "simulate.h"

#define DAY_S	  86400
#define NOUT	  4096 /* decisions per step call */
#define NO_REGION "(none)"

enum kind {
	K_ACK = 1,
	K_DOWNLOADING,
	K_INSTALLED,
	K_ACTIVATED,
	K_COMMITTED,
	K_BREACH,
	K_REVERTED,
	K_ROLLBACK_DONE,
	K_APPROVE_STAGE,
	K_APPROVE_HOLD,
	/* jitter draws that are not events */
	J_DOWNLOAD = 20,
	J_INSTALL,
	J_REBOOT,
	J_FAIL = 30,
};

struct qev {
	int64_t at_s;
	uint64_t seq;
	uint32_t dev; /* or stage / hold index */
	uint32_t gen;
	uint8_t kind;
};

struct simdev {
	uint32_t gen;
	uint16_t attempts;
	uint16_t stage;
	int8_t fail; /* enum fl_sim_fail_mode, -1 none */
	uint8_t model, region;
	uint8_t got_new;  /* installed the new version at some point */
	uint8_t on_new;	  /* booted into it and still on it */
	uint8_t in_stage; /* stage set */
};

struct sim {
	const struct fl_plan *plan;
	const struct fl_inventory *inv;
	const struct fl_sim_options *opt;
	struct fl_engine *e;
	struct fl_sim_result *r;
	struct simdev *dev;
	struct qev *heap;
	size_t nheap, capheap, maxheap;
	uint64_t seq;
	struct fl_metric_value breach; /* the metric report that fails */
	int has_breach;
	uint16_t last_failed;  /* the stage that failed last, for PAUSED */
	int need_step;	       /* an event may have given the engine work */
	int64_t wait_until[4]; /* the last FL_DEC_WAIT's until, by why */
	uint32_t wait_seen[256];
	unsigned nwait_seen;
};

/* ---- deterministic draws ------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t draw(uint64_t seed, const char *id, unsigned what, unsigned n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = id; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3ull;
	}
	return mix64(mix64(h ^ mix64(seed)) ^ ((uint64_t)what << 32 | n));
}

int64_t fl_sim_jitter(uint64_t seed, const char *id, unsigned what, unsigned n,
		      int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo +
	       (int64_t)(draw(seed, id, what, n) % (uint64_t)(hi - lo + 1));
}

static int sel_matches(const struct fl_sim_fail *f,
		       const struct fl_inv_device *d)
{
	const char *v;

	if (f->key[0] == '\0')
		return d->model != NULL && strcmp(d->model, f->value) == 0;
	v = fl_inv_label(d, f->key);
	return v != NULL && strcmp(v, f->value) == 0;
}

int fl_sim_fail_draw(const struct fl_sim_options *opt,
		     const struct fl_inv_device *d)
{
	for (unsigned i = 0; i < opt->nfail; i++) {
		const struct fl_sim_fail *f = &opt->fail[i];

		if (!sel_matches(f, d))
			continue;
		if (draw(opt->seed, d->id, J_FAIL, i) % FL_PPM < f->rate_ppm)
			return f->mode;
	}
	return -1;
}

/* ---- parsing and formatting -----------------------------------------------
 */

int fl_sim_parse_fail(const char *arg, struct fl_sim_fail *out)
{
	char buf[2 * FL_INV_STR_MAX + 64];
	char *colon, *rate, *eq, *end;
	double v;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (fl_strlcpy(buf, arg, sizeof(buf)) != 0)
		return FL_EINVAL;
	colon = strrchr(buf, ':');
	if (colon == NULL)
		return FL_EINVAL;
	if (strcmp(colon + 1, "install") == 0 ||
	    strcmp(colon + 1, "health") == 0) {
		out->mode = colon[1] == 'i' ? FL_SIM_FAIL_INSTALL
					    : FL_SIM_FAIL_HEALTH;
		*colon = '\0';
		colon = strrchr(buf, ':');
		if (colon == NULL)
			return FL_EINVAL;
	}
	*colon = '\0';
	rate = colon + 1;
	len = strlen(rate);
	if (len == 0 || rate[0] < '0' || rate[0] > '9')
		return FL_EINVAL;
	v = strtod(rate, &end);
	if (end == rate)
		return FL_EINVAL;
	if (*end == '%' && end[1] == '\0') {
		if (v < 0 || v > 100)
			return FL_EINVAL;
		v /= 100;
	} else if (*end != '\0' || v < 0 || v > 1) {
		return FL_EINVAL;
	}
	out->rate_ppm = (uint32_t)(v * FL_PPM + 0.5);
	eq = strchr(buf, '=');
	if (eq != NULL) {
		*eq = '\0';
		if (buf[0] == '\0' || eq[1] == '\0' ||
		    fl_strlcpy(out->key, buf, sizeof(out->key)) != 0 ||
		    fl_strlcpy(out->value, eq + 1, sizeof(out->value)) != 0)
			return FL_EINVAL;
	} else if (buf[0] == '\0' ||
		   fl_strlcpy(out->value, buf, sizeof(out->value)) != 0) {
		return FL_EINVAL;
	}
	return 0;
}

int fl_sim_parse_duration(const char *s, int64_t *out_s)
{
	int64_t total = 0;
	int any = 0;

	while (*s != '\0') {
		int64_t n = 0, unit;
		int digits = 0;

		while (*s >= '0' && *s <= '9') {
			if (++digits > 9)
				return FL_EINVAL;
			n = n * 10 + (*s++ - '0');
		}
		if (digits == 0)
			return FL_EINVAL;
		switch (*s++) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = DAY_S; break;
		default: return FL_EINVAL;
		}
		total += n * unit;
		if (total > (int64_t)3660 * DAY_S)
			return FL_EINVAL;
		any = 1;
	}
	if (!any)
		return FL_EINVAL;
	*out_s = total;
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int num(const char **s, int n, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*s)[i];

		if (c < '0' || c > '9')
			return 0;
		v = v * 10 + (unsigned)(c - '0');
	}
	*s += n;
	*out = v;
	return 1;
}

static int lit(const char **s, char c)
{
	if (**s != c && !(c == 'T' && **s == 't'))
		return 0;
	(*s)++;
	return 1;
}

int fl_sim_parse_instant(const char *s, int64_t *out_s)
{
	unsigned y, mo, d, h, mi, sec, oh, om;
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30,
					 31, 31, 30, 31, 30, 31};
	int64_t t, off = 0;

	if (!num(&s, 4, &y) || !lit(&s, '-') || !num(&s, 2, &mo) ||
	    !lit(&s, '-') || !num(&s, 2, &d) || !lit(&s, 'T') ||
	    !num(&s, 2, &h) || !lit(&s, ':') || !num(&s, 2, &mi) ||
	    !lit(&s, ':') || !num(&s, 2, &sec))
		return FL_EINVAL;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return FL_EINVAL;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || sec > 60)
		return FL_EINVAL;
	if (mo == 2 && d == 29 &&
	    !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return FL_EINVAL;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s++ == '-' ? -1 : 1;

		if (!num(&s, 2, &oh) || !lit(&s, ':') || !num(&s, 2, &om) ||
		    oh > 23 || om > 59)
			return FL_EINVAL;
		off = sign * (int64_t)(oh * 3600 + om * 60);
	} else {
		return FL_EINVAL;
	}
	if (*s != '\0')
		return FL_EINVAL;
	t = days_from_civil(y, mo, d) * DAY_S + h * 3600 + mi * 60 +
	    (sec > 59 ? 59 : sec);
	*out_s = t - off;
	return 0;
}

void fl_sim_format_instant(int64_t t, char *buf, size_t size)
{
	int64_t day = floor_div(t, DAY_S), y, sod = t - day * DAY_S;
	unsigned m, d;

	if (t == FL_ENGINE_NEVER) {
		snprintf(buf, size, "never");
		return;
	}
	civil_from_days(day, &y, &m, &d);
	snprintf(buf, size, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m,
		 d, (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60),
		 (unsigned)(sod % 60));
}

void fl_sim_format_duration(int64_t s, char *buf, size_t size)
{
	size_t k = 0;
	int64_t d, h, m;
	int n;

	if (s <= 0) {
		snprintf(buf, size, "0s");
		return;
	}
	d = s / DAY_S;
	h = s / 3600 % 24;
	m = s / 60 % 60;
	s %= 60;
	buf[0] = '\0';
#define PART(v, u)                                                             \
	if ((v) > 0 && k < size) {                                             \
		n = snprintf(buf + k, size - k, "%lld%s", (long long)(v), u);  \
		if (n > 0)                                                     \
			k += (size_t)n;                                        \
	}
	PART(d, "d")
	PART(h, "h")
	PART(m, "m")
	PART(s, "s")
#undef PART
}

/* ---- windows ------------------------------------------------------------- */

static int32_t utc_offset(const struct fl_tz_ops *tz, const char *zone,
			  int64_t t)
{
	int32_t off = 0;
	int64_t next;

	if (tz == NULL || tz->utc_offset == NULL || zone == NULL ||
	    strcmp(zone, "UTC") == 0)
		return 0;
	if (tz->utc_offset(tz->ctx, zone, t, &off, &next) != 0)
		return 0;
	return off;
}

/* The UTC instant of a local time (the later offset in a repeated hour;
 * in a skipped hour, as if the old offset still held). */
static int64_t local_to_utc(const struct fl_tz_ops *tz, const char *zone,
			    int64_t local)
{
	int64_t u = local - utc_offset(tz, zone, local);

	return local - utc_offset(tz, zone, u);
}

int64_t fl_sim_window_next(const struct fl_plan *plan,
			   const struct fl_tz_ops *tz, const char *device_zone,
			   int64_t t)
{
	int64_t best = FL_ENGINE_NEVER;

	if (plan->nwindows == 0)
		return t;
	for (unsigned w = 0; w < plan->nwindows; w++) {
		const struct fl_plan_window *x = &plan->windows[w];
		const char *zone = x->is_device_tz ? device_zone : x->tz;
		int64_t local = t + utc_offset(tz, zone, t);
		int64_t day0 = floor_div(local, DAY_S);
		int64_t len_s = ((int64_t)x->to_min - x->from_min) * 60;

		if (len_s <= 0)
			len_s += DAY_S;
		for (int64_t day = day0 - 1; day <= day0 + 8; day++) {
			unsigned dow = (unsigned)(((day + 3) % 7 + 7) % 7);
			int64_t open_l, open_u, close_u, cand;

			if (!(x->days_mask & (1u << dow)))
				continue;
			open_l = day * DAY_S + (int64_t)x->from_min * 60;
			open_u = local_to_utc(tz, zone, open_l);
			close_u = local_to_utc(tz, zone, open_l + len_s);
			if (close_u <= t)
				continue;
			cand = open_u <= t ? t : open_u;
			if (cand < best)
				best = cand;
			break;
		}
	}
	return best;
}

/* ---- the event heap ------------------------------------------------------ */

static int before(const struct qev *a, const struct qev *b)
{
	return a->at_s != b->at_s ? a->at_s < b->at_s : a->seq < b->seq;
}

static int push(struct sim *s, uint8_t kind, uint32_t dev, int64_t at_s)
{
	struct qev ev;
	size_t i;

	if (s->nheap == s->capheap) {
		size_t ncap = s->capheap ? s->capheap * 2 : 1024;
		struct qev *h;

		if (s->capheap >= s->maxheap)
			return FL_ETOOBIG;
		if (ncap > s->maxheap)
			ncap = s->maxheap;
		h = realloc(s->heap, ncap * sizeof(*h));
		if (h == NULL)
			return FL_ENOMEM;
		s->heap = h;
		s->capheap = ncap;
	}
	ev.at_s = at_s;
	ev.seq = s->seq++;
	ev.dev = dev;
	ev.kind = kind;
	ev.gen = kind == K_APPROVE_STAGE || kind == K_APPROVE_HOLD
			 ? 0
			 : s->dev[dev].gen;
	i = s->nheap++;
	while (i > 0 && before(&ev, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = ev;
	return 0;
}

static struct qev pop(struct sim *s)
{
	struct qev top = s->heap[0], last = s->heap[--s->nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->nheap > 0)
		s->heap[i] = last;
	return top;
}

/* ---- the simulated devices ------------------------------------------------
 */

static int64_t jit(const struct sim *s, uint32_t dev, unsigned what, int64_t lo,
		   int64_t hi)
{
	return fl_sim_jitter(s->opt->seed, s->inv->dev[dev].id, what,
			     s->dev[dev].attempts, lo, hi);
}

static int64_t stage_soak(const struct sim *s, unsigned stage)
{
	if (stage < s->plan->nstages && s->plan->stages[stage].has_soak)
		return s->plan->stages[stage].soak_s;
	return s->plan->health.soak_s;
}

/* When an installed device reboots into the new version. */
static int64_t activation(const struct sim *s, uint32_t dev, int64_t t)
{
	int64_t open;

	switch (s->plan->device.activate) {
	case FL_PLAN_ACTIVATE_IDLE: return t + jit(s, dev, J_REBOOT, 300, 3600);
	case FL_PLAN_ACTIVATE_WINDOW:
		if (s->plan->nwindows == 0)
			break;
		open = fl_sim_window_next(s->plan, s->opt->tz,
					  fl_engine_device_zone(s->e, dev), t);
		if (open == FL_ENGINE_NEVER)
			open = t;
		return open + jit(s, dev, J_REBOOT, 10, 300);
	default: break;
	}
	return t + jit(s, dev, J_REBOOT, 10, 60);
}

static int apply(struct sim *s, uint8_t kind, uint32_t dev, int64_t at_s,
		 uint8_t reason)
{
	struct fl_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.dev = dev;
	ev.at_s = at_s;
	ev.reason = reason;
	if (kind == FL_EV_HEALTH) {
		ev.metrics = &s->breach;
		ev.nmetrics = 1;
	}
	return fl_engine_apply(s->e, &ev);
}

static void timeline(struct sim *s, uint8_t kind, uint8_t why, uint16_t stage,
		     uint32_t ref, uint32_t dev, int64_t at_s, int64_t until_s)
{
	struct fl_sim_result *r = s->r;
	struct fl_sim_event *e;

	if (r->nevents >= FL_SIM_MAX_TIMELINE) {
		r->nevents_dropped++;
		return;
	}
	e = &r->events[r->nevents++];
	e->kind = kind;
	e->why = why;
	e->stage = stage;
	e->ref = ref;
	e->dev = dev;
	e->at_s = at_s;
	e->until_s = until_s;
}

/* Applies one due event and schedules the device's next one. */
static int fire(struct sim *s, const struct qev *q)
{
	struct simdev *d;
	int64_t t = q->at_s;
	int err;

	if (q->kind == K_APPROVE_STAGE || q->kind == K_APPROVE_HOLD) {
		struct fl_event ev;
		int is_hold = q->kind == K_APPROVE_HOLD;

		memset(&ev, 0, sizeof(ev));
		ev.kind = FL_EV_APPROVE;
		ev.at_s = t;
		ev.who = "fleetctl plan simulate";
		ev.name = is_hold ? s->plan->holds[q->dev].name
				  : s->plan->stages[q->dev].name;
		err = fl_engine_apply(s->e, &ev);
		s->need_step = 1;
		if (err == FL_ESTATE)
			return 0; /* e.g. the rollout ended meanwhile */
		if (err)
			return err;
		if (is_hold)
			s->r->hold_approved_at_s[q->dev] = t;
		else
			s->r->stages[q->dev].approved_at_s = t;
		timeline(s,
			 is_hold ? FL_SIM_EV_APPROVED_HOLD
				 : FL_SIM_EV_APPROVED_STAGE,
			 0, is_hold ? FL_ENGINE_NO_STAGE : (uint16_t)q->dev,
			 q->dev, FL_ENGINE_NO_DEV, t, 0);
		return 0;
	}
	d = &s->dev[q->dev];
	if (q->gen != d->gen)
		return 0; /* cancelled, rolled back or re-offered since */
	/* Progress reports up to activation decide nothing at once (they
	   only push a timeout later); the others may: step after them. */
	if (q->kind != K_ACK && q->kind != K_DOWNLOADING &&
	    q->kind != K_ACTIVATED &&
	    !(q->kind == K_INSTALLED && d->fail != FL_SIM_FAIL_INSTALL))
		s->need_step = 1;
	switch (q->kind) {
	case K_ACK:
		if ((err = apply(s, FL_EV_ACKED, q->dev, t, 0)) != 0)
			return err;
		return push(s, K_DOWNLOADING, q->dev,
			    t + jit(s, q->dev, K_DOWNLOADING, 1, 5));
	case K_DOWNLOADING:
		if ((err = apply(s, FL_EV_DOWNLOADING, q->dev, t, 0)) != 0)
			return err;
		return push(s, K_INSTALLED, q->dev,
			    t + jit(s, q->dev, J_DOWNLOAD, 120, 600) +
				    jit(s, q->dev, J_INSTALL, 60, 180));
	case K_INSTALLED:
		if (d->fail == FL_SIM_FAIL_INSTALL)
			return apply(s, FL_EV_FAILED, q->dev, t,
				     FL_FAIL_INSTALL);
		if ((err = apply(s, FL_EV_INSTALLED, q->dev, t, 0)) != 0)
			return err;
		d->got_new = 1;
		return push(s, K_ACTIVATED, q->dev,
			    activation(s, q->dev, t) +
				    jit(s, q->dev, K_ACTIVATED, 30, 120));
	case K_ACTIVATED:
		if ((err = apply(s, FL_EV_ACTIVATED, q->dev, t, 0)) != 0)
			return err;
		d->on_new = 1;
		if (d->fail == FL_SIM_FAIL_HEALTH &&
		    stage_soak(s, d->stage) <= 0)
			return push(s, K_REVERTED, q->dev,
				    t + jit(s, q->dev, K_REVERTED, 60, 180));
		return push(s, K_COMMITTED, q->dev,
			    t + jit(s, q->dev, K_COMMITTED, 60, 300));
	case K_COMMITTED:
		if ((err = apply(s, FL_EV_COMMITTED, q->dev, t, 0)) != 0)
			return err;
		if (d->fail == FL_SIM_FAIL_HEALTH) {
			int64_t soak = stage_soak(s, d->stage);
			int64_t at =
				soak * jit(s, q->dev, K_BREACH, 10, 90) / 100;

			return push(s, K_BREACH, q->dev, t + (at > 0 ? at : 1));
		}
		return 0;
	case K_BREACH:
		if (s->has_breach)
			return apply(s, FL_EV_HEALTH, q->dev, t, 0);
		return apply(s, FL_EV_FAILED, q->dev, t, FL_FAIL_HEALTH);
	case K_REVERTED:
		d->on_new = 0;
		return apply(s, FL_EV_REVERTED, q->dev, t, 0);
	case K_ROLLBACK_DONE:
		d->on_new = 0;
		return apply(s, FL_EV_ROLLBACK_DONE, q->dev, t, 0);
	default: return FL_EINVAL;
	}
}

static void note_wait(struct sim *s, const struct fl_decision *dc)
{
	uint32_t key = (uint32_t)dc->stage << 16 | (uint32_t)dc->why << 8 |
		       (dc->ref & 0xff);
	struct fl_sim_stage *st;

	for (unsigned i = 0; i < s->nwait_seen; i++)
		if (s->wait_seen[i] == key)
			return;
	if (s->nwait_seen < sizeof(s->wait_seen) / sizeof(s->wait_seen[0]))
		s->wait_seen[s->nwait_seen++] = key;
	timeline(s, dc->kind, dc->why, dc->stage, dc->ref, dc->dev, dc->at_s,
		 dc->until_s);
	if (dc->stage >= s->r->nstages || dc->why < FL_WHY_HOLD ||
	    dc->why > FL_WHY_RATE)
		return;
	st = &s->r->stages[dc->stage];
	if (st->wait_at_s[dc->why] < 0) {
		st->wait_at_s[dc->why] = dc->at_s;
		st->wait_until_s[dc->why] = dc->until_s;
		if (dc->why == FL_WHY_HOLD)
			st->wait_hold = dc->ref;
	}
}

static int count_if(const struct sim *s, int running)
{
	int n = 0;

	for (size_t i = 0; i < s->inv->n; i++)
		n += running ? s->dev[i].on_new : s->dev[i].got_new;
	return n;
}

/* Carries out one decision. */
static int decide(struct sim *s, const struct fl_decision *dc)
{
	struct fl_sim_result *r = s->r;
	struct fl_sim_stage *st =
		dc->stage < r->nstages ? &r->stages[dc->stage] : NULL;
	struct simdev *d = dc->dev < s->inv->n ? &s->dev[dc->dev] : NULL;

	switch (dc->kind) {
	case FL_DEC_OFFER:
		if (d == NULL)
			return FL_EINVAL;
		d->gen++;
		d->attempts++;
		if (dc->stage != FL_ENGINE_NO_STAGE) {
			d->stage = dc->stage;
			d->in_stage = 1;
		}
		if (st != NULL) {
			st->offers++;
			if (st->first_offer_at_s < 0)
				st->first_offer_at_s = dc->at_s;
			st->last_offer_at_s = dc->at_s;
		}
		return push(s, K_ACK, dc->dev,
			    dc->at_s + jit(s, dc->dev, K_ACK, 5, 60));
	case FL_DEC_CANCEL:
		if (d == NULL)
			return FL_EINVAL;
		d->gen++;
		r->n_cancelled++;
		return 0;
	case FL_DEC_ROLLBACK_DEVICE:
		if (d == NULL)
			return FL_EINVAL;
		d->gen++;
		return push(s, K_ROLLBACK_DONE, dc->dev,
			    dc->at_s +
				    jit(s, dc->dev, K_ROLLBACK_DONE, 60, 180));
	case FL_DEC_DEVICE_SUCCEEDED:
	case FL_DEC_DEVICE_FAILED:
	case FL_DEC_DEVICE_UNREACHED: return 0;
	case FL_DEC_WAIT: note_wait(s, dc); return 0;
	default: break;
	}
	timeline(s, dc->kind, dc->why, dc->stage, dc->ref, dc->dev, dc->at_s,
		 dc->until_s);
	switch (dc->kind) {
	case FL_DEC_STAGE_STARTED:
		if (st != NULL) {
			st->started_at_s = dc->at_s;
			st->members = dc->ref;
		}
		break;
	case FL_DEC_STAGE_PASSED:
		if (st != NULL)
			st->ended_at_s = dc->at_s;
		break;
	case FL_DEC_STAGE_FAILED:
		if (st != NULL) {
			struct fl_engine_stage now;

			st->ended_at_s = dc->at_s;
			st->fail_why = dc->why;
			s->last_failed = dc->stage;
			if (fl_engine_stage(s->e, dc->stage, &now) == 0) {
				st->trip_failed = now.failed;
				st->trip_judged = now.judged;
			}
		}
		break;
	case FL_DEC_AWAIT_APPROVAL:
		if (st == NULL)
			return FL_EINVAL;
		if (st->awaited_at_s < 0)
			st->awaited_at_s = dc->at_s;
		return push(s, K_APPROVE_STAGE, dc->stage,
			    dc->at_s + s->opt->approve_after_s);
	case FL_DEC_PAUSED:
		/* The engine names no stage when a gate pauses: the stage is
		   the one that just failed. */
		if (r->paused_at_s < 0) {
			r->paused_at_s = dc->at_s;
			r->paused_stage = dc->stage != FL_ENGINE_NO_STAGE
						  ? dc->stage
						  : s->last_failed;
		}
		break;
	case FL_DEC_ROLLBACK_STARTED:
		if (!r->has_rollback) {
			r->has_rollback = 1;
			r->rollback_at_s = dc->at_s;
			r->rollback_stage = dc->stage;
			r->rollback_why = dc->why;
			r->had_new_at_rollback = (uint32_t)count_if(s, 0);
			r->running_new_at_rollback = (uint32_t)count_if(s, 1);
		}
		break;
	case FL_DEC_ROLLED_BACK: r->rolled_back_at_s = dc->at_s; break;
	case FL_DEC_COMPLETE:
		if (r->complete_at_s < 0)
			r->complete_at_s = dc->at_s;
		break;
	default: break;
	}
	return 0;
}

/* ---- the run ------------------------------------------------------------- */

int64_t fl_sim_batch_s(const struct fl_sim_options *opt, size_t n_devices)
{
	if (opt->batch_s > 0)
		return opt->batch_s;
	if (n_devices <= FL_SIM_EXACT_DEVICES)
		return 1;
	return n_devices <= 10 * FL_SIM_EXACT_DEVICES ? 10 : 60;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void add_name(const char **names, unsigned *n, const char *x)
{
	for (unsigned i = 0; i < *n; i++)
		if (strcmp(names[i], x) == 0)
			return;
	if (*n < FL_SIM_MAX_NAMES)
		names[(*n)++] = x;
}

static uint8_t name_index(const char *const *names, unsigned n, const char *x)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(names[i], x) == 0)
			return (uint8_t)i;
	return FL_SIM_MAX_NAMES;
}

static int match_ok(const struct fl_plan_match *m,
		    const struct fl_inv_device *d)
{
	for (unsigned k = 0; k < m->n; k++) {
		const char *v = fl_inv_label(d, m->labels[k].key);
		unsigned j;

		if (v == NULL)
			return 0;
		for (j = 0; j < m->labels[k].nvalues; j++)
			if (strcmp(m->labels[k].values[j], v) == 0)
				break;
		if (j == m->labels[k].nvalues)
			return 0;
	}
	return 1;
}

/* Names the models and regions of the targets, sorted, and tallies them. */
static int classify(struct sim *s)
{
	struct fl_sim_result *r = s->r;
	struct fl_engine_device ed;
	int err;

	for (size_t i = 0; i < s->inv->n; i++) {
		const struct fl_inv_device *d = &s->inv->dev[i];
		const char *reg = fl_inv_label(d, "region");

		if ((err = fl_engine_device(s->e, (uint32_t)i, &ed)) != 0)
			return err;
		if (!ed.is_target) {
			if (ed.not_target < 7)
				r->not_target[ed.not_target]++;
			continue;
		}
		r->n_targets++;
		add_name(r->models, &r->nmodels, d->model);
		add_name(r->regions, &r->nregions, reg ? reg : NO_REGION);
		if (fl_sim_fail_draw(s->opt, d) >= 0)
			r->n_fail_drawn++;
	}
	qsort(r->models, r->nmodels, sizeof(r->models[0]), cmp_str);
	qsort(r->regions, r->nregions, sizeof(r->regions[0]), cmp_str);
	for (size_t i = 0; i < s->inv->n; i++) {
		const struct fl_inv_device *d = &s->inv->dev[i];
		const char *reg = fl_inv_label(d, "region");
		struct simdev *sd = &s->dev[i];

		sd->fail = (int8_t)fl_sim_fail_draw(s->opt, d);
		sd->stage = FL_ENGINE_NO_STAGE;
		sd->model = name_index(r->models, r->nmodels,
				       d->model ? d->model : "");
		sd->region = name_index(r->regions, r->nregions,
					reg ? reg : NO_REGION);
		if (fl_engine_device(s->e, (uint32_t)i, &ed) == 0 &&
		    ed.is_target) {
			r->target_models.by[sd->model]++;
			r->target_regions.by[sd->region]++;
		}
	}
	return 0;
}

static int hold_active_at(const struct fl_plan_hold *h, int64_t approved_at,
			  int64_t t)
{
	if (approved_at >= 0 && approved_at <= t)
		return 0;
	if (h->has_from && t < h->from_unix_s)
		return 0;
	if (h->has_until && t > h->until_unix_s)
		return 0;
	return 1;
}

/* The per-stage and per-hold tallies at the end. */
static int finish(struct sim *s)
{
	struct fl_sim_result *r = s->r;
	struct fl_engine_device ed;
	int err;

	fl_engine_status(s->e, &r->fin);
	r->state = r->fin.state;
	r->is_paused = r->fin.is_paused;
	for (unsigned k = 0; k < r->nstages; k++) {
		struct fl_sim_stage *st = &r->stages[k];

		if ((err = fl_engine_stage(s->e, k, &st->fin)) != 0)
			return err;
		st->state = st->fin.state;
		st->is_overridden = st->fin.is_overridden;
		if (st->members == 0)
			st->members = st->fin.members;
	}
	for (size_t i = 0; i < s->inv->n; i++) {
		const struct simdev *sd = &s->dev[i];
		struct fl_sim_stage *st;

		if ((err = fl_engine_device(s->e, (uint32_t)i, &ed)) != 0)
			return err;
		r->n_got_new += sd->got_new;
		r->n_on_new += sd->on_new;
		r->n_failed_dev += ed.status == FL_DEV_FAILED;
		if (ed.stage >= r->nstages)
			continue;
		st = &r->stages[ed.stage];
		st->models.by[sd->model]++;
		st->regions.by[sd->region]++;
		st->got_new += sd->got_new;
		st->on_new += sd->on_new;
		if (ed.status != FL_DEV_HELD)
			continue;
		for (unsigned h = 0; h < r->nholds; h++) {
			const struct fl_plan_hold *ph = &s->plan->holds[h];

			if (hold_active_at(ph, r->hold_approved_at_s[h],
					   r->end_s) &&
			    match_ok(&ph->match, &s->inv->dev[i]))
				r->hold_blocked[h]++;
		}
	}
	return 0;
}

static void result_init(struct fl_sim_result *r, const struct fl_plan *plan,
			const struct fl_inventory *inv,
			const struct fl_sim_options *opt)
{
	r->source = inv->source;
	r->n_devices = inv->n;
	r->start_s = r->end_s = opt->start_s;
	r->complete_at_s = r->paused_at_s = -1;
	r->rollback_at_s = r->rolled_back_at_s = -1;
	r->rollback_stage = r->paused_stage = FL_ENGINE_NO_STAGE;
	r->nstages = plan->nstages;
	for (unsigned k = 0; k < plan->nstages; k++) {
		struct fl_sim_stage *st = &r->stages[k];

		st->name = plan->stages[k].name;
		st->awaited_at_s = st->approved_at_s = st->started_at_s = -1;
		st->first_offer_at_s = st->last_offer_at_s = -1;
		st->ended_at_s = -1;
		for (unsigned w = 0; w < 4; w++)
			st->wait_at_s[w] = st->wait_until_s[w] = -1;
	}
	r->nholds = plan->nholds;
	for (unsigned h = 0; h < plan->nholds; h++)
		r->hold_approved_at_s[h] = -1;
}

static void pick_breach(struct sim *s)
{
	const struct fl_plan_health *h = &s->plan->health;

	for (unsigned i = 0; i < h->nmetrics; i++) {
		const struct fl_plan_metric *m = &h->metrics[i];

		if (!m->has_max && !m->has_min)
			continue;
		s->breach.name = m->name;
		s->breach.value = m->has_max ? m->max + 1 : m->min - 1;
		s->has_breach = 1;
		return;
	}
}

/* Steps the engine at now until it has nothing more to say at this time.
 * *wake: when it next needs a step. */
static int step_all(struct sim *s, int64_t now, struct fl_decision *out,
		    int64_t *wake)
{
	size_t n;
	int err;

	for (unsigned rounds = 0;; rounds++) {
		if (rounds > 1000000)
			return FL_ESTATE;
		err = fl_engine_step(s->e, now, out, NOUT, &n, wake);
		if (err)
			return err;
		for (size_t i = 0; i < n; i++)
			if ((err = decide(s, &out[i])) != 0)
				return err;
		if (n > 0)
			s->r->end_s = now;
		if (n < NOUT)
			return 0;
	}
}

int fl_sim_run(const struct fl_plan *plan, const struct fl_inventory *inv,
	       const struct fl_sim_options *opt, struct fl_sim_result **out)
{
	struct fl_engine_config cfg;
	struct fl_decision *dec = NULL;
	struct fl_sim_result *r = NULL;
	struct sim s;
	int64_t now = opt->start_s, horizon, wake, batch_s;
	uint64_t iter, max_iter;
	int err;

	*out = NULL;
	memset(&s, 0, sizeof(s));
	if (plan == NULL || inv == NULL || opt == NULL || opt->horizon_s <= 0)
		return FL_EINVAL;
	horizon = opt->start_s + opt->horizon_s;
	s.plan = plan;
	s.inv = inv;
	s.opt = opt;
	memset(&cfg, 0, sizeof(cfg));
	cfg.tz = opt->tz;
	r = calloc(1, sizeof(*r));
	s.dev = calloc(inv->n ? inv->n : 1, sizeof(*s.dev));
	dec = malloc(NOUT * sizeof(*dec));
	if (r == NULL || s.dev == NULL || dec == NULL) {
		err = FL_ENOMEM;
		goto out;
	}
	s.r = r;
	s.last_failed = FL_ENGINE_NO_STAGE;
	s.maxheap = inv->n * 4 + 4096;
	result_init(r, plan, inv, opt);
	pick_breach(&s);
	err = fl_engine_create(&s.e, plan, &cfg, inv->dev, inv->n);
	if (err)
		goto out;
	if ((err = classify(&s)) != 0)
		goto out;
	for (unsigned i = 0; i < opt->nhold_ok; i++) {
		unsigned h;

		for (h = 0; h < plan->nholds; h++)
			if (strcmp(plan->holds[h].name, opt->hold_ok[i].name) ==
			    0)
				break;
		if (h == plan->nholds) {
			err = FL_EINVAL;
			goto out;
		}
		err = push(&s, K_APPROVE_HOLD, h,
			   opt->hold_ok[i].at_s > now ? opt->hold_ok[i].at_s
						      : now);
		if (err)
			goto out;
	}
	/* Bounded: every device has at most a few dozen events. */
	max_iter = (uint64_t)inv->n * 64 + 1000000;
	batch_s = fl_sim_batch_s(opt, inv->n);
	r->batch_s = batch_s;
	s.need_step = 1;
	wake = now;
	for (iter = 0;; iter++) {
		struct fl_engine_status st;
		int64_t next;

		if (iter > max_iter) {
			err = FL_ESTATE;
			goto out;
		}
		/* Everything due by now, then the engine's turn if an event
		   may have given it something to decide, or it asked. */
		while (s.nheap > 0 && s.heap[0].at_s <= now) {
			struct qev q = pop(&s);

			if ((err = fire(&s, &q)) != 0)
				goto out;
			if (q.at_s > r->end_s)
				r->end_s = q.at_s;
		}
		if (s.need_step || now >= wake) {
			s.need_step = 0;
			if ((err = step_all(&s, now, dec, &wake)) != 0)
				goto out;
			fl_engine_status(s.e, &st);
			if (st.state == FL_ROLLOUT_ROLLED_BACK ||
			    st.state == FL_ROLLOUT_CANCELLED)
				break;
		}
		next = wake;
		if (s.nheap > 0 && s.heap[0].at_s < next)
			next = s.heap[0].at_s;
		if (next == FL_ENGINE_NEVER)
			break; /* nothing left that can happen */
		if (batch_s > 1) {
			/* Up to the next multiple of batch_s after the start,
			   unless the engine waits for a rate, window or hold
			   boundary: those it gets on time. */
			int64_t k =
				(next - opt->start_s + batch_s - 1) / batch_s;

			next = opt->start_s + k * batch_s;
			if (wake < next &&
			    (wake == s.wait_until[FL_WHY_HOLD] ||
			     wake == s.wait_until[FL_WHY_WINDOW] ||
			     wake == s.wait_until[FL_WHY_RATE]))
				next = wake;
		}
		if (next > horizon) {
			r->hit_horizon = 1;
			break;
		}
		now = next > now ? next : now + 1;
	}
	err = finish(&s);
out:
	fl_engine_free(s.e);
	free(s.heap);
	free(s.dev);
	free(dec);
	if (err) {
		free(r);
		return err;
	}
	*out = r;
	return 0;
}

/* ---- a plan's listed devices against the fleet ---------------------------
 */

static const char *not_target_why(unsigned nt)
{
	switch (nt) {
	case FL_NT_MODEL: return "its model is not in artifact.hardware";
	case FL_NT_LABELS: return "its labels do not match targets.match";
	case FL_NT_VERSION:
		return "its installed version is outside artifact.from (or "
		       "unknown)";
	case FL_NT_CURRENT: return "it already runs artifact.version";
	case FL_NT_EXCLUDED: return "it is in targets.exclude";
	case FL_NT_DUPLICATE: return "its id appears twice in the fleet";
	default: return "it is not a target";
	}
}

int fl_sim_check_devices(const struct fl_plan *plan,
			 const struct fl_inventory *inv,
			 const struct fl_tz_ops *tz,
			 struct fl_plan_diags *diags)
{
	struct fl_engine_config cfg;
	struct fl_engine *e = NULL;
	unsigned before = diags->n_errors;
	int err;

	memset(&cfg, 0, sizeof(cfg));
	cfg.tz = tz;
	err = fl_engine_create(&e, plan, &cfg, inv->dev, inv->n);
	if (err != 0)
		return err;
	for (unsigned k = 0; k < plan->nstages; k++) {
		const struct fl_plan_stage *st = &plan->stages[k];

		if (st->kind != FL_STAGE_DEVICES)
			continue;
		for (unsigned i = 0; i < st->ndevices; i++) {
			struct fl_engine_device d;
			struct fl_pos pos =
				st->device_pos ? st->device_pos[i] : st->pos;
			uint32_t dev;

			if (fl_engine_lookup(e, st->devices[i], &dev) != 0) {
				fl_plan_diags_add(
					diags, FL_DIAG_ERROR, pos,
					"stage `%s`: device `%s` is not in the "
					"fleet",
					st->name, st->devices[i]);
				continue;
			}
			if (fl_engine_device(e, dev, &d) == 0 && !d.is_target)
				fl_plan_diags_add(
					diags, FL_DIAG_ERROR, pos,
					"stage `%s`: device `%s` is not a "
					"target: %s",
					st->name, st->devices[i],
					not_target_why(d.not_target));
		}
	}
	fl_engine_free(e);
	fl_plan_diags_sort(diags);
	return diags->n_errors > before ? FL_EINVAL : 0;
}

void fl_sim_warn_unchecked_devices(const struct fl_plan *plan,
				   struct fl_plan_diags *diags)
{
	for (unsigned k = 0; k < plan->nstages; k++) {
		const struct fl_plan_stage *st = &plan->stages[k];

		if (st->kind != FL_STAGE_DEVICES || st->ndevices == 0)
			continue;
		fl_plan_diags_add(diags, FL_DIAG_WARNING,
				  st->device_pos ? st->device_pos[0] : st->pos,
				  "stage `%s`: whether its %u listed devices "
				  "are targets is checked only against a fleet "
				  "(plan simulate --inventory, rollout start)",
				  st->name, st->ndevices);
	}
	fl_plan_diags_sort(diags);
}
