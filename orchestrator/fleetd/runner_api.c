/*
 * runner_api.c -- the runner's operator side: starting a rollout from a
 * plan and an uploaded image (validation, inventory, overlap with active
 * rollouts, the sealed manifest, all recorded in one transaction),
 * operator actions (pause, resume, approve, rollback, cancel: applied,
 * logged and committed, a repeat changing nothing and logged not), and
 * the views the API and the dashboard read (live from the engine, or from
 * the store for a rollout that is no longer loaded).
 *
 * Errors carry what the API answers (struct fl_runner_error: HTTP status,
 * code and message of docs/api.md).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/seal.h"
#include "runner_priv.h"

static void set_error(struct fl_runner_error *err, int status, const char *code,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set_error(struct fl_runner_error *err, int status, const char *code,
		      const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->http_status = status;
	runner__copy(err->code, sizeof(err->code), code);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* ---- actions ------------------------------------------------------------- */

static bool is_printable(const char *s, size_t cap)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e ||
		    n + 1 >= cap)
			return false;
	return true;
}

/* A plan with four_eyes refuses an approval by who started the rollout
 * (403, nothing changed). 0, FL_ESTATE or a store error, *err filled. */
static int four_eyes(struct fl_runner *r, const struct r_rollout *ro,
		     const char *what, const char *who,
		     struct fl_runner_error *err)
{
	struct fl_store_rollout *x;
	int rc;

	if (!ro->plan->is_four_eyes)
		return 0;
	x = malloc(sizeof(*x));
	rc = x == NULL ? FL_ENOMEM : fl_store_rollout_get(r->st, ro->name, x);
	if (rc != 0) {
		free(x);
		set_error(err, 500, "internal", "the store failed: %s",
			  fl_store_errmsg(r->st));
		return rc;
	}
	if (strcmp(x->started_by, who) == 0) {
		set_error(err, 403, "four_eyes",
			  "four eyes: '%s' started rollout '%s' and may not "
			  "also approve '%s' (the plan sets four_eyes)",
			  who, ro->name, what);
		rc = FL_ESTATE;
	}
	free(x);
	return rc;
}

