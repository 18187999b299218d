/*
 * server_cmd.c -- fleetctl's commands that talk to fleetd: rollout start,
 * list and status, pause, resume, approve, rollback, cancel, devices,
 * device, events and label (docs/fleetctl.md). Each parses its arguments
 * (args.c), makes its requests (api.c) and prints fleetd's answer as text
 * (view.c) or, with --json, as JSON on stdout.
 *
 * Exit statuses are the contract of ARCHITECTURE.md: 0 done, 1 refused or
 * failed with one line on stderr ("fleetctl: SUBJECT: WHY", fleetd's own
 * message when it sent one), 2 a usage error. Lists are followed page by
 * page (`next` back as `after`) and printed as they come, so that memory
 * stays bounded whatever the fleet's size.
 *
 * rollback is the command an operator types under stress, so it shows
 * what will happen and asks on the terminal; without a terminal to ask on
 * it refuses unless --yes says so, rather than guess.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "api.h"
#include "cli.h"
#include "fl/err.h"
#include "render.h"
#include "server.h"
#include "view.h"

#define PAGE_LIMIT   "1000" /* the most docs/api.md allows */
#define PAGE_N	     1000
#define MAX_PAGES    100000 /* of any list: a guard against a loop */
#define LONG_POLL_S  25
#define WAIT_POLL_MS 500
#define WAIT_RETRY_S 30 /* --wait rides out fleetd's restart */
#define HASH_CHUNK   (64 * 1024)
#define WHO_MAX	     64

struct run {
	const struct fl_cli *cli;
	struct fl_srv_args a;
	struct fl_api *api;
	struct fl_view view;
	int is_json;
	char who[WHO_MAX];
};

/* ---- small helpers ------------------------------------------------------ */

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000),
			      (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* "fleetctl: SUBJECT: WHY", or "fleetctl: WHY" when fleetd was not
 * reached (the message then names the URL). Returns FL_EXIT_FAIL. */
static int fail_api(const char *subject, const struct fl_api_reply *r,
		    const struct fl_api_diag *d)
{
	char s[160];

	fl_render_clean(s, sizeof(s), subject);
	if (r->status == 0 || subject == NULL)
		fprintf(stderr, "fleetctl: %s\n", d->msg);
	else
		fprintf(stderr, "fleetctl: %s: %s\n", s, d->msg);
	return FL_EXIT_FAIL;
}

static int fail_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("fleetctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return FL_EXIT_FAIL;
}

/* The end of a command that printed with the view functions. */
static int printed(int rc)
{
	if (rc == 0 && fflush(stdout) == 0)
		return FL_EXIT_OK;
	return fail_msg(rc == FL_ENOMEM ? "out of memory"
					: "cannot write the output");
}

static int print_json(const cJSON *doc)
{
	char *s;

	if (doc == NULL) { /* an answer with no body */
		fputs("null\n", stdout);
		return printed(0);
	}
	s = cJSON_Print(doc);

	if (s == NULL)
		return fail_msg("out of memory");
	fputs(s, stdout);
	fputc('\n', stdout);
	cJSON_free(s);
	return fflush(stdout) == 0 ? FL_EXIT_OK
				   : fail_msg("cannot write the output");
}

/* Who the operator is, for fleetd's audit log: $USER, else the account. */
static void find_who(char *who, size_t size)
{
	const char *u = getenv("USER");
	struct passwd *pw;
	size_t n = 0;

	if (u == NULL || u[0] == '\0') {
		pw = getpwuid(getuid());
		u = pw != NULL ? pw->pw_name : "";
	}
	for (; u[n] != '\0' && n + 1 < size; n++)
		who[n] = u[n] >= 0x20 && u[n] < 0x7f ? u[n] : '?';
	who[n] = '\0';
}

/* {"who": ..., "reason": ..., "name": what} */
static cJSON *action_body(const struct run *x, const char *what)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL ||
	    (x->who[0] != '\0' &&
	     cJSON_AddStringToObject(o, "who", x->who) == NULL) ||
	    (x->a.reason != NULL &&
	     cJSON_AddStringToObject(o, "reason", x->a.reason) == NULL) ||
	    (what != NULL &&
	     cJSON_AddStringToObject(o, "name", what) == NULL)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* "/api/v1/rollouts/NAME" + tail */
static void rollout_path(struct fl_api_path *p, const char *name,
			 const char *tail)
{
	fl_api_path_init(p, "/api/v1/rollouts");
	fl_api_path_seg(p, name);
	if (tail != NULL)
		fl_api_path_add(p, tail);
}

/* The `next` of a page as the next `after`, or 0 when there is none. */
static int next_after(const cJSON *page, char *buf, size_t size)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(page, "next");

	if (cJSON_IsString(n) && n->valuestring[0] != '\0')
		snprintf(buf, size, "%s", n->valuestring);
	else if (cJSON_IsNumber(n) && n->valuedouble >= 0)
		snprintf(buf, size, "%.0f", n->valuedouble);
	else
		return 0;
	return 1;
}

