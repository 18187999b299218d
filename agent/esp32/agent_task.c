/*
 * agent_task.c -- fl_agent_esp32_start() and the agent task: the one task
 * that runs agent/core, fed by a FreeRTOS queue (esp32_priv.h explains
 * the threads).
 *
 * Start-up, on the caller's task, before any other task exists: the
 * device id, the clock, the crash counter, the trusted and root keys; the
 * flash adapters over ota_0, ota_1, the slot records and the agent's store
 * partitions, otadata as the boot control; the slot manager, provisioning
 * the running image as CONFIRMED on a device that has no record yet (a
 * device flashed over serial); the wrap key of encrypted images when one
 * is configured (sealing.c); fl_agent_init(). Then the download task,
 * the MQTT client and the agent task.
 *
 * The agent task waits on the queue for at most the delay
 * fl_agent_poll() asked for, hands the event to the agent, polls it, and
 * carries out a reboot the agent requested (presence offline, then
 * esp_restart()). If the agent halts on a flash or store error, the task
 * restarts the device after CONFIG_FL_AGENT_HALT_RESTART_S (a restart
 * starts the agent again from what is persisted, agent.h), except for a
 * state format this agent does not know, where it stays halted.
 *
 * Everything the agent keeps is static: one agent per device, its RAM
 * fixed at link time; the configuration structs, which the slot manager,
 * the store and the agent copy, live on the caller's stack.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp_app_desc.h"
#include "esp_image_format.h"
#include "esp_log.h"
#include "esp_mac.h"
#include "esp_ota_ops.h"
#include "esp_partition.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "sdkconfig.h"

#include "esp32_priv.h"
#include "fl/bytes.h"
#include "fl/crypto_mbedtls.h"
#include "fl/err.h"
#include "fl/flash_esp32.h"

#define SUBTYPE_SLOTS 0x40 /* data partition of the slot records */
#define SUBTYPE_STORE 0x41 /* data partition of the agent's store */

static const char *TAG = FL_ESP32_TAG;

/* The whole adapter's state. */
static struct {
	atomic_bool is_started;
	struct fl_agent agent;
	struct fl_slots slots;
	struct fl_boot_esp_otadata boot;
	struct fl_flash_esp_part part[FL_SLOT_COUNT], records, store_part;
	struct fl_agent_flash_store store;
	struct fl_manifest_key keys[FL_ESP32_KEYS_MAX];
	struct fl_manifest_key roots[FL_ESP32_ROOTS_MAX];
	char id[FL_DEVICE_ID_MAX];
	struct fl_esp32_mqtt mqtt;
	struct fl_esp32_http http;
	struct fl_esp32_device dev;
	QueueHandle_t queue;
	StaticQueue_t queue_struct;
	uint8_t queue_storage[FL_ESP32_QUEUE_DEPTH *
			      sizeof(struct fl_esp32_event)];
	TaskHandle_t task;
	struct fl_cmd cmd; /* a command is decoded into this */
	struct fl_proto_diag diag;
} s;

/* ---- the queue ---------------------------------------------------------- */

int fl_esp32_post(const struct fl_esp32_event *e, unsigned reserve)
{
	if (reserve > 0 && uxQueueSpacesAvailable(s.queue) <= reserve)
		return FL_EBUSY;
	return xQueueSend(s.queue, e, 0) == pdTRUE ? 0 : FL_EBUSY;
}

int fl_esp32_post_and_wait(const struct fl_esp32_event *e)
{
	uint32_t answer = 0;

	(void)xTaskNotifyStateClear(NULL); /* no stale answer */
	if (xQueueSend(s.queue, e, portMAX_DELAY) != pdTRUE)
		return FL_EBUSY;
	(void)xTaskNotifyWait(0, UINT32_MAX, &answer, portMAX_DELAY);
	return (int)(int32_t)answer;
}

/* Answers the download task (it waits for every event it sends). */
static void answer(int rc)
{
	(void)xTaskNotify(s.http.task, (uint32_t)(int32_t)rc,
			  eSetValueWithOverwrite);
}