int fl_runner_action(struct fl_runner *r, const char *rollout, int action,
		     const char *arg, const char *who, int64_t now_s,
		     bool *changed, struct fl_runner_error *err)
{
	char payload[FL_STORE_PAYLOAD_MAX];
	struct fl_runner_error local;
	const struct fl_engine_approval *ap;
	struct fl_engine_status s;
	struct r_rollout *ro;
	struct fl_event ev;
	unsigned n_before = 0, n_after = 0;
	bool dummy;
	int rc;

	if (err == NULL)
		err = &local;
	if (changed == NULL)
		changed = &dummy;
	memset(err, 0, sizeof(*err));
	*changed = false;
	if (r == NULL || rollout == NULL) {
		set_error(err, 400, "bad_request", "no rollout named");
		return FL_EINVAL;
	}
	if (who == NULL)
		who = "";
	if (!is_printable(who, FL_ENGINE_WHO_MAX) ||
	    (arg != NULL && !is_printable(arg, FL_STORE_NAME_MAX)) ||
	    (action == FL_RUNNER_APPROVE && (arg == NULL || arg[0] == '\0')) ||
	    action < FL_RUNNER_PAUSE || action > FL_RUNNER_CANCEL) {
		set_error(err, 400, "bad_request",
			  "a bad action, name or operator");
		return FL_EINVAL;
	}
	rc = runner__flush(r);
	if (rc != 0) {
		set_error(err, 500, "internal", "the store failed: %s",
			  fl_store_errmsg(r->st));
		return rc;
	}
	ro = runner__rollout_find(r, rollout);
	if (ro == NULL) {
		struct fl_store_rollout *x = malloc(sizeof(*x));

		rc = x == NULL ? FL_ENOMEM
			       : fl_store_rollout_get(r->st, rollout, x);
		free(x);
		if (rc == FL_ENOENT) {
			set_error(err, 404, "not_found",
				  "no rollout named '%s'", rollout);
			return rc;
		}
		if (rc != 0) {
			set_error(err, 500, "internal", "the store failed: %s",
				  fl_store_errmsg(r->st));
			return rc;
		}
		if (action == FL_RUNNER_ROLLBACK)
			return 0; /* rolled back already */
		set_error(err, 409, "conflict", "rollout '%s' has ended",
			  rollout);
		return FL_ESTATE;
	}
	if (ro->is_broken && (rc = runner__rebuild(r, ro)) != 0) {
		set_error(err, 500, "internal",
			  "rollout '%s' cannot be rebuilt", rollout);
		return rc;
	}
	fl_engine_status(ro->eng, &s);
	memset(&ev, 0, sizeof(ev));
	ev.at_s = now_s;
	ev.who = who;
	switch (action) {
	case FL_RUNNER_PAUSE:
		ev.kind = FL_EV_PAUSE;
		if (s.is_paused)
			return 0;
		break;
	case FL_RUNNER_RESUME:
		ev.kind = FL_EV_RESUME;
		if (!s.is_paused)
			return 0;
		break;
	case FL_RUNNER_APPROVE:
		ev.kind = FL_EV_APPROVE;
		ev.name = arg;
		rc = four_eyes(r, ro, arg, who, err);
		if (rc != 0)
			return rc;
		break;
	case FL_RUNNER_ROLLBACK:
		ev.kind = FL_EV_ROLLBACK;
		if (s.state == FL_ROLLOUT_ROLLING_BACK ||
		    s.state == FL_ROLLOUT_ROLLED_BACK || ro->rb_requested)
			return 0;
		break;
	default:
		ev.kind = FL_EV_CANCEL;
		if (s.state == FL_ROLLOUT_CANCELLED || ro->cancel_requested)
			return 0;
		break;
	}
	(void)fl_engine_approvals(ro->eng, &n_before);
	rc = fl_engine_apply(ro->eng, &ev);
	if (rc == FL_ENOENT) {
		set_error(err, 404, "not_found",
			  "rollout '%s' has no stage or hold named '%s'",
			  rollout, arg);
		return rc;
	}
	if (rc == FL_ESTATE) {
		set_error(err, 409, "conflict",
			  action == FL_RUNNER_APPROVE
				  ? "'%s' is not awaiting approval"
				  : "rollout '%s' does not allow it now",
			  action == FL_RUNNER_APPROVE ? arg : rollout);
		return rc;
	}
	if (rc != 0) {
		set_error(err, 400, "bad_request", "refused by the engine");
		return rc;
	}
	ap = fl_engine_approvals(ro->eng, &n_after);
	if (action == FL_RUNNER_APPROVE && n_after == n_before)
		return 0; /* approved before: nothing changed, nothing logged */
	if (ev.kind == FL_EV_ROLLBACK)
		ro->rb_requested = true;
	else if (ev.kind == FL_EV_CANCEL)
		ro->cancel_requested = true;
	ro->is_dirty = true;
	rc = rlog_event(payload, sizeof(payload), &ev, NULL, 0);
	if (rc == 0)
		rc = fl_store_begin(r->st);
	if (rc == 0)
		rc = rlog_append(r, FL_STORE_EV_INPUT, ev.kind, ro->name, NULL,
				 now_s, payload);
	for (unsigned i = n_before; rc == 0 && i < n_after; i++)
		rc = fl_store_approval_add(r->st, ro->name, arg,
					   ap[i].is_hold != 0, who, now_s,
					   NULL);
	if (rc == 0)
		rc = fl_store_commit(r->st);
	if (rc != 0) {
		set_error(err, 500, "internal",
			  "the action was not recorded: %s",
			  fl_store_errmsg(r->st));
		if (r->st->in_txn)
			(void)fl_store_rollback(r->st);
		ro->is_broken = true;
		(void)runner__rebuild(r, ro);
		return rc;
	}
	*changed = true;
	return 0;
}

/* ---- start --------------------------------------------------------------- */

