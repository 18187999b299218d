/*
 * api.c -- the routes of docs/api.md: inventory, artifacts, rollouts and
 * their actions, the event log with its long poll, and /metrics.
 *
 * Reads go to the store directly (devices, lists, events) or to the runner
 * for what only the running engine knows (a rollout's live view, a
 * rollback preview); actions and new rollouts go through the runner, which
 * records them in the event log before it carries them out. Every list is
 * paged: a page asks the store for one record more than it returns, and
 * that one says whether there is a next page.
 *
 * Method: answers are built as cJSON trees through a small builder that
 * remembers an allocation failure (struct jb), so that a tree missing a
 * member is never sent: the request then fails with 500 (or its connection
 * is closed). Error answers follow the table of docs/api.md exactly.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "fl/bytes.h"
#include "fl/engine.h"
#include "fl/err.h"
#include "fl/plan.h"
#include "fl/proto.h"
#include "http_priv.h"

#define PAGE_DEFAULT  100u
#define PAGE_MAX      1000u
#define JOBS_SHOWN    20u
#define APPROVALS_MAX 200u
#define METRICS_MAX   (8u << 20)
#define WHO_MAX	      FL_STORE_WHO_MAX
#define PLAN_FILE_MAX 256
#define REASON_MAX    256

/* ---- names (docs/api.md) ------------------------------------------------ */

static const char *const DEV_STATUS[] = {
	"none",	     "pending",	  "held",   "unreached", "deferred",
	"in_flight", "succeeded", "failed", "skipped",	 "cancelled",
};
static const char *const PROGRESS[] = {
	"none", "acked", "downloading", "installed", "activated", "committed",
};
static const char *const RB_STATE[] = {"none", "sent", "failed", "done",
				       "unreached"};
static const char *const FAIL_REASON[] = {
	"other",  "download", "verify", "install", "activate",
	"health", "reverted", "metric", "timeout", "no_key",
};
static const char *const ROLLOUT_STATE[] = {
	"running", "complete", "rolling_back", "rolled_back", "cancelled",
};
static const char *const STAGE_STATE[] = {
	"pending", "awaiting_approval", "running", "passed", "failed",
};
/* Device reports and operator actions as the engine's event kinds. */
static const char *const EVENT_KIND[] = {
	"",	     "acked",	      "downloading",
	"installed", "activated",     "committed",
	"failed",    "reverted",      "retry_later",
	"rejected",  "rollback_done", "rollback_failed",
	"health",    "online",	      "offline",
	"pause",     "resume",	      "approve",
	"rollback",  "cancel",
};
static const char *const DECISION_KIND[] = {
	"",
	"offer",
	"cancel",
	"rollback_device",
	"device_succeeded",
	"device_failed",
	"device_unreached",
	"stage_started",
	"stage_skipped_device",
	"stage_passed",
	"stage_failed",
	"await_approval",
	"wait",
	"paused",
	"resumed",
	"rollback_started",
	"rolled_back",
	"complete",
	"cancelled",
};

#define NAME(table, i)                                                         \
	((size_t)(i) < sizeof(table) / sizeof(table[0]) ? table[i] : "unknown")

static bool is_active_state(unsigned state)
{
	return state == FL_ROLLOUT_RUNNING || state == FL_ROLLOUT_ROLLING_BACK;
}

/* ---- the JSON builder --------------------------------------------------- */

struct jb {
	bool is_oom;
};

static cJSON *jadd(struct jb *b, cJSON *o, const char *k, cJSON *v)
{
	if (v == NULL || o == NULL ||
	    !(k != NULL ? cJSON_AddItemToObject(o, k, v)
			: cJSON_AddItemToArray(o, v))) {
		cJSON_Delete(v);
		b->is_oom = true;
		return NULL;
	}
	return v;
}

static void j_str(struct jb *b, cJSON *o, const char *k, const char *s)
{
	jadd(b, o, k, cJSON_CreateString(s));
}

/* "" is null. */
static void j_strn(struct jb *b, cJSON *o, const char *k, const char *s)
{
	jadd(b, o, k,
	     s != NULL && s[0] ? cJSON_CreateString(s) : cJSON_CreateNull());
}

static void j_num(struct jb *b, cJSON *o, const char *k, double v)
{
	jadd(b, o, k, cJSON_CreateNumber(v));
}

/* A time or count that may be unset (negative): null. */
static void j_time(struct jb *b, cJSON *o, const char *k, int64_t t)
{
	jadd(b, o, k,
	     t >= 0 ? cJSON_CreateNumber((double)t) : cJSON_CreateNull());
}

static void j_bool(struct jb *b, cJSON *o, const char *k, bool v)
{
	jadd(b, o, k, cJSON_CreateBool(v));
}

static void j_null(struct jb *b, cJSON *o, const char *k)
{
	jadd(b, o, k, cJSON_CreateNull());
}

static cJSON *j_obj(struct jb *b, cJSON *o, const char *k)
{
	return jadd(b, o, k, cJSON_CreateObject());
}

static cJSON *j_arr(struct jb *b, cJSON *o, const char *k)
{
	return jadd(b, o, k, cJSON_CreateArray());
}

/* Sends root, or 500 when the builder ran out of memory. */
static enum MHD_Result send_built(struct fl_http_req *req, struct jb *b,
				  unsigned status, cJSON *root)
{
	if (b->is_oom || root == NULL) {
		cJSON_Delete(root);
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "out of memory");
	}
	return http__json(req, status, root);
}

/* ---- requests: query, body ---------------------------------------------- */

static const char *query(struct fl_http_req *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
					   key);
}

/* A decimal in [min, max]; def when absent. 0, or -1 if malformed. */
static int query_u64(struct fl_http_req *req, const char *key, uint64_t def,
		     uint64_t min, uint64_t max, uint64_t *out)
{
	const char *s = query(req, key);
	uint64_t v = 0;

	if (s == NULL) {
		*out = def;
		return 0;
	}
	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int query_limit(struct fl_http_req *req, unsigned *out)
{
	uint64_t v;

	if (query_u64(req, "limit", PAGE_DEFAULT, 1, PAGE_MAX, &v) != 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static enum MHD_Result bad_query(struct fl_http_req *req, const char *key,
				 const char *what)
{
	return http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
			   "query '%s': %s", key, what);
}

/* [A-Za-z0-9._-], first alphanumeric, 1..max-1 characters. */
static bool is_ident(const char *s, size_t max)
{
	size_t i;

	if (s == NULL ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return i < max;
}

/* Printable ASCII, at most max-1 characters; with no_quotes, no '"' or
 * '\' (the protocol's label values). */
static bool is_text(const char *s, size_t max, bool no_quotes)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
		if (no_quotes && (s[i] == '"' || s[i] == '\\'))
			return false;
	}
	return i < max;
}

/*
 * The request's JSON object. Sets *out (NULL for an empty body when it is
 * optional) and returns 0, or answers 400 and returns -1 (*rc says how
 * the answer went).
 */
static int body_object(struct fl_http_req *req, bool is_required, cJSON **out,
		       enum MHD_Result *rc)
{
	const char *end = NULL;
	size_t i = 0;
	cJSON *o;

	*out = NULL;
	while (i < req->body_len &&
	       (req->body[i] == ' ' || req->body[i] == '\n' ||
		req->body[i] == '\r' || req->body[i] == '\t'))
		i++;
	if (i == req->body_len) {
		if (!is_required)
			return 0;
		*rc = http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
				  "a JSON object is required");
		return -1;
	}
	o = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, false);
	if (o == NULL || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		*rc = http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
				  "the body is not a JSON object");
		return -1;
	}
	for (; end != NULL && (size_t)(end - req->body) < req->body_len;
	     end++) {
		if (*end != ' ' && *end != '\n' && *end != '\r' &&
		    *end != '\t') {
			cJSON_Delete(o);
			*rc = http__error(req, MHD_HTTP_BAD_REQUEST,
					  "bad_request",
					  "text after the JSON object");
			return -1;
		}
	}
	*out = o;
	return 0;
}

/* An optional string member: 0 with *out (NULL if absent), or -1 if it is
 * not a string of the given kind. */
static int member_str(const cJSON *o, const char *key, const char **out)
{
	const cJSON *v =
		o != NULL ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return -1;
	*out = v->valuestring;
	return 0;
}

/* ---- runner answers ----------------------------------------------------- */

static const char *code_of(unsigned status)
{
	switch (status) {
	case 400: return "bad_request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 409: return "conflict";
	case 413: return "too_large";
	case 422: return "invalid_plan";
	case 503: return "unavailable";
	default: return "internal";
	}
}