/* ---- rollout start ------------------------------------------------------ */

/* SHA-256 of the file at path, in lower-case hex, and its size. */
static int hash_file(const char *path, char hex[65], uint64_t *size)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	EVP_MD_CTX *c = NULL;
	unsigned char *buf = NULL;
	FILE *f = fopen(path, "rb");
	int rc = FL_EIO;

	*size = 0;
	if (f == NULL)
		return FL_EIO;
	buf = malloc(HASH_CHUNK);
	c = EVP_MD_CTX_new();
	if (buf == NULL || c == NULL) {
		rc = FL_ENOMEM;
		goto out;
	}
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		rc = FL_ECRYPTO;
		goto out;
	}
	for (;;) {
		size_t n = fread(buf, 1, HASH_CHUNK, f);

		if (n > 0 && EVP_DigestUpdate(c, buf, n) != 1) {
			rc = FL_ECRYPTO;
			goto out;
		}
		*size += n;
		if (n < HASH_CHUNK)
			break;
	}
	if (ferror(f))
		goto out;
	if (EVP_DigestFinal_ex(c, md, &md_len) != 1 || md_len != 32) {
		rc = FL_ECRYPTO;
		goto out;
	}
	for (unsigned i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
	rc = 0;
out:
	EVP_MD_CTX_free(c);
	free(buf);
	fclose(f);
	return rc;
}

/* The whole plan file (at most FL_PLAN_MAX_FILE_BYTES), NUL-terminated. */
static char *read_plan(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = malloc(FL_PLAN_MAX_FILE_BYTES + 1);
	if (buf != NULL) {
		n = fread(buf, 1, FL_PLAN_MAX_FILE_BYTES + 1, f);
		if (ferror(f) || n > FL_PLAN_MAX_FILE_BYTES) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

/* Makes sure fleetd holds the artifact in the form the plan asks for
 * (encrypted, the default, with the plan's compression and chunk size:
 * ?compress=false, ?chunk=N; or plain: ?encrypt=false): HEAD, and PUT
 * when it does not. */
static int upload_artifact(struct run *x, const struct fl_plan *plan,
			   const char *hex, uint64_t size)
{
	const char *file = plan->artifact.file_path;
	struct fl_api_reply r;
	struct fl_api_diag d;
	struct fl_api_path p;
	char sz[32], chunk[16];
	FILE *f;
	int rc;

	fl_api_path_init(&p, "/api/v1/artifacts");
	fl_api_path_seg(&p, hex);
	if (!plan->artifact.is_encrypted) {
		fl_api_path_query(&p, "encrypt", "false");
	} else {
		if (!plan->artifact.is_compressed)
			fl_api_path_query(&p, "compress", "false");
		if (plan->artifact.chunk_bytes != FL_PLAN_CHUNK_DEFAULT) {
			snprintf(chunk, sizeof(chunk), "%u",
				 (unsigned)plan->artifact.chunk_bytes);
			fl_api_path_query(&p, "chunk", chunk);
		}
	}
	rc = fl_api_head(x->api, &p, &r, &d);
	if (rc != 0 && rc != FL_ENOENT) {
		rc = fail_api(file, &r, &d);
		fl_api_reply_clear(&r);
		return rc;
	}
	fl_api_reply_clear(&r);
	fl_render_bytes(size, sz, sizeof(sz));
	if (rc == 0) {
		if (!x->is_json)
			printf("artifact %s (%s, sha256 %.12s): already on "
			       "fleetd\n",
			       file, sz, hex);
		return 0;
	}
	f = fopen(file, "rb");
	if (f == NULL)
		return fail_msg("%s: cannot open: %s", file, strerror(errno));
	rc = fl_api_put_file(x->api, &p, f, size, &r, &d);
	fclose(f);
	if (rc != 0) {
		rc = fail_api(file, &r, &d);
		fl_api_reply_clear(&r);
		return rc;
	}
	if (!x->is_json)
		printf("artifact %s (%s, sha256 %.12s): uploaded%s\n", file, sz,
		       hex,
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
			       r.json, "encrypted"))
			       ? ", stored encrypted"
			       : "");
	fl_api_reply_clear(&r);
	return 0;
}

