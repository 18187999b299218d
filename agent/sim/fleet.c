/*
 * fleet.c -- the devices of one fleet-sim process on one event loop.
 *
 * Each device is its own simulated hardware (fl/simdev.h: a shared-page
 * flash with the slot records, the agent's store and slots A and B; the
 * simulated boot loader) running agent/core unchanged over the Linux
 * adapters: its own MQTT session (fl_mqtt_dev), a downloader on the
 * process's curl multi handle (fl_curl_dl, created at the first download),
 * the flash store on its flash, a clock whose monotonic time starts at its
 * power-on, and a device port whose facts and health are simulated and
 * whose reboot powers the device off and, after --reboot-ms, on again from
 * its flash alone.
 *
 * Method: what survives a power-off is struct simdev (the flash, the
 * counters a summary needs, and the application's crash count); what is
 * lost is struct simrun (slot manager, agent, MQTT session, downloader),
 * freed at power-off and rebuilt at power-on. Port callbacks never power
 * a device off themselves (they run inside the agent): they note what is
 * pending and arm the device's event timer for now; the timer does it.
 *
 * Faults, each drawn per device from --seed and the device's index, so a
 * profile is the same whatever the number of worker processes:
 *   bad version   a device booting a --bad-version image fails its
 *                 health check: half the devices report "boot not ok"
 *                 (the agent rejects the trial: reverted, health:boot),
 *                 the other half crash at the first health sample and
 *                 reboot with reset reason panic until the boot loader
 *                 reverts (reverted, not_confirmed, reset panic);
 *   --fail-rate   the same for every trial of an image other than the
 *                 factory one;
 *   --offline-rate half of these devices never connect; the other half
 *                 drop off (no DISCONNECT) now and then: online for 0.5
 *                 to 1.5 --offline-period (40 s), offline for 0.125 to
 *                 0.75 of it;
 *   --power-cut-rate once per job, when the job's first downloading
 *                 status goes out, a cut is planned at a random flash
 *                 operation of the install (download, verify, activation
 *                 records) in a random mode (clean, torn, garbage); when
 *                 it lands the device drops its MQTT connection without
 *                 DISCONNECT and powers on again after --reboot-ms, reset
 *                 reason power_on, and resumes;
 *   --rate        every download is limited to that many bytes per second.
 *
 * Encrypted images go through agent/core's own path (unwrap, authenticate,
 * decrypt, decompress, write) on every device. Each device's wrap key is
 * read from WRAPDIR/ID.wrap.pem only around a command that carries a key
 * (the MQTT session hands commands to on_cmd), into the one slot of the
 * fleet's key table that the agent of every device with a key file points
 * at, and wiped when the agent returns; the groups' keys sit after it,
 * once per process. Whether the file exists is looked up at power-on,
 * which fixes how many keys the agent has, as a device's configuration
 * would. Of the buffers an encrypted download needs, the record buffer is
 * a device's own (a record arrives in pieces, between which other devices
 * run) and exists only while its job waits or downloads; the plaintext
 * buffer and the zstd context are the process's, since a chunk is
 * decompressed and written within one call.
 *
 * Memory: an idle device holds struct simdev, struct simrun (the agent is
 * most of it), its MQTT session and libmosquitto's client, and the flash
 * pages it alone has written (records and the store, trimmed); images are
 * shared by the pool, decrypted ones too (the pool shares erase units by
 * content). No key and no buffer of encrypted images stays with an idle
 * device. bench/bench_sim_idle measures it.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mosquitto.h>
#include <openssl/crypto.h>

#include "fl/agent_linux.h"
#include "fl/bytes.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/flash_shared.h"
#include "fl/seal_openssl.h"
#include "fl/simdev.h"
#include "fl/unzip_zstd.h"
#include "sim.h"

#define ERASE_BYTES   4096u
#define WRITE_BYTES   16u
#define RAMP_MS	      10u
#define POLL_MAX_MS   1000u
#define RETRY_ON_MS   1000u
#define AGENT_VERSION "0.1.0"

enum dev_flag {
	DEV_NEVER_ONLINE = 0x01,
	DEV_FLAKY = 0x02,
	DEV_FAILS = 0x04,
	DEV_CUTS = 0x08,
	DEV_CRASHER = 0x10, /* fails by crashing, not by "boot not ok" */
};

enum dev_pending {
	PEND_REBOOT = 0x01,
	PEND_CUT = 0x02,
	PEND_CRASH = 0x04,
};

