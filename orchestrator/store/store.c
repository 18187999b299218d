/*
 * store.c -- the store's front: argument checks done once for every
 * backend, the transaction state, dispatch to the backend's table, and the
 * bounded report queue.
 *
 * A backend may trust what reaches it: every string is NUL-terminated
 * within its bound and not empty where a name is required, every digest
 * is 64 lowercase hex digits, every limit is 1..FL_STORE_PAGE_MAX, and
 * begin/commit/rollback come only in a valid order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl/err.h"
#include "fl/proto.h"
#include "fl/store.h"

/* The store's bounds are the protocol's (the plan language's are checked
 * in store_sqlite.c). */
_Static_assert(FL_STORE_ID_MAX == FL_DEVICE_ID_MAX, "device id");
_Static_assert(FL_STORE_WORD_MAX == FL_PROTO_NAME_MAX, "idents");
_Static_assert(FL_STORE_VERSION_MAX == FL_PROTO_VERSION_MAX, "versions");
_Static_assert(FL_STORE_TZ_MAX == FL_PROTO_TZ_MAX, "zones");
_Static_assert(FL_STORE_VALUE_MAX == FL_PROTO_LABEL_VALUE_MAX &&
		       FL_STORE_VALUE_MAX == FL_PROTO_REASON_MAX,
	       "label values, reasons");
_Static_assert(FL_STORE_JSON_MAX == FL_PROTO_MSG_MAX + 1, "payloads");
_Static_assert(FL_STORE_PAYLOAD_MAX > FL_PROTO_MSG_MAX, "a report fits");
_Static_assert(FL_STORE_DEV_LABELS == FL_PROTO_LABELS_MAX, "labels");
_Static_assert(FL_STORE_COMPONENTS == FL_PROTO_COMPONENTS_MAX, "components");
_Static_assert(FL_STORE_SLOTS == FL_PROTO_SLOTS_MAX, "slots");
_Static_assert((int)FL_STORE_JOB_OFFER == (int)FL_CMD_OFFER &&
		       (int)FL_STORE_JOB_ROLLBACK == (int)FL_CMD_ROLLBACK,
	       "job types are command types");

struct fl_store_queue {
	size_t n, capacity;
	struct fl_store_report *items;
};

static int fail(struct fl_store *st, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct fl_store *st, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

/* Is s a NUL-terminated string of at most cap-1 chars? */
static bool fits(const char *s, size_t cap)
{
	return s != NULL && memchr(s, '\0', cap) != NULL;
}

/* Printable ASCII (no control characters), 0..cap-1 chars. */
static bool is_text(const char *s, size_t cap)
{
	if (!fits(s, cap))
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7E)
			return false;
	return true;
}

/* A name: 1..cap-1 printable chars. */
static bool is_name(const char *s, size_t cap)
{
	return is_text(s, cap) && s[0] != '\0';
}

/* NULL or "" (none), else a name. */
static bool is_opt_name(const char *s, size_t cap)
{
	return s == NULL || s[0] == '\0' || is_name(s, cap);
}