struct start_ctx {
	struct fl_runner *r;
	struct r_rollout *ro;
	unsigned seen;
	char last[FL_STORE_ID_MAX];
};

static int start_cb(void *ctx, const struct fl_store_device *s)
{
	struct start_ctx *c = ctx;
	uint32_t gdev;

	c->seen++;
	runner__copy(c->last, sizeof(c->last), s->id);
	if (s->reported_at_s == FL_STORE_NONE || s->model[0] == '\0')
		return 0; /* joins when it first reports */
	if (runner__dev(c->r, s->id, true, &gdev) == NULL)
		return FL_ENOMEM;
	return runner__inv_from_store(c->ro, s, gdev);
}

/* Devices already in an active rollout of the same component that the
 * new one targets too. */
static unsigned conflicts(struct fl_runner *r, const struct r_rollout *nr,
			  struct fl_runner_error *err)
{
	unsigned n = 0;

	for (size_t i = 0; i < nr->n_inv; i++) {
		struct fl_engine_device d;
		bool hit = false;

		if (fl_engine_device(nr->eng, (uint32_t)i, &d) != 0 ||
		    !d.is_target)
			continue;
		for (size_t k = 0; k < r->n_ro && !hit; k++) {
			const struct r_rollout *o = r->ro[k];
			struct fl_engine_status s;
			struct fl_engine_device od;
			uint32_t dev;

			if (o->eng == NULL ||
			    strcmp(o->plan->artifact.component,
				   nr->plan->artifact.component) != 0 ||
			    fl_engine_lookup(o->eng, nr->inv[i].id, &dev) !=
				    0 ||
			    fl_engine_device(o->eng, dev, &od) != 0)
				continue;
			fl_engine_status(o->eng, &s);
			if (s.state == FL_ROLLOUT_RUNNING ||
			    s.state == FL_ROLLOUT_ROLLING_BACK)
				hit = od.is_target;
			else if (s.state != FL_ROLLOUT_ROLLED_BACK)
				hit = (od.stage != FL_ENGINE_NO_STAGE &&
				       !runner__is_final(od.status)) ||
				      od.rollback == FL_RB_SENT ||
				      od.rollback == FL_RB_UNREACHED;
		}
		if (!hit)
			continue;
		if (n < 20)
			runner__copy(err->conflicts[n],
				     sizeof(err->conflicts[n]), nr->inv[i].id);
		n++;
	}
	err->n_conflicts = n;
	return n;
}

/* Whether a stored artifact's file holds its own bytes (files are named
 * by their digest; an image held only sealed is recorded with its
 * container's path). */
static bool has_plain_copy(const struct fl_store_artifact *a)
{
	const char *base = strrchr(a->path, '/');

	base = base != NULL ? base + 1 : a->path;
	return strcmp(base, a->sha256) == 0;
}

/* How the artifact goes out: *is_sealed and *s when the plan wants it
 * encrypted (and the runner has a key port), else its plain copy. */
static int artifact_form(struct fl_runner *r, const struct fl_plan *p,
			 const struct fl_store_artifact *a,
			 struct fl_runner_sealed *s, bool *is_sealed,
			 struct fl_runner_error *err)
{
	char why[200] = "";
	uint8_t zip;
	int rc;