/* ---- events ------------------------------------------------------------- */

static void on_cmd(struct fl_esp32_event *e)
{
	int rc;

	memset(&s.diag, 0, sizeof(s.diag));
	rc = fl_proto_decode_cmd(&s.cmd, e->data, e->len, &s.diag);
	free(e->data);
	if (rc == 0) {
		rc = fl_agent_on_cmd(&s.agent, &s.cmd);
	} else {
		ESP_LOGW(TAG, "cmd refused: %s", s.diag.msg);
		rc = fl_agent_on_cmd_invalid(&s.agent, s.cmd.job, s.diag.msg);
	}
	if (rc != 0)
		ESP_LOGE(TAG, "agent: cmd: %s", fl_strerror(rc));
}

/* A download event: handed to the agent if it belongs to the transfer
 * the agent is waiting for, else answered "stop". */
static void on_download(struct fl_esp32_event *e)
{
	int rc = FL_ESTATE;

	if (e->gen == (uint32_t)atomic_load(&s.http.gen)) {
		switch (e->kind) {
		case FL_ESP32_EV_DL_RESPONSE:
			rc = fl_agent_on_dl_response(&s.agent, e->data);
			break;
		case FL_ESP32_EV_DL_DATA:
			rc = fl_agent_on_dl_data(&s.agent, e->data, e->len);
			break;
		default: rc = fl_agent_on_dl_done(&s.agent, e->err); break;
		}
	}
	answer(rc);
}

static void handle(struct fl_esp32_event *e)
{
	switch (e->kind) {
	case FL_ESP32_EV_CMD: on_cmd(e); break;
	case FL_ESP32_EV_STATE:
		fl_esp32_mqtt_on_state(&s.mqtt, &s.agent);
		break;
	case FL_ESP32_EV_DL_RESPONSE:
	case FL_ESP32_EV_DL_DATA:
	case FL_ESP32_EV_DL_DONE: on_download(e); break;
	default: break;
	}
}

static void do_reboot(void)
{
	ESP_LOGI(TAG, "rebooting, as the agent asked");
	fl_esp32_mqtt_goodbye(&s.mqtt);
	esp_restart();
}

static void agent_task(void *arg)
{
	uint32_t next_ms = 0;
	int64_t halted_at = -1;

	(void)arg;
	for (;;) {
		struct fl_esp32_event e;
		int rc;

		TickType_t wait = pdMS_TO_TICKS(next_ms);

		/* At least a tick when idle, so a busy agent still yields. */
		if (xQueueReceive(s.queue, &e, wait > 0 ? wait : 1) == pdTRUE)
			handle(&e);
		rc = fl_agent_poll(&s.agent, &next_ms);
		if (s.dev.is_reboot_requested)
			do_reboot();
		if (rc == 0)
			continue;
		/* Halted: every call now returns rc (agent.h). */
		next_ms = 1000;
		if (halted_at < 0) {
			ESP_LOGE(TAG, "agent halted: %s", fl_strerror(rc));
			halted_at = (int64_t)(esp_timer_get_time() / 1000000);
		}
		if (rc != FL_ECORRUPT && CONFIG_FL_AGENT_HALT_RESTART_S > 0 &&
		    esp_timer_get_time() / 1000000 - halted_at >=
			    CONFIG_FL_AGENT_HALT_RESTART_S)
			do_reboot();
	}
}

/* ---- start-up ----------------------------------------------------------- */

