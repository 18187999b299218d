/*
 * agent_linux.h -- the Linux adapters of agent/core, shared by fleet-agent
 * (one device per process) and fleet-sim (thousands of devices in one
 * process):
 *
 *   fl_loop      (fl/loop.h, library fl_loop in common/linux) the epoll
 *                event loop with timers everything below runs on.
 *   fl_mqtt_dev  one device's MQTT 5 session over libmosquitto in external
 *                loop mode (mosquitto_loop_read/write/misc driven by
 *                fl_loop): the agent's transport port, presence and Will,
 *                the cmd subscription, reconnect with backoff and jitter.
 *   fl_curl      a curl multi handle driven by fl_loop (socket and timer
 *                callbacks), shared by every device of the process, and
 *                fl_curl_dl, one device's downloader port over it.
 *   fl_file_store the agent's store port over a file (write a temporary
 *                file, fsync, rename, fsync the directory).
 *   fl_linux_clock the clock port over CLOCK_REALTIME / CLOCK_MONOTONIC.
 *
 * Ownership: every object is created by a _new() function and freed by its
 * _free(), which accepts NULL. Objects that register with a loop must be
 * freed before the loop. Not thread-safe: one thread runs one loop and
 * everything attached to it.
 *
 * Errors are fl_err codes (fl/err.h); a function that fails changes
 * nothing and leaves no descriptor or memory behind.
 *
 * Logging: the adapters say what happens to connections and transfers
 * through one process-wide hook (fl_agent_linux_log_set); without one they
 * say nothing.
 */
#ifndef FL_AGENT_LINUX_H
#define FL_AGENT_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fl/agent.h"
#include "fl/log.h"
#include "fl/loop.h" /* fl_loop: common/linux */

/* ---- MQTT (libmosquitto, MQTT 5, external loop) ----------------------- */

/* A TLS set-up shared by many sessions (fleet-sim): one OpenSSL context
 * that verifies the broker against cafile and its name against host, and
 * gives each session, when the broker asks for it, the client certificate
 * DIR/ID.crt and key DIR/ID.key of its device id, read from the folder at
 * each handshake (an idle device keeps nothing). */
struct fl_mqtt_tls;

/* certdir NULL: no client certificate. FL_EINVAL (host too long),
 * FL_EIO (cafile unreadable, with a log line), FL_ENOMEM. */
int fl_mqtt_tls_new(struct fl_mqtt_tls **out, const char *cafile,
		    const char *certdir, const char *host);
/* After every session that uses it. Accepts NULL. */
void fl_mqtt_tls_free(struct fl_mqtt_tls *t);

struct fl_mqtt_dev_config {
	const char *host; /* broker host or address */
	uint16_t port;	  /* 1883, or 8883 with TLS */
	const char *root; /* topic root, "fleet" if NULL */
	const char *id;	  /* device id = client id */
	/* TLS when cafile is set (server verified); certfile/keyfile give
	 * the device's client certificate. */
	const char *cafile, *certfile, *keyfile;
	struct fl_mqtt_tls *tls;   /* instead of the three files: shared
				      (borrowed, outlives the session) */
	uint16_t keepalive_s;	   /* [60] */
	uint32_t session_expiry_s; /* [604800] */
	uint32_t backoff_min_ms;   /* first reconnect delay [1000] */
	uint32_t backoff_max_ms;   /* cap [300000]; +-50 % jitter */
	uint32_t seed;		   /* jitter: reproducible per device */
	bool is_clean_start;	   /* [false]: persistent session */
	const char *agent_version; /* presence "agent"; NULL: left out */
	/* Decoded commands go to on_cmd instead of straight to
	 * fl_agent_on_cmd (fleet-sim reads a device's wrap key around an
	 * offer): it passes cmd (borrowed for the call) on to agent and
	 * returns what that returned. NULL: straight to the agent. */
	int (*on_cmd)(void *ctx, struct fl_agent *agent,
		      const struct fl_cmd *cmd);
	void *on_cmd_ctx;
};

