/*
 * http_priv.h -- what the three files of fleetd's HTTP side share: the
 * server (http.c: libmicrohttpd on fl_loop, request bodies, answers, the
 * long poll), the API routes (api.c) and the artifact store and server
 * (artifacts.c).
 *
 * A request is a struct fl_http_req, made at the first call of the access
 * handler (headers read) and freed when libmicrohttpd says the request is
 * over. Names: http__*, api__*, artifacts__* are internal functions shared
 * across these files.
 */
#ifndef FL_FLEETD_HTTP_PRIV_H
#define FL_FLEETD_HTTP_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>
#include <microhttpd.h>

#include "http.h"

#define HTTP_PATH_MAX	1024 /* file paths under data_dir */
#define HTTP_ARG_MAX	72   /* a path parameter: digest, name, id */
#define HTTP_ACTION_MAX 16
#define DEVCOUNT_TTL_MS 2000 /* device counts cached for status/metrics */
#define HTTP_UPLOAD_TMP "tmp-"
#define HTTP_DRAIN_MAX	(16u << 20) /* dropped past a limit, then cut */

/* What the body of a request is for. */
enum http_body {
	BODY_NONE = 0,	 /* none expected: answered at the first call */
	BODY_JSON = 1,	 /* collected up to json_max_bytes */
	BODY_UPLOAD = 2, /* an image, streamed to disk (artifacts.c) */
};

/* The routes of docs/api.md (api.c). */
enum http_route {
	ROUTE_NONE = 0,
	ROUTE_METRICS,
	ROUTE_DOWNLOAD, /* /artifacts/{sha256} */
	ROUTE_STATUS,
	ROUTE_DEVICES,
	ROUTE_DEVICE,
	ROUTE_DEVICE_LABELS,
	ROUTE_ARTIFACT, /* /api/v1/artifacts/{sha256} */
	ROUTE_ROLLOUTS,
	ROUTE_ROLLOUT,
	ROUTE_ROLLOUT_DEVICES,
	ROUTE_ROLLOUT_ROLLBACK,
	ROUTE_ROLLOUT_ACTION,
	ROUTE_EVENTS,
	ROUTE_TOKENS,
};

struct fl_http_req {
	struct fl_http *h;
	struct MHD_Connection *conn;
	uint8_t route;	   /* enum http_route */
	uint8_t body_kind; /* enum http_body */
	bool is_head, is_post, is_put;
	bool is_answered;
	bool is_too_large; /* the body passed its limit: 413 at the end */
	uint64_t dropped_bytes;
	char arg[HTTP_ARG_MAX];
	char action[HTTP_ACTION_MAX];
	/* the caller, from its token (api.c): its name is the `who` of
	 * what it does */
	char who[FL_STORE_TOKEN_NAME_MAX];
	uint8_t role; /* enum fl_role */
	/* BODY_JSON */
	char *body;
	size_t body_len, body_cap;
	/* BODY_UPLOAD (artifacts.c) */
	int up_fd;
	void *up_md;	 /* EVP_MD_CTX (a plain upload) */
	void *up_packer; /* struct fl_seal_packer (a sealed upload) */
	bool is_sealing;
	uint8_t up_key[32]; /* its content key, wiped at cleanup */
	uint64_t up_bytes;
	int up_errno; /* a write failed (errno) */
	char up_tmp[HTTP_PATH_MAX];
	/* long poll of /api/v1/events */
	bool is_parked, is_wait_over;
	uint64_t wait_until_ms; /* 0: not computed yet */
	struct fl_loop_timer wait_timer;
	struct fl_http_req *park_prev, *park_next;
};

