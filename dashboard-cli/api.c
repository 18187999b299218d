/*
 * api.c -- fleetctl's client of fleetd's REST API over one libcurl easy
 * handle (api.h).
 *
 * Method: a command makes a few requests one after the other, so the easy
 * interface is enough; the handle is reset before each request and kept
 * for the next, which keeps the connection alive. An answer is collected
 * into one buffer that refuses to grow past FL_API_MAX_ANSWER (the write
 * callback then fails the transfer), and parsed as JSON once complete. An
 * error answer's error.message becomes the diagnostic, cleaned of control
 * characters; a transfer that fails before an answer is described by what
 * failed, with "fleetd is not running at URL" for a refused connection,
 * the case an operator meets most.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "api.h"
#include "fl/bytes.h"
#include "fl/err.h"
#include "render.h"

#ifndef FLEETCTL_VERSION
#define FLEETCTL_VERSION "0.0.0"
#endif

#define BASE_MAX      256 /* a base URL, so that messages that name it fit */
#define TOKEN_MAX     160 /* a token: "flt_" NAME(32) "_" 64 hex digits */
#define TOKEN_SRC_MAX 300
#define CA_MAX	      1024

struct fl_api {
	CURL *easy;
	char url[BASE_MAX];
	char errbuf[CURL_ERROR_SIZE];
	/* the answer being received */
	char *buf;
	size_t len, cap;
	int is_over;
	/* "Authorization: Bearer TOKEN", or "" without a token; where the
	 * token came from, for the message of a 401 */
	char auth[TOKEN_MAX + 32];
	char token_src[TOKEN_SRC_MAX];
	/* the CA fleetd's certificate is checked against (https://):
	 * $FLEET_CA, else the default one if it exists; "": the system's */
	char ca[CA_MAX];
};

void fl_api_reply_clear(struct fl_api_reply *r)
{
	if (r == NULL)
		return;
	cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}

const char *fl_api_base_url(const char *server)
{
	return server != NULL && server[0] != '\0' ? server
						   : FL_API_DEFAULT_URL;
}

int fl_api_default_token_file(char *out, size_t cap)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, cap, "%s/fleetd/admin.token", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(out, cap, "%s/.local/state/fleetd/admin.token",
			     home);
	else
		return FL_ENOENT;
	return n < 0 || (size_t)n >= cap ? FL_ETOOBIG : 0;
}

/* The first line of a token file, trimmed. FL_ENOENT when it cannot be
 * read (errno says why), FL_EINVAL when it holds no token. */
static int read_token_file(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return FL_ENOENT;
	if (fgets(out, (int)cap, f) == NULL)
		out[0] = '\0';
	fclose(f);
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' ||
			 out[n - 1] == ' ' || out[n - 1] == '\t'))
		out[--n] = '\0';
	return n == 0 || n + 1 >= cap ? FL_EINVAL : 0;
}

/* A token has the characters of an HTTP header value's token68. */
static int is_token_text(const char *t)
{
	if (t[0] == '\0')
		return 0;
	for (; *t != '\0'; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return 0;
	return 1;
}

/* The token: $FLEET_TOKEN, else the file $FLEET_TOKEN_FILE, else the
 * default file when it exists (api.h). */
static int find_token(struct fl_api *api, struct fl_api_diag *d)
{
	const char *env = getenv("FLEET_TOKEN");
	const char *file = getenv("FLEET_TOKEN_FILE");
	char tok[TOKEN_MAX + 2], def[TOKEN_SRC_MAX - 32];
	int rc;

	api->auth[0] = '\0';
	if (env != NULL && env[0] != '\0') {
		if (strlen(env) > TOKEN_MAX || !is_token_text(env)) {
			snprintf(d->msg, sizeof(d->msg),
				 "the token (--token or FLEET_TOKEN) is not "
				 "one fleetd makes");
			return FL_EINVAL;
		}
		(void)fl_strlcpy(tok, env, sizeof(tok));
		snprintf(api->token_src, sizeof(api->token_src),
			 "the token of --token or FLEET_TOKEN");
	} else if (file != NULL && file[0] != '\0') {
		rc = read_token_file(file, tok, sizeof(tok));
		if (rc != 0 || !is_token_text(tok)) {
			snprintf(d->msg, sizeof(d->msg),
				 "token file %.200s: %s", file,
				 rc == FL_ENOENT ? strerror(errno)
						 : "no token in it");
			return FL_EINVAL;
		}
		snprintf(api->token_src, sizeof(api->token_src),
			 "the token of %.200s", file);
	} else {
		if (fl_api_default_token_file(def, sizeof(def)) != 0 ||
		    read_token_file(def, tok, sizeof(tok)) != 0 ||
		    !is_token_text(tok)) {
			snprintf(api->token_src, sizeof(api->token_src),
				 "no token was sent: give --token, "
				 "FLEET_TOKEN or FLEET_TOKEN_FILE (%.200s "
				 "was not found)",
				 def);
			return 0;
		}
		snprintf(api->token_src, sizeof(api->token_src),
			 "the token of %.200s", def);
	}
	snprintf(api->auth, sizeof(api->auth), "Authorization: Bearer %s", tok);
	memset(tok, 0, sizeof(tok));
	return 0;
}

int fl_api_default_ca_file(char *out, size_t cap)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, cap, "%s/fleetd/pki/ca.crt", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(out, cap, "%s/.local/state/fleetd/pki/ca.crt",
			     home);
	else
		return FL_ENOENT;
	return n < 0 || (size_t)n >= cap ? FL_ETOOBIG : 0;
}