struct fl_mqtt_dev;

/* Creates the session (not connected yet). Needs mosquitto_lib_init()
 * done once by the program. FL_EINVAL: a bad id or root (the codec's
 * rules), no host. */
int fl_mqtt_dev_new(struct fl_mqtt_dev **out, struct fl_loop *loop,
		    const struct fl_mqtt_dev_config *cfg);
void fl_mqtt_dev_free(struct fl_mqtt_dev *d);

/* The agent's transport port over this session. */
struct fl_agent_transport fl_mqtt_dev_transport(struct fl_mqtt_dev *d);

/* Routes commands and connection events to agent (already initialised
 * with this session's transport), then connects (asynchronously: a
 * refused or unreachable broker is retried with backoff, never an error
 * here). Presence is published retained with the agent's boot count; the
 * Will says the same with online false. Called again after a stop or a
 * drop (with the same or a new agent), it connects again; the connection
 * number ("conn") counts from 1 again when the agent is another one or
 * its boot count changed. Returns 0, FL_EINVAL (agent NULL), FL_ESTATE
 * (running with another agent), FL_ENOMEM. */
int fl_mqtt_dev_start(struct fl_mqtt_dev *d, struct fl_agent *agent);

/* Publishes presence offline and disconnects cleanly: the DISCONNECT
 * goes out once every message handed to libmosquitto is written and
 * acknowledged (a socket closed with unread acknowledgements is reset, and
 * the broker would drop what it had not read yet), or after 2 s. Waits at
 * most wait_ms for all that (0: do not wait: the loop finishes it; a
 * session freed before that is cut, and the broker sends the Will, which
 * says the same offline presence). Does not run the loop: it waits on this
 * session's socket alone, so it may be called from a callback. No
 * reconnect follows. */
void fl_mqtt_dev_stop(struct fl_mqtt_dev *d, unsigned wait_ms);

/* Drops the connection without a DISCONNECT (the broker then publishes
 * the Will), as a power cut would. fleet-sim's power cuts use it. No
 * reconnect follows until fl_mqtt_dev_start(). */
void fl_mqtt_dev_drop(struct fl_mqtt_dev *d);

struct fl_mqtt_dev_stats {
	bool is_connected;
	uint32_t connects;   /* CONNACKs received */
	uint32_t cmds;	     /* commands received */
	uint32_t cmds_bad;   /* of which undecodable */
	uint32_t published;  /* messages handed to libmosquitto */
	uint32_t pub_errors; /* refused by libmosquitto */
};
void fl_mqtt_dev_stats(const struct fl_mqtt_dev *d,
		       struct fl_mqtt_dev_stats *out);

/* ---- HTTP downloads (libcurl multi) ------------------------------------ */

struct fl_curl;	   /* one multi handle, shared */
struct fl_curl_dl; /* one device's downloader */

struct fl_curl_config {
	const char *cafile;	    /* HTTPS trust; NULL: system store */
	uint32_t connect_timeout_s; /* [30] */
	uint32_t stall_timeout_s;   /* no byte for this long [60] */
	uint32_t max_redirects;	    /* [3], http and https only */
	uint64_t max_bytes_per_s;   /* per transfer, 0 unlimited (fleet-sim
				       slow links) */
	uint32_t buffer_bytes;	    /* receive buffer per transfer, at most
				       FL_CURL_BUFFER_MAX [libcurl's, 16 KiB]:
				       a bigger one, fewer socket reads */
};

#define FL_CURL_BUFFER_MAX (1024u * 1024u)

/* Needs curl_global_init() done once by the program. cfg may be NULL
 * (every default); its cafile is copied. FL_EINVAL (cafile too long,
 * buffer_bytes over FL_CURL_BUFFER_MAX), FL_ENOMEM, FL_EIO. */
int fl_curl_new(struct fl_curl **out, struct fl_loop *loop,
		const struct fl_curl_config *cfg);
void fl_curl_free(struct fl_curl *c);

