/*
 * mqtt.c -- fl_mqtt_dev: one device's MQTT 5 session over libmosquitto in
 * external-loop mode, and the agent's transport port over it.
 *
 * Method: fl_loop owns the socket. After every call into libmosquitto the
 * session re-reads mosquitto_socket() and mosquitto_want_write() and
 * brings its registration up to date (sync_io): read interest while a
 * socket exists, write interest only while libmosquitto has bytes queued.
 * mosquitto_loop_misc() (keep-alive pings and their timeout) runs from a
 * one-second timer. libmosquitto's own loops (mosquitto_loop, loop_start,
 * loop_forever) are never used: they select() and break past fd 1023.
 *
 * A session goes IDLE -> CONNECTING (CONNECT sent or TCP pending) ->
 * CONNACKED (cmd subscription sent) -> READY (SUBACK: presence online,
 * then fl_agent_on_connect publishes reported and the owed status; at
 * once when the CONNACK says the broker kept the session, which holds
 * the subscription). Any
 * loss of the socket -- on_disconnect, a failed read or write, a refused
 * CONNACK, a keep-alive timeout -- goes through lost(), which tells the
 * agent and arms the reconnect timer: 1 s doubling to 5 min, each delay
 * drawn within +-50 % from a generator seeded per device, reset by a
 * CONNACK.
 *
 * Every (re)connect first sets the Will: presence online false with the
 * boot count and the number the connection will have, the same pair the
 * online presence of that connection carries (docs/protocol.md).
 *
 * Session Expiry Interval: libmosquitto 2.0 has no asynchronous connect
 * that takes CONNECT properties, but it keeps the properties given to
 * mosquitto_connect_bind_v5() and sends them with every later connect,
 * asynchronous ones included. fl_mqtt_dev_new() therefore hands them over
 * with a call that is refused before any network activity (no host) and
 * connects asynchronously afterwards. The integration test proves the
 * session outlives the connection (a command published while the device
 * is offline arrives when it is back).
 *
 * A shared TLS set-up (fl_mqtt_tls, fleet-sim's thousands of sessions):
 * libmosquitto takes one SSL_CTX for every session (MOSQ_OPT_SSL_CTX,
 * without its defaults: the context verifies the broker itself) instead
 * of building a context per session from files. The client certificate
 * differs per device: after each (re)connect call the session tags its
 * fresh SSL object (mosquitto_ssl_get) with itself, and during the call
 * (where, on loopback, the whole handshake may run) it is the one
 * connecting; the context's certificate callback, run when the broker
 * asks for a certificate, loads that device's files into that SSL object
 * alone.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>

#include "fl/bytes.h"
#include "fl/err.h"
#include "linux_priv.h"

#define HOST_MAX	  256
#define MISC_MS		  1000u
#define READ_PACKETS	  16
#define DEFAULT_EXPIRY_S  604800u
#define DEFAULT_KEEPALIVE 60u
#define DEFAULT_MIN_MS	  1000u
#define DEFAULT_MAX_MS	  300000u
#define DRAIN_MS	  2000u /* stop without a wait: the loop's bound */

enum state {
	ST_IDLE = 0,	   /* not started, stopped or dropped */
	ST_WAITING = 1,	   /* reconnect timer armed */
	ST_CONNECTING = 2, /* CONNECT queued, waiting for CONNACK */
	ST_CONNACKED = 3,  /* SUBSCRIBE sent, waiting for SUBACK */
	ST_READY = 4,	   /* presence online published, agent told */
	ST_DRAINING = 5,   /* stopping: waiting for what is in flight */
	ST_STOPPING = 6,   /* DISCONNECT queued */
};

struct fl_mqtt_tls {
	SSL_CTX *ctx;
	char dir[1024]; /* "": no client certificate */
};

struct fl_mqtt_dev {
	struct fl_loop *loop;
	struct mosquitto *mosq;
	struct fl_mqtt_tls *tls; /* shared; NULL: none or libmosquitto's */
	struct fl_agent *agent;
	int (*on_cmd)(void *ctx, struct fl_agent *agent,
		      const struct fl_cmd *cmd);
	void *on_cmd_ctx;
	enum state state;
	bool has_connected; /* connect_bind_async done once: reconnect */
	int fd;		    /* registered with the loop; -1 none */
	uint32_t fd_events;
	int sub_mid;
	uint32_t boot;	  /* the agent's boot count when started */
	uint32_t n_conn;  /* connections of this boot (CONNACKs) */
	uint32_t pending; /* published, not yet written (QoS 0) or acked */
	uint32_t backoff_ms, backoff_min_ms, backoff_max_ms;
	uint32_t rng;
	uint16_t port, keepalive_s;
	char host[HOST_MAX];
	char id[FL_DEVICE_ID_MAX];
	char agent_version[FL_PROTO_VERSION_MAX];
	char topic[FL_TOPIC_KINDS][FL_TOPIC_MAX];
	struct fl_loop_timer misc_timer, retry_timer;
	struct fl_mqtt_dev_stats stats;
	struct fl_cmd cmd;		/* decoded command */
	char buf[FL_PROTO_MSG_MAX + 1]; /* encoded message */
};