	*is_sealed = false;
	if (r->cfg.key.sealed == NULL)
		return 0; /* no encryption here: as stored */
	if (!p->artifact.is_encrypted) {
		if (has_plain_copy(a))
			return 0;
		set_error(err, 409, "not_stored",
			  "artifact %.12s is stored encrypted only and the "
			  "plan says encrypt: false: upload it plain (PUT "
			  "?encrypt=false, as fleetctl rollout start does)",
			  a->sha256);
		return FL_ESTATE;
	}
	zip = p->artifact.is_compressed ? FL_SEAL_ZIP_ZSTD : FL_SEAL_ZIP_NONE;
	rc = r->cfg.key.sealed(r->cfg.key_ctx, a->sha256, zip,
			       p->artifact.chunk_bytes, s, why, sizeof(why));
	if (rc == FL_ENOENT && p->artifact.is_compressed &&
	    p->artifact.chunk_bytes == FL_PLAN_CHUNK_DEFAULT) {
		set_error(err, 409, "not_stored",
			  "artifact %.12s is not stored encrypted: upload it "
			  "without ?encrypt=false, or set artifact.encrypt: "
			  "false for devices that cannot decrypt",
			  a->sha256);
		return FL_ESTATE;
	}
	if (rc == FL_ENOENT) {
		set_error(err, 409, "not_stored",
			  "artifact %.12s is not stored encrypted %s in "
			  "chunks of %u bytes, as the plan asks: upload it "
			  "with ?compress=%s&chunk=%u (fleetctl rollout start "
			  "does)",
			  a->sha256,
			  p->artifact.is_compressed ? "with zstd"
						    : "uncompressed",
			  (unsigned)p->artifact.chunk_bytes,
			  p->artifact.is_compressed ? "true" : "false",
			  (unsigned)p->artifact.chunk_bytes);
		return FL_ESTATE;
	}
	if (rc != 0) {
		set_error(err, 500, "internal",
			  "the artifact's content key: %s", why);
		return rc;
	}
	*is_sealed = true;
	return 0;
}

/* The targets that no key can be wrapped for, counted into err. */
static void count_no_key(struct fl_runner *r, const struct r_rollout *ro,
			 struct fl_runner_error *err)
{
	for (size_t i = 0; i < ro->n_inv; i++) {
		struct fl_engine_device d;

		if (fl_engine_device(ro->eng, (uint32_t)i, &d) != 0 ||
		    !d.is_target ||
		    r->cfg.key.can_wrap(r->cfg.key_ctx, ro->inv[i].id,
					rcmd_wrap_group(&ro->inv[i])) == 0)
			continue;
		if (err->n_no_key < 20)
			runner__copy(err->no_key[err->n_no_key],
				     sizeof(err->no_key[0]), ro->inv[i].id);
		err->n_no_key++;
	}
	if (err->n_no_key > 0)
		runner__log(r, NULL,
			    "rollout %s: %u targeted devices have no wrap key "
			    "(%s%s): each fails with no_key when offered",
			    ro->name, err->n_no_key, err->no_key[0],
			    err->n_no_key > 1 ? ", ..." : "");
}

/* The rollout's manifest, before sealing (seq set by the seal). */
static int offer_manifest(struct fl_runner *r, const struct r_rollout *ro,
			  const struct fl_runner_sealed *sealed, int64_t now,
			  struct fl_manifest *m, struct fl_runner_error *err)
{
	const struct fl_plan *p = ro->plan;
	struct fl_proto_diag pd;

	memset(m, 0, sizeof(*m));
	m->v = FL_MANIFEST_BODY_VERSION;
	if (!runner__copy(m->component, sizeof(m->component),
			  p->artifact.component) ||
	    !runner__copy(m->version, sizeof(m->version), p->artifact.version))
		goto bad;
	if (p->artifact.nhardware > FL_MANIFEST_HW_MAX) {
		fl_plan_diags_add(&r->diags, FL_DIAG_ERROR, p->artifact.pos,
				  "`hardware`: a manifest names at most %d "
				  "models; split the rollout",
				  FL_MANIFEST_HW_MAX);
		set_error(err, 422, "invalid_plan",
			  "the plan does not validate");
		err->diags = &r->diags;
		return FL_EINVAL;
	}
	m->n_hardware = p->artifact.nhardware;
	for (unsigned i = 0; i < p->artifact.nhardware; i++)
		if (!runner__copy(m->hardware[i], sizeof(m->hardware[i]),
				  p->artifact.hardware[i]))
			goto bad;
	m->length = (uint32_t)ro->length;
	if (fl_hex_decode(m->sha256, sizeof(m->sha256), ro->sha256, 64) != 0)
		goto bad;
	snprintf(m->url, sizeof(m->url), "%s%s", r->cfg.artifact_url,
		 sealed != NULL ? sealed->container : ro->sha256);
	if (sealed != NULL) {
		m->v = FL_MANIFEST_BODY_SEALED;
		m->is_sealed = true;
		m->enc_zip = sealed->zip;
		m->enc_chunk = sealed->chunk;
		m->enc_length = sealed->length;
		if (fl_hex_decode(m->enc_sha256, sizeof(m->enc_sha256),
				  sealed->container, 64) != 0)
			goto bad;
	}
	m->issued = (uint64_t)now;
	m->expires = (uint64_t)(now + r->cfg.manifest_ttl_s);
	m->seq = 1;
	if (p->artifact.from != NULL)
		runner__copy(m->from, sizeof(m->from), p->artifact.from);
	if (fl_manifest_validate(m, &pd) != 0) {
		m->from[0] = '\0'; /* the engine checks `from` anyway */
		if (fl_manifest_validate(m, &pd) != 0)
			goto bad_pd;
	}
	return 0;
bad:
	snprintf(pd.msg, sizeof(pd.msg), "a name or version is too long");
bad_pd:
	set_error(err, 422, "invalid_plan",
		  "the plan cannot be made into a manifest: %s", pd.msg);
	return FL_EINVAL;
}

