/*
 * test_mqtt_pubs.c -- fleetd's MQTT client (orchestrator/fleetd/
 * mqtt_server.c) with publishing connections, against a real mosquitto on
 * a free loopback port: every publisher connects under its own client id,
 * a device's commands always take the same one and arrive in the order
 * they were sent, the counters sum every connection, a stop drains every
 * publisher, and a publisher that lost its connection refuses its own
 * devices' commands while the others go on. Also what fl_mqtt_srv_new
 * refuses.
 *
 * Usage: test_mqtt_pubs MOSQUITTO
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>
#include <mosquitto.h>

#include "fl/err.h"
#include "fl/loop.h"
#include "mqtt_server.h"

#define N_PUBS	   4
#define N_DEVICES  24
#define N_PER_DEV  5
#define N_CMDS	   (N_DEVICES * N_PER_DEV)
#define WAIT_MS	   10000
#define CLIENT_ID  "fleetd-test"
#define ROOT	   "fleet"
#define TOPIC_HEAD ROOT "/v1/dev/"

static const char *mosquitto_exe;

struct seen {
	unsigned n;
	char device[N_CMDS * 2][32];
	uint32_t job[N_CMDS * 2];
};

struct fixture {
	pid_t broker;
	uint16_t port;
	struct fl_loop *loop;
	struct fl_mqtt_srv *srv;
	struct mosquitto *sub;
	bool is_subscribed;
	struct seen seen;
};

static uint16_t free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port;

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static pid_t start_broker(uint16_t port)
{
	char p[8];
	pid_t pid;

	snprintf(p, sizeof(p), "%u", (unsigned)port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(mosquitto_exe, mosquitto_exe, "-p", p, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void stop_broker(pid_t pid)
{
	if (pid <= 0)
		return;
	(void)kill(pid, SIGTERM);
	(void)waitpid(pid, NULL, 0);
}

static void on_sub_connect(struct mosquitto *m, void *obj, int rc)
{
	(void)obj;
	if (rc == 0)
		(void)mosquitto_subscribe(m, NULL, TOPIC_HEAD "+/cmd", 1);
}

static void on_sub_subscribe(struct mosquitto *m, void *obj, int mid, int n_qos,
			     const int *granted)
{
	struct fixture *f = obj;

	(void)m;
	(void)mid;
	(void)n_qos;
	(void)granted;
	f->is_subscribed = true;
}

/* Records the device and the job of every command received. */
static void on_sub_message(struct mosquitto *m, void *obj,
			   const struct mosquitto_message *msg)
{
	struct fixture *f = obj;
	const char *dev = msg->topic + strlen(TOPIC_HEAD);
	const char *end = strchr(dev, '/');
	const char *job;
	struct seen *s = &f->seen;

	(void)m;
	if (s->n >= N_CMDS * 2 || end == NULL || msg->payloadlen <= 0)
		return;
	snprintf(s->device[s->n], sizeof(s->device[s->n]), "%.*s",
		 (int)(end - dev), dev);
	job = strstr((const char *)msg->payload, "\"job\":");
	s->job[s->n] = job != NULL ? (uint32_t)strtoul(job + 6, NULL, 10) : 0;
	s->n++;
}

/* Runs fleetd's loop and the subscriber until done(f) or WAIT_MS. */
static bool pump(struct fixture *f, bool (*done)(struct fixture *))
{
	uint64_t end = fl_loop_now_ms() + WAIT_MS;

	while (!done(f)) {
		if (fl_loop_now_ms() >= end)
			return false;
		assert_int_equal(fl_loop_run_once(f->loop, 5), 0);
		if (f->sub != NULL)
			(void)mosquitto_loop(f->sub, 5, 1);
	}
	return true;
}

static bool is_all_up(struct fixture *f)
{
	struct fl_mqtt_srv_stats st;

	fl_mqtt_srv_stats(f->srv, &st);
	return st.is_connected && st.pubs_up == N_PUBS &&
	       (f->sub == NULL || f->is_subscribed);
}

static bool is_all_acked(struct fixture *f)
{
	struct fl_mqtt_srv_stats st;

	fl_mqtt_srv_stats(f->srv, &st);
	return st.acked == st.sent && f->seen.n >= st.sent;
}

