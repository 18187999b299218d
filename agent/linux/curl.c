/*
 * curl.c -- fl_curl, one libcurl multi handle driven by fl_loop, and
 * fl_curl_dl, one device's downloader port over it.
 *
 * Method: libcurl tells the loop which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to call it back
 * (CURLMOPT_TIMERFUNCTION); the loop answers with
 * curl_multi_socket_action() and then collects finished transfers with
 * curl_multi_info_read(). Each transfer is one easy handle, created by
 * start() and cleaned up when it ends.
 *
 * The agent hears of a transfer in the order agent.h requires: the
 * response once, before the first body byte (or at the end, for a
 * response without a body), built from the last header block (a followed
 * redirect starts a new block); then each chunk of the body; then the end,
 * 0 or FL_EIO (cut, timeout, refused connection, too many redirects). When
 * the agent refuses the response or a chunk, the transfer is aborted and
 * the end is not reported. A larger receive buffer (buffer_bytes) means
 * fewer reads from the socket; libcurl still hands the body over in pieces
 * of at most 16 KiB, each given to the agent at once (so that its
 * checkpoints follow the bytes as they arrive). stop() never calls the agent:
 * from inside a libcurl callback (where an easy handle may not be removed) it
 * marks the transfer, which the next callback aborts and the collection drops
 * silently.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include <curl/curl.h>

#include "fl/bytes.h"
#include "fl/err.h"
#include "linux_priv.h"

#define CAFILE_MAX	  1024
#define DEFAULT_CONNECT_S 30u
#define DEFAULT_STALL_S	  60u
#define DEFAULT_REDIRECTS 3u
#define LAST_MODIFIED_MAX 64

struct fl_curl {
	struct fl_loop *loop;
	CURLM *multi;
	struct fl_loop_timer timer;
	unsigned depth; /* inside curl_multi_socket_action */
	char cafile[CAFILE_MAX];
	uint32_t connect_timeout_s, stall_timeout_s, max_redirects;
	uint32_t buffer_bytes; /* 0: libcurl's */
	uint64_t max_bytes_per_s;
};

struct fl_curl_dl {
	struct fl_curl *c;
	struct fl_agent *agent;
	CURL *easy;
	struct curl_slist *headers;
	bool is_stopped;   /* stop() inside a callback: abort silently */
	bool has_response; /* the agent has the response */
	bool is_refused;   /* the agent refused: abort, no end */
	uint64_t bytes;
	/* the current header block */
	bool has_range, has_length, is_weak;
	uint32_t range_first, range_total, length;
	char etag[FL_AGENT_VALIDATOR_MAX];
	char last_modified[LAST_MODIFIED_MAX];
	char url[FL_MANIFEST_URL_MAX];
	char if_range[FL_AGENT_VALIDATOR_MAX + 16];
};

/* ---- the multi handle on the loop ---------------------------------------- */

static void collect(struct fl_curl *c);

static void act(struct fl_curl *c, curl_socket_t s, int flags)
{
	int running = 0;

	c->depth++;
	(void)curl_multi_socket_action(c->multi, s, flags, &running);
	c->depth--;
	collect(c);
}

static void on_fd(void *ctx, int fd, uint32_t events)
{
	int flags = 0;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	act(ctx, fd, flags);
}

static void on_timer(void *ctx)
{
	act(ctx, CURL_SOCKET_TIMEOUT, 0);
}

static int socket_cb(CURL *e, curl_socket_t s, int what, void *userp,
		     void *socketp)
{
	struct fl_curl *c = userp;
	uint32_t ev = 0;
	int rc;

	(void)e;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		fl_loop_fd_del(c->loop, s);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev |= EPOLLOUT;
	rc = fl_loop_fd_add(c->loop, s, ev, on_fd, c);
	if (rc == FL_EBUSY)
		rc = fl_loop_fd_mod(c->loop, s, ev);
	if (rc != 0) {
		fl_linux__log(FL_LOG_ERROR, "",
			      "curl: cannot watch socket %d: %s", (int)s,
			      fl_strerror(rc));
		return -1;
	}
	return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct fl_curl *c = userp;

	(void)m;
	if (timeout_ms < 0) {
		fl_loop_timer_stop(c->loop, &c->timer);
		return 0;
	}
	return fl_loop_timer_at(c->loop, &c->timer,
				fl_loop_now_ms() + (uint64_t)timeout_ms) == 0
		       ? 0
		       : -1;
}