static unsigned status_of(int rc)
{
	switch (rc) {
	case FL_EINVAL: return MHD_HTTP_BAD_REQUEST;
	case FL_ENOENT: return MHD_HTTP_NOT_FOUND;
	case FL_ESTATE:
	case FL_EBUSY: return MHD_HTTP_CONFLICT;
	default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

static enum MHD_Result runner_error(struct fl_http_req *req, int rc,
				    const struct fl_runner_error *e)
{
	unsigned status = e->http_status >= 400 && e->http_status < 600
				  ? (unsigned)e->http_status
				  : status_of(rc);
	const char *code = e->code[0] ? e->code : code_of(status);
	struct jb b = {false};
	cJSON *extra = cJSON_CreateObject();

	if (e->diags != NULL && e->diags->n > 0) {
		cJSON *a = j_arr(&b, extra, "diagnostics");

		for (unsigned i = 0; i < e->diags->n && i < FL_PLAN_MAX_DIAGS;
		     i++) {
			const struct fl_plan_diag *d = &e->diags->d[i];
			cJSON *o = jadd(&b, a, NULL, cJSON_CreateObject());

			j_num(&b, o, "line", d->pos.line);
			j_num(&b, o, "col", d->pos.col);
			j_str(&b, o, "severity",
			      d->severity == FL_DIAG_WARNING ? "warning"
							     : "error");
			j_str(&b, o, "message", d->msg);
		}
	}
	if (e->n_conflicts > 0) {
		cJSON *a = j_arr(&b, extra, "devices");

		for (unsigned i = 0; i < e->n_conflicts && i < 20; i++)
			jadd(&b, a, NULL, cJSON_CreateString(e->conflicts[i]));
	}
	if (b.is_oom) {
		cJSON_Delete(extra);
		extra = NULL;
	}
	return http__error_extra(req, status, code, extra, "%s",
				 e->message[0] ? e->message : fl_strerror(rc));
}

static enum MHD_Result no_runner(struct fl_http_req *req)
{
	return http__error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
			   "fleetd is starting: rollouts are not loaded yet");
}

/* ---- devices ------------------------------------------------------------ */

static void device_json(struct jb *b, cJSON *o, const struct fl_store_device *d,
			bool is_detail)
{
	cJSON *versions, *labels, *r;

	j_str(b, o, "id", d->id);
	j_strn(b, o, "model", d->model);
	j_bool(b, o, "online", d->is_online);
	j_time(b, o, "last_seen", d->last_seen_s);
	j_num(b, o, "boot", d->boot);
	versions = j_obj(b, o, "versions");
	for (unsigned i = 0; i < d->n_components && i < FL_STORE_COMPONENTS;
	     i++)
		j_str(b, versions, d->components[i].name,
		      d->components[i].version);
	/* Device labels come first, server labels after: the server's win. */
	labels = j_obj(b, o, "labels");
	for (unsigned i = 0; i < d->n_labels && i < FL_STORE_LABELS; i++) {
		const struct fl_store_label *l = &d->labels[i];

		if (labels == NULL)
			break;
		if (cJSON_GetObjectItemCaseSensitive(labels, l->key) != NULL) {
			cJSON *v = cJSON_CreateString(l->value);

			if (v == NULL ||
			    !cJSON_ReplaceItemInObjectCaseSensitive(
				    labels, l->key, v)) {
				cJSON_Delete(v);
				b->is_oom = true;
			}
		} else {
			j_str(b, labels, l->key, l->value);
		}
	}
	if (d->rollout[0]) {
		r = j_obj(b, o, "rollout");
		j_str(b, r, "name", d->rollout);
		j_str(b, r, "state", NAME(DEV_STATUS, d->rollout_status));
	} else {
		j_null(b, o, "rollout");
	}
	if (!is_detail)
		return;

	j_strn(b, o, "tz", d->tz);
	j_strn(b, o, "agent", d->agent);
	j_time(b, o, "first_seen", d->first_seen_s);
	j_time(b, o, "reported_at", d->reported_at_s);
	{
		cJSON *rl = j_obj(b, o, "reported_labels");
		cJSON *sl = j_obj(b, o, "server_labels");

		for (unsigned i = 0; i < d->n_labels && i < FL_STORE_LABELS;
		     i++)
			j_str(b, d->labels[i].is_server ? sl : rl,
			      d->labels[i].key, d->labels[i].value);
	}
	{
		cJSON *c = j_arr(b, o, "components");

		for (unsigned i = 0;
		     i < d->n_components && i < FL_STORE_COMPONENTS; i++) {
			cJSON *it = jadd(b, c, NULL, cJSON_CreateObject());

			j_str(b, it, "name", d->components[i].name);
			j_str(b, it, "version", d->components[i].version);
		}
	}
	{
		cJSON *s = j_arr(b, o, "slots");

		for (unsigned i = 0; i < d->n_slots && i < FL_STORE_SLOTS;
		     i++) {
			cJSON *it = jadd(b, s, NULL, cJSON_CreateObject());
			const char *st =
				fl_wire_slot_state_name(d->slots[i].state);

			j_str(b, it, "state", st != NULL ? st : "unknown");
			j_strn(b, it, "version", d->slots[i].version);
			j_num(b, it, "seq", (double)d->slots[i].seq);
		}
		if (d->n_slots > 0) {
			j_num(b, o, "booted", d->booted);
			j_num(b, o, "floor", (double)d->floor);
		}
	}
	if (d->health_at_s >= 0) {
		cJSON *hj = cJSON_Parse(d->health);

		if (hj == NULL || !cJSON_IsObject(hj)) {
			cJSON_Delete(hj);
			hj = cJSON_CreateObject();
		}
		hj = jadd(b, o, "health", hj);
		j_num(b, hj, "received", (double)d->health_at_s);
	} else {
		j_null(b, o, "health");
	}
}

struct device_walk {
	struct jb *b;
	cJSON *list;
	unsigned n, limit;
	bool has_more;
	char last[FL_STORE_ID_MAX];
};

static int device_cb(void *ctx, const struct fl_store_device *d)
{
	struct device_walk *w = ctx;
	cJSON *o;

	if (w->n == w->limit) {
		w->has_more = true;
		return 1;
	}
	o = jadd(w->b, w->list, NULL, cJSON_CreateObject());
	device_json(w->b, o, d, false);
	(void)fl_strlcpy(w->last, d->id, sizeof(w->last));
	w->n++;
	return 0;
}

struct label_terms {
	struct fl_store_device_filter *f;
	char buf[FL_STORE_FILTER_LABELS]
		[FL_STORE_WORD_MAX + FL_STORE_VALUE_MAX];
	bool is_bad;
};

static enum MHD_Result label_term(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *value)
{
	struct label_terms *t = cls;
	char *eq;
	unsigned i = t->f->n_labels;

	(void)kind;
	if (strcmp(key, "label") != 0)
		return MHD_YES;
	if (value == NULL || i == FL_STORE_FILTER_LABELS ||
	    fl_strlcpy(t->buf[i], value, sizeof(t->buf[i])) != 0 ||
	    (eq = strchr(t->buf[i], '=')) == NULL || eq == t->buf[i]) {
		t->is_bad = true;
		return MHD_NO;
	}
	*eq = '\0';
	t->f->labels[i].key = t->buf[i];
	t->f->labels[i].value = eq + 1;
	t->f->n_labels++;
	return MHD_YES;
}

static enum MHD_Result api_devices(struct fl_http_req *req)
{
	struct fl_store_device_filter f = {NULL, -1, 0, {{NULL, NULL}}};
	struct label_terms terms;
	struct jb b = {false};
	struct device_walk w;
	const char *online = query(req, "online"), *after = query(req, "after");
	cJSON *root;
	unsigned limit;
	int rc;

	memset(&terms, 0, sizeof(terms));
	terms.f = &f;
	if (query_limit(req, &limit) != 0)
		return bad_query(req, "limit", "not 1..1000");
	f.model = query(req, "model");
	if (online != NULL) {
		if (strcmp(online, "true") == 0)
			f.online = 1;
		else if (strcmp(online, "false") == 0)
			f.online = 0;
		else
			return bad_query(req, "online", "not true or false");
	}
	(void)MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND,
					label_term, &terms);
	if (terms.is_bad)
		return bad_query(req, "label",
				 "not KEY=VALUE (at most 4 of them)");
	if ((f.model != NULL && strlen(f.model) >= FL_STORE_WORD_MAX) ||
	    (after != NULL && strlen(after) >= FL_STORE_ID_MAX))
		return bad_query(req, f.model ? "model" : "after", "too long");

	root = cJSON_CreateObject();
	memset(&w, 0, sizeof(w));
	w.b = &b;
	w.limit = limit;
	w.list = j_arr(&b, root, "devices");
	rc = fl_store_device_list(req->h->store, &f, after, limit + 1,
				  device_cb, &w);
	if (rc < 0) {
		cJSON_Delete(root);
		if (rc == FL_EINVAL)
			return bad_query(req, "label", "not a label term");
		return http__store_error(req, rc);
	}
	j_strn(&b, root, "next", w.has_more ? w.last : "");
	return send_built(req, &b, MHD_HTTP_OK, root);
}

struct job_walk {
	struct jb *b;
	cJSON *list;
};

static int job_cb(void *ctx, const struct fl_store_job *j)
{
	struct job_walk *w = ctx;
	cJSON *o = jadd(w->b, w->list, NULL, cJSON_CreateObject());
	const char *type = fl_cmd_type_name(j->type);

	j_num(w->b, o, "job", j->job);
	j_strn(w->b, o, "rollout", j->rollout);
	j_str(w->b, o, "type", type != NULL ? type : "unknown");
	if (j->phase >= 0)
		j_str(w->b, o, "state", fl_update_state_name(j->phase));
	else
		j_null(w->b, o, "state");
	if (j->phase >= 0)
		j_str(w->b, o, "result", fl_result_name(j->result));
	else
		j_null(w->b, o, "result");
	j_strn(w->b, o, "reason", j->reason);
	j_strn(w->b, o, "version", j->version);
	j_time(w->b, o, "issued", j->issued_at_s);
	j_time(w->b, o, "updated", j->updated_at_s);
	return 0;
}

/* The device's full view, 200 (also the answer of a label change). */
static enum MHD_Result send_device(struct fl_http_req *req, unsigned status)
{
	struct fl_store_device *d = malloc(sizeof(*d));
	struct jb b = {false};
	struct job_walk jw;
	cJSON *root;
	int rc;

	if (d == NULL)
		return MHD_NO;
	rc = fl_store_device_get(req->h->store, req->arg, d);
	if (rc != 0) {
		free(d);
		if (rc == FL_ENOENT)
			return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
					   "no device '%s'", req->arg);
		return http__store_error(req, rc);
	}
	root = cJSON_CreateObject();
	device_json(&b, root, d, true);
	free(d);
	jw.b = &b;
	jw.list = j_arr(&b, root, "jobs");
	rc = fl_store_job_list(req->h->store, req->arg, 0, JOBS_SHOWN, job_cb,
			       &jw);
	if (rc < 0 && rc != FL_ENOENT) {
		cJSON_Delete(root);
		return http__store_error(req, rc);
	}
	return send_built(req, &b, status, root);
}

static enum MHD_Result api_device(struct fl_http_req *req)
{
	if (fl_device_id_check(req->arg) != 0)
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "no device '%s'", req->arg);
	return send_device(req, MHD_HTTP_OK);
}

static enum MHD_Result api_labels(struct fl_http_req *req)
{
	struct fl_store *st = req->h->store;
	const cJSON *set, *remove, *it;
	enum MHD_Result mrc = MHD_NO;
	cJSON *body;
	int rc = 0;