/* The CA of an https:// server (see struct fl_api). */
static int find_ca(struct fl_api *api, struct fl_api_diag *d)
{
	const char *env = getenv("FLEET_CA");
	char def[CA_MAX];

	api->ca[0] = '\0';
	if (strncasecmp(api->url, "https://", 8) != 0)
		return 0;
	if (env != NULL && env[0] != '\0') {
		if (fl_strlcpy(api->ca, env, sizeof(api->ca)) != 0) {
			snprintf(d->msg, sizeof(d->msg),
				 "FLEET_CA: path too long");
			return FL_EINVAL;
		}
		return 0;
	}
	if (fl_api_default_ca_file(def, sizeof(def)) == 0 &&
	    access(def, R_OK) == 0)
		(void)fl_strlcpy(api->ca, def, sizeof(api->ca));
	return 0;
}

int fl_api_open(struct fl_api **out, const char *server, struct fl_api_diag *d)
{
	const char *url = fl_api_base_url(server);
	struct fl_api *api;
	size_t n = strlen(url);

	*out = NULL;
	d->msg[0] = '\0';
	if (strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0) {
		snprintf(d->msg, sizeof(d->msg),
			 "the server must be an http:// or https:// URL, "
			 "not `%.200s`",
			 url);
		return FL_EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f) {
			snprintf(d->msg, sizeof(d->msg),
				 "the server URL has a space or a control "
				 "character");
			return FL_EINVAL;
		}
	api = calloc(1, sizeof(*api));
	if (api == NULL)
		return FL_ENOMEM;
	if (fl_strlcpy(api->url, url, sizeof(api->url)) != 0) {
		free(api);
		snprintf(d->msg, sizeof(d->msg), "the server URL is too long");
		return FL_EINVAL;
	}
	while (n > 0 && api->url[n - 1] == '/')
		api->url[--n] = '\0';
	if (find_token(api, d) != 0 || find_ca(api, d) != 0) {
		free(api);
		return FL_EINVAL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(api);
		snprintf(d->msg, sizeof(d->msg), "libcurl would not start");
		return FL_EIO;
	}
	api->easy = curl_easy_init();
	if (api->easy == NULL) {
		curl_global_cleanup();
		free(api);
		snprintf(d->msg, sizeof(d->msg), "libcurl would not start");
		return FL_EIO;
	}
	*out = api;
	return 0;
}

void fl_api_close(struct fl_api *api)
{
	if (api == NULL)
		return;
	curl_easy_cleanup(api->easy);
	curl_global_cleanup();
	free(api->buf);
	free(api);
}

const char *fl_api_url(const struct fl_api *api)
{
	return api->url;
}

/* ---- paths -------------------------------------------------------------- */