int fl_curl_new(struct fl_curl **out, struct fl_loop *loop,
		const struct fl_curl_config *cfg)
{
	struct fl_curl *c;

	if (out == NULL)
		return FL_EINVAL;
	*out = NULL;
	if (loop == NULL ||
	    (cfg != NULL &&
	     ((cfg->cafile != NULL && strlen(cfg->cafile) >= CAFILE_MAX) ||
	      cfg->buffer_bytes > FL_CURL_BUFFER_MAX)))
		return FL_EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return FL_ENOMEM;
	c->loop = loop;
	c->connect_timeout_s = DEFAULT_CONNECT_S;
	c->stall_timeout_s = DEFAULT_STALL_S;
	c->max_redirects = DEFAULT_REDIRECTS;
	if (cfg != NULL) {
		if (cfg->cafile != NULL)
			(void)fl_strlcpy(c->cafile, cfg->cafile,
					 sizeof(c->cafile));
		if (cfg->connect_timeout_s != 0)
			c->connect_timeout_s = cfg->connect_timeout_s;
		if (cfg->stall_timeout_s != 0)
			c->stall_timeout_s = cfg->stall_timeout_s;
		if (cfg->max_redirects != 0)
			c->max_redirects = cfg->max_redirects;
		c->max_bytes_per_s = cfg->max_bytes_per_s;
		c->buffer_bytes = cfg->buffer_bytes;
	}
	fl_loop_timer_init(&c->timer, on_timer, c);
	c->multi = curl_multi_init();
	if (c->multi == NULL) {
		free(c);
		return FL_ENOMEM;
	}
	if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb) ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c)) {
		curl_multi_cleanup(c->multi);
		free(c);
		return FL_EIO;
	}
	*out = c;
	return 0;
}

void fl_curl_free(struct fl_curl *c)
{
	if (c == NULL)
		return;
	curl_multi_cleanup(c->multi);
	/* After the cleanup, which may ask for a timer one last time. */
	fl_loop_timer_stop(c->loop, &c->timer);
	free(c);
}

/* ---- one transfer -------------------------------------------------------- */

static void release(struct fl_curl_dl *dl)
{
	if (dl->easy != NULL) {
		(void)curl_multi_remove_handle(dl->c->multi, dl->easy);
		curl_easy_cleanup(dl->easy);
		dl->easy = NULL;
	}
	curl_slist_free_all(dl->headers);
	dl->headers = NULL;
}

static void reset_block(struct fl_curl_dl *dl)
{
	dl->has_range = dl->has_length = dl->is_weak = false;
	dl->range_first = dl->range_total = dl->length = 0;
	dl->etag[0] = '\0';
	dl->last_modified[0] = '\0';
}