/* A started rollout whose targets include devices without a wrap key. */
static void warn_no_key(const cJSON *json)
{
	const cJSON *nk = cJSON_GetObjectItemCaseSensitive(json, "no_key");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(nk, "count");
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(nk, "devices");
	const cJSON *d;
	char one[80];
	unsigned k = 0;

	if (!cJSON_IsNumber(n) || n->valuedouble < 1)
		return;
	fprintf(stderr,
		"fleetctl: warning: %.0f targeted devices have no wrap key for "
		"this encrypted image; each fails with no_key when offered "
		"(fleetd wrapkey add, fleetd pki device, or artifact.encrypt: "
		"false):",
		n->valuedouble);
	cJSON_ArrayForEach(d, list)
	{
		if (cJSON_IsString(d) && k++ < 10)
			fprintf(stderr, " %s",
				fl_render_clean(one, sizeof(one),
						d->valuestring));
	}
	fprintf(stderr, "%s\n", n->valuedouble > k ? " ..." : "");
}

/* A 409's error.devices, ", "-separated, as far as it fits. */
static void conflict_devices(const cJSON *json, char *buf, size_t size)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(json, "error");
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(e, "devices"), *d;
	size_t n = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(d, list)
	{
		char one[80];
		int k;

		if (!cJSON_IsString(d))
			continue;
		k = snprintf(buf + n, size - n, "%s%s", n ? ", " : "",
			     fl_render_clean(one, sizeof(one), d->valuestring));
		if (k < 0 || (size_t)k >= size - n) {
			buf[n] = '\0';
			break;
		}
		n += (size_t)k;
	}
}

static int cmd_start(struct run *x)
{
	const char *file = x->a.name, *base;
	struct fl_plan_diags *diags = malloc(sizeof(*diags));
	struct fl_plan *plan = NULL;
	struct fl_api_reply r = {0};
	struct fl_api_diag d;
	struct fl_api_path p;
	char hex[65], *text = NULL;
	uint64_t size = 0;
	cJSON *body = NULL;
	int rc = FL_EXIT_FAIL, err;

	if (diags == NULL)
		return fail_msg("out of memory");
	/* The same check as `plan validate`, before anything is sent. */
	err = fl_plan_load(file, &plan, diags);
	fl_plan_diags_print(diags, stderr);
	if (err != 0) {
		if (diags->n_errors > 0)
			fail_msg("%s: %u %s: not started", file,
				 diags->n_errors,
				 diags->n_errors == 1 ? "error" : "errors");
		else
			fail_msg("%s: %s: not started", file, fl_strerror(err));
		goto out;
	}
	err = hash_file(plan->artifact.file_path, hex, &size);
	if (err != 0) {
		fail_msg("%s: cannot read the artifact: %s",
			 plan->artifact.file_path,
			 err == FL_EIO ? strerror(errno) : fl_strerror(err));
		goto out;
	}
	text = read_plan(file);
	if (text == NULL) {
		fail_msg("%s: cannot read: %s", file, strerror(errno));
		goto out;
	}
	if (upload_artifact(x, plan, hex, size) != 0)
		goto out;
	base = strrchr(file, '/');
	base = base != NULL ? base + 1 : file;
	body = cJSON_CreateObject();
	if (body == NULL ||
	    cJSON_AddStringToObject(body, "plan", text) == NULL ||
	    cJSON_AddStringToObject(body, "plan_file", base) == NULL ||
	    cJSON_AddStringToObject(body, "artifact_sha256", hex) == NULL ||
	    (x->who[0] != '\0' &&
	     cJSON_AddStringToObject(body, "who", x->who) == NULL)) {
		fail_msg("out of memory");
		goto out;
	}
	fl_api_path_init(&p, "/api/v1/rollouts");
	err = fl_api_post(x->api, &p, body, &r, &d);
	if (err != 0) {
		const cJSON *e =
			cJSON_GetObjectItemCaseSensitive(r.json, "error");
		char devs[400];

		if (r.status == 422) {
			fl_view_plan_diags(stderr, file, e);
			fail_msg("%s: fleetd refused the plan: %s", file,
				 d.msg);
		} else if (r.status == 409) {
			conflict_devices(r.json, devs, sizeof(devs));
			if (devs[0] != '\0')
				fail_msg("%s: %s (devices: %s)", file, d.msg,
					 devs);
			else
				fail_api(file, &r, &d);
		} else {
			fail_api(file, &r, &d);
		}
		goto out;
	}
	if (!x->is_json)
		warn_no_key(r.json);
	rc = x->is_json ? print_json(r.json)
			: printed(fl_view_started(&x->view, r.json));
out:
	fl_api_reply_clear(&r);
	cJSON_Delete(body);
	free(text);
	fl_plan_free(plan);
	free(diags);
	return rc;
}

