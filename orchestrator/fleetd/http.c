/*
 * http.c -- fleetd's HTTP server: libmicrohttpd in external epoll mode on
 * fl_loop, request bodies within their limits, JSON answers, and the long
 * poll of /api/v1/events.
 *
 * Method: libmicrohttpd (MHD) runs with MHD_USE_EPOLL and no thread of its
 * own: it keeps its sockets in an epoll set of its own, whose descriptor
 * (MHD_DAEMON_INFO_EPOLL_FD) is registered in fleetd's loop like any other.
 * When it is readable, or when the time MHD_get_timeout() asked for comes
 * (a connection to time out, or work MHD left pending), MHD_run() does what
 * is ready without blocking; after every run the timer is set again from
 * MHD_get_timeout(). No select() anywhere, so descriptor numbers past 1023
 * are fine.
 *
 * The access handler is called first when a request's headers are in: the
 * route (api.c) answers at once, or says what body to read. A JSON body is
 * collected up to json_max_bytes (a Content-Length over it is answered 413
 * at once; a chunked body that grows past it is dropped as it comes and
 * answered 413 at its end, since MHD cannot answer in the middle of a
 * body, or cut when it goes on for HTTP_DRAIN_MAX bytes more); an image
 * upload is streamed to disk (artifacts.c) under the same rules. The last call
 * (body complete) answers.
 *
 * Long poll: a request for events that finds none is suspended
 * (MHD_suspend_connection) and kept on a list with a timer for the end of
 * its wait. fl_http_events_appended() arms a zero-delay timer (never
 * resuming inside the caller, which may itself be inside an MHD callback);
 * when it fires every parked request is resumed, and MHD calls the access
 * handler again, which looks for events again and parks once more if
 * there are still none for it. Suspended connections do not time out, and
 * MHD must not be stopped with one suspended: fl_http_free resumes them
 * all first.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "fl/bytes.h"
#include "fl/err.h"
#include "http_priv.h"

#define TIMEOUT_CAP_MS (60u * 1000u) /* re-check MHD at least this often */

/* ---- small helpers ------------------------------------------------------ */

int64_t http__now(const struct fl_http *h)
{
	if (h->now_s != NULL)
		return h->now_s(h->now_ctx);
	return (int64_t)time(NULL);
}

void http__log(struct fl_http *h, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (h->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->log(h->log_ctx, level, msg);
}

bool http__is_sha256(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return i == 64;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	struct fl_http *h = cls;
	char msg[512];
	size_t n;

	if (h->log == NULL)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	http__log(h, FL_LOG_WARN, "http: %s", msg);
}

/* ---- running MHD on the loop -------------------------------------------- */

static void run(struct fl_http *h)
{
	MHD_UNSIGNED_LONG_LONG wait_ms = 0;

	if (h->d == NULL || h->depth > 0)
		return;
	h->depth++;
	(void)MHD_run(h->d);
	h->depth--;
	if (MHD_get_timeout(h->d, &wait_ms) == MHD_YES) {
		if (wait_ms > TIMEOUT_CAP_MS)
			wait_ms = TIMEOUT_CAP_MS;
		if (fl_loop_timer_at(h->loop, &h->timer,
				     fl_loop_now_ms() + wait_ms) != 0)
			http__log(h, FL_LOG_ERROR, "http: cannot arm a timer");
	} else {
		fl_loop_timer_stop(h->loop, &h->timer);
	}
}

static void on_epoll(void *ctx, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	run(ctx);
}

static void on_timer(void *ctx)
{
	run(ctx);
}

/* ---- parking long polls ------------------------------------------------- */

/* Takes req off the parked list (and its timer off the loop). */
static void park_remove(struct fl_http_req *req)
{
	struct fl_http *h = req->h;

	fl_loop_timer_stop(h->loop, &req->wait_timer);
	if (!req->is_parked)
		return;
	if (req->park_prev != NULL)
		req->park_prev->park_next = req->park_next;
	else
		h->parked = req->park_next;
	if (req->park_next != NULL)
		req->park_next->park_prev = req->park_prev;
	req->park_prev = req->park_next = NULL;
	req->is_parked = false;
	h->n_parked--;
}

static void unpark(struct fl_http_req *req)
{
	if (!req->is_parked)
		return;
	park_remove(req);
	MHD_resume_connection(req->conn);
}

static void on_wait_over(void *ctx)
{
	struct fl_http_req *req = ctx;
	struct fl_http *h = req->h;

	req->is_wait_over = true;
	unpark(req);
	run(h);
}

static void on_kick(void *ctx)
{
	struct fl_http *h = ctx;

	while (h->parked != NULL)
		unpark(h->parked);
	run(h);
}

enum MHD_Result http__park(struct fl_http_req *req, uint64_t until_ms)
{
	struct fl_http *h = req->h;

	if (h->is_stopping)
		return MHD_NO;
	fl_loop_timer_init(&req->wait_timer, on_wait_over, req);
	if (fl_loop_timer_at(h->loop, &req->wait_timer, until_ms) != 0)
		return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal", "cannot wait: out of memory");
	MHD_suspend_connection(req->conn);
	req->is_parked = true;
	req->park_prev = NULL;
	req->park_next = h->parked;
	if (h->parked != NULL)
		h->parked->park_prev = req;
	h->parked = req;
	h->n_parked++;
	return MHD_YES;
}

void fl_http_events_appended(struct fl_http *h)
{
	if (h == NULL || h->parked == NULL)
		return;
	if (fl_loop_timer_at(h->loop, &h->kick, fl_loop_now_ms()) != 0)
		http__log(h, FL_LOG_ERROR, "http: cannot arm a timer");
}

/* ---- answers ------------------------------------------------------------ */

enum MHD_Result http__queue(struct fl_http_req *req, unsigned status,
			    struct MHD_Response *resp)
{
	enum MHD_Result rc;

	if (resp == NULL)
		return MHD_NO;
	rc = MHD_queue_response(req->conn, status, resp);
	MHD_destroy_response(resp);
	if (rc == MHD_YES) {
		req->is_answered = true;
		req->h->n_requests++;
	}
	return rc;
}

enum MHD_Result http__buffer(struct fl_http_req *req, unsigned status,
			     const char *content_type, char *buf, size_t len)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer_with_free_callback(len, buf,
								  free);
	if (resp == NULL) {
		free(buf);
		return MHD_NO;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				    content_type) != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				    "no-store") != MHD_YES) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	return http__queue(req, status, resp);
}

