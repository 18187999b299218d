/*
 * mqtt_server.c -- fleetd's MQTT 5 client (mqtt_server.h): device messages
 * into the runner, the runner's commands out, on fl_loop.
 *
 * Method: as agent/linux/mqtt.c does for one device. fl_loop owns the
 * socket; after every call into libmosquitto the client re-reads
 * mosquitto_socket() and mosquitto_want_write() and brings its
 * registration up to date (sync_io): read interest while a socket exists,
 * write interest only while libmosquitto has bytes queued. Keep-alive
 * (mosquitto_loop_misc) runs from a one-second timer. libmosquitto's own
 * loops (mosquitto_loop, loop_start, loop_forever) are never used: they
 * select() and break once a descriptor number passes 1023, which a busy
 * fleetd (an artifact server with hundreds of downloads) reaches.
 *
 * Reading: mosquitto_loop_read() reads about one packet per call whatever
 * its max_packets says, so a readable socket is read again while the
 * kernel says bytes are waiting (FIONREAD), up to READ_ROUNDS packets per
 * wake-up: thousands of statuses a second cost one epoll_wait per batch,
 * not one per message, and the rest of the loop still gets its turn.
 *
 * Client states: IDLE -> CONNECTING (CONNECT queued) -> CONNACKED
 * (SUBSCRIBE sent; commands may go out) -> READY (SUBACK) -> lost() ->
 * WAITING (reconnect timer) -> CONNECTING ... and STOPPING after
 * fl_mqtt_srv_stop. The CONNECT properties (Session Expiry Interval) are
 * handed to libmosquitto by a connect call refused before any network
 * activity (no host): libmosquitto 2.0 has no asynchronous connect taking
 * properties but keeps them for every later connect (agent/linux/mqtt.c
 * explains it).
 *
 * Publishers (mqtt_server.h) are instances of this same client, made by
 * the main one and owned by it: is_pub set, no filters, READY at CONNACK,
 * their connection changes reported to the main one (publisher_up), which
 * routes every command (fl_mqtt_srv_send) and sums their counters.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "fl/bytes.h"
#include "fl/err.h"
#include "mqtt_server.h"

#define MISC_MS		  1000u
#define READ_ROUNDS	  256
#define WRITE_PACKETS	  64
#define DEFAULT_KEEPALIVE 30u
#define DEFAULT_MIN_MS	  250u
#define DEFAULT_MAX_MS	  30000u
#define LOG_BURST	  10u /* refused messages logged per second */
#define N_SUBS		  4
#define SHARE_PREFIX	  "$share/fleetd/"
#define FILTER_MAX	  (FL_TOPIC_MAX + sizeof(SHARE_PREFIX))

enum state {
	ST_IDLE = 0,
	ST_WAITING = 1,	   /* reconnect timer armed */
	ST_CONNECTING = 2, /* CONNECT queued, waiting for CONNACK */
	ST_CONNACKED = 3,  /* SUBSCRIBE sent, waiting for SUBACK */
	ST_READY = 4,	   /* subscribed */
	ST_STOPPING = 5,   /* DISCONNECT queued or being drained */
};

struct fl_mqtt_srv {
	struct fl_loop *loop;
	struct fl_mqtt_srv *main; /* a publisher's owner; NULL: main */
	bool is_pub;
	unsigned n_pubs;
	struct fl_mqtt_srv *pubs[FL_MQTT_SRV_PUBS_MAX];
	struct mosquitto *mosq;
	struct fl_runner *runner;
	struct fl_mqtt_srv_config cfg; /* strings point at the copies below */
	enum state state;
	bool has_connected;  /* connect_bind_async done once: reconnect */
	bool is_outage_told; /* "cannot reach" logged since the last CONNACK */
	int fd;		     /* registered with the loop; -1 none */
	uint32_t fd_events;
	int sub_mid;
	uint32_t inflight; /* commands handed over, not acknowledged */
	uint32_t backoff_ms;
	uint32_t rng;
	uint32_t log_budget;
	uint64_t log_dropped;
	struct fl_loop_timer misc_timer, retry_timer;
	struct fl_mqtt_srv_stats stats;
	char host[FL_MQTT_SRV_HOST_MAX];
	char root[FL_TOPIC_ROOT_MAX];
	char client_id[FL_MQTT_SRV_CLIENT_ID_MAX];
	char filter[N_SUBS][FILTER_MAX];
	char topic[FL_TOPIC_MAX];
	char buf[FL_PROTO_MSG_MAX + 1];
	union {
		struct fl_presence p;
		struct fl_reported r;
		struct fl_status s;
		struct fl_health h;
	} in; /* the message being decoded */
};