/* Salts of the per-device random draws. */
enum salt {
	SALT_OFFLINE = 1,
	SALT_OFFLINE_KIND,
	SALT_FAIL,
	SALT_CUT,
	SALT_CRASHER,
	SALT_NET = 0x100,      /* + flip number */
	SALT_CUT_AT = 0x10000, /* + job id (mixed) */
};

struct fleet;

/* What exists only while a device is powered. */
struct simrun {
	struct fl_simdev_run hw;
	struct fl_agent agent;
	struct fl_mqtt_dev *mqtt;
	struct fl_agent_transport mqtt_tp;
	struct fl_curl_dl *dl;
	struct fl_agent_downloader dl_port;
	struct fl_agent_seal_bufs seal; /* rec: while a job waits or
					   downloads; plain: the fleet's */
	bool has_wrap_key;		/* WRAPDIR/ID.wrap.pem at power-on */
	char id[FL_DEVICE_ID_MAX];
};

/* What survives a power-off. */
struct simdev {
	struct fleet *fleet;
	struct simrun *run; /* NULL while off */
	struct fl_shflash flash;
	struct fl_loop_timer poll_t; /* the agent's deadline */
	struct fl_loop_timer ev_t;   /* power and network events */
	uint64_t boot_ms;	     /* fl_loop_now_ms() at power-on */
	uint64_t dl_bytes;	     /* of downloaders already freed */
	uint32_t idx;		     /* global index: id number - 1 */
	uint32_t reboots, power_cuts, crashes, net_flips;
	uint32_t cut_job; /* the job whose install got its cut */
	uint8_t flags, pending, reset_next;
	uint8_t phase, result; /* the last job, as of the last power-off */
	bool has_booted, is_bricked, is_halted, is_net_down;
	char version[FL_PROTO_VERSION_MAX]; /* running, as of power-off */
};

struct fleet {
	const struct sim_options *o;
	struct fl_loop *loop;
	struct fl_curl *curl;
	struct fl_mqtt_tls *tls; /* one TLS context for every session */
	struct fl_shpool *pool;
	struct fl_shflash tmpl; /* the factory device every device clones */
	struct fl_simdev_layout lay;
	struct fl_slots scratch; /* the boot loader's working memory */
	/* Encrypted images: [0] the device whose command is being handled
	 * (zero otherwise), then the groups'; the zstd port and one chunk of
	 * plaintext for everyone. */
	struct fl_wrap_key wrap[1 + SIM_GROUPS_MAX];
	bool can_unseal; /* a wrap key folder or groups */
	struct fl_unzip_zstd *unzip;
	uint8_t *plain;
	struct simdev *dev;
	uint32_t first, n, next_on;
	struct fl_loop_timer ramp_t, progress_t, end_t;
	uint64_t start_ms;
	int report_fd;
};

static struct fl_loop *volatile g_loop;
static volatile sig_atomic_t g_stop;

void sim_fleet_stop(void)
{
	struct fl_loop *loop = g_loop;

	g_stop = 1;
	if (loop != NULL)
		fl_loop_stop(loop);
}