static int device_id(const struct fl_agent_esp32_config *cfg)
{
	if (cfg != NULL && cfg->device_id != NULL) {
		if (fl_strlcpy(s.id, cfg->device_id, sizeof(s.id)) != 0)
			return FL_EINVAL;
	} else {
#ifdef CONFIG_FL_AGENT_DEVICE_ID_FROM_CONFIG
		if (fl_strlcpy(s.id, CONFIG_FL_AGENT_DEVICE_ID, sizeof(s.id)) !=
		    0)
			return FL_EINVAL;
#else
		uint8_t mac[6];

		if (esp_efuse_mac_get_default(mac) != ESP_OK)
			return FL_EIO;
		(void)snprintf(s.id, sizeof(s.id), "%s%02x%02x%02x%02x%02x%02x",
			       CONFIG_FL_AGENT_DEVICE_ID_PREFIX, mac[0], mac[1],
			       mac[2], mac[3], mac[4], mac[5]);
#endif
	}
	if (fl_device_id_check(s.id) != 0) {
		ESP_LOGE(TAG,
			 "device id \"%s\" is not an ident of 1..63 "
			 "characters",
			 s.id);
		return FL_EINVAL;
	}
	return 0;
}

/* The running image's version for its provisioning record: the app
 * version if it fits the charset, else "0.0.0". */
static void factory_version(char out[FL_VERSION_MAX])
{
	const char *v = esp_app_get_description()->version;
	size_t n = strlen(v);
	bool ok = n > 0 && n < FL_VERSION_MAX;

	for (size_t i = 0; ok && i < n; i++) {
		char c = v[i];

		ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		     (c >= 'A' && c <= 'Z') || c == '.' || c == '+' ||
		     c == '_' || c == '-';
	}
	(void)fl_strlcpy(out, ok ? v : "0.0.0", FL_VERSION_MAX);
	if (!ok)
		ESP_LOGW(TAG,
			 "app version \"%s\" is not a version: recorded "
			 "as 0.0.0",
			 v);
}

/* A device with no CONFIRMED or TRIAL record (flashed over serial):
 * records the running image, its length from its header and its
 * SHA-256 read back from flash, as CONFIRMED. */
static int provision(const struct fl_slots_config *sc)
{
	const esp_partition_t *run = esp_ota_get_running_partition();
	esp_partition_pos_t pos;
	esp_image_metadata_t md;
	struct fl_hash_ctx h;
	uint8_t buf[256], digest[FL_SHA256_BYTES];
	char version[FL_VERSION_MAX];
	unsigned slot;
	int rc;

	for (unsigned i = 0; i < FL_SLOT_COUNT; i++)
		if (s.slots.info[i].state == FL_SLOT_CONFIRMED ||
		    s.slots.info[i].state == FL_SLOT_TRIAL)
			return 0;
	if (run == NULL || (run->address != s.boot.slot[0]->address &&
			    run->address != s.boot.slot[1]->address))
		return FL_ESTATE; /* a factory app: not an A/B device */
	slot = run->address == s.boot.slot[0]->address ? 0 : 1;
	memset(&pos, 0, sizeof(pos));
	pos.offset = run->address;
	pos.size = run->size;
	if (esp_image_get_metadata(&pos, &md) != ESP_OK || md.image_len == 0 ||
	    md.image_len > run->size)
		return FL_EIO;
	rc = sc->crypto->sha256_init(&h);
	for (uint32_t off = 0; rc == 0 && off < md.image_len;) {
		uint32_t k = md.image_len - off;

		if (k > sizeof(buf))
			k = sizeof(buf);
		rc = fl_area_read(&sc->slot[slot], off, buf, k);
		if (rc == 0)
			rc = sc->crypto->sha256_update(&h, buf, k);
		off += k;
	}
	if (rc == 0)
		rc = sc->crypto->sha256_final(&h, digest);
	if (rc != 0)
		return rc;
	factory_version(version);
	ESP_LOGI(TAG, "provisioning slot %u: %s, %" PRIu32 " bytes", slot,
		 version, md.image_len);
	return fl_slots_provision(&s.slots, slot, md.image_len, digest, version,
				  CONFIG_FL_AGENT_FACTORY_SEQ);
}

