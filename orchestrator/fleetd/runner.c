/*
 * runner.c -- fleetd's core: the inventory mirror, device messages turned
 * into engine events, the tick that steps every rollout and carries out
 * its decisions, and the rebuilding of rollouts from their logs (the
 * operator's side is in runner_api.c).
 *
 * Method: every engine call is logged (runner_log.c) and the log is the
 * only truth an engine is rebuilt from. Three paths write it:
 *   - device messages are queued with the input events they carry (one
 *     report per event: a message that concerns several rollouts adds
 *     "seen" reports for the others) and written in batches; the events
 *     are applied to the engines only once their batch has committed, in
 *     queue order, so the order of application is the order of the log;
 *   - operator actions and rollout starts flush the queue first, then
 *     apply, log and commit in one transaction;
 *   - fl_runner_tick flushes the queue, then in ONE transaction appends
 *     new devices, steps every rollout that has news or a wake-up due,
 *     records each decision with its job (fl_store_job_create) and the
 *     member, stage and rollout rows, commits, and only then sends.
 * When a transaction fails after an engine has moved (a step's decisions
 * are already applied to it), that engine is ahead of its log: it is
 * marked broken and rebuilt by replaying the log, and nothing it decided
 * is sent (the owed commands live in the state the replay rebuilds).
 *
 * What devices are owed: each member has at most one unanswered offer,
 * cancel or rollback; it is sent after the decision commits, re-sent every
 * resend_s with the same job id while unanswered (and at once when the
 * device comes back online), and an offer waits while the device's
 * reported job is updating or in trial (protocol, server rules). A
 * command whose job the device already holds (its latest status of that
 * job is in progress: not final, not retry_later) is not re-sent at once,
 * neither on a reconnect nor when the engine decides it again (a rollback
 * is decided again when its device comes back without a result, typically
 * after the reboot into the old slot): it is due resend_s after the
 * device's last status of the job. "Holds" is read from the job's
 * latest status, which the store keeps, so it survives a restart (the
 * replay's owed commands are timed by it too); a device that answers
 * retry_later or a final result (stale, a refusal) does not hold it.
 *
 * Ordering of reports: the runner mirrors the store's rules (a job's
 * status is applied when its (boot, n) is newer and the job has no final
 * result; a presence when its (boot, conn) is not older) so that an event
 * reaches an engine exactly when the store applies the report.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl/err.h"
#include "runner_priv.h"

/* ---- small things -------------------------------------------------------- */

