/*
 * mqtt_server.h -- fleetd's side of MQTT: one MQTT 5 client over
 * libmosquitto in external-loop mode on fleetd's fl_loop. It subscribes to
 * every device's presence, reported, status and health, decodes them with
 * the protocol codec and feeds the runner (fl_runner_on_*); it is the
 * runner's command port (QoS 1, never retained, Message Expiry Interval =
 * expires - now).
 *
 * Sessions: Clean Start 0 with a Session Expiry Interval (a day by
 * default) under a client id that stays the same across restarts of one
 * fleetd (main.c keeps it in the store), so that the statuses devices
 * publish while fleetd restarts wait in the broker. Presence and reported
 * are subscribed plainly (a shared subscription gets no retained
 * message); status and health too, or as $share/fleetd/... when several
 * fleetd instances share the load. Every connect subscribes again, so the
 * broker re-sends every retained presence and reported: fleetd's inventory
 * is reconciled with the broker's after any outage.
 *
 * The connection is lost and found again on its own: reconnect with
 * backoff (250 ms doubling to 30 s, +-50 % jitter), or at once on
 * fl_mqtt_srv_kick() (the embedded broker is back). While it is down,
 * send() refuses (FL_EIO) and the runner tries again later.
 *
 * Publishers: a broker reads one packet per ready connection per turn of
 * its event loop, so the commands of one connection wait behind every
 * device's traffic. With cfg.publishers = K, commands go out over K more
 * connections (persistent sessions like the main one, no subscriptions),
 * device D's always over connection hash(D) % K so that one device's
 * commands keep their order. A publisher that is down refuses the
 * commands of its devices (FL_EIO, the runner sends them later) rather
 * than handing them to another: what it still holds is re-sent when it
 * reconnects and would then overtake a later command sent elsewhere (a
 * cancel arriving before its offer). The others go on.
 *
 * Ownership: fl_mqtt_srv_new() borrows the loop, the runner (settable
 * later) and the counters, which must outlive it. Not thread-safe: every
 * call is made on the loop's thread.
 */
#ifndef FL_FLEETD_MQTT_SERVER_H
#define FL_FLEETD_MQTT_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl/loop.h"
#include "fl/proto.h"
#include "http.h"
#include "runner.h"

#define FL_MQTT_SRV_HOST_MAX	  256
#define FL_MQTT_SRV_CLIENT_ID_MAX 64 /* MQTT allows more; brokers may not */
#define FL_MQTT_SRV_EXPIRY_S	  86400u
#define FL_MQTT_SRV_INFLIGHT	  1000u /* QoS 1 in flight each way */
#define FL_MQTT_SRV_PUBS_MAX	  32u	/* publishing connections */

struct fl_mqtt_srv_config {
	const char *host;      /* broker host or address (required) */
	uint16_t port;	       /* [1883] */
	const char *root;      /* topic root [fleet] */
	const char *client_id; /* required: [A-Za-z0-9._-], < 64 */
	bool is_shared;	       /* status, health as $share/fleetd/... */
	/* TLS when cafile is set: the broker verified against cafile (and
	 * its name against host), fleetd's client certificate and key.
	 * Copied. NULL: plain text. */
	const char *cafile, *certfile, *keyfile;
	uint16_t keepalive_s;	   /* [30] */
	uint32_t session_expiry_s; /* [FL_MQTT_SRV_EXPIRY_S]; 0 there too */
	uint32_t backoff_min_ms;   /* [250] */
	uint32_t backoff_max_ms;   /* [30000] */
	/* Connections that carry the commands, besides the main one (see
	 * "Publishers" above); 0: the main connection sends them itself.
	 * At most FL_MQTT_SRV_PUBS_MAX. Publisher i takes the client id
	 * CLIENT_ID-pI and, when pub_certfile[i] is set, that client
	 * certificate and pub_keyfile[i] (a broker that makes the client
	 * id from the certificate needs one each); else certfile, keyfile.
	 * Copied. */
	unsigned publishers;
	const char *pub_certfile[FL_MQTT_SRV_PUBS_MAX];
	const char *pub_keyfile[FL_MQTT_SRV_PUBS_MAX];
	/* The clock (Unix seconds) for message expiry and the runner;
	 * NULL: time(). */
	int64_t (*now_s)(void *ctx);
	void *now_ctx;
	/* Called after messages were handed to the runner (it then wants a
	 * tick within its flush delay), and when the connection comes or
	 * goes. Either may be NULL. */
	void (*on_input)(void *ctx);
	void (*on_connection)(void *ctx, bool is_connected);
	void *cb_ctx;
	/* One line per event worth a log line; enum fl_log_level.
	 * NULL: silent. */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
	/* /metrics counters (borrowed; NULL: not counted). */
	struct fl_http_counters *counters;
};

struct fl_mqtt_srv;

/* Creates the client (not connected: fl_mqtt_srv_start). Needs
 * mosquitto_lib_init() done once by the program. Returns 0, FL_EINVAL (no
 * host, a bad root or client id), FL_ENOMEM, FL_EIO (libmosquitto refused
 * an option). */
int fl_mqtt_srv_new(struct fl_mqtt_srv **out, struct fl_loop *loop,
		    const struct fl_mqtt_srv_config *cfg);

/* The publisher that carries device's commands: 0..publishers-1, or -1
 * when the main connection does (publishers 0) or s or device is NULL. */
int fl_mqtt_srv_route(const struct fl_mqtt_srv *s, const char *device);

/* Routes device messages to runner (borrowed; NULL: device messages are
 * dropped and counted as refused). Set it before fl_mqtt_srv_start. */
void fl_mqtt_srv_set_runner(struct fl_mqtt_srv *s, struct fl_runner *runner);

/* Connects (asynchronously; failures are retried with backoff, the first
 * of an outage logged as a warning). Returns 0, FL_EINVAL (s NULL) or
 * FL_ENOMEM. */
int fl_mqtt_srv_start(struct fl_mqtt_srv *s);

/* The broker is (back) up: reconnect now if waiting for a retry. */
void fl_mqtt_srv_kick(struct fl_mqtt_srv *s);

/* Waits at most wait_ms (in all) for the commands in flight on every
 * connection to be acknowledged,
 * then disconnects cleanly (what is left unacknowledged the runner sends
 * again at its next start). Does not run the loop. No reconnect follows. */
void fl_mqtt_srv_stop(struct fl_mqtt_srv *s, unsigned wait_ms);

/* Accepts NULL. */
void fl_mqtt_srv_free(struct fl_mqtt_srv *s);

/* The runner's command port; ctx is the struct fl_mqtt_srv. Returns 0
 * (handed to libmosquitto), FL_EIO (not connected, or refused),
 * FL_EINVAL (a bad device id or command), FL_ENOMEM. */
int fl_mqtt_srv_send(void *ctx, const char *device, const struct fl_cmd *cmd);

extern const struct fl_runner_cmd_ops fl_mqtt_srv_cmd_ops;

struct fl_mqtt_srv_stats {
	bool is_connected; /* subscribed and ready */
	unsigned pubs_up;  /* publishers connected */
	uint64_t connects; /* CONNACKs accepted (main connection) */
	uint64_t received; /* device messages received */
	uint64_t bad;	   /* of which undecodable or refused */
	/* Over every connection: */
	uint64_t sent;	     /* commands handed to libmosquitto */
	uint64_t acked;	     /* ... acknowledged by the broker */
	uint64_t send_fails; /* refused (not connected, libmosquitto) */
};
void fl_mqtt_srv_stats(const struct fl_mqtt_srv *s,
		       struct fl_mqtt_srv_stats *out);

#endif