enum MHD_Result http__json(struct fl_http_req *req, unsigned status,
			   cJSON *body)
{
	char *text, *copy;
	size_t len;

	if (body == NULL)
		body = cJSON_CreateObject();
	if (body == NULL)
		return MHD_NO;
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (text == NULL)
		return MHD_NO;
	/* A copy with a newline, in our allocator (curl and humans like
	 * the newline; MHD frees it with free()). */
	len = strlen(text);
	copy = malloc(len + 2);
	if (copy == NULL) {
		cJSON_free(text);
		return MHD_NO;
	}
	memcpy(copy, text, len);
	copy[len] = '\n';
	copy[len + 1] = '\0';
	cJSON_free(text);
	return http__buffer(req, status, "application/json", copy, len + 1);
}

enum MHD_Result http__error_extra(struct fl_http_req *req, unsigned status,
				  const char *code, cJSON *extra,
				  const char *fmt, ...)
{
	cJSON *root = cJSON_CreateObject(), *err = cJSON_CreateObject();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (root == NULL || err == NULL ||
	    !cJSON_AddItemToObject(root, "error", err)) {
		cJSON_Delete(root);
		cJSON_Delete(err);
		cJSON_Delete(extra);
		return MHD_NO;
	}
	if (cJSON_AddStringToObject(err, "code", code) == NULL ||
	    cJSON_AddStringToObject(err, "message", msg) == NULL) {
		cJSON_Delete(root);
		cJSON_Delete(extra);
		return MHD_NO;
	}
	if (extra != NULL) {
		while (extra->child != NULL) {
			cJSON *it =
				cJSON_DetachItemViaPointer(extra, extra->child);

			cJSON_AddItemToObject(err, it->string, it);
		}
		cJSON_Delete(extra);
	}
	return http__json(req, status, root);
}

enum MHD_Result http__store_error(struct fl_http_req *req, int err)
{
	struct fl_http *h = req->h;

	http__log(h, FL_LOG_ERROR, "http: store: %s (%s)",
		  fl_store_errmsg(h->store), fl_strerror(err));
	return http__error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
			   "the store failed: %s", fl_strerror(err));
}

/* ---- device counts ------------------------------------------------------ */

struct devcount_walk {
	uint32_t n, online;
	char last[FL_STORE_ID_MAX];
};

static int count_device(void *ctx, const struct fl_store_device *d)
{
	struct devcount_walk *w = ctx;

	w->n++;
	if (d->is_online)
		w->online++;
	(void)fl_strlcpy(w->last, d->id, sizeof(w->last));
	return 0;
}