static void on_fd(void *ctx, int fd, uint32_t events);

/* ---- helpers ------------------------------------------------------------- */

static void say(struct fl_mqtt_srv *s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(struct fl_mqtt_srv *s, int level, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	if (s->cfg.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->cfg.log(s->cfg.log_ctx, level, msg);
}

/* A message refused: logged while the budget lasts (a device that sends
 * garbage must not flood the log), counted always. */
static void refused(struct fl_mqtt_srv *s, const char *topic, const char *why)
{
	s->stats.bad++;
	if (s->log_budget == 0) {
		s->log_dropped++;
		return;
	}
	s->log_budget--;
	say(s, FL_LOG_WARN, "mqtt: %.128s: dropped: %s", topic, why);
}

static int64_t now_s(const struct fl_mqtt_srv *s)
{
	if (s->cfg.now_s != NULL)
		return s->cfg.now_s(s->cfg.now_ctx);
	return (int64_t)time(NULL);
}

static uint32_t next_random(struct fl_mqtt_srv *s)
{
	uint32_t x = s->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	s->rng = x;
	return x;
}

/* The current backoff with +-50 % jitter; the backoff then doubles. */
static uint32_t next_delay_ms(struct fl_mqtt_srv *s)
{
	uint32_t b = s->backoff_ms;
	uint32_t delay = b / 2 + next_random(s) % (b + 1);

	s->backoff_ms =
		b >= s->cfg.backoff_max_ms / 2 ? s->cfg.backoff_max_ms : 2 * b;
	return delay;
}

/* Brings the loop registration in line with libmosquitto's socket and
 * write wish. Returns false if the socket is gone. */
static bool sync_io(struct fl_mqtt_srv *s)
{
	int fd = mosquitto_socket(s->mosq);
	uint32_t ev;

	if (fd != s->fd && s->fd >= 0) {
		fl_loop_fd_del(s->loop, s->fd);
		s->fd = -1;
	}
	if (fd < 0)
		return false;
	ev = EPOLLIN | (mosquitto_want_write(s->mosq) ? EPOLLOUT : 0u);
	if (s->fd < 0) {
		int rc = fl_loop_fd_add(s->loop, fd, ev, on_fd, s);

		if (rc != 0) {
			say(s, FL_LOG_ERROR, "mqtt: cannot watch socket %d: %s",
			    fd, fl_strerror(rc));
			return true;
		}
		s->fd = fd;
		s->fd_events = ev;
	} else if (ev != s->fd_events && fl_loop_fd_mod(s->loop, fd, ev) == 0) {
		s->fd_events = ev;
	}
	return true;
}

/* A publisher came or went: the main client counts it, and one that came
 * back wants a tick (the commands it refused meanwhile go now). */
static void publisher_up(struct fl_mqtt_srv *m, bool is_connected)
{
	if (is_connected) {
		m->stats.pubs_up++;
		if (m->cfg.on_input != NULL)
			m->cfg.on_input(m->cfg.cb_ctx);
	} else if (m->stats.pubs_up > 0) {
		m->stats.pubs_up--;
	}
}

static void connected(struct fl_mqtt_srv *s, bool is_connected)
{
	if (s->is_pub) {
		if (s->stats.is_connected != is_connected)
			publisher_up(s->main, is_connected);
		s->stats.is_connected = is_connected;
		return;
	}
	s->stats.is_connected = is_connected;
	if (s->cfg.on_connection != NULL)
		s->cfg.on_connection(s->cfg.cb_ctx, is_connected);
}

/* The broker cannot be reached: said once per outage as a warning (an
 * operator must see it), then at debug level at every retry. */
static void unreachable(struct fl_mqtt_srv *s, const char *why)
{
	/* A publisher's outage is the main connection's too, told there. */
	say(s, s->is_outage_told || s->is_pub ? FL_LOG_DEBUG : FL_LOG_WARN,
	    "mqtt: cannot reach the broker at %s:%u (%s); retrying", s->host,
	    (unsigned)s->cfg.port, why);
	s->is_outage_told = true;
}

static void arm_retry(struct fl_mqtt_srv *s)
{
	uint32_t delay = next_delay_ms(s);

	s->state = ST_WAITING;
	if (fl_loop_timer_at(s->loop, &s->retry_timer,
			     fl_loop_now_ms() + delay) != 0)
		say(s, FL_LOG_ERROR, "mqtt: no memory for a timer");
	say(s, FL_LOG_DEBUG, "mqtt: reconnecting in %u ms", (unsigned)delay);
}

/* The connection is gone (or never came): retry later unless stopping.
 * Idempotent. */
static void lost(struct fl_mqtt_srv *s)
{
	enum state was = s->state;

	if (s->fd >= 0) {
		fl_loop_fd_del(s->loop, s->fd);
		s->fd = -1;
	}
	if (was == ST_IDLE || was == ST_WAITING)
		return;
	s->inflight = 0; /* what libmosquitto holds is re-sent or gone; the
			    runner re-sends what is not answered */
	if (was == ST_READY || was == ST_CONNACKED) {
		connected(s, false);
		say(s, s->is_pub ? FL_LOG_INFO : FL_LOG_WARN,
		    "mqtt: connection to %s:%u lost%s%s", s->host,
		    (unsigned)s->cfg.port, s->is_pub ? " by " : "",
		    s->is_pub ? s->client_id : "");
	}
	if (was == ST_STOPPING) {
		fl_loop_timer_stop(s->loop, &s->retry_timer);
		s->state = ST_IDLE;
		return;
	}
	if (was == ST_CONNECTING)
		unreachable(s, "no CONNACK");
	arm_retry(s);
}

/* ---- connecting ---------------------------------------------------------- */

static void connect_now(struct fl_mqtt_srv *s)
{
	int rc;

	if (!s->has_connected)
		rc = mosquitto_connect_bind_async(s->mosq, s->host, s->cfg.port,
						  s->cfg.keepalive_s, NULL);
	else
		rc = mosquitto_reconnect_async(s->mosq);
	if (rc != MOSQ_ERR_SUCCESS) {
		unreachable(s, rc == MOSQ_ERR_ERRNO ? strerror(errno)
						    : mosquitto_strerror(rc));
		if (s->fd >= 0) {
			fl_loop_fd_del(s->loop, s->fd);
			s->fd = -1;
		}
		arm_retry(s);
		return;
	}
	s->has_connected = true;
	s->state = ST_CONNECTING;
	if (!sync_io(s))
		lost(s);
}

static void on_retry(void *ctx)
{
	struct fl_mqtt_srv *s = ctx;

	if (s->state == ST_WAITING)
		connect_now(s);
}

static void on_misc(void *ctx)
{
	struct fl_mqtt_srv *s = ctx;

	if (s->log_dropped > 0 && s->log_budget > 0) {
		say(s, FL_LOG_WARN, "mqtt: %llu more messages dropped",
		    (unsigned long long)s->log_dropped);
		s->log_dropped = 0;
	}
	s->log_budget = LOG_BURST;
	if (mosquitto_socket(s->mosq) >= 0) {
		(void)mosquitto_loop_misc(s->mosq);
		if (!sync_io(s))
			lost(s);
	}
	(void)fl_loop_timer_at(s->loop, &s->misc_timer,
			       fl_loop_now_ms() + MISC_MS);
}

static void on_fd(void *ctx, int fd, uint32_t events)
{
	struct fl_mqtt_srv *s = ctx;

	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		for (int i = 0; i < READ_ROUNDS; i++) {
			int avail = 0;

			if (mosquitto_loop_read(s->mosq, 1) !=
				    MOSQ_ERR_SUCCESS ||
			    mosquitto_socket(s->mosq) != fd ||
			    ioctl(fd, FIONREAD, &avail) != 0 || avail <= 0)
				break;
		}
	}
	/* What the reads queued (the acknowledgements of the statuses just
	 * read) goes out at once while the socket can very likely take it,
	 * not after two epoll_ctl calls and a wake-up for EPOLLOUT; what it
	 * does not take stays queued and sync_io asks for EPOLLOUT. */
	if ((events & (EPOLLOUT | EPOLLIN)) &&
	    mosquitto_socket(s->mosq) == fd && mosquitto_want_write(s->mosq))
		(void)mosquitto_loop_write(s->mosq, WRITE_PACKETS);
	/* A socket in error that libmosquitto keeps: during a TLS handshake
	 * (a connect refused or reset) libmosquitto 2.0 takes the error for
	 * "try again" and would wait for the keep-alive. Nothing left to read
	 * and an error or hang-up: the connection is gone. */
	if ((events & (EPOLLERR | EPOLLHUP)) &&
	    mosquitto_socket(s->mosq) == fd) {
		int avail = 0;

		if (ioctl(fd, FIONREAD, &avail) != 0 || avail <= 0) {
			lost(s);
			return;
		}
	}
	if (!sync_io(s))
		lost(s);
}

/* ---- libmosquitto callbacks ---------------------------------------------- */

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	struct fl_mqtt_srv *s = obj;
	char *subs[N_SUBS];

	(void)m;
	(void)props;
	if (s->state != ST_CONNECTING)
		return;
	if (rc != 0) {
		/* libmosquitto closes the socket after this callback. */
		say(s, FL_LOG_WARN, "mqtt: %s:%u refused: %s", s->host,
		    (unsigned)s->cfg.port, mosquitto_reason_string(rc));
		return;
	}
	s->stats.connects++;
	s->is_outage_told = false;
	s->backoff_ms = s->cfg.backoff_min_ms;
	s->state = ST_CONNACKED;
	say(s, s->is_pub ? FL_LOG_DEBUG : FL_LOG_INFO,
	    "mqtt: connected to %s:%u as %s (session %s)", s->host,
	    (unsigned)s->cfg.port, s->client_id,
	    (flags & 1) ? "resumed" : "new");
	if (s->is_pub) {
		s->state = ST_READY;
		connected(s, true);
		return;
	}
	for (int i = 0; i < N_SUBS; i++)
		subs[i] = s->filter[i];
	rc = mosquitto_subscribe_multiple(s->mosq, &s->sub_mid, N_SUBS, subs, 1,
					  0, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		say(s, FL_LOG_ERROR, "mqtt: subscribe: %s",
		    mosquitto_strerror(rc));
		(void)mosquitto_disconnect(s->mosq);
	}
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n_qos,
			 const int *granted, const mosquitto_property *props)
{
	struct fl_mqtt_srv *s = obj;

	(void)m;
	(void)props;
	if (s->state != ST_CONNACKED || mid != s->sub_mid)
		return;
	for (int i = 0; i < N_SUBS; i++)
		if (i >= n_qos || granted[i] > 2)
			say(s, FL_LOG_ERROR,
			    "mqtt: the broker refused the subscription to %s",
			    s->filter[i]);
	s->state = ST_READY;
	connected(s, true);
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int rc,
		       const mosquitto_property *props)
{
	struct fl_mqtt_srv *s = obj;

	(void)m;
	(void)mid;
	(void)props;
	if (s->inflight > 0)
		s->inflight--;
	/* Reason codes below 0x80 are successes: "no matching subscribers"
	 * (no device session holds the topic) is the broker's taking it. */
	if (rc < 0x80)
		s->stats.acked++;
	else
		say(s, FL_LOG_WARN, "mqtt: the broker refused a command: %s",
		    mosquitto_reason_string(rc));
}

