/*
 * main.c -- the smallest ESP32 application with the fleet update agent:
 * it joins the Wi-Fi network of menuconfig ("Example: Wi-Fi"), starts the
 * agent, and declares itself healthy once it has an IP address, which is
 * what this application needs to do its job. A real application calls
 * fl_agent_esp32_mark_boot_ok() once its own start-up checks pass, and
 * may add the hooks (battery and busy, a health check, metrics).
 *
 * Built with ESP-IDF only (idf.py build); see README.md.
 */
#include <string.h>

#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_wifi.h"
#include "nvs_flash.h"
#include "sdkconfig.h"

#include "fl/agent_esp32.h"
#include "fl/bytes.h"
#include "fl/err.h"

void app_main(void); /* ESP-IDF's entry point */

static const char *TAG = "example";

/* The agent asks before it downloads and before it reboots. This device
 * is on mains and never too busy; a real one reports its battery and
 * sets is_busy while it must not be interrupted. */
static int facts(void *ctx, struct fl_agent_facts *out)
{
	(void)ctx;
	memset(out, 0, sizeof(*out));
	out->battery_pct = FL_AGENT_BATTERY_NONE;
	return 0;
}

/* The trial's health hook: this application has nothing to check beyond
 * boot-ok, so it passes. */
static uint8_t check(void *ctx)
{
	(void)ctx;
	return FL_AGENT_HOOK_PASS;
}

static void on_wifi(void *arg, esp_event_base_t base, int32_t id, void *data)
{
	(void)arg;
	(void)data;
	if (base == WIFI_EVENT &&
	    (id == WIFI_EVENT_STA_START || id == WIFI_EVENT_STA_DISCONNECTED)) {
		(void)esp_wifi_connect(); /* again and again, as Wi-Fi does */
	} else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
		ESP_LOGI(TAG, "network up: this image works");
		fl_agent_esp32_mark_boot_ok();
	}
}

static void wifi_start(void)
{
	wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
	wifi_config_t cfg;

	(void)esp_netif_create_default_wifi_sta();
	ESP_ERROR_CHECK(esp_wifi_init(&init));
	ESP_ERROR_CHECK(esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID,
						   on_wifi, NULL));
	ESP_ERROR_CHECK(esp_event_handler_register(
		IP_EVENT, IP_EVENT_STA_GOT_IP, on_wifi, NULL));
	memset(&cfg, 0, sizeof(cfg));
	(void)fl_strlcpy((char *)cfg.sta.ssid, CONFIG_EXAMPLE_WIFI_SSID,
			 sizeof(cfg.sta.ssid));
	(void)fl_strlcpy((char *)cfg.sta.password, CONFIG_EXAMPLE_WIFI_PASSWORD,
			 sizeof(cfg.sta.password));
	ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
	ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &cfg));
	ESP_ERROR_CHECK(esp_wifi_start());
}

void app_main(void)
{
	static const struct fl_label labels[] = {{"ring", "beta"}};
	struct fl_agent_esp32_config cfg;
	esp_err_t e;
	int rc;

	e = nvs_flash_init();
	if (e == ESP_ERR_NVS_NO_FREE_PAGES ||
	    e == ESP_ERR_NVS_NEW_VERSION_FOUND) {
		ESP_ERROR_CHECK(nvs_flash_erase());
		e = nvs_flash_init();
	}
	ESP_ERROR_CHECK(e);
	ESP_ERROR_CHECK(esp_netif_init());
	ESP_ERROR_CHECK(esp_event_loop_create_default());

	/* The agent first: it settles what the last reboot interrupted (a
	 * trial to observe, a revert to report) and waits for the network
	 * by itself. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.labels = labels;
	cfg.n_labels = sizeof(labels) / sizeof(labels[0]);
	cfg.hooks.facts = facts;
	cfg.hooks.check = check;
	rc = fl_agent_esp32_start(&cfg);
	if (rc != 0)
		ESP_LOGE(TAG, "the update agent did not start: %s",
			 fl_strerror(rc));

	wifi_start();
}