	if (fl_device_id_check(req->arg) != 0)
		return http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
				   "'%s' is not a device id", req->arg);
	if (body_object(req, true, &body, &mrc) != 0)
		return mrc;
	set = cJSON_GetObjectItemCaseSensitive(body, "set");
	remove = cJSON_GetObjectItemCaseSensitive(body, "remove");
	if ((set != NULL && !cJSON_IsObject(set)) ||
	    (remove != NULL && !cJSON_IsArray(remove))) {
		cJSON_Delete(body);
		return http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
				   "'set' must be an object of strings, "
				   "'remove' an array of keys");
	}
	cJSON_ArrayForEach(it, set)
	{
		if (!is_ident(it->string, FL_PROTO_NAME_MAX) ||
		    !cJSON_IsString(it) ||
		    !is_text(it->valuestring, FL_PROTO_LABEL_VALUE_MAX, true)) {
			mrc = http__error(req, MHD_HTTP_BAD_REQUEST,
					  "bad_request",
					  "label '%.40s': a key is an ident "
					  "of at most 31 characters, a value "
					  "a string of at most 47 printable "
					  "characters without '\"' or '\\'",
					  it->string ? it->string : "");
			cJSON_Delete(body);
			return mrc;
		}
	}
	cJSON_ArrayForEach(it, remove)
	{
		if (!cJSON_IsString(it) ||
		    !is_ident(it->valuestring, FL_PROTO_NAME_MAX)) {
			cJSON_Delete(body);
			return http__error(req, MHD_HTTP_BAD_REQUEST,
					   "bad_request",
					   "'remove' holds a key that is not "
					   "an ident");
		}
	}
	rc = fl_store_begin(st);
	if (rc == 0) {
		cJSON_ArrayForEach(it, set)
		{
			rc = fl_store_label_set(st, req->arg, it->string,
						it->valuestring);
			if (rc != 0)
				break;
		}
	}
	if (rc == 0) {
		cJSON_ArrayForEach(it, remove)
		{
			rc = fl_store_label_unset(st, req->arg,
						  it->valuestring);
			if (rc != 0)
				break;
		}
	}
	if (rc == 0)
		rc = fl_store_commit(st);
	else if (st->in_txn)
		(void)fl_store_rollback(st);
	cJSON_Delete(body);
	if (rc == FL_ETOOBIG)
		return http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
				   "at most %d server labels per device",
				   FL_STORE_SERVER_LABELS);
	if (rc == FL_ENOENT)
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "no device '%s'", req->arg);
	if (rc != 0)
		return http__store_error(req, rc);
	req->h->devcount.at_ms = 0;
	return send_device(req, MHD_HTTP_OK);
}

/* ---- rollouts ----------------------------------------------------------- */

/* A rollout as a list shows it (the store's record, compact). */
struct rsum {
	uint64_t id;
	char name[FL_STORE_NAME_MAX];
	char component[FL_STORE_WORD_MAX];
	char version[FL_STORE_VERSION_MAX];
	char sha[FL_STORE_SHA256_MAX];
	char started_by[FL_STORE_WHO_MAX];
	char stage[FL_STORE_NAME_MAX]; /* last stage begun, "" none */
	uint8_t state;
	bool is_paused;
	int64_t created, started, ended;
};

static void rsum_of(struct rsum *s, const struct fl_store_rollout *r)
{
	memset(s, 0, sizeof(*s));
	s->id = r->id;
	(void)fl_strlcpy(s->name, r->name, sizeof(s->name));
	(void)fl_strlcpy(s->component, r->component, sizeof(s->component));
	(void)fl_strlcpy(s->version, r->version, sizeof(s->version));
	(void)fl_strlcpy(s->sha, r->artifact_sha256, sizeof(s->sha));
	(void)fl_strlcpy(s->started_by, r->started_by, sizeof(s->started_by));
	s->state = r->state;
	s->is_paused = r->is_paused;
	s->created = r->created_at_s;
	s->started = r->started_at_s;
	s->ended = r->ended_at_s;
	for (unsigned i = 0; i < r->n_stages && i < FL_STORE_STAGES; i++)
		if (r->stages[i].state != FL_STAGE_PENDING)
			(void)fl_strlcpy(s->stage, r->stages[i].name,
					 sizeof(s->stage));
}

static const char *stage_name(const struct fl_runner_view *v, unsigned i)
{
	if (v->plan != NULL && i < v->plan->nstages)
		return v->plan->stages[i].name;
	return NULL;
}

static void waiting_json(struct jb *b, cJSON *o, const struct fl_runner_view *v)
{
	const struct fl_runner_wait *w = &v->wait;
	const char *why, *stage = stage_name(v, w->stage), *hold = NULL;
	cJSON *x;

	switch (w->why) {
	case FL_WHY_HOLD: why = "hold"; break;
	case FL_WHY_WINDOW: why = "window"; break;
	case FL_WHY_RATE: why = "rate"; break;
	case FL_WHY_OPERATOR: why = "pause"; break;
	case FL_WHY_GATE: why = "approval"; break;
	default:
		if (v->status.is_paused) {
			why = "pause";
			break;
		}
		j_null(b, o, "waiting");
		return;
	}
	if (w->why == FL_WHY_HOLD && w->hold >= 0 && v->plan != NULL &&
	    (unsigned)w->hold < v->plan->nholds)
		hold = v->plan->holds[w->hold].name;
	x = j_obj(b, o, "waiting");
	j_str(b, x, "why", why);
	j_time(b, x, "until",
	       w->until_s == FL_ENGINE_NEVER || w->until_s <= 0 ? -1
								: w->until_s);
	j_strn(b, x, "hold", hold);
	j_strn(b, x, "stage",
	       w->why == FL_WHY_GATE || w->why == FL_WHY_HOLD ? stage : NULL);
	j_strn(b, x, "reason",
	       hold != NULL ? v->plan->holds[w->hold].reason : NULL);
}

static void rollback_json(struct jb *b, cJSON *o,
			  const struct fl_runner_view *v)
{
	const struct fl_engine_status *s = &v->status;
	uint32_t ended = s->n_rollback_done + s->n_rollback_failed;
	cJSON *x;

	if (v->rollback_started_s < 0) {
		j_null(b, o, "rollback");
		return;
	}
	x = j_obj(b, o, "rollback");
	j_num(b, x, "started", (double)v->rollback_started_s);
	j_str(b, x, "why",
	      v->rollback_why == FL_WHY_GATE ? "gate" : "operator");
	j_strn(b, x, "stage", stage_name(v, v->rollback_stage));
	j_num(b, x, "sent", s->n_rollback_sent);
	j_num(b, x, "done", s->n_rollback_done);
	j_num(b, x, "failed", s->n_rollback_failed);
	j_num(b, x, "pending",
	      s->n_rollback_sent > ended ? s->n_rollback_sent - ended : 0);
	j_num(b, x, "unreached", s->n_rollback_unreached);
}

/* The fields of a rollout every answer has; v (the runner's live view)
 * may be NULL for a finished rollout in a list. */
static void rollout_head(struct jb *b, cJSON *o, const struct rsum *s,
			 const struct fl_runner_view *v)
{
	j_str(b, o, "name", s->name);
	j_str(b, o, "component", s->component);
	j_str(b, o, "version", s->version);
	j_str(b, o, "artifact_sha256", s->sha);
	j_str(b, o, "state",
	      NAME(ROLLOUT_STATE, v != NULL ? v->status.state : s->state));
	j_bool(b, o, "paused", v != NULL ? v->status.is_paused : s->is_paused);
	j_strn(b, o, "started_by", s->started_by);
	j_time(b, o, "created", s->created);
	j_time(b, o, "started", s->started);
	j_time(b, o, "ended", s->ended);
	if (v == NULL) {
		j_strn(b, o, "stage", s->stage);
		j_null(b, o, "encrypted");
		j_null(b, o, "compressed");
		j_null(b, o, "chunk");
		j_null(b, o, "targets");
		j_null(b, o, "members");
		j_null(b, o, "unplaced");
		j_null(b, o, "waiting");
		j_null(b, o, "rollback");
		return;
	}
	j_strn(b, o, "stage",
	       v->status.stage != FL_ENGINE_NO_STAGE
		       ? stage_name(v, v->status.stage)
		       : NULL);
	j_bool(b, o, "encrypted", v->is_encrypted);
	if (v->is_encrypted) { /* the container's form: the plan's */
		j_bool(b, o, "compressed", v->plan->artifact.is_compressed);
		j_num(b, o, "chunk", v->plan->artifact.chunk_bytes);
	} else {
		j_null(b, o, "compressed");
		j_null(b, o, "chunk");
	}
	j_num(b, o, "targets", v->status.n_targets);
	j_num(b, o, "members", v->status.n_members);
	j_num(b, o, "unplaced", v->status.n_unplaced);
	waiting_json(b, o, v);
	rollback_json(b, o, v);
}

/* A stage's "split": each member once, by what it is doing now. */
enum {
	SPLIT_OFFERED,
	SPLIT_DOWNLOADING,
	SPLIT_INSTALLING,
	SPLIT_SUCCEEDED,
	SPLIT_FAILED,
	SPLIT_UNREACHED,
	SPLIT_ROLLED_BACK,
	SPLIT_WAITING,
	SPLIT_SKIPPED,
	SPLIT_N
};

static const char *const SPLIT[SPLIT_N] = {
	"offered",   "downloading", "installing", "succeeded", "failed",
	"unreached", "rolled_back", "waiting",	  "skipped",
};

static unsigned split_of(const struct fl_store_member *m)
{
	if (m->rollback == FL_RB_DONE)
		return SPLIT_ROLLED_BACK;
	switch (m->status) {
	case FL_DEV_IN_FLIGHT:
		return m->progress <= FL_PROG_ACKED	    ? SPLIT_OFFERED
		       : m->progress == FL_PROG_DOWNLOADING ? SPLIT_DOWNLOADING
							    : SPLIT_INSTALLING;
	case FL_DEV_SUCCEEDED: return SPLIT_SUCCEEDED;
	case FL_DEV_FAILED: return SPLIT_FAILED;
	case FL_DEV_UNREACHED: return SPLIT_UNREACHED;
	case FL_DEV_SKIPPED:
	case FL_DEV_CANCELLED: return SPLIT_SKIPPED;
	default: return SPLIT_WAITING;
	}
}

/* What the members' records add to the engine's stage counts. */
struct member_walk {
	const struct fl_runner_view *v;
	int64_t now;
	uint32_t offered[FL_PLAN_MAX_STAGES];
	uint32_t level[FL_PLAN_MAX_STAGES][FL_PROG_COMMITTED + 1];
	uint32_t split[FL_PLAN_MAX_STAGES][SPLIT_N];
	int64_t soak_end[FL_PLAN_MAX_STAGES];
	uint64_t last_key;
	unsigned n;
};

static int64_t stage_soak(const struct fl_plan *p, unsigned i)
{
	if (p == NULL || i >= p->nstages)
		return 0;
	return p->stages[i].has_soak ? p->stages[i].soak_s : p->health.soak_s;
}

static int member_count_cb(void *ctx, const struct fl_store_member *m)
{
	struct member_walk *w = ctx;
	unsigned s = m->stage;

	w->last_key = m->device_key;
	w->n++;
	if (s >= FL_PLAN_MAX_STAGES)
		return 0;
	if (m->offered_at_s >= 0)
		w->offered[s]++;
	w->split[s][split_of(m)]++;
	if (m->progress <= FL_PROG_COMMITTED)
		w->level[s][m->progress]++;
	if (m->status == FL_DEV_IN_FLIGHT && m->progress == FL_PROG_COMMITTED &&
	    m->committed_at_s >= 0) {
		int64_t end = m->committed_at_s + stage_soak(w->v->plan, s);

		if (end > w->soak_end[s])
			w->soak_end[s] = end;
	}
	return 0;
}