int http__device_counts(struct fl_http *h, uint32_t *total, uint32_t *online)
{
	uint64_t now = fl_loop_now_ms();
	uint32_t t = 0, o = 0;

	if (h->devcount.at_ms == 0 ||
	    now - h->devcount.at_ms >= DEVCOUNT_TTL_MS) {
		char after[FL_STORE_ID_MAX] = "";

		for (;;) {
			struct devcount_walk w = {0, 0, ""};
			int rc = fl_store_device_list(h->store, NULL, after,
						      FL_STORE_PAGE_MAX,
						      count_device, &w);

			if (rc != 0)
				return rc;
			t += w.n;
			o += w.online;
			if (w.n < FL_STORE_PAGE_MAX)
				break;
			memcpy(after, w.last, sizeof(after));
		}
		h->devcount.total = t;
		h->devcount.online = o;
		h->devcount.at_ms = now != 0 ? now : 1;
	}
	*total = h->devcount.total;
	*online = h->devcount.online;
	return 0;
}

/* ---- the access handler ------------------------------------------------- */

/* Content-Length, when the client gave one. */
static bool content_length(struct MHD_Connection *conn, uint64_t *out)
{
	const char *v = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t n = 0;

	if (v == NULL || *v == '\0')
		return false;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || n > (UINT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	*out = n;
	return true;
}

static enum MHD_Result begin_json_body(struct fl_http_req *req)
{
	struct fl_http *h = req->h;
	uint64_t len = 0;

	if (content_length(req->conn, &len) && len > h->json_max_bytes)
		return http__error(req, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
				   "request body of %" PRIu64
				   " bytes is over the limit of %zu",
				   len, h->json_max_bytes);
	return MHD_YES;
}

static int json_chunk(struct fl_http_req *req, const char *data, size_t len)
{
	struct fl_http *h = req->h;

	if (req->is_too_large)
		return 0; /* dropped: 413 at the end */
	if (len > h->json_max_bytes - req->body_len) {
		req->is_too_large = true;
		free(req->body);
		req->body = NULL;
		req->body_len = req->body_cap = 0;
		return 0;
	}
	if (req->body_len + len + 1 > req->body_cap) {
		size_t cap = req->body_cap != 0 ? req->body_cap : 4096;
		char *p;

		while (cap < req->body_len + len + 1)
			cap *= 2;
		if (cap > h->json_max_bytes + 1)
			cap = h->json_max_bytes + 1;
		p = realloc(req->body, cap);
		if (p == NULL)
			return -1;
		req->body = p;
		req->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, len);
	req->body_len += len;
	req->body[req->body_len] = '\0';
	return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct fl_http *h = cls;
	struct fl_http_req *req = *con_cls;
	enum MHD_Result rc;

	(void)version;
	if (req == NULL) {
		req = calloc(1, sizeof(*req));
		if (req == NULL)
			return MHD_NO;
		req->h = h;
		req->conn = conn;
		req->up_fd = -1;
		*con_cls = req;
		rc = api__begin(req, url, method);
		if (rc != MHD_YES || req->is_answered)
			return rc;
		if (req->body_kind == BODY_JSON)
			return begin_json_body(req);
		if (req->body_kind == BODY_UPLOAD)
			return artifacts__put_begin(req);
		return MHD_YES;
	}
	if (req->is_answered) {
		/* Answered early (413, or the image was there already): the
		 * rest of the body is dropped. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		int err = 0;

		if (req->is_too_large) {
			/* Dropped until its end, then 413; cut when it goes
			 * on far beyond the limit. */
			req->dropped_bytes += *upload_data_size;
			*upload_data_size = 0;
			return req->dropped_bytes <= HTTP_DRAIN_MAX ? MHD_YES
								    : MHD_NO;
		}
		if (req->body_kind == BODY_JSON)
			err = json_chunk(req, upload_data, *upload_data_size);
		else if (req->body_kind == BODY_UPLOAD)
			err = artifacts__put_chunk(req, upload_data,
						   *upload_data_size);
		*upload_data_size = 0;
		return err == 0 ? MHD_YES : MHD_NO;
	}
	if (req->is_too_large)
		return http__error(req, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
				   "request body over the limit of %zu bytes",
				   req->body_kind == BODY_JSON
					   ? h->json_max_bytes
					   : (size_t)h->artifact_max_bytes);
	if (req->body_kind == BODY_UPLOAD)
		return artifacts__put_end(req);
	return api__end(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct fl_http_req *req = *con_cls;

	(void)cls;
	(void)conn;
	(void)why;
	if (req == NULL)
		return;
	park_remove(req);
	artifacts__put_cleanup(req);
	free(req->body);
	free(req);
	*con_cls = NULL;
}

/* ---- the listen address ------------------------------------------------- */

/* "ADDR:PORT", "[V6]:PORT", ":PORT" -> a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss,
			socklen_t *len, bool *is_v6)
{
	char host[256];
	const char *colon, *port_s;
	struct addrinfo hints, *ai = NULL;
	size_t n;
	unsigned long port = 0;
	int rc;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':')
			return FL_EINVAL;
		n = (size_t)(end - s - 1);
		if (n == 0 || n >= sizeof(host))
			return FL_EINVAL;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		port_s = end + 2;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return FL_EINVAL;
		n = (size_t)(colon - s);
		if (n >= sizeof(host))
			return FL_EINVAL;
		memcpy(host, s, n);
		host[n] = '\0';
		if (n == 0 || strcmp(host, "*") == 0)
			(void)fl_strlcpy(host, "0.0.0.0", sizeof(host));
		port_s = colon + 1;
	}
	if (*port_s == '\0')
		return FL_EINVAL;
	for (const char *p = port_s; *p; p++) {
		if (*p < '0' || *p > '9')
			return FL_EINVAL;
		port = port * 10 + (unsigned long)(*p - '0');
		if (port > 65535)
			return FL_EINVAL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port_s, &hints, &ai);
	if (rc != 0 || ai == NULL || ai->ai_addrlen > sizeof(*ss))
		rc = FL_EINVAL;
	else
		rc = 0;
	if (rc == 0) {
		memcpy(ss, ai->ai_addr, ai->ai_addrlen);
		*len = ai->ai_addrlen;
		*is_v6 = ai->ai_family == AF_INET6;
	}
	if (ai != NULL)
		freeaddrinfo(ai);
	return rc;
}

/* ---- lifecycle ---------------------------------------------------------- */

static int say(struct fl_http_diag *diag, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int say(struct fl_http_diag *diag, int err, const char *fmt, ...)
{
	va_list ap;

	if (diag != NULL) {
		va_start(ap, fmt);
		vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

int fl_http_new(struct fl_http **out, const struct fl_http_config *cfg,
		struct fl_http_diag *diag)
{
	struct sockaddr_storage ss;
	socklen_t ss_len = 0;
	bool is_v6 = false;
	const char *listen = cfg != NULL && cfg->listen != NULL
				     ? cfg->listen
				     : FL_HTTP_LISTEN_DEFAULT;
	const union MHD_DaemonInfo *info;
	struct MHD_OptionItem tls[3] = {{MHD_OPTION_END, 0, NULL},
					{MHD_OPTION_END, 0, NULL},
					{MHD_OPTION_END, 0, NULL}};
	struct fl_http *h;
	unsigned flags;
	int rc;

	if (diag != NULL)
		diag->msg[0] = '\0';
	if (out == NULL || cfg == NULL || cfg->loop == NULL ||
	    cfg->store == NULL || cfg->data_dir == NULL ||
	    cfg->data_dir[0] == '\0')
		return say(diag, FL_EINVAL, "http: missing configuration");
	*out = NULL;
	if (strlen(cfg->data_dir) > FL_HTTP_DATA_MAX)
		return say(diag, FL_EINVAL, "%s: path too long", cfg->data_dir);
	if (parse_listen(listen, &ss, &ss_len, &is_v6) != 0)
		return say(diag, FL_EINVAL,
			   "listen address '%s' is not ADDR:PORT", listen);
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return say(diag, FL_ENOMEM, "out of memory");
	h->loop = cfg->loop;
	h->store = cfg->store;
	h->runner = cfg->runner;
	h->signer = cfg->signer;
	h->imgkeys = cfg->imgkeys;
	h->epfd = -1;
	h->is_available = true;
	h->is_insecure = cfg->is_insecure;
	h->now_s = cfg->now_s;
	h->now_ctx = cfg->now_ctx;
	h->log = cfg->log;
	h->log_ctx = cfg->log_ctx;
	h->artifact_max_bytes =
		cfg->artifact_max_bytes != 0 &&
				cfg->artifact_max_bytes < FL_HTTP_ARTIFACT_MAX
			? cfg->artifact_max_bytes
			: FL_HTTP_ARTIFACT_MAX;
	h->json_max_bytes = cfg->json_max_bytes != 0 ? cfg->json_max_bytes
						     : FL_HTTP_JSON_MAX;
	(void)fl_strlcpy(h->version, cfg->version ? cfg->version : "0",
			 sizeof(h->version));
	(void)fl_strlcpy(h->data_dir, cfg->data_dir, sizeof(h->data_dir));
	h->started_s = http__now(h);
	fl_loop_timer_init(&h->timer, on_timer, h);
	fl_loop_timer_init(&h->kick, on_kick, h);
	rc = artifacts__init(h, diag);
	if (rc != 0)
		goto fail;

	flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (is_v6)
		flags |= MHD_USE_IPv6;
	if (cfg->tls_cert_pem != NULL) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			rc = say(diag, FL_ENOTSUP,
				 "this libmicrohttpd has no TLS: run with "
				 "--insecure");
			goto fail;
		}
		h->tls_cert = strdup(cfg->tls_cert_pem);
		h->tls_key = cfg->tls_key_pem ? strdup(cfg->tls_key_pem) : NULL;
		if (h->tls_cert == NULL || h->tls_key == NULL) {
			rc = say(diag, FL_ENOMEM, "out of memory");
			goto fail;
		}
		flags |= MHD_USE_TLS;
		tls[0].option = MHD_OPTION_HTTPS_MEM_KEY;
		tls[0].ptr_value = h->tls_key;
		tls[1].option = MHD_OPTION_HTTPS_MEM_CERT;
		tls[1].ptr_value = h->tls_cert;
	}
	h->d = MHD_start_daemon(
		/* The logger first: libmicrohttpd logs while it reads the
		 * options that follow. */
		flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
		mhd_logger, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)(cfg->max_connections ? cfg->max_connections
						: FL_HTTP_CONNECTIONS),
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)(cfg->timeout_s ? cfg->timeout_s : FL_HTTP_TIMEOUT_S),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_SIGPIPE_HANDLED_BY_APP,
		(int)(cfg->is_sigpipe_ignored ? 1 : 0), MHD_OPTION_ARRAY, tls,
		MHD_OPTION_END);
	if (h->d == NULL) {
		rc = say(diag, FL_EIO,
			 "cannot listen on %s (address in use or not local?)",
			 listen);
		goto fail;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0) {
		rc = say(diag, FL_EIO, "http: no epoll descriptor");
		goto fail;
	}
	h->epfd = info->epoll_fd;
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info != NULL ? info->port : 0;
	rc = fl_loop_fd_add(h->loop, h->epfd, EPOLLIN, on_epoll, h);
	if (rc != 0) {
		h->epfd = -1;
		(void)say(diag, rc, "http: cannot watch the server: %s",
			  fl_strerror(rc));
		goto fail;
	}
	run(h);
	*out = h;
	return 0;
fail:
	fl_http_free(h);
	return rc;
}

