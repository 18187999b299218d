/*
 * runner_log.c -- the runner's records in the store's event log, and the
 * replay that rebuilds a rollout's engine from them.
 *
 * Method: the log of a rollout is the exact sequence of calls made on its
 * engine (runner.h, THE LOG): inventory entries and the create and sync
 * calls over them, applied events with every field the engine reads, and
 * step calls with their `now` and `max`, each followed by the decisions it
 * returned. The engine is deterministic (fl/engine.h), so making the same
 * calls again rebuilds the same state; the replay checks it as it goes:
 * the decisions a replayed step returns must be the ones logged after it,
 * field by field, in the same order, no more and no fewer (else
 * FL_ECORRUPT: the log does not describe this engine, or the engine
 * changed). While replaying, the runner's own bookkeeping (job ids, what
 * each member is owed, the rollback manifests and the one each member
 * was given, resolved once the whole log is read) is redone from the logged
 * decisions by the same code as when they were first taken
 * (runner__effects), so a rebuilt runner also knows what it still has to
 * send.
 *
 * Numbers: every time and count is an integer far below 2^53 and survives
 * JSON exactly; FL_ENGINE_NEVER is written as null; metric values are
 * written with 17 significant digits, which read back to the same double.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fl/err.h"
#include "runner_priv.h"

/* ---- a bounded JSON writer ----------------------------------------------- */

void rjson_init(struct r_json *j, char *buf, size_t cap)
{
	j->buf = buf;
	j->cap = cap;
	j->len = 0;
	j->is_full = cap == 0;
	j->need_comma = false;
	if (cap > 0)
		buf[0] = '\0';
}

static void put(struct r_json *j, const char *s, size_t n)
{
	if (j->is_full || j->len + n + 1 > j->cap) {
		j->is_full = true;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void putf(struct r_json *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void putf(struct r_json *j, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		j->is_full = true;
		return;
	}
	put(j, tmp, (size_t)n);
}

static void put_string(struct r_json *j, const char *s)
{
	put(j, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};

			put(j, e, 2);
		} else if (c < 0x20 || c > 0x7e) {
			putf(j, "\\u%04x", c);
		} else {
			put(j, s, 1);
		}
	}
	put(j, "\"", 1);
}

void rjson_key(struct r_json *j, const char *key)
{
	if (j->need_comma)
		put(j, ",", 1);
	j->need_comma = true;
	if (key != NULL) {
		put_string(j, key);
		put(j, ":", 1);
	}
}

void rjson_open(struct r_json *j)
{
	put(j, "{", 1);
	j->need_comma = false;
}

void rjson_close(struct r_json *j)
{
	put(j, "}", 1);
	j->need_comma = true;
}

void rjson_str(struct r_json *j, const char *key, const char *v)
{
	rjson_key(j, key);
	put_string(j, v);
}

void rjson_int(struct r_json *j, const char *key, int64_t v)
{
	rjson_key(j, key);
	putf(j, "%" PRId64, v);
}

void rjson_bool(struct r_json *j, const char *key, bool v)
{
	rjson_key(j, key);
	put(j, v ? "true" : "false", v ? 4 : 5);
}

void rjson_num(struct r_json *j, const char *key, double v)
{
	rjson_key(j, key);
	putf(j, "%.17g", v);
}

void rjson_raw(struct r_json *j, const char *key, const char *raw)
{
	rjson_key(j, key);
	put(j, raw, strlen(raw));
}

static int done(struct r_json *j)
{
	return j->is_full ? FL_ETOOBIG : 0;
}

/* ---- payloads ------------------------------------------------------------ */

