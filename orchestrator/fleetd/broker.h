/*
 * broker.h -- fleetd's embedded broker: a local mosquitto that fleetd
 * configures, starts, supervises and stops itself, so that `fleetd` with
 * no flags has a broker.
 *
 * Files, in DATA/mosquitto/ (created 0700): mosquitto.conf and, with
 * TLS, acl (written at every start: edits are lost), mosquitto.db (the
 * broker's persistence: sessions, retained messages, queued commands),
 * broker.pid (the pid of the broker this fleetd started, to find it again
 * after a crash).
 *
 * The broker listens on 127.0.0.1 only, on the configured port, else the
 * one it used last time (devices are configured with it), else 1883 if
 * free, else any free port. It logs to stderr, which fleetd reads through
 * a pipe on its loop and logs line by line ("mosquitto: ...").
 *
 * Supervision: the broker's exit is seen through a pidfd on the loop; it
 * is started again after a backoff (500 ms doubling to 30 s, back to
 * 500 ms once it ran a minute) and on_state() says when it is up (accepts
 * connections) or down. It is a child in a process group of its own (a
 * terminal's Ctrl-C reaches fleetd only, which stops it in order) that
 * receives SIGTERM when fleetd dies, even by SIGKILL
 * (prctl(PR_SET_PDEATHSIG)): no broker outlives its fleetd for long. A
 * broker still running from a fleetd that died (found by broker.pid and
 * its command line) is stopped before a new one starts.
 *
 * Not thread-safe: every call is made on the loop's thread.
 */
#ifndef FL_FLEETD_BROKER_H
#define FL_FLEETD_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fl/loop.h"

#define FL_BROKER_PATH_MAX     1024
#define FL_BROKER_QUEUED       100000u /* queued QoS 1 messages per client */
#define FL_BROKER_INFLIGHT     1000u   /* QoS 1 in flight per client */
#define FL_BROKER_START_MS     10000u
#define FL_BROKER_STOP_MS      5000u
#define FL_BROKER_DEFAULT_PORT 1883u

struct fl_broker_config {
	struct fl_loop *loop;	   /* borrowed */
	const char *data_dir;	   /* DATA (exists); files in DATA/mosquitto/ */
	uint16_t port;		   /* 0: last one, 1883, or a free one */
	const char *exe;	   /* NULL: mosquitto in PATH, /usr/sbin,
				      /usr/local/sbin */
	bool is_verbose;	   /* also the broker's notices and
				      connection messages */
	unsigned max_queued;	   /* [FL_BROKER_QUEUED] */
	unsigned max_inflight;	   /* [FL_BROKER_INFLIGHT] */
	unsigned autosave_s;	   /* persistence saved every [60] s */
	uint32_t start_timeout_ms; /* [FL_BROKER_START_MS] */
	uint32_t
		stop_timeout_ms; /* SIGTERM, then SIGKILL [FL_BROKER_STOP_MS] */
	/* TLS: the listener requires a client certificate of the fleet CA
	 * (cafile), uses its CN as the username and the client id, and the
	 * ACL file DATA/mosquitto/acl pins every device to its own topics
	 * under root and gives fleetd (fleetd_cn) its rights. All NULL: a
	 * plain, anonymous listener without ACL (--insecure). */
	const char *cafile, *certfile, *keyfile;
	/* With TLS: the fleet CA's certificate revocation list (crlfile);
	 * NULL: none. It must exist before the broker starts: mosquitto
	 * refuses to start without it, and refuses every client once its
	 * next update is past. */
	const char *crlfile;
	const char *root;      /* topic root [fleet] */
	const char *fleetd_cn; /* fleetd's certificate's CN */
	/* fleetd's publishing connections, each with its own certificate
	 * (the CN makes the client id): fl_broker_pub_cn(fleetd_cn, i) for
	 * i < fleetd_pubs may write every device's cmd topic. */
	unsigned fleetd_pubs;
	/* The broker is up (accepts connections) or went down. NULL: not
	 * told. */
	void (*on_state)(void *ctx, bool is_up);
	void *cb_ctx;
	/* One line per event; enum fl_log_level. NULL: silent. */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
};

struct fl_broker;

struct fl_broker_diag {
	char msg[FL_BROKER_PATH_MAX + 256];
};

/*
 * Stops a stale broker of the same data directory, writes the
 * configuration, starts mosquitto and waits (at most start_timeout_ms,
 * without running the loop) until its port accepts connections. *out is
 * the caller's (fl_broker_free). Returns 0, FL_EINVAL (a missing loop or
 * data_dir, a data_dir a mosquitto configuration cannot hold: whitespace,
 * '#', control characters, too long), FL_ENOENT (no mosquitto program),
 * FL_EBUSY (the configured port is taken), FL_EIO (cannot write the
 * files, start the program, or it exited or did not listen in time: the
 * diag carries its last log line), FL_ENOMEM; with *diag filled.
 */
int fl_broker_start(struct fl_broker **out, const struct fl_broker_config *cfg,
		    struct fl_broker_diag *diag);

/* Stops the broker (SIGTERM; SIGKILL after stop_timeout_ms), reaps it,
 * removes broker.pid and frees everything. Blocks up to the timeouts.
 * Accepts NULL. */
void fl_broker_free(struct fl_broker *b);

/*
 * Restarts the broker to apply a new CRL to every client: SIGTERM (it
 * saves its persistence: sessions, retained messages and queued commands
 * survive), then started again at once, without the backoff of a crash
 * (SIGKILL after stop_timeout_ms). Every client is disconnected and
 * connects again; one whose certificate is now revoked is refused. Does
 * not block: on_state() says down, then up. Returns 0, or FL_ESTATE while
 * stopping.
 */
int fl_broker_restart(struct fl_broker *b);

/*
 * SIGHUP: mosquitto reloads its certificate, key and CRL for new
 * connections; connected clients stay (for a CRL re-signed with the same
 * serials). Returns 0, FL_ESTATE (not running: the next start reads the
 * files anyway).
 */
int fl_broker_reload(struct fl_broker *b);

uint16_t fl_broker_port(const struct fl_broker *b);
bool fl_broker_is_up(const struct fl_broker *b);
pid_t fl_broker_pid(const struct fl_broker *b); /* -1 while down */
unsigned fl_broker_restarts(const struct fl_broker *b);

/* The CN of fleetd's publisher i: fleetd_cn with "-pI" before its '@'
 * (at the end without one), the host cut to fit cap. Returns 0, or
 * FL_EINVAL (NULL, cap too small). */
int fl_broker_pub_cn(char *out, size_t cap, const char *fleetd_cn, unsigned i);

#endif