/* A decimal number of at most 32 bits at *p; advances *p. */
static bool parse_u32(const char **p, const char *end, uint32_t *out)
{
	uint64_t v = 0;
	const char *s = *p;

	if (s >= end || !isdigit((unsigned char)*s))
		return false;
	for (; s < end && isdigit((unsigned char)*s); s++) {
		v = v * 10u + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*p = s;
	*out = (uint32_t)v;
	return true;
}

/* "bytes FIRST-LAST/TOTAL" or "bytes * /TOTAL" (TOTAL may be "*"). */
static void parse_content_range(struct fl_curl_dl *dl, const char *v,
				const char *end)
{
	uint32_t first = 0, last = 0, total = 0;

	if (end - v < 6 || strncasecmp(v, "bytes ", 6) != 0)
		return;
	v += 6;
	if (v < end && *v == '*') {
		v++;
	} else if (!parse_u32(&v, end, &first) || v >= end || *v++ != '-' ||
		   !parse_u32(&v, end, &last) || last < first) {
		return;
	}
	if (v >= end || *v++ != '/')
		return;
	if (v < end && *v == '*')
		total = 0;
	else if (!parse_u32(&v, end, &total))
		return;
	dl->has_range = true;
	dl->range_first = first;
	dl->range_total = total;
}

static void copy_value(char *out, size_t size, const char *v, const char *end)
{
	size_t n = (size_t)(end - v);

	if (n >= size) {
		out[0] = '\0'; /* too long: as if absent (agent.h) */
		return;
	}
	memcpy(out, v, n);
	out[n] = '\0';
}

static size_t header_cb(char *buf, size_t size, size_t n, void *userdata)
{
	struct fl_curl_dl *dl = userdata;
	size_t len = size * n;
	const char *end = buf + len, *colon, *v;
	size_t name_len;

	if (dl->is_stopped)
		return 0;
	while (end > buf && (end[-1] == '\r' || end[-1] == '\n' ||
			     end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end - buf >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		reset_block(dl); /* each response of a redirect chain */
		return len;
	}
	colon = memchr(buf, ':', (size_t)(end - buf));
	if (colon == NULL)
		return len;
	name_len = (size_t)(colon - buf);
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	if (name_len == 13 && strncasecmp(buf, "content-range", 13) == 0) {
		parse_content_range(dl, v, end);
	} else if (name_len == 14 &&
		   strncasecmp(buf, "content-length", 14) == 0) {
		const char *p = v;

		dl->has_length = parse_u32(&p, end, &dl->length) && p == end;
	} else if (name_len == 4 && strncasecmp(buf, "etag", 4) == 0) {
		dl->is_weak = end - v >= 2 && v[0] == 'W' && v[1] == '/';
		copy_value(dl->etag, sizeof(dl->etag), v, end);
	} else if (name_len == 13 &&
		   strncasecmp(buf, "last-modified", 13) == 0) {
		copy_value(dl->last_modified, sizeof(dl->last_modified), v,
			   end);
	}
	return len;
}

/* Gives the agent the response of the last header block. Returns false
 * if the agent refused it. */
static bool respond(struct fl_curl_dl *dl)
{
	struct fl_agent_dl_response r;
	long code = 0;
	int rc;

	dl->has_response = true;
	(void)curl_easy_getinfo(dl->easy, CURLINFO_RESPONSE_CODE, &code);
	memset(&r, 0, sizeof(r));
	r.http_status = code > 0 && code < 1000 ? (uint16_t)code : 0;
	if (code == 206 && dl->has_range) {
		r.first_byte = dl->range_first;
		r.total_bytes = dl->range_total;
	} else if (code == 200 && dl->has_length) {
		r.total_bytes = dl->length;
	}
	if (dl->etag[0] != '\0' && !dl->is_weak)
		(void)fl_strlcpy(r.validator, dl->etag, sizeof(r.validator));
	else if (strlen(dl->last_modified) < sizeof(r.validator))
		(void)fl_strlcpy(r.validator, dl->last_modified,
				 sizeof(r.validator));
	fl_linux__log(FL_LOG_DEBUG, "",
		      "download: HTTP %ld, from %" PRIu32 " of %" PRIu32, code,
		      r.first_byte, r.total_bytes);
	rc = fl_agent_on_dl_response(dl->agent, &r);
	if (rc != 0) {
		dl->is_refused = true;
		fl_linux__log(FL_LOG_INFO, "",
			      "download: HTTP %ld not continued (%s)", code,
			      fl_strerror(rc));
		return false;
	}
	return true;
}

static size_t write_cb(char *ptr, size_t size, size_t n, void *userdata)
{
	struct fl_curl_dl *dl = userdata;
	size_t len = size * n;
	int rc;

	dl->bytes += len;
	if (dl->is_stopped || dl->is_refused)
		return 0;
	if (!dl->has_response && !respond(dl))
		return 0;
	rc = fl_agent_on_dl_data(dl->agent, ptr, len);
	if (rc != 0) {
		dl->is_refused = true;
		fl_linux__log(FL_LOG_INFO, "", "download: data refused (%s)",
			      fl_strerror(rc));
		return 0; /* aborts the transfer */
	}
	return len;
}

static int progress_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct fl_curl_dl *dl = userdata;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return dl->is_stopped ? 1 : 0;
}

/* A transfer ended: release it, then tell the agent (unless it was
 * stopped or refused). */
static void finish(struct fl_curl_dl *dl, CURLcode result)
{
	bool is_silent = dl->is_stopped || dl->is_refused;
	int err = result == CURLE_OK ? 0 : FL_EIO;
	int rc;

	if (!is_silent && !dl->has_response && result == CURLE_OK &&
	    !respond(dl))
		is_silent = true;
	release(dl);
	if (is_silent)
		return;
	if (result != CURLE_OK)
		fl_linux__log(FL_LOG_INFO, "", "download: %s: %s", dl->url,
			      curl_easy_strerror(result));
	rc = fl_agent_on_dl_done(dl->agent, err);
	if (rc != 0 && rc != FL_ESTATE)
		fl_linux__log(FL_LOG_ERROR, "", "agent: download end: %s",
			      fl_strerror(rc));
}

static void collect(struct fl_curl *c)
{
	CURLMsg *m;
	int left = 0;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct fl_curl_dl *dl = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		(void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
					(char **)&dl);
		if (dl != NULL && dl->easy == m->easy_handle)
			finish(dl, m->data.result);
	}
}

#define SETOPT(e, opt, val)                                                    \
	do {                                                                   \
		if (curl_easy_setopt((e), (opt), (val)) != CURLE_OK)           \
			goto fail;                                             \
	} while (0)