static bool is_sha256(const char *s)
{
	if (!fits(s, FL_STORE_SHA256_MAX) || strlen(s) != 64)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static bool is_limit(unsigned limit)
{
	return limit >= 1 && limit <= FL_STORE_PAGE_MAX;
}

static bool is_open(const struct fl_store *st)
{
	return st != NULL && st->ops != NULL;
}

#define CHECK_OPEN(st)                                                         \
	do {                                                                   \
		if (!is_open(st))                                              \
			return FL_EINVAL;                                      \
		(st)->errmsg[0] = '\0';                                        \
	} while (0)

/* ---- lifecycle, transactions ------------------------------------------ */

void fl_store_close(struct fl_store *st)
{
	if (!is_open(st))
		return;
	st->ops->close(st);
	st->ops = NULL;
	st->ctx = NULL;
	st->in_txn = false;
}

const char *fl_store_errmsg(const struct fl_store *st)
{
	return st == NULL ? "no store" : st->errmsg;
}

const char *fl_store_backend(const struct fl_store *st)
{
	return is_open(st) ? st->ops->name : "closed";
}

int fl_store_begin(struct fl_store *st)
{
	int rc;

	CHECK_OPEN(st);
	if (st->in_txn)
		return fail(st, FL_ESTATE, "begin: a transaction is open");
	rc = st->ops->begin(st);
	if (rc == 0)
		st->in_txn = true;
	return rc;
}

int fl_store_commit(struct fl_store *st)
{
	int rc;

	CHECK_OPEN(st);
	if (!st->in_txn)
		return fail(st, FL_ESTATE, "commit: no transaction is open");
	rc = st->ops->commit(st);
	st->in_txn = false; /* a failed commit has rolled back */
	return rc;
}

int fl_store_rollback(struct fl_store *st)
{
	int rc;

	CHECK_OPEN(st);
	if (!st->in_txn)
		return fail(st, FL_ESTATE, "rollback: no transaction is open");
	rc = st->ops->rollback(st);
	st->in_txn = false;
	return rc;
}

int fl_store_check(struct fl_store *st)
{
	CHECK_OPEN(st);
	return st->ops->check(st);
}

int fl_store_schema_version(struct fl_store *st, unsigned *out)
{
	CHECK_OPEN(st);
	if (out == NULL)
		return fail(st, FL_EINVAL, "schema_version: NULL argument");
	return st->ops->schema_version(st, out);
}

/* ---- settings, job ids ------------------------------------------------ */

int fl_store_setting_get(struct fl_store *st, const char *key, char *out,
			 size_t cap)
{
	CHECK_OPEN(st);
	if (!is_name(key, FL_STORE_KEY_MAX) || out == NULL || cap == 0)
		return fail(st, FL_EINVAL, "setting_get: bad argument");
	return st->ops->setting_get(st, key, out, cap);
}

int fl_store_setting_set(struct fl_store *st, const char *key,
			 const char *value)
{
	CHECK_OPEN(st);
	if (!is_name(key, FL_STORE_KEY_MAX) ||
	    !is_text(value, FL_STORE_TEXT_MAX))
		return fail(st, FL_EINVAL,
			    "setting_set: bad key or value (printable, "
			    "key < %d, value < %d chars)",
			    FL_STORE_KEY_MAX, FL_STORE_TEXT_MAX);
	return st->ops->setting_set(st, key, value);
}

int fl_store_job_ids_peek(struct fl_store *st, uint32_t *next)
{
	CHECK_OPEN(st);
	if (next == NULL)
		return fail(st, FL_EINVAL, "job_ids_peek: NULL argument");
	return st->ops->job_ids_peek(st, next);
}

/* ---- reports ---------------------------------------------------------- */

static bool is_event_ok(const struct fl_store_event *ev, bool is_in_report)
{
	if (is_in_report && ev->type == 0)
		return true; /* not logged */
	if (ev->type < FL_STORE_EV_INPUT || ev->type > FL_STORE_EV_NOTE)
		return false;
	return is_opt_name(ev->rollout, FL_STORE_NAME_MAX) &&
	       is_opt_name(ev->device, FL_STORE_ID_MAX) &&
	       fits(ev->payload, FL_STORE_PAYLOAD_MAX);
}

static bool is_inventory_ok(const struct fl_store_inventory *inv)
{
	if (!is_text(inv->model, FL_STORE_WORD_MAX) ||
	    !is_text(inv->tz, FL_STORE_TZ_MAX) ||
	    !is_text(inv->agent, FL_STORE_VERSION_MAX) ||
	    !fits(inv->json, FL_STORE_JSON_MAX) ||
	    inv->n_labels > FL_STORE_DEV_LABELS ||
	    inv->n_components > FL_STORE_COMPONENTS ||
	    (inv->n_slots != 0 && inv->n_slots != FL_STORE_SLOTS))
		return false;
	for (unsigned i = 0; i < inv->n_labels; i++) {
		const struct fl_store_label *l = &inv->labels[i];

		if (!is_name(l->key, FL_STORE_WORD_MAX) ||
		    !is_text(l->value, FL_STORE_VALUE_MAX))
			return false;
		for (unsigned j = 0; j < i; j++)
			if (strcmp(inv->labels[j].key, l->key) == 0)
				return false;
	}
	for (unsigned i = 0; i < inv->n_components; i++) {
		const struct fl_store_component *c = &inv->components[i];

		if (!is_name(c->name, FL_STORE_WORD_MAX) ||
		    !is_text(c->version, FL_STORE_VERSION_MAX))
			return false;
		for (unsigned j = 0; j < i; j++)
			if (strcmp(inv->components[j].name, c->name) == 0)
				return false;
	}
	for (unsigned i = 0; i < inv->n_slots; i++)
		if (!is_text(inv->slots[i].version, FL_STORE_VERSION_MAX))
			return false;
	return true;
}

/* Is r a report the backend may write? */
static bool is_report_ok(const struct fl_store_report *r)
{
	if (!is_name(r->device, FL_STORE_ID_MAX) ||
	    !is_event_ok(&r->event, true))
		return false;
	switch (r->kind) {
	case FL_STORE_REPORT_PRESENCE: return true;
	case FL_STORE_REPORT_INVENTORY: return is_inventory_ok(&r->u.inventory);
	case FL_STORE_REPORT_STATUS:
		return r->u.status.job != 0 &&
		       is_text(r->u.status.reason, FL_STORE_VALUE_MAX) &&
		       is_text(r->u.status.version, FL_STORE_VERSION_MAX);
	case FL_STORE_REPORT_SEEN: return true;
	case FL_STORE_REPORT_HEALTH:
		return fits(r->u.health.json, FL_STORE_JSON_MAX);
	default: return false;
	}
}

int fl_store_reports_write(struct fl_store *st, const struct fl_store_report *r,
			   size_t n, uint64_t *last_seq)
{
	CHECK_OPEN(st);
	if (r == NULL && n > 0)
		return fail(st, FL_EINVAL, "reports_write: NULL reports");
	for (size_t i = 0; i < n; i++)
		if (!is_report_ok(&r[i]))
			return fail(st, FL_EINVAL,
				    "reports_write: report %zu is malformed "
				    "(kind, device id, strings, counts)",
				    i);
	if (n == 0)
		return 0;
	return st->ops->reports_write(st, r, n, last_seq);
}

int fl_store_report_write(struct fl_store *st, const struct fl_store_report *r,
			  uint64_t *seq)
{
	if (r == NULL) {
		CHECK_OPEN(st);
		return fail(st, FL_EINVAL, "report_write: NULL report");
	}
	return fl_store_reports_write(st, r, 1, seq);
}

int fl_store_label_set(struct fl_store *st, const char *device, const char *key,
		       const char *value)
{
	CHECK_OPEN(st);
	if (!is_name(device, FL_STORE_ID_MAX) ||
	    !is_name(key, FL_STORE_WORD_MAX) ||
	    !is_text(value, FL_STORE_VALUE_MAX))
		return fail(st, FL_EINVAL,
			    "label_set: bad device, key or "
			    "value");
	return st->ops->label_set(st, device, key, value);
}

int fl_store_label_unset(struct fl_store *st, const char *device,
			 const char *key)
{
	CHECK_OPEN(st);
	if (!is_name(device, FL_STORE_ID_MAX) ||
	    !is_name(key, FL_STORE_WORD_MAX))
		return fail(st, FL_EINVAL, "label_unset: bad device or key");
	return st->ops->label_unset(st, device, key);
}

int fl_store_device_get(struct fl_store *st, const char *id,
			struct fl_store_device *out)
{
	CHECK_OPEN(st);
	if (!is_name(id, FL_STORE_ID_MAX) || out == NULL)
		return fail(st, FL_EINVAL, "device_get: bad argument");
	return st->ops->device_get(st, id, out);
}

int fl_store_device_list(struct fl_store *st,
			 const struct fl_store_device_filter *f,
			 const char *after_id, unsigned limit,
			 fl_store_device_cb cb, void *ctx)
{
	CHECK_OPEN(st);
	if (cb == NULL || !is_limit(limit) ||
	    !is_opt_name(after_id, FL_STORE_ID_MAX))
		return fail(st, FL_EINVAL, "device_list: bad argument");
	if (f != NULL) {
		if (f->online < -1 || f->online > 1 ||
		    f->n_labels > FL_STORE_FILTER_LABELS ||
		    (f->model != NULL && !is_text(f->model, FL_STORE_WORD_MAX)))
			return fail(st, FL_EINVAL, "device_list: bad filter");
		for (unsigned i = 0; i < f->n_labels; i++)
			if (!is_name(f->labels[i].key, FL_STORE_WORD_MAX) ||
			    !is_text(f->labels[i].value, FL_STORE_VALUE_MAX))
				return fail(st, FL_EINVAL,
					    "device_list: bad label filter");
	}
	return st->ops->device_list(st, f, after_id == NULL ? "" : after_id,
				    limit, cb, ctx);
}

/* ---- artifacts -------------------------------------------------------- */

int fl_store_artifact_put(struct fl_store *st,
			  const struct fl_store_artifact *a)
{
	CHECK_OPEN(st);
	if (a == NULL || !is_sha256(a->sha256) ||
	    !is_name(a->path, FL_STORE_TEXT_MAX) ||
	    !fits(a->manifest, FL_STORE_MANIFEST_MAX) ||
	    a->length > (uint64_t)INT64_MAX)
		return fail(st, FL_EINVAL,
			    "artifact_put: bad artifact "
			    "(digest, path, manifest)");
	return st->ops->artifact_put(st, a);
}

int fl_store_artifact_get(struct fl_store *st, const char *sha256,
			  struct fl_store_artifact *out)
{
	CHECK_OPEN(st);
	if (!is_sha256(sha256) || out == NULL)
		return fail(st, FL_EINVAL, "artifact_get: bad argument");
	return st->ops->artifact_get(st, sha256, out);
}

/* ---- rollouts --------------------------------------------------------- */

int fl_store_rollout_create(struct fl_store *st,
			    const struct fl_store_rollout *r, const char *plan,
			    size_t plan_len)
{
	CHECK_OPEN(st);
	if (r == NULL || plan == NULL || !is_name(r->name, FL_STORE_NAME_MAX) ||
	    !is_sha256(r->plan_sha256) || !is_sha256(r->artifact_sha256) ||
	    !is_name(r->component, FL_STORE_WORD_MAX) ||
	    !is_name(r->version, FL_STORE_VERSION_MAX) || r->n_stages == 0 ||
	    r->n_stages > FL_STORE_STAGES)
		return fail(st, FL_EINVAL,
			    "rollout_create: bad rollout "
			    "(name, digests, component, "
			    "version, stages)");
	if (plan_len > FL_STORE_PLAN_MAX)
		return fail(st, FL_ETOOBIG,
			    "rollout_create: plan of %zu bytes (max %u)",
			    plan_len, FL_STORE_PLAN_MAX);
	if (memchr(plan, '\0', plan_len) != NULL)
		return fail(st, FL_EINVAL, "rollout_create: NUL in the plan");
	for (unsigned i = 0; i < r->n_stages; i++)
		if (!is_name(r->stages[i].name, FL_STORE_NAME_MAX))
			return fail(st, FL_EINVAL,
				    "rollout_create: bad name of stage %u", i);
	return st->ops->rollout_create(st, r, plan, plan_len);
}

int fl_store_rollout_start(struct fl_store *st, const char *name,
			   const char *who, int64_t at_s)
{
	CHECK_OPEN(st);
	if (!is_name(name, FL_STORE_NAME_MAX) ||
	    !is_text(who, FL_STORE_WHO_MAX) || at_s < 0)
		return fail(st, FL_EINVAL, "rollout_start: bad argument");
	return st->ops->rollout_start(st, name, who, at_s);
}

int fl_store_rollout_set_state(struct fl_store *st, const char *name,
			       unsigned state, bool is_paused, bool is_ended,
			       int64_t at_s)
{
	CHECK_OPEN(st);
	if (!is_name(name, FL_STORE_NAME_MAX) || state > 255 ||
	    (is_ended && at_s < 0))
		return fail(st, FL_EINVAL, "rollout_set_state: bad argument");
	return st->ops->rollout_set_state(st, name, state, is_paused, is_ended,
					  at_s);
}

int fl_store_stage_set(struct fl_store *st, const char *rollout, unsigned stage,
		       unsigned state, bool is_overridden, int64_t started_at_s,
		       int64_t ended_at_s)
{
	CHECK_OPEN(st);
	if (!is_name(rollout, FL_STORE_NAME_MAX) || state > 255 ||
	    started_at_s < FL_STORE_NONE || ended_at_s < FL_STORE_NONE)
		return fail(st, FL_EINVAL, "stage_set: bad argument");
	if (stage >= FL_STORE_STAGES)
		return fail(st, FL_ENOENT, "stage_set: no stage %u", stage);
	return st->ops->stage_set(st, rollout, stage, state, is_overridden,
				  started_at_s, ended_at_s);
}

int fl_store_rollout_get(struct fl_store *st, const char *name,
			 struct fl_store_rollout *out)
{
	CHECK_OPEN(st);
	if (!is_name(name, FL_STORE_NAME_MAX) || out == NULL)
		return fail(st, FL_EINVAL, "rollout_get: bad argument");
	return st->ops->rollout_get(st, name, out);
}

int fl_store_rollout_plan(struct fl_store *st, const char *name, char *out,
			  size_t cap, size_t *len)
{
	CHECK_OPEN(st);
	if (!is_name(name, FL_STORE_NAME_MAX) || out == NULL || cap == 0 ||
	    len == NULL)
		return fail(st, FL_EINVAL, "rollout_plan: bad argument");
	return st->ops->rollout_plan(st, name, out, cap, len);
}

int fl_store_rollout_list(struct fl_store *st, uint64_t after_id,
			  unsigned limit, fl_store_rollout_cb cb, void *ctx)
{
	CHECK_OPEN(st);
	if (cb == NULL || !is_limit(limit) || after_id > (uint64_t)INT64_MAX)
		return fail(st, FL_EINVAL, "rollout_list: bad argument");
	return st->ops->rollout_list(st, after_id, limit, cb, ctx);
}

/* ---- members and jobs ------------------------------------------------- */

int fl_store_member_set(struct fl_store *st, const struct fl_store_member *m)
{
	CHECK_OPEN(st);
	if (m == NULL || !is_name(m->rollout, FL_STORE_NAME_MAX) ||
	    !is_name(m->device, FL_STORE_ID_MAX) ||
	    m->offered_at_s < FL_STORE_NONE ||
	    m->committed_at_s < FL_STORE_NONE)
		return fail(st, FL_EINVAL, "member_set: bad member");
	if (m->stage >= FL_STORE_STAGES)
		return fail(st, FL_ENOENT, "member_set: no stage %u",
			    (unsigned)m->stage);
	return st->ops->member_set(st, m);
}

int fl_store_job_create(struct fl_store *st, const char *rollout,
			const char *device, unsigned type, int64_t issued_at_s,
			int64_t expires_at_s, uint32_t *job)
{
	CHECK_OPEN(st);
	if (!is_name(rollout, FL_STORE_NAME_MAX) ||
	    !is_name(device, FL_STORE_ID_MAX) || job == NULL ||
	    (type != FL_STORE_JOB_OFFER && type != FL_STORE_JOB_ROLLBACK) ||
	    expires_at_s < issued_at_s)
		return fail(st, FL_EINVAL, "job_create: bad argument");
	return st->ops->job_create(st, rollout, device, type, issued_at_s,
				   expires_at_s, job);
}

int fl_store_job_get(struct fl_store *st, uint32_t job,
		     struct fl_store_job *out)
{
	CHECK_OPEN(st);
	if (job == 0 || out == NULL)
		return fail(st, FL_EINVAL, "job_get: bad argument");
	return st->ops->job_get(st, job, out);
}

int fl_store_job_list(struct fl_store *st, const char *device,
		      uint32_t before_job, unsigned limit, fl_store_job_cb cb,
		      void *ctx)
{
	CHECK_OPEN(st);
	if (!is_name(device, FL_STORE_ID_MAX) || cb == NULL || !is_limit(limit))
		return fail(st, FL_EINVAL, "job_list: bad argument");
	return st->ops->job_list(st, device, before_job, limit, cb, ctx);
}

int fl_store_member_list(struct fl_store *st, const char *rollout,
			 const struct fl_store_member_filter *f,
			 uint64_t after_key, unsigned limit,
			 fl_store_member_cb cb, void *ctx)
{
	CHECK_OPEN(st);
	if (!is_name(rollout, FL_STORE_NAME_MAX) || cb == NULL ||
	    !is_limit(limit) || after_key > (uint64_t)INT64_MAX ||
	    (f != NULL && (f->stage < -1 || f->status < -1)))
		return fail(st, FL_EINVAL, "member_list: bad argument");
	return st->ops->member_list(st, rollout, f, after_key, limit, cb, ctx);
}

/* ---- approvals -------------------------------------------------------- */

int fl_store_approval_add(struct fl_store *st, const char *rollout,
			  const char *what, bool is_hold, const char *who,
			  int64_t at_s, uint64_t *id)
{
	CHECK_OPEN(st);
	if (!is_name(rollout, FL_STORE_NAME_MAX) ||
	    !is_name(what, FL_STORE_NAME_MAX) ||
	    !is_text(who, FL_STORE_WHO_MAX))
		return fail(st, FL_EINVAL, "approval_add: bad argument");
	return st->ops->approval_add(st, rollout, what, is_hold, who, at_s, id);
}

int fl_store_approval_list(struct fl_store *st, const char *rollout,
			   uint64_t after_id, unsigned limit,
			   fl_store_approval_cb cb, void *ctx)
{
	CHECK_OPEN(st);
	if (!is_name(rollout, FL_STORE_NAME_MAX) || cb == NULL ||
	    !is_limit(limit) || after_id > (uint64_t)INT64_MAX)
		return fail(st, FL_EINVAL, "approval_list: bad argument");
	return st->ops->approval_list(st, rollout, after_id, limit, cb, ctx);
}

/* ---- API tokens ------------------------------------------------------- */

int fl_store_token_add(struct fl_store *st, const struct fl_store_token *t)
{
	CHECK_OPEN(st);
	if (t == NULL || !is_name(t->name, FL_STORE_TOKEN_NAME_MAX) ||
	    !is_name(t->role, FL_STORE_ROLE_MAX) || !is_sha256(t->hash))
		return fail(st, FL_EINVAL, "token_add: bad argument");
	return st->ops->token_add(st, t);
}

int fl_store_token_get(struct fl_store *st, const char *name,
		       struct fl_store_token *out)
{
	CHECK_OPEN(st);
	if (!is_name(name, FL_STORE_TOKEN_NAME_MAX) || out == NULL)
		return fail(st, FL_EINVAL, "token_get: bad argument");
	return st->ops->token_get(st, name, out);
}

int fl_store_token_revoke(struct fl_store *st, const char *name, int64_t at_s)
{
	CHECK_OPEN(st);
	if (!is_name(name, FL_STORE_TOKEN_NAME_MAX) || at_s < 0)
		return fail(st, FL_EINVAL, "token_revoke: bad argument");
	return st->ops->token_revoke(st, name, at_s);
}

int fl_store_token_list(struct fl_store *st, const char *after_name,
			unsigned limit, fl_store_token_cb cb, void *ctx)
{
	CHECK_OPEN(st);
	if ((after_name != NULL &&
	     !is_text(after_name, FL_STORE_TOKEN_NAME_MAX)) ||
	    cb == NULL || !is_limit(limit))
		return fail(st, FL_EINVAL, "token_list: bad argument");
	return st->ops->token_list(st, after_name != NULL ? after_name : "",
				   limit, cb, ctx);
}

/* ---- events ----------------------------------------------------------- */

int fl_store_event_append(struct fl_store *st, const struct fl_store_event *ev,
			  uint64_t *seq)
{
	CHECK_OPEN(st);
	if (ev == NULL || !is_event_ok(ev, false))
		return fail(st, FL_EINVAL,
			    "event_append: bad event (type, "
			    "rollout, device, payload)");
	return st->ops->event_append(st, ev, seq);
}

int fl_store_event_last(struct fl_store *st, uint64_t *seq)
{
	CHECK_OPEN(st);
	if (seq == NULL)
		return fail(st, FL_EINVAL, "event_last: NULL argument");
	return st->ops->event_last(st, seq);
}

int fl_store_events_after(struct fl_store *st, const char *rollout,
			  uint64_t after_seq, unsigned limit,
			  fl_store_event_cb cb, void *ctx)
{
	CHECK_OPEN(st);
	if (cb == NULL || !is_limit(limit) ||
	    !is_opt_name(rollout, FL_STORE_NAME_MAX) ||
	    after_seq > (uint64_t)INT64_MAX)
		return fail(st, FL_EINVAL, "events_after: bad argument");
	return st->ops->events_after(st, rollout == NULL ? "" : rollout,
				     after_seq, limit, cb, ctx);
}

/* ---- the report queue ------------------------------------------------- */

int fl_store_queue_create(struct fl_store_queue **out, size_t capacity)
{
	struct fl_store_queue *q;

	if (out == NULL || capacity == 0 || capacity > FL_STORE_PAGE_MAX)
		return FL_EINVAL;
	*out = NULL;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return FL_ENOMEM;
	q->items = calloc(capacity, sizeof(*q->items));
	if (q->items == NULL) {
		free(q);
		return FL_ENOMEM;
	}
	q->capacity = capacity;
	*out = q;
	return 0;
}

void fl_store_queue_free(struct fl_store_queue *q)
{
	if (q == NULL)
		return;
	free(q->items);
	free(q);
}

int fl_store_queue_add(struct fl_store_queue *q,
		       const struct fl_store_report *r)
{
	if (q == NULL || r == NULL || !is_report_ok(r))
		return FL_EINVAL;
	if (q->n == q->capacity)
		return FL_ENOSPC;
	q->items[q->n++] = *r;
	return 0;
}

size_t fl_store_queue_len(const struct fl_store_queue *q)
{
	return q == NULL ? 0 : q->n;
}

int fl_store_queue_flush(struct fl_store *st, struct fl_store_queue *q,
			 uint64_t *last_seq)
{
	int rc;

	CHECK_OPEN(st);
	if (q == NULL)
		return fail(st, FL_EINVAL, "queue_flush: NULL queue");
	rc = fl_store_reports_write(st, q->items, q->n, last_seq);
	if (rc == 0)
		q->n = 0;
	return rc;
}
