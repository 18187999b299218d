/*
 * clock.c -- the agent's clock port on Linux: CLOCK_REALTIME for the wall
 * clock (untrusted, reported as 0, while it reads before 2024-01-01, as it
 * does on a board without RTC before NTP has run), CLOCK_MONOTONIC for
 * time since boot, and the process's local time zone (TZ or
 * /etc/localtime; fleet-agent sets TZ from its configuration) for the UTC
 * offset of windows.
 */
#include <time.h>

#include "fl/agent_linux.h"

#define TRUSTED_AFTER_S 1704067200u /* 2024-01-01T00:00:00Z */

static uint64_t now_s(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 ||
	    ts.tv_sec < (time_t)TRUSTED_AFTER_S)
		return 0;
	return (uint64_t)ts.tv_sec;
}

static uint64_t mono_ms(void *ctx)
{
	(void)ctx;
	return fl_loop_now_ms();
}

static int32_t utc_offset_s(void *ctx, uint64_t now)
{
	time_t t = (time_t)now;
	struct tm tm;

	(void)ctx;
	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return (int32_t)tm.tm_gmtoff;
}

const struct fl_agent_clock_ops fl_linux_clock_ops = {
	FL_AGENT_PORT_VERSION, "linux", now_s, mono_ms, utc_offset_s,
};
