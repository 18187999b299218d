/*
 * bench_fleetd_watch.c -- the stopwatch of bench/bench_fleetd_rollback.sh:
 * a plain libmosquitto subscriber on every device's `status` (and, with
 * `cmds`, `cmd`; docs/protocol.md) that notes, in its own monotonic
 * milliseconds, when each device first reported on each job (for a
 * rollback job: when it took the command) and, with `cmds`, when each
 * rollback command went by.
 *
 *   bench_fleetd_watch PORT OUT [cmds]
 *
 * Without `cmds` the broker copies only the devices' statuses to the
 * watcher, not every command too: the stopwatch then adds less to the
 * broker's work it measures. Which jobs are rollbacks is then read from
 * fleetd's event log by the bench.
 *
 * Until SIGTERM or SIGINT; then writes OUT, one line per event:
 *   F MS DEVICE JOB RESULT   a final status other than success of a job
 *                            that is not a rollback seen here (a device
 *                            that failed its update: the gate's input)
 *   S MS DEVICE JOB          the first status of a job of a device
 *   C MS DEVICE JOB          with `cmds`: a rollback command (the first
 *                            time seen)
 *   A MS DEVICE JOB          with `cmds`: the first status of that
 *                            rollback job: the device took it (its
 *                            acknowledgement)
 * Subscribed at QoS 1 with 1000 messages in flight (as fleetd is), so the
 * broker drops nothing; it reads as fleetd does (mqtt_server.c: the socket
 * again while the kernel holds bytes). Devices: at most DEV_MAX. Exit 0,
 * 1 on an error.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "fl/proto.h"

#define DEV_MAX	   65536 /* a power of two */
#define FAILS_MAX  65536
#define FIRSTS_MAX 262144

struct dev {
	char id[FL_DEVICE_ID_MAX];
	uint32_t rb_job;
	uint32_t last_job;	/* of the last first status noted */
	int64_t cmd_ms, ack_ms; /* -1: not yet */
};

/* A device's first status of a job. */
struct first {
	int64_t ms;
	uint32_t job;
	uint32_t dev;
};

struct fail {
	int64_t ms;
	uint32_t job;
	uint8_t result;
	uint32_t dev;
};

static struct dev *devs;
static uint32_t *ix; /* open addressing: index + 1 */
static uint32_t n_devs;
static struct fail *fails;
static uint32_t n_fails;
static struct first *firsts;
static uint32_t n_firsts;
static bool is_watching_cmds;
static volatile sig_atomic_t is_stopping;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static struct dev *dev_of(const char *id)
{
	uint32_t h = hash(id) & (DEV_MAX - 1);

	while (ix[h] != 0) {
		if (strcmp(devs[ix[h] - 1].id, id) == 0)
			return &devs[ix[h] - 1];
		h = (h + 1) & (DEV_MAX - 1);
	}
	if (n_devs >= DEV_MAX / 2)
		return NULL;
	snprintf(devs[n_devs].id, sizeof(devs[n_devs].id), "%s", id);
	devs[n_devs].cmd_ms = devs[n_devs].ack_ms = -1;
	ix[h] = ++n_devs;
	return &devs[n_devs - 1];
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	static char cmd[] = "fleet/v1/dev/+/cmd";
	static char status[] = "fleet/v1/dev/+/status";
	char *subs[2] = {status, cmd};

	(void)obj;
	(void)flags;
	(void)props;
	if (rc == 0)
		(void)mosquitto_subscribe_multiple(
			m, NULL, is_watching_cmds ? 2 : 1, subs, 1, 0, NULL);
}