/* ---- rollout list and status -------------------------------------------- */

/* Every rollout of the list (state NULL: all), page by page, into one
 * array. */
static int fetch_rollouts(struct run *x, const char *state, cJSON **out)
{
	cJSON *all = cJSON_CreateArray();
	char after[FL_API_URL_MAX / 4] = "";

	*out = NULL;
	if (all == NULL)
		return fail_msg("out of memory");
	for (unsigned page = 0; page < MAX_PAGES; page++) {
		struct fl_api_reply r;
		struct fl_api_diag d;
		struct fl_api_path p;
		cJSON *list, *it;
		char prev[sizeof(after)];

		fl_api_path_init(&p, "/api/v1/rollouts");
		if (state != NULL)
			fl_api_path_query(&p, "state", state);
		if (after[0] != '\0')
			fl_api_path_query(&p, "after", after);
		if (fl_api_get(x->api, &p, 0, &r, &d) != 0) {
			int rc = fail_api("rollouts", &r, &d);

			fl_api_reply_clear(&r);
			cJSON_Delete(all);
			return rc;
		}
		list = cJSON_DetachItemFromObjectCaseSensitive(r.json,
							       "rollouts");
		while (list != NULL &&
		       (it = cJSON_DetachItemFromArray(list, 0)) != NULL)
			cJSON_AddItemToArray(all, it);
		cJSON_Delete(list);
		memcpy(prev, after, sizeof(prev));
		if (!next_after(r.json, after, sizeof(after)) ||
		    strcmp(prev, after) == 0) {
			fl_api_reply_clear(&r);
			break;
		}
		fl_api_reply_clear(&r);
	}
	*out = all;
	return 0;
}

static int cmd_list(struct run *x)
{
	cJSON *all = NULL, *doc;
	int rc;

	rc = fetch_rollouts(x, x->a.state, &all);
	if (rc != 0)
		return rc;
	if (!x->is_json) {
		rc = printed(fl_view_rollout_list(&x->view, all));
		cJSON_Delete(all);
		return rc;
	}
	doc = cJSON_CreateObject();
	if (doc == NULL) {
		cJSON_Delete(all);
		return fail_msg("out of memory");
	}
	cJSON_AddItemToObject(doc, "rollouts", all);
	rc = print_json(doc);
	cJSON_Delete(doc);
	return rc;
}

static int get_rollout(struct run *x, const char *name, struct fl_api_reply *r)
{
	struct fl_api_diag d;
	struct fl_api_path p;
	char subject[96];

	rollout_path(&p, name, NULL);
	if (fl_api_get(x->api, &p, 0, r, &d) == 0)
		return 0;
	snprintf(subject, sizeof(subject), "rollout '%.64s'", name);
	return fail_api(subject, r, &d);
}

static int cmd_status(struct run *x)
{
	struct fl_api_reply r;
	int rc = get_rollout(x, x->a.name, &r);

	if (rc == 0)
		rc = x->is_json ? print_json(r.json)
				: printed(fl_view_rollout_status(&x->view,
								 r.json));
	fl_api_reply_clear(&r);
	return rc;
}

/* ---- actions ------------------------------------------------------------ */

/* POSTs the action and prints its result. */
static int post_action(struct run *x, const char *action, const char *name,
		       const char *what)
{
	struct fl_api_reply r;
	struct fl_api_diag d;
	struct fl_api_path p;
	char tail[32], subject[96];
	const cJSON *changed, *rollout;
	cJSON *body = action_body(x, what);
	int rc, is_changed;

	if (body == NULL)
		return fail_msg("out of memory");
	snprintf(tail, sizeof(tail), "/%s", action);
	rollout_path(&p, name, tail);
	rc = fl_api_post(x->api, &p, body, &r, &d);
	cJSON_Delete(body);
	if (rc != 0) {
		snprintf(subject, sizeof(subject), "rollout '%.64s'", name);
		rc = fail_api(subject, &r, &d);
		fl_api_reply_clear(&r);
		return rc;
	}
	/* 202: recorded; 200: already in effect ("changed": false). */
	changed = cJSON_GetObjectItemCaseSensitive(r.json, "changed");
	is_changed =
		cJSON_IsBool(changed) ? cJSON_IsTrue(changed) : r.status == 202;
	rollout = cJSON_GetObjectItemCaseSensitive(r.json, "rollout");
	if (!cJSON_IsObject(rollout))
		rollout = cJSON_GetObjectItemCaseSensitive(r.json, "state")
				  ? r.json
				  : NULL;
	if (x->is_json && !x->a.is_wait && r.json != NULL)
		rc = print_json(r.json);
	else if (x->is_json && !x->a.is_wait)
		rc = printf("{\"changed\": %s}\n",
			    is_changed ? "true" : "false") < 0
			     ? fail_msg("cannot write the output")
			     : printed(0);
	else if (x->is_json)
		rc = FL_EXIT_OK;
	else
		rc = printed(fl_view_action(&x->view, action, name, what,
					    is_changed, rollout));
	fl_api_reply_clear(&r);
	return rc;
}

