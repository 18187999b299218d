/*
 * transport.c -- the transport port over esp-mqtt: MQTT 5 with a
 * persistent session (Clean Start 0, Session Expiry), presence as the
 * Will, the cmd subscription, and the device's publishes.
 *
 * Two tasks meet here. esp-mqtt's task runs mqtt_event(): it keeps the
 * connection number, rewrites the Will and the reconnect delay before
 * each connection attempt (MQTT_EVENT_BEFORE_CONNECT, through
 * esp_mqtt_set_config, which is what that event is for), subscribes after
 * CONNACK, and turns the subscription's acknowledgement, a disconnect and
 * every cmd message into events for the agent task (esp32_priv.h). The
 * agent task runs everything else: it encodes (fl_proto_encode_*) in the
 * agent's message buffer (fl_agent_msg_buf(): a message is encoded in
 * place, over the struct the agent built there) and enqueues with
 * esp_mqtt_client_enqueue(), which copies the message into esp-mqtt's
 * outbox and returns without touching the network, so the agent task
 * never blocks on a socket, and no payload buffer of this adapter's
 * duplicates esp-mqtt's.
 *
 * Reconnect: esp-mqtt's own reconnect, its delay set before each attempt
 * to 1 s doubling to 5 min with +-50 % jitter (docs/protocol.md, "MQTT
 * session rules"), counted from the last successful connection.
 *
 * Connection changes are not queued one by one: esp-mqtt's task updates
 * is_up and up_conn and queues one STATE event unless one is pending; the
 * agent task clears the pending flag, then reads the state, so no change
 * is lost and the queue never holds more than one (esp32_priv.h says why
 * esp-mqtt's task must never wait for the queue).
 *
 * Memory: a cmd payload (at most FL_PROTO_MSG_MAX bytes; esp-mqtt's
 * buffer is sized so that such a message arrives whole) is copied to the
 * heap for the agent task, which frees it; the queue bounds how many wait.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp_log.h"
#include "esp_random.h"
#include "mqtt_client.h"
#include "sdkconfig.h"
#ifdef CONFIG_MQTT_PROTOCOL_5
#include "mqtt5_client.h"
#endif
#ifdef CONFIG_FL_AGENT_TLS_CRT_BUNDLE
#include "esp_crt_bundle.h"
#endif

#include "esp32_priv.h"
#include "fl/bytes.h"
#include "fl/err.h"

#define BACKOFF_FIRST_MS 1000u
#define BACKOFF_MAX_MS	 300000u

static const char *TAG = FL_ESP32_TAG;

/* The delay before attempt number `failures` + 1: 1 s doubling, capped at
 * 5 min, then +-50 % of jitter. */
