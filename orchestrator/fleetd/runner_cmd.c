/*
 * runner_cmd.c -- the commands the runner sends: offers (the rollout's
 * manifest, activation mode and window, trial health limits), cancels, and
 * rollbacks with their manifests; and the fleet's manifest sequence
 * counter.
 *
 * Method, rollback images: a device goes back to the version it ran when
 * it joined the rollout (its inventory entry). The image is looked for
 * first among the artifacts fleetd deployed (a rollout of the same
 * component and version whose manifest names the device's model), then in
 * the device's reported slots (a confirmed slot of that version whose
 * report gives its length and SHA-256). A rollback manifest is sealed once
 * per image and model, with a sequence number above every one sealed
 * before (so above the new version's: the device's floor moves past it),
 * logged, and reused for every device and every re-send; one whose number
 * a device's floor has reached since is sealed again. Each device keeps
 * the manifest it was given: its re-sends (and a new seal once its floor
 * reached it) use that image without looking again, since a device that
 * went back no longer describes the old image as its other slot.
 *
 * Method, windows: the protocol carries one window in the device's local
 * time. With activate: window the runner picks the plan window that opens
 * first from now (or is open now) for this device (tz: device windows in
 * the device's zone, the others in theirs, as the engine reads them) and
 * moves it into the device's zone at that opening.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fl/err.h"
#include "runner_priv.h"

/* ---- the sequence counter ------------------------------------------------ */

int rcmd_seal(struct fl_runner *r, struct fl_manifest *m,
	      struct fl_manifest_env *env)
{
	char buf[32];
	uint64_t seq = 1;
	int err = fl_store_setting_get(r->st, FL_RUNNER_SEQ_SETTING, buf,
				       sizeof(buf));

	if (err == 0)
		seq = strtoull(buf, NULL, 10);
	else if (err != FL_ENOENT)
		return err;
	if (seq <= r->max_floor)
		seq = r->max_floor + 1;
	if (seq == 0 || seq >= FL_PROTO_UINT_MAX)
		return FL_ETOOBIG;
	m->seq = seq;
	err = r->cfg.sign.seal(r->cfg.sign_ctx, env, m);
	if (err != 0)
		return err;
	snprintf(buf, sizeof(buf), "%" PRIu64, seq + 1);
	return fl_store_setting_set(r->st, FL_RUNNER_SEQ_SETTING, buf);
}

/* ---- offers -------------------------------------------------------------- */

static int32_t zone_offset(const struct fl_runner *r, const char *zone,
			   int64_t t)
{
	const struct fl_tz_ops *tz = r->cfg.tz;
	int32_t off = 0;
	int64_t next = 0;

	if (zone == NULL || strcmp(zone, "UTC") == 0 || tz == NULL ||
	    tz->utc_offset == NULL ||
	    tz->utc_offset(tz->ctx, zone, t, &off, &next) != 0)
		return 0;
	return off;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
}

/* When window w next opens (now, if it is open): FL_ENGINE_NEVER if its
 * days never come. */
static int64_t window_next(const struct fl_runner *r,
			   const struct fl_plan_window *w, const char *zone,
			   int64_t now)
{
	int64_t local = now + zone_offset(r, zone, now);
	int64_t day = floor_div(local, 86400);
	int64_t dur = w->to_min > w->from_min ? w->to_min - w->from_min
					      : w->to_min + 1440 - w->from_min;

	for (int64_t dd = -1; dd <= 7; dd++) {
		int64_t d = day + dd, start, t;

		/* day 0 (1970-01-01) was a Thursday; bit 0 is Monday */
		if (!(w->days_mask >> mod(d + 3, 7) & 1))
			continue;
		start = d * 86400 + w->from_min * 60;
		if (start + dur * 60 <= local)
			continue;
		t = now + (start - local);
		return t < now ? now : t;
	}
	return FL_ENGINE_NEVER;
}