struct approval_walk {
	struct jb *b;
	cJSON *list;
};

static int approval_cb(void *ctx, const struct fl_store_approval *a)
{
	struct approval_walk *w = ctx;
	cJSON *o = jadd(w->b, w->list, NULL, cJSON_CreateObject());

	j_str(w->b, o, "name", a->what);
	j_bool(w->b, o, "hold", a->is_hold);
	j_strn(w->b, o, "who", a->who);
	j_num(w->b, o, "at", (double)a->at_s);
	return 0;
}

static const cJSON *find_approval(const cJSON *list, const char *stage)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, list)
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(it, "hold");

		if (cJSON_IsString(n) && strcmp(n->valuestring, stage) == 0 &&
		    cJSON_IsFalse(h))
			return it;
	}
	return NULL;
}

static void stage_json(struct jb *b, cJSON *o, const struct fl_runner_view *v,
		       unsigned i, const struct member_walk *mw,
		       const cJSON *approvals)
{
	const struct fl_engine_stage *st = &v->stages[i];
	const struct fl_plan *p = v->plan;
	const struct fl_plan_health *hp = p != NULL ? &p->health : NULL;
	cJSON *c, *g, *pr, *sp;

	j_strn(b, o, "name", stage_name(v, i));
	j_str(b, o, "state", NAME(STAGE_STATE, st->state));
	j_num(b, o, "members", st->members);
	j_time(b, o, "started", st->started_at_s);
	j_bool(b, o, "overridden", st->is_overridden);
	c = j_obj(b, o, "counts");
	for (unsigned k = FL_DEV_PENDING; k < FL_DEV_NSTATUS; k++)
		j_num(b, c, DEV_STATUS[k], st->count[k]);
	pr = j_obj(b, o, "progress");
	j_num(b, pr, "offered", mw->offered[i]);
	for (unsigned k = FL_PROG_DOWNLOADING; k <= FL_PROG_COMMITTED; k++)
		j_num(b, pr, PROGRESS[k], mw->level[i][k]);
	sp = j_obj(b, o, "split");
	for (unsigned k = 0; k < SPLIT_N; k++)
		j_num(b, sp, SPLIT[k], mw->split[i][k]);
	g = j_obj(b, o, "gate");
	j_num(b, g, "judged", st->judged);
	j_num(b, g, "failed", st->failed);
	j_num(b, g, "failure_rate",
	      st->judged > 0 ? (double)st->failed / st->judged : 0.0);
	if (hp != NULL && hp->has_max_failure_rate)
		j_num(b, g, "max_failure_rate",
		      (double)hp->max_failure_rate_ppm / FL_PPM);
	else if (hp != NULL && !hp->has_max_failures)
		j_num(b, g, "max_failure_rate", 0.0); /* any failure fails */
	else
		j_null(b, g, "max_failure_rate");
	if (hp != NULL && hp->has_max_failures)
		j_num(b, g, "max_failures", hp->max_failures);
	else
		j_null(b, g, "max_failures");
	if (hp != NULL && hp->has_min_devices)
		j_num(b, g, "min_devices", hp->min_devices);
	else
		j_null(b, g, "min_devices");
	j_num(b, g, "soak_s", (double)stage_soak(p, i));
	j_num(b, g, "soak_left_s",
	      mw->soak_end[i] > mw->now ? (double)(mw->soak_end[i] - mw->now)
					: 0.0);
	if (p != NULL && i < p->nstages && p->stages[i].approval_required) {
		const cJSON *a = find_approval(approvals, p->stages[i].name);
		cJSON *x = j_obj(b, o, "approval");

		j_bool(b, x, "required", true);
		j_bool(b, x, "approved", a != NULL);
		if (a != NULL) {
			jadd(b, x, "who",
			     cJSON_Duplicate(
				     cJSON_GetObjectItemCaseSensitive(a, "who"),
				     true));
			jadd(b, x, "at",
			     cJSON_Duplicate(
				     cJSON_GetObjectItemCaseSensitive(a, "at"),
				     true));
		} else {
			j_null(b, x, "who");
			j_null(b, x, "at");
		}
	} else {
		j_null(b, o, "approval");
	}
}

/* Everything GET /api/v1/rollouts/{name} answers, as a new object in
 * *out. Returns 0, FL_ENOENT, a store error, FL_ENOMEM. */
struct rollout_ctx {
	struct fl_store_rollout sr;
	struct fl_runner_view v;
	struct member_walk mw;
	struct rsum sum;
};

static int rollout_full(struct fl_http *h, const char *name, struct jb *b,
			cJSON **out)
{
	struct rollout_ctx *x = calloc(1, sizeof(*x));
	struct approval_walk aw;
	cJSON *o = NULL, *approvals = NULL, *stages;
	int rc;

	*out = NULL;
	if (x == NULL)
		return FL_ENOMEM;
	rc = fl_runner_view(h->runner, name, &x->v);
	if (rc == 0)
		rc = fl_store_rollout_get(h->store, name, &x->sr);
	if (rc != 0)
		goto out;
	rsum_of(&x->sum, &x->sr);
	x->mw.v = &x->v;
	x->mw.now = http__now(h);
	do {
		unsigned before = x->mw.n;

		rc = fl_store_member_list(h->store, name, NULL, x->mw.last_key,
					  FL_STORE_PAGE_MAX, member_count_cb,
					  &x->mw);
		if (rc != 0 || x->mw.n - before < FL_STORE_PAGE_MAX)
			break;
	} while (1);
	if (rc != 0)
		goto out;
	approvals = cJSON_CreateArray();
	aw.b = b;
	aw.list = approvals;
	rc = fl_store_approval_list(h->store, name, 0, APPROVALS_MAX,
				    approval_cb, &aw);
	if (rc != 0)
		goto out;
	o = cJSON_CreateObject();
	rollout_head(b, o, &x->sum, &x->v);
	stages = j_arr(b, o, "stages");
	for (unsigned i = 0; i < x->v.n_stages && i < FL_PLAN_MAX_STAGES; i++)
		stage_json(b, jadd(b, stages, NULL, cJSON_CreateObject()),
			   &x->v, i, &x->mw, approvals);
	jadd(b, o, "approvals", approvals);
	approvals = NULL;
	*out = o;
	o = NULL;
out:
	cJSON_Delete(approvals);
	cJSON_Delete(o);
	free(x);
	return rc;
}

static enum MHD_Result send_rollout(struct fl_http_req *req, const char *name,
				    unsigned status, int changed)
{
	struct jb b = {false};
	cJSON *o = NULL, *root;
	int rc = rollout_full(req->h, name, &b, &o);

	if (rc == FL_ENOENT)
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "no rollout named '%s'", name);
	if (rc == FL_ENOMEM)
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "out of memory");
	if (rc != 0)
		return http__store_error(req, rc);
	if (changed < 0)
		return send_built(req, &b, status, o);
	root = cJSON_CreateObject();
	j_bool(&b, root, "changed", changed != 0);
	jadd(&b, root, "rollout", o);
	return send_built(req, &b, status, root);
}

/* A rollout just started: as send_rollout, with "no_key" (the targets
 * of an encrypted image that have no wrap key) when there are any. */
static enum MHD_Result send_started(struct fl_http_req *req, const char *name,
				    const struct fl_runner_error *err)
{
	struct jb b = {false};
	cJSON *o = NULL, *nk, *list;
	int rc;

	if (err->n_no_key == 0)
		return send_rollout(req, name, MHD_HTTP_CREATED, -1);
	rc = rollout_full(req->h, name, &b, &o);
	if (rc != 0)
		return send_rollout(req, name, MHD_HTTP_CREATED, -1);
	nk = j_obj(&b, o, "no_key");
	j_num(&b, nk, "count", err->n_no_key);
	list = j_arr(&b, nk, "devices");
	for (unsigned i = 0; i < err->n_no_key && i < 20; i++)
		jadd(&b, list, NULL, cJSON_CreateString(err->no_key[i]));
	return send_built(req, &b, MHD_HTTP_CREATED, o);
}

static enum MHD_Result api_rollout(struct fl_http_req *req)
{
	if (req->h->runner == NULL)
		return no_runner(req);
	if (!is_ident(req->arg, FL_PLAN_NAME_MAX))
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "no rollout named '%s'", req->arg);
	return send_rollout(req, req->arg, MHD_HTTP_OK, -1);
}

/* The list: newest first, so the walk (oldest first) keeps the last
 * limit + 1 matches older than the cursor in a ring. */
struct rollout_walk {
	int filter; /* 0 all, 1 active, 2 finished */
	const char *after;
	bool has_met_after;
	struct rsum *ring;
	unsigned cap, n, head;
	uint64_t last_id;
	unsigned seen;
};

static int rollout_list_cb(void *ctx, const struct fl_store_rollout *r)
{
	struct rollout_walk *w = ctx;
	bool is_active = is_active_state(r->state);

	w->last_id = r->id;
	w->seen++;
	if (w->after != NULL && strcmp(r->name, w->after) == 0) {
		w->has_met_after = true;
		return 1; /* everything from here on is newer */
	}
	if ((w->filter == 1 && !is_active) || (w->filter == 2 && is_active))
		return 0;
	rsum_of(&w->ring[w->head], r);
	w->head = (w->head + 1) % w->cap;
	if (w->n < w->cap)
		w->n++;
	return 0;
}

static enum MHD_Result api_rollouts(struct fl_http_req *req)
{
	struct fl_http *h = req->h;
	const char *state = query(req, "state");
	struct fl_runner_view *v = NULL;
	struct rollout_walk w;
	struct jb b = {false};
	cJSON *root, *list;
	unsigned limit, shown;
	int rc = 0;