static int cmd_action(struct run *x)
{
	static const char *const word[] = {
		[FL_SRV_PAUSE] = "pause",
		[FL_SRV_RESUME] = "resume",
		[FL_SRV_APPROVE] = "approve",
		[FL_SRV_CANCEL] = "cancel",
	};

	return post_action(x, word[x->a.cmd], x->a.name, x->a.what);
}

/* ---- rollback ----------------------------------------------------------- */

/* The one active rollout, when there is exactly one. */
static int pick_rollout(struct run *x, char *name, size_t size)
{
	cJSON *all = NULL, *it;
	int rc = fetch_rollouts(x, "active", &all), n;
	char names[400] = "";
	size_t k = 0;

	if (rc != 0)
		return rc;
	n = cJSON_GetArraySize(all);
	if (n == 0) {
		cJSON_Delete(all);
		return fail_msg("rollback: no active rollout to roll back "
				"(name a finished one: fleetctl rollback "
				"NAME)");
	}
	if (n > 1) {
		cJSON_ArrayForEach(it, all)
		{
			const cJSON *nm =
				cJSON_GetObjectItemCaseSensitive(it, "name");
			char one[80];
			int w;

			if (!cJSON_IsString(nm))
				continue;
			w = snprintf(names + k, sizeof(names) - k, "%s%s",
				     k ? ", " : "",
				     fl_render_clean(one, sizeof(one),
						     nm->valuestring));
			if (w < 0 || (size_t)w >= sizeof(names) - k) {
				names[k] = '\0';
				break;
			}
			k += (size_t)w;
		}
		cJSON_Delete(all);
		return fail_msg("rollback: %d active rollouts (%s): name one: "
				"fleetctl rollback NAME",
				n, names);
	}
	it = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(all, 0),
					      "name");
	if (!cJSON_IsString(it) || strlen(it->valuestring) >= size) {
		cJSON_Delete(all);
		return fail_msg("rollback: fleetd's list has a rollout "
				"without a usable name");
	}
	memcpy(name, it->valuestring, strlen(it->valuestring) + 1);
	cJSON_Delete(all);
	return 0;
}

/* Follows the rollout until it is rolled back: one line that updates on a
 * terminal, else one line per change, on stdout (stderr with --json). */
static int wait_rolled_back(struct run *x, const char *name)
{
	FILE *out = x->is_json ? stderr : stdout;
	int is_tty = isatty(fileno(out));
	char line[512], last[512] = "", subject[96];
	int64_t failing_since = -1;

	snprintf(subject, sizeof(subject), "rollout '%.64s'", name);
	for (;;) {
		struct fl_api_reply r;
		struct fl_api_diag d;
		struct fl_api_path p;
		const cJSON *st, *rb;
		int64_t started, elapsed;
		char dur[32];
		int rc;

		rollout_path(&p, name, NULL);
		rc = fl_api_get(x->api, &p, 0, &r, &d);
		if (rc != 0) {
			/* fleetd restarting: wait for it a while. */
			if ((rc == FL_EIO && r.status == 0) || rc == FL_EBUSY) {
				if (failing_since < 0)
					failing_since = now_s();
				if (now_s() - failing_since < WAIT_RETRY_S) {
					fl_api_reply_clear(&r);
					sleep_ms(WAIT_POLL_MS * 2);
					continue;
				}
			}
			if (is_tty && last[0] != '\0')
				fputc('\n', out);
			rc = fail_api(subject, &r, &d);
			fl_api_reply_clear(&r);
			return rc;
		}
		failing_since = -1;
		fl_view_rollback_line(r.json, line, sizeof(line));
		rb = cJSON_GetObjectItemCaseSensitive(r.json, "rollback");
		st = cJSON_GetObjectItemCaseSensitive(r.json, "state");
		started = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(
				  rb, "started"))
				  ? (int64_t)cJSON_GetObjectItemCaseSensitive(
					    rb, "started")
					    ->valuedouble
				  : now_s();
		elapsed = now_s() - started;
		fl_render_duration(elapsed, dur, sizeof(dur));
		if (is_tty)
			fprintf(out, "\r%s (%s)\033[K", line, dur);
		else if (strcmp(line, last) != 0)
			fprintf(out, "%s (%s)\n", line, dur);
		fflush(out);
		memcpy(last, line, sizeof(last));
		if (cJSON_IsString(st) &&
		    strcmp(st->valuestring, "rolled_back") == 0) {
			if (is_tty)
				fputc('\n', out);
			rc = x->is_json ? print_json(r.json) : FL_EXIT_OK;
			fl_api_reply_clear(&r);
			return rc;
		}
		if (cJSON_IsString(st) &&
		    strcmp(st->valuestring, "cancelled") == 0) {
			if (is_tty)
				fputc('\n', out);
			fl_api_reply_clear(&r);
			return fail_msg("%s: cancelled instead of rolled back",
					subject);
		}
		fl_api_reply_clear(&r);
		sleep_ms(WAIT_POLL_MS);
	}
}

