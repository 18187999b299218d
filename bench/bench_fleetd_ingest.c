/*
 * bench_fleetd_ingest.c -- device reports per second that a running fleetd
 * ingests and persists, against the broker's raw throughput for the same
 * messages in the same run (bench/bench_fleetd_ingest.sh starts fleetd).
 *
 *   bench_fleetd_ingest PORT DB [DEVICES] [HEALTH] [CONNECTIONS]
 *
 * Method: every message is encoded beforehand with the protocol codec
 * (docs/protocol.md), for DEVICES device ids bi-000001 ...: a presence
 * (online, retained), a reported (retained) and HEALTH health reports
 * (uptime_s 1 .. HEALTH), so DEVICES * (2 + HEALTH) messages, all at QoS
 * 1: health is QoS 0 on the wire, but at QoS 0 mosquitto drops what a
 * subscriber has not taken yet, and a burst at full speed is exactly
 * that. A plain libmosquitto subscriber ("raw") subscribes to the
 * same four filters as fleetd (QoS 1) and counts. Then CONNECTIONS
 * publisher connections on the broker at PORT replay the messages at full
 * speed (device d on connection d % CONNECTIONS, round by round: every
 * device's presence, then every reported, then the health rounds), written
 * as fast as the broker reads them (non-blocking, one thread). Meanwhile
 * the store DB (fleetd's fleet.db, opened read-only) is polled every
 * POLL_MS for the devices whose presence, reported and last health are
 * all stored; fleetd applies a device's reports in order, so all DEVICES
 * there means every message is ingested and committed.
 *
 * Times run from the first publish: raw = M / (raw subscriber's last
 * message), fleetd = M / (the poll that saw all DEVICES). The poll adds at
 * most POLL_MS. Prints the figures and the ratio (target >= 0.8); exit 0
 * when it could measure, 1 otherwise (a message lost, a time limit).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <sqlite3.h>

#include "fl/proto.h"

#define PREFIX	    "bi"
#define POLL_MS	    50
#define LIMIT_S	    60
#define CONNS_MAX   64
#define RAW_FILTERS 4

struct msg {
	char topic[FL_TOPIC_MAX];
	char *payload;
	int len;
	int qos;
	bool retain;
};

struct pubconn {
	struct mosquitto *mosq;
	size_t *order; /* indexes into msgs, in publishing order */
	size_t n, next;
	atomic_size_t acked; /* QoS 1 acknowledged */
	size_t qos1;
	bool is_connected;
};

static struct msg *msgs;
static size_t n_msgs;
static atomic_size_t raw_count;
static atomic_bool raw_ready, raw_stop;
static _Atomic double raw_last_s;
static double t0_s;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_fleetd_ingest: %s\n", what);
	exit(1);
}

/* ---- the messages -------------------------------------------------------- */

static void add(const char *id, int kind, const char *json, size_t len, int qos,
		bool retain)
{
	struct msg *m = &msgs[n_msgs++];

	if (fl_topic_build(m->topic, sizeof(m->topic), "fleet", id, kind) != 0)
		die("topic");
	m->payload = malloc(len);
	if (m->payload == NULL)
		die("out of memory");
	memcpy(m->payload, json, len);
	m->len = (int)len;
	m->qos = qos;
	m->retain = retain;
}