static void path_put(struct fl_api_path *p, const char *s, int is_escaped)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0' && !p->is_bad; s++) {
		unsigned char c = (unsigned char)*s;
		int is_plain = !is_escaped || (c >= 'A' && c <= 'Z') ||
			       (c >= 'a' && c <= 'z') ||
			       (c >= '0' && c <= '9') || c == '-' || c == '.' ||
			       c == '_' || c == '~';

		if (p->n + (is_plain ? 1 : 3) >= sizeof(p->s)) {
			p->is_bad = 1;
			break;
		}
		if (is_plain) {
			p->s[p->n++] = (char)c;
		} else {
			p->s[p->n++] = '%';
			p->s[p->n++] = hex[c >> 4];
			p->s[p->n++] = hex[c & 15];
		}
	}
	p->s[p->n] = '\0';
}

void fl_api_path_init(struct fl_api_path *p, const char *prefix)
{
	p->n = 0;
	p->is_bad = 0;
	p->has_query = 0;
	p->s[0] = '\0';
	path_put(p, prefix, 0);
}

void fl_api_path_seg(struct fl_api_path *p, const char *seg)
{
	path_put(p, "/", 0);
	path_put(p, seg, 1);
}

void fl_api_path_query(struct fl_api_path *p, const char *key,
		       const char *value)
{
	path_put(p, p->has_query ? "&" : "?", 0);
	p->has_query = 1;
	path_put(p, key, 1);
	path_put(p, "=", 0);
	path_put(p, value, 1);
}

void fl_api_path_add(struct fl_api_path *p, const char *tail)
{
	path_put(p, tail, 0);
}

/* ---- requests ----------------------------------------------------------- */

struct req {
	const char *method; /* GET, POST, HEAD, PUT */
	const struct fl_api_path *path;
	const char *body; /* POST */
	size_t body_len;
	FILE *file; /* PUT */
	uint64_t file_size;
	unsigned timeout_s;
	int wants_json;	  /* a body that is not JSON is an error */
	int may_be_empty; /* ... but none at all is not */
};

int fl_api_status_err(long status)
{
	switch (status) {
	case 400: return FL_EINVAL;
	case 401:
	case 403:
	case 405: return FL_ENOTSUP;
	case 404: return FL_ENOENT;
	case 409: return FL_ESTATE;
	case 413: return FL_ETOOBIG;
	case 422: return FL_EINVAL;
	case 503: return FL_EBUSY;
	default: return FL_EIO;
	}
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct fl_api *api = ctx;
	size_t n = size * nmemb;

	if (n > FL_API_MAX_ANSWER - api->len) {
		api->is_over = 1;
		return 0; /* fails the transfer: CURLE_WRITE_ERROR */
	}
	if (api->len + n + 1 > api->cap) {
		size_t cap = api->cap ? api->cap : 16384;
		char *b;

		while (cap < api->len + n + 1)
			cap *= 2;
		if (cap > FL_API_MAX_ANSWER + 1)
			cap = FL_API_MAX_ANSWER + 1;
		b = realloc(api->buf, cap);
		if (b == NULL)
			return 0;
		api->buf = b;
		api->cap = cap;
	}
	memcpy(api->buf + api->len, data, n);
	api->len += n;
	return n;
}

/* What a transfer that got no answer means for the operator. */
static int transfer_error(struct fl_api *api, CURLcode cc,
			  struct fl_api_diag *d)
{
	long os_errno = 0;
	char why[200];

	fl_render_clean(why, sizeof(why),
			api->errbuf[0] ? api->errbuf : curl_easy_strerror(cc));
	(void)curl_easy_getinfo(api->easy, CURLINFO_OS_ERRNO, &os_errno);
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		if (os_errno == ECONNREFUSED)
			snprintf(d->msg, sizeof(d->msg),
				 "fleetd is not running at %s", api->url);
		else
			snprintf(d->msg, sizeof(d->msg),
				 "cannot connect to fleetd at %s: %s", api->url,
				 why);
		return FL_EIO;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CONNECT_ERROR:
		snprintf(d->msg, sizeof(d->msg),
			 "cannot trust fleetd at %.100s: %.150s (checked "
			 "against %.150s; FLEET_CA names fleetd's "
			 "DATA/pki/ca.crt)",
			 api->url, why,
			 api->ca[0] ? api->ca : "the system's CAs");
		return FL_EIO;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(d->msg, sizeof(d->msg),
			 "cannot find the host of %s: %s", api->url, why);
		return FL_EIO;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(d->msg, sizeof(d->msg),
			 "fleetd at %s did not answer in time: %s", api->url,
			 why);
		return FL_EIO;
	case CURLE_WRITE_ERROR:
		if (api->is_over) {
			snprintf(d->msg, sizeof(d->msg),
				 "fleetd's answer is larger than %u MiB",
				 FL_API_MAX_ANSWER >> 20);
			return FL_ETOOBIG;
		}
		snprintf(d->msg, sizeof(d->msg), "out of memory");
		return FL_ENOMEM;
	case CURLE_READ_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
		snprintf(d->msg, sizeof(d->msg), "cannot read the upload: %s",
			 why);
		return FL_EIO;
	case CURLE_OUT_OF_MEMORY:
		snprintf(d->msg, sizeof(d->msg), "out of memory");
		return FL_ENOMEM;
	default:
		snprintf(d->msg, sizeof(d->msg), "fleetd at %s: %s", api->url,
			 why);
		return FL_EIO;
	}
}