static void srv_config(struct fl_mqtt_srv_config *c, uint16_t port,
		       unsigned pubs)
{
	memset(c, 0, sizeof(*c));
	c->host = "127.0.0.1";
	c->port = port;
	c->root = ROOT;
	c->client_id = CLIENT_ID;
	c->publishers = pubs;
	c->backoff_min_ms = 50;
	c->backoff_max_ms = 200;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct fl_mqtt_srv_config c;
	uint64_t end;

	assert_non_null(f);
	f->port = free_port();
	f->broker = start_broker(f->port);
	assert_int_equal(fl_loop_new(&f->loop), 0);
	srv_config(&c, f->port, N_PUBS);
	assert_int_equal(fl_mqtt_srv_new(&f->srv, f->loop, &c), 0);
	f->sub = mosquitto_new("watcher", true, f);
	assert_non_null(f->sub);
	mosquitto_connect_callback_set(f->sub, on_sub_connect);
	mosquitto_subscribe_callback_set(f->sub, on_sub_subscribe);
	mosquitto_message_callback_set(f->sub, on_sub_message);
	/* the broker takes a moment to listen */
	end = fl_loop_now_ms() + WAIT_MS;
	while (mosquitto_connect(f->sub, "127.0.0.1", f->port, 30) !=
	       MOSQ_ERR_SUCCESS) {
		assert_true(fl_loop_now_ms() < end);
		usleep(50000);
	}
	assert_int_equal(fl_mqtt_srv_start(f->srv), 0);
	assert_true(pump(f, is_all_up));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fl_mqtt_srv_stop(f->srv, 1000);
	fl_mqtt_srv_free(f->srv);
	if (f->sub != NULL) {
		(void)mosquitto_disconnect(f->sub);
		mosquitto_destroy(f->sub);
	}
	fl_loop_free(f->loop);
	stop_broker(f->broker);
	free(f);
	return 0;
}

static void cmd_for(struct fl_cmd *c, uint32_t job)
{
	memset(c, 0, sizeof(*c));
	c->type = FL_CMD_CANCEL;
	c->job = job;
	c->issued = (uint64_t)time(NULL);
	c->expires = c->issued + 3600;
}

static void device_name(char *out, size_t cap, unsigned i)
{
	snprintf(out, cap, "dev-%02u", i);
}

/* Every device's commands in order, spread over every publisher. */
static void test_pubs__order_and_spread(void **state)
{
	struct fixture *f = *state;
	struct fl_mqtt_srv_stats st;
	unsigned per_pub[N_PUBS] = {0};
	uint32_t last[N_DEVICES] = {0};
	char dev[32];
	struct fl_cmd c;

	for (unsigned k = 0; k < N_PER_DEV; k++)
		for (unsigned i = 0; i < N_DEVICES; i++) {
			device_name(dev, sizeof(dev), i);
			cmd_for(&c, 1000u * (i + 1) + k + 1);
			assert_int_equal(fl_mqtt_srv_send(f->srv, dev, &c), 0);
		}
	for (unsigned i = 0; i < N_DEVICES; i++) {
		int r;

		device_name(dev, sizeof(dev), i);
		r = fl_mqtt_srv_route(f->srv, dev);
		assert_true(r >= 0 && r < N_PUBS);
		assert_int_equal(fl_mqtt_srv_route(f->srv, dev), r);
		per_pub[r]++;
	}
	for (unsigned r = 0; r < N_PUBS; r++)
		assert_true(per_pub[r] > 0);
	assert_true(pump(f, is_all_acked));
	fl_mqtt_srv_stats(f->srv, &st);
	assert_int_equal(st.sent, N_CMDS);
	assert_int_equal(st.acked, N_CMDS);
	assert_int_equal(st.send_fails, 0);
	assert_int_equal(f->seen.n, N_CMDS);
	for (unsigned n = 0; n < f->seen.n; n++) {
		unsigned i = (unsigned)atoi(f->seen.device[n] + 4);

		assert_true(i < N_DEVICES);
		assert_int_equal(f->seen.job[n] / 1000u, i + 1);
		assert_true(f->seen.job[n] > last[i]); /* in order */
		last[i] = f->seen.job[n];
	}
	for (unsigned i = 0; i < N_DEVICES; i++)
		assert_int_equal(last[i] % 1000u, N_PER_DEV);
	assert_int_equal(fl_mqtt_srv_route(f->srv, NULL), -1);
}