static int dl_start(void *ctx, const struct fl_agent_dl_request *req)
{
	struct fl_curl_dl *dl = ctx;
	struct fl_curl *c = dl->c;
	char range[24];
	CURL *e;

	if (req == NULL || req->url == NULL ||
	    (strncmp(req->url, "http://", 7) != 0 &&
	     strncmp(req->url, "https://", 8) != 0) ||
	    strlen(req->url) >= sizeof(dl->url) || dl->agent == NULL)
		return FL_EINVAL;
	if (dl->easy != NULL) {
		if (c->depth > 0)
			return FL_EBUSY;
		release(dl);
	}
	(void)fl_strlcpy(dl->url, req->url, sizeof(dl->url));
	reset_block(dl);
	dl->is_stopped = dl->has_response = dl->is_refused = false;
	e = curl_easy_init();
	if (e == NULL)
		return FL_ENOMEM;
	dl->easy = e;
	SETOPT(e, CURLOPT_URL, dl->url);
	SETOPT(e, CURLOPT_PRIVATE, (char *)dl);
	SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	SETOPT(e, CURLOPT_USERAGENT, "fleet-agent");
	SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SETOPT(e, CURLOPT_FOLLOWLOCATION, 1L);
	SETOPT(e, CURLOPT_MAXREDIRS, (long)c->max_redirects);
	SETOPT(e, CURLOPT_CONNECTTIMEOUT, (long)c->connect_timeout_s);
	SETOPT(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(e, CURLOPT_LOW_SPEED_TIME, (long)c->stall_timeout_s);
	if (c->max_bytes_per_s != 0)
		SETOPT(e, CURLOPT_MAX_RECV_SPEED_LARGE,
		       (curl_off_t)c->max_bytes_per_s);
	if (c->buffer_bytes != 0)
		SETOPT(e, CURLOPT_BUFFERSIZE, (long)c->buffer_bytes);
	if (c->cafile[0] != '\0')
		SETOPT(e, CURLOPT_CAINFO, c->cafile);
	SETOPT(e, CURLOPT_HEADERFUNCTION, header_cb);
	SETOPT(e, CURLOPT_HEADERDATA, dl);
	SETOPT(e, CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(e, CURLOPT_WRITEDATA, dl);
	SETOPT(e, CURLOPT_XFERINFOFUNCTION, progress_cb);
	SETOPT(e, CURLOPT_XFERINFODATA, dl);
	SETOPT(e, CURLOPT_NOPROGRESS, 0L);
	if (req->offset > 0) {
		snprintf(range, sizeof(range), "%" PRIu32 "-", req->offset);
		SETOPT(e, CURLOPT_RANGE, range);
		if (req->validator != NULL && req->validator[0] != '\0') {
			struct curl_slist *h;

			snprintf(dl->if_range, sizeof(dl->if_range),
				 "If-Range: %s", req->validator);
			h = curl_slist_append(NULL, dl->if_range);
			if (h == NULL)
				goto fail;
			dl->headers = h;
			SETOPT(e, CURLOPT_HTTPHEADER, dl->headers);
		}
	}
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
		goto fail;
	fl_linux__log(FL_LOG_DEBUG, "", "download: GET %s from %" PRIu32,
		      dl->url, req->offset);
	return 0;
fail:
	curl_easy_cleanup(e);
	dl->easy = NULL;
	curl_slist_free_all(dl->headers);
	dl->headers = NULL;
	return FL_EIO;
}

static void dl_stop(void *ctx)
{
	struct fl_curl_dl *dl = ctx;

	if (dl->easy == NULL)
		return;
	if (dl->c->depth > 0) {
		dl->is_stopped = true; /* the next callback aborts it */
		return;
	}
	release(dl);
}

static const struct fl_agent_downloader_ops downloader_ops = {
	FL_AGENT_PORT_VERSION,
	"curl",
	dl_start,
	dl_stop,
};

int fl_curl_dl_new(struct fl_curl_dl **out, struct fl_curl *c)
{
	struct fl_curl_dl *dl;

	if (out == NULL)
		return FL_EINVAL;
	*out = NULL;
	if (c == NULL)
		return FL_EINVAL;
	dl = calloc(1, sizeof(*dl));
	if (dl == NULL)
		return FL_ENOMEM;
	dl->c = c;
	*out = dl;
	return 0;
}

void fl_curl_dl_free(struct fl_curl_dl *dl)
{
	if (dl == NULL)
		return;
	release(dl);
	free(dl);
}

struct fl_agent_downloader fl_curl_dl_downloader(struct fl_curl_dl *dl)
{
	struct fl_agent_downloader d = {&downloader_ops, dl};

	return d;
}

void fl_curl_dl_attach(struct fl_curl_dl *dl, struct fl_agent *agent)
{
	if (dl != NULL)
		dl->agent = agent;
}

uint64_t fl_curl_dl_bytes(const struct fl_curl_dl *dl)
{
	return dl != NULL ? dl->bytes : 0;
}