static void pick_window(const struct fl_runner *r, const struct r_rollout *ro,
			uint32_t dev, int64_t now, struct fl_cmd *cmd)
{
	const struct fl_plan *p = ro->plan;
	const char *dz = fl_engine_device_zone(ro->eng, dev);
	const struct fl_plan_window *best = &p->windows[0];
	int64_t best_t = FL_ENGINE_NEVER, shift;
	const char *bz;

	for (unsigned i = 0; i < p->nwindows; i++) {
		const struct fl_plan_window *w = &p->windows[i];
		int64_t t =
			window_next(r, w, w->is_device_tz ? dz : w->tz, now);

		if (t < best_t) {
			best_t = t;
			best = w;
		}
	}
	if (best_t == FL_ENGINE_NEVER)
		best_t = now;
	bz = best->is_device_tz ? dz : best->tz;
	shift = (zone_offset(r, dz, best_t) - zone_offset(r, bz, best_t)) / 60;
	cmd->window_start_min = (uint16_t)mod(best->from_min + shift, 1440);
	cmd->window_end_min = (uint16_t)mod(best->to_min + shift, 1440);
	/* a whole day ("00:00" to "24:00") has no start and end: now */
	cmd->activate = cmd->window_start_min == cmd->window_end_min
				? FL_ACTIVATE_NOW
				: FL_ACTIVATE_WINDOW;
	if (cmd->activate == FL_ACTIVATE_NOW)
		cmd->window_start_min = cmd->window_end_min = 0;
}

/* The trial window of a device's commands: its stage's soak, else the
 * plan's health soak; 0 (the device's default) when neither is set. */
static uint32_t trial_window_s(struct r_rollout *ro, uint32_t dev)
{
	const struct fl_plan *p = ro->plan;
	struct fl_engine_device d;
	int64_t soak = p->health.soak_s;

	if (fl_engine_device(ro->eng, dev, &d) == 0 && d.stage < p->nstages &&
	    p->stages[d.stage].has_soak)
		soak = p->stages[d.stage].soak_s;
	return soak > UINT32_MAX ? UINT32_MAX : soak > 0 ? (uint32_t)soak : 0;
}

/* ---- encrypted images: the wrapped content key ----------------------------
 */

const char *rcmd_wrap_group(const struct fl_inv_device *d)
{
	for (unsigned i = 0; i < d->nlabels; i++)
		if (strcmp(d->labels[i].key, FL_RUNNER_WRAP_LABEL) == 0 &&
		    d->labels[i].value != NULL && d->labels[i].value[0] != '\0')
			return d->labels[i].value;
	return NULL;
}

bool rcmd_is_sealed(const struct r_rollout *ro)
{
	struct fl_manifest m;

	return ro->env.body_len > 0 &&
	       fl_manifest_body_decode_unverified(
		       &m, ro->env.body, ro->env.body_len, NULL) == 0 &&
	       m.is_sealed;
}

int rcmd_offer_check(struct fl_runner *r, const struct r_rollout *ro,
		     uint32_t dev, char *why, size_t why_cap)
{
	const struct fl_inv_device *d = &ro->inv[dev];
	const char *group;

	if (r->cfg.key.can_wrap == NULL || !rcmd_is_sealed(ro))
		return 0;
	group = rcmd_wrap_group(d);
	if (r->cfg.key.can_wrap(r->cfg.key_ctx, d->id, group) == 0)
		return 0;
	snprintf(why, why_cap,
		 "no_key: the image is encrypted and %s has no wrap key "
		 "(own%s%s%s): fleetd wrapkey add, or encrypt: false",
		 d->id, group != NULL ? " or of its group `" : ", or a label ",
		 group != NULL ? group : FL_RUNNER_WRAP_LABEL "=GROUP",
		 group != NULL ? "`" : "");
	return FL_ENOENT;
}

