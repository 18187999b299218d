/*
 * test_http.c -- fleetd's HTTP side (orchestrator/fleetd: http.c, api.c,
 * artifacts.c) as a client sees it: a real libmicrohttpd server on a free
 * loopback port, driven by fl_loop in the test's thread, a real SQLite
 * store in a temporary folder, and a real libcurl client in a second
 * thread. Routes that need the runner use the fake of
 * tests/support/fake_runner.c (runner.c is being written).
 *
 * What it checks: image uploads (good, wrong digest, too large with and
 * without Content-Length, empty, repeated, malformed digest) and what is
 * left on disk; downloads with Range, If-Range, 416, ETag, HEAD; every
 * route's errors (404, 400, 405, 409, 413, 422, 503) with the body
 * docs/api.md pins; devices with paging, filters and label changes;
 * rollouts through the fake runner (start, list, view, actions and their
 * repeat, preview, members); the long poll of events (at once when there
 * are events, parked then woken by an append, woken by another rollout's
 * event and parked again, empty after its wait, ended when the server
 * stops); /metrics parsed as Prometheus text; a failing store answered
 * 500 internal; a server whose descriptors are all above 1023.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "auth.h"
#include "fake_runner.h"
#include "fl/err.h"
#include "http.h"

#define ART_MAX (1u << 20) /* the fixture's upload limit */

static const char PLAN[] = "rollout: thermo-2.4.0\n"
			   "artifact:\n"
			   "  component: firmware\n"
			   "  version: 2.4.0\n"
			   "  file: thermo-2.4.0.bin\n"
			   "  hardware: [thermo-v2]\n"
			   "health:\n"
			   "  soak: 30m\n"
			   "  max_failure_rate: 5%\n"
			   "  min_devices: 10\n"
			   "stages:\n"
			   "  - name: canary\n"
			   "    count: 2\n"
			   "  - name: rest\n"
			   "    percent: 100\n"
			   "    approval: required\n";

/* ---- the fixture --------------------------------------------------------- */

struct fx {
	char dir[64];
	struct fl_store st;
	struct fl_loop *loop;
	struct fl_signer *signer;
	struct fl_runner *runner;
	struct fl_http *h;
	uint16_t port;
	/* "Authorization: Bearer ..." of the admin token fx_new makes, which
	 * every call sends unless it says otherwise (call->auth) */
	char auth[FL_TOKEN_TEXT_MAX + 32];
};

