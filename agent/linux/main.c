/*
 * main.c -- fleet-agent, the device agent as a Linux daemon:
 *
 *   fleet-agent --config FILE [--verbose] [--check]
 *
 * Reads and checks the configuration (exit 1 on any error, nothing
 * started), opens the flash and the boot control, lets the simulated boot
 * loader decide what boots when the boot backend is "sim" (every start of
 * a file-backed demo device is a power-on), opens the slot manager, starts
 * agent/core over the Linux adapters and runs one fl_loop until SIGTERM or
 * SIGINT (a clean stop: presence offline, DISCONNECT; exit 0). The agent's
 * reboot runs the configured command, or in mode "exit" stops cleanly and
 * exits with status 3 so that a supervisor (systemd, a test) starts it
 * again. A store or flash error halts the agent: fleet-agent then exits 1,
 * and its next start resumes from what was persisted. Exit 2: usage.
 *
 * Logs go to stderr, one line each: "fleet-agent: LEVEL: message".
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mosquitto.h>

#include "config.h"
#include "device.h"
#include "fl/agent_linux.h"
#include "fl/boot_uboot.h"
#include "fl/bootsim.h"
#include "fl/bytes.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/flash_linux.h"
#include "fl/unzip_zstd.h"
#include "linux_priv.h"

#ifndef FL_AGENT_VERSION
#define FL_AGENT_VERSION "0.0.0"
#endif

#define EXIT_USAGE   2
#define EXIT_REBOOT  3
#define STOP_WAIT_MS 2000u
#define STATE_FILE   "agent.state"

static int log_max = FL_LOG_INFO;

static void log_line(void *ctx, int level, const char *who, const char *msg)
{
	static const char *const names[] = {"error", "warning", "info",
					    "debug"};
	char line[512];
	int n;

	(void)ctx;
	(void)who; /* one device per process: its id adds nothing */
	if (level > log_max || level < 0 || level > FL_LOG_DEBUG)
		return;
	n = snprintf(line, sizeof(line), "fleet-agent: %s: %s\n", names[level],
		     msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line: lines of concurrent writers do not mix. */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

#define say(level, ...) fl_linux__log((level), "", __VA_ARGS__)

static int usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "fleet-agent: %s\n", why);
	fprintf(stderr,
		"usage: fleet-agent --config FILE [--verbose] [--check]\n"
		"  --config FILE  the device configuration "
		"(docs/agent-config.md)\n"
		"  --verbose      log debug lines too\n"
		"  --check        check the configuration and exit\n");
	return EXIT_USAGE;
}

/* Everything the daemon holds, static: the agent never allocates. */
struct app {
	struct fla_config cfg;
	struct fl_flash flash;
	struct fl_slots_config scfg;
	struct fl_slots scratch; /* the boot loader's working memory */
	struct fl_boot_status handoff;
	struct fl_boot boot;
	bool is_uboot_open;
	struct fl_slots slots;
	struct fl_file_store store;
	struct fl_loop *loop;
	struct fl_mqtt_dev *mqtt;
	struct fl_curl *curl;
	struct fl_curl_dl *dl;
	struct fla_device dev;
	struct fl_agent_config acfg;
	struct fl_agent agent;
	struct fl_unzip_zstd *unzip; /* encrypted images: zstd chunks */
	struct fl_agent_seal_bufs seal_bufs;
	int sig_fd;
	bool is_stopping;
	struct fl_agent_info last; /* for the job log lines */
};

static struct app app;
/* Image reads (verify, resume) in 64 KiB, not 256 bytes: one system call
 * each on a file, block or MTD device. */
static uint8_t image_io_buf[65536];

/* ---- start-up ------------------------------------------------------------ */