/* ---- reproducible randomness --------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

static uint64_t dev_rand(const struct simdev *d, uint64_t salt)
{
	return mix64(d->fleet->o->seed ^
		     mix64(((uint64_t)d->idx << 32) ^ mix64(salt)));
}

/* Uniform in [0, 1). */
static double dev_unit(const struct simdev *d, uint64_t salt)
{
	return (double)(dev_rand(d, salt) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- helpers ------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	return fl_loop_now_ms();
}

static void arm(struct simdev *d, struct fl_loop_timer *t, uint64_t at)
{
	if (fl_loop_timer_at(d->fleet->loop, t, at) != 0)
		fprintf(stderr, "fleet-sim: no memory for a timer\n");
}

/* The agent should run now (its state changed inside a callback). The
 * poll timer of a powered device is always armed, except while on_poll
 * runs, which arms it again when it returns. */
static void kick(struct simdev *d)
{
	uint64_t now = now_ms();

	if (d->poll_t.at_ms > now)
		arm(d, &d->poll_t, now);
}

static void pend(struct simdev *d, uint8_t what)
{
	d->pending |= what;
	arm(d, &d->ev_t, now_ms());
}

static bool is_bad_version(const struct sim_options *o, const char *v)
{
	for (unsigned i = 0; i < o->n_bad; i++)
		if (strcmp(o->bad_versions[i], v) == 0)
			return true;
	return false;
}

static void log_dev(const struct simdev *d, const char *what, int rc)
{
	const struct sim_options *o = d->fleet->o;

	fprintf(stderr, "fleet-sim: %s-%06" PRIu32 ": %s: %s\n", o->prefix,
		d->idx + 1, what, fl_strerror(rc));
}

/* ---- power cuts ---------------------------------------------------------- */

static void on_cut(void *ctx)
{
	pend(ctx, PEND_CUT);
}

/* Plans this job's cut at a random flash operation of its install: about
 * two per 256 bytes (program, read back), one per erase unit, a few for
 * records and checkpoints. */
static void plan_cut(struct simdev *d, const struct fl_status *m)
{
	uint64_t r = dev_rand(d, SALT_CUT_AT ^ mix64(m->job));
	uint64_t est = 2ull * m->total / 256 + m->total / ERASE_BYTES + 16;
	struct fl_sim_faults f;

	d->cut_job = m->job;
	memset(&f, 0, sizeof(f));
	f.cut_at = d->flash.ops + 1 + (uint32_t)(r % est);
	f.cut_mode = (uint8_t)((r >> 32) % FL_SIM_CUT_MODES);
	f.seed = r >> 8;
	fl_shflash_set_faults(&d->flash, &f);
}

/* ---- the agent's ports --------------------------------------------------- */

static int tp_status(void *ctx, const struct fl_status *m)
{
	struct simdev *d = ctx;
	struct simrun *r = d->run;

	if ((d->flags & DEV_CUTS) && m->state == FL_STATE_DOWNLOADING &&
	    m->job != d->cut_job && m->total > 0)
		plan_cut(d, m);
	kick(d);
	if (r->mqtt == NULL)
		return FL_EIO;
	return r->mqtt_tp.ops->publish_status(r->mqtt_tp.ctx, m);
}

static int tp_reported(void *ctx, const struct fl_reported *m)
{
	struct simdev *d = ctx;
	struct simrun *r = d->run;

	if (r->mqtt == NULL)
		return FL_EIO;
	return r->mqtt_tp.ops->publish_reported(r->mqtt_tp.ctx, m);
}

static int tp_health(void *ctx, const struct fl_health *m)
{
	struct simdev *d = ctx;
	struct simrun *r = d->run;

	if (r->mqtt == NULL)
		return FL_EIO;
	return r->mqtt_tp.ops->publish_health(r->mqtt_tp.ctx, m);
}

static const struct fl_agent_transport_ops sim_transport_ops = {
	FL_AGENT_PORT_VERSION, "fleet-sim", tp_status, tp_reported, tp_health,
};

/* The curl downloader, created at the device's first download. */
static int dl_start(void *ctx, const struct fl_agent_dl_request *req)
{
	struct simdev *d = ctx;
	struct simrun *r = d->run;

	if (r->dl == NULL) {
		int rc = fl_curl_dl_new(&r->dl, d->fleet->curl);

		if (rc != 0)
			return rc;
		fl_curl_dl_attach(r->dl, &r->agent);
		r->dl_port = fl_curl_dl_downloader(r->dl);
	}
	return r->dl_port.ops->start(r->dl_port.ctx, req);
}

static void dl_stop(void *ctx)
{
	struct simdev *d = ctx;
	struct simrun *r = d->run;

	if (r->dl != NULL)
		r->dl_port.ops->stop(r->dl_port.ctx);
}

static const struct fl_agent_downloader_ops sim_downloader_ops = {
	FL_AGENT_PORT_VERSION,
	"fleet-sim",
	dl_start,
	dl_stop,
};

static uint64_t clk_now_s(void *ctx)
{
	(void)ctx;
	return fl_linux_clock_ops.now_s(NULL);
}

/* Milliseconds since this device's power-on. */
static uint64_t clk_mono_ms(void *ctx)
{
	const struct simdev *d = ctx;

	return now_ms() - d->boot_ms;
}

static int32_t clk_utc_offset(void *ctx, uint64_t now)
{
	(void)ctx;
	return fl_linux_clock_ops.utc_offset_s(NULL, now);
}

static const struct fl_agent_clock_ops sim_clock_ops = {
	FL_AGENT_PORT_VERSION, "fleet-sim",    clk_now_s,
	clk_mono_ms,	       clk_utc_offset,
};

static int dev_facts(void *ctx, struct fl_agent_facts *out)
{
	(void)ctx;
	memset(out, 0, sizeof(*out));
	out->battery_pct = FL_AGENT_BATTERY_NONE;
	out->free_bytes = 1u << 30;
	return 0;
}

static int dev_health(void *ctx, bool is_trial,
		      struct fl_agent_health_sample *out)
{
	struct simdev *d = ctx;
	const struct sim_options *o = d->fleet->o;
	const char *v = fl_simdev_running(&d->run->hw);
	bool is_bad =
		is_bad_version(o, v) || ((d->flags & DEV_FAILS) && is_trial &&
					 strcmp(v, o->version) != 0);

	memset(out, 0, sizeof(*out));
	out->is_boot_ok = true;
	if (is_bad && (d->flags & DEV_CRASHER)) {
		/* The application dies: a crash, then a reboot (panic). */
		if (!(d->pending & PEND_CRASH)) {
			d->crashes++;
			pend(d, PEND_CRASH);
		}
	} else if (is_bad) {
		out->is_boot_ok = false;
	}
	out->crashes = d->crashes;
	out->n_metrics = 2;
	(void)fl_strlcpy(out->metrics[0].name, "free_heap",
			 sizeof(out->metrics[0].name));
	out->metrics[0].value = is_bad ? 1024.0 : 40960.0 + d->idx % 997;
	(void)fl_strlcpy(out->metrics[1].name, "cpu_pct",
			 sizeof(out->metrics[1].name));
	out->metrics[1].value = is_bad ? 99.0 : 5.0 + d->idx % 13;
	return 0;
}

static void dev_reboot(void *ctx)
{
	pend(ctx, PEND_REBOOT);
}

static const struct fl_agent_device_ops sim_device_ops = {
	FL_AGENT_PORT_VERSION, "fleet-sim", dev_facts, dev_health, dev_reboot,
};

/* ---- encrypted images ---------------------------------------------------- */

/* WRAPDIR/ID.wrap.pem; false if it does not fit. */
static bool wrap_path(const struct simdev *d, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/%s.wrap.pem", d->fleet->o->wrapdir,
			 d->run->id);

	return n > 0 && (size_t)n < size;
}