	memset(&w, 0, sizeof(w));
	if (query_limit(req, &limit) != 0)
		return bad_query(req, "limit", "not 1..1000");
	if (state == NULL || strcmp(state, "all") == 0)
		w.filter = 0;
	else if (strcmp(state, "active") == 0)
		w.filter = 1;
	else if (strcmp(state, "finished") == 0)
		w.filter = 2;
	else
		return bad_query(req, "state", "not active, finished or all");
	w.after = query(req, "after");
	w.cap = limit + 1;
	w.ring = calloc(w.cap, sizeof(*w.ring));
	if (w.ring == NULL)
		return MHD_NO;
	for (;;) {
		unsigned before = w.seen;

		rc = fl_store_rollout_list(h->store, w.last_id,
					   FL_STORE_PAGE_MAX, rollout_list_cb,
					   &w);
		if (rc != 0 || w.seen - before < FL_STORE_PAGE_MAX)
			break;
	}
	if (rc < 0) {
		free(w.ring);
		return http__store_error(req, rc);
	}
	if (w.after != NULL && !w.has_met_after) {
		free(w.ring);
		return bad_query(req, "after", "no rollout of that name");
	}
	if (h->runner != NULL)
		v = malloc(sizeof(*v));
	root = cJSON_CreateObject();
	list = j_arr(&b, root, "rollouts");
	shown = w.n < limit ? w.n : limit;
	for (unsigned k = 0; k < shown; k++) {
		struct rsum *s = &w.ring[(w.head + w.cap - 1 - k) % w.cap];
		bool has_view = v != NULL && is_active_state(s->state) &&
				fl_runner_view(h->runner, s->name, v) == 0;

		rollout_head(&b, jadd(&b, list, NULL, cJSON_CreateObject()), s,
			     has_view ? v : NULL);
	}
	j_strn(&b, root, "next",
	       w.n > limit ? w.ring[(w.head + w.cap - limit) % w.cap].name
			   : "");
	free(v);
	free(w.ring);
	return send_built(req, &b, MHD_HTTP_OK, root);
}

static enum MHD_Result api_rollout_start(struct fl_http_req *req)
{
	struct fl_http *h = req->h;
	const char *plan, *plan_file, *sha, *who;
	struct fl_runner_error *err = NULL;
	struct fl_plan_diags *diags = NULL;
	struct fl_plan *p = NULL;
	enum MHD_Result mrc = MHD_NO;
	char name[FL_STORE_NAME_MAX];
	cJSON *body;
	int rc;

	if (h->runner == NULL)
		return no_runner(req);
	if (body_object(req, true, &body, &mrc) != 0)
		return mrc;
	if (member_str(body, "plan", &plan) != 0 || plan == NULL ||
	    member_str(body, "plan_file", &plan_file) != 0 ||
	    member_str(body, "artifact_sha256", &sha) != 0 || sha == NULL ||
	    member_str(body, "who", &who) != 0) {
		cJSON_Delete(body);
		return http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
				   "'plan' and 'artifact_sha256' are required "
				   "strings; 'plan_file' and 'who' optional "
				   "strings");
	}
	if (!http__is_sha256(sha) ||
	    (who != NULL && !is_text(who, WHO_MAX, false)) ||
	    (plan_file != NULL && !is_text(plan_file, PLAN_FILE_MAX, false))) {
		cJSON_Delete(body);
		return http__error(
			req, MHD_HTTP_BAD_REQUEST, "bad_request",
			"'artifact_sha256' must be 64 lower-case hex "
			"digits, 'who' at most %d and 'plan_file' at "
			"most %d printable characters",
			WHO_MAX - 1, PLAN_FILE_MAX - 1);
	}
	err = calloc(1, sizeof(*err));
	diags = calloc(1, sizeof(*diags));
	if (err == NULL || diags == NULL)
		goto oom;
	/* who: the token's name; the body's "who" is not trusted */
	rc = fl_runner_start(h->runner, plan, strlen(plan), plan_file, sha,
			     req->who, http__now(h), err);
	if (rc != 0) {
		mrc = runner_error(req, rc, err);
		goto out;
	}
	/* The runner took it: its name is the plan's. */
	rc = fl_plan_parse(plan, strlen(plan), NULL, &p, diags);
	if (rc != 0 || p == NULL || p->name == NULL ||
	    fl_strlcpy(name, p->name, sizeof(name)) != 0) {
		mrc = http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "internal",
				  "started, but the plan does not parse again");
		goto out;
	}
	fl_http_events_appended(h);
	mrc = send_started(req, name, err);
	goto out;
oom:
	mrc = http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
			  "out of memory");
out:
	fl_plan_free(p);
	free(diags);
	free(err);
	cJSON_Delete(body);
	return mrc;
}

static enum MHD_Result api_action(struct fl_http_req *req, int action)
{
	struct fl_http *h = req->h;
	struct fl_runner_error *err;
	const char *who = NULL, *reason = NULL, *what = NULL;
	enum MHD_Result mrc = MHD_NO;
	bool changed = false;
	cJSON *body;
	int rc;

	if (h->runner == NULL)
		return no_runner(req);
	if (!is_ident(req->arg, FL_PLAN_NAME_MAX))
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "no rollout named '%s'", req->arg);
	if (body_object(req, false, &body, &mrc) != 0)
		return mrc;
	if (member_str(body, "who", &who) != 0 ||
	    member_str(body, "reason", &reason) != 0 ||
	    member_str(body, "name", &what) != 0 ||
	    (who != NULL && !is_text(who, WHO_MAX, false)) ||
	    (reason != NULL && !is_text(reason, REASON_MAX, false)) ||
	    (what != NULL && !is_ident(what, FL_PLAN_NAME_MAX))) {
		cJSON_Delete(body);
		return http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
				   "'who' (at most %d printable characters), "
				   "'reason' (at most %d) and 'name' (a stage "
				   "or hold name) are optional strings",
				   WHO_MAX - 1, REASON_MAX - 1);
	}
	if (action == FL_RUNNER_APPROVE && what == NULL) {
		cJSON_Delete(body);
		return http__error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
				   "approve needs \"name\": the stage or hold "
				   "to approve");
	}
	err = calloc(1, sizeof(*err));
	if (err == NULL) {
		cJSON_Delete(body);
		return MHD_NO;
	}
	/* who: the token's name; the body's "who" is not trusted */
	rc = fl_runner_action(h->runner, req->arg, action,
			      action == FL_RUNNER_APPROVE ? what : NULL,
			      req->who, http__now(h), &changed, err);
	if (rc != 0)
		mrc = runner_error(req, rc, err);
	free(err);
	cJSON_Delete(body);
	if (rc != 0)
		return mrc;
	if (changed)
		fl_http_events_appended(h);
	return send_rollout(req, req->arg,
			    changed ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK,
			    changed ? 1 : 0);
}

static enum MHD_Result api_rollback_preview(struct fl_http_req *req)
{
	char(*first)[FL_DEVICE_ID_MAX];
	uint32_t revert = 0, cancel = 0;
	struct jb b = {false};
	cJSON *root, *list;
	unsigned n = 0;
	int rc;

	if (req->h->runner == NULL)
		return no_runner(req);
	if (!is_ident(req->arg, FL_PLAN_NAME_MAX))
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "no rollout named '%s'", req->arg);
	first = calloc(20, FL_DEVICE_ID_MAX);
	if (first == NULL)
		return MHD_NO;
	rc = fl_runner_rollback_preview(req->h->runner, req->arg, &revert,
					&cancel, first, &n);
	if (rc != 0) {
		free(first);
		if (rc == FL_ENOENT)
			return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
					   "no rollout named '%s'", req->arg);
		return http__store_error(req, rc);
	}
	root = cJSON_CreateObject();
	j_num(&b, root, "revert", revert);
	j_num(&b, root, "cancel", cancel);
	list = j_arr(&b, root, "devices");
	for (unsigned i = 0; i < n && i < 20; i++)
		jadd(&b, list, NULL, cJSON_CreateString(first[i]));
	free(first);
	return send_built(req, &b, MHD_HTTP_OK, root);
}

struct rdev_walk {
	struct jb *b;
	cJSON *list;
	const struct fl_runner_view *v;
	unsigned n, limit;
	bool has_more;
	uint64_t last_key;
};

static int rdev_cb(void *ctx, const struct fl_store_member *m)
{
	struct rdev_walk *w = ctx;
	struct jb *b = w->b;
	cJSON *o;

	if (w->n == w->limit) {
		w->has_more = true;
		return 1;
	}
	o = jadd(b, w->list, NULL, cJSON_CreateObject());
	j_str(b, o, "id", m->device);
	j_strn(b, o, "stage", stage_name(w->v, m->stage));
	j_str(b, o, "status", NAME(DEV_STATUS, m->status));
	j_str(b, o, "progress", NAME(PROGRESS, m->progress));
	j_str(b, o, "rollback", NAME(RB_STATE, m->rollback));
	j_time(b, o, "job", m->job != 0 ? (int64_t)m->job : -1);
	j_time(b, o, "offered", m->offered_at_s);
	j_time(b, o, "committed", m->committed_at_s);
	j_strn(b, o, "fail_reason",
	       m->status == FL_DEV_FAILED ? NAME(FAIL_REASON, m->fail_reason)
					  : NULL);
	j_strn(b, o, "reason", m->reason);
	j_num(b, o, "bytes", m->bytes);
	j_num(b, o, "total", m->total);
	j_strn(b, o, "version", m->version);
	w->last_key = m->device_key;
	w->n++;
	return 0;
}

static enum MHD_Result api_rollout_devices(struct fl_http_req *req)
{
	struct fl_store_member_filter f = {-1, -1};
	const char *status = query(req, "status"), *stage = query(req, "stage");
	struct fl_runner_view *v;
	struct rdev_walk w;
	struct jb b = {false};
	uint64_t after;
	unsigned limit;
	cJSON *root;
	int rc;

	if (req->h->runner == NULL)
		return no_runner(req);
	if (query_limit(req, &limit) != 0)
		return bad_query(req, "limit", "not 1..1000");
	if (query_u64(req, "after", 0, 0, UINT64_MAX, &after) != 0)
		return bad_query(req, "after", "not a cursor given as next");
	if (status != NULL) {
		for (unsigned k = FL_DEV_PENDING; k < FL_DEV_NSTATUS; k++)
			if (strcmp(status, DEV_STATUS[k]) == 0)
				f.status = (int)k;
		if (f.status < 0)
			return bad_query(req, "status",
					 "not one of pending, held, unreached, "
					 "deferred, in_flight, succeeded, "
					 "failed, skipped, cancelled");
	}
	if (!is_ident(req->arg, FL_PLAN_NAME_MAX))
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "no rollout named '%s'", req->arg);
	v = malloc(sizeof(*v));
	if (v == NULL)
		return MHD_NO;
	rc = fl_runner_view(req->h->runner, req->arg, v);
	if (rc != 0) {
		free(v);
		if (rc == FL_ENOENT)
			return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
					   "no rollout named '%s'", req->arg);
		return http__store_error(req, rc);
	}
	if (stage != NULL) {
		for (unsigned k = 0; v->plan != NULL && k < v->plan->nstages;
		     k++)
			if (strcmp(stage, v->plan->stages[k].name) == 0)
				f.stage = (int)k;
		if (f.stage < 0) {
			free(v);
			return bad_query(req, "stage",
					 "no stage of that name in the plan");
		}
	}
	root = cJSON_CreateObject();
	memset(&w, 0, sizeof(w));
	w.b = &b;
	w.v = v;
	w.limit = limit;
	w.list = j_arr(&b, root, "devices");
	rc = fl_store_member_list(req->h->store, req->arg, &f, after, limit + 1,
				  rdev_cb, &w);
	free(v);
	if (rc < 0) {
		cJSON_Delete(root);
		if (rc == FL_ENOENT)
			return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
					   "no rollout named '%s'", req->arg);
		return http__store_error(req, rc);
	}
	j_time(&b, root, "next", w.has_more ? (int64_t)w.last_key : -1);
	return send_built(req, &b, MHD_HTTP_OK, root);
}