/* Makes a token of role in the fixture's store; its header in out. */
static void fx_token(struct fx *f, const char *name, int role, char *out,
		     size_t cap)
{
	char text[FL_TOKEN_TEXT_MAX];

	assert_int_equal(fl_token_create(&f->st, name, role, 1795436000, text,
					 sizeof(text)),
			 0);
	snprintf(out, cap, "Authorization: Bearer %s", text);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static struct fx *fx_new(void)
{
	struct fl_http_config cfg;
	struct fl_http_diag diag = {""};
	struct fx *f = calloc(1, sizeof(*f));
	char db[128];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/fl-http-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(db, sizeof(db), "%s/fleet.db", f->dir);
	assert_int_equal(fl_store_open_sqlite(&f->st, db, NULL), 0);
	fx_token(f, "test-admin", FL_ROLE_ADMIN, f->auth, sizeof(f->auth));
	assert_int_equal(fl_loop_new(&f->loop), 0);
	assert_int_equal(fl_signer_open(&f->signer, f->dir, NULL), 0);
	assert_int_equal(fake_runner_new(&f->runner, &f->st), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.loop = f->loop;
	cfg.listen = "127.0.0.1:0";
	cfg.data_dir = f->dir;
	cfg.store = &f->st;
	cfg.runner = f->runner;
	cfg.signer = f->signer;
	cfg.version = "0.4.0";
	cfg.is_sigpipe_ignored = true;
	cfg.artifact_max_bytes = ART_MAX;
	cfg.max_connections = 64;
	cfg.timeout_s = 30;
	assert_int_equal(fl_http_new(&f->h, &cfg, &diag), 0);
	f->port = fl_http_port(f->h);
	assert_true(f->port != 0);
	return f;
}

static void fx_free(struct fx *f)
{
	fl_http_free(f->h);
	fake_runner_free(f->runner);
	fl_signer_free(f->signer);
	fl_store_close(&f->st);
	fl_loop_free(f->loop);
	assert_int_equal(nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
}

/* ---- the client (a thread; the test's thread runs the server) ------------ */

struct call {
	const char *method;
	char url[1024];
	const char *body;
	size_t body_len;
	bool has_body, is_chunked;
	const char *hdr[4];
	const char *auth; /* the Authorization header; NULL: none */
	/* results */
	CURLcode cc;
	long status;
	char *resp;
	size_t resp_len;
	char headers[8192];
	size_t headers_len;
	size_t sent;
	pthread_t thread;
	atomic_int done;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct call *c = ud;
	char *q = realloc(c->resp, c->resp_len + size * n + 1);

	if (q == NULL)
		return 0;
	c->resp = q;
	memcpy(c->resp + c->resp_len, p, size * n);
	c->resp_len += size * n;
	c->resp[c->resp_len] = '\0';
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct call *c = ud;
	size_t len = size * n;

	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0)
		c->headers_len = 0; /* a new block (after 100 Continue) */
	if (c->headers_len + len < sizeof(c->headers)) {
		memcpy(c->headers + c->headers_len, p, len);
		c->headers_len += len;
		c->headers[c->headers_len] = '\0';
	}
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	struct call *c = ud;
	size_t left = c->body_len - c->sent, want = size * n;

	if (want > left)
		want = left;
	memcpy(buf, c->body + c->sent, want);
	c->sent += want;
	return want;
}

static void *client_main(void *arg)
{
	struct call *c = arg;
	struct curl_slist *hl = NULL;
	CURL *e = curl_easy_init();

	curl_easy_setopt(e, CURLOPT_URL, c->url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (strcmp(c->method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(c->method, "PUT") == 0 ||
		   (c->has_body && c->is_chunked)) {
		if (strcmp(c->method, "PUT") == 0)
			curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		else
			curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, c);
		if (c->is_chunked)
			hl = curl_slist_append(hl,
					       "Transfer-Encoding: chunked");
		else
			curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
					 (curl_off_t)c->body_len);
	} else if (strcmp(c->method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body ? c->body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)c->body_len);
	} else if (strcmp(c->method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
	}
	for (int i = 0; i < 4 && c->hdr[i] != NULL; i++)
		hl = curl_slist_append(hl, c->hdr[i]);
	if (c->auth != NULL)
		hl = curl_slist_append(hl, c->auth);
	if (hl != NULL)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
	c->cc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &c->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(e);
	atomic_store(&c->done, 1);
	return NULL;
}

static struct call *call_new(struct fx *f, const char *method, const char *path,
			     const char *body, size_t len)
{
	struct call *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->method = method;
	snprintf(c->url, sizeof(c->url), "http://127.0.0.1:%u%s",
		 (unsigned)f->port, path);
	c->body = body;
	c->body_len = len;
	c->has_body = body != NULL;
	c->auth = f->auth;
	atomic_init(&c->done, 0);
	return c;
}

static void call_start(struct call *c)
{
	assert_int_equal(pthread_create(&c->thread, NULL, client_main, c), 0);
}

static void pump_until_done(struct fx *f, struct call *c)
{
	while (!atomic_load(&c->done))
		assert_int_equal(fl_loop_run_once(f->loop, 20), 0);
	assert_int_equal(pthread_join(c->thread, NULL), 0);
}

static void call_free(struct call *c)
{
	if (c == NULL)
		return;
	free(c->resp);
	free(c);
}

/* One whole request; the answer must have come. */
static struct call *req_h(struct fx *f, const char *method, const char *path,
			  const char *body, size_t len, const char *h1,
			  const char *h2)
{
	struct call *c = call_new(f, method, path, body, len);

	c->hdr[0] = h1;
	c->hdr[1] = h1 != NULL ? h2 : NULL;
	call_start(c);
	pump_until_done(f, c);
	if (c->cc != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(c->cc));
	return c;
}

static struct call *req(struct fx *f, const char *method, const char *path,
			const char *body)
{
	return req_h(f, method, path, body, body ? strlen(body) : 0, NULL,
		     NULL);
}

/* One whole request with this Authorization header (NULL: none). */
static struct call *req_as(struct fx *f, const char *auth, const char *method,
			   const char *path, const char *body)
{
	struct call *c =
		call_new(f, method, path, body, body ? strlen(body) : 0);

	c->auth = auth;
	call_start(c);
	pump_until_done(f, c);
	if (c->cc != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(c->cc));
	return c;
}

static cJSON *json_of(struct call *c)
{
	cJSON *j = cJSON_Parse(c->resp ? c->resp : "");

	if (j == NULL)
		fail_msg("not JSON: %s", c->resp ? c->resp : "(none)");
	return j;
}

/* The value of a response header (the last block), or NULL. */
static const char *header(struct call *c, const char *name, char *out,
			  size_t size)
{
	size_t n = strlen(name);
	const char *p = c->headers;

	while (p != NULL && *p) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			size_t len = strcspn(v, "\r\n");

			while (*v == ' ' && len > 0)
				v++, len--;
			snprintf(out, size, "%.*s", (int)len, v);
			return out;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/* status and, for errors, {"error": {"code": code, "message": ...}}. */
static void expect_error(struct call *c, long status, const char *code)
{
	cJSON *j, *e;

	if (c->status != status)
		fail_msg("%s %s: status %ld, want %ld: %s", c->method, c->url,
			 c->status, status, c->resp ? c->resp : "");
	if (strcmp(c->method, "HEAD") == 0)
		return;
	j = json_of(c);
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	assert_non_null(e);
	assert_string_equal(
		cJSON_GetObjectItemCaseSensitive(e, "code")->valuestring, code);
	assert_true(
		cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")));
	cJSON_Delete(j);
}

static void expect(struct call *c, long status)
{
	if (c->status != status)
		fail_msg("%s %s: status %ld, want %ld: %s", c->method, c->url,
			 c->status, status, c->resp ? c->resp : "");
}

/* ---- data -----------------------------------------------------------------
 */

static void image(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		buf[i] = (uint8_t)seed;
	}
}

static void sha_hex(const uint8_t *buf, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned n = 0;

	assert_int_equal(EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void upload(struct fx *f, const uint8_t *img, size_t len, char sha[65])
{
	char path[128];
	struct call *c;

	sha_hex(img, len, sha);
	snprintf(path, sizeof(path), "/api/v1/artifacts/%s", sha);
	c = req_h(f, "PUT", path, (const char *)img, len, NULL, NULL);
	assert_true(c->status == 201 || c->status == 200);
	call_free(c);
}

/* Files in DATA/artifacts whose name starts with tmp-. */
static unsigned tmp_files(struct fx *f)
{
	char cmd[256];
	unsigned n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls %s/artifacts | grep -c '^tmp-'", f->dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (fscanf(p, "%u", &n) != 1)
		n = 0;
	pclose(p);
	return n;
}

static void add_device(struct fx *f, const char *id, const char *model,
		       bool is_online, const char *region)
{
	static struct fl_store_report r;

	memset(&r, 0, sizeof(r));
	r.kind = FL_STORE_REPORT_INVENTORY;
	snprintf(r.device, sizeof(r.device), "%s", id);
	r.at_s = 1795436000;
	snprintf(r.u.inventory.model, sizeof(r.u.inventory.model), "%s", model);
	snprintf(r.u.inventory.tz, sizeof(r.u.inventory.tz), "Europe/Paris");
	r.u.inventory.boot = 3;
	r.u.inventory.n_labels = 1;
	snprintf(r.u.inventory.labels[0].key,
		 sizeof(r.u.inventory.labels[0].key), "region");
	snprintf(r.u.inventory.labels[0].value,
		 sizeof(r.u.inventory.labels[0].value), "%s", region);
	r.u.inventory.n_components = 1;
	snprintf(r.u.inventory.components[0].name,
		 sizeof(r.u.inventory.components[0].name), "firmware");
	snprintf(r.u.inventory.components[0].version,
		 sizeof(r.u.inventory.components[0].version), "2.3.1");
	snprintf(r.u.inventory.json, sizeof(r.u.inventory.json),
		 "{\"model\":\"%s\",\"id\":\"%s\"}", model, id);
	assert_int_equal(fl_store_report_write(&f->st, &r, NULL), 0);
	memset(&r, 0, sizeof(r));
	r.kind = FL_STORE_REPORT_PRESENCE;
	snprintf(r.device, sizeof(r.device), "%s", id);
	r.at_s = 1795436001;
	r.u.presence.is_online = is_online;
	r.u.presence.boot = 3;
	r.u.presence.conn = 1;
	assert_int_equal(fl_store_report_write(&f->st, &r, NULL), 0);
}

static uint64_t append_event(struct fx *f, const char *rollout,
			     const char *payload)
{
	struct fl_store_event ev;
	uint64_t seq = 0;

	memset(&ev, 0, sizeof(ev));
	ev.type = FL_STORE_EV_DECISION;
	ev.kind = FL_DEC_OFFER;
	ev.at_s = 1795437001;
	snprintf(ev.rollout, sizeof(ev.rollout), "%s", rollout);
	snprintf(ev.device, sizeof(ev.device), "thermo-000001");
	snprintf(ev.payload, sizeof(ev.payload), "%s", payload);
	assert_int_equal(fl_store_event_append(&f->st, &ev, &seq), 0);
	return seq;
}

static void start_rollout(struct fx *f, char sha[65])
{
	static uint8_t img[4096];
	cJSON *body = cJSON_CreateObject();
	char *text;
	struct call *c;

	image(img, sizeof(img), 7);
	upload(f, img, sizeof(img), sha);
	cJSON_AddStringToObject(body, "plan", PLAN);
	cJSON_AddStringToObject(body, "plan_file", "thermo-2.4.0.yaml");
	cJSON_AddStringToObject(body, "artifact_sha256", sha);
	cJSON_AddStringToObject(body, "who", "alice");
	text = cJSON_PrintUnformatted(body);
	c = req(f, "POST", "/api/v1/rollouts", text);
	expect(c, 201);
	cJSON_free(text);
	cJSON_Delete(body);
	call_free(c);
}

/* ---- artifacts: upload ----------------------------------------------------
 */

static void test_http__upload_good_bad_too_large_repeated(void **state)
{
	static uint8_t img[300 * 1024], big[ART_MAX + 1];
	struct fx *f = fx_new();
	char sha[65], other[65], path[160], file[160], buf[64];
	struct fl_store_artifact a;
	struct call *c;
	cJSON *j;

	(void)state;
	image(img, sizeof(img), 1);
	sha_hex(img, sizeof(img), sha);
	snprintf(path, sizeof(path), "/api/v1/artifacts/%s", sha);

	c = req(f, "HEAD", path, NULL);
	expect(c, 404);
	call_free(c);

	c = req_h(f, "PUT", path, (const char *)img, sizeof(img), NULL, NULL);
	expect(c, 201);
	j = json_of(c);
	assert_string_equal(
		cJSON_GetObjectItemCaseSensitive(j, "sha256")->valuestring,
		sha);
	assert_int_equal(
		cJSON_GetObjectItemCaseSensitive(j, "length")->valuedouble,
		sizeof(img));
	cJSON_Delete(j);
	call_free(c);
	assert_int_equal(fl_store_artifact_get(&f->st, sha, &a), 0);
	snprintf(file, sizeof(file), "%s/artifacts/%s", f->dir, sha);
	assert_string_equal(a.path, file);
	assert_int_equal(a.length, sizeof(img));
	assert_int_equal(tmp_files(f), 0);

	c = req(f, "HEAD", path, NULL);
	expect(c, 200);
	call_free(c);
	c = req(f, "GET", path, NULL);
	expect(c, 200);
	j = json_of(c);
	assert_int_equal(
		cJSON_GetObjectItemCaseSensitive(j, "length")->valuedouble,
		sizeof(img));
	assert_true(
		cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "signed")));
	cJSON_Delete(j);
	call_free(c);

	/* Repeated: 200, answered without the body (with or without
	 * Expect: 100-continue), the record unchanged. */
	c = req_h(f, "PUT", path, (const char *)img, sizeof(img), NULL, NULL);
	expect(c, 200);
	call_free(c);
	c = req_h(f, "PUT", path, (const char *)img, sizeof(img),
		  "Expect:", NULL);
	expect(c, 200);
	call_free(c);

	/* The body of another image under this digest. */
	image(img, sizeof(img), 2);
	sha_hex(img, sizeof(img), other);
	snprintf(path, sizeof(path), "/api/v1/artifacts/%s", other);
	img[1000] ^= 1;
	c = req_h(f, "PUT", path, (const char *)img, sizeof(img), NULL, NULL);
	expect_error(c, 400, "digest_mismatch");
	call_free(c);
	assert_int_equal(fl_store_artifact_get(&f->st, other, &a), FL_ENOENT);
	snprintf(file, sizeof(file), "%s/artifacts/%s", f->dir, other);
	assert_int_equal(access(file, F_OK), -1);
	assert_int_equal(tmp_files(f), 0);
	/* The same, chunked. */
	c = call_new(f, "PUT", path, (const char *)img, sizeof(img));
	c->is_chunked = true;
	call_start(c);
	pump_until_done(f, c);
	expect_error(c, 400, "digest_mismatch");
	call_free(c);

	/* Too large, said by Content-Length: refused before any byte. */
	image(big, sizeof(big), 3);
	sha_hex(big, sizeof(big), other);
	snprintf(path, sizeof(path), "/api/v1/artifacts/%s", other);
	c = req_h(f, "PUT", path, (const char *)big, sizeof(big), NULL, NULL);
	expect_error(c, 413, "too_large");
	call_free(c);
	/* Too large, chunked: dropped past the limit, 413 at its end. */
	c = call_new(f, "PUT", path, (const char *)big, sizeof(big));
	c->is_chunked = true;
	call_start(c);
	pump_until_done(f, c);
	assert_int_equal(c->cc, CURLE_OK);
	expect_error(c, 413, "too_large");
	call_free(c);
	assert_int_equal(fl_store_artifact_get(&f->st, other, &a), FL_ENOENT);
	assert_int_equal(tmp_files(f), 0);
	/* Exactly at the limit: taken. */
	sha_hex(big, ART_MAX, other);
	snprintf(path, sizeof(path), "/api/v1/artifacts/%s", other);
	c = req_h(f, "PUT", path, (const char *)big, ART_MAX, NULL, NULL);
	expect(c, 201);
	call_free(c);

	/* Malformed digest, empty body, wrong method. */
	c = req_h(f, "PUT", "/api/v1/artifacts/ABC", "x", 1, NULL, NULL);
	expect_error(c, 400, "bad_request");
	call_free(c);
	snprintf(path, sizeof(path), "/api/v1/artifacts/%064d", 0);
	c = req_h(f, "PUT", path, "", 0, NULL, NULL);
	expect_error(c, 400, "bad_request");
	call_free(c);
	c = req(f, "POST", path, "{}");
	expect_error(c, 405, "method_not_allowed");
	assert_non_null(header(c, "Allow", buf, sizeof(buf)));
	assert_string_equal(buf, "GET, HEAD, PUT");
	call_free(c);
	c = req(f, "HEAD", "/api/v1/artifacts/nothex", NULL);
	expect(c, 404);
	call_free(c);
	assert_int_equal(tmp_files(f), 0);
	fx_free(f);
}

/* ---- artifacts: download --------------------------------------------------
 */

static void test_http__download_range_if_range_etag(void **state)
{
	static uint8_t img[200 * 1024 + 7];
	const size_t len = sizeof(img);
	struct fx *f = fx_new();
	char sha[65], path[160], etag[80], hv[128], want[128], ifr[160];
	struct call *c;

	(void)state;
	image(img, len, 11);
	upload(f, img, len, sha);
	snprintf(path, sizeof(path), "/artifacts/%s", sha);
	snprintf(etag, sizeof(etag), "\"%s\"", sha);

	c = req(f, "GET", path, NULL);
	expect(c, 200);
	assert_int_equal(c->resp_len, len);
	assert_memory_equal(c->resp, img, len);
	assert_string_equal(header(c, "ETag", hv, sizeof(hv)), etag);
	assert_string_equal(header(c, "Accept-Ranges", hv, sizeof(hv)),
			    "bytes");
	assert_null(header(c, "Content-Range", hv, sizeof(hv)));
	call_free(c);

	c = req(f, "HEAD", path, NULL);
	expect(c, 200);
	assert_int_equal(c->resp_len, 0);
	snprintf(want, sizeof(want), "%zu", len);
	assert_string_equal(header(c, "Content-Length", hv, sizeof(hv)), want);
	assert_string_equal(header(c, "ETag", hv, sizeof(hv)), etag);
	call_free(c);

	/* Resume from an offset, as an agent does. */
	c = req_h(f, "GET", path, NULL, 0, "Range: bytes=100000-", NULL);
	expect(c, 206);
	assert_int_equal(c->resp_len, len - 100000);
	assert_memory_equal(c->resp, img + 100000, len - 100000);
	snprintf(want, sizeof(want), "bytes 100000-%zu/%zu", len - 1, len);
	assert_string_equal(header(c, "Content-Range", hv, sizeof(hv)), want);
	assert_string_equal(header(c, "ETag", hv, sizeof(hv)), etag);
	call_free(c);

	c = req_h(f, "GET", path, NULL, 0, "Range: bytes=10-19", NULL);
	expect(c, 206);
	assert_int_equal(c->resp_len, 10);
	assert_memory_equal(c->resp, img + 10, 10);
	call_free(c);
	/* A last byte past the end is cut to the end. */
	c = req_h(f, "GET", path, NULL, 0, "Range: bytes=204800-999999999",
		  NULL);
	expect(c, 206);
	assert_int_equal(c->resp_len, 7);
	call_free(c);
	c = req_h(f, "GET", path, NULL, 0, "Range: bytes=-5", NULL);
	expect(c, 206);
	assert_int_equal(c->resp_len, 5);
	assert_memory_equal(c->resp, img + len - 5, 5);
	call_free(c);

	/* Outside the image: 416 with the length. */
	snprintf(hv, sizeof(hv), "Range: bytes=%zu-", len);
	c = req_h(f, "GET", path, NULL, 0, hv, NULL);
	expect(c, 416);
	snprintf(want, sizeof(want), "bytes */%zu", len);
	assert_string_equal(header(c, "Content-Range", hv, sizeof(hv)), want);
	call_free(c);
	c = req_h(f, "GET", path, NULL, 0, "Range: bytes=-0", NULL);
	expect(c, 416);
	call_free(c);

	/* If-Range: our ETag honours the range, another gets it all. */
	snprintf(ifr, sizeof(ifr), "If-Range: %s", etag);
	c = req_h(f, "GET", path, NULL, 0, "Range: bytes=100-", ifr);
	expect(c, 206);
	assert_int_equal(c->resp_len, len - 100);
	call_free(c);
	c = req_h(f, "GET", path, NULL, 0, "Range: bytes=100-",
		  "If-Range: \"0000\"");
	expect(c, 200);
	assert_int_equal(c->resp_len, len);
	call_free(c);
	c = req_h(f, "GET", path, NULL, 0, "Range: bytes=100-",
		  "If-Range: Wed, 21 Oct 2015 07:28:00 GMT");
	expect(c, 200);
	call_free(c);
	/* Several ranges, or a malformed one: the whole image. */
	c = req_h(f, "GET", path, NULL, 0, "Range: bytes=0-1,5-6", NULL);
	expect(c, 200);
	assert_int_equal(c->resp_len, len);
	call_free(c);
	c = req_h(f, "GET", path, NULL, 0, "Range: bytes=9-3", NULL);
	expect(c, 200);
	call_free(c);

	/* Unknown and malformed digests, wrong method. */
	snprintf(path, sizeof(path), "/artifacts/%064d", 0);
	c = req(f, "GET", path, NULL);
	expect_error(c, 404, "not_found");
	call_free(c);
	c = req(f, "GET", "/artifacts/xyz", NULL);
	expect_error(c, 404, "not_found");
	call_free(c);
	snprintf(path, sizeof(path), "/artifacts/%s", sha);
	c = req(f, "POST", path, "{}");
	expect_error(c, 405, "method_not_allowed");
	call_free(c);
	fx_free(f);
}

/* ---- errors of every route ------------------------------------------------
 */

static void test_http__route_errors(void **state)
{
	static char huge[(1u << 20) + 64];
	struct fx *f = fx_new();
	struct call *c;
	char sha[65], body[512], buf[64];
	cJSON *j, *e;

	(void)state;
	static const struct {
		const char *method, *path, *body;
		long status;
		const char *code;
	} cases[] = {
		{"GET", "/nope", NULL, 404, "not_found"},
		{"GET", "/api/v1/nope", NULL, 404, "not_found"},
		{"GET", "/api/v1/status/", NULL, 404, "not_found"},
		{"GET", "/api/v1/rollouts/x/y/z", NULL, 404, "not_found"},
		{"POST", "/api/v1/status", "{}", 405, "method_not_allowed"},
		{"DELETE", "/api/v1/rollouts/x", NULL, 405,
		 "method_not_allowed"},
		{"PUT", "/metrics", "x", 405, "method_not_allowed"},
		{"GET", "/api/v1/devices?limit=0", NULL, 400, "bad_request"},
		{"GET", "/api/v1/devices?limit=1001", NULL, 400, "bad_request"},
		{"GET", "/api/v1/devices?limit=ten", NULL, 400, "bad_request"},
		{"GET", "/api/v1/devices?online=maybe", NULL, 400,
		 "bad_request"},
		{"GET", "/api/v1/devices?label=region", NULL, 400,
		 "bad_request"},
		{"GET",
		 "/api/v1/devices?label=a=1&label=b=2&label=c=3&label=d=4&"
		 "label=e=5",
		 NULL, 400, "bad_request"},
		{"GET", "/api/v1/devices/unknown-1", NULL, 404, "not_found"},
		{"GET", "/api/v1/devices/bad%20id", NULL, 404, "not_found"},
		{"GET", "/api/v1/devices/x/labels", NULL, 405,
		 "method_not_allowed"},
		{"POST", "/api/v1/devices/d1/labels", "not json", 400,
		 "bad_request"},
		{"POST", "/api/v1/devices/d1/labels", "", 400, "bad_request"},
		{"POST", "/api/v1/devices/d1/labels", "[1]", 400,
		 "bad_request"},
		{"POST", "/api/v1/devices/d1/labels", "{} x", 400,
		 "bad_request"},
		{"POST", "/api/v1/devices/d1/labels", "{\"set\":[]}", 400,
		 "bad_request"},
		{"POST", "/api/v1/devices/d1/labels",
		 "{\"set\":{\"bad key\":\"v\"}}", 400, "bad_request"},
		{"POST", "/api/v1/devices/d1/labels", "{\"set\":{\"k\":1}}",
		 400, "bad_request"},
		{"POST", "/api/v1/devices/d1/labels",
		 "{\"set\":{\"k\":\"quo\\\"te\"}}", 400, "bad_request"},
		{"POST", "/api/v1/devices/d1/labels", "{\"remove\":[\"k\"]}",
		 404, "not_found"},
		{"POST", "/api/v1/devices/bad%20id/labels", "{}", 400,
		 "bad_request"},
		{"POST", "/api/v1/rollouts", "", 400, "bad_request"},
		{"POST", "/api/v1/rollouts", "{\"plan\":1}", 400,
		 "bad_request"},
		{"POST", "/api/v1/rollouts", "{\"plan\":\"x\"}", 400,
		 "bad_request"},
		{"POST", "/api/v1/rollouts",
		 "{\"plan\":\"x\",\"artifact_sha256\":\"ABC\"}", 400,
		 "bad_request"},
		{"GET", "/api/v1/rollouts?state=bogus", NULL, 400,
		 "bad_request"},
		{"GET", "/api/v1/rollouts?after=nope", NULL, 400,
		 "bad_request"},
		{"GET", "/api/v1/rollouts/nope", NULL, 404, "not_found"},
		{"GET", "/api/v1/rollouts/nope/devices", NULL, 404,
		 "not_found"},
		{"GET", "/api/v1/rollouts/nope/rollback", NULL, 404,
		 "not_found"},
		{"POST", "/api/v1/rollouts/nope/pause", NULL, 404, "not_found"},
		{"POST", "/api/v1/rollouts/nope/frobnicate", "{}", 404,
		 "not_found"},
		{"GET", "/api/v1/rollouts/nope/pause", NULL, 405,
		 "method_not_allowed"},
		{"POST", "/api/v1/rollouts/nope/approve", "{}", 400,
		 "bad_request"},
		{"POST", "/api/v1/rollouts/nope/pause", "{\"who\":5}", 400,
		 "bad_request"},
		{"GET", "/api/v1/events?wait=31", NULL, 400, "bad_request"},
		{"GET", "/api/v1/events?after=abc", NULL, 400, "bad_request"},
		{"GET", "/api/v1/events?limit=0", NULL, 400, "bad_request"},
		{"GET", "/api/v1/events?rollout=nope", NULL, 404, "not_found"},
		{"POST", "/api/v1/events", "{}", 405, "method_not_allowed"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = req(f, cases[i].method, cases[i].path, cases[i].body);
		expect_error(c, cases[i].status, cases[i].code);
		if (cases[i].status == 405)
			assert_non_null(header(c, "Allow", buf, sizeof(buf)));
		call_free(c);
	}

	/* 413: a JSON body over 1 MiB, declared or chunked. */
	memset(huge, ' ', sizeof(huge));
	huge[0] = '{';
	huge[sizeof(huge) - 1] = '}';
	c = req_h(f, "POST", "/api/v1/devices/d1/labels", huge, sizeof(huge),
		  NULL, NULL);
	expect_error(c, 413, "too_large");
	call_free(c);
	c = call_new(f, "POST", "/api/v1/rollouts", huge, sizeof(huge));
	c->is_chunked = true;
	call_start(c);
	pump_until_done(f, c);
	assert_int_equal(c->cc, CURLE_OK);
	expect_error(c, 413, "too_large");
	call_free(c);

	/* 422 with positioned diagnostics, 409 with the devices. */
	start_rollout(f, sha);
	snprintf(body, sizeof(body),
		 "{\"plan\":\"rollout: x\\nstages: 7\\n\","
		 "\"artifact_sha256\":\"%s\"}",
		 sha);
	c = req(f, "POST", "/api/v1/rollouts", body);
	expect_error(c, 422, "invalid_plan");
	j = json_of(c);
	e = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "error"), "diagnostics");
	assert_true(cJSON_GetArraySize(e) >= 1);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(e, 0), "line")));
	assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(e, 0), "severity")));
	cJSON_Delete(j);
	call_free(c);
	fake_runner_fail_next(f->runner, 409, "conflict", 3);
	c = req(f, "POST", "/api/v1/rollouts/thermo-2.4.0/resume", NULL);
	expect_error(c, 409, "conflict");
	j = json_of(c);
	e = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "error"), "devices");
	assert_int_equal(cJSON_GetArraySize(e), 3);
	assert_string_equal(cJSON_GetArrayItem(e, 2)->valuestring, "busy-002");
	cJSON_Delete(j);
	call_free(c);
	/* Approving a stage that needs no approval: the runner's 409. */
	c = req(f, "POST", "/api/v1/rollouts/thermo-2.4.0/approve",
		"{\"name\":\"canary\"}");
	expect_error(c, 409, "conflict");
	call_free(c);
	/* A name in use. */
	{
		cJSON *b = cJSON_CreateObject();
		char *t;

		cJSON_AddStringToObject(b, "plan", PLAN);
		cJSON_AddStringToObject(b, "artifact_sha256", sha);
		t = cJSON_PrintUnformatted(b);
		c = req(f, "POST", "/api/v1/rollouts", t);
		expect_error(c, 409, "conflict");
		call_free(c);
		cJSON_free(t);
		cJSON_Delete(b);
	}

	/* 503 while unavailable, and for rollouts while no runner. */
	fl_http_set_available(f->h, false);
	c = req(f, "GET", "/api/v1/status", NULL);
	expect_error(c, 503, "unavailable");
	call_free(c);
	c = req(f, "GET", "/metrics", NULL);
	expect(c, 200);
	call_free(c);
	fl_http_set_available(f->h, true);
	fl_http_set_runner(f->h, NULL);
	c = req(f, "GET", "/api/v1/rollouts/thermo-2.4.0", NULL);
	expect_error(c, 503, "unavailable");
	call_free(c);
	c = req(f, "POST", "/api/v1/rollouts/thermo-2.4.0/pause", NULL);
	expect_error(c, 503, "unavailable");
	call_free(c);
	c = req(f, "GET", "/api/v1/rollouts", NULL); /* the store's */
	expect(c, 200);
	call_free(c);
	fl_http_set_runner(f->h, f->runner);
	fx_free(f);
}

