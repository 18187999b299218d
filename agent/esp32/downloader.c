/*
 * downloader.c -- the downloader port over esp_http_client, on a task of
 * its own: a ranged GET ("Range: bytes=N-", "If-Range: <validator>"),
 * whose response and body are handed to the agent task chunk by chunk.
 *
 * Method: start() (agent task) copies the request into a one-slot queue
 * and returns. The download task opens the connection
 * (esp_http_client_open), reads the response head
 * (esp_http_client_fetch_headers; the event handler's HTTP_EVENT_ON_HEADER
 * keeps ETag, Last-Modified and Content-Range), follows up to three
 * redirects, and hands the response to the agent; then it reads the body
 * with esp_http_client_read into its chunk buffer and hands each chunk
 * over, waiting each time for the agent's answer (esp32_priv.h). Reading
 * the body ourselves rather than from HTTP_EVENT_ON_DATA inside
 * esp_http_client_perform() is what lets a transfer stop between two
 * chunks (the agent refused the data, or called stop()) instead of
 * draining the whole image.
 *
 * Generations: every start() and stop() moves `gen` on. The task checks
 * it between reads and stops a transfer the agent no longer wants, and
 * the agent task drops (answering "stop") any event of an older
 * generation still in its queue. So after stop() the agent hears nothing
 * more of that transfer, as the port requires.
 *
 * Timeouts (agent.h): 30 s to connect, then reads of 1 s, and the
 * transfer fails after 60 s without a byte. Errors reach the agent as
 * FL_EIO through fl_agent_on_dl_done().
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "esp_http_client.h"
#include "esp_log.h"
#include "sdkconfig.h"
#ifdef CONFIG_FL_AGENT_TLS_CRT_BUNDLE
#include "esp_crt_bundle.h"
#endif

#include "esp32_priv.h"
#include "fl/bytes.h"
#include "fl/err.h"

#define CONNECT_TIMEOUT_MS 30000
#define READ_TIMEOUT_MS	   1000
#define IDLE_LIMIT_S	   60
#define REDIRECTS_MAX	   3
#define STOPPED		   1 /* the transfer ended silently */

static const char *TAG = FL_ESP32_TAG;

static bool is_wanted(struct fl_esp32_http *h)
{
	return atomic_load(&h->gen) == h->req.gen;
}

/* Keeps a response header we use; a value too long for a validator is
 * marked, not cut. */
static void keep(char *dst, size_t size, const char *value, bool *is_long)
{
	*is_long = fl_strlcpy(dst, value, size) != 0;
	if (*is_long)
		dst[0] = '\0';
}

static esp_err_t http_event(esp_http_client_event_t *evt)
{
	struct fl_esp32_http *h = evt->user_data;

	if (evt->event_id != HTTP_EVENT_ON_HEADER || evt->header_key == NULL ||
	    evt->header_value == NULL)
		return ESP_OK;
	if (strcasecmp(evt->header_key, "ETag") == 0)
		keep(h->etag, sizeof(h->etag), evt->header_value,
		     &h->is_long_etag);
	else if (strcasecmp(evt->header_key, "Last-Modified") == 0)
		keep(h->last_modified, sizeof(h->last_modified),
		     evt->header_value, &h->is_long_modified);
	else if (strcasecmp(evt->header_key, "Content-Range") == 0)
		keep(h->content_range, sizeof(h->content_range),
		     evt->header_value, &h->is_long_range);
	return ESP_OK;
}

