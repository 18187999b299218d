/*
 * device.c -- fleet-agent's device port: what the device knows about
 * itself, read from small files the system or the application keeps
 * (battery capacity, a busy flag, a crash count, metrics), the health hook,
 * and the reboot.
 *
 * Files are read afresh at every call, at most 63 bytes each; a file that
 * is missing or unreadable counts as "no value" (no battery, not busy, no
 * crash, the metric left out), never as an error, so that a facts source
 * that goes away does not block an update. The health hook runs once per
 * start while the running image is on trial: started at the first trial
 * sample, pending while it runs, then passed (exit 0) or failed (any other
 * status, a signal, or the timeout).
 *
 * The reboot writes a marker in the state directory first, so that the
 * next start reports a software reset; then it runs the reboot command,
 * or (mode exit) lets main stop cleanly and exit with status 3.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device.h"
#include "fl/bytes.h"
#include "fl/err.h"
#include "fl/proto.h"
#include "linux_priv.h"

#define SMALL_MAX     64
#define MARKER	      "reboot-requested"
#define REBOOT_CMD_MS 120000u

static void say(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* fleet-agent logs through the adapters' hook (main.c sets it). */
static void say(int level, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fl_linux__log(level, "", "%s", msg);
}

/* Reads a small file, trimmed of surrounding white space. Returns false if
 * it is missing, unreadable, empty or too long. */
static bool read_small(const char *path, char out[SMALL_MAX])
{
	ssize_t n;
	char *s, *e;
	int fd;

	if (path[0] == '\0')
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	do {
		n = read(fd, out, SMALL_MAX - 1);
	} while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return false;
	out[n] = '\0';
	for (s = out; *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r';)
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		e--;
	*e = '\0';
	if (s != out)
		memmove(out, s, (size_t)(e - s) + 1);
	return out[0] != '\0';
}

static bool read_uint(const char *path, uint64_t max, uint64_t *out)
{
	char buf[SMALL_MAX];
	char *end;
	unsigned long long v;

	if (!read_small(path, buf) || buf[0] < '0' || buf[0] > '9')
		return false;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static bool exists(const char *path)
{
	return path[0] != '\0' && access(path, F_OK) == 0;
}

/* ---- facts --------------------------------------------------------------- */

static int facts(void *ctx, struct fl_agent_facts *out)
{
	struct fla_device *d = ctx;
	const struct fla_config *c = d->cfg;
	struct statvfs vfs;
	char buf[SMALL_MAX];
	uint64_t pct;

	memset(out, 0, sizeof(*out));
	out->battery_pct = FL_AGENT_BATTERY_NONE;
	if (read_uint(c->battery_file, 100, &pct))
		out->battery_pct = (uint8_t)pct;
	if (read_small(c->charging_file, buf))
		out->is_charging = strcmp(buf, "1") == 0 ||
				   strcmp(buf, "Charging") == 0 ||
				   strcmp(buf, "Full") == 0;
	out->is_busy = exists(c->busy_file);
	out->is_vetoed = exists(c->veto_file);
	if (statvfs(c->state_dir, &vfs) != 0)
		return FL_EIO;
	out->free_bytes = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
	out->has_blackout = c->has_blackout;
	out->blackout_start_min = c->blackout_start_min;
	out->blackout_end_min = c->blackout_end_min;
	return 0;
}

/* ---- health -------------------------------------------------------------- */

static void hook_done(void *ctx, struct fla_proc *p)
{
	const char *tail = p->out;
	size_t n = p->out_len;

	(void)ctx;
	/* One log line: no control characters from the hook's output. */
	for (size_t i = 0; i < p->out_len; i++)
		if (p->out[i] != '\n' && ((unsigned char)p->out[i] < 0x20 ||
					  (unsigned char)p->out[i] > 0x7e))
			p->out[i] = '?';
	/* The last line of its output, for the log. */
	while (n > 0 && (p->out[n - 1] == '\n' || p->out[n - 1] == '\r'))
		n--;
	for (size_t i = n; i > 0; i--)
		if (p->out[i - 1] == '\n') {
			tail = p->out + i;
			break;
		}
	if (p->is_timed_out)
		say(FL_LOG_WARN, "health hook: killed at its timeout");
	else if (fla_proc_passed(p))
		say(FL_LOG_INFO, "health hook: passed");
	else if (p->status >= 0 && WIFEXITED(p->status))
		say(FL_LOG_WARN, "health hook: failed (exit %d)%s%.*s",
		    WEXITSTATUS(p->status), n ? ": " : "",
		    (int)(n - (size_t)(tail - p->out)), tail);
	else
		say(FL_LOG_WARN, "health hook: failed (killed by a signal)");
}

static uint8_t hook_state(struct fla_device *d, bool is_trial)
{
	const struct fla_config *c = d->cfg;
	int rc;

	if (c->hook[0] == '\0' || !is_trial)
		return FL_AGENT_HOOK_NONE;
	if (!d->is_hook_started) {
		d->is_hook_started = true;
		say(FL_LOG_INFO, "health hook: running `%s`", c->hook);
		rc = fla_proc_start(&d->hook, c->hook,
				    c->hook_timeout_s * 1000u);
		if (rc != 0) {
			say(FL_LOG_ERROR, "health hook: cannot start: %s",
			    fl_strerror(rc));
			d->hook.is_done = true;
			d->hook.status = -1;
			return FL_AGENT_HOOK_FAIL;
		}
	}
	if (!d->hook.is_done)
		return FL_AGENT_HOOK_PENDING;
	return fla_proc_passed(&d->hook) ? FL_AGENT_HOOK_PASS
					 : FL_AGENT_HOOK_FAIL;
}

static int health(void *ctx, bool is_trial, struct fl_agent_health_sample *out)
{
	struct fla_device *d = ctx;
	const struct fla_config *c = d->cfg;
	uint64_t crashes = 0;

	memset(out, 0, sizeof(*out));
	out->is_boot_ok = c->boot_ok_file[0] == '\0' || exists(c->boot_ok_file);
	if (read_uint(c->crashes_file, UINT32_MAX, &crashes))
		out->crashes = (uint32_t)crashes;
	for (unsigned i = 0; i < c->n_metrics; i++) {
		char buf[SMALL_MAX];
		char *end;
		double v;

		if (!read_small(c->metrics[i].path, buf))
			continue;
		errno = 0;
		v = strtod(buf, &end);
		if (errno != 0 || *end != '\0' || !isfinite(v))
			continue;
		(void)fl_strlcpy(out->metrics[out->n_metrics].name,
				 c->metrics[i].name,
				 sizeof(out->metrics[0].name));
		out->metrics[out->n_metrics++].value = v;
	}
	out->hook = hook_state(d, is_trial);
	return 0;
}

/* ---- reboot -------------------------------------------------------------- */

static void write_marker(const struct fla_config *c)
{
	char path[FLA_PATH_MAX + 32];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", c->state_dir, MARKER);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		say(FL_LOG_WARN, "reboot: cannot write %s: %s", path,
		    strerror(errno));
		return;
	}
	(void)fsync(fd);
	close(fd);
}