void runner__log(struct fl_runner *r, const char *device, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (r->cfg.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->cfg.log(r->cfg.log_ctx, device, msg);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

/* ---- devices ------------------------------------------------------------- */

static int dev_ix_grow(struct fl_runner *r)
{
	size_t cap = r->dev_ix_cap ? r->dev_ix_cap * 2 : 1024;
	uint32_t *ix = calloc(cap, sizeof(*ix));

	if (ix == NULL)
		return FL_ENOMEM;
	for (size_t i = 0; i < r->n_devs; i++) {
		size_t h = hash_str(r->devs[i].id) & (cap - 1);

		while (ix[h] != 0)
			h = (h + 1) & (cap - 1);
		ix[h] = (uint32_t)i + 1;
	}
	free(r->dev_ix);
	r->dev_ix = ix;
	r->dev_ix_cap = cap;
	return 0;
}

struct r_dev *runner__dev(struct fl_runner *r, const char *id, bool add,
			  uint32_t *index)
{
	size_t h, len = strlen(id);
	struct r_dev *d;

	if (r->dev_ix_cap > 0) {
		h = hash_str(id) & (r->dev_ix_cap - 1);
		while (r->dev_ix[h] != 0) {
			d = &r->devs[r->dev_ix[h] - 1];
			if (strcmp(d->id, id) == 0) {
				if (index != NULL)
					*index = r->dev_ix[h] - 1;
				return d;
			}
			h = (h + 1) & (r->dev_ix_cap - 1);
		}
	}
	if (!add || len == 0 || len >= FL_DEVICE_ID_MAX ||
	    r->n_devs >= R_MAX_DEVICES)
		return NULL;
	if ((r->n_devs + 1) * 2 > r->dev_ix_cap && dev_ix_grow(r) != 0)
		return NULL;
	if (r->n_devs == r->cap_devs) {
		size_t cap = r->cap_devs ? r->cap_devs * 2 : 256;
		struct r_dev *v = realloc(r->devs, cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		r->devs = v;
		r->cap_devs = cap;
	}
	d = &r->devs[r->n_devs];
	memset(d, 0, sizeof(*d));
	memcpy(d->id, id, len + 1);
	h = hash_str(id) & (r->dev_ix_cap - 1);
	while (r->dev_ix[h] != 0)
		h = (h + 1) & (r->dev_ix_cap - 1);
	r->dev_ix[h] = (uint32_t)r->n_devs + 1;
	if (index != NULL)
		*index = (uint32_t)r->n_devs;
	r->n_devs++;
	return d;
}

static void note_floor(struct fl_runner *r, struct r_dev *d, uint64_t floor)
{
	d->floor = floor;
	if (floor > r->max_floor)
		r->max_floor = floor;
}

static int fresh_push(struct fl_runner *r, uint32_t gdev)
{
	if (r->n_fresh == r->cap_fresh) {
		size_t cap = r->cap_fresh ? r->cap_fresh * 2 : 64;
		uint32_t *v = realloc(r->fresh, cap * sizeof(*v));

		if (v == NULL)
			return FL_ENOMEM;
		r->fresh = v;
		r->cap_fresh = cap;
	}
	r->fresh[r->n_fresh++] = gdev;
	return 0;
}

/* ---- inventories --------------------------------------------------------- */

struct r_chunk {
	struct r_chunk *next;
	size_t cap;
	max_align_t data[];
};

static void *pool_alloc(struct r_pool *p, size_t n)
{
	void *v;

	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (p->head == NULL || p->used + n > p->cap) {
		size_t cap = n > R_POOL_CHUNK ? n : R_POOL_CHUNK;
		struct r_chunk *c = malloc(sizeof(*c) + cap);

		if (c == NULL)
			return NULL;
		c->next = p->head;
		c->cap = cap;
		p->head = c;
		p->used = 0;
		p->cap = cap;
	}
	v = (char *)p->head->data + p->used;
	p->used += n;
	return v;
}

static void pool_free(struct r_pool *p)
{
	while (p->head != NULL) {
		struct r_chunk *c = p->head;

		p->head = c->next;
		free(c);
	}
	p->used = p->cap = 0;
}

static const char *pool_str(struct r_pool *p, const char *s, bool *ok)
{
	size_t n;
	char *v;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	v = pool_alloc(p, n + 1);
	if (v == NULL) {
		*ok = false;
		return NULL;
	}
	memcpy(v, s, n + 1);
	return v;
}

static void jobm_reset(struct r_jobm *j)
{
	memset(j, 0, sizeof(*j));
	j->at = -1;
	j->phase = -1;
}

/* The device holds the job: its latest status of it says the job is
 * taken and in progress (not final, not retry_later), which the device
 * persisted before it said so (protocol, device state). */
static bool jobm_is_held(const struct r_jobm *j)
{
	return j->phase >= 0 && !j->is_final && j->result == FL_RESULT_NONE;
}

/* When a command the device holds is due again: resend_s after its last
 * status of that job (the safety net for a device that never finishes),
 * not before now. */
static int64_t held_due(const struct fl_runner *r, const struct r_jobm *j,
			int64_t now)
{
	int64_t t = j->at + (int64_t)r->cfg.resend_s;

	return t > now ? t : now;
}

/* The command a member is owed next is one its device already holds. */
static bool owed_is_held(const struct r_mem *m)
{
	if (m->owe & OWE_RB)
		return jobm_is_held(&m->rb);
	if (m->owe & OWE_CANCEL)
		return false; /* answered only by a final or too_late status */
	return (m->owe & OWE_OFFER) && jobm_is_held(&m->offer);
}

int runner__inv_add(struct r_rollout *ro, const struct fl_inv_device *d,
		    uint32_t gdev)
{
	struct fl_inv_device *e;
	struct fl_inv_label *labels = NULL;
	struct r_mem *m;
	bool ok = true;

	if (ro->n_inv >= R_MAX_DEVICES)
		return FL_ETOOBIG;
	if (ro->n_inv == ro->cap_inv) {
		size_t cap = ro->cap_inv ? ro->cap_inv * 2 : 64;
		struct fl_inv_device *v = realloc(ro->inv, cap * sizeof(*v));
		struct r_mem *w;

		if (v == NULL)
			return FL_ENOMEM;
		ro->inv = v;
		w = realloc(ro->mem, cap * sizeof(*w));
		if (w == NULL)
			return FL_ENOMEM;
		ro->mem = w;
		ro->cap_inv = cap;
	}
	if (d->nlabels > 0) {
		labels = pool_alloc(&ro->pool, d->nlabels * sizeof(*labels));
		if (labels == NULL)
			return FL_ENOMEM;
		for (unsigned i = 0; i < d->nlabels; i++) {
			labels[i].key =
				pool_str(&ro->pool, d->labels[i].key, &ok);
			labels[i].value =
				pool_str(&ro->pool, d->labels[i].value, &ok);
		}
	}
	e = &ro->inv[ro->n_inv];
	memset(e, 0, sizeof(*e));
	e->id = pool_str(&ro->pool, d->id, &ok);
	e->model = pool_str(&ro->pool, d->model, &ok);
	e->tz = pool_str(&ro->pool, d->tz, &ok);
	e->version = pool_str(&ro->pool, d->version, &ok);
	e->labels = labels;
	e->nlabels = d->nlabels;
	e->is_online = d->is_online;
	if (!ok)
		return FL_ENOMEM;
	m = &ro->mem[ro->n_inv];
	memset(m, 0, sizeof(*m));
	m->gdev = gdev;
	jobm_reset(&m->offer);
	jobm_reset(&m->rb);
	m->offer_at = m->cancel_at = m->rb_at = -1;
	ro->n_inv++;
	return 0;
}

/* The engine's entry for a device as the store has it: labels of both
 * origins, the server's winning a key both have. */
int runner__inv_from_store(struct r_rollout *ro,
			   const struct fl_store_device *s, uint32_t gdev)
{
	struct fl_inv_label labels[FL_STORE_LABELS];
	struct fl_inv_device d;

	memset(&d, 0, sizeof(d));
	d.id = s->id;
	d.model = s->model[0] != '\0' ? s->model : NULL;
	d.tz = s->tz[0] != '\0' ? s->tz : NULL;
	for (unsigned i = 0; i < s->n_components; i++)
		if (strcmp(s->components[i].name,
			   ro->plan->artifact.component) == 0)
			d.version = s->components[i].version;
	for (unsigned i = 0; i < s->n_labels; i++) {
		const struct fl_store_label *l = &s->labels[i];
		bool shadowed = false;

		for (unsigned k = 0; !l->is_server && k < s->n_labels; k++)
			if (s->labels[k].is_server &&
			    strcmp(s->labels[k].key, l->key) == 0)
				shadowed = true;
		if (shadowed)
			continue;
		labels[d.nlabels].key = l->key;
		labels[d.nlabels++].value = l->value;
	}
	d.labels = labels;
	d.is_online = s->is_online ? 1 : 0;
	return runner__inv_add(ro, &d, gdev);
}

/* ---- jobs ---------------------------------------------------------------- */

static size_t job_slot(uint32_t job, size_t cap)
{
	return (size_t)((job * 2654435761u) & (cap - 1));
}

static int jobs_grow(struct fl_runner *r)
{
	size_t cap = r->jobs_cap ? r->jobs_cap * 2 : 1024;
	struct r_job *v = calloc(cap, sizeof(*v));

	if (v == NULL)
		return FL_ENOMEM;
	for (size_t i = 0; i < r->jobs_cap; i++) {
		size_t h;

		if (r->jobs[i].job == 0)
			continue;
		h = job_slot(r->jobs[i].job, cap);
		while (v[h].job != 0)
			h = (h + 1) & (cap - 1);
		v[h] = r->jobs[i];
	}
	free(r->jobs);
	r->jobs = v;
	r->jobs_cap = cap;
	return 0;
}

int runner__job_put(struct fl_runner *r, uint32_t job, struct r_rollout *ro,
		    uint32_t dev)
{
	size_t h;

	if (job == 0)
		return 0;
	if ((r->n_jobs + 1) * 2 > r->jobs_cap && jobs_grow(r) != 0)
		return FL_ENOMEM;
	h = job_slot(job, r->jobs_cap);
	while (r->jobs[h].job != 0 && r->jobs[h].job != job)
		h = (h + 1) & (r->jobs_cap - 1);
	if (r->jobs[h].job == 0)
		r->n_jobs++;
	r->jobs[h].job = job;
	r->jobs[h].ro = ro;
	r->jobs[h].dev = dev;
	return 0;
}

static struct r_job *job_find(struct fl_runner *r, uint32_t job)
{
	size_t h;

	if (r->jobs_cap == 0 || job == 0)
		return NULL;
	h = job_slot(job, r->jobs_cap);
	while (r->jobs[h].job != 0) {
		if (r->jobs[h].job == job)
			return &r->jobs[h];
		h = (h + 1) & (r->jobs_cap - 1);
	}
	return NULL;
}

/* After a rollout was rebuilt: the index again from every member. */
static int jobs_rebuild(struct fl_runner *r)
{
	int err = 0;

	if (r->jobs_cap > 0)
		memset(r->jobs, 0, r->jobs_cap * sizeof(*r->jobs));
	r->n_jobs = 0;
	for (size_t i = 0; i < r->n_ro; i++) {
		struct r_rollout *ro = r->ro[i];

		for (size_t k = 0; err == 0 && k < ro->n_inv; k++) {
			err = runner__job_put(r, ro->mem[k].offer_job, ro,
					      (uint32_t)k);
			if (err == 0)
				err = runner__job_put(r, ro->mem[k].rb_job, ro,
						      (uint32_t)k);
		}
	}
	return err;
}

/* ---- what decisions do to the runner ------------------------------------- */

void runner__owe(struct r_rollout *ro, uint32_t dev, int64_t at)
{
	struct r_mem *m = &ro->mem[dev];

	m->next_send = at;
	if (m->in_owe)
		return;
	if (ro->n_owe == ro->cap_owe) {
		size_t cap = ro->cap_owe ? ro->cap_owe * 2 : 64;
		uint32_t *v = realloc(ro->owe, cap * sizeof(*v));

		if (v == NULL)
			return; /* re-sent once the list has room */
		ro->owe = v;
		ro->cap_owe = cap;
	}
	ro->owe[ro->n_owe++] = dev;
	m->in_owe = 1;
}

void runner__effects(struct fl_runner *r, struct r_rollout *ro,
		     const struct fl_decision *d, uint32_t job)
{
	struct r_mem *m = d->dev < ro->n_inv ? &ro->mem[d->dev] : NULL;

	switch (d->kind) {
	case FL_DEC_OFFER:
		if (m == NULL || job == 0)
			break; /* refused: no wrap key (rcmd_offer_check) */
		if (job != m->offer_job) {
			m->offer_job = job;
			jobm_reset(&m->offer);
			(void)runner__job_put(r, job, ro, d->dev);
		}
		m->offer_at = d->at_s;
		m->owe |= OWE_OFFER;
		runner__owe(ro, d->dev, d->at_s);
		break;
	case FL_DEC_CANCEL:
		if (m == NULL || m->offer_job == 0)
			break;
		m->cancel_at = d->at_s;
		m->owe = (uint8_t)((m->owe & ~OWE_OFFER) | OWE_CANCEL);
		runner__owe(ro, d->dev, d->at_s);
		break;
	case FL_DEC_ROLLBACK_DEVICE:
		if (m == NULL || job == 0)
			break; /* refused: no image */
		if (job != m->rb_job) {
			m->rb_job = job;
			jobm_reset(&m->rb);
			(void)runner__job_put(r, job, ro, d->dev);
		}
		m->rb_at = d->at_s;
		m->owe = (uint8_t)((m->owe & ~(OWE_OFFER | OWE_CANCEL)) |
				   OWE_RB);
		/* decided again (the device came back without a result): a
		 * job it holds is not sent again at once */
		runner__owe(ro, d->dev,
			    jobm_is_held(&m->rb) ? held_due(r, &m->rb, d->at_s)
						 : d->at_s);
		break;
	case FL_DEC_WAIT:
		if (d->why < FL_WHY_HOLD || d->why > FL_WHY_RATE)
			break;
		ro->waits[d->why].why = d->why;
		ro->waits[d->why].stage = d->stage;
		ro->waits[d->why].hold =
			d->why == FL_WHY_HOLD ? (int16_t)d->ref : -1;
		ro->waits[d->why].until_s = d->until_s;
		break;
	case FL_DEC_PAUSED: ro->paused_why = d->why; break;
	case FL_DEC_ROLLBACK_STARTED:
		ro->rb_started = d->at_s;
		ro->rb_why = d->why;
		ro->rb_stage = d->stage;
		ro->rb_requested = false;
		break;
	case FL_DEC_CANCELLED: ro->cancel_requested = false; break;
	default: break;
	}
}

/* ---- rollouts: life cycle ------------------------------------------------ */

/* Everything the log rebuilds; name, plan, artifact stay. */
static void rollout_reset(struct r_rollout *ro)
{
	fl_engine_free(ro->eng);
	ro->eng = NULL;
	free(ro->inv);
	free(ro->mem);
	ro->inv = NULL;
	ro->mem = NULL;
	ro->n_inv = ro->n_synced = ro->cap_inv = 0;
	pool_free(&ro->pool);
	free(ro->owe);
	ro->owe = NULL;
	ro->n_owe = ro->cap_owe = 0;
	free(ro->rbm);
	ro->rbm = NULL;
	ro->n_rbm = ro->cap_rbm = 0;
	free(ro->prev);
	ro->prev = NULL;
	ro->n_prev = ro->cap_prev = 0;
	memset(&ro->env, 0, sizeof(ro->env));
	ro->seq = 0;
	ro->is_dirty = false;
	ro->next_wake = FL_ENGINE_NEVER;
	memset(ro->waits, 0, sizeof(ro->waits));
	ro->paused_why = FL_WHY_OPERATOR;
	ro->rb_started = -1;
	ro->rb_why = 0;
	ro->rb_stage = FL_ENGINE_NO_STAGE;
	ro->rb_requested = ro->cancel_requested = false;
}

void runner__rollout_free(struct r_rollout *ro)
{
	if (ro == NULL)
		return;
	rollout_reset(ro);
	fl_plan_free(ro->plan);
	free(ro);
}

struct r_rollout *runner__rollout_new(const char *name, const char *sha,
				      uint64_t length)
{
	struct r_rollout *ro = calloc(1, sizeof(*ro));

	if (ro == NULL)
		return NULL;
	runner__copy(ro->name, sizeof(ro->name), name);
	runner__copy(ro->sha256, sizeof(ro->sha256), sha);
	ro->length = length;
	rollout_reset(ro);
	return ro;
}

struct r_rollout *runner__rollout_find(struct fl_runner *r, const char *name)
{
	for (size_t i = 0; i < r->n_ro; i++)
		if (strcmp(r->ro[i]->name, name) == 0)
			return r->ro[i];
	return NULL;
}

int runner__rollout_add(struct fl_runner *r, struct r_rollout *ro)
{
	if (r->n_ro == r->cap_ro) {
		size_t cap = r->cap_ro ? r->cap_ro * 2 : 8;
		struct r_rollout **v = realloc(r->ro, cap * sizeof(*v));

		if (v == NULL)
			return FL_ENOMEM;
		r->ro = v;
		r->cap_ro = cap;
	}
	r->ro[r->n_ro++] = ro;
	return 0;
}

static void jobm_from_store(struct r_jobm *j, const struct fl_store_job *s)
{
	jobm_reset(j);
	j->phase = s->phase;
	if (s->phase < 0)
		return;
	j->boot = s->status_boot;
	j->n = s->status_n;
	j->at = s->updated_at_s;
	j->result = s->result;
	j->is_final = s->is_final;
}

static int load_jobs(struct fl_runner *r, struct r_rollout *ro)
{
	struct fl_store_job j;
	int err = 0;

	for (size_t k = 0; err == 0 && k < ro->n_inv; k++) {
		struct r_mem *m = &ro->mem[k];
		bool too_late = false;

		if (m->offer_job != 0) {
			err = fl_store_job_get(r->st, m->offer_job, &j);
			if (err != 0)
				break;
			jobm_from_store(&m->offer, &j);
			too_late = strcmp(j.reason, "too_late_to_cancel") == 0;
		}
		if (m->rb_job != 0) {
			err = fl_store_job_get(r->st, m->rb_job, &j);
			if (err != 0)
				break;
			jobm_from_store(&m->rb, &j);
		}
		/* answered since it was decided? */
		if ((m->owe & OWE_OFFER) &&
		    (m->offer.is_final || m->offer.at > m->offer_at))
			m->owe &= (uint8_t)~OWE_OFFER;
		if ((m->owe & OWE_CANCEL) &&
		    (m->offer.is_final ||
		     (too_late && m->offer.at > m->cancel_at)))
			m->owe &= (uint8_t)~OWE_CANCEL;
		if ((m->owe & OWE_RB) &&
		    (m->rb.is_final || m->rb.at > m->rb_at))
			m->owe &= (uint8_t)~OWE_RB;
		/* still owed, and held by the device (the store's statuses
		 * say so): due resend_s after its last status of the job;
		 * when it was last sent is not kept, so one already due is
		 * sent once */
		if (owed_is_held(m))
			m->next_send = held_due(
				r, (m->owe & OWE_RB) ? &m->rb : &m->offer,
				m->next_send);
	}
	return err;
}

struct rows_ctx {
	struct r_rollout *ro;
	uint64_t last_key;
	unsigned n;
};

static int rows_cb(void *ctx, const struct fl_store_member *x)
{
	struct rows_ctx *c = ctx;
	struct r_mem *m;
	uint32_t dev;

	c->last_key = x->device_key;
	c->n++;
	if (fl_engine_lookup(c->ro->eng, x->device, &dev) != 0)
		return 0;
	m = &c->ro->mem[dev];
	m->has_row = 1;
	m->stage = x->stage;
	m->st = x->status;
	m->prog = x->progress;
	m->rbs = x->rollback;
	m->reason = x->fail_reason;
	m->offered = x->offered_at_s;
	m->committed = x->committed_at_s;
	return 0;
}

/* What the store holds of a rollout: its rows, so that only changes are
 * written. */
static int load_rows(struct fl_runner *r, struct r_rollout *ro)
{
	struct fl_store_rollout *x = malloc(sizeof(*x));
	struct rows_ctx c = {ro, 0, 0};
	int err;

	if (x == NULL)
		return FL_ENOMEM;
	err = fl_store_rollout_get(r->st, ro->name, x);
	if (err == 0) {
		ro->row_state = x->state;
		ro->row_paused = x->is_paused;
		ro->row_ended = x->ended_at_s != FL_STORE_NONE;
		for (unsigned k = 0; k < x->n_stages && k < FL_PLAN_MAX_STAGES;
		     k++) {
			ro->stage_rows[k].state = x->stages[k].state;
			ro->stage_rows[k].is_overridden =
				x->stages[k].is_overridden;
			ro->stage_rows[k].started = x->stages[k].started_at_s;
			ro->stage_rows[k].ended = x->stages[k].ended_at_s;
		}
	}
	free(x);
	while (err == 0) {
		c.n = 0;
		err = fl_store_member_list(r->st, ro->name, NULL, c.last_key,
					   1000, rows_cb, &c);
		if (c.n < 1000)
			break;
	}
	return err;
}

/* Replays ro's log and reloads what the store says of its jobs and rows. */
static int rollout_restore(struct fl_runner *r, struct r_rollout *ro)
{
	int err;

	rollout_reset(ro);
	err = rlog_replay(r, ro);
	if (err == 0)
		err = load_jobs(r, ro);
	if (err == 0)
		err = load_rows(r, ro);
	if (err != 0) {
		rollout_reset(ro);
		ro->is_broken = true;
		return err;
	}
	ro->is_broken = false;
	return 0;
}

int runner__rebuild(struct fl_runner *r, struct r_rollout *ro)
{
	int err = rollout_restore(r, ro);

	if (err != 0)
		runner__log(r, NULL,
			    "rollout %s: cannot rebuild from the log: "
			    "%s (%s)",
			    ro->name, fl_strerror(err), fl_store_errmsg(r->st));
	if (jobs_rebuild(r) != 0 && err == 0)
		err = FL_ENOMEM;
	return err;
}

/* The plan text of a stored rollout, in a buffer of the caller's (free). */
static int read_plan(struct fl_runner *r, const char *name, char **text,
		     size_t *len)
{
	char probe[1];
	int err = fl_store_rollout_plan(r->st, name, probe, sizeof(probe), len);

	*text = NULL;
	if (err != 0 && err != FL_ETOOBIG)
		return err;
	*text = malloc(*len + 1);
	if (*text == NULL)
		return FL_ENOMEM;
	return fl_store_rollout_plan(r->st, name, *text, *len + 1, len);
}

int runner__parse_plan(struct fl_runner *r, const char *text, size_t len,
		       const char *file, uint64_t length, struct fl_plan **plan)
{
	struct fl_plan_parse_opts opts = {1, length};

	return fl_plan_parse_opts(text, len, file, &opts, plan, &r->diags);
}

/* The plan of a stored rollout, parsed as at its start. */
int runner__stored_plan(struct fl_runner *r, const char *name, const char *sha,
			uint64_t *length, struct fl_plan **plan)
{
	struct fl_store_artifact *a = malloc(sizeof(*a));
	char *text = NULL;
	size_t len = 0;
	int err;

	*plan = NULL;
	if (a == NULL)
		return FL_ENOMEM;
	err = fl_store_artifact_get(r->st, sha, a);
	if (err == 0 && length != NULL)
		*length = a->length;
	if (err == 0)
		err = read_plan(r, name, &text, &len);
	if (err == 0 &&
	    runner__parse_plan(r, text, len, name, a->length, plan) != 0) {
		runner__log(r, NULL, "rollout %s: its plan no longer parses",
			    name);
		err = FL_ECORRUPT;
	}
	free(text);
	free(a);
	return err;
}

/* A rollout of the store, rebuilt from its log. */
static int rollout_load(struct fl_runner *r, const char *name, const char *sha)
{
	struct r_rollout *ro = runner__rollout_new(name, sha, 0);
	int err;

	if (ro == NULL)
		return FL_ENOMEM;
	err = runner__stored_plan(r, name, sha, &ro->length, &ro->plan);
	if (err == 0)
		err = rollout_restore(r, ro);
	if (err == 0)
		err = runner__rollout_add(r, ro);
	if (err != 0)
		runner__rollout_free(ro);
	return err;
}

/* ---- open, free ---------------------------------------------------------- */

static int devs_cb(void *ctx, const struct fl_store_device *s)
{
	struct fl_runner *r = ctx;
	struct r_dev *d = runner__dev(r, s->id, true, NULL);

	if (d == NULL)
		return FL_ENOMEM;
	d->has_presence = s->first_seen_s != FL_STORE_NONE;
	d->is_online = s->is_online;
	d->p_boot = s->presence_boot;
	d->p_conn = s->presence_conn;
	d->has_reported = s->reported_at_s != FL_STORE_NONE;
	d->job = s->job;
	d->job_state = s->job_state;
	note_floor(r, d, s->floor);
	return 0;
}

struct ro_list {
	char (*name)[FL_STORE_NAME_MAX];
	char (*sha)[FL_STORE_SHA256_MAX];
	bool *is_rolled_back;
	size_t n, cap;
	uint64_t last_id;
	unsigned seen;
};

static int ros_cb(void *ctx, const struct fl_store_rollout *x)
{
	struct ro_list *l = ctx;

	l->last_id = x->id;
	l->seen++;
	if (x->started_at_s == FL_STORE_NONE)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		void *a = realloc(l->name, cap * sizeof(*l->name));

		if (a == NULL)
			return FL_ENOMEM;
		l->name = a;
		a = realloc(l->sha, cap * sizeof(*l->sha));
		if (a == NULL)
			return FL_ENOMEM;
		l->sha = a;
		a = realloc(l->is_rolled_back, cap * sizeof(bool));
		if (a == NULL)
			return FL_ENOMEM;
		l->is_rolled_back = a;
		l->cap = cap;
	}
	l->is_rolled_back[l->n] = x->state == FL_ROLLOUT_ROLLED_BACK;
	memcpy(l->name[l->n], x->name, sizeof(x->name));
	memcpy(l->sha[l->n++], x->artifact_sha256, sizeof(x->artifact_sha256));
	return 0;
}

struct owed {
	bool is_owed;
	uint64_t last_key;
	unsigned seen;
};

static int owed_cb(void *ctx, const struct fl_store_member *m)
{
	struct owed *o = ctx;

	o->last_key = m->device_key;
	o->seen++;
	if (m->rollback == FL_RB_SENT || m->rollback == FL_RB_UNREACHED)
		o->is_owed = true;
	return 0;
}

/* Whether a rolled back rollout still waits for a device's rollback
 * result (a device away when it ended): then it is rebuilt like an
 * active one, so that the device is sent its rollback again when it
 * returns and its late result is recorded. The member rows say so. */
static int rollback_owed(struct fl_runner *r, const char *name, bool *owed)
{
	struct owed o;
	int err;

	memset(&o, 0, sizeof(o));
	do {
		o.seen = 0;
		err = fl_store_member_list(r->st, name, NULL, o.last_key, 1000,
					   owed_cb, &o);
	} while (err == 0 && !o.is_owed && o.seen == 1000);
	*owed = o.is_owed;
	return err;
}

static int load_all(struct fl_runner *r)
{
	struct ro_list l;
	char after[FL_STORE_ID_MAX] = "";
	int err = 0;

	/* devices, by pages in id order */
	for (;;) {
		size_t before = r->n_devs;

		err = fl_store_device_list(r->st, NULL, after, 1000, devs_cb,
					   r);
		if (err != 0 || r->n_devs == before)
			break;
		runner__copy(after, sizeof(after), r->devs[r->n_devs - 1].id);
		if (r->n_devs - before < 1000)
			break;
	}
	if (err != 0)
		return err;
	memset(&l, 0, sizeof(l));
	do {
		l.seen = 0;
		err = fl_store_rollout_list(r->st, l.last_id, 100, ros_cb, &l);
	} while (err == 0 && l.seen == 100);
	for (size_t i = 0; err == 0 && i < l.n; i++) {
		bool owed = true;

		if (l.is_rolled_back[i])
			err = rollback_owed(r, l.name[i], &owed);
		if (err == 0 && owed)
			err = rollout_load(r, l.name[i], l.sha[i]);
	}
	if (err == 0)
		err = jobs_rebuild(r);
	/* a device whose first report came just before a stop joins the
	 * running rollouts at the first tick, as it would have */
	for (size_t i = 0; err == 0 && i < r->n_devs; i++) {
		struct r_dev *d = &r->devs[i];

		for (size_t k = 0; d->has_reported && !d->is_new && k < r->n_ro;
		     k++) {
			struct fl_engine_status st;
			uint32_t dev;

			fl_engine_status(r->ro[k]->eng, &st);
			if (st.state != FL_ROLLOUT_RUNNING ||
			    fl_engine_lookup(r->ro[k]->eng, d->id, &dev) == 0)
				continue;
			err = fresh_push(r, (uint32_t)i);
			d->is_new = err == 0;
		}
	}
	free(l.name);
	free(l.sha);
	free(l.is_rolled_back);
	return err;
}

void fl_runner_free(struct fl_runner *r)
{
	if (r == NULL)
		return;
	/* a clean stop keeps the reports received: the next open replays
	 * the events they carry */
	if (r->q != NULL && fl_store_queue_len(r->q) > 0 &&
	    fl_store_queue_flush(r->st, r->q, NULL) != 0)
		runner__log(r, NULL, "%zu reports lost at stop: %s",
			    fl_store_queue_len(r->q), fl_store_errmsg(r->st));
	for (size_t i = 0; i < r->n_ro; i++)
		runner__rollout_free(r->ro[i]);
	free(r->ro);
	free(r->devs);
	free(r->dev_ix);
	free(r->fresh);
	free(r->jobs);
	fl_store_queue_free(r->q);
	free(r->pend);
	fl_plan_free(r->view_plan);
	free(r);
}

int fl_runner_open(struct fl_runner **out, const struct fl_runner_config *cfg,
		   int64_t now_s)
{
	struct fl_runner *r;
	int err;

	(void)now_s;
	if (out == NULL)
		return FL_EINVAL;
	*out = NULL;
	if (cfg == NULL || cfg->store == NULL || cfg->cmd.send == NULL ||
	    cfg->sign.seal == NULL || cfg->artifact_url == NULL ||
	    cfg->artifact_url[0] == '\0' ||
	    strlen(cfg->artifact_url) + 64 >= FL_MANIFEST_URL_MAX ||
	    cfg->report_batch > FL_STORE_PAGE_MAX)
		return FL_EINVAL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return FL_ENOMEM;
	r->cfg = *cfg;
	r->st = cfg->store;
	if (r->cfg.offer_ttl_s == 0)
		r->cfg.offer_ttl_s = 86400;
	if (r->cfg.resend_s == 0)
		r->cfg.resend_s = 300;
	if (r->cfg.report_batch == 0)
		r->cfg.report_batch = 512;
	if (r->cfg.report_flush_ms == 0)
		r->cfg.report_flush_ms = 50;
	if (r->cfg.manifest_ttl_s == 0)
		r->cfg.manifest_ttl_s = 365 * 86400;
	r->cap_pend = r->cfg.report_batch;
	r->pend = malloc(r->cap_pend * sizeof(*r->pend));
	err = r->pend == NULL
		      ? FL_ENOMEM
		      : fl_store_queue_create(&r->q, r->cfg.report_batch);
	if (err == 0)
		err = load_all(r);
	if (err != 0) {
		r->n_pend = 0;
		fl_runner_free(r);
		return err;
	}
	*out = r;
	return 0;
}

/* ---- reports ------------------------------------------------------------- */

static void apply_input(struct r_rollout *ro, struct fl_event *ev)
{
	if (ro->eng != NULL)
		(void)fl_engine_apply(ro->eng, ev);
	if (ev->kind == FL_EV_ROLLBACK)
		ro->rb_requested = true;
	else if (ev->kind == FL_EV_CANCEL)
		ro->cancel_requested = true;
	ro->is_dirty = true;
}

/* Writes the queued reports; once committed, their events reach the
 * engines, in queue order (= log order). */
int runner__flush(struct fl_runner *r)
{
	int err;

	if (fl_store_queue_len(r->q) == 0)
		return 0;
	err = fl_store_queue_flush(r->st, r->q, NULL);
	if (err != 0) {
		runner__log(r, NULL, "reports not written (kept): %s",
			    fl_store_errmsg(r->st));
		return err;
	}
	for (size_t i = 0; i < r->n_pend; i++) {
		struct r_pend *p = &r->pend[i];
		struct r_rollout *ro = p->ro;
		uint32_t dev;

		for (unsigned k = 0; k < p->n_metrics; k++)
			p->mv[k].name = p->mname[k];
		p->ev.metrics = p->mv;
		if (ro->eng != NULL && !ro->is_broken &&
		    fl_engine_lookup(ro->eng, r->devs[p->gdev].id, &dev) == 0) {
			p->ev.dev = dev;
			apply_input(ro, &p->ev);
		} else {
			ro->is_dirty = true;
		}
	}
	r->n_pend = 0;
	return 0;
}

/* Queues r->rep; with an event (ro and ev set), as the n-th event of this
 * message: the first rides on the report itself, the others on "seen"
 * reports. */
static int submit(struct fl_runner *r, int *n, struct r_rollout *ro,
		  uint32_t gdev, const struct fl_event *ev,
		  const struct fl_status *from, uint32_t job)
{
	struct fl_store_report *rep = &r->rep;
	struct fl_store_event *e = &rep->event;
	int err;

	if (ro != NULL && *n > 0) {
		rep->kind = FL_STORE_REPORT_SEEN;
		memset(&rep->u, 0, sizeof(rep->u));
	}
	memset(e, 0, sizeof(*e));
	if (ro != NULL) {
		e->type = FL_STORE_EV_INPUT;
		e->kind = ev->kind;
		e->at_s = ev->at_s;
		runner__copy(e->rollout, sizeof(e->rollout), ro->name);
		err = rlog_event(e->payload, sizeof(e->payload), ev, from, job);
		if (err != 0)
			return err;
	}
	err = fl_store_queue_add(r->q, rep);
	if (err == FL_ENOSPC) {
		err = runner__flush(r);
		if (err == 0)
			err = fl_store_queue_add(r->q, rep);
	}
	if (err != 0)
		return err;
	(*n)++;
	if (ro != NULL) {
		struct r_pend *p = &r->pend[r->n_pend++];

		memset(p, 0, sizeof(*p));
		p->ro = ro;
		p->gdev = gdev;
		p->ev = *ev;
		p->ev.metrics = NULL;
		p->ev.name = NULL;
		p->ev.who = NULL;
		for (unsigned k = 0; k < ev->nmetrics && k < R_METRICS_MAX;
		     k++) {
			runner__copy(p->mname[k], sizeof(p->mname[k]),
				     ev->metrics[k].name);
			p->mv[k].value = ev->metrics[k].value;
			p->n_metrics++;
		}
		p->ev.nmetrics = p->n_metrics;
	}
	return 0;
}

static void report_init(struct fl_runner *r, unsigned kind, const char *device,
			int64_t now)
{
	struct fl_store_report *rep = &r->rep;

	memset(rep, 0, sizeof(*rep));
	rep->kind = (uint8_t)kind;
	runner__copy(rep->device, sizeof(rep->device), device);
	rep->at_s = now;
}

static bool is_target(const struct r_rollout *ro, const char *id, uint32_t *dev)
{
	struct fl_engine_device d;

	return ro->eng != NULL && fl_engine_lookup(ro->eng, id, dev) == 0 &&
	       fl_engine_device(ro->eng, *dev, &d) == 0 && d.is_target;
}

int fl_runner_on_presence(struct fl_runner *r, const char *device,
			  const struct fl_presence *m, int64_t now_s)
{
	struct fl_event ev;
	struct r_dev *d;
	uint32_t gdev, dev;
	bool applied;
	int n = 0, err = 0;

	if (r == NULL || m == NULL || fl_device_id_check(device) != 0)
		return FL_EINVAL;
	d = runner__dev(r, device, true, &gdev);
	if (d == NULL)
		return FL_ENOMEM;
	applied = !d->has_presence || m->boot > d->p_boot ||
		  (m->boot == d->p_boot && m->conn >= d->p_conn);
	report_init(r, FL_STORE_REPORT_PRESENCE, device, now_s);
	r->rep.u.presence.is_online = m->is_online;
	r->rep.u.presence.boot = m->boot;
	r->rep.u.presence.conn = m->conn;
	if (!applied)
		return submit(r, &n, NULL, 0, NULL, NULL, 0);
	d->has_presence = 1;
	d->is_online = m->is_online;
	d->p_boot = m->boot;
	d->p_conn = m->conn;
	memset(&ev, 0, sizeof(ev));
	ev.kind = m->is_online ? FL_EV_ONLINE : FL_EV_OFFLINE;
	ev.at_s = now_s;
	for (size_t i = 0; err == 0 && i < r->n_ro; i++) {
		struct r_rollout *ro = r->ro[i];

		if (!is_target(ro, device, &dev))
			continue;
		/* re-send at once what is unanswered (a rollback the device
		 * holds is decided again by the engine: runner__effects
		 * times it) */
		if (m->is_online && ro->mem[dev].owe != 0)
			ro->mem[dev].next_send = now_s;
		err = submit(r, &n, ro, gdev, &ev, NULL, 0);
	}
	if (err == 0 && n == 0)
		err = submit(r, &n, NULL, 0, NULL, NULL, 0);
	return err;
}

int fl_runner_on_reported(struct fl_runner *r, const char *device,
			  const struct fl_reported *m, int64_t now_s)
{
	struct fl_store_inventory *inv = &r->rep.u.inventory;
	struct r_dev *d;
	uint32_t gdev;
	int n = 0, err;

	if (r == NULL || m == NULL || fl_device_id_check(device) != 0)
		return FL_EINVAL;
	report_init(r, FL_STORE_REPORT_INVENTORY, device, now_s);
	err = fl_proto_encode_reported(inv->json, sizeof(inv->json), NULL, m);
	if (err != 0)
		return FL_EINVAL;
	runner__copy(inv->model, sizeof(inv->model), m->model);
	runner__copy(inv->tz, sizeof(inv->tz), m->tz);
	runner__copy(inv->agent, sizeof(inv->agent), m->agent);
	inv->boot = m->boot;
	inv->n_labels = m->n_labels;
	for (unsigned i = 0; i < m->n_labels; i++) {
		runner__copy(inv->labels[i].key, sizeof(inv->labels[i].key),
			     m->labels[i].key);
		runner__copy(inv->labels[i].value, sizeof(inv->labels[i].value),
			     m->labels[i].value);
	}
	inv->n_components = m->n_components;
	for (unsigned i = 0; i < m->n_components; i++) {
		runner__copy(inv->components[i].name,
			     sizeof(inv->components[i].name),
			     m->components[i].name);
		runner__copy(inv->components[i].version,
			     sizeof(inv->components[i].version),
			     m->components[i].version);
	}
	inv->n_slots = m->n_slots;
	for (unsigned i = 0; i < m->n_slots; i++) {
		inv->slots[i].state = m->slots[i].state;
		runner__copy(inv->slots[i].version,
			     sizeof(inv->slots[i].version),
			     m->slots[i].version);
		inv->slots[i].seq = m->slots[i].seq;
	}
	inv->booted = m->booted;
	inv->floor = m->floor;
	inv->job = m->job;
	inv->job_state = m->state;
	inv->job_result = m->result;
	d = runner__dev(r, device, true, &gdev);
	if (d == NULL)
		return FL_ENOMEM;
	err = submit(r, &n, NULL, 0, NULL, NULL, 0);
	if (err != 0)
		return err;
	if (!d->has_reported) {
		d->has_reported = 1;
		if (!d->is_new && fresh_push(r, gdev) == 0)
			d->is_new = 1;
	}
	/* what "reported job" means for the rule on offers: as reported */
	d->job = m->job;
	d->job_state = m->state;
	note_floor(r, d, m->floor);
	return 0;
}

static uint8_t fail_reason(unsigned result)
{
	switch (result) {
	case FL_RESULT_CONNECTION_LOST:
	case FL_RESULT_INVALID_URI:
	case FL_RESULT_UNSUPPORTED_PROTOCOL: return FL_FAIL_DOWNLOAD;
	case FL_RESULT_INTEGRITY:
	case FL_RESULT_BAD_SIGNATURE:
	case FL_RESULT_BAD_MANIFEST:
	case FL_RESULT_ANTI_ROLLBACK: return FL_FAIL_VERIFY;
	case FL_RESULT_NO_FLASH:
	case FL_RESULT_NO_RAM:
	case FL_RESULT_UNSUPPORTED_PACKAGE:
	case FL_RESULT_FAILED: return FL_FAIL_INSTALL;
	default: return FL_FAIL_OTHER;
	}
}

/* The engine event a status of an offer job means; 0: none. */
static uint8_t offer_event(const struct fl_runner *r, const struct r_mem *mem,
			   const struct fl_status *m, int64_t now,
			   struct fl_event *ev)
{
	switch (m->result) {
	case FL_RESULT_NONE:
		switch (m->state) {
		case FL_STATE_WAITING: return FL_EV_ACKED;
		case FL_STATE_DOWNLOADING: return FL_EV_DOWNLOADING;
		case FL_STATE_DOWNLOADED:
		case FL_STATE_UPDATING: return FL_EV_INSTALLED;
		case FL_STATE_TRIAL: return FL_EV_ACTIVATED;
		default: return 0;
		}
	case FL_RESULT_RETRY_LATER:
		/* with retry_s the device retries by itself; without
		 * (trial_pending) it did not take the job: offered again */
		ev->retry_at_s =
			now + (m->retry_s != 0 ? m->retry_s : r->cfg.resend_s);
		return FL_EV_RETRY_LATER;
	case FL_RESULT_SUCCESS: return FL_EV_COMMITTED;
	case FL_RESULT_REJECTED: return FL_EV_REJECTED;
	case FL_RESULT_REVERTED: return FL_EV_REVERTED;
	case FL_RESULT_STALE:
	case FL_RESULT_ROLLED_BACK:
	case FL_RESULT_ROLLBACK_FAILED: return 0;
	case FL_RESULT_CANCELLED:
		if (mem->cancel_at >= 0 || mem->rb_job != 0)
			return 0; /* ours: the engine knows */
		/* superseded on the device: try again later, a new job */
		ev->retry_at_s = now + FL_ENGINE_RETRY_DEFAULT_S;
		return FL_EV_RETRY_LATER;
	default: ev->reason = fail_reason(m->result); return FL_EV_FAILED;
	}
}

static uint8_t rollback_event(const struct fl_status *m)
{
	if (!fl_result_is_final(m->result) || m->result == FL_RESULT_STALE)
		return 0;
	if (m->result == FL_RESULT_ROLLED_BACK ||
	    m->result == FL_RESULT_SUCCESS)
		return FL_EV_ROLLBACK_DONE;
	return FL_EV_ROLLBACK_FAILED;
}

int fl_runner_on_status(struct fl_runner *r, const char *device,
			const struct fl_status *m, int64_t now_s)
{
	struct fl_store_job_status *js = &r->rep.u.status;
	struct fl_event ev;
	struct r_rollout *ro;
	struct r_jobm *jm;
	struct r_mem *mem;
	struct r_dev *d;
	struct r_job *j;
	uint32_t gdev;
	bool is_rb;
	int n = 0;

	if (r == NULL || m == NULL || m->job == 0 ||
	    fl_device_id_check(device) != 0)
		return FL_EINVAL;
	d = runner__dev(r, device, true, &gdev);
	if (d == NULL)
		return FL_ENOMEM;
	report_init(r, FL_STORE_REPORT_STATUS, device, now_s);
	js->job = m->job;
	js->boot = m->boot;
	js->n = m->n;
	js->phase = m->state;
	js->result = m->result;
	js->is_final = fl_result_is_final(m->result);
	runner__copy(js->reason, sizeof(js->reason), m->reason);
	js->bytes = m->bytes;
	js->total = m->total;
	runner__copy(js->version, sizeof(js->version), m->version);

	j = job_find(r, m->job);
	if (j == NULL) {
		runner__log(r, device,
			    "status of job %" PRIu32
			    ", not a job of an active rollout: "
			    "ignored",
			    m->job);
		return submit(r, &n, NULL, 0, NULL, NULL, 0);
	}
	ro = j->ro;
	mem = &ro->mem[j->dev];
	if (strcmp(ro->inv[j->dev].id, device) != 0 ||
	    (m->job != mem->offer_job && m->job != mem->rb_job)) {
		runner__log(r, device,
			    "status of job %" PRIu32
			    ", stale or not this device's: ignored",
			    m->job);
		return submit(r, &n, NULL, 0, NULL, NULL, 0);
	}
	is_rb = m->job == mem->rb_job;
	jm = is_rb ? &mem->rb : &mem->offer;
	if (jm->is_final || m->boot < jm->boot ||
	    (m->boot == jm->boot && m->n <= jm->n)) /* the store's rule */
		return submit(r, &n, NULL, 0, NULL, NULL, 0);
	jm->boot = m->boot;
	jm->n = m->n;
	jm->at = now_s;
	jm->phase = m->state;
	jm->result = m->result;
	jm->is_final = js->is_final;
	if (is_rb) {
		mem->owe &= (uint8_t)~OWE_RB;
	} else {
		mem->owe &= (uint8_t)~OWE_OFFER;
		if (js->is_final ||
		    strcmp(m->reason, "too_late_to_cancel") == 0)
			mem->owe &= (uint8_t)~OWE_CANCEL;
	}
	if (m->result == FL_RESULT_STALE)
		runner__log(r, device, "job %" PRIu32 " is stale on the device",
			    m->job);
	memset(&ev, 0, sizeof(ev));
	ev.at_s = now_s;
	ev.kind =
		is_rb ? rollback_event(m) : offer_event(r, mem, m, now_s, &ev);
	if (ev.kind == 0)
		return submit(r, &n, NULL, 0, NULL, NULL, 0);
	return submit(r, &n, ro, gdev, &ev, m, m->job);
}

int fl_runner_on_health(struct fl_runner *r, const char *device,
			const struct fl_health *m, int64_t now_s)
{
	struct fl_metric_value mv[R_METRICS_MAX];
	struct fl_event ev;
	uint32_t gdev, dev;
	int n = 0, err = 0;

	if (r == NULL || m == NULL || fl_device_id_check(device) != 0)
		return FL_EINVAL;
	if (runner__dev(r, device, true, &gdev) == NULL)
		return FL_ENOMEM;
	report_init(r, FL_STORE_REPORT_HEALTH, device, now_s);
	if (fl_proto_encode_health(r->rep.u.health.json,
				   sizeof(r->rep.u.health.json), NULL, m) != 0)
		return FL_EINVAL;
	memset(&ev, 0, sizeof(ev));
	ev.kind = FL_EV_HEALTH;
	ev.at_s = now_s;
	ev.metrics = mv;
	for (unsigned i = 0; i < m->n_metrics && i < FL_PROTO_METRICS_MAX;
	     i++) {
		mv[ev.nmetrics].name = m->metrics[i].name;
		mv[ev.nmetrics++].value = m->metrics[i].value;
	}
	mv[ev.nmetrics].name = "crashes";
	mv[ev.nmetrics++].value = m->crashes;
	mv[ev.nmetrics].name = "uptime_s";
	mv[ev.nmetrics++].value = (double)m->uptime_s;
	for (size_t i = 0; err == 0 && i < r->n_ro; i++) {
		struct r_rollout *ro = r->ro[i];
		struct fl_engine_device e;
		const struct r_jobm *o;

		if (ro->eng == NULL ||
		    fl_engine_lookup(ro->eng, device, &dev) != 0 ||
		    fl_engine_device(ro->eng, dev, &e) != 0 || !e.was_offered ||
		    runner__is_final(e.status))
			continue;
		/* only while the new version may run: a report the engine
		 * would not look at is not logged */
		o = &ro->mem[dev].offer;
		if (e.progress < FL_PROG_ACTIVATED &&
		    o->phase != FL_STATE_UPDATING &&
		    o->phase != FL_STATE_TRIAL &&
		    !(o->is_final && o->result == FL_RESULT_SUCCESS))
			continue;
		err = submit(r, &n, ro, gdev, &ev, NULL, 0);
	}
	if (err == 0 && n == 0)
		err = submit(r, &n, NULL, 0, NULL, NULL, 0);
	return err;
}

int fl_runner_on_cleared(struct fl_runner *r, const char *device,
			 int topic_kind, int64_t now_s)
{
	struct fl_presence p;
	struct r_dev *d;

	if (r == NULL || fl_device_id_check(device) != 0)
		return FL_EINVAL;
	if (topic_kind == FL_TOPIC_REPORTED) {
		runner__log(r, device,
			    "reported state cleared: the last one "
			    "is kept");
		return 0;
	}
	if (topic_kind != FL_TOPIC_PRESENCE)
		return FL_EINVAL;
	d = runner__dev(r, device, false, NULL);
	if (d == NULL || !d->has_presence || !d->is_online)
		return 0;
	/* decommissioned: offline, as the same connection's Will would say */
	memset(&p, 0, sizeof(p));
	p.boot = d->p_boot;
	p.conn = d->p_conn;
	return fl_runner_on_presence(r, device, &p, now_s);
}

/* ---- the tick ------------------------------------------------------------ */

/* Writes dev's member row if it changed (the device must be a member). */
static int row_write(struct fl_runner *r, struct r_rollout *ro, uint32_t dev,
		     int64_t now)
{
	struct fl_engine_device d;
	struct fl_store_member x;
	struct r_mem *m = &ro->mem[dev];
	int64_t offered, committed;
	int err;

	if (fl_engine_device(ro->eng, dev, &d) != 0 ||
	    d.stage == FL_ENGINE_NO_STAGE)
		return 0;
	offered = d.offered_at_s < 0 ? FL_STORE_NONE : d.offered_at_s;
	committed = d.committed_at_s < 0 ? FL_STORE_NONE : d.committed_at_s;
	if (m->has_row && m->stage == d.stage && m->st == d.status &&
	    m->prog == d.progress && m->rbs == d.rollback &&
	    m->reason == d.fail_reason && m->offered == offered &&
	    m->committed == committed)
		return 0;
	memset(&x, 0, sizeof(x));
	runner__copy(x.rollout, sizeof(x.rollout), ro->name);
	runner__copy(x.device, sizeof(x.device), ro->inv[dev].id);
	x.stage = d.stage;
	x.status = d.status;
	x.progress = d.progress;
	x.rollback = d.rollback;
	x.fail_reason = d.fail_reason;
	x.offered_at_s = offered;
	x.committed_at_s = committed;
	x.updated_at_s = now;
	err = fl_store_member_set(r->st, &x);
	if (err != 0)
		return err;
	m->has_row = 1;
	m->stage = d.stage;
	m->st = d.status;
	m->prog = d.progress;
	m->rbs = d.rollback;
	m->reason = d.fail_reason;
	m->offered = offered;
	m->committed = committed;
	return 0;
}

/* Member, stage and rollout rows: what changed. */
static int rows(struct fl_runner *r, struct r_rollout *ro, int64_t now)
{
	struct fl_engine_status s;
	int err = 0;

	for (size_t k = 0; err == 0 && k < ro->n_synced; k++)
		err = row_write(r, ro, (uint32_t)k, now);
	for (unsigned k = 0; err == 0 && k < ro->plan->nstages; k++) {
		struct r_stage_row *x = &ro->stage_rows[k];
		struct fl_engine_stage g;
		int64_t ended = x->ended;

		if (fl_engine_stage(ro->eng, k, &g) != 0)
			break;
		if (g.state == FL_STAGE_PASSED || g.state == FL_STAGE_FAILED) {
			if (ended == FL_STORE_NONE || g.state != x->state)
				ended = now;
		} else {
			ended = FL_STORE_NONE;
		}
		if (g.state == x->state &&
		    g.is_overridden == x->is_overridden &&
		    g.started_at_s == x->started && ended == x->ended)
			continue;
		err = fl_store_stage_set(r->st, ro->name, k, g.state,
					 g.is_overridden, g.started_at_s,
					 ended);
		if (err == 0) {
			x->state = g.state;
			x->is_overridden = g.is_overridden;
			x->started = g.started_at_s;
			x->ended = ended;
		}
	}
	fl_engine_status(ro->eng, &s);
	if (err == 0 &&
	    (s.state != ro->row_state || s.is_paused != ro->row_paused ||
	     (!ro->row_ended && s.state != FL_ROLLOUT_RUNNING &&
	      s.state != FL_ROLLOUT_ROLLING_BACK))) {
		bool ended = s.state != FL_ROLLOUT_RUNNING &&
			     s.state != FL_ROLLOUT_ROLLING_BACK;

		err = fl_store_rollout_set_state(r->st, ro->name, s.state,
						 s.is_paused, ended, now);
		if (err == 0) {
			ro->row_state = s.state;
			ro->row_paused = s.is_paused;
			ro->row_ended = ro->row_ended || ended;
		}
	}
	return err;
}

struct refused {
	uint32_t dev;
	bool is_offer; /* an offer (no wrap key), else a rollback */
	char why[160];
};

/* The number of the rollback manifest a member was given (0 none). */
static uint64_t given_seq(const struct r_rollout *ro, const struct r_mem *m)
{
	return m != NULL && m->rbm != 0 && m->rbm <= ro->n_rbm
		       ? ro->rbm[m->rbm - 1].seq
		       : 0;
}

/* An offer refused before it was made: the member fails with no_key. */
static int refuse_offer(struct refused **ref, size_t *n, uint32_t dev,
			const char *why)
{
	struct refused *v = realloc(*ref, (*n + 1) * sizeof(*v));

	if (v == NULL)
		return FL_ENOMEM;
	*ref = v;
	v[*n].dev = dev;
	v[*n].is_offer = true;
	runner__copy(v[*n].why, sizeof(v[*n].why), why);
	(*n)++;
	return 0;
}

/* Records one step's decisions (with their jobs), then the notes and
 * inputs they caused. */
static int decisions(struct fl_runner *r, struct r_rollout *ro,
		     const struct fl_decision *dec, size_t n, int64_t now)
{
	char payload[FL_STORE_PAYLOAD_MAX];
	struct refused *ref = NULL;
	size_t n_ref = 0;
	int err = 0;

	for (size_t i = 0; err == 0 && i < n; i++) {
		const struct fl_decision *d = &dec[i];
		struct r_mem *m = d->dev < ro->n_inv ? &ro->mem[d->dev] : NULL;
		const char *id = m != NULL ? ro->inv[d->dev].id : NULL;
		uint32_t job = 0;

		if (d->kind == FL_DEC_OFFER && m != NULL) {
			char why[160];

			err = row_write(r, ro, d->dev, now);
			if (err == 0 && m->offer_job != 0 && !m->offer.is_final)
				job = m->offer_job; /* the same job again */
			else if (err == 0 &&
				 rcmd_offer_check(r, ro, d->dev, why,
						  sizeof(why)) != 0)
				err = refuse_offer(&ref, &n_ref, d->dev, why);
			else if (err == 0)
				err = fl_store_job_create(
					r->st, ro->name, id, FL_STORE_JOB_OFFER,
					now, now + r->cfg.offer_ttl_s, &job);
		} else if (d->kind == FL_DEC_CANCEL && m != NULL) {
			job = m->offer_job;
		} else if (d->kind == FL_DEC_ROLLBACK_DEVICE && m != NULL) {
			struct fl_manifest_env env;
			char why[160];

			if (m->rb_job != 0 && !m->rb.is_final) {
				job = m->rb_job;
			} else {
				err = rcmd_rollback_manifest(r, ro, d->dev, now,
							     true, &env, why,
							     sizeof(why));
				if (err == FL_ENOENT) {
					struct refused *v = realloc(
						ref, (n_ref + 1) * sizeof(*v));

					err = v == NULL ? FL_ENOMEM : 0;
					if (v != NULL) {
						ref = v;
						ref[n_ref].dev = d->dev;
						ref[n_ref].is_offer = false;
						runner__copy(ref[n_ref++].why,
							     sizeof(ref->why),
							     why);
					}
				} else {
					if (err == 0)
						err = row_write(r, ro, d->dev,
								now);
					if (err == 0)
						err = fl_store_job_create(
							r->st, ro->name, id,
							FL_STORE_JOB_ROLLBACK,
							now,
							now + r->cfg.offer_ttl_s,
							&job);
				}
			}
		}
		if (err == 0)
			err = rlog_decision(payload, sizeof(payload), d, job,
					    d->kind == FL_DEC_ROLLBACK_DEVICE &&
							    job != 0
						    ? given_seq(ro, m)
						    : 0);
		if (err == 0)
			err = rlog_append(r, FL_STORE_EV_DECISION, d->kind,
					  ro->name, id, now, payload);
		if (err == 0)
			runner__effects(r, ro, d, job);
	}
	for (size_t i = 0; err == 0 && i < ro->n_rbm; i++) {
		struct r_rbm *x = &ro->rbm[i];

		if (x->is_logged)
			continue;
		err = rlog_rbm(payload, sizeof(payload), x);
		if (err == 0)
			err = rlog_append(r, FL_STORE_EV_NOTE,
					  FL_RUNNER_NOTE_RB_MANIFEST, ro->name,
					  NULL, now, payload);
		if (err == 0)
			x->is_logged = 1;
	}
	for (size_t i = 0; err == 0 && i < n_ref; i++) {
		const char *id = ro->inv[ref[i].dev].id;
		struct fl_event ev;
		struct r_json j;

		runner__log(r, id, "rollout %s: %s", ro->name, ref[i].why);
		rjson_init(&j, payload, sizeof(payload));
		rjson_open(&j);
		rjson_str(&j, "why", ref[i].why);
		rjson_close(&j);
		err = rlog_append(r, FL_STORE_EV_NOTE, FL_RUNNER_NOTE_REFUSED,
				  ro->name, id, now, payload);
		memset(&ev, 0, sizeof(ev));
		ev.kind =
			ref[i].is_offer ? FL_EV_FAILED : FL_EV_ROLLBACK_FAILED;
		ev.reason = ref[i].is_offer ? FL_FAIL_NO_KEY : 0;
		ev.dev = ref[i].dev;
		ev.at_s = now;
		if (err == 0)
			err = rlog_event(payload, sizeof(payload), &ev, NULL,
					 0);
		if (err == 0)
			err = rlog_append(r, FL_STORE_EV_INPUT, ev.kind,
					  ro->name, id, now, payload);
		if (err == 0)
			apply_input(ro, &ev);
	}
	free(ref);
	return err;
}

/* Devices that reported for the first time join a running rollout. */
static int appends(struct fl_runner *r, struct r_rollout *ro, int64_t now)
{
	char payload[FL_STORE_PAYLOAD_MAX];
	struct fl_store_device *s = NULL;
	struct fl_engine_status st;
	int err = 0;

	fl_engine_status(ro->eng, &st);
	if (st.state != FL_ROLLOUT_RUNNING || r->n_fresh == 0)
		return 0;
	for (size_t i = 0; err == 0 && i < r->n_fresh; i++) {
		const char *id = r->devs[r->fresh[i]].id;
		uint32_t dev;

		if (fl_engine_lookup(ro->eng, id, &dev) == 0)
			continue; /* already in it */
		if (s == NULL && (s = malloc(sizeof(*s))) == NULL)
			return FL_ENOMEM;
		err = fl_store_device_get(r->st, id, s);
		if (err == FL_ENOENT || (err == 0 && s->model[0] == '\0')) {
			err = 0;
			continue;
		}
		if (err == 0)
			err = runner__inv_from_store(ro, s, r->fresh[i]);
		if (err == 0)
			err = rlog_inv(payload, sizeof(payload),
				       &ro->inv[ro->n_inv - 1]);
		if (err == 0)
			err = rlog_append(r, FL_STORE_EV_NOTE,
					  FL_RUNNER_NOTE_INV, ro->name, id, now,
					  payload);
	}
	free(s);
	if (err == 0 && ro->n_inv > ro->n_synced) {
		snprintf(payload, sizeof(payload), "{\"n\":%zu}", ro->n_inv);
		err = rlog_append(r, FL_STORE_EV_NOTE, FL_RUNNER_NOTE_SYNC,
				  ro->name, NULL, now, payload);
		if (err == 0)
			err = fl_engine_sync_inventory(ro->eng, ro->inv,
						       ro->n_inv);
		if (err == 0) {
			ro->n_synced = ro->n_inv;
			ro->is_dirty = true;
		}
	}
	return err;
}

static bool wants_work(const struct fl_runner *r, const struct r_rollout *ro,
		       int64_t now)
{
	struct fl_engine_status st;

	if (ro->eng == NULL || ro->is_broken)
		return false;
	if (ro->is_dirty || now >= ro->next_wake)
		return true;
	fl_engine_status(ro->eng, &st);
	return r->n_fresh > 0 && st.state == FL_ROLLOUT_RUNNING;
}

static int work(struct fl_runner *r, struct r_rollout *ro, int64_t now,
		struct fl_decision *dec)
{
	char payload[32];
	int err = appends(r, ro, now);

	for (int i = 0; err == 0 && i < R_STEPS_PER_TICK; i++) {
		size_t n = 0;
		int64_t wake = FL_ENGINE_NEVER;

		if (!ro->is_dirty && now < ro->next_wake)
			break;
		snprintf(payload, sizeof(payload), "{\"max\":%d}", R_STEP_MAX);
		err = rlog_append(r, FL_STORE_EV_NOTE, FL_RUNNER_NOTE_STEP,
				  ro->name, NULL, now, payload);
		if (err == 0)
			err = fl_engine_step(ro->eng, now, dec, R_STEP_MAX, &n,
					     &wake);
		if (err != 0)
			break;
		ro->is_dirty = false;
		ro->next_wake = wake;
		err = decisions(r, ro, dec, n, now);
		if (wake != now)
			break;
	}
	if (err == 0)
		err = rows(r, ro, now);
	return err;
}

/* One transaction: every rollout that has news steps; all or nothing. */
static int run(struct fl_runner *r, int64_t now)
{
	struct fl_decision *dec = NULL;
	bool *touched = NULL;
	bool any = false;
	int err = 0;

	for (size_t i = 0; i < r->n_ro && !any; i++)
		any = wants_work(r, r->ro[i], now);
	if (!any) {
		for (size_t i = 0; i < r->n_fresh; i++)
			r->devs[r->fresh[i]].is_new = 0;
		r->n_fresh = 0;
		return 0;
	}
	dec = malloc(R_STEP_MAX * sizeof(*dec));
	touched = calloc(r->n_ro, sizeof(*touched));
	if (dec == NULL || touched == NULL) {
		err = FL_ENOMEM;
		goto out;
	}
	err = fl_store_begin(r->st);
	for (size_t i = 0; err == 0 && i < r->n_ro; i++) {
		if (!wants_work(r, r->ro[i], now))
			continue;
		touched[i] = true;
		err = work(r, r->ro[i], now, dec);
	}
	if (err == 0)
		err = fl_store_commit(r->st);
	if (err != 0) {
		int e2 = 0;

		runner__log(r, NULL, "tick not recorded: %s (%s)",
			    fl_strerror(err), fl_store_errmsg(r->st));
		if (r->st->in_txn)
			(void)fl_store_rollback(r->st);
		/* the engines moved ahead of their logs: back to the log */
		for (size_t i = 0; i < r->n_ro; i++) {
			if (!touched[i])
				continue;
			r->ro[i]->is_broken = true;
			if (e2 == 0)
				e2 = runner__rebuild(r, r->ro[i]);
		}
		goto out;
	}
	for (size_t i = 0; i < r->n_fresh; i++)
		r->devs[r->fresh[i]].is_new = 0;
	r->n_fresh = 0;
out:
	free(dec);
	free(touched);
	return err;
}

/* A rollback manifest missing from the cache (a device's floor moved):
 * sealed and logged in a transaction of its own before it is sent, with
 * the note that the device is given it. */
static int seal_now(struct fl_runner *r, struct r_rollout *ro, uint32_t dev,
		    int64_t now, struct fl_manifest_env *env)
{
	char payload[FL_STORE_PAYLOAD_MAX], why[160];
	struct r_mem *m = &ro->mem[dev];
	size_t before = ro->n_rbm;
	uint16_t had = m->rbm;
	int err = fl_store_begin(r->st);

	if (err == 0)
		err = rcmd_rollback_manifest(r, ro, dev, now, true, env, why,
					     sizeof(why));
	for (size_t i = before; err == 0 && i < ro->n_rbm; i++) {
		err = rlog_rbm(payload, sizeof(payload), &ro->rbm[i]);
		if (err == 0)
			err = rlog_append(r, FL_STORE_EV_NOTE,
					  FL_RUNNER_NOTE_RB_MANIFEST, ro->name,
					  NULL, now, payload);
	}
	if (err == 0 && m->rbm != had && given_seq(ro, m) != 0) {
		snprintf(payload, sizeof(payload), "{\"seq\":%" PRIu64 "}",
			 given_seq(ro, m));
		err = rlog_append(r, FL_STORE_EV_NOTE, FL_RUNNER_NOTE_RB_GIVEN,
				  ro->name, ro->inv[dev].id, now, payload);
	}
	if (err == 0)
		err = fl_store_commit(r->st);
	if (err != 0) {
		if (r->st->in_txn)
			(void)fl_store_rollback(r->st);
		ro->n_rbm = before;
		m->rbm = had; /* what the log says it has */
		return err;
	}
	for (size_t i = before; i < ro->n_rbm; i++)
		ro->rbm[i].is_logged = 1;
	return 0;
}

static bool is_busy(const struct r_dev *d, uint32_t job)
{
	return d->job != 0 && d->job != job &&
	       (d->job_state == FL_STATE_UPDATING ||
		d->job_state == FL_STATE_TRIAL);
}

/* Sends (and re-sends) what members are owed and is due. */
static void send_due(struct fl_runner *r, int64_t now)
{
	struct fl_cmd *cmd = malloc(sizeof(*cmd));

	if (cmd == NULL)
		return; /* tried again at the next tick */
	for (size_t i = 0; i < r->n_ro; i++) {
		struct r_rollout *ro = r->ro[i];
		size_t w = 0;

		if (ro->eng == NULL || ro->is_broken)
			continue;
		for (size_t k = 0; k < ro->n_owe; k++) {
			uint32_t dev = ro->owe[k];
			struct r_mem *m = &ro->mem[dev];
			const struct r_dev *d = &r->devs[m->gdev];
			int err = 0;

			if (m->owe == 0) {
				m->in_owe = 0;
				continue;
			}
			ro->owe[w++] = dev;
			if (m->next_send > now)
				continue;
			if (!d->is_online) {
				m->next_send = now + r->cfg.resend_s;
				continue;
			}
			if (m->owe & OWE_RB) {
				struct fl_manifest_env env;
				char why[160];

				err = rcmd_rollback_manifest(r, ro, dev, now,
							     false, &env, why,
							     sizeof(why));
				if (err == FL_ESTATE)
					err = seal_now(r, ro, dev, now, &env);
				if (err == 0) {
					rcmd_rollback(ro, dev, now, &r->cfg,
						      &env, cmd);
					err = r->cfg.cmd.send(r->cfg.cmd_ctx,
							      d->id, cmd);
				}
			} else if (m->owe & OWE_CANCEL) {
				rcmd_cancel(ro, dev, now, &r->cfg, cmd);
				err = r->cfg.cmd.send(r->cfg.cmd_ctx, d->id,
						      cmd);
			} else if (is_busy(d, m->offer_job)) {
				m->next_send = now + R_BLOCKED_RETRY_S;
				continue;
			} else if (rcmd_offer(r, ro, dev, now, cmd) != 0) {
				/* no key could be wrapped (logged): later */
				m->next_send = now + r->cfg.resend_s;
				continue;
			} else {
				err = r->cfg.cmd.send(r->cfg.cmd_ctx, d->id,
						      cmd);
			}
			if (err == FL_ENOENT)
				runner__log(r, d->id,
					    "rollout %s: no image to roll back "
					    "to any more",
					    ro->name);
			m->next_send = now + (err == 0 || err == FL_ENOENT
						      ? r->cfg.resend_s
						      : 1);
		}
		ro->n_owe = w;
	}
	free(cmd);
}

static uint32_t next_ms(const struct fl_runner *r, int64_t now)
{
	int64_t t = now + 3600;

	if (r->n_fresh > 0)
		return 0;
	for (size_t i = 0; i < r->n_ro; i++) {
		const struct r_rollout *ro = r->ro[i];

		if (ro->is_broken)
			return 1000;
		if (ro->is_dirty)
			return 0;
		if (ro->next_wake < t)
			t = ro->next_wake;
		for (size_t k = 0; k < ro->n_owe; k++) {
			const struct r_mem *m = &ro->mem[ro->owe[k]];

			if (m->owe != 0 && m->next_send < t)
				t = m->next_send;
		}
	}
	if (fl_store_queue_len(r->q) > 0 && (t - now) * 1000 > 0 &&
	    (uint64_t)(t - now) * 1000 > r->cfg.report_flush_ms)
		return r->cfg.report_flush_ms;
	return t <= now ? 0 : (uint32_t)((t - now) * 1000);
}

int fl_runner_tick(struct fl_runner *r, int64_t now_s, uint32_t *next)
{
	int err;

	if (r == NULL || next == NULL)
		return FL_EINVAL;
	*next = 1000;
	err = runner__flush(r);

	for (size_t i = 0; err == 0 && i < r->n_ro; i++)
		if (r->ro[i]->is_broken)
			err = runner__rebuild(r, r->ro[i]);
	if (err == 0)
		err = run(r, now_s);
	if (err != 0)
		return err;
	send_due(r, now_s);
	*next = next_ms(r, now_s);
	return 0;
}