int rcmd_offer(struct fl_runner *r, struct r_rollout *ro, uint32_t dev,
	       int64_t now, struct fl_cmd *cmd)
{
	const struct fl_plan *p = ro->plan;
	int err = 0;

	memset(cmd, 0, sizeof(*cmd));
	cmd->type = FL_CMD_OFFER;
	cmd->job = ro->mem[dev].offer_job;
	cmd->issued = (uint64_t)now;
	cmd->expires = (uint64_t)(now + r->cfg.offer_ttl_s);
	cmd->manifest = ro->env;
	if (p->device.activate == FL_PLAN_ACTIVATE_IDLE)
		cmd->activate = FL_ACTIVATE_IDLE;
	else if (p->device.activate == FL_PLAN_ACTIVATE_WINDOW &&
		 p->nwindows > 0)
		pick_window(r, ro, dev, now, cmd);
	cmd->health_window_s = trial_window_s(ro, dev);
	for (unsigned i = 0;
	     i < p->health.nmetrics && cmd->n_limits < FL_PROTO_LIMITS_MAX;
	     i++) {
		const struct fl_plan_metric *m = &p->health.metrics[i];
		struct fl_health_limit *l = &cmd->limits[cmd->n_limits];
		size_t n = m->name != NULL ? strlen(m->name) : 0;

		if (n == 0 || n >= sizeof(l->metric) ||
		    (!m->has_min && !m->has_max))
			continue;
		memcpy(l->metric, m->name, n + 1);
		l->has_min = m->has_min;
		l->has_max = m->has_max;
		l->min = m->min;
		l->max = m->max;
		cmd->n_limits++;
	}
	if (r->cfg.key.wrap != NULL && rcmd_is_sealed(ro)) {
		const struct fl_inv_device *d = &ro->inv[dev];
		char why[256] = "";

		err = r->cfg.key.wrap(r->cfg.key_ctx, d->id, rcmd_wrap_group(d),
				      &ro->env, cmd->key, why, sizeof(why));
		cmd->has_key = err == 0;
		if (err != 0)
			runner__log(r, d->id, "rollout %s: offer not sent: %s",
				    ro->name, why);
	}
	return err;
}

void rcmd_cancel(struct r_rollout *ro, uint32_t dev, int64_t now,
		 const struct fl_runner_config *cfg, struct fl_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->type = FL_CMD_CANCEL;
	cmd->job = ro->mem[dev].offer_job;
	cmd->issued = (uint64_t)now;
	cmd->expires = (uint64_t)(now + cfg->offer_ttl_s);
}

void rcmd_rollback(struct r_rollout *ro, uint32_t dev, int64_t now,
		   const struct fl_runner_config *cfg,
		   const struct fl_manifest_env *env, struct fl_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->type = FL_CMD_ROLLBACK;
	cmd->job = ro->mem[dev].rb_job;
	cmd->issued = (uint64_t)now;
	cmd->expires = (uint64_t)(now + cfg->offer_ttl_s);
	cmd->manifest = *env;
	/* The old image's trial is watched as long as the new one's was, not
	 * the device's default: the device is busy until it ends. */
	cmd->health_window_s = trial_window_s(ro, dev);
}

/* ---- rollback images ----------------------------------------------------- */

#define PREV_SCAN_MAX 16 /* rollouts of one version looked at */

struct prev_scan {
	const char *component, *version, *self;
	char sha[PREV_SCAN_MAX][FL_STORE_SHA256_MAX];
	unsigned n;
	uint64_t last_id;
};

static int prev_cb(void *ctx, const struct fl_store_rollout *x)
{
	struct prev_scan *s = ctx;

	s->last_id = x->id;
	if (s->n < PREV_SCAN_MAX && strcmp(x->component, s->component) == 0 &&
	    strcmp(x->version, s->version) == 0 &&
	    strcmp(x->name, s->self) != 0)
		memcpy(s->sha[s->n++], x->artifact_sha256,
		       sizeof(x->artifact_sha256));
	return 0;
}

static bool names_model(const char *envelope, const char *model)
{
	struct fl_manifest_env env;
	struct fl_manifest m;

	if (envelope[0] == '\0')
		return true; /* nothing says otherwise */
	if (fl_manifest_env_decode(&env, envelope, strlen(envelope), NULL) !=
		    0 ||
	    fl_manifest_body_decode_unverified(&m, env.body, env.body_len,
					       NULL) != 0)
		return false;
	for (unsigned i = 0; i < m.n_hardware; i++)
		if (strcmp(m.hardware[i], model) == 0)
			return true;
	return false;
}

/* An image fleetd deployed: *p filled, is_found set or not. */
static int prev_from_artifacts(struct fl_runner *r, const struct r_rollout *ro,
			       struct r_prev *p)
{
	struct prev_scan s;
	struct fl_store_artifact *a = malloc(sizeof(*a));
	int err = 0;