static void reboot_done(void *ctx, struct fla_proc *p)
{
	(void)ctx;
	if (!fla_proc_passed(p))
		say(FL_LOG_ERROR, "reboot: the command failed%s",
		    p->is_timed_out ? " (timeout)" : "");
}

static void reboot(void *ctx)
{
	struct fla_device *d = ctx;
	const struct fla_config *c = d->cfg;
	int rc;

	d->n_reboots++;
	d->is_reboot_requested = true;
	write_marker(c);
	if (c->reboot_mode == FLA_REBOOT_EXIT) {
		say(FL_LOG_INFO, "reboot: exiting with status 3");
		return;
	}
	if (d->reboot_cmd.pid != 0)
		return; /* still running: the agent asks again later */
	say(FL_LOG_INFO, "reboot: running `%s`", c->reboot_command);
	rc = fla_proc_start(&d->reboot_cmd, c->reboot_command, REBOOT_CMD_MS);
	if (rc != 0)
		say(FL_LOG_ERROR, "reboot: cannot start the command: %s",
		    fl_strerror(rc));
}

const struct fl_agent_device_ops fla_device_ops = {
	FL_AGENT_PORT_VERSION, "linux", facts, health, reboot,
};

void fla_device_init(struct fla_device *d, const struct fla_config *cfg,
		     struct fl_loop *loop)
{
	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->loop = loop;
	fla_proc_init(&d->hook, loop, "hook", hook_done, d);
	fla_proc_init(&d->reboot_cmd, loop, "reboot", reboot_done, d);
}

void fla_device_fini(struct fla_device *d)
{
	if (d->cfg == NULL)
		return; /* never initialised */
	fla_proc_cancel(&d->hook);
	fla_proc_cancel(&d->reboot_cmd);
}

uint8_t fla_reset_reason(const struct fla_config *cfg, uint8_t fallback)
{
	char path[FLA_PATH_MAX + 32];
	char buf[SMALL_MAX];

	snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, MARKER);
	if (unlink(path) == 0)
		return FL_RESET_SOFTWARE;
	if (read_small(cfg->reset_reason_file, buf)) {
		for (int r = FL_WIRE_RESET_UNKNOWN; r <= FL_WIRE_RESET_PANIC;
		     r++)
			if (strcmp(buf, fl_wire_reset_name(r)) == 0)
				return (uint8_t)r;
	}
	return fallback;
}