/* Parses a decimal number of at most 10 digits at *p; advances *p. */
static bool parse_u32(const char **p, uint32_t *out)
{
	uint64_t v = 0;
	int n = 0;

	while (**p >= '0' && **p <= '9' && n < 11) {
		v = v * 10 + (uint64_t)(**p - '0');
		(*p)++;
		n++;
	}
	if (n == 0 || n > 10 || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* "bytes FIRST-LAST/TOTAL" (TOTAL may be "*": unknown, 0). */
static bool parse_content_range(const char *s, uint32_t *first, uint32_t *total)
{
	uint32_t last;

	if (strncasecmp(s, "bytes ", 6) != 0)
		return false;
	s += 6;
	if (!parse_u32(&s, first) || *s++ != '-' || !parse_u32(&s, &last) ||
	    *s++ != '/' || last < *first)
		return false;
	if (s[0] == '*' && s[1] == '\0') {
		*total = 0;
		return true;
	}
	return parse_u32(&s, total) && *s == '\0';
}

/* The response as the agent wants it (struct fl_agent_dl_response). */
static void describe(struct fl_esp32_http *h, esp_http_client_handle_t c,
		     int status)
{
	struct fl_agent_dl_response *r = &h->resp;
	int64_t len = esp_http_client_get_content_length(c);

	memset(r, 0, sizeof(*r));
	r->http_status = (uint16_t)status;
	if (status == 206) {
		if (!parse_content_range(h->content_range, &r->first_byte,
					 &r->total_bytes)) {
			/* The agent refuses a 206 it cannot place. */
			r->first_byte = UINT32_MAX;
			r->total_bytes = 0;
		}
	} else if (status == 200 && len > 0 && len <= UINT32_MAX &&
		   !esp_http_client_is_chunked_response(c)) {
		r->total_bytes = (uint32_t)len;
	}
	/* The strong ETag, else Last-Modified, else ""; one too long for
	 * FL_AGENT_VALIDATOR_MAX is given as "" (agent.h). */
	if (h->is_long_etag || (h->etag[0] == '\0' && h->is_long_modified))
		return;
	if (h->etag[0] != '\0' && strncmp(h->etag, "W/", 2) != 0)
		(void)fl_strlcpy(r->validator, h->etag, sizeof(r->validator));
	else if (h->last_modified[0] != '\0')
		(void)fl_strlcpy(r->validator, h->last_modified,
				 sizeof(r->validator));
}

/* Hands an event to the agent task and returns its answer; a transfer
 * the agent no longer wants answers FL_ESTATE. */
static int tell_agent(struct fl_esp32_http *h, uint8_t kind, void *data,
		      size_t len)
{
	struct fl_esp32_event e;

	if (!is_wanted(h))
		return FL_ESTATE;
	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.gen = h->req.gen;
	e.data = data;
	e.len = len;
	return fl_esp32_post_and_wait(&e);
}

static bool is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 ||
	       status == 307 || status == 308;
}

/* Opens the request and reads the response head, following redirects.
 * Returns the HTTP status, or an error. */
static int open_request(struct fl_esp32_http *h, esp_http_client_handle_t c)
{
	int status = 0, flushed = 0;

	for (int hop = 0; hop <= REDIRECTS_MAX; hop++) {
		int64_t head = -ESP_ERR_HTTP_EAGAIN;

		h->etag[0] = h->last_modified[0] = h->content_range[0] = '\0';
		h->is_long_etag = h->is_long_modified = h->is_long_range =
			false;
		(void)esp_http_client_set_timeout_ms(c, CONNECT_TIMEOUT_MS);
		if (esp_http_client_open(c, 0) != ESP_OK)
			return FL_EIO;
		(void)esp_http_client_set_timeout_ms(c, READ_TIMEOUT_MS);
		for (int idle = 0;
		     head == -ESP_ERR_HTTP_EAGAIN && idle < IDLE_LIMIT_S;
		     idle++) {
			if (!is_wanted(h))
				return STOPPED;
			head = esp_http_client_fetch_headers(c);
		}
		if (head < 0)
			return FL_EIO;
		status = esp_http_client_get_status_code(c);
		if (!is_redirect(status))
			return status;
		if (hop == REDIRECTS_MAX ||
		    esp_http_client_set_redirection(c) != ESP_OK)
			return FL_EIO;
		(void)esp_http_client_flush_response(c, &flushed);
		(void)esp_http_client_close(c);
	}
	return FL_EIO;
}

/* Reads the body chunk by chunk into the agent. Returns 0 (the body
 * ended where its length said), FL_EIO, or STOPPED. */
static int read_body(struct fl_esp32_http *h, esp_http_client_handle_t c)
{
	int idle = 0;

	for (;;) {
		int n;

		if (!is_wanted(h))
			return STOPPED;
		n = esp_http_client_read(c, (char *)h->chunk,
					 (int)sizeof(h->chunk));
		if (n == -ESP_ERR_HTTP_EAGAIN) {
			if (++idle >= IDLE_LIMIT_S)
				return FL_EIO; /* 60 s without a byte */
			continue;
		}
		if (n < 0)
			return FL_EIO;
		if (n == 0)
			return esp_http_client_is_complete_data_received(c)
				       ? 0
				       : FL_EIO;
		idle = 0;
		if (tell_agent(h, FL_ESP32_EV_DL_DATA, h->chunk, (size_t)n) !=
		    0)
			return STOPPED;
	}
}

static int transfer(struct fl_esp32_http *h)
{
	esp_http_client_config_t cfg;
	esp_http_client_handle_t c;
	char range[32];
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.url = h->req.url;
	cfg.method = HTTP_METHOD_GET;
	cfg.timeout_ms = CONNECT_TIMEOUT_MS;
	cfg.disable_auto_redirect = true; /* open_request() follows them */
	cfg.event_handler = http_event;
	cfg.user_data = h;
	cfg.buffer_size = 1024;
	cfg.keep_alive_enable = true;
#ifdef CONFIG_FL_AGENT_TLS_CRT_BUNDLE
	cfg.crt_bundle_attach = esp_crt_bundle_attach;
#endif
	c = esp_http_client_init(&cfg);
	if (c == NULL)
		return FL_EIO;
	if (h->req.offset > 0) {
		(void)snprintf(range, sizeof(range), "bytes=%" PRIu32 "-",
			       h->req.offset);
		rc = esp_http_client_set_header(c, "Range", range) == ESP_OK
			     ? 0
			     : FL_EIO;
		if (rc == 0 && h->req.validator[0] != '\0' &&
		    esp_http_client_set_header(c, "If-Range",
					       h->req.validator) != ESP_OK)
			rc = FL_EIO;
		if (rc != 0)
			goto out;
	}
	rc = open_request(h, c);
	if (rc < 0 || rc == STOPPED)
		goto out;
	describe(h, c, rc);
	if (h->is_long_etag || h->is_long_modified || h->is_long_range)
		ESP_LOGW(TAG, "download: a response header too long to keep");
	rc = tell_agent(h, FL_ESP32_EV_DL_RESPONSE, &h->resp, sizeof(h->resp));
	if (rc != 0) {
		rc = STOPPED; /* refused (4xx, wrong offset...) or stopped */
		goto out;
	}
	rc = read_body(h, c);
out:
	(void)esp_http_client_close(c);
	(void)esp_http_client_cleanup(c);
	return rc;
}

static void download_task(void *arg)
{
	struct fl_esp32_http *h = arg;

	for (;;) {
		struct fl_esp32_event e;
		int rc;

		if (xQueueReceive(h->requests, &h->req, portMAX_DELAY) !=
		    pdTRUE)
			continue;
		if (!is_wanted(h))
			continue; /* stopped before it began */
		rc = transfer(h);
		if (rc == STOPPED || !is_wanted(h))
			continue;
		if (rc != 0)
			ESP_LOGW(TAG, "download: %s failed", h->req.url);
		memset(&e, 0, sizeof(e));
		e.kind = FL_ESP32_EV_DL_DONE;
		e.gen = h->req.gen;
		e.err = rc;
		(void)fl_esp32_post_and_wait(&e);
	}
}

/* Agent task. */
static int dl_start(void *ctx, const struct fl_agent_dl_request *req)
{
	struct fl_esp32_http *h = ctx;
	struct fl_esp32_dl_request r;

	memset(&r, 0, sizeof(r));
	if (fl_strlcpy(r.url, req->url, sizeof(r.url)) != 0 ||
	    fl_strlcpy(r.validator, req->validator ? req->validator : "",
		       sizeof(r.validator)) != 0)
		return FL_ETOOBIG;
	r.offset = req->offset;
	r.length = req->length;
	r.gen = (uint32_t)atomic_fetch_add(&h->gen, 1) + 1;
	(void)xQueueOverwrite(h->requests, &r);
	return 0;
}

/* Agent task. */
static void dl_stop(void *ctx)
{
	struct fl_esp32_http *h = ctx;

	(void)atomic_fetch_add(&h->gen, 1);
}

int fl_esp32_http_start(struct fl_esp32_http *h)
{
	memset(h, 0, sizeof(*h));
	atomic_init(&h->gen, 0);
	h->requests = xQueueCreate(1, sizeof(struct fl_esp32_dl_request));
	if (h->requests == NULL)
		return FL_ENOMEM;
	if (xTaskCreate(download_task, "fl_download",
			CONFIG_FL_AGENT_DL_TASK_STACK, h,
			CONFIG_FL_AGENT_DL_TASK_PRIORITY, &h->task) != pdPASS)
		return FL_ENOMEM;
	return 0;
}

const struct fl_agent_downloader_ops fl_esp32_downloader_ops = {
	.version = FL_AGENT_PORT_VERSION,
	.name = "esp-http",
	.start = dl_start,
	.stop = dl_stop,
};
