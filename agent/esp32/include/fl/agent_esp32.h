/*
 * agent_esp32.h -- the fleet update agent on ESP-IDF (v5.1 and later): one
 * call starts agent/core in its own FreeRTOS task, over esp-mqtt (MQTT 5),
 * esp_http_client, the Mbed TLS crypto port, the ESP32 partition and
 * otadata adapters of firmware-hal, and the agent's power-safe flash store
 * on a data partition. Everything else is configured in Kconfig (menu
 * "Fleet update agent"); the application supplies only what it alone
 * knows, through the hooks below.
 *
 * Built only inside an ESP-IDF project, as the component in this folder;
 * not built or tested in this repository's CI (see README.md).
 *
 * Threads: the agent runs on its own task and only there; esp-mqtt's task
 * and the download task hand it their events through a FreeRTOS queue.
 * The hooks are called on the agent task. The other functions here may be
 * called from any task. Nothing here is for an interrupt handler.
 *
 * Errors are the project's (fl/err.h): 0 or a negative FL_E* code.
 */
#ifndef FL_AGENT_ESP32_H
#define FL_AGENT_ESP32_H

#include <stdbool.h>
#include <stdint.h>

#include "fl/agent.h"
#include "fl/proto.h"

/*
 * What only the application knows. Every member may be NULL.
 *   facts:   the preconditions of an update (battery, charging, busy, a
 *            veto, free storage, the owner's blackout window), asked
 *            before the download and again before the reboot. Returns 0
 *            or an error (the agent then retries later). NULL: on mains,
 *            never busy, no blackout.
 *   check:   the trial's health hook, asked at each health sample while
 *            the image runs on trial: FL_AGENT_HOOK_PENDING, _PASS or
 *            _FAIL. NULL: no hook (boot ok, the broker reached and the
 *            offer's metric limits decide).
 *   metrics: up to max custom metrics (struct fl_metric: an ident name
 *            and a finite value) for the health reports and the offer's
 *            limits; returns how many it wrote. NULL: none but the
 *            component's own "free_heap".
 */
struct fl_agent_esp32_hooks {
	int (*facts)(void *ctx, struct fl_agent_facts *out);
	uint8_t (*check)(void *ctx);
	unsigned (*metrics)(void *ctx, struct fl_metric *out, unsigned max);
	void *ctx; /* passed to each hook */
};

/* What fl_agent_esp32_start() takes; NULL or 0 takes the Kconfig value
 * named beside it. Strings are copied; the labels are borrowed and must
 * outlive the agent (a static array). */
struct fl_agent_esp32_config {
	/* The device id (an ident, also the MQTT client id). NULL: as
	 * CONFIG_FL_AGENT_DEVICE_ID_SOURCE says (Kconfig string, or a prefix
	 * and the factory MAC address). */
	const char *device_id;
	const char *broker_uri;	       /* CONFIG_FL_AGENT_BROKER_URI */
	const struct fl_label *labels; /* reported labels, borrowed */
	unsigned n_labels;	       /* <= FL_PROTO_LABELS_MAX */
	struct fl_agent_esp32_hooks hooks;
};

/*
 * Starts the agent once per boot: opens the slot manager over ota_0,
 * ota_1, otadata and the slot records partition (provisioning the running
 * image on a device that has never had a record), attaches the agent's
 * store to its partition, counts a crash in NVS when this boot follows a
 * panic or a watchdog reset, loads the trusted keys, starts fl_agent_init
 * (which settles what a reboot interrupted: a trial to run, a revert to
 * report), then the MQTT client, the download task and the agent task.
 * Call it after nvs_flash_init(), esp_netif_init() and the default event
 * loop exist; the network may come up later. cfg may be NULL (all Kconfig).
 * Returns 0; FL_ESTATE (already started); FL_ENOENT (a partition of the
 * README's table is missing); FL_EINVAL (a bad device id, broker URI,
 * label, key or Kconfig value); FL_ENOMEM (a task, queue or client could
 * not be created); or the error of the slot manager or the agent (a flash
 * error; FL_ECORRUPT: the persisted state has a format this agent does
 * not know, and nothing was overwritten).
 */
int fl_agent_esp32_start(const struct fl_agent_esp32_config *cfg);

/* The application is up and working (its own start-up checks passed):
 * the "boot ok" of the trial's health check. Until it is called, a trial
 * cannot commit, and at the end of the health window it is rejected
 * ("health:boot"). Call it on every boot; it costs nothing outside a
 * trial. */
void fl_agent_esp32_mark_boot_ok(void);

/* The wall clock is (or is no longer) trustworthy: for a device that sets
 * its time itself (an RTC, its own SNTP client). With
 * CONFIG_FL_AGENT_SNTP_SERVER set, the component runs SNTP and calls this
 * on the first synchronisation. Until then the agent treats the clock as
 * unknown (docs/protocol.md: expiries wait, windows are skipped). */
void fl_agent_esp32_set_time_trusted(bool is_trusted);

#endif