/* Decodes one device message and hands it to the runner. */
static int deliver(struct fl_mqtt_srv *s, const char *id, int kind,
		   const char *payload, size_t len, const char *topic)
{
	struct fl_proto_diag diag;
	int64_t now = now_s(s);
	int rc;

	memset(&diag, 0, sizeof(diag));
	if (len == 0) {
		/* A retained state cleared (the only empty payloads). */
		if (kind != FL_TOPIC_PRESENCE && kind != FL_TOPIC_REPORTED) {
			refused(s, topic, "empty payload");
			return 0;
		}
		return fl_runner_on_cleared(s->runner, id, kind, now);
	}
	if (len > FL_PROTO_MSG_MAX) {
		refused(s, topic, "larger than 2048 bytes, unread");
		return 0;
	}
	switch (kind) {
	case FL_TOPIC_PRESENCE:
		rc = fl_proto_decode_presence(&s->in.p, payload, len, &diag);
		if (rc == 0)
			return fl_runner_on_presence(s->runner, id, &s->in.p,
						     now);
		break;
	case FL_TOPIC_REPORTED:
		rc = fl_proto_decode_reported(&s->in.r, payload, len, &diag);
		if (rc == 0)
			return fl_runner_on_reported(s->runner, id, &s->in.r,
						     now);
		break;
	case FL_TOPIC_STATUS:
		rc = fl_proto_decode_status(&s->in.s, payload, len, &diag);
		if (rc == 0)
			return fl_runner_on_status(s->runner, id, &s->in.s,
						   now);
		break;
	case FL_TOPIC_HEALTH:
		rc = fl_proto_decode_health(&s->in.h, payload, len, &diag);
		if (rc == 0)
			return fl_runner_on_health(s->runner, id, &s->in.h,
						   now);
		break;
	default: refused(s, topic, "not a device report"); return 0;
	}
	refused(s, topic, diag.msg[0] != '\0' ? diag.msg : fl_strerror(rc));
	return 0;
}