/* ---- devices ------------------------------------------------------------- */

static const cJSON *get(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (v == NULL)
		fail_msg("no member '%s'", k);
	return v;
}

static void test_http__devices_paging_filters_labels(void **state)
{
	struct fx *f = fx_new();
	struct call *c;
	cJSON *j;
	const cJSON *list, *d, *labels;

	(void)state;
	add_device(f, "thermo-000001", "thermo-v2", true, "eu");
	add_device(f, "thermo-000002", "thermo-v2", false, "us");
	add_device(f, "thermo-000003", "thermo-v3", true, "eu");

	c = req(f, "GET", "/api/v1/devices?limit=2", NULL);
	expect(c, 200);
	j = json_of(c);
	list = get(j, "devices");
	assert_int_equal(cJSON_GetArraySize(list), 2);
	assert_string_equal(get(j, "next")->valuestring, "thermo-000002");
	d = cJSON_GetArrayItem(list, 0);
	assert_string_equal(get(d, "id")->valuestring, "thermo-000001");
	assert_string_equal(get(d, "model")->valuestring, "thermo-v2");
	assert_true(cJSON_IsTrue(get(d, "online")));
	assert_int_equal(get(d, "last_seen")->valuedouble, 1795436001);
	assert_int_equal(get(d, "boot")->valuedouble, 3);
	assert_string_equal(get(get(d, "versions"), "firmware")->valuestring,
			    "2.3.1");
	assert_string_equal(get(get(d, "labels"), "region")->valuestring, "eu");
	assert_true(cJSON_IsNull(get(d, "rollout")));
	cJSON_Delete(j);
	call_free(c);
	c = req(f, "GET", "/api/v1/devices?limit=2&after=thermo-000002", NULL);
	j = json_of(c);
	assert_int_equal(cJSON_GetArraySize(get(j, "devices")), 1);
	assert_true(cJSON_IsNull(get(j, "next")));
	cJSON_Delete(j);
	call_free(c);

	c = req(f, "GET", "/api/v1/devices?model=thermo-v2&online=true", NULL);
	j = json_of(c);
	assert_int_equal(cJSON_GetArraySize(get(j, "devices")), 1);
	cJSON_Delete(j);
	call_free(c);
	c = req(f, "GET", "/api/v1/devices?label=region=eu", NULL);
	j = json_of(c);
	assert_int_equal(cJSON_GetArraySize(get(j, "devices")), 2);
	cJSON_Delete(j);
	call_free(c);

	/* Server labels: set, merged (the server's wins), removed. */
	c = req(f, "POST", "/api/v1/devices/thermo-000001/labels",
		"{\"set\":{\"ring\":\"beta\",\"region\":\"moon\"}}");
	expect(c, 200);
	j = json_of(c);
	labels = get(j, "labels");
	assert_string_equal(get(labels, "ring")->valuestring, "beta");
	assert_string_equal(get(labels, "region")->valuestring, "moon");
	assert_string_equal(
		get(get(j, "reported_labels"), "region")->valuestring, "eu");
	assert_string_equal(get(get(j, "server_labels"), "region")->valuestring,
			    "moon");
	cJSON_Delete(j);
	call_free(c);
	c = req(f, "GET", "/api/v1/devices?label=region=moon&label=ring=beta",
		NULL);
	j = json_of(c);
	assert_int_equal(cJSON_GetArraySize(get(j, "devices")), 1);
	cJSON_Delete(j);
	call_free(c);
	c = req(f, "POST", "/api/v1/devices/thermo-000001/labels",
		"{\"remove\":[\"region\",\"nothere\"]}");
	expect(c, 200);
	j = json_of(c);
	assert_string_equal(get(get(j, "labels"), "region")->valuestring, "eu");
	assert_string_equal(get(j, "tz")->valuestring, "Europe/Paris");
	assert_true(cJSON_IsArray(get(j, "jobs")));
	assert_true(cJSON_IsArray(get(j, "components")));
	assert_true(cJSON_IsNull(get(j, "health")));
	cJSON_Delete(j);
	call_free(c);

	/* A device known only by its labels: never seen. */
	c = req(f, "POST", "/api/v1/devices/spare-1/labels",
		"{\"set\":{\"site\":\"lyon\"}}");
	expect(c, 200);
	j = json_of(c);
	assert_true(cJSON_IsNull(get(j, "last_seen")));
	assert_true(cJSON_IsNull(get(j, "model")));
	cJSON_Delete(j);
	call_free(c);
	c = req(f, "GET", "/api/v1/status", NULL);
	j = json_of(c);
	assert_int_equal(get(get(j, "devices"), "total")->valuedouble, 4);
	assert_int_equal(get(get(j, "devices"), "online")->valuedouble, 2);
	assert_string_equal(get(j, "version")->valuestring, "0.4.0");
	assert_int_equal(strlen(get(get(j, "signing"), "pubkey")->valuestring),
			 130);
	assert_true(cJSON_IsNumber(get(get(j, "events"), "last")));
	cJSON_Delete(j);
	call_free(c);
	fx_free(f);
}