/* The record buffer of an encrypted download exists while the device's
 * job waits or downloads: the agent takes it when a transfer starts and
 * keeps a record in it between the pieces of the body. Otherwise it is
 * given back (the agent has then ended its use: fl_agent__seal_reset). */
static void seal_bufs(struct simdev *d)
{
	struct simrun *r = d->run;
	struct fl_agent_info info;
	bool is_needed;

	if (!r->has_wrap_key && d->fleet->o->n_groups == 0)
		return;
	fl_agent_info(&r->agent, &info);
	is_needed = info.phase == FL_AGENT_WAITING ||
		    info.phase == FL_AGENT_DOWNLOADING;
	if (is_needed && r->seal.rec == NULL) {
		uint32_t n = FL_SEAL_BUF_BYTES(d->fleet->o->chunk_max);

		r->seal.rec = malloc(n);
		if (r->seal.rec == NULL) {
			log_dev(d, "encryption buffer", FL_ENOMEM);
			return;
		}
		r->seal.rec_bytes = n;
	} else if (!is_needed && r->seal.rec != NULL) {
		free(r->seal.rec);
		r->seal.rec = NULL;
		r->seal.rec_bytes = 0;
	}
}

/* Every command of a device's session comes here. One that carries a
 * key is handled with the device's own wrap key read from its file into
 * the fleet's table (a file that cannot be read leaves the slot zero: the
 * key then opens as wrapped for another device), wiped when the agent
 * returns. */
static int on_cmd(void *ctx, struct fl_agent *agent, const struct fl_cmd *cmd)
{
	struct simdev *d = ctx;
	struct fleet *f = d->fleet;
	struct simrun *r = d->run;
	bool is_keyed = cmd->has_key && r->has_wrap_key;
	char path[4096];
	int rc;

	if (is_keyed) {
		struct fl_seal_diag diag;

		memset(&diag, 0, sizeof(diag));
		rc = wrap_path(d, path, sizeof(path))
			     ? fl_seal_wrap_key_load(&f->wrap[0], path, r->id,
						     &diag)
			     : FL_EINVAL;
		if (rc != 0)
			fprintf(stderr, "fleet-sim: %s: wrap key: %s\n", r->id,
				diag.msg[0] != '\0' ? diag.msg
						    : fl_strerror(rc));
	}
	rc = fl_agent_on_cmd(agent, cmd);
	if (is_keyed)
		OPENSSL_cleanse(&f->wrap[0], sizeof(f->wrap[0]));
	seal_bufs(d);
	return rc;
}

/* The process's share: the groups' keys, the zstd port, one chunk of
 * plaintext. */
static int make_unseal(struct fleet *f)
{
	const struct sim_options *o = f->o;

	memcpy(&f->wrap[1], o->groups, o->n_groups * sizeof(o->groups[0]));
	f->plain = malloc(o->chunk_max);
	if (f->plain == NULL || fl_unzip_zstd_new(&f->unzip) != 0) {
		fprintf(stderr, "fleet-sim: out of memory\n");
		return -1;
	}
	return 0;
}