/* ---- events ------------------------------------------------------------- */

/* The runner's notes (runner.h, "THE LOG"), from FL_RUNNER_NOTE_MANIFEST. */
static const char *const NOTE_KIND[] = {
	"manifest", "inventory",	 "create",	   "sync", "step",
	"refused",  "rollback_manifest", "rollback_given",
};

/* "decision.offer", "report.committed", "action.pause", "note.step". */
static void event_kind(char *out, size_t size, const struct fl_store_event *e)
{
	if (e->type == FL_STORE_EV_DECISION)
		snprintf(out, size, "decision.%s",
			 NAME(DECISION_KIND, e->kind));
	else if (e->type == FL_STORE_EV_INPUT && e->kind >= FL_EV_PAUSE &&
		 e->kind <= FL_EV_CANCEL)
		snprintf(out, size, "action.%s", NAME(EVENT_KIND, e->kind));
	else if (e->type == FL_STORE_EV_INPUT && e->kind > 0)
		snprintf(out, size, "report.%s", NAME(EVENT_KIND, e->kind));
	else if (e->type == FL_STORE_EV_INPUT)
		snprintf(out, size, "report");
	else if (e->kind >= FL_RUNNER_NOTE_MANIFEST)
		snprintf(out, size, "note.%s",
			 NAME(NOTE_KIND, e->kind - FL_RUNNER_NOTE_MANIFEST));
	else
		snprintf(out, size, "note");
}

/* A decision that is always about a stage: its payload leaves stage 0
 * out (runner.h, "THE LOG"). */
static bool is_stage_decision(const struct fl_store_event *e)
{
	if (e->type != FL_STORE_EV_DECISION || !e->rollout[0])
		return false;
	switch (e->kind) {
	case FL_DEC_OFFER:
	case FL_DEC_DEVICE_SUCCEEDED:
	case FL_DEC_DEVICE_FAILED:
	case FL_DEC_DEVICE_UNREACHED:
	case FL_DEC_STAGE_STARTED:
	case FL_DEC_STAGE_SKIPPED_DEVICE:
	case FL_DEC_STAGE_PASSED:
	case FL_DEC_STAGE_FAILED:
	case FL_DEC_AWAIT_APPROVAL: return true;
	default: return false;
	}
}

struct event_walk {
	struct jb *b;
	cJSON *list;
	unsigned n;
	uint64_t last;
};

/* Each event, with "stage" the stage's index from the payload for now
 * (named after the walk: a walk's callback may not call the runner). */
static int event_cb(void *ctx, const struct fl_store_event *e)
{
	struct event_walk *w = ctx;
	struct jb *b = w->b;
	char kind[48];
	cJSON *o = jadd(b, w->list, NULL, cJSON_CreateObject()), *detail;
	const cJSON *stage;

	event_kind(kind, sizeof(kind), e);
	j_num(b, o, "seq", (double)e->seq);
	j_num(b, o, "at", (double)e->at_s);
	j_strn(b, o, "rollout", e->rollout);
	j_strn(b, o, "device", e->device);
	j_str(b, o, "kind", kind);
	detail = e->payload[0] ? cJSON_Parse(e->payload) : NULL;
	if (detail == NULL || !cJSON_IsObject(detail)) {
		cJSON_Delete(detail);
		detail = cJSON_CreateObject();
	}
	stage = cJSON_GetObjectItemCaseSensitive(detail, "stage");
	if (cJSON_IsNumber(stage) && e->rollout[0])
		j_num(b, o, "stage", stage->valuedouble);
	else if (stage == NULL && is_stage_decision(e))
		j_num(b, o, "stage", 0); /* the runner leaves 0 out */
	else
		j_strn(b, o, "stage",
		       cJSON_IsString(stage) ? stage->valuestring : NULL);
	jadd(b, o, "detail", detail);
	w->last = e->seq;
	w->n++;
	return 0;
}

/* Replaces each event's stage index by the stage's name in its rollout's
 * plan (null when the runner does not know it). */
static void name_stages(struct fl_http *h, struct jb *b, cJSON *list)
{
	struct fl_runner_view *v = NULL;
	char have[FL_STORE_NAME_MAX] = "";
	bool has_view = false;
	cJSON *it;

	cJSON_ArrayForEach(it, list)
	{
		cJSON *stage = cJSON_GetObjectItemCaseSensitive(it, "stage");
		const cJSON *r =
			cJSON_GetObjectItemCaseSensitive(it, "rollout");
		const char *name = NULL;
		cJSON *nv;

		if (!cJSON_IsNumber(stage) || !cJSON_IsString(r))
			continue;
		if (h->runner != NULL && strcmp(have, r->valuestring) != 0) {
			if (v == NULL)
				v = malloc(sizeof(*v));
			has_view = v != NULL &&
				   fl_runner_view(h->runner, r->valuestring,
						  v) == 0;
			(void)fl_strlcpy(have, r->valuestring, sizeof(have));
		}
		if (has_view && stage->valuedouble >= 0)
			name = stage_name(v, (unsigned)stage->valuedouble);
		nv = name != NULL ? cJSON_CreateString(name)
				  : cJSON_CreateNull();
		if (nv == NULL ||
		    !cJSON_ReplaceItemInObjectCaseSensitive(it, "stage", nv)) {
			cJSON_Delete(nv);
			b->is_oom = true;
		}
	}
	free(v);
}

static enum MHD_Result api_events(struct fl_http_req *req)
{
	struct fl_http *h = req->h;
	const char *rollout = query(req, "rollout");
	uint64_t after, wait_s, now_ms = fl_loop_now_ms();
	struct event_walk w;
	struct jb b = {false};
	unsigned limit;
	cJSON *root;
	int rc;

	if (query_limit(req, &limit) != 0)
		return bad_query(req, "limit", "not 1..1000");
	if (query_u64(req, "after", 0, 0, FL_PROTO_UINT_MAX, &after) != 0)
		return bad_query(req, "after", "not a sequence number");
	if (query_u64(req, "wait", 0, 0, FL_HTTP_WAIT_MAX_S, &wait_s) != 0)
		return bad_query(req, "wait", "not 0..30 seconds");
	if (rollout != NULL && !is_ident(rollout, FL_PLAN_NAME_MAX))
		return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
				   "no rollout named '%s'", rollout);
	if (req->wait_until_ms == 0)
		req->wait_until_ms = now_ms + wait_s * 1000u;

	root = cJSON_CreateObject();
	memset(&w, 0, sizeof(w));
	w.b = &b;
	w.last = after;
	w.list = j_arr(&b, root, "events");
	rc = fl_store_events_after(h->store, rollout, after, limit, event_cb,
				   &w);
	if (rc < 0) {
		cJSON_Delete(root);
		if (rc == FL_ENOENT)
			return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
					   "no rollout named '%s'", rollout);
		return http__store_error(req, rc);
	}
	if (w.n == 0 && wait_s > 0 && !req->is_wait_over && !h->is_stopping &&
	    now_ms < req->wait_until_ms) {
		cJSON_Delete(root);
		return http__park(req, req->wait_until_ms);
	}
	name_stages(h, &b, w.list);
	j_num(&b, root, "next", (double)w.last);
	return send_built(req, &b, MHD_HTTP_OK, root);
}

/* ---- status ------------------------------------------------------------- */

struct active_walk {
	uint32_t active;
	uint32_t by_state[5];
	uint64_t last_id;
	unsigned seen;
	/* names of the active rollouts, for metrics, when want_names */
	bool want_names, is_oom;
	char (*names)[FL_STORE_NAME_MAX];
	unsigned n_names, cap_names;
};

static int active_cb(void *ctx, const struct fl_store_rollout *r)
{
	struct active_walk *w = ctx;

	w->last_id = r->id;
	w->seen++;
	if (r->state < 5)
		w->by_state[r->state]++;
	if (!is_active_state(r->state))
		return 0;
	w->active++;
	if (!w->want_names)
		return 0;
	if (w->n_names == w->cap_names) {
		unsigned cap = w->cap_names != 0 ? w->cap_names * 2 : 16;
		void *p = realloc(w->names, cap * sizeof(*w->names));

		if (p == NULL) {
			w->is_oom = true;
			return 0;
		}
		w->names = p;
		w->cap_names = cap;
	}
	(void)fl_strlcpy(w->names[w->n_names++], r->name, FL_STORE_NAME_MAX);
	return 0;
}

/* Counts rollouts by state (and names the active ones if want_names). */
static int walk_rollouts(struct fl_http *h, struct active_walk *w,
			 bool want_names)
{
	int rc;

	memset(w, 0, sizeof(*w));
	w->want_names = want_names;
	for (;;) {
		unsigned before = w->seen;

		rc = fl_store_rollout_list(h->store, w->last_id,
					   FL_STORE_PAGE_MAX, active_cb, w);
		if (rc != 0 || w->seen - before < FL_STORE_PAGE_MAX)
			return rc;
	}
}

static enum MHD_Result api_status(struct fl_http_req *req)
{
	struct fl_http *h = req->h;
	struct active_walk w;
	uint32_t total = 0, online = 0;
	uint64_t last_seq = 0;
	struct jb b = {false};
	cJSON *root, *x;
	int rc;