void fl_http_free(struct fl_http *h)
{
	if (h == NULL)
		return;
	h->is_stopping = true;
	fl_loop_timer_stop(h->loop, &h->kick);
	while (h->parked != NULL)
		unpark(h->parked);
	if (h->d != NULL && h->depth == 0)
		(void)MHD_run(h->d); /* lets the resumed polls answer */
	if (h->epfd >= 0)
		fl_loop_fd_del(h->loop, h->epfd);
	fl_loop_timer_stop(h->loop, &h->timer);
	if (h->d != NULL)
		MHD_stop_daemon(h->d);
	if (h->tls_key != NULL) {
		explicit_bzero(h->tls_key, strlen(h->tls_key));
		free(h->tls_key);
	}
	free(h->tls_cert);
	free(h);
}

uint16_t fl_http_port(const struct fl_http *h)
{
	return h->port;
}

void fl_http_set_available(struct fl_http *h, bool is_available)
{
	h->is_available = is_available;
}

void fl_http_set_runner(struct fl_http *h, struct fl_runner *runner)
{
	h->runner = runner;
}

void fl_http_set_broker(struct fl_http *h, const char *url, bool is_embedded,
			bool is_connected)
{
	(void)fl_strlcpy(h->broker_url, url != NULL ? url : "",
			 sizeof(h->broker_url));
	h->is_broker_embedded = is_embedded;
	h->is_broker_connected = is_connected;
}

struct fl_http_counters *fl_http_counters(struct fl_http *h)
{
	return &h->counters;
}

void fl_http_stats(const struct fl_http *h, struct fl_http_stats *out)
{
	const union MHD_DaemonInfo *info;

	memset(out, 0, sizeof(*out));
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	out->connections = info != NULL ? info->num_connections : 0;
	out->parked = h->n_parked;
	out->requests = h->n_requests;
	out->uploads = h->n_uploads;
}