static int open_flash(struct app *a)
{
	const struct fla_config *c = &a->cfg;
	struct fl_flash_linux_diag diag;
	struct fl_flash_geom g;
	uint32_t erase;
	int rc;

	memset(&diag, 0, sizeof(diag));
	memset(&g, 0, sizeof(g));
	g.erase_bytes = c->erase_bytes;
	g.write_bytes = c->write_bytes;
	g.erased_value = 0xFF;
	switch (c->flash_backend) {
	case FLA_FLASH_FILE:
		g.size_bytes = 4 * c->erase_bytes + 2 * c->slot_bytes;
		rc = fl_flash_file_open(&a->flash, c->flash_path, &g,
					g.size_bytes, &diag);
		break;
	case FLA_FLASH_BLOCK:
		rc = fl_flash_file_open(&a->flash, c->flash_path, &g, 0, &diag);
		break;
	default: rc = fl_flash_mtd_open(&a->flash, c->flash_path, &diag); break;
	}
	if (rc != 0) {
		say(FL_LOG_ERROR, "flash: %s",
		    diag.msg[0] ? diag.msg : fl_strerror(rc));
		return rc;
	}
	erase = a->flash.geom.erase_bytes;
	memset(&a->scfg, 0, sizeof(a->scfg));
	rc = fl_area_init(&a->scfg.meta, &a->flash, c->meta_offset, 4 * erase);
	if (rc == 0)
		rc = fl_area_init(&a->scfg.slot[0], &a->flash,
				  c->slot_offset[0], c->slot_bytes);
	if (rc == 0)
		rc = fl_area_init(&a->scfg.slot[1], &a->flash,
				  c->slot_offset[1], c->slot_bytes);
	if (rc != 0) {
		say(FL_LOG_ERROR,
		    "flash: the layout does not fit %s (%u bytes, erase unit "
		    "%u): %s",
		    c->flash_path, (unsigned)a->flash.geom.size_bytes,
		    (unsigned)erase, fl_strerror(rc));
		return rc;
	}
	a->scfg.crypto = &fl_crypto_openssl;
	a->scfg.boot = &a->boot;
	a->scfg.trial_tries = c->trial_tries;
	a->scfg.io_buf = image_io_buf;
	a->scfg.io_buf_bytes = sizeof(image_io_buf);
	return 0;
}

/* A factory-fresh demo device: the factory image into slot A, confirmed. */
static int provision(struct app *a)
{
	const struct fla_config *c = &a->cfg;
	const struct fl_area *slot = &a->scfg.slot[0];
	uint8_t sha[FL_SHA256_BYTES];
	uint8_t *img = NULL;
	uint32_t unit = fl_area_write_bytes(slot), padded;
	struct stat sb;
	size_t len;
	FILE *f;
	int rc;

	if (c->factory_image[0] == '\0')
		return 0;
	rc = fl_slots_init(&a->scratch, &a->scfg);
	if (rc != 0) {
		say(FL_LOG_ERROR, "factory: reading the slot records: %s",
		    fl_strerror(rc));
		return rc;
	}
	if (a->scratch.info[0].state == FL_SLOT_CONFIRMED ||
	    a->scratch.info[1].state == FL_SLOT_CONFIRMED)
		return 0;
	f = fopen(c->factory_image, "rb");
	if (f == NULL || fstat(fileno(f), &sb) != 0 || sb.st_size <= 0 ||
	    (uint64_t)sb.st_size > slot->size) {
		say(FL_LOG_ERROR, "factory: %s: %s", c->factory_image,
		    f == NULL ? strerror(errno)
			      : "empty or larger than a slot");
		if (f != NULL)
			fclose(f);
		return FL_EINVAL;
	}
	len = (size_t)sb.st_size;
	padded = fl_align_up((uint32_t)len, unit);
	img = malloc(padded);
	if (img == NULL) {
		fclose(f);
		return FL_ENOMEM;
	}
	memset(img, 0xFF, padded);
	if (fread(img, 1, len, f) != len) {
		fclose(f);
		free(img);
		say(FL_LOG_ERROR, "factory: %s: read error", c->factory_image);
		return FL_EIO;
	}
	fclose(f);
	rc = fl_sha256(&fl_crypto_openssl, img, len, sha);
	if (rc == 0)
		rc = fl_area_erase(slot, 0, slot->size);
	if (rc == 0)
		rc = fl_area_write(slot, 0, img, padded);
	if (rc == 0)
		rc = fl_area_sync(slot);
	if (rc == 0)
		rc = fl_slots_provision(&a->scratch, 0, (uint32_t)len, sha,
					c->factory_version, c->factory_seq);
	free(img);
	if (rc != 0) {
		say(FL_LOG_ERROR, "factory: provisioning slot A: %s",
		    fl_strerror(rc));
		return rc;
	}
	say(FL_LOG_INFO,
	    "factory: slot A provisioned with %s %s (%zu bytes, "
	    "seq %llu)",
	    c->component, c->factory_version, len,
	    (unsigned long long)c->factory_seq);
	return 0;
}