static void on_fd(void *ctx, int fd, uint32_t events);

/* ---- a TLS context shared by many sessions ------------------------------- */

static int tls_index = -1; /* SSL ex_data: the session of an SSL object */
/* The session inside mosquitto_(re)connect_async(), whose fresh SSL object
 * is not tagged yet: on loopback the whole handshake can happen in that
 * call. One thread per loop: no other session connects meanwhile. */
static struct fl_mqtt_dev *tls_connecting;

/* The broker asks for a client certificate: the device's own. */
static int on_cert(SSL *ssl, void *arg)
{
	struct fl_mqtt_tls *t = arg;
	struct fl_mqtt_dev *d = SSL_get_ex_data(ssl, tls_index);
	char path[sizeof(t->dir) + FL_DEVICE_ID_MAX + 8];
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	FILE *f;
	int ok;

	if (d == NULL)
		d = tls_connecting;
	if (d == NULL || t->dir[0] == '\0')
		return 1; /* none: the broker decides */
	snprintf(path, sizeof(path), "%s/%s.crt", t->dir, d->id);
	f = fopen(path, "re");
	if (f != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/%s.key", t->dir, d->id);
	f = fopen(path, "re");
	if (f != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	ok = x != NULL && k != NULL && SSL_use_certificate(ssl, x) == 1 &&
	     SSL_use_PrivateKey(ssl, k) == 1;
	if (!ok)
		fl_linux__log(FL_LOG_ERROR, d->id,
			      "mqtt: no usable certificate %s/%s.crt and .key",
			      t->dir, d->id);
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return ok ? 1 : 0;
}

int fl_mqtt_tls_new(struct fl_mqtt_tls **out, const char *cafile,
		    const char *certdir, const char *host)
{
	struct fl_mqtt_tls *t;
	X509_VERIFY_PARAM *vp;
	unsigned char addr[16];
	int ok;

	*out = NULL;
	if (cafile == NULL || host == NULL || strlen(host) >= HOST_MAX ||
	    (certdir != NULL && strlen(certdir) >= sizeof(t->dir)))
		return FL_EINVAL;
	if (tls_index < 0)
		tls_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (tls_index < 0)
		return FL_ENOMEM;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return FL_ENOMEM;
	if (certdir != NULL)
		(void)fl_strlcpy(t->dir, certdir, sizeof(t->dir));
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (t->ctx == NULL) {
		free(t);
		return FL_ENOMEM;
	}
	vp = SSL_CTX_get0_param(t->ctx);
	ok = SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) == 1 &&
	     SSL_CTX_load_verify_file(t->ctx, cafile) == 1;
	if (ok && (inet_pton(AF_INET, host, addr) == 1 ||
		   inet_pton(AF_INET6, host, addr) == 1))
		ok = X509_VERIFY_PARAM_set1_ip_asc(vp, host) == 1;
	else if (ok)
		ok = X509_VERIFY_PARAM_set1_host(vp, host, 0) == 1;
	if (!ok) {
		fl_linux__log(FL_LOG_ERROR, NULL, "mqtt: TLS: cannot use %s",
			      cafile);
		ERR_clear_error();
		SSL_CTX_free(t->ctx);
		free(t);
		return FL_EIO;
	}
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_cert_cb(t->ctx, on_cert, t);
	*out = t;
	return 0;
}

void fl_mqtt_tls_free(struct fl_mqtt_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

/* ---- helpers ------------------------------------------------------------- */

static uint32_t next_random(struct fl_mqtt_dev *d)
{
	uint32_t x = d->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	d->rng = x;
	return x;
}

/* The current backoff with +-50 % jitter; the backoff then doubles. */
static uint32_t next_delay_ms(struct fl_mqtt_dev *d)
{
	uint32_t b = d->backoff_ms;
	uint32_t delay = b / 2 + next_random(d) % (b + 1);

	d->backoff_ms = b >= d->backoff_max_ms / 2 ? d->backoff_max_ms : 2 * b;
	return delay;
}

/* Brings the loop registration in line with libmosquitto's socket and
 * write wish. Returns false if the socket is gone. */
static bool sync_io(struct fl_mqtt_dev *d)
{
	int fd = mosquitto_socket(d->mosq);
	uint32_t ev;

	if (fd != d->fd && d->fd >= 0) {
		fl_loop_fd_del(d->loop, d->fd);
		d->fd = -1;
	}
	if (fd < 0)
		return false;
	ev = EPOLLIN | (mosquitto_want_write(d->mosq) ? EPOLLOUT : 0u);
	if (d->fd < 0) {
		int rc = fl_loop_fd_add(d->loop, fd, ev, on_fd, d);

		if (rc != 0) {
			fl_linux__log(FL_LOG_ERROR, d->id,
				      "mqtt: cannot watch socket %d: %s", fd,
				      fl_strerror(rc));
			return true;
		}
		d->fd = fd;
		d->fd_events = ev;
	} else if (ev != d->fd_events && fl_loop_fd_mod(d->loop, fd, ev) == 0) {
		d->fd_events = ev;
	}
	return true;
}

static void arm_retry(struct fl_mqtt_dev *d)
{
	uint32_t delay = next_delay_ms(d);

	d->state = ST_WAITING;
	if (fl_loop_timer_at(d->loop, &d->retry_timer,
			     fl_loop_now_ms() + delay) != 0)
		fl_linux__log(FL_LOG_ERROR, d->id,
			      "mqtt: no memory for a timer");
	fl_linux__log(FL_LOG_DEBUG, d->id, "mqtt: reconnecting in %u ms",
		      (unsigned)delay);
}

/* The connection is gone (or never came): tell the agent, retry later
 * unless the session was stopped or dropped. Idempotent. */
static void lost(struct fl_mqtt_dev *d)
{
	enum state was = d->state;

	if (d->fd >= 0) {
		fl_loop_fd_del(d->loop, d->fd);
		d->fd = -1;
	}
	if (was == ST_IDLE || was == ST_WAITING)
		return;
	d->pending = 0; /* what libmosquitto still holds is resent or gone */
	d->stats.is_connected = false;
	if (was == ST_READY && d->agent != NULL)
		fl_agent_on_disconnect(d->agent);
	if (was == ST_STOPPING || was == ST_DRAINING) {
		fl_loop_timer_stop(d->loop, &d->retry_timer);
		d->state = ST_IDLE;
		return;
	}
	if (was >= ST_CONNACKED)
		fl_linux__log(FL_LOG_WARN, d->id,
			      "mqtt: connection to %s:%u lost", d->host,
			      (unsigned)d->port);
	arm_retry(d);
}

static int publish_raw(struct fl_mqtt_dev *d, int kind, const char *payload,
		       size_t len, int qos, bool retain)
{
	int rc = mosquitto_publish_v5(d->mosq, NULL, d->topic[kind], (int)len,
				      payload, qos, retain, NULL);

	if (rc != MOSQ_ERR_SUCCESS) {
		d->stats.pub_errors++;
		fl_linux__log(FL_LOG_DEBUG, d->id, "mqtt: publish %s: %s",
			      fl_topic_kind_name(kind), mosquitto_strerror(rc));
		return FL_EIO;
	}
	d->stats.published++;
	d->pending++;
	(void)sync_io(d);
	return 0;
}

static int presence(struct fl_mqtt_dev *d, bool is_online, uint32_t conn,
		    char *out, size_t *len)
{
	struct fl_presence p;

	memset(&p, 0, sizeof(p));
	p.is_online = is_online;
	p.boot = d->boot;
	p.conn = conn;
	if (is_online) {
		p.ts = fl_linux_clock_ops.now_s(NULL);
		(void)fl_strlcpy(p.agent, d->agent_version, sizeof(p.agent));
	}
	return fl_proto_encode_presence(out, FL_PROTO_MSG_MAX + 1, len, &p);
}

/* ---- connecting ---------------------------------------------------------- */

static void connect_now(struct fl_mqtt_dev *d)
{
	size_t len = 0;
	int rc;

	/* The Will names this connection: the number it will get. */
	rc = presence(d, false, d->n_conn + 1, d->buf, &len);
	if (rc == 0)
		rc = mosquitto_will_set_v5(d->mosq, d->topic[FL_TOPIC_PRESENCE],
					   (int)len, d->buf, 1, true,
					   NULL) == MOSQ_ERR_SUCCESS
			     ? 0
			     : FL_EINVAL;
	if (rc != 0) {
		fl_linux__log(FL_LOG_ERROR, d->id, "mqtt: cannot set the Will");
		arm_retry(d);
		return;
	}
	tls_connecting = d;
	if (!d->has_connected)
		rc = mosquitto_connect_bind_async(d->mosq, d->host, d->port,
						  d->keepalive_s, NULL);
	else
		rc = mosquitto_reconnect_async(d->mosq);
	tls_connecting = NULL;
	if (rc != MOSQ_ERR_SUCCESS) {
		fl_linux__log(FL_LOG_WARN, d->id, "mqtt: connect to %s:%u: %s",
			      d->host, (unsigned)d->port,
			      rc == MOSQ_ERR_ERRNO ? strerror(errno)
						   : mosquitto_strerror(rc));
		if (d->fd >= 0) {
			fl_loop_fd_del(d->loop, d->fd);
			d->fd = -1;
		}
		arm_retry(d);
		return;
	}
	d->has_connected = true;
	d->state = ST_CONNECTING;
	if (d->tls != NULL) {
		SSL *ssl = mosquitto_ssl_get(d->mosq);

		if (ssl != NULL)
			(void)SSL_set_ex_data(ssl, tls_index, d);
	}
	if (!sync_io(d))
		lost(d);
}

/* Sends the DISCONNECT; the socket closes once it is written. */
static void disconnect_now(struct fl_mqtt_dev *d)
{
	d->state = ST_STOPPING;
	if (mosquitto_disconnect_v5(d->mosq, 0, NULL) != MOSQ_ERR_SUCCESS ||
	    !sync_io(d))
		lost(d);
}

/* The retry timer: a reconnect when WAITING; the end of the drain when
 * stopping (DRAINING: disconnect anyway; STOPPING: the DISCONNECT did not
 * go out, drop the socket). */
static void on_retry(void *ctx)
{
	struct fl_mqtt_dev *d = ctx;
	int fd;

	switch (d->state) {
	case ST_WAITING: connect_now(d); break;
	case ST_DRAINING:
		disconnect_now(d);
		if (d->state == ST_STOPPING)
			(void)fl_loop_timer_at(d->loop, &d->retry_timer,
					       fl_loop_now_ms() + MISC_MS);
		break;
	case ST_STOPPING:
		fd = mosquitto_socket(d->mosq);
		if (fd >= 0)
			(void)shutdown(fd, SHUT_RDWR);
		lost(d);
		break;
	default: break;
	}
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int rc,
		       const mosquitto_property *props)
{
	struct fl_mqtt_dev *d = obj;

	(void)m;
	(void)mid;
	(void)rc;
	(void)props;
	if (d->pending > 0)
		d->pending--;
	if (d->state == ST_DRAINING && d->pending == 0)
		disconnect_now(d);
}

static void on_misc(void *ctx)
{
	struct fl_mqtt_dev *d = ctx;

	if (mosquitto_socket(d->mosq) >= 0) {
		(void)mosquitto_loop_misc(d->mosq);
		if (!sync_io(d))
			lost(d);
	}
	(void)fl_loop_timer_at(d->loop, &d->misc_timer,
			       fl_loop_now_ms() + MISC_MS);
}

static void on_fd(void *ctx, int fd, uint32_t events)
{
	struct fl_mqtt_dev *d = ctx;

	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		(void)mosquitto_loop_read(d->mosq, READ_PACKETS);
	/* What the callbacks of that read queued (the acknowledgement of a
	 * command, the agent's answer) goes out now, while the socket that
	 * just had bytes to read can very likely take them: not after two
	 * epoll_ctl calls and another wake-up for EPOLLOUT (a fleet of
	 * simulated devices spends its time in such system calls). What the
	 * socket does not take stays queued; sync_io then asks for EPOLLOUT. */
	if ((events & (EPOLLOUT | EPOLLIN)) &&
	    mosquitto_socket(d->mosq) == fd && mosquitto_want_write(d->mosq))
		(void)mosquitto_loop_write(d->mosq, READ_PACKETS);
	/* A socket in error that libmosquitto keeps: during a TLS handshake
	 * (a connect refused or reset) libmosquitto 2.0 takes the error for
	 * "try again" and would wait for the keep-alive. Nothing left to read
	 * and an error or hang-up: the connection is gone. */
	if ((events & (EPOLLERR | EPOLLHUP)) &&
	    mosquitto_socket(d->mosq) == fd) {
		int avail = 0;

		if (ioctl(fd, FIONREAD, &avail) != 0 || avail <= 0) {
			lost(d);
			return;
		}
	}
	if (!sync_io(d))
		lost(d);
}

/* ---- libmosquitto callbacks ---------------------------------------------- */

/* Subscribed (or the session kept the subscription): presence online,
 * then the agent's own messages. */
static void ready(struct fl_mqtt_dev *d)
{
	size_t len = 0;

	d->state = ST_READY;
	d->stats.is_connected = true;
	if (presence(d, true, d->n_conn, d->buf, &len) == 0)
		(void)publish_raw(d, FL_TOPIC_PRESENCE, d->buf, len, 1, true);
	if (d->agent != NULL)
		(void)fl_agent_on_connect(d->agent);
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	struct fl_mqtt_dev *d = obj;

	(void)m;
	(void)props;
	if (d->state != ST_CONNECTING)
		return;
	if (rc != 0) {
		/* libmosquitto closes the socket after this callback. */
		fl_linux__log(FL_LOG_WARN, d->id, "mqtt: broker refused: %s",
			      mosquitto_reason_string(rc));
		return;
	}
	d->n_conn++;
	d->stats.connects++;
	d->backoff_ms = d->backoff_min_ms;
	d->state = ST_CONNACKED;
	fl_linux__log(FL_LOG_INFO, d->id,
		      "mqtt: connected to %s:%u (conn %u, session %s)", d->host,
		      (unsigned)d->port, (unsigned)d->n_conn,
		      (flags & 1) ? "resumed" : "new");
	if (flags & 1) {
		/* Session Present: the broker kept the session, and with it
		 * the subscription to cmd (MQTT 5, 3.2.2.1.1): subscribing
		 * again would cost the broker and a round trip at every
		 * reconnection of every device (a fleet rebooting at once). */
		ready(d);
		return;
	}
	rc = mosquitto_subscribe_v5(d->mosq, &d->sub_mid,
				    d->topic[FL_TOPIC_CMD], 1, 0, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		fl_linux__log(FL_LOG_ERROR, d->id, "mqtt: subscribe: %s",
			      mosquitto_strerror(rc));
		(void)mosquitto_disconnect(d->mosq);
	}
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n_qos,
			 const int *granted, const mosquitto_property *props)
{
	struct fl_mqtt_dev *d = obj;

	(void)m;
	(void)props;
	if (d->state != ST_CONNACKED || mid != d->sub_mid)
		return;
	if (n_qos < 1 || granted[0] > 2)
		fl_linux__log(FL_LOG_ERROR, d->id,
			      "mqtt: the broker refused the subscription to %s",
			      d->topic[FL_TOPIC_CMD]);
	ready(d);
}

static void on_message(struct mosquitto *m, void *obj,
		       const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct fl_mqtt_dev *d = obj;
	struct fl_proto_diag diag;
	int rc;

	(void)m;
	(void)props;
	if (d->agent == NULL || msg->topic == NULL ||
	    strcmp(msg->topic, d->topic[FL_TOPIC_CMD]) != 0)
		return;
	d->stats.cmds++;
	if (msg->payloadlen < 0 || msg->payloadlen > FL_PROTO_MSG_MAX) {
		/* Refused unread (docs/protocol.md): no job to answer. */
		d->stats.cmds_bad++;
		fl_linux__log(FL_LOG_WARN, d->id,
			      "cmd: %d bytes, over %d: dropped unread",
			      msg->payloadlen, FL_PROTO_MSG_MAX);
		return;
	}
	memset(&diag, 0, sizeof(diag));
	rc = fl_proto_decode_cmd(&d->cmd, msg->payload, (size_t)msg->payloadlen,
				 &diag);
	if (rc != 0) {
		d->stats.cmds_bad++;
		fl_linux__log(FL_LOG_WARN, d->id,
			      "cmd: undecodable (job %u): %s",
			      (unsigned)d->cmd.job, diag.msg);
		rc = fl_agent_on_cmd_invalid(d->agent, d->cmd.job, diag.msg);
	} else {
		fl_linux__log(FL_LOG_INFO, d->id, "cmd: %s job %u",
			      fl_cmd_type_name(d->cmd.type),
			      (unsigned)d->cmd.job);
		rc = d->on_cmd != NULL
			     ? d->on_cmd(d->on_cmd_ctx, d->agent, &d->cmd)
			     : fl_agent_on_cmd(d->agent, &d->cmd);
	}
	if (rc != 0)
		fl_linux__log(FL_LOG_ERROR, d->id, "agent: command: %s",
			      fl_strerror(rc));
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc,
			  const mosquitto_property *props)
{
	struct fl_mqtt_dev *d = obj;

	(void)m;
	(void)props;
	if (rc != 0 && d->state != ST_STOPPING && d->state != ST_DRAINING &&
	    d->state != ST_IDLE)
		fl_linux__log(FL_LOG_DEBUG, d->id, "mqtt: disconnected: %s",
			      mosquitto_strerror(rc));
	lost(d);
}

static void on_log(struct mosquitto *m, void *obj, int level, const char *s)
{
	struct fl_mqtt_dev *d = obj;

	(void)m;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		fl_linux__log(FL_LOG_DEBUG, d->id, "libmosquitto: %s", s);
}

/* ---- the transport port -------------------------------------------------- */

static int publish_msg(struct fl_mqtt_dev *d, int kind, int rc, size_t len,
		       int qos, bool retain)
{
	if (rc != 0) {
		fl_linux__log(FL_LOG_ERROR, d->id, "%s: cannot encode: %s",
			      fl_topic_kind_name(kind), fl_strerror(rc));
		return rc;
	}
	return publish_raw(d, kind, d->buf, len, qos, retain);
}

/* After CONNACK: a resumed session delivers the commands that waited in it
 * before the SUBACK, and the agent's answers to them must go out. */
static bool can_publish(const struct fl_mqtt_dev *d)
{
	return d->state == ST_CONNACKED || d->state == ST_READY;
}

static int pub_status(void *ctx, const struct fl_status *m)
{
	struct fl_mqtt_dev *d = ctx;
	size_t len = 0;
	int rc;

	if (!can_publish(d))
		return FL_EIO;
	rc = fl_proto_encode_status(d->buf, sizeof(d->buf), &len, m);
	return publish_msg(d, FL_TOPIC_STATUS, rc, len, 1, false);
}

static int pub_reported(void *ctx, const struct fl_reported *m)
{
	struct fl_mqtt_dev *d = ctx;
	size_t len = 0;
	int rc;

	if (!can_publish(d))
		return FL_EIO;
	rc = fl_proto_encode_reported(d->buf, sizeof(d->buf), &len, m);
	return publish_msg(d, FL_TOPIC_REPORTED, rc, len, 1, true);
}

static int pub_health(void *ctx, const struct fl_health *m)
{
	struct fl_mqtt_dev *d = ctx;
	size_t len = 0;
	int rc;

	if (!can_publish(d))
		return FL_EIO;
	rc = fl_proto_encode_health(d->buf, sizeof(d->buf), &len, m);
	return publish_msg(d, FL_TOPIC_HEALTH, rc, len, 0, false);
}

static const struct fl_agent_transport_ops transport_ops = {
	FL_AGENT_PORT_VERSION, "mosquitto", pub_status,
	pub_reported,	       pub_health,
};

struct fl_agent_transport fl_mqtt_dev_transport(struct fl_mqtt_dev *d)
{
	struct fl_agent_transport t = {&transport_ops, d};

	return t;
}

/* ---- life cycle ---------------------------------------------------------- */

static uint32_t seed_of(const char *id, uint32_t seed)
{
	uint32_t h = 2166136261u;

	if (seed != 0)
		return seed;
	for (; *id != '\0'; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h != 0 ? h : 1;
}

/* Hands the Session Expiry Interval to libmosquitto (see the top). */
static int stash_session_expiry(struct fl_mqtt_dev *d, uint32_t expiry_s)
{
	mosquitto_property *props = NULL;
	int rc;

	if (mosquitto_property_add_int32(&props,
					 MQTT_PROP_SESSION_EXPIRY_INTERVAL,
					 expiry_s) != MOSQ_ERR_SUCCESS)
		return FL_ENOMEM;
	rc = mosquitto_connect_bind_v5(d->mosq, NULL, d->port, d->keepalive_s,
				       NULL, props);
	mosquitto_property_free_all(&props);
	/* Refused for the missing host, after the properties were kept. */
	return rc == MOSQ_ERR_INVAL ? 0 : FL_EIO;
}

int fl_mqtt_dev_new(struct fl_mqtt_dev **out, struct fl_loop *loop,
		    const struct fl_mqtt_dev_config *cfg)
{
	const char *root;
	struct fl_mqtt_dev *d;
	int rc = FL_EINVAL;

	if (out == NULL)
		return FL_EINVAL;
	*out = NULL;
	if (loop == NULL || cfg == NULL || cfg->host == NULL ||
	    cfg->host[0] == '\0' || strlen(cfg->host) >= HOST_MAX ||
	    cfg->id == NULL || fl_device_id_check(cfg->id) != 0 ||
	    (cfg->keepalive_s != 0 && cfg->keepalive_s < 5))
		return FL_EINVAL;
	root = cfg->root != NULL ? cfg->root : "fleet";
	if (fl_topic_root_check(root) != 0)
		return FL_EINVAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return FL_ENOMEM;
	d->loop = loop;
	d->fd = -1;
	(void)fl_strlcpy(d->host, cfg->host, sizeof(d->host));
	(void)fl_strlcpy(d->id, cfg->id, sizeof(d->id));
	if (cfg->agent_version != NULL)
		(void)fl_strlcpy(d->agent_version, cfg->agent_version,
				 sizeof(d->agent_version));
	d->on_cmd = cfg->on_cmd;
	d->on_cmd_ctx = cfg->on_cmd_ctx;
	d->port = cfg->port != 0 ? cfg->port
				 : (cfg->cafile || cfg->tls ? 8883 : 1883);
	d->keepalive_s =
		cfg->keepalive_s != 0 ? cfg->keepalive_s : DEFAULT_KEEPALIVE;
	d->backoff_min_ms =
		cfg->backoff_min_ms != 0 ? cfg->backoff_min_ms : DEFAULT_MIN_MS;
	d->backoff_max_ms =
		cfg->backoff_max_ms != 0 ? cfg->backoff_max_ms : DEFAULT_MAX_MS;
	if (d->backoff_max_ms < d->backoff_min_ms)
		d->backoff_max_ms = d->backoff_min_ms;
	d->backoff_ms = d->backoff_min_ms;
	d->rng = seed_of(d->id, cfg->seed);
	for (int k = 0; k < FL_TOPIC_KINDS; k++) {
		rc = fl_topic_build(d->topic[k], sizeof(d->topic[k]), root,
				    d->id, k);
		if (rc != 0)
			goto fail;
	}
	fl_loop_timer_init(&d->misc_timer, on_misc, d);
	fl_loop_timer_init(&d->retry_timer, on_retry, d);
	rc = FL_ENOMEM;
	d->mosq = mosquitto_new(d->id, cfg->is_clean_start, d);
	if (d->mosq == NULL)
		goto fail;
	rc = FL_EINVAL;
	if (mosquitto_int_option(d->mosq, MOSQ_OPT_PROTOCOL_VERSION,
				 MQTT_PROTOCOL_V5) != MOSQ_ERR_SUCCESS)
		goto fail;
	if (cfg->tls != NULL) {
		d->tls = cfg->tls;
		if (mosquitto_int_option(d->mosq,
					 MOSQ_OPT_SSL_CTX_WITH_DEFAULTS,
					 0) != MOSQ_ERR_SUCCESS ||
		    mosquitto_void_option(d->mosq, MOSQ_OPT_SSL_CTX,
					  cfg->tls->ctx) != MOSQ_ERR_SUCCESS)
			goto fail;
	} else if (cfg->cafile != NULL &&
		   mosquitto_tls_set(d->mosq, cfg->cafile, NULL, cfg->certfile,
				     cfg->keyfile, NULL) != MOSQ_ERR_SUCCESS) {
		fl_linux__log(FL_LOG_ERROR, d->id,
			      "mqtt: TLS files refused (cafile %s)",
			      cfg->cafile);
		goto fail;
	}
	if (!cfg->is_clean_start) {
		rc = stash_session_expiry(d, cfg->session_expiry_s != 0
						     ? cfg->session_expiry_s
						     : DEFAULT_EXPIRY_S);
		if (rc != 0)
			goto fail;
	}
	mosquitto_connect_v5_callback_set(d->mosq, on_connect);
	mosquitto_subscribe_v5_callback_set(d->mosq, on_subscribe);
	mosquitto_message_v5_callback_set(d->mosq, on_message);
	mosquitto_disconnect_v5_callback_set(d->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(d->mosq, on_publish);
	mosquitto_log_callback_set(d->mosq, on_log);
	*out = d;
	return 0;
fail:
	if (d->mosq != NULL)
		mosquitto_destroy(d->mosq);
	free(d);
	return rc;
}

int fl_mqtt_dev_start(struct fl_mqtt_dev *d, struct fl_agent *agent)
{
	uint32_t boot;

	if (d == NULL || agent == NULL)
		return FL_EINVAL;
	if (d->state == ST_DRAINING || d->state == ST_STOPPING) {
		/* A stop still finishing: end it now, then start again. */
		int fd = mosquitto_socket(d->mosq);

		if (fd >= 0)
			(void)shutdown(fd, SHUT_RDWR);
		lost(d);
	}
	if (d->state != ST_IDLE)
		return d->agent == agent ? 0 : FL_ESTATE;
	boot = fl_agent_boot_count(agent);
	if (boot != d->boot || agent != d->agent)
		d->n_conn = 0; /* a new boot counts its connections from 1 */
	d->agent = agent;
	d->boot = boot;
	d->backoff_ms = d->backoff_min_ms;
	if (fl_loop_timer_at(d->loop, &d->misc_timer,
			     fl_loop_now_ms() + MISC_MS) != 0)
		return FL_ENOMEM;
	connect_now(d);
	return 0;
}

void fl_mqtt_dev_stop(struct fl_mqtt_dev *d, unsigned wait_ms)
{
	uint64_t deadline;
	size_t len = 0;

	if (d == NULL)
		return;
	if (d->state == ST_IDLE || d->state == ST_DRAINING ||
	    d->state == ST_STOPPING)
		return;
	fl_loop_timer_stop(d->loop, &d->retry_timer);
	if (d->state == ST_WAITING) {
		d->state = ST_IDLE;
		return;
	}
	if (d->state == ST_READY &&
	    presence(d, false, d->n_conn, d->buf, &len) == 0)
		(void)publish_raw(d, FL_TOPIC_PRESENCE, d->buf, len, 1, true);
	if (d->state == ST_READY && d->agent != NULL)
		fl_agent_on_disconnect(d->agent);
	d->stats.is_connected = false;
	/* Drain first: a socket closed with unread bytes (the broker's
	 * PUBACKs) is reset, and the broker then drops what it had not read
	 * yet -- the last statuses, the presence, the DISCONNECT. */
	d->state = ST_DRAINING;
	if (d->pending == 0) {
		disconnect_now(d);
		if (d->state == ST_IDLE)
			return;
	}
	deadline = fl_loop_now_ms() + (wait_ms != 0 ? wait_ms : DRAIN_MS);
	(void)fl_loop_timer_at(d->loop, &d->retry_timer, deadline);
	/* Wait on this socket alone (the loop may be running us); what is
	 * left when wait_ms is over, the loop finishes. */
	deadline = fl_loop_now_ms() + wait_ms;
	while (d->state == ST_DRAINING || d->state == ST_STOPPING) {
		int fd = mosquitto_socket(d->mosq);
		uint64_t now = fl_loop_now_ms();
		struct pollfd p;
		int n;

		if (fd < 0 || now >= deadline)
			break;
		p.fd = fd;
		p.events =
			(short)(POLLIN |
				(mosquitto_want_write(d->mosq) ? POLLOUT : 0));
		p.revents = 0;
		n = poll(&p, 1, (int)(deadline - now));
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP)))
			(void)mosquitto_loop_read(d->mosq, READ_PACKETS);
		if (n > 0 && (p.revents & POLLOUT) &&
		    mosquitto_socket(d->mosq) == fd)
			(void)mosquitto_loop_write(d->mosq, READ_PACKETS);
	}
	if (!sync_io(d))
		lost(d);
}

void fl_mqtt_dev_drop(struct fl_mqtt_dev *d)
{
	int fd;

	if (d == NULL)
		return;
	fl_loop_timer_stop(d->loop, &d->retry_timer);
	if (d->state == ST_READY && d->agent != NULL)
		fl_agent_on_disconnect(d->agent);
	d->stats.is_connected = false;
	d->state = ST_STOPPING; /* no reconnect after the loss */
	fd = mosquitto_socket(d->mosq);
	if (fd >= 0) {
		/* A TCP close without DISCONNECT: the broker sends the Will.
		 * libmosquitto reads the end of stream and closes. */
		(void)shutdown(fd, SHUT_RDWR);
		(void)mosquitto_loop_read(d->mosq, 1);
	}
	if (!sync_io(d) || d->state == ST_STOPPING)
		lost(d);
	d->state = ST_IDLE;
}

void fl_mqtt_dev_free(struct fl_mqtt_dev *d)
{
	if (d == NULL)
		return;
	fl_loop_timer_stop(d->loop, &d->retry_timer);
	fl_loop_timer_stop(d->loop, &d->misc_timer);
	if (d->fd >= 0)
		fl_loop_fd_del(d->loop, d->fd);
	mosquitto_destroy(d->mosq);
	free(d);
}

void fl_mqtt_dev_stats(const struct fl_mqtt_dev *d,
		       struct fl_mqtt_dev_stats *out)
{
	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	if (d != NULL)
		*out = d->stats;
}