static void build(unsigned devices, unsigned health)
{
	char buf[FL_PROTO_MSG_MAX + 1], id[FL_DEVICE_ID_MAX];
	size_t len;

	msgs = calloc((size_t)devices * (2 + health), sizeof(*msgs));
	if (msgs == NULL)
		die("out of memory");
	for (unsigned round = 0; round < 2 + health; round++) {
		for (unsigned d = 0; d < devices; d++) {
			snprintf(id, sizeof(id), PREFIX "-%06u", d + 1);
			if (round == 0) {
				struct fl_presence p = {0};

				p.is_online = true;
				p.boot = 1;
				p.conn = 1;
				p.ts = 1748736000;
				snprintf(p.agent, sizeof(p.agent), "0.1.0");
				if (fl_proto_encode_presence(buf, sizeof(buf),
							     &len, &p) != 0)
					die("presence");
				add(id, FL_TOPIC_PRESENCE, buf, len, 1, true);
			} else if (round == 1) {
				struct fl_reported r;

				memset(&r, 0, sizeof(r));
				snprintf(r.model, sizeof(r.model), "bench-m");
				r.boot = 1;
				r.ts = 1748736000;
				snprintf(r.agent, sizeof(r.agent), "0.1.0");
				r.n_labels = 2;
				snprintf(r.labels[0].key,
					 sizeof(r.labels[0].key), "site");
				snprintf(r.labels[0].value,
					 sizeof(r.labels[0].value), "lyon");
				snprintf(r.labels[1].key,
					 sizeof(r.labels[1].key), "ring");
				snprintf(r.labels[1].value,
					 sizeof(r.labels[1].value), "r%u",
					 d % 10);
				r.n_components = 1;
				snprintf(r.components[0].name,
					 sizeof(r.components[0].name),
					 "firmware");
				snprintf(r.components[0].version,
					 sizeof(r.components[0].version),
					 "1.0.0");
				r.n_slots = 2;
				r.slots[0].state = FL_WIRE_SLOT_CONFIRMED;
				snprintf(r.slots[0].version,
					 sizeof(r.slots[0].version), "1.0.0");
				r.slots[0].seq = 1;
				r.slots[1].state = FL_WIRE_SLOT_EMPTY;
				r.floor = 1;
				if (fl_proto_encode_reported(buf, sizeof(buf),
							     &len, &r) != 0)
					die("reported");
				add(id, FL_TOPIC_REPORTED, buf, len, 1, true);
			} else {
				struct fl_health h;

				memset(&h, 0, sizeof(h));
				h.ts = 1748736000 + round;
				h.uptime_s = round - 1;
				h.boot = 1;
				h.reset = FL_WIRE_RESET_POWER_ON;
				snprintf(h.version, sizeof(h.version), "1.0.0");
				h.n_metrics = 3;
				snprintf(h.metrics[0].name,
					 sizeof(h.metrics[0].name), "cpu_pct");
				h.metrics[0].value = 10 + d % 50;
				snprintf(h.metrics[1].name,
					 sizeof(h.metrics[1].name),
					 "free_heap");
				h.metrics[1].value = 40960;
				snprintf(h.metrics[2].name,
					 sizeof(h.metrics[2].name), "temp_c");
				h.metrics[2].value = 41.5;
				if (fl_proto_encode_health(buf, sizeof(buf),
							   &len, &h) != 0)
					die("health");
				add(id, FL_TOPIC_HEALTH, buf, len, 1, false);
			}
		}
	}
}

/* ---- the raw subscriber -------------------------------------------------- */

static void raw_on_connect(struct mosquitto *m, void *obj, int rc, int flags,
			   const mosquitto_property *props)
{
	static const char *const kinds[RAW_FILTERS] = {"presence", "reported",
						       "status", "health"};
	char f[RAW_FILTERS][64];
	char *subs[RAW_FILTERS];

	(void)obj;
	(void)flags;
	(void)props;
	if (rc != 0)
		return;
	for (int i = 0; i < RAW_FILTERS; i++) {
		snprintf(f[i], sizeof(f[i]), "fleet/v1/dev/+/%s", kinds[i]);
		subs[i] = f[i];
	}
	(void)mosquitto_subscribe_multiple(m, NULL, RAW_FILTERS, subs, 1, 0,
					   NULL);
}

static void raw_on_subscribe(struct mosquitto *m, void *obj, int mid, int n_qos,
			     const int *granted,
			     const mosquitto_property *props)
{
	(void)m;
	(void)obj;
	(void)mid;
	(void)n_qos;
	(void)granted;
	(void)props;
	atomic_store(&raw_ready, true);
}

static void raw_on_message(struct mosquitto *m, void *obj,
			   const struct mosquitto_message *msg,
			   const mosquitto_property *props)
{
	atomic_fetch_add(&raw_count, 1);

	(void)obj;
	(void)msg;
	(void)props;
	(void)m;
	atomic_store(&raw_last_s, now_s());
}

/* As fleetd reads (mqtt_server.c): mosquitto_loop_read() takes about one
 * packet per call, so the socket is read again while the kernel holds
 * bytes; a subscriber that waits for readiness before every packet would
 * measure its own wake-ups, not the broker. */
static void *raw_main(void *arg)
{
	struct mosquitto *m = arg;

	while (atomic_load(&raw_count) < n_msgs && !atomic_load(&raw_stop)) {
		struct pollfd p;

		p.fd = mosquitto_socket(m);
		if (p.fd < 0)
			break;
		p.events = (short)(POLLIN |
				   (mosquitto_want_write(m) ? POLLOUT : 0));
		p.revents = 0;
		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			break;
		if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
			for (int i = 0; i < 4096; i++) {
				int avail = 0;

				if (mosquitto_loop_read(m, 1) !=
					    MOSQ_ERR_SUCCESS ||
				    ioctl(p.fd, FIONREAD, &avail) != 0 ||
				    avail <= 0)
					break;
			}
		}
		if (mosquitto_want_write(m))
			(void)mosquitto_loop_write(m, 64);
		(void)mosquitto_loop_misc(m);
	}
	return NULL;
}

/* ---- the publisher ------------------------------------------------------- */

static void pub_on_connect(struct mosquitto *m, void *obj, int rc, int flags,
			   const mosquitto_property *props)
{
	struct pubconn *c = obj;

	(void)m;
	(void)flags;
	(void)props;
	c->is_connected = rc == 0;
}