/* A downloader on c; free it before c, and never from inside one of its
 * own callbacks into the agent. start() returns 0, FL_EINVAL (not an
 * http or https URL, no agent attached), FL_EBUSY (the previous transfer
 * is still being torn down inside a libcurl callback), FL_ENOMEM,
 * FL_EIO. */
int fl_curl_dl_new(struct fl_curl_dl **out, struct fl_curl *c);
void fl_curl_dl_free(struct fl_curl_dl *dl);

/* The agent's downloader port; fl_curl_dl_attach names the agent that
 * receives its callbacks (before the agent's first poll). */
struct fl_agent_downloader fl_curl_dl_downloader(struct fl_curl_dl *dl);
void fl_curl_dl_attach(struct fl_curl_dl *dl, struct fl_agent *agent);

/* Bytes received from the network by this downloader since it was
 * created (bodies only): the bench and the resume test compare it with
 * the image size. */
uint64_t fl_curl_dl_bytes(const struct fl_curl_dl *dl);

/* ---- file store --------------------------------------------------------- */

#define FL_FILE_STORE_PATH_MAX 4096

/*
 * The system calls the file store makes, for tests that make each one
 * fail. Each behaves as the call of the same name (-1 and errno on
 * failure); ctx is passed back. fsync is used for the file and for its
 * directory.
 */
struct fl_file_store_sys {
	unsigned version; /* FL_FILE_STORE_SYS_VERSION */
	void *ctx;
	int (*open)(void *ctx, const char *path, int flags, unsigned mode);
	int (*close)(void *ctx, int fd);
	ssize_t (*read)(void *ctx, int fd, void *buf, size_t len);
	ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
	int (*fsync)(void *ctx, int fd);
	int (*rename)(void *ctx, const char *from, const char *to);
	int (*unlink)(void *ctx, const char *path);
};

#define FL_FILE_STORE_SYS_VERSION 1u

struct fl_file_store {
	char path[FL_FILE_STORE_PATH_MAX];
	const struct fl_file_store_sys *sys; /* NULL: the real calls */
};

/*
 * load: reads PATH whole: 0, FL_ENOENT (no file), FL_ETOOBIG (larger
 *       than cap), FL_EIO.
 * save: writes PATH.tmp, fsyncs it, renames it over PATH and fsyncs the
 *       directory: 0 or FL_EIO (the previous blob is then still the one
 *       load returns, or the new one; a PATH.tmp left by a crash is never
 *       read and is replaced by the next save).
 */
extern const struct fl_agent_store_ops fl_file_store_ops;

/* path: the state file; its directory must exist. Reads nothing.
 * FL_EINVAL if path is empty or too long (PATH.tmp must fit too). */
int fl_file_store_init(struct fl_file_store *st, const char *path);

/* fl_file_store_init() through sys (NULL: the real calls); sys must
 * outlive the store. Also FL_EINVAL for a table of an unknown version. */
int fl_file_store_init_sys(struct fl_file_store *st, const char *path,
			   const struct fl_file_store_sys *sys);

/* ---- clock -------------------------------------------------------------- */

/* now_s is CLOCK_REALTIME, or 0 while it reads before 2024-01-01 (no RTC
 * and no NTP yet); mono_ms is CLOCK_MONOTONIC; utc_offset_s follows the
 * process's local time zone (TZ, /etc/localtime). ctx is unused. */
extern const struct fl_agent_clock_ops fl_linux_clock_ops;

/* ---- logging ------------------------------------------------------------ */

/* Levels: enum fl_log_level (fl/log.h). */

/* One line, without a newline; who is the device id or "" (borrowed for
 * the call). */
typedef void (*fl_linux_log_fn)(void *ctx, int level, const char *who,
				const char *msg);

/* Sets the process-wide log hook of the adapters (NULL: silent, the
 * default). Call it before the adapters are created. */
void fl_agent_linux_log_set(fl_linux_log_fn fn, void *ctx);

#endif