/* ---- rollouts (fake runner) -----------------------------------------------
 */

static void set_member(struct fx *f, const char *id, uint8_t status,
		       uint8_t progress)
{
	struct fl_store_member m;

	memset(&m, 0, sizeof(m));
	snprintf(m.rollout, sizeof(m.rollout), "thermo-2.4.0");
	snprintf(m.device, sizeof(m.device), "%s", id);
	m.stage = 0;
	m.status = status;
	m.progress = progress;
	m.offered_at_s = 1795436500;
	m.committed_at_s =
		progress == FL_PROG_COMMITTED ? 1795436600 : FL_STORE_NONE;
	m.updated_at_s = 1795436600;
	assert_int_equal(fl_store_member_set(&f->st, &m), 0);
}

static void test_http__rollouts_through_the_runner(void **state)
{
	struct fx *f = fx_new();
	const cJSON *r, *st, *list;
	struct call *c;
	char sha[65];
	cJSON *j;
	long next;

	(void)state;
	add_device(f, "thermo-000001", "thermo-v2", true, "eu");
	add_device(f, "thermo-000002", "thermo-v2", true, "us");
	add_device(f, "thermo-000003", "thermo-v2", true, "eu");
	start_rollout(f, sha);
	set_member(f, "thermo-000001", FL_DEV_SUCCEEDED, FL_PROG_COMMITTED);
	set_member(f, "thermo-000002", FL_DEV_IN_FLIGHT, FL_PROG_DOWNLOADING);
	set_member(f, "thermo-000003", FL_DEV_IN_FLIGHT, FL_PROG_INSTALLED);

	c = req(f, "GET", "/api/v1/rollouts/thermo-2.4.0", NULL);
	expect(c, 200);
	j = json_of(c);
	assert_string_equal(get(j, "name")->valuestring, "thermo-2.4.0");
	assert_string_equal(get(j, "component")->valuestring, "firmware");
	assert_string_equal(get(j, "version")->valuestring, "2.4.0");
	assert_string_equal(get(j, "artifact_sha256")->valuestring, sha);
	assert_string_equal(get(j, "state")->valuestring, "running");
	assert_true(cJSON_IsFalse(get(j, "paused")));
	/* the token's name, not the body's "who" */
	assert_string_equal(get(j, "started_by")->valuestring, "test-admin");
	assert_string_equal(get(j, "stage")->valuestring, "canary");
	assert_int_equal(get(j, "members")->valuedouble, 3);
	assert_true(cJSON_IsNull(get(j, "waiting")));
	assert_true(cJSON_IsNull(get(j, "rollback")));
	st = cJSON_GetArrayItem(get(j, "stages"), 0);
	assert_string_equal(get(st, "name")->valuestring, "canary");
	assert_string_equal(get(st, "state")->valuestring, "running");
	assert_int_equal(get(get(st, "counts"), "in_flight")->valuedouble, 2);
	assert_int_equal(get(get(st, "counts"), "succeeded")->valuedouble, 1);
	assert_int_equal(get(get(st, "progress"), "offered")->valuedouble, 3);
	assert_int_equal(get(get(st, "progress"), "downloading")->valuedouble,
			 1);
	assert_int_equal(get(get(st, "progress"), "installed")->valuedouble, 1);
	assert_int_equal(get(get(st, "progress"), "committed")->valuedouble, 1);
	assert_int_equal(get(get(st, "gate"), "judged")->valuedouble, 1);
	assert_true(get(get(st, "gate"), "max_failure_rate")->valuedouble >
		    0.049);
	assert_int_equal(get(get(st, "gate"), "min_devices")->valuedouble, 10);
	assert_int_equal(get(get(st, "gate"), "soak_s")->valuedouble, 1800);
	assert_true(cJSON_IsNull(get(st, "approval")));
	/* The split: each member once, by what it is doing now. */
	assert_int_equal(get(get(st, "split"), "succeeded")->valuedouble, 1);
	assert_int_equal(get(get(st, "split"), "downloading")->valuedouble, 1);
	assert_int_equal(get(get(st, "split"), "installing")->valuedouble, 1);
	assert_int_equal(get(get(st, "split"), "offered")->valuedouble, 0);
	assert_int_equal(get(get(st, "split"), "rolled_back")->valuedouble, 0);
	assert_int_equal(get(get(st, "split"), "waiting")->valuedouble, 0);
	st = cJSON_GetArrayItem(get(j, "stages"), 1);
	assert_string_equal(get(st, "state")->valuestring, "pending");
	assert_true(cJSON_IsFalse(get(get(st, "approval"), "approved")));
	cJSON_Delete(j);
	call_free(c);

	/* The list, newest first, paged by name. */
	c = req(f, "GET", "/api/v1/rollouts?state=active", NULL);
	j = json_of(c);
	list = get(j, "rollouts");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	r = cJSON_GetArrayItem(list, 0);
	assert_string_equal(get(r, "name")->valuestring, "thermo-2.4.0");
	assert_null(cJSON_GetObjectItemCaseSensitive(r, "stages"));
	assert_true(cJSON_IsNull(get(j, "next")));
	cJSON_Delete(j);
	call_free(c);
	c = req(f, "GET", "/api/v1/rollouts?state=finished", NULL);
	j = json_of(c);
	assert_int_equal(cJSON_GetArraySize(get(j, "rollouts")), 0);
	cJSON_Delete(j);
	call_free(c);

	/* Members, paged by the store's key. */
	c = req(f, "GET", "/api/v1/rollouts/thermo-2.4.0/devices?limit=2",
		NULL);
	expect(c, 200);
	j = json_of(c);
	list = get(j, "devices");
	assert_int_equal(cJSON_GetArraySize(list), 2);
	r = cJSON_GetArrayItem(list, 0);
	assert_string_equal(get(r, "id")->valuestring, "thermo-000001");
	assert_string_equal(get(r, "stage")->valuestring, "canary");
	assert_string_equal(get(r, "status")->valuestring, "succeeded");
	assert_string_equal(get(r, "progress")->valuestring, "committed");
	assert_int_equal(get(r, "committed")->valuedouble, 1795436600);
	next = (long)get(j, "next")->valuedouble;
	cJSON_Delete(j);
	call_free(c);
	{
		char path[160];

		snprintf(path, sizeof(path),
			 "/api/v1/rollouts/thermo-2.4.0/devices?after=%ld",
			 next);
		c = req(f, "GET", path, NULL);
	}
	j = json_of(c);
	assert_int_equal(cJSON_GetArraySize(get(j, "devices")), 1);
	assert_true(cJSON_IsNull(get(j, "next")));
	cJSON_Delete(j);
	call_free(c);
	c = req(f, "GET",
		"/api/v1/rollouts/thermo-2.4.0/devices?status=in_flight&"
		"stage=canary",
		NULL);
	j = json_of(c);
	assert_int_equal(cJSON_GetArraySize(get(j, "devices")), 2);
	cJSON_Delete(j);
	call_free(c);
	c = req(f, "GET", "/api/v1/rollouts/thermo-2.4.0/devices?status=lost",
		NULL);
	expect_error(c, 400, "bad_request");
	call_free(c);
	c = req(f, "GET", "/api/v1/rollouts/thermo-2.4.0/devices?stage=nope",
		NULL);
	expect_error(c, 400, "bad_request");
	call_free(c);

	/* Preview: one to revert (installed), one offer to cancel. */
	c = req(f, "GET", "/api/v1/rollouts/thermo-2.4.0/rollback", NULL);
	expect(c, 200);
	j = json_of(c);
	assert_int_equal(get(j, "revert")->valuedouble, 2);
	assert_int_equal(get(j, "cancel")->valuedouble, 1);
	assert_int_equal(cJSON_GetArraySize(get(j, "devices")), 3);
	cJSON_Delete(j);
	call_free(c);

	/* Actions: 202 when recorded, 200 changed false on a repeat. */
	c = req(f, "POST", "/api/v1/rollouts/thermo-2.4.0/pause",
		"{\"who\":\"bob\",\"reason\":\"looks odd\"}");
	expect(c, 202);
	j = json_of(c);
	assert_true(cJSON_IsTrue(get(j, "changed")));
	assert_true(cJSON_IsTrue(get(get(j, "rollout"), "paused")));
	assert_string_equal(
		get(get(get(j, "rollout"), "waiting"), "why")->valuestring,
		"pause");
	cJSON_Delete(j);
	call_free(c);
	c = req(f, "POST", "/api/v1/rollouts/thermo-2.4.0/pause", NULL);
	expect(c, 200);
	j = json_of(c);
	assert_true(cJSON_IsFalse(get(j, "changed")));
	cJSON_Delete(j);
	call_free(c);
	c = req(f, "POST", "/api/v1/rollouts/thermo-2.4.0/resume", "{}");
	expect(c, 202);
	call_free(c);
	c = req(f, "POST", "/api/v1/rollouts/thermo-2.4.0/approve",
		"{\"name\":\"rest\",\"who\":\"carol\"}");
	expect(c, 202);
	j = json_of(c);
	st = cJSON_GetArrayItem(get(get(j, "rollout"), "stages"), 1);
	assert_true(cJSON_IsTrue(get(get(st, "approval"), "approved")));
	assert_string_equal(get(get(st, "approval"), "who")->valuestring,
			    "test-admin");
	list = get(get(j, "rollout"), "approvals");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	cJSON_Delete(j);
	call_free(c);
	c = req(f, "POST", "/api/v1/rollouts/thermo-2.4.0/approve",
		"{\"name\":\"rest\"}");
	expect(c, 200);
	call_free(c);
	c = req(f, "POST", "/api/v1/rollouts/thermo-2.4.0/rollback",
		"{\"who\":\"dave\"}");
	expect(c, 202);
	j = json_of(c);
	r = get(get(j, "rollout"), "rollback");
	assert_string_equal(get(r, "why")->valuestring, "operator");
	assert_int_equal(get(r, "sent")->valuedouble, 2);
	assert_string_equal(get(get(j, "rollout"), "state")->valuestring,
			    "rolling_back");
	cJSON_Delete(j);
	call_free(c);
	c = req(f, "POST", "/api/v1/rollouts/thermo-2.4.0/cancel", NULL);
	expect(c, 202);
	call_free(c);
	c = req(f, "GET", "/api/v1/rollouts?state=finished", NULL);
	j = json_of(c);
	r = cJSON_GetArrayItem(get(j, "rollouts"), 0);
	assert_string_equal(get(r, "state")->valuestring, "cancelled");
	assert_true(cJSON_IsNull(get(r, "targets"))); /* finished: no view */
	cJSON_Delete(j);
	call_free(c);
	fx_free(f);
}