/* ---- power --------------------------------------------------------------- */

static int session_new(struct simdev *d)
{
	const struct sim_options *o = d->fleet->o;
	struct simrun *r = d->run;
	struct fl_mqtt_dev_config mc;
	int rc;

	memset(&mc, 0, sizeof(mc));
	mc.host = o->host;
	mc.port = o->port;
	mc.root = o->root;
	mc.id = r->id;
	mc.tls = d->fleet->tls;
	mc.keepalive_s = o->keepalive_s;
	mc.seed = (uint32_t)dev_rand(d, SALT_NET - 1) | 1u;
	mc.agent_version = AGENT_VERSION;
	mc.on_cmd = on_cmd;
	mc.on_cmd_ctx = d;
	rc = fl_mqtt_dev_new(&r->mqtt, d->fleet->loop, &mc);
	if (rc != 0)
		return rc;
	r->mqtt_tp = fl_mqtt_dev_transport(r->mqtt);
	return 0;
}

static void session_free(struct simdev *d, bool is_clean)
{
	struct simrun *r = d->run;

	if (r->mqtt == NULL)
		return;
	if (is_clean)
		fl_mqtt_dev_stop(r->mqtt, 0);
	else
		fl_mqtt_dev_drop(r->mqtt);
	fl_mqtt_dev_free(r->mqtt);
	r->mqtt = NULL;
}

static void remember(struct simdev *d)
{
	struct simrun *r = d->run;
	struct fl_agent_info info;

	(void)fl_strlcpy(d->version, fl_simdev_running(&r->hw),
			 sizeof(d->version));
	fl_agent_info(&r->agent, &info);
	d->phase = info.phase;
	d->result = info.result;
}

/* Powers the device off: cleanly (a reboot: presence offline and
 * DISCONNECT) or not (a cut, a crash: the broker sends the Will). */
static void power_off(struct simdev *d, bool is_clean)
{
	struct simrun *r = d->run;

	if (r == NULL)
		return;
	fl_loop_timer_stop(d->fleet->loop, &d->poll_t);
	remember(d);
	if (r->dl != NULL) {
		d->dl_bytes += fl_curl_dl_bytes(r->dl);
		fl_curl_dl_free(r->dl);
	}
	session_free(d, is_clean);
	free(r->seal.rec);
	free(r);
	d->run = NULL;
}

static void agent_config(struct simdev *d, struct fl_agent_config *c)
{
	struct fleet *f = d->fleet;
	const struct sim_options *o = f->o;
	struct simrun *r = d->run;

	memset(c, 0, sizeof(*c));
	c->slots = &r->hw.slots;
	c->crypto = sim_crypto();
	c->keys = o->keys;
	c->n_keys = o->n_keys;
	c->roots = o->roots;
	c->n_roots = o->n_roots;
	c->transport.ops = &sim_transport_ops;
	c->transport.ctx = d;
	c->downloader.ops = &sim_downloader_ops;
	c->downloader.ctx = d;
	c->clock.ops = &sim_clock_ops;
	c->clock.ctx = d;
	c->store.ops = &fl_agent_flash_store_ops;
	c->store.ctx = &r->hw.store;
	c->device.ops = &sim_device_ops;
	c->device.ctx = d;
	c->model = o->model;
	c->tz = o->tz;
	c->agent_version = AGENT_VERSION;
	c->labels = o->labels;
	c->n_labels = o->n_labels;
	c->health_interval_s = o->health_interval_s;
	if (f->can_unseal) {
		/* As fleet-agent's encryption section: its own key first,
		 * then the groups'. */
		c->device_id = r->id;
		c->wrap_keys = r->has_wrap_key ? &f->wrap[0] : &f->wrap[1];
		c->n_wrap_keys = (r->has_wrap_key ? 1u : 0u) + o->n_groups;
		c->unzip = fl_unzip_zstd_port(f->unzip);
		c->seal_chunk_max = o->chunk_max;
		r->seal.plain = f->plain;
		r->seal.plain_bytes = o->chunk_max;
		c->seal_bufs = &r->seal;
	}
}

/* A flaky device stays online 0.5 to 1.5 times --offline-period, then
 * offline 0.125 to 0.75 times it. */
static uint64_t net_period_ms(struct simdev *d, bool is_up)
{
	uint64_t p = d->fleet->o->offline_period_s * 1000ull;
	uint64_t r = dev_rand(d, SALT_NET + d->net_flips++);

	return is_up ? p / 2 + r % (p + 1) : p / 8 + r % (p * 5 / 8 + 1);
}