static void pub_on_publish(struct mosquitto *m, void *obj, int mid, int rc,
			   const mosquitto_property *props)
{
	struct pubconn *c = obj;

	(void)m;
	(void)mid;
	(void)rc;
	(void)props;
	atomic_fetch_add(&c->acked, 1);
}

static struct mosquitto *client(const char *id, void *obj, int port)
{
	struct mosquitto *m = mosquitto_new(id, true, obj);

	if (m == NULL)
		die("mosquitto_new");
	(void)mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION,
				   MQTT_PROTOCOL_V5);
	(void)mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
	/* as fleetd's client: 1000 QoS 1 messages in flight each way */
	(void)mosquitto_int_option(m, MOSQ_OPT_RECEIVE_MAXIMUM, 1000);
	(void)mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, 1000);
	if (mosquitto_connect_bind_v5(m, "127.0.0.1", port, 60, NULL, NULL) !=
	    MOSQ_ERR_SUCCESS)
		die("cannot connect to the broker");
	return m;
}

/* Writes messages on every connection whose socket takes more, until all
 * are out and every QoS 1 one is acknowledged. Returns the time the last
 * was handed to the socket. */
static double publish_all(struct pubconn *c, unsigned nc)
{
	struct pollfd p[CONNS_MAX];
	double out_at = 0;

	for (;;) {
		bool done = true;

		for (unsigned i = 0; i < nc; i++) {
			struct mosquitto *m = c[i].mosq;

			while (c[i].next < c[i].n && !mosquitto_want_write(m)) {
				const struct msg *x =
					&msgs[c[i].order[c[i].next]];

				if (mosquitto_publish_v5(
					    m, NULL, x->topic, x->len,
					    x->payload, x->qos, x->retain,
					    NULL) != MOSQ_ERR_SUCCESS)
					die("publish refused");
				c[i].next++;
				if (c[i].next == c[i].n)
					out_at = now_s();
			}
			if (c[i].next < c[i].n ||
			    atomic_load(&c[i].acked) < c[i].qos1)
				done = false;
			p[i].fd = mosquitto_socket(m);
			p[i].events = (short)(POLLIN |
					      (mosquitto_want_write(m) ? POLLOUT
								       : 0));
			p[i].revents = 0;
		}
		if (done)
			return out_at;
		if (now_s() - t0_s > LIMIT_S)
			die("publishing took longer than the time limit");
		if (poll(p, nc, 100) < 0 && errno != EINTR)
			die("poll");
		for (unsigned i = 0; i < nc; i++) {
			if (p[i].revents & (POLLIN | POLLERR | POLLHUP))
				(void)mosquitto_loop_read(c[i].mosq, 64);
			if (p[i].revents & POLLOUT)
				(void)mosquitto_loop_write(c[i].mosq, 64);
			(void)mosquitto_loop_misc(c[i].mosq);
		}
	}
}

/* ---- the store ----------------------------------------------------------- */

struct poller {
	sqlite3 *db;
	sqlite3_stmt *q;
	unsigned devices;
	atomic_bool stop;
	double done_s; /* 0: not yet */
	unsigned last;
	unsigned polls;
};

static void *poll_main(void *arg)
{
	struct poller *p = arg;

	while (!atomic_load(&p->stop)) {
		int rc = sqlite3_step(p->q);

		if (rc == SQLITE_ROW)
			p->last = (unsigned)sqlite3_column_int(p->q, 0);
		sqlite3_reset(p->q);
		p->polls++;
		if (p->last >= p->devices) {
			p->done_s = now_s();
			break;
		}
		if (now_s() - t0_s > LIMIT_S)
			break;
		usleep(POLL_MS * 1000);
	}
	return NULL;
}