/* ---- events: the long poll -------------------------------------------------
 */

static void pump_until_parked(struct fx *f, unsigned n)
{
	struct fl_http_stats s;

	for (;;) {
		fl_http_stats(f->h, &s);
		if (s.parked == n)
			return;
		assert_int_equal(fl_loop_run_once(f->loop, 20), 0);
	}
}

static void test_http__events_long_poll(void **state)
{
	struct fx *f = fx_new();
	struct fl_http_stats s;
	const cJSON *ev;
	struct call *c;
	uint64_t seq, seq2;
	char sha[65], path[160];
	cJSON *j;

	(void)state;
	start_rollout(f, sha);
	(void)append_event(f, "thermo-2.4.0", "{\"job\":1001}");
	seq = append_event(f, "thermo-2.4.0", "{\"stage\":1,\"job\":1002}");

	/* Events exist: answered at once, never parked. */
	c = req(f, "GET", "/api/v1/events?after=0&wait=30", NULL);
	expect(c, 200);
	fl_http_stats(f->h, &s);
	assert_int_equal(s.parked, 0);
	j = json_of(c);
	assert_true(cJSON_GetArraySize(get(j, "events")) >= 3);
	assert_int_equal(get(j, "next")->valuedouble, (double)seq);
	ev = cJSON_GetArrayItem(get(j, "events"),
				cJSON_GetArraySize(get(j, "events")) - 1);
	assert_string_equal(get(ev, "kind")->valuestring, "decision.offer");
	assert_string_equal(get(ev, "rollout")->valuestring, "thermo-2.4.0");
	assert_string_equal(get(ev, "device")->valuestring, "thermo-000001");
	assert_string_equal(get(ev, "stage")->valuestring, "rest");
	assert_int_equal(get(get(ev, "detail"), "job")->valuedouble, 1002);
	ev = cJSON_GetArrayItem(get(j, "events"),
				cJSON_GetArraySize(get(j, "events")) - 2);
	assert_string_equal(get(ev, "stage")->valuestring, "canary");
	ev = cJSON_GetArrayItem(get(j, "events"), 0);
	assert_string_equal(get(ev, "kind")->valuestring, "note.create");
	cJSON_Delete(j);
	call_free(c);
	c = req(f, "GET", "/api/v1/events?after=0&limit=1", NULL);
	j = json_of(c);
	assert_int_equal(cJSON_GetArraySize(get(j, "events")), 1);
	assert_int_equal(get(j, "next")->valuedouble, 1);
	cJSON_Delete(j);
	call_free(c);

	/* None after seq: parked until an append wakes it. */
	snprintf(path, sizeof(path), "/api/v1/events?after=%llu&wait=30",
		 (unsigned long long)seq);
	c = call_new(f, "GET", path, NULL, 0);
	call_start(c);
	pump_until_parked(f, 1);
	seq2 = append_event(f, "thermo-2.4.0", "{}");
	fl_http_events_appended(f->h);
	pump_until_done(f, c);
	expect(c, 200);
	j = json_of(c);
	assert_int_equal(cJSON_GetArraySize(get(j, "events")), 1);
	assert_int_equal(get(j, "next")->valuedouble, (double)seq2);
	cJSON_Delete(j);
	call_free(c);

	/* Following one rollout: another's event wakes it, it parks again,
	 * and its own event answers it. The action below appends it. */
	snprintf(path, sizeof(path),
		 "/api/v1/events?rollout=thermo-2.4.0&after=%llu&wait=30",
		 (unsigned long long)seq2);
	c = call_new(f, "GET", path, NULL, 0);
	call_start(c);
	pump_until_parked(f, 1);
	(void)append_event(f, "", "{\"note\":\"fleet-wide\"}");
	fl_http_events_appended(f->h);
	for (int i = 0; i < 5; i++)
		assert_int_equal(fl_loop_run_once(f->loop, 20), 0);
	pump_until_parked(f, 1);
	assert_false(atomic_load(&c->done));
	{
		struct call *a =
			req(f, "POST", "/api/v1/rollouts/thermo-2.4.0/pause",
			    "{\"who\":\"bob\"}");

		expect(a, 202);
		call_free(a);
	}
	pump_until_done(f, c);
	expect(c, 200);
	j = json_of(c);
	ev = cJSON_GetArrayItem(get(j, "events"), 0);
	assert_string_equal(get(ev, "kind")->valuestring, "action.pause");
	assert_string_equal(get(get(ev, "detail"), "who")->valuestring,
			    "test-admin");
	cJSON_Delete(j);
	call_free(c);

	/* Nothing comes: empty after the wait, next unchanged. */
	snprintf(path, sizeof(path), "/api/v1/events?after=%llu&wait=1",
		 (unsigned long long)(seq2 + 100));
	c = req(f, "GET", path, NULL);
	expect(c, 200);
	j = json_of(c);
	assert_int_equal(cJSON_GetArraySize(get(j, "events")), 0);
	assert_int_equal(get(j, "next")->valuedouble, (double)(seq2 + 100));
	cJSON_Delete(j);
	call_free(c);
	fl_http_stats(f->h, &s);
	assert_int_equal(s.parked, 0);

	/* A poll parked when the server stops ends (answered or cut). */
	c = call_new(f, "GET", path, NULL, 0);
	snprintf(c->url, sizeof(c->url),
		 "http://127.0.0.1:%u/api/v1/events?after=%llu&wait=30",
		 (unsigned)f->port, (unsigned long long)(seq2 + 100));
	call_start(c);
	pump_until_parked(f, 1);
	fl_http_free(f->h);
	f->h = NULL;
	pump_until_done(f, c);
	call_free(c);
	fx_free(f);
}