/* Commands sent just before a stop are all acknowledged by it. */
static void test_pubs__stop_drains_every_publisher(void **state)
{
	struct fixture *f = *state;
	struct fl_mqtt_srv_stats st;
	char dev[32];
	struct fl_cmd c;

	for (unsigned i = 0; i < N_DEVICES; i++) {
		device_name(dev, sizeof(dev), i);
		cmd_for(&c, i + 1);
		assert_int_equal(fl_mqtt_srv_send(f->srv, dev, &c), 0);
	}
	fl_mqtt_srv_stop(f->srv, 5000);
	fl_mqtt_srv_stats(f->srv, &st);
	assert_false(st.is_connected);
	assert_int_equal(st.pubs_up, 0);
	assert_int_equal(st.sent, N_DEVICES);
	assert_int_equal(st.acked, N_DEVICES);
	/* stopped: refused, counted */
	assert_int_equal(fl_mqtt_srv_send(f->srv, "dev-00", &c), FL_EIO);
	fl_mqtt_srv_stats(f->srv, &st);
	assert_int_equal(st.send_fails, 1);
}

/* The broker goes away: every connection refuses; it comes back on the
 * same port: every publisher reconnects and commands flow again (to no
 * subscriber: "no matching subscribers" is an acknowledgement). */
static void test_pubs__broker_restart(void **state)
{
	struct fixture *f = *state;
	struct fl_mqtt_srv_stats st;
	struct fl_cmd c;
	uint64_t end;

	stop_broker(f->broker);
	f->broker = 0;
	end = fl_loop_now_ms() + WAIT_MS;
	do {
		assert_int_equal(fl_loop_run_once(f->loop, 20), 0);
		fl_mqtt_srv_stats(f->srv, &st);
		assert_true(fl_loop_now_ms() < end);
	} while (st.pubs_up > 0 || st.is_connected);
	cmd_for(&c, 7);
	assert_int_equal(fl_mqtt_srv_send(f->srv, "dev-01", &c), FL_EIO);
	mosquitto_destroy(f->sub);
	f->sub = NULL;
	f->broker = start_broker(f->port);
	assert_true(pump(f, is_all_up));
	assert_int_equal(fl_mqtt_srv_send(f->srv, "dev-01", &c), 0);
	end = fl_loop_now_ms() + WAIT_MS;
	do {
		assert_int_equal(fl_loop_run_once(f->loop, 20), 0);
		fl_mqtt_srv_stats(f->srv, &st);
		assert_true(fl_loop_now_ms() < end);
	} while (st.acked < 1);
}

/* What the publishers' configuration refuses, and a client id at its
 * longest still gives every publisher a valid one of its own. */
static void test_pubs__config(void **state)
{
	struct fl_mqtt_srv_config c;
	struct fl_mqtt_srv *s = NULL;
	struct fl_loop *loop = NULL;
	char id[FL_MQTT_SRV_CLIENT_ID_MAX];

	(void)state;
	assert_int_equal(fl_loop_new(&loop), 0);
	srv_config(&c, 1883, FL_MQTT_SRV_PUBS_MAX + 1);
	assert_int_equal(fl_mqtt_srv_new(&s, loop, &c), FL_EINVAL);
	assert_null(s);
	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	srv_config(&c, 1883, FL_MQTT_SRV_PUBS_MAX);
	c.client_id = id;
	assert_int_equal(fl_mqtt_srv_new(&s, loop, &c), 0);
	assert_int_equal(fl_mqtt_srv_route(s, "x"), fl_mqtt_srv_route(s, "x"));
	fl_mqtt_srv_free(s);
	srv_config(&c, 1883, 0); /* the main connection sends */
	assert_int_equal(fl_mqtt_srv_new(&s, loop, &c), 0);
	assert_int_equal(fl_mqtt_srv_route(s, "x"), -1);
	fl_mqtt_srv_free(s);
	fl_loop_free(loop);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pubs__config),
		cmocka_unit_test_setup_teardown(test_pubs__order_and_spread,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_pubs__stop_drains_every_publisher, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_pubs__broker_restart,
						setup, teardown),
	};
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s MOSQUITTO\n", argv[0]);
		return 2;
	}
	mosquitto_exe = argv[1];
	signal(SIGPIPE, SIG_IGN);
	mosquitto_lib_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	mosquitto_lib_cleanup();
	return rc;
}