/* Flash adapters, the slot manager and the store. */
static int open_flash(struct fl_slots_config *sc, struct fl_area *store)
{
	int rc;

	if ((rc = fl_boot_esp_otadata_init(&s.boot)) != 0 ||
	    (rc = fl_flash_esp_part_init(&s.part[0], s.boot.slot[0])) != 0 ||
	    (rc = fl_flash_esp_part_init(&s.part[1], s.boot.slot[1])) != 0)
		return rc;
	rc = fl_flash_esp_part_find(&s.records, ESP_PARTITION_TYPE_DATA,
				    (esp_partition_subtype_t)SUBTYPE_SLOTS,
				    CONFIG_FL_AGENT_SLOTS_PARTITION);
	if (rc == 0)
		rc = fl_flash_esp_part_find(
			&s.store_part, ESP_PARTITION_TYPE_DATA,
			(esp_partition_subtype_t)SUBTYPE_STORE,
			CONFIG_FL_AGENT_STORE_PARTITION);
	if (rc != 0) {
		ESP_LOGE(TAG, "partitions %s (0x40) and %s (0x41) are needed",
			 CONFIG_FL_AGENT_SLOTS_PARTITION,
			 CONFIG_FL_AGENT_STORE_PARTITION);
		return rc;
	}
	memset(sc, 0, sizeof(*sc));
	if ((rc = fl_area_init(&sc->meta, &s.records.flash, 0,
			       s.records.flash.geom.size_bytes)) != 0 ||
	    (rc = fl_area_init(&sc->slot[0], &s.part[0].flash, 0,
			       s.part[0].flash.geom.size_bytes)) != 0 ||
	    (rc = fl_area_init(&sc->slot[1], &s.part[1].flash, 0,
			       s.part[1].flash.geom.size_bytes)) != 0 ||
	    (rc = fl_area_init(store, &s.store_part.flash, 0,
			       s.store_part.flash.geom.size_bytes)) != 0)
		return rc;
	sc->boot = &s.boot.boot;
	sc->crypto = &fl_crypto_mbedtls;
	sc->trial_tries = 1; /* what ESP-IDF's bootloader grants */
	if ((rc = fl_slots_init(&s.slots, sc)) != 0 ||
	    (rc = provision(sc)) != 0 ||
	    (rc = fl_slots_open(&s.slots, sc)) != 0)
		return rc;
	return fl_agent_flash_store_init(&s.store, store);
}

/* The agent's configuration; fl_agent_init() copies it. */
static int configure(struct fl_agent_config *c,
		     const struct fl_agent_esp32_config *app, int n_keys,
		     int n_roots)
{
	memset(c, 0, sizeof(*c));
	c->slots = &s.slots;
	c->crypto = &fl_crypto_mbedtls;
	c->keys = n_keys > 0 ? s.keys : NULL;
	c->n_keys = (unsigned)n_keys;
	c->roots = n_roots > 0 ? s.roots : NULL;
	c->n_roots = (unsigned)n_roots;
	if (CONFIG_FL_AGENT_ROLLBACK_KEY_INDEX >= 0) {
		if (CONFIG_FL_AGENT_ROLLBACK_KEY_INDEX >= n_keys)
			return FL_EINVAL;
		c->rollback_kids =
			(const uint8_t(*)[FL_MANIFEST_KID_BYTES]) &
			s.keys[CONFIG_FL_AGENT_ROLLBACK_KEY_INDEX].kid;
		c->n_rollback_kids = 1;
	}
	c->transport.ops = &fl_esp32_transport_ops;
	c->transport.ctx = &s.mqtt;
	c->downloader.ops = &fl_esp32_downloader_ops;
	c->downloader.ctx = &s.http;
	c->clock.ops = CONFIG_FL_AGENT_TZ_POSIX[0] != '\0'
			       ? &fl_esp32_clock_ops
			       : &fl_esp32_clock_utc_ops;
	c->store.ops = &fl_agent_flash_store_ops;
	c->store.ctx = &s.store;
	c->device.ops = &fl_esp32_device_ops;
	c->device.ctx = &s.dev;
	c->model = CONFIG_FL_AGENT_MODEL;
	c->component = CONFIG_FL_AGENT_COMPONENT;
	c->tz = CONFIG_FL_AGENT_TZ;
	c->agent_version = CONFIG_FL_AGENT_VERSION;
	if (app != NULL && app->n_labels > 0) {
		if (app->n_labels > FL_PROTO_LABELS_MAX || app->labels == NULL)
			return FL_EINVAL;
		c->labels = app->labels; /* borrowed: static in the app */
		c->n_labels = app->n_labels;
	}
	c->min_battery_pct = CONFIG_FL_AGENT_MIN_BATTERY_PCT;
	c->retry_s = CONFIG_FL_AGENT_RETRY_S;
	c->max_waits = CONFIG_FL_AGENT_MAX_WAITS;
	c->health_window_s = CONFIG_FL_AGENT_HEALTH_WINDOW_S;
	c->health_interval_s = CONFIG_FL_AGENT_HEALTH_INTERVAL_S;
	c->health_sample_ms = CONFIG_FL_AGENT_HEALTH_SAMPLE_MS;
	c->checkpoint_bytes = CONFIG_FL_AGENT_CHECKPOINT_BYTES;
	c->dl_max_tries = CONFIG_FL_AGENT_DL_MAX_TRIES;
	return fl_esp32_sealing_configure(c, s.id, &fl_crypto_mbedtls);
}