static void on_message(struct mosquitto *m, void *obj,
		       const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct fl_mqtt_srv *s = obj;
	char id[FL_DEVICE_ID_MAX];
	int kind = -1, rc;

	(void)m;
	(void)props;
	if (msg->topic == NULL)
		return;
	s->stats.received++;
	if (fl_topic_parse(id, &kind, msg->topic, strlen(msg->topic),
			   s->root) != 0) {
		refused(s, msg->topic, "not a topic of this protocol");
		return;
	}
	if (s->cfg.counters != NULL && kind >= 0 && kind < 8)
		s->cfg.counters->reports[kind]++;
	if (s->runner == NULL || msg->payloadlen < 0) {
		s->stats.bad++;
		return;
	}
	rc = deliver(s, id, kind, msg->payload, (size_t)msg->payloadlen,
		     msg->topic);
	if (rc == FL_EINVAL) {
		s->stats.bad++; /* the runner logged why */
	} else if (rc != 0) {
		s->stats.bad++;
		say(s, FL_LOG_ERROR, "mqtt: %s from %s not taken: %s",
		    fl_topic_kind_name(kind), id, fl_strerror(rc));
	}
	if (s->cfg.on_input != NULL)
		s->cfg.on_input(s->cfg.cb_ctx);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc,
			  const mosquitto_property *props)
{
	struct fl_mqtt_srv *s = obj;

	(void)m;
	(void)props;
	if (rc != 0 && s->state != ST_STOPPING && s->state != ST_IDLE)
		say(s, FL_LOG_DEBUG, "mqtt: disconnected: %s",
		    mosquitto_strerror(rc));
	lost(s);
}