int rlog_inv(char *out, size_t cap, const struct fl_inv_device *d)
{
	struct r_json j;

	rjson_init(&j, out, cap);
	rjson_open(&j);
	rjson_str(&j, "id", d->id);
	if (d->model != NULL)
		rjson_str(&j, "model", d->model);
	if (d->tz != NULL)
		rjson_str(&j, "tz", d->tz);
	if (d->version != NULL)
		rjson_str(&j, "version", d->version);
	rjson_bool(&j, "online", d->is_online != 0);
	if (d->nlabels > 0) {
		rjson_key(&j, "labels");
		rjson_open(&j);
		for (unsigned i = 0; i < d->nlabels; i++)
			rjson_str(&j, d->labels[i].key, d->labels[i].value);
		rjson_close(&j);
	}
	rjson_close(&j);
	return done(&j);
}

int rlog_event(char *out, size_t cap, const struct fl_event *ev,
	       const struct fl_status *from, uint32_t job)
{
	struct r_json j;

	rjson_init(&j, out, cap);
	rjson_open(&j);
	if (job != 0)
		rjson_int(&j, "job", job);
	if (from != NULL) {
		const char *state = fl_update_state_name(from->state);
		const char *result = fl_result_name(from->result);

		rjson_str(&j, "state", state != NULL ? state : "?");
		if (from->result != FL_RESULT_NONE)
			rjson_str(&j, "result", result != NULL ? result : "?");
		if (from->reason[0] != '\0')
			rjson_str(&j, "reason", from->reason);
	}
	if (ev->kind == FL_EV_FAILED && ev->reason != 0)
		rjson_int(&j, "fail", ev->reason);
	if (ev->retry_at_s != 0)
		rjson_int(&j, "retry_at", ev->retry_at_s);
	if (ev->kind == FL_EV_HEALTH) {
		rjson_key(&j, "metrics");
		rjson_open(&j);
		for (unsigned i = 0; i < ev->nmetrics; i++)
			rjson_num(&j, ev->metrics[i].name,
				  ev->metrics[i].value);
		rjson_close(&j);
	}
	if (ev->name != NULL)
		rjson_str(&j, "name", ev->name);
	if (ev->who != NULL)
		rjson_str(&j, "who", ev->who);
	rjson_close(&j);
	return done(&j);
}

int rlog_decision(char *out, size_t cap, const struct fl_decision *d,
		  uint32_t job, uint64_t rbm)
{
	struct r_json j;

	rjson_init(&j, out, cap);
	rjson_open(&j);
	if (d->stage != FL_ENGINE_NO_STAGE)
		rjson_int(&j, "stage", d->stage);
	if (d->why != 0)
		rjson_int(&j, "why", d->why);
	if (d->ref != 0)
		rjson_int(&j, "ref", d->ref);
	if (d->until_s == FL_ENGINE_NEVER)
		rjson_raw(&j, "until", "null");
	else if (d->until_s != 0)
		rjson_int(&j, "until", d->until_s);
	if (job != 0)
		rjson_int(&j, "job", job);
	if (rbm != 0)
		rjson_int(&j, "rbm", (int64_t)rbm);
	rjson_close(&j);
	return done(&j);
}

static int env_json(char *out, size_t cap, const struct fl_manifest_env *env)
{
	return fl_manifest_env_encode(out, cap, NULL, env);
}

int rlog_rbm(char *out, size_t cap, const struct r_rbm *m)
{
	char env[FL_STORE_MANIFEST_MAX];
	struct r_json j;
	int err = env_json(env, sizeof(env), &m->env);

	if (err != 0)
		return err;
	rjson_init(&j, out, cap);
	rjson_open(&j);
	rjson_str(&j, "sha256", m->sha256);
	rjson_str(&j, "model", m->model);
	rjson_int(&j, "seq", (int64_t)m->seq);
	rjson_raw(&j, "manifest", env);
	rjson_close(&j);
	return done(&j);
}