	if (a == NULL)
		return FL_ENOMEM;
	memset(&s, 0, sizeof(s));
	s.component = ro->plan->artifact.component;
	s.version = p->version;
	s.self = ro->name;
	for (;;) {
		uint64_t before = s.last_id;

		err = fl_store_rollout_list(r->st, s.last_id, 100, prev_cb, &s);
		if (err != 0 || s.last_id == before)
			break;
	}
	for (unsigned i = 0; err == 0 && i < s.n && !p->is_found; i++) {
		err = fl_store_artifact_get(r->st, s.sha[i], a);
		if (err == FL_ENOENT) {
			err = 0;
			continue;
		}
		if (err == 0 && names_model(a->manifest, p->model)) {
			p->is_found = true;
			memcpy(p->sha256, a->sha256, sizeof(p->sha256));
			p->length = a->length;
		}
	}
	free(a);
	return err;
}

static bool is_hex64(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* The device's own copy: a confirmed slot of the version whose report
 * names its length and SHA-256. */
static int prev_from_slots(struct fl_runner *r, const char *id,
			   struct r_prev *p)
{
	struct fl_store_device *d = malloc(sizeof(*d));
	const cJSON *slots, *sl;
	cJSON *o = NULL;
	int err;

	if (d == NULL)
		return FL_ENOMEM;
	err = fl_store_device_get(r->st, id, d);
	if (err == FL_ENOENT)
		err = 0;
	else if (err == 0)
		o = cJSON_ParseWithLength(d->reported, strlen(d->reported));
	slots = cJSON_GetObjectItemCaseSensitive(o, "slots");
	cJSON_ArrayForEach(sl, slots)
	{
		const cJSON *v =
			cJSON_GetObjectItemCaseSensitive(sl, "version");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(sl, "state");
		const cJSON *len =
			cJSON_GetObjectItemCaseSensitive(sl, "length");
		const cJSON *sha =
			cJSON_GetObjectItemCaseSensitive(sl, "sha256");

		if (!cJSON_IsString(v) || strcmp(v->valuestring, p->version) ||
		    !cJSON_IsString(st) ||
		    strcmp(st->valuestring, "confirmed") != 0 ||
		    !cJSON_IsNumber(len) || len->valuedouble < 1 ||
		    len->valuedouble > UINT32_MAX || !cJSON_IsString(sha) ||
		    !is_hex64(sha->valuestring))
			continue;
		p->is_found = true;
		p->length = (uint64_t)len->valuedouble;
		memcpy(p->sha256, sha->valuestring, 65);
		break;
	}
	cJSON_Delete(o);
	free(d);
	return err;
}

static struct r_prev *prev_cached(struct r_rollout *ro, const char *version,
				  const char *model)
{
	for (size_t i = 0; i < ro->n_prev; i++)
		if (strcmp(ro->prev[i].version, version) == 0 &&
		    strcmp(ro->prev[i].model, model) == 0)
			return &ro->prev[i];
	return NULL;
}

static int find_prev(struct fl_runner *r, struct r_rollout *ro, uint32_t dev,
		     struct r_prev *out)
{
	const struct fl_inv_device *d = &ro->inv[dev];
	struct r_prev *c = prev_cached(ro, d->version, d->model);
	int err;

	if (c == NULL) {
		struct r_prev p;

		memset(&p, 0, sizeof(p));
		memcpy(p.version, d->version, strlen(d->version) + 1);
		memcpy(p.model, d->model, strlen(d->model) + 1);
		err = prev_from_artifacts(r, ro, &p);
		if (err != 0)
			return err;
		if (ro->n_prev == ro->cap_prev) {
			size_t cap = ro->cap_prev ? ro->cap_prev * 2 : 4;
			struct r_prev *v = realloc(ro->prev, cap * sizeof(*v));

			if (v == NULL)
				return FL_ENOMEM;
			ro->prev = v;
			ro->cap_prev = cap;
		}
		ro->prev[ro->n_prev] = p;
		c = &ro->prev[ro->n_prev++];
	}
	*out = *c;
	if (out->is_found)
		return 0;
	return prev_from_slots(r, d->id, out);
}

/* The image of a manifest sealed before: sealed again once a device's
 * floor reached it. */
static int prev_of_rbm(const struct r_rbm *k, struct r_prev *p)
{
	struct fl_manifest m;

	if (fl_manifest_body_decode_unverified(&m, k->env.body, k->env.body_len,
					       NULL) != 0)
		return FL_EINVAL;
	memset(p, 0, sizeof(*p));
	p->is_found = true;
	memcpy(p->sha256, k->sha256, sizeof(p->sha256));
	p->length = m.length;
	return 0;
}

static void remember(struct r_mem *mem, size_t i)
{
	mem->rbm = i < UINT16_MAX ? (uint16_t)(i + 1) : 0;
}

int rcmd_rollback_manifest(struct fl_runner *r, struct r_rollout *ro,
			   uint32_t dev, int64_t now, bool seal,
			   struct fl_manifest_env *env, char *why,
			   size_t why_cap)
{
	const struct fl_inv_device *d = &ro->inv[dev];
	struct r_mem *mem = &ro->mem[dev];
	uint64_t floor = r->devs[mem->gdev].floor;
	/* the manifest this device was given: its slots may no longer
	 * describe the image (it went back on its own, or it took the
	 * command and its status is on its way) */
	const struct r_rbm *k = mem->rbm != 0 && mem->rbm <= ro->n_rbm
					? &ro->rbm[mem->rbm - 1]
					: NULL;
	struct fl_manifest m;
	struct r_prev p;
	size_t n;
	int err;

	if (d->version == NULL || d->model == NULL ||
	    strlen(d->version) >= sizeof(m.version) ||
	    strlen(d->model) >= sizeof(m.hardware[0])) {
		snprintf(why, why_cap,
			 "no rollback: the version it ran before is unknown");
		return FL_ENOENT;
	}
	if (k != NULL && k->seq > floor) {
		*env = k->env;
		return 0;
	}
	if (k != NULL && !seal)
		return FL_ESTATE;
	err = k != NULL ? prev_of_rbm(k, &p) : find_prev(r, ro, dev, &p);
	if (err != 0)
		return err;
	if (!p.is_found) {
		snprintf(why, why_cap,
			 "no rollback: no image of %s %s for %s, neither "
			 "deployed by fleetd nor described in its slots",
			 ro->plan->artifact.component, d->version, d->model);
		return FL_ENOENT;
	}
	for (size_t i = ro->n_rbm; i-- > 0;) {
		const struct r_rbm *x = &ro->rbm[i];

		if (strcmp(x->sha256, p.sha256) == 0 &&
		    strcmp(x->model, d->model) == 0 && x->seq > floor) {
			*env = x->env;
			remember(mem, i);
			return 0;
		}
	}
	if (!seal)
		return FL_ESTATE;
	memset(&m, 0, sizeof(m));
	m.v = FL_MANIFEST_BODY_VERSION;
	n = strlen(ro->plan->artifact.component);
	if (n >= sizeof(m.component))
		return FL_EINVAL;
	memcpy(m.component, ro->plan->artifact.component, n + 1);
	memcpy(m.version, d->version, strlen(d->version) + 1);
	m.n_hardware = 1;
	memcpy(m.hardware[0], d->model, strlen(d->model) + 1);
	if (p.length > UINT32_MAX)
		return FL_ETOOBIG;
	m.length = (uint32_t)p.length;
	err = fl_hex_decode(m.sha256, sizeof(m.sha256), p.sha256, 64);
	if (err != 0)
		return err;
	if ((size_t)snprintf(m.url, sizeof(m.url), "%s%s", r->cfg.artifact_url,
			     p.sha256) >= sizeof(m.url))
		return FL_ETOOBIG;
	m.issued = (uint64_t)now;
	m.expires = (uint64_t)(now + r->cfg.manifest_ttl_s);
	m.is_rollback = true;
	if (ro->n_rbm == ro->cap_rbm) {
		size_t cap = ro->cap_rbm ? ro->cap_rbm * 2 : 4;
		struct r_rbm *v = realloc(ro->rbm, cap * sizeof(*v));

		if (v == NULL)
			return FL_ENOMEM;
		ro->rbm = v;
		ro->cap_rbm = cap;
	}
	err = rcmd_seal(r, &m, env);
	if (err != 0)
		return err;
	{
		struct r_rbm *x = &ro->rbm[ro->n_rbm++];

		memset(x, 0, sizeof(*x));
		memcpy(x->sha256, p.sha256, sizeof(x->sha256));
		memcpy(x->model, d->model, strlen(d->model) + 1);
		x->seq = m.seq;
		x->env = *env;
		remember(mem, ro->n_rbm - 1);
	}
	return 0;
}