static int open_boot(struct app *a)
{
	const struct fla_config *c = &a->cfg;
	int rc;

	if (c->boot_backend == FLA_BOOT_SIM) {
		uint8_t reset = fla_reset_reason(c, FL_RESET_POWER_ON);

		rc = fl_bootsim_power_on(&a->scratch, &a->scfg, reset,
					 &a->handoff);
		if (rc == FL_EBRICK) {
			say(FL_LOG_ERROR,
			    "boot: no bootable image in %s "
			    "(a fresh device needs "
			    "flash.factory)",
			    c->flash_path);
			return rc;
		}
		if (rc != 0) {
			say(FL_LOG_ERROR, "boot: simulated boot loader: %s",
			    fl_strerror(rc));
			return rc;
		}
		fl_boot_native_init(&a->boot, &a->handoff);
		return 0;
	} else {
		struct fl_boot_uboot_config u;
		struct fl_boot_uboot_diag diag;

		memset(&u, 0, sizeof(u));
		memset(&diag, 0, sizeof(diag));
		u.fw_env_config = c->fw_env_config;
		u.cmdline_path = c->cmdline;
		u.reset_reason = fla_reset_reason(c, FL_RESET_UNKNOWN);
		rc = fl_boot_uboot_open(&a->boot, &u, &diag);
		if (rc != 0) {
			say(FL_LOG_ERROR, "boot: U-Boot environment: %s",
			    diag.msg[0] ? diag.msg : fl_strerror(rc));
			return rc;
		}
		a->is_uboot_open = true;
		return 0;
	}
}

static void on_signal(void *ctx, int fd, uint32_t events)
{
	struct app *a = ctx;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		say(FL_LOG_INFO, "%s: stopping", strsignal((int)si.ssi_signo));
		a->is_stopping = true;
	}
}