/* Powers the device on from its flash: boot loader, slot manager, agent,
 * MQTT session. */
static void power_on(struct simdev *d)
{
	struct fleet *f = d->fleet;
	const struct sim_options *o = f->o;
	struct fl_agent_config cfg;
	struct simrun *r;
	int rc;

	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		log_dev(d, "power-on", FL_ENOMEM);
		arm(d, &d->ev_t, now_ms() + RETRY_ON_MS);
		return;
	}
	fl_shflash_power_on(&d->flash, NULL);
	rc = fl_simdev_power_on(&r->hw, &d->flash.flash, &f->lay,
				&fl_crypto_openssl, o->trial_tries,
				d->reset_next, &f->scratch);
	if (rc != 0) {
		/* Nothing bootable, or a flash error: the device stays
		 * off (and is counted). */
		if (rc == FL_EBRICK)
			d->is_bricked = true;
		else
			d->is_halted = true;
		log_dev(d, "boot", rc);
		free(r);
		return;
	}
	d->run = r;
	d->boot_ms = now_ms();
	if (d->has_booted)
		d->reboots++;
	d->has_booted = true;
	d->is_net_down = false;
	snprintf(r->id, sizeof(r->id), "%s-%06" PRIu32, o->prefix, d->idx + 1);
	if (f->can_unseal && o->wrapdir != NULL) {
		char path[4096];

		r->has_wrap_key = wrap_path(d, path, sizeof(path)) &&
				  access(path, F_OK) == 0;
	}
	if (!(d->flags & DEV_NEVER_ONLINE)) {
		rc = session_new(d);
		if (rc != 0)
			log_dev(d, "mqtt", rc);
	}
	agent_config(d, &cfg);
	rc = fl_agent_init(&r->agent, &cfg);
	if (rc != 0) {
		d->is_halted = true;
		log_dev(d, "agent", rc);
	}
	if (r->mqtt != NULL) {
		rc = fl_mqtt_dev_start(r->mqtt, &r->agent);
		if (rc != 0)
			log_dev(d, "mqtt start", rc);
	}
	remember(d);
	arm(d, &d->poll_t, now_ms());
	if ((d->flags & DEV_FLAKY) && d->pending == 0)
		arm(d, &d->ev_t, now_ms() + net_period_ms(d, true));
}

/* A flaky device's network goes down (no DISCONNECT: the broker sends
 * the Will) or comes back. The session is kept, so the connection number
 * of presence goes on growing within the boot. */
static void net_flip(struct simdev *d)
{
	struct simrun *r = d->run;
	int rc;

	if (r->mqtt == NULL)
		return;
	if (!d->is_net_down) {
		fl_mqtt_dev_drop(r->mqtt);
		d->is_net_down = true;
		arm(d, &d->ev_t, now_ms() + net_period_ms(d, false));
		return;
	}
	d->is_net_down = false;
	rc = fl_mqtt_dev_start(r->mqtt, &r->agent);
	if (rc != 0)
		log_dev(d, "mqtt", rc);
	arm(d, &d->ev_t, now_ms() + net_period_ms(d, true));
}

static void on_event(void *ctx)
{
	struct simdev *d = ctx;
	uint8_t p = d->pending;

	if (d->run == NULL) {
		power_on(d);
		return;
	}
	if (p != 0) {
		d->pending = 0;
		if (p & PEND_CUT) {
			d->power_cuts++;
			d->reset_next = FL_RESET_POWER_ON;
		} else if (p & PEND_CRASH) {
			d->reset_next = FL_RESET_PANIC;
		} else {
			d->reset_next = FL_RESET_SOFTWARE;
		}
		power_off(d, p == PEND_REBOOT);
		arm(d, &d->ev_t, now_ms() + d->fleet->o->reboot_ms);
		return;
	}
	if (d->flags & DEV_FLAKY)
		net_flip(d);
}

static void on_poll(void *ctx)
{
	struct simdev *d = ctx;
	uint32_t next = POLL_MAX_MS;
	int rc;

	if (d->run == NULL)
		return;
	seal_bufs(d);
	rc = fl_agent_poll(&d->run->agent, &next);
	seal_bufs(d);
	if (rc != 0 && rc != FL_EPOWER && !d->is_halted) {
		d->is_halted = true;
		log_dev(d, "agent halted", rc);
	}
	if (rc != 0)
		next = POLL_MAX_MS;
	arm(d, &d->poll_t, now_ms() + next);
}