static void on_log(struct mosquitto *m, void *obj, int level, const char *str)
{
	struct fl_mqtt_srv *s = obj;

	(void)m;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		say(s, FL_LOG_DEBUG, "libmosquitto: %s", str);
}

/* ---- the command port ---------------------------------------------------- */

static uint32_t hash_of(const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h;
}

int fl_mqtt_srv_route(const struct fl_mqtt_srv *s, const char *device)
{
	if (s == NULL || device == NULL || s->n_pubs == 0)
		return -1;
	return (int)(hash_of(device) % s->n_pubs);
}

int fl_mqtt_srv_send(void *ctx, const char *device, const struct fl_cmd *cmd)
{
	struct fl_mqtt_srv *s = ctx;
	mosquitto_property *props = NULL;
	uint64_t expiry;
	int64_t now;
	size_t len = 0;
	int rc;

	if (s == NULL || device == NULL || cmd == NULL)
		return FL_EINVAL;
	if (s->n_pubs > 0)
		s = s->pubs[fl_mqtt_srv_route(s, device)];
	if (s->state != ST_READY && s->state != ST_CONNACKED) {
		s->stats.send_fails++;
		return FL_EIO;
	}
	rc = fl_topic_build(s->topic, sizeof(s->topic), s->root, device,
			    FL_TOPIC_CMD);
	if (rc == 0)
		rc = fl_proto_encode_cmd(s->buf, sizeof(s->buf), &len, cmd);
	if (rc != 0) {
		say(s, FL_LOG_ERROR, "mqtt: cannot encode a %s for %s: %s",
		    fl_cmd_type_name(cmd->type) ? fl_cmd_type_name(cmd->type)
						: "command",
		    device, fl_strerror(rc));
		return rc == FL_ENOMEM ? FL_ENOMEM : FL_EINVAL;
	}
	/* The broker drops the command once the device could no longer
	 * act on it (docs/protocol.md: at least 1 s). */
	now = now_s(s);
	expiry =
		(int64_t)cmd->expires > now ? cmd->expires - (uint64_t)now : 1u;
	if (expiry > UINT32_MAX - 1u)
		expiry = UINT32_MAX - 1u;
	if (mosquitto_property_add_int32(&props,
					 MQTT_PROP_MESSAGE_EXPIRY_INTERVAL,
					 (uint32_t)expiry) != MOSQ_ERR_SUCCESS)
		return FL_ENOMEM;
	rc = mosquitto_publish_v5(s->mosq, NULL, s->topic, (int)len, s->buf, 1,
				  false, props);
	mosquitto_property_free_all(&props);
	if (rc != MOSQ_ERR_SUCCESS) {
		s->stats.send_fails++;
		say(s, FL_LOG_DEBUG, "mqtt: publish to %s: %s", s->topic,
		    mosquitto_strerror(rc));
		if (!sync_io(s))
			lost(s);
		return rc == MOSQ_ERR_NOMEM ? FL_ENOMEM : FL_EIO;
	}
	s->stats.sent++;
	s->inflight++;
	if (s->cfg.counters != NULL && cmd->type < 8)
		s->cfg.counters->commands[cmd->type]++;
	if (!sync_io(s))
		lost(s);
	return 0;
}