static int start_adapters(struct app *a)
{
	const struct fla_config *c = &a->cfg;
	struct fl_mqtt_dev_config mc;
	struct fl_curl_config cc;
	char path[FLA_PATH_MAX + 32];
	int rc;

	rc = fl_loop_new(&a->loop);
	if (rc == 0)
		rc = fl_loop_fd_add(a->loop, a->sig_fd, EPOLLIN, on_signal, a);
	if (rc != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", c->state_dir, STATE_FILE);
	rc = fl_file_store_init(&a->store, path);
	if (rc != 0) {
		say(FL_LOG_ERROR, "state: %s: path too long", path);
		return rc;
	}
	memset(&mc, 0, sizeof(mc));
	mc.host = c->host;
	mc.port = c->port;
	mc.root = c->root;
	mc.id = c->id;
	mc.cafile = c->cafile[0] ? c->cafile : NULL;
	mc.certfile = c->certfile[0] ? c->certfile : NULL;
	mc.keyfile = c->keyfile[0] ? c->keyfile : NULL;
	mc.keepalive_s = c->keepalive_s;
	mc.session_expiry_s = c->session_expiry_s;
	mc.agent_version = FL_AGENT_VERSION;
	if (mc.cafile == NULL)
		say(FL_LOG_WARN,
		    "broker: plain text (no `tls` in broker): anyone on the "
		    "path can read this device's commands and publish as it");
	else if (mc.certfile == NULL)
		say(FL_LOG_WARN, "broker: TLS without a client certificate: "
				 "fleetd's broker refuses the connection");
	rc = fl_mqtt_dev_new(&a->mqtt, a->loop, &mc);
	if (rc != 0) {
		say(FL_LOG_ERROR, "mqtt: %s", fl_strerror(rc));
		return rc;
	}
	memset(&cc, 0, sizeof(cc));
	/* fleetd serves images over HTTPS with a certificate of the fleet
	 * CA: the broker's CA is the downloads' too unless told. */
	cc.cafile = c->dl_cafile[0] ? c->dl_cafile
				    : (c->cafile[0] ? c->cafile : NULL);
	cc.connect_timeout_s = c->connect_timeout_s;
	cc.stall_timeout_s = c->stall_timeout_s;
	cc.max_redirects = 3;
	cc.max_bytes_per_s = c->max_bytes_per_s;
	/* One device, one transfer: a 1 MiB receive buffer takes a fraction
	 * of the socket reads of libcurl's 16 KiB. */
	cc.buffer_bytes = FL_CURL_BUFFER_MAX;
	rc = fl_curl_new(&a->curl, a->loop, &cc);
	if (rc == 0)
		rc = fl_curl_dl_new(&a->dl, a->curl);
	if (rc != 0) {
		say(FL_LOG_ERROR, "curl: %s", fl_strerror(rc));
		return rc;
	}
	fla_device_init(&a->dev, c, a->loop);
	return 0;
}

static void describe(struct app *a)
{
	unsigned b = fl_slots_booted(&a->slots);
	const struct fl_slot_info *in = &a->slots.info[b];
	static const char *const states[] = {"empty", "writing",   "staged",
					     "trial", "confirmed", "bad"};

	say(FL_LOG_INFO,
	    "fleet-agent %s: device %s (%s), boot %u, running %s %s from "
	    "slot %c (%s), broker %s:%u",
	    FL_AGENT_VERSION, a->cfg.id, a->cfg.model,
	    (unsigned)fl_agent_boot_count(&a->agent), a->cfg.component,
	    in->version, b == 0 ? 'A' : 'B',
	    in->state < 6 ? states[in->state] : "?", a->cfg.host,
	    (unsigned)a->cfg.port);
}

/* Encrypted images, with wrap keys only: the zstd port and the two buffers
 * of one chunk of the configured size (fl/unseal.h). */
static int start_sealing(struct app *a)
{
	const struct fla_config *c = &a->cfg;
	struct fl_agent_config *ac = &a->acfg;
	uint32_t chunk = c->seal_chunk_max != 0 ? c->seal_chunk_max
						: 4u * FL_SEAL_CHUNK_MIN;
	int rc;

	if (c->n_wrap_keys == 0)
		return 0;
	rc = fl_unzip_zstd_new(&a->unzip);
	a->seal_bufs.rec_bytes = FL_SEAL_BUF_BYTES(chunk);
	a->seal_bufs.rec = malloc(a->seal_bufs.rec_bytes);
	a->seal_bufs.plain_bytes = chunk;
	a->seal_bufs.plain = malloc(chunk);
	if (rc != 0 || a->seal_bufs.rec == NULL || a->seal_bufs.plain == NULL) {
		say(FL_LOG_ERROR, "encryption: cannot allocate its buffers");
		return FL_ENOMEM;
	}
	ac->device_id = c->id;
	ac->wrap_keys = c->wrap_keys;
	ac->n_wrap_keys = c->n_wrap_keys;
	ac->unzip = fl_unzip_zstd_port(a->unzip);
	ac->seal_chunk_max = chunk;
	ac->seal_bufs = &a->seal_bufs;
	say(FL_LOG_DEBUG,
	    "encryption: %u wrap key(s), chunks up to %u bytes (buffers %u "
	    "and %u bytes, zstd context %zu)",
	    c->n_wrap_keys, (unsigned)chunk, (unsigned)a->seal_bufs.rec_bytes,
	    (unsigned)a->seal_bufs.plain_bytes, fl_unzip_zstd_bytes(a->unzip));
	return 0;
}

static void stop_sealing(struct app *a)
{
	volatile uint8_t *p = (volatile uint8_t *)a->cfg.wrap_keys;

	/* The private keys, and what the buffers may still hold. */
	for (size_t i = 0; i < sizeof(a->cfg.wrap_keys); i++)
		p[i] = 0;
	if (a->seal_bufs.rec != NULL)
		memset(a->seal_bufs.rec, 0, a->seal_bufs.rec_bytes);
	if (a->seal_bufs.plain != NULL)
		memset(a->seal_bufs.plain, 0, a->seal_bufs.plain_bytes);
	free(a->seal_bufs.rec);
	free(a->seal_bufs.plain);
	memset(&a->seal_bufs, 0, sizeof(a->seal_bufs));
	fl_unzip_zstd_free(a->unzip);
	a->unzip = NULL;
}

static int start_agent(struct app *a)
{
	const struct fla_config *c = &a->cfg;
	struct fl_agent_config *ac = &a->acfg;
	int rc;

	memset(ac, 0, sizeof(*ac));
	ac->slots = &a->slots;
	ac->crypto = &fl_crypto_openssl;
	ac->keys = c->keys;
	ac->n_keys = c->n_keys;
	ac->rollback_kids = c->rollback_kids;
	ac->n_rollback_kids = c->n_rollback_kids;
	ac->roots = c->roots;
	ac->n_roots = c->n_roots;
	ac->transport = fl_mqtt_dev_transport(a->mqtt);
	ac->downloader = fl_curl_dl_downloader(a->dl);
	ac->clock.ops = &fl_linux_clock_ops;
	ac->store.ops = &fl_file_store_ops;
	ac->store.ctx = &a->store;
	ac->device.ops = &fla_device_ops;
	ac->device.ctx = &a->dev;
	ac->model = c->model;
	ac->component = c->component;
	ac->tz = c->tz;
	ac->agent_version = FL_AGENT_VERSION;
	ac->labels = c->labels;
	ac->n_labels = c->n_labels;
	ac->min_battery_pct = c->min_battery_pct;
	ac->min_free_bytes = c->min_free_bytes;
	ac->retry_s = c->retry_s;
	ac->max_waits = c->max_waits;
	ac->health_window_s = c->health_window_s;
	ac->health_interval_s = c->health_interval_s;
	ac->health_sample_ms = c->health_sample_ms;
	ac->checkpoint_bytes = c->checkpoint_bytes;
	ac->checkpoint_min_ms = c->checkpoint_min_ms;
	ac->dl_retry_base_s = c->dl_retry_base_s;
	ac->dl_retry_max_s = c->dl_retry_max_s;
	ac->dl_max_tries = c->dl_max_tries;
	rc = start_sealing(a);
	if (rc != 0)
		return rc;
	rc = fl_agent_init(&a->agent, ac);
	if (rc != 0) {
		say(FL_LOG_ERROR, "agent: cannot start: %s%s", fl_strerror(rc),
		    rc == FL_ECORRUPT ? " (the state file has an unknown "
					"format; it is left as it is)"
				      : "");
		return rc;
	}
	fl_curl_dl_attach(a->dl, &a->agent);
	describe(a);
	return fl_mqtt_dev_start(a->mqtt, &a->agent);
}

/* ---- running ------------------------------------------------------------- */

static const char *phase_name(uint8_t phase)
{
	static const char *const names[] = {
		"no job",     "waiting",    "downloading",
		"downloaded", "activating", "on trial",
		"rejecting",  "abandoning", "done"};

	return phase < sizeof(names) / sizeof(names[0]) ? names[phase] : "?";
}

/* One line whenever the job moves on. */
static void log_job(struct app *a)
{
	struct fl_agent_info in;
	const char *result;

	fl_agent_info(&a->agent, &in);
	if (in.job == a->last.job && in.phase == a->last.phase &&
	    in.result == a->last.result &&
	    strcmp(in.reason, a->last.reason) == 0)
		return;
	a->last = in;
	if (in.job == 0)
		return;
	result = in.result != FL_RESULT_NONE ? fl_result_name(in.result) : NULL;
	say(FL_LOG_INFO,
	    "job %u (%s): %s%s%s%s%s; %u bytes in the slot, %llu received "
	    "since start",
	    (unsigned)in.job, in.version, phase_name(in.phase),
	    result ? ", " : "", result ? result : "", in.reason[0] ? " " : "",
	    in.reason, (unsigned)in.bytes,
	    (unsigned long long)fl_curl_dl_bytes(a->dl));
}

static int run(struct app *a)
{
	for (;;) {
		uint32_t next_ms = 1000;
		int rc = fl_agent_poll(&a->agent, &next_ms);

		if (rc != 0) {
			say(FL_LOG_ERROR,
			    "agent halted: %s (the next start resumes from "
			    "what is persisted)",
			    fl_strerror(rc));
			return 1;
		}
		log_job(a);
		if (a->is_stopping)
			return 0;
		if (a->dev.is_reboot_requested &&
		    a->cfg.reboot_mode == FLA_REBOOT_EXIT)
			return EXIT_REBOOT;
		rc = fl_loop_run_once(a->loop, (int)next_ms);
		if (rc != 0) {
			say(FL_LOG_ERROR, "event loop: %s", fl_strerror(rc));
			return 1;
		}
	}
}

static void shutdown_all(struct app *a)
{
	if (a->mqtt != NULL)
		fl_mqtt_dev_stop(a->mqtt, STOP_WAIT_MS);
	if (a->loop != NULL)
		fla_device_fini(&a->dev);
	fl_curl_dl_free(a->dl);
	fl_curl_free(a->curl);
	fl_mqtt_dev_free(a->mqtt);
	if (a->loop != NULL)
		fl_loop_fd_del(a->loop, a->sig_fd);
	fl_loop_free(a->loop);
	if (a->is_uboot_open)
		fl_boot_uboot_close(&a->boot);
	fl_flash_linux_close(&a->flash);
	stop_sealing(a);
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	bool is_verbose = false, is_check = false;
	struct fla_diags *diags;
	sigset_t mask;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config = argv[i] + 9;
		else if (strcmp(argv[i], "--verbose") == 0)
			is_verbose = true;
		else if (strcmp(argv[i], "--check") == 0)
			is_check = true;
		else if (strcmp(argv[i], "--help") == 0)
			return usage(NULL), 0;
		else {
			char why[128];

			snprintf(why, sizeof(why), "unexpected '%.64s'",
				 argv[i]);
			return usage(why);
		}
	}
	if (config == NULL || config[0] == '\0')
		return usage("--config FILE is required");
	diags = calloc(1, sizeof(*diags));
	if (diags == NULL)
		return 1;
	if (fla_config_load(&app.cfg, config, diags) != 0) {
		fla_diags_print(diags, stderr);
		free(diags);
		return 1;
	}
	free(diags);
	if (is_check) {
		printf("%s: ok\n", config);
		return 0;
	}
	log_max = is_verbose || app.cfg.is_verbose ? FL_LOG_DEBUG : FL_LOG_INFO;
	fl_agent_linux_log_set(log_line, NULL);
	if (app.cfg.tz[0] != '\0' && setenv("TZ", app.cfg.tz, 1) == 0)
		tzset();

	/* SIGTERM and SIGINT arrive through the loop, as a descriptor. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0 ||
	    (app.sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) <
		    0) {
		say(FL_LOG_ERROR, "signals: %s", strerror(errno));
		return 1;
	}
	if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		say(FL_LOG_ERROR, "cannot initialise libmosquitto or libcurl");
		return 1;
	}
	/* Now, not at the first offer: OpenSSL's first P-256 verification
	 * costs milliseconds. A failure here would refuse every manifest
	 * too, and the first offer says so again. */
	if (fl_crypto_openssl_warm_up() != 0)
		say(FL_LOG_WARN, "crypto: the P-256 known answer does not "
				 "verify: manifests will be refused");
	if (open_flash(&app) == 0 && provision(&app) == 0 &&
	    open_boot(&app) == 0) {
		int orc = fl_slots_open(&app.slots, &app.scfg);

		if (orc != 0)
			say(FL_LOG_ERROR, "slots: %s", fl_strerror(orc));
		else if (start_adapters(&app) == 0 && start_agent(&app) == 0)
			rc = run(&app);
	}
	shutdown_all(&app);
	close(app.sig_fd);
	curl_global_cleanup();
	mosquitto_lib_cleanup();
	if (rc == EXIT_REBOOT)
		say(FL_LOG_INFO, "stopped for the reboot (exit status 3)");
	return rc;
}