/* ---- the fleet ----------------------------------------------------------- */

static void summarize(struct fleet *f, struct sim_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->devices = f->n;
	for (uint32_t i = 0; i < f->n; i++) {
		struct simdev *d = &f->dev[i];
		struct simrun *r = d->run;
		uint8_t phase = d->phase, result = d->result;
		const char *v = d->version;

		if (d->flags & DEV_NEVER_ONLINE)
			s->never_online++;
		s->bricked += d->is_bricked;
		s->halted += d->is_halted;
		s->reboots += d->reboots;
		s->power_cuts += d->power_cuts;
		s->crashes += d->crashes;
		s->dl_bytes += d->dl_bytes;
		if (r != NULL) {
			struct fl_mqtt_dev_stats ms;
			struct fl_agent_info info;

			s->on++;
			fl_mqtt_dev_stats(r->mqtt, &ms);
			s->connected += ms.is_connected;
			if (r->dl != NULL)
				s->dl_bytes += fl_curl_dl_bytes(r->dl);
			fl_agent_info(&r->agent, &info);
			phase = info.phase;
			result = info.result;
			v = fl_simdev_running(&r->hw);
		}
		if (phase == FL_AGENT_NONE)
			s->no_job++;
		else if (phase == FL_AGENT_DONE && result < SIM_RESULTS)
			s->result[result]++;
		else
			s->in_progress++;
		sim_summary_add_version(s, v, 1);
	}
	s->elapsed_s = (double)(now_ms() - f->start_ms) / 1000.0;
}

static void on_ramp(void *ctx)
{
	struct fleet *f = ctx;
	uint32_t k = f->o->connect_per_s * RAMP_MS / 1000;

	if (k == 0)
		k = 1;
	while (k-- > 0 && f->next_on < f->n)
		power_on(&f->dev[f->next_on++]);
	if (f->next_on < f->n &&
	    fl_loop_timer_at(f->loop, &f->ramp_t, now_ms() + RAMP_MS) != 0)
		fprintf(stderr, "fleet-sim: no memory for a timer\n");
}

static void on_progress(void *ctx)
{
	struct fleet *f = ctx;
	struct sim_summary s;

	summarize(f, &s);
	if (f->report_fd >= 0)
		(void)sim_summary_write(f->report_fd, &s);
	else
		sim_summary_progress(stderr, &s);
	(void)fl_loop_timer_at(f->loop, &f->progress_t,
			       now_ms() + f->o->progress_ms);
}

static void on_end(void *ctx)
{
	struct fleet *f = ctx;

	fl_loop_stop(f->loop);
}

/* The adapters' own lines, with --verbose only: with thousands of
 * devices they are many, and the expected ones (a transfer ended by a
 * power cut, a broker that went away) would drown the rest. */
static void on_log(void *ctx, int level, const char *who, const char *msg)
{
	(void)ctx;
	if (level <= FL_LOG_WARN)
		fprintf(stderr, "fleet-sim: %s%s%s\n", who, who[0] ? ": " : "",
			msg);
}

/* The factory device: the image in slot A, committed. */
static int make_template(struct fleet *f)
{
	const struct sim_options *o = f->o;
	struct fl_shpool_config pc = {ERASE_BYTES, 0xFF, 0, 0};
	int rc;

	rc = fl_simdev_layout_make(&f->lay, ERASE_BYTES, WRITE_BYTES,
				   o->slot_bytes, 0xFF);
	if (rc == 0)
		rc = fl_shpool_new(&f->pool, &pc);
	if (rc == 0)
		rc = fl_shflash_init(&f->tmpl, f->pool, f->lay.geom.size_bytes,
				     WRITE_BYTES, NULL);
	if (rc == 0)
		rc = fl_simdev_provision(
			&f->tmpl.flash, &f->lay, &fl_crypto_openssl, o->image,
			o->image_len, o->version, o->factory_seq, &f->scratch);
	if (rc != 0) {
		fprintf(stderr, "fleet-sim: factory image: %s\n",
			fl_strerror(rc));
		return -1;
	}
	fl_shflash_settle(&f->tmpl);
	return 0;
}