static int cmd_rollback(struct run *x)
{
	char name[FL_SRV_NAME_MAX + 2], question[128];
	struct fl_api_reply ro = {0}, pv = {0};
	struct fl_api_diag d;
	struct fl_api_path p;
	struct fl_view shown = x->view;
	int rc;

	if (x->a.name != NULL) {
		snprintf(name, sizeof(name), "%s", x->a.name);
	} else {
		rc = pick_rollout(x, name, sizeof(name));
		if (rc != 0)
			return rc;
		fprintf(x->is_json ? stderr : stdout,
			"the one active rollout is %s\n", name);
	}
	rc = get_rollout(x, name, &ro);
	if (rc != 0)
		goto out;
	rollout_path(&p, name, "/rollback");
	if (fl_api_get(x->api, &p, 0, &pv, &d) != 0) {
		char subject[96];

		snprintf(subject, sizeof(subject), "rollout '%.64s'", name);
		rc = fail_api(subject, &pv, &d);
		goto out;
	}
	/* The preview is for the operator: on stderr when stdout is JSON. */
	if (x->is_json)
		shown.f = stderr;
	if (fl_view_rollback_preview(&shown, ro.json, pv.json) != 0 ||
	    fflush(shown.f) != 0) {
		rc = fail_msg("cannot write the output");
		goto out;
	}
	if (!x->a.is_yes) {
		if (!isatty(STDIN_FILENO)) {
			rc = fail_msg("rollback %s: not confirmed: stdin is "
				      "not a terminal to ask on; add --yes to "
				      "roll back without asking",
				      name);
			goto out;
		}
		snprintf(question, sizeof(question), "Roll back %s?", name);
		if (!fl_srv_confirm(stdin, stderr, question)) {
			rc = fail_msg("rollback %s: not confirmed, nothing "
				      "done",
				      name);
			goto out;
		}
	}
	rc = post_action(x, "rollback", name, NULL);
	if (rc == FL_EXIT_OK && x->a.is_wait)
		rc = wait_rolled_back(x, name);
out:
	fl_api_reply_clear(&ro);
	fl_api_reply_clear(&pv);
	return rc;
}

/* ---- devices and device ------------------------------------------------- */

/* One JSON document streamed page by page: its opening, each item, its
 * end. */
static void stream_open(const char *key)
{
	printf("{\n  \"%s\": [", key);
}

static int stream_items(const cJSON *list, int *first)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, list)
	{
		char *s = cJSON_PrintUnformatted(it);

		if (s == NULL)
			return FL_ENOMEM;
		printf("%s\n    %s", *first ? "" : ",", s);
		cJSON_free(s);
		*first = 0;
	}
	return 0;
}

static void stream_close(const char *next_json)
{
	printf("\n  ],\n  \"next\": %s\n}\n", next_json);
}