static int start_record(struct fl_runner *r, struct r_rollout *ro,
			const char *text, size_t len, const char *who,
			int64_t now, struct fl_manifest *m,
			struct fl_store_artifact *a)
{
	char payload[FL_STORE_PAYLOAD_MAX], env[FL_STORE_MANIFEST_MAX];
	uint8_t digest[FL_SHA256_BYTES];
	struct fl_store_rollout *x = calloc(1, sizeof(*x));
	const struct fl_plan *p = ro->plan;
	struct r_json j;
	int err;

	if (x == NULL)
		return FL_ENOMEM;
	runner__copy(x->name, sizeof(x->name), ro->name);
	err = fl_sha256(&fl_crypto_openssl, text, len, digest);
	if (err == 0)
		err = fl_hex_encode(x->plan_sha256, sizeof(x->plan_sha256),
				    digest, sizeof(digest));
	runner__copy(x->artifact_sha256, sizeof(x->artifact_sha256),
		     ro->sha256);
	runner__copy(x->component, sizeof(x->component), p->artifact.component);
	runner__copy(x->version, sizeof(x->version), p->artifact.version);
	x->created_at_s = now;
	x->n_stages = p->nstages;
	for (unsigned k = 0; k < p->nstages; k++)
		runner__copy(x->stages[k].name, sizeof(x->stages[k].name),
			     p->stages[k].name);
	if (err == 0)
		err = fl_store_begin(r->st);
	if (err == 0)
		err = fl_store_rollout_create(r->st, x, text, len);
	free(x);
	if (err == 0)
		err = fl_store_rollout_start(r->st, ro->name, who, now);
	if (err == 0)
		err = rcmd_seal(r, m, &ro->env);
	ro->seq = m->seq;
	if (err == 0)
		err = fl_manifest_env_encode(env, sizeof(env), NULL, &ro->env);
	if (err == 0) {
		runner__copy(a->manifest, sizeof(a->manifest), env);
		err = fl_store_artifact_put(r->st, a);
	}
	if (err == 0) {
		rjson_init(&j, payload, sizeof(payload));
		rjson_open(&j);
		rjson_str(&j, "sha256", ro->sha256);
		rjson_int(&j, "seq", (int64_t)ro->seq);
		rjson_raw(&j, "manifest", env);
		rjson_close(&j);
		err = j.is_full ? FL_ETOOBIG
				: rlog_append(r, FL_STORE_EV_NOTE,
					      FL_RUNNER_NOTE_MANIFEST, ro->name,
					      NULL, now, payload);
	}
	for (size_t i = 0; err == 0 && i < ro->n_inv; i++) {
		err = rlog_inv(payload, sizeof(payload), &ro->inv[i]);
		if (err == 0)
			err = rlog_append(r, FL_STORE_EV_NOTE,
					  FL_RUNNER_NOTE_INV, ro->name,
					  ro->inv[i].id, now, payload);
	}
	if (err == 0) {
		snprintf(payload, sizeof(payload), "{\"n\":%zu}", ro->n_inv);
		err = rlog_append(r, FL_STORE_EV_NOTE, FL_RUNNER_NOTE_CREATE,
				  ro->name, NULL, now, payload);
	}
	if (err == 0)
		err = fl_store_commit(r->st);
	if (err != 0 && r->st->in_txn)
		(void)fl_store_rollback(r->st);
	return err;
}