/* ---- /metrics -------------------------------------------------------------
 */

static bool is_name_char(char ch, bool first)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       ch == '_' || ch == ':' || (!first && ch >= '0' && ch <= '9');
}

/* Checks the text format 0.0.4 line by line: HELP and TYPE comments, a
 * TYPE before a family's samples, samples NAME{L="V",...} VALUE. Returns
 * the number of samples; *typed counts the families. */
static unsigned check_prometheus(const char *text, unsigned *typed)
{
	char family[128] = "";
	unsigned samples = 0;
	const char *p = text;

	*typed = 0;
	while (*p) {
		const char *eol = strchr(p, '\n');
		char line[1024], name[128];
		size_t len, i = 0, n = 0;
		char *end;

		assert_non_null(eol); /* every line ends with \n */
		len = (size_t)(eol - p);
		assert_true(len < sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		p = eol + 1;
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char type[32];

			assert_int_equal(
				sscanf(line + 7, "%127s %31s", family, type),
				2);
			assert_true(strcmp(type, "gauge") == 0 ||
				    strcmp(type, "counter") == 0);
			(*typed)++;
			continue;
		}
		assert_true(line[0] != '#');
		while (is_name_char(line[i], i == 0))
			name[n++] = line[i++];
		name[n] = '\0';
		assert_true(n > 0);
		assert_string_equal(name, family);
		if (line[i] == '{') {
			i++;
			while (line[i] != '}') {
				size_t k = i;

				while (is_name_char(line[i], i == k))
					i++;
				assert_true(i > k);
				assert_int_equal(line[i++], '=');
				assert_int_equal(line[i++], '"');
				while (line[i] != '"') {
					assert_true(line[i] != '\0');
					if (line[i] == '\\')
						i++;
					i++;
				}
				i++;
				if (line[i] == ',')
					i++;
			}
			i++;
		}
		assert_int_equal(line[i++], ' ');
		(void)strtod(line + i, &end);
		assert_true(end != line + i);
		assert_int_equal(*end, '\0');
		samples++;
	}
	return samples;
}