	rc = http__device_counts(h, &total, &online);
	if (rc == 0)
		rc = walk_rollouts(h, &w, false);
	if (rc == 0)
		rc = fl_store_event_last(h->store, &last_seq);
	if (rc != 0)
		return http__store_error(req, rc);
	root = cJSON_CreateObject();
	j_str(&b, root, "version", h->version);
	j_num(&b, root, "started", (double)h->started_s);
	j_num(&b, root, "now", (double)http__now(h));
	x = j_obj(&b, root, "broker");
	j_strn(&b, x, "url", h->broker_url);
	j_bool(&b, x, "embedded", h->is_broker_embedded);
	j_bool(&b, x, "connected", h->is_broker_connected);
	j_bool(&b, root, "insecure", h->is_insecure);
	x = j_obj(&b, root, "devices");
	j_num(&b, x, "total", total);
	j_num(&b, x, "online", online);
	x = j_obj(&b, root, "rollouts");
	j_num(&b, x, "active", w.active);
	x = j_obj(&b, root, "events");
	j_num(&b, x, "last", (double)last_seq);
	j_bool(&b, root, "ready", h->runner != NULL);
	if (h->signer != NULL) {
		char pub[FL_SIGN_PUB_HEX_MAX], kid[FL_SIGN_KID_HEX_MAX];

		fl_sign_key_pub_hex(fl_signer_key(h->signer), pub);
		fl_sign_key_kid_hex(fl_signer_key(h->signer), kid);
		x = j_obj(&b, root, "signing");
		j_str(&b, x, "kid", kid);
		j_str(&b, x, "pubkey", pub);
	} else {
		j_null(&b, root, "signing");
	}
	return send_built(req, &b, MHD_HTTP_OK, root);
}

/* ---- metrics ------------------------------------------------------------ */

struct text {
	char *p;
	size_t len, cap;
	bool is_failed;
};

static void tprintf(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tprintf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->is_failed)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->p != NULL ? t->p + t->len : NULL, room, fmt,
			      ap);
		va_end(ap);
		if (n < 0) {
			t->is_failed = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		if (t->cap >= METRICS_MAX) {
			t->is_failed = true;
			return;
		}
		{
			size_t cap = t->cap != 0 ? t->cap * 2 : 8192;
			char *p = realloc(t->p, cap);

			if (p == NULL) {
				t->is_failed = true;
				return;
			}
			t->p = p;
			t->cap = cap;
		}
	}
}