static int cmd_devices(struct run *x)
{
	struct fl_table *t = NULL;
	struct fl_view_count count = {0, 0};
	char after[FL_API_URL_MAX / 4] = "";
	int rc = FL_EXIT_OK, first = 1;

	if (!x->is_json && fl_view_devices_table(&t) != 0)
		return fail_msg("out of memory");
	if (x->is_json)
		stream_open("devices");
	for (unsigned page = 0; page < MAX_PAGES; page++) {
		struct fl_api_reply r;
		struct fl_api_diag d;
		struct fl_api_path p;
		const cJSON *list;
		char prev[sizeof(after)];
		int err;

		fl_api_path_init(&p, "/api/v1/devices");
		if (x->a.model != NULL)
			fl_api_path_query(&p, "model", x->a.model);
		for (unsigned i = 0; i < x->a.nlabels; i++) {
			char term[FL_SRV_LABEL_KEY_MAX + 2 +
				  FL_SRV_LABEL_VAL_MAX + 1];

			snprintf(term, sizeof(term), "%s=%s",
				 x->a.labels[i].key, x->a.labels[i].value);
			fl_api_path_query(&p, "label", term);
		}
		if (x->a.online >= 0)
			fl_api_path_query(&p, "online",
					  x->a.online ? "true" : "false");
		fl_api_path_query(&p, "limit", PAGE_LIMIT);
		if (after[0] != '\0')
			fl_api_path_query(&p, "after", after);
		if (fl_api_get(x->api, &p, 0, &r, &d) != 0) {
			if (x->is_json)
				fflush(stdout);
			rc = fail_api("devices", &r, &d);
			fl_api_reply_clear(&r);
			break;
		}
		list = cJSON_GetObjectItemCaseSensitive(r.json, "devices");
		err = x->is_json
			      ? stream_items(list, &first)
			      : fl_view_devices_add(&x->view, t, list, &count);
		if (err == 0 && !x->is_json)
			err = fl_table_flush(t, stdout);
		memcpy(prev, after, sizeof(prev));
		if (err != 0 || !next_after(r.json, after, sizeof(after)) ||
		    strcmp(prev, after) == 0) {
			fl_api_reply_clear(&r);
			if (err != 0)
				rc = printed(err);
			break;
		}
		fl_api_reply_clear(&r);
	}
	if (rc == FL_EXIT_OK) {
		if (x->is_json) {
			stream_close("null");
			rc = printed(0);
		} else {
			rc = printed(fl_view_devices_end(&x->view, &count));
		}
	}
	fl_table_free(t);
	return rc;
}

static int cmd_device(struct run *x)
{
	struct fl_api_reply r;
	struct fl_api_diag d;
	struct fl_api_path p;
	char subject[96];
	int rc;

	fl_api_path_init(&p, "/api/v1/devices");
	fl_api_path_seg(&p, x->a.name);
	if (fl_api_get(x->api, &p, 0, &r, &d) != 0) {
		snprintf(subject, sizeof(subject), "device '%.64s'", x->a.name);
		rc = fail_api(subject, &r, &d);
	} else {
		rc = x->is_json ? print_json(r.json)
				: printed(fl_view_device(&x->view, r.json));
	}
	fl_api_reply_clear(&r);
	return rc;
}

/* ---- events ------------------------------------------------------------- */

static int cmd_events(struct run *x)
{
	struct fl_table *t = NULL;
	char after[32] = "", subject[96];
	int rc = FL_EXIT_OK, first = 1, is_live = 0;
	uint64_t npages = 0;

	if (x->a.name != NULL)
		snprintf(subject, sizeof(subject), "rollout '%.64s'",
			 x->a.name);
	else
		snprintf(subject, sizeof(subject), "events");
	if (x->a.has_after)
		snprintf(after, sizeof(after), "%llu",
			 (unsigned long long)x->a.after);
	if (!x->is_json && fl_view_events_table(&t) != 0)
		return fail_msg("out of memory");
	if (x->is_json && !x->a.is_follow)
		stream_open("events");
	for (;;) {
		struct fl_api_reply r;
		struct fl_api_diag d;
		struct fl_api_path p;
		const cJSON *list;
		int n, err = 0;

		fl_api_path_init(&p, "/api/v1/events");
		if (x->a.name != NULL)
			fl_api_path_query(&p, "rollout", x->a.name);
		if (after[0] != '\0')
			fl_api_path_query(&p, "after", after);
		fl_api_path_query(&p, "limit", PAGE_LIMIT);
		if (is_live)
			fl_api_path_query(&p, "wait", "25");
		if (fl_api_get(x->api, &p, is_live ? LONG_POLL_S + 30 : 0, &r,
			       &d) != 0) {
			fflush(stdout);
			rc = fail_api(subject, &r, &d);
			fl_api_reply_clear(&r);
			break;
		}
		list = cJSON_GetObjectItemCaseSensitive(r.json, "events");
		n = cJSON_GetArraySize(list);
		if (x->is_json && x->a.is_follow) {
			const cJSON *it;

			cJSON_ArrayForEach(it, list)
			{
				char *s = cJSON_PrintUnformatted(it);

				if (s == NULL) {
					err = FL_ENOMEM;
					break;
				}
				printf("%s\n", s);
				cJSON_free(s);
			}
		} else if (x->is_json) {
			err = stream_items(list, &first);
		} else {
			err = fl_view_events_add(t, list);
			if (err == 0)
				err = fl_table_flush(t, stdout);
		}
		if (err == 0 && fflush(stdout) != 0)
			err = FL_EIO;
		if (n > 0)
			(void)next_after(r.json, after, sizeof(after));
		fl_api_reply_clear(&r);
		if (err != 0) {
			rc = printed(err);
			break;
		}
		if (++npages >= MAX_PAGES && !x->a.is_follow)
			break;
		/* The backlog is over when a page is not full. */
		if (n < PAGE_N)
			is_live = 1;
		if (is_live && !x->a.is_follow)
			break;
		/* A fleetd that answers a long poll at once with nothing
		 * must not make this loop spin. */
		if (is_live && n == 0)
			sleep_ms(WAIT_POLL_MS);
	}
	if (rc == FL_EXIT_OK && x->is_json && !x->a.is_follow) {
		printf("\n  ],\n  \"next\": %s\n}\n",
		       after[0] != '\0' ? after : "null");
		rc = printed(0);
	}
	fl_table_free(t);
	return rc;
}