int fl_runner_start(struct fl_runner *r, const char *plan_text, size_t len,
		    const char *plan_file, const char *artifact_sha256,
		    const char *who, int64_t now_s, struct fl_runner_error *err)
{
	struct fl_engine_config ec;
	struct fl_runner_error local;
	struct fl_store_artifact *a = NULL;
	struct r_rollout *ro = NULL;
	struct fl_runner_sealed sealed;
	bool is_sealed = false;
	struct start_ctx c;
	struct fl_manifest m;
	struct fl_plan *plan = NULL;
	int rc;

	if (err == NULL)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (r == NULL || (plan_text == NULL && len > 0)) {
		set_error(err, 400, "bad_request", "no plan");
		return FL_EINVAL;
	}
	if (who == NULL)
		who = "";
	if (artifact_sha256 == NULL || strlen(artifact_sha256) != 64 ||
	    fl_hex_decode(m.sha256, sizeof(m.sha256), artifact_sha256, 64) !=
		    0 ||
	    strspn(artifact_sha256, "0123456789abcdef") != 64) {
		set_error(err, 400, "bad_request",
			  "artifact_sha256: 64 lower-case hex digits");
		return FL_EINVAL;
	}
	if (!is_printable(who, FL_ENGINE_WHO_MAX)) {
		set_error(err, 400, "bad_request",
			  "who: printable, at most 63");
		return FL_EINVAL;
	}
	rc = runner__flush(r);
	a = malloc(sizeof(*a));
	if (rc == 0 && a == NULL)
		rc = FL_ENOMEM;
	if (rc == 0)
		rc = fl_store_artifact_get(r->st, artifact_sha256, a);
	if (rc == FL_ENOENT) {
		set_error(err, 404, "not_found",
			  "no artifact with digest %s: upload it first",
			  artifact_sha256);
		goto out;
	}
	if (rc != 0)
		goto internal;
	if (a->length == 0 || a->length > UINT32_MAX) {
		rc = FL_EINVAL;
		set_error(err, 422, "invalid_plan",
			  "the artifact has %" PRIu64
			  " bytes; a manifest describes 1 to 4294967295",
			  a->length);
		goto out;
	}
	rc = runner__parse_plan(r, plan_text != NULL ? plan_text : "", len,
				plan_file != NULL ? plan_file : "<plan>",
				a->length, &plan);
	if (rc == FL_EINVAL || rc == FL_ETOOBIG) {
		set_error(err, rc == FL_ETOOBIG ? 413 : 422,
			  rc == FL_ETOOBIG ? "too_large" : "invalid_plan",
			  "the plan does not validate");
		err->diags = &r->diags;
		goto out;
	}
	if (rc != 0)
		goto internal;
	if (runner__rollout_find(r, plan->name) != NULL) {
		rc = FL_EBUSY;
		set_error(err, 409, "conflict", "a rollout named '%s' exists",
			  plan->name);
		goto out;
	}
	rc = artifact_form(r, plan, a, &sealed, &is_sealed, err);
	if (rc != 0)
		goto out;
	ro = runner__rollout_new(plan->name, artifact_sha256, a->length);
	if (ro == NULL) {
		rc = FL_ENOMEM;
		goto internal;
	}
	ro->plan = plan;
	plan = NULL;
	memset(&c, 0, sizeof(c));
	c.r = r;
	c.ro = ro;
	do {
		c.seen = 0;
		rc = fl_store_device_list(r->st, NULL, c.last, 1000, start_cb,
					  &c);
	} while (rc == 0 && c.seen == 1000);
	if (rc != 0)
		goto internal;
	memset(&ec, 0, sizeof(ec));
	ec.tz = r->cfg.tz;
	rc = fl_engine_create(&ro->eng, ro->plan, &ec, ro->inv, ro->n_inv);
	if (rc == FL_EINVAL) {
		set_error(err, 422, "invalid_plan",
			  "the engine cannot run this plan");
		goto out;
	}
	if (rc != 0)
		goto internal;
	ro->n_synced = ro->n_inv;
	if (conflicts(r, ro, err) > 0) {
		rc = FL_EBUSY;
		set_error(err, 409, "conflict",
			  "%u devices are already in an active rollout of "
			  "component %s",
			  err->n_conflicts, ro->plan->artifact.component);
		goto out;
	}
	rc = offer_manifest(r, ro, is_sealed ? &sealed : NULL, now_s, &m, err);
	if (rc != 0)
		goto out;
	if (is_sealed)
		count_no_key(r, ro, err);
	rc = start_record(r, ro, plan_text, len, who, now_s, &m, a);
	if (rc == FL_EBUSY) {
		set_error(err, 409, "conflict", "a rollout named '%s' exists",
			  ro->name);
		goto out;
	}
	if (rc == 0)
		rc = runner__rollout_add(r, ro);
	if (rc != 0)
		goto internal;
	for (unsigned k = 0; k < FL_PLAN_MAX_STAGES; k++) {
		ro->stage_rows[k].started = FL_STORE_NONE;
		ro->stage_rows[k].ended = FL_STORE_NONE;
	}
	ro->is_dirty = true;
	ro = NULL;
	goto out;
internal:
	set_error(err, 500, "internal", "the store failed: %s",
		  fl_store_errmsg(r->st));
out:
	runner__rollout_free(ro);
	fl_plan_free(plan);
	free(a);
	return rc;
}