int rlog_append(struct fl_runner *r, uint8_t type, uint16_t kind,
		const char *rollout, const char *device, int64_t at,
		const char *payload)
{
	struct fl_store_event ev;
	size_t n;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.kind = kind;
	ev.at_s = at;
	n = strlen(rollout);
	memcpy(ev.rollout, rollout, n + 1);
	if (device != NULL) {
		n = strlen(device);
		if (n >= sizeof(ev.device))
			return FL_EINVAL;
		memcpy(ev.device, device, n + 1);
	}
	n = strlen(payload);
	if (n >= sizeof(ev.payload))
		return FL_ETOOBIG;
	memcpy(ev.payload, payload, n + 1);
	return fl_store_event_append(r->st, &ev, NULL);
}

/* ---- reading payloads ---------------------------------------------------- */

static const cJSON *item(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

static int64_t int_of(const cJSON *o, const char *key, int64_t dflt)
{
	const cJSON *v = item(o, key);

	if (cJSON_IsNull(v))
		return FL_ENGINE_NEVER;
	if (!cJSON_IsNumber(v))
		return dflt;
	return (int64_t)v->valuedouble;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = item(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- the replay ---------------------------------------------------------- */

struct replay {
	struct fl_runner *r;
	struct r_rollout *ro;
	struct fl_store_event *page;
	size_t n_page;
	struct fl_decision *exp; /* what the last replayed step decided */
	size_t n_exp, i_exp;
	uint64_t seq; /* the record being replayed */
	/* the rollback manifest each member was given last (its seq; 0
	 * none), resolved once every manifest note is read */
	uint64_t *given;
	size_t cap_given;
};

static int page_cb(void *ctx, const struct fl_store_event *e)
{
	struct replay *rp = ctx;

	if (rp->n_page >= R_REPLAY_PAGE)
		return FL_ETOOBIG; /* cannot happen: the limit is the page */
	rp->page[rp->n_page++] = *e;
	return 0;
}

static int corrupt(struct replay *rp, const char *why)
{
	runner__log(rp->r, NULL, "rollout %s: event %" PRIu64 ": %s",
		    rp->ro->name, rp->seq, why);
	return FL_ECORRUPT;
}

static int replay_inv(struct replay *rp, const cJSON *o, const char *device)
{
	struct fl_inv_label labels[FL_ENGINE_MAX_DEV_LABELS];
	struct fl_inv_device d;
	const cJSON *ls = item(o, "labels"), *l;
	const cJSON *online = item(o, "online");
	uint32_t gdev;

	memset(&d, 0, sizeof(d));
	d.id = str_of(o, "id");
	if (d.id == NULL || strcmp(d.id, device) != 0 ||
	    runner__dev(rp->r, d.id, true, &gdev) == NULL)
		return corrupt(rp, "a bad inventory entry");
	d.model = str_of(o, "model");
	d.tz = str_of(o, "tz");
	d.version = str_of(o, "version");
	d.is_online = cJSON_IsTrue(online) ? 1 : 0;
	d.labels = labels;
	cJSON_ArrayForEach(l, ls)
	{
		if (d.nlabels >= FL_ENGINE_MAX_DEV_LABELS ||
		    !cJSON_IsString(l) || l->string == NULL)
			return corrupt(rp, "a bad inventory label");
		labels[d.nlabels].key = l->string;
		labels[d.nlabels++].value = l->valuestring;
	}
	return runner__inv_add(rp->ro, &d, gdev);
}

static int replay_manifest(struct replay *rp, const cJSON *o,
			   struct fl_manifest_env *env, uint64_t *seq)
{
	const cJSON *m = item(o, "manifest");
	char *text;
	int err;

	if (!cJSON_IsObject(m))
		return corrupt(rp, "a manifest note without a manifest");
	text = cJSON_PrintUnformatted(m);
	if (text == NULL)
		return FL_ENOMEM;
	err = fl_manifest_env_decode(env, text, strlen(text), NULL);
	cJSON_free(text);
	if (err != 0)
		return corrupt(rp, "a manifest note with a bad envelope");
	*seq = (uint64_t)int_of(o, "seq", 0);
	return 0;
}

static int replay_rbm(struct replay *rp, const cJSON *o)
{
	struct r_rollout *ro = rp->ro;
	struct r_rbm m;
	const char *sha = str_of(o, "sha256"), *model = str_of(o, "model");
	int err;

	memset(&m, 0, sizeof(m));
	if (sha == NULL || model == NULL || strlen(sha) >= sizeof(m.sha256) ||
	    strlen(model) >= sizeof(m.model))
		return corrupt(rp, "a bad rollback manifest note");
	memcpy(m.sha256, sha, strlen(sha) + 1);
	memcpy(m.model, model, strlen(model) + 1);
	err = replay_manifest(rp, o, &m.env, &m.seq);
	if (err != 0)
		return err;
	m.is_logged = 1;
	if (ro->n_rbm == ro->cap_rbm) {
		size_t cap = ro->cap_rbm ? ro->cap_rbm * 2 : 4;
		struct r_rbm *v = realloc(ro->rbm, cap * sizeof(*v));

		if (v == NULL)
			return FL_ENOMEM;
		ro->rbm = v;
		ro->cap_rbm = cap;
	}
	ro->rbm[ro->n_rbm++] = m;
	return 0;
}

/* Member dev was given the rollback manifest numbered seq. */
static int note_given(struct replay *rp, uint32_t dev, int64_t seq)
{
	if (seq <= 0 || dev >= rp->ro->n_inv)
		return corrupt(rp, "a bad rollback manifest number");
	if (dev >= rp->cap_given) {
		size_t cap = rp->cap_given ? rp->cap_given : 1024;
		uint64_t *v;

		while (cap <= dev)
			cap *= 2;
		v = realloc(rp->given, cap * sizeof(*v));
		if (v == NULL)
			return FL_ENOMEM;
		memset(v + rp->cap_given, 0,
		       (cap - rp->cap_given) * sizeof(*v));
		rp->given = v;
		rp->cap_given = cap;
	}
	rp->given[dev] = (uint64_t)seq;
	return 0;
}

/* Each member's rollback manifest, by its number, as the log last gave
 * it. */
static int resolve_given(struct replay *rp)
{
	struct r_rollout *ro = rp->ro;

	for (size_t k = 0; k < rp->cap_given && k < ro->n_inv; k++) {
		size_t i = ro->n_rbm;

		if (rp->given[k] == 0)
			continue;
		while (i > 0 && ro->rbm[i - 1].seq != rp->given[k])
			i--;
		if (i == 0)
			return corrupt(rp, "a rollback manifest that the log "
					   "does not hold");
		ro->mem[k].rbm = i - 1 < UINT16_MAX ? (uint16_t)i : 0;
	}
	return 0;
}

static int replay_note(struct replay *rp, const struct fl_store_event *e,
		       const cJSON *o)
{
	struct r_rollout *ro = rp->ro;
	int64_t n;
	size_t k = 0;
	int err;

	switch (e->kind) {
	case FL_RUNNER_NOTE_MANIFEST:
		return replay_manifest(rp, o, &ro->env, &ro->seq);
	case FL_RUNNER_NOTE_INV: return replay_inv(rp, o, e->device);
	case FL_RUNNER_NOTE_CREATE:
		n = int_of(o, "n", -1);
		if (ro->eng != NULL || n != (int64_t)ro->n_inv)
			return corrupt(rp, "a create that does not fit");
		{
			struct fl_engine_config ec = {rp->r->cfg.tz, NULL, NULL,
						      NULL};

			err = fl_engine_create(&ro->eng, ro->plan, &ec, ro->inv,
					       ro->n_inv);
		}
		if (err == FL_EINVAL)
			return corrupt(rp, "the engine refuses the plan");
		if (err != 0)
			return err;
		ro->n_synced = ro->n_inv;
		ro->is_dirty = true;
		return 0;
	case FL_RUNNER_NOTE_SYNC:
		n = int_of(o, "n", -1);
		if (ro->eng == NULL || n != (int64_t)ro->n_inv)
			return corrupt(rp, "a sync that does not fit");
		err = fl_engine_sync_inventory(ro->eng, ro->inv, ro->n_inv);
		if (err == FL_EINVAL)
			return corrupt(rp, "the engine refuses an entry");
		if (err != 0)
			return err;
		ro->n_synced = ro->n_inv;
		ro->is_dirty = true;
		return 0;
	case FL_RUNNER_NOTE_STEP:
		n = int_of(o, "max", -1);
		if (ro->eng == NULL || n < 1 || n > R_STEP_MAX)
			return corrupt(rp, "a step that does not fit");
		err = fl_engine_step(ro->eng, e->at_s, rp->exp, (size_t)n, &k,
				     &ro->next_wake);
		if (err == FL_EINVAL)
			return corrupt(rp, "the engine refuses a step");
		if (err != 0)
			return err;
		rp->n_exp = k;
		rp->i_exp = 0;
		ro->is_dirty = false;
		return 0;
	case FL_RUNNER_NOTE_RB_MANIFEST: return replay_rbm(rp, o);
	case FL_RUNNER_NOTE_RB_GIVEN: {
		uint32_t dev;

		if (ro->eng == NULL ||
		    fl_engine_lookup(ro->eng, e->device, &dev) != 0)
			return corrupt(rp, "a manifest given to an unknown "
					   "device");
		return note_given(rp, dev, int_of(o, "seq", 0));
	}
	default: return 0; /* for people */
	}
}

static int replay_input(struct replay *rp, const struct fl_store_event *e,
			const cJSON *o)
{
	struct fl_metric_value mv[FL_ENGINE_MAX_METRICS];
	struct r_rollout *ro = rp->ro;
	struct fl_event ev;
	const cJSON *ms = item(o, "metrics"), *m;
	uint32_t dev = FL_ENGINE_NO_DEV;

	if (ro->eng == NULL)
		return corrupt(rp, "an event before the engine");
	memset(&ev, 0, sizeof(ev));
	ev.kind = (uint8_t)e->kind;
	ev.at_s = e->at_s;
	ev.reason = (uint8_t)int_of(o, "fail", 0);
	ev.retry_at_s = int_of(o, "retry_at", 0);
	ev.name = str_of(o, "name");
	ev.who = str_of(o, "who");
	ev.metrics = mv;
	cJSON_ArrayForEach(m, ms)
	{
		if (ev.nmetrics >= FL_ENGINE_MAX_METRICS ||
		    !cJSON_IsNumber(m) || m->string == NULL)
			return corrupt(rp, "a bad metric");
		mv[ev.nmetrics].name = m->string;
		mv[ev.nmetrics++].value = m->valuedouble;
	}
	if (ev.kind >= FL_EV_ACKED && ev.kind <= FL_EV_OFFLINE) {
		/* as when it was first applied: a device the engine does
		 * not have is skipped */
		if (fl_engine_lookup(ro->eng, e->device, &dev) != 0) {
			ro->is_dirty = true;
			return 0;
		}
		ev.dev = dev;
	}
	(void)fl_engine_apply(ro->eng, &ev);
	ro->is_dirty = true;
	if (ev.kind == FL_EV_ROLLBACK)
		ro->rb_requested = true;
	else if (ev.kind == FL_EV_CANCEL)
		ro->cancel_requested = true;
	return 0;
}

static int replay_decision(struct replay *rp, const struct fl_store_event *e,
			   const cJSON *o)
{
	struct r_rollout *ro = rp->ro;
	const struct fl_decision *d;
	uint32_t dev = FL_ENGINE_NO_DEV;
	int64_t stage = int_of(o, "stage", FL_ENGINE_NO_STAGE);
	int64_t job = int_of(o, "job", 0);

	if (rp->i_exp >= rp->n_exp)
		return corrupt(rp, "a decision the replayed step did not take");
	d = &rp->exp[rp->i_exp++];
	if (e->device[0] != '\0' &&
	    fl_engine_lookup(ro->eng, e->device, &dev) != 0)
		return corrupt(rp, "a decision about an unknown device");
	if (d->kind != e->kind || d->at_s != e->at_s || d->dev != dev ||
	    d->stage != stage || d->why != int_of(o, "why", 0) ||
	    d->ref != int_of(o, "ref", 0) ||
	    d->until_s != int_of(o, "until", 0))
		return corrupt(rp, "the replayed step decided otherwise");
	if (job < 0 || job > UINT32_MAX)
		return corrupt(rp, "a bad job id");
	runner__effects(rp->r, ro, d, (uint32_t)job);
	if (d->kind == FL_DEC_ROLLBACK_DEVICE && job != 0 &&
	    item(o, "rbm") != NULL)
		return note_given(rp, dev, int_of(o, "rbm", 0));
	return 0;
}

static int replay_one(struct replay *rp, const struct fl_store_event *e)
{
	cJSON *o = NULL;
	int err;

	rp->seq = e->seq;
	if (e->type != FL_STORE_EV_DECISION && rp->i_exp < rp->n_exp)
		return corrupt(rp, "the replayed step decided more");
	if (e->type == FL_STORE_EV_NOTE && e->kind < FL_RUNNER_NOTE_MANIFEST)
		return 0; /* someone else's note */
	/* entries are synced before the engine is used again (the array
	 * may have moved) */
	if (rp->ro->n_synced != rp->ro->n_inv && rp->ro->eng != NULL &&
	    !(e->type == FL_STORE_EV_NOTE && (e->kind == FL_RUNNER_NOTE_INV ||
					      e->kind == FL_RUNNER_NOTE_SYNC)))
		return corrupt(rp, "entries used before they were synced");
	o = cJSON_ParseWithLength(e->payload, strlen(e->payload));
	if (o == NULL && e->payload[0] != '\0')
		return corrupt(rp, "a payload that is not JSON");
	switch (e->type) {
	case FL_STORE_EV_NOTE: err = replay_note(rp, e, o); break;
	case FL_STORE_EV_INPUT: err = replay_input(rp, e, o); break;
	case FL_STORE_EV_DECISION: err = replay_decision(rp, e, o); break;
	default: err = corrupt(rp, "an event of an unknown type"); break;
	}
	cJSON_Delete(o);
	return err;
}

int rlog_replay(struct fl_runner *r, struct r_rollout *ro)
{
	struct replay rp;
	uint64_t after = 0;
	int err = 0;

	memset(&rp, 0, sizeof(rp));
	rp.r = r;
	rp.ro = ro;
	rp.page = malloc(R_REPLAY_PAGE * sizeof(*rp.page));
	rp.exp = malloc(R_STEP_MAX * sizeof(*rp.exp));
	if (rp.page == NULL || rp.exp == NULL) {
		err = FL_ENOMEM;
		goto out;
	}
	ro->next_wake = FL_ENGINE_NEVER;
	for (;;) {
		rp.n_page = 0;
		err = fl_store_events_after(r->st, ro->name, after,
					    R_REPLAY_PAGE, page_cb, &rp);
		if (err != 0)
			goto out;
		for (size_t i = 0; i < rp.n_page; i++) {
			err = replay_one(&rp, &rp.page[i]);
			if (err != 0)
				goto out;
			after = rp.page[i].seq;
		}
		if (rp.n_page < R_REPLAY_PAGE)
			break;
	}
	if (rp.i_exp < rp.n_exp)
		err = corrupt(&rp, "the replayed step decided more");
	else if (ro->eng == NULL)
		err = corrupt(&rp, "no engine was created");
	else if (ro->n_synced != ro->n_inv)
		err = corrupt(&rp, "entries never synced");
	else
		err = resolve_given(&rp);
out:
	free(rp.page);
	free(rp.exp);
	free(rp.given);
	return err;
}
