/*
 * esp32_priv.h -- what the files of the ESP-IDF adapter share: the events
 * the other tasks hand to the agent task, and the state of each port.
 * Private to agent/esp32.
 *
 * Method (threads): agent/core is not thread-safe, so exactly one task,
 * the agent task (agent_task.c), calls it. esp-mqtt calls back on its own
 * task (transport.c) and the HTTP transfer runs on the download task
 * (downloader.c); both turn what happens into a struct fl_esp32_event and
 * send it through one FreeRTOS queue, the agent task's only input besides
 * its timer. A download event that carries data (a response, a chunk)
 * points into the download task's memory: that task waits, blocked, until
 * the agent task has handed the data to the agent and sends back the
 * agent's return code (a task notification), so the data needs no copy
 * and a slow flash slows the download instead of filling memory.
 *
 * Nothing that runs on esp-mqtt's task ever waits for the agent task:
 * esp-mqtt may hold its API lock while it calls us, and the agent task
 * may be waiting for that lock to enqueue a publish. So the queue is
 * never allowed to fill up: the download task has at most one event in
 * it (it waits for each), connection changes are coalesced into at most
 * one STATE event (the agent task reads the current state when it takes
 * it), and a cmd is queued only while FL_ESP32_RESERVED slots stay free,
 * else dropped with a log line.
 */
#ifndef FL_ESP32_PRIV_H
#define FL_ESP32_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/task.h"
#include "mqtt_client.h"
#include "sdkconfig.h"

#include "fl/agent.h"
#include "fl/agent_esp32.h"
#include "fl/proto.h"

#define FL_ESP32_TAG "fl_agent"

enum fl_esp32_ev_kind {
	FL_ESP32_EV_CMD = 1,	     /* data: heap copy of a cmd payload */
	FL_ESP32_EV_STATE = 2,	     /* the connection changed: look */
	FL_ESP32_EV_DL_RESPONSE = 3, /* data: struct fl_agent_dl_response */
	FL_ESP32_EV_DL_DATA = 4,     /* data: a chunk of the body */
	FL_ESP32_EV_DL_DONE = 5,     /* err: 0 or the transfer's error */
};

struct fl_esp32_event {
	uint8_t kind; /* enum fl_esp32_ev_kind */
	uint32_t gen; /* DL_*: the transfer it belongs to */
	int err;      /* DL_DONE */
	size_t len;   /* of data */
	void *data;   /* see the kinds; NULL otherwise */
};

#define FL_ESP32_QUEUE_DEPTH 8
#define FL_ESP32_RESERVED    2 /* slots a cmd may not take */

/* ---- transport (transport.c): esp-mqtt -------------------------------- */

struct fl_esp32_mqtt {
	esp_mqtt_client_handle_t client;
	esp_mqtt_client_config_t cfg; /* kept whole for esp_mqtt_set_config */
	char id[FL_DEVICE_ID_MAX];
	char uri[128];
	char topic[FL_TOPIC_KINDS][FL_TOPIC_MAX];
	uint32_t boot; /* the agent's boot count, for presence */
	/* esp-mqtt's task only. */
	uint32_t conn;	   /* connection number since boot */
	uint32_t failures; /* connection attempts since the last success */
	int sub_msg_id;	   /* of the cmd subscription in flight */
	char will[96];	   /* the Will: presence offline of conn */
	/* Shared: written by esp-mqtt's task, read by the agent task. */
	atomic_bool is_up;	/* connected and subscribed to cmd */
	atomic_uint up_conn;	/* the connection that is up */
	atomic_bool is_pending; /* a STATE event is in the queue */
	/* The agent task only. */
	bool is_agent_up;    /* the agent was told: connected */
	uint32_t agent_conn; /* on this connection */
	char *pub;	     /* encode buffer: the agent's (fl_agent_msg_buf) */
	size_t pub_size;
};

extern const struct fl_agent_transport_ops fl_esp32_transport_ops;

/* Builds the topics and the client (not started). Returns 0, FL_EINVAL
 * (a bad id, root or URI) or FL_ENOMEM. */
int fl_esp32_mqtt_init(struct fl_esp32_mqtt *m, const char *id, const char *uri,
		       uint32_t boot, char *pub, size_t pub_size);
int fl_esp32_mqtt_start(struct fl_esp32_mqtt *m);
/* Agent task, on a STATE event: tells the agent what changed (a
 * disconnect, a new connection: presence online, then on_connect). */
void fl_esp32_mqtt_on_state(struct fl_esp32_mqtt *m, struct fl_agent *a);
/* Agent task: publishes presence offline and disconnects (before a
 * reboot). */