struct fl_http {
	struct fl_loop *loop;
	struct fl_store *store;
	struct fl_runner *runner;
	struct fl_signer *signer;
	struct fld_imgkeys *imgkeys; /* NULL: uploads stored plain */
	struct MHD_Daemon *d;
	int epfd;
	uint16_t port;
	bool is_available, is_stopping, is_insecure;
	unsigned depth;		    /* inside MHD_run */
	char *tls_key, *tls_cert;   /* PEM, while MHD runs; NULL: plain */
	struct fl_loop_timer timer; /* MHD_get_timeout */
	struct fl_loop_timer kick;  /* resume parked polls, on the loop */
	uint64_t artifact_max_bytes;
	size_t json_max_bytes;
	int64_t (*now_s)(void *ctx);
	void *now_ctx;
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
	char version[32];
	char data_dir[HTTP_PATH_MAX];
	char art_dir[HTTP_PATH_MAX];
	char broker_url[FL_HTTP_URL_MAX];
	bool is_broker_embedded, is_broker_connected;
	int64_t started_s;
	struct fl_http_counters counters;
	struct fl_http_req *parked; /* list of parked long polls */
	unsigned n_parked;
	uint64_t n_requests, n_uploads;
	struct {
		uint64_t at_ms; /* 0: never counted */
		uint32_t total, online;
	} devcount;
};

/* ---- http.c: answers and helpers ---------------------------------------- */

int64_t http__now(const struct fl_http *h);
void http__log(struct fl_http *h, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Queues an answer and marks the request answered. Each returns what the
 * access handler returns: MHD_YES, or MHD_NO when the answer could not
 * be queued (the connection is then closed). */

/* body: taken (freed in every case); NULL answers an empty JSON object. */
enum MHD_Result http__json(struct fl_http_req *req, unsigned status,
			   cJSON *body);
/* {"error": {"code": code, "message": ...}} plus the members of extra
 * (taken, may be NULL) inside "error". */
enum MHD_Result http__error_extra(struct fl_http_req *req, unsigned status,
				  const char *code, cJSON *extra,
				  const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
#define http__error(req, status, code, ...)                                    \
	http__error_extra((req), (status), (code), NULL, __VA_ARGS__)
/* An answer from a buffer malloc'ed by the caller (taken). */
enum MHD_Result http__buffer(struct fl_http_req *req, unsigned status,
			     const char *content_type, char *buf, size_t len);
/* Queues a response the caller made (destroyed here). */
enum MHD_Result http__queue(struct fl_http_req *req, unsigned status,
			    struct MHD_Response *resp);
/* The store failed: 500 internal, with the store's message logged. */
enum MHD_Result http__store_error(struct fl_http_req *req, int err);

/* Parks the request until fl_http_events_appended() or until_ms
 * (fl_loop_now_ms time); the access handler is then called again. */
enum MHD_Result http__park(struct fl_http_req *req, uint64_t until_ms);

/* Device counts for status and metrics (cached DEVCOUNT_TTL_MS). */
int http__device_counts(struct fl_http *h, uint32_t *total, uint32_t *online);

/* ---- api.c ------------------------------------------------------------------
 */

/* The first call of a request: routes it, and either answers it or says
 * which body to read (req->body_kind) and returns MHD_YES. */
enum MHD_Result api__begin(struct fl_http_req *req, const char *url,
			   const char *method);
/* The body was read (or the parked request woke up): answers it. */
enum MHD_Result api__end(struct fl_http_req *req);

/* ---- artifacts.c -------------------------------------------------------- */

/* Creates DATA/artifacts and removes the uploads a crash left. */
int artifacts__init(struct fl_http *h, struct fl_http_diag *diag);
/* GET and HEAD /artifacts/{sha256}: the image, with Range. */
enum MHD_Result artifacts__download(struct fl_http_req *req);
/* GET and HEAD /api/v1/artifacts/{sha256}: is it stored? */
enum MHD_Result artifacts__info(struct fl_http_req *req);
/* PUT /api/v1/artifacts/{sha256}: begin (first call), a chunk of the body
 * (0, or -1 to close the connection), end (the body is complete). */
enum MHD_Result artifacts__put_begin(struct fl_http_req *req);
int artifacts__put_chunk(struct fl_http_req *req, const char *data, size_t len);
enum MHD_Result artifacts__put_end(struct fl_http_req *req);
/* Releases an upload's file and hash (request over); idempotent. */
void artifacts__put_cleanup(struct fl_http_req *req);

/* True for 64 lower-case hex digits. */
bool http__is_sha256(const char *s);

#endif