static void test_http__metrics_are_prometheus_text(void **state)
{
	struct fx *f = fx_new();
	struct call *c;
	char sha[65], ct[128];
	unsigned typed = 0;

	(void)state;
	add_device(f, "thermo-000001", "thermo-v2", true, "eu");
	add_device(f, "thermo-000002", "thermo-v2", false, "us");
	start_rollout(f, sha);
	set_member(f, "thermo-000001", FL_DEV_FAILED, FL_PROG_ACTIVATED);
	fl_http_counters(f->h)->reports[FL_TOPIC_STATUS] = 42;
	fl_http_counters(f->h)->commands[FL_CMD_OFFER] = 7;

	c = req(f, "GET", "/metrics", NULL);
	expect(c, 200);
	assert_non_null(header(c, "Content-Type", ct, sizeof(ct)));
	assert_non_null(strstr(ct, "text/plain"));
	assert_non_null(strstr(ct, "version=0.0.4"));
	assert_true(check_prometheus(c->resp, &typed) > 20);
	assert_int_equal(typed, 8);
	assert_non_null(strstr(c->resp, "fleet_devices{online=\"true\"} 1\n"));
	assert_non_null(strstr(c->resp, "fleet_devices{online=\"false\"} 1\n"));
	assert_non_null(
		strstr(c->resp, "fleet_rollouts{state=\"running\"} 1\n"));
	assert_non_null(strstr(c->resp,
			       "fleet_rollout_devices{rollout=\"thermo-2.4.0\","
			       "status=\"failed\"} 1\n"));
	assert_non_null(strstr(c->resp,
			       "fleet_rollout_gate_failure_rate{rollout="
			       "\"thermo-2.4.0\",stage=\"canary\"} 1\n"));
	assert_non_null(strstr(c->resp,
			       "fleet_rollout_gate_judged{rollout="
			       "\"thermo-2.4.0\",stage=\"canary\"} 1\n"));
	assert_non_null(
		strstr(c->resp, "fleet_reports_total{topic=\"status\"} 42\n"));
	assert_non_null(
		strstr(c->resp, "fleet_commands_total{type=\"offer\"} 7\n"));
	assert_non_null(strstr(c->resp, "fleet_insecure 0\n"));
	call_free(c);
	c = req(f, "HEAD", "/metrics", NULL);
	expect(c, 200);
	assert_int_equal(c->resp_len, 0);
	call_free(c);
	fx_free(f);
}

/* ---- a failing store ------------------------------------------------------
 */

/* ---- tokens and roles ----------------------------------------------------
 */

/* status and error.code of a request made with auth; the message must
 * contain msg when given. */
static void expect_as(struct fx *f, const char *auth, const char *method,
		      const char *path, const char *body, long status,
		      const char *code, const char *msg)
{
	struct call *c = req_as(f, auth, method, path, body);

	if (code != NULL)
		expect_error(c, status, code);
	else
		expect(c, status);
	if (msg != NULL && (c->resp == NULL || strstr(c->resp, msg) == NULL))
		fail_msg("%s %s: '%s' not in %s", method, path, msg,
			 c->resp ? c->resp : "(nothing)");
	call_free(c);
}