int fl_agent_esp32_start(const struct fl_agent_esp32_config *cfg)
{
	struct fl_slots_config sc;
	struct fl_agent_config ac;
	struct fl_area store;
	const char *uri = CONFIG_FL_AGENT_BROKER_URI;
	char *pub;
	size_t pub_size;
	int rc, n_keys, n_roots;

	if (atomic_exchange(&s.is_started, true))
		return FL_ESTATE;
	if (cfg != NULL && cfg->broker_uri != NULL)
		uri = cfg->broker_uri;
	if ((rc = device_id(cfg)) != 0 || (rc = fl_esp32_clock_start()) != 0)
		return rc;
	if (fl_esp32_device_init(&s.dev, cfg ? &cfg->hooks : NULL) != 0)
		ESP_LOGW(TAG, "crash counter unavailable: reported as 0");
	rc = fl_esp32_keys_load(s.keys, &n_keys, s.roots, &n_roots,
				&fl_crypto_mbedtls);
	if (rc != 0)
		return rc;
	if ((rc = open_flash(&sc, &store)) != 0) {
		ESP_LOGE(TAG, "slots: %s", fl_strerror(rc));
		return rc;
	}
	if ((rc = configure(&ac, cfg, n_keys, n_roots)) != 0)
		return rc;
	s.queue = xQueueCreateStatic(FL_ESP32_QUEUE_DEPTH,
				     sizeof(struct fl_esp32_event),
				     s.queue_storage, &s.queue_struct);
	if (s.queue == NULL)
		return FL_ENOMEM;
	if ((rc = fl_esp32_http_start(&s.http)) != 0)
		return rc;
	rc = fl_agent_init(&s.agent, &ac);
	if (rc != 0) {
		ESP_LOGE(TAG, "agent: %s", fl_strerror(rc));
		return rc;
	}
	ESP_LOGI(TAG, "agent %s: device %s, model %s, boot %" PRIu32,
		 CONFIG_FL_AGENT_VERSION, s.id, CONFIG_FL_AGENT_MODEL,
		 fl_agent_boot_count(&s.agent));
	/* Publishes are encoded in the agent's message buffer (agent.h),
	 * from which esp-mqtt copies them into its outbox. */
	pub = fl_agent_msg_buf(&s.agent, &pub_size);
	rc = fl_esp32_mqtt_init(&s.mqtt, s.id, uri,
				fl_agent_boot_count(&s.agent), pub, pub_size);
	if (rc != 0)
		return rc;
	if (xTaskCreate(agent_task, "fl_agent", CONFIG_FL_AGENT_TASK_STACK,
			NULL, CONFIG_FL_AGENT_TASK_PRIORITY, &s.task) != pdPASS)
		return FL_ENOMEM;
	return fl_esp32_mqtt_start(&s.mqtt);
}