static int backoff_ms(uint32_t failures)
{
	uint32_t ms = BACKOFF_FIRST_MS;

	for (uint32_t i = 0; i < failures && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	return (int)(ms / 2 + esp_random() % (ms + 1));
}

/* esp-mqtt's task: before every attempt, a new connection number, its
 * Will, the delay after it if it fails. */
static void before_connect(struct fl_esp32_mqtt *m)
{
	struct fl_presence p;
	size_t n = 0;

	m->conn++;
	memset(&p, 0, sizeof(p));
	p.is_online = false;
	p.boot = m->boot;
	p.conn = m->conn;
	if (fl_proto_encode_presence(m->will, sizeof(m->will), &n, &p) != 0)
		n = 0; /* cannot happen: every field is bounded */
	m->cfg.session.last_will.msg = m->will;
	m->cfg.session.last_will.msg_len = (int)n;
	m->cfg.network.reconnect_timeout_ms = backoff_ms(m->failures);
	m->failures++;
	if (esp_mqtt_set_config(m->client, &m->cfg) != ESP_OK)
		ESP_LOGW(TAG, "mqtt: could not update the Will");
}

/* esp-mqtt's task: a message on the cmd topic, copied for the agent. */
static void on_data(struct fl_esp32_mqtt *m, const esp_mqtt_event_t *ev)
{
	const char *cmd = m->topic[FL_TOPIC_CMD];
	struct fl_esp32_event e;

	if (ev->current_data_offset != 0)
		return; /* the rest of a message refused below */
	if (ev->topic == NULL || (size_t)ev->topic_len != strlen(cmd) ||
	    memcmp(ev->topic, cmd, (size_t)ev->topic_len) != 0) {
		ESP_LOGW(TAG, "mqtt: message on an unexpected topic dropped");
		return;
	}
	if (ev->total_data_len > FL_PROTO_MSG_MAX ||
	    ev->data_len != ev->total_data_len) {
		ESP_LOGW(TAG, "mqtt: cmd of %d bytes refused (limit %d)",
			 ev->total_data_len, FL_PROTO_MSG_MAX);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.kind = FL_ESP32_EV_CMD;
	e.len = (size_t)ev->data_len;
	e.data = malloc(e.len > 0 ? e.len : 1);
	if (e.data == NULL) {
		ESP_LOGE(TAG, "mqtt: no memory for a cmd of %zu bytes", e.len);
		return;
	}
	memcpy(e.data, ev->data, e.len);
	if (fl_esp32_post(&e, FL_ESP32_RESERVED) != 0) {
		ESP_LOGE(TAG, "mqtt: agent busy, cmd dropped");
		free(e.data);
	}
}

/* esp-mqtt's task: the connection changed; one STATE event at most. */
static void signal_state(struct fl_esp32_mqtt *m)
{
	struct fl_esp32_event e;

	if (atomic_exchange(&m->is_pending, true))
		return;
	memset(&e, 0, sizeof(e));
	e.kind = FL_ESP32_EV_STATE;
	if (fl_esp32_post(&e, 0) != 0) /* cannot happen: slots reserved */
		atomic_store(&m->is_pending, false);
}

static void mqtt_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
	struct fl_esp32_mqtt *m = arg;
	esp_mqtt_event_handle_t ev = data;

	(void)base;
	switch ((esp_mqtt_event_id_t)id) {
	case MQTT_EVENT_BEFORE_CONNECT: before_connect(m); break;
	case MQTT_EVENT_CONNECTED:
		m->failures = 0;
		m->sub_msg_id = esp_mqtt_client_subscribe(
			m->client, m->topic[FL_TOPIC_CMD], 1);
		if (m->sub_msg_id < 0) {
			ESP_LOGE(TAG, "mqtt: subscribe failed; reconnecting");
			(void)esp_mqtt_client_disconnect(m->client);
		}
		break;
	case MQTT_EVENT_SUBSCRIBED:
		if (ev->msg_id != m->sub_msg_id)
			break;
		atomic_store(&m->up_conn, m->conn);
		atomic_store(&m->is_up, true);
		signal_state(m);
		break;
	case MQTT_EVENT_DISCONNECTED:
		if (atomic_exchange(&m->is_up, false))
			signal_state(m);
		break;
	case MQTT_EVENT_DATA: on_data(m, ev); break;
	case MQTT_EVENT_ERROR:
		ESP_LOGW(TAG, "mqtt: error (type %d)",
			 ev->error_handle ? (int)ev->error_handle->error_type
					  : -1);
		break;
	default: break;
	}
}

int fl_esp32_mqtt_init(struct fl_esp32_mqtt *m, const char *id, const char *uri,
		       uint32_t boot, char *pub, size_t pub_size)
{
	int rc;

	memset(m, 0, sizeof(*m));
	if (fl_device_id_check(id) != 0 ||
	    fl_strlcpy(m->id, id, sizeof(m->id)) != 0 ||
	    fl_strlcpy(m->uri, uri, sizeof(m->uri)) != 0)
		return FL_EINVAL;
	for (int k = 0; k < FL_TOPIC_KINDS; k++) {
		rc = fl_topic_build(m->topic[k], sizeof(m->topic[k]),
				    CONFIG_FL_AGENT_TOPIC_ROOT, m->id, k);
		if (rc != 0)
			return FL_EINVAL;
	}
	m->boot = boot;
	m->pub = pub;
	m->pub_size = pub_size;
	atomic_init(&m->is_up, false);
	atomic_init(&m->up_conn, 0);
	atomic_init(&m->is_pending, false);

	m->cfg.broker.address.uri = m->uri;
#ifdef CONFIG_FL_AGENT_TLS_CRT_BUNDLE
	m->cfg.broker.verification.crt_bundle_attach = esp_crt_bundle_attach;
#endif
	m->cfg.credentials.client_id = m->id;
	if (CONFIG_FL_AGENT_BROKER_USERNAME[0] != '\0') {
		m->cfg.credentials.username = CONFIG_FL_AGENT_BROKER_USERNAME;
		m->cfg.credentials.authentication.password =
			CONFIG_FL_AGENT_BROKER_PASSWORD;
	}
#ifdef CONFIG_MQTT_PROTOCOL_5
	m->cfg.session.protocol_ver = MQTT_PROTOCOL_V_5;
#else
	m->cfg.session.protocol_ver = MQTT_PROTOCOL_V_3_1_1;
#endif
	m->cfg.session.disable_clean_session = true; /* Clean Start 0 */
	m->cfg.session.keepalive = CONFIG_FL_AGENT_KEEPALIVE_S;
	m->cfg.session.last_will.topic = m->topic[FL_TOPIC_PRESENCE];
	m->cfg.session.last_will.msg = m->will;
	m->cfg.session.last_will.msg_len = 0; /* set before each connect */
	m->cfg.session.last_will.qos = 1;
	m->cfg.session.last_will.retain = 1;
	m->cfg.network.reconnect_timeout_ms = (int)BACKOFF_FIRST_MS;
	/* A whole cmd (2048 bytes) and its topic in one buffer. */
	m->cfg.buffer.size = FL_PROTO_MSG_MAX + FL_TOPIC_MAX + 64;
	m->client = esp_mqtt_client_init(&m->cfg);
	if (m->client == NULL)
		return FL_ENOMEM;
#ifdef CONFIG_MQTT_PROTOCOL_5
	{
		esp_mqtt5_connection_property_config_t prop;

		memset(&prop, 0, sizeof(prop));
		prop.session_expiry_interval = CONFIG_FL_AGENT_SESSION_EXPIRY_S;
		prop.will_delay_interval = 0;
		if (esp_mqtt5_client_set_connect_property(m->client, &prop) !=
		    ESP_OK)
			return FL_ENOMEM;
	}
#else
	ESP_LOGW(TAG, "mqtt: CONFIG_MQTT_PROTOCOL_5 is off: MQTT 3.1.1, no "
		      "session expiry");
#endif
	if (esp_mqtt_client_register_event(m->client, MQTT_EVENT_ANY,
					   mqtt_event, m) != ESP_OK)
		return FL_ENOMEM;
	return 0;
}

int fl_esp32_mqtt_start(struct fl_esp32_mqtt *m)
{
	return esp_mqtt_client_start(m->client) == ESP_OK ? 0 : FL_ENOMEM;
}

/* Agent task: hands an encoded message to esp-mqtt's outbox. */
static int enqueue(struct fl_esp32_mqtt *m, int kind, size_t len, int qos,
		   int retain)
{
	int id;

	if (!atomic_load(&m->is_up))
		return FL_EIO;
	id = esp_mqtt_client_enqueue(m->client, m->topic[kind], m->pub,
				     (int)len, qos, retain, true);
	if (id < 0) {
		ESP_LOGW(TAG, "mqtt: %s not queued (%d)",
			 fl_topic_kind_name(kind), id);
		return FL_EIO;
	}
	return 0;
}

static int encode_failed(const char *what, int rc)
{
	/* A struct the codec refuses: a bug, or a bad Kconfig string. */
	ESP_LOGE(TAG, "mqtt: %s not encoded: %s", what, fl_strerror(rc));
	return rc;
}

static int publish_status(void *ctx, const struct fl_status *s)
{
	struct fl_esp32_mqtt *m = ctx;
	size_t n = 0;
	int rc = fl_proto_encode_status(m->pub, m->pub_size, &n, s);

	if (rc != 0)
		return encode_failed("status", rc);
	return enqueue(m, FL_TOPIC_STATUS, n, 1, 0);
}

static int publish_reported(void *ctx, const struct fl_reported *r)
{
	struct fl_esp32_mqtt *m = ctx;
	size_t n = 0;
	int rc = fl_proto_encode_reported(m->pub, m->pub_size, &n, r);

	if (rc != 0)
		return encode_failed("reported", rc);
	return enqueue(m, FL_TOPIC_REPORTED, n, 1, 1);
}

static int publish_health(void *ctx, const struct fl_health *h)
{
	struct fl_esp32_mqtt *m = ctx;
	size_t n = 0;
	int rc = fl_proto_encode_health(m->pub, m->pub_size, &n, h);

	if (rc != 0)
		return encode_failed("health", rc);
	return enqueue(m, FL_TOPIC_HEALTH, n, 0, 0);
}

static int publish_presence(struct fl_esp32_mqtt *m, bool is_online,
			    uint32_t conn)
{
	struct fl_presence p;
	size_t n = 0;
	int rc;

	memset(&p, 0, sizeof(p));
	p.is_online = is_online;
	p.boot = m->boot;
	p.conn = conn;
	(void)fl_strlcpy(p.agent, CONFIG_FL_AGENT_VERSION, sizeof(p.agent));
	rc = fl_proto_encode_presence(m->pub, m->pub_size, &n, &p);
	if (rc != 0)
		return encode_failed("presence", rc);
	return enqueue(m, FL_TOPIC_PRESENCE, n, 1, 1);
}

void fl_esp32_mqtt_on_state(struct fl_esp32_mqtt *m, struct fl_agent *a)
{
	bool is_up;
	uint32_t conn;

	atomic_store(&m->is_pending, false); /* first: no change is lost */
	is_up = atomic_load(&m->is_up);
	conn = atomic_load(&m->up_conn);
	if (m->is_agent_up && (!is_up || conn != m->agent_conn)) {
		ESP_LOGI(TAG, "mqtt: disconnected");
		fl_agent_on_disconnect(a);
		m->is_agent_up = false;
	}
	if (is_up && !m->is_agent_up) {
		ESP_LOGI(TAG, "mqtt: connected as %s (connection %" PRIu32 ")",
			 m->id, conn);
		m->is_agent_up = true;
		m->agent_conn = conn;
		/* docs/protocol.md: presence, then reported and the job's
		 * status, which the agent publishes on connect. */
		(void)publish_presence(m, true, conn);
		(void)fl_agent_on_connect(a);
	}
}

void fl_esp32_mqtt_goodbye(struct fl_esp32_mqtt *m)
{
	/* Wait (at most 3 s) for the outbox to drain, so that the last
	 * status and the offline presence reach the broker; a Will would
	 * say the same, but later. */
	if (m->is_agent_up && publish_presence(m, false, m->agent_conn) == 0) {
		for (int i = 0;
		     i < 30 && esp_mqtt_client_get_outbox_size(m->client) > 0;
		     i++)
			vTaskDelay(pdMS_TO_TICKS(100));
	}
	atomic_store(&m->is_up, false);
	(void)esp_mqtt_client_disconnect(m->client);
}

const struct fl_agent_transport_ops fl_esp32_transport_ops = {
	.version = FL_AGENT_PORT_VERSION,
	.name = "esp-mqtt",
	.publish_status = publish_status,
	.publish_reported = publish_reported,
	.publish_health = publish_health,
};