/* A label value with \, " and newline escaped (text format 0.0.4). */
static const char *esc(char *out, size_t size, const char *s)
{
	size_t o = 0;

	for (; *s && o + 3 < size; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return out;
}

static void help(struct text *t, const char *name, const char *type,
		 const char *text)
{
	tprintf(t, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static enum MHD_Result api_metrics(struct fl_http_req *req)
{
	static const char *const TOPICS[] = {"presence", "reported", "cmd",
					     "status", "health"};
	static const char *const CMDS[] = {"", "offer", "cancel", "rollback"};
	struct fl_http *h = req->h;
	struct fl_runner_view *v = NULL;
	struct text t = {NULL, 0, 0, false};
	struct active_walk w;
	uint32_t total = 0, online = 0;
	char r_esc[2 * FL_STORE_NAME_MAX], s_esc[2 * FL_STORE_NAME_MAX];
	int rc;

	memset(&w, 0, sizeof(w));
	rc = http__device_counts(h, &total, &online);
	if (rc == 0)
		rc = walk_rollouts(h, &w, h->runner != NULL);
	if (rc == 0 && w.is_oom)
		rc = FL_ENOMEM;
	if (rc != 0) {
		free(w.names);
		return http__store_error(req, rc);
	}
	help(&t, "fleet_devices", "gauge", "Devices known to fleetd.");
	tprintf(&t, "fleet_devices{online=\"true\"} %" PRIu32 "\n", online);
	tprintf(&t, "fleet_devices{online=\"false\"} %" PRIu32 "\n",
		total - online);
	help(&t, "fleet_rollouts", "gauge", "Rollouts by state.");
	for (unsigned s = 0; s < 5; s++)
		tprintf(&t, "fleet_rollouts{state=\"%s\"} %" PRIu32 "\n",
			ROLLOUT_STATE[s], w.by_state[s]);

	if (w.n_names > 0)
		v = malloc(sizeof(*v));
	help(&t, "fleet_rollout_devices", "gauge",
	     "Members of each active rollout by status.");
	for (unsigned i = 0; v != NULL && i < w.n_names; i++) {
		uint32_t sum[FL_DEV_NSTATUS] = {0};

		if (fl_runner_view(h->runner, w.names[i], v) != 0)
			continue;
		esc(r_esc, sizeof(r_esc), w.names[i]);
		for (unsigned s = 0; s < v->n_stages && s < FL_PLAN_MAX_STAGES;
		     s++)
			for (unsigned k = 0; k < FL_DEV_NSTATUS; k++)
				sum[k] += v->stages[s].count[k];
		for (unsigned k = FL_DEV_PENDING; k < FL_DEV_NSTATUS; k++)
			tprintf(&t,
				"fleet_rollout_devices{rollout=\"%s\","
				"status=\"%s\"} %" PRIu32 "\n",
				r_esc, DEV_STATUS[k], sum[k]);
	}
	help(&t, "fleet_rollout_gate_failure_rate", "gauge",
	     "Failed over judged members of each started stage.");
	for (unsigned i = 0; v != NULL && i < w.n_names; i++) {
		if (fl_runner_view(h->runner, w.names[i], v) != 0)
			continue;
		esc(r_esc, sizeof(r_esc), w.names[i]);
		for (unsigned s = 0; s < v->n_stages && s < FL_PLAN_MAX_STAGES;
		     s++) {
			const struct fl_engine_stage *st = &v->stages[s];
			const char *name = stage_name(v, s);

			if (st->started_at_s < 0 || name == NULL)
				continue;
			tprintf(&t,
				"fleet_rollout_gate_failure_rate{rollout=\"%"
				"s\","
				"stage=\"%s\"} %.6g\n",
				r_esc, esc(s_esc, sizeof(s_esc), name),
				st->judged > 0 ? (double)st->failed / st->judged
					       : 0.0);
		}
	}
	help(&t, "fleet_rollout_gate_judged", "gauge",
	     "Judged members of each started stage.");
	for (unsigned i = 0; v != NULL && i < w.n_names; i++) {
		if (fl_runner_view(h->runner, w.names[i], v) != 0)
			continue;
		esc(r_esc, sizeof(r_esc), w.names[i]);
		for (unsigned s = 0; s < v->n_stages && s < FL_PLAN_MAX_STAGES;
		     s++) {
			const char *name = stage_name(v, s);

			if (v->stages[s].started_at_s < 0 || name == NULL)
				continue;
			tprintf(&t,
				"fleet_rollout_gate_judged{rollout=\"%s\","
				"stage=\"%s\"} %" PRIu32 "\n",
				r_esc, esc(s_esc, sizeof(s_esc), name),
				v->stages[s].judged);
		}
	}
	free(v);
	free(w.names);
	help(&t, "fleet_reports_total", "counter",
	     "Device messages received, by topic.");
	for (unsigned k = 0; k < 5; k++)
		if (k != FL_TOPIC_CMD)
			tprintf(&t,
				"fleet_reports_total{topic=\"%s\"} %" PRIu64
				"\n",
				TOPICS[k], h->counters.reports[k]);
	help(&t, "fleet_commands_total", "counter",
	     "Commands sent to devices, by type.");
	for (unsigned k = 1; k < 4; k++)
		tprintf(&t, "fleet_commands_total{type=\"%s\"} %" PRIu64 "\n",
			CMDS[k], h->counters.commands[k]);
	help(&t, "fleet_insecure", "gauge", "1 when TLS is off (--insecure).");
	tprintf(&t, "fleet_insecure %d\n", h->is_insecure ? 1 : 0);
	if (t.is_failed) {
		free(t.p);
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "metrics over their size limit");
	}
	return http__buffer(req, MHD_HTTP_OK,
			    "text/plain; version=0.0.4; charset=utf-8", t.p,
			    t.len);
}

/* ---- tokens ------------------------------------------------------------- */

struct token_walk {
	struct jb *b;
	cJSON *list;
	unsigned n, limit;
	char last[FL_STORE_TOKEN_NAME_MAX];
};

static int token_cb(void *ctx, const struct fl_store_token *t)
{
	struct token_walk *w = ctx;
	cJSON *o;

	if (++w->n > w->limit)
		return 0;
	o = j_obj(w->b, w->list, NULL);
	j_str(w->b, o, "name", t->name);
	j_str(w->b, o, "role", t->role);
	j_time(w->b, o, "created", t->created_at_s);
	j_time(w->b, o, "revoked", t->revoked_at_s);
	(void)fl_strlcpy(w->last, t->name, sizeof(w->last));
	return 0;
}

/* GET /api/v1/tokens: names, roles and times; never a secret or hash. */
static enum MHD_Result api_tokens(struct fl_http_req *req)
{
	struct jb b = {false};
	struct token_walk w;
	const char *after = query(req, "after");
	cJSON *root = cJSON_CreateObject();
	unsigned limit = 0;
	int rc;

	if (query_limit(req, &limit) != 0 ||
	    (after != NULL && strlen(after) >= FL_STORE_TOKEN_NAME_MAX)) {
		cJSON_Delete(root);
		return bad_query(req, "limit or after",
				 "limit 1..1000, after a token name");
	}
	memset(&w, 0, sizeof(w));
	w.b = &b;
	w.limit = limit;
	w.list = j_arr(&b, root, "tokens");
	rc = fl_store_token_list(req->h->store, after != NULL ? after : "",
				 limit + 1, token_cb, &w);
	if (rc != 0) {
		cJSON_Delete(root);
		return http__store_error(req, rc);
	}
	j_strn(&b, root, "next", w.n > limit ? w.last : "");
	return send_built(req, &b, MHD_HTTP_OK, root);
}

/* ---- authentication and roles ------------------------------------------- */

/* What a request needs (auth.h): GET and HEAD read; approve approves;
 * the token list is the admin's; every other change operates. A route
 * added without a line here needs the admin for anything but reading. */
static int route_perm(const struct fl_http_req *req)
{
	if (req->route == ROUTE_TOKENS)
		return FL_PERM_ADMIN;
	if (!req->is_post && !req->is_put)
		return FL_PERM_READ;
	switch (req->route) {
	case ROUTE_ROLLOUT_ACTION:
		return strcmp(req->action, "approve") == 0 ? FL_PERM_APPROVE
							   : FL_PERM_OPERATE;
	case ROUTE_DEVICE_LABELS:
	case ROUTE_ARTIFACT:
	case ROUTE_ROLLOUTS:
	case ROUTE_ROLLOUT_ROLLBACK: return FL_PERM_OPERATE;
	default: return FL_PERM_ADMIN;
	}
}

/* Checks the request's bearer token for permission perm: true when it
 * may go on (req->who and req->role set), else answered (401 or 403, or
 * 500 when the store failed) with *mrc to return. */
static bool authorized(struct fl_http_req *req, int perm, enum MHD_Result *mrc)
{
	const char *hv = MHD_lookup_connection_value(
		req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	struct fl_store_token t;
	const char *tok;
	size_t len = 0;
	int role = FL_ROLE_NONE, verdict = FL_TOKEN_MALFORMED, rc;
	cJSON *extra;

	if (hv == NULL) {
		*mrc = http__error(req, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				   "no token: send 'Authorization: Bearer "
				   "TOKEN' (fleetd token create NAME --role "
				   "ROLE makes one)");
		return false;
	}
	tok = fl_auth_bearer(hv, &len);
	if (tok == NULL) {
		*mrc = http__error(req, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				   "the Authorization header is not 'Bearer "
				   "TOKEN'");
		return false;
	}
	rc = fl_token_check(req->h->store, tok, len, &t, &role, &verdict);
	if (rc != 0) {
		*mrc = http__store_error(req, rc);
		return false;
	}
	switch (verdict) {
	case FL_TOKEN_OK: break;
	case FL_TOKEN_REVOKED:
		*mrc = http__error(req, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				   "token '%s' was revoked", t.name);
		return false;
	case FL_TOKEN_MALFORMED:
		*mrc = http__error(req, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				   "not a fleetd token (flt_NAME_SECRET)");
		return false;
	default:
		*mrc = http__error(req, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				   "unknown token");
		return false;
	}
	(void)fl_strlcpy(req->who, t.name, sizeof(req->who));
	req->role = (uint8_t)role;
	if (fl_role_allows(role, perm))
		return true;
	extra = cJSON_CreateObject();
	if (extra != NULL &&
	    (cJSON_AddStringToObject(extra, "needs",
				     fl_role_name(fl_perm_role(perm))) ==
		     NULL ||
	     cJSON_AddStringToObject(extra, "token", t.name) == NULL ||
	     cJSON_AddStringToObject(extra, "role", fl_role_name(role)) ==
		     NULL)) {
		cJSON_Delete(extra);
		extra = NULL;
	}
	*mrc = http__error_extra(req, MHD_HTTP_FORBIDDEN, "forbidden", extra,
				 "needs role %s, token '%s' has %s",
				 fl_role_name(fl_perm_role(perm)), t.name,
				 fl_role_name(role));
	return false;
}

/* ---- routing ------------------------------------------------------------ */

struct route {
	const char *seg[3]; /* "*": a parameter; "@": an action */
	uint8_t route;
	const char *allow; /* methods, as the Allow header lists them */
	uint8_t body;	   /* what POST or PUT reads */
};

static const struct route ROUTES[] = {
	{{"status"}, ROUTE_STATUS, "GET, HEAD", BODY_NONE},
	{{"devices"}, ROUTE_DEVICES, "GET, HEAD", BODY_NONE},
	{{"devices", "*"}, ROUTE_DEVICE, "GET, HEAD", BODY_NONE},
	{{"devices", "*", "labels"}, ROUTE_DEVICE_LABELS, "POST", BODY_JSON},
	{{"artifacts", "*"}, ROUTE_ARTIFACT, "GET, HEAD, PUT", BODY_UPLOAD},
	{{"rollouts"}, ROUTE_ROLLOUTS, "GET, HEAD, POST", BODY_JSON},
	{{"rollouts", "*"}, ROUTE_ROLLOUT, "GET, HEAD", BODY_NONE},
	{{"rollouts", "*", "devices"},
	 ROUTE_ROLLOUT_DEVICES,
	 "GET, HEAD",
	 BODY_NONE},
	{{"rollouts", "*", "rollback"},
	 ROUTE_ROLLOUT_ROLLBACK,
	 "GET, HEAD, POST",
	 BODY_JSON},
	{{"rollouts", "*", "@"}, ROUTE_ROLLOUT_ACTION, "POST", BODY_JSON},
	{{"events"}, ROUTE_EVENTS, "GET, HEAD", BODY_NONE},
	{{"tokens"}, ROUTE_TOKENS, "GET, HEAD", BODY_NONE},
};

static const char *const ACTIONS[] = {"pause", "resume", "approve", "cancel"};

static bool is_allowed(const char *allow, const char *method)
{
	size_t n = strlen(method);
	const char *p = allow;

	while ((p = strstr(p, method)) != NULL) {
		if ((p == allow || p[-1] == ' ') &&
		    (p[n] == '\0' || p[n] == ','))
			return true;
		p += n;
	}
	return false;
}

static enum MHD_Result not_allowed(struct fl_http_req *req, const char *allow,
				   const char *method)
{
	struct MHD_Response *resp;
	cJSON *root = cJSON_CreateObject(), *err;
	char msg[128], *text;

	snprintf(msg, sizeof(msg), "%.16s is not allowed here (allowed: %s)",
		 method, allow);
	err = cJSON_AddObjectToObject(root, "error");
	if (err == NULL ||
	    cJSON_AddStringToObject(err, "code", "method_not_allowed") ==
		    NULL ||
	    cJSON_AddStringToObject(err, "message", msg) == NULL ||
	    (text = cJSON_PrintUnformatted(root)) == NULL) {
		cJSON_Delete(root);
		return MHD_NO;
	}
	cJSON_Delete(root);
	resp = MHD_create_response_from_buffer_with_free_callback(
		strlen(text), text, cJSON_free);
	if (resp == NULL) {
		cJSON_free(text);
		return MHD_NO;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) !=
		    MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				    "application/json") != MHD_YES) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	return http__queue(req, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
}

/* Splits path into at most 4 segments of at most HTTP_ARG_MAX - 1. */
static int split(const char *path, char seg[4][HTTP_ARG_MAX], unsigned *n)
{
	*n = 0;
	while (*path) {
		const char *slash = strchr(path, '/');
		size_t len =
			slash != NULL ? (size_t)(slash - path) : strlen(path);

		if (len == 0 || len >= HTTP_ARG_MAX || *n == 4)
			return -1;
		memcpy(seg[*n], path, len);
		seg[*n][len] = '\0';
		(*n)++;
		if (slash == NULL)
			break;
		path = slash + 1;
		if (*path == '\0') /* a trailing slash */
			return -1;
	}
	return 0;
}

static enum MHD_Result not_found(struct fl_http_req *req, const char *url)
{
	return http__error(req, MHD_HTTP_NOT_FOUND, "not_found",
			   "no such path: %.200s", url);
}

static enum MHD_Result answer_get(struct fl_http_req *req)
{
	switch (req->route) {
	case ROUTE_STATUS: return api_status(req);
	case ROUTE_DEVICES: return api_devices(req);
	case ROUTE_DEVICE: return api_device(req);
	case ROUTE_ARTIFACT: return artifacts__info(req);
	case ROUTE_ROLLOUTS: return api_rollouts(req);
	case ROUTE_ROLLOUT: return api_rollout(req);
	case ROUTE_ROLLOUT_DEVICES: return api_rollout_devices(req);
	case ROUTE_ROLLOUT_ROLLBACK: return api_rollback_preview(req);
	case ROUTE_EVENTS: return api_events(req);
	case ROUTE_TOKENS: return api_tokens(req);
	default: return not_found(req, "");
	}
}

enum MHD_Result api__begin(struct fl_http_req *req, const char *url,
			   const char *method)
{
	static const char prefix[] = "/api/v1/";
	char seg[4][HTTP_ARG_MAX];
	unsigned n = 0;
	bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	enum MHD_Result mrc = MHD_NO;

	req->is_head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	req->is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	req->is_put = strcmp(method, MHD_HTTP_METHOD_PUT) == 0;
	if (strcmp(url, "/metrics") == 0) {
		if (!is_get && !req->is_head)
			return not_allowed(req, "GET, HEAD", method);
		req->route = ROUTE_METRICS;
		if (!authorized(req, FL_PERM_READ, &mrc))
			return mrc;
		return api_metrics(req);
	}
	if (strncmp(url, "/artifacts/", 11) == 0) {
		if (fl_strlcpy(req->arg, url + 11, sizeof(req->arg)) != 0 ||
		    strchr(req->arg, '/') != NULL)
			return not_found(req, url);
		if (!is_get && !req->is_head)
			return not_allowed(req, "GET, HEAD", method);
		req->route = ROUTE_DOWNLOAD;
		return artifacts__download(req);
	}
	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0 ||
	    split(url + sizeof(prefix) - 1, seg, &n) != 0 || n == 0)
		return not_found(req, url);
	if (!req->h->is_available)
		return http__error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
				   "unavailable",
				   "fleetd is starting or "
				   "stopping");
	for (size_t r = 0; r < sizeof(ROUTES) / sizeof(ROUTES[0]); r++) {
		const struct route *rt = &ROUTES[r];
		unsigned k;

		for (k = 0; k < 3 && rt->seg[k] != NULL; k++) {
			if (k >= n)
				break;
			if (strcmp(rt->seg[k], "*") == 0)
				continue;
			if (strcmp(rt->seg[k], "@") == 0) {
				bool is_action = false;

				for (size_t a = 0; a < 4; a++)
					is_action |=
						strcmp(seg[k], ACTIONS[a]) == 0;
				if (!is_action)
					break;
				continue;
			}
			if (strcmp(rt->seg[k], seg[k]) != 0)
				break;
		}
		if (k != n || (k < 3 && rt->seg[k] != NULL))
			continue;
		/* matched */
		req->route = rt->route;
		if (n >= 2)
			memcpy(req->arg, seg[1], sizeof(req->arg));
		if (n >= 3)
			(void)fl_strlcpy(req->action, seg[2],
					 sizeof(req->action));
		if (!is_allowed(rt->allow, method))
			return not_allowed(req, rt->allow, method);
		/* before any body is read: a refused request changes
		 * nothing */
		if (!authorized(req, route_perm(req), &mrc))
			return mrc;
		if (req->is_post || req->is_put) {
			req->body_kind = rt->body;
			return MHD_YES;
		}
		return answer_get(req);
	}
	return not_found(req, url);
}

enum MHD_Result api__end(struct fl_http_req *req)
{
	if (!req->is_post)
		return answer_get(req); /* a parked poll woke up */
	switch (req->route) {
	case ROUTE_DEVICE_LABELS: return api_labels(req);
	case ROUTE_ROLLOUTS: return api_rollout_start(req);
	case ROUTE_ROLLOUT_ROLLBACK: return api_action(req, FL_RUNNER_ROLLBACK);
	case ROUTE_ROLLOUT_ACTION:
		if (strcmp(req->action, "pause") == 0)
			return api_action(req, FL_RUNNER_PAUSE);
		if (strcmp(req->action, "resume") == 0)
			return api_action(req, FL_RUNNER_RESUME);
		if (strcmp(req->action, "approve") == 0)
			return api_action(req, FL_RUNNER_APPROVE);
		return api_action(req, FL_RUNNER_CANCEL);
	default: return not_found(req, "");
	}
}
