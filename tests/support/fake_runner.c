/*
 * fake_runner.c -- the runner's API-facing functions over a real store, for
 * the HTTP tests (see fake_runner.h). Not a model of the engine: just
 * enough state for every answer of docs/api.md to be exercised.
 */
#include "fake_runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl/crypto_openssl.h"
#include "fl/err.h"

#define MAX_ROLLOUTS 8

struct fake_rollout {
	char name[FL_STORE_NAME_MAX];
	struct fl_plan *plan;
	uint8_t state;
	bool is_paused;
	bool is_approved[FL_PLAN_MAX_STAGES];
	int64_t rollback_started_s;
};

struct fl_runner {
	struct fl_store *st;
	struct fake_rollout r[MAX_ROLLOUTS];
	unsigned n;
	struct fl_plan_diags diags;
	int fail_status;
	char fail_code[32];
	unsigned fail_conflicts;
	unsigned calls;
};

int fake_runner_new(struct fl_runner **out, struct fl_store *st)
{
	*out = calloc(1, sizeof(**out));
	if (*out == NULL)
		return FL_ENOMEM;
	(*out)->st = st;
	return 0;
}

void fake_runner_free(struct fl_runner *r)
{
	if (r == NULL)
		return;
	for (unsigned i = 0; i < r->n; i++)
		fl_plan_free(r->r[i].plan);
	free(r);
}

void fake_runner_fail_next(struct fl_runner *r, int http_status,
			   const char *code, unsigned n_conflicts)
{
	r->fail_status = http_status;
	snprintf(r->fail_code, sizeof(r->fail_code), "%s", code);
	r->fail_conflicts = n_conflicts;
}

unsigned fake_runner_calls(const struct fl_runner *r)
{
	return r->calls;
}

static int refuse(struct fl_runner_error *err, int status, const char *code,
		  const char *msg, int rc)
{
	err->http_status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	snprintf(err->message, sizeof(err->message), "%s", msg);
	return rc;
}

static bool take_failure(struct fl_runner *r, struct fl_runner_error *err)
{
	if (r->fail_status == 0)
		return false;
	refuse(err, r->fail_status, r->fail_code, "injected by the test",
	       FL_ESTATE);
	err->n_conflicts = r->fail_conflicts;
	for (unsigned i = 0; i < r->fail_conflicts && i < 20; i++)
		snprintf(err->conflicts[i], sizeof(err->conflicts[i]),
			 "busy-%03u", i);
	r->fail_status = 0;
	return true;
}

static struct fake_rollout *find(struct fl_runner *r, const char *name)
{
	for (unsigned i = 0; i < r->n; i++)
		if (strcmp(r->r[i].name, name) == 0)
			return &r->r[i];
	return NULL;
}

static int log_event(struct fl_runner *r, const char *rollout, uint8_t type,
		     uint16_t kind, int64_t now_s, const char *payload)
{
	struct fl_store_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.kind = kind;
	ev.at_s = now_s;
	snprintf(ev.rollout, sizeof(ev.rollout), "%s", rollout);
	snprintf(ev.payload, sizeof(ev.payload), "%s", payload);
	return fl_store_event_append(r->st, &ev, NULL);
}