static int make_devices(struct fleet *f)
{
	const struct sim_options *o = f->o;

	f->dev = calloc(f->n ? f->n : 1, sizeof(*f->dev));
	if (f->dev == NULL) {
		fprintf(stderr, "fleet-sim: out of memory\n");
		return -1;
	}
	for (uint32_t i = 0; i < f->n; i++) {
		struct simdev *d = &f->dev[i];

		d->fleet = f;
		d->idx = f->first + i;
		if (fl_shflash_clone(&d->flash, &f->tmpl) != 0) {
			fprintf(stderr, "fleet-sim: out of memory\n");
			return -1;
		}
		d->flash.on_cut = on_cut;
		d->flash.cut_ctx = d;
		fl_loop_timer_init(&d->poll_t, on_poll, d);
		fl_loop_timer_init(&d->ev_t, on_event, d);
		d->reset_next = FL_RESET_POWER_ON;
		(void)fl_strlcpy(d->version, o->version, sizeof(d->version));
		if (dev_unit(d, SALT_OFFLINE) < o->offline_rate)
			d->flags |= dev_unit(d, SALT_OFFLINE_KIND) < 0.5
					    ? DEV_NEVER_ONLINE
					    : DEV_FLAKY;
		if (dev_unit(d, SALT_FAIL) < o->fail_rate)
			d->flags |= DEV_FAILS;
		if (dev_unit(d, SALT_CUT) < o->power_cut_rate)
			d->flags |= DEV_CUTS;
		if (dev_unit(d, SALT_CRASHER) < 0.5)
			d->flags |= DEV_CRASHER;
	}
	return 0;
}

int sim_fleet_run(const struct sim_options *o, uint32_t first, uint32_t n,
		  int report_fd, struct sim_summary *out)
{
	static struct fleet fl; /* holds the boot loader's scratch */
	struct fleet *f = &fl;
	struct fl_curl_config cc;
	int rc = -1;

	memset(f, 0, sizeof(*f));
	f->o = o;
	f->first = first;
	f->n = n;
	f->report_fd = report_fd;
	memset(out, 0, sizeof(*out));
	fl_agent_linux_log_set(o->is_verbose ? on_log : NULL, NULL);
	mosquitto_lib_init();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "fleet-sim: curl_global_init failed\n");
		goto out;
	}
	memset(&cc, 0, sizeof(cc));
	cc.cafile = o->cafile;
	cc.max_bytes_per_s = o->rate_bytes_per_s;
	if (fl_loop_new(&f->loop) != 0 || fl_curl_new(&f->curl, f->loop, &cc)) {
		fprintf(stderr, "fleet-sim: cannot create the event loop\n");
		goto out;
	}
	if (o->is_tls &&
	    fl_mqtt_tls_new(&f->tls, o->cafile, o->certdir, o->host) != 0) {
		fprintf(stderr, "fleet-sim: TLS: cannot use --cafile %s\n",
			o->cafile);
		goto out;
	}
	f->can_unseal = o->wrapdir != NULL || o->n_groups > 0;
	if ((f->can_unseal && make_unseal(f) != 0) || make_template(f) != 0 ||
	    make_devices(f) != 0)
		goto out;
	f->start_ms = now_ms();
	fl_loop_timer_init(&f->ramp_t, on_ramp, f);
	fl_loop_timer_init(&f->progress_t, on_progress, f);
	fl_loop_timer_init(&f->end_t, on_end, f);
	(void)fl_loop_timer_at(f->loop, &f->ramp_t, f->start_ms);
	if (o->progress_ms != 0)
		(void)fl_loop_timer_at(f->loop, &f->progress_t,
				       f->start_ms + o->progress_ms);
	if (o->duration_s != 0)
		(void)fl_loop_timer_at(f->loop, &f->end_t,
				       f->start_ms + o->duration_s * 1000ull);
	g_loop = f->loop;
	if (!g_stop)
		(void)fl_loop_run(f->loop);
	g_loop = NULL;
	summarize(f, out);
	rc = 0;
out:
	for (uint32_t i = 0; f->dev != NULL && i < f->n; i++) {
		power_off(&f->dev[i], true);
		fl_loop_timer_stop(f->loop, &f->dev[i].ev_t);
		fl_shflash_release(&f->dev[i].flash);
	}
	free(f->dev);
	fl_shflash_release(&f->tmpl);
	fl_shpool_free(f->pool);
	OPENSSL_cleanse(f->wrap, sizeof(f->wrap));
	fl_unzip_zstd_free(f->unzip);
	free(f->plain);
	fl_curl_free(f->curl);
	fl_mqtt_tls_free(f->tls);
	if (f->loop != NULL) {
		fl_loop_timer_stop(f->loop, &f->ramp_t);
		fl_loop_timer_stop(f->loop, &f->progress_t);
		fl_loop_timer_stop(f->loop, &f->end_t);
	}
	fl_loop_free(f->loop);
	curl_global_cleanup();
	mosquitto_lib_cleanup();
	return rc;
}