/* The message of an error answer: error.message, else the status. */
static void error_message(struct fl_api_reply *r, struct fl_api_diag *d)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");

	const char *pre = r->status == 401   ? "unauthorized: "
			  : r->status == 403 ? "forbidden: "
					     : "";

	if (cJSON_IsString(code))
		r->code = code->valuestring;
	if (cJSON_IsString(msg) && msg->valuestring[0] != '\0') {
		size_t n = strlen(pre);

		memcpy(d->msg, pre, n + 1);
		fl_render_clean(d->msg + n, sizeof(d->msg) - n,
				msg->valuestring);
	} else if (r->code != NULL)
		snprintf(d->msg, sizeof(d->msg),
			 "fleetd refused: %.200s (HTTP %ld)", r->code,
			 r->status);
	else
		snprintf(d->msg, sizeof(d->msg),
			 "fleetd answered HTTP %ld with no error message",
			 r->status);
}

static int perform(struct fl_api *api, const struct req *q,
		   struct fl_api_reply *r, struct fl_api_diag *d)
{
	char url[FL_API_URL_MAX + sizeof(api->url)];
	struct curl_slist *hdr = NULL;
	const char *headers[5];
	unsigned nh = 0;
	CURL *e = api->easy;
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	d->msg[0] = '\0';
	if (q->path->is_bad) {
		snprintf(d->msg, sizeof(d->msg),
			 "the request's URL is too long");
		return FL_ETOOBIG;
	}
	snprintf(url, sizeof(url), "%s%s", api->url, q->path->s);
	api->len = 0;
	api->is_over = 0;
	api->errbuf[0] = '\0';
	curl_easy_reset(e);
	if (api->ca[0] != '\0' &&
	    curl_easy_setopt(e, CURLOPT_CAINFO, api->ca) != CURLE_OK) {
		snprintf(d->msg, sizeof(d->msg), "out of memory");
		return FL_ENOMEM;
	}
	headers[nh++] = "Accept: application/json";
	headers[nh++] = "Expect:"; /* no 100-continue round trip */
	if (q->body != NULL)
		headers[nh++] = "Content-Type: application/json";
	if (q->file != NULL)
		headers[nh++] = "Content-Type: application/octet-stream";
	if (api->auth[0] != '\0')
		headers[nh++] = api->auth;
	for (unsigned i = 0; i < nh; i++) {
		struct curl_slist *h = curl_slist_append(hdr, headers[i]);

		if (h == NULL) {
			curl_slist_free_all(hdr);
			snprintf(d->msg, sizeof(d->msg), "out of memory");
			return FL_ENOMEM;
		}
		hdr = h;
	}
	if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
		    CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, api->errbuf) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
			     (long)FL_API_CONNECT_S) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT,
			     q->file != NULL ? 0L
			     : q->timeout_s
				     ? (long)q->timeout_s
				     : (long)FL_API_TIMEOUT_S) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)FL_API_STALL_S) !=
		    CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT,
			     "fleetctl/" FLEETCTL_VERSION) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, api) != CURLE_OK)
		goto setopt_failed;
	if (strcmp(q->method, "POST") == 0) {
		if (curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				     (curl_off_t)q->body_len) != CURLE_OK ||
		    curl_easy_setopt(e, CURLOPT_POSTFIELDS,
				     q->body ? q->body : "") != CURLE_OK)
			goto setopt_failed;
	} else if (strcmp(q->method, "HEAD") == 0) {
		if (curl_easy_setopt(e, CURLOPT_NOBODY, 1L) != CURLE_OK)
			goto setopt_failed;
	} else if (strcmp(q->method, "PUT") == 0) {
		if (curl_easy_setopt(e, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
		    curl_easy_setopt(e, CURLOPT_READDATA, q->file) !=
			    CURLE_OK ||
		    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
				     (curl_off_t)q->file_size) != CURLE_OK)
			goto setopt_failed;
	}
	cc = curl_easy_perform(e);
	curl_slist_free_all(hdr);
	hdr = NULL;
	if (cc != CURLE_OK) {
		/* An answer may have begun (a cut, one too large): its status
		 * says that fleetd was reached. */
		(void)curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
		return transfer_error(api, cc, d);
	}
	(void)curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
	if (api->len > 0) {
		r->json = cJSON_ParseWithLength(api->buf, api->len);
		if (r->json == NULL && r->status < 400 && q->wants_json) {
			snprintf(d->msg, sizeof(d->msg),
				 "fleetd's answer (HTTP %ld) is not JSON",
				 r->status);
			return FL_ECORRUPT;
		}
	}
	if (r->status >= 400) {
		error_message(r, d);
		if (r->status == 401) {
			size_t n = strlen(d->msg);

			snprintf(d->msg + n, sizeof(d->msg) - n, " (%s)",
				 api->token_src);
		}
		return fl_api_status_err(r->status);
	}
	if (r->status < 200 || r->status > 299) {
		snprintf(d->msg, sizeof(d->msg),
			 "fleetd at %s answered HTTP %ld", api->url, r->status);
		return FL_EIO;
	}
	if (q->wants_json && !q->may_be_empty && r->json == NULL) {
		snprintf(d->msg, sizeof(d->msg),
			 "fleetd's answer (HTTP %ld) is empty, not JSON",
			 r->status);
		return FL_ECORRUPT;
	}
	return 0;