/* ---- views --------------------------------------------------------------- */

static int view_stored(struct fl_runner *r, const char *rollout,
		       struct fl_runner_view *out)
{
	struct fl_store_rollout *x = malloc(sizeof(*x));
	int err;

	if (x == NULL)
		return FL_ENOMEM;
	err = fl_store_rollout_get(r->st, rollout, x);
	if (err != 0)
		goto out;
	out->status.state = x->state;
	out->status.is_paused = x->is_paused;
	out->status.stage = FL_ENGINE_NO_STAGE;
	out->n_stages = x->n_stages;
	for (unsigned k = 0; k < x->n_stages && k < FL_PLAN_MAX_STAGES; k++) {
		struct fl_engine_stage *g = &out->stages[k];

		g->state = x->stages[k].state;
		g->is_overridden = x->stages[k].is_overridden;
		g->members = x->stages[k].members;
		for (unsigned s = 0; s < FL_DEV_NSTATUS; s++)
			g->count[s] = x->stages[k].count[s];
		g->failed = g->count[FL_DEV_FAILED];
		g->judged = g->failed + g->count[FL_DEV_SUCCEEDED];
		g->started_at_s = x->stages[k].started_at_s;
		out->status.n_members += g->members;
		if (g->state != FL_STAGE_PENDING)
			out->status.stage = (uint16_t)k;
	}
	fl_plan_free(r->view_plan);
	if (runner__stored_plan(r, rollout, x->artifact_sha256, NULL,
				&r->view_plan) != 0)
		r->view_plan = NULL; /* the view goes without */
	out->plan = r->view_plan;
	out->is_encrypted = r->cfg.key.sealed != NULL && out->plan != NULL &&
			    out->plan->artifact.is_encrypted;
out:
	free(x);
	return err;
}

int fl_runner_view(struct fl_runner *r, const char *rollout,
		   struct fl_runner_view *out)
{
	struct r_rollout *ro;
	int err;

