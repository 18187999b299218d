/*
 * device.c -- the device port: the application's facts for the
 * preconditions, health samples (boot ok, the crash counter, the health
 * hook, metrics) and the reboot.
 *
 * Crash counter: "crashes since provisioning" (docs/protocol.md, health)
 * lives in NVS (namespace "fl_agent", key "crashes") so that it survives
 * power cuts; at start, a boot whose esp_reset_reason() is a panic or a
 * watchdog (interrupt, task or other) adds one. A brown-out is not a
 * crash. RTC memory would not do: it does not survive a power cut.
 *
 * Reboot: the agent asks, the agent task does it after this port returns
 * (agent_task.c): presence offline, a clean disconnect, esp_restart().
 */
#include <string.h>

#include "esp_heap_caps.h"
#include "esp_log.h"
#include "esp_system.h"
#include "nvs.h"

#include "esp32_priv.h"
#include "fl/bytes.h"
#include "fl/err.h"

#define NVS_NAMESPACE "fl_agent"
#define NVS_CRASHES   "crashes"

static const char *TAG = FL_ESP32_TAG;

atomic_bool fl_esp32_boot_ok = false;

void fl_agent_esp32_mark_boot_ok(void)
{
	atomic_store(&fl_esp32_boot_ok, true);
}

static bool is_crash(esp_reset_reason_t r)
{
	return r == ESP_RST_PANIC || r == ESP_RST_INT_WDT ||
	       r == ESP_RST_TASK_WDT || r == ESP_RST_WDT;
}

int fl_esp32_device_init(struct fl_esp32_device *d,
			 const struct fl_agent_esp32_hooks *hooks)
{
	nvs_handle_t nvs;
	uint32_t n = 0;
	esp_err_t e;

	memset(d, 0, sizeof(*d));
	if (hooks != NULL)
		d->hooks = *hooks;
	e = nvs_open(NVS_NAMESPACE, NVS_READWRITE, &nvs);
	if (e != ESP_OK) {
		ESP_LOGE(TAG, "device: NVS: %s (was nvs_flash_init called?)",
			 esp_err_to_name(e));
		return FL_EIO;
	}
	e = nvs_get_u32(nvs, NVS_CRASHES, &n);
	if (e == ESP_ERR_NVS_NOT_FOUND) {
		n = 0;
		e = ESP_OK;
	}
	if (e == ESP_OK && is_crash(esp_reset_reason())) {
		n++;
		e = nvs_set_u32(nvs, NVS_CRASHES, n);
		if (e == ESP_OK)
			e = nvs_commit(nvs);
	}
	nvs_close(nvs);
	d->crashes = n;
	if (e != ESP_OK) {
		ESP_LOGE(TAG, "device: crash counter: %s", esp_err_to_name(e));
		return FL_EIO;
	}
	return 0;
}

static int facts(void *ctx, struct fl_agent_facts *out)
{
	struct fl_esp32_device *d = ctx;

	memset(out, 0, sizeof(*out));
	out->battery_pct = FL_AGENT_BATTERY_NONE;
	if (d->hooks.facts == NULL)
		return 0;
	return d->hooks.facts(d->hooks.ctx, out);
}

static bool has_metric(const struct fl_agent_health_sample *s, const char *name)
{
	for (unsigned i = 0; i < s->n_metrics; i++)
		if (strcmp(s->metrics[i].name, name) == 0)
			return true;
	return false;
}

static int health(void *ctx, bool is_trial, struct fl_agent_health_sample *out)
{
	struct fl_esp32_device *d = ctx;
	unsigned n = 0;

	memset(out, 0, sizeof(*out));
	out->is_boot_ok = atomic_load(&fl_esp32_boot_ok);
	out->crashes = d->crashes;
	out->hook = FL_AGENT_HOOK_NONE;
	if (is_trial && d->hooks.check != NULL)
		out->hook = d->hooks.check(d->hooks.ctx);
	if (d->hooks.metrics != NULL)
		n = d->hooks.metrics(d->hooks.ctx, out->metrics,
				     FL_PROTO_METRICS_MAX);
	out->n_metrics = n <= FL_PROTO_METRICS_MAX ? n : FL_PROTO_METRICS_MAX;
	if (out->n_metrics < FL_PROTO_METRICS_MAX &&
	    !has_metric(out, "free_heap")) {
		struct fl_metric *m = &out->metrics[out->n_metrics++];

		(void)fl_strlcpy(m->name, "free_heap", sizeof(m->name));
		m->value = (double)heap_caps_get_free_size(MALLOC_CAP_DEFAULT);
	}
	return 0;
}

static void reboot(void *ctx)
{
	struct fl_esp32_device *d = ctx;

	d->is_reboot_requested = true;
}

const struct fl_agent_device_ops fl_esp32_device_ops = {
	.version = FL_AGENT_PORT_VERSION,
	.name = "esp32",
	.facts = facts,
	.health = health,
	.reboot = reboot,
};