setopt_failed:
	curl_slist_free_all(hdr);
	snprintf(d->msg, sizeof(d->msg), "libcurl refused an option");
	return FL_EIO;
}

int fl_api_get(struct fl_api *api, const struct fl_api_path *p,
	       unsigned timeout_s, struct fl_api_reply *r,
	       struct fl_api_diag *d)
{
	struct req q;

	memset(&q, 0, sizeof(q));
	q.method = "GET";
	q.path = p;
	q.timeout_s = timeout_s;
	q.wants_json = 1;
	return perform(api, &q, r, d);
}

int fl_api_post(struct fl_api *api, const struct fl_api_path *p,
		const struct cJSON *body, struct fl_api_reply *r,
		struct fl_api_diag *d)
{
	struct req q;
	char *text = NULL;
	int rc;

	memset(&q, 0, sizeof(q));
	q.method = "POST";
	q.path = p;
	q.wants_json = 1;
	q.may_be_empty = 1;
	if (body != NULL) {
		text = cJSON_PrintUnformatted(body);
		if (text == NULL) {
			memset(r, 0, sizeof(*r));
			snprintf(d->msg, sizeof(d->msg), "out of memory");
			return FL_ENOMEM;
		}
		q.body = text;
		q.body_len = strlen(text);
		if (q.body_len > FL_API_MAX_JSON_BODY) {
			cJSON_free(text);
			memset(r, 0, sizeof(*r));
			snprintf(d->msg, sizeof(d->msg),
				 "the request is larger than fleetd takes "
				 "(%u MiB)",
				 FL_API_MAX_JSON_BODY >> 20);
			return FL_ETOOBIG;
		}
	}
	rc = perform(api, &q, r, d);
	cJSON_free(text);
	return rc;
}

int fl_api_head(struct fl_api *api, const struct fl_api_path *p,
		struct fl_api_reply *r, struct fl_api_diag *d)
{
	struct req q;

	memset(&q, 0, sizeof(q));
	q.method = "HEAD";
	q.path = p;
	return perform(api, &q, r, d);
}

int fl_api_put_file(struct fl_api *api, const struct fl_api_path *p, FILE *f,
		    uint64_t size, struct fl_api_reply *r,
		    struct fl_api_diag *d)
{
	struct req q;

	memset(&q, 0, sizeof(q));
	q.method = "PUT";
	q.path = p;
	q.file = f;
	q.file_size = size;
	return perform(api, &q, r, d);
}
