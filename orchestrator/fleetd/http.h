/*
 * http.h -- fleetd's HTTP side: the REST API of docs/api.md, the artifact
 * server devices download from, and /metrics, on one listener.
 *
 * The server is libmicrohttpd in its "external epoll" mode driven by
 * fleetd's one event loop (fl_loop): no thread of its own, no select(), so
 * descriptor numbers past 1023 are fine. Everything it does runs on the
 * loop's thread, between other events: API handlers call the runner and
 * the store directly.
 *
 * Routes and their answers are docs/api.md's; the server adds the limits
 * (a JSON body of at most json_max_bytes, an artifact upload of at most
 * artifact_max_bytes streamed to disk, at most max_connections
 * connections, idle connections closed after timeout_s) and the long poll
 * of /api/v1/events: a request with `wait` that finds no event is parked
 * (MHD_suspend_connection) until fl_http_events_appended() is called or
 * its wait ends.
 *
 * Ownership: fl_http_new() borrows the loop, the store, the runner and
 * the signer, which must outlive the server (fl_http_free first). Not
 * thread-safe: every call is made on the loop's thread.
 */
#ifndef FL_FLEETD_HTTP_H
#define FL_FLEETD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl/log.h"
#include "fl/loop.h"
#include "fl/store.h"
#include "runner.h"
#include "signer.h"

struct fld_imgkeys; /* imgkeys.h */

#define FL_HTTP_LISTEN_DEFAULT "127.0.0.1:8780"
#define FL_HTTP_JSON_MAX       (1u << 20)    /* request body, JSON */
#define FL_HTTP_ARTIFACT_MAX   0xffffffffull /* 4 GiB - 1: manifest length */
#define FL_HTTP_CONNECTIONS    256u	     /* default max_connections */
#define FL_HTTP_TIMEOUT_S      60u	     /* default idle timeout */
#define FL_HTTP_WAIT_MAX_S     30u	     /* events?wait= */
#define FL_HTTP_URL_MAX	       200	     /* a broker URL kept for status */
#define FL_HTTP_DATA_MAX       900	     /* data_dir length */

/* Counters /metrics reports, kept by fleetd's MQTT side and bumped by it
 * (fl_http_counters). Index reports by enum fl_topic_kind (fl/proto.h) and
 * commands by enum fl_cmd_type. */
struct fl_http_counters {
	uint64_t reports[8];
	uint64_t commands[8];
};

struct fl_http_config {
	struct fl_loop *loop;	  /* borrowed */
	const char *listen;	  /* "ADDR:PORT", "[V6]:PORT", ":PORT" (any
				     address); port 0: a free one; NULL:
				     FL_HTTP_LISTEN_DEFAULT */
	const char *data_dir;	  /* images in DATA/artifacts/ (created) */
	struct fl_store *store;	  /* borrowed */
	struct fl_runner *runner; /* borrowed; NULL: rollout routes answer
				     503 until fl_http_set_runner() */
	struct fl_signer *signer; /* borrowed; NULL: status shows no key */
	/* borrowed; uploads are sealed (encrypted) under fresh content keys
	 * kept here, unless ?encrypt=false. NULL: every upload is stored
	 * plain (a server without image encryption) */
	struct fld_imgkeys *imgkeys;
	const char *version; /* fleetd's, for status; NULL: "0" */
	bool is_insecure;    /* status and fleet_insecure */
	/* HTTPS: the server's certificate and key in PEM (copied). NULL:
	 * plain HTTP (--insecure). */
	const char *tls_cert_pem, *tls_key_pem;
	bool is_sigpipe_ignored;     /* the program ignores SIGPIPE: lets
					libmicrohttpd use sendfile() */
	uint64_t artifact_max_bytes; /* [FL_HTTP_ARTIFACT_MAX], at most that */
	size_t json_max_bytes;	     /* [FL_HTTP_JSON_MAX] */
	unsigned max_connections;    /* [FL_HTTP_CONNECTIONS] */
	unsigned timeout_s;	     /* idle connection [FL_HTTP_TIMEOUT_S] */
	/* The clock (Unix seconds) given to the runner and written in
	 * answers; NULL: time(). */
	int64_t (*now_s)(void *ctx);
	void *now_ctx;
	/* One line per failure worth an operator's attention (cannot write
	 * an image, the store failed); NULL: silent. level as in
	 * fl_linux_log_fn. */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
};

struct fl_http;

struct fl_http_diag {
	char msg[256];
};

/*
 * Starts listening and registers with the loop. Removes image uploads a
 * crash left unfinished (DATA/artifacts/tmp-*). *out is the caller's
 * (fl_http_free). Returns 0, FL_EINVAL (a bad listen address, a missing
 * loop, store or data_dir, a path too long), FL_EIO (cannot listen: the
 * port is taken, or cannot create DATA/artifacts), FL_ENOMEM, with *diag
 * filled.
 */
int fl_http_new(struct fl_http **out, const struct fl_http_config *cfg,
		struct fl_http_diag *diag);

/* Answers every parked long poll, closes every connection, unregisters
 * from the loop. Accepts NULL. */
void fl_http_free(struct fl_http *h);

/* The port listened on (the one chosen when the config said 0). */
uint16_t fl_http_port(const struct fl_http *h);

/* The event log has grown: parked long polls look again (on the loop's
 * next turn, never inside the caller's call, so the runner may call it
 * from anywhere, also from inside an API handler). */
void fl_http_events_appended(struct fl_http *h);

/* While false, /api/v1 answers 503 unavailable (fleetd starting or
 * stopping); /metrics and /artifacts/ are still served. Starts true. */
void fl_http_set_available(struct fl_http *h, bool is_available);

/* The runner, once it is open (NULL again while it is not). */
void fl_http_set_runner(struct fl_http *h, struct fl_runner *runner);

/* The broker as status reports it (url borrowed for the call). */
void fl_http_set_broker(struct fl_http *h, const char *url, bool is_embedded,
			bool is_connected);

/* The counters, for fleetd's MQTT side to bump (borrowed). */
struct fl_http_counters *fl_http_counters(struct fl_http *h);

struct fl_http_stats {
	unsigned connections; /* open now */
	unsigned parked;      /* long polls waiting */
	uint64_t requests;    /* answered so far */
	uint64_t uploads;     /* images stored */
};
void fl_http_stats(const struct fl_http *h, struct fl_http_stats *out);

#endif