static void poller_open(struct poller *p, const char *path, unsigned devices,
			unsigned health)
{
	char sql[256], id_end[16];

	p->devices = devices;
	if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		die("cannot open the store");
	sqlite3_busy_timeout(p->db, 1000);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM devices WHERE id >= ?1 AND id < ?2"
		 " AND p_conn = 1 AND reported_at >= 0"
		 " AND instr(health, '\"uptime_s\":%u,') > 0",
		 health);
	if (sqlite3_prepare_v2(p->db, sql, -1, &p->q, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(p->db));
	snprintf(id_end, sizeof(id_end), PREFIX ".");
	sqlite3_bind_text(p->q, 1, PREFIX "-", -1, SQLITE_STATIC);
	sqlite3_bind_text(p->q, 2, id_end, -1, SQLITE_TRANSIENT);
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct pubconn c[CONNS_MAX];
	struct mosquitto *raw;
	struct poller pl;
	pthread_t raw_th, poll_th;
	unsigned devices = 10000, health = 6, nc = 4;
	double pub_s, raw_s, fld_s, t_poll0, t_poll;
	int port;

	if (argc < 3) {
		fprintf(stderr,
			"usage: %s PORT DB [DEVICES] [HEALTH] "
			"[CONNECTIONS]\n",
			argv[0]);
		return 2;
	}
	port = (int)strtol(argv[1], NULL, 10);
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "%s: bad port %s\n", argv[0], argv[1]);
		return 2;
	}
	if (argc > 3)
		devices = (unsigned)strtoul(argv[3], NULL, 10);
	if (argc > 4)
		health = (unsigned)strtoul(argv[4], NULL, 10);
	if (argc > 5)
		nc = (unsigned)strtoul(argv[5], NULL, 10);
	if (port <= 0 || devices == 0 || devices > 999999 || health == 0 ||
	    health > 1000 || nc == 0 || nc > CONNS_MAX)
		die("bad arguments");
	mosquitto_lib_init();
	build(devices, health);

	/* the raw subscriber, subscribed before anything is published */
	raw = client("bench-raw", NULL, port);
	mosquitto_connect_v5_callback_set(raw, raw_on_connect);
	mosquitto_subscribe_v5_callback_set(raw, raw_on_subscribe);
	mosquitto_message_v5_callback_set(raw, raw_on_message);
	if (pthread_create(&raw_th, NULL, raw_main, raw) != 0)
		die("thread");

	memset(c, 0, sizeof(c));
	for (unsigned i = 0; i < nc; i++) {
		char id[32];

		c[i].order = malloc(n_msgs * sizeof(size_t));
		if (c[i].order == NULL)
			die("out of memory");
		snprintf(id, sizeof(id), "bench-pub-%u", i);
		c[i].mosq = client(id, &c[i], port);
		mosquitto_connect_v5_callback_set(c[i].mosq, pub_on_connect);
		mosquitto_publish_v5_callback_set(c[i].mosq, pub_on_publish);
	}
	for (size_t k = 0; k < n_msgs; k++) {
		struct pubconn *x = &c[(k % devices) % nc];

		x->order[x->n++] = k;
		if (msgs[k].qos > 0)
			x->qos1++;
	}
	/* every connection up, the raw subscriber subscribed */
	t0_s = now_s();
	for (;;) {
		bool up = atomic_load(&raw_ready);

		for (unsigned i = 0; i < nc; i++) {
			if (!c[i].is_connected)
				(void)mosquitto_loop(c[i].mosq, 10, 1);
			up = up && c[i].is_connected;
		}
		if (up)
			break;
		if (now_s() - t0_s > 10)
			die("the broker did not accept the connections");
	}
	poller_open(&pl, argv[2], devices, health);
	t_poll0 = now_s();
	for (int i = 0; i < 20; i++) {
		(void)sqlite3_step(pl.q);
		sqlite3_reset(pl.q);
	}
	t_poll = (now_s() - t_poll0) / 20;
	if (pthread_create(&poll_th, NULL, poll_main, &pl) != 0)
		die("thread");

	t0_s = now_s();
	pub_s = publish_all(c, nc) - t0_s;
	pthread_join(poll_th, NULL);
	raw_s = atomic_load(&raw_last_s) - t0_s;
	fld_s = pl.done_s > 0 ? pl.done_s - t0_s : 0;
	while (atomic_load(&raw_count) < n_msgs && now_s() - t0_s < LIMIT_S)
		usleep(10000);
	atomic_store(&raw_stop, true);
	pthread_join(raw_th, NULL);

	printf("fleetd ingest: %u devices, %zu messages (%u presence, %u "
	       "reported, %u health each), %u publisher connections\n",
	       devices, n_msgs, 1u, 1u, health, nc);
	printf("  published in %.2f s (%.0f msg/s into the broker)\n", pub_s,
	       (double)n_msgs / pub_s);
	printf("  raw subscriber: %zu of %zu in %.2f s: %.0f msg/s\n",
	       atomic_load(&raw_count), n_msgs, raw_s,
	       (double)atomic_load(&raw_count) / raw_s);
	if (fld_s <= 0) {
		printf("  fleetd: only %u of %u devices fully stored after "
		       "%d s\n",
		       pl.last, devices, LIMIT_S);
		return 1;
	}
	printf("  fleetd, ingested and committed: %zu in %.2f s: %.0f msg/s "
	       "(store polled every %d ms, %.1f ms a poll)\n",
	       n_msgs, fld_s, (double)n_msgs / fld_s, POLL_MS, 1000 * t_poll);
	printf("  ratio fleetd / raw: %.2f (target >= 0.8)\n", raw_s / fld_s);
	sqlite3_finalize(pl.q);
	sqlite3_close(pl.db);
	return atomic_load(&raw_count) == n_msgs ? 0 : 1;
}