	if (r == NULL || rollout == NULL || out == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	out->wait.hold = -1;
	out->rollback_started_s = -1;
	out->rollback_stage = FL_ENGINE_NO_STAGE;
	ro = runner__rollout_find(r, rollout);
	if (ro == NULL)
		return view_stored(r, rollout, out);
	if (ro->is_broken && (err = runner__rebuild(r, ro)) != 0)
		return err;
	fl_engine_status(ro->eng, &out->status);
	out->n_stages = ro->plan->nstages;
	for (unsigned k = 0; k < out->n_stages; k++)
		(void)fl_engine_stage(ro->eng, k, &out->stages[k]);
	if (out->status.is_paused) {
		out->wait.why = FL_WHY_OPERATOR;
		out->wait.stage = out->status.stage;
	} else if (out->status.stage < out->n_stages &&
		   out->stages[out->status.stage].state == FL_STAGE_AWAITING) {
		out->wait.why = FL_WHY_GATE;
		out->wait.stage = out->status.stage;
	} else if (out->status.state == FL_ROLLOUT_RUNNING ||
		   out->status.state == FL_ROLLOUT_COMPLETE) {
		/* the last wait the engine announced for a reason that still
		 * holds members back: held ones for a hold, members waiting
		 * for their offer for a window or the rate */
		uint32_t held = 0, pending = 0;

		for (unsigned k = 0; k < out->n_stages; k++) {
			held += out->stages[k].count[FL_DEV_HELD];
			pending += out->stages[k].count[FL_DEV_PENDING];
		}
		for (unsigned why = FL_WHY_HOLD; why <= FL_WHY_RATE; why++) {
			const struct fl_runner_wait *w = &ro->waits[why];

			if (w->why == FL_WHY_NONE ||
			    w->until_s <= out->status.now_s ||
			    (why == FL_WHY_HOLD ? held : pending) == 0)
				continue;
			out->wait = *w;
			break;
		}
	}
	out->is_encrypted = rcmd_is_sealed(ro);
	out->rollback_started_s = ro->rb_started;
	out->rollback_why = ro->rb_why;
	out->rollback_stage = ro->rb_stage;
	out->plan = ro->plan;
	return 0;
}

int fl_runner_rollback_preview(struct fl_runner *r, const char *rollout,
			       uint32_t *revert, uint32_t *cancel,
			       char first[20][FL_DEVICE_ID_MAX], unsigned *n)
{
	struct r_rollout *ro;
	struct fl_store_rollout *x;
	int err;

	if (r == NULL || rollout == NULL || revert == NULL || cancel == NULL ||
	    n == NULL)
		return FL_EINVAL;
	*revert = *cancel = 0;
	*n = 0;
	ro = runner__rollout_find(r, rollout);
	if (ro == NULL) {
		x = malloc(sizeof(*x));
		err = x == NULL ? FL_ENOMEM
				: fl_store_rollout_get(r->st, rollout, x);
		free(x);
		return err; /* ended: nothing to do */
	}
	if (ro->is_broken && (err = runner__rebuild(r, ro)) != 0)
		return err;
	for (size_t i = 0; i < ro->n_synced; i++) {
		struct fl_engine_device d;
		bool rev, can;

		if (fl_engine_device(ro->eng, (uint32_t)i, &d) != 0)
			continue;
		rev = d.progress >= FL_PROG_INSTALLED &&
		      d.fail_reason != FL_FAIL_REVERTED &&
		      d.rollback == FL_RB_NONE;
		can = !rev && d.was_offered && d.progress < FL_PROG_INSTALLED &&
		      (d.status == FL_DEV_IN_FLIGHT ||
		       d.status == FL_DEV_UNREACHED ||
		       d.status == FL_DEV_DEFERRED) &&
		      ro->mem[i].cancel_at < 0;
		*revert += rev;
		*cancel += can;
		if ((rev || can) && *n < 20 && first != NULL)
			runner__copy(first[(*n)++], FL_DEVICE_ID_MAX,
				     ro->inv[i].id);
	}
	return 0;
}
