/*
 * clock.c -- the clock port: esp_timer for the monotonic milliseconds,
 * gettimeofday() for the wall clock once it is trusted, and the C
 * library's local time (TZ, a POSIX string) for the offset of activation
 * and blackout windows.
 *
 * Trust: an ESP32 has no battery-backed clock by default, so its wall
 * clock starts near 1970 at every boot. The agent is told 0 ("not
 * trusted": docs/protocol.md) until SNTP has synchronised once (the
 * component starts it when CONFIG_FL_AGENT_SNTP_SERVER is set, with
 * esp_netif_sntp_init and a sync callback) or the application calls
 * fl_agent_esp32_set_time_trusted(true). SNTP's status is not polled:
 * esp_sntp_get_sync_status() reports COMPLETED once and then resets, so a
 * callback is the reliable signal.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "esp_log.h"
#include "esp_netif_sntp.h"
#include "esp_timer.h"
#include "sdkconfig.h"

#include "esp32_priv.h"
#include "fl/err.h"

static const char *TAG = FL_ESP32_TAG;

atomic_bool fl_esp32_time_trusted = false;

void fl_agent_esp32_set_time_trusted(bool is_trusted)
{
	atomic_store(&fl_esp32_time_trusted, is_trusted);
}

static uint64_t now_s(void *ctx)
{
	struct timeval tv;

	(void)ctx;
	if (!atomic_load(&fl_esp32_time_trusted) ||
	    gettimeofday(&tv, NULL) != 0 || tv.tv_sec <= 0)
		return 0;
	return (uint64_t)tv.tv_sec;
}

static uint64_t mono_ms(void *ctx)
{
	(void)ctx;
	return (uint64_t)(esp_timer_get_time() / 1000); /* us since boot */
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; m 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Local time minus UTC at now_s, from localtime_r and TZ. */
static int32_t utc_offset_s(void *ctx, uint64_t now)
{
	time_t t = (time_t)now;
	struct tm lt;
	int64_t local;

	(void)ctx;
	if (localtime_r(&t, &lt) == NULL)
		return 0;
	local = days_from_civil((int64_t)lt.tm_year + 1900, lt.tm_mon + 1,
				lt.tm_mday) *
			86400 +
		lt.tm_hour * 3600 + lt.tm_min * 60 + lt.tm_sec;
	return (int32_t)(local - (int64_t)now);
}

const struct fl_agent_clock_ops fl_esp32_clock_ops = {
	.version = FL_AGENT_PORT_VERSION,
	.name = "esp-timer",
	.now_s = now_s,
	.mono_ms = mono_ms,
	.utc_offset_s = utc_offset_s,
};

/* Without a configured zone: UTC, and TZ is the application's. */
const struct fl_agent_clock_ops fl_esp32_clock_utc_ops = {
	.version = FL_AGENT_PORT_VERSION,
	.name = "esp-timer",
	.now_s = now_s,
	.mono_ms = mono_ms,
	.utc_offset_s = NULL,
};

static void on_sntp_sync(struct timeval *tv)
{
	(void)tv;
	if (!atomic_exchange(&fl_esp32_time_trusted, true))
		ESP_LOGI(TAG, "clock: synchronised by SNTP");
}

int fl_esp32_clock_start(void)
{
	if (CONFIG_FL_AGENT_TZ_POSIX[0] != '\0') {
		if (setenv("TZ", CONFIG_FL_AGENT_TZ_POSIX, 1) != 0)
			return FL_EINVAL;
		tzset();
	}
	if (CONFIG_FL_AGENT_SNTP_SERVER[0] != '\0') {
		esp_sntp_config_t cfg = ESP_NETIF_SNTP_DEFAULT_CONFIG(
			CONFIG_FL_AGENT_SNTP_SERVER);

		cfg.sync_cb = on_sntp_sync;
		if (esp_netif_sntp_init(&cfg) != ESP_OK) {
			ESP_LOGE(TAG, "clock: SNTP did not start (is it "
				      "already running? then set "
				      "FL_AGENT_SNTP_SERVER to \"\")");
			return FL_EIO;
		}
	}
	return 0;
}