const struct fl_runner_cmd_ops fl_mqtt_srv_cmd_ops = {fl_mqtt_srv_send};

/* ---- life cycle ---------------------------------------------------------- */

/* Hands the Session Expiry Interval to libmosquitto (see the top). */
static int stash_session_expiry(struct fl_mqtt_srv *s)
{
	mosquitto_property *props = NULL;
	int rc;

	if (mosquitto_property_add_int32(
		    &props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
		    s->cfg.session_expiry_s) != MOSQ_ERR_SUCCESS)
		return FL_ENOMEM;
	rc = mosquitto_connect_bind_v5(s->mosq, NULL, s->cfg.port,
				       s->cfg.keepalive_s, NULL, props);
	mosquitto_property_free_all(&props);
	/* Refused for the missing host, after the properties were kept. */
	return rc == MOSQ_ERR_INVAL ? 0 : FL_EIO;
}

static uint32_t seed_of(const char *id)
{
	uint32_t h = hash_of(id) ^ (uint32_t)fl_loop_now_ms();

	return h != 0 ? h : 1;
}

static int build_filters(struct fl_mqtt_srv *s)
{
	static const int kinds[N_SUBS] = {FL_TOPIC_PRESENCE, FL_TOPIC_REPORTED,
					  FL_TOPIC_STATUS, FL_TOPIC_HEALTH};
	char f[FL_TOPIC_MAX];

	for (int i = 0; i < N_SUBS; i++) {
		bool is_shared =
			s->cfg.is_shared && (kinds[i] == FL_TOPIC_STATUS ||
					     kinds[i] == FL_TOPIC_HEALTH);
		int rc = fl_topic_filter(f, sizeof(f), s->root, kinds[i]);

		if (rc != 0)
			return rc;
		snprintf(s->filter[i], sizeof(s->filter[i]), "%s%s",
			 is_shared ? SHARE_PREFIX : "", f);
	}
	return 0;
}

/* Publisher i of s: the main configuration with its own client id
 * (the main one cut to leave room for "-pI") and certificate. */
static int new_publisher(struct fl_mqtt_srv *s,
			 const struct fl_mqtt_srv_config *cfg, unsigned i)
{
	struct fl_mqtt_srv_config pc = *cfg;
	char id[FL_MQTT_SRV_CLIENT_ID_MAX];
	int rc;

	snprintf(id, sizeof(id), "%.*s-p%u", (int)(sizeof(id) - sizeof("-p99")),
		 s->client_id, i);
	pc.client_id = id;
	pc.publishers = 0;
	pc.is_shared = false;
	pc.on_input = NULL;
	pc.on_connection = NULL;
	if (cfg->pub_certfile[i] != NULL) {
		pc.certfile = cfg->pub_certfile[i];
		pc.keyfile = cfg->pub_keyfile[i];
	}
	rc = fl_mqtt_srv_new(&s->pubs[i], s->loop, &pc);
	if (rc != 0)
		return rc;
	s->pubs[i]->is_pub = true;
	s->pubs[i]->main = s;
	s->n_pubs = i + 1;
	return 0;
}