int fl_runner_start(struct fl_runner *r, const char *plan_text, size_t len,
		    const char *plan_file, const char *artifact_sha256,
		    const char *who, int64_t now_s, struct fl_runner_error *err)
{
	static struct fl_store_rollout sr;
	struct fl_store_artifact a;
	struct fake_rollout *x;
	struct fl_plan *plan = NULL;
	uint8_t digest[32];
	char payload[128];
	int rc;

	(void)plan_file;
	r->calls++;
	memset(err, 0, sizeof(*err));
	if (take_failure(r, err))
		return FL_ESTATE;
	rc = fl_plan_parse(plan_text, len, NULL, &plan, &r->diags);
	if (rc != 0) {
		err->diags = &r->diags;
		return refuse(err, 422, "invalid_plan", "the plan is invalid",
			      rc);
	}
	if (fl_store_artifact_get(r->st, artifact_sha256, &a) != 0) {
		fl_plan_free(plan);
		return refuse(err, 400, "bad_request",
			      "no artifact with that digest", FL_ENOENT);
	}
	if (find(r, plan->name) != NULL || r->n == MAX_ROLLOUTS) {
		fl_plan_free(plan);
		return refuse(err, 409, "conflict",
			      "a rollout of that name "
			      "exists",
			      FL_EBUSY);
	}
	memset(&sr, 0, sizeof(sr));
	snprintf(sr.name, sizeof(sr.name), "%s", plan->name);
	(void)fl_sha256(&fl_crypto_openssl, plan_text, len, digest);
	(void)fl_hex_encode(sr.plan_sha256, sizeof(sr.plan_sha256), digest,
			    sizeof(digest));
	snprintf(sr.artifact_sha256, sizeof(sr.artifact_sha256), "%s",
		 artifact_sha256);
	snprintf(sr.component, sizeof(sr.component), "%s",
		 plan->artifact.component);
	snprintf(sr.version, sizeof(sr.version), "%s", plan->artifact.version);
	sr.created_at_s = now_s;
	sr.n_stages = plan->nstages;
	for (unsigned i = 0; i < plan->nstages; i++)
		snprintf(sr.stages[i].name, sizeof(sr.stages[i].name), "%s",
			 plan->stages[i].name);
	rc = fl_store_rollout_create(r->st, &sr, plan_text, len);
	if (rc == 0)
		rc = fl_store_rollout_start(r->st, sr.name, who, now_s);
	if (rc == 0)
		rc = fl_store_stage_set(r->st, sr.name, 0, FL_STAGE_RUNNING,
					false, now_s, FL_STORE_NONE);
	snprintf(payload, sizeof(payload), "{\"n\":0}");
	if (rc == 0)
		rc = log_event(r, sr.name, FL_STORE_EV_NOTE,
			       FL_RUNNER_NOTE_CREATE, now_s, payload);
	if (rc != 0) {
		fl_plan_free(plan);
		return refuse(err, 500, "internal", "the store failed", rc);
	}
	x = &r->r[r->n++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", plan->name);
	x->plan = plan;
	x->state = FL_ROLLOUT_RUNNING;
	x->rollback_started_s = -1;
	return 0;
}

int fl_runner_action(struct fl_runner *r, const char *rollout, int action,
		     const char *arg, const char *who, int64_t now_s,
		     bool *changed, struct fl_runner_error *err)
{
	struct fake_rollout *x = find(r, rollout);
	bool is_ended;
	char payload[256];
	uint16_t kind;
	int rc;

	r->calls++;
	memset(err, 0, sizeof(*err));
	*changed = false;
	if (take_failure(r, err))
		return FL_ESTATE;
	if (x == NULL)
		return refuse(err, 404, "not_found", "no such rollout",
			      FL_ENOENT);
	is_ended = x->state == FL_ROLLOUT_CANCELLED ||
		   x->state == FL_ROLLOUT_ROLLED_BACK;
	switch (action) {
	case FL_RUNNER_PAUSE:
	case FL_RUNNER_RESUME:
		if (is_ended)
			return refuse(err, 409, "conflict",
				      "the rollout has ended", FL_ESTATE);
		if (x->is_paused == (action == FL_RUNNER_PAUSE))
			return 0;
		x->is_paused = action == FL_RUNNER_PAUSE;
		kind = action == FL_RUNNER_PAUSE ? FL_EV_PAUSE : FL_EV_RESUME;
		break;
	case FL_RUNNER_APPROVE: {
		unsigned i;

		for (i = 0; i < x->plan->nstages; i++)
			if (strcmp(x->plan->stages[i].name, arg) == 0)
				break;
		if (i == x->plan->nstages)
			return refuse(err, 404, "not_found",
				      "no stage or hold of that name",
				      FL_ENOENT);
		if (!x->plan->stages[i].approval_required)
			return refuse(err, 409, "conflict",
				      "that stage needs no approval",
				      FL_ESTATE);
		if (x->is_approved[i])
			return 0;
		x->is_approved[i] = true;
		rc = fl_store_approval_add(r->st, rollout, arg, false, who,
					   now_s, NULL);
		if (rc != 0)
			return refuse(err, 500, "internal", "store", rc);
		kind = FL_EV_APPROVE;
		break;
	}
	case FL_RUNNER_ROLLBACK:
		if (x->state == FL_ROLLOUT_ROLLING_BACK ||
		    x->state == FL_ROLLOUT_ROLLED_BACK)
			return 0;
		x->state = FL_ROLLOUT_ROLLING_BACK;
		x->rollback_started_s = now_s;
		kind = FL_EV_ROLLBACK;
		break;
	case FL_RUNNER_CANCEL:
		if (x->state == FL_ROLLOUT_CANCELLED)
			return 0;
		if (is_ended)
			return refuse(err, 409, "conflict",
				      "the rollout has ended", FL_ESTATE);
		x->state = FL_ROLLOUT_CANCELLED;
		kind = FL_EV_CANCEL;
		break;
	default:
		return refuse(err, 400, "bad_request", "unknown action",
			      FL_EINVAL);
	}
	snprintf(payload, sizeof(payload), "{\"who\":\"%s\"%s%s%s}", who,
		 arg ? ",\"name\":\"" : "", arg ? arg : "", arg ? "\"" : "");
	rc = fl_store_rollout_set_state(r->st, rollout, x->state, x->is_paused,
					x->state == FL_ROLLOUT_CANCELLED,
					now_s);
	if (rc == 0)
		rc = log_event(r, rollout, FL_STORE_EV_INPUT, kind, now_s,
			       payload);
	if (rc != 0)
		return refuse(err, 500, "internal", "store", rc);
	*changed = true;
	return 0;
}

struct count_walk {
	struct fl_runner_view *v;
	uint32_t revert, cancel;
	char (*first)[FL_DEVICE_ID_MAX];
	unsigned n;
};

static int count_cb(void *ctx, const struct fl_store_member *m)
{
	struct count_walk *w = ctx;

	if (w->v != NULL && m->stage < w->v->n_stages &&
	    m->status < FL_DEV_NSTATUS) {
		w->v->stages[m->stage].members++;
		w->v->stages[m->stage].count[m->status]++;
		w->v->status.n_members++;
		if (m->status == FL_DEV_SUCCEEDED ||
		    m->status == FL_DEV_FAILED) {
			w->v->stages[m->stage].judged++;
			w->v->stages[m->stage].failed +=
				m->status == FL_DEV_FAILED;
		}
	}
	if (m->progress >= FL_PROG_INSTALLED)
		w->revert++;
	else if (m->status == FL_DEV_IN_FLIGHT)
		w->cancel++;
	else
		return 0;
	if (w->first != NULL && w->n < 20)
		snprintf(w->first[w->n++], FL_DEVICE_ID_MAX, "%s", m->device);
	return 0;
}

int fl_runner_view(struct fl_runner *r, const char *rollout,
		   struct fl_runner_view *out)
{
	struct fake_rollout *x = find(r, rollout);
	struct count_walk w;

	if (x == NULL)
		return FL_ENOENT;
	memset(out, 0, sizeof(*out));
	out->plan = x->plan;
	out->n_stages = x->plan->nstages;
	out->status.state = x->state;
	out->status.is_paused = x->is_paused;
	out->status.stage = 0;
	for (unsigned i = 0; i < out->n_stages; i++) {
		out->stages[i].state =
			i == 0 ? FL_STAGE_RUNNING : FL_STAGE_PENDING;
		out->stages[i].started_at_s = i == 0 ? 1795436410 : -1;
	}
	out->wait.why = x->is_paused ? FL_WHY_OPERATOR : FL_WHY_NONE;
	out->wait.hold = -1;
	out->rollback_started_s = x->rollback_started_s;
	out->rollback_why = FL_WHY_OPERATOR;
	memset(&w, 0, sizeof(w));
	w.v = out;
	if (fl_store_member_list(r->st, rollout, NULL, 0, FL_STORE_PAGE_MAX,
				 count_cb, &w) != 0)
		return FL_EIO;
	out->status.n_targets = out->status.n_members;
	out->status.n_rollback_sent = x->rollback_started_s >= 0 ? w.revert : 0;
	return 0;
}

int fl_runner_rollback_preview(struct fl_runner *r, const char *rollout,
			       uint32_t *revert, uint32_t *cancel,
			       char first[20][FL_DEVICE_ID_MAX], unsigned *n)
{
	struct count_walk w;

	if (find(r, rollout) == NULL)
		return FL_ENOENT;
	memset(&w, 0, sizeof(w));
	w.first = first;
	if (fl_store_member_list(r->st, rollout, NULL, 0, FL_STORE_PAGE_MAX,
				 count_cb, &w) != 0)
		return FL_EIO;
	*revert = w.revert;
	*cancel = w.cancel;
	*n = w.n;
	return 0;
}