static void test_http__tokens_and_roles(void **state)
{
	static const char R[] = "/api/v1/rollouts/thermo-2.4.0";
	char viewer[200], oper[200], approver[200], bad[200], sha[65];
	char path[256];
	struct fx *f = fx_new();
	unsigned calls;
	struct call *c;
	cJSON *j, *list, *e;
	bool seen = false;

	(void)state;
	fx_token(f, "view-1", FL_ROLE_VIEWER, viewer, sizeof(viewer));
	fx_token(f, "ops-1", FL_ROLE_OPERATOR, oper, sizeof(oper));
	fx_token(f, "qa-1", FL_ROLE_APPROVER, approver, sizeof(approver));
	start_rollout(f, sha);
	calls = fake_runner_calls(f->runner);

	/* no token, or one fleetd did not make: 401, nothing done */
	expect_as(f, NULL, "GET", "/api/v1/status", NULL, 401, "unauthorized",
		  "no token");
	expect_as(f, NULL, "GET", "/metrics", NULL, 401, "unauthorized", NULL);
	expect_as(f, NULL, "POST", "/api/v1/rollouts/thermo-2.4.0/pause", "{}",
		  401, "unauthorized", NULL);
	expect_as(f, "Authorization: Basic dXNlcjpwYXNz", "GET",
		  "/api/v1/status", NULL, 401, "unauthorized", "Bearer");
	expect_as(f, "Authorization: Bearer nope", "GET", "/api/v1/status",
		  NULL, 401, "unauthorized", "not a fleetd token");
	/* the right name with another secret */
	snprintf(bad, sizeof(bad), "%s", oper);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	expect_as(f, bad, "POST", "/api/v1/rollouts/thermo-2.4.0/pause", "{}",
		  401, "unauthorized", "unknown token");
	snprintf(bad, sizeof(bad), "Authorization: Bearer flt_ghost_%064d", 0);
	expect_as(f, bad, "GET", "/api/v1/status", NULL, 401, "unauthorized",
		  "unknown token");
	assert_int_equal(fake_runner_calls(f->runner), calls);

	/* viewer: reads everything, changes nothing */
	expect_as(f, viewer, "GET", "/api/v1/status", NULL, 200, NULL, NULL);
	expect_as(f, viewer, "GET", R, NULL, 200, NULL, NULL);
	expect_as(f, viewer, "GET", "/api/v1/events", NULL, 200, NULL, NULL);
	expect_as(f, viewer, "GET", "/metrics", NULL, 200, NULL, NULL);
	expect_as(f, viewer, "HEAD", "/api/v1/devices", NULL, 200, NULL, NULL);
	expect_as(f, viewer, "POST", "/api/v1/rollouts/thermo-2.4.0/pause",
		  "{}", 403, "forbidden",
		  "needs role operator, token 'view-1' has viewer");
	expect_as(f, viewer, "POST", "/api/v1/rollouts/thermo-2.4.0/approve",
		  "{\"name\": \"rest\"}", 403, "forbidden",
		  "needs role approver, token 'view-1' has viewer");
	expect_as(f, viewer, "POST", "/api/v1/rollouts/thermo-2.4.0/rollback",
		  "{}", 403, "forbidden", "needs role operator");
	expect_as(f, viewer, "POST", "/api/v1/rollouts", "{}", 403, "forbidden",
		  NULL);
	expect_as(f, viewer, "POST", "/api/v1/devices/d1/labels",
		  "{\"set\": {\"a\": \"b\"}}", 403, "forbidden", NULL);
	snprintf(path, sizeof(path), "/api/v1/artifacts/%064d", 7);
	expect_as(f, viewer, "PUT", path, "image", 403, "forbidden", NULL);
	expect_as(f, viewer, "GET", "/api/v1/tokens", NULL, 403, "forbidden",
		  "needs role admin");
	assert_int_equal(fake_runner_calls(f->runner), calls);
	c = req_as(f, viewer, "POST", "/api/v1/rollouts/thermo-2.4.0/cancel",
		   "{}");
	j = json_of(c);
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	assert_string_equal(get(e, "needs")->valuestring, "operator");
	assert_string_equal(get(e, "role")->valuestring, "viewer");
	assert_string_equal(get(e, "token")->valuestring, "view-1");
	cJSON_Delete(j);
	call_free(c);
	assert_int_equal(fake_runner_calls(f->runner), calls);

	/* operator and approver: separate duties */
	expect_as(f, approver, "POST", "/api/v1/rollouts/thermo-2.4.0/pause",
		  "{}", 403, "forbidden", "needs role operator");
	expect_as(f, oper, "POST", "/api/v1/rollouts/thermo-2.4.0/approve",
		  "{\"name\": \"rest\"}", 403, "forbidden",
		  "needs role approver, token 'ops-1' has operator");
	assert_int_equal(fake_runner_calls(f->runner), calls);
	/* the body's who is not believed: the token's name is recorded */
	expect_as(f, oper, "POST", "/api/v1/rollouts/thermo-2.4.0/pause",
		  "{\"who\": \"mallory\"}", 202, NULL, NULL);
	expect_as(f, approver, "POST", "/api/v1/rollouts/thermo-2.4.0/approve",
		  "{\"name\": \"rest\"}", 202, NULL, NULL);
	assert_int_equal(fake_runner_calls(f->runner), calls + 2);
	c = req_as(f, viewer, "GET", "/api/v1/events?rollout=thermo-2.4.0",
		   NULL);
	expect(c, 200);
	assert_null(strstr(c->resp, "mallory"));
	assert_non_null(strstr(c->resp, "\"who\":\"ops-1\""));
	assert_non_null(strstr(c->resp, "\"who\":\"qa-1\""));
	call_free(c);
	c = req_as(f, viewer, "GET", R, NULL);
	expect(c, 200);
	assert_non_null(strstr(c->resp, "\"started_by\":\"test-admin\""));
	call_free(c);

	/* the admin's token list: names, roles, times, never a secret */
	c = req(f, "GET", "/api/v1/tokens", NULL);
	expect(c, 200);
	assert_null(strstr(c->resp, "hash"));
	j = json_of(c);
	list = cJSON_GetObjectItemCaseSensitive(j, "tokens");
	assert_int_equal(cJSON_GetArraySize(list), 4);
	cJSON_ArrayForEach(e, list)
	{
		if (strcmp(get(e, "name")->valuestring, "view-1") == 0) {
			assert_string_equal(get(e, "role")->valuestring,
					    "viewer");
			assert_true(cJSON_IsNull(get(e, "revoked")));
			seen = true;
		}
	}
	assert_true(seen);
	cJSON_Delete(j);
	call_free(c);

	/* a revoked token is refused from the next request */
	assert_int_equal(fl_store_token_revoke(&f->st, "ops-1", 1795436100), 0);
	expect_as(f, oper, "POST", "/api/v1/rollouts/thermo-2.4.0/resume", "{}",
		  401, "unauthorized", "token 'ops-1' was revoked");
	expect_as(f, oper, "GET", "/api/v1/status", NULL, 401, "unauthorized",
		  NULL);
	assert_int_equal(fake_runner_calls(f->runner), calls + 2);

	/* devices download images without a token (manifests are signed) */
	snprintf(path, sizeof(path), "/artifacts/%s", sha);
	expect_as(f, NULL, "GET", path, NULL, 200, NULL, NULL);
	fx_free(f);
}

static void test_http__store_failure_is_500(void **state)
{
	static uint8_t img[8192];
	struct fx *f = fx_new();
	char sha[65], paths[6][160];
	struct call *c;

	(void)state;
	add_device(f, "thermo-000001", "thermo-v2", true, "eu");
	image(img, sizeof(img), 9);
	upload(f, img, sizeof(img), sha);
	snprintf(paths[0], sizeof(paths[0]), "/api/v1/devices");
	snprintf(paths[1], sizeof(paths[1]), "/api/v1/devices/thermo-000001");
	snprintf(paths[2], sizeof(paths[2]), "/api/v1/events");
	snprintf(paths[3], sizeof(paths[3]), "/api/v1/rollouts");
	snprintf(paths[4], sizeof(paths[4]), "/artifacts/%s", sha);
	snprintf(paths[5], sizeof(paths[5]), "/api/v1/artifacts/%s", sha);
	for (int i = 0; i < 6; i++) {
		fl_store_sqlite_fail_at(&f->st, 1);
		c = req(f, "GET", paths[i], NULL);
		expect_error(c, 500, "internal");
		call_free(c);
		c = req(f, "GET", paths[i], NULL);
		expect(c, 200);
		call_free(c);
	}
	/* An upload whose record cannot be written keeps nothing half. */
	image(img, sizeof(img), 10);
	sha_hex(img, sizeof(img), sha);
	snprintf(paths[0], sizeof(paths[0]), "/api/v1/artifacts/%s", sha);
	fl_store_sqlite_fail_at(&f->st, 1);
	c = req_h(f, "PUT", paths[0], (const char *)img, sizeof(img), NULL,
		  NULL);
	expect_error(c, 500, "internal");
	call_free(c);
	assert_int_equal(tmp_files(f), 0);
	c = req_h(f, "PUT", paths[0], (const char *)img, sizeof(img), NULL,
		  NULL);
	expect(c, 201);
	call_free(c);
	fx_free(f);
}

/* ---- descriptors past 1023 --------------------------------------------------
 */

static void test_http__serves_with_descriptors_past_1023(void **state)
{
	static uint8_t img[64 * 1024];
	struct rlimit rl;
	struct fx *f;
	struct call *c;
	char sha[65], path[160];
	int fds[1100], n = 0;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 1400) {
		if (rl.rlim_max < 1400) {
			print_message("RLIMIT_NOFILE hard limit %lu: skipped\n",
				      (unsigned long)rl.rlim_max);
			skip();
		}
		rl.rlim_cur = 1400;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	while (n < 1100) {
		fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		assert_true(fds[n] >= 0);
		n++;
		if (fds[n - 1] >= 1100)
			break;
	}
	f = fx_new(); /* every descriptor it opens is above 1023 */
	image(img, sizeof(img), 5);
	upload(f, img, sizeof(img), sha);
	snprintf(path, sizeof(path), "/artifacts/%s", sha);
	c = req_h(f, "GET", path, NULL, 0, "Range: bytes=1000-", NULL);
	expect(c, 206);
	assert_int_equal(c->resp_len, sizeof(img) - 1000);
	assert_memory_equal(c->resp, img + 1000, sizeof(img) - 1000);
	call_free(c);
	fx_free(f);
	while (n > 0)
		close(fds[--n]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http__upload_good_bad_too_large_repeated),
		cmocka_unit_test(test_http__download_range_if_range_etag),
		cmocka_unit_test(test_http__route_errors),
		cmocka_unit_test(test_http__devices_paging_filters_labels),
		cmocka_unit_test(test_http__rollouts_through_the_runner),
		cmocka_unit_test(test_http__events_long_poll),
		cmocka_unit_test(test_http__metrics_are_prometheus_text),
		cmocka_unit_test(test_http__tokens_and_roles),
		cmocka_unit_test(test_http__store_failure_is_500),
		cmocka_unit_test(test_http__serves_with_descriptors_past_1023),
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