static void on_message(struct mosquitto *m, void *obj,
		       const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	static struct fl_cmd cmd;
	static struct fl_status st;
	struct fl_proto_diag diag;
	char id[FL_DEVICE_ID_MAX];
	int64_t t = now_ms();
	int kind = -1;
	struct dev *d;

	(void)m;
	(void)obj;
	(void)props;
	if (msg->topic == NULL || msg->payloadlen <= 0 ||
	    fl_topic_parse(id, &kind, msg->topic, strlen(msg->topic),
			   "fleet") != 0)
		return;
	d = dev_of(id);
	if (d == NULL)
		return;
	if (kind == FL_TOPIC_CMD) {
		if (fl_proto_decode_cmd(&cmd, msg->payload,
					(size_t)msg->payloadlen, &diag) != 0 ||
		    cmd.type != FL_CMD_ROLLBACK || d->rb_job == cmd.job)
			return;
		d->rb_job = cmd.job;
		d->cmd_ms = t;
		d->ack_ms = -1;
	} else if (kind == FL_TOPIC_STATUS) {
		if (fl_proto_decode_status(&st, msg->payload,
					   (size_t)msg->payloadlen, &diag) != 0)
			return;
		/* A device reports on one job at a time (a superseded one
		 * once more at most): a job not the last noted is new. */
		if (st.job != 0 && st.job != d->last_job &&
		    n_firsts < FIRSTS_MAX) {
			struct first *f = &firsts[n_firsts++];

			f->ms = t;
			f->job = st.job;
			f->dev = (uint32_t)(d - devs);
			d->last_job = st.job;
		}
		if (st.job == d->rb_job) {
			if (d->ack_ms < 0)
				d->ack_ms = t;
		} else if (fl_result_is_final(st.result) &&
			   st.result != FL_RESULT_SUCCESS &&
			   n_fails < FAILS_MAX) {
			struct fail *f = &fails[n_fails++];

			f->ms = t;
			f->job = st.job;
			f->result = st.result;
			f->dev = (uint32_t)(d - devs);
		}
	}
}

static void on_signal(int sig)
{
	(void)sig;
	is_stopping = 1;
}

int main(int argc, char **argv)
{
	struct mosquitto *m;
	FILE *out;
	int64_t t;

	if ((argc != 3 && argc != 4) ||
	    (argc == 4 && strcmp(argv[3], "cmds") != 0)) {
		fprintf(stderr, "usage: %s PORT OUT [cmds]\n", argv[0]);
		return 2;
	}
	devs = calloc(DEV_MAX / 2, sizeof(*devs));
	ix = calloc(DEV_MAX, sizeof(*ix));
	fails = calloc(FAILS_MAX, sizeof(*fails));
	firsts = calloc(FIRSTS_MAX, sizeof(*firsts));
	is_watching_cmds = argc == 4;
	if (devs == NULL || ix == NULL || fails == NULL || firsts == NULL)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	mosquitto_lib_init();
	m = mosquitto_new("bench-watch", true, NULL);
	if (m == NULL)
		return 1;
	(void)mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION,
				   MQTT_PROTOCOL_V5);
	(void)mosquitto_int_option(m, MOSQ_OPT_RECEIVE_MAXIMUM, 1000);
	(void)mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_v5_callback_set(m, on_connect);
	mosquitto_message_v5_callback_set(m, on_message);
	if (mosquitto_connect_bind_v5(m, "127.0.0.1",
				      (int)strtol(argv[1], NULL, 10), 60, NULL,
				      NULL) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "bench_fleetd_watch: cannot connect\n");
		return 1;
	}
	while (!is_stopping) {
		struct pollfd p;

		p.fd = mosquitto_socket(m);
		if (p.fd < 0) {
			fprintf(stderr,
				"bench_fleetd_watch: connection lost\n");
			return 1;
		}
		p.events = (short)(POLLIN |
				   (mosquitto_want_write(m) ? POLLOUT : 0));
		p.revents = 0;
		if (poll(&p, 1, 200) < 0 && errno != EINTR)
			return 1;
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
	out = fopen(argv[2], "w");
	if (out == NULL)
		return 1;
	t = now_ms();
	fprintf(out, "T %lld\n", (long long)t);
	for (uint32_t i = 0; i < n_fails; i++)
		fprintf(out, "F %lld %s %u %s\n", (long long)fails[i].ms,
			devs[fails[i].dev].id, (unsigned)fails[i].job,
			fl_result_name(fails[i].result));
	for (uint32_t i = 0; i < n_firsts; i++)
		fprintf(out, "S %lld %s %u\n", (long long)firsts[i].ms,
			devs[firsts[i].dev].id, (unsigned)firsts[i].job);
	for (uint32_t i = 0; i < n_devs; i++) {
		const struct dev *d = &devs[i];

		if (d->cmd_ms >= 0)
			fprintf(out, "C %lld %s %u\n", (long long)d->cmd_ms,
				d->id, (unsigned)d->rb_job);
		if (d->ack_ms >= 0)
			fprintf(out, "A %lld %s %u\n", (long long)d->ack_ms,
				d->id, (unsigned)d->rb_job);
	}
	fclose(out);
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
	return 0;
}