int fl_mqtt_srv_new(struct fl_mqtt_srv **out, struct fl_loop *loop,
		    const struct fl_mqtt_srv_config *cfg)
{
	struct fl_mqtt_srv *s;
	int rc = FL_EINVAL;

	if (out == NULL)
		return FL_EINVAL;
	*out = NULL;
	if (loop == NULL || cfg == NULL || cfg->host == NULL ||
	    cfg->host[0] == '\0' || strlen(cfg->host) >= FL_MQTT_SRV_HOST_MAX ||
	    cfg->client_id == NULL || fl_device_id_check(cfg->client_id) != 0 ||
	    (cfg->keepalive_s != 0 && cfg->keepalive_s < 5) ||
	    cfg->publishers > FL_MQTT_SRV_PUBS_MAX)
		return FL_EINVAL;
	if (fl_topic_root_check(cfg->root != NULL ? cfg->root : "fleet") != 0)
		return FL_EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return FL_ENOMEM;
	s->loop = loop;
	s->fd = -1;
	s->cfg = *cfg;
	(void)fl_strlcpy(s->host, cfg->host, sizeof(s->host));
	(void)fl_strlcpy(s->root, cfg->root != NULL ? cfg->root : "fleet",
			 sizeof(s->root));
	(void)fl_strlcpy(s->client_id, cfg->client_id, sizeof(s->client_id));
	s->cfg.host = s->host;
	s->cfg.root = s->root;
	s->cfg.client_id = s->client_id;
	if (s->cfg.port == 0)
		s->cfg.port = 1883;
	if (s->cfg.keepalive_s == 0)
		s->cfg.keepalive_s = DEFAULT_KEEPALIVE;
	if (s->cfg.session_expiry_s == 0)
		s->cfg.session_expiry_s = FL_MQTT_SRV_EXPIRY_S;
	if (s->cfg.backoff_min_ms == 0)
		s->cfg.backoff_min_ms = DEFAULT_MIN_MS;
	if (s->cfg.backoff_max_ms == 0)
		s->cfg.backoff_max_ms = DEFAULT_MAX_MS;
	if (s->cfg.backoff_max_ms < s->cfg.backoff_min_ms)
		s->cfg.backoff_max_ms = s->cfg.backoff_min_ms;
	s->backoff_ms = s->cfg.backoff_min_ms;
	s->rng = seed_of(s->client_id);
	s->log_budget = LOG_BURST;
	rc = build_filters(s);
	if (rc != 0)
		goto fail;
	fl_loop_timer_init(&s->misc_timer, on_misc, s);
	fl_loop_timer_init(&s->retry_timer, on_retry, s);
	rc = FL_ENOMEM;
	s->mosq = mosquitto_new(s->client_id, false, s);
	if (s->mosq == NULL)
		goto fail;
	rc = FL_EIO;
	if (mosquitto_int_option(s->mosq, MOSQ_OPT_PROTOCOL_VERSION,
				 MQTT_PROTOCOL_V5) != MOSQ_ERR_SUCCESS ||
	    mosquitto_int_option(s->mosq, MOSQ_OPT_RECEIVE_MAXIMUM,
				 FL_MQTT_SRV_INFLIGHT) != MOSQ_ERR_SUCCESS ||
	    mosquitto_int_option(s->mosq, MOSQ_OPT_SEND_MAXIMUM,
				 FL_MQTT_SRV_INFLIGHT) != MOSQ_ERR_SUCCESS ||
	    mosquitto_int_option(s->mosq, MOSQ_OPT_TCP_NODELAY, 1) !=
		    MOSQ_ERR_SUCCESS)
		goto fail;
	if (cfg->cafile != NULL &&
	    mosquitto_tls_set(s->mosq, cfg->cafile, NULL, cfg->certfile,
			      cfg->keyfile, NULL) != MOSQ_ERR_SUCCESS) {
		say(s, FL_LOG_ERROR, "mqtt: TLS files refused (%s, %s)",
		    cfg->cafile,
		    cfg->certfile ? cfg->certfile : "no certificate");
		goto fail;
	}
	s->cfg.cafile = s->cfg.certfile = s->cfg.keyfile = NULL;
	rc = stash_session_expiry(s);
	if (rc != 0)
		goto fail;
	mosquitto_connect_v5_callback_set(s->mosq, on_connect);
	mosquitto_subscribe_v5_callback_set(s->mosq, on_subscribe);
	mosquitto_message_v5_callback_set(s->mosq, on_message);
	mosquitto_disconnect_v5_callback_set(s->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(s->mosq, on_publish);
	mosquitto_log_callback_set(s->mosq, on_log);
	for (unsigned i = 0; i < cfg->publishers; i++) {
		rc = new_publisher(s, cfg, i);
		if (rc != 0)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	for (unsigned i = 0; i < s->n_pubs; i++)
		fl_mqtt_srv_free(s->pubs[i]);
	if (s->mosq != NULL)
		mosquitto_destroy(s->mosq);
	free(s);
	return rc;
}

void fl_mqtt_srv_set_runner(struct fl_mqtt_srv *s, struct fl_runner *runner)
{
	if (s != NULL)
		s->runner = runner;
}

int fl_mqtt_srv_start(struct fl_mqtt_srv *s)
{
	if (s == NULL)
		return FL_EINVAL;
	if (s->state != ST_IDLE)
		return 0;
	s->backoff_ms = s->cfg.backoff_min_ms;
	if (fl_loop_timer_at(s->loop, &s->misc_timer,
			     fl_loop_now_ms() + MISC_MS) != 0)
		return FL_ENOMEM;
	connect_now(s);
	for (unsigned i = 0; i < s->n_pubs; i++) {
		int rc = fl_mqtt_srv_start(s->pubs[i]);

		if (rc != 0)
			return rc;
	}
	return 0;
}

void fl_mqtt_srv_kick(struct fl_mqtt_srv *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < s->n_pubs; i++)
		fl_mqtt_srv_kick(s->pubs[i]);
	if (s->state != ST_WAITING)
		return;
	fl_loop_timer_stop(s->loop, &s->retry_timer);
	s->backoff_ms = s->cfg.backoff_min_ms;
	connect_now(s);
}

/* Waits on this client's socket alone until done() or the deadline. */
static void wait_socket(struct fl_mqtt_srv *s, uint64_t deadline,
			bool (*done)(const struct fl_mqtt_srv *))
{
	while (!done(s)) {
		int fd = mosquitto_socket(s->mosq);
		uint64_t now = fl_loop_now_ms();
		struct pollfd p;
		int n;

		if (fd < 0 || now >= deadline)
			break;
		p.fd = fd;
		p.events =
			(short)(POLLIN |
				(mosquitto_want_write(s->mosq) ? POLLOUT : 0));
		p.revents = 0;
		n = poll(&p, 1, (int)(deadline - now));
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP)))
			(void)mosquitto_loop_read(s->mosq, 1);
		if (n > 0 && (p.revents & POLLOUT) &&
		    mosquitto_socket(s->mosq) == fd)
			(void)mosquitto_loop_write(s->mosq, WRITE_PACKETS);
	}
}