/* ---- label -------------------------------------------------------------- */

static int cmd_label(struct run *x)
{
	struct fl_api_reply r;
	struct fl_api_diag d;
	struct fl_api_path p;
	cJSON *body = cJSON_CreateObject(), *set, *remove;
	char subject[96];
	int rc;

	set = cJSON_AddObjectToObject(body, "set");
	remove = cJSON_AddArrayToObject(body, "remove");
	if (set == NULL || remove == NULL) {
		cJSON_Delete(body);
		return fail_msg("out of memory");
	}
	for (unsigned i = 0; i < x->a.nlabels; i++) {
		const struct fl_srv_label *l = &x->a.labels[i];
		cJSON *s =
			l->value != NULL
				? cJSON_AddStringToObject(set, l->key, l->value)
				: cJSON_CreateString(l->key);

		if (s == NULL) {
			cJSON_Delete(body);
			return fail_msg("out of memory");
		}
		if (l->value == NULL)
			cJSON_AddItemToArray(remove, s);
	}
	fl_api_path_init(&p, "/api/v1/devices");
	fl_api_path_seg(&p, x->a.name);
	fl_api_path_add(&p, "/labels");
	rc = fl_api_post(x->api, &p, body, &r, &d);
	cJSON_Delete(body);
	if (rc != 0) {
		snprintf(subject, sizeof(subject), "device '%.64s'", x->a.name);
		rc = fail_api(subject, &r, &d);
	} else {
		rc = x->is_json ? print_json(r.json)
				: printed(fl_view_labels(&x->view, r.json));
	}
	fl_api_reply_clear(&r);
	return rc;
}

/* ---- dispatch ----------------------------------------------------------- */

int fl_cli_server(const struct fl_cli *cli, int argc, char **argv)
{
	struct run *x;
	struct fl_api_diag d;
	char why[256];
	int rc;

	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return fail_msg("out of memory");
	rc = fl_srv_parse(argc, argv, &x->a, why, sizeof(why));
	if (rc == FL_ENOENT) {
		free(x);
		return -1;
	}
	if (rc != 0) {
		fprintf(stderr, "fleetctl: %s\n", why);
		fputs(fl_srv_usage(x->a.cmd), stderr);
		free(x);
		return FL_EXIT_USAGE;
	}
	if (x->a.is_help) {
		fputs(fl_srv_usage(x->a.cmd), stdout);
		free(x);
		return FL_EXIT_OK;
	}
	if (x->a.cmd == FL_SRV_WATCH) {
		rc = fl_cli_watch(cli, x->a.name);
		free(x);
		return rc;
	}
	x->cli = cli;
	x->is_json = cli->is_json || x->a.is_json;
	x->view.f = stdout;
	x->view.now_s = now_s();
	x->view.is_tty = isatty(STDOUT_FILENO);
	find_who(x->who, sizeof(x->who));
	if (fl_api_open(&x->api, cli->server, &d) != 0) {
		fprintf(stderr, "fleetctl: %s\n", d.msg);
		free(x);
		return FL_EXIT_USAGE;
	}
	switch (x->a.cmd) {
	case FL_SRV_START: rc = cmd_start(x); break;
	case FL_SRV_LIST: rc = cmd_list(x); break;
	case FL_SRV_STATUS: rc = cmd_status(x); break;
	case FL_SRV_PAUSE:
	case FL_SRV_RESUME:
	case FL_SRV_APPROVE:
	case FL_SRV_CANCEL: rc = cmd_action(x); break;
	case FL_SRV_ROLLBACK: rc = cmd_rollback(x); break;
	case FL_SRV_DEVICES: rc = cmd_devices(x); break;
	case FL_SRV_DEVICE: rc = cmd_device(x); break;
	case FL_SRV_EVENTS: rc = cmd_events(x); break;
	case FL_SRV_LABEL: rc = cmd_label(x); break;
	default: rc = fail_msg("internal: no such command"); break;
	}
	fl_api_close(x->api);
	free(x);
	return rc;
}