void fl_esp32_mqtt_goodbye(struct fl_esp32_mqtt *m);

/* ---- downloader (downloader.c): esp_http_client on its own task ------- */

struct fl_esp32_dl_request {
	uint32_t gen;
	uint32_t offset, length;
	char url[FL_MANIFEST_URL_MAX];
	char validator[FL_AGENT_VALIDATOR_MAX];
};

struct fl_esp32_http {
	TaskHandle_t task;
	QueueHandle_t requests;		/* depth 1, overwritten by start() */
	atomic_uint_fast32_t gen;	/* the transfer the agent wants */
	struct fl_esp32_dl_request req; /* the one running (task's copy) */
	struct fl_agent_dl_response resp;
	/* Response headers of the current response (ON_HEADER), and
	 * whether each was too long to keep. */
	char etag[FL_AGENT_VALIDATOR_MAX];
	char last_modified[FL_AGENT_VALIDATOR_MAX];
	char content_range[64];
	bool is_long_etag, is_long_modified, is_long_range;
	uint8_t chunk[CONFIG_FL_AGENT_DL_CHUNK_BYTES];
};

extern const struct fl_agent_downloader_ops fl_esp32_downloader_ops;

/* Creates the download task and its request queue. Returns 0 or
 * FL_ENOMEM. */
int fl_esp32_http_start(struct fl_esp32_http *h);

/* ---- clock (clock.c) -------------------------------------------------- */

extern const struct fl_agent_clock_ops fl_esp32_clock_ops;
extern const struct fl_agent_clock_ops fl_esp32_clock_utc_ops;

/* Sets TZ if configured, starts SNTP if configured. Returns 0 or an
 * error of SNTP's start (FL_EIO). */
int fl_esp32_clock_start(void);

/* ---- device (device.c) ------------------------------------------------ */

struct fl_esp32_device {
	struct fl_agent_esp32_hooks hooks;
	uint32_t crashes; /* since provisioning, from NVS */
	bool is_reboot_requested;
};

extern const struct fl_agent_device_ops fl_esp32_device_ops;

/* Reads the crash counter from NVS and counts this boot in it if it
 * follows a panic or a watchdog reset. Returns 0 or FL_EIO (NVS: the
 * counter then stays 0 for this boot). */
int fl_esp32_device_init(struct fl_esp32_device *d,
			 const struct fl_agent_esp32_hooks *hooks);

/* ---- keys (keys.c) ---------------------------------------------------- */

#define FL_ESP32_KEYS_MAX  4
#define FL_ESP32_ROOTS_MAX 4

/* Parses the embedded PEM files into keys (the trusted signing keys) and
 * roots (the root keys), P-256 public points and their ids, and sets
 * *n_keys and *n_roots. Either file may hold none, not both; a key twice
 * in one file is refused. Returns 0 or FL_EINVAL. */
int fl_esp32_keys_load(struct fl_manifest_key keys[FL_ESP32_KEYS_MAX],
		       int *n_keys,
		       struct fl_manifest_key roots[FL_ESP32_ROOTS_MAX],
		       int *n_roots, const struct fl_crypto_ops *crypto);

/* ---- encrypted images (sealing.c or sealing_none.c) ------------------- */

/* Sets c's fields of encrypted images (fl/agent.h): with a wrap key
 * configured (CONFIG_FL_AGENT_WRAP_KEY_FILE; sealing.c), the device's key
 * bound to device_id (static: it is kept), one chunk's record buffer of
 * CONFIG_FL_AGENT_CHUNK_MAX and no decompression; without one
 * (sealing_none.c), nothing. Returns 0 or FL_EINVAL (the embedded file
 * holds no P-256 private key). */
int fl_esp32_sealing_configure(struct fl_agent_config *c, const char *device_id,
			       const struct fl_crypto_ops *crypto);

/* ---- the agent task (agent_task.c) ------------------------------------ */

/* Sends an event to the agent task without waiting, if more than
 * `reserve` slots are free. Returns 0 or FL_EBUSY. */
int fl_esp32_post(const struct fl_esp32_event *e, unsigned reserve);

/* Download task: sends e and waits for the agent's return code. */
int fl_esp32_post_and_wait(const struct fl_esp32_event *e);

/* The wall clock is trusted (set by the API or SNTP). */
extern atomic_bool fl_esp32_time_trusted;
/* The application called fl_agent_esp32_mark_boot_ok(). */
extern atomic_bool fl_esp32_boot_ok;

#endif