static bool is_drained(const struct fl_mqtt_srv *s)
{
	return s->inflight == 0 || s->state != ST_STOPPING;
}

static bool is_closed(const struct fl_mqtt_srv *s)
{
	return s->state == ST_IDLE;
}

/* Stops the publishers first, all within wait_ms: the main connection
 * carries no commands then and has nothing to drain. */
static void stop_publishers(struct fl_mqtt_srv *s, unsigned wait_ms)
{
	uint64_t deadline = fl_loop_now_ms() + wait_ms;

	for (unsigned i = 0; i < s->n_pubs; i++) {
		uint64_t now = fl_loop_now_ms();

		fl_mqtt_srv_stop(s->pubs[i],
				 now < deadline ? (unsigned)(deadline - now)
						: 0u);
	}
}

void fl_mqtt_srv_stop(struct fl_mqtt_srv *s, unsigned wait_ms)
{
	uint64_t deadline;
	bool was_up;

	if (s == NULL)
		return;
	stop_publishers(s, wait_ms);
	if (s->state == ST_IDLE)
		return;
	fl_loop_timer_stop(s->loop, &s->retry_timer);
	fl_loop_timer_stop(s->loop, &s->misc_timer);
	if (s->state == ST_WAITING) {
		s->state = ST_IDLE;
		return;
	}
	was_up = s->state == ST_READY || s->state == ST_CONNACKED;
	s->state = ST_STOPPING;
	if (was_up)
		connected(s, false);
	/* Drain first: a socket closed with unread PUBACKs is reset, and the
	 * broker may drop what it had not read yet. */
	deadline = fl_loop_now_ms() + wait_ms;
	wait_socket(s, deadline, is_drained);
	if (s->state == ST_STOPPING) {
		if (mosquitto_disconnect_v5(s->mosq, 0, NULL) ==
			    MOSQ_ERR_SUCCESS &&
		    sync_io(s))
			wait_socket(s, deadline, is_closed);
	}
	if (s->state != ST_IDLE) {
		int fd = mosquitto_socket(s->mosq);

		if (fd >= 0)
			(void)shutdown(fd, SHUT_RDWR);
		lost(s);
		s->state = ST_IDLE;
	}
}

void fl_mqtt_srv_free(struct fl_mqtt_srv *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < s->n_pubs; i++)
		fl_mqtt_srv_free(s->pubs[i]);
	fl_loop_timer_stop(s->loop, &s->retry_timer);
	fl_loop_timer_stop(s->loop, &s->misc_timer);
	if (s->fd >= 0)
		fl_loop_fd_del(s->loop, s->fd);
	mosquitto_destroy(s->mosq);
	free(s);
}

void fl_mqtt_srv_stats(const struct fl_mqtt_srv *s,
		       struct fl_mqtt_srv_stats *out)
{
	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return;
	*out = s->stats;
	for (unsigned i = 0; i < s->n_pubs; i++) {
		const struct fl_mqtt_srv_stats *p = &s->pubs[i]->stats;

		out->sent += p->sent;
		out->acked += p->acked;
		out->send_fails += p->send_fails;
	}
}
